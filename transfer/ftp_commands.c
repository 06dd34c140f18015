/* FTP commands: one table states what each needs (login, an argument, a
 * permission, a protected data channel, whether it may run during a
 * transfer), so no handler checks its own preconditions; the handlers below
 * do the work and reply per RFC 959/2228/2428/3659/4217. */
#include "ftp_glob.h"
#include "ftp_int.h"
#include "ftp_list.h"
#include "partial_sweep.h"
#include "path.h"
#include "../server/log.h"
#include "../server/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#define LISTING_CAP (64u << 20) /* bytes of one listing */
#define STAT_LISTING_CAP (1u << 20) /* bytes of a STAT PATH listing (on the control connection) */
#define LISTING_MAX_ENTRIES 100000

enum {
	NEED_LOGIN = 1 << 0, /* 530 before login */
	NEED_ARG = 1 << 1,   /* 501 without an argument */
	NEED_DATA = 1 << 2,  /* opens a data connection: PROT P (with require_tls) and PASV/PORT first */
	IN_XFER = 1 << 3,    /* may run while a transfer is in progress */
	BEFORE_TLS = 1 << 4, /* may run before AUTH TLS when require_tls is on */
	IN_LISTING = 1 << 5, /* may run while a LIST's folder is read, before its 150 (it ends the listing) */
};

typedef struct ftp_command {
	xfer_ftp_verb_t verb;
	unsigned needs;
	unsigned perm; /* WF_PERM_* bits the user must hold one of, or 0 */
	void (*run)(xfer_ftp_t *f, wf_slice_t arg);
} ftp_command_t;

/* ---------------------------------------------------------------- helpers */

static _Atomic time_t short_logged; /* when running short of descriptors or memory was last logged */

static void reply_errno(xfer_ftp_t *f, int err, const char *what)
{
	switch (err) {
	case ENOENT:
		ftp_reply(f, 550, "%s: no such file or folder", what);
		break;
	case EACCES:
	case EPERM:
		ftp_reply(f, 550, "%s: permission denied", what);
		break;
	case EXDEV:
		ftp_reply(f, 550, "%s: leads outside your home", what);
		break;
	case ELOOP:
		/* A link loop, one an upload would replace (see store_setup), or
		 * any link where openat2 is missing (transfer/path.c). */
		ftp_reply(f, 550, "%s: a symbolic link that is not followed here", what);
		break;
	case ENOTDIR:
		ftp_reply(f, 550, "%s: not a folder", what);
		break;
	case EISDIR:
		ftp_reply(f, 550, "%s: is a folder", what);
		break;
	case EEXIST:
		ftp_reply(f, 550, "%s: already exists", what);
		break;
	case ENOTEMPTY:
		ftp_reply(f, 550, "%s: folder not empty", what);
		break;
	case ENOSPC:
	case EDQUOT:
		ftp_reply(f, 452, "%s: no space left on the server's disk", what);
		break;
	case ENAMETOOLONG:
		ftp_reply(f, 553, "%s: name too long", what);
		break;
	case EMFILE: /* the server's trouble, for a moment: a transient 4xx */
	case ENFILE:
	case ENOMEM:
		if (wf_log_minute_due(&short_logged))
			ftp_log(f, WF_LOG_WARN, "%s: %s (a line a minute at most)", what, strerror(err));
		ftp_reply(f, 451, "%s: the server is short of resources; try again in a moment", what);
		break;
	default:
		ftp_reply(f, 550, "%s: %s", what, strerror(err));
	}
}

/* rel for arg, in vpath (virtual, for replies); NULL after a reply. *dir,
 * unless dir is NULL, is set when arg names a folder by its form ("f.txt/":
 * xfer_ftp_path_resolve): a command on a file then finds a folder there or
 * nothing. Hidden upload files cannot be named: they are the server's, not
 * the user's, so none is there to be found (550); a name to make (making)
 * may not be one either, and is told why (553, as HTTPS's 403). */
static const char *resolve_as(xfer_ftp_t *f, wf_slice_t arg, char *vpath, size_t cap, bool *dir, bool making)
{
	bool is_dir;
	if (xfer_ftp_path_resolve(f->cwd, arg, vpath, cap, &is_dir) != WF_OK) {
		ftp_reply(f, 553, "Path too long");
		return NULL;
	}
	if (dir)
		*dir = is_dir;
	for (const char *p = vpath; p && *p;) {
		p++;
		const char *next = strchr(p, '/');
		if (xfer_path_is_reserved(p)) {
			if (making && !next)
				ftp_reply(f, 553, "%s: reserved name (the server's, for uploads under way)", vpath);
			else
				ftp_reply(f, 550, "%s: no such file or folder", vpath);
			return NULL;
		}
		p = next;
	}
	return vpath + 1;
}

static const char *resolve(xfer_ftp_t *f, wf_slice_t arg, char *vpath, size_t cap, bool *dir)
{
	return resolve_as(f, arg, vpath, cap, dir, false);
}

/* resolve, for a name a command creates (STOR, STOU, APPE, MKD, RNTO): its
 * last segment must be one it may create (not reserved, and
 * xfer_ftp_name_creatable), else NULL after a 553 (and a log line). */
static const char *resolve_new(xfer_ftp_t *f, wf_slice_t arg, char *vpath, size_t cap, bool *dir)
{
	const char *rel = resolve_as(f, arg, vpath, cap, dir, true);
	if (!rel)
		return NULL;
	const char *leaf = strrchr(vpath, '/') + 1;
	if (!xfer_ftp_name_creatable((wf_slice_t){ leaf, strlen(leaf) })) {
		ftp_log(f, WF_LOG_INFO, "not creating %s: the name holds a control character", vpath);
		ftp_reply(f, 553, "Name not allowed: it holds a control character (bytes 1-31 and 127), "
				  "which HTTPS refuses in a path");
		return NULL;
	}
	return rel;
}

/* resolve_new, for a file to make (STOR, STOU, APPE): a name that ends
 * in '/' names a folder, never a file to make (a 553). */
static const char *resolve_new_file(xfer_ftp_t *f, wf_slice_t arg, char *vpath, size_t cap)
{
	bool dir;
	const char *rel = resolve_new(f, arg, vpath, cap, &dir);
	if (rel && dir && rel[0]) {
		ftp_reply(f, 553, "%s/: a file name cannot end in /", vpath);
		return NULL;
	}
	return rel;
}

static int home(xfer_ftp_t *f)
{
	return f->user->home_fd;
}

/* Opens rel read-only, an fd or -errno. A symlink, final or not, is
 * followed as the server's other users (HTTP) and other FTP servers follow
 * one inside a chroot: resolved beneath the home all the same
 * (xfer_path_open), so one that leads outside is -EXDEV. FileZilla and
 * WinSCP list a link as a link, try CWD, and fetch it with RETR when that
 * fails. O_NONBLOCK: opening a FIFO to read waits for a writer, and would
 * hold the worker with every session on it; a regular file's reads ignore
 * the flag. dir: rel was named as a folder ("f.txt/"), and anything else
 * there is -ENOTDIR, as Linux answers. */
static int open_name(xfer_ftp_t *f, const char *rel, bool dir)
{
	return xfer_path_open(home(f), rel, O_RDONLY | O_NONBLOCK | (dir ? O_DIRECTORY : 0), 0);
}

/* open_name, and stats it; -1 after replying with the reason. */
static int open_stat(xfer_ftp_t *f, const char *rel, bool dir, const char *v, struct stat *st)
{
	int fd = open_name(f, rel, dir);
	if (fd >= 0 && fstat(fd, st) == 0)
		return fd;
	int err = fd < 0 ? -fd : errno;
	if (fd >= 0)
		close(fd);
	reply_errno(f, err, v);
	return -1;
}

/* Opens the folder that holds rel's last segment (the home itself has
 * none: EISDIR); -1 after replying with the reason. */
static int open_parent(xfer_ftp_t *f, const char *rel, const char *v, const char **leaf)
{
	int dfd = rel[0] ? xfer_path_open_parent(home(f), rel, leaf) : -EISDIR;
	if (dfd >= 0)
		return dfd;
	reply_errno(f, -dfd, v);
	return -1;
}

/* For a name given as a folder ("d/") that a command finds by its last
 * segment in dfd (DELE, SIZE, and RNTO's source): 0 when it is a folder,
 * else ENOTDIR (a link too: it is not followed here), or why it cannot be
 * seen (ENOENT). */
static int folder_at(int dfd, const char *leaf)
{
	struct stat st;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return errno;
	return S_ISDIR(st.st_mode) ? 0 : ENOTDIR;
}

/* What SIZE and DELE go on with once they have the names: the folder
 * (taken), the leaf, its partial's name ("" for a name too odd to have one:
 * its upload was refused), the path relative to the home and the virtual
 * one; recovered: an orphan claimed name was put back as the partial
 * already (or could not be). */
typedef void (*with_partial_fn)(xfer_ftp_t *f, int dfd_take, const char *leaf, const char *partial, const char *rel,
				const char *v, bool recovered);

/* For SIZE and DELE, which meet a name and its partial alike: resolves arg,
 * opens the folder that holds it (open_parent) and names the partial an
 * interrupted upload of it has, then goes on with go, or replies with the
 * reason. A name given as a folder ("f.txt/") must be one, and has no
 * partial: a file there gets 550 and stays. */
static void with_partial(xfer_ftp_t *f, wf_slice_t arg, with_partial_fn go)
{
	char v[FTP_PATH_MAX], partial[NAME_MAX + 1];
	bool dir;
	const char *leaf, *rel = resolve(f, arg, v, sizeof(v), &dir);
	if (!rel)
		return;
	int dfd = open_parent(f, rel, v, &leaf);
	if (dfd < 0)
		return;
	int err = dir ? folder_at(dfd, leaf) : 0;
	if (err) {
		close(dfd);
		reply_errno(f, err, v);
		return;
	}
	if (dir || xfer_path_partial_name(leaf, partial, sizeof(partial)) != 0)
		partial[0] = '\0';
	go(f, dfd, leaf, partial, rel, v, false);
}

/* A partial nobody resumed within partial_upload_max_age, or one older
 * than the file its name holds now (xfer_partial_check), is gone for every
 * command: SIZE, REST+STOR and APPE remove it when they meet it (off the
 * loop: it may be gigabytes), so they all find none (the sweep removes the
 * old ones nobody meets). Is there such a one? */
static bool partial_gone(xfer_ftp_t *f, int dfd, const char *leaf, const char *partial)
{
	return xfer_partial_check(dfd, partial, leaf, time(NULL), f->conn->cfg->limits.partial_upload_max_age) !=
	       XFER_PARTIAL_LIVE;
}

/* The removal job of partial_gone's partial: what it found, logged. */
static void log_gone_removed(xfer_ftp_t *f, const char *v, const xfer_fs_job_t *job)
{
	xfer_fs_partial_fate_t fate = xfer_fs_job_partial(job);
	if (fate == XFER_FS_PARTIAL_STALE)
		ftp_log(f, WF_LOG_INFO, "removed the interrupted upload of %s: untouched for over %d s", v,
			f->conn->cfg->limits.partial_upload_max_age);
	else if (fate == XFER_FS_PARTIAL_REPLACED)
		ftp_log(f, WF_LOG_INFO, "removed the interrupted upload of %s: the file was replaced after it", v);
}

/* Past the longest a live upload leaves its temp file untouched
 * (xfer_upload_tmp_orphan): a temp file, or a claimed name, older than this
 * and changed before the process started is no upload's. */
static time_t orphan_age(const xfer_ftp_t *f)
{
	return xfer_upload_orphan_age(f->conn->cfg->limits.send_timeout);
}

/* A resumption of leaf under way, as its claimed name (transfer/path.c)
 * tells: none, a live one (this process's, or a live node's sharing the
 * home), or an orphan a dead process left (to be put back as the partial). */
