/* test_responder.c - routing, the details policy, /drain and the probe-body cache, with the
 * client's address as the HTTP layer would report it. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <stdio.h>
#include <string.h>

#include "vh/clock.h"
#include "vh/http_parse.h"
#include "vh/responder.h"
#include "vh/scheduler.h"

#define TOKEN "Abcdefghijklmnop0123456789"

static struct event_base *base;
static struct vh_scheduler *sched;
static struct vh_responder *responder;
static int drain_calls;
static bool drain_over;

static bool fake_probe(void *arg, const struct vh_check_config *config, struct vh_probe *out,
		char *err, size_t err_len) {
	snprintf(err, err_len, "no probes in this test");
	return false;
}

static bool on_drain(void *arg) {
	drain_calls++;
	return drain_over;
}

static void make_responder(enum vh_details details, bool trust_loopback, const char *token) {
	char err[128];
	struct vh_access_config access = {.details = details, .trust_loopback = trust_loopback};
	snprintf(access.token, sizeof(access.token), "%s", token);
	vh_responder_destroy(responder);
	responder = vh_responder_create(
			"svc", sched, NULL, &access, on_drain, NULL, err, sizeof(err));
	cr_assert_not_null(responder, "%s", err);
}

static void setup(void) {
	char err[128];
	base = event_base_new();
	sched = vh_scheduler_create(base, 1, fake_probe, NULL, err, sizeof(err));
	cr_assert_not_null(sched, "%s", err);
	drain_calls = 0;
	drain_over = false;
	make_responder(VH_DETAILS_AUTHORIZED, true, TOKEN);
}

static void teardown(void) {
	vh_responder_destroy(responder);
	responder = NULL;
	vh_scheduler_destroy(sched);
	event_base_free(base);
}

TestSuite(responder, .init = setup, .fini = teardown);

/* The whole reply as a client would read it, in buf; returns the status. */
static int ask(const char *head, bool loopback, char *buf, size_t len) {
	struct vh_http_request request;
	struct vh_reply reply;
	enum vh_http_parse_result parsed = vh_http_parse(head, strlen(head), &request);
	cr_assert_neq(parsed, VH_HTTP_PARSE_MORE, "%s", head);
	vh_responder_answer(responder, &request, loopback, &reply);
	if (reply.wait_for_drain) {
		snprintf(buf, len, "(waiting)");
		return 0;
	}
	snprintf(buf, len, "%.*s\r\n%.*s", (int)reply.head_len, reply.head, (int)reply.body_len,
			reply.body);
	return reply.status;
}

static int get(const char *path, const char *extra_headers, bool loopback, char *buf, size_t len) {
	char head[1024];
	snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: x\r\n%s\r\n", path, extra_headers);
	return ask(head, loopback, buf, len);
}

Test(responder, loopback_sees_details_and_others_see_statuses) {
	char buf[8192];
	cr_assert_eq(get("/live", "", true, buf, sizeof(buf)), 200);
	cr_assert(strstr(buf, "\"service\":\"svc\""), "%s", buf);
	cr_assert_eq(get("/live", "", false, buf, sizeof(buf)), 200);
	cr_assert_null(strstr(buf, "svc"), "%s", buf);
	cr_assert(strstr(buf, "\r\n\r\n{\"status\":\"alive\",\"checks\":{}}"), "%s", buf);
	cr_assert_eq(get("/live", "Authorization: Bearer " TOKEN "\r\n", false, buf, sizeof(buf)),
			200);
	cr_assert(strstr(buf, "\"service\":\"svc\""), "the token grants details: %s", buf);
	cr_assert_eq(get("/live", "Authorization: bearer " TOKEN "\r\n", false, buf, sizeof(buf)),
			200);
	cr_assert(strstr(buf, "\"service\":\"svc\""), "the scheme is case-insensitive");
	cr_assert_eq(get("/live", "Authorization: Bearer " TOKEN "x\r\n", false, buf, sizeof(buf)),
			200, "a wrong token never changes a probe's code");
	cr_assert_null(strstr(buf, "svc"));
	cr_assert_eq(get("/live", "Authorization: Basic " TOKEN "\r\n", false, buf, sizeof(buf)),
			200);
	cr_assert_null(strstr(buf, "svc"), "only Bearer counts");
}

Test(responder, history_needs_access) {
	char buf[8192];
	cr_assert_eq(get("/debug/history", "", true, buf, sizeof(buf)), 200);
	cr_assert_eq(get("/debug/history", "", false, buf, sizeof(buf)), 401);
	cr_assert(strstr(buf, "WWW-Authenticate: Bearer realm=\"veza-health\"\r\n"), "%s", buf);
	cr_assert_eq(get("/debug/history", "Authorization: Bearer " TOKEN "X\r\n", false, buf,
				     sizeof(buf)),
			401);
	cr_assert(strstr(buf, "error=\"invalid_token\""), "%s", buf);
	cr_assert_null(strstr(buf, TOKEN), "the token is never echoed");
	cr_assert_eq(get("/debug/history", "Authorization: Bearer " TOKEN "\r\n", false, buf,
				     sizeof(buf)),
			200);
	make_responder(VH_DETAILS_AUTHORIZED, false, TOKEN);
	cr_assert_eq(get("/debug/history", "", true, buf, sizeof(buf)), 401,
			"an untrusted loopback client needs the token too");
	make_responder(VH_DETAILS_AUTHORIZED, true, "");
	cr_assert_eq(get("/debug/history", "", false, buf, sizeof(buf)), 403,
			"without a token nothing would help");
	make_responder(VH_DETAILS_NEVER, true, "");
	cr_assert_eq(get("/debug/history", "", true, buf, sizeof(buf)), 403);
	cr_assert_eq(get("/live", "", true, buf, sizeof(buf)), 200);
	cr_assert_null(strstr(buf, "svc"), "never is never, loopback or not");
	make_responder(VH_DETAILS_ALWAYS, true, "");
	cr_assert_eq(get("/debug/history", "", false, buf, sizeof(buf)), 200);
	cr_assert_eq(get("/metrics", "", false, buf, sizeof(buf)), 200, "metrics are not details");
}

