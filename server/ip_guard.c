/* Per-client limits: see ip_guard.h. */
#include "ip_guard.h"
#include "log.h"

#include <arpa/inet.h>
#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct guard_entry {
	char addr[WF_IPGUARD_CLIENT_MAX]; /* what it counts (its level's key); "" = free */
	long conns[WF_GUARD_KINDS];       /* open connections, by wf_guard_kind_t */
	long checks;                      /* password checks under way */
	long listings;                    /* folder listings being built */
	long listing_bytes;               /* memory its folder listings hold */
	long files;                       /* descriptors its HTTP transfers hold (transfer/file_budget.h) */
	long passive;                     /* passive FTPS listeners it holds in a port range (transfer/ftp_data.c) */
	time_t refused_logged;            /* when a refusal of its connections was last logged */
	unsigned refused_unlogged;        /* refusals since, not logged */
	time_t files_logged;              /* when a refusal of its files was last logged */
	unsigned files_unlogged;          /* refusals since, not logged */
	time_t noted[WF_GUARD_NOTES];     /* when a warning of each kind about it was last logged */
	unsigned unnoted[WF_GUARD_NOTES]; /* such warnings since, not logged */
	int fails;
	time_t first_fail;
	time_t fails_until; /* the failures are forgotten from then on */
	time_t ban_until;
} guard_entry_t;

/* One level of the table: clients are keyed by the prefix of v4_bits or
 * v6_bits of their address. A client is counted at the first level, finest
 * first, that has its entry or room for one. */
typedef struct guard_level {
	const char *unit; /* what an entry counts, for the log */
	int v4_bits, v6_bits;
	int nslots;
	guard_entry_t *slots;
	time_t full_logged; /* when a client last found no room here and it was logged */
} guard_level_t;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static guard_entry_t clients[4096], networks[1024], blocks[256];
static guard_level_t levels[] = {
	{ "client", 32, 64, 4096, clients, 0 },
	{ "network (IPv4 /24, IPv6 /48)", 24, 48, 1024, networks, 0 },
	{ "block (IPv4 /16, IPv6 /32)", 16, 32, 256, blocks, 0 },
};
#define NLEVELS (sizeof(levels) / sizeof(levels[0]))
/* Every client no level has room for: they count here together, so the
 * limits and bans hold for them as for one client. Never matched by name
 * (addr stays ""). */
static guard_entry_t shared;
/* When the last ban ends: until a ban exists, asking whether a client is
 * banned (every HTTP request with credentials) costs one atomic load. */
static _Atomic time_t bans_end;

/* Whether e counts something that will be given back: such an entry is
 * never given away, so the give-back finds its count again. */
static bool holds_counts(const guard_entry_t *e)
{
	for (int k = 0; k < WF_GUARD_KINDS; k++)
		if (e->conns[k])
			return true;
	return e->checks || e->listings || e->listing_bytes || e->files || e->passive;
}

/* Was a warning about e logged within the minute? */
static bool noted_lately(const guard_entry_t *e, time_t now)
{
	for (int n = 0; n < WF_GUARD_NOTES; n++)
		if (e->noted[n] && now - e->noted[n] < 60)
			return true;
	return false;
}

static bool idle(const guard_entry_t *e, time_t now)
{
	/* Failures count only within their window: an address that failed
	 * once frees its slot when the window ends, so a spread of addresses
	 * failing once each cannot fill the table for long. A client whose
	 * files were refused and logged within the minute keeps its slot
	 * while free ones are left (it may still give way as one that only
	 * failed does), so that letting its files go and taking them again
	 * does not log a line each time; so does one a warning was logged
	 * about (wf_ipguard_note). */
	return !holds_counts(e) && e->ban_until <= now && (e->fails == 0 || e->fails_until <= now) &&
	       (e->files_logged == 0 || now - e->files_logged >= 60) && !noted_lately(e, now);
}

