/* The slow part of some FTP commands, run on the offload pool so it never
 * stalls a worker (and every other connection on it):
 *   - reading a folder for LIST, NLST, MLSD and STAT (up to 100000 entries,
 *     each one a stat);
 *   - copying the part of an existing file that APPE or REST+STOR keeps
 *     into the upload's temp file (gigabytes, for a large file);
 *   - cutting a resumed upload back to its REST offset (ftruncate frees
 *     the file's blocks: long, for gigabytes on ext4 or xfs);
 *   - the change DELE, RMD, MKD and RNTO make to the tree, with the fsync
 *     of the folder(s) that makes it durable before the reply (and, for
 *     DELE, freeing a large file's blocks);
 *   - removing one name whose blocks may be gigabytes: the partial a plain
 *     STOR starts over from, a stale partial SIZE, STOR or APPE meets, the
 *     temp file of an upload that will not be stored.
 * A job owns what it is given (the folders, the listing buffer, the upload
 * and its source) until it hands the results back. It runs in short steps
 * (16 MiB, or 4096 entries), each a task of its own on the pool that
 * touches only what the job owns and comes back through the worker's loop,
 * so a big job never keeps the pool from the password checks and upload
 * commits queued behind it; its completion comes on the worker's loop. */
#ifndef XFER_FTP_JOB_H
#define XFER_FTP_JOB_H

#include "ftp_list.h"
#include "upload.h"
#include "../server/buf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wf_worker wf_worker_t;
typedef struct xfer_ftp_job xfer_ftp_job_t;

/* On the worker's loop, once the job ran to its end: the owner takes the
 * results it wants and frees the job. */
typedef void (*xfer_ftp_job_done_fn)(void *arg, xfer_ftp_job_t *job);

/* A listing of the open folder dir_fd_take in style, appended to
 * out_take (whose cap bounds it: what fits is listed), at most
 * max_entries entries; "." "..", and hidden upload files are left out.
 * NULL when out of memory (after closing and freeing what it took). */
xfer_ftp_job_t *xfer_ftp_job_listing(int dir_fd_take, const xfer_ftp_list_style_t *style, wf_buf_t *out_take,
				     size_t max_entries);
/* Copies bytes [0, len) of src_fd_take to the end of the open upload
 * up_take (heap-allocated; the job frees it if it is never taken back).
 * NULL when out of memory (after releasing what it took). */
xfer_ftp_job_t *xfer_ftp_job_copy(xfer_upload_t *up_take, int src_fd_take, uint64_t len);
/* Cuts the open upload up_take (a parked partial just claimed) to len
 * bytes (len <= its size). A job let go of before its end parks the upload
 * again under the name park_as (cut or not), so an interrupted session
 * loses nothing it could resume. NULL when out of memory (after parking). */
xfer_ftp_job_t *xfer_ftp_job_truncate(xfer_upload_t *up_take, uint64_t len, const char *park_as);

/* Changes to the tree, in folders opened beneath the home (transfer/path.c:
 * the job works in the very folders the command resolved, never by path),
 * each followed by the fsync of the folder(s) changed. The job takes the
 * folder fds (closed on failure too) and copies the names. NULL when out
 * of memory. Results: xfer_ftp_job_err, 0 or the errno of the change. */
/* DELE: unlinks leaf, never a folder (EISDIR, and nothing is removed); then
 * partial (the parked interrupted upload of leaf; "" for none) goes too,
 * whether leaf existed or not. A partial last written more than
 * partial_max_age seconds ago (0: never) is stale: removed, but not counted
 * as found (xfer_ftp_job_partial). err is the unlink of leaf's. */
xfer_ftp_job_t *xfer_ftp_job_delete(int dir_fd_take, const char *leaf, const char *partial, int partial_max_age);
/* Removes name (a partial, or an upload's temp file) from the folder, and
 * nothing else: no folder fsync, as nothing durable hangs on it. With
 * stale_only, only a stale one goes (last written more than max_age
 * seconds ago; never with max_age 0). err is 0; xfer_ftp_job_partial says
 * what went (NONE: nothing, or it could not be removed; STALE: a stale
 * one; REMOVED: one that was not). */
xfer_ftp_job_t *xfer_ftp_job_remove(int dir_fd_take, const char *name, int max_age, bool stale_only);
/* RMD: removes the empty folder leaf. */
xfer_ftp_job_t *xfer_ftp_job_rmdir(int dir_fd_take, const char *leaf);
/* MKD: makes the folder leaf (0755, less the umask). */
xfer_ftp_job_t *xfer_ftp_job_mkdir(int dir_fd_take, const char *leaf);
/* RNTO: renames from in from_fd_take to to in to_fd_take (the same folder
 * may come twice, as two fds); with no_replace never onto an existing
 * name (EEXIST: xfer_path_rename_new). */
xfer_ftp_job_t *xfer_ftp_job_rename(int from_fd_take, const char *from, int to_fd_take, const char *to,
				    bool no_replace);

/* Runs the job on the offload pool: WF_OK, and done(arg, job) comes later
 * on w's loop (with err EAGAIN should the pool stop between two steps); or,
 * without a pool, WF_DONE: the job ran here, its results are ready, and
 * done is never called. Either way the caller (through done, or now) owns
 * the job at the end. */
int xfer_ftp_job_start(xfer_ftp_job_t *j, wf_worker_t *w, xfer_ftp_job_done_fn done, void *arg);
/* Runs a one-step job (a removal) on the offload pool with nobody waiting
 * for it: no result is wanted, and it frees itself there once done,
 * touching nothing but what it owns, so its owner may be long gone. Without
 * a pool it runs here. */
void xfer_ftp_job_start_detached(xfer_ftp_job_t *j);
/* The owner lets go of a started job before its end: it stops at its next
 * step, nothing is called, and the job drops what it holds (the upload's
 * temp file goes; a truncate's upload is parked) and frees itself, on the
 * pool: a copy's temp file may hold gigabytes. A step already running
 * finishes first: a change to the tree that began is made, and stays made. */
void xfer_ftp_job_cancel(xfer_ftp_job_t *j);
/* An upload that will not be stored: its temp file (gigabytes, maybe) is
 * removed off the loop by a detached removal job (at once when it is
 * empty, or when no job can be had), and up_take is freed. For uploads
 * the loop owns, whose early syncs the loop tracks. */
void xfer_ftp_job_drop_upload(xfer_upload_t *up_take);

/* Results, once done: 0 or an errno (ECANCELED: let go of before it ran). */
int xfer_ftp_job_err(const xfer_ftp_job_t *j);
/* DELE's partial (or a removal's name): what became of it. */
typedef enum xfer_ftp_partial_fate {
	XFER_FTP_PARTIAL_NONE,    /* there was none (or it could not be removed) */
	XFER_FTP_PARTIAL_REMOVED, /* one was kept for resuming, and is gone */
	XFER_FTP_PARTIAL_STALE,   /* one was stale (past partial_max_age), and is gone */
} xfer_ftp_partial_fate_t;
xfer_ftp_partial_fate_t xfer_ftp_job_partial(const xfer_ftp_job_t *j);
/* The listing buffer, or the upload (its head copied), handed back. */
wf_buf_t *xfer_ftp_job_take_listing(xfer_ftp_job_t *j);
xfer_upload_t *xfer_ftp_job_take_upload(xfer_ftp_job_t *j);
/* Frees a job that is not running, with whatever was not taken. */
void xfer_ftp_job_free(xfer_ftp_job_t *j);

#endif
