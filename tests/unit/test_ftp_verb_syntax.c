/* HELP VERB's replies (transfer/ftp_cmd.h): every verb the server knows
 * has its syntax line, which starts with the verb's own name, and HELP's
 * argument finds each verb by its name in any case, and no verb for other
 * words. */
#include "transfer/ftp_cmd.h"

#include "check.h"

#include <ctype.h>

static wf_slice_t sl(const char *s)
{
	return (wf_slice_t){s, strlen(s)};
}

int main(void)
{
	for (int v = XFER_FTP_UNKNOWN + 1; v < XFER_FTP_VERB_COUNT; v++) {
		const char *name = xfer_ftp_verb_name((xfer_ftp_verb_t)v);
		const char *syntax = xfer_ftp_verb_syntax((xfer_ftp_verb_t)v); /* aborts when missing */
		size_t n = strlen(name);
		CHECK(strncmp(syntax, name, n) == 0 && (syntax[n] == '\0' || syntax[n] == ' '));
		CHECK(!strpbrk(syntax, "\r\n"));
		CHECK_EQ_INT(xfer_ftp_verb_of(sl(name)), v);
		char lower[5] = {0};
		for (size_t i = 0; i < n && i < 4; i++)
			lower[i] = (char)tolower((unsigned char)name[i]);
		CHECK_EQ_INT(xfer_ftp_verb_of(sl(lower)), v);
	}
	CHECK_EQ_STR(xfer_ftp_verb_syntax(XFER_FTP_RETR), "RETR <sp> pathname");
	CHECK_EQ_INT(xfer_ftp_verb_of(sl("FROB")), XFER_FTP_UNKNOWN);
	CHECK_EQ_INT(xfer_ftp_verb_of(sl("RETRX")), XFER_FTP_UNKNOWN);
	CHECK_EQ_INT(xfer_ftp_verb_of(sl("RE")), XFER_FTP_UNKNOWN);
	CHECK_EQ_INT(xfer_ftp_verb_of(sl("")), XFER_FTP_UNKNOWN);
	CHECK_EQ_INT(xfer_ftp_verb_of(sl("R1TR")), XFER_FTP_UNKNOWN);
	return check_report();
}
