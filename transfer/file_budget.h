/* What files HTTP transfers may hold open. A download holds its file open,
 * and an upload its temp file and the folder it goes into, from its request
 * until it ends, however slowly its client reads or writes (above
 * limits.min_rate): over HTTP/2 that is up to h2_max_streams of them per
 * connection, max_connections_per_ip connections per client. Out of file
 * descriptors, the server shuts every client out (accepts pause, every
 * file gets 503), so what they hold is bounded here:
 *   - a process-wide budget of descriptors for HTTP transfers: half of
 *     what the open file limit (RLIMIT_NOFILE, read at each request, so a
 *     limit raised on the running process counts) leaves after
 *     XFER_FILES_RESERVE, at least XFER_FILES_BUDGET_MIN; the other half
 *     is for connections' sockets, listings' folders and FTPS;
 *   - one client (an IPv4 address or an IPv6 /64, server/ip_guard.h) gets
 *     limits.open_files_per_client of them, by default an eighth of the
 *     budget (at least 2), as it gets an eighth of the listings' budget
 *     and of the password checks, so that one client cannot take every
 *     descriptor from the others.
 * A download counts one descriptor, an upload two. A request past either
 * is refused before it holds anything (HTTP 503, Retry-After), the
 * client's other transfers going on. A hold is plain data keyed by the
 * client's address, and ends when the descriptors it counts are closed,
 * which may be after the request: a download's lives in the request's
 * exchange and ends when its file is closed, at the latest with the
 * exchange; an upload's lives in its xfer_upload_t (transfer/upload.h) and
 * goes with the temp file and folder to whoever closes them, the commit
 * (fsync, rename) or the removal of a dropped upload's temp file, both on
 * the offload pool, where they may wait behind other work long after the
 * client left. Any thread. */
#ifndef XFER_FILE_BUDGET_H
#define XFER_FILE_BUDGET_H

#include "../server/ip_guard.h"

#include <stdbool.h>

/* Descriptors kept out of the budget whatever the limit: listeners (one
 * per service per worker), logs, the state folder, the offload pool's
 * work, a password check's files. */
#define XFER_FILES_RESERVE 64
/* The least budget, for a tiny limit: a client's share is at least 2. */
#define XFER_FILES_BUDGET_MIN 16

typedef enum xfer_files_refusal {
	XFER_FILES_GRANTED,
	XFER_FILES_FULL,        /* the process-wide budget is held */
	XFER_FILES_CLIENT_FULL, /* this client's share of it is */
} xfer_files_refusal_t;

typedef struct xfer_file_hold {
	char addr[WF_IPGUARD_CLIENT_MAX]; /* the client's address as the connection has it; "": holds nothing */
	int n;                            /* descriptors counted, process-wide and for the client */
	bool uncounted;                   /* the client had no entry in ip_guard: counted process-wide only */
} xfer_file_hold_t;

/* The budget, process-wide, for the open file limit now. */
int xfer_files_budget(void);
/* A client's share: per_client (limits.open_files_per_client) when set,
 * else an eighth of the budget, at least 2. */
int xfer_files_client_share(int per_client);
/* A transfer for addr is to hold n descriptors: GRANTED, and h holds them;
 * else why not, h holds nothing, and *g says who was at the limit and
 * whether the refusal is to be logged (CLIENT_FULL: once a minute per
 * client; FULL: once a minute). h must hold nothing before. */
xfer_files_refusal_t xfer_file_hold_take(xfer_file_hold_t *h, const char *addr, int n, int per_client,
					 wf_guard_refusal_t *g);
/* Everything the hold counted goes back (safe on a hold that holds
 * nothing, and twice). */
void xfer_file_hold_end(xfer_file_hold_t *h);
/* Hands what from holds to to, which must hold nothing: from then holds
 * nothing. For descriptors handed on, the hold going with them. */
void xfer_file_hold_move(xfer_file_hold_t *to, xfer_file_hold_t *from);
/* What the client is told of a refusal (an HTTP body). */
const char *xfer_files_refusal_text(xfer_files_refusal_t why);
/* The error log's line for a refusal that g says to log, tagged with the
 * request (peer "addr:port", user, method, path). */
void xfer_files_refusal_log(xfer_files_refusal_t why, const wf_guard_refusal_t *g, int per_client, const char *peer,
			    const char *user, const char *method, const char *path);
/* Descriptors held by HTTP transfers now, process-wide (tests, the log). */
int xfer_files_held(void);

#endif
