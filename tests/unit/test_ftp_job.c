/* FTP's own jobs run where no offload pool is (inline, WF_DONE): a
 * folder's listing in each style, without ".", ".." and hidden upload
 * files, within its entry count and its buffer's cap, over more entries
 * than one step reads, and filtered by a pattern (NLST names with their
 * folder in front); a listing of what is not a folder failing with
 * ENOTDIR; a copy of a file's head into an upload, in steps past the first
 * 16 MiB, and one past the end of its source failing; a resumed upload cut
 * back, and parked again when its job is let go of; what each kind hands
 * back, and nothing from a job of another kind. (The changes to the tree,
 * RMD's too, and the removals they share with HTTP: test_fs_job.c.) */
#include "transfer/ftp_job.h"

#include "check.h"

#include "transfer/path.h"
#include "server/offload.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>
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
	wf_buf_t *out = xfer_ftp_listing_buf(cap, NULL);
	xfer_ftp_list_style_t style = { .kind = kind, .facts = XFER_MLST_TYPE, .now = 0 };
	xfer_fs_job_t *j = xfer_ftp_job_listing(fd, -1, "", &style, out, max_entries, NULL);
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	*err = xfer_fs_job_err(j);
	out = xfer_ftp_job_take_listing(j);
	xfer_fs_job_free(j);
	char text[1024] = "";
	size_t n = wf_buf_size(out) < sizeof(text) - 1 ? wf_buf_size(out) : sizeof(text) - 1;
	memcpy(text, wf_buf_head(out), n);
	text[n] = '\0';
	xfer_ftp_listing_free(out);
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
	wf_buf_t *out = xfer_ftp_listing_buf(4096, NULL);
	xfer_ftp_list_style_t style = { .kind = XFER_FTP_LIST_NAMES };
	xfer_fs_job_t *j = xfer_ftp_job_listing(open(path, O_RDONLY), -1, "", &style, out, 100, NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), ENOTDIR);
	CHECK(xfer_ftp_job_take_upload(j) == NULL); /* a listing has none */
	xfer_fs_job_free(j); /* frees the listing it still holds */
}

/* Lines of a NLST of path (a folder), in however many steps it takes;
 * *cut: whether the listing says it left entries out. */
static size_t count_lines_cut(const char *path, size_t max_entries, bool *cut)
{
	wf_buf_t *out = xfer_ftp_listing_buf(1 << 20, NULL);
	xfer_ftp_list_style_t style = { .kind = XFER_FTP_LIST_NAMES };
	xfer_fs_job_t *j = xfer_ftp_job_listing(open(path, O_RDONLY | O_DIRECTORY), -1, "", &style, out, max_entries, NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	size_t listed;
	*cut = xfer_ftp_job_listing_cut(j, &listed);
	out = xfer_ftp_job_take_listing(j);
	xfer_fs_job_free(j);
	size_t n = 0;
	for (size_t i = 0; i < wf_buf_size(out); i++)
		n += wf_buf_head(out)[i] == '\n';
	xfer_ftp_listing_free(out);
	CHECK_EQ_INT(listed, n);
	return n;
}

static size_t count_lines(const char *path, size_t max_entries)
{
	bool cut;
	return count_lines_cut(path, max_entries, &cut);
}

/* Lines of a NLST of path filtered by pattern, each checked to start with
 * prefix; *cut as count_lines_cut. */
static size_t count_matches(const char *path, const char *pattern, const char *prefix, size_t max_entries, bool *cut)
{
	wf_buf_t *out = xfer_ftp_listing_buf(1 << 20, NULL);
	xfer_ftp_list_style_t style = { .kind = XFER_FTP_LIST_NAMES };
	xfer_fs_job_t *j = xfer_ftp_job_listing(open(path, O_RDONLY | O_DIRECTORY), -1, "", &style, out, max_entries, NULL);
	CHECK_EQ_INT(xfer_ftp_job_listing_match(j, pattern, prefix), WF_OK);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	size_t listed;
	*cut = xfer_ftp_job_listing_cut(j, &listed);
	out = xfer_ftp_job_take_listing(j);
	xfer_fs_job_free(j);
	size_t n = 0, plen = strlen(prefix);
	const char *b = wf_buf_size(out) ? wf_buf_head(out) : NULL;
	for (size_t i = 0; i < wf_buf_size(out); i++) {
		if (i == 0 || b[i - 1] == '\n')
			CHECK(wf_buf_size(out) - i > plen && memcmp(b + i, prefix, plen) == 0);
		n += b[i] == '\n';
	}
	xfer_ftp_listing_free(out);
	CHECK_EQ_INT(listed, n);
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
	/* A name with a line break is never listed, so it counts toward
	 * neither the bound nor the count a cut listing reports. */
	snprintf(path, sizeof(path), "%s/bad\nname", many);
	close(open(path, O_CREAT | O_WRONLY, 0644));
	bool cut = true;
	CHECK_EQ_INT(count_lines_cut(many, 10000, &cut), 10000);
	CHECK(!cut);
	unlink(path);
	/* A pattern lists its matches wherever readdir meets them (past the
	 * first step too); max_entries counts what is listed; NLST names
	 * carry the prefix. */
	CHECK_EQ_INT(count_matches(many, "e0000?", "", 100000, &cut), 10);
	CHECK(!cut);
	CHECK_EQ_INT(count_matches(many, "e*[05]", "sub/", 100000, &cut), 2000);
	CHECK_EQ_INT(count_matches(many, "e0*", "", 100, &cut), 100);
	CHECK(cut);
	CHECK_EQ_INT(count_matches(many, "nothing*", "sub/", 100000, &cut), 0);
	CHECK(!cut);
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
	xfer_fs_job_t *j = xfer_ftp_job_copy(up, dup(src), size);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	CHECK(xfer_ftp_job_take_listing(j) == NULL); /* a copy has none */
	up = xfer_ftp_job_take_upload(j);
	CHECK(xfer_ftp_job_take_upload(j) == NULL); /* taken once */
	xfer_fs_job_free(j);
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
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), EIO);
	xfer_fs_job_free(j);
	unlink(path);
}

