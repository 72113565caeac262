/* config.c - loads the JSON config file: ${VAR} expansion, strict validation, defaults. */
#include "vh/config.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/config_check.h"
#include "vh/config_peers.h"
#include "vh/config_read.h"
#include "vh/config_value.h"

#define MS_SECOND INT64_C(1000)
#define MS_MINUTE (60 * MS_SECOND)
#define MS_HOUR (60 * MS_MINUTE)

/* The keys a check shares with "defaults", in the order they are validated. */
enum timing_key {
	T_INTERVAL,
	T_TIMEOUT,
	T_FAIL_INTERVAL,
	T_UNKNOWN_INTERVAL,
	T_INITIAL_DELAY,
	T_JITTER,
	T_STALE_AFTER,
	T_RISE,
	T_FALL,
	T_COUNT,
};

static const char *const timing_names[T_COUNT] = {"interval", "timeout", "fail_interval",
		"unknown_interval", "initial_delay", "jitter", "stale_after", "rise", "fall"};

/* Ranges of each timing key; durations in ms. jitter and stale_after are also checked against
 * the intervals once all are known. */
static const struct {
	bool is_duration;
	int64_t min, max;
} timing_ranges[T_COUNT] = {
		[T_INTERVAL] = {true, 10, 24 * MS_HOUR},
		[T_TIMEOUT] = {true, 10, 10 * MS_MINUTE},
		[T_FAIL_INTERVAL] = {true, 10, 24 * MS_HOUR},
		[T_UNKNOWN_INTERVAL] = {true, 10, 24 * MS_HOUR},
		[T_INITIAL_DELAY] = {true, 0, MS_HOUR},
		[T_JITTER] = {true, 0, 12 * MS_HOUR},
		[T_STALE_AFTER] = {true, 10, 168 * MS_HOUR},
		[T_RISE] = {false, 1, 100},
		[T_FALL] = {false, 1, 100},
};

/* Timing values of one check while they are merged with "defaults" and derived. */
struct timing {
	int64_t v[T_COUNT];
	bool set[T_COUNT];
	bool from_defaults[T_COUNT];
};

static const char *const top_keys[] = {"service", "listen", "dns", "history", "shutdown_delay",
		"details", "trust_loopback", "token", "token_file", "peers", "defaults", "checks"};
static const char *const details_names[] = {"authorized", "always", "never"};
static const char *const check_keys[] = {"name", "type", "groups", "critical", "interval",
		"timeout", "fail_interval", "unknown_interval", "initial_delay", "jitter",
		"stale_after", "rise", "fall", "scope", "process", "cgroup", "postgres", "redis",
		"tcp", "http"};
static const char *const dns_keys[] = {"nameservers", "timeout", "attempts"};
static const char *const history_keys[] = {"results", "transitions"};
/* True for 1 to 63 characters of a-z, 0-9 and the characters in punct, plus A-Z if upper. */
static bool is_name(const char *s, const char *punct, bool upper) {
	size_t len = strlen(s);
	if (len < 1 || len >= VH_CONFIG_NAME_MAX) {
		return false;
	}
	for (; *s; s++) {
		bool ok = (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
				(upper && *s >= 'A' && *s <= 'Z') || strchr(punct, *s);
		if (!ok) {
			return false;
		}
	}
	return true;
}

static bool read_service(
		const struct vh_config_reader *r, const json_t *root, struct vh_config *config) {
	const char *service = "veza-service";
	if (!vh_config_read_string(r, root, NULL, "service", &service)) {
		return false;
	}
	if (!is_name(service, "_.-", true)) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, NULL, "service",
				"must be 1 to 63 characters of A-Z, a-z, 0-9, \"_\", \".\" or "
				"\"-\", got %s",
				vh_config_read_describe(r, json_object_get(root, "service"), got,
						sizeof(got)));
	}
	snprintf(config->service, sizeof(config->service), "%s", service);
	return true;
}

