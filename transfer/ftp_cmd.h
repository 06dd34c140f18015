/* FTP command lines and their arguments (RFC 959, 2228, 2428, 3659, 4217):
 * pure functions over bytes, for the FTPS service (see docs/ftps.md once it
 * lands). The dispatch table that states each command's preconditions lives
 * with the connection; this file only reads and writes bytes. */
#ifndef XFER_FTP_CMD_H
#define XFER_FTP_CMD_H

#include "../server/base.h"
#include "../server/buf.h"

#include <limits.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <time.h>

/* Longest command line accepted, CRLF included: room for the longest path
 * the file system takes, absolute ('/' and PATH_MAX - 1 bytes below the
 * home), after a verb and MFMT's time ("MFMT YYYYMMDDHHMMSS.fffffffff ":
 * 30 bytes), so a command names any file HTTPS can serve. */
#define XFER_FTP_LINE_MAX (PATH_MAX + 64)

typedef enum xfer_ftp_verb {
	XFER_FTP_UNKNOWN = 0,
	XFER_FTP_USER, XFER_FTP_PASS, XFER_FTP_QUIT, XFER_FTP_NOOP, XFER_FTP_SYST, XFER_FTP_FEAT, XFER_FTP_OPTS,
	XFER_FTP_HELP, XFER_FTP_STAT, XFER_FTP_PWD, XFER_FTP_CWD, XFER_FTP_CDUP, XFER_FTP_TYPE, XFER_FTP_MODE,
	XFER_FTP_STRU, XFER_FTP_PASV, XFER_FTP_EPSV, XFER_FTP_PORT, XFER_FTP_EPRT, XFER_FTP_LIST, XFER_FTP_NLST,
	XFER_FTP_MLSD, XFER_FTP_MLST, XFER_FTP_RETR, XFER_FTP_STOR, XFER_FTP_STOU, XFER_FTP_APPE, XFER_FTP_REST,
	XFER_FTP_SIZE, XFER_FTP_MDTM, XFER_FTP_DELE, XFER_FTP_RMD, XFER_FTP_MKD, XFER_FTP_RNFR, XFER_FTP_RNTO,
	XFER_FTP_ABOR, XFER_FTP_AUTH, XFER_FTP_PBSZ, XFER_FTP_PROT, XFER_FTP_CCC, XFER_FTP_ALLO, XFER_FTP_XPWD,
	XFER_FTP_XCWD, XFER_FTP_XMKD, XFER_FTP_XRMD, XFER_FTP_SITE, XFER_FTP_MFMT, XFER_FTP_XCUP,
	XFER_FTP_VERB_COUNT
} xfer_ftp_verb_t;

/* Results of xfer_ftp_parse_line (negative) */
enum {
	XFER_FTP_AGAIN = 0,      /* no complete line yet */
	XFER_FTP_TOO_LONG = -1,  /* no LF within XFER_FTP_LINE_MAX: reply 500 and drop the line,
				  * discarding input up to and including the next '\n', which
				  * may not have arrived yet */
	XFER_FTP_BAD = -2,       /* NUL or a bare CR inside the line, or an empty line: reply 500
				  * and skip buf up to and including its first '\n' (only
				  * returned once that LF is in buf) */
};

typedef struct xfer_ftp_cmd {
	xfer_ftp_verb_t verb;
	wf_slice_t name; /* borrowed: from buf; the verb as sent (for "500 'XYZ': command not
			  * understood"), any length when UNKNOWN: truncate it in replies */
	wf_slice_t arg;  /* borrowed: from buf; everything after the one space that ends the
			  * verb, up to the CR LF: leading, trailing and inner spaces kept (file
			  * names may have them); empty if none */
} xfer_ftp_cmd_t;

/* Finds one command line (terminated by CRLF; a bare LF is accepted, as
 * clients like curl and ftplib send CRLF but some scripts do not) at the
 * start of buf. Returns the bytes the line used (> 0: always up to and
 * including the first '\n'), or a code above; out is written only on > 0.
 * The verb is matched case-insensitively; a verb that is not 3-4 letters or
 * not known is XFER_FTP_UNKNOWN with name set, not an error. Telnet bytes
 * (0xF0..0xFF: IAC IP, IAC DM, or what is left of them once the kernel took
 * the urgent byte out of the stream) sent by ABOR-capable clients at the
 * start of a line are skipped. */
ssize_t xfer_ftp_parse_line(const char *buf, size_t len, xfer_ftp_cmd_t *out);

/* Canonical upper-case name of a verb ("RETR"), or "?" for UNKNOWN. */
const char *xfer_ftp_verb_name(xfer_ftp_verb_t v);

/* The verb named name (3-4 letters, any case), or XFER_FTP_UNKNOWN: HELP's argument. */
xfer_ftp_verb_t xfer_ftp_verb_of(wf_slice_t name);
/* "RETR <sp> pathname": a known verb's syntax, for HELP VERB's 214. */
const char *xfer_ftp_verb_syntax(xfer_ftp_verb_t v);