/* An entry that holds only failures within their window: it may give its
 * slot up. Forgetting a few failures of one client costs less than moving
 * a newcomer to a coarser level; an open connection or check (whose end
 * must find its count) or a running ban never gives way. */
static bool failing_only(const guard_entry_t *e, time_t now)
{
	return !holds_counts(e) && e->ban_until <= now;
}

/* Of two entries that may give way, is a the better one to lose? The one
 * with fewer failures (one client's few failures are the least to forget,
 * and a flood of single failures from fresh addresses only displaces its
 * own kind), then the one whose failures began earlier. */
static bool better_victim(const guard_entry_t *a, const guard_entry_t *b)
{
	return !b || a->fails < b->fails || (a->fails == b->fails && a->first_fail < b->first_fail);
}

/* addr's prefix of v4_bits or v6_bits, as "net/bits"; a whole IPv4 address
 * as it is; text that is not a plain address, kept whole. */
static void prefix_key(const char *addr, int v4_bits, int v6_bits, char out[WF_IPGUARD_CLIENT_MAX])
{
	unsigned char a[16];
	bool v6 = strchr(addr, ':') != NULL;
	int bits = v6 ? v6_bits : v4_bits, len = v6 ? 16 : 4;
	if (bits >= len * 8 || inet_pton(v6 ? AF_INET6 : AF_INET, addr, a) != 1) {
		snprintf(out, WF_IPGUARD_CLIENT_MAX, "%s", addr);
		return;
	}
	for (int i = bits / 8; i < len; i++)
		a[i] = i == bits / 8 ? a[i] & (unsigned char)(0xff00 >> (bits % 8)) : 0;
	char text[INET6_ADDRSTRLEN];
	inet_ntop(v6 ? AF_INET6 : AF_INET, a, text, sizeof(text));
	snprintf(out, WF_IPGUARD_CLIENT_MAX, "%s/%d", text, bits);
}

void wf_ipguard_client(const char *addr, char out[WF_IPGUARD_CLIENT_MAX])
{
	/* One host picks any address of its /64 at will (privacy addresses),
	 * so a smaller unit limits nothing; ISPs give at least a /64 a site. */
	prefix_key(addr, 32, 64, out);
}

static void log_full(guard_level_t *lv, const char *key, time_t now)
{
	if (now - lv->full_logged < 60)
		return;
	lv->full_logged = now;
	if (lv + 1 < levels + NLEVELS)
		wf_log_warn("ip guard: all %d %s slots hold connections, checks or bans; clients without one (%s "
			    "first) count by their %s, with its limits and ban, until slots free up",
			    lv->nslots, lv->unit, key, lv[1].unit);
	else
		wf_log_warn("ip guard: all %d %s slots hold connections, checks or bans too; clients without one (%s "
			    "first) share one entry, and its limits and ban, until slots free up",
			    lv->nslots, lv->unit, key);
}

/* The entry that counts addr's client: at each level, finest first, its own
 * entry there; else, with create, a free or idle slot, else the slot of an
 * entry that only failed (better_victim); a level without either sends it
 * on to the next; past the last, the shared entry. Without create, where
 * the client would be counted now: its entry, NULL when it would get a
 * fresh one, or the shared entry. Never NULL with create. A linear scan:
 * 4096 short entries cost about a microsecond per connect, and the coarser
 * levels are looked at only while the finer ones are full. */
