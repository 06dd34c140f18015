/* FTP command lines, argument parsers and replies. */
#include "transfer/ftp_cmd.h"

#include "check.h"

#include <arpa/inet.h>
#include <limits.h>

static xfer_ftp_cmd_t g_cmd;

/* Parses a literal (sizeof - 1, so embedded NULs count). */
#define PARSE(lit) parse_bytes((lit), sizeof(lit) - 1)

static ssize_t parse_bytes(const char *buf, size_t len)
{
	memset(&g_cmd, 0xa5, sizeof(g_cmd));
	return xfer_ftp_parse_line(buf, len, &g_cmd);
}

static void check_cmd(const char *line, xfer_ftp_verb_t verb, const char *name, const char *arg)
{
	ssize_t n = parse_bytes(line, strlen(line));
	if (n != (ssize_t)strlen(line) || g_cmd.verb != verb)
		fprintf(stderr, "\"%s\": n %zd verb %d\n", line, n, (int)g_cmd.verb);
	CHECK_EQ_INT(n, strlen(line));
	CHECK_EQ_INT(g_cmd.verb, verb);
	CHECK_EQ_SLICE(g_cmd.name, name);
	CHECK_EQ_SLICE(g_cmd.arg, arg);
	/* Slices point into the input, even empty ones. */
	CHECK(g_cmd.name.ptr >= line && g_cmd.name.ptr + g_cmd.name.len <= line + strlen(line));
	CHECK(g_cmd.arg.ptr >= line && g_cmd.arg.ptr + g_cmd.arg.len <= line + strlen(line));
}

static void test_every_verb(void)
{
	for (int v = 1; v < XFER_FTP_VERB_COUNT; v++) {
		const char *name = xfer_ftp_verb_name((xfer_ftp_verb_t)v);
		CHECK(strcmp(name, "?") != 0);
		char line[16], lower[8];
		snprintf(line, sizeof(line), "%s\r\n", name);
		check_cmd(line, (xfer_ftp_verb_t)v, name, "");
		CHECK_EQ_STR(xfer_ftp_verb_name(g_cmd.verb), name);
		/* Lower and mixed case find the same verb; name is as sent. */
		size_t i;
		CHECK(strlen(name) <= 4);
		for (i = 0; name[i] && i < 4; i++)
			lower[i] = (char)(i % 2 ? name[i] | 0x20 : name[i]);
		lower[i] = '\0';
		snprintf(line, sizeof(line), "%s x\r\n", lower);
		check_cmd(line, (xfer_ftp_verb_t)v, lower, "x");
		for (i = 0; name[i] && i < 4; i++)
			lower[i] = (char)(name[i] | 0x20);
		snprintf(line, sizeof(line), "%s\n", lower);
		check_cmd(line, (xfer_ftp_verb_t)v, lower, "");
	}
	CHECK_EQ_STR(xfer_ftp_verb_name(XFER_FTP_UNKNOWN), "?");
	CHECK_EQ_STR(xfer_ftp_verb_name(XFER_FTP_VERB_COUNT), "?");
	CHECK_EQ_STR(xfer_ftp_verb_name((xfer_ftp_verb_t)-1), "?");
	/* The old X aliases stay distinct verbs. */
	check_cmd("XPWD\r\n", XFER_FTP_XPWD, "XPWD", "");
	check_cmd("xcwd /a\r\n", XFER_FTP_XCWD, "xcwd", "/a");
	check_cmd("XCUP\r\n", XFER_FTP_XCUP, "XCUP", "");
	check_cmd("xcup\r\n", XFER_FTP_XCUP, "xcup", "");
	check_cmd("XMKD d\r\n", XFER_FTP_XMKD, "XMKD", "d");
	check_cmd("XRmd d\r\n", XFER_FTP_XRMD, "XRmd", "d");
	/* Known, so that it can be answered 502 (not offered), not 500. */
	check_cmd("SITE CHMOD 777 x\r\n", XFER_FTP_SITE, "SITE", "CHMOD 777 x");
}

static void test_unknown(void)
{
	check_cmd("XYZ\r\n", XFER_FTP_UNKNOWN, "XYZ", "");
	check_cmd("CLNT curl 7.88\r\n", XFER_FTP_UNKNOWN, "CLNT", "curl 7.88");
	/* Too long, too short, non-letters: UNKNOWN, not an error. */
	check_cmd("RETRX a\r\n", XFER_FTP_UNKNOWN, "RETRX", "a");
	check_cmd("RE a\r\n", XFER_FTP_UNKNOWN, "RE", "a");
	check_cmd("R3TR a\r\n", XFER_FTP_UNKNOWN, "R3TR", "a");
	check_cmd("RETR\ta\r\n", XFER_FTP_UNKNOWN, "RETR\ta", "");
	check_cmd("GET / HTTP/1.1\r\n", XFER_FTP_UNKNOWN, "GET", "/ HTTP/1.1");
	check_cmd("\xc3\x89TR x\r\n", XFER_FTP_UNKNOWN, "\xc3\x89TR", "x");
	/* A leading space leaves an empty verb. */
	check_cmd(" USER a\r\n", XFER_FTP_UNKNOWN, "", "USER a");
}

