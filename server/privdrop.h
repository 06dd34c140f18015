/* Dropping root: bind and read keys as root, then become run_user for good. */
#ifndef WF_PRIVDROP_H
#define WF_PRIVDROP_H

#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

/* Resolves run_user. Refuses (WF_ERR, reason in err) to go on as root unless
 * allow_root: serving files as root would make every path bug a disaster. */
int wf_privdrop_resolve(const wf_config_t *cfg, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* Gives wharf's own entries in the state folder (server/state_dir.h, made
 * here if missing) to the run user, who must write certificates there; the
 * folder itself too when it holds nothing else. Nothing else in the folder
 * changes hands. */
int wf_privdrop_chown_state(const char *state_dir, uid_t uid, gid_t gid, char *err, size_t errlen);
/* After the drop: WF_ERR (reason in err) when the run user cannot write
 * wharf's folders in the state folder (one above it it cannot enter). */
int wf_privdrop_check_state(const wf_config_t *cfg, char *err, size_t errlen);
/* `wharf check` as root: wf_privdrop_resolve, its refusal printed to out
 * as the start logs it, from run_user's FILE:LINE on. */
int wf_privdrop_check_user(const wf_config_t *cfg, uid_t *uid, gid_t *gid, FILE *out);
/* One warning per user whose home the server, as it runs now (dropped: as
 * run_user), cannot enter and list: every request there would fail, and
 * nothing else would say why. The start goes on: other users may be fine.
 * out NULL: each is logged; else each is appended to out as
 * "FILE:LINE: warning: ...\n" (`wharf check`), with a NUL after. Returns
 * how many. */
int wf_privdrop_check_homes(const wf_config_t *cfg, bool dropped, wf_buf_t *out);
/* What the server, as it runs after start-up (dropped: as run_user), must
 * read again later, checked once it runs so. The config file and its
 * @include'd files are read anew at every reload: WF_ERR with one line in
 * err naming the first it cannot read, why, and what to do. A warning: the
 * running server is fine until a reload. */
int wf_privdrop_check_config(const wf_config_t *cfg, bool dropped, char *err, size_t errlen);
/* A follower's cluster.controller_ca is read at every poll, and a CA's
 * acme.cas[].ca_bundle at every request: WF_ERR with one line in err, from
 * the entry's FILE:LINE on, when one cannot be read as a file (a ca_bundle
 * not there yet passes). A
 * refusal: every poll or order would fail and seem the peer's fault. */
int wf_privdrop_check_trust(const wf_config_t *cfg, bool dropped, char *err, size_t errlen);
/* What the server does as it runs (dropped: as run_user, else as the
 * user it was started as), perhaps months after the start: it runs every
 * hook of the config (acme.event_hook, dns_hook, deploy_hook) and writes
 * every output_dir, making one that is not there yet, and writes HTTP-01
 * answers under webroot (acme.webroot, or cert obtain's --webroot; NULL:
 * none), made at the start. The load checked
 * them as whoever loaded, root at a start; here they are asked of the
 * kernel as that user. Appends "FILE:LINE: problem\n" to out for each
 * that user may not run or write, with a NUL after (not counted in the
 * size); returns how many. A refusal: each would fail only at issuance. */
int wf_privdrop_check_runs(const wf_config_t *cfg, bool dropped, const char *webroot, wf_buf_t *out);
/* `wharf check` as root: the checks above as uid/gid (the resolved
 * run_user), in a child process, printed to out ("FILE: warning: ..." for
 * the config's, "FILE: ..." for the trust's, "FILE:LINE: ..." for the
 * hooks' and output folders'). WF_ERR when the start would
 * be refused. */
int wf_privdrop_check_as(const wf_config_t *cfg, uid_t uid, gid_t gid, FILE *out);
/* setgroups + setgid + setuid, then checks that root cannot be regained. */
int wf_privdrop_apply(uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
