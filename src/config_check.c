/* config_check.c - reads each check type's object ("process", "postgres", ...) of the config. */
#include "vh/config_check.h"

#include <inttypes.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/config_value.h"

/* PID_MAX_LIMIT on 64-bit Linux: no pid, and so no count of threads, goes past it. */
#define PID_LIMIT 4194304
/* The kernel keeps 15 bytes of a command name in /proc/PID/comm; a longer one never matches. */
#define COMM_MAX 15

static const char *const process_keys[] = {"pid", "pidfile", "comm", "cmdline", "self", "rss_warn",
		"rss_fail", "threads_warn", "threads_fail"};
static const char *const cgroup_keys[] = {"path", "memory_warn_percent", "memory_fail_percent",
		"pressure_warn", "pressure_fail", "oom_kill"};

static const struct {
	const char *key;
	enum vh_process_target target;
} process_targets[] = {
		{"pid", VH_PROCESS_PID},
		{"pidfile", VH_PROCESS_PIDFILE},
		{"comm", VH_PROCESS_COMM},
		{"cmdline", VH_PROCESS_CMDLINE},
		{"self", VH_PROCESS_SELF},
};
#define TARGETS_HINT "one of pid, pidfile, comm, cmdline or self"

static const char *const oom_names[] = {
		[VH_OOM_IGNORE] = "ignore", [VH_OOM_WARN] = "warn", [VH_OOM_FAIL] = "fail"};

static const char *const postgres_keys[] = {"params", "role", "connection", "stats",
		"connections_warn_percent", "connections_fail_percent", "backoff",
		"reconnect_after"};
static const char *const redis_keys[] = {"url", "host", "port", "unix", "db", "username",
		"password", "role", "stats", "memory_warn_percent", "memory_fail_percent",
		"clients_warn", "backoff"};
static const char *const tcp_keys[] = {"host", "port"};
static const char *const http_keys[] = {"url", "status", "body_contains", "max_body"};

/* Every type, in the order of enum vh_check_type. */
static const enum vh_check_type all_types[] = {VH_CHECK_PROCESS, VH_CHECK_CGROUP, VH_CHECK_POSTGRES,
		VH_CHECK_REDIS, VH_CHECK_TCP, VH_CHECK_HTTP};

/* Redis says "master"; "primary" is accepted as the word the postgres check uses. */
static const char *const pg_roles[] = {"any", "primary", "replica"};
static const char *const redis_roles[] = {"any", "master", "replica", "primary"};
static const enum vh_role redis_role_values[] = {
		VH_ROLE_ANY, VH_ROLE_PRIMARY, VH_ROLE_REPLICA, VH_ROLE_PRIMARY};
static const char *const pg_connections[] = {"persistent", "per_check"};

/* A unix socket path must fit sockaddr_un.sun_path with its NUL. */
#define UNIX_PATH_MAX_LEN 107
#define HTTP_MAX_BODY_LIMIT (UINT64_C(16) << 20)
#define CLIENTS_LIMIT 1000000

const char *vh_check_type_name(enum vh_check_type type) {
	switch (type) {
	case VH_CHECK_PROCESS:
		return "process";
	case VH_CHECK_CGROUP:
		return "cgroup";
	case VH_CHECK_POSTGRES:
		return "postgres";
	case VH_CHECK_REDIS:
		return "redis";
	case VH_CHECK_TCP:
		return "tcp";
	case VH_CHECK_HTTP:
		return "http";
	}
	return "unknown";
}

