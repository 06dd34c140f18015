/* What folder listings may hold, HTTP's and FTP's alike. A listing holds
 * memory from the moment its folder is read until its last byte is sent
 * (or it is dropped): HTTP's sorted entries and their names, FTP's
 * rendered lines. A client that reads slowly, or not at all, keeps that
 * memory as long as it can keep its connection, so what it holds is
 * bounded here, not by the timers:
 *   - a process-wide budget of bytes (limits.listing_memory), counted
 *     for every listing built or being built;
 *   - at most XFER_LISTING_JOBS_MAX listings being built at once, each of
 *     whose steps queues on the offload pool ahead of password checks and
 *     upload commits;
 *   - one client (an IPv4 address or an IPv6 /64, server/ip_guard.h) gets
 *     an eighth of each (at least two builds), as it does of the password
 *     checks, so that one client cannot take every listing from the
 *     others.
 * A hold is plain data keyed by the client's address: it moves with the
 * listing (HTTP's into the page, FTP's into the lines' buffer) and may be
 * grown on a pool thread. */
#ifndef XFER_LISTING_BUDGET_H
#define XFER_LISTING_BUDGET_H

#include <stdbool.h>
#include <stddef.h>

/* Listings being built at once, process-wide, HTTP and FTP together. */
#define XFER_LISTING_JOBS_MAX 16

typedef enum xfer_listing_refusal {
	XFER_LISTING_GRANTED,
	XFER_LISTING_BUSY,          /* XFER_LISTING_JOBS_MAX being built */
	XFER_LISTING_CLIENT_BUSY,   /* this client's share of them */
	XFER_LISTING_FULL,          /* limits.listing_memory held */
	XFER_LISTING_CLIENT_FULL,   /* this client's share of it */
} xfer_listing_refusal_t;

typedef struct xfer_listing_hold {
	char addr[64];        /* the client's address as the connection has it; "" = not begun */
	size_t budget;        /* limits.listing_memory when it began */
	size_t bytes;         /* counted now, process-wide and for the client */
	bool building;        /* holds one of the builds */
} xfer_listing_hold_t;

/* A listing for addr begins to be built, if one of the builds and some of
 * the memory is left for it (and for addr's share): GRANTED, and h holds
 * a build and no bytes yet; else why not, and h holds nothing. */
xfer_listing_refusal_t xfer_listing_hold_begin(xfer_listing_hold_t *h, const char *addr, size_t budget);
/* The listing now holds bytes in all: GRANTED, or (when it grows past the
 * budget or addr's share of it) why not, the count left as it was. A
 * shrink is always granted. Any thread. */
xfer_listing_refusal_t xfer_listing_hold_set(xfer_listing_hold_t *h, size_t bytes);
/* Built: its build goes back; its bytes stay until xfer_listing_hold_end. */
void xfer_listing_hold_built(xfer_listing_hold_t *h);
/* Everything the hold counted goes back (safe on a hold never begun, and
 * twice). */
void xfer_listing_hold_end(xfer_listing_hold_t *h);
/* What a client is told of a refusal (an HTTP body, an FTP reply). */
const char *xfer_listing_refusal_text(xfer_listing_refusal_t why);
/* The error log's line for a refusal, at most once a minute per reason,
 * with proto ("HTTP", "FTPS") and the client's address. */
void xfer_listing_refusal_log(xfer_listing_refusal_t why, const char *proto, const char *addr, size_t budget);
/* Bytes held by listings now, process-wide (tests, and the log). */
size_t xfer_listing_held(void);

#endif
