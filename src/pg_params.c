/* pg_params.c - libpq settings with hostaddr filled in, so that libpq never looks a name up. */
#include "vh/pg_params.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HOSTS_MAX 16
/* host, hostaddr, port, fallback_application_name, gssencmode, keepalives, and the NULL. */
#define EXTRA_PARAMS 7
#define ADDR_MAX 64
#define SECRETS_MAX 2

struct pg_host {
	char *name; /* a name or numeric address; "", "/dir" or "@abstract" is a socket */
	char *port; /* its own entry when "port" lists one per host, else NULL */
	bool needs_lookup;
	bool resolved;
	char addr[ADDR_MAX];
};

struct vh_pg_params {
	const struct vh_postgres_config *config;
	size_t n_hosts;
	struct pg_host hosts[HOSTS_MAX];
	bool per_host_ports;
	char *host_list;
	char *addr_list;
	char *port_list;
	const char **keywords;
	const char **values;
	char *secrets[SECRETS_MAX];
	size_t n_secrets;
};

static bool is_key(const char *key, const char *name) {
	return strcmp(key, name) == 0;
}

/* libpq ignores empty values as if they were not given, and so do we. */
static const char *config_param(const struct vh_postgres_config *config, const char *key) {
	for (size_t i = 0; i < config->n_params; i++) {
		if (is_key(config->keywords[i], key) && config->values[i][0]) {
			return config->values[i];
		}
	}
	return NULL;
}

static const char *default_value(const PQconninfoOption *defaults, const char *key) {
	for (const PQconninfoOption *o = defaults; o && o->keyword; o++) {
		if (is_key(o->keyword, key)) {
			return o->val && o->val[0] ? o->val : NULL;
		}
	}
	return NULL;
}

/* libpq has no call that shows a service file's settings without connecting, but
 * PQconndefaults() reads the service PGSERVICE names; so a configured "service" is named
 * there for the call. This runs at start-up, on the daemon's only thread. */
static PQconninfoOption *conndefaults(const char *service) {
	if (!service) {
		return PQconndefaults();
	}
	const char *old = getenv("PGSERVICE");
	char *saved = old ? strdup(old) : NULL;
	if (old && !saved) {
		return NULL;
	}
	PQconninfoOption *defaults = NULL;
	if (setenv("PGSERVICE", service, 1) == 0) {
		defaults = PQconndefaults();
	}
	if (saved) {
		setenv("PGSERVICE", saved, 1);
		free(saved);
	} else {
		unsetenv("PGSERVICE");
	}
	return defaults;
}

static bool add_secret(struct vh_pg_params *params, const char *secret) {
	if (!secret || !secret[0] || params->n_secrets >= SECRETS_MAX) {
		return true;
	}
	params->secrets[params->n_secrets] = strdup(secret);
	return params->secrets[params->n_secrets++] != NULL;
}

static void free_list(char **list, size_t n) {
	for (size_t i = 0; i < n; i++) {
		free(list[i]);
	}
}

/* Splits a comma-separated libpq list into at most max copies; returns the count, or -1 (with
 * nothing kept) when there are too many entries or memory runs out. */
static int split_list(const char *list, char **out, size_t max) {
	size_t n = 0;
	const char *p = list;
	for (;;) {
		size_t len = strcspn(p, ",");
		if (n >= max || !(out[n] = strndup(p, len))) {
			free_list(out, n);
			return -1;
		}
		n++;
		if (p[len] != ',') {
			return (int)n;
		}
		p += len + 1;
	}
}

static void forget_hosts(struct vh_pg_params *params) {
	for (size_t i = 0; i < params->n_hosts; i++) {
		free(params->hosts[i].name);
		free(params->hosts[i].port);
	}
	params->n_hosts = 0;
	params->per_host_ports = false;
}

/* Takes a per-host port list when it has one entry per host; any other list goes to libpq as
 * it is (a single port applies to every host; a mismatch is libpq's error to report). */
