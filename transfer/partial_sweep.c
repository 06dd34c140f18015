/* Stale interrupted FTP uploads: see partial_sweep.h. */
#include "partial_sweep.h"
#include "path.h"
#include "upload.h"
#include "../server/log.h"
#include "../server/offload.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* One sweep's state, on the pool thread's stack. */
typedef struct sweep {
	time_t now;
	int max_age;
	time_t orphan_age; /* for temp files */
	struct timespec started; /* this process's start */
	size_t budget;  /* entries left to read in this sweep */
	size_t removed; /* partials, under the home being walked */
	size_t orphans; /* temp files, likewise */
} sweep_t;

static atomic_bool running;   /* a sweep is queued or in flight */
static struct timespec process_start; /* set before any sweep is queued (the queue orders it) */
static atomic_bool cancelled; /* shutting down: stop walking */
static size_t next_home;      /* the home the next sweep starts with (only the running sweep touches it) */

bool xfer_partial_stale(const struct stat *st, time_t now, int max_age)
{
	return max_age > 0 && now - st->st_mtime > (time_t)max_age;
}

bool xfer_partial_replaced(const struct stat *st, const struct stat *name_st)
{
	if (!name_st)
		return false;
	return name_st->st_ctim.tv_sec > st->st_mtim.tv_sec ||
	       (name_st->st_ctim.tv_sec == st->st_mtim.tv_sec && name_st->st_ctim.tv_nsec > st->st_mtim.tv_nsec);
}

