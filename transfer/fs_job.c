/* File system jobs off the loop: see fs_job.h. */
#include "fs_job.h"
#include "partial_sweep.h"
#include "path.h"
#include "precond.h"
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
 * commits, and a custom job of seconds done at once would hold one for
 * that long (two such jobs, both). A change to the tree is one step; a
 * folder's removal reads up to FOLDER_STEP of its entries a step, or
 * removes one of its partials (which may be gigabytes). A cancel takes
 * effect at the next step; for a job that drops quickly, at once when
 * that step still waits in the pool's queue (wf_offload_withdraw takes it
 * back). */
#define FOLDER_STEP 4096 /* folder entries */

typedef enum job_kind {
	JOB_DELETE,
	JOB_RMDIR, /* a JOB_DELETE that found a folder: its hidden files, then itself */
	JOB_MKDIR,
	JOB_RENAME,
	JOB_CUSTOM,
} job_kind_t;

struct xfer_fs_job {
	job_kind_t kind;
	atomic_bool cancelled;     /* set on the loop, read by the steps */
	xfer_fs_job_done_fn done;  /* NULL until started, and once cancelled */
	void *arg;
	wf_worker_t *worker;       /* borrowed: whose loop each step comes back to */
	bool more;                 /* the last step left work for another */
	int err;
	/* JOB_CUSTOM */
	const xfer_fs_job_ops_t *ops;
	void *state;               /* owned: dropped with ops->drop */
	/* JOB_DELETE, JOB_MKDIR, JOB_RENAME: dir_fd (owned) and leaf,
	 * and for a rename, to_fd (owned) and to_leaf */
	int dir_fd, to_fd;
	char leaf[NAME_MAX + 1], to_leaf[NAME_MAX + 1];
	char partial[NAME_MAX + 1]; /* JOB_DELETE: the partial of leaf (or the name removed), or "" */
	/* to_leaf, for a removal: the name partial was parked for, or "" */
	int partial_max_age;
	bool stale_only;           /* JOB_DELETE: the partial goes only if it is stale */
	bool sync;                 /* JOB_DELETE: the folder is fsynced once changed (the reply waits for it) */
	bool any;                  /* JOB_DELETE: leaf may be an (empty) folder too */
	bool folder_only;          /* JOB_DELETE: leaf must be a folder (ENOTDIR, and nothing goes) */
	bool no_replace;           /* JOB_RENAME */
	xfer_precond_t *cond;      /* owned: JOB_DELETE, JOB_MKDIR: the change's preconditions, or NULL */
	xfer_fs_partial_fate_t partial_fate;
	/* JOB_RMDIR: the folder leaf, read twice: the first pass only looks,
	 * the second removes the partials and orphaned temp files it holds */
	DIR *dir;                  /* owned: leaf, being read, or NULL */
	bool removing;             /* the second pass: the first found only those */
	time_t orphan_age;         /* xfer_upload_tmp_orphan's */
	struct timespec started;
	size_t found;              /* by the first pass */
	size_t removed;            /* by the second */
	char names[512];           /* of those removed, for the log */
	bool names_cut;            /* some did not fit in names */
};

static xfer_fs_job_t *job_new(job_kind_t kind)
{
	xfer_fs_job_t *j = calloc(1, sizeof(*j));
	if (!j)
		return NULL;
	j->kind = kind;
	atomic_init(&j->cancelled, false);
	j->dir_fd = j->to_fd = -1;
	return j;
}

xfer_fs_job_t *xfer_fs_job_custom(const xfer_fs_job_ops_t *ops, void *state_take)
{
	xfer_fs_job_t *j = job_new(JOB_CUSTOM);
	if (!j) {
		ops->drop(state_take);
		return NULL;
	}
	j->ops = ops;
	j->state = state_take;
	return j;
}

void *xfer_fs_job_state(xfer_fs_job_t *j, const xfer_fs_job_ops_t *ops)
{
	return j->kind == JOB_CUSTOM && j->ops == ops ? j->state : NULL;
}

/* A change of the tree in the folder dir_fd_take (taken: closed on failure). */
static xfer_fs_job_t *change_new(job_kind_t kind, int dir_fd_take, const char *leaf)
{
	xfer_fs_job_t *j = job_new(kind);
	if (!j) {
		close(dir_fd_take);
		return NULL;
	}
	j->dir_fd = dir_fd_take;
	snprintf(j->leaf, sizeof(j->leaf), "%s", leaf);
	return j;
}