static bool add_listen(const struct vh_config_reader *r, const json_t *v, const char *path,
		struct vh_config *config) {
	char got[VH_CONFIG_DESCRIBE_LEN];
	struct vh_listen *l = &config->listen[config->n_listen];
	if (!json_is_string(v)) {
		return vh_config_read_fail_type(
				r, path, NULL, "an address string such as \":8099\"", v);
	}
	const char *problem = vh_config_value_listen_problem(json_string_value(v), l);
	if (problem) {
		return vh_config_read_fail(r, path, NULL, "%s, got %s", problem,
				vh_config_read_describe(r, v, got, sizeof(got)));
	}
	for (size_t i = 0; i < config->n_listen; i++) {
		if (config->listen[i].port == l->port &&
				strcmp(config->listen[i].host, l->host) == 0) {
			return vh_config_read_fail(r, path, NULL, "duplicate address %s",
					vh_config_read_describe(r, v, got, sizeof(got)));
		}
	}
	config->n_listen++;
	return true;
}

static bool read_listen(
		const struct vh_config_reader *r, const json_t *root, struct vh_config *config) {
	const json_t *v = json_object_get(root, "listen");
	char path[VH_CONFIG_PATH_LEN];
	const json_t *item;
	size_t i;
	if (!v) {
		config->listen[0].port = VH_CONFIG_DEFAULT_PORT;
		config->n_listen = 1;
		return true;
	}
	if (json_is_string(v)) {
		return add_listen(r, v, "listen", config);
	}
	if (!json_is_array(v)) {
		return vh_config_read_fail_type(r, "listen", NULL,
				"an address string or an array of 1 to 4 of them", v);
	}
	if (json_array_size(v) < 1 || json_array_size(v) > VH_CONFIG_LISTEN_MAX) {
		return vh_config_read_fail(r, "listen", NULL, "expected 1 to %d addresses, got %zu",
				VH_CONFIG_LISTEN_MAX, json_array_size(v));
	}
	json_array_foreach(v, i, item) {
		vh_config_read_path(path, sizeof(path), "listen[%zu]", i);
		if (!add_listen(r, item, path, config)) {
			return false;
		}
	}
	return true;
}

static bool read_timing(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct timing *t) {
	for (int k = 0; k < T_COUNT; k++) {
		bool ok;
		if (!json_object_get(obj, timing_names[k])) {
			continue;
		}
		if (timing_ranges[k].is_duration) {
			ok = vh_config_read_duration(r, obj, path, timing_names[k],
					timing_ranges[k].min, timing_ranges[k].max, &t->v[k]);
		} else {
			ok = vh_config_read_int(r, obj, path, timing_names[k], timing_ranges[k].min,
					timing_ranges[k].max, &t->v[k]);
		}
		if (!ok) {
			return false;
		}
		t->set[k] = true;
	}
	return true;
}

static bool read_defaults(
		const struct vh_config_reader *r, const json_t *root, struct timing *defaults) {
	const json_t *v = json_object_get(root, "defaults");
	if (!v) {
		return true;
	}
	if (!json_is_object(v)) {
		return vh_config_read_fail_type(r, "defaults", NULL, "an object", v);
	}
	return vh_config_read_keys(r, v, "defaults", timing_names, T_COUNT) &&
			read_timing(r, v, "defaults", defaults);
}

static int64_t max3(int64_t a, int64_t b, int64_t c) {
	int64_t m = a > b ? a : b;
	return m > c ? m : c;
}

/* The longest wait between two runs, before jitter. */
static int64_t longest_interval(const struct timing *t) {
	return max3(t->v[T_INTERVAL], t->v[T_FAIL_INTERVAL], t->v[T_UNKNOWN_INTERVAL]);
}

/* Fills what neither the check nor "defaults" set; later keys derive from earlier ones. */
static void derive_timing(struct timing *t) {
	int64_t derived[T_COUNT];
	derived[T_INTERVAL] = 5 * MS_SECOND;
	derived[T_TIMEOUT] = MS_SECOND;
	for (int k = 0; k < T_COUNT; k++) {
		switch (k) {
		case T_FAIL_INTERVAL:
			derived[k] = t->v[T_INTERVAL];
			break;
		case T_UNKNOWN_INTERVAL:
			derived[k] = t->v[T_INTERVAL] < MS_SECOND ? t->v[T_INTERVAL] : MS_SECOND;
			break;
		case T_INITIAL_DELAY:
			derived[k] = 0;
			break;
		case T_JITTER:
			derived[k] = t->v[T_INTERVAL] / 10;
			break;
		case T_STALE_AFTER:
			derived[k] = 3 * longest_interval(t) + t->v[T_TIMEOUT] + t->v[T_JITTER];
			break;
		case T_RISE:
		case T_FALL:
			derived[k] = 1;
			break;
		}
		if (!t->set[k]) {
			t->v[k] = derived[k];
		}
	}
}

