/* FTP data channels: one per PASV/EPSV/PORT/EPRT, carrying one transfer.
 *
 *   LISTENING (PASV) or CONNECTING (PORT)
 *     -> CONNECTED (TCP up; with PROT P the TLS handshake runs)
 *     -> READY (secured, and resumed from the control session when required)
 *     -> the transfer pumps in data_on_io -> 226, or 425/426/451/452
 *   GONE: the connection failed or ended before a transfer used it; the
 *   reason is kept for the transfer command that comes next.
 *
 * A transfer, once its command was accepted (150), goes through phases of
 * its own, whatever the connection's state:
 *   PREPARE (a job on the offload pool copies the kept head of the file for
 *   APPE or REST+STOR; nothing moves. A listing has none: its folder was
 *   read before its 150, and its lines move at once)
 *     -> MOVE (bytes go over the data connection)
 *     -> COMMIT (an upload is made durable off the loop)
 *     -> the final reply. ABOR, QUIT or a lost connection in PREPARE cancel
 *   the job (its temp file goes); in COMMIT the commit finishes first.
 * An upload that resumes a partial never drops it: a data connection that
 * fails before any byte came (never made, reset, refused) parks it again
 * as it was claimed, as an interruption in MOVE parks what arrived. A
 * COMMIT whose rename fails (a folder took the name) parks the file, whole
 * on disk, less its last byte (transfer/upload.h), fresh or resumed; one
 * whose fsync fails drops it, as its bytes may not be on disk. A
 * temp file that goes (a fresh upload's, or one past max_upload_bytes or
 * a write failure) is removed off the loop: it may hold gigabytes.
 *
 * The data connection is a wf_conn of its own (TLS filter, buffers, timers)
 * whose protocol is this file; the channel belongs to the session, and the
 * connection only points back at it. Replies go to the control connection,
 * which ftp_wake makes deliver them from its own callback. */
#include "ftp_int.h"
#include "../server/ip_guard.h"
#include "../server/log.h"
#include "../server/tls.h"
#include "../server/worker.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHUNK (64 * 1024)  /* file bytes read, or wire bytes taken, at once */
#define ROUNDS 64          /* chunks per callback before other connections get a turn */
/* ASCII conversion output: a download reads CHUNK / 2 file bytes, which at
 * most double; an upload converts a read of up to CHUNK wire bytes, and a CR
 * held back from the read before goes out ahead of them: CHUNK + 1. */
#define CONV_ROOM (CHUNK + 1)

typedef enum ftp_phase {
	PHASE_PREPARE,
	PHASE_MOVE,
	PHASE_COMMIT,
} ftp_phase_t;

typedef enum data_state {
	DATA_LISTENING,
	DATA_CONNECTING,
	DATA_CONNECTED,
	DATA_READY,
	DATA_GONE,
} data_state_t;

struct ftp_data {
	xfer_ftp_t *f;         /* borrowed: the session that owns this channel */
	data_state_t state;
	int sock;              /* owned: the listening (PASV) or connecting (PORT) socket, or -1 */
	bool share_held;       /* the listener counts against its client's share of the port range */
	ev_io sock_io;
	ev_timer wait;         /* the data connection must be up within data_connect_timeout */
	wf_conn_t *conn;       /* borrowed: the data connection while it lives (its proto_data is this) */
	char gone_why[160];    /* GONE: why, for the 425 */
	/* the transfer, once a command started one */
	ftp_xfer_kind_t kind;
	char what[FTP_PATH_MAX]; /* virtual path, for replies and logs */
	const char *verb;
	bool ascii;
	bool prev_cr;          /* ASCII: the last byte seen was a CR (download: written; upload: held back) */
	int fd;                /* owned: the file sent, or -1 */
	uint64_t off, end;
	wf_buf_t *list;        /* owned: the listing sent */
	bool list_cut;         /* the listing left entries out ... */
	size_t list_count;     /* ... and holds these */
	xfer_upload_t *up;     /* owned: the upload received */
	bool resumed;          /* up is a claimed partial: never dropped unless it is garbage */
	bool held;             /* a job of the session runs (ftp_data_hold): no connect timeout */
	bool offered_session;  /* the data handshake's ClientHello offered a ticket to resume */
	char partial[NAME_MAX + 1];
	ftp_phase_t phase;     /* of the transfer, while kind is not FTP_X_NONE */
	xfer_fs_job_t *job;    /* borrowed: PREPARE's job (an upload's copy), which owns itself until it is done */
	unsigned abors;        /* ABORs that came during the commit: answered after the upload's reply */
	bool quit;             /* QUIT came during the upload: 221 and the close after its reply */
	char *chunk;           /* owned: CHUNK bytes of staging */
	size_t chunk_len, chunk_off;
	char *conv;            /* owned: ASCII conversion room (CONV_ROOM) */
	uint64_t moved;        /* bytes over the data connection */
	/* Once bytes can move (data_on_io's first pump; before, the waits are
	 * ours or the connect's): when they last did, and limits.min_rate's
	 * window, from rate_from with moved at rate_mark then. */
	ev_tstamp last_moved, rate_from;
	uint64_t rate_mark;
	ev_tstamp started;
};

static const wf_proto_t data_proto;

static ftp_data_t *D(wf_conn_t *c)
{
	return c->proto_data;
}

static uint64_t park(ftp_data_t *d);

/* ---------------------------------------------------------------- teardown */

static void stop_waiting(ftp_data_t *d)
{
	struct ev_loop *loop = wf_conn_loop(d->f->conn);
	ev_timer_stop(loop, &d->wait);
	if (d->sock >= 0) {
		ev_io_stop(loop, &d->sock_io);
		close(d->sock);
		d->sock = -1;
	}
	if (d->share_held) { /* the listener is closed, whatever closed it */
		wf_ipguard_passive_give(d->f->conn->peer_addr);
		d->share_held = false;
	}
}

/* Closes the data connection from our side (close_notify, then FIN). */
static void drop_conn(ftp_data_t *d)
{
	wf_conn_t *c = d->conn;
	if (!c)
		return;
	d->conn = NULL;
	c->proto_data = NULL; /* its on_close must not come back here */
	wf_conn_close(c);
}

static void free_transfer(ftp_data_t *d)
{
	if (d->job) {
		xfer_fs_job_cancel(d->job); /* it drops what it holds and frees itself */
		d->job = NULL;
	}
	if (d->fd >= 0)
		close(d->fd);
	d->fd = -1;
	if (d->list) {
		xfer_ftp_listing_free(d->list); /* and its count against the listings' budget */
		d->list = NULL;
	}
	if (d->up) {
		/* Still open here: neither committed, parked nor dropped on
		 * purpose. A resumed upload's partial goes back (the client
		 * resumes it later); a fresh temp file goes, off the loop. */
		if (d->resumed && d->up->fd >= 0)
			park(d);
		if (d->up)
			xfer_fs_job_drop_upload(d->up);
		d->up = NULL;
	}
	free(d->chunk);
	free(d->conv);
	d->chunk = d->conv = NULL;
	d->kind = FTP_X_NONE;
}

