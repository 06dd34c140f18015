/* An upload's writes when the file cannot take them all (RLIMIT_FSIZE
 * stands in for a full disk: write(2) takes what fits, then fails): the
 * bytes written leave the stage, so a later flush, once there is room,
 * writes the rest once and the file holds each byte once, in order; and a
 * park whose staged tail does not fit keeps what was written before it,
 * saying why the tail was left out. A park that cannot rename leaves the
 * temp file, whole, to its owner (who removes it off the loop). A slow
 * client's stage is written once it is old. A resumption holds the one
 * claimed name of its leaf, so a second one is refused (EEXIST) and the
 * first keeps every byte; the claim needs no free inode (a tmpfs with none
 * left, when the test runs as root); a claimed name a dead process left is
 * put back as the partial (the newer of the two, when one stands there).
 * A partial parked just after its name got a file is the newer one.
 * A commit whose rename fails (a folder now stands under the final name)
 * parks the file, whole on disk, less its last byte, when it has a partial
 * name (FTP), resumed or fresh; not without one (HTTP), nor when another's
 * file took the name (STOU's no_replace). One whose fsync fails (EIO,
 * injected: no real peer makes a disk fail) parks nothing: its pages may
 * be lost. */
#include "transfer/partial_sweep.h"
#include "transfer/path.h"
#include "transfer/upload.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

static int dir_fd;

/* The errno the next fsync of a regular file fails with, else 0: a disk
 * that loses a write, which only a mock makes on demand. This definition
 * takes the place of the C library's for the code under test. */
static int fsync_fails;

int fsync(int fd)
{
	struct stat st;
	if (fsync_fails && fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
		errno = fsync_fails;
		fsync_fails = 0;
		return -1;
	}
	return (int)syscall(SYS_fsync, fd);
}

static void limit_file_size(rlim_t n)
{
	struct rlimit rl;
	CHECK(getrlimit(RLIMIT_FSIZE, &rl) == 0);
	rl.rlim_cur = n;
	CHECK(setrlimit(RLIMIT_FSIZE, &rl) == 0);
}

static size_t read_file(const char *name, char *out, size_t cap)
{
	int fd = openat(dir_fd, name, O_RDONLY);
	CHECK(fd >= 0);
	ssize_t n = read(fd, out, cap);
	close(fd);
	return n < 0 ? 0 : (size_t)n;
}

static void test_flush_after_a_short_write(void)
{
	char data[100], got[256];
	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)('A' + i % 26);
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "a.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, data, sizeof(data)), WF_OK); /* staged */
	limit_file_size(40);
	CHECK_EQ_INT(xfer_upload_flush(&up), -EFBIG);
	limit_file_size(RLIM_INFINITY);
	CHECK_EQ_INT(up.written, 40);
	CHECK_EQ_INT(wf_buf_size(&up.stage), 60);
	CHECK_EQ_INT(xfer_upload_park(&up, "a.partial"), WF_OK); /* room again: the other 60 */
	CHECK_EQ_INT(up.tail_err, 0);
	CHECK_EQ_INT(up.written, 100);
	CHECK_EQ_INT(read_file("a.partial", got, sizeof(got)), 100);
	CHECK(memcmp(got, data, sizeof(data)) == 0);
	xfer_upload_fini(&up);
}

static void test_park_whose_tail_does_not_fit(void)
{
	char got[256];
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "b.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "0123456789", 10), WF_OK);
	CHECK_EQ_INT(xfer_upload_flush(&up), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "abcdefghij", 10), WF_OK);
	limit_file_size(14);
	CHECK_EQ_INT(xfer_upload_park(&up, "b.partial"), WF_OK);
	limit_file_size(RLIM_INFINITY);
	CHECK_EQ_INT(up.tail_err, EFBIG);
	CHECK_EQ_INT(up.written, 14);
	CHECK_EQ_INT(read_file("b.partial", got, sizeof(got)), 14);
	CHECK(memcmp(got, "0123456789abcd", 14) == 0);
	struct stat st;
	CHECK(fstatat(dir_fd, "b.bin", &st, 0) != 0); /* no temp file left: it is the partial */
	xfer_upload_fini(&up);
}

