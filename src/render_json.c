/* render_json.c - the platform JSON shape: a probe word, facts about the service, every check. */
#include "vh/render_json.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vh/clock.h"
#include "vh/fleet.h"
#include "vh/render.h"

/* %.10g keeps every digit a reading has while 0.1 stays 0.1 instead of 0.10000000000000001. */
#define DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(10))
/* Below 2^53 every whole double is exactly an integer. */
#define EXACT_INTEGER_LIMIT 9007199254740992.0

json_t *vh_render_json_number(double value) {
	if (!isfinite(value)) {
		return json_null();
	}
	if (value == floor(value) && fabs(value) < EXACT_INTEGER_LIMIT) {
		return json_integer((json_int_t)value);
	}
	return json_real(value);
}

bool vh_render_json_append(const json_t *json, struct evbuffer *out) {
	char *text = json ? json_dumps(json, DUMP_FLAGS) : NULL;
	if (!text) {
		evbuffer_add_printf(out, "{\"error\":\"out of memory\"}");
		return false;
	}
	evbuffer_add(out, text, strlen(text));
	free(text);
	return true;
}

/* The word a probe's own callers know: a passing probe is "ready", "alive" or "started". */
static const char *probe_word(enum vh_probe_kind kind, bool passes) {
	switch (kind) {
	case VH_PROBE_LIVENESS:
		return passes ? "alive" : "dead";
	case VH_PROBE_READINESS:
		return passes ? "ready" : "unready";
	case VH_PROBE_STARTUP:
		return passes ? "started" : "starting";
	case VH_PROBE_HEALTH:
		break;
	}
	return passes ? "pass" : "fail";
}

/* A check's "status" speaks the endpoint's language; /health shows the effective status. A
 * shared outage has a word of its own everywhere, so no reader takes it for a plain pass. */
static const char *check_word(
		const struct vh_check_state *check, enum vh_probe_kind kind, int64_t now_mono_ms) {
	if (vh_render_shared_outage(check, now_mono_ms)) {
		return "shared_outage";
	}
	if (kind == VH_PROBE_HEALTH) {
		return vh_status_name(vh_state_effective(check, now_mono_ms));
	}
	return probe_word(kind, vh_state_check_passes(check, kind, now_mono_ms));
}

static json_t *groups_array(unsigned groups) {
	json_t *array = json_array();
	if (groups & VH_GROUP_LIVENESS) {
		json_array_append_new(array, json_string("liveness"));
	}
	if (groups & VH_GROUP_READINESS) {
		json_array_append_new(array, json_string("readiness"));
	}
	return array;
}

static json_t *observed_object(const struct vh_check_result *result) {
	json_t *observed = json_object();
	for (size_t i = 0; i < result->n_measures; i++) {
		const struct vh_measure *m = &result->measures[i];
		json_t *reading = json_object();
		json_object_set_new(reading, "value", vh_render_json_number(m->value));
		json_object_set_new(reading, "unit", json_string(m->unit));
		json_object_set_new(observed, m->key, reading);
	}
	return observed;
}

static json_t *rfc3339(int64_t wall_ms) {
	char buf[40];
	return json_string(vh_clock_format_rfc3339(wall_ms, buf, sizeof(buf)));
}

