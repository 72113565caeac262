/* responder.c - routes a parsed request to its renderer and frames the reply; caches probe bodies.
 */
#include "vh/responder.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "vh/clock.h"
#include "vh/pg_probe.h"
#include "vh/redis_probe.h"
#include "vh/render.h"
#include "vh/render_history.h"
#include "vh/render_metrics.h"
#include "vh/render_peers.h"
#include "vh/request.h"
#include "vh/self_stats.h"

/* Status line and headers; Server-Timing takes at most 4 KiB of it. */
#define HEAD_CAP 6144
#define SERVER_TIMING_CAP 4096
/* Longer Accept headers are ignored (the default format applies): nothing real sends one. */
#define ACCEPT_CAP 1024
/* One cached answer per probe kind, format, verbosity and whether details show. */
#define CACHE_SLOTS (4 * 3 * 2 * 2)

struct cached_answer {
	bool valid;
	uint64_t version;
	int64_t mono_ms;
	int64_t wall_s;
	int status;
	char *head; /* HEAD_CAP bytes, allocated on first use */
	size_t head_len;
	struct evbuffer *body;
};

struct vh_responder {
	const char *service;
	const struct vh_scheduler *sched;
	const struct vh_http_stats *http;
	vh_responder_drain_fn drain;
	void *drain_arg;
	struct vh_access_config access;
	size_t token_len;
	char libpq_version[16];
	char hiredis_version[16];
	struct vh_build_info build;
	int64_t date_s; /* the second date[] was formatted for */
	char date[40];
	char head[HEAD_CAP]; /* the head of an uncached answer */
	struct evbuffer *scratch; /* the body of an uncached answer */
	struct cached_answer cache[CACHE_SLOTS];
	struct cached_answer metrics;
};

static const char *reason_phrase(int code) {
	switch (code) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 413:
		return "Content Too Large";
	case 414:
		return "URI Too Long";
	case 431:
		return "Request Header Fields Too Large";
	case 500:
		return "Internal Server Error";
	case 503:
		return "Service Unavailable";
	case 505:
		return "HTTP Version Not Supported";
	}
	return "Error";
}

struct vh_responder *vh_responder_create(const char *service, const struct vh_scheduler *sched,
		const struct vh_http_stats *http, const struct vh_access_config *access,
		vh_responder_drain_fn drain, void *drain_arg, char *err, size_t err_len) {
	struct vh_responder *r = calloc(1, sizeof(*r));
	if (!r || !(r->scratch = evbuffer_new())) {
		snprintf(err, err_len, "out of memory");
		vh_responder_destroy(r);
		return NULL;
	}
	r->service = service;
	r->sched = sched;
	r->http = http;
	r->drain = drain;
	r->drain_arg = drain_arg;
	r->date_s = -1;
	vh_responder_set_access(r, access);
	vh_pg_library_version(r->libpq_version, sizeof(r->libpq_version));
	vh_redis_library_version(r->hiredis_version, sizeof(r->hiredis_version));
	r->build = (struct vh_build_info){.version = VH_VERSION,
			.libevent = event_get_version(),
			.libpq = r->libpq_version,
			.hiredis = r->hiredis_version};
	return r;
}

static void forget(struct cached_answer *c) {
	free(c->head);
	if (c->body) {
		evbuffer_free(c->body);
	}
}

void vh_responder_destroy(struct vh_responder *r) {
	if (!r) {
		return;
	}
	for (size_t i = 0; i < CACHE_SLOTS; i++) {
		forget(&r->cache[i]);
	}
	forget(&r->metrics);
	if (r->scratch) {
		evbuffer_free(r->scratch);
	}
	memset(&r->access, 0, sizeof(r->access));
	free(r);
}

void vh_responder_set_access(struct vh_responder *r, const struct vh_access_config *access) {
	r->access = *access;
	r->token_len = strlen(r->access.token);
}

/* Constant time in what the client sent: every byte of the token is looked at, whatever
 * differs first, so timing tells an attacker nothing about how much of a guess was right. */
static bool token_matches(const struct vh_responder *r, struct vh_http_slice given) {
	unsigned diff = given.len != r->token_len;
	for (size_t i = 0; i < r->token_len; i++) {
		unsigned char g = i < given.len ? (unsigned char)given.p[i] : 0;
		diff |= (unsigned char)r->access.token[i] ^ g;
	}
	return diff == 0;
}

