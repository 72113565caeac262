/* test_render.c - JSON, kube text and health+json bodies and their status codes. */
#include <criterion/criterion.h>
#include <event2/buffer.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/render.h"
#include "vh/render_json.h"
#include "vh/request.h"
#include "vh/state.h"

/* 2026-11-24T12:00:00.000Z on the wall clock; the monotonic clock is arbitrary but not 0. */
#define NOW_WALL 1795521600000LL
#define NOW_MONO 50000000LL
#define UPTIME_MS 11520000LL /* 3h12m */
#define MAX_CHECKS 8

struct fixture {
	struct vh_check_config configs[MAX_CHECKS];
	struct vh_check_state states[MAX_CHECKS];
	struct vh_snapshot snapshot;
};

static void fixture_init(struct fixture *f) {
	memset(f, 0, sizeof(*f));
	f->snapshot.service = "orders";
	f->snapshot.checks = f->states;
	f->snapshot.now_mono_ms = NOW_MONO;
	f->snapshot.now_wall_ms = NOW_WALL;
	f->snapshot.started_mono_ms = NOW_MONO - UPTIME_MS;
	f->snapshot.started_wall_ms = NOW_WALL - UPTIME_MS;
}

static struct vh_check_state *add_check(
		struct fixture *f, const char *name, unsigned groups, bool critical) {
	size_t i = f->snapshot.n_checks++;
	cr_assert_lt(i, MAX_CHECKS);
	struct vh_check_config *config = &f->configs[i];
	snprintf(config->name, sizeof(config->name), "%s", name);
	config->type = VH_CHECK_PROCESS;
	config->groups = groups;
	config->critical = critical;
	config->interval_ms = 10000;
	config->stale_after_ms = 30000;
	config->rise = 1;
	config->fall = 1;
	vh_state_init(&f->states[i], config);
	return &f->states[i];
}

/* Records a run of check that ended ago_ms before now and took duration_ms. */
static void run(struct vh_check_state *check, enum vh_status status, const char *output,
		int64_t ago_ms, int64_t duration_ms) {
	struct vh_check_result result;
	vh_check_result_set(&result, status, "%s", output);
	vh_state_apply(check, &result, duration_ms * 1000, NOW_MONO - ago_ms, NOW_WALL - ago_ms,
			NULL);
}

static struct vh_request request_for(const char *path, const char *query, const char *accept) {
	struct vh_request request;
	char err[160] = "";
	cr_assert(vh_request_parse(path, query, accept, &request, err, sizeof(err)), "%s", err);
	cr_assert_neq(request.target, VH_REQUEST_NOT_FOUND, "%s", path);
	return request;
}

/* Renders path?query with accept; returns the body as a malloc'd string and sets *code. */
static char *render(const struct fixture *f, const char *path, const char *query,
		const char *accept, int *code) {
	struct vh_request request = request_for(path, query, accept);
	struct evbuffer *buf = evbuffer_new();
	cr_assert_not_null(buf);
	*code = vh_render(&f->snapshot, &request, buf);
	size_t len = evbuffer_get_length(buf);
	char *body = malloc(len + 1);
	cr_assert_not_null(body);
	evbuffer_remove(buf, body, len);
	body[len] = '\0';
	evbuffer_free(buf);
	return body;
}

static json_t *render_json(const struct fixture *f, const char *path, const char *query,
		const char *accept, int *code) {
	char *body = render(f, path, query, accept, code);
	json_error_t error;
	json_t *json = json_loads(body, 0, &error);
	cr_assert_not_null(json, "%s: not JSON (%s): %s", path, error.text, body);
	free(body);
	return json;
}

static void expect_text(const struct fixture *f, const char *path, const char *query,
		int expected_code, const char *expected) {
	int code;
	char *body = render(f, path, query, "text/plain", &code);
	cr_assert_str_eq(body, expected, "%s?%s answered:\n%s", path, query ? query : "", body);
	cr_assert_eq(code, expected_code, "%s?%s: %d", path, query ? query : "", code);
	free(body);
}

static const char *str_at(const json_t *json, const char *path) {
	json_t *value = json_object_get(json, path);
	cr_assert(json_is_string(value), "\"%s\" is not a string", path);
	return json_string_value(value);
}

