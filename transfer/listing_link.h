/* How every listing, HTTPS's and FTPS's, shows a symbolic link: as what a
 * request for it gets. A link that resolves beneath the home as every
 * request's open does (xfer_path_open: openat2 RESOLVE_BENEATH) lists as
 * its target, a file with its size or a folder, with the target's time and
 * mode (as ls -lL shows it), so that a listing, MLST, SIZE, RETR and GET
 * agree and a mirror copies what it sees. A link no request follows (one
 * that dangles, loops, leads outside the home or has an absolute target;
 * every link where openat2 is missing) stays a link. So does a link to a
 * folder the listing is in (the listed folder itself, or one above it on
 * the path listed): a mirror that took it for a folder would copy the
 * same tree again at each level, until the kernel's limit of 40 links. */
#ifndef XFER_LISTING_LINK_H
#define XFER_LISTING_LINK_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

/* A folder, as the file system knows it whatever its path. */
typedef struct xfer_listing_place {
	dev_t dev;
	ino_t ino;
} xfer_listing_place_t;

/* The links of one folder's listing. */
typedef struct xfer_listing_links {
	int home_fd;                 /* borrowed: where links resolve; -1: none is followed */
	const char *dir_rel;         /* borrowed: the folder listed, beneath the home ("" for the home) */
	bool trail_read;             /* trail was looked for (at the first link to a folder) */
	size_t trail_n;
	xfer_listing_place_t *trail; /* owned: the folders the listing is in, or NULL (none could be had) */
} xfer_listing_links_t;

void xfer_listing_links_init(xfer_listing_links_t *k, int home_fd, const char *dir_rel);
/* For the entry name of the folder, whose own (not followed) stat is *st:
 * when it is a link that lists as its target, *st becomes the target's
 * and the answer is true; else *st is left as it is. One open for a link
 * (and, at a folder's first link to a folder, one per folder on the path
 * listed); nothing for any other entry. */
bool xfer_listing_links_follow(xfer_listing_links_t *k, const char *name, struct stat *st);
void xfer_listing_links_fini(xfer_listing_links_t *k);

#endif
