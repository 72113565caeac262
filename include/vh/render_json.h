/* vh/render_json.h - the platform JSON shape, a superset of what its services answer today. */
#ifndef VH_RENDER_JSON_H
#define VH_RENDER_JSON_H
#include "vh/request.h"
#include "vh/state.h"

struct evbuffer;

/* Appends the body for request to out; returns 200 or 503 as vh_render() documents. */
int vh_render_json(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out);

#endif
