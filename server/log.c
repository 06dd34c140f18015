/* Logging: see log.h. */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_int log_level = WF_LOG_INFO;
static atomic_int error_fd = 2;
static atomic_int access_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

/* A copy of current when it is the file target names now, or -1. A reload
 * keeps the file it has: started as root, the run user could not open it
 * again (root made it 0640 in a folder root may own). After rotation
 * renamed it, the name leads elsewhere (or nowhere) and the file there is
 * opened, or made, as the run user. */
static int still_open(const char *target, int current)
{
	struct stat open_st, named_st;
	if (current <= 2 || fstat(current, &open_st) != 0 || !S_ISREG(open_st.st_mode) ||
	    lstat(target, &named_st) != 0 || open_st.st_dev != named_st.st_dev || open_st.st_ino != named_st.st_ino)
		return -1;
	return fcntl(current, F_DUPFD_CLOEXEC, 3);
}

#define LOG_LINK_HOPS 8

/* The process's own descriptors (/dev/stdout leads to /proc/self/fd/1: a
 * pipe or a tty, whose link text cannot be opened again): opened as they are. */
static bool own_descriptor(const char *path)
{
	return strncmp(path, "/proc/self/fd/", 14) == 0 || strncmp(path, "/dev/fd/", 8) == 0;
}

/* Opens target, walking it a component at a time and following no
 * symlink but root's, a folder's as well as the last: the log is opened
 * as root, maybe below a folder the run user may write, and a link of
 * theirs anywhere on the way (or where a root link leads) would point
 * root's appends at any file. Each link is held (O_PATH) while its owner
 * is checked and its text read, so one swapped in after the check is
 * never the one followed; its text then takes its place in what is left
 * of the path, from its folder when relative, as the kernel would. -1
 * with errno ELOOP at a link not root's, or past LOG_LINK_HOPS links. */
