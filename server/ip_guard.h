/* Per-client bookkeeping shared by every worker: how many HTTPS connections
 * and how many FTPS control connections each client holds (two counts, each
 * against limits.max_connections_per_ip), how many of its password checks
 * are under way, its folder listings being built and the memory its
 * listings hold (transfer/listing_budget.h), the files its HTTP transfers
 * hold open (transfer/file_budget.h), the passive listeners its FTPS
 * sessions hold in a port range (transfer/ftp_data.c), warnings logged
 * about it (at most one a minute of each kind), and its failed logins (FTPS
 * and HTTP alike) with the temporary ban they lead to. A client is an IPv4
 * address, or an IPv6 /64. Small tables behind one mutex, taken at
 * connect, disconnect, around password checks, per step of a listing
 * (thousands of entries) and per download or upload, never per byte.
 *
 * The table never fails open, and one attacker's ban stays its own. A
 * newcomer takes a free slot, or one whose client is idle, else the slot of
 * a client that has only failed logins within their window (the fewest
 * failures first); a slot with an open connection, a check under way or a
 * running ban is never given away. When all 4096 client slots are such
 * (one IPv6 /48 holds 65536 /64s: filling them is cheap), a client without
 * one is counted by its network, an IPv4 /24 or IPv6 /48, in a second table
 * of 1024 with the same limits and bans, and when that is full too by its
 * block, an IPv4 /16 or IPv6 /32, in a third of 256. So the attacker who
 * filled the table bans, and shares its connection limit and check share
 * with, the clients of its own network or block that found no slot, not
 * everyone else. Only when every level is full do the remaining clients
 * share one last entry, its limits and its ban (each level logged once a
 * minute): reaching it takes connections, checks or bans held at once from
 * 256 distinct /16s or /32s beyond the 4096 clients and 1024 networks, a
 * spread botnet rather than one allocation. A shared entry that counted
 * failures but never banned was the other way (a delay per attempt
 * instead): it would spare newcomers a lockout, but leave exactly the
 * attacker strong enough to reach it guessing at the pace of its check
 * share; a lockout of slotless newcomers while such an attack lasts is the
 * lesser harm. A client that took counts at a coarser level and later got
 * a slot of its own is counted at both until the older ones end: at most
 * its limit once per level, never without one. One exception: an HTTP
 * connection whose client reaches the shared entry is admitted uncounted.
 * Every HTTPS visitor holds a slot while connected, so a busy public
 * server (thousands of clients from as many networks) fills every level
 * with honest clients; a connection limit they all shared would refuse
 * them all, while logins (bans, check shares) stay counted there. */
#ifndef WF_IP_GUARD_H
#define WF_IP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#define WF_IPGUARD_CLIENT_MAX 64 /* any IPv6 text and "/64" fit */
#define WF_IPGUARD_WHO_MAX 128   /* wf_ipguard_failed_login's who */

/* The client an address counts as, for limits and logs: an IPv4 address as
 * it is, an IPv6 one as its /64 ("2001:db8:1:2::/64"). Every function below
 * takes a plain address and applies this itself. */
void wf_ipguard_client(const char *addr, char out[WF_IPGUARD_CLIENT_MAX]);

/* What a connection counts as. Each kind has its own count per client,
 * against the same limit: a browser's connections (six per host over
 * HTTP/1.1, per browser, and several browsers behind one NAT address) and
 * an FTP client's (a control connection per transfer: FileZilla runs up to
 * ten) must not take each other's room. Within a kind every service
 * counts together: a second HTTPS port must not double a client's share. */
typedef enum wf_guard_kind {
	WF_GUARD_FTPS,  /* FTPS control connections: refused during a ban (421) */
	WF_GUARD_HTTP,  /* HTTPS and acme-http (plain HTTP) connections: a ban
			 * refuses their logins (429), not them */
	WF_GUARD_KINDS,
} wf_guard_kind_t;

/* Warnings about a client that a flood could repeat, each logged at most
 * once a minute per client (wf_ipguard_note, and the refusals that say
 * so). */
typedef enum wf_guard_note {
	WF_GUARD_NOTE_PASSIVE,  /* a PASV/EPSV past the client's share of the passive port range */
	WF_GUARD_NOTE_NO_PORT,  /* a PASV/EPSV that found the passive port range full */
	WF_GUARD_NOTE_STRANGER, /* a connection to a passive port from another address than its session's */
	WF_GUARD_NOTES,
} wf_guard_note_t;

typedef enum wf_guard_verdict {
	WF_GUARD_OK,       /* admitted: call wf_ipguard_leave when the connection ends */
	WF_GUARD_BANNED,   /* too many failed logins lately (FTPS only) */
	WF_GUARD_TOO_MANY, /* max_conns reached */
} wf_guard_verdict_t;

