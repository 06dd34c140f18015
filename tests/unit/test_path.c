/* Confinement beneath a home folder: good paths open, every escape is refused,
 * both through openat2 and through the fallback walk (forced by a seccomp
 * filter that answers openat2 with ENOSYS, as an old kernel would). */
#include "transfer/path.h"

#include "server/base.h"

#include "check.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static char root[64];
static int home_fd = -1;

#define CHECK_ESCAPE(rc) CHECK((rc) == -EXDEV || (rc) == -ELOOP)

static void put_file(const char *rel, const char *text)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	FILE *f = fopen(p, "w");
	if (!f) {
		perror(p);
		exit(2);
	}
	fputs(text, f);
	fclose(f);
}

static void put_dir(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (mkdir(p, 0755) != 0) {
		perror(p);
		exit(2);
	}
}

static void put_link(const char *target, const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	if (symlink(target, p) != 0) {
		perror(p);
		exit(2);
	}
}

static int exists(const char *rel)
{
	char p[PATH_MAX];
	struct stat st;
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	return lstat(p, &st) == 0;
}

static void remove_file(const char *rel)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	unlink(p);
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/wharf-path-XXXXXX");
	if (!mkdtemp(root)) {
		perror("mkdtemp");
		exit(2);
	}
	put_dir("home");
	put_dir("home/sub");
	put_file("home/sub/file", "hello");
	put_file("home/top", "top");
	put_file("outside", "secret");
	put_dir("outdir");
	put_file("outdir/x", "secret");
	put_link("../outside", "home/esc");
	put_link("../outdir", "home/escdir");
	put_link("/etc/passwd", "home/abs");
	put_link("sub/file", "home/inlink");
	put_link("sub", "home/sublink");
	put_link("../outdir/created", "home/dangle");
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/home", root);
	home_fd = open(p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (home_fd < 0) {
		perror(p);
		exit(2);
	}
}

static int read_is(int fd, const char *want)
{
	char b[64];
	ssize_t n = read(fd, b, sizeof(b) - 1);
	if (n < 0)
		return 0;
	b[n] = '\0';
	return strcmp(b, want) == 0;
}

static void check_good(int fd, const char *want)
{
	CHECK(fd >= 0);
	if (fd >= 0) {
		if (want)
			CHECK(read_is(fd, want));
		close(fd);
	}
}

