/* Per-address limits: connection counts, failed-login bans and their expiry. */
#include "check.h"
#include "server/ip_guard.h"

#include <stdio.h>
#include <string.h>

/* The tests of one kind's limit and of bans count FTPS connections, which
 * a ban refuses; *left gets the ban's seconds left. */
static wf_guard_verdict_t ftps_enter(const char *addr, int max, time_t now, int *left)
{
	wf_guard_refusal_t why = { 0 };
	wf_guard_verdict_t v = wf_ipguard_enter(addr, WF_GUARD_FTPS, max, now, &why);
	if (v == WF_GUARD_BANNED)
		*left = why.ban_left;
	return v;
}

static void ftps_leave(const char *addr)
{
	wf_ipguard_leave(addr, WF_GUARD_FTPS);
}

static void test_connection_limit(void)
{
	int left = -1;
	CHECK_EQ_INT(ftps_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(ftps_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(ftps_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_TOO_MANY);
	/* Another address has its own count. */
	CHECK_EQ_INT(ftps_enter("192.0.2.2", 2, 1000, &left), WF_GUARD_OK);
	ftps_leave("192.0.2.1");
	CHECK_EQ_INT(ftps_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_OK);
	ftps_leave("192.0.2.1");
	ftps_leave("192.0.2.1");
	ftps_leave("192.0.2.2");
	/* Leaving more often than entering (a bug, logged) never goes below zero. */
	ftps_leave("192.0.2.1");
	CHECK_EQ_INT(ftps_enter("192.0.2.1", 1, 1000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(ftps_enter("192.0.2.1", 1, 1000, &left), WF_GUARD_TOO_MANY);
	ftps_leave("192.0.2.1");
}

static void test_ban(void)
{
	int left = -1;
	const char *a = "2001:db8::7";
	CHECK(!wf_ipguard_failed_login(a, 3, 60, 2000, NULL));
	CHECK(!wf_ipguard_failed_login(a, 3, 60, 2001, NULL));
	char who[WF_IPGUARD_WHO_MAX] = "";
	CHECK(wf_ipguard_failed_login(a, 3, 60, 2002, who)); /* the third bans, once */
	CHECK_EQ_STR(who, "2001:db8::/64");
	CHECK_EQ_INT(ftps_enter(a, 10, 2010, &left), WF_GUARD_BANNED);
	CHECK_EQ_INT(left, 53);
	CHECK(!wf_ipguard_failed_login(a, 3, 60, 2011, NULL)); /* banned already: no second ban line */
	CHECK_EQ_INT(ftps_enter(a, 10, 2062, &left), WF_GUARD_BANNED); /* rounded up: at least 60 s */
	CHECK_EQ_INT(ftps_enter(a, 10, 2063, &left), WF_GUARD_OK);     /* the ban is over */
	ftps_leave(a);
	/* Failures further apart than the window never add up to a ban. */
	const char *b = "198.51.100.9";
	CHECK(!wf_ipguard_failed_login(b, 2, 10, 3000, NULL));
	CHECK(!wf_ipguard_failed_login(b, 2, 10, 3011, NULL));
	CHECK(wf_ipguard_failed_login(b, 2, 10, 3012, NULL));
}

static void test_checks(void)
{
	const char *a = "203.0.113.5";
	CHECK(wf_ipguard_check_begin(a, 2, 4000));
	CHECK(wf_ipguard_check_begin(a, 2, 4000));
	CHECK(!wf_ipguard_check_begin(a, 2, 4000)); /* its share is taken */
	CHECK(wf_ipguard_check_begin("203.0.113.6", 2, 4000)); /* another address is not held up */
	wf_ipguard_check_end(a);
	CHECK(wf_ipguard_check_begin(a, 2, 4000));
	wf_ipguard_check_end(a);
	wf_ipguard_check_end(a);
	wf_ipguard_check_end("203.0.113.6");
	int left = -1;
	CHECK(!wf_ipguard_banned(a, 4000, &left));
}

/* An address that failed once holds its slot only for the failure's window,
 * and within it gives the slot up to a newcomer: 4096 addresses failing once
 * each cannot keep the table full, which would leave every later address
 * unbanned and the connection limit open. */
static void test_failures_free_their_slot(void)
{
	char addr[48];
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "10.1.%d.%d", i / 256, i % 256);
		wf_ipguard_failed_login(addr, 5, 30, 5000, NULL);
	}
	/* One of them fails three times more: it has the most to lose. */
	for (int i = 0; i < 3; i++)
		CHECK(!wf_ipguard_failed_login("10.1.0.0", 5, 30, 5001, NULL));
	/* Within the window the table is full: a newcomer takes the slot of a
	 * client that failed once, and its ban works at once. */
	CHECK(wf_ipguard_failed_login("10.9.9.9", 1, 30, 5010, NULL));
	int left = -1;
	CHECK(wf_ipguard_banned("10.9.9.9", 5011, &left));
	CHECK_EQ_INT(ftps_enter("10.9.9.9", 10, 5011, &left), WF_GUARD_BANNED);
	/* The client with four failures kept its count: the fifth bans it. */
	CHECK(wf_ipguard_failed_login("10.1.0.0", 5, 30, 5012, NULL));
	/* Past the window every slot is free again. */
	CHECK(wf_ipguard_failed_login("10.9.9.8", 1, 30, 5031, NULL));
	CHECK(wf_ipguard_banned("10.9.9.8", 5032, &left));
}

/* Every slot of every level held by a client that may not be forgotten (a
 * connection open, a ban running): a newcomer finds no slot of its own, nor
 * of its network (/24, /48) or its block (/16, /32). It is still counted, in
 * the last entry shared by every such client, so limits and bans never fail
 * open (but for HTTP connections, admitted uncounted there). Before that, a
 * ban at the block level stays the block's own. */
static void test_full_table_never_fails_open(void)
{
	char addr[64];
	int left = -1;
	/* 4096 /64s, each holding a connection: the client level is full. */
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i / 256, i % 256);
		CHECK_EQ_INT(ftps_enter(addr, 10, 8000, &left), WF_GUARD_OK);
	}
	/* 1024 IPv4 /24s, each holding a connection: the network level is full. */
	for (int i = 0; i < 1024; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		CHECK_EQ_INT(ftps_enter(addr, 10, 8000, &left), WF_GUARD_OK);
	}
	/* A newcomer counts by its /16: its failures ban that block alone. */
	CHECK(!wf_ipguard_failed_login("10.200.0.1", 3, 300, 8001, NULL));
	CHECK(!wf_ipguard_failed_login("10.200.7.2", 3, 300, 8001, NULL));
	CHECK(wf_ipguard_failed_login("10.200.9.3", 3, 300, 8001, NULL));
	CHECK(wf_ipguard_banned("10.200.1.1", 8002, &left));
	CHECK_EQ_INT(ftps_enter("10.200.1.1", 10, 8002, &left), WF_GUARD_BANNED);
	CHECK(!wf_ipguard_banned("10.201.0.1", 8002, &left));
	/* 255 more /32s, each holding a connection: the block level is full. */
	for (int i = 0; i < 255; i++) {
		snprintf(addr, sizeof(addr), "2a00:%x::1", i);
		CHECK_EQ_INT(ftps_enter(addr, 10, 8002, &left), WF_GUARD_OK);
	}
	const char *n1 = "2a01::1", *n2 = "198.18.0.1";
	/* The connection limit holds for a newcomer. */
	CHECK_EQ_INT(ftps_enter(n1, 2, 8003, &left), WF_GUARD_OK);
	CHECK_EQ_INT(ftps_enter(n1, 2, 8003, &left), WF_GUARD_OK);
	CHECK_EQ_INT(ftps_enter(n1, 2, 8003, &left), WF_GUARD_TOO_MANY);
	CHECK_EQ_INT(ftps_enter(n2, 2, 8003, &left), WF_GUARD_TOO_MANY); /* shared: n2 is counted with n1 */
	ftps_leave(n1);
	ftps_leave(n1);
	CHECK_EQ_INT(ftps_enter(n1, 1, 8003, &left), WF_GUARD_OK); /* both were given back */
	ftps_leave(n1);
	/* HTTP connections of such clients are admitted uncounted: a limit that
	 * thousands of clients shared would refuse them all for the crowd. */
	long held = wf_ipguard_conns_held();
	for (int i = 0; i < 5; i++) {
		wf_guard_refusal_t why = { 0 };
		CHECK_EQ_INT(wf_ipguard_enter(n2, WF_GUARD_HTTP, 2, 8003, &why), WF_GUARD_OK);
		CHECK(why.uncounted);
	}
	CHECK_EQ_INT(wf_ipguard_conns_held(), held);
	wf_guard_refusal_t counted = { 0 };
	CHECK_EQ_INT(wf_ipguard_enter("2001:db8:0:1::1", WF_GUARD_HTTP, 2, 8003, &counted), WF_GUARD_OK);
	CHECK(!counted.uncounted); /* a client with a slot of its own is counted */
	wf_ipguard_leave("2001:db8:0:1::1", WF_GUARD_HTTP);
	/* So does the share of password checks. */
	CHECK(wf_ipguard_check_begin(n1, 2, 8003));
	CHECK(wf_ipguard_check_begin(n1, 2, 8003));
	CHECK(!wf_ipguard_check_begin(n1, 2, 8003));
	wf_ipguard_check_end(n1);
	wf_ipguard_check_end(n1);
	/* 1000 failed logins from a newcomer ban it (with every other client
	 * that has no slot at any level: the price of never failing open). */
	int bans = 0;
	char who[WF_IPGUARD_WHO_MAX] = "";
	for (int i = 0; i < 1000; i++)
		bans += wf_ipguard_failed_login(n1, 5, 300, 8004, who);
	CHECK(bans >= 1);
	CHECK_EQ_STR(who, "every client without a slot of its own (the table is full)");
	CHECK(wf_ipguard_banned(n1, 8005, &left));
	CHECK_EQ_INT(ftps_enter(n1, 10, 8005, &left), WF_GUARD_BANNED);
	/* The clients with a slot of their own are not banned with it. */
	CHECK(!wf_ipguard_banned("2001:db8:0:1::1", 8005, &left));
	CHECK(!wf_ipguard_banned("10.0.5.1", 8005, &left));
	CHECK(!wf_ipguard_banned("2a00:7::1", 8005, &left));
	/* Once connections end, slots are free again and a newcomer is counted
	 * on its own: the shared ban is not its own. */
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i / 256, i % 256);
		ftps_leave(addr);
	}
	for (int i = 0; i < 1024; i++) {
		snprintf(addr, sizeof(addr), "10.%d.%d.1", i / 256, i % 256);
		ftps_leave(addr);
	}
	for (int i = 0; i < 255; i++) {
		snprintf(addr, sizeof(addr), "2a00:%x::1", i);
		ftps_leave(addr);
	}
	CHECK(!wf_ipguard_banned("2a01::2", 8006, &left));
	CHECK_EQ_INT(ftps_enter("2a01::2", 10, 8006, &left), WF_GUARD_OK);
	ftps_leave("2a01::2");
}

