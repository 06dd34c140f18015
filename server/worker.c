/* Worker threads: see worker.h. */
#include "worker.h"
#include "log.h"
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
			/* Out of descriptors or memory: say so, and let the loop breathe. */
			wf_log_error("accept on %s: %m", l->key);
			return;
		}
		wf_conn_start(w, l, fd, (struct sockaddr *)&ss, len);
	}
}

static void listener_close(wf_worker_t *w, wf_listener_t *l)
{
	ev_io_stop(w->loop, &l->accept_io);
	close(l->fd);
	free(l);
}

/* Adopts a plan: keeps listeners whose key stays, opens the new ones, closes
 * the rest. Open connections are untouched; they keep their own config. */
static void adopt_plan(wf_worker_t *w, wf_worker_plan_t *plan)
{
	wf_listener_t **next = calloc(plan->n + 1, sizeof(*next));
	for (size_t i = 0; i < plan->n; i++) {
		wf_listener_t *l = NULL;
		if (plan->entries[i].fd < 0) {
			for (size_t j = 0; j < w->nlisteners; j++)
				if (w->listeners[j] && strcmp(w->listeners[j]->key, plan->entries[i].key) == 0) {
					l = w->listeners[j];
					w->listeners[j] = NULL;
					break;
				}
			if (!l)
				abort(); /* the main thread only says "keep" for keys it gave us */
		} else {
			l = calloc(1, sizeof(*l));
			l->fd = plan->entries[i].fd;
			plan->entries[i].fd = -1;
			snprintf(l->key, sizeof(l->key), "%s", plan->entries[i].key);
			l->worker = w;
			ev_io_init(&l->accept_io, on_accept, l->fd, EV_READ);
			if (!w->draining)
				ev_io_start(w->loop, &l->accept_io);
		}
		l->svc = plan->entries[i].svc;
		next[i] = l;
	}
	for (size_t j = 0; j < w->nlisteners; j++)
		if (w->listeners[j])
			listener_close(w, w->listeners[j]);
	free(w->listeners);
	w->listeners = next;
	w->nlisteners = plan->n;
	wf_config_t *old = w->cfg;
	w->cfg = wf_config_ref(plan->cfg);
	wf_config_unref(old);
}

static void start_drain(wf_worker_t *w)
{
	if (w->draining)
		return;
	w->draining = true;
	for (size_t i = 0; i < w->nlisteners; i++)
		ev_io_stop(w->loop, &w->listeners[i]->accept_io);
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
			wf_conn_close(w->conns);
		ev_break(w->loop, EVBREAK_ALL);
	}
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
		wf_worker_plan_free(w->mbox_plan);
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

void wf_worker_join(wf_worker_t *w)
{
	pthread_join(w->thread, NULL);
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
