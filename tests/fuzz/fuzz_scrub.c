/* fuzz_scrub.c - libFuzzer target for vh_scrub(): secrets never survive, output is one clean line.
 * Input: one byte for the output size, then NUL-separated fields: the text, then up to four
 * secrets. */
#include "fuzz_common.h"

#include <strings.h>

#include "vh/scrub.h"

#define SECRETS_MAX 4

static bool all_alnum(const char *s) {
	if (!*s) {
		return false;
	}
	for (; *s; s++) {
		char c = *s;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) {
			return false;
		}
	}
	return true;
}

static bool is_blank(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_alnum(char c) {
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

static size_t count(const char *text, const char *word) {
	size_t found = 0;
	for (const char *p = text; (p = strstr(p, word)) != NULL; p++) {
		found++;
	}
	return found;
}

/* libpq reads "password = value" with any white space (isspace()) around '=', so every such
 * value must go. The letters and digits that start a value, when they occur nowhere else in the
 * text, can then only reach the output by being left unmasked. */
static void check_keyword_masked(const char *text, const char *out) {
	size_t len = strlen(text);
	for (size_t i = 0; i + 8 <= len; i++) {
		if (strncasecmp(text + i, "password", 8) != 0) {
			continue;
		}
		size_t j = i + 8;
		while (j < len && is_blank(text[j])) {
			j++;
		}
		if (j >= len || text[j] != '=') {
			continue;
		}
		for (j++; j < len && is_blank(text[j]); j++) {
		}
		size_t n = 0;
		while (j + n < len && is_alnum(text[j + n])) {
			n++;
		}
		char word[64];
		if (n == 0 || n >= sizeof(word)) {
			continue;
		}
		memcpy(word, text + j, n);
		word[n] = '\0';
		if (count(text, word) == 1) {
			FUZZ_CHECK(!strstr(out, word), "a password= value survived scrubbing");
		}
	}
}

/* Splits data at NULs into fields; returns how many (at most max), each a fresh string. */
static size_t split(const uint8_t *data, size_t size, char **fields, size_t max) {
	size_t n = 0;
	size_t start = 0;
	while (n < max && start <= size) {
		const uint8_t *nul = memchr(data + start, '\0', size - start);
		size_t end = nul ? (size_t)(nul - data) : size;
		fields[n++] = fuzz_strndup(data + start, end - start);
		if (!nul) {
			break;
		}
		start = end + 1;
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 1) {
		return 0;
	}
	size_t out_len = (size_t)data[0] + 1;
	char *fields[1 + SECRETS_MAX] = {0};
	size_t n = split(data + 1, size - 1, fields, 1 + SECRETS_MAX);
	const char *text = fields[0];
	const char *secrets[SECRETS_MAX];
	size_t n_secrets = n - 1;
	for (size_t k = 0; k < n_secrets; k++) {
		secrets[k] = fields[k + 1];
	}
	/* Exact size, so ASan sees any write past out_len. */
	char *out = malloc(out_len);
	FUZZ_CHECK(out, "out of memory");
	FUZZ_CHECK(vh_scrub(text, secrets, n_secrets, out, out_len) == out,
			"scrub returned not out");
	size_t len = strnlen(out, out_len);
	FUZZ_CHECK(len < out_len, "output not NUL-terminated within out_len");
	FUZZ_CHECK(!fuzz_has_control(out), "control character in scrubbed output");
	/* Masks start and end on ASCII or on a secret's own edges, so with text and secrets all
	 * valid UTF-8 no character is split. (A secret that is not, such as a lone continuation
	 * byte from the environment, can split one; check output is sanitized again later.) */
	bool all_utf8 = fuzz_utf8_valid(text, strlen(text));
	for (size_t k = 0; k < n_secrets; k++) {
		all_utf8 = all_utf8 && fuzz_utf8_valid(secrets[k], strlen(secrets[k]));
	}
	if (all_utf8) {
		FUZZ_CHECK(fuzz_utf8_valid(out, len), "scrub made valid UTF-8 invalid");
	}
	/* A secret of letters and digits can only reappear by being copied, never by the mask or
	 * the blank and control replacements, so any occurrence is a leak. */
	for (size_t k = 0; k < n_secrets; k++) {
		if (all_alnum(secrets[k])) {
			FUZZ_CHECK(!strstr(out, secrets[k]), "a secret survived scrubbing");
		}
	}
	check_keyword_masked(text, out);
	free(out);
	for (size_t k = 0; k < n; k++) {
		free(fields[k]);
	}
	return 0;
}
