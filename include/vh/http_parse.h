/* vh/http_parse.h - reads one HTTP/1.x request head in place, strictly, without allocating. */
#ifndef VH_HTTP_PARSE_H
#define VH_HTTP_PARSE_H
#include <stdbool.h>
#include <stddef.h>

/* The request line and headers together; probes and curl send a few hundred bytes. */
#define VH_HTTP_HEAD_MAX 8192
/* More headers than any probe, browser or scraper sends. */
#define VH_HTTP_HEADERS_MAX 64

enum vh_http_method {
	VH_HTTP_GET,
	VH_HTTP_HEAD,
	VH_HTTP_OTHER, /* any other well-formed method: answered 405 */
};

enum vh_http_parse_result {
	VH_HTTP_PARSE_MORE, /* no whole head yet, and nothing wrong so far */
	VH_HTTP_PARSE_DONE, /* a whole, valid head: see the request */
	VH_HTTP_PARSE_ERROR, /* answer error_status with error, then close the connection */
};

/* Bytes inside the caller's buffer; not NUL-terminated. len is 0 when absent. */
struct vh_http_slice {
	const char *p;
	size_t len;
};

struct vh_http_request {
	size_t head_len; /* bytes from the start of the buffer through the empty line */
	enum vh_http_method method;
	/* The path and query as sent, "/ready?verbose"; of an absolute-form target
	 * ("http://host/ready") only the path and query, and "/" for none. */
	struct vh_http_slice target;
	int minor_version; /* HTTP/1.0 or HTTP/1.1 */
	bool keep_alive; /* the version's default, changed by Connection */
	bool has_body; /* Content-Length above 0 or any Transfer-Encoding: never read */
	struct vh_http_slice accept;
	struct vh_http_slice authorization;
	int error_status; /* 400, 413, 414, 431 or 505 with PARSE_ERROR, else 0 */
	const char *error; /* a fixed one-line reason that never quotes the request */
};

/* Parses the head at the start of buf (len bytes, which may hold more after it: pipelined
 * requests). Follows RFC 9112 strictly: one space between the request line's parts, a target of
 * visible ASCII that starts with "/" (or is "http://" or "https://" and a host before it), tokens
 * for method and header names, no folded lines, no control characters in values, exactly one Host
 * in HTTP/1.1, at most one Content-Length (a number), at most one Authorization. Leading empty
 * lines are skipped. A request with a body is not an error here (has_body: a GET gets 413, another
 * method 405), but the connection must close after it. Returns MORE while the head is incomplete
 * and still within VH_HTTP_HEAD_MAX. Pure. */
enum vh_http_parse_result vh_http_parse(const char *buf, size_t len, struct vh_http_request *out);

#endif
