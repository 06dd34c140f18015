/* Config loading: walks the key table over a libconfig tree, then checks what
 * one key alone cannot (references between sections, duplicates, folders). */
#include "config.h"
#include "passwd.h"
#include "san.h"
#include "cert_store.h"
#include "config_keys.h"
#include "durable.h"
#include "state_dir.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <gnutls/x509.h>
#include <libconfig.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <stdarg.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct load_ctx {
	const char *file;   /* the config file as the admin named it */
	const char *real;   /* its real path, as libconfig names it; NULL until known */
	const char *dir;    /* the folder @include names are read from; NULL until known */
	wf_config_t *cfg;   /* borrowed: the config being loaded, which keeps the entries' sources */
	const char *webroot; /* cert obtain --webroot: answers HTTP-01 as acme.webroot would; NULL: none */
	wf_buf_t *errors;
	int nerrors;
	int left_out; /* problems past the errors buffer's cap, counted, not kept */
} load_ctx_t;

/* Room kept free at the end of the errors buffer: the line that counts the
 * problems left out, and the NUL that ends the text. */
static size_t tail_room(const load_ctx_t *ctx)
{
	return strlen(ctx->file) + 64;
}

static char *path_tidy(const char *abs);

/* The path of a file libconfig read: an @include names it as written,
 * relative to ctx->dir (config_set_include_dir; an absolute name was
 * written as one, climbing from there: read_config_text), tidied. NULL if
 * it does not fit. */
static const char *source_path(const load_ctx_t *ctx, const char *file, char *buf, size_t cap)
{
	if (file[0] == '/' || !ctx->dir)
		return file;
	int n = snprintf(buf, cap, "%s%s%s", ctx->dir, strcmp(ctx->dir, "/") != 0 ? "/" : "", file);
	if (n < 0 || (size_t)n >= cap)
		return NULL;
	char *tidy = path_tidy(buf); /* ctx->dir is a real path: its ".." are what the kernel makes of them */
	if (tidy) {
		snprintf(buf, cap, "%s", tidy);
		free(tidy);
	}
	return buf;
}

/* One problem at line of file (the config file when NULL; line 0: none). */
WF_PRINTF(4, 0)
static void vproblem(load_ctx_t *ctx, const char *file, int line, const char *fmt, va_list ap)
{
	ctx->nerrors++;
	char where[PATH_MAX];
	if (!file || (ctx->real && strcmp(file, ctx->real) == 0))
		file = ctx->file;
	else if (!(file = source_path(ctx, file, where, sizeof(where))))
		file = ctx->file;
	wf_buf_t one;
	wf_buf_init(&one, ctx->errors->max);
	int rc = line > 0 ? wf_buf_printf(&one, "%s:%d: ", file, line) : wf_buf_printf(&one, "%s: ", file);
	if (rc == WF_OK)
		rc = wf_buf_vprintf(&one, fmt, ap);
	if (rc == WF_OK)
		rc = wf_buf_append_str(&one, "\n");
	/* Once one line is left out, every later one is too: the text stays in order. */
	size_t used = wf_buf_size(ctx->errors), max = ctx->errors->max, need = wf_buf_size(&one) + tail_room(ctx);
	if (rc != WF_OK || ctx->left_out || need > max || used > max - need ||
	    wf_buf_append(ctx->errors, wf_buf_head(&one), wf_buf_size(&one)) != WF_OK)
		ctx->left_out++;
	wf_buf_fini(&one);
}

WF_PRINTF(4, 5)
static void problem_in(load_ctx_t *ctx, const char *file, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vproblem(ctx, file, line, fmt, ap);
	va_end(ap);
}

WF_PRINTF(3, 4)
static void problem(load_ctx_t *ctx, int line, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vproblem(ctx, NULL, line, fmt, ap);
	va_end(ap);
}

#define CONFIG_TEXT_MAX (16 << 20)

/* The config file's text for libconfig, as config_read_file would take
 * it, but for one thing: libconfig 1.5 puts include_dir before every
 * @include name, absolute ones too, so "/etc/wharf/users.conf" is written
 * as the same file reached from dir ("../../etc/wharf/users.conf" from
 * /srv/conf), on its own line so every line number stays. NULL with errno
 * (EFBIG past CONFIG_TEXT_MAX). */
static char *read_config_text(const char *real, const char *dir)
{
	wf_buf_t in, out;
	wf_buf_init(&in, CONFIG_TEXT_MAX);
	int rc = wf_durable_read(AT_FDCWD, real, CONFIG_TEXT_MAX, &in); /* errno EFBIG past the cap */
	if (rc != WF_OK) {
		int saved = errno;
		wf_buf_fini(&in);
		errno = saved;
		return NULL;
	}
	size_t depth = 0; /* folders from / down to dir */
	for (const char *p = dir; *p; p++)
		depth += p[0] == '/' && p[1] && p[1] != '/';
	wf_buf_init(&out, (size_t)CONFIG_TEXT_MAX + 64 * 1024);
	const char *p = wf_buf_head(&in), *end = wf_buf_size(&in) ? p + wf_buf_size(&in) : p;
	rc = WF_OK;
	while (p < end && rc == WF_OK) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *eol = nl ? nl + 1 : end, *q = p;
		while (q < eol && (*q == ' ' || *q == '\t'))
			q++;
		size_t kw = strlen("@include");
		const char *name = NULL;
		if ((size_t)(eol - q) > kw && memcmp(q, "@include", kw) == 0 && (q[kw] == ' ' || q[kw] == '\t')) {
			q += kw;
			while (q < eol && (*q == ' ' || *q == '\t'))
				q++;
			if (q + 1 < eol && q[0] == '"' && q[1] == '/')
				name = q + 1;
		}
		if (name) {
			rc = wf_buf_append(&out, p, (size_t)(name - p));
			for (size_t i = 0; i < depth && rc == WF_OK; i++)
				rc = wf_buf_append(&out, "../", 3);
			if (rc == WF_OK)
				rc = wf_buf_append(&out, name + 1, (size_t)(eol - name - 1));
		} else {
			rc = wf_buf_append(&out, p, (size_t)(eol - p));
		}
		p = eol;
	}
	wf_buf_fini(&in);
	char *text = rc == WF_OK ? malloc(wf_buf_size(&out) + 1) : NULL;
	if (text) {
		if (wf_buf_size(&out)) /* an empty file has no buffer at all */
			memcpy(text, wf_buf_head(&out), wf_buf_size(&out));
		text[wf_buf_size(&out)] = '\0';
	}
	wf_buf_fini(&out);
	if (!text)
		errno = ENOMEM;
	return text;
}

/* Where setting s is written, for checks made after parsing (a user
 * defined twice): an @include'd file's path is kept by the config. */
static wf_config_at_t at_of(load_ctx_t *ctx, const config_setting_t *s)
{
	wf_config_at_t at = { NULL, config_setting_source_line(s) };
	const char *file = config_setting_source_file(s);
	char buf[PATH_MAX];
	if (!file || (ctx->real && strcmp(file, ctx->real) == 0) || !(file = source_path(ctx, file, buf, sizeof(buf))))
		return at;
	wf_config_t *cfg = ctx->cfg;
	for (size_t i = 0; i < cfg->nsources; i++)
		if (strcmp(cfg->sources[i], file) == 0) {
			at.file = cfg->sources[i];
			return at;
		}
	char **more = realloc(cfg->sources, (cfg->nsources + 1) * sizeof(*more));
	if (more)
		cfg->sources = more;
	char *copy = more ? strdup(file) : NULL;
	if (copy)
		cfg->sources[cfg->nsources++] = copy;
	at.file = copy; /* NULL (no memory): named as the config file, as before @include */
	return at;
}

/* Every @include'd file that holds a setting joins cfg->sources, not only
 * those of list entries: a reload reads them all again, and the start says
 * when the run user could not (server/privdrop.h). */
static void note_sources(load_ctx_t *ctx, const config_setting_t *s)
{
	at_of(ctx, s);
	if (!config_setting_is_aggregate(s))
		return;
	for (int i = 0, n = config_setting_length(s); i < n; i++)
		note_sources(ctx, config_setting_get_elem(s, (unsigned)i));
}

/* Keys whose problems are found after parsing, in checks across keys or
 * as the server will run (server/privdrop.h): where each is written. */
static const struct {
	const char *path;
	size_t at;
} key_ats[] = {
	{ "state_dir", offsetof(wf_config_t, at.state_dir) },
	{ "run_user", offsetof(wf_config_t, at.run_user) },
	{ "log.error_log", offsetof(wf_config_t, at.error_log) },
	{ "log.access_log", offsetof(wf_config_t, at.access_log) },
	{ "acme.webroot", offsetof(wf_config_t, at.webroot) },
};

static void note_key_ats(load_ctx_t *ctx, const config_t *lc)
{
	for (size_t i = 0; i < sizeof(key_ats) / sizeof(key_ats[0]); i++) {
		config_setting_t *s = config_lookup(lc, key_ats[i].path);
		if (s)
			*(wf_config_at_t *)((char *)ctx->cfg + key_ats[i].at) = at_of(ctx, s);
	}
}

/* A problem with the entry written at at. */
WF_PRINTF(3, 4)
static void problem_of(load_ctx_t *ctx, wf_config_at_t at, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vproblem(ctx, at.file, at.line, fmt, ap);
	va_end(ap);
}

