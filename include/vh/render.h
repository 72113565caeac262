/* vh/render.h - picks the renderer and content type for a request. */
#ifndef VH_RENDER_H
#define VH_RENDER_H
#include "vh/request.h"
#include "vh/state.h"

struct evbuffer;

/* Appends the body for request in request->format to out and returns the HTTP status it implies:
 * 200 or 503 (never 404: the caller checks that a VH_REQUEST_CHECK names a check). Every format
 * takes its status from vh_snapshot_passes() or vh_state_check_passes(), so they always agree. */
int vh_render(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out);
/* "application/json", "text/plain; charset=utf-8" or "application/health+json". */
const char *vh_render_content_type(enum vh_format format);

#endif
