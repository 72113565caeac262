/* vh/config_peers.h - the "peers" section and each check's "scope", for config.c. */
#ifndef VH_CONFIG_PEERS_H
#define VH_CONFIG_PEERS_H
#include "vh/compat.h"
#include <jansson.h>
#include <stdbool.h>

#include "vh/config.h"
#include "vh/config_read.h"

/* Reads root's "peers" into config->peers with every default filled in; its port defaults to
 * config's first listen port, so read the listen addresses first. Absent: enabled stays false. */
VH_MUSTCHECK bool vh_config_peers_read(
		const struct vh_config_reader *r, const json_t *root, struct vh_config *config);
/* Reads a check entry's "scope" into check->scope: "shared" by default for the dependency types
 * (postgres, redis, tcp, http) when peers are enabled, unless the target is on loopback or a
 * unix socket (this pod's own port is no shared dependency); "local" otherwise. "shared" needs
 * peers and a dependency type. Call after the type's own settings are read. */
VH_MUSTCHECK bool vh_config_peers_read_scope(const struct vh_config_reader *r, const json_t *entry,
		const char *path, const struct vh_peers_config *peers,
		struct vh_check_config *check);

#endif
