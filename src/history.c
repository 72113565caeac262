/* history.c - fixed rings of recent results and transitions, for whoever is paged. */
#include "vh/history.h"

#include <stdio.h>
#include <stdlib.h>

struct vh_history {
	size_t max_results;
	size_t max_transitions;
	uint64_t total_results; /* the next result goes to total_results % max_results */
	uint64_t total_transitions;
	struct vh_history_result *results;
	struct vh_history_transition *transitions;
};

struct vh_history *vh_history_create(size_t max_results, size_t max_transitions) {
	if (max_results == 0 || max_transitions == 0) {
		return NULL;
	}
	struct vh_history *history = calloc(1, sizeof(*history));
	if (!history) {
		return NULL;
	}
	history->max_results = max_results;
	history->max_transitions = max_transitions;
	/* calloc leaves untouched pages unmapped, so a short-lived daemon pays for what it uses. */
	history->results = calloc(max_results, sizeof(*history->results));
	history->transitions = calloc(max_transitions, sizeof(*history->transitions));
	if (!history->results || !history->transitions) {
		vh_history_destroy(history);
		return NULL;
	}
	return history;
}

void vh_history_destroy(struct vh_history *history) {
	if (!history) {
		return;
	}
	free(history->results);
	free(history->transitions);
	free(history);
}

void vh_history_add_result(struct vh_history *history, int64_t wall_ms, int64_t duration_us,
		enum vh_status status, const char *output) {
	struct vh_history_result *slot =
			&history->results[history->total_results % history->max_results];
	slot->wall_ms = wall_ms;
	slot->duration_us = duration_us;
	slot->status = status;
	snprintf(slot->output, sizeof(slot->output), "%s", output ? output : "");
	history->total_results++;
}

void vh_history_add_transition(struct vh_history *history, int64_t wall_ms, enum vh_status from,
		enum vh_status to, const char *reason) {
	struct vh_history_transition *slot = &history->transitions[history->total_transitions %
			history->max_transitions];
	slot->wall_ms = wall_ms;
	slot->from = from;
	slot->to = to;
	snprintf(slot->reason, sizeof(slot->reason), "%s", reason ? reason : "");
	history->total_transitions++;
}

static size_t kept(uint64_t total, size_t max) {
	return total < max ? (size_t)total : max;
}

/* Index of the i-th newest entry of a ring that has seen total entries. */
static size_t newest(uint64_t total, size_t max, size_t i) {
	return (size_t)((total - 1 - i) % max);
}

size_t vh_history_n_results(const struct vh_history *history) {
	return kept(history->total_results, history->max_results);
}

size_t vh_history_max_results(const struct vh_history *history) {
	return history->max_results;
}

const struct vh_history_result *vh_history_result(const struct vh_history *history, size_t i) {
	if (i >= vh_history_n_results(history)) {
		return NULL;
	}
	return &history->results[newest(history->total_results, history->max_results, i)];
}

size_t vh_history_n_transitions(const struct vh_history *history) {
	return kept(history->total_transitions, history->max_transitions);
}

size_t vh_history_max_transitions(const struct vh_history *history) {
	return history->max_transitions;
}

const struct vh_history_transition *vh_history_transition(
		const struct vh_history *history, size_t i) {
	if (i >= vh_history_n_transitions(history)) {
		return NULL;
	}
	return &history->transitions[newest(
			history->total_transitions, history->max_transitions, i)];
}

uint64_t vh_history_total_results(const struct vh_history *history) {
	return history->total_results;
}

uint64_t vh_history_total_transitions(const struct vh_history *history) {
	return history->total_transitions;
}