static json_int_t int_at(const json_t *json, const char *key) {
	json_t *value = json_object_get(json, key);
	cr_assert(json_is_integer(value), "\"%s\" is not an integer", key);
	return json_integer_value(value);
}

static json_t *obj_at(const json_t *json, const char *key) {
	json_t *value = json_object_get(json, key);
	cr_assert(json_is_object(value), "\"%s\" is not an object", key);
	return value;
}

/* A readiness check "pg", a liveness check "proc" and the /health-only "sidecar", all passing. */
static void healthy(struct fixture *f) {
	fixture_init(f);
	struct vh_check_state *pg = add_check(f, "pg", VH_GROUP_READINESS, true);
	struct vh_check_state *proc =
			add_check(f, "proc", VH_GROUP_LIVENESS | VH_GROUP_READINESS, true);
	struct vh_check_state *sidecar = add_check(f, "sidecar", 0, true);
	run(pg, VH_STATUS_PASS, "connected in 3ms", 1200, 3);
	run(proc, VH_STATUS_PASS, "rss 41 MiB, 12 threads", 500, 0);
	struct vh_check_result result;
	vh_check_result_set(&result, VH_STATUS_PASS, "rss 9 MiB");
	cr_assert(vh_check_result_add_measure(&result, "rss_bytes", "memory", 9437184, "bytes"));
	cr_assert(vh_check_result_add_measure(&result, "load", "utilization", 0.1, "ratio"));
	vh_state_apply(sidecar, &result, 1000, NOW_MONO - 2000, NOW_WALL - 2000, NULL);
}

Test(render, all_pass_is_ready_with_full_check_fields) {
	struct fixture f;
	healthy(&f);
	int code;
	json_t *json = render_json(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "ready");
	cr_assert_str_eq(str_at(json, "service"), "orders");
	cr_assert_eq(int_at(json, "timestamp"), NOW_WALL / 1000);
	cr_assert_null(json_object_get(json, "uptime"), "readiness has no uptime");
	json_t *checks = obj_at(json, "checks");
	cr_assert_eq(json_object_size(checks), 2, "sidecar only shows in /health");
	json_t *pg = obj_at(checks, "pg");
	cr_assert_str_eq(str_at(pg, "status"), "ready");
	cr_assert_str_eq(str_at(pg, "result"), "pass");
	cr_assert_str_eq(str_at(pg, "type"), "process");
	cr_assert(json_is_true(json_object_get(pg, "critical")));
	json_t *groups = json_object_get(pg, "groups");
	cr_assert_eq(json_array_size(groups), 1);
	cr_assert_str_eq(json_string_value(json_array_get(groups, 0)), "readiness");
	cr_assert_str_eq(str_at(pg, "output"), "connected in 3ms");
	cr_assert_null(json_object_get(pg, "error"));
	cr_assert_eq(int_at(pg, "duration_ms"), 3);
	cr_assert_eq(int_at(pg, "age_ms"), 1200);
	cr_assert_str_eq(str_at(pg, "last_run"), "2026-11-24T11:59:58.800Z");
	cr_assert_str_eq(str_at(pg, "last_transition"), "2026-11-24T11:59:58.800Z");
	cr_assert_eq(int_at(pg, "consecutive_failures"), 0);
	cr_assert_eq(int_at(pg, "consecutive_successes"), 1);
	cr_assert_null(json_object_get(pg, "failing_for_ms"));
	cr_assert_eq(json_object_size(obj_at(pg, "observed")), 0);
	json_t *proc_groups = json_object_get(obj_at(checks, "proc"), "groups");
	cr_assert_eq(json_array_size(proc_groups), 2);
	cr_assert_str_eq(json_string_value(json_array_get(proc_groups, 0)), "liveness");
	json_decref(json);
}

