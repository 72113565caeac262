/* pg_probe.c - the `postgres` check: one non-blocking libpq connection driven by libevent. */
#include "vh/pg_probe.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <inttypes.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/backoff.h"
#include "vh/clock.h"
#include "vh/log.h"
#include "vh/pg_error.h"
#include "vh/pg_params.h"
#include "vh/random.h"
#include "vh/resolver.h"
#include "vh/scrub.h"

/* One round trip answers both questions: is the server up, and is it a primary. */
static const char QUERY_ROLE[] = "SELECT pg_is_in_recovery()";
/* Client backends of the whole server, not of one database: max_connections is server-wide.
 * Background processes and WAL senders have slots of their own and are left out. A role
 * without pg_read_all_stats sees no backend_type on other users' rows; those count when they
 * have a database and a user, as client backends do (autovacuum has no user, WAL senders for
 * physical replication no database). */
static const char QUERY_STATS[] =
		"SELECT pg_is_in_recovery(), (SELECT count(*) FROM pg_stat_activity WHERE "
		"backend_type = 'client backend' OR (backend_type IS NULL AND datname IS NOT NULL "
		"AND usesysid IS NOT NULL)), current_setting('max_connections')::int";

#define TEXT_MAX (2 * VH_CHECK_OUTPUT_MAX)

/* A connection goes DISCONNECTED -> [RESOLVING] -> CONNECTING -> QUERYING, then back to
 * DISCONNECTED (per-check connections, errors) or on to IDLE, from which the next run goes
 * straight to QUERYING. A run is in flight exactly in RESOLVING, CONNECTING and QUERYING. */
enum pg_state {
	PG_DISCONNECTED,
	PG_RESOLVING,
	PG_CONNECTING,
	PG_QUERYING,
	PG_IDLE,
};

/* What the query's results said so far. */
enum pg_answer {
	ANSWER_NONE,
	ANSWER_ROW,
	ANSWER_ERROR,
};

struct pg_row {
	bool in_recovery;
	long long active;
	long long max_connections;
};

struct pg_probe {
	const struct vh_postgres_config *config;
	struct event_base *base;
	struct vh_resolver *resolver;
	enum pg_state state;
	PGconn *conn;
	/* Assigned afresh from PQsocket() before every wait: libpq may switch sockets between
	 * polls (next host or address, SSL or GSS retry), even to one with the same number. */
	struct event *io;
	struct vh_pg_params *params;
	struct vh_resolve *lookup;
	size_t lookup_index;
	char lookup_errors[VH_CHECK_OUTPUT_MAX];
	struct vh_backoff backoff;
	int64_t retry_at_mono_ms; /* no connection attempt before this; 0 = any time */
	int64_t connected_mono_ms; /* when the held connection was made */
	/* The latest connect failed before TCP connected, to this address (vh_probe_ops). */
	bool unreachable;
	char unreachable_addr[INET6_ADDRSTRLEN];
	unsigned unreachable_port;
	char last_error[VH_CHECK_OUTPUT_MAX];
	uint64_t rng;
	/* The run in flight. */
	uint64_t run;
	vh_probe_done_fn done;
	void *done_arg;
	enum pg_answer answer;
	struct pg_row row;
	char query_error[VH_CHECK_OUTPUT_MAX];
};

static void on_io(evutil_socket_t fd, short what, void *arg);
static void on_resolved(void *arg, const char *addr, const char *error);

/* Writes text into out, scrubbed of the probe's secrets and on one line. */
static void scrub(const struct pg_probe *probe, const char *text, char *out, size_t out_len) {
	size_t n;
	const char *const *secrets = vh_pg_params_secrets(probe->params, &n);
	vh_scrub(text, secrets, n, out, out_len);
}

/* ---- Ending a run ---- */

static void drop_connection(struct pg_probe *probe) {
	event_del(probe->io);
	if (probe->conn) {
		PQfinish(probe->conn);
		probe->conn = NULL;
	}
	probe->state = PG_DISCONNECTED;
}

