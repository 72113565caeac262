/* dns_tcp.c - DNS lookups over TCP (RFC 7766), for answers too big for evdns's UDP. */
#include "vh/dns_tcp.h"

#include <arpa/inet.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/random.h"

/* "[ffff:...:ffff]:65535" */
#define SERVER_TEXT_MAX (INET6_ADDRSTRLEN + 8)

/* One question at a time: A, then AAAA, for each candidate name in turn. A server may close
 * the connection between answers (RFC 7766 6.2.3 lets it), so a close after an answer only
 * costs a new connection to the same server; a close before any answer means the server does
 * not do TCP and the next one is asked. */
struct vh_dns_tcp {
	struct event_base *base;
	struct bufferevent *conn;
	struct event *deadline;
	vh_dns_tcp_done_fn done;
	void *arg;
	int64_t timeout_ms;
	uint64_t random;

	struct sockaddr_storage servers[VH_DNS_TCP_SERVERS_MAX];
	size_t n_servers, server;
	bool answered_here; /* the current connection has given at least one answer */

	char names[VH_DNS_CANDIDATES_MAX][VH_DNS_NAME_MAX + 2];
	size_t n_names, name;
	uint16_t type, id;
	bool some_name_exists;

	char why[200]; /* the last server's failure, for when every server has failed */
	size_t n_addrs;
	struct vh_dns_address addrs[VH_DNS_TCP_ADDRESSES_MAX];
};

static socklen_t server_len(const struct sockaddr_storage *ss) {
	return ss->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
}

static void server_text(const struct sockaddr_storage *ss, char *out, size_t out_len) {
	char host[INET6_ADDRSTRLEN] = "?";
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
		inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
		snprintf(out, out_len, "[%s]:%u", host, ntohs(sin6->sin6_port));
	} else {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
		inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
		snprintf(out, out_len, "%s:%u", host, ntohs(sin->sin_port));
	}
}

static void close_connection(struct vh_dns_tcp *lookup) {
	if (lookup->conn) {
		bufferevent_free(lookup->conn);
		lookup->conn = NULL;
	}
}

void vh_dns_tcp_cancel(struct vh_dns_tcp *lookup) {
	if (!lookup) {
		return;
	}
	close_connection(lookup);
	if (lookup->deadline) {
		event_free(lookup->deadline);
	}
	free(lookup);
}

static void complete(struct vh_dns_tcp *lookup, enum vh_dns_rcode rcode, const char *error) {
	vh_dns_tcp_done_fn done = lookup->done;
	void *arg = lookup->arg;
	close_connection(lookup);
	done(arg, rcode, rcode == VH_DNS_ANSWERED ? lookup->addrs : NULL,
			rcode == VH_DNS_ANSWERED ? lookup->n_addrs : 0, lookup->some_name_exists,
			error);
	vh_dns_tcp_cancel(lookup);
}

static bool send_query(struct vh_dns_tcp *lookup) {
	uint8_t frame[2 + VH_DNS_QUERY_MAX];
	lookup->id = (uint16_t)vh_random_next(&lookup->random);
	size_t len = vh_dns_query_encode(lookup->id, lookup->names[lookup->name], lookup->type,
			frame + 2, sizeof(frame) - 2);
	frame[0] = (uint8_t)(len >> 8);
	frame[1] = (uint8_t)(len & 0xff);
	return len > 0 && bufferevent_write(lookup->conn, frame, len + 2) == 0;
}

static void on_readable(struct bufferevent *conn, void *arg);
static void on_event(struct bufferevent *conn, short what, void *arg);

/* Connects to the current server and queues the current question, which bufferevent sends
 * once the connection is up. */
static bool connect_current(struct vh_dns_tcp *lookup) {
	const struct sockaddr_storage *server = &lookup->servers[lookup->server];
	lookup->answered_here = false;
	lookup->conn = bufferevent_socket_new(lookup->base, -1, BEV_OPT_CLOSE_ON_FREE);
	if (!lookup->conn) {
		return false;
	}
	bufferevent_setcb(lookup->conn, on_readable, NULL, on_event, lookup);
	if (bufferevent_socket_connect(lookup->conn, (const struct sockaddr *)server,
			    (int)server_len(server)) != 0 ||
			bufferevent_enable(lookup->conn, EV_READ | EV_WRITE) != 0 ||
			!send_query(lookup)) {
		close_connection(lookup);
		return false;
	}
	return true;
}

