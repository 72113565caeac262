/* config_value.c - text values of the config file: durations, sizes, listen addresses, ${VAR}. */
#include "vh/config_value.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

/* Splits text into host and port text; a bracketed host is IPv6. Returns what is wrong, or NULL. */
static const char *split_host_port(
		const char *text, char *host, size_t host_len, const char **port, bool *is_v6) {
	const char *host_start = text, *host_end;
	*is_v6 = text[0] == '[';
	if (*is_v6) {
		host_start = text + 1;
		host_end = strchr(host_start, ']');
		if (!host_end || host_end[1] != ':') {
			return "expected \"[IPV6]:PORT\"";
		}
		*port = host_end + 2;
	} else {
		host_end = strrchr(text, ':');
		if (!host_end) {
			return "expected \"ADDRESS:PORT\" or \":PORT\"";
		}
		*port = host_end + 1;
	}
	size_t len = (size_t)(host_end - host_start);
	if (len >= host_len) {
		return "the address is too long";
	}
	memcpy(host, host_start, len);
	host[len] = '\0';
	return NULL;
}

const char *vh_config_value_listen_problem(const char *text, struct vh_listen *out) {
	char host[sizeof(out->host)];
	const char *port_text;
	bool is_v6;
	unsigned char addr[sizeof(struct in6_addr)];
	const char *problem = split_host_port(text, host, sizeof(host), &port_text, &is_v6);
	if (problem) {
		return problem;
	}
	if (!is_v6 && strchr(host, ':')) {
		return "an IPv6 address needs brackets, as in \"[::1]:8099\"";
	}
	/* inet_pton() never resolves names, so "localhost" is refused here rather than looked up.
	 */
	if ((is_v6 || host[0] != '\0') && inet_pton(is_v6 ? AF_INET6 : AF_INET, host, addr) != 1) {
		return is_v6 ? "the address is not a numeric IPv6 address"
			     : "the address is not a numeric IPv4 address";
	}
	if (!parse_port(port_text, &out->port)) {
		return "the port must be a number from 1 to 65535";
	}
	snprintf(out->host, sizeof(out->host), "%s", host);
	return NULL;
}

bool vh_config_parse_listen(const char *text, struct vh_listen *out, char *err, size_t err_len) {
	char got[VH_CONFIG_QUOTE_LEN];
	const char *problem = vh_config_value_listen_problem(text, out);
	if (problem) {
		snprintf(err, err_len, "%s, got %s", problem,
				vh_config_value_quote(text, got, sizeof(got)));
		return false;
	}
	return true;
}

/* The length of the "http://" or "https://" at p, any case, or 0. */
static size_t http_scheme_len(const char *p) {
	if (strncasecmp(p, "http://", 7) == 0) {
		return 7;
	}
	return strncasecmp(p, "https://", 8) == 0 ? 8 : 0;
}

size_t vh_config_value_url_shown_len(const char *value) {
	/* A query or fragment often carries a token, as in "http://api/health?token=...", also in
	 * a URL inside a longer value such as a cmdline. A URL ends at white space. */
	for (const char *p = value; *p; p++) {
		size_t scheme = http_scheme_len(p);
		if (scheme == 0) {
			continue;
		}
		p += scheme;
		for (; *p && !isspace((unsigned char)*p); p++) {
			if (*p == '?' || *p == '#') {
				return (size_t)(p - value);
			}
		}
		if (*p == '\0') {
			break;
		}
	}
	return strlen(value);
}

const char *vh_config_value_quote(const char *text, char *buf, size_t len) {
	const char *shown = vh_config_redact_value("", text);
	size_t n = shown == text ? vh_config_value_url_shown_len(text) : strlen(shown);
	/* "?<redacted>" or "#<redacted>" in place of a URL's query or fragment. */
	const char *rest =
			shown[n] == '\0' ? "" : (shown[n] == '?' ? "?<redacted>" : "#<redacted>");
	bool cut = n > VH_CONFIG_QUOTE_BYTES;
	if (cut) {
		n = VH_CONFIG_QUOTE_BYTES;
		/* Back to the start of a UTF-8 sequence, so the message stays valid UTF-8. */
		while (n > 0 && ((unsigned char)shown[n] & 0xc0) == 0x80) {
			n--;
		}
	}
	snprintf(buf, len, "\"%.*s%s%s\"", (int)n, shown, cut ? "..." : "", rest);
	/* Keeps a message on one line. */
	for (char *p = buf; *p; p++) {
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			*p = '?';
		}
	}
	return buf;
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

