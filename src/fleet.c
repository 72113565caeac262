/* fleet.c - fingerprints, the peer report format, and the shared-outage decision. */
#include "vh/fleet.h"

#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FNV_OFFSET UINT64_C(0xcbf29ce484222325)
#define FNV_PRIME UINT64_C(0x100000001b3)
/* A peer reporting a run older than this is confused; a week is far beyond any stale_after. */
#define AGE_MAX_MS INT64_C(604800000)

/* Each field is hashed with its terminating NUL, so ("ab", "c") and ("a", "bc") differ. */
static uint64_t hash_field(uint64_t h, const char *text, bool fold_case) {
	const char *p = text ? text : "";
	do {
		unsigned char c = (unsigned char)*p;
		h ^= fold_case ? (unsigned char)tolower(c) : c;
		h *= FNV_PRIME;
	} while (*p++);
	return h;
}

static uint64_t hash_port(uint64_t h, unsigned port) {
	char text[16];
	snprintf(text, sizeof(text), "%u", port);
	return hash_field(h, text, false);
}

static const char *pg_param(const struct vh_postgres_config *p, const char *key) {
	for (size_t i = 0; i < p->n_params; i++) {
		if (strcmp(p->keywords[i], key) == 0) {
			return p->values[i];
		}
	}
	return NULL;
}

static uint64_t hash_postgres(uint64_t h, const struct vh_postgres_config *p) {
	const char *host = pg_param(p, "host");
	const char *port = pg_param(p, "port");
	h = hash_field(h, host ? host : pg_param(p, "hostaddr"), true);
	h = hash_field(h, port ? port : "5432", false);
	return hash_field(h, pg_param(p, "dbname"), false);
}

/* "http://HOST[:PORT]/..." gives HOST and PORT (80 by default); the path and query are not part
 * of what the check depends on, and the URL has no user info (the config refuses it). */
static uint64_t hash_http(uint64_t h, const char *url) {
	const char *start = strstr(url, "://");
	start = start ? start + 3 : url;
	size_t len = strcspn(start, "/?#");
	char authority[300];
	if (len >= sizeof(authority)) {
		len = sizeof(authority) - 1;
	}
	memcpy(authority, start, len);
	authority[len] = '\0';
	char *colon = strrchr(authority, ':');
	const char *port = "80";
	if (colon && !strchr(colon, ']')) {
		*colon = '\0';
		port = colon + 1;
	}
	return hash_field(hash_field(h, authority, true), port, false);
}

uint64_t vh_fleet_fingerprint(const struct vh_check_config *check) {
	uint64_t h = hash_field(FNV_OFFSET, vh_check_type_name(check->type), false);
	switch (check->type) {
	case VH_CHECK_POSTGRES:
		return hash_postgres(h, &check->u.postgres);
	case VH_CHECK_REDIS: {
		const struct vh_redis_config *r = &check->u.redis;
		h = hash_field(h, r->unix_path ? r->unix_path : r->host, !r->unix_path);
		return hash_port(hash_port(h, r->unix_path ? 0 : r->port), r->db);
	}
	case VH_CHECK_TCP:
		return hash_port(hash_field(h, check->u.tcp.host, true), check->u.tcp.port);
	case VH_CHECK_HTTP:
		return hash_http(h, check->u.http.url);
	case VH_CHECK_PROCESS:
	case VH_CHECK_CGROUP:
		break;
	}
	/* A local check is never compared across replicas; its name keeps it distinct anyway. */
	return hash_field(h, check->name, false);
}

void vh_fleet_format_id(uint64_t id, char *out) {
	snprintf(out, 17, "%016" PRIx64, id);
}

static bool parse_id(const char *text, uint64_t *out) {
	if (strlen(text) != 16 || strspn(text, "0123456789abcdef") != 16) {
		return false;
	}
	*out = strtoull(text, NULL, 16);
	return true;
}

static bool parse_entry(
		const json_t *item, size_t i, struct vh_fleet_entry *e, char *err, size_t err_len) {
	const char *fingerprint = NULL;
	int failing = 0;
	json_int_t age = -1;
	json_error_t why;
	if (json_unpack_ex((json_t *)item, &why, 0, "{s:s, s:b, s:I}", "fingerprint", &fingerprint,
			    "failing", &failing, "age_ms", &age) != 0) {
		snprintf(err, err_len, "checks[%zu]: %s", i, why.text);
		return false;
	}
	if (!parse_id(fingerprint, &e->fingerprint)) {
		snprintf(err, err_len, "checks[%zu]: fingerprint is not 16 hex digits", i);
		return false;
	}
	if (age < 0 || age > AGE_MAX_MS) {
		snprintf(err, err_len, "checks[%zu]: age_ms out of range", i);
		return false;
	}
	e->failing = failing != 0;
	e->age_ms = (int64_t)age;
	return true;
}

