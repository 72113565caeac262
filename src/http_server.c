/* http_server.c - the HTTP/1.1 front: listeners, bounded connections, reads and writes that never
 * block. evhttp is not used here because 2.1 can neither cap connections nor serve a cached
 * answer without allocating per request; see docs/http.md. */
#define _GNU_SOURCE /* accept4 flags through evconnlistener, MSG_NOSIGNAL */
#include "vh/http_server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/event.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/queue.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vh/clock.h"
#include "vh/http_parse.h"
#include "vh/http_stats.h"
#include "vh/log.h"
#include "vh/responder.h"

/* How long a listener rests after accept() failed, e.g. with EMFILE. */
#define ACCEPT_PAUSE_SECONDS 1
/* A client has this long to send a whole request head, counted from its first byte (or from the
 * accept), so a slow-drip client cannot hold a connection by trickling bytes. */
#define REQUEST_TIMEOUT_MS 5000
/* A kept-alive connection may wait this long for its next request. */
#define IDLE_TIMEOUT_MS 15000
/* A reply must drain to a slow reader within this. */
#define WRITE_TIMEOUT_MS 5000
/* After an error reply the connection half-closes and discards input for this long, so the
 * client reads the reply instead of a reset (RFC 9112 9.6). */
#define LINGER_TIMEOUT_MS 2000
/* A /drain waits for vh_http_server_drained(), or at most the longest shutdown_delay the config
 * allows, or until its client goes away. */
#define PARK_TIMEOUT_MS (11 * 60 * 1000)
/* Pipelined requests answered per wake-up before other connections get their turn, so a client
 * that pipelines hundreds of requests cannot hold a probe back. */
#define ANSWERS_PER_TURN 4
/* Descriptors kept back from the connection cap for checks, logs and libraries. */
#define FD_RESERVE 64
/* Freed connections kept for reuse, so that a connection per probe allocates nothing. */
#define SPARE_MAX 64

enum conn_phase {
	CONN_IDLE, /* waiting for a request; nothing of it received */
	CONN_READING, /* part of a request head received */
	CONN_WRITING, /* a reply that would not fit the socket buffer is going out */
	CONN_LINGERING, /* half-closed after an error, discarding input until EOF */
	CONN_PARKED, /* a /drain waiting for the drain to end; reads nothing meanwhile */
};

struct conn {
	struct vh_http_server *server;
	evutil_socket_t fd;
	struct event ev;
	enum conn_phase phase;
	bool loopback; /* the peer is 127.0.0.0/8 or ::1: see vh_responder_set_access() */
	bool close_after_write;
	/* What the reply to a parked /drain needs to know of its request. */
	struct vh_http_request parked;
	int64_t deadline_ms;
	char *in; /* a request head that arrived in pieces; VH_HTTP_HEAD_MAX bytes when set */
	size_t in_len;
	bool backlog; /* c->in holds requests left for a later turn (ANSWERS_PER_TURN) */
	char *out; /* the unsent rest of a reply */
	size_t out_len;
	size_t out_sent;
	TAILQ_ENTRY(conn) lru; /* least recently active first */
	struct conn *next_spare;
};

TAILQ_HEAD(conn_list, conn);

struct vh_http_server {
	struct event_base *base;
	struct vh_responder *responder;
	size_t n_listeners;
	struct evconnlistener *listeners[VH_CONFIG_LISTEN_MAX * 2];
	struct event *resume; /* re-enables listeners paused by on_accept_error */
	struct conn_list conns;
	struct vh_http_stats stats;
	struct conn *spares;
	size_t n_spares;
	char scratch[VH_HTTP_HEAD_MAX]; /* where reads land when no partial head is pending */
};

static void on_conn_event(evutil_socket_t fd, short what, void *arg);

static void conn_free(struct conn *c) {
	struct vh_http_server *server = c->server;
	event_del(&c->ev);
	evutil_closesocket(c->fd);
	TAILQ_REMOVE(&server->conns, c, lru);
	server->stats.connections_open--;
	free(c->in);
	free(c->out);
	if (server->n_spares < SPARE_MAX) {
		c->next_spare = server->spares;
		server->spares = c;
		server->n_spares++;
	} else {
		free(c);
	}
}