/* "Bearer TOKEN" (RFC 6750; the scheme in any case): the token, or an empty slice. */
static struct vh_http_slice bearer_token(struct vh_http_slice auth) {
	struct vh_http_slice none = {NULL, 0};
	if (auth.len < 7 || strncasecmp(auth.p, "bearer ", 7) != 0) {
		return none;
	}
	struct vh_http_slice token = {auth.p + 7, auth.len - 7};
	while (token.len > 0 && *token.p == ' ') {
		token.p++;
		token.len--;
	}
	return token;
}

enum access_answer {
	ACCESS_GRANTED,
	ACCESS_NEEDS_TOKEN, /* 401: a token would do */
	ACCESS_FORBIDDEN, /* 403: nothing would */
};

/* What "authorized" grants: a trusted loopback client, or the token. */
static enum access_answer authorized(const struct vh_responder *r,
		const struct vh_http_request *request, bool loopback) {
	if (loopback && r->access.trust_loopback) {
		return ACCESS_GRANTED;
	}
	if (r->token_len == 0) {
		return ACCESS_FORBIDDEN;
	}
	struct vh_http_slice token = bearer_token(request->authorization);
	return token.len > 0 && token_matches(r, token) ? ACCESS_GRANTED : ACCESS_NEEDS_TOKEN;
}

/* Reading details follows the policy. /drain changes what the pod serves and cannot be undone,
 * so "always" does not open it to everyone: it always needs what "authorized" asks for. */
static enum access_answer access_for(const struct vh_responder *r,
		const struct vh_http_request *request, bool loopback, bool drain) {
	switch (r->access.details) {
	case VH_DETAILS_ALWAYS:
		return drain ? authorized(r, request, loopback) : ACCESS_GRANTED;
	case VH_DETAILS_NEVER:
		return ACCESS_FORBIDDEN;
	case VH_DETAILS_AUTHORIZED:
		break;
	}
	return authorized(r, request, loopback);
}

/* RFC 9110 wants a Date from a server with a clock; formatting it once a second keeps it cheap. */
static const char *http_date(struct vh_responder *r, int64_t wall_ms) {
	int64_t s = wall_ms / 1000;
	if (s != r->date_s) {
		static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
		static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul",
				"Aug", "Sep", "Oct", "Nov", "Dec"};
		time_t t = (time_t)s;
		struct tm tm;
		gmtime_r(&t, &tm);
		snprintf(r->date, sizeof(r->date), "%s, %02d %s %04d %02d:%02d:%02d GMT",
				days[tm.tm_wday % 7], tm.tm_mday, months[tm.tm_mon % 12],
				tm.tm_year + 1900, tm.tm_hour, tm.tm_min, tm.tm_sec);
		r->date_s = s;
	}
	return r->date;
}

/* Server-Timing (W3C) shows each check's latest duration in a browser's network panel and in
 * `curl -i`, so a slow dependency is visible from the probe answer itself. Names are config
 * check names (a-z, 0-9, _ and -), which are valid tokens as they are. Writes "" when no shown
 * check has run. */
static void server_timing(const struct vh_snapshot *snapshot, const struct vh_request *request,
		char *out, size_t cap) {
	size_t used = 0;
	out[0] = '\0';
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (!check->has_run || !vh_render_shows(request, check)) {
			continue;
		}
		int n = snprintf(out + used, cap - used, "%s%s;desc=\"%s\";dur=%.3f",
				used ? ", " : "", check->config->name,
				vh_status_name(check->last.status),
				(double)check->last_duration_us / 1000.0);
		if (n < 0 || (size_t)n >= cap - used) {
			out[used] = '\0'; /* leave out what does not fit, whole */
			break;
		}
		used += (size_t)n;
	}
}

/* extra is whole header lines ("Allow: GET, HEAD\r\n") or "". */
static size_t build_head(char *head, int status, const char *content_type, size_t body_len,
		const char *date, const char *extra) {
	int n = snprintf(head, HEAD_CAP,
			"HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
			"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n"
			"Date: %s\r\n%s",
			status, reason_phrase(status), content_type, body_len, date, extra);
	/* extra is bounded well below HEAD_CAP, so this cannot truncate; stay framed if it did. */
	return n > 0 && n < HEAD_CAP ? (size_t)n : 0;
}

