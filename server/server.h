/* The process: configuration, certificate store, workers, signals. */
#ifndef WF_SERVER_H
#define WF_SERVER_H

#include "cert_store.h"
#include "config.h"
#include "worker.h"

#include <stdatomic.h>

/* How `wharf serve` or `wharf cert obtain` runs. */
typedef struct wf_run_opts {
	bool oneshot;        /* cert obtain: order what is due once, then exit (code: 1 if any failed) */
	const char *webroot; /* cert obtain: HTTP-01 answers as files there, instead of acme-http */
	const struct acme_batch *batch; /* cert batch: the certificates to issue (the config's own are left alone) */
} wf_run_opts_t;

struct wf_server {
	wf_run_opts_t opts;
	int exit_code; /* one-shot outcome */
	ev_timer settle_timer; /* one-shot: waits for the hooks before leaving */
	struct ev_loop *loop; /* main thread's loop: signals, reclamation (and ACME later) */
	wf_config_t *cfg;     /* owned: the running config (main thread) */
	wf_certstore_t certs;
	wf_worker_t *workers;
	int nworkers;
	atomic_int nconns; /* open connections in every worker, for max_connections */
	atomic_uint_fast64_t next_conn_id; /* connection ids in logs, unique in the process */
	ev_signal sighup, sigterm, sigint;
	ev_timer reclaim;
	ev_timer sweep; /* stale FTP partial uploads: transfer/partial_sweep.h */
	ev_timer cluster_log; /* refused cluster requests: a count line is due once its interval ends */
	ev_timer drain_timer;
	bool draining;
	uid_t run_uid;
	gid_t run_gid;
	bool dropped; /* privileges were dropped after start-up */
	int state_lock; /* owned: STATE/lock, flocked for the process's life (server/state_dir.h) */
	struct timespec started; /* CLOCK_REALTIME_COARSE, as file times: the sweep's line between ours and orphans */
	struct acme_manager *acme; /* owned: certificate life cycle, NULL without an acme block */
	struct acme_follower *follower; /* owned: a cluster follower's bundle polls (then acme is NULL) */
};

/* The process-wide server, for the few places that need it without a pointer
 * path (the TLS client-hello hook reaches it through its connection). */
extern wf_server_t *wf_server;

/* Runs `wharf serve`: returns the process exit code. */
int wf_server_run(const char *config_path, const wf_run_opts_t *opts);

/* Loads every configured certificate from the state folder (making provisional
 * ones as needed) and publishes them as the new snapshot. retiring (NULL at
 * start-up) is the config cfg replaces: it keeps the snapshot replaced, for
 * its connections (wf_config_t.retired_certs). */
int wf_server_load_certs(wf_server_t *srv, const wf_config_t *cfg, wf_config_t *retiring);

#endif
