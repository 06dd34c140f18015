/* Per-address limits: connection counts, failed-login bans and their expiry. */
#include "check.h"
#include "server/ip_guard.h"

#include <stdio.h>

static void test_connection_limit(void)
{
	int left = -1;
	CHECK_EQ_INT(wf_ipguard_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_TOO_MANY);
	/* Another address has its own count. */
	CHECK_EQ_INT(wf_ipguard_enter("192.0.2.2", 2, 1000, &left), WF_GUARD_OK);
	wf_ipguard_leave("192.0.2.1");
	CHECK_EQ_INT(wf_ipguard_enter("192.0.2.1", 2, 1000, &left), WF_GUARD_OK);
	wf_ipguard_leave("192.0.2.1");
	wf_ipguard_leave("192.0.2.1");
	wf_ipguard_leave("192.0.2.2");
	/* Leaving more often than entering never goes below zero. */
	wf_ipguard_leave("192.0.2.1");
	CHECK_EQ_INT(wf_ipguard_enter("192.0.2.1", 1, 1000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter("192.0.2.1", 1, 1000, &left), WF_GUARD_TOO_MANY);
	wf_ipguard_leave("192.0.2.1");
}

static void test_ban(void)
{
	int left = -1;
	const char *a = "2001:db8::7";
	CHECK(!wf_ipguard_failed_login(a, 3, 60, 2000));
	CHECK(!wf_ipguard_failed_login(a, 3, 60, 2001));
	CHECK(wf_ipguard_failed_login(a, 3, 60, 2002)); /* the third bans, once */
	CHECK_EQ_INT(wf_ipguard_enter(a, 10, 2010, &left), WF_GUARD_BANNED);
	CHECK_EQ_INT(left, 53);
	CHECK(!wf_ipguard_failed_login(a, 3, 60, 2011)); /* banned already: no second ban line */
	CHECK_EQ_INT(wf_ipguard_enter(a, 10, 2062, &left), WF_GUARD_BANNED); /* rounded up: at least 60 s */
	CHECK_EQ_INT(wf_ipguard_enter(a, 10, 2063, &left), WF_GUARD_OK);     /* the ban is over */
	wf_ipguard_leave(a);
	/* Failures further apart than the window never add up to a ban. */
	const char *b = "198.51.100.9";
	CHECK(!wf_ipguard_failed_login(b, 2, 10, 3000));
	CHECK(!wf_ipguard_failed_login(b, 2, 10, 3011));
	CHECK(wf_ipguard_failed_login(b, 2, 10, 3012));
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
		wf_ipguard_failed_login(addr, 5, 30, 5000);
	}
	/* One of them fails three times more: it has the most to lose. */
	for (int i = 0; i < 3; i++)
		CHECK(!wf_ipguard_failed_login("10.1.0.0", 5, 30, 5001));
	/* Within the window the table is full: a newcomer takes the slot of a
	 * client that failed once, and its ban works at once. */
	CHECK(wf_ipguard_failed_login("10.9.9.9", 1, 30, 5010));
	int left = -1;
	CHECK(wf_ipguard_banned("10.9.9.9", 5011, &left));
	CHECK_EQ_INT(wf_ipguard_enter("10.9.9.9", 10, 5011, &left), WF_GUARD_BANNED);
	/* The client with four failures kept its count: the fifth bans it. */
	CHECK(wf_ipguard_failed_login("10.1.0.0", 5, 30, 5012));
	/* Past the window every slot is free again. */
	CHECK(wf_ipguard_failed_login("10.9.9.8", 1, 30, 5031));
	CHECK(wf_ipguard_banned("10.9.9.8", 5032, &left));
}

/* Every slot held by a client that may not be forgotten (a connection open,
 * a ban running): a newcomer is still counted, in one entry shared by every
 * client the table has no room for, so limits and bans never fail open. */