/* What is known of the latest run; only a check that has run has any of it. */
static void add_run_fields(json_t *obj, const struct vh_check_state *check, int64_t now_mono_ms) {
	char reason[VH_RENDER_REASON_MAX];
	bool passing = vh_state_effective(check, now_mono_ms) == VH_STATUS_PASS;
	json_object_set_new(obj, passing ? "output" : "error",
			json_string(vh_render_reason(check, now_mono_ms, reason, sizeof(reason))));
	json_object_set_new(obj, "duration_ms",
			vh_render_json_number((double)check->last_duration_us / 1000.0));
	json_object_set_new(obj, "age_ms", json_integer(now_mono_ms - check->last_run_mono_ms));
	json_object_set_new(obj, "last_run", rfc3339(check->last_run_wall_ms));
	json_object_set_new(obj, "consecutive_failures", json_integer(check->consecutive_fail));
	json_object_set_new(obj, "consecutive_successes", json_integer(check->consecutive_ok));
	if (check->failing_since_mono_ms != 0) {
		json_object_set_new(obj, "failing_for_ms",
				json_integer(now_mono_ms - check->failing_since_mono_ms));
	}
	if (check->last_transition_wall_ms != 0) {
		json_object_set_new(
				obj, "last_transition", rfc3339(check->last_transition_wall_ms));
	}
	json_object_set_new(obj, "observed", observed_object(&check->last));
}

/* How a shared check stands against the fleet: its verdict and the counts behind it. */
static json_t *fleet_object(const struct vh_check_state *check) {
	const struct vh_outage *o = &check->outage;
	json_t *fleet = json_object();
	json_object_set_new(fleet, "scope", json_string("shared"));
	json_object_set_new(fleet, "verdict", json_string(vh_fleet_phase_name(o->phase)));
	if (o->phase != VH_OUTAGE_NONE) {
		char why[160];
		json_object_set_new(fleet, "replicas_failing", json_integer(o->failing));
		json_object_set_new(fleet, "replicas_answered", json_integer(o->answered));
		json_object_set_new(fleet, "panic_threshold", vh_render_json_number(o->threshold));
		json_object_set_new(fleet, "since", rfc3339(o->since_wall_ms));
		json_object_set_new(fleet, "reason",
				json_string(vh_fleet_describe(o, why, sizeof(why))));
	}
	return fleet;
}

static void add_check_fields(json_t *obj, const struct vh_check_state *check,
		enum vh_probe_kind kind, int64_t now_mono_ms, bool with_fleet) {
	const struct vh_check_config *config = check->config;
	enum vh_status effective = vh_state_effective(check, now_mono_ms);
	json_object_set_new(obj, "status", json_string(check_word(check, kind, now_mono_ms)));
	json_object_set_new(obj, "result", json_string(vh_status_name(effective)));
	json_object_set_new(obj, "type", json_string(vh_check_type_name(config->type)));
	json_object_set_new(obj, "critical", json_boolean(config->critical));
	json_object_set_new(obj, "groups", groups_array(config->groups));
	if (check->has_run) {
		add_run_fields(obj, check, now_mono_ms);
	} else {
		json_object_set_new(obj, "output", json_string("not run yet"));
	}
	if (with_fleet && config->scope == VH_SCOPE_SHARED) {
		json_object_set_new(obj, "fleet", fleet_object(check));
	}
}

/* The peers, for a person wondering why a failing check did not fail readiness. */
static void add_fleet(json_t *root, const struct vh_snapshot *snapshot) {
	const struct vh_fleet_status *f = snapshot->fleet;
	json_t *fleet = json_object();
	json_t *outages = json_array();
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (vh_render_shared_outage(check, snapshot->now_mono_ms)) {
			json_array_append_new(outages, json_string(check->config->name));
		}
	}
	json_object_set_new(fleet, "peers_known", json_integer(f->known));
	json_object_set_new(fleet, "peers_reachable", json_integer(f->reachable));
	json_object_set_new(fleet, "panic_threshold", vh_render_json_number(f->panic_threshold));
	json_object_set_new(fleet, "panic_mode",
			json_string(f->panic_mode == VH_PANIC_SERVE ? "serve" : "unready"));
	json_object_set_new(fleet, "shared_outages", outages);
	json_object_set_new(root, "fleet", fleet);
}

static void add_uptime(json_t *root, const struct vh_snapshot *snapshot) {
	int64_t uptime_ms = snapshot->now_mono_ms - snapshot->started_mono_ms;
	char buf[32];
	json_object_set_new(root, "uptime",
			json_string(vh_clock_format_duration(uptime_ms, buf, sizeof(buf))));
	json_object_set_new(root, "uptime_seconds", json_integer(uptime_ms / 1000));
}

