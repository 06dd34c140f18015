/* The upload form of HTML listings: which parts a page gets for which
 * tools, none for 0 (and none in JSON), the page's measured size equal to
 * its bytes read out in pieces with the form too, the CSP naming the
 * script's SHA-256, and the base64 encoder that spells it (RFC 4648's
 * vectors). */
#include "transfer/listing_job.h"
#include "server/base64.h"

#include "check.h"

#include <fcntl.h>
#include <gnutls/crypto.h>
#include <limits.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static void check_base64(void)
{
	static const char *const vec[][2] = { { "", "" },         { "f", "Zg==" },     { "fo", "Zm8=" },
					      { "foo", "Zm9v" },  { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" },
					      { "foobar", "Zm9vYmFy" } };
	char out[16];
	for (size_t i = 0; i < WF_ARRAY_LEN(vec); i++) {
		size_t n = strlen(vec[i][1]);
		CHECK_EQ_INT(wf_base64_encode(vec[i][0], strlen(vec[i][0]), out, n + 1), (ssize_t)n);
		CHECK_EQ_STR(out, vec[i][1]);
		CHECK_EQ_INT(wf_base64_encode(vec[i][0], strlen(vec[i][0]), out, n), -1); /* no room for the NUL */
	}
	unsigned char hi[3] = { 0xfb, 0xff, 0xbf };
	CHECK_EQ_INT(wf_base64_encode(hi, 3, out, sizeof(out)), 4);
	CHECK_EQ_STR(out, "+/+/");
}

static char *form_of(unsigned tools)
{
	wf_buf_t b;
	wf_buf_init(&b, 1 << 16);
	CHECK_EQ_INT(xfer_listing_form_append(&b, tools), WF_OK);
	char *s = strndup(wf_buf_size(&b) ? wf_buf_head(&b) : "", wf_buf_size(&b));
	wf_buf_fini(&b);
	return s;
}

static void check_parts(void)
{
	char *none = form_of(0), *up = form_of(XFER_LISTING_UPLOAD), *mk = form_of(XFER_LISTING_MKDIR),
	     *both = form_of(XFER_LISTING_UPLOAD | XFER_LISTING_MKDIR);
	CHECK_EQ_STR(none, "");
	/* The markup before the script (which names every part). */
	*strstr(up, "<script>") = *strstr(mk, "<script>") = *strstr(both, "<script>") = '\0';
	CHECK(strstr(up, "type=\"file\" id=\"wf-files\" multiple") && strstr(up, ">Upload</button>"));
	CHECK(!strstr(up, "wf-mkdir"));
	CHECK(strstr(mk, "id=\"wf-mkdir\">New folder</button>") && !strstr(mk, "wf-files"));
	CHECK(strstr(both, "wf-files") && strstr(both, "wf-mkdir"));
	free(both);
	both = form_of(XFER_LISTING_UPLOAD | XFER_LISTING_MKDIR);
	/* One script, the constant one, whole. */
	const char *s = strstr(both, "<script>");
	CHECK(s && strncmp(s + 8, xfer_listing_form_script, strlen(xfer_listing_form_script)) == 0 &&
	      strcmp(s + 8 + strlen(xfer_listing_form_script), "</script>\n") == 0);
	CHECK(!strstr(xfer_listing_form_script, "</") && !strstr(xfer_listing_form_script, "<!--"));
	/* No <form>: nothing is ever submitted (the CSP has no form-action). */
	CHECK(!strstr(both, "<form"));
	free(none);
	free(up);
	free(mk);
	free(both);
}

static void check_csp(void)
{
	unsigned char digest[32];
	char b64[45], want[256];
	CHECK_EQ_INT(xfer_listing_form_init(), WF_OK);
	CHECK_EQ_INT(gnutls_hash_fast(GNUTLS_DIG_SHA256, xfer_listing_form_script, strlen(xfer_listing_form_script),
				      digest),
		     0);
	CHECK_EQ_INT(wf_base64_encode(digest, sizeof(digest), b64, sizeof(b64)), 44);
	snprintf(want, sizeof(want),
		 "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-%s'; connect-src 'self'", b64);
	CHECK_EQ_STR(xfer_listing_form_csp(), want);
	CHECK(!strstr(xfer_listing_form_csp(), "script-src 'unsafe-inline'"));
}

/* The job's page with tools: its measured size is its bytes, the same as
 * xfer_listing_render's; the form sits before the table; JSON has none. */
static void check_page(int dir, unsigned tools)
{
	wf_buf_t want;
	wf_buf_init(&want, 1 << 20);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/d/", XFER_LISTING_HTML, tools, &want), WF_OK);
	char *page = strndup(wf_buf_head(&want), wf_buf_size(&want));
	CHECK(strstr(page, "<script>") ? tools && strstr(page, "<script>") < strstr(page, "<table>") : !tools);

	xfer_fs_job_t *j = xfer_listing_job(dup(dir), -1, "/d/", XFER_LISTING_HTML, tools, &(xfer_listing_hold_t){ 0 });
	CHECK_EQ_INT(xfer_fs_job_start(j, NULL, NULL, NULL), WF_DONE);
	xfer_listing_t *l = xfer_listing_job_take(j);
	xfer_fs_job_free(j);
	CHECK(l && xfer_listing_size(l) == wf_buf_size(&want));
	char got[1 << 16];
	size_t len = 0;
	ssize_t n;
	while (l && len < sizeof(got) && (n = xfer_listing_read(l, got + len, 7)) > 0)
		len += (size_t)n;
	CHECK(len == wf_buf_size(&want) && memcmp(got, wf_buf_head(&want), len) == 0);
	xfer_listing_free(l);

	wf_buf_t json;
	wf_buf_init(&json, 1 << 20);
	CHECK_EQ_INT(xfer_listing_render(dir, -1, "/d/", XFER_LISTING_JSON, tools, &json), WF_OK);
	char *js = strndup(wf_buf_head(&json), wf_buf_size(&json));
	CHECK(!strstr(js, "script") && !strstr(js, "wf-"));
	free(js);
	free(page);
	wf_buf_fini(&json);
	wf_buf_fini(&want);
}

int main(void)
{
	char root[] = "/tmp/wharf-listing-form-XXXXXX", p[PATH_MAX];
	check_base64();
	check_parts();
	check_csp();
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		return 2;
	}
	snprintf(p, sizeof(p), "%s/a.txt", root);
	close(open(p, O_WRONLY | O_CREAT | O_CLOEXEC, 0644));
	snprintf(p, sizeof(p), "%s/sub", root);
	mkdir(p, 0755);
	int dir = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	CHECK(dir >= 0);
	for (unsigned t = 0; t < 4; t++)
		check_page(dir, t);
	close(dir);
	snprintf(p, sizeof(p), "rm -rf '%s'", root);
	if (system(p) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_report();
}
