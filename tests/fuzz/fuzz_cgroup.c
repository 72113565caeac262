/* fuzz_cgroup.c - libFuzzer target for the cgroup v2 parsers. The first byte picks one: 0
 * memory.current/max, 1 a flat-keyed file (the byte also picks the key), 2 a PSI file. */
/* memmem() */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <math.h>

#include "vh/cgroup.h"

static const char *const keys[] = {"oom_kill", "oom", "max", "high", "low", "oom_group_kill"};

static bool is_blank(char c) {
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static void fuzz_limit(const char *text, size_t len) {
	uint64_t value = 12345;
	bool is_max = false;
	if (!vh_cgroup_parse_limit(text, len, &value, &is_max)) {
		return;
	}
	size_t start = 0;
	size_t end = len;
	while (start < end && is_blank(text[start])) {
		start++;
	}
	while (end > start && is_blank(text[end - 1])) {
		end--;
	}
	if (is_max) {
		FUZZ_CHECK(end - start == 3 && memcmp(text + start, "max", 3) == 0,
				"is_max set for text other than \"max\"");
		FUZZ_CHECK(value == 12345, "\"max\" touched the value");
		return;
	}
	/* A number prints back as its digits, less leading zeros. */
	char printed[32];
	int n = snprintf(printed, sizeof(printed), "%llu", (unsigned long long)value);
	while (end - start > 1 && text[start] == '0') {
		start++;
	}
	FUZZ_CHECK((size_t)n == end - start && memcmp(printed, text + start, (size_t)n) == 0,
			"limit parsed to a number other than its text");
}

static void fuzz_keyed(uint8_t pick, const char *text, size_t len) {
	const char *key = keys[pick % (sizeof(keys) / sizeof(keys[0]))];
	uint64_t value;
	if (!vh_cgroup_parse_keyed(text, len, key, &value)) {
		return;
	}
	/* The key matches a whole word at the start of a line. */
	size_t n = strlen(key);
	bool found = false;
	for (size_t i = 0; i + n < len && !found; i++) {
		found = (i == 0 || text[i - 1] == '\n') && memcmp(text + i, key, n) == 0 &&
				is_blank(text[i + n]);
	}
	FUZZ_CHECK(found, "keyed value found without its key at a line start");
}

static void fuzz_pressure(const char *text, size_t len) {
	double avg10 = -1;
	if (vh_cgroup_parse_pressure(text, len, &avg10)) {
		FUZZ_CHECK(isfinite(avg10) && avg10 >= 0, "pressure is negative or not finite");
		FUZZ_CHECK(memmem(text, len, "avg10=", 6) != NULL,
				"pressure parsed without avg10=");
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size < 1) {
		return 0;
	}
	/* Unterminated, where libFuzzer put it, so ASan sees any read past len. */
	const char *text = (const char *)data + 1;
	switch (data[0] % 3) {
	case 0:
		fuzz_limit(text, size - 1);
		break;
	case 1:
		fuzz_keyed(data[0] / 3, text, size - 1);
		break;
	default:
		fuzz_pressure(text, size - 1);
		break;
	}
	return 0;
}