static void test_park_that_cannot_rename(void)
{
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "c.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "0123456789", 10), WF_OK);
	CHECK(mkdirat(dir_fd, "c.partial", 0700) == 0); /* a folder holds the partial's name */
	CHECK_EQ_INT(xfer_upload_park(&up, "c.partial"), -EISDIR);
	CHECK(up.fd >= 0);
	struct stat st;
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) == 0);
	CHECK_EQ_INT(st.st_size, 10);
	CHECK(fstatat(dir_fd, "c.bin", &st, 0) != 0);
	xfer_upload_discard(&up); /* what its owner does, off the loop */
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) != 0);
	unlinkat(dir_fd, "c.partial", AT_REMOVEDIR);
	xfer_upload_fini(&up);
}

/* A slow client's bytes: staged while the stage is young, written once its
 * first byte is XFER_UPLOAD_STAGE_AGE seconds old (the clock is moved by
 * hand rather than waited for), by either way of staging. */
static void test_old_stage_is_written(void)
{
	struct stat st;
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "d.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "01234", 5), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "56789", 5), WF_OK);
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) == 0 && st.st_size == 0); /* young: staged */
	up.staged_since -= XFER_UPLOAD_STAGE_AGE;
	CHECK_EQ_INT(xfer_upload_write(&up, "a", 1), WF_OK);
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) == 0 && st.st_size == 11);
	CHECK_EQ_INT(wf_buf_size(&up.stage), 0);

	size_t cap;
	char *at = xfer_upload_space(&up, &cap);
	memcpy(at, "bc", 2);
	CHECK_EQ_INT(xfer_upload_wrote(&up, 2), WF_OK);
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) == 0 && st.st_size == 11);
	up.staged_since -= XFER_UPLOAD_STAGE_AGE;
	at = xfer_upload_space(&up, &cap);
	memcpy(at, "d", 1);
	CHECK_EQ_INT(xfer_upload_wrote(&up, 1), WF_OK);
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) == 0 && st.st_size == 14);
	xfer_upload_discard(&up);
	xfer_upload_fini(&up);
}

/* A stage limited to 16 KiB (a connection with many uploads) writes at
 * 16 KiB; a limit out of range is brought within it. */
static void test_stage_limit(void)
{
	static char data[40 * 1024];
	struct stat st;
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "e.bin"), WF_OK);
	xfer_upload_stage_limit(&up, 1);
	CHECK_EQ_INT(up.stage_max, XFER_UPLOAD_STAGE_MIN);
	CHECK_EQ_INT(xfer_upload_write(&up, data, 20 * 1024), WF_OK);
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) == 0 && st.st_size == 16 * 1024);
	CHECK_EQ_INT(wf_buf_size(&up.stage), 4 * 1024);
	xfer_upload_discard(&up);
	xfer_upload_fini(&up);

	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "e.bin"), WF_OK);
	xfer_upload_stage_limit(&up, (size_t)1 << 30);
	CHECK_EQ_INT(up.stage_max, XFER_UPLOAD_STAGE_MAX);
	CHECK_EQ_INT(xfer_upload_write(&up, data, sizeof(data)), WF_OK);
	CHECK(fstatat(dir_fd, up.tmp, &st, 0) == 0 && st.st_size == 0); /* all staged */
	xfer_upload_discard(&up);
	xfer_upload_fini(&up);
}

