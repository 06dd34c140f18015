/* FTP jobs run where no offload pool is (inline, WF_DONE): a folder's
 * listing in each style, without ".", ".." and hidden upload files, within
 * its entry count and its buffer's cap, over more entries than one step
 * reads; a listing of what is not a folder failing with ENOTDIR; a copy of
 * a file's head into an upload, in steps past the first 16 MiB, and one
 * past the end of its source failing; the changes of DELE (a file and its
 * partial, a stale partial, a folder refused), RMD, MKD and RNTO (with and
 * without replacing), each in the folder fd it was given; a resumed
 * upload cut back, and parked again when its job is let go of; the
 * removal of one name (always, or only when stale) with nothing else
 * touched; an upload dropped off the loop by a detached removal, with and
 * without a pool, an empty one at once. */
#include "transfer/ftp_job.h"

#include "check.h"

#include "transfer/path.h"
#include "server/offload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[64];

static void put(const char *name, const char *data)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, data, strlen(data)), (long long)strlen(data));
	close(fd);
}

/* The listing's lines, sorted, joined by '|' (readdir's order is the file
 * system's). */
static const char *run_listing(xfer_ftp_list_kind_t kind, size_t max_entries, size_t cap, int *err)
{
	static char joined[1024];
	int fd = open(dir, O_RDONLY | O_DIRECTORY);
	CHECK(fd >= 0);
	wf_buf_t *out = malloc(sizeof(*out));
	wf_buf_init(out, cap);
	xfer_ftp_list_style_t style = { .kind = kind, .facts = XFER_MLST_TYPE, .now = 0 };
	xfer_ftp_job_t *j = xfer_ftp_job_listing(fd, &style, out, max_entries);
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_ftp_job_start(j, NULL, NULL, NULL), WF_DONE);
	*err = xfer_ftp_job_err(j);
	out = xfer_ftp_job_take_listing(j);
	xfer_ftp_job_free(j);
	char text[1024] = "";
	size_t n = wf_buf_size(out) < sizeof(text) - 1 ? wf_buf_size(out) : sizeof(text) - 1;
	memcpy(text, wf_buf_head(out), n);
	text[n] = '\0';
	wf_buf_fini(out);
	free(out);
	char *lines[16];
	size_t nl = 0;
	for (char *save, *l = strtok_r(text, "\r\n", &save); l && nl < 16; l = strtok_r(NULL, "\r\n", &save))
		lines[nl++] = l;
	for (size_t i = 1; i < nl; i++)
		for (size_t k = i; k > 0 && strcmp(lines[k - 1], lines[k]) > 0; k--) {
			char *t = lines[k];
			lines[k] = lines[k - 1];
			lines[k - 1] = t;
		}
	joined[0] = '\0';
	for (size_t i = 0; i < nl; i++) {
		if (i)
			strcat(joined, "|");
		strncat(joined, lines[i], sizeof(joined) - strlen(joined) - 2);
	}
	return joined;
}

static void test_listing(void)
{
	int err = -1;
	CHECK_EQ_STR(run_listing(XFER_FTP_LIST_NAMES, 100, 4096, &err), "a.txt|b.txt|sub");
	CHECK_EQ_INT(err, 0);
	CHECK_EQ_STR(run_listing(XFER_FTP_LIST_FACTS, 100, 4096, &err),
		     "type=dir; sub|type=file; a.txt|type=file; b.txt");
	CHECK_EQ_INT(err, 0);
	/* At most max_entries entries, whichever readdir gives first. */
	const char *two = run_listing(XFER_FTP_LIST_NAMES, 2, 4096, &err);
	CHECK(strchr(two, '|') != NULL && strchr(strchr(two, '|') + 1, '|') == NULL);
	/* The buffer's cap: whole lines that fit, no error. */
	const char *capped = run_listing(XFER_FTP_LIST_NAMES, 100, 8, &err);
	CHECK(strchr(capped, '|') == NULL && strlen(capped) > 0);
	CHECK_EQ_INT(err, 0);

	/* A file is no folder. */
	char path[128];
	snprintf(path, sizeof(path), "%s/a.txt", dir);
	wf_buf_t *out = malloc(sizeof(*out));
	wf_buf_init(out, 4096);
	xfer_ftp_list_style_t style = { .kind = XFER_FTP_LIST_NAMES };
	xfer_ftp_job_t *j = xfer_ftp_job_listing(open(path, O_RDONLY), &style, out, 100);
	CHECK_EQ_INT(xfer_ftp_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_ftp_job_err(j), ENOTDIR);
	xfer_ftp_job_free(j); /* frees the listing it still holds */
}