bool vh_config_check_read_type(const struct vh_config_reader *r, const json_t *entry,
		const char *path, struct vh_check_config *check) {
	const char *type = NULL;
	if (!vh_config_read_string(r, entry, path, "type", &type)) {
		return false;
	}
	if (!type) {
		return vh_config_read_fail(r, path, NULL, "missing required key \"type\"");
	}
	for (size_t i = 0; i < VH_ARRAY_LEN(all_types); i++) {
		if (strcmp(type, vh_check_type_name(all_types[i])) == 0) {
			check->type = all_types[i];
			/* A dependency that is down must not get the service restarted: only
			 * readiness by default (see docs/configuration.md). */
			if (check->type != VH_CHECK_PROCESS && check->type != VH_CHECK_CGROUP) {
				check->groups = VH_GROUP_READINESS;
			}
			return true;
		}
	}
	char got[VH_CONFIG_DESCRIBE_LEN];
	return vh_config_read_fail(r, path, "type",
			"unknown check type %s (expected process, cgroup, postgres, redis, tcp or "
			"http)",
			vh_config_read_describe(
					r, json_object_get(entry, "type"), got, sizeof(got)));
}

/* Keeps a copy of a string the config owns. */
static bool keep(const struct vh_config_reader *r, const char *text, char **out) {
	*out = strdup(text);
	return *out ? true : vh_config_read_fail_oom(r);
}

/* Finds the one target key of a process object. */
static bool find_process_target(const struct vh_config_reader *r, const json_t *obj,
		const char *path, struct vh_process_config *p) {
	const char *given = NULL;
	for (size_t i = 0; i < VH_ARRAY_LEN(process_targets); i++) {
		if (!json_object_get(obj, process_targets[i].key)) {
			continue;
		}
		if (given) {
			return vh_config_read_fail(r, path, NULL,
					"both %s and %s are set; give exactly " TARGETS_HINT, given,
					process_targets[i].key);
		}
		given = process_targets[i].key;
		p->target = process_targets[i].target;
	}
	return given ? true : vh_config_read_fail(r, path, NULL, "needs " TARGETS_HINT);
}

/* Checks the text of a pidfile, comm or cmdline target. Returns what is wrong, or NULL. */
static const char *target_text_problem(enum vh_process_target target, const char *text) {
	switch (target) {
	case VH_PROCESS_PIDFILE:
		/* The daemon's working directory is not part of its contract. */
		return text[0] == '/' ? NULL : "must be an absolute path";
	case VH_PROCESS_COMM:
		return strlen(text) >= 1 && strlen(text) <= COMM_MAX
				? NULL
				: "must be 1 to 15 bytes, as in /proc/PID/comm (use cmdline for "
				  "longer names)";
	case VH_PROCESS_CMDLINE:
		return text[0] != '\0' ? NULL : "must not be empty";
	default:
		return NULL;
	}
}

static bool read_target_text(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, struct vh_process_config *p, char **out) {
	const char *text = NULL;
	if (!vh_config_read_string(r, obj, path, key, &text)) {
		return false;
	}
	const char *problem = target_text_problem(p->target, text);
	if (problem) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, path, key, "%s, got %s", problem,
				vh_config_read_describe(
						r, json_object_get(obj, key), got, sizeof(got)));
	}
	return keep(r, text, out);
}

static bool read_process_target(const struct vh_config_reader *r, const json_t *obj,
		const char *path, struct vh_process_config *p) {
	int64_t pid = 0;
	bool self = true;
	switch (p->target) {
	case VH_PROCESS_SELF:
		if (!vh_config_read_bool(r, obj, path, "self", &self)) {
			return false;
		}
		return self ? true
			    : vh_config_read_fail(r, path, "self", "must be true when given");
	case VH_PROCESS_PID:
		if (!vh_config_read_int(r, obj, path, "pid", 1, PID_LIMIT, &pid)) {
			return false;
		}
		p->pid = (pid_t)pid;
		return true;
	case VH_PROCESS_PIDFILE:
		return read_target_text(r, obj, path, "pidfile", p, &p->pidfile);
	case VH_PROCESS_COMM:
		return read_target_text(r, obj, path, "comm", p, &p->comm);
	case VH_PROCESS_CMDLINE:
		return read_target_text(r, obj, path, "cmdline", p, &p->cmdline);
	}
	return false;
}

