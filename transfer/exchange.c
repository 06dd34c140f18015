/* Request semantics shared by HTTP/1.1 and HTTP/2: see exchange.h. */
#include "exchange.h"
#include "auth.h"
#include "etag.h"
#include "fs_job.h"
#include "http_date.h"
#include "listing_job.h"
#include "mime.h"
#include "partial_sweep.h"
#include "path.h"
#include "precond.h"
#include "range.h"
#include "url.h"
#include "../acme/status.h"
#include "../acme/thumbprints.h"
#include "../server/ip_guard.h"
#include "../server/log.h"
#include "../server/offload.h"
#include "../server/server.h"
#include "../server/worker.h"
#include "../acme/cluster_guard.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A body held whole (an error's text, the status JSON, a cluster bundle). */
#define BODY_MAX (8u << 20)
/* What the server as a whole allows (OPTIONS *); a path's Allow is allow_of's. */
#define ALLOW "OPTIONS, GET, HEAD, PUT, DELETE, MKCOL"
#define ALLOW_HOME "OPTIONS, GET, HEAD"
#define ALLOW_FOLDER "OPTIONS, GET, HEAD, DELETE"
#define ALLOW_FILE "OPTIONS, GET, HEAD, PUT, DELETE"

const char *xfer_status_reason(int status)
{
	switch (status) {
	case 100: return "Continue";
	case 200: return "OK";
	case 201: return "Created";
	case 204: return "No Content";
	case 206: return "Partial Content";
	case 301: return "Moved Permanently";
	case 304: return "Not Modified";
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 408: return "Request Timeout";
	case 409: return "Conflict";
	case 411: return "Length Required";
	case 412: return "Precondition Failed";
	case 413: return "Content Too Large";
	case 415: return "Unsupported Media Type";
	case 416: return "Range Not Satisfiable";
	case 414: return "URI Too Long";
	case 417: return "Expectation Failed";
	case 421: return "Misdirected Request";
	case 429: return "Too Many Requests";
	case 431: return "Request Header Fields Too Large";
	case 500: return "Internal Server Error";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	case 507: return "Insufficient Storage";
	default: return "Unknown";
	}
}

/* ex->path before the request came, or when memory was short: never freed. */
static char no_target[1];

void xfer_exchange_init(xfer_exchange_t *ex, const wf_config_t *cfg, const char *peer, const char *peer_addr,
			double now, struct wf_worker *worker, xfer_ready_cb on_ready, void *ready_arg)
{
	memset(ex, 0, sizeof(*ex));
	ex->peer_addr = peer_addr;
	ex->worker = worker;
	ex->on_ready = on_ready;
	ex->ready_arg = ready_arg;
	ex->cfg = cfg;
	ex->peer = peer;
	ex->started = now;
	ex->file_fd = -1;
	ex->path = no_target;
	wf_buf_init(&ex->body, BODY_MAX);
	xfer_upload_init(&ex->up, worker);
}

static void add_field(xfer_exchange_t *ex, const char *name, const char *fmt, ...) WF_PRINTF(3, 4);
static void add_field(xfer_exchange_t *ex, const char *name, const char *fmt, ...)
{
	if (ex->nfields == XFER_MAX_FIELDS)
		abort(); /* a bug: no response has this many fields */
	va_list ap;
	va_start(ap, fmt);
	char *v = NULL;
	if (vasprintf(&v, fmt, ap) < 0)
		abort();
	va_end(ap);
	ex->fields[ex->nfields].name = name;
	ex->fields[ex->nfields].value = v;
	ex->nfields++;
}

const char *xfer_exchange_field(const xfer_exchange_t *ex, const char *name)
{
	for (size_t i = 0; i < ex->nfields; i++)
		if (strcmp(ex->fields[i].name, name) == 0)
			return ex->fields[i].value;
	return NULL;
}

static void set_body_text(xfer_exchange_t *ex, const char *content_type, const char *text)
{
	wf_buf_reset(&ex->body);
	wf_buf_append_str(&ex->body, text);
	ex->body_kind = XFER_BODY_BUF;
	ex->content_length = wf_buf_size(&ex->body);
	add_field(ex, "Content-Type", "%s", content_type);
}

/* A final answer with a short text body saying what went wrong. */
static void respond_error(xfer_exchange_t *ex, int status, const char *detail)
{
	ex->state = XFER_EX_RESPOND;
	ex->status = status;
	char text[512];
	snprintf(text, sizeof(text), "%d %s%s%s\n", status, xfer_status_reason(status), detail ? ": " : "",
		 detail ? detail : "");
	set_body_text(ex, "text/plain; charset=utf-8", text);
}

static void respond_status(xfer_exchange_t *ex, int status)
{
	ex->state = XFER_EX_RESPOND;
	ex->status = status;
	ex->body_kind = XFER_BODY_NONE;
	ex->content_length = 0;
}

/* If-Match, If-None-Match or If-Unmodified-Since does not hold: nothing
 * was changed. */
static void respond_precond_failed(xfer_exchange_t *ex)
{
	respond_error(ex, 412, "the file is not as the request's preconditions expect; nothing was changed");
}

/* A Location for rel (decoded, relative to the home), encoded as the
 * listing's links are: up to three bytes for each of rel's, so it is sized
 * to rel, not to the longest path. None when memory is short. */
static void add_location(xfer_exchange_t *ex, const char *rel, bool dir, wf_slice_t query)
{
	size_t cap = 3 * strlen(rel) + 1;
	char *enc = malloc(cap);
	if (enc && xfer_url_encode_path(rel, enc, cap) >= 0)
		add_field(ex, "Location", "/%s%s%s%.*s", enc, dir && rel[0] ? "/" : "", query.len ? "?" : "",
			  (int)query.len, query.ptr);
	free(enc);
}

/* The target's query, as the client sent it, for a redirect to carry on
 * (as nginx's does): "" when there is none, or when it holds a byte a
 * header value should not (a space, a control, anything past ASCII). */
static wf_slice_t query_of(wf_slice_t target)
{
	const char *q = memchr(target.ptr, '?', target.len);
	if (!q)
		return (wf_slice_t){ "", 0 };
	wf_slice_t query = { q + 1, (size_t)(target.ptr + target.len - q - 1) };
	const char *hash = memchr(query.ptr, '#', query.len);
	if (hash)
		query.len = (size_t)(hash - query.ptr);
	for (size_t i = 0; i < query.len; i++)
		if ((unsigned char)query.ptr[i] <= 0x20 || (unsigned char)query.ptr[i] >= 0x7f)
			return (wf_slice_t){ "", 0 };
	return query;
}

static int errno_status(int err)
{
	switch (err) {
	case ENOENT:
	case ENOTDIR:
		return 404;
	case EACCES:
	case EPERM:
	case EXDEV: /* RESOLVE_BENEATH: the path tried to leave the home */
	case ELOOP:
		return 403;
	case ENOSPC:
	case EDQUOT:
		return 507;
	case ENAMETOOLONG: /* a name past NAME_MAX: nothing can have it (nginx: 404) */
		return 404;
	case EMFILE: /* out of descriptors or memory: ours, for a moment */
	case ENFILE:
	case ENOMEM:
		return 503;
	default:
		return 500;
	}
}

/* The request body is not wanted: read it away if small, else close after.
 * An answer worked out off the loop (a listing, a DELETE) drops it
 * meanwhile (drop_body), so a folder and a file fare alike, and a DELETE
 * as before it ran there. */
static void settle_unwanted_body(xfer_exchange_t *ex, const xfer_req_in_t *in)
{
	if (!in->has_body)
		return;
	bool small = in->length_known && in->content_length <= XFER_DISCARD_MAX && !in->expect_continue;
	if (small && ex->state == XFER_EX_RESPOND)
		ex->state = XFER_EX_DISCARD;
	else if (small && ex->state == XFER_EX_WORKING)
		ex->drop_body = true;
	else
		ex->close_after = true;
}

/* The request's preconditions (transfer/precond.h). */
static xfer_precond_in_t precond_of(const xfer_req_in_t *in)
{
	return (xfer_precond_in_t){ in->if_match, in->if_none_match, in->if_unmodified_since, in->if_modified_since };
}

/* The listing's work is over: its page wholly rendered into the driver's
 * output, or measured for a HEAD, or not made at all. Its entries and its
 * place among the connection's listings under way go back now, not when
 * the exchange ends: an HTTP/2 stream lives on after its answer until the
 * client ends its side of it too, which a client need never do (it is
 * reset only once send_timeout passes). Until then they are held, so a
 * client that does not read its pages holds at most
 * XFER_LISTINGS_PER_CONN listings' memory. */
