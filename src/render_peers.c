/* render_peers.c - the /peers/state report, written by hand: it is small and fixed in shape. */
#include "vh/render_peers.h"

#include <event2/buffer.h>
#include <inttypes.h>

#include "vh/fleet.h"

/* Check and service names are config names (letters, digits, "_", ".", "-"): nothing to
 * escape in JSON. */
void vh_render_peers(const struct vh_snapshot *snapshot, struct evbuffer *out) {
	char id[17];
	const struct vh_fleet_status *fleet = snapshot->fleet;
	vh_fleet_format_id(fleet ? fleet->instance : 0, id);
	evbuffer_add_printf(out,
			"{\"version\":%d,\"instance\":\"%s\",\"service\":\"%s\",\"checks\":[",
			VH_FLEET_REPORT_VERSION, id, snapshot->service ? snapshot->service : "");
	bool first = true;
	for (size_t i = 0; fleet && i < snapshot->n_checks; i++) {
		const struct vh_check_state *c = &snapshot->checks[i];
		if (c->config->scope != VH_SCOPE_SHARED || !c->has_run) {
			continue;
		}
		char fingerprint[17];
		vh_fleet_format_id(vh_fleet_fingerprint(c->config), fingerprint);
		evbuffer_add_printf(out,
				"%s{\"name\":\"%s\",\"fingerprint\":\"%s\",\"status\":\"%s\","
				"\"failing\":%s,\"age_ms\":%" PRId64 "}",
				first ? "" : ",", c->config->name, fingerprint,
				vh_status_name(c->status),
				c->consecutive_fail > 0 ? "true" : "false",
				snapshot->now_mono_ms - c->last_run_mono_ms);
		first = false;
	}
	evbuffer_add_printf(out, "]}");
}
