/* Durable file writes: a file appears under its final name only complete and
 * flushed (temp file with O_EXCL in the same folder, write, fsync, rename, fsync
 * the folder), so a crash or a full disk never leaves a half-written key or cert. */
#ifndef WF_DURABLE_H
#define WF_DURABLE_H

#include "buf.h"

#include <sys/types.h>

/* Returns WF_OK, or WF_ERR with errno set; on failure nothing changed under name. */
int wf_durable_write(int dir_fd, const char *name, const void *data, size_t len, mode_t mode);
/* Reads a whole regular file of at most max bytes into out. WF_ERR with errno. */
int wf_durable_read(int dir_fd, const char *name, size_t max, wf_buf_t *out);
/* mkdir -p with mode for each created folder; WF_OK if it exists as a folder. */
int wf_durable_mkdirs(const char *path, mode_t mode);

#endif
