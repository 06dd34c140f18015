/* Account thumbprints by name: see thumbprints.h. A few entries (the
 * configured certificates, or their domains): a list under one lock. */
#include "thumbprints.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct thumb_entry {
	char *key; /* owned */
	char thumbprint[ACME_CLUSTER_THUMBPRINT_LEN + 1];
} thumb_entry_t;

struct acme_thumbs {
	pthread_mutex_t lock;
	thumb_entry_t *v; /* owned; entries live as long as the process (names a reload dropped stay, unused) */
	size_t n, cap;
};

acme_thumbs_t acme_thumbs_by_cert = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };
acme_thumbs_t acme_thumbs_by_domain = { PTHREAD_MUTEX_INITIALIZER, NULL, 0, 0 };

static thumb_entry_t *find(acme_thumbs_t *t, const char *key, size_t keylen)
{
	for (size_t i = 0; i < t->n; i++)
		if (strlen(t->v[i].key) == keylen && strncasecmp(t->v[i].key, key, keylen) == 0)
			return &t->v[i];
	return NULL;
}

bool acme_thumbs_set(acme_thumbs_t *t, const char *key, const char *thumbprint)
{
	if (!acme_cluster_thumbprint_valid(thumbprint))
		return false;
	bool changed = false;
	pthread_mutex_lock(&t->lock);
	thumb_entry_t *e = find(t, key, strlen(key));
	if (!e && t->n == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 8;
		thumb_entry_t *v = realloc(t->v, cap * sizeof(*v));
		if (v) {
			t->v = v;
			t->cap = cap;
		}
	}
	if (!e && t->n < t->cap) {
		char *copy = strdup(key);
		if (copy) {
			e = &t->v[t->n++];
			e->key = copy;
			e->thumbprint[0] = '\0';
		}
	}
	if (e && strcmp(e->thumbprint, thumbprint) != 0) {
		memcpy(e->thumbprint, thumbprint, sizeof(e->thumbprint));
		changed = true;
	}
	pthread_mutex_unlock(&t->lock);
	return changed;
}

bool acme_thumbs_get(acme_thumbs_t *t, const char *key, size_t keylen, char out[ACME_CLUSTER_THUMBPRINT_LEN + 1])
{
	pthread_mutex_lock(&t->lock);
	const thumb_entry_t *e = find(t, key, keylen);
	if (e)
		memcpy(out, e->thumbprint, ACME_CLUSTER_THUMBPRINT_LEN + 1);
	else
		out[0] = '\0';
	pthread_mutex_unlock(&t->lock);
	return e != NULL;
}
