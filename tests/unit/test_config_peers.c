/* test_config_peers.c - the "peers" section, each check's "scope", their dump and reload. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_test.h"
#include "vh/config.h"
#include "vh/config_compare.h"

/* A file with "peers": PEERS and no checks. */
#define PEERS(peers) "{\"peers\": " peers ", \"checks\": []}"

static struct vh_config *load_text(const char *text) {
	char path[64];
	struct vh_config *config = load_ok(write_temp(text, path, sizeof(path)));
	unlink(path);
	return config;
}

Test(config_peers, absent_is_off) {
	struct vh_config *config = load_ok(FIXTURE("defaults.json"));
	cr_assert_not(config->peers.enabled);
	for (size_t i = 0; i < config->n_checks; i++) {
		cr_assert_eq(config->checks[i].scope, VH_SCOPE_LOCAL, "%s", config->checks[i].name);
	}
	vh_config_destroy(config);
	config = load_ok(FIXTURE("deps.json"));
	cr_assert_not(config->peers.enabled);
	for (size_t i = 0; i < config->n_checks; i++) {
		cr_assert_eq(config->checks[i].scope, VH_SCOPE_LOCAL,
				"without peers every check is local: %s", config->checks[i].name);
	}
	vh_config_destroy(config);
}

Test(config_peers, defaults) {
	struct vh_config *config = load_ok(FIXTURE("peers_defaults.json"));
	const struct vh_peers_config *p = &config->peers;
	cr_assert(p->enabled);
	cr_assert_str_eq(p->dns, "api-peers.default.svc.cluster.local");
	cr_assert_eq(p->n_addresses, 0);
	cr_assert_eq(p->port, 9123, "the first listen address's port");
	cr_assert_eq(p->interval_ms, 1000);
	cr_assert_eq(p->timeout_ms, 500);
	cr_assert_eq(p->refresh_ms, 10000);
	cr_assert_eq(p->sample, 16);
	cr_assert_eq(p->panic_threshold, 50);
	cr_assert_eq(p->panic_mode, VH_PANIC_SERVE);
	vh_config_destroy(config);

	/* Without listen, the default listen port. */
	config = load_text(PEERS("{\"dns\": \"api-peers\"}"));
	cr_assert_eq(config->peers.port, VH_CONFIG_DEFAULT_PORT);
	vh_config_destroy(config);
}

Test(config_peers, default_scopes) {
	static const struct {
		const char *name;
		enum vh_scope scope;
	} cases[] = {
			{"db", VH_SCOPE_SHARED},
			{"cache", VH_SCOPE_SHARED},
			{"broker", VH_SCOPE_SHARED},
			{"search", VH_SCOPE_SHARED},
			/* the pod's own ports are no shared dependency */
			{"own-port", VH_SCOPE_LOCAL},
			{"own-http", VH_SCOPE_LOCAL},
			{"own-redis", VH_SCOPE_LOCAL},
			{"own-db", VH_SCOPE_LOCAL},
			{"app", VH_SCOPE_LOCAL},
			{"memory", VH_SCOPE_LOCAL},
			{VH_CONFIG_SIDECAR_NAME, VH_SCOPE_LOCAL},
	};
	struct vh_config *config = load_ok(FIXTURE("peers_defaults.json"));
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		cr_assert_eq(find_check(config, cases[i].name)->scope, cases[i].scope,
				"%s: expected %s", cases[i].name,
				cases[i].scope == VH_SCOPE_SHARED ? "shared" : "local");
	}
	vh_config_destroy(config);
}

