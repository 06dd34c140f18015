/* Log files: a symlink in the log's place is refused unless root owns it
 * (the files are opened as root, in folders the run user may write; /dev/
 * stdout is root's; a relative one is read from its folder), a FIFO nobody reads fails instead of hanging, a
 * folder is refused, and an access line stays one whole line in its
 * buffer whatever the fields hold. */
#include "server/log.h"

#include "check.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char dir[] = "/tmp/wharf-log-XXXXXX";

static char *path_in(const char *name)
{
	static char p[4][256];
	static int k;
	char *out = p[k++ % 4];
	snprintf(out, sizeof(p[0]), "%s/%s", dir, name);
	return out;
}

static size_t file_size(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (size_t)st.st_size : 0;
}

static char *read_all(const char *path, size_t *len)
{
	static char buf[65536];
	FILE *f = fopen(path, "rb");
	*len = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
	buf[*len] = '\0';
	if (f)
		fclose(f);
	return buf;
}

static void test_symlink_refused(void)
{
	char *target = path_in("precious"), *link = path_in("error.log");
	FILE *f = fopen(target, "w");
	fputs("keep me\n", f);
	fclose(f);
	CHECK(symlink(target, link) == 0);
	if (geteuid() == 0) /* as the run user would have made it */
		CHECK(lchown(link, 65534, 65534) == 0);
	CHECK_EQ_INT(wf_log_open("info", link, "off"), WF_ERR);
	wf_log_info("a line that must not reach the symlink's target");
	CHECK_EQ_INT(file_size(target), 8);
	CHECK_EQ_INT(wf_log_open("info", "stderr", link), WF_ERR);
	wf_log_access("192.0.2.1", "alice", WF_SLICE("GET"), WF_SLICE("/"), "h2", 200, 0, 0.0);
	CHECK_EQ_INT(file_size(target), 8);
	/* A plain file is fine. */
	char *plain = path_in("access.log");
	CHECK_EQ_INT(wf_log_open("info", "stderr", plain), WF_OK);
	wf_log_close();
}

/* Root's own link is followed, a relative one from the link's folder. */
static void test_roots_link_followed(void)
{
	if (geteuid() != 0)
		return; /* only root's links are followed */
	char *link = path_in("rel.log");
	CHECK(symlink("logs-real.log", link) == 0);
	CHECK_EQ_INT(wf_log_open("info", link, "off"), WF_OK);
	wf_log_info("through root's link");
	wf_log_close();
	size_t len;
	CHECK(strstr(read_all(path_in("logs-real.log"), &len), "through root's link\n") != NULL);
	unlink(path_in("logs-real.log"));
	unlink(link);
	/* Root's link to a link of the run user's: not followed past it. */
	char *target = path_in("precious2"), *theirs = path_in("theirs.log"), *roots = path_in("roots.log");
	FILE *f = fopen(target, "w");
	fputs("keep me\n", f);
	fclose(f);
	CHECK(symlink(target, theirs) == 0);
	CHECK(lchown(theirs, 65534, 65534) == 0);
	CHECK(symlink("theirs.log", roots) == 0);
	CHECK_EQ_INT(wf_log_open("info", roots, "off"), WF_ERR);
	wf_log_info("a line that must not reach the second link's target");
	CHECK_EQ_INT(file_size(target), 8);
	/* A folder on the way that is the run user's link: not followed. */
	char *victim = path_in("victim"), *sub = path_in("sub"), *via = path_in("via.log");
	CHECK(mkdir(victim, 0755) == 0);
	CHECK(symlink(victim, sub) == 0);
	CHECK(lchown(sub, 65534, 65534) == 0);
	CHECK(symlink("sub/error.log", via) == 0);
	CHECK_EQ_INT(wf_log_open("info", via, "off"), WF_ERR);
	char victim_log[300];
	snprintf(victim_log, sizeof(victim_log), "%s/error.log", victim);
	CHECK(access(victim_log, F_OK) != 0);
	CHECK_EQ_INT(wf_log_open("info", path_in("sub/direct.log"), "off"), WF_ERR);
	/* Root's link to a folder is followed, to the file below it. */
	char *real = path_in("realdir"), *rootdir = path_in("rootdir");
	CHECK(mkdir(real, 0755) == 0);
	CHECK(symlink("realdir", rootdir) == 0);
	CHECK_EQ_INT(wf_log_open("info", path_in("rootdir/x.log"), "off"), WF_OK);
	wf_log_info("through root's folder link");
	wf_log_close();
	size_t got;
	CHECK(strstr(read_all(path_in("realdir/x.log"), &got), "through root's folder link") != NULL);
	/* The process's own descriptors, named as such. */
	CHECK_EQ_INT(wf_log_open("info", "/dev/fd/2", "/proc/self/fd/2"), WF_OK);
	wf_log_close();
}