/* Where an earlier entry is, as a problem with a later one names it: its
 * line, and its file when that is another. */
static const char *at_text(wf_config_at_t first, wf_config_at_t later, char *buf, size_t cap)
{
	bool same = first.file == later.file;
	snprintf(buf, cap, "%s%s%d", same ? "line " : first.file ? first.file : "the config file",
		 same ? "" : ":", first.line);
	return buf;
}

/* Line number line (from 1) of the file at path, without its end, into
 * out; false when the file has fewer lines (or cannot be read). */
static bool file_line(const char *path, int line, char *out, size_t cap)
{
	FILE *f = fopen(path, "r");
	char *row = NULL;
	size_t rowcap = 0;
	bool found = false;
	for (int n = 1; f && !found && getline(&row, &rowcap, f) >= 0; n++)
		if (n == line) {
			snprintf(out, cap, "%s", row);
			out[strcspn(out, "\r\n")] = '\0';
			found = true;
		}
	free(row);
	if (f)
		fclose(f);
	return found;
}

/* The name an @include line gives, into out; false when the line is none. */
static bool include_name(const char *text, char *out, size_t cap)
{
	const char *p = text + strspn(text, " \t");
	if (strncmp(p, "@include", 8) != 0)
		return false;
	p += 8;
	p += strspn(p, " \t");
	const char *end = *p == '"' ? strchr(p + 1, '"') : NULL;
	if (!end)
		return false;
	snprintf(out, cap, "%.*s", (int)(end - p - 1), p + 1);
	return true;
}

/* Where the text of the file at path leaves a list, array or group open:
 * the line of the innermost opener never closed, or 0. Strings and
 * comments are skipped as libconfig skips them; @include'd files are
 * followed (depth: how deep), as libconfig reads them in place, so an
 * opener closed by the including file is not blamed. *where gets the path
 * of the file that holds it (buf: room for one). */
static int open_at_end(load_ctx_t *ctx, const char *path, int depth, char *buf, size_t cap, const char **where)
{
	FILE *f = fopen(path, "r");
	if (!f)
		return 0;
	int lines[64], nopen = 0, line = 1;
	bool in_string = false, block = false;
	char *row = NULL;
	size_t rowcap = 0;
	ssize_t len;
	while ((len = getline(&row, &rowcap, f)) >= 0) {
		char name[PATH_MAX];
		if (!in_string && !block && depth < 10 && include_name(row, name, sizeof(name))) {
			char sub[PATH_MAX];
			const char *subpath = name[0] == '/' ? name : source_path(ctx, name, sub, sizeof(sub));
			int at = subpath ? open_at_end(ctx, subpath, depth + 1, buf, cap, where) : 0;
			if (at) {
				free(row);
				fclose(f);
				return at;
			}
		} else {
			for (ssize_t i = 0; i < len; i++) {
				char c = row[i];
				if (block) {
					if (c == '*' && row[i + 1] == '/')
						block = false, i++;
				} else if (in_string) {
					if (c == '\\')
						i++;
					else if (c == '"')
						in_string = false;
				} else if (c == '"') {
					in_string = true;
				} else if (c == '#' || (c == '/' && row[i + 1] == '/')) {
					break;
				} else if (c == '/' && row[i + 1] == '*') {
					block = true, i++;
				} else if (c == '(' || c == '[' || c == '{') {
					if (nopen < 64)
						lines[nopen] = line;
					nopen++;
				} else if ((c == ')' || c == ']' || c == '}') && nopen > 0) {
					nopen--;
				}
			}
		}
		line++;
	}
	free(row);
	fclose(f);
	if (nopen <= 0)
		return 0;
	snprintf(buf, cap, "%s", path);
	*where = buf;
	return lines[nopen <= 64 ? nopen - 1 : 63];
}

/* libconfig's syntax error, in the file it was found in: an @include'd
 * one, or one that cannot be read, is named as such, with why. */
static void syntax_problem(load_ctx_t *ctx, const config_t *lc)
{
	const char *text = config_error_text(lc), *file = config_error_file(lc);
	int line = config_error_line(lc);
	char buf[PATH_MAX], row[1024], name[PATH_MAX];
	/* The file libconfig names, as it is on disk (its @include names as written). */
	const char *path = file && !(ctx->real && strcmp(file, ctx->real) == 0) ? source_path(ctx, file, buf, sizeof(buf)) :
										      ctx->real;
	if (strcmp(text, "cannot open include file") == 0 && path && file_line(path, line, row, sizeof(row)) &&
	    include_name(row, name, sizeof(name))) {
		/* libconfig names neither the file nor why */
		char full[PATH_MAX];
		bool nested = path != ctx->real;
		if (nested && name[0] == '/') {
			problem_in(ctx, file, line,
				   "@include \"%s\": an @include'd file's own @include takes a name relative to %s, not an "
				   "absolute one (libconfig 1.5 puts that folder before it); write it relative to %s, or "
				   "@include it from the config file",
				   name, ctx->dir, ctx->dir);
			return;
		}
		const char *target = name[0] == '/' ? name : source_path(ctx, name, full, sizeof(full));
		FILE *f = target ? fopen(target, "r") : NULL;
		const char *why = f ? NULL : strerror(errno);
		if (f)
			fclose(f);
		if (why) {
			problem_in(ctx, file, line, "cannot read %s, which this @include names: %s%s%s%s", target, why,
				   name[0] == '/' ? "" : " (a relative name is taken from ", name[0] == '/' ? "" : ctx->dir,
				   name[0] == '/' ? "" : ")");
			return;
		}
	}
	if (strcmp(text, "cannot open include file") == 0) {
		problem_in(ctx, file, line, "cannot read the file this @include names (a relative name is taken from %s)",
			   ctx->dir);
		return;
	}
	/* At the end of the input, libconfig names the line after the config
	 * file's last, wherever the list left open is: name the opener. */
	const char *where = NULL;
	int open_line = path && !file_line(path, line, row, sizeof(row)) ?
				open_at_end(ctx, ctx->real, 0, buf, sizeof(buf), &where) :
				0;
	if (open_line) {
		problem_in(ctx, where, open_line,
			   "syntax error: the list, array or group opened on this line is not closed before the file ends");
		return;
	}
	if (strcmp(text, "syntax error") == 0)
		problem_in(ctx, file, line, "syntax error");
	else
		problem_in(ctx, file, line, "syntax error: %s", text);
}

/* A problem with setting s, named by its own file and line: an @include'd
 * file's line under the main file's name would point at the wrong line. */
WF_PRINTF(3, 4)
static void problem_at(load_ctx_t *ctx, const config_setting_t *s, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vproblem(ctx, config_setting_source_file(s), config_setting_source_line(s), fmt, ap);
	va_end(ap);
}

/* Ends the problems: a line for those left out, then a NUL (not counted in
 * the size), in the room problem() kept for them. */
static void problems_end(load_ctx_t *ctx)
{
	if (ctx->left_out)
		wf_buf_printf(ctx->errors, "%s: %d more problem%s left out\n", ctx->file, ctx->left_out,
			      ctx->left_out == 1 ? "" : "s");
	char *nul = wf_buf_reserve(ctx->errors, 1);
	if (nul)
		*nul = '\0';
}

static const char *type_word(wf_key_type_t t)
{
	switch (t) {
	case WF_KEY_INT:
		return "an integer";
	case WF_KEY_SIZE:
		return "a size (integer bytes, or a string like \"512K\", \"10M\", \"2G\")";
	case WF_KEY_BOOL:
		return "true or false";
	case WF_KEY_STRING:
		return "a string";
	case WF_KEY_STRLIST:
		return "an array of strings [\"a\", \"b\"]";
	case WF_KEY_GROUP:
		return "a group { ... }";
	case WF_KEY_LIST:
		return "a list of groups ( { ... }, { ... } )";
	}
	return "?";
}

static int parse_size(const char *s, int64_t *out)
{
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || end == s || v < 0)
		return WF_ERR;
	int64_t mul = 1;
	switch (*end) {
	case '\0':
		break;
	case 'K': case 'k':
		mul = 1LL << 10;
		end++;
		break;
	case 'M': case 'm':
		mul = 1LL << 20;
		end++;
		break;
	case 'G': case 'g':
		mul = 1LL << 30;
		end++;
		break;
	case 'T': case 't':
		mul = 1LL << 40;
		end++;
		break;
	default:
		return WF_ERR;
	}
	if (*end || v > INT64_MAX / mul)
		return WF_ERR;
	*out = v * mul;
	return WF_OK;
}

/* libconfig 1.5 reads an integer literal without an L suffix into 32 bits
 * and says nothing: 4294968320 comes back as 1024. So the literal of such a
 * setting is read again from its file, where libconfig says the setting
 * starts: its name, '=' or ':', then the number, one whose low 32 bits are
 * what libconfig kept (a line may hold other settings of that name: ports
 * of services written on one line). The first such number from the
 * setting's line on is taken (the name, '=' and number may stand on lines
 * of their own), with any other on its line: a later line's setting of the
 * same name is another setting. WF_OK with the number; WF_ERR when it is
 * past 64 bits; WF_AGAIN when two such numbers on that line differ;
 * WF_DECLINED when none is found (libconfig's value stands). */
