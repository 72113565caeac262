/* vh/self_stats.h - the daemon's own resource use, for the process_* metrics. */
#ifndef VH_SELF_STATS_H
#define VH_SELF_STATS_H

#include <stdbool.h>
#include <stdint.h>

#include "vh/compat.h"

/* What Prometheus client libraries report about their process. Fields a read could not fill are
 * flagged false in the have_* members and left 0. */
struct vh_self_stats {
	bool have_stat; /* from /proc/self/stat */
	uint64_t rss_bytes;
	uint64_t vsize_bytes;
	uint64_t threads;
	double cpu_seconds; /* user plus system */
	bool have_start_time; /* needs btime from /proc/stat as well */
	double start_time_seconds; /* since the Unix epoch */
	bool have_fds;
	uint64_t open_fds;
	bool have_max_fds;
	uint64_t max_fds; /* the soft RLIMIT_NOFILE */
};

/* Reads the daemon's own stats from /proc/self (files in memory: no disk, no blocking). Fills
 * what it can and returns false when nothing at all could be read. */
VH_MUSTCHECK bool vh_self_stats_read(struct vh_self_stats *out);

#endif