static size_t take_ports(struct vh_pg_params *params, const char *port) {
	char *ports[HOSTS_MAX];
	int n_ports = port ? split_list(port, ports, HOSTS_MAX) : 0;
	size_t len = 0;
	if (n_ports > 1 && (size_t)n_ports == params->n_hosts) {
		params->per_host_ports = true;
		for (int i = 0; i < n_ports; i++) {
			params->hosts[i].port = ports[i];
			len += strlen(ports[i]) + 1;
		}
	} else if (n_ports > 0) {
		free_list(ports, (size_t)n_ports);
	}
	return len;
}

/* Finds the hosts we must resolve from the effective settings. A set hostaddr, or hosts that are
 * all socket directories (or none at all), leave the settings to libpq as they are. */
static bool load_hosts(struct vh_pg_params *params, const PQconninfoOption *defaults, char *err,
		size_t err_len) {
	const struct vh_postgres_config *config = params->config;
	const char *host = config_param(config, "host");
	const char *hostaddr = config_param(config, "hostaddr");
	const char *port = config_param(config, "port");
	host = host ? host : default_value(defaults, "host");
	hostaddr = hostaddr ? hostaddr : default_value(defaults, "hostaddr");
	port = port ? port : default_value(defaults, "port");
	if (!host || hostaddr) {
		return true;
	}
	char *names[HOSTS_MAX];
	int n_names = split_list(host, names, HOSTS_MAX);
	if (n_names < 0) {
		snprintf(err, err_len, "host: at most %d hosts are supported", HOSTS_MAX);
		return false;
	}
	bool any_lookup = false;
	size_t len = 0;
	for (int i = 0; i < n_names; i++) {
		struct pg_host *h = &params->hosts[i];
		h->name = names[i];
		h->needs_lookup = names[i][0] && names[i][0] != '/' && names[i][0] != '@';
		any_lookup = any_lookup || h->needs_lookup;
		len += strlen(names[i]) + 1;
	}
	params->n_hosts = (size_t)n_names;
	if (!any_lookup) {
		forget_hosts(params);
		return true;
	}
	len += take_ports(params, port);
	params->host_list = calloc(1, len + 1);
	params->port_list = calloc(1, len + 1);
	params->addr_list = calloc(params->n_hosts, ADDR_MAX + 1);
	if (!params->host_list || !params->port_list || !params->addr_list) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	return true;
}

struct vh_pg_params *vh_pg_params_create(
		const struct vh_postgres_config *config, char *err, size_t err_len) {
	PQconninfoOption *defaults = NULL;
	err[0] = '\0';
	struct vh_pg_params *params = calloc(1, sizeof(*params));
	if (!params) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	params->config = config;
	params->keywords = calloc(config->n_params + EXTRA_PARAMS, sizeof(*params->keywords));
	params->values = calloc(config->n_params + EXTRA_PARAMS, sizeof(*params->values));
	defaults = conndefaults(config_param(config, "service"));
	if (!params->keywords || !params->values || !defaults) {
		goto error;
	}
	/* The password may come from the config, PGPASSWORD or the service file. */
	if (!add_secret(params, config_param(config, "password")) ||
			!add_secret(params, default_value(defaults, "password")) ||
			!load_hosts(params, defaults, err, err_len)) {
		goto error;
	}
	PQconninfoFree(defaults);
	return params;

error:
	if (!err[0]) {
		snprintf(err, err_len, "out of memory");
	}
	PQconninfoFree(defaults);
	vh_pg_params_destroy(params);
	return NULL;
}

void vh_pg_params_destroy(struct vh_pg_params *params) {
	if (!params) {
		return;
	}
	forget_hosts(params);
	for (size_t i = 0; i < params->n_secrets; i++) {
		free(params->secrets[i]);
	}
	free(params->host_list);
	free(params->addr_list);
	free(params->port_list);
	free(params->keywords);
	free(params->values);
	free(params);
}

