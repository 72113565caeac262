/* vh/pg_params.h - the libpq settings a postgres check connects with, and the hosts it resolves. */
#ifndef VH_PG_PARAMS_H
#define VH_PG_PARAMS_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/config.h"

struct vh_pg_params;

/* Works out, once, what libpq would connect to: the config's params over libpq's own defaults
 * (PGHOST, PGPORT, PGPASSWORD, ..., and the service file that "service" or PGSERVICE names).
 * config is borrowed and must outlive the result. Returns NULL with a reason in err. */
struct vh_pg_params *vh_pg_params_create(
		const struct vh_postgres_config *config, char *err, size_t err_len);
/* Accepts NULL. */
void vh_pg_params_destroy(struct vh_pg_params *params);

/* The number of entries in the effective host list; 0 when libpq needs no lookup at all (a
 * hostaddr is set, or every host is a socket directory, or there is no host: libpq's default
 * socket). */
size_t vh_pg_params_hosts(const struct vh_pg_params *params);
/* The name host i must be resolved as, or NULL when it needs no lookup (a socket directory). */
const char *vh_pg_params_lookup_name(const struct vh_pg_params *params, size_t i);
/* Forgets every address found, before a new connection attempt. */
void vh_pg_params_clear_addrs(struct vh_pg_params *params);
/* Records the numeric address found for host i. A host with no address recorded is left out of
 * the next build. addr is copied. */
void vh_pg_params_set_addr(struct vh_pg_params *params, size_t i, const char *addr);

/* Fills the NULL-terminated arrays for PQconnectStartParams (expand_dbname 0): the config's
 * params, with "host" and "hostaddr" (and a per-host "port" list) rewritten from the addresses
 * found so that libpq never resolves a name itself, plus the daemon's defaults where nothing
 * sets them: fallback_application_name=veza-health, gssencmode=disable (unless PGGSSENCMODE),
 * keepalives=1. Returns false, filling nothing, when hosts needed lookups and none has an
 * address. The arrays stay valid until the next build or destroy. */
bool vh_pg_params_build(struct vh_pg_params *params, const char *const **keywords,
		const char *const **values);

/* The passwords to scrub from every text shown: from params, and from PGPASSWORD or the
 * service file. *n receives their number. */
const char *const *vh_pg_params_secrets(const struct vh_pg_params *params, size_t *n);

#endif