/* Thresholds of 0 are off, so the order only matters when both are set. */
static bool check_order(const struct vh_config_reader *r, const char *path, const char *warn_key,
		const char *fail_key, uint64_t warn, uint64_t fail_at) {
	if (warn > 0 && fail_at > 0 && warn > fail_at) {
		return vh_config_read_fail(r, path, warn_key,
				"must not be above %s (%" PRIu64 " > %" PRIu64 ")", fail_key, warn,
				fail_at);
	}
	return true;
}

static bool check_percent_order(const struct vh_config_reader *r, const char *path,
		const char *warn_key, const char *fail_key, double warn, double fail_at) {
	if (warn > 0 && fail_at > 0 && warn > fail_at) {
		return vh_config_read_fail(r, path, warn_key, "must not be above %s (%g > %g)",
				fail_key, warn, fail_at);
	}
	return true;
}

static bool read_process(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_process_config *p) {
	int64_t threads_warn = 0, threads_fail = 0;
	if (!vh_config_read_keys(r, obj, path, process_keys, VH_ARRAY_LEN(process_keys)) ||
			!find_process_target(r, obj, path, p) ||
			!read_process_target(r, obj, path, p) ||
			!vh_config_read_bytes(r, obj, path, "rss_warn", &p->rss_warn_bytes) ||
			!vh_config_read_bytes(r, obj, path, "rss_fail", &p->rss_fail_bytes) ||
			!vh_config_read_int(r, obj, path, "threads_warn", 0, PID_LIMIT,
					&threads_warn) ||
			!vh_config_read_int(r, obj, path, "threads_fail", 0, PID_LIMIT,
					&threads_fail)) {
		return false;
	}
	p->threads_warn = (uint64_t)threads_warn;
	p->threads_fail = (uint64_t)threads_fail;
	return check_order(r, path, "rss_warn", "rss_fail", p->rss_warn_bytes, p->rss_fail_bytes) &&
			check_order(r, path, "threads_warn", "threads_fail", p->threads_warn,
					p->threads_fail);
}

static bool read_oom_policy(const struct vh_config_reader *r, const json_t *obj, const char *path,
		enum vh_oom_policy *out) {
	const char *text = NULL;
	if (!vh_config_read_string(r, obj, path, "oom_kill", &text)) {
		return false;
	}
	for (size_t i = 0; text && i < VH_ARRAY_LEN(oom_names); i++) {
		if (strcmp(text, oom_names[i]) == 0) {
			*out = (enum vh_oom_policy)i;
			return true;
		}
	}
	if (text) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, path, "oom_kill",
				"unknown policy %s (expected ignore, warn or fail)",
				vh_config_read_describe(r, json_object_get(obj, "oom_kill"), got,
						sizeof(got)));
	}
	return true;
}

static bool read_cgroup_keys(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_cgroup_config *c, const char **dir) {
	return vh_config_read_keys(r, obj, path, cgroup_keys, VH_ARRAY_LEN(cgroup_keys)) &&
			vh_config_read_string(r, obj, path, "path", dir) &&
			vh_config_read_percent(r, obj, path, "memory_warn_percent",
					&c->memory_warn_percent) &&
			vh_config_read_percent(r, obj, path, "memory_fail_percent",
					&c->memory_fail_percent) &&
			vh_config_read_percent(r, obj, path, "pressure_warn", &c->pressure_warn) &&
			vh_config_read_percent(r, obj, path, "pressure_fail", &c->pressure_fail) &&
			read_oom_policy(r, obj, path, &c->oom_kill);
}

