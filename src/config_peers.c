/* config_peers.c - reads the "peers" section and each check's "scope". */
#include "vh/config_peers.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MS_SECOND INT64_C(1000)

static const char *const peers_keys[] = {"dns", "addresses", "port", "interval", "timeout",
		"refresh", "sample", "panic_threshold", "panic_mode"};
static const char *const panic_names[] = {"serve", "unready"};
static const char *const scope_names[] = {"local", "shared"};

static bool read_addresses(
		const struct vh_config_reader *r, const json_t *peers, struct vh_peers_config *p) {
	const json_t *list = json_object_get(peers, "addresses"), *item;
	char path[VH_CONFIG_PATH_LEN], why[160], got[VH_CONFIG_DESCRIBE_LEN];
	size_t i;
	if (!json_is_array(list)) {
		return vh_config_read_fail_type(
				r, "peers", "addresses", "an array of \"HOST:PORT\" strings", list);
	}
	if (json_array_size(list) > VH_CONFIG_PEER_ADDRESSES_MAX) {
		return vh_config_read_fail(r, "peers", "addresses",
				"at most %d addresses are allowed, got %zu (use \"dns\" for a "
				"larger "
				"fleet)",
				VH_CONFIG_PEER_ADDRESSES_MAX, json_array_size(list));
	}
	json_array_foreach(list, i, item) {
		vh_config_read_path(path, sizeof(path), "peers.addresses[%zu]", i);
		if (!json_is_string(item)) {
			return vh_config_read_fail_type(
					r, path, NULL, "a \"HOST:PORT\" string", item);
		}
		struct vh_peer_address *a = &p->addresses[p->n_addresses];
		if (!vh_config_value_parse_peer_address(
				    json_string_value(item), a, why, sizeof(why))) {
			return vh_config_read_fail(r, path, NULL, "%s, got %s", why,
					vh_config_read_describe(r, item, got, sizeof(got)));
		}
		p->n_addresses++;
	}
	return true;
}

static bool read_target(
		const struct vh_config_reader *r, const json_t *peers, struct vh_peers_config *p) {
	const char *dns = NULL;
	bool has_dns = json_object_get(peers, "dns") != NULL;
	bool has_addresses = json_object_get(peers, "addresses") != NULL;
	if (has_dns == has_addresses) {
		return vh_config_read_fail(r, "peers", NULL,
				"give exactly one of \"dns\" (a name that resolves to every "
				"replica) "
				"and \"addresses\" (a list of \"HOST:PORT\")");
	}
	if (has_addresses) {
		return read_addresses(r, peers, p);
	}
	if (!vh_config_read_string(r, peers, "peers", "dns", &dns)) {
		return false;
	}
	const char *problem = vh_config_value_host_problem(dns);
	if (problem) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, "peers", "dns", "%s, got %s", problem,
				vh_config_read_describe(r, json_object_get(peers, "dns"), got,
						sizeof(got)));
	}
	snprintf(p->dns, sizeof(p->dns), "%s", dns);
	return true;
}

static bool read_numbers(
		const struct vh_config_reader *r, const json_t *peers, struct vh_peers_config *p) {
	int64_t port = p->port, sample = p->sample;
	p->port_from_listen = !json_object_get(peers, "port");
	size_t mode = VH_PANIC_SERVE;
	if (!vh_config_read_int(r, peers, "peers", "port", 1, 65535, &port) ||
			!vh_config_read_duration(r, peers, "peers", "interval", 50, 60 * MS_SECOND,
					&p->interval_ms) ||
			!vh_config_read_duration(r, peers, "peers", "timeout", 10, 30 * MS_SECOND,
					&p->timeout_ms) ||
			!vh_config_read_duration(r, peers, "peers", "refresh", 100,
					3600 * MS_SECOND, &p->refresh_ms) ||
			!vh_config_read_int(r, peers, "peers", "sample", 1, 256, &sample) ||
			!vh_config_read_percent(r, peers, "peers", "panic_threshold",
					&p->panic_threshold) ||
			!vh_config_read_choice(r, peers, "peers", "panic_mode", "panic_mode",
					panic_names, VH_ARRAY_LEN(panic_names), &mode)) {
		return false;
	}
	/* A round must be over before the next begins, or a slow peer would be asked twice. */
	if (p->timeout_ms >= p->interval_ms) {
		return vh_config_read_fail(r, "peers", "timeout",
				"must be shorter than peers.interval (%lld ms), got %lld ms",
				(long long)p->interval_ms, (long long)p->timeout_ms);
	}
	if (p->panic_threshold <= 0) {
		return vh_config_read_fail(r, "peers", "panic_threshold",
				"must be above 0 (a threshold of 0 would call every failure "
				"shared)");
	}
	p->port = (unsigned)port;
	p->sample = (unsigned)sample;
	p->panic_mode = (enum vh_panic_mode)mode;
	return true;
}

