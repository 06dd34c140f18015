/* An upload on its way into a file: bytes are staged and written to a hidden
 * temp file beside the final name (transfer/path.c names it: a random name,
 * or the claimed name for an upload that resumes); only a whole upload is
 * made durable (fsync, off the event loop) and renamed over the final name,
 * so the final name never holds a partial file. An interrupted upload is
 * either dropped or, for FTP, parked under its partial name to be resumed;
 * so is, for FTP, a whole one the final name did not take. */
#ifndef XFER_UPLOAD_H
#define XFER_UPLOAD_H

#include "../server/buf.h"
#include "file_budget.h"

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

typedef struct wf_worker wf_worker_t;
typedef struct upload_commit upload_commit_t;
typedef struct upload_sync upload_sync_t;
typedef struct xfer_precond xfer_precond_t;

#define XFER_UPLOAD_STAGE_AGE 10          /* seconds */
#define XFER_UPLOAD_STAGE_MAX (128u << 10) /* bytes gathered per write(2) */
#define XFER_UPLOAD_STAGE_MIN (16u << 10)  /* the least xfer_upload_stage_limit sets */

/* The step a commit failed at, and so what became of the file. */
typedef enum xfer_upload_fail {
	XFER_UPLOAD_FAIL_NONE,   /* the commit stored the file (or none ran) */
	XFER_UPLOAD_FAIL_WRITE,  /* its last write failed (a full disk): the file went */
	XFER_UPLOAD_FAIL_SYNC,   /* fsync (or close) failed: the file went, as its pages may not be on disk */
	XFER_UPLOAD_FAIL_RENAME, /* whole on disk, but the final name did not take it: parked, or gone */
} xfer_upload_fail_t;

/* What a failed commit did with the file, for its owner's reply. */
typedef struct xfer_upload_outcome {
	xfer_upload_fail_t fail;
	uint64_t size;  /* the file's bytes when the commit began */
	uint64_t kept;  /* bytes parked under park_as (XFER_UPLOAD_FAIL_RENAME); 0: the file went */
	int park_err;   /* why it could not be parked (an errno), else 0 */
} xfer_upload_outcome_t;

typedef struct xfer_upload {
	int fd;                   /* owned: the temp file, or -1 */
	int dir_fd;               /* owned: the folder of temp and final name, or -1 */
	xfer_file_hold_t files;   /* owned: what HTTP's file budget counts for fd and dir_fd (nothing for
				   * FTP's); it goes with them and ends once both are closed */
	char tmp[NAME_MAX + 1];   /* the temp file's name in dir_fd */
	char leaf[NAME_MAX + 1];  /* the final name in dir_fd */
	wf_buf_t stage;           /* bytes not yet written */
	size_t stage_max;         /* a stage this full is written: XFER_UPLOAD_STAGE_MAX, or less */
	time_t staged_since;      /* CLOCK_MONOTONIC_COARSE second the oldest staged byte came */
	struct timespec last_byte; /* CLOCK_REALTIME: when the newest byte came; 0: none yet */
	uint64_t written;         /* bytes in the file (staged ones not counted) */
	uint64_t synced;          /* writeback started up to here */
	upload_commit_t *commit;  /* borrowed: the commit in flight, which owns fd and dir_fd meanwhile */
	wf_worker_t *worker;      /* borrowed: where early syncs complete; NULL: none */
	upload_sync_t *early;     /* borrowed: the early sync in flight (it owns itself) */
	uint64_t early_at;        /* written when the last early sync began */
	bool no_replace;          /* the commit never replaces an existing final name (EEXIST) */
	xfer_precond_t *cond;     /* owned: the commit renames only if these preconditions hold for
				   * the final name as it is then (XFER_PRECOND_REFUSED); NULL: none */
	int tail_err;             /* why park left the staged tail out (an errno), else 0 */
	char park_as[NAME_MAX + 1]; /* where a commit that fails at its rename parks the file; "": it goes */
	xfer_upload_outcome_t outcome; /* of the last commit, once done ran (or WF_DONE came back) */
} xfer_upload_t;

