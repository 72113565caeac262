/* render_metrics.c - Prometheus text format 0.0.4 from the snapshot; docs/metrics.md is the
 * contract, kept in step by tests/integration/test_metrics.py. */
#include "vh/render_metrics.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/fleet.h"
#include "vh/render.h"

/* A dependency statistic: a measure of one check type exported under a fixed metric name. */
struct measure_metric {
	enum vh_check_type type;
	const char *key; /* vh_measure.key */
	const char *name;
	double scale; /* percent measures become 0-1 ratios */
	const char *help;
};

static const struct measure_metric measure_metrics[] = {
		{VH_CHECK_POSTGRES, "connections_active", "database_connections_active", 1,
				"Backends connected to the checked PostgreSQL database."},
		{VH_CHECK_POSTGRES, "connections_percent",
				"veza_health_postgres_connections_usage_ratio", 0.01,
				"PostgreSQL backends over max_connections, 0 to 1."},
		{VH_CHECK_REDIS, "clients", "redis_connections_active", 1,
				"Clients connected to the checked Redis (connected_clients)."},
		{VH_CHECK_REDIS, "memory_bytes", "redis_memory_usage_bytes", 1,
				"Memory used by the checked Redis (used_memory)."},
		{VH_CHECK_REDIS, "memory_percent", "veza_health_redis_memory_usage_ratio", 0.01,
				"Redis used_memory over maxmemory, 0 to 1."},
		{VH_CHECK_PROCESS, "rss_bytes", "veza_health_process_resident_memory_bytes", 1,
				"Resident memory of the process a process check watches."},
		{VH_CHECK_PROCESS, "threads", "veza_health_process_threads", 1,
				"Threads of the process a process check watches."},
		{VH_CHECK_CGROUP, "memory_bytes", "veza_health_cgroup_memory_bytes", 1,
				"memory.current of the cgroup a cgroup check watches."},
		{VH_CHECK_CGROUP, "memory_percent", "veza_health_cgroup_memory_usage_ratio", 0.01,
				"memory.current over memory.max of the watched cgroup, 0 to 1."},
		{VH_CHECK_CGROUP, "pressure_avg10", "veza_health_cgroup_memory_pressure_ratio",
				0.01,
				"Share of the last 10 s some task of the watched cgroup stalled on "
				"memory."},
};

static const enum vh_status all_statuses[] = {
		VH_STATUS_PASS, VH_STATUS_WARN, VH_STATUS_UNKNOWN, VH_STATUS_FAIL};

static void add_header(struct evbuffer *out, const char *name, const char *type, const char *help) {
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Shortest of %.15g and %.17g that reads back the same, so 0.0005 prints as 0.0005. */
static void add_number(struct evbuffer *out, double value) {
	char text[40];
	if (isnan(value)) {
		evbuffer_add_printf(out, "NaN");
		return;
	}
	if (isinf(value)) {
		evbuffer_add_printf(out, value > 0 ? "+Inf" : "-Inf");
		return;
	}
	snprintf(text, sizeof(text), "%.15g", value);
	if (strtod(text, NULL) != value) {
		snprintf(text, sizeof(text), "%.17g", value);
	}
	evbuffer_add_printf(out, "%s", text);
}

/* A label value: check names and versions need no escaping, but a label value must never be
 * able to break the line, whatever reaches it. */
static void add_label_value(struct evbuffer *out, const char *value) {
	for (const char *p = value; *p; p++) {
		if (*p == '\\' || *p == '"') {
			evbuffer_add_printf(out, "\\%c", *p);
		} else if (*p == '\n') {
			evbuffer_add_printf(out, "\\n");
		} else {
			evbuffer_add(out, p, 1);
		}
	}
}

static void add_check_sample(
		struct evbuffer *out, const char *name, const char *check, double value) {
	evbuffer_add_printf(out, "%s{check=\"", name);
	add_label_value(out, check);
	evbuffer_add_printf(out, "\"} ");
	add_number(out, value);
	evbuffer_add_printf(out, "\n");
}

static void add_u64_family(struct evbuffer *out, const struct vh_snapshot *s, const char *name,
		const char *type, const char *help, size_t offset) {
	add_header(out, name, type, help);
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		uint64_t value;
		memcpy(&value, (const char *)c + offset, sizeof(value));
		add_check_sample(out, name, c->config->name, (double)value);
	}
}

