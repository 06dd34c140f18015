/* Worker threads: see worker.h. */
#include "worker.h"
#include "log.h"
#include "offload.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ACCEPT_BATCH 64

static void on_accept(struct ev_loop *loop, ev_io *io, int revents)
{
	wf_listener_t *l = wf_container_of(io, wf_listener_t, accept_io);
	wf_worker_t *w = l->worker;
	for (int i = 0; i < ACCEPT_BATCH && !w->draining; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(l->fd, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				return;
			/* Out of descriptors or memory: the listener stays readable, so pause
			 * it for a moment instead of spinning. While it lasts, one line a
			 * minute says how many pauses went unlogged. */
			int err = errno;
			ev_tstamp now = ev_now(loop);
			if (l->pause_logged == 0 || now - l->pause_logged >= 60) {
				wf_log_error("accept on %s: %s; pausing accepts for 100 ms at a time (%u pauses not "
					     "logged since the last line)",
					     l->key, strerror(err), l->pauses_unlogged);
				l->pause_logged = now;
				l->pauses_unlogged = 0;
			} else {
				l->pauses_unlogged++;
			}
			ev_io_stop(loop, &l->accept_io);
			/* A one-shot timer that fired keeps no time of its own: set it anew. */
			ev_timer_set(&l->pause, 0.1, 0);
			ev_timer_start(loop, &l->pause);
			return;
		}
		wf_conn_start(w, l, fd, (struct sockaddr *)&ss, len);
	}
}

static void on_accept_resume(struct ev_loop *loop, ev_timer *t, int revents)
{
	wf_listener_t *l = wf_container_of(t, wf_listener_t, pause);
	if (!l->worker->draining)
		ev_io_start(loop, &l->accept_io);
}

static void listener_close(wf_worker_t *w, wf_listener_t *l)
{
	ev_timer_stop(w->loop, &l->pause);
	ev_io_stop(w->loop, &l->accept_io);
	close(l->fd);
	free(l);
}

/* Does newest lack, or hold changed, an account of cfg? */
static bool accounts_gone(const wf_config_t *cfg, const wf_config_t *newest)
{
	for (size_t i = 0; i < cfg->nusers; i++)
		if (!wf_config_user_current(newest, cfg, &cfg->users[i]))
			return true;
	return false;
}

/* Open connections keep the config they were accepted under, so a reload
 * never changes the rules under a request in flight; but not an account
 * the reload removed or changed (a password, a home, permissions): one of
 * a config that had such an account finishes what is in flight and closes,
 * as at shutdown, unless its protocol says it serves no such account (an
 * FTPS session logged in as another user). The next connection logs in
 * against the new accounts. One still in its handshake is left: each
 * request checks its account anew (wf_config_user_current). */
static void retire_accounts_gone(wf_worker_t *w)
{
	const wf_config_t *seen = NULL;
	bool gone = false;
	for (wf_conn_t *c = w->conns, *next; c; c = next) {
		next = c->next;
		if (c->cfg == w->cfg || c->state != WF_CONN_OPEN || !c->proto || c->draining)
			continue;
		if (c->cfg != seen) { /* mostly one config before this one */
			seen = c->cfg;
			gone = accounts_gone(c->cfg, w->cfg);
		}
		if (gone && !(c->proto->keeps_on_reload && c->proto->keeps_on_reload(c, w->cfg)))
			wf_conn_drain(c);
	}
}

/* Adopts a plan: keeps listeners whose key stays, opens the new ones, closes
 * the rest. Open connections keep their own config (retire_accounts_gone). */
