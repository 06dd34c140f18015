/* FTP wildcard patterns (transfer/ftp_glob.h): the examples clients send
 * (*.txt, f?le[0-9].bin), classes with ranges and both negations, ']' and
 * '-' as members, quoting, an unclosed '[' and a trailing '\', UTF-8 and
 * stray bytes, the length cap, patterns that make a backtracking matcher
 * take exponential time, and a few thousand random pairs held to the slow
 * reference reading of the rules (tests/fuzz/glob_ref.h). */
#include "transfer/ftp_glob.h"

#include "../fuzz/glob_ref.h"
#include "check.h"

#include <time.h>

static wf_slice_t sl(const char *s)
{
	return (wf_slice_t){s, strlen(s)};
}

static bool m(const char *pat, const char *name)
{
	return xfer_ftp_glob_match(sl(pat), sl(name));
}

static bool magic(const char *pat)
{
	return xfer_ftp_glob_magic(sl(pat));
}

static void test_basics(void)
{
	CHECK(m("*.txt", "notes.txt"));
	CHECK(m("*.txt", ".txt"));
	CHECK(!m("*.txt", "notes.txt.bak"));
	CHECK(!m("*.txt", "notes.TXT")); /* names are bytes: case counts, as on the disk */
	CHECK(m("*", ""));
	CHECK(m("*", ".hidden")); /* the listing shows dot files, so '*' lists them */
	CHECK(m("", ""));
	CHECK(!m("", "a"));
	CHECK(m("f?le[0-9].bin", "file7.bin"));
	CHECK(m("f?le[0-9].bin", "fole0.bin"));
	CHECK(!m("f?le[0-9].bin", "file.bin"));
	CHECK(!m("f?le[0-9].bin", "fle7.bin"));
	CHECK(!m("f?le[0-9].bin", "filex.bin"));
	CHECK(m("a*b*c", "aXXbYYc"));
	CHECK(m("a*b*c", "abc"));
	CHECK(!m("a*b*c", "acb"));
	CHECK(m("*ab", "aab")); /* the '*' must give back what it took */
	CHECK(m("**a**", "a"));
	CHECK(!m("?", ""));
	CHECK(m("data", "data"));
	CHECK(!m("data", "dat"));
}

static void test_classes(void)
{
	CHECK(m("[abc]", "b"));
	CHECK(!m("[abc]", "d"));
	CHECK(m("[a-c]x", "bx"));
	CHECK(!m("[!a-c]x", "bx"));
	CHECK(m("[!a-c]x", "dx"));
	CHECK(m("[^a-c]x", "dx"));
	CHECK(!m("[^a-c]x", "ax"));
	CHECK(m("[]]", "]")); /* ']' first is a member */
	CHECK(m("[!]]", "x"));
	CHECK(!m("[!]]", "]"));
	CHECK(m("[a-]", "-"));	 /* '-' last is a member */
	CHECK(m("[-a]", "-"));	 /* and first */
	CHECK(!m("[z-a]", "m")); /* a reversed range holds nothing */
	CHECK(m("[\\]]", "]"));	 /* a quoted ']' inside */
	CHECK(m("[*?]", "*"));	 /* wildcards are members inside a class */
	CHECK(!m("[*?]", "a"));
	CHECK(m("[[]", "["));
}

static void test_odd_patterns(void)
{
	/* An unclosed '[' is a literal '[': the name "ab[" matches "ab[". */
	CHECK(m("ab[", "ab["));
	CHECK(!m("ab[", "ab"));
	CHECK(m("a[b", "a[b"));
	CHECK(m("[!", "[!"));
	CHECK(!magic("ab["));
	CHECK(!magic("[!]"));
	/* A trailing backslash stands for itself; one before a character quotes it. */
	CHECK(m("x\\", "x\\"));
	CHECK(!m("x\\", "x"));
	CHECK(m("\\*lit", "*lit"));
	CHECK(!m("\\*lit", "xlit"));
	CHECK(m("\\[a]", "[a]"));
	CHECK(!magic("\\*lit"));
	CHECK(!magic("plain.txt"));
	CHECK(magic("*.txt"));
	CHECK(magic("a?"));
	CHECK(magic("[ab]"));
	CHECK(magic("\\\\*")); /* a quoted backslash, then a wildcard */
	/* A NUL in a slice is a byte like any other: never the end. */
	CHECK(xfer_ftp_glob_match((wf_slice_t){"a\0*", 3}, (wf_slice_t){"a\0bc", 4}));
	CHECK(!xfer_ftp_glob_match((wf_slice_t){"a\0*", 3}, (wf_slice_t){"a", 1}));
}

