/* The state folder: see state_dir.h. */
#include "state_dir.h"
#include "base.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

const wf_state_entry_t wf_state_entries[] = {
	{ "certs", true },
	{ "acme", true },
	{ WF_STATE_LOCK, false },
	{ NULL, false },
};

int wf_state_check(const char *state_dir, const char *config_real, char *err, size_t errlen)
{
	char *real = realpath(state_dir, NULL);
	if (!real)
		return WF_OK;
	size_t n = strlen(real);
	int rc = WF_OK;
	if (strcmp(real, "/") == 0) {
		snprintf(err, errlen, "state_dir is the root folder: give the state a folder of its own");
		rc = WF_ERR;
	} else if (strncmp(config_real, real, n) == 0 && config_real[n] == '/') {
		snprintf(err, errlen, "state_dir %s holds the config file %s: give the state a folder of its own", real,
			 config_real);
		rc = WF_ERR;
	}
	free(real);
	return rc;
}

/* The pid the lock's holder wrote, or 0. */
static long holder_pid(int fd)
{
	char buf[24];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	char *end;
	long pid = strtol(buf, &end, 10);
	return pid > 0 && (*end == '\n' || *end == '\0') ? pid : 0;
}

int wf_state_lock(const char *state_dir, char *err, size_t errlen)
{
	int locked = -1;
	/* The run user may own the folder: a link put in the lock's place
	 * must not make root truncate and write another file. */
	int dfd = open(state_dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int flags = O_RDWR | O_CREAT | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
	int fd = dfd < 0 ? -1 : openat(dfd, WF_STATE_LOCK, flags, 0600);
	struct stat st;
	char pid[24];
	int len = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (fd < 0) {
		snprintf(err, errlen, "cannot open %s/" WF_STATE_LOCK ": %s", state_dir, strerror(errno));
	} else if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || st.st_nlink != 1) {
		snprintf(err, errlen, "%s/" WF_STATE_LOCK " is not a plain file of its own; remove it", state_dir);
	} else if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		long other = errno == EWOULDBLOCK ? holder_pid(fd) : 0;
		if (errno != EWOULDBLOCK)
			snprintf(err, errlen, "cannot lock %s/" WF_STATE_LOCK ": %s", state_dir, strerror(errno));
		else if (other)
			snprintf(err, errlen, "state folder %s is in use by another wharf (pid %ld)", state_dir, other);
		else
			snprintf(err, errlen, "state folder %s is in use by another wharf", state_dir);
	} else if (ftruncate(fd, 0) != 0 || pwrite(fd, pid, (size_t)len, 0) != len) {
		snprintf(err, errlen, "cannot write %s/" WF_STATE_LOCK ": %s", state_dir, strerror(errno));
	} else {
		locked = fd;
		fd = -1;
	}
	if (fd >= 0)
		close(fd);
	if (dfd >= 0)
		close(dfd);
	return locked;
}
