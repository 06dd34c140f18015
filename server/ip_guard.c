/* Per-address limits: see ip_guard.h. */
#include "ip_guard.h"
#include "log.h"

#include <arpa/inet.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#define GUARD_SLOTS 4096

typedef struct guard_entry {
	char addr[WF_IPGUARD_CLIENT_MAX]; /* the client (wf_ipguard_client); "" = free */
	int conns;
	int checks; /* password checks under way */
	int fails;
	time_t first_fail;
	time_t fails_until; /* the failures are forgotten from then on */
	time_t ban_until;
} guard_entry_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static guard_entry_t table[GUARD_SLOTS];
/* Every client the table has no room for (each slot holds a connection, a
 * check or a ban): they count here together, so the limits and bans hold for
 * them as for one client. Never matched by name (addr stays ""). */
static guard_entry_t overflow;
static time_t overflow_logged; /* when its use was last logged */
/* When the last ban ends: until a ban exists, asking whether a client is
 * banned (every HTTP request with credentials) costs one atomic load. */
static _Atomic time_t bans_end;

static bool idle(const guard_entry_t *e, time_t now)
{
	/* Failures count only within their window: an address that failed
	 * once frees its slot when the window ends, so a spread of addresses
	 * failing once each cannot fill the table for long. */
	return e->conns == 0 && e->checks == 0 && e->ban_until <= now && (e->fails == 0 || e->fails_until <= now);
}

/* An entry that holds only failures within their window: it may give its
 * slot up. Forgetting a few failures of one client costs less than leaving
 * a newcomer uncounted; an open connection or check (whose end must find
 * its count) or a running ban never gives way. */
static bool failing_only(const guard_entry_t *e, time_t now)
{
	return e->conns == 0 && e->checks == 0 && e->ban_until <= now;
}

/* Of two entries that may give way, is a the better one to lose? The one
 * with fewer failures (one client's few failures are the least to forget,
 * and a flood of single failures from fresh addresses only displaces its
 * own kind), then the one whose failures began earlier. */
static bool better_victim(const guard_entry_t *a, const guard_entry_t *b)
{
	return !b || a->fails < b->fails || (a->fails == b->fails && a->first_fail < b->first_fail);
}

void wf_ipguard_client(const char *addr, char out[WF_IPGUARD_CLIENT_MAX])
{
	struct in6_addr a;
	if (!strchr(addr, ':') || inet_pton(AF_INET6, addr, &a) != 1) {
		snprintf(out, WF_IPGUARD_CLIENT_MAX, "%s", addr);
		return;
	}
	/* One host picks any address of its /64 at will (privacy addresses),
	 * so a smaller unit limits nothing; ISPs give at least a /64 a site. */
	memset(&a.s6_addr[8], 0, 8);
	char text[INET6_ADDRSTRLEN];
	inet_ntop(AF_INET6, &a, text, sizeof(text));
	snprintf(out, WF_IPGUARD_CLIENT_MAX, "%s/64", text);
}

/* The entry that counts addr's client: its own; else, with create, a free
 * or idle slot, else the slot of a client that only failed
 * (better_victim); else the shared overflow entry. Without create, where
 * the client would be counted now: its own entry, NULL when it would get a
 * fresh one, or the overflow when the table has no room. Never NULL with
 * create. A linear scan: 4096 short entries cost about a microsecond per
 * connect. */
static guard_entry_t *find(const char *addr, time_t now, bool create)
{
	char key[WF_IPGUARD_CLIENT_MAX];
	wf_ipguard_client(addr, key);
	guard_entry_t *spare = NULL, *victim = NULL;
	for (int i = 0; i < GUARD_SLOTS; i++) {
		guard_entry_t *e = &table[i];
		if (e->addr[0] && strcmp(e->addr, key) == 0)
			return e;
		if (!spare && (!e->addr[0] || idle(e, now)))
			spare = e;
		else if (!spare && failing_only(e, now) && better_victim(e, victim))
			victim = e;
	}
	guard_entry_t *e = spare ? spare : victim;
	if (!create)
		return e ? NULL : &overflow;
	if (!e) {
		if (now - overflow_logged >= 60) {
			overflow_logged = now;
			wf_log_warn("ip guard: all %d client slots hold connections, checks or bans; clients without "
				    "one (%s first) share one slot, and its limits and ban, until slots free up",
				    GUARD_SLOTS, key);
		}
		return &overflow;
	}
	memset(e, 0, sizeof(*e));
	snprintf(e->addr, sizeof(e->addr), "%s", key);
	return e;
}

