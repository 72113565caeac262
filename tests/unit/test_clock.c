/* test_clock.c - the time formats people read in responses and logs. */
#include <criterion/criterion.h>

#include "vh/clock.h"

Test(clock, rfc3339_has_milliseconds_and_utc) {
	char buf[32];
	cr_assert_str_eq(vh_clock_format_rfc3339(0, buf, sizeof(buf)), "1970-01-01T00:00:00.000Z");
	cr_assert_str_eq(vh_clock_format_rfc3339(1795521600123, buf, sizeof(buf)),
			"2026-11-24T12:00:00.123Z");
}

Test(clock, durations_pick_a_readable_unit) {
	char buf[32];
	cr_assert_str_eq(vh_clock_format_duration(0, buf, sizeof(buf)), "0ms");
	cr_assert_str_eq(vh_clock_format_duration(-5, buf, sizeof(buf)), "0ms");
	cr_assert_str_eq(vh_clock_format_duration(850, buf, sizeof(buf)), "850ms");
	cr_assert_str_eq(vh_clock_format_duration(12345, buf, sizeof(buf)), "12.3s");
	cr_assert_str_eq(vh_clock_format_duration(245000, buf, sizeof(buf)), "4m05s");
	cr_assert_str_eq(vh_clock_format_duration(11520000, buf, sizeof(buf)), "3h12m");
	cr_assert_str_eq(vh_clock_format_duration(187200000, buf, sizeof(buf)), "2d04h");
}

Test(clock, clocks_move_forward) {
	int64_t a = vh_clock_mono_ms();
	int64_t b = vh_clock_mono_ms();
	cr_assert_geq(b, a);
	cr_assert_gt(vh_clock_wall_ms(), 1700000000000LL);
}
