/* Stale interrupted FTP uploads. An upload cut short is parked under its
 * partial name (transfer/path.c) for REST/APPE, and held under its claimed
 * name while one resumes it; one that nobody resumed within
 * limits.partial_upload_max_age (by its last write) is stale: the FTP
 * commands treat it as absent and remove it when they meet it, and a sweep
 * removes the ones nobody meets, walking every user's home.
 *
 * The sweep blocks (it reads folders), so it runs on the offload pool. Only
 * the main thread starts one (server/server.c: shortly after start-up, then
 * hourly), and never while the last one still runs, so one thread of the
 * process sweeps at a time however many workers there are. */
#ifndef XFER_PARTIAL_SWEEP_H
#define XFER_PARTIAL_SWEEP_H

#include "../server/config.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

#define XFER_SWEEP_MAX_ENTRIES 100000 /* folder entries one sweep reads, over all homes */
#define XFER_SWEEP_MAX_DEPTH 32       /* folders below a home a sweep goes down into */

/* True when a partial last written at st's mtime is past max_age seconds at
 * now; never with max_age 0 (kept forever). */
bool xfer_partial_stale(const struct stat *st, time_t now, int max_age);

/* True when the partial st was last written before what the name it was
 * parked for holds now (name_st, NULL: nothing has the name) last
 * changed: a file put under the name since (an HTTP PUT, an RNTO onto it,
 * a tool of the admin's) replaced the upload the partial was part of, and
 * resuming the partial would swap that file for older bytes. A rename onto
 * the name and a write to it both move its ctime. */
bool xfer_partial_replaced(const struct stat *st, const struct stat *name_st);

/* Whether the partial of leaf in dir_fd is gone for every command (SIZE,
 * REST+STOR, APPE, which remove it when they meet it), looked up now. */
typedef enum xfer_partial_verdict {
	XFER_PARTIAL_LIVE,     /* none of the below, or there is no partial */
	XFER_PARTIAL_OLD,      /* xfer_partial_stale */
	XFER_PARTIAL_REPLACED, /* xfer_partial_replaced */
} xfer_partial_verdict_t;
xfer_partial_verdict_t xfer_partial_check(int dir_fd, const char *partial, const char *leaf, time_t now,
					  int max_age);

/* True when the upload temp file st (a hidden name, not a partial) is in
 * no upload's hands: one this process made, claimed or wrote to has a
 * ctime after started (creating, renaming and writing all set it; no upload
 * begins in the same tick), however slowly its client sends; one changed
 * before can be a live upload only of another node sharing the home. That
 * one ends once send_timeout passes without a byte, and writes its stage
 * at the first byte that finds it XFER_UPLOAD_STAGE_AGE seconds old: so at
 * worst a byte just before send_timeout starts a stage, bytes come just
 * under the age and then just before send_timeout again, and the file is
 * untouched for under 2 * send_timeout + XFER_UPLOAD_STAGE_AGE. min_age
 * must be longer than that: xfer_upload_orphan_age gives it. */
bool xfer_upload_tmp_orphan(const struct stat *st, time_t now, time_t min_age, struct timespec started);
/* xfer_upload_tmp_orphan's min_age for a server whose limits.send_timeout
 * is send_timeout: 2 * (send_timeout + XFER_UPLOAD_STAGE_AGE). */
time_t xfer_upload_orphan_age(int send_timeout);

/* Walks every home of cfg (a reference is taken for the walk) and removes
 * the stale partials there (none with max_age 0: kept until resumed or
 * deleted), and upload temp files an earlier process left (changed last at
 * or before started, this process's start on CLOCK_REALTIME_COARSE, and
 * older than both max_age and xfer_upload_tmp_orphan's bound, 2 *
 * (send_timeout + XFER_UPLOAD_STAGE_AGE)): with max_age 0 too, as nobody
 * resumes a temp file, HTTP uploads' included. A claimed name (a
 * resumption's temp file, transfer/path.c) an earlier process left is
 * that resumption's partial, which the next resumption recovers: it goes
 * as a stale partial would (by its mtime, never with max_age 0), and only
 * once it is an orphan as a temp file would be. Never through a symlink, never outside a
 * home, at most XFER_SWEEP_MAX_ENTRIES entries and XFER_SWEEP_MAX_DEPTH
 * levels. Logs one line per home and kind it removed something of.
 * Blocking: call it off the loops. Returns the number removed. */
size_t xfer_partial_sweep(const wf_config_t *cfg, time_t now, struct timespec started);

/* Runs xfer_partial_sweep(cfg, now, started) on the offload pool (main thread only).
 * WF_OK when it was queued; WF_DECLINED when the previous sweep has not
 * finished, or there is no pool to run it on. */
int xfer_partial_sweep_submit(wf_config_t *cfg, struct timespec started);

/* Makes a sweep in flight (or queued) stop at its next entry: before the
 * offload pool stops, so shutdown does not wait for a long walk. */
void xfer_partial_sweep_cancel(void);

#endif
