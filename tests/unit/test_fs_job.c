/* File system jobs run where no offload pool is (inline, WF_DONE): the
 * changes of DELE (a file and its partial, a stale partial, a folder
 * refused), DELETE (a file or an empty folder, never a full one, and no
 * partial of its name touched; only a folder for a path that ends in
 * '/'), DELETE and RMD of a folder holding only partials and orphaned
 * temp files (they go, over more entries than one step reads), or a name
 * users see or a live upload's temp file (ENOTEMPTY, EBUSY: nothing
 * goes), or what is no folder, MKD and RNTO (with and without
 * replacing), each in the folder fd it was given; the removal of one name
 * (always, or only when stale) with nothing else touched; an upload
 * dropped or discarded off the loop by a detached removal, with and
 * without a pool, an empty one at once; DELETE and MKCOL guarded by
 * preconditions, checked against the name as the job finds it and
 * changing nothing when they fail (not even a folder's partials); a job
 * of a kind defined by its user, run in its steps until done or failed,
 * its state found only under its own kind and dropped once. */
#include "transfer/fs_job.h"

#include "check.h"
#include "precond_fields.h"

#include "transfer/path.h"
#include "transfer/etag.h"
#include "transfer/precond.h"
#include "server/offload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int chg_fd = -1; /* the folder the change jobs work in */

static bool exists(const char *name)
{
	struct stat st;
	return fstatat(chg_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static void make(const char *name, const char *data)
{
	int fd = openat(chg_fd, name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, data, strlen(data)), (long long)strlen(data));
	close(fd);
}

/* Runs j inline (no pool); returns its err and frees it. */
static int run(xfer_fs_job_t *j, xfer_fs_partial_fate_t *partial)
{
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	int err = xfer_fs_job_err(j);
	if (partial)
		*partial = xfer_fs_job_partial(j);
	xfer_fs_job_free(j);
	return err;
}

static int sub_fd(void)
{
	return dup(chg_fd);
}

static void test_delete(void)
{
	xfer_fs_partial_fate_t p;
	char partial[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("f.txt", partial, sizeof(partial)), 0);
	/* A file and the partial of an interrupted upload of it. */
	make("f.txt", "x");
	make(partial, "part");
	CHECK_EQ_INT(run(xfer_fs_job_delete(sub_fd(), "f.txt", partial, 3600), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_REMOVED);
	CHECK(!exists("f.txt") && !exists(partial));
	/* The partial alone: the file's ENOENT, the partial found. */
	make(partial, "part");
	CHECK_EQ_INT(run(xfer_fs_job_delete(sub_fd(), "f.txt", partial, 3600), &p), ENOENT);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_REMOVED);
	CHECK(!exists(partial));
	/* A stale partial goes, but is not counted as found. */
	make(partial, "old");
	struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
	CHECK(utimensat(chg_fd, partial, old, 0) == 0);
	CHECK_EQ_INT(run(xfer_fs_job_delete(sub_fd(), "f.txt", partial, 3600), &p), ENOENT);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_STALE);
	CHECK(!exists(partial));
	/* Nothing at all. */
	CHECK_EQ_INT(run(xfer_fs_job_delete(sub_fd(), "f.txt", "", 3600), &p), ENOENT);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_NONE);
	/* A folder is refused, and its name's partial stays. */
	CHECK(mkdirat(chg_fd, "d", 0755) == 0);
	CHECK_EQ_INT(xfer_path_partial_name("d", partial, sizeof(partial)), 0);
	make(partial, "part");
	CHECK_EQ_INT(run(xfer_fs_job_delete(sub_fd(), "d", partial, 3600), &p), EISDIR);
	CHECK(exists("d") && exists(partial));
	CHECK(unlinkat(chg_fd, partial, 0) == 0);
	CHECK(unlinkat(chg_fd, "d", AT_REMOVEDIR) == 0);
}

/* The process start RMD tells orphans by: one long before every file here
 * (each was changed after it: none is an orphan). */
static struct timespec long_ago = { 1000000000, 0 };

/* DELETE of leaf (with folder_only, of "leaf/", or RMD), for a process
 * started long ago. */
static xfer_fs_job_t *delete_any(const char *leaf, bool folder_only)
{
	return xfer_fs_job_delete_any(sub_fd(), leaf, "", folder_only, 60, long_ago);
}