/* obj may be NULL: every cgroup key has a default. */
static bool read_cgroup(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_cgroup_config *c) {
	const char *dir = "/sys/fs/cgroup";
	c->memory_warn_percent = 85;
	c->memory_fail_percent = 95;
	c->pressure_warn = 10;
	c->pressure_fail = 40;
	c->oom_kill = VH_OOM_WARN;
	if (obj && !read_cgroup_keys(r, obj, path, c, &dir)) {
		return false;
	}
	/* The default is absolute, so a relative dir came from obj. */
	if (dir[0] != '/') {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, path, "path", "must be an absolute path, got %s",
				vh_config_read_describe(
						r, json_object_get(obj, "path"), got, sizeof(got)));
	}
	return check_percent_order(r, path, "memory_warn_percent", "memory_fail_percent",
			       c->memory_warn_percent, c->memory_fail_percent) &&
			check_percent_order(r, path, "pressure_warn", "pressure_fail",
					c->pressure_warn, c->pressure_fail) &&
			keep(r, dir, &c->path);
}

/* The message for a secret typed into the file; where gives the variable to use instead. */
#define SECRET_HINT "put the password in an environment variable (\"${%s}\")%s, not in the file"

/* Refuses, at load time, a keyword the linked libpq does not know: libpq itself would only
 * refuse it at the first connection, and a typo would leave the setting at its default. */
static bool check_pg_keyword(const struct vh_config_reader *r, const char *path, const char *key,
		const PQconninfoOption *known) {
	const char *names[96];
	size_t n = 0;
	for (const PQconninfoOption *o = known; o->keyword; o++) {
		if (strcmp(o->keyword, key) == 0) {
			return true;
		}
		if (n < VH_ARRAY_LEN(names)) {
			names[n++] = o->keyword;
		}
	}
	/* Keys are never expanded, so they come from the file; quoted all the same. */
	char shown[VH_CONFIG_QUOTE_LEN];
	const char *guess = vh_config_value_suggest(key, names, n);
	vh_config_value_quote(key, shown, sizeof(shown));
	if (guess) {
		return vh_config_read_fail(r, path, NULL,
				"unknown libpq keyword %s (did you mean \"%s\"?)", shown, guess);
	}
	return vh_config_read_fail(r, path, NULL,
			"unknown libpq keyword %s (see \"Parameter Key Words\" in the libpq "
			"manual)",
			shown);
}

/* Returns what is wrong with the value of a libpq keyword the daemon cares about, or NULL. */
static const char *pg_value_problem(const char *key, const char *value) {
	if (strcmp(key, "hostaddr") == 0) {
		return "is set by the daemon from its own DNS lookup of host; give host only";
	}
	/* With expand_dbname off libpq would take a connection string as a name; it may hold a
	 * password, so it is refused without being shown. */
	if (strcmp(key, "dbname") == 0 && (strchr(value, '=') || strstr(value, "://"))) {
		return "must be a database name, not a connection string or URI (give each setting "
		       "its own key in params)";
	}
	if (strcmp(key, "host") == 0) {
		if (strchr(value, ',')) {
			return "must name one host only (the daemon checks a single server)";
		}
		/* "/dir" is a socket directory; "" leaves it to PGHOST. */
		if (value[0] != '\0' && value[0] != '/' && vh_config_value_host_problem(value)) {
			return vh_config_value_host_problem(value);
		}
	}
	if (strcmp(key, "port") == 0 && value[0] != '\0') {
		size_t digits = strspn(value, "0123456789");
		if (value[digits] != '\0' || digits > 5 || atoi(value) < 1 || atoi(value) > 65535) {
			return "must be one port number from 1 to 65535";
		}
	}
	return NULL;
}

