/* What files HTTP transfers may hold open: see file_budget.h. */
#include "file_budget.h"

#include "../server/log.h"

#include <limits.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

/* Descriptors HTTP transfers hold, process-wide, all workers together.
 * The per-client counts are ip_guard's. */
static atomic_int held;
/* When a refusal for the whole budget was last logged. */
static _Atomic time_t full_logged;

/* The open file limit now (a getrlimit: a system call, next to the
 * open and fstat of the request it is for). */
static long long open_file_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur > INT_MAX)
		return INT_MAX;
	return (long long)rl.rlim_cur;
}

int xfer_files_budget(void)
{
	long long n = (open_file_limit() - XFER_FILES_RESERVE) / 2;
	return n > XFER_FILES_BUDGET_MIN ? (int)n : XFER_FILES_BUDGET_MIN;
}

int xfer_files_client_share(int per_client)
{
	if (per_client > 0)
		return per_client;
	int share = xfer_files_budget() / 8;
	return share > 2 ? share : 2;
}

xfer_files_refusal_t xfer_file_hold_take(xfer_file_hold_t *h, const char *addr, int n, int per_client,
					 wf_guard_refusal_t *g)
{
	if (h->addr[0] || n <= 0)
		abort(); /* a bug: a hold taken twice, or for nothing */
	memset(g, 0, sizeof(*g));
	if (!addr || !addr[0])
		addr = "-"; /* no address (a test's exchange): they count together */
	time_t now = time(NULL);
	/* The client's share first: past both, it is the one to tell. */
	if (!wf_ipguard_files_take(addr, n, xfer_files_client_share(per_client), now, g))
		return XFER_FILES_CLIENT_FULL;
	bool uncounted = g->uncounted;
	if (atomic_fetch_add(&held, n) + n > xfer_files_budget()) {
		atomic_fetch_sub(&held, n);
		if (!uncounted)
			wf_ipguard_files_give(addr, n);
		memset(g, 0, sizeof(*g));
		g->log = wf_log_minute_due(&full_logged);
		return XFER_FILES_FULL;
	}
	snprintf(h->addr, sizeof(h->addr), "%s", addr);
	h->n = n;
	h->uncounted = uncounted;
	return XFER_FILES_GRANTED;
}

void xfer_file_hold_end(xfer_file_hold_t *h)
{
	if (!h->addr[0])
		return;
	if (!h->uncounted)
		wf_ipguard_files_give(h->addr, h->n);
	atomic_fetch_sub(&held, h->n);
	memset(h, 0, sizeof(*h));
}

void xfer_file_hold_move(xfer_file_hold_t *to, xfer_file_hold_t *from)
{
	if (to->addr[0])
		abort(); /* a bug: what to held would be lost */
	*to = *from;
	memset(from, 0, sizeof(*from));
}

const char *xfer_files_refusal_text(xfer_files_refusal_t why)
{
	switch (why) {
	case XFER_FILES_FULL:
		return "the server's files for downloads and uploads are all in use; try again";
	case XFER_FILES_CLIENT_FULL:
		return "your address holds its share of the server's files for downloads and uploads (an upload "
		       "takes two); try again once one of them ends";
	case XFER_FILES_GRANTED:
		break;
	}
	return "granted";
}

void xfer_files_refusal_log(xfer_files_refusal_t why, const wf_guard_refusal_t *g, int per_client, const char *peer,
			    const char *user, const char *method, const char *path)
{
	if (why == XFER_FILES_GRANTED || !g->log)
		return;
	int budget = xfer_files_budget();
	if (why == XFER_FILES_FULL) {
		wf_log_warn("%s user %s: %s %s refused with 503: HTTP downloads and uploads hold all %d open files set "
			    "aside for them (half of what the open file limit, %lld, leaves after %d); refusing more "
			    "until some end (a line a minute at most)",
			    peer, user, method, path, budget, open_file_limit(), XFER_FILES_RESERVE);
		return;
	}
	char share[160], more[96];
	if (per_client > 0)
		snprintf(share, sizeof(share), "limits.open_files_per_client, %d", per_client);
	else
		snprintf(share, sizeof(share),
			 "limits.open_files_per_client, by default an eighth of the %d set "
			 "aside for HTTP transfers: %d",
			 budget, xfer_files_client_share(0));
	if (g->unlogged)
		snprintf(more, sizeof(more), "; %u more since the last such line were not logged", g->unlogged);
	else
		snprintf(more, sizeof(more), "; more within a minute are not logged");
	wf_log_warn("%s user %s: %s %s refused with 503: client %s holds its share of open files for HTTP downloads "
		    "and uploads (%s; an upload counts two) until one ends%s",
		    peer, user, method, path, g->who, share, more);
}

int xfer_files_held(void)
{
	return atomic_load(&held);
}