static void test_delete_any(void)
{
	char partial[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("f.txt", partial, sizeof(partial)), 0);
	/* A file, and the partial it is given with it; none unless given. */
	make("f.txt", "x");
	make(partial, "part");
	CHECK_EQ_INT(run(delete_any("f.txt", false), NULL), 0);
	CHECK(!exists("f.txt") && exists(partial));
	make("f.txt", "x");
	CHECK_EQ_INT(run(xfer_fs_job_delete_any(sub_fd(), "f.txt", partial, false, 60, long_ago), NULL), 0);
	CHECK(!exists("f.txt") && !exists(partial));
	/* The claimed name a dead process left goes with them (it would be
	 * the partial again); a live resumption's stays. */
	char claimed[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_claimed_name("f.txt", claimed, sizeof(claimed)), 0);
	struct timespec hour_ago[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } }, after;
	clock_gettime(CLOCK_REALTIME, &after);
	after.tv_sec++;
	make("f.txt", "x");
	make(claimed, "resumed");
	CHECK(utimensat(chg_fd, claimed, hour_ago, 0) == 0);
	CHECK_EQ_INT(run(xfer_fs_job_delete_any(sub_fd(), "f.txt", partial, false, 60, long_ago), NULL), 0);
	CHECK(!exists("f.txt") && exists(claimed));
	make("f.txt", "x");
	CHECK_EQ_INT(run(xfer_fs_job_delete_any(sub_fd(), "f.txt", partial, false, 60, after), NULL), 0);
	CHECK(!exists("f.txt") && !exists(claimed));
	/* Nothing of that name: a partial stays (DELETE is of the file). */
	make(partial, "part");
	CHECK_EQ_INT(run(xfer_fs_job_delete_any(sub_fd(), "f.txt", partial, false, 60, long_ago), NULL), ENOENT);
	CHECK(exists(partial));
	CHECK(unlinkat(chg_fd, partial, 0) == 0);
	/* A folder that is not empty stays; an empty one goes. */
	CHECK(mkdirat(chg_fd, "d", 0755) == 0);
	make("d/in", "x");
	int rc = run(delete_any("d", false), NULL);
	CHECK(rc == ENOTEMPTY || rc == EEXIST);
	CHECK(exists("d/in"));
	CHECK(unlinkat(chg_fd, "d/in", 0) == 0);
	CHECK_EQ_INT(run(delete_any("d", false), NULL), 0);
	CHECK(!exists("d"));
	/* A symlink goes itself, never what it points to. */
	make("target", "t");
	CHECK(symlinkat("target", chg_fd, "link") == 0);
	CHECK_EQ_INT(run(delete_any("link", false), NULL), 0);
	CHECK(!exists("link") && exists("target"));
	CHECK(unlinkat(chg_fd, "target", 0) == 0);
	/* folder_only ("DELETE /name/"): a file, or a link to a folder, stays
	 * (ENOTDIR); an empty folder goes. */
	make("f.txt", "x");
	CHECK_EQ_INT(run(delete_any("f.txt", true), NULL), ENOTDIR);
	CHECK(exists("f.txt"));
	CHECK(unlinkat(chg_fd, "f.txt", 0) == 0);
	CHECK(mkdirat(chg_fd, "d", 0755) == 0);
	CHECK(symlinkat("d", chg_fd, "link") == 0);
	CHECK_EQ_INT(run(delete_any("link", true), NULL), ENOTDIR);
	CHECK(exists("link") && exists("d"));
	CHECK(unlinkat(chg_fd, "link", 0) == 0);
	CHECK_EQ_INT(run(delete_any("d", true), NULL), 0);
	CHECK(!exists("d"));
	CHECK_EQ_INT(run(delete_any("d", true), NULL), ENOENT);
}

/* RMD of chg/name (DELETE of "name/"), for a process started at started:
 * err, and the partials removed (names joined in *names). */
static int run_rmdir_since(const char *name, struct timespec started, size_t *removed, const char **names,
			   bool *cut)
{
	static char kept[512];
	xfer_fs_job_t *j = xfer_fs_job_delete_any(sub_fd(), name, "", true, 60, started);
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	int err = xfer_fs_job_err(j);
	const char *n = "";
	*removed = xfer_fs_job_removed(j, &n, cut);
	snprintf(kept, sizeof(kept), "%s", n);
	*names = kept;
	xfer_fs_job_free(j);
	return err;
}