/* Lines of a NLST of path (a folder), in however many steps it takes. */
static size_t count_lines(const char *path, size_t max_entries)
{
	wf_buf_t *out = malloc(sizeof(*out));
	wf_buf_init(out, 1 << 20);
	xfer_ftp_list_style_t style = { .kind = XFER_FTP_LIST_NAMES };
	xfer_ftp_job_t *j = xfer_ftp_job_listing(open(path, O_RDONLY | O_DIRECTORY), &style, out, max_entries);
	CHECK_EQ_INT(xfer_ftp_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_ftp_job_err(j), 0);
	out = xfer_ftp_job_take_listing(j);
	xfer_ftp_job_free(j);
	size_t n = 0;
	for (size_t i = 0; i < wf_buf_size(out); i++)
		n += wf_buf_head(out)[i] == '\n';
	wf_buf_fini(out);
	free(out);
	return n;
}

/* More entries than one step reads. */
static void test_listing_in_steps(void)
{
	char many[128], path[192];
	snprintf(many, sizeof(many), "%s/sub", dir);
	for (int i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "%s/e%05d", many, i);
		close(open(path, O_CREAT | O_WRONLY, 0644));
	}
	CHECK_EQ_INT(count_lines(many, 100000), 10000);
	CHECK_EQ_INT(count_lines(many, 5000), 5000);
	for (int i = 0; i < 10000; i++) {
		snprintf(path, sizeof(path), "%s/e%05d", many, i);
		unlink(path);
	}
}

static void test_copy(void)
{
	/* 20 MiB + 3 (sparse, with marks at both ends): more than one step. */
	const uint64_t size = (20u << 20) + 3;
	char path[128];
	snprintf(path, sizeof(path), "%s/src.bin", dir);
	int src = open(path, O_CREAT | O_RDWR | O_TRUNC, 0644);
	CHECK(src >= 0);
	CHECK_EQ_INT(pwrite(src, "HEAD", 4, 0), 4);
	CHECK_EQ_INT(pwrite(src, "END", 3, (off_t)(size - 3)), 3);

	xfer_upload_t *up = malloc(sizeof(*up));
	xfer_upload_init(up, NULL);
	CHECK_EQ_INT(xfer_upload_open(up, open(dir, O_RDONLY | O_DIRECTORY), "dst.bin"), WF_OK);
	xfer_ftp_job_t *j = xfer_ftp_job_copy(up, dup(src), size);
	CHECK_EQ_INT(xfer_ftp_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_ftp_job_err(j), 0);
	up = xfer_ftp_job_take_upload(j);
	xfer_ftp_job_free(j);
	CHECK_EQ_INT(up->written, (long long)size);
	char got[4] = "";
	int tmp = openat(up->dir_fd, up->tmp, O_RDONLY);
	CHECK_EQ_INT(pread(tmp, got, 4, 0), 4);
	CHECK(memcmp(got, "HEAD", 4) == 0);
	CHECK_EQ_INT(pread(tmp, got, 3, (off_t)(size - 3)), 3);
	CHECK(memcmp(got, "END", 3) == 0);
	close(tmp);
	xfer_upload_fini(up); /* its temp file goes */
	free(up);

	/* A source shorter than asked: EIO, and the job's upload (temp file
	 * and all) goes with the job. */
	up = malloc(sizeof(*up));
	xfer_upload_init(up, NULL);
	CHECK_EQ_INT(xfer_upload_open(up, open(dir, O_RDONLY | O_DIRECTORY), "dst.bin"), WF_OK);
	j = xfer_ftp_job_copy(up, src, size + 10);
	CHECK_EQ_INT(xfer_ftp_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_ftp_job_err(j), EIO);
	xfer_ftp_job_free(j);
	unlink(path);
}

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
static int run(xfer_ftp_job_t *j, xfer_ftp_partial_fate_t *partial)
{
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_ftp_job_start(j, NULL, NULL, NULL), WF_DONE);
	int err = xfer_ftp_job_err(j);
	if (partial)
		*partial = xfer_ftp_job_partial(j);
	xfer_ftp_job_free(j);
	return err;
}

static int sub_fd(void)
{
	return dup(chg_fd);
}