static void adopt_plan(wf_worker_t *w, wf_worker_plan_t *plan)
{
	if (w->draining) {
		/* The listeners are closed for good (start_drain); only the config
		 * is taken, and the plan's new sockets are closed with it. */
		wf_config_t *old = w->cfg;
		w->cfg = wf_config_ref(plan->cfg);
		wf_config_unref(old);
		return;
	}
	wf_listener_t **next = calloc(plan->n + 1, sizeof(*next));
	size_t n = 0;
	for (size_t i = 0; i < plan->n; i++) {
		wf_listener_t *l = NULL;
		if (plan->entries[i].fd < 0) {
			for (size_t j = 0; j < w->nlisteners; j++)
				if (w->listeners[j] && strcmp(w->listeners[j]->key, plan->entries[i].key) == 0) {
					l = w->listeners[j];
					w->listeners[j] = NULL;
					break;
				}
			if (!l) {
				/* post() merges unadopted plans, so this means a bug; skip the service rather
				 * than stop every other one. */
				wf_log_error("worker %d: no socket to keep for %s; that service is not served",
					     w->index, plan->entries[i].key);
				continue;
			}
		} else {
			l = calloc(1, sizeof(*l));
			l->fd = plan->entries[i].fd;
			plan->entries[i].fd = -1;
			snprintf(l->key, sizeof(l->key), "%s", plan->entries[i].key);
			l->worker = w;
			ev_io_init(&l->accept_io, on_accept, l->fd, EV_READ);
			ev_timer_init(&l->pause, on_accept_resume, 0.1, 0);
			ev_io_start(w->loop, &l->accept_io);
		}
		l->svc = plan->entries[i].svc;
		next[n++] = l;
	}
	for (size_t j = 0; j < w->nlisteners; j++)
		if (w->listeners[j])
			listener_close(w, w->listeners[j]);
	free(w->listeners);
	w->listeners = next;
	w->nlisteners = n;
	wf_config_t *old = w->cfg;
	w->cfg = wf_config_ref(plan->cfg);
	wf_config_unref(old);
	retire_accounts_gone(w);
}

static void start_drain(wf_worker_t *w)
{
	if (w->draining)
		return;
	w->draining = true;
	/* Closed, not just left unwatched: an open listening socket still
	 * completes handshakes into its backlog, and those clients would wait
	 * for an accept that never comes until shutdown_timeout. Closed, a new
	 * connection is refused at once (and one in the backlog is reset). */
	for (size_t i = 0; i < w->nlisteners; i++)
		listener_close(w, w->listeners[i]);
	free(w->listeners);
	w->listeners = NULL;
	w->nlisteners = 0;
	for (wf_conn_t *c = w->conns, *next; c; c = next) {
		next = c->next;
		wf_conn_drain(c);
	}
	if (!w->conns)
		ev_break(w->loop, EVBREAK_ALL);
}

static void on_wake(struct ev_loop *loop, ev_async *a, int revents)
{
	wf_worker_t *w = wf_container_of(a, wf_worker_t, wake);
	pthread_mutex_lock(&w->mbox_lock);
	wf_worker_plan_t *plan = w->mbox_plan;
	bool drain = w->mbox_drain, stop = w->mbox_stop;
	w->mbox_plan = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	if (plan) {
		adopt_plan(w, plan);
		wf_worker_plan_free(plan);
	}
	if (drain)
		start_drain(w);
	if (stop) {
		while (w->conns)
			wf_conn_destroy(w->conns);
		ev_break(w->loop, EVBREAK_ALL);
	}
}

static void on_offload_done(struct ev_loop *loop, ev_async *a, int revents)
{
	wf_offload_complete(wf_container_of(a, wf_worker_t, offload_wake));
}

static void on_offline(struct ev_loop *loop, ev_prepare *p, int revents)
{
	wf_worker_t *w = wf_container_of(p, wf_worker_t, offline);
	wf_rcu_offline(&w->rcu);
}

static void on_online(struct ev_loop *loop, ev_check *p, int revents)
{
	wf_worker_t *w = wf_container_of(p, wf_worker_t, online);
	wf_rcu_online(&w->rcu);
}

static void *worker_main(void *arg)
{
	wf_worker_t *w = arg;
	wf_rcu_online(&w->rcu);
	ev_run(w->loop, 0);
	wf_rcu_offline(&w->rcu);
	return NULL;
}

