/* Preconditions evaluated against a target: RFC 9110 13.2.2's order
 * (If-Match over If-Unmodified-Since, If-None-Match over
 * If-Modified-Since), "*" against a target that is there or not, 304 for
 * a read and 412 for a change, malformed lists (refusing a change, ignored
 * by a read), dates that are not dates, folders (no tag, no date), a
 * repeated field's lines joined into one value, and the owned copy a
 * change takes to the pool. */
#include "transfer/precond.h"
#include "transfer/etag.h"

#include "check.h"

#include <string.h>

#define T0 1600000000 /* the file's modification time */
#define BEFORE "Sun, 13 Sep 2020 12:26:39 GMT" /* T0 - 1 */
#define AT "Sun, 13 Sep 2020 12:26:40 GMT"     /* T0 */

static struct stat g_file, g_dir;
static char g_etag[XFER_ETAG_MAX];

static wf_slice_t S(const char *s)
{
	return (wf_slice_t){ s, s ? strlen(s) : 0 };
}

/* im, inm, ius, ims: the four fields (NULL: absent). */
static xfer_precond_result_t eval(const char *im, const char *inm, const char *ius, const char *ims,
				  const struct stat *st, bool read)
{
	xfer_precond_in_t in = { S(im), S(inm), S(ius), S(ims) };
	xfer_precond_result_t r = xfer_precond_eval(&in, st, read);
	/* The owned copy agrees on every change. */
	if (!read) {
		xfer_precond_t *c = xfer_precond_new(&in);
		CHECK(c != NULL);
		CHECK_EQ_INT(xfer_precond_holds(c, st), r == XFER_PRECOND_PASS);
		xfer_precond_free(c);
	}
	return r;
}

enum { PASS = XFER_PRECOND_PASS, N_M = XFER_PRECOND_NOT_MODIFIED, FAIL = XFER_PRECOND_FAILED };

static void test_if_match(void)
{
	CHECK_EQ_INT(eval(NULL, NULL, NULL, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, NULL, NULL, NULL, false), PASS);
	CHECK_EQ_INT(eval(g_etag, NULL, NULL, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval("\"other\"", NULL, NULL, NULL, &g_file, false), FAIL);
	CHECK_EQ_INT(eval("\"other\"", NULL, NULL, NULL, &g_file, true), FAIL);
	CHECK_EQ_INT(eval("*", NULL, NULL, NULL, &g_file, false), PASS);
	/* Nothing there: neither "*" nor a tag holds (a PUT that would
	 * create what the client thinks it replaces). */
	CHECK_EQ_INT(eval("*", NULL, NULL, NULL, NULL, false), FAIL);
	CHECK_EQ_INT(eval(g_etag, NULL, NULL, NULL, NULL, false), FAIL);
	/* Strong: a weak tag never holds. */
	char weak[XFER_ETAG_MAX + 2];
	snprintf(weak, sizeof(weak), "W/%s", g_etag);
	CHECK_EQ_INT(eval(weak, NULL, NULL, NULL, &g_file, false), FAIL);
	/* Malformed: a change is refused, a read served. */
	CHECK_EQ_INT(eval("nonsense", NULL, NULL, NULL, &g_file, false), FAIL);
	CHECK_EQ_INT(eval("nonsense", NULL, NULL, NULL, &g_file, true), PASS);
	/* A folder has no tag: only "*". */
	CHECK_EQ_INT(eval("*", NULL, NULL, NULL, &g_dir, false), PASS);
	CHECK_EQ_INT(eval(g_etag, NULL, NULL, NULL, &g_dir, false), FAIL);
	/* If-Match decides alone: If-Unmodified-Since beside it is ignored. */
	CHECK_EQ_INT(eval(g_etag, NULL, BEFORE, NULL, &g_file, false), PASS);
}

static void test_if_unmodified_since(void)
{
	CHECK_EQ_INT(eval(NULL, NULL, AT, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, BEFORE, NULL, &g_file, false), FAIL);
	CHECK_EQ_INT(eval(NULL, NULL, BEFORE, NULL, &g_file, true), FAIL);
	/* Not a date, no date (a folder), nothing there: ignored. */
	CHECK_EQ_INT(eval(NULL, NULL, "yesterday", NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, BEFORE, NULL, &g_dir, false), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, BEFORE, NULL, NULL, false), PASS);
}

static void test_if_none_match(void)
{
	/* "*": create only. */
	CHECK_EQ_INT(eval(NULL, "*", NULL, NULL, NULL, false), PASS);
	CHECK_EQ_INT(eval(NULL, "*", NULL, NULL, &g_file, false), FAIL);
	CHECK_EQ_INT(eval(NULL, "*", NULL, NULL, &g_dir, false), FAIL);
	CHECK_EQ_INT(eval(NULL, "*", NULL, NULL, &g_file, true), N_M);
	/* A tag: 304 to a read, 412 to a change; weak comparison. */
	CHECK_EQ_INT(eval(NULL, g_etag, NULL, NULL, &g_file, true), N_M);
	CHECK_EQ_INT(eval(NULL, g_etag, NULL, NULL, &g_file, false), FAIL);
	char weak[XFER_ETAG_MAX + 2];
	snprintf(weak, sizeof(weak), "W/%s", g_etag);
	CHECK_EQ_INT(eval(NULL, weak, NULL, NULL, &g_file, true), N_M);
	CHECK_EQ_INT(eval(NULL, "\"other\"", NULL, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, g_etag, NULL, NULL, NULL, false), PASS);
	/* Malformed: a change refused, a read served whole. */
	CHECK_EQ_INT(eval(NULL, "*,*", NULL, NULL, NULL, false), FAIL);
	CHECK_EQ_INT(eval(NULL, "bare", NULL, NULL, &g_file, true), PASS);
	/* Checked after If-Match, which fails first. */
	CHECK_EQ_INT(eval("\"other\"", "\"other\"", NULL, NULL, &g_file, true), FAIL);
	CHECK_EQ_INT(eval(g_etag, g_etag, NULL, NULL, &g_file, true), N_M);
}

