/* test_scrub.c - error text is shown without secrets, URL user info or line breaks. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "vh/scrub.h"

static char out[512];

static const char *scrub(const char *text, const char *secret) {
	const char *secrets[] = {secret};
	return vh_scrub(text, secrets, 1, out, sizeof(out));
}

static const char *scrub_plain(const char *text) {
	return vh_scrub(text, NULL, 0, out, sizeof(out));
}

Test(scrub, plain_text_is_kept) {
	cr_assert(eq(str, (char *)scrub_plain("Connection refused"), "Connection refused"));
	cr_assert(eq(str, (char *)scrub_plain("FATAL:  database \"x\" does not exist"),
				  "FATAL:  database \"x\" does not exist"),
			"double spaces stay");
}

Test(scrub, secret_is_replaced_everywhere) {
	cr_assert(eq(str, (char *)scrub("auth S3cret failed; S3cret again:S3cret", "S3cret"),
			"auth *** failed; *** again:***"));
}

Test(scrub, adjacent_occurrences_become_one_mask) {
	cr_assert(eq(str, (char *)scrub("xS3cretS3crety", "S3cret"), "x***y"));
}

Test(scrub, overlapping_occurrences_leave_nothing) {
	/* "abab" occurs at 0 and 2 of "ababab"; a left-to-right replace would leave "ab". */
	cr_assert(eq(str, (char *)scrub("[ababab]", "abab"), "[***]"));
}

Test(scrub, overlapping_secrets_leave_nothing) {
	const char *secrets[] = {"abc", "bcd"};
	vh_scrub("x abcd y", secrets, 2, out, sizeof(out));
	cr_assert(eq(str, out, "x *** y"));
	const char *nested[] = {"pass", "password123"};
	vh_scrub("pw password123 end", nested, 2, out, sizeof(out));
	cr_assert(eq(str, out, "pw *** end"));
}

Test(scrub, null_and_empty_secrets_are_ignored) {
	const char *secrets[] = {NULL, "", "zz"};
	vh_scrub("abc zz", secrets, 3, out, sizeof(out));
	cr_assert(eq(str, out, "abc ***"));
	vh_scrub("abc", NULL, 3, out, sizeof(out));
	cr_assert(eq(str, out, "abc"), "a NULL array is no secrets");
}

Test(scrub, postgres_url_user_info_is_masked) {
	cr_assert(eq(str, (char *)scrub_plain("invalid URI: postgresql://u:p@h/db"),
			"invalid URI: postgresql://***@h/db"));
}

Test(scrub, redis_url_with_password_only_is_masked) {
	cr_assert(eq(str, (char *)scrub_plain("redis://:p@h:6379/0 refused"),
			"redis://***@h:6379/0 refused"));
}

Test(scrub, url_password_with_at_sign_and_slash_is_masked_whole) {
	cr_assert(eq(str, (char *)scrub_plain("\"postgresql://u:p@s/s@h:5432/db\""),
			"\"postgresql://***@h:5432/db\""));
}

Test(scrub, url_without_user_info_is_kept) {
	cr_assert(eq(str, (char *)scrub_plain("GET http://127.0.0.1:8080/health failed"),
			"GET http://127.0.0.1:8080/health failed"));
	cr_assert(eq(str, (char *)scrub_plain("http://h/x and mail a@b"),
				  "http://h/x and mail a@b"),
			"the authority ends at a blank");
}

Test(scrub, libpq_uri_error_with_a_space_in_the_password) {
	/* libpq echoes the whole URI; only the known password covers the part after the blank. */
	cr_assert(eq(str,
			(char *)scrub("invalid IPv6 host address in URI: \"postgresql://u:S3cret "
				      "PW@[::1/db\"\n",
					"S3cret PW"),
			"invalid IPv6 host address in URI: \"postgresql://***@[::1/db\""));
}

Test(scrub, password_keyword_value_is_masked) {
	cr_assert(eq(str, (char *)scrub_plain("password=xyz other=1"), "password=*** other=1"));
	cr_assert(eq(str, (char *)scrub_plain("host=h PASSWORD = 'a b\\' c' port=5"),
			"host=h PASSWORD = *** port=5"));
	cr_assert(eq(str, (char *)scrub_plain("PGPASSWORD=hunter2"), "PGPASSWORD=***"));
	cr_assert(eq(str, (char *)scrub_plain("redis://h/0?password=x1&db=2"),
			"redis://h/0?password=***&db=2"));
	cr_assert(eq(str, (char *)scrub_plain("the password is wrong"), "the password is wrong"),
			"no '=' means no value");
}