static void listing_release(xfer_exchange_t *ex)
{
	xfer_listing_free(ex->listing);
	ex->listing = NULL;
	if (ex->quota_taken)
		ex->quota->under_way--;
	ex->quota_taken = false;
}

/* Too many listings under way, or too much memory held by them: 503,
 * to be asked again in a moment. */
static void listing_busy(xfer_exchange_t *ex, const char *detail)
{
	respond_error(ex, 503, detail);
	add_field(ex, "Retry-After", "1");
}

/* The listings' budget refused this one (transfer/listing_budget.h). */
static void listing_refused(xfer_exchange_t *ex, xfer_listing_refusal_t why)
{
	xfer_listing_refusal_log(why, "HTTP", ex->peer_addr, (size_t)ex->cfg->limits.listing_memory);
	listing_busy(ex, xfer_listing_refusal_text(why));
}

/* What an HTML listing offers the user besides its links: the upload form
 * for what the user may do in the folder (transfer/listing_form.h). */
static unsigned listing_tools(const xfer_exchange_t *ex)
{
	return (ex->user->perms & WF_PERM_WRITE ? XFER_LISTING_UPLOAD : 0) |
	       (ex->user->perms & WF_PERM_MKDIR ? XFER_LISTING_MKDIR : 0);
}

/* The listing is in (or could not be made): the response. */
static void listing_answer(xfer_exchange_t *ex, xfer_fs_job_t *job)
{
	ex->state = XFER_EX_RESPOND;
	ex->listing = xfer_listing_job_take(job);
	if (!ex->listing) {
		xfer_listing_refusal_t why = xfer_listing_job_refused(job);
		listing_release(ex);
		if (why != XFER_LISTING_GRANTED) {
			listing_refused(ex, why);
			return;
		}
		wf_log_warn("%s user %s: %s could not be listed", ex->peer, ex->user->name, ex->path);
		respond_error(ex, 500, "the folder could not be listed");
		return;
	}
	ex->status = 200;
	ex->body_kind = XFER_BODY_LISTING;
	ex->content_length = xfer_listing_size(ex->listing);
	add_field(ex, "Content-Type", "%s",
		  ex->list_fmt == XFER_LISTING_JSON ? "application/json" : "text/html; charset=utf-8");
	add_field(ex, "Cache-Control", "no-cache");
	add_field(ex, "Vary", "Accept");
	/* Each page gets the least it needs: one without the form runs no
	 * script and makes no request, so its CSP allows neither; one with it
	 * allows its own script (by hash) and requests to this origin. */
	if (ex->list_fmt == XFER_LISTING_HTML)
		add_field(ex, "Content-Security-Policy", "%s",
			  listing_tools(ex) ? xfer_listing_form_csp() : XFER_LISTING_CSP);
	if (ex->head_only)
		listing_release(ex); /* measured: that was all a HEAD needs of it */
}

/* Back on the loop with the listing (the exchange still exists: finishing it
 * first cancels the job, and this never runs). */
static void listing_done(void *arg, xfer_fs_job_t *job)
{
	xfer_exchange_t *ex = arg;
	ex->fs_job = NULL;
	listing_answer(ex, job);
	xfer_fs_job_free(job);
	ex->on_ready(ex, ex->ready_arg);
}

/* A file-system call failed: its answer. Out of descriptors or memory, a
 * moment later may do (Retry-After), and the admin hears of it, a line a
 * minute at most: the limits let clients hold more than the process has. */
static void respond_errno(xfer_exchange_t *ex, int err, const char *detail)
{
	int st = errno_status(err);
	respond_error(ex, st, detail);
	if (st != 503)
		return;
	add_field(ex, "Retry-After", "1");
	static _Atomic time_t logged;
	if (wf_log_minute_due(&logged))
		wf_log_warn("%s user %s: %s refused with 503: %s (a line a minute at most)", ex->peer,
			    ex->user->name, ex->path, strerror(err));
}

/* The download or upload is to hold n descriptors (transfer/file_budget.h):
 * true, and ex->files holds them; or false with a 503 ready, before
 * anything is held, the client's other requests going on. */
static bool files_take(xfer_exchange_t *ex, int n)
{
	wf_guard_refusal_t g;
	int per_client = ex->cfg->limits.open_files_per_client;
	xfer_files_refusal_t why = xfer_file_hold_take(&ex->files, ex->peer_addr, n, per_client, &g);
	if (why == XFER_FILES_GRANTED)
		return true;
	xfer_files_refusal_log(why, &g, per_client, ex->peer, ex->user->name, ex->method, ex->path);
	respond_error(ex, 503, xfer_files_refusal_text(why));
	add_field(ex, "Retry-After", "1");
	return false;
}

/* A GET's file closed before its answer: its descriptor goes back. */
static void file_drop(xfer_exchange_t *ex, int fd)
{
	close(fd);
	xfer_file_hold_end(&ex->files);
}

/* A folder of 100000 entries takes a while to read and sort: that runs on
 * the offload pool (WORKING), so this worker's other connections go on. The
 * job takes dir_fd_take. A listing counts against its connection's quota,
 * and its memory against the listings' budget and the client's share of
 * it, from here until its page is wholly read out (listing_release), or
 * the exchange ends first (the client gone). */
static void serve_listing(xfer_exchange_t *ex, int dir_fd_take, const xfer_req_in_t *in, const char *rel)
{
	if (ex->quota && ex->quota->under_way >= XFER_LISTINGS_PER_CONN) {
		close(dir_fd_take);
		if (!ex->quota->refused)
			wf_log_warn("%s user %s: %s refused with 503: %d listings under way on this connection "
				    "(logged once per connection)",
				    ex->peer, ex->user->name, ex->path, XFER_LISTINGS_PER_CONN);
		ex->quota->refused = true;
		listing_busy(ex, "this connection has folder listings under way; ask again once one is sent");
		return;
	}
	xfer_listing_hold_t hold;
	xfer_listing_refusal_t why = xfer_listing_hold_begin(&hold, ex->peer_addr,
							     (size_t)ex->cfg->limits.listing_memory);
	if (why != XFER_LISTING_GRANTED) {
		close(dir_fd_take);
		listing_refused(ex, why);
		return;
	}
	char url_path[XFER_URL_PATH_MAX + 2]; /* '/', rel, '/' */
	snprintf(url_path, sizeof(url_path), "/%s%s", rel, rel[0] ? "/" : "");
	ex->list_fmt = xfer_listing_pick(in->accept);
	xfer_fs_job_t *job = xfer_listing_job(dir_fd_take, ex->user->home_fd, url_path, ex->list_fmt,
						listing_tools(ex), &hold);
	if (!job) {
		respond_errno(ex, errno, "the folder could not be listed");
		return;
	}
	if (ex->quota) {
		ex->quota->under_way++;
		ex->quota_taken = true;
	}
	if (xfer_fs_job_start(job, ex->worker, listing_done, ex) == WF_OK) {
		ex->fs_job = job;
		ex->state = XFER_EX_WORKING;
		return;
	}
	listing_answer(ex, job); /* no pool: it ran here */
	xfer_fs_job_free(job);
}

