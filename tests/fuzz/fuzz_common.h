/* fuzz_common.h - what every libFuzzer target shares: the entry points and invariant checks. */
#ifndef VH_FUZZ_COMMON_H
#define VH_FUZZ_COMMON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

/* A broken invariant is a bug like a crash: abort so libFuzzer saves the input as crash-*. */
#define FUZZ_CHECK(cond, what)                                                                     \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "invariant broken at %s:%d: %s\n", __FILE__, __LINE__,     \
					what);                                                     \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A malloc'd, NUL-terminated copy of the first size bytes of data (cut at the first NUL, as a C
 * string would be); aborts out of memory, which libFuzzer's -rss_limit_mb reports anyway. */
static inline char *fuzz_strndup(const uint8_t *data, size_t size) {
	const uint8_t *nul = memchr(data, '\0', size);
	size_t n = nul ? (size_t)(nul - data) : size;
	char *s = malloc(n + 1);
	if (!s) {
		abort();
	}
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/* Length of the valid UTF-8 sequence at s[0..n), or 0: written apart from src/check.c on
 * purpose (RFC 3629 table 3.7), so a mistake shared with the code under test is unlikely. */
static inline size_t fuzz_utf8_len(const unsigned char *s, size_t n) {
	unsigned char c = s[0];
	size_t len;
	unsigned char lo = 0x80;
	unsigned char hi = 0xBF;
	if (c <= 0x7F) {
		return 1;
	} else if (c >= 0xC2 && c <= 0xDF) {
		len = 2;
	} else if (c >= 0xE0 && c <= 0xEF) {
		len = 3;
		lo = c == 0xE0 ? 0xA0 : 0x80;
		hi = c == 0xED ? 0x9F : 0xBF;
	} else if (c >= 0xF0 && c <= 0xF4) {
		len = 4;
		lo = c == 0xF0 ? 0x90 : 0x80;
		hi = c == 0xF4 ? 0x8F : 0xBF;
	} else {
		return 0;
	}
	if (n < len || s[1] < lo || s[1] > hi) {
		return 0;
	}
	for (size_t i = 2; i < len; i++) {
		if (s[i] < 0x80 || s[i] > 0xBF) {
			return 0;
		}
	}
	return len;
}

static inline bool fuzz_utf8_valid(const char *s, size_t n) {
	for (size_t i = 0; i < n;) {
		size_t len = fuzz_utf8_len((const unsigned char *)s + i, n - i);
		if (len == 0) {
			return false;
		}
		i += len;
	}
	return true;
}

/* True when s holds a C0 control byte or DEL: what must never reach a log line or a body. */
static inline bool fuzz_has_control(const char *s) {
	for (; *s; s++) {
		if ((unsigned char)*s < 0x20 || *s == 0x7F) {
			return true;
		}
	}
	return false;
}

#endif