static int open_following_roots_links(const char *target, int flags)
{
	char path[PATH_MAX];
	if (snprintf(path, sizeof(path), "%s", target) >= (int)sizeof(path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	if (own_descriptor(path))
		return open(path, flags, 0640);
	int dir = open(path[0] == '/' ? "/" : ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int hops = 0, fd = -1;
	char *p = path;
	while (dir >= 0) {
		while (*p == '/')
			p++;
		char *end = strchr(p, '/'), *next = end;
		while (next && *next == '/')
			next++;
		bool last = !next || !*next;
		if (!*p || (last && end)) { /* "" or "dir/": no file named */
			errno = EISDIR;
			break;
		}
		char name[NAME_MAX + 1];
		size_t len = end ? (size_t)(end - p) : strlen(p);
		if (len > NAME_MAX) {
			errno = ENAMETOOLONG;
			break;
		}
		memcpy(name, p, len);
		name[len] = '\0';
		if (last)
			fd = openat(dir, name, flags | O_NOFOLLOW, 0640);
		else
			fd = openat(dir, name, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd >= 0 && !last) {
			close(dir);
			dir = fd;
			fd = -1;
			p = next;
			continue;
		}
		if (fd >= 0 || (errno != ELOOP && errno != ENOTDIR))
			break;
		/* A symlink (or, with ENOTDIR, maybe a file where a folder was named). */
		int link = openat(dir, name, O_PATH | O_NOFOLLOW | O_CLOEXEC);
		struct stat st;
		bool is_link = link >= 0 && fstat(link, &st) == 0 && S_ISLNK(st.st_mode);
		char to[PATH_MAX];
		ssize_t n = -1;
		if (is_link && st.st_uid == 0 && ++hops <= LOG_LINK_HOPS)
			n = readlinkat(link, "", to, sizeof(to));
		if (link >= 0)
			close(link);
		if (!is_link) {
			errno = ENOTDIR; /* a file where a folder was named */
			break;
		}
		if (n <= 0 || (size_t)n >= sizeof(to)) {
			errno = ELOOP;
			break;
		}
		/* The link's text, then what was left after it. */
		char rest[PATH_MAX];
		int m = snprintf(rest, sizeof(rest), "%.*s%s%s", (int)n, to, last ? "" : "/", last ? "" : next);
		if (m < 0 || (size_t)m >= sizeof(rest)) {
			errno = ENAMETOOLONG;
			break;
		}
		memcpy(path, rest, (size_t)m + 1);
		p = path;
		if (own_descriptor(path)) {
			close(dir);
			return open(path, flags, 0640);
		}
		if (path[0] == '/') {
			close(dir);
			dir = open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
		}
	}
	int saved = errno;
	if (dir >= 0)
		close(dir);
	errno = saved;
	return fd;
}

static int open_target(const char *target, int current, int *fd)
{
	if (strcmp(target, "stderr") == 0) {
		*fd = 2;
		return WF_OK;
	}
	if (strcmp(target, "off") == 0) {
		*fd = -1;
		return WF_OK;
	}
	*fd = still_open(target, current);
	if (*fd >= 0)
		return WF_OK;
	/* No link followed but root's (/dev/stdout, for containers).
	 * O_NONBLOCK: a FIFO put there with no reader fails at once instead
	 * of hanging start-up or a reload. */
	int flags = O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NONBLOCK;
	*fd = open_following_roots_links(target, flags);
	struct stat st;
	if (*fd < 0)
		return WF_ERR;
	if (fstat(*fd, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
		close(*fd);
		*fd = -1;
		errno = EINVAL;
		return WF_ERR;
	}
	int fl = fcntl(*fd, F_GETFL);
	if (fl >= 0)
		fcntl(*fd, F_SETFL, fl & ~O_NONBLOCK); /* a full pipe waits, as stderr does */
	return WF_OK;
}

/* Says why a log target could not be opened (errno as open_target left
 * it): O_NOFOLLOW's ELOOP reads as "too many levels of symbolic links",
 * which is not the reason. */
static void open_failure(const char *what, const char *target, char *out, size_t cap)
{
	if (errno == ELOOP)
		snprintf(out, cap, "cannot open %s %s: it is a symbolic link not owned by root, which a log file must not be "
				   "(name the file itself)",
			 what, target);
	else if (errno == EINVAL)
		snprintf(out, cap, "cannot open %s %s: not a file, a device or a pipe", what, target);
	else if (errno == ENXIO)
		snprintf(out, cap, "cannot open %s %s: a pipe no process reads", what, target);
	else
		snprintf(out, cap, "cannot open %s %s: %s", what, target, strerror(errno));
}

static void open_failed(const char *what, const char *target)
{
	char why[1200];
	open_failure(what, target, why, sizeof(why));
	wf_log_error("%s", why);
}

/* As open_target would open it at the start, without making it: a file
 * not there yet is judged by its folder, where the start (root) makes it.
 * Nothing is created, so nothing is unlinked: a check run as root never
 * removes a name a folder swapped under it would point at. */
static int probe_target(const char *target)
{
	if (strcmp(target, "stderr") == 0 || strcmp(target, "off") == 0)
		return WF_OK;
	int fd = open_following_roots_links(target, O_WRONLY | O_APPEND | O_CLOEXEC | O_NONBLOCK);
	if (fd >= 0) {
		struct stat st;
		bool usable = fstat(fd, &st) == 0 && (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode));
		close(fd);
		errno = EINVAL;
		return usable ? WF_OK : WF_ERR;
	}
	if (errno != ENOENT)
		return WF_ERR;
	char parent[PATH_MAX];
	snprintf(parent, sizeof(parent), "%s", target);
	char *slash = strrchr(parent, '/');
	if (slash)
		*slash = '\0';
	int dir = !slash ? open(".", O_PATH | O_DIRECTORY | O_CLOEXEC)
		  : !parent[0] ? open("/", O_PATH | O_DIRECTORY | O_CLOEXEC)
			       : open_following_roots_links(parent, O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (dir < 0)
		return WF_ERR;
	int rc = faccessat(dir, ".", W_OK | X_OK, AT_EACCESS) == 0 ? WF_OK : WF_ERR;
	int saved = errno;
	close(dir);
	errno = saved;
	return rc;
}

int wf_log_check(const char *error_log, const char *access_log, char *err, size_t errlen, bool *access)
{
	const char *targets[2] = { error_log, access_log };
	for (int i = 0; i < 2; i++) {
		if (probe_target(targets[i]) != WF_OK) {
			open_failure(i ? "access log" : "error log", targets[i], err, errlen);
			*access = i == 1;
			return WF_ERR;
		}
	}
	return WF_OK;
}

/* Points *slot at the file open on fd. A worker may be writing to the old
 * descriptor at this moment, so it is never closed under it: a file replaces
 * a file by dup2 onto the same number (a write in flight ends in the old
 * file, the next one goes to the new), which is what a reload after log
 * rotation does, any number of times, at no cost in descriptors. Only a
 * switch between a file and stderr/off leaves one old descriptor open. */
static void install(atomic_int *slot, int fd)
{
	int old = atomic_load(slot);
	if (old > 2 && fd > 2 && dup3(fd, old, O_CLOEXEC) == old) { /* dup2 would drop close-on-exec */
		close(fd);
		return;
	}
	atomic_store(slot, fd);
}

int wf_log_prepare(const char *level, const char *error_log, const char *access_log, wf_log_targets_t *out)
{
	out->level = WF_LOG_INFO;
	for (int i = 0; i < 4; i++)
		if (strcmp(level, level_names[i]) == 0)
			out->level = i;
	if (open_target(error_log, atomic_load(&error_fd), &out->error_fd) != WF_OK) {
		open_failed("error log", error_log);
		return WF_ERR;
	}
	if (open_target(access_log, atomic_load(&access_fd), &out->access_fd) != WF_OK) {
		open_failed("access log", access_log);
		if (out->error_fd > 2)
			close(out->error_fd);
		return WF_ERR;
	}
	return WF_OK;
}

void wf_log_install(const wf_log_targets_t *t)
{
	install(&error_fd, t->error_fd);
	install(&access_fd, t->access_fd);
	atomic_store(&log_level, t->level);
}

void wf_log_discard(const wf_log_targets_t *t)
{
	if (t->error_fd > 2)
		close(t->error_fd);
	if (t->access_fd > 2)
		close(t->access_fd);
}

int wf_log_open(const char *level, const char *error_log, const char *access_log)
{
	wf_log_targets_t t;
	if (wf_log_prepare(level, error_log, access_log, &t) != WF_OK)
		return WF_ERR;
	wf_log_install(&t);
	return WF_OK;
}

void wf_log_close(void)
{
	int e = atomic_exchange(&error_fd, 2), a = atomic_exchange(&access_fd, 2);
	if (e > 2)
		close(e);
	if (a > 2 && a != e)
		close(a);
}

int wf_log_enabled(wf_log_level_t level)
{
	return (int)level <= atomic_load(&log_level);
}

static size_t stamp(char *out, size_t cap)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
	n += (size_t)snprintf(out + n, cap - n, ".%03ldZ", ts.tv_nsec / 1000000);
	return n;
}

void wf_log(wf_log_level_t level, const char *fmt, ...)
{
	if (!wf_log_enabled(level))
		return;
	int fd = atomic_load(&error_fd);
	if (fd < 0)
		return;
	char line[WF_LOG_LINE_MAX];
	size_t n = stamp(line, sizeof(line));
	n += (size_t)snprintf(line + n, sizeof(line) - n, " [%s] ", level_names[level]);
	va_list ap;
	va_start(ap, fmt);
	int m = vsnprintf(line + n, sizeof(line) - n, fmt, ap);
	va_end(ap);
	if (m < 0)
		return;
	size_t cap = sizeof(line) - 1; /* and the newline */
	if (n + (size_t)m <= cap) {
		n += (size_t)m;
	} else {
		/* Too long: cut where a character begins, and say so. */
		size_t keep = cap - (sizeof(WF_LOG_CUT) - 1);
		while (keep > n && ((unsigned char)line[keep] & 0xc0) == 0x80)
			keep--;
		memcpy(line + keep, WF_LOG_CUT, sizeof(WF_LOG_CUT) - 1);
		n = keep + sizeof(WF_LOG_CUT) - 1;
	}
	/* Nothing a peer sends may forge a log line (wf_log_char_len). */
	for (size_t i = 0; i < n;) {
		size_t k = wf_log_char_len(line + i, n - i);
		if (k == 0) {
			line[i] = '?';
			k = 1;
		}
		i += k;
	}
	line[n++] = '\n';
	ssize_t w = write(fd, line, n);
	(void)w;
}

size_t wf_log_char_len(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned c = p[0];
	if (c < 0x80)
		return c < 0x20 || c == 0x7f ? 0 : 1;
	size_t k = c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
	if (k == 0 || k > len)
		return 0;
	for (size_t i = 1; i < k; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	/* Overlong forms, surrogates and code points past U+10FFFF. */
	if ((c == 0xe0 && p[1] < 0xa0) || (c == 0xed && p[1] > 0x9f) || (c == 0xf0 && p[1] < 0x90) ||
	    (c == 0xf4 && p[1] > 0x8f))
		return 0;
	if (c == 0xc2 && p[1] < 0xa0) /* C1 controls, NEL (U+0085) among them */
		return 0;
	if (c == 0xe2 && ((p[1] == 0x80 && p[2] >= 0xa8 && p[2] <= 0xae) || (p[1] == 0x81 && p[2] >= 0xa6 && p[2] <= 0xa9)))
		return 0;
	return k;
}

/* Appends s with control bytes, spaces, quotes and whatever wf_log_char_len
 * refuses escaped, so each field stays one token and a hostile path cannot
 * break the line. A field cap cannot hold whole is cut where a character
 * begins and ends in WF_LOG_CUT. Writes no NUL. */
static size_t put_field(char *out, size_t cap, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const size_t mark = sizeof(WF_LOG_CUT) - 1;
	size_t n = 0;
	if (len == 0) {
		if (cap > 1)
			out[n++] = '-';
		return n;
	}
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)s[i];
		size_t k = c == ' ' || c == '"' || c == '\\' ? 0 : wf_log_char_len(s + i, len - i);
		size_t w = k ? k : 4;
		/* What comes after this character must still fit, or the mark. */
		if (n + w + (i + (k ? k : 1) < len ? mark : 0) >= cap)
			break;
		if (k) {
			memcpy(out + n, s + i, k);
			n += k;
			i += k;
		} else {
			out[n++] = '\\';
			out[n++] = 'x';
			out[n++] = hex[c >> 4];
			out[n++] = hex[c & 15];
			i++;
		}
	}
	if (i < len && n + mark < cap) {
		memcpy(out + n, WF_LOG_CUT, mark);
		n += mark;
	}
	return n;
}

/* Bytes of line[n..cap) left once keep bytes are set aside; 0, never less. */
static size_t room(size_t n, size_t cap, size_t keep)
{
	return n + keep < cap ? cap - n - keep : 0;
}

/* Appends s if it fits in cap (with room to spare, as put_field leaves). */
static size_t put_text(char *out, size_t cap, const char *s)
{
	size_t len = strlen(s);
	if (len + 1 > cap)
		return 0;
	memcpy(out, s, len);
	return len;
}

void wf_log_access(const char *client, const char *user, wf_slice_t method, wf_slice_t path, const char *proto,
		   int status, uint64_t bytes, double seconds)
{
	int fd = atomic_load(&access_fd);
	if (fd < 0)
		return;
	/* The tail (protocol, status, bytes, time) always fits: the fields
	 * before it get what is left of the line but TAIL bytes, and each
	 * length is clamped, so nothing counts past the buffer. */
	enum { TAIL = 200 };
	char line[WF_LOG_LINE_MAX];
	size_t n = stamp(line, sizeof(line));
	n += put_text(line + n, room(n, sizeof(line), TAIL), " ");
	n += put_field(line + n, room(n, sizeof(line), TAIL), client, strlen(client));
	n += put_text(line + n, room(n, sizeof(line), TAIL), " ");
	n += put_field(line + n, room(n, sizeof(line), TAIL), user ? user : "", user ? strlen(user) : 0);
	n += put_text(line + n, room(n, sizeof(line), TAIL), " ");
	n += put_field(line + n, room(n, sizeof(line), TAIL), method.ptr, method.len);
	n += put_text(line + n, room(n, sizeof(line), TAIL), " ");
	n += put_field(line + n, room(n, sizeof(line), TAIL), path.ptr, path.len);
	int m = snprintf(line + n, sizeof(line) - n, " %s %d %llu %.3f\n", proto, status, (unsigned long long)bytes,
			 seconds);
	if (m > 0)
		n = n + (size_t)m < sizeof(line) ? n + (size_t)m : sizeof(line) - 1; /* cut: snprintf's NUL is last */
	line[n - 1] = '\n';
	ssize_t w = write(fd, line, n);
	(void)w;
}

bool wf_log_minute_due(_Atomic time_t *last)
{
	time_t now = time(NULL), seen = atomic_load(last);
	return now - seen >= 60 && atomic_compare_exchange_strong(last, &seen, now);
}
