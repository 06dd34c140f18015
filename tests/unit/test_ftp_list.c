/* FTP listing lines over fixed stat values and a fixed "now": mode strings
 * with special bits, the recent/old/future date rule and its edges, sizes
 * past 4 GiB, awkward names (and CR/LF ones skipped), every LIST line
 * checked against the regex client parsers use, MLSD facts and perms,
 * OPTS MLST parsing, the FEAT text, MDTM, and the cap leaving the buffer as
 * it was. */
#include "transfer/ftp_list.h"

#include "check.h"

#include <regex.h>
#include <stdlib.h>

/* 2026-11-22 17:05:00 UTC */
#define NOW ((time_t)1795367100)
#define SIX_MONTHS (180 * 24 * 60 * 60)

static regex_t list_re;

/* The buffer as a C string, held in a static so tests read like asserts. */
static const char *str(wf_buf_t *b)
{
	static char s[4096];
	size_t n = wf_buf_size(b);
	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	if (n)
		memcpy(s, wf_buf_head(b), n);
	s[n] = '\0';
	return s;
}

static struct stat st_of(mode_t mode, unsigned long nlink, long long size, time_t mtime)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_mode = mode;
	st.st_nlink = nlink;
	st.st_size = (off_t)size;
	st.st_mtime = mtime;
	st.st_dev = 0x803;
	st.st_ino = 0x4a5;
	return st;
}

static const char *list(const char *name, struct stat st, time_t now)
{
	wf_buf_t b;
	wf_buf_init(&b, 4096);
	CHECK_EQ_INT(xfer_ftp_list_line(&b, name, &st, now), WF_OK);
	const char *s = str(&b);
	wf_buf_fini(&b);
	return s;
}

/* The line parses with the regex of the brief (POSIX ERE spelling) and the
 * name comes back unchanged, leading spaces included. */
static void check_parses(const char *line, const char *name)
{
	regmatch_t m[11];
	int rc = regexec(&list_re, line, 11, m, 0);
	CHECK_EQ_INT(rc, 0);
	if (rc != 0) {
		fprintf(stderr, "  line: \"%s\"\n", line);
		return;
	}
	int len = (int)(m[10].rm_eo - m[10].rm_so);
	CHECK_EQ_INT(len, strlen(name));
	CHECK(strncmp(line + m[10].rm_so, name, strlen(name)) == 0);
}

