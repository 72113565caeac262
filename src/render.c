/* render.c - sends a request to its format's renderer; holds the status rules they all share. */
#include "vh/render.h"

#include <stdio.h>
#include <string.h>

#include "vh/clock.h"
#include "vh/fleet.h"
#include "vh/render_health.h"
#include "vh/render_json.h"
#include "vh/render_text.h"

int vh_render(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out) {
	switch (request->format) {
	case VH_FORMAT_TEXT:
		return vh_render_text(snapshot, request, out);
	case VH_FORMAT_HEALTH_JSON:
		return vh_render_health_json(snapshot, request, out);
	case VH_FORMAT_JSON:
		break;
	}
	return vh_render_json(snapshot, request, out);
}

const char *vh_render_content_type(enum vh_format format) {
	switch (format) {
	case VH_FORMAT_TEXT:
		return "text/plain; charset=utf-8";
	case VH_FORMAT_HEALTH_JSON:
		return "application/health+json";
	case VH_FORMAT_JSON:
		break;
	}
	return "application/json";
}

bool vh_render_excluded(const struct vh_request *request, const char *name) {
	for (size_t i = 0; i < request->n_exclude; i++) {
		if (strcmp(request->exclude[i], name) == 0) {
			return true;
		}
	}
	return false;
}

bool vh_render_passes(const struct vh_snapshot *snapshot, const struct vh_request *request) {
	if (request->target == VH_REQUEST_CHECK) {
		const struct vh_check_state *check = vh_snapshot_find(snapshot, request->check);
		return check && vh_state_check_passes(check, request->kind, snapshot->now_mono_ms);
	}
	const char *exclude[VH_REQUEST_EXCLUDE_MAX];
	for (size_t i = 0; i < request->n_exclude; i++) {
		exclude[i] = request->exclude[i];
	}
	return vh_snapshot_passes(snapshot, request->kind, exclude, request->n_exclude);
}

bool vh_render_shows(const struct vh_request *request, const struct vh_check_state *check) {
	switch (request->target) {
	case VH_REQUEST_CHECK:
		return strcmp(check->config->name, request->check) == 0;
	case VH_REQUEST_PROBE:
		return vh_state_in_probe(check, request->kind) &&
				!vh_render_excluded(request, check->config->name);
	case VH_REQUEST_METRICS:
	case VH_REQUEST_HISTORY:
	case VH_REQUEST_DRAIN:
	case VH_REQUEST_PEERS:
	case VH_REQUEST_NOT_FOUND:
		break;
	}
	return false;
}

bool vh_render_shared_outage(const struct vh_check_state *check, int64_t now_mono_ms) {
	return check->status == VH_STATUS_FAIL && check->outage.phase == VH_OUTAGE_SHARED &&
			!vh_state_is_stale(check, now_mono_ms);
}

bool vh_render_any_shared_outage(
		const struct vh_snapshot *snapshot, const struct vh_request *request) {
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (vh_render_shows(request, check) &&
				vh_render_shared_outage(check, snapshot->now_mono_ms)) {
			return true;
		}
	}
	return false;
}

enum vh_status vh_render_check_status(
		const struct vh_check_state *check, enum vh_probe_kind kind, int64_t now_mono_ms) {
	if (!vh_state_check_passes(check, kind, now_mono_ms)) {
		return VH_STATUS_FAIL;
	}
	return vh_state_effective(check, now_mono_ms) == VH_STATUS_PASS ? VH_STATUS_PASS
									: VH_STATUS_WARN;
}

enum vh_status vh_render_overall(
		const struct vh_snapshot *snapshot, const struct vh_request *request) {
	if (!vh_render_passes(snapshot, request)) {
		return VH_STATUS_FAIL;
	}
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (vh_render_shows(request, check) &&
				vh_render_check_status(check, request->kind,
						snapshot->now_mono_ms) != VH_STATUS_PASS) {
			return VH_STATUS_WARN;
		}
	}
	return VH_STATUS_PASS;
}

const char *vh_render_reason(
		const struct vh_check_state *check, int64_t now_mono_ms, char *buf, size_t len) {
	if (!check->has_run) {
		snprintf(buf, len, "not run yet");
		return buf;
	}
	if (vh_state_is_stale(check, now_mono_ms)) {
		char age[32];
		char limit[32];
		snprintf(buf, len, "stale: last result %s ago (limit %s)",
				vh_clock_format_duration(now_mono_ms - check->last_run_mono_ms, age,
						sizeof(age)),
				vh_clock_format_duration(check->config->stale_after_ms, limit,
						sizeof(limit)));
		return buf;
	}
	const struct vh_check_result *last = &check->last;
	const char *output = last->output[0] ? last->output : vh_status_name(last->status);
	if (check->status == VH_STATUS_FAIL && check->outage.phase != VH_OUTAGE_NONE) {
		/* What the fleet made of it comes first: it is what decides the status shown. */
		char fleet[160];
		snprintf(buf, len, "%s; here: %s",
				vh_fleet_describe(&check->outage, fleet, sizeof(fleet)), output);
		return buf;
	}
	bool last_ok = last->status != VH_STATUS_FAIL;
	bool settled_ok = check->status == VH_STATUS_PASS || check->status == VH_STATUS_WARN;
	/* While rise/fall holds the settled status back, the latest output alone would contradict
	 * the status shown next to it. */
	if (last_ok && !settled_ok) {
		snprintf(buf, len, "last run passed, %u of %u in a row needed: %s",
				check->consecutive_ok, check->config->rise, output);
	} else if (!last_ok && check->status != VH_STATUS_FAIL) {
		snprintf(buf, len, "last run failed, %u of %u in a row needed: %s",
				check->consecutive_fail, check->config->fall, output);
	} else {
		snprintf(buf, len, "%s", output);
	}
	return buf;
}
