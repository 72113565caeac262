/* http_parse.c - a strict HTTP/1.x request-head parser: the daemon's only reader of client bytes.
 */
#include "vh/http_parse.h"

#include <string.h>
#include <strings.h>

/* Far above "GET /debug/history/NAME?verbose&exclude=...": the router refuses queries over 2 KiB.
 */
#define REQUEST_LINE_MAX 4096

struct header_counts {
	int host;
	int content_length;
	int transfer_encoding;
	int authorization;
	bool close;
	bool keep_alive;
};

static enum vh_http_parse_result fail(struct vh_http_request *out, int status, const char *error) {
	out->error_status = status;
	out->error = error;
	out->keep_alive = false;
	return VH_HTTP_PARSE_ERROR;
}

/* RFC 9110 tchar: the characters of methods and header names. */
static bool is_tchar(unsigned char c) {
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) {
		return true;
	}
	return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static bool all_tchars(const char *p, size_t len) {
	for (size_t i = 0; i < len; i++) {
		if (!is_tchar((unsigned char)p[i])) {
			return false;
		}
	}
	return len > 0;
}

static bool slice_is(struct vh_http_slice s, const char *word) {
	return s.len == strlen(word) && strncasecmp(s.p, word, s.len) == 0;
}

static size_t line_length(const char *line, const char *newline) {
	size_t n = (size_t)(newline - line);
	return n > 0 && line[n - 1] == '\r' ? n - 1 : n;
}

/* A TLS handshake or other garbage shows in its first bytes; failing then spares the client a
 * wait for a line end that may never come. */
static bool plausible_start(const char *p, size_t len) {
	for (size_t i = 0; i < len; i++) {
		if (p[i] == ' ') {
			return i > 0;
		}
		if (!is_tchar((unsigned char)p[i])) {
			return false;
		}
	}
	return true;
}

static enum vh_http_parse_result parse_version(
		const char *v, size_t len, struct vh_http_request *out) {
	if (len != 8 || memcmp(v, "HTTP/", 5) != 0 || v[5] < '0' || v[5] > '9' || v[6] != '.' ||
			v[7] < '0' || v[7] > '9') {
		return fail(out, 400, "malformed request line");
	}
	if (v[5] != '1') {
		return fail(out, 505, "HTTP version not supported; use HTTP/1.1");
	}
	/* RFC 9110: a later 1.x is answered as the highest 1.x we speak. */
	out->minor_version = v[7] == '0' ? 0 : 1;
	return VH_HTTP_PARSE_DONE;
}

/* RFC 9112 3.2.2: a server must accept "http://host/path" too; only the path counts (Host
 * still has to be there). Returns the length of the scheme and authority, or 0. */
static size_t absolute_prefix(const char *t, size_t len) {
	size_t scheme = len > 7 && strncasecmp(t, "http://", 7) == 0    ? 7
			: len > 8 && strncasecmp(t, "https://", 8) == 0 ? 8
									: 0;
	if (scheme == 0) {
		return 0;
	}
	const char *slash = memchr(t + scheme, '/', len - scheme);
	return slash ? (size_t)(slash - t) : len;
}

static enum vh_http_parse_result parse_target(
		const char *t, size_t len, struct vh_http_request *out) {
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)t[i];
		if (c < 0x21 || c > 0x7e || c == '#') {
			return fail(out, 400,
					"the request target holds a byte that is not allowed");
		}
	}
	size_t authority = absolute_prefix(t, len);
	if (authority > 0 && authority == len) {
		/* "http://host" alone asks for the root, which the router does not serve. */
		t = "/";
		len = 1;
	} else {
		t += authority;
		len -= authority;
	}
	if (len == 0 || t[0] != '/') {
		return fail(out, 400, "the request target must be a path starting with /");
	}
	out->target = (struct vh_http_slice){t, len};
	return VH_HTTP_PARSE_DONE;
}

