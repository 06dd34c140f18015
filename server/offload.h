/* Blocking work off the event loops: a small pool of threads runs jobs that
 * would stall a worker (fsync of a large upload), and each job's completion
 * runs back on the loop of the worker that submitted it (ev_async), where
 * the connection state lives. */
#ifndef WF_OFFLOAD_H
#define WF_OFFLOAD_H

#include "base.h"

#include <stdbool.h>

typedef struct wf_worker wf_worker_t;

typedef void (*wf_offload_fn)(void *arg);   /* on a pool thread: touch nothing shared */
typedef void (*wf_offload_done)(void *arg); /* on the submitting worker's loop */

/* threads take any job, oldest first; one more takes only password
 * checks (wf_offload_submit_login). */
int wf_offload_start(int threads);
/* Runs every queued job, then stops the threads. */
void wf_offload_stop(void);
/* WF_OK, or WF_ERR when the pool is not running (the caller then does the
 * work inline). With w and done NULL, nothing runs after fn: a job no loop
 * waits for (fn then releases what arg holds). */
int wf_offload_submit(wf_worker_t *w, wf_offload_fn fn, wf_offload_done done, void *arg);
/* The same for a password check: never queued behind file work. */
int wf_offload_submit_login(wf_worker_t *w, wf_offload_fn fn, wf_offload_done done, void *arg);
/* Takes a job of wf_offload_submit's (fn over arg) back out of the queue
 * if no thread has taken it yet: true, and neither fn nor done runs for
 * it; false when a thread took it (fn runs or ran, and done comes as it
 * would), or when no such job was submitted. */
bool wf_offload_withdraw(wf_offload_fn fn, void *arg);
/* Called by the worker on its loop: runs the completions that arrived. */
void wf_offload_complete(wf_worker_t *w);

#endif
