/* Listening sockets: see listener.h. */
#include "listener.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

void wf_listener_key(const wf_service_cfg_t *svc, char *out, size_t cap)
{
	snprintf(out, cap, "%s %s %d", svc->type_name, svc->address, svc->port);
}

/* probe: bind only, without SO_REUSEPORT, and close; it fails where anyone
 * listens already. */
static int bind_one(int family, const struct sockaddr *sa, socklen_t len, int v6only, char *err, size_t errlen,
		    const wf_service_cfg_t *svc, bool probe)
{
	int fd = socket(family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	int one = 1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!probe)
		setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (family == AF_INET6)
		setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only));
	/* Accept only once the client has sent something (its TLS hello): idle
	 * connects never wake a worker. Not where the server speaks first (the
	 * FTP banner before AUTH TLS). */
	int defer = 10;
	if (svc->type != WF_SERVICE_FTPS)
		setsockopt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, &defer, sizeof(defer));
	if (bind(fd, sa, len) != 0) {
		if (probe && errno == EADDRINUSE)
			snprintf(err, errlen, "cannot listen on %s port %d: another process listens there already",
				 svc->address, svc->port);
		else
			snprintf(err, errlen, "cannot listen on %s port %d: %s", svc->address, svc->port, strerror(errno));
		int e = errno; /* the caller may explain it */
		close(fd);
		errno = e;
		return -1;
	}
	if (probe) {
		close(fd);
		return 0;
	}
	if (listen(fd, 4096) != 0) {
		snprintf(err, errlen, "listen on %s port %d: %s", svc->address, svc->port, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int bind_service(const wf_service_cfg_t *svc, char *err, size_t errlen, bool probe)
{
	struct sockaddr_in6 a6 = { .sin6_family = AF_INET6, .sin6_port = htons((uint16_t)svc->port) };
	struct sockaddr_in a4 = { .sin_family = AF_INET, .sin_port = htons((uint16_t)svc->port) };
	if (strcmp(svc->address, "*") == 0) {
		a6.sin6_addr = in6addr_any;
		int fd = bind_one(AF_INET6, (struct sockaddr *)&a6, sizeof(a6), 0, err, errlen, svc, probe);
		/* Only a host without IPv6 falls back to IPv4 alone: a port taken
		 * on an IPv6 address (EADDRINUSE) would have IPv6 clients reach
		 * the other process while the log said "*". */
		if (fd >= 0 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
			return fd;
		a4.sin_addr.s_addr = htonl(INADDR_ANY);
		return bind_one(AF_INET, (struct sockaddr *)&a4, sizeof(a4), 0, err, errlen, svc, probe);
	}
	if (inet_pton(AF_INET, svc->address, &a4.sin_addr) == 1)
		return bind_one(AF_INET, (struct sockaddr *)&a4, sizeof(a4), 0, err, errlen, svc, probe);
	if (inet_pton(AF_INET6, svc->address, &a6.sin6_addr) == 1)
		return bind_one(AF_INET6, (struct sockaddr *)&a6, sizeof(a6), 1, err, errlen, svc, probe);
	snprintf(err, errlen, "\"%s\" is not an IPv4 or IPv6 address", svc->address);
	return -1;
}

int wf_listener_bind(const wf_service_cfg_t *svc, char *err, size_t errlen)
{
	return bind_service(svc, err, errlen, false);
}

int wf_listener_probe(const wf_service_cfg_t *svc, char *err, size_t errlen)
{
	return bind_service(svc, err, errlen, true) < 0 ? WF_ERR : WF_OK;
}