static void add_groups_label(struct evbuffer *out, unsigned groups) {
	const char *text = "";
	if ((groups & VH_GROUP_LIVENESS) && (groups & VH_GROUP_READINESS)) {
		text = "liveness,readiness";
	} else if (groups & VH_GROUP_LIVENESS) {
		text = "liveness";
	} else if (groups & VH_GROUP_READINESS) {
		text = "readiness";
	}
	evbuffer_add_printf(out, "groups=\"%s\"", text);
}

static void add_info(struct evbuffer *out, const struct vh_snapshot *s) {
	add_header(out, "veza_health_check_info", "gauge",
			"Always 1; the type, criticality and groups of each check.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_config *config = s->checks[i].config;
		evbuffer_add_printf(out, "veza_health_check_info{check=\"");
		add_label_value(out, config->name);
		evbuffer_add_printf(out, "\",type=\"%s\",critical=\"%s\",",
				vh_check_type_name(config->type),
				config->critical ? "true" : "false");
		add_groups_label(out, config->groups);
		evbuffer_add_printf(out, "} 1\n");
	}
}

static void add_up_and_status(struct evbuffer *out, const struct vh_snapshot *s) {
	add_header(out, "veza_health_check_up", "gauge",
			"1 while the check passes (or warns) on a fresh result, else 0.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		add_check_sample(out, "veza_health_check_up", c->config->name,
				vh_state_is_up(c, s->now_mono_ms) ? 1 : 0);
	}
	add_header(out, "veza_health_check_status", "gauge",
			"1 for the status /health shows for the check now, 0 for the others.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		enum vh_status now = vh_state_effective(c, s->now_mono_ms);
		for (size_t k = 0; k < VH_ARRAY_LEN(all_statuses); k++) {
			evbuffer_add_printf(out, "veza_health_check_status{check=\"");
			add_label_value(out, c->config->name);
			evbuffer_add_printf(out, "\",status=\"%s\"} %d\n",
					vh_status_name(all_statuses[k]), all_statuses[k] == now);
		}
	}
}

static void add_histogram(struct evbuffer *out, const struct vh_snapshot *s) {
	const char *name = "veza_health_check_duration_seconds";
	add_header(out, name, "histogram", "How long each check run took.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		uint64_t cumulative = 0;
		for (size_t b = 0; b <= VH_STATE_DURATION_BOUNDS; b++) {
			cumulative += c->duration_buckets[b];
			evbuffer_add_printf(out, "%s_bucket{check=\"", name);
			add_label_value(out, c->config->name);
			evbuffer_add_printf(out, "\",le=\"");
			if (b < VH_STATE_DURATION_BOUNDS) {
				add_number(out, (double)vh_state_duration_bounds_us[b] / 1e6);
			} else {
				evbuffer_add_printf(out, "+Inf");
			}
			evbuffer_add_printf(out, "\"} %" PRIu64 "\n", cumulative);
		}
		evbuffer_add_printf(out, "%s_sum{check=\"", name);
		add_label_value(out, c->config->name);
		evbuffer_add_printf(out, "\"} ");
		add_number(out, (double)c->duration_sum_us / 1e6);
		evbuffer_add_printf(out, "\n%s_count{check=\"", name);
		add_label_value(out, c->config->name);
		evbuffer_add_printf(out, "\"} %" PRIu64 "\n", cumulative);
	}
}