/* Connects to the first server from first on that a connection can be started to, starting
 * the questions over there. false when none is left; lookup->why then says what the last one
 * did. */
static bool connect_from(struct vh_dns_tcp *lookup, size_t first) {
	close_connection(lookup);
	for (lookup->server = first; lookup->server < lookup->n_servers; lookup->server++) {
		lookup->name = 0;
		lookup->type = VH_DNS_TYPE_A;
		lookup->n_addrs = 0;
		lookup->some_name_exists = false;
		if (connect_current(lookup)) {
			return true;
		}
		char server[SERVER_TEXT_MAX];
		server_text(&lookup->servers[lookup->server], server, sizeof(server));
		snprintf(lookup->why, sizeof(lookup->why), "cannot connect to %s: %s", server,
				strerror(errno));
	}
	lookup->server = lookup->n_servers - 1; /* for the deadline's message */
	return false;
}

/* Notes why the current server failed ("what SERVER" or "what SERVER: detail") and moves on to
 * the next, or ends the lookup with that reason when none is left. */
static void server_failed(struct vh_dns_tcp *lookup, const char *what, const char *detail) {
	char server[SERVER_TEXT_MAX];
	server_text(&lookup->servers[lookup->server], server, sizeof(server));
	snprintf(lookup->why, sizeof(lookup->why), "%s %s%s%s", what, server, detail ? ": " : "",
			detail ? detail : "");
	if (!connect_from(lookup, lookup->server + 1)) {
		complete(lookup, VH_DNS_FAILED, lookup->why);
	}
}

/* The next question after an answer: AAAA for the same name, or the next candidate. */
static void ask_next(struct vh_dns_tcp *lookup, enum vh_dns_rcode rcode) {
	if (rcode == VH_DNS_ANSWERED) {
		lookup->some_name_exists = true;
	}
	if (rcode == VH_DNS_ANSWERED && lookup->type == VH_DNS_TYPE_A) {
		lookup->type = VH_DNS_TYPE_AAAA;
	} else if (lookup->n_addrs > 0) {
		complete(lookup, VH_DNS_ANSWERED, NULL);
		return;
	} else if (++lookup->name < lookup->n_names) {
		lookup->type = VH_DNS_TYPE_A;
	} else {
		complete(lookup, VH_DNS_NO_SUCH_NAME, NULL);
		return;
	}
	if (!send_query(lookup)) {
		server_failed(lookup, "cannot send a query to", NULL);
	}
}

static void on_readable(struct bufferevent *conn, void *arg) {
	struct vh_dns_tcp *lookup = arg;
	struct evbuffer *in = bufferevent_get_input(conn);
	uint8_t prefix[2];
	if (evbuffer_copyout(in, prefix, 2) != 2) {
		return;
	}
	size_t len = ((size_t)prefix[0] << 8) | prefix[1];
	if (evbuffer_get_length(in) < len + 2) {
		return;
	}
	const uint8_t *msg = evbuffer_pullup(in, (ev_ssize_t)(len + 2));
	if (!msg) {
		server_failed(lookup, "out of memory reading the answer from", NULL);
		return;
	}
	size_t n = 0;
	char err[128];
	enum vh_dns_rcode rcode = vh_dns_answer_parse(msg + 2, len, lookup->id,
			lookup->names[lookup->name], lookup->type, lookup->addrs + lookup->n_addrs,
			VH_DNS_TCP_ADDRESSES_MAX - lookup->n_addrs, &n, err, sizeof(err));
	evbuffer_drain(in, len + 2);
	if (rcode == VH_DNS_FAILED) {
		server_failed(lookup, "bad answer from", err);
		return;
	}
	lookup->answered_here = true;
	lookup->n_addrs += n;
	ask_next(lookup, rcode);
}

