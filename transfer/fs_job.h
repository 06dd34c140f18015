/* Work on the file system that may take long, run on the offload pool so it
 * never stalls a worker (and every other connection on it), for HTTPS and
 * FTPS alike:
 *   - the change DELETE and MKCOL (HTTP), DELE, RMD, MKD and RNTO (FTP)
 *     make to the tree, with the fsync of the folder(s) that makes it
 *     durable before the reply (and, for a deletion, freeing a large
 *     file's blocks; for a folder's, the partials parked in it first);
 *   - removing one name whose blocks may be gigabytes: the temp file of an
 *     upload that will not be stored, the partial a plain STOR starts over
 *     from, a stale partial SIZE, STOR or APPE meets.
 * Kinds of work only one protocol has (FTP's listings, the part of a file
 * an APPE keeps, a resumed upload's cut: transfer/ftp_job.c; HTTP's sorted
 * listing: transfer/listing_job.c) run as jobs of their own kind
 * (xfer_fs_job_custom), in the same steps.
 * A job owns what it is given (the folders, and what a custom kind holds)
 * until it hands the results back. It runs in short steps, each a task of
 * its own on the pool that touches only what the job owns and comes back
 * through the worker's loop, so a big job never keeps the pool from the
 * password checks and upload commits queued behind it; its completion
 * comes on the worker's loop. */
#ifndef XFER_FS_JOB_H
#define XFER_FS_JOB_H

#include "upload.h"

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

typedef struct wf_worker wf_worker_t;
typedef struct xfer_fs_job xfer_fs_job_t;

/* On the worker's loop, once the job ran to its end: the owner takes the
 * results it wants and frees the job. */
typedef void (*xfer_fs_job_done_fn)(void *arg, xfer_fs_job_t *job);

/* Changes to the tree, in folders opened beneath the home (transfer/path.c:
 * the job works in the very folders the request resolved, never by path),
 * each followed by the fsync of the folder(s) changed. The job takes the
 * folder fds (closed on failure too) and copies the names. NULL when out
 * of memory. Results: xfer_fs_job_err, 0 or the errno of the change. */
/* DELE: unlinks leaf, never a folder (EISDIR, and nothing is removed); then
 * partial (the parked interrupted upload of leaf; "" for none) goes too,
 * whether leaf existed or not. A partial last written more than
 * partial_max_age seconds ago (0: never) is stale: removed, but not counted
 * as found (xfer_fs_job_partial). err is the unlink of leaf's. */
xfer_fs_job_t *xfer_fs_job_delete(int dir_fd_take, const char *leaf, const char *partial, int partial_max_age);
/* DELETE, RMD: removes leaf, a file or a folder that lists as empty. With
 * folder_only (RMD, or a DELETE whose path ended in '/', which names a
 * folder) only a folder goes: anything else of that name stays, and err
 * is ENOTDIR. A folder goes with what it holds that nobody sees or can
 * name: the partials parked in it (transfer/path.c) and the upload temp
 * files and claimed names a dead process left there (xfer_upload_tmp_orphan
 * with orphan_age and started), all of them first looked at, then removed, in steps (each
 * may be gigabytes). err is ENOTEMPTY (or EEXIST, on some file systems),
 * and nothing is removed, when the folder holds a name a user sees; EBUSY,
 * and nothing is removed, when it holds another hidden file (a live
 * upload's temp file, which is never removed) (either one found by the
 * second pass only, made between the two, comes after the hidden files
 * the first pass found went); else the removal's, or the
 * lookup's (ENOENT: nothing has that name). A folder that cannot be read
 * is left to the rmdir alone. xfer_fs_job_removed tells what went besides.
 * A file that goes takes partial with it (its name's parked interrupted
 * upload, as DELE's; "" for none), and the claimed name of that partial
 * when a dead process left it (an orphan, as above), so no resumption
 * brings it back. */
xfer_fs_job_t *xfer_fs_job_delete_any(int dir_fd_take, const char *leaf, const char *partial, bool folder_only,
				      time_t orphan_age, struct timespec started);
/* Removes name (a partial, or an upload's temp file) from the folder, and
 * nothing else: no folder fsync, as nothing durable hangs on it. With
 * stale_only, only a partial gone for every command goes (of: the name it
 * was parked for; xfer_partial_check with max_age). err is 0;
 * xfer_fs_job_partial says what went (NONE: nothing, or it could not be
 * removed; STALE or REPLACED: such a one; REMOVED: one that was not). */
xfer_fs_job_t *xfer_fs_job_remove(int dir_fd_take, const char *name, const char *of, int max_age, bool stale_only);
/* MKD, MKCOL: makes the folder leaf (0755, less the umask). */
xfer_fs_job_t *xfer_fs_job_mkdir(int dir_fd_take, const char *leaf);
/* A DELETE's or MKCOL's preconditions (transfer/precond.h), taken: the
 * change is made only if they hold for leaf as the job finds it (lstat)
 * right before making it, else err is XFER_PRECOND_REFUSED and nothing
 * changed. Only where the change would otherwise be tried (RFC 9110
 * 13.2.1): a DELETE of nothing stays ENOENT, a MKCOL of a name that is
 * taken EEXIST. NULL: none. */