static int int_literal(const load_ctx_t *ctx, config_setting_t *s, int64_t *out)
{
	const char *file = config_setting_source_file(s), *name = config_setting_name(s);
	int line = config_setting_source_line(s);
	int32_t kept = (int32_t)config_setting_get_int(s);
	char buf[PATH_MAX];
	const char *path = file ? source_path(ctx, file, buf, sizeof(buf)) : ctx->real; /* NULL: the config file */
	FILE *f = path && name && line > 0 ? fopen(path, "r") : NULL;
	if (!f)
		return WF_DECLINED;
	/* From the setting's line on, a few lines: enough for its name, '='
	 * and the number. getline: a line of any length counts as one (a long
	 * domains list before the setting must not shift the count). */
	char text[4096], *row = NULL;
	size_t len = 0, cap = 0;
	text[0] = '\0';
	for (int n = 1; n < line + 4 && len + 1 < sizeof(text) && getline(&row, &cap, f) >= 0; n++)
		if (n >= line) {
			size_t add = strlen(row);
			if (add > sizeof(text) - 1 - len)
				add = sizeof(text) - 1 - len;
			memcpy(text + len, row, add);
			text[len += add] = '\0';
		}
	free(row);
	fclose(f);
	size_t nlen = strlen(name);
	int rc = WF_DECLINED;
	const char *line_end = NULL; /* of the line the first number found is on */
	for (const char *p = strstr(text, name); p && (!line_end || p < line_end); p = strstr(p + 1, name)) {
		char before = p == text ? ' ' : p[-1];
		if (before == '_' || before == '-' || before == '*' || (before >= '0' && before <= '9') ||
		    ((before | 0x20) >= 'a' && (before | 0x20) <= 'z'))
			continue;
		const char *v = p + nlen + strspn(p + nlen, " \t\r\n");
		if (*v != '=' && *v != ':')
			continue;
		v++;
		v += strspn(v, " \t\r\n");
		const char *digits = v + (*v == '-' || *v == '+');
		int base = digits[0] == '0' && (digits[1] | 0x20) == 'x' ? 16 : 10;
		char *end;
		errno = 0;
		long long num = strtoll(v, &end, base);
		if (end == v || (int32_t)(uint32_t)(unsigned long long)num != kept)
			continue;
		if (errno == ERANGE)
			return WF_ERR;
		if (rc == WF_OK && num != *out)
			return WF_AGAIN;
		*out = num;
		rc = WF_OK;
		if (!line_end) {
			line_end = strchr(end, '\n');
			if (!line_end)
				line_end = text + len;
		}
	}
	return rc;
}

/* An integer setting's value, whole: with an L suffix libconfig keeps 64
 * bits; without one, past 32 bits, the literal in the file is taken. */
static int setting_int64(load_ctx_t *ctx, config_setting_t *s, const char *path, const wf_key_t *k, int64_t *out)
{
	*out = config_setting_get_int64(s);
	if (config_setting_type(s) != CONFIG_TYPE_INT)
		return WF_OK;
	int64_t lit = 0;
	switch (int_literal(ctx, s, &lit)) {
	case WF_OK:
		*out = lit;
		return WF_OK;
	case WF_ERR:
		problem_at(ctx, s, "'%s%s' is past what 64 bits hold", path, k->name);
		return WF_ERR;
	case WF_AGAIN:
		problem_at(ctx, s,
			"'%s%s': cannot tell its number from another of that name on the line past 32 bits; give it "
			"a line of its own, or an L suffix",
			path, k->name);
		return WF_ERR;
	default:
		return WF_OK;
	}
}

static int in_choices(const char *const *choices, const char *s)
{
	if (!choices)
		return 1;
	for (; *choices; choices++)
		if (strcmp(*choices, s) == 0)
			return 1;
	return 0;
}

static void choices_text(const char *const *choices, char *out, size_t cap)
{
	out[0] = '\0';
	for (; *choices; choices++) {
		/* An empty choice (a feature left off) reads as "" rather than vanish between commas. */
		strncat(out, (*choices)[0] ? *choices : "\"\"", cap - strlen(out) - 1);
		if (choices[1])
			strncat(out, ", ", cap - strlen(out) - 1);
	}
}

/* Defaults are written as text once (the docs show the same text), so parse them here. */
static void apply_default(const wf_key_t *k, char *base)
{
	void *dst = base + k->offset;
	switch (k->type) {
	case WF_KEY_INT:
		*(int *)dst = k->def ? atoi(k->def) : 0;
		break;
	case WF_KEY_SIZE:
		if (!k->def || parse_size(k->def, (int64_t *)dst) != WF_OK)
			*(int64_t *)dst = 0;
		break;
	case WF_KEY_BOOL:
		*(bool *)dst = k->def && strcmp(k->def, "true") == 0;
		break;
	case WF_KEY_STRING:
		*(char **)dst = k->def ? strdup(k->def) : NULL;
		break;
	case WF_KEY_STRLIST:
		/* List defaults in the table: permissions ["read"], and [] (empty). */
		if (k->def && strcmp(k->def, "[\"read\"]") == 0) {
			char **v = calloc(1, sizeof(char *));
			v[0] = strdup("read");
			*(char ***)dst = v;
			*(size_t *)(base + k->count_offset) = 1;
		}
		break;
	case WF_KEY_GROUP:
	case WF_KEY_LIST:
		break;
	}
}

static void parse_section(load_ctx_t *ctx, const wf_section_t *sec, config_setting_t *grp, char *base,
			  const char *path);

/* A list or string list with too few or too many entries (s: the key, or
 * the group it is missing from, whose line is the nearest the file has).
 * None where some are needed reads as the key being required: the docs
 * call it so. */
static void count_problem(load_ctx_t *ctx, const config_setting_t *s, const char *path, const wf_key_t *k, int n)
{
	if (n == 0 && k->min > 0)
		problem_at(ctx, s, "'%s%s' is required: at least %lld %s (up to %lld)", path, k->name,
			   (long long)k->min, k->min == 1 ? "entry" : "entries", (long long)k->max);
	else
		problem_at(ctx, s, "'%s%s' has %d entries, must have between %lld and %lld", path, k->name, n,
			   (long long)k->min, (long long)k->max);
}

/* A key without a default that must be there: a scalar, or a list or string
 * list that needs at least one entry. Groups never are. */
static bool key_required(const wf_key_t *k)
{
	if (k->def || k->type == WF_KEY_GROUP)
		return false;
	return (k->type != WF_KEY_LIST && k->type != WF_KEY_STRLIST) || k->min > 0;
}

static void parse_key(load_ctx_t *ctx, const wf_key_t *k, config_setting_t *s, char *base, const char *path)
{
	int t = config_setting_type(s);
	void *dst = base + k->offset;

	switch (k->type) {
	case WF_KEY_INT:
		if (t != CONFIG_TYPE_INT && t != CONFIG_TYPE_INT64) {
			problem_at(ctx, s, "'%s%s' must be %s", path, k->name, type_word(k->type));
			return;
		}
		int64_t iv;
		if (setting_int64(ctx, s, path, k, &iv) != WF_OK)
			return;
		if (iv < k->min || iv > k->max) {
			problem_at(ctx, s, "'%s%s' is %lld, must be between %lld and %lld", path, k->name, (long long)iv,
				(long long)k->min, (long long)k->max);
			return;
		}
		*(int *)dst = (int)iv;
		return;
	case WF_KEY_SIZE: {
		int64_t sz;
		if (t == CONFIG_TYPE_INT || t == CONFIG_TYPE_INT64) {
			if (setting_int64(ctx, s, path, k, &sz) != WF_OK)
				return;
		} else if (t == CONFIG_TYPE_STRING) {
			if (parse_size(config_setting_get_string(s), &sz) != WF_OK) {
				problem_at(ctx, s, "'%s%s' is \"%s\", must be %s", path, k->name,
					config_setting_get_string(s), type_word(k->type));
				return;
			}
		} else {
			problem_at(ctx, s, "'%s%s' must be %s", path, k->name, type_word(k->type));
			return;
		}
		if (sz < k->min || sz > k->max) {
			problem_at(ctx, s, "'%s%s' is %lld bytes, must be between %lld and %lld", path, k->name,
				(long long)sz, (long long)k->min, (long long)k->max);
			return;
		}
		*(int64_t *)dst = sz;
		return;
	}
	case WF_KEY_BOOL:
		if (t != CONFIG_TYPE_BOOL) {
			problem_at(ctx, s, "'%s%s' must be %s", path, k->name, type_word(k->type));
			return;
		}
		*(bool *)dst = config_setting_get_bool(s);
		return;
	case WF_KEY_STRING: {
		if (t != CONFIG_TYPE_STRING) {
			problem_at(ctx, s, "'%s%s' must be %s", path, k->name, type_word(k->type));
			return;
		}
		const char *v = config_setting_get_string(s);
		if (!in_choices(k->choices, v)) {
			char c[256];
			choices_text(k->choices, c, sizeof(c));
			problem_at(ctx, s, "'%s%s' is \"%s\", must be one of: %s", path, k->name, v, c);
			return;
		}
		const char *wrong = k->check ? k->check(v) : NULL;
		if (wrong) {
			problem_at(ctx, s, "'%s%s' %s", path, k->name, wrong);
			return;
		}
		free(*(char **)dst);
		*(char **)dst = strdup(v);
		return;
	}
	case WF_KEY_STRLIST: {
		if (t != CONFIG_TYPE_ARRAY && t != CONFIG_TYPE_LIST) {
			problem_at(ctx, s, "'%s%s' must be %s", path, k->name, type_word(k->type));
			return;
		}
		int n = config_setting_length(s);
		if (n < k->min || n > k->max) {
			count_problem(ctx, s, path, k, n);
			return;
		}
		char ***list = (char ***)dst;
		size_t *count = (size_t *)(base + k->count_offset);
		for (size_t i = 0; i < *count; i++)
			free((*list)[i]);
		free(*list);
		*list = calloc((size_t)n + 1, sizeof(char *));
		*count = 0;
		for (int i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			if (config_setting_type(e) != CONFIG_TYPE_STRING) {
				problem_at(ctx, e, "'%s%s' must be %s", path, k->name,
					type_word(k->type));
				continue;
			}
			const char *v = config_setting_get_string(e);
			if (!in_choices(k->choices, v)) {
				char c[256];
				choices_text(k->choices, c, sizeof(c));
				problem_at(ctx, s, "'%s%s' has \"%s\", entries must be among: %s", path, k->name, v,
					c);
				continue;
			}
			(*list)[(*count)++] = strdup(v);
		}
		return;
	}
	case WF_KEY_GROUP: {
		if (t != CONFIG_TYPE_GROUP) {
			problem_at(ctx, s, "'%s%s' must be %s", path, k->name, type_word(k->type));
			return;
		}
		char sub[256];
		snprintf(sub, sizeof(sub), "%s%s.", path, k->name);
		if (k->sub->line_offset >= 0)
			*(wf_config_at_t *)(base + k->sub->line_offset) = at_of(ctx, s);
		parse_section(ctx, k->sub, s, base, sub);
		return;
	}
	case WF_KEY_LIST: {
		if (t != CONFIG_TYPE_LIST) {
			problem_at(ctx, s, "'%s%s' must be %s", path, k->name, type_word(k->type));
			return;
		}
		int n = config_setting_length(s);
		if (n < k->min || n > k->max) {
			count_problem(ctx, s, path, k, n);
			return;
		}
		const wf_section_t *sec = k->sub;
		char *items = calloc((size_t)n + 1, sec->item_size);
		*(char **)dst = items;
		*(size_t *)(base + k->count_offset) = (size_t)n;
		for (int i = 0; i < n; i++) {
			config_setting_t *e = config_setting_get_elem(s, (unsigned)i);
			char *item = items + (size_t)i * sec->item_size;
			if (sec->line_offset >= 0)
				*(wf_config_at_t *)(item + sec->line_offset) = at_of(ctx, e);
			for (size_t j = 0; j < sec->nkeys; j++)
				apply_default(&sec->keys[j], item);
			char sub[256];
			snprintf(sub, sizeof(sub), "%s%s[%d].", path, k->name, i);
			if (config_setting_type(e) != CONFIG_TYPE_GROUP) {
				problem_at(ctx, e, "'%s%s' entries must be groups { ... }",
					path, k->name);
				continue;
			}
			parse_section(ctx, sec, e, item, sub);
		}
		return;
	}
	}
}

