/* test_scheduler.c - the engine on a real event loop with fake probes: timeouts, late reports,
 * intervals, jitter and the startup latch. */
#include <criterion/criterion.h>
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/scheduler.h"

/* How a fake probe behaves once started. */
enum fake_mode {
	FAKE_PASS, /* reports at once */
	FAKE_FAIL, /* reports a failure at once */
	FAKE_HANG, /* never reports */
	FAKE_LATE, /* reports after late_ms, even if cancelled (a buggy probe) */
	FAKE_NO_START, /* start() refuses */
};

struct fake {
	enum fake_mode mode;
	int64_t late_ms;
	struct event *late;
	vh_probe_done_fn done;
	void *arg;
	uint64_t run;
	int starts;
	int cancels;
	int *destroyed;
};

static void on_late(evutil_socket_t fd, short what, void *arg) {
	struct fake *fake = arg;
	struct vh_check_result result;
	vh_check_result_set(&result, VH_STATUS_PASS, "late pass");
	fake->done(fake->arg, fake->run, &result);
}

static bool fake_start(void *impl, uint64_t run, vh_probe_done_fn done, void *arg) {
	struct fake *fake = impl;
	struct vh_check_result result;
	fake->starts++;
	fake->done = done;
	fake->arg = arg;
	fake->run = run;
	switch (fake->mode) {
	case FAKE_PASS:
	case FAKE_FAIL:
		vh_check_result_set(&result,
				fake->mode == FAKE_PASS ? VH_STATUS_PASS : VH_STATUS_FAIL, "run %d",
				fake->starts);
		done(arg, run, &result);
		return true;
	case FAKE_HANG:
		return true;
	case FAKE_LATE: {
		struct timeval tv = {0, (suseconds_t)fake->late_ms * 1000};
		evtimer_add(fake->late, &tv);
		return true;
	}
	case FAKE_NO_START:
		return false;
	}
	return false;
}

static void fake_cancel(void *impl) {
	struct fake *fake = impl;
	fake->cancels++;
}

static void fake_destroy(void *impl) {
	struct fake *fake = impl;
	if (fake->late) {
		event_free(fake->late);
	}
	(*fake->destroyed)++;
	free(fake);
}

static const struct vh_probe_ops fake_ops = {"fake", fake_start, fake_cancel, fake_destroy};

static struct event_base *base;
static struct vh_scheduler *sched;
static int destroyed;

static void setup(void) {
	char err[128];
	base = event_base_new();
	cr_assert_not_null(base);
	sched = vh_scheduler_create(base, 42, err, sizeof(err));
	cr_assert_not_null(sched, "%s", err);
	destroyed = 0;
}

static void teardown(void) {
	vh_scheduler_destroy(sched);
	event_base_free(base);
}

TestSuite(scheduler, .init = setup, .fini = teardown, .timeout = 20);

static struct vh_check_config make_config(const char *name, int64_t interval, int64_t timeout) {
	struct vh_check_config config;
	memset(&config, 0, sizeof(config));
	snprintf(config.name, sizeof(config.name), "%s", name);
	config.groups = VH_GROUP_READINESS;
	config.critical = true;
	config.interval_ms = interval;
	config.fail_interval_ms = interval;
	config.unknown_interval_ms = interval;
	config.timeout_ms = timeout;
	config.stale_after_ms = 60000;
	config.rise = 1;
	config.fall = 1;
	return config;
}

static struct fake *add_fake(const struct vh_check_config *config, enum fake_mode mode) {
	char err[128];
	struct fake *fake = calloc(1, sizeof(*fake));
	fake->mode = mode;
	fake->destroyed = &destroyed;
	fake->late = evtimer_new(base, on_late, fake);
	struct vh_probe probe = {&fake_ops, fake};
	cr_assert(vh_scheduler_add(sched, config, probe, err, sizeof(err)), "%s", err);
	return fake;
}