static void reply_from(struct vh_responder *r, int status, const char *content_type,
		const char *extra, int64_t wall_ms, struct vh_reply *reply) {
	size_t body_len = evbuffer_get_length(r->scratch);
	reply->status = status;
	reply->body = (const char *)evbuffer_pullup(r->scratch, -1);
	reply->body_len = reply->body ? body_len : 0;
	reply->head = r->head;
	reply->head_len = build_head(r->head, status, content_type, reply->body_len,
			http_date(r, wall_ms), extra);
}

/* Errors are rare, so building them with jansson (which escapes for us) costs nothing. */
static void answer_error(struct vh_responder *r, int status, const char *message, const char *extra,
		struct vh_reply *reply) {
	json_t *json = json_pack("{s:s,s:i}", "error", message, "status", status);
	char *text = json ? json_dumps(json, JSON_COMPACT) : NULL;
	evbuffer_drain(r->scratch, evbuffer_get_length(r->scratch));
	evbuffer_add_printf(r->scratch, "%s", text ? text : "{\"error\":\"out of memory\"}");
	free(text);
	json_decref(json);
	reply_from(r, status, "application/json", extra, vh_clock_wall_ms(), reply);
}

static void answer_rendered(struct vh_responder *r, const struct vh_snapshot *snapshot,
		const struct vh_request *request, struct vh_reply *reply) {
	char timing[SERVER_TIMING_CAP + 32];
	char extra[SERVER_TIMING_CAP + 64];
	evbuffer_drain(r->scratch, evbuffer_get_length(r->scratch));
	int status = vh_render(snapshot, request, r->scratch);
	if (request->details) {
		server_timing(snapshot, request, timing, SERVER_TIMING_CAP);
	} else {
		timing[0] = '\0'; /* durations are details */
	}
	snprintf(extra, sizeof(extra), "%s%s%s", timing[0] ? "Server-Timing: " : "", timing,
			timing[0] ? "\r\n" : "");
	reply_from(r, status, vh_render_content_type(request->format), extra, snapshot->now_wall_ms,
			reply);
}

/* A cached answer serves while the state version and the clock, to the millisecond (ages,
 * uptime) and the second (timestamp, Date), are what they were when it was rendered. */
static bool still_fresh(const struct cached_answer *c, const struct vh_snapshot *snapshot) {
	return c->valid && c->version == snapshot->version && c->mono_ms == snapshot->now_mono_ms &&
			c->wall_s == snapshot->now_wall_ms / 1000;
}

/* Keeps the reply just rendered into the scratch buffer and r->head as c. */
static bool keep(struct vh_responder *r, struct cached_answer *c, const struct vh_reply *fresh,
		const struct vh_snapshot *snapshot) {
	c->valid = false;
	if (!c->head && !(c->head = malloc(HEAD_CAP))) {
		return false;
	}
	if (!c->body && !(c->body = evbuffer_new())) {
		return false;
	}
	evbuffer_drain(c->body, evbuffer_get_length(c->body));
	/* The scratch chains move over; no copy. */
	if (evbuffer_add_buffer(c->body, r->scratch) != 0 || !evbuffer_pullup(c->body, -1)) {
		return false;
	}
	memcpy(c->head, fresh->head, fresh->head_len);
	c->head_len = fresh->head_len;
	c->status = fresh->status;
	c->valid = true;
	c->version = snapshot->version;
	c->mono_ms = snapshot->now_mono_ms;
	c->wall_s = snapshot->now_wall_ms / 1000;
	return true;
}

static void reply_cached(
		struct vh_responder *r, const struct cached_answer *c, struct vh_reply *reply) {
	if (!c->valid) {
		answer_error(r, 500, "out of memory", "", reply);
		return;
	}
	reply->status = c->status;
	reply->head = c->head;
	reply->head_len = c->head_len;
	reply->body = (const char *)evbuffer_pullup(c->body, -1);
	reply->body_len = evbuffer_get_length(c->body);
}

/* A plain probe answer: one cache slot per kind, format, verbosity and details. */
static void answer_cached(struct vh_responder *r, const struct vh_snapshot *snapshot,
		const struct vh_request *request, struct vh_reply *reply) {
	size_t slot = (size_t)request->kind * 3 + (size_t)request->format;
	slot = (slot * 2 + (request->verbose ? 1 : 0)) * 2 + (request->details ? 1 : 0);
	struct cached_answer *c = &r->cache[slot % CACHE_SLOTS];
	if (!still_fresh(c, snapshot)) {
		struct vh_reply fresh;
		answer_rendered(r, snapshot, request, &fresh);
		keep(r, c, &fresh, snapshot);
	}
	reply_cached(r, c, reply);
}

