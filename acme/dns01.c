/* The dns_hook queue: see dns01.h. */
#include "dns01.h"
#include "command.h"
#include "../server/base.h"
#include "../server/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REMOVE_TIMEOUT 60.0

typedef struct dns_entry {
	char **argv;        /* owned: hook argv, then action, name, value, NULL */
	size_t argc;        /* the hook's own part of argv */
	char *vars[3];      /* owned: WHARF_CERT_NAME=..., WHARF_DOMAIN=..., NULL */
	double timeout;
	char what[600];
	acme_dns_done_cb cb;
	void *owner;        /* borrowed; NULL once forgotten (or for a remove) */
	struct dns_entry *next;
} dns_entry_t;

static dns_entry_t *head, *tail; /* owned: queued, not started */
static dns_entry_t *running;     /* owned: the one call under way */
static struct ev_loop *loop_of;  /* borrowed: the default loop */
static ev_timer kick;            /* starts the next call from the loop, never inside a caller */

static void entry_free(dns_entry_t *e)
{
	if (!e)
		return;
	for (size_t i = 0; e->argv && e->argv[i]; i++)
		free(e->argv[i]);
	free(e->argv);
	free(e->vars[0]);
	free(e->vars[1]);
	free(e);
}

static void on_kick(struct ev_loop *loop, ev_timer *t, int revents);

static void schedule(void)
{
	if (!running && head && !ev_is_active(&kick)) {
		ev_timer_set(&kick, 0, 0);
		ev_timer_start(loop_of, &kick);
	}
}

static void finish(dns_entry_t *e, acme_dns_result_t result)
{
	running = NULL;
	if (e->owner && e->cb)
		e->cb(e->owner, result);
	entry_free(e);
	schedule();
}

static void on_call_done(void *arg, bool ok)
{
	finish(arg, ok ? ACME_DNS_OK : ACME_DNS_FAILED);
}

static void on_kick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)t;
	(void)revents;
	if (running || !head)
		return;
	dns_entry_t *e = head;
	head = e->next;
	if (!head)
		tail = NULL;
	running = e;
	/* The action, name and value follow the hook's own arguments. */
	if (!acme_cmd_run(loop, e->argv, e->argc, e->argv + e->argc, e->vars, e->timeout, e->what, on_call_done, e))
		finish(e, ACME_DNS_NOT_RUN); /* logged */
}

static bool enqueue(struct ev_loop *loop, const acme_dns_call_t *c, const char *action, double timeout,
		    acme_dns_done_cb cb, void *owner)
{
	dns_entry_t *e = calloc(1, sizeof(*e));
	if (!e)
		return false;
	e->argc = c->nhook;
	e->argv = calloc(c->nhook + 4, sizeof(char *));
	bool ok = e->argv != NULL;
	for (size_t i = 0; ok && i < c->nhook; i++)
		ok = (e->argv[i] = strdup(c->hook[i])) != NULL;
	ok = ok && (e->argv[c->nhook] = strdup(action)) && (e->argv[c->nhook + 1] = strdup(c->name)) &&
	     (e->argv[c->nhook + 2] = strdup(c->value));
	if (ok && asprintf(&e->vars[0], "WHARF_CERT_NAME=%s", c->cert) < 0)
		ok = false, e->vars[0] = NULL; /* asprintf leaves it undefined on failure */
	if (ok && asprintf(&e->vars[1], "WHARF_DOMAIN=%s", c->domain) < 0)
		ok = false, e->vars[1] = NULL;
	if (!ok) {
		entry_free(e);
		return false;
	}
	e->timeout = timeout;
	snprintf(e->what, sizeof(e->what), "certificate %s: dns_hook %s %s", c->cert, action, c->name);
	e->cb = cb;
	e->owner = owner;
	if (!loop_of) {
		loop_of = loop;
		ev_timer_init(&kick, on_kick, 0, 0);
	}
	if (tail)
		tail->next = e;
	else
		head = e;
	tail = e;
	schedule();
	return true;
}

bool acme_dns_add(struct ev_loop *loop, const acme_dns_call_t *call, acme_dns_done_cb cb, void *owner)
{
	return enqueue(loop, call, "add", ACME_DNS_ADD_TIMEOUT, cb, owner);
}

void acme_dns_remove(struct ev_loop *loop, const acme_dns_call_t *call)
{
	if (!enqueue(loop, call, "remove", REMOVE_TIMEOUT, NULL, NULL))
		wf_log_error("certificate %s: out of memory: TXT record %s stays; remove it by hand", call->cert,
			     call->name);
}

bool acme_dns_forget(void *owner)
{
	/* An add not started yet is dropped: its order is over, and it would
	 * hold every other certificate's calls for up to ACME_DNS_ADD_TIMEOUT. */
	bool dropped = false;
	dns_entry_t **pp = &head, *last = NULL;
	while (*pp) {
		dns_entry_t *e = *pp;
		if (e->owner == owner && owner) {
			*pp = e->next;
			entry_free(e);
			dropped = true;
			continue;
		}
		last = e;
		pp = &e->next;
	}
	tail = last;
	if (running && running->owner == owner)
		running->owner = NULL;
	return dropped;
}

void acme_dns_abandon(void)
{
	for (dns_entry_t *e = head; e; e = e->next)
		wf_log_error("%s %s: not run, the server stopped first; remove that TXT record by hand",
			     e->what, e->argv[e->argc + 2]);
}

size_t acme_dns_pending(void)
{
	size_t n = running != NULL;
	for (dns_entry_t *e = head; e; e = e->next)
		n++;
	return n;
}
