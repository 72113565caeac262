/* vh/log.h - one structured line per event on stderr. */
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

/* Lines below level are dropped. The default is VH_LOG_INFO. */
void vh_log_set_level(enum vh_log_level level);
/* Parses "debug", "info", "warn" or "error". */
VH_MUSTCHECK bool vh_log_parse_level(const char *text, enum vh_log_level *out);

/* Writes one logfmt line: `time=... level=... msg="..." key=value ...`. The variadic part is
 * pairs of const char * key and value, ended by NULL. Values are quoted and escaped as needed, so
 * a line is always one line. Callers never pass secrets. */
void vh_log(enum vh_log_level level, const char *msg, ...) VH_SENTINEL;

#endif