static void report(struct pg_probe *probe, const struct vh_check_result *result) {
	vh_probe_done_fn done = probe->done;
	probe->done = NULL;
	done(probe->done_arg, probe->run, result);
}

/* Records why the connection failed and when the next attempt may go. reason may live in the
 * connection (PQerrorMessage), so it is copied before the connection goes. */
static void record_failure(struct pg_probe *probe, const char *reason) {
	scrub(probe, reason, probe->last_error, sizeof(probe->last_error));
	drop_connection(probe);
	probe->retry_at_mono_ms = vh_clock_mono_ms() +
			vh_backoff_fail(&probe->backoff, vh_random_next(&probe->rng));
}

static void fail_run(struct pg_probe *probe, const char *reason) {
	struct vh_check_result result;
	record_failure(probe, reason);
	vh_check_result_set(&result, VH_STATUS_FAIL, "%s", probe->last_error);
	report(probe, &result);
}

/* ---- Waiting on the socket ---- */

static bool watch(struct pg_probe *probe, short what) {
	int fd = PQsocket(probe->conn);
	event_del(probe->io);
	return fd >= 0 && event_assign(probe->io, probe->base, fd, what, on_io, probe) == 0 &&
			event_add(probe->io, NULL) == 0;
}

/* Waits for what during a run; a socket we cannot watch ends the run. */
static void wait_for(struct pg_probe *probe, short what) {
	if (!watch(probe, what)) {
		fail_run(probe, "cannot watch the connection's socket");
	}
}

/* Between runs, watches the idle connection so that a server that hangs up (shutdown,
 * restart, pg_terminate_backend) is noticed then, and the next run connects afresh instead
 * of failing on a dead connection. */
static void watch_idle(struct pg_probe *probe) {
	probe->state = PG_IDLE;
	if (!watch(probe, EV_READ)) {
		drop_connection(probe);
	}
}

static void on_idle_io(struct pg_probe *probe) {
	if (!PQconsumeInput(probe->conn) || PQstatus(probe->conn) == CONNECTION_BAD) {
		char why[VH_CHECK_OUTPUT_MAX];
		char line[VH_CHECK_OUTPUT_MAX];
		vh_pg_error_first_line(PQerrorMessage(probe->conn), line, sizeof(line));
		scrub(probe, line, why, sizeof(why));
		vh_log(VH_LOG_DEBUG, "postgres connection closed while idle", "reason", why, NULL);
		drop_connection(probe);
		return;
	}
	PGnotify *notify;
	while ((notify = PQnotifies(probe->conn)) != NULL) {
		PQfreemem(notify);
	}
	watch_idle(probe);
}

/* libpq prints notices (and a FATAL that arrives while idle) on stderr unless told otherwise;
 * they go to the debug log instead, scrubbed like everything else. */
static void on_notice(void *arg, const char *message) {
	struct pg_probe *probe = arg;
	char line[VH_CHECK_OUTPUT_MAX];
	scrub(probe, message, line, sizeof(line));
	vh_log(VH_LOG_DEBUG, "postgres notice", "message", line, NULL);
}

/* ---- The query ---- */

static void send_query(struct pg_probe *probe) {
	probe->state = PG_QUERYING;
	probe->answer = ANSWER_NONE;
	probe->query_error[0] = '\0';
	if (!PQsendQuery(probe->conn, probe->config->stats ? QUERY_STATS : QUERY_ROLE)) {
		char line[VH_CHECK_OUTPUT_MAX];
		char why[TEXT_MAX];
		vh_pg_error_first_line(PQerrorMessage(probe->conn), line, sizeof(line));
		snprintf(why, sizeof(why), "cannot send the query: %s", line);
		fail_run(probe, why);
		return;
	}
	int flushed = PQflush(probe->conn);
	if (flushed < 0) {
		fail_run(probe, "cannot send the query: connection lost");
		return;
	}
	wait_for(probe, flushed ? EV_READ | EV_WRITE : EV_READ);
}

