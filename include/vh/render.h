/* vh/render.h - picks the renderer and content type for a request, and the rules they share. */
#ifndef VH_RENDER_H
#define VH_RENDER_H
#include "vh/check.h"
#include "vh/request.h"
#include "vh/state.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct evbuffer;

/* Appends the body for request in request->format to out and returns the HTTP status it implies:
 * 200 or 503 (never 404: the caller checks that a VH_REQUEST_CHECK names a check). Every format
 * takes its status from vh_render_passes(), so they always agree. */
int vh_render(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out);
/* "application/json", "text/plain; charset=utf-8" or "application/health+json". */
const char *vh_render_content_type(enum vh_format format);

/* Whether request is answered with 200: vh_snapshot_passes() over its probe minus its excludes,
 * or vh_state_check_passes() of the one check it names (false when there is none). */
bool vh_render_passes(const struct vh_snapshot *snapshot, const struct vh_request *request);
/* Whether request excludes the check named name. */
bool vh_render_excluded(const struct vh_request *request, const char *name);
/* Whether check appears in the answer to request: it is in the probe (or is the check the request
 * names) and is not excluded. */
bool vh_render_shows(const struct vh_request *request, const struct vh_check_state *check);

/* Whether check is failing here in what its peers call a shared outage (vh/fleet.h), with a
 * fresh result: every answer then says so, whatever panic_mode made of it. */
bool vh_render_shared_outage(const struct vh_check_state *check, int64_t now_mono_ms);
/* Whether any check that request shows is in a shared outage. */
bool vh_render_any_shared_outage(
		const struct vh_snapshot *snapshot, const struct vh_request *request);

/* One check's status for kind in the pass/warn/fail vocabulary of health+json: FAIL when it keeps
 * the probe from passing, PASS when its effective status is PASS, WARN otherwise (a warning, a
 * non-critical failure, a result not in yet that the probe tolerates). */
enum vh_status vh_render_check_status(
		const struct vh_check_state *check, enum vh_probe_kind kind, int64_t now_mono_ms);
/* The overall pass/warn/fail for request: FAIL exactly when vh_render_passes() is false, else WARN
 * when a shown check's vh_render_check_status() is not PASS, else PASS. */
enum vh_status vh_render_overall(
		const struct vh_snapshot *snapshot, const struct vh_request *request);

/* Room for vh_render_reason(): a whole check output plus the note in front of it. */
#define VH_RENDER_REASON_MAX (VH_CHECK_OUTPUT_MAX + 96)

/* Writes into buf the one line that says how check is doing: "not run yet", a staleness notice,
 * the fleet's verdict on a failing shared check followed by "; here: " and the latest output,
 * the latest output, or that output with a note while rise/fall still holds the settled status
 * back. Returns buf. The text may hold control characters from a probe; escape it. */
const char *vh_render_reason(
		const struct vh_check_state *check, int64_t now_mono_ms, char *buf, size_t len);

#endif
