/* What folder listings may hold: see listing_budget.h. */
#include "listing_budget.h"

#include "../server/ip_guard.h"
#include "../server/log.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Process-wide, all workers and pool threads: listings being built, and
 * the bytes all listings hold. The per-client counts are ip_guard's. */
static atomic_int building;
static atomic_size_t held;

/* A client's share: an eighth, as of the password checks, so that eight
 * clients at their share still leave the rest something. */
static int client_builds(void)
{
	return XFER_LISTING_JOBS_MAX / 8 > 2 ? XFER_LISTING_JOBS_MAX / 8 : 2;
}

static size_t client_bytes(size_t budget)
{
	return budget / 8;
}

xfer_listing_refusal_t xfer_listing_hold_begin(xfer_listing_hold_t *h, const char *addr, size_t budget)
{
	memset(h, 0, sizeof(*h));
	if (!addr || !addr[0])
		addr = "-"; /* no address (a test's exchange): they count together */
	/* Room for at least a little: a listing that begins where the budget
	 * is spent fails on its first step anyway, after a folder's worth of
	 * reading. */
	if (atomic_load(&held) >= budget)
		return XFER_LISTING_FULL;
	if (atomic_fetch_add(&building, 1) >= XFER_LISTING_JOBS_MAX) {
		atomic_fetch_sub(&building, 1);
		return XFER_LISTING_BUSY;
	}
	time_t now = time(NULL);
	if (!wf_ipguard_listing_begin(addr, client_builds(), now)) {
		atomic_fetch_sub(&building, 1);
		return XFER_LISTING_CLIENT_BUSY;
	}
	/* Asks for nothing yet: whether the client has any room left. */
	if (!wf_ipguard_listing_bytes_take(addr, 1, client_bytes(budget), now)) {
		wf_ipguard_listing_end(addr);
		atomic_fetch_sub(&building, 1);
		return XFER_LISTING_CLIENT_FULL;
	}
	wf_ipguard_listing_bytes_give(addr, 1);
	snprintf(h->addr, sizeof(h->addr), "%s", addr);
	h->budget = budget;
	h->building = true;
	return XFER_LISTING_GRANTED;
}

xfer_listing_refusal_t xfer_listing_hold_set(xfer_listing_hold_t *h, size_t bytes)
{
	if (!h->addr[0])
		abort(); /* a bug: a listing counted nowhere */
	if (bytes <= h->bytes) {
		size_t less = h->bytes - bytes;
		wf_ipguard_listing_bytes_give(h->addr, less);
		atomic_fetch_sub(&held, less);
		h->bytes = bytes;
		return XFER_LISTING_GRANTED;
	}
	size_t more = bytes - h->bytes;
	/* The client's share first: past both, it is the one to tell. */
	if (!wf_ipguard_listing_bytes_take(h->addr, more, client_bytes(h->budget), time(NULL)))
		return XFER_LISTING_CLIENT_FULL;
	if (atomic_fetch_add(&held, more) + more > h->budget) {
		atomic_fetch_sub(&held, more);
		wf_ipguard_listing_bytes_give(h->addr, more);
		return XFER_LISTING_FULL;
	}
	h->bytes = bytes;
	return XFER_LISTING_GRANTED;
}

void xfer_listing_hold_built(xfer_listing_hold_t *h)
{
	if (!h->building)
		return;
	h->building = false;
	wf_ipguard_listing_end(h->addr);
	atomic_fetch_sub(&building, 1);
}

void xfer_listing_hold_end(xfer_listing_hold_t *h)
{
	if (!h->addr[0])
		return;
	xfer_listing_hold_built(h);
	xfer_listing_hold_set(h, 0);
	h->addr[0] = '\0';
}

const char *xfer_listing_refusal_text(xfer_listing_refusal_t why)
{
	switch (why) {
	case XFER_LISTING_BUSY:
		return "too many folders being listed; try again";
	case XFER_LISTING_CLIENT_BUSY:
		return "your address has its share of folder listings being made; try again once one is done";
	case XFER_LISTING_FULL:
		return "folder listings not yet sent hold all the memory set aside for them; try again";
	case XFER_LISTING_CLIENT_FULL:
		return "your address's folder listings not yet read hold its share of the memory set aside for "
		       "them; read them, then try again";
	case XFER_LISTING_GRANTED:
		break;
	}
	return "granted";
}

void xfer_listing_refusal_log(xfer_listing_refusal_t why, const char *proto, const char *addr, size_t budget)
{
	static _Atomic time_t logged[XFER_LISTING_CLIENT_FULL + 1];
	if ((unsigned)why > XFER_LISTING_CLIENT_FULL || why == XFER_LISTING_GRANTED || !wf_log_minute_due(&logged[why]))
		return;
	switch (why) {
	case XFER_LISTING_BUSY:
		wf_log_warn("listings: %d folders being listed already; refusing more (%s %s first) until they drain "
			    "(a line a minute at most)",
			    XFER_LISTING_JOBS_MAX, proto, addr);
		break;
	case XFER_LISTING_CLIENT_BUSY:
		wf_log_warn("listings: %s %s has %d folders being listed already (its share); refusing more of its "
			    "listings until they are built (a line a minute at most)",
			    proto, addr, client_builds());
		break;
	case XFER_LISTING_FULL:
		wf_log_warn("listings: listings not yet sent hold limits.listing_memory (%zu bytes); refusing more "
			    "(%s %s first) until they are sent or dropped (a line a minute at most)",
			    budget, proto, addr);
		break;
	case XFER_LISTING_CLIENT_FULL:
		wf_log_warn("listings: %s %s's listings not yet sent hold its share (an eighth) of "
			    "limits.listing_memory (%zu of %zu bytes); refusing more of its listings until they are "
			    "read or dropped (a line a minute at most)",
			    proto, addr, client_bytes(budget), budget);
		break;
	default:
		break;
	}
}

size_t xfer_listing_held(void)
{
	return atomic_load(&held);
}
