/* probe_client.c - `veza-health probe URL`: one GET under one deadline, for HEALTHCHECKs. */
#include "vh/probe_client.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/util.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "vh/clock.h"
#include "vh/compat.h"

enum {
	EXIT_PASS = 0,
	EXIT_FAIL = 1,
	EXIT_BAD_URL = 2,
};

/* A health endpoint answers with a few hundred bytes; these only stop a hostile or broken peer
 * from making the probe buffer without bound before the deadline ends it. */
#define MAX_HEADERS_BYTES (16 * 1024)
#define MAX_BODY_BYTES (1024 * 1024)
#define MAX_REASON_SHOWN 64

struct target {
	char host[256]; /* without IPv6 brackets: what the socket connects to */
	char host_header[300]; /* as the URL spelled it, plus the port when the URL had one */
	char shown[300]; /* "host:port" with brackets around IPv6, for messages */
	char path[2048]; /* path and query, "/" when the URL had none */
	uint16_t port;
	bool numeric; /* an address literal, so no resolver is needed */
};

struct probe {
	const struct target *target;
	struct vh_probe_client_result *result;
	struct event_base *base;
	struct evdns_base *dns;
	struct evhttp_connection *conn;
	struct event *deadline;
	int64_t started_ms;
	int64_t timeout_ms;
	int exit_code;
	bool done;
	bool connected; /* the connection was established at some point */
	bool got_headers; /* a status line and headers arrived; the body may still be missing */
	bool failed; /* evhttp reported an error; error and error_errno say which */
	enum evhttp_request_error error;
	int error_errno;
};

static void set_message(struct vh_probe_client_result *result, const char *fmt, ...)
		VH_PRINTF(2, 3);

static void set_message(struct vh_probe_client_result *result, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(result->message, sizeof(result->message), fmt, ap);
	va_end(ap);
}

/* Messages quote the URL and the server's reason phrase; control bytes and length there must not
 * break the one-line message the caller prints. */
