/* Quiescent-state based reclamation: see rcu.h. Writers are rare (a certificate
 * swap, a reload), so they take a mutex; readers only do atomic stores. */
#include "rcu.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct retired {
	void *p;
	void (*free_fn)(void *);
	uint64_t epoch;
	struct retired *next;
} retired_t;

static pthread_mutex_t rcu_lock = PTHREAD_MUTEX_INITIALIZER;
static _Atomic uint64_t global_epoch = 1;
static wf_rcu_reader_t *readers;
static retired_t *retired_list;

void wf_rcu_register(wf_rcu_reader_t *r)
{
	atomic_init(&r->epoch, 0);
	pthread_mutex_lock(&rcu_lock);
	r->next = readers;
	readers = r;
	pthread_mutex_unlock(&rcu_lock);
}

void wf_rcu_unregister(wf_rcu_reader_t *r)
{
	pthread_mutex_lock(&rcu_lock);
	for (wf_rcu_reader_t **pp = &readers; *pp; pp = &(*pp)->next)
		if (*pp == r) {
			*pp = r->next;
			break;
		}
	pthread_mutex_unlock(&rcu_lock);
}

void wf_rcu_online(wf_rcu_reader_t *r)
{
	atomic_store(&r->epoch, atomic_load(&global_epoch));
}

void wf_rcu_offline(wf_rcu_reader_t *r)
{
	atomic_store(&r->epoch, 0);
}

void wf_rcu_retire(void *p, void (*free_fn)(void *))
{
	retired_t *e = malloc(sizeof(*e));
	if (!e)
		abort();
	e->p = p;
	e->free_fn = free_fn;
	pthread_mutex_lock(&rcu_lock);
	/* The new pointer is already published (seq_cst store) when this runs, so a
	 * reader whose online period began at the bumped epoch cannot see the old one. */
	e->epoch = atomic_fetch_add(&global_epoch, 1) + 1;
	e->next = retired_list;
	retired_list = e;
	pthread_mutex_unlock(&rcu_lock);
}

int wf_rcu_reclaim(void)
{
	retired_t *ready = NULL;
	int left = 0;
	pthread_mutex_lock(&rcu_lock);
	uint64_t min = UINT64_MAX;
	for (wf_rcu_reader_t *r = readers; r; r = r->next) {
		uint64_t e = atomic_load(&r->epoch);
		if (e && e < min)
			min = e;
	}
	for (retired_t **pp = &retired_list; *pp;) {
		retired_t *e = *pp;
		if (e->epoch <= min) {
			*pp = e->next;
			e->next = ready;
			ready = e;
		} else {
			pp = &e->next;
			left++;
		}
	}
	pthread_mutex_unlock(&rcu_lock);
	while (ready) {
		retired_t *e = ready;
		ready = e->next;
		e->free_fn(e->p);
		free(e);
	}
	return left;
}