/* Every slot of the client level held by a banned client: bans are never
 * cut short to make room. A newcomer counts by its network (/24): its
 * failures ban that network, not the other newcomers. */
static void test_bans_are_never_evicted(void)
{
	char addr[48];
	int left = -1;
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "10.2.%d.%d", i / 256, i % 256);
		CHECK(wf_ipguard_failed_login(addr, 1, 60, 9000, NULL));
	}
	CHECK(!wf_ipguard_failed_login("10.3.0.1", 3, 60, 9001, NULL));
	CHECK(!wf_ipguard_failed_login("10.3.0.2", 3, 60, 9001, NULL));
	CHECK(wf_ipguard_failed_login("10.3.0.3", 3, 60, 9001, NULL));
	CHECK(wf_ipguard_banned("10.3.0.4", 9002, &left)); /* the same /24, without a slot of its own */
	CHECK(!wf_ipguard_banned("10.4.0.1", 9002, &left)); /* another /24 */
	CHECK_EQ_INT(ftps_enter("10.4.0.1", 10, 9002, &left), WF_GUARD_OK);
	ftps_leave("10.4.0.1");
	for (int i = 0; i < 4096; i += 97) {
		snprintf(addr, sizeof(addr), "10.2.%d.%d", i / 256, i % 256);
		CHECK_EQ_INT(ftps_enter(addr, 10, 9002, &left), WF_GUARD_BANNED);
	}
	/* All bans over: everyone is free again. */
	CHECK(!wf_ipguard_banned("10.3.0.4", 9062, &left));
	CHECK_EQ_INT(ftps_enter("10.2.0.0", 10, 9062, &left), WF_GUARD_OK);
	ftps_leave("10.2.0.0");
}