static void serve_get(xfer_exchange_t *ex, const xfer_req_in_t *in, const char *rel, bool is_dir)
{
	if (!(ex->user->perms & WF_PERM_READ)) {
		respond_error(ex, 403, "no read permission");
		return;
	}
	/* O_NONBLOCK: opening a FIFO must not hang the worker. */
	int fd = xfer_path_open(ex->user->home_fd, rel, O_RDONLY | O_NONBLOCK, 0);
	if (fd < 0) {
		if (fd == -EXDEV || fd == -ELOOP)
			wf_log_warn("%s user %s: refused path leaving the home: %s", ex->peer, ex->user->name, ex->path);
		respond_errno(ex, -fd, NULL);
		return;
	}
	struct stat st;
	if (fstat(fd, &st) != 0) {
		close(fd);
		respond_error(ex, 500, NULL);
		return;
	}
	if (S_ISDIR(st.st_mode)) {
		if (!is_dir) {
			/* Relative links in the listing need the trailing slash. */
			close(fd);
			respond_error(ex, 301, NULL);
			add_location(ex, rel, true, query_of(in->target));
			return;
		}
		serve_listing(ex, fd, in, rel);
		return;
	}
	if (!S_ISREG(st.st_mode) || is_dir) {
		close(fd);
		respond_error(ex, is_dir ? 404 : 403, NULL);
		return;
	}
	/* Counted from here until the exchange ends (a HEAD's too: it keeps
	 * the file as a GET does); opened a moment before, so that a folder,
	 * a 404 or a 301 costs the client none of its share. */
	if (!files_take(ex, 1)) {
		close(fd);
		return;
	}
	/* RFC 9110 8.8.2.1: no Last-Modified later than the Date (the loop's
	 * time, as the driver's Date is, at or after this): a file dated in
	 * the future is sent as modified now. The preconditions below still
	 * judge its own time, later than any date sent: If-Modified-Since
	 * never makes it 304, If-Range's date never matches it. */
	time_t now = ex->worker ? (time_t)ev_now(ex->worker->loop) : time(NULL);
	char etag[XFER_ETAG_MAX], lm[XFER_HTTP_DATE_LEN];
	xfer_etag_make(&st, etag);
	xfer_http_date_format(st.st_mtime > now ? now : st.st_mtime, lm);
	add_field(ex, "ETag", "%s", etag);
	add_field(ex, "Last-Modified", "%s", lm);
	add_field(ex, "Accept-Ranges", "bytes");

	xfer_precond_in_t pc = precond_of(in);
	xfer_precond_result_t cond = xfer_precond_eval(&pc, &st, true);
	if (cond != XFER_PRECOND_PASS) {
		file_drop(ex, fd);
		if (cond == XFER_PRECOND_NOT_MODIFIED)
			respond_status(ex, 304);
		else
			respond_error(ex, 412, "the file is not as the request's preconditions expect");
		return;
	}

	ex->status = 200;
	ex->file_fd = fd;
	ex->file_off = 0;
	ex->file_len = (uint64_t)st.st_size;

	bool use_range = in->range.ptr != NULL;
	if (use_range && in->if_range.ptr) {
		time_t t;
		use_range = (in->if_range.len && in->if_range.ptr[0] == '"') ?
				    (in->if_range.len == strlen(etag) && memcmp(in->if_range.ptr, etag, strlen(etag)) == 0) :
				    (xfer_http_date_parse(in->if_range, &t) == WF_OK && t == st.st_mtime &&
				     st.st_mtime < now); /* a date is strong a second before the Date (8.8.2.2) */
	}
	if (use_range) {
		uint64_t start, len;
		int r = xfer_range_parse(in->range, (uint64_t)st.st_size, &start, &len);
		if (r == XFER_RANGE_UNSATISFIABLE) {
			ex->file_fd = -1;
			file_drop(ex, fd);
			respond_error(ex, 416, NULL);
			add_field(ex, "Content-Range", "bytes */%" PRIu64, (uint64_t)st.st_size);
			return;
		}
		if (r == XFER_RANGE_OK) {
			ex->status = 206;
			ex->file_off = start;
			ex->file_len = len;
			add_field(ex, "Content-Range", "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, start, start + len - 1,
				  (uint64_t)st.st_size);
		}
	}
	const char *type = xfer_mime_type(rel);
	add_field(ex, "Content-Type", "%s", type);
	/* Files are the users' own uploads: never let one run script on this origin. */
	if (strstr(type, "html") || strstr(type, "svg") || strstr(type, "xml"))
		add_field(ex, "Content-Security-Policy", "sandbox");
	ex->body_kind = XFER_BODY_FILE;
	ex->content_length = ex->file_len;
	ex->state = XFER_EX_RESPOND;
}

/* creates: the request makes the name (PUT, MKCOL), so a missing parent is
 * a conflict the client can resolve (409, RFC 4918 9.7.1). A DELETE below a
 * missing folder has nothing to remove: 404, which sync clients take for
 * "already gone", as nginx answers. A file where a folder should be is a
 * conflict either way (nginx: 409 for ENOTDIR). A name past NAME_MAX
 * cannot exist: a DELETE of it is 404, as a GET's; a PUT or MKCOL is told
 * which limit it passed (400), not 414, as its target is not too long. */
_Static_assert(NAME_MAX == 255, "open_parent's 400 names the limit");
static int open_parent(xfer_exchange_t *ex, const char *rel, const char **leaf, bool creates)
{
	int dfd = xfer_path_open_parent(ex->user->home_fd, rel, leaf);
	if (dfd < 0) {
		if (dfd == -EXDEV || dfd == -ELOOP)
			wf_log_warn("%s user %s: refused path leaving the home: %s", ex->peer, ex->user->name, ex->path);
		if (dfd == -ENAMETOOLONG && creates)
			respond_error(ex, 400, "a name is longer than 255 bytes");
		else if ((dfd == -ENOENT || dfd == -ENAMETOOLONG) && !creates)
			respond_error(ex, 404, NULL);
		else if (errno_status(-dfd) == 404)
			respond_error(ex, 409, "the parent folder does not exist");
		else
			respond_errno(ex, -dfd, NULL);
		return -1;
	}
	if (xfer_path_is_reserved(*leaf)) {
		close(dfd);
		respond_error(ex, 403, "reserved name");
		return -1;
	}
	return dfd;
}

/* Whether rel's last name is there at all, a link to nothing included. */
static bool name_taken(const xfer_exchange_t *ex, const char *rel)
{
	const char *leaf;
	int dfd = xfer_path_open_parent(ex->user->home_fd, rel, &leaf);
	if (dfd < 0)
		return false;
	struct stat st;
	bool taken = fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0;
	close(dfd);
	return taken;
}

/* The methods rel supports (RFC 9110 10.2.1), by what holds the name now:
 * the home (no PUT, MKCOL or DELETE of it), a folder (MKCOL: it exists;
 * PUT: a folder is no file), a file (MKCOL: it exists), or nothing, which
 * only PUT and MKCOL make (with a trailing slash, which names a folder,
 * MKCOL alone). A file named with a trailing slash is no folder, and none
 * can be made there: OPTIONS only. A symbolic link that leads nowhere the
 * lookup may go is a name PUT replaces and DELETE removes, but no folder
 * can take it (MKCOL). Permissions do not count: a user who
 * may not use a method gets 403, not 405. A name the lookup cannot reach
 * lists as nothing. */
static const char *allow_of(const xfer_exchange_t *ex, const char *rel, bool is_dir)
{
	if (!rel[0])
		return ALLOW_HOME;
	int fd = xfer_path_open(ex->user->home_fd, rel, O_PATH, 0);
	struct stat st;
	bool found = fd >= 0 && fstat(fd, &st) == 0;
	if (fd >= 0)
		close(fd);
	if (!found && name_taken(ex, rel)) /* a link to nothing, or to outside the home */
		return is_dir ? "OPTIONS" : "OPTIONS, PUT, DELETE";
	if (!found)
		return is_dir ? "OPTIONS, MKCOL" : "OPTIONS, PUT, MKCOL";
	if (S_ISDIR(st.st_mode))
		return ALLOW_FOLDER;
	return is_dir ? "OPTIONS" : ALLOW_FILE;
}

/* GET /.wharf/cluster/bundle/NAME[?wait=N] on a cluster controller, signed by
 * a follower (docs/cluster.md): the issued key and chain of NAME, sealed to
 * this request, with an ETag for conditional polls. Every answer a follower
 * acts on (200, 304, 404) carries the controller's proof, Wharf-Cluster-Answer;
 * the account thumbprint rides along on each, 404 included, so followers can
 * answer HTTP-01 before the first certificate exists: that of the account
 * NAME's orders use (acme/thumbprints.h), so a new one wakes the wait too. With wait=N and an ETag
 * that is still current, the answer waits (up to N seconds) for a new bundle:
 * followers learn of a renewal within a second. */
#define CLUSTER_WAIT_MAX 60
#define CLUSTER_WAIT_TICK 0.5
_Static_assert(sizeof(((xfer_exchange_t *)0)->cl_nonce) >= ACME_CLUSTER_NONCE_LEN + 1, "cl_nonce holds a nonce");

/* The answer for the bundle as it is now; false when a long poll should
 * keep waiting (it is unchanged and waiting is allowed). */