static void put(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static bool there(int dfd, const char *name)
{
	struct stat st;
	return fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

/* Does name (in dir_fd) hold text, and only that? */
static bool holds(const char *name, const char *text)
{
	char got[64] = "";
	size_t n = read_file(name, got, sizeof(got) - 1);
	return n == strlen(text) && memcmp(got, text, n) == 0;
}

/* Two resumptions of one leaf: the second finds the name claimed (EEXIST),
 * whether it meets a partial or not, and changes nothing; the first parks
 * or commits every byte. */
static void test_two_resumptions(void)
{
	char partial[NAME_MAX + 1], claimed[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("f.bin", partial, sizeof(partial)), 0);
	CHECK_EQ_INT(xfer_path_claimed_name("f.bin", claimed, sizeof(claimed)), 0);
	put(dir_fd, partial, "kept-");

	xfer_upload_t a, b;
	xfer_upload_init(&a, NULL);
	xfer_upload_init(&b, NULL);
	CHECK_EQ_INT(xfer_upload_claim(&a, dup(dir_fd), "f.bin", partial), WF_OK);
	CHECK_EQ_STR(a.tmp, claimed);
	CHECK_EQ_INT(a.written, 5);
	CHECK(!there(dir_fd, partial) && there(dir_fd, claimed));
	/* The second: no partial (ENOENT), and the claimed name is taken. */
	CHECK_EQ_INT(xfer_upload_claim(&b, dup(dir_fd), "f.bin", partial), -ENOENT);
	CHECK_EQ_INT(xfer_upload_open_claimed(&b, dup(dir_fd), "f.bin"), -EEXIST);
	/* A partial parked meanwhile (a plain STOR cut short) cannot be
	 * claimed either while a resumption holds the name. */
	put(dir_fd, partial, "other");
	CHECK_EQ_INT(xfer_upload_claim(&b, dup(dir_fd), "f.bin", partial), -EEXIST);
	CHECK(holds(partial, "other"));
	CHECK(unlinkat(dir_fd, partial, 0) == 0);
	CHECK_EQ_INT(b.fd, -1);
	CHECK_EQ_INT(b.dir_fd, -1);

	CHECK_EQ_INT(xfer_upload_write(&a, "suffix", 6), WF_OK);
	int err = -1;
	CHECK_EQ_INT(xfer_upload_commit(&a, NULL, NULL, NULL, &err), WF_DONE);
	CHECK_EQ_INT(err, 0);
	CHECK(holds("f.bin", "kept-suffix"));
	CHECK(!there(dir_fd, claimed));

	/* Free again: a resumption from the file's bytes creates the name. */
	CHECK_EQ_INT(xfer_upload_open_claimed(&b, dup(dir_fd), "f.bin"), WF_OK);
	CHECK_EQ_STR(b.tmp, claimed);
	CHECK_EQ_INT(xfer_upload_open_claimed(&a, dup(dir_fd), "f.bin"), -EEXIST);
	CHECK_EQ_INT(xfer_upload_write(&b, "0123", 4), WF_OK);
	CHECK_EQ_INT(xfer_upload_park(&b, partial), WF_OK);
	CHECK(there(dir_fd, partial) && !there(dir_fd, claimed));
	CHECK(unlinkat(dir_fd, partial, 0) == 0);
	CHECK(unlinkat(dir_fd, "f.bin", 0) == 0);
	xfer_upload_fini(&a);
	xfer_upload_fini(&b);
}

/* A claim whose open fails after the rename (no descriptor left): the
 * partial goes back under its name, and the claimed name does not stay
 * behind (it would refuse every later resumption with 450). */
static void test_claim_that_cannot_open(void)
{
	char partial[NAME_MAX + 1], claimed[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("g.bin", partial, sizeof(partial)), 0);
	CHECK_EQ_INT(xfer_path_claimed_name("g.bin", claimed, sizeof(claimed)), 0);
	put(dir_fd, partial, "kept");
	xfer_upload_t u;
	xfer_upload_init(&u, NULL);
	int mine = dup(dir_fd);
	struct rlimit was, rl;
	CHECK(getrlimit(RLIMIT_NOFILE, &was) == 0);
	/* Every descriptor below the limit taken: the claim's openat fails. */
	int top = dup(0);
	CHECK(top >= 0);
	close(top);
	rl = was;
	rl.rlim_cur = (rlim_t)top;
	CHECK(setrlimit(RLIMIT_NOFILE, &rl) == 0);
	CHECK_EQ_INT(xfer_upload_claim(&u, mine, "g.bin", partial), -EMFILE);
	CHECK(setrlimit(RLIMIT_NOFILE, &was) == 0);
	CHECK(holds(partial, "kept"));
	CHECK(!there(dir_fd, claimed));
	CHECK_EQ_INT(u.dir_fd, -1);
	CHECK(unlinkat(dir_fd, partial, 0) == 0);
	xfer_upload_fini(&u);
}

/* A file last written age seconds ago. */
static void age(int dfd, const char *name, time_t secs)
{
	struct timespec t[2] = { { time(NULL) - secs, 0 }, { time(NULL) - secs, 0 } };
	CHECK(utimensat(dfd, name, t, AT_SYMLINK_NOFOLLOW) == 0);
}

/* A partial parked right after its name got a file (written, looked at,
 * chowned: the kernel then stamps its ctime finer than the coarse clock,
 * up to a tick ahead of it) is still the newer of the two: its bytes came
 * after the file. (Only kernels with fine-grained ctimes, 6.13 on, could
 * tell the coarse clock wrong here; older ones pass either way.) */
static void test_park_just_after_the_name_changed(void)
{
	char partial[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("fresh.bin", partial, sizeof(partial)), 0);
	int dropped = 0;
	for (int i = 0; i < 50; i++) {
		put(dir_fd, "fresh.bin", "complete\n");
		struct stat st;
		CHECK(fstatat(dir_fd, "fresh.bin", &st, 0) == 0); /* the ctime was seen: the next one is fine */
		CHECK(fchmodat(dir_fd, "fresh.bin", 0640, 0) == 0);
		xfer_upload_t up;
		xfer_upload_init(&up, NULL);
		CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "fresh.bin"), WF_OK);
		CHECK_EQ_INT(xfer_upload_write(&up, "part", 4), WF_OK);
		CHECK_EQ_INT(xfer_upload_park(&up, partial), WF_OK);
		xfer_upload_fini(&up);
		if (xfer_partial_check(dir_fd, partial, "fresh.bin", time(NULL), 0) != XFER_PARTIAL_LIVE)
			dropped++;
	}
	CHECK_EQ_INT(dropped, 0);
	unlinkat(dir_fd, partial, 0);
	unlinkat(dir_fd, "fresh.bin", 0);
}

