/* `wharf serve`: start-up, signals, reload and drain. The main thread owns the
 * config and the certificate store's writes; workers serve. */
#include "server.h"
#include "cert_state.h"
#include "durable.h"
#include "ip_guard.h"
#include "log.h"
#include "offload.h"
#include "privdrop.h"
#include "state_dir.h"
#include "tls.h"
#include "../acme/challenges.h"
#include "../acme/batch.h"
#include "../acme/cluster.h"
#include "../acme/cluster_guard.h"
#include "../acme/follower.h"
#include "../acme/manager.h"
#include "../acme/dns01.h"
#include "../transfer/auth.h"
#include "../transfer/file_budget.h"
#include "../transfer/listing_form.h"
#include "../transfer/partial_sweep.h"

#include <errno.h>
#include <malloc.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

wf_server_t *wf_server;

static bool same_domains(const wf_certkey_t *ck, const wf_cert_cfg_t *c)
{
	if (ck->ndomains != c->ndomains)
		return false;
	for (size_t i = 0; i < c->ndomains; i++)
		if (strcmp(ck->domains[i], c->domains[i]) != 0)
			return false;
	return true;
}

/* What a reload serves for c when the disk gave disk_take: the certificate
 * served now instead, when it was issued but not stored (a write that failed:
 * acme/manager.c and acme/follower.c serve it anyway), is made for the same
 * names and key type, covers them, and is newer than the disk's. It is
 * nowhere on disk: dropping it would serve the provisional one until an
 * order succeeds again, for as long as the CA is down. One that was stored
 * is not kept: its file set aside (`cert revoke`) asks for a new one. */
static wf_certkey_t *keep_served(wf_server_t *srv, const wf_cert_cfg_t *c, wf_certkey_t *disk_take)
{
	/* At start-up srv->cfg is cfg itself and the store is empty. */
	const wf_cert_cfg_t *was = srv->cfg ? wf_config_cert(srv->cfg, c->name) : NULL;
	wf_certkey_t *cur = was ? wf_certstore_get(&srv->certs, c->name) : NULL;
	if (!cur)
		return disk_take;
	bool newer = disk_take->provisional || disk_take->short_of_config || cur->not_after > disk_take->not_after ||
		     cur->not_before > disk_take->not_before;
	if (!cur->unstored || cur->provisional || cur->short_of_config || !newer || !same_domains(cur, c) ||
	    strcasecmp(was->key_type ? was->key_type : "", c->key_type ? c->key_type : "") != 0 ||
	    !wf_certkey_covers(cur, c->domains, c->ndomains)) {
		wf_certkey_unref(cur);
		return disk_take;
	}
	char until[32];
	struct tm tm;
	gmtime_r(&cur->not_after, &tm);
	strftime(until, sizeof(until), "%Y-%m-%dT%H:%M:%SZ", &tm);
	wf_log_info("certificate %s: keeps serving the certificate from \"%s\" (serial %s, valid until %s) that "
		    "could not be stored, newer than the %s stored one",
		    c->name, cur->issuer, cur->serial, until, disk_take->provisional ? "provisional" : "issued");
	wf_certkey_unref(disk_take);
	return cur;
}

int wf_server_load_certs(wf_server_t *srv, const wf_config_t *cfg, wf_config_t *retiring)
{
	wf_certkey_t **cks = calloc(cfg->ncertificates + 1, sizeof(*cks));
	size_t n = 0;
	int rc = WF_OK;
	for (size_t i = 0; i < cfg->ncertificates; i++) {
		char err[512];
		const wf_cert_cfg_t *c = &cfg->certificates[i];
		/* How a good certificate comes after a damaged issued.pem, for
		 * its warning: the provisional one serves until then. */
		const char *then = "until a good issued.pem is put there (no ACME for it)";
		if (acme_cluster_is_follower(cfg))
			then = "until the cluster's controller sends one";
		else if (c->acme && cfg->acme.ncas)
			then = "and a new one is ordered from the CA";
		else if (srv->opts.batch && cfg->acme.ncas)
			then = "until one is obtained (a batch run orders only its CSV's certificates)";
		wf_certkey_t *ck = wf_certstate_load(cfg->state_dir, c, then, err, sizeof(err));
		if (!ck) {
			wf_log_error("certificate %s: %s", cfg->certificates[i].name, err);
			rc = WF_ERR;
			break;
		}
		cks[n++] = keep_served(srv, &cfg->certificates[i], ck);
	}
	if (rc == WF_OK) {
		wf_certstore_replace(&srv->certs, cks, n, retiring ? &retiring->retired_certs : NULL);
	} else {
		for (size_t i = 0; i < n; i++)
			wf_certkey_unref(cks[i]);
	}
	free(cks);
	return rc;
}