static void test_utf8(void)
{
	CHECK(m("f?le", "f\xc3\xafle")); /* "fïle": '?' is one character */
	CHECK(!m("f??le", "f\xc3\xafle"));
	CHECK(m("[\xc3\xa0-\xc3\xbf]", "\xc3\xa9")); /* é in à..ÿ, as code points */
	CHECK(!m("[\xc3\xa0-\xc3\xbf]", "e"));
	CHECK(m("*\xe2\x82\xac", "price\xe2\x82\xac"));
	CHECK(m("a?b", "a\xff"
		       "b")); /* a stray byte is one character */
	CHECK(m("a??b", "a\xc3"
			"xb")); /* a cut sequence is bytes */
	CHECK(!m("a?b", "a\xc3"
			"xb"));
	CHECK(m("\xff", "\xff"));
	CHECK(!m("\xc3\xbf", "\xff")); /* U+00FF is not the byte 0xFF */
}

static void test_cap(void)
{
	char pat[XFER_FTP_GLOB_MAX + 2], name[XFER_FTP_GLOB_MAX + 2];
	memset(pat, 'a', sizeof(pat));
	memset(name, 'a', sizeof(name));
	pat[XFER_FTP_GLOB_MAX] = name[XFER_FTP_GLOB_MAX] = '\0';
	CHECK(m(pat, name));
	pat[XFER_FTP_GLOB_MAX] = name[XFER_FTP_GLOB_MAX] = 'a';
	pat[XFER_FTP_GLOB_MAX + 1] = name[XFER_FTP_GLOB_MAX + 1] = '\0';
	CHECK(!m(pat, name)); /* past the cap: nothing matches */
}

/* Patterns that take a recursive matcher exponential time: each must be
 * answered in well under a second, even 100000 times (a folder's worth). */
static void test_no_blowup(void)
{
	char pat[XFER_FTP_GLOB_MAX + 1], name[256];
	size_t k = 0;
	while (k + 2 < XFER_FTP_GLOB_MAX) {
		pat[k++] = '*';
		pat[k++] = 'a';
	}
	pat[k++] = 'b';
	pat[k] = '\0';
	memset(name, 'a', 255);
	name[255] = '\0';
	clock_t t0 = clock();
	bool any = false;
	for (int i = 0; i < 2000; i++)
		any |= m(pat, name);
	CHECK(!any);
	/* The two-pointer matcher's own worst case: one '*', then a long run
	 * that fails at its very end at each of the 128 places the '*' lets it
	 * start in the name. */
	pat[0] = '*';
	memset(pat + 1, 'a', 126);
	pat[127] = 'b';
	pat[128] = '\0';
	for (int i = 0; i < 2000; i++)
		any |= m(pat, name);
	double secs = (double)(clock() - t0) / CLOCKS_PER_SEC;
	CHECK(!any);
	printf("4000 worst-case matches: %.3f s\n", secs);
	CHECK(secs < 10.0);
}

static void test_random_against_reference(void)
{
	static const char alphabet[] = "ab*?[]!^-\\\xc3\xa9";
	unsigned seed = 12345;
	int disagreements = 0;
	for (int round = 0; round < 20000; round++) {
		char pat[12], name[12];
		size_t pn = (seed = seed * 1103515245 + 12345) >> 16 & 7;
		size_t sn = (seed = seed * 1103515245 + 12345) >> 16 & 7;
		for (size_t i = 0; i < pn; i++)
			pat[i] = alphabet[((seed = seed * 1103515245 + 12345) >> 16) % (sizeof(alphabet) - 1)];
		for (size_t i = 0; i < sn; i++)
			name[i] = "ab]-[\xc3\xa9*"[((seed = seed * 1103515245 + 12345) >> 16) % 8];
		bool got = xfer_ftp_glob_match((wf_slice_t){pat, pn}, (wf_slice_t){name, sn});
		if (got != ref_match(pat, pn, name, sn)) {
			if (disagreements++ < 5)
				fprintf(stderr, "disagree: pattern '%.*s' name '%.*s' -> %d\n", (int)pn, pat, (int)sn,
					name, got);
		}
	}
	CHECK_EQ_INT(disagreements, 0);
}

int main(void)
{
	test_basics();
	test_classes();
	test_odd_patterns();
	test_utf8();
	test_cap();
	test_no_blowup();
	test_random_against_reference();
	return check_report();
}