static struct conn *conn_alloc(struct vh_http_server *server) {
	struct conn *c = server->spares;
	if (c) {
		server->spares = c->next_spare;
		server->n_spares--;
		memset(c, 0, sizeof(*c));
		return c;
	}
	return calloc(1, sizeof(*c));
}

/* Arms the connection's one event for what its phase waits on, until deadline_ms. */
static bool conn_wait(struct conn *c, short events, int64_t deadline_ms) {
	int64_t left = deadline_ms - vh_clock_mono_ms();
	left = left > 0 ? left : 0;
	c->deadline_ms = deadline_ms;
	struct timeval tv = {(time_t)(left / 1000), (suseconds_t)(left % 1000) * 1000};
	if (event_get_events(&c->ev) != (events | EV_PERSIST)) {
		event_del(&c->ev);
		event_assign(&c->ev, c->server->base, c->fd, events | EV_PERSIST, on_conn_event, c);
	}
	return event_add(&c->ev, &tv) == 0;
}

static bool conn_arm(struct conn *c, short events, int64_t timeout_ms) {
	return conn_wait(c, events, vh_clock_mono_ms() + timeout_ms);
}

static void conn_touch(struct conn *c) {
	TAILQ_REMOVE(&c->server->conns, c, lru);
	TAILQ_INSERT_TAIL(&c->server->conns, c, lru);
}

/* Half-closes, so the client sees the reply and an EOF, and drains what it still sends. */
static void conn_linger(struct conn *c) {
	c->phase = CONN_LINGERING;
	if (shutdown(c->fd, SHUT_WR) != 0 || !conn_arm(c, EV_READ, LINGER_TIMEOUT_MS)) {
		conn_free(c);
	}
}

static bool flush_out(struct conn *c) {
	while (c->out_sent < c->out_len) {
		ssize_t n = send(c->fd, c->out + c->out_sent, c->out_len - c->out_sent,
				MSG_NOSIGNAL);
		if (n < 0) {
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR;
		}
		c->out_sent += (size_t)n;
	}
	free(c->out);
	c->out = NULL;
	c->out_len = c->out_sent = 0;
	return true;
}

/* Keeps what the socket would not take; the connection then waits for it to drain. */
static bool keep_unsent(struct conn *c, const struct iovec *iov, int n_iov, size_t sent) {
	size_t total = 0, at = 0;
	for (int i = 0; i < n_iov; i++) {
		total += iov[i].iov_len;
	}
	if (!(c->out = malloc(total - sent))) {
		return false;
	}
	for (int i = 0; i < n_iov; i++) {
		size_t skip = sent > iov[i].iov_len ? iov[i].iov_len : sent;
		sent -= skip;
		memcpy(c->out + at, (const char *)iov[i].iov_base + skip, iov[i].iov_len - skip);
		at += iov[i].iov_len - skip;
	}
	c->out_len = at;
	c->out_sent = 0;
	return true;
}

/* One sendmsg per reply: the head comes from the responder (often its cache), the rest are
 * constants, so nothing is copied unless the socket buffer is full. */
static bool send_reply(struct conn *c, const struct vh_http_request *request,
		const struct vh_reply *reply, bool keep_alive) {
	struct iovec iov[4];
	int n_iov = 0;
	vh_http_stats_count(&c->server->stats, reply->status);
	iov[n_iov++] = (struct iovec){(void *)reply->head, reply->head_len};
	if (!keep_alive) {
		iov[n_iov++] = (struct iovec){(void *)"Connection: close\r\n\r\n", 21};
	} else if (request->minor_version == 0) {
		iov[n_iov++] = (struct iovec){(void *)"Connection: keep-alive\r\n\r\n", 26};
	} else {
		iov[n_iov++] = (struct iovec){(void *)"\r\n", 2};
	}
	if (request->method != VH_HTTP_HEAD && reply->body_len > 0) {
		iov[n_iov++] = (struct iovec){(void *)reply->body, reply->body_len};
	}
	struct msghdr msg = {.msg_iov = iov, .msg_iovlen = (size_t)n_iov};
	ssize_t sent = sendmsg(c->fd, &msg, MSG_NOSIGNAL);
	if (sent < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
			return false;
		}
		sent = 0;
	}
	size_t total = 0;
	for (int i = 0; i < n_iov; i++) {
		total += iov[i].iov_len;
	}
	return (size_t)sent == total || keep_unsent(c, iov, n_iov, (size_t)sent);
}