void wf_worker_plan_free(wf_worker_plan_t *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n; i++)
		if (p->entries[i].fd >= 0)
			close(p->entries[i].fd);
	free(p->entries);
	wf_config_unref(p->cfg);
	free(p);
}

int wf_worker_start(wf_worker_t *w, wf_server_t *srv, int index, wf_worker_plan_t *plan_take)
{
	w->index = index;
	w->server = srv;
	w->loop = ev_loop_new(EVFLAG_AUTO | EVFLAG_NOSIGMASK);
	if (!w->loop)
		return WF_ERR;
	pthread_mutex_init(&w->mbox_lock, NULL);
	ev_async_init(&w->wake, on_wake);
	ev_async_start(w->loop, &w->wake);
	ev_async_init(&w->offload_wake, on_offload_done);
	ev_async_start(w->loop, &w->offload_wake);
	/* Online before any other callback of a loop turn, offline after the last:
	 * see rcu.h. */
	ev_prepare_init(&w->offline, on_offline);
	ev_set_priority(&w->offline, EV_MINPRI);
	ev_prepare_start(w->loop, &w->offline);
	ev_check_init(&w->online, on_online);
	ev_set_priority(&w->online, EV_MAXPRI);
	ev_check_start(w->loop, &w->online);
	wf_rcu_register(&w->rcu);
	adopt_plan(w, plan_take);
	wf_worker_plan_free(plan_take);
	if (pthread_create(&w->thread, NULL, worker_main, w) != 0)
		return WF_ERR;
	return WF_OK;
}

static void post(wf_worker_t *w, wf_worker_plan_t *plan, bool drain, bool stop)
{
	pthread_mutex_lock(&w->mbox_lock);
	if (plan) {
		/* A plan not yet adopted is replaced, but the sockets it brought are
		 * what the new plan means by "keep": hand them over. */
		wf_worker_plan_t *old = w->mbox_plan;
		for (size_t i = 0; old && i < plan->n; i++) {
			if (plan->entries[i].fd >= 0)
				continue;
			for (size_t j = 0; j < old->n; j++)
				if (old->entries[j].fd >= 0 && strcmp(old->entries[j].key, plan->entries[i].key) == 0) {
					plan->entries[i].fd = old->entries[j].fd;
					old->entries[j].fd = -1;
				}
		}
		wf_worker_plan_free(old);
		w->mbox_plan = plan;
	}
	w->mbox_drain |= drain;
	w->mbox_stop |= stop;
	pthread_mutex_unlock(&w->mbox_lock);
	ev_async_send(w->loop, &w->wake);
}

void wf_worker_post_plan(wf_worker_t *w, wf_worker_plan_t *plan_take)
{
	post(w, plan_take, false, false);
}

void wf_worker_post_drain(wf_worker_t *w)
{
	post(w, NULL, true, false);
}

void wf_worker_post_stop(wf_worker_t *w)
{
	post(w, NULL, false, true);
}

void wf_worker_wait(wf_worker_t *w)
{
	pthread_join(w->thread, NULL);
}

void wf_worker_join(wf_worker_t *w)
{
	/* Jobs that finished after the loop stopped: their connections are gone,
	 * and each completion knows it (an orphaned job only cleans up). */
	wf_offload_complete(w);
	wf_rcu_unregister(&w->rcu);
	for (size_t i = 0; i < w->nlisteners; i++)
		listener_close(w, w->listeners[i]);
	free(w->listeners);
	wf_worker_plan_free(w->mbox_plan);
	wf_config_unref(w->cfg);
	free(w->scratch);
	ev_loop_destroy(w->loop);
	pthread_mutex_destroy(&w->mbox_lock);
}

void wf_worker_conn_added(wf_worker_t *w, wf_conn_t *c)
{
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	w->nconns++;
}

void wf_worker_conn_removed(wf_worker_t *w, wf_conn_t *c)
{
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	w->nconns--;
	if (w->draining && !w->conns)
		ev_break(w->loop, EVBREAK_ALL);
}
