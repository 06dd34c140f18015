/* The sweep of stale interrupted uploads: what it removes (stale partials at
 * any depth it may reach, temp files a dead process left, the claimed names
 * of resumptions a dead process left once stale), what it leaves (fresh
 * partials, temp files and claimed names of uploads in flight, a stale
 * partial whose claimed name a resumption holds, users' files, anything
 * behind a symlink or below the depth bound), and that max_age 0 keeps the
 * partials and claimed names but not the temp files a dead process left. */
#include "transfer/partial_sweep.h"
#include "transfer/path.h"

#include "check.h"

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define NOW ((time_t)2000000000)
#define DAY 86400

static char root[64];

static void path_of(char *p, const char *rel)
{
	snprintf(p, PATH_MAX, "%s/%s", root, rel);
}

/* A file last written `age` seconds before NOW. */
static void put_file(const char *rel, time_t age)
{
	char p[PATH_MAX];
	path_of(p, rel);
	int fd = open(p, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	if (fd < 0 || write(fd, "x", 1) != 1) {
		perror(p);
		exit(2);
	}
	close(fd);
	struct timeval tv[2] = { { NOW - age, 0 }, { NOW - age, 0 } };
	if (utimes(p, tv) != 0) {
		perror(p);
		exit(2);
	}
}

static void remove_file(const char *rel)
{
	char p[PATH_MAX];
	path_of(p, rel);
	if (unlink(p) != 0) {
		perror(p);
		exit(2);
	}
}

static void put_dir(const char *rel)
{
	char p[PATH_MAX];
	path_of(p, rel);
	if (mkdir(p, 0755) != 0) {
		perror(p);
		exit(2);
	}
}

static int exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;
	path_of(p, rel);
	return lstat(p, &st) == 0;
}

/* Names in folder rel that the sweep's own claims use (a claimed name; an
 * older sweep's temp name). */
static int swept_names(const char *rel)
{
	char p[PATH_MAX];
	path_of(p, rel);
	DIR *d = opendir(p);
	if (!d) {
		perror(p);
		exit(2);
	}
	int n = 0;
	for (struct dirent *de; (de = readdir(d));)
		n += strncmp(de->d_name, ".wharf-upload.swept", 19) == 0 || xfer_path_is_claimed(de->d_name);
	closedir(d);
	return n;
}

static int open_home(const char *rel)
{
	char p[PATH_MAX];
	path_of(p, rel);
	int fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		perror(p);
		exit(2);
	}
	return fd;
}

