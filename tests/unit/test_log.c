/* test_log.c - log lines as a shipper sees them on stderr: JSON that always parses, and logfmt. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vh/log.h"

/* Room for many lines: a test may write a few hundred truncated ones. */
#define OUT_MAX (1024 * 1024)

static char out[OUT_MAX];

struct capture {
	FILE *file;
	int saved;
};

/* Points fd 2 at a temporary file, so that what vh_log writes with write(2) can be read back. */
static void capture_start(struct capture *c) {
	c->file = tmpfile();
	cr_assert_not_null(c->file);
	c->saved = dup(STDERR_FILENO);
	cr_assert_geq(c->saved, 0);
	cr_assert_eq(dup2(fileno(c->file), STDERR_FILENO), STDERR_FILENO);
}

/* Restores fd 2 and returns everything written since capture_start, NUL-terminated. */
static const char *capture_end(struct capture *c) {
	cr_assert_eq(dup2(c->saved, STDERR_FILENO), STDERR_FILENO);
	close(c->saved);
	rewind(c->file);
	size_t n = fread(out, 1, sizeof(out) - 1, c->file);
	out[n] = '\0';
	fclose(c->file);
	return out;
}

static size_t count_lines(const char *text) {
	size_t n = 0;
	for (const char *p = text; *p; p++) {
		n += *p == '\n';
	}
	return n;
}

/* Parses one JSON line (text up to its newline), rejecting duplicate keys. */
static json_t *parse_line(const char *line) {
	const char *end = strchr(line, '\n');
	cr_assert_not_null(end, "no newline after %s", line);
	json_error_t error;
	json_t *doc = json_loadb(line, (size_t)(end - line), JSON_REJECT_DUPLICATES, &error);
	cr_assert_not_null(doc, "%s: %.*s", error.text, (int)(end - line), line);
	cr_assert(json_is_object(doc));
	return doc;
}

/* Asserts text is exactly one JSON line and returns the parsed object. */
static json_t *only_line(const char *text) {
	cr_assert_eq(count_lines(text), 1, "expected one line, got: %s", text);
	cr_assert_eq(text[strlen(text) - 1], '\n');
	cr_assert_leq(strlen(text), VH_LOG_LINE_MAX);
	return parse_line(text);
}

/* Asserts doc has exactly these members, in this order. */
static void assert_keys(json_t *doc, const char *const *keys, size_t n) {
	cr_assert_eq(json_object_size(doc), n, "%zu members", json_object_size(doc));
	size_t i = 0;
	const char *key;
	json_t *value;
	json_object_foreach(doc, key, value) {
		cr_assert_str_eq(key, keys[i]);
		i++;
	}
}

static const char *str(json_t *doc, const char *key) {
	json_t *value = json_object_get(doc, key);
	cr_assert(json_is_string(value), "member %s is not a string", key);
	return json_string_value(value);
}

static bool is_rfc3339_ms(const char *t) {
	static const char shape[] = "dddd-dd-ddTdd:dd:dd.dddZ";
	if (strlen(t) != sizeof(shape) - 1) {
		return false;
	}
	for (size_t i = 0; shape[i]; i++) {
		bool ok = shape[i] == 'd' ? (t[i] >= '0' && t[i] <= '9') : t[i] == shape[i];
		if (!ok) {
			return false;
		}
	}
	return true;
}

Test(log, json_is_the_default_with_time_level_message_then_fields_in_call_order) {
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_WARN, "check status changed", "check", "db", "from", "pass", "to", "fail",
			"reason", "connection refused", NULL);
	json_t *doc = only_line(capture_end(&c));
	static const char *const keys[] = {
			"time", "level", "message", "check", "from", "to", "reason"};
	assert_keys(doc, keys, VH_ARRAY_LEN(keys));
	cr_assert(is_rfc3339_ms(str(doc, "time")), "%s", str(doc, "time"));
	cr_assert_str_eq(str(doc, "level"), "warn");
	cr_assert_str_eq(str(doc, "message"), "check status changed");
	cr_assert_str_eq(str(doc, "check"), "db");
	cr_assert_str_eq(str(doc, "from"), "pass");
	cr_assert_str_eq(str(doc, "to"), "fail");
	cr_assert_str_eq(str(doc, "reason"), "connection refused");
	json_decref(doc);
}

