/* http_probe.c - the `http` check: GET a URL and check its status and body, without blocking. */
#include "vh/http_probe.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/util.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "vh/clock.h"
#include "vh/resolver.h"

#define MAX_HEADERS_BYTES 16384
/* evhttp's own timeouts (45 s to connect, 50 s per read) must never end a run before the
 * scheduler's deadline does, or a slow server would look like a broken one. */
#define EVHTTP_TIMEOUT_S 3600
/* How much of body_contains a failure message quotes. */
#define NEEDLE_SHOWN 48

/* A run resolves, then exchanges one request on a fresh connection. */
enum http_state {
	HTTP_IDLE,
	HTTP_RESOLVING,
	HTTP_EXCHANGING,
};

struct http_probe {
	struct event_base *base;
	struct vh_resolver *resolver;
	const struct vh_http_check_config *config;
	/* From the URL, parsed once. */
	char host[256]; /* without the brackets of an IPv6 literal */
	char host_header[300]; /* as the URL wrote it, with ":port" when it had one */
	char shown[300]; /* "host:port" for messages; never the URL, which may hold secrets */
	unsigned port;
	char *path; /* path and query */

	enum http_state state;
	uint64_t run;
	vh_probe_done_fn done;
	void *done_arg;
	struct vh_resolve *lookup;
	/* The last run's connection. evhttp still uses it after our callback returns, so it is
	 * freed at the next start, on cancel or on destroy, never from its own callback. */
	struct evhttp_connection *conn;
	int64_t exchange_started_ms;
	bool connected; /* the socket was up at some point: tells "refused" from "closed" */
	bool got_headers; /* the status line and headers arrived */
	bool failed; /* evhttp reported an error; error and error_errno say which */
	enum evhttp_request_error error;
	int error_errno;
};

static void drop_connection(struct http_probe *probe) {
	if (probe->conn) {
		/* Frees a request in flight without calling its callbacks. */
		evhttp_connection_free(probe->conn);
		probe->conn = NULL;
	}
}

static void finish(struct http_probe *probe, const struct vh_check_result *result) {
	probe->state = HTTP_IDLE;
	probe->done(probe->done_arg, probe->run, result);
}

static void fail(struct http_probe *probe, const char *fmt, ...) VH_PRINTF(2, 3);

