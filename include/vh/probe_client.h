/* vh/probe_client.h - `veza-health probe URL`: a tiny HTTP GET for container health checks. */
#ifndef VH_PROBE_CLIENT_H
#define VH_PROBE_CLIENT_H
#include <stddef.h>
#include <stdint.h>

/* Outcome of one probe, for the exit code and the one-line message. */
struct vh_probe_client_result {
	int http_status; /* 0 when no answer arrived */
	char message[256];
};

/* GETs an http:// URL (an IPv4 or [IPv6] literal or a name, optional port, path and query) and
 * waits at most timeout_ms for the whole exchange: resolve, connect, send and receive the full
 * response. A name is resolved without blocking (resolv.conf and /etc/hosts) and only its first
 * address is tried. Returns 0 when the answer was 2xx, 1 otherwise (refused, timeout, non-2xx,
 * malformed or oversized reply), 2 for a malformed or https:// URL or a timeout_ms below 1.
 * Redirects are not followed. Always fills result->message with one printable line, for example
 * "200 OK in 3 ms", "503 Service Unavailable", "connection refused (127.0.0.1:9)" or "timeout
 * after 1000 ms (connecting to 10.0.0.1:8099)". Uses a private event loop, so it must not be
 * called from a callback; the caller ignores SIGPIPE. */
int vh_probe_client_run(const char *url, int64_t timeout_ms, struct vh_probe_client_result *result);

#endif