Test(log, json_without_fields_and_with_a_null_value) {
	vh_log_set_format(VH_LOG_FORMAT_JSON);
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_ERROR, "event loop failed", NULL);
	vh_log(VH_LOG_INFO, "x", "detail", NULL, NULL);
	const char *text = capture_end(&c);
	cr_assert_eq(count_lines(text), 2);
	json_t *first = parse_line(text);
	static const char *const keys[] = {"time", "level", "message"};
	assert_keys(first, keys, VH_ARRAY_LEN(keys));
	cr_assert_str_eq(str(first, "level"), "error");
	json_t *second = parse_line(strchr(text, '\n') + 1);
	cr_assert_str_eq(str(second, "detail"), "");
	json_decref(first);
	json_decref(second);
}

Test(log, json_escapes_quotes_backslashes_and_control_characters) {
	const char *hostile = "say \"hi\"\\ now\nlevel=error\r\ttab\b\f\x01\x1f\x7f end";
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_INFO, "msg \"quoted\"\n", "reason", hostile, "k\"ey\n", "v", NULL);
	const char *text = capture_end(&c);
	json_t *doc = only_line(text);
	cr_assert_str_eq(str(doc, "reason"), hostile);
	cr_assert_str_eq(str(doc, "message"), "msg \"quoted\"\n");
	cr_assert_str_eq(str(doc, "k\"ey\n"), "v");
	cr_assert_not_null(strstr(text, "\\\"hi\\\"\\\\ now\\nlevel=error\\r\\ttab\\b\\f"));
	cr_assert_not_null(strstr(text, "\\u0001\\u001f\\u007f end"));
	for (const char *p = text; *p != '\n'; p++) {
		cr_assert_geq((unsigned char)*p, 0x20, "raw control byte at %zu",
				(size_t)(p - text));
	}
	json_decref(doc);
}

Test(log, json_replaces_invalid_utf8_and_keeps_valid_utf8) {
	/* A stray continuation, a lone lead byte, a surrogate, an overlong '/', a code point past
	 * U+10FFFF and a sequence cut by the end of the string; then valid 2, 3 and 4 byte forms.
	 */
	const char *bad = "a\x80 b\xc3 c\xed\xa0\x80 d\xc0\xaf e\xf4\x90\x80\x80 f\xe2\x82";
	const char *good = "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80";
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_INFO, "utf8", "bad", bad, "good", good, NULL);
	json_t *doc = only_line(capture_end(&c));
#define FFFD "\xef\xbf\xbd"
	cr_assert_str_eq(str(doc, "bad"),
			"a" FFFD " b" FFFD " c" FFFD FFFD FFFD " d" FFFD FFFD
			" e" FFFD FFFD FFFD FFFD " f" FFFD FFFD);
#undef FFFD
	cr_assert_str_eq(str(doc, "good"), good);
	json_decref(doc);
}

Test(log, json_caller_keys_never_duplicate_the_fixed_members) {
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_INFO, "postgres notice", "message", "relation exists", "time", "t", "level",
			"l", "truncated", "no", "check", "db", NULL);
	const char *text = capture_end(&c);
	/* JSON_REJECT_DUPLICATES in parse_line would fail on a second "message". */
	json_t *doc = only_line(text);
	static const char *const keys[] = {"time", "level", "message", "field.message",
			"field.time", "field.level", "field.truncated", "check"};
	assert_keys(doc, keys, VH_ARRAY_LEN(keys));
	cr_assert_str_eq(str(doc, "message"), "postgres notice");
	cr_assert_str_eq(str(doc, "field.message"), "relation exists");
	cr_assert(is_rfc3339_ms(str(doc, "time")));
	cr_assert_str_eq(str(doc, "level"), "info");
	json_decref(doc);
}

