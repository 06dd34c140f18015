/* Dropping root: bind and read keys as root, then become run_user for good. */
#ifndef WF_PRIVDROP_H
#define WF_PRIVDROP_H

#include "config.h"

#include <sys/types.h>

/* Resolves run_user. Refuses (WF_ERR, reason in err) to go on as root unless
 * allow_root: serving files as root would make every path bug a disaster. */
int wf_privdrop_resolve(const wf_config_t *cfg, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* Gives the state folder to the run user (it must write certificates there). */
int wf_privdrop_chown_state(const char *state_dir, uid_t uid, gid_t gid, char *err, size_t errlen);
/* setgroups + setgid + setuid, then checks that root cannot be regained. */
int wf_privdrop_apply(uid_t uid, gid_t gid, char *err, size_t errlen);

#endif