/* Which hosts count as this pod: loopback, localhost, a unix socket; nothing else. */
Test(config_peers, loopback_targets_default_to_local) {
	static const struct {
		const char *check;
		enum vh_scope scope;
	} cases[] = {
			{"\"type\": \"tcp\", \"tcp\": {\"host\": \"127.0.0.1\", \"port\": 1}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"tcp\", \"tcp\": {\"host\": \"127.1.2.3\", \"port\": 1}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"tcp\", \"tcp\": {\"host\": \"LocalHost\", \"port\": 1}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"tcp\", \"tcp\": {\"host\": \"::1\", \"port\": 1}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"tcp\", \"tcp\": {\"host\": \"10.0.0.1\", \"port\": 1}",
					VH_SCOPE_SHARED},
			{"\"type\": \"tcp\", \"tcp\": {\"host\": \"127example.com\", \"port\": 1}",
					VH_SCOPE_SHARED},
			{"\"type\": \"tcp\", \"tcp\": {\"host\": \"localhost.example.com\", "
			 "\"port\": "
			 "1}",
					VH_SCOPE_SHARED},
			{"\"type\": \"http\", \"http\": {\"url\": \"http://[::1]:8080/\"}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"http\", \"http\": {\"url\": \"http://127.0.0.1/\"}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"http\", \"http\": {\"url\": \"http://[fd00::1]:8080/\"}",
					VH_SCOPE_SHARED},
			{"\"type\": \"http\", \"http\": {\"url\": "
			 "\"http://api:8080/?h=127.0.0.1\"}",
					VH_SCOPE_SHARED},
			{"\"type\": \"redis\", \"redis\": {\"url\": \"redis://localhost:6379/0\"}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"redis\", \"redis\": {\"host\": \"127.0.0.1\"}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"postgres\", \"postgres\": {\"params\": {\"host\": "
			 "\"/var/run/postgresql\"}}",
					VH_SCOPE_LOCAL},
			{"\"type\": \"postgres\", \"postgres\": {\"params\": {\"host\": "
			 "\"127.0.0.1\"}}",
					VH_SCOPE_LOCAL},
			/* no host: libpq's environment decides; assume the usual remote database */
			{"\"type\": \"postgres\", \"postgres\": {\"params\": {\"dbname\": "
			 "\"veza\"}}",
					VH_SCOPE_SHARED},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		char text[1024];
		snprintf(text, sizeof(text),
				"{\"peers\": {\"dns\": \"api-peers\"}, \"checks\": [{\"name\": "
				"\"a\", "
				"%s}]}",
				cases[i].check);
		struct vh_config *config = load_text(text);
		cr_assert_eq(find_check(config, "a")->scope, cases[i].scope, "%s: expected %s",
				cases[i].check,
				cases[i].scope == VH_SCOPE_SHARED ? "shared" : "local");
		vh_config_destroy(config);
	}
}

Test(config_peers, every_key) {
	struct vh_config *config = load_ok(FIXTURE("peers_addresses.json"));
	const struct vh_peers_config *p = &config->peers;
	cr_assert(p->enabled);
	cr_assert_str_empty(p->dns);
	cr_assert_eq(p->n_addresses, 5);
	cr_assert_str_eq(p->addresses[0].host, "10.0.0.2");
	cr_assert_eq(p->addresses[0].port, 0, "0: the peers' port");
	cr_assert_str_eq(p->addresses[1].host, "10.0.0.3");
	cr_assert_eq(p->addresses[1].port, 9000);
	cr_assert_str_eq(p->addresses[2].host, "fd00::4", "without brackets");
	cr_assert_eq(p->addresses[2].port, 9001);
	cr_assert_str_eq(p->addresses[3].host, "fd00::5");
	cr_assert_eq(p->addresses[3].port, 0);
	cr_assert_str_eq(p->addresses[4].host, "api-2.api");
	cr_assert_eq(p->port, 9100);
	cr_assert_eq(p->interval_ms, 2000);
	cr_assert_eq(p->timeout_ms, 300);
	cr_assert_eq(p->refresh_ms, 60000);
	cr_assert_eq(p->sample, 4);
	cr_assert_eq(p->panic_threshold, 66.5);
	cr_assert_eq(p->panic_mode, VH_PANIC_UNREADY);
	cr_assert_eq(find_check(config, "db")->scope, VH_SCOPE_LOCAL, "local by choice");
	cr_assert_eq(find_check(config, "own-port")->scope, VH_SCOPE_SHARED, "shared by choice");
	cr_assert_eq(find_check(config, "cache")->scope, VH_SCOPE_SHARED);
	cr_assert_eq(find_check(config, "app")->scope, VH_SCOPE_LOCAL);
	vh_config_destroy(config);
}

