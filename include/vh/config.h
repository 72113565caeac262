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
};

/* Returns the type's config name ("process", "cgroup"). */
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

struct vh_check_config {
	char name[VH_CONFIG_NAME_MAX];
	enum vh_check_type type;
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
	union {
		struct vh_process_config process;
		struct vh_cgroup_config cgroup;
	} u;
};

/* A numeric listen address: host is "" for all interfaces (IPv6 and IPv4), else an IPv4 or IPv6
 * literal without brackets. */
struct vh_listen {
	char host[64];
	unsigned port;
};

/* Frozen after vh_config_load(): nothing changes it while the daemon runs. */
struct vh_config {
	char *path;
	char service[VH_CONFIG_NAME_MAX];
	size_t n_listen;
	struct vh_listen listen[VH_CONFIG_LISTEN_MAX];
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
/* Returns "<redacted>" when a string value must not be shown: its key is "password" or "token",
 * or it holds a secret (a URL with user info, a "password=" keyword). Otherwise returns value. */
const char *vh_config_redact_value(const char *key, const char *value);

#endif