static void on_event(struct bufferevent *conn, short what, void *arg) {
	(void)conn;
	struct vh_dns_tcp *lookup = arg;
	if (what & BEV_EVENT_CONNECTED) {
		return;
	}
	if (lookup->answered_here) {
		/* The server closed an idle connection between our questions: ask again, afresh. */
		close_connection(lookup);
		if (connect_current(lookup)) {
			return;
		}
	}
	int error = EVUTIL_SOCKET_ERROR();
	if ((what & BEV_EVENT_EOF) || error == 0) {
		server_failed(lookup, "connection closed without an answer by", NULL);
	} else if (error == ECONNREFUSED) {
		server_failed(lookup, "connection refused by", NULL);
	} else if (error == ECONNRESET) {
		server_failed(lookup, "connection reset by", NULL);
	} else {
		server_failed(lookup, "cannot talk to", strerror(error));
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
	(void)fd;
	(void)what;
	struct vh_dns_tcp *lookup = arg;
	char server[SERVER_TEXT_MAX];
	char why[SERVER_TEXT_MAX + 64];
	server_text(&lookup->servers[lookup->server], server, sizeof(server));
	snprintf(why, sizeof(why), "no answer within %lld ms from %s",
			(long long)lookup->timeout_ms, server);
	complete(lookup, VH_DNS_FAILED, why);
}

static bool arm_deadline(struct vh_dns_tcp *lookup) {
	struct timeval tv = {
			.tv_sec = (time_t)(lookup->timeout_ms / 1000),
			.tv_usec = (suseconds_t)(lookup->timeout_ms % 1000) * 1000,
	};
	lookup->deadline = evtimer_new(lookup->base, on_deadline, lookup);
	return lookup->deadline && evtimer_add(lookup->deadline, &tv) == 0;
}

struct vh_dns_tcp *vh_dns_tcp_start(struct event_base *base, const struct sockaddr_storage *servers,
		size_t n_servers, const char (*names)[VH_DNS_NAME_MAX + 2], size_t n_names,
		int64_t timeout_ms, vh_dns_tcp_done_fn done, void *arg, char *err, size_t err_len) {
	uint8_t probe[VH_DNS_QUERY_MAX];
	if (n_servers == 0 || n_names == 0 || timeout_ms <= 0) {
		snprintf(err, err_len,
				n_servers == 0 ? "no nameserver to ask over TCP"
					       : "nothing to ask over TCP");
		return NULL;
	}
	for (size_t i = 0; i < n_names && i < VH_DNS_CANDIDATES_MAX; i++) {
		if (vh_dns_query_encode(0, names[i], VH_DNS_TYPE_A, probe, sizeof(probe)) == 0) {
			snprintf(err, err_len, "\"%s\" is no name a DNS query can carry", names[i]);
			return NULL;
		}
	}
	struct vh_dns_tcp *lookup = calloc(1, sizeof(*lookup));
	if (!lookup) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	lookup->base = base;
	lookup->done = done;
	lookup->arg = arg;
	lookup->timeout_ms = timeout_ms;
	lookup->random = vh_random_seed((uintptr_t)lookup);
	lookup->n_servers = n_servers < VH_DNS_TCP_SERVERS_MAX ? n_servers : VH_DNS_TCP_SERVERS_MAX;
	memcpy(lookup->servers, servers, lookup->n_servers * sizeof(servers[0]));
	lookup->n_names = n_names < VH_DNS_CANDIDATES_MAX ? n_names : VH_DNS_CANDIDATES_MAX;
	memcpy(lookup->names, names, lookup->n_names * sizeof(names[0]));
	lookup->type = VH_DNS_TYPE_A;
	if (!arm_deadline(lookup)) {
		snprintf(err, err_len, "out of memory");
		goto error;
	}
	if (!connect_from(lookup, 0)) {
		snprintf(err, err_len, "%s", lookup->why);
		goto error;
	}
	return lookup;

error:
	vh_dns_tcp_cancel(lookup);
	return NULL;
}