/* The reviewer's attack: one /48 holds 4096 /64s, each banned after a few
 * cheap failures, so the client level is full; more /64s of that /48 fail.
 * Their ban is their /48's: an unrelated newcomer (another /48, or an IPv4
 * /24) is not refused, and its own failures count apart. */
static void test_one_attackers_ban_stays_its_own(void)
{
	char addr[64];
	int left = -1;
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:aaaa:%x::1", i);
		CHECK(wf_ipguard_failed_login(addr, 1, 60, 10000, NULL));
	}
	CHECK(!wf_ipguard_failed_login("2001:db8:aaaa:f001::1", 3, 60, 10001, NULL));
	CHECK(!wf_ipguard_failed_login("2001:db8:aaaa:f002::1", 3, 60, 10001, NULL));
	char who[WF_IPGUARD_WHO_MAX] = "";
	CHECK(wf_ipguard_failed_login("2001:db8:aaaa:f003::1", 3, 60, 10001, who));
	CHECK_EQ_STR(who, "2001:db8:aaaa::/48 (its clients without a slot of their own)"); /* for the log */
	/* The attacker's /48 is banned, for every /64 of it without a slot. */
	CHECK(wf_ipguard_banned("2001:db8:aaaa:f004::1", 10002, &left));
	CHECK_EQ_INT(ftps_enter("2001:db8:aaaa:f005::1", 10, 10002, &left), WF_GUARD_BANNED);
	/* A newcomer from another /48 is not. */
	const char *other = "2001:db8:bbbb:1::1";
	CHECK(!wf_ipguard_banned(other, 10002, &left));
	CHECK_EQ_INT(ftps_enter(other, 10, 10002, &left), WF_GUARD_OK);
	ftps_leave(other);
	CHECK(!wf_ipguard_failed_login(other, 3, 60, 10003, NULL));
	CHECK(!wf_ipguard_failed_login(other, 3, 60, 10003, NULL));
	CHECK(!wf_ipguard_banned(other, 10003, &left)); /* its two failures are its own */
	/* Nor an IPv4 newcomer, whose /24 is its own unit too. */
	CHECK(!wf_ipguard_banned("198.51.100.1", 10003, &left));
	CHECK(!wf_ipguard_failed_login("198.51.100.1", 2, 60, 10003, NULL));
	CHECK(wf_ipguard_failed_login("198.51.100.2", 2, 60, 10003, who));
	CHECK_EQ_STR(who, "198.51.100.0/24 (its clients without a slot of their own)");
	CHECK(wf_ipguard_banned("198.51.100.3", 10004, &left));
	CHECK(!wf_ipguard_banned("198.51.101.1", 10004, &left));
	/* The attacker cannot renew a ban on anyone but itself: its
	 * failures keep landing on its /48. */
	for (int i = 0; i < 50; i++)
		wf_ipguard_failed_login("2001:db8:aaaa:f100::1", 3, 60, 10005, NULL);
	CHECK(!wf_ipguard_banned("2001:db8:cccc::1", 10005, &left));
	CHECK(wf_ipguard_banned("2001:db8:aaaa:f006::1", 10005, &left));
}

