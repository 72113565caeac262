/* clock.c - time sources and the human formats of times and durations. */
#include "vh/clock.h"

#include <inttypes.h>
#include <stdio.h>
#include <time.h>

static int64_t read_clock(clockid_t id) {
	struct timespec ts;
	/* Both clocks are always present on Linux; clock_gettime cannot fail for them. */
	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int64_t vh_clock_mono_ms(void) {
	return read_clock(CLOCK_MONOTONIC);
}

int64_t vh_clock_mono_us(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

int64_t vh_clock_wall_ms(void) {
	return read_clock(CLOCK_REALTIME);
}

char *vh_clock_format_rfc3339(int64_t wall_ms, char *buf, size_t len) {
	time_t secs = (time_t)(wall_ms / 1000);
	struct tm tm;
	if (!gmtime_r(&secs, &tm)) {
		snprintf(buf, len, "1970-01-01T00:00:00.000Z");
		return buf;
	}
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
			tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
	return buf;
}

char *vh_clock_format_duration(int64_t ms, char *buf, size_t len) {
	if (ms < 0) {
		ms = 0;
	}
	int64_t s = ms / 1000;
	if (ms < 1000) {
		snprintf(buf, len, "%" PRId64 "ms", ms);
	} else if (ms < 60000) {
		snprintf(buf, len, "%" PRId64 ".%" PRId64 "s", s, (ms % 1000) / 100);
	} else if (s < 3600) {
		snprintf(buf, len, "%" PRId64 "m%02" PRId64 "s", s / 60, s % 60);
	} else if (s < 86400) {
		snprintf(buf, len, "%" PRId64 "h%02" PRId64 "m", s / 3600, (s % 3600) / 60);
	} else {
		snprintf(buf, len, "%" PRId64 "d%02" PRId64 "h", s / 86400, (s % 86400) / 3600);
	}
	return buf;
}