static int run_rmdir(const char *name, size_t *removed, const char **names, bool *cut)
{
	return run_rmdir_since(name, long_ago, removed, names, cut);
}

static void test_rmdir(void)
{
	size_t removed;
	const char *names;
	bool cut;

	/* Nothing but partials: they go, then the folder. */
	CHECK(mkdirat(chg_fd, "r1", 0755) == 0);
	make("r1/.wharf-upload.a.bin.partial", "a");
	make("r1/.wharf-upload.b.bin.partial", "b");
	CHECK_EQ_INT(run_rmdir("r1", &removed, &names, &cut), 0);
	CHECK_EQ_INT(removed, 2);
	CHECK(!cut);
	CHECK(strstr(names, ".wharf-upload.a.bin.partial") && strstr(names, ".wharf-upload.b.bin.partial") &&
	      strstr(names, ", "));
	CHECK(!exists("r1"));
	/* An empty folder: as a plain rmdir; then there is none. */
	CHECK(mkdirat(chg_fd, "r1", 0755) == 0);
	CHECK_EQ_INT(run_rmdir("r1", &removed, &names, &cut), 0);
	CHECK_EQ_INT(removed, 0);
	CHECK_EQ_INT(run_rmdir("r1", &removed, &names, &cut), ENOENT);

	/* A name users see: ENOTEMPTY, and nothing removed. */
	CHECK(mkdirat(chg_fd, "r2", 0755) == 0);
	make("r2/.wharf-upload.a.bin.partial", "a");
	make("r2/seen.txt", "s");
	CHECK_EQ_INT(run_rmdir("r2", &removed, &names, &cut), ENOTEMPTY);
	CHECK_EQ_INT(removed, 0);
	CHECK(exists("r2/.wharf-upload.a.bin.partial"));
	CHECK(unlinkat(chg_fd, "r2/seen.txt", 0) == 0);
	CHECK(mkdirat(chg_fd, "r2/sub", 0755) == 0);
	CHECK_EQ_INT(run_rmdir("r2", &removed, &names, &cut), ENOTEMPTY);
	CHECK(exists("r2/.wharf-upload.a.bin.partial"));

	/* An upload's temp file: EBUSY, and nothing removed. */
	CHECK(mkdirat(chg_fd, "r3", 0755) == 0);
	make("r3/.wharf-upload.a.bin.partial", "a");
	make("r3/.wharf-upload.live.bin.0123456789abcdef", "live");
	CHECK_EQ_INT(run_rmdir("r3", &removed, &names, &cut), EBUSY);
	CHECK_EQ_INT(removed, 0);
	CHECK(exists("r3/.wharf-upload.a.bin.partial") && exists("r3/.wharf-upload.live.bin.0123456789abcdef"));

	/* A temp file last written an hour ago, but changed since this
	 * process started (it renamed or wrote it: a slow client's upload):
	 * EBUSY. One changed last before the start, by a process that died
	 * mid-upload: it goes with the partials. */
	struct timespec times[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
	CHECK(utimensat(chg_fd, "r3/.wharf-upload.live.bin.0123456789abcdef", times, 0) == 0);
	CHECK_EQ_INT(run_rmdir("r3", &removed, &names, &cut), EBUSY);
	CHECK(exists("r3/.wharf-upload.live.bin.0123456789abcdef"));
	struct timespec started;
	clock_gettime(CLOCK_REALTIME, &started);
	started.tv_sec++;
	CHECK(mkdirat(chg_fd, "r8", 0755) == 0);
	make("r8/.wharf-upload.dead.bin.0123456789abcdef", "dead");
	CHECK(utimensat(chg_fd, "r8/.wharf-upload.dead.bin.0123456789abcdef", times, 0) == 0);
	make("r8/.wharf-upload.fresh.bin.0123456789abcdef", "fresh"); /* a minute is not old */
	CHECK_EQ_INT(run_rmdir_since("r8", started, &removed, &names, &cut), EBUSY);
	CHECK(exists("r8/.wharf-upload.dead.bin.0123456789abcdef"));
	CHECK(unlinkat(chg_fd, "r8/.wharf-upload.fresh.bin.0123456789abcdef", 0) == 0);
	CHECK_EQ_INT(run_rmdir_since("r8", started, &removed, &names, &cut), 0);
	CHECK_EQ_INT(removed, 1);
	CHECK(!exists("r8"));
	/* A claimed name: a live resumption's blocks RMD (EBUSY) as its temp
	 * file would; one a dead process left goes with the partials. */
	CHECK(mkdirat(chg_fd, "r9", 0755) == 0);
	make("r9/.wharf-upload.a.bin.partial", "a");
	make("r9/.wharf-upload.b.bin.claimed", "b");
	CHECK(utimensat(chg_fd, "r9/.wharf-upload.b.bin.claimed", times, 0) == 0);
	CHECK_EQ_INT(run_rmdir("r9", &removed, &names, &cut), EBUSY);
	CHECK(exists("r9/.wharf-upload.a.bin.partial") && exists("r9/.wharf-upload.b.bin.claimed"));
	CHECK_EQ_INT(run_rmdir_since("r9", started, &removed, &names, &cut), 0);
	CHECK_EQ_INT(removed, 2);
	CHECK(strstr(names, ".wharf-upload.b.bin.claimed") != NULL);
	CHECK(!exists("r9"));

	/* Not a folder: a file, and a link to one (never followed). */
	make("r4", "file");
	CHECK_EQ_INT(run_rmdir("r4", &removed, &names, &cut), ENOTDIR);
	CHECK(symlinkat("r3", chg_fd, "r5") == 0);
	CHECK_EQ_INT(run_rmdir("r5", &removed, &names, &cut), ENOTDIR);
	CHECK(exists("r3/.wharf-upload.a.bin.partial"));

	/* More partials than one step reads, and than the log's names hold. */
	char name[64];
	CHECK(mkdirat(chg_fd, "r6", 0755) == 0);
	for (int i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "r6/.wharf-upload.p%04d.partial", i);
		make(name, "p");
	}
	CHECK_EQ_INT(run_rmdir("r6", &removed, &names, &cut), 0);
	CHECK_EQ_INT(removed, 5000);
	CHECK(cut);
	CHECK(!exists("r6"));

	/* Let go of before it ran: nothing removed. */
	CHECK(mkdirat(chg_fd, "r6", 0755) == 0);
	make("r6/.wharf-upload.a.bin.partial", "a");
	xfer_fs_job_free(delete_any("r6", true));
	CHECK(exists("r6/.wharf-upload.a.bin.partial"));
	CHECK_EQ_INT(run_rmdir("r6", &removed, &names, &cut), 0);

	/* DELETE of "name" (no '/') takes a folder the same way. */
	CHECK(mkdirat(chg_fd, "r9", 0755) == 0);
	make("r9/.wharf-upload.a.bin.partial", "a");
	make("r9/.wharf-upload.live.bin.0123456789abcdef", "live");
	CHECK_EQ_INT(run(delete_any("r9", false), NULL), EBUSY);
	CHECK(exists("r9/.wharf-upload.a.bin.partial"));
	CHECK(unlinkat(chg_fd, "r9/.wharf-upload.live.bin.0123456789abcdef", 0) == 0);
	CHECK_EQ_INT(run(delete_any("r9", false), NULL), 0);
	CHECK(!exists("r9"));

	/* Another kind of job has no RMD results. */
	xfer_fs_job_t *j = xfer_fs_job_mkdir(sub_fd(), "r7");
	CHECK_EQ_INT(xfer_fs_job_removed(j, &names, &cut), 0);
	xfer_fs_job_free(j);

	unlinkat(chg_fd, "r2/.wharf-upload.a.bin.partial", 0);
	unlinkat(chg_fd, "r2/sub", AT_REMOVEDIR);
	unlinkat(chg_fd, "r2", AT_REMOVEDIR);
	unlinkat(chg_fd, "r3/.wharf-upload.a.bin.partial", 0);
	unlinkat(chg_fd, "r3/.wharf-upload.live.bin.0123456789abcdef", 0);
	unlinkat(chg_fd, "r3", AT_REMOVEDIR);
	unlinkat(chg_fd, "r4", 0);
	unlinkat(chg_fd, "r5", 0);
}