static void check_open(int walk)
{
	int fd;

	check_good(xfer_path_open(home_fd, "sub/file", O_RDONLY, 0), "hello");
	check_good(xfer_path_open(home_fd, "top", O_RDONLY, 0), "top");
	check_good(xfer_path_open(home_fd, "", O_RDONLY, 0), NULL);
	check_good(xfer_path_open(home_fd, "", O_RDONLY | O_DIRECTORY, 0), NULL);
	check_good(xfer_path_open(home_fd, "sub", O_RDONLY | O_DIRECTORY, 0), NULL);
	check_good(xfer_path_open(home_fd, "sub/", O_RDONLY, 0), NULL);
	/* openat2 rejects a mode without O_CREAT; the module must not pass one. */
	check_good(xfer_path_open(home_fd, "top", O_RDONLY, 0644), "top");
	CHECK_EQ_INT(xfer_path_open(home_fd, "", O_WRONLY, 0), -EISDIR);
	CHECK_EQ_INT(xfer_path_open(home_fd, "missing", O_RDONLY, 0), -ENOENT);
	CHECK_EQ_INT(xfer_path_open(home_fd, "top/x", O_RDONLY, 0), -ENOTDIR);

	/* O_CLOEXEC is always added. */
	fd = xfer_path_open(home_fd, "top", O_RDONLY, 0);
	CHECK(fd >= 0 && (fcntl(fd, F_GETFD) & FD_CLOEXEC));
	if (fd >= 0)
		close(fd);

	/* In-tree symlinks: openat2 follows them, the walk refuses every link. */
	if (walk) {
		CHECK_EQ_INT(xfer_path_open(home_fd, "inlink", O_RDONLY, 0), -ELOOP);
		CHECK_EQ_INT(xfer_path_open(home_fd, "sublink/file", O_RDONLY, 0), -ELOOP);
		CHECK_EQ_INT(xfer_path_open(home_fd, "sublink", O_RDONLY | O_DIRECTORY, 0), -ELOOP);
	} else {
		check_good(xfer_path_open(home_fd, "inlink", O_RDONLY, 0), "hello");
		check_good(xfer_path_open(home_fd, "sublink/file", O_RDONLY, 0), "hello");
	}

	/* Escapes, lexical and through links. */
	CHECK_ESCAPE(xfer_path_open(home_fd, "esc", O_RDONLY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "abs", O_RDONLY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "escdir/x", O_RDONLY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "escdir", O_RDONLY | O_DIRECTORY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "../outside", O_RDONLY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "..", O_RDONLY | O_DIRECTORY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "sub/../../outside", O_RDONLY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "/etc/passwd", O_RDONLY, 0));
	CHECK_ESCAPE(xfer_path_open(home_fd, "/", O_RDONLY | O_DIRECTORY, 0));

	/* Creating through a link must not create anything outside. */
	CHECK_ESCAPE(xfer_path_open(home_fd, "escdir/new", O_WRONLY | O_CREAT | O_EXCL, 0600));
	CHECK(!exists("outdir/new"));
	CHECK_ESCAPE(xfer_path_open(home_fd, "dangle", O_WRONLY | O_CREAT, 0600));
	CHECK(!exists("outdir/created"));
	fd = xfer_path_open(home_fd, "sub/new", O_WRONLY | O_CREAT | O_EXCL, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
	CHECK(exists("home/sub/new"));
	remove_file("home/sub/new");

	/* Magic links (procfs) are refused even when the "home" is in /proc. */
	int proc_fd = open("/proc/self", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (proc_fd >= 0) {
		CHECK_ESCAPE(xfer_path_open(proc_fd, "cwd", O_RDONLY | O_DIRECTORY, 0));
		CHECK_ESCAPE(xfer_path_open(proc_fd, "exe", O_RDONLY, 0));
		CHECK_ESCAPE(xfer_path_open(proc_fd, "root/etc/passwd", O_RDONLY, 0));
		close(proc_fd);
	}
}

static void check_parent(int walk)
{
	const char *leaf = NULL;
	struct stat a, b;
	const char *rel = "sub/file";

	int fd = xfer_path_open_parent(home_fd, rel, &leaf);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(leaf == rel + 4);
		CHECK_EQ_STR(leaf, "file");
		CHECK(fstatat(fd, leaf, &a, 0) == 0 && S_ISREG(a.st_mode));
		/* A real fd, so the folder can be fsynced after a rename. */
		CHECK(fsync(fd) == 0);
		close(fd);
	}

	leaf = NULL;
	fd = xfer_path_open_parent(home_fd, "top", &leaf);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ_STR(leaf, "top");
		CHECK(fstat(fd, &a) == 0 && fstat(home_fd, &b) == 0 && a.st_ino == b.st_ino);
		close(fd);
	}

	leaf = NULL;
	fd = xfer_path_open_parent(home_fd, "sub/not-yet", &leaf);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK_EQ_STR(leaf, "not-yet");
		close(fd);
	}

	leaf = NULL;
	CHECK_EQ_INT(xfer_path_open_parent(home_fd, "", &leaf), -EINVAL);
	CHECK_EQ_INT(xfer_path_open_parent(home_fd, "sub/", &leaf), -EINVAL);
	CHECK_EQ_INT(xfer_path_open_parent(home_fd, "sub/..", &leaf), -EINVAL);
	CHECK_EQ_INT(xfer_path_open_parent(home_fd, "..", &leaf), -EINVAL);
	CHECK_EQ_INT(xfer_path_open_parent(home_fd, "missing/x", &leaf), -ENOENT);
	CHECK_ESCAPE(xfer_path_open_parent(home_fd, "escdir/x", &leaf));
	CHECK_ESCAPE(xfer_path_open_parent(home_fd, "../outdir/x", &leaf));
	CHECK_ESCAPE(xfer_path_open_parent(home_fd, "/etc/passwd", &leaf));
	CHECK(leaf == NULL);
	(void)walk;
}

