/* Symlinks in listings (transfer/listing_link.h): one that resolves beneath
 * the home lists as its target in HTTPS's listing (a job's and a render's)
 * and in FTP's LIST and MLSD, with the target's size, time and mode; one
 * that dangles, loops, has an absolute target or leads outside the home
 * stays a link, and so does one to a folder the listing is in; with no
 * home given, none is followed. */
#include "transfer/ftp_job.h"
#include "transfer/listing_job.h"
#include "transfer/listing_link.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];
static int home_fd = -1;
static bool followed_any; /* false where openat2 is missing: every link then stays one */

/* 2020-01-02T03:04:05Z: a.txt's time, so a listing shows whose time it took. */
#define A_TIME 1577934245

static void put(const char *rel, const char *data, mode_t mode)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	int fd = open(p, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0 || write(fd, data, strlen(data)) != (ssize_t)strlen(data)) {
		perror(p);
		exit(2);
	}
	close(fd);
	chmod(p, mode);
}

static void link_to(const char *target, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p) != 0) {
		perror(p);
		exit(2);
	}
}

static void make_tree(void)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/home", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/home/d", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/home/d/real", root);
	mkdir(p, 0750);
	put("outside.txt", "secret", 0644);
	put("home/top.txt", "top-level", 0644);
	put("home/d/a.txt", "four", 0640);
	snprintf(p, sizeof(p), "%s/home/d/a.txt", root);
	struct timespec ts[2] = { { A_TIME, 0 }, { A_TIME, 0 } };
	utimensat(AT_FDCWD, p, ts, 0);
	link_to("a.txt", "home/d/l_file");
	link_to("real", "home/d/l_dir");
	link_to("../top.txt", "home/d/l_up");
	link_to("none.txt", "home/d/l_dangle");
	link_to("l_loop", "home/d/l_loop");
	link_to("../../outside.txt", "home/d/l_out");
	link_to(".", "home/d/l_self");   /* the folder listed */
	link_to("..", "home/d/l_home");  /* the home, above it */
	link_to("../d", "home/d/real/l_back"); /* from real, the folder above it */
	snprintf(p, sizeof(p), "%s/home/top.txt", root);
	link_to(p, "home/d/l_abs"); /* inside, but absolute: every request refuses it */
	snprintf(p, sizeof(p), "%s/home", root);
	home_fd = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	CHECK(home_fd >= 0);
}

/* name of the folder dir_rel, as its listing shows it. */
static bool follow_in(int home, const char *dir_rel, const char *name, struct stat *st)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/home%s%s/%s", root, dir_rel[0] ? "/" : "", dir_rel, name);
	CHECK(lstat(p, st) == 0);
	xfer_listing_links_t k;
	xfer_listing_links_init(&k, home, dir_rel);
	bool followed = xfer_listing_links_follow(&k, name, st);
	xfer_listing_links_fini(&k);
	return followed;
}

static bool follow(const char *name, struct stat *st)
{
	return follow_in(home_fd, "d", name, st);
}