/* Argument parsers: strict (no spaces, no signs), out written only on WF_OK.
 * They only read the address; refusing bounce targets is the caller's job. */
/* PORT h1,h2,h3,h4,p1,p2 -> IPv4 address and port. WF_OK or WF_ERR (each
 * number 0..255 in 1-3 digits, exactly six, port != 0). */
int xfer_ftp_parse_port(wf_slice_t arg, struct sockaddr_storage *out);
/* EPRT |1|132.235.1.2|6275| or |2|::1|5282| (any printable delimiter 33..126,
 * RFC 2428; the address as inet_pton of that family reads it; port 1..65535).
 * WF_OK or WF_ERR. */
int xfer_ftp_parse_eprt(wf_slice_t arg, struct sockaddr_storage *out);
/* REST offset: decimal digits only (1-19), no overflow past 2^63-1. */
int xfer_ftp_parse_offset(wf_slice_t arg, uint64_t *out);
/* TYPE A / A N / I / L 8 (any case) -> 'A' or 'I'. WF_ERR for other types
 * (EBCDIC, Telnet or ASA format controls, other byte sizes). */
int xfer_ftp_parse_type(wf_slice_t arg, char *out);
/* MFMT's argument (draft-somers-ftp-mfxx): "YYYYMMDDHHMMSS[.f] path", the
 * time in UTC as MDTM gives it (year 1000-9999, a real calendar date,
 * seconds 0-59; 1 to 9 digits of fraction), then one space and the path,
 * spaces kept. *when gets the time, *path the rest (borrowed from arg,
 * never empty). WF_OK or WF_ERR. */
int xfer_ftp_parse_mfmt(wf_slice_t arg, struct timespec *when, wf_slice_t *path);

/* Replies. A single line: "CODE text\r\n". A multi-line reply (RFC 959 4.2):
 * "CODE-first\r\n" then lines, then "CODE last\r\n"; every continuation line
 * is indented with one space (pass lines without it), so none can be taken
 * for the end and FEAT lines get the leading space RFC 2389 asks for. Text is
 * sanitized: CR and LF in it (e.g. from a file name) become spaces, so a name
 * can never inject a reply line. code must be 100..599 (else a bug: abort).
 * WF_OK, or WF_ERR (cap) with out unchanged. */
int xfer_ftp_reply(wf_buf_t *out, int code, const char *text);
int xfer_ftp_reply_multi(wf_buf_t *out, int code, const char *first, const char *const *lines, size_t nlines,
			 const char *last);
/* The 227 and 229 replies for passive mode; port in host order (the port of
 * addr is not used). */
int xfer_ftp_reply_pasv(wf_buf_t *out, const struct sockaddr_in *addr, uint16_t port);
int xfer_ftp_reply_epsv(wf_buf_t *out, uint16_t port);

/* Path names in replies (257 "PWD"): double quotes doubled (RFC 959 appendix
 * II), CR and LF made spaces; no surrounding quotes added. out is always
 * NUL-terminated (empty on error) when cap > 0. WF_OK, or WF_ERR if it does
 * not fit in cap bytes with its NUL. */
int xfer_ftp_quote_path(const char *path, char *out, size_t cap);

/* Virtual paths: "/" is the user's home. Resolves a path argument against
 * the current folder cwd (itself "/" or "/a/b"): arg is absolute when it
 * starts with '/'; empty and "." segments are dropped; ".." removes the
 * previous segment and never climbs above "/" (as in a chroot: "/../x" is
 * "/x"). Writes "/" or "/a/b" (no trailing '/') to out. *is_dir is set when
 * arg names a folder by its form alone: it is empty (the current folder) or
 * ends in '/' or in a "." or ".." segment. Such a name is a folder or
 * nothing: "f.txt/" is not the file f.txt, as Linux reads it too (ENOTDIR),
 * so a command on a file refuses it. WF_OK, or WF_ERR when arg holds a NUL
 * or the result does not fit in cap bytes (out and *is_dir then hold
 * nothing meaningful).
 * The result is still only a name: opening it goes through transfer/path.c,
 * which confines symlinks as well. */
int xfer_ftp_path_resolve(const char *cwd, wf_slice_t arg, char *out, size_t cap, bool *is_dir);

/* May a command create a file or folder named name (the last segment of
 * its path: STOR, STOU, APPE, MKD, RNTO)? Not when it holds a control byte
 * (0x01-0x1f, 0x7f): HTTPS refuses those in a path (xfer_url_byte_ok), so
 * such a file could never be fetched there, nor anything in such a folder,
 * and a listing would carry its terminal escapes to whoever reads it. Names
 * already there are not judged: they stay readable, deletable and
 * renamable. Pure. */
bool xfer_ftp_name_creatable(wf_slice_t name);

#endif
