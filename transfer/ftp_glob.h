/* Wildcards in the last segment of a LIST, NLST or STAT path ("*.txt",
 * "f?le[0-9].bin"), as vsftpd, ProFTPD and Pure-FTPd take them: pure
 * functions over bytes, no locale, no allocation. docs/ftps.md says how the
 * session uses them (the literal name first, then the pattern).
 *   *       any run of characters, the empty one too
 *   ?       one character
 *   [abc]   one of those; [a-z] a range; [!a-z] or [^a-z] none of them;
 *           a ']' first in the class is a member, a '-' first or last too
 *   \c      c itself (a trailing '\' is a '\')
 * An unclosed '[' is a '[' itself. A character is one UTF-8 sequence when
 * the bytes form a valid one, else one byte (so '?' matches "é" once and a
 * name in Latin-1 still byte by byte); ranges compare code points.
 * The matcher keeps one backtracking point (the last '*'), so its time is
 * at most pattern length x name length, never exponential. */
#ifndef XFER_FTP_GLOB_H
#define XFER_FTP_GLOB_H

#include "../server/base.h"

#include <stdbool.h>

/* Longest pattern matched: a file name's own limit (NAME_MAX), as a pattern
 * stands for one name. With names of at most as many bytes, one match is
 * at most 255 x 255 steps. */
#define XFER_FTP_GLOB_MAX 255

/* Does pat hold a wildcard ('*', '?', or a '[' that opens a closed class)
 * that a backslash does not quote? */
bool xfer_ftp_glob_magic(wf_slice_t pat);
/* Does name match pat? false when pat is longer than XFER_FTP_GLOB_MAX. */
bool xfer_ftp_glob_match(wf_slice_t pat, wf_slice_t name);

#endif
