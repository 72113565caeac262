/* vh/http_probe.h - the `http` check: GET a URL and check its status and body, without blocking. */
#ifndef VH_HTTP_PROBE_H
#define VH_HTTP_PROBE_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/probes.h"

/* Creates the probe. config is borrowed and must outlive it; env is read at once (its loop and
 * resolver must outlive the probe). Returns false with a reason in err, never quoting the URL:
 * only http:// URLs without user info are accepted. Each run resolves the host with the
 * resolver (IPv4 preferred), connects to the address with a fresh evhttp connection and sends
 * GET with the URL's host as Host, "Connection: close" and "User-Agent: veza-health/VERSION".
 * The scheduler's deadline bounds the run; evhttp's own timeouts are set beyond it. Outputs:
 * "HTTP 200 in N ms" (measure response_ms, responseTime, ms), "HTTP 503 (expected 200-399)",
 * "HTTP 200 but body does not contain \"TEXT\"", "body larger than N bytes" (the read stops
 * there), "connection refused (HOST:PORT)", "connect to HOST:PORT failed: REASON", "connection
 * closed by HOST:PORT before a response", "malformed response from HOST:PORT" or the
 * resolver's "cannot resolve ...". Results never contain a password or URL user info. */
VH_MUSTCHECK bool vh_http_probe_create(const struct vh_probe_env *env,
		const struct vh_http_check_config *config, struct vh_probe *out, char *err,
		size_t err_len);

#endif
