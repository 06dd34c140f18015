/* FTP's own file system jobs off the loop: see ftp_job.h. */
#include "ftp_job.h"
#include "ftp_glob.h"
#include "listing_budget.h"
#include "listing_link.h"
#include "path.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A step takes a few tens of milliseconds (fs_job.c says why). */
#define COPY_STEP (16u << 20)  /* bytes */
#define LISTING_STEP 4096      /* folder entries */

/* A folder's listing. */
typedef struct listing {
	int dir_fd;                /* owned: the folder, until dir has it */
	DIR *dir;                  /* owned: the folder being read, or NULL */
	int home_fd;               /* owned: a duplicate of the home's, where links resolve; or -1 */
	char *dir_rel;             /* owned: the folder beneath the home */
	xfer_listing_links_t links; /* over home_fd and dir_rel */
	size_t listed;
	xfer_ftp_list_style_t style;
	size_t max_entries;
	bool cut;                  /* entries were left out (max_entries, or out's cap) */
	xfer_listing_refusal_t refused; /* the budget stopped it (ENOBUFS), or GRANTED */
	char *what;                /* owned: the caller's name of the folder, or NULL */
	wf_buf_t *out;             /* owned until taken: an xfer_ftp_listing_buf */
	char *pattern;             /* owned: only the entries it matches are listed (ftp_glob.h), or NULL */
	char *named;               /* owned: NAMES with a prefix: room for it and one name, the prefix in front; or NULL */
	size_t prefix_len;
} listing_t;

/* A listing's lines with their count against the listings' budget. */
typedef struct listing_buf {
	wf_buf_t buf; /* first: the wf_buf_t handed out is the whole */
	xfer_listing_hold_t hold;
} listing_buf_t;

static listing_buf_t *buf_of(wf_buf_t *b)
{
	return (listing_buf_t *)b;
}

wf_buf_t *xfer_ftp_listing_buf(size_t cap, xfer_listing_hold_t *hold_take)
{
	listing_buf_t *lb = calloc(1, sizeof(*lb));
	if (!lb) {
		if (hold_take)
			xfer_listing_hold_end(hold_take);
		return NULL;
	}
	wf_buf_init(&lb->buf, cap);
	if (hold_take) {
		lb->hold = *hold_take;
		memset(hold_take, 0, sizeof(*hold_take));
	}
	return &lb->buf;
}

void xfer_ftp_listing_count(wf_buf_t *b, xfer_listing_hold_t *hold_take)
{
	listing_buf_t *lb = buf_of(b);
	xfer_listing_hold_end(&lb->hold);
	lb->hold = *hold_take;
	memset(hold_take, 0, sizeof(*hold_take));
}

void xfer_ftp_listing_free(wf_buf_t *b)
{
	if (!b)
		return;
	listing_buf_t *lb = buf_of(b);
	xfer_listing_hold_end(&lb->hold);
	wf_buf_fini(&lb->buf);
	free(lb);
}

/* The budget's count brought up to the lines held: false (l->refused
 * says why) when they may not be that many. */
static bool charge(listing_t *l)
{
	listing_buf_t *lb = buf_of(l->out);
	if (!lb->hold.addr[0])
		return true;
	l->refused = xfer_listing_hold_set(&lb->hold, lb->buf.cap); /* as listing.c: the lines alone */
	if (l->refused == XFER_LISTING_GRANTED)
		return true;
	xfer_listing_refusal_log(l->refused, "FTPS", lb->hold.addr, lb->hold.budget);
	return false;
}

static bool listed_name(const char *name)
{
	return strcmp(name, ".") != 0 && strcmp(name, "..") != 0 && !xfer_path_is_reserved(name) &&
	       xfer_ftp_list_name_ok(name); /* counted only when listed */
}

/* A copy of a file's head into an upload, or an upload's cut. */
typedef struct upload_work {
	xfer_upload_t *up;         /* owned until taken */
	int src_fd;                /* owned: the file whose head is kept, or -1 */
	uint64_t len;              /* bytes to copy, or to cut to */
	uint64_t copied;
	char park_as[NAME_MAX + 1]; /* a cut: where an upload never taken back goes; "" for a copy */
} upload_work_t;

/* Up to LISTING_STEP of the folder's entries, in the order readdir gives
 * them; then their lines are counted against the budget. */
