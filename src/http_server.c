/* http_server.c - evhttp front end: every answer is rendered from the scheduler's stored state. */
#include "vh/http_server.h"

#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/log.h"
#include "vh/pg_probe.h"
#include "vh/redis_probe.h"
#include "vh/render.h"
#include "vh/render_history.h"
#include "vh/render_metrics.h"
#include "vh/request.h"
#include "vh/self_stats.h"

/* Request line plus headers; probes and curl send a few hundred bytes. */
#define MAX_HEADERS_SIZE 8192
/* Seconds a connection may sit idle or half-sent before evhttp closes it. */
#define IO_TIMEOUT_SECONDS 5

/* How long a listener rests after accept() failed, e.g. with EMFILE. */
#define ACCEPT_PAUSE_SECONDS 1

struct vh_http_server {
	struct evhttp *http;
	size_t n_listeners;
	struct evconnlistener *listeners[VH_CONFIG_LISTEN_MAX * 2];
	struct event *resume; /* re-enables listeners paused by on_accept_error */
	const struct vh_scheduler *sched;
	const char *service;
	char libpq_version[16];
	char hiredis_version[16];
	struct vh_build_info build;
};

static const char *reason_phrase(int code) {
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	}
	return "Error";
}

/* evhttp 2.1.12 writes the body of a HEAD reply and omits its Content-Length, which breaks the
 * next reply on a keep-alive connection; so HEAD gets the length by hand and an empty body. */
static void send_reply(struct evhttp_request *req, int code, const char *content_type,
		struct evbuffer *body) {
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	evhttp_add_header(headers, "Content-Type", content_type);
	evhttp_add_header(headers, "Cache-Control", "no-store");
	evhttp_add_header(headers, "X-Content-Type-Options", "nosniff");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		char length[24];
		snprintf(length, sizeof(length), "%zu", evbuffer_get_length(body));
		evhttp_add_header(headers, "Content-Length", length);
		evbuffer_drain(body, evbuffer_get_length(body));
	}
	evhttp_send_reply(req, code, reason_phrase(code), body);
}

/* Errors are rare, so building them with jansson (which escapes for us) costs nothing. */
static void send_error(
		struct evhttp_request *req, struct evbuffer *body, int code, const char *message) {
	json_t *json = json_pack("{s:s,s:i}", "error", message, "status", code);
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
	evbuffer_add_printf(body, "%s", text ? text : "{\"error\":\"out of memory\"}");
	free(text);
	json_decref(json);
	send_reply(req, code, "application/json", body);
}

/* Server-Timing (W3C) shows each check's latest duration in a browser's network panel and in
 * `curl -i`, so a slow dependency is visible from the probe answer itself. Names are config
 * check names (a-z, 0-9, _ and -), which are valid tokens as they are. */
static void add_server_timing(struct evhttp_request *req, const struct vh_snapshot *snapshot,
		const struct vh_request *request) {
	char header[4096];
	size_t used = 0;
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (!check->has_run || !vh_render_shows(request, check)) {
			continue;
		}
		int n = snprintf(header + used, sizeof(header) - used, "%s%s;desc=\"%s\";dur=%.3f",
				used ? ", " : "", check->config->name,
				vh_status_name(check->last.status),
				(double)check->last_duration_us / 1000.0);
		if (n < 0 || (size_t)n >= sizeof(header) - used) {
			header[used] = '\0'; /* leave out what does not fit, whole */
			break;
		}
		used += (size_t)n;
	}
	if (used > 0) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Server-Timing", header);
	}
}

static void serve_metrics(
		struct vh_http_server *server, struct evhttp_request *req, struct evbuffer *body) {
	struct vh_snapshot snapshot;
	struct vh_self_stats self;
	vh_scheduler_snapshot(server->sched, server->service, &snapshot);
	bool have_self = vh_self_stats_read(&self);
	vh_render_metrics(&snapshot, &server->build, have_self ? &self : NULL, body);
	send_reply(req, 200, VH_RENDER_METRICS_CONTENT_TYPE, body);
}

static void serve_history(struct vh_http_server *server, struct evhttp_request *req,
		const struct vh_request *request, struct evbuffer *body) {
	struct vh_snapshot snapshot;
	char err[160];
	bool text = request->format == VH_FORMAT_TEXT;
	vh_scheduler_snapshot(server->sched, server->service, &snapshot);
	if (!vh_render_history(&snapshot, request->check[0] ? request->check : NULL, text, body)) {
		snprintf(err, sizeof(err), "no check named %s", request->check);
		send_error(req, body, 404, err);
		return;
	}
	send_reply(req, 200, text ? "text/plain; charset=utf-8" : "application/json", body);
}

