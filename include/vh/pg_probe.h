/* vh/pg_probe.h - the `postgres` check: PostgreSQL ping over one persistent non-blocking libpq
 * connection. */
#ifndef VH_PG_PROBE_H
#define VH_PG_PROBE_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/probes.h"

/* Creates the probe. config and env are borrowed and must outlive it. Returns false with a
 * reason in err. Results never contain a password or URL user info. */
VH_MUSTCHECK bool vh_pg_probe_create(const struct vh_probe_env *env,
		const struct vh_postgres_config *config, struct vh_probe *out, char *err,
		size_t err_len);

/* The version of the libpq the daemon runs with ("15.18"), for build info. */
void vh_pg_library_version(char *buf, size_t len);

#endif
