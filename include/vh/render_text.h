/* vh/render_text.h - kube-apiserver style text lines for a person with curl. */
#ifndef VH_RENDER_TEXT_H
#define VH_RENDER_TEXT_H
#include "vh/request.h"
#include "vh/state.h"

struct evbuffer;

/* Appends the body for request to out; returns 200 or 503 as vh_render() documents. A passing
 * probe without verbose is "ok"; otherwise one "[+]"/"[-]" line per check of the probe and a last
 * line "ENDPOINT check passed|failed". A check request is "ok" or "internal server error: WHY",
 * or its line when verbose. Control characters in check outputs become spaces. */
int vh_render_text(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out);

#endif
