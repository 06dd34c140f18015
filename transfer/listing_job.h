/* A folder's listing for HTTPS (transfer/listing.h) built off the loop:
 * reading a folder of 100000 entries, one stat each, then sorting them
 * takes long enough to stall every other connection of a worker. It is a
 * file system job of its own kind (transfer/fs_job.h: the same steps,
 * start, cancel and free), each step reading 4096 entries; the last one
 * sorts them and measures the page. (FTP's listing job, ftp_job.h, writes
 * each entry as it is read; this one must see them all before the first
 * line, to sort.) The job owns the folder and the entries read so far
 * until the listing is taken. */
#ifndef XFER_LISTING_JOB_H
#define XFER_LISTING_JOB_H

#include "fs_job.h"
#include "listing.h"

/* A job listing the open folder dir_fd_take (the job's: closed on failure
 * too) as fmt; url_path, home_fd and tools as for xfer_listing_render (the job
 * holds a duplicate of home_fd, so the caller's may close meanwhile).
 * hold_take, begun by the caller (xfer_listing_hold_begin: that is where
 * XFER_LISTING_JOBS_MAX and the client's share of builds are counted), or
 * not begun for a listing bounded by its entry cap alone, moves into the
 * listing (xfer_listing_count): each step counts what it holds, and the
 * job fails with ENOBUFS when that passes the budget
 * (xfer_listing_job_refused says why). NULL with errno ENOMEM when out of
 * memory, EMFILE or ENFILE when out of descriptors (the hold ended). */
xfer_fs_job_t *xfer_listing_job(int dir_fd_take, int home_fd, const char *url_path, xfer_listing_format_t fmt,
				unsigned tools, xfer_listing_hold_t *hold_take);
/* Once done with ENOBUFS: which bound stopped it; else GRANTED. */
xfer_listing_refusal_t xfer_listing_job_refused(xfer_fs_job_t *j);
/* Once done: the listing, now the caller's (free it with
 * xfer_listing_free); or NULL (the folder could not be read, no memory,
 * the pool stopped between two steps, or a job of another kind). */
xfer_listing_t *xfer_listing_job_take(xfer_fs_job_t *j);

#endif