xfer_partial_verdict_t xfer_partial_check(int dir_fd, const char *partial, const char *leaf, time_t now,
					  int max_age)
{
	struct stat st, name_st;
	if (fstatat(dir_fd, partial, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return XFER_PARTIAL_LIVE;
	if (xfer_partial_stale(&st, now, max_age))
		return XFER_PARTIAL_OLD;
	/* A folder under the name replaced no file: it stands in the way of
	 * the commit (one it failed keeps its upload here, transfer/upload.c),
	 * and the partial resumes once it is gone. */
	bool named = leaf[0] && fstatat(dir_fd, leaf, &name_st, AT_SYMLINK_NOFOLLOW) == 0 &&
		     !S_ISDIR(name_st.st_mode);
	return xfer_partial_replaced(&st, named ? &name_st : NULL) ? XFER_PARTIAL_REPLACED : XFER_PARTIAL_LIVE;
}

/* Removes the partial name of dir_fd if it is stale. A session resumes a
 * partial by renaming it to its claimed name (xfer_upload_claim), and the
 * sweep claims it the same way before it unlinks: whoever renames first has
 * it, and no new inode is needed (a file system out of them is swept too).
 * The age is checked again on the file the sweep now holds, so one resumed
 * and parked anew between the first look and the claim goes back under its
 * name (unless a still newer one is there already). Meanwhile a resumption
 * of it finds the claimed name live and is told to try again. */
static bool remove_if_stale(const sweep_t *s, int dir_fd, const char *name)
{
	struct stat st;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(st.st_mode) ||
	    !xfer_partial_stale(&st, s->now, s->max_age))
		return false;
	char mine[NAME_MAX + 1];
	if (xfer_path_claimed_of(name, mine, sizeof(mine)) != 0)
		return false;
	if (xfer_path_rename_new(dir_fd, name, dir_fd, mine) != 0) /* a session claimed it first, or holds the name */
		return false;
	if (fstatat(dir_fd, mine, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	    xfer_partial_stale(&st, s->now, s->max_age)) {
		unlinkat(dir_fd, mine, 0);
		return true;
	}
	if (xfer_path_rename_new(dir_fd, mine, dir_fd, name) != 0)
		unlinkat(dir_fd, mine, 0);
	return false;
}

/* A claimed name a dead process left is the partial it had resumed (the
 * next resumption puts it back as such): stale by the partials' age, and
 * never with max_age 0. It must be an orphan too (xfer_upload_tmp_orphan),
 * not the name of a live upload, however slow; the sweep's orphan age is
 * at least max_age, so an orphan is stale as well. */
static bool remove_claimed_if_stale(const sweep_t *s, int dir_fd, const char *name)
{
	return s->max_age > 0 && xfer_upload_remove_orphan_claim(dir_fd, name, s->now, s->orphan_age, s->started);
}

time_t xfer_upload_orphan_age(int send_timeout)
{
	return 2 * ((time_t)send_timeout + XFER_UPLOAD_STAGE_AGE);
}

bool xfer_upload_tmp_orphan(const struct stat *st, time_t now, time_t min_age, struct timespec started)
{
	/* started is read from the clock file times come from (server.c). */
	if (!S_ISREG(st->st_mode) || now - st->st_mtime <= min_age)
		return false;
	return st->st_ctim.tv_sec < started.tv_sec ||
	       (st->st_ctim.tv_sec == started.tv_sec && st->st_ctim.tv_nsec <= started.tv_nsec);
}

/* An upload's temp file left by a process that died mid-upload (a fresh
 * upload's: a resumption's is its claimed name). Nobody resumes a temp file. */
static bool remove_if_orphan(const sweep_t *s, int dir_fd, const char *name)
{
	struct stat st;
	if (fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
	    !xfer_upload_tmp_orphan(&st, s->now, s->orphan_age, s->started))
		return false;
	return unlinkat(dir_fd, name, 0) == 0;
}

/* Walks the folder dir_fd (taken), removing stale partials. Sub-folders are
 * opened one name at a time beneath their parent with O_NOFOLLOW (through
 * xfer_path_open: RESOLVE_BENEATH), so a symlink is never followed and the
 * walk cannot leave the home, whatever a user renames meanwhile. */
static void sweep_dir(sweep_t *s, int dir_fd, int depth)
{
	DIR *d = fdopendir(dir_fd);
	if (!d) {
		close(dir_fd);
		return;
	}
	struct dirent *de;
	while (s->budget && !atomic_load(&cancelled) && (de = readdir(d))) {
		s->budget--;
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (xfer_path_is_partial(name)) {
			s->removed += remove_if_stale(s, dirfd(d), name);
			continue;
		}
		if (xfer_path_is_claimed(name)) {
			s->removed += remove_claimed_if_stale(s, dirfd(d), name);
			continue;
		}
		if (xfer_path_is_hidden(name)) {
			s->orphans += remove_if_orphan(s, dirfd(d), name);
			continue;
		}
		if (depth >= XFER_SWEEP_MAX_DEPTH || (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN))
			continue;
		int sub = xfer_path_open(dirfd(d), name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW, 0);
		if (sub >= 0)
			sweep_dir(s, sub, depth + 1);
	}
	closedir(d);
}

size_t xfer_partial_sweep(const wf_config_t *cfg, time_t now, struct timespec started)
{
	sweep_t s = { .now = now,
		      .max_age = cfg->limits.partial_upload_max_age,
		      .started = started,
		      .budget = XFER_SWEEP_MAX_ENTRIES };
	/* Past the longest a live upload leaves its file untouched (partial_sweep.h). */
	time_t still = xfer_upload_orphan_age(cfg->limits.send_timeout);
	s.orphan_age = s.max_age > still ? s.max_age : still;
	size_t total = 0, n = cfg->nusers;
	if (n == 0)
		return 0;
	/* Each sweep starts one home further, so that when the budget runs out
	 * before the last home, a later sweep reaches it first. A home shared by
	 * several users is walked once per user; the later walks find nothing. */
	size_t first = next_home % n;
	next_home = first + 1;
	for (size_t i = 0; i < n && s.budget && !atomic_load(&cancelled); i++) {
		const wf_user_cfg_t *u = &cfg->users[(first + i) % n];
		int fd = xfer_path_open(u->home_fd, "", O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0)
			continue;
		s.removed = s.orphans = 0;
		sweep_dir(&s, fd, 0);
		if (s.removed)
			wf_log_info("removed %zu stale partial uploads older than %d s under %s", s.removed, s.max_age,
				    u->home);
		if (s.orphans)
			wf_log_info("removed %zu upload temp files left by an earlier process under %s", s.orphans,
				    u->home);
		total += s.removed + s.orphans;
	}
	if (!s.budget)
		wf_log_info("partial upload sweep stopped after %d folder entries; the next one goes on",
			    XFER_SWEEP_MAX_ENTRIES);
	return total;
}

/* On a pool thread; owns the config reference it is given. */
static void sweep_run(void *arg)
{
	wf_config_t *cfg = arg;
	xfer_partial_sweep(cfg, time(NULL), process_start);
	wf_config_unref(cfg);
	atomic_store(&running, false);
}

int xfer_partial_sweep_submit(wf_config_t *cfg, struct timespec started)
{
	bool idle = false;
	if (!atomic_compare_exchange_strong(&running, &idle, true))
		return WF_DECLINED;
	process_start = started; /* no sweep runs now to read it */
	wf_config_t *ref = wf_config_ref(cfg);
	/* No completion: nothing on a loop waits for the sweep. */
	if (wf_offload_submit(NULL, sweep_run, NULL, ref) != WF_OK) {
		wf_config_unref(ref);
		atomic_store(&running, false);
		return WF_DECLINED;
	}
	return WF_OK;
}

void xfer_partial_sweep_cancel(void)
{
	atomic_store(&cancelled, true);
}
