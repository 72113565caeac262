/* log.c - logfmt lines on stderr, one per event, never split across lines. */
#include "vh/log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vh/clock.h"

/* The only mutable global: the level is set once from the command line before the loop runs. */
static enum vh_log_level min_level = VH_LOG_INFO;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

void vh_log_set_level(enum vh_log_level level) {
	min_level = level;
}

bool vh_log_parse_level(const char *text, enum vh_log_level *out) {
	for (size_t i = 0; i < VH_ARRAY_LEN(level_names); i++) {
		if (strcmp(text, level_names[i]) == 0) {
			*out = (enum vh_log_level)i;
			return true;
		}
	}
	return false;
}

static bool needs_quotes(const char *value) {
	if (*value == '\0') {
		return true;
	}
	for (const char *p = value; *p; p++) {
		if (*p <= ' ' || *p == '"' || *p == '=' || *p == '\\' || *p == 0x7f) {
			return true;
		}
	}
	return false;
}

static void append(char *buf, size_t len, size_t *pos, const char *text, size_t n) {
	if (*pos >= len) {
		return;
	}
	size_t room = len - *pos - 1;
	if (n > room) {
		n = room;
	}
	memcpy(buf + *pos, text, n);
	*pos += n;
	buf[*pos] = '\0';
}

/* Control characters become escapes so that a hostile error text cannot forge a second line. */
static void append_value(char *buf, size_t len, size_t *pos, const char *value) {
	if (!needs_quotes(value)) {
		append(buf, len, pos, value, strlen(value));
		return;
	}
	append(buf, len, pos, "\"", 1);
	for (const unsigned char *p = (const unsigned char *)value; *p; p++) {
		char esc[8];
		if (*p == '"' || *p == '\\') {
			esc[0] = '\\';
			esc[1] = (char)*p;
			append(buf, len, pos, esc, 2);
		} else if (*p == '\n') {
			append(buf, len, pos, "\\n", 2);
		} else if (*p < ' ' || *p == 0x7f) {
			snprintf(esc, sizeof(esc), "\\x%02x", *p);
			append(buf, len, pos, esc, 4);
		} else {
			append(buf, len, pos, (const char *)p, 1);
		}
	}
	append(buf, len, pos, "\"", 1);
}

void vh_log(enum vh_log_level level, const char *msg, ...) {
	if (level < min_level) {
		return;
	}
	char line[2048];
	char ts[32];
	size_t pos = 0;
	line[0] = '\0';
	append(line, sizeof(line), &pos, "time=", 5);
	vh_clock_format_rfc3339(vh_clock_wall_ms(), ts, sizeof(ts));
	append(line, sizeof(line), &pos, ts, strlen(ts));
	append(line, sizeof(line), &pos, " level=", 7);
	append(line, sizeof(line), &pos, level_names[level], strlen(level_names[level]));
	append(line, sizeof(line), &pos, " msg=", 5);
	append_value(line, sizeof(line), &pos, msg);

	va_list ap;
	va_start(ap, msg);
	for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *)) {
		const char *value = va_arg(ap, const char *);
		append(line, sizeof(line), &pos, " ", 1);
		append(line, sizeof(line), &pos, key, strlen(key));
		append(line, sizeof(line), &pos, "=", 1);
		append_value(line, sizeof(line), &pos, value ? value : "");
	}
	va_end(ap);
	/* One write per line keeps lines whole when several processes share stderr. */
	fprintf(stderr, "%s\n", line);
}
