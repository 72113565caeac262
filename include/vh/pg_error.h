/* vh/pg_error.h - turns libpq and PostgreSQL error text into one short line a person can act on. */
#ifndef VH_PG_ERROR_H
#define VH_PG_ERROR_H
#include <stdbool.h>
#include <stddef.h>

/* Rewrites the text of a failed libpq connection (PQerrorMessage once the connection is
 * CONNECTION_BAD) into one part per host tried, joined by "; ":
 *   "connection refused (127.0.0.1:5432)", "connection refused ([::1]:5432)",
 *   "authentication failed for user \"app\"", "database is starting up",
 *   "database is shutting down", "too many connections (max_connections reached)".
 * Network errors name the address; answers from the server do not. user is the role libpq used
 * (PQuser), named when needs_password (PQconnectionNeedsPassword) says no password was given;
 * it may be NULL. The server's answers are matched in English (lc_messages C or en); others
 * are kept as the server worded them, cut to their first line. The result is NOT scrubbed of
 * secrets: pass it through vh_scrub. Returns out, which is always NUL-terminated. */
char *vh_pg_error_connect(const char *message, const char *user, bool needs_password, char *out,
		size_t out_len);

/* Describes an error result of a query on an open connection from its SQLSTATE and primary
 * message (either may be NULL): "database is shutting down", "too many connections
 * (max_connections reached)", "connection terminated by the server: ...", "query failed: ...".
 * Not scrubbed either. Returns out. */
char *vh_pg_error_query(const char *sqlstate, const char *primary, char *out, size_t out_len);

/* Copies the first line of message (libpq's texts end in a newline and may carry indented
 * hints), or "no error text" when it is empty. Returns out. */
char *vh_pg_error_first_line(const char *message, char *out, size_t out_len);

#endif
