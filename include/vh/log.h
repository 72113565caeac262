/* vh/log.h - one structured line per event on stderr, as JSON or logfmt. */
#ifndef VH_LOG_H
#define VH_LOG_H
#include "vh/compat.h"
#include <stdbool.h>

enum vh_log_level {
	VH_LOG_DEBUG,
	VH_LOG_INFO,
	VH_LOG_WARN,
	VH_LOG_ERROR,
};

enum vh_log_format {
	VH_LOG_FORMAT_JSON,
	VH_LOG_FORMAT_TEXT,
};

/* The longest line written, newline included. It is PIPE_BUF on Linux, so a line written to a
 * pipe is never interleaved with another process's output. */
#define VH_LOG_LINE_MAX 4096

/* Lines below level are dropped. The default is VH_LOG_INFO. */
void vh_log_set_level(enum vh_log_level level);
/* Parses "debug", "info", "warn" or "error". */
VH_MUSTCHECK bool vh_log_parse_level(const char *text, enum vh_log_level *out);
/* The default is VH_LOG_FORMAT_JSON. */
void vh_log_set_format(enum vh_log_format format);
/* Parses "json" or "text". */
VH_MUSTCHECK bool vh_log_parse_format(const char *text, enum vh_log_format *out);

/* Writes one line to stderr with a single write(2) and no allocation. The variadic part is pairs
 * of const char * key and value, ended by NULL; a NULL value is written as "".
 * JSON: {"time":"<RFC 3339 UTC, ms>","level":"info","message":msg,"key":"value",...}, every
 * value a string, escaped per RFC 8259, invalid UTF-8 replaced by U+FFFD. A key named time,
 * level, message or truncated is written as "field.<key>" so no member is duplicated. A line
 * longer than VH_LOG_LINE_MAX is cut at a character boundary, its open string closed, and ends
 * with "truncated":true, so it is still one valid JSON object.
 * Text: logfmt, `time=... level=... msg="..." key=value ...`, values quoted and escaped as
 * needed. In both formats a line is always exactly one line. Callers never pass secrets. */
void vh_log(enum vh_log_level level, const char *msg, ...) VH_SENTINEL;

#endif