static void check_follow(void)
{
	struct stat st;
	followed_any = follow("l_file", &st);
	if (!followed_any) {
		fprintf(stderr, "every link is refused here (no openat2): only that is checked\n");
		CHECK(S_ISLNK(st.st_mode));
		return;
	}
	CHECK(S_ISREG(st.st_mode));
	CHECK_EQ_INT(st.st_size, 4);
	CHECK_EQ_INT(st.st_mtime, A_TIME);
	CHECK_EQ_INT(st.st_mode & 07777, 0640);
	CHECK(follow("l_dir", &st) && S_ISDIR(st.st_mode));
	CHECK(follow("l_up", &st) && S_ISREG(st.st_mode) && st.st_size == 9);
	/* Left as links: their stat is their own. l_self and l_home lead to
	 * folders the listing of d is in (a mirror would go round them). */
	const char *kept[] = { "l_dangle", "l_loop", "l_out", "l_abs", "l_self", "l_home" };
	for (size_t i = 0; i < WF_ARRAY_LEN(kept); i++) {
		CHECK(!follow(kept[i], &st));
		CHECK(S_ISLNK(st.st_mode));
	}
	CHECK(!follow_in(home_fd, "d/real", "l_back", &st) && S_ISLNK(st.st_mode));
	/* The folder above, by the path listed: d/l_dir is real, reached
	 * through a link, and l_back leads to d, above it on that path too. */
	CHECK(!follow_in(home_fd, "d/l_dir", "l_back", &st) && S_ISLNK(st.st_mode));
	/* A link to d from a folder beside it is no cycle: a folder. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/home/other", root);
	mkdir(p, 0755);
	snprintf(p, sizeof(p), "%s/home/other/to-d", root);
	CHECK(symlink("../d", p) == 0);
	CHECK(follow_in(home_fd, "other", "to-d", &st) && S_ISDIR(st.st_mode));
	unlink(p);
	/* No home: nothing followed. Not a link: nothing done. */
	CHECK(lstat(root, &st) == 0);
	xfer_listing_links_t k;
	xfer_listing_links_init(&k, home_fd, "d");
	CHECK(!xfer_listing_links_follow(&k, "a.txt", &st) && S_ISDIR(st.st_mode));
	xfer_listing_links_fini(&k);
	CHECK(!follow_in(-1, "d", "l_file", &st) && S_ISLNK(st.st_mode));
	/* The home's own links resolve from the home ("" is the home), and
	 * one to the home itself is a cycle there. */
	snprintf(p, sizeof(p), "%s/home/top-link", root);
	CHECK(symlink("d/a.txt", p) == 0);
	CHECK(follow_in(home_fd, "", "top-link", &st) && st.st_size == 4);
	unlink(p);
	snprintf(p, sizeof(p), "%s/home/self", root);
	CHECK(symlink(".", p) == 0);
	CHECK(!follow_in(home_fd, "", "self", &st) && S_ISLNK(st.st_mode));
	unlink(p);
}

static int python_json(const wf_buf_t *b, const char *asserts)
{
	char path[PATH_MAX], cmd[3 * PATH_MAX];
	snprintf(path, sizeof(path), "%s/listing.json", root);
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	fwrite(wf_buf_head(b), 1, wf_buf_size(b), f);
	fclose(f);
	snprintf(cmd, sizeof(cmd),
		 "python3 -c 'import json,sys; d=json.load(open(sys.argv[1]))\n"
		 "e={x[\"name\"]: x for x in d[\"entries\"]}\n%s' '%s'",
		 asserts, path);
	return system(cmd);
}

static const char json_followed[] =
	"assert (e[\"l_file\"][\"type\"], e[\"l_file\"][\"size\"]) == (\"file\", 4), e\n"
	"assert e[\"l_file\"][\"mtime\"] == \"2020-01-02T03:04:05Z\", e\n"
	"assert e[\"l_dir\"][\"type\"] == \"dir\", e\n"
	"assert (e[\"l_up\"][\"type\"], e[\"l_up\"][\"size\"]) == (\"file\", 9), e\n"
	"assert all(e[n][\"type\"] == \"link\" and e[n][\"size\"] == 0 for n in "
	"(\"l_dangle\", \"l_loop\", \"l_out\", \"l_abs\", \"l_self\", \"l_home\")), e\n";

static const char json_unfollowed[] =
	"assert all(x[\"type\"] == \"link\" for n, x in e.items() if n.startswith(\"l_\")), e\n";

static void check_https(void)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/home/d", root);
	int dir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	wf_buf_t want, b;
	wf_buf_init(&want, 1 << 20);
	wf_buf_init(&b, 1 << 20);
	CHECK_EQ_INT(xfer_listing_render(dir, home_fd, "/d/", XFER_LISTING_JSON, 0, &want), WF_OK);
	CHECK_EQ_INT(python_json(&want, followed_any ? json_followed : json_unfollowed), 0);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/d/", XFER_LISTING_JSON, 0, &b), WF_OK);
	CHECK_EQ_INT(python_json(&b, json_unfollowed), 0);

	/* The job holds its own home: the caller's may go meanwhile. */
	int mine = dup(home_fd);
	xfer_fs_job_t *j = xfer_listing_job(dup(dir), mine, "/d/", XFER_LISTING_JSON, 0, &(xfer_listing_hold_t){ 0 });
	close(mine);
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	xfer_listing_t *l = xfer_listing_job_take(j);
	xfer_fs_job_free(j);
	CHECK(l != NULL);
	wf_buf_t page;
	wf_buf_init(&page, 1 << 20);
	char *dst = wf_buf_reserve(&page, xfer_listing_size(l));
	CHECK_EQ_INT(xfer_listing_read(l, dst, xfer_listing_size(l)), (long long)xfer_listing_size(l));
	wf_buf_commit(&page, xfer_listing_size(l));
	/* The render's very bytes. */
	CHECK(wf_buf_size(&page) == wf_buf_size(&want) &&
	      memcmp(wf_buf_head(&page), wf_buf_head(&want), wf_buf_size(&want)) == 0);
	xfer_listing_free(l);

	/* HTML: a linked folder is among the folders, with its slash. */
	wf_buf_reset(&b);
	CHECK_EQ_INT(xfer_listing_render(dir, home_fd, "/d/", XFER_LISTING_HTML, 0, &b), WF_OK);
	wf_buf_append(&b, "", 1);
	if (followed_any)
		CHECK(strstr(wf_buf_head(&b), "<a href=\"l_dir/\">l_dir/</a>") != NULL);
	wf_buf_fini(&page);
	wf_buf_fini(&b);
	wf_buf_fini(&want);
	close(dir);
}

