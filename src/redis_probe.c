/* redis_probe.c - the `redis` check: PING, and INFO when asked, over one persistent connection. */
#include "vh/redis_probe.h"
#include "vh/random.h"

#include <ctype.h>
#include <event2/event.h>
#include <hiredis/adapters/libevent.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/backoff.h"
#include "vh/clock.h"
#include "vh/redis_info.h"
#include "vh/resolver.h"
#include "vh/scrub.h"

/* CLIENT SETNAME: lets an operator (and our tests) find the sidecar in CLIENT LIST. */
#define CLIENT_NAME "veza-health"
#define MIB (1024.0 * 1024.0)
/* Room kept for " (reconnecting in 12.3s)" when a stored error is repeated. */
#define SUFFIX_ROOM 40

/* The connection. hiredis queues commands while a TCP connect is in flight, so CONNECTING and
 * READY both accept a run's commands; the difference only matters for reading the state. */
enum conn_state {
	CONN_IDLE, /* no connection; the next run connects at once */
	CONN_BACKOFF, /* no connection after a failure; runs fail at once until retry_at_ms */
	CONN_RESOLVING, /* waiting for the resolver to turn the host name into an address */
	CONN_CONNECTING, /* context made, setup commands queued, TCP connect in flight */
	CONN_READY, /* connected */
};

/* The run in flight, if any. Replies come back in the order commands were sent, and a run that
 * is cancelled takes the whole connection with it, so a reply never belongs to an older run. */
enum run_state {
	RUN_NONE,
	RUN_WAITING, /* started, no command sent yet (resolving, or about to fail at once) */
	RUN_PING, /* PING sent (and INFO after it when needed) */
	RUN_INFO, /* PING answered, its verdict kept in pending; INFO outstanding */
};

struct redis_probe {
	const struct vh_redis_config *config;
	struct event_base *base;
	struct vh_resolver *resolver;
	char target[VH_CHECK_OUTPUT_MAX / 2]; /* "host:port", "[v6]:port" or "unix:PATH" */
	/* What messages name: target, plus the address a host name last resolved to. */
	char peer[VH_CHECK_OUTPUT_MAX / 2];
	bool need_info;
	uint64_t rng;

	enum conn_state conn;
	/* Owned while non-NULL. Every hiredis callback first checks that its context is still
	 * this one: we clear the pointer before freeing a context ourselves, so the NULL replies
	 * and the disconnect callback that redisAsyncFree() runs synchronously are ignored. */
	redisAsyncContext *ctx;
	struct vh_resolve *lookup;
	struct vh_backoff backoff;
	int64_t retry_at_ms;
	char last_error[VH_CHECK_OUTPUT_MAX];
	bool awaiting_auth; /* AUTH sent on this connection, its reply not in yet */
	char addr[INET6_ADDRSTRLEN]; /* the numeric address of the latest TCP connect, or "" */
	bool unreachable; /* that connect failed before TCP connected (vh_probe_ops) */

	enum run_state run;
	uint64_t run_id;
	vh_probe_done_fn done;
	void *done_arg;
	int64_t run_started_ms;
	struct vh_check_result pending;
};

/* snprintf for messages that may be cut short: they end in a one-line output anyway. */
static void set_text(char *out, size_t out_len, const char *fmt, ...) VH_PRINTF(3, 4);
static void set_text(char *out, size_t out_len, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(out, out_len, fmt, ap);
	va_end(ap);
}

/* Text from the server or from hiredis may in principle echo what we sent; the password is
 * the one secret we hold. Also lower-cases a leading capital of strerror-style text
 * ("Connection refused") so messages read alike. */
static void clean(const struct redis_probe *probe, const char *text, char *out, size_t out_len) {
	const char *secrets[] = {probe->config->password};
	vh_scrub(text && text[0] ? text : "unknown error", secrets, VH_ARRAY_LEN(secrets), out,
			out_len);
	if (isupper((unsigned char)out[0]) && islower((unsigned char)out[1])) {
		out[0] = (char)tolower((unsigned char)out[0]);
	}
}

static void finish(struct redis_probe *probe, const struct vh_check_result *result) {
	if (probe->run == RUN_NONE) {
		return;
	}
	probe->run = RUN_NONE;
	probe->done(probe->done_arg, probe->run_id, result);
}

