/* Certificate files for other servers (HAProxy, nginx, mail servers), the
 * way certbot lays them out, in the folder a certificate's `output_dir`
 * names:
 *   cert.pem       the leaf certificate
 *   chain.pem      the intermediates
 *   fullchain.pem  leaf + intermediates
 *   privkey.pem    the private key (0600)
 *   combined.pem   key + leaf + intermediates, HAProxy's one-file form (0600)
 * Each is written durably (temp, fsync, rename), and only when its content
 * changed, keeping the group and group-read bit of the file it replaces.
 * The set is consistent once the last is renamed, which is when
 * acme/deploy.c runs the deploy hook: services reload on the hook, not on
 * a file's change. */
#ifndef ACME_OUTPUT_H
#define ACME_OUTPUT_H

#include "../server/base.h"

#include <stdbool.h>

/* Splits a PEM chain into its leaf and the rest. WF_OK, or WF_ERR when it
 * holds no certificate. The slices point into chain_pem. Pure. */
int acme_output_split(wf_slice_t chain_pem, wf_slice_t *leaf, wf_slice_t *rest);

/* Writes the five files into dir (created 0700 if missing), each written
 * and flushed before any is renamed into place, the folder synced once
 * after the last. *changed says whether any file was replaced. WF_OK, or
 * WF_ERR with the reason in err: when a file cannot be written, none is
 * replaced; when one cannot be renamed, the others still are (each one
 * left old could sit beside a new key); none is ever half-written. */
int acme_output_write(const char *dir, wf_slice_t chain_pem, wf_slice_t key_pem, bool *changed, char *err,
		      size_t errlen);

/* Does dir's cert.pem hold a certificate issued after chain_pem's leaf
 * (a later notBefore)? Then its serial is in serial. A certificate issued
 * but not stored (acme/unsaved.c) reaches the output files while the state
 * folder keeps the older one; a start-up before it is stored must not put
 * the older one back (acme/deploy.c). */
bool acme_output_ahead(const char *dir, wf_slice_t chain_pem, char *serial, size_t cap);

/* Removes the temp files a killed write left in dir (the names
 * wf_durable_stage gives the five files, ".privkey.pem.tmp.<16 hex>", and
 * no other). Only while no write runs: at start-up, or before `cert fetch`
 * writes. dir is opened as the writes open it, a symlink to a folder
 * followed. Returns how many. */
int acme_output_sweep(const char *dir);
#endif