static void add_run_facts(struct evbuffer *out, const struct vh_snapshot *s) {
	add_header(out, "veza_health_check_last_duration_seconds", "gauge",
			"How long the check's latest run took.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		if (c->has_run) {
			add_check_sample(out, "veza_health_check_last_duration_seconds",
					c->config->name, (double)c->last_duration_us / 1e6);
		}
	}
	add_header(out, "veza_health_check_consecutive_failures", "gauge",
			"Failed runs in a row right now.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		add_check_sample(out, "veza_health_check_consecutive_failures", c->config->name,
				c->consecutive_fail);
	}
	add_header(out, "veza_health_check_last_success_timestamp_seconds", "gauge",
			"Unix time the check's latest passing run ended.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		if (c->last_success_wall_ms > 0) {
			add_check_sample(out, "veza_health_check_last_success_timestamp_seconds",
					c->config->name, (double)c->last_success_wall_ms / 1e3);
		}
	}
}

static void add_counters(struct evbuffer *out, const struct vh_snapshot *s) {
	add_u64_family(out, s, "veza_health_check_runs_total", "counter",
			"Check runs finished, whatever their result.",
			offsetof(struct vh_check_state, runs));
	add_u64_family(out, s, "veza_health_check_failures_total", "counter",
			"Check runs whose own result was a failure, timeouts included.",
			offsetof(struct vh_check_state, failures));
	add_u64_family(out, s, "veza_health_check_transitions_total", "counter",
			"Changes of the check's settled status.",
			offsetof(struct vh_check_state, transitions));
}

static void add_probes(struct evbuffer *out, const struct vh_snapshot *s) {
	static const struct {
		const char *name;
		enum vh_probe_kind kind;
		const char *help;
	} probes[] = {
			{"veza_health_live", VH_PROBE_LIVENESS, "1 when /live answers 200."},
			{"veza_health_ready", VH_PROBE_READINESS, "1 when /ready answers 200."},
			{"veza_health_startup", VH_PROBE_STARTUP, "1 when /startup answers 200."},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(probes); i++) {
		add_header(out, probes[i].name, "gauge", probes[i].help);
		evbuffer_add_printf(out, "%s %d\n", probes[i].name,
				vh_snapshot_passes(s, probes[i].kind, NULL, 0));
	}
}

static void add_build_info(struct evbuffer *out, const struct vh_build_info *build) {
	const char *labels[][2] = {{"version", build->version}, {"libevent", build->libevent},
			{"libpq", build->libpq}, {"hiredis", build->hiredis}};
	add_header(out, "veza_health_build_info", "gauge",
			"Always 1; the version of veza-health and of the libraries it uses.");
	evbuffer_add_printf(out, "veza_health_build_info{");
	for (size_t i = 0; i < VH_ARRAY_LEN(labels); i++) {
		evbuffer_add_printf(out, "%s%s=\"", i ? "," : "", labels[i][0]);
		add_label_value(out, labels[i][1] ? labels[i][1] : "");
		evbuffer_add_printf(out, "\"");
	}
	evbuffer_add_printf(out, "} 1\n");
}

static const struct vh_measure *find_measure(const struct vh_check_state *c, const char *key) {
	for (size_t i = 0; i < c->last.n_measures; i++) {
		if (strcmp(c->last.measures[i].key, key) == 0) {
			return &c->last.measures[i];
		}
	}
	return NULL;
}

/* A statistic is shown only while the latest, fresh run measured it: a number nobody measured
 * must not be scraped as if it were current. */
static void add_measures(struct evbuffer *out, const struct vh_snapshot *s) {
	for (size_t m = 0; m < VH_ARRAY_LEN(measure_metrics); m++) {
		const struct measure_metric *mm = &measure_metrics[m];
		bool headed = false;
		for (size_t i = 0; i < s->n_checks; i++) {
			const struct vh_check_state *c = &s->checks[i];
			const struct vh_measure *measure = c->config->type == mm->type
					? find_measure(c, mm->key)
					: NULL;
			if (!measure || !c->has_run || vh_state_is_stale(c, s->now_mono_ms)) {
				continue;
			}
			if (!headed) {
				add_header(out, mm->name, "gauge", mm->help);
				headed = true;
			}
			add_check_sample(
					out, mm->name, c->config->name, measure->value * mm->scale);
		}
	}
}

