/* http_stats.c - the table of status codes that /metrics counts answers by. */
#include "vh/http_stats.h"

const int vh_http_stats_codes[VH_HTTP_STATS_CODES] = {
		200, 400, 401, 403, 404, 405, 413, 414, 431, 500, 503, 505};

void vh_http_stats_count(struct vh_http_stats *stats, int status) {
	size_t other = 0;
	for (size_t i = 0; i < VH_HTTP_STATS_CODES; i++) {
		if (vh_http_stats_codes[i] == status) {
			stats->requests_total[i]++;
			return;
		}
		if (vh_http_stats_codes[i] == 500) {
			other = i;
		}
	}
	stats->requests_total[other]++;
}
