/* log.c - JSON or logfmt lines on stderr, one write(2) per event, never split across lines. */
#include "vh/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vh/clock.h"

/* The only mutable globals: both are set once from the command line before the loop runs. */
static enum vh_log_level min_level = VH_LOG_INFO;
static enum vh_log_format format = VH_LOG_FORMAT_JSON;

static const char *const level_names[] = {"debug", "info", "warn", "error"};
static const char *const format_names[] = {"json", "text"};

/* Members vh_log writes itself; a caller key equal to one of them gets KEY_PREFIX. */
static const char *const reserved_keys[] = {"time", "level", "message", "truncated"};
#define KEY_PREFIX "field."

/* What a cut JSON line ends with after its open string is closed. */
static const char cut_ending[] = ",\"truncated\":true}\n";
/* Content stops here, so that a closing quote and cut_ending always fit behind it. */
#define JSON_LIMIT (VH_LOG_LINE_MAX - 1 - (sizeof(cut_ending) - 1))

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

void vh_log_set_format(enum vh_log_format new_format) {
	format = new_format;
}

bool vh_log_parse_format(const char *text, enum vh_log_format *out) {
	for (size_t i = 0; i < VH_ARRAY_LEN(format_names); i++) {
		if (strcmp(text, format_names[i]) == 0) {
			*out = (enum vh_log_format)i;
			return true;
		}
	}
	return false;
}

/* One write keeps a line whole when several processes share stderr; lines fit in PIPE_BUF.
 * errno is kept so that a caller may log before it reads errno. */
static void write_line(const char *line, size_t len) {
	int saved = errno;
	while (write(STDERR_FILENO, line, len) < 0 && errno == EINTR) {
	}
	errno = saved;
}

/* ---- logfmt ---- */

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

static void log_text(const char *ts, enum vh_log_level level, const char *msg, va_list ap) {
	char line[VH_LOG_LINE_MAX];
	size_t pos = 0;
	line[0] = '\0';
	append(line, sizeof(line), &pos, "time=", 5);
	append(line, sizeof(line), &pos, ts, strlen(ts));
	append(line, sizeof(line), &pos, " level=", 7);
	append(line, sizeof(line), &pos, level_names[level], strlen(level_names[level]));
	append(line, sizeof(line), &pos, " msg=", 5);
	append_value(line, sizeof(line), &pos, msg);
	for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *)) {
		const char *value = va_arg(ap, const char *);
		append(line, sizeof(line), &pos, " ", 1);
		append(line, sizeof(line), &pos, key, strlen(key));
		append(line, sizeof(line), &pos, "=", 1);
		append_value(line, sizeof(line), &pos, value ? value : "");
	}
	/* append always leaves the last byte for the NUL, which becomes the newline. */
	line[pos++] = '\n';
	write_line(line, pos);
}

/* ---- JSON ---- */

/* A JSON line being built. Once cut, nothing more is added but the ending. */
struct json_line {
	char buf[VH_LOG_LINE_MAX];
	size_t pos;
	bool in_string;
	bool cut;
};

/* Adds n bytes whole or, if they would pass JSON_LIMIT, nothing: a line is cut only between
 * characters and escapes, never inside one. */
static bool put(struct json_line *j, const char *text, size_t n) {
	if (j->cut || j->pos + n > JSON_LIMIT) {
		j->cut = true;
		return false;
	}
	memcpy(j->buf + j->pos, text, n);
	j->pos += n;
	return true;
}

/* The length of the well-formed UTF-8 sequence at p (RFC 3629: no overlong forms, surrogates
 * or code points past U+10FFFF), or 0. A NUL fails the continuation test, so p is not overrun. */
static size_t utf8_len(const unsigned char *p) {
	unsigned char lo = 0x80;
	unsigned char hi = 0xbf;
	size_t n;
	if (p[0] < 0x80) {
		return 1;
	} else if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		n = 2;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		n = 3;
		lo = p[0] == 0xe0 ? 0xa0 : 0x80;
		hi = p[0] == 0xed ? 0x9f : 0xbf;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		n = 4;
		lo = p[0] == 0xf0 ? 0x90 : 0x80;
		hi = p[0] == 0xf4 ? 0x8f : 0xbf;
	} else {
		return 0;
	}
	if (p[1] < lo || p[1] > hi) {
		return 0;
	}
	for (size_t i = 2; i < n; i++) {
		if (p[i] < 0x80 || p[i] > 0xbf) {
			return 0;
		}
	}
	return n;
}

