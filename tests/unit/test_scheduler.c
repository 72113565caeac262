/* test_scheduler.c - the engine on a real event loop with fake probes: timeouts, late reports,
 * intervals, jitter, the startup latch and reloads. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <event2/event.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

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
	const char *phase; /* what phase() says; NULL says "" */
	unsigned unreachable_port; /* unreachable() says 127.0.0.1 and this port, when not 0 */
	int retries_now; /* retry_now() calls */
	int phases_before_cancel; /* phase() calls made while no cancel had come yet */
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

static void fake_phase(void *impl, char *buf, size_t len) {
	struct fake *fake = impl;
	fake->phases_before_cancel += fake->cancels == 0;
	snprintf(buf, len, "%s", fake->phase ? fake->phase : "");
}

static bool fake_unreachable(void *impl, char *addr, size_t len, unsigned *port) {
	struct fake *fake = impl;
	snprintf(addr, len, "127.0.0.1");
	*port = fake->unreachable_port;
	return fake->unreachable_port != 0;
}

/* As a real probe's connect would now get past TCP and fail later (a server starting up). */
static void fake_retry_now(void *impl) {
	struct fake *fake = impl;
	fake->retries_now++;
	fake->unreachable_port = 0;
}

static const struct vh_probe_ops fake_ops = {.type = "fake",
		.start = fake_start,
		.cancel = fake_cancel,
		.destroy = fake_destroy,
		.phase = fake_phase,
		.unreachable = fake_unreachable,
		.retry_now = fake_retry_now};

static struct event_base *base;
static struct vh_scheduler *sched;
static int destroyed;
static int made; /* probes made so far */
static char refused[VH_CONFIG_NAME_MAX]; /* the check whose probe cannot be made, or "" */

static struct fake *new_fake(enum fake_mode mode) {
	struct fake *fake = calloc(1, sizeof(*fake));
	fake->mode = mode;
	fake->destroyed = &destroyed;
	fake->late = evtimer_new(base, on_late, fake);
	return fake;
}

/* add_fake() picks the next probe's behaviour; without it, a check's name does: "hang..." hangs,
 * "fail..." fails, the rest pass. The last probe made is kept for the test to look at. */
static enum fake_mode *mode_override;
static struct fake *last_fake;

static bool make_probe(void *arg, const struct vh_check_config *config, struct vh_probe *out,
		char *err, size_t err_len) {
	if (strcmp(config->name, refused) == 0) {
		snprintf(err, err_len, "cannot make the probe of \"%s\"", config->name);
		return false;
	}
	enum fake_mode mode = FAKE_PASS;
	if (mode_override) {
		mode = *mode_override;
	} else if (strncmp(config->name, "hang", 4) == 0) {
		mode = FAKE_HANG;
	} else if (strncmp(config->name, "fail", 4) == 0) {
		mode = FAKE_FAIL;
	}
	last_fake = new_fake(mode);
	made++;
	*out = (struct vh_probe){&fake_ops, last_fake};
	return true;
}

static void setup(void) {
	char err[128];
	base = event_base_new();
	cr_assert_not_null(base);
	destroyed = 0;
	made = 0;
	refused[0] = '\0';
	mode_override = NULL;
	sched = vh_scheduler_create(base, 42, make_probe, NULL, err, sizeof(err));
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
	config.history.results = 32;
	config.history.transitions = 32;
	return config;
}