static void test_args(void)
{
	check_cmd("USER anonymous\r\n", XFER_FTP_USER, "USER", "anonymous");
	check_cmd("RETR a b.txt\r\n", XFER_FTP_RETR, "RETR", "a b.txt");
	/* Exactly one space is the separator; the rest is the name. */
	check_cmd("RETR  lead\r\n", XFER_FTP_RETR, "RETR", " lead");
	check_cmd("RETR trail  \r\n", XFER_FTP_RETR, "RETR", "trail  ");
	check_cmd("STOR   a  b   \r\n", XFER_FTP_STOR, "STOR", "  a  b   ");
	check_cmd("CWD \t\r\n", XFER_FTP_CWD, "CWD", "\t");
	check_cmd("PASS \xc3\xa9t\xc3\xa9\r\n", XFER_FTP_PASS, "PASS", "\xc3\xa9t\xc3\xa9");
	/* No-argument commands with and without the trailing space. */
	check_cmd("PWD\r\n", XFER_FTP_PWD, "PWD", "");
	check_cmd("PWD \r\n", XFER_FTP_PWD, "PWD", "");
	check_cmd("PWD  \r\n", XFER_FTP_PWD, "PWD", " ");
	check_cmd("EPSV\n", XFER_FTP_EPSV, "EPSV", "");
	check_cmd("QUIT \n", XFER_FTP_QUIT, "QUIT", "");
	/* Bare LF. */
	check_cmd("CWD /pub\n", XFER_FTP_CWD, "CWD", "/pub");
	/* High bytes after the verb are not Telnet: kept. */
	check_cmd("RETR \xff\xf4\r\n", XFER_FTP_RETR, "RETR", "\xff\xf4");
}

static void test_pipelined(void)
{
	const char buf[] = "USER a\r\nPASS b\nNOOP";
	size_t len = sizeof(buf) - 1, off = 0;
	ssize_t n = parse_bytes(buf, len);
	CHECK_EQ_INT(n, 8);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_USER);
	CHECK_EQ_SLICE(g_cmd.arg, "a");
	off += (size_t)n;
	n = parse_bytes(buf + off, len - off);
	CHECK_EQ_INT(n, 7);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_PASS);
	CHECK_EQ_SLICE(g_cmd.arg, "b");
	off += (size_t)n;
	CHECK_EQ_INT(parse_bytes(buf + off, len - off), XFER_FTP_AGAIN);
}

static void test_incremental(void)
{
	const char line[] = "STOR my file.txt\r\n";
	size_t len = sizeof(line) - 1;
	for (size_t i = 0; i < len; i++)
		CHECK_EQ_INT(parse_bytes(line, i), XFER_FTP_AGAIN);
	CHECK_EQ_INT(parse_bytes(line, len), len);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_STOR);
	CHECK_EQ_SLICE(g_cmd.arg, "my file.txt");
	/* A CR alone at the end is a line still arriving. */
	CHECK_EQ_INT(PARSE("NOOP\r"), XFER_FTP_AGAIN);
	CHECK_EQ_INT(xfer_ftp_parse_line(NULL, 0, &g_cmd), XFER_FTP_AGAIN);
}

static void test_too_long(void)
{
	static char buf[XFER_FTP_LINE_MAX + 16];
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "RETR ", 5);
	CHECK_EQ_INT(parse_bytes(buf, XFER_FTP_LINE_MAX - 1), XFER_FTP_AGAIN);
	CHECK_EQ_INT(parse_bytes(buf, XFER_FTP_LINE_MAX), XFER_FTP_TOO_LONG);
	CHECK_EQ_INT(parse_bytes(buf, sizeof(buf)), XFER_FTP_TOO_LONG);
	/* The longest line accepted: XFER_FTP_LINE_MAX bytes, CRLF included. */
	buf[XFER_FTP_LINE_MAX - 2] = '\r';
	buf[XFER_FTP_LINE_MAX - 1] = '\n';
	CHECK_EQ_INT(parse_bytes(buf, sizeof(buf)), XFER_FTP_LINE_MAX);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_RETR);
	CHECK_EQ_INT(g_cmd.arg.len, XFER_FTP_LINE_MAX - 7);
	/* One byte more and the LF is past the limit. */
	memset(buf, 'a', sizeof(buf));
	memcpy(buf, "RETR ", 5);
	buf[XFER_FTP_LINE_MAX - 1] = '\r';
	buf[XFER_FTP_LINE_MAX] = '\n';
	CHECK_EQ_INT(parse_bytes(buf, sizeof(buf)), XFER_FTP_TOO_LONG);
}

