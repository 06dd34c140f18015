/* FTP listings and OPTS MLST: the input gives an entry's stat fields, the
 * clock, the facts argument a client sends and the entry's name (a file's
 * name is anyone's who can upload). Every line written is one line, ends in
 * CRLF and ends with the name; a name with CR or LF writes nothing; a line
 * refused for its cap leaves the buffer as it was; the facts a client asks
 * for read back the same from their reply text. */
#include "transfer/ftp_list.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void fail(const char *what)
{
	fprintf(stderr, "invariant broken: %s\n", what);
	abort();
}

static uint64_t take(const uint8_t **p, size_t *n, size_t k)
{
	uint64_t v = 0;
	for (size_t i = 0; i < k && *n; i++, (*p)++, (*n)--)
		v = v << 8 | **p;
	return v;
}

/* The bytes written since from are one line ending in name and CRLF, or
 * nothing when the name cannot be listed (or the cap refused it). */
static void check_line(const wf_buf_t *b, size_t from, int rc, const char *name, const char *what)
{
	size_t n = wf_buf_size(b) - from, nl = strlen(name);
	const char *p = n ? wf_buf_head(b) + from : NULL; /* an empty buffer may have no memory yet */
	if (rc != WF_OK || !xfer_ftp_list_name_ok(name)) {
		if (n != 0)
			fail(what);
		return;
	}
	if (n < nl + 2 || memcmp(p + n - 2, "\r\n", 2) != 0 || memcmp(p + n - 2 - nl, name, nl) != 0)
		fail(what);
	if (memchr(p, '\r', n - 2) || memchr(p, '\n', n - 2))
		fail(what);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *p = data;
	size_t n = size;
	struct stat st;
	memset(&st, 0, sizeof(st));
	st.st_mode = (mode_t)take(&p, &n, 4);
	st.st_size = (off_t)take(&p, &n, 8);
	st.st_mtime = (time_t)take(&p, &n, 8);
	st.st_nlink = (nlink_t)take(&p, &n, 2);
	st.st_ino = (ino_t)take(&p, &n, 4);
	st.st_dev = (dev_t)take(&p, &n, 2);
	time_t now = (time_t)take(&p, &n, 8);
	unsigned flags = (unsigned)take(&p, &n, 1);
	size_t cap = 64 + (size_t)take(&p, &n, 1) * 8; /* a small cap now and then */

	/* The facts argument up to a NUL, the name after it. */
	const uint8_t *nul = memchr(p, 0, n);
	size_t alen = nul ? (size_t)(nul - p) : n;
	char *arg = malloc(alen + 1), *name = malloc(n - alen + 1);
	if (!arg || !name)
		abort();
	memcpy(arg, p, alen);
	arg[alen] = '\0';
	size_t nlen = nul ? n - alen - 1 : 0;
	memcpy(name, nul ? nul + 1 : p, nlen);
	name[nlen] = '\0'; /* a name ends at its first NUL, as the file system's */

	unsigned facts = xfer_ftp_mlst_facts_parse(arg);
	if (facts & ~(unsigned)XFER_MLST_ALL)
		fail("facts outside the known ones");
	char text[128], feat[128];
	xfer_ftp_mlst_facts_text(facts, text, sizeof(text));
	if (xfer_ftp_mlst_facts_parse(text) != facts)
		fail("facts do not read back from their reply text");
	xfer_ftp_mlst_facts_text(facts, text, 1 + flags % 16);
	if (memchr(text, '\0', 1 + flags % 16) == NULL)
		fail("facts text not terminated");
	xfer_ftp_mlst_feat(facts, feat, sizeof(feat));
	if (strncmp(feat, "MLST ", 5) != 0 || strpbrk(feat, "\r\n"))
		fail("FEAT line");
	char mdtm[16];
	xfer_ftp_mdtm(st.st_mtime, mdtm);
	if (strlen(mdtm) != 14 || strspn(mdtm, "0123456789") != 14)
		fail("MDTM is not 14 digits");

	wf_buf_t b;
	wf_buf_init(&b, cap);
	size_t from = wf_buf_size(&b);
	check_line(&b, from, xfer_ftp_list_line(&b, name, &st, now), name, "LIST line");
	from = wf_buf_size(&b);
	check_line(&b, from, xfer_ftp_nlst_line(&b, name), name, "NLST line");
	xfer_ftp_perms_t perms = { flags & 1, flags & 2, flags & 4, flags & 8 };
	from = wf_buf_size(&b);
	check_line(&b, from,
		   xfer_ftp_mlsx_line(&b, name, &st, facts, (flags & 16) ? &perms : NULL, flags & 32, flags & 64),
		   name, "MLSD line");
	xfer_ftp_list_style_t style = { (xfer_ftp_list_kind_t)(flags % 3), facts, perms, now };
	from = wf_buf_size(&b);
	check_line(&b, from, xfer_ftp_list_entry(&b, &style, name, &st), name, "listing entry");
	wf_buf_fini(&b);
	free(arg);
	free(name);
	return 0;
}
