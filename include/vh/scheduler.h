/* vh/scheduler.h - runs each check on its own timer, enforces timeouts, keeps the state. */
#ifndef VH_SCHEDULER_H
#define VH_SCHEDULER_H
#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/fleet.h"
#include "vh/state.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct vh_scheduler;

/* Makes the probe for one check into out. config lives exactly as long as the probe (it is the
 * scheduler's own copy), so the probe may borrow it. Returns false with a reason in err. */
typedef bool (*vh_scheduler_probe_fn)(void *arg, const struct vh_check_config *config,
		struct vh_probe *out, char *err, size_t err_len);

/* Creates an empty scheduler on base that makes each check's probe with make_probe(arg, ...).
 * seed feeds the jitter generator (0 picks one from the clock and pid). The config generation
 * starts at 1, loaded now. Returns NULL and fills err when out of memory. */
struct vh_scheduler *vh_scheduler_create(struct event_base *base, uint64_t seed,
		vh_scheduler_probe_fn make_probe, void *arg, char *err, size_t err_len);
/* Accepts NULL. Cancels every run in flight and destroys every probe. */
void vh_scheduler_destroy(struct vh_scheduler *sched);

/* Adds a check: copies config (the state and the probe point at the copy, so the caller's may
 * go) and makes its probe. Must be called before vh_scheduler_start(). */
VH_MUSTCHECK bool vh_scheduler_add(struct vh_scheduler *sched, const struct vh_check_config *config,
		char *err, size_t err_len);
/* Arms every check's first run after its initial_delay, without jitter. */
VH_MUSTCHECK bool vh_scheduler_start(struct vh_scheduler *sched, char *err, size_t err_len);

/* What vh_scheduler_reload() did, for the log. */
struct vh_scheduler_reload {
	size_t kept; /* same name, equal config: state, history, counters and probe kept */
	size_t restarted; /* same name, other settings: a fresh state and a new probe */
	size_t added;
	size_t removed;
};

/* Replaces the checks with checks[0..n_checks), in that order, matched to the running ones by
 * name: a check whose config is equal (vh_config_check_equal) keeps everything, even a run in
 * flight; a changed one is cancelled and destroyed and starts over as if added; a removed one is
 * cancelled and destroyed; an added one runs after its initial_delay (once started). checks is
 * copied. Moves the snapshot's version and the config generation, and sets its load time.
 * All or nothing: when a probe cannot be made, returns false with a reason in err and the
 * running checks are left as they were. */
VH_MUSTCHECK bool vh_scheduler_reload(struct vh_scheduler *sched,
		const struct vh_check_config *checks, size_t n_checks,
		struct vh_scheduler_reload *out, char *err, size_t err_len);

/* Starts draining: from now on every snapshot says so and readiness fails, while the checks
 * keep running. There is no way back: the daemon is shutting down. */
void vh_scheduler_drain(struct vh_scheduler *sched);

/* Points *out at the fresh peer views (vh_peers_views()) and returns how many; valid during
 * the call that asked. */
typedef size_t (*vh_scheduler_views_fn)(
		void *arg, int64_t now_mono_ms, const struct vh_fleet_view **out);

/* Turns on fleet-aware readiness (docs/configuration.md#peers) for the shared checks: from now
 * on each shared check that fails here is weighed, by vh_fleet_decide(), against the views that
 * views(arg, ...) returns, and snapshots carry status (copied; its counts are replaced by each
 * vh_scheduler_fleet_round()). */
void vh_scheduler_set_fleet(struct vh_scheduler *sched, const struct vh_fleet_status *status,
		vh_scheduler_views_fn views, void *arg);
/* A round of asking peers has ended: takes the poller's counts from status and decides every
 * shared check again, logging and recording each change of phase. */
void vh_scheduler_fleet_round(struct vh_scheduler *sched, const struct vh_fleet_status *status,
		int64_t round_started_mono_ms);

/* Fills snapshot with the current state. The pointers stay valid until the next loop iteration
 * that runs a check or reloads, so use it at once. */
void vh_scheduler_snapshot(const struct vh_scheduler *sched, const char *service,
		struct vh_snapshot *snapshot);

/* The delay before a check's next run, given its settled status: unknown_interval while UNKNOWN
 * or while a flip is pending, fail_interval while FAIL, interval otherwise, plus a jitter drawn
 * uniformly from [0, jitter_ms] with random (any 32-bit value); for an interval shorter than the
 * normal one, jitter_ms shrinks in the same proportion. Pure; exposed for tests. */
int64_t vh_scheduler_next_delay(const struct vh_check_config *config,
		const struct vh_check_state *state, uint32_t random);

#endif
