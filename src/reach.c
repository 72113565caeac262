/* reach.c - tries a TCP address every few milliseconds until it accepts a connection. */
#include "vh/reach.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct vh_reach {
	struct event_base *base;
	vh_reach_fn reachable;
	void *arg;
	struct sockaddr_storage addr;
	socklen_t addr_len;
	bool active;
	evutil_socket_t fd; /* the connect in flight, or -1 */
	struct event *tick;
	struct event *writable;
};

static void close_attempt(struct vh_reach *reach) {
	if (reach->writable) {
		event_free(reach->writable);
		reach->writable = NULL;
	}
	if (reach->fd >= 0) {
		evutil_closesocket(reach->fd);
		reach->fd = -1;
	}
}

void vh_reach_stop(struct vh_reach *reach) {
	if (!reach) {
		return;
	}
	close_attempt(reach);
	evtimer_del(reach->tick);
	reach->active = false;
}

void vh_reach_destroy(struct vh_reach *reach) {
	if (!reach) {
		return;
	}
	vh_reach_stop(reach);
	if (reach->tick) {
		event_free(reach->tick);
	}
	free(reach);
}

static void on_writable(evutil_socket_t fd, short what, void *arg) {
	struct vh_reach *reach = arg;
	int error = 0;
	socklen_t len = sizeof(error);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
		close_attempt(reach); /* refused or unreachable: the next tick tries again */
		return;
	}
	vh_reach_stop(reach);
	reach->reachable(reach->arg);
}

/* Each tick gives up the attempt before (a dropped SYN never answers) and starts a new one. */
static void on_tick(evutil_socket_t fd, short what, void *arg) {
	struct vh_reach *reach = arg;
	close_attempt(reach);
	reach->fd = socket(reach->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (reach->fd < 0) {
		return; /* out of descriptors, say: try again at the next tick */
	}
	int rc = connect(reach->fd, (struct sockaddr *)&reach->addr, reach->addr_len);
	if (rc != 0 && errno != EINPROGRESS) {
		close_attempt(reach);
		return;
	}
	reach->writable = event_new(reach->base, reach->fd, EV_WRITE, on_writable, reach);
	if (!reach->writable || event_add(reach->writable, NULL) != 0) {
		close_attempt(reach);
	}
}

struct vh_reach *vh_reach_create(struct event_base *base, vh_reach_fn reachable, void *arg) {
	struct vh_reach *reach = calloc(1, sizeof(*reach));
	if (!reach) {
		return NULL;
	}
	reach->base = base;
	reach->reachable = reachable;
	reach->arg = arg;
	reach->fd = -1;
	reach->tick = event_new(base, -1, EV_PERSIST, on_tick, reach);
	if (!reach->tick) {
		free(reach);
		return NULL;
	}
	return reach;
}

static bool set_address(struct vh_reach *reach, const char *addr, unsigned port) {
	struct sockaddr_in *v4 = (struct sockaddr_in *)&reach->addr;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&reach->addr;
	memset(&reach->addr, 0, sizeof(reach->addr));
	if (port == 0 || port > 65535) {
		return false;
	}
	if (inet_pton(AF_INET, addr, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		reach->addr_len = sizeof(*v4);
		return true;
	}
	if (inet_pton(AF_INET6, addr, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		reach->addr_len = sizeof(*v6);
		return true;
	}
	return false;
}

bool vh_reach_start(struct vh_reach *reach, const char *addr, unsigned port) {
	struct timeval every = {0, VH_REACH_INTERVAL_MS * 1000};
	vh_reach_stop(reach);
	if (!set_address(reach, addr, port) || evtimer_add(reach->tick, &every) != 0) {
		return false;
	}
	reach->active = true;
	return true;
}

bool vh_reach_active(const struct vh_reach *reach) {
	return reach && reach->active;
}
