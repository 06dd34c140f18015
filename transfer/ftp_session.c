/* The FTP control connection: reading command lines, writing replies, the
 * plain-to-TLS upgrade, the login and its throttling. What each command does
 * is in ftp_commands.c; data connections are in ftp_data.c.
 *
 * States, explicit in the flags of xfer_ftp_t and the connection:
 *   plain (ftps) --AUTH TLS--> handshake --> secure, not logged in
 *   secure --USER/PASS (password checked off the loop)--> logged in
 *   logged in --transfer command--> transfer (only ABOR STAT NOOP QUIT run;
 *     its first step may be a job off the loop: see ftp_data.c's PREPARE)
 *   logged in --STAT PATH, LIST, NLST or MLSD of a folder--> listing it off
 *     the loop (stat_job; no command runs until its reply, or the
 *     listing's 150, is out, but the connection is still read: a client
 *     that leaves lets go of the job at once, and ABOR or QUIT right
 *     behind a LIST, NLST or MLSD end it, as they would its transfer)
 *   logged in --DELE RMD MKD RNTO, a REST+STOR that cuts a partial, or a
 *     SIZE/STOR/APPE that removes one--> the change made off the loop (op;
 *     no command is read until its reply is out, or, for the STOR, until
 *     its 150)
 *   any --QUIT, idle timeout (not while the server is at work: a login
 *     check, a listing, a job), 3 failed logins, 10 bad lines--> closing */
#include "ftp_int.h"
#include "auth.h"
#include "ftp_list.h"
#include "../server/ip_guard.h"
#include "../server/log.h"
#include "../server/tls.h"
#include "../server/worker.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FTP_IN_CAP (XFER_FTP_LINE_MAX + 16384) /* a full line plus one TLS record */
#define FTP_OUT_CAP (4 << 20)                  /* replies (STAT listings included) */
#define FTP_MAX_BAD_LINES 10
#define FTP_MAX_FAILED_LOGINS 3
#define FTP_SESSION_DATA_MAX 65536             /* a TLS 1.2 session blob, far larger than any real one */

static xfer_ftp_t *F(wf_conn_t *c)
{
	return c->proto_data;
}