static guard_entry_t *find(const char *addr, time_t now, bool create)
{
	for (guard_level_t *lv = levels; lv < levels + NLEVELS; lv++) {
		char key[WF_IPGUARD_CLIENT_MAX];
		prefix_key(addr, lv->v4_bits, lv->v6_bits, key);
		guard_entry_t *spare = NULL, *victim = NULL;
		for (int i = 0; i < lv->nslots; i++) {
			guard_entry_t *e = &lv->slots[i];
			if (e->addr[0] && strcmp(e->addr, key) == 0)
				return e;
			if (!spare && (!e->addr[0] || idle(e, now)))
				spare = e;
			else if (!spare && failing_only(e, now) && better_victim(e, victim))
				victim = e;
		}
		guard_entry_t *e = spare ? spare : victim;
		if (e) {
			if (!create)
				return NULL;
			memset(e, 0, sizeof(*e));
			snprintf(e->addr, sizeof(e->addr), "%s", key);
			return e;
		}
		if (create)
			log_full(lv, key, now);
	}
	return &shared;
}

/* What take and give_back count: a kind of connection, a check, a
 * listing being built, or the bytes listings hold. */
#define COUNT_CHECK WF_GUARD_KINDS
#define COUNT_LISTING (WF_GUARD_KINDS + 1)
#define COUNT_LISTING_BYTES (WF_GUARD_KINDS + 2)
#define COUNT_FILES (WF_GUARD_KINDS + 3)
#define COUNT_PASSIVE (WF_GUARD_KINDS + 4)

static const char *const counted_name[] = {
	[WF_GUARD_FTPS] = "an FTPS connection",
	[WF_GUARD_HTTP] = "an HTTP connection",
	[COUNT_CHECK] = "a password check",
	[COUNT_LISTING] = "a folder listing",
	[COUNT_LISTING_BYTES] = "folder listing memory",
	[COUNT_FILES] = "an HTTP transfer's open file",
	[COUNT_PASSIVE] = "an FTPS passive listener",
};

static long *counter(guard_entry_t *e, int what)
{
	switch (what) {
	case COUNT_CHECK: return &e->checks;
	case COUNT_LISTING: return &e->listings;
	case COUNT_LISTING_BYTES: return &e->listing_bytes;
	case COUNT_FILES: return &e->files;
	case COUNT_PASSIVE: return &e->passive;
	default: return &e->conns[what];
	}
}

/* What e counts, for a log line. */
static void describe(const guard_entry_t *e, char who[WF_IPGUARD_WHO_MAX])
{
	if (e == &shared)
		snprintf(who, WF_IPGUARD_WHO_MAX, "every client without a slot of its own (the table is full)");
	else if (e >= clients && e < clients + sizeof(clients) / sizeof(clients[0]))
		snprintf(who, WF_IPGUARD_WHO_MAX, "%s", e->addr);
	else
		snprintf(who, WF_IPGUARD_WHO_MAX, "%s (its clients without a slot of their own)", e->addr);
}

/* Whether a line is due on the minute of *logged: the first, then one a
 * minute, each saying how many went unlogged before it. */
static void minute(time_t *logged, unsigned *unlogged, time_t now, wf_guard_refusal_t *why)
{
	why->log = *logged == 0 || now - *logged >= 60;
	if (why->log) {
		why->unlogged = *unlogged;
		*unlogged = 0;
		*logged = now;
	} else {
		(*unlogged)++;
	}
}

/* A refused connection of e: logged at once the first time, then at most
 * once a minute, each line saying how many went unlogged before it. A
 * flood of connections past the limit costs a line a minute per entry it
 * hits. An entry that refuses holds connections or a ban, so it is never
 * given away meanwhile, nor are its counts of refusals. */
static void refusal(guard_entry_t *e, int what, time_t now, wf_guard_refusal_t *why)
{
	/* Files and passive listeners have their own minutes: a client
	 * refused both is told of both. */
	time_t *logged = &e->refused_logged;
	unsigned *unlogged = &e->refused_unlogged;
	if (what == COUNT_FILES) {
		logged = &e->files_logged;
		unlogged = &e->files_unlogged;
	} else if (what == COUNT_PASSIVE) {
		logged = &e->noted[WF_GUARD_NOTE_PASSIVE];
		unlogged = &e->unnoted[WF_GUARD_NOTE_PASSIVE];
	}
	minute(logged, unlogged, now, why);
	describe(e, why->who);
}