/* An IPv6 client is its /64: a host picks any address in it at will. */
static void test_ipv6_counts_per_64(void)
{
	char key[WF_IPGUARD_CLIENT_MAX];
	wf_ipguard_client("2001:db8:1:2:aaaa:bbbb:cccc:dddd", key);
	CHECK_EQ_STR(key, "2001:db8:1:2::/64");
	wf_ipguard_client("::1", key);
	CHECK_EQ_STR(key, "::/64");
	wf_ipguard_client("192.0.2.7", key);
	CHECK_EQ_STR(key, "192.0.2.7");
	wf_ipguard_client("fe80::1%eth0", key); /* not a plain address: kept whole */
	CHECK_EQ_STR(key, "fe80::1%eth0");

	int left = -1;
	CHECK(!wf_ipguard_failed_login("2001:db8:7:7::1", 2, 60, 6000, NULL));
	CHECK(wf_ipguard_failed_login("2001:db8:7:7:ffff::2", 2, 60, 6001, NULL)); /* same /64: the second bans */
	CHECK(wf_ipguard_banned("2001:db8:7:7::99", 6002, &left));
	CHECK_EQ_INT(ftps_enter("2001:db8:7:7::3", 10, 6002, &left), WF_GUARD_BANNED);
	CHECK(!wf_ipguard_banned("2001:db8:7:8::1", 6002, &left)); /* the next /64 is another client */

	CHECK_EQ_INT(ftps_enter("2001:db8:9:9::1", 2, 7000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(ftps_enter("2001:db8:9:9::2", 2, 7000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(ftps_enter("2001:db8:9:9::3", 2, 7000, &left), WF_GUARD_TOO_MANY);
	ftps_leave("2001:db8:9:9::1");
	CHECK_EQ_INT(ftps_enter("2001:db8:9:9::4", 2, 7000, &left), WF_GUARD_OK);
	ftps_leave("2001:db8:9:9::2");
	ftps_leave("2001:db8:9:9::4");
}

/* HTTPS and FTPS connections count apart, against the same limit: a
 * client's browser and its FTP client do not take each other's room. */
static void test_kinds_count_apart(void)
{
	const char *a = "192.0.2.50";
	wf_guard_refusal_t why = { 0 };
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 3, 11000, &why), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 3, 11000, &why), WF_GUARD_TOO_MANY);
	for (int i = 0; i < 3; i++)
		CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_FTPS, 3, 11000, &why), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_FTPS, 3, 11000, &why), WF_GUARD_TOO_MANY);
	CHECK_EQ_INT(wf_ipguard_conns_held(), 6);
	/* An FTPS connection that ends frees no HTTPS room. */
	wf_ipguard_leave(a, WF_GUARD_FTPS);
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 3, 11000, &why), WF_GUARD_TOO_MANY);
	wf_ipguard_leave(a, WF_GUARD_HTTP);
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 3, 11000, &why), WF_GUARD_OK);
	for (int i = 0; i < 3; i++)
		wf_ipguard_leave(a, WF_GUARD_HTTP);
	wf_ipguard_leave(a, WF_GUARD_FTPS);
	wf_ipguard_leave(a, WF_GUARD_FTPS);
	CHECK_EQ_INT(wf_ipguard_conns_held(), 0);
}

