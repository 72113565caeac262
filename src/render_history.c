/* render_history.c - what flapped and when: recent results and transitions per check. */
#include "vh/render_history.h"

#include <event2/buffer.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "vh/clock.h"
#include "vh/history.h"
#include "vh/render_json.h"

static json_t *time_json(int64_t wall_ms) {
	char buf[40];
	return json_string(vh_clock_format_rfc3339(wall_ms, buf, sizeof(buf)));
}

static json_t *results_json(const struct vh_history *h) {
	json_t *results = json_array();
	for (size_t i = 0; h && i < vh_history_n_results(h); i++) {
		const struct vh_history_result *r = vh_history_result(h, i);
		json_array_append_new(results,
				json_pack("{s:o,s:s,s:o,s:s}", "time", time_json(r->wall_ms),
						"status", vh_status_name(r->status), "duration_ms",
						vh_render_json_number(
								(double)r->duration_us / 1000.0),
						"output", r->output));
	}
	return results;
}

static json_t *transitions_json(const struct vh_history *h) {
	json_t *transitions = json_array();
	for (size_t i = 0; h && i < vh_history_n_transitions(h); i++) {
		const struct vh_history_transition *t = vh_history_transition(h, i);
		json_array_append_new(transitions,
				json_pack("{s:o,s:s,s:s,s:s}", "time", time_json(t->wall_ms),
						"from", vh_status_name(t->from), "to",
						vh_status_name(t->to), "reason", t->reason));
	}
	return transitions;
}

static json_t *check_json(const struct vh_check_state *c, int64_t now_mono_ms) {
	const struct vh_history *h = c->history;
	return json_pack("{s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "name", c->config->name,
			"type", vh_check_type_name(c->config->type), "status",
			vh_status_name(vh_state_effective(c, now_mono_ms)), "runs",
			(json_int_t)c->runs, "transitions_total", (json_int_t)c->transitions,
			"results_kept", (json_int_t)(h ? vh_history_n_results(h) : 0),
			"results_max", (json_int_t)(h ? vh_history_max_results(h) : 0),
			"transitions_kept", (json_int_t)(h ? vh_history_n_transitions(h) : 0),
			"transitions_max", (json_int_t)(h ? vh_history_max_transitions(h) : 0),
			"results", results_json(h), "transitions", transitions_json(h));
}

static void render_json(const struct vh_snapshot *s, const struct vh_check_state *only,
		struct evbuffer *out) {
	json_t *root;
	if (only) {
		root = check_json(only, s->now_mono_ms);
	} else {
		json_t *checks = json_array();
		for (size_t i = 0; i < s->n_checks; i++) {
			json_array_append_new(checks, check_json(&s->checks[i], s->now_mono_ms));
		}
		root = json_pack("{s:s,s:o,s:o}", "service", s->service, "timestamp",
				time_json(s->now_wall_ms), "checks", checks);
	}
	vh_render_json_append(root, out);
	json_decref(root);
}

static void add_text_check(struct evbuffer *out, const struct vh_check_state *c, int64_t now) {
	const struct vh_history *h = c->history;
	char when[40];
	char took[32];
	evbuffer_add_printf(out, "%s (%s) is %s: %" PRIu64 " runs, %" PRIu64 " transitions\n",
			c->config->name, vh_check_type_name(c->config->type),
			vh_status_name(vh_state_effective(c, now)), c->runs, c->transitions);
	if (!h) {
		return;
	}
	evbuffer_add_printf(out, "  transitions, newest first (%zu kept of at most %zu):\n",
			vh_history_n_transitions(h), vh_history_max_transitions(h));
	for (size_t i = 0; i < vh_history_n_transitions(h); i++) {
		const struct vh_history_transition *t = vh_history_transition(h, i);
		evbuffer_add_printf(out, "    %s %s -> %s: %s\n",
				vh_clock_format_rfc3339(t->wall_ms, when, sizeof(when)),
				vh_status_name(t->from), vh_status_name(t->to), t->reason);
	}
	evbuffer_add_printf(out, "  results, newest first (%zu kept of at most %zu):\n",
			vh_history_n_results(h), vh_history_max_results(h));
	for (size_t i = 0; i < vh_history_n_results(h); i++) {
		const struct vh_history_result *r = vh_history_result(h, i);
		/* Sub-millisecond runs are the common case, so the duration keeps microseconds. */
		snprintf(took, sizeof(took), "%.3fms", (double)r->duration_us / 1000.0);
		evbuffer_add_printf(out, "    %s %-4s %9s  %s\n",
				vh_clock_format_rfc3339(r->wall_ms, when, sizeof(when)),
				vh_status_name(r->status), took, r->output);
	}
}

bool vh_render_history(const struct vh_snapshot *snapshot, const char *name, bool text,
		struct evbuffer *out) {
	const struct vh_check_state *only = NULL;
	if (name && !(only = vh_snapshot_find(snapshot, name))) {
		return false;
	}
	if (!text) {
		render_json(snapshot, only, out);
		return true;
	}
	for (size_t i = 0; i < snapshot->n_checks; i++) {
		const struct vh_check_state *c = &snapshot->checks[i];
		if (!only || c == only) {
			add_text_check(out, c, snapshot->now_mono_ms);
		}
	}
	return true;
}
