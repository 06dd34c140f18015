/* Content-Type by extension: see mime.h.
 *
 * Choice of types: the IANA-registered type where there is one (text/javascript
 * per RFC 9239, application/yaml per RFC 9512, font/woff2), the common x- type
 * for binary formats without one, and text/plain for source code, scripts and
 * config files, whose x- types (text/x-python, application/x-sh) make browsers
 * download rather than show them; shown, never run, is what a file server wants.
 * "; charset=utf-8" goes on every text/ type, JSON, XML (including +json and +xml) and
 * JavaScript: the types whose bytes a browser decodes as text. */
#include "mime.h"

#include "../server/base.h"

#include <string.h>

typedef struct mime_entry {
	const char *ext; /* lower case; the table is sorted by strcmp on it */
	const char *type;
} mime_entry_t;

#define UTF8 "; charset=utf-8"

static const mime_entry_t mime_table[] = {
	{ "7z", "application/x-7z-compressed" },
	{ "aac", "audio/aac" },
	{ "apk", "application/vnd.android.package-archive" },
	{ "apng", "image/apng" },
	{ "asc", "text/plain" UTF8 },
	{ "atom", "application/atom+xml" UTF8 },
	{ "avi", "video/x-msvideo" },
	{ "avif", "image/avif" },
	{ "bin", "application/octet-stream" },
	{ "bmp", "image/bmp" },
	{ "bz2", "application/x-bzip2" },
	{ "c", "text/plain" UTF8 },
	{ "cc", "text/plain" UTF8 },
	{ "conf", "text/plain" UTF8 },
	{ "cpp", "text/plain" UTF8 },
	{ "css", "text/css" UTF8 },
	{ "csv", "text/csv" UTF8 },
	{ "deb", "application/vnd.debian.binary-package" },
	{ "diff", "text/plain" UTF8 },
	{ "dll", "application/vnd.microsoft.portable-executable" },
	{ "dmg", "application/x-apple-diskimage" },
	{ "doc", "application/msword" },
	{ "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document" },
	{ "eot", "application/vnd.ms-fontobject" },
	{ "epub", "application/epub+zip" },
	{ "exe", "application/vnd.microsoft.portable-executable" },
	{ "flac", "audio/flac" },
	{ "gif", "image/gif" },
	{ "go", "text/plain" UTF8 },
	{ "gz", "application/gzip" },
	{ "h", "text/plain" UTF8 },
	{ "heic", "image/heic" },
	{ "htm", "text/html" UTF8 },
	{ "html", "text/html" UTF8 },
	{ "ico", "image/x-icon" },
	{ "ics", "text/calendar" UTF8 },
	{ "img", "application/octet-stream" },
	{ "ini", "text/plain" UTF8 },
	{ "iso", "application/x-iso9660-image" },
	{ "jar", "application/java-archive" },
	{ "java", "text/plain" UTF8 },
	{ "jpeg", "image/jpeg" },
	{ "jpg", "image/jpeg" },
	{ "js", "text/javascript" UTF8 },
	{ "json", "application/json" UTF8 },
	{ "jxl", "image/jxl" },
	{ "log", "text/plain" UTF8 },
	{ "lz4", "application/x-lz4" },
	{ "m3u8", "application/vnd.apple.mpegurl" },
	{ "m4a", "audio/mp4" },
	{ "m4v", "video/mp4" },
	{ "map", "application/json" UTF8 },
	{ "md", "text/markdown" UTF8 },
	{ "mjs", "text/javascript" UTF8 },
	{ "mkv", "video/x-matroska" },
	{ "mov", "video/quicktime" },
	{ "mp3", "audio/mpeg" },
	{ "mp4", "video/mp4" },
	{ "mpeg", "video/mpeg" },
	{ "mpg", "video/mpeg" },
	{ "msi", "application/x-msi" },
	{ "odp", "application/vnd.oasis.opendocument.presentation" },
	{ "ods", "application/vnd.oasis.opendocument.spreadsheet" },
	{ "odt", "application/vnd.oasis.opendocument.text" },
	{ "oga", "audio/ogg" },
	{ "ogg", "audio/ogg" },
	{ "ogv", "video/ogg" },
	{ "opus", "audio/ogg" },
	{ "otf", "font/otf" },
	{ "patch", "text/plain" UTF8 },
	{ "pdf", "application/pdf" },
	{ "pem", "text/plain" UTF8 },
	{ "png", "image/png" },
	{ "ppt", "application/vnd.ms-powerpoint" },
	{ "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation" },
	{ "psd", "image/vnd.adobe.photoshop" },
	{ "py", "text/plain" UTF8 },
	{ "rar", "application/vnd.rar" },
	{ "rpm", "application/x-rpm" },
	{ "rs", "text/plain" UTF8 },
	{ "rss", "application/rss+xml" UTF8 },
	{ "rtf", "application/rtf" },
	{ "sh", "text/plain" UTF8 },
	{ "sig", "application/pgp-signature" },
	{ "srt", "text/plain" UTF8 },
	{ "svg", "image/svg+xml" UTF8 },
	{ "tar", "application/x-tar" },
	{ "tgz", "application/gzip" },
	{ "tif", "image/tiff" },
	{ "tiff", "image/tiff" },
	{ "toml", "text/plain" UTF8 },
	{ "torrent", "application/x-bittorrent" },
	{ "tsv", "text/tab-separated-values" UTF8 },
	{ "ttf", "font/ttf" },
	{ "txt", "text/plain" UTF8 },
	{ "vtt", "text/vtt" UTF8 },
	{ "wasm", "application/wasm" },
	{ "wav", "audio/wav" },
	{ "webm", "video/webm" },
	{ "webmanifest", "application/manifest+json" UTF8 },
	{ "webp", "image/webp" },
	{ "woff", "font/woff" },
	{ "woff2", "font/woff2" },
	{ "xhtml", "application/xhtml+xml" UTF8 },
	{ "xls", "application/vnd.ms-excel" },
	{ "xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet" },
	{ "xml", "application/xml" UTF8 },
	{ "xz", "application/x-xz" },
	{ "yaml", "application/yaml" UTF8 },
	{ "yml", "application/yaml" UTF8 },
	{ "zip", "application/zip" },
	{ "zst", "application/zstd" },
};

/* Longer than any extension in the table: a longer one cannot match. */
#define EXT_MAX 16

const char *xfer_mime_type(const char *name)
{
	static const char fallback[] = "application/octet-stream";
	const char *base = strrchr(name, '/');
	base = base ? base + 1 : name;
	const char *dot = strrchr(base, '.');
	/* No dot, a trailing dot, or only a leading one (".bashrc"): no extension. */
	if (!dot || dot == base || dot[1] == '\0')
		return fallback;

	/* Lower-case by hand rather than strcasecmp: no locale may change the
	 * order the binary search relies on. */
	char ext[EXT_MAX + 1];
	size_t n = 0;
	for (const char *p = dot + 1; *p; p++) {
		if (n == EXT_MAX)
			return fallback;
		char c = *p;
		ext[n++] = (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
	}
	ext[n] = '\0';

	size_t lo = 0, hi = WF_ARRAY_LEN(mime_table);
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int cmp = strcmp(ext, mime_table[mid].ext);
		if (cmp == 0)
			return mime_table[mid].type;
		if (cmp < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return fallback;
}
