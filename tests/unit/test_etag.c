/* Entity tags: the tag a file is served with, and reading the lists of
 * If-Match and If-None-Match: "*", strong and weak comparison, empty
 * elements and whitespace, and every malformed shape refused whole. */
#include "transfer/etag.h"

#include "check.h"

#include <string.h>

static int match(const char *field, const char *etag, bool strong)
{
	return xfer_etag_list_match((wf_slice_t){ field, strlen(field) }, etag, strong);
}

static void test_make(void)
{
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_ino = 0xa72bb8;
	st.st_size = 5;
	st.st_mtim.tv_sec = 1;
	st.st_mtim.tv_nsec = 2;
	char etag[XFER_ETAG_MAX];
	xfer_etag_make(&st, etag);
	CHECK_EQ_STR(etag, "\"a72bb8-5-3b9aca02\"");
	/* A touch, a size or an inode changes it. */
	char other[XFER_ETAG_MAX];
	st.st_mtim.tv_nsec = 3;
	xfer_etag_make(&st, other);
	CHECK(strcmp(etag, other) != 0);
	/* The largest values fit. */
	st.st_ino = (ino_t)-1;
	st.st_size = INT64_MAX;
	st.st_mtim.tv_sec = INT32_MAX;
	st.st_mtim.tv_nsec = 999999999;
	xfer_etag_make(&st, other);
	CHECK(strlen(other) < XFER_ETAG_MAX - 1 && other[strlen(other) - 1] == '"');
}

static void test_lists(void)
{
	const char *e = "\"1-2-3\"";
	CHECK_EQ_INT(match("*", e, true), XFER_ETAG_ANY);
	CHECK_EQ_INT(match(" * ", NULL, false), XFER_ETAG_ANY);
	CHECK_EQ_INT(match("\"1-2-3\"", e, true), XFER_ETAG_MATCH);
	CHECK_EQ_INT(match("\"x\", \"1-2-3\"", e, true), XFER_ETAG_MATCH);
	CHECK_EQ_INT(match("\"x\",\t\"1-2-3\" ,", e, true), XFER_ETAG_MATCH);
	CHECK_EQ_INT(match(", ,\"1-2-3\"", e, true), XFER_ETAG_MATCH);
	CHECK_EQ_INT(match("\"x\", \"y\"", e, true), XFER_ETAG_NO_MATCH);
	CHECK_EQ_INT(match("\"1-2-3 \"", e, true), XFER_ETAG_MALFORMED); /* SP is no etagc */
	CHECK_EQ_INT(match("\"1-2-3\"", NULL, true), XFER_ETAG_NO_MATCH);
	CHECK_EQ_INT(match("", e, true), XFER_ETAG_NO_MATCH);
	CHECK_EQ_INT(match(" , ", e, false), XFER_ETAG_NO_MATCH);
	CHECK_EQ_INT(match("\"\"", e, false), XFER_ETAG_NO_MATCH);
	/* Weak tags: only the weak comparison (If-None-Match) takes them. */
	CHECK_EQ_INT(match("W/\"1-2-3\"", e, true), XFER_ETAG_NO_MATCH);
	CHECK_EQ_INT(match("W/\"1-2-3\"", e, false), XFER_ETAG_MATCH);
	CHECK_EQ_INT(match("W/\"x\", \"1-2-3\"", e, true), XFER_ETAG_MATCH);
	/* Tags are case-sensitive, and obs-text is a tag byte. */
	CHECK_EQ_INT(match("\"1-2-3\"", "\"1-2-3\"", true), XFER_ETAG_MATCH);
	CHECK_EQ_INT(match("\"A\"", "\"a\"", false), XFER_ETAG_NO_MATCH);
	CHECK_EQ_INT(match("\"\xe9t\xe9\"", "\"\xe9t\xe9\"", true), XFER_ETAG_MATCH);
}

static void test_malformed(void)
{
	const char *e = "\"1-2-3\"";
	const char *bad[] = {
		"1-2-3",             /* unquoted */
		"\"1-2-3",           /* unterminated */
		"\"1-2-3\"x",        /* bytes after a tag */
		"\"1-2-3\" \"x\"",   /* no comma */
		"*, \"1-2-3\"",      /* "*" in a list */
		"\"1-2-3\", *",
		"**",
		"w/\"1-2-3\"",       /* W is upper case */
		"W/ \"1-2-3\"",
		"W/",
		"\"a\"b\"",
		"\"a\x01\"",         /* a control byte */
		"\"a\x7f\"",
		"\"1-2-3\", x",      /* malformed after a match: still malformed */
	};
	for (size_t i = 0; i < WF_ARRAY_LEN(bad); i++) {
		int m = match(bad[i], e, false);
		if (m != XFER_ETAG_MALFORMED)
			fprintf(stderr, "not refused: %s\n", bad[i]);
		CHECK_EQ_INT(m, XFER_ETAG_MALFORMED);
	}
	/* Never past the field's end: a tag cut by its length is unterminated. */
	CHECK_EQ_INT(xfer_etag_list_match((wf_slice_t){ "\"ab\"", 3 }, "\"ab\"", true), XFER_ETAG_MALFORMED);
	CHECK_EQ_INT(xfer_etag_list_match((wf_slice_t){ "\"a\0\"", 4 }, "\"a\"", true), XFER_ETAG_MALFORMED);
}

int main(void)
{
	test_make();
	test_lists();
	test_malformed();
	return check_report();
}
