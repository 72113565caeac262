/* vh/request.h - what an HTTP request asks for, parsed from its path, query and Accept header. */
#ifndef VH_REQUEST_H
#define VH_REQUEST_H
#include <stdbool.h>
#include <stddef.h>
#include "vh/compat.h"
#include "vh/config.h"
#include "vh/state.h"

#define VH_REQUEST_EXCLUDE_MAX 16

enum vh_format {
	VH_FORMAT_JSON,        /* the platform's JSON shape (default) */
	VH_FORMAT_TEXT,        /* kube-apiserver text lines: ?verbose or Accept: text/plain */
	VH_FORMAT_HEALTH_JSON, /* draft-inadarei-api-health-check: Accept: application/health+json */
};

enum vh_request_target {
	VH_REQUEST_PROBE,     /* /live, /ready, /startup, /health and their aliases */
	VH_REQUEST_CHECK,     /* /health/NAME, /livez/NAME, /readyz/NAME */
	VH_REQUEST_NOT_FOUND, /* any other path */
};

struct vh_request {
	enum vh_request_target target;
	enum vh_probe_kind kind;
	const char *endpoint; /* "livez", "readyz", "startupz" or "healthz": the text form's label */
	char check[VH_CONFIG_NAME_MAX];
	enum vh_format format;
	bool verbose;
	size_t n_exclude;
	char exclude[VH_REQUEST_EXCLUDE_MAX][VH_CONFIG_NAME_MAX];
};

/* Parses a request. path is the URI path (not decoded), query may be NULL, accept is the Accept
 * header or NULL. An unknown path is not an error (target is VH_REQUEST_NOT_FOUND). Returns false
 * with a one-line reason in err for a request that is malformed (bad percent-encoding, an unknown
 * or repeated query parameter it cannot honour, too many excludes): answer it with 400. */
VH_MUSTCHECK bool vh_request_parse(const char *path, const char *query, const char *accept,
		struct vh_request *out, char *err, size_t err_len);

#endif
