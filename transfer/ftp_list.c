/* FTP listing lines (LIST, NLST, MLSD/MLST) and MLST fact options: see
 * ftp_list.h. Pure over the stat data and the name: no I/O, no locale, no
 * time zone, so a listing is the same on every host. */
#include "ftp_list.h"

#include <stdio.h>
#include <string.h>

/* Our own table: strftime("%b") would follow LC_TIME, and clients match the
 * English abbreviations only. */
static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

/* 0000-01-01T00:00:00Z .. 9999-12-31T23:59:59Z. Clamping to four-digit years
 * keeps every date field the width clients expect (RFC 3659 time-val is
 * 14DIGIT) and makes differences between clamped times overflow-free. */
#define TIME_MIN (-62167219200LL)
#define TIME_MAX 253402300799LL

/* ls shows the time of day only for entries from the last six months (we
 * use 180 days) and for those at most an hour in the future, which absorbs
 * small clock skew between the writer of the file and this host. */
#define RECENT_PAST (180LL * 24 * 60 * 60)
#define RECENT_FUTURE (60LL * 60)

static long long clamp_time(time_t t)
{
	long long v = (long long)t;
	if (v < TIME_MIN)
		return TIME_MIN;
	if (v > TIME_MAX)
		return TIME_MAX;
	return v;
}

static void utc(long long t, struct tm *tm)
{
	time_t tt = (time_t)t;
	if (!gmtime_r(&tt, tm)) {
		/* Only reachable with a 32-bit time_t and a clamped value it
		 * cannot hold: show the epoch rather than garbage. */
		tt = 0;
		gmtime_r(&tt, tm);
	}
}

bool xfer_ftp_list_name_ok(const char *name)
{
	return strpbrk(name, "\r\n") == NULL;
}

/* Appends head, name and CRLF as one unit: either the whole line goes in or
 * the buffer keeps exactly what it had. */
static int put_line(wf_buf_t *out, const char *head, size_t head_len, const char *name)
{
	size_t name_len = strlen(name);
	if (name_len > SIZE_MAX - head_len - 2)
		return WF_ERR;
	size_t n = head_len + name_len + 2;
	char *dst = wf_buf_reserve(out, n);
	if (!dst)
		return WF_ERR;
	memcpy(dst, head, head_len);
	memcpy(dst + head_len, name, name_len);
	memcpy(dst + head_len + name_len, "\r\n", 2);
	wf_buf_commit(out, n);
	return WF_OK;
}

static char type_char(mode_t m)
{
	if (S_ISDIR(m))
		return 'd';
	if (S_ISLNK(m))
		return 'l';
	if (S_ISFIFO(m))
		return 'p';
	if (S_ISSOCK(m))
		return 's';
	if (S_ISCHR(m))
		return 'c';
	if (S_ISBLK(m))
		return 'b';
	/* Regular files, and any type ls would show as '?': the listing
	 * parsers of FileZilla and lftp know only the letters above. */
	return '-';
}

/* The execute slot carries the special bit too: lower case when execute is
 * also set, upper case when not (as ls). */
static char exec_char(mode_t m, mode_t xbit, mode_t special, char set)
{
	if (m & special)
		return (m & xbit) ? set : (char)(set - 'a' + 'A');
	return (m & xbit) ? 'x' : '-';
}

static void mode_string(mode_t m, char s[11])
{
	s[0] = type_char(m);
	s[1] = (m & S_IRUSR) ? 'r' : '-';
	s[2] = (m & S_IWUSR) ? 'w' : '-';
	s[3] = exec_char(m, S_IXUSR, S_ISUID, 's');
	s[4] = (m & S_IRGRP) ? 'r' : '-';
	s[5] = (m & S_IWGRP) ? 'w' : '-';
	s[6] = exec_char(m, S_IXGRP, S_ISGID, 's');
	s[7] = (m & S_IROTH) ? 'r' : '-';
	s[8] = (m & S_IWOTH) ? 'w' : '-';
	s[9] = exec_char(m, S_IXOTH, S_ISVTX, 't');
	s[10] = '\0';
}

/* Always 12 characters: "Nov 02 17:05" or "Nov 02  2019". The day is zero
 * padded as vsftpd writes it (ls pads with a space); every client parser
 * we target reads both. */
