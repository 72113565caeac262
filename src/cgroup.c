/* cgroup.c - parsers for the cgroup v2 files memory.current/max, memory.events, memory.pressure. */
#include "vh/cgroup.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vh/kernfile.h"

/* Room for any value these files hold: a uint64_t has 20 digits, a PSI average is "100.00". */
#define TOKEN_MAX 32

static bool is_space(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

/* Narrows [*s, *s + *n) to drop white space on both sides. */
static void trim(const char **s, size_t *n) {
	while (*n > 0 && is_space(**s)) {
		(*s)++;
		(*n)--;
	}
	while (*n > 0 && is_space((*s)[*n - 1])) {
		(*n)--;
	}
}

/* Parses n bytes as a non-negative decimal fraction such as "12.50". Starting with a digit rules
 * out the signs, "inf", "nan" and blanks that strtod would otherwise accept. */
static bool parse_fraction(const char *s, size_t n, double *out) {
	char buf[TOKEN_MAX];
	if (n == 0 || n >= sizeof(buf) || !is_digit(s[0])) {
		return false;
	}
	memcpy(buf, s, n);
	buf[n] = '\0';
	char *end;
	errno = 0;
	double value = strtod(buf, &end);
	if (errno != 0 || *end != '\0' || !isfinite(value)) {
		return false;
	}
	*out = value;
	return true;
}

bool vh_cgroup_parse_limit(const char *text, size_t len, uint64_t *out, bool *is_max) {
	trim(&text, &len);
	if (len == 3 && memcmp(text, "max", 3) == 0) {
		*is_max = true;
		return true;
	}
	if (!vh_kernfile_parse_u64(text, len, out)) {
		return false;
	}
	*is_max = false;
	return true;
}

/* Finds the line starting with prefix (which includes its separator) and returns the rest of that
 * line in *value and *value_len. Only the first such line counts. */
static bool find_line(const char *text, size_t len, const char *prefix, const char **value,
		size_t *value_len) {
	size_t prefix_len = strlen(prefix);
	const char *end = text + len;
	const char *line = text;
	while (line < end) {
		const char *nl = memchr(line, '\n', (size_t)(end - line));
		const char *line_end = nl ? nl : end;
		size_t line_len = (size_t)(line_end - line);
		if (line_len >= prefix_len && memcmp(line, prefix, prefix_len) == 0) {
			*value = line + prefix_len;
			*value_len = line_len - prefix_len;
			return true;
		}
		line = nl ? nl + 1 : end;
	}
	return false;
}

bool vh_cgroup_parse_keyed(const char *text, size_t len, const char *key, uint64_t *out) {
	/* Matching "key " at a line start keeps "oom_kill" off "oom_kill_disable" and "xoom_kill".
	 */
	char prefix[TOKEN_MAX + 2];
	size_t key_len = strlen(key);
	if (key_len == 0 || key_len > TOKEN_MAX || strpbrk(key, " \t\n")) {
		return false;
	}
	memcpy(prefix, key, key_len);
	prefix[key_len] = ' ';
	prefix[key_len + 1] = '\0';
	const char *value;
	size_t value_len;
	if (!find_line(text, len, prefix, &value, &value_len)) {
		return false;
	}
	trim(&value, &value_len);
	return vh_kernfile_parse_u64(value, value_len, out);
}

bool vh_cgroup_parse_pressure(const char *text, size_t len, double *some_avg10) {
	const char *line;
	size_t line_len;
	if (!find_line(text, len, "some ", &line, &line_len)) {
		return false;
	}
	/* The line is "avg10=A avg60=B avg300=C total=T"; look the field up by name rather than
	 * by position. */
	const char *end = line + line_len;
	const char *p = line;
	while (p < end) {
		while (p < end && is_space(*p)) {
			p++;
		}
		const char *tok = p;
		while (p < end && !is_space(*p)) {
			p++;
		}
		size_t tok_len = (size_t)(p - tok);
		if (tok_len > 6 && memcmp(tok, "avg10=", 6) == 0) {
			return parse_fraction(tok + 6, tok_len - 6, some_avg10);
		}
	}
	return false;
}
