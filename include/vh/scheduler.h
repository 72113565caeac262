/* vh/scheduler.h - runs each check on its own timer, enforces timeouts, keeps the state. */
#ifndef VH_SCHEDULER_H
#define VH_SCHEDULER_H
#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/state.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct vh_scheduler;

/* Creates an empty scheduler on base. seed feeds the jitter generator (0 picks one from the
 * clock and pid). Returns NULL and fills err when out of memory. */
struct vh_scheduler *vh_scheduler_create(
		struct event_base *base, uint64_t seed, char *err, size_t err_len);
/* Accepts NULL. Cancels every run in flight and destroys every probe. */
void vh_scheduler_destroy(struct vh_scheduler *sched);

/* Adds a check. config is borrowed and must outlive the scheduler; the scheduler takes ownership
 * of probe, also on failure. Must be called before vh_scheduler_start(). */
VH_MUSTCHECK bool vh_scheduler_add(struct vh_scheduler *sched, const struct vh_check_config *config,
		struct vh_probe probe, char *err, size_t err_len);
/* Arms every check's first run after its initial_delay, without jitter. */
VH_MUSTCHECK bool vh_scheduler_start(struct vh_scheduler *sched, char *err, size_t err_len);

/* Starts draining: from now on every snapshot says so and readiness fails, while the checks
 * keep running. There is no way back: the daemon is shutting down. */
void vh_scheduler_drain(struct vh_scheduler *sched);

/* Fills snapshot with the current state. The pointers stay valid until the next loop iteration
 * that runs a check, so use it at once. */
void vh_scheduler_snapshot(const struct vh_scheduler *sched, const char *service,
		struct vh_snapshot *snapshot);

/* The delay before a check's next run, given its settled status: unknown_interval while UNKNOWN
 * or while a flip is pending, fail_interval while FAIL, interval otherwise, plus a jitter drawn
 * uniformly from [0, jitter_ms] with random (any 32-bit value); for an interval shorter than the
 * normal one, jitter_ms shrinks in the same proportion. Pure; exposed for tests. */
int64_t vh_scheduler_next_delay(const struct vh_check_config *config,
		const struct vh_check_state *state, uint32_t random);

#endif
