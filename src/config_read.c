/* config_read.c - path-aware, typed reads of the config's JSON tree, one error each. */
#include "vh/config_read.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "vh/config.h"
#include "vh/config_value.h"

#define DURATION_HINT "expected a duration such as \"250ms\", \"1.5s\", \"2m\" or \"1h\""

/* Keeps a message on one line: values quoted in it may hold newlines or other control bytes. */
static void flatten(char *text) {
	for (; *text; text++) {
		if ((unsigned char)*text < 0x20 || *text == 0x7f) {
			*text = '?';
		}
	}
}

bool vh_config_read_fail(const struct vh_config_reader *r, const char *path, const char *key,
		const char *fmt, ...) {
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	bool has_path = path && *path, has_key = key && *key;
	snprintf(r->err, r->err_len, "%s: %s%s%s%s%s", r->file, has_path ? path : "",
			has_path && has_key ? "." : "", has_key ? key : "",
			has_path || has_key ? ": " : "", msg);
	flatten(r->err);
	return false;
}

void vh_config_read_path(char *buf, size_t len, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, len, fmt, ap);
	va_end(ap);
}

bool vh_config_read_fail_oom(const struct vh_config_reader *r) {
	return vh_config_read_fail(r, NULL, NULL, "out of memory");
}

static const struct vh_config_env_origin *find_origin(
		const struct vh_config_reader *r, const json_t *string) {
	for (size_t i = 0; r->env && i < r->env->n; i++) {
		if (r->env->items[i].string == string) {
			return &r->env->items[i];
		}
	}
	return NULL;
}

/* True when raw is one "${NAME}" and nothing else. */
static bool is_one_variable(const char *raw) {
	size_t len = strlen(raw);
	return len > 3 && strncmp(raw, "${", 2) == 0 && raw[len - 1] == '}' &&
			strcspn(raw + 2, "}") == len - 3;
}

/* A value the environment supplied, even in part, may be a secret (a password in a URL put
 * under the wrong key): the message names where it came from instead. */
static const char *describe_string(
		const struct vh_config_reader *r, const json_t *v, char *buf, size_t len) {
	const struct vh_config_env_origin *o = find_origin(r, v);
	char quoted[VH_CONFIG_QUOTE_LEN];
	if (!o) {
		return vh_config_value_quote(json_string_value(v), buf, len);
	}
	if (is_one_variable(o->raw) && strlen(o->raw) <= VH_CONFIG_QUOTE_BYTES) {
		snprintf(buf, len, "the value of %s", o->raw);
		return buf;
	}
	snprintf(buf, len, "the expansion of %s",
			vh_config_value_quote(o->raw, quoted, sizeof(quoted)));
	return buf;
}

const char *vh_config_read_describe(
		const struct vh_config_reader *r, const json_t *v, char *buf, size_t len) {
	switch (json_typeof(v)) {
	case JSON_STRING:
		return describe_string(r, v, buf, len);
	case JSON_INTEGER:
		snprintf(buf, len, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return buf;
	case JSON_REAL:
		snprintf(buf, len, "%g", json_real_value(v));
		return buf;
	case JSON_TRUE:
		return "true";
	case JSON_FALSE:
		return "false";
	case JSON_NULL:
		return "null";
	case JSON_ARRAY:
		return "an array";
	case JSON_OBJECT:
		return "an object";
	}
	return "a value";
}

bool vh_config_read_fail_type(const struct vh_config_reader *r, const char *path, const char *key,
		const char *what, const json_t *v) {
	char got[VH_CONFIG_DESCRIBE_LEN];
	return vh_config_read_fail(r, path, key, "expected %s, got %s", what,
			vh_config_read_describe(r, v, got, sizeof(got)));
}

bool vh_config_read_choice(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, const char *what, const char *const *names, size_t n_names,
		size_t *out) {
	const char *text = NULL;
	char expected[256] = "";
	if (!vh_config_read_string(r, obj, path, key, &text)) {
		return false;
	}
	for (size_t i = 0; text && i < n_names; i++) {
		if (strcmp(text, names[i]) == 0) {
			*out = i;
			return true;
		}
	}
	if (!text) {
		return true;
	}
	for (size_t i = 0; i < n_names; i++) {
		size_t len = strlen(expected);
		snprintf(expected + len, sizeof(expected) - len, "%s%s",
				i == 0 ? "" : (i + 1 == n_names ? " or " : ", "), names[i]);
	}
	char got[VH_CONFIG_DESCRIBE_LEN];
	return vh_config_read_fail(r, path, key, "unknown %s %s (expected %s)", what,
			vh_config_read_describe(r, json_object_get(obj, key), got, sizeof(got)),
			expected);
}

static bool is_in(const char *key, const char *const *list, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (strcmp(key, list[i]) == 0) {
			return true;
		}
	}
	return false;
}