/* Called on the worker's loop when a commit ends: err is 0 (the final name
 * now holds the file) or an errno (nothing changed under it). */
typedef void (*xfer_upload_done_fn)(void *arg, int err);

/* worker: the loop the owner runs on, for early syncs (NULL: none). While a
 * large upload arrives, what is written is made durable every 64 MiB on the
 * offload pool (fdatasync of its own descriptor), so the final fsync before
 * the answer has little left: on these machines it took 0.45 s per GiB at
 * the end, a quarter of a 1 GiB upload's time, and overlaps the transfer now. */
void xfer_upload_init(xfer_upload_t *u, wf_worker_t *worker);
/* Creates the temp file for leaf in dir_fd (taken: closed on failure too).
 * WF_OK or -errno. */
int xfer_upload_open(xfer_upload_t *u, int dir_fd_take, const char *leaf);
/* An upload that resumes leaf (FTP's APPE, REST+STOR) has leaf's claimed
 * name (transfer/path.c) as its temp file, got by a rename that never
 * replaces or an O_EXCL create: while one holds it, another resumption of
 * leaf gets -EEXIST and changes nothing. Neither needs a free inode to
 * take over a partial. Parking, committing and discarding then go from the
 * claimed name as from any temp file.
 *
 * Takes over the parked partial of leaf (its name: partial) by renaming it
 * to the claimed name. WF_OK, -ENOENT when there is none, -EEXIST when the
 * claimed name is held (another resumption of leaf), or another -errno
 * (the partial then stays as it was; but not one that is no regular file,
 * which goes, nor one older than a partial parked meanwhile, which stays).
 * On success u->written is its size and
 * the file is positioned at its end. */
int xfer_upload_claim(xfer_upload_t *u, int dir_fd_take, const char *leaf, const char *partial);
/* A resumption with no partial (from leaf's existing bytes, or of a leaf
 * that does not exist): creates the claimed name of leaf, empty, as the
 * temp file (O_EXCL). WF_OK, -EEXIST when it is held, or another -errno. */
int xfer_upload_open_claimed(xfer_upload_t *u, int dir_fd_take, const char *leaf);
/* A claimed name outlives its upload only when the process died mid-upload
 * (or a node sharing the home did): an orphan by xfer_upload_tmp_orphan
 * (orphan_age, started, at now), whose bytes are a head of what the client
 * was sending, as a partial's are. This puts the claimed name of leaf in
 * dir_fd back as its partial, so it is resumed rather than lost: 1 when it
 * was; 0 when there was none, or it was empty (removed: an empty partial
 * would only make SIZE say 0), or a partial newer than it stays (it is
 * removed); -EBUSY when it is live (no orphan); or -errno. Blocking (it may
 * remove a large file): off the loop. */
int xfer_upload_recover(int dir_fd, const char *leaf, time_t now, time_t orphan_age, struct timespec started);
/* Removes the claimed name claimed of dir_fd if it is an orphan (as above):
 * true when it went. Blocking, as a removal is. */
bool xfer_upload_remove_orphan_claim(int dir_fd, const char *claimed, time_t now, time_t orphan_age,
				     struct timespec started);
/* Cuts the file to len bytes (len <= written). WF_OK or -errno. */
int xfer_upload_truncate(xfer_upload_t *u, uint64_t len);
/* Copies len bytes of the open file src_fd, from offset from on, to the end
 * of the temp file (the kernel copies; reflinks where the file system can).
 * It blocks for as long as the copy takes: FTP runs it on the offload pool
 * (transfer/ftp_job.c), in steps. WF_OK or -errno. */
int xfer_upload_copy_from(xfer_upload_t *u, int src_fd, uint64_t from, uint64_t len);
/* Writes the stage at bytes (XFER_UPLOAD_STAGE_MIN to _MAX) rather than
 * XFER_UPLOAD_STAGE_MAX: more write(2)s, less memory, for a connection with
 * many uploads side by side. Call before the first byte is staged. */
