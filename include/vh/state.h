/* vh/state.h - what is known about each check, and the pure rules that update and combine it. */
#ifndef VH_STATE_H
#define VH_STATE_H
#include "vh/check.h"
#include "vh/config.h"
#include "vh/history.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Upper bounds of the run-duration histogram's buckets, in microseconds; a last, unbounded bucket
 * follows them. Prometheus conventions: seconds from 0.5 ms to 10 s, roughly 1-2.5-5 steps. */
#define VH_STATE_DURATION_BOUNDS 14
extern const int64_t vh_state_duration_bounds_us[VH_STATE_DURATION_BOUNDS];

/* Where a failing shared check stands against the rest of the fleet (docs/configuration.md#peers).
 * Decided by vh_fleet_decide() only; renderers read it. */
enum vh_outage_phase {
	VH_OUTAGE_NONE, /* not failing here, a local check, or no peers configured */
	VH_OUTAGE_HOLDING, /* failing here; waiting for peer views newer than the failure */
	VH_OUTAGE_LOCAL, /* failing here and for fewer than panic_threshold of the replicas */
	VH_OUTAGE_SHARED, /* failing for at least panic_threshold of the replicas */
};

struct vh_outage {
	enum vh_outage_phase phase;
	bool serve; /* SHARED and panic_mode "serve": probes count the check as WARN */
	enum vh_status held; /* HOLDING: the settled status before the failure, which probes keep */
	unsigned answered; /* replicas in the latest count that check this dependency, this one too
			    */
	unsigned failing; /* of those, how many see it failing */
	double threshold; /* the panic threshold in force, percent */
	unsigned votes; /* rounds in a row whose count disagreed with the phase (hysteresis) */
	int64_t since_mono_ms; /* when the phase began */
	int64_t since_wall_ms;
	uint64_t declared; /* shared outages declared since start */
};

/* Everything stored about one check. Written only by vh_state_apply(); read by renderers. */
struct vh_check_state {
	const struct vh_check_config
			*config; /* borrowed: the scheduler's copy of the check's config */
	enum vh_status status; /* after rise/fall; UNKNOWN until it settles */
	struct vh_check_result last; /* the latest run's own result */
	bool has_run;
	bool ever_passed; /* settled to PASS or WARN at least once: drives /startup */
	int64_t last_run_wall_ms;
	int64_t last_run_mono_ms; /* when the latest run ended */
	int64_t last_duration_us;
	int64_t last_success_wall_ms; /* the latest PASS or WARN result, 0 until there is one */
	int64_t last_transition_wall_ms; /* 0 until the first transition */
	int64_t last_transition_mono_ms;
	int64_t failing_since_mono_ms; /* start of the current run of failed results, or 0 */
	/* When the first of those failed results came in. Peers' runs that ended after it saw the
	 * dependency later than this replica did; a run that began before it may have passed
	 * before the dependency failed. */
	int64_t failure_seen_mono_ms;
	unsigned consecutive_ok;
	unsigned consecutive_fail;
	uint64_t runs;
	uint64_t failures;
	uint64_t transitions;
	/* Every run's duration: counts per bucket (not cumulative; the last is the +Inf one). */
	uint64_t duration_buckets[VH_STATE_DURATION_BOUNDS + 1];
	int64_t duration_sum_us;
	struct vh_outage outage; /* only ever set for shared checks */
	/* Recent results and transitions; NULL keeps none. Owned by whoever set it. */
	struct vh_history *history;
};

/* A transition that vh_state_apply() made, for the log. */
struct vh_transition {
	enum vh_status from;
	enum vh_status to;
};

/* Sets state to "not yet run" for config. */
void vh_state_init(struct vh_check_state *state, const struct vh_check_config *config);

/* Records one finished run that took duration_us and ended at the given times, applying rise and
 * fall: a failing result flips a passing check only after `fall` in a row, a passing result flips
 * a failing or unknown check only after `rise` in a row, and PASS and WARN switch at once.
 * Also counts it in the histogram and, when state->history is set, records the run and any
 * transition there. Returns true and fills out when the settled status changed. */
