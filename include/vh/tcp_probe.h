/* vh/tcp_probe.h - the `tcp` check: connect to host:port within the timeout. */
#ifndef VH_TCP_PROBE_H
#define VH_TCP_PROBE_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/probes.h"

/* Creates the probe. config is borrowed and must outlive it; env is read at once (its loop and
 * resolver must outlive the probe). Returns false with a reason in err. Each run resolves the
 * host (IPv4 preferred), connects without blocking and closes again, so nothing stays open
 * between runs; the scheduler's deadline bounds a connect that hangs. Outputs: "connected to
 * HOST:PORT (ADDR) in N ms" (measure connect_ms, responseTime, ms), "connection refused
 * (HOST:PORT)", "connect to HOST:PORT failed: REASON" or the resolver's "cannot resolve ...". */
VH_MUSTCHECK bool vh_tcp_probe_create(const struct vh_probe_env *env,
		const struct vh_tcp_config *config, struct vh_probe *out, char *err,
		size_t err_len);

#endif
