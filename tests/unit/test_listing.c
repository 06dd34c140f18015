/* Folder listings: HTML escaping and hrefs, JSON escaping (checked by a real
 * JSON parser), bad UTF-8, sorting, hidden names, the output cap, the entry
 * cap, the Accept negotiation, and the same listing made by a job in steps
 * and read out in pieces. */
#include "transfer/listing_job.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static char root[64];

static void put_file(int dir, const char *name, off_t size)
{
	int fd = openat(dir, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0 || ftruncate(fd, size) != 0) {
		perror(name);
		exit(2);
	}
	close(fd);
}

static char *as_str(const wf_buf_t *b)
{
	char *s = malloc(wf_buf_size(b) + 1);
	memcpy(s, wf_buf_head(b), wf_buf_size(b));
	s[wf_buf_size(b)] = '\0';
	return s;
}

/* Position of needle in hay, or -1. */
static long pos(const char *hay, const char *needle)
{
	const char *p = strstr(hay, needle);
	return p ? p - hay : -1;
}

/* Runs a Python snippet with the JSON file loaded as `d`; 0 when it passes. */
static int python_json(const char *path, const char *asserts)
{
	char cmd[3 * PATH_MAX];
	int n = snprintf(cmd, sizeof(cmd),
			 "python3 -c 'import json,sys; d=json.load(open(sys.argv[1],encoding=\"utf-8\"))\n%s' '%s'",
			 asserts, path);
	if (n < 0 || (size_t)n >= sizeof(cmd))
		return -1;
	return system(cmd);
}

static int write_file(const char *path, const wf_buf_t *b)
{
	FILE *f = fopen(path, "wb");
	if (!f)
		return -1;
	size_t n = fwrite(wf_buf_head(b), 1, wf_buf_size(b), f);
	return fclose(f) == 0 && n == wf_buf_size(b) ? 0 : -1;
}

static int make_tree(void)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/d", root);
	if (mkdir(p, 0755) != 0) {
		perror(p);
		exit(2);
	}
	int dir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0) {
		perror(p);
		exit(2);
	}
	put_file(dir, "a&b<c>.txt", 5);
	put_file(dir, "quote\"s'.txt", 0);
	put_file(dir, "with space.txt", 0);
	put_file(dir, "caf\xc3\xa9.txt", 0);
	put_file(dir, "bad\xff\xfename", 0);
	put_file(dir, "over\xc0\xaflong", 0);
	put_file(dir, "tab\there", 0);
	put_file(dir, "back\\slash", 0);
	put_file(dir, "javascript:alert(1)", 0);
	put_file(dir, "big", 1536);
	put_file(dir, ".wharf-upload.big.0123456789abcdef", 0);
	put_file(dir, ".dotfile", 0);
	mkdirat(dir, "Zdir", 0755);
	mkdirat(dir, "adir", 0755);
	symlinkat("a&b<c>.txt", dir, "lnk");
	mkfifoat(dir, "pipe", 0644);
	/* 2026-01-02T03:04:05Z */
	struct timespec ts[2] = { { 1767323045, 0 }, { 1767323045, 0 } };
	utimensat(dir, "big", ts, 0);
	return dir;
}

