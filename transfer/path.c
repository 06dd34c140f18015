/* Confined file access: see path.h.
 *
 * The kernel does the confinement: openat2(2) with RESOLVE_BENEATH refuses any
 * resolution step ("..", an absolute path, a symlink's target) that would leave
 * home_fd, atomically with the lookup, so a concurrent rename or symlink swap
 * cannot slip in between a check and a use.
 *
 * Fallback: where openat2 gives ENOSYS (a kernel before 5.6, or a seccomp
 * filter that does not know it), the path is walked one segment at a time with
 * openat(O_NOFOLLOW), O_PATH|O_DIRECTORY for folders. That walk refuses ".."
 * segments (-EXDEV) and every symlink (-ELOOP), even one that stays inside the
 * home: telling an in-tree link from an escaping one would mean resolving it in
 * user space, which is the race openat2 exists to close. Stricter, never looser. */
#include "path.h"

#include <errno.h>
#include <fcntl.h>
#include <gnutls/crypto.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#define HIDDEN_PREFIX ".wharf-upload."
#define HIDDEN_PREFIX_LEN (sizeof(HIDDEN_PREFIX) - 1)
#define TMP_RANDOM_HEX 16

/* RESOLVE_BENEATH fails with EAGAIN when a rename anywhere on the system raced
 * with a ".." step; the kernel expects the caller to retry. A few tries cover
 * any honest race; past that, the caller gets -EAGAIN rather than a spin. */
#define OPENAT2_TRIES 8

static int needs_mode(int flags)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE;
}

static int open_beneath_openat2(int home_fd, const char *rel, int flags, mode_t mode)
{
	struct open_how how;
	memset(&how, 0, sizeof(how));
	how.flags = (unsigned int)(flags | O_CLOEXEC);
	/* openat2 is strict where openat is lenient: a mode without O_CREAT or
	 * O_TMPFILE is EINVAL, so only pass it when it means something. */
	how.mode = needs_mode(flags) ? mode : 0;
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	for (int i = 0; i < OPENAT2_TRIES; i++) {
		long fd = syscall(SYS_openat2, home_fd, rel, &how, sizeof(how));
		if (fd >= 0)
			return (int)fd;
		if (errno != EAGAIN)
			break;
	}
	return -errno;
}

/* O_NOFOLLOW on a symlink gives ELOOP, except that O_DIRECTORY is checked
 * first and turns it into ENOTDIR; callers want to hear "link refused". */
static int link_or(int dir_fd, const char *name, int err)
{
	struct stat st;
	if (err == ENOTDIR && fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK(st.st_mode))
		return -ELOOP;
	return -err;
}

static int open_beneath_walk(int home_fd, const char *rel, int flags, mode_t mode)
{
	char seg[NAME_MAX + 1];
	int dir_fd = home_fd; /* borrowed while it is home_fd, owned after */
	int rc;
	const char *p = rel;

	for (;;) {
		while (*p == '/')
			p++;
		const char *end = strchrnul(p, '/');
		size_t n = (size_t)(end - p);
		const char *rest = end;
		while (*rest == '/')
			rest++;
		int last = *rest == '\0';

		if (n == 0) {
			/* "" (the home itself) or a path of only slashes. */
			rc = openat(dir_fd, ".", flags | O_CLOEXEC, mode);
			rc = rc < 0 ? -errno : rc;
			goto out;
		}
		if (n > NAME_MAX) {
			rc = -ENAMETOOLONG;
			goto out;
		}
		memcpy(seg, p, n);
		seg[n] = '\0';
		if (strcmp(seg, "..") == 0) {
			rc = -EXDEV;
			goto out;
		}
		if (last) {
			/* A trailing slash asks for a folder, as it does for open(2). */
			int f = flags | O_CLOEXEC | O_NOFOLLOW | (*end == '/' ? O_DIRECTORY : 0);
			rc = openat(dir_fd, seg, f, mode);
			rc = rc < 0 ? link_or(dir_fd, seg, errno) : rc;
			goto out;
		}
		if (strcmp(seg, ".") != 0) {
			int next = openat(dir_fd, seg, O_PATH | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (next < 0) {
				rc = link_or(dir_fd, seg, errno);
				goto out;
			}
			if (dir_fd != home_fd)
				close(dir_fd);
			dir_fd = next;
		}
		p = rest;
	}
out:
	if (dir_fd != home_fd)
		close(dir_fd);
	return rc;
}

int xfer_path_open(int home_fd, const char *rel, int flags, mode_t mode)
{
	/* openat2 says -EXDEV for an absolute path too; saying it here keeps the
	 * fallback walk, which would otherwise just skip the slash, in step. */
	if (rel[0] == '/')
		return -EXDEV;
	if (rel[0] == '\0' && ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC))))
		return -EISDIR;
	int rc = open_beneath_openat2(home_fd, rel[0] ? rel : ".", flags, mode);
	if (rc == -ENOSYS)
		rc = open_beneath_walk(home_fd, rel, flags, mode);
	return rc;
}

