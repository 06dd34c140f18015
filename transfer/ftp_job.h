/* The slow part of some FTP commands that only FTP has, run on the offload
 * pool as file system jobs of their own kinds (transfer/fs_job.h: the
 * same steps, start, cancel and free), so it never stalls a worker (and
 * every other connection on it):
 *   - reading a folder for LIST, NLST, MLSD and STAT (up to 100000 entries,
 *     each one a stat);
 *   - copying the part of an existing file that APPE or REST+STOR keeps
 *     into the upload's temp file (gigabytes, for a large file);
 *   - cutting a resumed upload back to its REST offset (ftruncate frees
 *     the file's blocks: long, for gigabytes on ext4 or xfs);
 *   - putting a claimed name a dead process left back as its partial (a
 *     newer one may stand there: the older of the two goes).
 * The changes DELE, RMD, MKD and RNTO make, and the removal of a partial
 * or of an upload's temp file, are fs_job.h's own kinds, shared with HTTP.
 * A job owns what it is given (the folder, the listing buffer, the upload
 * and its source) until it hands the results back. It runs in steps of
 * 16 MiB, or 4096 entries. */
#ifndef XFER_FTP_JOB_H
#define XFER_FTP_JOB_H

#include "fs_job.h"
#include "ftp_list.h"
#include "listing_budget.h"
#include "upload.h"
#include "../server/buf.h"

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* A buffer for a listing's lines, of at most cap bytes, that counts
 * against the listings' budget (transfer/listing_budget.h) with the begun
 * hold_take (or NULL: not counted) until xfer_ftp_listing_free, wherever
 * the buffer went meanwhile (a job, the data channel). NULL when out of
 * memory (the hold ended). */
wf_buf_t *xfer_ftp_listing_buf(size_t cap, xfer_listing_hold_t *hold_take);
/* The buffer counts with the begun hold_take from now on. */
void xfer_ftp_listing_count(wf_buf_t *b, xfer_listing_hold_t *hold_take);
/* Frees such a buffer and gives back what it counted (NULL: nothing). */
void xfer_ftp_listing_free(wf_buf_t *b);

/* A listing of the open folder dir_fd_take in style, appended to
 * out_take (an xfer_ftp_listing_buf, whose cap bounds it: what fits is
 * listed), at most max_entries entries; "." "..", and hidden upload files
 * are left out. Each step brings out_take's count up to the lines it
 * holds, and the job fails with ENOBUFS when that passes the budget or
 * its client's share (xfer_ftp_job_listing_refused says which); its build
 * is given back when the folder is read. what (copied; NULL: none) is the
 * caller's name for the folder, kept for when the job is done.
 * dir_rel is the folder's path beneath home_fd (borrowed; the job holds a
 * duplicate): a symlink in it that resolves beneath the home lists as its
 * target in LIST and MLSD (transfer/listing_link.h); home_fd -1: none does.
 * NULL with errno ENOMEM, or EMFILE/ENFILE (after closing and freeing
 * what it took). */
xfer_fs_job_t *xfer_ftp_job_listing(int dir_fd_take, int home_fd, const char *dir_rel,
				    const xfer_ftp_list_style_t *style, wf_buf_t *out_take, size_t max_entries,
				    const char *what);
/* Lists only the entries of a listing job (not started) whose names
 * match pattern (transfer/ftp_glob.h; copied): LIST or NLST "*.txt". A
 * names-only listing (NLST) writes each as prefix (copied; NULL or "":
 * none) and the name: NLST with the folder "data/" and the pattern "*.csv"
 * gives "data/a.csv", which a client's mget can RETR as it is. The limits
 * count what is listed, as
 * for any listing; entries the pattern leaves out are read all the same
 * (max_entries counts listed ones). WF_OK, or WF_ERR when out of memory
 * (the job is still whole: free it). */
int xfer_ftp_job_listing_match(xfer_fs_job_t *j, const char *pattern, const char *prefix);
/* Copies bytes [0, len) of src_fd_take to the end of the open upload
 * up_take (heap-allocated; the job frees it if it is never taken back).
 * NULL when out of memory (after releasing what it took). */
xfer_fs_job_t *xfer_ftp_job_copy(xfer_upload_t *up_take, int src_fd_take, uint64_t len);
/* Cuts the open upload up_take (a parked partial just claimed) to len
 * bytes (len <= its size). A job let go of before its end parks the upload
 * again under the name park_as (cut or not), so an interrupted session
 * loses nothing it could resume. NULL when out of memory (after parking). */
xfer_fs_job_t *xfer_ftp_job_truncate(xfer_upload_t *up_take, uint64_t len, const char *park_as);
/* APPE, REST+STOR, STOR, SIZE and DELE that meet an orphan claimed name
 * of leaf in dir_fd_take (a resumption a dead process began) put it back
 * as its partial first: xfer_upload_recover with orphan_age and started.
 * err is its errno (not EBUSY: a claimed name found live again is left to
 * the command, which looks once more); xfer_ftp_job_recovered says whether
 * a partial was made of it. NULL when out of memory (after closing
 * dir_fd_take). */
xfer_fs_job_t *xfer_ftp_job_recover(int dir_fd_take, const char *leaf, time_t orphan_age, struct timespec started);
bool xfer_ftp_job_recovered(xfer_fs_job_t *j);

/* Once done (xfer_fs_job_err says how): a listing's buffer, or a copy's or
 * a cut's upload, handed back; NULL for a job of another kind, or once
 * taken. The job, freed with xfer_fs_job_free, drops what was not taken:
 * a listing's buffer, a copy's temp file; a cut's upload is parked again.
 * A listing's buffer taken is freed with xfer_ftp_listing_free. */
wf_buf_t *xfer_ftp_job_take_listing(xfer_fs_job_t *j);
/* Whether a listing left entries out (max_entries reached with more to
 * list, or its buffer's cap); *listed gets the entries it holds. */
bool xfer_ftp_job_listing_cut(xfer_fs_job_t *j, size_t *listed);
/* Which bound stopped a listing that failed with ENOBUFS, else GRANTED;
 * the what it was given ("" if none); its style's kind. */
xfer_listing_refusal_t xfer_ftp_job_listing_refused(xfer_fs_job_t *j);
const char *xfer_ftp_job_listing_what(xfer_fs_job_t *j);
xfer_ftp_list_kind_t xfer_ftp_job_listing_kind(xfer_fs_job_t *j);
xfer_upload_t *xfer_ftp_job_take_upload(xfer_fs_job_t *j);

#endif
