/* An upload's writes when the file cannot take them all (RLIMIT_FSIZE
 * stands in for a full disk: write(2) takes what fits, then fails): the
 * bytes written leave the stage, so a later flush, once there is room,
 * writes the rest once and the file holds each byte once, in order; and a
 * park whose staged tail does not fit keeps what was written before it,
 * saying why the tail was left out. A park that cannot rename leaves the
 * temp file, whole, to its owner (who removes it off the loop). A slow
 * client's stage is written once it is old. */
#include "transfer/upload.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

static int dir_fd;

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

	unlinkat(dir_fd, "a.partial", 0);
	unlinkat(dir_fd, "b.partial", 0);
	close(dir_fd);
	rmdir(dir);
	return check_report();
}
