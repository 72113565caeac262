/* config_compare.c - what a reload compares and copies: check configs, and the fixed settings. */
#include "vh/config_compare.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/config_check.h"

/* Strings of a check's config may be NULL ("not set"). */
static bool same_text(const char *a, const char *b) {
	if (!a || !b) {
		return a == b;
	}
	return strcmp(a, b) == 0;
}

static bool same_backoff(const struct vh_backoff_config *a, const struct vh_backoff_config *b) {
	return a->initial_ms == b->initial_ms && a->max_ms == b->max_ms;
}

static bool same_process(const struct vh_process_config *a, const struct vh_process_config *b) {
	return a->target == b->target && a->pid == b->pid && same_text(a->pidfile, b->pidfile) &&
			same_text(a->comm, b->comm) && same_text(a->cmdline, b->cmdline) &&
			a->rss_warn_bytes == b->rss_warn_bytes &&
			a->rss_fail_bytes == b->rss_fail_bytes &&
			a->threads_warn == b->threads_warn && a->threads_fail == b->threads_fail;
}

static bool same_cgroup(const struct vh_cgroup_config *a, const struct vh_cgroup_config *b) {
	return same_text(a->path, b->path) && a->memory_warn_percent == b->memory_warn_percent &&
			a->memory_fail_percent == b->memory_fail_percent &&
			a->pressure_warn == b->pressure_warn &&
			a->pressure_fail == b->pressure_fail && a->oom_kill == b->oom_kill;
}

static bool same_postgres(const struct vh_postgres_config *a, const struct vh_postgres_config *b) {
	if (a->n_params != b->n_params) {
		return false;
	}
	for (size_t i = 0; i < a->n_params; i++) {
		if (!same_text(a->keywords[i], b->keywords[i]) ||
				!same_text(a->values[i], b->values[i])) {
			return false;
		}
	}
	return a->role == b->role && a->per_check_connection == b->per_check_connection &&
			a->reconnect_after_ms == b->reconnect_after_ms && a->stats == b->stats &&
			a->connections_warn_percent == b->connections_warn_percent &&
			a->connections_fail_percent == b->connections_fail_percent &&
			same_backoff(&a->backoff, &b->backoff);
}

static bool same_redis(const struct vh_redis_config *a, const struct vh_redis_config *b) {
	return same_text(a->host, b->host) && a->port == b->port &&
			same_text(a->unix_path, b->unix_path) &&
			same_text(a->username, b->username) &&
			same_text(a->password, b->password) && a->db == b->db &&
			a->role == b->role && a->stats == b->stats &&
			a->memory_warn_percent == b->memory_warn_percent &&
			a->memory_fail_percent == b->memory_fail_percent &&
			a->clients_warn == b->clients_warn &&
			same_backoff(&a->backoff, &b->backoff);
}

static bool same_http(const struct vh_http_check_config *a, const struct vh_http_check_config *b) {
	return same_text(a->url, b->url) && a->status_min == b->status_min &&
			a->status_max == b->status_max &&
			same_text(a->body_contains, b->body_contains) &&
			a->max_body_bytes == b->max_body_bytes;
}

static bool same_type_settings(const struct vh_check_config *a, const struct vh_check_config *b) {
	switch (a->type) {
	case VH_CHECK_PROCESS:
		return same_process(&a->u.process, &b->u.process);
	case VH_CHECK_CGROUP:
		return same_cgroup(&a->u.cgroup, &b->u.cgroup);
	case VH_CHECK_POSTGRES:
		return same_postgres(&a->u.postgres, &b->u.postgres);
	case VH_CHECK_REDIS:
		return same_redis(&a->u.redis, &b->u.redis);
	case VH_CHECK_TCP:
		return same_text(a->u.tcp.host, b->u.tcp.host) && a->u.tcp.port == b->u.tcp.port;
	case VH_CHECK_HTTP:
		return same_http(&a->u.http, &b->u.http);
	}
	return false;
}

bool vh_config_check_equal(const struct vh_check_config *a, const struct vh_check_config *b) {
	return strcmp(a->name, b->name) == 0 && a->type == b->type && a->scope == b->scope &&
			a->groups == b->groups && a->critical == b->critical &&
			a->interval_ms == b->interval_ms &&
			a->fail_interval_ms == b->fail_interval_ms &&
			a->unknown_interval_ms == b->unknown_interval_ms &&
			a->timeout_ms == b->timeout_ms &&
			a->initial_delay_ms == b->initial_delay_ms &&
			a->jitter_ms == b->jitter_ms && a->stale_after_ms == b->stale_after_ms &&
			a->rise == b->rise && a->fall == b->fall &&
			a->history.results == b->history.results &&
			a->history.transitions == b->history.transitions &&
			same_type_settings(a, b);
}

/* Copies a string that may be NULL; false only when out of memory. */
static bool copy_text(char **dst, const char *src) {
	*dst = src ? strdup(src) : NULL;
	return !src || *dst;
}

static bool copy_postgres(struct vh_postgres_config *dst, const struct vh_postgres_config *src) {
	size_t n = src->n_params;
	dst->n_params = 0;
	dst->keywords = calloc(n + 1, sizeof(*dst->keywords));
	dst->values = calloc(n + 1, sizeof(*dst->values));
	if (!dst->keywords || !dst->values) {
		return false;
	}
	/* n_params counts what is filled in, so a half-made copy frees cleanly. */
	for (; dst->n_params < n; dst->n_params++) {
		size_t i = dst->n_params;
		if (!copy_text(&dst->keywords[i], src->keywords[i]) ||
				!copy_text(&dst->values[i], src->values[i])) {
			dst->n_params++;
			return false;
		}
	}
	return true;
}

