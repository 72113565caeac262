/* vh/http_stats.h - what the HTTP front counts about its clients, for /metrics. */
#ifndef VH_HTTP_STATS_H
#define VH_HTTP_STATS_H
#include <stddef.h>
#include <stdint.h>

/* The status codes the daemon answers with, in the order /metrics lists them. */
#define VH_HTTP_STATS_CODES 12
extern const int vh_http_stats_codes[VH_HTTP_STATS_CODES];

/* Written by the HTTP server, read by the metrics renderer. */
struct vh_http_stats {
	uint64_t connections_open;
	uint64_t connections_limit; /* the cap: past it the least recently active one is closed */
	uint64_t connections_total; /* accepted */
	uint64_t connections_evicted_total; /* closed to make room under the cap or after EMFILE */
	uint64_t connections_timed_out_total; /* closed by the request, idle or write deadline */
	uint64_t requests_total[VH_HTTP_STATS_CODES]; /* answers, by vh_http_stats_codes index */
};

/* Counts one answer with status; a code not in the table is counted as 500. */
void vh_http_stats_count(struct vh_http_stats *stats, int status);

#endif