/* Builds one plan per worker for cfg: services whose key the running set
 * already has are kept, new ones are bound now (one socket per worker). On a
 * bind failure nothing is changed and WF_ERR is returned. */
static bool wanted(const wf_server_t *srv, const wf_config_t *cfg, const wf_service_cfg_t *svc);

/* Why a bind the reload tried failed, when it is the privilege drop's
 * doing. port_held: the old config has a service on that port. */
static const char *privileged_hint(const wf_server_t *srv, const wf_service_cfg_t *svc, bool port_held)
{
	if (srv->dropped && svc->port < 1024 && errno == EACCES)
		return " (the server runs as run_user since start-up: a port below 1024 needs a restart)";
	/* Sockets share a port (SO_REUSEPORT) only with their own user's:
	 * those made as root at start-up refuse the run user's new ones. */
	if (srv->dropped && port_held && errno == EADDRINUSE)
		return " (this port's sockets were made as root at start-up, and the run_user's cannot share it "
		       "with them: a new address or type on it needs a restart)";
	return "";
}

static int make_plans(wf_server_t *srv, wf_config_t *cfg, const wf_config_t *old, wf_worker_plan_t **plans)
{
	size_t n = 0;
	for (size_t i = 0; i < cfg->nservices; i++)
		n += wanted(srv, cfg, &cfg->services[i]);
	for (int w = 0; w < srv->nworkers; w++) {
		plans[w] = calloc(1, sizeof(**plans));
		plans[w]->cfg = wf_config_ref(cfg);
		plans[w]->n = n;
		plans[w]->entries = calloc(n + 1, sizeof(*plans[w]->entries));
		for (size_t i = 0; i < n; i++)
			plans[w]->entries[i].fd = -1;
	}
	for (size_t i = 0, e = 0; i < cfg->nservices; i++) {
		const wf_service_cfg_t *svc = &cfg->services[i];
		if (!wanted(srv, cfg, svc))
			continue;
		size_t idx = e++;
		char key[96];
		wf_listener_key(svc, key, sizeof(key));
		bool keep = false, port_held = false;
		for (size_t j = 0; old && j < old->nservices; j++) {
			char okey[96];
			wf_listener_key(&old->services[j], okey, sizeof(okey));
			keep |= strcmp(key, okey) == 0;
			port_held |= old->services[j].port == svc->port;
		}
		char err[256];
		/* A port our old config holds is ours (a service changing type
		 * keeps its port across the reload); any other must be free. */
		if (!keep && !port_held && wf_listener_probe(svc, err, sizeof(err)) != WF_OK) {
			wf_log_error("%s:%d: %s%s", svc->at.file ? svc->at.file : cfg->path, svc->at.line, err,
				     privileged_hint(srv, svc, false));
			for (int k = 0; k < srv->nworkers; k++) {
				wf_worker_plan_free(plans[k]);
				plans[k] = NULL;
			}
			return WF_ERR;
		}
		for (int w = 0; w < srv->nworkers; w++) {
			snprintf(plans[w]->entries[idx].key, sizeof(plans[w]->entries[idx].key), "%s", key);
			plans[w]->entries[idx].svc = svc;
			if (keep)
				continue;
			int fd = wf_listener_bind(svc, err, sizeof(err));
			if (fd < 0) {
				wf_log_error("%s:%d: %s%s", svc->at.file ? svc->at.file : cfg->path, svc->at.line, err,
					     privileged_hint(srv, svc, port_held));
				for (int k = 0; k < srv->nworkers; k++) {
					wf_worker_plan_free(plans[k]);
					plans[k] = NULL;
				}
				return WF_ERR;
			}
			plans[w]->entries[idx].fd = fd;
		}
	}
	return WF_OK;
}

/* wharf cert batch: the CSV's certificates join the config, and only they
 * are ordered. webroot: --webroot, or NULL. */
