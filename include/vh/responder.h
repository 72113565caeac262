/* vh/responder.h - turns a parsed request into a whole HTTP reply from the scheduler's state. */
#ifndef VH_RESPONDER_H
#define VH_RESPONDER_H
#include "vh/http_parse.h"
#include "vh/http_stats.h"
#include "vh/scheduler.h"
#include <stdbool.h>
#include <stddef.h>

struct vh_responder;

/* Starts the shutdown drain unless it has begun; returns true when it is already over (answer
 * /drain now), false when the answer waits for vh_responder_drained(). */
typedef bool (*vh_responder_drain_fn)(void *arg);

/* One reply, ready for the wire. head holds the status line and every header but Connection,
 * each ending in CRLF; the caller adds Connection if it needs one, the empty line, and the body
 * unless the request was HEAD (Content-Length is the GET body's either way). */
struct vh_reply {
	/* A /drain that waits for the drain to end: nothing to send until vh_responder_drained().
	 */
	bool wait_for_drain;
	int status;
	const char *head;
	size_t head_len;
	const char *body;
	size_t body_len;
};

/* Creates a responder over sched with access (copied; see vh_responder_set_access()). service and
 * sched are borrowed and must outlive it (service is read on every answer, so it may be a buffer
 * that the owner rewrites); so is http, the HTTP front's counts for /metrics (may be NULL). drain
 * (may be NULL: /drain is then not found) is called for an
 * authorized /drain. Returns NULL and fills err when out of memory. */
struct vh_responder *vh_responder_create(const char *service, const struct vh_scheduler *sched,
		const struct vh_http_stats *http, const struct vh_access_config *access,
		vh_responder_drain_fn drain, void *drain_arg, char *err, size_t err_len);
/* Accepts NULL. */
void vh_responder_destroy(struct vh_responder *responder);

/* Replaces the details policy and token (copied), e.g. after a reload. Who may see details:
 * everyone (always), no one (never), or (authorized) loopback clients and those that send
 * "Authorization: Bearer TOKEN" with the configured token, compared in constant time. Without
 * details, probe bodies carry statuses only and no Server-Timing; /debug/history and /drain
 * answer 401 (authorized) or 403 (never). Status codes of probes never depend on it. */
void vh_responder_set_access(struct vh_responder *responder, const struct vh_access_config *access);

/* Answers a request that vh_http_parse() returned DONE or ERROR for (ERROR gets its
 * error_status); loopback says whether the client connected from a loopback address (see
 * vh_responder_set_access()). The reply points into the responder and stays valid until the next
 * call. The bodies of plain probe answers (no check name, no exclude) are rendered once per state
 * version and clock millisecond, and served from that cache in between, so the answer is the same
 * as a fresh render, byte for byte, while a burst of requests costs no rendering. Never fails:
 * out of memory gives a 500 reply. */
void vh_responder_answer(struct vh_responder *responder, const struct vh_http_request *request,
		bool loopback, struct vh_reply *reply);
/* The reply to a /drain that waited (wait_for_drain), once the drain is over. */
void vh_responder_drained(struct vh_responder *responder, struct vh_reply *reply);

#endif
