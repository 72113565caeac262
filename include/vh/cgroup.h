/* vh/cgroup.h - parsers for cgroup v2 memory files. Pure functions over text. */
#ifndef VH_CGROUP_H
#define VH_CGROUP_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vh/compat.h"

/* Parses memory.current or memory.max: a decimal number (is_max cleared), or "max" (is_max set,
 * out untouched); white space around it is allowed. Returns false for anything else, such as a sign
 * or a number that overflows. */
VH_MUSTCHECK bool vh_cgroup_parse_limit(const char *text, size_t len, uint64_t *out, bool *is_max);
/* Finds "key N" in a flat-keyed file such as memory.events; the key must match a whole word at
 * the start of a line. Returns false when the key is missing or its value malformed. */
VH_MUSTCHECK bool vh_cgroup_parse_keyed(
		const char *text, size_t len, const char *key, uint64_t *out);
/* Reads avg10 of the "some" line of a PSI file such as memory.pressure. Returns false when the
 * line or the field is missing or the value is not a non-negative number. */
VH_MUSTCHECK bool vh_cgroup_parse_pressure(const char *text, size_t len, double *some_avg10);

#endif