typedef enum { CLAIM_NONE, CLAIM_LIVE, CLAIM_ORPHAN } claim_state_t;

static claim_state_t claim_state(const xfer_ftp_t *f, int dfd, const char *leaf)
{
	char claimed[NAME_MAX + 1];
	struct stat st;
	if (xfer_path_claimed_name(leaf, claimed, sizeof(claimed)) != 0 ||
	    fstatat(dfd, claimed, &st, AT_SYMLINK_NOFOLLOW) != 0)
		return CLAIM_NONE;
	return xfer_upload_tmp_orphan(&st, time(NULL), orphan_age(f), wf_server->started) ? CLAIM_ORPHAN
												: CLAIM_LIVE;
}

/* A resuming command meets another resumption of the same name: nothing changes. */
static void reply_claimed(xfer_ftp_t *f, const char *v)
{
	ftp_log(f, WF_LOG_INFO, "resuming %s refused: another session is resuming it", v);
	ftp_reply(f, 450, "%s is being resumed by another session; try again later", v);
}

/* After a recovery job (xfer_ftp_job_recover): its line in the log. */
static void log_recovered(xfer_ftp_t *f, const char *v, xfer_fs_job_t *job)
{
	int err = xfer_fs_job_err(job);
	if (err)
		ftp_log(f, WF_LOG_WARN, "could not recover the interrupted resumption of %s a stopped process left: %s",
			v, strerror(err));
	else if (xfer_ftp_job_recovered(job))
		ftp_log(f, WF_LOG_INFO, "recovered the interrupted resumption of %s a stopped process left: "
			"its bytes are the partial again", v);
}

/* LIST and NLST take ls flags ("-la") that we ignore, as vsftpd does. */
static wf_slice_t skip_flags(wf_slice_t arg)
{
	while (arg.len && arg.ptr[0] == '-') {
		while (arg.len && arg.ptr[0] != ' ') {
			arg.ptr++;
			arg.len--;
		}
		while (arg.len && arg.ptr[0] == ' ') {
			arg.ptr++;
			arg.len--;
		}
	}
	return arg;
}

static xfer_ftp_perms_t perms_of(const xfer_ftp_t *f)
{
	unsigned p = f->user->perms;
	return (xfer_ftp_perms_t){ .read = p & WF_PERM_READ, .write = p & WF_PERM_WRITE,
				   .delete_ = p & WF_PERM_DELETE, .mkdir = p & WF_PERM_MKDIR };
}

/* ---------------------------------------------------------------- work off the loop */

/* A command whose work may take long hands it to a job on the offload pool
 * (transfer/fs_job.c, and FTP's own kinds in transfer/ftp_job.c) and waits: DELE, RMD, MKD and RNTO (the change, and
 * the fsync of the folder that makes it durable before the reply; a DELE
 * frees the blocks of a file that may be gigabytes), a REST + STOR that
 * cuts a partial back (ftruncate frees blocks too), and a SIZE, STOR or
 * APPE that first removes a partial (a stale one; for a plain STOR, which
 * starts over, any). The job works in the folder fds the command opened
 * beneath the home, never by path. Until it is done the session reads no
 * further line (blocked() in ftp_session.c): the lines pipelined behind it
 * (a transfer, a QUIT, an ABOR) wait unread and then run in order, as they
 * would have, and the command's reply is the one it always gave, only
 * later. Meanwhile the server is at work, not the client: the session's
 * idle timer waits (ftp_session.c), and so does the data channel's connect
 * timeout (a transfer command's own job, or a DELE between PASV and STOR:
 * the client cannot send the STOR until the DELE is answered), both starting
 * afresh once it is done.
 *
 * If the session goes first (the client closed, the server shut down, the
 * client read no replies until their buffer was full), the job is let go
 * of: one the pool has not yet taken up changes nothing, one already
 * running makes its change and it stays made (a cut partial is parked
 * again). The client gets no reply; connecting again, it finds the file
 * deleted or not, the folder made or not, the name moved or not: the tree
 * as before the command or as after it. */
typedef enum { STORE_STOR, STORE_APPE, STORE_STOU } store_kind_t;

struct ftp_op {
	xfer_fs_job_t *job;     /* borrowed: owns itself until done, or until let go of */
	void (*done)(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job); /* the reply, on the loop */
	char v[FTP_PATH_MAX];    /* the virtual path the reply names */
	char from[FTP_PATH_MAX]; /* RNTO: the source, relative to the home (for the log) */
	char partial[NAME_MAX + 1]; /* STOR, APPE, SIZE: the partial's name */
	bool no_replace;         /* RNTO: the user may not replace a file */
	/* What the command goes on with once the job is done (STOR, APPE, SIZE): */
	int dfd;                 /* owned: the folder it opened, or -1 */
	char leaf[NAME_MAX + 1];  /* the name in dfd */
	char rel[FTP_PATH_MAX];  /* SIZE, DELE: the path, relative to the home */
	with_partial_fn then;    /* SIZE, DELE: what goes on once an orphan claimed name is recovered */
	store_kind_t kind;
	uint64_t rest;
	char unique[64];         /* STOU: the name it chose */
};

static ftp_op_t *op_new(xfer_ftp_t *f, const char *v, void (*done)(xfer_ftp_t *, ftp_op_t *, xfer_fs_job_t *))
{
	ftp_op_t *op = calloc(1, sizeof(*op));
	if (!op) {
		ftp_reply(f, 451, "Out of memory");
		return NULL;
	}
	snprintf(op->v, sizeof(op->v), "%s", v);
	op->done = done;
	op->dfd = -1;
	return op;
}

static void op_free(ftp_op_t *op)
{
	if (op->dfd >= 0)
		close(op->dfd);
	free(op);
}

/* An op that keeps dfd (owned from here on, closed on failure) for its reply,
 * with a copy of it in *job_fd for the job; NULL once the failure is told. */
static ftp_op_t *op_new_keeping(xfer_ftp_t *f, const char *v, void (*done)(xfer_ftp_t *, ftp_op_t *, xfer_fs_job_t *),
				int dfd, int *job_fd)
{
	ftp_op_t *op = op_new(f, v, done);
	*job_fd = op ? dup(dfd) : -1;
	if (*job_fd < 0) {
		if (op) {
			int err = errno;
			op_free(op);
			reply_errno(f, err, v);
		}
		close(dfd);
		return NULL;
	}
	op->dfd = dfd;
	return op;
}

static void on_op_done(void *arg, xfer_fs_job_t *job)
{
	xfer_ftp_t *f = arg;
	ftp_op_t *op = f->op;
	f->op = NULL;
	ftp_data_hold(f, false);
	op->done(f, op, job);
	xfer_fs_job_free(job);
	op_free(op);
	ftp_wake(f); /* the reply goes out, and the lines behind it run */
}

/* Runs job (NULL: out of memory) for op; its reply comes once it is done. */
static void op_start(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	if (!job) {
		op_free(op);
		ftp_reply(f, 451, "Out of memory");
		return;
	}
	op->job = job;
	f->op = op;
	ftp_data_hold(f, true);
	if (xfer_fs_job_start(job, f->conn->worker, on_op_done, f) == WF_DONE)
		on_op_done(f, job); /* no pool: it ran here */
}

void ftp_op_cancel(xfer_ftp_t *f)
{
	if (!f->op)
		return;
	xfer_fs_job_cancel(f->op->job);
	op_free(f->op);
	f->op = NULL;
}

/* ---------------------------------------------------------------- access control */

static void cmd_user(xfer_ftp_t *f, wf_slice_t arg)
{
	if (f->logged_in) {
		ftp_reply(f, 503, "Already logged in");
		return;
	}
	if (arg.len >= sizeof(f->user_name) || memchr(arg.ptr, '\0', arg.len)) {
		ftp_reply(f, 501, "User name too long");
		return;
	}
	memcpy(f->user_name, arg.ptr, arg.len);
	f->user_name[arg.len] = '\0';
	ftp_reply(f, 331, "Password required");
}

static void cmd_pass(xfer_ftp_t *f, wf_slice_t arg)
{
	if (f->logged_in) {
		ftp_reply(f, 503, "Already logged in");
		return;
	}
	if (!f->user_name[0]) {
		ftp_reply(f, 503, "Send USER first");
		return;
	}
	ftp_login_start(f, arg);
}

static void cmd_auth(xfer_ftp_t *f, wf_slice_t arg)
{
	if (f->conn->tls) {
		ftp_reply(f, 503, "Already using TLS");
		return;
	}
	if (!wf_slice_eq_ci(arg, "TLS") && !wf_slice_eq_ci(arg, "SSL") && !wf_slice_eq_ci(arg, "TLS-C") &&
	    !wf_slice_eq_ci(arg, "TLS-P")) {
		ftp_reply(f, 504, "AUTH TLS only");
		return;
	}
	ftp_reply(f, 234, "AUTH TLS ok; starting TLS");
	if (ftp_start_tls(f) != WF_OK)
		f->quitting = true;
}

static void cmd_pbsz(xfer_ftp_t *f, wf_slice_t arg)
{
	if (!f->conn->tls) {
		ftp_reply(f, 503, "PBSZ needs AUTH TLS first");
		return;
	}
	uint64_t v;
	if (xfer_ftp_parse_offset(arg, &v) != WF_OK) {
		ftp_reply(f, 501, "PBSZ takes a number");
		return;
	}
	f->pbsz = true;
	ftp_reply(f, 200, "PBSZ=0");
}

static void cmd_prot(xfer_ftp_t *f, wf_slice_t arg)
{
	if (!f->pbsz) {
		ftp_reply(f, 503, "Send PBSZ 0 first");
		return;
	}
	if (wf_slice_eq_ci(arg, "P")) {
		f->prot_p = true;
		ftp_reply(f, 200, "Protection level set to Private");
	} else if (wf_slice_eq_ci(arg, "C")) {
		if (f->conn->svc->require_tls) {
			ftp_reply(f, 534, "PROT C refused: data connections must be protected here (require_tls)");
			return;
		}
		f->prot_p = false;
		ftp_reply(f, 200, "Protection level set to Clear");
	} else if (wf_slice_eq_ci(arg, "S") || wf_slice_eq_ci(arg, "E")) {
		ftp_reply(f, 536, "Only PROT P (and C) are supported");
	} else {
		ftp_reply(f, 504, "Unknown protection level");
	}
}

static void cmd_ccc(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	ftp_reply(f, 533, "CCC refused: the control connection stays encrypted");
}

static void cmd_quit(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	if (ftp_data_quit_after_upload(f))
		return;
	/* A listing whose folder is still read ends as a transfer QUIT ends:
	 * without a reply of its own, nothing sent. */
	if (f->stat_job)
		ftp_listing_cancel(f, "QUIT");
	if (ftp_data_busy(f))
		ftp_data_free(f);
	ftp_reply(f, 221, "Goodbye");
	f->quitting = true;
}

/* ---------------------------------------------------------------- information */

static void cmd_noop(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	ftp_reply(f, 200, "NOOP ok");
}

static void cmd_syst(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	ftp_reply(f, 215, "UNIX Type: L8");
}

static void cmd_feat(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	char mlst[128];
	xfer_ftp_mlst_feat(f->mlst_facts, mlst, sizeof(mlst));
	const char *lines[16];
	size_t n = 0;
	lines[n++] = "AUTH TLS";
	lines[n++] = "PBSZ";
	lines[n++] = "PROT";
	lines[n++] = "EPSV";
	if (f->conn->svc->active_mode)
		lines[n++] = "EPRT";
	lines[n++] = "MDTM";
	lines[n++] = "MFMT";
	lines[n++] = "SIZE";
	lines[n++] = "REST STREAM";
	lines[n++] = mlst;
	lines[n++] = "TVFS";
	lines[n++] = "UTF8";
	ftp_reply_multi(f, 211, "Features:", lines, n, "End");
}

