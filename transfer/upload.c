/* Uploads into files: see upload.h. */
#include "upload.h"
#include "partial_sweep.h"
#include "path.h"
#include "precond.h"
#include "../server/log.h"
#include "../server/offload.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define UPLOAD_WRITEBACK (8u << 20) /* start writeback every this many bytes */
#define UPLOAD_EARLY_SYNC (64u << 20) /* make durable off the loop every this many bytes */
#define EARLY_SYNCS_MAX 1             /* at once, all uploads: the pool's other thread stays free */

/* An early sync: fdatasync of the temp file on the offload pool, through a
 * descriptor opened anew (not a dup). A writeback error is reported once per
 * open file description: through a dup, the early sync would take the error
 * and the commit's fsync would pass a file with lost pages as whole. */
struct upload_sync {
	int fd;           /* owned: its own open of the file, so the upload may close its own meanwhile */
	xfer_upload_t *u; /* NULL once the upload let go of it */
};

static atomic_int early_syncs; /* in flight, all workers */

struct upload_commit {
	xfer_upload_done_fn done; /* NULL once the owner is gone */
	void *arg;
	int fd, dir_fd;
	char tmp[NAME_MAX + 1], leaf[NAME_MAX + 1];
	bool no_replace;
	xfer_precond_t *cond; /* owned: u->cond, taken */
	int err; /* 0, or the errno of the step that failed */
	char park_as[NAME_MAX + 1];
	struct timespec last_byte;
	mode_t tmp_mode; /* the temp file's own mode, before keep_mode; 0: unchanged */
	xfer_upload_outcome_t out;
	xfer_upload_t *owner; /* borrowed: gets out when done; NULL once the owner is gone */
	xfer_file_hold_t files; /* owned: the upload's, ended once fd and dir_fd are closed */
};

static void early_run(void *arg)
{
	upload_sync_t *s = arg;
	fdatasync(s->fd); /* an error shows again at the commit's fsync, on the upload's own open */
	close(s->fd);
}

static void early_done(void *arg)
{
	upload_sync_t *s = arg;
	if (s->u)
		s->u->early = NULL;
	free(s);
	atomic_fetch_sub(&early_syncs, 1);
}