/* A key set on an item of a type it does not apply to (active_mode on an
 * https service) would be taken and do nothing: refused, as the docs say
 * "FTPS services only". */
static void type_scope(load_ctx_t *ctx, const wf_key_t *k, const config_setting_t *s, config_setting_t *grp,
		       const char *path)
{
	const char *type = NULL;
	if (!k->only_types || !config_setting_lookup_string(grp, "type", &type) || in_choices(k->only_types, type))
		return;
	char c[200] = "";
	for (const char *const *t = k->only_types; *t; t++)
		snprintf(c + strlen(c), sizeof(c) - strlen(c), "%s%s", *t,
			 !t[1] ? "" : !t[2] ? " and " : ", ");
	problem_at(ctx, s, "'%s%s' applies to %s services only, not %s", path, k->name, c, type);
}

static void parse_section(load_ctx_t *ctx, const wf_section_t *sec, config_setting_t *grp, char *base,
			  const char *path)
{
	int n = config_setting_length(grp);
	for (int i = 0; i < n; i++) {
		config_setting_t *s = config_setting_get_elem(grp, (unsigned)i);
		const char *name = config_setting_name(s);
		const wf_key_t *k = NULL;
		for (size_t j = 0; j < sec->nkeys; j++)
			if (name && strcmp(sec->keys[j].name, name) == 0)
				k = &sec->keys[j];
		if (!k) {
			problem_at(ctx, s, "unknown key '%s%s'", path,
				name ? name : "(unnamed)");
			continue;
		}
		parse_key(ctx, k, s, base, path);
		type_scope(ctx, k, s, grp, path);
	}
	for (size_t j = 0; j < sec->nkeys; j++) {
		const wf_key_t *k = &sec->keys[j];
		if (!key_required(k) || config_setting_get_member(grp, k->name))
			continue;
		if (k->type == WF_KEY_LIST) /* absent says what empty says: `services = ();` */
			count_problem(ctx, grp, path, k, 0);
		else
			problem_at(ctx, grp, "'%s%s' is required", path, k->name);
	}
}

static void apply_defaults_all(const wf_section_t *sec, char *base)
{
	for (size_t j = 0; j < sec->nkeys; j++) {
		if (sec->keys[j].type == WF_KEY_GROUP)
			apply_defaults_all(sec->keys[j].sub, base + sec->keys[j].offset);
		else
			apply_default(&sec->keys[j], base);
	}
}

static void free_section(const wf_section_t *sec, char *base)
{
	for (size_t j = 0; j < sec->nkeys; j++) {
		const wf_key_t *k = &sec->keys[j];
		void *p = base + k->offset;
		switch (k->type) {
		case WF_KEY_STRING:
			free(*(char **)p);
			break;
		case WF_KEY_STRLIST: {
			char **l = *(char ***)p;
			size_t n = *(size_t *)(base + k->count_offset);
			for (size_t i = 0; l && i < n; i++)
				free(l[i]);
			free(l);
			break;
		}
		case WF_KEY_GROUP:
			free_section(k->sub, base + k->offset);
			break;
		case WF_KEY_LIST: {
			char *items = *(char **)p;
			size_t n = *(size_t *)(base + k->count_offset);
			for (size_t i = 0; items && i < n; i++)
				free_section(k->sub, items + i * k->sub->item_size);
			free(items);
			break;
		}
		default:
			break;
		}
	}
}

/* Relative paths in the file mean "next to the file", so a config can be moved
 * with its folders and the daemon's working folder does not matter. */
static void absolutize(char **p, const char *dir)
{
	if (!*p || (*p)[0] == '/')
		return;
	char *abs;
	if (asprintf(&abs, "%s/%s", dir, *p) < 0)
		return;
	free(*p);
	*p = abs;
}

/* The follower appends /.wharf/cluster/bundle/NAME to cluster.controller: a
 * trailing "/" is dropped, any other path (or query) refused, as the
 * controller would not know the bundle requests that made. */
static void controller_check(load_ctx_t *ctx, wf_config_t *cfg)
{
	char *u = cfg->cluster.controller;
	if (!u || strncmp(u, "https://", 8) != 0 || !u[8] || strchr("/?#", u[8])) {
		problem_of(ctx, cfg->cluster.at, "a follower needs cluster.controller = \"https://HOST:PORT\"");
		return;
	}
	size_t n = strlen(u);
	while (u[n - 1] == '/')
		u[--n] = '\0';
	const char *path = u + 8 + strcspn(u + 8, "/?#");
	if (*path)
		problem_of(ctx, cfg->cluster.at,
			   "cluster.controller: \"%s\" has a path; give \"https://HOST:PORT\" alone (the follower adds "
			   "/.wharf/cluster/bundle/NAME)",
			   u);
}

static char **strv_dup(char *const *v, size_t n);

/* An absolute path with ".", ".." and repeated '/' taken out, by its text. */
static char *path_tidy(const char *abs)
{
	char *out = malloc(strlen(abs) + 2);
	if (!out)
		return NULL;
	size_t n = 0;
	for (const char *p = abs; *p;) {
		while (*p == '/')
			p++;
		size_t len = strcspn(p, "/");
		if (len == 0 || (len == 1 && p[0] == '.')) {
			/* nothing */
		} else if (len == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[--n] != '/')
				;
		} else {
			out[n++] = '/';
			memcpy(out + n, p, len);
			n += len;
		}
		p += len;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return out;
}

/* Where an absolute path leads: its symlinks resolved as far as it exists
 * (a state folder is made at the first start), the rest by its text. */
static char *path_resolved(const char *abs)
{
	char *tidy = path_tidy(abs);
	if (!tidy)
		return NULL;
	for (size_t cut = strlen(tidy); cut > 0;) {
		char keep = tidy[cut];
		tidy[cut] = '\0';
		char *head = realpath(tidy, NULL);
		tidy[cut] = keep;
		if (head) {
			char *out;
			if (asprintf(&out, "%s%s", strcmp(head, "/") == 0 && tidy[cut] ? "" : head, tidy + cut) < 0)
				out = NULL;
			free(head);
			free(tidy);
			return out;
		}
		while (cut > 0 && tidy[--cut] != '/')
			;
	}
	return tidy;
}