static void cmd_opts(xfer_ftp_t *f, wf_slice_t arg)
{
	if (arg.len >= 4 && wf_slice_eq_ci((wf_slice_t){ arg.ptr, 4 }, "UTF8")) {
		ftp_reply(f, 200, "Always in UTF8 mode");
		return;
	}
	if (arg.len >= 4 && wf_slice_eq_ci((wf_slice_t){ arg.ptr, 4 }, "MLST")) {
		char facts[256] = "";
		if (arg.len > 5 && arg.len - 5 < sizeof(facts)) {
			memcpy(facts, arg.ptr + 5, arg.len - 5);
			facts[arg.len - 5] = '\0';
		}
		f->mlst_facts = xfer_ftp_mlst_facts_parse(facts);
		char text[128];
		xfer_ftp_mlst_facts_text(f->mlst_facts, text, sizeof(text));
		ftp_reply(f, 200, "MLST OPTS %s", text);
		return;
	}
	ftp_reply(f, 501, "Unknown option");
}

/* HELP VERB: 214 with its syntax, as ProFTPD and Pure-FTPd answer; 502
 * (RFC 959's "command not implemented") for a verb this server does not
 * know. Only the first word counts ("HELP SITE CHMOD" is SITE's). Plain
 * HELP lists them all. */
static void help_verb(xfer_ftp_t *f, wf_slice_t arg)
{
	wf_slice_t word = wf_slice_trim(arg);
	const char *sp = memchr(word.ptr, ' ', word.len);
	if (sp)
		word.len = (size_t)(sp - word.ptr);
	xfer_ftp_verb_t v = xfer_ftp_verb_of(word);
	if (v == XFER_FTP_UNKNOWN) {
		/* The name is the client's: cut, as a 500 for it is (control bytes
		 * cannot be in a line; CR and LF become spaces in any reply). */
		ftp_reply(f, 502, "Unknown command '%.*s'", (int)(word.len > 32 ? 32 : word.len), word.ptr);
		return;
	}
	ftp_reply(f, 214, "Syntax: %s", xfer_ftp_verb_syntax(v));
}

static void cmd_help(xfer_ftp_t *f, wf_slice_t arg)
{
	if (wf_slice_trim(arg).len) {
		help_verb(f, arg);
		return;
	}
	static const char *const lines[] = {
		"ABOR ALLO APPE AUTH CCC  CDUP CWD  DELE EPRT EPSV FEAT HELP LIST MDTM",
		"MFMT MKD  MLSD MLST MODE NLST NOOP OPTS PASS PASV PBSZ PORT PROT PWD",
		"QUIT REST RETR RMD  RNFR RNTO SIZE STAT STOR STOU STRU SYST TYPE USER",
	};
	ftp_reply_multi(f, 214, "The following commands are recognized:", lines, 3, "Help OK");
}

/* SITE subcommands (CHMOD, UTIME, ...) are server-specific and none is
 * offered: 502 (RFC 959's "command not offered by this server") tells a
 * client (lftp's SITE UTIME after an upload) not to retry it, where 500 would
 * call the line garbage. */
static void cmd_site(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	ftp_reply(f, 502, "No SITE commands are offered here");
}

/* 257 "PATH" what: a client reads the path up to the closing quote, so the
 * reply goes whole (as every reply does), or not at all. */
static void reply_257(xfer_ftp_t *f, const char *vpath, const char *what)
{
	char q[FTP_PATH_MAX * 2]; /* every byte a quote, doubled */
	if (xfer_ftp_quote_path(vpath, q, sizeof(q)) != WF_OK) {
		ftp_reply(f, 550, "Path too long to report");
		return;
	}
	ftp_reply(f, 257, "\"%s\" %s", q, what);
}

static void cmd_pwd(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	reply_257(f, f->cwd, "is the current folder");
}

static void cmd_cwd(xfer_ftp_t *f, wf_slice_t arg)
{
	char v[FTP_PATH_MAX];
	const char *rel = resolve(f, arg, v, sizeof(v), NULL);
	if (!rel)
		return;
	/* As chdir(2) would have it: the folder must be searchable, not readable.
	 * A --x drop box may be entered and its files fetched by name; an r--
	 * folder's names can be listed, but nothing in it can be opened. */
	int fd = xfer_path_open(home(f), rel, O_PATH | O_DIRECTORY, 0);
	if (fd < 0) {
		reply_errno(f, -fd, v);
		return;
	}
	/* A lookup in it, even of ".", is what needs search permission: the
	 * kernel asks it of chdir(2) the same way, on any kernel (faccessat2's
	 * AT_EMPTY_PATH is newer than some hosts and seccomp profiles). */
	int in = openat(fd, ".", O_PATH | O_DIRECTORY | O_CLOEXEC);
	int rc = in >= 0 ? 0 : errno;
	if (in >= 0)
		close(in);
	close(fd);
	if (rc) {
		reply_errno(f, rc, v);
		return;
	}
	snprintf(f->cwd, sizeof(f->cwd), "%s", v);
	ftp_reply(f, 250, "Folder changed to %s", v);
}

static void cmd_cdup(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	cmd_cwd(f, (wf_slice_t){ "..", 2 });
}

static void cmd_type(xfer_ftp_t *f, wf_slice_t arg)
{
	char t;
	if (xfer_ftp_parse_type(arg, &t) != WF_OK) {
		ftp_reply(f, 504, "Only TYPE A and TYPE I are supported");
		return;
	}
	f->type = t;
	ftp_reply(f, 200, t == 'A' ? "Switching to ASCII mode" : "Switching to Binary mode");
}

static void cmd_mode(xfer_ftp_t *f, wf_slice_t arg)
{
	if (wf_slice_eq_ci(arg, "S"))
		ftp_reply(f, 200, "Mode set to S");
	else
		ftp_reply(f, 504, "Only MODE S is supported");
}

static void cmd_stru(xfer_ftp_t *f, wf_slice_t arg)
{
	if (wf_slice_eq_ci(arg, "F"))
		ftp_reply(f, 200, "Structure set to F");
	else
		ftp_reply(f, 504, "Only STRU F is supported");
}

static void cmd_allo(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	ftp_reply(f, 202, "ALLO not needed");
}

static void cmd_rest(xfer_ftp_t *f, wf_slice_t arg)
{
	uint64_t off;
	f->rest = 0;
	if (xfer_ftp_parse_offset(arg, &off) != WF_OK) {
		ftp_reply(f, 501, "REST takes a byte offset");
		return;
	}
	f->rest = off;
	ftp_reply(f, 350, "Restarting at %llu; send STOR, APPE or RETR", (unsigned long long)off);
}

/* ---------------------------------------------------------------- data channel */

static void cmd_pasv(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	if (f->epsv_all) {
		ftp_reply(f, 503, "EPSV ALL is in effect: use EPSV");
		return;
	}
	ftp_data_passive(f, false);
}

static void cmd_epsv(xfer_ftp_t *f, wf_slice_t arg)
{
	if (wf_slice_eq_ci(arg, "ALL")) {
		f->epsv_all = true;
		ftp_reply(f, 200, "EPSV ALL ok");
		return;
	}
	/* The data listener takes the control connection's local address, so
	 * the one protocol offered is that address's (RFC 2428: 522 names it). */
	struct sockaddr_storage local;
	socklen_t len = sizeof(local);
	const char *proto = "1";
	if (getsockname(f->conn->fd, (struct sockaddr *)&local, &len) == 0 && local.ss_family == AF_INET6 &&
	    !IN6_IS_ADDR_V4MAPPED(&((const struct sockaddr_in6 *)&local)->sin6_addr))
		proto = "2";
	/* A protocol number is 1 to 3 digits (RFC 2428 2, the IANA address
	 * families); anything else is no EPSV argument at all. */
	bool number = arg.len >= 1 && arg.len <= 3;
	for (size_t i = 0; number && i < arg.len; i++)
		number = arg.ptr[i] >= '0' && arg.ptr[i] <= '9';
	if (arg.len && !number) {
		ftp_reply(f, 501, "EPSV takes a network protocol number or ALL");
		return;
	}
	if (arg.len && !wf_slice_eq_ci(arg, proto)) {
		ftp_reply(f, 522, "Network protocol not supported, use (%s)", proto);
		return;
	}
	ftp_data_passive(f, true);
}

/* Same host as the control connection's peer (an IPv4-mapped IPv6 control
 * address matches its IPv4 form). */
static bool is_client(xfer_ftp_t *f, const struct sockaddr_storage *ss)
{
	char addr[INET6_ADDRSTRLEN] = "";
	if (ss->ss_family == AF_INET)
		inet_ntop(AF_INET, &((const struct sockaddr_in *)ss)->sin_addr, addr, sizeof(addr));
	else
		inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)ss)->sin6_addr, addr, sizeof(addr));
	return strcmp(addr, f->conn->peer_addr) == 0;
}

static void active(xfer_ftp_t *f, wf_slice_t arg, bool extended)
{
	if (!f->conn->svc->active_mode) {
		ftp_reply(f, 502, "Active mode is off here: use PASV or EPSV");
		return;
	}
	if (f->epsv_all) {
		ftp_reply(f, 503, "EPSV ALL is in effect: use EPSV");
		return;
	}
	struct sockaddr_storage ss;
	int rc = extended ? xfer_ftp_parse_eprt(arg, &ss) : xfer_ftp_parse_port(arg, &ss);
	if (rc != WF_OK) {
		ftp_reply(f, extended ? 522 : 501, extended ? "Bad EPRT argument; protocols (1,2)" : "Bad PORT argument");
		return;
	}
	uint16_t port = ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port :
							((struct sockaddr_in6 *)&ss)->sin6_port);
	if (!is_client(f, &ss) || port < 1024) {
		ftp_log(f, WF_LOG_WARN, "%s to another host or a privileged port refused (FTP bounce)",
			extended ? "EPRT" : "PORT");
		ftp_reply(f, 504, "Data connections go only to your own address, port 1024 or above (no FTP bounce)");
		return;
	}
	ftp_data_active(f, &ss);
}

static void cmd_port(xfer_ftp_t *f, wf_slice_t arg)
{
	active(f, arg, false);
}

static void cmd_eprt(xfer_ftp_t *f, wf_slice_t arg)
{
	active(f, arg, true);
}

static void cmd_abor(xfer_ftp_t *f, wf_slice_t arg)
{
	(void)arg;
	if (f->stat_job && f->data_listing) {
		/* The listing was under way, its folder not yet read: it ends
		 * as one whose job readied a transfer would (RFC 959: 426 for
		 * the command aborted, then 226 for the ABOR), without a 150,
		 * nothing sent, and its data channel closed. */
		char what[FTP_PATH_MAX];
		snprintf(what, sizeof(what), "%s", xfer_ftp_job_listing_what(f->stat_job));
		ftp_listing_cancel(f, "ABOR");
		ftp_reply(f, 426, "Listing of %s aborted; nothing sent", what);
		ftp_data_free(f);
		ftp_reply(f, 226, "ABOR successful");
		return;
	}
	ftp_data_abort(f);
}

/* ---------------------------------------------------------------- listings */

static xfer_ftp_list_style_t list_style(xfer_ftp_t *f, xfer_ftp_list_kind_t kind)
{
	return (xfer_ftp_list_style_t){ .kind = kind, .facts = f->mlst_facts, .perms = perms_of(f),
					.now = (time_t)ev_now(wf_conn_loop(f->conn)) };
}

/* Opens what a listing of rel lists. A folder: 0, and *dir_fd is open for
 * a job to read off the loop (a folder may hold 100000 names, each one a
 * stat). A file (LIST, NLST): 0, its one line is in out, *dir_fd is -1.
 * Else an errno. */