void ftp_log(xfer_ftp_t *f, int level, const char *fmt, ...)
{
	if (!wf_log_enabled((wf_log_level_t)level))
		return;
	/* A line's worth: paths (two, for a rename) go whole, and anything
	 * longer ends in the log's cut mark (wf_log), never cut unmarked. */
	char msg[WF_LOG_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wf_log((wf_log_level_t)level, "ftp conn %llu %s user %s: %s", (unsigned long long)f->conn->id, f->conn->peer,
	       f->logged_in ? f->user_name : "-", msg);
}

void ftp_log_transfer(xfer_ftp_t *f, const char *verb, const char *what, int status, uint64_t bytes,
		      ev_tstamp started)
{
	wf_log_access(f->conn->peer, f->user_name, (wf_slice_t){ verb, strlen(verb) },
		      (wf_slice_t){ what, strlen(what) }, "ftps", status, bytes,
		      ev_now(wf_conn_loop(f->conn)) - started);
}

static void reply_text(xfer_ftp_t *f, int code, const char *text)
{
	if (xfer_ftp_reply(&f->out, code, text) != WF_OK)
		f->quitting = true; /* a client that never reads its replies */
}

void ftp_vreply(xfer_ftp_t *f, int code, const char *fmt, va_list ap)
{
	/* Never cut: a path cut short would name another file. Most replies
	 * fit the stack; a long path gets the heap. */
	char small[512], *big = NULL;
	const char *text = small;
	va_list again;
	va_copy(again, ap);
	int n = vsnprintf(small, sizeof(small), fmt, ap);
	if (n < 0) {
		text = "(reply text could not be formatted)";
	} else if ((size_t)n >= sizeof(small)) {
		big = malloc((size_t)n + 1);
		if (big)
			vsnprintf(big, (size_t)n + 1, fmt, again);
		text = big ? big : "(no memory for this reply's text)";
	}
	va_end(again);
	reply_text(f, code, text);
	free(big);
}

void ftp_reply(xfer_ftp_t *f, int code, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	ftp_vreply(f, code, fmt, ap);
	va_end(ap);
}

void ftp_reply_multi(xfer_ftp_t *f, int code, const char *first, const char *const *lines, size_t n,
		     const char *last)
{
	if (xfer_ftp_reply_multi(&f->out, code, first, lines, n, last) != WF_OK)
		f->quitting = true;
}

void ftp_wake(xfer_ftp_t *f)
{
	wf_conn_wake(f->conn);
}

/* Replies to the connection; WF_OK when all are out of our hands. */
static int flush_out(xfer_ftp_t *f)
{
	while (wf_buf_size(&f->out)) {
		ssize_t n = wf_conn_send(f->conn, wf_buf_head(&f->out), wf_buf_size(&f->out));
		if (n == WF_AGAIN)
			return WF_AGAIN;
		if (n < 0)
			return WF_ERR;
		wf_buf_consume(&f->out, (size_t)n);
	}
	wf_buf_release(&f->out);
	wf_conn_want_write(f->conn, false);
	return WF_OK;
}

/* ---------------------------------------------------------------- TLS */

static int datum_copy(gnutls_datum_t *dst, const gnutls_datum_t *src)
{
	dst->data = gnutls_malloc(src->size ? src->size : 1);
	if (!dst->data)
		return -1;
	memcpy(dst->data, src->data, src->size);
	dst->size = src->size;
	return 0;
}

static int cache_store(void *ptr, gnutls_datum_t key, gnutls_datum_t data)
{
	xfer_ftp_t *f = ptr;
	if (key.size == 0 || key.size > 64 || data.size > FTP_SESSION_DATA_MAX)
		return -1;
	gnutls_free(f->sess_id.data);
	gnutls_free(f->sess_data.data);
	f->sess_id.data = f->sess_data.data = NULL;
	f->sess_id.size = f->sess_data.size = 0;
	if (datum_copy(&f->sess_id, &key) < 0 || datum_copy(&f->sess_data, &data) < 0)
		return -1;
	return 0;
}

static gnutls_datum_t cache_fetch(void *ptr, gnutls_datum_t key)
{
	xfer_ftp_t *f = ptr;
	gnutls_datum_t out = { NULL, 0 };
	if (f->sess_id.size && key.size == f->sess_id.size && gnutls_memcmp(key.data, f->sess_id.data, key.size) == 0)
		datum_copy(&out, &f->sess_data);
	return out;
}

/* GnuTLS looks sessions up only when all three functions are set: a data
 * connection gets this one, which keeps nothing. */
static int cache_store_nothing(void *ptr, gnutls_datum_t key, gnutls_datum_t data)
{
	(void)ptr;
	(void)key;
	(void)data;
	return 0;
}

static int cache_remove(void *ptr, gnutls_datum_t key)
{
	(void)ptr;
	(void)key;
	return 0; /* the entry lives as long as its control connection */
}

void ftp_tls_cache(xfer_ftp_t *f, gnutls_session_t s, bool control)
{
	gnutls_db_set_ptr(s, f);
	gnutls_db_set_retrieve_function(s, cache_fetch);
	gnutls_db_set_remove_function(s, cache_remove);
	/* Only the control connection's own session goes in: a data connection
	 * that did not resume must leave nothing a thief could resume later. */
	gnutls_db_set_store_function(s, control ? cache_store : cache_store_nothing);
}

void ftp_tls_opts(xfer_ftp_t *f, bool data, wf_tls_opts_t *out)
{
	memset(out, 0, sizeof(*out));
	out->ftp = true;
	out->ticket_key = &f->ticket_key;
	out->no_ticket_sending = data;
}

int ftp_start_tls(xfer_ftp_t *f)
{
	/* The 234 goes out in the clear, ahead of the server's first TLS record. */
	if (flush_out(f) != WF_OK)
		return WF_ERR;
	wf_tls_opts_t opts;
	ftp_tls_opts(f, false, &opts);
	if (wf_conn_start_tls(f->conn, &opts) != WF_OK)
		return WF_ERR;
	ftp_tls_cache(f, f->conn->tls, true);
	/* Commands pipelined behind AUTH TLS were sent in the clear: none of
	 * them may run as if it came over TLS (the STARTTLS injection flaw). */
	wf_buf_reset(&f->in);
	f->skip_line = false;
	return WF_OK;
}

/* ---------------------------------------------------------------- login */

static void on_delay(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	xfer_ftp_t *f = wf_container_of(w, xfer_ftp_t, delay);
	f->delaying = false;
	ftp_reply(f, 530, "Login incorrect");
	if (f->failed_logins >= FTP_MAX_FAILED_LOGINS) {
		ftp_reply(f, 421, "Too many failed logins; closing");
		f->quitting = true;
	}
	ftp_wake(f);
}

/* The verdict on a PASS. A wrong password was counted toward the address's
 * ban already (by the job, or by ftp_login_start for inline verdicts). */
static void login_done(void *arg, xfer_auth_result_t result, const wf_user_cfg_t *ok)
{
	xfer_ftp_t *f = arg;
	f->login = NULL;
	if (result == XFER_AUTH_ACCEPTED && f->conn->worker &&
	    !wf_config_user_current(f->conn->worker->cfg, f->conn->cfg, ok)) {
		/* Checked against accounts a reload has changed since this
		 * session came (it was in a handshake then). */
		ftp_log(f, WF_LOG_INFO, "account removed or changed by a reload: closing the session");
		f->user_name[0] = '\0';
		ftp_reply(f, 421, "Accounts were changed; connect again");
		f->quitting = true;
	} else if (result == XFER_AUTH_ACCEPTED) {
		f->logged_in = true;
		ev_timer_stop(wf_conn_loop(f->conn), &f->login_deadline);
		f->user = ok;
		snprintf(f->cwd, sizeof(f->cwd), "/");
		ftp_reply(f, 230, "Logged in as %s", f->user_name);
		ftp_log(f, WF_LOG_INFO, "logged in");
	} else if (result == XFER_AUTH_BANNED) {
		/* Banned while the check ran: nothing is said of the password. */
		f->user_name[0] = '\0';
		ftp_reply(f, 421, "Too many failed logins from your address; try again later");
		f->quitting = true;
	} else {
		f->failed_logins++;
		ftp_log(f, WF_LOG_INFO, "login as \"%s\" refused", f->user_name);
		/* A pause that grows with each failure slows a guesser down
		 * without holding a thread: it is only a timer. */
		f->delaying = true;
		ev_timer_set(&f->delay, (double)f->failed_logins, 0);
		ev_timer_start(wf_conn_loop(f->conn), &f->delay);
		f->user_name[0] = '\0'; /* the next try starts with USER */
	}
	ftp_wake(f);
}

/* No login within limits.ftp_login_timeout of connecting: the idle timer
 * alone would let a client that never logs in, sending a byte now and then,
 * hold a connection (and its address's share) for ever. */
static void on_login_deadline(struct ev_loop *loop, ev_timer *w, int revents)
{
	(void)loop;
	(void)revents;
	xfer_ftp_t *f = wf_container_of(w, xfer_ftp_t, login_deadline); /* stopped once logged in */
	int t = f->conn->cfg->limits.ftp_login_timeout;
	ftp_log(f, WF_LOG_INFO, "no login within %d s: closing", t);
	ftp_reply(f, 421, "Login not completed within %d s: closing", t);
	flush_out(f);
	wf_conn_close(f->conn);
}

/* A verdict reached on the loop: a refusal counts toward the ban here. */
static void login_inline(xfer_ftp_t *f, const wf_user_cfg_t *ok)
{
	if (!ok)
		xfer_auth_failed(f->conn->cfg, f->conn->peer_addr, (time_t)ev_now(wf_conn_loop(f->conn)));
	login_done(f, ok ? XFER_AUTH_ACCEPTED : XFER_AUTH_WRONG, ok);
}

void ftp_login_start(xfer_ftp_t *f, wf_slice_t pass)
{
	wf_slice_t user = { f->user_name, strlen(f->user_name) };
	/* A connection opened before its client was banned gets no more tries:
	 * see authenticate() in exchange.c for the oracle this closes. */
	int ban_left = 0;
	if (wf_ipguard_banned(f->conn->peer_addr, (time_t)ev_now(wf_conn_loop(f->conn)), &ban_left)) {
		f->user_name[0] = '\0';
		ftp_reply(f, 421, "Too many failed logins from your address; try again in %d seconds", ban_left);
		f->quitting = true;
		return;
	}
	/* A password the server verified or refused before needs no crypt. */
	const wf_user_cfg_t *known = NULL;
	xfer_auth_verdict_t v = xfer_auth_cached(f->conn->cfg, user, pass, &known);
	if (v != XFER_AUTH_UNKNOWN) {
		login_inline(f, v == XFER_AUTH_OK ? known : NULL);
		return;
	}
	/* crypt(3) costs milliseconds: on the pool, the loop keeps serving.
	 * Without a pool (or memory), the check runs here. */
	int rc = xfer_auth_start(f->conn->worker, f->conn->cfg, f->conn->peer_addr, user, pass, login_done, f,
				 &f->login);
	if (rc == WF_AGAIN) {
		f->user_name[0] = '\0';
		ftp_reply(f, 421, "Too many logins being checked; try again later");
		f->quitting = true;
	} else if (rc != WF_OK) {
		login_inline(f, xfer_auth_check(f->conn->cfg, user, pass));
	}
}

/* ---------------------------------------------------------------- commands */

/* Is the session waiting for something before it may read the next command?
 * A listing being read is not such a wait: its lines wait in run_lines, as
 * during a transfer, and the connection is read meanwhile, so that its end
 * (and an ABOR or QUIT) is seen while the folder is read, not once the
 * listing is (ftp_listing_cancel). */
static bool blocked(xfer_ftp_t *f)
{
	return f->login || f->op || f->delaying || f->quitting || f->quit_asked || wf_buf_size(&f->out) >= FTP_OUT_HIGH;
}

/* Must the line cmd (parsed: used is its length, or a parse error) wait,
 * unread, for the listing being read? A STAT's, every line; a LIST's, all
 * but ABOR and QUIT, which end it (RFC 959 lets them act on a command in
 * progress). Even NOOP and STAT, which a transfer answers, wait: no reply
 * may come ahead of the listing's 150 (or its 450), which the client reads
 * as the answer to its LIST. */
static bool waits_for_listing(xfer_ftp_t *f, ssize_t used, const xfer_ftp_cmd_t *cmd)
{
	if (!f->stat_job)
		return false;
	return used < 0 || !f->data_listing || !ftp_allowed_in_listing(cmd->verb);
}

/* Is the session waiting for the server's own work (a password check, a
 * STAT listing, a command's job, a failed login's pause)? The client is
 * not idle then, however long it takes. */
static bool server_at_work(xfer_ftp_t *f)
{
	return f->login || f->stat_job || f->op || f->delaying;
}

static void set_idle_timer(xfer_ftp_t *f)
{
	/* During a transfer the data connection's own timer watches progress;
	 * while the server is at work there is none, and the idle time starts
	 * afresh once the session reads again (ftp_on_io). A session that is
	 * to close once its last replies are out waits send_timeout for the
	 * client to read them, as any send does. */
	const wf_config_t *cfg = f->conn->cfg;
	bool waits = ftp_data_busy(f) || server_at_work(f);
	int idle = f->quitting ? cfg->limits.send_timeout : cfg->limits.ftp_idle_timeout;
	wf_conn_set_timeout(f->conn, waits ? 0 : idle);
}

/* Runs complete lines in f->in; stops at one that must wait (a transfer in
 * progress, a login being checked, TLS starting). */
static void run_lines(xfer_ftp_t *f)
{
	f->line_held = false;
	while (!blocked(f) && f->conn->state == WF_CONN_OPEN && f->conn->proto) {
		size_t len = wf_buf_size(&f->in);
		if (len == 0)
			return; /* and an idle session's buffer may hold no memory at all */
		const char *p = wf_buf_head(&f->in);
		if (f->skip_line) {
			const char *lf = memchr(p, '\n', len);
			wf_buf_consume(&f->in, lf ? (size_t)(lf - p) + 1 : len);
			if (!lf)
				return;
			f->skip_line = false;
			continue;
		}
		xfer_ftp_cmd_t cmd;
		ssize_t used = xfer_ftp_parse_line(p, len, &cmd);
		if (used == XFER_FTP_AGAIN)
			return;
		if (waits_for_listing(f, used, &cmd)) {
			f->line_held = true; /* until the listing's reply is out (ftp_wake) */
			return;
		}
		if (used < 0) {
			if (used == XFER_FTP_TOO_LONG) {
				/* Drop through the line's LF if it is here, else until it comes. */
				const char *lf = memchr(p, '\n', len);
				if (lf) {
					wf_buf_consume(&f->in, (size_t)(lf - p) + 1);
				} else {
					wf_buf_reset(&f->in);
					f->skip_line = true;
				}
				ftp_reply(f, 500, "Command line too long (the limit is %d bytes)", XFER_FTP_LINE_MAX);
			} else {
				const char *lf = memchr(p, '\n', len);
				wf_buf_consume(&f->in, (size_t)(lf - p) + 1);
				ftp_reply(f, 500, "Malformed command line");
			}
			ftp_line_done(f, XFER_FTP_UNKNOWN, false);
			if (++f->bad_lines >= FTP_MAX_BAD_LINES) {
				ftp_reply(f, 421, "Too many bad commands; closing");
				ftp_log(f, WF_LOG_INFO, "closed after %d bad command lines in a row", FTP_MAX_BAD_LINES);
				f->quitting = true;
			}
			continue;
		}
		if (ftp_data_busy(f) && !ftp_allowed_in_transfer(cmd.verb)) {
			f->line_held = true; /* waits, unread, for the transfer to end (ftp_wake) */
			return;
		}
		/* The line stays in f->in while it runs (cmd points into it). */
		bool was_plain = !f->conn->tls;
		ftp_dispatch(f, &cmd);
		if (was_plain && f->conn->tls)
			return; /* AUTH TLS: f->in was emptied, the handshake comes next */
		wf_buf_consume(&f->in, (size_t)used);
		if (cmd.verb == XFER_FTP_UNKNOWN) {
			if (++f->bad_lines >= FTP_MAX_BAD_LINES) {
				ftp_reply(f, 421, "Too many bad commands; closing");
				ftp_log(f, WF_LOG_INFO, "closed after %d bad command lines in a row", FTP_MAX_BAD_LINES);
				f->quitting = true;
			}
		} else {
			f->bad_lines = 0;
		}
	}
}

static void ftp_on_io(wf_conn_t *c)
{
	xfer_ftp_t *f = F(c);
	if (c->draining && !f->quitting && !ftp_data_busy(f) && !f->login && !f->stat_job && !f->op) {
		/* Shutting down: the transfer that held us is over. */
		ftp_reply(f, 421, "%s", f->bye ? f->bye : "Server shutting down");
		f->quitting = true;
	}
	for (int round = 0; round < 64; round++) {
		run_lines(f);
		if (!c->proto || c->state != WF_CONN_OPEN)
			return; /* AUTH TLS started a handshake, or the connection closed */
		int fl = flush_out(f);
		if (fl == WF_ERR) {
			ftp_listing_cancel(f, "the control connection failed");
			wf_conn_close(c);
			return;
		}
		if (f->quitting) {
			if (fl == WF_OK && !f->login) {
				wf_conn_close(c);
				return;
			}
			wf_conn_pause_read(c, true);
			/* The replies wait for the client (or the login for the
			 * pool, which wakes us): the timer set while a listing's
			 * folder was read, none, must not stay. */
			set_idle_timer(f);
			return;
		}
		if (blocked(f)) {
			/* Nothing to read for until the wait ends (ftp_wake resumes). */
			wf_conn_pause_read(c, fl == WF_OK || wf_buf_size(&f->out) >= FTP_OUT_HIGH);
			/* None while the server is at work; else (a client that
			 * reads no replies) it runs, from when the work ended. */
			set_idle_timer(f);
			return;
		}
		wf_conn_pause_read(c, false);
		char *dst = wf_buf_reserve(&f->in, 16384);
		size_t room = dst ? FTP_IN_CAP - wf_buf_size(&f->in) : 0;
		if (room > 16384)
			room = 16384;
		if (!dst && wf_buf_size(&f->in) <= XFER_FTP_LINE_MAX) {
			/* Room the cap allows, but no memory for it. */
			ftp_log(f, WF_LOG_WARN, "no memory for its command lines: closing");
			wf_conn_close(c);
			return;
		}
		if (!dst || room == 0) {
			/* A full buffer. Lines that stopped for the replies just sent
			 * run in the next round; only lines held for a transfer wait
			 * (ftp_wake resumes us at its end), so reading stops. */
			if (!f->line_held)
				continue;
			wf_conn_pause_read(c, true);
			return;
		}
		ssize_t n = wf_conn_recv(c, dst, room);
		if (n == WF_AGAIN) {
			if (wf_buf_size(&f->in) == 0)
				wf_buf_release(&f->in); /* an idle session keeps no input buffer */
			set_idle_timer(f);
			return;
		}
		if (n <= 0) {
			if (ftp_data_busy(f))
				ftp_log(f, WF_LOG_INFO, "control connection closed during a transfer");
			ftp_listing_cancel(f, "the control connection closed");
			wf_conn_close(c);
			return;
		}
		wf_buf_commit(&f->in, (size_t)n);
		set_idle_timer(f);
	}
	/* A busy client: give the other connections a turn, then go on. */
	wf_conn_want_write(c, true);
}

static void ftp_on_timeout(wf_conn_t *c)
{
	xfer_ftp_t *f = F(c);
	if (ftp_data_busy(f) || server_at_work(f)) {
		set_idle_timer(f);
		return;
	}
	if (f->quitting) {
		ftp_log(f, WF_LOG_INFO, "its last replies not read within %d s: closing", c->cfg->limits.send_timeout);
		wf_conn_close(c);
		return;
	}
	ftp_log(f, WF_LOG_INFO, "idle for %d s: closing", c->cfg->limits.ftp_idle_timeout);
	ftp_reply(f, 421, "Idle timeout (%d s): closing", c->cfg->limits.ftp_idle_timeout);
	flush_out(f);
	wf_conn_close(c);
}

static void ftp_on_drain(wf_conn_t *c)
{
	xfer_ftp_t *f = F(c);
	if (ftp_data_busy(f) || f->login || f->stat_job || f->op)
		return; /* ftp_on_io closes it once the transfer, login, STAT or change is over */
	ftp_reply(f, 421, "%s", f->bye ? f->bye : "Server shutting down");
	flush_out(f);
	wf_conn_close(c);
}

/* A session logged in as an account the reload kept as it was goes on;
 * one of an account it removed or changed, or not logged in yet (its
 * login would be checked against the old accounts), is told and closed
 * once its transfer is over. */
static bool ftp_keeps_on_reload(wf_conn_t *c, const wf_config_t *newest)
{
	xfer_ftp_t *f = F(c);
	if (f->logged_in && wf_config_user_current(newest, c->cfg, f->user))
		return true;
	if (f->logged_in)
		ftp_log(f, WF_LOG_INFO, "account removed or changed by a reload: closing the session");
	f->bye = f->logged_in ? "Your account was changed or removed; closing" : "Accounts were changed; connect again";
	return false;
}

static void ftp_on_close(wf_conn_t *c)
{
	xfer_ftp_t *f = F(c);
	ftp_data_free(f);
	xfer_auth_cancel(f->login);
	ftp_listing_cancel(f, "the session closed");
	ftp_op_cancel(f);
	ev_timer_stop(wf_conn_loop(c), &f->delay);
	ev_timer_stop(wf_conn_loop(c), &f->login_deadline);
	if (f->guarded)
		wf_ipguard_leave(c->peer_addr, WF_GUARD_FTPS);
	gnutls_memset(f->ticket_key.data, 0, f->ticket_key.size);
	gnutls_free(f->ticket_key.data);
	gnutls_free(f->sess_id.data);
	gnutls_free(f->sess_data.data);
	wf_buf_fini(&f->in);
	wf_buf_fini(&f->out);
	free(f);
	c->proto_data = NULL;
}

static int ftp_on_secure(wf_conn_t *c)
{
	xfer_ftp_t *f = F(c);
	f->secure = true;
	if (c->svc->type == WF_SERVICE_FTPS_IMPLICIT)
		ftp_reply(f, 220, "wharf FTPS ready");
	set_idle_timer(f);
	return WF_OK;
}

static const wf_proto_t ftp_proto = {
	.name = "ftp",
	.on_io = ftp_on_io,
	.on_timeout = ftp_on_timeout,
	.on_drain = ftp_on_drain,
	.keeps_on_reload = ftp_keeps_on_reload,
	.on_close = ftp_on_close,
	.on_secure = ftp_on_secure,
};

int xfer_ftp_start(wf_conn_t *c)
{
	xfer_ftp_t *f = calloc(1, sizeof(*f));
	if (!f)
		return WF_ERR;
	f->conn = c;
	wf_buf_init(&f->in, FTP_IN_CAP);
	wf_buf_init(&f->out, FTP_OUT_CAP);
	snprintf(f->cwd, sizeof(f->cwd), "/");
	f->type = 'A'; /* RFC 959's default; clients send TYPE I before binary transfers */
	f->mlst_facts = XFER_MLST_TYPE | XFER_MLST_SIZE | XFER_MLST_MODIFY | XFER_MLST_PERM;
	ev_timer_init(&f->delay, on_delay, 0, 0);
	ev_timer_init(&f->login_deadline, on_login_deadline, c->cfg->limits.ftp_login_timeout, 0);
	ev_timer_start(wf_conn_loop(c), &f->login_deadline);
	c->proto = &ftp_proto;
	c->proto_data = f;
	/* A client's ABOR may come as TCP urgent data (RFC 959 4.1.3: ftplib's
	 * abort() sends "ABOR\r\n" with MSG_OOB). Out of line, the kernel would
	 * take the urgent byte, the LF, out of the stream: the line would never
	 * end, and inside TLS the record would be cut. Inline, it is a byte like
	 * the others; the parser skips the Telnet bytes that may come first. */
	int one = 1;
	setsockopt(c->fd, SOL_SOCKET, SO_OOBINLINE, &one, sizeof(one));

	const wf_config_t *cfg = c->cfg;
	wf_guard_refusal_t why = { 0 };
	wf_guard_verdict_t v = wf_ipguard_enter(c->peer_addr, WF_GUARD_FTPS, cfg->limits.max_connections_per_ip,
						(time_t)ev_now(wf_conn_loop(c)), &why);
	if (v == WF_GUARD_OK) {
		f->guarded = true;
	} else {
		/* Answered on ftps alone, in the clear: on ftps-implicit a reply
		 * needs a handshake, which would cost more than the answer is
		 * worth, so the connection just closes. */
		if (c->svc->type == WF_SERVICE_FTPS) {
			if (v == WF_GUARD_BANNED)
				ftp_reply(f, 421, "Too many failed logins from your address; try again in %d s",
					  why.ban_left);
			else
				ftp_reply(f, 421, "Too many connections from your address (limit %d)",
					  cfg->limits.max_connections_per_ip);
		}
		if (why.log) {
			char text[256];
			wf_ipguard_refusal_text(v, WF_GUARD_FTPS, cfg->limits.max_connections_per_ip, &why, text,
						sizeof(text));
			ftp_log(f, WF_LOG_WARN, "refused: %s", text);
		}
		f->quitting = true;
		return WF_OK;
	}
	if (gnutls_session_ticket_key_generate(&f->ticket_key) < 0)
		return WF_ERR; /* on_close frees f */
	if (c->svc->type == WF_SERVICE_FTPS_IMPLICIT)
		return ftp_start_tls(f);
	ftp_reply(f, 220, "wharf FTP ready; AUTH TLS before logging in%s", c->svc->require_tls ? "" : " (recommended)");
	return WF_OK;
}