/* The channel is done: one transfer per PASV/PORT. */
static void channel_free(ftp_data_t *d)
{
	xfer_ftp_t *f = d->f;
	stop_waiting(d);
	drop_conn(d);
	free_transfer(d);
	if (f->data == d)
		f->data = NULL;
	free(d);
}

static void log_transfer(ftp_data_t *d, int status)
{
	ftp_log_transfer(d->f, d->verb, d->what, status, d->moved, d->started);
}

/* Ends the transfer with its final reply, and the channel with it. */
/* How an interrupted upload goes on, for its 426: from what was kept, or
 * from the start when nothing was (a cut before the first byte keeps no
 * empty partial, so REST 0 would name nothing). */
static const char *kept_text(uint64_t kept, char *buf, size_t cap)
{
	if (!kept)
		return "nothing kept: send the whole file again";
	snprintf(buf, cap, "%llu bytes kept: resume with REST %llu and STOR, or APPE", (unsigned long long)kept,
		 (unsigned long long)kept);
	return buf;
}

static void finish(ftp_data_t *d, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void finish(ftp_data_t *d, int code, const char *fmt, ...)
{
	xfer_ftp_t *f = d->f;
	unsigned abors = d->abors;
	bool quit = d->quit;
	if (d->kind != FTP_X_NONE)
		log_transfer(d, code);
	va_list ap;
	va_start(ap, fmt);
	ftp_vreply(f, code, fmt, ap); /* before channel_free: the text may quote d->what */
	va_end(ap);
	channel_free(d);
	/* ABORs and a QUIT that came while an upload ran to its end are
	 * answered now, after the transfer's own reply, as RFC 959 orders
	 * them. */
	for (; abors; abors--)
		ftp_reply(f, 226, "ABOR: the transfer had already ended");
	if (quit) {
		ftp_reply(f, 221, "Goodbye");
		f->quitting = true;
	}
	ftp_wake(f);
}

/* An upload that cannot finish: what arrived is parked under the partial
 * name for REST/APPE. Returns the bytes kept. One that cannot be parked
 * goes, off the loop, with d->up. */
static uint64_t park(ftp_data_t *d)
{
	if (!d->up || d->up->fd < 0)
		return 0;
	if (d->ascii && d->prev_cr) {
		xfer_upload_write(d->up, "\r", 1);
		d->prev_cr = false;
	}
	uint64_t arrived = d->up->written + wf_buf_size(&d->up->stage);
	if (!arrived && !d->resumed) {
		/* Nothing to resume from: an empty partial would only make SIZE
		 * answer 0 for a file that may exist whole (a download's resume
		 * asks SIZE too). */
		xfer_fs_job_drop_upload(d->up);
		d->up = NULL;
		return 0;
	}
	if (!ftp_repark(d->f, d->up, d->partial, d->what)) {
		xfer_fs_job_drop_upload(d->up);
		d->up = NULL;
		return 0;
	}
	uint64_t kept = d->up->written;
	if (kept < arrived)
		ftp_log(d->f, WF_LOG_WARN, "upload of %s interrupted; its last %llu bytes could not be written (%s), "
			"%llu bytes kept for REST/APPE", d->what, (unsigned long long)(arrived - kept),
			strerror(d->up->tail_err), (unsigned long long)kept);
	else
		ftp_log(d->f, WF_LOG_INFO, "upload of %s interrupted; %llu bytes kept for REST/APPE", d->what,
			(unsigned long long)kept);
	return kept;
}

/* ---------------------------------------------------------------- transfers */

/* ASCII download: bare LF becomes CRLF (a CRLF already there stays). */
static size_t to_crlf(ftp_data_t *d, const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (in[i] == '\n' && !d->prev_cr)
			out[o++] = '\r';
		out[o++] = in[i];
		d->prev_cr = in[i] == '\r';
	}
	return o;
}

/* ASCII upload: CRLF becomes LF; a CR at the end of a chunk waits for the
 * next. Writes at most n + 1 bytes (the held CR, then n bytes without it). */
static size_t from_crlf(ftp_data_t *d, const char *in, size_t n, char *out)
{
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (d->prev_cr && in[i] != '\n')
			out[o++] = '\r';
		d->prev_cr = in[i] == '\r';
		if (!d->prev_cr)
			out[o++] = in[i];
	}
	return o;
}

/* Next bytes to send into chunk; 0 at the end, -1 on a read error. */
static ssize_t refill(ftp_data_t *d)
{
	d->chunk_off = d->chunk_len = 0;
	if (d->kind == FTP_X_SEND_BUF) {
		size_t left = wf_buf_size(d->list) - (size_t)d->off;
		size_t n = left < CHUNK ? left : CHUNK;
		if (n) /* an empty listing's buffer has no data at all (NULL) */
			memcpy(d->chunk, wf_buf_head(d->list) + d->off, n);
		d->off += n;
		d->chunk_len = n;
		return (ssize_t)n;
	}
	if (d->off >= d->end)
		return 0;
	/* ASCII reads half a chunk: LF to CRLF at most doubles it. */
	size_t cap = d->ascii ? CHUNK / 2 : CHUNK;
	size_t want = d->end - d->off < cap ? (size_t)(d->end - d->off) : cap;
	ssize_t n;
	do
		n = pread(d->fd, d->ascii ? d->conv : d->chunk, want, (off_t)d->off);
	while (n < 0 && errno == EINTR);
	if (n <= 0) {
		if (n == 0)
			errno = EIO; /* the file shrank under us */
		return -1;
	}
	d->off += (uint64_t)n;
	d->chunk_len = d->ascii ? to_crlf(d, d->conv, (size_t)n, d->chunk) : (size_t)n;
	return (ssize_t)d->chunk_len;
}

/* The stall timer of a moving transfer: send_timeout after bytes last
 * moved, or sooner, when limits.min_rate's window ends (data_on_timeout
 * judges it). Set per pump, as it always was: no cost per byte. */
static void arm_stall(ftp_data_t *d, wf_conn_t *c)
{
	double now = ev_now(wf_conn_loop(c)), window = c->cfg->limits.send_timeout;
	double due = d->last_moved + window;
	if (c->cfg->limits.min_rate > 0 && d->rate_from + window < due)
		due = d->rate_from + window;
	wf_conn_set_timeout(c, due - now > 0.01 ? due - now : 0.01);
}