static bool parse_count(const char *text, long long *out) {
	char *end;
	if (!text || !text[0]) {
		return false;
	}
	*out = strtoll(text, &end, 10);
	return *end == '\0' && *out >= 0;
}

static void read_row(struct pg_probe *probe, const PGresult *res) {
	int fields = probe->config->stats ? 3 : 1;
	struct pg_row row = {0};
	const char *recovery = PQntuples(res) == 1 && PQnfields(res) == fields
			? PQgetvalue(res, 0, 0)
			: NULL;
	bool ok = recovery && (strcmp(recovery, "t") == 0 || strcmp(recovery, "f") == 0);
	if (ok) {
		row.in_recovery = recovery[0] == 't';
	}
	if (ok && probe->config->stats) {
		ok = parse_count(PQgetvalue(res, 0, 1), &row.active) &&
				parse_count(PQgetvalue(res, 0, 2), &row.max_connections);
	}
	if (!ok) {
		probe->answer = ANSWER_ERROR;
		snprintf(probe->query_error, sizeof(probe->query_error),
				"unexpected answer to the query");
		return;
	}
	probe->answer = ANSWER_ROW;
	probe->row = row;
}

/* Keeps the row, or the first error; later results are drained and dropped. */
static void take_result(struct pg_probe *probe, const PGresult *res) {
	if (probe->answer == ANSWER_ERROR) {
		return;
	}
	if (PQresultStatus(res) == PGRES_TUPLES_OK) {
		if (probe->answer == ANSWER_NONE) {
			read_row(probe, res);
		}
		return;
	}
	char line[VH_CHECK_OUTPUT_MAX];
	const char *primary = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
	if (!primary) {
		/* libpq's own errors, such as a lost connection, have no fields. */
		primary = vh_pg_error_first_line(PQresultErrorMessage(res), line, sizeof(line));
	}
	probe->answer = ANSWER_ERROR;
	vh_pg_error_query(PQresultErrorField(res, PG_DIAG_SQLSTATE), primary, probe->query_error,
			sizeof(probe->query_error));
}

/* Fills result from the row: role first, then connection thresholds. Returns false when the
 * server does not have the required role. */
static bool evaluate(const struct pg_probe *probe, struct vh_check_result *result) {
	const struct vh_postgres_config *config = probe->config;
	const struct pg_row *row = &probe->row;
	const char *role = row->in_recovery ? "replica (in recovery)" : "primary";
	bool role_ok = true;
	if (config->role == VH_ROLE_PRIMARY && row->in_recovery) {
		vh_check_result_set(result, VH_STATUS_FAIL,
				"server is a replica (in recovery) but role primary is required");
		role_ok = false;
	} else if (config->role == VH_ROLE_REPLICA && !row->in_recovery) {
		vh_check_result_set(result, VH_STATUS_FAIL,
				"server is a primary (not in recovery) but role replica is "
				"required");
		role_ok = false;
	} else if (!config->stats) {
		vh_check_result_set(result, VH_STATUS_PASS, "%s", role);
	}
	if (!config->stats) {
		return role_ok;
	}
	double percent = row->max_connections > 0
			? 100.0 * (double)row->active / (double)row->max_connections
			: 0.0;
	if (role_ok) {
		vh_check_result_set(result, VH_STATUS_PASS, "%s, %lld of %lld connections (%.0f%%)",
				role, row->active, row->max_connections, percent);
	}
	vh_check_result_add_measure(result, "connections_active", "connections",
			(double)row->active, "connections");
	vh_check_result_add_measure(
			result, "connections_percent", "utilization", percent, "percent");
	if (config->connections_fail_percent > 0 && percent > config->connections_fail_percent) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"connections at %.0f%% of max_connections (%lld of %lld)", percent,
				row->active, row->max_connections);
	} else if (config->connections_warn_percent > 0 &&
			percent > config->connections_warn_percent) {
		vh_check_result_raise(result, VH_STATUS_WARN,
				"connections at %.0f%% of max_connections (%lld of %lld)", percent,
				row->active, row->max_connections);
	}
	return role_ok;
}