static bool cluster_answer(xfer_exchange_t *ex, const char *inm, bool may_wait)
{
	char etag[72], thumb[128], proof[65];
	acme_cluster_keys_t keys;
	wf_buf_t pem;
	wf_buf_init(&pem, BODY_MAX);
	int rc = acme_cluster_bundle(ex->cfg, ex->cl_name, &pem, etag);
	bool unchanged = rc == WF_OK && inm && strcmp(inm, etag) == 0;
	if (may_wait && unchanged) {
		acme_cluster_wipe(&pem);
		return false; /* checked again at the next tick */
	}
	/* The account this certificate's orders use, once one has begun;
	 * else the one loaded last. */
	if (!acme_thumbs_get(&acme_thumbs_by_cert, ex->cl_name, strlen(ex->cl_name), thumb))
		acme_cluster_thumbprint(ex->cfg->state_dir, thumb, sizeof(thumb));
	acme_cluster_bind_t b = { ex->cl_name, rc == WF_OK ? etag : "", thumb, ex->cl_nonce };
	wf_buf_reset(&ex->body);
	if (acme_cluster_keys_init(&keys, ex->cfg->cluster.secret) != WF_OK) {
		rc = WF_ERR; /* checked when the request came in: cannot happen */
	} else if (rc == WF_OK && !unchanged && acme_cluster_seal(&keys, &b, wf_buf_slice(&pem), &ex->body) != WF_OK) {
		wf_log_error("cluster: bundle %s for %s could not be sealed", ex->cl_name, ex->peer);
		rc = WF_ERR;
	}
	acme_cluster_wipe(&pem);
	if (rc == WF_ERR) {
		respond_error(ex, 500, NULL);
	} else if (rc != WF_OK) {
		respond_error(ex, 404, "no issued certificate");
	} else if (unchanged) {
		respond_status(ex, 304);
		add_field(ex, "ETag", "%s", etag);
	} else {
		ex->state = XFER_EX_RESPOND;
		ex->status = 200;
		add_field(ex, "ETag", "%s", etag);
		add_field(ex, "Content-Type", "application/octet-stream");
		ex->body_kind = XFER_BODY_BUF;
		ex->content_length = wf_buf_size(&ex->body);
	}
	add_field(ex, "Cache-Control", "no-store");
	if (thumb[0])
		add_field(ex, "Wharf-Account-Thumbprint", "%s", thumb);
	if (ex->status != 500 && acme_cluster_answer_proof(&keys, ex->status, &b, proof) == WF_OK)
		add_field(ex, "Wharf-Cluster-Answer", "%s", proof);
	acme_cluster_keys_fini(&keys);
	return true;
}

/* The serial of the certificate this worker serves under cl_name, or "",
 * with a mark while it is not stored. A bundle is installed in the store
 * after issued.pem is written, or, when that failed, again once it is
 * written (acme/unsaved.c): while this stays the same the bundle on disk
 * does too. */
static void served_serial(xfer_exchange_t *ex, char out[64])
{
	out[0] = '\0';
	wf_certsnap_t *snap = wf_certstore_acquire(&ex->worker->server->certs);
	const wf_certkey_t *ck = wf_certsnap_get(snap, ex->cl_name);
	if (ck)
		snprintf(out, 64, "%.40s%s", ck->serial, ck->unstored ? " unstored" : "");
	wf_certsnap_unref(snap);
}

/* The account thumbprint cl_name's orders use, or "" before one began. */
static void served_thumb(xfer_exchange_t *ex, char out[44])
{
	acme_thumbs_get(&acme_thumbs_by_cert, ex->cl_name, strlen(ex->cl_name), out);
}

static void on_cluster_tick(struct ev_loop *loop, ev_timer *t, int revents)
{
	(void)revents;
	xfer_exchange_t *ex = wf_container_of(t, xfer_exchange_t, cl_wait);
	bool last = ev_now(loop) >= ex->cl_deadline;
	/* Each tick costs a snapshot lookup; the bundle is read from disk and
	 * hashed again only when the served certificate changed (or at the
	 * end). A new account thumbprint is answered at once, 304 or not:
	 * the controller's next order waits for followers to have it. */
	char now[64], thumb[44];
	served_serial(ex, now);
	served_thumb(ex, thumb);
	bool new_thumb = strcmp(thumb, ex->cl_thumb) != 0;
	if (!last && !new_thumb && strcmp(now, ex->cl_serial) == 0)
		return;
	snprintf(ex->cl_serial, sizeof(ex->cl_serial), "%s", now);
	snprintf(ex->cl_thumb, sizeof(ex->cl_thumb), "%s", thumb);
	if (!cluster_answer(ex, ex->cl_etag[0] ? ex->cl_etag : NULL, !last && !new_thumb))
		return;
	ev_timer_stop(loop, t);
	ex->cl_waiting = false;
	if (ex->on_ready)
		ex->on_ready(ex, ex->ready_arg);
}

void xfer_exchange_drain(xfer_exchange_t *ex)
{
	if (!ex->cl_waiting)
		return;
	/* Ended as its wait ends, from the loop (the driver's drain is no place
	 * to be called back): a proved 304, or the new bundle if it just came.
	 * The follower asks again, of another node or of this one restarted. */
	ex->cl_deadline = 0;
	ev_timer_stop(ex->worker->loop, &ex->cl_wait);
	ev_timer_set(&ex->cl_wait, 0, CLUSTER_WAIT_TICK);
	ev_timer_start(ex->worker->loop, &ex->cl_wait);
}

static void serve_cluster_bundle(xfer_exchange_t *ex, const xfer_req_in_t *in)
{
	/* Refused before anything else: reading a body away (DISCARD) and a
	 * long poll's wait (FINISHING) cannot share one exchange. */
	if (in->has_body) {
		/* No follower sends one: logged with the other refusals. */
		acme_cluster_refusals_note(acme_cluster_refusals_shared(), ex->peer_addr, ex->peer,
					   "it has a body (a bundle request takes none)", (int64_t)time(NULL));
		respond_error(ex, 400, "a bundle request takes no body");
		settle_unwanted_body(ex, in);
		return;
	}
	acme_cluster_keys_t keys;
	acme_cluster_auth_t auth;
	int64_t now = (int64_t)time(NULL);
	const char *why = "no cluster secret configured";
	int rc = acme_cluster_keys_init(&keys, ex->cfg->cluster.secret);
	if (rc == WF_OK)
		rc = acme_cluster_auth_check(&keys, in->method, in->target, in->authorization, now, &auth, &why);
	acme_cluster_keys_fini(&keys);
	if (rc == WF_OK) /* signed: only now may it take a place in the record */
		rc = acme_cluster_replay_admit(acme_cluster_replay_shared(), &auth, now, &why);
	/* Logged with a rate limit, and not a failed login (see cluster.h). */
	if (rc != WF_OK) {
		acme_cluster_refusals_note(acme_cluster_refusals_shared(), ex->peer_addr, ex->peer, why, now);
		/* Which check failed tells a prober nothing it could use, and tells
		 * a follower's admin whether to look at the secret or the clock. */
		char detail[256];
		snprintf(detail, sizeof(detail), "%s%s", ACME_CLUSTER_REFUSED, why);
		respond_error(ex, 403, detail);
		return;
	}
	acme_cluster_refusals_flush(acme_cluster_refusals_shared(), now);
	memcpy(ex->cl_nonce, auth.nonce, sizeof(auth.nonce));
	snprintf(ex->user_name, sizeof(ex->user_name), "cluster");
	wf_slice_t n = { in->target.ptr + strlen(ACME_CLUSTER_BUNDLE_PATH),
			 in->target.len - strlen(ACME_CLUSTER_BUNDLE_PATH) };
	int wait = 0;
	const char *q = memchr(n.ptr, '?', n.len);
	if (q) {
		wf_slice_t query = { q + 1, (size_t)(n.ptr + n.len - q - 1) };
		n.len = (size_t)(q - n.ptr);
		if (query.len > 5 && query.len < 8 && memcmp(query.ptr, "wait=", 5) == 0) {
			for (size_t i = 5; i < query.len && query.ptr[i] >= '0' && query.ptr[i] <= '9'; i++)
				wait = wait * 10 + (query.ptr[i] - '0');
			if (wait > CLUSTER_WAIT_MAX)
				wait = CLUSTER_WAIT_MAX;
		}
	}
	if (n.len == 0 || n.len >= sizeof(ex->cl_name) || memchr(n.ptr, '/', n.len)) {
		respond_error(ex, 404, NULL);
		return;
	}
	memcpy(ex->cl_name, n.ptr, n.len);
	ex->cl_name[n.len] = '\0';
	/* One ETag, as followers send it; a list or W/ is simply not current. */
	if (in->if_none_match.ptr && in->if_none_match.len < sizeof(ex->cl_etag)) {
		memcpy(ex->cl_etag, in->if_none_match.ptr, in->if_none_match.len);
		ex->cl_etag[in->if_none_match.len] = '\0';
	}
	/* A server shutting down answers at once: a wait would hold up its
	 * drain for nothing. */
	bool may_wait = wait > 0 && ex->worker && ex->on_ready && !ex->worker->draining;
	if (may_wait) { /* before the bundle is read: a renewal in between is seen */
		served_serial(ex, ex->cl_serial);
		served_thumb(ex, ex->cl_thumb);
	}
	if (cluster_answer(ex, ex->cl_etag[0] ? ex->cl_etag : NULL, may_wait))
		return;
	ex->state = XFER_EX_FINISHING; /* on_ready answers later */
	ex->cl_waiting = true;
	ex->cl_deadline = ev_now(ex->worker->loop) + wait;
	ev_timer_init(&ex->cl_wait, on_cluster_tick, CLUSTER_WAIT_TICK, CLUSTER_WAIT_TICK);
	ev_timer_start(ex->worker->loop, &ex->cl_wait);
}

