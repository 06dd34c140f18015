/* File access confined beneath a user's home folder.
 * Every open goes through openat2(2) with RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS
 * relative to the home's directory fd, so "..", absolute symlinks and symlinks
 * that lead outside can never reach beyond the home, whatever the path says.
 * `rel` is a normalized relative path as made by xfer_url_to_path ("" = home);
 * an absolute one is refused with -EXDEV.
 * Where openat2 is missing (ENOSYS: kernel before 5.6, or a seccomp filter),
 * path.c walks the path one segment at a time with O_NOFOLLOW instead: ".."
 * is then -EXDEV and every symlink, even one that stays inside, is -ELOOP. */
#ifndef XFER_PATH_H
#define XFER_PATH_H

#include <sys/stat.h>
#include <sys/types.h>

/* Opens rel beneath home_fd with open(2) flags (O_CLOEXEC is added). Returns an
 * fd, or -errno (-EXDEV or -ELOOP when the path tries to escape). "" opens the
 * home itself (flags must then be O_RDONLY or O_RDONLY|O_DIRECTORY, else
 * -EISDIR). `mode` is only used with O_CREAT or O_TMPFILE. */
int xfer_path_open(int home_fd, const char *rel, int flags, mode_t mode);

/* Opens the folder that holds rel's last segment, beneath home_fd, and points
 * *leaf at that segment inside rel. Returns a directory fd or -errno; -EINVAL
 * when rel is "" (the home has no parent inside the home) or its last segment
 * is empty, "." or "..". The fd is a real one (not O_PATH): it can be fsynced. */
int xfer_path_open_parent(int home_fd, const char *rel, const char **leaf);

/* Creates a temporary file for an upload in dir_fd, named
 * ".wharf-upload.<leaf>.<random>" (hidden, and never taken for the final file),
 * with O_CREAT|O_EXCL|O_WRONLY|O_CLOEXEC and mode 0644. Writes the name (NUL-
 * terminated) into name_out (name_cap bytes; NAME_MAX + 1 always suffices).
 * <random> is 16 hex digits from getrandom; a long leaf is cut (at a UTF-8
 * character boundary) so the name fits NAME_MAX. The mode is subject to the
 * umask. Returns an fd or -errno: -EINVAL for a leaf that is empty, ".", ".."
 * or holds '/', -ERANGE when name_cap is too small. */
int xfer_path_tmp_create(int dir_fd, const char *leaf, char *name_out, size_t name_cap);

/* The name under which an interrupted FTP upload of leaf waits to be resumed,
 * the only place that name is made: ".wharf-upload.<leaf>.partial", or, for a
 * leaf too long for that (over 229 bytes), ".wharf-upload.<cut>~<hash>.partial"
 * with <cut> the leaf's head cut at a UTF-8 character boundary and <hash> the
 * first 16 hex digits of SHA-256(leaf), so that two leaves sharing a long head
 * still get partials of their own; either way at most NAME_MAX bytes. 0, or
 * -EINVAL / -ERANGE as for xfer_path_tmp_create. A pure function (no I/O). */
int xfer_path_partial_name(const char *leaf, char *name_out, size_t name_cap);

/* The name that says "a resumption of leaf is under way": the temp file of
 * an upload that resumes (a claimed partial, or the copy of leaf's head
 * APPE or REST+STOR keeps), made by a rename with RENAME_NOREPLACE or an
 * O_EXCL create, so two resumptions of one leaf exclude each other, and
 * named the way the partial is, ".wharf-upload.<leaf>.claimed" (long
 * leaves cut and hashed alike: ".claimed" is as long as ".partial"). It is
 * never a partial's name nor a temp file's. As pure as the above. */
int xfer_path_claimed_name(const char *leaf, char *name_out, size_t name_cap);

/* The claimed name that goes with the partial name partial (the sweep,
 * which meets partials by their names alone). 0, -EINVAL for a name that is
 * no partial's, or -ERANGE. */
int xfer_path_claimed_of(const char *partial, char *name_out, size_t name_cap);

/* True for the server's own names: the upload temp files above, partial and
 * claimed names included. The sweep and a folder's removal act on these. */
int xfer_path_is_hidden(const char *name);

/* True for names that listings hide and requests may not address: those of
 * xfer_path_is_hidden in any case, as a folder of a case-insensitive file
 * system (ext4's casefold, a vfat mount) finds ".WHARF-UPLOAD.x.partial"
 * under the name the server gave it. */
int xfer_path_is_reserved(const char *name);

/* True for the partial names above (hidden, ending ".partial"); a temp
 * file's name (ending in random hex) never is, nor a claimed name. */
int xfer_path_is_partial(const char *name);

/* True for the claimed names above (hidden, ending ".claimed"). */
int xfer_path_is_claimed(const char *name);

/* renameat that never replaces: an existing to stays and the answer is -1
 * with EEXIST. Where the file system lacks RENAME_NOREPLACE, a file is
 * moved by link then unlink, which refuses an existing name as atomically
 * (a folder then cannot move: EPERM). 0, or -1 with errno. */
int xfer_path_rename_new(int from_dfd, const char *from, int to_dfd, const char *to);

#endif