static void test_devices_pipes_and_folders(void)
{
	/* Containers log to /dev/stdout: root's symlink, to a pipe or a tty. */
	CHECK_EQ_INT(wf_log_open("info", "stderr", "/dev/stdout"), WF_OK);
	CHECK_EQ_INT(wf_log_open("info", "/dev/null", "off"), WF_OK);
	/* A FIFO no process reads: refused at once, where a blocking open would
	 * hang start-up (or a reload) until some process opened it. */
	char *fifo = path_in("fifo.log");
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK_EQ_INT(wf_log_open("info", fifo, "off"), WF_ERR);
	CHECK_EQ_INT(wf_log_open("info", path_in(""), "off"), WF_ERR); /* the folder itself */
	wf_log_close();
}

/* Lines of text, each checked to be shorter than a log line; their count. */
static int count_lines(const char *text, size_t len)
{
	int lines = 0;
	for (const char *p = text, *nl; (nl = memchr(p, '\n', len - (size_t)(p - text))); p = nl + 1) {
		CHECK(nl - p < WF_LOG_LINE_MAX);
		lines++;
	}
	return lines;
}

/* Fields as long as anything may make them: the line is cut, never written
 * past its buffer, each cut field says so, and the line still ends in one
 * newline. A path of PATH_MAX goes whole. */
static void test_access_line_bounded(void)
{
	char *access = path_in("long.log");
	CHECK_EQ_INT(wf_log_open("info", "stderr", access), WF_OK);
	static char big[20000], path_max[4097];
	memset(big, 'u', sizeof(big) - 1);
	memset(path_max, 'p', sizeof(path_max) - 1);
	path_max[0] = '/';
	wf_slice_t method = WF_SLICE("GET");
	wf_slice_t path = { big, sizeof(big) - 1 };
	wf_log_access("192.0.2.1", big, method, path, "h2", 200, 5, 0.25);
	wf_log_access(big, "alice", method, path, "h2", 200, 5, 0.25); /* even a client field that long */
	wf_log_access("192.0.2.1", "alice", method, WF_SLICE("/short"), "h2", 200, 5, 0.25);
	wf_log_access("192.0.2.1", "alice", WF_SLICE("STOR"), (wf_slice_t){ path_max, 4096 }, "ftps", 226, 5, 0.25);
	/* Escaped bytes are cut whole: never a "\x" without its digits. */
	static char ctl[20000];
	memset(ctl, '\x01', sizeof(ctl) - 1);
	wf_log_access("192.0.2.1", "alice", method, (wf_slice_t){ ctl, sizeof(ctl) - 1 }, "h2", 200, 5, 0.25);
	wf_log_close();
	size_t len;
	char *text = read_all(access, &len);
	CHECK_EQ_INT(count_lines(text, len), 5);
	CHECK(len > 0 && text[len - 1] == '\n');
	CHECK(strstr(text, " 192.0.2.1 alice GET /short h2 200 5 0.250\n") != NULL);
	/* The first line kept its tail: protocol, status, bytes, time; its
	 * user field was cut, and says so. */
	char *first_end = strchr(text, '\n');
	CHECK(strstr(text, " h2 200 5 0.250\n") != NULL && strstr(text, " h2 200 5 0.250\n") < first_end);
	CHECK(strstr(text, "uuu" WF_LOG_CUT " ") != NULL && strstr(text, "uuu" WF_LOG_CUT " ") < first_end);
	/* A path of PATH_MAX: whole, unmarked. */
	char want[4200];
	snprintf(want, sizeof(want), " alice STOR %s ftps 226 5 0.250\n", path_max);
	CHECK(strstr(text, want) != NULL);
	CHECK(strstr(text, "\\x01\\x01" WF_LOG_CUT " h2 200 5 0.250\n") != NULL);
}

/* Error-log lines: a message naming two paths of PATH_MAX goes whole; a
 * longer one is cut where a character begins and ends in the cut mark. */
static void test_error_line_whole_or_marked(void)
{
	char *errors = path_in("lines.log");
	CHECK_EQ_INT(wf_log_open("info", errors, "off"), WF_OK);
	static char a[4097], b[4097], huge[30001];
	memset(a, 'a', sizeof(a) - 1);
	memset(b, 'b', sizeof(b) - 1);
	wf_log_info("renamed /%s to /%s", a, b);
	/* Three-byte characters all the way: the cut may not split one. */
	for (size_t i = 0; i + 3 <= sizeof(huge) - 1; i += 3)
		memcpy(huge + i, "\xe6\x96\x87", 3);
	wf_log_info("%s", huge);
	wf_log_info("short");
	wf_log_close();
	size_t len;
	char *text = read_all(errors, &len);
	CHECK_EQ_INT(count_lines(text, len), 3);
	char want[8300];
	snprintf(want, sizeof(want), "renamed /%s to /%s\n", a, b);
	CHECK(strstr(text, want) != NULL);
	CHECK(strstr(text, "\xe6\x96\x87" WF_LOG_CUT "\n") != NULL);
	CHECK(strstr(text, "?" WF_LOG_CUT) == NULL);
	CHECK(strstr(text, "[info] short\n") != NULL);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	test_symlink_refused();
	test_roots_link_followed();
	test_devices_pipes_and_folders();
	test_access_line_bounded();
	test_error_line_whole_or_marked();
	char cmd[300];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cleanup failed\n");
	return check_report();
}