/* A guard from If-Match (value) or If-None-Match: "*" (NULL). */
static xfer_precond_t *guard(const char *if_match)
{
	xfer_precond_in_t in = precond_fields(if_match);
	xfer_precond_t *c = xfer_precond_new(&in);
	CHECK(c != NULL);
	return c;
}

static xfer_fs_job_t *with(xfer_fs_job_t *j, xfer_precond_t *c)
{
	xfer_fs_job_guard(j, c);
	return j;
}

static void test_guarded(void)
{
	make("g.txt", "x");
	struct stat st;
	CHECK(fstatat(chg_fd, "g.txt", &st, AT_SYMLINK_NOFOLLOW) == 0);
	char etag[XFER_ETAG_MAX];
	xfer_etag_make(&st, etag);
	/* The file is not the one the client saw: it stays. */
	CHECK_EQ_INT(run(with(delete_any("g.txt", false), guard("\"old\"")), NULL),
		     XFER_PRECOND_REFUSED);
	CHECK(exists("g.txt"));
	CHECK_EQ_INT(run(with(delete_any("g.txt", false), guard(NULL)), NULL),
		     XFER_PRECOND_REFUSED);
	CHECK(exists("g.txt"));
	/* It is: it goes. Then nothing has the name: ENOENT, not 412. */
	CHECK_EQ_INT(run(with(delete_any("g.txt", false), guard(etag)), NULL), 0);
	CHECK(!exists("g.txt"));
	CHECK_EQ_INT(run(with(delete_any("g.txt", false), guard(etag)), NULL), ENOENT);
	/* MKCOL: If-Match wants something there; a taken name is EEXIST
	 * whatever the guard says. */
	CHECK_EQ_INT(run(with(xfer_fs_job_mkdir(sub_fd(), "gd"), guard("*")), NULL), XFER_PRECOND_REFUSED);
	CHECK(!exists("gd"));
	CHECK_EQ_INT(run(with(xfer_fs_job_mkdir(sub_fd(), "gd"), guard(NULL)), NULL), 0);
	CHECK(exists("gd"));
	CHECK_EQ_INT(run(with(xfer_fs_job_mkdir(sub_fd(), "gd"), guard("*")), NULL), EEXIST);
	/* A folder has no tag: "*" only. */
	CHECK_EQ_INT(run(with(delete_any("gd", true), guard(etag)), NULL), XFER_PRECOND_REFUSED);
	/* One that does not hold keeps the folder's partials too; checked
	 * before any goes (which changes the folder's times). */
	make("gd/.wharf-upload.a.bin.partial", "a");
	CHECK_EQ_INT(run(with(delete_any("gd", true), guard(etag)), NULL), XFER_PRECOND_REFUSED);
	CHECK(exists("gd/.wharf-upload.a.bin.partial"));
	CHECK_EQ_INT(run(with(delete_any("gd", true), guard(NULL)), NULL), XFER_PRECOND_REFUSED);
	CHECK(exists("gd/.wharf-upload.a.bin.partial"));
	CHECK_EQ_INT(run(with(delete_any("gd", true), guard("*")), NULL), 0);
	CHECK(!exists("gd"));
	/* A guard replaced, or freed with a job never started. */
	xfer_fs_job_t *j = xfer_fs_job_mkdir(sub_fd(), "never");
	xfer_fs_job_guard(j, guard("*"));
	xfer_fs_job_guard(j, guard(NULL));
	xfer_fs_job_free(j);
	CHECK(!exists("never"));
}