static void finish_query(struct pg_probe *probe) {
	if (probe->answer == ANSWER_ERROR) {
		fail_run(probe, probe->query_error);
		return;
	}
	if (probe->answer == ANSWER_NONE) {
		char line[VH_CHECK_OUTPUT_MAX];
		char why[TEXT_MAX];
		vh_pg_error_first_line(PQerrorMessage(probe->conn), line, sizeof(line));
		snprintf(why, sizeof(why), "no answer to the query: %s", line);
		fail_run(probe, why);
		return;
	}
	struct vh_check_result result;
	bool role_ok = evaluate(probe, &result);
	vh_backoff_reset(&probe->backoff);
	probe->retry_at_mono_ms = 0;
	/* A wrong role may mean that the name now leads elsewhere (a failover), so the next run
	 * resolves and connects afresh; it is the server's answer, not an error to back off on. */
	if (probe->config->per_check_connection || !role_ok ||
			PQstatus(probe->conn) != CONNECTION_OK) {
		drop_connection(probe);
	} else {
		watch_idle(probe);
	}
	report(probe, &result);
}

static void on_query_io(struct pg_probe *probe, short what) {
	int flushed = 0;
	if ((what & EV_READ) && !PQconsumeInput(probe->conn) &&
			PQstatus(probe->conn) != CONNECTION_BAD) {
		char line[VH_CHECK_OUTPUT_MAX];
		vh_pg_error_first_line(PQerrorMessage(probe->conn), line, sizeof(line));
		fail_run(probe, line);
		return;
	}
	/* On a broken connection libpq has closed the socket, so draining cannot block, and it
	 * yields the server's last words (such as 57P01 at a fast shutdown) before the EOF. */
	if (PQstatus(probe->conn) != CONNECTION_BAD) {
		flushed = PQflush(probe->conn);
		if (flushed < 0) {
			fail_run(probe, "connection lost while sending the query");
			return;
		}
	}
	while (!PQisBusy(probe->conn)) {
		PGresult *res = PQgetResult(probe->conn);
		if (!res) {
			finish_query(probe);
			return;
		}
		take_result(probe, res);
		PQclear(res);
	}
	wait_for(probe, flushed ? EV_READ | EV_WRITE : EV_READ);
}

/* ---- Connecting ---- */

/* Where libpq is connecting now, for a timeout message: "ADDR:PORT" or a socket directory. */
static void current_target(PGconn *conn, char *out, size_t out_len) {
	const char *addr = PQhostaddr(conn);
	const char *host = PQhost(conn);
	const char *port = PQport(conn);
	const char *where = addr && addr[0] ? addr : host ? host : "";
	if (where[0] == '/' || where[0] == '@') {
		snprintf(out, out_len, "%s", where);
	} else if (strchr(where, ':')) {
		snprintf(out, out_len, "[%s]:%s", where, port ? port : "");
	} else {
		snprintf(out, out_len, "%s:%s", where, port ? port : "");
	}
}

/* Notes whether a connect failing now had got past TCP: libpq still reports CONNECTION_STARTED
 * while the TCP connect is in flight, and the address it was trying. */
static void note_reachability(struct pg_probe *probe, ConnStatusType before) {
	const char *addr = PQhostaddr(probe->conn);
	const char *port = PQport(probe->conn);
	long port_number = port && port[0] ? strtol(port, NULL, 10) : 5432;
	probe->unreachable = before == CONNECTION_STARTED && addr && addr[0] && port_number > 0 &&
			port_number < 65536;
	if (probe->unreachable) {
		snprintf(probe->unreachable_addr, sizeof(probe->unreachable_addr), "%s", addr);
		probe->unreachable_port = (unsigned)port_number;
	}
}

