/* test_history.c - the rings of recent results and transitions. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vh/history.h"

Test(history, rejects_empty_rings) {
	cr_assert_null(vh_history_create(0, 4));
	cr_assert_null(vh_history_create(4, 0));
	vh_history_destroy(NULL);
}

Test(history, empty_history_has_nothing) {
	struct vh_history *h = vh_history_create(3, 2);
	cr_assert_eq(vh_history_n_results(h), 0);
	cr_assert_eq(vh_history_n_transitions(h), 0);
	cr_assert_null(vh_history_result(h, 0));
	cr_assert_null(vh_history_transition(h, 0));
	cr_assert_eq(vh_history_max_results(h), 3);
	cr_assert_eq(vh_history_max_transitions(h), 2);
	vh_history_destroy(h);
}

Test(history, keeps_the_newest_results_newest_first) {
	struct vh_history *h = vh_history_create(3, 2);
	char output[16];
	for (int i = 1; i <= 5; i++) {
		snprintf(output, sizeof(output), "run %d", i);
		vh_history_add_result(h, i * 1000, i * 10, i % 2 ? VH_STATUS_PASS : VH_STATUS_FAIL,
				output);
	}
	cr_assert_eq(vh_history_n_results(h), 3);
	cr_assert_eq(vh_history_total_results(h), 5);
	cr_assert_str_eq(vh_history_result(h, 0)->output, "run 5");
	cr_assert_str_eq(vh_history_result(h, 1)->output, "run 4");
	cr_assert_str_eq(vh_history_result(h, 2)->output, "run 3");
	cr_assert_null(vh_history_result(h, 3));
	cr_assert_eq(vh_history_result(h, 1)->status, VH_STATUS_FAIL);
	cr_assert_eq(vh_history_result(h, 1)->wall_ms, 4000);
	cr_assert_eq(vh_history_result(h, 1)->duration_us, 40);
	vh_history_destroy(h);
}

Test(history, transitions_wrap_independently) {
	struct vh_history *h = vh_history_create(1, 2);
	vh_history_add_transition(h, 1, VH_STATUS_UNKNOWN, VH_STATUS_PASS, "up");
	vh_history_add_transition(h, 2, VH_STATUS_PASS, VH_STATUS_FAIL, "refused");
	vh_history_add_transition(h, 3, VH_STATUS_FAIL, VH_STATUS_PASS, NULL);
	cr_assert_eq(vh_history_n_transitions(h), 2);
	cr_assert_eq(vh_history_total_transitions(h), 3);
	const struct vh_history_transition *t = vh_history_transition(h, 0);
	cr_assert_eq(t->wall_ms, 3);
	cr_assert_str_eq(t->reason, "", "NULL records an empty reason");
	t = vh_history_transition(h, 1);
	cr_assert_eq(t->from, VH_STATUS_PASS);
	cr_assert_eq(t->to, VH_STATUS_FAIL);
	cr_assert_str_eq(t->reason, "refused");
	cr_assert_eq(vh_history_n_results(h), 0, "results are a separate ring");
	vh_history_destroy(h);
}

Test(history, long_output_is_truncated_not_overflowed) {
	struct vh_history *h = vh_history_create(1, 1);
	char output[VH_CHECK_OUTPUT_MAX * 2];
	memset(output, 'x', sizeof(output) - 1);
	output[sizeof(output) - 1] = '\0';
	vh_history_add_result(h, 1, 1, VH_STATUS_FAIL, output);
	cr_assert_eq(strlen(vh_history_result(h, 0)->output), VH_CHECK_OUTPUT_MAX - 1);
	vh_history_destroy(h);
}