xfer_fs_job_t *xfer_fs_job_delete(int dir_fd_take, const char *leaf, const char *partial, int partial_max_age)
{
	xfer_fs_job_t *j = change_new(JOB_DELETE, dir_fd_take, leaf);
	if (j) {
		snprintf(j->partial, sizeof(j->partial), "%s", partial);
		j->partial_max_age = partial_max_age;
		j->sync = true;
	}
	return j;
}

xfer_fs_job_t *xfer_fs_job_delete_any(int dir_fd_take, const char *leaf, const char *partial, bool folder_only,
				      time_t orphan_age, struct timespec started)
{
	xfer_fs_job_t *j = change_new(JOB_DELETE, dir_fd_take, leaf);
	if (j) {
		snprintf(j->partial, sizeof(j->partial), "%s", partial);
		j->sync = true;
		j->any = true;
		j->folder_only = folder_only;
		j->orphan_age = orphan_age;
		j->started = started;
	}
	return j;
}

/* DELE's job with no leaf: only its partial's removal, and no fsync. */
xfer_fs_job_t *xfer_fs_job_remove(int dir_fd_take, const char *name, const char *of, int max_age, bool stale_only)
{
	xfer_fs_job_t *j = change_new(JOB_DELETE, dir_fd_take, "");
	if (j) {
		snprintf(j->partial, sizeof(j->partial), "%s", name);
		snprintf(j->to_leaf, sizeof(j->to_leaf), "%s", of);
		j->partial_max_age = max_age;
		j->stale_only = stale_only;
	}
	return j;
}

xfer_fs_job_t *xfer_fs_job_mkdir(int dir_fd_take, const char *leaf)
{
	return change_new(JOB_MKDIR, dir_fd_take, leaf);
}

xfer_fs_job_t *xfer_fs_job_rename(int from_fd_take, const char *from, int to_fd_take, const char *to,
				  bool no_replace)
{
	xfer_fs_job_t *j = change_new(JOB_RENAME, from_fd_take, from);
	if (!j) {
		close(to_fd_take);
		return NULL;
	}
	j->to_fd = to_fd_take;
	snprintf(j->to_leaf, sizeof(j->to_leaf), "%s", to);
	j->no_replace = no_replace;
	return j;
}

void xfer_fs_job_guard(xfer_fs_job_t *j, xfer_precond_t *cond_take)
{
	xfer_precond_free(j->cond);
	j->cond = cond_take;
}

/* DELE: leaf, then its partial; DELETE, RMD: leaf, a folder too (in
 * steps of JOB_RMDIR). The folder's fsync when anything went. A removal:
 * the partial (or temp file) alone, stale or not, no fsync. */
static void delete_run(xfer_fs_job_t *j)
{
	struct stat st;
	if (!j->leaf[0]) {
		/* a removal: no file of the user's */
	} else if (fstatat(j->dir_fd, j->leaf, &st, AT_SYMLINK_NOFOLLOW) != 0) {
		j->err = errno;
	} else if (S_ISDIR(st.st_mode) && !j->any) {
		j->err = EISDIR; /* a folder is RMD's (xfer_fs_job_delete_any): not even its name's partial goes */
		return;
	} else if (!S_ISDIR(st.st_mode) && j->folder_only) {
		j->err = ENOTDIR;
		return;
	} else if (j->cond && !xfer_precond_holds(j->cond, &st)) {
		/* Checked here, right before the unlink: what is left between
		 * the two is a window of microseconds (no call unlinks a name
		 * only while it holds a given inode). */
		j->err = XFER_PRECOND_REFUSED;
		return;
	} else if (S_ISDIR(st.st_mode)) {
		/* A folder: its hidden files first, in steps of their own;
		 * the preconditions were checked above, against the folder as
		 * it was before any of them went (that changes its times). */
		j->kind = JOB_RMDIR;
		j->more = true;
		return;
	} else if (unlinkat(j->dir_fd, j->leaf, 0) != 0) {
		j->err = errno; /* a folder put in the file's place since the lookup stays (EISDIR) */
	}
	bool changed = j->leaf[0] && j->err == 0;
	/* DELETE's file: a resumption of it a dead process left (its claimed
	 * name, an orphan) would come back as the partial, so it goes too.
	 * DELE puts one back as the partial before its job (ftp_commands.c). */
	char claimed[NAME_MAX + 1];
	if (changed && j->any && j->partial[0] && xfer_path_claimed_of(j->partial, claimed, sizeof(claimed)) == 0)
		xfer_upload_remove_orphan_claim(j->dir_fd, claimed, time(NULL), j->orphan_age, j->started);
	if (j->partial[0] && (changed || !j->any)) { /* DELE's partial goes even without its file */
		/* DELE's leaf is gone by now: only its partial's age counts. */
		xfer_partial_verdict_t v = xfer_partial_check(j->dir_fd, j->partial, j->leaf[0] ? "" : j->to_leaf,
							      time(NULL), j->partial_max_age);
		if ((v != XFER_PARTIAL_LIVE || !j->stale_only) && unlinkat(j->dir_fd, j->partial, 0) == 0) {
			j->partial_fate = v == XFER_PARTIAL_OLD	       ? XFER_FS_PARTIAL_STALE
					  : v == XFER_PARTIAL_REPLACED ? XFER_FS_PARTIAL_REPLACED
								       : XFER_FS_PARTIAL_REMOVED;
			changed = true;
		}
	}
	if (changed && j->sync)
		fsync(j->dir_fd);
}