static void check_html(int dir)
{
	wf_buf_t b;
	wf_buf_init(&b, 1 << 20);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/sub dir/<x>/", XFER_LISTING_HTML, 0, &b), WF_OK);
	char *h = as_str(&b);

	CHECK(strncmp(h, "<!doctype html>", 15) == 0);
	CHECK(pos(h, "<meta charset=\"utf-8\">") >= 0);
	CHECK(pos(h, "<title>Index of /sub dir/&lt;x&gt;/</title>") >= 0);
	CHECK(pos(h, "<h1>Index of /sub dir/&lt;x&gt;/</h1>") >= 0);
	CHECK(pos(h, "<a href=\"../\">../</a>") >= 0);

	/* Escaped text, encoded hrefs. */
	CHECK(pos(h, "<a href=\"a%26b%3Cc%3E.txt\">a&amp;b&lt;c&gt;.txt</a>") >= 0);
	CHECK(pos(h, "<a href=\"quote%22s%27.txt\">quote&quot;s&#39;.txt</a>") >= 0);
	CHECK(pos(h, "<a href=\"with%20space.txt\">with space.txt</a>") >= 0);
	CHECK(pos(h, "<a href=\"caf%C3%A9.txt\">caf\xc3\xa9.txt</a>") >= 0);
	CHECK(pos(h, "<a href=\"back%5Cslash\">back\\slash</a>") >= 0);
	CHECK(pos(h, "<a href=\"javascript%3Aalert%281%29\">javascript:alert(1)</a>") >= 0);
	/* Bad UTF-8 and controls shown as U+FFFD, linked by their real bytes. */
	CHECK(pos(h, "<a href=\"bad%FF%FEname\">bad\xef\xbf\xbd\xef\xbf\xbdname</a>") >= 0);
	CHECK(pos(h, "<a href=\"over%C0%AFlong\">over\xef\xbf\xbd\xef\xbf\xbdlong</a>") >= 0);
	CHECK(pos(h, "<a href=\"tab%09here\">tab\xef\xbf\xbdhere</a>") >= 0);
	CHECK(pos(h, "\xff") < 0 && pos(h, "\t") < 0);

	/* Folders with a slash, first, in byte order ('Z' < 'a'). */
	long zdir = pos(h, "<a href=\"Zdir/\">Zdir/</a>"), adir = pos(h, "<a href=\"adir/\">adir/</a>");
	long first_file = pos(h, ">a&amp;b"), bad = pos(h, ">bad"), big = pos(h, ">big<");
	long caf = pos(h, ">caf"), with = pos(h, ">with space");
	CHECK(zdir > 0 && adir > zdir && first_file > adir);
	CHECK(first_file < bad && bad < big && big < caf && caf < with);

	/* Sizes, times, links and specials. */
	CHECK(pos(h, "<a href=\"big\">big</a></td><td class=\"s\" title=\"1536 bytes\">1.5 KiB</td>"
		     "<td>2026-01-02T03:04:05Z</td>") >= 0);
	CHECK(pos(h, "title=\"5 bytes\">5 B</td>") >= 0);
	CHECK(pos(h, "<a href=\"lnk\">lnk</a></td><td class=\"s\">-</td>") >= 0);
	CHECK(pos(h, "<tr><td>pipe</td>") >= 0);

	/* Hidden upload temp files are not listed; ordinary dotfiles are. */
	CHECK(pos(h, "wharf-upload") < 0);
	CHECK(pos(h, ">.dotfile<") >= 0);
	CHECK(pos(h, "\">./<") < 0);
	CHECK(pos(h, "truncated") < 0 && pos(h, "Only the first") < 0);
	CHECK(pos(h, "</html>\n") >= 0);
	free(h);

	/* The home has no parent link. */
	wf_buf_reset(&b);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/", XFER_LISTING_HTML, 0, &b), WF_OK);
	h = as_str(&b);
	CHECK(pos(h, "<title>Index of /</title>") >= 0);
	CHECK(pos(h, "../") < 0);
	free(h);
	wf_buf_fini(&b);
}

