/* What the FTP session (ftp_session.c), its command table (ftp_commands.c)
 * and its data channel (ftp_data.c) share. Nothing outside those three files
 * includes this. */
#ifndef XFER_FTP_INT_H
#define XFER_FTP_INT_H

#include "ftp_cmd.h"
#include "ftp_job.h"
#include "ftp_session.h"
#include "upload.h"
#include "../server/conn.h"

#include <limits.h>
#include <stdarg.h>

/* Room for a virtual path with its NUL: '/' and the longest path below the
 * home that the file system takes (PATH_MAX less its NUL: 4095 bytes on
 * Linux), as HTTPS serves (XFER_URL_PATH_MAX). */
#define FTP_PATH_MAX (PATH_MAX + 1)
#define FTP_OUT_HIGH (64 * 1024) /* stop reading commands while this much reply waits */

typedef struct ftp_data ftp_data_t;
typedef struct ftp_op ftp_op_t;

typedef struct xfer_ftp {
	wf_conn_t *conn;  /* borrowed: the control connection, whose proto_data this is */
	wf_buf_t in;      /* command bytes not yet used */
	wf_buf_t out;     /* replies not yet handed to the connection */
	bool skip_line;   /* dropping the rest of an overlong line */
	bool line_held;   /* the next line waits, unread, for the transfer (or listing read) to end */
	bool secure;      /* TLS is up on the control connection */
	bool pbsz, prot_p;
	bool logged_in;
	bool quitting;    /* close once the replies are out */
	const char *bye;  /* static: the 421 a drain ends with, NULL: shutdown's */
	bool quit_asked;  /* QUIT came during a commit: no line after it runs */
	bool guarded;     /* counted in server/ip_guard.c */
	char user_name[128];
	const wf_user_cfg_t *user; /* borrowed from conn->cfg, once logged in */
	char cwd[FTP_PATH_MAX];    /* virtual: "/" or "/a/b" */
	char type;                 /* 'A' or 'I' */
	uint64_t rest;             /* REST offset for the next transfer */
	char rnfr[FTP_PATH_MAX];   /* RNFR source awaiting RNTO, or "" */
	bool epsv_all;
	unsigned mlst_facts;
	unsigned bad_lines;        /* malformed or unknown commands in a row */
	unsigned failed_logins;
	struct xfer_auth_job *login; /* borrowed: the password check in flight (it owns itself) */
	xfer_fs_job_t *stat_job;  /* borrowed: a listing's folder being read, for STAT or before LIST's 150 (it owns itself until done) */
	bool data_listing;         /* stat_job is a LIST, NLST or MLSD's (no 150 yet), not a STAT's */
	ev_tstamp stat_from;       /* when stat_job began: a cancelled listing's access-log line times it */
	ftp_op_t *op;              /* owned: a command whose work runs off the loop (ftp_commands.c), or NULL */
	ev_timer delay;            /* the pause before a failed login's 530 */
	ev_timer login_deadline;   /* limits.ftp_login_timeout from connecting; stopped once logged in */
	bool delaying;
	gnutls_datum_t ticket_key; /* owned: this session's own TLS ticket key (docs/ftps.md) */
	gnutls_datum_t sess_id, sess_data; /* owned: the control's TLS 1.2 session, for its data connections */
	ftp_data_t *data;          /* owned: the data channel (PASV/PORT to transfer end), or NULL */
} xfer_ftp_t;

/* ftp_session.c */
/* One reply line. Its text goes whole, however long (a path in it is never
 * cut to look like another); CR and LF in it become spaces. */