/* The folder leaf itself, once its hidden files are gone, and the fsync
 * of the folder that held it: 0 or the rmdir's errno. */
static int rmdir_finish(xfer_fs_job_t *j)
{
	if (j->dir) {
		closedir(j->dir);
		j->dir = NULL;
	}
	if (unlinkat(j->dir_fd, j->leaf, AT_REMOVEDIR) != 0)
		return errno;
	fsync(j->dir_fd);
	return 0;
}

/* A removed file's name, added to the names for the log while they fit. */
static void rmdir_note(xfer_fs_job_t *j, const char *name)
{
	size_t used = strlen(j->names);
	if (used + strlen(name) + 3 >= sizeof(j->names)) {
		j->names_cut = true;
		return;
	}
	snprintf(j->names + used, sizeof(j->names) - used, "%s%s", used ? ", " : "", name);
}

/* Up to FOLDER_STEP entries of the folder; the first pass only looks (a
 * name the user sees: ENOTEMPTY, a live upload's temp file: EBUSY, and
 * nothing is removed), the second removes the partials and orphaned temp
 * files, one a step (one may be gigabytes). readdir returns every entry
 * not removed or added since the rewind, so the second pass meets every
 * one the first one did. */
static int rmdir_step(xfer_fs_job_t *j)
{
	if (!j->dir) {
		int fd = openat(j->dir_fd, j->leaf, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
		if (fd < 0)
			return rmdir_finish(j); /* as a plain rmdir finds it: ENOENT, ENOTDIR, EACCES, ... */
		j->dir = fdopendir(fd);
		if (!j->dir) {
			close(fd);
			return rmdir_finish(j);
		}
	}
	for (size_t step = 0; step < FOLDER_STEP; step++) {
		errno = 0;
		struct dirent *de = readdir(j->dir);
		if (!de) {
			if (errno)
				return errno;
			if (!j->removing && j->found) {
				j->removing = true; /* the second pass */
				rewinddir(j->dir);
				j->more = true;
				return 0;
			}
			return rmdir_finish(j);
		}
		const char *name = de->d_name;
		if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
			continue;
		if (!xfer_path_is_hidden(name))
			return ENOTEMPTY;
		struct stat st;
		if (!xfer_path_is_partial(name) &&
		    (fstatat(dirfd(j->dir), name, &st, AT_SYMLINK_NOFOLLOW) != 0 ||
		     !xfer_upload_tmp_orphan(&st, time(NULL), j->orphan_age, j->started)))
			return EBUSY;
		if (!j->removing) {
			j->found++;
			continue;
		}
		/* A claimed name goes only while it is still an orphan, which a
		 * recovery and a resumption after it may end meanwhile. */
		bool gone = xfer_path_is_claimed(name)
				    ? xfer_upload_remove_orphan_claim(dirfd(j->dir), name, time(NULL), j->orphan_age,
								      j->started)
				    : unlinkat(dirfd(j->dir), name, 0) == 0;
		if (gone) {
			j->removed++;
			rmdir_note(j, name);
			break; /* one removal a step */
		}
	}
	j->more = true;
	return 0;
}

/* MKD, MKCOL, RNTO: the change, then the fsync of the folder(s) it
 * changed. */
static void change_run(xfer_fs_job_t *j)
{
	int rc;
	struct stat st;
	if (j->kind == JOB_MKDIR && j->cond && fstatat(j->dir_fd, j->leaf, &st, AT_SYMLINK_NOFOLLOW) != 0 &&
	    errno == ENOENT && !xfer_precond_holds(j->cond, NULL)) {
		/* Nothing has the name (a taken one is EEXIST below, whatever
		 * the preconditions), and that is all they can be checked
		 * against: the mkdir itself makes sure it still holds. */
		j->err = XFER_PRECOND_REFUSED;
		return;
	}
	if (j->kind == JOB_MKDIR)
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
	xfer_fs_job_t *j = arg;
	j->more = false;
	if (atomic_load_explicit(&j->cancelled, memory_order_relaxed)) {
		j->err = ECANCELED;
		return;
	}
	switch (j->kind) {
	case JOB_DELETE:
		delete_run(j);
		break;
	case JOB_RMDIR:
		j->err = rmdir_step(j);
		break;
	case JOB_MKDIR:
	case JOB_RENAME:
		change_run(j);
		break;
	case JOB_CUSTOM:
		j->err = j->ops->step(j->state, &j->more);
		break;
	}
}

/* On a pool thread: a job nobody waits for any more drops what it holds
 * there (a custom job's state may hold a temp file of gigabytes). */
static void job_free_detached(void *arg)
{
	xfer_fs_job_free(arg);
}

/* Whether a job nobody waits for is dropped on the loop (xfer_fs_job_ops_t's
 * drop_quick): the changes to the tree hold folders and names alone. */
static bool drop_quick(const xfer_fs_job_t *j)
{
	return j->kind != JOB_CUSTOM || j->ops->drop_quick;
}

/* Back on the worker's loop after a step: the next one, or the end. */
static void job_stepped(void *arg)
{
	xfer_fs_job_t *j = arg;
	if (!j->done) {
		/* cancelled while the step ran: nobody waits */
		if (drop_quick(j) || wf_offload_submit(NULL, job_free_detached, NULL, j) != WF_OK)
			xfer_fs_job_free(j);
		return;
	}
	if (j->more && !j->err) {
		if (wf_offload_submit(j->worker, job_step, job_stepped, j) == WF_OK)
			return;
		j->err = EAGAIN; /* the pool stopped under it */
	}
	j->done(j->arg, j);
}

int xfer_fs_job_start(xfer_fs_job_t *j, wf_worker_t *w, xfer_fs_job_done_fn done, void *arg)
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
	xfer_fs_job_t *j = arg;
	do
		job_step(j);
	while (j->more && !j->err);
	xfer_fs_job_free(j);
}