Test(config_peers, exactly_one_of_dns_and_addresses) {
	const char *one = ": peers: give exactly one of \"dns\" (a name that resolves to every "
			  "replica) and \"addresses\" (a list of \"HOST:PORT\")";
	expect_error("peers_both.json", one);
	expect_error("peers_neither.json", one);
	expect_inline_error(PEERS("{}"), one);
	expect_inline_error(
			PEERS("\"api-peers\""), ": peers: expected an object, got \"api-peers\"");
	expect_inline_error(PEERS("{\"dns\": \"\"}"), ": peers.dns: must not be empty, got \"\"");
	expect_inline_error(PEERS("{\"dns\": \"api peers\"}"),
			": peers.dns: must be a host name (letters, digits, \".\", \"-\", \"_\") "
			"or "
			"a numeric address, got \"api peers\"");
	expect_inline_error(PEERS("{\"dns\": 5}"), ": peers.dns: expected a string, got 5");
	expect_inline_error(PEERS("{\"addresses\": \"10.0.0.2\"}"),
			": peers.addresses: expected an array of \"HOST:PORT\" strings, got "
			"\"10.0.0.2\"");
}

Test(config_peers, address_forms) {
	static const struct {
		const char *text, *host;
		unsigned port;
	} good[] = {
			{"10.0.0.2", "10.0.0.2", 0},
			{"10.0.0.2:1", "10.0.0.2", 1},
			{"10.0.0.2:65535", "10.0.0.2", 65535},
			{"api-1.api.default.svc", "api-1.api.default.svc", 0},
			{"api-1:8099", "api-1", 8099},
			{"[::1]", "::1", 0},
			{"[fd00::4]:9001", "fd00::4", 9001},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(good); i++) {
		char text[256];
		snprintf(text, sizeof(text), PEERS("{\"addresses\": [\"%s\"]}"), good[i].text);
		struct vh_config *config = load_text(text);
		cr_assert_eq(config->peers.n_addresses, 1);
		cr_assert_str_eq(config->peers.addresses[0].host, good[i].host, "%s", good[i].text);
		cr_assert_eq(config->peers.addresses[0].port, good[i].port, "%s", good[i].text);
		vh_config_destroy(config);
	}
	expect_error("peers_bad_port.json",
			": peers.addresses[1]: has a bad port (expected 1 to 65535), got "
			"\"10.0.0.3:70000\"");
	static const struct {
		const char *text, *why;
	} bad[] = {
			{"10.0.0.2:0", "has a bad port (expected 1 to 65535)"},
			{"10.0.0.2:", "has a bad port (expected 1 to 65535)"},
			{"10.0.0.2:80x", "has a bad port (expected 1 to 65535)"},
			{"10.0.0.2:-1", "has a bad port (expected 1 to 65535)"},
			{"[fd00::4", "has an IPv6 address without its closing \\\"]\\\""},
			{"[fd00::4]x", "has text after the IPv6 address"},
			{"[api-1]:80", "has a bad host: only an IPv6 address goes in brackets"},
			{"[fd00::zz]:80", "has a bad host: is not a valid IPv6 address"},
			{"", "has a bad host: must not be empty"},
			{":8099", "has a bad host: must not be empty"},
			{"api 1",
					"has a bad host: must be a host name (letters, digits, "
					"\\\".\\\", "
					"\\\"-\\\", \\\"_\\\") or a numeric address"},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(bad); i++) {
		char text[256], suffix[512];
		snprintf(text, sizeof(text), PEERS("{\"addresses\": [\"10.0.0.9\", \"%s\"]}"),
				bad[i].text);
		snprintf(suffix, sizeof(suffix), ": peers.addresses[1]: %s, got \"%s\"", bad[i].why,
				bad[i].text);
		/* The message shows the text as JSON would: unescape the expected quotes. */
		char expected[512];
		size_t w = 0;
		for (const char *c = suffix; *c && w + 1 < sizeof(expected); c++) {
			if (c[0] == '\\' && c[1] == '"') {
				continue;
			}
			expected[w++] = *c;
		}
		expected[w] = '\0';
		expect_inline_error(text, expected);
	}
	expect_inline_error(PEERS("{\"addresses\": [\"10.0.0.2\", 7]}"),
			": peers.addresses[1]: expected a \"HOST:PORT\" string, got 7");
}