static void fail_run(struct redis_probe *probe, const char *fmt, ...) VH_PRINTF(2, 3);
static void fail_run(struct redis_probe *probe, const char *fmt, ...) {
	struct vh_check_result result = {.status = VH_STATUS_FAIL};
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(result.output, sizeof(result.output), fmt, ap);
	va_end(ap);
	finish(probe, &result);
}

/* Frees our context, if any. Never called from the connect or disconnect callback: hiredis
 * 0.14 touches the context after those return. From a reply callback hiredis defers the free
 * until the callback returns, which is safe. */
static void drop(struct redis_probe *probe) {
	redisAsyncContext *ctx = probe->ctx;
	probe->ctx = NULL;
	if (ctx) {
		redisAsyncFree(ctx);
	}
	vh_resolve_cancel(probe->lookup);
	probe->lookup = NULL;
}

/* The connection failed or was given up (our context is already gone or going): remember why,
 * back off, and fail the run in flight with the reason. */
static void connection_failed(struct redis_probe *probe, const char *fmt, ...) VH_PRINTF(2, 3);
static void connection_failed(struct redis_probe *probe, const char *fmt, ...) {
	int64_t delay = vh_backoff_fail(&probe->backoff, vh_random_next(&probe->rng));
	va_list ap;
	va_start(ap, fmt);
	/* A long host name or server message is cut short here, which is expected. */
	vsnprintf(probe->last_error, sizeof(probe->last_error), fmt, ap);
	va_end(ap);
	probe->retry_at_ms = vh_clock_mono_ms() + delay;
	probe->conn = CONN_BACKOFF;
	fail_run(probe, "%s", probe->last_error);
}

/* hiredis is freeing ctx because the connection broke (it runs pending callbacks with NULL
 * replies first): let go of it without freeing it. */
static void connection_lost(struct redis_probe *probe, redisAsyncContext *ctx) {
	char why[VH_CHECK_OUTPUT_MAX - SUFFIX_ROOM];
	probe->ctx = NULL;
	clean(probe, ctx->errstr ? ctx->errstr : ctx->c.errstr, why, sizeof(why));
	connection_failed(probe, "connection to %s lost: %s", probe->peer, why);
}

/* The setup (AUTH or SELECT) was refused: the connection is useless, so give it up. */
static void setup_failed(struct redis_probe *probe, const char *what, const char *reply_text) {
	char why[VH_CHECK_OUTPUT_MAX - SUFFIX_ROOM];
	clean(probe, reply_text, why, sizeof(why));
	drop(probe);
	connection_failed(probe, "%s: %s", what, why);
}

/* The probe that owns ctx, or NULL for a context we already let go of. */
static struct redis_probe *owner(const redisAsyncContext *ctx) {
	struct redis_probe *probe = ctx->data;
	return probe && probe->ctx == ctx ? probe : NULL;
}

static void on_connect(const redisAsyncContext *ctx, int status) {
	struct redis_probe *probe = owner(ctx);
	if (!probe) {
		return;
	}
	if (status == REDIS_OK) {
		probe->conn = CONN_READY;
		return;
	}
	probe->unreachable = probe->addr[0] != '\0';
	/* hiredis frees the context right after this callback (and never calls on_disconnect),
	 * so only forget it. The error is still in c.err: ctx->err is copied later. */
	char why[VH_CHECK_OUTPUT_MAX - SUFFIX_ROOM];
	probe->ctx = NULL;
	clean(probe, ctx->c.errstr, why, sizeof(why));
	connection_failed(probe, "cannot connect to %s: %s", probe->peer, why);
}

static void on_disconnect(const redisAsyncContext *ctx, int status) {
	struct redis_probe *probe = owner(ctx);
	(void)status;
	if (!probe) {
		return;
	}
	/* Only reached with nothing outstanding (a run in flight would have been failed by the
	 * NULL replies first): the server closed an idle connection, perhaps for its `timeout`
	 * setting. That is not a failure; the next run reconnects and finds out. */
	probe->ctx = NULL;
	probe->conn = CONN_IDLE;
}

/* Errors a server sends to a new connection before it closes it, whatever command came first:
 * over maxclients, or protected mode. The reset that follows would hide them. */
static bool refused_connection(const redisReply *reply) {
	return reply->type == REDIS_REPLY_ERROR &&
			(strncmp(reply->str, "ERR max number of clients", 25) == 0 ||
					strncmp(reply->str, "DENIED", 6) == 0);
}