static void serve_put(xfer_exchange_t *ex, const xfer_req_in_t *in, const char *rel, bool is_dir)
{
	if (!(ex->user->perms & WF_PERM_WRITE)) {
		respond_error(ex, 403, "no write permission");
		return;
	}
	if (is_dir || !rel[0]) {
		respond_error(ex, 405, "cannot PUT a folder; use MKCOL");
		add_field(ex, "Allow", "%s", allow_of(ex, rel, is_dir));
		return;
	}
	/* RFC 9110 14.5: storing the fragment as the whole file would lose data. */
	if (in->content_range.ptr) {
		respond_error(ex, 400, "partial PUT (Content-Range) is not supported");
		return;
	}
	uint64_t limit = (uint64_t)ex->cfg->limits.max_upload_bytes;
	if (in->length_known && in->content_length > limit) {
		respond_error(ex, 413, "upload larger than max_upload_bytes");
		return;
	}
	const char *leaf;
	int dfd = open_parent(ex, rel, &leaf, true);
	if (dfd < 0)
		return;
	struct stat st;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			close(dfd);
			respond_error(ex, 405, "a folder has that name");
			add_field(ex, "Allow", ALLOW_FOLDER);
			return;
		}
		ex->up_existed = true;
	}
	/* Checked now, so a refusal costs no body (it is dropped, or the
	 * connection closed, as for any refused PUT), and again by the commit
	 * right before its rename, against the file as it is then. */
	xfer_precond_in_t pc = precond_of(in);
	xfer_precond_t *cond = NULL;
	if (xfer_precond_any(&pc)) {
		if (xfer_precond_eval(&pc, ex->up_existed ? &st : NULL, false) != XFER_PRECOND_PASS) {
			close(dfd);
			respond_precond_failed(ex);
			return;
		}
		cond = xfer_precond_new(&pc);
		if (!cond) {
			close(dfd);
			respond_error(ex, 500, NULL);
			return;
		}
	}
	/* The temp file and its folder, until the upload is stored or dropped. */
	if (!files_take(ex, 2)) {
		close(dfd);
		xfer_precond_free(cond);
		return;
	}
	int rc = xfer_upload_open(&ex->up, dfd, leaf);
	if (rc < 0) {
		xfer_file_hold_end(&ex->files);
		xfer_precond_free(cond);
		respond_errno(ex, -rc, "cannot create the upload");
		return;
	}
	/* The count goes where the descriptors go: to the commit, or to the
	 * removal of the temp file, which may close them after the request. */
	xfer_file_hold_move(&ex->up.files, &ex->files);
	if (ex->quota) {
		size_t staged = ex->quota->staged;
		xfer_upload_stage_limit(&ex->up, staged < XFER_UPLOAD_STAGES_PER_CONN ? XFER_UPLOAD_STAGES_PER_CONN - staged : 0);
		ex->stage_taken = ex->up.stage_max;
		ex->quota->staged += ex->stage_taken;
	}
	ex->up.cond = cond;
	ex->up.no_replace = xfer_precond_create_only(&pc); /* atomic: never onto a name that was taken */
	ex->up_limit = limit;
	ex->up_length_known = in->length_known;
	ex->up_expected = in->content_length;
	ex->state = XFER_EX_READ_BODY;
	if (!in->has_body)
		xfer_exchange_body_end(ex, true);
}

/* The removal of a dropped upload's temp file, on the offload pool: a
 * detached job (xfer_fs_job_start_detached) holding the folder, and the
 * upload's count in the file budget until it closes it. The job may wait
 * behind other work on the pool long after its request ended: meanwhile
 * the client's share stays taken, so cutting uploads and starting others
 * cannot hold more than the share. */
typedef struct upload_removal {
	int dir_fd;             /* owned: the folder the temp file is in, or -1 */
	char tmp[NAME_MAX + 1]; /* the temp file's name in dir_fd */
	xfer_file_hold_t files; /* owned: the upload's, ended once dir_fd is closed */
} upload_removal_t;

static int removal_step(void *state, bool *more)
{
	upload_removal_t *r = state;
	*more = false;
	unlinkat(r->dir_fd, r->tmp, 0);
	return 0;
}

static void removal_drop(void *state)
{
	upload_removal_t *r = state;
	if (r->dir_fd >= 0)
		close(r->dir_fd);
	xfer_file_hold_end(&r->files);
	free(r);
}

static const xfer_fs_job_ops_t removal_ops = { removal_step, removal_drop };

/* The temp file goes off the loop: it may hold gigabytes, whose blocks an
 * unlink frees before it returns. As xfer_fs_job_discard_upload, but the
 * job takes the upload's files along with its folder. */
static void upload_abort(xfer_exchange_t *ex)
{
	xfer_upload_t *u = &ex->up;
	/* An empty temp file frees nothing: it goes here and now. */
	upload_removal_t *r = u->fd >= 0 && u->written > 0 ? calloc(1, sizeof(*r)) : NULL;
	xfer_fs_job_t *j = NULL;
	if (r) {
		r->dir_fd = -1;
		j = xfer_fs_job_custom(&removal_ops, r); /* drops r when NULL */
	}
	if (j) {
		snprintf(r->tmp, sizeof(r->tmp), "%s", u->tmp);
		xfer_file_hold_move(&r->files, &u->files);
		r->dir_fd = xfer_upload_release(u);
		xfer_fs_job_start_detached(j);
	}
	xfer_upload_discard(u); /* what is left, and its files: an empty temp file, or all of it without a job */
}

/* A write failed: answers and switches to discarding the rest of the body. */
static void upload_failed(xfer_exchange_t *ex, int err)
{
	wf_log_warn("%s user %s: upload of %s failed: %s", ex->peer, ex->user->name, ex->path, strerror(err));
	upload_abort(ex);
	respond_errno(ex, err, err == ENOSPC || err == EDQUOT ? "no space left for this upload" : strerror(err));
	ex->close_after = true;
	ex->state = XFER_EX_DISCARD;
}

void xfer_exchange_body(xfer_exchange_t *ex, const char *data, size_t len)
{
	if (ex->state != XFER_EX_READ_BODY)
		return;
	if (ex->up_received + len > ex->up_limit) {
		upload_abort(ex);
		respond_error(ex, 413, "upload larger than max_upload_bytes");
		ex->close_after = true;
		ex->state = XFER_EX_DISCARD;
		return;
	}
	ex->up_received += len;
	/* Staged, so the file sees a few large writes instead of one per record or frame. */
	int rc = xfer_upload_write(&ex->up, data, len);
	if (rc != WF_OK)
		upload_failed(ex, -rc);
}

/* The upload's commit (fsync, rename: transfer/upload.c) is over. */
static void commit_answer(xfer_exchange_t *ex, int err)
{
	if (err == XFER_PRECOND_REFUSED || (err == EEXIST && ex->up.no_replace)) {
		wf_log_info("%s user %s: upload of %s not stored: the file changed while it came in, and the "
			    "request's preconditions no longer hold", ex->peer, ex->user->name, ex->path);
		respond_precond_failed(ex);
	} else if (err) {
		wf_log_warn("%s user %s: upload of %s could not be stored: %s", ex->peer, ex->user->name, ex->path,
			    strerror(err));
		respond_errno(ex, err, err == ENOSPC || err == EDQUOT ? "no space left for this upload" :
										     strerror(err));
	} else if (ex->up_existed) {
		respond_status(ex, 204);
	} else {
		respond_error(ex, 201, NULL);
		/* From the decoded path, as a 301's: not the raw target, whose
		 * "//host/x" would name another host, "%20" be encoded twice and a
		 * query string kept. None for a target cut short in ex->path. */
		char rel[XFER_URL_PATH_MAX];
		int is_dir = 0;
		if (!ex->path_cut &&
		    xfer_url_to_path((wf_slice_t){ ex->path, strlen(ex->path) }, rel, sizeof(rel), &is_dir) == WF_OK)
			add_location(ex, rel, false, (wf_slice_t){ "", 0 });
	}
}

static void commit_done(void *arg, int err)
{
	xfer_exchange_t *ex = arg;
	ex->up.commit = NULL;
	commit_answer(ex, err);
	if (ex->on_ready)
		ex->on_ready(ex, ex->ready_arg);
}