static void fail_connect(struct pg_probe *probe) {
	char reason[TEXT_MAX];
	char why[TEXT_MAX + VH_CHECK_OUTPUT_MAX + 2];
	/* The text is all there is: PQgetResult on a failed connection may wait on the socket,
	 * which libpq leaves open until PQfinish. */
	vh_pg_error_connect(PQerrorMessage(probe->conn), PQuser(probe->conn),
			PQconnectionNeedsPassword(probe->conn), reason, sizeof(reason));
	if (probe->lookup_errors[0]) {
		snprintf(why, sizeof(why), "%s; %s", probe->lookup_errors, reason);
	} else {
		snprintf(why, sizeof(why), "%s", reason);
	}
	fail_run(probe, why);
}

static void connect_now(struct pg_probe *probe) {
	const char *const *keywords;
	const char *const *values;
	if (!vh_pg_params_build(probe->params, &keywords, &values)) {
		fail_run(probe, probe->lookup_errors);
		return;
	}
	/* expand_dbname 0: a dbname is never parsed as a URI, whose parse errors would echo it
	 * whole, password included. */
	probe->conn = PQconnectStartParams(keywords, values, 0);
	if (!probe->conn) {
		fail_run(probe, "out of memory");
		return;
	}
	PQsetNoticeProcessor(probe->conn, on_notice, probe);
	probe->state = PG_CONNECTING;
	if (PQstatus(probe->conn) == CONNECTION_BAD) {
		note_reachability(probe, CONNECTION_STARTED);
		fail_connect(probe);
		return;
	}
	/* libpq: before the first PQconnectPoll, behave as if it asked for writing. */
	wait_for(probe, EV_WRITE);
}

static void on_connect_io(struct pg_probe *probe) {
	ConnStatusType before = PQstatus(probe->conn);
	switch (PQconnectPoll(probe->conn)) {
	case PGRES_POLLING_READING:
		wait_for(probe, EV_READ);
		break;
	case PGRES_POLLING_WRITING:
	case PGRES_POLLING_ACTIVE: /* unused by libpq since 7.4 */
		wait_for(probe, EV_WRITE);
		break;
	case PGRES_POLLING_OK:
		probe->connected_mono_ms = vh_clock_mono_ms();
		if (PQsetnonblocking(probe->conn, 1) != 0) {
			fail_run(probe, "cannot make the connection non-blocking");
			return;
		}
		send_query(probe);
		break;
	case PGRES_POLLING_FAILED:
		note_reachability(probe, before);
		fail_connect(probe);
		break;
	}
}

/* Starts the lookup of the next host from index on that needs one, or connects when none is
 * left. A lookup may finish before vh_resolver_lookup returns, which recurses through
 * on_resolved; the depth is bounded by HOSTS_MAX. */
static void resolve_from(struct pg_probe *probe, size_t index) {
	for (; index < vh_pg_params_hosts(probe->params); index++) {
		const char *name = vh_pg_params_lookup_name(probe->params, index);
		if (!name) {
			continue;
		}
		probe->state = PG_RESOLVING;
		probe->lookup_index = index;
		struct vh_resolve *lookup =
				vh_resolver_lookup(probe->resolver, name, on_resolved, probe);
		/* NULL: on_resolved already ran, and may have started the next lookup. */
		if (lookup) {
			probe->lookup = lookup;
		}
		return;
	}
	connect_now(probe);
}

static void on_resolved(void *arg, const char *addr, const char *error) {
	struct pg_probe *probe = arg;
	probe->lookup = NULL;
	if (addr) {
		vh_pg_params_set_addr(probe->params, probe->lookup_index, addr);
	} else {
		size_t used = strlen(probe->lookup_errors);
		snprintf(probe->lookup_errors + used, sizeof(probe->lookup_errors) - used, "%s%s",
				used ? "; " : "", error ? error : "cannot resolve");
	}
	resolve_from(probe, probe->lookup_index + 1);
}