static void on_auth_reply(redisAsyncContext *ctx, void *r, void *privdata) {
	struct redis_probe *probe = owner(ctx);
	redisReply *reply = r;
	(void)privdata;
	if (!probe) {
		return;
	}
	probe->awaiting_auth = false;
	if (!reply) {
		connection_lost(probe, ctx);
	} else if (refused_connection(reply)) {
		setup_failed(probe, "refused by the server", reply->str);
	} else if (reply->type == REDIS_REPLY_ERROR) {
		setup_failed(probe, "authentication failed", reply->str);
	}
}

static void on_select_reply(redisAsyncContext *ctx, void *r, void *privdata) {
	struct redis_probe *probe = owner(ctx);
	redisReply *reply = r;
	(void)privdata;
	if (!probe) {
		return;
	}
	if (!reply) {
		connection_lost(probe, ctx);
	} else if (refused_connection(reply)) {
		setup_failed(probe, "refused by the server", reply->str);
	} else if (reply->type == REDIS_REPLY_ERROR) {
		char what[48];
		snprintf(what, sizeof(what), "cannot select database %u", probe->config->db);
		setup_failed(probe, what, reply->str);
	}
}

static void on_setname_reply(redisAsyncContext *ctx, void *r, void *privdata) {
	struct redis_probe *probe = owner(ctx);
	redisReply *reply = r;
	(void)privdata;
	/* Other errors here are ignored: a user without the CLIENT permission still gets
	 * checked, and a missing password shows up as NOAUTH on PING right after. */
	if (probe && !reply) {
		connection_lost(probe, ctx);
	} else if (probe && refused_connection(reply)) {
		setup_failed(probe, "refused by the server", reply->str);
	}
}

static bool starts_with(const char *text, const char *prefix) {
	return strncmp(text, prefix, strlen(prefix)) == 0;
}

/* Sorts PING's answer into a verdict. Errors that mean "up but not serving" (loading a dataset,
 * a replica cut off from its master with replica-serve-stale-data no, a script running too long)
 * are failures of readiness, reported with the server's own words. */
static void judge_ping(const struct redis_probe *probe, const redisReply *reply,
		struct vh_check_result *result) {
	char text[VH_CHECK_OUTPUT_MAX - SUFFIX_ROOM];
	if (reply->type == REDIS_REPLY_STATUS && strcmp(reply->str, "PONG") == 0) {
		vh_check_result_set(result, VH_STATUS_PASS, "PONG");
		return;
	}
	if (reply->type != REDIS_REPLY_ERROR) {
		vh_check_result_set(result, VH_STATUS_FAIL,
				"unexpected reply to PING from %s (type %d)", probe->peer,
				reply->type);
		return;
	}
	clean(probe, reply->str, text, sizeof(text));
	if (starts_with(reply->str, "LOADING") || starts_with(reply->str, "MASTERDOWN") ||
			starts_with(reply->str, "BUSY")) {
		vh_check_result_set(result, VH_STATUS_FAIL, "not ready: %s", text);
	} else if (starts_with(reply->str, "NOAUTH") || starts_with(reply->str, "WRONGPASS")) {
		vh_check_result_set(result, VH_STATUS_FAIL, "authentication failed: %s", text);
	} else {
		vh_check_result_set(result, VH_STATUS_FAIL, "PING failed: %s", text);
	}
}

static void on_ping_reply(redisAsyncContext *ctx, void *r, void *privdata) {
	struct redis_probe *probe = owner(ctx);
	(void)privdata;
	if (!probe) {
		return;
	}
	if (!r) {
		connection_lost(probe, ctx);
		return;
	}
	/* Any answer proves that connecting and the setup work again. */
	vh_backoff_reset(&probe->backoff);
	if (probe->run != RUN_PING) {
		return;
	}
	judge_ping(probe, r, &probe->pending);
	if (probe->need_info) {
		probe->run = RUN_INFO;
		return;
	}
	finish(probe, &probe->pending);
}

static const char *role_word(enum vh_role role) {
	return role == VH_ROLE_REPLICA ? "replica" : "master";
}