void xfer_fs_job_start_detached(xfer_fs_job_t *j)
{
	j->done = NULL;
	if (wf_offload_submit(NULL, job_run_detached, NULL, j) != WF_OK)
		job_run_detached(j);
}

void xfer_fs_job_discard_upload(xfer_upload_t *u)
{
	/* An empty temp file frees nothing: it goes here and now. */
	xfer_fs_job_t *j = u->fd >= 0 && u->written > 0 ? job_new(JOB_DELETE) : NULL;
	if (j) {
		snprintf(j->partial, sizeof(j->partial), "%s", u->tmp);
		j->dir_fd = xfer_upload_release(u);
		xfer_fs_job_start_detached(j);
	}
	xfer_upload_discard(u); /* what is left: an empty temp file, or all of it without a job */
}

void xfer_fs_job_drop_upload(xfer_upload_t *up_take)
{
	xfer_fs_job_discard_upload(up_take);
	xfer_upload_fini(up_take);
	free(up_take);
}

void xfer_fs_job_cancel(xfer_fs_job_t *j)
{
	if (!j)
		return;
	j->done = NULL;
	/* Its step still queued: no thread has the job, nor will, and what it
	 * holds goes back now, not once the pool reaches it. Only a job that
	 * drops quickly: another would go back to the pool to be dropped,
	 * behind the same queue. */
	if (drop_quick(j) && wf_offload_withdraw(job_step, j)) {
		xfer_fs_job_free(j);
		return;
	}
	atomic_store_explicit(&j->cancelled, true, memory_order_relaxed);
}

int xfer_fs_job_err(const xfer_fs_job_t *j)
{
	return j->err;
}

xfer_fs_partial_fate_t xfer_fs_job_partial(const xfer_fs_job_t *j)
{
	return j->partial_fate;
}

size_t xfer_fs_job_removed(const xfer_fs_job_t *j, const char **names, bool *cut)
{
	*names = j->names;
	*cut = j->names_cut;
	return j->removed;
}

void xfer_fs_job_free(xfer_fs_job_t *j)
{
	if (!j)
		return;
	if (j->dir)
		closedir(j->dir);
	if (j->to_fd >= 0)
		close(j->to_fd);
	if (j->dir_fd >= 0)
		close(j->dir_fd);
	if (j->kind == JOB_CUSTOM)
		j->ops->drop(j->state);
	xfer_precond_free(j->cond);
	free(j);
}
