/* Error log with levels and the access log. Each line is built whole and written
 * with one write(2), so lines from worker threads never interleave. */
#ifndef WF_LOG_H
#define WF_LOG_H

#include "base.h"

#include <stdbool.h>
#include <time.h>

/* Bytes of one log line, error log or access log alike. A message naming
 * two paths of PATH_MAX (a rename) goes whole, as does an access line with
 * one such path (unless most of its bytes need escaping: four bytes each).
 * What does not fit is cut where a character begins, and the line (error
 * log) or the field (access log) ends in WF_LOG_CUT, so a cut line never
 * passes for a whole one. In the access log no field can end in it
 * otherwise: a backslash in a field is always written "\x5c". */
#define WF_LOG_LINE_MAX 16384
#define WF_LOG_CUT "\\[cut]"

typedef enum wf_log_level {
	WF_LOG_ERROR,
	WF_LOG_WARN,
	WF_LOG_INFO,
	WF_LOG_DEBUG,
} wf_log_level_t;

/* Opens (or reopens, on reload) the log targets. "stderr" means fd 2; "off"
 * turns the access log off. Returns WF_OK, or WF_ERR (said in the log) and
 * leaves the current targets in place. */
int wf_log_open(const char *level, const char *error_log, const char *access_log);
/* The same in two steps, for a reload that may still be refused after the
 * files are open: prepare (WF_ERR said in the log, nothing open), then
 * install, or discard what was prepared. */
typedef struct wf_log_targets {
	int level, error_fd, access_fd; /* fds owned until installed or discarded */
} wf_log_targets_t;
int wf_log_prepare(const char *level, const char *error_log, const char *access_log, wf_log_targets_t *out);
/* `wharf check`: whether the start could open error_log and access_log
 * (as wf_log_prepare opens them, as this process runs): WF_ERR with the
 * start's words in err ("cannot open error log PATH: ...") and *access
 * telling which. Nothing is made: a file not there yet is judged by its
 * folder. */
int wf_log_check(const char *error_log, const char *access_log, char *err, size_t errlen, bool *access);
void wf_log_install(const wf_log_targets_t *t);
void wf_log_discard(const wf_log_targets_t *t);
void wf_log_close(void);
int wf_log_enabled(wf_log_level_t level);

void wf_log(wf_log_level_t level, const char *fmt, ...) WF_PRINTF(2, 3);
#define wf_log_error(...) wf_log(WF_LOG_ERROR, __VA_ARGS__)
#define wf_log_warn(...) wf_log(WF_LOG_WARN, __VA_ARGS__)
#define wf_log_info(...) wf_log(WF_LOG_INFO, __VA_ARGS__)
#define wf_log_debug(...)                            \
	do {                                         \
		if (wf_log_enabled(WF_LOG_DEBUG))    \
			wf_log(WF_LOG_DEBUG, __VA_ARGS__); \
	} while (0)

/* For a warning a flood could repeat: true at most once a minute per
 * *last (a static of the caller's, 0 at first), across threads. */
bool wf_log_minute_due(_Atomic time_t *last);

/* One access-log line: client, user, method, path, protocol, status, bytes, time. */
/* Bytes of the character at s (1 to 4) when a log line may hold it as it
 * is, or 0 when it must be escaped: a control byte (C0, DEL, C1), a line or
 * paragraph separator (U+2028, U+2029), a bidirectional control (U+202A-E,
 * U+2066-9: they reorder what a terminal shows), or bytes that are not UTF-8.
 * So UTF-8 names stay readable and nothing a peer sends can forge a line.
 * len > 0. Pure. */
size_t wf_log_char_len(const char *s, size_t len);

void wf_log_access(const char *client, const char *user, wf_slice_t method, wf_slice_t path, const char *proto,
		   int status, uint64_t bytes, double seconds);

#endif
