/* An upload's commit guarded by preconditions (a PUT's If-Match,
 * If-Unmodified-Since, If-None-Match: "*"): checked against the final
 * name as it is right before the rename. When they no longer hold (the
 * file was replaced while the body came in, or the name taken), the
 * commit reports XFER_PRECOND_REFUSED (or EEXIST, create-only), the file
 * under the final name is the other writer's, untouched, and the temp
 * file is gone; when they hold, the upload is stored. */
#include "transfer/upload.h"
#include "transfer/etag.h"
#include "transfer/precond.h"

#include "check.h"
#include "precond_fields.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static int dir_fd;

static void put_file(const char *name, const char *data)
{
	int fd = openat(dir_fd, "tmp", O_CREAT | O_WRONLY | O_TRUNC, 0644);
	CHECK(fd >= 0);
	CHECK_EQ_INT(write(fd, data, strlen(data)), (long long)strlen(data));
	close(fd);
	CHECK(renameat(dir_fd, "tmp", dir_fd, name) == 0); /* a new inode, as another writer's upload */
}

static bool holds(const char *name, const char *data)
{
	char got[256];
	int fd = openat(dir_fd, name, O_RDONLY);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, got, sizeof(got));
	close(fd);
	return n == (ssize_t)strlen(data) && memcmp(got, data, (size_t)n) == 0;
}

static int entries(void)
{
	int n = 0;
	DIR *d = fdopendir(dup(dir_fd));
	rewinddir(d);
	for (struct dirent *de; (de = readdir(d));)
		n += de->d_name[0] != '.';
	closedir(d);
	return n;
}

static void etag_of(const char *name, char out[XFER_ETAG_MAX])
{
	struct stat st;
	CHECK(fstatat(dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0);
	xfer_etag_make(&st, out);
}

/* Uploads data to name under the If-Match field if_match (or, when NULL,
 * If-None-Match: "*", create only); between open and commit, meanwhile()
 * runs. Returns the commit's err. */
static int upload(const char *name, const char *data, const char *if_match, void (*meanwhile)(void))
{
	xfer_precond_in_t in = precond_fields(if_match);
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), name), WF_OK);
	up.cond = xfer_precond_new(&in);
	up.no_replace = xfer_precond_create_only(&in);
	CHECK_EQ_INT(xfer_upload_write(&up, data, strlen(data)), WF_OK);
	if (meanwhile)
		meanwhile();
	int err = -1;
	CHECK_EQ_INT(xfer_upload_commit(&up, NULL, NULL, NULL, &err), WF_DONE);
	CHECK(up.cond == NULL); /* the commit took it */
	xfer_upload_fini(&up);
	return err;
}

static void replace_f(void)
{
	put_file("f.txt", "the other writer's");
}

static void create_n(void)
{
	put_file("n.txt", "got there first");
}

int main(void)
{
	char dir[64];
	snprintf(dir, sizeof(dir), "/tmp/wharf-upload-guard-XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	dir_fd = open(dir, O_RDONLY | O_DIRECTORY);

	/* If-Match held at the start; the file is replaced meanwhile. */
	put_file("f.txt", "original");
	char etag[XFER_ETAG_MAX];
	etag_of("f.txt", etag);
	CHECK_EQ_INT(upload("f.txt", "mine", etag, replace_f), XFER_PRECOND_REFUSED);
	CHECK(holds("f.txt", "the other writer's"));
	CHECK_EQ_INT(entries(), 1); /* no temp file */
	/* It still holds at the rename: stored. */
	etag_of("f.txt", etag);
	CHECK_EQ_INT(upload("f.txt", "mine", etag, NULL), 0);
	CHECK(holds("f.txt", "mine"));
	/* The file went meanwhile: If-Match "*" no longer holds. */
	CHECK_EQ_INT(upload("f.txt", "mine again", "*", NULL), 0);
	CHECK(unlinkat(dir_fd, "f.txt", 0) == 0);
	CHECK_EQ_INT(upload("f.txt", "resurrected", "*", NULL), XFER_PRECOND_REFUSED);
	CHECK(!holds("f.txt", "resurrected"));
	CHECK_EQ_INT(entries(), 0);

	/* Create only: the name is taken meanwhile (the guard or the
	 * no-replace rename refuses it). */
	int err = upload("n.txt", "mine", NULL, create_n);
	CHECK(err == XFER_PRECOND_REFUSED || err == EEXIST);
	CHECK(holds("n.txt", "got there first"));
	CHECK_EQ_INT(entries(), 1);
	CHECK(unlinkat(dir_fd, "n.txt", 0) == 0);
	CHECK_EQ_INT(upload("n.txt", "mine", NULL, NULL), 0);
	CHECK(holds("n.txt", "mine"));

	/* An upload never committed frees its guard (ASan sees a leak). */
	xfer_upload_t up;
	xfer_upload_init(&up, NULL);
	CHECK_EQ_INT(xfer_upload_open(&up, dup(dir_fd), "x.txt"), WF_OK);
	xfer_precond_in_t in = { .if_match = WF_SLICE("*") };
	up.cond = xfer_precond_new(&in);
	xfer_upload_fini(&up);
	CHECK_EQ_INT(entries(), 1);

	unlinkat(dir_fd, "n.txt", 0);
	close(dir_fd);
	rmdir(dir);
	return check_report();
}