static bool read_pg_param(const struct vh_config_reader *r, const char *path, const char *key,
		const json_t *v, const PQconninfoOption *known, struct vh_postgres_config *p) {
	if (!check_pg_keyword(r, path, key, known)) {
		return false;
	}
	if (!json_is_string(v)) {
		/* Not shown for a password: a literal number is still a secret. */
		return strcmp(vh_config_redact_value(key, ""), "") != 0
				? vh_config_read_fail(r, path, key, "expected a string")
				: vh_config_read_fail_type(r, path, key, "a string", v);
	}
	const char *value = json_string_value(v);
	if (strcmp(key, "password") == 0 && !vh_config_read_from_env(r, v, 0, strlen(value))) {
		return vh_config_read_fail(
				r, path, key, SECRET_HINT, "PGPASSWORD", " or a passfile");
	}
	/* The passphrase of the client's SSL key is as secret as a password. */
	if (strcmp(key, "sslpassword") == 0 && !vh_config_read_from_env(r, v, 0, strlen(value))) {
		return vh_config_read_fail(r, path, key, SECRET_HINT, "PGSSLPASSWORD", "");
	}
	const char *problem = pg_value_problem(key, value);
	if (problem) {
		return vh_config_read_fail(r, path, key, "%s", problem);
	}
	char *k = strdup(key), *val = strdup(value);
	if (!k || !val) {
		free(k);
		free(val);
		return vh_config_read_fail_oom(r);
	}
	p->keywords[p->n_params] = k;
	p->values[p->n_params++] = val;
	return true;
}

static bool read_pg_params(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_postgres_config *p) {
	const json_t *params = json_object_get(obj, "params");
	char sub[VH_CONFIG_PATH_LEN];
	const char *key;
	json_t *v;
	bool ok = true;
	if (params && !json_is_object(params)) {
		return vh_config_read_fail_type(r, path, "params",
				"an object of libpq keywords and strings", params);
	}
	size_t n = params ? json_object_size(params) : 0;
	p->keywords = calloc(n + 1, sizeof(*p->keywords));
	p->values = calloc(n + 1, sizeof(*p->values));
	if (!p->keywords || !p->values) {
		return vh_config_read_fail_oom(r);
	}
	if (n == 0) {
		return true;
	}
	/* The keywords of the libpq the daemon runs with, not a list copied here. */
	PQconninfoOption *known = PQconndefaults();
	if (!known) {
		return vh_config_read_fail_oom(r);
	}
	vh_config_read_path(sub, sizeof(sub), "%s.params", path);
	json_object_foreach((json_t *)params, key, v) {
		ok = read_pg_param(r, sub, key, v, known, p);
		if (!ok) {
			break;
		}
	}
	PQconninfoFree(known);
	return ok;
}

/* obj may be NULL: with no params libpq takes PGHOST and the rest from the environment. */
static bool read_postgres(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_postgres_config *p) {
	size_t role = VH_ROLE_ANY, connection = 0;
	p->connections_warn_percent = 80;
	p->connections_fail_percent = 95;
	p->reconnect_after_ms = 30000;
	if (!vh_config_read_keys(r, obj, path, postgres_keys, VH_ARRAY_LEN(postgres_keys)) ||
			!read_pg_params(r, obj, path, p) ||
			!vh_config_read_choice(r, obj, path, "role", "role", pg_roles,
					VH_ARRAY_LEN(pg_roles), &role) ||
			!vh_config_read_choice(r, obj, path, "connection", "connection",
					pg_connections, VH_ARRAY_LEN(pg_connections),
					&connection) ||
			!vh_config_read_bool(r, obj, path, "stats", &p->stats) ||
			!vh_config_read_percent(r, obj, path, "connections_warn_percent",
					&p->connections_warn_percent) ||
			!vh_config_read_percent(r, obj, path, "connections_fail_percent",
					&p->connections_fail_percent) ||
			!vh_config_read_backoff(r, obj, path, &p->backoff) ||
			!vh_config_read_duration(r, obj, path, "reconnect_after", 0,
					INT64_C(86400000), &p->reconnect_after_ms)) {
		return false;
	}
	if (p->reconnect_after_ms > 0 && p->reconnect_after_ms < 1000) {
		return vh_config_read_fail(r, path, "reconnect_after",
				"must be 0 (keep the connection) or from 1s to 24h, got %lld ms",
				(long long)p->reconnect_after_ms);
	}
	p->role = (enum vh_role)role;
	p->per_check_connection = connection == 1;
	return check_percent_order(r, path, "connections_warn_percent", "connections_fail_percent",
			p->connections_warn_percent, p->connections_fail_percent);
}

