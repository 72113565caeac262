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

/* GETs an http:// URL (numeric host or a name, optional port, path and query) and waits at most
 * timeout_ms for the whole exchange: resolve, connect, send and receive. Returns 0 when the answer
 * was 2xx, 1 otherwise (refused, timeout, non-2xx, bad reply), 2 for a malformed URL. Fills
 * result->message with what happened, for example "200 OK in 3 ms" or "timeout after 1000 ms
 * (connecting to 10.0.0.1:8099)". */
int vh_probe_client_run(const char *url, int64_t timeout_ms, struct vh_probe_client_result *result);

#endif