/* "PONG from master", "PONG from replica (link up)". */
static void describe_role(const struct vh_redis_info *info, char *out, size_t out_len) {
	if (info->role == VH_REDIS_ROLE_REPLICA && info->has_master_link) {
		snprintf(out, out_len, "PONG from replica (link %s)",
				info->master_link_up ? "up" : "down");
		return;
	}
	snprintf(out, out_len, "PONG from %s", vh_redis_role_name(info->role));
}

/* Adds the measures and applies the memory and client thresholds. */
static void judge_stats(const struct redis_probe *probe, const struct vh_redis_info *info,
		const char *head, struct vh_check_result *result) {
	const struct vh_redis_config *config = probe->config;
	if (!info->has_used_memory || !info->has_connected_clients) {
		vh_check_result_set(result, VH_STATUS_WARN, "%s, but INFO lacks %s", head,
				info->has_used_memory ? "connected_clients" : "used_memory");
		return;
	}
	double used = (double)info->used_memory;
	uint64_t clients = info->connected_clients;
	double percent = 0;
	if (info->maxmemory > 0) {
		percent = used * 100.0 / (double)info->maxmemory;
		vh_check_result_set(result, VH_STATUS_PASS,
				"%s: memory %.1f MiB of %.1f MiB (%.1f%%), %" PRIu64 " %s", head,
				used / MIB, (double)info->maxmemory / MIB, percent, clients,
				clients == 1 ? "client" : "clients");
	} else {
		vh_check_result_set(result, VH_STATUS_PASS,
				"%s: memory %.1f MiB (no maxmemory), %" PRIu64 " %s", head,
				used / MIB, clients, clients == 1 ? "client" : "clients");
	}
	/* The result was just cleared, so all three fit. */
	vh_check_result_add_measure(result, "memory_bytes", "memory", used, "bytes");
	if (info->maxmemory > 0) {
		vh_check_result_add_measure(
				result, "memory_percent", "utilization", percent, "percent");
	}
	vh_check_result_add_measure(
			result, "clients", "connections", (double)clients, "connections");
	if (info->maxmemory > 0 && config->memory_fail_percent > 0 &&
			percent >= config->memory_fail_percent) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"memory %.1f%% of maxmemory >= fail threshold %g%%", percent,
				config->memory_fail_percent);
	}
	if (info->maxmemory > 0 && config->memory_warn_percent > 0 &&
			percent >= config->memory_warn_percent) {
		vh_check_result_raise(result, VH_STATUS_WARN,
				"memory %.1f%% of maxmemory >= warn threshold %g%%", percent,
				config->memory_warn_percent);
	}
	if (config->clients_warn > 0 && clients >= config->clients_warn) {
		vh_check_result_raise(result, VH_STATUS_WARN,
				"%" PRIu64 " clients >= warn threshold %" PRIu64, clients,
				config->clients_warn);
	}
}

/* Turns a parsed INFO into the run's result: role, loading, replication link, statistics. */
static void judge_info(const struct redis_probe *probe, const struct vh_redis_info *info,
		struct vh_check_result *result) {
	const struct vh_redis_config *config = probe->config;
	char head[64];
	describe_role(info, head, sizeof(head));
	if (config->stats) {
		judge_stats(probe, info, head, result);
	} else {
		vh_check_result_set(result, VH_STATUS_PASS, "%s", head);
	}
	bool want_master = config->role == VH_ROLE_PRIMARY;
	if (config->role != VH_ROLE_ANY && info->role == VH_REDIS_ROLE_UNKNOWN) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"INFO shows no role but role %s is required",
				role_word(config->role));
	} else if (config->role != VH_ROLE_ANY &&
			info->role !=
					(want_master ? VH_REDIS_ROLE_MASTER
						     : VH_REDIS_ROLE_REPLICA)) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"server is a %s but role %s is required",
				vh_redis_role_name(info->role), role_word(config->role));
	}
	if (info->loading) {
		vh_check_result_raise(result, VH_STATUS_FAIL, "not ready: loading the dataset");
	}
	/* A replica cut off from its master still serves (possibly stale) reads, which is why
	 * this warns rather than fails; with replica-serve-stale-data no, PING already failed
	 * with MASTERDOWN. */
	if (info->role == VH_REDIS_ROLE_REPLICA && info->has_master_link && !info->master_link_up) {
		vh_check_result_raise(result, VH_STATUS_WARN, "replica link to master is down");
	}
}

