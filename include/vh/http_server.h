/* vh/http_server.h - the evhttp front: routes requests to renderers over stored state. */
#ifndef VH_HTTP_SERVER_H
#define VH_HTTP_SERVER_H
#include "vh/config.h"
#include "vh/scheduler.h"
#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct vh_http_server;

/* Binds every address in listen (n entries) on base and serves snapshots of sched. An address
 * with an empty host binds "::" (dual stack) and falls back to 0.0.0.0 where IPv6 is missing.
 * service and sched are borrowed. Returns NULL with a reason in err (for example "cannot listen
 * on 127.0.0.1:8099: Address already in use"). */
struct vh_http_server *vh_http_server_create(struct event_base *base, const char *service,
		const struct vh_listen *listen, size_t n_listen, const struct vh_scheduler *sched,
		char *err, size_t err_len);
/* Accepts NULL. Closes the listeners and every open connection. */
void vh_http_server_destroy(struct vh_http_server *server);

#endif
