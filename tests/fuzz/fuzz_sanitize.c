/* fuzz_sanitize.c - libFuzzer target for vh_check_output_sanitize(): one line of valid UTF-8. */
#include "fuzz_common.h"

#include "vh/check.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char *text = fuzz_strndup(data, size);
	size_t len = strlen(text);
	char *before = strdup(text);
	FUZZ_CHECK(before, "out of memory");
	vh_check_output_sanitize(text);
	/* In place and byte for byte: a renderer sized its buffer before sanitizing. */
	FUZZ_CHECK(strlen(text) == len, "sanitize changed the length");
	FUZZ_CHECK(fuzz_utf8_valid(text, len), "sanitize left invalid UTF-8");
	FUZZ_CHECK(!fuzz_has_control(text), "sanitize left a control character");
	/* Text that is already clean must come out untouched. */
	if (fuzz_utf8_valid(before, len) && !fuzz_has_control(before)) {
		FUZZ_CHECK(strcmp(text, before) == 0, "sanitize changed clean text");
	}
	char *again = strdup(text);
	FUZZ_CHECK(again, "out of memory");
	vh_check_output_sanitize(again);
	FUZZ_CHECK(strcmp(again, text) == 0, "sanitize is not idempotent");
	free(again);
	free(before);
	free(text);
	return 0;
}
