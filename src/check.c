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

void vh_check_result_set(
		struct vh_check_result *result, enum vh_status status, const char *fmt, ...) {
	va_list ap;
	result->status = status;
	result->n_measures = 0;
	va_start(ap, fmt);
	vsnprintf(result->output, sizeof(result->output), fmt, ap);
	va_end(ap);
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
}