static void answer_probe(
		struct vh_responder *r, const struct vh_request *request, struct vh_reply *reply) {
	struct vh_snapshot snapshot;
	char err[160];
	vh_scheduler_snapshot(r->sched, r->service, &snapshot);
	if (request->target == VH_REQUEST_CHECK) {
		const struct vh_check_state *check = vh_snapshot_find(&snapshot, request->check);
		/* As in kube-apiserver, /livez/NAME only knows the checks that gate liveness. */
		if (!check || !vh_state_in_probe(check, request->kind)) {
			snprintf(err, sizeof(err), "no check named %s in %s", request->check,
					request->endpoint);
			answer_error(r, 404, err, "", reply);
			return;
		}
	}
	if (request->target == VH_REQUEST_PROBE && request->n_exclude == 0) {
		answer_cached(r, &snapshot, request, reply);
		return;
	}
	answer_rendered(r, &snapshot, request, reply);
}

/* Cached like a probe answer, so a client pipelining scrapes cannot make the daemon read
 * /proc/self and render hundreds of times a millisecond; the daemon's own CPU and memory
 * figures are then at most a millisecond old. */
static void answer_metrics(struct vh_responder *r, struct vh_reply *reply) {
	struct vh_snapshot snapshot;
	vh_scheduler_snapshot(r->sched, r->service, &snapshot);
	if (!still_fresh(&r->metrics, &snapshot)) {
		struct vh_self_stats self;
		struct vh_reply fresh;
		bool have_self = vh_self_stats_read(&self);
		evbuffer_drain(r->scratch, evbuffer_get_length(r->scratch));
		vh_render_metrics(&snapshot, &r->build, r->http, have_self ? &self : NULL,
				r->scratch);
		reply_from(r, 200, VH_RENDER_METRICS_CONTENT_TYPE, "", snapshot.now_wall_ms,
				&fresh);
		keep(r, &r->metrics, &fresh, &snapshot);
	}
	reply_cached(r, &r->metrics, reply);
}

static void answer_history(
		struct vh_responder *r, const struct vh_request *request, struct vh_reply *reply) {
	struct vh_snapshot snapshot;
	char err[160];
	bool text = request->format == VH_FORMAT_TEXT;
	vh_scheduler_snapshot(r->sched, r->service, &snapshot);
	evbuffer_drain(r->scratch, evbuffer_get_length(r->scratch));
	if (!vh_render_history(&snapshot, request->check[0] ? request->check : NULL, text,
			    r->scratch)) {
		snprintf(err, sizeof(err), "no check named %s", request->check);
		answer_error(r, 404, err, "", reply);
		return;
	}
	reply_from(r, 200, text ? "text/plain; charset=utf-8" : "application/json", "",
			snapshot.now_wall_ms, reply);
}

/* Peers are other pods, never loopback in a real fleet, and a mesh proxy would make them look
 * local anyway: with a token set, /peers/state wants the token from everyone. Without one it is
 * open, as it shows no output, host or secret: statuses, ages and hashes. */
static enum access_answer peers_access(
		const struct vh_responder *r, const struct vh_http_request *request) {
	if (r->token_len == 0) {
		return ACCESS_GRANTED;
	}
	struct vh_http_slice token = bearer_token(request->authorization);
	return token.len > 0 && token_matches(r, token) ? ACCESS_GRANTED : ACCESS_NEEDS_TOKEN;
}

static void answer_peers(struct vh_responder *r, struct vh_reply *reply) {
	struct vh_snapshot snapshot;
	vh_scheduler_snapshot(r->sched, r->service, &snapshot);
	evbuffer_drain(r->scratch, evbuffer_get_length(r->scratch));
	vh_render_peers(&snapshot, r->scratch);
	reply_from(r, 200, "application/json", "", snapshot.now_wall_ms, reply);
}

/* /debug/history and /drain are nothing but details, so without access they are refused. */
static const char forbidden_never[] = "forbidden: the config says \"details\": \"never\"";
static const char forbidden_untrusted[] = "forbidden: no token is configured for this client";
static const char needs_token[] = "authorization required: send \"Authorization: Bearer TOKEN\"";
static const char challenge[] = "WWW-Authenticate: Bearer realm=\"veza-health\"\r\n";
static const char challenge_invalid[] =
		"WWW-Authenticate: Bearer realm=\"veza-health\", error=\"invalid_token\"\r\n";

