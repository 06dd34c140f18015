/* A folder's listing off the loop: see listing_job.h. */
#include "listing_job.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

/* Names read per step: a few milliseconds of readdir and stat (fs_job.c
 * says why a step is short). */
#define LISTING_STEP 4096

typedef struct listing_work {
	int dir_fd;               /* owned: the folder, until dir reads it afresh; or -1 */
	int home_fd;              /* owned: a duplicate of the home's, where links resolve; or -1 */
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
		/* The folder's own fd first: a fresh open of "." beneath it needs
		 * search permission, which a folder the server may read but not
		 * search (r--) does not give, while readdir needs only read. An
		 * O_PATH fd (fdopendir refuses it) takes the fresh open. */
		w->dir = fdopendir(w->dir_fd);
		if (w->dir) {
			rewinddir(w->dir); /* a dup'ed fd may share an offset moved elsewhere */
			w->dir_fd = -1;    /* the DIR has it */
		} else {
			w->dir = xfer_listing_open(w->dir_fd);
			int err = errno;
			close(w->dir_fd);
			w->dir_fd = -1;
			if (!w->dir)
				return err ? err : EIO;
		}
	}
	errno = 0;
	int rc = xfer_listing_add(w->listing, w->dir, w->home_fd, LISTING_STEP);
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

/* On the loop, a job let go of too (quick: it closes and frees). */
static void listing_drop(void *state)
{
	listing_work_t *w = state;
	if (w->dir)
		closedir(w->dir);
	if (w->dir_fd >= 0)
		close(w->dir_fd);
	if (w->home_fd >= 0)
		close(w->home_fd);
	xfer_listing_free(w->listing); /* and its count against the budget */
	free(w);
}

static const xfer_fs_job_ops_t listing_ops = { listing_step, listing_drop, .drop_quick = true };

xfer_fs_job_t *xfer_listing_job(int dir_fd_take, int home_fd, const char *url_path, xfer_listing_format_t fmt,
				unsigned tools, xfer_listing_hold_t *hold_take)
{
	listing_work_t *w = calloc(1, sizeof(*w));
	if (w)
		w->listing = xfer_listing_new(url_path, fmt, tools);
	if (!w || !w->listing) {
		free(w);
		xfer_listing_hold_end(hold_take);
		close(dir_fd_take);
		errno = ENOMEM;
		return NULL;
	}
	xfer_listing_count(w->listing, hold_take);
	w->dir_fd = dir_fd_take;
	/* The job's own: a cancelled job may run a step after the session,
	 * and the config that holds the home's, is gone. */
	w->home_fd = home_fd >= 0 ? fcntl(home_fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (home_fd >= 0 && w->home_fd < 0) {
		int err = errno;
		listing_drop(w);
		errno = err;
		return NULL;
	}
	xfer_fs_job_t *j = xfer_fs_job_custom(&listing_ops, w); /* drops w when NULL */
	if (!j)
		errno = ENOMEM;
	return j;
}

xfer_listing_refusal_t xfer_listing_job_refused(xfer_fs_job_t *j)
{
	listing_work_t *w = xfer_fs_job_state(j, &listing_ops);
	return w && w->listing ? xfer_listing_refused(w->listing) : XFER_LISTING_GRANTED;
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