static int add_batch(wf_config_t *cfg, const acme_batch_t *b, const char *webroot)
{
	for (size_t i = 0; i < cfg->ncertificates; i++)
		cfg->certificates[i].acme = false;
	for (size_t i = 0; i < b->n; i++) {
		const acme_batch_entry_t *e = &b->entries[i];
		if (!strcmp(e->challenge, "dns-01") && !cfg->acme.ndns_hook) {
			fprintf(stderr, "cert batch: line %d: dns-01 needs acme.dns_hook in the config\n", e->line);
			return WF_ERR;
		}
		/* An order no service can answer would only spend the CA's
		 * failed-validation limit: refused as the config's certificate is. */
		const char *unanswered = wf_config_challenge_unanswered(cfg, e->challenge, webroot);
		if (unanswered) {
			fprintf(stderr, "cert batch: line %d: certificate \"%s\" %s\n", e->line, e->name, unanswered);
			return WF_ERR;
		}
		/* Said before anything is ordered, as the config's hooks are at load. */
		const char *why = e->nhook ? wf_config_unrunnable(e->hook[0]) : NULL;
		if (why) {
			fprintf(stderr, "cert batch: line %d: hook %s is not an executable file (%s)\n", e->line,
				e->hook[0], why);
			return WF_ERR;
		}
		int rc = wf_config_add_cert(cfg, e->name, e->domains, e->ndomains, e->key_type, e->challenge, e->hook,
					    e->nhook);
		if (rc != WF_OK) {
			fprintf(stderr, "cert batch: line %d: %s\n", e->line,
				rc == WF_DECLINED ? "the config already has a certificate of that name" :
						    "the certificate cannot be added (its name, or out of memory)");
			return WF_ERR;
		}
		/* Its later problems (a hook the run user may not run) name its line. */
		cfg->certificates[cfg->ncertificates - 1].at = (wf_config_at_t){ b->path, e->line };
	}
	return WF_OK;
}

/* `wharf cert obtain` listens only where the CA validates: acme-http
 * (unless a webroot takes HTTP-01), and https if a certificate uses
 * tls-alpn-01. The daemon listens everywhere. */
static bool wanted(const wf_server_t *srv, const wf_config_t *cfg, const wf_service_cfg_t *svc)
{
	if (!srv->opts.oneshot)
		return true;
	if (svc->type == WF_SERVICE_ACME_HTTP)
		return !srv->opts.webroot && !cfg->acme.webroot[0];
	if (svc->type != WF_SERVICE_HTTPS)
		return false;
	for (size_t i = 0; i < cfg->ncertificates; i++)
		if (cfg->certificates[i].acme && strcmp(cfg->certificates[i].challenge, "tls-alpn-01") == 0)
			return true;
	return false;
}

/* What a one-shot run calls itself in its lines: the command the admin typed. */
static const char *oneshot_name(const wf_server_t *srv)
{
	return srv->opts.batch ? "cert batch" : "cert obtain";
}

/* Where certificates come from: the CA (the ACME manager), or, on a cluster
 * follower, the controller. Never both. */
static void on_settle_timer(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	wf_server_t *srv = wf_container_of(t, wf_server_t, settle_timer);
	if (acme_manager_hooks_busy(srv->acme))
		return; /* again in 0.1 s; each hook is killed after its timeout */
	ev_timer_stop(loop, t);
	/* Once hooks have ended: a row tells how its deploy hook did. */
	if (srv->opts.batch)
		acme_manager_report(srv->acme, stdout);
	/* A certificate the service reading its files does not have yet (its
	 * reload failed, or the files could not be written) is a failed run,
	 * as `cert fetch` says of its hook. */
	size_t undeployed = acme_manager_deploy_failures(srv->acme);
	if (undeployed) {
		wf_log_error("%s: %zu deployment%s failed (output files not written, or a deploy hook that "
			     "failed); exit status 1",
			     oneshot_name(srv), undeployed, undeployed == 1 ? "" : "s");
		srv->exit_code = 1;
	}
	ev_break(loop, EVBREAK_ALL);
}

static void on_settled(void *arg, int issued, int failed, int put_off)
{
	wf_server_t *srv = arg;
	char off[48] = "";
	if (put_off)
		snprintf(off, sizeof(off), ", %d put off", put_off);
	wf_log_info("%s: %d issued, %d failed%s%s", oneshot_name(srv), issued, failed, off,
		    issued + failed + put_off == 0 ? " (nothing was due)" : "");
	/* Put off is not done: cron mails the admin, as for a failure. */
	srv->exit_code = failed || put_off ? 1 : 0;
	ev_timer_init(&srv->settle_timer, on_settle_timer, 0, 0.1);
	ev_timer_again(srv->loop, &srv->settle_timer);
}

static void cert_jobs_start(wf_server_t *srv)
{
	if (acme_cluster_is_follower(srv->cfg))
		srv->follower = acme_follower_new(srv->loop, srv->cfg, &srv->certs);
	else
		srv->acme = acme_manager_new(srv->loop, srv->cfg, &srv->certs);
	if (srv->opts.oneshot && srv->acme)
		acme_manager_oneshot(srv->acme, on_settled, srv);
}

static void cert_jobs_stop(wf_server_t *srv)
{
	acme_manager_free(srv->acme);
	srv->acme = NULL;
	acme_follower_free(srv->follower);
	srv->follower = NULL;
}

/* Whether the lock held on fd is the state folder's lock file: a reload
 * that names the same folder (in other words) keeps it. */