static void early_start(xfer_upload_t *u)
{
	if (atomic_fetch_add(&early_syncs, 1) >= EARLY_SYNCS_MAX) {
		atomic_fetch_sub(&early_syncs, 1);
		return; /* another upload's sync flushes the disk's cache for this one too */
	}
	upload_sync_t *s = malloc(sizeof(*s));
	if (s)
		s->fd = openat(u->dir_fd, u->tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (!s || s->fd < 0 || wf_offload_submit(u->worker, early_run, early_done, s) != WF_OK) {
		if (s && s->fd >= 0)
			close(s->fd);
		free(s);
		atomic_fetch_sub(&early_syncs, 1);
		return;
	}
	s->u = u;
	u->early = s;
	u->early_at = u->written;
	wf_log_debug("upload %s: making its first %llu bytes durable off the loop", u->leaf,
		     (unsigned long long)u->written);
}

/* The upload no longer waits for its early sync (which finishes alone). */
static void early_forget(xfer_upload_t *u)
{
	if (u->early) {
		u->early->u = NULL;
		u->early = NULL;
	}
}

void xfer_upload_init(xfer_upload_t *u, wf_worker_t *worker)
{
	memset(u, 0, sizeof(*u));
	u->worker = worker;
	u->fd = u->dir_fd = -1;
	wf_buf_init(&u->stage, XFER_UPLOAD_STAGE_MAX);
	u->stage_max = XFER_UPLOAD_STAGE_MAX;
}

void xfer_upload_stage_limit(xfer_upload_t *u, size_t bytes)
{
	u->stage_max = bytes < XFER_UPLOAD_STAGE_MIN ? XFER_UPLOAD_STAGE_MIN
		       : bytes > XFER_UPLOAD_STAGE_MAX ? XFER_UPLOAD_STAGE_MAX
						       : bytes;
	wf_buf_fini(&u->stage); /* empty: its memory is capped anew */
	wf_buf_init(&u->stage, u->stage_max);
}

int xfer_upload_open(xfer_upload_t *u, int dir_fd_take, const char *leaf)
{
	int fd = xfer_path_tmp_create(dir_fd_take, leaf, u->tmp, sizeof(u->tmp));
	if (fd < 0) {
		close(dir_fd_take);
		return fd;
	}
	u->fd = fd;
	u->dir_fd = dir_fd_take;
	snprintf(u->leaf, sizeof(u->leaf), "%s", leaf);
	u->written = u->synced = u->early_at = 0;
	return WF_OK;
}

/* u takes dir_fd_take and the name it holds as its temp file, which is the
 * claimed name of leaf, now ours (renamed to, or created). */
static void take_claimed(xfer_upload_t *u, int dir_fd_take, const char *claimed, const char *leaf)
{
	u->dir_fd = dir_fd_take;
	snprintf(u->tmp, sizeof(u->tmp), "%s", claimed);
	snprintf(u->leaf, sizeof(u->leaf), "%s", leaf);
}

/* A claim of a regular file that cannot go on: it goes back under its
 * partial name, unless another session parked a newer partial there
 * meanwhile (that one stays, this one goes), so the claimed name never
 * outlives its claim in a live process, where it would answer 450 for good. */
static int unclaim(xfer_upload_t *u, const char *partial, const char *leaf, int rc)
{
	if (u->fd >= 0)
		close(u->fd);
	u->fd = -1;
	if (xfer_path_rename_new(u->dir_fd, u->tmp, u->dir_fd, partial) != 0 &&
	    (errno == EEXIST ? unlinkat(u->dir_fd, u->tmp, 0) : renameat(u->dir_fd, u->tmp, u->dir_fd, partial)) != 0)
		wf_log_warn("upload %s: could not put its partial back from %s: %s", leaf, u->tmp, strerror(errno));
	xfer_upload_discard(u);
	return rc;
}

int xfer_upload_claim(xfer_upload_t *u, int dir_fd_take, const char *leaf, const char *partial)
{
	char claimed[NAME_MAX + 1];
	int rc = xfer_path_claimed_name(leaf, claimed, sizeof(claimed));
	/* A rename to the one claimed name, never over it: no new inode (a
	 * file system out of them still resumes), and a second resumption of
	 * leaf finds the name taken (EEXIST) rather than nothing to resume. */
	if (rc != 0 || xfer_path_rename_new(dir_fd_take, partial, dir_fd_take, claimed) != 0) {
		rc = rc ? rc : -errno;
		close(dir_fd_take);
		return rc;
	}
	take_claimed(u, dir_fd_take, claimed, leaf);
	/* O_NONBLOCK: were the partial a FIFO, opening it would wait for a
	 * reader; now it fails, or the S_ISREG check below refuses it. */
	u->fd = openat(u->dir_fd, u->tmp, O_WRONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	struct stat st;
	if (u->fd < 0 || fstat(u->fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = u->fd < 0 ? -errno : -EINVAL;
		if (u->fd >= 0) {
			xfer_upload_discard(u); /* no file to resume: it goes */
			return rc;
		}
		return unclaim(u, partial, leaf, rc); /* still the partial it was */
	}
	u->written = u->synced = u->early_at = (uint64_t)st.st_size;
	/* In use from now: the sweep takes an old temp file for an orphan. */
	futimens(u->fd, NULL);
	if (lseek(u->fd, 0, SEEK_END) < 0)
		return unclaim(u, partial, leaf, -errno);
	return WF_OK;
}

int xfer_upload_open_claimed(xfer_upload_t *u, int dir_fd_take, const char *leaf)
{
	char claimed[NAME_MAX + 1];
	int rc = xfer_path_claimed_name(leaf, claimed, sizeof(claimed));
	int fd = rc ? -1 : openat(dir_fd_take, claimed, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = rc ? rc : -errno;
		close(dir_fd_take);
		return rc;
	}
	take_claimed(u, dir_fd_take, claimed, leaf);
	u->fd = fd;
	u->written = u->synced = u->early_at = 0;
	return WF_OK;
}

/* Whoever acts on a claimed name it judged an orphan (a recovery, the
 * sweep, RMD) holds this from the look to the act, so no two of them in
 * this process act on one: a session recovers a claimed name and claims
 * anew only after its recovery ended, so the name another one judged an
 * orphan cannot turn live under it. */
static pthread_mutex_t orphan_lock = PTHREAD_MUTEX_INITIALIZER;

static bool claimed_orphan(int dir_fd, const char *claimed, struct stat *st, time_t now, time_t orphan_age,
			   struct timespec started)
{
	return fstatat(dir_fd, claimed, st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       xfer_upload_tmp_orphan(st, now, orphan_age, started);
}

int xfer_upload_recover(int dir_fd, const char *leaf, time_t now, time_t orphan_age, struct timespec started)
{
	char claimed[NAME_MAX + 1], partial[NAME_MAX + 1];
	if (xfer_path_claimed_name(leaf, claimed, sizeof(claimed)) != 0 ||
	    xfer_path_partial_name(leaf, partial, sizeof(partial)) != 0)
		return -EINVAL;
	int rc = 0;
	struct stat st, pst;
	pthread_mutex_lock(&orphan_lock);
	if (!claimed_orphan(dir_fd, claimed, &st, now, orphan_age, started)) {
		rc = fstatat(dir_fd, claimed, &st, AT_SYMLINK_NOFOLLOW) == 0 ? -EBUSY : 0; /* live, or gone */
		goto out;
	}
	if (st.st_size == 0) { /* nothing kept: an empty partial would only make SIZE say 0 */
		rc = unlinkat(dir_fd, claimed, 0) == 0 ? 0 : -errno;
		goto out;
	}
	if (xfer_path_rename_new(dir_fd, claimed, dir_fd, partial) == 0) {
		rc = 1;
		goto out;
	}
	if (errno != EEXIST || fstatat(dir_fd, partial, &pst, AT_SYMLINK_NOFOLLOW) != 0) {
		rc = -errno;
		goto out;
	}
	/* A partial too (parked after the resumption began, or one name twice
	 * after a link-and-unlink rename cut short): the newer stays. */
	bool claimed_newer = st.st_ino != pst.st_ino && (st.st_mtim.tv_sec > pst.st_mtim.tv_sec ||
							 (st.st_mtim.tv_sec == pst.st_mtim.tv_sec &&
							  st.st_mtim.tv_nsec > pst.st_mtim.tv_nsec));
	if (claimed_newer)
		rc = renameat(dir_fd, claimed, dir_fd, partial) == 0 ? 1 : -errno;
	else
		rc = unlinkat(dir_fd, claimed, 0) == 0 ? 0 : -errno;
out:
	pthread_mutex_unlock(&orphan_lock);
	return rc;
}

bool xfer_upload_remove_orphan_claim(int dir_fd, const char *claimed, time_t now, time_t orphan_age,
				     struct timespec started)
{
	struct stat st;
	pthread_mutex_lock(&orphan_lock);
	bool gone = claimed_orphan(dir_fd, claimed, &st, now, orphan_age, started) && unlinkat(dir_fd, claimed, 0) == 0;
	pthread_mutex_unlock(&orphan_lock);
	return gone;
}

int xfer_upload_truncate(xfer_upload_t *u, uint64_t len)
{
	if (len > u->written || wf_buf_size(&u->stage))
		return -EINVAL;
	if (ftruncate(u->fd, (off_t)len) != 0 || lseek(u->fd, (off_t)len, SEEK_SET) < 0)
		return -errno;
	u->written = u->synced = u->early_at = len;
	return WF_OK;
}

int xfer_upload_copy_from(xfer_upload_t *u, int src_fd, uint64_t from, uint64_t len)
{
	if (len > (uint64_t)INT64_MAX || from > (uint64_t)INT64_MAX - len)
		return -EINVAL;
	off_t in = (off_t)from;
	while (len) {
		ssize_t n = copy_file_range(src_fd, &in, u->fd, NULL, len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO; /* the source shrank under us */
		len -= (uint64_t)n;
		u->written += (uint64_t)n;
	}
	/* Writeback of the copy starts here, where blocking is fine, rather
	 * than at the first write after it (flush_stage), on the loop. */
	if (u->written > u->synced)
		sync_file_range(u->fd, (off_t)u->synced, (off_t)(u->written - u->synced), SYNC_FILE_RANGE_WRITE);
	u->synced = u->written;
	return WF_OK;
}

/* Writes the stage; may_sync: more is coming, an early sync may start. */
static int flush_stage(xfer_upload_t *u, bool may_sync)
{
	const char *p = wf_buf_head(&u->stage);
	size_t len = wf_buf_size(&u->stage);
	while (len) {
		ssize_t w = write(u->fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			/* What went to the file leaves the stage: a later flush
			 * (a park once there is room) must not write it twice. */
			int err = errno;
			wf_buf_consume(&u->stage, (size_t)(p - wf_buf_head(&u->stage)));
			return -err;
		}
		p += w;
		len -= (size_t)w;
		u->written += (uint64_t)w;
	}
	wf_buf_reset(&u->stage);
	/* Writeback started early (asynchronous) leaves the final fsync little to do. */
	if (u->written - u->synced >= UPLOAD_WRITEBACK) {
		sync_file_range(u->fd, (off_t)u->synced, (off_t)(u->written - u->synced), SYNC_FILE_RANGE_WRITE);
		/* The window whose writeback began two windows ago is on disk by
		 * now: its pages leave the page cache, so a large upload keeps
		 * reusing a few MiB of recently freed memory instead of taking
		 * fresh pages for every byte. Fresh pages cost: 1 GiB FTPS uploads
		 * took 2.0-2.3 s of server CPU without this, 1.0 s with it. Pages
		 * still under writeback are skipped by the kernel, never waited for.
		 * The cost: reading the file right after its upload goes to disk. */
		if (u->synced >= 2 * UPLOAD_WRITEBACK)
			posix_fadvise(u->fd, (off_t)(u->synced - 2 * UPLOAD_WRITEBACK), UPLOAD_WRITEBACK,
				      POSIX_FADV_DONTNEED);
		u->synced = u->written;
	}
	if (may_sync && u->worker && !u->early && u->written - u->early_at >= UPLOAD_EARLY_SYNC)
		early_start(u);
	return WF_OK;
}

int xfer_upload_flush(xfer_upload_t *u)
{
	return flush_stage(u, false); /* the last bytes: the commit's fsync follows */
}

static time_t coarse_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts); /* the vDSO: no system call per read */
	return ts.tv_sec;
}

/* Bytes are about to be staged: the first after a flush starts the stage's
 * clock. The time the client's last byte came is noted for a park. It is
 * compared with file ctimes (xfer_partial_replaced), which the kernel may
 * take finer than CLOCK_REALTIME_COARSE and up to a tick ahead of it: a
 * coarse reading made a file written just before the upload look newer
 * than the partial, which was then dropped. The fine clock is a vDSO read
 * too, and errs the other way only for a file replaced within the same
 * tick as the cut. */
static void stage_begins(xfer_upload_t *u)
{
	if (wf_buf_size(&u->stage) == 0)
		u->staged_since = coarse_now();
	clock_gettime(CLOCK_REALTIME, &u->last_byte);
}

/* After staging: a full stage, or an old one, goes to the file. */
static int stage_settle(xfer_upload_t *u)
{
	size_t n = wf_buf_size(&u->stage);
	if (n >= u->stage_max || (n && coarse_now() - u->staged_since >= XFER_UPLOAD_STAGE_AGE))
		return flush_stage(u, true);
	return WF_OK;
}

int xfer_upload_write(xfer_upload_t *u, const void *data, size_t len)
{
	const char *p = data;
	while (len) {
		stage_begins(u);
		size_t room = u->stage_max - wf_buf_size(&u->stage);
		size_t take = len < room ? len : room;
		if (wf_buf_append(&u->stage, p, take) != WF_OK)
			abort(); /* the stage is sized by its own cap */
		p += take;
		len -= take;
		int rc = stage_settle(u);
		if (rc != WF_OK)
			return rc;
	}
	return WF_OK;
}

char *xfer_upload_space(xfer_upload_t *u, size_t *cap)
{
	/* Never full between calls: xfer_upload_wrote and _write flush a full
	 * stage at once, and a failed flush ends the upload. */
	*cap = u->stage_max - wf_buf_size(&u->stage);
	return wf_buf_reserve(&u->stage, *cap);
}

int xfer_upload_wrote(xfer_upload_t *u, size_t n)
{
	if (n)
		stage_begins(u);
	wf_buf_commit(&u->stage, n);
	return stage_settle(u);
}

/* Gives the temp file its final name: 0, or -1 with errno. With no_replace
 * an existing final name stays, and the answer is EEXIST. */
static int publish(const upload_commit_t *uc)
{
	/* The preconditions are checked here, the last moment before the
	 * change: a file replaced while the body came in fails them now.
	 * What is left between this lstat and the rename is a window of
	 * microseconds, which only an atomic compare-and-rename would close
	 * (Linux has none); no_replace closes it for If-None-Match: "*". */
	if (uc->cond) {
		struct stat st;
		bool there = fstatat(uc->dir_fd, uc->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
		if (!there && errno != ENOENT)
			return -1;
		if (!xfer_precond_holds(uc->cond, there ? &st : NULL)) {
			errno = XFER_PRECOND_REFUSED;
			return -1;
		}
	}
	if (uc->no_replace)
		return xfer_path_rename_new(uc->dir_fd, uc->tmp, uc->dir_fd, uc->leaf);
	return renameat(uc->dir_fd, uc->tmp, uc->dir_fd, uc->leaf);
}

/* A whole, durable file the final name did not take goes to park_as, as
 * an interrupted upload would, less its last byte (upload.h says why):
 * true when it is there. Its mtime is the client's last byte's, as a
 * park's (the cut moved it). */
static bool park_unpublished(upload_commit_t *uc)
{
	if (!uc->park_as[0] || (uc->no_replace && uc->err == EEXIST) || uc->err == XFER_PRECOND_REFUSED)
		return false;
	if (uc->out.size < 2)
		return false; /* an empty partial would only make SIZE say 0 */
	/* Through the commit's own descriptor: the mode keep_mode gave the
	 * file may not let it be opened for writing again (a 0444 file was
	 * to be replaced), and a partial is the server's file, not that one. */
	int err = 0;
	if (ftruncate(uc->fd, (off_t)(uc->out.size - 1)) != 0)
		err = errno;
	if (!err && uc->tmp_mode)
		fchmod(uc->fd, uc->tmp_mode);
	if (!err && uc->last_byte.tv_sec)
		futimens(uc->fd, (const struct timespec[2]){ { .tv_nsec = UTIME_OMIT }, uc->last_byte });
	if (!err && renameat(uc->dir_fd, uc->tmp, uc->dir_fd, uc->park_as) != 0)
		err = errno;
	uc->out.park_err = err;
	if (!err)
		uc->out.kept = uc->out.size - 1;
	return !err;
}

/* A file replaced keeps its permission bits: an upload that replaces a
 * script (0755) or a private file (0600) must not turn it into a 0644
 * one, as a write in place would not. The set-id and sticky bits are left
 * behind, as a write clears them. Before the fsync, which makes the mode
 * durable with the bytes; a rename that then fails leaves it on a file
 * nobody sees. */
static void keep_mode(upload_commit_t *uc)
{
	struct stat st, own;
	if (fstatat(uc->dir_fd, uc->leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    fstat(uc->fd, &own) == 0 && (own.st_mode & 07777) != (st.st_mode & 0777) &&
	    fchmod(uc->fd, st.st_mode & 0777) == 0)
		uc->tmp_mode = own.st_mode & 07777;
}

/* Durable before visible: the final name only ever holds a whole file. A
 * commit whose last write failed (err set already) only removes the temp
 * file, here too: it may hold gigabytes. So does one whose fsync failed:
 * the pages that did not reach the disk may be gone from the cache too,
 * so its bytes, and its size, cannot be trusted to resume from. */
static void commit_run(void *arg)
{
	upload_commit_t *uc = arg;
	uc->out.fail = uc->err ? XFER_UPLOAD_FAIL_WRITE : XFER_UPLOAD_FAIL_NONE;
	if (!uc->err)
		keep_mode(uc);
	if (!uc->err && fsync(uc->fd) != 0)
		uc->err = errno;
	if (uc->err && uc->out.fail == XFER_UPLOAD_FAIL_NONE)
		uc->out.fail = XFER_UPLOAD_FAIL_SYNC;
	/* Open until the end: a rename that fails parks the file through it. */
	if (!uc->err && publish(uc) != 0) {
		uc->err = errno;
		uc->out.fail = XFER_UPLOAD_FAIL_RENAME;
	}
	if (!uc->err)
		fsync(uc->dir_fd);
	else if (uc->out.fail != XFER_UPLOAD_FAIL_RENAME || !park_unpublished(uc))
		unlinkat(uc->dir_fd, uc->tmp, 0);
	close(uc->fd);
	uc->fd = -1;
	close(uc->dir_fd);
	uc->dir_fd = -1;
	xfer_file_hold_end(&uc->files); /* here, not when done runs: the client may be long gone */
}

static void commit_free(upload_commit_t *uc)
{
	xfer_file_hold_end(&uc->files);
	xfer_precond_free(uc->cond);
	free(uc);
}

static void commit_done(void *arg)
{
	upload_commit_t *uc = arg;
	if (uc->owner)
		uc->owner->outcome = uc->out;
	if (uc->done)
		uc->done(uc->arg, uc->err);
	else if (uc->err && uc->out.kept) /* no owner left to say it */
		wf_log_warn("upload of %s, whose client is gone, not stored: %s; its first %llu bytes kept for a resumption",
			    uc->leaf, strerror(uc->err), (unsigned long long)uc->out.kept);
	else if (uc->err)
		wf_log_warn("upload of %s, whose client is gone, not stored: %s; its %llu bytes dropped", uc->leaf,
			    strerror(uc->err), (unsigned long long)uc->out.size);
	commit_free(uc);
}

int xfer_upload_commit(xfer_upload_t *u, wf_worker_t *w, xfer_upload_done_fn done, void *arg, int *err)
{
	int rc = flush_stage(u, false); /* the commit's fsync is the last word */
	memset(&u->outcome, 0, sizeof(u->outcome));
	upload_commit_t *uc = calloc(1, sizeof(*uc));
	if (!uc) {
		*err = rc != WF_OK ? -rc : ENOMEM;
		u->outcome.fail = XFER_UPLOAD_FAIL_WRITE; /* nothing left to commit with: the file goes */
		u->outcome.size = u->written;
		xfer_upload_discard(u);
		return WF_DONE;
	}
	uc->err = rc != WF_OK ? -rc : 0; /* the last write failed (disk full): the temp file only goes */
	early_forget(u); /* the commit's fsync covers whatever it has not done */
	uc->done = done;
	uc->arg = arg;
	uc->fd = u->fd;
	uc->dir_fd = u->dir_fd;
	memcpy(uc->tmp, u->tmp, sizeof(uc->tmp));
	memcpy(uc->leaf, u->leaf, sizeof(uc->leaf));
	uc->no_replace = u->no_replace;
	uc->cond = u->cond;
	u->cond = NULL;
	memcpy(uc->park_as, u->park_as, sizeof(uc->park_as));
	uc->last_byte = u->last_byte;
	uc->out.size = u->written;
	uc->owner = u;
	xfer_file_hold_move(&uc->files, &u->files);
	u->fd = u->dir_fd = -1; /* the commit owns them now */
	if (w && wf_offload_submit(w, commit_run, commit_done, uc) == WF_OK) {
		u->commit = uc;
		return WF_OK;
	}
	commit_run(uc);
	*err = uc->err;
	u->outcome = uc->out;
	commit_free(uc);
	return WF_DONE;
}

void xfer_upload_detach(xfer_upload_t *u)
{
	if (u->commit) {
		u->commit->done = NULL;
		u->commit->owner = NULL;
		u->commit = NULL;
	}
}

int xfer_upload_park(xfer_upload_t *u, const char *name)
{
	early_forget(u);
	/* The staged tail may not fit (a full disk): the partial then keeps the
	 * u->written bytes written before it (a failed write(2) adds none), not
	 * nothing. */
	int tail = flush_stage(u, false);
	u->tail_err = tail < 0 ? -tail : 0;
	/* Its mtime says when the client's last byte came, not when the tail
	 * was flushed here: a file stored under the name between the two (the
	 * client reconnected and sent it whole) is newer than this partial,
	 * which xfer_partial_replaced then drops. */
	if (u->last_byte.tv_sec)
		futimens(u->fd, (const struct timespec[2]){ { .tv_nsec = UTIME_OMIT }, u->last_byte });
	if (renameat(u->dir_fd, u->tmp, u->dir_fd, name) != 0)
		return -errno; /* the temp file stays u's: its owner removes it, off the loop */
	close(u->fd);
	close(u->dir_fd);
	u->fd = u->dir_fd = -1;
	xfer_file_hold_end(&u->files);
	wf_buf_reset(&u->stage);
	return WF_OK;
}

void xfer_upload_discard(xfer_upload_t *u)
{
	early_forget(u);
	if (u->fd >= 0) {
		close(u->fd);
		u->fd = -1;
		unlinkat(u->dir_fd, u->tmp, 0);
	}
	if (u->dir_fd >= 0) {
		close(u->dir_fd);
		u->dir_fd = -1;
	}
	xfer_file_hold_end(&u->files);
	wf_buf_reset(&u->stage);
}

int xfer_upload_release(xfer_upload_t *u)
{
	early_forget(u);
	wf_buf_reset(&u->stage);
	if (u->fd < 0) {
		if (u->dir_fd >= 0)
			close(u->dir_fd);
		u->dir_fd = -1;
		return -1;
	}
	close(u->fd);
	int dir_fd = u->dir_fd;
	u->fd = u->dir_fd = -1;
	return dir_fd;
}

void xfer_upload_fini(xfer_upload_t *u)
{
	xfer_upload_detach(u);
	xfer_upload_discard(u);
	xfer_precond_free(u->cond);
	u->cond = NULL;
	wf_buf_fini(&u->stage);
}
