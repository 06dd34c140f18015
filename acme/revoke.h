/* `wharf cert revoke NAME`: revokes the issued certificate of NAME at the
 * first configured CA, with the account key, and sets it aside so that the
 * next start (or a SIGHUP) orders a replacement. */
#ifndef ACME_REVOKE_H
#define ACME_REVOKE_H

#include "../server/config.h"

/* Returns the process exit code; prints one line saying what happened. */
int acme_revoke_main(wf_config_t *cfg, const char *name);

#endif
