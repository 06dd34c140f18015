/* The offload pool: see offload.h. */
#include "offload.h"
#include "worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>

typedef struct job {
	uint64_t seq;   /* submission order, across both lanes */
	wf_worker_t *w; /* borrowed: outlives its jobs (workers drain before they stop); NULL: no completion */
	wf_offload_fn fn;
	wf_offload_done done;
	void *arg;
	struct job *next;
} job_t;

/* Two lanes: password checks, and file work (fsyncs, listings, sweeps).
 * One thread takes only password checks, so a user's thousands of uploads,
 * each ending in an fsync, never hold every other user's login behind
 * them; the others take the older job of either lane, so a flood of
 * guesses never holds the file work either. */
typedef struct lane {
	job_t *head, *tail;
} lane_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static lane_t logins, files;
static pthread_t *threads;
static int nthreads;
static bool stopping;
static uint64_t submitted;

static job_t *lane_take(lane_t *l)
{
	job_t *j = l->head;
	if (j) {
		l->head = j->next;
		if (!l->head)
			l->tail = NULL;
	}
	return j;
}

static void lane_put(lane_t *l, job_t *j)
{
	if (l->tail)
		l->tail->next = j;
	else
		l->head = j;
	l->tail = j;
}

static void *pool_main(void *logins_only)
{
	for (;;) {
		pthread_mutex_lock(&lock);
		while (!logins.head && (logins_only || !files.head) && !stopping)
			pthread_cond_wait(&cond, &lock);
		lane_t *from = &logins;
		if (!logins_only && files.head && (!logins.head || files.head->seq < logins.head->seq))
			from = &files;
		job_t *j = lane_take(from);
		pthread_mutex_unlock(&lock);
		if (!j)
			return NULL;
		j->fn(j->arg);
		wf_worker_t *w = j->w;
		if (!w) {
			free(j);
			continue;
		}
		pthread_mutex_lock(&w->mbox_lock);
		j->next = w->offload_done;
		w->offload_done = j;
		pthread_mutex_unlock(&w->mbox_lock);
		ev_async_send(w->loop, &w->offload_wake);
	}
}

int wf_offload_start(int n)
{
	threads = calloc((size_t)n + 1, sizeof(*threads));
	if (!threads)
		return WF_ERR;
	stopping = false;
	/* The first thread is the logins' own; n more take both lanes. */
	for (nthreads = 0; nthreads <= n; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, pool_main, nthreads == 0 ? (void *)1 : NULL) != 0)
			break;
	if (nthreads == 1) { /* no thread for the files: none at all, so callers do the work inline */
		wf_offload_stop();
		return WF_ERR;
	}
	return nthreads ? WF_OK : WF_ERR;
}

void wf_offload_stop(void)
{
	pthread_mutex_lock(&lock);
	stopping = true;
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	for (int i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	free(threads);
	threads = NULL;
	nthreads = 0;
}

static int submit(lane_t *l, wf_worker_t *w, wf_offload_fn fn, wf_offload_done done, void *arg)
{
	if (!nthreads)
		return WF_ERR;
	job_t *j = calloc(1, sizeof(*j));
	if (!j)
		return WF_ERR;
	j->w = w;
	j->fn = fn;
	j->done = done;
	j->arg = arg;
	pthread_mutex_lock(&lock);
	j->seq = submitted++;
	lane_put(l, j);
	/* Every thread: a signal could wake the logins' thread for a file job. */
	pthread_cond_broadcast(&cond);
	pthread_mutex_unlock(&lock);
	return WF_OK;
}

int wf_offload_submit(wf_worker_t *w, wf_offload_fn fn, wf_offload_done done, void *arg)
{
	return submit(&files, w, fn, done, arg);
}

int wf_offload_submit_login(wf_worker_t *w, wf_offload_fn fn, wf_offload_done done, void *arg)
{
	return submit(&logins, w, fn, done, arg);
}

bool wf_offload_withdraw(wf_offload_fn fn, void *arg)
{
	pthread_mutex_lock(&lock);
	job_t *prev = NULL, *j = files.head;
	while (j && (j->fn != fn || j->arg != arg)) {
		prev = j;
		j = j->next;
	}
	if (j) {
		if (prev)
			prev->next = j->next;
		else
			files.head = j->next;
		if (files.tail == j)
			files.tail = prev;
	}
	pthread_mutex_unlock(&lock);
	bool found = j != NULL;
	free(j);
	return found;
}

void wf_offload_complete(wf_worker_t *w)
{
	pthread_mutex_lock(&w->mbox_lock);
	job_t *j = w->offload_done;
	w->offload_done = NULL;
	pthread_mutex_unlock(&w->mbox_lock);
	while (j) {
		job_t *next = j->next;
		j->done(j->arg);
		free(j);
		j = next;
	}
}
