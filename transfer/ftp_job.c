/* FTP jobs off the loop: see ftp_job.h. */
#include "ftp_job.h"
#include "path.h"
#include "../server/offload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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
	/* JOB_COPY */
	xfer_upload_t *up;         /* owned until taken */
	int src_fd;                /* owned: the file whose head is kept, or -1 */
	uint64_t len;
	uint64_t copied;
};

static xfer_ftp_job_t *job_new(job_kind_t kind)
{
	xfer_ftp_job_t *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->kind = kind;
	atomic_init(&j->cancelled, false);
	j->dir_fd = j->src_fd = -1;
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

/* One step, on a pool thread: touches only what the job owns. */
static void job_step(void *arg)
{
	xfer_ftp_job_t *j = arg;
	j->more = false;
	if (atomic_load_explicit(&j->cancelled, memory_order_relaxed)) {
		j->err = ECANCELED;
		return;
	}
	if (j->kind == JOB_LISTING)
		listing_step(j);
	else
		copy_step(j);
}

/* Back on the worker's loop after a step: the next one, or the end. */
static void job_stepped(void *arg)
{
	xfer_ftp_job_t *j = arg;
	if (!j->done) {
		xfer_ftp_job_free(j); /* cancelled: nobody waits */
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

void xfer_ftp_job_cancel(xfer_ftp_job_t *j)
{
	j->done = NULL;
	atomic_store_explicit(&j->cancelled, true, memory_order_relaxed);
}

int xfer_ftp_job_err(const xfer_ftp_job_t *j)
{
	return j->err;
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
	if (j->dir)
		closedir(j->dir);
	else if (j->dir_fd >= 0)
		close(j->dir_fd);
	if (j->out) {
		wf_buf_fini(j->out);
		free(j->out);
	}
	if (j->up) {
		xfer_upload_fini(j->up); /* its temp file goes */
		free(j->up);
	}
	free(j);
}