static void check_json(int dir)
{
	wf_buf_t b;
	char path[PATH_MAX];
	wf_buf_init(&b, 1 << 20);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/a \"q\"/\xff/", XFER_LISTING_JSON, 0, &b), WF_OK);
	char *j = as_str(&b);

	CHECK(pos(j, "{\"path\":\"/a \\\"q\\\"/\xef\xbf\xbd/\",\"entries\":[") == 0);
	CHECK(pos(j, "{\"name\":\"quote\\\"s'.txt\",\"href\":\"quote%22s%27.txt\",\"type\":\"file\",\"size\":0,"
		     "\"mtime\":\"") >= 0);
	CHECK(pos(j, "\"back\\\\slash\"") >= 0);
	CHECK(pos(j, "\"tab\\u0009here\"") >= 0);
	CHECK(pos(j, "\"a&b<c>.txt\"") >= 0);
	CHECK(pos(j, "\"bad\xef\xbf\xbd\xef\xbf\xbdname\"") >= 0);
	CHECK(pos(j, "{\"name\":\"big\",\"href\":\"big\",\"type\":\"file\",\"size\":1536,"
		     "\"mtime\":\"2026-01-02T03:04:05Z\"}") >= 0);
	CHECK(pos(j, "{\"name\":\"lnk\",\"href\":\"lnk\",\"type\":\"link\",\"size\":0,") >= 0);
	CHECK(pos(j, "{\"name\":\"pipe\",\"href\":null,\"type\":\"other\",\"size\":0,") >= 0);
	CHECK(pos(j, "{\"name\":\"adir\",\"href\":\"adir/\",\"type\":\"dir\",\"size\":0,") >= 0);
	CHECK(pos(j, "\"href\":\"bad%FF%FEname\"") >= 0);
	CHECK(pos(j, "wharf-upload") < 0);
	CHECK(pos(j, "\"..\"") < 0);
	CHECK(pos(j, "],\"truncated\":false}\n") >= 0);
	free(j);

	/* A real parser agrees, and sees names and order as intended. */
	snprintf(path, sizeof(path), "%s/listing.json", root);
	CHECK(write_file(path, &b) == 0);
	CHECK_EQ_INT(python_json(path,
				 "n=[e[\"name\"] for e in d[\"entries\"]]\n"
				 "assert d[\"path\"]==\"/a \\\"q\\\"/\\ufffd/\", d[\"path\"]\n"
				 "assert n==sorted(n, key=lambda s: s.encode(\"utf-8\")), n\n"
				 "assert n==[\".dotfile\",\"Zdir\",\"a&b<c>.txt\",\"adir\",\"back\\\\slash\","
				 "\"bad\\ufffd\\ufffdname\",\"big\",\"caf\\u00e9.txt\",\"javascript:alert(1)\",\"lnk\","
				 "\"over\\ufffd\\ufffdlong\",\"pipe\",\"quote\\\"s\\u0027.txt\",\"tab\\there\","
				 "\"with space.txt\"], n\n"
				 "assert d[\"truncated\"] is False\n"),
		     0);
	wf_buf_fini(&b);
}

static void check_cap(int dir)
{
	wf_buf_t b;
	wf_buf_init(&b, 300);
	CHECK_EQ_INT(wf_buf_append_str(&b, "prefix"), WF_OK);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/x/", XFER_LISTING_HTML, 0, &b), WF_ERR);
	CHECK_EQ_SLICE(wf_buf_slice(&b), "prefix");
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/x/", XFER_LISTING_JSON, 0, &b), WF_ERR);
	CHECK_EQ_SLICE(wf_buf_slice(&b), "prefix");
	/* The rollback must hold when the buffer slid its content to the front. */
	wf_buf_consume(&b, 3);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/x/", XFER_LISTING_HTML, 0, &b), WF_ERR);
	CHECK_EQ_SLICE(wf_buf_slice(&b), "fix");
	wf_buf_fini(&b);
}

static void check_fd_kept(int dir)
{
	wf_buf_t a, b;
	struct stat st;
	wf_buf_init(&a, 1 << 20);
	wf_buf_init(&b, 1 << 20);
	/* The caller's fd is not consumed and its offset does not matter. */
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/", XFER_LISTING_JSON, 0, &a), WF_OK);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/", XFER_LISTING_JSON, 0, &b), WF_OK);
	CHECK(fstat(dir, &st) == 0 && S_ISDIR(st.st_mode));
	CHECK(wf_buf_size(&a) == wf_buf_size(&b) && memcmp(wf_buf_head(&a), wf_buf_head(&b), wf_buf_size(&a)) == 0);

	/* An O_PATH folder fd works too. */
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/d", root);
	int opath = open(p, O_PATH | O_DIRECTORY | O_CLOEXEC);
	wf_buf_reset(&b);
	CHECK_EQ_INT(xfer_listing_render(opath, -1, "/", XFER_LISTING_JSON, 0, &b), WF_OK);
	CHECK(wf_buf_size(&a) == wf_buf_size(&b) && memcmp(wf_buf_head(&a), wf_buf_head(&b), wf_buf_size(&a)) == 0);
	close(opath);

	/* Not a folder: an error, not a crash. */
	int file = openat(dir, "big", O_RDONLY | O_CLOEXEC);
	wf_buf_reset(&b);
	CHECK_EQ_INT(xfer_listing_render(file, -1, "/", XFER_LISTING_JSON, 0, &b), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&b), 0);
	close(file);
	wf_buf_fini(&a);
	wf_buf_fini(&b);
}

