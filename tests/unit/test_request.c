/* test_request.c - which paths, query strings and Accept headers ask for what. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "vh/request.h"

struct path_case {
	const char *path;
	enum vh_request_target target;
	enum vh_probe_kind kind;
	const char *endpoint;
	const char *check;
};

static void expect_path(const struct path_case *c) {
	struct vh_request req;
	char err[160] = "";
	cr_assert(vh_request_parse(c->path, NULL, NULL, &req, err, sizeof(err)), "%s: %s", c->path,
			err);
	cr_assert_eq(req.target, c->target, "%s: target %d", c->path, req.target);
	if (c->target == VH_REQUEST_NOT_FOUND) {
		return;
	}
	cr_assert_eq(req.kind, c->kind, "%s: kind %d", c->path, req.kind);
	cr_assert_str_eq(req.endpoint, c->endpoint, "%s", c->path);
	cr_assert_str_eq(req.check, c->check ? c->check : "", "%s", c->path);
	cr_assert_eq(req.format, VH_FORMAT_JSON, "%s", c->path);
	cr_assert_not(req.verbose);
	cr_assert_eq(req.n_exclude, 0);
}

static void expect_paths(const struct path_case *cases, size_t n) {
	for (size_t i = 0; i < n; i++) {
		expect_path(&cases[i]);
	}
}

/* Parses /ready?QUERY with the given Accept header and asserts it succeeds. */
static struct vh_request parse_ok(const char *query, const char *accept) {
	struct vh_request req;
	char err[160] = "";
	cr_assert(vh_request_parse("/ready", query, accept, &req, err, sizeof(err)),
			"query %s, accept %s: %s", query ? query : "(none)",
			accept ? accept : "(none)", err);
	return req;
}

static void expect_error(const char *query, const char *message) {
	struct vh_request req;
	char err[160] = "";
	cr_assert_not(vh_request_parse("/ready", query, NULL, &req, err, sizeof(err)),
			"query %.60s", query);
	cr_assert_str_eq(err, message, "query %.60s", query);
}

Test(request, probe_paths_and_aliases) {
	static const struct path_case cases[] = {
			{"/live", VH_REQUEST_PROBE, VH_PROBE_LIVENESS, "livez", NULL},
			{"/livez", VH_REQUEST_PROBE, VH_PROBE_LIVENESS, "livez", NULL},
			{"/healthz", VH_REQUEST_PROBE, VH_PROBE_LIVENESS, "livez", NULL},
			{"/ready", VH_REQUEST_PROBE, VH_PROBE_READINESS, "readyz", NULL},
			{"/readyz", VH_REQUEST_PROBE, VH_PROBE_READINESS, "readyz", NULL},
			{"/startup", VH_REQUEST_PROBE, VH_PROBE_STARTUP, "startupz", NULL},
			{"/startupz", VH_REQUEST_PROBE, VH_PROBE_STARTUP, "startupz", NULL},
			{"/health", VH_REQUEST_PROBE, VH_PROBE_HEALTH, "healthz", NULL},
	};
	expect_paths(cases, VH_ARRAY_LEN(cases));
}