/* The line of FTP listing kind for name, from a job over home/d. */
static void ftp_line(xfer_ftp_list_kind_t kind, int home, const char *name, char *line, size_t cap)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/home/d", root);
	wf_buf_t *out = xfer_ftp_listing_buf(1 << 20, NULL);
	xfer_ftp_list_style_t style = { .kind = kind, .facts = XFER_MLST_ALL & ~XFER_MLST_UNIQUE,
					.perms = { .read = true }, .now = A_TIME };
	xfer_fs_job_t *j = xfer_ftp_job_listing(open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC), home, "d", &style, out,
						100, NULL);
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	out = xfer_ftp_job_take_listing(j);
	xfer_fs_job_free(j);
	wf_buf_append(out, "", 1);
	line[0] = '\0';
	size_t nl = strlen(name);
	for (char *l = wf_buf_head(out), *end; (end = strstr(l, "\r\n")); l = end + 2) {
		size_t n = (size_t)(end - l);
		bool is_it = n >= nl && memcmp(end - nl, name, nl) == 0 && (n == nl || end[-(long)nl - 1] == ' ');
		if (is_it && n < cap) {
			memcpy(line, l, n);
			line[n] = '\0';
		}
	}
	xfer_ftp_listing_free(out);
}

static void check_ftp(void)
{
	char line[512];
	if (followed_any) {
		ftp_line(XFER_FTP_LIST_FACTS, home_fd, "l_file", line, sizeof(line));
		CHECK_EQ_STR(line, "type=file;size=4;modify=20200102030405;perm=r; l_file");
		ftp_line(XFER_FTP_LIST_FACTS, home_fd, "l_dir", line, sizeof(line));
		CHECK(strncmp(line, "type=dir;", 9) == 0 && strstr(line, "perm=el;") != NULL);
		ftp_line(XFER_FTP_LIST_LONG, home_fd, "l_file", line, sizeof(line));
		CHECK_EQ_STR(line, "-rw-r-----    1 ftp      ftp             4 Jan 02 03:04 l_file");
		ftp_line(XFER_FTP_LIST_LONG, home_fd, "l_dir", line, sizeof(line));
		CHECK(strncmp(line, "drwxr-x---", 10) == 0);
	}
	/* Left as links: no size in MLSD, 'l' and no target in LIST. */
	const char *kept[] = { "l_dangle", "l_loop", "l_out", "l_abs", "l_self", "l_home" };
	for (size_t i = 0; i < WF_ARRAY_LEN(kept); i++) {
		ftp_line(XFER_FTP_LIST_FACTS, home_fd, kept[i], line, sizeof(line));
		CHECK(strncmp(line, "type=OS.unix=symlink;modify=", 28) == 0);
		ftp_line(XFER_FTP_LIST_LONG, home_fd, kept[i], line, sizeof(line));
		CHECK(line[0] == 'l' && strstr(line, "->") == NULL);
	}
	ftp_line(XFER_FTP_LIST_FACTS, -1, "l_file", line, sizeof(line));
	CHECK(strncmp(line, "type=OS.unix=symlink;", 21) == 0);
	ftp_line(XFER_FTP_LIST_NAMES, home_fd, "l_file", line, sizeof(line));
	CHECK_EQ_STR(line, "l_file");
}

int main(void)
{
	char cmd[PATH_MAX];
	snprintf(root, sizeof(root), "/tmp/wharf-links-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	make_tree();
	check_follow();
	check_https();
	check_ftp();
	close(home_fd);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_report();
}