static void run_loop_ms(int64_t ms) {
	struct timeval tv = {ms / 1000, (suseconds_t)(ms % 1000) * 1000};
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

static void start(void) {
	char err[128];
	cr_assert(vh_scheduler_start(sched, err, sizeof(err)), "%s", err);
}

static const struct vh_check_state *state_of(const char *name) {
	struct vh_snapshot snap;
	vh_scheduler_snapshot(sched, "svc", &snap);
	const struct vh_check_state *state = vh_snapshot_find(&snap, name);
	cr_assert_not_null(state);
	return state;
}

Test(scheduler, runs_checks_on_their_interval) {
	static struct vh_check_config config;
	config = make_config("ok", 50, 1000);
	struct fake *fake = add_fake(&config, FAKE_PASS);
	start();
	run_loop_ms(275);
	const struct vh_check_state *state = state_of("ok");
	cr_assert_eq(state->status, VH_STATUS_PASS);
	/* First run at 0, then every 50 ms: about 6 runs; a loaded machine may manage fewer. */
	cr_assert_geq(fake->starts, 3);
	cr_assert_leq(fake->starts, 7);
	cr_assert_eq(state->runs, (uint64_t)fake->starts);
	char expected[32];
	snprintf(expected, sizeof(expected), "run %d", fake->starts);
	cr_assert_str_eq(state->last.output, expected, "the state holds the latest run's output");
}

Test(scheduler, engine_enforces_the_timeout) {
	static struct vh_check_config config;
	config = make_config("hang", 1000, 40);
	struct fake *fake = add_fake(&config, FAKE_HANG);
	start();
	run_loop_ms(200);
	const struct vh_check_state *state = state_of("hang");
	cr_assert_eq(state->status, VH_STATUS_FAIL);
	cr_assert_str_eq(state->last.output, "timeout after 40 ms");
	cr_assert_eq(fake->cancels, 1, "the probe is cancelled when its deadline passes");
	cr_assert_geq(state->last_duration_us, 40000);
}

Test(scheduler, late_report_is_discarded) {
	static struct vh_check_config config;
	config = make_config("late", 1000, 30);
	struct fake *fake = add_fake(&config, FAKE_LATE);
	fake->late_ms = 100;
	start();
	run_loop_ms(250);
	const struct vh_check_state *state = state_of("late");
	cr_assert_eq(fake->starts, 1);
	cr_assert_eq(state->runs, 1, "the late report must not count as a run");
	cr_assert_eq(state->status, VH_STATUS_FAIL);
	cr_assert_str_eq(state->last.output, "timeout after 30 ms");
}

Test(scheduler, refused_start_is_a_failure) {
	static struct vh_check_config config;
	config = make_config("nostart", 1000, 100);
	add_fake(&config, FAKE_NO_START);
	start();
	run_loop_ms(50);
	const struct vh_check_state *state = state_of("nostart");
	cr_assert_eq(state->status, VH_STATUS_FAIL);
	cr_assert_str_eq(state->last.output, "fake check could not start");
}

Test(scheduler, initial_delay_holds_the_first_run) {
	static struct vh_check_config config;
	config = make_config("delayed", 1000, 100);
	config.initial_delay_ms = 300;
	struct fake *fake = add_fake(&config, FAKE_PASS);
	start();
	run_loop_ms(100);
	cr_assert_eq(fake->starts, 0);
	run_loop_ms(400);
	cr_assert_eq(fake->starts, 1);
}

Test(scheduler, the_first_run_is_not_jittered) {
	static struct vh_check_config config;
	config = make_config("prompt", 1000, 100);
	config.jitter_ms = 500;
	struct fake *fake = add_fake(&config, FAKE_PASS);
	start();
	run_loop_ms(60);
	cr_assert_eq(fake->starts, 1, "the first run starts at once, whatever the jitter");
}

Test(scheduler, failing_checks_use_the_fail_interval) {
	static struct vh_check_config failing, passing;
	failing = make_config("failing", 5000, 100);
	failing.fail_interval_ms = 20;
	passing = make_config("passing", 5000, 100);
	passing.fail_interval_ms = 20;
	struct fake *f = add_fake(&failing, FAKE_FAIL);
	struct fake *p = add_fake(&passing, FAKE_PASS);
	start();
	run_loop_ms(200);
	cr_assert_geq(f->starts, 4, "a failing check is re-run every fail_interval");
	cr_assert_eq(p->starts, 1, "a passing check waits its full interval");
}

Test(scheduler, startup_latch_and_snapshot) {
	static struct vh_check_config config;
	config = make_config("ready", 1000, 100);
	add_fake(&config, FAKE_PASS);
	struct vh_snapshot snap;
	vh_scheduler_snapshot(sched, "svc", &snap);
	cr_assert_not(snap.startup_complete);
	start();
	run_loop_ms(30);
	vh_scheduler_snapshot(sched, "svc", &snap);
	cr_assert(snap.startup_complete);
	cr_assert_str_eq(snap.service, "svc");
	cr_assert_eq(snap.n_checks, 1);
	cr_assert_geq(snap.now_mono_ms, snap.started_mono_ms);
}

Test(scheduler, version_moves_with_every_run_and_the_drain) {
	static struct vh_check_config config;
	config = make_config("v", 1000, 100);
	add_fake(&config, FAKE_PASS);
	struct vh_snapshot before, after;
	vh_scheduler_snapshot(sched, "svc", &before);
	start();
	run_loop_ms(30);
	vh_scheduler_snapshot(sched, "svc", &after);
	cr_assert_neq(after.version, before.version, "a finished run changes the version");
	before = after;
	run_loop_ms(20);
	vh_scheduler_snapshot(sched, "svc", &after);
	cr_assert_eq(after.version, before.version, "no run, no change: a cached body stays valid");
	vh_scheduler_drain(sched);
	vh_scheduler_snapshot(sched, "svc", &after);
	cr_assert_neq(after.version, before.version, "the drain changes what readiness says");
}

Test(scheduler, destroy_cancels_runs_in_flight) {
	static struct vh_check_config config;
	config = make_config("hang", 1000, 5000);
	struct fake *fake = add_fake(&config, FAKE_HANG);
	start();
	run_loop_ms(30);
	cr_assert_eq(fake->starts, 1);
	vh_scheduler_destroy(sched);
	sched = NULL;
	cr_assert_eq(destroyed, 1);
}

Test(scheduler, add_after_start_is_refused) {
	static struct vh_check_config a, b;
	char err[128];
	a = make_config("a", 1000, 100);
	b = make_config("b", 1000, 100);
	add_fake(&a, FAKE_PASS);
	start();
	struct fake *fake = calloc(1, sizeof(*fake));
	fake->destroyed = &destroyed;
	struct vh_probe probe = {&fake_ops, fake};
	cr_assert_not(vh_scheduler_add(sched, &b, probe, err, sizeof(err)));
	cr_assert_str_eq(err, "cannot add check \"b\": scheduler already started");
	cr_assert_eq(destroyed, 1, "the scheduler owns the probe even when add fails");
}

Test(scheduler_delay, interval_follows_status) {
	struct vh_check_config config = make_config("d", 1000, 100);
	struct vh_check_state state;
	config.fail_interval_ms = 300;
	config.unknown_interval_ms = 200;
	vh_state_init(&state, &config);
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 7), 200, "unknown");
	state.status = VH_STATUS_PASS;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 7), 1000, "pass");
	state.status = VH_STATUS_WARN;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 7), 1000, "warn");
	state.consecutive_fail = 1;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 7), 200, "a fall is pending");
	state.status = VH_STATUS_FAIL;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 7), 300, "fail");
	state.consecutive_fail = 0;
	state.consecutive_ok = 1;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 7), 200, "a rise is pending");
}

