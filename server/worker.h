/* Worker threads: each runs its own libev loop with its own listening sockets
 * and connections; nothing is shared between workers but the immutable
 * snapshots (config, certificates) and a few atomic counters. */
#ifndef WF_WORKER_H
#define WF_WORKER_H

#include "conn.h"
#include "listener.h"
#include "rcu.h"

#include <pthread.h>

typedef struct wf_server wf_server_t;

/* What the main thread hands a worker on start and reload. */
typedef struct wf_worker_plan {
	wf_config_t *cfg;   /* owned reference */
	size_t n;
	struct {
		char key[96];
		int fd; /* a new socket to adopt, or -1: keep the worker's own with this key */
		const wf_service_cfg_t *svc; /* borrowed from cfg */
	} *entries;         /* owned */
} wf_worker_plan_t;

struct wf_worker {
	int index;
	pthread_t thread;
	struct ev_loop *loop;
	ev_async wake;
	ev_prepare offline;
	ev_check online;
	wf_rcu_reader_t rcu;
	wf_server_t *server; /* borrowed */

	pthread_mutex_t mbox_lock; /* guards the mailbox below, written by the main thread, and offload_done */
	ev_async offload_wake;
	struct job *offload_done;  /* finished offload jobs, to complete on this loop */
	wf_worker_plan_t *mbox_plan;
	bool mbox_drain, mbox_stop;

	wf_config_t *cfg; /* owned reference: the config new connections get */
	wf_listener_t **listeners;
	size_t nlisteners;
	wf_conn_t *conns; /* list head */
	size_t nconns;
	bool draining;
	char *scratch; /* owned: per-worker I/O buffer shared by connections between callbacks */
	size_t scratch_len;
};

int wf_worker_start(wf_worker_t *w, wf_server_t *srv, int index, wf_worker_plan_t *plan_take);
/* Posts a new plan (reload); the worker adopts it on its next loop turn. */
void wf_worker_post_plan(wf_worker_t *w, wf_worker_plan_t *plan_take);
void wf_worker_post_drain(wf_worker_t *w);
void wf_worker_post_stop(wf_worker_t *w);
/* Waits for the thread to end (after post_stop). */
void wf_worker_wait(wf_worker_t *w);
/* Then, once the offload pool is stopped too: frees what the worker holds. */
void wf_worker_join(wf_worker_t *w);
void wf_worker_plan_free(wf_worker_plan_t *p);

/* Connection bookkeeping, called by conn.c. */
void wf_worker_conn_added(wf_worker_t *w, wf_conn_t *c);
void wf_worker_conn_removed(wf_worker_t *w, wf_conn_t *c);

#endif