static void serve(
		struct vh_http_server *server, struct evhttp_request *req, struct evbuffer *body) {
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *accept = evhttp_find_header(evhttp_request_get_input_headers(req), "Accept");
	struct vh_request request;
	char err[160];
	if (!uri || !evhttp_uri_get_path(uri)) {
		send_error(req, body, 400, "malformed request target");
		return;
	}
	if (!vh_request_parse(evhttp_uri_get_path(uri), evhttp_uri_get_query(uri), accept, &request,
			    err, sizeof(err))) {
		send_error(req, body, 400, err);
		return;
	}
	if (request.target == VH_REQUEST_NOT_FOUND) {
		send_error(req, body, 404,
				"not found; try /live, /ready, /startup, /health, /metrics or "
				"/debug/history");
		return;
	}
	if (request.target == VH_REQUEST_METRICS) {
		serve_metrics(server, req, body);
		return;
	}
	if (request.target == VH_REQUEST_HISTORY) {
		serve_history(server, req, &request, body);
		return;
	}
	struct vh_snapshot snapshot;
	vh_scheduler_snapshot(server->sched, server->service, &snapshot);
	if (request.target == VH_REQUEST_CHECK) {
		const struct vh_check_state *check = vh_snapshot_find(&snapshot, request.check);
		/* As in kube-apiserver, /livez/NAME only knows the checks that gate liveness. */
		if (!check || !vh_state_in_probe(check, request.kind)) {
			snprintf(err, sizeof(err), "no check named %s in %s", request.check,
					request.endpoint);
			send_error(req, body, 404, err);
			return;
		}
	}
	int code = vh_render(&snapshot, &request, body);
	add_server_timing(req, &snapshot, &request);
	send_reply(req, code, vh_render_content_type(request.format), body);
}

static void on_request(struct evhttp_request *req, void *arg) {
	struct vh_http_server *server = arg;
	struct evbuffer *body = evbuffer_new();
	if (!body) {
		evhttp_send_error(req, 500, "out of memory");
		return;
	}
	enum evhttp_cmd_type method = evhttp_request_get_command(req);
	if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
		send_error(req, body, 405, "method not allowed; use GET or HEAD");
	} else {
		serve(server, req, body);
	}
	evbuffer_free(body);
}

/* libevent retries a failed accept() at once and forever: out of descriptors (EMFILE) that is a
 * busy loop that floods the log. So the listener rests, and on_resume wakes it. ctx is evhttp's,
 * not ours, which is why the resting is undone by a timer of the server's own. */
static void on_accept_error(struct evconnlistener *listener, void *ctx) {
	int e = EVUTIL_SOCKET_ERROR();
	(void)ctx;
	evconnlistener_disable(listener);
	vh_log(VH_LOG_WARN, "cannot accept connections; pausing the listener", "error",
			evutil_socket_error_to_string(e), NULL);
}

static void on_resume(evutil_socket_t fd, short what, void *arg) {
	struct vh_http_server *server = arg;
	/* Enabling a listener that is already enabled changes nothing. */
	for (size_t i = 0; i < server->n_listeners; i++) {
		evconnlistener_enable(server->listeners[i]);
	}
}

static bool keep_listener(struct vh_http_server *server, struct evhttp_bound_socket *bound) {
	if (!bound) {
		return false;
	}
	struct evconnlistener *listener = evhttp_bound_socket_get_listener(bound);
	evconnlistener_set_error_cb(listener, on_accept_error);
	server->listeners[server->n_listeners++] = listener;
	return true;
}

static bool bind_one(struct vh_http_server *server, const struct vh_listen *listen, char *err,
		size_t err_len) {
	const char *host = listen->host[0] ? listen->host : "::";
	if (keep_listener(server,
			    evhttp_bind_socket_with_handle(
					    server->http, host, (ev_uint16_t)listen->port))) {
		return true;
	}
	int saved = errno;
	/* "all interfaces" on a host without IPv6 falls back to IPv4 only. */
	if (!listen->host[0] &&
			keep_listener(server,
					evhttp_bind_socket_with_handle(server->http, "0.0.0.0",
							(ev_uint16_t)listen->port))) {
		return true;
	}
	snprintf(err, err_len, "cannot listen on %s%s%s:%u: %s", strchr(host, ':') ? "[" : "", host,
			strchr(host, ':') ? "]" : "", listen->port, strerror(saved));
	return false;
}

struct vh_http_server *vh_http_server_create(struct event_base *base, const char *service,
		const struct vh_listen *listen, size_t n_listen, const struct vh_scheduler *sched,
		char *err, size_t err_len) {
	struct vh_http_server *server = calloc(1, sizeof(*server));
	if (!server) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	server->sched = sched;
	server->service = service;
	vh_pg_library_version(server->libpq_version, sizeof(server->libpq_version));
	vh_redis_library_version(server->hiredis_version, sizeof(server->hiredis_version));
	server->build = (struct vh_build_info){.version = VH_VERSION,
			.libevent = event_get_version(),
			.libpq = server->libpq_version,
			.hiredis = server->hiredis_version};
	server->http = evhttp_new(base);
	server->resume = event_new(base, -1, EV_PERSIST, on_resume, server);
	struct timeval pause = {ACCEPT_PAUSE_SECONDS, 0};
	if (!server->http || !server->resume || event_add(server->resume, &pause) != 0) {
		snprintf(err, err_len, "cannot create the HTTP server");
		goto error;
	}
	/* Every method reaches on_request so that the wrong ones get 405 with Allow, not 501. */
	evhttp_set_allowed_methods(server->http,
			EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
					EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE |
					EVHTTP_REQ_CONNECT | EVHTTP_REQ_PATCH);
	evhttp_set_max_headers_size(server->http, MAX_HEADERS_SIZE);
	evhttp_set_max_body_size(server->http, 0);
	evhttp_set_timeout(server->http, IO_TIMEOUT_SECONDS);
	evhttp_set_default_content_type(server->http, "application/json");
	evhttp_set_gencb(server->http, on_request, server);
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

void vh_http_server_destroy(struct vh_http_server *server) {
	if (!server) {
		return;
	}
	if (server->resume) {
		event_free(server->resume);
	}
	if (server->http) {
		evhttp_free(server->http);
	}
	free(server);
}
