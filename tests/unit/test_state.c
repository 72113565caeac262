/* test_state.c - rise/fall, staleness, criticality and group rules. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vh/state.h"

static struct vh_check_config make_config(
		const char *name, unsigned groups, unsigned rise, unsigned fall) {
	struct vh_check_config config;
	memset(&config, 0, sizeof(config));
	snprintf(config.name, sizeof(config.name), "%s", name);
	config.groups = groups;
	config.critical = true;
	config.interval_ms = 1000;
	config.fail_interval_ms = 1000;
	config.unknown_interval_ms = 1000;
	config.timeout_ms = 500;
	config.stale_after_ms = 5000;
	config.rise = rise;
	config.fall = fall;
	return config;
}

static struct vh_check_result result_of(enum vh_status status, const char *output) {
	struct vh_check_result result;
	vh_check_result_set(&result, status, "%s", output);
	return result;
}

static bool apply(struct vh_check_state *state, enum vh_status status, int64_t now,
		struct vh_transition *t) {
	struct vh_check_result result = result_of(status, vh_status_name(status));
	return vh_state_apply(state, &result, 10000, now, 1700000000000 + now, t);
}

Test(state, starts_unknown) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	cr_assert_eq(state.status, VH_STATUS_UNKNOWN);
	cr_assert_not(state.has_run);
	cr_assert_eq(vh_state_effective(&state, 100000), VH_STATUS_UNKNOWN);
	cr_assert_not(vh_state_check_passes(&state, VH_PROBE_READINESS, 0));
	cr_assert(vh_state_check_passes(&state, VH_PROBE_LIVENESS, 0),
			"a check that has not run must not fail liveness");
	cr_assert_not(vh_state_check_passes(&state, VH_PROBE_STARTUP, 0));
}

Test(state, first_pass_settles_with_rise_one) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_state state;
	struct vh_transition t;
	vh_state_init(&state, &config);
	cr_assert(apply(&state, VH_STATUS_PASS, 1000, &t));
	cr_assert_eq(t.from, VH_STATUS_UNKNOWN);
	cr_assert_eq(t.to, VH_STATUS_PASS);
	cr_assert_eq(state.transitions, 1);
	cr_assert_eq(state.last_transition_mono_ms, 1000);
	cr_assert_eq(state.last_duration_us, 10000);
	cr_assert(state.ever_passed);
	cr_assert_str_eq(state.last.output, "pass");
}

Test(state, fall_needs_consecutive_failures) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 3);
	struct vh_check_state state;
	struct vh_transition t;
	vh_state_init(&state, &config);
	apply(&state, VH_STATUS_PASS, 1000, NULL);
	cr_assert_not(apply(&state, VH_STATUS_FAIL, 2000, &t));
	cr_assert_not(apply(&state, VH_STATUS_FAIL, 3000, &t));
	cr_assert_eq(state.status, VH_STATUS_PASS);
	cr_assert_eq(state.consecutive_fail, 2);
	cr_assert_eq(state.failing_since_mono_ms, 2000 - 10,
			"failing since the first failed run began");
	cr_assert(apply(&state, VH_STATUS_FAIL, 4000, &t));
	cr_assert_eq(t.from, VH_STATUS_PASS);
	cr_assert_eq(t.to, VH_STATUS_FAIL);
	cr_assert_eq(state.failures, 3);
}

Test(state, a_pass_resets_the_fall_count) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 2);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	apply(&state, VH_STATUS_PASS, 1000, NULL);
	apply(&state, VH_STATUS_FAIL, 2000, NULL);
	apply(&state, VH_STATUS_PASS, 3000, NULL);
	apply(&state, VH_STATUS_FAIL, 4000, NULL);
	cr_assert_eq(state.status, VH_STATUS_PASS);
	cr_assert_eq(state.consecutive_fail, 1);
	cr_assert_eq(state.failing_since_mono_ms, 4000 - 10);
}

Test(state, rise_needs_consecutive_successes) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 2, 1);
	struct vh_check_state state;
	struct vh_transition t;
	vh_state_init(&state, &config);
	cr_assert(apply(&state, VH_STATUS_FAIL, 1000, &t));
	cr_assert_eq(t.to, VH_STATUS_FAIL);
	cr_assert_not(apply(&state, VH_STATUS_PASS, 2000, &t));
	cr_assert_eq(state.status, VH_STATUS_FAIL);
	cr_assert(apply(&state, VH_STATUS_PASS, 3000, &t));
	cr_assert_eq(t.to, VH_STATUS_PASS);
	cr_assert_eq(state.failing_since_mono_ms, 0);
}

Test(state, unknown_waits_for_fall_failures) {
	struct vh_check_config config = make_config("a", VH_GROUP_LIVENESS, 1, 2);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	cr_assert_not(apply(&state, VH_STATUS_FAIL, 1000, NULL));
	cr_assert_eq(state.status, VH_STATUS_UNKNOWN);
	cr_assert(vh_state_check_passes(&state, VH_PROBE_LIVENESS, 1000));
	cr_assert(apply(&state, VH_STATUS_FAIL, 2000, NULL));
	cr_assert_eq(state.status, VH_STATUS_FAIL);
	cr_assert_not(vh_state_check_passes(&state, VH_PROBE_LIVENESS, 2000));
}

Test(state, pass_and_warn_switch_at_once) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 3, 3);
	struct vh_check_state state;
	struct vh_transition t;
	vh_state_init(&state, &config);
	apply(&state, VH_STATUS_PASS, 1000, NULL);
	apply(&state, VH_STATUS_PASS, 2000, NULL);
	apply(&state, VH_STATUS_PASS, 3000, NULL);
	cr_assert_eq(state.status, VH_STATUS_PASS);
	cr_assert(apply(&state, VH_STATUS_WARN, 4000, &t));
	cr_assert_eq(t.to, VH_STATUS_WARN);
	cr_assert(vh_state_check_passes(&state, VH_PROBE_READINESS, 4000), "warn never fails");
	cr_assert(apply(&state, VH_STATUS_PASS, 5000, &t));
	cr_assert_eq(t.to, VH_STATUS_PASS);
}

Test(state, stale_result_counts_as_failed) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	apply(&state, VH_STATUS_PASS, 1000, NULL);
	cr_assert_not(vh_state_is_stale(&state, 6000));
	cr_assert_eq(vh_state_effective(&state, 6000), VH_STATUS_PASS);
	cr_assert(vh_state_is_stale(&state, 6001));
	cr_assert_eq(vh_state_effective(&state, 6001), VH_STATUS_FAIL);
	cr_assert_not(vh_state_check_passes(&state, VH_PROBE_READINESS, 6001));
	cr_assert_not(vh_state_check_passes(&state, VH_PROBE_LIVENESS, 6001));
}

Test(state, non_critical_failure_is_a_warning) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_state state;
	config.critical = false;
	vh_state_init(&state, &config);
	apply(&state, VH_STATUS_FAIL, 1000, NULL);
	cr_assert_eq(state.status, VH_STATUS_FAIL);
	cr_assert_eq(vh_state_effective(&state, 1000), VH_STATUS_WARN);
	cr_assert(vh_state_check_passes(&state, VH_PROBE_READINESS, 1000));
	cr_assert(vh_state_check_passes(&state, VH_PROBE_STARTUP, 1000));
}

Test(state, groups_decide_membership) {
	struct vh_check_config live = make_config("l", VH_GROUP_LIVENESS, 1, 1);
	struct vh_check_config ready = make_config("r", VH_GROUP_READINESS, 1, 1);
	struct vh_check_config none = make_config("n", 0, 1, 1);
	struct vh_check_state s[3];
	vh_state_init(&s[0], &live);
	vh_state_init(&s[1], &ready);
	vh_state_init(&s[2], &none);
	cr_assert(vh_state_in_probe(&s[0], VH_PROBE_LIVENESS));
	cr_assert_not(vh_state_in_probe(&s[0], VH_PROBE_READINESS));
	cr_assert_not(vh_state_in_probe(&s[0], VH_PROBE_STARTUP));
	cr_assert(vh_state_in_probe(&s[1], VH_PROBE_READINESS));
	cr_assert(vh_state_in_probe(&s[1], VH_PROBE_STARTUP), "startup follows readiness");
	cr_assert_not(vh_state_in_probe(&s[2], VH_PROBE_LIVENESS));
	cr_assert_not(vh_state_in_probe(&s[2], VH_PROBE_READINESS));
	for (int i = 0; i < 3; i++) {
		cr_assert(vh_state_in_probe(&s[i], VH_PROBE_HEALTH));
	}
}

static struct vh_snapshot snapshot_of(struct vh_check_state *states, size_t n, int64_t now) {
	struct vh_snapshot snapshot = {
			.service = "svc", .checks = states, .n_checks = n, .now_mono_ms = now};
	return snapshot;
}

Test(state, snapshot_aggregates_and_excludes) {
	struct vh_check_config a = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_config b = make_config("b", VH_GROUP_READINESS | VH_GROUP_LIVENESS, 1, 1);
	struct vh_check_state s[2];
	vh_state_init(&s[0], &a);
	vh_state_init(&s[1], &b);
	apply(&s[0], VH_STATUS_PASS, 1000, NULL);
	apply(&s[1], VH_STATUS_FAIL, 1000, NULL);
	struct vh_snapshot snap = snapshot_of(s, 2, 1000);
	const char *exclude[] = {"b"};
	cr_assert_not(vh_snapshot_passes(&snap, VH_PROBE_READINESS, NULL, 0));
	cr_assert(vh_snapshot_passes(&snap, VH_PROBE_READINESS, exclude, 1));
	cr_assert_not(vh_snapshot_passes(&snap, VH_PROBE_LIVENESS, NULL, 0));
	cr_assert_not(vh_snapshot_passes(&snap, VH_PROBE_HEALTH, NULL, 0));
	cr_assert_eq(vh_snapshot_find(&snap, "b"), &s[1]);
	cr_assert_null(vh_snapshot_find(&snap, "c"));
}

Test(state, startup_latches) {
	struct vh_check_config a = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_state s;
	vh_state_init(&s, &a);
	struct vh_snapshot snap = snapshot_of(&s, 1, 1000);
	cr_assert_not(vh_snapshot_passes(&snap, VH_PROBE_STARTUP, NULL, 0));
	apply(&s, VH_STATUS_PASS, 1000, NULL);
	cr_assert(vh_snapshot_passes(&snap, VH_PROBE_STARTUP, NULL, 0));
	apply(&s, VH_STATUS_FAIL, 2000, NULL);
	cr_assert(vh_snapshot_passes(&snap, VH_PROBE_STARTUP, NULL, 0),
			"a check that passed once keeps startup passing");
	cr_assert_not(vh_snapshot_passes(&snap, VH_PROBE_READINESS, NULL, 0));
	snap.startup_complete = true;
	vh_state_init(&s, &a);
	cr_assert(vh_snapshot_passes(&snap, VH_PROBE_STARTUP, NULL, 0));
}

Test(state, empty_snapshot_passes_everything) {
	struct vh_snapshot snap = snapshot_of(NULL, 0, 0);
	cr_assert(vh_snapshot_passes(&snap, VH_PROBE_LIVENESS, NULL, 0));
	cr_assert(vh_snapshot_passes(&snap, VH_PROBE_READINESS, NULL, 0));
	cr_assert(vh_snapshot_passes(&snap, VH_PROBE_STARTUP, NULL, 0));
}

Test(state, durations_fill_the_histogram_buckets) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	struct vh_check_result result = result_of(VH_STATUS_PASS, "ok");
	/* On a bound counts in that bucket (Prometheus' le), just above it in the next. */
	vh_state_apply(&state, &result, 500, 1000, 1000, NULL);
	vh_state_apply(&state, &result, 501, 2000, 2000, NULL);
	vh_state_apply(&state, &result, 10000000, 3000, 3000, NULL);
	vh_state_apply(&state, &result, 10000001, 4000, 4000, NULL);
	vh_state_apply(&state, &result, -5, 5000, 5000, NULL);
	cr_assert_eq(state.duration_buckets[0], 2, "500 us and a negative duration clamped to 0");
	cr_assert_eq(state.duration_buckets[1], 1);
	cr_assert_eq(state.duration_buckets[VH_STATE_DURATION_BOUNDS - 1], 1);
	cr_assert_eq(state.duration_buckets[VH_STATE_DURATION_BOUNDS], 1, "+Inf");
	cr_assert_eq(state.duration_sum_us, 500 + 501 + 10000000 + 10000001);
	cr_assert_eq(state.last_duration_us, 0);
	for (size_t i = 1; i < VH_STATE_DURATION_BOUNDS; i++) {
		cr_assert_gt(vh_state_duration_bounds_us[i], vh_state_duration_bounds_us[i - 1]);
	}
}