static const char *origin(const struct timing *t, enum timing_key k) {
	return t->from_defaults[k] ? " (set in defaults)" : "";
}

/* The rules between keys: jitter stays within half an interval, and a check is only called
 * stale once a whole round (longest interval, timeout, jitter) has been missed. */
static bool check_timing(
		const struct vh_config_reader *r, const char *path, const struct timing *t) {
	char a[VH_CONFIG_DURATION_LEN], b[VH_CONFIG_DURATION_LEN], c[VH_CONFIG_DURATION_LEN];
	char d[VH_CONFIG_DURATION_LEN], got[VH_CONFIG_DURATION_LEN];
	if (t->v[T_JITTER] > t->v[T_INTERVAL] / 2) {
		vh_config_value_format_duration(t->v[T_INTERVAL], a, sizeof(a));
		vh_config_value_format_duration(t->v[T_JITTER], got, sizeof(got));
		return vh_config_read_fail(r, path, "jitter",
				"must be at most half of interval (%s), got %s%s", a, got,
				origin(t, T_JITTER));
	}
	int64_t round = longest_interval(t) + t->v[T_TIMEOUT] + t->v[T_JITTER];
	if (t->v[T_STALE_AFTER] <= round) {
		vh_config_value_format_duration(longest_interval(t), a, sizeof(a));
		vh_config_value_format_duration(t->v[T_TIMEOUT], b, sizeof(b));
		vh_config_value_format_duration(t->v[T_JITTER], c, sizeof(c));
		vh_config_value_format_duration(round, d, sizeof(d));
		vh_config_value_format_duration(t->v[T_STALE_AFTER], got, sizeof(got));
		return vh_config_read_fail(r, path, "stale_after",
				"must be longer than the longest interval + timeout + jitter "
				"(%s + %s + %s = %s), got %s%s",
				a, b, c, d, got, origin(t, T_STALE_AFTER));
	}
	return true;
}

static void apply_timing(struct vh_check_config *check, const struct timing *t) {
	check->interval_ms = t->v[T_INTERVAL];
	check->timeout_ms = t->v[T_TIMEOUT];
	check->fail_interval_ms = t->v[T_FAIL_INTERVAL];
	check->unknown_interval_ms = t->v[T_UNKNOWN_INTERVAL];
	check->initial_delay_ms = t->v[T_INITIAL_DELAY];
	check->jitter_ms = t->v[T_JITTER];
	check->stale_after_ms = t->v[T_STALE_AFTER];
	check->rise = (unsigned)t->v[T_RISE];
	check->fall = (unsigned)t->v[T_FALL];
}

static bool read_check_timing(const struct vh_config_reader *r, const json_t *entry,
		const char *path, const struct timing *defaults, struct vh_check_config *check) {
	struct timing t = {0};
	if (!read_timing(r, entry, path, &t)) {
		return false;
	}
	for (int k = 0; k < T_COUNT; k++) {
		if (!t.set[k] && defaults->set[k]) {
			t.v[k] = defaults->v[k];
			t.set[k] = t.from_defaults[k] = true;
		}
	}
	derive_timing(&t);
	if (!check_timing(r, path, &t)) {
		return false;
	}
	apply_timing(check, &t);
	return true;
}