static int is_tmp_name(const char *name, const char *leaf_part)
{
	size_t p = strlen(".wharf-upload."), l = strlen(leaf_part), n = strlen(name);
	if (n != p + l + 1 + 16 || memcmp(name, ".wharf-upload.", p) != 0 ||
	    memcmp(name + p, leaf_part, l) != 0 || name[p + l] != '.')
		return 0;
	for (size_t i = p + l + 1; i < n; i++)
		if (!strchr("0123456789abcdef", name[i]))
			return 0;
	return 1;
}

static void check_tmp(void)
{
	char a[NAME_MAX + 1], b[NAME_MAX + 1], small[20];
	struct stat st;
	int dir = xfer_path_open(home_fd, "sub", O_RDONLY | O_DIRECTORY, 0);
	CHECK(dir >= 0);

	umask(022);
	int fa = xfer_path_tmp_create(dir, "file", a, sizeof(a));
	int fb = xfer_path_tmp_create(dir, "file", b, sizeof(b));
	CHECK(fa >= 0 && fb >= 0);
	CHECK(is_tmp_name(a, "file"));
	CHECK(is_tmp_name(b, "file"));
	CHECK(strcmp(a, b) != 0);
	CHECK(xfer_path_is_hidden(a));
	CHECK(fstatat(dir, a, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode) &&
	      (st.st_mode & 07777) == 0644);
	CHECK(fa >= 0 && (fcntl(fa, F_GETFL) & O_ACCMODE) == O_WRONLY);
	CHECK(fa >= 0 && (fcntl(fa, F_GETFD) & FD_CLOEXEC));
	CHECK(fa >= 0 && write(fa, "x", 1) == 1);
	if (fa >= 0)
		close(fa);
	if (fb >= 0)
		close(fb);
	unlinkat(dir, a, 0);
	unlinkat(dir, b, 0);

	/* A long leaf is cut so the whole name still fits NAME_MAX. */
	char longleaf[NAME_MAX + 1];
	memset(longleaf, 'L', NAME_MAX);
	longleaf[NAME_MAX] = '\0';
	int fd = xfer_path_tmp_create(dir, longleaf, a, sizeof(a));
	CHECK(fd >= 0);
	CHECK_EQ_INT(strlen(a), NAME_MAX);
	CHECK(xfer_path_is_hidden(a));
	if (fd >= 0) {
		close(fd);
		unlinkat(dir, a, 0);
	}

	/* ... and never inside a UTF-8 character (2-byte "é" x 120 = 240 bytes;
	 * room is 224, an even cut). Shift by one ASCII byte to force a step back. */
	char utf[NAME_MAX + 1] = "x";
	for (int i = 0; i < 120; i++)
		strcat(utf, "\xc3\xa9");
	fd = xfer_path_tmp_create(dir, utf, a, sizeof(a));
	CHECK(fd >= 0);
	size_t len = strlen(a);
	CHECK(len <= NAME_MAX);
	/* The leaf part ends right before ".<16 hex>" and must not end mid-character. */
	CHECK(len > 17 && (unsigned char)a[len - 18] == 0xa9);
	if (fd >= 0) {
		close(fd);
		unlinkat(dir, a, 0);
	}

	CHECK_EQ_INT(xfer_path_tmp_create(dir, "file", small, sizeof(small)), -ERANGE);
	CHECK_EQ_INT(xfer_path_tmp_create(dir, "a/b", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_tmp_create(dir, "", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_tmp_create(dir, "..", a, sizeof(a)), -EINVAL);
	if (dir >= 0)
		close(dir);
}

/* Partial names: whole up to 229 bytes of leaf, else a cut head plus "~" and
 * 16 hex digits of SHA-256(leaf); always within NAME_MAX, distinct for
 * distinct leaves. */
static void check_partial(void)
{
	char a[NAME_MAX + 1], b[NAME_MAX + 1], leaf[NAME_MAX + 1], small[20];

	CHECK_EQ_INT(xfer_path_partial_name("file.bin", a, sizeof(a)), 0);
	CHECK_EQ_STR(a, ".wharf-upload.file.bin.partial");
	CHECK(xfer_path_is_hidden(a));

	/* 229 bytes: still whole. */
	memset(leaf, 'w', 229);
	leaf[229] = '\0';
	CHECK_EQ_INT(xfer_path_partial_name(leaf, a, sizeof(a)), 0);
	CHECK_EQ_INT(strlen(a), strlen(".wharf-upload.") + 229 + strlen(".partial"));
	CHECK(strstr(a, leaf) == a + strlen(".wharf-upload.") && strchr(a, '~') == NULL);

	/* 230 bytes: the head and the digest (sha256("n" x 230) starts ff4ef9dcb39b29ac). */
	memset(leaf, 'n', 230);
	leaf[230] = '\0';
	CHECK_EQ_INT(xfer_path_partial_name(leaf, a, sizeof(a)), 0);
	CHECK(strlen(a) <= NAME_MAX);
	char want[NAME_MAX + 1];
	snprintf(want, sizeof(want), ".wharf-upload.%.216s~ff4ef9dcb39b29ac.partial", leaf);
	CHECK_EQ_STR(a, want);
	CHECK_EQ_INT(strlen(a), NAME_MAX);

	/* Two 250-byte leaves sharing 240 bytes: two partials. */
	memset(leaf, 'p', 250);
	leaf[250] = '\0';
	CHECK_EQ_INT(xfer_path_partial_name(leaf, a, sizeof(a)), 0);
	leaf[245] = 'q';
	CHECK_EQ_INT(xfer_path_partial_name(leaf, b, sizeof(b)), 0);
	CHECK(strcmp(a, b) != 0);
	CHECK(strlen(a) <= NAME_MAX && strlen(b) <= NAME_MAX);
	/* The same leaf, the same name: the function is pure. */
	CHECK_EQ_INT(xfer_path_partial_name(leaf, a, sizeof(a)), 0);
	CHECK_EQ_STR(a, b);

	/* A short leaf made to look like a long one's "<head>~<hash>" part is
	 * not taken for it: it is too long to be kept whole, so it is hashed too. */
	char mimic[NAME_MAX + 1];
	size_t p = strlen(".wharf-upload.");
	snprintf(mimic, sizeof(mimic), "%.*s", (int)(strlen(b) - p - strlen(".partial")), b + p);
	CHECK_EQ_INT(xfer_path_partial_name(mimic, a, sizeof(a)), 0);
	CHECK(strcmp(a, b) != 0);

	/* The head is cut between UTF-8 characters: "x" + 125 x "é" (251 bytes)
	 * has room for 216 bytes, the 216th being the lead byte of an "é". */
	char utf[NAME_MAX + 1] = "x";
	for (int i = 0; i < 125; i++)
		strcat(utf, "\xc3\xa9");
	CHECK_EQ_INT(xfer_path_partial_name(utf, a, sizeof(a)), 0);
	char *tilde = strrchr(a, '~');
	CHECK(tilde && tilde - a == (ptrdiff_t)(p + 215) && (unsigned char)tilde[-1] == 0xa9);
	CHECK(strlen(a) <= NAME_MAX);

	/* Not UTF-8 (a run of continuation bytes): cut at most 3 bytes back. */
	memset(leaf, 0x80, 250);
	leaf[250] = '\0';
	CHECK_EQ_INT(xfer_path_partial_name(leaf, a, sizeof(a)), 0);
	CHECK(strlen(a) >= p + 213 + 17 + strlen(".partial") && strlen(a) <= NAME_MAX);

	/* The longest leaf a file can have still gets a name. */
	memset(leaf, 'L', NAME_MAX);
	leaf[NAME_MAX] = '\0';
	CHECK_EQ_INT(xfer_path_partial_name(leaf, a, sizeof(a)), 0);
	CHECK_EQ_INT(strlen(a), NAME_MAX);

	CHECK_EQ_INT(xfer_path_partial_name("file", small, sizeof(small)), -ERANGE);
	CHECK_EQ_INT(xfer_path_partial_name(leaf, small, sizeof(small)), -ERANGE);
	CHECK_EQ_INT(xfer_path_partial_name("", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_partial_name(".", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_partial_name("..", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_partial_name("a/b", a, sizeof(a)), -EINVAL);
	memset(leaf, 'x', 240);
	leaf[240] = '\0';
	leaf[100] = '/';
	CHECK_EQ_INT(xfer_path_partial_name(leaf, a, sizeof(a)), -EINVAL);
}

static void check_hidden(void)
{
	CHECK(xfer_path_is_hidden(".wharf-upload.x.0123456789abcdef"));
	CHECK(xfer_path_is_hidden(".wharf-upload."));
	CHECK(!xfer_path_is_hidden(".wharf-upload"));
	CHECK(!xfer_path_is_hidden("wharf-upload.x"));
	CHECK(!xfer_path_is_hidden(".bashrc"));
	CHECK(!xfer_path_is_hidden(""));
	CHECK(!xfer_path_is_hidden(NULL));
	/* Requests may not name them in any case; the sweep acts on exact ones. */
	CHECK(!xfer_path_is_hidden(".WHARF-UPLOAD.x.partial"));
	CHECK(xfer_path_is_reserved(".WHARF-UPLOAD.x.partial"));
	CHECK(xfer_path_is_reserved(".Wharf-Upload."));
	CHECK(xfer_path_is_reserved(".wharf-upload.x.claimed"));
	CHECK(!xfer_path_is_reserved(".wharf-uploads"));
	CHECK(!xfer_path_is_reserved(NULL));

	/* What a hidden name is: a partial, a claimed name, or neither (a temp file's). */
	static const struct {
		const char *name;
		int partial, claimed;
	} kinds[] = {
		{ ".wharf-upload.x.partial", 1, 0 },
		{ ".wharf-upload.x~0123456789abcdef.partial", 1, 0 },
		{ ".wharf-upload.x.claimed", 0, 1 },
		{ ".wharf-upload.x~0123456789abcdef.claimed", 0, 1 },
		{ ".wharf-upload.x.0123456789abcdef", 0, 0 },
		{ "x.partial", 0, 0 },
		{ "x.claimed", 0, 0 },
		{ ".wharf-upload.partial", 0, 0 },
		{ ".wharf-upload.claimed", 0, 0 },
		{ NULL, 0, 0 },
	};
	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		CHECK_EQ_INT(!!xfer_path_is_partial(kinds[i].name), kinds[i].partial);
		CHECK_EQ_INT(!!xfer_path_is_claimed(kinds[i].name), kinds[i].claimed);
	}
}

/* The claimed name: the partial's, with its own ending, cut and hashed
 * alike; never a partial's nor a temp file's. */
static void check_claimed(void)
{
	char a[NAME_MAX + 1], b[NAME_MAX + 1], c[NAME_MAX + 1], leaf[NAME_MAX + 1], small[20];
	const size_t p = strlen(".wharf-upload."), s = strlen(".claimed");

	CHECK_EQ_INT(xfer_path_claimed_name("file.bin", a, sizeof(a)), 0);
	CHECK_EQ_STR(a, ".wharf-upload.file.bin.claimed");
	CHECK(xfer_path_is_hidden(a) && xfer_path_is_claimed(a) && !xfer_path_is_partial(a));
	CHECK_EQ_INT(xfer_path_partial_name("file.bin", b, sizeof(b)), 0);
	CHECK_EQ_INT(xfer_path_claimed_of(b, c, sizeof(c)), 0);
	CHECK_EQ_STR(c, a);

	/* A leaf that ends like a partial, or like a claimed name, gets names
	 * of its own: no leaf's claimed name is another's partial. */
	CHECK_EQ_INT(xfer_path_claimed_name("x.partial", a, sizeof(a)), 0);
	CHECK_EQ_STR(a, ".wharf-upload.x.partial.claimed");
	CHECK(!xfer_path_is_partial(a));
	CHECK_EQ_INT(xfer_path_partial_name("x.claimed", a, sizeof(a)), 0);
	CHECK(xfer_path_is_partial(a) && !xfer_path_is_claimed(a));

	/* The cut and the digest are the partial's, to the byte: 229 bytes
	 * whole, 230 hashed (sha256("n" x 230) starts ff4ef9dcb39b29ac). */
	memset(leaf, 'w', 229);
	leaf[229] = '\0';
	CHECK_EQ_INT(xfer_path_claimed_name(leaf, a, sizeof(a)), 0);
	CHECK_EQ_INT(strlen(a), p + 229 + s);
	CHECK(strchr(a, '~') == NULL);
	memset(leaf, 'n', 230);
	leaf[230] = '\0';
	CHECK_EQ_INT(xfer_path_claimed_name(leaf, a, sizeof(a)), 0);
	char want[NAME_MAX + 1];
	snprintf(want, sizeof(want), ".wharf-upload.%.216s~ff4ef9dcb39b29ac.claimed", leaf);
	CHECK_EQ_STR(a, want);
	CHECK_EQ_INT(strlen(a), NAME_MAX);

	/* For every length, and UTF-8 cut anywhere: the partial's name with
	 * the other ending, and claimed_of finds it from the partial's. */
	for (size_t len = 1; len <= NAME_MAX; len++) {
		for (size_t i = 0; i < len; i++)
			leaf[i] = i % 3 == 0 ? 'x' : (char)(i % 3 == 1 ? 0xc3 : 0xa9);
		leaf[len] = '\0';
		if (len == 1 || len == 2)
			leaf[0] = 'y'; /* never ".", ".." */
		CHECK_EQ_INT(xfer_path_partial_name(leaf, b, sizeof(b)), 0);
		CHECK_EQ_INT(xfer_path_claimed_name(leaf, a, sizeof(a)), 0);
		CHECK(strlen(a) == strlen(b) && strlen(a) <= NAME_MAX);
		CHECK(memcmp(a, b, strlen(a) - s) == 0 && strcmp(a + strlen(a) - s, ".claimed") == 0);
		CHECK_EQ_INT(xfer_path_claimed_of(b, c, sizeof(c)), 0);
		CHECK_EQ_STR(c, a);
	}

	/* A temp file's name (random hex at its end) is never one. */
	int fd = xfer_path_tmp_create(home_fd, "claimed", a, sizeof(a));
	CHECK(fd >= 0);
	CHECK(!xfer_path_is_claimed(a) && !xfer_path_is_partial(a));
	if (fd >= 0) {
		close(fd);
		unlinkat(home_fd, a, 0);
	}

	CHECK_EQ_INT(xfer_path_claimed_name("file", small, sizeof(small)), -ERANGE);
	CHECK_EQ_INT(xfer_path_claimed_name("", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_claimed_name("..", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_claimed_name("a/b", a, sizeof(a)), -EINVAL);
	CHECK_EQ_INT(xfer_path_claimed_of(".wharf-upload.x.claimed", c, sizeof(c)), -EINVAL);
	CHECK_EQ_INT(xfer_path_claimed_of("x.partial", c, sizeof(c)), -EINVAL);
	CHECK_EQ_INT(xfer_path_claimed_of(".wharf-upload.file.bin.partial", small, sizeof(small)), -ERANGE);
}

/* Makes openat2 fail with ENOSYS in this process, as on a kernel before 5.6.
 * No architecture check: openat2 is number 437 on every Linux ABI, and this
 * filter only lives in a short test child. */
/* From now on, in this process, syscall nr fails with err: the way to meet
 * a kernel or file system that lacks it. */
static int deny_syscall(long nr, int err)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (unsigned)nr, 0, 1),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)err),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { .len = WF_ARRAY_LEN(f), .filter = f };
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
		return -1;
	return prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0);
}

/* Runs body in a child whose syscall nr fails with err, as on a kernel or
 * file system without it; the child's checks are counted and reported alone.
 * A child without seccomp skips (exit 77). */
static void with_syscall_denied(long nr, int err, const char *what, void (*body)(void))
{
	fflush(stdout);
	fflush(stderr);
	pid_t pid = fork();
	if (pid < 0) {
		perror("fork");
		CHECK(0);
		return;
	}
	if (pid == 0) {
		if (deny_syscall(nr, err) != 0) {
			fprintf(stderr, "seccomp unavailable, %s not tested\n", what);
			exit(77);
		}
		check_passed = check_failed = 0;
		body();
		printf("%s: ", what);
		exit(check_report());
	}
	int status = 0;
	CHECK(waitpid(pid, &status, 0) == pid);
	CHECK(WIFEXITED(status) && (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 77));
}

static void walk_body(void)
{
	/* Make sure the filter bites, so the checks below test the walk. */
	CHECK(syscall(SYS_openat2, home_fd, "top", NULL, 0) == -1 && errno == ENOSYS);
	check_open(1);
	check_parent(1);
}

static void check_walk(void)
{
	with_syscall_denied(SYS_openat2, ENOSYS, "fallback walk", walk_body);
}

static void read_file(const char *rel, char *out, size_t cap)
{
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/%s", root, rel);
	out[0] = '\0';
	FILE *fp = fopen(p, "r");
	if (!fp)
		return;
	size_t n = fread(out, 1, cap - 1, fp);
	out[n] = '\0';
	fclose(fp);
}

/* Moves to a new name; refuses an existing one, both files intact. */
static void check_rename_new_once(const char *tag)
{
	char a[64], b[64], taken[64], got[16];
	snprintf(a, sizeof(a), "home/rn-%s-a", tag);
	snprintf(b, sizeof(b), "home/rn-%s-b", tag);
	snprintf(taken, sizeof(taken), "home/rn-%s-taken", tag);
	put_file(a, "new");
	put_file(taken, "old");
	CHECK_EQ_INT(xfer_path_rename_new(home_fd, a + 5, home_fd, b + 5), 0);
	CHECK(!exists(a));
	read_file(b, got, sizeof(got));
	CHECK(strcmp(got, "new") == 0);
	CHECK(xfer_path_rename_new(home_fd, b + 5, home_fd, taken + 5) == -1 && errno == EEXIST);
	read_file(b, got, sizeof(got));
	CHECK(strcmp(got, "new") == 0);
	read_file(taken, got, sizeof(got));
	CHECK(strcmp(got, "old") == 0);
	remove_file(b);
	remove_file(taken);
}

static void rename_fallback_body(void)
{
	CHECK(syscall(SYS_renameat2, home_fd, "top", home_fd, "top2", RENAME_NOREPLACE) == -1 && errno == EINVAL);
	check_rename_new_once("fallback");
}

static void check_rename_new(void)
{
	check_rename_new_once("native");
	/* A file system without RENAME_NOREPLACE answers EINVAL: the link and
	 * unlink fallback must keep the same promise. */
	with_syscall_denied(SYS_renameat2, EINVAL, "rename fallback", rename_fallback_body);
}

int main(void)
{
	setup();
	check_open(0);
	check_parent(0);
	check_tmp();
	check_partial();
	check_claimed();
	check_hidden();
	check_walk();
	check_rename_new();
	close(home_fd);
	char cmd[PATH_MAX];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	printf("openat2: ");
	return check_report();
}