static void test_recover(void)
{
	char partial[NAME_MAX + 1], claimed[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("g.bin", partial, sizeof(partial)), 0);
	CHECK_EQ_INT(xfer_path_claimed_name("g.bin", claimed, sizeof(claimed)), 0);
	struct timespec later = { time(NULL) + 10, 0 }, before = { 0, 0 };
	time_t now = time(NULL);

	/* Live (changed since the process started, or written lately): stays. */
	put(dir_fd, claimed, "held");
	age(dir_fd, claimed, 3600);
	CHECK_EQ_INT(xfer_upload_recover(dir_fd, "g.bin", now, 100, before), -EBUSY);
	age(dir_fd, claimed, 50);
	CHECK_EQ_INT(xfer_upload_recover(dir_fd, "g.bin", now, 100, later), -EBUSY);
	CHECK(there(dir_fd, claimed) && !there(dir_fd, partial));

	/* An orphan: back as the partial, bytes and all. */
	age(dir_fd, claimed, 3600);
	CHECK_EQ_INT(xfer_upload_recover(dir_fd, "g.bin", now, 100, later), 1);
	CHECK(!there(dir_fd, claimed) && holds(partial, "held"));
	/* None left: nothing to do. */
	CHECK_EQ_INT(xfer_upload_recover(dir_fd, "g.bin", now, 100, later), 0);

	/* A partial newer than the orphan stays; the orphan goes. */
	put(dir_fd, claimed, "older");
	age(dir_fd, claimed, 7200);
	age(dir_fd, partial, 3600);
	CHECK_EQ_INT(xfer_upload_recover(dir_fd, "g.bin", now, 100, later), 0);
	CHECK(!there(dir_fd, claimed) && holds(partial, "held"));
	/* An orphan newer than the partial takes its place. */
	put(dir_fd, claimed, "newer");
	age(dir_fd, claimed, 1800);
	CHECK_EQ_INT(xfer_upload_recover(dir_fd, "g.bin", now, 100, later), 1);
	CHECK(!there(dir_fd, claimed) && holds(partial, "newer"));
	/* An empty orphan (its process died before a byte): removed, no partial made of it. */
	CHECK(unlinkat(dir_fd, partial, 0) == 0);
	put(dir_fd, claimed, "");
	age(dir_fd, claimed, 3600);
	CHECK_EQ_INT(xfer_upload_recover(dir_fd, "g.bin", now, 100, later), 0);
	CHECK(!there(dir_fd, claimed) && !there(dir_fd, partial));

	/* The sweep's and RMD's removal: an orphan only. */
	put(dir_fd, claimed, "x");
	age(dir_fd, claimed, 3600);
	CHECK(!xfer_upload_remove_orphan_claim(dir_fd, claimed, now, 100, before));
	CHECK(!xfer_upload_remove_orphan_claim(dir_fd, claimed, now, 7200, later));
	CHECK(xfer_upload_remove_orphan_claim(dir_fd, claimed, now, 100, later));
	CHECK(!there(dir_fd, claimed));
}

