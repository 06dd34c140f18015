/* One HTTP request and its response, the same for HTTP/1.1 and HTTP/2: the
 * protocol drivers (h1_conn.c, h2_conn.c) parse and frame; this file decides
 * what a request means (auth, confinement, GET/HEAD/PUT/DELETE/MKCOL/OPTIONS). */
#ifndef XFER_EXCHANGE_H
#define XFER_EXCHANGE_H

#include "file_budget.h"
#include "listing.h"
#include "upload.h"

#include <ev.h>
#include "../server/buf.h"
#include "../server/config.h"

#include <stdbool.h>
#include <time.h>

#define XFER_MAX_FIELDS 16
/* A refused request body is read and dropped up to this much (so the
 * connection can carry on); a longer one ends it. */
#define XFER_DISCARD_MAX (64u << 10)

/* What the protocol driver extracted from the request head. Slices are
 * borrowed for the duration of xfer_exchange_begin only. */
typedef struct xfer_req_in {
	wf_slice_t method, target;
	wf_slice_t authorization, range, if_range, if_none_match, if_modified_since, accept, host;
	wf_slice_t if_match, if_unmodified_since; /* a change's preconditions (with If-None-Match) */
	wf_slice_t content_range; /* on a PUT: a partial update, which we refuse */
	bool has_body;          /* a body follows (Content-Length > 0, chunked, or h2 without END_STREAM) */
	bool length_known;      /* content_length is the body's exact size */
	uint64_t content_length;
	bool expect_continue;
	const char *proto; /* "HTTP/1.1", "HTTP/2" */
	int head_refused; /* 414 or 431: the head passed limits.max_header_bytes, which the driver
			   * found (HTTP/2: its request-line part, or its fields); only that is answered */
	const char *repeated; /* static: a field that takes one value (Authorization, Range, If-Range,
			       * Content-Range) came twice, which is answered 400; NULL: none did */
} xfer_req_in_t;

/* Folder listings one connection may have under way at once, each from
 * its request until its page is wholly handed to the driver (for a HEAD,
 * measured) or the request ends: read and sorted on the offload pool,
 * then held while the page goes out, not while an HTTP/2 stream waits on
 * for the client to end its side. A
 * further one on that connection gets 503 with Retry-After, so a client
 * cannot hold the memory of many listings nor fill the pool with their
 * steps (HTTP/2: streams whose window the client keeps shut). HTTP/1.1
 * has one request at a time. */
#define XFER_LISTINGS_PER_CONN 2
/* Upload stage memory one connection's uploads share: each takes a full
 * stage (XFER_UPLOAD_STAGE_MAX) while this lasts, then what is left of it,
 * and never less than XFER_UPLOAD_STAGE_MIN. 8 uploads side by side write
 * as a lone one does; 100 HTTP/2 streams uploading at once (h2_max_streams)
 * hold about 2.5 MiB of stages, not 12.5. */
#define XFER_UPLOAD_STAGES_PER_CONN (1u << 20)
/* A connection's share of both, which its exchanges borrow. */
typedef struct xfer_conn_quota {
	unsigned under_way; /* listings */
	bool refused;       /* a listing was refused, and the error log said so (once per connection) */
	size_t staged;      /* bytes of upload stages taken */
} xfer_conn_quota_t;

/* Access-log status of a request the client left before it was answered. */
#define XFER_STATUS_CLIENT_LEFT 499

typedef enum xfer_body_kind {
	XFER_BODY_NONE,
	XFER_BODY_BUF,  /* body buffer below */
	XFER_BODY_FILE, /* file_fd from file_off, file_len bytes */
	XFER_BODY_LISTING, /* a folder's listing, rendered as it is read */
} xfer_body_kind_t;

typedef enum xfer_ex_state {
	XFER_EX_RESPOND,   /* the response is ready */
	XFER_EX_READ_BODY, /* feed the request body with xfer_exchange_body, then _body_end */
	XFER_EX_DISCARD,   /* the response is ready, but the request body must be read and dropped first (h1) */
	XFER_EX_FINISHING, /* the body is in; the upload is being made durable off the loop: wait for on_ready */
	XFER_EX_AUTHENTICATING, /* the password is being checked off the loop: read nothing more of this
				 * request; on_ready comes with one of the states above, as begin would have set */
	XFER_EX_WORKING,   /* the answer is worked out off the loop (a folder's listing, the change a
			    * DELETE or MKCOL makes); on_ready comes with the response ready (state
			    * RESPOND). A request body (see drop_body) is read and dropped
			    * meanwhile (h1), or as it comes (h2) */
} xfer_ex_state_t;

struct wf_worker;
typedef struct xfer_exchange xfer_exchange_t;
/* Called on the worker's loop when a FINISHING or WORKING exchange has its
 * response, or an AUTHENTICATING one has its next state. */
typedef void (*xfer_ready_cb)(xfer_exchange_t *ex, void *arg);

struct xfer_exchange {
	xfer_ex_state_t state;
	const wf_config_t *cfg;      /* borrowed: the connection's config */
	const wf_user_cfg_t *user;   /* borrowed from cfg, after authentication */
	char user_name[64];          /* for the access log, even when the login failed */
	char method[16];
	char *path;                  /* owned (unless ""): target as received, for
				      * logs, whole up to XFER_URL_HREF_MAX bytes */
	bool path_cut;               /* path holds less than the target */
	const char *peer;            /* borrowed from the connection: "addr:port", for logs */
	const char *peer_addr;       /* borrowed from the connection: the address, for per-address bans */
	const char *proto;
	double started;

