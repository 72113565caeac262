/* vh/history.h - the last results and transitions of one check, in fixed-size rings. */
#ifndef VH_HISTORY_H
#define VH_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "vh/check.h"

/* One finished run as it was recorded. */
struct vh_history_result {
	int64_t wall_ms; /* when the run ended */
	int64_t duration_us;
	enum vh_status status; /* the run's own result: PASS, WARN or FAIL */
	char output[VH_CHECK_OUTPUT_MAX];
};

/* One change of the settled status. */
struct vh_history_transition {
	int64_t wall_ms;
	enum vh_status from;
	enum vh_status to;
	char reason[VH_CHECK_OUTPUT_MAX]; /* the output of the run that caused it */
};

struct vh_history;

/* Creates rings that keep the newest max_results results and max_transitions transitions (each
 * at least 1). The memory is allocated here, once: recording never allocates. Returns NULL when
 * out of memory. */
struct vh_history *vh_history_create(size_t max_results, size_t max_transitions);
/* Accepts NULL. */
void vh_history_destroy(struct vh_history *history);

/* Records a run, dropping the oldest when the ring is full. output is copied (and truncated to
 * fit); NULL records "". */
void vh_history_add_result(struct vh_history *history, int64_t wall_ms, int64_t duration_us,
		enum vh_status status, const char *output);
/* Records a transition, dropping the oldest when the ring is full. */
void vh_history_add_transition(struct vh_history *history, int64_t wall_ms, enum vh_status from,
		enum vh_status to, const char *reason);

/* How many results are kept now, and the ring's capacity. */
size_t vh_history_n_results(const struct vh_history *history);
size_t vh_history_max_results(const struct vh_history *history);
/* The i-th newest result kept (0 is the latest); NULL when i >= vh_history_n_results(). */
const struct vh_history_result *vh_history_result(const struct vh_history *history, size_t i);

size_t vh_history_n_transitions(const struct vh_history *history);
size_t vh_history_max_transitions(const struct vh_history *history);
/* The i-th newest transition kept; NULL when i >= vh_history_n_transitions(). */
const struct vh_history_transition *vh_history_transition(
		const struct vh_history *history, size_t i);

/* Everything ever recorded, kept or dropped: tells a reader how much the rings have forgotten. */
uint64_t vh_history_total_results(const struct vh_history *history);
uint64_t vh_history_total_transitions(const struct vh_history *history);

#endif