/* A host for a TCP connection, copied into *out. */
static bool read_host(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, char **out) {
	const char *host = NULL;
	if (!vh_config_read_string(r, obj, path, key, &host)) {
		return false;
	}
	const char *problem = host ? vh_config_value_host_problem(host) : NULL;
	if (problem) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, path, key, "%s, got %s", problem,
				vh_config_read_describe(
						r, json_object_get(obj, key), got, sizeof(got)));
	}
	return !host || keep(r, host, out);
}

static bool read_redis_url(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_redis_config *c) {
	static const char *const excluded[] = {
			"host", "port", "unix", "db", "username", "password"};
	const json_t *v = json_object_get(obj, "url");
	struct vh_config_redis_url url;
	char msg[256];
	for (size_t i = 0; i < VH_ARRAY_LEN(excluded); i++) {
		if (json_object_get(obj, excluded[i])) {
			return vh_config_read_fail(r, path, NULL,
					"both url and %s are set; give either url or the separate "
					"keys",
					excluded[i]);
		}
	}
	if (!json_is_string(v)) {
		return vh_config_read_fail_type(r, path, "url", "a string", v);
	}
	if (!vh_config_value_parse_redis_url(json_string_value(v), &url, msg, sizeof(msg))) {
		return vh_config_read_fail(r, path, "url", "%s", msg);
	}
	if (!vh_config_read_from_env(r, v, url.password_start, url.password_end)) {
		vh_config_value_redis_url_finish(&url);
		return vh_config_read_fail(r, path, "url",
				"the password in the URL must come from an environment variable "
				"(\"${REDIS_URL}\" or \"redis://:${REDIS_PASSWORD}@HOST\"), not "
				"the file");
	}
	c->host = url.host;
	c->port = url.port;
	c->db = url.db;
	c->username = url.username;
	c->password = url.password;
	return true;
}

/* "password" must come from the environment whole; an empty one means no AUTH. */
static bool read_redis_password(const struct vh_config_reader *r, const json_t *obj,
		const char *path, struct vh_redis_config *c) {
	const json_t *v = json_object_get(obj, "password");
	if (!v) {
		return true;
	}
	if (!json_is_string(v)) {
		return vh_config_read_fail(r, path, "password", "expected a string");
	}
	const char *value = json_string_value(v);
	if (!vh_config_read_from_env(r, v, 0, strlen(value))) {
		return vh_config_read_fail(r, path, "password", SECRET_HINT, "REDIS_PASSWORD", "");
	}
	return value[0] == '\0' || keep(r, value, &c->password);
}

static bool read_redis_fields(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_redis_config *c) {
	const char *unix_path = NULL, *username = NULL;
	int64_t port = c->port, db = 0;
	bool has_host = json_object_get(obj, "host"), has_unix = json_object_get(obj, "unix");
	if (has_host == has_unix) {
		return vh_config_read_fail(r, path, NULL,
				has_host ? "both host and unix are set; give one"
					 : "needs url, host or unix");
	}
	if (has_unix && json_object_get(obj, "port")) {
		return vh_config_read_fail(r, path, "port", "not used with unix");
	}
	if (!read_host(r, obj, path, "host", &c->host) ||
			!vh_config_read_int(r, obj, path, "port", 1, 65535, &port) ||
			!vh_config_read_string(r, obj, path, "unix", &unix_path) ||
			!vh_config_read_int(r, obj, path, "db", 0, VH_CONFIG_REDIS_DB_MAX, &db) ||
			!vh_config_read_string(r, obj, path, "username", &username) ||
			!read_redis_password(r, obj, path, c)) {
		return false;
	}
	if (unix_path && (unix_path[0] != '/' || strlen(unix_path) > UNIX_PATH_MAX_LEN)) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, path, "unix",
				"must be an absolute path of at most 107 bytes, got %s",
				vh_config_read_describe(
						r, json_object_get(obj, "unix"), got, sizeof(got)));
	}
	c->port = (unsigned)port;
	c->db = (unsigned)db;
	return (!unix_path || keep(r, unix_path, &c->unix_path)) &&
			(!username || username[0] == '\0' || keep(r, username, &c->username));
}