/* BAD only once the LF is there, so "skip through the first LF" is exact. */
static void check_bad(const char *buf, size_t len)
{
	const char *lf = memchr(buf, '\n', len);
	CHECK(lf != NULL);
	CHECK_EQ_INT(parse_bytes(buf, (size_t)(lf - buf)), XFER_FTP_AGAIN);
	CHECK_EQ_INT(parse_bytes(buf, len), XFER_FTP_BAD);
	size_t skip = (size_t)(lf - buf) + 1;
	if (skip < len) {
		CHECK(parse_bytes(buf + skip, len - skip) > 0);
		CHECK_EQ_INT(g_cmd.verb, XFER_FTP_NOOP);
	}
}
#define CHECK_BAD(lit) check_bad((lit), sizeof(lit) - 1)

static void test_bad(void)
{
	CHECK_BAD("RETR a\0b\r\nNOOP\r\n");
	CHECK_BAD("\0\r\nNOOP\r\n");
	CHECK_BAD("RETR a\r\0\nNOOP\r\n");
	CHECK_BAD("RETR a\rDELE b\r\nNOOP\r\n");
	CHECK_BAD("RETR a\r\r\nNOOP\r\n");
	CHECK_BAD("\rNOOP\nNOOP\r\n");
	/* Empty lines, bare or after Telnet bytes. */
	CHECK_BAD("\r\nNOOP\r\n");
	CHECK_BAD("\nNOOP\r\n");
	CHECK_BAD("\xff\xf4\xff\xf2\r\nNOOP\r\n");
	/* A CR after the LF belongs to the next line. */
	CHECK_EQ_INT(PARSE("NOOP\n\rX\r\n"), 5);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_NOOP);
}

static void test_telnet(void)
{
	/* IAC IP IAC DM, with and without the DM the kernel may drop as urgent data. */
	CHECK_EQ_INT(PARSE("\xff\xf4\xff\xf2" "ABOR\r\n"), 10);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_ABOR);
	CHECK_EQ_SLICE(g_cmd.name, "ABOR");
	CHECK_EQ_INT(PARSE("\xff\xf4\xff" "ABOR\r\n"), 9);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_ABOR);
	CHECK_EQ_INT(PARSE("\xff\xf4\xf2" "abor\r\n"), 9);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_ABOR);
	CHECK_EQ_INT(PARSE("\xf2" "ABOR\r\n"), 7);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_ABOR);
	CHECK_EQ_INT(PARSE("\xff\xff" "STAT\r\n"), 8);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_STAT);
	/* Other bytes start an unknown verb. */
	CHECK_EQ_INT(PARSE("\xff\x01" "ABOR\r\n"), 8);
	CHECK_EQ_INT(g_cmd.verb, XFER_FTP_UNKNOWN);
	CHECK_EQ_SLICE(g_cmd.name, "\x01" "ABOR");
}

static struct sockaddr_storage g_ss;

static int port(const char *s)
{
	memset(&g_ss, 0xa5, sizeof(g_ss));
	return xfer_ftp_parse_port((wf_slice_t){ s, strlen(s) }, &g_ss);
}

static void check_addr(int family, const char *addr, unsigned p)
{
	char text[INET6_ADDRSTRLEN] = "";
	CHECK_EQ_INT(g_ss.ss_family, family);
	if (family == AF_INET) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)&g_ss;
		inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text));
		CHECK_EQ_INT(ntohs(sin->sin_port), p);
	} else {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)&g_ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, text, sizeof(text));
		CHECK_EQ_INT(ntohs(sin6->sin6_port), p);
		CHECK_EQ_INT(sin6->sin6_scope_id, 0);
	}
	CHECK_EQ_STR(text, addr);
}

static bool untouched(void)
{
	const unsigned char *b = (const unsigned char *)&g_ss;
	for (size_t i = 0; i < sizeof(g_ss); i++)
		if (b[i] != 0xa5)
			return false;
	return true;
}

static void port_err(const char *s)
{
	int rc = port(s);
	if (rc != WF_ERR)
		fprintf(stderr, "PORT \"%s\" accepted\n", s);
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK(untouched());
}