bool vh_config_read_keys(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *const *allowed, size_t n_allowed) {
	const char *key;
	json_t *value;
	/* jansson's iterators take a non-const object; nothing here changes it. */
	json_object_foreach((json_t *)obj, key, value) {
		if (is_in(key, allowed, n_allowed)) {
			continue;
		}
		/* Keys are never expanded, so they come from the file; quoted all the same. */
		char shown[VH_CONFIG_QUOTE_LEN];
		const char *guess = vh_config_value_suggest(key, allowed, n_allowed);
		vh_config_value_quote(key, shown, sizeof(shown));
		if (guess) {
			return vh_config_read_fail(r, path, NULL,
					"unknown key %s (did you mean \"%s\"?)", shown, guess);
		}
		return vh_config_read_fail(r, path, NULL, "unknown key %s", shown);
	}
	return true;
}

bool vh_config_read_string(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, const char **out) {
	const json_t *v = json_object_get(obj, key);
	if (v && !json_is_string(v)) {
		return vh_config_read_fail_type(r, path, key, "a string", v);
	}
	if (v) {
		*out = json_string_value(v);
	}
	return true;
}

bool vh_config_read_bool(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, bool *out) {
	const json_t *v = json_object_get(obj, key);
	if (v && !json_is_boolean(v)) {
		return vh_config_read_fail_type(r, path, key, "true or false", v);
	}
	if (v) {
		*out = json_is_true(v);
	}
	return true;
}

bool vh_config_read_int(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, int64_t min, int64_t max, int64_t *out) {
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		return true;
	}
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, path, key,
				"expected an integer from %" PRId64 " to %" PRId64 ", got %s", min,
				max, vh_config_read_describe(r, v, got, sizeof(got)));
	}
	*out = json_integer_value(v);
	return true;
}

bool vh_config_read_duration(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, int64_t min, int64_t max, int64_t *out) {
	const json_t *v = json_object_get(obj, key);
	char got[VH_CONFIG_DESCRIBE_LEN], lo[VH_CONFIG_DURATION_LEN], hi[VH_CONFIG_DURATION_LEN];
	int64_t ms;
	if (!v) {
		return true;
	}
	if (json_is_integer(v)) {
		ms = json_integer_value(v);
	} else if (!json_is_string(v) || !vh_config_parse_duration(json_string_value(v), &ms)) {
		return vh_config_read_fail(r, path, key, DURATION_HINT ", got %s",
				vh_config_read_describe(r, v, got, sizeof(got)));
	}
	if (ms < min || ms > max) {
		vh_config_value_format_duration(min, lo, sizeof(lo));
		vh_config_value_format_duration(max, hi, sizeof(hi));
		return vh_config_read_fail(r, path, key, "must be between %s and %s, got %s", lo,
				hi, vh_config_read_describe(r, v, got, sizeof(got)));
	}
	*out = ms;
	return true;
}

bool vh_config_read_bytes(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, uint64_t *out) {
	const json_t *v = json_object_get(obj, key);
	uint64_t bytes = 0;
	bool ok;
	if (!v) {
		return true;
	}
	if (json_is_integer(v)) {
		ok = json_integer_value(v) >= 0;
		bytes = (uint64_t)json_integer_value(v);
	} else {
		ok = json_is_string(v) && vh_config_parse_bytes(json_string_value(v), &bytes) &&
				bytes <= INT64_MAX;
	}
	if (!ok) {
		char got[VH_CONFIG_DESCRIBE_LEN];
		return vh_config_read_fail(r, path, key,
				"expected a size such as 1048576, \"512MiB\" or \"1.5GB\" "
				"(at most 2^63-1 bytes), got %s",
				vh_config_read_describe(r, v, got, sizeof(got)));
	}
	*out = bytes;
	return true;
}

bool vh_config_read_percent(const struct vh_config_reader *r, const json_t *obj, const char *path,
		const char *key, double *out) {
	const json_t *v = json_object_get(obj, key);
	if (!v) {
		return true;
	}
	if (!json_is_number(v) || json_number_value(v) < 0 || json_number_value(v) > 100) {
		return vh_config_read_fail_type(r, path, key, "a number from 0 to 100", v);
	}
	*out = json_number_value(v);
	return true;
}

/* Keeps where the variables' values landed in v and its text as written, raw, taking ownership
 * of spans. */
static bool record_origin(const struct vh_config_reader *r, const json_t *v, const char *raw,
		struct vh_config_span *spans, size_t n) {
	struct vh_config_env *env = r->env;
	if (!env || n == 0) {
		free(spans);
		return true;
	}
	char *copy = strdup(raw);
	struct vh_config_env_origin *grown =
			copy ? realloc(env->items, (env->n + 1) * sizeof(*grown)) : NULL;
	if (!grown) {
		free(copy);
		free(spans);
		return vh_config_read_fail_oom(r);
	}
	env->items = grown;
	env->items[env->n++] = (struct vh_config_env_origin){v, spans, n, copy};
	return true;
}