static void pump_send(ftp_data_t *d, wf_conn_t *c)
{
	for (int round = 0; round < ROUNDS; round++) {
		if (d->chunk_off == d->chunk_len) {
			ssize_t n = refill(d);
			if (n < 0) {
				ftp_log(d->f, WF_LOG_WARN, "reading %s failed: %s", d->what, strerror(errno));
				drop_conn(d);
				finish(d, 451, "Reading %s failed; transfer aborted", d->what);
				return;
			}
			if (n == 0) {
				drop_conn(d);
				if (d->list_cut)
					finish(d, 226, "Transfer complete (%llu bytes); only the first %zu entries of %s are listed",
					       (unsigned long long)d->moved, d->list_count, d->what);
				else
					finish(d, 226, "Transfer complete (%llu bytes)", (unsigned long long)d->moved);
				return;
			}
		}
		ssize_t n = wf_conn_send(c, d->chunk + d->chunk_off, d->chunk_len - d->chunk_off);
		if (n == WF_AGAIN) {
			arm_stall(d, c);
			return;
		}
		if (n < 0) {
			drop_conn(d);
			finish(d, 426, "Connection closed; transfer aborted after %llu bytes", (unsigned long long)d->moved);
			return;
		}
		d->chunk_off += (size_t)n;
		d->moved += (uint64_t)n;
		d->last_moved = ev_now(wf_conn_loop(c));
	}
	arm_stall(d, c);
	wf_conn_want_write(c, true); /* more once writable: the other connections get a turn first */
}

static const char *resume_hint(uint64_t kept, char *buf, size_t cap);

/* The commit failed: one log line and the reply say why, and what became
 * of the bytes (the file's, those of earlier transfers a resumption
 * continued included). A file whole on disk that the final name did not
 * take is kept, all but its last byte (transfer/upload.h), as an
 * interrupted upload is: the reply says how to resume it once the name is
 * free. One whose fsync failed is dropped: its pages may be lost, so a
 * partial made of it could hold holes where bytes were, and a resumption
 * would store a corrupt file as whole. */
static void commit_failed(ftp_data_t *d, int err)
{
	const xfer_upload_outcome_t *o = &d->up->outcome;
	int code = err == ENOSPC || err == EDQUOT ? 452 : 451;
	if (err == EEXIST && d->up->no_replace) { /* STOU: the name was taken meanwhile */
		ftp_log(d->f, WF_LOG_WARN, "upload of %s could not be stored: another file took the name", d->what);
		finish(d, 451, "%s was created by someone else meanwhile; not stored: send STOU again", d->what);
		return;
	}
	char why[128], hint[160];
	if (err == EISDIR)
		snprintf(why, sizeof(why), "a folder now stands under that name");
	else if (o->fail == XFER_UPLOAD_FAIL_SYNC)
		snprintf(why, sizeof(why), "making it durable failed (%s)", strerror(err));
	else
		snprintf(why, sizeof(why), "%s", strerror(err));
	unsigned long long size = o->size;
	if (o->kept) {
		ftp_log(d->f, WF_LOG_WARN, "upload of %s could not be stored: %s; its %llu bytes were whole on disk, "
			"the first %llu kept for REST/APPE (resuming sends the last byte and stores the file)",
			d->what, why, size, (unsigned long long)o->kept);
		finish(d, code, "%s not stored: %s%s", d->what, why, resume_hint(o->kept, hint, sizeof(hint)));
	} else if (o->fail == XFER_UPLOAD_FAIL_SYNC) {
		ftp_log(d->f, WF_LOG_WARN, "upload of %s could not be stored: %s; its %llu bytes dropped, "
			"as they may not be on disk", d->what, why, size);
		finish(d, code, "%s not stored: %s; the %llu bytes received are dropped, as they may not be on disk: "
		       "send the whole file again", d->what, why, size);
	} else if (o->fail == XFER_UPLOAD_FAIL_RENAME && o->park_err) {
		ftp_log(d->f, WF_LOG_WARN, "upload of %s could not be stored: %s; its %llu bytes dropped, "
			"as they could not be kept either: %s", d->what, why, size, strerror(o->park_err));
		finish(d, code, "%s not stored: %s", d->what, why);
	} else {
		ftp_log(d->f, WF_LOG_WARN, "upload of %s could not be stored: %s", d->what, why);
		if (code == 452)
			finish(d, 452, "No space left on the server's disk; %s not stored", d->what);
		else
			finish(d, 451, "%s not stored: %s", d->what, why);
	}
}

static void on_committed(void *arg, int err)
{
	ftp_data_t *d = arg;
	d->up->commit = NULL;
	d->phase = PHASE_MOVE;
	if (err)
		commit_failed(d, err);
	else
		finish(d, 226, "Transfer complete (%llu bytes)", (unsigned long long)d->moved);
}

static void write_failed(ftp_data_t *d, int err);

static void upload_end(ftp_data_t *d)
{
	int rc = WF_OK;
	if (d->ascii && d->prev_cr) {
		d->prev_cr = false;
		rc = xfer_upload_write(d->up, "\r", 1);
	}
	/* The last bytes go to the file here, not in the commit, so that a
	 * write failure drops the temp file off the loop (write_failed). */
	if (rc == WF_OK)
		rc = xfer_upload_flush(d->up);
	if (rc != WF_OK) {
		write_failed(d, -rc);
		return;
	}
	drop_conn(d);
	d->phase = PHASE_COMMIT;
	/* Whole on disk but not renamed (a folder took the name): kept, as
	 * an interrupted upload is, resumed or fresh alike. */
	snprintf(d->up->park_as, sizeof(d->up->park_as), "%s", d->partial);
	int err = 0;
	if (xfer_upload_commit(d->up, d->f->conn->worker, on_committed, d, &err) == WF_DONE)
		on_committed(d, err);
}

/* What a reply adds for a resumed upload's partial kept (kept bytes): how
 * to go on from it; "" for none. */
static const char *resume_hint(uint64_t kept, char *buf, size_t cap)
{
	if (!kept)
		return "";
	snprintf(buf, cap, "; the %llu bytes kept stay: resume with REST %llu and STOR, or APPE",
		 (unsigned long long)kept, (unsigned long long)kept);
	return buf;
}

static void write_failed(ftp_data_t *d, int err)
{
	/* A full disk: a fresh upload's temp file goes, so the space comes
	 * back; the earlier version of the file is untouched. A resumed one is
	 * a partial the client was told is kept: it is parked again with what
	 * was written, as when its connection is cut, and resumes once there
	 * is room. Not after an I/O error, though: its pages may be bad. */
	ftp_log(d->f, WF_LOG_WARN, "upload of %s failed: %s", d->what, strerror(err));
	uint64_t kept = 0;
	bool no_room = err == ENOSPC || err == EDQUOT || err == EFBIG;
	if (d->resumed && no_room) {
		kept = park(d); /* d->up, closed now, goes with the channel */
	} else {
		xfer_fs_job_drop_upload(d->up);
		d->up = NULL;
	}
	drop_conn(d);
	char hint[160];
	const char *tail = resume_hint(kept, hint, sizeof(hint));
	if (err == ENOSPC || err == EDQUOT)
		finish(d, 452, "No space left on the server's disk; %s not stored%s", d->what, tail);
	else
		finish(d, 451, "Writing %s failed: %s; not stored%s", d->what, strerror(err), tail);
}