void ftp_reply(xfer_ftp_t *f, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void ftp_vreply(xfer_ftp_t *f, int code, const char *fmt, va_list ap) __attribute__((format(printf, 3, 0)));
void ftp_reply_multi(xfer_ftp_t *f, int code, const char *first, const char *const *lines, size_t n,
		     const char *last);
/* Makes the control connection deliver replies written from outside its own
 * callback (a data connection's, an offload completion). */
void ftp_wake(xfer_ftp_t *f);
/* The TLS options of this session's connections. */
void ftp_tls_opts(xfer_ftp_t *f, bool data, struct wf_tls_opts *out);
/* Installs the TLS 1.2 session cache of f on a session (store only on the control). */
void ftp_tls_cache(xfer_ftp_t *f, gnutls_session_t s, bool control);
void ftp_log(xfer_ftp_t *f, int level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The access-log line of a transfer (one a command began: a file, or a
 * listing for the data connection) that ended with status. */
void ftp_log_transfer(xfer_ftp_t *f, const char *verb, const char *what, int status, uint64_t bytes,
		      ev_tstamp started);
/* Starts AUTH TLS: the caller has queued the 234. */
int ftp_start_tls(xfer_ftp_t *f);
/* PASS: starts the password check (off the loop). */
void ftp_login_start(xfer_ftp_t *f, wf_slice_t pass);

/* ftp_commands.c */
/* Runs one command line. */
void ftp_dispatch(xfer_ftp_t *f, const xfer_ftp_cmd_t *cmd);
/* A command line is over (ran: it passed the table's checks and its handler
 * ran): what a REST or RNFR left for the next line goes, unless this line
 * was that REST or RNFR. Lines too malformed to dispatch call it too. */
void ftp_line_done(xfer_ftp_t *f, xfer_ftp_verb_t verb, bool ran);
/* May cmd run while a transfer is in progress? */
bool ftp_allowed_in_transfer(xfer_ftp_verb_t v);
/* May cmd run while a LIST, NLST or MLSD's folder is read, before its 150
 * (ABOR and QUIT, which end the listing; lines of any other wait)? */
bool ftp_allowed_in_listing(xfer_ftp_verb_t v);
/* A listing's folder being read (f->stat_job, STAT's or a LIST's) is let
 * go of: the job gives its hold on the listings' budget back at once
 * while its step waits for the pool, else when the running step ends;
 * why (the session's end, ABOR, QUIT) goes in the log. Nothing is
 * replied. */
void ftp_listing_cancel(xfer_ftp_t *f, const char *why);
/* The session goes while a command's work runs off the loop (f->op): the
 * job is let go of, and no reply comes (see ftp_commands.c). */
void ftp_op_cancel(xfer_ftp_t *f);

/* ftp_data.c */
typedef enum ftp_xfer_kind {
	FTP_X_NONE,
	FTP_X_SEND_FILE, /* RETR */
	FTP_X_SEND_BUF,  /* LIST, NLST, MLSD: lines read already */
	FTP_X_RECV,      /* STOR, STOU, APPE */
} ftp_xfer_kind_t;

/* PASV/EPSV: opens a listener, replies 227/229 (or an error). */
void ftp_data_passive(xfer_ftp_t *f, bool extended);
/* PORT/EPRT to target (already checked to be the client): replies 200 or an error. */
void ftp_data_active(xfer_ftp_t *f, const struct sockaddr_storage *target);
/* A transfer command was accepted: 150 is sent, and the transfer starts once
 * the data connection is up. Each takes what it is given (fd, buffer,
 * upload), also on failure. what is the virtual path (for logs). */
void ftp_data_send_file(xfer_ftp_t *f, int fd_take, uint64_t offset, uint64_t size, const char *what);
/* A listing's lines (an xfer_ftp_listing_buf, freed with its count on
 * the listings' budget when the transfer ends); cut: entries were left out,
 * listed of them are in take (the 226 says so). */
void ftp_data_send_buf(xfer_ftp_t *f, wf_buf_t *take, bool cut, size_t listed, const char *verb, const char *what);
/* unique: the name STOU chose, announced in the 150 (RFC 1123), or NULL.
 * resumed: take is the claimed partial of an interrupted upload, which is
 * parked again, not dropped, if the data connection fails before any byte
 * of this attempt came (or this command cannot start). */
/* Parks up, a claimed partial, again under partial, as it was: true when
 * kept. When its rename fails, a warning says how many bytes of what are
 * lost and why, and up's file is left for its owner to drop off the loop
 * (xfer_fs_job_drop_upload). */
bool ftp_repark(xfer_ftp_t *f, xfer_upload_t *up, const char *partial, const char *what);
void ftp_data_recv(xfer_ftp_t *f, xfer_upload_t *take, bool resumed, const char *partial, const char *verb,
		   const char *what, const char *unique);
/* An upload whose kept head take (a copy job, not started, holding the
 * upload) copies off the loop: the 150 now, reading once the copy is done. */
void ftp_data_recv_copying(xfer_ftp_t *f, xfer_fs_job_t *take, const char *partial, const char *verb,
			   const char *what);
/* Has the data connection failed already (reset, timed out, refused)?
 * Then true, after the 425 a transfer command gets for it (the channel
 * ends): a command checks this before it touches a partial. */
bool ftp_data_refused(xfer_ftp_t *f);
/* A job of a transfer command runs before its 150 (removing or cutting
 * its partial): the server's time, not the client's, so the data channel's
 * data_connect_timeout stops meanwhile (hold) and starts afresh once the
 * job is done (!hold). */
void ftp_data_hold(xfer_ftp_t *f, bool hold);
/* Is a transfer under way (a transfer command was accepted, no final reply yet)? */
bool ftp_data_busy(const xfer_ftp_t *f);
/* Is a data channel set up (PASV/PORT since the last transfer)? */
bool ftp_data_ready(const xfer_ftp_t *f);
/* ABOR: ends any transfer (426 for it; a job readying it stops), then 226
 * (or 225 when none ran). During an upload's commit the transfer's own
 * reply comes first, then 226. */
void ftp_data_abort(xfer_ftp_t *f);
/* QUIT during an upload: true, and the upload runs to its end, whose own
 * reply comes first (RFC 959: the client learns whether its file was
 * stored), then 221 and the close. A client may send QUIT right behind
 * its last byte, before the server has read it. false when no upload
 * runs. */
bool ftp_data_quit_after_upload(xfer_ftp_t *f);
/* STAT during a transfer: one line of progress (empty when none runs);
 * FTP_DATA_STATUS_MAX bytes hold it whole, path and all. */
#define FTP_DATA_STATUS_MAX (FTP_PATH_MAX + 64)
void ftp_data_status(const xfer_ftp_t *f, char *out, size_t cap);
/* The session ends: the channel goes, an upload in progress is parked. */
void ftp_data_free(xfer_ftp_t *f);

#endif
