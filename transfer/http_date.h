/* HTTP dates (RFC 9110 5.6.7): IMF-fixdate out; IMF-fixdate, RFC 850 and
 * asctime in, as recipients must accept. Pure functions. */
#ifndef XFER_HTTP_DATE_H
#define XFER_HTTP_DATE_H

#include "../server/base.h"

#include <time.h>

#define XFER_HTTP_DATE_LEN 64 /* "Sun, 06 Nov 1994 08:49:37 GMT" is 29; room for any year */

void xfer_http_date_format(time_t t, char out[XFER_HTTP_DATE_LEN]);
/* WF_OK and *out, or WF_ERR for anything that is not one of the three forms. */
int xfer_http_date_parse(wf_slice_t s, time_t *out);

#endif