/* Fills esc with the JSON form of the ASCII byte c and returns its length. */
static size_t escape_ascii(unsigned char c, char esc[8]) {
	static const char short_forms[] = "\"\"\\\\\bb\ff\nn\rr\tt";
	for (size_t i = 0; i + 1 < sizeof(short_forms); i += 2) {
		if ((unsigned char)short_forms[i] == c) {
			esc[0] = '\\';
			esc[1] = short_forms[i + 1];
			return 2;
		}
	}
	/* DEL is legal in JSON but escaped anyway: no raw control byte reaches a terminal. */
	if (c < 0x20 || c == 0x7f) {
		snprintf(esc, 8, "\\u%04x", c);
		return 6;
	}
	esc[0] = (char)c;
	return 1;
}

/* Adds text escaped, without quotes. Bytes that are not UTF-8 become U+FFFD, one per byte, so
 * that Elasticsearch never rejects the document. */
static void put_chars(struct json_line *j, const char *text) {
	const unsigned char *p = (const unsigned char *)text;
	while (*p && !j->cut) {
		size_t n = utf8_len(p);
		char esc[8];
		if (n == 0) {
			put(j, "\xef\xbf\xbd", 3);
			n = 1;
		} else if (n == 1) {
			put(j, esc, escape_ascii(*p, esc));
		} else {
			put(j, (const char *)p, n);
		}
		p += n;
	}
}

static bool open_string(struct json_line *j) {
	j->in_string = put(j, "\"", 1);
	return j->in_string;
}

static void close_string(struct json_line *j) {
	if (!j->cut) {
		/* Past JSON_LIMIT by at most this one byte, which it keeps in reserve. */
		j->buf[j->pos++] = '"';
		j->in_string = false;
	}
}

static void put_string(struct json_line *j, const char *prefix, const char *text) {
	if (open_string(j)) {
		put_chars(j, prefix);
		put_chars(j, text);
		close_string(j);
	}
}

static bool is_reserved(const char *key) {
	for (size_t i = 0; i < VH_ARRAY_LEN(reserved_keys); i++) {
		if (strcmp(key, reserved_keys[i]) == 0) {
			return true;
		}
	}
	return false;
}

/* A member goes in with at least its key and the opening quote of its value, or not at all. */
static void put_member(struct json_line *j, const char *key, const char *value) {
	if (j->cut) {
		return; /* and keep in_string: the cut string is still open */
	}
	size_t start = j->pos;
	put(j, ",", 1);
	put_string(j, is_reserved(key) ? KEY_PREFIX : "", key);
	put(j, ":", 1);
	if (!open_string(j)) {
		j->pos = start;
		return;
	}
	put_chars(j, value ? value : "");
	close_string(j);
}

static void put_ending(struct json_line *j) {
	if (!j->cut) {
		memcpy(j->buf + j->pos, "}\n", 2);
		j->pos += 2;
		return;
	}
	if (j->in_string) {
		j->buf[j->pos++] = '"';
	}
	memcpy(j->buf + j->pos, cut_ending, sizeof(cut_ending) - 1);
	j->pos += sizeof(cut_ending) - 1;
}

static void log_json(const char *ts, enum vh_log_level level, const char *msg, va_list ap) {
	struct json_line j;
	j.pos = 0;
	j.in_string = false;
	j.cut = false;
	put(&j, "{\"time\":\"", 9);
	put(&j, ts, strlen(ts));
	put(&j, "\",\"level\":\"", 11);
	put(&j, level_names[level], strlen(level_names[level]));
	put(&j, "\",\"message\":", 12);
	put_string(&j, "", msg);
	for (const char *key = va_arg(ap, const char *); key; key = va_arg(ap, const char *)) {
		put_member(&j, key, va_arg(ap, const char *));
	}
	put_ending(&j);
	write_line(j.buf, j.pos);
}

void vh_log(enum vh_log_level level, const char *msg, ...) {
	if (level < min_level) {
		return;
	}
	char ts[32];
	vh_clock_format_rfc3339(vh_clock_wall_ms(), ts, sizeof(ts));
	va_list ap;
	va_start(ap, msg);
	if (format == VH_LOG_FORMAT_TEXT) {
		log_text(ts, level, msg, ap);
	} else {
		log_json(ts, level, msg, ap);
	}
	va_end(ap);
}