/* Where expansion writes: the stream, how many bytes it holds, and where values landed. */
struct expansion {
	FILE *out;
	size_t pos;
	struct vh_config_span *spans; /* NULL when the caller does not want them */
	size_t n_spans;
	bool want_spans;
};

static void put_char(struct expansion *x, char c) {
	fputc(c, x->out);
	x->pos++;
}

/* Records that the bytes [start, x->pos) came from a variable; an empty value adds nothing. */
static bool add_span(struct expansion *x, size_t start) {
	if (!x->want_spans || start == x->pos) {
		return true;
	}
	struct vh_config_span *grown = realloc(x->spans, (x->n_spans + 1) * sizeof(*grown));
	if (!grown) {
		return false;
	}
	x->spans = grown;
	x->spans[x->n_spans++] = (struct vh_config_span){start, x->pos};
	return true;
}

/* Writes the value of the variable named by the len bytes at name into the stream. */
static bool put_env(struct expansion *x, const char *name, size_t len, char *err, size_t err_len) {
	if (!is_env_name(name, len)) {
		/* The name is text of the file, shown as any other. */
		char text[VH_CONFIG_QUOTE_BYTES + 4], got[VH_CONFIG_QUOTE_LEN];
		snprintf(text, sizeof(text), "%.*s", (int)len, name);
		snprintf(err, err_len, "invalid environment variable name %s",
				vh_config_value_quote(text, got, sizeof(got)));
		return false;
	}
	char *var = strndup(name, len);
	if (!var) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	const char *value = getenv(var);
	bool ok = value != NULL;
	if (!ok) {
		snprintf(err, err_len, "environment variable %s is not set", var);
	} else {
		size_t start = x->pos;
		fputs(value, x->out);
		x->pos += strlen(value);
		ok = add_span(x, start);
		if (!ok) {
			snprintf(err, err_len, "out of memory");
		}
	}
	free(var);
	return ok;
}

static bool expand_into(struct expansion *x, const char *text, char *err, size_t err_len) {
	for (const char *p = text; *p;) {
		if (p[0] != '$' || (p[1] != '$' && p[1] != '{')) {
			put_char(x, *p++);
		} else if (p[1] == '$') {
			put_char(x, '$');
			p += 2;
		} else {
			const char *end = strchr(p + 2, '}');
			if (!end) {
				snprintf(err, err_len, "\"${\" without a closing \"}\"");
				return false;
			}
			if (!put_env(x, p + 2, (size_t)(end - (p + 2)), err, err_len)) {
				return false;
			}
			p = end + 1;
		}
	}
	return true;
}

char *vh_config_value_expand_env_spans(const char *text, struct vh_config_span **spans,
		size_t *n_spans, char *err, size_t err_len) {
	char *buf = NULL;
	size_t size = 0;
	struct expansion x = {.want_spans = spans != NULL};
	x.out = open_memstream(&buf, &size);
	if (!x.out) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	bool ok = expand_into(&x, text, err, err_len);
	/* A failed write shows only at fclose(), when the stream cannot grow its buffer. */
	if (fclose(x.out) != 0 && ok) {
		snprintf(err, err_len, "out of memory");
		ok = false;
	}
	if (!ok) {
		free(buf);
		free(x.spans);
		return NULL;
	}
	if (spans) {
		*spans = x.spans;
		*n_spans = x.n_spans;
	}
	return buf;
}