/* Why a connection was refused, and whether to say so: a client that
 * floods connections past its limit is refused each time, but logged once
 * a minute, each logged line counting the refusals it stood for. */
typedef struct wf_guard_refusal {
	int ban_left;                     /* BANNED: seconds of ban left */
	bool log;                         /* log this refusal */
	unsigned unlogged;                /* with log: this entry's refusals not logged since its last line */
	char who[WF_IPGUARD_WHO_MAX];     /* what was at its limit, as wf_ipguard_failed_login's who */
	bool uncounted;                   /* OK, but nothing was counted: no wf_ipguard_leave */
} wf_guard_refusal_t;

/* addr is the textual address (wf_conn_t.peer_addr). Unless OK, *why says
 * why and whether to log it. Each OK is ended by one wf_ipguard_leave of
 * the same kind (never more: the counts are found again by address),
 * except an HTTP connection of a client no level of the table had room
 * for, which is admitted uncounted (why->uncounted). */
wf_guard_verdict_t wf_ipguard_enter(const char *addr, wf_guard_kind_t kind, int max_conns, time_t now,
				    wf_guard_refusal_t *why);
void wf_ipguard_leave(const char *addr, wf_guard_kind_t kind);
/* The reason of a logged refusal (v not OK), the same words for every
 * protocol: who, the limit or the ban, and how many went unlogged. */
void wf_ipguard_refusal_text(wf_guard_verdict_t v, wf_guard_kind_t kind, int max_conns, const wf_guard_refusal_t *why,
			     char *out, size_t size);
/* Connections of every kind counted now, in every entry: 0 once every
 * connection has ended (checked at shutdown: a connection that never left
 * shows here; one that left twice is logged as an error when it does). */
long wf_ipguard_conns_held(void);
/* Is addr banned now? *ban_left gets the seconds left. Counts nothing: for
 * protocols (HTTP) that refuse logins, not connections, during a ban. */
bool wf_ipguard_banned(const char *addr, time_t now, int *ban_left);
/* Counts a failed login. Failures older than window seconds are forgotten;
 * the max_failures-th within the window bans addr's client (or the network,
 * block or shared entry that counts it) for window seconds and returns true
 * (once, so the caller logs the ban once), with who (if not NULL) saying
 * what was banned, for that log line. */
bool wf_ipguard_failed_login(const char *addr, int max_failures, int window, time_t now, char who[WF_IPGUARD_WHO_MAX]);
/* A password check for addr begins: false when addr already has max_checks
 * under way (one client must not take every slot of the offload pool).
 * Each true is ended by one check_end. */
bool wf_ipguard_check_begin(const char *addr, int max_checks, time_t now);
void wf_ipguard_check_end(const char *addr);
/* A folder listing for addr begins to be built: false when addr has
 * max_listings being built already (transfer/listing_budget.h). Each true
 * is ended by one listing_end. */
bool wf_ipguard_listing_begin(const char *addr, int max_listings, time_t now);
void wf_ipguard_listing_end(const char *addr);
/* addr's listings hold n more bytes: false (nothing counted) when that
 * would pass max. Each true is given back, in as many pieces as wanted,
 * by bytes_give. */
bool wf_ipguard_listing_bytes_take(const char *addr, size_t n, size_t max, time_t now);
void wf_ipguard_listing_bytes_give(const char *addr, size_t n);
/* addr's HTTP transfers hold n more open files (transfer/file_budget.h):
 * false (nothing counted) when that would pass max, and then *why says
 * who was at the limit and whether to log it: the first refusal, then at
 * most one a minute per client, each with the count of those not logged
 * (a client whose refusal was logged keeps its slot for that minute while
 * free ones are left). Each true is given back by one files_give of n,
 * except one with why->uncounted: a client no level had room for, whose
 * files count only against the process-wide budget, as its HTTP
 * connections are admitted uncounted. */
bool wf_ipguard_files_take(const char *addr, int n, int max, time_t now, wf_guard_refusal_t *why);
void wf_ipguard_files_give(const char *addr, int n);
/* addr's FTPS sessions hold one more passive listener in a service's port
 * range (transfer/ftp_data.c): false (nothing counted) when they hold max
 * already, and then *why says who holds them and whether to log it (the
 * first refusal, then at most one a minute per client, each with the count
 * of those not logged). Each true is given back by one passive_give once
 * the listener is closed. */
/* A warning of kind note about addr's client is due: true for the first,
 * then at most once a minute per client and kind, with why->who and
 * why->unlogged (those not logged since the last such line). A client a
 * warning was logged about keeps its entry for that minute while free
 * ones are left. */
bool wf_ipguard_note(const char *addr, wf_guard_note_t note, time_t now, wf_guard_refusal_t *why);
bool wf_ipguard_passive_take(const char *addr, int max, time_t now, wf_guard_refusal_t *why);
void wf_ipguard_passive_give(const char *addr);

#endif