static void test_list_modes(void)
{
	const char *l;
	l = list("pub", st_of(S_IFDIR | 0755, 2, 4096, NOW - 60), NOW);
	CHECK_EQ_STR(l, "drwxr-xr-x    2 ftp      ftp          4096 Nov 22 17:04 pub\r\n");
	check_parses(l, "pub");
	l = list("a.txt", st_of(S_IFREG | 0644, 1, 12, NOW), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp            12 Nov 22 17:05 a.txt\r\n");
	check_parses(l, "a.txt");
	l = list("ln", st_of(S_IFLNK | 0777, 1, 5, NOW), NOW);
	CHECK_EQ_STR(l, "lrwxrwxrwx    1 ftp      ftp             5 Nov 22 17:05 ln\r\n");
	check_parses(l, "ln");
	l = list("fifo", st_of(S_IFIFO | 0600, 1, 0, NOW), NOW);
	CHECK_EQ_STR(l, "prw-------    1 ftp      ftp             0 Nov 22 17:05 fifo\r\n");
	check_parses(l, "fifo");
	l = list("sock", st_of(S_IFSOCK | 0777, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "srwxrwxrwx ", 11) == 0);
	check_parses(l, "sock");
	l = list("null", st_of(S_IFCHR | 0666, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "crw-rw-rw- ", 11) == 0);
	check_parses(l, "null");
	l = list("sda", st_of(S_IFBLK | 0660, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "brw-rw---- ", 11) == 0);
	check_parses(l, "sda");

	/* setuid/setgid/sticky: lower case over execute, upper case without. */
	l = list("su", st_of(S_IFREG | 04755, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "-rwsr-xr-x ", 11) == 0);
	check_parses(l, "su");
	l = list("su", st_of(S_IFREG | 04644, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "-rwSr--r-- ", 11) == 0);
	l = list("sg", st_of(S_IFREG | 02755, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "-rwxr-sr-x ", 11) == 0);
	l = list("sg", st_of(S_IFREG | 02745, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "-rwxr-Sr-x ", 11) == 0);
	l = list("tmp", st_of(S_IFDIR | 01777, 9, 4096, NOW), NOW);
	CHECK(strncmp(l, "drwxrwxrwt ", 11) == 0);
	check_parses(l, "tmp");
	l = list("tmp", st_of(S_IFDIR | 01776, 9, 4096, NOW), NOW);
	CHECK(strncmp(l, "drwxrwxrwT ", 11) == 0);
	l = list("all", st_of(S_IFREG | 07000, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "---S--S--T ", 11) == 0);
	check_parses(l, "all");
	l = list("none", st_of(S_IFREG, 1, 0, NOW), NOW);
	CHECK(strncmp(l, "---------- ", 11) == 0);
}

static void test_list_dates(void)
{
	const char *l;
	/* Exactly 180 days back still shows the time; a second more, the year. */
	l = list("f", st_of(S_IFREG | 0644, 1, 1, NOW - SIX_MONTHS), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 May 26 17:05 f\r\n");
	check_parses(l, "f");
	l = list("f", st_of(S_IFREG | 0644, 1, 1, NOW - SIX_MONTHS - 1), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 May 26  2026 f\r\n");
	check_parses(l, "f");
	/* Old: 2019-03-02 08:01:02, day zero padded, two spaces before the year. */
	l = list("old", st_of(S_IFREG | 0644, 1, 1, 1551513662), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 Mar 02  2019 old\r\n");
	check_parses(l, "old");
	/* Up to an hour ahead is clock skew; beyond it, the year. */
	l = list("f", st_of(S_IFREG | 0644, 1, 1, NOW + 3600), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 Nov 22 18:05 f\r\n");
	l = list("f", st_of(S_IFREG | 0644, 1, 1, NOW + 3601), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 Nov 22  2026 f\r\n");
	check_parses(l, "f");
	l = list("f", st_of(S_IFREG | 0644, 1, 1, NOW + 400LL * 86400), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 Dec 27  2027 f\r\n");
	/* Before the epoch, and beyond four-digit years: still 4 digits. */
	l = list("f", st_of(S_IFREG | 0644, 1, 1, -1), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 Dec 31  1969 f\r\n");
	check_parses(l, "f");
	l = list("f", st_of(S_IFREG | 0644, 1, 1, (time_t)400000000000LL), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 Dec 31  9999 f\r\n");
	check_parses(l, "f");
	l = list("f", st_of(S_IFREG | 0644, 1, 1, (time_t)-400000000000LL), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             1 Jan 01  0000 f\r\n");
	check_parses(l, "f");
	/* Every month name is English, whatever the locale. */
	static const char *const mon[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
					  "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
	for (int i = 0; i < 12; i++) {
		/* 15th of each month of 2020, noon */
		static const long long mid[] = {1579089600, 1581768000, 1584273600, 1586952000, 1589544000, 1592222400,
						1594814400, 1597492800, 1600171200, 1602763200, 1605441600, 1608033600};
		l = list("m", st_of(S_IFREG | 0644, 1, 1, (time_t)mid[i]), NOW);
		CHECK(strncmp(l + 43, mon[i], 3) == 0);
		CHECK_EQ_STR(l + 46, " 15  2020 m\r\n");
	}
}

static void test_list_sizes_and_names(void)
{
	const char *l;
	l = list("big.iso", st_of(S_IFREG | 0644, 1, 5000000000LL, NOW), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp      5000000000 Nov 22 17:05 big.iso\r\n");
	check_parses(l, "big.iso");
	l = list("huge", st_of(S_IFREG | 0644, 1, 9223372036854775807LL, NOW), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp      9223372036854775807 Nov 22 17:05 huge\r\n");
	check_parses(l, "huge");
	l = list("links", st_of(S_IFDIR | 0755, 123456, 4096, NOW), NOW);
	CHECK_EQ_STR(l, "drwxr-xr-x 123456 ftp      ftp          4096 Nov 22 17:05 links\r\n");
	check_parses(l, "links");

	l = list("my file.txt", st_of(S_IFREG | 0644, 1, 3, NOW), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             3 Nov 22 17:05 my file.txt\r\n");
	check_parses(l, "my file.txt");
	l = list("  lead", st_of(S_IFREG | 0644, 1, 3, NOW), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             3 Nov 22 17:05   lead\r\n");
	check_parses(l, "  lead");
	l = list("trail ", st_of(S_IFREG | 0644, 1, 3, NOW), NOW);
	check_parses(l, "trail ");
	l = list("\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt", st_of(S_IFREG | 0644, 1, 3, NOW), NOW);
	CHECK_EQ_STR(l, "-rw-r--r--    1 ftp      ftp             3 Nov 22 17:05 "
			"\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt\r\n");
	check_parses(l, "\xc3\xa9t\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac.txt");
	l = list("12 Nov 22 17:05 x", st_of(S_IFREG | 0644, 1, 3, NOW), NOW);
	check_parses(l, "12 Nov 22 17:05 x");
}

/* CR or LF anywhere in a name: nothing written, still OK, for every kind. */
static void test_crlf_skipped(void)
{
	static const char *const bad[] = {"a\r\nb", "a\nb", "a\rb",
					  "\n",	    "x\r",  "evil\r\n-rw-r--r-- 1 ftp ftp 1 Nov 22 17:05 fake"};
	struct stat st = st_of(S_IFREG | 0644, 1, 1, NOW);
	xfer_ftp_perms_t p = {true, true, true, true};
	wf_buf_t b;
	wf_buf_init(&b, 4096);
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, "keep"), WF_OK);
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		CHECK_EQ_INT(xfer_ftp_list_line(&b, bad[i], &st, NOW), WF_OK);
		CHECK_EQ_INT(xfer_ftp_nlst_line(&b, bad[i]), WF_OK);
		CHECK_EQ_INT(xfer_ftp_mlsx_line(&b, bad[i], &st, XFER_MLST_ALL, &p, false, false), WF_OK);
	}
	CHECK_EQ_STR(str(&b), "keep\r\n");
	wf_buf_fini(&b);
}

static void test_nlst(void)
{
	wf_buf_t b;
	wf_buf_init(&b, 4096);
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, "a.txt"), WF_OK);
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, " sp ace "), WF_OK);
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, "\xc3\xa9"), WF_OK);
	CHECK_EQ_STR(str(&b), "a.txt\r\n sp ace \r\n\xc3\xa9\r\n");
	wf_buf_fini(&b);
}

static const char *mlsx(const char *name, struct stat st, unsigned facts, const xfer_ftp_perms_t *p, bool cdir,
			bool pdir)
{
	wf_buf_t b;
	wf_buf_init(&b, 4096);
	CHECK_EQ_INT(xfer_ftp_mlsx_line(&b, name, &st, facts, p, cdir, pdir), WF_OK);
	const char *s = str(&b);
	wf_buf_fini(&b);
	return s;
}

static void test_mlsx(void)
{
	xfer_ftp_perms_t all = {true, true, true, true};
	xfer_ftp_perms_t ro = {.read = true};
	xfer_ftp_perms_t none = {0};
	xfer_ftp_perms_t wo = {.write = true};
	xfer_ftp_perms_t del = {.delete_ = true};
	xfer_ftp_perms_t mk = {.mkdir = true};
	struct stat f = st_of(S_IFREG | 0644, 1, 1, NOW);
	struct stat d = st_of(S_IFDIR | 0755, 2, 4096, NOW);

	CHECK_EQ_STR(mlsx("a.txt", f, XFER_MLST_ALL, &all, false, false),
		     "type=file;size=1;modify=20261122170500;perm=rwadf;unique=803g4a5; a.txt\r\n");
	CHECK_EQ_STR(mlsx("pub", d, XFER_MLST_ALL, &all, false, false),
		     "type=dir;modify=20261122170500;perm=elcmpdf;unique=803g4a5; pub\r\n");
	CHECK_EQ_STR(mlsx(".", d, XFER_MLST_ALL, &ro, true, false),
		     "type=cdir;modify=20261122170500;perm=el;unique=803g4a5; .\r\n");
	CHECK_EQ_STR(mlsx("..", d, XFER_MLST_TYPE, &ro, false, true), "type=pdir; ..\r\n");
	/* cdir wins even over a regular file's stat: no size then. */
	CHECK_EQ_STR(mlsx(".", f, XFER_MLST_TYPE | XFER_MLST_SIZE, &ro, true, false), "type=cdir; .\r\n");

	/* perm letters for each single right. */
	unsigned P = XFER_MLST_PERM;
	CHECK_EQ_STR(mlsx("f", f, P, &ro, false, false), "perm=r; f\r\n");
	CHECK_EQ_STR(mlsx("f", f, P, &wo, false, false), "perm=waf; f\r\n");
	CHECK_EQ_STR(mlsx("f", f, P, &del, false, false), "perm=d; f\r\n");
	CHECK_EQ_STR(mlsx("f", f, P, &mk, false, false), "perm=; f\r\n");
	CHECK_EQ_STR(mlsx("f", f, P, &none, false, false), "perm=; f\r\n");
	CHECK_EQ_STR(mlsx("d", d, P, &ro, false, false), "perm=el; d\r\n");
	CHECK_EQ_STR(mlsx("d", d, P, &wo, false, false), "perm=cf; d\r\n");
	CHECK_EQ_STR(mlsx("d", d, P, &del, false, false), "perm=pd; d\r\n");
	CHECK_EQ_STR(mlsx("d", d, P, &mk, false, false), "perm=m; d\r\n");
	CHECK_EQ_STR(mlsx("d", d, P, &none, false, false), "perm=; d\r\n");
	/* No perms given: the fact is left out. */
	CHECK_EQ_STR(mlsx("f", f, XFER_MLST_ALL, NULL, false, false),
		     "type=file;size=1;modify=20261122170500;unique=803g4a5; f\r\n");

	/* Other types. */
	struct stat l = st_of(S_IFLNK | 0777, 1, 9, NOW);
	CHECK_EQ_STR(mlsx("ln", l, XFER_MLST_TYPE | XFER_MLST_SIZE, &ro, false, false), "type=OS.unix=symlink; ln\r\n");
	struct stat p = st_of(S_IFIFO | 0600, 1, 0, NOW);
	CHECK_EQ_STR(mlsx("fifo", p, XFER_MLST_TYPE | XFER_MLST_SIZE, &ro, false, false),
		     "type=OS.unix=fifo; fifo\r\n");

	/* Fact subsets keep the canonical order. */
	CHECK_EQ_STR(mlsx("f", f, 0, &all, false, false), " f\r\n");
	CHECK_EQ_STR(mlsx("f", f, XFER_MLST_SIZE, &all, false, false), "size=1; f\r\n");
	CHECK_EQ_STR(mlsx("f", f, XFER_MLST_UNIQUE | XFER_MLST_TYPE, &all, false, false),
		     "type=file;unique=803g4a5; f\r\n");
	CHECK_EQ_STR(mlsx("f", f, XFER_MLST_MODIFY | XFER_MLST_SIZE, &all, false, false),
		     "size=1;modify=20261122170500; f\r\n");

	/* Big sizes, names with spaces, UTF-8, leading spaces, big dev/ino. */
	struct stat big = st_of(S_IFREG | 0644, 1, 5000000000LL, 1551513662);
	big.st_dev = 0xfd01;
	big.st_ino = 0x123456789abcULL;
	CHECK_EQ_STR(mlsx("  a b \xc3\xa9", big, XFER_MLST_ALL, &ro, false, false),
		     "type=file;size=5000000000;modify=20190302080102;perm=r;unique=fd01g123456789abc;"
		     "   a b \xc3\xa9\r\n");
	/* Pre-epoch and far-future times stay 14 digits. */
	CHECK_EQ_STR(mlsx("f", st_of(S_IFREG, 1, 0, -1), XFER_MLST_MODIFY, NULL, false, false),
		     "modify=19691231235959; f\r\n");
	CHECK_EQ_STR(mlsx("f", st_of(S_IFREG, 1, 0, (time_t)400000000000LL), XFER_MLST_MODIFY, NULL, false, false),
		     "modify=99991231235959; f\r\n");
}

static void test_facts_parse(void)
{
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse(""), 0);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse(NULL), 0);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse(";;;"), 0);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("type;size;modify;"),
		     XFER_MLST_TYPE | XFER_MLST_SIZE | XFER_MLST_MODIFY);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("type;size;modify;perm;unique;"), XFER_MLST_ALL);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("TYPE;Size;mOdIfY;"),
		     XFER_MLST_TYPE | XFER_MLST_SIZE | XFER_MLST_MODIFY);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("unix.mode;type;lang;media-type;charset;create;"), XFER_MLST_TYPE);
	/* No trailing ';' on the last name still counts; junk does not. */
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("type;perm"), XFER_MLST_TYPE | XFER_MLST_PERM);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("type;size;garbage"), XFER_MLST_TYPE | XFER_MLST_SIZE);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("type;sizes;xmodify;perm=x;"), XFER_MLST_TYPE);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("unique;unique;"), XFER_MLST_UNIQUE);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse(" type ; size;"), XFER_MLST_TYPE | XFER_MLST_SIZE);
	CHECK_EQ_INT(xfer_ftp_mlst_facts_parse("type size;"), 0);
}

