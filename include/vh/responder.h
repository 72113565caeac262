/* vh/responder.h - turns a parsed request into a whole HTTP reply from the scheduler's state. */
#ifndef VH_RESPONDER_H
#define VH_RESPONDER_H
#include "vh/http_parse.h"
#include "vh/scheduler.h"
#include <stdbool.h>
#include <stddef.h>

struct vh_responder;

/* One reply, ready for the wire. head holds the status line and every header but Connection,
 * each ending in CRLF; the caller adds Connection if it needs one, the empty line, and the body
 * unless the request was HEAD (Content-Length is the GET body's either way). */
struct vh_reply {
	int status;
	const char *head;
	size_t head_len;
	const char *body;
	size_t body_len;
};

/* Creates a responder over sched. service and sched are borrowed and must outlive it (service is
 * read on every answer, so it may be a buffer that the owner rewrites). Returns NULL and fills
 * err when out of memory. */
struct vh_responder *vh_responder_create(
		const char *service, const struct vh_scheduler *sched, char *err, size_t err_len);
/* Accepts NULL. */
void vh_responder_destroy(struct vh_responder *responder);

/* Answers a request that vh_http_parse() returned DONE or ERROR for (ERROR gets its
 * error_status). The reply points into the responder and stays valid until the next call.
 * The bodies of plain probe answers (no check name, no exclude) are rendered once per state
 * version and clock millisecond, and served from that cache in between, so the answer is the same
 * as a fresh render, byte for byte, while a burst of requests costs no rendering. Never fails:
 * out of memory gives a 500 reply. */
void vh_responder_answer(struct vh_responder *responder, const struct vh_http_request *request,
		struct vh_reply *reply);

#endif