Test(config_peers, at_most_64_addresses) {
	expect_error("peers_too_many.json",
			": peers.addresses: at most 64 addresses are allowed, got 65 (use \"dns\" "
			"for a larger fleet)");
	char text[4096];
	size_t used = (size_t)snprintf(text, sizeof(text), "{\"peers\": {\"addresses\": [");
	for (int i = 0; i < VH_CONFIG_PEER_ADDRESSES_MAX; i++) {
		used += (size_t)snprintf(text + used, sizeof(text) - used, "%s\"10.0.1.%d\"",
				i ? "," : "", i + 1);
	}
	snprintf(text + used, sizeof(text) - used, "]}, \"checks\": []}");
	struct vh_config *config = load_text(text);
	cr_assert_eq(config->peers.n_addresses, VH_CONFIG_PEER_ADDRESSES_MAX);
	cr_assert_str_eq(config->peers.addresses[63].host, "10.0.1.64");
	vh_config_destroy(config);
}

Test(config_peers, timings) {
	expect_error("peers_timeout_interval.json",
			": peers.timeout: must be shorter than peers.interval (500 ms), got 500 "
			"ms");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"timeout\": \"1s\"}"),
			": peers.timeout: must be shorter than peers.interval (1000 ms), got 1000 "
			"ms");
	struct vh_config *config = load_text(PEERS("{\"dns\": \"p\", \"timeout\": \"999ms\"}"));
	cr_assert_eq(config->peers.timeout_ms, 999);
	vh_config_destroy(config);
	config = load_text(PEERS("{\"dns\": \"p\", \"interval\": \"50ms\", \"timeout\": \"10ms\", "
				 "\"refresh\": \"100ms\"}"));
	cr_assert_eq(config->peers.interval_ms, 50);
	cr_assert_eq(config->peers.timeout_ms, 10);
	cr_assert_eq(config->peers.refresh_ms, 100);
	vh_config_destroy(config);
	config = load_text(PEERS("{\"dns\": \"p\", \"interval\": \"1m\", \"timeout\": \"30s\", "
				 "\"refresh\": \"1h\"}"));
	cr_assert_eq(config->peers.interval_ms, 60000);
	cr_assert_eq(config->peers.refresh_ms, 3600000);
	vh_config_destroy(config);
	expect_inline_error(PEERS("{\"dns\": \"p\", \"interval\": \"49ms\"}"),
			": peers.interval: must be between 50ms and 1m, got \"49ms\"");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"interval\": \"61s\"}"),
			": peers.interval: must be between 50ms and 1m, got \"61s\"");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"timeout\": \"9ms\"}"),
			": peers.timeout: must be between 10ms and 30s, got \"9ms\"");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"refresh\": \"99ms\"}"),
			": peers.refresh: must be between 100ms and 1h, got \"99ms\"");
}