static void answer_denied(struct vh_responder *r, enum access_answer access, bool sent_token,
		struct vh_reply *reply) {
	if (access == ACCESS_FORBIDDEN) {
		bool never = r->access.details == VH_DETAILS_NEVER;
		answer_error(r, 403, never ? forbidden_never : forbidden_untrusted, "", reply);
		return;
	}
	/* RFC 6750 3: say which scheme, and whether the token sent was wrong. */
	answer_error(r, 401, needs_token, sent_token ? challenge_invalid : challenge, reply);
}

void vh_responder_drained(struct vh_responder *r, struct vh_reply *reply) {
	evbuffer_drain(r->scratch, evbuffer_get_length(r->scratch));
	evbuffer_add_printf(r->scratch, "{\"status\":\"drained\"}");
	reply_from(r, 200, "application/json", "", vh_clock_wall_ms(), reply);
}

static void answer_drain(struct vh_responder *r, struct vh_reply *reply) {
	if (r->drain(r->drain_arg)) {
		vh_responder_drained(r, reply);
		return;
	}
	reply->wait_for_drain = true;
}

/* The router wants NUL-terminated strings; the parser bounds the target at 4 KiB. */
static void route(struct vh_responder *r, const struct vh_http_request *http, bool loopback,
		struct vh_reply *reply) {
	char target[VH_HTTP_HEAD_MAX + 1];
	char accept[ACCEPT_CAP];
	char err[160];
	struct vh_request request;
	memcpy(target, http->target.p, http->target.len);
	target[http->target.len] = '\0';
	char *query = strchr(target, '?');
	if (query) {
		*query++ = '\0';
	}
	bool has_accept = http->accept.len > 0 && http->accept.len < sizeof(accept);
	if (has_accept) {
		memcpy(accept, http->accept.p, http->accept.len);
		accept[http->accept.len] = '\0';
	}
	if (!vh_request_parse(target, query, has_accept ? accept : NULL, &request, err,
			    sizeof(err))) {
		answer_error(r, 400, err, "", reply);
		return;
	}
	bool drain = request.target == VH_REQUEST_DRAIN;
	if (drain && !r->drain) {
		request.target = VH_REQUEST_NOT_FOUND;
	} else if (drain && http->method == VH_HTTP_HEAD) {
		/* HEAD must not change anything (RFC 9110 9.2.1), and draining does. */
		answer_error(r, 405, "method not allowed; /drain takes GET", "Allow: GET\r\n",
				reply);
		return;
	}
	enum access_answer access = request.target == VH_REQUEST_PEERS
			? peers_access(r, http)
			: access_for(r, http, loopback, drain);
	request.details = access == ACCESS_GRANTED;
	if (request.target == VH_REQUEST_PEERS && access != ACCESS_GRANTED) {
		answer_denied(r, access, http->authorization.len > 0, reply);
		return;
	}
	if ((drain || request.target == VH_REQUEST_HISTORY) && access != ACCESS_GRANTED) {
		answer_denied(r, access, http->authorization.len > 0, reply);
		return;
	}
	switch (request.target) {
	case VH_REQUEST_NOT_FOUND:
		answer_error(r, 404,
				"not found; try /live, /ready, /startup, /health, /metrics, "
				"/debug/history, /drain or /peers/state",
				"", reply);
		return;
	case VH_REQUEST_METRICS:
		answer_metrics(r, reply);
		return;
	case VH_REQUEST_HISTORY:
		answer_history(r, &request, reply);
		return;
	case VH_REQUEST_DRAIN:
		answer_drain(r, reply);
		return;
	case VH_REQUEST_PEERS:
		answer_peers(r, reply);
		return;
	case VH_REQUEST_PROBE:
	case VH_REQUEST_CHECK:
		break;
	}
	answer_probe(r, &request, reply);
}

void vh_responder_answer(struct vh_responder *r, const struct vh_http_request *request,
		bool loopback, struct vh_reply *reply) {
	memset(reply, 0, sizeof(*reply));
	if (request->error_status) {
		answer_error(r, request->error_status, request->error, "", reply);
	} else if (request->method == VH_HTTP_OTHER) {
		answer_error(r, 405, "method not allowed; use GET or HEAD", "Allow: GET, HEAD\r\n",
				reply);
	} else if (request->has_body) {
		answer_error(r, 413, "request bodies are not accepted", "", reply);
	} else {
		route(r, request, loopback, reply);
	}
}