static const char *shorten(const char *text, char *buf, size_t len) {
	size_t i = 0;
	for (; text[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)text[i];
		buf[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

/* The URL as an error message may quote it: whatever sits between "://" and the last '@' (user
 * info, even with a stray '/' in a password) becomes "***", and the query and fragment, which
 * often carry a token, become "?***". The result is shortened like any quoted text. */
static const char *shown(const char *url, char *buf, size_t len) {
	char masked[80];
	const char *authority = strstr(url, "://");
	const char *at = authority ? strrchr(authority, '@') : NULL;
	if (at) {
		snprintf(masked, sizeof(masked), "%.*s***%s", (int)(authority + 3 - url), url, at);
	} else {
		snprintf(masked, sizeof(masked), "%s", url);
	}
	char *query = strpbrk(masked, "?#");
	if (query) {
		snprintf(query, sizeof(masked) - (size_t)(query - masked), "?***");
	}
	return shorten(masked, buf, len);
}

/* Fills target from url, or returns false with the reason in result. */
static bool parse_url(
		const char *url, struct target *target, struct vh_probe_client_result *result) {
	char shown_url[80];
	shown(url, shown_url, sizeof(shown_url));
	/* Strict parsing: a HEALTHCHECK line is written once by a person, and a typo should fail
	 * the image build's first run loudly rather than probe something else. */
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(url, 0);
	if (!uri) {
		set_message(result, "malformed URL \"%s\"", shown_url);
		return false;
	}
	bool ok = false;
	const char *scheme = evhttp_uri_get_scheme(uri);
	const char *host = evhttp_uri_get_host(uri);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	int port = evhttp_uri_get_port(uri);
	if (scheme && strcasecmp(scheme, "https") == 0) {
		set_message(result, "https is not supported; probe the plain http:// listener");
		goto out;
	}
	if (!scheme || strcasecmp(scheme, "http") != 0) {
		set_message(result,
				"malformed URL \"%s\": only http://HOST[:PORT]/PATH is supported",
				shown_url);
		goto out;
	}
	if (!host || !host[0]) {
		set_message(result, "malformed URL \"%s\": no host", shown_url);
		goto out;
	}
	if (evhttp_uri_get_userinfo(uri)) {
		set_message(result, "malformed URL \"%s\": credentials in URLs are not supported",
				shown_url);
		goto out;
	}
	if (port == 0) {
		set_message(result, "malformed URL \"%s\": port 0", shown_url);
		goto out;
	}
	target->port = port < 0 ? 80 : (uint16_t)port;

	/* evhttp keeps the brackets of an IPv6 literal; sockets and inet_pton want them gone. */
	size_t host_len = strlen(host);
	bool bracketed = host[0] == '[' && host_len > 2 && host[host_len - 1] == ']';
	const char *bare = bracketed ? host + 1 : host;
	size_t bare_len = bracketed ? host_len - 2 : host_len;
	if (bare_len >= sizeof(target->host)) {
		set_message(result, "malformed URL \"%s\": host name too long", shown_url);
		goto out;
	}
	memcpy(target->host, bare, bare_len);
	target->host[bare_len] = '\0';

	unsigned char addr[16];
	target->numeric = evutil_inet_pton(AF_INET, target->host, addr) == 1 ||
			evutil_inet_pton(AF_INET6, target->host, addr) == 1;
	if (bracketed && !target->numeric) {
		set_message(result, "malformed URL \"%s\": bad IPv6 address", shown_url);
		goto out;
	}

	int n;
	if (port < 0) {
		n = snprintf(target->host_header, sizeof(target->host_header), "%s", host);
	} else {
		n = snprintf(target->host_header, sizeof(target->host_header), "%s:%d", host, port);
	}
	bool fits = n >= 0 && (size_t)n < sizeof(target->host_header);
	n = snprintf(target->shown, sizeof(target->shown), "%s%s%s:%u", bracketed ? "[" : "",
			target->host, bracketed ? "]" : "", (unsigned)target->port);
	fits = fits && n >= 0 && (size_t)n < sizeof(target->shown);
	n = snprintf(target->path, sizeof(target->path), "%s%s%s", path && path[0] ? path : "/",
			query ? "?" : "", query ? query : "");
	fits = fits && n >= 0 && (size_t)n < sizeof(target->path);
	if (!fits) {
		set_message(result, "malformed URL \"%s\": too long", shown_url);
		goto out;
	}
	ok = true;

out:
	evhttp_uri_free(uri);
	return ok;
}

static void finish(struct probe *probe, int exit_code) {
	probe->done = true;
	probe->exit_code = exit_code;
	event_base_loopbreak(probe->base);
}

/* Names the step the exchange was stuck in, judged from the socket as evhttp left it: no socket
 * yet means the resolver still works, an unconnected socket means connect() is pending, and
 * unsent bytes mean the peer does not read. */
static void describe_phase(const struct probe *probe, char *buf, size_t len) {
	const char *shown = probe->target->shown;
	if (probe->got_headers) {
		snprintf(buf, len, "reading the response body from %s", shown);
		return;
	}
	struct bufferevent *bev =
			probe->conn ? evhttp_connection_get_bufferevent(probe->conn) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	if (fd < 0) {
		if (probe->target->numeric) {
			snprintf(buf, len, "connecting to %s", shown);
		} else {
			snprintf(buf, len, "resolving %s", probe->target->host);
		}
		return;
	}
	struct sockaddr_storage peer;
	socklen_t peer_len = sizeof(peer);
	if (getpeername(fd, (struct sockaddr *)&peer, &peer_len) != 0) {
		snprintf(buf, len, "connecting to %s", shown);
	} else if (evbuffer_get_length(bufferevent_get_output(bev)) > 0) {
		snprintf(buf, len, "sending the request to %s", shown);
	} else {
		snprintf(buf, len, "waiting for the response from %s", shown);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
	struct probe *probe = arg;
	char phase[400];
	describe_phase(probe, phase, sizeof(phase));
	set_message(probe->result, "timeout after %" PRId64 " ms (%s)", probe->timeout_ms, phase);
	finish(probe, EXIT_FAIL);
}

/* Fires only when the connection was up: evhttp calls it from its reset, and only for a
 * connected socket. That is the one way to tell "refused" or "unreachable" from "closed by the
 * server" once evhttp has closed the socket. */
static void on_close(struct evhttp_connection *conn, void *arg) {
	struct probe *probe = arg;
	probe->connected = true;
}

static int on_headers(struct evhttp_request *req, void *arg) {
	struct probe *probe = arg;
	probe->got_headers = true;
	return 0;
}

/* evhttp calls this just before on_response(NULL); errno still holds the socket error here
 * because evhttp restores it after closing the connection. */
static void on_error(enum evhttp_request_error error, void *arg) {
	struct probe *probe = arg;
	probe->failed = true;
	probe->error = error;
	probe->error_errno = errno;
}

static void describe_error(struct probe *probe) {
	const char *shown = probe->target->shown;
	struct vh_probe_client_result *result = probe->result;
	if (!probe->connected) {
		struct bufferevent *bev = evhttp_connection_get_bufferevent(probe->conn);
		int dns_error = bev ? bufferevent_socket_get_dns_error(bev) : 0;
		if (dns_error) {
			set_message(result, "cannot resolve %s: %s", probe->target->host,
					evutil_gai_strerror(dns_error));
		} else if (probe->error_errno) {
			set_message(result, "cannot connect to %s: %s", shown,
					evutil_socket_error_to_string(probe->error_errno));
		} else {
			set_message(result, "cannot connect to %s", shown);
		}
		return;
	}
	switch (probe->error) {
	case EVREQ_HTTP_INVALID_HEADER:
		set_message(result, "malformed response from %s", shown);
		break;
	case EVREQ_HTTP_DATA_TOO_LONG:
		set_message(result, "response from %s larger than %d bytes", shown,
				probe->got_headers ? MAX_BODY_BYTES : MAX_HEADERS_BYTES);
		break;
	case EVREQ_HTTP_TIMEOUT:
		set_message(result, "timeout after %" PRId64 " ms (talking to %s)",
				vh_clock_mono_ms() - probe->started_ms, shown);
		break;
	case EVREQ_HTTP_EOF:
	case EVREQ_HTTP_BUFFER_ERROR:
	case EVREQ_HTTP_REQUEST_CANCEL:
	default:
		/* errno is stale after a clean EOF, so only a reset is worth naming. */
		if (probe->error_errno == ECONNRESET) {
			set_message(result, "connection reset by %s%s", shown,
					probe->got_headers ? " during the response body" : "");
		} else {
			set_message(result, "connection closed by %s before %s", shown,
					probe->got_headers ? "the end of the response body"
							   : "a response");
		}
		break;
	}
}

static void on_response(struct evhttp_request *req, void *arg) {
	struct probe *probe = arg;
	if (probe->done) {
		return;
	}
	if (!req || probe->failed) {
		describe_error(probe);
		finish(probe, EXIT_FAIL);
		return;
	}
	int code = evhttp_request_get_response_code(req);
	if (code == 0) {
		/* evhttp's connect-failure path skips on_error and only checks for ECONNREFUSED;
		 * its own connect timeout cannot get here first because it is set past our
		 * deadline. */
		set_message(probe->result, "connection refused (%s)", probe->target->shown);
		finish(probe, EXIT_FAIL);
		return;
	}
	const char *line = evhttp_request_get_response_code_line(req);
	char reason[MAX_REASON_SHOWN + 1];
	shorten(line ? line : "", reason, sizeof(reason));
	probe->result->http_status = code;
	if (code >= 200 && code < 300) {
		set_message(probe->result, "%d%s%s in %" PRId64 " ms", code, reason[0] ? " " : "",
				reason, vh_clock_mono_ms() - probe->started_ms);
		finish(probe, EXIT_PASS);
	} else {
		set_message(probe->result, "%d%s%s", code, reason[0] ? " " : "", reason);
		finish(probe, EXIT_FAIL);
	}
}

/* Adds the request headers; false only when out of memory. */
static bool add_headers(struct evhttp_request *req, const struct target *target) {
	/* "Connection: close" because each process makes one exchange: the server need not keep
	 * an idle socket open after every HEALTHCHECK run. */
	const char *const pairs[][2] = {
			{"Host", target->host_header},
			{"User-Agent", "veza-health-probe/" VH_VERSION},
			{"Accept", "*/*"},
			{"Connection", "close"},
	};
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	for (size_t i = 0; i < VH_ARRAY_LEN(pairs); i++) {
		if (evhttp_add_header(headers, pairs[i][0], pairs[i][1]) != 0) {
			return false;
		}
	}
	return true;
}

/* Sets up the loop, the deadline and the request. On failure fills the message and returns
 * false; whatever was created is left in probe for the caller to free. */
static bool start(struct probe *probe) {
	const struct target *target = probe->target;
	probe->base = event_base_new();
	if (!probe->base) {
		set_message(probe->result, "cannot create an event loop");
		return false;
	}
	probe->deadline = evtimer_new(probe->base, on_deadline, probe);
	struct timeval tv = {
			.tv_sec = probe->timeout_ms / 1000,
			.tv_usec = (probe->timeout_ms % 1000) * 1000,
	};
	if (!probe->deadline || evtimer_add(probe->deadline, &tv) != 0) {
		set_message(probe->result, "cannot arm the deadline timer");
		return false;
	}
	if (!target->numeric) {
		/* Without a resolver evhttp would call the blocking getaddrinfo(), which no
		 * deadline can interrupt. */
		probe->dns = evdns_base_new(probe->base, EVDNS_BASE_INITIALIZE_NAMESERVERS);
		if (!probe->dns) {
			set_message(probe->result,
					"cannot resolve %s: no usable resolver configuration",
					target->host);
			return false;
		}
	}
	probe->conn = evhttp_connection_base_new(
			probe->base, probe->dns, target->host, target->port);
	if (!probe->conn) {
		set_message(probe->result, "cannot create a connection to %s", target->shown);
		return false;
	}
	/* evhttp's own timeouts (45 s to connect, 50 s per read) must never win over the deadline,
	 * or a slow connect would come back through the path that looks like "refused". */
	struct timeval beyond = {.tv_sec = probe->timeout_ms / 1000 + 60, .tv_usec = 0};
	evhttp_connection_set_timeout_tv(probe->conn, &beyond);
	evhttp_connection_set_retries(probe->conn, 0);
	evhttp_connection_set_max_headers_size(probe->conn, MAX_HEADERS_BYTES);
	evhttp_connection_set_max_body_size(probe->conn, MAX_BODY_BYTES);
	evhttp_connection_set_closecb(probe->conn, on_close, probe);

	struct evhttp_request *req = evhttp_request_new(on_response, probe);
	if (!req) {
		set_message(probe->result, "out of memory");
		return false;
	}
	evhttp_request_set_header_cb(req, on_headers);
	evhttp_request_set_error_cb(req, on_error);
	if (!add_headers(req, target)) {
		evhttp_request_free(req);
		set_message(probe->result, "out of memory");
		return false;
	}
	/* The connection owns req from here on, and frees it on failure too. */
	if (evhttp_make_request(probe->conn, req, EVHTTP_REQ_GET, target->path) != 0) {
		if (!probe->done) {
			set_message(probe->result, "cannot start a request to %s", target->shown);
		}
		return false;
	}
	return true;
}

/* Runs the callbacks that evdns defers to the loop, a few turns at most. */
static void drain_deferred(struct event_base *base) {
	for (int turn = 0; turn < 8; turn++) {
		if (event_base_get_num_events(base, EVENT_BASE_COUNT_ACTIVE) == 0) {
			return;
		}
		event_base_loop(base, EVLOOP_NONBLOCK);
	}
}

int vh_probe_client_run(
		const char *url, int64_t timeout_ms, struct vh_probe_client_result *result) {
	result->http_status = 0;
	result->message[0] = '\0';
	if (timeout_ms < 1) {
		set_message(result, "the timeout must be at least 1 ms");
		return EXIT_BAD_URL;
	}
	struct target target = {0};
	if (!parse_url(url, &target, result)) {
		return EXIT_BAD_URL;
	}
	struct probe probe = {
			.target = &target,
			.result = result,
			.started_ms = vh_clock_mono_ms(),
			.timeout_ms = timeout_ms,
			.exit_code = EXIT_FAIL,
	};
	if (start(&probe) && !probe.done) {
		/* Every path ends in finish(), which breaks the loop; the deadline timer keeps the
		 * loop from running out of events before that. */
		if (event_base_dispatch(probe.base) != 0 || !probe.done) {
			set_message(result, "event loop failed");
			probe.exit_code = EXIT_FAIL;
		}
	}
	/* The connection first: it holds events on base and may hold a lookup on dns. */
	if (probe.conn) {
		evhttp_connection_free(probe.conn);
	}
	if (probe.dns) {
		/* In 2.1.12 freeing a connection that is still resolving leaves the lookup holding
		 * a reference to its bufferevent (valgrind: definitely lost). Failing the lookups
		 * and letting their deferred callbacks run releases it; with fail_requests 0 it
		 * leaks. */
		evdns_base_free(probe.dns, 1);
		drain_deferred(probe.base);
	}
	if (probe.deadline) {
		event_free(probe.deadline);
	}
	if (probe.base) {
		event_base_free(probe.base);
	}
	return probe.done ? probe.exit_code : EXIT_FAIL;
}