/* Counts one more connection or check for addr's client, unless it is at
 * max (or, for a connection, banned). */
static wf_guard_verdict_t take(const char *addr, time_t now, bool conn, int max, int *ban_left)
{
	wf_guard_verdict_t v = WF_GUARD_OK;
	pthread_mutex_lock(&lock);
	guard_entry_t *e = find(addr, now, true);
	int *count = conn ? &e->conns : &e->checks;
	if (conn && e->ban_until > now) {
		*ban_left = (int)(e->ban_until - now);
		v = WF_GUARD_BANNED;
	} else if (*count >= max) {
		v = WF_GUARD_TOO_MANY;
	} else {
		(*count)++;
	}
	pthread_mutex_unlock(&lock);
	return v;
}

/* Ends what take counted. The client's own entry when it holds a count: an
 * entry with a count is never given away, so a count taken there is still
 * there. Else the count was taken in the overflow (the client got its own
 * entry only later, or never). Calls are paired with take, so the totals
 * stay exact. */
static void give_back(const char *addr, bool conn)
{
	pthread_mutex_lock(&lock);
	char key[WF_IPGUARD_CLIENT_MAX];
	wf_ipguard_client(addr, key);
	guard_entry_t *e = NULL;
	for (int i = 0; i < GUARD_SLOTS && !e; i++)
		if (table[i].addr[0] && strcmp(table[i].addr, key) == 0)
			e = &table[i];
	int *count = e ? (conn ? &e->conns : &e->checks) : NULL;
	if (!count || *count == 0)
		count = conn ? &overflow.conns : &overflow.checks;
	if (*count > 0)
		(*count)--;
	pthread_mutex_unlock(&lock);
}

wf_guard_verdict_t wf_ipguard_enter(const char *addr, int max_conns, time_t now, int *ban_left)
{
	return take(addr, now, true, max_conns, ban_left);
}

void wf_ipguard_leave(const char *addr)
{
	give_back(addr, true);
}

bool wf_ipguard_banned(const char *addr, time_t now, int *ban_left)
{
	bool banned = false;
	if (now >= atomic_load_explicit(&bans_end, memory_order_relaxed))
		return false;
	pthread_mutex_lock(&lock);
	guard_entry_t *e = find(addr, now, false);
	if (e && e->ban_until > now) {
		*ban_left = (int)(e->ban_until - now);
		banned = true;
	}
	pthread_mutex_unlock(&lock);
	return banned;
}

bool wf_ipguard_failed_login(const char *addr, int max_failures, int window, time_t now)
{
	bool banned = false;
	pthread_mutex_lock(&lock);
	guard_entry_t *e = find(addr, now, true);
	if (e->fails == 0 || e->first_fail + window <= now) {
		e->fails = 0;
		e->first_fail = now;
		e->fails_until = now + window;
	}
	if (++e->fails >= max_failures && e->ban_until <= now) {
		e->ban_until = now + window + 1; /* whole seconds: never shorter than window */
		if (atomic_load(&bans_end) < e->ban_until) /* under the lock: no other writer */
			atomic_store(&bans_end, e->ban_until);
		e->fails = 0;
		banned = true;
	}
	pthread_mutex_unlock(&lock);
	return banned;
}

bool wf_ipguard_check_begin(const char *addr, int max_checks, time_t now)
{
	return take(addr, now, false, max_checks, NULL) == WF_GUARD_OK;
}

void wf_ipguard_check_end(const char *addr)
{
	give_back(addr, false);
}
