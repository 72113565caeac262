/* vh/render_metrics.h - the Prometheus text exposition (format 0.0.4) of the stored state. */
#ifndef VH_RENDER_METRICS_H
#define VH_RENDER_METRICS_H

#include "vh/http_stats.h"
#include "vh/self_stats.h"
#include "vh/state.h"

struct evbuffer;

#define VH_RENDER_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Versions for veza_health_build_info; each a short string without quotes or backslashes. */
struct vh_build_info {
	const char *version;
	const char *libevent;
	const char *libpq;
	const char *hiredis;
};

/* Appends every metric of docs/metrics.md to out: per check, per probe, build info, dependency
 * statistics from the latest results, the peers and each shared check's fleet verdict when
 * snapshot->fleet is set (peers configured), the HTTP front's counts from http (NULL omits them)
 * and the daemon's own process metrics from self (NULL or a have_* flag left false omits them).
 * Reads only the snapshot: it never runs a check nor asks a peer. */
void vh_render_metrics(const struct vh_snapshot *snapshot, const struct vh_build_info *build,
		const struct vh_http_stats *http, const struct vh_self_stats *self,
		struct evbuffer *out);

#endif
