/* proc.c - parsers for /proc/PID/stat, pidfiles and /proc/PID/cmdline. */
#include "vh/proc.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/kernfile.h"

/* Room for any decimal field: a uint64_t has at most 20 digits. Longer tokens are malformed. */
#define TOKEN_MAX 32
/* How much of a malformed input an error message quotes. */
#define QUOTE_MAX 24

/* The last field of /proc/PID/stat that we read (rss). */
#define STAT_LAST_FIELD 24

static bool is_space(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool is_digit(char c) {
	return c >= '0' && c <= '9';
}

/* Copies n bytes into dst for an error message, with anything unprintable (the input is untrusted
 * and need not be text) shown as '?', and marks a cut with "...". */
static void quote(char *dst, size_t dst_len, const char *src, size_t n) {
	size_t i = 0;
	for (; i < n && i < QUOTE_MAX && i + 1 < dst_len; i++) {
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? src[i] : '?';
	}
	dst[i] = '\0';
	if (i < n && i + 4 <= dst_len) {
		memcpy(dst + i, "...", 4);
	}
}

/* Finds the next blank-separated token in [*p, end), stores it in *tok and *tok_len and moves *p
 * past it. Returns false when only blanks remain. */
static bool next_token(const char **p, const char *end, const char **tok, size_t *tok_len) {
	const char *s = *p;
	while (s < end && is_space(*s)) {
		s++;
	}
	if (s == end) {
		*p = s;
		return false;
	}
	const char *e = s;
	while (e < end && !is_space(*e)) {
		e++;
	}
	*tok = s;
	*tok_len = (size_t)(e - s);
	*p = e;
	return true;
}

static const char *stat_field_name(int field) {
	switch (field) {
	case 14:
		return "utime";
	case 15:
		return "stime";
	case 20:
		return "num_threads";
	case 22:
		return "starttime";
	case 23:
		return "vsize";
	case STAT_LAST_FIELD:
		return "rss";
	}
	return "field";
}

bool vh_proc_parse_stat(
		const char *text, size_t len, struct vh_proc_stat *out, char *err, size_t err_len) {
	char shown[QUOTE_MAX + 4];
	const char *end = text + len;
	const char *open = memchr(text, '(', len);
	if (!open) {
		snprintf(err, err_len, "no '(' before the command name");
		return false;
	}
	/* comm is whatever the process named itself and may hold ") " itself, so only the last ')'
	 * can end it: the fields after it are all numbers or a state letter. */
	const char *close = NULL;
	for (const char *q = end; q-- > open + 1;) {
		if (*q == ')') {
			close = q;
			break;
		}
	}
	if (!close) {
		snprintf(err, err_len, "no ')' after the command name");
		return false;
	}

	const char *p = text;
	const char *tok;
	size_t tok_len;
	uint64_t pid;
	if (!next_token(&p, open, &tok, &tok_len)) {
		snprintf(err, err_len, "no pid before the command name");
		return false;
	}
	while (p < open && is_space(*p)) {
		p++;
	}
	if (!vh_kernfile_parse_u64(tok, tok_len, &pid) || pid == 0 || pid > INT_MAX || p != open) {
		const char *last = open;
		while (last > tok && is_space(last[-1])) {
			last--;
		}
		quote(shown, sizeof(shown), tok, (size_t)(last - tok));
		snprintf(err, err_len, "pid is not a positive number: \"%s\"", shown);
		return false;
	}

	struct vh_proc_stat st = {.pid = (pid_t)pid};
	size_t comm_len = (size_t)(close - open - 1);
	if (comm_len >= sizeof(st.comm)) {
		comm_len = sizeof(st.comm) - 1;
	}
	memcpy(st.comm, open + 1, comm_len);
	st.comm[comm_len] = '\0';

	p = close + 1;
	for (int field = 3; field <= STAT_LAST_FIELD; field++) {
		if (!next_token(&p, end, &tok, &tok_len)) {
			snprintf(err, err_len, "truncated: %d of %d fields", field - 1,
					STAT_LAST_FIELD);
			return false;
		}
		uint64_t *dst = NULL;
		switch (field) {
		case 3:
			if (tok_len != 1) {
				quote(shown, sizeof(shown), tok, tok_len);
				snprintf(err, err_len, "field 3 (state) is not one letter: \"%s\"",
						shown);
				return false;
			}
			st.state = tok[0];
			break;
		case 14:
			dst = &st.utime;
			break;
		case 15:
			dst = &st.stime;
			break;
		case 20:
			dst = &st.threads;
			break;
		case 22:
			dst = &st.start_time;
			break;
		case 23:
			dst = &st.vsize_bytes;
			break;
		case STAT_LAST_FIELD:
			dst = &st.rss_pages;
			break;
		}
		if (dst && !vh_kernfile_parse_u64(tok, tok_len, dst)) {
			quote(shown, sizeof(shown), tok, tok_len);
			snprintf(err, err_len, "field %d (%s) is not a number: \"%s\"", field,
					stat_field_name(field), shown);
			return false;
		}
	}
	*out = st;
	return true;
}

bool vh_proc_parse_pidfile(const char *text, size_t len, pid_t *out, char *err, size_t err_len) {
	char shown[QUOTE_MAX + 4];
	size_t i = 0;
	while (i < len && is_space(text[i])) {
		i++;
	}
	size_t start = i;
	while (i < len && is_digit(text[i])) {
		i++;
	}
	size_t digits = i - start;
	while (i < len && is_space(text[i])) {
		i++;
	}
	if (start == len) {
		snprintf(err, err_len, "empty");
		return false;
	}
	if (digits == 0 || i != len) {
		size_t last = len;
		while (last > start && is_space(text[last - 1])) {
			last--;
		}
		quote(shown, sizeof(shown), text + start, last - start);
		snprintf(err, err_len, "not a pid: \"%s\"", shown);
		return false;
	}
	uint64_t pid;
	if (!vh_kernfile_parse_u64(text + start, digits, &pid) || pid == 0 || pid > INT_MAX) {
		quote(shown, sizeof(shown), text + start, digits);
		snprintf(err, err_len, "pid %s is out of range", shown);
		return false;
	}
	*out = (pid_t)pid;
	return true;
}

bool vh_proc_cmdline_contains(const char *cmdline, size_t len, const char *needle) {
	size_t n = strlen(needle);
	/* The kernel ends the last argument with a NUL too; joining must not turn it into a space.
	 */
	if (len > 0 && cmdline[len - 1] == '\0') {
		len--;
	}
	if (n == 0 || n > len) {
		return false;
	}
	for (size_t i = 0; i + n <= len; i++) {
		size_t j = 0;
		while (j < n && (cmdline[i + j] == '\0' ? ' ' : cmdline[i + j]) == needle[j]) {
			j++;
		}
		if (j == n) {
			return true;
		}
	}
	return false;
}