/* Logs a line of about target bytes whose value is made of filler, then a few more members, and
 * asserts the line is valid JSON that either holds everything or says it was truncated. shown is
 * filler as it reads in JSON (invalid UTF-8 replaced). Returns whether the line was cut. */
static bool check_cut(size_t target, const char *filler, const char *shown) {
	char value[VH_LOG_LINE_MAX * 2];
	size_t flen = strlen(filler);
	size_t n = 0;
	while (n + flen < target && n + flen < sizeof(value)) {
		memcpy(value + n, filler, flen);
		n += flen;
	}
	value[n] = '\0';
	char expect[VH_LOG_LINE_MAX * 4];
	size_t slen = strlen(shown);
	for (size_t i = 0; i < n / flen; i++) {
		memcpy(expect + i * slen, shown, slen);
	}
	expect[n / flen * slen] = '\0';
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_INFO, "long", "check", "db", "reason", value, "after", "tail", "more", "x",
			NULL);
	const char *text = capture_end(&c);
	size_t len = strlen(text);
	json_t *doc = only_line(text);
	cr_assert_str_eq(str(doc, "message"), "long");
	json_t *cut = json_object_get(doc, "truncated");
	if (cut) {
		cr_assert(json_is_true(cut));
		cr_assert_str_eq(text + len - 19, ",\"truncated\":true}\n");
		/* The cut keeps whole characters: what is left of the value is a prefix of it. */
		json_t *reason = json_object_get(doc, "reason");
		if (reason) {
			cr_assert_eq(strncmp(json_string_value(reason), expect,
						     json_string_length(reason)),
					0);
		}
	} else {
		cr_assert_str_eq(str(doc, "reason"), expect);
		cr_assert_str_eq(str(doc, "more"), "x");
	}
	json_decref(doc);
	return cut != NULL;
}

Test(log, json_truncation_always_leaves_valid_json_at_every_cut_point) {
	/* A filler, how it reads once parsed, and its bytes in JSON per byte of input. */
	static const struct {
		const char *raw;
		const char *shown;
		size_t width;
	} fillers[] = {{"a", "a", 1}, {"\xc3\xa9", "\xc3\xa9", 1},
			{"\xf0\x9f\x98\x80", "\xf0\x9f\x98\x80", 1}, {"\n", "\n", 2},
			{"\x01", "\x01", 6}, {"\"", "\"", 2}, {"a\xff", "a\xef\xbf\xbd", 2}};
	for (size_t f = 0; f < VH_ARRAY_LEN(fillers); f++) {
		size_t cut = 0;
		size_t whole = 0;
		size_t w = fillers[f].width;
		for (size_t target = (VH_LOG_LINE_MAX - 300) / w;
				target < (VH_LOG_LINE_MAX + 40) / w; target++) {
			if (check_cut(target, fillers[f].raw, fillers[f].shown)) {
				cut++;
			} else {
				whole++;
			}
		}
		/* The range must straddle the limit for every filler, or it tests nothing. */
		cr_assert(cut > 0 && whole > 0, "filler %zu: %zu cut, %zu whole", f, cut, whole);
	}
	cr_assert(check_cut(3 * VH_LOG_LINE_MAX, "a", "a"));
}

Test(log, json_truncation_of_the_message_itself) {
	char msg[VH_LOG_LINE_MAX + 100];
	memset(msg, 'm', sizeof(msg) - 1);
	msg[sizeof(msg) - 1] = '\0';
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_INFO, msg, "check", "db", NULL);
	const char *text = capture_end(&c);
	cr_assert_eq(strlen(text), VH_LOG_LINE_MAX);
	json_t *doc = only_line(text);
	static const char *const keys[] = {"time", "level", "message", "truncated"};
	assert_keys(doc, keys, VH_ARRAY_LEN(keys));
	cr_assert_eq(strspn(str(doc, "message"), "m"), strlen(str(doc, "message")));
	json_decref(doc);
}

