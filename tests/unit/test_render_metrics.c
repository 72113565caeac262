/* test_render_metrics.c - the Prometheus exposition and the /debug/history views, line by line. */
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/history.h"
#include "vh/render_history.h"
#include "vh/render_metrics.h"
#include "vh/state.h"

/* 2026-11-24T12:00:00.000Z on the wall clock; the monotonic clock is arbitrary but not 0. */
#define NOW_WALL 1795521600000LL
#define NOW_MONO 50000000LL
#define MAX_CHECKS 4

struct fixture {
	struct vh_check_config configs[MAX_CHECKS];
	struct vh_check_state states[MAX_CHECKS];
	struct vh_snapshot snapshot;
};

static const struct vh_build_info build = {"1.2.3", "2.1.12-stable", "15.18", "0.14.1"};

static void fixture_init(struct fixture *f) {
	memset(f, 0, sizeof(*f));
	f->snapshot.service = "orders";
	f->snapshot.checks = f->states;
	f->snapshot.now_mono_ms = NOW_MONO;
	f->snapshot.now_wall_ms = NOW_WALL;
	f->snapshot.started_mono_ms = NOW_MONO - 60000;
	f->snapshot.started_wall_ms = NOW_WALL - 60000;
}

static struct vh_check_state *add_check(struct fixture *f, const char *name,
		enum vh_check_type type, unsigned groups, bool critical) {
	size_t i = f->snapshot.n_checks++;
	cr_assert_lt(i, MAX_CHECKS);
	struct vh_check_config *config = &f->configs[i];
	snprintf(config->name, sizeof(config->name), "%s", name);
	config->type = type;
	config->groups = groups;
	config->critical = critical;
	config->interval_ms = 10000;
	config->stale_after_ms = 30000;
	config->rise = 1;
	config->fall = 1;
	vh_state_init(&f->states[i], config);
	return &f->states[i];
}

static void run(struct vh_check_state *check, struct vh_check_result *result, int64_t ago_ms,
		int64_t duration_us) {
	vh_state_apply(check, result, duration_us, NOW_MONO - ago_ms, NOW_WALL - ago_ms, NULL);
}

static void run_simple(struct vh_check_state *check, enum vh_status status, const char *output,
		int64_t ago_ms, int64_t duration_us) {
	struct vh_check_result result;
	vh_check_result_set(&result, status, "%s", output);
	run(check, &result, ago_ms, duration_us);
}

static char *take(struct evbuffer *buf) {
	size_t len = evbuffer_get_length(buf);
	char *text = malloc(len + 1);
	cr_assert_not_null(text);
	evbuffer_remove(buf, text, len);
	text[len] = '\0';
	evbuffer_free(buf);
	return text;
}

static char *metrics(const struct fixture *f, const struct vh_self_stats *self) {
	struct evbuffer *buf = evbuffer_new();
	cr_assert_not_null(buf);
	vh_render_metrics(&f->snapshot, &build, NULL, self, buf);
	return take(buf);
}

/* Asserts that text holds line as a whole line. */
static void expect_line(const char *text, const char *line) {
	size_t len = strlen(line);
	for (const char *p = text; (p = strstr(p, line)); p++) {
		if ((p == text || p[-1] == '\n') && p[len] == '\n') {
			return;
		}
	}
	cr_assert_fail("missing line \"%s\" in:\n%s", line, text);
}

static void expect_no(const char *text, const char *fragment) {
	cr_assert_null(strstr(text, fragment), "unexpected \"%s\" in:\n%s", fragment, text);
}

/* A healthy postgres check with statistics and a non-critical redis check that fails. */
static void two_dependencies(struct fixture *f) {
	fixture_init(f);
	struct vh_check_state *pg = add_check(f, "db", VH_CHECK_POSTGRES, VH_GROUP_READINESS, true);
	struct vh_check_state *cache =
			add_check(f, "cache", VH_CHECK_REDIS, VH_GROUP_READINESS, false);
	struct vh_check_result result;
	vh_check_result_set(&result, VH_STATUS_PASS, "primary, 12 of 100 connections (12%%)");
	cr_assert(vh_check_result_add_measure(
			&result, "connections_active", "connections", 12, "connections"));
	cr_assert(vh_check_result_add_measure(
			&result, "connections_percent", "utilization", 12, "percent"));
	run(pg, &result, 1000, 400);
	run(pg, &result, 500, 2500);
	run_simple(cache, VH_STATUS_FAIL, "connection refused", 100, 20000000);
}