Test(config_peers, numbers) {
	expect_error("peers_threshold_zero.json",
			": peers.panic_threshold: must be above 0 (a threshold of 0 would call "
			"every "
			"failure shared)");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"panic_threshold\": 100.5}"),
			": peers.panic_threshold: expected a number from 0 to 100, got 100.5");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"panic_threshold\": -1}"),
			": peers.panic_threshold: expected a number from 0 to 100, got -1");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"panic_threshold\": \"50%\"}"),
			": peers.panic_threshold: expected a number from 0 to 100, got \"50%\"");
	struct vh_config *config = load_text(PEERS("{\"dns\": \"p\", \"panic_threshold\": 100, "
						   "\"sample\": 256, \"port\": 65535}"));
	cr_assert_eq(config->peers.panic_threshold, 100);
	cr_assert_eq(config->peers.sample, 256);
	cr_assert_eq(config->peers.port, 65535);
	vh_config_destroy(config);
	config = load_text(PEERS("{\"dns\": \"p\", \"panic_threshold\": 0.5, \"sample\": 1, "
				 "\"port\": 1}"));
	cr_assert_eq(config->peers.panic_threshold, 0.5);
	cr_assert_eq(config->peers.sample, 1);
	cr_assert_eq(config->peers.port, 1);
	vh_config_destroy(config);
	expect_inline_error(PEERS("{\"dns\": \"p\", \"sample\": 0}"),
			": peers.sample: expected an integer from 1 to 256, got 0");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"sample\": 257}"),
			": peers.sample: expected an integer from 1 to 256, got 257");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"port\": 0}"),
			": peers.port: expected an integer from 1 to 65535, got 0");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"port\": 65536}"),
			": peers.port: expected an integer from 1 to 65535, got 65536");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"panic_mode\": \"fail\"}"),
			": peers.panic_mode: unknown panic_mode \"fail\" (expected serve or "
			"unready)");
}

Test(config_peers, unknown_key_with_a_suggestion) {
	expect_error("peers_unknown_key.json",
			": peers: unknown key \"intervall\" (did you mean \"interval\"?)");
	expect_inline_error(PEERS("{\"dns\": \"p\", \"panic_treshold\": 50}"),
			": peers: unknown key \"panic_treshold\" (did you mean "
			"\"panic_threshold\"?)");
}

Test(config_peers, scope_rules) {
	expect_error("peers_scope_process.json",
			": checks[0].scope: a process check watches this replica alone, so it is "
			"always \"local\"");
	expect_error("peers_scope_no_peers.json",
			": checks[0].scope: \"shared\" needs a top-level \"peers\" to ask the "
			"other "
			"replicas");
	expect_inline_error(
			"{\"peers\": {\"dns\": \"p\"}, \"checks\": [{\"name\": \"m\", \"type\": "
			"\"cgroup\", \"scope\": \"shared\", \"cgroup\": {}}]}",
			": checks[0].scope: a cgroup check watches this replica alone, so it is "
			"always \"local\"");
	expect_inline_error(
			"{\"peers\": {\"dns\": \"p\"}, \"checks\": [{\"name\": \"t\", \"type\": "
			"\"tcp\", \"scope\": \"fleet\", \"tcp\": {\"host\": \"a\", \"port\": 1}}]}",
			": checks[0].scope: unknown scope \"fleet\" (expected local or shared)");
	/* "local" is always allowed, with or without peers. */
	struct vh_config *config = load_text(
			"{\"checks\": [{\"name\": \"t\", \"type\": \"tcp\", \"scope\": \"local\", "
			"\"tcp\": {\"host\": \"a\", \"port\": 1}}, {\"name\": \"p\", \"type\": "
			"\"process\", \"scope\": \"local\", \"process\": {\"comm\": \"x\"}}]}");
	cr_assert_eq(find_check(config, "t")->scope, VH_SCOPE_LOCAL);
	vh_config_destroy(config);
}

static void assert_same_peers(const struct vh_config *a, const struct vh_config *b) {
	const struct vh_peers_config *p = &a->peers, *q = &b->peers;
	cr_assert_eq(p->enabled, q->enabled);
	cr_assert_str_eq(p->dns, q->dns);
	cr_assert_eq(p->n_addresses, q->n_addresses);
	for (size_t i = 0; i < p->n_addresses; i++) {
		cr_assert_str_eq(p->addresses[i].host, q->addresses[i].host);
		cr_assert_eq(p->addresses[i].port, q->addresses[i].port);
	}
	cr_assert_eq(p->port, q->port);
	cr_assert_eq(p->interval_ms, q->interval_ms);
	cr_assert_eq(p->timeout_ms, q->timeout_ms);
	cr_assert_eq(p->refresh_ms, q->refresh_ms);
	cr_assert_eq(p->sample, q->sample);
	cr_assert_eq(p->panic_threshold, q->panic_threshold);
	cr_assert_eq(p->panic_mode, q->panic_mode);
	/* The reload compares the whole struct: make sure that is what "equal" means too. */
	cr_assert(memcmp(p, q, sizeof(*p)) == 0, "the peers structs differ byte for byte");
	cr_assert_eq(a->n_checks, b->n_checks);
	for (size_t i = 0; i < a->n_checks; i++) {
		cr_assert_str_eq(a->checks[i].name, b->checks[i].name);
		cr_assert_eq(a->checks[i].scope, b->checks[i].scope, "%s", a->checks[i].name);
		cr_assert(vh_config_check_equal(&a->checks[i], &b->checks[i]), "%s",
				a->checks[i].name);
	}
}

