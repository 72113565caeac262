/* vh/check.h - what every check type shares: statuses, one run's result, the probe interface. */
#ifndef VH_CHECK_H
#define VH_CHECK_H
#include "vh/compat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Ordered from best to worst so that aggregation is a max(). */
enum vh_status {
	VH_STATUS_PASS = 0,
	VH_STATUS_WARN,
	VH_STATUS_UNKNOWN,
	VH_STATUS_FAIL,
};

/* Returns "pass", "warn", "unknown" or "fail". */
const char *vh_status_name(enum vh_status status);

#define VH_CHECK_OUTPUT_MAX 256
#define VH_CHECK_MEASURES_MAX 4

/* One number a check observed, such as a process's resident memory. name is the IETF health+json
 * measurement ("utilization", "count", "responseTime", ...); key is a short machine name used in
 * JSON and metrics ("rss_bytes", "threads"). */
struct vh_measure {
	char key[32];
	char name[32];
	char unit[16];
	double value;
};

/* One run of a probe. status is PASS, WARN or FAIL, never UNKNOWN. output says why in one line
 * (an error for FAIL, a short observation otherwise) and never holds a secret. */
struct vh_check_result {
	enum vh_status status;
	char output[VH_CHECK_OUTPUT_MAX];
	size_t n_measures;
	struct vh_measure measures[VH_CHECK_MEASURES_MAX];
};

/* Makes text one line of valid UTF-8 in place: each byte that does not start a valid sequence
 * (including a character cut off by truncation) becomes '?', each control character a space.
 * Servers and files say what they like; JSON encoders, log shippers and terminals must not
 * choke on what we repeat. */
void vh_check_output_sanitize(char *text);

/* Fills result with status and a printf-formatted output, truncating to fit and sanitizing it
 * with vh_check_output_sanitize(), and clears the measures. */
void vh_check_result_set(struct vh_check_result *result, enum vh_status status, const char *fmt,
		...) VH_PRINTF(3, 4);
/* Appends a measure; returns false (and drops it) when the result already holds the maximum. */
bool vh_check_result_add_measure(struct vh_check_result *result, const char *key, const char *name,
		double value, const char *unit);
/* Raises result->status to at least status (PASS < WARN < FAIL) and, when it rose, replaces the
 * output with the formatted text, sanitized. Lets a probe apply several thresholds in turn. */
void vh_check_result_raise(struct vh_check_result *result, enum vh_status status, const char *fmt,
		...) VH_PRINTF(3, 4);

/* Called when a probe run ends, on the loop thread, possibly before start() returns.
 * run is the number the run was started with; result is valid only during the call. */
typedef void (*vh_probe_done_fn)(void *arg, uint64_t run, const struct vh_check_result *result);

/* A probe is one check type's implementation. The scheduler owns the probe and drives it:
 * start() begins one run and returns false only when it cannot begin at all (it then must not
 * call done); cancel() ends a run in flight without calling done; destroy() accepts a probe with
 * a run in flight and frees everything. Exactly one run is in flight at a time. */
struct vh_probe_ops {
	const char *type;
	bool (*start)(void *impl, uint64_t run, vh_probe_done_fn done, void *arg);
	void (*cancel)(void *impl);
	void (*destroy)(void *impl);
	/* May be NULL. Writes what the run in flight is waiting for, for the reason of a run that
	 * hits its deadline: "resolving \"db.internal\"", "connecting to 10.0.0.5:5432",
	 * "negotiating TLS with ...", "authenticating with ...", "waiting for the reply from
	 * ..."; "" when it cannot tell. Called before cancel(); never names a secret. */
	void (*phase)(void *impl, char *buf, size_t len);
	/* May be NULL. True when the latest run failed before a TCP connection was made (refused,
	 * unreachable, no answer to the SYN) or got no answer at all on a held one, with the
	 * numeric address and port, so that the scheduler can watch that address and run the
	 * check again as soon as it accepts a new connection. */
	bool (*unreachable)(void *impl, char *addr, size_t addr_len, unsigned *port);
	/* May be NULL. The watched address accepted a connection: forget the reconnect backoff, so
	 * that the next run connects at once and later failures back off from the start. */
	void (*retry_now)(void *impl);
};

struct vh_probe {
	const struct vh_probe_ops *ops;
	void *impl;
};

#endif