void xfer_exchange_body_end(xfer_exchange_t *ex, bool complete)
{
	if (ex->state != XFER_EX_READ_BODY)
		return;
	if (!complete || (ex->up_length_known && ex->up_received != ex->up_expected)) {
		wf_log_info("%s user %s: upload of %s cut short after %llu bytes; nothing stored", ex->peer,
			    ex->user->name, ex->path, (unsigned long long)ex->up_received);
		upload_abort(ex);
		respond_error(ex, 400, "upload incomplete");
		ex->close_after = true;
		return;
	}
	ex->state = XFER_EX_FINISHING;
	int err = 0;
	if (xfer_upload_commit(&ex->up, ex->worker, commit_done, ex, &err) == WF_DONE)
		commit_answer(ex, err); /* done inline: the caller reads the answer */
}

/* A change's job at its end: what a DELETE of a folder removed besides
 * is logged, the job freed, and the change's errno returned. */
static int change_end(xfer_exchange_t *ex, xfer_fs_job_t *job)
{
	const char *names;
	bool cut;
	size_t n = xfer_fs_job_removed(job, &names, &cut);
	if (n)
		wf_log_info("%s user %s: DELETE %s: removed %zu interrupted upload%s left in it: %s%s", ex->peer,
			    ex->user->name, ex->path, n, n == 1 ? "" : "s", names, cut ? ", ..." : "");
	int err = xfer_fs_job_err(job);
	xfer_fs_job_free(job);
	return err;
}

/* The change to the tree is made, or failed with err. */
static void change_done(void *arg, xfer_fs_job_t *job)
{
	xfer_exchange_t *ex = arg;
	ex->fs_job = NULL;
	ex->fs_answer(ex, change_end(ex, job));
	ex->on_ready(ex, ex->ready_arg);
}

/* A DELETE's or MKCOL's change, with the fsync of its folder before the
 * answer, runs on the offload pool (WORKING): an unlink frees a large
 * file's blocks before it returns, and a folder's fsync waits for the disk,
 * each long enough to hold every other connection of this worker. The job
 * works in the folder opened beneath the home, never by path. An exchange
 * that ends first (the client left) lets go of it: one the pool has not
 * taken up changes nothing, one under way is made. answer makes the
 * response from the change's errno (0: made). */
static void change_tree(xfer_exchange_t *ex, xfer_fs_job_t *job, void (*answer)(xfer_exchange_t *ex, int err))
{
	if (!job) {
		answer(ex, ENOMEM);
		return;
	}
	ex->fs_answer = answer;
	if (xfer_fs_job_start(job, ex->worker, change_done, ex) == WF_OK) {
		ex->fs_job = job;
		ex->state = XFER_EX_WORKING;
		return;
	}
	answer(ex, change_end(ex, job)); /* no pool: it ran here */
}

/* job with the request's preconditions, checked by the job right before
 * its change; NULL (ENOMEM) when they cannot be copied. */
static xfer_fs_job_t *guarded(xfer_fs_job_t *job, const xfer_req_in_t *in)
{
	xfer_precond_in_t pc = precond_of(in);
	if (!job || !xfer_precond_any(&pc))
		return job;
	xfer_precond_t *cond = xfer_precond_new(&pc);
	if (!cond) {
		xfer_fs_job_free(job);
		return NULL;
	}
	xfer_fs_job_guard(job, cond);
	return job;
}

static void delete_answer(xfer_exchange_t *ex, int err)
{
	if (err == 0)
		respond_status(ex, 204);
	else if (err == XFER_PRECOND_REFUSED)
		respond_precond_failed(ex);
	else if (err == ENOTEMPTY || err == EEXIST)
		respond_error(ex, 409, "the folder is not empty");
	else if (err == EBUSY) /* a live upload's temp file in it */
		respond_error(ex, 409, "an upload into the folder is under way");
	else if (err == ENOTDIR) /* "name/" names a folder: a file has the name */
		respond_error(ex, 409, "not a folder: a trailing slash names a folder");
	else
		respond_errno(ex, err, NULL);
}

/* is_dir: the path ended in '/', which names a folder, so only a folder
 * goes. A file of that name stays and gets 409, as nginx's WebDAV module
 * answers (Apache's mod_dav says 400): the client's idea of the name
 * conflicts with what holds it. Not 404, which sync clients take for
 * "already gone" while the file is still there. */
static void serve_delete(xfer_exchange_t *ex, const xfer_req_in_t *in, const char *rel, bool is_dir)
{
	if (!(ex->user->perms & WF_PERM_DELETE)) {
		respond_error(ex, 403, "no delete permission");
		return;
	}
	if (!rel[0]) {
		respond_error(ex, 403, "the home folder cannot be deleted");
		return;
	}
	const char *leaf;
	int dfd = open_parent(ex, rel, &leaf, false);
	if (dfd < 0)
		return;
	/* A folder goes with the partials of interrupted FTP uploads parked
	 * in it (docs/ftps.md), which no listing shows, and the temp files a
	 * dead process left there, as RMD's; a file with its own partial, as
	 * DELE's, so an APPE cannot bring back what was deleted. */
	time_t orphan_age = xfer_upload_orphan_age(ex->cfg->limits.send_timeout);
	char partial[NAME_MAX + 1];
	if (xfer_path_partial_name(leaf, partial, sizeof(partial)) != 0)
		partial[0] = '\0';
	change_tree(ex,
		    guarded(xfer_fs_job_delete_any(dfd, leaf, partial, is_dir, orphan_age, wf_server->started), in),
		    delete_answer);
}

static void mkcol_answer(xfer_exchange_t *ex, int err)
{
	if (err == 0)
		respond_error(ex, 201, NULL);
	else if (err == XFER_PRECOND_REFUSED)
		respond_precond_failed(ex);
	else if (err == EEXIST) {
		/* Made in the moment since serve_mkcol looked, most likely by
		 * another MKCOL: a folder's methods. */
		respond_error(ex, 405, "it exists already");
		add_field(ex, "Allow", ALLOW_FOLDER);
	}
	else
		respond_errno(ex, err, NULL);
}

static void serve_mkcol(xfer_exchange_t *ex, const xfer_req_in_t *in, const char *rel, bool is_dir)
{
	if (!(ex->user->perms & WF_PERM_MKDIR)) {
		respond_error(ex, 403, "no mkdir permission");
		return;
	}
	if (in->has_body) {
		respond_error(ex, 415, "MKCOL takes no body");
		return;
	}
	if (!rel[0]) {
		respond_error(ex, 405, "the home folder exists");
		add_field(ex, "Allow", ALLOW_HOME);
		return;
	}
	const char *leaf;
	int dfd = open_parent(ex, rel, &leaf, true);
	if (dfd < 0)
		return;
	/* A taken name is 405 whatever the preconditions (RFC 9110 13.2.2),
	 * with what the name allows; the mkdir's EEXIST catches one taken
	 * after this look. */
	struct stat st;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		close(dfd);
		respond_error(ex, 405, "it exists already");
		add_field(ex, "Allow", "%s", allow_of(ex, rel, is_dir));
		return;
	}
	change_tree(ex, guarded(xfer_fs_job_mkdir(dfd, leaf), in), mkcol_answer);
}

enum { M_GET, M_HEAD, M_PUT, M_DELETE, M_MKCOL, M_OPTIONS, M_OTHER };

static int method_of(wf_slice_t method)
{
	static const char *const names[] = { "GET", "HEAD", "PUT", "DELETE", "MKCOL", "OPTIONS" };
	for (int i = 0; i < M_OTHER; i++)
		if (wf_slice_eq(method, names[i]))
			return i;
	return M_OTHER;
}

/* ---------------------------------------------------------------- login */

static void serve_user(xfer_exchange_t *ex, const xfer_req_in_t *in, const wf_user_cfg_t *user);

/* No credentials, or refused ones (failed: they were sent; a refusal reached
 * here, not by a job, is counted toward the address's ban by the caller). */
static void refuse_login(xfer_exchange_t *ex, const xfer_req_in_t *in, bool failed)
{
	if (failed) {
		wf_log_warn("%s: login failed for user \"%s\"", ex->peer, ex->user_name);
		ex->login_failed = true;
	}
	ex->user_name[0] = '\0';
	respond_error(ex, 401, NULL);
	add_field(ex, "WWW-Authenticate", "Basic realm=\"wharf\", charset=\"UTF-8\"");
	settle_unwanted_body(ex, in);
}

/* Copies the request for after the password check: the driver's buffers
 * move on meanwhile. The password is not kept. WF_OK or WF_ERR (memory). */