Test(log, levels_below_the_minimum_are_dropped) {
	vh_log_set_level(VH_LOG_WARN);
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_DEBUG, "d", NULL);
	vh_log(VH_LOG_INFO, "i", NULL);
	vh_log(VH_LOG_WARN, "w", NULL);
	vh_log(VH_LOG_ERROR, "e", NULL);
	const char *text = capture_end(&c);
	cr_assert_eq(count_lines(text), 2, "%s", text);
	json_t *warn = parse_line(text);
	json_t *error = parse_line(strchr(text, '\n') + 1);
	cr_assert_str_eq(str(warn, "level"), "warn");
	cr_assert_str_eq(str(warn, "message"), "w");
	cr_assert_str_eq(str(error, "level"), "error");
	json_decref(warn);
	json_decref(error);
}

Test(log, debug_lines_appear_at_debug_level) {
	vh_log_set_level(VH_LOG_DEBUG);
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_DEBUG, "d", NULL);
	json_t *doc = only_line(capture_end(&c));
	cr_assert_str_eq(str(doc, "level"), "debug");
	json_decref(doc);
}

Test(log, parse_level_and_format) {
	enum vh_log_level level;
	cr_assert(vh_log_parse_level("debug", &level) && level == VH_LOG_DEBUG);
	cr_assert(vh_log_parse_level("error", &level) && level == VH_LOG_ERROR);
	cr_assert_not(vh_log_parse_level("warning", &level));
	cr_assert_not(vh_log_parse_level("", &level));
	enum vh_log_format format;
	cr_assert(vh_log_parse_format("json", &format) && format == VH_LOG_FORMAT_JSON);
	cr_assert(vh_log_parse_format("text", &format) && format == VH_LOG_FORMAT_TEXT);
	cr_assert_not(vh_log_parse_format("JSON", &format));
	cr_assert_not(vh_log_parse_format("logfmt", &format));
}

/* The text format is the logfmt the daemon wrote before JSON existed, byte for byte. */
Test(log, text_format_is_logfmt) {
	vh_log_set_format(VH_LOG_FORMAT_TEXT);
	struct capture c;
	capture_start(&c);
	vh_log(VH_LOG_WARN, "check status changed", "check", "db", "from", "pass", "reason",
			"a \"b\"\\\nc\x01", "empty", "", "null", NULL, "eq", "k=v", NULL);
	vh_log(VH_LOG_INFO, "listening", "address", "127.0.0.1:8099", NULL);
	const char *text = capture_end(&c);
	cr_assert_eq(count_lines(text), 2, "%s", text);
	cr_assert_eq(strncmp(text, "time=", 5), 0);
	cr_assert(text[5 + 24] == ' ');
	char ts[25];
	memcpy(ts, text + 5, 24);
	ts[24] = '\0';
	cr_assert(is_rfc3339_ms(ts), "%s", ts);
	const char *first = " level=warn msg=\"check status changed\" check=db from=pass "
			    "reason=\"a \\\"b\\\"\\\\\\nc\\x01\" empty=\"\" null=\"\" eq=\"k=v\"\n";
	cr_assert_eq(strncmp(text + 5 + 24, first, strlen(first)), 0, "%s", text);
	const char *second = strchr(text, '\n') + 1;
	cr_assert_str_eq(second + 5 + 24, " level=info msg=listening address=127.0.0.1:8099\n");
}

Test(log, logging_keeps_errno) {
	struct capture c;
	capture_start(&c);
	errno = ENOENT;
	vh_log(VH_LOG_ERROR, "x", NULL);
	int saved = errno;
	capture_end(&c);
	cr_assert_eq(saved, ENOENT);
}
