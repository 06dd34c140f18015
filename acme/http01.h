/* The acme-http service: plain HTTP/1.1 on the port the CA reaches as port 80.
 *   GET /.well-known/acme-challenge/TOKEN    the key authorization (pending tokens only)
 *   GET /.well-known/acme-challenge/test.txt a fixed readiness text, to check port forwarding
 *   anything else                            301 to the same path over HTTPS
 * One request per connection: the CA's validators open a connection each. */
#ifndef ACME_HTTP01_H
#define ACME_HTTP01_H

#include "../server/conn.h"

#define ACME_HTTP01_READY_TEXT "wharf acme-http ready\n"

int acme_http01_start(wf_conn_t *c);

#endif