static enum vh_http_parse_result parse_request_line(
		const char *line, size_t len, struct vh_http_request *out) {
	const char *sp1 = memchr(line, ' ', len);
	const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', len - (size_t)(sp1 + 1 - line)) : NULL;
	if (!sp2 || memchr(sp2 + 1, ' ', len - (size_t)(sp2 + 1 - line))) {
		return fail(out, 400, "malformed request line");
	}
	size_t method_len = (size_t)(sp1 - line);
	if (!all_tchars(line, method_len)) {
		return fail(out, 400, "malformed request line");
	}
	if (method_len == 3 && memcmp(line, "GET", 3) == 0) {
		out->method = VH_HTTP_GET;
	} else if (method_len == 4 && memcmp(line, "HEAD", 4) == 0) {
		out->method = VH_HTTP_HEAD;
	} else {
		out->method = VH_HTTP_OTHER;
	}
	if (parse_version(sp2 + 1, len - (size_t)(sp2 + 1 - line), out) != VH_HTTP_PARSE_DONE) {
		return VH_HTTP_PARSE_ERROR;
	}
	return parse_target(sp1 + 1, (size_t)(sp2 - sp1 - 1), out);
}

static void read_connection(struct vh_http_slice value, struct header_counts *counts) {
	const char *p = value.p, *end = value.p + value.len;
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		const char *stop = comma ? comma : end;
		struct vh_http_slice token = {p, (size_t)(stop - p)};
		while (token.len > 0 && (*token.p == ' ' || *token.p == '\t')) {
			token.p++;
			token.len--;
		}
		while (token.len > 0 &&
				(token.p[token.len - 1] == ' ' || token.p[token.len - 1] == '\t')) {
			token.len--;
		}
		counts->close |= slice_is(token, "close");
		counts->keep_alive |= slice_is(token, "keep-alive");
		p = stop + 1;
	}
}

static enum vh_http_parse_result read_content_length(
		struct vh_http_slice value, struct vh_http_request *out) {
	if (value.len == 0) {
		return fail(out, 400, "malformed Content-Length");
	}
	for (size_t i = 0; i < value.len; i++) {
		if (value.p[i] < '0' || value.p[i] > '9') {
			return fail(out, 400, "malformed Content-Length");
		}
		out->has_body |= value.p[i] != '0';
	}
	return VH_HTTP_PARSE_DONE;
}

static bool valid_value(struct vh_http_slice value) {
	for (size_t i = 0; i < value.len; i++) {
		unsigned char c = (unsigned char)value.p[i];
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			return false;
		}
	}
	return true;
}

/* Only the headers that change the answer or the framing are kept; the rest are checked and
 * skipped. */
static enum vh_http_parse_result use_header(struct vh_http_slice name, struct vh_http_slice value,
		struct header_counts *counts, struct vh_http_request *out) {
	if (slice_is(name, "host")) {
		counts->host++;
	} else if (slice_is(name, "connection")) {
		read_connection(value, counts);
	} else if (slice_is(name, "content-length")) {
		counts->content_length++;
		return read_content_length(value, out);
	} else if (slice_is(name, "transfer-encoding")) {
		counts->transfer_encoding++;
		out->has_body = true;
	} else if (slice_is(name, "accept")) {
		out->accept = value;
	} else if (slice_is(name, "authorization")) {
		counts->authorization++;
		out->authorization = value;
	}
	return VH_HTTP_PARSE_DONE;
}

static enum vh_http_parse_result parse_header(const char *line, size_t len,
		struct header_counts *counts, struct vh_http_request *out) {
	if (line[0] == ' ' || line[0] == '\t') {
		return fail(out, 400, "folded header lines are not accepted");
	}
	const char *colon = memchr(line, ':', len);
	if (!colon || !all_tchars(line, (size_t)(colon - line))) {
		return fail(out, 400, "malformed header line");
	}
	struct vh_http_slice name = {line, (size_t)(colon - line)};
	struct vh_http_slice value = {colon + 1, len - name.len - 1};
	while (value.len > 0 && (*value.p == ' ' || *value.p == '\t')) {
		value.p++;
		value.len--;
	}
	while (value.len > 0 && (value.p[value.len - 1] == ' ' || value.p[value.len - 1] == '\t')) {
		value.len--;
	}
	if (!valid_value(value)) {
		return fail(out, 400, "a header value holds a control character");
	}
	return use_header(name, value, counts, out);
}