static void test_folders_and_renames(void)
{
	CHECK_EQ_INT(run(xfer_fs_job_mkdir(sub_fd(), "m"), NULL), 0);
	CHECK(exists("m"));
	CHECK_EQ_INT(run(xfer_fs_job_mkdir(sub_fd(), "m"), NULL), EEXIST);
	make("m/in", "x");
	int rc = run(delete_any("m", false), NULL);
	CHECK(rc == ENOTEMPTY || rc == EEXIST);
	CHECK(unlinkat(chg_fd, "m/in", 0) == 0);
	CHECK_EQ_INT(run(delete_any("m", false), NULL), 0);
	CHECK(!exists("m"));
	CHECK_EQ_INT(run(delete_any("m", false), NULL), ENOENT);

	/* Across folders, each its own fd; never replacing, then replacing. */
	CHECK(mkdirat(chg_fd, "to", 0755) == 0);
	make("a", "A");
	make("to/b", "B");
	int to = openat(chg_fd, "to", O_RDONLY | O_DIRECTORY);
	CHECK_EQ_INT(run(xfer_fs_job_rename(sub_fd(), "a", dup(to), "b", true), NULL), EEXIST);
	CHECK(exists("a") && exists("to/b"));
	CHECK_EQ_INT(run(xfer_fs_job_rename(sub_fd(), "a", dup(to), "c", true), NULL), 0);
	CHECK(!exists("a") && exists("to/c"));
	CHECK_EQ_INT(run(xfer_fs_job_rename(dup(to), "c", dup(to), "b", false), NULL), 0);
	CHECK(!exists("to/c") && exists("to/b"));
	CHECK_EQ_INT(run(xfer_fs_job_rename(dup(to), "c", dup(to), "d", false), NULL), ENOENT);
	close(to);
	CHECK(unlinkat(chg_fd, "to/b", 0) == 0);
	CHECK(unlinkat(chg_fd, "to", AT_REMOVEDIR) == 0);
}

