/* vh/probes.h - makes the probe for a check's type. */
#ifndef VH_PROBES_H
#define VH_PROBES_H
#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"
#include <stdbool.h>
#include <stddef.h>

struct event_base;

/* Creates the probe for config->type on base. config is borrowed and must outlive the probe.
 * Returns false with a reason in err. */
VH_MUSTCHECK bool vh_probes_create(struct event_base *base, const struct vh_check_config *config,
		struct vh_probe *out, char *err, size_t err_len);

#endif
