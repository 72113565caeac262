/* vh/config_read.h - path-aware, typed reads of the config's JSON tree for config.c. */
#ifndef VH_CONFIG_READ_H
#define VH_CONFIG_READ_H
#include "vh/compat.h"
#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vh/config_value.h"

struct vh_backoff_config;

/* Room for what vh_config_read_describe() writes. */
#define VH_CONFIG_DESCRIBE_LEN (2 * VH_CONFIG_QUOTE_LEN)

/* The longest JSON path a message shows; longer ones are cut. */
#define VH_CONFIG_PATH_LEN 160

/* Where ${VAR} values landed in one string value of the tree, and its text as written. */
struct vh_config_env_origin {
	const json_t *string;
	struct vh_config_span *spans;
	size_t n_spans;
	char *raw;
};

/* Every string value that ${VAR} expansion put a variable's value into, so that a secret taken
 * from the environment can be told from one typed into the file. Starts zeroed. */
struct vh_config_env {
	struct vh_config_env_origin *items;
	size_t n;
};

/* Where one error goes. Every message is "FILE: json.path: what", or "FILE: what" for the file
 * as a whole; file and err are borrowed. env may be NULL only when no ${VAR} is expanded: without
 * it a value from the environment cannot be told from one typed into the file. */
struct vh_config_reader {
	const char *file;
	char *err;
	size_t err_len;
	struct vh_config_env *env;
};

/* Writes "FILE: path.key: message" into r->err; path and key may each be NULL or "". Returns
 * false, so a reader can `return vh_config_read_fail(...)`. */
VH_PRINTF(4, 5)
bool vh_config_read_fail(const struct vh_config_reader *r, const char *path, const char *key,
		const char *fmt, ...);
bool vh_config_read_fail_oom(const struct vh_config_reader *r);
/* Writes "expected WHAT, got VALUE" for the value at path.key. Returns false. */
bool vh_config_read_fail_type(const struct vh_config_reader *r, const char *path, const char *key,
		const char *what, const json_t *v);
/* Shows v, a value of the tree, after "got " in a message; every error that shows a value uses
 * it. A string any byte of which a ${VAR} supplied is never shown, since it may be a secret:
 * "the value of ${VAR}" when the file says just that, else "the expansion of \"TEXT\"" with the
 * text as written in the file. Any other string goes through vh_config_value_quote(). Numbers and
 * literals as they are, "an array" or "an object". len should be VH_CONFIG_DESCRIBE_LEN.
 * Returns buf or a constant. */
const char *vh_config_read_describe(
		const struct vh_config_reader *r, const json_t *v, char *buf, size_t len);
/* Formats a JSON path for a message into buf; a path longer than len is cut. */
VH_PRINTF(3, 4) void vh_config_read_path(char *buf, size_t len, const char *fmt, ...);

/* Opens and parses r->file with duplicate keys refused; jansson also refuses "\u0000" in strings
 * and keys, so every string read later is a whole C string. Returns the top-level object, which the
 * caller releases with json_decref(), or NULL with "FILE: cannot open: REASON", "FILE:LINE:COL:
 * JANSSON TEXT" or "FILE: expected an object at the top level, got ..." in r->err. */
json_t *vh_config_read_file(const struct vh_config_reader *r);
/* Expands ${VAR} (see vh_config_value_expand_env()) in every string value under root, in place;
 * keys stay as written. Records in r->env, when set, where the values landed. Stops at the first
 * error. */
VH_MUSTCHECK bool vh_config_read_expand_env(const struct vh_config_reader *r, json_t *root);
/* True when every byte [start, end) of string, a value expanded by vh_config_read_expand_env(),
 * came from an environment variable; true for an empty range, false without r->env. */
bool vh_config_read_from_env(
		const struct vh_config_reader *r, const json_t *string, size_t start, size_t end);
/* Frees what expansion recorded and zeroes env; accepts a zeroed one. */
void vh_config_read_env_finish(struct vh_config_env *env);
/* Refuses the first key of obj, in file order, that is not in allowed; suggests a near one. */
VH_MUSTCHECK bool vh_config_read_keys(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *const *allowed, size_t n_allowed);

/* Typed reads of obj[key]. An absent key leaves *out alone, so callers preset the default; a
 * value of the wrong type or out of range fails with a message naming path.key. Strings are
 * borrowed from obj. */
VH_MUSTCHECK bool vh_config_read_string(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *key, const char **out);
VH_MUSTCHECK bool vh_config_read_bool(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *key, bool *out);
/* A JSON integer from min to max; never a real, so 1.0 is refused. */
VH_MUSTCHECK bool vh_config_read_int(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *key, int64_t min, int64_t max, int64_t *out);
/* A JSON integer of ms or a string for vh_config_parse_duration(), from min to max ms. */
VH_MUSTCHECK bool vh_config_read_duration(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *key, int64_t min, int64_t max, int64_t *out);
/* A JSON integer of bytes or a string for vh_config_parse_bytes(), at most INT64_MAX so that it
 * prints back as a JSON integer. */
VH_MUSTCHECK bool vh_config_read_bytes(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *key, uint64_t *out);
/* Any JSON number from 0 to 100. */
VH_MUSTCHECK bool vh_config_read_percent(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *key, double *out);
/* A string that is one of names (n_names of them); stores its index. The message for any other
 * value is "unknown WHAT VALUE (expected NAME, NAME or NAME)", VALUE as vh_config_read_describe()
 * shows it. */
VH_MUSTCHECK bool vh_config_read_choice(const struct vh_config_reader *r, const json_t *obj,
		const char *path, const char *key, const char *what, const char *const *names,
		size_t n_names, size_t *out);
/* The "backoff" object of a dependency check: "initial" (10ms to 1m, default 250ms) and "max"
 * (initial to 10m, default 5s or initial if longer). Fills out with the defaults when absent. */
VH_MUSTCHECK bool vh_config_read_backoff(const struct vh_config_reader *r, const json_t *obj,
		const char *path, struct vh_backoff_config *out);

#endif