Test(render_metrics, check_series_follow_the_contract) {
	struct fixture f;
	two_dependencies(&f);
	char *text = metrics(&f, NULL);
	expect_line(text, "# TYPE veza_health_check_info gauge");
	expect_line(text,
			"veza_health_check_info{check=\"db\",type=\"postgres\",critical=\"true\","
			"groups=\"readiness\"} 1");
	expect_line(text,
			"veza_health_check_info{check=\"cache\",type=\"redis\",critical=\"false\","
			"groups=\"readiness\"} 1");
	expect_line(text, "veza_health_check_up{check=\"db\"} 1");
	expect_line(text, "veza_health_check_up{check=\"cache\"} 0");
	/* /health softens a non-critical failure to warn; up does not. */
	expect_line(text, "veza_health_check_status{check=\"cache\",status=\"warn\"} 1");
	expect_line(text, "veza_health_check_status{check=\"cache\",status=\"fail\"} 0");
	expect_line(text, "veza_health_check_status{check=\"db\",status=\"pass\"} 1");
	expect_line(text, "veza_health_check_last_duration_seconds{check=\"db\"} 0.0025");
	expect_line(text, "veza_health_check_last_duration_seconds{check=\"cache\"} 20");
	expect_line(text, "veza_health_check_runs_total{check=\"db\"} 2");
	expect_line(text, "veza_health_check_failures_total{check=\"cache\"} 1");
	expect_line(text, "veza_health_check_transitions_total{check=\"db\"} 1");
	expect_line(text, "veza_health_check_consecutive_failures{check=\"cache\"} 1");
	expect_line(text,
			"veza_health_check_last_success_timestamp_seconds{check=\"db\"} "
			"1795521599.5");
	expect_no(text, "veza_health_check_last_success_timestamp_seconds{check=\"cache\"}");
	free(text);
}

Test(render_metrics, histogram_is_cumulative_with_sum_and_count) {
	struct fixture f;
	two_dependencies(&f);
	char *text = metrics(&f, NULL);
	expect_line(text, "# TYPE veza_health_check_duration_seconds histogram");
	expect_line(text,
			"veza_health_check_duration_seconds_bucket{check=\"db\",le=\"0.0005\"} 1");
	expect_line(text, "veza_health_check_duration_seconds_bucket{check=\"db\",le=\"0.001\"} 1");
	expect_line(text,
			"veza_health_check_duration_seconds_bucket{check=\"db\",le=\"0.0025\"} 2");
	expect_line(text, "veza_health_check_duration_seconds_bucket{check=\"db\",le=\"10\"} 2");
	expect_line(text, "veza_health_check_duration_seconds_bucket{check=\"db\",le=\"+Inf\"} 2");
	expect_line(text, "veza_health_check_duration_seconds_sum{check=\"db\"} 0.0029");
	expect_line(text, "veza_health_check_duration_seconds_count{check=\"db\"} 2");
	expect_line(text, "veza_health_check_duration_seconds_bucket{check=\"cache\",le=\"10\"} 0");
	expect_line(text,
			"veza_health_check_duration_seconds_bucket{check=\"cache\",le=\"+Inf\"} 1");
	free(text);
}

Test(render_metrics, probes_and_build_info) {
	struct fixture f;
	two_dependencies(&f);
	char *text = metrics(&f, NULL);
	expect_line(text, "veza_health_live 1");
	expect_line(text, "veza_health_ready 1");
	expect_line(text, "veza_health_startup 1");
	expect_line(text,
			"veza_health_build_info{version=\"1.2.3\",libevent=\"2.1.12-stable\","
			"libpq=\"15.18\",hiredis=\"0.14.1\"} 1");
	/* A critical readiness check failing turns ready (and so startup, not latched) to 0. */
	f.configs[1].critical = true;
	free(text);
	text = metrics(&f, NULL);
	expect_line(text, "veza_health_ready 0");
	expect_line(text, "veza_health_startup 0");
	expect_line(text, "veza_health_live 1");
	free(text);
}