static void test_port(void)
{
	CHECK_EQ_INT(port("127,0,0,1,4,1"), WF_OK);
	check_addr(AF_INET, "127.0.0.1", 1025);
	CHECK_EQ_INT(port("192,168,1,254,255,255"), WF_OK);
	check_addr(AF_INET, "192.168.1.254", 65535);
	CHECK_EQ_INT(port("0,0,0,0,0,1"), WF_OK); /* the caller refuses it, not the parser */
	check_addr(AF_INET, "0.0.0.0", 1);
	CHECK_EQ_INT(port("010,001,000,001,000,021"), WF_OK);
	check_addr(AF_INET, "10.1.0.1", 21);

	port_err("127,0,0,1,0,0");
	port_err("256,0,0,1,4,1");
	port_err("1,2,3,4,5,256");
	port_err("1,2,3,4,5,1000");
	port_err("1,2,3,4,5,0001");
	port_err("1,2,3,4,5");
	port_err("1,2,3,4,5,6,7");
	port_err("1,2,3,4,5,6,");
	port_err(",1,2,3,4,5,6");
	port_err("1,2,,3,4,5");
	port_err("1,2,3,4,5,6 ");
	port_err(" 1,2,3,4,5,6");
	port_err("1, 2,3,4,5,6");
	port_err("1 ,2,3,4,5,6");
	port_err("+1,2,3,4,5,6");
	port_err("1,-2,3,4,5,6");
	port_err("1.2.3.4.5.6");
	port_err("0x7f,0,0,1,4,1");
	port_err("");
	port_err("1,2,3,4,5,6\r");
	CHECK_EQ_INT(xfer_ftp_parse_port((wf_slice_t){ "1,2,3,4,5,6\0" "7", 13 }, &g_ss), WF_ERR);
}

static int eprt(const char *s)
{
	memset(&g_ss, 0xa5, sizeof(g_ss));
	return xfer_ftp_parse_eprt((wf_slice_t){ s, strlen(s) }, &g_ss);
}

static void eprt_err(const char *s)
{
	int rc = eprt(s);
	if (rc != WF_ERR)
		fprintf(stderr, "EPRT \"%s\" accepted\n", s);
	CHECK_EQ_INT(rc, WF_ERR);
	CHECK(untouched());
}

static void test_eprt(void)
{
	CHECK_EQ_INT(eprt("|1|132.235.1.2|6275|"), WF_OK);
	check_addr(AF_INET, "132.235.1.2", 6275);
	CHECK_EQ_INT(eprt("|2|1080::8:800:200C:417A|5282|"), WF_OK);
	check_addr(AF_INET6, "1080::8:800:200c:417a", 5282);
	CHECK_EQ_INT(eprt("|2|::1|65535|"), WF_OK);
	check_addr(AF_INET6, "::1", 65535);
	CHECK_EQ_INT(eprt("|2|::ffff:127.0.0.1|21|"), WF_OK); /* bounce checks are the caller's */
	check_addr(AF_INET6, "::ffff:127.0.0.1", 21);
	/* Any printable delimiter. */
	CHECK_EQ_INT(eprt("!1!10.0.0.1!1!"), WF_OK);
	check_addr(AF_INET, "10.0.0.1", 1);
	CHECK_EQ_INT(eprt("~2~fe80::1~2000~"), WF_OK);
	check_addr(AF_INET6, "fe80::1", 2000);
	CHECK_EQ_INT(eprt(":1:10.0.0.1:80:"), WF_OK);
	check_addr(AF_INET, "10.0.0.1", 80);

	eprt_err(":2:::1:80:"); /* the delimiter splits the address */
	eprt_err(" 1 10.0.0.1 80 ");
	eprt_err("\x7f" "1\x7f" "10.0.0.1\x7f" "80\x7f");
	eprt_err("\x01" "1\x01" "10.0.0.1\x01" "80\x01");
	eprt_err("|1|10.0.0.1|80");
	eprt_err("|1|10.0.0.1|80||");
	eprt_err("|1|10.0.0.1|");
	eprt_err("|1|10.0.0.1||");
	eprt_err("|1||80|");
	eprt_err("||10.0.0.1|80|");
	eprt_err("|1|");
	eprt_err("|");
	eprt_err("");
	eprt_err("|3|10.0.0.1|80|");
	eprt_err("|0|10.0.0.1|80|");
	eprt_err("|01|10.0.0.1|80|");
	eprt_err("|12|10.0.0.1|80|");
	eprt_err("|1|10.0.0.1|0|");
	eprt_err("|1|10.0.0.1|65536|");
	eprt_err("|1|10.0.0.1|100000|");
	eprt_err("|1|10.0.0.1|+80|");
	eprt_err("|1|10.0.0.1| 80|");
	eprt_err("|1| 10.0.0.1|80|");
	eprt_err("|1|10.0.0.1 |80|");
	eprt_err("|1|::1|80|");
	eprt_err("|2|127.0.0.1|80|");
	eprt_err("|1|10.0.0|80|");
	eprt_err("|1|10.0.0.256|80|");
	eprt_err("|1|localhost|80|");
	eprt_err("|2|fe80::1%eth0|80|");
	eprt_err("|2|1:2:3:4:5:6:7:8:9:10:11:12:13:14:15:16:17:18:19:20|80|");
	eprt_err(" |1|10.0.0.1|80|");
	eprt_err("|1|10.0.0.1|80| ");
	CHECK_EQ_INT(xfer_ftp_parse_eprt((wf_slice_t){ "|1|10.0.0.1\0|80|", 16 }, &g_ss), WF_ERR);
}