int xfer_path_open_parent(int home_fd, const char *rel, const char **leaf)
{
	char parent[PATH_MAX];
	const char *slash = strrchr(rel, '/');
	const char *name = slash ? slash + 1 : rel;

	if (rel[0] == '/')
		return -EXDEV;
	/* "", "a/", "." or "..": no leaf that a create, rename or unlink in the
	 * parent could use without touching the parent itself or its parent. */
	if (name[0] == '\0' || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return -EINVAL;
	if (strlen(name) > NAME_MAX)
		return -ENAMETOOLONG;
	size_t n = slash ? (size_t)(slash - rel) : 0;
	if (n >= sizeof(parent))
		return -ENAMETOOLONG;
	memcpy(parent, rel, n);
	parent[n] = '\0';
	/* A real fd, not O_PATH: the caller fsyncs the folder after a rename. */
	int fd = xfer_path_open(home_fd, parent, O_RDONLY | O_DIRECTORY, 0);
	if (fd >= 0)
		*leaf = name;
	return fd;
}

#define PARTIAL_SUFFIX ".partial"
#define CLAIMED_SUFFIX ".claimed"
#define SUFFIX_LEN (sizeof(PARTIAL_SUFFIX) - 1) /* of either: one cut-and-hash rule serves both */
_Static_assert(sizeof(PARTIAL_SUFFIX) == sizeof(CLAIMED_SUFFIX), "a partial and its claimed name share one length");
#define UTF8_MAX_BACK 3     /* continuation bytes in one UTF-8 character, at most */
#define PARTIAL_HASH_HEX 16 /* hex digits of SHA-256(leaf) in a long leaf's partial name */
#define PARTIAL_TAG_LEN (1 + PARTIAL_HASH_HEX) /* "~" and those digits */
/* The longest leaf whose partial name holds it whole. A long leaf's partial
 * name holds a cut of it (leaf_cut: at least PARTIAL_CUT_MAX - UTF8_MAX_BACK
 * bytes) and the tag, so its leaf part is at least PARTIAL_WHOLE_MAX + 1
 * bytes long: no whole leaf, not even one made to look like "<cut>~<hex>",
 * can give the same name as a long one. */
#define PARTIAL_CUT_MAX (NAME_MAX - HIDDEN_PREFIX_LEN - SUFFIX_LEN - PARTIAL_TAG_LEN)
#define PARTIAL_WHOLE_MAX (PARTIAL_CUT_MAX - UTF8_MAX_BACK + PARTIAL_TAG_LEN - 1)

static int random_hex(char *out, size_t nhex)
{
	unsigned char raw[TMP_RANDOM_HEX / 2];
	static const char hex[] = "0123456789abcdef";
	size_t nraw = nhex / 2;

	if (nraw > sizeof(raw))
		return -EINVAL;
	for (size_t got = 0; got < nraw;) {
		ssize_t r = getrandom(raw + got, nraw - got, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		got += (size_t)r;
	}
	for (size_t i = 0; i < nraw; i++) {
		out[2 * i] = hex[raw[i] >> 4];
		out[2 * i + 1] = hex[raw[i] & 15];
	}
	out[nhex] = '\0';
	return 0;
}

/* How much of leaf goes into a hidden name that adds suffix_len bytes after
 * the prefix and the leaf; -EINVAL for a leaf no file can have. */
static ssize_t leaf_cut(const char *leaf, size_t suffix_len)
{
	const size_t leaf_max = NAME_MAX - HIDDEN_PREFIX_LEN - suffix_len;
	size_t n = strlen(leaf);

	if (n == 0 || strchr(leaf, '/') || strcmp(leaf, ".") == 0 || strcmp(leaf, "..") == 0)
		return -EINVAL;
	if (n > leaf_max) {
		n = leaf_max;
		/* Cut before a UTF-8 continuation byte, not inside a character, so
		 * the name stays readable to whoever finds it after a crash. A
		 * character has at most UTF8_MAX_BACK of them; a longer run is not
		 * UTF-8 and is cut anywhere, so the kept part is never shorter than
		 * leaf_max - UTF8_MAX_BACK (xfer_path_partial_name counts on that). */
		for (int back = 0; back < UTF8_MAX_BACK && ((unsigned char)leaf[n] & 0xc0) == 0x80; back++)
			n--;
	}
	return (ssize_t)n;
}

/* The hidden name of leaf that ends in suffix (SUFFIX_LEN bytes): the
 * partial's, or the claimed one's. Both suffixes have one length, so one
 * leaf's two names differ in their ending alone. */
static int hidden_name(const char *leaf, const char *suffix, char *name_out, size_t name_cap)
{
	size_t len = strlen(leaf);
	if (len <= PARTIAL_WHOLE_MAX) {
		ssize_t n = leaf_cut(leaf, SUFFIX_LEN); /* whole: this only checks the leaf */
		if (n < 0)
			return (int)n;
		if (name_cap < HIDDEN_PREFIX_LEN + (size_t)n + SUFFIX_LEN + 1)
			return -ERANGE;
		snprintf(name_out, name_cap, "%s%.*s%s", HIDDEN_PREFIX, (int)n, leaf, suffix);
		return 0;
	}
	/* Too long to keep whole: names that share the kept part must still get
	 * partials of their own, so a digest of the whole leaf goes with it. */
	ssize_t n = leaf_cut(leaf, SUFFIX_LEN + PARTIAL_TAG_LEN);
	if (n < 0)
		return (int)n;
	if (name_cap < HIDDEN_PREFIX_LEN + (size_t)n + PARTIAL_TAG_LEN + SUFFIX_LEN + 1)
		return -ERANGE;
	unsigned char digest[32];
	char hex[PARTIAL_HASH_HEX + 1];
	static const char digits[] = "0123456789abcdef";
	if (gnutls_hash_fast(GNUTLS_DIG_SHA256, leaf, len, digest) != 0)
		return -EIO;
	for (size_t i = 0; i < PARTIAL_HASH_HEX / 2; i++) {
		hex[2 * i] = digits[digest[i] >> 4];
		hex[2 * i + 1] = digits[digest[i] & 15];
	}
	hex[PARTIAL_HASH_HEX] = '\0';
	snprintf(name_out, name_cap, "%s%.*s~%s%s", HIDDEN_PREFIX, (int)n, leaf, hex, suffix);
	return 0;
}

int xfer_path_partial_name(const char *leaf, char *name_out, size_t name_cap)
{
	return hidden_name(leaf, PARTIAL_SUFFIX, name_out, name_cap);
}

int xfer_path_claimed_name(const char *leaf, char *name_out, size_t name_cap)
{
	return hidden_name(leaf, CLAIMED_SUFFIX, name_out, name_cap);
}

int xfer_path_claimed_of(const char *partial, char *name_out, size_t name_cap)
{
	size_t n = strlen(partial);
	if (!xfer_path_is_partial(partial))
		return -EINVAL;
	if (name_cap < n + 1)
		return -ERANGE;
	snprintf(name_out, name_cap, "%.*s%s", (int)(n - SUFFIX_LEN), partial, CLAIMED_SUFFIX);
	return 0;
}

int xfer_path_tmp_create(int dir_fd, const char *leaf, char *name_out, size_t name_cap)
{
	/* ".wharf-upload." + leaf + "." + 16 hex must fit one name (NAME_MAX). */
	char rnd[TMP_RANDOM_HEX + 1];
	ssize_t cut = leaf_cut(leaf, 1 + TMP_RANDOM_HEX);
	if (cut < 0)
		return (int)cut;
	size_t n = (size_t)cut;
	if (name_cap < HIDDEN_PREFIX_LEN + n + 1 + TMP_RANDOM_HEX + 1)
		return -ERANGE;
	/* 64 random bits make a collision with a stale temp file all but
	 * impossible; O_EXCL makes it harmless, and a retry makes it invisible. */
	int rc = -EEXIST;
	for (int i = 0; i < 4 && rc == -EEXIST; i++) {
		rc = random_hex(rnd, TMP_RANDOM_HEX);
		if (rc < 0)
			break;
		snprintf(name_out, name_cap, "%s%.*s.%s", HIDDEN_PREFIX, (int)n, leaf, rnd);
		rc = openat(dir_fd, name_out, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (rc < 0)
			rc = -errno;
	}
	return rc;
}

int xfer_path_is_hidden(const char *name)
{
	return name && strncmp(name, HIDDEN_PREFIX, HIDDEN_PREFIX_LEN) == 0;
}

static int hidden_ending(const char *name, const char *suffix)
{
	size_t n = name ? strlen(name) : 0;
	return xfer_path_is_hidden(name) && n >= HIDDEN_PREFIX_LEN + SUFFIX_LEN &&
	       strcmp(name + n - SUFFIX_LEN, suffix) == 0;
}

int xfer_path_is_reserved(const char *name)
{
	return name && strncasecmp(name, HIDDEN_PREFIX, HIDDEN_PREFIX_LEN) == 0;
}

int xfer_path_is_partial(const char *name)
{
	return hidden_ending(name, PARTIAL_SUFFIX);
}

int xfer_path_is_claimed(const char *name)
{
	return hidden_ending(name, CLAIMED_SUFFIX);
}

int xfer_path_rename_new(int from_dfd, const char *from, int to_dfd, const char *to)
{
	int rc = renameat2(from_dfd, from, to_dfd, to, RENAME_NOREPLACE);
	if (rc == 0 || errno != EINVAL)
		return rc;
	if (linkat(from_dfd, from, to_dfd, to, 0) != 0)
		return -1;
	unlinkat(from_dfd, from, 0);
	return 0;
}