Test(render_metrics, dependency_statistics_use_platform_names_and_ratios) {
	struct fixture f;
	two_dependencies(&f);
	char *text = metrics(&f, NULL);
	expect_line(text, "# TYPE database_connections_active gauge");
	expect_line(text, "database_connections_active{check=\"db\"} 12");
	expect_line(text, "veza_health_postgres_connections_usage_ratio{check=\"db\"} 0.12");
	expect_no(text, "redis_connections_active");
	expect_no(text, "redis_memory_usage_bytes");
	free(text);
}

Test(render_metrics, statistics_of_a_stale_result_are_left_out) {
	struct fixture f;
	two_dependencies(&f);
	f.snapshot.now_mono_ms += 60000; /* past stale_after */
	char *text = metrics(&f, NULL);
	expect_no(text, "database_connections_active");
	expect_line(text, "veza_health_check_up{check=\"db\"} 0");
	expect_line(text, "veza_health_check_status{check=\"db\",status=\"fail\"} 1");
	free(text);
}

Test(render_metrics, process_redis_and_cgroup_measures) {
	struct fixture f;
	fixture_init(&f);
	struct vh_check_state *api =
			add_check(&f, "api", VH_CHECK_PROCESS, VH_GROUP_LIVENESS, true);
	struct vh_check_state *cache = add_check(&f, "cache", VH_CHECK_REDIS, 0, true);
	struct vh_check_state *mem = add_check(&f, "mem", VH_CHECK_CGROUP, 0, true);
	struct vh_check_result r;
	vh_check_result_set(&r, VH_STATUS_PASS, "ok");
	cr_assert(vh_check_result_add_measure(&r, "rss_bytes", "memory", 41943040, "bytes"));
	cr_assert(vh_check_result_add_measure(&r, "threads", "threads", 12, "threads"));
	run(api, &r, 10, 50);
	vh_check_result_set(&r, VH_STATUS_PASS, "ok");
	cr_assert(vh_check_result_add_measure(&r, "memory_bytes", "memory", 1048576, "bytes"));
	cr_assert(vh_check_result_add_measure(&r, "memory_percent", "utilization", 25, "percent"));
	cr_assert(vh_check_result_add_measure(&r, "clients", "connections", 7, "connections"));
	run(cache, &r, 10, 50);
	vh_check_result_set(&r, VH_STATUS_PASS, "ok");
	cr_assert(vh_check_result_add_measure(&r, "memory_bytes", "memory", 2097152, "bytes"));
	cr_assert(vh_check_result_add_measure(&r, "memory_percent", "utilization", 50, "percent"));
	cr_assert(vh_check_result_add_measure(&r, "pressure_avg10", "pressure", 1.5, "percent"));
	run(mem, &r, 10, 50);
	char *text = metrics(&f, NULL);
	expect_line(text, "veza_health_process_resident_memory_bytes{check=\"api\"} 41943040");
	expect_line(text, "veza_health_process_threads{check=\"api\"} 12");
	expect_line(text, "redis_memory_usage_bytes{check=\"cache\"} 1048576");
	expect_line(text, "veza_health_redis_memory_usage_ratio{check=\"cache\"} 0.25");
	expect_line(text, "redis_connections_active{check=\"cache\"} 7");
	expect_line(text, "veza_health_cgroup_memory_bytes{check=\"mem\"} 2097152");
	expect_line(text, "veza_health_cgroup_memory_usage_ratio{check=\"mem\"} 0.5");
	expect_line(text, "veza_health_cgroup_memory_pressure_ratio{check=\"mem\"} 0.015");
	/* A redis check's memory is not a cgroup's, whatever the measure key. */
	expect_no(text, "veza_health_cgroup_memory_bytes{check=\"cache\"}");
	free(text);
}

Test(render_metrics, self_stats_only_when_read) {
	struct fixture f;
	fixture_init(&f);
	char *text = metrics(&f, NULL);
	expect_no(text, "process_");
	free(text);
	struct vh_self_stats self = {.have_stat = true,
			.rss_bytes = 4194304,
			.vsize_bytes = 16777216,
			.threads = 1,
			.cpu_seconds = 1.25,
			.have_fds = true,
			.open_fds = 9};
	text = metrics(&f, &self);
	expect_line(text, "# TYPE process_cpu_seconds_total counter");
	expect_line(text, "process_cpu_seconds_total 1.25");
	expect_line(text, "process_resident_memory_bytes 4194304");
	expect_line(text, "process_virtual_memory_bytes 16777216");
	expect_line(text, "process_threads 1");
	expect_line(text, "process_open_fds 9");
	expect_no(text, "process_max_fds");
	expect_no(text, "process_start_time_seconds");
	free(text);
}