static bool same_lock(int fd, const char *state_dir)
{
	char path[4200];
	struct stat held, named;
	snprintf(path, sizeof(path), "%s/" WF_STATE_LOCK, state_dir);
	return fd >= 0 && fstat(fd, &held) == 0 && stat(path, &named) == 0 && held.st_dev == named.st_dev &&
	       held.st_ino == named.st_ino;
}

/* The folder HTTP-01 answers are written under, set once at start-up:
 * what a reload is compared with. Owned; NULL for none. */
static char *webroot_applied;

/* cert obtain --webroot wins over the config's. */
static const char *webroot_of(const wf_server_t *srv, const wf_config_t *cfg)
{
	const char *w = srv->opts.webroot ? srv->opts.webroot : cfg->acme.webroot;
	return w && w[0] ? w : NULL;
}

static int worker_count(const wf_config_t *cfg)
{
	if (cfg->workers)
		return cfg->workers;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus > 0 ? (int)cpus : 1;
}

/* Keys a reload takes without applying them, said at each reload while the
 * file and the process differ (not only at the reload that changed them):
 * the worker threads are made once, the user is switched to once, and the
 * webroot is set up once, at start-up.
 * Every other key takes effect at the reload. */
static void warn_restart_keys(const wf_server_t *srv, const wf_config_t *cfg)
{
	if (worker_count(cfg) != srv->nworkers)
		wf_log_warn("reload: workers is %d%s, but the worker threads were made at start-up; that takes a "
			    "restart (still %d)",
			    cfg->workers, cfg->workers ? "" : " (one per CPU core)", srv->nworkers);
	const char *webroot = webroot_of(srv, cfg);
	if ((webroot == NULL) != (webroot_applied == NULL) || (webroot && strcmp(webroot, webroot_applied) != 0))
		wf_log_warn("reload: acme.webroot is now %s, but it was set up at start-up; that takes a restart "
			    "(HTTP-01 answers still go %s%s)",
			    webroot ? webroot : "empty", webroot_applied ? "under " : "to no webroot",
			    webroot_applied ? webroot_applied : "");
	/* Started as another user, the server never switched: run_user is not its to apply. */
	if (!srv->dropped)
		return;
	char err[512];
	uid_t uid;
	gid_t gid;
	struct passwd *running = getpwuid(srv->run_uid);
	char now[300];
	if (running)
		snprintf(now, sizeof(now), "%s (uid %d)", running->pw_name, (int)srv->run_uid);
	else
		snprintf(now, sizeof(now), "uid %d", (int)srv->run_uid);
	if (wf_privdrop_resolve(cfg, &uid, &gid, err, sizeof(err)) != WF_OK)
		wf_log_warn("reload: %s, so the next start will be refused; this process goes on as %s", err, now);
	else if (uid != srv->run_uid || gid != srv->run_gid)
		wf_log_warn("reload: run_user is now %s, but privileges were dropped at start-up; that takes a restart "
			    "(still running as %s)",
			    cfg->run_user, now);
}

/* wf_privdrop_check_runs as the server runs now, one error line per
 * problem (after prefix): false when there is any. */