Test(request, one_trailing_slash_is_tolerated) {
	static const struct path_case cases[] = {
			{"/live/", VH_REQUEST_PROBE, VH_PROBE_LIVENESS, "livez", NULL},
			{"/healthz/", VH_REQUEST_PROBE, VH_PROBE_LIVENESS, "livez", NULL},
			{"/ready/", VH_REQUEST_PROBE, VH_PROBE_READINESS, "readyz", NULL},
			{"/startupz/", VH_REQUEST_PROBE, VH_PROBE_STARTUP, "startupz", NULL},
			{"/health/", VH_REQUEST_PROBE, VH_PROBE_HEALTH, "healthz", NULL},
			{"/readyz/postgres/", VH_REQUEST_CHECK, VH_PROBE_READINESS, "readyz",
					"postgres"},
			{"/ready//", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/ready///", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
	};
	expect_paths(cases, VH_ARRAY_LEN(cases));
}

Test(request, unknown_and_odd_paths_are_not_found) {
	static const struct path_case cases[] = {
			{"", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"ready", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"//ready", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/ready/../live", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/./ready", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/READY", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/%72eady", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/ready%2F", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/readyx", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/rea", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/metricsx", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/metrics/x", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/debug", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/debug/historyx", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/debug/history/A", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/debug/history/a/b", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/debug/history/../metrics", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/debug//history", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/ready?x", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			/* Only /health, /live(z) and /ready(z) address single checks. */
			{"/healthz/memory", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/startup/memory", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/startupz/memory", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/readyz/a/b", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
	};
	expect_paths(cases, VH_ARRAY_LEN(cases));
}

Test(request, query_is_separate_from_path) {
	struct vh_request req;
	char err[160] = "";
	/* evhttp hands over "/ready?x" as path "/ready" and query "x"; x is an unknown key. */
	cr_assert(vh_request_parse("/ready", "x", NULL, &req, err, sizeof(err)), "%s", err);
	cr_assert_eq(req.target, VH_REQUEST_PROBE);
	cr_assert_eq(req.kind, VH_PROBE_READINESS);
	cr_assert_eq(req.format, VH_FORMAT_JSON);
	cr_assert_not(req.verbose);
}

Test(request, check_paths_with_valid_names) {
	static const struct path_case cases[] = {
			{"/health/memory", VH_REQUEST_CHECK, VH_PROBE_HEALTH, "healthz", "memory"},
			{"/health/sidecar", VH_REQUEST_CHECK, VH_PROBE_HEALTH, "healthz",
					"sidecar"},
			{"/livez/main-proc", VH_REQUEST_CHECK, VH_PROBE_LIVENESS, "livez",
					"main-proc"},
			{"/live/a_1", VH_REQUEST_CHECK, VH_PROBE_LIVENESS, "livez", "a_1"},
			{"/readyz/pg", VH_REQUEST_CHECK, VH_PROBE_READINESS, "readyz", "pg"},
			{"/ready/0", VH_REQUEST_CHECK, VH_PROBE_READINESS, "readyz", "0"},
			{"/ready/-_-", VH_REQUEST_CHECK, VH_PROBE_READINESS, "readyz", "-_-"},
	};
	expect_paths(cases, VH_ARRAY_LEN(cases));
}

Test(request, check_name_length_limit) {
	char name[80];
	char path[100];
	memset(name, 'a', 63);
	name[63] = '\0';
	snprintf(path, sizeof(path), "/readyz/%s", name);
	struct path_case ok = {path, VH_REQUEST_CHECK, VH_PROBE_READINESS, "readyz", name};
	expect_path(&ok);

	snprintf(path, sizeof(path), "/readyz/%sa", name);
	struct path_case too_long = {path, VH_REQUEST_NOT_FOUND, 0, NULL, NULL};
	expect_path(&too_long);
}

Test(request, check_paths_with_invalid_names) {
	static const struct path_case cases[] = {
			{"/readyz/PG", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/readyz/a.b", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/readyz/a%2Db", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/readyz/a b", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/readyz/..", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/health/na\xc3\xafve", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
			{"/live/a\nb", VH_REQUEST_NOT_FOUND, 0, NULL, NULL},
	};
	expect_paths(cases, VH_ARRAY_LEN(cases));
}

Test(request, not_found_ignores_the_query) {
	struct vh_request req;
	char err[160] = "";
	cr_assert(vh_request_parse("/nope", "exclude=%zz", NULL, &req, err, sizeof(err)));
	cr_assert_eq(req.target, VH_REQUEST_NOT_FOUND);
}

Test(request, verbose_forms) {
	static const struct {
		const char *query;
		bool verbose;
		enum vh_format format;
	} cases[] = {
			{NULL, false, VH_FORMAT_JSON},
			{"", false, VH_FORMAT_JSON},
			{"verbose", true, VH_FORMAT_TEXT},
			{"verbose=", true, VH_FORMAT_TEXT},
			{"verbose=1", true, VH_FORMAT_TEXT},
			{"verbose=true", true, VH_FORMAT_TEXT},
			{"verbose=0", false, VH_FORMAT_JSON},
			{"verbose=false", false, VH_FORMAT_JSON},
			{"verbose&verbose=0", false, VH_FORMAT_JSON},
			{"&&verbose&&", true, VH_FORMAT_TEXT},
			{"x=1&verbose&y", true, VH_FORMAT_TEXT},
			{"verbosity=1", false, VH_FORMAT_JSON},
			{"verbose=%31", true, VH_FORMAT_TEXT},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		struct vh_request req = parse_ok(cases[i].query, NULL);
		cr_assert_eq(req.verbose, cases[i].verbose, "query %s", cases[i].query);
		cr_assert_eq(req.format, cases[i].format, "query %s", cases[i].query);
	}
	expect_error("verbose=yes", "bad value for verbose (expected 1, true, 0 or false)");
	expect_error("verbose=2", "bad value for verbose (expected 1, true, 0 or false)");
}

Test(request, repeated_and_percent_decoded_excludes) {
	struct vh_request req =
			parse_ok("exclude=postgres&verbose&exclude=redis&exclude=a%2Db%5fc", NULL);
	cr_assert_eq(req.n_exclude, 3);
	cr_assert_str_eq(req.exclude[0], "postgres");
	cr_assert_str_eq(req.exclude[1], "redis");
	cr_assert_str_eq(req.exclude[2], "a-b_c");
	cr_assert(req.verbose);

	req = parse_ok("exclude=%6d%65%6D", NULL);
	cr_assert_eq(req.n_exclude, 1);
	cr_assert_str_eq(req.exclude[0], "mem");
}

Test(request, bad_exclude_values) {
	static const char *const queries[] = {
			"exclude",
			"exclude=",
			"exclude=Postgres",
			"exclude=a.b",
			"exclude=a+b",
			"exclude=a%20b",
			"exclude=%2e%2e",
			"exclude=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(queries); i++) {
		expect_error(queries[i],
				"bad value for exclude (expected a check name: a-z, 0-9, _ "
				"and -, at most 63 long)");
	}
}

Test(request, bad_percent_encoding) {
	static const char *const queries[] = {
			"exclude=%zz",
			"exclude=%2",
			"exclude=a%",
			"exclude=a%g0",
			"exclude=%00",
			"format=%",
			"verbose=%x1",
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(queries); i++) {
		expect_error(queries[i], "bad percent-encoding in query");
	}
	/* Unknown keys are ignored whole, values included. */
	struct vh_request req = parse_ok("other=%zz", NULL);
	cr_assert_eq(req.n_exclude, 0);
}

Test(request, at_most_sixteen_excludes) {
	char query[512] = "";
	for (int i = 0; i < VH_REQUEST_EXCLUDE_MAX; i++) {
		char item[16];
		snprintf(item, sizeof(item), "%sexclude=c%d", i ? "&" : "", i);
		strcat(query, item);
	}
	struct vh_request req = parse_ok(query, NULL);
	cr_assert_eq(req.n_exclude, VH_REQUEST_EXCLUDE_MAX);
	cr_assert_str_eq(req.exclude[15], "c15");

	strcat(query, "&exclude=c16");
	expect_error(query, "too many exclude parameters (max 16)");
}

Test(request, query_length_is_bounded) {
	char query[2100];
	memset(query, 'x', sizeof(query));
	query[2048] = '\0';
	struct vh_request req = parse_ok(query, NULL);
	cr_assert_eq(req.target, VH_REQUEST_PROBE);

	query[2048] = 'x';
	query[2049] = '\0';
	expect_error(query, "query string too long");
}

Test(request, accept_negotiation) {
	static const struct {
		const char *accept;
		enum vh_format format;
	} cases[] = {
			{NULL, VH_FORMAT_JSON},
			{"", VH_FORMAT_JSON},
			{"*/*", VH_FORMAT_JSON},
			{"application/json", VH_FORMAT_JSON},
			{"application/health+json", VH_FORMAT_HEALTH_JSON},
			{"Application/Health+JSON", VH_FORMAT_HEALTH_JSON},
			{"application/json, application/health+json", VH_FORMAT_HEALTH_JSON},
			{"text/plain", VH_FORMAT_TEXT},
			{"text/plain; charset=utf-8", VH_FORMAT_TEXT},
			{"text/html, text/plain;q=0.9, */*;q=0.8", VH_FORMAT_TEXT},
			{"application/json, text/plain", VH_FORMAT_JSON},
			{"text/plain, application/json", VH_FORMAT_TEXT},
			{"text/plain, application/health+json", VH_FORMAT_HEALTH_JSON},
			{"text/plain;q=0, application/json", VH_FORMAT_JSON},
			{"text/plain; q=0.0", VH_FORMAT_JSON},
			{"application/health+json;q=0, text/plain", VH_FORMAT_TEXT},
			{"text/plainer", VH_FORMAT_JSON},
			{"  text/plain  ,application/json", VH_FORMAT_TEXT},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		struct vh_request req = parse_ok(NULL, cases[i].accept);
		cr_assert_eq(req.format, cases[i].format, "accept \"%s\": format %d",
				cases[i].accept ? cases[i].accept : "(none)", req.format);
		cr_assert_not(req.verbose);
	}
}

Test(request, format_parameter) {
	static const struct {
		const char *query;
		const char *accept;
		enum vh_format format;
		bool verbose;
	} cases[] = {
			{"format=json", NULL, VH_FORMAT_JSON, false},
			{"format=text", NULL, VH_FORMAT_TEXT, false},
			{"format=health+json", NULL, VH_FORMAT_HEALTH_JSON, false},
			{"format=health%2Bjson", NULL, VH_FORMAT_HEALTH_JSON, false},
			{"format=health", NULL, VH_FORMAT_HEALTH_JSON, false},
			{"format=json", "text/plain", VH_FORMAT_JSON, false},
			{"format=text", "application/health+json", VH_FORMAT_TEXT, false},
			{"format=json&verbose", NULL, VH_FORMAT_JSON, true},
			{"verbose&format=health", NULL, VH_FORMAT_HEALTH_JSON, true},
			{"verbose", "application/health+json", VH_FORMAT_TEXT, true},
			{"format=text&format=json", NULL, VH_FORMAT_JSON, false},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		struct vh_request req = parse_ok(cases[i].query, cases[i].accept);
		cr_assert_eq(req.format, cases[i].format, "query %s: format %d", cases[i].query,
				req.format);
		cr_assert_eq(req.verbose, cases[i].verbose, "query %s", cases[i].query);
	}
	expect_error("format=xml", "bad value for format (expected json, text or health+json)");
	expect_error("format=", "bad value for format (expected json, text or health+json)");
	expect_error("format=JSON", "bad value for format (expected json, text or health+json)");
}

Test(request, query_applies_to_check_requests) {
	struct vh_request req;
	char err[160] = "";
	cr_assert(vh_request_parse("/readyz/postgres", "verbose", NULL, &req, err, sizeof(err)));
	cr_assert_eq(req.target, VH_REQUEST_CHECK);
	cr_assert_str_eq(req.check, "postgres");
	cr_assert(req.verbose);
	cr_assert_eq(req.format, VH_FORMAT_TEXT);
	cr_assert_not(vh_request_parse(
			"/readyz/postgres", "exclude=%", NULL, &req, err, sizeof(err)));
	cr_assert_str_eq(err, "bad percent-encoding in query");
}

Test(request, metrics_and_history_paths) {
	struct vh_request req;
	char err[160] = "";
	cr_assert(vh_request_parse("/metrics", "%zz&format=bogus", NULL, &req, err, sizeof(err)),
			"/metrics ignores its query: %s", err);
	cr_assert_eq(req.target, VH_REQUEST_METRICS);
	cr_assert(vh_request_parse("/metrics/", NULL, NULL, &req, err, sizeof(err)));
	cr_assert_eq(req.target, VH_REQUEST_METRICS);

	cr_assert(vh_request_parse("/debug/history", NULL, NULL, &req, err, sizeof(err)));
	cr_assert_eq(req.target, VH_REQUEST_HISTORY);
	cr_assert_str_eq(req.check, "");
	cr_assert_eq(req.format, VH_FORMAT_JSON);
	cr_assert(vh_request_parse(
			"/debug/history/postgres", "verbose", NULL, &req, err, sizeof(err)));
	cr_assert_eq(req.target, VH_REQUEST_HISTORY);
	cr_assert_str_eq(req.check, "postgres");
	cr_assert_eq(req.format, VH_FORMAT_TEXT, "?verbose asks for text");
	cr_assert(vh_request_parse("/debug/history/", NULL, "text/plain", &req, err, sizeof(err)));
	cr_assert_str_eq(req.check, "");
	cr_assert_eq(req.format, VH_FORMAT_TEXT);
	cr_assert_not(vh_request_parse(
			"/debug/history", "verbose=maybe", NULL, &req, err, sizeof(err)));
	cr_assert_str_eq(err, "bad value for verbose (expected 1, true, 0 or false)");
}

Test(request, drain_path_ignores_its_query_and_allows_details_by_default) {
	struct vh_request req;
	char err[160] = "";
	cr_assert(vh_request_parse("/drain", "%zz", NULL, &req, err, sizeof(err)), "%s", err);
	cr_assert_eq(req.target, VH_REQUEST_DRAIN);
	cr_assert_str_eq(req.endpoint, "drain");
	cr_assert(req.details, "the HTTP layer, not the router, takes details away");
	cr_assert(vh_request_parse("/drain/", NULL, NULL, &req, err, sizeof(err)));
	cr_assert_eq(req.target, VH_REQUEST_DRAIN);
	cr_assert(vh_request_parse("/drain/now", NULL, NULL, &req, err, sizeof(err)));
	cr_assert_eq(req.target, VH_REQUEST_NOT_FOUND);
	cr_assert(vh_request_parse("/ready", NULL, NULL, &req, err, sizeof(err)));
	cr_assert(req.details);
}
