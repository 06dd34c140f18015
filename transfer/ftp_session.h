/* The FTPS service (docs/ftps.md): one control connection is one session. */
#ifndef XFER_FTP_SESSION_H
#define XFER_FTP_SESSION_H

#include "../server/conn.h"

/* Installs the FTP protocol on a new control connection (plain and open):
 * sends the banner, or for ftps-implicit starts TLS first. WF_OK or WF_ERR. */
int xfer_ftp_start(wf_conn_t *c);

#endif
