/* HTTPS protocol selection: see https.h. */
#include "https.h"

int xfer_https_start(wf_conn_t *c, bool h2)
{
	return h2 ? xfer_h2_start(c) : xfer_h1_start(c);
}
