/* vh/config.h - the configuration file: load, validate, freeze, print redacted. */
#ifndef VH_CONFIG_H
#define VH_CONFIG_H
#include "vh/compat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define VH_CONFIG_NAME_MAX 64
#define VH_CONFIG_LISTEN_MAX 4
#define VH_CONFIG_DEFAULT_PORT 8099
/* The most checks a file may declare; the built-in "sidecar" check comes on top. */
#define VH_CONFIG_CHECKS_MAX 64
/* The name of the built-in check that watches the daemon itself. */
#define VH_CONFIG_SIDECAR_NAME "sidecar"

/* Groups a check belongs to. Startup follows readiness. */
enum vh_group {
	VH_GROUP_LIVENESS = 1 << 0,
	VH_GROUP_READINESS = 1 << 1,
};

enum vh_check_type {
	VH_CHECK_PROCESS,
	VH_CHECK_CGROUP,
	VH_CHECK_POSTGRES,
	VH_CHECK_REDIS,
	VH_CHECK_TCP,
	VH_CHECK_HTTP,
};

/* Returns the type's config name ("process", "cgroup", "postgres", "redis", "tcp", "http"). */
const char *vh_check_type_name(enum vh_check_type type);

/* How a process check finds its target. Exactly one is set. */
enum vh_process_target {
	VH_PROCESS_SELF, /* the sidecar itself */
	VH_PROCESS_PID, /* a fixed pid */
	VH_PROCESS_PIDFILE, /* a pid read from a file at every run */
	VH_PROCESS_COMM, /* the oldest process whose /proc/PID/comm equals a name */
	VH_PROCESS_CMDLINE, /* the oldest process whose command line contains a string */
};

struct vh_process_config {
	enum vh_process_target target;
	pid_t pid;
	char *pidfile;
	char *comm;
	char *cmdline;
	/* Thresholds; 0 turns one off. */
	uint64_t rss_warn_bytes;
	uint64_t rss_fail_bytes;
	uint64_t threads_warn;
	uint64_t threads_fail;
};

enum vh_oom_policy {
	VH_OOM_IGNORE,
	VH_OOM_WARN,
	VH_OOM_FAIL,
};

struct vh_cgroup_config {
	char *path; /* a cgroup v2 directory, default /sys/fs/cgroup */
	/* Thresholds; 0 turns one off. Percentages are 0-100. */
	double memory_warn_percent;
	double memory_fail_percent;
	double pressure_warn;
	double pressure_fail;
	enum vh_oom_policy oom_kill;
};

/* The server role a dependency check requires. Redis calls a primary "master". */
enum vh_role {
	VH_ROLE_ANY,
	VH_ROLE_PRIMARY,
	VH_ROLE_REPLICA,
};

/* Reconnection after a dropped or failed connection: exponential, with jitter. */
struct vh_backoff_config {
	int64_t initial_ms; /* default 250 ms */
	int64_t max_ms; /* default 5 s */
};

struct vh_postgres_config {
	/* libpq keyword/value pairs from "params", in file order, each array ending with NULL so
	 * they can go to PQconnectStartParams as they are. Keys libpq does not know are rejected at
	 * load time; "password" must come from ${VAR}. Settings left out fall back to libpq's own
	 * environment variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, ...), service file and
	 * passfile. */
	size_t n_params;
	char **keywords;
	char **values;
	enum vh_role role;
	bool per_check_connection; /* "connection": "per_check" instead of "persistent" */
	/* A persistent connection older than this is replaced at the next run, so the check sees
	 * what new connections see (a server shutting down refuses them while old sessions live)
	 * and never holds a smart shutdown open for longer; 0 keeps it for good. Default 30 s. */
	int64_t reconnect_after_ms;
	/* Statistics on the same connection (active connections against max_connections). */
	bool stats;
	double connections_warn_percent; /* 0 = off */
	double connections_fail_percent; /* 0 = off */
	struct vh_backoff_config backoff;
};

