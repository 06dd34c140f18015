/* Per-address limits: connection counts, failed-login bans and their expiry. */
#include "check.h"
#include "server/ip_guard.h"

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

int main(void)
{
	test_connection_limit();
	test_ban();
	return check_report();
}
