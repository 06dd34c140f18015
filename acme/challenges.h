/* What the challenge responders answer while orders are pending: HTTP-01
 * key authorizations by token, and TLS-ALPN-01 certificates by name. An
 * immutable snapshot published through one atomic pointer, like the
 * certificate store: the ACME jobs (main thread) write, the workers read
 * without a lock (rcu.h keeps the load-then-ref safe). */
#ifndef ACME_CHALLENGES_H
#define ACME_CHALLENGES_H

#include "../server/cert_key.h"

typedef struct acme_chal_snap acme_chal_snap_t;

void acme_challenges_init(void);
void acme_challenges_fini(void);

/* Writers (main thread). */
void acme_challenges_add_http(const char *token, const char *key_authorization);
void acme_challenges_add_alpn(const char *name, wf_certkey_t *ck_take);
/* Removes the entries an order published (tokens, names), once it is done. */
void acme_challenges_remove(char *const *tokens, size_t ntokens, char *const *names, size_t nnames);

/* Also write HTTP-01 answers as files under DIR/.well-known/acme-challenge/
 * (wharf cert obtain --webroot: another web server serves them), with the
 * pre-flight's test.txt. WF_OK or WF_ERR (errno). Main thread, before orders. */
int acme_challenges_set_webroot(const char *dir);

/* Readers (workers, inside callbacks). */
acme_chal_snap_t *acme_challenges_acquire(void);
void acme_chal_snap_unref(acme_chal_snap_t *s);
/* The key authorization for a token, or NULL (borrowed from the snapshot). */
const char *acme_chal_http(const acme_chal_snap_t *s, wf_slice_t token);
/* The challenge certificate for a name (case-insensitive), or NULL (borrowed). */
wf_certkey_t *acme_chal_alpn(const acme_chal_snap_t *s, const char *name);

#endif