Test(scrub, libpq_multi_line_message_becomes_one_line) {
	cr_assert(eq(str,
			(char *)scrub_plain(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"Connection refused\n\tIs the server running on that "
					"host and accepting TCP/IP connections?\n"),
			"connection to server at \"127.0.0.1\", port 5432 failed: Connection "
			"refused; Is the server running on that host and accepting TCP/IP "
			"connections?"));
}

Test(scrub, line_break_after_punctuation_is_a_space) {
	cr_assert(eq(str, (char *)scrub_plain("failed:\n  detail.\r\nnext\ttab"),
			"failed: detail. next tab"));
}

Test(scrub, leading_trailing_blanks_and_controls) {
	cr_assert(eq(str,
			(char *)scrub_plain("\n  a\x01"
					    "b\x7f \t\n"),
			"a?b?"));
	cr_assert(eq(str, (char *)scrub_plain(""), ""));
	cr_assert(eq(str, (char *)scrub_plain(NULL), ""), "NULL text is empty");
}

Test(scrub, truncation_keeps_the_nul) {
	char small[8];
	memset(small, 'X', sizeof(small));
	vh_scrub("0123456789", NULL, 0, small, sizeof(small));
	cr_assert(eq(str, small, "0123456"));
	char one[1] = {'X'};
	vh_scrub("abc", NULL, 0, one, sizeof(one));
	cr_assert_eq(one[0], '\0');
	char none[1] = {'X'};
	vh_scrub("abc", NULL, 0, none, 0);
	cr_assert_eq(none[0], 'X', "out_len 0 writes nothing");
}

Test(scrub, truncation_never_shows_part_of_a_secret) {
	char small[10];
	const char *secrets[] = {"topsecret"};
	vh_scrub("auth: topsecret", secrets, 1, small, sizeof(small));
	cr_assert(eq(str, small, "auth: ***"));
	vh_scrub("auth:  topsecret", secrets, 1, small, sizeof(small));
	cr_assert(eq(str, small, "auth:  **"));
}

Test(scrub, truncation_does_not_split_utf8) {
	char small[6];
	vh_scrub("abcd\xc3\xa9", NULL, 0, small, sizeof(small)); /* "abcdé": é needs 2 bytes */
	cr_assert(eq(str, small, "abcd"));
	vh_scrub("ab\xe2\x82\xac!", NULL, 0, small, sizeof(small)); /* "ab€!": € fits */
	cr_assert(eq(str, small, "ab\xe2\x82\xac"));
}

Test(scrub, secret_cut_off_at_the_end_is_masked) {
	cr_assert(eq(str, (char *)scrub("password was Hunter2Pass", "Hunter2Password"),
				  "password was ***"),
			"a message cut inside the secret keeps none of it");
	cr_assert(eq(str, (char *)scrub("ends with Hunt", "Hunter2Password"), "ends with ***"));
	cr_assert(eq(str, (char *)scrub("ends with Hun", "Hunter2Password"), "ends with Hun"),
			"three characters are too few to tell from ordinary text");
	cr_assert(eq(str, (char *)scrub("Hunter2 in the middle", "Hunter2Password"),
				  "Hunter2 in the middle"),
			"only the very end can be a cut-off secret");
}

/* libpq accepts any white space around "=", so the scrubber must skip all of it (found by
 * tests/fuzz/fuzz_scrub). */
Test(scrub, keyword_value_after_any_white_space_is_masked) {
	cr_assert_null(strstr(scrub_plain("password=\vhunter2 host=db"), "hunter2"));
	cr_assert_null(strstr(scrub_plain("password=\nhunter2 host=db"), "hunter2"));
	cr_assert_null(strstr(scrub_plain("password\r\n= hunter2"), "hunter2"));
	cr_assert_null(strstr(scrub_plain("password\f=\fhunter2"), "hunter2"));
	cr_assert_null(strstr(scrub_plain("PGPASSWORD =GPASSWORD = xyz"), "xyz"),
			"a keyword inside another keyword's value");
}