static int rest(const char *s, uint64_t *v)
{
	*v = 0xdeadbeef;
	return xfer_ftp_parse_offset((wf_slice_t){ s, strlen(s) }, v);
}

static void test_rest(void)
{
	uint64_t v;
	CHECK_EQ_INT(rest("0", &v), WF_OK);
	CHECK(v == 0);
	CHECK_EQ_INT(rest("100", &v), WF_OK);
	CHECK(v == 100);
	CHECK_EQ_INT(rest("9223372036854775807", &v), WF_OK);
	CHECK(v == (uint64_t)INT64_MAX);
	CHECK_EQ_INT(rest("0000000000000000001", &v), WF_OK);
	CHECK(v == 1);
	const char *bad[] = { "9223372036854775808", "9999999999999999999", "18446744073709551615",
			      "18446744073709551616", "99999999999999999999999", "00000000000000000001",
			      "", " 1", "1 ", "-1", "+1", "1e3", "0x10", "1,000" };
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		CHECK_EQ_INT(rest(bad[i], &v), WF_ERR);
		CHECK(v == 0xdeadbeef);
	}
}

static int mfmt(const char *s, struct timespec *t, wf_slice_t *path)
{
	t->tv_sec = 12345;
	t->tv_nsec = 678;
	*path = (wf_slice_t){ NULL, 0 };
	return xfer_ftp_parse_mfmt((wf_slice_t){ s, strlen(s) }, t, path);
}

/* Times against date -u -d ... +%s; the path keeps its spaces. */
static void test_mfmt(void)
{
	struct timespec t;
	wf_slice_t path;
	CHECK_EQ_INT(mfmt("20261122170500 a.txt", &t, &path), WF_OK);
	CHECK(t.tv_sec == 1795367100 && t.tv_nsec == 0);
	CHECK_EQ_SLICE(path, "a.txt");
	CHECK_EQ_INT(mfmt("19700101000000 /x y/ z ", &t, &path), WF_OK);
	CHECK(t.tv_sec == 0);
	CHECK_EQ_SLICE(path, "/x y/ z ");
	CHECK_EQ_INT(mfmt("20000229235959.5 f", &t, &path), WF_OK); /* a leap day, half a second */
	CHECK(t.tv_sec == 951868799 && t.tv_nsec == 500000000);
	CHECK_EQ_INT(mfmt("19691231235959.123456789 f", &t, &path), WF_OK);
	CHECK(t.tv_sec == -1 && t.tv_nsec == 123456789);
	CHECK_EQ_INT(mfmt("16000301000000 f", &t, &path), WF_OK);
	CHECK(t.tv_sec == -11670912000LL);
	CHECK_EQ_INT(mfmt("99991231235959 f", &t, &path), WF_OK);
	CHECK(t.tv_sec == 253402300799LL);
	const char *bad[] = { "", "20261122170500", "20261122170500 ", "2026112217050 f", "202611221705000 f",
			      "20261322170500 f", "20260022170500 f", "20261100170500 f", "20261131170500 f",
			      "20230229000000 f", "19000229000000 f", "20261122240000 f", "20261122176000 f",
			      "20261122170560 f", "09991122170500 f", "20261122170500. f", "20261122170500.1234567890 f",
			      "2026-11-22 17:05 f", "+2026112217050 f", "20261122170500\tf", " 20261122170500 f",
			      "20261122170500.5x f" };
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		if (mfmt(bad[i], &t, &path) != WF_ERR)
			fprintf(stderr, "MFMT accepted \"%s\"\n", bad[i]);
		CHECK_EQ_INT(mfmt(bad[i], &t, &path), WF_ERR);
		CHECK(t.tv_sec == 12345 && t.tv_nsec == 678 && path.ptr == NULL);
	}
}

static int type(const char *s, char *c)
{
	*c = '?';
	return xfer_ftp_parse_type((wf_slice_t){ s, strlen(s) }, c);
}

static void test_type(void)
{
	char c;
	const char *ascii[] = { "A", "a", "A N", "a n", "A n" };
	for (size_t i = 0; i < WF_ARRAY_LEN(ascii); i++) {
		CHECK_EQ_INT(type(ascii[i], &c), WF_OK);
		CHECK_EQ_INT(c, 'A');
	}
	const char *image[] = { "I", "i", "L 8", "l 8" };
	for (size_t i = 0; i < WF_ARRAY_LEN(image); i++) {
		CHECK_EQ_INT(type(image[i], &c), WF_OK);
		CHECK_EQ_INT(c, 'I');
	}
	const char *bad[] = { "", "A T", "A C", "E", "E N", "L 7", "L 16", "L", "L8", "I ", " I",
			      "A  N", "AN", "X", "IMAGE", "A N " };
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		CHECK_EQ_INT(type(bad[i], &c), WF_ERR);
		CHECK_EQ_INT(c, '?');
	}
}

