/* request.c - maps a request's path, query and Accept header to what it asks for. */
#include "vh/request.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* Far above what a probe or a person sends; bounds the work an odd client can cause. */
#define QUERY_MAX 2048
/* The longest path that can name anything: "/debug/history/" plus a 63-byte name and a slash. */
#define PATH_MAX_LEN 80

struct route {
	const char *prefix;
	enum vh_probe_kind kind;
	const char *endpoint;
	bool has_checks; /* whether PREFIX/NAME addresses one check */
};

static const struct route routes[] = {
		{"/live", VH_PROBE_LIVENESS, "livez", true},
		{"/livez", VH_PROBE_LIVENESS, "livez", true},
		{"/healthz", VH_PROBE_LIVENESS, "livez", false},
		{"/ready", VH_PROBE_READINESS, "readyz", true},
		{"/readyz", VH_PROBE_READINESS, "readyz", true},
		{"/startup", VH_PROBE_STARTUP, "startupz", false},
		{"/startupz", VH_PROBE_STARTUP, "startupz", false},
		{"/health", VH_PROBE_HEALTH, "healthz", true},
};

/* Errors name the parameter but never echo its value: it may hold anything a client sent. */
static const char verbose_error[] = "bad value for verbose (expected 1, true, 0 or false)";
static const char format_error[] = "bad value for format (expected json, text or health+json)";
static const char exclude_error[] =
		"bad value for exclude (expected a check name: a-z, 0-9, _ and -, at most 63 long)";

static bool fail(char *err, size_t err_len, const char *message) {
	if (err && err_len > 0) {
		snprintf(err, err_len, "%s", message);
	}
	return false;
}

/* Check names are what the config accepts; only these ever reach a renderer or a log line. */
static bool valid_name(const char *name, size_t len) {
	if (len == 0 || len >= VH_CONFIG_NAME_MAX) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
			return false;
		}
	}
	return true;
}

static const struct route *find_route(const char *prefix, size_t len) {
	for (size_t i = 0; i < VH_ARRAY_LEN(routes); i++) {
		if (strlen(routes[i].prefix) == len && memcmp(routes[i].prefix, prefix, len) == 0) {
			return &routes[i];
		}
	}
	return NULL;
}

/* The paths that are not probes: /metrics, /drain, /peers/state and /debug/history[/NAME]. */
static bool parse_other_path(const char *path, size_t len, struct vh_request *out) {
	static const char metrics[] = "/metrics";
	static const char drain[] = "/drain";
	static const char peers[] = "/peers/state";
	static const char history[] = "/debug/history";
	if (len == strlen(metrics) && memcmp(path, metrics, len) == 0) {
		out->target = VH_REQUEST_METRICS;
		return true;
	}
	if (len == strlen(drain) && memcmp(path, drain, len) == 0) {
		out->target = VH_REQUEST_DRAIN;
		out->endpoint = "drain";
		return true;
	}
	if (len == strlen(peers) && memcmp(path, peers, len) == 0) {
		out->target = VH_REQUEST_PEERS;
		out->endpoint = "peers";
		return true;
	}
	size_t n = strlen(history);
	if (len < n || memcmp(path, history, n) != 0) {
		return false;
	}
	if (len > n && (path[n] != '/' || !valid_name(path + n + 1, len - n - 1))) {
		return true; /* under /debug/history but no valid name: not found */
	}
	if (len > n) {
		memcpy(out->check, path + n + 1, len - n - 1);
		out->check[len - n - 1] = '\0';
	}
	out->target = VH_REQUEST_HISTORY;
	out->endpoint = "history";
	return true;
}

/* Paths are compared byte for byte and never decoded, so "/%72eady" or "/ready/../live" cannot
 * reach a probe by a side door. */