Test(render, observed_values_print_as_people_expect) {
	struct fixture f;
	healthy(&f);
	int code;
	char *body = render(&f, "/health", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert(strstr(body,
				  "\"observed\":{\"rss_bytes\":{\"value\":9437184,\"unit\":"
				  "\"bytes\"},"
				  "\"load\":{\"value\":0.1,\"unit\":\"ratio\"}}"),
			"%s", body);
	free(body);
}

Test(render, json_numbers) {
	char *text;
	json_t *n = vh_render_json_number(12.0);
	cr_assert(json_is_integer(n));
	json_decref(n);
	n = vh_render_json_number(0.25);
	cr_assert(json_is_real(n));
	json_decref(n);
	n = vh_render_json_number(HUGE_VAL);
	cr_assert(json_is_null(n));
	json_decref(n);
	struct evbuffer *buf = evbuffer_new();
	n = json_pack("{s:f}", "v", 0.1 + 0.2);
	cr_assert(vh_render_json_append(n, buf));
	json_decref(n);
	text = calloc(1, evbuffer_get_length(buf) + 1);
	evbuffer_remove(buf, text, evbuffer_get_length(buf));
	cr_assert_str_eq(text, "{\"v\":0.3}");
	free(text);
	evbuffer_free(buf);
}

Test(render, critical_readiness_failure_is_unready) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 2000, 0);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	int code;
	json_t *json = render_json(&f, "/readyz", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "status"), "unready");
	json_t *pg = obj_at(obj_at(json, "checks"), "pg");
	cr_assert_str_eq(str_at(pg, "status"), "unready");
	cr_assert_str_eq(str_at(pg, "result"), "fail");
	cr_assert_str_eq(str_at(pg, "error"), "connection refused");
	cr_assert_null(json_object_get(pg, "output"));
	cr_assert_eq(int_at(pg, "consecutive_failures"), 2);
	cr_assert_eq(int_at(pg, "failing_for_ms"), 2000);
	cr_assert_str_eq(str_at(obj_at(obj_at(json, "checks"), "proc"), "status"), "ready");
	json_decref(json);

	json = render_json(&f, "/livez", NULL, NULL, &code);
	cr_assert_eq(code, 200, "pg is not in liveness");
	cr_assert_str_eq(str_at(json, "status"), "alive");
	json_decref(json);
}

Test(render, non_critical_failure_is_a_warning) {
	struct fixture f;
	healthy(&f);
	f.configs[0].critical = false;
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	int code;
	json_t *json = render_json(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "ready");
	json_t *pg = obj_at(obj_at(json, "checks"), "pg");
	cr_assert_str_eq(str_at(pg, "status"), "ready");
	cr_assert_str_eq(str_at(pg, "result"), "warn");
	cr_assert(json_is_false(json_object_get(pg, "critical")));
	cr_assert_str_eq(str_at(pg, "error"), "connection refused");
	json_decref(json);

	json = render_json(&f, "/health", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "warn");
	cr_assert_str_eq(str_at(obj_at(obj_at(json, "checks"), "pg"), "status"), "warn");
	json_decref(json);
}

Test(render, never_run_fails_readiness_but_not_liveness) {
	struct fixture f;
	fixture_init(&f);
	add_check(&f, "pg", VH_GROUP_READINESS | VH_GROUP_LIVENESS, true);
	int code;
	json_t *json = render_json(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "status"), "unready");
	json_t *pg = obj_at(obj_at(json, "checks"), "pg");
	cr_assert_str_eq(str_at(pg, "result"), "unknown");
	cr_assert_str_eq(str_at(pg, "output"), "not run yet");
	cr_assert_null(json_object_get(pg, "duration_ms"));
	cr_assert_null(json_object_get(pg, "last_run"));
	json_decref(json);

	json = render_json(&f, "/live", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "alive");
	cr_assert_str_eq(str_at(json, "uptime"), "3h12m");
	cr_assert_eq(int_at(json, "uptime_seconds"), UPTIME_MS / 1000);
	cr_assert_str_eq(str_at(obj_at(obj_at(json, "checks"), "pg"), "status"), "alive");
	json_decref(json);

	json = render_json(&f, "/health", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "status"), "fail");
	cr_assert_str_eq(str_at(json, "uptime"), "3h12m");
	json_decref(json);
}

Test(render, startup_latches) {
	struct fixture f;
	fixture_init(&f);
	struct vh_check_state *pg = add_check(&f, "pg", VH_GROUP_READINESS, true);
	int code;
	json_t *json = render_json(&f, "/startupz", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "status"), "starting");
	cr_assert_str_eq(str_at(obj_at(obj_at(json, "checks"), "pg"), "status"), "starting");
	json_decref(json);

	run(pg, VH_STATUS_PASS, "ok", 3000, 1);
	run(pg, VH_STATUS_FAIL, "connection refused", 1000, 1);
	f.snapshot.startup_complete = true;
	json = render_json(&f, "/startup", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "started");
	json_t *check = obj_at(obj_at(json, "checks"), "pg");
	cr_assert_str_eq(str_at(check, "status"), "started");
	cr_assert_str_eq(str_at(check, "result"), "fail");
	json_decref(json);

	json = render_json(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 503, "readiness does not latch");
	json_decref(json);
}

