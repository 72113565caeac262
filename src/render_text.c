/* render_text.c - kube-apiserver style lines: "ok" when all is well, one line per check if not. */
#include "vh/render_text.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vh/clock.h"
#include "vh/render.h"

/* Probe outputs are one line by contract, but a stray newline would forge a "[+]" line. */
static void add_clean(struct evbuffer *out, const char *text) {
	char buf[VH_RENDER_REASON_MAX];
	size_t n = 0;
	for (; text[n] && n < sizeof(buf); n++) {
		unsigned char c = (unsigned char)text[n];
		buf[n] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	evbuffer_add(out, buf, n);
}

/* When the latest run happened and, while failing, for how long: what a person asks next. */
static void add_detail(struct evbuffer *out, const struct vh_check_state *check,
		enum vh_status effective, const char *reason, int64_t now_mono_ms) {
	char took[32];
	char ago[32];
	if (!check->has_run || vh_state_is_stale(check, now_mono_ms)) {
		return;
	}
	if (check->failing_since_mono_ms != 0) {
		evbuffer_add_printf(out, " (failing for %s, %u in a row)",
				vh_clock_format_duration(now_mono_ms - check->failing_since_mono_ms,
						ago, sizeof(ago)),
				check->consecutive_fail);
		return;
	}
	evbuffer_add_printf(out, " (");
	if (effective == VH_STATUS_PASS && reason[0]) {
		add_clean(out, reason);
		evbuffer_add_printf(out, "; ");
	}
	evbuffer_add_printf(out, "took %s, %s ago)",
			vh_clock_format_duration(
					check->last_duration_us / 1000, took, sizeof(took)),
			vh_clock_format_duration(
					now_mono_ms - check->last_run_mono_ms, ago, sizeof(ago)));
}

/* "[+]NAME ok (...)", "[+]NAME warn: WHY (...)" or "[-]NAME failed: WHY (...)": the sign says
 * whether the check lets the probe pass, the word what it found. */
static void add_line(struct evbuffer *out, const struct vh_check_state *check,
		enum vh_probe_kind kind, int64_t now_mono_ms, bool details) {
	char reason[VH_RENDER_REASON_MAX];
	bool passes = vh_state_check_passes(check, kind, now_mono_ms);
	enum vh_status effective = vh_state_effective(check, now_mono_ms);
	bool shared = vh_render_shared_outage(check, now_mono_ms);
	vh_render_reason(check, now_mono_ms, reason, sizeof(reason));
	/* "[!]": passing only because the whole fleet sees the dependency down. */
	evbuffer_add_printf(
			out, "[%c]%s ", passes ? (shared ? '!' : '+') : '-', check->config->name);
	if (shared && details) {
		add_clean(out, reason); /* it begins "shared outage: N of M replicas ..." */
	} else if (shared) {
		evbuffer_add_printf(out, "shared outage\n");
		return;
	} else if (passes && effective == VH_STATUS_PASS) {
		evbuffer_add_printf(out, "ok");
	} else if (!details) {
		/* The status word alone: the reason is a detail. */
		evbuffer_add_printf(out, "%s\n", passes ? vh_status_name(effective) : "failed");
		return;
	} else {
		evbuffer_add_printf(out, "%s: ", passes ? vh_status_name(effective) : "failed");
		add_clean(out, reason);
	}
	if (details) {
		add_detail(out, check, effective, reason, now_mono_ms);
	}
	evbuffer_add_printf(out, "\n");
}

static bool in_probe(
		const struct vh_snapshot *snapshot, enum vh_probe_kind kind, const char *name) {
	const struct vh_check_state *check = vh_snapshot_find(snapshot, name);
	return check && vh_state_in_probe(check, kind);
}

/* kube's warning for excludes that name nothing in the probe, so a typo does not go unseen. */
static void add_unmatched(struct evbuffer *out, const struct vh_snapshot *snapshot,
		const struct vh_request *request) {
	bool first = true;
	for (size_t i = 0; i < request->n_exclude; i++) {
		if (in_probe(snapshot, request->kind, request->exclude[i])) {
			continue;
		}
		evbuffer_add_printf(out, "%s\"%s\"",
				first ? "warn: some health checks cannot be excluded: no matches "
					"for "
				      : ",",
				request->exclude[i]);
		first = false;
	}
	if (!first) {
		evbuffer_add_printf(out, "\n");
	}
}

static int probe_body(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out) {
	bool passes = vh_render_passes(snapshot, request);
	/* kube's rule: a failure is always explained, success only on request; a shared outage
	 * served through is as loud as a failure. */
	if (passes && !request->verbose && !vh_render_any_shared_outage(snapshot, request)) {
		evbuffer_add_printf(out, "ok");
		return 200;
	}
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *check = &snapshot->checks[i];
		if (!vh_state_in_probe(check, request->kind)) {
			continue;
		}
		if (vh_render_excluded(request, check->config->name)) {
			evbuffer_add_printf(out, "[+]%s excluded: ok\n", check->config->name);
		} else {
			add_line(out, check, request->kind, snapshot->now_mono_ms,
					request->details);
		}
	}
	add_unmatched(out, snapshot, request);
	if (request->kind == VH_PROBE_HEALTH && snapshot->config_generation > 0 &&
			request->details) {
		char loaded[40];
		evbuffer_add_printf(out, "config generation %" PRIu64 " loaded %s\n",
				snapshot->config_generation,
				vh_clock_format_rfc3339(snapshot->config_loaded_wall_ms, loaded,
						sizeof(loaded)));
	}
	if (request->kind == VH_PROBE_READINESS && snapshot->draining) {
		/* Like kube-apiserver's readyz "shutdown" check: the reason is not a dependency. */
		evbuffer_add_printf(out, "[-]shutdown failed: draining before exit\n");
	}
	evbuffer_add_printf(out, "%s check %s\n", request->endpoint, passes ? "passed" : "failed");
	return passes ? 200 : 503;
}

static int check_body(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out) {
	const struct vh_check_state *check = vh_snapshot_find(snapshot, request->check);
	bool passes = vh_render_passes(snapshot, request);
	char reason[VH_RENDER_REASON_MAX];
	if (!check) {
		/* The HTTP layer answers 404 first; this only keeps a misuse from crashing. */
		evbuffer_add_printf(out, "internal server error: no such check\n");
	} else if (request->verbose) {
		add_line(out, check, request->kind, snapshot->now_mono_ms, request->details);
	} else if (passes) {
		evbuffer_add_printf(out, "ok");
	} else if (!request->details) {
		evbuffer_add_printf(out, "internal server error: check failed\n");
	} else {
		evbuffer_add_printf(out, "internal server error: ");
		add_clean(out,
				vh_render_reason(check, snapshot->now_mono_ms, reason,
						sizeof(reason)));
		evbuffer_add_printf(out, "\n");
	}
	return passes ? 200 : 503;
}

int vh_render_text(const struct vh_snapshot *snapshot, const struct vh_request *request,
		struct evbuffer *out) {
	if (request->target == VH_REQUEST_CHECK) {
		return check_body(snapshot, request, out);
	}
	return probe_body(snapshot, request, out);
}