static void add_plain(struct evbuffer *out, const char *name, const char *type, const char *help,
		double value) {
	add_header(out, name, type, help);
	evbuffer_add_printf(out, "%s ", name);
	add_number(out, value);
	evbuffer_add_printf(out, "\n");
}

static const enum vh_outage_phase all_phases[] = {
		VH_OUTAGE_NONE, VH_OUTAGE_HOLDING, VH_OUTAGE_LOCAL, VH_OUTAGE_SHARED};

static bool has_shared_check(const struct vh_snapshot *s) {
	for (size_t i = 0; i < s->n_checks; i++) {
		if (s->checks[i].config->scope == VH_SCOPE_SHARED) {
			return true;
		}
	}
	return false;
}

/* The latest count of replicas, taken at each decision; none is shown before the first one
 * (answered is 0 until then, although a count always includes this replica). */
static void add_replica_count(struct evbuffer *out, const struct vh_snapshot *s, const char *name,
		const char *help, bool failing) {
	add_header(out, name, "gauge", help);
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_outage *o = &s->checks[i].outage;
		if (s->checks[i].config->scope == VH_SCOPE_SHARED && o->answered > 0) {
			add_check_sample(out, name, s->checks[i].config->name,
					failing ? o->failing : o->answered);
		}
	}
}

/* The fleet's view of each shared check: the same decision every answer shows. */
static void add_fleet_checks(struct evbuffer *out, const struct vh_snapshot *s) {
	add_header(out, "veza_health_check_shared_outage", "gauge",
			"1 while the check fails here in a shared outage, on a fresh result.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		if (c->config->scope == VH_SCOPE_SHARED) {
			add_check_sample(out, "veza_health_check_shared_outage", c->config->name,
					vh_render_shared_outage(c, s->now_mono_ms));
		}
	}
	add_header(out, "veza_health_check_fleet_verdict", "gauge",
			"1 for the fleet's verdict on the check now, 0 for the others.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		if (c->config->scope != VH_SCOPE_SHARED) {
			continue;
		}
		for (size_t k = 0; k < VH_ARRAY_LEN(all_phases); k++) {
			evbuffer_add_printf(out, "veza_health_check_fleet_verdict{check=\"");
			add_label_value(out, c->config->name);
			evbuffer_add_printf(out, "\",verdict=\"%s\"} %d\n",
					vh_fleet_phase_name(all_phases[k]),
					all_phases[k] == c->outage.phase);
		}
	}
	add_header(out, "veza_health_check_shared_outages_total", "counter",
			"Shared outages of the check's dependency declared here.");
	for (size_t i = 0; i < s->n_checks; i++) {
		const struct vh_check_state *c = &s->checks[i];
		if (c->config->scope == VH_SCOPE_SHARED) {
			add_check_sample(out, "veza_health_check_shared_outages_total",
					c->config->name, (double)c->outage.declared);
		}
	}
	add_replica_count(out, s, "veza_health_check_replicas_answered",
			"Replicas counted for the check's dependency, this one included.", false);
	add_replica_count(out, s, "veza_health_check_replicas_failing",
			"Of those, the replicas whose latest run of it failed.", true);
}

/* Only with peers configured: without them there is no fleet to count, and a 0 would read as
 * "no peer answered" on every daemon that never asked. */