static void test_facts_text_and_feat(void)
{
	char t[64];
	xfer_ftp_mlst_facts_text(XFER_MLST_ALL, t, sizeof(t));
	CHECK_EQ_STR(t, "type;size;modify;perm;unique;");
	xfer_ftp_mlst_facts_text(XFER_MLST_UNIQUE | XFER_MLST_SIZE, t, sizeof(t));
	CHECK_EQ_STR(t, "size;unique;");
	xfer_ftp_mlst_facts_text(0, t, sizeof(t));
	CHECK_EQ_STR(t, "");
	/* Round trip through the parser. */
	xfer_ftp_mlst_facts_text(xfer_ftp_mlst_facts_parse("Modify;TYPE;"), t, sizeof(t));
	CHECK_EQ_STR(t, "type;modify;");
	/* A short buffer holds whole names only. */
	xfer_ftp_mlst_facts_text(XFER_MLST_ALL, t, 12);
	CHECK_EQ_STR(t, "type;size;");
	xfer_ftp_mlst_facts_text(XFER_MLST_ALL, t, 1);
	CHECK_EQ_STR(t, "");

	xfer_ftp_mlst_feat(XFER_MLST_ALL, t, sizeof(t));
	CHECK_EQ_STR(t, "MLST type*;size*;modify*;perm*;unique*;");
	xfer_ftp_mlst_feat(XFER_MLST_TYPE | XFER_MLST_MODIFY, t, sizeof(t));
	CHECK_EQ_STR(t, "MLST type*;size;modify*;perm;unique;");
	xfer_ftp_mlst_feat(0, t, sizeof(t));
	CHECK_EQ_STR(t, "MLST type;size;modify;perm;unique;");
	xfer_ftp_mlst_feat(XFER_MLST_ALL, t, 3);
	CHECK_EQ_STR(t, "");
}