static bool read_check_name(const struct vh_config_reader *r, const json_t *entry, const char *path,
		const struct vh_config *config, struct vh_check_config *check) {
	const char *name = NULL;
	char got[VH_CONFIG_DESCRIBE_LEN];
	if (!vh_config_read_string(r, entry, path, "name", &name)) {
		return false;
	}
	if (!name) {
		return vh_config_read_fail(r, path, NULL, "missing required key \"name\"");
	}
	const json_t *v = json_object_get(entry, "name");
	if (!is_name(name, "_-", false)) {
		return vh_config_read_fail(r, path, "name",
				"must be 1 to 63 characters of a-z, 0-9, \"_\" or \"-\", got %s",
				vh_config_read_describe(r, v, got, sizeof(got)));
	}
	/* check is the last entry of config->checks, so the ones before it are the earlier ones. */
	for (const struct vh_check_config *other = config->checks; other < check; other++) {
		if (strcmp(other->name, name) == 0) {
			return vh_config_read_fail(r, path, "name", "duplicate check name %s",
					vh_config_read_describe(r, v, got, sizeof(got)));
		}
	}
	snprintf(check->name, sizeof(check->name), "%s", name);
	return true;
}

/* Returns the enum vh_group bit for a group name, or 0 for an unknown one. */
static unsigned group_bit(const char *name) {
	if (strcmp(name, "liveness") == 0) {
		return VH_GROUP_LIVENESS;
	}
	if (strcmp(name, "readiness") == 0) {
		return VH_GROUP_READINESS;
	}
	return 0;
}

static bool read_groups(const struct vh_config_reader *r, const json_t *entry, const char *path,
		unsigned *out) {
	const json_t *v = json_object_get(entry, "groups");
	char item_path[VH_CONFIG_PATH_LEN], got[VH_CONFIG_DESCRIBE_LEN];
	const json_t *item;
	unsigned groups = 0;
	size_t i;
	if (!v) {
		return true;
	}
	if (!json_is_array(v)) {
		return vh_config_read_fail_type(
				r, path, "groups", "an array of \"liveness\" and \"readiness\"", v);
	}
	json_array_foreach(v, i, item) {
		const char *name = json_is_string(item) ? json_string_value(item) : "";
		unsigned bit = group_bit(name);
		vh_config_read_path(item_path, sizeof(item_path), "%s.groups[%zu]", path, i);
		if (!bit) {
			return vh_config_read_fail(r, item_path, NULL,
					"unknown group %s (expected liveness or readiness)",
					vh_config_read_describe(r, item, got, sizeof(got)));
		}
		if (groups & bit) {
			return vh_config_read_fail(r, item_path, NULL, "duplicate group %s",
					vh_config_read_describe(r, item, got, sizeof(got)));
		}
		groups |= bit;
	}
	*out = groups;
	return true;
}

static bool read_check(const struct vh_config_reader *r, const json_t *entry, const char *path,
		const struct timing *defaults, const struct vh_config *config,
		struct vh_check_config *check) {
	check->groups = VH_GROUP_LIVENESS;
	check->critical = true;
	if (!json_is_object(entry)) {
		return vh_config_read_fail_type(r, path, NULL, "an object", entry);
	}
	return vh_config_read_keys(r, entry, path, check_keys, VH_ARRAY_LEN(check_keys)) &&
			read_check_name(r, entry, path, config, check) &&
			vh_config_check_read_type(r, entry, path, check) &&
			read_groups(r, entry, path, &check->groups) &&
			vh_config_read_bool(r, entry, path, "critical", &check->critical) &&
			read_check_timing(r, entry, path, defaults, check) &&
			vh_config_check_read(r, entry, path, check) &&
			vh_config_peers_read_scope(r, entry, path, &config->peers, check);
}

static void init_sidecar(struct vh_check_config *check) {
	struct timing t = {0};
	memset(check, 0, sizeof(*check));
	snprintf(check->name, sizeof(check->name), "%s", VH_CONFIG_SIDECAR_NAME);
	check->type = VH_CHECK_PROCESS;
	check->u.process.target = VH_PROCESS_SELF;
	t.v[T_INTERVAL] = 10 * MS_SECOND;
	t.v[T_TIMEOUT] = MS_SECOND;
	t.set[T_INTERVAL] = t.set[T_TIMEOUT] = true;
	derive_timing(&t);
	apply_timing(check, &t);
}