static void fail(struct http_probe *probe, const char *fmt, ...) {
	struct vh_check_result result;
	char text[VH_CHECK_OUTPUT_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	vh_check_result_set(&result, VH_STATUS_FAIL, "%s", text);
	finish(probe, &result);
}

/* Fires from evhttp's reset and free, and only for a socket that was connected. */
static void on_close(struct evhttp_connection *conn, void *arg) {
	struct http_probe *probe = arg;
	probe->connected = true;
}

static int on_headers(struct evhttp_request *req, void *arg) {
	struct http_probe *probe = arg;
	probe->got_headers = true;
	return 0;
}

/* evhttp calls this just before on_response(NULL), with errno restored to the socket's error. */
static void on_error(enum evhttp_request_error error, void *arg) {
	struct http_probe *probe = arg;
	probe->failed = true;
	probe->error = error;
	probe->error_errno = errno;
}

static void fail_exchange(struct http_probe *probe) {
	const char *shown = probe->shown;
	int e = probe->error_errno;
	if (!probe->connected) {
		if (e == ECONNREFUSED) {
			fail(probe, "connection refused (%s)", shown);
		} else if (e != 0) {
			fail(probe, "connect to %s failed: %s", shown, strerror(e));
		} else {
			fail(probe, "connect to %s failed", shown);
		}
		return;
	}
	switch (probe->error) {
	case EVREQ_HTTP_DATA_TOO_LONG:
		if (probe->got_headers) {
			fail(probe, "body larger than %llu bytes",
					(unsigned long long)probe->config->max_body_bytes);
		} else {
			fail(probe, "response headers larger than %d bytes", MAX_HEADERS_BYTES);
		}
		break;
	case EVREQ_HTTP_INVALID_HEADER:
		fail(probe, "malformed response from %s", shown);
		break;
	case EVREQ_HTTP_TIMEOUT:
		fail(probe, "no response from %s", shown);
		break;
	case EVREQ_HTTP_EOF:
	case EVREQ_HTTP_BUFFER_ERROR:
	case EVREQ_HTTP_REQUEST_CANCEL:
	default:
		/* errno is stale after a clean EOF, so only a reset is worth naming. */
		if (e == ECONNRESET) {
			fail(probe, "connection reset by %s", shown);
		} else {
			fail(probe, "connection closed by %s before %s", shown,
					probe->got_headers ? "the end of the body" : "a response");
		}
		break;
	}
}

/* Quotes body_contains for a message: bounded, and without bytes that would break a line. */
static void quote_needle(const char *needle, char *out, size_t out_len) {
	size_t i = 0;
	for (; needle[i] && i < NEEDLE_SHOWN && i + 4 < out_len; i++) {
		unsigned char c = (unsigned char)needle[i];
		out[i] = (c < 0x20 || c == 0x7F || c == '"') ? '?' : (char)c;
	}
	if (needle[i]) {
		memcpy(out + i, "...", 3);
		i += 3;
	}
	out[i] = '\0';
}

static void judge(struct http_probe *probe, struct evhttp_request *req) {
	const struct vh_http_check_config *config = probe->config;
	struct vh_check_result result;
	int code = evhttp_request_get_response_code(req);
	int64_t took = vh_clock_mono_ms() - probe->exchange_started_ms;
	if (code < (int)config->status_min || code > (int)config->status_max) {
		if (config->status_min == config->status_max) {
			vh_check_result_set(&result, VH_STATUS_FAIL, "HTTP %d (expected %u)", code,
					config->status_min);
		} else {
			vh_check_result_set(&result, VH_STATUS_FAIL, "HTTP %d (expected %u-%u)",
					code, config->status_min, config->status_max);
		}
	} else if (config->body_contains && config->body_contains[0] &&
			evbuffer_search(evhttp_request_get_input_buffer(req), config->body_contains,
					strlen(config->body_contains), NULL)
							.pos < 0) {
		char needle[NEEDLE_SHOWN + 4];
		quote_needle(config->body_contains, needle, sizeof(needle));
		vh_check_result_set(&result, VH_STATUS_FAIL,
				"HTTP %d but body does not contain \"%s\"", code, needle);
	} else {
		vh_check_result_set(&result, VH_STATUS_PASS, "HTTP %d in %lld ms", code,
				(long long)took);
	}
	vh_check_result_add_measure(&result, "response_ms", "responseTime", (double)took, "ms");
	finish(probe, &result);
}

static void on_response(struct evhttp_request *req, void *arg) {
	struct http_probe *probe = arg;
	if (probe->state != HTTP_EXCHANGING) {
		return;
	}
	if (!req || probe->failed) {
		fail_exchange(probe);
		return;
	}
	if (evhttp_request_get_response_code(req) == 0) {
		/* evhttp takes this path, which skips on_error and hands over a request without
		 * a status, when the socket reports ECONNREFUSED; its reset has overwritten errno
		 * by now. Other connect errors come through on_error with errno intact. */
		fail(probe, "connection refused (%s)", probe->shown);
		return;
	}
	judge(probe, req);
}

/* Adds the request headers; false only when out of memory. */
static bool add_headers(struct http_probe *probe, struct evhttp_request *req) {
	/* evhttp would send the numeric address we connect to as Host; virtual hosts need the
	 * name. "Connection: close" so that no idle socket is left between runs. */
	const char *const pairs[][2] = {
			{"Host", probe->host_header},
			{"User-Agent", "veza-health/" VH_VERSION},
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

static bool open_connection(struct http_probe *probe, const char *addr) {
	probe->conn = evhttp_connection_base_new(
			probe->base, NULL, addr, (unsigned short)probe->port);
	if (!probe->conn) {
		return false;
	}
	struct timeval beyond = {.tv_sec = EVHTTP_TIMEOUT_S, .tv_usec = 0};
	evhttp_connection_set_timeout_tv(probe->conn, &beyond);
	evhttp_connection_set_retries(probe->conn, 0);
	evhttp_connection_set_max_headers_size(probe->conn, MAX_HEADERS_BYTES);
	uint64_t max_body = probe->config->max_body_bytes;
	evhttp_connection_set_max_body_size(
			probe->conn, max_body > (uint64_t)EV_SSIZE_MAX ? -1 : (ev_ssize_t)max_body);
	evhttp_connection_set_closecb(probe->conn, on_close, probe);
	return true;
}

static void send_request(struct http_probe *probe, const char *addr) {
	probe->state = HTTP_EXCHANGING;
	probe->connected = false;
	probe->got_headers = false;
	probe->failed = false;
	probe->error_errno = 0;
	probe->exchange_started_ms = vh_clock_mono_ms();
	if (!open_connection(probe, addr)) {
		fail(probe, "cannot create a connection to %s", probe->shown);
		return;
	}
	struct evhttp_request *req = evhttp_request_new(on_response, probe);
	if (!req) {
		fail(probe, "out of memory");
		return;
	}
	evhttp_request_set_error_cb(req, on_error);
	evhttp_request_set_header_cb(req, on_headers);
	if (!add_headers(probe, req)) {
		evhttp_request_free(req);
		fail(probe, "out of memory");
		return;
	}
	/* A connect that fails at once reports through on_response before this returns. On -1
	 * evhttp has either freed the request already (out of memory) or dropped it from the
	 * connection without calling back; freeing the connection cannot reach it then, and its
	 * few bytes are the price of not touching memory that may be gone. */
	if (evhttp_make_request(probe->conn, req, EVHTTP_REQ_GET, probe->path) != 0 &&
			probe->state == HTTP_EXCHANGING) {
		fail(probe, "cannot send a request to %s", probe->shown);
	}
}

static void on_resolved(void *arg, const char *addr, const char *error) {
	struct http_probe *probe = arg;
	probe->lookup = NULL;
	if (error) {
		fail(probe, "%s", error);
		return;
	}
	send_request(probe, addr);
}

static bool http_start(void *impl, uint64_t run, vh_probe_done_fn done, void *arg) {
	struct http_probe *probe = impl;
	if (probe->state != HTTP_IDLE) {
		return false;
	}
	drop_connection(probe);
	probe->run = run;
	probe->done = done;
	probe->done_arg = arg;
	probe->state = HTTP_RESOLVING;
	/* The answer may come before the call returns, and the run may even be over by then. */
	struct vh_resolve *lookup =
			vh_resolver_lookup(probe->resolver, probe->host, on_resolved, probe);
	if (lookup) {
		probe->lookup = lookup;
	}
	return true;
}

static void http_cancel(void *impl) {
	struct http_probe *probe = impl;
	vh_resolve_cancel(probe->lookup);
	probe->lookup = NULL;
	drop_connection(probe);
	probe->state = HTTP_IDLE;
}

static void http_destroy(void *impl) {
	struct http_probe *probe = impl;
	if (!probe) {
		return;
	}
	http_cancel(probe);
	free(probe->path);
	free(probe);
}

/* Whether the exchange's socket has connected: evhttp says so only when it closes. */
static bool socket_connected(const struct http_probe *probe) {
	struct bufferevent *bev =
			probe->conn ? evhttp_connection_get_bufferevent(probe->conn) : NULL;
	evutil_socket_t fd = bev ? bufferevent_getfd(bev) : -1;
	struct sockaddr_storage peer;
	socklen_t len = sizeof(peer);
	return fd >= 0 && getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
}

static void http_phase(void *impl, char *buf, size_t len) {
	const struct http_probe *probe = impl;
	buf[0] = '\0';
	if (probe->state == HTTP_RESOLVING) {
		snprintf(buf, len, "resolving \"%s\"", probe->host);
	} else if (probe->state == HTTP_EXCHANGING && probe->got_headers) {
		snprintf(buf, len, "reading the body from %s", probe->shown);
	} else if (probe->state == HTTP_EXCHANGING && socket_connected(probe)) {
		snprintf(buf, len, "waiting for the reply from %s", probe->shown);
	} else if (probe->state == HTTP_EXCHANGING) {
		snprintf(buf, len, "connecting to %s", probe->shown);
	}
}

static const struct vh_probe_ops http_ops = {
		.type = "http",
		.start = http_start,
		.cancel = http_cancel,
		.destroy = http_destroy,
		.phase = http_phase,
};

/* Fills the URL parts of probe. Messages never quote the URL: it may carry a secret. */
static bool parse_url(struct http_probe *probe, const char *url, char *err, size_t err_len) {
	struct evhttp_uri *uri = evhttp_uri_parse_with_flags(url, 0);
	if (!uri) {
		snprintf(err, err_len, "http check: malformed URL");
		return false;
	}
	bool ok = false;
	const char *scheme = evhttp_uri_get_scheme(uri);
	const char *host = evhttp_uri_get_host(uri);
	const char *path = evhttp_uri_get_path(uri);
	const char *query = evhttp_uri_get_query(uri);
	int port = evhttp_uri_get_port(uri);
	if (!scheme || strcasecmp(scheme, "http") != 0) {
		snprintf(err, err_len, "http check: only http:// URLs are supported");
		goto out;
	}
	if (!host || !host[0] || port == 0) {
		snprintf(err, err_len, "http check: the URL needs a host and a port other than 0");
		goto out;
	}
	if (evhttp_uri_get_userinfo(uri)) {
		snprintf(err, err_len, "http check: credentials in the URL are not supported");
		goto out;
	}
	probe->port = port < 0 ? 80 : (unsigned)port;
	size_t n = strlen(host);
	bool bracketed = n > 2 && host[0] == '[' && host[n - 1] == ']';
	int w = snprintf(probe->host, sizeof(probe->host), "%.*s", (int)(bracketed ? n - 2 : n),
			bracketed ? host + 1 : host);
	bool fits = w >= 0 && (size_t)w < sizeof(probe->host);
	w = port < 0 ? snprintf(probe->host_header, sizeof(probe->host_header), "%s", host)
		     : snprintf(probe->host_header, sizeof(probe->host_header), "%s:%d", host,
				       port);
	fits = fits && w >= 0 && (size_t)w < sizeof(probe->host_header);
	snprintf(probe->shown, sizeof(probe->shown), "%s:%u", host, probe->port);
	size_t path_len = strlen(path && path[0] ? path : "/") + (query ? strlen(query) + 1 : 0);
	probe->path = malloc(path_len + 1);
	if (!fits || !probe->path) {
		snprintf(err, err_len, fits ? "out of memory" : "http check: host name too long");
		goto out;
	}
	snprintf(probe->path, path_len + 1, "%s%s%s", path && path[0] ? path : "/",
			query ? "?" : "", query ? query : "");
	ok = true;

out:
	evhttp_uri_free(uri);
	return ok;
}

bool vh_http_probe_create(const struct vh_probe_env *env, const struct vh_http_check_config *config,
		struct vh_probe *out, char *err, size_t err_len) {
	struct http_probe *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	probe->base = env->base;
	probe->resolver = env->resolver;
	probe->config = config;
	if (!config->url || !parse_url(probe, config->url, err, err_len)) {
		if (!config->url) {
			snprintf(err, err_len, "http check: no URL");
		}
		http_destroy(probe);
		return false;
	}
	out->ops = &http_ops;
	out->impl = probe;
	return true;
}
