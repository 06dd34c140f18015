/* The challenge store: see challenges.h. Orders come and go a few times a day,
 * so writers simply copy the whole (small) snapshot under a mutex. */
#include "challenges.h"
#include <unistd.h>
#include <stdio.h>
#include <fcntl.h>
#include <errno.h>
#include "../server/log.h"
#include "../server/durable.h"
#include "http01.h"
#include "../server/rcu.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef struct http_entry {
	char *token;
	char *keyauth;
} http_entry_t;

typedef struct alpn_entry {
	char *name;
	wf_certkey_t *ck;
} alpn_entry_t;

struct acme_chal_snap {
	atomic_int refs;
	size_t nhttp, nalpn;
	http_entry_t *http;
	alpn_entry_t *alpn;
};

static _Atomic(acme_chal_snap_t *) current;
static pthread_mutex_t write_lock = PTHREAD_MUTEX_INITIALIZER;

static acme_chal_snap_t *snap_new(size_t nhttp, size_t nalpn)
{
	acme_chal_snap_t *s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	atomic_init(&s->refs, 1);
	s->http = calloc(nhttp + 1, sizeof(*s->http));
	s->alpn = calloc(nalpn + 1, sizeof(*s->alpn));
	if (!s->http || !s->alpn)
		abort();
	return s;
}

void acme_chal_snap_unref(acme_chal_snap_t *s)
{
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	for (size_t i = 0; i < s->nhttp; i++) {
		free(s->http[i].token);
		free(s->http[i].keyauth);
	}
	for (size_t i = 0; i < s->nalpn; i++) {
		free(s->alpn[i].name);
		wf_certkey_unref(s->alpn[i].ck);
	}
	free(s->http);
	free(s->alpn);
	free(s);
}

static void unref_void(void *p)
{
	acme_chal_snap_unref(p);
}

void acme_challenges_init(void)
{
	acme_chal_snap_t *empty = snap_new(0, 0);
	acme_chal_snap_t *old = atomic_exchange(&current, empty);
	acme_chal_snap_unref(old);
}

void acme_challenges_fini(void)
{
	acme_chal_snap_unref(atomic_exchange(&current, NULL));
}

acme_chal_snap_t *acme_challenges_acquire(void)
{
	acme_chal_snap_t *s = atomic_load(&current);
	if (s)
		atomic_fetch_add(&s->refs, 1);
	return s;
}

/* Copies the current snapshot with room for more; called with write_lock. */
static acme_chal_snap_t *copy_current(size_t more_http, size_t more_alpn)
{
	acme_chal_snap_t *cur = atomic_load(&current);
	size_t nh = cur ? cur->nhttp : 0, na = cur ? cur->nalpn : 0;
	acme_chal_snap_t *next = snap_new(nh + more_http, na + more_alpn);
	for (size_t i = 0; i < nh; i++) {
		next->http[i].token = strdup(cur->http[i].token);
		next->http[i].keyauth = strdup(cur->http[i].keyauth);
	}
	for (size_t i = 0; i < na; i++) {
		next->alpn[i].name = strdup(cur->alpn[i].name);
		next->alpn[i].ck = wf_certkey_ref(cur->alpn[i].ck);
	}
	next->nhttp = nh;
	next->nalpn = na;
	return next;
}

static void publish(acme_chal_snap_t *next)
{
	acme_chal_snap_t *old = atomic_exchange(&current, next);
	if (old)
		wf_rcu_retire(old, unref_void);
}

static char *webroot_dir; /* owned: .../.well-known/acme-challenge, or NULL */

int acme_challenges_set_webroot(const char *dir)
{
	char *path;
	if (asprintf(&path, "%s/.well-known/acme-challenge", dir) < 0)
		return WF_ERR;
	/* Readable by the web server that serves the folder. */
	if (wf_durable_mkdirs(path, 0755) != WF_OK) {
		int err = errno;
		free(path);
		errno = err;
		return WF_ERR;
	}
	int dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = dfd < 0 ? WF_ERR :
			   wf_durable_write(dfd, "test.txt", ACME_HTTP01_READY_TEXT, strlen(ACME_HTTP01_READY_TEXT), 0644);
	if (dfd >= 0)
		close(dfd);
	free(webroot_dir);
	webroot_dir = path;
	return rc;
}

static void webroot_file(const char *token, const char *keyauth)
{
	/* Tokens are the CA's base64url; anything else never becomes a file name. */
	if (!webroot_dir || !token[0] || token[0] == '.' || strchr(token, '/'))
		return;
	int dfd = open(webroot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return;
	if (keyauth) {
		if (wf_durable_write(dfd, token, keyauth, strlen(keyauth), 0644) != WF_OK)
			wf_log_error("acme: cannot write %s/%s: %m", webroot_dir, token);
	} else {
		unlinkat(dfd, token, 0);
	}
	close(dfd);
}

void acme_challenges_add_http(const char *token, const char *key_authorization)
{
	webroot_file(token, key_authorization);
	pthread_mutex_lock(&write_lock);
	acme_chal_snap_t *next = copy_current(1, 0);
	next->http[next->nhttp].token = strdup(token);
	next->http[next->nhttp].keyauth = strdup(key_authorization);
	next->nhttp++;
	publish(next);
	pthread_mutex_unlock(&write_lock);
}

void acme_challenges_add_alpn(const char *name, wf_certkey_t *ck_take)
{
	pthread_mutex_lock(&write_lock);
	acme_chal_snap_t *next = copy_current(0, 1);
	next->alpn[next->nalpn].name = strdup(name);
	next->alpn[next->nalpn].ck = ck_take;
	next->nalpn++;
	publish(next);
	pthread_mutex_unlock(&write_lock);
}

static bool listed(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

void acme_challenges_remove(char *const *tokens, size_t ntokens, char *const *names, size_t nnames)
{
	pthread_mutex_lock(&write_lock);
	acme_chal_snap_t *cur = atomic_load(&current);
	acme_chal_snap_t *next = snap_new(cur ? cur->nhttp : 0, cur ? cur->nalpn : 0);
	for (size_t i = 0; cur && i < cur->nhttp; i++) {
		if (listed(tokens, ntokens, cur->http[i].token)) {
			webroot_file(cur->http[i].token, NULL);
			continue;
		}
		next->http[next->nhttp].token = strdup(cur->http[i].token);
		next->http[next->nhttp].keyauth = strdup(cur->http[i].keyauth);
		next->nhttp++;
	}
	for (size_t i = 0; cur && i < cur->nalpn; i++) {
		if (listed(names, nnames, cur->alpn[i].name))
			continue;
		next->alpn[next->nalpn].name = strdup(cur->alpn[i].name);
		next->alpn[next->nalpn].ck = wf_certkey_ref(cur->alpn[i].ck);
		next->nalpn++;
	}
	publish(next);
	pthread_mutex_unlock(&write_lock);
}

const char *acme_chal_http(const acme_chal_snap_t *s, wf_slice_t token)
{
	for (size_t i = 0; s && i < s->nhttp; i++)
		if (wf_slice_eq(token, s->http[i].token))
			return s->http[i].keyauth;
	return NULL;
}

wf_certkey_t *acme_chal_alpn(const acme_chal_snap_t *s, const char *name)
{
	for (size_t i = 0; s && name && i < s->nalpn; i++)
		if (strcasecmp(s->alpn[i].name, name) == 0)
			return s->alpn[i].ck;
	return NULL;
}