Test(state, last_success_is_the_latest_passing_or_warning_run) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 1);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	apply(&state, VH_STATUS_FAIL, 1000, NULL);
	cr_assert_eq(state.last_success_wall_ms, 0, "never passed");
	apply(&state, VH_STATUS_WARN, 2000, NULL);
	cr_assert_eq(state.last_success_wall_ms, 1700000000000 + 2000);
	apply(&state, VH_STATUS_FAIL, 3000, NULL);
	cr_assert_eq(state.last_success_wall_ms, 1700000000000 + 2000, "a failure keeps it");
}

Test(state, history_records_runs_and_transitions) {
	struct vh_check_config config = make_config("a", VH_GROUP_READINESS, 1, 2);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	state.history = vh_history_create(8, 8);
	cr_assert_not_null(state.history);
	apply(&state, VH_STATUS_PASS, 1000, NULL);
	apply(&state, VH_STATUS_FAIL, 2000, NULL);
	apply(&state, VH_STATUS_FAIL, 3000, NULL);
	cr_assert_eq(vh_history_n_results(state.history), 3);
	const struct vh_history_result *latest = vh_history_result(state.history, 0);
	cr_assert_eq(latest->status, VH_STATUS_FAIL);
	cr_assert_eq(latest->wall_ms, 1700000000000 + 3000);
	cr_assert_eq(latest->duration_us, 10000);
	cr_assert_str_eq(latest->output, "fail");
	cr_assert_eq(vh_history_n_transitions(state.history), 2, "unknown->pass, pass->fail");
	const struct vh_history_transition *t = vh_history_transition(state.history, 0);
	cr_assert_eq(t->from, VH_STATUS_PASS);
	cr_assert_eq(t->to, VH_STATUS_FAIL);
	cr_assert_eq(t->wall_ms, 1700000000000 + 3000, "when fall was reached, not the first fail");
	t = vh_history_transition(state.history, 1);
	cr_assert_eq(t->from, VH_STATUS_UNKNOWN);
	cr_assert_eq(t->to, VH_STATUS_PASS);
	vh_history_destroy(state.history);
}
