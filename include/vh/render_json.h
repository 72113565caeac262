/* vh/render_json.h - the platform JSON shape, a superset of what its services answer today. */
#ifndef VH_RENDER_JSON_H
#define VH_RENDER_JSON_H
#include "vh/request.h"
#include "vh/state.h"
#include <stdbool.h>

struct evbuffer;
struct json_t;

/* Appends the body for request to out; returns 200 or 503 as vh_render() documents. The body is
 * {"status":WORD,"service","timestamp",["uptime","uptime_seconds"],"checks":{NAME:{...}}}, where
 * WORD is ready/unready, alive/dead, started/starting or, for /health, vh_render_overall();
 * excluded checks are left out. A check request gets {"name":NAME, that check's fields}. */
int vh_render_json(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out);

/* A reading as a new JSON number: an integer when it is whole (12, not 12.0), else a real, and
 * null when it is not finite. Returns NULL when out of memory. */
struct json_t *vh_render_json_number(double value);
/* Appends json, compact, to out. Reals keep 10 significant digits, so 0.1 prints as 0.1. When
 * json cannot be dumped (out of memory) appends {"error":"out of memory"} instead and returns
 * false. Borrows json. */
bool vh_render_json_append(const struct json_t *json, struct evbuffer *out);

#endif
