/* The HTTPS service: picks HTTP/2 or HTTP/1.1 by ALPN once TLS is up. */
#ifndef XFER_HTTPS_H
#define XFER_HTTPS_H

#include "../server/conn.h"

/* Installs the protocol on c (c->proto, c->proto_data). WF_OK or WF_ERR. */
int xfer_https_start(wf_conn_t *c, bool h2);

int xfer_h1_start(wf_conn_t *c);
int xfer_h2_start(wf_conn_t *c);

/* Size of the plaintext chunk a connection reads or writes at once: one full
 * TLS record, so each gnutls call moves a whole record. */
#define XFER_IO_CHUNK 16384
/* Body bytes staged per connection before they are handed to TLS. */
#define XFER_OUT_STAGE (4 * XFER_IO_CHUNK)
/* Refused logins on one connection before it is closed. */
#define XFER_MAX_FAILED_LOGINS 3

#endif