static int chg_fd = -1; /* the folder of the partials cut */

static void make(const char *name, const char *data)
{
	int fd = openat(chg_fd, name, O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, data, strlen(data)), (long long)strlen(data));
	close(fd);
}

static int sub_fd(void)
{
	return dup(chg_fd);
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
	xfer_fs_job_t *j = xfer_ftp_job_truncate(claimed(partial), 4, partial);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	xfer_upload_t *up = xfer_ftp_job_take_upload(j);
	xfer_fs_job_free(j);
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
	xfer_fs_job_free(j);
	struct stat st;
	CHECK(fstatat(chg_fd, partial, &st, 0) == 0 && st.st_size == 10);
	CHECK(unlinkat(chg_fd, partial, 0) == 0);
}

/* The recovery job: a claimed name a dead process left (changed before
 * the start, written an hour ago) is the partial again; a live one (changed
 * since the start) stays, and is no error (the command looks again). */
static void test_recover(void)
{
	struct timespec times[2] = { { time(NULL) - 3600, 0 }, { time(NULL) - 3600, 0 } };
	struct timespec long_ago = { 1000000000, 0 }, started;
	make(".wharf-upload.rc.bin.claimed", "kept");
	CHECK(utimensat(chg_fd, ".wharf-upload.rc.bin.claimed", times, 0) == 0);
	clock_gettime(CLOCK_REALTIME, &started);
	started.tv_sec++;

	xfer_fs_job_t *j = xfer_ftp_job_recover(sub_fd(), "rc.bin", 60, long_ago);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	CHECK(!xfer_ftp_job_recovered(j));
	xfer_fs_job_free(j);
	struct stat st;
	CHECK(fstatat(chg_fd, ".wharf-upload.rc.bin.claimed", &st, 0) == 0);

	j = xfer_ftp_job_recover(sub_fd(), "rc.bin", 60, started);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	CHECK(xfer_ftp_job_recovered(j));
	xfer_fs_job_free(j);
	CHECK(fstatat(chg_fd, ".wharf-upload.rc.bin.claimed", &st, 0) != 0);
	CHECK(fstatat(chg_fd, ".wharf-upload.rc.bin.partial", &st, 0) == 0 && st.st_size == 4);
	CHECK(unlinkat(chg_fd, ".wharf-upload.rc.bin.partial", 0) == 0);
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
	test_truncate();
	test_recover();
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