static void list_date(time_t mtime, time_t now, char out[13])
{
	long long m = clamp_time(mtime), n = clamp_time(now);
	struct tm tm;
	utc(m, &tm);
	bool recent = m <= n + RECENT_FUTURE && n - m <= RECENT_PAST;
	if (recent)
		snprintf(out, 13, "%s %02u %02u:%02u", months[(unsigned)tm.tm_mon % 12], (unsigned)tm.tm_mday % 100,
			 (unsigned)tm.tm_hour % 100, (unsigned)tm.tm_min % 100);
	else
		snprintf(out, 13, "%s %02u  %04u", months[(unsigned)tm.tm_mon % 12], (unsigned)tm.tm_mday % 100,
			 (unsigned)(tm.tm_year + 1900) % 10000);
}

/* The layout of vsftpd's ls.c, which every FTP client has long parsed:
 *   "%s %4llu %-8s %-8s %8llu %s %s\r\n"
 *   mode nlink owner group size date name
 * e.g. "drwxr-xr-x    2 ftp      ftp          4096 Nov 22 17:05 name\r\n".
 * The widths are minimums: wider values push the columns right, and the
 * single spaces between fields keep them separable. */
int xfer_ftp_list_line(wf_buf_t *out, const char *name, const struct stat *st, time_t now)
{
	if (!xfer_ftp_list_name_ok(name))
		return WF_OK;
	char mode[11], date[13], head[160];
	mode_string(st->st_mode, mode);
	list_date(st->st_mtime, now, date);
	unsigned long long size = st->st_size < 0 ? 0 : (unsigned long long)st->st_size;
	int n = snprintf(head, sizeof(head), "%s %4llu %-8s %-8s %8llu %s ", mode, (unsigned long long)st->st_nlink,
			 "ftp", "ftp", size, date);
	if (n < 0 || (size_t)n >= sizeof(head))
		return WF_ERR;
	return put_line(out, head, (size_t)n, name);
}

int xfer_ftp_nlst_line(wf_buf_t *out, const char *name)
{
	if (!xfer_ftp_list_name_ok(name))
		return WF_OK;
	return put_line(out, "", 0, name);
}

/* RFC 3659 7.5.1 leaves non-file, non-dir types to "OS.name=type"; the
 * symlink spelling is the one FileZilla and lftp recognise. */
static const char *mlsx_type(mode_t m, bool is_cdir, bool is_pdir)
{
	if (is_cdir)
		return "cdir";
	if (is_pdir)
		return "pdir";
	if (S_ISREG(m))
		return "file";
	if (S_ISDIR(m))
		return "dir";
	if (S_ISLNK(m))
		return "OS.unix=symlink";
	if (S_ISFIFO(m))
		return "OS.unix=fifo";
	if (S_ISSOCK(m))
		return "OS.unix=socket";
	if (S_ISCHR(m))
		return "OS.unix=chardev";
	if (S_ISBLK(m))
		return "OS.unix=blockdev";
	return "OS.unix=unknown";
}

/* RFC 3659 7.5.5 letters. A rename ("f") is granted with write access, as
 * it changes the folder the entry lives in. */
static void mlsx_perm(bool is_dir, const xfer_ftp_perms_t *p, char out[16])
{
	size_t i = 0;
	if (is_dir) {
		if (p->read) {
			out[i++] = 'e';
			out[i++] = 'l';
		}
		if (p->write)
			out[i++] = 'c';
		if (p->mkdir)
			out[i++] = 'm';
		if (p->delete_) {
			out[i++] = 'p';
			out[i++] = 'd';
		}
	} else {
		if (p->read)
			out[i++] = 'r';
		if (p->write) {
			out[i++] = 'w';
			out[i++] = 'a';
		}
		if (p->delete_)
			out[i++] = 'd';
	}
	if (p->write)
		out[i++] = 'f';
	out[i] = '\0';
}

static void ymdhms(time_t t, char out[15])
{
	struct tm tm;
	utc(clamp_time(t), &tm);
	/* The modulo bounds are no-ops after clamping; they tell the compiler
	 * the output fits. */
	snprintf(out, 15, "%04u%02u%02u%02u%02u%02u", (unsigned)(tm.tm_year + 1900) % 10000,
		 (unsigned)(tm.tm_mon + 1) % 100, (unsigned)tm.tm_mday % 100, (unsigned)tm.tm_hour % 100,
		 (unsigned)tm.tm_min % 100, (unsigned)tm.tm_sec % 100);
}