static int listing_open(xfer_ftp_t *f, const char *rel, bool dir, const xfer_ftp_list_style_t *style, wf_buf_t *out,
			int *dir_fd)
{
	*dir_fd = -1;
	int fd = open_name(f, rel, dir);
	if (fd < 0)
		return -fd;
	struct stat st;
	if (fstat(fd, &st) != 0) {
		int err = errno;
		close(fd);
		return err;
	}
	if (S_ISDIR(st.st_mode)) {
		*dir_fd = fd;
		return 0;
	}
	close(fd);
	if (style->kind == XFER_FTP_LIST_FACTS)
		return ENOTDIR;
	const char *leaf = strrchr(rel, '/');
	xfer_ftp_list_entry(out, style, leaf ? leaf + 1 : rel, &st);
	return 0;
}

static const char *list_verb(xfer_ftp_list_kind_t kind)
{
	return kind == XFER_FTP_LIST_LONG ? "LIST" : kind == XFER_FTP_LIST_NAMES ? "NLST" : "MLSD";
}

/* The listings' budget refused a listing (transfer/listing_budget.h): 450,
 * the transient "not taken", with why; the error log hears of it a line a
 * minute at most. */
static void reply_listing_refused(xfer_ftp_t *f, xfer_listing_refusal_t why)
{
	xfer_listing_refusal_log(why, "FTPS", f->conn->peer_addr, (size_t)f->conn->cfg->limits.listing_memory);
	ftp_reply(f, 450, "Listing not made: %s", xfer_listing_refusal_text(why));
}

/* What a listing with wildcards lists: the entries of its folder that
 * match pattern, for NLST each written after prefix. */
typedef struct listing_glob {
	const char *pattern; /* borrowed: the last segment of the path */
	char prefix[FTP_PATH_MAX]; /* the folder part as the client wrote it ("data/"), or "" */
} listing_glob_t;

/* LIST, NLST or STAT of a name that is not there (err is ENOENT for it):
 * when its last segment holds wildcards ("*.txt", "data/f?le[0-9].bin"),
 * it lists the matching entries of its folder, as vsftpd, ProFTPD and
 * Pure-FTPd do. The literal name was tried first, so a file named "a*b"
 * is still listed as itself. Only the last segment is a pattern: the
 * folder part is a name, wildcards and all ("d*" / "x" looks for a folder
 * named "d*", as vsftpd does), so one command reads one folder, never a
 * tree. Returns 0 with *dir_fd open on the folder, *parent its path and
 * glob filled in; or the errno to reply with (err itself when the name
 * holds no wildcard, or names a folder by its form: "*.d/"). arg is the
 * path as given (flags skipped), v and rel as resolve wrote them. */
static int glob_open(xfer_ftp_t *f, int err, wf_slice_t arg, bool dir, const char *v, const char *rel,
		     char parent[FTP_PATH_MAX], int *dir_fd, listing_glob_t *glob)
{
	if (err != ENOENT || dir)
		return err;
	const char *leaf = strrchr(v, '/') + 1;
	if (!xfer_ftp_glob_magic((wf_slice_t){ leaf, strlen(leaf) }))
		return err;
	/* The folder: v up to its last '/' ("/data" of "/data/x*"), as rel
	 * writes it, without the leading '/' ("data"; "" for the home). */
	size_t vlen = (size_t)(leaf - v) - 1;
	snprintf(parent, FTP_PATH_MAX, "%.*s", (int)(vlen ? vlen - 1 : 0), rel);
	/* The prefix as the client wrote it: a relative "../d/" too, which
	 * resolves to a short path from a long one, must fit whole or the
	 * names would lead elsewhere. */
	const char *slash = memrchr(arg.ptr, '/', arg.len);
	size_t alen = slash ? (size_t)(slash - arg.ptr) + 1 : 0;
	if (alen >= sizeof(glob->prefix))
		return ENAMETOOLONG;
	int fd = open_name(f, parent, true);
	if (fd < 0)
		return -fd;
	glob->pattern = leaf;
	memcpy(glob->prefix, arg.ptr, alen);
	glob->prefix[alen] = '\0';
	*dir_fd = fd;
	return 0;
}

/* A folder's listing begins to be read (for STAT, or for_data: for the
 * data connection), if the listings' budget has room for it; a listing
 * that passes the budget while read is refused too, so the folder is read
 * before the 150. Meanwhile the session runs no further command, but still
 * reads the control connection (ftp_session.c): a client that leaves, or
 * sends ABOR or QUIT behind a LIST, has the job let go of, the budget's
 * hold with it (xfer_fs_job_cancel: at once while its step waits for the
 * pool); the data channel waits. Takes dir_fd and out. */
static void list_folder(xfer_ftp_t *f, int dir_fd, const char *rel, const xfer_ftp_list_style_t *style,
			wf_buf_t *out, const char *what, const listing_glob_t *glob, bool for_data,
			xfer_fs_job_done_fn done)
{
	xfer_listing_hold_t hold;
	xfer_listing_refusal_t why = xfer_listing_hold_begin(&hold, f->conn->peer_addr,
							     (size_t)f->conn->cfg->limits.listing_memory);
	if (why != XFER_LISTING_GRANTED) {
		close(dir_fd);
		xfer_ftp_listing_free(out);
		reply_listing_refused(f, why);
		return;
	}
	xfer_ftp_listing_count(out, &hold);
	xfer_fs_job_t *job = xfer_ftp_job_listing(dir_fd, home(f), rel, style, out, LISTING_MAX_ENTRIES, what);
	if (!job) {
		reply_errno(f, errno, what);
		return;
	}
	if (glob && xfer_ftp_job_listing_match(job, glob->pattern, glob->prefix) != WF_OK) {
		xfer_fs_job_free(job);
		ftp_reply(f, 451, "Out of memory");
		return;
	}
	f->stat_job = job;
	f->data_listing = for_data;
	f->stat_from = ev_now(wf_conn_loop(f->conn));
	ftp_data_hold(f, true);
	if (xfer_fs_job_start(job, f->conn->worker, done, f) == WF_DONE)
		done(f, job);
}

void ftp_listing_cancel(xfer_ftp_t *f, const char *why)
{
	xfer_fs_job_t *job = f->stat_job;
	if (!job)
		return;
	const char *verb = f->data_listing ? list_verb(xfer_ftp_job_listing_kind(job)) : "STAT";
	ftp_log(f, WF_LOG_INFO, "%s %s: cancelled while its folder was read (%s)", verb,
		xfer_ftp_job_listing_what(job), why);
	if (f->data_listing) /* a transfer, for the access log, as one cut after its 150 is */
		ftp_log_transfer(f, verb, xfer_ftp_job_listing_what(job), 426, 0, f->stat_from);
	f->stat_job = NULL;
	f->data_listing = false;
	xfer_fs_job_cancel(job); /* its lines go, and their hold: now if it waits for the pool */
}

/* LIST, NLST or MLSD's folder was read off the loop: its lines go out over
 * the data connection (150, then 226), or the 450 of the budget, or the
 * 451 of the read. The data channel frees them (xfer_ftp_listing_free)
 * when the transfer ends, and the budget has them back then. */
static void on_listed(void *arg, xfer_fs_job_t *job)
{
	xfer_ftp_t *f = arg;
	f->stat_job = NULL;
	f->data_listing = false;
	ftp_data_hold(f, false);
	int err = xfer_fs_job_err(job);
	xfer_listing_refusal_t why = xfer_ftp_job_listing_refused(job);
	const char *verb = list_verb(xfer_ftp_job_listing_kind(job));
	char what[FTP_PATH_MAX];
	snprintf(what, sizeof(what), "%s", xfer_ftp_job_listing_what(job));
	size_t listed;
	bool cut = xfer_ftp_job_listing_cut(job, &listed);
	wf_buf_t *out = xfer_ftp_job_take_listing(job);
	xfer_fs_job_free(job);
	if (why != XFER_LISTING_GRANTED) {
		xfer_ftp_listing_free(out);
		reply_listing_refused(f, why);
	} else if (err || !out) {
		xfer_ftp_listing_free(out);
		ftp_log(f, WF_LOG_WARN, "%s %s: reading the folder failed: %s", verb, what, strerror(err ? err : ENOMEM));
		ftp_reply(f, 451, "Reading the folder %s failed: %s", what, strerror(err ? err : ENOMEM));
	} else {
		/* The lines go to the data channel as they are (no second trip
		 * through the pool); its 226 says if the listing was cut. */
		if (cut)
			ftp_log(f, WF_LOG_WARN, "%s %s: only the first %zu entries are listed (the listing's limit)", verb,
				what, listed);
		ftp_data_send_buf(f, out, cut, listed, verb, what);
	}
	ftp_wake(f);
}

static void list_cmd(xfer_ftp_t *f, wf_slice_t arg, xfer_ftp_list_kind_t kind)
{
	const char *verb = list_verb(kind);
	if (kind != XFER_FTP_LIST_FACTS)
		arg = skip_flags(arg);
	char v[FTP_PATH_MAX];
	bool dir;
	const char *rel = resolve(f, arg, v, sizeof(v), &dir);
	if (!rel)
		return;
	wf_buf_t *out = xfer_ftp_listing_buf(LISTING_CAP, NULL);
	if (!out) {
		ftp_reply(f, 451, "Out of memory");
		return;
	}
	xfer_ftp_list_style_t style = list_style(f, kind);
	int dir_fd;
	int err = listing_open(f, rel, dir, &style, out, &dir_fd);
	/* MLSD's argument is a folder (RFC 3659 7.1), never a pattern. */
	listing_glob_t glob;
	char parent[FTP_PATH_MAX];
	bool globbing = false;
	if (err && kind != XFER_FTP_LIST_FACTS) {
		err = glob_open(f, err, arg, dir, v, rel, parent, &dir_fd, &glob);
		globbing = !err;
	}
	if (err) {
		xfer_ftp_listing_free(out);
		reply_errno(f, err, v);
		return;
	}
	if (dir_fd < 0) {
		ftp_data_send_buf(f, out, false, 1, verb, v); /* one line: nothing to count */
		return;
	}
	/* A data connection that failed already gets its 425 now, not once a
	 * folder nobody will see was read on the pool. */
	if (ftp_data_refused(f)) {
		close(dir_fd);
		xfer_ftp_listing_free(out);
		return;
	}
	list_folder(f, dir_fd, globbing ? parent : rel, &style, out, v, globbing ? &glob : NULL, true, on_listed);
}

static void cmd_list(xfer_ftp_t *f, wf_slice_t arg)
{
	list_cmd(f, arg, XFER_FTP_LIST_LONG);
}

static void cmd_nlst(xfer_ftp_t *f, wf_slice_t arg)
{
	list_cmd(f, arg, XFER_FTP_LIST_NAMES);
}

static void cmd_mlsd(xfer_ftp_t *f, wf_slice_t arg)
{
	list_cmd(f, arg, XFER_FTP_LIST_FACTS);
}

static void cmd_mlst(xfer_ftp_t *f, wf_slice_t arg)
{
	char v[FTP_PATH_MAX];
	bool dir;
	const char *rel = resolve(f, arg, v, sizeof(v), &dir);
	if (!rel)
		return;
	struct stat st;
	int fd = open_name(f, rel, dir);
	int err = fd < 0 ? -fd : fstat(fd, &st) != 0 ? errno : 0;
	if (fd >= 0)
		close(fd);
	if (err) {
		reply_errno(f, err, v);
		return;
	}
	wf_buf_t line;
	wf_buf_init(&line, FTP_PATH_MAX + 512);
	xfer_ftp_perms_t perms = perms_of(f);
	if (xfer_ftp_mlsx_line(&line, v, &st, f->mlst_facts, &perms, false, false) != WF_OK ||
	    wf_buf_size(&line) < 2) {
		wf_buf_fini(&line);
		ftp_reply(f, 550, "Cannot list that name");
		return;
	}
	char *text = wf_buf_head(&line);
	text[wf_buf_size(&line) - 2] = '\0'; /* the CRLF: the reply frames the line */
	const char *lines[1] = { text };
	char first[64];
	snprintf(first, sizeof(first), "Listing");
	ftp_reply_multi(f, 250, first, lines, 1, "End");
	wf_buf_fini(&line);
}

