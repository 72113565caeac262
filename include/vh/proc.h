/* vh/proc.h - parsers for /proc/PID files. Pure functions over text, fed fixtures in tests. */
#ifndef VH_PROC_H
#define VH_PROC_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vh/compat.h"

/* The fields of /proc/PID/stat a probe needs. */
struct vh_proc_stat {
	pid_t pid;
	char comm[64]; /* between the first '(' and the last ')', truncated to fit */
	char state;
	uint64_t utime; /* field 14, clock ticks of user CPU time */
	uint64_t stime; /* field 15, clock ticks of system CPU time */
	uint64_t threads; /* field 20 */
	uint64_t start_time; /* field 22, clock ticks since boot: tells a reused pid apart */
	uint64_t vsize_bytes; /* field 23 */
	uint64_t rss_pages; /* field 24 */
};

/* Parses the text of /proc/PID/stat (len bytes, need not be NUL-terminated). Splits at the last
 * ')' so a comm holding spaces or parentheses parses right. Returns false with a reason in err for
 * truncated or malformed text. */
VH_MUSTCHECK bool vh_proc_parse_stat(
		const char *text, size_t len, struct vh_proc_stat *out, char *err, size_t err_len);

/* Parses a pidfile's text: optional white space, a positive decimal pid that fits pid_t, optional
 * white space (a newline). Returns false with a reason in err ("empty", "not a pid: ..."). */
VH_MUSTCHECK bool vh_proc_parse_pidfile(
		const char *text, size_t len, pid_t *out, char *err, size_t err_len);

/* True when the NUL-separated command line (len bytes, as read from /proc/PID/cmdline) contains
 * needle once its arguments are joined with single spaces; the final NUL is not joined. An empty
 * needle matches nothing, so it cannot select an arbitrary process. */
bool vh_proc_cmdline_contains(const char *cmdline, size_t len, const char *needle);

#endif