int xfer_ftp_mlsx_line(wf_buf_t *out, const char *name, const struct stat *st, unsigned facts,
		       const xfer_ftp_perms_t *perms, bool is_cdir, bool is_pdir)
{
	if (!xfer_ftp_list_name_ok(name))
		return WF_OK;
	bool is_dir = is_cdir || is_pdir || S_ISDIR(st->st_mode);
	bool is_file = !is_cdir && !is_pdir && S_ISREG(st->st_mode);
	char head[256];
	size_t len = 0;
	int n;

	/* Each snprintf is bounded by head; the largest possible facts text is
	 * far below its size, so a truncation would be a bug, reported as ERR. */
#define HEAD_PRINTF(...)                                                                                               \
	do {                                                                                                           \
		n = snprintf(head + len, sizeof(head) - len, __VA_ARGS__);                                             \
		if (n < 0 || (size_t)n >= sizeof(head) - len)                                                          \
			return WF_ERR;                                                                                 \
		len += (size_t)n;                                                                                      \
	} while (0)

	if (facts & XFER_MLST_TYPE)
		HEAD_PRINTF("type=%s;", mlsx_type(st->st_mode, is_cdir, is_pdir));
	if ((facts & XFER_MLST_SIZE) && is_file)
		HEAD_PRINTF("size=%llu;", st->st_size < 0 ? 0ULL : (unsigned long long)st->st_size);
	if (facts & XFER_MLST_MODIFY) {
		char t[15];
		ymdhms(st->st_mtime, t);
		HEAD_PRINTF("modify=%s;", t);
	}
	if ((facts & XFER_MLST_PERM) && perms) {
		char p[16];
		mlsx_perm(is_dir, perms, p);
		HEAD_PRINTF("perm=%s;", p);
	}
	if (facts & XFER_MLST_UNIQUE)
		HEAD_PRINTF("unique=%llxg%llx;", (unsigned long long)st->st_dev, (unsigned long long)st->st_ino);
	HEAD_PRINTF(" ");
#undef HEAD_PRINTF
	return put_line(out, head, len, name);
}

/* Canonical order, which is also the order of the bits. */
static const char *const fact_names[] = {"type", "size", "modify", "perm", "unique"};

unsigned xfer_ftp_mlst_facts_parse(const char *arg)
{
	unsigned facts = 0;
	if (!arg)
		return 0;
	const char *p = arg;
	while (*p) {
		const char *end = strchr(p, ';');
		size_t n = end ? (size_t)(end - p) : strlen(p);
		wf_slice_t tok = wf_slice_trim((wf_slice_t){p, n});
		for (size_t i = 0; i < WF_ARRAY_LEN(fact_names); i++)
			if (wf_slice_eq_ci(tok, fact_names[i]))
				facts |= 1u << i;
		if (!end)
			break;
		p = end + 1;
	}
	return facts;
}

/* Writes whole fact names only, so a short buffer never shows half a name;
 * out is always NUL-terminated when cap > 0. */
static void facts_write(unsigned facts, bool all, char *out, size_t cap)
{
	if (cap == 0)
		return;
	size_t len = 0;
	out[0] = '\0';
	for (size_t i = 0; i < WF_ARRAY_LEN(fact_names); i++) {
		bool on = facts & (1u << i);
		if (!on && !all)
			continue;
		int n = snprintf(out + len, cap - len, "%s%s;", fact_names[i], all && on ? "*" : "");
		if (n < 0 || (size_t)n >= cap - len) {
			out[len] = '\0';
			return;
		}
		len += (size_t)n;
	}
}

void xfer_ftp_mlst_facts_text(unsigned facts, char *out, size_t cap)
{
	facts_write(facts, false, out, cap);
}

void xfer_ftp_mlst_feat(unsigned facts, char *out, size_t cap)
{
	if (cap == 0)
		return;
	int n = snprintf(out, cap, "MLST ");
	if (n < 0 || (size_t)n >= cap) {
		out[0] = '\0';
		return;
	}
	facts_write(facts, true, out + n, cap - (size_t)n);
}

void xfer_ftp_mdtm(time_t t, char out[16])
{
	ymdhms(t, out);
}

int xfer_ftp_list_entry(wf_buf_t *out, const xfer_ftp_list_style_t *style, const char *name, const struct stat *st)
{
	switch (style->kind) {
	case XFER_FTP_LIST_LONG:
		return xfer_ftp_list_line(out, name, st, style->now);
	case XFER_FTP_LIST_NAMES:
		return xfer_ftp_nlst_line(out, name);
	default:
		return xfer_ftp_mlsx_line(out, name, st, style->facts, &style->perms, false, false);
	}
}