/* STAT PATH's reply: each CRLF-ended line of the listing is one reply line,
 * all of them. A listing cut short (listed entries of more) says so in its
 * last line. */
static void reply_stat_listing(xfer_ftp_t *f, wf_buf_t *out, bool cut, size_t listed)
{
	/* An empty folder's buffer never got memory: its head is NULL. */
	char *p = wf_buf_size(out) ? wf_buf_head(out) : NULL, *end = p ? p + wf_buf_size(out) : NULL;
	size_t cap = 0;
	for (const char *q = p; q < end && (q = memchr(q, '\n', (size_t)(end - q))); q++)
		cap++;
	const char **lines = calloc(cap ? cap : 1, sizeof(*lines));
	if (!lines) {
		ftp_reply(f, 451, "Out of memory");
		return;
	}
	size_t n = 0;
	while (p < end && n < cap) {
		char *cr = memchr(p, '\r', (size_t)(end - p));
		if (!cr)
			break;
		*cr = '\0';
		lines[n++] = p;
		p = cr + 2;
	}
	char last[128];
	if (cut)
		snprintf(last, sizeof(last), "End of status: only the first %zu entries (MLSD or LIST over a data connection lists up to 100000)", listed);
	ftp_reply_multi(f, 213, "Status follows:", lines, n, cut ? last : "End of status");
	free(lines);
}

/* STAT PATH of a folder: its listing was read off the loop. */
static void on_stat_listed(void *arg, xfer_fs_job_t *job)
{
	xfer_ftp_t *f = arg;
	f->stat_job = NULL;
	ftp_data_hold(f, false);
	int err = xfer_fs_job_err(job);
	xfer_listing_refusal_t why = xfer_ftp_job_listing_refused(job);
	wf_buf_t *out = xfer_ftp_job_take_listing(job);
	size_t listed;
	bool cut = xfer_ftp_job_listing_cut(job, &listed);
	xfer_fs_job_free(job);
	if (why != XFER_LISTING_GRANTED)
		reply_listing_refused(f, why);
	else if (err || !out)
		ftp_reply(f, 451, "Reading the folder failed: %s", strerror(err ? err : ENOMEM));
	else
		reply_stat_listing(f, out, cut, listed);
	xfer_ftp_listing_free(out);
	ftp_wake(f);
}

static void stat_path(xfer_ftp_t *f, wf_slice_t arg)
{
	if (!(f->user->perms & WF_PERM_READ)) {
		ftp_reply(f, 550, "Permission denied: no read permission");
		return;
	}
	char v[FTP_PATH_MAX];
	bool dir;
	arg = skip_flags(arg);
	const char *rel = resolve(f, arg, v, sizeof(v), &dir);
	if (!rel)
		return;
	wf_buf_t *out = xfer_ftp_listing_buf(STAT_LISTING_CAP, NULL);
	if (!out) {
		ftp_reply(f, 451, "Out of memory");
		return;
	}
	xfer_ftp_list_style_t style = list_style(f, XFER_FTP_LIST_LONG);
	int dir_fd;
	int err = listing_open(f, rel, dir, &style, out, &dir_fd);
	listing_glob_t glob;
	char parent[FTP_PATH_MAX];
	bool globbing = false;
	if (err) {
		err = glob_open(f, err, arg, dir, v, rel, parent, &dir_fd, &glob);
		globbing = !err;
	}
	if (err || dir_fd < 0) {
		if (err)
			reply_errno(f, err, v);
		else
			reply_stat_listing(f, out, false, 0);
		xfer_ftp_listing_free(out);
		return;
	}
	/* The session runs no command until the reply is out (ftp_session.c's
	 * run_lines), so a data channel opened before it waits as for any job
	 * (op_start). */
	list_folder(f, dir_fd, globbing ? parent : rel, &style, out, v, globbing ? &glob : NULL, false,
		    on_stat_listed);
}

/* STAT alone is the session's status, before login too (as vsftpd and
 * ProFTPD answer it). STAT PATH lists that path, which needs a login: before
 * one it gets the 530 every other file command gets, not the status, which
 * a client would read as the listing of a path that is not there. During a
 * transfer, STAT is its progress whatever follows (RFC 959). */
static void cmd_stat(xfer_ftp_t *f, wf_slice_t arg)
{
	if (arg.len && !ftp_data_busy(f)) {
		if (f->logged_in)
			stat_path(f, arg);
		else
			ftp_reply(f, 530, "Please log in with USER and PASS");
		return;
	}
	char l1[256], l2[128], l3[FTP_DATA_STATUS_MAX];
	const char *lines[3] = { l1, l2, l3 };
	snprintf(l1, sizeof(l1), "Connected from %s, %s", f->conn->peer,
		 f->logged_in ? "logged in" : "not logged in");
	snprintf(l2, sizeof(l2), "TYPE %s, control %s, data %s", f->type == 'A' ? "ASCII" : "BINARY",
		 f->conn->tls ? "over TLS" : "in the clear", f->prot_p ? "protected (PROT P)" : "clear (PROT C)");
	ftp_data_status(f, l3, sizeof(l3));
	ftp_reply_multi(f, 211, "wharf FTP server status:", lines, l3[0] ? 3 : 2, "End of status");
}

/* ---------------------------------------------------------------- files */

/* Resolves arg into v and opens what it names (open_stat): RETR, MDTM and
 * MFMT. -1 after replying. */
static int open_named(xfer_ftp_t *f, wf_slice_t arg, char v[FTP_PATH_MAX], struct stat *st)
{
	bool dir;
	const char *rel = resolve(f, arg, v, FTP_PATH_MAX, &dir);
	return rel ? open_stat(f, rel, dir, v, st) : -1;
}

static void cmd_retr(xfer_ftp_t *f, wf_slice_t arg)
{
	char v[FTP_PATH_MAX];
	uint64_t rest = f->rest; /* cleared by ftp_dispatch once this command is over */
	struct stat st;
	int fd = open_named(f, arg, v, &st);
	if (fd < 0)
		return;
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		ftp_reply(f, 550, "%s: not a plain file", v);
		return;
	}
	if (rest > (uint64_t)st.st_size) {
		close(fd);
		ftp_reply(f, 554, "REST offset %llu is past the end of %s (%lld bytes)", (unsigned long long)rest, v,
			  (long long)st.st_size);
		return;
	}
	ftp_data_send_file(f, fd, rest, (uint64_t)st.st_size, v);
}

/* SIZE's answer, once no stale partial stands in the way: partial is ""
 * when the name can have none. */
/* Whether rel is a file this user can read, opened as RETR opens it (a
 * link beneath the home followed), and so what RETR would send: then SIZE
 * tells its size, and APPE resumes from that size (store_setup). */
static bool readable_file(xfer_ftp_t *f, const char *rel, struct stat *st)
{
	if (!(f->user->perms & WF_PERM_READ))
		return false;
	int fd = open_name(f, rel, false);
	bool file = fd >= 0 && fstat(fd, st) == 0 && S_ISREG(st->st_mode);
	if (fd >= 0)
		close(fd);
	return file;
}

static void size_reply(xfer_ftp_t *f, int dfd_take, const char *partial, const char *rel, const char *v)
{
	int dfd = dfd_take;
	struct stat st;
	/* An interrupted upload waiting to be resumed: its size is what a
	 * resuming client (curl -C -, lftp put -c) asks for. Uploading is
	 * what the write permission allows, so a write-only user may ask.
	 * But not when the name holds a file the user can read: curl asks
	 * SIZE before RETR too, and a size that is not what RETR sends fails
	 * every download of it (RFC 3659 4: SIZE is what RETR would send). A
	 * resumption then goes on from that size: APPE's (store_setup), or
	 * the REST a client sends after it. */
	struct stat file;
	if ((f->user->perms & WF_PERM_WRITE) && partial[0] && !readable_file(f, rel, &file) &&
	    fstatat(dfd, partial, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
		close(dfd);
		ftp_reply(f, 213, "%lld", (long long)st.st_size);
		return;
	}
	close(dfd);
	/* The size of a complete file tells what it holds: that is reading. */
	if (!(f->user->perms & WF_PERM_READ)) {
		ftp_reply(f, 550, "Permission denied: no read permission");
		return;
	}
	/* As RETR and MDTM find it (a name given as a folder is one: with_partial). */
	int fd = open_stat(f, rel, false, v, &st);
	if (fd < 0)
		return;
	close(fd);
	if (!S_ISREG(st.st_mode)) {
		ftp_reply(f, 550, "%s: not a plain file", v);
		return;
	}
	ftp_reply(f, 213, "%lld", (long long)st.st_size);
}

static void on_size_stale_removed(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	log_gone_removed(f, op->v, job);
	int dfd = op->dfd;
	op->dfd = -1;
	size_reply(f, dfd, op->partial, op->rel, op->v);
}

static void on_recovered(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	log_recovered(f, op->v, job);
	int dfd = op->dfd;
	op->dfd = -1;
	op->then(f, dfd, op->leaf, op->partial, op->rel, op->v, true);
}

/* SIZE and DELE that meet an orphan claimed name of leaf put it back as the
 * partial first, off the loop; then they go on (then, with recovered set). */
static void recover_then(xfer_ftp_t *f, int dfd_take, const char *leaf, const char *partial, const char *rel,
			 const char *v, with_partial_fn then)
{
	int job_fd;
	ftp_op_t *op = op_new_keeping(f, v, on_recovered, dfd_take, &job_fd);
	if (!op)
		return;
	op->then = then;
	snprintf(op->leaf, sizeof(op->leaf), "%s", leaf);
	snprintf(op->partial, sizeof(op->partial), "%s", partial);
	snprintf(op->rel, sizeof(op->rel), "%s", rel);
	op_start(f, op, xfer_ftp_job_recover(job_fd, leaf, orphan_age(f), wf_server->started));
}

/* SIZE once the names are known: an orphan claimed name goes back as the
 * partial first (for a writer, to whom the partial's size is told), then a
 * stale partial goes, then the answer; each off the loop. */
static void size_go(xfer_ftp_t *f, int dfd_take, const char *leaf, const char *partial, const char *rel,
		    const char *v, bool recovered)
{
	int dfd = dfd_take;
	claim_state_t claim = partial[0] && (f->user->perms & WF_PERM_WRITE) ? claim_state(f, dfd, leaf) : CLAIM_NONE;
	if (!recovered && claim == CLAIM_ORPHAN) {
		recover_then(f, dfd, leaf, partial, rel, v, size_go);
		return;
	}
	if (claim == CLAIM_LIVE) {
		/* A writer asks to resume: what is kept is in another session's
		 * hands, and may be parked any moment. Neither NAME's size nor
		 * "nothing kept" would be true for long. */
		close(dfd);
		reply_claimed(f, v);
		return;
	}
	if (!partial[0] || !partial_gone(f, dfd, leaf, partial)) {
		size_reply(f, dfd, partial, rel, v);
		return;
	}
	int job_fd;
	ftp_op_t *op = op_new_keeping(f, v, on_size_stale_removed, dfd, &job_fd);
	if (!op)
		return;
	snprintf(op->partial, sizeof(op->partial), "%s", partial);
	snprintf(op->rel, sizeof(op->rel), "%s", rel);
	op_start(f, op, xfer_fs_job_remove(job_fd, partial, leaf, f->conn->cfg->limits.partial_upload_max_age, true));
}

static void cmd_size(xfer_ftp_t *f, wf_slice_t arg)
{
	with_partial(f, arg, size_go);
}

static void cmd_mdtm(xfer_ftp_t *f, wf_slice_t arg)
{
	char v[FTP_PATH_MAX];
	struct stat st;
	int fd = open_named(f, arg, v, &st);
	if (fd < 0)
		return;
	close(fd);
	char t[16];
	xfer_ftp_mdtm(st.st_mtime, t);
	ftp_reply(f, 213, "%s", t);
}

/* MFMT: sets the last modification time of a file or folder, as FileZilla,
 * WinSCP, lftp and rclone ask after an upload, to keep the source's (the
 * draft's reply: "213 Modify=TIME; PATH"). Changing what a listing shows
 * of a file is writing: the write permission. Through a link inside the
 * home, its target's time, as MDTM reads it. */
static void cmd_mfmt(xfer_ftp_t *f, wf_slice_t arg)
{
	struct timespec when;
	wf_slice_t name;
	if (xfer_ftp_parse_mfmt(arg, &when, &name) != WF_OK) {
		ftp_reply(f, 501, "Syntax: MFMT YYYYMMDDHHMMSS PATH (the time in UTC)");
		return;
	}
	char v[FTP_PATH_MAX];
	struct stat st;
	int fd = open_named(f, name, v, &st);
	if (fd < 0)
		return;
	if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
		close(fd);
		ftp_reply(f, 550, "%s: not a plain file or folder", v);
		return;
	}
	const struct timespec times[2] = { { .tv_nsec = UTIME_OMIT }, when };
	int err = futimens(fd, times) == 0 ? 0 : errno;
	/* The draft answers with the time set, and a file system may store
	 * another (ext4 clamps past 2446): a client that keeps the answer
	 * would otherwise find the file changed on its next MDTM. */
	if (!err && fstat(fd, &st) != 0)
		err = errno;
	close(fd);
	if (err) {
		reply_errno(f, err, v);
		return;
	}
	char t[16];
	xfer_ftp_mdtm(st.st_mtime, t);
	ftp_reply(f, 213, "Modify=%s; %s", t, v);
}