static bool copy_type_settings(struct vh_check_config *dst, const struct vh_check_config *src) {
	switch (src->type) {
	case VH_CHECK_PROCESS:
		return copy_text(&dst->u.process.pidfile, src->u.process.pidfile) &&
				copy_text(&dst->u.process.comm, src->u.process.comm) &&
				copy_text(&dst->u.process.cmdline, src->u.process.cmdline);
	case VH_CHECK_CGROUP:
		return copy_text(&dst->u.cgroup.path, src->u.cgroup.path);
	case VH_CHECK_POSTGRES:
		return copy_postgres(&dst->u.postgres, &src->u.postgres);
	case VH_CHECK_REDIS:
		return copy_text(&dst->u.redis.host, src->u.redis.host) &&
				copy_text(&dst->u.redis.unix_path, src->u.redis.unix_path) &&
				copy_text(&dst->u.redis.username, src->u.redis.username) &&
				copy_text(&dst->u.redis.password, src->u.redis.password);
	case VH_CHECK_TCP:
		return copy_text(&dst->u.tcp.host, src->u.tcp.host);
	case VH_CHECK_HTTP:
		return copy_text(&dst->u.http.url, src->u.http.url) &&
				copy_text(&dst->u.http.body_contains, src->u.http.body_contains);
	}
	return false;
}

bool vh_config_check_copy(struct vh_check_config *dst, const struct vh_check_config *src) {
	*dst = *src;
	/* Clear every pointer the shallow copy shares before filling them in one by one, so a
	 * failure part way leaves nothing that vh_config_check_free() would free twice. */
	switch (src->type) {
	case VH_CHECK_PROCESS:
		dst->u.process.pidfile = dst->u.process.comm = dst->u.process.cmdline = NULL;
		break;
	case VH_CHECK_CGROUP:
		dst->u.cgroup.path = NULL;
		break;
	case VH_CHECK_POSTGRES:
		dst->u.postgres.keywords = dst->u.postgres.values = NULL;
		dst->u.postgres.n_params = 0;
		break;
	case VH_CHECK_REDIS:
		dst->u.redis.host = dst->u.redis.unix_path = NULL;
		dst->u.redis.username = dst->u.redis.password = NULL;
		break;
	case VH_CHECK_TCP:
		dst->u.tcp.host = NULL;
		break;
	case VH_CHECK_HTTP:
		dst->u.http.url = dst->u.http.body_contains = NULL;
		break;
	}
	return copy_type_settings(dst, src);
}

static bool same_listen(const struct vh_config *a, const struct vh_config *b) {
	if (a->n_listen != b->n_listen) {
		return false;
	}
	for (size_t i = 0; i < a->n_listen; i++) {
		if (strcmp(a->listen[i].host, b->listen[i].host) != 0 ||
				a->listen[i].port != b->listen[i].port) {
			return false;
		}
	}
	return true;
}

static bool same_dns(const struct vh_dns_config *a, const struct vh_dns_config *b) {
	if (a->n_nameservers != b->n_nameservers || a->timeout_ms != b->timeout_ms ||
			a->attempts != b->attempts) {
		return false;
	}
	for (size_t i = 0; i < a->n_nameservers; i++) {
		if (strcmp(a->nameservers[i], b->nameservers[i]) != 0) {
			return false;
		}
	}
	return true;
}

static const struct vh_check_config *find_check(const struct vh_config *config, const char *name) {
	for (size_t i = 0; i < config->n_checks; i++) {
		if (strcmp(config->checks[i].name, name) == 0) {
			return &config->checks[i];
		}
	}
	return NULL;
}

static void add_name(char *names, size_t len, const char *name) {
	size_t used = strlen(names);
	snprintf(names + used, len - used, "%s%s", used ? ", " : "", name);
}

size_t vh_config_keep_fixed(
		const struct vh_config *running, struct vh_config *next, char *names, size_t len) {
	size_t n = 0;
	names[0] = '\0';
	if (!same_listen(running, next)) {
		next->n_listen = running->n_listen;
		memcpy(next->listen, running->listen, sizeof(next->listen));
		add_name(names, len, "listen");
		n++;
	}
	if (!same_dns(&running->dns, &next->dns)) {
		next->dns = running->dns;
		add_name(names, len, "dns");
		n++;
	}
	/* The peer poller and the checks' scopes are set up once, with the listeners. */
	if (memcmp(&running->peers, &next->peers, sizeof(next->peers)) != 0) {
		next->peers = running->peers;
		for (size_t i = 0; i < next->n_checks; i++) {
			const struct vh_check_config *old =
					find_check(running, next->checks[i].name);
			next->checks[i].scope = old ? old->scope : VH_SCOPE_LOCAL;
		}
		add_name(names, len, "peers");
		n++;
	}
	if (running->history.results != next->history.results ||
			running->history.transitions != next->history.transitions) {
		next->history = running->history;
		for (size_t i = 0; i < next->n_checks; i++) {
			next->checks[i].history = running->history;
		}
		add_name(names, len, "history");
		n++;
	}
	return n;
}
