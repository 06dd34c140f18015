/* Error log with levels and the access log. Each line is built whole and written
 * with one write(2), so lines from worker threads never interleave. */
#ifndef WF_LOG_H
#define WF_LOG_H

#include "base.h"

typedef enum wf_log_level {
	WF_LOG_ERROR,
	WF_LOG_WARN,
	WF_LOG_INFO,
	WF_LOG_DEBUG,
} wf_log_level_t;

/* Opens (or reopens, on reload) the log targets. "stderr" means fd 2; "off"
 * turns the access log off. Returns WF_OK, or WF_ERR and leaves the current
 * targets in place. */
int wf_log_open(const char *level, const char *error_log, const char *access_log);
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

/* One access-log line: client, user, method, path, protocol, status, bytes, time. */
void wf_log_access(const char *client, const char *user, wf_slice_t method, wf_slice_t path, const char *proto,
		   int status, uint64_t bytes, double seconds);

#endif