/* Sets up an upload into rel: a fresh temp file, or the parked partial of an
 * interrupted one (*claimed), or a temp file to hold the existing file's
 * head (REST/APPE without a partial), per docs/ftps.md. A resumption's temp
 * file is leaf's claimed name (xfer_upload_claim, _open_claimed): EEXIST
 * when another resumption of leaf holds it. For the last, *src
 * is left open on the existing file and *keep says how many of its bytes
 * to copy: a copy that may take seconds, so the caller has it done off the
 * loop. A partial resumed at a REST offset short of its end is to be cut
 * there (*cut): freeing its blocks may take long too, so that is the
 * caller's as well (at *rest). A fresh upload finds no partial: store()
 * removed it. 0 or an errno (after which nothing changed); ERANGE: *rest is
 * past what the partial holds. */
static int store_setup(xfer_ftp_t *f, int dfd, const char *leaf, store_kind_t kind, uint64_t *rest_io,
		       xfer_upload_t *up, const char *partial, const char *v, int *src_out, uint64_t *keep_out,
		       bool *claimed, bool *cut)
{
	uint64_t rest = *rest_io;
	*src_out = -1;
	*keep_out = 0;
	*claimed = *cut = false;
	bool resume = kind == STORE_APPE || rest > 0;
	if (!resume) {
		int rc = xfer_upload_open(up, dfd, leaf);
		return rc < 0 ? -rc : 0;
	}
	int dup_fd = dup(dfd);
	if (dup_fd < 0) {
		close(dfd);
		return errno;
	}
	struct stat file;
	/* APPE next to a file the user can read resumes from that file's
	 * size, which SIZE told (size_reply) and a listing shows: that is
	 * where the client's data goes on from, be the partial longer (an
	 * overwrite cut after the old size) or not. */
	bool appe_at_file = kind == STORE_APPE && readable_file(f, v + 1, &file); /* v + 1: rel (resolve_as) */
	int rc = xfer_upload_claim(up, dup_fd, leaf, partial);
	if (rc == WF_OK) {
		close(dfd);
		*claimed = true;
		if (kind == STORE_APPE && !appe_at_file)
			return 0;
		if (appe_at_file)
			*rest_io = rest = (uint64_t)file.st_size;
		if (rest > up->written) {
			ftp_log(f, WF_LOG_INFO, "%s %llu past the %llu bytes kept of %s",
				appe_at_file ? "APPE from the file's size" : "REST", (unsigned long long)rest,
				(unsigned long long)up->written, v);
			*keep_out = up->written; /* for the reply */
			ftp_repark(f, up, partial, v);
			return ERANGE;
		}
		*cut = rest < up->written;
		return 0;
	}
	/* No partial, as another session claimed it just now (a rename
	 * reports the missing source before the taken target). */
	if (rc == -ENOENT && claim_state(f, dfd, leaf) == CLAIM_LIVE)
		rc = -EEXIST;
	if (rc != -ENOENT) {
		close(dfd);
		return -rc;
	}
	/* No partial: continue from the existing file's first bytes. */
	struct stat st;
	/* Never through a link: the upload's rename would put a file in the
	 * link's place, and the target would not grow (ELOOP says why).
	 * O_NONBLOCK: see open_name. */
	int src = openat(dfd, leaf, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
	if (src < 0 && errno == ENOENT && kind == STORE_APPE) {
		rc = xfer_upload_open_claimed(up, dfd, leaf);
		return rc < 0 ? -rc : 0;
	}
	if (src < 0 || fstat(src, &st) != 0 || !S_ISREG(st.st_mode)) {
		int err = src < 0 ? errno : S_ISDIR(st.st_mode) ? EISDIR : EINVAL;
		if (src >= 0)
			close(src);
		close(dfd);
		return err == ENOENT && rest ? ERANGE : err;
	}
	uint64_t keep = kind == STORE_APPE ? (uint64_t)st.st_size : rest;
	if (keep > (uint64_t)st.st_size) {
		close(src);
		close(dfd);
		return ERANGE;
	}
	rc = xfer_upload_open_claimed(up, dfd, leaf);
	if (rc != WF_OK || keep == 0) {
		close(src);
		return rc < 0 ? -rc : 0;
	}
	*src_out = src;
	*keep_out = keep;
	return 0;
}

/* For the access log (a static string: the transfer keeps it). */
static const char *store_verb(store_kind_t kind)
{
	return kind == STORE_APPE ? "APPE" : kind == STORE_STOU ? "STOU" : "STOR";
}

/* REST + STOR (or APPE beside a readable file): the partial is cut back to
 * the offset; the upload goes on (150) with the data connection set up
 * before the command. A cut that failed leaves the partial as it was,
 * parked again for another try. */
static void on_partial_cut(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	int err = xfer_fs_job_err(job);
	xfer_upload_t *up = xfer_ftp_job_take_upload(job);
	if (err) {
		ftp_log(f, WF_LOG_WARN, "cutting the interrupted upload of %s back failed: %s", op->v, strerror(err));
		ftp_repark(f, up, op->partial, op->v);
		xfer_fs_job_drop_upload(up); /* a park that failed leaves the file to go off the loop */
		reply_errno(f, err, op->v);
		return;
	}
	if (!ftp_data_ready(f))
		abort(); /* no line ran while the cut did: the channel the table checked is still there */
	ftp_data_recv(f, up, true, op->partial, store_verb(op->kind), op->v, NULL);
}

/* The upload into leaf of dfd_take, once no partial stands in its way. */
static void store_go(xfer_ftp_t *f, int dfd_take, const char *leaf, store_kind_t kind, uint64_t rest,
		     const char *partial, const char *v, const char *unique)
{
	int dfd = dfd_take;
	/* A data connection that failed already gets its 425 before the
	 * partial is claimed or cut: it stays as it is, for a later try. */
	if (ftp_data_refused(f)) {
		close(dfd);
		return;
	}
	xfer_upload_t *up = malloc(sizeof(*up));
	if (!up) {
		close(dfd);
		ftp_reply(f, 451, "Out of memory");
		return;
	}
	xfer_upload_init(up, f->conn->worker);
	/* The name STOU announces is a new file's: its commit fails rather
	 * than replace one that took the name after store()'s check. */
	up->no_replace = kind == STORE_STOU;
	int src;
	uint64_t keep;
	bool claimed, cut;
	uint64_t asked = rest;
	int err = store_setup(f, dfd, leaf, kind, &rest, up, partial, v, &src, &keep, &claimed, &cut);
	if (err) {
		xfer_fs_job_drop_upload(up); /* ERANGE: a partial parked again, or one that could not be */
		if (err == ERANGE && kind == STORE_APPE && claimed)
			ftp_reply(f, 550,
				  "%s: the interrupted upload kept %llu bytes, fewer than the file's %llu that APPE goes "
				  "on from: resume with REST %llu and STOR, or send the whole file",
				  v, (unsigned long long)keep, (unsigned long long)rest, (unsigned long long)keep);
		else if (err == ERANGE)
			ftp_reply(f, 554, "REST offset %llu is past what the server holds of %s", (unsigned long long)asked, v);
		else if (err == EEXIST && (kind == STORE_APPE || rest > 0))
			reply_claimed(f, v); /* another resumption took the name since store_check looked */
		else
			reply_errno(f, err, v);
		return;
	}
	if (cut) {
		ftp_op_t *op = op_new(f, v, on_partial_cut);
		if (!op) {
			ftp_repark(f, up, partial, v);
			xfer_fs_job_drop_upload(up);
			return;
		}
		snprintf(op->partial, sizeof(op->partial), "%s", partial);
		op->kind = kind;
		op_start(f, op, xfer_ftp_job_truncate(up, rest, partial));
		return;
	}
	if (src < 0) {
		ftp_data_recv(f, up, claimed, partial, store_verb(kind), v, unique);
		return;
	}
	xfer_fs_job_t *job = xfer_ftp_job_copy(up, src, keep);
	if (!job) {
		ftp_reply(f, 451, "Out of memory");
		return;
	}
	ftp_data_recv_copying(f, job, partial, store_verb(kind), v);
}

static void on_store_partial_removed(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	log_gone_removed(f, op->v, job);
	int dfd = op->dfd;
	op->dfd = -1;
	store_go(f, dfd, op->leaf, op->kind, op->rest, op->partial, op->v,
		 op->kind == STORE_STOU ? op->unique : NULL);
}

static void store_check(xfer_ftp_t *f, int dfd_take, const char *leaf, store_kind_t kind, uint64_t rest,
			const char *partial, const char *v, const char *unique, bool recovered);

static void on_store_recovered(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	log_recovered(f, op->v, job);
	int dfd = op->dfd;
	op->dfd = -1;
	int err = xfer_fs_job_err(job);
	if (err && (op->kind == STORE_APPE || op->rest > 0)) {
		close(dfd);
		reply_errno(f, err, op->v);
		return;
	}
	store_check(f, dfd, op->leaf, op->kind, op->rest, op->partial, op->v,
		    op->kind == STORE_STOU ? op->unique : NULL, true);
}

/* The upload into leaf of dfd_take, once its names are known. A resumption
 * (APPE, REST+STOR) another session has under way (leaf's claimed name is
 * live) is refused: 450, and nothing changes. One a dead process left (an
 * orphan claimed name) goes back as the partial first, for every kind: a
 * resumption goes on from it, a fresh upload removes it next. Then a fresh
 * upload starts over: the partial goes. A resumed one goes on from it,
 * unless it is gone (partial_gone). Recovering or removing may take long (gigabytes):
 * off the loop, and the upload is set up once that is done. */
static void store_check(xfer_ftp_t *f, int dfd_take, const char *leaf, store_kind_t kind, uint64_t rest,
			const char *partial, const char *v, const char *unique, bool recovered)
{
	int dfd = dfd_take;
	bool resume = kind == STORE_APPE || rest > 0;
	claim_state_t claim = claim_state(f, dfd, leaf);
	if (resume && (claim == CLAIM_LIVE || (claim == CLAIM_ORPHAN && recovered))) {
		close(dfd);
		reply_claimed(f, v);
		return;
	}
	bool orphan = claim == CLAIM_ORPHAN && !recovered;
	struct stat st;
	bool in_the_way = orphan || (resume ? partial_gone(f, dfd, leaf, partial)
					    : fstatat(dfd, partial, &st, AT_SYMLINK_NOFOLLOW) == 0);
	if (!in_the_way) {
		store_go(f, dfd, leaf, kind, rest, partial, v, unique);
		return;
	}
	if (ftp_data_refused(f)) { /* 425 now: nothing to remove for it */
		close(dfd);
		return;
	}
	int job_fd;
	ftp_op_t *op = op_new_keeping(f, v, orphan ? on_store_recovered : on_store_partial_removed, dfd, &job_fd);
	if (!op)
		return;
	op->kind = kind;
	op->rest = rest;
	snprintf(op->leaf, sizeof(op->leaf), "%s", leaf);
	snprintf(op->partial, sizeof(op->partial), "%s", partial);
	snprintf(op->unique, sizeof(op->unique), "%s", unique ? unique : "");
	op_start(f, op, orphan ? xfer_ftp_job_recover(job_fd, leaf, orphan_age(f), wf_server->started)
			       : xfer_fs_job_remove(job_fd, partial, leaf, f->conn->cfg->limits.partial_upload_max_age,
						    resume));
}

static void store(xfer_ftp_t *f, wf_slice_t arg, store_kind_t kind)
{
	char v[FTP_PATH_MAX];
	char unique[64];
	if (kind == STORE_STOU) {
		/* STOU names the file itself (RFC 1123 4.1.2.9); the argument, if
		 * any, is ignored. 64 random bits: no two STOUs pick one name,
		 * however close together, on one connection or many. */
		uint64_t r;
		if (getrandom(&r, sizeof(r), 0) != sizeof(r)) {
			ftp_reply(f, 451, "Could not make a unique name: %s", strerror(errno));
			return;
		}
		snprintf(unique, sizeof(unique), "wharf-%016llx", (unsigned long long)r);
		arg = (wf_slice_t){ unique, strlen(unique) };
	}
	const char *rel = resolve_new_file(f, arg, v, sizeof(v));
	if (!rel)
		return;
	uint64_t rest = f->rest; /* cleared by ftp_dispatch once this command is over */
	const char *leaf;
	int dfd = open_parent(f, rel, v, &leaf);
	if (dfd < 0)
		return;
	struct stat st;
	if (fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISDIR(st.st_mode)) {
			close(dfd);
			ftp_reply(f, 550, "%s: a folder has that name", v);
			return;
		}
		if (kind == STORE_STOU) {
			close(dfd);
			ftp_reply(f, 450, "Could not make a unique name; try again");
			return;
		}
	}
	char partial[NAME_MAX + 1];
	if (xfer_path_partial_name(leaf, partial, sizeof(partial)) != 0) {
		close(dfd);
		ftp_reply(f, 553, "%s: name not allowed", v);
		return;
	}
	store_check(f, dfd, leaf, kind, rest, partial, v, kind == STORE_STOU ? unique : NULL, false);
}