static void begin_connect(struct pg_probe *probe) {
	probe->unreachable = false;
	probe->lookup_errors[0] = '\0';
	vh_pg_params_clear_addrs(probe->params);
	resolve_from(probe, 0);
}

static void on_io(evutil_socket_t fd, short what, void *arg) {
	struct pg_probe *probe = arg;
	switch (probe->state) {
	case PG_CONNECTING:
		on_connect_io(probe);
		break;
	case PG_QUERYING:
		on_query_io(probe, what);
		break;
	case PG_IDLE:
		on_idle_io(probe);
		break;
	case PG_DISCONNECTED:
	case PG_RESOLVING:
		break;
	}
}

/* ---- The probe interface ---- */

static bool pg_start(void *impl, uint64_t run, vh_probe_done_fn done, void *arg) {
	struct pg_probe *probe = impl;
	if (probe->state != PG_DISCONNECTED && probe->state != PG_IDLE) {
		return false;
	}
	probe->run = run;
	probe->done = done;
	probe->done_arg = arg;
	/* A held session answers even while the server refuses every new connection (a smart
	 * shutdown), and holds that shutdown open: so now and then the check lets it go and
	 * connects as the application's pool would. */
	int64_t held_ms = vh_clock_mono_ms() - probe->connected_mono_ms;
	if (probe->state == PG_IDLE && probe->config->reconnect_after_ms > 0 &&
			held_ms >= probe->config->reconnect_after_ms) {
		drop_connection(probe);
	}
	if (probe->state == PG_IDLE) {
		event_del(probe->io);
		send_query(probe);
		return true;
	}
	int64_t wait_ms = probe->retry_at_mono_ms - vh_clock_mono_ms();
	if (probe->retry_at_mono_ms != 0 && wait_ms > 0) {
		struct vh_check_result result;
		char in[32];
		vh_check_result_set(&result, VH_STATUS_FAIL, "%s (reconnecting in %s)",
				probe->last_error,
				vh_clock_format_duration(wait_ms, in, sizeof(in)));
		report(probe, &result);
		return true;
	}
	begin_connect(probe);
	return true;
}

/* The engine's deadline passed: the connection goes, and counts as failed for the backoff. */
static void pg_cancel(void *impl) {
	struct pg_probe *probe = impl;
	char why[TEXT_MAX];
	char target[VH_CHECK_OUTPUT_MAX];
	switch (probe->state) {
	case PG_RESOLVING:
		vh_resolve_cancel(probe->lookup);
		probe->lookup = NULL;
		snprintf(why, sizeof(why), "timed out resolving \"%s\"",
				vh_pg_params_lookup_name(probe->params, probe->lookup_index));
		break;
	case PG_CONNECTING:
		note_reachability(probe, PQstatus(probe->conn));
		current_target(probe->conn, target, sizeof(target));
		snprintf(why, sizeof(why), "timed out connecting (%s)", target);
		break;
	case PG_QUERYING:
		/* No answer at all on a held connection: a black hole as far as we can tell; the
		 * watch finds out when a new connection can be made. */
		note_reachability(probe, CONNECTION_STARTED);
		snprintf(why, sizeof(why), "timed out waiting for the answer to the query");
		break;
	case PG_DISCONNECTED:
	case PG_IDLE:
		return;
	}
	probe->done = NULL;
	record_failure(probe, why);
}

static void pg_destroy(void *impl) {
	struct pg_probe *probe = impl;
	if (!probe) {
		return;
	}
	vh_resolve_cancel(probe->lookup);
	if (probe->io) {
		event_del(probe->io);
		free(probe->io);
	}
	if (probe->conn) {
		PQfinish(probe->conn);
	}
	vh_pg_params_destroy(probe->params);
	free(probe);
}