/* True when check equals the built-in one, as in the output of vh_config_dump(). */
static bool is_sidecar(const struct vh_check_config *check) {
	struct vh_check_config b;
	init_sidecar(&b);
	const struct vh_process_config *p = &check->u.process, *bp = &b.u.process;
	return check->type == b.type && check->groups == b.groups &&
			check->critical == b.critical && check->interval_ms == b.interval_ms &&
			check->timeout_ms == b.timeout_ms &&
			check->fail_interval_ms == b.fail_interval_ms &&
			check->unknown_interval_ms == b.unknown_interval_ms &&
			check->initial_delay_ms == b.initial_delay_ms &&
			check->jitter_ms == b.jitter_ms &&
			check->stale_after_ms == b.stale_after_ms && check->rise == b.rise &&
			check->fall == b.fall && p->target == bp->target &&
			p->rss_warn_bytes == bp->rss_warn_bytes &&
			p->rss_fail_bytes == bp->rss_fail_bytes &&
			p->threads_warn == bp->threads_warn && p->threads_fail == bp->threads_fail;
}

static bool names_sidecar(const json_t *entry) {
	const json_t *name = json_object_get(entry, "name");
	return json_is_string(name) && strcmp(json_string_value(name), VH_CONFIG_SIDECAR_NAME) == 0;
}

/* A "sidecar" entry is accepted only as an exact copy of the built-in check, so that the output
 * of vh_config_dump() loads again; it is then dropped and the built-in one appended as always. */
static bool read_checks(const struct vh_config_reader *r, const json_t *root,
		const struct timing *defaults, struct vh_config *config) {
	const json_t *checks = json_object_get(root, "checks"), *entry;
	char path[VH_CONFIG_PATH_LEN];
	size_t i, n_user = 0;
	if (!checks) {
		return vh_config_read_fail(r, "checks", NULL, "missing (give [] for no checks)");
	}
	if (!json_is_array(checks)) {
		return vh_config_read_fail_type(r, "checks", NULL, "an array", checks);
	}
	json_array_foreach(checks, i, entry) {
		n_user += !names_sidecar(entry);
	}
	if (n_user > VH_CONFIG_CHECKS_MAX) {
		return vh_config_read_fail(r, "checks", NULL,
				"at most %d checks are allowed, got %zu", VH_CONFIG_CHECKS_MAX,
				n_user);
	}
	config->checks = calloc(json_array_size(checks) + 1, sizeof(*config->checks));
	if (!config->checks) {
		return vh_config_read_fail_oom(r);
	}
	json_array_foreach(checks, i, entry) {
		struct vh_check_config *check = &config->checks[config->n_checks++];
		bool reserved = names_sidecar(entry);
		vh_config_read_path(path, sizeof(path), "checks[%zu]", i);
		bool ok = read_check(r, entry, path, defaults, config, check);
		if (reserved && (!ok || !is_sidecar(check))) {
			/* Whatever else is wrong with it, the name is what has to change. */
			return vh_config_read_fail(r, path, "name",
					"\"sidecar\" is reserved for the built-in check");
		}
		if (!ok) {
			return false;
		}
		if (reserved) {
			vh_config_check_free(check);
			memset(check, 0, sizeof(*check));
			config->n_checks--;
		}
	}
	init_sidecar(&config->checks[config->n_checks++]);
	return true;
}

static bool read_nameservers(
		const struct vh_config_reader *r, const json_t *dns, struct vh_dns_config *d) {
	const json_t *v = json_object_get(dns, "nameservers"), *item;
	char item_path[VH_CONFIG_PATH_LEN], msg[256], got[VH_CONFIG_DESCRIBE_LEN];
	size_t i;
	if (!v) {
		return true;
	}
	if (!json_is_array(v) || json_array_size(v) > VH_CONFIG_NAMESERVERS_MAX) {
		return vh_config_read_fail_type(r, "dns", "nameservers",
				"an array of at most 4 numeric addresses", v);
	}
	json_array_foreach(v, i, item) {
		vh_config_read_path(item_path, sizeof(item_path), "dns.nameservers[%zu]", i);
		if (!json_is_string(item)) {
			return vh_config_read_fail_type(
					r, item_path, NULL, "a numeric address string", item);
		}
		const char *text = json_string_value(item);
		if (!vh_config_value_check_nameserver(text, msg, sizeof(msg))) {
			return vh_config_read_fail(r, item_path, NULL, "%s, got %s", msg,
					vh_config_read_describe(r, item, got, sizeof(got)));
		}
		for (size_t k = 0; k < d->n_nameservers; k++) {
			if (strcmp(d->nameservers[k], text) == 0) {
				return vh_config_read_fail(r, item_path, NULL,
						"duplicate nameserver %s",
						vh_config_read_describe(r, item, got, sizeof(got)));
			}
		}
		snprintf(d->nameservers[d->n_nameservers++], sizeof(d->nameservers[0]), "%s", text);
	}
	return true;
}