static int hold_request(xfer_exchange_t *ex, const xfer_req_in_t *in)
{
	ex->held = *in;
	ex->held.authorization = (wf_slice_t){ NULL, 0 };
	wf_slice_t *f[] = { &ex->held.method, &ex->held.target, &ex->held.range, &ex->held.if_range,
			    &ex->held.if_none_match, &ex->held.if_modified_since, &ex->held.accept,
			    &ex->held.host, &ex->held.content_range, &ex->held.if_match,
			    &ex->held.if_unmodified_since };
	size_t total = 1;
	for (size_t i = 0; i < WF_ARRAY_LEN(f); i++)
		total += f[i]->len;
	ex->held_bytes = malloc(total);
	if (!ex->held_bytes)
		return WF_ERR;
	size_t off = 0;
	for (size_t i = 0; i < WF_ARRAY_LEN(f); i++) {
		if (!f[i]->ptr)
			continue;
		memcpy(ex->held_bytes + off, f[i]->ptr, f[i]->len);
		f[i]->ptr = ex->held_bytes + off;
		off += f[i]->len;
	}
	return WF_OK;
}

static void drop_held(xfer_exchange_t *ex)
{
	free(ex->held_bytes);
	ex->held_bytes = NULL;
	memset(&ex->held, 0, sizeof(ex->held));
}

/* Refused inline: counted toward the address's ban here. */
static void refuse_counted(xfer_exchange_t *ex, const xfer_req_in_t *in)
{
	xfer_auth_failed(ex->cfg, ex->peer_addr, (time_t)ex->started);
	refuse_login(ex, in, true);
}

static void refuse_banned(xfer_exchange_t *ex, const xfer_req_in_t *in, int ban_left)
{
	respond_error(ex, 429, "too many failed logins from your address");
	add_field(ex, "Retry-After", "%d", ban_left > 0 ? ban_left : 1);
	ex->user_name[0] = '\0';
	settle_unwanted_body(ex, in);
}

/* The password check on the pool is over (the exchange still exists; the
 * job has counted a failure already). */
static void auth_done(void *arg, xfer_auth_result_t result, const wf_user_cfg_t *user)
{
	xfer_exchange_t *ex = arg;
	ex->auth_job = NULL;
	ex->state = XFER_EX_RESPOND;
	int ban_left = 0;
	if (result == XFER_AUTH_ACCEPTED)
		serve_user(ex, &ex->held, user);
	else if (result == XFER_AUTH_BANNED)
		refuse_banned(ex, &ex->held,
			      wf_ipguard_banned(ex->peer_addr, (time_t)ex->started, &ban_left) ? ban_left : 0);
	else
		refuse_login(ex, &ex->held, true);
	drop_held(ex);
	ex->on_ready(ex, ex->ready_arg);
}

/* Basic authentication. A password the server has checked before is
 * answered inline; any other goes to the offload pool, because crypt(3) would
 * stall every connection of this worker for milliseconds, a cost any client
 * could impose with wrong passwords. A client banned for failed logins gets
 * 429 for every login, unchecked: were a password known good still let in,
 * the ban would answer right guesses of it with 200 and wrong ones with 429,
 * an oracle at the speed of requests. */
static void authenticate(xfer_exchange_t *ex, const xfer_req_in_t *in)
{
	int ban_left = 0;
	if (!in->authorization.ptr) {
		refuse_login(ex, in, false);
		return;
	}
	if (ex->peer_addr && wf_ipguard_banned(ex->peer_addr, (time_t)ex->started, &ban_left)) {
		refuse_banned(ex, in, ban_left);
		return;
	}
	char user[XFER_AUTH_USER_MAX], pass[XFER_AUTH_PASS_MAX];
	if (xfer_auth_parse_basic(in->authorization, user, sizeof(user), pass, sizeof(pass)) != WF_OK) {
		snprintf(ex->user_name, sizeof(ex->user_name), "?");
		refuse_counted(ex, in);
		return;
	}
	snprintf(ex->user_name, sizeof(ex->user_name), "%.*s", (int)sizeof(ex->user_name) - 1, user);
	wf_slice_t u = { user, strlen(user) }, p = { pass, strlen(pass) };
	const wf_user_cfg_t *found = NULL;
	xfer_auth_verdict_t v = xfer_auth_cached(ex->cfg, u, p, &found);
	if (v == XFER_AUTH_OK) {
		serve_user(ex, in, found);
	} else if (v == XFER_AUTH_REFUSED) {
		refuse_counted(ex, in);
	} else {
		int rc = hold_request(ex, in);
		if (rc == WF_OK)
			rc = xfer_auth_start(ex->worker, ex->cfg, ex->peer_addr, u, p, auth_done, ex, &ex->auth_job);
		if (rc == WF_OK) {
			ex->state = XFER_EX_AUTHENTICATING;
		} else if (rc == WF_AGAIN) {
			drop_held(ex);
			ex->user_name[0] = '\0';
			respond_error(ex, 503, "too many logins being checked; try again");
			add_field(ex, "Retry-After", "1");
			settle_unwanted_body(ex, in);
		} else {
			drop_held(ex);
			/* No pool (one-shot tools, tests) or no memory: check here. */
			found = xfer_auth_check(ex->cfg, u, p);
			if (found)
				serve_user(ex, in, found);
			else
				refuse_counted(ex, in);
		}
	}
	gnutls_memset(pass, 0, sizeof(pass));
}

/* A request in a cluster node's name (the Wharf-Cluster scheme) that is no
 * bundle request this node serves: on a node that is no controller (a
 * follower's controller setting names the wrong node: a plain server,
 * another follower, the balancer's name), 421, whose words the follower
 * looks for; on the controller (a target no follower builds: an older
 * one, or another program), 403 with the reason,
 * as for a failed check. Logged with the controller's refusals, which say
 * it once and then count; never a failed login, whatever the node: a ban
 * would shut out every user behind the node's address. */
static void refuse_cluster(xfer_exchange_t *ex, const xfer_req_in_t *in, bool get_or_head)
{
	int64_t now = (int64_t)time(NULL);
	const char *why;
	if (!acme_cluster_is_controller(ex->cfg)) {
		why = ACME_CLUSTER_NOT_CONTROLLER " (a follower's controller setting names this node?)";
		respond_error(ex, 421, ACME_CLUSTER_NOT_CONTROLLER);
	} else {
		why = get_or_head ? "its path is not " ACME_CLUSTER_BUNDLE_PATH "NAME" :
				    "its method is not GET or HEAD";
		char detail[256];
		snprintf(detail, sizeof(detail), "%s%s", ACME_CLUSTER_REFUSED, why);
		respond_error(ex, 403, detail);
	}
	acme_cluster_refusals_note(acme_cluster_refusals_shared(), ex->peer_addr, ex->peer, why, now);
	settle_unwanted_body(ex, in);
}

void xfer_exchange_begin(xfer_exchange_t *ex, const xfer_req_in_t *in)
{
	ex->proto = in->proto;
	snprintf(ex->method, sizeof(ex->method), "%.*s", (int)(in->method.len < 15 ? in->method.len : 15),
		 in->method.ptr);
	/* Whole up to the longest href this server makes. */
	ex->path_cut = in->target.len > XFER_URL_HREF_MAX;
	char *path = strndup(in->target.ptr, ex->path_cut ? XFER_URL_HREF_MAX : in->target.len);
	if (path) {
		ex->path = path;
	} else {
		ex->path_cut = true;
	}

	int m = method_of(in->method);
	ex->head_only = m == M_HEAD;

	/* A head past the cap is answered as HTTP/1.1 answers it, unread
	 * beyond that: no login, no path. */
	if (in->head_refused) {
		respond_error(ex, in->head_refused,
			      in->head_refused == 414 ? "the request's target passes limits.max_header_bytes" :
							"the request's header fields pass limits.max_header_bytes");
		settle_unwanted_body(ex, in);
		return;
	}
	/* RFC 9110 5.3: such a field may not be repeated. Taking either line
	 * would make us read another request than a proxy in front might
	 * (which user, which bytes). */
	if (in->repeated) {
		char why[80];
		snprintf(why, sizeof(why), "the request has %s twice", in->repeated);
		respond_error(ex, 400, why);
		settle_unwanted_body(ex, in);
		return;
	}

	/* RFC 9112 3.2, for HTTP/2's :authority as for Host (which HTTP/1.1
	 * refuses before this, closing the connection, as a missing one). */
	if (in->host.ptr && !xfer_url_host_valid(in->host)) {
		respond_error(ex, 400, "the request's host is not a valid host name or address");
		settle_unwanted_body(ex, in);
		return;
	}

	/* Cluster followers fetch bundles with the shared secret, not as users. */
	if (acme_cluster_is_controller(ex->cfg) && (m == M_GET || m == M_HEAD) &&
	    in->target.len > strlen(ACME_CLUSTER_BUNDLE_PATH) &&
	    memcmp(in->target.ptr, ACME_CLUSTER_BUNDLE_PATH, strlen(ACME_CLUSTER_BUNDLE_PATH)) == 0) {
		serve_cluster_bundle(ex, in); /* refuses a body itself */
		return;
	}
	if (acme_cluster_auth_is_cluster(in->authorization)) {
		refuse_cluster(ex, in, m == M_GET || m == M_HEAD);
		return;
	}
	authenticate(ex, in);
}

