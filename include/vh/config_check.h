/* vh/config_check.h - the parts of a check's config that depend on its type, for config.c. */
#ifndef VH_CONFIG_CHECK_H
#define VH_CONFIG_CHECK_H
#include "vh/compat.h"
#include <jansson.h>
#include <stdbool.h>

#include "vh/config.h"
#include "vh/config_read.h"

/* Reads entry's "type" into check->type and sets the type's default groups (liveness for process
 * and cgroup, readiness for the dependency types). Fails on a missing or unknown type. */
VH_MUSTCHECK bool vh_config_check_read_type(const struct vh_config_reader *r, const json_t *entry,
		const char *path, struct vh_check_config *check);
/* Reads the object named after check->type (entry["postgres"], ...) into check->u, with every
 * default filled in, and refuses the object of any other type. Strings are copied; call
 * vh_config_check_free() afterwards, also when this fails. */
VH_MUSTCHECK bool vh_config_check_read(const struct vh_config_reader *r, const json_t *entry,
		const char *path, struct vh_check_config *check);
/* Frees what vh_config_check_read() kept in check->u; accepts a zeroed or half-read one. */
void vh_config_check_free(struct vh_check_config *check);

#endif