static void test_delete(void)
{
	xfer_ftp_partial_fate_t p;
	char partial[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("f.txt", partial, sizeof(partial)), 0);
	/* A file and the partial of an interrupted upload of it. */
	make("f.txt", "x");
	make(partial, "part");
	CHECK_EQ_INT(run(xfer_ftp_job_delete(sub_fd(), "f.txt", partial, 3600), &p), 0);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_REMOVED);
	CHECK(!exists("f.txt") && !exists(partial));
	/* The partial alone: the file's ENOENT, the partial found. */
	make(partial, "part");
	CHECK_EQ_INT(run(xfer_ftp_job_delete(sub_fd(), "f.txt", partial, 3600), &p), ENOENT);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_REMOVED);
	CHECK(!exists(partial));
	/* A stale partial goes, but is not counted as found. */
	make(partial, "old");
	struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
	CHECK(utimensat(chg_fd, partial, old, 0) == 0);
	CHECK_EQ_INT(run(xfer_ftp_job_delete(sub_fd(), "f.txt", partial, 3600), &p), ENOENT);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_STALE);
	CHECK(!exists(partial));
	/* Nothing at all. */
	CHECK_EQ_INT(run(xfer_ftp_job_delete(sub_fd(), "f.txt", "", 3600), &p), ENOENT);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_NONE);
	/* A folder is refused, and its name's partial stays. */
	CHECK(mkdirat(chg_fd, "d", 0755) == 0);
	CHECK_EQ_INT(xfer_path_partial_name("d", partial, sizeof(partial)), 0);
	make(partial, "part");
	CHECK_EQ_INT(run(xfer_ftp_job_delete(sub_fd(), "d", partial, 3600), &p), EISDIR);
	CHECK(exists("d") && exists(partial));
	CHECK(unlinkat(chg_fd, partial, 0) == 0);
	CHECK(unlinkat(chg_fd, "d", AT_REMOVEDIR) == 0);
}

static void test_folders_and_renames(void)
{
	CHECK_EQ_INT(run(xfer_ftp_job_mkdir(sub_fd(), "m"), NULL), 0);
	CHECK(exists("m"));
	CHECK_EQ_INT(run(xfer_ftp_job_mkdir(sub_fd(), "m"), NULL), EEXIST);
	make("m/in", "x");
	int rc = run(xfer_ftp_job_rmdir(sub_fd(), "m"), NULL);
	CHECK(rc == ENOTEMPTY || rc == EEXIST);
	CHECK(unlinkat(chg_fd, "m/in", 0) == 0);
	CHECK_EQ_INT(run(xfer_ftp_job_rmdir(sub_fd(), "m"), NULL), 0);
	CHECK(!exists("m"));
	CHECK_EQ_INT(run(xfer_ftp_job_rmdir(sub_fd(), "m"), NULL), ENOENT);

	/* Across folders, each its own fd; never replacing, then replacing. */
	CHECK(mkdirat(chg_fd, "to", 0755) == 0);
	make("a", "A");
	make("to/b", "B");
	int to = openat(chg_fd, "to", O_RDONLY | O_DIRECTORY);
	CHECK_EQ_INT(run(xfer_ftp_job_rename(sub_fd(), "a", dup(to), "b", true), NULL), EEXIST);
	CHECK(exists("a") && exists("to/b"));
	CHECK_EQ_INT(run(xfer_ftp_job_rename(sub_fd(), "a", dup(to), "c", true), NULL), 0);
	CHECK(!exists("a") && exists("to/c"));
	CHECK_EQ_INT(run(xfer_ftp_job_rename(dup(to), "c", dup(to), "b", false), NULL), 0);
	CHECK(!exists("to/c") && exists("to/b"));
	CHECK_EQ_INT(run(xfer_ftp_job_rename(dup(to), "c", dup(to), "d", false), NULL), ENOENT);
	close(to);
	CHECK(unlinkat(chg_fd, "to/b", 0) == 0);
	CHECK(unlinkat(chg_fd, "to", AT_REMOVEDIR) == 0);
}

/* A claimed partial of 10 bytes, as REST + STOR has it. */
static xfer_upload_t *claimed(const char *partial)
{
	make(partial, "0123456789");
	xfer_upload_t *up = malloc(sizeof(*up));
	xfer_upload_init(up, NULL);
	CHECK_EQ_INT(xfer_upload_claim(up, sub_fd(), "r.bin", partial), WF_OK);
	CHECK_EQ_INT(up->written, 10);
	return up;
}

static void test_truncate(void)
{
	char partial[NAME_MAX + 1];
	CHECK_EQ_INT(xfer_path_partial_name("r.bin", partial, sizeof(partial)), 0);
	xfer_ftp_job_t *j = xfer_ftp_job_truncate(claimed(partial), 4, partial);
	CHECK_EQ_INT(xfer_ftp_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_ftp_job_err(j), 0);
	xfer_upload_t *up = xfer_ftp_job_take_upload(j);
	xfer_ftp_job_free(j);
	CHECK_EQ_INT(up->written, 4);
	CHECK_EQ_INT(xfer_upload_write(up, "AB", 2), WF_OK);
	CHECK_EQ_INT(xfer_upload_park(up, partial), WF_OK);
	xfer_upload_fini(up);
	free(up);
	char got[16] = "";
	int fd = openat(chg_fd, partial, O_RDONLY);
	CHECK_EQ_INT(read(fd, got, sizeof(got) - 1), 6);
	close(fd);
	CHECK_EQ_STR(got, "0123AB");

	/* Let go of (here: freed unstarted, as a cancelled job frees itself):
	 * the partial is parked again, whole. */
	j = xfer_ftp_job_truncate(claimed(partial), 4, partial);
	xfer_ftp_job_free(j);
	struct stat st;
	CHECK(fstatat(chg_fd, partial, &st, 0) == 0 && st.st_size == 10);
	CHECK(unlinkat(chg_fd, partial, 0) == 0);
}