bool vh_config_peers_read(
		const struct vh_config_reader *r, const json_t *root, struct vh_config *config) {
	const json_t *peers = json_object_get(root, "peers");
	struct vh_peers_config *p = &config->peers;
	memset(p, 0, sizeof(*p));
	if (!peers) {
		return true;
	}
	if (!json_is_object(peers)) {
		return vh_config_read_fail_type(r, "peers", NULL, "an object", peers);
	}
	p->enabled = true;
	p->port = config->listen[0].port;
	p->interval_ms = MS_SECOND;
	p->timeout_ms = MS_SECOND / 2;
	p->refresh_ms = 10 * MS_SECOND;
	p->sample = 16;
	p->panic_threshold = 50;
	p->panic_mode = VH_PANIC_SERVE;
	return vh_config_read_keys(r, peers, "peers", peers_keys, VH_ARRAY_LEN(peers_keys)) &&
			read_target(r, peers, p) && read_numbers(r, peers, p);
}

static bool is_dependency(enum vh_check_type type) {
	return type == VH_CHECK_POSTGRES || type == VH_CHECK_REDIS || type == VH_CHECK_TCP ||
			type == VH_CHECK_HTTP;
}

/* 127.0.0.0/8, ::1, "localhost" or a unix socket path: the pod itself. */
static bool is_local_host(const char *host) {
	if (!host || !host[0]) {
		return false; /* libpq's environment decides; assume the usual remote database */
	}
	return host[0] == '/' || strncmp(host, "127.", 4) == 0 || strcmp(host, "::1") == 0 ||
			strcmp(host, "[::1]") == 0 || strcasecmp(host, "localhost") == 0;
}

static const char *pg_host(const struct vh_postgres_config *p) {
	const char *host = NULL;
	for (size_t i = 0; i < p->n_params; i++) {
		bool is_host = strcmp(p->keywords[i], "host") == 0;
		if (is_host || (!host && strcmp(p->keywords[i], "hostaddr") == 0)) {
			host = p->values[i];
		}
	}
	return host;
}

/* The host of "http://HOST[:PORT]/...", copied into buf. */
static const char *url_host(const char *url, char *buf, size_t len) {
	const char *start = strstr(url, "://");
	start = start ? start + 3 : url;
	size_t n = strcspn(start, "/?#");
	const char *colon = memchr(start, ':', n);
	if (start[0] == '[') {
		const char *end = memchr(start, ']', n);
		n = end ? (size_t)(end - start + 1) : n;
	} else if (colon) {
		n = (size_t)(colon - start);
	}
	snprintf(buf, len, "%.*s", (int)n, start);
	return buf;
}

static bool targets_this_pod(const struct vh_check_config *check) {
	char host[300];
	switch (check->type) {
	case VH_CHECK_POSTGRES:
		return is_local_host(pg_host(&check->u.postgres));
	case VH_CHECK_REDIS:
		return check->u.redis.unix_path || is_local_host(check->u.redis.host);
	case VH_CHECK_TCP:
		return is_local_host(check->u.tcp.host);
	case VH_CHECK_HTTP:
		return is_local_host(url_host(check->u.http.url, host, sizeof(host)));
	case VH_CHECK_PROCESS:
	case VH_CHECK_CGROUP:
		break;
	}
	return true;
}

bool vh_config_peers_read_scope(const struct vh_config_reader *r, const json_t *entry,
		const char *path, const struct vh_peers_config *peers,
		struct vh_check_config *check) {
	size_t scope = peers->enabled && is_dependency(check->type) && !targets_this_pod(check)
			? VH_SCOPE_SHARED
			: VH_SCOPE_LOCAL;
	if (!vh_config_read_choice(r, entry, path, "scope", "scope", scope_names,
			    VH_ARRAY_LEN(scope_names), &scope)) {
		return false;
	}
	if (scope == VH_SCOPE_SHARED && !is_dependency(check->type)) {
		return vh_config_read_fail(r, path, "scope",
				"a %s check watches this replica alone, so it is always \"local\"",
				vh_check_type_name(check->type));
	}
	if (scope == VH_SCOPE_SHARED && !peers->enabled) {
		return vh_config_read_fail(r, path, "scope",
				"\"shared\" needs a top-level \"peers\" to ask the other replicas");
	}
	check->scope = (enum vh_scope)scope;
	return true;
}
