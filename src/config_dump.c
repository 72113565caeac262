/* config_dump.c - prints the effective config as JSON that loads again, secrets redacted. */
#include "vh/config.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "vh/config_value.h"

static const char redacted[] = "<redacted>";

/* True for "scheme://user@host..." and "scheme://user:secret@host...". */
static bool has_userinfo(const char *value) {
	const char *authority = strstr(value, "://");
	if (!authority) {
		return false;
	}
	authority += 3;
	return memchr(authority, '@', strcspn(authority, "/?#")) != NULL;
}

const char *vh_config_redact_value(const char *key, const char *value) {
	/* "password=" covers libpq keyword/value strings, which carry secrets without a URL. */
	if (strcmp(key, "password") == 0 || strcmp(key, "token") == 0 || has_userinfo(value) ||
			strstr(value, "password=")) {
		return redacted;
	}
	return value;
}

/* The set_* helpers return jansson's 0 or -1 so one `|` chain collects every failure. */
static int set_string(json_t *obj, const char *key, const char *value) {
	return json_object_set_new(obj, key, json_string(vh_config_redact_value(key, value)));
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
	return json_string(vh_config_redact_value("listen", text));
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
	rc |= json_object_set_new(obj, vh_check_type_name(c->type),
			c->type == VH_CHECK_PROCESS ? process_json(&c->u.process)
						    : cgroup_json(&c->u.cgroup));
	if (rc != 0) {
		json_decref(obj);
		return NULL;
	}
	return obj;
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

char *vh_config_dump(const struct vh_config *config) {
	json_t *root = config_json(config);
	if (!root) {
		return NULL;
	}
	/* Keys keep the order they were added in; 15 digits print 0.1 as 0.1 and still read back
	 * to the same double for any value typed with up to 15 significant digits. */
	char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(15));
	json_decref(root);
	return text;
}