static bool parse_root(const json_t *root, struct vh_fleet_report *out, char *err, size_t err_len) {
	json_int_t version = 0;
	const char *instance = NULL;
	json_t *checks = NULL;
	json_error_t why;
	if (json_unpack_ex((json_t *)root, &why, 0, "{s:I, s:s, s:o}", "version", &version,
			    "instance", &instance, "checks", &checks) != 0) {
		snprintf(err, err_len, "not a peer report: %s", why.text);
		return false;
	}
	if (version != VH_FLEET_REPORT_VERSION) {
		snprintf(err, err_len, "unsupported report version %lld (this daemon reads %d)",
				(long long)version, VH_FLEET_REPORT_VERSION);
		return false;
	}
	if (!parse_id(instance, &out->instance)) {
		snprintf(err, err_len, "instance is not 16 hex digits");
		return false;
	}
	if (!json_is_array(checks) || json_array_size(checks) > VH_FLEET_ENTRIES_MAX) {
		snprintf(err, err_len, "checks must be an array of at most %d entries",
				VH_FLEET_ENTRIES_MAX);
		return false;
	}
	size_t i;
	const json_t *item;
	json_array_foreach(checks, i, item) {
		if (!parse_entry(item, i, &out->entries[i], err, err_len)) {
			return false;
		}
	}
	out->n_entries = json_array_size(checks);
	return true;
}

bool vh_fleet_parse_report(const char *body, size_t len, struct vh_fleet_report *out, char *err,
		size_t err_len) {
	json_error_t why;
	memset(out, 0, sizeof(*out));
	if (len > VH_FLEET_REPORT_MAX_BYTES) {
		snprintf(err, err_len, "report larger than %d bytes", VH_FLEET_REPORT_MAX_BYTES);
		return false;
	}
	/* No JSON text holds a NUL byte, yet jansson 2.14 skips one that follows a number. */
	const char *nul = memchr(body, '\0', len);
	if (nul) {
		snprintf(err, err_len, "not JSON: a NUL byte at byte %zu", (size_t)(nul - body));
		return false;
	}
	json_t *root = json_loadb(body, len, JSON_REJECT_DUPLICATES, &why);
	if (!root) {
		snprintf(err, err_len, "not JSON: %s at byte %d", why.text, why.position);
		return false;
	}
	bool ok = parse_root(root, out, err, err_len);
	json_decref(root);
	if (!ok) {
		memset(out, 0, sizeof(*out));
	}
	return ok;
}

void vh_fleet_count(const struct vh_fleet_view *views, size_t n, uint64_t fingerprint,
		int64_t since_mono_ms, struct vh_fleet_count *out) {
	memset(out, 0, sizeof(*out));
	for (size_t i = 0; i < n; i++) {
		for (size_t k = 0; k < views[i].n_entries; k++) {
			const struct vh_fleet_entry *e = &views[i].entries[k];
			if (e->fingerprint != fingerprint) {
				continue;
			}
			int64_t ran_mono_ms = views[i].received_mono_ms - e->age_ms;
			out->peers++;
			out->failing += e->failing;
			out->informed += since_mono_ms > 0 && ran_mono_ms >= since_mono_ms;
			break;
		}
	}
}

bool vh_fleet_is_shared(const struct vh_fleet_count *count, double panic_threshold) {
	/* This replica is failing whenever the question comes up, so it counts in both. */
	double answered = count->peers + 1.0;
	double failing = count->failing + 1.0;
	return count->peers > 0 && failing * 100.0 >= panic_threshold * answered;
}

static void enter(struct vh_check_state *state, const struct vh_fleet_input *in,
		enum vh_outage_phase phase) {
	struct vh_outage *o = &state->outage;
	o->phase = phase;
	o->votes = 0;
	o->since_mono_ms = in->now_mono_ms;
	o->since_wall_ms = in->now_wall_ms;
	o->serve = phase == VH_OUTAGE_SHARED && in->panic_mode == VH_PANIC_SERVE;
	if (phase == VH_OUTAGE_SHARED) {
		o->declared++;
	}
}

/* HOLDING ends once the fleet's answer is in: every fresh peer has run since the failure
 * began, or a round began late enough that every healthy peer must have. */
static bool fleet_answered(const struct vh_check_state *state, const struct vh_fleet_input *in) {
	const struct vh_fleet_count *c = &in->count;
	int64_t settled_by = state->failure_seen_mono_ms + in->settle_ms;
	return c->informed >= c->peers ||
			(in->round_started_mono_ms > 0 && in->round_started_mono_ms >= settled_by);
}