static void pump_recv(ftp_data_t *d, wf_conn_t *c)
{
	uint64_t limit = (uint64_t)c->cfg->limits.max_upload_bytes;
	for (int round = 0; round < ROUNDS; round++) {
		/* Binary uploads decrypt straight into the upload's stage: a copy
		 * of every byte less than decrypting into chunk and staging that. */
		size_t cap = CHUNK;
		char *dst = d->ascii ? NULL : xfer_upload_space(d->up, &cap);
		bool direct = dst != NULL;
		if (!direct) {
			dst = d->chunk;
			cap = CHUNK;
		}
		ssize_t n = wf_conn_recv(c, dst, cap);
		if (n == WF_AGAIN) {
			arm_stall(d, c);
			return;
		}
		if (n == 0 && !c->eof_unclean) {
			upload_end(d);
			return;
		}
		if (n <= 0) {
			/* No close_notify: the stream may have been cut anywhere (a
			 * vanished client, or a forged FIN), so it is not complete. */
			drop_conn(d);
			char how[160];
			uint64_t kept = park(d);
			finish(d, 426, "Upload cut short (the data connection ended without TLS close_notify); %s",
			       kept_text(kept, how, sizeof(how)));
			return;
		}
		d->moved += (uint64_t)n;
		d->last_moved = ev_now(wf_conn_loop(c));
		if (d->up->written + wf_buf_size(&d->up->stage) + (uint64_t)n > limit) {
			/* Never storable here, resumed or not: it goes. */
			xfer_fs_job_drop_upload(d->up);
			d->up = NULL;
			drop_conn(d);
			finish(d, 552, "Upload larger than max_upload_bytes; %s not stored", d->what);
			return;
		}
		int rc;
		if (direct) {
			rc = xfer_upload_wrote(d->up, (size_t)n);
		} else {
			const char *src = d->chunk;
			size_t len = (size_t)n;
			if (d->ascii) {
				len = from_crlf(d, d->chunk, (size_t)n, d->conv);
				src = d->conv;
			}
			rc = xfer_upload_write(d->up, src, len);
		}
		if (rc != WF_OK) {
			write_failed(d, -rc);
			return;
		}
	}
	arm_stall(d, c);
	/* Records may wait decrypted or buffered with the socket already
	 * drained: a writable callback comes back for them. */
	wf_conn_want_write(c, true);
}

/* ---------------------------------------------------------------- the data connection */

/* How long the data connection may sit without progress: until a transfer
 * command comes, data_connect_timeout; while a job readies the transfer,
 * before its 150 (held) or after, for ever (the job ends); then
 * send_timeout. */
static int idle_limit(const ftp_data_t *d, const wf_conn_t *c)
{
	if (d->held)
		return 0;
	if (d->kind == FTP_X_NONE)
		return c->cfg->limits.data_connect_timeout;
	return d->phase == PHASE_PREPARE ? 0 : c->cfg->limits.send_timeout;
}

static void data_on_io(wf_conn_t *c)
{
	ftp_data_t *d = D(c);
	if (!d)
		return;
	if (d->state != DATA_READY || d->kind == FTP_X_NONE || d->phase != PHASE_MOVE) {
		/* Nothing to move yet: a sender waits for the 150, or for the job
		 * that readies the transfer (no timeout meanwhile: the job ends). */
		wf_conn_pause_read(c, true);
		wf_conn_want_write(c, false);
		if (d->kind != FTP_X_NONE && d->phase == PHASE_PREPARE)
			wf_conn_set_timeout(c, 0);
		return;
	}
	wf_conn_pause_read(c, false);
	wf_conn_want_write(c, false);
	if (d->rate_from == 0) {
		d->last_moved = d->rate_from = ev_now(wf_conn_loop(c));
		d->rate_mark = d->moved;
	}
	if (d->kind == FTP_X_RECV)
		pump_recv(d, c);
	else
		pump_send(d, c);
}

static void data_on_timeout(wf_conn_t *c)
{
	ftp_data_t *d = D(c);
	if (!d) {
		wf_conn_close(c);
		return;
	}
	if (d->kind == FTP_X_NONE) {
		/* Connected, but no transfer command came. */
		snprintf(d->gone_why, sizeof(d->gone_why), "data connection idle for %d s",
			 c->cfg->limits.data_connect_timeout);
		d->state = DATA_GONE;
		drop_conn(d);
		return;
	}
	int window = c->cfg->limits.send_timeout, rate = c->cfg->limits.min_rate;
	double now = ev_now(wf_conn_loop(c));
	if (d->phase == PHASE_MOVE && d->rate_from > 0 && d->last_moved + window - now > 0.01) {
		/* Bytes moved within send_timeout: judge the rate if its window is over. */
		if (rate > 0 && d->rate_from + window - now <= 0.01) {
			uint64_t got = d->moved - d->rate_mark;
			if (got < (uint64_t)rate * (uint64_t)window) {
				ftp_log(d->f, WF_LOG_INFO,
					"transfer of %s made %llu bytes of progress in %d s, below limits.min_rate %d",
					d->what, (unsigned long long)got, window, rate);
				goto drop;
			}
			d->rate_from = now;
			d->rate_mark = d->moved;
		}
		arm_stall(d, c);
		return;
	}
	ftp_log(d->f, WF_LOG_INFO, "transfer of %s made no progress for %d s", d->what, window);
drop:
	drop_conn(d);
	char how[160];
	uint64_t kept = d->kind == FTP_X_RECV ? park(d) : 0;
	if (d->kind == FTP_X_RECV)
		finish(d, 426, "Data connection timed out; %s", kept_text(kept, how, sizeof(how)));
	else
		finish(d, 426, "Data connection timed out; transfer aborted");
}

/* The 425 of a transfer whose data connection never served it: what
 * (refused, cannot open) and why. No byte of an upload came, so a resumed
 * upload's partial is parked again as it was claimed, and the reply says
 * how to go on from it (a fresh upload has nothing to keep). */
static void refuse_transfer(ftp_data_t *d, const char *what)
{
	char hint[160];
	finish(d, 425, "%s: %s%s", what, d->gone_why,
	       resume_hint(d->kind == FTP_X_RECV && d->resumed ? park(d) : 0, hint, sizeof(hint)));
}

/* The data connection went away on its own (reset, TLS failure, shutdown). */
static void data_on_close(wf_conn_t *c)
{
	ftp_data_t *d = D(c);
	if (!d)
		return;
	c->proto_data = NULL;
	d->conn = NULL;
	bool was_secured = d->state == DATA_READY;
	if (!d->gone_why[0] && c->handshake_late)
		snprintf(d->gone_why, sizeof(d->gone_why), "the data connection's TLS handshake did not finish within %d s",
			 c->cfg->limits.data_connect_timeout);
	else if (!d->gone_why[0])
		snprintf(d->gone_why, sizeof(d->gone_why), "%s",
			 was_secured ? "the data connection closed" : "the data connection's TLS handshake failed");
	if (d->kind == FTP_X_NONE || d->phase == PHASE_COMMIT) {
		d->state = DATA_GONE;
		return;
	}
	if (!was_secured) {
		refuse_transfer(d, "Data connection refused");
		return;
	}
	if (d->phase == PHASE_PREPARE) {
		/* The client gave up on it: the job stops, nothing was moved. */
		finish(d, 426, "Connection closed; transfer aborted");
		return;
	}
	char how[160];
	uint64_t kept = d->kind == FTP_X_RECV ? park(d) : 0;
	if (d->kind == FTP_X_RECV)
		finish(d, 426, "Connection closed; transfer aborted; %s", kept_text(kept, how, sizeof(how)));
	else
		finish(d, 426, "Connection closed; transfer aborted after %llu bytes", (unsigned long long)d->moved);
}

