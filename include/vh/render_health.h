/* vh/render_health.h - application/health+json (draft-inadarei-api-health-check-06). */
#ifndef VH_RENDER_HEALTH_H
#define VH_RENDER_HEALTH_H
#include "vh/request.h"
#include "vh/state.h"

struct evbuffer;

/* Appends the body for request to out; returns 200 or 503 as vh_render() documents. The top-level
 * status is vh_render_overall(), so "fail" comes exactly with 503. checks holds, per shown check,
 * one "NAME:MEASUREMENT" entry per measure and a "NAME:responseTime" entry; notes lists excludes.
 */
int vh_render_health_json(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out);

#endif
