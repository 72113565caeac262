/* vh/redis_info.h - reads the few fields the redis check needs out of a Redis INFO reply. */
#ifndef VH_REDIS_INFO_H
#define VH_REDIS_INFO_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vh/compat.h"

/* What the "role" field says. Redis calls a replica "slave" in INFO. */
enum vh_redis_role {
	VH_REDIS_ROLE_UNKNOWN = 0, /* no role line */
	VH_REDIS_ROLE_MASTER,
	VH_REDIS_ROLE_REPLICA,
};

/* The fields of one INFO reply. Each has_* says whether its line was present; the value beside
 * it is 0 (or false) otherwise. master_link_status only appears on a replica. */
struct vh_redis_info {
	enum vh_redis_role role;
	bool has_loading;
	bool loading;
	bool has_master_link;
	bool master_link_up;
	bool has_used_memory;
	uint64_t used_memory;
	bool has_maxmemory;
	uint64_t maxmemory; /* 0 means no limit */
	bool has_connected_clients;
	uint64_t connected_clients;
};

/* Parses len bytes of INFO text (no NUL needed). A field is a line "key:value" with key at the
 * start of the line, so used_memory never matches used_memory_rss; lines end in "\r\n" (a bare
 * "\n" is accepted), and section headers ("# Memory"), blank lines and other keys are skipped.
 * Returns false, with the first problem in err, when one of the fields above appears twice or has
 * a value that is not exactly what Redis writes: a decimal number without sign or spaces that
 * fits in 64 bits, "0"/"1" for loading, "up"/"down" for master_link_status, "master"/"slave" for
 * role. Missing fields are not an error; out is filled in either way. This function does not
 * allocate. */
VH_MUSTCHECK bool vh_redis_info_parse(
		const char *text, size_t len, struct vh_redis_info *out, char *err, size_t err_len);

/* Returns "master", "replica" or "unknown". */
const char *vh_redis_role_name(enum vh_redis_role role);

#endif
