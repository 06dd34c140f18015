/* What a log line may hold as it is: printable ASCII and UTF-8 text stay
 * readable; controls, separators, bidi overrides and broken UTF-8 do not. */
#include "server/log.h"

#include "check.h"

#include <string.h>

static size_t len_of(const char *s)
{
	return wf_log_char_len(s, strlen(s));
}

int main(void)
{
	/* Kept as they are. */
	CHECK_EQ_INT(len_of("a"), 1);
	CHECK_EQ_INT(len_of("~"), 1);
	CHECK_EQ_INT(len_of("\xc3\xa9t\xc3\xa9"), 2);        /* é */
	CHECK_EQ_INT(len_of("\xc2\xa0"), 2);                 /* U+00A0, the first after C1 */
	CHECK_EQ_INT(len_of("\xe6\x96\x87"), 3);             /* 文 */
	CHECK_EQ_INT(len_of("\xe2\x80\xa7"), 3);             /* U+2027, beside the separators */
	CHECK_EQ_INT(len_of("\xe2\x80\xaf"), 3);             /* U+202F, after the bidi block */
	CHECK_EQ_INT(len_of("\xf0\x9f\x93\x81"), 4);         /* 📁 */
	CHECK_EQ_INT(len_of("\xf4\x8f\xbf\xbf"), 4);         /* U+10FFFF */

	/* Escaped: controls of every kind. */
	CHECK_EQ_INT(len_of("\n"), 0);
	CHECK_EQ_INT(len_of("\r"), 0);
	CHECK_EQ_INT(len_of("\x1b[2J"), 0);
	CHECK_EQ_INT(len_of("\x7f"), 0);
	CHECK_EQ_INT(len_of("\xc2\x85"), 0);                 /* NEL: a new line to many readers */
	CHECK_EQ_INT(len_of("\xc2\x9b"), 0);                 /* CSI */
	CHECK_EQ_INT(len_of("\xe2\x80\xa8"), 0);             /* U+2028 */
	CHECK_EQ_INT(len_of("\xe2\x80\xa9"), 0);             /* U+2029 */
	CHECK_EQ_INT(len_of("\xe2\x80\xae"), 0);             /* U+202E, right-to-left override */
	CHECK_EQ_INT(len_of("\xe2\x81\xa6"), 0);             /* U+2066 */
	CHECK_EQ_INT(len_of("\xe2\x81\xa9"), 0);             /* U+2069 */

	/* Escaped: not UTF-8. */
	CHECK_EQ_INT(len_of("\x85"), 0);                     /* a lone continuation byte */
	CHECK_EQ_INT(len_of("\xc0\xaf"), 0);                 /* overlong '/' */
	CHECK_EQ_INT(len_of("\xe0\x80\xaf"), 0);             /* overlong, three bytes */
	CHECK_EQ_INT(len_of("\xed\xa0\x80"), 0);             /* a surrogate */
	CHECK_EQ_INT(len_of("\xf4\x90\x80\x80"), 0);         /* past U+10FFFF */
	CHECK_EQ_INT(len_of("\xf5\x80\x80\x80"), 0);
	CHECK_EQ_INT(len_of("\xc3("), 0);                    /* cut short by ASCII */
	CHECK_EQ_INT(wf_log_char_len("\xe6\x96\x87", 2), 0); /* cut short by the end */
	return check_report();
}
