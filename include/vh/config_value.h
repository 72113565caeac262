/* vh/config_value.h - text values inside the config file: ${VAR} expansion, durations, URLs. */
#ifndef VH_CONFIG_VALUE_H
#define VH_CONFIG_VALUE_H
#include "vh/compat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How many bytes of a value vh_config_value_quote() shows, and the buffer it needs. */
#define VH_CONFIG_QUOTE_BYTES 60
#define VH_CONFIG_QUOTE_LEN 80

struct vh_listen;

/* The longest duration vh_config_value_format_duration() writes, with its NUL. */
#define VH_CONFIG_DURATION_LEN 24

/* Expands every "${NAME}" in text from the environment; "$$" gives one "$" and any other "$" is
 * kept. NAME is [A-Za-z_][A-Za-z0-9_]*. Returns a malloc'd string the caller frees, or NULL with
 * one of these in err: "\"${\" without a closing \"}\"", "invalid environment variable name
 * \"NAME\"", "environment variable NAME is not set", "out of memory". */
char *vh_config_value_expand_env(const char *text, char *err, size_t err_len);

/* The bytes [start, end) of an expanded string that one ${NAME} put there. */
struct vh_config_span {
	size_t start;
	size_t end;
};

/* As vh_config_value_expand_env(), and also stores in *spans a malloc'd array (the caller frees
 * it) of the *n_spans places where a variable's value landed in the result, in order; *spans is
 * NULL when there are none. Lets the loader tell a secret from the environment from one typed
 * into the file. */
char *vh_config_value_expand_env_spans(const char *text, struct vh_config_span **spans,
		size_t *n_spans, char *err, size_t err_len);

/* Writes ms (>= 0) in the largest unit that holds it exactly: "2h", "5m", "1s", "250ms"; 0 is
 * "0s". The text parses back to ms with vh_config_parse_duration(). This function can't fail. */
void vh_config_value_format_duration(int64_t ms, char *buf, size_t len);

/* Returns the entry of allowed (n_allowed strings) that key most likely misspells: at most two
 * edits away and shorter keys only one. Returns NULL when nothing is that close. */
const char *vh_config_value_suggest(const char *key, const char *const *allowed, size_t n_allowed);

/* Quotes text for an error message: "TEXT", cut after VH_CONFIG_QUOTE_BYTES bytes with "...",
 * control bytes as "?", "\"<redacted>\"" for a value vh_config_redact_value() hides, and from the
 * query or fragment of an http(s) URL on (see vh_config_value_url_shown_len()) "?<redacted>". Every
 * value or key a config error quotes goes through here (a value the environment supplied is not
 * quoted at all: see vh_config_read_describe()). len should be VH_CONFIG_QUOTE_LEN. Returns buf;
 * can't fail. */
const char *vh_config_value_quote(const char *text, char *buf, size_t len);
/* The bytes at the start of value that may be shown: all of them, or when value holds an
 * "http://" or "https://" URL (any case, ending at white space) with a query or fragment, those
 * before its "?" or "#"; the rest of value is left out with it. */
size_t vh_config_value_url_shown_len(const char *value);

/* As vh_config_parse_listen(), but returns what is wrong without quoting text ("the port must be
 * a number from 1 to 65535"), or NULL once out is filled. */
const char *vh_config_value_listen_problem(const char *text, struct vh_listen *out);

/* Returns what is wrong with a host for a TCP connection ("must not be empty", ...), or NULL for a
 * host name (letters, digits, ".", "-", "_"; at most 253 bytes) or a numeric IPv4 or IPv6
 * address (without brackets). */
const char *vh_config_value_host_problem(const char *host);

struct vh_peer_address;

/* Parses a peer address "HOST", "HOST:PORT", "[V6]" or "[V6]:PORT" (HOST a name or numeric
 * address) into out, with port 0 when text has none. Returns false with the reason in err,
 * which does not quote text. */
VH_MUSTCHECK bool vh_config_value_parse_peer_address(
		const char *text, struct vh_peer_address *out, char *err, size_t err_len);

/* A redis:// URL taken apart. The strings are malloc'd; vh_config_value_redis_url_finish() frees
 * them. The password is also located in the URL text, as the bytes [password_start,
 * password_end), so the loader can tell whether the environment supplied it. */
struct vh_config_redis_url {
	char *host;
	unsigned port; /* 6379 when the URL has none */
	char *username; /* NULL when the URL has none or it is empty */
	char *password; /* NULL when the URL has none or it is empty */
	unsigned db; /* 0 when the URL has none */
	size_t password_start;
	size_t password_end;
};

/* The highest database number a redis check may SELECT. */
#define VH_CONFIG_REDIS_DB_MAX 1023

/* Parses "redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]", with %XX escapes in USER and PASSWORD and
 * HOST an [IPv6] in brackets. Returns false with the reason in err; the reason never quotes
 * the URL, which may hold a password. On failure out holds nothing to free. */
VH_MUSTCHECK bool vh_config_value_parse_redis_url(
		const char *url, struct vh_config_redis_url *out, char *err, size_t err_len);
/* Frees the strings of url and zeroes it; accepts a zeroed one. */
void vh_config_value_redis_url_finish(struct vh_config_redis_url *url);

/* Checks "http://HOST[:PORT][/PATH]": http only, no user info, no spaces or control bytes.
 * Returns false with the reason in err (which never quotes the URL). */
VH_MUSTCHECK bool vh_config_value_check_http_url(const char *url, char *err, size_t err_len);

/* Checks a nameserver address: "IPV4", "IPV4:PORT", "IPV6", "[IPV6]" or "[IPV6]:PORT", numeric
 * only, ports 1 to 65535. Returns false with the reason in err, which does not quote text. */
VH_MUSTCHECK bool vh_config_value_check_nameserver(const char *text, char *err, size_t err_len);

#endif
