/* Durable writes: see durable.h. */
#include "durable.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

int wf_durable_sync_dir(int dir_fd)
{
	/* EINVAL: a file system that cannot sync folders (some network and
	 * FUSE ones); nothing better can be done there. */
	if (fsync(dir_fd) != 0 && errno != EINVAL)
		return WF_ERR;
	return WF_OK;
}

/* The group and group-read bit of the regular file at name, given to fd
 * (still empty) when the group can be: the mode to give it. A group not
 * ours to give leaves the mode as asked: group-read with wharf's own group
 * would show a key to others than the admin chose. Only a file of our own
 * user, which an admin chgrp'd: one someone else put there (a service
 * that may write the folder) must not choose who reads the next key. */
static mode_t keep_group(int dir_fd, const char *name, int fd, mode_t mode)
{
	struct stat old, st;
	if (fstatat(dir_fd, name, &old, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(old.st_mode) ||
	    old.st_uid != geteuid() || fstat(fd, &st) != 0)
		return mode;
	if (st.st_gid != old.st_gid && fchown(fd, (uid_t)-1, old.st_gid) != 0)
		return mode;
	return mode | (old.st_mode & S_IRGRP);
}

static int stage(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, bool keep, char *tmp,
		 size_t tmpcap)
{
	uint64_t rnd = 0;
	if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd))
		rnd = (uint64_t)getpid() * 2654435761u;
	if (snprintf(tmp, tmpcap, ".%s.tmp.%016llx", name, (unsigned long long)rnd) >= (int)tmpcap) {
		errno = ENAMETOOLONG;
		return WF_ERR;
	}
	/* Created with the final mode at once: a key is never readable by others,
	 * not even for the moment between open and fchmod. */
	int fd = openat(dir_fd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
	if (fd < 0)
		return WF_ERR;
	if (keep) /* before a byte is written: the group, then its read bit */
		mode = keep_group(dir_fd, name, fd, mode);
	int saved;
	const char *p = data;
	size_t left = len;
	while (left) {
		ssize_t w = write(fd, p, left);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			goto fail;
		}
		p += w;
		left -= (size_t)w;
	}
	if (fchmod(fd, mode) != 0 || fsync(fd) != 0)
		goto fail;
	if (close(fd) != 0) {
		fd = -1;
		goto fail;
	}
	return WF_OK;
fail:
	saved = errno;
	if (fd >= 0)
		close(fd);
	unlinkat(dir_fd, tmp, 0);
	errno = saved;
	return WF_ERR;
}

int wf_durable_stage(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, char *tmp,
		     size_t tmpcap)
{
	return stage(dir_fd, name, data, len, mode, false, tmp, tmpcap);
}

int wf_durable_stage_keep_group(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, char *tmp,
				size_t tmpcap)
{
	return stage(dir_fd, name, data, len, mode, true, tmp, tmpcap);
}

int wf_durable_rename(int dir_fd, const char *tmp, const char *name)
{
	if (renameat(dir_fd, tmp, dir_fd, name) != 0) {
		int saved = errno;
		unlinkat(dir_fd, tmp, 0);
		errno = saved;
		return WF_ERR;
	}
	return WF_OK;
}

int wf_durable_commit(int dir_fd, const char *tmp, const char *name)
{
	if (wf_durable_rename(dir_fd, tmp, name) != WF_OK)
		return WF_ERR;
	/* Renamed, but a crash may yet undo it: not stored, for the caller. */
	return wf_durable_sync_dir(dir_fd);
}

int wf_durable_write(int dir_fd, const char *name, const void *data, size_t len, mode_t mode)
{
	char tmp[WF_DURABLE_TMP_MAX];
	if (wf_durable_stage(dir_fd, name, data, len, mode, tmp, sizeof(tmp)) != WF_OK)
		return WF_ERR;
	return wf_durable_commit(dir_fd, tmp, name);
}

int wf_durable_read(int dir_fd, const char *name, size_t max, wf_buf_t *out)
{
	/* O_NONBLOCK: the open of a FIFO would wait for a writer for ever; it
	 * is refused below like anything else not a regular file. */
	int fd = openat(dir_fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0)
		return WF_ERR;
	int rc = WF_ERR;
	struct stat st;
	if (fstat(fd, &st) != 0)
		goto out;
	if (!S_ISREG(st.st_mode) || (size_t)st.st_size > max) {
		errno = S_ISREG(st.st_mode) ? EFBIG : EINVAL;
		goto out;
	}
	/* Room for it all at once: a buffer grown by steps leaves freed copies
	 * behind, and what is read here may be a private key. */
	if (!wf_buf_reserve(out, (size_t)st.st_size + 1 < max ? (size_t)st.st_size + 1 : max)) {
		errno = EFBIG;
		goto out;
	}
	for (;;) {
		char *dst = wf_buf_reserve(out, 4096);
		if (!dst) {
			errno = EFBIG;
			goto out;
		}
		ssize_t r = read(fd, dst, 4096);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			goto out;
		}
		if (r == 0)
			break;
		wf_buf_commit(out, (size_t)r);
	}
	rc = WF_OK;
out:
	close(fd);
	return rc;
}

int wf_durable_mkdirs(const char *path, mode_t mode)
{
	char buf[4096];
	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf)) {
		errno = ENAMETOOLONG;
		return WF_ERR;
	}
	for (char *p = buf + 1;; p++) {
		if (*p == '/' || *p == '\0') {
			char c = *p;
			*p = '\0';
			if (mkdir(buf, mode) == 0) {
				/* The new folder lasts only once its parent is synced. */
				char *slash = strrchr(buf, '/');
				char keep = slash ? slash[1] : 0;
				if (slash)
					slash[1] = '\0';
				int pfd = open(slash ? buf : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
				if (slash)
					slash[1] = keep;
				int rc = pfd < 0 ? WF_ERR : wf_durable_sync_dir(pfd);
				if (pfd >= 0)
					close(pfd);
				if (rc != WF_OK)
					return WF_ERR;
			} else if (errno != EEXIST) {
				return WF_ERR;
			}
			*p = c;
			if (!c)
				break;
		}
	}
	struct stat st;
	if (stat(buf, &st) != 0)
		return WF_ERR;
	if (!S_ISDIR(st.st_mode)) {
		errno = ENOTDIR;
		return WF_ERR;
	}
	return WF_OK;
}