static void on_info_reply(redisAsyncContext *ctx, void *r, void *privdata) {
	struct redis_probe *probe = owner(ctx);
	redisReply *reply = r;
	(void)privdata;
	if (!probe) {
		return;
	}
	if (!reply) {
		connection_lost(probe, ctx);
		return;
	}
	if (probe->run != RUN_INFO) {
		return;
	}
	if (probe->pending.status == VH_STATUS_FAIL) {
		finish(probe, &probe->pending);
		return;
	}
	/* Without a role requirement INFO only feeds statistics, so its failure is a warning. */
	enum vh_status severity =
			probe->config->role == VH_ROLE_ANY ? VH_STATUS_WARN : VH_STATUS_FAIL;
	struct vh_check_result result = {0};
	char why[VH_CHECK_OUTPUT_MAX - SUFFIX_ROOM];
	char err[128];
	struct vh_redis_info info;
	if (reply->type == REDIS_REPLY_ERROR) {
		clean(probe, reply->str, why, sizeof(why));
		vh_check_result_set(&result, severity, "PONG, but INFO failed: %s", why);
	} else if (reply->type != REDIS_REPLY_STRING) {
		vh_check_result_set(&result, severity, "PONG, but INFO gave a reply of type %d",
				reply->type);
	} else if (!vh_redis_info_parse(reply->str, reply->len, &info, err, sizeof(err))) {
		clean(probe, err, why, sizeof(why));
		vh_check_result_set(&result, severity, "PONG, but bad INFO reply: %s", why);
	} else {
		judge_info(probe, &info, &result);
	}
	finish(probe, &result);
}

/* Queues the commands that make a new connection usable. The password goes only into the
 * argument vector, never into a format string or a log line. */
static bool send_setup(struct redis_probe *probe) {
	const struct vh_redis_config *config = probe->config;
	redisAsyncContext *ctx = probe->ctx;
	probe->awaiting_auth = false;
	if (config->password) {
		const char *argv[3] = {"AUTH"};
		int argc = 1;
		if (config->username && config->username[0]) {
			argv[argc++] = config->username;
		}
		argv[argc++] = config->password;
		if (redisAsyncCommandArgv(ctx, on_auth_reply, NULL, argc, argv, NULL) != REDIS_OK) {
			return false;
		}
		probe->awaiting_auth = true;
	}
	if (config->db != 0) {
		char db[16];
		snprintf(db, sizeof(db), "%u", config->db);
		const char *argv[] = {"SELECT", db};
		if (redisAsyncCommandArgv(ctx, on_select_reply, NULL, 2, argv, NULL) != REDIS_OK) {
			return false;
		}
	}
	const char *argv[] = {"CLIENT", "SETNAME", CLIENT_NAME};
	return redisAsyncCommandArgv(ctx, on_setname_reply, NULL, 3, argv, NULL) == REDIS_OK;
}

/* Queues this run's commands: PING, then INFO (the whole of it: every Redis version accepts
 * that, and the fields come from three sections) when the role or statistics are wanted. */
static bool send_run(struct redis_probe *probe) {
	const char *ping[] = {"PING"};
	const char *info[] = {"INFO"};
	probe->run = RUN_PING;
	if (redisAsyncCommandArgv(probe->ctx, on_ping_reply, NULL, 1, ping, NULL) != REDIS_OK) {
		return false;
	}
	return !probe->need_info ||
			redisAsyncCommandArgv(probe->ctx, on_info_reply, NULL, 1, info, NULL) ==
			REDIS_OK;
}

/* hiredis cannot queue on a context it is tearing down; ours never is, so this means memory ran
 * out inside hiredis. */
static void send_failed(struct redis_probe *probe) {
	drop(probe);
	connection_failed(probe, "cannot send commands to %s", probe->peer);
}

/* Opens a connection to addr (numeric, so hiredis's own getaddrinfo cannot block), or to the
 * unix socket when addr is NULL, and queues the setup and the run's commands. */