/* A file system with no inode left: a claim is a rename, and the sweep's
 * too, so both still work; a fresh upload (a new file) cannot start. Needs
 * root for the mount: skipped otherwise. */
static void test_no_free_inode(void)
{
	char mnt[64];
	snprintf(mnt, sizeof(mnt), "/tmp/wharf-inodes-XXXXXX");
	if (!mkdtemp(mnt))
		return;
	if (mount("tmpfs", mnt, "tmpfs", 0, "size=1m,nr_inodes=8") != 0) {
		printf("no tmpfs mount (%s): the no-free-inode case is skipped\n", strerror(errno));
		rmdir(mnt);
		return;
	}
	int dfd = open(mnt, O_RDONLY | O_DIRECTORY);
	CHECK(dfd >= 0);
	char partial[NAME_MAX + 1], claimed[NAME_MAX + 1], stale[NAME_MAX + 1], name[32];
	CHECK_EQ_INT(xfer_path_partial_name("h.bin", partial, sizeof(partial)), 0);
	CHECK_EQ_INT(xfer_path_claimed_name("h.bin", claimed, sizeof(claimed)), 0);
	CHECK_EQ_INT(xfer_path_partial_name("old.bin", stale, sizeof(stale)), 0);
	put(dfd, partial, "kept-");
	put(dfd, stale, "stale");
	age(dfd, stale, 30 * 86400);
	/* Fill the inodes up. */
	int n = 0;
	for (;; n++) {
		snprintf(name, sizeof(name), "fill%d", n);
		int fd = openat(dfd, name, O_CREAT | O_EXCL | O_WRONLY, 0644);
		if (fd < 0) {
			CHECK_EQ_INT(errno, ENOSPC);
			break;
		}
		close(fd);
	}
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dfd), "new.bin"), -ENOSPC); /* no inode: as expected */
	CHECK_EQ_INT(xfer_upload_claim(&up, dup(dfd), "h.bin", partial), WF_OK);
	CHECK_EQ_INT(up.written, 5);
	CHECK_EQ_INT(xfer_upload_write(&up, "more", 4), WF_OK);
	CHECK_EQ_INT(xfer_upload_park(&up, partial), WF_OK);
	char got[16] = "";
	int fd = openat(dfd, partial, O_RDONLY);
	CHECK(fd >= 0 && read(fd, got, sizeof(got) - 1) == 9);
	if (fd >= 0)
		close(fd);
	CHECK_EQ_STR(got, "kept-more");
	xfer_upload_fini(&up);

	/* The sweep claims the stale partial (a rename too) and removes it. */
	wf_user_cfg_t user = { .name = "u", .home = mnt, .home_fd = dfd };
	wf_config_t cfg = { .users = &user, .nusers = 1 };
	cfg.limits.partial_upload_max_age = 86400;
	cfg.limits.send_timeout = 60;
	CHECK_EQ_INT(xfer_partial_sweep(&cfg, time(NULL), (struct timespec){ 0, 0 }), 1);
	CHECK(!there(dfd, stale) && there(dfd, partial) && !there(dfd, claimed));

	close(dfd);
	CHECK(umount(mnt) == 0);
	rmdir(mnt);
}

