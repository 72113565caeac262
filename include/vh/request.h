/* vh/request.h - what an HTTP request asks for, parsed from its path, query and Accept header. */
#ifndef VH_REQUEST_H
#define VH_REQUEST_H
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/state.h"
#include <stdbool.h>
#include <stddef.h>

#define VH_REQUEST_EXCLUDE_MAX 16

enum vh_format {
	VH_FORMAT_JSON, /* the platform's JSON shape (default) */
	VH_FORMAT_TEXT, /* kube-apiserver text lines: ?verbose, Accept or ?format */
	VH_FORMAT_HEALTH_JSON, /* draft-inadarei-api-health-check-06: Accept or ?format */
};

enum vh_request_target {
	VH_REQUEST_PROBE, /* /live, /ready, /startup, /health and their aliases */
	VH_REQUEST_CHECK, /* /health/NAME, /livez/NAME, /readyz/NAME */
	VH_REQUEST_METRICS, /* /metrics */
	VH_REQUEST_HISTORY, /* /debug/history and /debug/history/NAME (check is "" for all) */
	VH_REQUEST_DRAIN, /* /drain: start the shutdown drain, answer when it is over */
	VH_REQUEST_PEERS, /* /peers/state: what this replica sees, for the other replicas */
	VH_REQUEST_NOT_FOUND, /* any other path */
};

struct vh_request {
	enum vh_request_target target;
	enum vh_probe_kind kind;
	const char *endpoint; /* "livez", "readyz", "startupz", "healthz"; "" when NOT_FOUND */
	char check[VH_CONFIG_NAME_MAX];
	enum vh_format format;
	bool verbose;
	/* Whether the answer may show details (outputs, timings, service facts) or only statuses:
	 * true from vh_request_parse(); the HTTP layer clears it per the details policy. */
	bool details;
	size_t n_exclude;
	char exclude[VH_REQUEST_EXCLUDE_MAX][VH_CONFIG_NAME_MAX];
};

/* Parses a request. path is the URI path, compared as sent and never decoded; query may be NULL;
 * /metrics, /drain and /peers/state ignore their query (Prometheus sends none); /debug/history
 * reads verbose and format (health+json is answered as JSON); accept is the Accept header or NULL.
 * An unknown path is not an error: target is then VH_REQUEST_NOT_FOUND and the query is not read.
 * Query keys are verbose (bare, "", 1, true, 0, false), exclude (repeatable, a percent-decoded
 * check name) and format (json, text, health+json); others are ignored. The format is ?format if
 * given, else text for ?verbose, else what Accept asks for, else JSON. Returns false with a
 * one-line reason in err for a malformed query (bad percent-encoding, a bad value, too many
 * excludes, over 2048 bytes): answer 400. */
VH_MUSTCHECK bool vh_request_parse(const char *path, const char *query, const char *accept,
		struct vh_request *out, char *err, size_t err_len);

#endif
