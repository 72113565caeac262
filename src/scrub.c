/* scrub.c - makes error text from libraries safe to show: no secrets, one line. */
#include "vh/scrub.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#define MASK "***"
#define KEYWORD "password"

/* Where the output goes; bytes past the room are counted as lost rather than written. */
/* The shortest cut-off start of a secret that is still masked at the end of a text. */
#define TAIL_MIN 4

struct sink {
	char *out;
	size_t cap; /* bytes available for text, without the NUL */
	size_t used;
	bool truncated;
};

static void put(struct sink *sink, const char *s, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (sink->used >= sink->cap) {
			sink->truncated = true;
			return;
		}
		sink->out[sink->used++] = s[i];
	}
}

static bool is_blank(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void mark(bool *mask, size_t from, size_t to) {
	for (size_t i = from; i < to; i++) {
		mask[i] = true;
	}
}

/* Every occurrence, overlapping ones included: with "aa" in "aaa" both must go, or a
 * replacement would leave the last "a" of a secret on show. */
static void mark_secret(const char *text, size_t len, bool *mask, const char *secret) {
	size_t n = secret ? strlen(secret) : 0;
	if (n == 0) {
		return;
	}
	for (size_t i = 0; i + n <= len; i++) {
		if (memcmp(text + i, secret, n) == 0) {
			mark(mask, i, i + n);
		}
	}
	/* Callers may have cut a library's message short before it got here; a secret cut at the
	 * end would then show its first characters. Four or more of them at the very end are
	 * masked; fewer would hide innocent endings far more often than they protect. */
	for (size_t k = n - 1; k >= TAIL_MIN && k > 0; k--) {
		if (k <= len && memcmp(text + len - k, secret, k) == 0) {
			mark(mask, len - k, len);
			break;
		}
	}
}

/* The user info of "scheme://user:pass@host". Passwords are often not percent-encoded in
 * configs, so the authority runs to the first blank or quote rather than to the first '/', and
 * the last '@' in it ends the user info; a '@' later in a path only makes us hide too much. A
 * blank inside a known secret (already masked) does not end it. */
static void mark_userinfo(const char *text, size_t len, bool *mask) {
	for (size_t i = 0; i + 3 <= len; i++) {
		if (memcmp(text + i, "://", 3) != 0) {
			continue;
		}
		size_t start = i + 3;
		size_t at = 0;
		size_t j = start;
		for (; j < len && (mask[j] || (!is_blank(text[j]) && !strchr("\"'<>", text[j])));
				j++) {
			if (text[j] == '@') {
				at = j;
			}
		}
		if (at > start) {
			mark(mask, start, at);
		}
		i = j > i ? j - 1 : i;
	}
}

static bool starts_with_keyword(const char *text, size_t len, size_t i) {
	size_t n = strlen(KEYWORD);
	if (i + n > len) {
		return false;
	}
	for (size_t k = 0; k < n; k++) {
		char c = text[i + k];
		if (c >= 'A' && c <= 'Z') {
			c = (char)(c - 'A' + 'a');
		}
		if (c != KEYWORD[k]) {
			return false;
		}
	}
	return true;
}

/* Returns the end of a value that starts at i: a quoted one runs to its closing quote (libpq's
 * conninfo escapes with a backslash), a bare one to a blank or, in a URL query, to '&'. */
static size_t value_end(const char *text, size_t len, size_t i) {
	if (i < len && (text[i] == '\'' || text[i] == '"')) {
		char quote = text[i];
		for (size_t j = i + 1; j < len; j++) {
			if (text[j] == '\\' && j + 1 < len) {
				j++;
			} else if (text[j] == quote) {
				return j + 1;
			}
		}
		return len;
	}
	size_t j = i;
	while (j < len && !is_blank(text[j]) && text[j] != '&') {
		j++;
	}
	return j;
}

/* "password=xyz", "PGPASSWORD = 'a b'" and "?password=xyz&..." all lose their value. */
static void mark_keyword_values(const char *text, size_t len, bool *mask) {
	for (size_t i = 0; i < len; i++) {
		if (!starts_with_keyword(text, len, i)) {
			continue;
		}
		size_t j = i + strlen(KEYWORD);
		while (j < len && is_blank(text[j])) {
			j++;
		}
		if (j >= len || text[j] != '=') {
			continue;
		}
		j++;
		while (j < len && is_blank(text[j])) {
			j++;
		}
		/* The scan goes on from i + 1, not past the value: a value may itself hold a
		 * keyword
		 * ("password =xpassword = secret"), whose own value must go too (found by fuzzing).
		 */
		mark(mask, j, value_end(text, len, j));
	}
}

/* A run of white space becomes "; " when it held a line break (so a libpq message that spans
 * lines still reads as separate clauses), one space when it held a tab or other control, and
 * stays as it is otherwise. After punctuation a space is enough. */
static void put_blanks(struct sink *sink, const char *run, size_t n) {
	bool line_break = false;
	bool plain = true;
	for (size_t i = 0; i < n; i++) {
		line_break = line_break || run[i] == '\n' || run[i] == '\r';
		plain = plain && run[i] == ' ';
	}
	char last = sink->used > 0 ? sink->out[sink->used - 1] : '\0';
	if (line_break && (last == '\0' || !strchr(".:;,", last))) {
		put(sink, "; ", 2);
	} else if (plain) {
		put(sink, run, n);
	} else {
		put(sink, " ", 1);
	}
}

/* Cutting text to fit must not leave half a UTF-8 character, which JSON encoders reject. */
static void drop_partial_utf8(struct sink *sink) {
	size_t end = sink->used;
	size_t lead = end;
	while (lead > 0 && ((unsigned char)sink->out[lead - 1] & 0xC0) == 0x80) {
		lead--;
	}
	if (lead == 0) {
		return;
	}
	unsigned char c = (unsigned char)sink->out[lead - 1];
	size_t want = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 1;
	if (want > 1 && end - (lead - 1) < want) {
		sink->used = lead - 1;
	}
}

static void emit(const char *text, size_t len, const bool *mask, struct sink *sink) {
	size_t i = 0;
	while (i < len && is_blank(text[i]) && !mask[i]) {
		i++;
	}
	while (i < len) {
		size_t j = i + 1;
		if (mask[i]) {
			while (j < len && mask[j]) {
				j++;
			}
			put(sink, MASK, strlen(MASK));
		} else if (is_blank(text[i])) {
			while (j < len && is_blank(text[j]) && !mask[j]) {
				j++;
			}
			if (j < len) {
				put_blanks(sink, text + i, j - i);
			}
		} else if ((unsigned char)text[i] < 0x20 || text[i] == 0x7F) {
			put(sink, "?", 1);
		} else {
			put(sink, text + i, 1);
		}
		i = j;
	}
}

char *vh_scrub(const char *text, const char *const *secrets, size_t n_secrets, char *out,
		size_t out_len) {
	if (out_len == 0) {
		return out;
	}
	struct sink sink = {.out = out, .cap = out_len - 1};
	size_t len = text ? strlen(text) : 0;
	bool *mask = calloc(len + 1, sizeof(*mask));
	if (!mask) {
		/* Without the mask we cannot tell what to hide, so show nothing of the text. */
		const char *hidden = "(error text hidden: out of memory)";
		put(&sink, hidden, strlen(hidden));
		out[sink.used] = '\0';
		return out;
	}
	for (size_t k = 0; k < n_secrets && secrets; k++) {
		mark_secret(text, len, mask, secrets[k]);
	}
	mark_userinfo(text, len, mask);
	mark_keyword_values(text, len, mask);
	emit(text, len, mask, &sink);
	free(mask);
	if (sink.truncated) {
		drop_partial_utf8(&sink);
	}
	out[sink.used] = '\0';
	return out;
}