/* A resumption of name: its partial (text "kept-") claimed, "more" added,
 * and the partial name set for a failed commit to park under. */
static void resume(xfer_upload_t *up, const char *name, char *partial)
{
	CHECK_EQ_INT(xfer_path_partial_name(name, partial, NAME_MAX + 1), 0);
	put(dir_fd, partial, "kept-");
	xfer_upload_init(up, NULL);
	CHECK_EQ_INT(xfer_upload_claim(up, dup(dir_fd), name, partial), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(up, "more", 4), WF_OK);
	snprintf(up->park_as, sizeof(up->park_as), "%s", partial);
}

static void test_commit_rename_fails(void)
{
	char partial[NAME_MAX + 1], claimed[NAME_MAX + 1];
	xfer_upload_t up;
	int err = 0;
	struct stat st;

	/* Resumed: the earlier bytes and the new ones are kept, but the last. */
	resume(&up, "g.bin", partial);
	CHECK_EQ_INT(xfer_path_claimed_name("g.bin", claimed, sizeof(claimed)), 0);
	CHECK(mkdirat(dir_fd, "g.bin", 0700) == 0); /* a folder took the name meanwhile */
	struct timespec last = up.last_byte;
	CHECK_EQ_INT(xfer_upload_commit(&up, NULL, NULL, NULL, &err), WF_DONE);
	CHECK_EQ_INT(err, EISDIR);
	CHECK_EQ_INT(up.outcome.fail, XFER_UPLOAD_FAIL_RENAME);
	CHECK_EQ_INT(up.outcome.size, 9);
	CHECK_EQ_INT(up.outcome.kept, 8);
	CHECK(holds(partial, "kept-mor"));
	CHECK(!there(dir_fd, claimed));
	CHECK(fstatat(dir_fd, "g.bin", &st, 0) == 0 && S_ISDIR(st.st_mode));
	/* Its mtime is the client's last byte's, as a park's: a file put
	 * under the name after it replaces it (xfer_partial_replaced). */
	CHECK(fstatat(dir_fd, partial, &st, 0) == 0);
	CHECK(st.st_mtim.tv_sec == last.tv_sec && st.st_mtim.tv_nsec == last.tv_nsec);
	xfer_upload_fini(&up);
	/* Once the name is free, the resumption sends the last byte and stores the file. */
	CHECK(unlinkat(dir_fd, "g.bin", AT_REMOVEDIR) == 0);
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_claim(&up, dup(dir_fd), "g.bin", partial), WF_OK);
	CHECK_EQ_INT(up.written, 8);
	CHECK_EQ_INT(xfer_upload_write(&up, "e", 1), WF_OK);
	CHECK_EQ_INT(xfer_upload_commit(&up, NULL, NULL, NULL, &err), WF_DONE);
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_INT(up.outcome.fail, XFER_UPLOAD_FAIL_NONE);
	CHECK(holds("g.bin", "kept-more"));
	CHECK(!there(dir_fd, partial));
	xfer_upload_fini(&up);

	/* Fresh, with a partial name (FTP's STOR): kept as a cut one would be. */
	CHECK_EQ_INT(xfer_path_partial_name("h.bin", partial, sizeof(partial)), 0);
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "h.bin"), WF_OK);
	snprintf(up.park_as, sizeof(up.park_as), "%s", partial);
	CHECK_EQ_INT(xfer_upload_write(&up, "0123456789", 10), WF_OK);
	char tmp[NAME_MAX + 1];
	snprintf(tmp, sizeof(tmp), "%s", up.tmp);
	CHECK(mkdirat(dir_fd, "h.bin", 0700) == 0);
	CHECK_EQ_INT(xfer_upload_commit(&up, NULL, NULL, NULL, &err), WF_DONE);
	CHECK_EQ_INT(err, EISDIR);
	CHECK_EQ_INT(up.outcome.kept, 9);
	CHECK(holds(partial, "012345678"));
	CHECK(!there(dir_fd, tmp));
	xfer_upload_fini(&up);
	CHECK(unlinkat(dir_fd, partial, 0) == 0);

	/* Without a partial name (HTTP): the temp file goes, as before. */
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "h.bin"), WF_OK);
	CHECK_EQ_INT(xfer_upload_write(&up, "0123456789", 10), WF_OK);
	snprintf(tmp, sizeof(tmp), "%s", up.tmp);
	CHECK_EQ_INT(xfer_upload_commit(&up, NULL, NULL, NULL, &err), WF_DONE);
	CHECK_EQ_INT(err, EISDIR);
	CHECK_EQ_INT(up.outcome.fail, XFER_UPLOAD_FAIL_RENAME);
	CHECK_EQ_INT(up.outcome.kept, 0);
	CHECK(!there(dir_fd, tmp) && !there(dir_fd, partial));
	xfer_upload_fini(&up);
	CHECK(unlinkat(dir_fd, "h.bin", AT_REMOVEDIR) == 0);

	/* A name no_replace keeps (STOU) holds another's newer file: nothing to resume. */
	put(dir_fd, "i.bin", "theirs");
	CHECK_EQ_INT(xfer_path_partial_name("i.bin", partial, sizeof(partial)), 0);
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "i.bin"), WF_OK);
	up.no_replace = true;
	snprintf(up.park_as, sizeof(up.park_as), "%s", partial);
	CHECK_EQ_INT(xfer_upload_write(&up, "mine", 4), WF_OK);
	snprintf(tmp, sizeof(tmp), "%s", up.tmp);
	CHECK_EQ_INT(xfer_upload_commit(&up, NULL, NULL, NULL, &err), WF_DONE);
	CHECK_EQ_INT(err, EEXIST);
	CHECK_EQ_INT(up.outcome.kept, 0);
	CHECK(!there(dir_fd, tmp) && !there(dir_fd, partial));
	CHECK(holds("i.bin", "theirs"));
	xfer_upload_fini(&up);
	CHECK(unlinkat(dir_fd, "i.bin", 0) == 0);
}