/* Counts n more of what for addr's client (a connection of a kind, a
 * check, ...), unless that would pass max (or, for an FTPS connection,
 * it is banned). */
static wf_guard_verdict_t take(const char *addr, time_t now, int what, long n, long max, wf_guard_refusal_t *why)
{
	wf_guard_verdict_t v = WF_GUARD_OK;
	pthread_mutex_lock(&lock);
	guard_entry_t *e = find(addr, now, true);
	long *count = counter(e, what);
	if (what == WF_GUARD_FTPS && e->ban_until > now) {
		if (why)
			why->ban_left = (int)(e->ban_until - now);
		v = WF_GUARD_BANNED;
	} else if (e == &shared && (what == WF_GUARD_HTTP || what == COUNT_FILES)) {
		/* Every level is full: thousands of clients hold HTTP
		 * connections at once. A limit they all shared would refuse
		 * them all for the crowd, while an attacker spread that wide
		 * is not one client anyway: admitted, not counted (their
		 * files still count against the process-wide budget). */
		if (why)
			why->uncounted = true;
	} else if (*count > max - n) {
		v = WF_GUARD_TOO_MANY;
	} else {
		*count += n;
	}
	if (v != WF_GUARD_OK && why)
		refusal(e, what, now, why);
	pthread_mutex_unlock(&lock);
	return v;
}

/* Ends n of what take counted: in the finest of addr's entries that holds
 * such a count, then the coarser ones, else in the shared entry. An entry
 * with a count is never given away, so a count taken there is still there;
 * a client that took counts at a coarser level and got its own entry later
 * gives back the finer ones first (bytes taken at two levels come back
 * from both). Calls are paired with take, so the totals stay exact; one
 * with nothing to give back is a bug of its caller (a connection that left
 * twice), logged, and the count stays at zero rather than below it. */
static void give_back(const char *addr, int what, long n)
{
	bool unmatched = false;
	pthread_mutex_lock(&lock);
	for (guard_level_t *lv = levels; lv < levels + NLEVELS && n > 0; lv++) {
		char key[WF_IPGUARD_CLIENT_MAX];
		prefix_key(addr, lv->v4_bits, lv->v6_bits, key);
		for (int i = 0; i < lv->nslots; i++) {
			guard_entry_t *e = &lv->slots[i];
			if (e->addr[0] && strcmp(e->addr, key) == 0) {
				long *count = counter(e, what), d = *count < n ? *count : n;
				*count -= d;
				n -= d;
				break;
			}
		}
	}
	if (n > 0) {
		long *count = counter(&shared, what), d = *count < n ? *count : n;
		*count -= d;
		unmatched = d < n;
	}
	pthread_mutex_unlock(&lock);
	if (unmatched)
		wf_log_error("ip guard: %s of %s ended that was never counted (a bug)", counted_name[what], addr);
}

wf_guard_verdict_t wf_ipguard_enter(const char *addr, wf_guard_kind_t kind, int max_conns, time_t now,
				    wf_guard_refusal_t *why)
{
	if ((unsigned)kind >= WF_GUARD_KINDS)
		abort(); /* a bug: no such count */
	return take(addr, now, kind, 1, max_conns, why);
}

void wf_ipguard_leave(const char *addr, wf_guard_kind_t kind)
{
	if ((unsigned)kind >= WF_GUARD_KINDS)
		abort();
	give_back(addr, kind, 1);
}

void wf_ipguard_refusal_text(wf_guard_verdict_t v, wf_guard_kind_t kind, int max_conns, const wf_guard_refusal_t *why,
			     char *out, size_t size)
{
	char more[96];
	if (why->unlogged)
		snprintf(more, sizeof(more), "; %u more since the last such line were not logged", why->unlogged);
	else
		snprintf(more, sizeof(more), "; more within a minute are not logged");
	if (v == WF_GUARD_BANNED)
		snprintf(out, size, "%s is banned for failed logins (%d s left)%s", why->who, why->ban_left, more);
	else
		snprintf(out, size, "%s holds max_connections_per_ip (%d) %s already%s", why->who, max_conns,
			 kind == WF_GUARD_HTTP ? "HTTP connections (HTTPS and acme-http)" : "FTPS control connections", more);
}