/* libpq's connection state during PQconnectPoll, in words. */
static const char *connect_step(ConnStatusType status) {
	switch (status) {
	case CONNECTION_STARTED:
		return "connecting to";
	case CONNECTION_SSL_STARTUP:
	case CONNECTION_GSS_STARTUP:
		return "negotiating TLS with";
	case CONNECTION_MADE:
	case CONNECTION_AWAITING_RESPONSE:
	case CONNECTION_AUTH_OK:
		return "authenticating with";
	default:
		/* SETENV, CHECK_WRITABLE, CHECK_TARGET, CHECK_STANDBY, CONSUME: session set-up. */
		return "starting the session with";
	}
}

static void pg_phase(void *impl, char *buf, size_t len) {
	const struct pg_probe *probe = impl;
	const char *addr = probe->conn ? PQhostaddr(probe->conn) : NULL;
	const char *port = probe->conn ? PQport(probe->conn) : NULL;
	char where[INET6_ADDRSTRLEN + 16];
	bool v6 = addr && strchr(addr, ':');
	snprintf(where, sizeof(where), "%s%s%s:%s", v6 ? "[" : "", addr && addr[0] ? addr : "?",
			v6 ? "]" : "", port && port[0] ? port : "5432");
	buf[0] = '\0';
	switch (probe->state) {
	case PG_RESOLVING: {
		const char *name = vh_pg_params_lookup_name(probe->params, probe->lookup_index);
		snprintf(buf, len, "resolving \"%s\"", name ? name : "?");
		break;
	}
	case PG_CONNECTING:
		snprintf(buf, len, "%s %s", connect_step(PQstatus(probe->conn)), where);
		break;
	case PG_QUERYING:
		snprintf(buf, len, "waiting for the reply from %s", where);
		break;
	case PG_DISCONNECTED:
	case PG_IDLE:
		break;
	}
}

static bool pg_unreachable(void *impl, char *addr, size_t addr_len, unsigned *port) {
	const struct pg_probe *probe = impl;
	if (!probe->unreachable) {
		return false;
	}
	snprintf(addr, addr_len, "%s", probe->unreachable_addr);
	*port = probe->unreachable_port;
	return true;
}

static void pg_retry_now(void *impl) {
	struct pg_probe *probe = impl;
	vh_backoff_reset(&probe->backoff);
	probe->retry_at_mono_ms = 0;
}

static const struct vh_probe_ops pg_ops = {
		.type = "postgres",
		.start = pg_start,
		.cancel = pg_cancel,
		.destroy = pg_destroy,
		.phase = pg_phase,
		.unreachable = pg_unreachable,
		.retry_now = pg_retry_now,
};

bool vh_pg_probe_create(const struct vh_probe_env *env, const struct vh_postgres_config *config,
		struct vh_probe *out, char *err, size_t err_len) {
	struct pg_probe *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	probe->config = config;
	probe->base = env->base;
	probe->resolver = env->resolver;
	probe->rng = vh_random_seed((uintptr_t)probe);
	vh_backoff_init(&probe->backoff, &config->backoff);
	probe->params = vh_pg_params_create(config, err, err_len);
	if (!probe->params) {
		goto error;
	}
	probe->io = calloc(1, event_get_struct_event_size());
	if (!probe->io) {
		snprintf(err, err_len, "out of memory");
		goto error;
	}
	/* A valid, never-added event, so that event_del() is always safe. */
	event_assign(probe->io, probe->base, -1, 0, on_io, probe);
	out->ops = &pg_ops;
	out->impl = probe;
	return true;

error:
	pg_destroy(probe);
	return false;
}

void vh_pg_library_version(char *buf, size_t len) {
	/* From PostgreSQL 10 on, the number is major * 10000 + minor. */
	int version = PQlibVersion();
	snprintf(buf, len, "%d.%d", version / 10000, version % 10000);
}
