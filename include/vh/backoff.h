/* vh/backoff.h - exponential reconnect delays with jitter, so a fleet spreads its reconnects. */
#ifndef VH_BACKOFF_H
#define VH_BACKOFF_H
#include <stdint.h>

#include "vh/config.h"

struct vh_backoff {
	int64_t initial_ms;
	int64_t max_ms;
	int64_t ceiling_ms; /* the current upper bound; doubles after each failure up to max_ms */
	unsigned failures;
};

/* Starts with no failure recorded: the first attempt may go at once. */
void vh_backoff_init(struct vh_backoff *backoff, const struct vh_backoff_config *config);
/* Records a failure and returns the delay before the next attempt: drawn uniformly from
 * [ceiling/2, ceiling] with random (any 32-bit value), after which the ceiling doubles, capped
 * at max_ms. Pure. */
int64_t vh_backoff_fail(struct vh_backoff *backoff, uint32_t random);
/* Records a success: the next failure starts again from initial_ms. */
void vh_backoff_reset(struct vh_backoff *backoff);

#endif