/* After a reply that ends the connection: a body or an error leaves unread bytes that a plain
 * close would turn into a reset, which can destroy the reply in flight. */
static void finish_closing(struct conn *c, bool unread) {
	if (unread) {
		conn_linger(c);
	} else {
		conn_free(c);
	}
}

/* Answers the whole requests in buf, stopping early when a reply could not be sent whole.
 * Returns the bytes used, or -1 when the connection was closed or is closing. */
static ssize_t serve_requests(struct conn *c, const char *buf, size_t len) {
	size_t used = 0;
	for (int answered = 0; used < len; answered++) {
		if (answered == ANSWERS_PER_TURN) {
			c->backlog = true;
			break;
		}
		struct vh_http_request request;
		struct vh_reply reply;
		enum vh_http_parse_result parsed = vh_http_parse(buf + used, len - used, &request);
		if (parsed == VH_HTTP_PARSE_MORE) {
			break;
		}
		vh_responder_answer(c->server->responder, &request, c->loopback, &reply);
		if (reply.wait_for_drain) {
			c->phase = CONN_PARKED;
			c->parked = request;
			c->parked.target = c->parked.accept = c->parked.authorization =
					(struct vh_http_slice){NULL, 0};
			conn_touch(c);
			return conn_arm(c, EV_CLOSED, PARK_TIMEOUT_MS)
					? (ssize_t)(used + request.head_len)
					: (conn_free(c), -1);
		}
		bool keep_alive = parsed == VH_HTTP_PARSE_DONE && request.keep_alive;
		if (!send_reply(c, &request, &reply, keep_alive)) {
			conn_free(c);
			return -1;
		}
		conn_touch(c);
		bool unread = parsed != VH_HTTP_PARSE_DONE || request.has_body ||
				used + request.head_len < len;
		used += parsed == VH_HTTP_PARSE_DONE ? request.head_len : len - used;
		if (c->out) {
			c->phase = CONN_WRITING;
			c->close_after_write = !keep_alive;
			return conn_arm(c, EV_WRITE, WRITE_TIMEOUT_MS) ? (ssize_t)used
								       : (conn_free(c), -1);
		}
		if (!keep_alive) {
			finish_closing(c, unread);
			return -1;
		}
	}
	return (ssize_t)used;
}

/* Keeps the unanswered rest of buf: a head that arrived in part, or requests pipelined behind a
 * reply that is still going out. */
static bool keep_rest(struct conn *c, const char *buf, size_t rest) {
	if (rest == 0) {
		free(c->in);
		c->in = NULL;
		c->in_len = 0;
		return true;
	}
	if (!c->in && !(c->in = malloc(VH_HTTP_HEAD_MAX))) {
		return false;
	}
	memmove(c->in, buf, rest);
	c->in_len = rest;
	return true;
}

/* Answers what buf holds (len bytes, a read's worth or the kept rest) and waits for more. */
static void serve_and_wait(struct conn *c, const char *buf, size_t len) {
	ssize_t used = serve_requests(c, buf, len);
	if (used < 0) {
		return;
	}
	if (!keep_rest(c, buf + used, len - (size_t)used)) {
		conn_free(c);
		return;
	}
	if (c->phase == CONN_WRITING || c->phase == CONN_PARKED) {
		return;
	}
	if (c->backlog) {
		/* Come back to the rest after the other connections that are ready. */
		c->phase = CONN_READING;
		if (!conn_arm(c, EV_READ, REQUEST_TIMEOUT_MS)) {
			conn_free(c);
			return;
		}
		event_active(&c->ev, EV_READ, 1);
		return;
	}
	if (c->in_len == 0) {
		c->phase = CONN_IDLE;
	} else if (c->phase == CONN_READING && used == 0) {
		/* The request timeout runs from the head's first byte, not from each piece, while
		 * EV_PERSIST restarts the timer at every wake-up: set it back to what is left. */
		if (!conn_wait(c, EV_READ, c->deadline_ms)) {
			conn_free(c);
		}
		return;
	} else {
		c->phase = CONN_READING;
	}
	if (!conn_arm(c, EV_READ, c->phase == CONN_IDLE ? IDLE_TIMEOUT_MS : REQUEST_TIMEOUT_MS)) {
		conn_free(c);
	}
}

