/* Quiescent-state reclamation for the lock-free readers of shared snapshots
 * (certificate store, config). A reader thread is "online" while it runs event
 * callbacks and "offline" while its loop sleeps; an object retired by a writer is
 * freed once every reader has been offline or started a new online period since,
 * so a reader that loaded the old pointer can always still take its reference. */
#ifndef WF_RCU_H
#define WF_RCU_H

#include <stdatomic.h>
#include <stdint.h>

typedef struct wf_rcu_reader {
	_Atomic uint64_t epoch; /* 0 while offline */
	struct wf_rcu_reader *next;
} wf_rcu_reader_t;

void wf_rcu_register(wf_rcu_reader_t *r);
void wf_rcu_unregister(wf_rcu_reader_t *r);
void wf_rcu_online(wf_rcu_reader_t *r);
void wf_rcu_offline(wf_rcu_reader_t *r);
/* Queues free_fn(p) for when no reader can still be reaching p through a
 * pointer it loaded before this call. */
void wf_rcu_retire(void *p, void (*free_fn)(void *));
/* Runs what is safe to run now; returns how many retired objects remain. */
int wf_rcu_reclaim(void);

#endif