static wf_buf_t g_out;

/* The buffer content as a C string (it is not NUL-terminated). */
static const char *out_str(void)
{
	static char s[4096];
	size_t n = wf_buf_size(&g_out);
	if (n >= sizeof(s))
		n = sizeof(s) - 1;
	if (n)
		memcpy(s, wf_buf_head(&g_out), n);
	s[n] = '\0';
	return s;
}

static void test_reply(void)
{
	wf_buf_init(&g_out, 4096);
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 220, "wharf ready"), WF_OK);
	CHECK_EQ_STR(out_str(), "220 wharf ready\r\n");
	wf_buf_reset(&g_out);
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 550, "x\r\n200 ok\r\n"), WF_OK);
	CHECK_EQ_STR(out_str(), "550 x  200 ok  \r\n");
	wf_buf_reset(&g_out);
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 150, "a\nb\rc"), WF_OK);
	CHECK_EQ_STR(out_str(), "150 a b c\r\n");
	wf_buf_reset(&g_out);
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 200, ""), WF_OK);
	CHECK_EQ_STR(out_str(), "200 \r\n");
	/* Replies append. */
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 331, "Password"), WF_OK);
	CHECK_EQ_STR(out_str(), "200 \r\n331 Password\r\n");
	wf_buf_fini(&g_out);

	/* At the cap: all or nothing. */
	wf_buf_init(&g_out, 20);
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 200, "12345678901234"), WF_OK);
	CHECK_EQ_INT(wf_buf_size(&g_out), 20);
	wf_buf_reset(&g_out);
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 200, "ok"), WF_OK);
	CHECK_EQ_INT(xfer_ftp_reply(&g_out, 200, "123456789012"), WF_ERR);
	CHECK_EQ_STR(out_str(), "200 ok\r\n");
	wf_buf_fini(&g_out);
}

static void test_reply_multi(void)
{
	wf_buf_init(&g_out, 4096);
	const char *feat[] = { "AUTH TLS", "PBSZ", "PROT", "EPSV", "MLST type*;size*;modify*;", "UTF8" };
	CHECK_EQ_INT(xfer_ftp_reply_multi(&g_out, 211, "Features:", feat, WF_ARRAY_LEN(feat), "End"), WF_OK);
	CHECK_EQ_STR(out_str(), "211-Features:\r\n AUTH TLS\r\n PBSZ\r\n PROT\r\n EPSV\r\n"
				" MLST type*;size*;modify*;\r\n UTF8\r\n211 End\r\n");
	wf_buf_reset(&g_out);
	/* A line that looks like the end, and names carrying line breaks. */
	const char *evil[] = { "211 End", "a\r\n211 End", "" };
	CHECK_EQ_INT(xfer_ftp_reply_multi(&g_out, 211, "st\r\n211 x", evil, 3, "End\n200 ok"), WF_OK);
	CHECK_EQ_STR(out_str(), "211-st  211 x\r\n 211 End\r\n a  211 End\r\n \r\n211 End 200 ok\r\n");
	wf_buf_reset(&g_out);
	CHECK_EQ_INT(xfer_ftp_reply_multi(&g_out, 214, "Help", NULL, 0, "Done"), WF_OK);
	CHECK_EQ_STR(out_str(), "214-Help\r\n214 Done\r\n");
	wf_buf_fini(&g_out);

	/* Exactly at the cap, then one byte short: nothing written. */
	const char *l[] = { "x" };
	size_t need = strlen("211-a\r\n x\r\n211 b\r\n");
	wf_buf_init(&g_out, need);
	CHECK_EQ_INT(xfer_ftp_reply_multi(&g_out, 211, "a", l, 1, "b"), WF_OK);
	CHECK_EQ_STR(out_str(), "211-a\r\n x\r\n211 b\r\n");
	wf_buf_fini(&g_out);
	wf_buf_init(&g_out, need - 1);
	CHECK_EQ_INT(xfer_ftp_reply_multi(&g_out, 211, "a", l, 1, "b"), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&g_out), 0);
	wf_buf_fini(&g_out);
}

