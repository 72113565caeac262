/* render_health.c - application/health+json (draft-inadarei-api-health-check-06) views. */
#include "vh/render_health.h"

#include <event2/buffer.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "vh/clock.h"
#include "vh/render.h"
#include "vh/render_json.h"

/* The draft's predefined componentType for each check type; "component" for anything new. */
static const char *component_type(const char *type_name) {
	static const struct {
		const char *type;
		const char *component;
	} map[] = {
			{"process", "system"},
			{"cgroup", "system"},
			{"postgres", "datastore"},
			{"redis", "datastore"},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(map); i++) {
		if (strcmp(map[i].type, type_name) == 0) {
			return map[i].component;
		}
	}
	return "component";
}

/* One reading; value (a new reference, taken) and unit are left out when value is NULL. */
static json_t *new_entry(const struct vh_check_state *check, enum vh_status status,
		const char *reason, json_t *value, const char *unit) {
	json_t *entry = json_object();
	char time[40];
	json_object_set_new(entry, "componentId", json_string(check->config->name));
	json_object_set_new(entry, "componentType",
			json_string(component_type(vh_check_type_name(check->config->type))));
	if (value) {
		json_object_set_new(entry, "observedValue", value);
		json_object_set_new(entry, "observedUnit", json_string(unit));
	}
	json_object_set_new(entry, "status", json_string(vh_status_name(status)));
	if (check->has_run) {
		json_object_set_new(entry, "time",
				json_string(vh_clock_format_rfc3339(
						check->last_run_wall_ms, time, sizeof(time))));
	}
	/* The draft asks for output only when something is wrong. */
	if (status != VH_STATUS_PASS) {
		json_object_set_new(entry, "output", json_string(reason));
	}
	return entry;
}

/* Keys are "component:measurement" and point to arrays, so two readings of one kind share a key. */
static void append_entry(json_t *checks, const char *name, const char *measurement, json_t *entry) {
	char key[VH_CONFIG_NAME_MAX + 40];
	snprintf(key, sizeof(key), "%s:%s", name, measurement);
	json_t *array = json_object_get(checks, key);
	if (!array) {
		array = json_array();
		if (json_object_set_new(checks, key, array) != 0) {
			json_decref(entry);
			return;
		}
	}
	json_array_append_new(array, entry);
}

/* One entry per measure plus NAME:responseTime, so a check without measures still shows. */
static void add_check(json_t *checks, const struct vh_check_state *check, enum vh_probe_kind kind,
		int64_t now_mono_ms) {
	enum vh_status status = vh_render_check_status(check, kind, now_mono_ms);
	char reason[VH_RENDER_REASON_MAX];
	vh_render_reason(check, now_mono_ms, reason, sizeof(reason));
	for (size_t i = 0; i < check->last.n_measures; i++) {
		const struct vh_measure *m = &check->last.measures[i];
		json_t *entry = new_entry(
				check, status, reason, vh_render_json_number(m->value), m->unit);
		append_entry(checks, check->config->name, m->name[0] ? m->name : m->key, entry);
	}
	json_t *duration = check->has_run
			? vh_render_json_number((double)check->last_duration_us / 1000.0)
			: NULL;
	json_t *entry = new_entry(check, status, reason, duration, "ms");
	append_entry(checks, check->config->name, "responseTime", entry);
	/* A failing shared check also says how many replicas see it failing. */
	if (check->status == VH_STATUS_FAIL && check->outage.phase != VH_OUTAGE_NONE) {
		entry = new_entry(check, status, reason, json_integer(check->outage.failing),
				"replicas");
		append_entry(checks, check->config->name, "replicasFailing", entry);
	}
}

static json_t *notes_array(const struct vh_snapshot *snapshot, const struct vh_request *request) {
	json_t *notes = json_array();
	char note[VH_CONFIG_NAME_MAX + 48];
	if (request->kind == VH_PROBE_READINESS && snapshot->draining) {
		json_array_append_new(notes, json_string("draining before exit"));
	}
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (vh_render_shows(request, check) &&
				vh_render_shared_outage(check, snapshot->now_mono_ms)) {
			snprintf(note, sizeof(note), "%s: shared outage", check->config->name);
			json_array_append_new(notes, json_string(note));
		}
	}
	for (size_t i = 0; i < request->n_exclude; i++) {
		const struct vh_check_state *check =
				vh_snapshot_find(snapshot, request->exclude[i]);
		if (check && vh_state_in_probe(check, request->kind)) {
			snprintf(note, sizeof(note), "%s excluded by request", request->exclude[i]);
		} else {
			snprintf(note, sizeof(note),
					"cannot exclude %s: no such check in this probe",
					request->exclude[i]);
		}
		json_array_append_new(notes, json_string(note));
	}
	return notes;
}

/* Without details: the overall status and each check's, keyed by check name. */
static json_t *statuses_only(const struct vh_snapshot *snapshot, const struct vh_request *request) {
	json_t *root = json_object();
	json_t *checks = json_object();
	json_object_set_new(root, "status",
			json_string(vh_status_name(vh_render_overall(snapshot, request))));
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (vh_render_shows(request, check)) {
			enum vh_status status = vh_render_check_status(
					check, request->kind, snapshot->now_mono_ms);
			json_object_set_new(checks, check->config->name,
					json_pack("[{s:s}]", "status", vh_status_name(status)));
		}
	}
	json_object_set_new(root, "checks", checks);
	return root;
}

static json_t *body(const struct vh_snapshot *snapshot, const struct vh_request *request) {
	const char *service = snapshot->service ? snapshot->service : "";
	json_t *root = json_object();
	json_t *checks = json_object();
	char description[2 * VH_CONFIG_NAME_MAX + 64];
	snprintf(description, sizeof(description), "health of %s (veza-health sidecar, %s%s%s)",
			service, request->endpoint, request->target == VH_REQUEST_CHECK ? "/" : "",
			request->target == VH_REQUEST_CHECK ? request->check : "");
	json_object_set_new(root, "status",
			json_string(vh_status_name(vh_render_overall(snapshot, request))));
	json_object_set_new(root, "version", json_string("1"));
	json_object_set_new(root, "serviceId", json_string(service));
	json_object_set_new(root, "description", json_string(description));
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (vh_render_shows(request, check)) {
			add_check(checks, check, request->kind, snapshot->now_mono_ms);
		}
	}
	json_object_set_new(root, "checks", checks);
	/* Not in the draft, which allows more members: which config is in force, and since when. */
	if (request->target == VH_REQUEST_PROBE && request->kind == VH_PROBE_HEALTH &&
			snapshot->config_generation > 0) {
		char loaded[40];
		json_t *config = json_object();
		json_object_set_new(config, "generation",
				json_integer((json_int_t)snapshot->config_generation));
		json_object_set_new(config, "loaded",
				json_string(vh_clock_format_rfc3339(snapshot->config_loaded_wall_ms,
						loaded, sizeof(loaded))));
		json_object_set_new(root, "config", config);
	}
	if (request->target == VH_REQUEST_PROBE &&
			(request->n_exclude > 0 ||
					(request->kind == VH_PROBE_READINESS &&
							snapshot->draining))) {
		json_object_set_new(root, "notes", notes_array(snapshot, request));
	}
	return root;
}

int vh_render_health_json(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out) {
	json_t *root = request->details ? body(snapshot, request)
					: statuses_only(snapshot, request);
	vh_render_json_append(root, out);
	json_decref(root);
	/* The draft: pass and warn answer 2xx, fail answers 4xx-5xx. */
	return vh_render_passes(snapshot, request) ? 200 : 503;
}