int main(void)
{
	snprintf(root, sizeof(root), "/tmp/wharf-sweep-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	put_dir("home");
	put_dir("home/a");
	put_dir("home/a/b");
	put_dir("home/b-held");
	put_dir("outside");
	put_dir("other");
	put_file("home/.wharf-upload.old.bin.partial", 8 * DAY);
	put_file("home/a/b/.wharf-upload.deep.bin.partial", 30 * DAY);
	put_file("home/a/.wharf-upload.fresh.bin.partial", 1 * DAY);
	put_file("home/a/.wharf-upload.inflight.bin.0123456789abcdef", 60); /* a temp file, not a partial */
	put_file("home/a/.wharf-upload.dead.bin.fedcba9876543210", 8 * DAY); /* a killed process's */
	put_file("home/.wharf-upload.swept.00112233aabbccdd", 8 * DAY);      /* killed mid-sweep */
	put_file("home/a/old-user-file.txt", 300 * DAY);
	/* The claimed names of resumptions a killed process left: its partials. */
	put_file("home/a/.wharf-upload.killed.bin.claimed", 8 * DAY);
	put_file("home/.wharf-upload.recent.bin.claimed", 1 * DAY);
	/* A stale partial parked while a resumption holds its claimed name:
	 * the sweep cannot claim it (it never takes a claimed name over). */
	put_file("home/b-held/.wharf-upload.held.bin.partial", 30 * DAY);
	put_file("home/b-held/.wharf-upload.held.bin.claimed", 60);
	put_file("home/a/x.partial", 300 * DAY);
	put_file("outside/.wharf-upload.theirs.partial", 30 * DAY);
	put_file("other/.wharf-upload.second-home.partial", 30 * DAY);
	char p[PATH_MAX], target[PATH_MAX];
	path_of(p, "home/link");
	path_of(target, "outside");
	if (symlink(target, p) != 0) {
		perror(p);
		return 2;
	}
	/* A folder chain deeper than the sweep goes: its partial stays. */
	char deep[PATH_MAX] = "home";
	for (int i = 0; i <= XFER_SWEEP_MAX_DEPTH; i++) {
		strcat(deep, "/d");
		put_dir(deep);
	}
	strcat(deep, "/.wharf-upload.too-deep.partial");
	put_file(deep, 30 * DAY);

	wf_user_cfg_t users[2] = { { .name = "u", .home = "home", .home_fd = open_home("home") },
				   { .name = "v", .home = "other", .home_fd = open_home("other") } };
	wf_config_t cfg = { .users = users, .nusers = 2 };
	/* A start after every file here was made: their temp files are an
	 * earlier process's. */
	struct timespec earlier = { time(NULL) + 10, 0 }, ours = { 0, 0 };

	/* 0: partials are kept forever; the temp files a dead process left
	 * (which nobody resumes) still go, once past twice send_timeout and the
	 * stage's age (140 s): not the one written 60 s ago. */
	cfg.limits.partial_upload_max_age = 0;
	cfg.limits.send_timeout = 60;
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW, earlier), 2);
	CHECK(exists("home/.wharf-upload.old.bin.partial"));
	CHECK(exists("home/a/b/.wharf-upload.deep.bin.partial"));
	CHECK(exists("home/a/.wharf-upload.inflight.bin.0123456789abcdef"));
	CHECK(!exists("home/a/.wharf-upload.dead.bin.fedcba9876543210"));
	CHECK(!exists("home/.wharf-upload.swept.00112233aabbccdd"));
	/* A claimed name is a partial, not a temp file: kept with max_age 0. */
	CHECK(exists("home/a/.wharf-upload.killed.bin.claimed"));
	CHECK(exists("home/.wharf-upload.recent.bin.claimed"));

	cfg.limits.partial_upload_max_age = 7 * DAY;
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW, earlier), 4);
	CHECK(!exists("home/a/.wharf-upload.killed.bin.claimed"));
	CHECK(exists("home/.wharf-upload.recent.bin.claimed"));
	CHECK(exists("home/b-held/.wharf-upload.held.bin.partial"));
	CHECK(exists("home/b-held/.wharf-upload.held.bin.claimed"));
	CHECK(!exists("home/.wharf-upload.old.bin.partial"));
	CHECK(!exists("home/a/b/.wharf-upload.deep.bin.partial"));
	CHECK(!exists("other/.wharf-upload.second-home.partial"));
	CHECK(exists("home/a/.wharf-upload.fresh.bin.partial"));
	CHECK(exists("home/a/.wharf-upload.inflight.bin.0123456789abcdef"));
	CHECK(exists("home/a/old-user-file.txt"));
	CHECK(exists("home/a/x.partial"));
	CHECK(exists("outside/.wharf-upload.theirs.partial"));
	CHECK(exists("home/link"));
	CHECK(exists(deep));
	/* The sweep claims each partial under a temp name before it unlinks it
	 * (as a resuming session does): none of those names is left behind. */
	CHECK_EQ_INT(swept_names("home/a/b") + swept_names("other"), 0);
	CHECK_EQ_INT(swept_names("home"), 1); /* recent.bin's */
	/* Nothing left to do: a second sweep removes nothing. */
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW, earlier), 0);
	remove_file("home/b-held/.wharf-upload.held.bin.partial");
	remove_file("home/b-held/.wharf-upload.held.bin.claimed");
	/* A week later the fresh one is stale too, the temp file of then is
	 * no upload's any more, and the claimed name of then is stale. */
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW + 7 * DAY, earlier), 3);
	CHECK(!exists("home/a/.wharf-upload.fresh.bin.partial"));
	CHECK(!exists("home/a/.wharf-upload.inflight.bin.0123456789abcdef"));
	CHECK(!exists("home/.wharf-upload.recent.bin.claimed"));

	/* A temp file this process made, claimed or wrote to (changed since its
	 * start) is an upload's, however long ago its data last came: a client
	 * sending a byte a second, a slow commit. Never taken. */
	put_file("home/a/.wharf-upload.stalled.bin.0123456789abcdef", 100);
	cfg.limits.partial_upload_max_age = 10;
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW + 100 * DAY, ours), 0);
	CHECK(exists("home/a/.wharf-upload.stalled.bin.0123456789abcdef"));
	/* An earlier process's, with a short max_age: twice send_timeout and
	 * the stage's age (140 s) is the least age; it was written 100 s ago. */
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW, earlier), 0);
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW + 40, earlier), 0);
	CHECK(exists("home/a/.wharf-upload.stalled.bin.0123456789abcdef"));
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW + 41, earlier), 1);

	/* A claimed name this process made is a live resumption's, however
	 * old its last write: never taken, stale or not. */
	put_file("home/a/.wharf-upload.slow.bin.claimed", 100 * DAY);
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW, ours), 0);
	CHECK(exists("home/a/.wharf-upload.slow.bin.claimed"));
	/* Seen as an earlier process's, it goes. */
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW, earlier), 1);
	CHECK(!exists("home/a/.wharf-upload.slow.bin.claimed"));
	/* A stale partial is claimed under its claimed name to be removed: not
	 * while a live resumption holds that name, which stays as it was. */
	put_file("home/a/.wharf-upload.busy.bin.partial", 30 * DAY);
	put_file("home/a/.wharf-upload.busy.bin.claimed", 30 * DAY);
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, NOW, ours), 0);
	CHECK(exists("home/a/.wharf-upload.busy.bin.partial"));
	CHECK(exists("home/a/.wharf-upload.busy.bin.claimed"));

	struct stat st = { .st_mtime = NOW - 7 * DAY };
	CHECK(!xfer_partial_stale(&st, NOW, 7 * DAY)); /* "older than": not at the age itself */
	CHECK(xfer_partial_stale(&st, NOW + 1, 7 * DAY));
	CHECK(!xfer_partial_stale(&st, NOW + 100 * DAY, 0));
	/* Replaced: its name's file changed after the partial's last write. */
	struct stat part = { .st_mtim = { .tv_sec = NOW, .tv_nsec = 500 } };
	struct stat name = { .st_ctim = { .tv_sec = NOW, .tv_nsec = 500 } };
	CHECK(!xfer_partial_replaced(&part, NULL));
	CHECK(!xfer_partial_replaced(&part, &name)); /* the same moment: not after */
	name.st_ctim.tv_nsec = 501;
	CHECK(xfer_partial_replaced(&part, &name));
	name.st_ctim = (struct timespec){ .tv_sec = NOW + 1 };
	CHECK(xfer_partial_replaced(&part, &name));
	name.st_ctim = (struct timespec){ .tv_sec = NOW - 1, .tv_nsec = 999999999 };
	CHECK(!xfer_partial_replaced(&part, &name));

	close(users[0].home_fd);
	close(users[1].home_fd);
	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	if (system(p) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_report();
}