char *vh_config_value_expand_env(const char *text, char *err, size_t err_len) {
	return vh_config_value_expand_env_spans(text, NULL, NULL, err, err_len);
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

/* The longest host name DNS allows. */
#define HOST_NAME_MAX_LEN 253
#define REDIS_DEFAULT_PORT 6379

const char *vh_config_value_host_problem(const char *host) {
	unsigned char addr[sizeof(struct in6_addr)];
	if (host[0] == '\0') {
		return "must not be empty";
	}
	if (strlen(host) > HOST_NAME_MAX_LEN) {
		return "must be at most 253 bytes";
	}
	if (strchr(host, ':')) {
		return inet_pton(AF_INET6, host, addr) == 1 ? NULL : "is not a valid IPv6 address";
	}
	for (const char *p = host; *p; p++) {
		/* ASCII only, whatever the locale, as for variable names. */
		bool ok = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
				(*p >= '0' && *p <= '9') || strchr(".-_", *p);
		if (!ok) {
			return "must be a host name (letters, digits, \".\", \"-\", \"_\") or a "
			       "numeric address";
		}
	}
	return NULL;
}

/* Splits "HOST[:PORT]" or "[V6][:PORT]" (len bytes at text) into a malloc'd host and a port. */
static bool parse_authority_host(const char *text, size_t len, unsigned default_port, char **host,
		unsigned *port, char *err, size_t err_len) {
	const char *end = text + len, *colon;
	const char *host_start = text, *host_end;
	char port_text[8];
	if (len > 0 && text[0] == '[') {
		host_start = text + 1;
		host_end = memchr(host_start, ']', (size_t)(end - host_start));
		if (!host_end) {
			snprintf(err, err_len, "has an IPv6 address without its closing \"]\"");
			return false;
		}
		colon = host_end + 1 < end ? host_end + 1 : NULL;
		if (colon && *colon != ':') {
			snprintf(err, err_len, "has text after the IPv6 address");
			return false;
		}
	} else {
		colon = memchr(text, ':', len);
		host_end = colon ? colon : end;
	}
	*port = default_port;
	if (colon) {
		size_t port_len = (size_t)(end - colon - 1);
		bool fits = port_len < sizeof(port_text);
		if (fits) {
			memcpy(port_text, colon + 1, port_len);
			port_text[port_len] = '\0';
		}
		if (!fits || !parse_port(port_text, port)) {
			snprintf(err, err_len, "has a bad port (expected 1 to 65535)");
			return false;
		}
	}
	*host = strndup(host_start, (size_t)(host_end - host_start));
	if (!*host) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	const char *problem = vh_config_value_host_problem(*host);
	if (problem || (host_start != text && !strchr(*host, ':'))) {
		snprintf(err, err_len, "has a bad host: %s",
				problem ? problem : "only an IPv6 address goes in brackets");
		free(*host);
		*host = NULL;
		return false;
	}
	return true;
}

bool vh_config_value_parse_peer_address(
		const char *text, struct vh_peer_address *out, char *err, size_t err_len) {
	char *host = NULL;
	if (!parse_authority_host(text, strlen(text), 0, &host, &out->port, err, err_len)) {
		return false;
	}
	bool fits = strlen(host) < sizeof(out->host);
	if (fits) {
		snprintf(out->host, sizeof(out->host), "%s", host);
	} else {
		snprintf(err, err_len, "has a host longer than 253 bytes");
	}
	free(host);
	return fits;
}

static int hex_value(char c) {
	if (c >= '0' && c <= '9') {
		return c - '0';
	}
	if (c >= 'a' && c <= 'f') {
		return c - 'a' + 10;
	}
	if (c >= 'A' && c <= 'F') {
		return c - 'A' + 10;
	}
	return -1;
}

/* Decodes %XX escapes of the len bytes at text into a malloc'd string; NULL for an empty one.
 * Fails on a bad escape and on %00, which no C string can carry. */
static bool percent_decode(const char *text, size_t len, char **out, char *err, size_t err_len) {
	char *buf = malloc(len + 1), *w = buf;
	if (!buf) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		if (text[i] != '%') {
			*w++ = text[i];
			continue;
		}
		int hi = i + 2 < len ? hex_value(text[i + 1]) : -1;
		int lo = i + 2 < len ? hex_value(text[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(buf);
			snprintf(err, err_len, "has a bad %%-escape in the user info");
			return false;
		}
		*w++ = (char)(hi * 16 + lo);
		i += 2;
	}
	*w = '\0';
	if (w == buf) {
		free(buf);
		buf = NULL;
	}
	*out = buf;
	return true;
}

void vh_config_value_redis_url_finish(struct vh_config_redis_url *url) {
	free(url->host);
	free(url->username);
	free(url->password);
	memset(url, 0, sizeof(*url));
}

/* Reads the user info "USER[:PASSWORD]" (len bytes at info, which starts at offset in the URL). */
static bool parse_userinfo(const char *info, size_t len, size_t offset,
		struct vh_config_redis_url *out, char *err, size_t err_len) {
	const char *colon = memchr(info, ':', len);
	size_t user_len = colon ? (size_t)(colon - info) : len;
	if (!percent_decode(info, user_len, &out->username, err, err_len)) {
		return false;
	}
	if (colon) {
		size_t pass_len = len - user_len - 1;
		out->password_start = offset + user_len + 1;
		out->password_end = out->password_start + pass_len;
		return percent_decode(colon + 1, pass_len, &out->password, err, err_len);
	}
	return true;
}

static bool parse_redis_db(const char *path, unsigned *db, char *err, size_t err_len) {
	unsigned long value = 0;
	if (path[0] == '\0' || strcmp(path, "/") == 0) {
		return true;
	}
	const char *digits = path + 1;
	bool ok = strlen(digits) <= 4;
	for (const char *p = digits; ok && *p; p++) {
		ok = isdigit((unsigned char)*p);
		value = value * 10 + (unsigned long)(*p - '0');
	}
	if (!ok || value > VH_CONFIG_REDIS_DB_MAX) {
		snprintf(err, err_len, "has a bad database number (expected /0 to /%d)",
				VH_CONFIG_REDIS_DB_MAX);
		return false;
	}
	*db = (unsigned)value;
	return true;
}

static bool parse_redis_url(
		const char *url, struct vh_config_redis_url *out, char *err, size_t err_len) {
	static const char scheme[] = "redis://";
	if (strncmp(url, "rediss://", 9) == 0) {
		snprintf(err, err_len, "TLS (rediss://) is not supported");
		return false;
	}
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
		snprintf(err, err_len,
				"expected \"redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]\" (the "
				"value is "
				"not shown: it may hold a password)");
		return false;
	}
	const char *authority = url + sizeof(scheme) - 1;
	size_t authority_len = strcspn(authority, "/?#");
	const char *path = authority + authority_len;
	if (strpbrk(path, "?#")) {
		snprintf(err, err_len,
				"has query parameters or a fragment, which are not supported");
		return false;
	}
	/* The last "@" ends the user info: a password may hold an unescaped "@" but a host not. */
	const char *at = NULL;
	for (const char *p = authority; p < path; p++) {
		at = *p == '@' ? p : at;
	}
	const char *host = at ? at + 1 : authority;
	if (at &&
			!parse_userinfo(authority, (size_t)(at - authority),
					(size_t)(authority - url), out, err, err_len)) {
		return false;
	}
	if (host == path) {
		snprintf(err, err_len, "has no host");
		return false;
	}
	return parse_authority_host(host, (size_t)(path - host), REDIS_DEFAULT_PORT, &out->host,
			       &out->port, err, err_len) &&
			parse_redis_db(path, &out->db, err, err_len);
}