Test(render, stale_result_fails) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_PASS, "connected in 3ms", 40000, 3);
	int code;
	json_t *json = render_json(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	json_t *pg = obj_at(obj_at(json, "checks"), "pg");
	cr_assert_str_eq(str_at(pg, "result"), "fail");
	cr_assert_str_eq(str_at(pg, "error"), "stale: last result 40.0s ago (limit 30.0s)");
	cr_assert_eq(int_at(pg, "age_ms"), 40000);
	json_decref(json);
	expect_text(&f, "/readyz/pg", NULL, 503,
			"internal server error: stale: last result 40.0s ago (limit 30.0s)\n");
}

Test(render, exclude_removes_a_failing_check) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	int code;
	json_t *json = render_json(&f, "/ready", "exclude=pg", NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "ready");
	cr_assert_null(json_object_get(obj_at(json, "checks"), "pg"));
	cr_assert_not_null(json_object_get(obj_at(json, "checks"), "proc"));
	json_decref(json);
}

Test(render, check_request_json) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	int code;
	json_t *json = render_json(&f, "/readyz/pg", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "name"), "pg");
	cr_assert_str_eq(str_at(json, "status"), "unready");
	cr_assert_str_eq(str_at(json, "error"), "connection refused");
	cr_assert_null(json_object_get(json, "checks"));
	json_decref(json);

	json = render_json(&f, "/health/sidecar", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "name"), "sidecar");
	cr_assert_str_eq(str_at(json, "status"), "pass");
	cr_assert_eq(json_array_size(json_object_get(json, "groups")), 0);
	json_decref(json);
}

Test(render, rise_and_fall_explain_themselves) {
	struct fixture f;
	healthy(&f);
	f.configs[0].fall = 3;
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	int code;
	json_t *json = render_json(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 200, "one failure of three needed does not flip");
	json_t *pg = obj_at(obj_at(json, "checks"), "pg");
	cr_assert_str_eq(str_at(pg, "result"), "pass");
	cr_assert_str_eq(str_at(pg, "output"),
			"last run failed, 1 of 3 in a row needed: connection refused");
	json_decref(json);
}

Test(render, text_ok_and_verbose) {
	struct fixture f;
	healthy(&f);
	expect_text(&f, "/readyz", NULL, 200, "ok");
	expect_text(&f, "/readyz", "verbose", 200,
			"[+]pg ok (connected in 3ms; took 3ms, 1.2s ago)\n"
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"readyz check passed\n");
	expect_text(&f, "/healthz", "verbose", 200,
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"livez check passed\n");
	expect_text(&f, "/health", "verbose", 200,
			"[+]pg ok (connected in 3ms; took 3ms, 1.2s ago)\n"
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"[+]sidecar ok (rss 9 MiB; took 1ms, 2.0s ago)\n"
			"healthz check passed\n");
}

Test(render, text_failure_is_always_verbose) {
	struct fixture f;
	healthy(&f);
	struct vh_check_state *redis = add_check(&f, "redis", VH_GROUP_READINESS, true);
	struct vh_check_state *cache = add_check(&f, "cache", VH_GROUP_READINESS, false);
	add_check(&f, "queue", VH_GROUP_READINESS, true);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 3000, 0);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	run(redis, VH_STATUS_FAIL, "timeout", 1000, 500);
	run(cache, VH_STATUS_WARN, "hit rate 40%", 1000, 2);
	expect_text(&f, "/readyz", NULL, 503,
			"[-]pg failed: connection refused (failing for 3.0s, 2 in a row)\n"
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"[-]redis failed: timeout (failing for 1.5s, 1 in a row)\n"
			"[+]cache warn: hit rate 40% (took 2ms, 1.0s ago)\n"
			"[-]queue failed: not run yet\n"
			"readyz check failed\n");
}

