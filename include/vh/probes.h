/* vh/probes.h - makes the probe for a check's type. */
#ifndef VH_PROBES_H
#define VH_PROBES_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"

struct event_base;
struct vh_resolver;

/* What network probes share: the loop and the resolver. Both are borrowed and must outlive every
 * probe made with them. */
struct vh_probe_env {
	struct event_base *base;
	struct vh_resolver *resolver;
};

/* Creates the probe for config->type. config is borrowed and must outlive the probe. Returns
 * false with a reason in err. */
VH_MUSTCHECK bool vh_probes_create(const struct vh_probe_env *env,
		const struct vh_check_config *config, struct vh_probe *out, char *err,
		size_t err_len);

#endif
