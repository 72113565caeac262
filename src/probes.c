/* probes.c - maps a check's type to the probe that implements it. */
#include "vh/probes.h"

#include <stdio.h>

#include "vh/cgroup_probe.h"
#include "vh/process_probe.h"

bool vh_probes_create(struct event_base *base, const struct vh_check_config *config,
		struct vh_probe *out, char *err, size_t err_len) {
	(void)base; /* the file-reading probes need no loop; network probes will */
	switch (config->type) {
	case VH_CHECK_PROCESS:
		return vh_process_probe_create(&config->u.process, "/proc", out, err, err_len);
	case VH_CHECK_CGROUP:
		return vh_cgroup_probe_create(&config->u.cgroup, out, err, err_len);
	}
	snprintf(err, err_len, "check \"%s\": unsupported type", config->name);
	return false;
}