static void cmd_stor(xfer_ftp_t *f, wf_slice_t arg)
{
	store(f, arg, STORE_STOR);
}

static void cmd_appe(xfer_ftp_t *f, wf_slice_t arg)
{
	store(f, arg, STORE_APPE);
}

static void cmd_stou(xfer_ftp_t *f, wf_slice_t arg)
{
	store(f, arg, STORE_STOU);
}

static void on_deleted(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	const char *v = op->v;
	int err = xfer_fs_job_err(job);
	xfer_fs_partial_fate_t partial = xfer_fs_job_partial(job);
	if (partial == XFER_FS_PARTIAL_STALE)
		ftp_log(f, WF_LOG_INFO, "removed the interrupted upload of %s: untouched for over %d s", v,
			f->conn->cfg->limits.partial_upload_max_age);
	if (err == EISDIR) {
		ftp_reply(f, 550, "%s: is a folder (use RMD)", v);
		return;
	}
	if (err == ENOENT && partial == XFER_FS_PARTIAL_REMOVED) {
		ftp_reply(f, 250, "Deleted the interrupted upload of %s", v);
		return;
	}
	if (err) {
		reply_errno(f, err, v);
		return;
	}
	ftp_log(f, WF_LOG_INFO, "deleted %s", v);
	ftp_reply(f, 250, "Deleted %s", v);
}

/* DELE once the names are known: an orphan claimed name is put back as
 * the partial first, so that it goes with the rest. */
static void dele_go(xfer_ftp_t *f, int dfd_take, const char *leaf, const char *partial, const char *rel,
		    const char *v, bool recovered)
{
	int dfd = dfd_take;
	if (!recovered && partial[0] && claim_state(f, dfd, leaf) == CLAIM_ORPHAN) {
		recover_then(f, dfd, leaf, partial, rel, v, dele_go);
		return;
	}
	ftp_op_t *op = op_new(f, v, on_deleted);
	if (!op) {
		close(dfd);
		return;
	}
	op_start(f, op, xfer_fs_job_delete(dfd, leaf, partial, f->conn->cfg->limits.partial_upload_max_age));
}

/* DELE NAME: the file and the partial of an interrupted upload of it
 * (docs/ftps.md), removed off the loop. */
static void cmd_dele(xfer_ftp_t *f, wf_slice_t arg)
{
	with_partial(f, arg, dele_go);
}

static void on_removed(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	int err = xfer_fs_job_err(job);
	const char *names;
	bool cut;
	size_t n = xfer_fs_job_removed(job, &names, &cut);
	if (n)
		ftp_log(f, WF_LOG_INFO, "RMD %s: removed %zu interrupted upload%s left in it: %s%s", op->v, n,
			n == 1 ? "" : "s", names, cut ? ", ..." : "");
	if (err == EBUSY) {
		ftp_reply(f, 550, "%s: an upload into the folder is under way", op->v);
		return;
	}
	if (err) {
		reply_errno(f, err == EEXIST ? ENOTEMPTY : err, op->v);
		return;
	}
	ftp_reply(f, 250, "Removed %s", op->v);
}

static void cmd_rmd(xfer_ftp_t *f, wf_slice_t arg)
{
	char v[FTP_PATH_MAX];
	const char *rel = resolve(f, arg, v, sizeof(v), NULL);
	if (!rel)
		return;
	if (!rel[0]) {
		ftp_reply(f, 550, "The home folder cannot be removed");
		return;
	}
	const char *leaf;
	int dfd = open_parent(f, rel, v, &leaf);
	if (dfd < 0)
		return;
	ftp_op_t *op = op_new(f, v, on_removed);
	if (!op) {
		close(dfd);
		return;
	}
	/* A temp file a crashed process left goes as the sweep's would, but
	 * sooner: past the longest a live upload leaves its temp file
	 * untouched (xfer_upload_tmp_orphan), not the partials' age. */
	op_start(f, op, xfer_fs_job_delete_any(dfd, leaf, "", true, orphan_age(f), wf_server->started));
}

static void on_made(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	int err = xfer_fs_job_err(job);
	if (err) {
		reply_errno(f, err, op->v);
		return;
	}
	reply_257(f, op->v, "created");
}

static void cmd_mkd(xfer_ftp_t *f, wf_slice_t arg)
{
	char v[FTP_PATH_MAX];
	const char *rel = resolve_new(f, arg, v, sizeof(v), NULL);
	if (!rel)
		return;
	if (!rel[0]) {
		reply_errno(f, EEXIST, v);
		return;
	}
	const char *leaf;
	int dfd = open_parent(f, rel, v, &leaf);
	if (dfd < 0)
		return;
	ftp_op_t *op = op_new(f, v, on_made);
	if (!op) {
		close(dfd);
		return;
	}
	op_start(f, op, xfer_fs_job_mkdir(dfd, leaf));
}

static void cmd_rnfr(xfer_ftp_t *f, wf_slice_t arg)
{
	f->rnfr[0] = '\0'; /* a failed RNFR leaves no earlier source behind */
	char v[FTP_PATH_MAX];
	bool dir;
	const char *rel = resolve(f, arg, v, sizeof(v), &dir);
	if (!rel)
		return;
	if (!rel[0]) {
		ftp_reply(f, 550, "The home folder cannot be renamed");
		return;
	}
	const char *leaf;
	int dfd = xfer_path_open_parent(home(f), rel, &leaf);
	struct stat st;
	int rc = dfd < 0 ? dfd : fstatat(dfd, leaf, &st, AT_SYMLINK_NOFOLLOW) == 0 ? 0 : -errno;
	if (rc == 0 && dir && !S_ISDIR(st.st_mode))
		rc = -ENOTDIR; /* "f.txt/" is not the file f.txt */
	if (dfd >= 0)
		close(dfd);
	if (rc < 0) {
		reply_errno(f, -rc, v);
		return;
	}
	snprintf(f->rnfr, sizeof(f->rnfr), "%s", rel);
	ftp_reply(f, 350, "Ready for RNTO");
}

static void reply_into_itself(xfer_ftp_t *f, const char *v)
{
	ftp_reply(f, 550, "%s: a folder cannot be moved into itself", v);
}

static void on_renamed(xfer_ftp_t *f, ftp_op_t *op, xfer_fs_job_t *job)
{
	int err = xfer_fs_job_err(job);
	if (err) {
		if (err == EEXIST && op->no_replace)
			ftp_reply(f, 550, "%s exists: replacing it needs the delete permission", op->v);
		else if (err == EINVAL) /* rename(2)'s word for it: the path cmd_rnto could not see through a link */
			reply_into_itself(f, op->v);
		else
			reply_errno(f, err, op->v);
		return;
	}
	ftp_log(f, WF_LOG_INFO, "renamed /%s to %s", op->from, op->v);
	ftp_reply(f, 250, "Renamed to %s", op->v);
}

static void cmd_rnto(xfer_ftp_t *f, wf_slice_t arg)
{
	if (!f->rnfr[0]) {
		ftp_reply(f, 503, "Send RNFR first");
		return;
	}
	char from[FTP_PATH_MAX];
	snprintf(from, sizeof(from), "%s", f->rnfr);
	f->rnfr[0] = '\0';
	char v[FTP_PATH_MAX];
	bool dir;
	const char *rel = resolve_new(f, arg, v, sizeof(v), &dir);
	if (!rel)
		return;
	if (!rel[0]) {
		ftp_reply(f, 553, "Cannot rename onto the home folder");
		return;
	}
	const char *from_leaf, *to_leaf;
	int from_dfd = xfer_path_open_parent(home(f), from, &from_leaf);
	if (from_dfd < 0) {
		/* The source's folder went since RNFR: the reply names the source. */
		char from_v[FTP_PATH_MAX + 1];
		snprintf(from_v, sizeof(from_v), "/%s", from);
		reply_errno(f, -from_dfd, from_v);
		return;
	}
	/* A new name that ends in '/' is a folder's: a file keeps its name. */
	if (dir && folder_at(from_dfd, from_leaf) == ENOTDIR) {
		close(from_dfd);
		ftp_reply(f, 553, "%s/: a file name cannot end in /", v);
		return;
	}
	/* Said here too, not only from rename(2)'s EINVAL: without the delete
	 * permission the rename is one that never replaces, and where that
	 * falls back to link and unlink a folder gets EPERM instead. */
	size_t from_len = strlen(from);
	if (strncmp(rel, from, from_len) == 0 && rel[from_len] == '/' && folder_at(from_dfd, from_leaf) == 0) {
		close(from_dfd);
		reply_into_itself(f, v);
		return;
	}
	int to_dfd = xfer_path_open_parent(home(f), rel, &to_leaf);
	if (to_dfd < 0) {
		close(from_dfd);
		reply_errno(f, -to_dfd, v);
		return;
	}
	ftp_op_t *op = op_new(f, v, on_renamed);
	if (!op) {
		close(from_dfd);
		close(to_dfd);
		return;
	}
	snprintf(op->from, sizeof(op->from), "%s", from);
	/* Replacing a file destroys it: that takes the delete permission. */
	op->no_replace = !(f->user->perms & WF_PERM_DELETE);
	op_start(f, op, xfer_fs_job_rename(from_dfd, from_leaf, to_dfd, to_leaf, op->no_replace));
}

