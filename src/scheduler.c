/* scheduler.c - one timer per check, an engine-enforced deadline per run, rise/fall bookkeeping. */
#include "vh/scheduler.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/clock.h"
#include "vh/config_check.h"
#include "vh/config_compare.h"
#include "vh/log.h"
#include "vh/random.h"
#include "vh/reach.h"

/* Each check is idle until started, then alternates between waiting and running. */
enum runner_phase {
	RUNNER_IDLE,
	RUNNER_WAITING,
	RUNNER_RUNNING,
};

struct runner {
	struct vh_scheduler *sched;
	size_t index; /* into sched->states; moves only on a reload */
	/* The scheduler's own copy, which the probe and the state borrow: a reload frees the old
	 * config file while a kept check's probe (its open connection) lives on. */
	struct vh_check_config config;
	struct vh_probe probe;
	struct event *next_run;
	struct event *deadline;
	enum runner_phase phase;
	uint64_t run;
	int64_t run_started_mono_us;
	/* Fast recovery (docs/configuration.md#recovery): the address a failing run could not
	 * reach is watched, and while the check recovers its retries back off from the start. */
	struct vh_reach *reach; /* made on the first unreachable failure */
	int64_t recover_delay_ms; /* the next retry's delay while recovering, or 0 */
};

struct vh_scheduler {
	struct event_base *base;
	uint64_t rng;
	vh_scheduler_probe_fn make_probe;
	void *probe_arg;
	size_t n_checks;
	size_t cap;
	struct runner **runners;
	struct vh_check_state *states;
	bool started;
	bool startup_complete;
	bool draining;
	uint64_t version;
	uint64_t config_generation;
	int64_t config_loaded_wall_ms;
	int64_t started_mono_ms;
	int64_t started_wall_ms;
	/* Fleet-aware readiness; views is NULL without peers. */
	vh_scheduler_views_fn views;
	void *views_arg;
	struct vh_fleet_status fleet;
	int64_t round_started_mono_ms; /* of the latest finished round, 0 before one */
};

