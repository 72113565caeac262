/* state.c - rise/fall, staleness and group rules over stored check state. */
#include "vh/state.h"

#include <string.h>

const int64_t vh_state_duration_bounds_us[VH_STATE_DURATION_BOUNDS] = {500, 1000, 2500, 5000, 10000,
		25000, 50000, 100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};

void vh_state_init(struct vh_check_state *state, const struct vh_check_config *config) {
	memset(state, 0, sizeof(*state));
	state->config = config;
	state->status = VH_STATUS_UNKNOWN;
	state->last.status = VH_STATUS_UNKNOWN;
}

static void count_result(struct vh_check_state *state, bool ok, int64_t run_started_mono_ms,
		int64_t now_mono_ms) {
	if (ok) {
		state->consecutive_ok++;
		state->consecutive_fail = 0;
		state->failing_since_mono_ms = 0;
		state->failure_seen_mono_ms = 0;
		return;
	}
	state->consecutive_fail++;
	state->consecutive_ok = 0;
	state->failures++;
	if (state->failing_since_mono_ms == 0) {
		state->failing_since_mono_ms = run_started_mono_ms;
		state->failure_seen_mono_ms = now_mono_ms;
	}
}

/* The settled status after counting one result; PASS and WARN are both "ok" for rise/fall. */
static enum vh_status settle(const struct vh_check_state *state, enum vh_status result) {
	const struct vh_check_config *config = state->config;
	bool ok = result != VH_STATUS_FAIL;
	switch (state->status) {
	case VH_STATUS_UNKNOWN:
		if (ok && state->consecutive_ok >= config->rise) {
			return result;
		}
		if (!ok && state->consecutive_fail >= config->fall) {
			return VH_STATUS_FAIL;
		}
		return VH_STATUS_UNKNOWN;
	case VH_STATUS_PASS:
	case VH_STATUS_WARN:
		if (ok) {
			return result;
		}
		return state->consecutive_fail >= config->fall ? VH_STATUS_FAIL : state->status;
	case VH_STATUS_FAIL:
		return ok && state->consecutive_ok >= config->rise ? result : VH_STATUS_FAIL;
	}
	return state->status;
}

static void count_duration(struct vh_check_state *state, int64_t duration_us) {
	size_t bucket = 0;
	while (bucket < VH_STATE_DURATION_BOUNDS &&
			duration_us > vh_state_duration_bounds_us[bucket]) {
		bucket++;
	}
	state->duration_buckets[bucket]++;
	state->duration_sum_us += duration_us;
}

bool vh_state_apply(struct vh_check_state *state, const struct vh_check_result *result,
		int64_t duration_us, int64_t now_mono_ms, int64_t now_wall_ms,
		struct vh_transition *out) {
	bool ok = result->status != VH_STATUS_FAIL;
	if (duration_us < 0) {
		duration_us = 0;
	}
	state->last = *result;
	state->has_run = true;
	state->runs++;
	state->last_run_mono_ms = now_mono_ms;
	state->last_run_wall_ms = now_wall_ms;
	state->last_duration_us = duration_us;
	if (ok) {
		state->last_success_wall_ms = now_wall_ms;
	}
	count_duration(state, duration_us);
	count_result(state, ok, now_mono_ms - duration_us / 1000, now_mono_ms);
	if (state->history) {
		vh_history_add_result(state->history, now_wall_ms, duration_us, result->status,
				result->output);
	}

	enum vh_status next = settle(state, result->status);
	if (next == VH_STATUS_PASS || next == VH_STATUS_WARN) {
		state->ever_passed = true;
	}
	if (next == state->status) {
		return false;
	}
	if (out) {
		out->from = state->status;
		out->to = next;
	}
	if (state->history) {
		vh_history_add_transition(
				state->history, now_wall_ms, state->status, next, result->output);
	}
	state->status = next;
	state->transitions++;
	state->last_transition_mono_ms = now_mono_ms;
	state->last_transition_wall_ms = now_wall_ms;
	return true;
}

bool vh_state_is_stale(const struct vh_check_state *state, int64_t now_mono_ms) {
	return state->has_run &&
			now_mono_ms - state->last_run_mono_ms > state->config->stale_after_ms;
}

enum vh_status vh_state_effective(const struct vh_check_state *state, int64_t now_mono_ms) {
	enum vh_status status = state->status;
	if (status == VH_STATUS_FAIL && state->outage.phase == VH_OUTAGE_HOLDING) {
		status = state->outage.held;
	} else if (status == VH_STATUS_FAIL && state->outage.phase == VH_OUTAGE_SHARED &&
			state->outage.serve) {
		status = VH_STATUS_WARN;
	}
	if (status != VH_STATUS_UNKNOWN && vh_state_is_stale(state, now_mono_ms)) {
		status = VH_STATUS_FAIL;
	}
	if (status == VH_STATUS_FAIL && !state->config->critical) {
		status = VH_STATUS_WARN;
	}
	return status;
}

bool vh_state_is_up(const struct vh_check_state *state, int64_t now_mono_ms) {
	return (state->status == VH_STATUS_PASS || state->status == VH_STATUS_WARN) &&
			!vh_state_is_stale(state, now_mono_ms);
}

bool vh_state_in_probe(const struct vh_check_state *state, enum vh_probe_kind kind) {
	switch (kind) {
	case VH_PROBE_LIVENESS:
		return state->config->groups & VH_GROUP_LIVENESS;
	case VH_PROBE_READINESS:
	case VH_PROBE_STARTUP:
		return state->config->groups & VH_GROUP_READINESS;
	case VH_PROBE_HEALTH:
		return true;
	}
	return false;
}

bool vh_state_check_passes(
		const struct vh_check_state *state, enum vh_probe_kind kind, int64_t now_mono_ms) {
	/* A non-critical check is shown but never gates traffic, whatever its state. */
	if (!state->config->critical) {
		return true;
	}
	enum vh_status status = vh_state_effective(state, now_mono_ms);
	switch (kind) {
	case VH_PROBE_LIVENESS:
		return status != VH_STATUS_FAIL;
	case VH_PROBE_STARTUP:
		return state->ever_passed;
	case VH_PROBE_READINESS:
	case VH_PROBE_HEALTH:
		return status == VH_STATUS_PASS || status == VH_STATUS_WARN;
	}
	return false;
}

static bool is_excluded(const char *name, const char *const *exclude, size_t n_exclude) {
	for (size_t i = 0; i < n_exclude; i++) {
		if (strcmp(name, exclude[i]) == 0) {
			return true;
		}
	}
	return false;
}

bool vh_snapshot_passes(const struct vh_snapshot *snapshot, enum vh_probe_kind kind,
		const char *const *exclude, size_t n_exclude) {
	if (kind == VH_PROBE_STARTUP && snapshot->startup_complete) {
		return true;
	}
	if (kind == VH_PROBE_READINESS && snapshot->draining) {
		return false;
	}
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (!vh_state_in_probe(check, kind) ||
				is_excluded(check->config->name, exclude, n_exclude)) {
			continue;
		}
		if (!vh_state_check_passes(check, kind, snapshot->now_mono_ms)) {
			return false;
		}
	}
	return true;
}

const struct vh_check_state *vh_snapshot_find(
		const struct vh_snapshot *snapshot, const char *name) {
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		if (strcmp(snapshot->checks[i].config->name, name) == 0) {
			return &snapshot->checks[i];
		}
	}
	return NULL;
}
