/* Certificate files for other servers (HAProxy, nginx, mail servers), the
 * way certbot lays them out, in the folder a certificate's `output_dir`
 * names:
 *   cert.pem       the leaf certificate
 *   chain.pem      the intermediates
 *   fullchain.pem  leaf + intermediates
 *   privkey.pem    the private key (0600)
 *   combined.pem   key + leaf + intermediates, HAProxy's one-file form (0600)
 * Each is written durably (temp, fsync, rename), and only when its content
 * changed, so a deploy hook that watches them fires only on a change. */
#ifndef ACME_OUTPUT_H
#define ACME_OUTPUT_H

#include "../server/base.h"

#include <stdbool.h>

/* Splits a PEM chain into its leaf and the rest. WF_OK, or WF_ERR when it
 * holds no certificate. The slices point into chain_pem. Pure. */
int acme_output_split(wf_slice_t chain_pem, wf_slice_t *leaf, wf_slice_t *rest);

/* Writes the five files into dir (created 0700 if missing), each written
 * and flushed before any is renamed into place. *changed says whether any
 * file was replaced. WF_OK, or WF_ERR with the reason in err: when a file
 * cannot be written, none is replaced; none is ever half-written. */
int acme_output_write(const char *dir, wf_slice_t chain_pem, wf_slice_t key_pem, bool *changed, char *err,
		      size_t errlen);



struct wf_cert_cfg;
/* Brings cert's output_dir up to date with this pair, the one just issued
 * or received (from memory: the state folder may not have taken it);
 * nothing without an output_dir. Logs what it did; *changed as above.
 * WF_OK or WF_ERR (logged). */
int acme_output_install(const struct wf_cert_cfg *cert, wf_slice_t chain_pem, wf_slice_t key_pem, bool *changed);
/* The same at start-up, from the issued pair in the state folder
 * (STATE/certs/NAME/issued.pem: key, then chain); nothing without one. */
int acme_output_sync(const char *state_dir, const struct wf_cert_cfg *cert, bool *changed);
#endif