static void expect_dump_round_trip(const char *fixture) {
	struct vh_config *first = load_ok(fixture);
	char *text = vh_config_dump(first);
	cr_assert_not_null(text);
	cr_assert_not_null(strstr(text, "\"peers\": {"), "%s", text);
	struct vh_config *second = load_text(text);
	assert_same_peers(first, second);
	char *again = vh_config_dump(second);
	cr_assert_str_eq(again, text);
	free(again);
	free(text);
	vh_config_destroy(first);
	vh_config_destroy(second);
}

Test(config_peers, dump_round_trip) {
	expect_dump_round_trip(FIXTURE("peers_defaults.json"));
	expect_dump_round_trip(FIXTURE("peers_addresses.json"));
}

/* A port left to its default follows --listen (main.c); the dump, which is documented to load
 * back to the same config, always writes "port", so a daemon started from the dump with
 * --listen would ask its peers on the old port. Fails today: vh_config_dump() should leave
 * "port" out when port_from_listen (or the flag should be dumped some other way). */
Test(config_peers, dump_keeps_a_default_port) {
	struct vh_config *first = load_ok(FIXTURE("peers_defaults.json"));
	cr_assert(first->peers.port_from_listen);
	char *text = vh_config_dump(first);
	struct vh_config *second = load_text(text);
	cr_assert(second->peers.port_from_listen, "the dump fixed the port:\n%s", text);
	free(text);
	vh_config_destroy(first);
	vh_config_destroy(second);
}

Test(config_peers, port_from_listen) {
	struct vh_config *config = load_ok(FIXTURE("peers_defaults.json"));
	cr_assert(config->peers.port_from_listen);
	vh_config_destroy(config);
	config = load_ok(FIXTURE("peers_addresses.json"));
	cr_assert_not(config->peers.port_from_listen, "an explicit port stays");
	vh_config_destroy(config);
	config = load_text(PEERS("{\"dns\": \"p\", \"port\": 8099}"));
	cr_assert_not(config->peers.port_from_listen, "even when it equals the default");
	vh_config_destroy(config);
}

Test(config_peers, dump_shows_every_key) {
	struct vh_config *config = load_ok(FIXTURE("peers_addresses.json"));
	char *text = vh_config_dump(config);
	cr_assert_not_null(text);
	static const char *const shown[] = {"\"10.0.0.2\"", "\"10.0.0.3:9000\"",
			"\"[fd00::4]:9001\"", "\"[fd00::5]\"", "\"api-2.api\"", "\"port\": 9100",
			"\"interval\": \"2s\"", "\"timeout\": \"300ms\"", "\"refresh\": \"1m\"",
			"\"sample\": 4", "\"panic_threshold\": 66.5", "\"panic_mode\": \"unready\"",
			"\"scope\": \"shared\"", "\"scope\": \"local\""};
	for (size_t i = 0; i < VH_ARRAY_LEN(shown); i++) {
		cr_assert_not_null(strstr(text, shown[i]), "no %s in\n%s", shown[i], text);
	}
	free(text);
	vh_config_destroy(config);
	/* Without peers, the dump has none either (it would not load back otherwise). */
	config = load_ok(FIXTURE("deps.json"));
	text = vh_config_dump(config);
	cr_assert_null(strstr(text, "\"peers\""), "%s", text);
	struct vh_config *again = load_text(text);
	cr_assert_not(again->peers.enabled);
	vh_config_destroy(again);
	free(text);
	vh_config_destroy(config);
}

