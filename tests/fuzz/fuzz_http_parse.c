/* fuzz_http_parse.c - libFuzzer target for vh_http_parse(): any bytes a client may send.
 * Input: the bytes as received, possibly several pipelined heads. */
#include "fuzz_common.h"

#include "vh/http_parse.h"

static bool inside(const uint8_t *buf, size_t len, struct vh_http_slice s) {
	return s.len == 0 ||
			((const uint8_t *)s.p >= buf && (const uint8_t *)s.p + s.len <= buf + len);
}

static void check_done(const uint8_t *data, size_t size, const struct vh_http_request *r) {
	FUZZ_CHECK(r->head_len > 0 && r->head_len <= size, "head_len outside the input");
	FUZZ_CHECK(r->head_len <= VH_HTTP_HEAD_MAX, "a head longer than the limit was accepted");
	FUZZ_CHECK(r->error_status == 0 && r->error == NULL, "DONE with an error");
	FUZZ_CHECK(r->method <= VH_HTTP_OTHER, "method out of range");
	FUZZ_CHECK(r->minor_version == 0 || r->minor_version == 1, "minor version out of range");
	/* An absolute-form target without a path is "/", from outside the input. */
	bool root = r->target.len == 1 && r->target.p[0] == '/';
	FUZZ_CHECK((root || inside(data, r->head_len, r->target)) && r->target.len > 0 &&
					r->target.p[0] == '/',
			"the target is not a path inside the head");
	for (size_t i = 0; i < r->target.len; i++) {
		unsigned char c = (unsigned char)r->target.p[i];
		FUZZ_CHECK(c > 0x20 && c < 0x7f && c != '#', "a target byte that is not allowed");
	}
	FUZZ_CHECK(inside(data, r->head_len, r->accept), "Accept outside the head");
	FUZZ_CHECK(inside(data, r->head_len, r->authorization), "Authorization outside the head");
	FUZZ_CHECK(!(r->has_body && r->keep_alive), "a request with a body keeps the connection");
	FUZZ_CHECK(data[r->head_len - 1] == '\n', "a head that does not end in a line end");
}

/* The connection code relies on this: the head alone parses the same, and no shorter prefix of
 * it is already a whole head. */
static void check_prefixes(const uint8_t *data, const struct vh_http_request *r) {
	struct vh_http_request again;
	FUZZ_CHECK(vh_http_parse((const char *)data, r->head_len, &again) == VH_HTTP_PARSE_DONE &&
					again.head_len == r->head_len &&
					again.keep_alive == r->keep_alive,
			"the head alone parses differently");
	enum vh_http_parse_result shorter =
			vh_http_parse((const char *)data, r->head_len - 1, &again);
	FUZZ_CHECK(shorter != VH_HTTP_PARSE_DONE, "a shorter prefix is already a whole head");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct vh_http_request r;
	enum vh_http_parse_result result = vh_http_parse((const char *)data, size, &r);
	switch (result) {
	case VH_HTTP_PARSE_MORE:
		FUZZ_CHECK(size < VH_HTTP_HEAD_MAX, "MORE past the head limit");
		break;
	case VH_HTTP_PARSE_ERROR:
		FUZZ_CHECK(r.error != NULL && !r.keep_alive, "an error without a reason");
		FUZZ_CHECK(r.error_status == 400 || r.error_status == 414 ||
						r.error_status == 431 || r.error_status == 505,
				"an unexpected error status");
		break;
	case VH_HTTP_PARSE_DONE:
		check_done(data, size, &r);
		check_prefixes(data, &r);
		break;
	}
	return 0;
}