static void test_remove(void)
{
	xfer_ftp_partial_fate_t p;
	struct timespec old[2] = { { .tv_sec = 1000 }, { .tv_sec = 1000 } };
	make("keep.txt", "k");
	make("p1", "part");
	/* Any: a fresh one goes, and nothing else does. */
	CHECK_EQ_INT(run(xfer_ftp_job_remove(sub_fd(), "p1", 3600, false), &p), 0);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_REMOVED);
	CHECK(!exists("p1") && exists("keep.txt"));
	/* A stale one, counted as stale. */
	make("p1", "part");
	CHECK(utimensat(chg_fd, "p1", old, 0) == 0);
	CHECK_EQ_INT(run(xfer_ftp_job_remove(sub_fd(), "p1", 3600, false), &p), 0);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_STALE);
	CHECK(!exists("p1"));
	/* Only when stale: a fresh one stays, a stale one goes. */
	make("p1", "part");
	CHECK_EQ_INT(run(xfer_ftp_job_remove(sub_fd(), "p1", 3600, true), &p), 0);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_NONE);
	CHECK(exists("p1"));
	CHECK_EQ_INT(run(xfer_ftp_job_remove(sub_fd(), "p1", 0, true), &p), 0); /* max age 0: never stale */
	CHECK(exists("p1"));
	CHECK(utimensat(chg_fd, "p1", old, 0) == 0);
	CHECK_EQ_INT(run(xfer_ftp_job_remove(sub_fd(), "p1", 3600, true), &p), 0);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_STALE);
	CHECK(!exists("p1"));
	/* None there. */
	CHECK_EQ_INT(run(xfer_ftp_job_remove(sub_fd(), "p1", 3600, false), &p), 0);
	CHECK_EQ_INT(p, XFER_FTP_PARTIAL_NONE);
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
	xfer_ftp_job_drop_upload(upload_of("some bytes"));
	CHECK_EQ_INT(temps(), 0);
	/* An empty one goes at once, a job or not. */
	xfer_ftp_job_drop_upload(upload_of(""));
	CHECK_EQ_INT(temps(), 0);
	/* With a pool, detached: gone once the pool has run it (stopping it
	 * runs every queued job first). */
	CHECK_EQ_INT(wf_offload_start(1), WF_OK);
	xfer_upload_t *up = upload_of("more bytes");
	xfer_ftp_job_drop_upload(up);
	wf_offload_stop();
	CHECK_EQ_INT(temps(), 0);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/wharf-ftp-job-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	put("a.txt", "aaa");
	put("b.txt", "bb");
	put(".wharf-upload.b.txt.partial", "hidden");
	char sub[128];
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	mkdir(sub, 0755);

	test_listing();
	test_listing_in_steps();
	test_copy();

	char chg[128];
	snprintf(chg, sizeof(chg), "%s/chg", dir);
	mkdir(chg, 0755);
	chg_fd = open(chg, O_RDONLY | O_DIRECTORY);
	CHECK(chg_fd >= 0);
	test_delete();
	test_folders_and_renames();
	test_truncate();
	test_remove();
	test_drop_upload();
	/* Only what the tests made, all of it gone: no temp file left. */
	DIR *cd = fdopendir(chg_fd);
	for (struct dirent *de; cd && (de = readdir(cd));)
		CHECK(strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0);
	if (cd)
		closedir(cd);
	rmdir(chg);

	/* Nothing of the uploads is left: only what the test made. */
	DIR *d = opendir(dir);
	int n = 0;
	for (struct dirent *de; d && (de = readdir(d));) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		CHECK(strcmp(de->d_name, "a.txt") == 0 || strcmp(de->d_name, "b.txt") == 0 ||
		      strcmp(de->d_name, "sub") == 0 || strcmp(de->d_name, ".wharf-upload.b.txt.partial") == 0);
		n++;
	}
	if (d)
		closedir(d);
	CHECK_EQ_INT(n, 4);
	char cmd[160];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		return 1;
	return check_report();
}