static void test_remove(void)
{
	xfer_fs_partial_fate_t p;
	struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
	make("keep.txt", "k");
	make("p1", "part");
	/* Any: a fresh one goes, and nothing else does. */
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "", 3600, false), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_REMOVED);
	CHECK(!exists("p1") && exists("keep.txt"));
	/* A stale one, counted as stale. */
	make("p1", "part");
	CHECK(utimensat(chg_fd, "p1", old, 0) == 0);
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "", 3600, false), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_STALE);
	CHECK(!exists("p1"));
	/* Only when stale: a fresh one stays, a stale one goes. */
	make("p1", "part");
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "", 3600, true), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_NONE);
	CHECK(exists("p1"));
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "", 0, true), &p), 0); /* max age 0: never stale */
	CHECK(exists("p1"));
	CHECK(utimensat(chg_fd, "p1", old, 0) == 0);
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "", 3600, true), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_STALE);
	CHECK(!exists("p1"));
	/* Only when stale: one older than what its name holds now goes too,
	 * even with max age 0; one newer than it stays. */
	make("p1", "part");
	CHECK(utimensat(chg_fd, "p1", old, 0) == 0);
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "keep.txt", 0, true), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_REPLACED);
	CHECK(!exists("p1"));
	make("p1", "part");
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "keep.txt", 0, true), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_NONE);
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "missing.txt", 0, true), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_NONE);
	CHECK(exists("p1"));
	CHECK(unlinkat(chg_fd, "p1", 0) == 0);
	/* None there. */
	CHECK_EQ_INT(run(xfer_fs_job_remove(sub_fd(), "p1", "", 3600, false), &p), 0);
	CHECK_EQ_INT(p, XFER_FS_PARTIAL_NONE);
	CHECK(unlinkat(chg_fd, "keep.txt", 0) == 0);
}

/* Upload temp files in the change folder. */
static int temps(void)
{
	int n = 0;
	DIR *d = fdopendir(dup(chg_fd));
	rewinddir(d);
	for (struct dirent *de; d && (de = readdir(d));)
		n += strncmp(de->d_name, ".wharf-upload.", 14) == 0;
	if (d)
		closedir(d);
	return n;
}