static bool runs_ok(const wf_config_t *cfg, bool dropped, const char *webroot, const char *prefix)
{
	wf_buf_t problems;
	wf_buf_init(&problems, 1 << 20);
	int n = wf_privdrop_check_runs(cfg, dropped, webroot, &problems);
	char *save = NULL;
	for (char *line = n ? strtok_r(wf_buf_head(&problems), "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save))
		wf_log_error("%s%s", prefix, line);
	wf_buf_fini(&problems);
	return n == 0;
}

static void reload(wf_server_t *srv)
{
	wf_log_info("SIGHUP: reloading %s", srv->cfg->path);
	wf_buf_t errors;
	wf_buf_init(&errors, 1 << 20);
	wf_config_t *cfg = wf_config_load_webroot(srv->cfg->path, srv->opts.webroot, &errors);
	if (!cfg) {
		/* One log line per problem, as `wharf check` prints them (the text ends in a NUL). */
		char *save = NULL;
		for (char *line = strtok_r(wf_buf_head(&errors), "\n", &save); line; line = strtok_r(NULL, "\n", &save))
			wf_log_error("reload refused: %s", line);
		wf_log_error("reload refused: the running configuration stays in place");
		wf_buf_fini(&errors);
		return;
	}
	wf_buf_fini(&errors);
	char err[2048];
	wf_worker_plan_t **plans = calloc((size_t)srv->nworkers, sizeof(*plans));
	int lock = srv->state_lock;
	if (wf_privdrop_check_trust(cfg, srv->dropped, err, sizeof(err)) != WF_OK) {
		wf_log_error("reload refused: %s", err);
		goto refuse;
	}
	/* The webroot was set up at the start, and a reload does not again. */
	if (!runs_ok(cfg, srv->dropped, NULL, "reload refused: "))
		goto refuse;
	if (wf_durable_mkdirs(cfg->state_dir, 0700) != WF_OK) {
		wf_log_error("reload refused: cannot create state folder %s: %m", cfg->state_dir);
		goto refuse;
	}
	if (!same_lock(srv->state_lock, cfg->state_dir) &&
	    (lock = wf_state_lock(cfg->state_dir, err, sizeof(err))) < 0) {
		wf_log_error("reload refused: %s", err);
		goto refuse;
	}
	if (make_plans(srv, cfg, srv->cfg, plans) != WF_OK)
		goto refuse;
	/* As the run user now: a log folder only root may write refuses the
	 * reload (said once), rather than go on into the rotated file. */
	wf_log_targets_t logs;
	if (wf_log_prepare(cfg->log.level, cfg->log.error_log, cfg->log.access_log, &logs) != WF_OK)
		goto refuse_plans;
	wf_tls_settings_t *tls = wf_tls_prepare(cfg, err, sizeof(err));
	if (!tls) {
		wf_log_error("reload refused: %s", err);
		wf_log_discard(&logs);
		goto refuse_plans;
	}
	if (wf_server_load_certs(srv, cfg, srv->cfg) != WF_OK) {
		wf_log_error("reload refused: certificates could not be loaded; the running ones stay");
		wf_tls_discard(tls);
		wf_log_discard(&logs);
		goto refuse_plans;
	}
	wf_tls_install(tls);
	wf_log_install(&logs);
	warn_restart_keys(srv, cfg);
	for (int w = 0; w < srv->nworkers; w++)
		wf_worker_post_plan(&srv->workers[w], plans[w]);
	free(plans);
	if (lock != srv->state_lock) {
		close(srv->state_lock);
		srv->state_lock = lock;
	}
	wf_config_unref(srv->cfg);
	srv->cfg = cfg;
	/* Orders in flight are dropped; the new manager starts what is still due. */
	cert_jobs_stop(srv);
	cert_jobs_start(srv);
	wf_privdrop_check_homes(cfg, srv->dropped, NULL);
	wf_log_info("reloaded: %zu services, %zu users, %zu certificates", cfg->nservices, cfg->nusers,
		    cfg->ncertificates);
	return;
refuse_plans:
	for (int w = 0; w < srv->nworkers; w++)
		wf_worker_plan_free(plans[w]);
refuse:
	if (lock >= 0 && lock != srv->state_lock)
		close(lock);
	wf_log_error("reload refused: the running configuration stays in place");
	free(plans);
	wf_config_unref(cfg);
}

static void on_sighup(struct ev_loop *loop, ev_signal *s, int revents)
{
	wf_server_t *srv = wf_container_of(s, wf_server_t, sighup);
	if (srv->draining)
		wf_log_info("SIGHUP: not reloading, the server is shutting down");
	else
		reload(srv);
}

static void on_drain_timeout(struct ev_loop *loop, ev_timer *t, int revents)
{
	wf_server_t *srv = wf_container_of(t, wf_server_t, drain_timer);
	if (revents) /* the timer's own firing, not a second signal's */
		wf_log_warn("shutdown_timeout reached: closing the connections still open");
	for (int w = 0; w < srv->nworkers; w++)
		wf_worker_post_stop(&srv->workers[w]);
	ev_break(loop, EVBREAK_ALL);
}

static void start_drain(wf_server_t *srv, const char *why)
{
	if (srv->draining) {
		wf_log_warn("%s again: closing the connections still open now", why);
		on_drain_timeout(srv->loop, &srv->drain_timer, 0);
		return;
	}
	srv->draining = true;
	cert_jobs_stop(srv);
	xfer_partial_sweep_cancel(); /* a sweep in flight would hold an offload thread */
	wf_log_info("%s: finishing open requests (up to %d s), accepting no new ones", why,
		    srv->cfg->limits.shutdown_timeout);
	for (int w = 0; w < srv->nworkers; w++)
		wf_worker_post_drain(&srv->workers[w]);
	ev_timer_init(&srv->drain_timer, on_drain_timeout, srv->cfg->limits.shutdown_timeout, 0);
	ev_timer_start(srv->loop, &srv->drain_timer);
}

static void on_sigterm(struct ev_loop *loop, ev_signal *s, int revents)
{
	wf_server_t *srv = wf_container_of(s, wf_server_t, sigterm);
	start_drain(srv, "SIGTERM");
}

static void on_sigint(struct ev_loop *loop, ev_signal *s, int revents)
{
	wf_server_t *srv = wf_container_of(s, wf_server_t, sigint);
	start_drain(srv, "SIGINT");
}

/* Frees retired snapshots; while draining, also notices that every worker is done. */
static void on_reclaim(struct ev_loop *loop, ev_timer *t, int revents)
{
	wf_server_t *srv = wf_container_of(t, wf_server_t, reclaim);
	wf_rcu_reclaim();
	/* dns-01 removes queued by the stopped orders run first (bounded by
	 * shutdown_timeout too): a TXT record left behind would stay in the zone. */
	if (srv->draining && atomic_load(&srv->nconns) == 0 && acme_dns_pending() == 0)
		ev_break(loop, EVBREAK_ALL);
}

/* The workers note refusals as they come; only a timer can say that a flood
 * stopped, so the count of its last interval is not held until the next. */
static void on_cluster_log(struct ev_loop *loop, ev_timer *t, int revents)
{
	acme_cluster_refusals_flush(acme_cluster_refusals_shared(), (int64_t)time(NULL));
}

/* The first sweep waits for start-up to settle; after it, once an hour is
 * soon enough for a limit counted in days, and cheap for large homes. */
#define SWEEP_FIRST_DELAY 5.0
#define SWEEP_INTERVAL 3600.0

/* Stale FTP partials: only this thread starts sweeps, with the running config. */
static void on_sweep(struct ev_loop *loop, ev_timer *t, int revents)
{
	wf_server_t *srv = wf_container_of(t, wf_server_t, sweep);
	if (!srv->draining)
		xfer_partial_sweep_submit(srv->cfg, srv->started);
}

/* Takes all the descriptors the hard limit allows, and says so when a few
 * clients at their limits could use them up: each connection holds its
 * socket (an FTPS one up to 6: control and data sockets, the passive
 * listener, a resumed upload's temp file, folder and source file), and a
 * client's HTTP transfers hold up to its share of open files
 * (transfer/file_budget.h). Past the limit, accepts pause and requests get
 * 503 (451 over FTPS) until descriptors come free. */
static void raise_fd_limit(const wf_config_t *cfg)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0)
		return;
	if (rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			getrlimit(RLIMIT_NOFILE, &rl);
	}
	unsigned long long per_conn = 0, files = 0;
	for (size_t i = 0; i < cfg->nservices; i++) {
		bool ftp = wf_service_is_ftp(cfg->services[i].type);
		if ((ftp ? 6 : 1) > per_conn)
			per_conn = ftp ? 6 : 1;
		if (cfg->services[i].type == WF_SERVICE_HTTPS)
			files = (unsigned long long)xfer_files_client_share(cfg->limits.open_files_per_client);
	}
	unsigned long long per_client = (unsigned long long)cfg->limits.max_connections_per_ip * per_conn + files;
	if (rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < 4 * per_client)
		wf_log_warn("open file limit is %llu: one client may hold up to %llu descriptors (max_connections_per_ip "
			    "%d x %llu per connection, and %llu open files of HTTP transfers), so a few could use "
			    "them all; raise the limit (LimitNOFILE=) or lower those",
			    (unsigned long long)rl.rlim_cur, per_client, cfg->limits.max_connections_per_ip, per_conn,
			    files);
}