/* The job, run here (no worker), in its many steps, its page read out in
 * pieces of size step: the same bytes as xfer_listing_render's in want,
 * and as many as it measured. */
static void check_job_same(int dir, xfer_listing_format_t fmt, const wf_buf_t *want, size_t step)
{
	xfer_fs_job_t *j = xfer_listing_job(dup(dir), -1, "/many/", fmt, 0, &(xfer_listing_hold_t){ 0 });
	CHECK(j != NULL);
	if (!j)
		return;
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), 0);
	xfer_listing_t *l = xfer_listing_job_take(j);
	CHECK(xfer_listing_job_take(j) == NULL); /* taken once */
	xfer_fs_job_free(j);
	CHECK(l != NULL);
	if (!l)
		return;
	CHECK(xfer_listing_size(l) == wf_buf_size(want));
	char *got = malloc(wf_buf_size(want) + step), *p = got;
	ssize_t n;
	while ((n = xfer_listing_read(l, p, step)) > 0) {
		/* Whole pieces of the size asked (256 KiB at most), but for the last. */
		CHECK(xfer_listing_left(l) == 0 || (size_t)n == (step < (256u << 10) ? step : 256u << 10));
		p += n;
		if ((size_t)(p - got) > wf_buf_size(want))
			break;
	}
	CHECK_EQ_INT(n, 0);
	CHECK(xfer_listing_left(l) == 0);
	CHECK((size_t)(p - got) == wf_buf_size(want) && memcmp(got, wf_buf_head(want), wf_buf_size(want)) == 0);
	free(got);
	xfer_listing_free(l);
}

/* Folders first in HTML, and every escape, come out the same in pieces,
 * however small. */
static void check_job_small(int dir)
{
	wf_buf_t b;
	wf_buf_init(&b, 1 << 20);
	for (int f = 0; f < 2; f++) {
		xfer_listing_format_t fmt = f ? XFER_LISTING_JSON : XFER_LISTING_HTML;
		wf_buf_reset(&b);
		CHECK_EQ_INT(xfer_listing_render(dir, -1, "/many/", fmt, 0, &b), WF_OK);
		check_job_same(dir, fmt, &b, 1);
		check_job_same(dir, fmt, &b, 100);
		check_job_same(dir, fmt, &b, wf_buf_size(&b) + 1);
	}
	wf_buf_fini(&b);
}

/* Not a folder: nothing to take. */
static void check_job_fails(int dir)
{
	int file = openat(dir, "with space.txt", O_RDONLY | O_CLOEXEC);
	xfer_fs_job_t *j = xfer_listing_job(file, -1, "/f/", XFER_LISTING_JSON, 0, &(xfer_listing_hold_t){ 0 });
	CHECK(j != NULL);
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	CHECK_EQ_INT(xfer_fs_job_err(j), ENOTDIR);
	CHECK(xfer_listing_job_take(j) == NULL);
	xfer_fs_job_free(j);
}

static void check_truncated(void)
{
	char p[PATH_MAX], name[32];
	snprintf(p, sizeof(p), "%s/many", root);
	mkdir(p, 0755);
	int dir = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dir >= 0);
	if (dir < 0)
		return;
	for (int i = 0; i < 100001; i++) {
		snprintf(name, sizeof(name), "f%06d", i);
		put_file(dir, name, 0);
	}
	put_file(dir, ".wharf-upload.x.0000000000000000", 0);

	wf_buf_t b;
	wf_buf_init(&b, 64 << 20);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/many/", XFER_LISTING_JSON, 0, &b), WF_OK);
	snprintf(p, sizeof(p), "%s/many.json", root);
	CHECK(write_file(p, &b) == 0);
	CHECK_EQ_INT(python_json(p, "assert d[\"truncated\"] is True\n"
				    "n=[e[\"name\"] for e in d[\"entries\"]]\n"
				    "assert len(n)==100000 and n==sorted(n), len(n)\n"),
		     0);
	check_job_same(dir, XFER_LISTING_JSON, &b, 16384);
	check_job_same(dir, XFER_LISTING_JSON, &b, 7);
	wf_buf_reset(&b);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/many/", XFER_LISTING_HTML, 0, &b), WF_OK);
	char *h = as_str(&b);
	CHECK(pos(h, "<p>Only the first 100000 entries are listed.</p>") >= 0);
	free(h);
	/* HTML, past 8 MiB here, comes out in pieces all the same; a read may
	 * ask for more than the page's rendering holds at once. */
	check_job_same(dir, XFER_LISTING_HTML, &b, 16384);
	check_job_same(dir, XFER_LISTING_HTML, &b, 1 << 20);
	wf_buf_fini(&b);
	close(dir);
}

