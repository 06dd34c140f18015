/* FTP directory listings, pure over stat data: the Unix "ls -l" lines of
 * LIST that FileZilla, WinSCP and lftp parse, the NLST names, and the RFC
 * 3659 facts of MLSD/MLST (type, size, modify, perm, unique), which clients
 * prefer. File names are written as UTF-8 bytes, with CR and LF refused (a
 * name carrying them is skipped) so no listing line can be forged. */
#ifndef XFER_FTP_LIST_H
#define XFER_FTP_LIST_H

#include "../server/buf.h"

#include <stdbool.h>
#include <sys/stat.h>
#include <time.h>

/* Which MLST facts to show (OPTS MLST type;size;...): bit per fact. */
enum {
	XFER_MLST_TYPE = 1 << 0,
	XFER_MLST_SIZE = 1 << 1,
	XFER_MLST_MODIFY = 1 << 2,
	XFER_MLST_PERM = 1 << 3,
	XFER_MLST_UNIQUE = 1 << 4,
	XFER_MLST_ALL = 0x1f,
};

/* What the user may do, for the perm fact (r, w, a, d, c, e, l, f, m, p). */
typedef struct xfer_ftp_perms {
	bool read, write, delete_, mkdir;
} xfer_ftp_perms_t;

/* vsftpd's layout, "%s %4llu %-8s %-8s %8llu %s %s\r\n":
 * "drwxr-xr-x    2 ftp      ftp          4096 Nov 22 17:05 name\r\n". The date
 * (UTC, English months) shows the time for entries modified at most 180 days
 * before now and at most an hour after it, else "Nov 22  2019" (as ls does).
 * Owner and group are always "ftp": account names are nobody's business.
 * Each line function returns WF_OK without writing when the name holds CR
 * or LF, and WF_ERR with the buffer unchanged when the line passes its cap. */
int xfer_ftp_list_line(wf_buf_t *out, const char *name, const struct stat *st, time_t now);
/* "name\r\n" */
int xfer_ftp_nlst_line(wf_buf_t *out, const char *name);
/* "type=file;size=1;modify=20261122170500;perm=rwadf;unique=803g4a5; name\r\n"
 * (MLSD entries); for MLST the caller prefixes a space and wraps it in the
 * 250- reply. type is cdir/pdir for "." and ".." when is_cdir/is_pdir, and
 * OS.unix=symlink for a link; size is given for plain files only; perm is
 * left out when perms is NULL. */
int xfer_ftp_mlsx_line(wf_buf_t *out, const char *name, const struct stat *st, unsigned facts,
		       const xfer_ftp_perms_t *perms, bool is_cdir, bool is_pdir);
/* OPTS MLST "type;size;" -> facts bitmask (case-insensitive, unknown facts
 * ignored, NULL or "" -> none); the reply text lists the enabled ones as
 * "type;size;" (whole names only if cap is short; always NUL-terminated). */
unsigned xfer_ftp_mlst_facts_parse(const char *arg);
void xfer_ftp_mlst_facts_text(unsigned facts, char *out, size_t cap);
/* The FEAT line advertising MLST facts, with '*' on the enabled ones:
 * "MLST type*;size*;modify*;perm*;unique*;" */
void xfer_ftp_mlst_feat(unsigned facts, char *out, size_t cap);
/* MDTM reply time: "20261122170500" (UTC). */
void xfer_ftp_mdtm(time_t t, char out[16]);

/* Which lines a listing holds: LIST (and STAT of a path), NLST, MLSD. */
typedef enum xfer_ftp_list_kind {
	XFER_FTP_LIST_LONG,
	XFER_FTP_LIST_NAMES,
	XFER_FTP_LIST_FACTS,
} xfer_ftp_list_kind_t;

/* Everything a listing's lines depend on besides the entries, so a listing
 * can be built anywhere (off the loop too) from this and the folder. */
typedef struct xfer_ftp_list_style {
	xfer_ftp_list_kind_t kind;
	unsigned facts;         /* FACTS: the OPTS MLST facts */
	xfer_ftp_perms_t perms; /* FACTS: for the perm fact */
	time_t now;             /* LONG: which dates show the time of day */
} xfer_ftp_list_style_t;

/* One entry's line in that style; as the line functions above. */
int xfer_ftp_list_entry(wf_buf_t *out, const xfer_ftp_list_style_t *style, const char *name, const struct stat *st);

/* Whether a listing can show name: one with CR or LF would end its line
 * early and could forge entries, so every listing leaves it out. */
bool xfer_ftp_list_name_ok(const char *name);

#endif