/* Why a data handshake that did not resume is refused. A ticket offered
 * but not taken was issued to another connection (each control connection
 * has a ticket key of its own), or is too old: a client that keeps one
 * session cache for all its connections (rclone with parallel transfers,
 * say) offers the last ticket any of them got, and cannot resume per
 * connection. */
static const char *reuse_refusal(const ftp_data_t *d)
{
	return d->offered_session ? "its TLS session is another connection's, not this control connection's "
				    "(require_tls_reuse)"
				  : "its TLS session does not resume this control connection's session (require_tls_reuse)";
}

static int resumption_offered(void *ctx, unsigned tls_id, const unsigned char *data, unsigned size)
{
	(void)data;
	/* pre_shared_key (TLS 1.3), or a session ticket (TLS 1.2) that holds one */
	if (tls_id == 41 || (tls_id == 35 && size > 0))
		*(bool *)ctx = true;
	return 0;
}

/* With require_tls_reuse, on a data connection's handshake:
 *   - the ClientHello: whether it offers a session to resume, for the
 *     refusal's wording;
 *   - TLS 1.2 issues a ticket inside a full handshake: a thief who
 *     completed one would get a ticket under this session's key, good for
 *     the next PASV. So a data handshake that is not a resumption stops
 *     before its ticket. */
static int data_handshake_hook(gnutls_session_t s, unsigned htype, unsigned when, unsigned incoming,
			       const gnutls_datum_t *msg)
{
	(void)when;
	wf_conn_t *c = gnutls_session_get_ptr(s);
	ftp_data_t *d = D(c);
	if (htype == GNUTLS_HANDSHAKE_CLIENT_HELLO && incoming) {
		if (d)
			gnutls_ext_raw_parse(&d->offered_session, resumption_offered, msg,
					     GNUTLS_EXT_RAW_FLAG_TLS_CLIENT_HELLO);
		return 0; /* a ClientHello it cannot parse is GnuTLS's to refuse */
	}
	if (htype != GNUTLS_HANDSHAKE_NEW_SESSION_TICKET || incoming || gnutls_session_is_resumed(s))
		return 0;
	if (d)
		snprintf(d->gone_why, sizeof(d->gone_why), "%s", reuse_refusal(d));
	return GNUTLS_E_INSUFFICIENT_CREDENTIALS;
}

static int data_on_secure(wf_conn_t *c)
{
	ftp_data_t *d = D(c);
	if (!d)
		return WF_ERR;
	if (c->svc->require_tls_reuse && !gnutls_session_is_resumed(c->tls)) {
		ftp_log(d->f, WF_LOG_WARN, "data connection from %s refused: %s", c->peer, reuse_refusal(d));
		snprintf(d->gone_why, sizeof(d->gone_why), "%s", reuse_refusal(d));
		return WF_ERR; /* closes: data_on_close answers 425 */
	}
	d->state = DATA_READY;
	ev_timer_stop(wf_conn_loop(c), &d->wait);
	wf_conn_set_timeout(c, idle_limit(d, c));
	return WF_OK;
}

/* A reload that removed or changed an account decides on the control
 * connection, which owns this one and closes it when it goes. */
static bool data_keeps_on_reload(wf_conn_t *c, const wf_config_t *newest)
{
	(void)c;
	(void)newest;
	return true;
}

static const wf_proto_t data_proto = {
	.name = "ftp-data",
	.on_io = data_on_io,
	.on_timeout = data_on_timeout,
	.keeps_on_reload = data_keeps_on_reload,
	.on_close = data_on_close,
	.on_secure = data_on_secure,
};

/* A client on this host, or next to it, never loses a packet, so the kernel
 * grows our send buffer to megabytes: the data waits there for the client's
 * window, and each window update the client sends makes the client's own CPU
 * transmit it (perf: an eighth of curl's time in a download). On such a path
 * a 64 KiB send buffer (the kernel doubles it) keeps that work on our side
 * and the client's unread bytes few: curl's CPU per 1 GiB download fell from
 * 1.40 s to 1.07 s. Under a 100 us round trip it still allows over 1 GB/s;
 * longer paths keep the kernel's autotuning, which their bandwidth-delay
 * product needs. The round trip is the handshake's. */
#define NEAR_RTT_US 100
#define NEAR_SNDBUF (64 * 1024)

static void size_send_buffer(int fd)
{
	struct tcp_info ti;
	socklen_t len = sizeof(ti);
	if (getsockopt(fd, IPPROTO_TCP, TCP_INFO, &ti, &len) != 0 || len < sizeof(ti) || ti.tcpi_rtt == 0 ||
	    ti.tcpi_rtt >= NEAR_RTT_US)
		return;
	int size = NEAR_SNDBUF;
	setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof(size));
}

/* The data connection could not be set up: a transfer command already
 * waiting for it gets its 425 now (and the channel ends), else the next
 * one gets it (begin). */
static void gone(ftp_data_t *d, const char *why)
{
	snprintf(d->gone_why, sizeof(d->gone_why), "%s", why);
	d->state = DATA_GONE;
	if (d->kind == FTP_X_NONE)
		return;
	refuse_transfer(d, "Cannot open the data connection");
}

/* A TCP data connection is up (accepted or connected): adopt it. */
static void connected(ftp_data_t *d, int fd, const struct sockaddr *sa)
{
	xfer_ftp_t *f = d->f;
	stop_waiting(d);
	size_send_buffer(fd);
	wf_conn_t *c = wf_conn_adopt(f->conn->worker, f->conn->cfg, f->conn->svc, fd, sa, &data_proto, d);
	if (!c) {
		gone(d, "out of memory");
		return;
	}
	d->conn = c;
	d->state = DATA_CONNECTED;
	if (f->prot_p) {
		wf_tls_opts_t opts;
		ftp_tls_opts(f, true, &opts);
		if (wf_conn_start_tls(c, &opts) != WF_OK) {
			drop_conn(d);
			gone(d, "cannot start TLS");
			return;
		}
		ftp_tls_cache(f, c->tls, false);
		if (c->svc->require_tls_reuse)
			gnutls_handshake_set_hook_function(c->tls, GNUTLS_HANDSHAKE_ANY, GNUTLS_HOOK_PRE,
							   data_handshake_hook);
		wf_conn_set_timeout(c, d->held ? 0 : c->cfg->limits.data_connect_timeout);
		return;
	}
	d->state = DATA_READY;
	wf_conn_set_timeout(c, idle_limit(d, c));
	if (d->kind != FTP_X_NONE)
		wf_conn_wake(c);
}

