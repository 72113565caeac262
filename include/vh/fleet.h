/* vh/fleet.h - what peers tell each other, and the rule that tells a shared outage from a local
 * fault. Pure: the peer poller (vh/peers.h) fetches reports, the scheduler applies decisions. */
#ifndef VH_FLEET_H
#define VH_FLEET_H
#include "vh/compat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vh/config.h"
#include "vh/state.h"

/* The version of /peers/state that this daemon writes and reads. A reader refuses other
 * versions, so a format change is rolled out by answering both for a release. */
#define VH_FLEET_REPORT_VERSION 1
/* A report holds at most this many checks: the most a config may declare. */
#define VH_FLEET_ENTRIES_MAX VH_CONFIG_CHECKS_MAX
/* The most bytes of a peer's answer that are read; a longer one counts as garbage. */
#define VH_FLEET_REPORT_MAX_BYTES 65536

/* One shared check as a peer reported it: only checks that have run are reported. */
struct vh_fleet_entry {
	uint64_t fingerprint;
	bool failing; /* its latest run failed, whatever the peer made of that */
	int64_t age_ms; /* how long before the answer that run ended */
};

struct vh_fleet_report {
	uint64_t instance; /* the reporting daemon's random id: a daemon skips its own */
	size_t n_entries;
	struct vh_fleet_entry entries[VH_FLEET_ENTRIES_MAX];
};

/* Identifies what a check points at, so that two replicas' checks count as "the same
 * dependency" only if they watch the same thing: FNV-1a 64 of the type, the host (lower case),
 * the port and the database (PostgreSQL dbname, Redis db). Never user names or passwords. */
uint64_t vh_fleet_fingerprint(const struct vh_check_config *check);
/* Writes fingerprint as 16 lower-case hex digits; out must hold 17 bytes. */
void vh_fleet_format_id(uint64_t id, char *out);

/* Parses a /peers/state body of len bytes (need not end in NUL) into out. Unknown keys are
 * ignored, so newer writers can add some. Returns false with a one-line reason in err for
 * anything else: not JSON, another version, a missing or mistyped field, too many checks. */
VH_MUSTCHECK bool vh_fleet_parse_report(const char *body, size_t len, struct vh_fleet_report *out,
		char *err, size_t err_len);

/* A peer's latest report, as the poller keeps it; only fresh ones are ever handed out. */
struct vh_fleet_view {
	const struct vh_fleet_entry *entries;
	size_t n_entries;
	int64_t received_mono_ms;
};

/* How the replicas that answered see one dependency. */
struct vh_fleet_count {
	unsigned peers; /* fresh peers that check it */
	unsigned failing; /* of them, those whose latest run failed */
	unsigned informed; /* of them, those whose latest run ended at or after `since` */
};

/* Counts the n views that hold fingerprint; informed uses since_mono_ms (0 counts none). */
void vh_fleet_count(const struct vh_fleet_view *views, size_t n, uint64_t fingerprint,
		int64_t since_mono_ms, struct vh_fleet_count *out);

/* What one decision needs besides the check's state. */
struct vh_fleet_input {
	struct vh_fleet_count count;
	double panic_threshold; /* percent, above 0 */
	enum vh_panic_mode panic_mode;
	/* How long after a failure begins every healthy peer has run the check and reported: the
	 * check's interval + jitter + timeout. A round that started that long after the failure
	 * began carries the fleet's answer. */
	int64_t settle_ms;
	bool round_end; /* a round of asking peers has just ended (hysteresis votes count then) */
	int64_t round_started_mono_ms; /* when the latest finished round began; 0 for none */
	int64_t now_mono_ms;
	int64_t now_wall_ms;
	enum vh_status before; /* the settled status before the latest transition */
};

/* Whether count says a shared outage: at least two replicas answered (this one included,
 * failing) and at least panic_threshold percent of them see the dependency failing. */
bool vh_fleet_is_shared(const struct vh_fleet_count *count, double panic_threshold);

/* Moves state->outage for one shared check, from its settled status and in:
 * - not failing here: NONE;
 * - just failed, with fresh peers: HOLDING (probes keep `before`) until every fresh peer has
 *   run since the first failed result came in (failure_seen_mono_ms) or a round that started
 *   settle_ms after it has ended; then
 *   SHARED or LOCAL by vh_fleet_is_shared();
 * - no fresh peer at all: LOCAL at once, as if there were no peers;
 * - LOCAL turns SHARED after `rise` round ends in a row that say shared; SHARED turns LOCAL
 *   only after this check's own runs, in a row while the peers' count says local: the run in
 *   flight, the runs a reconnect backoff can swallow (ceil(backoff.max / fail_interval), for
 *   postgres and redis) and then `fall`, so that a replica still waiting out its backoff when
 *   its peers recover is not called a local fault.
 * Returns true when the phase changed; *from then holds the old one. */
bool vh_fleet_decide(struct vh_check_state *state, const struct vh_fleet_input *in,
		enum vh_outage_phase *from);

/* One line for answers, logs and history: "shared outage: 5 of 6 replicas see it failing
 * (panic threshold 50%)", "local fault: 1 of 5 replicas see it failing (...)", "waiting for
 * peers' views (...)"; "" for NONE. Returns buf. */
const char *vh_fleet_describe(const struct vh_outage *outage, char *buf, size_t len);
/* "none", "holding", "local", "shared". */
const char *vh_fleet_phase_name(enum vh_outage_phase phase);

#endif
