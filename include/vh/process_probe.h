/* vh/process_probe.h - the `process` check: memory and threads of a target process. */
#ifndef VH_PROCESS_PROBE_H
#define VH_PROCESS_PROBE_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/check.h"
#include "vh/compat.h"
#include "vh/config.h"

/* Creates a probe that reads proc_root ("/proc" outside tests) at every run. config is borrowed
 * and must outlive the probe. Runs finish synchronously inside start(). Measures: rss_bytes
 * (bytes) and threads (threads). A target that vanished or whose pid was reused fails with a
 * reason saying so; comm and cmdline targets are looked up again at the next run. */
VH_MUSTCHECK bool vh_process_probe_create(const struct vh_process_config *config,
		const char *proc_root, struct vh_probe *out, char *err, size_t err_len);

#endif
