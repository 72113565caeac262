/* fuzz_request.c - libFuzzer target for vh_request_parse(): path, query and Accept header.
 * Input: NUL-separated path, query and Accept; a missing field is passed as NULL. */
#include "fuzz_common.h"

#include "vh/request.h"

/* Every reason vh_request_parse() may give: it must never echo what the client sent. */
static const char *const known_errors[] = {
		"bad value for verbose (expected 1, true, 0 or false)",
		"bad value for format (expected json, text or health+json)",
		"bad value for exclude (expected a check name: a-z, 0-9, _ and -, at most 63 long)",
		"too many exclude parameters (max 16)",
		"bad percent-encoding in query",
		"query string too long",
};

/* The config's rule for a check name; only such names may reach a renderer or a log line. */
static bool valid_name(const char *name) {
	size_t len = strlen(name);
	if (len == 0 || len >= VH_CONFIG_NAME_MAX) {
		return false;
	}
	for (; *name; name++) {
		char c = *name;
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

static bool known_error(const char *err) {
	for (size_t i = 0; i < sizeof(known_errors) / sizeof(known_errors[0]); i++) {
		if (strcmp(err, known_errors[i]) == 0) {
			return true;
		}
	}
	return false;
}

static void check_parsed(const struct vh_request *req) {
	FUZZ_CHECK(req->endpoint, "endpoint is NULL");
	FUZZ_CHECK(req->format <= VH_FORMAT_HEALTH_JSON, "format out of range");
	FUZZ_CHECK(req->target <= VH_REQUEST_NOT_FOUND, "target out of range");
	FUZZ_CHECK(req->n_exclude <= VH_REQUEST_EXCLUDE_MAX, "too many excludes stored");
	for (size_t i = 0; i < req->n_exclude; i++) {
		FUZZ_CHECK(valid_name(req->exclude[i]), "an exclude is not a valid check name");
	}
	switch (req->target) {
	case VH_REQUEST_CHECK:
		FUZZ_CHECK(valid_name(req->check), "a per-check path names an invalid check");
		FUZZ_CHECK(req->endpoint[0] != '\0', "a check request has no endpoint");
		break;
	case VH_REQUEST_HISTORY:
		FUZZ_CHECK(req->check[0] == '\0' || valid_name(req->check),
				"a history path names an invalid check");
		break;
	case VH_REQUEST_PROBE:
		FUZZ_CHECK(req->check[0] == '\0', "a probe request names a check");
		FUZZ_CHECK(req->endpoint[0] != '\0', "a probe request has no endpoint");
		break;
	case VH_REQUEST_NOT_FOUND:
	case VH_REQUEST_METRICS:
	case VH_REQUEST_DRAIN:
		FUZZ_CHECK(req->check[0] == '\0' && req->n_exclude == 0,
				"a request that reads no query stored some");
		break;
	case VH_REQUEST_PEERS:
		FUZZ_CHECK(req->check[0] == '\0' && req->n_exclude == 0,
				"a request that reads no query stored some");
		FUZZ_CHECK(strcmp(req->endpoint, "peers") == 0,
				"/peers/state has another endpoint");
		break;
	}
	if (req->target == VH_REQUEST_NOT_FOUND) {
		FUZZ_CHECK(strcmp(req->endpoint, "") == 0, "not found but an endpoint is set");
	}
}

/* One trailing slash is allowed and means the same path. */
static void check_trailing_slash(const char *path, const char *query, const char *accept,
		const struct vh_request *req, bool ok) {
	size_t len = strlen(path);
	if (len < 2 || path[len - 1] == '/') {
		return;
	}
	char *slashed = malloc(len + 2);
	FUZZ_CHECK(slashed, "out of memory");
	memcpy(slashed, path, len);
	memcpy(slashed + len, "/", 2);
	struct vh_request other;
	char err[128];
	bool other_ok = vh_request_parse(slashed, query, accept, &other, err, sizeof(err));
	/* Past the length limit only the slashed path is refused, as not found. */
	if (len + 1 <= 80 && req->target != VH_REQUEST_NOT_FOUND) {
		FUZZ_CHECK(other_ok == ok && other.target == req->target,
				"a trailing slash changed the route");
		FUZZ_CHECK(strcmp(other.check, req->check) == 0,
				"a trailing slash changed the check");
	}
	free(slashed);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char *fields[3] = {NULL, NULL, NULL};
	size_t start = 0;
	for (size_t n = 0; n < 3 && start <= size; n++) {
		const uint8_t *nul = memchr(data + start, '\0', size - start);
		size_t end = nul ? (size_t)(nul - data) : size;
		fields[n] = fuzz_strndup(data + start, end - start);
		if (!nul) {
			break;
		}
		start = end + 1;
	}
	struct vh_request req;
	char err[128] = "";
	bool ok = vh_request_parse(fields[0], fields[1], fields[2], &req, err, sizeof(err));
	if (ok) {
		check_parsed(&req);
	} else {
		FUZZ_CHECK(known_error(err), "unexpected or echoing error text");
	}
	check_trailing_slash(fields[0], fields[1], fields[2], &req, ok);
	for (size_t n = 0; n < 3; n++) {
		free(fields[n]);
	}
	return 0;
}