static bool read_redis(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_redis_config *c) {
	size_t role = 0;
	int64_t clients_warn = 0;
	c->port = 6379;
	c->memory_warn_percent = 85;
	if (!vh_config_read_keys(r, obj, path, redis_keys, VH_ARRAY_LEN(redis_keys)) ||
			!(json_object_get(obj, "url") ? read_redis_url(r, obj, path, c)
						      : read_redis_fields(r, obj, path, c)) ||
			!vh_config_read_choice(r, obj, path, "role", "role", redis_roles,
					VH_ARRAY_LEN(redis_roles), &role) ||
			!vh_config_read_bool(r, obj, path, "stats", &c->stats) ||
			!vh_config_read_percent(r, obj, path, "memory_warn_percent",
					&c->memory_warn_percent) ||
			!vh_config_read_percent(r, obj, path, "memory_fail_percent",
					&c->memory_fail_percent) ||
			!vh_config_read_int(r, obj, path, "clients_warn", 0, CLIENTS_LIMIT,
					&clients_warn) ||
			!vh_config_read_backoff(r, obj, path, &c->backoff)) {
		return false;
	}
	if (c->username && !c->password) {
		return vh_config_read_fail(r, path,
				json_object_get(obj, "url") ? "url" : "username",
				"a user name needs a password (AUTH USERNAME PASSWORD)");
	}
	c->role = redis_role_values[role];
	c->clients_warn = (uint64_t)clients_warn;
	return check_percent_order(r, path, "memory_warn_percent", "memory_fail_percent",
			c->memory_warn_percent, c->memory_fail_percent);
}

static bool read_tcp(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_tcp_config *t) {
	int64_t port = 0;
	if (!vh_config_read_keys(r, obj, path, tcp_keys, VH_ARRAY_LEN(tcp_keys))) {
		return false;
	}
	for (size_t i = 0; i < VH_ARRAY_LEN(tcp_keys); i++) {
		if (!json_object_get(obj, tcp_keys[i])) {
			return vh_config_read_fail(
					r, path, NULL, "missing required key \"%s\"", tcp_keys[i]);
		}
	}
	if (!read_host(r, obj, path, "host", &t->host) ||
			!vh_config_read_int(r, obj, path, "port", 1, 65535, &port)) {
		return false;
	}
	t->port = (unsigned)port;
	return true;
}

static bool read_http_status(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_http_check_config *h) {
	const json_t *v = json_object_get(obj, "status");
	if (!v) {
		return true;
	}
	const json_t *lo = json_array_get(v, 0), *hi = json_array_get(v, 1);
	if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(lo) ||
			!json_is_integer(hi) || json_integer_value(lo) < 100 ||
			json_integer_value(hi) > 599 ||
			json_integer_value(lo) > json_integer_value(hi)) {
		return vh_config_read_fail(r, path, "status",
				"expected [MIN, MAX] with 100 <= MIN <= MAX <= 599, such as [200, "
				"299]");
	}
	h->status_min = (unsigned)json_integer_value(lo);
	h->status_max = (unsigned)json_integer_value(hi);
	return true;
}