static xfer_listing_format_t pick(const char *s)
{
	/* Copy without the NUL, followed by junk: the slice must be honoured. */
	static char tmp[256];
	size_t n = strlen(s);
	memcpy(tmp, s, n);
	memcpy(tmp + n, ",application/json", 18);
	return xfer_listing_pick((wf_slice_t){ tmp, n });
}

static void check_pick(void)
{
	const xfer_listing_format_t H = XFER_LISTING_HTML, J = XFER_LISTING_JSON;
	CHECK_EQ_INT(xfer_listing_pick((wf_slice_t){ NULL, 0 }), H);
	CHECK_EQ_INT(pick(""), H);
	CHECK_EQ_INT(pick("application/json"), J);
	CHECK_EQ_INT(pick("APPLICATION/JSON"), J);
	CHECK_EQ_INT(pick("application/json , text/html;q=0.1"), J);
	CHECK_EQ_INT(pick("text/html,application/json"), H);
	CHECK_EQ_INT(pick("text/html;q=0.9, application/json"), J);
	CHECK_EQ_INT(pick("application/json;q=0.5, text/html;q=0.4"), J);
	CHECK_EQ_INT(pick("application/json;q=0.500,text/html;q=0.499"), J);
	CHECK_EQ_INT(pick("text/html;q=0.8,application/json;q=0.8"), H);
	CHECK_EQ_INT(pick("application/json;q=0"), H);
	CHECK_EQ_INT(pick("application/json;q=0.0"), H);
	CHECK_EQ_INT(pick("*/*"), H);
	CHECK_EQ_INT(pick("application/json;q=0.1, */*"), J);
	CHECK_EQ_INT(pick("application/json;q=0.1, */*, text/*"), J);
	CHECK_EQ_INT(pick("text/html;level=1;q=0.5, application/json;q=0.6"), J);
	CHECK_EQ_INT(pick("application/json;charset=utf-8;Q=0.7, text/html;q=0.6"), J);
	CHECK_EQ_INT(pick("application/json;q=0.9;ext=1, text/html;q=0.8"), J);
	/* A type listed twice keeps its best q. */
	CHECK_EQ_INT(pick("text/html;q=0.1, application/json;q=0.5, text/html"), H);
	/* Malformed q counts as 0. */
	CHECK_EQ_INT(pick("application/json;q=abc"), H);
	CHECK_EQ_INT(pick("application/json;q=1.5"), H);
	CHECK_EQ_INT(pick("application/json;q=2"), H);
	CHECK_EQ_INT(pick("application/json;q=0.0001"), H);
	CHECK_EQ_INT(pick("application/json;q=1.000"), J);
	CHECK_EQ_INT(pick("application/json;q=1.001"), H);
	CHECK_EQ_INT(pick("application/json;q="), H);
	/* Near misses and quoted commas. */
	CHECK_EQ_INT(pick("application/jsonx"), H);
	CHECK_EQ_INT(pick("application/json-seq"), H);
	CHECK_EQ_INT(pick("text/html;foo=\"a,application/json\""), H);
	CHECK_EQ_INT(pick("text/html;foo=\"a\\\",application/json\";q=0.5, application/json;q=0.4"), H);
	CHECK_EQ_INT(pick(",,, ;;, application/json"), J);
}

int main(void)
{
	char cmd[PATH_MAX];
	snprintf(root, sizeof(root), "/tmp/wharf-listing-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	int dir = make_tree();
	check_html(dir);
	check_json(dir);
	check_cap(dir);
	check_fd_kept(dir);
	check_job_fails(dir);
	check_job_small(dir);
	close(dir);
	check_truncated();
	check_pick();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_report();
}
