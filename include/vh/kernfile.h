/* vh/kernfile.h - reading and parsing the small text files of /proc and cgroupfs. */
#ifndef VH_KERNFILE_H
#define VH_KERNFILE_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vh/compat.h"

/* Reads up to cap bytes of path into buf (not NUL-terminated) and stores the count in *len.
 * Returns 0, or the errno of the failure. procfs and cgroupfs live in memory, so the read does
 * not stall the event loop the way a disk read could. */
int vh_kernfile_read(const char *path, char *buf, size_t cap, size_t *len);

/* Parses exactly n bytes as an unsigned decimal: digits only (no blanks, no sign, so "-1" cannot
 * wrap to UINT64_MAX), at most 31 of them, no overflow. */
VH_MUSTCHECK bool vh_kernfile_parse_u64(const char *s, size_t n, uint64_t *out);

#endif
