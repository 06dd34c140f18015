/* HTTP date formatting and parsing: see http_date.h. */
#include "http_date.h"

#include <stdio.h>
#include <string.h>

static const char wdays[7][4] = { "Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat" };
static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
				    "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };

void xfer_http_date_format(time_t t, char out[XFER_HTTP_DATE_LEN])
{
	struct tm tm;
	gmtime_r(&t, &tm);
	snprintf(out, XFER_HTTP_DATE_LEN, "%s, %02d %s %04d %02d:%02d:%02d GMT", wdays[tm.tm_wday % 7],
		 tm.tm_mday, months[tm.tm_mon % 12], tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

/* Reads exactly n digits. */
static int digits(const char **p, const char *end, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (*p >= end || **p < '0' || **p > '9')
			return WF_ERR;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return WF_OK;
}

static int lit(const char **p, const char *end, const char *s)
{
	size_t n = strlen(s);
	if ((size_t)(end - *p) < n || memcmp(*p, s, n) != 0)
		return WF_ERR;
	*p += n;
	return WF_OK;
}

static int month(const char **p, const char *end, int *out)
{
	for (int i = 0; i < 12; i++)
		if (lit(p, end, months[i]) == WF_OK) {
			*out = i;
			return WF_OK;
		}
	return WF_ERR;
}

static int clock_part(const char **p, const char *end, struct tm *tm)
{
	if (digits(p, end, 2, &tm->tm_hour) || lit(p, end, ":") || digits(p, end, 2, &tm->tm_min) ||
	    lit(p, end, ":") || digits(p, end, 2, &tm->tm_sec))
		return WF_ERR;
	return tm->tm_hour < 24 && tm->tm_min < 60 && tm->tm_sec <= 60 ? WF_OK : WF_ERR;
}

static int skip_day_name(const char **p, const char *end)
{
	static const char *const long_days[7] = { "Sunday", "Monday", "Tuesday", "Wednesday",
						  "Thursday", "Friday", "Saturday" };
	for (int i = 0; i < 7; i++)
		if (lit(p, end, long_days[i]) == WF_OK || lit(p, end, wdays[i]) == WF_OK)
			return WF_OK;
	return WF_ERR;
}

int xfer_http_date_parse(wf_slice_t s, time_t *out)
{
	const char *p = s.ptr, *end = s.ptr + s.len;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	if (skip_day_name(&p, end))
		return WF_ERR;
	if (lit(&p, end, ", ") == WF_OK) {
		if (end - p >= 3 && p[2] == ' ') {
			/* IMF-fixdate: "06 Nov 1994 08:49:37 GMT" */
			if (digits(&p, end, 2, &tm.tm_mday) || lit(&p, end, " ") || month(&p, end, &tm.tm_mon) ||
			    lit(&p, end, " ") || digits(&p, end, 4, &tm.tm_year) || lit(&p, end, " ") ||
			    clock_part(&p, end, &tm) || lit(&p, end, " GMT"))
				return WF_ERR;
			tm.tm_year -= 1900;
		} else {
			/* RFC 850: "06-Nov-94 08:49:37 GMT"; two-digit years below 70 are 20xx. */
			if (digits(&p, end, 2, &tm.tm_mday) || lit(&p, end, "-") || month(&p, end, &tm.tm_mon) ||
			    lit(&p, end, "-") || digits(&p, end, 2, &tm.tm_year) || lit(&p, end, " ") ||
			    clock_part(&p, end, &tm) || lit(&p, end, " GMT"))
				return WF_ERR;
			if (tm.tm_year < 70)
				tm.tm_year += 100;
		}
	} else {
		/* asctime: "Nov  6 08:49:37 1994" */
		if (lit(&p, end, " ") || month(&p, end, &tm.tm_mon) || lit(&p, end, " "))
			return WF_ERR;
		if (p < end && *p == ' ') {
			p++;
			if (digits(&p, end, 1, &tm.tm_mday))
				return WF_ERR;
		} else if (digits(&p, end, 2, &tm.tm_mday)) {
			return WF_ERR;
		}
		if (lit(&p, end, " ") || clock_part(&p, end, &tm) || lit(&p, end, " ") ||
		    digits(&p, end, 4, &tm.tm_year))
			return WF_ERR;
		tm.tm_year -= 1900;
	}
	if (p != end || tm.tm_mday < 1 || tm.tm_mday > 31)
		return WF_ERR;
	time_t t = timegm(&tm);
	if (t == (time_t)-1)
		return WF_ERR;
	*out = t;
	return WF_OK;
}