	/* response */
	int status;
	size_t nfields;
	struct {
		const char *name; /* static string, canonical case */
		char *value;      /* owned */
	} fields[XFER_MAX_FIELDS];
	xfer_body_kind_t body_kind;
	wf_buf_t body;
	int file_fd;
	uint64_t file_off, file_len;
	uint64_t content_length; /* declared; equal to what is sent, except for HEAD */
	bool head_only;          /* HEAD: headers as for GET, no body */
	bool close_after;        /* the connection must close after this response */
	bool login_failed;       /* credentials were sent and refused */
	bool drop_body;          /* WORKING: the request body is to be read and dropped */
	uint64_t bytes_sent;     /* body bytes, for the log */

	/* upload (PUT) */
	xfer_upload_t up;               /* the temp file, and the commit while FINISHING */
	bool up_existed;
	uint64_t up_received, up_limit;
	struct wf_worker *worker;       /* borrowed: where offloaded work completes */
	xfer_ready_cb on_ready;
	void *ready_arg;
	bool up_length_known;
	uint64_t up_expected;

	/* a password check on the offload pool (AUTHENTICATING) */
	struct xfer_auth_job *auth_job; /* borrowed: cancelled when the exchange ends first */
	xfer_req_in_t held;             /* the request, its slices pointing into held_bytes */
	char *held_bytes;               /* owned */

	/* a folder's listing, or a DELETE's or MKCOL's change to the tree, on
	 * the offload pool (WORKING) */
	struct xfer_fs_job *fs_job;        /* borrowed: let go of when the exchange ends first */
	void (*fs_answer)(xfer_exchange_t *ex, int err); /* a change's response, from its errno */
	xfer_listing_format_t list_fmt;
	xfer_listing_t *listing;           /* owned: the body, when body_kind is LISTING */
	xfer_conn_quota_t *quota; /* borrowed: from the connection, set after init (NULL: not counted) */
	bool quota_taken;            /* one of its listings under way is this one */
	size_t stage_taken;          /* its upload's stage, counted in quota->staged */
	xfer_file_hold_t files;      /* the descriptors its download holds (an upload's, until its temp
				      * file is made: then up.files), counted against the client's share
				      * of the files' budget (transfer/file_budget.h) until they are
				      * closed or the exchange ends */

	/* a cluster follower's long poll (FINISHING until the bundle changes) */
	ev_timer cl_wait;
	bool cl_waiting;
	double cl_deadline;
	char cl_name[256];
	char cl_etag[40];  /* If-None-Match, when one ETag as ours (34 bytes) */
	char cl_nonce[36]; /* the request's nonce, which its answer is sealed and proved to */
	char cl_serial[64]; /* the served certificate's serial when the wait began ("" for none) */
	char cl_thumb[44];  /* the account thumbprint NAME's orders use then ("" for none yet) */
};

/* worker: where a FINISHING upload completes (NULL: everything inline). on_ready
 * is called when a body_end that went FINISHING has its response. A driver
 * with requests side by side (HTTP/2) sets ex->quota before begin. */
void xfer_exchange_init(xfer_exchange_t *ex, const wf_config_t *cfg, const char *peer, const char *peer_addr,
			double now, struct wf_worker *worker, xfer_ready_cb on_ready, void *ready_arg);
/* Decides what the request means; sets ex->state. AUTHENTICATING when the
 * password must be checked off the loop (never without a worker). */
void xfer_exchange_begin(xfer_exchange_t *ex, const xfer_req_in_t *in);
/* Request body bytes (state XFER_EX_READ_BODY). On a failure (disk full, too
 * large) the exchange switches to XFER_EX_DISCARD with an error response ready. */
void xfer_exchange_body(xfer_exchange_t *ex, const char *data, size_t len);
/* The request body ended: complete (true) or cut short (false: the client went
 * away or broke framing; nothing is kept under the final name). A complete
 * upload goes FINISHING: fsync, rename and the folder's fsync run off the loop,
 * then on_ready is called with the response set; or, without a worker, all
 * of it happens inline and the state is RESPOND on return. */
void xfer_exchange_body_end(xfer_exchange_t *ex, bool complete);
/* Produces up to cap body bytes into dst. Returns bytes (0 = body done), or -1
 * on a read error (the connection must be closed: the length is promised). */
ssize_t xfer_exchange_read(xfer_exchange_t *ex, char *dst, size_t cap);
/* Body bytes still to be produced (for a HEAD, as if it were a GET; but a
 * listing, which a HEAD lets go of once measured, has none). */
uint64_t xfer_exchange_body_left(const xfer_exchange_t *ex);
/* The connection drains (a shutdown, or a reload that retires it): a
 * cluster long poll waiting for a change ends at the loop's next turn, with
 * the answer its wait's end would give (on_ready). Anything else goes on. */
void xfer_exchange_drain(xfer_exchange_t *ex);
/* Access log line and cleanup (aborts an unfinished upload). */
void xfer_exchange_finish(xfer_exchange_t *ex, double now);

/* A field value by canonical name, or NULL. */
const char *xfer_exchange_field(const xfer_exchange_t *ex, const char *name);
/* Reason phrase for a status. */
const char *xfer_status_reason(int status);

#endif