bool vh_config_value_parse_redis_url(
		const char *url, struct vh_config_redis_url *out, char *err, size_t err_len) {
	memset(out, 0, sizeof(*out));
	if (!parse_redis_url(url, out, err, err_len)) {
		vh_config_value_redis_url_finish(out);
		return false;
	}
	return true;
}

bool vh_config_value_check_http_url(const char *url, char *err, size_t err_len) {
	static const char scheme[] = "http://";
	char *host = NULL;
	unsigned port;
	for (const char *p = url; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			snprintf(err, err_len, "must not contain spaces or control characters");
			return false;
		}
	}
	if (strncmp(url, "https://", 8) == 0) {
		snprintf(err, err_len, "https is not supported (plain http only)");
		return false;
	}
	if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
		snprintf(err, err_len, "expected \"http://HOST[:PORT][/PATH]\"");
		return false;
	}
	const char *authority = url + sizeof(scheme) - 1;
	size_t authority_len = strcspn(authority, "/?#");
	if (memchr(authority, '@', authority_len)) {
		snprintf(err, err_len, "must not hold user info (\"user:password@\")");
		return false;
	}
	if (authority_len == 0) {
		snprintf(err, err_len, "has no host");
		return false;
	}
	if (!parse_authority_host(authority, authority_len, 80, &host, &port, err, err_len)) {
		return false;
	}
	free(host);
	return true;
}

bool vh_config_value_check_nameserver(const char *text, char *err, size_t err_len) {
	char host[72];
	const char *port_text = NULL;
	unsigned char addr[sizeof(struct in6_addr)];
	unsigned port;
	bool ok = strlen(text) < sizeof(host);
	if (ok && text[0] == '[') {
		const char *close = strchr(text, ']');
		ok = close && (close[1] == '\0' || close[1] == ':');
		if (ok) {
			snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
			port_text = close[1] == ':' ? close + 2 : NULL;
			ok = inet_pton(AF_INET6, host, addr) == 1;
		}
	} else if (ok && strchr(text, ':') && strchr(text, ':') != strrchr(text, ':')) {
		ok = inet_pton(AF_INET6, text, addr) == 1;
	} else if (ok) {
		const char *colon = strchr(text, ':');
		snprintf(host, sizeof(host), "%.*s",
				colon ? (int)(colon - text) : (int)strlen(text), text);
		port_text = colon ? colon + 1 : NULL;
		ok = inet_pton(AF_INET, host, addr) == 1;
	}
	if (ok && port_text) {
		ok = parse_port(port_text, &port);
	}
	if (!ok) {
		snprintf(err, err_len,
				"expected a numeric address such as \"10.0.0.2\", "
				"\"10.0.0.2:5353\" or \"[::1]:53\"");
	}
	return ok;
}
