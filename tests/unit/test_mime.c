/* Content-Type by extension: known types, case, charset, edge names, and every
 * table entry reachable (which a mis-sorted table would break). */
#include "transfer/mime.h"

#include "server/base.h"

#include "check.h"

static const char octet[] = "application/octet-stream";

/* Every extension of the table, so a mis-sorted entry shows up as a miss. */
static const char *const all_exts[] = {
	"7z", "aac", "apk", "apng", "asc", "atom", "avi", "avif", "bin", "bmp", "bz2", "c",
	"cc", "conf", "cpp", "css", "csv", "deb", "diff", "dll", "dmg", "doc", "docx", "eot",
	"epub", "exe", "flac", "gif", "go", "gz", "h", "heic", "htm", "html", "ico", "ics",
	"img", "ini", "iso", "jar", "java", "jpeg", "jpg", "js", "json", "jxl", "log", "lz4",
	"m3u8", "m4a", "m4v", "map", "md", "mjs", "mkv", "mov", "mp3", "mp4", "mpeg", "mpg",
	"msi", "odp", "ods", "odt", "oga", "ogg", "ogv", "opus", "otf", "patch", "pdf", "pem",
	"png", "ppt", "pptx", "psd", "py", "rar", "rpm", "rs", "rss", "rtf", "sh", "sig",
	"srt", "svg", "tar", "tgz", "tif", "tiff", "toml", "torrent", "tsv", "ttf", "txt",
	"vtt", "wasm", "wav", "webm", "webmanifest", "webp", "woff", "woff2", "xhtml", "xls",
	"xlsx", "xml", "xz", "yaml", "yml", "zip", "zst",
};

static void check_all_reachable(void)
{
	char name[32];
	int reachable = 0;
	for (size_t i = 0; i < WF_ARRAY_LEN(all_exts); i++) {
		snprintf(name, sizeof(name), "f.%s", all_exts[i]);
		const char *t = xfer_mime_type(name);
		/* .bin and .img are octet-stream on purpose. */
		if (strcmp(t, octet) != 0 || !strcmp(all_exts[i], "bin") || !strcmp(all_exts[i], "img"))
			reachable++;
		else
			fprintf(stderr, "unreachable: %s\n", all_exts[i]);
	}
	CHECK_EQ_INT(reachable, WF_ARRAY_LEN(all_exts));
	CHECK(WF_ARRAY_LEN(all_exts) >= 60);
}

static void check_known(void)
{
	CHECK_EQ_STR(xfer_mime_type("index.html"), "text/html; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("index.htm"), "text/html; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.css"), "text/css; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.js"), "text/javascript; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.mjs"), "text/javascript; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.json"), "application/json; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.xml"), "application/xml; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.svg"), "image/svg+xml; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.txt"), "text/plain; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.md"), "text/markdown; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.py"), "text/plain; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.png"), "image/png");
	CHECK_EQ_STR(xfer_mime_type("a.jpg"), "image/jpeg");
	CHECK_EQ_STR(xfer_mime_type("a.jpeg"), "image/jpeg");
	CHECK_EQ_STR(xfer_mime_type("a.webp"), "image/webp");
	CHECK_EQ_STR(xfer_mime_type("a.avif"), "image/avif");
	CHECK_EQ_STR(xfer_mime_type("a.pdf"), "application/pdf");
	CHECK_EQ_STR(xfer_mime_type("a.zip"), "application/zip");
	CHECK_EQ_STR(xfer_mime_type("a.mp4"), "video/mp4");
	CHECK_EQ_STR(xfer_mime_type("a.mp3"), "audio/mpeg");
	CHECK_EQ_STR(xfer_mime_type("a.woff2"), "font/woff2");
	CHECK_EQ_STR(xfer_mime_type("a.wasm"), "application/wasm");
	CHECK_EQ_STR(xfer_mime_type("a.7z"), "application/x-7z-compressed");
	CHECK_EQ_STR(xfer_mime_type("a.zst"), "application/zstd");
	CHECK_EQ_STR(xfer_mime_type("a.webmanifest"), "application/manifest+json; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("a.xlsx"), "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
}

static void check_names(void)
{
	/* Case-insensitive. */
	CHECK_EQ_STR(xfer_mime_type("PHOTO.JPG"), "image/jpeg");
	CHECK_EQ_STR(xfer_mime_type("Notes.TxT"), "text/plain; charset=utf-8");
	/* Last extension wins; folders in the name do not count. */
	CHECK_EQ_STR(xfer_mime_type("backup.tar.gz"), "application/gzip");
	CHECK_EQ_STR(xfer_mime_type("dir.d/readme.txt"), "text/plain; charset=utf-8");
	CHECK_EQ_STR(xfer_mime_type("dir.html/readme"), octet);
	/* No extension. */
	CHECK_EQ_STR(xfer_mime_type(""), octet);
	CHECK_EQ_STR(xfer_mime_type("README"), octet);
	CHECK_EQ_STR(xfer_mime_type(".bashrc"), octet);
	CHECK_EQ_STR(xfer_mime_type("dir/.html"), octet);
	CHECK_EQ_STR(xfer_mime_type("file."), octet);
	/* Unknown, too long, or not ASCII. */
	CHECK_EQ_STR(xfer_mime_type("a.unknownext"), octet);
	CHECK_EQ_STR(xfer_mime_type("a.webmanifestwebmanifest"), octet);
	CHECK_EQ_STR(xfer_mime_type("a.h\xc3\xa9"), octet);
	CHECK_EQ_STR(xfer_mime_type("a.0"), octet);
	CHECK_EQ_STR(xfer_mime_type("a.~"), octet);
	/* The first and last table entries. */
	CHECK_EQ_STR(xfer_mime_type("x.7Z"), "application/x-7z-compressed");
	CHECK_EQ_STR(xfer_mime_type("x.ZST"), "application/zstd");
}

int main(void)
{
	check_all_reachable();
	check_known();
	check_names();
	return check_report();
}
