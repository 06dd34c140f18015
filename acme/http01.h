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
/* A follower's account thumbprint, proved by its controller (the cluster
 * follower sets it from each answer): answered with even when
 * STATE/acme/thumbprint could not take it. Thread-safe; a valid thumbprint
 * (acme_cluster_thumbprint_valid) or it is ignored. */
void acme_http01_thumbprint_set(const char *thumbprint);

#endif
