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
/* Replaces the whole set (reload): takes ownership of the n references.
 * retire_into, when not NULL, gets a reference to the snapshot replaced (any
 * it held is dropped) before the new one is published: a reader that sees
 * the new snapshot sees that too. */
void wf_certstore_replace(wf_certstore_t *st, wf_certkey_t **cks_take, size_t n,
			  _Atomic(wf_certsnap_t *) *retire_into);

/* For the main thread, which is no rcu reader: a reference to the current
 * certificate of that name (under the write lock), or NULL. */
wf_certkey_t *wf_certstore_get(wf_certstore_t *st, const char *name);

/* Looks up a certificate by name in a snapshot (borrowed), or NULL. */
wf_certkey_t *wf_certsnap_get(const wf_certsnap_t *s, const char *name);

/* Chooses among the named certificates (a service's list, first = default) for
 * an SNI host name (NULL or "" when the client sent none): an exact domain match
 * first, then a wildcard "*.rest" matching exactly one label, then the default.
 * verifiable: the WF_KEY_*s (cert_key.h) of the keys the client can use (its hello's
 * signature algorithms and TLS 1.2 suites: tls_hello.h), or 0 when unknown.
 * Certificates of other keys are passed over, so of an RSA and an ECDSA one
 * for the same names each client gets one it can use, in the service's
 * order. When none it can use has its name, one that has it is chosen all
 * the same (its handshake then says why it fails), not one for another name.
 * A name s lacks is looked up in older (NULL: none), the store as it was when
 * the names' config was replaced, so a connection of that config keeps its
 * certificate through a reload that renamed or dropped it.
 * Returns a borrowed pointer, valid while both snapshots are held, or NULL
 * when none of the names is in either. */
wf_certkey_t *wf_certsnap_select(const wf_certsnap_t *s, const wf_certsnap_t *older, char *const *names,
				 size_t nnames, const char *sni, unsigned verifiable);

#endif