static void on_readable(struct conn *c) {
	if (c->backlog) {
		c->backlog = false;
		serve_and_wait(c, c->in, c->in_len);
		return;
	}
	char *buf = c->in ? c->in : c->server->scratch;
	size_t have = c->in ? c->in_len : 0;
	ssize_t n = recv(c->fd, buf + have, VH_HTTP_HEAD_MAX - have, 0);
	if (n <= 0) {
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
			return;
		}
		conn_free(c);
		return;
	}
	serve_and_wait(c, buf, have + (size_t)n);
}

static void on_writable(struct conn *c) {
	if (!flush_out(c)) {
		conn_free(c);
		return;
	}
	if (c->out) {
		return; /* still more; the write deadline stands */
	}
	if (c->close_after_write) {
		conn_linger(c);
		return;
	}

	/* Requests pipelined behind the reply are answered now. */
	c->phase = CONN_IDLE;
	serve_and_wait(c, c->in ? c->in : c->server->scratch, c->in_len);
}

static void on_lingering(struct conn *c) {
	char discard[4096];
	ssize_t n = recv(c->fd, discard, sizeof(discard), 0);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
		conn_free(c);
	}
}

static void on_conn_event(evutil_socket_t fd, short what, void *arg) {
	struct conn *c = arg;
	(void)fd;
	/* Only the deadline counts, also on a read: a client dripping bytes keeps waking us. A
	 * request that arrives on an idle connection is served whenever it comes. */
	if ((c->phase != CONN_IDLE || (what & EV_TIMEOUT)) &&
			vh_clock_mono_ms() >= c->deadline_ms) {
		c->server->stats.connections_timed_out_total++;
		conn_free(c);
		return;
	}
	if (what & EV_TIMEOUT) {
		if (!conn_wait(c, event_get_events(&c->ev) & (EV_READ | EV_WRITE),
				    c->deadline_ms)) {
			conn_free(c);
		}
		return;
	}
	switch (c->phase) {
	case CONN_IDLE:
	case CONN_READING:
		if (what & EV_READ) {
			on_readable(c);
		}
		return;
	case CONN_WRITING:
		if (what & EV_WRITE) {
			on_writable(c);
		}
		return;
	case CONN_LINGERING:
		if (what & EV_READ) {
			on_lingering(c);
		}
		return;
	case CONN_PARKED:
		/* The caller gave up: its slot and descriptor need not wait for the drain. */
		if (what & EV_CLOSED) {
			conn_free(c);
		}
		return;
	}
}

/* Whether c may go to make room: it is idle with no request waiting unread in its socket (a
 * probe whose request the kernel holds has asked already), or lingers after an error; with
 * partial true, a request head half received (a slow client) may go too. A connection being
 * answered, parked on /drain or holding pipelined requests never goes. */
static bool evictable(const struct conn *c, bool partial) {
	int pending = 0;
	switch (c->phase) {
	case CONN_IDLE:
		return !c->backlog && ioctl(c->fd, FIONREAD, &pending) == 0 && pending == 0;
	case CONN_LINGERING:
		return true;
	case CONN_READING:
		return partial;
	case CONN_WRITING:
	case CONN_PARKED:
		break;
	}
	return false;
}

/* Every connection has a request waiting unread: answer the oldest now rather than drop it,
 * which closes it (Connection: close) or leaves it idle, and so evictable. */
static bool answer_oldest_waiting(struct vh_http_server *server) {
	struct conn *c;
	TAILQ_FOREACH(c, &server->conns, lru) {
		if (c->phase != CONN_IDLE || c->backlog) {
			continue;
		}
		size_t open = server->stats.connections_open;
		on_conn_event(c->fd, EV_READ, c);
		if (server->stats.connections_open < open) {
			return true; /* answered and closed: c is gone */
		}
		if (evictable(c, false)) {
			server->stats.connections_evicted_total++;
			conn_free(c);
			return true;
		}
		return false;
	}
	return false;
}

/* Over the cap the least recently active connection that has asked nothing goes: an idle
 * keep-alive or a silent client, then one that stopped half-way through its request; when all
 * have asked, the oldest is answered first. Returns false when none could go: the newcomer is
 * then the one to close. */
static bool evict_one(struct vh_http_server *server) {
	for (int pass = 0; pass < 2; pass++) {
		struct conn *c;
		TAILQ_FOREACH(c, &server->conns, lru) {
			if (evictable(c, pass == 1)) {
				server->stats.connections_evicted_total++;
				conn_free(c);
				return true;
			}
		}
	}
	return answer_oldest_waiting(server);
}

