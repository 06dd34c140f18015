/* Symbolic links in listings: see listing_link.h. */
#include "listing_link.h"

#include "path.h"

#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void xfer_listing_links_init(xfer_listing_links_t *k, int home_fd, const char *dir_rel)
{
	memset(k, 0, sizeof(*k));
	k->home_fd = home_fd;
	k->dir_rel = dir_rel;
}

void xfer_listing_links_fini(xfer_listing_links_t *k)
{
	free(k->trail);
	k->trail = NULL;
}

/* O_PATH: resolved exactly as a request's open, yet without reading what
 * is there (a FIFO would wait for a writer) or needing its mode to allow
 * reading (ls -lL shows a file it cannot read). 0, or -1. */
static int stat_beneath(int home_fd, const char *rel, struct stat *st)
{
	int fd = xfer_path_open(home_fd, rel, O_PATH, 0);
	if (fd < 0)
		return -1;
	int rc = fstat(fd, st);
	close(fd);
	return rc;
}

static void add_place(xfer_listing_links_t *k, const struct stat *st)
{
	k->trail[k->trail_n].dev = st->st_dev;
	k->trail[k->trail_n].ino = st->st_ino;
	k->trail_n++;
}

/* The home and each folder on the way to dir_rel, dir_rel included, each
 * found as a request finds it (through links too). */
static void read_trail(xfer_listing_links_t *k)
{
	k->trail_read = true;
	const char *rel = k->dir_rel;
	size_t places = 1 + (rel[0] != '\0');
	for (const char *p = rel; *p; p++)
		places += *p == '/';
	k->trail = calloc(places, sizeof(*k->trail));
	if (!k->trail)
		return;
	struct stat st;
	if (fstat(k->home_fd, &st) == 0)
		add_place(k, &st);
	char prefix[PATH_MAX];
	for (const char *p = rel; rel[0] && k->trail_n < places; p++) {
		if (*p != '/' && *p != '\0')
			continue;
		size_t n = (size_t)(p - rel);
		if (n >= sizeof(prefix))
			break;
		memcpy(prefix, rel, n);
		prefix[n] = '\0';
		if (stat_beneath(k->home_fd, prefix, &st) == 0)
			add_place(k, &st);
		if (*p == '\0')
			break;
	}
}

/* Whether the folder st is one the listing is in. Without a trail (no
 * memory for it) every folder might be: none is taken. */
static bool on_trail(xfer_listing_links_t *k, const struct stat *st)
{
	if (!k->trail_read)
		read_trail(k);
	if (!k->trail)
		return true;
	for (size_t i = 0; i < k->trail_n; i++)
		if (k->trail[i].dev == st->st_dev && k->trail[i].ino == st->st_ino)
			return true;
	return false;
}

bool xfer_listing_links_follow(xfer_listing_links_t *k, const char *name, struct stat *st)
{
	if (k->home_fd < 0 || !S_ISLNK(st->st_mode))
		return false;
	char rel[PATH_MAX];
	int n = snprintf(rel, sizeof(rel), "%s%s%s", k->dir_rel, k->dir_rel[0] ? "/" : "", name);
	if (n < 0 || (size_t)n >= sizeof(rel))
		return false; /* a request could not name it either */
	struct stat target;
	/* Where openat2 is missing the walk opens the link itself (O_PATH |
	 * O_NOFOLLOW): it stays a link, as every request refuses it there. */
	if (stat_beneath(k->home_fd, rel, &target) != 0 || S_ISLNK(target.st_mode))
		return false;
	if (S_ISDIR(target.st_mode) && on_trail(k, &target))
		return false;
	*st = target;
	return true;
}
