/* pg_error.c - short, stable failure reasons from libpq's multi-line connection errors. */
#include "vh/pg_error.h"

#include <stdio.h>
#include <string.h>

/* One line of libpq text; a longer one is cut, which only shortens an already long reason. */
#define LINE_MAX_LEN 512
#define TARGET_MAX 300

static const char ATTEMPT[] = "connection to server ";
static const char FAILED[] = " failed: ";
static const char FATAL[] = "FATAL:  ";
static const char SYSTEM_IS[] = "the database system is ";
static const char AUTH_FAILED[] = "authentication failed for user ";
static const char TOO_MANY[] = "too many connections (max_connections reached)";

static bool starts(const char *text, const char *prefix) {
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Appends text at out[*used], truncating; out stays NUL-terminated. */
static void append(char *out, size_t out_len, size_t *used, const char *text) {
	if (*used + 1 >= out_len) {
		return;
	}
	int n = snprintf(out + *used, out_len - *used, "%s", text);
	if (n > 0) {
		*used += (size_t)n < out_len - *used ? (size_t)n : out_len - *used - 1;
	}
}

/* Reads the address out of "at \"HOST\" (ADDR), port PORT" or "at \"HOST\", port PORT"
 * (libpq names the address it used when it differs from the host), ending before `end`. */
static void tcp_target(const char *p, const char *end, char *target, size_t target_len) {
	const char *host = p + strlen("at \"");
	const char *host_end = memchr(host, '"', (size_t)(end - host));
	if (!host_end) {
		snprintf(target, target_len, "%.*s", (int)(end - p), p);
		return;
	}
	const char *addr = host;
	const char *addr_end = host_end;
	const char *rest = host_end + 1;
	if (starts(rest, " (")) {
		const char *close = memchr(rest, ')', (size_t)(end - rest));
		if (close) {
			addr = rest + 2;
			addr_end = close;
			rest = close + 1;
		}
	}
	const char *port = starts(rest, ", port ") ? rest + strlen(", port ") : end;
	bool v6 = memchr(addr, ':', (size_t)(addr_end - addr)) != NULL;
	snprintf(target, target_len, v6 ? "[%.*s]:%.*s" : "%.*s:%.*s", (int)(addr_end - addr), addr,
			(int)(end - port), port);
}

/* For a line "connection to server ... failed: REASON" returns REASON and fills target with
 * "ADDR:PORT" or the socket path; for any other line returns NULL. */
static const char *attempt_reason(
		const char *line, char *target, size_t target_len, bool *is_socket) {
	target[0] = '\0';
	*is_socket = false;
	if (!starts(line, ATTEMPT)) {
		return NULL;
	}
	const char *p = line + strlen(ATTEMPT);
	const char *failed = strstr(p, FAILED);
	if (!failed) {
		return NULL;
	}
	if (starts(p, "on socket \"") && failed > p + strlen("on socket \"")) {
		const char *path = p + strlen("on socket \"");
		/* The path ends at the quote just before " failed: ". */
		size_t len = (size_t)(failed - path);
		if (len > 0 && path[len - 1] == '"') {
			len--;
		}
		snprintf(target, target_len, "%.*s", (int)len, path);
		*is_socket = true;
	} else if (starts(p, "at \"")) {
		tcp_target(p, failed, target, target_len);
	}
	return failed + strlen(FAILED);
}

/* Maps a SQLSTATE to a reason, or NULL when it says nothing we word specially. */
static const char *sqlstate_reason(const char *sqlstate) {
	if (!sqlstate) {
		return NULL;
	}
	if (strcmp(sqlstate, "53300") == 0) {
		return TOO_MANY;
	}
	if (strcmp(sqlstate, "28P01") == 0 || strcmp(sqlstate, "28000") == 0) {
		return "authentication failed";
	}
	if (strcmp(sqlstate, "57P03") == 0) {
		return "database is not accepting connections (starting up, shutting down or in "
		       "recovery)";
	}
	return NULL;
}

/* Words an answer the server gave (the text after "FATAL:  ", or a result's primary message). */
static void server_reason(const char *text, const char *sqlstate, char *out, size_t out_len) {
	const char *auth = strstr(text, AUTH_FAILED);
	const char *by_state = sqlstate_reason(sqlstate);
	if (auth) {
		snprintf(out, out_len, "%s", auth);
	} else if (starts(text, SYSTEM_IS)) {
		/* "starting up", "shutting down", "in recovery mode", "not yet accepting
		 * connections": the server's own words read well after "database is". */
		snprintf(out, out_len, "database is %s", text + strlen(SYSTEM_IS));
	} else if (starts(text, "sorry, too many clients") ||
			starts(text, "remaining connection slots are reserved")) {
		snprintf(out, out_len, "%s", TOO_MANY);
	} else if (by_state) {
		snprintf(out, out_len, "%s", by_state);
	} else {
		snprintf(out, out_len, "%s", text);
	}
}

/* Words one failed attempt: the server's answer as is, a client-side error with the address. */
static void attempt_part(const char *reason, const char *target, bool is_socket, const char *user,
		bool needs_password, char *out, size_t out_len) {
	if (starts(reason, FATAL)) {
		server_reason(reason + strlen(FATAL), NULL, out, out_len);
		return;
	}
	if (needs_password && strstr(reason, "no password supplied")) {
		if (user && user[0]) {
			snprintf(out, out_len, "%s\"%s\": no password supplied", AUTH_FAILED, user);
		} else {
			snprintf(out, out_len, "authentication failed: no password supplied");
		}
		return;
	}
	if (is_socket && starts(reason, "No such file or directory")) {
		snprintf(out, out_len, "no such socket (%s)", target);
		return;
	}
	char lowered[LINE_MAX_LEN];
	snprintf(lowered, sizeof(lowered), "%s", reason);
	/* strerror text ("Connection refused") reads better in lower case mid-sentence; an
	 * acronym ("SSL ...") keeps its case. */
	if (lowered[0] >= 'A' && lowered[0] <= 'Z' && lowered[1] >= 'a' && lowered[1] <= 'z') {
		lowered[0] = (char)(lowered[0] - 'A' + 'a');
	}
	if (target[0]) {
		snprintf(out, out_len, "%s (%s)", lowered, target);
	} else {
		snprintf(out, out_len, "%s", lowered);
	}
}

/* Copies the line starting at text into line and returns the start of the next one. */
static const char *next_line(const char *text, char *line, size_t line_len) {
	size_t len = strcspn(text, "\n");
	snprintf(line, line_len, "%.*s", (int)len, text);
	return text[len] == '\n' ? text + len + 1 : text + len;
}

char *vh_pg_error_connect(const char *message, const char *user, bool needs_password, char *out,
		size_t out_len) {
	size_t used = 0;
	out[0] = '\0';
	const char *p = message ? message : "";
	while (*p) {
		char line[LINE_MAX_LEN];
		char target[TARGET_MAX];
		char part[LINE_MAX_LEN];
		bool is_socket;
		p = next_line(p, line, sizeof(line));
		/* Indented lines are hints ("Is the server running ..."); DETAIL and HINT lines
		 * add nothing a probe result needs. */
		if (line[0] == '\0' || line[0] == '\t' || line[0] == ' ' ||
				starts(line, "DETAIL:") || starts(line, "HINT:")) {
			continue;
		}
		const char *reason = attempt_reason(line, target, sizeof(target), &is_socket);
		if (reason) {
			attempt_part(reason, target, is_socket, user, needs_password, part,
					sizeof(part));
		} else {
			attempt_part(line, "", false, user, needs_password, part, sizeof(part));
		}
		if (used > 0) {
			append(out, out_len, &used, "; ");
		}
		append(out, out_len, &used, part);
	}
	if (used == 0) {
		snprintf(out, out_len, "connection failed");
	}
	return out;
}

char *vh_pg_error_query(const char *sqlstate, const char *primary, char *out, size_t out_len) {
	const char *text = primary && primary[0] ? primary : "no error text";
	const char *state = sqlstate ? sqlstate : "";
	if (strstr(text, AUTH_FAILED) || starts(text, SYSTEM_IS) || sqlstate_reason(sqlstate)) {
		server_reason(text, sqlstate, out, out_len);
	} else if (starts(state, "57P")) {
		/* 57P01 comes with a fast shutdown and with pg_terminate_backend(), 57P02 after
		 * another backend crashed, 57P05 with idle_session_timeout. */
		snprintf(out, out_len, "connection terminated by the server (%s)", text);
	} else {
		snprintf(out, out_len, "query failed: %s", text);
	}
	return out;
}

char *vh_pg_error_first_line(const char *message, char *out, size_t out_len) {
	const char *text = message ? message : "";
	text += strspn(text, "\n\t ");
	if (!text[0]) {
		snprintf(out, out_len, "no error text");
		return out;
	}
	next_line(text, out, out_len);
	return out;
}
