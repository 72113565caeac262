/* vh/redis_probe.h - the `redis` check: Redis PING over one persistent hiredis async connection. */
#ifndef VH_REDIS_PROBE_H
#define VH_REDIS_PROBE_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/probes.h"

/* Creates the probe. config and env are borrowed and must outlive it. Returns false with a
 * reason in err. Results never contain a password or URL user info.
 *
 * The first run resolves the host (never on a blocking call) and connects; AUTH, SELECT and
 * CLIENT SETNAME veza-health are pipelined ahead of the run's PING (and INFO, sent when a role
 * or statistics are wanted). The connection then stays open for later runs. A run passes on
 * PONG ("PONG", "PONG from master", "PONG from replica (link up)", with statistics
 * "...: memory 1.2 MiB of 64.0 MiB (1.9%), 3 clients" and the measures memory_bytes,
 * memory_percent when maxmemory is set, and clients). It fails with "not ready: <reply>" on
 * -LOADING, -MASTERDOWN or -BUSY, "authentication failed: <reply>" when AUTH is refused or PING
 * gets -NOAUTH, "server is a replica but role master is required" (or the reverse), "cannot
 * connect to HOST:PORT: <reason>", "connection to HOST:PORT lost: <reason>". A replica whose
 * link to its master is down warns ("replica link to master is down"), as do memory at or above
 * memory_warn_percent of maxmemory and clients at or above clients_warn; memory at or above
 * memory_fail_percent fails.
 *
 * After a failed connect, a refused AUTH or SELECT, a dropped connection during a run, or a run
 * the scheduler cancelled (its timeout: the connection is freed, not drained), the next connect
 * waits out an exponential backoff with jitter; a run in that time fails at once with the last
 * error and " (reconnecting in 800ms)". A server closing an idle connection is not a failure:
 * the next run reconnects at once. Any reply to PING resets the backoff. */
VH_MUSTCHECK bool vh_redis_probe_create(const struct vh_probe_env *env,
		const struct vh_redis_config *config, struct vh_probe *out, char *err,
		size_t err_len);

/* The version of hiredis the daemon was built with ("0.14.1"): hiredis 0.14 cannot say at run
 * time, and its soname pins the same release. */
void vh_redis_library_version(char *buf, size_t len);

#endif