static xfer_upload_t *upload_of(const char *data)
{
	xfer_upload_t *up = malloc(sizeof(*up));
	xfer_upload_init(up, NULL);
	CHECK_EQ_INT(xfer_upload_open(up, sub_fd(), "u.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(up, data, strlen(data)), WF_OK);
	CHECK_EQ_INT(xfer_upload_flush(up), WF_OK);
	return up;
}

static void test_drop_upload(void)
{
	/* No pool: the removal runs here. */
	xfer_fs_job_drop_upload(upload_of("some bytes"));
	CHECK_EQ_INT(temps(), 0);
	/* An empty one goes at once, a job or not. */
	xfer_fs_job_drop_upload(upload_of(""));
	CHECK_EQ_INT(temps(), 0);
	/* With a pool, detached: gone once the pool has run it (stopping it
	 * runs every queued job first). */
	CHECK_EQ_INT(wf_offload_start(1), WF_OK);
	xfer_upload_t *up = upload_of("more bytes");
	xfer_fs_job_drop_upload(up);
	wf_offload_stop();
	CHECK_EQ_INT(temps(), 0);
}

static void test_discard_upload(void)
{
	/* An upload its owner holds in place (HTTP's, in its exchange). */
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, sub_fd(), "u.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "some bytes", 10), WF_OK);
	CHECK_EQ_INT(xfer_upload_flush(&up), WF_OK);
	xfer_fs_job_discard_upload(&up);
	CHECK_EQ_INT(temps(), 0);
	CHECK(up.fd < 0 && up.dir_fd < 0);
	/* It may be opened again, then go with bytes only staged (an empty
	 * file), at once. */
	CHECK_EQ_INT(xfer_upload_open(&up, sub_fd(), "u.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "staged", 6), WF_OK);
	xfer_fs_job_discard_upload(&up);
	CHECK_EQ_INT(temps(), 0);
	/* With a pool, detached. */
	CHECK_EQ_INT(wf_offload_start(1), WF_OK);
	CHECK_EQ_INT(xfer_upload_open(&up, sub_fd(), "u.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "more bytes", 10), WF_OK);
	CHECK_EQ_INT(xfer_upload_flush(&up), WF_OK);
	xfer_fs_job_discard_upload(&up);
	wf_offload_stop();
	CHECK_EQ_INT(temps(), 0);
	/* Nothing left to discard: nothing happens. */
	xfer_fs_job_discard_upload(&up);
	xfer_upload_fini(&up);
}

/* A kind of its user's: counts steps up to a goal, failing at fail_at. */
typedef struct counter {
	int steps, goal, fail_at;
	int *dropped;
} counter_t;

static int counter_step(void *state, bool *more)
{
	counter_t *c = state;
	if (++c->steps == c->fail_at)
		return EIO;
	*more = c->steps < c->goal;
	return 0;
}

static void counter_drop(void *state)
{
	counter_t *c = state;
	(*c->dropped)++;
	free(c);
}

static const xfer_fs_job_ops_t counter_ops = { counter_step, counter_drop };
static const xfer_fs_job_ops_t other_ops = { counter_step, counter_drop };

static xfer_fs_job_t *counter_job(int goal, int fail_at, int *dropped)
{
	counter_t *c = calloc(1, sizeof(*c));
	CHECK(c != NULL);
	c->goal = goal;
	c->fail_at = fail_at;
	c->dropped = dropped;
	return xfer_fs_job_custom(&counter_ops, c);
}

static void test_custom(void)
{
	int dropped = 0;
	xfer_fs_job_t *j = counter_job(5, 0, &dropped);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	counter_t *c = xfer_fs_job_state(j, &counter_ops);
	CHECK(c != NULL);
	CHECK_EQ_INT(c ? c->steps : -1, 5);
	CHECK(xfer_fs_job_state(j, &other_ops) == NULL);
	CHECK_EQ_INT(dropped, 0);
	xfer_fs_job_free(j);
	CHECK_EQ_INT(dropped, 1);
	/* A failing step is the last. */
	j = counter_job(5, 2, &dropped);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), EIO);
	c = xfer_fs_job_state(j, &counter_ops);
	CHECK_EQ_INT(c ? c->steps : -1, 2);
	xfer_fs_job_free(j);
	CHECK_EQ_INT(dropped, 2);
	/* Freed unstarted: dropped all the same. */
	xfer_fs_job_free(counter_job(5, 0, &dropped));
	CHECK_EQ_INT(dropped, 3);
	/* A built-in kind has no user's state. */
	j = xfer_fs_job_mkdir(sub_fd(), "s");
	CHECK(xfer_fs_job_state(j, &counter_ops) == NULL);
	xfer_fs_job_free(j);
	CHECK(!exists("s"));
	xfer_fs_job_cancel(NULL); /* no job: nothing to let go of */
}

int main(void)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/wharf-fs-job-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	chg_fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(chg_fd >= 0);
	test_delete();
	test_delete_any();
	test_rmdir();
	test_guarded();
	test_folders_and_renames();
	test_remove();
	test_drop_upload();
	test_discard_upload();
	test_custom();
	/* Only what the tests made, all of it gone: no temp file left. */
	DIR *cd = fdopendir(chg_fd);
	for (struct dirent *de; cd && (de = readdir(cd));)
		CHECK(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
	if (cd)
		closedir(cd);
	rmdir(dir);
	return check_report();
}