static void parse_path(const char *path, struct vh_request *out) {
	out->target = VH_REQUEST_NOT_FOUND;
	size_t len = strlen(path);
	if (len < 2 || len > PATH_MAX_LEN || path[0] != '/') {
		return;
	}
	if (path[len - 1] == '/') {
		len--;
	}
	if (parse_other_path(path, len, out)) {
		return;
	}
	const char *slash = memchr(path + 1, '/', len - 1);
	size_t prefix_len = slash ? (size_t)(slash - path) : len;
	const struct route *route = find_route(path, prefix_len);
	if (!route) {
		return;
	}
	if (slash) {
		const char *name = slash + 1;
		size_t name_len = len - prefix_len - 1;
		if (!route->has_checks || !valid_name(name, name_len)) {
			return;
		}
		memcpy(out->check, name, name_len);
		out->check[name_len] = '\0';
	}
	out->target = slash ? VH_REQUEST_CHECK : VH_REQUEST_PROBE;
	out->kind = route->kind;
	out->endpoint = route->endpoint;
}

static int hex_value(char c) {
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Percent-decodes src[0..len) into dst. Returns false on a malformed or NUL escape; sets
 * *too_long (and stops) when the value does not fit, which no known value ever needs. */
static bool decode(const char *src, size_t len, char *dst, size_t dst_len, bool *too_long) {
	size_t n = 0;
	*too_long = false;
	for (size_t i = 0; i < len; i++) {
		char c = src[i];
		if (c == '%') {
			int hi = i + 2 < len ? hex_value(src[i + 1]) : -1;
			int lo = i + 2 < len ? hex_value(src[i + 2]) : -1;
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
				return false;
			}
			c = (char)(hi * 16 + lo);
			i += 2;
		}
		if (n + 1 >= dst_len) {
			*too_long = true;
		} else {
			dst[n++] = c;
		}
	}
	dst[n] = '\0';
	return true;
}

static bool parse_verbose(const char *value, bool has_value, bool *out, char *err, size_t err_len) {
	if (!has_value || strcmp(value, "") == 0 || strcmp(value, "1") == 0 ||
			strcmp(value, "true") == 0) {
		*out = true;
		return true;
	}
	if (strcmp(value, "0") == 0 || strcmp(value, "false") == 0) {
		*out = false;
		return true;
	}
	return fail(err, err_len, verbose_error);
}

static bool parse_format(const char *value, enum vh_format *out, char *err, size_t err_len) {
	if (strcmp(value, "json") == 0) {
		*out = VH_FORMAT_JSON;
	} else if (strcmp(value, "text") == 0) {
		*out = VH_FORMAT_TEXT;
	} else if (strcmp(value, "health+json") == 0 || strcmp(value, "health") == 0) {
		*out = VH_FORMAT_HEALTH_JSON;
	} else {
		return fail(err, err_len, format_error);
	}
	return true;
}

static bool add_exclude(struct vh_request *out, const char *value, char *err, size_t err_len) {
	if (!valid_name(value, strlen(value))) {
		return fail(err, err_len, exclude_error);
	}
	if (out->n_exclude >= VH_REQUEST_EXCLUDE_MAX) {
		return fail(err, err_len, "too many exclude parameters (max 16)");
	}
	snprintf(out->exclude[out->n_exclude++], VH_CONFIG_NAME_MAX, "%s", value);
	return true;
}

/* Where the query left the format: explicit ?format, or verbose without one. */
struct query_choice {
	bool has_format;
	enum vh_format format;
};

enum query_key {
	KEY_OTHER,
	KEY_VERBOSE,
	KEY_FORMAT,
	KEY_EXCLUDE,
};

static enum query_key key_of(const char *key, size_t len) {
	static const struct {
		const char *name;
		enum query_key key;
	} keys[] = {
			{"verbose", KEY_VERBOSE},
			{"format", KEY_FORMAT},
			{"exclude", KEY_EXCLUDE},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(keys); i++) {
		if (strlen(keys[i].name) == len && memcmp(keys[i].name, key, len) == 0) {
			return keys[i].key;
		}
	}
	return KEY_OTHER;
}