Test(render, text_excludes) {
	struct fixture f;
	healthy(&f);
	struct vh_check_state *redis = add_check(&f, "redis", VH_GROUP_READINESS, true);
	run(redis, VH_STATUS_FAIL, "timeout", 1000, 0);
	expect_text(&f, "/readyz", "exclude=redis", 200, "ok");
	expect_text(&f, "/readyz", "verbose&exclude=redis", 200,
			"[+]pg ok (connected in 3ms; took 3ms, 1.2s ago)\n"
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"[+]redis excluded: ok\n"
			"readyz check passed\n");
	/* sidecar exists but is not in readiness, so it cannot be excluded from it. */
	expect_text(&f, "/readyz", "exclude=nope&exclude=sidecar&exclude=pg", 503,
			"[+]pg excluded: ok\n"
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"[-]redis failed: timeout (failing for 1.0s, 1 in a row)\n"
			"warn: some health checks cannot be excluded: no matches for "
			"\"nope\",\"sidecar\"\n"
			"readyz check failed\n");
}

Test(render, text_check_requests) {
	struct fixture f;
	healthy(&f);
	run(&f.states[1], VH_STATUS_FAIL, "process 4100 is gone", 1000, 0);
	expect_text(&f, "/readyz/pg", NULL, 200, "ok");
	expect_text(&f, "/readyz/pg", "verbose", 200,
			"[+]pg ok (connected in 3ms; took 3ms, 1.2s ago)\n");
	expect_text(&f, "/livez/proc", NULL, 503, "internal server error: process 4100 is gone\n");
	expect_text(&f, "/livez/proc", "verbose", 503,
			"[-]proc failed: process 4100 is gone (failing for 1.0s, 1 in a row)\n");
}

Test(render, text_never_shows_raw_newlines) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_FAIL, "bad\r\nthings\n[+]forged ok", 1000, 0);
	expect_text(&f, "/readyz", NULL, 503,
			"[-]pg failed: bad  things [+]forged ok (failing for 1.0s, 1 in a row)\n"
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"readyz check failed\n");
	expect_text(&f, "/ready/pg", NULL, 503,
			"internal server error: bad  things [+]forged ok\n");
	/* Outputs are made one line when they are recorded, so JSON shows the same line. */
	int code;
	json_t *json = render_json(&f, "/ready/pg", NULL, NULL, &code);
	cr_assert_str_eq(str_at(json, "error"), "bad  things [+]forged ok");
	json_decref(json);
}

/* The first (only) entry of checks[key] in a health+json body. */
static json_t *entry_at(const json_t *json, const char *key) {
	json_t *array = json_object_get(obj_at(json, "checks"), key);
	cr_assert(json_is_array(array), "no \"%s\" in checks", key);
	cr_assert_eq(json_array_size(array), 1, "%s", key);
	return json_array_get(array, 0);
}

Test(render, health_json_warn) {
	struct fixture f;
	healthy(&f);
	struct vh_check_state *cache = add_check(&f, "cache", VH_GROUP_READINESS, false);
	f.configs[3].type = VH_CHECK_CGROUP; /* cache's config */
	run(cache, VH_STATUS_FAIL, "memory above 85%", 1000, 4);
	int code;
	json_t *json = render_json(&f, "/health", NULL, "application/health+json", &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "warn");
	cr_assert_str_eq(str_at(json, "version"), "1");
	cr_assert_str_eq(str_at(json, "serviceId"), "orders");
	cr_assert_str_eq(str_at(json, "description"),
			"health of orders (veza-health sidecar, healthz)");
	cr_assert_null(json_object_get(json, "notes"));
	json_t *checks = obj_at(json, "checks");
	cr_assert_eq(json_object_size(checks), 6, "pg, proc, cache: responseTime; sidecar: 3");
	json_t *warn = entry_at(json, "cache:responseTime");
	cr_assert_str_eq(str_at(warn, "componentId"), "cache");
	cr_assert_str_eq(str_at(warn, "componentType"), "system");
	cr_assert_str_eq(str_at(warn, "status"), "warn");
	cr_assert_str_eq(str_at(warn, "output"), "memory above 85%");
	cr_assert_eq(int_at(warn, "observedValue"), 4);
	cr_assert_str_eq(str_at(warn, "observedUnit"), "ms");
	cr_assert_str_eq(str_at(warn, "time"), "2026-11-24T11:59:59.000Z");
	json_t *pass = entry_at(json, "pg:responseTime");
	cr_assert_str_eq(str_at(pass, "status"), "pass");
	cr_assert_null(json_object_get(pass, "output"), "output is omitted on pass");
	json_t *memory = entry_at(json, "sidecar:memory");
	cr_assert_eq(int_at(memory, "observedValue"), 9437184);
	cr_assert_str_eq(str_at(memory, "observedUnit"), "bytes");
	cr_assert(json_is_real(
			json_object_get(entry_at(json, "sidecar:utilization"), "observedValue")));
	json_decref(json);
}