/* Every key has a default, so a file without "dns" gets them too. */
static bool read_dns(
		const struct vh_config_reader *r, const json_t *root, struct vh_dns_config *d) {
	const json_t *dns = json_object_get(root, "dns");
	int64_t attempts = 2;
	d->timeout_ms = 2 * MS_SECOND;
	if (dns && !json_is_object(dns)) {
		return vh_config_read_fail_type(r, "dns", NULL, "an object", dns);
	}
	if (!vh_config_read_keys(r, dns, "dns", dns_keys, VH_ARRAY_LEN(dns_keys)) ||
			!read_nameservers(r, dns, d) ||
			!vh_config_read_duration(r, dns, "dns", "timeout", 100, 30 * MS_SECOND,
					&d->timeout_ms) ||
			!vh_config_read_int(r, dns, "dns", "attempts", 1, 5, &attempts)) {
		return false;
	}
	d->attempts = (unsigned)attempts;
	return true;
}

/* Each entry costs about 300 bytes per check; 1000 of each for 65 checks is about 40 MiB, the
 * most anyone should ask of a sidecar. */
static bool read_history(
		const struct vh_config_reader *r, const json_t *root, struct vh_history_config *h) {
	const json_t *history = json_object_get(root, "history");
	int64_t results = 32, transitions = 32;
	if (history && !json_is_object(history)) {
		return vh_config_read_fail_type(r, "history", NULL, "an object", history);
	}
	if (!vh_config_read_keys(r, history, "history", history_keys, VH_ARRAY_LEN(history_keys)) ||
			!vh_config_read_int(r, history, "history", "results", 1, 1000, &results) ||
			!vh_config_read_int(r, history, "history", "transitions", 1, 1000,
					&transitions)) {
		return false;
	}
	h->results = (unsigned)results;
	h->transitions = (unsigned)transitions;
	return true;
}

/* RFC 6750's token68: what a client can send after "Bearer " without quoting. */
static bool valid_token(const char *token) {
	size_t len = strlen(token),
	       n = strspn(token,
			       "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
			       "0123456789-._~+/");
	if (len < VH_CONFIG_TOKEN_MIN || len > VH_CONFIG_TOKEN_MAX || n == 0) {
		return false;
	}
	return strspn(token + n, "=") == len - n;
}

static const char token_rule[] = "must be one token of 16 to 256 characters of A-Z, a-z, 0-9 "
				 "and -._~+/ (= only at the end)";

/* Read at load and at every reload, so a rotated token takes effect on SIGHUP. */
static bool read_token_file(
		const struct vh_config_reader *r, const char *path, struct vh_access_config *a) {
	char buf[VH_CONFIG_TOKEN_MAX + 8];
	FILE *f = fopen(path, "re");
	if (!f) {
		return vh_config_read_fail(
				r, NULL, "token_file", "cannot read %s: %s", path, strerror(errno));
	}
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* One line, as `echo TOKEN > FILE` or a Kubernetes Secret writes it. */
	while (n > 0 && strchr("\r\n \t", buf[n - 1])) {
		buf[--n] = '\0';
	}
	bool ok = n < sizeof(buf) - 1 && valid_token(buf);
	if (ok) {
		memcpy(a->token, buf, n + 1); /* n <= VH_CONFIG_TOKEN_MAX, as valid_token() says */
	}
	memset(buf, 0, sizeof(buf));
	return ok || vh_config_read_fail(r, NULL, "token_file", "%s %s", path, token_rule);
}