/* Which config is in force, so a person can tell whether a SIGHUP took. */
static void add_config(json_t *root, const struct vh_snapshot *snapshot) {
	json_t *config = json_object();
	json_object_set_new(config, "generation",
			json_integer((json_int_t)snapshot->config_generation));
	json_object_set_new(config, "loaded", rfc3339(snapshot->config_loaded_wall_ms));
	json_object_set_new(root, "config", config);
}

/* Without details (see "details" in docs/configuration.md) a body names each check and its
 * status, and nothing a check found: no outputs, timings, versions or service facts. */
static json_t *statuses_only(json_t *root, json_t *checks, const struct vh_snapshot *snapshot,
		const struct vh_request *request) {
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (vh_render_shows(request, check)) {
			json_object_set_new(checks, check->config->name,
					json_pack("{s:s}", "status",
							check_word(check, request->kind,
									snapshot->now_mono_ms)));
		}
	}
	json_object_set_new(root, "checks", checks);
	return root;
}

static json_t *probe_body(
		const struct vh_snapshot *snapshot, const struct vh_request *request, bool passes) {
	enum vh_probe_kind kind = request->kind;
	json_t *root = json_object();
	json_t *checks = json_object();
	const char *status = kind == VH_PROBE_HEALTH
			? vh_status_name(vh_render_overall(snapshot, request))
			: probe_word(kind, passes);
	if (kind == VH_PROBE_READINESS && snapshot->draining) {
		status = "draining";
	}
	json_object_set_new(root, "status", json_string(status));
	if (!request->details) {
		return statuses_only(root, checks, snapshot, request);
	}
	json_object_set_new(
			root, "service", json_string(snapshot->service ? snapshot->service : ""));
	json_object_set_new(root, "timestamp", json_integer(snapshot->now_wall_ms / 1000));
	if (kind == VH_PROBE_LIVENESS || kind == VH_PROBE_HEALTH) {
		add_uptime(root, snapshot);
	}
	if (kind == VH_PROBE_HEALTH && snapshot->config_generation > 0) {
		add_config(root, snapshot);
	}
	if (snapshot->fleet && kind != VH_PROBE_LIVENESS) {
		add_fleet(root, snapshot);
	}
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (!vh_render_shows(request, check)) {
			continue;
		}
		json_t *obj = json_object();
		add_check_fields(obj, check, kind, snapshot->now_mono_ms, snapshot->fleet != NULL);
		json_object_set_new(checks, check->config->name, obj);
	}
	json_object_set_new(root, "checks", checks);
	return root;
}

static json_t *check_body(const struct vh_snapshot *snapshot, const struct vh_request *request) {
	const struct vh_check_state *check = vh_snapshot_find(snapshot, request->check);
	json_t *root = json_object();
	json_object_set_new(root, "name", json_string(request->check));
	if (!check) {
		/* The HTTP layer answers 404 first; this only keeps a misuse from crashing. */
		json_object_set_new(root, "status", json_string("unknown"));
		json_object_set_new(root, "error", json_string("no such check"));
		return root;
	}
	if (!request->details) {
		json_object_set_new(root, "status",
				json_string(check_word(
						check, request->kind, snapshot->now_mono_ms)));
		return root;
	}
	add_check_fields(
			root, check, request->kind, snapshot->now_mono_ms, snapshot->fleet != NULL);
	return root;
}

int vh_render_json(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out) {
	bool passes = vh_render_passes(snapshot, request);
	json_t *root = request->target == VH_REQUEST_CHECK ? check_body(snapshot, request)
							   : probe_body(snapshot, request, passes);
	vh_render_json_append(root, out);
	json_decref(root);
	return passes ? 200 : 503;
}