Test(render, health_json_fail) {
	struct fixture f;
	healthy(&f);
	add_check(&f, "queue", VH_GROUP_READINESS, true);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	int code;
	json_t *json = render_json(&f, "/ready", "exclude=proc&exclude=nope",
			"application/health+json", &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "status"), "fail");
	cr_assert_str_eq(str_at(json, "description"),
			"health of orders (veza-health sidecar, readyz)");
	json_t *fail = entry_at(json, "pg:responseTime");
	cr_assert_str_eq(str_at(fail, "status"), "fail");
	cr_assert_str_eq(str_at(fail, "output"), "connection refused");
	json_t *never = entry_at(json, "queue:responseTime");
	cr_assert_str_eq(str_at(never, "status"), "fail");
	cr_assert_str_eq(str_at(never, "output"), "not run yet");
	cr_assert_null(json_object_get(never, "observedValue"));
	cr_assert_null(json_object_get(never, "time"));
	cr_assert_null(json_object_get(obj_at(json, "checks"), "proc:responseTime"));
	json_t *notes = json_object_get(json, "notes");
	cr_assert_eq(json_array_size(notes), 2);
	cr_assert_str_eq(json_string_value(json_array_get(notes, 0)), "proc excluded by request");
	cr_assert_str_eq(json_string_value(json_array_get(notes, 1)),
			"cannot exclude nope: no such check in this probe");
	json_decref(json);

	json = render_json(&f, "/readyz/pg", "format=health", NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "status"), "fail");
	cr_assert_str_eq(str_at(json, "description"),
			"health of orders (veza-health sidecar, readyz/pg)");
	cr_assert_eq(json_object_size(obj_at(json, "checks")), 1);
	json_decref(json);
}

Test(render, health_json_liveness_tolerates_checks_not_run) {
	struct fixture f;
	fixture_init(&f);
	add_check(&f, "proc", VH_GROUP_LIVENESS, true);
	int code;
	json_t *json = render_json(&f, "/livez", NULL, "application/health+json", &code);
	cr_assert_eq(code, 200);
	cr_assert_str_eq(str_at(json, "status"), "warn");
	json_t *entry = entry_at(json, "proc:responseTime");
	cr_assert_str_eq(str_at(entry, "status"), "warn");
	cr_assert_str_eq(str_at(entry, "output"), "not run yet");
	json_decref(json);
}

Test(render, content_types) {
	cr_assert_str_eq(vh_render_content_type(VH_FORMAT_JSON), "application/json");
	cr_assert_str_eq(vh_render_content_type(VH_FORMAT_TEXT), "text/plain; charset=utf-8");
	cr_assert_str_eq(vh_render_content_type(VH_FORMAT_HEALTH_JSON), "application/health+json");
}

Test(render, every_format_agrees_on_the_code) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused", 1000, 0);
	static const char *const accepts[] = {
			"application/json", "text/plain", "application/health+json"};
	static const char *const paths[] = {"/ready", "/live", "/startup", "/health", "/ready/pg",
			"/health/pg", "/live/proc"};
	/* pg has passed once, so startup passes without the latch. */
	static const int codes[] = {503, 200, 200, 503, 503, 503, 200};
	for (size_t p = 0; p < VH_ARRAY_LEN(paths); p++) {
		for (size_t a = 0; a < VH_ARRAY_LEN(accepts); a++) {
			int code;
			free(render(&f, paths[p], NULL, accepts[a], &code));
			cr_assert_eq(code, codes[p], "%s as %s: %d", paths[p], accepts[a], code);
		}
	}
}