static void open_connection(struct redis_probe *probe, const char *addr) {
	const struct vh_redis_config *config = probe->config;
	char why[VH_CHECK_OUTPUT_MAX - SUFFIX_ROOM];
	redisAsyncContext *ctx = addr ? redisAsyncConnect(addr, (int)config->port)
				      : redisAsyncConnectUnix(config->unix_path);
	snprintf(probe->addr, sizeof(probe->addr), "%s", addr ? addr : "");
	if (!ctx || ctx->err) {
		/* Failed inside connect() itself (a unix socket that is missing or refuses, an
		 * unreachable network): nothing is attached to the loop yet. */
		probe->unreachable = ctx && addr;
		clean(probe, ctx ? ctx->errstr : "out of memory", why, sizeof(why));
		if (ctx) {
			redisAsyncFree(ctx);
		}
		connection_failed(probe, "cannot connect to %s: %s", probe->peer, why);
		return;
	}
	ctx->data = probe;
	if (redisLibeventAttach(ctx, probe->base) != REDIS_OK) {
		redisAsyncFree(ctx);
		connection_failed(probe, "cannot watch the connection to %s", probe->peer);
		return;
	}
	redisAsyncSetConnectCallback(ctx, on_connect);
	redisAsyncSetDisconnectCallback(ctx, on_disconnect);
	probe->ctx = ctx;
	probe->conn = CONN_CONNECTING;
	if (!send_setup(probe) || (probe->run == RUN_WAITING && !send_run(probe))) {
		send_failed(probe);
	}
}

static void on_resolved(void *arg, const char *addr, const char *error) {
	struct redis_probe *probe = arg;
	probe->lookup = NULL;
	if (!error && strcmp(addr, probe->config->host) != 0) {
		set_text(probe->peer, sizeof(probe->peer), "%s (%s)", probe->target, addr);
	}
	if (error) {
		char why[VH_CHECK_OUTPUT_MAX];
		/* The resolver names the host, which is configuration, not a secret. */
		clean(probe, error, why, sizeof(why));
		connection_failed(probe, "%s", why);
		return;
	}
	open_connection(probe, addr);
}

static void connect_now(struct redis_probe *probe) {
	probe->unreachable = false;
	if (probe->config->unix_path) {
		open_connection(probe, NULL);
		return;
	}
	probe->conn = CONN_RESOLVING;
	/* The callback may run before lookup returns (a numeric host), and may already have moved
	 * the state on; only a lookup still pending is kept. */
	struct vh_resolve *lookup = vh_resolver_lookup(
			probe->resolver, probe->config->host, on_resolved, probe);
	if (probe->conn == CONN_RESOLVING) {
		probe->lookup = lookup;
	}
}

static bool redis_start(void *impl, uint64_t run, vh_probe_done_fn done, void *arg) {
	struct redis_probe *probe = impl;
	probe->run_id = run;
	probe->done = done;
	probe->done_arg = arg;
	probe->run_started_ms = vh_clock_mono_ms();
	probe->pending = (struct vh_check_result){0};
	probe->run = RUN_WAITING;
	switch (probe->conn) {
	case CONN_BACKOFF:
		if (probe->run_started_ms < probe->retry_at_ms) {
			char wait[32];
			vh_clock_format_duration(probe->retry_at_ms - probe->run_started_ms, wait,
					sizeof(wait));
			fail_run(probe, "%.*s (reconnecting in %s)",
					(int)(sizeof(probe->last_error) - SUFFIX_ROOM),
					probe->last_error, wait);
			return true;
		}
		connect_now(probe);
		return true;
	case CONN_IDLE:
		connect_now(probe);
		return true;
	case CONN_RESOLVING:
		/* A lookup outlives a run only if cancel() missed it; wait for it all the same. */
		return true;
	case CONN_CONNECTING:
	case CONN_READY:
		if (!send_run(probe)) {
			send_failed(probe);
		}
		return true;
	}
	return false;
}

/* The scheduler gave up on the run (its timeout) or is shutting down. A server that does not
 * answer in time is treated as broken: the connection is freed (redisAsyncDisconnect would wait
 * for the replies forever) and the next connect waits out the backoff. */
static void redis_cancel(void *impl) {
	struct redis_probe *probe = impl;
	if (probe->run == RUN_NONE) {
		return;
	}
	int64_t waited = vh_clock_mono_ms() - probe->run_started_ms;
	bool resolving = probe->conn == CONN_RESOLVING;
	/* No answer by the deadline, to the SYN or to the commands: a black hole as far as we can
	 * tell, which the scheduler can watch cheaply until a new connection can be made. */
	probe->unreachable = probe->ctx && probe->addr[0] != '\0';
	probe->run = RUN_NONE;
	drop(probe);
	if (resolving) {
		connection_failed(probe, "cannot resolve \"%s\": no answer within %" PRId64 " ms",
				probe->config->host, waited);
	} else {
		connection_failed(probe, "no answer from %s within %" PRId64 " ms", probe->peer,
				waited);
	}
}

