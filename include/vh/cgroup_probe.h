/* vh/cgroup_probe.h - the `cgroup` check: memory use, OOM kills and pressure of a cgroup v2. */
#ifndef VH_CGROUP_PROBE_H
#define VH_CGROUP_PROBE_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"

/* Creates a probe over config->path. config is borrowed and must outlive the probe. Runs finish
 * synchronously. A directory that is not cgroup v2 or lacks memory.current gives WARN "cgroup v2
 * memory controller not available at PATH" rather than FAIL, so a v1 host never fails liveness.
 * Measures: memory_bytes, memory_percent (when memory.max is a number), pressure_avg10. */
VH_MUSTCHECK bool vh_cgroup_probe_create(const struct vh_cgroup_config *config,
		struct vh_probe *out, char *err, size_t err_len);

#endif
