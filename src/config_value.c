/* config_value.c - text values of the config file: durations, sizes, listen addresses, ${VAR}. */
#include "vh/config_value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/config.h"

/* A unit suffix and how many base units (ms or bytes) it stands for. */
struct unit {
	const char *suffix;
	uint64_t scale;
};

static const struct unit duration_units[] = {
		{"", 1},
		{"ms", 1},
		{"s", 1000},
		{"m", 60 * 1000},
		{"h", 60 * 60 * 1000},
};

static const struct unit byte_units[] = {
		{"", 1},
		{"B", 1},
		{"KB", 1000},
		{"MB", 1000 * 1000},
		{"GB", 1000 * 1000 * 1000},
		{"KiB", UINT64_C(1) << 10},
		{"MiB", UINT64_C(1) << 20},
		{"GiB", UINT64_C(1) << 30},
		{"TiB", UINT64_C(1) << 40},
};

/* Six decimals keep frac * scale below 2^64 for the largest unit (TiB = 2^40 < 1.1e12). */
#define FRACTION_DIGITS_MAX 6

static const struct unit *find_unit(const char *suffix, const struct unit *units, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (strcmp(suffix, units[i].suffix) == 0) {
			return &units[i];
		}
	}
	return NULL;
}

/* Reads "<digits>[.<digits>]<unit>" into base units. The fraction must come out whole: "1.5s" is
 * 1500 ms but "1.5ms" is refused, as is a fraction on a bare number. */
static bool parse_scaled(const char *text, const struct unit *units, size_t n_units, uint64_t max,
		uint64_t *out) {
	const char *p = text;
	uint64_t whole = 0, frac = 0, frac_scale = 1;
	if (!isdigit((unsigned char)*p)) {
		return false;
	}
	for (; isdigit((unsigned char)*p); p++) {
		unsigned digit = (unsigned)(*p - '0');
		if (whole > (UINT64_MAX - digit) / 10) {
			return false;
		}
		whole = whole * 10 + digit;
	}
	if (*p == '.') {
		p++;
		if (!isdigit((unsigned char)*p)) {
			return false;
		}
		for (int n = 0; isdigit((unsigned char)*p); p++, n++) {
			if (n == FRACTION_DIGITS_MAX) {
				return false;
			}
			frac = frac * 10 + (uint64_t)(*p - '0');
			frac_scale *= 10;
		}
	}
	const struct unit *unit = find_unit(p, units, n_units);
	if (!unit || (*unit->suffix == '\0' && frac_scale > 1)) {
		return false;
	}
	uint64_t frac_units = frac * unit->scale;
	if (frac_units % frac_scale != 0 || whole > max / unit->scale) {
		return false;
	}
	frac_units /= frac_scale;
	if (whole * unit->scale > max - frac_units) {
		return false;
	}
	*out = whole * unit->scale + frac_units;
	return true;
}

bool vh_config_parse_duration(const char *text, int64_t *out_ms) {
	uint64_t ms;
	if (!parse_scaled(text, duration_units, VH_ARRAY_LEN(duration_units), INT64_MAX, &ms)) {
		return false;
	}
	*out_ms = (int64_t)ms;
	return true;
}

bool vh_config_parse_bytes(const char *text, uint64_t *out) {
	return parse_scaled(text, byte_units, VH_ARRAY_LEN(byte_units), UINT64_MAX, out);
}

void vh_config_value_format_duration(int64_t ms, char *buf, size_t len) {
	static const struct unit largest_first[] = {
			{"h", 60 * 60 * 1000},
			{"m", 60 * 1000},
			{"s", 1000},
	};
	if (ms == 0) {
		snprintf(buf, len, "0s");
		return;
	}
	for (size_t i = 0; i < VH_ARRAY_LEN(largest_first); i++) {
		int64_t scale = (int64_t)largest_first[i].scale;
		if (ms % scale == 0) {
			snprintf(buf, len, "%" PRId64 "%s", ms / scale, largest_first[i].suffix);
			return;
		}
	}
	snprintf(buf, len, "%" PRId64 "ms", ms);
}

/* Reads a port of 1 to 65535 written as plain digits. */
static bool parse_port(const char *text, unsigned *out) {
	unsigned port = 0;
	if (*text == '\0' || strlen(text) > 5) {
		return false;
	}
	for (const char *p = text; *p; p++) {
		if (!isdigit((unsigned char)*p)) {
			return false;
		}
		port = port * 10 + (unsigned)(*p - '0');
	}
	if (port < 1 || port > 65535) {
		return false;
	}
	*out = port;
	return true;
}

