/* HTTP client for ACME: libcurl's multi-socket API driven by a libev loop
 * (curl_multi_socket_action from ev_io and ev_timer watchers), so an ACME
 * exchange never blocks the loop it shares. This is the only file that
 * touches the curl multi handle. Completion callbacks run from the loop (a
 * zero-delay ev_timer after curl reports a transfer done, which unlike an
 * ev_idle cannot starve on a busy loop), never inside a curl callback; so a
 * callback may start new requests, cancel others, or free the client.
 * Connections are reused between requests (one multi handle, kept-alive).
 * Not thread-safe: one client belongs to one loop's thread. */
#ifndef ACME_HTTP_H
#define ACME_HTTP_H

#include "../server/buf.h"

#include <ev.h>
#include <stdbool.h>

#define ACME_HTTP_BODY_MAX (1u << 20) /* a CA answer larger than this is an error */

typedef struct acme_http acme_http_t;

typedef struct acme_http_resp {
	int curl_code;       /* 0 (CURLE_OK) when a response arrived */
	char error[256];     /* curl's message when curl_code != 0 */
	long status;         /* HTTP status */
	wf_buf_t body;       /* capped at ACME_HTTP_BODY_MAX */
	char content_type[128];
	char replay_nonce[256];
	char location[1024];
	char retry_after[64];
	wf_buf_t links;      /* every Link header value, joined with ", " */
	char etag[128];      /* for conditional requests (the cluster's bundle polls) */
	char cluster_answer[96]; /* Wharf-Cluster-Answer: the cluster controller's proof of its answer */
	char thumbprint[96];     /* Wharf-Account-Thumbprint: the controller's ACME account, for HTTP-01 */
	double seconds;      /* total time */
} acme_http_resp_t;

/* resp is owned by the client and valid only during the call. body and
 * links are not NUL-terminated: read them with wf_buf_slice. A header value
 * too long for its field, or holding control bytes, is left out ("") rather
 * than cut; a Link header list past 16 KiB or a body past the cap fails the
 * request (curl_code != 0, error says why). */
typedef void (*acme_http_cb)(void *arg, const acme_http_resp_t *resp);

/* ca_file: PEM bundle to trust instead of the system's (NULL = system).
 * user_agent: sent with every request (NULL = "wharf"). */
acme_http_t *acme_http_new(struct ev_loop *loop, const char *ca_file, const char *user_agent);
/* Each request started from now on goes out on a connection of its own,
 * closed after it. For requests that must never be sent twice: libcurl
 * sends a request again, unasked, when the kept-alive connection it went out
 * on dies before any answer (the cluster's signed polls: the controller
 * takes each nonce once). */
void acme_http_fresh_connections(acme_http_t *h);
/* At most n connections to one host at once (n >= 1; 8 unless set); requests
 * past that wait in a queue, their timeout running. For a client whose
 * requests are long polls, each holding a connection for their whole wait. */
void acme_http_host_connections(acme_http_t *h, long n);
/* Tears down every transfer in flight without calling their callbacks.
 * Safe from inside a callback: no further callback runs, and the memory goes
 * once that callback returns. */
void acme_http_free(acme_http_t *h);

/* Starts a request. method: "GET", "HEAD" or "POST"; body (POST only) is
 * copied; content_type may be NULL. timeout in seconds for the whole
 * exchange (> 0; fractions count); the connect phase is also capped at 10 s.
 * http:// URLs are accepted for a local test CA; RFC 8555 wants https.
 * Redirects are not followed. Returns a handle (> 0) usable with
 * acme_http_cancel, or 0 if the request could not be started (cb is then
 * never called). The callback is never called before this function returns. */
unsigned long acme_http_request(acme_http_t *h, const char *method, const char *url, const char *content_type,
				wf_slice_t body, double timeout, acme_http_cb cb, void *arg);
/* The same with extra request header lines ("Name: value"), a NULL-terminated
 * array copied before return; a line holding CR or LF is refused (0). */
unsigned long acme_http_request_with(acme_http_t *h, const char *method, const char *url, const char *content_type,
				     const char *const *headers, wf_slice_t body, double timeout, acme_http_cb cb,
				     void *arg);
/* Sends message (headers, blank line, body; CRLF line ends) through the SMTP
 * relay at url (smtp://HOST:PORT, STARTTLS when offered, or smtps://) from
 * from to the NULL-terminated rcpt. resp->curl_code says how it went. */
unsigned long acme_http_mail(acme_http_t *h, const char *url, const char *from, const char *const *rcpt,
			     wf_slice_t message, double timeout, acme_http_cb cb, void *arg);
/* The callback of a cancelled request is not called. Unknown or finished
 * handles are ignored. Safe from a callback (including for a request that
 * has finished but whose callback has not run yet). */
void acme_http_cancel(acme_http_t *h, unsigned long handle);
/* Requests started whose callback has neither run nor been cancelled. */
int acme_http_active(const acme_http_t *h);

#endif
