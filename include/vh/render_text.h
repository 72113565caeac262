/* vh/render_text.h - kube-apiserver style text lines for a person with curl. */
#ifndef VH_RENDER_TEXT_H
#define VH_RENDER_TEXT_H
#include "vh/request.h"
#include "vh/state.h"

struct evbuffer;

/* Appends the body for request to out; returns 200 or 503 as vh_render() documents. */
int vh_render_text(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out);

#endif
