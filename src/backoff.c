/* backoff.c - exponential reconnect delays with jitter, so a fleet does not reconnect in step. */
#include "vh/backoff.h"

#include <limits.h>

/* A ceiling that does not wrap when doubled, and is at least 1 ms so that "ceiling/2" and the
 * doubling both make progress. */
static int64_t clamp(int64_t ms, int64_t max_ms) {
	if (ms < 1) {
		ms = 1;
	}
	return ms > max_ms ? max_ms : ms;
}

void vh_backoff_init(struct vh_backoff *backoff, const struct vh_backoff_config *config) {
	/* A config where max < initial would otherwise start above its own cap. */
	backoff->max_ms = config->max_ms < 1 ? 1 : config->max_ms;
	backoff->initial_ms = clamp(config->initial_ms, backoff->max_ms);
	vh_backoff_reset(backoff);
}

int64_t vh_backoff_fail(struct vh_backoff *backoff, uint32_t random) {
	int64_t ceiling = backoff->ceiling_ms;
	int64_t floor = ceiling / 2;
	/* random % span < span, so the delay stays within [floor, ceiling]; a span wider than 32
	 * bits only means the top of it is never drawn. */
	uint64_t span = (uint64_t)(ceiling - floor) + 1;
	int64_t delay = floor + (int64_t)(random % span);
	backoff->ceiling_ms = ceiling > backoff->max_ms / 2 ? backoff->max_ms : ceiling * 2;
	if (backoff->failures < UINT_MAX) {
		backoff->failures++;
	}
	return delay;
}

void vh_backoff_reset(struct vh_backoff *backoff) {
	backoff->ceiling_ms = backoff->initial_ms;
	backoff->failures = 0;
}
