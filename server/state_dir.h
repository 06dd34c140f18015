/* The state folder: what wharf keeps there (one list), where it may not be,
 * and the lock that keeps it to one process. */
#ifndef WF_STATE_DIR_H
#define WF_STATE_DIR_H

#include <stdbool.h>
#include <stddef.h>

/* The entries wharf makes in the state folder: certs/ (a
 * folder per certificate: keys, certificates, pending orders, status.json),
 * acme/ (an account per CA, the cluster thumbprint) and the lock file.
 * Started as root, wharf gives these to the run user and nothing else there. */
typedef struct wf_state_entry {
	const char *name;
	bool dir;
} wf_state_entry_t;
extern const wf_state_entry_t wf_state_entries[]; /* ends with { NULL } */
#define WF_STATE_LOCK "lock"

/* WF_ERR (reason in err) for a state folder that is "/" or holds the config
 * file (config_real: its real path), at any depth: the run user would be
 * given what root starts from. A folder that does not exist yet holds
 * nothing: WF_OK. */
int wf_state_check(const char *state_dir, const char *config_real, char *err, size_t errlen);

/* Takes STATE/lock (made 0600 if missing) with an exclusive flock for as long
 * as the returned descriptor stays open (close-on-exec, so hooks do not hold
 * it). -1 with the reason in err, naming the other process's pid when it is
 * another wharf that holds the lock. */
int wf_state_lock(const char *state_dir, char *err, size_t errlen);

#endif
