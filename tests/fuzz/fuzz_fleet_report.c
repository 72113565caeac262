/* fuzz_fleet_report.c - libFuzzer target for vh_fleet_parse_report(): a peer's /peers/state body
 * is untrusted. What it accepts is exactly what jansson reads there, in range, and reads back the
 * same once written again in the wire format; what it refuses leaves nothing behind. */
#include "fuzz_common.h"

#include <inttypes.h>
#include <jansson.h>

#include "vh/fleet.h"

/* The oldest run a report may carry, as fleet.c bounds it: a week. */
#define AGE_MAX_MS INT64_C(604800000)

static bool same_report(const struct vh_fleet_report *a, const struct vh_fleet_report *b) {
	if (a->instance != b->instance || a->n_entries != b->n_entries) {
		return false;
	}
	for (size_t i = 0; i < a->n_entries; i++) {
		const struct vh_fleet_entry *x = &a->entries[i], *y = &b->entries[i];
		if (x->fingerprint != y->fingerprint || x->failing != y->failing ||
				x->age_ms != y->age_ms) {
			return false;
		}
	}
	return true;
}

static bool is_empty(const struct vh_fleet_report *r) {
	static const struct vh_fleet_report zero;
	return memcmp(r, &zero, sizeof(zero)) == 0;
}

/* The id as the writer puts it: 16 lower-case hex digits. */
static bool is_id(const json_t *v, uint64_t id) {
	char text[17];
	vh_fleet_format_id(id, text);
	return json_is_string(v) && strcmp(json_string_value(v), text) == 0;
}

/* What the parser accepted, checked against jansson's own reading of the same bytes. */
static void check_model(const uint8_t *data, size_t size, const struct vh_fleet_report *r) {
	json_error_t why;
	json_t *root = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &why);
	FUZZ_CHECK(root != NULL, "accepted what jansson does not read");
	FUZZ_CHECK(json_is_object(root), "accepted a report that is not an object");
	const json_t *version = json_object_get(root, "version");
	FUZZ_CHECK(json_is_integer(version) && json_integer_value(version) == 1,
			"accepted a report whose version is not the integer 1");
	FUZZ_CHECK(is_id(json_object_get(root, "instance"), r->instance),
			"instance is not the 16 hex digits of the body");
	const json_t *checks = json_object_get(root, "checks");
	FUZZ_CHECK(json_is_array(checks) && json_array_size(checks) == r->n_entries,
			"n_entries is not the length of checks");
	for (size_t i = 0; i < r->n_entries; i++) {
		const json_t *item = json_array_get(checks, i);
		const json_t *failing = json_object_get(item, "failing");
		const json_t *age = json_object_get(item, "age_ms");
		FUZZ_CHECK(is_id(json_object_get(item, "fingerprint"), r->entries[i].fingerprint),
				"a fingerprint is not the 16 hex digits of its entry");
		FUZZ_CHECK(json_is_boolean(failing) &&
						json_is_true(failing) == r->entries[i].failing,
				"failing is not the entry's boolean");
		FUZZ_CHECK(json_is_integer(age) && json_integer_value(age) == r->entries[i].age_ms,
				"age_ms is not the entry's integer");
	}
	json_decref(root);
}

/* Writes r in the shape vh_render_peers() uses, names and statuses made up; returns the length. */
static size_t write_report(const struct vh_fleet_report *r, char *buf, size_t len) {
	char id[17];
	size_t n = 0;
	vh_fleet_format_id(r->instance, id);
	n += (size_t)snprintf(buf + n, len - n,
			"{\"version\":%d,\"instance\":\"%s\",\"service\":\"fuzz\",\"checks\":[",
			VH_FLEET_REPORT_VERSION, id);
	for (size_t i = 0; i < r->n_entries && n < len; i++) {
		const struct vh_fleet_entry *e = &r->entries[i];
		vh_fleet_format_id(e->fingerprint, id);
		n += (size_t)snprintf(buf + n, len - n,
				"%s{\"name\":\"c%zu\",\"fingerprint\":\"%s\",\"status\":\"%s\","
				"\"failing\":%s,\"age_ms\":%" PRId64 "}",
				i ? "," : "", i, id, e->failing ? "fail" : "pass",
				e->failing ? "true" : "false", e->age_ms);
	}
	if (n < len) {
		n += (size_t)snprintf(buf + n, len - n, "]}");
	}
	FUZZ_CHECK(n < len, "a report of at most 64 entries outgrew its buffer");
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	static struct vh_fleet_report report, again;
	char err[160];
	memset(&report, 0xa5, sizeof(report));
	memset(err, 'x', sizeof(err));
	/* Unterminated, where libFuzzer put it, so ASan sees any read past size. */
	if (!vh_fleet_parse_report((const char *)data, size, &report, err, sizeof(err))) {
		FUZZ_CHECK(memchr(err, '\0', sizeof(err)) != NULL, "an error is not terminated");
		FUZZ_CHECK(err[0] != '\0', "failure without a reason");
		FUZZ_CHECK(is_empty(&report), "a refused report left entries behind");
		return 0;
	}
	FUZZ_CHECK(size <= VH_FLEET_REPORT_MAX_BYTES, "accepted more than the size limit");
	FUZZ_CHECK(memchr(data, '\0', size) == NULL, "accepted a body with a NUL byte");
	FUZZ_CHECK(fuzz_utf8_valid((const char *)data, size), "accepted a body that is not UTF-8");
	FUZZ_CHECK(report.n_entries <= VH_FLEET_ENTRIES_MAX, "more entries than a report holds");
	for (size_t i = 0; i < report.n_entries; i++) {
		FUZZ_CHECK(report.entries[i].age_ms >= 0 && report.entries[i].age_ms <= AGE_MAX_MS,
				"an age out of range");
	}
	for (size_t i = report.n_entries; i < VH_FLEET_ENTRIES_MAX; i++) {
		static const struct vh_fleet_entry zero;
		FUZZ_CHECK(memcmp(&report.entries[i], &zero, sizeof(zero)) == 0,
				"an entry past n_entries is not zero");
	}
	check_model(data, size, &report);

	/* Parsing is a function of the bytes. */
	FUZZ_CHECK(vh_fleet_parse_report((const char *)data, size, &again, err, sizeof(err)),
			"the same bytes parse once and fail once");
	FUZZ_CHECK(memcmp(&report, &again, sizeof(report)) == 0, "the same bytes parse apart");

	/* Written again in the wire format, it reads back the same and within the size limit. */
	static char text[VH_FLEET_REPORT_MAX_BYTES];
	size_t len = write_report(&report, text, sizeof(text));
	FUZZ_CHECK(vh_fleet_parse_report(text, len, &again, err, sizeof(err)),
			"the report written again does not parse");
	FUZZ_CHECK(same_report(&report, &again), "the report written again parses differently");
	return 0;
}
