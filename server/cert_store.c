/* The atomic certificate store: see cert_store.h. */
#include "cert_store.h"
#include "rcu.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static wf_certsnap_t *snap_new(size_t n)
{
	wf_certsnap_t *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	atomic_init(&s->refs, 1);
	s->certs = calloc(n ? n : 1, sizeof(*s->certs));
	if (!s->certs)
		abort();
	return s;
}

static void snap_free(wf_certsnap_t *s)
{
	for (size_t i = 0; i < s->n; i++)
		wf_certkey_unref(s->certs[i]);
	free(s->certs);
	free(s);
}

wf_certsnap_t *wf_certsnap_ref(wf_certsnap_t *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

void wf_certsnap_unref(wf_certsnap_t *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snap_free(s);
}

static void snap_unref_void(void *p)
{
	wf_certsnap_unref(p);
}

void wf_certstore_init(wf_certstore_t *st)
{
	atomic_init(&st->current, snap_new(0));
	pthread_mutex_init(&st->write_lock, NULL);
	st->generation = 0;
}

void wf_certstore_fini(wf_certstore_t *st)
{
	wf_certsnap_unref(atomic_exchange(&st->current, NULL));
	pthread_mutex_destroy(&st->write_lock);
}

wf_certsnap_t *wf_certstore_acquire(wf_certstore_t *st)
{
	return wf_certsnap_ref(atomic_load(&st->current));
}

static int by_name(const void *a, const void *b)
{
	return strcmp((*(wf_certkey_t *const *)a)->name, (*(wf_certkey_t *const *)b)->name);
}

/* Called with write_lock held. The old snapshot's store reference is dropped
 * only after every reader that might have loaded the pointer has moved on. */
static void publish(wf_certstore_t *st, wf_certsnap_t *next)
{
	qsort(next->certs, next->n, sizeof(*next->certs), by_name);
	next->generation = ++st->generation;
	wf_certsnap_t *old = atomic_exchange(&st->current, next);
	wf_rcu_retire(old, snap_unref_void);
}

void wf_certstore_install(wf_certstore_t *st, wf_certkey_t *ck_take)
{
	pthread_mutex_lock(&st->write_lock);
	wf_certsnap_t *cur = atomic_load(&st->current);
	wf_certsnap_t *next = snap_new(cur->n + 1);
	for (size_t i = 0; i < cur->n; i++)
		if (strcmp(cur->certs[i]->name, ck_take->name) != 0)
			next->certs[next->n++] = wf_certkey_ref(cur->certs[i]);
	next->certs[next->n++] = ck_take;
	publish(st, next);
	pthread_mutex_unlock(&st->write_lock);
}

void wf_certstore_replace(wf_certstore_t *st, wf_certkey_t **cks_take, size_t n,
			  _Atomic(wf_certsnap_t *) *retire_into)
{
	wf_certsnap_t *next = snap_new(n);
	for (size_t i = 0; i < n; i++)
		next->certs[next->n++] = cks_take[i];
	pthread_mutex_lock(&st->write_lock);
	if (retire_into)
		wf_certsnap_unref(atomic_exchange(retire_into, wf_certsnap_ref(atomic_load(&st->current))));
	publish(st, next);
	pthread_mutex_unlock(&st->write_lock);
}

wf_certkey_t *wf_certstore_get(wf_certstore_t *st, const char *name)
{
	pthread_mutex_lock(&st->write_lock);
	wf_certkey_t *ck = wf_certsnap_get(atomic_load(&st->current), name);
	if (ck)
		wf_certkey_ref(ck);
	pthread_mutex_unlock(&st->write_lock);
	return ck;
}

wf_certkey_t *wf_certsnap_get(const wf_certsnap_t *s, const char *name)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int c = strcmp(s->certs[mid]->name, name);
		if (c == 0)
			return s->certs[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

/* The best of the named certificates whose key kind is in verifiable (0:
 * any); *by_name says whether it matched the SNI rather than being the
 * default. */
static wf_certkey_t *pick(const wf_certsnap_t *s, const wf_certsnap_t *older, char *const *names, size_t nnames,
			  const char *sni, unsigned verifiable, bool *by_name)
{
	wf_certkey_t *dflt = NULL, *wild = NULL;
	const char *rest = sni ? strchr(sni, '.') : NULL;
	*by_name = true;
	for (size_t i = 0; i < nnames; i++) {
		wf_certkey_t *ck = wf_certsnap_get(s, names[i]);
		if (!ck && older)
			ck = wf_certsnap_get(older, names[i]);
		if (!ck || (verifiable && !(verifiable & ck->key_kind)))
			continue;
		if (!dflt)
			dflt = ck;
		if (!sni || !*sni)
			continue;
		for (size_t j = 0; j < ck->ndomains; j++) {
			const char *d = ck->domains[j];
			if (d[0] == '*' && d[1] == '.') {
				/* "*.example.com" covers "a.example.com", not "example.com" nor "a.b.example.com". */
				if (!wild && rest && rest != sni && strcasecmp(rest + 1, d + 2) == 0)
					wild = ck;
			} else if (strcasecmp(d, sni) == 0) {
				return ck;
			}
		}
	}
	*by_name = wild != NULL;
	return wild ? wild : dflt;
}

wf_certkey_t *wf_certsnap_select(const wf_certsnap_t *s, const wf_certsnap_t *older, char *const *names,
				 size_t nnames, const char *sni, unsigned verifiable)
{
	bool by_name;
	wf_certkey_t *fit = pick(s, older, names, nnames, sni, verifiable, &by_name);
	if (!verifiable || (fit && by_name))
		return fit;
	/* None the client can verify has its name: one that has it, though the
	 * handshake will fail (the client learns why), rather than one for
	 * another name; else the default it can verify, else the default. */
	wf_certkey_t *named = pick(s, older, names, nnames, sni, 0, &by_name);
	return named && by_name ? named : fit ? fit : named;
}