static bool is_loopback(const struct sockaddr *addr, int socklen) {
	if (addr->sa_family == AF_INET && socklen >= (int)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)addr;
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	}
	if (addr->sa_family == AF_INET6 && socklen >= (int)sizeof(struct sockaddr_in6)) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)addr)->sin6_addr;
		static const unsigned char v4_mapped[12] = {
				0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
		/* ::1, or 127.x.y.z reaching a dual-stack listener as ::ffff:127.x.y.z. */
		return IN6_IS_ADDR_LOOPBACK(a) ||
				(memcmp(a->s6_addr, v4_mapped, sizeof(v4_mapped)) == 0 &&
						a->s6_addr[12] == 127);
	}
	return false;
}

static void on_accept(struct evconnlistener *listener, evutil_socket_t fd, struct sockaddr *addr,
		int socklen, void *arg) {
	struct vh_http_server *server = arg;
	(void)listener;
	if (server->stats.connections_open >= server->stats.connections_limit &&
			!evict_one(server)) {
		server->stats.connections_evicted_total++;
		evutil_closesocket(fd);
		return;
	}
	struct conn *c = conn_alloc(server);
	if (!c) {
		evutil_closesocket(fd);
		return;
	}
	c->server = server;
	c->fd = fd;
	c->phase = CONN_IDLE;
	c->loopback = is_loopback(addr, socklen);
	event_assign(&c->ev, server->base, fd, EV_READ | EV_PERSIST, on_conn_event, c);
	TAILQ_INSERT_TAIL(&server->conns, c, lru);
	server->stats.connections_open++;
	server->stats.connections_total++;
	/* The first request gets the request timeout: a client that connects and says nothing is
	 * not an idle keep-alive. */
	if (!conn_arm(c, EV_READ, REQUEST_TIMEOUT_MS)) {
		conn_free(c);
	}
}

/* libevent retries a failed accept() at once and forever: out of descriptors (EMFILE) that is a
 * busy loop that floods the log. So the listener rests, on_resume wakes it, and the oldest
 * connection goes so that there is a descriptor for the next client. */
static void on_accept_error(struct evconnlistener *listener, void *arg) {
	struct vh_http_server *server = arg;
	int e = EVUTIL_SOCKET_ERROR();
	evconnlistener_disable(listener);
	(void)evict_one(server); /* with none to spare, the pause alone frees the loop */
	vh_log(VH_LOG_WARN, "cannot accept connections; pausing the listener", "error",
			evutil_socket_error_to_string(e), NULL);
}

static void on_resume(evutil_socket_t fd, short what, void *arg) {
	struct vh_http_server *server = arg;
	(void)fd, (void)what;
	/* Enabling a listener that is already enabled changes nothing. */
	for (size_t i = 0; i < server->n_listeners; i++) {
		evconnlistener_enable(server->listeners[i]);
	}
}

static struct evconnlistener *listen_on(
		struct vh_http_server *server, const char *host, unsigned port, bool v6) {
	struct sockaddr_storage ss;
	memset(&ss, 0, sizeof(ss));
	socklen_t len;
	if (v6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)port);
		len = sizeof(*sin6);
		if (inet_pton(AF_INET6, host, &sin6->sin6_addr) != 1) {
			return NULL;
		}
	} else {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)port);
		len = sizeof(*sin);
		if (inet_pton(AF_INET, host, &sin->sin_addr) != 1) {
			return NULL;
		}
	}
	/* libevent turns a backlog of -1 into 128, which a burst of connections overflows: SYNs are
	 * dropped and resent after a second, as long as kubelet's probe timeout. SOMAXCONN (4096 in
	 * glibc) is clamped by the kernel to net.core.somaxconn. */
	struct evconnlistener *listener = evconnlistener_new_bind(server->base, on_accept, server,
			LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC | LEV_OPT_REUSEABLE,
			SOMAXCONN, (struct sockaddr *)&ss, (int)len);
	if (listener) {
		evconnlistener_set_error_cb(listener, on_accept_error);
		server->listeners[server->n_listeners++] = listener;
	}
	return listener;
}