/* The rules that need the whole head: framing and Host. */
static enum vh_http_parse_result finish(
		const struct header_counts *counts, struct vh_http_request *out) {
	if (counts->content_length > 1 || (counts->content_length && counts->transfer_encoding)) {
		return fail(out, 400, "conflicting message framing headers");
	}
	if (counts->host > 1 || (out->minor_version == 1 && counts->host == 0)) {
		return fail(out, 400, "an HTTP/1.1 request needs exactly one Host header");
	}
	if (counts->authorization > 1) {
		return fail(out, 400, "more than one Authorization header");
	}
	out->keep_alive = out->minor_version == 1 ? !counts->close
						  : counts->keep_alive && !counts->close;
	/* An unread body would be taken for the next request. */
	if (out->has_body) {
		out->keep_alive = false;
	}
	return VH_HTTP_PARSE_DONE;
}

static enum vh_http_parse_result incomplete(const char *buf, size_t len, size_t line_start,
		bool in_request_line, struct vh_http_request *out) {
	if (in_request_line) {
		if (!plausible_start(buf + line_start, len - line_start)) {
			return fail(out, 400, "malformed request line");
		}
		if (len - line_start > REQUEST_LINE_MAX) {
			return fail(out, 414, "request line too long");
		}
	}
	if (len >= VH_HTTP_HEAD_MAX) {
		return fail(out, 431, "request header fields too large");
	}
	return VH_HTTP_PARSE_MORE;
}

enum vh_http_parse_result vh_http_parse(const char *buf, size_t len, struct vh_http_request *out) {
	struct header_counts counts = {0};
	size_t pos = 0;
	int n_headers = 0;
	memset(out, 0, sizeof(*out));
	/* RFC 9112 2.2: empty lines before a request line are ignored. */
	while (pos < len && pos < VH_HTTP_HEAD_MAX && (buf[pos] == '\r' || buf[pos] == '\n')) {
		pos++;
	}
	const char *nl = memchr(buf + pos, '\n', len - pos);
	if (!nl) {
		return incomplete(buf, len, pos, true, out);
	}
	size_t line_len = line_length(buf + pos, nl);
	if (line_len > REQUEST_LINE_MAX) {
		return fail(out, 414, "request line too long");
	}
	if (parse_request_line(buf + pos, line_len, out) != VH_HTTP_PARSE_DONE) {
		return VH_HTTP_PARSE_ERROR;
	}
	for (pos = (size_t)(nl - buf) + 1;; pos = (size_t)(nl - buf) + 1) {
		nl = memchr(buf + pos, '\n', len - pos);
		if (!nl || (size_t)(nl - buf) >= VH_HTTP_HEAD_MAX) {
			return nl ? fail(out, 431, "request header fields too large")
				  : incomplete(buf, len, pos, false, out);
		}
		line_len = line_length(buf + pos, nl);
		if (line_len == 0) {
			break;
		}
		if (++n_headers > VH_HTTP_HEADERS_MAX) {
			return fail(out, 431, "too many header fields");
		}
		if (parse_header(buf + pos, line_len, &counts, out) != VH_HTTP_PARSE_DONE) {
			return VH_HTTP_PARSE_ERROR;
		}
	}
	out->head_len = (size_t)(nl - buf) + 1;
	return finish(&counts, out) == VH_HTTP_PARSE_DONE ? VH_HTTP_PARSE_DONE
							  : VH_HTTP_PARSE_ERROR;
}
