/* The controller's guard on cluster requests (docs/cluster.md): the record
 * of the requests it took, so none is taken twice, and the log of those it
 * refused, so a flood of them does not flood the log. Both are shared by
 * the worker threads, each behind its own mutex. */
#ifndef ACME_CLUSTER_GUARD_H
#define ACME_CLUSTER_GUARD_H

#include "cluster.h"
#include "../server/ip_guard.h"

#include <pthread.h>

/* The controller's record of the requests it took, so that each is taken
 * once: a captured request sent again within its time window is refused.
 * Only requests whose signature checked go in (a flood of unsigned ones
 * cannot fill it), each until it would fail the time check anyway (t +
 * ACME_CLUSTER_SKEW). Bounded: when all ACME_CLUSTER_REPLAY_MAX entries are
 * live, the oldest request's entry makes room and the record refuses, from
 * then on, every request no newer than that one: under a flood of signed
 * requests the window shrinks for late requests rather than let a forgotten
 * nonce in twice. One mutex guards it: the worker threads share one record,
 * so a replay that reaches another worker is refused too. */
#define ACME_CLUSTER_REPLAY_MAX 4096

typedef struct acme_cluster_replay {
	pthread_mutex_t lock;
	int64_t floor; /* a request with t + ACME_CLUSTER_SKEW <= floor is refused */
	size_t used;   /* entries from this one on were never used */
	struct {
		char nonce[ACME_CLUSTER_NONCE_LEN]; /* as sent: lower-case hex */
		int64_t until; /* t + ACME_CLUSTER_SKEW; free once before now */
	} e[ACME_CLUSTER_REPLAY_MAX];
} acme_cluster_replay_t;

void acme_cluster_replay_init(acme_cluster_replay_t *r);
void acme_cluster_replay_fini(acme_cluster_replay_t *r);
/* Records the request a (which acme_cluster_auth_check passed at now): WF_OK
 * the first time, or WF_ERR with *why (for the log) when its nonce was taken
 * already, or it is no newer than what a full record had to forget. */
int acme_cluster_replay_admit(acme_cluster_replay_t *r, const acme_cluster_auth_t *a, int64_t now, const char **why);
/* The process's record: one for every worker, kept across reloads (a reload
 * must not let a request in twice). */
acme_cluster_replay_t *acme_cluster_replay_shared(void);

/* Refused cluster requests, for the log, without flooding it: a refusal from
 * a client (an address, or an IPv6 /64, as wf_ipguard_client has it) that
 * has none counted yet is logged at once, one line; those after it are
 * counted, and once per interval one line says how many were refused and
 * why. That line comes with the first cluster request (taken or refused,
 * from anyone) after the interval, so on a cluster whose followers long-poll
 * it is at most a poll late. Past ACME_CLUSTER_LOG_CLIENTS clients, the rest
 * count together as "other addresses". A client whose interval passes with
 * nothing refused is forgotten. These are not failed logins: banning the
 * address would shut out every good node behind the same NAT as a bad one. */
#define ACME_CLUSTER_LOG_INTERVAL 10 /* seconds */
#define ACME_CLUSTER_LOG_CLIENTS 32
#define ACME_CLUSTER_LOG_WHYS 4 /* reasons counted apart per client; the rest as "other" */

typedef void (*acme_cluster_log_cb)(void *arg, const char *line);

/* One client's refusals in its current interval. */
typedef struct acme_cluster_refused {
	char client[WF_IPGUARD_CLIENT_MAX]; /* "" = free */
	int64_t since;                       /* when the interval began */
	unsigned count;                      /* refused in it, and not logged yet */
	struct {
		const char *why; /* borrowed: from the caller, a static string */
		unsigned n;
	} whys[ACME_CLUSTER_LOG_WHYS];
} acme_cluster_refused_t;

typedef struct acme_cluster_refusals {
	pthread_mutex_t lock;
	int interval;
	acme_cluster_log_cb emit; /* called under the lock, one line at a time */
	void *emit_arg;
	acme_cluster_refused_t c[ACME_CLUSTER_LOG_CLIENTS + 1]; /* the last: every other address */
} acme_cluster_refusals_t;

void acme_cluster_refusals_init(acme_cluster_refusals_t *r, int interval, acme_cluster_log_cb emit, void *arg);
void acme_cluster_refusals_fini(acme_cluster_refusals_t *r);
/* A request from addr (the address; peer: "addr:port" for the line) was
 * refused at now for why (a string that outlives r). Emits what is due. */
void acme_cluster_refusals_note(acme_cluster_refusals_t *r, const char *addr, const char *peer, const char *why,
				int64_t now);
/* Emits the counts whose interval has passed: call it with every request. */
void acme_cluster_refusals_flush(acme_cluster_refusals_t *r, int64_t now);
/* The process's, shared by the worker threads, writing to the error log
 * (warning). */
acme_cluster_refusals_t *acme_cluster_refusals_shared(void);

#endif