/* ---------------------------------------------------------------- the table */

static const ftp_command_t commands[XFER_FTP_VERB_COUNT] = {
	[XFER_FTP_USER] = { XFER_FTP_USER, NEED_ARG, 0, cmd_user },
	[XFER_FTP_PASS] = { XFER_FTP_PASS, 0, 0, cmd_pass },
	[XFER_FTP_AUTH] = { XFER_FTP_AUTH, NEED_ARG | BEFORE_TLS, 0, cmd_auth },
	[XFER_FTP_PBSZ] = { XFER_FTP_PBSZ, NEED_ARG | BEFORE_TLS, 0, cmd_pbsz },
	[XFER_FTP_PROT] = { XFER_FTP_PROT, NEED_ARG | BEFORE_TLS, 0, cmd_prot },
	[XFER_FTP_CCC] = { XFER_FTP_CCC, BEFORE_TLS, 0, cmd_ccc },
	[XFER_FTP_QUIT] = { XFER_FTP_QUIT, IN_XFER | IN_LISTING | BEFORE_TLS, 0, cmd_quit },
	[XFER_FTP_NOOP] = { XFER_FTP_NOOP, IN_XFER | BEFORE_TLS, 0, cmd_noop },
	[XFER_FTP_SYST] = { XFER_FTP_SYST, BEFORE_TLS, 0, cmd_syst },
	[XFER_FTP_FEAT] = { XFER_FTP_FEAT, BEFORE_TLS, 0, cmd_feat },
	[XFER_FTP_OPTS] = { XFER_FTP_OPTS, NEED_ARG | BEFORE_TLS, 0, cmd_opts },
	[XFER_FTP_HELP] = { XFER_FTP_HELP, BEFORE_TLS, 0, cmd_help },
	[XFER_FTP_STAT] = { XFER_FTP_STAT, IN_XFER, 0, cmd_stat },
	[XFER_FTP_SITE] = { XFER_FTP_SITE, NEED_LOGIN, 0, cmd_site },
	[XFER_FTP_PWD] = { XFER_FTP_PWD, NEED_LOGIN, 0, cmd_pwd },
	[XFER_FTP_XPWD] = { XFER_FTP_XPWD, NEED_LOGIN, 0, cmd_pwd },
	[XFER_FTP_CWD] = { XFER_FTP_CWD, NEED_LOGIN, 0, cmd_cwd },
	[XFER_FTP_XCWD] = { XFER_FTP_XCWD, NEED_LOGIN, 0, cmd_cwd },
	[XFER_FTP_CDUP] = { XFER_FTP_CDUP, NEED_LOGIN, 0, cmd_cdup },
	[XFER_FTP_XCUP] = { XFER_FTP_XCUP, NEED_LOGIN, 0, cmd_cdup },
	[XFER_FTP_TYPE] = { XFER_FTP_TYPE, NEED_LOGIN | NEED_ARG, 0, cmd_type },
	[XFER_FTP_MODE] = { XFER_FTP_MODE, NEED_LOGIN | NEED_ARG, 0, cmd_mode },
	[XFER_FTP_STRU] = { XFER_FTP_STRU, NEED_LOGIN | NEED_ARG, 0, cmd_stru },
	[XFER_FTP_ALLO] = { XFER_FTP_ALLO, NEED_LOGIN, 0, cmd_allo },
	[XFER_FTP_REST] = { XFER_FTP_REST, NEED_LOGIN | NEED_ARG, 0, cmd_rest },
	[XFER_FTP_PASV] = { XFER_FTP_PASV, NEED_LOGIN, 0, cmd_pasv },
	[XFER_FTP_EPSV] = { XFER_FTP_EPSV, NEED_LOGIN, 0, cmd_epsv },
	[XFER_FTP_PORT] = { XFER_FTP_PORT, NEED_LOGIN | NEED_ARG, 0, cmd_port },
	[XFER_FTP_EPRT] = { XFER_FTP_EPRT, NEED_LOGIN | NEED_ARG, 0, cmd_eprt },
	[XFER_FTP_ABOR] = { XFER_FTP_ABOR, NEED_LOGIN | IN_XFER | IN_LISTING, 0, cmd_abor },
	[XFER_FTP_LIST] = { XFER_FTP_LIST, NEED_LOGIN | NEED_DATA, WF_PERM_READ, cmd_list },
	[XFER_FTP_NLST] = { XFER_FTP_NLST, NEED_LOGIN | NEED_DATA, WF_PERM_READ, cmd_nlst },
	[XFER_FTP_MLSD] = { XFER_FTP_MLSD, NEED_LOGIN | NEED_DATA, WF_PERM_READ, cmd_mlsd },
	[XFER_FTP_MLST] = { XFER_FTP_MLST, NEED_LOGIN, WF_PERM_READ, cmd_mlst },
	[XFER_FTP_RETR] = { XFER_FTP_RETR, NEED_LOGIN | NEED_ARG | NEED_DATA, WF_PERM_READ, cmd_retr },
	/* SIZE: read for a file, write for the partial of an interrupted upload (cmd_size). */
	[XFER_FTP_SIZE] = { XFER_FTP_SIZE, NEED_LOGIN | NEED_ARG, WF_PERM_READ | WF_PERM_WRITE, cmd_size },
	[XFER_FTP_MDTM] = { XFER_FTP_MDTM, NEED_LOGIN | NEED_ARG, WF_PERM_READ, cmd_mdtm },
	[XFER_FTP_MFMT] = { XFER_FTP_MFMT, NEED_LOGIN | NEED_ARG, WF_PERM_WRITE, cmd_mfmt },
	[XFER_FTP_STOR] = { XFER_FTP_STOR, NEED_LOGIN | NEED_ARG | NEED_DATA, WF_PERM_WRITE, cmd_stor },
	[XFER_FTP_APPE] = { XFER_FTP_APPE, NEED_LOGIN | NEED_ARG | NEED_DATA, WF_PERM_WRITE, cmd_appe },
	[XFER_FTP_STOU] = { XFER_FTP_STOU, NEED_LOGIN | NEED_DATA, WF_PERM_WRITE, cmd_stou },
	[XFER_FTP_DELE] = { XFER_FTP_DELE, NEED_LOGIN | NEED_ARG, WF_PERM_DELETE, cmd_dele },
	[XFER_FTP_RMD] = { XFER_FTP_RMD, NEED_LOGIN | NEED_ARG, WF_PERM_DELETE, cmd_rmd },
	[XFER_FTP_XRMD] = { XFER_FTP_XRMD, NEED_LOGIN | NEED_ARG, WF_PERM_DELETE, cmd_rmd },
	[XFER_FTP_MKD] = { XFER_FTP_MKD, NEED_LOGIN | NEED_ARG, WF_PERM_MKDIR, cmd_mkd },
	[XFER_FTP_XMKD] = { XFER_FTP_XMKD, NEED_LOGIN | NEED_ARG, WF_PERM_MKDIR, cmd_mkd },
	[XFER_FTP_RNFR] = { XFER_FTP_RNFR, NEED_LOGIN | NEED_ARG, WF_PERM_WRITE, cmd_rnfr },
	[XFER_FTP_RNTO] = { XFER_FTP_RNTO, NEED_LOGIN | NEED_ARG, WF_PERM_WRITE, cmd_rnto },
};

static const char *perm_name(unsigned perm)
{
	switch (perm) {
	case WF_PERM_READ:
		return "read";
	case WF_PERM_WRITE:
		return "write";
	case WF_PERM_DELETE:
		return "delete";
	case WF_PERM_MKDIR:
		return "mkdir";
	case WF_PERM_READ | WF_PERM_WRITE:
		return "read or write";
	default:
		abort(); /* a table entry with a mask this does not name */
	}
}

bool ftp_allowed_in_transfer(xfer_ftp_verb_t v)
{
	return (unsigned)v < XFER_FTP_VERB_COUNT && commands[v].run && (commands[v].needs & IN_XFER);
}

bool ftp_allowed_in_listing(xfer_ftp_verb_t v)
{
	return (unsigned)v < XFER_FTP_VERB_COUNT && commands[v].run && (commands[v].needs & IN_LISTING);
}

/* May cmd run now, by the table? false after replying why not. */
static bool admitted(xfer_ftp_t *f, const ftp_command_t *c, const xfer_ftp_cmd_t *cmd)
{
	if (!c || !c->run) {
		ftp_reply(f, 500, "'%.*s': command not understood", (int)(cmd->name.len > 16 ? 16 : cmd->name.len),
			  cmd->name.ptr);
		return false;
	}
	const wf_service_cfg_t *svc = f->conn->svc;
	if (cmd->verb != XFER_FTP_PASS)
		ftp_log(f, WF_LOG_DEBUG, "%s %.*s", xfer_ftp_verb_name(cmd->verb), (int)(cmd->arg.len > 200 ? 200 : cmd->arg.len),
			cmd->arg.ptr);
	if (svc->require_tls && !f->conn->tls && !(c->needs & BEFORE_TLS)) {
		ftp_reply(f, 530, "Log in over TLS: send AUTH TLS first");
		return false;
	}
	if ((c->needs & NEED_LOGIN) && !f->logged_in) {
		ftp_reply(f, 530, "Please log in with USER and PASS");
		return false;
	}
	if ((c->needs & NEED_ARG) && cmd->arg.len == 0) {
		ftp_reply(f, 501, "%s needs an argument", xfer_ftp_verb_name(cmd->verb));
		return false;
	}
	if (c->perm && !(f->user->perms & c->perm)) {
		ftp_reply(f, 550, "Permission denied: no %s permission", perm_name(c->perm));
		return false;
	}
	if (c->needs & NEED_DATA) {
		if (svc->require_tls && !f->prot_p) {
			ftp_reply(f, 521, "Data connections must be protected: send PBSZ 0 and PROT P first");
			return false;
		}
		if (!ftp_data_ready(f)) {
			ftp_reply(f, 425, "Use PASV or EPSV first");
			return false;
		}
	}
	return true;
}

void ftp_line_done(xfer_ftp_t *f, xfer_ftp_verb_t verb, bool ran)
{
	/* A REST offset is for the command right after it (RFC 3659 5.3),
	 * whatever that command is and whether it ran or was refused: a 425
	 * STOR must not leave it to a later STOR of another file. Only a REST
	 * that ran keeps one (cmd_rest clears it when its argument is bad). */
	if (!ran || verb != XFER_FTP_REST)
		f->rest = 0;
	/* RNTO must come right after RNFR (RFC 959 4.1.3): any other line,
	 * refused or not, drops the source, and an RNTO uses it up even when
	 * refused, so a later RNTO never renames what an earlier RNFR named.
	 * (vsftpd keeps the source until the next RNFR or RNTO; ProFTPD
	 * refuses most commands in between with a 501.) Only an RNFR that
	 * ran keeps one (cmd_rnfr clears it when it fails). */
	if (!ran || verb != XFER_FTP_RNFR)
		f->rnfr[0] = '\0';
}

void ftp_dispatch(xfer_ftp_t *f, const xfer_ftp_cmd_t *cmd)
{
	const ftp_command_t *c = (unsigned)cmd->verb < XFER_FTP_VERB_COUNT ? &commands[cmd->verb] : NULL;
	bool ran = admitted(f, c, cmd);
	if (ran)
		c->run(f, cmd->arg);
	ftp_line_done(f, cmd->verb, ran);
}