void xfer_upload_stage_limit(xfer_upload_t *u, size_t bytes);
/* Stages bytes, writing full stages to the file, and a stage whose first
 * byte came XFER_UPLOAD_STAGE_AGE seconds ago or more, when more bytes
 * come (there is no timer): a slow client's bytes reach the file (and its
 * mtime moves) at about that pace, so a temp file untouched far longer is
 * in no upload's hands (xfer_upload_tmp_orphan). WF_OK or -errno. */
int xfer_upload_write(xfer_upload_t *u, const void *data, size_t len);
/* The stage's free space, for a caller that decrypts straight into it
 * rather than into a buffer of its own that xfer_upload_write would copy:
 * *cap bytes (at least one) at the returned pointer. Follow with
 * xfer_upload_wrote. */
char *xfer_upload_space(xfer_upload_t *u, size_t *cap);
/* n bytes were put at xfer_upload_space's pointer; as xfer_upload_write. */
int xfer_upload_wrote(xfer_upload_t *u, size_t n);
/* Writes what is staged, the upload's last bytes (no early sync starts:
 * the commit's fsync follows). WF_OK or -errno. */
int xfer_upload_flush(xfer_upload_t *u);
/* Flushes, then fsyncs and renames the temp file over the final name off the
 * loop (with no_replace set, only to a name nothing holds: EEXIST if
 * something took it meanwhile; with cond set, only if it holds for what the
 * final name holds right before the rename, else XFER_PRECOND_REFUSED and
 * the temp file goes); done(arg, err) runs later on w's loop. Returns WF_OK (done will be
 * called), or, when the work had to run inline (no pool), WF_DONE with the
 * outcome in *err and no call to done. u no longer owns fd or dir_fd, nor
 * files, which the commit ends once it closed them, on the pool. When
 * the flush fails (disk full), the commit only removes the temp file, off
 * the loop too, and done gets the flush's errno; so it does when the fsync
 * fails (its pages may be lost: a partial made of it could have holes).
 * When only the rename fails (a folder now stands under the final name, a
 * read-only or full folder), the file is whole on disk: with park_as set
 * (FTP, whose interrupted uploads are parked), it is parked there less its
 * last byte, so a client resuming it sends that byte and its commit runs
 * again (with every byte parked, curl -C - and lftp put -c find the sizes
 * equal, call the upload done and send nothing, and the file is never
 * stored). Not when a name no_replace kept or a refused precondition stood
 * in the way: the final name holds another's file, newer than the upload.
 * u->outcome says which step failed and what was kept. */
int xfer_upload_commit(xfer_upload_t *u, wf_worker_t *w, xfer_upload_done_fn done, void *arg, int *err);
/* The owner goes away: a commit in flight still finishes, but calls no one. */
void xfer_upload_detach(xfer_upload_t *u);
/* Flushes what arrived and renames the temp file to name (the partial name),
 * replacing any older one. What does not fit any more (a full disk) is left
 * out: the partial holds u->written bytes, tail_err says why. WF_OK, or
 * -errno with the temp file still u's, for its owner to remove (it may
 * hold gigabytes: off the loop, xfer_fs_job_discard_upload). */
int xfer_upload_park(xfer_upload_t *u, const char *name);
/* Drops the temp file, here: an unlink frees its blocks before it returns,
 * so an owner on the loop whose temp file may be large has it removed off
 * the loop instead (xfer_fs_job_discard_upload, transfer/fs_job.h). Both
 * descriptors closed, u->files ends. */
void xfer_upload_discard(xfer_upload_t *u);
/* Lets go of the temp file without removing it, for an owner that has it
 * removed elsewhere (off the loop: it may hold gigabytes): closes it and
 * hands over the folder fd, in which u->tmp still names it. -1 when there
 * is no temp file (none was made, or a commit or park took it). u->files
 * stays u's, ended by the next discard: an owner whose upload holds files
 * moves them on with the folder (xfer_file_hold_move) first. */
int xfer_upload_release(xfer_upload_t *u);
void xfer_upload_fini(xfer_upload_t *u);

#endif
