/* A cluster follower (docs/cluster.md): runs no ACME; polls the controller
 * for each configured certificate's bundle with a conditional request on a
 * jittered interval, checks what comes (MAC under the shared secret, chain
 * and key parse and match, names cover the config, not expired) and only
 * then installs it live, persists it, writes the output files and runs the
 * deploy hook. While the controller is away, what is installed keeps
 * serving. Lives on the main thread's loop, like the ACME manager. */
#ifndef ACME_FOLLOWER_H
#define ACME_FOLLOWER_H

#include "../server/cert_store.h"
#include "../server/config.h"

#include <ev.h>

typedef struct acme_follower acme_follower_t;

/* cfg is referenced; NULL when cfg has no follower role. */
acme_follower_t *acme_follower_new(struct ev_loop *loop, wf_config_t *cfg, wf_certstore_t *store);
void acme_follower_free(acme_follower_t *f);

#endif