static void redis_destroy(void *impl) {
	struct redis_probe *probe = impl;
	if (!probe) {
		return;
	}
	probe->run = RUN_NONE;
	drop(probe);
	free(probe);
}

static void redis_phase(void *impl, char *buf, size_t len) {
	const struct redis_probe *probe = impl;
	bool connected = probe->ctx && (probe->ctx->c.flags & REDIS_CONNECTED);
	buf[0] = '\0';
	if (probe->run == RUN_NONE) {
		return;
	}
	if (probe->conn == CONN_RESOLVING) {
		snprintf(buf, len, "resolving \"%s\"", probe->config->host);
	} else if (probe->ctx && !connected) {
		snprintf(buf, len, "connecting to %s", probe->peer);
	} else if (probe->ctx && probe->awaiting_auth) {
		snprintf(buf, len, "authenticating with %s", probe->peer);
	} else if (probe->ctx) {
		snprintf(buf, len, "waiting for the reply from %s", probe->peer);
	}
}

static bool redis_unreachable(void *impl, char *addr, size_t addr_len, unsigned *port) {
	const struct redis_probe *probe = impl;
	if (!probe->unreachable) {
		return false;
	}
	snprintf(addr, addr_len, "%s", probe->addr);
	*port = probe->config->port;
	return true;
}

static void redis_retry_now(void *impl) {
	struct redis_probe *probe = impl;
	vh_backoff_reset(&probe->backoff);
	probe->retry_at_ms = 0;
}

static const struct vh_probe_ops redis_ops = {
		.type = "redis",
		.start = redis_start,
		.cancel = redis_cancel,
		.destroy = redis_destroy,
		.phase = redis_phase,
		.unreachable = redis_unreachable,
		.retry_now = redis_retry_now,
};

/* The config loader validates all of this; checking again keeps a bad config from reaching
 * hiredis. */
static bool check_config(const struct vh_probe_env *env, const struct vh_redis_config *config,
		char *err, size_t err_len) {
	if (!env || !env->base) {
		snprintf(err, err_len, "redis probe needs an event loop");
		return false;
	}
	if (config->unix_path) {
		if (!config->unix_path[0]) {
			snprintf(err, err_len, "redis unix socket path is empty");
			return false;
		}
		return true;
	}
	if (!config->host || !config->host[0]) {
		snprintf(err, err_len, "redis check needs a host or a unix socket");
		return false;
	}
	if (!env->resolver) {
		snprintf(err, err_len, "redis probe needs a resolver");
		return false;
	}
	if (config->port == 0 || config->port > 65535) {
		snprintf(err, err_len, "redis port %u is out of range", config->port);
		return false;
	}
	return true;
}

bool vh_redis_probe_create(const struct vh_probe_env *env, const struct vh_redis_config *config,
		struct vh_probe *out, char *err, size_t err_len) {
	if (!config) {
		snprintf(err, err_len, "redis probe needs a config");
		return false;
	}
	if (!check_config(env, config, err, err_len)) {
		return false;
	}
	struct redis_probe *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	probe->config = config;
	probe->base = env->base;
	probe->resolver = env->resolver;
	probe->need_info = config->role != VH_ROLE_ANY || config->stats;
	probe->rng = vh_random_seed((uintptr_t)probe);
	probe->conn = CONN_IDLE;
	vh_backoff_init(&probe->backoff, &config->backoff);
	if (config->unix_path) {
		set_text(probe->target, sizeof(probe->target), "unix:%s", config->unix_path);
	} else if (strchr(config->host, ':')) {
		set_text(probe->target, sizeof(probe->target), "[%s]:%u", config->host,
				config->port);
	} else {
		set_text(probe->target, sizeof(probe->target), "%s:%u", config->host, config->port);
	}
	memcpy(probe->peer, probe->target, sizeof(probe->peer));
	out->ops = &redis_ops;
	out->impl = probe;
	return true;
}

void vh_redis_library_version(char *buf, size_t len) {
	snprintf(buf, len, "%d.%d.%d", HIREDIS_MAJOR, HIREDIS_MINOR, HIREDIS_PATCH);
}
