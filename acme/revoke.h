/* `wharf cert revoke NAME`: revokes the issued certificate of NAME at the CA
 * that issued it (status.json's issued_ca), signed with the account key, or
 * with the certificate's own key when there is no account at that CA, and
 * sets it aside so that the next start (or a SIGHUP) orders a replacement:
 * as issued.pem.revoked, or, that name taken by an earlier revocation,
 * issued.pem.revoked.SERIAL; a revoked certificate is never overwritten. */
#ifndef ACME_REVOKE_H
#define ACME_REVOKE_H

#include "../server/config.h"

/* Returns the process exit code; prints one line saying what happened. */
int acme_revoke_main(wf_config_t *cfg, const char *name);

#endif
