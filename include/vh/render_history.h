/* vh/render_history.h - /debug/history: each check's recent results and transitions. */
#ifndef VH_RENDER_HISTORY_H
#define VH_RENDER_HISTORY_H

#include <stdbool.h>

#include "vh/state.h"

struct evbuffer;

/* Appends to out the history of the check named name, or of every check when name is NULL,
 * newest first, as JSON or (text true) as lines for a person. JSON:
 * {"service", "timestamp", "checks": [CHECK, ...]} or, for one check, CHECK alone, where CHECK is
 * {"name", "type", "status", "runs", "transitions_total", "results_kept", "results_max",
 *  "transitions_kept", "transitions_max", "results": [{"time", "status", "duration_ms",
 *  "output"}], "transitions": [{"time", "from", "to", "reason"}]}.
 * Returns false, appending nothing, when name names no check. */
bool vh_render_history(const struct vh_snapshot *snapshot, const char *name, bool text,
		struct evbuffer *out);

#endif
