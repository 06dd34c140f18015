/* FTP jobs off the loop: see ftp_job.h. */
#include "ftp_job.h"
#include "partial_sweep.h"
#include "path.h"
#include "../server/offload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* A job runs in steps of a few tens of milliseconds, each one a task of
 * its own on the pool, with a pass through the worker's loop in between:
 * the pool has two threads for every worker's password checks and upload
 * commits, and a copy of gigabytes done at once would hold one for seconds
 * (two such copies, both). A cancel takes effect at the next step. */
#define COPY_STEP (16u << 20)  /* bytes */
#define LISTING_STEP 4096      /* folder entries */

typedef enum job_kind {
	JOB_LISTING,
	JOB_COPY,
	JOB_TRUNCATE,
	JOB_DELETE,
	JOB_RMDIR,
	JOB_MKDIR,
	JOB_RENAME,
} job_kind_t;

struct xfer_ftp_job {
	job_kind_t kind;
	atomic_bool cancelled;     /* set on the loop, read by the steps */
	xfer_ftp_job_done_fn done; /* NULL until started, and once cancelled */
	void *arg;
	wf_worker_t *worker;       /* borrowed: whose loop each step comes back to */
	bool more;                 /* the last step left work for another */
	int err;
	/* JOB_LISTING */
	int dir_fd;                /* owned: the folder, until dir has it */
	DIR *dir;                  /* owned: the folder being read, or NULL */
	size_t listed;
	xfer_ftp_list_style_t style;
	size_t max_entries;
	wf_buf_t *out;             /* owned until taken */
	/* JOB_COPY, JOB_TRUNCATE */
	xfer_upload_t *up;         /* owned until taken */
	int src_fd;                /* owned: the file whose head is kept, or -1 */
	uint64_t len;              /* bytes to copy, or to cut to */
	uint64_t copied;
	char park_as[NAME_MAX + 1]; /* JOB_TRUNCATE: where an upload never taken back goes */
	/* JOB_DELETE, JOB_RMDIR, JOB_MKDIR, JOB_RENAME: dir_fd (owned) and leaf,
	 * and for a rename, to_fd (owned) and to_leaf */
	int to_fd;
	char leaf[NAME_MAX + 1], to_leaf[NAME_MAX + 1];
	char partial[NAME_MAX + 1]; /* JOB_DELETE: the partial of leaf (or the name removed), or "" */
	int partial_max_age;
	bool stale_only;           /* JOB_DELETE: the partial goes only if it is stale */
	bool sync;                 /* JOB_DELETE: the folder is fsynced once changed (DELE's reply waits for it) */
	bool no_replace;           /* JOB_RENAME */
	xfer_ftp_partial_fate_t partial_fate;
};

static xfer_ftp_job_t *job_new(job_kind_t kind)
{
	xfer_ftp_job_t *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->kind = kind;
	atomic_init(&j->cancelled, false);
	j->dir_fd = j->src_fd = j->to_fd = -1;
	return j;
}

xfer_ftp_job_t *xfer_ftp_job_listing(int dir_fd_take, const xfer_ftp_list_style_t *style, wf_buf_t *out_take,
				     size_t max_entries)
{
	xfer_ftp_job_t *j = job_new(JOB_LISTING);
	if (!j) {
		close(dir_fd_take);
		wf_buf_fini(out_take);
		free(out_take);
		return NULL;
	}
	j->dir_fd = dir_fd_take;
	j->style = *style;
	j->out = out_take;
	j->max_entries = max_entries;
	return j;
}

xfer_ftp_job_t *xfer_ftp_job_copy(xfer_upload_t *up_take, int src_fd_take, uint64_t len)
{
	xfer_ftp_job_t *j = job_new(JOB_COPY);
	if (!j) {
		close(src_fd_take);
		xfer_upload_fini(up_take);
		free(up_take);
		return NULL;
	}
	j->up = up_take;
	j->src_fd = src_fd_take;
	j->len = len;
	return j;
}

xfer_ftp_job_t *xfer_ftp_job_truncate(xfer_upload_t *up_take, uint64_t len, const char *park_as)
{
	xfer_ftp_job_t *j = job_new(JOB_TRUNCATE);
	if (!j) {
		xfer_upload_park(up_take, park_as);
		xfer_upload_fini(up_take);
		free(up_take);
		return NULL;
	}
	j->up = up_take;
	j->len = len;
	snprintf(j->park_as, sizeof(j->park_as), "%s", park_as);
	return j;
}

/* A change of the tree in the folder dir_fd_take (taken: closed on failure). */
static xfer_ftp_job_t *change_new(job_kind_t kind, int dir_fd_take, const char *leaf)
{
	xfer_ftp_job_t *j = job_new(kind);
	if (!j) {
		close(dir_fd_take);
		return NULL;
	}
	j->dir_fd = dir_fd_take;
	snprintf(j->leaf, sizeof(j->leaf), "%s", leaf);
	return j;
}

