/* vh/http_server.h - the HTTP front: connections in, replies from stored state out. */
#ifndef VH_HTTP_SERVER_H
#define VH_HTTP_SERVER_H
#include "vh/config.h"
#include "vh/responder.h"
#include "vh/scheduler.h"
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct vh_http_server;

/* Open connections at most; the least recently active one is closed to make room for a new one.
 * Lowered to stay 64 below the descriptor limit (RLIMIT_NOFILE) at start. */
#define VH_HTTP_MAX_CONNECTIONS 512

/* Binds every address in listen (n entries) on base and serves snapshots of sched over HTTP/1.1
 * (keep-alive, pipelining, GET and HEAD only; see docs/http.md for limits and timeouts). An address
 * with an empty host binds "::" (dual stack) and falls back to 0.0.0.0 where IPv6 is missing.
 * service and sched are borrowed; access is copied, and drain is what an authorized GET /drain
 * calls (see vh_responder_create()). Returns NULL with a reason in err (for example "cannot listen
 * on 127.0.0.1:8099: Address already in use"). */
struct vh_http_server *vh_http_server_create(struct event_base *base, const char *service,
		const struct vh_listen *listen, size_t n_listen, const struct vh_scheduler *sched,
		const struct vh_access_config *access, vh_responder_drain_fn drain, void *drain_arg,
		char *err, size_t err_len);
/* Applies a new details policy and token (copied) to every request from now on. */
void vh_http_server_set_access(
		struct vh_http_server *server, const struct vh_access_config *access);
/* The drain is over: answers every /drain that waits for it. */
void vh_http_server_drained(struct vh_http_server *server);
/* Accepts NULL. Closes the listeners and every open connection. */
void vh_http_server_destroy(struct vh_http_server *server);

#endif