static void test_commit_fsync_fails(void)
{
	char partial[NAME_MAX + 1], claimed[NAME_MAX + 1];
	xfer_upload_t up;
	int err = 0;
	resume(&up, "j.bin", partial);
	CHECK_EQ_INT(xfer_path_claimed_name("j.bin", claimed, sizeof(claimed)), 0);
	fsync_fails = EIO;
	CHECK_EQ_INT(xfer_upload_commit(&up, NULL, NULL, NULL, &err), WF_DONE);
	CHECK_EQ_INT(fsync_fails, 0); /* the commit's fsync met it */
	CHECK_EQ_INT(err, EIO);
	CHECK_EQ_INT(up.outcome.fail, XFER_UPLOAD_FAIL_SYNC);
	CHECK_EQ_INT(up.outcome.size, 9);
	CHECK_EQ_INT(up.outcome.kept, 0);
	/* No partial poses as resumable, nor is anything stored. */
	CHECK(!there(dir_fd, partial) && !there(dir_fd, claimed) && !there(dir_fd, "j.bin"));
	xfer_upload_fini(&up);
}

int main(void)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/wharf-upload-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY);
	signal(SIGXFSZ, SIG_IGN); /* past the limit, write(2) fails with EFBIG */

	test_flush_after_a_short_write();
	test_park_whose_tail_does_not_fit();
	test_park_that_cannot_rename();
	test_old_stage_is_written();
	test_stage_limit();
	test_two_resumptions();
	test_claim_that_cannot_open();
	test_park_just_after_the_name_changed();
	test_recover();
	test_no_free_inode();
	test_commit_rename_fails();
	test_commit_fsync_fails();

	unlinkat(dir_fd, "a.partial", 0);
	unlinkat(dir_fd, "b.partial", 0);
	close(dir_fd);
	rmdir(dir);
	return check_report();
}