static void test_mdtm(void)
{
	char t[16];
	xfer_ftp_mdtm(NOW, t);
	CHECK_EQ_STR(t, "20261122170500");
	xfer_ftp_mdtm(1551513662, t);
	CHECK_EQ_STR(t, "20190302080102");
	xfer_ftp_mdtm(0, t);
	CHECK_EQ_STR(t, "19700101000000");
	xfer_ftp_mdtm(-1, t);
	CHECK_EQ_STR(t, "19691231235959");
	xfer_ftp_mdtm((time_t)400000000000LL, t);
	CHECK_EQ_STR(t, "99991231235959");
}

/* A line that does not fit is refused whole: earlier content stays, no
 * partial line appears, and a later line that fits still goes in. */
static void test_cap(void)
{
	struct stat st = st_of(S_IFREG | 0644, 1, 1, NOW);
	xfer_ftp_perms_t p = {true, true, true, true};
	const char *first = "-rw-r--r--    1 ftp      ftp             1 Nov 22 17:05 a\r\n";
	size_t cap = strlen(first) + 10;
	wf_buf_t b;
	wf_buf_init(&b, cap);
	CHECK_EQ_INT(xfer_ftp_list_line(&b, "a", &st, NOW), WF_OK);
	CHECK_EQ_INT(wf_buf_size(&b), strlen(first));
	CHECK_EQ_INT(xfer_ftp_list_line(&b, "b", &st, NOW), WF_ERR);
	CHECK_EQ_INT(xfer_ftp_mlsx_line(&b, "b", &st, XFER_MLST_ALL, &p, false, false), WF_ERR);
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, "0123456789"), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&b), strlen(first));
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, "01234567"), WF_OK);
	CHECK_EQ_INT(wf_buf_size(&b), cap);
	/* Exactly at the cap: an empty name still needs its CRLF. */
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, ""), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&b), cap);
	char want[256];
	snprintf(want, sizeof(want), "%s01234567\r\n", first);
	CHECK_EQ_STR(str(&b), want);

	/* After consuming, the buffer slides its rest to the front and the
	 * line fits exactly; one byte more would not, and leaves it intact. */
	wf_buf_consume(&b, strlen(first));
	CHECK_EQ_INT(xfer_ftp_list_line(&b, "bc", &st, NOW), WF_ERR);
	CHECK_EQ_STR(str(&b), "01234567\r\n");
	CHECK_EQ_INT(xfer_ftp_list_line(&b, "b", &st, NOW), WF_OK);
	CHECK_EQ_INT(wf_buf_size(&b), cap);
	CHECK_EQ_STR(str(&b), "01234567\r\n-rw-r--r--    1 ftp      ftp             1 Nov 22 17:05 b\r\n");
	wf_buf_fini(&b);

	/* A tiny cap refuses every kind without touching the buffer. */
	wf_buf_init(&b, 4);
	CHECK_EQ_INT(xfer_ftp_nlst_line(&b, "ab"), WF_OK);
	CHECK_EQ_INT(xfer_ftp_list_line(&b, "a", &st, NOW), WF_ERR);
	CHECK_EQ_INT(xfer_ftp_mlsx_line(&b, "a", &st, 0, NULL, false, false), WF_ERR);
	CHECK_EQ_STR(str(&b), "ab\r\n");
	wf_buf_fini(&b);
}

int main(void)
{
	int rc = regcomp(&list_re,
			 "^([-dlpscb])([-rwxsStT]{9}) +([0-9]+) +([^ ]+) +([^ ]+) +([0-9]+) +([A-Za-z]{3}) "
			 "+([0-9]{1,2}) +([0-9]{2}:[0-9]{2}|[0-9]{4}) (.+)\r\n$",
			 REG_EXTENDED);
	if (rc != 0) {
		fprintf(stderr, "regcomp failed\n");
		return 2;
	}
	test_list_modes();
	test_list_dates();
	test_list_sizes_and_names();
	test_crlf_skipped();
	test_nlst();
	test_mlsx();
	test_facts_parse();
	test_facts_text_and_feat();
	test_mdtm();
	test_cap();
	regfree(&list_re);
	return check_report();
}
