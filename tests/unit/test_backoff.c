/* test_backoff.c - reconnect delays: bounds, doubling, the cap, reset and the jitter's spread. */
#include <criterion/criterion.h>
#include <stdint.h>

#include "vh/backoff.h"

static struct vh_backoff make(int64_t initial_ms, int64_t max_ms) {
	struct vh_backoff_config config = {.initial_ms = initial_ms, .max_ms = max_ms};
	struct vh_backoff backoff;
	vh_backoff_init(&backoff, &config);
	return backoff;
}

Test(backoff, starts_with_no_failure) {
	struct vh_backoff b = make(250, 5000);
	cr_assert_eq(b.failures, 0);
	cr_assert_eq(b.ceiling_ms, 250);
}

Test(backoff, first_delay_lies_between_half_and_all_of_initial) {
	struct vh_backoff b = make(250, 5000);
	cr_assert_eq(vh_backoff_fail(&b, 0), 125);
	b = make(250, 5000);
	cr_assert_eq(vh_backoff_fail(&b, UINT32_MAX), 125 + UINT32_MAX % 126);
	b = make(250, 5000);
	cr_assert_eq(vh_backoff_fail(&b, 125), 250, "the top of the range is reachable");
	b = make(250, 5000);
	cr_assert_eq(vh_backoff_fail(&b, 126), 125, "126 wraps to the bottom");
}

Test(backoff, ceiling_doubles_after_each_failure) {
	struct vh_backoff b = make(250, 5000);
	int64_t expected[] = {250, 500, 1000, 2000, 4000};
	for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
		cr_assert_eq(b.ceiling_ms, expected[i], "before failure %zu", i + 1);
		/* random 0 gives the floor, half the ceiling */
		cr_assert_eq(vh_backoff_fail(&b, 0), expected[i] / 2);
	}
	cr_assert_eq(b.failures, 5);
}

Test(backoff, ceiling_stops_at_max) {
	struct vh_backoff b = make(250, 5000);
	for (int i = 0; i < 100; i++) {
		int64_t d = vh_backoff_fail(&b, UINT32_MAX);
		cr_assert_leq(d, 5000);
		cr_assert_geq(d, 125);
	}
	cr_assert_eq(b.ceiling_ms, 5000);
	cr_assert_eq(vh_backoff_fail(&b, 0), 2500);
	cr_assert_eq(vh_backoff_fail(&b, 2500), 5000);
	cr_assert_eq(b.failures, 102);
}

Test(backoff, max_that_is_not_a_doubling_of_initial_is_still_reached) {
	struct vh_backoff b = make(300, 1000);
	vh_backoff_fail(&b, 0);
	cr_assert_eq(b.ceiling_ms, 600);
	vh_backoff_fail(&b, 0);
	cr_assert_eq(b.ceiling_ms, 1000);
}

Test(backoff, reset_starts_over) {
	struct vh_backoff b = make(250, 5000);
	for (int i = 0; i < 6; i++) {
		vh_backoff_fail(&b, 7);
	}
	vh_backoff_reset(&b);
	cr_assert_eq(b.failures, 0);
	cr_assert_eq(b.ceiling_ms, 250);
	cr_assert_eq(vh_backoff_fail(&b, 0), 125);
}

Test(backoff, initial_above_max_is_capped) {
	struct vh_backoff b = make(10000, 2000);
	cr_assert_eq(b.ceiling_ms, 2000);
	int64_t d = vh_backoff_fail(&b, UINT32_MAX);
	cr_assert(d >= 1000 && d <= 2000, "delay %lld", (long long)d);
}

Test(backoff, zero_and_negative_settings_still_make_progress) {
	struct vh_backoff b = make(0, 0);
	cr_assert_eq(b.ceiling_ms, 1);
	cr_assert_leq(vh_backoff_fail(&b, UINT32_MAX), 1);
	b = make(-5, 100);
	cr_assert_eq(b.ceiling_ms, 1);
	vh_backoff_fail(&b, 0);
	cr_assert_eq(b.ceiling_ms, 2);
}

Test(backoff, huge_max_does_not_overflow) {
	struct vh_backoff b = make(1, INT64_MAX);
	for (int i = 0; i < 200; i++) {
		int64_t d = vh_backoff_fail(&b, UINT32_MAX);
		cr_assert_geq(d, 0);
		cr_assert_gt(b.ceiling_ms, 0);
	}
	cr_assert_eq(b.ceiling_ms, INT64_MAX);
}

/* Drawn with every value in a range of randoms, the delays cover the whole window evenly: a
 * fleet that fails together spreads out instead of retrying in step. */
Test(backoff, jitter_spreads_over_the_window) {
	int64_t lo = INT64_MAX;
	int64_t hi = 0;
	unsigned buckets[4] = {0};
	for (uint32_t r = 0; r < 4000; r++) {
		struct vh_backoff b = make(1000, 5000);
		vh_backoff_fail(&b, 0);
		int64_t d = vh_backoff_fail(&b, r * 2654435761u); /* ceiling 2000 */
		cr_assert(d >= 1000 && d <= 2000, "delay %lld", (long long)d);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
		buckets[d == 2000 ? 3 : (d - 1000) / 250]++;
	}
	cr_assert_lt(lo, 1010);
	cr_assert_gt(hi, 1990);
	for (int i = 0; i < 4; i++) {
		cr_assert(buckets[i] > 800 && buckets[i] < 1200, "bucket %d holds %u of 4000", i,
				buckets[i]);
	}
}