/* A ban refuses FTPS connections, not HTTPS ones: HTTP refuses the logins
 * (429), and the connection limit still holds. */
static void test_ban_refuses_ftps_only(void)
{
	const char *a = "192.0.2.60";
	CHECK(wf_ipguard_failed_login(a, 1, 60, 12000, NULL));
	wf_guard_refusal_t why = { 0 };
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_FTPS, 5, 12001, &why), WF_GUARD_BANNED);
	CHECK_EQ_INT(why.ban_left, 60);
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 1, 12001, &why), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 1, 12001, &why), WF_GUARD_TOO_MANY);
	wf_ipguard_leave(a, WF_GUARD_HTTP);
}

/* A flood past the limit is refused every time but logged once a minute
 * per client, each logged line counting those it stood for; another
 * client's refusals are logged on their own. */
static void test_refusals_logged_once_a_minute(void)
{
	const char *a = "192.0.2.70", *b = "192.0.2.71";
	wf_guard_refusal_t why;
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 1, 13000, &why), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter(b, WF_GUARD_HTTP, 1, 13000, &why), WF_GUARD_OK);
	memset(&why, 0, sizeof(why));
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 1, 13000, &why), WF_GUARD_TOO_MANY);
	CHECK(why.log);
	CHECK_EQ_INT(why.unlogged, 0);
	CHECK_EQ_STR(why.who, "192.0.2.70");
	char text[256];
	wf_ipguard_refusal_text(WF_GUARD_TOO_MANY, WF_GUARD_HTTP, 1, &why, text, sizeof(text));
	CHECK_EQ_STR(text, "192.0.2.70 holds max_connections_per_ip (1) HTTP connections (HTTPS and acme-http) "
			   "already; more within a minute are not logged");
	for (int i = 0; i < 5; i++) {
		CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 1, 13000 + 10 * i, &why), WF_GUARD_TOO_MANY);
		CHECK(!why.log);
	}
	CHECK_EQ_INT(wf_ipguard_enter(b, WF_GUARD_HTTP, 1, 13001, &why), WF_GUARD_TOO_MANY);
	CHECK(why.log); /* b is not hidden behind a's flood */
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_FTPS, 0, 13059, &why), WF_GUARD_TOO_MANY);
	CHECK(!why.log); /* one minute per client, whatever the protocol */
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_HTTP, 1, 13060, &why), WF_GUARD_TOO_MANY);
	CHECK(why.log);
	CHECK_EQ_INT(why.unlogged, 6);
	wf_ipguard_refusal_text(WF_GUARD_TOO_MANY, WF_GUARD_HTTP, 1, &why, text, sizeof(text));
	CHECK_EQ_STR(text, "192.0.2.70 holds max_connections_per_ip (1) HTTP connections (HTTPS and acme-http) "
			   "already; 6 more since the last such line were not logged");
	wf_ipguard_leave(a, WF_GUARD_HTTP);
	wf_ipguard_leave(b, WF_GUARD_HTTP);
}

