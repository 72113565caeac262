/* vh/clock.h - monotonic time for scheduling, wall time for what people read. */
#ifndef VH_CLOCK_H
#define VH_CLOCK_H
#include <stddef.h>
#include <stdint.h>

/* Milliseconds on CLOCK_MONOTONIC. This function can't fail. */
int64_t vh_clock_mono_ms(void);
/* Microseconds on CLOCK_MONOTONIC, for durations short enough that milliseconds round to 0.
 * This function can't fail. */
int64_t vh_clock_mono_us(void);

/* Milliseconds since the Unix epoch on CLOCK_REALTIME. This function can't fail. */
int64_t vh_clock_wall_ms(void);
/* Writes wall_ms as RFC 3339 UTC with milliseconds ("2026-11-24T10:00:00.123Z") into buf,
 * which should hold at least 32 bytes. Returns buf. */
char *vh_clock_format_rfc3339(int64_t wall_ms, char *buf, size_t len);
/* Writes a duration as a short human string ("850ms", "12.3s", "4m05s", "3h12m", "2d04h"). */
char *vh_clock_format_duration(int64_t ms, char *buf, size_t len);

#endif
