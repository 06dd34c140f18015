/* The controller's record of cluster requests taken, and its log of those
 * refused: see cluster_guard.h. */
#include "cluster_guard.h"
#include "../server/log.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ------------------------------------------------------- replay record */

void acme_cluster_replay_init(acme_cluster_replay_t *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
}

void acme_cluster_replay_fini(acme_cluster_replay_t *r)
{
	pthread_mutex_destroy(&r->lock);
}

/* Under r->lock. A linear scan, as in server/ip_guard.c: cluster requests
 * come a few a second at most, and the used part of the table is what the
 * last 300 s of them left. */
static int replay_admit(acme_cluster_replay_t *r, const char nonce[ACME_CLUSTER_NONCE_LEN], int64_t until,
			int64_t now, const char **why)
{
	if (until <= r->floor) {
		*why = "the replay record is full, and it is older than every request it holds";
		return WF_ERR;
	}
	size_t spare = SIZE_MAX, oldest = SIZE_MAX;
	for (size_t i = 0; i < r->used; i++) {
		if (r->e[i].until < now) {
			if (spare == SIZE_MAX)
				spare = i;
			continue;
		}
		if (memcmp(r->e[i].nonce, nonce, sizeof(r->e[i].nonce)) == 0) {
			*why = "its nonce was used already (a replayed request)";
			return WF_ERR;
		}
		if (oldest == SIZE_MAX || r->e[i].until < r->e[oldest].until)
			oldest = i;
	}
	if (spare == SIZE_MAX && r->used < ACME_CLUSTER_REPLAY_MAX)
		spare = r->used++;
	if (spare == SIZE_MAX) {
		/* Every entry live: the oldest makes room, and nothing as old
		 * is taken again, so its nonce cannot come back in. */
		if (until <= r->e[oldest].until) {
			*why = "the replay record is full, and it is older than every request it holds";
			return WF_ERR;
		}
		r->floor = r->e[oldest].until;
		spare = oldest;
	}
	memcpy(r->e[spare].nonce, nonce, sizeof(r->e[spare].nonce));
	r->e[spare].until = until;
	return WF_OK;
}

int acme_cluster_replay_admit(acme_cluster_replay_t *r, const acme_cluster_auth_t *a, int64_t now, const char **why)
{
	pthread_mutex_lock(&r->lock);
	int rc = replay_admit(r, a->nonce, a->t + ACME_CLUSTER_SKEW, now, why);
	pthread_mutex_unlock(&r->lock);
	return rc;
}

acme_cluster_replay_t *acme_cluster_replay_shared(void)
{
	static acme_cluster_replay_t shared = { .lock = PTHREAD_MUTEX_INITIALIZER };
	return &shared;
}

/* ----------------------------------------------------- refusals, logged */

void acme_cluster_refusals_init(acme_cluster_refusals_t *r, int interval, acme_cluster_log_cb emit, void *arg)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->lock, NULL);
	r->interval = interval;
	r->emit = emit;
	r->emit_arg = arg;
}

void acme_cluster_refusals_fini(acme_cluster_refusals_t *r)
{
	pthread_mutex_destroy(&r->lock);
}

#define OTHERS ACME_CLUSTER_LOG_CLIENTS /* the entry of every address past the table */

static void emit(acme_cluster_refusals_t *r, const char *fmt, ...) WF_PRINTF(2, 3);
static void emit(acme_cluster_refusals_t *r, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	r->emit(r->emit_arg, line);
}

/* Under r->lock: the line for every client whose interval has passed with
 * refusals counted (it begins another); a client whose interval passed
 * with none is forgotten. */
static void refusals_sweep(acme_cluster_refusals_t *r, int64_t now)
{
	for (size_t i = 0; i < WF_ARRAY_LEN(r->c); i++) {
		acme_cluster_refused_t *c = &r->c[i];
		if (!c->client[0] || now < c->since + r->interval)
			continue;
		if (c->count == 0) {
			memset(c, 0, sizeof(*c));
			continue;
		}
		char whys[600] = "";
		size_t len = 0;
		unsigned told = 0;
		for (size_t k = 0; k < WF_ARRAY_LEN(c->whys) && c->whys[k].why; k++) {
			int n = snprintf(whys + len, sizeof(whys) - len, "%s%u: %s", len ? "; " : "", c->whys[k].n,
					 c->whys[k].why);
			if (n < 0 || (size_t)n >= sizeof(whys) - len)
				break;
			len += (size_t)n;
			told += c->whys[k].n;
		}
		if (told < c->count)
			snprintf(whys + len, sizeof(whys) - len, "%s%u: other reasons", len ? "; " : "", c->count - told);
		emit(r, "cluster: %u more bundle request%s from %s refused in the last %" PRId64 " s (%s)", c->count,
		     c->count == 1 ? "" : "s", i == OTHERS ? "other addresses" : c->client, now - c->since, whys);
		memset(c->whys, 0, sizeof(c->whys));
		c->count = 0;
		c->since = now;
	}
}

void acme_cluster_refusals_note(acme_cluster_refusals_t *r, const char *addr, const char *peer, const char *why,
				int64_t now)
{
	if (!why)
		why = "no reason given";
	char client[WF_IPGUARD_CLIENT_MAX];
	wf_ipguard_client(addr && addr[0] ? addr : "unknown", client);
	pthread_mutex_lock(&r->lock);
	refusals_sweep(r, now);
	size_t at = SIZE_MAX, spare = SIZE_MAX;
	for (size_t i = 0; i < OTHERS && at == SIZE_MAX; i++) {
		if (strcmp(r->c[i].client, client) == 0)
			at = i;
		else if (!r->c[i].client[0] && spare == SIZE_MAX)
			spare = i;
	}
	if (at == SIZE_MAX) {
		at = spare != SIZE_MAX ? spare : OTHERS;
		if (!r->c[at].client[0]) {
			/* The first of an interval: logged at once, whole. */
			snprintf(r->c[at].client, sizeof(r->c[at].client), "%s", client);
			r->c[at].since = now;
			emit(r, "cluster: bundle request from %s refused: %s", peer && peer[0] ? peer : client, why);
			pthread_mutex_unlock(&r->lock);
			return;
		}
	}
	acme_cluster_refused_t *c = &r->c[at];
	c->count++;
	for (size_t k = 0; k < WF_ARRAY_LEN(c->whys); k++) {
		if (!c->whys[k].why || strcmp(c->whys[k].why, why) == 0) {
			c->whys[k].why = why;
			c->whys[k].n++;
			break;
		}
	}
	pthread_mutex_unlock(&r->lock);
}

void acme_cluster_refusals_flush(acme_cluster_refusals_t *r, int64_t now)
{
	pthread_mutex_lock(&r->lock);
	refusals_sweep(r, now);
	pthread_mutex_unlock(&r->lock);
}

static void log_warn(void *arg, const char *line)
{
	(void)arg;
	wf_log_warn("%s", line);
}

acme_cluster_refusals_t *acme_cluster_refusals_shared(void)
{
	static acme_cluster_refusals_t shared = {
		.lock = PTHREAD_MUTEX_INITIALIZER,
		.interval = ACME_CLUSTER_LOG_INTERVAL,
		.emit = log_warn,
	};
	return &shared;
}
