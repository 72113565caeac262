/* vh/config_compare.h - for a reload: which checks changed, copies of them, settings kept fixed. */
#ifndef VH_CONFIG_COMPARE_H
#define VH_CONFIG_COMPARE_H
#include "vh/compat.h"
#include "vh/config.h"
#include <stdbool.h>
#include <stddef.h>

/* True when a and b hold the same settings, strings compared by value (secrets included): on a
 * reload, a check whose config is equal keeps its state, history and probe. */
bool vh_config_check_equal(const struct vh_check_config *a, const struct vh_check_config *b);
/* Makes dst a deep copy of src that owns its own strings. Returns false when out of memory;
 * either way, release dst with vh_config_check_free() (vh/config_check.h). */
VH_MUSTCHECK bool vh_config_check_copy(
		struct vh_check_config *dst, const struct vh_check_config *src);

/* For a reload: the settings a running daemon cannot change (the listen addresses, dns and
 * history) are copied from running into next wherever they differ, also into next's checks.
 * Writes the names of those that differed into names ("listen, dns"; "" when none) and
 * returns how many there were. */
size_t vh_config_keep_fixed(
		const struct vh_config *running, struct vh_config *next, char *names, size_t len);

#endif