#define RELOAD_CHECKS                                                                              \
	"\"checks\": [{\"name\": \"db\", \"type\": \"tcp\", \"tcp\": {\"host\": \"db\", "          \
	"\"port\": 5432}}]"

Test(config_peers, a_peers_change_needs_a_restart) {
	struct vh_config *running = load_text("{\"peers\": {\"dns\": \"api-peers\", "
					      "\"panic_threshold\": 50}, " RELOAD_CHECKS "}");
	struct vh_config *next = load_text("{\"peers\": {\"dns\": \"api-peers\", "
					   "\"panic_threshold\": 75}, \"service\": "
					   "\"b\", " RELOAD_CHECKS "}");
	char names[64];
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 1);
	cr_assert_str_eq(names, "peers");
	cr_assert_eq(next->peers.panic_threshold, 50, "the running peers stay");
	cr_assert_str_eq(next->service, "b", "the rest applies");
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 0);
	cr_assert_str_empty(names);
	vh_config_destroy(next);

	/* Turning peers off keeps them on, and the shared scope with them. */
	next = load_text("{" RELOAD_CHECKS "}");
	cr_assert_eq(next->checks[0].scope, VH_SCOPE_LOCAL);
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 1);
	cr_assert_str_eq(names, "peers");
	cr_assert(next->peers.enabled);
	cr_assert_eq(next->checks[0].scope, VH_SCOPE_SHARED);
	cr_assert(vh_config_check_equal(&running->checks[0], &next->checks[0]),
			"so the check keeps its state");
	vh_config_destroy(next);
	vh_config_destroy(running);

	/* Turning them on: off until a restart, and every check stays local. */
	running = load_text("{" RELOAD_CHECKS "}");
	next = load_text("{\"peers\": {\"addresses\": [\"10.0.0.2\"]}, " RELOAD_CHECKS
			 ", \"service\": \"c\"}");
	cr_assert_eq(next->checks[0].scope, VH_SCOPE_SHARED);
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 1);
	cr_assert_str_eq(names, "peers");
	cr_assert_not(next->peers.enabled);
	cr_assert_eq(next->checks[0].scope, VH_SCOPE_LOCAL);
	vh_config_destroy(next);
	vh_config_destroy(running);
}

Test(config_peers, equal_peers_need_no_restart) {
	struct vh_config *running = load_ok(FIXTURE("peers_addresses.json"));
	struct vh_config *next = load_ok(FIXTURE("peers_addresses.json"));
	char names[64];
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 0, "%s", names);
	vh_config_destroy(next);
	/* The same settings written otherwise: the dump. */
	char *text = vh_config_dump(running);
	next = load_text(text);
	free(text);
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 0, "%s", names);
	vh_config_destroy(next);
	vh_config_destroy(running);
}

/* A scope change alone is a reload like any other setting: the check starts afresh. */
Test(config_peers, a_scope_change_is_a_changed_check) {
	struct vh_config *running =
			load_text("{\"peers\": {\"dns\": \"api-peers\"}, " RELOAD_CHECKS "}");
	struct vh_config *next = load_text(
			"{\"peers\": {\"dns\": \"api-peers\"}, \"checks\": [{\"name\": \"db\", "
			"\"type\": \"tcp\", \"scope\": \"local\", \"tcp\": {\"host\": \"db\", "
			"\"port\": 5432}}]}");
	char names[64];
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 0, "%s", names);
	cr_assert_eq(next->checks[0].scope, VH_SCOPE_LOCAL, "it applies");
	cr_assert_not(vh_config_check_equal(&running->checks[0], &next->checks[0]));
	next->checks[0].scope = VH_SCOPE_SHARED;
	cr_assert(vh_config_check_equal(&running->checks[0], &next->checks[0]));
	vh_config_destroy(next);
	vh_config_destroy(running);
}