static void addr_text(const struct sockaddr *sa, char *out, size_t cap)
{
	out[0] = '\0';
	if (sa->sa_family == AF_INET) {
		inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)cap);
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *a = (const void *)sa;
		if (IN6_IS_ADDR_V4MAPPED(&a->sin6_addr))
			inet_ntop(AF_INET, &a->sin6_addr.s6_addr[12], out, (socklen_t)cap);
		else
			inet_ntop(AF_INET6, &a->sin6_addr, out, (socklen_t)cap);
	}
}

/* The end of a warning logged at most once a minute per client (ip_guard's
 * wf_ipguard_note): how many such went unlogged before it. */
#define MORE_MAX (WF_IPGUARD_WHO_MAX + 96)
static const char *more_text(const wf_guard_refusal_t *why, char out[MORE_MAX])
{
	if (why->unlogged)
		snprintf(out, MORE_MAX, "; %u more about %s since the last such line were not logged", why->unlogged,
			 why->who);
	else
		snprintf(out, MORE_MAX, "; more about %s within a minute are not logged", why->who);
	return out;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)revents;
	ftp_data_t *d = wf_container_of(w, ftp_data_t, sock_io);
	for (int i = 0; i < 16; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		int fd = accept4(d->sock, (struct sockaddr *)&ss, &len, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0)
			return;
		char addr[INET6_ADDRSTRLEN];
		addr_text((struct sockaddr *)&ss, addr, sizeof(addr));
		if (strcmp(addr, d->f->conn->peer_addr) != 0) {
			/* Someone else racing for the transfer (data-connection
			 * theft): a line a minute per such client, who needs no
			 * login to connect again and again. */
			wf_guard_refusal_t why;
			char more[MORE_MAX];
			if (wf_ipguard_note(addr, WF_GUARD_NOTE_STRANGER, (time_t)ev_now(loop), &why))
				ftp_log(d->f, WF_LOG_WARN,
					"data connection from %s refused: the control connection is from %s%s", addr,
					d->f->conn->peer_addr, more_text(&why, more));
			close(fd);
			continue;
		}
		connected(d, fd, (struct sockaddr *)&ss);
		return;
	}
}

static void on_connect(struct ev_loop *loop, ev_io *w, int revents)
{
	(void)loop;
	(void)revents;
	ftp_data_t *d = wf_container_of(w, ftp_data_t, sock_io);
	int err = 0;
	socklen_t len = sizeof(err);
	getsockopt(d->sock, SOL_SOCKET, SO_ERROR, &err, &len);
	if (err) {
		char why[sizeof(d->gone_why)];
		snprintf(why, sizeof(why), "cannot connect to your PORT: %s", strerror(err));
		stop_waiting(d);
		gone(d, why);
		return;
	}
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	getpeername(d->sock, (struct sockaddr *)&ss, &sl);
	int fd = d->sock;
	ev_io_stop(wf_conn_loop(d->f->conn), &d->sock_io);
	d->sock = -1; /* the connection owns it now */
	connected(d, fd, (struct sockaddr *)&ss);
}

static void on_wait_timeout(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	ftp_data_t *d = wf_container_of(w, ftp_data_t, wait);
	char why[sizeof(d->gone_why)];
	snprintf(why, sizeof(why), "no data connection within %d s", d->f->conn->cfg->limits.data_connect_timeout);
	stop_waiting(d);
	gone(d, why);
}

static ftp_data_t *channel_new(xfer_ftp_t *f)
{
	if (f->data)
		channel_free(f->data); /* a new PASV/PORT replaces the last one */
	ftp_data_t *d = calloc(1, sizeof(*d));
	if (!d)
		return NULL;
	d->f = f;
	d->sock = d->fd = -1;
	ev_timer_init(&d->wait, on_wait_timeout, f->conn->cfg->limits.data_connect_timeout, 0);
	ev_timer_start(wf_conn_loop(f->conn), &d->wait);
	f->data = d;
	return d;
}

/* ---------------------------------------------------------------- PASV / PORT */

/* Binds a listener on the control connection's local address, in the
 * configured port range (random start, so concurrent sessions spread). */
static int passive_socket(xfer_ftp_t *f, struct sockaddr_storage *local, uint16_t *port)
{
	socklen_t len = sizeof(*local);
	if (getsockname(f->conn->fd, (struct sockaddr *)local, &len) != 0)
		return -errno;
	const wf_service_cfg_t *svc = f->conn->svc;
	int lo = svc->passive_port_min, hi = svc->passive_port_max;
	int fd = socket(local->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	/* Our side closes data connections first, so their ports sit in
	 * TIME_WAIT: without this a busy range runs dry within a minute. */
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	unsigned span = lo ? (unsigned)(hi - lo + 1) : 1, start = 0;
	if (lo && getrandom(&start, sizeof(start), 0) != sizeof(start))
		start = (unsigned)f->conn->id;
	int rc = -EADDRINUSE;
	for (unsigned i = 0; i < span && i < 1000; i++) {
		uint16_t p = lo ? (uint16_t)(lo + (start + i) % span) : 0;
		if (local->ss_family == AF_INET)
			((struct sockaddr_in *)local)->sin_port = htons(p);
		else
			((struct sockaddr_in6 *)local)->sin6_port = htons(p);
		if (bind(fd, (struct sockaddr *)local, len) == 0) {
			rc = 0;
			break;
		}
		rc = -errno;
		if (errno != EADDRINUSE)
			break;
	}
	if (rc == 0 && listen(fd, 8) != 0)
		rc = -errno;
	len = sizeof(*local);
	if (rc == 0 && getsockname(fd, (struct sockaddr *)local, &len) != 0)
		rc = -errno;
	if (rc < 0) {
		close(fd);
		return rc;
	}
	*port = ntohs(local->ss_family == AF_INET ? ((struct sockaddr_in *)local)->sin_port :
						     ((struct sockaddr_in6 *)local)->sin6_port);
	return fd;
}

/* The passive listeners one client (an IPv4 address or an IPv6 /64) may
 * hold at once in svc's port range: half of it, at least one, so that no
 * client can take every port and lock the others out of transfers. Each
 * session holds one at most (a new PASV closes the last), so it takes that
 * many logged-in sessions, and a client that holds its share has to
 * connect to one, or wait out data_connect_timeout, to get another. 0:
 * any free port, no share (the kernel's ephemeral range is thousands,
 * and max_connections_per_ip bounds a client's sessions). */
static int passive_share(const wf_service_cfg_t *svc)
{
	if (!svc->passive_port_min)
		return 0;
	int half = (svc->passive_port_max - svc->passive_port_min + 1) / 2;
	return half > 1 ? half : 1;
}

void ftp_data_passive(xfer_ftp_t *f, bool extended)
{
	ftp_data_t *d = channel_new(f); /* the session's last listener closes: it counts no more */
	if (!d) {
		ftp_reply(f, 425, "Out of memory");
		return;
	}
	int share = passive_share(f->conn->svc);
	if (share) {
		wf_guard_refusal_t why;
		if (!wf_ipguard_passive_take(f->conn->peer_addr, share, (time_t)ev_now(wf_conn_loop(f->conn)), &why)) {
			channel_free(d);
			if (why.log) {
				char more[MORE_MAX];
				ftp_log(f, WF_LOG_WARN, "%s refused with 425: client %s holds %d passive ports already, "
					"its share (half of passive_port_min..max, %d..%d)%s", extended ? "EPSV" : "PASV",
					why.who, share, f->conn->svc->passive_port_min, f->conn->svc->passive_port_max,
					more_text(&why, more));
			}
			ftp_reply(f, 425, "Too many passive ports held by your address (%d, half of the server's range): "
				  "use or close a data channel first", share);
			return;
		}
		d->share_held = true;
	}
	struct sockaddr_storage local;
	uint16_t port = 0;
	int fd = passive_socket(f, &local, &port);
	if (fd < 0) {
		channel_free(d);
		/* Once a PASV per line: a client pipelining them must not fill the log. */
		wf_guard_refusal_t why;
		char more[MORE_MAX];
		time_t now = (time_t)ev_now(wf_conn_loop(f->conn));
		if (wf_ipguard_note(f->conn->peer_addr, WF_GUARD_NOTE_NO_PORT, now, &why))
			ftp_log(f, WF_LOG_WARN, "no passive port free: %s%s", strerror(-fd), more_text(&why, more));
		ftp_reply(f, 425, "No passive port available: %s", strerror(-fd));
		return;
	}
	d->sock = fd;
	d->state = DATA_LISTENING;
	ev_io_init(&d->sock_io, on_accept, fd, EV_READ);
	ev_io_start(wf_conn_loop(f->conn), &d->sock_io);
	if (extended) {
		if (xfer_ftp_reply_epsv(&f->out, port) != WF_OK)
			f->quitting = true; /* as for any reply that cannot be queued */
		return;
	}
	/* 227 carries an IPv4 address: the public one, or our own. */
	struct sockaddr_in a4 = { .sin_family = AF_INET };
	const char *pub = f->conn->svc->public_address;
	if (pub && pub[0]) {
		inet_pton(AF_INET, pub, &a4.sin_addr);
	} else if (local.ss_family == AF_INET) {
		a4.sin_addr = ((struct sockaddr_in *)&local)->sin_addr;
	} else if (IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&local)->sin6_addr)) {
		memcpy(&a4.sin_addr, &((struct sockaddr_in6 *)&local)->sin6_addr.s6_addr[12], 4);
	} else {
		channel_free(d);
		ftp_reply(f, 425, "PASV cannot name an IPv6 address: use EPSV");
		return;
	}
	if (xfer_ftp_reply_pasv(&f->out, &a4, port) != WF_OK)
		f->quitting = true;
}