static void test_if_modified_since(void)
{
	CHECK_EQ_INT(eval(NULL, NULL, NULL, AT, &g_file, true), N_M);
	CHECK_EQ_INT(eval(NULL, NULL, NULL, BEFORE, &g_file, true), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, NULL, "garbage", &g_file, true), PASS);
	/* Not a change's, and below If-None-Match. */
	CHECK_EQ_INT(eval(NULL, NULL, NULL, AT, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, "\"other\"", NULL, AT, &g_file, true), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, NULL, AT, &g_dir, true), PASS);
}

/* Repeated field lines, as the HTTP drivers join them (RFC 9110 5.3: in
 * order, with ", " between): a list-based field's lines are one list;
 * "*" with any other line, even an empty one, is malformed; a date field
 * of two lines is a list of dates, no date, and ignored (RFC 9110 13.1.3,
 * 13.1.4). */
static void test_joined_lines(void)
{
	char list[3 * XFER_ETAG_MAX];
	/* If-Match: "stale" / If-Match: <tag>: it holds. */
	snprintf(list, sizeof(list), "\"stale\", %s", g_etag);
	CHECK_EQ_INT(eval(list, NULL, NULL, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, list, NULL, NULL, &g_file, true), N_M);
	CHECK_EQ_INT(eval(NULL, list, NULL, NULL, &g_file, false), FAIL);
	/* An empty line first or last is an empty element. */
	snprintf(list, sizeof(list), ", %s, ", g_etag);
	CHECK_EQ_INT(eval(list, NULL, NULL, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(", ", NULL, NULL, NULL, &g_file, false), FAIL); /* two empty lines: no tag */
	/* "*" is alone or malformed. */
	snprintf(list, sizeof(list), "*, %s", g_etag);
	CHECK_EQ_INT(eval(list, NULL, NULL, NULL, &g_file, false), FAIL);
	CHECK_EQ_INT(eval("*, ", NULL, NULL, NULL, &g_file, false), FAIL);
	CHECK_EQ_INT(eval(NULL, "*, *", NULL, NULL, NULL, false), FAIL);
	CHECK_EQ_INT(eval(NULL, "*, *", NULL, NULL, &g_file, true), PASS);
	/* Two dates, even the same one twice: ignored. */
	CHECK_EQ_INT(eval(NULL, NULL, BEFORE ", " BEFORE, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, BEFORE ", " AT, NULL, &g_file, false), PASS);
	CHECK_EQ_INT(eval(NULL, NULL, NULL, AT ", " AT, &g_file, true), PASS);
}

static void test_helpers(void)
{
	xfer_precond_in_t in;
	memset(&in, 0, sizeof(in));
	CHECK(!xfer_precond_any(&in) && !xfer_precond_create_only(&in));
	in.if_modified_since = S(AT);
	CHECK(!xfer_precond_any(&in)); /* a read's only */
	in.if_unmodified_since = S(AT);
	CHECK(xfer_precond_any(&in) && !xfer_precond_create_only(&in));
	in.if_none_match = S(" * ");
	CHECK(xfer_precond_create_only(&in));
	in.if_none_match = S("*, \"x\"");
	CHECK(!xfer_precond_create_only(&in));
	/* The copy owns its bytes: the request's may go. */
	char field[XFER_ETAG_MAX];
	snprintf(field, sizeof(field), "%s", g_etag);
	memset(&in, 0, sizeof(in));
	in.if_match = S(field);
	xfer_precond_t *c = xfer_precond_new(&in);
	CHECK(c != NULL);
	memset(field, 'x', strlen(field));
	CHECK(xfer_precond_holds(c, &g_file));
	CHECK(!xfer_precond_holds(c, NULL));
	xfer_precond_free(c);
	xfer_precond_free(NULL);
}

int main(void)
{
	memset(&g_file, 0, sizeof(g_file));
	g_file.st_mode = S_IFREG | 0644;
	g_file.st_ino = 42;
	g_file.st_size = 5;
	g_file.st_mtim.tv_sec = T0;
	g_file.st_mtime = T0;
	xfer_etag_make(&g_file, g_etag);
	g_dir = g_file;
	g_dir.st_mode = S_IFDIR | 0755;
	test_if_match();
	test_if_unmodified_since();
	test_if_none_match();
	test_if_modified_since();
	test_joined_lines();
	test_helpers();
	return check_report();
}
