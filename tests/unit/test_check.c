/* test_check.c - result helpers: outputs are always one line of valid UTF-8. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vh/check.h"

static void expect_sanitized(const char *input, const char *expected) {
	char text[64];
	snprintf(text, sizeof(text), "%s", input);
	vh_check_output_sanitize(text);
	cr_assert_str_eq(text, expected, "sanitizing \"%s\"", input);
}

Test(check_output, keeps_valid_utf8) {
	expect_sanitized("plain ascii", "plain ascii");
	expect_sanitized("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
			"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
}

Test(check_output, replaces_invalid_bytes) {
	expect_sanitized("a\xff"
			 "b",
			"a?b");
	expect_sanitized("latin1 caf\xe9", "latin1 caf?");
	expect_sanitized("overlong \xc0\xaf", "overlong ??");
	expect_sanitized("surrogate \xed\xa0\x80", "surrogate ???");
	expect_sanitized("too big \xf4\x90\x80\x80", "too big ????");
	expect_sanitized("lone continuation \x80", "lone continuation ?");
}

Test(check_output, replaces_a_sequence_cut_short) {
	expect_sanitized("cut \xe2\x82", "cut ??");
}

Test(check_output, control_characters_become_spaces) {
	expect_sanitized("two\nlines\tand\x1b[31m", "two lines and [31m");
	expect_sanitized("del\x7f", "del ");
}

Test(check_output, result_set_truncates_into_valid_utf8) {
	struct vh_check_result result;
	char long_text[VH_CHECK_OUTPUT_MAX + 8];
	/* 254 ASCII bytes then a 3-byte euro sign: the output buffer keeps only its first byte. */
	memset(long_text, 'x', VH_CHECK_OUTPUT_MAX - 2);
	strcpy(long_text + VH_CHECK_OUTPUT_MAX - 2, "\xe2\x82\xac");
	vh_check_result_set(&result, VH_STATUS_FAIL, "%s", long_text);
	cr_assert_eq(strlen(result.output), VH_CHECK_OUTPUT_MAX - 1);
	cr_assert_eq(result.output[VH_CHECK_OUTPUT_MAX - 2], '?');
	vh_check_result_raise(&result, VH_STATUS_FAIL, "ignored");
	cr_assert_eq(result.output[0], 'x', "raise to the same status keeps the output");
	result.status = VH_STATUS_PASS;
	vh_check_result_raise(&result, VH_STATUS_WARN, "bad\nline");
	cr_assert_str_eq(result.output, "bad line");
}