Test(render_metrics, every_family_has_help_and_type_once) {
	struct fixture f;
	two_dependencies(&f);
	char *text = metrics(&f, NULL);
	size_t helps = 0, types = 0;
	for (const char *p = text; (p = strstr(p, "# HELP ")); p++) {
		helps++;
		char name[96];
		cr_assert_eq(sscanf(p, "# HELP %95s", name), 1);
		char type_line[128];
		snprintf(type_line, sizeof(type_line), "# TYPE %s ", name);
		const char *t = strstr(text, type_line);
		cr_assert_not_null(t, "no TYPE for %s", name);
		cr_assert_null(strstr(t + 1, type_line), "two TYPE lines for %s", name);
	}
	for (const char *p = text; (p = strstr(p, "# TYPE ")); p++) {
		types++;
	}
	cr_assert_eq(helps, types);
	cr_assert_gt(helps, 15);
	free(text);
}

static char *history(const struct fixture *f, const char *name, bool text, bool *found) {
	struct evbuffer *buf = evbuffer_new();
	cr_assert_not_null(buf);
	*found = vh_render_history(&f->snapshot, name, text, buf);
	return take(buf);
}

Test(render_history, json_lists_results_and_transitions_newest_first) {
	struct fixture f;
	fixture_init(&f);
	struct vh_check_state *db =
			add_check(&f, "db", VH_CHECK_POSTGRES, VH_GROUP_READINESS, true);
	struct vh_check_state *other = add_check(&f, "other", VH_CHECK_TCP, 0, true);
	db->history = vh_history_create(2, 4);
	run_simple(db, VH_STATUS_PASS, "primary", 3000, 1500);
	run_simple(db, VH_STATUS_FAIL, "connection refused", 2000, 250);
	run_simple(db, VH_STATUS_PASS, "primary", 1000, 1000);
	bool found;
	char *body = history(&f, "db", false, &found);
	cr_assert(found);
	json_error_t error;
	json_t *json = json_loads(body, 0, &error);
	cr_assert_not_null(json, "%s: %s", error.text, body);
	cr_assert_str_eq(json_string_value(json_object_get(json, "name")), "db");
	cr_assert_str_eq(json_string_value(json_object_get(json, "status")), "pass");
	cr_assert_eq(json_integer_value(json_object_get(json, "runs")), 3);
	cr_assert_eq(json_integer_value(json_object_get(json, "results_kept")), 2);
	cr_assert_eq(json_integer_value(json_object_get(json, "results_max")), 2);
	json_t *results = json_object_get(json, "results");
	cr_assert_eq(json_array_size(results), 2);
	json_t *newest = json_array_get(results, 0);
	cr_assert_str_eq(json_string_value(json_object_get(newest, "time")),
			"2026-11-24T11:59:59.000Z");
	cr_assert_eq(json_integer_value(json_object_get(newest, "duration_ms")), 1);
	json_t *older = json_array_get(results, 1);
	cr_assert_str_eq(json_string_value(json_object_get(older, "status")), "fail");
	cr_assert_str_eq(json_string_value(json_object_get(older, "output")), "connection refused");
	cr_assert_float_eq(json_real_value(json_object_get(older, "duration_ms")), 0.25, 1e-9);
	json_t *transitions = json_object_get(json, "transitions");
	cr_assert_eq(json_array_size(transitions), 3, "unknown->pass, pass->fail, fail->pass");
	json_t *t = json_array_get(transitions, 1);
	cr_assert_str_eq(json_string_value(json_object_get(t, "from")), "pass");
	cr_assert_str_eq(json_string_value(json_object_get(t, "to")), "fail");
	cr_assert_str_eq(json_string_value(json_object_get(t, "reason")), "connection refused");
	json_decref(json);
	free(body);

	body = history(&f, NULL, false, &found);
	json = json_loads(body, 0, &error);
	cr_assert_not_null(json, "%s: %s", error.text, body);
	cr_assert_str_eq(json_string_value(json_object_get(json, "service")), "orders");
	json_t *checks = json_object_get(json, "checks");
	cr_assert_eq(json_array_size(checks), 2);
	json_t *second = json_array_get(checks, 1);
	cr_assert_str_eq(json_string_value(json_object_get(second, "name")), "other");
	cr_assert_eq(json_array_size(json_object_get(second, "results")), 0);
	json_decref(json);
	free(body);
	vh_history_destroy(db->history);
	(void)other;
}