static void test_pasv_epsv(void)
{
	wf_buf_init(&g_out, 4096);
	struct sockaddr_in sin;
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.168.1.2", &sin.sin_addr);
	sin.sin_port = htons(21);
	CHECK_EQ_INT(xfer_ftp_reply_pasv(&g_out, &sin, 50000), WF_OK);
	CHECK_EQ_STR(out_str(), "227 Entering Passive Mode (192,168,1,2,195,80).\r\n");
	wf_buf_reset(&g_out);
	inet_pton(AF_INET, "255.0.0.1", &sin.sin_addr);
	CHECK_EQ_INT(xfer_ftp_reply_pasv(&g_out, &sin, 65535), WF_OK);
	CHECK_EQ_STR(out_str(), "227 Entering Passive Mode (255,0,0,1,255,255).\r\n");
	wf_buf_reset(&g_out);
	CHECK_EQ_INT(xfer_ftp_reply_epsv(&g_out, 50000), WF_OK);
	CHECK_EQ_STR(out_str(), "229 Entering Extended Passive Mode (|||50000|).\r\n");
	wf_buf_reset(&g_out);
	CHECK_EQ_INT(xfer_ftp_reply_epsv(&g_out, 1), WF_OK);
	CHECK_EQ_STR(out_str(), "229 Entering Extended Passive Mode (|||1|).\r\n");
	wf_buf_fini(&g_out);

	wf_buf_init(&g_out, 10);
	CHECK_EQ_INT(xfer_ftp_reply_epsv(&g_out, 1), WF_ERR);
	CHECK_EQ_INT(xfer_ftp_reply_pasv(&g_out, &sin, 1), WF_ERR);
	CHECK_EQ_INT(wf_buf_size(&g_out), 0);
	wf_buf_fini(&g_out);
}