void ftp_data_active(xfer_ftp_t *f, const struct sockaddr_storage *target)
{
	ftp_data_t *d = channel_new(f);
	if (!d) {
		ftp_reply(f, 425, "Out of memory");
		return;
	}
	int fd = socket(target->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	socklen_t len = target->ss_family == AF_INET ? sizeof(struct sockaddr_in) : sizeof(struct sockaddr_in6);
	if (fd < 0 || (connect(fd, (const struct sockaddr *)target, len) != 0 && errno != EINPROGRESS)) {
		int err = errno;
		if (fd >= 0)
			close(fd);
		channel_free(d);
		ftp_reply(f, 425, "Cannot connect to your PORT: %s", strerror(err));
		return;
	}
	d->sock = fd;
	d->state = DATA_CONNECTING;
	ev_io_init(&d->sock_io, on_connect, fd, EV_WRITE);
	ev_io_start(wf_conn_loop(f->conn), &d->sock_io);
	ftp_reply(f, 200, "%s command successful", target->ss_family == AF_INET ? "PORT" : "EPRT");
}

/* ---------------------------------------------------------------- transfer commands */

bool ftp_data_ready(const xfer_ftp_t *f)
{
	return f->data != NULL;
}

bool ftp_data_busy(const xfer_ftp_t *f)
{
	return f->data && f->data->kind != FTP_X_NONE;
}

bool ftp_data_refused(xfer_ftp_t *f)
{
	ftp_data_t *d = f->data;
	if (!d || d->state != DATA_GONE)
		return false;
	ftp_reply(f, 425, "Cannot open the data connection: %s", d->gone_why[0] ? d->gone_why : "it closed");
	channel_free(d);
	return true;
}

void ftp_data_hold(xfer_ftp_t *f, bool hold)
{
	ftp_data_t *d = f->data;
	if (!d || d->kind != FTP_X_NONE)
		return;
	d->held = hold;
	struct ev_loop *loop = wf_conn_loop(f->conn);
	int t = f->conn->cfg->limits.data_connect_timeout;
	if (d->state == DATA_LISTENING || d->state == DATA_CONNECTING) {
		/* The full time again, from now: the client is not late. */
		ev_timer_stop(loop, &d->wait);
		if (!hold) {
			ev_timer_set(&d->wait, t, 0);
			ev_timer_start(loop, &d->wait);
		}
	} else if (d->conn) {
		/* Connected: its TLS handshake, or its wait for the command. */
		wf_conn_set_timeout(d->conn, hold ? 0 : t);
	}
}

/* Common start: the 150, and the transfer begins once the connection is up
 * (and, starting in PREPARE, once its job is done). */
static bool begin(xfer_ftp_t *f, ftp_xfer_kind_t kind, const char *verb, const char *what, ftp_phase_t phase)
{
	ftp_data_t *d = f->data;
	if (ftp_data_refused(f))
		return false;
	if (d->held)
		ftp_data_hold(f, false); /* its timers run again */
	d->chunk = malloc(CHUNK);
	d->conv = malloc(CONV_ROOM);
	if (!d->chunk || !d->conv) {
		free(d->chunk);
		free(d->conv);
		d->chunk = d->conv = NULL;
		ftp_reply(f, 451, "Out of memory");
		return false;
	}
	d->kind = kind;
	d->phase = phase;
	d->verb = verb;
	d->ascii = f->type == 'A';
	d->started = ev_now(wf_conn_loop(f->conn));
	snprintf(d->what, sizeof(d->what), "%s", what);
	if (d->conn && d->state == DATA_READY) {
		wf_conn_set_timeout(d->conn, idle_limit(d, d->conn));
		if (phase == PHASE_MOVE) {
			wf_conn_pause_read(d->conn, false);
			wf_conn_wake(d->conn);
		}
	}
	return true;
}

/* The job readied the upload (its kept head copied): bytes move now, or
 * the transfer ends with why it could not be readied. */
static void on_prepared(void *arg, xfer_fs_job_t *job)
{
	ftp_data_t *d = arg;
	d->job = NULL;
	int err = xfer_fs_job_err(job);
	d->up = xfer_ftp_job_take_upload(job);
	xfer_fs_job_free(job);
	if (err) {
		ftp_log(d->f, WF_LOG_WARN, "%s %s: copying the part of the file kept failed: %s", d->verb, d->what,
			strerror(err));
		drop_conn(d);
		if (err == ENOSPC || err == EDQUOT)
			finish(d, 452, "No space left on the server's disk; %s not stored", d->what);
		else
			finish(d, 451, "Copying what %s holds failed: %s; not stored", d->what, strerror(err));
		return; /* d is gone */
	}
	d->phase = PHASE_MOVE;
	if (d->conn && d->state == DATA_READY) {
		wf_conn_set_timeout(d->conn, idle_limit(d, d->conn));
		wf_conn_pause_read(d->conn, false);
		wf_conn_wake(d->conn);
	}
}

/* Runs the job that readies the transfer begin put in PREPARE; d may be
 * gone on return (a job that ran inline and failed ends the transfer). */
static void prepare(ftp_data_t *d, xfer_fs_job_t *job)
{
	d->job = job;
	if (xfer_fs_job_start(job, d->f->conn->worker, on_prepared, d) == WF_DONE)
		on_prepared(d, job);
}

void ftp_data_send_file(xfer_ftp_t *f, int fd_take, uint64_t offset, uint64_t size, const char *what)
{
	if (!begin(f, FTP_X_SEND_FILE, "RETR", what, PHASE_MOVE)) {
		close(fd_take);
		return;
	}
	ftp_data_t *d = f->data;
	d->fd = fd_take;
	d->off = offset;
	d->end = size;
	/* An ASCII resume that starts between a CR and its LF: the client has
	 * the CR already, and the LF must not get another one. */
	char before;
	if (d->ascii && offset > 0 && pread(d->fd, &before, 1, (off_t)offset - 1) == 1)
		d->prev_cr = before == '\r';
	ftp_reply(f, 150, "Opening %s mode data connection for %s (%llu bytes)", d->ascii ? "ASCII" : "BINARY", what,
		  (unsigned long long)(size - offset));
}

void ftp_data_send_buf(xfer_ftp_t *f, wf_buf_t *take, bool cut, size_t listed, const char *verb, const char *what)
{
	if (!begin(f, FTP_X_SEND_BUF, verb, what, PHASE_MOVE)) {
		xfer_ftp_listing_free(take); /* and its count against the listings' budget */
		return;
	}
	ftp_data_t *d = f->data;
	d->list = take;
	d->list_cut = cut;
	d->list_count = listed;
	d->ascii = false; /* listing lines are CRLF already */
	ftp_reply(f, 150, "Here comes the listing of %s", what);
}

bool ftp_repark(xfer_ftp_t *f, xfer_upload_t *up, const char *partial, const char *what)
{
	uint64_t held = up->written + wf_buf_size(&up->stage);
	int rc = xfer_upload_park(up, partial);
	if (rc != WF_OK)
		ftp_log(f, WF_LOG_WARN, "could not keep the %llu bytes of the interrupted upload of %s: %s",
			(unsigned long long)held, what, strerror(-rc));
	return rc == WF_OK;
}

void ftp_data_recv(xfer_ftp_t *f, xfer_upload_t *take, bool resumed, const char *partial, const char *verb,
		   const char *what, const char *unique)
{
	if (!begin(f, FTP_X_RECV, verb, what, PHASE_MOVE)) {
		/* Nothing came: a claimed partial goes back as it was. */
		if (resumed && ftp_repark(f, take, partial, what))
			ftp_log(f, WF_LOG_INFO, "upload of %s not started; its %llu bytes kept for REST/APPE", what,
				(unsigned long long)take->written);
		xfer_fs_job_drop_upload(take);
		return;
	}
	ftp_data_t *d = f->data;
	d->up = take;
	d->resumed = resumed;
	snprintf(d->partial, sizeof(d->partial), "%s", partial);
	if (unique)
		ftp_reply(f, 150, "FILE: %s", unique);
	else
		ftp_reply(f, 150, "Ready to receive %s", what);
}

void ftp_data_recv_copying(xfer_ftp_t *f, xfer_fs_job_t *take, const char *partial, const char *verb,
			   const char *what)
{
	if (!begin(f, FTP_X_RECV, verb, what, PHASE_PREPARE)) {
		xfer_fs_job_free(take);
		return;
	}
	ftp_data_t *d = f->data;
	snprintf(d->partial, sizeof(d->partial), "%s", partial);
	ftp_reply(f, 150, "Ready to receive %s", what);
	prepare(d, take);
}

bool ftp_data_quit_after_upload(xfer_ftp_t *f)
{
	ftp_data_t *d = f->data;
	if (!d || d->kind != FTP_X_RECV)
		return false;
	d->quit = true;
	f->quit_asked = true; /* lines sent after QUIT are never answered */
	return true;
}

void ftp_data_abort(xfer_ftp_t *f)
{
	ftp_data_t *d = f->data;
	if (!d || d->kind == FTP_X_NONE) {
		if (d)
			channel_free(d);
		ftp_reply(f, 225, "No transfer to abort");
		return;
	}
	if (d->phase == PHASE_COMMIT) {
		/* Every byte is in: the commit ends the transfer with its own
		 * reply (226, or 451/452), and this ABOR's 226 follows it. */
		d->abors++;
		return;
	}
	drop_conn(d);
	if (d->phase == PHASE_PREPARE) {
		/* The job stops; nothing moved yet, and the upload's file is as it was. */
		finish(d, 426, "Transfer aborted; nothing received, %s unchanged", d->what);
		ftp_reply(f, 226, "ABOR successful");
		return;
	}
	char how[160];
	uint64_t kept = d->kind == FTP_X_RECV ? park(d) : 0;
	if (d->kind == FTP_X_RECV)
		finish(d, 426, "Transfer aborted; %s", kept_text(kept, how, sizeof(how)));
	else
		finish(d, 426, "Transfer aborted");
	ftp_reply(f, 226, "ABOR successful");
}

void ftp_data_status(const xfer_ftp_t *f, char *out, size_t cap)
{
	const ftp_data_t *d = f->data;
	out[0] = '\0';
	if (!d || d->kind == FTP_X_NONE)
		return;
	if (d->phase == PHASE_PREPARE)
		snprintf(out, cap, "%s %s: copying the part of the file kept", d->verb, d->what);
	else
		snprintf(out, cap, "%s %s: %llu bytes so far", d->verb, d->what, (unsigned long long)d->moved);
}

void ftp_data_free(xfer_ftp_t *f)
{
	ftp_data_t *d = f->data;
	if (!d)
		return;
	bool committing = d->kind != FTP_X_NONE && d->phase == PHASE_COMMIT;
	if (committing) {
		/* The commit finishes alone and calls no one. */
		xfer_upload_detach(d->up);
	} else if (d->kind == FTP_X_RECV) {
		drop_conn(d);
		park(d); /* nothing in PREPARE: the job holds the upload, and drops it */
	}
	if (d->kind != FTP_X_NONE && !committing)
		log_transfer(d, 426);
	channel_free(d); /* cancels a job in PREPARE */
}
