/* config_dump.c - prints the effective config as JSON that loads again, secrets redacted. */
#include "vh/config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/config_value.h"
#include "vh/scrub.h"

static const char redacted[] = "<redacted>";

/* The passwords of the config being dumped. A password may also have been given under a key
 * that is not secret (a dbname set from the same ${VAR}, say); every printed string is scrubbed
 * of them. Set only while vh_config_dump() runs, which the single-threaded daemon never
 * re-enters. */
#define DUMP_SECRETS_MAX (VH_CONFIG_CHECKS_MAX * 4)
static const char *dump_secrets[DUMP_SECRETS_MAX];
static size_t n_dump_secrets;

/* True for "scheme://user@host..." and "scheme://user:secret@host...". */
static bool has_userinfo(const char *value) {
	const char *authority = strstr(value, "://");
	if (!authority) {
		return false;
	}
	authority += 3;
	return memchr(authority, '@', strcspn(authority, "/?#")) != NULL;
}

/* True for "password", and for libpq's "sslpassword" and the like. */
static bool is_secret_key(const char *key) {
	size_t len = strlen(key), suffix = strlen("password");
	return strcmp(key, "token") == 0 ||
			(len >= suffix && strcmp(key + len - suffix, "password") == 0);
}

const char *vh_config_redact_value(const char *key, const char *value) {
	/* "password=" covers libpq keyword/value strings, which carry secrets without a URL. */
	if (is_secret_key(key) || has_userinfo(value) || strstr(value, "password=")) {
		return redacted;
	}
	return value;
}

/* A string as the dump shows it: redacted as above, and an http(s) URL without its query or
 * fragment, which often carry a token ("http://api/health?token=..."): "?<redacted>" instead. */
/* A printed string, with each "$" written as "$$": the loader expands ${VAR} in every string, so
 * only that keeps the printed config loading to the same values (found by tests/fuzz). */
static json_t *string_json(const char *text) {
	size_t dollars = 0;
	for (const char *p = strchr(text, '$'); p; p = strchr(p + 1, '$')) {
		dollars++;
	}
	if (dollars == 0) {
		return json_string(text);
	}
	size_t len = strlen(text);
	char *escaped = malloc(len + dollars + 1);
	if (!escaped) {
		return NULL;
	}
	size_t n = 0;
	for (size_t i = 0; i < len; i++) {
		escaped[n++] = text[i];
		if (text[i] == '$') {
			escaped[n++] = '$';
		}
	}
	escaped[n] = '\0';
	json_t *v = json_string(escaped);
	free(escaped);
	return v;
}

static json_t *scrubbed_string(const char *value) {
	size_t len = strlen(value) * 3 + 16; /* each byte a secret at worst, each becoming "***" */
	char *text = malloc(len);
	if (!text) {
		return NULL;
	}
	json_t *v = string_json(vh_scrub(value, dump_secrets, n_dump_secrets, text, len));
	free(text);
	return v;
}

static bool holds_secret(const char *value) {
	for (size_t i = 0; i < n_dump_secrets; i++) {
		if (dump_secrets[i][0] && strstr(value, dump_secrets[i])) {
			return true;
		}
	}
	return false;
}

static json_t *shown_string(const char *key, const char *value) {
	const char *shown = vh_config_redact_value(key, value);
	if (shown == value && holds_secret(value)) {
		return scrubbed_string(value);
	}
	size_t n = shown == value ? vh_config_value_url_shown_len(value) : strlen(shown);
	if (shown[n] == '\0') {
		return string_json(shown);
	}
	size_t len = n + 1 + sizeof(redacted);
	char *text = malloc(len);
	if (!text) {
		return NULL;
	}
	snprintf(text, len, "%.*s%c%s", (int)n, shown, shown[n], redacted);
	json_t *v = string_json(text);
	free(text);
	return v;
}

