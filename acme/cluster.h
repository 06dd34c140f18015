/* The cluster's shared pieces (docs/cluster.md): certificate bundles as the
 * controller hands them out, their MAC under the shared secret, the secret
 * check, and the ACME account thumbprint that lets every node answer HTTP-01. */
#ifndef ACME_CLUSTER_H
#define ACME_CLUSTER_H

#include "../server/buf.h"
#include "../server/config.h"

#include <stdbool.h>

#define ACME_CLUSTER_BUNDLE_PATH "/.wharf/cluster/bundle/"

bool acme_cluster_is_controller(const wf_config_t *cfg);
bool acme_cluster_is_follower(const wf_config_t *cfg);
/* Hex HMAC-SHA256 of body under secret (64 hex digits + NUL). */
void acme_cluster_mac(const char *secret, wf_slice_t body, char out[65]);
/* Constant-time check of an Authorization value "Bearer SECRET". */
bool acme_cluster_secret_ok(const wf_config_t *cfg, wf_slice_t authorization);
/* The bundle for certificate name: the issued pair in the state folder as
 * stored (key, then chain: wf_certstate_split_issued splits it), its ETag (quoted) and MAC. WF_OK, WF_DECLINED (none issued
 * yet, or not a configured name), or WF_ERR. */
int acme_cluster_bundle(const wf_config_t *cfg, const char *name, wf_buf_t *pem, char etag[72], char mac[65]);
/* The ACME account thumbprint in use (STATE/acme/thumbprint), or "". */
void acme_cluster_thumbprint(const char *state_dir, char *out, size_t cap);
int acme_cluster_thumbprint_save(const char *state_dir, const char *thumbprint);

#endif
