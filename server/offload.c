/* The offload pool: see offload.h. */
#include "offload.h"
#include "worker.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>

typedef struct job {
	wf_worker_t *w; /* borrowed: outlives its jobs (workers drain before they stop); NULL: no completion */
	wf_offload_fn fn;
	wf_offload_done done;
	void *arg;
	struct job *next;
} job_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cond = PTHREAD_COND_INITIALIZER;
static job_t *queue_head, *queue_tail;
static pthread_t *threads;
static int nthreads;
static bool stopping;

static void *pool_main(void *unused)
{
	for (;;) {
		pthread_mutex_lock(&lock);
		while (!queue_head && !stopping)
			pthread_cond_wait(&cond, &lock);
		job_t *j = queue_head;
		if (j) {
			queue_head = j->next;
			if (!queue_head)
				queue_tail = NULL;
		}
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
	threads = calloc((size_t)n, sizeof(*threads));
	if (!threads)
		return WF_ERR;
	stopping = false;
	for (nthreads = 0; nthreads < n; nthreads++)
		if (pthread_create(&threads[nthreads], NULL, pool_main, NULL) != 0)
			break;
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

int wf_offload_submit(wf_worker_t *w, wf_offload_fn fn, wf_offload_done done, void *arg)
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
	if (queue_tail)
		queue_tail->next = j;
	else
		queue_head = j;
	queue_tail = j;
	pthread_cond_signal(&cond);
	pthread_mutex_unlock(&lock);
	return WF_OK;
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