static struct fake *add_fake(const struct vh_check_config *config, enum fake_mode mode) {
	char err[128];
	mode_override = &mode;
	cr_assert(vh_scheduler_add(sched, config, err, sizeof(err)), "%s", err);
	mode_override = NULL;
	return last_fake;
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

Test(scheduler, timeout_names_the_phase_the_run_was_in) {
	static struct vh_check_config config;
	config = make_config("hang", 1000, 40);
	struct fake *fake = add_fake(&config, FAKE_HANG);
	fake->phase = "resolving \"db.internal\"";
	start();
	run_loop_ms(200);
	const struct vh_check_state *state = state_of("hang");
	cr_assert_str_eq(state->last.output, "timeout after 40 ms resolving \"db.internal\"");
	cr_assert_eq(fake->phases_before_cancel, 1, "the phase is asked once, before the cancel");
}

/* A free loopback port with nothing listening on it. */
static unsigned closed_port(void) {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t len = sizeof(sin);
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(getsockname(fd, (struct sockaddr *)&sin, &len) == 0);
	close(fd);
	return ntohs(sin.sin_port);
}

static int listen_on(unsigned port) {
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	int one = 1;
	struct sockaddr_in sin = {.sin_family = AF_INET,
			.sin_addr.s_addr = htonl(INADDR_LOOPBACK),
			.sin_port = htons((uint16_t)port)};
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	cr_assert(bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0);
	cr_assert(listen(fd, 16) == 0);
	return fd;
}

Test(scheduler, an_address_that_accepts_again_is_checked_at_once) {
	static struct vh_check_config config;
	config = make_config("down", 10000, 40);
	struct fake *fake = add_fake(&config, FAKE_FAIL);
	fake->unreachable_port = closed_port();
	start();
	run_loop_ms(300);
	cr_assert_eq(fake->starts, 1, "one run, then the 10 s fail_interval");
	cr_assert_eq(fake->retries_now, 0, "nothing accepts yet: no early run");
	int listener = listen_on(fake->unreachable_port);
	run_loop_ms(250);
	cr_assert_eq(fake->retries_now, 1, "the watch saw the port accept");
	cr_assert_eq(fake->starts, 2, "and the check ran at once, not 10 s later");
	/* That run failed past TCP (a server starting up): retries follow the backoff, 250 ms
	 * then 500 ms, instead of waiting for fail_interval. */
	run_loop_ms(1000);
	cr_assert_geq(fake->starts, 3);
	cr_assert_leq(fake->starts, 4);
	close(listener);
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
	cr_assert_not(vh_scheduler_add(sched, &b, err, sizeof(err)));
	cr_assert_str_eq(err, "cannot add check \"b\": scheduler already started");
	cr_assert_eq(made, 1, "no probe is made for a refused check");
}

Test(scheduler, add_fails_when_the_probe_cannot_be_made) {
	static struct vh_check_config a;
	char err[128];
	a = make_config("a", 1000, 100);
	snprintf(refused, sizeof(refused), "a");
	cr_assert_not(vh_scheduler_add(sched, &a, err, sizeof(err)));
	cr_assert_str_eq(err, "cannot make the probe of \"a\"");
	struct vh_snapshot snap;
	vh_scheduler_snapshot(sched, "svc", &snap);
	cr_assert_eq(snap.n_checks, 0);
}

Test(scheduler, the_state_points_at_the_schedulers_own_copy) {
	struct vh_check_config *config = malloc(sizeof(*config));
	char err[128];
	*config = make_config("copied", 1000, 100);
	cr_assert(vh_scheduler_add(sched, config, err, sizeof(err)), "%s", err);
	free(config);
	start();
	run_loop_ms(30);
	const struct vh_check_state *state = state_of("copied");
	cr_assert_str_eq(state->config->name, "copied", "the caller's config may go at once");
	cr_assert_eq(state->config->timeout_ms, 100);
	cr_assert_eq(state->runs, 1);
}

TestSuite(scheduler_reload, .init = setup, .fini = teardown, .timeout = 20);

static void reload(
		const struct vh_check_config *checks, size_t n, struct vh_scheduler_reload *out) {
	char err[128];
	cr_assert(vh_scheduler_reload(sched, checks, n, out, err, sizeof(err)), "%s", err);
}

static struct vh_snapshot snapshot_now(void) {
	struct vh_snapshot snap;
	vh_scheduler_snapshot(sched, "svc", &snap);
	return snap;
}

Test(scheduler_reload, keeps_removes_adds_and_moves_the_version) {
	static struct vh_check_config first[2], second[2];
	struct vh_scheduler_reload counts;
	first[0] = make_config("kept", 20, 100);
	first[1] = make_config("gone", 20, 100);
	struct fake *kept = add_fake(&first[0], FAKE_PASS);
	add_fake(&first[1], FAKE_PASS);
	start();
	run_loop_ms(110);
	struct vh_snapshot before = snapshot_now();
	cr_assert_eq(before.config_generation, 1);
	uint64_t runs = state_of("kept")->runs;
	cr_assert_geq(runs, 2);
	int starts = kept->starts;

	second[0] = make_config("added", 20, 100);
	second[1] = first[0];
	reload(second, 2, &counts);
	cr_assert_eq(counts.kept, 1);
	cr_assert_eq(counts.restarted, 0);
	cr_assert_eq(counts.added, 1);
	cr_assert_eq(counts.removed, 1);
	cr_assert_eq(destroyed, 1, "only the removed check's probe goes");
	struct vh_snapshot after = snapshot_now();
	cr_assert_neq(after.version, before.version, "a reload changes what /health shows");
	cr_assert_eq(after.config_generation, 2);
	cr_assert_geq(after.config_loaded_wall_ms, before.config_loaded_wall_ms);
	cr_assert_eq(after.n_checks, 2);
	cr_assert_str_eq(after.checks[0].config->name, "added", "the new file's order");
	cr_assert_str_eq(after.checks[1].config->name, "kept");
	cr_assert_null(vh_snapshot_find(&after, "gone"));
	const struct vh_check_state *state = state_of("kept");
	cr_assert_eq(state->runs, runs, "the kept check's counters survive");
	cr_assert_eq(vh_history_n_results(state->history), runs, "and so does its history");

	run_loop_ms(110);
	state = state_of("kept");
	cr_assert_gt(state->runs, runs, "the kept check goes on counting");
	cr_assert_gt(kept->starts, starts, "with the same probe");
	cr_assert_eq(state->runs, (uint64_t)kept->starts);
	cr_assert_geq(state_of("added")->runs, 2, "the added check runs");
	cr_assert_eq(destroyed, 1);
}

Test(scheduler_reload, a_changed_check_starts_over_with_a_new_probe) {
	static struct vh_check_config first, second;
	struct vh_scheduler_reload counts;
	first = make_config("pg", 20, 100);
	struct fake *old = add_fake(&first, FAKE_PASS);
	start();
	run_loop_ms(70);
	cr_assert_geq(state_of("pg")->runs, 2);
	second = first;
	second.timeout_ms = 90;
	reload(&second, 1, &counts);
	cr_assert_eq(counts.restarted, 1);
	cr_assert_eq(counts.kept + counts.added + counts.removed, 0);
	cr_assert_eq(destroyed, 1, "the old probe is gone");
	cr_assert_neq(last_fake, old);
	const struct vh_check_state *state = state_of("pg");
	cr_assert_eq(state->runs, 0, "a fresh state");
	cr_assert_eq(state->status, VH_STATUS_UNKNOWN);
	cr_assert_eq(state->config->timeout_ms, 90);
	cr_assert_eq(vh_history_n_results(state->history), 0);
	run_loop_ms(30);
	cr_assert_geq(state_of("pg")->runs, 1, "the new probe runs");
}

Test(scheduler_reload, an_added_check_waits_for_its_initial_delay) {
	static struct vh_check_config first, second[2];
	struct vh_scheduler_reload counts;
	first = make_config("a", 1000, 100);
	add_fake(&first, FAKE_PASS);
	start();
	run_loop_ms(20);
	second[0] = first;
	second[1] = make_config("b", 1000, 100);
	second[1].initial_delay_ms = 150;
	reload(second, 2, &counts);
	run_loop_ms(60);
	cr_assert_eq(state_of("b")->runs, 0);
	run_loop_ms(200);
	cr_assert_eq(state_of("b")->runs, 1);
}

Test(scheduler_reload, a_run_in_flight_is_cancelled_or_kept) {
	static struct vh_check_config first[2], second;
	struct vh_scheduler_reload counts;
	first[0] = make_config("hang-gone", 1000, 5000);
	first[1] = make_config("hang-kept", 1000, 60);
	struct fake *gone = add_fake(&first[0], FAKE_HANG);
	add_fake(&first[1], FAKE_HANG);
	start();
	run_loop_ms(20);
	cr_assert_eq(gone->cancels, 0);
	second = first[1];
	reload(&second, 1, &counts);
	cr_assert_eq(counts.removed, 1);
	cr_assert_eq(destroyed, 1, "the removed check's run was cancelled, then destroyed");
	/* The kept check's run in flight still meets its deadline, in its moved state. */
	run_loop_ms(80);
	const struct vh_check_state *state = state_of("hang-kept");
	cr_assert_eq(state->runs, 1);
	cr_assert_str_eq(state->last.output, "timeout after 60 ms");
}

Test(scheduler_reload, a_late_report_of_a_changed_check_is_dropped) {
	static struct vh_check_config first, second;
	struct vh_scheduler_reload counts;
	first = make_config("late", 1000, 5000);
	struct fake *fake = add_fake(&first, FAKE_LATE);
	fake->late_ms = 50;
	start();
	run_loop_ms(20);
	second = first;
	second.interval_ms = 2000;
	reload(&second, 1, &counts);
	cr_assert_eq(counts.restarted, 1);
	/* The old probe and its pending report are gone; under ASan a report into the freed runner
	 * would be a use after free. */
	run_loop_ms(100);
	const struct vh_check_state *state = state_of("late");
	cr_assert_str_neq(state->last.output, "late pass");
}

Test(scheduler_reload, a_failed_reload_changes_nothing) {
	static struct vh_check_config first, second[2];
	struct vh_scheduler_reload counts;
	char err[128];
	first = make_config("a", 20, 100);
	add_fake(&first, FAKE_PASS);
	start();
	run_loop_ms(50);
	struct vh_snapshot before = snapshot_now();
	/* The snapshot's checks are the live states: keep the figure itself. */
	uint64_t runs = before.checks[0].runs;
	second[0] = first;
	second[0].timeout_ms = 50;
	second[1] = make_config("broken", 20, 100);
	snprintf(refused, sizeof(refused), "broken");
	cr_assert_not(vh_scheduler_reload(sched, second, 2, &counts, err, sizeof(err)));
	cr_assert_str_eq(err, "cannot make the probe of \"broken\"");
	cr_assert_eq(destroyed, 1, "only the probe made for the changed check went");
	struct vh_snapshot after = snapshot_now();
	cr_assert_eq(after.version, before.version);
	cr_assert_eq(after.config_generation, 1);
	cr_assert_eq(after.n_checks, 1);
	cr_assert_eq(after.checks[0].config->timeout_ms, 100);
	cr_assert_eq(after.checks[0].runs, runs);
	run_loop_ms(50);
	cr_assert_gt(state_of("a")->runs, runs, "the old check runs on");
}

Test(scheduler_reload, kept_states_do_not_point_into_the_callers_config) {
	static struct vh_check_config first;
	struct vh_scheduler_reload counts;
	first = make_config("a", 1000, 100);
	add_fake(&first, FAKE_PASS);
	start();
	run_loop_ms(20);
	struct vh_check_config *next = malloc(sizeof(*next));
	*next = first;
	reload(next, 1, &counts);
	cr_assert_eq(counts.kept, 1);
	memset(next, 0xa5, sizeof(*next));
	free(next);
	cr_assert_str_eq(state_of("a")->config->name, "a");
	cr_assert_eq(state_of("a")->config->timeout_ms, 100);
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