/* Handles one "key" or "key=value" item of the query; unknown keys are ignored, as kube does. */
static bool parse_item(const char *item, size_t len, struct vh_request *out,
		struct query_choice *choice, char *err, size_t err_len) {
	const char *eq = memchr(item, '=', len);
	enum query_key key = key_of(item, eq ? (size_t)(eq - item) : len);
	const char *raw = eq ? eq + 1 : item + len;
	char value[VH_CONFIG_NAME_MAX];
	bool too_long;
	if (key == KEY_OTHER) {
		return true;
	}
	if (!decode(raw, (size_t)(item + len - raw), value, sizeof(value), &too_long)) {
		return fail(err, err_len, "bad percent-encoding in query");
	}
	/* A value too long for the buffer is valid for no key, so it gets the key's own error. */
	switch (key) {
	case KEY_VERBOSE:
		return !too_long ? parse_verbose(value, eq != NULL, &out->verbose, err, err_len)
				 : fail(err, err_len, verbose_error);
	case KEY_FORMAT:
		choice->has_format = true;
		return !too_long ? parse_format(value, &choice->format, err, err_len)
				 : fail(err, err_len, format_error);
	case KEY_EXCLUDE:
		return !too_long ? add_exclude(out, value, err, err_len)
				 : fail(err, err_len, exclude_error);
	case KEY_OTHER:
		break;
	}
	return true;
}

static bool parse_query(const char *query, struct vh_request *out, struct query_choice *choice,
		char *err, size_t err_len) {
	if (!query) {
		return true;
	}
	size_t len = strlen(query);
	if (len > QUERY_MAX) {
		return fail(err, err_len, "query string too long");
	}
	const char *end = query + len;
	for (const char *item = query; item < end;) {
		const char *amp = memchr(item, '&', (size_t)(end - item));
		const char *item_end = amp ? amp : end;
		if (item_end > item &&
				!parse_item(item, (size_t)(item_end - item), out, choice, err,
						err_len)) {
			return false;
		}
		item = item_end + 1;
	}
	return true;
}

/* True when an Accept item's parameters (after the media range) hold q=0: "not acceptable". */
static bool refused(const char *params, size_t len) {
	for (size_t i = 0; i < len; i++) {
		if (params[i] != ';') {
			continue;
		}
		size_t j = i + 1;
		while (j < len && (params[j] == ' ' || params[j] == '\t')) {
			j++;
		}
		if (j + 1 >= len || (params[j] != 'q' && params[j] != 'Q') ||
				params[j + 1] != '=') {
			continue;
		}
		for (j += 2; j < len && (params[j] == '0' || params[j] == '.'); j++) {
		}
		return j == len || params[j] == ';' || params[j] == ' ' || params[j] == '\t';
	}
	return false;
}

static bool media_is(const char *range, size_t len, const char *type) {
	return strlen(type) == len && strncasecmp(range, type, len) == 0;
}

/* application/health+json anywhere wins (only clients that know it ask for it); otherwise the
 * first of application/json and text/plain in the list decides. */
static enum vh_format negotiate(const char *accept) {
	enum vh_format format = VH_FORMAT_JSON;
	bool decided = false;
	for (const char *p = accept; p && *p;) {
		size_t item_len = strcspn(p, ",");
		const char *range = p + strspn(p, " \t");
		size_t range_len = strcspn(range, ";, \t");
		const char *params = range + range_len;
		size_t params_len = (size_t)(p + item_len - params);
		if (!refused(params, params_len)) {
			if (media_is(range, range_len, "application/health+json")) {
				return VH_FORMAT_HEALTH_JSON;
			}
			if (!decided && media_is(range, range_len, "application/json")) {
				decided = true;
			} else if (!decided && media_is(range, range_len, "text/plain")) {
				format = VH_FORMAT_TEXT;
				decided = true;
			}
		}
		p += item_len;
		if (*p == ',') {
			p++;
		}
	}
	return format;
}

bool vh_request_parse(const char *path, const char *query, const char *accept,
		struct vh_request *out, char *err, size_t err_len) {
	memset(out, 0, sizeof(*out));
	out->endpoint = "";
	out->format = VH_FORMAT_JSON;
	out->details = true;
	parse_path(path ? path : "", out);
	if (out->target == VH_REQUEST_NOT_FOUND || out->target == VH_REQUEST_METRICS ||
			out->target == VH_REQUEST_DRAIN || out->target == VH_REQUEST_PEERS) {
		return true;
	}
	struct query_choice choice = {false, VH_FORMAT_JSON};
	if (!parse_query(query, out, &choice, err, err_len)) {
		return false;
	}
	if (choice.has_format) {
		out->format = choice.format;
	} else if (out->verbose) {
		out->format = VH_FORMAT_TEXT;
	} else {
		out->format = negotiate(accept);
	}
	return true;
}