static int listing_step(void *state, bool *more)
{
	listing_t *l = state;
	if (!l->dir) {
		l->dir = fdopendir(l->dir_fd);
		if (!l->dir)
			return errno;
		l->dir_fd = -1; /* the DIR has it */
	}
	bool done = false;
	for (size_t step = 0; step < LISTING_STEP && !done; step++) {
		struct dirent *de = readdir(l->dir);
		if (!de) {
			done = true;
			break;
		}
		if (!listed_name(de->d_name))
			continue;
		if (l->pattern && !xfer_ftp_glob_match((wf_slice_t){ l->pattern, strlen(l->pattern) },
						       (wf_slice_t){ de->d_name, strlen(de->d_name) }))
			continue;
		if (l->listed >= l->max_entries) {
			l->cut = true; /* one more to list: the reply says the listing is not whole */
			done = true;
			break;
		}
		struct stat st;
		if (fstatat(dirfd(l->dir), de->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0)
			continue; /* gone meanwhile */
		/* A link lists as what RETR, SIZE, MLST and CWD take it for: a
		 * mirror (lftp, rclone) copies only what its listing calls a
		 * file or a folder. NLST shows names alone. */
		if (l->style.kind != XFER_FTP_LIST_NAMES)
			xfer_listing_links_follow(&l->links, de->d_name, &st);
		const char *name = de->d_name;
		if (l->named) {
			snprintf(l->named + l->prefix_len, NAME_MAX + 1, "%s", de->d_name);
			name = l->named;
		}
		if (xfer_ftp_list_entry(l->out, &l->style, name, &st) != WF_OK) {
			l->cut = true; /* the listing's cap: what fits is sent */
			done = true;
			break;
		}
		l->listed++;
	}
	if (!charge(l))
		return ENOBUFS;
	if (done)
		xfer_listing_hold_built(&buf_of(l->out)->hold); /* its lines stay counted until freed */
	*more = !done;
	return 0;
}

static void listing_drop(void *state)
{
	listing_t *l = state;
	if (l->dir)
		closedir(l->dir);
	else if (l->dir_fd >= 0)
		close(l->dir_fd);
	xfer_listing_links_fini(&l->links);
	if (l->home_fd >= 0)
		close(l->home_fd);
	free(l->dir_rel);
	free(l->what);
	free(l->pattern);
	free(l->named);
	xfer_ftp_listing_free(l->out);
	free(l);
}

static const xfer_fs_job_ops_t listing_ops = { listing_step, listing_drop, .drop_quick = true };

static int copy_step(void *state, bool *more)
{
	upload_work_t *w = state;
	uint64_t n = w->len - w->copied < COPY_STEP ? w->len - w->copied : COPY_STEP;
	int rc = xfer_upload_copy_from(w->up, w->src_fd, w->copied, n);
	if (rc != WF_OK)
		return -rc;
	w->copied += n;
	*more = w->copied < w->len;
	return 0;
}

static int truncate_step(void *state, bool *more)
{
	upload_work_t *w = state;
	(void)more;
	return -xfer_upload_truncate(w->up, w->len);
}

static void upload_work_drop(void *state)
{
	upload_work_t *w = state;
	if (w->src_fd >= 0)
		close(w->src_fd);
	if (w->up) {
		/* A copy's temp file goes; a claimed partial is parked again. This
		 * may run on a pool thread (a cancelled job): safe, as an upload
		 * in a job has no early sync for the loop to track (none starts
		 * before bytes are staged, and a job's upload has staged none). */
		if (w->up->early)
			abort(); /* an upload handed to a job while an early sync ran */
		if (w->park_as[0])
			xfer_upload_park(w->up, w->park_as);
		xfer_upload_fini(w->up);
		free(w->up);
	}
	free(w);
}

/* Not quick: a copy's temp file, or a cut upload its park failed for, is
 * removed, and may be gigabytes. */
static const xfer_fs_job_ops_t copy_ops = { copy_step, upload_work_drop, .drop_quick = false };
static const xfer_fs_job_ops_t truncate_ops = { truncate_step, upload_work_drop, .drop_quick = false };

/* A claimed name a dead process left, put back as its partial. */
typedef struct recover_work {
	int dir_fd;                /* owned */
	char leaf[NAME_MAX + 1];
	time_t orphan_age;
	struct timespec started;
	int got;                   /* xfer_upload_recover's answer */
} recover_work_t;

static int recover_step(void *state, bool *more)
{
	recover_work_t *w = state;
	(void)more;
	w->got = xfer_upload_recover(w->dir_fd, w->leaf, time(NULL), w->orphan_age, w->started);
	return w->got < 0 && w->got != -EBUSY ? -w->got : 0;
}

static void recover_drop(void *state)
{
	recover_work_t *w = state;
	close(w->dir_fd);
	free(w);
}

static const xfer_fs_job_ops_t recover_ops = { recover_step, recover_drop, .drop_quick = true };

xfer_fs_job_t *xfer_ftp_job_recover(int dir_fd_take, const char *leaf, time_t orphan_age, struct timespec started)
{
	recover_work_t *w = calloc(1, sizeof(*w));
	if (!w) {
		close(dir_fd_take);
		return NULL;
	}
	w->dir_fd = dir_fd_take;
	w->orphan_age = orphan_age;
	w->started = started;
	snprintf(w->leaf, sizeof(w->leaf), "%s", leaf);
	return xfer_fs_job_custom(&recover_ops, w);
}

bool xfer_ftp_job_recovered(xfer_fs_job_t *j)
{
	const recover_work_t *w = xfer_fs_job_state(j, &recover_ops);
	return w && w->got == 1;
}

xfer_fs_job_t *xfer_ftp_job_listing(int dir_fd_take, int home_fd, const char *dir_rel,
				    const xfer_ftp_list_style_t *style, wf_buf_t *out_take, size_t max_entries,
				    const char *what)
{
	listing_t *l = calloc(1, sizeof(*l));
	if (!l) {
		close(dir_fd_take);
		xfer_ftp_listing_free(out_take);
		errno = ENOMEM;
		return NULL;
	}
	l->dir_fd = dir_fd_take;
	l->style = *style;
	l->out = out_take;
	l->max_entries = max_entries;
	l->dir_rel = strdup(dir_rel);
	l->what = what ? strdup(what) : NULL;
	/* The job's own: a cancelled job may run a step after the session,
	 * and the config that holds the home's, is gone. */
	l->home_fd = home_fd >= 0 ? fcntl(home_fd, F_DUPFD_CLOEXEC, 0) : -1;
	if (!l->dir_rel || (what && !l->what) || (home_fd >= 0 && l->home_fd < 0)) {
		int err = l->dir_rel && (!what || l->what) ? errno : ENOMEM;
		listing_drop(l);
		errno = err;
		return NULL;
	}
	xfer_listing_links_init(&l->links, l->home_fd, l->dir_rel);
	xfer_fs_job_t *j = xfer_fs_job_custom(&listing_ops, l); /* drops l when NULL */
	if (!j)
		errno = ENOMEM;
	return j;
}

int xfer_ftp_job_listing_match(xfer_fs_job_t *j, const char *pattern, const char *prefix)
{
	listing_t *l = xfer_fs_job_state(j, &listing_ops);
	if (!l || l->pattern)
		abort(); /* a listing job not started, filtered once: the caller's bug else */
	l->pattern = strdup(pattern);
	if (!l->pattern)
		return WF_ERR;
	if (prefix && prefix[0] && l->style.kind == XFER_FTP_LIST_NAMES) {
		l->prefix_len = strlen(prefix);
		l->named = malloc(l->prefix_len + NAME_MAX + 1);
		if (!l->named)
			return WF_ERR; /* the pattern is freed with the job */
		memcpy(l->named, prefix, l->prefix_len);
	}
	return WF_OK;
}

xfer_fs_job_t *xfer_ftp_job_copy(xfer_upload_t *up_take, int src_fd_take, uint64_t len)
{
	upload_work_t *w = calloc(1, sizeof(*w));
	if (!w) {
		close(src_fd_take);
		xfer_upload_fini(up_take);
		free(up_take);
		return NULL;
	}
	w->up = up_take;
	w->src_fd = src_fd_take;
	w->len = len;
	return xfer_fs_job_custom(&copy_ops, w);
}

xfer_fs_job_t *xfer_ftp_job_truncate(xfer_upload_t *up_take, uint64_t len, const char *park_as)
{
	upload_work_t *w = calloc(1, sizeof(*w));
	if (!w) {
		xfer_upload_park(up_take, park_as);
		xfer_fs_job_drop_upload(up_take); /* on the loop: a park that failed leaves a file to remove off it */
		return NULL;
	}
	w->up = up_take;
	w->src_fd = -1;
	w->len = len;
	snprintf(w->park_as, sizeof(w->park_as), "%s", park_as);
	return xfer_fs_job_custom(&truncate_ops, w);
}

wf_buf_t *xfer_ftp_job_take_listing(xfer_fs_job_t *j)
{
	listing_t *l = xfer_fs_job_state(j, &listing_ops);
	if (!l)
		return NULL;
	wf_buf_t *out = l->out;
	l->out = NULL;
	return out;
}

xfer_listing_refusal_t xfer_ftp_job_listing_refused(xfer_fs_job_t *j)
{
	const listing_t *l = xfer_fs_job_state(j, &listing_ops);
	return l ? l->refused : XFER_LISTING_GRANTED;
}

const char *xfer_ftp_job_listing_what(xfer_fs_job_t *j)
{
	const listing_t *l = xfer_fs_job_state(j, &listing_ops);
	return l && l->what ? l->what : "";
}

xfer_ftp_list_kind_t xfer_ftp_job_listing_kind(xfer_fs_job_t *j)
{
	const listing_t *l = xfer_fs_job_state(j, &listing_ops);
	return l ? l->style.kind : XFER_FTP_LIST_LONG;
}

bool xfer_ftp_job_listing_cut(xfer_fs_job_t *j, size_t *listed)
{
	const listing_t *l = xfer_fs_job_state(j, &listing_ops);
	*listed = l ? l->listed : 0;
	return l && l->cut;
}

xfer_upload_t *xfer_ftp_job_take_upload(xfer_fs_job_t *j)
{
	upload_work_t *w = xfer_fs_job_state(j, &copy_ops);
	if (!w)
		w = xfer_fs_job_state(j, &truncate_ops);
	if (!w)
		return NULL;
	xfer_upload_t *up = w->up;
	w->up = NULL;
	return up;
}
