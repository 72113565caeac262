/* test_pg_error.c - libpq 15's error texts (captured against a real server) become short reasons.
 */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <string.h>

#include "vh/pg_error.h"

static char out[512];

static const char *connect_error(const char *message) {
	return vh_pg_error_connect(message, "app", false, out, sizeof(out));
}

Test(pg_error, refused_names_the_address) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"Connection refused\n\tIs the server running on that host "
					"and accepting TCP/IP connections?\n"),
			"connection refused (127.0.0.1:5432)"));
}

Test(pg_error, the_address_wins_over_the_host_name) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"db.internal\" (10.0.0.7), port "
					"6432 failed: Connection refused\n"),
			"connection refused (10.0.0.7:6432)"));
}

Test(pg_error, ipv6_addresses_get_brackets) {
	cr_assert(eq(str,
			(char *)connect_error("connection to server at \"::1\", port 5433 failed: "
					      "Connection refused\n"),
			"connection refused ([::1]:5433)"));
}

Test(pg_error, password_failure_names_the_user) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"FATAL:  password authentication failed for user "
					"\"vh_pw\"\n"),
			"authentication failed for user \"vh_pw\""));
}

Test(pg_error, missing_password_names_the_user) {
	const char *text =
			"connection to server at \"127.0.0.1\", port 5432 failed: fe_sendauth: no "
			"password supplied\n";
	vh_pg_error_connect(text, "vh_pw", true, out, sizeof(out));
	cr_assert(eq(str, out, "authentication failed for user \"vh_pw\": no password supplied"));
	vh_pg_error_connect(text, NULL, true, out, sizeof(out));
	cr_assert(eq(str, out, "authentication failed: no password supplied"));
}

Test(pg_error, not_accepting_states_read_as_database_is) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"FATAL:  the database system is starting up\n"),
			"database is starting up"));
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"FATAL:  the database system is shutting down\n"),
			"database is shutting down"));
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"FATAL:  the database system is not accepting "
					"connections\nDETAIL:  Hot standby mode is disabled.\n"),
			"database is not accepting connections"));
}

Test(pg_error, too_many_clients) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"FATAL:  sorry, too many clients already\n"),
			"too many connections (max_connections reached)"));
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"FATAL:  remaining connection slots are reserved for "
					"non-replication superuser connections\n"),
			"too many connections (max_connections reached)"));
}

Test(pg_error, other_server_answers_are_kept) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"FATAL:  role \"nosuch\" does not exist\n"),
			"role \"nosuch\" does not exist"));
}

Test(pg_error, unix_socket_paths) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server on socket "
					"\"/tmp/x/.s.PGSQL.1\" failed: No such file or "
					"directory\n\tIs the server running locally and accepting "
					"connections on that socket?\n"),
			"no such socket (/tmp/x/.s.PGSQL.1)"));
	cr_assert(eq(str,
			(char *)connect_error("connection to server on socket "
					      "\"/tmp/x/.s.PGSQL.1\" failed: Connection refused\n"),
			"connection refused (/tmp/x/.s.PGSQL.1)"));
}

Test(pg_error, each_host_tried_gets_a_part) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 1 failed: "
					"Connection refused\n\tIs the server running on that host "
					"and accepting TCP/IP connections?\nconnection to server "
					"at "
					"\"127.0.0.1\", port 2 failed: FATAL:  the database system "
					"is starting up\n"),
			"connection refused (127.0.0.1:1); database is starting up"));
}

Test(pg_error, client_side_errors_keep_their_case_and_get_the_address) {
	cr_assert(eq(str,
			(char *)connect_error(
					"connection to server at \"127.0.0.1\", port 5432 failed: "
					"server does not support SSL, but SSL was required\n"),
			"server does not support SSL, but SSL was required (127.0.0.1:5432)"));
	cr_assert(eq(str, (char *)connect_error("SSL error: certificate verify failed\n"),
			"SSL error: certificate verify failed"));
}

Test(pg_error, option_errors_are_kept) {
	cr_assert(eq(str, (char *)connect_error("invalid sslmode value: \"bogus\"\n"),
			"invalid sslmode value: \"bogus\""));
}

Test(pg_error, empty_text_still_says_something) {
	cr_assert(eq(str, (char *)connect_error(""), "connection failed"));
	cr_assert(eq(str, (char *)connect_error(NULL), "connection failed"));
}

Test(pg_error, long_text_is_cut_and_terminated) {
	char text[2048];
	memset(text, 'x', sizeof(text) - 1);
	text[sizeof(text) - 1] = '\0';
	char small[16];
	vh_pg_error_connect(text, NULL, false, small, sizeof(small));
	cr_assert(eq(sz, strlen(small), sizeof(small) - 1));
}

Test(pg_error, query_errors_by_sqlstate) {
	vh_pg_error_query("57P01", "terminating connection due to administrator command", out,
			sizeof(out));
	cr_assert(eq(str, out,
			"connection terminated by the server (terminating connection due to "
			"administrator command)"));
	vh_pg_error_query("57P03", "the database system is shutting down", out, sizeof(out));
	cr_assert(eq(str, out, "database is shutting down"));
	vh_pg_error_query("53300", "sorry, too many clients already", out, sizeof(out));
	cr_assert(eq(str, out, "too many connections (max_connections reached)"));
	vh_pg_error_query("53300", "zu viele Verbindungen", out, sizeof(out));
	cr_assert(eq(str, out, "too many connections (max_connections reached)"),
			"the SQLSTATE words a localised message");
	vh_pg_error_query("42883", "function pg_is_in_recovery() does not exist", out, sizeof(out));
	cr_assert(eq(str, out, "query failed: function pg_is_in_recovery() does not exist"));
	vh_pg_error_query(NULL, NULL, out, sizeof(out));
	cr_assert(eq(str, out, "query failed: no error text"));
}

Test(pg_error, first_line) {
	vh_pg_error_first_line("server closed the connection unexpectedly\n\tThis probably means "
			       "the server terminated abnormally\n",
			out, sizeof(out));
	cr_assert(eq(str, out, "server closed the connection unexpectedly"));
	vh_pg_error_first_line("\n", out, sizeof(out));
	cr_assert(eq(str, out, "no error text"));
}