struct vh_redis_config {
	char *host; /* a name or numeric address; NULL with unix_path */
	unsigned port; /* default 6379 */
	char *unix_path; /* a unix socket instead of host:port */
	char *username; /* ACL user for AUTH, or NULL */
	char *password; /* NULL, or from ${VAR} or a URL that came from ${VAR} */
	unsigned db; /* SELECT this when non-zero */
	enum vh_role role;
	bool stats; /* INFO: used_memory against maxmemory, connected_clients */
	double memory_warn_percent; /* 0 = off */
	double memory_fail_percent; /* 0 = off */
	uint64_t clients_warn; /* 0 = off */
	struct vh_backoff_config backoff;
};

struct vh_tcp_config {
	char *host; /* a name or numeric address */
	unsigned port;
};

struct vh_http_check_config {
	char *url; /* http:// only; the host may be a name */
	unsigned status_min; /* default 200 */
	unsigned status_max; /* default 399 */
	char *body_contains; /* NULL = any body */
	uint64_t max_body_bytes; /* default 64 KiB; a longer body fails the check */
};

/* How much of each check's past /debug/history keeps. */
struct vh_history_config {
	unsigned results; /* default 32 */
	unsigned transitions; /* default 32 */
};

/* Whether a check's failure may be a fleet-wide one (docs/configuration.md#peers): a shared
 * check's failure is weighed against what the other replicas see before it fails readiness. */
enum vh_scope {
	VH_SCOPE_LOCAL,
	VH_SCOPE_SHARED,
};

struct vh_check_config {
	char name[VH_CONFIG_NAME_MAX];
	enum vh_check_type type;
	enum vh_scope scope; /* shared by default for dependency types once "peers" is set */
	unsigned groups; /* enum vh_group bits; 0 means shown in /health only */
	bool critical;
	int64_t interval_ms;
	int64_t fail_interval_ms;
	int64_t unknown_interval_ms;
	int64_t timeout_ms;
	int64_t initial_delay_ms;
	int64_t jitter_ms;
	int64_t stale_after_ms;
	unsigned rise;
	unsigned fall;
	struct vh_history_config history; /* the file's top-level "history", the same for all */
	union {
		struct vh_process_config process;
		struct vh_cgroup_config cgroup;
		struct vh_postgres_config postgres;
		struct vh_redis_config redis;
		struct vh_tcp_config tcp;
		struct vh_http_check_config http;
	} u;
};

/* A numeric listen address: host is "" for all interfaces (IPv6 and IPv4), else an IPv4 or IPv6
 * literal without brackets. */
struct vh_listen {
	char host[64];
	unsigned port;
};

#define VH_CONFIG_NAMESERVERS_MAX 4

/* How host names are resolved (with evdns, never on a blocking call). With no nameservers,
 * /etc/resolv.conf and /etc/hosts are used. */
struct vh_dns_config {
	size_t n_nameservers;
	char nameservers[VH_CONFIG_NAMESERVERS_MAX][72]; /* "IP" or "IP:PORT" or "[V6]:PORT" */
	int64_t timeout_ms; /* per attempt, default 2 s */
	unsigned attempts; /* default 2 */
};

/* Who sees the details of an answer (outputs, timings, history) and may call /drain; status
 * codes and the statuses themselves are shown to everyone, whatever this says. */
enum vh_details {
	VH_DETAILS_AUTHORIZED, /* clients with the bearer token, and loopback ones (default) */
	VH_DETAILS_ALWAYS,
	VH_DETAILS_NEVER,
};

/* Bounds of a bearer token: long enough to resist guessing, short enough for a header. */
#define VH_CONFIG_TOKEN_MIN 16
#define VH_CONFIG_TOKEN_MAX 256

struct vh_access_config {
	enum vh_details details;
	/* Whether loopback clients count as authorized: true, unless a local proxy (a service mesh
	 * sidecar) makes every client look local. */
	bool trust_loopback;
	/* The bearer token, from "token" (an environment variable) or "token_file"; "" for none. */
	char token[VH_CONFIG_TOKEN_MAX + 1];
	char token_file[256]; /* where it was read from; "" when none */
};

#define VH_CONFIG_PEER_ADDRESSES_MAX 64