Test(render_history, text_and_unknown_check) {
	struct fixture f;
	fixture_init(&f);
	struct vh_check_state *db =
			add_check(&f, "db", VH_CHECK_POSTGRES, VH_GROUP_READINESS, true);
	db->history = vh_history_create(4, 4);
	run_simple(db, VH_STATUS_FAIL, "password authentication failed", 1000, 1234);
	bool found;
	char *body = history(&f, "db", true, &found);
	cr_assert(found);
	cr_assert_str_eq(body,
			"db (postgres) is fail: 1 runs, 1 transitions\n"
			"  transitions, newest first (1 kept of at most 4):\n"
			"    2026-11-24T11:59:59.000Z unknown -> fail: password authentication "
			"failed\n"
			"  results, newest first (1 kept of at most 4):\n"
			"    2026-11-24T11:59:59.000Z fail   1.234ms  password authentication "
			"failed\n");
	free(body);
	body = history(&f, "nope", true, &found);
	cr_assert_not(found);
	cr_assert_str_eq(body, "");
	free(body);
	vh_history_destroy(db->history);
}

Test(render_metrics, http_front_counts) {
	struct fixture f;
	two_dependencies(&f);
	struct vh_http_stats http = {.connections_open = 3,
			.connections_limit = 512,
			.connections_total = 70,
			.connections_evicted_total = 5,
			.connections_timed_out_total = 2};
	vh_http_stats_count(&http, 200);
	vh_http_stats_count(&http, 200);
	vh_http_stats_count(&http, 431);
	vh_http_stats_count(&http, 418); /* not in the table: counted as 500 */
	struct evbuffer *buf = evbuffer_new();
	cr_assert_not_null(buf);
	vh_render_metrics(&f.snapshot, &build, &http, NULL, buf);
	char *text = take(buf);
	expect_line(text, "# TYPE veza_health_http_connections gauge");
	expect_line(text, "veza_health_http_connections 3");
	expect_line(text, "veza_health_http_connections_limit 512");
	expect_line(text, "veza_health_http_connections_total 70");
	expect_line(text, "veza_health_http_connections_evicted_total 5");
	expect_line(text, "veza_health_http_connections_timed_out_total 2");
	expect_line(text, "# TYPE veza_health_http_requests_total counter");
	expect_line(text, "veza_health_http_requests_total{code=\"200\"} 2");
	expect_line(text, "veza_health_http_requests_total{code=\"431\"} 1");
	expect_line(text, "veza_health_http_requests_total{code=\"500\"} 1");
	expect_line(text, "veza_health_http_requests_total{code=\"505\"} 0");
	free(text);
	text = metrics(&f, NULL);
	expect_no(text, "veza_health_http_");
	free(text);
}

/* Peers configured: db (postgres) fails here in a shared outage that 5 of 6 replicas see, the
 * second one declared since start; cache (redis) passes while 1 of 6 see it failing; me (a
 * process check) is local and has no fleet series. */