/* Splits text into host and port text; a bracketed host is IPv6. Returns false with err set. */
static bool split_host_port(const char *text, char *host, size_t host_len, const char **port,
		bool *is_v6, char *err, size_t err_len) {
	const char *host_start = text, *host_end;
	*is_v6 = text[0] == '[';
	if (*is_v6) {
		host_start = text + 1;
		host_end = strchr(host_start, ']');
		if (!host_end || host_end[1] != ':') {
			snprintf(err, err_len, "expected \"[IPV6]:PORT\", got \"%s\"", text);
			return false;
		}
		*port = host_end + 2;
	} else {
		host_end = strrchr(text, ':');
		if (!host_end) {
			snprintf(err, err_len, "expected \"ADDRESS:PORT\" or \":PORT\", got \"%s\"",
					text);
			return false;
		}
		*port = host_end + 1;
	}
	size_t len = (size_t)(host_end - host_start);
	if (len >= host_len) {
		snprintf(err, err_len, "address too long in \"%s\"", text);
		return false;
	}
	memcpy(host, host_start, len);
	host[len] = '\0';
	return true;
}

bool vh_config_parse_listen(const char *text, struct vh_listen *out, char *err, size_t err_len) {
	char host[sizeof(out->host)];
	const char *port_text;
	bool is_v6;
	unsigned char addr[sizeof(struct in6_addr)];
	if (!split_host_port(text, host, sizeof(host), &port_text, &is_v6, err, err_len)) {
		return false;
	}
	if (!is_v6 && strchr(host, ':')) {
		snprintf(err, err_len, "an IPv6 address needs brackets, as in \"[::1]:%s\"",
				port_text);
		return false;
	}
	/* inet_pton() never resolves names, so "localhost" is refused here rather than looked up.
	 */
	if ((is_v6 || host[0] != '\0') && inet_pton(is_v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
		snprintf(err, err_len, "\"%s\" is not a numeric %s address", host,
				is_v6 ? "IPv6" : "IPv4");
		return false;
	}
	if (!parse_port(port_text, &out->port)) {
		snprintf(err, err_len, "port must be a number from 1 to 65535, got \"%s\"",
				port_text);
		return false;
	}
	snprintf(out->host, sizeof(out->host), "%s", host);
	return true;
}

/* ASCII only, whatever the locale: the same file must mean the same thing everywhere. */
static bool is_env_char(char c, bool first) {
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_' ||
			(!first && c >= '0' && c <= '9');
}

static bool is_env_name(const char *name, size_t len) {
	if (len == 0) {
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (!is_env_char(name[i], i == 0)) {
			return false;
		}
	}
	return true;
}

/* Writes the value of the variable named by the len bytes at name into out. */
static bool put_env(FILE *out, const char *name, size_t len, char *err, size_t err_len) {
	if (!is_env_name(name, len)) {
		snprintf(err, err_len, "invalid environment variable name \"%.*s\"", (int)len,
				name);
		return false;
	}
	char *var = strndup(name, len);
	if (!var) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	const char *value = getenv(var);
	if (!value) {
		snprintf(err, err_len, "environment variable %s is not set", var);
	} else {
		fputs(value, out);
	}
	free(var);
	return value != NULL;
}

char *vh_config_value_expand_env(const char *text, char *err, size_t err_len) {
	char *buf = NULL;
	size_t size = 0;
	FILE *out = open_memstream(&buf, &size);
	if (!out) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	bool ok = true;
	for (const char *p = text; ok && *p;) {
		if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
			fputc(*p++, out);
		} else if (p[1] == '$') {
			fputc('$', out);
			p += 2;
		} else {
			const char *end = strchr(p + 2, '}');
			if (!end) {
				snprintf(err, err_len, "\"${\" without a closing \"}\"");
				ok = false;
				break;
			}
			ok = put_env(out, p + 2, (size_t)(end - (p + 2)), err, err_len);
			p = end + 1;
		}
	}
	/* A failed write shows only at fclose(), when the stream cannot grow its buffer. */
	if (fclose(out) != 0 && ok) {
		snprintf(err, err_len, "out of memory");
		ok = false;
	}
	if (!ok) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* Levenshtein distance, capped: keys longer than the buffer count as far from everything. */
static size_t edit_distance(const char *a, const char *b) {
	enum { LEN_MAX = 64 };
	size_t la = strlen(a), lb = strlen(b), row[LEN_MAX + 1];
	if (la > LEN_MAX || lb > LEN_MAX) {
		return SIZE_MAX;
	}
	for (size_t j = 0; j <= lb; j++) {
		row[j] = j;
	}
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0];
		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t up = row[j];
			size_t best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best) {
				best = up + 1;
			}
			if (row[j - 1] + 1 < best) {
				best = row[j - 1] + 1;
			}
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *vh_config_value_suggest(const char *key, const char *const *allowed, size_t n_allowed) {
	size_t limit = strlen(key) <= 4 ? 1 : 2;
	const char *best = NULL;
	for (size_t i = 0; i < n_allowed; i++) {
		size_t d = edit_distance(key, allowed[i]);
		if (d <= limit) {
			/* From now on only a strictly closer key replaces this one. */
			best = allowed[i];
			limit = d == 0 ? 0 : d - 1;
		}
	}
	return best;
}
