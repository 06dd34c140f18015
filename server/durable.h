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
/* wf_durable_write in two halves, for files that change together: stage
 * each (complete and flushed under a temp name written into tmp, tmpcap >=
 * WF_DURABLE_TMP_MAX; nothing left behind on failure), then commit each
 * (rename over name, sync the folder; the temp file goes on failure). A
 * staged file not committed is the caller's to unlink. */
#define WF_DURABLE_TMP_MAX 512
int wf_durable_stage(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, char *tmp,
		     size_t tmpcap);
/* wf_durable_stage, but the temp file keeps what an admin gave the file
 * now at name (a regular file, not followed) with chgrp and chmod g+r:
 * its group, when this process may give that group (as certbot does for
 * a renewed key), and then its group-read bit; never any other bit. */
int wf_durable_stage_keep_group(int dir_fd, const char *name, const void *data, size_t len, mode_t mode, char *tmp,
				size_t tmpcap);
int wf_durable_commit(int dir_fd, const char *tmp, const char *name);
/* wf_durable_commit without the folder's sync, for a set renamed one after
 * another and then synced once (wf_durable_sync_dir): the temp file goes
 * on failure. */
int wf_durable_rename(int dir_fd, const char *tmp, const char *name);
/* fsync of a folder, so the names just made in it last. WF_ERR with errno;
 * a file system that cannot sync folders (EINVAL) counts as done. */
int wf_durable_sync_dir(int dir_fd);
/* Reads a whole regular file of at most max bytes into out. WF_ERR with
 * errno: EINVAL for anything else (a FIFO, a device), refused at once. */
int wf_durable_read(int dir_fd, const char *name, size_t max, wf_buf_t *out);
/* mkdir -p with mode for each created folder, each synced into its parent;
 * WF_OK if it exists as a folder. */
int wf_durable_mkdirs(const char *path, mode_t mode);

#endif