/* Is path (resolved) the folder dir (resolved) or beneath it? */
static bool path_within(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/* Where the state folder may be: not "/" nor around the config file
 * (wf_state_check), and the folder itself, since it is opened without
 * following a symlink in its last step (keys are read there as root): said
 * now, not as "Not a directory" about a certificate's folder at the start.
 * It need not exist yet. False when it may not be there: then whatever
 * lies inside it (every home, for "/") is not worth a line of its own. */
static bool check_state_dir(load_ctx_t *ctx, const wf_config_t *cfg)
{
	char *p = strdup(cfg->state_dir), *conf = realpath(cfg->path, NULL), why[600];
	bool ok = false;
	if (!p || !conf)
		goto out;
	if (wf_state_check(cfg->state_dir, conf, why, sizeof(why)) != WF_OK) {
		problem_of(ctx, cfg->at.state_dir, "%s", why);
		goto out;
	}
	for (size_t n = strlen(p); n > 1 && p[n - 1] == '/'; n--)
		p[n - 1] = '\0';
	struct stat st;
	if (lstat(p, &st) == 0 && S_ISLNK(st.st_mode)) {
		char *to = realpath(p, NULL);
		problem_of(ctx, cfg->at.state_dir, "state_dir %s is a symlink%s%s: name the folder itself (it is opened without following one)",
			p, to ? " to " : "", to ? to : "");
		free(to);
	} else if (lstat(p, &st) == 0 && !S_ISDIR(st.st_mode)) {
		problem_of(ctx, cfg->at.state_dir, "state_dir %s is not a folder", p);
	} else {
		ok = true;
	}
out:
	free(conf);
	free(p);
	return ok;
}

/* A home is served to its user, read and (with write) written: it may hold
 * none of what the server keeps for itself, nor lie within it. */
/* What no home may hold (a user could read it, or rewrite it: a key, what
 * root starts from, a program the server runs, what it trusts, its logs),
 * resolved once for every user's check. */
typedef struct kept_path {
	char *path;       /* owned, resolved (path_resolved) */
	char what[96];
	bool folder;      /* a folder of private keys: a home inside it is refused too */
} kept_path_t;

static void kept_add(kept_path_t **list, size_t *n, const char *path, bool folder, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
static void kept_add(kept_path_t **list, size_t *n, const char *path, bool folder, const char *fmt, ...)
{
	if (!path || path[0] != '/')
		return; /* "", "stderr", "off", a hook found in PATH */
	kept_path_t *grown = realloc(*list, (*n + 1) * sizeof(**list));
	if (!grown)
		return;
	*list = grown;
	kept_path_t *k = &grown[*n];
	k->path = path_resolved(path);
	if (!k->path)
		return;
	k->folder = folder;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(k->what, sizeof(k->what), fmt, ap);
	va_end(ap);
	(*n)++;
}

static void kept_hook(kept_path_t **list, size_t *n, char **argv, size_t argc, const char *key)
{
	if (argc)
		kept_add(list, n, argv[0], false, "the %s program", key);
}

static size_t kept_paths(const wf_config_t *cfg, bool state_ok, kept_path_t **out)
{
	kept_path_t *list = NULL;
	size_t n = 0;
	if (state_ok)
		kept_add(&list, &n, cfg->state_dir, true, "the state folder");
	kept_add(&list, &n, cfg->path, false, "the config file");
	kept_hook(&list, &n, cfg->acme.event_hook, cfg->acme.nevent_hook, "acme.event_hook");
	kept_hook(&list, &n, cfg->acme.dns_hook, cfg->acme.ndns_hook, "acme.dns_hook");
	for (size_t i = 0; i < cfg->acme.ncas; i++)
		kept_add(&list, &n, cfg->acme.cas[i].ca_bundle, false, "a CA's ca_bundle");
	kept_add(&list, &n, cfg->cluster.controller_ca, false, "cluster.controller_ca");
	kept_add(&list, &n, cfg->log.error_log, false, "the error log");
	kept_add(&list, &n, cfg->log.access_log, false, "the access log");
	for (size_t i = 0; i < cfg->ncertificates; i++) {
		const wf_cert_cfg_t *c = &cfg->certificates[i];
		kept_add(&list, &n, c->output_dir, true, "certificate \"%s\"'s output_dir", c->name);
		kept_hook(&list, &n, c->dns_hook, c->ndns_hook, "dns_hook");
		kept_hook(&list, &n, c->deploy_hook, c->ndeploy_hook, "deploy_hook");
	}
	*out = list;
	return n;
}

static void check_home(load_ctx_t *ctx, const wf_user_cfg_t *u, const kept_path_t *kept, size_t nkept)
{
	char *home = path_resolved(u->home);
	for (size_t i = 0; home && i < nkept; i++) {
		if (path_within(kept[i].path, home))
			problem_of(ctx, u->at, "user \"%s\": home %s holds %s %s: a user could %s", u->name, home,
				kept[i].what, kept[i].path,
				kept[i].folder ? "read the private keys" : "read it, or rewrite it");
		else if (kept[i].folder && path_within(home, kept[i].path))
			problem_of(ctx, u->at, "user \"%s\": home %s is inside %s %s: a user could read the private keys",
				u->name, home, kept[i].what, kept[i].path);
	}
	free(home);
}

bool wf_config_cert_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') || *p == '-' ||
		      *p == '_' || *p == '.'))
			return false;
	return true;
}

/* Would listeners on a and b (each "*", or an address inet_pton takes) on one
 * port collide? "*" takes in every address, 0.0.0.0 every IPv4 one, :: every
 * IPv6 one (listened on IPv6-only); otherwise only the same address does. */
static bool addresses_overlap(const char *a, const char *b)
{
	if (strcmp(a, "*") == 0 || strcmp(b, "*") == 0)
		return true;
	unsigned char x[16], y[16], zero[16] = { 0 };
	int fam = inet_pton(AF_INET, a, x) == 1 ? AF_INET : inet_pton(AF_INET6, a, x) == 1 ? AF_INET6 : 0;
	if (!fam || inet_pton(fam, b, y) != 1)
		return false;
	size_t n = fam == AF_INET ? 4 : 16;
	return memcmp(x, zero, n) == 0 || memcmp(y, zero, n) == 0 || memcmp(x, y, n) == 0;
}

/* A regular file with an execute bit, judged by what any loader sees alike:
 * root at start and the run user at a reload (access(2) would pass anything
 * for root, then refuse the run user's reloads). Where the loader may not
 * look (EACCES on a folder of the path), it cannot tell, and does not
 * refuse: the hook's own run says why, if it fails. */
static bool executable_file(const char *path)
{
	struct stat st;
	if (stat(path, &st) != 0)
		return errno == EACCES;
	if (!S_ISREG(st.st_mode) || !(st.st_mode & 0111)) {
		errno = S_ISREG(st.st_mode) ? EACCES : EISDIR;
		return false;
	}
	return true;
}

const char *wf_config_unrunnable(const char *path)
{
	if (executable_file(path))
		return NULL;
	return errno == EISDIR ? "not a file" : errno == EACCES ? "no execute permission" : strerror(errno);
}

/* A hook's program is found when it runs, for a deploy_hook perhaps months
 * from now: a name without '/' in PATH (posix_spawnp), a path with one
 * resolved here against the config's folder like every path in the file.
 * Said now if it is not there or may not be run. */
static void check_hook(load_ctx_t *ctx, const wf_config_t *cfg, wf_config_at_t at, const char *key, char **argv,
		       size_t n)
{
	if (!n)
		return;
	if (!argv[0][0]) {
		problem_of(ctx, at, "%s: the program (its first entry) is empty", key);
		return;
	}
	if (strchr(argv[0], '/')) {
		absolutize(&argv[0], cfg->dir);
		char *tidy = path_tidy(argv[0]);
		if (tidy) {
			free(argv[0]);
			argv[0] = tidy;
		}
		const char *why = wf_config_unrunnable(argv[0]);
		if (why)
			problem_of(ctx, at, "%s: %s is not an executable file (%s)", key, argv[0], why);
		return;
	}
	/* posix_spawnp's search: PATH, or glibc's default when it is unset. */
	const char *path = getenv("PATH");
	char *dirs = strdup(path ? path : "/bin:/usr/bin");
	bool found = false;
	for (char *save = NULL, *d = dirs ? strtok_r(dirs, ":", &save) : NULL; d && !found; d = strtok_r(NULL, ":", &save)) {
		char *full;
		if (asprintf(&full, "%s/%s", d, argv[0]) < 0)
			break;
		found = executable_file(full);
		free(full);
	}
	if (!found)
		problem_of(ctx, at, "%s: program \"%s\" is not in PATH (%s); give its full path", key, argv[0],
			path ? path : "/bin:/usr/bin");
	free(dirs);
}

#define CA_BUNDLE_MAX (16 << 20)

/* A ca_bundle that holds no PEM certificate would fail every request to
 * its CA with libcurl's words, which do not name the file. One this loader
 * may not read, or not there yet (a local CA that writes it as it starts),
 * is left to the run user's check (server/privdrop.h) and the requests. */
