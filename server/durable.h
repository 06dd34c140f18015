/* Durable file writes: a file appears under its final name only complete and
 * flushed (temp file with O_EXCL in the same folder, write, fsync, rename, fsync
 * the folder), so a crash or a full disk never leaves a half-written key or cert. */
#ifndef WF_DURABLE_H
#define WF_DURABLE_H

#include "buf.h"

#include <sys/types.h>

/* Returns WF_OK, or WF_ERR with errno set: nothing changed under name, or,
 * when only the folder's fsync failed, the new file is there but a crash
 * could still undo it. */
int wf_durable_write(int dir_fd, const char *name, const void *data, size_t len, mode_t mode);
/* fsync of a folder, so the names just made in it last. WF_ERR with errno;
 * a file system that cannot sync folders (EINVAL) counts as done. */
int wf_durable_sync_dir(int dir_fd);
/* Reads a whole regular file of at most max bytes into out. WF_ERR with errno. */
int wf_durable_read(int dir_fd, const char *name, size_t max, wf_buf_t *out);
/* mkdir -p with mode for each created folder, each synced into its parent;
 * WF_OK if it exists as a folder. */
int wf_durable_mkdirs(const char *path, mode_t mode);

#endif
