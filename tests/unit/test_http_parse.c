/* test_http_parse.c - the request-head parser: what it accepts, and each way it refuses. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vh/http_parse.h"

static enum vh_http_parse_result parse(const char *text, struct vh_http_request *out) {
	return vh_http_parse(text, strlen(text), out);
}

static void expect_error(const char *text, int status) {
	struct vh_http_request r;
	cr_assert_eq(parse(text, &r), VH_HTTP_PARSE_ERROR, "%s", text);
	cr_assert_eq(r.error_status, status, "%s: got %d", text, r.error_status);
	cr_assert_not_null(r.error);
	cr_assert_not(r.keep_alive, "an error always closes");
}

static bool slice_eq(struct vh_http_slice s, const char *text) {
	return s.len == strlen(text) && memcmp(s.p, text, s.len) == 0;
}

Test(http_parse, a_plain_get) {
	struct vh_http_request r;
	const char *text = "GET /ready?verbose HTTP/1.1\r\nHost: x\r\nAccept: text/plain \r\n\r\n";
	cr_assert_eq(parse(text, &r), VH_HTTP_PARSE_DONE);
	cr_assert_eq(r.method, VH_HTTP_GET);
	cr_assert(slice_eq(r.target, "/ready?verbose"));
	cr_assert(slice_eq(r.accept, "text/plain"), "surrounding white space is trimmed");
	cr_assert_eq(r.minor_version, 1);
	cr_assert(r.keep_alive);
	cr_assert_not(r.has_body);
	cr_assert_eq(r.head_len, strlen(text));
}

Test(http_parse, pipelined_requests_are_read_one_head_at_a_time) {
	struct vh_http_request r;
	const char *first = "HEAD /live HTTP/1.1\nHost: x\n\n";
	char text[256];
	snprintf(text, sizeof(text), "%sGET /ready HTTP/1.1\r\nHost: x\r\n\r\n", first);
	cr_assert_eq(parse(text, &r), VH_HTTP_PARSE_DONE);
	cr_assert_eq(r.method, VH_HTTP_HEAD, "bare LF line ends are accepted");
	cr_assert_eq(r.head_len, strlen(first));
	cr_assert_eq(vh_http_parse(text + r.head_len, strlen(text) - r.head_len, &r),
			VH_HTTP_PARSE_DONE);
	cr_assert(slice_eq(r.target, "/ready"));
}

Test(http_parse, every_prefix_of_a_valid_head_asks_for_more) {
	const char *text = "GET /live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct vh_http_request r;
	for (size_t n = 0; n < strlen(text); n++) {
		cr_assert_eq(vh_http_parse(text, n, &r), VH_HTTP_PARSE_MORE, "prefix %zu", n);
	}
	cr_assert_eq(parse(text, &r), VH_HTTP_PARSE_DONE);
	cr_assert_not(r.keep_alive);
}

Test(http_parse, leading_empty_lines_are_skipped) {
	struct vh_http_request r;
	const char *text = "\r\n\r\nGET /live HTTP/1.1\r\nHost: x\r\n\r\n";
	cr_assert_eq(parse(text, &r), VH_HTTP_PARSE_DONE);
	cr_assert_eq(r.head_len, strlen(text));
}

Test(http_parse, connection_header_sets_keep_alive) {
	struct vh_http_request r;
	cr_assert_eq(parse("GET / HTTP/1.0\r\n\r\n", &r), VH_HTTP_PARSE_DONE);
	cr_assert_not(r.keep_alive, "HTTP/1.0 closes by default and needs no Host");
	cr_assert_eq(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &r),
			VH_HTTP_PARSE_DONE);
	cr_assert(r.keep_alive);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nConnection: te, close\r\n\r\n", &r),
			VH_HTTP_PARSE_DONE);
	cr_assert_not(r.keep_alive, "close is found in a list");
	cr_assert_eq(parse("GET / HTTP/1.9\r\nHost: x\r\n\r\n", &r), VH_HTTP_PARSE_DONE);
	cr_assert_eq(r.minor_version, 1, "a later 1.x is answered as 1.1");
}

Test(http_parse, other_methods_and_bodies_are_flagged_not_refused) {
	struct vh_http_request r;
	cr_assert_eq(parse("DELETE /ready HTTP/1.1\r\nHost: x\r\n\r\n", &r), VH_HTTP_PARSE_DONE);
	cr_assert_eq(r.method, VH_HTTP_OTHER);
	cr_assert(r.keep_alive);
	cr_assert_eq(parse("get /ready HTTP/1.1\r\nHost: x\r\n\r\n", &r), VH_HTTP_PARSE_DONE);
	cr_assert_eq(r.method, VH_HTTP_OTHER, "methods are case-sensitive");
	cr_assert_eq(parse("POST /ready HTTP/1.1\r\nHost: x\r\nContent-Length: 12\r\n\r\n", &r),
			VH_HTTP_PARSE_DONE);
	cr_assert(r.has_body);
	cr_assert_not(r.keep_alive, "an unread body would be read as the next request");
	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", &r),
			VH_HTTP_PARSE_DONE);
	cr_assert(r.has_body);
	cr_assert_eq(parse("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 000\r\n\r\n", &r),
			VH_HTTP_PARSE_DONE);
	cr_assert_not(r.has_body);
	cr_assert(r.keep_alive);
}

Test(http_parse, malformed_request_lines_are_400) {
	expect_error("GARBAGE\r\n\r\n", 400);
	expect_error("GET /live HTTP/1.1 extra\r\nHost: x\r\n\r\n", 400);
	expect_error("GET  /live HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET /live HTTP/1.1\r\r\nHost: x\r\n\r\n", 400);
	expect_error("GET /live http/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET /live HTTP/1.10\r\nHost: x\r\n\r\n", 400);
	expect_error("G(T /live HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03", 400);
}

Test(http_parse, odd_targets_are_400) {
	expect_error("GET live HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET * HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET ftp://x/live HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET http://x\x01/live HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET /live#top HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET /li\x7fve HTTP/1.1\r\nHost: x\r\n\r\n", 400);
	expect_error("GET /l\xc3\xa9 HTTP/1.1\r\nHost: x\r\n\r\n", 400);
}

Test(http_parse, absolute_form_targets_keep_their_path) {
	struct vh_http_request r;
	cr_assert_eq(parse("GET http://pod:8099/ready?verbose HTTP/1.1\r\nHost: pod\r\n\r\n", &r),
			VH_HTTP_PARSE_DONE);
	cr_assert(slice_eq(r.target, "/ready?verbose"));
	cr_assert_eq(parse("GET HTTPS://pod HTTP/1.1\r\nHost: pod\r\n\r\n", &r),
			VH_HTTP_PARSE_DONE);
	cr_assert(slice_eq(r.target, "/"));
	expect_error("GET http://pod/ready HTTP/1.1\r\n\r\n", 400);
}

Test(http_parse, other_versions_are_505) {
	expect_error("GET /live HTTP/2.0\r\nHost: x\r\n\r\n", 505);
	expect_error("GET /live HTTP/0.9\r\n\r\n", 505);
}

Test(http_parse, bad_headers_are_400) {
	expect_error("GET / HTTP/1.1\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\n X-Fold: y\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost : x\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nNoColon\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX: a\x01b\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nX: a\rb\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\n",
			400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", 400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
		     "Transfer-Encoding: chunked\r\n\r\n",
			400);
	expect_error("GET / HTTP/1.1\r\nHost: x\r\nAuthorization: a\r\nAuthorization: b\r\n\r\n",
			400);
}

Test(http_parse, size_limits) {
	static char text[VH_HTTP_HEAD_MAX * 2];
	struct vh_http_request r;
	/* A request line past 4 KiB. */
	memset(text, 'a', sizeof(text));
	memcpy(text, "GET /", 5);
	cr_assert_eq(vh_http_parse(text, 5000, &r), VH_HTTP_PARSE_ERROR);
	cr_assert_eq(r.error_status, 414);
	/* Headers that never end within the limit. */
	int n = snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: x\r\nX: ");
	memset(text + n, 'b', sizeof(text) - (size_t)n);
	cr_assert_eq(vh_http_parse(text, VH_HTTP_HEAD_MAX - 1, &r), VH_HTTP_PARSE_MORE);
	cr_assert_eq(vh_http_parse(text, VH_HTTP_HEAD_MAX, &r), VH_HTTP_PARSE_ERROR);
	cr_assert_eq(r.error_status, 431);
	/* Too many header lines. */
	size_t used = (size_t)snprintf(text, sizeof(text), "GET / HTTP/1.1\r\nHost: x\r\n");
	for (int i = 0; i < VH_HTTP_HEADERS_MAX; i++) {
		used += (size_t)snprintf(text + used, sizeof(text) - used, "X: %d\r\n", i);
	}
	used += (size_t)snprintf(text + used, sizeof(text) - used, "\r\n");
	cr_assert_eq(vh_http_parse(text, used, &r), VH_HTTP_PARSE_ERROR);
	cr_assert_eq(r.error_status, 431);
}