static bool bind_one(struct vh_http_server *server, const struct vh_listen *listen, char *err,
		size_t err_len) {
	const char *host = listen->host[0] ? listen->host : "::";
	bool v6 = strchr(host, ':') != NULL;
	if (listen_on(server, host, listen->port, v6)) {
		return true;
	}
	int saved = errno;
	/* "all interfaces" on a host without IPv6 falls back to IPv4 only. */
	if (!listen->host[0] && listen_on(server, "0.0.0.0", listen->port, false)) {
		return true;
	}
	snprintf(err, err_len, "cannot listen on %s%s%s:%u: %s", v6 ? "[" : "", host, v6 ? "]" : "",
			listen->port, strerror(saved));
	return false;
}

/* The cap stays below the descriptor limit, so that eviction, not EMFILE, is what a flood of
 * connections meets. */
static size_t connection_cap(void) {
	struct rlimit limit;
	size_t cap = VH_HTTP_MAX_CONNECTIONS;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
		size_t room = limit.rlim_cur > FD_RESERVE * 2 ? (size_t)limit.rlim_cur - FD_RESERVE
							      : (size_t)limit.rlim_cur / 2;
		cap = room < cap ? room : cap;
	}
	return cap;
}

struct vh_http_server *vh_http_server_create(struct event_base *base, const char *service,
		const struct vh_listen *listen, size_t n_listen, const struct vh_scheduler *sched,
		const struct vh_access_config *access, vh_responder_drain_fn drain, void *drain_arg,
		char *err, size_t err_len) {
	struct vh_http_server *server = calloc(1, sizeof(*server));
	if (!server) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	server->base = base;
	TAILQ_INIT(&server->conns);
	server->stats.connections_limit = connection_cap();
	server->responder = vh_responder_create(
			service, sched, &server->stats, access, drain, drain_arg, err, err_len);
	if (!server->responder) {
		goto error;
	}
	server->resume = event_new(base, -1, EV_PERSIST, on_resume, server);
	struct timeval pause = {ACCEPT_PAUSE_SECONDS, 0};
	if (!server->resume || event_add(server->resume, &pause) != 0) {
		snprintf(err, err_len, "cannot create the HTTP server");
		goto error;
	}
	for (size_t i = 0; i < n_listen; i++) {
		if (!bind_one(server, &listen[i], err, err_len)) {
			goto error;
		}
	}
	return server;

error:
	vh_http_server_destroy(server);
	return NULL;
}

void vh_http_server_set_access(
		struct vh_http_server *server, const struct vh_access_config *access) {
	vh_responder_set_access(server->responder, access);
}

static struct conn *first_parked(struct vh_http_server *server) {
	struct conn *c;
	TAILQ_FOREACH(c, &server->conns, lru) {
		if (c->phase == CONN_PARKED) {
			return c;
		}
	}
	return NULL;
}

/* Answering may close or move a connection in the list, so each round starts over; few
 * connections ever wait on /drain. */
void vh_http_server_drained(struct vh_http_server *server) {
	struct conn *c;
	while ((c = first_parked(server))) {
		struct vh_reply reply;
		vh_responder_drained(server->responder, &reply);
		bool keep_alive = c->parked.keep_alive;
		c->phase = CONN_IDLE;
		if (!send_reply(c, &c->parked, &reply, keep_alive)) {
			conn_free(c);
		} else if (c->out) {
			c->phase = CONN_WRITING;
			c->close_after_write = !keep_alive;
			if (!conn_arm(c, EV_WRITE, WRITE_TIMEOUT_MS)) {
				conn_free(c);
			}
		} else if (!keep_alive) {
			finish_closing(c, c->in_len > 0);
		} else {
			serve_and_wait(c, c->in ? c->in : server->scratch, c->in_len);
		}
	}
}

void vh_http_server_destroy(struct vh_http_server *server) {
	if (!server) {
		return;
	}
	while (!TAILQ_EMPTY(&server->conns)) {
		conn_free(TAILQ_FIRST(&server->conns));
	}
	while (server->spares) {
		struct conn *next = server->spares->next_spare;
		free(server->spares);
		server->spares = next;
	}
	for (size_t i = 0; i < server->n_listeners; i++) {
		evconnlistener_free(server->listeners[i]);
	}
	if (server->resume) {
		event_free(server->resume);
	}
	vh_responder_destroy(server->responder);
	free(server);
}