static void check_ca_bundle(load_ctx_t *ctx, const wf_acme_ca_cfg_t *ca, size_t i)
{
	FILE *f = fopen(ca->ca_bundle, "re");
	if (!f)
		return;
	struct stat st;
	size_t cap = fstat(fileno(f), &st) == 0 && st.st_size < CA_BUNDLE_MAX ? (size_t)st.st_size + 1 : CA_BUNDLE_MAX;
	char *text = malloc(cap);
	size_t len = text ? fread(text, 1, cap, f) : 0;
	bool failed = ferror(f);
	fclose(f);
	if (!text || failed) {
		free(text); /* a folder, or no memory: said by the requests, as before */
		return;
	}
	gnutls_x509_crt_t *crts = NULL;
	unsigned n = 0;
	gnutls_datum_t pem = { (unsigned char *)text, (unsigned)len };
	int rc = len ? gnutls_x509_crt_list_import2(&crts, &n, &pem, GNUTLS_X509_FMT_PEM, 0) : GNUTLS_E_NO_CERTIFICATE_FOUND;
	if (rc < 0 || n == 0)
		problem_of(ctx, ca->at, "acme.cas[%zu].ca_bundle %s holds no PEM certificate (%s)", i, ca->ca_bundle,
			   len ? gnutls_strerror(rc < 0 ? rc : GNUTLS_E_NO_CERTIFICATE_FOUND) : "it is empty");
	for (unsigned j = 0; j < n; j++)
		gnutls_x509_crt_deinit(crts[j]);
	gnutls_free(crts);
	free(text);
}

/* An e-mail address as mail headers and the CA's contact take it: local part
 * '@' domain, with nothing to quote or escape (no spaces, brackets, commas,
 * quotes or control characters). */
static bool plain_address(const char *a)
{
	const char *at = strchr(a, '@');
	if (!at || at == a || !at[1] || strchr(at + 1, '@'))
		return false;
	for (const unsigned char *p = (const unsigned char *)a; *p; p++)
		if (*p <= ' ' || *p == 0x7f || strchr("<>,\"\\", *p))
			return false;
	return true;
}

const char *wf_config_challenge_unanswered(const wf_config_t *cfg, const char *challenge, const char *webroot)
{
	bool has_http = false, has_https = false;
	for (size_t j = 0; j < cfg->nservices; j++) {
		has_http |= cfg->services[j].type == WF_SERVICE_ACME_HTTP;
		has_https |= cfg->services[j].type == WF_SERVICE_HTTPS;
	}
	bool files = (webroot && webroot[0]) || (cfg->acme.webroot && cfg->acme.webroot[0]);
	if (!strcmp(challenge, "http-01") && !has_http && !files)
		return "uses http-01 but no service has type acme-http (or set acme.webroot)";
	if (!strcmp(challenge, "tls-alpn-01") && !has_https)
		return "uses tls-alpn-01 but no service has type https";
	return NULL;
}

static void check_semantics(load_ctx_t *ctx, wf_config_t *cfg)
{
	char first[PATH_MAX + 32]; /* where an entry defined twice was first (at_text) */
	for (size_t i = 0; i < cfg->ncertificates; i++) {
		wf_cert_cfg_t *c = &cfg->certificates[i];
		if (!c->name)
			continue;
		if (!wf_config_cert_name_ok(c->name))
			problem_of(ctx, c->at,
				"certificate name \"%.80s\" may hold only letters, digits, '-', '_' and '.', not "
				"start with '.', and be 1 to 64 bytes long (it names a folder)",
				c->name);
		for (size_t j = 0; j < i; j++)
			if (cfg->certificates[j].name && strcmp(cfg->certificates[j].name, c->name) == 0)
				problem_of(ctx, c->at, "certificate \"%s\" is defined twice (first at %s)", c->name,
					   at_text(cfg->certificates[j].at, c->at, first, sizeof(first)));
		char why[WF_SAN_WHY_MAX];
		if (wf_san_names_ready(c->domains, c->ndomains, why, sizeof(why)) != WF_OK)
			problem_of(ctx, c->at, "certificate \"%s\": %s", c->name, why);
	}
	for (size_t i = 0; i < cfg->nservices; i++) {
		wf_service_cfg_t *s = &cfg->services[i];
		if (s->type_name && strcmp(s->type_name, "https") == 0)
			s->type = WF_SERVICE_HTTPS;
		else if (s->type_name && strcmp(s->type_name, "acme-http") == 0)
			s->type = WF_SERVICE_ACME_HTTP;
		else if (s->type_name && strcmp(s->type_name, "ftps") == 0)
			s->type = WF_SERVICE_FTPS;
		else if (s->type_name && strcmp(s->type_name, "ftps-implicit") == 0)
			s->type = WF_SERVICE_FTPS_IMPLICIT;
		if (wf_service_is_ftp(s->type)) {
			if (s->ncertificates == 0)
				problem_of(ctx, s->at, "%s service on port %d needs at least one certificate", s->type_name,
					s->port);
			if (s->passive_port_min > s->passive_port_max ||
			    (s->passive_port_min == 0) != (s->passive_port_max == 0))
				problem_of(ctx, s->at, "passive ports %d-%d: give both, lowest first (or neither)",
					s->passive_port_min, s->passive_port_max);
			unsigned char a[4];
			if (s->public_address && s->public_address[0] && inet_pton(AF_INET, s->public_address, a) != 1)
				problem_of(ctx, s->at, "public_address \"%s\" is not an IPv4 address (PASV can only "
						      "announce IPv4)",
					s->public_address);
		}
		if (s->address && strcmp(s->address, "*") != 0) {
			unsigned char a[16];
			if (inet_pton(AF_INET, s->address, a) != 1 && inet_pton(AF_INET6, s->address, a) != 1)
				problem_of(ctx, s->at, "address \"%s\" is not an IPv4 or IPv6 address (or * for all)",
					s->address);
		}
		for (size_t j = 0; j < s->ncertificates; j++)
			if (!wf_config_cert(cfg, s->certificates[j]))
				problem_of(ctx, s->at, "service on port %d names certificate \"%s\", which is not in "
						      "'certificates'",
					s->port, s->certificates[j]);
		if (s->type == WF_SERVICE_HTTPS && s->ncertificates == 0)
			problem_of(ctx, s->at, "https service on port %d needs at least one certificate", s->port);
		for (size_t j = 0; j < i; j++) {
			const char *other = cfg->services[j].address;
			if (cfg->services[j].port != s->port || !s->address || !other)
				continue;
			if (strcmp(other, s->address) == 0)
				problem_of(ctx, s->at, "port %d is already used by the service at %s", s->port,
					   at_text(cfg->services[j].at, s->at, first, sizeof(first)));
			else if (addresses_overlap(other, s->address))
				problem_of(ctx, s->at,
					"port %d is already used by the service at %s: %s and %s overlap (a "
					"wildcard takes in every address of its family)",
					s->port, at_text(cfg->services[j].at, s->at, first, sizeof(first)), other,
					s->address);
		}
	}
	for (size_t i = 0; i < cfg->nusers; i++) {
		wf_user_cfg_t *u = &cfg->users[i];
		if (!u->name)
			continue;
		if (!u->name[0] || strchr(u->name, ':'))
			problem_of(ctx, u->at, "user name \"%s\" must be non-empty and hold no ':'", u->name);
		for (size_t j = 0; j < i; j++)
			if (cfg->users[j].name && strcmp(cfg->users[j].name, u->name) == 0)
				problem_of(ctx, u->at, "user \"%s\" is defined twice (first at %s)", u->name,
					   at_text(cfg->users[j].at, u->at, first, sizeof(first)));
		char why[300];
		const char *bad = u->password ? wf_passwd_hash_problem(u->password, why, sizeof(why)) : NULL;
		if (bad)
			problem_of(ctx, u->at, "user \"%s\": %s", u->name, bad);
		u->perms = 0;
		for (size_t j = 0; j < u->npermissions; j++) {
			const char *p = u->permissions[j];
			u->perms |= !strcmp(p, "read") ? WF_PERM_READ :
				    !strcmp(p, "write") ? WF_PERM_WRITE :
				    !strcmp(p, "delete") ? WF_PERM_DELETE :
				    !strcmp(p, "mkdir") ? WF_PERM_MKDIR : WF_PERM_ADMIN;
		}
		if (u->home && !u->home[0]) {
			problem_of(ctx, u->at, "user \"%s\": home is empty (give the folder the user sees as /)", u->name);
			u->home_fd = -1;
			continue;
		}
		absolutize(&u->home, cfg->dir);
		/* Opened once, at load: requests resolve beneath this handle, so a home
		 * renamed or replaced by a symlink later changes nothing until a reload. */
		u->home_fd = u->home ? open(u->home, O_PATH | O_DIRECTORY | O_CLOEXEC) : -1;
		if (u->home && u->home_fd < 0)
			problem_of(ctx, u->at, "user \"%s\": home \"%s\" is not an existing folder (%s)", u->name,
				u->home, strerror(errno));
	}
	for (size_t i = 0; i < cfg->acme.ncas; i++) {
		wf_acme_ca_cfg_t *ca = &cfg->acme.cas[i];
		if (!ca->url)
			continue;
		const char *expand = !strcmp(ca->url, "letsencrypt") ? "https://acme-v02.api.letsencrypt.org/directory" :
				     !strcmp(ca->url, "letsencrypt-staging") ?
								    "https://acme-staging-v02.api.letsencrypt.org/directory" :
								    NULL;
		if (expand) {
			free(ca->url);
			ca->url = strdup(expand);
		} else if (strncmp(ca->url, "https://", 8) != 0) {
			problem_of(ctx, ca->at, "acme url \"%s\" must be https:// (or letsencrypt, letsencrypt-staging)",
				ca->url);
		} else if (!ca->url[8] || strchr("/?#:", ca->url[8])) {
			problem_of(ctx, ca->at, "acme url \"%s\" has no host (https://HOST[:PORT]/PATH)", ca->url);
		}
		/* libcurl would refuse such a URL at every order, far from here. */
		for (const unsigned char *p = (const unsigned char *)ca->url; *p; p++)
			if (*p <= ' ' || *p == 0x7f) {
				problem_of(ctx, ca->at, "acme url \"%s\" holds a space or a control character", ca->url);
				break;
			}
		if (!ca->eab_kid[0] != !ca->eab_hmac[0])
			problem_of(ctx, ca->at, "eab_kid and eab_hmac go together");
		if (ca->ca_bundle[0]) {
			absolutize(&ca->ca_bundle, cfg->dir);
			check_ca_bundle(ctx, ca, i);
		}
	}
	check_hook(ctx, cfg, cfg->acme.at, "acme.event_hook", cfg->acme.event_hook, cfg->acme.nevent_hook);
	check_hook(ctx, cfg, cfg->acme.at, "acme.dns_hook", cfg->acme.dns_hook, cfg->acme.ndns_hook);
	for (size_t i = 0; i < cfg->ncertificates; i++) {
		wf_cert_cfg_t *c = &cfg->certificates[i];
		char key[128];
		snprintf(key, sizeof(key), "certificate \"%s\": dns_hook", c->name);
		check_hook(ctx, cfg, c->at, key, c->dns_hook, c->ndns_hook);
		snprintf(key, sizeof(key), "certificate \"%s\": deploy_hook", c->name);
		check_hook(ctx, cfg, c->at, key, c->deploy_hook, c->ndeploy_hook);
	}
	for (size_t i = 0; i < cfg->ncertificates && cfg->acme.ncas; i++) {
		wf_cert_cfg_t *c = &cfg->certificates[i];
		if (!c->acme)
			continue;
		const char *unanswered = wf_config_challenge_unanswered(cfg, c->challenge, ctx->webroot);
		if (unanswered)
			problem_of(ctx, c->at, "certificate \"%s\" %s", c->name, unanswered);
		if (!strcmp(c->challenge, "dns-01") && !c->ndns_hook && cfg->acme.ndns_hook) {
			c->dns_hook = strv_dup(cfg->acme.dns_hook, cfg->acme.ndns_hook);
			c->ndns_hook = c->dns_hook ? cfg->acme.ndns_hook : 0;
		}
		if (!strcmp(c->challenge, "dns-01") && !c->ndns_hook)
			problem_of(ctx, c->at,
				"certificate \"%s\" uses dns-01 but has no dns_hook (nor acme.dns_hook) to publish the "
				"TXT records",
				c->name);
		for (size_t j = 0; j < c->ndomains; j++)
			if (!strcmp(c->challenge, "dns-01") && wf_san_is_ip(c->domains[j]))
				problem_of(ctx, c->at,
					"certificate \"%s\": the IP address %s cannot be validated by dns-01 (use http-01 "
					"or tls-alpn-01)",
					c->name, c->domains[j]);
			else if (!strncmp(c->domains[j], "*.", 2) && strcmp(c->challenge, "dns-01") != 0)
				problem_of(ctx, c->at,
					"certificate \"%s\": wildcard \"%s\" needs challenge = \"dns-01\" (CAs validate "
					"wildcards no other way)",
					c->name, c->domains[j]);
	}
	absolutize(&cfg->state_dir, cfg->dir);
	bool state_ok = check_state_dir(ctx, cfg);
	if (cfg->acme.webroot && cfg->acme.webroot[0])
		absolutize(&cfg->acme.webroot, cfg->dir);
	if (cfg->acme.mail_relay && cfg->acme.mail_relay[0] && strncmp(cfg->acme.mail_relay, "smtp://", 7) != 0 &&
	    strncmp(cfg->acme.mail_relay, "smtps://", 8) != 0)
		problem_of(ctx, cfg->acme.at, "acme.mail_relay must be smtp://HOST:PORT or smtps://HOST:PORT");
	for (size_t i = 0; i < cfg->acme.nmail_to; i++)
		if (!plain_address(cfg->acme.mail_to[i]))
			problem_of(ctx, cfg->acme.at, "acme.mail_to: \"%s\" is not a plain address", cfg->acme.mail_to[i]);
	if (cfg->acme.mail_from && !plain_address(cfg->acme.mail_from))
		problem_of(ctx, cfg->acme.at, "acme.mail_from: \"%s\" is not a plain address", cfg->acme.mail_from);
	/* The CA refuses a bad one (invalidContact), and the failure waits a day. */
	const char *contact = cfg->acme.contact;
	if (contact && contact[0] && !plain_address(strncmp(contact, "mailto:", 7) == 0 ? contact + 7 : contact))
		problem_of(ctx, cfg->acme.at,
			"acme.contact: \"%s\" is not a plain address (name@example.org, or mailto:name@example.org)",
			contact);
	if (cfg->cluster.controller_ca && cfg->cluster.controller_ca[0])
		absolutize(&cfg->cluster.controller_ca, cfg->dir);
	if (cfg->cluster.role && cfg->cluster.role[0]) {
		if (!cfg->cluster.secret || strlen(cfg->cluster.secret) < 32)
			problem_of(ctx, cfg->cluster.at, "cluster.secret must be at least 32 characters");
		if (strcmp(cfg->cluster.role, "follower") == 0)
			controller_check(ctx, cfg);
	}
	for (size_t i = 0; i < cfg->ncertificates; i++)
		if (cfg->certificates[i].output_dir && cfg->certificates[i].output_dir[0])
			absolutize(&cfg->certificates[i].output_dir, cfg->dir);
	if (strcmp(cfg->log.error_log, "stderr") != 0)
		absolutize(&cfg->log.error_log, cfg->dir);
	if (strcmp(cfg->log.access_log, "stderr") != 0 && strcmp(cfg->log.access_log, "off") != 0)
		absolutize(&cfg->log.access_log, cfg->dir);
	kept_path_t *kept;
	size_t nkept = kept_paths(cfg, state_ok, &kept);
	for (size_t i = 0; i < cfg->nusers; i++)
		if (cfg->users[i].home_fd >= 0)
			check_home(ctx, &cfg->users[i], kept, nkept);
	for (size_t i = 0; i < nkept; i++)
		free(kept[i].path);
	free(kept);
}