/* The set_* helpers return jansson's 0 or -1 so one `|` chain collects every failure. */
static int set_string(json_t *obj, const char *key, const char *value) {
	return json_object_set_new(obj, key, shown_string(key, value));
}

static int set_duration(json_t *obj, const char *key, int64_t ms) {
	char text[VH_CONFIG_DURATION_LEN];
	vh_config_value_format_duration(ms, text, sizeof(text));
	return json_object_set_new(obj, key, json_string(text));
}

static int set_uint(json_t *obj, const char *key, uint64_t value) {
	return json_object_set_new(obj, key, json_integer((json_int_t)value));
}

/* Whole percentages print as integers: "85" reads better than "85.0". */
static int set_percent(json_t *obj, const char *key, double value) {
	json_t *v = value == floor(value) ? json_integer((json_int_t)value) : json_real(value);
	return json_object_set_new(obj, key, v);
}

static json_t *listen_json(const struct vh_listen *l) {
	char text[sizeof(l->host) + 16];
	if (l->host[0] == '\0') {
		snprintf(text, sizeof(text), ":%u", l->port);
	} else if (strchr(l->host, ':')) {
		snprintf(text, sizeof(text), "[%s]:%u", l->host, l->port);
	} else {
		snprintf(text, sizeof(text), "%s:%u", l->host, l->port);
	}
	return shown_string("listen", text);
}

static json_t *groups_json(unsigned groups) {
	json_t *array = json_array();
	int rc = array ? 0 : -1;
	if (array && (groups & VH_GROUP_LIVENESS)) {
		rc |= json_array_append_new(array, json_string("liveness"));
	}
	if (array && (groups & VH_GROUP_READINESS)) {
		rc |= json_array_append_new(array, json_string("readiness"));
	}
	if (rc != 0) {
		json_decref(array);
		return NULL;
	}
	return array;
}

static int set_process_target(json_t *obj, const struct vh_process_config *p) {
	switch (p->target) {
	case VH_PROCESS_SELF:
		return json_object_set_new(obj, "self", json_true());
	case VH_PROCESS_PID:
		return set_uint(obj, "pid", (uint64_t)p->pid);
	case VH_PROCESS_PIDFILE:
		return set_string(obj, "pidfile", p->pidfile);
	case VH_PROCESS_COMM:
		return set_string(obj, "comm", p->comm);
	case VH_PROCESS_CMDLINE:
		return set_string(obj, "cmdline", p->cmdline);
	}
	return -1;
}