size_t vh_pg_params_hosts(const struct vh_pg_params *params) {
	return params->n_hosts;
}

const char *vh_pg_params_lookup_name(const struct vh_pg_params *params, size_t i) {
	return i < params->n_hosts && params->hosts[i].needs_lookup ? params->hosts[i].name : NULL;
}

void vh_pg_params_clear_addrs(struct vh_pg_params *params) {
	for (size_t i = 0; i < params->n_hosts; i++) {
		params->hosts[i].resolved = false;
	}
}

void vh_pg_params_set_addr(struct vh_pg_params *params, size_t i, const char *addr) {
	if (i < params->n_hosts && addr) {
		snprintf(params->hosts[i].addr, sizeof(params->hosts[i].addr), "%s", addr);
		params->hosts[i].resolved = true;
	}
}

static void list_add(char *buf, bool *first, const char *text) {
	if (!*first) {
		strcat(buf, ",");
	}
	strcat(buf, text);
	*first = false;
}

/* Builds host, hostaddr and (per-host) port lists from the hosts that resolved, skipping the
 * others as libpq would skip a host it cannot resolve. Returns false when none did. */
static bool join_hosts(struct vh_pg_params *params) {
	bool first_host = true;
	bool first_addr = true;
	bool first_port = true;
	params->host_list[0] = '\0';
	params->addr_list[0] = '\0';
	params->port_list[0] = '\0';
	for (size_t i = 0; i < params->n_hosts; i++) {
		const struct pg_host *host = &params->hosts[i];
		if (host->needs_lookup && !host->resolved) {
			continue;
		}
		list_add(params->host_list, &first_host, host->name);
		/* An empty hostaddr entry leaves a socket directory to libpq. */
		list_add(params->addr_list, &first_addr, host->needs_lookup ? host->addr : "");
		if (params->per_host_ports) {
			list_add(params->port_list, &first_port, host->port);
		}
	}
	return !first_host;
}

static void add_param(struct vh_pg_params *params, size_t *n, const char *key, const char *value) {
	params->keywords[*n] = key;
	params->values[*n] = value;
	(*n)++;
}

bool vh_pg_params_build(struct vh_pg_params *params, const char *const **keywords,
		const char *const **values) {
	const struct vh_postgres_config *config = params->config;
	bool rewrite = params->n_hosts > 0;
	size_t n = 0;
	if (rewrite && !join_hosts(params)) {
		return false;
	}
	for (size_t i = 0; i < config->n_params; i++) {
		const char *key = config->keywords[i];
		if (rewrite &&
				(is_key(key, "host") || is_key(key, "hostaddr") ||
						(params->per_host_ports && is_key(key, "port")))) {
			continue;
		}
		add_param(params, &n, key, config->values[i]);
	}
	if (rewrite) {
		add_param(params, &n, "host", params->host_list);
		add_param(params, &n, "hostaddr", params->addr_list);
		if (params->per_host_ports) {
			add_param(params, &n, "port", params->port_list);
		}
	}
	/* application_name from params, PGAPPNAME or a service file still wins. */
	if (!config_param(config, "fallback_application_name")) {
		add_param(params, &n, "fallback_application_name", "veza-health");
	}
	/* GSS encryption is tried first by default; that costs a round trip, and a Kerberos
	 * library may look names up on a blocking call. */
	if (!config_param(config, "gssencmode") && !getenv("PGGSSENCMODE")) {
		add_param(params, &n, "gssencmode", "disable");
	}
	if (!config_param(config, "keepalives")) {
		add_param(params, &n, "keepalives", "1");
	}
	params->keywords[n] = NULL;
	params->values[n] = NULL;
	*keywords = params->keywords;
	*values = params->values;
	return true;
}

const char *const *vh_pg_params_secrets(const struct vh_pg_params *params, size_t *n) {
	*n = params->n_secrets;
	return (const char *const *)params->secrets;
}