/* The request of an authenticated user: what it asks for. */
static void serve_user(xfer_exchange_t *ex, const xfer_req_in_t *in, const wf_user_cfg_t *user)
{
	int m = method_of(in->method);
	/* A connection keeps the config it was accepted under, but not an
	 * account a reload has removed or changed since: the password checked
	 * out against the old one. Not counted as a failed login. */
	if (ex->worker && !wf_config_user_current(ex->worker->cfg, ex->cfg, user)) {
		wf_log_info("%s user %s: account removed or changed by a reload since this connection came; "
			    "refused", ex->peer, user->name);
		snprintf(ex->user_name, sizeof(ex->user_name), "%s", user->name);
		refuse_login(ex, in, false);
		return;
	}
	ex->user = user;
	snprintf(ex->user_name, sizeof(ex->user_name), "%s", ex->user->name);

	/* Reserved for admins only; for everyone else it is an ordinary path. */
	if ((ex->user->perms & WF_PERM_ADMIN) && (m == M_GET || m == M_HEAD) &&
	    (wf_slice_eq(in->target, "/.wharf/status") || wf_slice_eq(in->target, "/.wharf/status/"))) {
		ex->state = XFER_EX_RESPOND;
		ex->status = 200;
		wf_buf_reset(&ex->body);
		if (acme_status_json(ex->cfg, &ex->body) != WF_OK) {
			respond_error(ex, 500, "status unavailable");
			return;
		}
		wf_buf_append_str(&ex->body, "\n");
		ex->body_kind = XFER_BODY_BUF;
		ex->content_length = wf_buf_size(&ex->body);
		add_field(ex, "Content-Type", "application/json");
		add_field(ex, "Cache-Control", "no-store");
		settle_unwanted_body(ex, in);
		return;
	}

	/* The server as a whole (RFC 9110 9.3.7): what any path allows. */
	if (m == M_OPTIONS && wf_slice_eq(in->target, "*")) {
		respond_status(ex, 204);
		add_field(ex, "Allow", ALLOW);
		settle_unwanted_body(ex, in);
		return;
	}

	char rel[XFER_URL_PATH_MAX];
	int is_dir = 0;
	int rc = xfer_url_to_path(in->target, rel, sizeof(rel), &is_dir);
	if (rc != WF_OK) {
		if (rc == XFER_URL_TOO_LONG)
			respond_error(ex, 414, "path longer than the file system takes");
		else
			respond_error(ex, 400, "bad path");
		settle_unwanted_body(ex, in);
		return;
	}
	/* Upload temp files are invisible and untouchable through requests. */
	for (char *seg = rel; seg && *seg;) {
		char *slash = strchr(seg, '/');
		if (slash)
			*slash = '\0';
		bool hidden = xfer_path_is_reserved(seg);
		if (slash)
			*slash = '/';
		if (hidden) {
			respond_error(ex, 404, NULL);
			settle_unwanted_body(ex, in);
			return;
		}
		seg = slash ? slash + 1 : NULL;
	}

	switch (m) {
	case M_GET:
	case M_HEAD:
		serve_get(ex, in, rel, is_dir);
		break;
	case M_PUT:
		serve_put(ex, in, rel, is_dir); /* reads the body itself, or refuses (settled below) */
		break;
	case M_DELETE:
		serve_delete(ex, in, rel, is_dir);
		break;
	case M_MKCOL:
		serve_mkcol(ex, in, rel, is_dir);
		break;
	case M_OPTIONS:
		respond_status(ex, 204);
		add_field(ex, "Allow", "%s", allow_of(ex, rel, is_dir));
		break;
	case M_OTHER:
		respond_error(ex, 501, "method not supported");
		add_field(ex, "Allow", "%s", allow_of(ex, rel, is_dir));
		break;
	}
	if (ex->state != XFER_EX_READ_BODY)
		settle_unwanted_body(ex, in);
}

ssize_t xfer_exchange_read(xfer_exchange_t *ex, char *dst, size_t cap)
{
	if (ex->head_only)
		return 0;
	if (ex->body_kind == XFER_BODY_BUF) {
		size_t n = wf_buf_size(&ex->body);
		if (n > cap)
			n = cap;
		memcpy(dst, wf_buf_head(&ex->body), n);
		wf_buf_consume(&ex->body, n);
		ex->bytes_sent += n;
		return (ssize_t)n;
	}
	if (ex->body_kind == XFER_BODY_LISTING) {
		if (!ex->listing)
			return 0; /* wholly read, and let go of */
		ssize_t n = xfer_listing_read(ex->listing, dst, cap);
		if (n < 0)
			wf_log_warn("%s: listing %s failed after %llu bytes: out of memory", ex->peer, ex->path,
				    (unsigned long long)ex->bytes_sent);
		else
			ex->bytes_sent += (uint64_t)n;
		if (xfer_listing_left(ex->listing) == 0)
			listing_release(ex);
		return n;
	}
	if (ex->body_kind == XFER_BODY_FILE) {
		size_t n = ex->file_len < cap ? (size_t)ex->file_len : cap;
		if (n == 0)
			return 0;
		ssize_t r;
		do
			r = pread(ex->file_fd, dst, n, (off_t)ex->file_off);
		while (r < 0 && errno == EINTR);
		if (r <= 0) {
			/* The file shrank under us, or the disk failed: the promised length
			 * cannot be kept, so the connection must close. */
			wf_log_warn("%s: reading %s failed after %llu bytes: %s", ex->peer, ex->path,
				    (unsigned long long)ex->bytes_sent, r < 0 ? strerror(errno) : "file truncated");
			return -1;
		}
		ex->file_off += (uint64_t)r;
		ex->file_len -= (uint64_t)r;
		ex->bytes_sent += (uint64_t)r;
		return r;
	}
	return 0;
}

uint64_t xfer_exchange_body_left(const xfer_exchange_t *ex)
{
	switch (ex->body_kind) {
	case XFER_BODY_BUF:
		return wf_buf_size(&ex->body);
	case XFER_BODY_FILE:
		return ex->file_len;
	case XFER_BODY_LISTING:
		return ex->listing ? xfer_listing_left(ex->listing) : 0;
	case XFER_BODY_NONE:
		break;
	}
	return 0;
}

void xfer_exchange_finish(xfer_exchange_t *ex, double now)
{
	/* A request whose connection ended before its answer was decided (during
	 * a password check, while an upload was being made durable, a folder
	 * was being listed or a DELETE or MKCOL made its change; mostly a client
	 * that left, else a shutdown)
	 * still gets its line, with nginx's 499: "the client closed first". */
	int status = ex->status ? ex->status : ex->method[0] ? XFER_STATUS_CLIENT_LEFT : 0;
	if (status)
		wf_log_access(ex->peer, ex->user_name[0] ? ex->user_name : NULL,
			      (wf_slice_t){ ex->method, strlen(ex->method) }, (wf_slice_t){ ex->path, strlen(ex->path) },
			      ex->proto ? ex->proto : "-", status, ex->bytes_sent, now - ex->started);
	xfer_upload_detach(&ex->up); /* a commit in flight finishes alone */
	xfer_auth_cancel(ex->auth_job); /* so does a password check */
	ex->auth_job = NULL;
	/* and a folder's listing, which frees itself, or a change to the tree,
	 * made only if under way */
	xfer_fs_job_cancel(ex->fs_job);
	ex->fs_job = NULL;
	listing_release(ex);
	if (ex->stage_taken)
		ex->quota->staged -= ex->stage_taken;
	ex->stage_taken = 0;
	drop_held(ex);
	if (ex->path != no_target)
		free(ex->path);
	ex->path = no_target;
	if (ex->cl_waiting) {
		ev_timer_stop(ex->worker->loop, &ex->cl_wait); /* the follower went away mid-wait */
		ex->cl_waiting = false;
	}
	upload_abort(ex);
	if (ex->file_fd >= 0)
		close(ex->file_fd);
	ex->file_fd = -1;
	/* A download's file. An upload's files went with its descriptors
	 * (ex->up.files): to a commit in flight, or to the temp file's
	 * removal, counted until those close them on the pool. */
	xfer_file_hold_end(&ex->files);
	for (size_t i = 0; i < ex->nfields; i++)
		free(ex->fields[i].value);
	ex->nfields = 0;
	wf_buf_fini(&ex->body);
	xfer_upload_fini(&ex->up);
}