Test(render, draining_fails_readiness_only) {
	struct fixture f;
	healthy(&f);
	f.snapshot.draining = true;
	f.snapshot.startup_complete = true;
	int code;
	json_t *json = render_json(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(str_at(json, "status"), "draining");
	json_decref(json);
	json = render_json(&f, "/live", NULL, NULL, &code);
	cr_assert_eq(code, 200, "liveness does not drain");
	json_decref(json);
	json = render_json(&f, "/startup", NULL, NULL, &code);
	cr_assert_eq(code, 200);
	json_decref(json);
	json = render_json(&f, "/ready/pg", NULL, NULL, &code);
	cr_assert_eq(code, 200, "one check's answer is about the check");
	json_decref(json);
	expect_text(&f, "/readyz", NULL, 503,
			"[+]pg ok (connected in 3ms; took 3ms, 1.2s ago)\n"
			"[+]proc ok (rss 41 MiB, 12 threads; took 0ms, 500ms ago)\n"
			"[-]shutdown failed: draining before exit\n"
			"readyz check failed\n");
}

/* Renders as a client without access to details sees it. */
static char *render_plain(const struct fixture *f, const char *path, const char *query,
		const char *accept, int *code) {
	struct vh_request request = request_for(path, query, accept);
	request.details = false;
	struct evbuffer *buf = evbuffer_new();
	cr_assert_not_null(buf);
	*code = vh_render(&f->snapshot, &request, buf);
	size_t len = evbuffer_get_length(buf);
	char *body = calloc(1, len + 1);
	cr_assert_not_null(body);
	evbuffer_remove(buf, body, len);
	evbuffer_free(buf);
	return body;
}

Test(render, without_details_bodies_carry_statuses_only) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused (10.0.0.7:5432)", 1000, 4);
	int code;
	char *body = render_plain(&f, "/ready", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(body,
			"{\"status\":\"unready\",\"checks\":{\"pg\":{\"status\":\"unready\"},"
			"\"proc\":{\"status\":\"ready\"}}}");
	free(body);
	body = render_plain(&f, "/health/pg", NULL, NULL, &code);
	cr_assert_eq(code, 503);
	cr_assert_str_eq(body, "{\"name\":\"pg\",\"status\":\"fail\"}");
	free(body);
	body = render_plain(&f, "/readyz", "verbose", NULL, &code);
	cr_assert_str_eq(body, "[-]pg failed\n[+]proc ok\nreadyz check failed\n");
	free(body);
	body = render_plain(&f, "/readyz/pg", NULL, "text/plain", &code);
	cr_assert_str_eq(body, "internal server error: check failed\n");
	free(body);
	body = render_plain(&f, "/ready", NULL, "application/health+json", &code);
	cr_assert_str_eq(body,
			"{\"status\":\"fail\",\"checks\":{\"pg\":[{\"status\":\"fail\"}],"
			"\"proc\":[{\"status\":\"pass\"}]}}");
	free(body);
}

Test(render, details_never_change_the_code_or_leak_an_output) {
	struct fixture f;
	healthy(&f);
	run(&f.states[0], VH_STATUS_FAIL, "connection refused (10.0.0.7:5432)", 1000, 4);
	static const char *const accepts[] = {
			"application/json", "text/plain", "application/health+json"};
	static const char *const paths[] = {"/ready", "/live", "/startup", "/health", "/ready/pg",
			"/health/pg", "/live/proc", "/health/sidecar"};
	static const char *const queries[] = {NULL, "verbose", "exclude=proc"};
	for (size_t p = 0; p < VH_ARRAY_LEN(paths); p++) {
		for (size_t a = 0; a < VH_ARRAY_LEN(accepts); a++) {
			for (size_t q = 0; q < VH_ARRAY_LEN(queries); q++) {
				int with, without;
				free(render(&f, paths[p], queries[q], accepts[a], &with));
				char *body = render_plain(
						&f, paths[p], queries[q], accepts[a], &without);
				cr_assert_eq(with, without, "%s as %s", paths[p], accepts[a]);
				cr_assert_null(strstr(body, "10.0.0.7"), "%s: %s", paths[p], body);
				cr_assert_null(strstr(body, "orders"), "the service is a detail");
				cr_assert_null(strstr(body, "rss"), "%s: %s", paths[p], body);
				free(body);
			}
		}
	}
}