Test(scheduler_delay, jitter_stays_in_bounds) {
	struct vh_check_config config = make_config("j", 1000, 100);
	struct vh_check_state state;
	config.jitter_ms = 100;
	vh_state_init(&state, &config);
	state.status = VH_STATUS_PASS;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 0), 1000);
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 100), 1100);
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 101), 1000);
	int64_t lo = 1 << 30, hi = 0;
	for (uint32_t r = 0; r < 100000; r += 7) {
		int64_t d = vh_scheduler_next_delay(&config, &state, r * 2654435761u);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	cr_assert_geq(lo, 1000);
	cr_assert_leq(hi, 1100);
	cr_assert_lt(lo, 1010, "jitter spreads down to the interval");
	cr_assert_gt(hi, 1090, "and up to interval + jitter");
}

Test(scheduler_delay, jitter_shrinks_with_faster_intervals) {
	struct vh_check_config config = make_config("j", 3600000, 100);
	struct vh_check_state state;
	config.jitter_ms = 360000;
	config.unknown_interval_ms = 1000;
	vh_state_init(&state, &config);
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 100), 1100);
	cr_assert_leq(vh_scheduler_next_delay(&config, &state, 12345), 1100,
			"a 1 s retry under a 1 h interval gets at most 100 ms of jitter");
	state.status = VH_STATUS_PASS;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 360000), 3960000);
}

Test(scheduler_delay, no_jitter_means_exact) {
	struct vh_check_config config = make_config("j", 1000, 100);
	struct vh_check_state state;
	vh_state_init(&state, &config);
	state.status = VH_STATUS_PASS;
	cr_assert_eq(vh_scheduler_next_delay(&config, &state, 0xffffffffu), 1000);
}