static void test_full_table_never_fails_open(void)
{
	char addr[64];
	int left = -1;
	/* 4096 /64s, each holding a connection. */
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i / 256, i % 256);
		CHECK_EQ_INT(wf_ipguard_enter(addr, 10, 8000, &left), WF_GUARD_OK);
	}
	const char *n1 = "2001:db8:ffff:1::1", *n2 = "2001:db8:ffff:2::1";
	/* The connection limit holds for a newcomer. */
	CHECK_EQ_INT(wf_ipguard_enter(n1, 2, 8001, &left), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter(n1, 2, 8001, &left), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter(n1, 2, 8001, &left), WF_GUARD_TOO_MANY);
	wf_ipguard_leave(n1);
	wf_ipguard_leave(n1);
	CHECK_EQ_INT(wf_ipguard_enter(n1, 1, 8001, &left), WF_GUARD_OK); /* both were given back */
	wf_ipguard_leave(n1);
	/* So does the share of password checks. */
	CHECK(wf_ipguard_check_begin(n1, 2, 8001));
	CHECK(wf_ipguard_check_begin(n1, 2, 8001));
	CHECK(!wf_ipguard_check_begin(n1, 2, 8001));
	wf_ipguard_check_end(n1);
	wf_ipguard_check_end(n1);
	/* 1000 failed logins from a newcomer ban it. */
	int bans = 0;
	for (int i = 0; i < 1000; i++)
		bans += wf_ipguard_failed_login(n1, 5, 300, 8002);
	CHECK(bans >= 1);
	CHECK(wf_ipguard_banned(n1, 8003, &left));
	CHECK_EQ_INT(wf_ipguard_enter(n1, 10, 8003, &left), WF_GUARD_BANNED);
	/* The clients with a slot of their own are not banned with it. */
	CHECK(!wf_ipguard_banned("2001:db8:0:1::1", 8003, &left));
	/* Once connections end, slots are free again and a newcomer is counted
	 * on its own: the shared ban is not its own. */
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "2001:db8:%x:%x::1", i / 256, i % 256);
		wf_ipguard_leave(addr);
	}
	CHECK(!wf_ipguard_banned(n2, 8004, &left));
	CHECK_EQ_INT(wf_ipguard_enter(n2, 10, 8004, &left), WF_GUARD_OK);
	wf_ipguard_leave(n2);
}

/* Every slot held by a banned client: bans are never cut short to make
 * room, and a newcomer's failures still ban it. */
static void test_bans_are_never_evicted(void)
{
	char addr[48];
	int left = -1;
	for (int i = 0; i < 4096; i++) {
		snprintf(addr, sizeof(addr), "10.2.%d.%d", i / 256, i % 256);
		CHECK(wf_ipguard_failed_login(addr, 1, 60, 9000));
	}
	CHECK(!wf_ipguard_failed_login("10.3.0.1", 3, 60, 9001));
	CHECK(!wf_ipguard_failed_login("10.3.0.2", 3, 60, 9001));
	CHECK(wf_ipguard_failed_login("10.3.0.3", 3, 60, 9001));
	CHECK(wf_ipguard_banned("10.3.0.4", 9002, &left));
	for (int i = 0; i < 4096; i += 97) {
		snprintf(addr, sizeof(addr), "10.2.%d.%d", i / 256, i % 256);
		CHECK_EQ_INT(wf_ipguard_enter(addr, 10, 9002, &left), WF_GUARD_BANNED);
	}
	/* All bans over: everyone is free again. */
	CHECK(!wf_ipguard_banned("10.3.0.4", 9062, &left));
	CHECK_EQ_INT(wf_ipguard_enter("10.2.0.0", 10, 9062, &left), WF_GUARD_OK);
	wf_ipguard_leave("10.2.0.0");
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
	CHECK(!wf_ipguard_failed_login("2001:db8:7:7::1", 2, 60, 6000));
	CHECK(wf_ipguard_failed_login("2001:db8:7:7:ffff::2", 2, 60, 6001)); /* same /64: the second bans */
	CHECK(wf_ipguard_banned("2001:db8:7:7::99", 6002, &left));
	CHECK_EQ_INT(wf_ipguard_enter("2001:db8:7:7::3", 10, 6002, &left), WF_GUARD_BANNED);
	CHECK(!wf_ipguard_banned("2001:db8:7:8::1", 6002, &left)); /* the next /64 is another client */

	CHECK_EQ_INT(wf_ipguard_enter("2001:db8:9:9::1", 2, 7000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter("2001:db8:9:9::2", 2, 7000, &left), WF_GUARD_OK);
	CHECK_EQ_INT(wf_ipguard_enter("2001:db8:9:9::3", 2, 7000, &left), WF_GUARD_TOO_MANY);
	wf_ipguard_leave("2001:db8:9:9::1");
	CHECK_EQ_INT(wf_ipguard_enter("2001:db8:9:9::4", 2, 7000, &left), WF_GUARD_OK);
	wf_ipguard_leave("2001:db8:9:9::2");
	wf_ipguard_leave("2001:db8:9:9::4");
}

int main(void)
{
	test_connection_limit();
	test_ban();
	test_checks();
	test_failures_free_their_slot();
	test_ipv6_counts_per_64();
	test_full_table_never_fails_open();
	test_bans_are_never_evicted();
	return check_report();
}