/* FTPS passive listeners: a share per client, refusals logged on a minute
 * of their own (a client refused connections too is told of both). */
static void test_passive_share(void)
{
	const char *a = "192.0.2.80", *b = "192.0.2.81";
	wf_guard_refusal_t why;
	CHECK(wf_ipguard_passive_take(a, 2, 14000, &why));
	CHECK(wf_ipguard_passive_take(a, 2, 14000, &why));
	CHECK(!wf_ipguard_passive_take(a, 2, 14000, &why));
	CHECK(why.log);
	CHECK_EQ_STR(why.who, "192.0.2.80");
	CHECK(wf_ipguard_passive_take(b, 2, 14000, &why)); /* another client has its own */
	CHECK(!wf_ipguard_passive_take(a, 2, 14010, &why));
	CHECK(!why.log);
	CHECK_EQ_INT(wf_ipguard_enter(a, WF_GUARD_FTPS, 0, 14011, &why), WF_GUARD_TOO_MANY);
	CHECK(why.log); /* connections keep their own minute */
	wf_ipguard_passive_give(a);
	CHECK(wf_ipguard_passive_take(a, 2, 14020, &why));
	CHECK(!wf_ipguard_passive_take(a, 2, 14060, &why));
	CHECK(why.log);
	CHECK_EQ_INT(why.unlogged, 1);
	wf_ipguard_passive_give(a);
	wf_ipguard_passive_give(a);
	wf_ipguard_passive_give(b);
	CHECK(wf_ipguard_passive_take(a, 1, 14070, &why));
	wf_ipguard_passive_give(a);
}

/* Warnings a flood could repeat: a line a minute per client and kind,
 * each with the count of those not logged; an IPv6 client is its /64. */
static void test_notes_once_a_minute(void)
{
	const char *a = "2001:db8:5:6::1", *a2 = "2001:db8:5:6::2", *b = "192.0.2.90";
	wf_guard_refusal_t why;
	CHECK(wf_ipguard_note(a, WF_GUARD_NOTE_STRANGER, 15000, &why));
	CHECK_EQ_INT(why.unlogged, 0);
	CHECK_EQ_STR(why.who, "2001:db8:5:6::/64");
	CHECK(!wf_ipguard_note(a2, WF_GUARD_NOTE_STRANGER, 15001, &why)); /* the same /64 */
	CHECK(!wf_ipguard_note(a, WF_GUARD_NOTE_STRANGER, 15059, &why));
	CHECK(wf_ipguard_note(a, WF_GUARD_NOTE_NO_PORT, 15002, &why)); /* another kind, its own minute */
	CHECK(wf_ipguard_note(b, WF_GUARD_NOTE_STRANGER, 15003, &why)); /* another client, its own */
	CHECK(wf_ipguard_note(a, WF_GUARD_NOTE_STRANGER, 15060, &why));
	CHECK_EQ_INT(why.unlogged, 2);
	CHECK(!wf_ipguard_note(a, WF_GUARD_NOTE_STRANGER, 15061, &why));
}

int main(void)
{
	test_notes_once_a_minute();
	test_passive_share();
	test_kinds_count_apart();
	test_ban_refuses_ftps_only();
	test_refusals_logged_once_a_minute();
	test_connection_limit();
	test_ban();
	test_checks();
	test_failures_free_their_slot();
	test_ipv6_counts_per_64();
	test_full_table_never_fails_open();
	test_bans_are_never_evicted();
	test_one_attackers_ban_stays_its_own();
	return check_report();
}