/* Binds every listener (one socket per worker) as the user we start as. */
static wf_worker_plan_t **bind_all(wf_server_t *srv)
{
	int n = worker_count(srv->cfg);
	srv->nworkers = n;
	wf_worker_plan_t **plans = calloc((size_t)n, sizeof(*plans));
	if (make_plans(srv, srv->cfg, NULL, plans) != WF_OK) {
		free(plans);
		return NULL;
	}
	return plans;
}

/* Workers start accepting only once privileges are gone. */
static int start_workers(wf_server_t *srv, wf_worker_plan_t **plans)
{
	srv->workers = calloc((size_t)srv->nworkers, sizeof(*srv->workers));
	int rc = WF_OK;
	for (int w = 0; w < srv->nworkers; w++) {
		if (rc == WF_OK && wf_worker_start(&srv->workers[w], srv, w, plans[w]) != WF_OK) {
			wf_log_error("cannot start worker %d", w);
			rc = WF_ERR;
		} else if (rc != WF_OK) {
			wf_worker_plan_free(plans[w]);
		}
	}
	free(plans);
	return rc;
}

int wf_server_run(const char *config_path, const wf_run_opts_t *opts)
{
	static wf_server_t srv_storage;
	wf_server_t *srv = &srv_storage;
	wf_server = srv;
	if (opts)
		srv->opts = *opts;
	srv->state_lock = -1;
	char err[2048];
	int code = 1;
	clock_gettime(CLOCK_REALTIME_COARSE, &srv->started);
	/* Held from the first moment until the loop runs, its watchers
	 * (ev_signal_start) set: a SIGHUP while the config loads would
	 * otherwise kill the process (its default action), a SIGTERM end it
	 * unlogged. */
	sigset_t signals;
	sigemptyset(&signals);
	sigaddset(&signals, SIGHUP);
	sigaddset(&signals, SIGTERM);
	sigaddset(&signals, SIGINT);
	sigprocmask(SIG_BLOCK, &signals, NULL);

	wf_buf_t errors;
	wf_buf_init(&errors, 1 << 20);
	/* --webroot answers HTTP-01 for this run: the check must know it before it
	 * asks for an acme-http service. */
	srv->cfg = wf_config_load_webroot(config_path, srv->opts.webroot, &errors);
	if (!srv->cfg) {
		fwrite(wf_buf_head(&errors), 1, wf_buf_size(&errors), stderr);
		wf_buf_fini(&errors);
		return 1;
	}
	wf_buf_fini(&errors);
	if (srv->opts.batch && add_batch(srv->cfg, srv->opts.batch, srv->opts.webroot) != WF_OK)
		goto out_cfg;
	if (wf_log_open(srv->cfg->log.level, srv->cfg->log.error_log, srv->cfg->log.access_log) != WF_OK)
		goto out_cfg;
	signal(SIGPIPE, SIG_IGN);
	/* Caught from here on, handled once the loop runs: a SIGHUP from log
	 * rotation while certificates load would otherwise kill the process
	 * (its default action). Before any thread exists, as libev wants. */
	srv->loop = EV_DEFAULT;
	ev_signal_init(&srv->sighup, on_sighup, SIGHUP);
	ev_signal_start(srv->loop, &srv->sighup);
	ev_signal_init(&srv->sigterm, on_sigterm, SIGTERM);
	ev_signal_start(srv->loop, &srv->sigterm);
	ev_signal_init(&srv->sigint, on_sigint, SIGINT);
	ev_signal_start(srv->loop, &srv->sigint);
	raise_fd_limit(srv->cfg);
	/* Connections take and give back their I/O buffers as they go busy and
	 * idle; without this, glibc hands freed heap tops back to the kernel
	 * (madvise) over and over, which cost HTTP/2 small requests most of
	 * their time. Memory freed stays for reuse by the next connection. */
	mallopt(M_TRIM_THRESHOLD, 64 << 20);

	bool root = geteuid() == 0;
	if (root && wf_privdrop_resolve(srv->cfg, &srv->run_uid, &srv->run_gid, err, sizeof(err)) != WF_OK) {
		wf_log_error("%s", err);
		goto out_cfg;
	}
	if (wf_durable_mkdirs(srv->cfg->state_dir, 0700) != WF_OK) {
		wf_log_error("cannot create state folder %s: %m", srv->cfg->state_dir);
		goto out_cfg;
	}
	/* Before anything is written there: two processes would both order
	 * certificates and write the same keys. */
	srv->state_lock = wf_state_lock(srv->cfg->state_dir, err, sizeof(err));
	if (srv->state_lock < 0) {
		wf_log_error("%s", err);
		goto out_cfg;
	}
	if (wf_tls_init(srv->cfg, err, sizeof(err)) != WF_OK) {
		wf_log_error("%s", err);
		goto out_cfg;
	}
	wf_certstore_init(&srv->certs);
	acme_challenges_init();
	if (xfer_listing_form_init() != WF_OK) {
		wf_log_error("the listings' upload script could not be hashed for its Content-Security-Policy");
		goto out_tls;
	}
	if (srv->opts.oneshot) {
		if (!srv->cfg->acme.ncas || acme_cluster_is_follower(srv->cfg)) {
			wf_log_error("%s: %s", oneshot_name(srv), acme_cluster_is_follower(srv->cfg) ?
								 "this node is a cluster follower: its controller obtains certificates" :
								 "the config has no acme block: there is no CA to obtain certificates from");
			goto out_tls;
		}
		srv->exit_code = 1; /* until the pass settles: an interrupted run did not succeed */
	}
	if (wf_server_load_certs(srv, srv->cfg, NULL) != WF_OK)
		goto out_tls;

	wf_worker_plan_t **plans = bind_all(srv);
	if (!plans)
		goto out_tls;
	if (root) {
		if (wf_privdrop_chown_state(srv->cfg->state_dir, srv->run_uid, srv->run_gid, err, sizeof(err)) != WF_OK ||
		    wf_privdrop_apply(srv->run_uid, srv->run_gid, err, sizeof(err)) != WF_OK ||
		    wf_privdrop_check_state(srv->cfg, err, sizeof(err)) != WF_OK) {
			wf_log_error("%s", err);
			for (int w = 0; w < srv->nworkers; w++)
				wf_worker_plan_free(plans[w]);
			free(plans);
			goto out_tls;
		}
		srv->dropped = true;
		wf_log_info("running as %s (uid %d)", srv->cfg->run_user, (int)srv->run_uid);
		if (strcmp(srv->cfg->run_user, "nobody") == 0)
			wf_log_warn("run_user is nobody, whom other daemons may share: they could read the private keys "
				    "in %s; a user of wharf's own is safer",
				    srv->cfg->state_dir);
	}
	/* As the server runs from now on: a trust anchor it cannot read would
	 * fail every poll, each seeming the controller's fault. */
	bool trusted = wf_privdrop_check_trust(srv->cfg, srv->dropped, err, sizeof(err)) == WF_OK;
	if (!trusted)
		wf_log_error("%s", err);
	/* And a hook or output folder it may not use would fail only at issuance. */
	if (!runs_ok(srv->cfg, srv->dropped, webroot_of(srv, srv->cfg), "") || !trusted) {
		for (int w = 0; w < srv->nworkers; w++)
			wf_worker_plan_free(plans[w]);
		free(plans);
		goto out_tls;
	}
	/* cert obtain runs once, and is not reloaded: a config only root may read is fine there. */
	if (srv->dropped && !srv->opts.oneshot && wf_privdrop_check_config(srv->cfg, true, err, sizeof(err)) != WF_OK)
		wf_log_warn("%s", err);
	wf_privdrop_check_homes(srv->cfg, srv->dropped, NULL);
	xfer_auth_prepare();
	/* fsync of large uploads happens here, not on the workers' loops. */
	if (wf_offload_start(2) != WF_OK)
		wf_log_warn("no offload threads: uploads will be synced on the workers' loops");
	if (start_workers(srv, plans) != WF_OK)
		goto out_workers;

	ev_timer_init(&srv->reclaim, on_reclaim, 0.2, 0.2);
	ev_timer_start(srv->loop, &srv->reclaim);
	if (!srv->opts.oneshot) {
		ev_timer_init(&srv->sweep, on_sweep, SWEEP_FIRST_DELAY, SWEEP_INTERVAL);
		ev_timer_start(srv->loop, &srv->sweep);
		ev_timer_init(&srv->cluster_log, on_cluster_log, 1.0, 1.0);
		ev_timer_start(srv->loop, &srv->cluster_log);
	}

	for (size_t i = 0; i < srv->cfg->nservices; i++) {
		const wf_service_cfg_t *s = &srv->cfg->services[i];
		wf_log_info("listening: %s on %s port %d (%d workers)", s->type_name, s->address, s->port,
			    srv->nworkers);
	}
	/* After the privilege drop: the files are the run user's. */
	const char *webroot = webroot_of(srv, srv->cfg);
	if (webroot && acme_challenges_set_webroot(webroot) != WF_OK) {
		wf_log_error("cannot write into the webroot %s: %m", webroot);
		goto out_workers;
	}
	webroot_applied = webroot ? strdup(webroot) : NULL;
	cert_jobs_start(srv);
	wf_log_info("wharf %s ready", WHARF_VERSION);
	/* Every thread made so far holds them too, so they come to this one;
	 * one that came meanwhile is handled as the loop runs. */
	sigprocmask(SIG_UNBLOCK, &signals, NULL);
	ev_run(srv->loop, 0);
	code = srv->opts.oneshot ? srv->exit_code : 0;
	acme_dns_abandon();
	wf_log_info("stopped");

	cert_jobs_stop(srv);
out_workers:
	if (srv->workers) {
		for (int w = 0; w < srv->nworkers; w++)
			if (srv->workers[w].loop)
				wf_worker_post_stop(&srv->workers[w]);
		for (int w = 0; w < srv->nworkers; w++)
			if (srv->workers[w].loop && srv->workers[w].thread)
				wf_worker_wait(&srv->workers[w]);
		xfer_partial_sweep_cancel(); /* the pool runs what is queued: a sweep ends at once */
		wf_offload_stop();
		for (int w = 0; w < srv->nworkers; w++)
			if (srv->workers[w].loop && srv->workers[w].thread)
				wf_worker_join(&srv->workers[w]);
		free(srv->workers);
		/* Every connection is gone: so must their per-client counts be. */
		long held = wf_ipguard_conns_held();
		if (held)
			wf_log_error("ip guard: %ld connections still counted after every connection ended (a bug)",
				     held);
	}
out_tls:
	wf_certstore_fini(&srv->certs);
	acme_challenges_fini();
	while (wf_rcu_reclaim() > 0)
		;
	wf_tls_fini();
out_cfg:
	free(webroot_applied);
	webroot_applied = NULL;
	if (srv->state_lock >= 0)
		close(srv->state_lock);
	wf_config_unref(srv->cfg);
	return code;
}