static void fleet_outage(struct fixture *f, struct vh_fleet_status *fleet) {
	fixture_init(f);
	*fleet = (struct vh_fleet_status){.panic_threshold = 50,
			.panic_mode = VH_PANIC_SERVE,
			.known = 5,
			.reachable = 4,
			.rounds = 120,
			.requests = 600,
			.failures = 7};
	f->snapshot.fleet = fleet;
	struct vh_check_state *db = add_check(f, "db", VH_CHECK_POSTGRES, VH_GROUP_READINESS, true);
	struct vh_check_state *cache =
			add_check(f, "cache", VH_CHECK_REDIS, VH_GROUP_READINESS, true);
	struct vh_check_state *me = add_check(f, "me", VH_CHECK_PROCESS, VH_GROUP_LIVENESS, true);
	f->configs[0].scope = VH_SCOPE_SHARED;
	f->configs[1].scope = VH_SCOPE_SHARED;
	run_simple(db, VH_STATUS_FAIL, "connection refused", 200, 1000);
	db->outage = (struct vh_outage){.phase = VH_OUTAGE_SHARED,
			.serve = true,
			.answered = 6,
			.failing = 5,
			.threshold = 50,
			.since_mono_ms = NOW_MONO - 150,
			.since_wall_ms = NOW_WALL - 150,
			.declared = 2};
	run_simple(cache, VH_STATUS_PASS, "PONG", 200, 1000);
	cache->outage = (struct vh_outage){.answered = 6, .failing = 1, .threshold = 50};
	run_simple(me, VH_STATUS_PASS, "running", 200, 100);
}

Test(render_metrics, peers_and_fleet_verdicts_of_shared_checks) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	char *text = metrics(&f, NULL);
	expect_line(text, "# TYPE veza_health_peers_known gauge");
	expect_line(text, "veza_health_peers_known 5");
	expect_line(text, "# TYPE veza_health_peers_reachable gauge");
	expect_line(text, "veza_health_peers_reachable 4");
	expect_line(text, "# TYPE veza_health_peer_rounds_total counter");
	expect_line(text, "veza_health_peer_rounds_total 120");
	expect_line(text, "# TYPE veza_health_peer_requests_total counter");
	expect_line(text, "veza_health_peer_requests_total 600");
	expect_line(text, "# TYPE veza_health_peer_request_failures_total counter");
	expect_line(text, "veza_health_peer_request_failures_total 7");

	expect_line(text, "# TYPE veza_health_check_shared_outage gauge");
	expect_line(text, "veza_health_check_shared_outage{check=\"db\"} 1");
	expect_line(text, "veza_health_check_shared_outage{check=\"cache\"} 0");
	expect_line(text, "# TYPE veza_health_check_fleet_verdict gauge");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"none\"} 0");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"holding\"} 0");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"local\"} 0");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"shared\"} 1");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"cache\",verdict=\"none\"} 1");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"cache\",verdict=\"shared\"} 0");
	expect_line(text, "# TYPE veza_health_check_shared_outages_total counter");
	expect_line(text, "veza_health_check_shared_outages_total{check=\"db\"} 2");
	expect_line(text, "veza_health_check_shared_outages_total{check=\"cache\"} 0");
	expect_line(text, "# TYPE veza_health_check_replicas_answered gauge");
	expect_line(text, "veza_health_check_replicas_answered{check=\"db\"} 6");
	expect_line(text, "veza_health_check_replicas_answered{check=\"cache\"} 6");
	expect_line(text, "# TYPE veza_health_check_replicas_failing gauge");
	expect_line(text, "veza_health_check_replicas_failing{check=\"db\"} 5");
	expect_line(text, "veza_health_check_replicas_failing{check=\"cache\"} 1");

	/* A local check takes no part in the fleet's decision. */
	expect_no(text, "{check=\"me\",verdict=");
	expect_no(text, "veza_health_check_shared_outage{check=\"me\"}");
	expect_no(text, "veza_health_check_replicas_answered{check=\"me\"}");
	expect_no(text, "veza_health_check_shared_outages_total{check=\"me\"}");

	/* Served through: the dependency is down (up 0) but readiness holds. */
	expect_line(text, "veza_health_check_up{check=\"db\"} 0");
	expect_line(text, "veza_health_check_status{check=\"db\",status=\"warn\"} 1");
	expect_line(text, "veza_health_ready 1");
	free(text);
}

Test(render_metrics, unready_panic_mode_still_reports_the_shared_outage) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	fleet.panic_mode = VH_PANIC_UNREADY;
	f.states[0].outage.serve = false;
	char *text = metrics(&f, NULL);
	expect_line(text, "veza_health_check_shared_outage{check=\"db\"} 1");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"shared\"} 1");
	expect_line(text, "veza_health_check_status{check=\"db\",status=\"fail\"} 1");
	expect_line(text, "veza_health_ready 0");
	free(text);
}