xfer_ftp_job_t *xfer_ftp_job_delete(int dir_fd_take, const char *leaf, const char *partial, int partial_max_age)
{
	xfer_ftp_job_t *j = change_new(JOB_DELETE, dir_fd_take, leaf);
	if (j) {
		snprintf(j->partial, sizeof(j->partial), "%s", partial);
		j->partial_max_age = partial_max_age;
		j->sync = true;
	}
	return j;
}

/* DELE's job with no leaf: only its partial's removal, and no fsync. */
xfer_ftp_job_t *xfer_ftp_job_remove(int dir_fd_take, const char *name, int max_age, bool stale_only)
{
	xfer_ftp_job_t *j = change_new(JOB_DELETE, dir_fd_take, "");
	if (j) {
		snprintf(j->partial, sizeof(j->partial), "%s", name);
		j->partial_max_age = max_age;
		j->stale_only = stale_only;
	}
	return j;
}

xfer_ftp_job_t *xfer_ftp_job_rmdir(int dir_fd_take, const char *leaf)
{
	return change_new(JOB_RMDIR, dir_fd_take, leaf);
}

xfer_ftp_job_t *xfer_ftp_job_mkdir(int dir_fd_take, const char *leaf)
{
	return change_new(JOB_MKDIR, dir_fd_take, leaf);
}

xfer_ftp_job_t *xfer_ftp_job_rename(int from_fd_take, const char *from, int to_fd_take, const char *to,
				    bool no_replace)
{
	xfer_ftp_job_t *j = change_new(JOB_RENAME, from_fd_take, from);
	if (!j) {
		close(to_fd_take);
		return NULL;
	}
	j->to_fd = to_fd_take;
	snprintf(j->to_leaf, sizeof(j->to_leaf), "%s", to);
	j->no_replace = no_replace;
	return j;
}