static void test_quote_path(void)
{
	char out[32];
	CHECK_EQ_INT(xfer_ftp_quote_path("/home/a", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "/home/a");
	CHECK_EQ_INT(xfer_ftp_quote_path("/say \"hi\"", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "/say \"\"hi\"\"");
	CHECK_EQ_INT(xfer_ftp_quote_path("/a\r\n257 \"/\"", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "/a  257 \"\"/\"\"");
	CHECK_EQ_INT(xfer_ftp_quote_path("", out, sizeof(out)), WF_OK);
	CHECK_EQ_STR(out, "");
	/* Exact fits and one short, including a doubled quote at the edge. */
	CHECK_EQ_INT(xfer_ftp_quote_path("abc", out, 4), WF_OK);
	CHECK_EQ_STR(out, "abc");
	CHECK_EQ_INT(xfer_ftp_quote_path("abcd", out, 4), WF_ERR);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(xfer_ftp_quote_path("ab\"", out, 5), WF_OK);
	CHECK_EQ_STR(out, "ab\"\"");
	CHECK_EQ_INT(xfer_ftp_quote_path("ab\"", out, 4), WF_ERR);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(xfer_ftp_quote_path("", out, 1), WF_OK);
	CHECK_EQ_STR(out, "");
	CHECK_EQ_INT(xfer_ftp_quote_path("a", out, 1), WF_ERR);
	CHECK_EQ_INT(xfer_ftp_quote_path("", out, 0), WF_ERR);
}

static bool g_dir;

static const char *resolve(const char *cwd, const char *arg)
{
	static char out[64];
	if (xfer_ftp_path_resolve(cwd, (wf_slice_t){ arg, strlen(arg) }, out, sizeof(out), &g_dir) != WF_OK)
		return "ERR";
	return out;
}

static void test_path_resolve(void)
{
	CHECK_EQ_STR(resolve("/", ""), "/");
	CHECK_EQ_STR(resolve("/a/b", ""), "/a/b");
	CHECK_EQ_STR(resolve("/a/b", "c"), "/a/b/c");
	CHECK_EQ_STR(resolve("/a/b", "/c"), "/c");
	CHECK_EQ_STR(resolve("/a/b", ".."), "/a");
	CHECK_EQ_STR(resolve("/a/b", "../../.."), "/");
	CHECK_EQ_STR(resolve("/", "../../etc/passwd"), "/etc/passwd");
	CHECK_EQ_STR(resolve("/a", "/../x/./y//z/"), "/x/y/z");
	CHECK_EQ_STR(resolve("/a", "x y "), "/a/x y ");
	CHECK_EQ_STR(resolve("/a", "..."), "/a/...");
	CHECK_EQ_STR(resolve("/", "d\xc3\xa9j\xc3\xa0"), "/d\xc3\xa9j\xc3\xa0");
	char long_arg[100];
	memset(long_arg, 'x', sizeof(long_arg) - 1);
	long_arg[sizeof(long_arg) - 1] = '\0';
	CHECK_EQ_STR(resolve("/", long_arg), "ERR");
	char out[64];
	bool dir;
	CHECK_EQ_INT(xfer_ftp_path_resolve("/", (wf_slice_t){ "a\0b", 3 }, out, sizeof(out), &dir), WF_ERR);
	/* A long name removed again by ".." still had to fit on the way. */
	CHECK_EQ_STR(resolve("/", "a/../b"), "/b");
}

/* A name that ends in '/' (or in a dot segment) names a folder: the path is
 * the same as without it, and the flag says so. */
static void test_path_resolve_folder_form(void)
{
	static const struct {
		const char *cwd, *arg, *path;
		bool dir;
	} cases[] = {
		{ "/", "f.txt", "/f.txt", false },
		{ "/", "f.txt/", "/f.txt", true },
		{ "/", "f.txt//", "/f.txt", true },
		{ "/", "f.txt/.", "/f.txt", true },
		{ "/a", "f.txt/..", "/a", true },
		{ "/a", "..", "/", true },
		{ "/a", ".", "/a", true },
		{ "/a", "", "/a", true },
		{ "/a", "/", "/", true },
		{ "/a", "/b/c/", "/b/c", true },
		{ "/a", "/b/c", "/b/c", false },
		{ "/a", "b/./c", "/a/b/c", false },
		{ "/a", "...", "/a/...", false },
		{ "/a", ".x", "/a/.x", false },
		{ "/a", "x.", "/a/x.", false },
		{ "/a", "../b", "/b", false },
		{ "/a/b", "c /", "/a/b/c ", true },
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(cases); i++) {
		g_dir = !cases[i].dir;
		CHECK_EQ_STR(resolve(cases[i].cwd, cases[i].arg), cases[i].path);
		if (g_dir != cases[i].dir)
			fprintf(stderr, "cwd \"%s\" arg \"%s\": dir %d\n", cases[i].cwd, cases[i].arg, (int)g_dir);
		CHECK_EQ_INT(g_dir, cases[i].dir);
	}
}

/* The session's paths hold '/' and PATH_MAX - 1 bytes below the home, the
 * most the file system takes (and HTTPS serves), with their NUL: a cap of
 * PATH_MAX + 1 (FTP_PATH_MAX) takes the longest, and not one byte more. */
static void test_path_resolve_longest(void)
{
	static char arg[PATH_MAX + 8], out[PATH_MAX + 1];
	bool dir;
	/* Folders of 255 bytes, then a leaf that brings the path to n bytes. */
	for (size_t n = PATH_MAX - 2; n <= PATH_MAX; n++) {
		memset(arg, 'x', n);
		for (size_t i = 255; i + 1 < n; i += 256)
			arg[i] = '/';
		arg[n] = '\0';
		int rc = xfer_ftp_path_resolve("/", (wf_slice_t){ arg, n }, out, sizeof(out), &dir);
		CHECK_EQ_INT(rc, n <= PATH_MAX - 1 ? WF_OK : WF_ERR);
		if (rc == WF_OK)
			CHECK_EQ_INT(strlen(out), n + 1);
		/* Relative to a folder, the same path in two parts. */
		char cwd[257] = "/";
		memcpy(cwd + 1, arg, 255);
		rc = xfer_ftp_path_resolve(cwd, (wf_slice_t){ arg + 256, n - 256 }, out, sizeof(out), &dir);
		CHECK_EQ_INT(rc, n <= PATH_MAX - 1 ? WF_OK : WF_ERR);
	}
}

static void test_name_creatable(void)
{
	CHECK(xfer_ftp_name_creatable(WF_SLICE("plain.txt")));
	CHECK(xfer_ftp_name_creatable(WF_SLICE("with space and \xc3\xa9")));
	CHECK(xfer_ftp_name_creatable(WF_SLICE("~!\"#$%&'()*+,-.:;<=>?@[\\]^_`{|}")));
	CHECK(xfer_ftp_name_creatable(WF_SLICE("\x80\xff")));
	CHECK(xfer_ftp_name_creatable(WF_SLICE("")));
	CHECK(!xfer_ftp_name_creatable(WF_SLICE("tab\there")));
	CHECK(!xfer_ftp_name_creatable(WF_SLICE("esc\x1b[31mred")));
	CHECK(!xfer_ftp_name_creatable(WF_SLICE("del\x7f")));
	CHECK(!xfer_ftp_name_creatable(WF_SLICE("\x01")));
	CHECK(!xfer_ftp_name_creatable(WF_SLICE("x\x1f")));
	CHECK(!xfer_ftp_name_creatable((wf_slice_t){ "a\0b", 3 }));
	/* Every byte as HTTPS judges it: what one refuses, the other does too. */
	for (unsigned c = 1; c < 256; c++) {
		char b = (char)c;
		CHECK_EQ_INT(xfer_ftp_name_creatable((wf_slice_t){ &b, 1 }), c >= 0x20 && c != 0x7f);
	}
}

int main(void)
{
	test_path_resolve();
	test_path_resolve_folder_form();
	test_path_resolve_longest();
	test_name_creatable();
	test_every_verb();
	test_unknown();
	test_args();
	test_pipelined();
	test_incremental();
	test_too_long();
	test_bad();
	test_telnet();
	test_port();
	test_eprt();
	test_rest();
	test_mfmt();
	test_type();
	test_reply();
	test_reply_multi();
	test_pasv_epsv();
	test_quote_path();
	return check_report();
}
