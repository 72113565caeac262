/* redis_info.c - a small, strict reader of Redis INFO text that never trusts the server's bytes. */
#include "vh/redis_info.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Longer than any 64-bit decimal; a longer value is malformed whatever it holds. */
#define VALUE_MAX 32

enum field {
	FIELD_ROLE,
	FIELD_LOADING,
	FIELD_MASTER_LINK,
	FIELD_USED_MEMORY,
	FIELD_MAXMEMORY,
	FIELD_CONNECTED_CLIENTS,
	FIELD_NONE,
};

static const char *const field_keys[] = {
		[FIELD_ROLE] = "role",
		[FIELD_LOADING] = "loading",
		[FIELD_MASTER_LINK] = "master_link_status",
		[FIELD_USED_MEMORY] = "used_memory",
		[FIELD_MAXMEMORY] = "maxmemory",
		[FIELD_CONNECTED_CLIENTS] = "connected_clients",
};

const char *vh_redis_role_name(enum vh_redis_role role) {
	switch (role) {
	case VH_REDIS_ROLE_MASTER:
		return "master";
	case VH_REDIS_ROLE_REPLICA:
		return "replica";
	case VH_REDIS_ROLE_UNKNOWN:
		break;
	}
	return "unknown";
}

static enum field find_field(const char *key, size_t key_len) {
	for (size_t i = 0; i < VH_ARRAY_LEN(field_keys); i++) {
		if (strlen(field_keys[i]) == key_len && memcmp(field_keys[i], key, key_len) == 0) {
			return (enum field)i;
		}
	}
	return FIELD_NONE;
}

/* The value goes into an error message, and it came from the network: keep it short and
 * printable. */
static void printable(char *dst, size_t dst_len, const char *src, size_t src_len) {
	size_t n = 0;
	for (size_t i = 0; i < src_len && n + 1 < dst_len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[n++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	if (dst_len > 0) {
		dst[n] = '\0';
	}
}

static bool bad_value(
		enum field field, const char *value, size_t value_len, char *err, size_t err_len) {
	char shown[VALUE_MAX + 1];
	printable(shown, sizeof(shown), value, value_len);
	snprintf(err, err_len, "bad %s value \"%s%s\"", field_keys[field], shown,
			value_len > VALUE_MAX ? "..." : "");
	return false;
}

/* strtoull skips white space and takes a sign, neither of which Redis ever writes. */
static bool parse_u64(const char *value, size_t value_len, uint64_t *out) {
	char buf[VALUE_MAX + 1];
	if (value_len == 0 || value_len > VALUE_MAX || value[0] < '0' || value[0] > '9') {
		return false;
	}
	memcpy(buf, value, value_len);
	buf[value_len] = '\0';
	char *end = NULL;
	errno = 0;
	unsigned long long n = strtoull(buf, &end, 10);
	if (errno != 0 || end != buf + value_len) {
		return false;
	}
	*out = (uint64_t)n;
	return true;
}

static bool equals(const char *value, size_t value_len, const char *word) {
	return strlen(word) == value_len && memcmp(value, word, value_len) == 0;
}

static bool store(struct vh_redis_info *out, enum field field, const char *value, size_t value_len,
		char *err, size_t err_len) {
	switch (field) {
	case FIELD_ROLE:
		if (equals(value, value_len, "master")) {
			out->role = VH_REDIS_ROLE_MASTER;
		} else if (equals(value, value_len, "slave")) {
			out->role = VH_REDIS_ROLE_REPLICA;
		} else {
			return bad_value(field, value, value_len, err, err_len);
		}
		return true;
	case FIELD_LOADING:
		if (!equals(value, value_len, "0") && !equals(value, value_len, "1")) {
			return bad_value(field, value, value_len, err, err_len);
		}
		out->has_loading = true;
		out->loading = value[0] == '1';
		return true;
	case FIELD_MASTER_LINK:
		if (!equals(value, value_len, "up") && !equals(value, value_len, "down")) {
			return bad_value(field, value, value_len, err, err_len);
		}
		out->has_master_link = true;
		out->master_link_up = value[0] == 'u';
		return true;
	case FIELD_USED_MEMORY:
		out->has_used_memory = parse_u64(value, value_len, &out->used_memory);
		return out->has_used_memory || bad_value(field, value, value_len, err, err_len);
	case FIELD_MAXMEMORY:
		out->has_maxmemory = parse_u64(value, value_len, &out->maxmemory);
		return out->has_maxmemory || bad_value(field, value, value_len, err, err_len);
	case FIELD_CONNECTED_CLIENTS:
		out->has_connected_clients = parse_u64(value, value_len, &out->connected_clients);
		return out->has_connected_clients ||
				bad_value(field, value, value_len, err, err_len);
	case FIELD_NONE:
		break;
	}
	return true;
}

static bool seen(const struct vh_redis_info *info, enum field field) {
	switch (field) {
	case FIELD_ROLE:
		return info->role != VH_REDIS_ROLE_UNKNOWN;
	case FIELD_LOADING:
		return info->has_loading;
	case FIELD_MASTER_LINK:
		return info->has_master_link;
	case FIELD_USED_MEMORY:
		return info->has_used_memory;
	case FIELD_MAXMEMORY:
		return info->has_maxmemory;
	case FIELD_CONNECTED_CLIENTS:
		return info->has_connected_clients;
	case FIELD_NONE:
		break;
	}
	return false;
}

/* Handles one line without its line ending. */
static bool parse_line(struct vh_redis_info *out, const char *line, size_t len, char *err,
		size_t err_len) {
	const char *colon = memchr(line, ':', len);
	if (!colon) {
		return true; /* a section header, a blank line, or something we do not read */
	}
	enum field field = find_field(line, (size_t)(colon - line));
	if (field == FIELD_NONE) {
		return true;
	}
	if (seen(out, field)) {
		snprintf(err, err_len, "%s appears twice", field_keys[field]);
		return false;
	}
	const char *value = colon + 1;
	return store(out, field, value, len - (size_t)(value - line), err, err_len);
}

bool vh_redis_info_parse(const char *text, size_t len, struct vh_redis_info *out, char *err,
		size_t err_len) {
	memset(out, 0, sizeof(*out));
	size_t pos = 0;
	while (pos < len) {
		const char *line = text + pos;
		const char *nl = memchr(line, '\n', len - pos);
		size_t line_len = nl ? (size_t)(nl - line) : len - pos;
		pos += line_len + (nl ? 1 : 0);
		if (line_len > 0 && line[line_len - 1] == '\r') {
			line_len--;
		}
		if (!parse_line(out, line, line_len, err, err_len)) {
			return false;
		}
	}
	return true;
}