static struct timeval to_timeval(int64_t ms) {
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

struct vh_scheduler *vh_scheduler_create(struct event_base *base, uint64_t seed,
		vh_scheduler_probe_fn make_probe, void *arg, char *err, size_t err_len) {
	struct vh_scheduler *sched = calloc(1, sizeof(*sched));
	if (!sched) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	sched->base = base;
	sched->rng = seed ? seed : vh_random_seed((uintptr_t)sched);
	sched->make_probe = make_probe;
	sched->probe_arg = arg;
	sched->config_generation = 1;
	sched->config_loaded_wall_ms = vh_clock_wall_ms();
	return sched;
}

/* Cancel before destroy: a run in flight must never report into a freed runner. */
static void runner_destroy(struct runner *runner) {
	if (!runner) {
		return;
	}
	if (runner->phase == RUNNER_RUNNING && runner->probe.ops) {
		runner->probe.ops->cancel(runner->probe.impl);
	}
	if (runner->probe.ops) {
		runner->probe.ops->destroy(runner->probe.impl);
	}
	if (runner->next_run) {
		event_free(runner->next_run);
	}
	if (runner->deadline) {
		event_free(runner->deadline);
	}
	vh_reach_destroy(runner->reach);
	vh_config_check_free(&runner->config);
	free(runner);
}

static void on_next_run(evutil_socket_t fd, short what, void *arg);
static void on_deadline(evutil_socket_t fd, short what, void *arg);

/* Makes an idle runner for config and sets *state to "not run yet" with fresh history rings. */
static struct runner *runner_create(struct vh_scheduler *sched,
		const struct vh_check_config *config, struct vh_check_state *state, char *err,
		size_t err_len) {
	struct vh_history *history = NULL;
	struct runner *runner = calloc(1, sizeof(*runner));
	if (!runner) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	runner->sched = sched;
	bool copied = vh_config_check_copy(&runner->config, config);
	runner->next_run = evtimer_new(sched->base, on_next_run, runner);
	runner->deadline = evtimer_new(sched->base, on_deadline, runner);
	/* A config built by hand (tests) may ask for no history at all. */
	bool keeps_history = config->history.results > 0 && config->history.transitions > 0;
	if (keeps_history) {
		history = vh_history_create(config->history.results, config->history.transitions);
	}
	if (!copied || !runner->next_run || !runner->deadline || (keeps_history && !history)) {
		snprintf(err, err_len, "out of memory");
		goto error;
	}
	if (!sched->make_probe(sched->probe_arg, &runner->config, &runner->probe, err, err_len)) {
		runner->probe.ops = NULL;
		goto error;
	}
	vh_state_init(state, &runner->config);
	state->history = history;
	return runner;

error:
	vh_history_destroy(history);
	runner_destroy(runner);
	return NULL;
}

void vh_scheduler_destroy(struct vh_scheduler *sched) {
	if (!sched) {
		return;
	}
	for (size_t i = 0; i < sched->n_checks; i++) {
		runner_destroy(sched->runners[i]);
		vh_history_destroy(sched->states[i].history);
	}
	free(sched->runners);
	free(sched->states);
	free(sched);
}

static bool grow(struct vh_scheduler *sched) {
	if (sched->n_checks < sched->cap) {
		return true;
	}
	size_t cap = sched->cap ? sched->cap * 2 : 8;
	struct runner **runners = realloc(sched->runners, cap * sizeof(*runners));
	if (!runners) {
		return false;
	}
	sched->runners = runners;
	struct vh_check_state *states = realloc(sched->states, cap * sizeof(*states));
	if (!states) {
		return false;
	}
	sched->states = states;
	sched->cap = cap;
	return true;
}

bool vh_scheduler_add(struct vh_scheduler *sched, const struct vh_check_config *config, char *err,
		size_t err_len) {
	if (sched->started) {
		snprintf(err, err_len, "cannot add check \"%s\": scheduler already started",
				config->name);
		return false;
	}
	if (!grow(sched)) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	struct runner *runner =
			runner_create(sched, config, &sched->states[sched->n_checks], err, err_len);
	if (!runner) {
		return false;
	}
	runner->index = sched->n_checks;
	sched->runners[sched->n_checks++] = runner;
	return true;
}

static bool arm(struct runner *runner, int64_t delay_ms) {
	struct timeval tv = to_timeval(delay_ms);
	runner->phase = RUNNER_WAITING;
	return evtimer_add(runner->next_run, &tv) == 0;
}

bool vh_scheduler_start(struct vh_scheduler *sched, char *err, size_t err_len) {
	sched->started = true;
	sched->started_mono_ms = vh_clock_mono_ms();
	sched->started_wall_ms = vh_clock_wall_ms();
	/* The first run is not jittered: it only decides how soon the service can be ready, and
	 * the pods of a fleet start at different times anyway; the later runs drift apart. */
	for (size_t i = 0; i < sched->n_checks; i++) {
		const struct vh_check_config *config = sched->states[i].config;
		if (!arm(sched->runners[i], config->initial_delay_ms)) {
			snprintf(err, err_len, "cannot arm the timer of check \"%s\"",
					config->name);
			return false;
		}
	}
	return true;
}

int64_t vh_scheduler_next_delay(const struct vh_check_config *config,
		const struct vh_check_state *state, uint32_t random) {
	int64_t delay = config->interval_ms;
	bool pending_fail = state->status != VH_STATUS_FAIL && state->consecutive_fail > 0;
	bool pending_rise = state->status == VH_STATUS_FAIL && state->consecutive_ok > 0;
	if (state->status == VH_STATUS_UNKNOWN || pending_fail || pending_rise) {
		delay = config->unknown_interval_ms;
	} else if (state->status == VH_STATUS_FAIL) {
		delay = config->fail_interval_ms;
	}
	/* Jitter is set against the normal interval; a faster interval gets the same share of it,
	 * or a 1 s retry under a 1 h interval would wait minutes. */
	int64_t jitter = config->jitter_ms;
	if (delay < config->interval_ms) {
		jitter = jitter * delay / config->interval_ms;
	}
	if (jitter > 0) {
		delay += (int64_t)(random % (uint64_t)(jitter + 1));
	}
	return delay;
}

static void update_startup(struct vh_scheduler *sched) {
	if (sched->startup_complete) {
		return;
	}
	for (size_t i = 0; i < sched->n_checks; i++) {
		const struct vh_check_state *state = &sched->states[i];
		if (vh_state_in_probe(state, VH_PROBE_STARTUP) && state->config->critical &&
				!state->ever_passed) {
			return;
		}
	}
	sched->startup_complete = true;
	char took[32];
	vh_clock_format_duration(vh_clock_mono_ms() - sched->started_mono_ms, took, sizeof(took));
	vh_log(VH_LOG_INFO, "startup complete", "after", took, NULL);
}

static void log_transition(const struct vh_check_state *state, const struct vh_transition *t) {
	enum vh_log_level level = t->to == VH_STATUS_FAIL ? VH_LOG_WARN : VH_LOG_INFO;
	vh_log(level, "check status changed", "check", state->config->name, "from",
			vh_status_name(t->from), "to", vh_status_name(t->to), "reason",
			state->last.output, NULL);
}

static void log_outage(const struct vh_check_state *state, enum vh_outage_phase from) {
	char why[160];
	const struct vh_outage *o = &state->outage;
	const char *message = "fleet verdict changed";
	enum vh_log_level level = VH_LOG_INFO;
	if (o->phase == VH_OUTAGE_SHARED) {
		message = "shared outage declared";
		level = VH_LOG_WARN;
	} else if (from == VH_OUTAGE_SHARED) {
		message = "shared outage cleared";
	} else if (o->phase == VH_OUTAGE_LOCAL) {
		message = "local fault: the other replicas do not see this failure";
		level = VH_LOG_WARN;
	} else if (o->phase == VH_OUTAGE_HOLDING || from == VH_OUTAGE_HOLDING) {
		level = VH_LOG_DEBUG;
	}
	vh_fleet_describe(o, why, sizeof(why));
	vh_log(level, message, "check", state->config->name, "from", vh_fleet_phase_name(from),
			"to", vh_fleet_phase_name(o->phase), "reason",
			why[0] ? why : state->last.output, NULL);
}

/* A shared outage declared or cleared is a transition of what the probes see; /debug/history
 * keeps it beside the check's own, with the peer counts. */
static void record_outage(struct vh_check_state *state, enum vh_outage_phase from,
		enum vh_status seen_before, int64_t now_mono_ms, int64_t now_wall_ms) {
	char why[VH_CHECK_OUTPUT_MAX];
	char counts[160];
	if (!state->history ||
			(state->outage.phase != VH_OUTAGE_SHARED && from != VH_OUTAGE_SHARED)) {
		return;
	}
	const struct vh_outage *o = &state->outage;
	struct vh_outage shown = *o;
	if (o->phase != VH_OUTAGE_SHARED) {
		shown.phase = VH_OUTAGE_SHARED; /* the counts that ended it, under the outage's name
						 */
	}
	vh_fleet_describe(&shown, counts, sizeof(counts));
	snprintf(why, sizeof(why), "%s %s", o->phase == VH_OUTAGE_SHARED ? "declared" : "cleared",
			counts);
	vh_history_add_transition(state->history, now_wall_ms, seen_before,
			vh_state_effective(state, now_mono_ms), why);
}

/* Weighs one shared check's state against the peers' latest views. */
static void decide_shared(struct vh_scheduler *sched, struct vh_check_state *state,
		enum vh_status before, bool round_end) {
	const struct vh_check_config *c = state->config;
	const struct vh_fleet_view *views = NULL;
	int64_t now = vh_clock_mono_ms();
	if (!sched->views || c->scope != VH_SCOPE_SHARED) {
		return;
	}
	size_t n = sched->views(sched->views_arg, now, &views);
	struct vh_fleet_input in = {.panic_threshold = sched->fleet.panic_threshold,
			.panic_mode = sched->fleet.panic_mode,
			.settle_ms = c->interval_ms + c->jitter_ms + c->timeout_ms,
			.round_end = round_end,
			.round_started_mono_ms = sched->round_started_mono_ms,
			.now_mono_ms = now,
			.now_wall_ms = vh_clock_wall_ms(),
			.before = before};
	vh_fleet_count(views, n, vh_fleet_fingerprint(c), state->failure_seen_mono_ms, &in.count);
	enum vh_status seen_before = vh_state_effective(state, now);
	enum vh_outage_phase from;
	struct vh_outage old = state->outage;
	if (vh_fleet_decide(state, &in, &from)) {
		log_outage(state, from);
		record_outage(state, from, seen_before, now, in.now_wall_ms);
	}
	if (memcmp(&old, &state->outage, sizeof(old)) != 0) {
		sched->version++;
	}
}

void vh_scheduler_set_fleet(struct vh_scheduler *sched, const struct vh_fleet_status *status,
		vh_scheduler_views_fn views, void *arg) {
	sched->fleet = *status;
	sched->views = views;
	sched->views_arg = arg;
	sched->version++;
}

void vh_scheduler_fleet_round(struct vh_scheduler *sched, const struct vh_fleet_status *status,
		int64_t round_started_mono_ms) {
	sched->fleet.known = status->known;
	sched->fleet.reachable = status->reachable;
	sched->fleet.rounds = status->rounds;
	sched->fleet.requests = status->requests;
	sched->fleet.failures = status->failures;
	sched->round_started_mono_ms = round_started_mono_ms;
	sched->version++;
	for (size_t i = 0; i < sched->n_checks; i++) {
		struct vh_check_state *state = &sched->states[i];
		decide_shared(sched, state, state->status, true);
	}
}

/* The check's reconnect backoff, which also paces the retries of a recovering check. */
static const struct vh_backoff_config *backoff_of(const struct vh_check_config *c) {
	static const struct vh_backoff_config none = {250, 5000};
	if (c->type == VH_CHECK_POSTGRES) {
		return &c->u.postgres.backoff;
	}
	if (c->type == VH_CHECK_REDIS) {
		return &c->u.redis.backoff;
	}
	return &none;
}

/* The watched address accepts connections again: the check runs at once instead of at its
 * next fail_interval, with its backoff forgotten; if that run still fails (a server that
 * accepts but is starting up), the retries come at backoff pace until it passes. */
static void on_reachable(void *arg) {
	struct runner *runner = arg;
	const struct vh_check_config *c = &runner->config;
	if (runner->probe.ops->retry_now) {
		runner->probe.ops->retry_now(runner->probe.impl);
	}
	runner->recover_delay_ms = backoff_of(c)->initial_ms;
	vh_log(VH_LOG_DEBUG, "dependency accepts connections again; checking now", "check", c->name,
			NULL);
	if (runner->phase == RUNNER_WAITING) {
		evtimer_del(runner->next_run);
		if (!arm(runner, 0)) {
			vh_log(VH_LOG_ERROR, "cannot arm check timer", "check", c->name, NULL);
		}
	}
}

/* After a failed run that never got a TCP connection, watch that address; after anything
 * else, stop. Returns the delay to the next run, shortened while the check recovers. */
static int64_t follow_recovery(
		struct runner *runner, const struct vh_check_result *result, int64_t delay) {
	const struct vh_probe_ops *ops = runner->probe.ops;
	char addr[64];
	unsigned port = 0;
	if (result->status != VH_STATUS_FAIL) {
		vh_reach_stop(runner->reach);
		runner->recover_delay_ms = 0;
		return delay;
	}
	if (ops->unreachable && ops->unreachable(runner->probe.impl, addr, sizeof(addr), &port)) {
		if (!runner->reach) {
			runner->reach = vh_reach_create(runner->sched->base, on_reachable, runner);
		}
		if (runner->reach && !vh_reach_start(runner->reach, addr, port)) {
			vh_reach_stop(runner->reach);
		}
		runner->recover_delay_ms = 0;
		return delay;
	}
	vh_reach_stop(runner->reach);
	if (runner->recover_delay_ms <= 0 || runner->recover_delay_ms >= delay) {
		runner->recover_delay_ms = 0;
		return delay;
	}
	int64_t soon = runner->recover_delay_ms;
	int64_t max = backoff_of(&runner->config)->max_ms;
	runner->recover_delay_ms = soon * 2 < max ? soon * 2 : max;
	return soon;
}

static void finish_run(struct runner *runner, const struct vh_check_result *result) {
	struct vh_scheduler *sched = runner->sched;
	struct vh_check_state *state = &sched->states[runner->index];
	int64_t now = vh_clock_mono_ms();
	int64_t took_us = vh_clock_mono_us() - runner->run_started_mono_us;
	struct vh_transition transition;
	enum vh_status before = state->status;
	runner->phase = RUNNER_WAITING;
	sched->version++;
	if (vh_state_apply(state, result, took_us, now, vh_clock_wall_ms(), &transition)) {
		log_transition(state, &transition);
	}
	decide_shared(sched, state, before, false);
	update_startup(sched);
	int64_t delay = vh_scheduler_next_delay(state->config, state, vh_random_next(&sched->rng));
	if (!arm(runner, follow_recovery(runner, result, delay))) {
		vh_log(VH_LOG_ERROR, "cannot arm check timer", "check", state->config->name, NULL);
	}
}

static void on_done(void *arg, uint64_t run, const struct vh_check_result *result) {
	struct runner *runner = arg;
	if (runner->phase != RUNNER_RUNNING || run != runner->run) {
		/* A report after the deadline (or from an older run) must not overwrite the timeout
		 * already recorded. */
		char run_text[24];
		snprintf(run_text, sizeof(run_text), "%" PRIu64, run);
		vh_log(VH_LOG_DEBUG, "late check result discarded", "check",
				runner->sched->states[runner->index].config->name, "run", run_text,
				NULL);
		return;
	}
	evtimer_del(runner->deadline);
	finish_run(runner, result);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
	struct runner *runner = arg;
	const struct vh_check_config *config = runner->sched->states[runner->index].config;
	struct vh_check_result result;
	if (runner->phase != RUNNER_RUNNING) {
		return;
	}
	/* What the run was waiting for sends a person to the right place: a hung lookup is not a
	 * hung database. Asked before the cancel, which forgets it. */
	char phase[VH_CHECK_OUTPUT_MAX / 2] = "";
	if (runner->probe.ops->phase) {
		runner->probe.ops->phase(runner->probe.impl, phase, sizeof(phase));
	}
	/* Cancel first so the probe cannot report into the run we are about to close. */
	runner->probe.ops->cancel(runner->probe.impl);
	vh_check_result_set(&result, VH_STATUS_FAIL, "timeout after %" PRId64 " ms%s%s",
			config->timeout_ms, phase[0] ? " " : "", phase);
	finish_run(runner, &result);
}

static void on_next_run(evutil_socket_t fd, short what, void *arg) {
	struct runner *runner = arg;
	const struct vh_check_config *config = runner->sched->states[runner->index].config;
	struct timeval tv = to_timeval(config->timeout_ms);
	runner->phase = RUNNER_RUNNING;
	runner->run++;
	runner->run_started_mono_us = vh_clock_mono_us();
	struct vh_check_result result;
	/* Without its deadline a hung probe would hold the check RUNNING for good, so a run that
	 * cannot arm one does not start. */
	if (evtimer_add(runner->deadline, &tv) != 0) {
		vh_check_result_set(
				&result, VH_STATUS_FAIL, "cannot arm the check's deadline timer");
		finish_run(runner, &result);
		return;
	}
	/* start() may report synchronously, in which case the run is already finished here. */
	if (!runner->probe.ops->start(runner->probe.impl, runner->run, on_done, runner)) {
		evtimer_del(runner->deadline);
		vh_check_result_set(&result, VH_STATUS_FAIL, "%s check could not start",
				runner->probe.ops->type);
		finish_run(runner, &result);
	}
}

void vh_scheduler_drain(struct vh_scheduler *sched) {
	sched->draining = true;
	sched->version++;
}

static struct runner *find_runner(const struct vh_scheduler *sched, const char *name) {
	for (size_t i = 0; i < sched->n_checks; i++) {
		if (strcmp(sched->runners[i]->config.name, name) == 0) {
			return sched->runners[i];
		}
	}
	return NULL;
}

static bool named_in(const struct vh_check_config *checks, size_t n_checks, const char *name) {
	for (size_t i = 0; i < n_checks; i++) {
		if (strcmp(checks[i].name, name) == 0) {
			return true;
		}
	}
	return false;
}

/* The checks a reload is building, before it replaces the running ones. */
struct next_checks {
	size_t n;
	struct runner **runners;
	struct vh_check_state *states;
	bool *fresh; /* made by this reload, rather than kept */
};

/* Frees what an abandoned reload made: its new runners (none of them armed yet), not the kept. */
static void next_checks_finish(struct next_checks *next) {
	for (size_t i = 0; next->runners && i < next->n; i++) {
		if (next->fresh[i]) {
			runner_destroy(next->runners[i]);
			vh_history_destroy(next->states[i].history);
		}
	}
	free(next->runners);
	free(next->states);
	free(next->fresh);
}

/* Matches every check of the new list to a running one; makes runners for the rest. */
static bool build_next(struct vh_scheduler *sched, const struct vh_check_config *checks,
		struct next_checks *next, struct vh_scheduler_reload *out, char *err,
		size_t err_len) {
	for (size_t i = 0; i < next->n; i++) {
		struct runner *old = find_runner(sched, checks[i].name);
		if (old && vh_config_check_equal(&old->config, &checks[i])) {
			next->runners[i] = old;
			next->states[i] = sched->states[old->index];
			out->kept++;
			continue;
		}
		next->runners[i] = runner_create(sched, &checks[i], &next->states[i], err, err_len);
		if (!next->runners[i]) {
			return false;
		}
		next->fresh[i] = true;
		if (old) {
			out->restarted++;
		} else {
			out->added++;
		}
	}
	return true;
}

bool vh_scheduler_reload(struct vh_scheduler *sched, const struct vh_check_config *checks,
		size_t n_checks, struct vh_scheduler_reload *out, char *err, size_t err_len) {
	struct next_checks next = {.n = n_checks};
	memset(out, 0, sizeof(*out));
	/* One more than needed, so that no check at all still allocates. */
	next.runners = calloc(n_checks + 1, sizeof(*next.runners));
	next.states = calloc(n_checks + 1, sizeof(*next.states));
	next.fresh = calloc(n_checks + 1, sizeof(*next.fresh));
	if (!next.runners || !next.states || !next.fresh) {
		snprintf(err, err_len, "out of memory");
		goto error;
	}
	if (!build_next(sched, checks, &next, out, err, err_len)) {
		goto error;
	}
	/* Nothing can fail from here on: retire what is not kept, then switch over. */
	for (size_t i = 0; i < sched->n_checks; i++) {
		struct runner *old = sched->runners[i];
		bool kept = false;
		for (size_t j = 0; j < n_checks && !kept; j++) {
			kept = next.runners[j] == old;
		}
		if (kept) {
			continue;
		}
		if (!named_in(checks, n_checks, old->config.name)) {
			out->removed++;
		}
		runner_destroy(old);
		vh_history_destroy(sched->states[i].history);
	}
	free(sched->runners);
	free(sched->states);
	sched->runners = next.runners;
	sched->states = next.states;
	sched->n_checks = sched->cap = n_checks;
	free(next.fresh);
	for (size_t i = 0; i < n_checks; i++) {
		struct runner *runner = sched->runners[i];
		runner->index = i;
		/* A kept check's state moved: it still names the runner's own copy of its config.
		 */
		sched->states[i].config = &runner->config;
		if (sched->started && runner->phase == RUNNER_IDLE &&
				!arm(runner, runner->config.initial_delay_ms)) {
			vh_log(VH_LOG_ERROR, "cannot arm check timer", "check", runner->config.name,
					NULL);
		}
	}
	sched->version++;
	sched->config_generation++;
	sched->config_loaded_wall_ms = vh_clock_wall_ms();
	return true;

error:
	next_checks_finish(&next);
	return false;
}

void vh_scheduler_snapshot(const struct vh_scheduler *sched, const char *service,
		struct vh_snapshot *snapshot) {
	snapshot->service = service;
	snapshot->checks = sched->states;
	snapshot->n_checks = sched->n_checks;
	snapshot->startup_complete = sched->startup_complete;
	snapshot->draining = sched->draining;
	snapshot->fleet = sched->views ? &sched->fleet : NULL;
	snapshot->version = sched->version;
	snapshot->config_generation = sched->config_generation;
	snapshot->config_loaded_wall_ms = sched->config_loaded_wall_ms;
	snapshot->now_mono_ms = vh_clock_mono_ms();
	snapshot->now_wall_ms = vh_clock_wall_ms();
	snapshot->started_mono_ms = sched->started_mono_ms;
	snapshot->started_wall_ms = sched->started_wall_ms;
}
