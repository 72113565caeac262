/* scheduler.c - one timer per check, an engine-enforced deadline per run, rise/fall bookkeeping. */
#include "vh/scheduler.h"

#include <event2/event.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/clock.h"
#include "vh/log.h"
#include "vh/random.h"

/* Each check is idle until started, then alternates between waiting and running. */
enum runner_phase {
	RUNNER_IDLE,
	RUNNER_WAITING,
	RUNNER_RUNNING,
};

struct runner {
	struct vh_scheduler *sched;
	size_t index; /* into sched->states, which stays put once started */
	struct vh_probe probe;
	struct event *next_run;
	struct event *deadline;
	enum runner_phase phase;
	uint64_t run;
	int64_t run_started_mono_us;
};

struct vh_scheduler {
	struct event_base *base;
	uint64_t rng;
	size_t n_checks;
	size_t cap;
	struct runner **runners;
	struct vh_check_state *states;
	bool started;
	bool startup_complete;
	bool draining;
	uint64_t version;
	int64_t started_mono_ms;
	int64_t started_wall_ms;
};

static struct timeval to_timeval(int64_t ms) {
	struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
	return tv;
}

struct vh_scheduler *vh_scheduler_create(
		struct event_base *base, uint64_t seed, char *err, size_t err_len) {
	struct vh_scheduler *sched = calloc(1, sizeof(*sched));
	if (!sched) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	sched->base = base;
	sched->rng = seed ? seed : vh_random_seed((uintptr_t)sched);
	return sched;
}

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
	free(runner);
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

static void on_next_run(evutil_socket_t fd, short what, void *arg);
static void on_deadline(evutil_socket_t fd, short what, void *arg);

bool vh_scheduler_add(struct vh_scheduler *sched, const struct vh_check_config *config,
		struct vh_probe probe, char *err, size_t err_len) {
	struct runner *runner = NULL;
	if (sched->started) {
		snprintf(err, err_len, "cannot add check \"%s\": scheduler already started",
				config->name);
		goto error;
	}
	runner = calloc(1, sizeof(*runner));
	if (!runner || !grow(sched)) {
		snprintf(err, err_len, "out of memory");
		goto error;
	}
	runner->sched = sched;
	runner->probe = probe;
	runner->index = sched->n_checks;
	runner->next_run = evtimer_new(sched->base, on_next_run, runner);
	runner->deadline = evtimer_new(sched->base, on_deadline, runner);
	if (!runner->next_run || !runner->deadline) {
		snprintf(err, err_len, "out of memory");
		runner_destroy(runner);
		return false;
	}
	struct vh_history *history = NULL;
	/* A config built by hand (tests) may ask for no history at all. */
	if (config->history.results > 0 && config->history.transitions > 0) {
		history = vh_history_create(config->history.results, config->history.transitions);
		if (!history) {
			snprintf(err, err_len, "out of memory");
			runner_destroy(runner);
			return false;
		}
	}
	vh_state_init(&sched->states[sched->n_checks], config);
	sched->states[sched->n_checks].history = history;
	sched->runners[sched->n_checks++] = runner;
	return true;

error:
	if (runner) {
		runner->probe = probe;
		runner_destroy(runner);
	} else if (probe.ops) {
		probe.ops->destroy(probe.impl);
	}
	return false;
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

static void finish_run(struct runner *runner, const struct vh_check_result *result) {
	struct vh_scheduler *sched = runner->sched;
	struct vh_check_state *state = &sched->states[runner->index];
	int64_t now = vh_clock_mono_ms();
	int64_t took_us = vh_clock_mono_us() - runner->run_started_mono_us;
	struct vh_transition transition;
	runner->phase = RUNNER_WAITING;
	sched->version++;
	if (vh_state_apply(state, result, took_us, now, vh_clock_wall_ms(), &transition)) {
		log_transition(state, &transition);
	}
	update_startup(sched);
	if (!arm(runner,
			    vh_scheduler_next_delay(
					    state->config, state, vh_random_next(&sched->rng)))) {
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
	/* Cancel first so the probe cannot report into the run we are about to close. */
	runner->probe.ops->cancel(runner->probe.impl);
	vh_check_result_set(&result, VH_STATUS_FAIL, "timeout after %" PRId64 " ms",
			config->timeout_ms);
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

void vh_scheduler_snapshot(const struct vh_scheduler *sched, const char *service,
		struct vh_snapshot *snapshot) {
	snapshot->service = service;
	snapshot->checks = sched->states;
	snapshot->n_checks = sched->n_checks;
	snapshot->startup_complete = sched->startup_complete;
	snapshot->draining = sched->draining;
	snapshot->version = sched->version;
	snapshot->now_mono_ms = vh_clock_mono_ms();
	snapshot->now_wall_ms = vh_clock_wall_ms();
	snapshot->started_mono_ms = sched->started_mono_ms;
	snapshot->started_wall_ms = sched->started_wall_ms;
}