static bool read_http(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_http_check_config *h) {
	const char *url = NULL, *body = NULL;
	char msg[256];
	h->status_min = 200;
	h->status_max = 399;
	h->max_body_bytes = 64 * 1024;
	if (!vh_config_read_keys(r, obj, path, http_keys, VH_ARRAY_LEN(http_keys)) ||
			!vh_config_read_string(r, obj, path, "url", &url) ||
			!read_http_status(r, obj, path, h) ||
			!vh_config_read_string(r, obj, path, "body_contains", &body) ||
			!vh_config_read_bytes(r, obj, path, "max_body", &h->max_body_bytes)) {
		return false;
	}
	if (!url) {
		return vh_config_read_fail(r, path, NULL, "missing required key \"url\"");
	}
	if (!vh_config_value_check_http_url(url, msg, sizeof(msg))) {
		return vh_config_read_fail(r, path, "url", "%s", msg);
	}
	if (h->max_body_bytes < 1 || h->max_body_bytes > HTTP_MAX_BODY_LIMIT) {
		return vh_config_read_fail(r, path, "max_body",
				"must be from 1 byte to 16MiB, got %" PRIu64 " bytes",
				h->max_body_bytes);
	}
	if (body && body[0] == '\0') {
		return vh_config_read_fail(r, path, "body_contains", "must not be empty");
	}
	if (body && strlen(body) > h->max_body_bytes) {
		return vh_config_read_fail(r, path, "body_contains",
				"is longer than max_body (%" PRIu64
				" bytes), so it can never match",
				h->max_body_bytes);
	}
	return keep(r, url, &h->url) && (!body || keep(r, body, &h->body_contains));
}

static bool require_object(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key) {
	return obj ? true : vh_config_read_fail(r, path, NULL, "missing required key \"%s\"", key);
}

/* The object named after the type: optional for cgroup and postgres, whose keys all have
 * defaults, required for the other types, refused for a type it does not belong to. */
bool vh_config_check_read(const struct vh_config_reader *r, const json_t *entry, const char *path,
		struct vh_check_config *check) {
	const char *key = vh_check_type_name(check->type);
	const json_t *obj = json_object_get(entry, key);
	char sub[VH_CONFIG_PATH_LEN];
	for (size_t i = 0; i < VH_ARRAY_LEN(all_types); i++) {
		const char *other = vh_check_type_name(all_types[i]);
		if (all_types[i] != check->type && json_object_get(entry, other)) {
			return vh_config_read_fail(r, path, other,
					"not allowed for a check of type \"%s\"", key);
		}
	}
	if (obj && !json_is_object(obj)) {
		return vh_config_read_fail_type(r, path, key, "an object", obj);
	}
	vh_config_read_path(sub, sizeof(sub), "%s.%s", path, key);
	switch (check->type) {
	case VH_CHECK_PROCESS:
		return require_object(r, obj, path, key) &&
				read_process(r, obj, sub, &check->u.process);
	case VH_CHECK_CGROUP:
		return read_cgroup(r, obj, sub, &check->u.cgroup);
	case VH_CHECK_POSTGRES:
		return read_postgres(r, obj, sub, &check->u.postgres);
	case VH_CHECK_REDIS:
		return require_object(r, obj, path, key) &&
				read_redis(r, obj, sub, &check->u.redis);
	case VH_CHECK_TCP:
		return require_object(r, obj, path, key) && read_tcp(r, obj, sub, &check->u.tcp);
	case VH_CHECK_HTTP:
		return require_object(r, obj, path, key) && read_http(r, obj, sub, &check->u.http);
	}
	return false;
}

void vh_config_check_free(struct vh_check_config *check) {
	switch (check->type) {
	case VH_CHECK_PROCESS:
		free(check->u.process.pidfile);
		free(check->u.process.comm);
		free(check->u.process.cmdline);
		break;
	case VH_CHECK_CGROUP:
		free(check->u.cgroup.path);
		break;
	case VH_CHECK_POSTGRES:
		for (size_t i = 0; check->u.postgres.keywords && i < check->u.postgres.n_params;
				i++) {
			free(check->u.postgres.keywords[i]);
			free(check->u.postgres.values[i]);
		}
		free(check->u.postgres.keywords);
		free(check->u.postgres.values);
		break;
	case VH_CHECK_REDIS:
		free(check->u.redis.host);
		free(check->u.redis.unix_path);
		free(check->u.redis.username);
		free(check->u.redis.password);
		break;
	case VH_CHECK_TCP:
		free(check->u.tcp.host);
		break;
	case VH_CHECK_HTTP:
		free(check->u.http.url);
		free(check->u.http.body_contains);
		break;
	}
}