static bool expand_string(const struct vh_config_reader *r, json_t *v, const char *path) {
	const char *text = json_string_value(v);
	struct vh_config_span *spans = NULL;
	size_t n_spans = 0;
	char msg[256];
	if (!strchr(text, '$')) {
		return true;
	}
	char *expanded = vh_config_value_expand_env_spans(text, &spans, &n_spans, msg, sizeof(msg));
	if (!expanded) {
		return vh_config_read_fail(r, path, NULL, "%s", msg);
	}
	/* Recorded before json_string_set() replaces text, the only copy of the raw text. */
	if (!record_origin(r, v, text, spans, n_spans)) {
		free(expanded);
		return false;
	}
	int rc = json_string_set(v, expanded);
	free(expanded);
	if (rc != 0) {
		return vh_config_read_fail(r, path, NULL,
				"is not valid UTF-8 once environment variables are expanded");
	}
	/* json_string_set() keeps v, so the pointer identifies the value from now on. */
	return true;
}

bool vh_config_read_from_env(
		const struct vh_config_reader *r, const json_t *string, size_t start, size_t end) {
	if (start >= end) {
		return true;
	}
	const struct vh_config_env_origin *o = find_origin(r, string);
	if (!o) {
		return false;
	}
	/* Spans are in order and do not overlap; "${A}${B}" gives two that touch. */
	size_t pos = start;
	for (size_t k = 0; k < o->n_spans && pos < end; k++) {
		if (o->spans[k].start <= pos && pos < o->spans[k].end) {
			pos = o->spans[k].end;
		}
	}
	return pos >= end;
}

void vh_config_read_env_finish(struct vh_config_env *env) {
	for (size_t i = 0; i < env->n; i++) {
		free(env->items[i].spans);
		free(env->items[i].raw);
	}
	free(env->items);
	env->items = NULL;
	env->n = 0;
}

/* Expands ${VAR} in every string value (keys stay as written), depth first in file order. */
static bool expand_tree(const struct vh_config_reader *r, json_t *v, const char *path) {
	char child[VH_CONFIG_PATH_LEN];
	const char *key;
	json_t *item;
	size_t i;
	if (json_is_string(v)) {
		return expand_string(r, v, path);
	}
	json_object_foreach(v, key, item) {
		vh_config_read_path(child, sizeof(child), "%s%s%s", path, *path ? "." : "", key);
		if (!expand_tree(r, item, child)) {
			return false;
		}
	}
	json_array_foreach(v, i, item) {
		vh_config_read_path(child, sizeof(child), "%s[%zu]", path, i);
		if (!expand_tree(r, item, child)) {
			return false;
		}
	}
	return true;
}

json_t *vh_config_read_file(const struct vh_config_reader *r) {
	json_error_t error;
	struct stat st;
	char got[VH_CONFIG_DESCRIBE_LEN];
	FILE *f = fopen(r->file, "r");
	if (!f) {
		int e = errno;
		vh_config_read_fail(r, NULL, NULL, "cannot open: %s", strerror(e));
		return NULL;
	}
	/* fopen() opens a directory for reading; only the first read fails, and jansson would
	 * call that an early end of file. */
	if (fstat(fileno(f), &st) == 0 && S_ISDIR(st.st_mode)) {
		fclose(f);
		vh_config_read_fail(r, NULL, NULL, "cannot read: %s", strerror(EISDIR));
		return NULL;
	}
	json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &error);
	fclose(f);
	/* jansson names the source "<stream>", so the file name is put in here. */
	if (!root) {
		snprintf(r->err, r->err_len, "%s:%d:%d: %s", r->file, error.line, error.column,
				error.text);
		flatten(r->err);
		return NULL;
	}
	if (!json_is_object(root)) {
		vh_config_read_fail(r, NULL, NULL, "expected an object at the top level, got %s",
				vh_config_read_describe(r, root, got, sizeof(got)));
		json_decref(root);
		return NULL;
	}
	return root;
}

bool vh_config_read_expand_env(const struct vh_config_reader *r, json_t *root) {
	return expand_tree(r, root, "");
}

bool vh_config_read_backoff(const struct vh_config_reader *r, const json_t *obj, const char *path,
		struct vh_backoff_config *out) {
	static const char *const keys[] = {"initial", "max"};
	static const int64_t default_max = 5000, max_max = 10 * 60 * 1000;
	const json_t *v = json_object_get(obj, "backoff");
	char sub[VH_CONFIG_PATH_LEN];
	out->initial_ms = 250;
	out->max_ms = -1;
	vh_config_read_path(sub, sizeof(sub), "%s.backoff", path);
	if (v && !json_is_object(v)) {
		return vh_config_read_fail_type(r, path, "backoff", "an object", v);
	}
	if (v &&
			(!vh_config_read_keys(r, v, sub, keys, VH_ARRAY_LEN(keys)) ||
					!vh_config_read_duration(r, v, sub, "initial", 10,
							60 * 1000, &out->initial_ms) ||
					!vh_config_read_duration(r, v, sub, "max", out->initial_ms,
							max_max, &out->max_ms))) {
		return false;
	}
	if (out->max_ms < 0) {
		out->max_ms = out->initial_ms > default_max ? out->initial_ms : default_max;
	}
	return true;
}