long wf_ipguard_conns_held(void)
{
	long n = 0;
	pthread_mutex_lock(&lock);
	for (guard_level_t *lv = levels; lv < levels + NLEVELS; lv++)
		for (int i = 0; i < lv->nslots; i++)
			for (int k = 0; k < WF_GUARD_KINDS; k++)
				n += lv->slots[i].conns[k];
	for (int k = 0; k < WF_GUARD_KINDS; k++)
		n += shared.conns[k];
	pthread_mutex_unlock(&lock);
	return n;
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

bool wf_ipguard_failed_login(const char *addr, int max_failures, int window, time_t now, char who[WF_IPGUARD_WHO_MAX])
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
		if (who)
			describe(e, who);
	}
	pthread_mutex_unlock(&lock);
	return banned;
}

bool wf_ipguard_check_begin(const char *addr, int max_checks, time_t now)
{
	return take(addr, now, COUNT_CHECK, 1, max_checks, NULL) == WF_GUARD_OK;
}

void wf_ipguard_check_end(const char *addr)
{
	give_back(addr, COUNT_CHECK, 1);
}

bool wf_ipguard_listing_begin(const char *addr, int max_listings, time_t now)
{
	return take(addr, now, COUNT_LISTING, 1, max_listings, NULL) == WF_GUARD_OK;
}

void wf_ipguard_listing_end(const char *addr)
{
	give_back(addr, COUNT_LISTING, 1);
}

bool wf_ipguard_listing_bytes_take(const char *addr, size_t n, size_t max, time_t now)
{
	if (n > (size_t)LONG_MAX / 2 || max > (size_t)LONG_MAX / 2)
		return false;
	return n == 0 || take(addr, now, COUNT_LISTING_BYTES, (long)n, (long)max, NULL) == WF_GUARD_OK;
}

void wf_ipguard_listing_bytes_give(const char *addr, size_t n)
{
	if (n)
		give_back(addr, COUNT_LISTING_BYTES, (long)n);
}

bool wf_ipguard_files_take(const char *addr, int n, int max, time_t now, wf_guard_refusal_t *why)
{
	if (n <= 0 || max < 0)
		abort(); /* a bug: nothing to count, or no limit */
	memset(why, 0, sizeof(*why));
	return take(addr, now, COUNT_FILES, n, max, why) == WF_GUARD_OK;
}

void wf_ipguard_files_give(const char *addr, int n)
{
	if (n > 0)
		give_back(addr, COUNT_FILES, n);
}

bool wf_ipguard_passive_take(const char *addr, int max, time_t now, wf_guard_refusal_t *why)
{
	if (max < 1)
		abort(); /* a bug: a share that admits no one */
	memset(why, 0, sizeof(*why));
	return take(addr, now, COUNT_PASSIVE, 1, max, why) == WF_GUARD_OK;
}

void wf_ipguard_passive_give(const char *addr)
{
	give_back(addr, COUNT_PASSIVE, 1);
}

bool wf_ipguard_note(const char *addr, wf_guard_note_t note, time_t now, wf_guard_refusal_t *why)
{
	if ((unsigned)note >= WF_GUARD_NOTES)
		abort(); /* a bug: no such warning */
	memset(why, 0, sizeof(*why));
	pthread_mutex_lock(&lock);
	guard_entry_t *e = find(addr, now, true);
	minute(&e->noted[note], &e->unnoted[note], now, why);
	describe(e, why->who);
	pthread_mutex_unlock(&lock);
	return why->log;
}
