/* A folder's listing off the loop: see listing_job.h. */
#include "listing_job.h"

#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

/* Names read per step: a few milliseconds of readdir and stat (fs_job.c
 * says why a step is short). */
#define LISTING_STEP 4096

typedef struct listing_work {
	int dir_fd;               /* owned: the folder, until dir reads it afresh; or -1 */
	DIR *dir;                 /* owned: the folder being read, or NULL */
	xfer_listing_t *listing;  /* owned until taken: what was read so far */
	bool sorted;              /* the folder was read to its end, then sorted and measured */
} listing_work_t;

/* On a pool thread (or inline): up to LISTING_STEP more entries; the last
 * step sorts them and measures the page. */
static int listing_step(void *state, bool *more)
{
	listing_work_t *w = state;
	if (w->dir_fd >= 0) {
		w->dir = xfer_listing_open(w->dir_fd);
		int err = errno;
		close(w->dir_fd);
		w->dir_fd = -1;
		if (!w->dir)
			return err ? err : EIO;
	}
	errno = 0;
	int rc = xfer_listing_add(w->listing, w->dir, LISTING_STEP);
	if (rc == WF_AGAIN) {
		*more = true;
		return 0;
	}
	if (rc == WF_ERR)
		return errno ? errno : ENOMEM;
	closedir(w->dir);
	w->dir = NULL;
	if (xfer_listing_sort(w->listing) != WF_OK)
		return ENOMEM;
	w->sorted = true;
	return 0;
}

/* On the loop, or on a pool thread for a job let go of. */
static void listing_drop(void *state)
{
	listing_work_t *w = state;
	if (w->dir)
		closedir(w->dir);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	xfer_listing_free(w->listing);
	free(w);
}

static const xfer_fs_job_ops_t listing_ops = { listing_step, listing_drop };

xfer_fs_job_t *xfer_listing_job(int dir_fd_take, const char *url_path, xfer_listing_format_t fmt)
{
	listing_work_t *w = calloc(1, sizeof(*w));
	if (!w) {
		close(dir_fd_take);
		return NULL;
	}
	w->dir_fd = dir_fd_take;
	w->listing = xfer_listing_new(url_path, fmt);
	if (!w->listing) {
		listing_drop(w);
		return NULL;
	}
	return xfer_fs_job_custom(&listing_ops, w);
}

xfer_listing_t *xfer_listing_job_take(xfer_fs_job_t *j)
{
	listing_work_t *w = xfer_fs_job_state(j, &listing_ops);
	if (!w || !w->sorted)
		return NULL;
	xfer_listing_t *l = w->listing;
	w->listing = NULL;
	return l;
}