/* This check's own runs, in a row while the peers say the dependency is back, before a shared
 * outage turns into a local fault here: the run in flight when they recovered (it may have
 * begun before), the runs a connection spends waiting out its reconnect backoff (they fail
 * without trying), then `fall` runs. Counted in rounds, a replica that merely had not retried
 * yet would answer 503 just as the dependency comes back, its peers' backoff having ended
 * sooner: the gap at the end of an outage that the hold closes at its start. */
static unsigned runs_to_leave_shared(const struct vh_check_config *c) {
	int64_t backoff_ms = 0;
	if (c->type == VH_CHECK_POSTGRES) {
		backoff_ms = c->u.postgres.backoff.max_ms;
	} else if (c->type == VH_CHECK_REDIS) {
		backoff_ms = c->u.redis.backoff.max_ms;
	}
	int64_t every_ms = c->fail_interval_ms > 0 ? c->fail_interval_ms : 1;
	return 1 + (unsigned)((backoff_ms + every_ms - 1) / every_ms) + c->fall;
}

/* A vote against the phase must come `rise` round ends in a row toward a shared outage (ready),
 * the discipline of the checks themselves; away from one (toward unready), runs_to_leave_shared
 * runs of the check here, so that it has tried again since its peers recovered. */
static enum vh_outage_phase vote(struct vh_check_state *state, const struct vh_fleet_input *in) {
	struct vh_outage *o = &state->outage;
	bool shared = vh_fleet_is_shared(&in->count, in->panic_threshold);
	bool leaving_shared = o->phase == VH_OUTAGE_SHARED;
	bool agrees = shared == leaving_shared;
	if (!in->round_end && !leaving_shared) {
		return o->phase;
	}
	if (agrees) {
		o->votes = 0;
		return o->phase;
	}
	if (leaving_shared && in->round_end) {
		return o->phase; /* only this check's own runs count that way */
	}
	unsigned needed = shared ? state->config->rise : runs_to_leave_shared(state->config);
	if (++o->votes < needed) {
		return o->phase;
	}
	return shared ? VH_OUTAGE_SHARED : VH_OUTAGE_LOCAL;
}

static enum vh_outage_phase next_phase(
		struct vh_check_state *state, const struct vh_fleet_input *in) {
	struct vh_outage *o = &state->outage;
	if (state->status != VH_STATUS_FAIL) {
		return VH_OUTAGE_NONE;
	}
	/* Nobody to ask: the feature must never make a replica less safe than it was. */
	if (in->count.peers == 0) {
		return VH_OUTAGE_LOCAL;
	}
	if (o->phase == VH_OUTAGE_LOCAL || o->phase == VH_OUTAGE_SHARED) {
		return vote(state, in);
	}
	if (o->phase == VH_OUTAGE_NONE) {
		o->held = in->before == VH_STATUS_FAIL ? VH_STATUS_UNKNOWN : in->before;
	}
	/* The views at hand may already carry the answer, even on the run that just failed. */
	if (!fleet_answered(state, in)) {
		return VH_OUTAGE_HOLDING;
	}
	return vh_fleet_is_shared(&in->count, in->panic_threshold) ? VH_OUTAGE_SHARED
								   : VH_OUTAGE_LOCAL;
}

bool vh_fleet_decide(struct vh_check_state *state, const struct vh_fleet_input *in,
		enum vh_outage_phase *from) {
	struct vh_outage *o = &state->outage;
	enum vh_outage_phase old = o->phase;
	enum vh_outage_phase next = next_phase(state, in);
	o->answered = in->count.peers + 1;
	o->failing = in->count.failing + (state->status == VH_STATUS_FAIL ? 1 : 0);
	o->threshold = in->panic_threshold;
	if (next == old) {
		return false;
	}
	*from = old;
	enter(state, in, next);
	return true;
}

const char *vh_fleet_phase_name(enum vh_outage_phase phase) {
	switch (phase) {
	case VH_OUTAGE_NONE:
		return "none";
	case VH_OUTAGE_HOLDING:
		return "holding";
	case VH_OUTAGE_LOCAL:
		return "local";
	case VH_OUTAGE_SHARED:
		return "shared";
	}
	return "none";
}

const char *vh_fleet_describe(const struct vh_outage *o, char *buf, size_t len) {
	const char *what = "";
	switch (o->phase) {
	case VH_OUTAGE_NONE:
		buf[0] = '\0';
		return buf;
	case VH_OUTAGE_HOLDING:
		what = "waiting for peers' views";
		break;
	case VH_OUTAGE_LOCAL:
		what = "local fault";
		break;
	case VH_OUTAGE_SHARED:
		what = "shared outage";
		break;
	}
	snprintf(buf, len, "%s: %u of %u replica%s see%s it failing (panic threshold %g%%)", what,
			o->failing, o->answered, o->answered == 1 ? "" : "s",
			o->failing == 1 ? "s" : "", o->threshold);
	return buf;
}