/* path made absolute against the working folder, symlinks kept; NULL when
 * memory is short. */
static char *absolute(const char *path)
{
	if (path[0] == '/')
		return strdup(path);
	char *cwd = getcwd(NULL, 0), *abs = NULL;
	if (cwd && asprintf(&abs, "%s/%s", strcmp(cwd, "/") == 0 ? "" : cwd, path) < 0)
		abs = NULL;
	free(cwd);
	return abs;
}

wf_config_t *wf_config_load(const char *path, wf_buf_t *errors)
{
	return wf_config_load_webroot(path, NULL, errors);
}

wf_config_t *wf_config_load_webroot(const char *path, const char *webroot, wf_buf_t *errors)
{
	/* Problems name the file as the success line and the run-time
	 * checks do (cfg->path): absolute, symlinks kept. */
	char *abs = absolute(path);
	load_ctx_t ctx = { .file = abs ? abs : path, .webroot = webroot, .errors = errors };
	config_t lc;
	config_init(&lc);
	static _Atomic uint64_t generations;
	wf_config_t *cfg = calloc(1, sizeof(*cfg));
	atomic_init(&cfg->refs, 1);
	cfg->generation = atomic_fetch_add(&generations, 1) + 1;
	apply_defaults_all(&wf_config_root, (char *)cfg);
	ctx.cfg = cfg;

	/* The path as given (made absolute), which a reload reads again: a
	 * symlink swapped since (a Kubernetes ConfigMap's ..data) leads to the
	 * new file. Relative paths in the file go by its real folder. */
	char *real = realpath(path, NULL);
	if (!real) {
		problem(&ctx, 0, "cannot open: %s", strerror(errno));
		goto out;
	}
	cfg->path = abs ? strdup(abs) : NULL;
	cfg->dir = strdup(real);
	if (!cfg->path || !cfg->dir) {
		problem(&ctx, 0, "out of memory");
		goto out;
	}
	char *slash = strrchr(cfg->dir, '/');
	if (slash == cfg->dir)
		slash[1] = '\0';
	else
		*slash = '\0';

	/* @include "x" is read from the config's folder, as nginx does, not
	 * from wherever wharf was started. */
	config_set_include_dir(&lc, cfg->dir);
	ctx.real = real;
	ctx.dir = cfg->dir;
	char *text = read_config_text(real, cfg->dir);
	if (!text) {
		problem(&ctx, 0, "cannot read: %s", errno == EFBIG ? "larger than 16 MiB" : strerror(errno));
		goto out;
	}
	int read_ok = config_read_string(&lc, text);
	free(text);
	if (!read_ok) {
		syntax_problem(&ctx, &lc);
		goto out;
	}
	parse_section(&ctx, &wf_config_root, config_root_setting(&lc), (char *)cfg, "");
	note_sources(&ctx, config_root_setting(&lc));
	note_key_ats(&ctx, &lc);
	if (ctx.nerrors == 0)
		check_semantics(&ctx, cfg); /* the state folder's own check (wf_state_check) included */
out:
	free(real);
	config_destroy(&lc);
	problems_end(&ctx);
	free(abs);
	if (ctx.nerrors) {
		wf_config_unref(cfg);
		return NULL;
	}
	return cfg;
}

