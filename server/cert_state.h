/* Certificates on disk, in the state folder:
 *   STATE/certs/NAME/issued.pem                     issued: private key, then the chain (0600)
 *   STATE/certs/NAME/selfsigned.pem, selfsigned.key provisional (key 0600)
 *   STATE/certs/NAME/deploy-pending                 the deploy hook of the serial it holds has
 *                                                   not exited 0 yet (0600; acme/deploy.c)
 * Every file is written with wf_durable_write, so none is ever half there. */
#ifndef WF_CERT_STATE_H
#define WF_CERT_STATE_H

#include "cert_key.h"
#include "config.h"

/* The certificate to serve for one configured certificate: the issued pair if
 * it parses, matches its key and covers the configured domains (expired too,
 * as a running server keeps serving it: a warning says so); else the
 * provisional pair, made (and persisted) when missing, not covering the
 * domains, or expiring within a week. An issued pair that does not parse is
 * named with its path in a warning that ends with then (how a good one
 * comes: "and a new one is ordered from the CA"), and is left on disk.
 * NULL with the reason in err. */
wf_certkey_t *wf_certstate_load(const char *state_dir, const wf_cert_cfg_t *c, const char *then, char *err,
				size_t errlen);

/* Why a stored pem that wf_certkey_new refused with err is unusable, in
 * words for an admin: empty, no PEM in it, or err (without its full stop).
 * Pure. */
void wf_certstate_unusable_reason(wf_slice_t pem, const char *err, char *out, size_t cap);

/* Writes an issued key and chain for NAME as one file, in one rename.
 * Returns WF_OK, or WF_ERR with the reason in err; the old one stays. */
int wf_certstate_save_issued(const char *state_dir, const char *name, wf_slice_t chain_pem, wf_slice_t key_pem,
			     char *err, size_t errlen);

/* Reads NAME's issued pair as stored (key, then chain) into out, without
 * parsing it. WF_OK, WF_DECLINED (none issued), or WF_ERR (errno). */
int wf_certstate_read_issued(const char *state_dir, const char *name, wf_buf_t *out);

/* Splits an issued pair into the key and the chain (which starts at the
 * first certificate). WF_OK, or WF_ERR when either is missing. Pure. */
int wf_certstate_split_issued(wf_slice_t issued, wf_slice_t *key, wf_slice_t *chain);

/* The deploy-pending mark: set (token: the serial, a line) before a deploy
 * hook starts, cleared when it exits 0, so a hook that failed or was cut
 * short by a kill runs again at the next start. set and clear return WF_OK,
 * or WF_ERR with errno; clear of a mark not there is WF_OK. read puts the
 * token (NUL-terminated, cut to cap - 1 bytes, up to its first line end)
 * in token: WF_OK, WF_DECLINED (no mark), or WF_ERR (errno). */
int wf_certstate_set_deploy_pending(const char *state_dir, const char *name, const char *token);
int wf_certstate_clear_deploy_pending(const char *state_dir, const char *name);
int wf_certstate_read_deploy_pending(const char *state_dir, const char *name, char *token, size_t cap);

#endif