/* Up to LISTING_STEP of the folder's entries, in the order readdir gives them. */
static void listing_step(xfer_ftp_job_t *j)
{
	if (!j->dir) {
		j->dir = fdopendir(j->dir_fd);
		if (!j->dir) {
			j->err = errno;
			return;
		}
		j->dir_fd = -1; /* the DIR has it */
	}
	for (size_t step = 0; step < LISTING_STEP; step++) {
		struct dirent *de;
		if (j->listed >= j->max_entries || !(de = readdir(j->dir)))
			return;
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0 || xfer_path_is_hidden(de->d_name))
			continue;
		struct stat st;
		if (fstatat(dirfd(j->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* gone meanwhile */
		if (xfer_ftp_list_entry(j->out, &j->style, de->d_name, &st) != WF_OK)
			return; /* the listing's cap: what fits is sent */
		j->listed++;
	}
	j->more = true;
}

static void copy_step(xfer_ftp_job_t *j)
{
	uint64_t n = j->len - j->copied < COPY_STEP ? j->len - j->copied : COPY_STEP;
	int rc = xfer_upload_copy_from(j->up, j->src_fd, j->copied, n);
	if (rc != WF_OK) {
		j->err = -rc;
		return;
	}
	j->copied += n;
	j->more = j->copied < j->len;
}

/* DELE: leaf, then its partial; the folder's fsync when either went. A
 * removal: the partial (or temp file) alone, stale or not, no fsync. */
static void delete_run(xfer_ftp_job_t *j)
{
	struct stat st;
	if (!j->leaf[0]) {
		/* a removal: no file of the user's */
	} else if (fstatat(j->dir_fd, j->leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		j->err = errno;
	} else if (S_ISDIR(st.st_mode)) {
		j->err = EISDIR; /* a folder is RMD's: not even its name's partial goes */
		return;
	} else if (unlinkat(j->dir_fd, j->leaf, 0) != 0) {
		j->err = errno;
	}
	bool changed = j->leaf[0] && j->err == 0;
	if (j->partial[0]) {
		bool stale = j->partial_max_age > 0 && fstatat(j->dir_fd, j->partial, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
			     xfer_partial_stale(&st, time(NULL), j->partial_max_age);
		if ((stale || !j->stale_only) && unlinkat(j->dir_fd, j->partial, 0) == 0) {
			j->partial_fate = stale ? XFER_FTP_PARTIAL_STALE : XFER_FTP_PARTIAL_REMOVED;
			changed = true;
		}
	}
	if (changed && j->sync)
		fsync(j->dir_fd);
}

/* RMD, MKD, RNTO: the change, then the fsync of the folder(s) it changed. */
static void change_run(xfer_ftp_job_t *j)
{
	int rc;
	if (j->kind == JOB_RMDIR)
		rc = unlinkat(j->dir_fd, j->leaf, AT_REMOVEDIR);
	else if (j->kind == JOB_MKDIR)
		rc = mkdirat(j->dir_fd, j->leaf, 0755);
	else if (j->no_replace)
		rc = xfer_path_rename_new(j->dir_fd, j->leaf, j->to_fd, j->to_leaf);
	else
		rc = renameat(j->dir_fd, j->leaf, j->to_fd, j->to_leaf);
	if (rc != 0) {
		j->err = errno;
		return;
	}
	if (j->kind == JOB_RENAME)
		fsync(j->to_fd);
	fsync(j->dir_fd);
}

/* One step, on a pool thread: touches only what the job owns. */
static void job_step(void *arg)
{
	xfer_ftp_job_t *j = arg;
	j->more = false;
	if (atomic_load_explicit(&j->cancelled, memory_order_relaxed)) {
		j->err = ECANCELED;
		return;
	}
	switch (j->kind) {
	case JOB_LISTING:
		listing_step(j);
		break;
	case JOB_COPY:
		copy_step(j);
		break;
	case JOB_TRUNCATE:
		j->err = -xfer_upload_truncate(j->up, j->len);
		break;
	case JOB_DELETE:
		delete_run(j);
		break;
	case JOB_RMDIR:
	case JOB_MKDIR:
	case JOB_RENAME:
		change_run(j);
		break;
	}
}

/* On a pool thread: a job nobody waits for any more drops what it holds
 * there (a copy's temp file may be gigabytes to free). */
static void job_free_detached(void *arg)
{
	xfer_ftp_job_free(arg);
}

/* Back on the worker's loop after a step: the next one, or the end. */
static void job_stepped(void *arg)
{
	xfer_ftp_job_t *j = arg;
	if (!j->done) {
		/* cancelled: nobody waits */
		if (wf_offload_submit(NULL, job_free_detached, NULL, j) != WF_OK)
			xfer_ftp_job_free(j);
		return;
	}
	if (j->more && !j->err) {
		if (wf_offload_submit(j->worker, job_step, job_stepped, j) == WF_OK)
			return;
		j->err = EAGAIN; /* the pool stopped under it */
	}
	j->done(j->arg, j);
}

int xfer_ftp_job_start(xfer_ftp_job_t *j, wf_worker_t *w, xfer_ftp_job_done_fn done, void *arg)
{
	j->done = done;
	j->arg = arg;
	j->worker = w;
	if (w && wf_offload_submit(w, job_step, job_stepped, j) == WF_OK)
		return WF_OK;
	j->done = NULL;
	do
		job_step(j);
	while (j->more && !j->err);
	return WF_DONE;
}

/* On a pool thread (or inline): the whole job, then its end. */
static void job_run_detached(void *arg)
{
	xfer_ftp_job_t *j = arg;
	do
		job_step(j);
	while (j->more && !j->err);
	xfer_ftp_job_free(j);
}

void xfer_ftp_job_start_detached(xfer_ftp_job_t *j)
{
	j->done = NULL;
	if (wf_offload_submit(NULL, job_run_detached, NULL, j) != WF_OK)
		job_run_detached(j);
}

void xfer_ftp_job_drop_upload(xfer_upload_t *up_take)
{
	/* An empty temp file frees nothing: it goes here and now. */
	xfer_ftp_job_t *j = up_take->fd >= 0 && up_take->written > 0 ? job_new(JOB_DELETE) : NULL;
	if (j) {
		snprintf(j->partial, sizeof(j->partial), "%s", up_take->tmp);
		j->dir_fd = xfer_upload_release(up_take);
		xfer_ftp_job_start_detached(j);
	}
	xfer_upload_fini(up_take); /* what is left: an empty temp file, or all of it without a job */
	free(up_take);
}

void xfer_ftp_job_cancel(xfer_ftp_job_t *j)
{
	j->done = NULL;
	atomic_store_explicit(&j->cancelled, true, memory_order_relaxed);
}

int xfer_ftp_job_err(const xfer_ftp_job_t *j)
{
	return j->err;
}

xfer_ftp_partial_fate_t xfer_ftp_job_partial(const xfer_ftp_job_t *j)
{
	return j->partial_fate;
}

wf_buf_t *xfer_ftp_job_take_listing(xfer_ftp_job_t *j)
{
	wf_buf_t *out = j->out;
	j->out = NULL;
	return out;
}

xfer_upload_t *xfer_ftp_job_take_upload(xfer_ftp_job_t *j)
{
	xfer_upload_t *up = j->up;
	j->up = NULL;
	return up;
}

void xfer_ftp_job_free(xfer_ftp_job_t *j)
{
	if (!j)
		return;
	if (j->src_fd >= 0)
		close(j->src_fd);
	if (j->to_fd >= 0)
		close(j->to_fd);
	if (j->dir)
		closedir(j->dir);
	else if (j->dir_fd >= 0)
		close(j->dir_fd);
	if (j->out) {
		wf_buf_fini(j->out);
		free(j->out);
	}
	if (j->up) {
		/* A copy's temp file goes; a claimed partial is parked again. This
		 * may run on a pool thread (a cancelled job): safe, as an upload
		 * in a job has no early sync for the loop to track (none starts
		 * before bytes are staged, and a job's upload has staged none). */
		if (j->up->early)
			abort(); /* an upload handed to a job while an early sync ran */
		if (j->kind == JOB_TRUNCATE)
			xfer_upload_park(j->up, j->park_as);
		xfer_upload_fini(j->up);
		free(j->up);
	}
	free(j);
}