Test(render_metrics, a_stale_result_is_no_shared_outage) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	f.snapshot.now_mono_ms += 60000; /* past stale_after: the failure here is not current */
	char *text = metrics(&f, NULL);
	expect_line(text, "veza_health_check_shared_outage{check=\"db\"} 0");
	/* The verdict is the decision as it stands; the 0/1 says whether it is current. */
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"shared\"} 1");
	expect_line(text, "veza_health_check_replicas_failing{check=\"db\"} 5");
	free(text);
}

Test(render_metrics, holding_and_local_fault_are_no_shared_outage) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	struct vh_outage *o = &f.states[0].outage;
	o->phase = VH_OUTAGE_HOLDING;
	o->serve = false;
	o->held = VH_STATUS_PASS;
	o->failing = 1;
	char *text = metrics(&f, NULL);
	expect_line(text, "veza_health_check_shared_outage{check=\"db\"} 0");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"holding\"} 1");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"shared\"} 0");
	expect_line(text, "veza_health_check_replicas_failing{check=\"db\"} 1");
	expect_line(text, "veza_health_ready 1"); /* held: the status before the failure */
	free(text);
	o->phase = VH_OUTAGE_LOCAL;
	text = metrics(&f, NULL);
	expect_line(text, "veza_health_check_shared_outage{check=\"db\"} 0");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"local\"} 1");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"db\",verdict=\"holding\"} 0");
	expect_line(text, "veza_health_ready 0");
	free(text);
}

Test(render_metrics, replica_counts_wait_for_the_first_decision) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	vh_state_init(&f.states[1], &f.configs[1]); /* cache: not run, never weighed */
	char *text = metrics(&f, NULL);
	expect_no(text, "veza_health_check_replicas_answered{check=\"cache\"}");
	expect_no(text, "veza_health_check_replicas_failing{check=\"cache\"}");
	expect_line(text, "veza_health_check_replicas_answered{check=\"db\"} 6");
	expect_line(text, "veza_health_check_shared_outage{check=\"cache\"} 0");
	expect_line(text, "veza_health_check_fleet_verdict{check=\"cache\",verdict=\"none\"} 1");
	free(text);
}

Test(render_metrics, no_fleet_series_without_peers) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	f.snapshot.fleet = NULL;
	char *text = metrics(&f, NULL);
	expect_no(text, "veza_health_peer");
	expect_no(text, "replicas");
	expect_no(text, "shared_outage");
	expect_no(text, "fleet_verdict");
	free(text);
}

Test(render_metrics, peers_without_shared_checks_show_only_the_peers) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	f.configs[0].scope = VH_SCOPE_LOCAL;
	f.configs[1].scope = VH_SCOPE_LOCAL;
	char *text = metrics(&f, NULL);
	expect_line(text, "veza_health_peers_known 5");
	expect_no(text, "veza_health_check_shared_outage");
	expect_no(text, "veza_health_check_fleet_verdict");
	expect_no(text, "veza_health_check_replicas_");
	free(text);
}

Test(render_metrics, fleet_families_have_help_and_type_once) {
	struct fixture f;
	struct vh_fleet_status fleet;
	fleet_outage(&f, &fleet);
	char *text = metrics(&f, NULL);
	static const char *const families[] = {"veza_health_peers_known",
			"veza_health_peers_reachable", "veza_health_peer_rounds_total",
			"veza_health_peer_requests_total",
			"veza_health_peer_request_failures_total",
			"veza_health_check_shared_outage", "veza_health_check_fleet_verdict",
			"veza_health_check_shared_outages_total",
			"veza_health_check_replicas_answered",
			"veza_health_check_replicas_failing"};
	for (size_t i = 0; i < sizeof(families) / sizeof(families[0]); i++) {
		char line[128];
		snprintf(line, sizeof(line), "\n# HELP %s ", families[i]);
		const char *help = strstr(text, line);
		cr_assert_not_null(help, "no HELP for %s", families[i]);
		cr_assert_null(strstr(help + 1, line), "two HELP lines for %s", families[i]);
		snprintf(line, sizeof(line), "\n# TYPE %s ", families[i]);
		const char *type = strstr(text, line);
		cr_assert_not_null(type, "no TYPE for %s", families[i]);
		cr_assert_null(strstr(type + 1, line), "two TYPE lines for %s", families[i]);
	}
	free(text);
}
