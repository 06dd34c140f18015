/* Listening sockets. Each worker has its own socket per service (SO_REUSEPORT),
 * so the kernel spreads connections over the workers with no shared accept lock. */
#ifndef WF_LISTENER_H
#define WF_LISTENER_H

#include "config.h"

#include <ev.h>

typedef struct wf_worker wf_worker_t;

struct wf_listener {
	ev_io accept_io;
	ev_timer pause; /* accepts paused after EMFILE/ENOMEM */
	ev_tstamp pause_logged;     /* when a pause was last logged (0: never) */
	unsigned pauses_unlogged;   /* pauses since, not logged */
	int fd;                     /* owned */
	char key[96];               /* "type address port": what makes two listeners the same on reload */
	const wf_service_cfg_t *svc; /* borrowed: from the worker's current config */
	wf_worker_t *worker;        /* borrowed */
};

/* The key for a service (type, address, port). */
void wf_listener_key(const wf_service_cfg_t *svc, char *out, size_t cap);
/* Binds and listens (non-blocking, CLOEXEC, SO_REUSEPORT; "*" binds IPv6 with
 * V6ONLY off, falling back to IPv4). Returns the fd, or -1 with the reason in err. */
int wf_listener_bind(const wf_service_cfg_t *svc, char *err, size_t errlen);
/* Checks that nobody listens on svc's address and port yet. Each worker's
 * socket has SO_REUSEPORT, which any other process of the same user could
 * set too: a second wharf started by mistake would then take a share of
 * the connections instead of failing. WF_OK, or WF_ERR with err set. */
int wf_listener_probe(const wf_service_cfg_t *svc, char *err, size_t errlen);

#endif
