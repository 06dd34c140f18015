/* Content-Type by file-name extension. */
#ifndef XFER_MIME_H
#define XFER_MIME_H

/* Returns a static string: the media type for the name's extension (case-
 * insensitive), with "; charset=utf-8" for text types (all of text/, JSON,
 * XML, JavaScript), or "application/octet-stream" when unknown. The extension is
 * what follows the last '.' of the last '/'-segment; a leading dot (".bashrc")
 * does not start one. */
const char *xfer_mime_type(const char *name);

#endif
