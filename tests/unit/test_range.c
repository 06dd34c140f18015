/* Range header parser. */
#include "transfer/range.h"

#include "check.h"

#define SENTINEL UINT64_C(0xdeadbeef)

static uint64_t g_start, g_len;

static int rng(const char *v, uint64_t size)
{
	g_start = g_len = SENTINEL;
	return xfer_range_parse((wf_slice_t){ v, strlen(v) }, size, &g_start, &g_len);
}

static void check_ok(const char *v, uint64_t size, uint64_t start, uint64_t len)
{
	int rc = rng(v, size);
	if (rc != XFER_RANGE_OK || g_start != start || g_len != len)
		fprintf(stderr, "\"%s\" size %llu: rc %d start %llu len %llu\n", v, (unsigned long long)size, rc,
			(unsigned long long)g_start, (unsigned long long)g_len);
	CHECK_EQ_INT(rc, XFER_RANGE_OK);
	CHECK(g_start == start);
	CHECK(g_len == len);
}

static void check_rc(const char *v, uint64_t size, int want)
{
	int rc = rng(v, size);
	if (rc != want)
		fprintf(stderr, "\"%s\" size %llu: rc %d, want %d\n", v, (unsigned long long)size, rc, want);
	CHECK_EQ_INT(rc, want);
	/* Nothing is written unless the answer is OK. */
	CHECK(g_start == SENTINEL && g_len == SENTINEL);
}

static void test_ok(void)
{
	check_ok("bytes=0-499", 1000, 0, 500);
	check_ok("bytes=500-999", 1000, 500, 500);
	check_ok("bytes=500-", 1000, 500, 500);
	check_ok("bytes=-200", 1000, 800, 200);
	check_ok("bytes=-1000", 1000, 0, 1000);
	check_ok("bytes=-2000", 1000, 0, 1000);
	check_ok("bytes=0-0", 1000, 0, 1);
	check_ok("bytes=999-999", 1000, 999, 1);
	check_ok("bytes=999-", 1000, 999, 1);
	check_ok("bytes=0-", 1000, 0, 1000);
	check_ok("bytes=0-", 1, 0, 1);
	check_ok("bytes=-1", 1, 0, 1);
	check_ok("bytes=0-0", 1, 0, 1);
	check_ok("bytes=0007-0008", 1000, 7, 2);
	/* An end past the last byte is clipped. */
	check_ok("bytes=0-99999", 1000, 0, 1000);
	check_ok("bytes=10-1000", 1000, 10, 990);
	/* Positions too large for 64 bits saturate: still valid syntax. */
	check_ok("bytes=0-99999999999999999999999999", 1000, 0, 1000);
	check_ok("bytes=-99999999999999999999999999", 1000, 0, 1000);
	check_ok("bytes=0-18446744073709551615", 1000, 0, 1000);
	/* Large files. */
	check_ok("bytes=0-", UINT64_C(0x7fffffffffffffff), 0, UINT64_C(0x7fffffffffffffff));
	check_ok("bytes=4294967296-", UINT64_C(8589934592), UINT64_C(4294967296), UINT64_C(4294967296));
	/* Case of the unit, and whitespace around the element. */
	check_ok("Bytes=0-1", 10, 0, 2);
	check_ok("BYTES=0-1", 10, 0, 2);
	check_ok(" bytes=0-1 ", 10, 0, 2);
	check_ok("\tbytes=0-1\t", 10, 0, 2);
	check_ok("bytes= 0-1", 10, 0, 2);
	check_ok("bytes=\t-3", 10, 7, 3);
}

static void test_unsatisfiable(void)
{
	check_rc("bytes=-0", 1000, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=-000", 1000, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=1000-", 1000, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=1000-2000", 1000, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=5000-6000", 1000, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=99999999999999999999999-", 1000, XFER_RANGE_UNSATISFIABLE);
	/* Nothing of an empty file can be selected. */
	check_rc("bytes=0-", 0, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=0-0", 0, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=0-100", 0, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=-5", 0, XFER_RANGE_UNSATISFIABLE);
	check_rc("bytes=-0", 0, XFER_RANGE_UNSATISFIABLE);
}

static void test_ignore(void)
{
	static const char *bad[] = {
		"", " ", "bytes", "bytes=", "bytes= ", "bytes=-", "bytes=--5", "bytes=5", "bytes=a-b",
		"bytes=0-5x", "bytes=x0-5", "bytes=1-2-3", "bytes=0 -5", "bytes=0- 5", "bytes =0-5",
		"bytes= =0-5", "bytes:0-5", "bytes 0-5", "items=1-2", "byte=0-1", "bytesx=0-1",
		"bytes=5-2", "bytes=1-0", "bytes=0-1,5-6", "bytes=0-1, 5-6", "bytes=0-1,", "bytes=,0-1",
		"bytes=-1,-2", "bytes=+1-2", "bytes=0x1-2", "bytes=0-1;q", "bytes=0-\x01",
		"bytes=-5-", "bytes=- 5",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_rc(bad[i], 1000, XFER_RANGE_IGNORE);
	/* Invalid syntax is ignored even when the file is empty. */
	check_rc("bytes=5-2", 0, XFER_RANGE_IGNORE);
	check_rc("items=0-1", 0, XFER_RANGE_IGNORE);
	check_rc("bytes=0-1,2-3", 0, XFER_RANGE_IGNORE);
	/* A NUL is just a bad byte. */
	g_start = g_len = SENTINEL;
	CHECK_EQ_INT(xfer_range_parse((wf_slice_t){ "bytes=0\0-1", 10 }, 10, &g_start, &g_len),
		     XFER_RANGE_IGNORE);
	CHECK_EQ_INT(xfer_range_parse((wf_slice_t){ NULL, 0 }, 10, &g_start, &g_len), XFER_RANGE_IGNORE);
	CHECK(g_start == SENTINEL && g_len == SENTINEL);
}

int main(void)
{
	test_ok();
	test_unsatisfiable();
	test_ignore();
	return check_report();
}
