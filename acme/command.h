/* Commands the ACME module runs (deploy, event and DNS hooks): an argv array
 * started with posix_spawnp (never a shell; a program named without '/' is
 * looked up in PATH), watched from the default loop
 * (child watchers need it), killed after a timeout. How each ended is logged
 * here, in one line, and reported to the caller. */
#ifndef ACME_COMMAND_H
#define ACME_COMMAND_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>

/* ok: the command exited 0 within its time. */
typedef void (*acme_cmd_done_cb)(void *owner, bool ok);

/* Runs argv[0..argc) followed by extra (NULL-terminated; NULL for none). Its
 * environment is this process's without any WHARF_ variable, plus vars
 * ("WHARF_X=value" strings, NULL-terminated; NULL for none). what names it in
 * the log ("certificate web: deploy hook"). Its stdout is our stderr, as
 * its stderr is. cb (may be NULL) runs once from
 * the loop, never inside this call. Returns false when it could not start
 * (logged; cb will not run). */
bool acme_cmd_run(struct ev_loop *loop, char *const *argv, size_t argc, char *const *extra, char *const *vars,
		  double timeout, const char *what, acme_cmd_done_cb cb, void *owner);

/* owner is going away: its commands run on to their end (or timeout) and are
 * still logged and reaped, but report to nobody. */
void acme_cmd_forget(void *owner);

/* Commands of owner still running. */
size_t acme_cmd_running(const void *owner);

#endif