static json_t *process_json(const struct vh_process_config *p) {
	json_t *obj = json_object();
	if (!obj) {
		return NULL;
	}
	/* One statement per key: the operands of a single `|` expression run in no fixed order,
	 * and the order of insertion is the order of output. */
	int rc = set_process_target(obj, p);
	rc |= set_uint(obj, "rss_warn", p->rss_warn_bytes);
	rc |= set_uint(obj, "rss_fail", p->rss_fail_bytes);
	rc |= set_uint(obj, "threads_warn", p->threads_warn);
	rc |= set_uint(obj, "threads_fail", p->threads_fail);
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *cgroup_json(const struct vh_cgroup_config *c) {
	static const char *const oom_names[] = {
			[VH_OOM_IGNORE] = "ignore", [VH_OOM_WARN] = "warn", [VH_OOM_FAIL] = "fail"};
	json_t *obj = json_object();
	if (!obj) {
		return NULL;
	}
	int rc = set_string(obj, "path", c->path);
	rc |= set_percent(obj, "memory_warn_percent", c->memory_warn_percent);
	rc |= set_percent(obj, "memory_fail_percent", c->memory_fail_percent);
	rc |= set_percent(obj, "pressure_warn", c->pressure_warn);
	rc |= set_percent(obj, "pressure_fail", c->pressure_fail);
	rc |= set_string(obj, "oom_kill", oom_names[c->oom_kill]);
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static int set_backoff(json_t *obj, const struct vh_backoff_config *b) {
	json_t *backoff = json_object();
	if (!backoff) {
		return -1;
	}
	int rc = set_duration(backoff, "initial", b->initial_ms);
	rc |= set_duration(backoff, "max", b->max_ms);
	return rc | json_object_set_new(obj, "backoff", backoff);
}

/* Every object built here ends in finish(): NULL if any key failed. */
static json_t *finish(json_t *obj, int rc) {
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

static json_t *postgres_json(const struct vh_postgres_config *p) {
	static const char *const roles[] = {[VH_ROLE_ANY] = "any",
			[VH_ROLE_PRIMARY] = "primary",
			[VH_ROLE_REPLICA] = "replica"};
	json_t *obj = json_object(), *params = json_object();
	if (!obj || !params) {
		json_decref(params);
		return finish(obj, -1);
	}
	int rc = 0;
	for (size_t i = 0; i < p->n_params; i++) {
		/* set_string() redacts "password" by its key. */
		rc |= set_string(params, p->keywords[i], p->values[i]);
	}
	rc |= json_object_set_new(obj, "params", params);
	rc |= set_string(obj, "role", roles[p->role]);
	rc |= set_string(obj, "connection", p->per_check_connection ? "per_check" : "persistent");
	rc |= set_duration(obj, "reconnect_after", p->reconnect_after_ms);
	rc |= json_object_set_new(obj, "stats", json_boolean(p->stats));
	rc |= set_percent(obj, "connections_warn_percent", p->connections_warn_percent);
	rc |= set_percent(obj, "connections_fail_percent", p->connections_fail_percent);
	rc |= set_backoff(obj, &p->backoff);
	return finish(obj, rc);
}

/* A URL in the file prints as the separate keys, so the password can be left out of it. */
static json_t *redis_json(const struct vh_redis_config *c) {
	static const char *const roles[] = {[VH_ROLE_ANY] = "any",
			[VH_ROLE_PRIMARY] = "master",
			[VH_ROLE_REPLICA] = "replica"};
	json_t *obj = json_object();
	if (!obj) {
		return NULL;
	}
	int rc = 0;
	if (c->unix_path) {
		rc |= set_string(obj, "unix", c->unix_path);
	} else {
		rc |= set_string(obj, "host", c->host);
		rc |= set_uint(obj, "port", c->port);
	}
	rc |= set_uint(obj, "db", c->db);
	if (c->username) {
		rc |= set_string(obj, "username", c->username);
	}
	if (c->password) {
		rc |= set_string(obj, "password", c->password);
	}
	rc |= set_string(obj, "role", roles[c->role]);
	rc |= json_object_set_new(obj, "stats", json_boolean(c->stats));
	rc |= set_percent(obj, "memory_warn_percent", c->memory_warn_percent);
	rc |= set_percent(obj, "memory_fail_percent", c->memory_fail_percent);
	rc |= set_uint(obj, "clients_warn", c->clients_warn);
	rc |= set_backoff(obj, &c->backoff);
	return finish(obj, rc);
}

static json_t *tcp_json(const struct vh_tcp_config *t) {
	json_t *obj = json_object();
	if (!obj) {
		return NULL;
	}
	int rc = set_string(obj, "host", t->host);
	rc |= set_uint(obj, "port", t->port);
	return finish(obj, rc);
}

static json_t *http_json(const struct vh_http_check_config *h) {
	json_t *obj = json_object();
	json_t *status = json_pack("[II]", (json_int_t)h->status_min, (json_int_t)h->status_max);
	if (!obj || !status) {
		json_decref(status);
		return finish(obj, -1);
	}
	int rc = set_string(obj, "url", h->url);
	rc |= json_object_set_new(obj, "status", status);
	if (h->body_contains) {
		rc |= set_string(obj, "body_contains", h->body_contains);
	}
	rc |= set_uint(obj, "max_body", h->max_body_bytes);
	return finish(obj, rc);
}

static json_t *type_json(const struct vh_check_config *c) {
	switch (c->type) {
	case VH_CHECK_PROCESS:
		return process_json(&c->u.process);
	case VH_CHECK_CGROUP:
		return cgroup_json(&c->u.cgroup);
	case VH_CHECK_POSTGRES:
		return postgres_json(&c->u.postgres);
	case VH_CHECK_REDIS:
		return redis_json(&c->u.redis);
	case VH_CHECK_TCP:
		return tcp_json(&c->u.tcp);
	case VH_CHECK_HTTP:
		return http_json(&c->u.http);
	}
	return NULL;
}

static json_t *dns_json(const struct vh_dns_config *d) {
	json_t *obj = json_object(), *servers = json_array();
	if (!obj || !servers) {
		json_decref(servers);
		return finish(obj, -1);
	}
	int rc = 0;
	for (size_t i = 0; i < d->n_nameservers; i++) {
		rc |= json_array_append_new(servers, json_string(d->nameservers[i]));
	}
	rc |= json_object_set_new(obj, "nameservers", servers);
	rc |= set_duration(obj, "timeout", d->timeout_ms);
	rc |= set_uint(obj, "attempts", d->attempts);
	return finish(obj, rc);
}

static int set_timing(json_t *obj, const struct vh_check_config *c) {
	int rc = set_duration(obj, "interval", c->interval_ms);
	rc |= set_duration(obj, "timeout", c->timeout_ms);
	rc |= set_duration(obj, "fail_interval", c->fail_interval_ms);
	rc |= set_duration(obj, "unknown_interval", c->unknown_interval_ms);
	rc |= set_duration(obj, "initial_delay", c->initial_delay_ms);
	rc |= set_duration(obj, "jitter", c->jitter_ms);
	rc |= set_duration(obj, "stale_after", c->stale_after_ms);
	rc |= set_uint(obj, "rise", c->rise);
	rc |= set_uint(obj, "fall", c->fall);
	return rc;
}

static json_t *check_json(const struct vh_check_config *c) {
	json_t *obj = json_object();
	if (!obj) {
		return NULL;
	}
	int rc = set_string(obj, "name", c->name);
	rc |= set_string(obj, "type", vh_check_type_name(c->type));
	rc |= json_object_set_new(obj, "groups", groups_json(c->groups));
	rc |= json_object_set_new(obj, "critical", json_boolean(c->critical));
	rc |= set_timing(obj, c);
	rc |= set_string(obj, "scope", c->scope == VH_SCOPE_SHARED ? "shared" : "local");
	rc |= json_object_set_new(obj, vh_check_type_name(c->type), type_json(c));
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
}

/* The token itself is never printed; "<redacted>" says that one is set, and a dump that is
 * loaded again needs the real one back in the environment. */
static int access_json(json_t *root, const struct vh_access_config *a) {
	static const char *const names[] = {"authorized", "always", "never"};
	int rc = json_object_set_new(root, "details", json_string(names[a->details]));
	rc |= json_object_set_new(root, "trust_loopback", json_boolean(a->trust_loopback));
	if (a->token_file[0]) {
		rc |= set_string(root, "token_file", a->token_file);
	} else if (a->token[0]) {
		rc |= json_object_set_new(root, "token", json_string(redacted));
	}
	return rc;
}

static json_t *peers_json(const struct vh_peers_config *p) {
	json_t *obj = json_object();
	if (!obj) {
		return NULL;
	}
	int rc = 0;
	if (p->dns[0]) {
		rc |= set_string(obj, "dns", p->dns);
	} else {
		json_t *list = json_array();
		for (size_t i = 0; list && i < p->n_addresses; i++) {
			const struct vh_peer_address *a = &p->addresses[i];
			char text[300];
			bool v6 = strchr(a->host, ':') != NULL;
			int n = a->port ? snprintf(text, sizeof(text), "%s%s%s:%u", v6 ? "[" : "",
							  a->host, v6 ? "]" : "", a->port)
					: snprintf(text, sizeof(text), "%s%s%s", v6 ? "[" : "",
							  a->host, v6 ? "]" : "");
			rc |= n < 0 ? -1 : json_array_append_new(list, json_string(text));
		}
		rc |= list ? json_object_set_new(obj, "addresses", list) : -1;
	}
	if (!p->port_from_listen) {
		rc |= set_uint(obj, "port",
				p->port); /* else it follows listen, as --listen moves it */
	}
	rc |= set_duration(obj, "interval", p->interval_ms);
	rc |= set_duration(obj, "timeout", p->timeout_ms);
	rc |= set_duration(obj, "refresh", p->refresh_ms);
	rc |= set_uint(obj, "sample", p->sample);
	rc |= set_percent(obj, "panic_threshold", p->panic_threshold);
	rc |= set_string(obj, "panic_mode", p->panic_mode == VH_PANIC_SERVE ? "serve" : "unready");
	return finish(obj, rc);
}

static json_t *config_json(const struct vh_config *config) {
	json_t *root = json_object(), *listen = json_array(), *checks = json_array();
	int rc = root && listen && checks ? 0 : -1;
	for (size_t i = 0; rc == 0 && i < config->n_listen; i++) {
		rc = json_array_append_new(listen, listen_json(&config->listen[i]));
	}
	for (size_t i = 0; rc == 0 && i < config->n_checks; i++) {
		rc = json_array_append_new(checks, check_json(&config->checks[i]));
	}
	if (rc == 0) {
		rc = set_string(root, "service", config->service);
		rc |= json_object_set(root, "listen", listen);
		rc |= json_object_set_new(root, "dns", dns_json(&config->dns));
		rc |= json_object_set_new(root, "history",
				json_pack("{s:i,s:i}", "results",
						(json_int_t)config->history.results, "transitions",
						(json_int_t)config->history.transitions));
		rc |= set_duration(root, "shutdown_delay", config->shutdown_delay_ms);
		rc |= access_json(root, &config->access);
		if (config->peers.enabled) {
			rc |= json_object_set_new(root, "peers", peers_json(&config->peers));
		}
		rc |= json_object_set(root, "checks", checks);
	}
	json_decref(listen);
	json_decref(checks);
	if (rc != 0) {
		json_decref(root);
		return NULL;
	}
	return root;
}

static void collect_secrets(const struct vh_config *config) {
	n_dump_secrets = 0;
	if (config->access.token[0]) {
		dump_secrets[n_dump_secrets++] = config->access.token;
	}
	for (size_t i = 0; i < config->n_checks; i++) {
		const struct vh_check_config *c = &config->checks[i];
		if (c->type == VH_CHECK_POSTGRES) {
			const struct vh_postgres_config *p = &c->u.postgres;
			for (size_t k = 0; k < p->n_params && n_dump_secrets < DUMP_SECRETS_MAX;
					k++) {
				if (is_secret_key(p->keywords[k]) && p->values[k]) {
					dump_secrets[n_dump_secrets++] = p->values[k];
				}
			}
		} else if (c->type == VH_CHECK_REDIS && c->u.redis.password &&
				n_dump_secrets < DUMP_SECRETS_MAX) {
			dump_secrets[n_dump_secrets++] = c->u.redis.password;
		}
	}
}

char *vh_config_dump(const struct vh_config *config) {
	collect_secrets(config);
	json_t *root = config_json(config);
	n_dump_secrets = 0;
	if (!root) {
		return NULL;
	}
	/* Keys keep the order they were added in; 15 digits print 0.1 as 0.1 and still read back
	 * to the same double for any value typed with up to 15 significant digits. */
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	json_decref(root);
	return text;
}
