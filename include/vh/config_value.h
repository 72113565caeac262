/* vh/config_value.h - text values inside the config file: ${VAR} expansion, durations, names. */
#ifndef VH_CONFIG_VALUE_H
#define VH_CONFIG_VALUE_H
#include <stddef.h>
#include <stdint.h>

/* The longest duration vh_config_value_format_duration() writes, with its NUL. */
#define VH_CONFIG_DURATION_LEN 24

/* Expands every "${NAME}" in text from the environment; "$$" gives one "$" and any other "$" is
 * kept. NAME is [A-Za-z_][A-Za-z0-9_]*. Returns a malloc'd string the caller frees, or NULL with
 * one of these in err: "\"${\" without a closing \"}\"", "invalid environment variable name
 * \"NAME\"", "environment variable NAME is not set", "out of memory". */
char *vh_config_value_expand_env(const char *text, char *err, size_t err_len);

/* Writes ms (>= 0) in the largest unit that holds it exactly: "2h", "5m", "1s", "250ms"; 0 is
 * "0s". The text parses back to ms with vh_config_parse_duration(). This function can't fail. */
void vh_config_value_format_duration(int64_t ms, char *buf, size_t len);

/* Returns the entry of allowed (n_allowed strings) that key most likely misspells: at most two
 * edits away and shorter keys only one. Returns NULL when nothing is that close. */
const char *vh_config_value_suggest(const char *key, const char *const *allowed, size_t n_allowed);

#endif