bool vh_state_apply(struct vh_check_state *state, const struct vh_check_result *result,
		int64_t duration_us, int64_t now_mono_ms, int64_t now_wall_ms,
		struct vh_transition *out);

/* The status a reader should see now: the settled status, except that a shared check's FAIL is
 * its held status while the fleet's view is awaited and WARN during a shared outage served
 * through, a result older than the check's stale_after counts as FAIL, and a non-critical FAIL
 * is shown as WARN. */
enum vh_status vh_state_effective(const struct vh_check_state *state, int64_t now_mono_ms);
/* Whether what the check watches is up: its settled status is PASS or WARN and its result is
 * fresh. Unlike vh_state_effective(), a non-critical failure is not softened to a warning. */
bool vh_state_is_up(const struct vh_check_state *state, int64_t now_mono_ms);
/* True when the latest result is older than the check's staleness bound. */
bool vh_state_is_stale(const struct vh_check_state *state, int64_t now_mono_ms);

/* The probe groups an HTTP endpoint answers for. */
enum vh_probe_kind {
	VH_PROBE_LIVENESS,
	VH_PROBE_READINESS,
	VH_PROBE_STARTUP,
	VH_PROBE_HEALTH, /* every check */
};

/* True when the check counts for kind: its group for liveness/readiness, readiness for startup,
 * every check for health. */
bool vh_state_in_probe(const struct vh_check_state *state, enum vh_probe_kind kind);

/* Whether one check lets a probe pass: liveness fails only on an effective FAIL (a check that has
 * not run yet does not fail it); readiness also fails on UNKNOWN; startup passes once the check
 * has ever passed; health fails on FAIL or UNKNOWN. */
bool vh_state_check_passes(
		const struct vh_check_state *state, enum vh_probe_kind kind, int64_t now_mono_ms);

/* What the daemon knows of its peers (docs/configuration.md#peers), for answers and metrics. */
struct vh_fleet_status {
	uint64_t instance; /* this daemon's random id, which its peers see in its reports */
	double panic_threshold;
	enum vh_panic_mode panic_mode;
	unsigned known; /* peer addresses found, this daemon not included */
	unsigned reachable; /* of them, those whose latest report is valid and fresh */
	uint64_t rounds;
	uint64_t requests; /* peer requests sent */
	uint64_t failures; /* of them, failed, timed out or answered garbage */
};

/* What renderers read: every check's state plus what the daemon knows about itself. */
struct vh_snapshot {
	const char *service;
	const struct vh_check_state *checks;
	size_t n_checks;
	bool startup_complete; /* latched: every readiness check has passed once */
	bool draining; /* shutting down: readiness fails whatever the checks say */
	const struct vh_fleet_status *fleet; /* NULL without peers */
	/* Moves whenever anything in the snapshot but the clock does (a run ends, a drain begins,
	 * a config is reloaded): two snapshots with the same version and the same now_* render the
	 * same bodies. */
	uint64_t version;
	/* Which config is in force: 1 for the one loaded at start, one more per applied reload;
	 * 0 when unknown (a snapshot not made by the scheduler), and then renderers leave it out.
	 */
	uint64_t config_generation;
	int64_t config_loaded_wall_ms; /* when that config was loaded */
	int64_t now_mono_ms;
	int64_t now_wall_ms;
	int64_t started_mono_ms;
	int64_t started_wall_ms;
};

/* True when every check of kind in snapshot passes (see vh_state_check_passes); checks whose
 * name is in exclude (n_exclude entries) are left out. Startup is also true once latched;
 * readiness is false while draining. */
bool vh_snapshot_passes(const struct vh_snapshot *snapshot, enum vh_probe_kind kind,
		const char *const *exclude, size_t n_exclude);
/* Finds a check by name; NULL when there is none. */
const struct vh_check_state *vh_snapshot_find(const struct vh_snapshot *snapshot, const char *name);

#endif