void xfer_fs_job_guard(xfer_fs_job_t *j, xfer_precond_t *cond_take);
/* RNTO: renames from in from_fd_take to to in to_fd_take (the same folder
 * may come twice, as two fds); with no_replace never onto an existing
 * name (EEXIST: xfer_path_rename_new). */
xfer_fs_job_t *xfer_fs_job_rename(int from_fd_take, const char *from, int to_fd_take, const char *to,
				  bool no_replace);

/* A kind of job defined by its user, over a state of its own. */
typedef struct xfer_fs_job_ops {
	/* One step, on a pool thread (or inline without a pool), touching only
	 * state: returns 0 or an errno, and sets *more when work is left for
	 * another step. */
	int (*step)(void *state, bool *more);
	/* Releases what state holds and frees it: on the loop, or on a pool
	 * thread for a job let go of whose drop is not quick (its owner may
	 * be gone by then). */
	void (*drop)(void *state);
	/* drop is quick (it closes and frees, and removes nothing that may be
	 * gigabytes): a job let go of is then dropped on the loop, at once
	 * while its step waits for the pool, so what it holds (a listing's
	 * hold on the listings' budget) goes back without waiting for the
	 * pool to reach it. Else it is dropped on the pool. */
	bool drop_quick;
} xfer_fs_job_ops_t;
/* A job of kind ops over state_take (dropped with ops->drop when no job
 * can be had). NULL when out of memory. */
xfer_fs_job_t *xfer_fs_job_custom(const xfer_fs_job_ops_t *ops, void *state_take);
/* The state of a job of kind ops (borrowed: the job owns it), or NULL for
 * a job of another kind. */
void *xfer_fs_job_state(xfer_fs_job_t *j, const xfer_fs_job_ops_t *ops);

/* Runs the job on the offload pool: WF_OK, and done(arg, job) comes later
 * on w's loop (with err EAGAIN should the pool stop between two steps); or,
 * without a pool, WF_DONE: the job ran here, its results are ready, and
 * done is never called. Either way the caller (through done, or now) owns
 * the job at the end. */
int xfer_fs_job_start(xfer_fs_job_t *j, wf_worker_t *w, xfer_fs_job_done_fn done, void *arg);
/* Runs a one-step job (a removal) on the offload pool with nobody waiting
 * for it: no result is wanted, and it frees itself there once done,
 * touching nothing but what it owns, so its owner may be long gone. Without
 * a pool it runs here. */
void xfer_fs_job_start_detached(xfer_fs_job_t *j);
/* The owner lets go of a started job (or of none: NULL) before its end:
 * nothing is called, and the job drops what it holds and frees itself. A
 * step already running finishes first (a change to the tree that began is
 * made, and stays made), and the job stops there. A kind that drops
 * quickly (xfer_fs_job_ops_t: listings, and the changes to the tree) is
 * dropped on the loop: at once when its next step still waits for the
 * pool (taken back out of the queue, that step never runs), else when the
 * running one ends. Another kind stops at its next step and is dropped on
 * the pool. */
void xfer_fs_job_cancel(xfer_fs_job_t *j);

/* The temp file of an upload that will not be stored (gigabytes, maybe) is
 * removed off the loop by a detached removal job (at once when it is empty,
 * or when no job can be had); u is left as xfer_upload_discard leaves it.
 * For uploads the loop owns, whose early syncs the loop tracks. */
void xfer_fs_job_discard_upload(xfer_upload_t *u);
/* The same for a heap-allocated upload, which is then freed. */
void xfer_fs_job_drop_upload(xfer_upload_t *up_take);

/* Results, once done: 0 or an errno (ECANCELED: let go of before it ran). */
int xfer_fs_job_err(const xfer_fs_job_t *j);
/* DELE's partial (or a removal's name): what became of it. */
typedef enum xfer_fs_partial_fate {
	XFER_FS_PARTIAL_NONE,    /* there was none (or it could not be removed) */
	XFER_FS_PARTIAL_REMOVED, /* one was kept for resuming, and is gone */
	XFER_FS_PARTIAL_STALE,   /* one was stale (past partial_max_age), and is gone */
	XFER_FS_PARTIAL_REPLACED, /* one was older than its name's file (xfer_partial_replaced), and is gone */
} xfer_fs_partial_fate_t;
xfer_fs_partial_fate_t xfer_fs_job_partial(const xfer_fs_job_t *j);
/* delete_any's of a folder: how many partials and orphaned temp files it
 * removed from it (whether or not the folder went after them), with
 * *names pointing at theirs (borrowed: from the job), ", " between them,
 * and *cut true when some did not fit there. 0 for other jobs. */
size_t xfer_fs_job_removed(const xfer_fs_job_t *j, const char **names, bool *cut);
/* Frees a job that is not running, with whatever was not taken. */
void xfer_fs_job_free(xfer_fs_job_t *j);

#endif