static void add_fleet(struct evbuffer *out, const struct vh_snapshot *s) {
	const struct vh_fleet_status *f = s->fleet;
	if (!f) {
		return;
	}
	add_plain(out, "veza_health_peers_known", "gauge",
			"Peer addresses found, this daemon not included.", f->known);
	add_plain(out, "veza_health_peers_reachable", "gauge",
			"Peers whose latest report is valid and fresh.", f->reachable);
	add_plain(out, "veza_health_peer_rounds_total", "counter",
			"Rounds of asking peers finished.", (double)f->rounds);
	add_plain(out, "veza_health_peer_requests_total", "counter", "Requests sent to peers.",
			(double)f->requests);
	add_plain(out, "veza_health_peer_request_failures_total", "counter",
			"Peer requests that failed, timed out or were answered with garbage.",
			(double)f->failures);
	if (has_shared_check(s)) {
		add_fleet_checks(out, s);
	}
}

static void add_self(struct evbuffer *out, const struct vh_self_stats *self) {
	if (!self) {
		return;
	}
	if (self->have_stat) {
		add_plain(out, "process_cpu_seconds_total", "counter",
				"Total user and system CPU time spent in seconds.",
				self->cpu_seconds);
		add_plain(out, "process_resident_memory_bytes", "gauge",
				"Resident memory size in bytes.", (double)self->rss_bytes);
		add_plain(out, "process_virtual_memory_bytes", "gauge",
				"Virtual memory size in bytes.", (double)self->vsize_bytes);
		add_plain(out, "process_threads", "gauge", "Number of OS threads in the process.",
				(double)self->threads);
	}
	if (self->have_start_time) {
		add_plain(out, "process_start_time_seconds", "gauge",
				"Start time of the process since unix epoch in seconds.",
				self->start_time_seconds);
	}
	if (self->have_fds) {
		add_plain(out, "process_open_fds", "gauge", "Number of open file descriptors.",
				(double)self->open_fds);
	}
	if (self->have_max_fds) {
		add_plain(out, "process_max_fds", "gauge",
				"Maximum number of open file descriptors.", (double)self->max_fds);
	}
}

/* Who the sidecar answers and how: floods of connections and malformed requests show here. */
static void add_http(struct evbuffer *out, const struct vh_http_stats *http) {
	if (!http) {
		return;
	}
	add_plain(out, "veza_health_http_connections", "gauge", "Open HTTP connections.",
			(double)http->connections_open);
	add_plain(out, "veza_health_http_connections_limit", "gauge",
			"Open HTTP connections at most; past it the least recently active one is "
			"closed.",
			(double)http->connections_limit);
	add_plain(out, "veza_health_http_connections_total", "counter",
			"HTTP connections accepted.", (double)http->connections_total);
	add_plain(out, "veza_health_http_connections_evicted_total", "counter",
			"HTTP connections closed to make room for a new one.",
			(double)http->connections_evicted_total);
	add_plain(out, "veza_health_http_connections_timed_out_total", "counter",
			"HTTP connections closed because a request, an idle wait or a reply took "
			"too long.",
			(double)http->connections_timed_out_total);
	add_header(out, "veza_health_http_requests_total", "counter",
			"HTTP requests answered, by status code.");
	for (size_t i = 0; i < VH_HTTP_STATS_CODES; i++) {
		evbuffer_add_printf(out,
				"veza_health_http_requests_total{code=\"%d\"} %" PRIu64 "\n",
				vh_http_stats_codes[i], http->requests_total[i]);
	}
}

void vh_render_metrics(const struct vh_snapshot *snapshot, const struct vh_build_info *build,
		const struct vh_http_stats *http, const struct vh_self_stats *self,
		struct evbuffer *out) {
	add_info(out, snapshot);
	add_up_and_status(out, snapshot);
	add_run_facts(out, snapshot);
	add_histogram(out, snapshot);
	add_counters(out, snapshot);
	add_probes(out, snapshot);
	add_build_info(out, build);
	add_measures(out, snapshot);
	add_fleet(out, snapshot);
	add_http(out, http);
	add_self(out, self);
}