Test(responder, drain_waits_until_the_drain_is_over) {
	char buf[8192];
	cr_assert_eq(get("/drain", "", false, buf, sizeof(buf)), 401);
	cr_assert_eq(drain_calls, 0, "an unauthorized /drain starts nothing");
	cr_assert_eq(get("/drain", "", true, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "(waiting)");
	cr_assert_eq(drain_calls, 1);
	struct vh_reply reply;
	vh_responder_drained(responder, &reply);
	cr_assert_eq(reply.status, 200);
	cr_assert_eq(reply.body_len, strlen("{\"status\":\"drained\"}"));
	drain_over = true;
	cr_assert_eq(get("/drain", "", true, buf, sizeof(buf)), 200,
			"a drain that is over answers");
	cr_assert_eq(ask("HEAD /drain HTTP/1.1\r\nHost: x\r\n\r\n", true, buf, sizeof(buf)), 405,
			"HEAD must not change anything");
	cr_assert(strstr(buf, "Allow: GET\r\n"), "%s", buf);
}

Test(responder, details_always_does_not_open_drain_to_everyone) {
	char buf[8192];
	make_responder(VH_DETAILS_ALWAYS, true, TOKEN);
	cr_assert_eq(get("/debug/history", "", false, buf, sizeof(buf)), 200);
	cr_assert_eq(get("/drain", "", false, buf, sizeof(buf)), 401);
	cr_assert_eq(drain_calls, 0);
	cr_assert_eq(get("/drain", "Authorization: Bearer " TOKEN "\r\n", false, buf, sizeof(buf)),
			0);
	cr_assert_eq(drain_calls, 1, "the token still opens it");
	make_responder(VH_DETAILS_ALWAYS, true, "");
	cr_assert_eq(get("/drain", "", false, buf, sizeof(buf)), 403);
	cr_assert_eq(get("/drain", "", true, buf, sizeof(buf)), 0, "a trusted loopback client may");
}

Test(responder, errors_and_methods) {
	char buf[8192];
	cr_assert_eq(ask("DELETE /ready HTTP/1.1\r\nHost: x\r\n\r\n", true, buf, sizeof(buf)), 405);
	cr_assert(strstr(buf, "Allow: GET, HEAD\r\n"));
	cr_assert_eq(ask("GET /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\n", true, buf,
				     sizeof(buf)),
			413);
	cr_assert_eq(ask("GET /ready HTTP/2.0\r\nHost: x\r\n\r\n", true, buf, sizeof(buf)), 505);
	cr_assert(strstr(buf,
				  "{\"error\":\"HTTP version not supported; use HTTP/1.1\","
				  "\"status\":505}"),
			"%s", buf);
	cr_assert_eq(get("//ready", "", true, buf, sizeof(buf)), 404);
	cr_assert_eq(get("/ready?verbose=maybe", "", true, buf, sizeof(buf)), 400);
	cr_assert_eq(get("/health/nope", "", true, buf, sizeof(buf)), 404);
}

Test(responder, framing_headers_match_the_body) {
	char buf[8192];
	cr_assert_eq(get("/live?verbose", "", true, buf, sizeof(buf)), 200);
	const char *body = strstr(buf, "\r\n\r\n") + 4;
	char expected[64];
	snprintf(expected, sizeof(expected), "Content-Length: %zu\r\n", strlen(body));
	cr_assert(strstr(buf, expected), "%s", buf);
	cr_assert(strstr(buf, "Content-Type: text/plain; charset=utf-8\r\n"));
	cr_assert(strstr(buf, "Cache-Control: no-store\r\n"));
	cr_assert(strstr(buf, " GMT\r\n"), "a Date header: %s", buf);
}

/* Within one clock millisecond and state version the cached body is served as it is. */
Test(responder, probe_bodies_are_cached_per_millisecond) {
	const char *head = "GET /ready HTTP/1.1\r\nHost: x\r\n\r\n";
	struct vh_http_request request;
	cr_assert_eq(vh_http_parse(head, strlen(head), &request), VH_HTTP_PARSE_DONE);
	bool same_ms_seen = false;
	for (int i = 0; i < 1000 && !same_ms_seen; i++) {
		struct vh_reply a, b;
		int64_t before = vh_clock_mono_ms();
		vh_responder_answer(responder, &request, true, &a);
		const char *body_a = a.body;
		vh_responder_answer(responder, &request, true, &b);
		if (vh_clock_mono_ms() != before) {
			continue;
		}
		same_ms_seen = true;
		cr_assert_eq(b.body, body_a, "the second answer is the cached one");
		cr_assert_eq(a.status, b.status);
	}
	cr_assert(same_ms_seen);
	struct vh_reply plain, full;
	vh_responder_answer(responder, &request, false, &plain);
	size_t plain_len = plain.body_len;
	vh_responder_answer(responder, &request, true, &full);
	cr_assert_gt(full.body_len, plain_len, "details and statuses are cached apart");
}
