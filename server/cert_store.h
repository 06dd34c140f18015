/* The atomic certificate store. An immutable snapshot (certificate name ->
 * wf_certkey_t) is published through one atomic pointer. A reader takes a
 * reference with no lock (rcu.h makes the load-then-ref safe); a connection
 * keeps the snapshot it handshook with until it closes; the old snapshot is
 * freed when its last reader is gone. Writers build the next snapshot aside
 * and publish it whole, so nobody ever sees half a change. */
#ifndef WF_CERT_STORE_H
#define WF_CERT_STORE_H

#include "cert_key.h"

#include <pthread.h>

typedef struct wf_certsnap {
	atomic_int refs;
	size_t n;
	wf_certkey_t **certs; /* owned references, sorted by name */
	uint64_t generation;
} wf_certsnap_t;

typedef struct wf_certstore {
	_Atomic(wf_certsnap_t *) current; /* owned: the store's own reference */
	pthread_mutex_t write_lock;       /* serializes writers only */
	uint64_t generation;
} wf_certstore_t;

void wf_certstore_init(wf_certstore_t *st);
void wf_certstore_fini(wf_certstore_t *st);

/* Lock-free: the calling thread must be an online rcu reader (worker threads
 * are, inside callbacks) or hold no other expectations than a writer's. */
wf_certsnap_t *wf_certstore_acquire(wf_certstore_t *st);
wf_certsnap_t *wf_certsnap_ref(wf_certsnap_t *s);
void wf_certsnap_unref(wf_certsnap_t *s);

/* Installs one certificate (replacing the one of the same name, or adding it):
 * once this returns, every new handshake gets it; open connections keep theirs.
 * Takes ownership of ck_take. */
void wf_certstore_install(wf_certstore_t *st, wf_certkey_t *ck_take);
/* Replaces the whole set (reload): takes ownership of the n references. */
void wf_certstore_replace(wf_certstore_t *st, wf_certkey_t **cks_take, size_t n);

/* For the main thread, which is no rcu reader: a reference to the current
 * certificate of that name (under the write lock), or NULL. */
wf_certkey_t *wf_certstore_get(wf_certstore_t *st, const char *name);

/* Looks up a certificate by name in a snapshot (borrowed), or NULL. */
wf_certkey_t *wf_certsnap_get(const wf_certsnap_t *s, const char *name);

/* Chooses among the named certificates (a service's list, first = default) for
 * an SNI host name (NULL or "" when the client sent none): an exact domain match
 * first, then a wildcard "*.rest" matching exactly one label, then the default.
 * Returns a borrowed pointer, valid while the snapshot is held, or NULL when
 * none of the names is in the snapshot. */
wf_certkey_t *wf_certsnap_select(const wf_certsnap_t *s, char *const *names, size_t nnames, const char *sni);

#endif