void wf_config_where(const wf_config_t *cfg, wf_config_at_t at, char *out, size_t outlen)
{
	const char *file = at.file ? at.file : cfg->path;
	if (at.line > 0)
		snprintf(out, outlen, "%.400s:%d: ", file, at.line);
	else
		snprintf(out, outlen, "%.400s: ", file);
}

wf_config_t *wf_config_ref(wf_config_t *cfg)
{
	atomic_fetch_add(&cfg->refs, 1);
	return cfg;
}

void wf_config_unref(wf_config_t *cfg)
{
	if (!cfg || atomic_fetch_sub(&cfg->refs, 1) != 1)
		return;
	wf_certsnap_unref(atomic_load(&cfg->retired_certs));
	for (size_t i = 0; i < cfg->nusers; i++)
		if (cfg->users[i].home_fd > 0)
			close(cfg->users[i].home_fd);
	free_section(&wf_config_root, (char *)cfg);
	for (size_t i = 0; i < cfg->nsources; i++)
		free(cfg->sources[i]);
	free(cfg->sources);
	free(cfg->path);
	free(cfg->dir);
	free(cfg);
}

const wf_user_cfg_t *wf_config_user(const wf_config_t *cfg, wf_slice_t name)
{
	for (size_t i = 0; i < cfg->nusers; i++)
		if (wf_slice_eq(name, cfg->users[i].name))
			return &cfg->users[i];
	return NULL;
}

bool wf_config_user_current(const wf_config_t *newest, const wf_config_t *cfg, const wf_user_cfg_t *u)
{
	if (!newest || newest == cfg)
		return true;
	const wf_user_cfg_t *v = wf_config_user(newest, (wf_slice_t){ u->name, strlen(u->name) });
	return v && strcmp(v->password, u->password) == 0 && strcmp(v->home, u->home) == 0 && v->perms == u->perms;
}

static char **strv_dup(char *const *v, size_t n)
{
	char **out = calloc(n + 1, sizeof(char *));
	for (size_t i = 0; out && i < n; i++)
		out[i] = strdup(v[i]);
	return out;
}

int wf_config_add_cert(wf_config_t *cfg, const char *name, char *const *domains, size_t ndomains, const char *key_type,
		       const char *challenge, char *const *hook, size_t nhook)
{
	if (!wf_config_cert_name_ok(name))
		return WF_ERR;
	if (wf_config_cert(cfg, name))
		return WF_DECLINED;
	const wf_section_t *sec = NULL;
	for (size_t i = 0; i < wf_config_root.nkeys; i++)
		if (strcmp(wf_config_root.keys[i].name, "certificates") == 0)
			sec = wf_config_root.keys[i].sub;
	wf_cert_cfg_t *v = realloc(cfg->certificates, (cfg->ncertificates + 2) * sizeof(*v));
	if (!sec || !v)
		return WF_ERR;
	cfg->certificates = v;
	wf_cert_cfg_t *c = &v[cfg->ncertificates];
	memset(c, 0, 2 * sizeof(*c));
	for (size_t j = 0; j < sec->nkeys; j++)
		apply_default(&sec->keys[j], (char *)c);
	free(c->name);
	free(c->key_type);
	c->name = strdup(name);
	c->key_type = strdup(key_type);
	c->domains = strv_dup(domains, ndomains);
	c->ndomains = ndomains;
	c->deploy_hook = strv_dup(hook, nhook);
	c->ndeploy_hook = nhook;
	free(c->challenge);
	c->challenge = strdup(challenge);
	if (!strcmp(challenge, "dns-01") && cfg->acme.ndns_hook) {
		c->dns_hook = strv_dup(cfg->acme.dns_hook, cfg->acme.ndns_hook);
		c->ndns_hook = cfg->acme.ndns_hook;
	}
	cfg->ncertificates++;
	return WF_OK;
}

const wf_cert_cfg_t *wf_config_cert(const wf_config_t *cfg, const char *name)
{
	for (size_t i = 0; i < cfg->ncertificates; i++)
		if (cfg->certificates[i].name && strcmp(cfg->certificates[i].name, name) == 0)
			return &cfg->certificates[i];
	return NULL;
}

/* A size as the docs write one: 65536 is "64K". */
static void size_text(int64_t v, char *out, size_t cap)
{
	static const char units[] = "TGMK";
	for (int i = 0; i < 4; i++) {
		int64_t unit = (int64_t)1 << (10 * (4 - i));
		if (v >= unit && v % unit == 0) {
			snprintf(out, cap, "%lld%c", (long long)(v / unit), units[i]);
			return;
		}
	}
	snprintf(out, cap, "%lld", (long long)v);
}

/* The values parse_key takes for k, from the same min and max: "0 to 256",
 * "at least 64K", "up to 64" (entries); "" when any value goes. */
static void range_text(const wf_key_t *k, char *out, size_t cap)
{
	char lo[32], hi[32];
	out[0] = '\0';
	switch (k->type) {
	case WF_KEY_INT:
		snprintf(out, cap, "%lld to %lld", (long long)k->min, (long long)k->max);
		return;
	case WF_KEY_SIZE:
		size_text(k->min, lo, sizeof(lo));
		size_text(k->max, hi, sizeof(hi));
		if (k->max == INT64_MAX && k->min > 0)
			snprintf(out, cap, "at least %s", lo);
		else if (k->max != INT64_MAX)
			snprintf(out, cap, "%s to %s", lo, hi);
		return;
	case WF_KEY_STRLIST:
	case WF_KEY_LIST:
		if (k->min > 0)
			snprintf(out, cap, "%lld to %lld entries", (long long)k->min, (long long)k->max);
		else
			snprintf(out, cap, "up to %lld entries", (long long)k->max);
		return;
	default:
		return;
	}
}

static void reference_section(wf_buf_t *out, const wf_section_t *sec, const char *prefix)
{
	wf_buf_printf(out, "\n## `%s`\n\n%s\n\n", prefix[0] ? prefix : "top level", sec->doc);
	wf_buf_append_str(out, "| key | type | default | meaning |\n|---|---|---|---|\n");
	for (size_t j = 0; j < sec->nkeys; j++) {
		const wf_key_t *k = &sec->keys[j];
		char choices[256] = "";
		if (k->choices) {
			char c[200];
			choices_text(k->choices, c, sizeof(c));
			snprintf(choices, sizeof(choices), " One of: %s.", c);
		}
		char scope[256] = "";
		if (k->only_types) {
			size_t n = (size_t)snprintf(scope, sizeof(scope), " Only on");
			for (const char *const *t = k->only_types; *t && n < sizeof(scope); t++)
				n += (size_t)snprintf(scope + n, sizeof(scope) - n, " `%s`%s", *t,
						      !t[1] ? "" : !t[2] ? " and" : ",");
			if (n < sizeof(scope))
				snprintf(scope + n, sizeof(scope) - n, " services: refused on others.");
		}
		const char *def = k->def ? (k->def[0] ? k->def : "\"\"") : key_required(k) ? "required" : "";
		const char *type = k->type == WF_KEY_INT ? "integer" :
				   k->type == WF_KEY_SIZE ? "size" :
				   k->type == WF_KEY_BOOL ? "bool" :
				   k->type == WF_KEY_STRING ? "string" :
				   k->type == WF_KEY_STRLIST ? "string array" :
				   k->type == WF_KEY_GROUP ? "group" : "list";
		char range[80];
		range_text(k, range, sizeof(range));
		wf_buf_printf(out, "| `%s` | %s%s%s%s | %s%s%s | %s%s%s |\n", k->name, type, range[0] ? " (" : "", range,
			      range[0] ? ")" : "", k->def ? "`" : "", def, k->def ? "`" : "", k->doc, choices, scope);
	}
	for (size_t j = 0; j < sec->nkeys; j++) {
		const wf_key_t *k = &sec->keys[j];
		if (k->type == WF_KEY_GROUP || k->type == WF_KEY_LIST) {
			char sub[128];
			snprintf(sub, sizeof(sub), "%s%s%s%s", prefix, prefix[0] ? "." : "", k->name,
				 k->type == WF_KEY_LIST ? "[]" : "");
			reference_section(out, k->sub, sub);
		}
	}
}

int wf_config_reference(wf_buf_t *out)
{
	wf_buf_append_str(out, "# Configuration reference\n\n"
			       "Generated by `wharf config-reference` from the key table in "
			       "`server/config_keys.c`; a test keeps this file equal to it.\n"
			       "The file is libconfig syntax. Unknown keys and wrong types are errors "
			       "reported as FILE:LINE by `wharf check -c FILE`. `@include \"users.conf\"` reads "
			       "a file from the config file's folder, or from an absolute path; a name in an "
			       "included file's own @include is taken from the config file's folder too (an "
			       "absolute one is not supported there). A problem found in an included file is "
			       "named by its own FILE:LINE.\n"
			       "Sizes take an integer number of bytes or a string with a K, M, G or T suffix "
			       "(powers of 1024): `max_upload_bytes = \"100G\";` or `107374182400` (read whole, "
			       "with or without libconfig's `L` suffix for 64-bit integers). Times are in seconds.\n"
			       "The type column gives the values `wharf check` takes: an integer's or a size's "
			       "range, a list's number of entries.\n"
			       "Hooks are argv arrays run without a shell: a program named without `/` is looked "
			       "up in `PATH`, a relative path with one is taken from the config file's folder, and "
			       "one that is not there or may not be run is refused at load.\n");
	reference_section(out, &wf_config_root, "");
	return WF_OK;
}