/* What a shared outage does to readiness: keep serving (the point of the feature), or fail as
 * before while still saying that the outage is fleet-wide. */
enum vh_panic_mode {
	VH_PANIC_SERVE,
	VH_PANIC_UNREADY,
};

/* One peer of a static list: a name or numeric address (IPv6 without brackets) and a port, 0
 * for the peers' default port. */
struct vh_peer_address {
	char host[256];
	unsigned port;
};

/* The other replicas of this service, asked what they see (docs/configuration.md#peers).
 * enabled is false when the file has no "peers"; exactly one of dns and addresses is set. */
struct vh_peers_config {
	bool enabled;
	char dns[256]; /* a name that resolves to every replica (a headless Service), or "" */
	size_t n_addresses;
	struct vh_peer_address addresses[VH_CONFIG_PEER_ADDRESSES_MAX];
	unsigned port; /* default: the first listen address's port */
	bool port_from_listen; /* port is that default: --listen moves it too */
	int64_t interval_ms; /* one round of asking peers; default 1 s */
	int64_t timeout_ms; /* per peer request; default 500 ms */
	int64_t refresh_ms; /* how often dns is resolved again; default 10 s */
	unsigned sample; /* peers asked per round at most, chosen at random; default 16 */
	double panic_threshold; /* percent of answering replicas that must see a failure; 50 */
	enum vh_panic_mode panic_mode;
};

/* Frozen after vh_config_load(): nothing changes it while the daemon runs. A reload loads a new
 * one and, once it is in force, destroys the old. */
struct vh_config {
	char *path;
	char service[VH_CONFIG_NAME_MAX];
	size_t n_listen;
	struct vh_listen listen[VH_CONFIG_LISTEN_MAX];
	struct vh_dns_config dns;
	struct vh_history_config history;
	int64_t shutdown_delay_ms; /* how long SIGTERM drains before exit; default 0 */
	struct vh_access_config access;
	struct vh_peers_config peers;
	size_t n_checks;
	struct vh_check_config *checks;
};

/* Reads, expands ${VAR} from the environment and validates path; docs/configuration.md is the
 * reference. On failure returns NULL and writes one line, the first error, into err:
 * "FILE:LINE:COLUMN: what" for JSON syntax errors, "FILE: json.path: what" for everything else
 * ("FILE: what" for the file as a whole). The result always ends with the built-in check named
 * "sidecar" that reports the daemon's own memory and threads; a file may hold that name only in
 * an exact copy of the built-in check, as vh_config_dump() prints it. */
struct vh_config *vh_config_load(const char *path, char *err, size_t err_len);
/* Accepts NULL. */
void vh_config_destroy(struct vh_config *config);

/* Parses "ADDR:PORT", "[V6]:PORT" or ":PORT" (all interfaces). Numeric addresses only, ports 1 to
 * 65535. Returns false with the reason in err. */
VH_MUSTCHECK bool vh_config_parse_listen(
		const char *text, struct vh_listen *out, char *err, size_t err_len);
/* Parses a duration: an integer of milliseconds or a string like "250ms", "1.5s", "2m", "1h".
 * Returns false for anything else, including signs, spaces and values past INT64_MAX ms. */
VH_MUSTCHECK bool vh_config_parse_duration(const char *text, int64_t *out_ms);
/* Parses a size: an integer of bytes or a string like "512KiB", "1.5MiB", "2GiB", "1GB" (units
 * B, KB, MB, GB, KiB, MiB, GiB, TiB). Returns false for anything else or past UINT64_MAX. */
VH_MUSTCHECK bool vh_config_parse_bytes(const char *text, uint64_t *out);

/* Writes the effective config (every default filled in) as indented JSON with secrets replaced
 * by "<redacted>". Returns a malloc'd string the caller frees, or NULL when out of memory. */
char *vh_config_dump(const struct vh_config *config);
/* Returns "<redacted>" when a string value must not be shown: its key is "token" or ends in
 * "password" ("sslpassword"), or it holds a secret (a URL with user info, a "password="
 * keyword). Otherwise returns value. */
const char *vh_config_redact_value(const char *key, const char *value);

#endif