/* The token is a secret like a password: only from the environment or a file, never quoted. */
static bool read_token(
		const struct vh_config_reader *r, const json_t *root, struct vh_access_config *a) {
	const json_t *v = json_object_get(root, "token");
	if (!json_is_string(v)) {
		return vh_config_read_fail(r, NULL, "token", "expected a string");
	}
	const char *token = json_string_value(v);
	if (!vh_config_read_from_env(r, v, 0, strlen(token))) {
		return vh_config_read_fail(r, NULL, "token",
				"put the token in an environment variable "
				"(\"${VEZA_HEALTH_TOKEN}\") or in token_file, not in the file");
	}
	if (!valid_token(token)) {
		return vh_config_read_fail(r, NULL, "token", "%s", token_rule);
	}
	snprintf(a->token, sizeof(a->token), "%s", token);
	return true;
}

static bool read_access(
		const struct vh_config_reader *r, const json_t *root, struct vh_access_config *a) {
	size_t details = VH_DETAILS_AUTHORIZED;
	const char *token_file = NULL;
	bool has_token = json_object_get(root, "token") != NULL;
	a->trust_loopback = true;
	if (!vh_config_read_choice(r, root, NULL, "details", "details", details_names,
			    VH_ARRAY_LEN(details_names), &details) ||
			!vh_config_read_bool(r, root, NULL, "trust_loopback", &a->trust_loopback) ||
			!vh_config_read_string(r, root, NULL, "token_file", &token_file)) {
		return false;
	}
	a->details = (enum vh_details)details;
	if (has_token && token_file) {
		return vh_config_read_fail(r, NULL, "token", "give token or token_file, not both");
	}
	if ((has_token || token_file) && a->details != VH_DETAILS_AUTHORIZED) {
		return vh_config_read_fail(r, NULL, has_token ? "token" : "token_file",
				"is only used with \"details\": \"authorized\"");
	}
	if (token_file) {
		snprintf(a->token_file, sizeof(a->token_file), "%s", token_file);
		return read_token_file(r, token_file, a);
	}
	return !has_token || read_token(r, root, a);
}

static bool read_config(
		const struct vh_config_reader *r, const json_t *root, struct vh_config *config) {
	struct timing defaults = {0};
	if (!vh_config_read_keys(r, root, NULL, top_keys, VH_ARRAY_LEN(top_keys)) ||
			!read_service(r, root, config) || !read_listen(r, root, config) ||
			!read_dns(r, root, &config->dns) ||
			!read_history(r, root, &config->history) ||
			!vh_config_read_duration(r, root, NULL, "shutdown_delay", 0,
					10 * 60 * MS_SECOND, &config->shutdown_delay_ms) ||
			!read_access(r, root, &config->access) ||
			!vh_config_peers_read(r, root, config) ||
			!read_defaults(r, root, &defaults) ||
			!read_checks(r, root, &defaults, config)) {
		return false;
	}
	for (size_t i = 0; i < config->n_checks; i++) {
		config->checks[i].history = config->history;
	}
	return true;
}

struct vh_config *vh_config_load(const char *path, char *err, size_t err_len) {
	struct vh_config_env env = {0};
	struct vh_config_reader r = {path, err, err_len, &env};
	struct vh_config *config = calloc(1, sizeof(*config));
	json_t *root = NULL;
	if (!config || !(config->path = strdup(path))) {
		vh_config_read_fail_oom(&r);
		goto error;
	}
	root = vh_config_read_file(&r);
	if (!root || !vh_config_read_expand_env(&r, root) || !read_config(&r, root, config)) {
		goto error;
	}
	json_decref(root);
	vh_config_read_env_finish(&env);
	return config;

error:
	json_decref(root);
	vh_config_read_env_finish(&env);
	vh_config_destroy(config);
	return NULL;
}

void vh_config_destroy(struct vh_config *config) {
	if (!config) {
		return;
	}
	for (size_t i = 0; i < config->n_checks; i++) {
		vh_config_check_free(&config->checks[i]);
	}
	free(config->checks);
	free(config->path);
	memset(config->access.token, 0, sizeof(config->access.token));
	free(config);
}
