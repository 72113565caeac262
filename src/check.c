/* check.c - helpers every probe uses to fill a result. */
#include "vh/check.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

const char *vh_status_name(enum vh_status status) {
	switch (status) {
	case VH_STATUS_PASS:
		return "pass";
	case VH_STATUS_WARN:
		return "warn";
	case VH_STATUS_UNKNOWN:
		return "unknown";
	case VH_STATUS_FAIL:
		return "fail";
	}
	return "unknown";
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when there is none: a stray
 * byte, an overlong form, a surrogate, a value above U+10FFFF or a sequence cut short. */
static size_t utf8_sequence(const unsigned char *s, size_t n) {
	size_t len;
	unsigned min;
	unsigned cp;
	if (s[0] < 0x80) {
		return 1;
	} else if ((s[0] & 0xe0) == 0xc0) {
		len = 2, min = 0x80, cp = s[0] & 0x1f;
	} else if ((s[0] & 0xf0) == 0xe0) {
		len = 3, min = 0x800, cp = s[0] & 0x0f;
	} else if ((s[0] & 0xf8) == 0xf0) {
		len = 4, min = 0x10000, cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (len > n) {
		return 0;
	}
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			return 0;
		}
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
		return 0;
	}
	return len;
}

void vh_check_output_sanitize(char *text) {
	size_t n = strlen(text);
	for (size_t i = 0; i < n;) {
		size_t len = utf8_sequence((const unsigned char *)text + i, n - i);
		if (len == 0) {
			text[i++] = '?';
			continue;
		}
		if (len == 1 && ((unsigned char)text[i] < 0x20 || text[i] == 0x7f)) {
			text[i] = ' ';
		}
		i += len;
	}
}

void vh_check_result_set(
		struct vh_check_result *result, enum vh_status status, const char *fmt, ...) {
	va_list ap;
	result->status = status;
	result->n_measures = 0;
	va_start(ap, fmt);
	vsnprintf(result->output, sizeof(result->output), fmt, ap);
	va_end(ap);
	vh_check_output_sanitize(result->output);
}

bool vh_check_result_add_measure(struct vh_check_result *result, const char *key, const char *name,
		double value, const char *unit) {
	if (result->n_measures >= VH_CHECK_MEASURES_MAX) {
		return false;
	}
	struct vh_measure *m = &result->measures[result->n_measures++];
	snprintf(m->key, sizeof(m->key), "%s", key);
	snprintf(m->name, sizeof(m->name), "%s", name);
	snprintf(m->unit, sizeof(m->unit), "%s", unit);
	m->value = value;
	return true;
}

void vh_check_result_raise(
		struct vh_check_result *result, enum vh_status status, const char *fmt, ...) {
	if (status <= result->status) {
		return;
	}
	va_list ap;
	result->status = status;
	va_start(ap, fmt);
	vsnprintf(result->output, sizeof(result->output), fmt, ap);
	va_end(ap);
	vh_check_output_sanitize(result->output);
}
