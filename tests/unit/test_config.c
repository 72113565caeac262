/* test_config.c - loading, validating, defaulting and dumping the config file. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/config.h"
#include "vh/config_value.h"

#include "config_test.h"

/* ---- error classes: one message each ---- */

Test(config_error, json_syntax_has_line_and_column) {
	expect_error("syntax_error.json", ":3:9: '}' expected near '\"checks\"'");
}

Test(config_error, missing_file) {
	err[0] = '\0';
	cr_assert_null(vh_config_load(FIXTURE("does_not_exist.json"), err, sizeof(err)));
	cr_assert_str_eq(err,
			FIXTURE("does_not_exist.json") ": cannot open: No such file or directory");
}

Test(config_error, directory_instead_of_file) {
	err[0] = '\0';
	cr_assert_null(vh_config_load(VH_FIXTURES "/config", err, sizeof(err)));
	cr_assert_str_eq(err, VH_FIXTURES "/config: cannot read: Is a directory");
}

Test(config_error, duplicate_key) {
	expect_error("duplicate_key.json", ":6:9: duplicate object key near '\"name\"'");
}

Test(config_error, top_level_not_an_object) {
	expect_error("not_object.json", ": expected an object at the top level, got an array");
}

Test(config_error, unknown_top_level_key) {
	expect_error("unknown_top_key.json",
			": unknown key \"servcie\" (did you mean \"service\"?)");
}

Test(config_error, unknown_check_key) {
	expect_error("unknown_check_key.json",
			": checks[0]: unknown key \"intervall\" (did you mean \"interval\"?)");
}

Test(config_error, unknown_type_object_key) {
	expect_error("unknown_process_key.json", ": checks[0].process: unknown key \"rss_limit\"");
}

Test(config_error, wrong_type) {
	expect_error("wrong_type.json",
			": checks[0].critical: expected true or false, got \"yes\"");
}

Test(config_error, duration_out_of_range) {
	expect_error("duration_range.json",
			": checks[2].interval: must be between 10ms and 24h, got \"25h\"");
}

Test(config_error, duration_bad_text) {
	expect_error("duration_text.json",
			": checks[0].timeout: expected a duration such as "
			"\"250ms\", \"1.5s\", \"2m\" or \"1h\", got \"5 s\"");
}

Test(config_error, bad_size) {
	expect_error("bad_size.json",
			": checks[0].process.rss_warn: expected a size such as 1048576, \"512MiB\" "
			"or "
			"\"1.5GB\" (at most 2^63-1 bytes), got \"12XB\"");
}

Test(config_error, bad_listen) {
	expect_error("bad_listen.json",
			": listen[1]: the address is not a numeric IPv4 address, got "
			"\"localhost:8100\"");
}

Test(config_error, too_many_listen) {
	expect_error("too_many_listen.json", ": listen: expected 1 to 4 addresses, got 5");
}

Test(config_error, duplicate_check_name) {
	expect_error("duplicate_name.json", ": checks[1].name: duplicate check name \"memory\"");
}

Test(config_error, reserved_check_name) {
	expect_error("reserved_name.json",
			": checks[0].name: \"sidecar\" is reserved for the built-in check");
}

Test(config_error, bad_check_name_characters) {
	expect_error("bad_name.json",
			": checks[0].name: must be 1 to 63 characters of a-z, 0-9, "
			"\"_\" or \"-\", got \"Memory!\"");
}

Test(config_error, process_without_target) {
	expect_error("no_target.json",
			": checks[0].process: needs one of pid, pidfile, comm, cmdline or self");
}

Test(config_error, process_with_two_targets) {
	expect_error("two_targets.json",
			": checks[0].process: both pid and comm are set; give "
			"exactly one of pid, pidfile, comm, cmdline or self");
}

Test(config_error, warn_above_fail) {
	expect_error("warn_above_fail.json",
			": checks[0].process.rss_warn: must not be above "
			"rss_fail (2147483648 > 1073741824)");
}

Test(config_error, unset_environment_variable) {
	unsetenv("VEZA_TEST_UNSET");
	expect_error("env_unset.json",
			": checks[0].process.comm: environment variable VEZA_TEST_UNSET is not "
			"set");
}

Test(config_error, unterminated_variable) {
	expect_error("env_unterminated.json",
			": checks[0].process.cmdline: \"${\" without a closing \"}\"");
}

Test(config_error, invalid_variable_name) {
	expect_error("env_bad_name.json",
			": listen[0]: invalid environment variable name \"1PORT\"");
}

Test(config_error, jitter_too_big) {
	expect_error("jitter_too_big.json",
			": checks[0].jitter: must be at most half of interval (1s), got 600ms");
}

Test(config_error, jitter_from_defaults_names_the_check) {
	expect_error("jitter_from_defaults.json",
			": checks[1].jitter: must be at most half of "
			"interval (2s), got 2s (set in defaults)");
}

Test(config_error, stale_after_too_small) {
	expect_error("stale_too_small.json",
			": checks[0].stale_after: must be longer than the longest interval + "
			"timeout + "
			"jitter (5s + 1s + 500ms = 6500ms), got 6s");
}

Test(config_error, rise_out_of_range) {
	expect_error("rise_range.json",
			": checks[0].rise: expected an integer from 1 to 100, got 0");
}

Test(config_error, unknown_check_type) {
	expect_error("unknown_type.json",
			": checks[0].type: unknown check type \"foo\" (expected process, "
			"cgroup, postgres, redis, tcp or http)");
}

Test(config_error, type_object_of_another_type) {
	expect_error("type_object_forbidden.json",
			": checks[0].process: not allowed for a check of type \"cgroup\"");
}

Test(config_error, missing_type_object) {
	expect_error("missing_type_object.json", ": checks[0]: missing required key \"process\"");
}

Test(config_error, missing_checks) {
	expect_error("missing_checks.json", ": checks: missing (give [] for no checks)");
}

Test(config_error, unknown_group) {
	expect_error("bad_group.json",
			": checks[0].groups[1]: unknown group \"startup\" (expected "
			"liveness or readiness)");
}

Test(config_error, duplicate_group) {
	expect_error("duplicate_group.json",
			": checks[0].groups[1]: duplicate group \"readiness\"");
}

Test(config_error, nul_in_string) {
	expect_error("nul_string.json",
			":2:24: \\u0000 is not allowed without JSON_ALLOW_NUL near "
			"'\"api\\u0000x\"'");
	expect_error("nul_key.json",
			":3:16: NUL byte in object key not supported near '\"ser\\u0000vice\"'");
}

Test(config_error, too_many_checks) {
	char text[16384] = "{\"checks\": [", path[64];
	for (int i = 0; i <= VH_CONFIG_CHECKS_MAX; i++) {
		char entry[128];
		snprintf(entry, sizeof(entry), "%s{\"name\": \"c%d\", \"type\": \"cgroup\"}",
				i ? ", " : "", i);
		strcat(text, entry);
	}
	strcat(text, "]}");
	write_temp(text, path, sizeof(path));
	struct vh_config *config = vh_config_load(path, err, sizeof(err));
	unlink(path);
	cr_assert_null(config);
	char expected[128];
	snprintf(expected, sizeof(expected), "%s: checks: at most 64 checks are allowed, got 65",
			path);
	cr_assert_str_eq(err, expected);
}

Test(config_error, more_rules) {
	expect_inline_error("{\"defaults\": {\"interval\": \"1d\"}, \"checks\": []}",
			": defaults.interval: expected a duration such as \"250ms\", \"1.5s\", "
			"\"2m\" or \"1h\", got \"1d\"");
	expect_inline_error("{\"defaults\": {\"critical\": false}, \"checks\": []}",
			": defaults: unknown key \"critical\"");
	expect_inline_error("{\"service\": \"a b\", \"checks\": []}",
			": service: must be 1 to 63 characters of A-Z, a-z, 0-9, \"_\", \".\" or "
			"\"-\", got \"a b\"");
	expect_inline_error("{\"listen\": [\":80\", \"0.0.0.0:80\", \":80\"], \"checks\": []}",
			": listen[2]: duplicate address \":80\"");
	expect_inline_error("{\"service\": \"a\\nb\", \"checks\": []}",
			": service: must be 1 to 63 characters of A-Z, a-z, 0-9, \"_\", \".\" or "
			"\"-\", got \"a?b\"");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"cgroup\", "
			    "\"interval\": \"redis://:pw@10.0.0.1\"}]}",
			": checks[0].interval: expected a duration such as \"250ms\", \"1.5s\", "
			"\"2m\" or \"1h\", got \"<redacted>\"");
	expect_inline_error("{\"listen\": [], \"checks\": []}",
			": listen: expected 1 to 4 addresses, got 0");
	expect_inline_error("{\"listen\": 8099, \"checks\": []}",
			": listen: expected an address string or an array of 1 to 4 of them, got "
			"8099");
	expect_inline_error("{\"checks\": {}}", ": checks: expected an array, got an object");
	expect_inline_error("{\"checks\": [\"x\"]}", ": checks[0]: expected an object, got \"x\"");
	expect_inline_error("{\"checks\": [{\"type\": \"cgroup\"}]}",
			": checks[0]: missing required key \"name\"");
	expect_inline_error(
			"{\"checks\": [{\"name\": \"a\", \"type\": \"cgroup\", \"rise\": 1.0}]}",
			": checks[0].rise: expected an integer from 1 to 100, got 1");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"cgroup\", "
			    "\"timeout\": 70000000000}]}",
			": checks[0].timeout: must be between 10ms and 10m, got 70000000000");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"cgroup\", "
			    "\"cgroup\": {\"pressure_warn\": 50, \"pressure_fail\": 20.5}}]}",
			": checks[0].cgroup.pressure_warn: must not be above pressure_fail (50 > "
			"20.5)");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"cgroup\", "
			    "\"cgroup\": {\"memory_warn_percent\": 101}}]}",
			": checks[0].cgroup.memory_warn_percent: expected a number from 0 to 100, "
			"got 101");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"cgroup\", "
			    "\"cgroup\": {\"oom_kill\": \"kill\"}}]}",
			": checks[0].cgroup.oom_kill: unknown policy \"kill\" (expected ignore, "
			"warn or "
			"fail)");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"cgroup\", "
			    "\"cgroup\": {\"path\": \"sys/fs/cgroup\"}}]}",
			": checks[0].cgroup.path: must be an absolute path, got \"sys/fs/cgroup\"");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": {\"pidfile\": \"api.pid\"}}]}",
			": checks[0].process.pidfile: must be an absolute path, got \"api.pid\"");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": {\"comm\": \"veza-backend-api\"}}]}",
			": checks[0].process.comm: must be 1 to 15 bytes, as in /proc/PID/comm "
			"(use "
			"cmdline for longer names), got \"veza-backend-api\"");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": {\"cmdline\": \"\"}}]}",
			": checks[0].process.cmdline: must not be empty, got \"\"");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": {\"self\": false}}]}",
			": checks[0].process.self: must be true when given");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": {\"pid\": 0}}]}",
			": checks[0].process.pid: expected an integer from 1 to 4194304, got 0");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": {\"self\": true, \"threads_warn\": 10, \"threads_fail\": "
			    "5}}]}",
			": checks[0].process.threads_warn: must not be above threads_fail (10 > "
			"5)");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": {\"self\": true, \"rss_fail\": -1}}]}",
			": checks[0].process.rss_fail: expected a size such as 1048576, \"512MiB\" "
			"or "
			"\"1.5GB\" (at most 2^63-1 bytes), got -1");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"process\": 1}]}",
			": checks[0].process: expected an object, got 1");
	expect_inline_error("{\"checks\": [{\"name\": \"a\", \"type\": \"process\", "
			    "\"cgroup\": {}, \"process\": {\"self\": true}}]}",
			": checks[0].cgroup: not allowed for a check of type \"process\"");
	expect_inline_error("{\"shutdown_delay\": \"11m\", \"checks\": []}",
			": shutdown_delay: must be between 0s and 10m, got \"11m\"");
	expect_inline_error("{\"shutdown_delay\": true, \"checks\": []}",
			": shutdown_delay: expected a duration such as \"250ms\", \"1.5s\", \"2m\" "
			"or \"1h\", got true");
	expect_inline_error("{\"history\": {\"results\": 0}, \"checks\": []}",
			": history.results: expected an integer from 1 to 1000, got 0");
	expect_inline_error("{\"history\": {\"transitions\": 1001}, \"checks\": []}",
			": history.transitions: expected an integer from 1 to 1000, got 1001");
	expect_inline_error("{\"history\": {\"size\": 5}, \"checks\": []}",
			": history: unknown key \"size\"");
	expect_inline_error(
			"{\"history\": 5, \"checks\": []}", ": history: expected an object, got 5");
}

Test(config, sidecar_copy_is_accepted) {
	char path[64];
	const char *json = "{\"checks\": [{\"name\": \"sidecar\", \"type\": \"process\", "
			   "\"groups\": [], \"critical\": false, \"interval\": \"10s\", "
			   "\"process\": {\"self\": true}}]}";
	struct vh_config *config = load_ok(write_temp(json, path, sizeof(path)));
	unlink(path);
	cr_assert_eq(config->n_checks, 1);
	cr_assert_str_eq(config->checks[0].name, "sidecar");
	vh_config_destroy(config);
	expect_inline_error("{\"checks\": [{\"name\": \"sidecar\", \"type\": \"process\", "
			    "\"groups\": [], \"critical\": false, \"interval\": \"20s\", "
			    "\"process\": {\"self\": true}}]}",
			": checks[0].name: \"sidecar\" is reserved for the built-in check");
}

/* ---- good configs ---- */

Test(config, every_default_filled_in) {
	struct vh_config *config = load_ok(FIXTURE("defaults.json"));
	cr_assert_str_eq(config->path, FIXTURE("defaults.json"));
	cr_assert_str_eq(config->service, "veza-service");
	cr_assert_eq(config->n_listen, 1);
	cr_assert_str_eq(config->listen[0].host, "");
	cr_assert_eq(config->listen[0].port, 8099);
	cr_assert_eq(config->n_checks, 3);
	cr_assert_eq(config->shutdown_delay_ms, 0, "no drain unless asked for");
	cr_assert_eq(config->history.results, 32);
	cr_assert_eq(config->history.transitions, 32);
	for (size_t i = 0; i < config->n_checks; i++) {
		cr_assert_eq(config->checks[i].history.results, 32, "copied into every check");
		cr_assert_eq(config->checks[i].history.transitions, 32);
	}

	const struct vh_check_config *api = &config->checks[0];
	cr_assert_str_eq(api->name, "api");
	cr_assert_eq(api->type, VH_CHECK_PROCESS);
	cr_assert_eq(api->groups, VH_GROUP_LIVENESS);
	cr_assert_eq(api->critical, true);
	cr_assert_eq(api->interval_ms, 5000);
	cr_assert_eq(api->timeout_ms, 1000);
	cr_assert_eq(api->fail_interval_ms, 5000);
	cr_assert_eq(api->unknown_interval_ms, 1000);
	cr_assert_eq(api->initial_delay_ms, 0);
	cr_assert_eq(api->jitter_ms, 500);
	cr_assert_eq(api->stale_after_ms, 3 * 5000 + 1000 + 500);
	cr_assert_eq(api->rise, 1);
	cr_assert_eq(api->fall, 1);
	cr_assert_eq(api->u.process.target, VH_PROCESS_PID);
	cr_assert_eq(api->u.process.pid, 1);
	cr_assert_null(api->u.process.pidfile);
	cr_assert_eq(api->u.process.rss_warn_bytes, 0);
	cr_assert_eq(api->u.process.rss_fail_bytes, 0);
	cr_assert_eq(api->u.process.threads_warn, 0);
	cr_assert_eq(api->u.process.threads_fail, 0);

	const struct vh_check_config *memory = &config->checks[1];
	cr_assert_eq(memory->type, VH_CHECK_CGROUP);
	cr_assert_eq(memory->groups, VH_GROUP_LIVENESS);
	cr_assert_str_eq(memory->u.cgroup.path, "/sys/fs/cgroup");
	cr_assert_eq(memory->u.cgroup.memory_warn_percent, 85);
	cr_assert_eq(memory->u.cgroup.memory_fail_percent, 95);
	cr_assert_eq(memory->u.cgroup.pressure_warn, 10);
	cr_assert_eq(memory->u.cgroup.pressure_fail, 40);
	cr_assert_eq(memory->u.cgroup.oom_kill, VH_OOM_WARN);
	vh_config_destroy(config);
}

Test(config, sidecar_check_appended) {
	struct vh_config *config = load_ok(FIXTURE("defaults.json"));
	const struct vh_check_config *s = &config->checks[config->n_checks - 1];
	cr_assert_str_eq(s->name, "sidecar");
	cr_assert_eq(s->type, VH_CHECK_PROCESS);
	cr_assert_eq(s->u.process.target, VH_PROCESS_SELF);
	cr_assert_eq(s->groups, 0);
	cr_assert_eq(s->critical, false);
	cr_assert_eq(s->interval_ms, 10000);
	cr_assert_eq(s->timeout_ms, 1000);
	cr_assert_eq(s->fail_interval_ms, 10000);
	cr_assert_eq(s->unknown_interval_ms, 1000);
	cr_assert_eq(s->jitter_ms, 1000);
	cr_assert_eq(s->stale_after_ms, 3 * 10000 + 1000 + 1000);
	cr_assert_eq(s->rise, 1);
	cr_assert_eq(s->fall, 1);
	vh_config_destroy(config);
}

Test(config, values_and_defaults_object) {
	struct vh_config *config = load_ok(FIXTURE("full.json"));
	cr_assert_str_eq(config->service, "veza-test");
	cr_assert_eq(config->n_listen, 3);
	cr_assert_str_eq(config->listen[1].host, "::1");
	cr_assert_eq(config->listen[2].port, 9100);

	const struct vh_check_config *api = find_check(config, "api");
	cr_assert_eq(api->groups, VH_GROUP_LIVENESS | VH_GROUP_READINESS);
	cr_assert_eq(api->interval_ms, 1500);
	cr_assert_eq(api->timeout_ms, 750);
	cr_assert_eq(api->fail_interval_ms, 500);
	cr_assert_eq(api->unknown_interval_ms, 250);
	cr_assert_eq(api->initial_delay_ms, 120000);
	cr_assert_eq(api->jitter_ms, 100);
	cr_assert_eq(api->stale_after_ms, 60000);
	cr_assert_eq(api->rise, 2);
	cr_assert_eq(api->fall, 5);
	cr_assert_eq(api->u.process.target, VH_PROCESS_PIDFILE);
	cr_assert_str_eq(api->u.process.pidfile, "/run/veza/api.pid");
	cr_assert_eq(api->u.process.rss_warn_bytes, 512ull << 20);
	cr_assert_eq(api->u.process.rss_fail_bytes, 1ull << 30);
	cr_assert_eq(api->u.process.threads_warn, 500);
	cr_assert_eq(api->u.process.threads_fail, 1000);

	const struct vh_check_config *chat = find_check(config, "chat_comm");
	cr_assert_eq(chat->groups, 0);
	cr_assert_eq(chat->critical, false);
	cr_assert_str_eq(chat->u.process.comm, "veza-chat");
	cr_assert_eq(chat->stale_after_ms, 3 * 5000 + 750 + 500);
	cr_assert_eq(chat->fall, 3);

	const struct vh_check_config *memory = find_check(config, "memory");
	cr_assert_eq(memory->jitter_ms, 360000);
	cr_assert_eq(memory->stale_after_ms, 3 * 3600000 + 750 + 360000);
	cr_assert_str_eq(memory->u.cgroup.path, "/sys/fs/cgroup/veza.slice");
	cr_assert_eq(memory->u.cgroup.memory_warn_percent, 80.5);
	cr_assert_eq(memory->u.cgroup.memory_fail_percent, 0);
	cr_assert_eq(memory->u.cgroup.pressure_warn, 12.25);
	cr_assert_eq(memory->u.cgroup.oom_kill, VH_OOM_FAIL);
	vh_config_destroy(config);
}

Test(config, environment_expansion) {
	cr_assert_eq(setenv("VH_TEST_SERVICE", "veza-chat", 1), 0);
	cr_assert_eq(setenv("VH_TEST_PORT", "8123", 1), 0);
	cr_assert_eq(setenv("VH_TEST_EMPTY", "", 1), 0);
	struct vh_config *config = load_ok(FIXTURE("env.json"));
	cr_assert_str_eq(config->service, "veza-chat");
	cr_assert_str_eq(config->listen[0].host, "127.0.0.1");
	cr_assert_eq(config->listen[0].port, 8123);
	cr_assert_str_eq(config->checks[0].u.process.cmdline, "pay $5 to $HOME for veza-chat");
	vh_config_destroy(config);
}

Test(config, expand_env_directly) {
	char msg[128];
	cr_assert_eq(setenv("VH_TEST_X", "${VH_TEST_Y}", 1), 0);
	char *out = vh_config_value_expand_env("a${VH_TEST_X}b$$c$", msg, sizeof(msg));
	cr_assert_str_eq(out, "a${VH_TEST_Y}b$c$", "values are not expanded twice");
	free(out);
	out = vh_config_value_expand_env("", msg, sizeof(msg));
	cr_assert_str_eq(out, "");
	free(out);
	cr_assert_null(vh_config_value_expand_env("${}", msg, sizeof(msg)));
	cr_assert_str_eq(msg, "invalid environment variable name \"\"");
	cr_assert_null(vh_config_value_expand_env("${A-B}", msg, sizeof(msg)));
	cr_assert_str_eq(msg, "invalid environment variable name \"A-B\"");
}

/* The variables the shipped configs use, as the deployment would set them. */
static void set_shipped_env(void) {
	static const char *const vars[][2] = {{"VEZA_DB_HOST", "db.veza.internal"},
			{"VEZA_DB_PORT", "5432"}, {"VEZA_DB_NAME", "veza"},
			{"VEZA_DB_USER", "veza_health"}, {"VEZA_DB_PASSWORD", "Zq9-ship-S3CRET"},
			{"VEZA_REDIS_URL", "redis://:Zq9-ship-S3CRET@redis.veza.internal:6379/0"},
			{"REDIS_URL", "redis://127.0.0.1:6390/0"}};
	for (size_t i = 0; i < VH_ARRAY_LEN(vars); i++) {
		cr_assert_eq(setenv(vars[i][0], vars[i][1], 1), 0);
	}
}

Test(config, shipped_configs_load) {
	static const char *const names[] = {"minimal", "api", "chat", "stream", "local"};
	set_shipped_env();
	for (size_t i = 0; i < VH_ARRAY_LEN(names); i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/config/%s.json", VH_SOURCE_ROOT, names[i]);
		struct vh_config *config = load_ok(path);
		cr_assert_str_eq(config->checks[config->n_checks - 1].name, "sidecar");
		char *text = vh_config_dump(config);
		cr_assert_not_null(text);
		cr_assert_null(strstr(text, "S3CRET"), "%s shows a password:\n%s", path, text);
		free(text);
		vh_config_destroy(config);
	}
}

/* ---- dump ---- */

static void assert_same_check(const struct vh_check_config *a, const struct vh_check_config *b) {
	cr_assert_str_eq(a->name, b->name);
	cr_assert_eq(a->type, b->type);
	cr_assert_eq(a->groups, b->groups);
	cr_assert_eq(a->critical, b->critical);
	cr_assert_eq(a->interval_ms, b->interval_ms);
	cr_assert_eq(a->timeout_ms, b->timeout_ms);
	cr_assert_eq(a->fail_interval_ms, b->fail_interval_ms);
	cr_assert_eq(a->unknown_interval_ms, b->unknown_interval_ms);
	cr_assert_eq(a->initial_delay_ms, b->initial_delay_ms);
	cr_assert_eq(a->jitter_ms, b->jitter_ms);
	cr_assert_eq(a->stale_after_ms, b->stale_after_ms);
	cr_assert_eq(a->rise, b->rise);
	cr_assert_eq(a->fall, b->fall);
	if (a->type == VH_CHECK_PROCESS) {
		const struct vh_process_config *p = &a->u.process, *q = &b->u.process;
		cr_assert_eq(p->target, q->target);
		cr_assert_eq(p->pid, q->pid);
		cr_assert_eq(p->pidfile == NULL, q->pidfile == NULL);
		cr_assert(!p->pidfile || strcmp(p->pidfile, q->pidfile) == 0);
		cr_assert(!p->comm || strcmp(p->comm, q->comm) == 0);
		cr_assert(!p->cmdline || strcmp(p->cmdline, q->cmdline) == 0);
		cr_assert_eq(p->rss_warn_bytes, q->rss_warn_bytes);
		cr_assert_eq(p->rss_fail_bytes, q->rss_fail_bytes);
		cr_assert_eq(p->threads_warn, q->threads_warn);
		cr_assert_eq(p->threads_fail, q->threads_fail);
	} else {
		const struct vh_cgroup_config *c = &a->u.cgroup, *d = &b->u.cgroup;
		cr_assert_str_eq(c->path, d->path);
		cr_assert_eq(c->memory_warn_percent, d->memory_warn_percent);
		cr_assert_eq(c->memory_fail_percent, d->memory_fail_percent);
		cr_assert_eq(c->pressure_warn, d->pressure_warn);
		cr_assert_eq(c->pressure_fail, d->pressure_fail);
		cr_assert_eq(c->oom_kill, d->oom_kill);
	}
}

Test(config, dump_round_trip) {
	struct vh_config *first = load_ok(FIXTURE("full.json"));
	char *text = vh_config_dump(first);
	cr_assert_not_null(text);
	cr_assert_not_null(strstr(text, "\"interval\": \"1500ms\""), "%s", text);
	cr_assert_not_null(strstr(text, "\"initial_delay\": \"2m\""));
	cr_assert_not_null(strstr(text, "\"rss_warn\": 536870912"));
	cr_assert_not_null(strstr(text, "\"memory_warn_percent\": 80.5"));
	cr_assert_not_null(
			strstr(text, "\"listen\": [\n    \"127.0.0.1:8099\",\n    \"[::1]:8099\""));
	cr_assert_not_null(strstr(text, "\"name\": \"sidecar\""));

	char path[64];
	struct vh_config *second = load_ok(write_temp(text, path, sizeof(path)));
	unlink(path);
	cr_assert_str_eq(second->service, first->service);
	cr_assert_eq(second->n_listen, first->n_listen);
	for (size_t i = 0; i < first->n_listen; i++) {
		cr_assert_str_eq(second->listen[i].host, first->listen[i].host);
		cr_assert_eq(second->listen[i].port, first->listen[i].port);
	}
	cr_assert_eq(second->n_checks, first->n_checks);
	for (size_t i = 0; i < first->n_checks; i++) {
		assert_same_check(&first->checks[i], &second->checks[i]);
	}
	char *again = vh_config_dump(second);
	cr_assert_str_eq(again, text);
	free(again);
	free(text);
	vh_config_destroy(first);
	vh_config_destroy(second);
}

Test(config, dump_of_defaults_shows_every_key) {
	struct vh_config *config = load_ok(FIXTURE("defaults.json"));
	char *text = vh_config_dump(config);
	cr_assert_not_null(text);
	static const char *const keys[] = {"\"service\": \"veza-service\"",
			"\"listen\": [\n    \":8099\"", "\"groups\": [\n        \"liveness\"",
			"\"critical\": true", "\"interval\": \"5s\"", "\"timeout\": \"1s\"",
			"\"fail_interval\": \"5s\"", "\"unknown_interval\": \"1s\"",
			"\"initial_delay\": \"0s\"", "\"jitter\": \"500ms\"",
			"\"stale_after\": \"16500ms\"", "\"rise\": 1", "\"fall\": 1", "\"pid\": 1",
			"\"rss_fail\": 0", "\"threads_warn\": 0", "\"path\": \"/sys/fs/cgroup\"",
			"\"memory_fail_percent\": 95", "\"oom_kill\": \"warn\"", "\"self\": true",
			"\"groups\": []"};
	for (size_t i = 0; i < VH_ARRAY_LEN(keys); i++) {
		cr_assert_not_null(strstr(text, keys[i]), "missing %s in\n%s", keys[i], text);
	}
	free(text);
	vh_config_destroy(config);
}

/* A query or fragment of an http URL may carry a token; the dump leaves it out, whatever the key.
 */
Test(config, dump_hides_http_query) {
	char path[64];
	cr_assert_eq(setenv("VH_TEST_DUMP_TOKEN", "Zq9-dump-S3CRET", 1), 0);
	write_temp("{\"checks\": [{\"name\": \"a\", \"type\": \"http\", \"http\": "
		   "{\"url\": \"http://127.0.0.1:1/x?token=${VH_TEST_DUMP_TOKEN}\"}}, "
		   "{\"name\": \"b\", \"type\": \"http\", \"http\": "
		   "{\"url\": \"http://127.0.0.1:1/y#Zq9-S3CRET\"}}, "
		   "{\"name\": \"c\", \"type\": \"http\", \"http\": "
		   "{\"url\": \"http://127.0.0.1:1/z\"}}, "
		   "{\"name\": \"d\", \"type\": \"process\", \"process\": "
		   "{\"cmdline\": \"curl http://h/?k=Zq9-S3CRET\"}}]}",
			path, sizeof(path));
	struct vh_config *config = load_ok(path);
	unlink(path);
	cr_assert_str_eq(find_check(config, "a")->u.http.url,
			"http://127.0.0.1:1/x?token=Zq9-dump-S3CRET");
	char *text = vh_config_dump(config);
	cr_assert_not_null(text);
	cr_assert_null(strstr(text, "S3CRET"), "a token is in the dump:\n%s", text);
	cr_assert_not_null(
			strstr(text, "\"url\": \"http://127.0.0.1:1/x?<redacted>\""), "%s", text);
	cr_assert_not_null(
			strstr(text, "\"url\": \"http://127.0.0.1:1/y#<redacted>\""), "%s", text);
	cr_assert_not_null(strstr(text, "\"url\": \"http://127.0.0.1:1/z\""), "%s", text);
	/* A URL inside a longer value is cut too. */
	cr_assert_not_null(strstr(text, "\"cmdline\": \"curl http://h/?<redacted>\""), "%s", text);
	free(text);
	vh_config_destroy(config);
}

Test(config, redact_value) {
	cr_assert_str_eq(vh_config_redact_value("password", "hunter2"), "<redacted>");
	cr_assert_str_eq(vh_config_redact_value("token", ""), "<redacted>");
	cr_assert_str_eq(vh_config_redact_value("url", "redis://:s3cret@127.0.0.1:6379/0"),
			"<redacted>");
	cr_assert_str_eq(vh_config_redact_value("url", "postgres://veza@db/veza"), "<redacted>");
	cr_assert_str_eq(vh_config_redact_value("conninfo", "host=db password=x"), "<redacted>");
	cr_assert_str_eq(vh_config_redact_value("url", "http://127.0.0.1/a@b"),
			"http://127.0.0.1/a@b");
	cr_assert_str_eq(vh_config_redact_value("comm", "veza-api"), "veza-api");
	cr_assert_str_eq(vh_config_redact_value("name", "user@example"), "user@example");
}

/* ---- value parsers ---- */

Test(config_value, durations) {
	static const struct {
		const char *text;
		int64_t ms;
	} good[] = {{"0", 0}, {"250", 250}, {"250ms", 250}, {"1s", 1000}, {"1.5s", 1500},
			{"0.25s", 250}, {"2m", 120000}, {"1.5m", 90000}, {"1h", 3600000},
			{"24h", 86400000}, {"0.001s", 1}, {"9223372036854775807ms", INT64_MAX}};
	static const char *const bad[] = {"", "s", "5", "-5s", "+5s", " 5s", "5s ", "5 s", "5S",
			"5d", "1.5ms", "1.5", ".5s", "5.s", "0.0001s", "1.0000001h", "5sec",
			"9223372036854775808ms", "2562047788015216h", "99999999999999999999"};
	for (size_t i = 0; i < VH_ARRAY_LEN(good); i++) {
		int64_t ms = -1;
		cr_assert(vh_config_parse_duration(good[i].text, &ms), "%s", good[i].text);
		cr_assert_eq(ms, good[i].ms, "%s gave %lld", good[i].text, (long long)ms);
	}
	for (size_t i = 0; i < VH_ARRAY_LEN(bad); i++) {
		int64_t ms = -1;
		if (strcmp(bad[i], "5") == 0) {
			/* A bare number is milliseconds, as the header promises. */
			cr_assert(vh_config_parse_duration(bad[i], &ms));
			cr_assert_eq(ms, 5);
			continue;
		}
		cr_assert_not(vh_config_parse_duration(bad[i], &ms), "%s", bad[i]);
		cr_assert_eq(ms, -1, "output written for %s", bad[i]);
	}
}

Test(config_value, bytes) {
	static const struct {
		const char *text;
		uint64_t bytes;
	} good[] = {{"0", 0}, {"1048576", 1048576}, {"10B", 10}, {"1KB", 1000}, {"2MB", 2000000},
			{"3GB", 3000000000ull}, {"1KiB", 1024}, {"1.5KiB", 1536},
			{"512MiB", 512ull << 20}, {"2GiB", 2ull << 30}, {"1TiB", 1ull << 40},
			{"0.5GiB", 1ull << 29}, {"18446744073709551615B", UINT64_MAX}};
	static const char *const bad[] = {"", "MiB", "-1", "1 MiB", "1mib", "1KIB", "1TB", "1.1B",
			"0.3KiB", "1.5", "18446744073709551616", "16777216TiB", "1e6", "1,000"};
	for (size_t i = 0; i < VH_ARRAY_LEN(good); i++) {
		uint64_t bytes = 7;
		cr_assert(vh_config_parse_bytes(good[i].text, &bytes), "%s", good[i].text);
		cr_assert_eq(bytes, good[i].bytes, "%s", good[i].text);
	}
	for (size_t i = 0; i < VH_ARRAY_LEN(bad); i++) {
		uint64_t bytes = 7;
		cr_assert_not(vh_config_parse_bytes(bad[i], &bytes), "%s", bad[i]);
		cr_assert_eq(bytes, 7);
	}
}

Test(config_value, listen_good) {
	static const struct {
		const char *text;
		const char *host;
		unsigned port;
	} good[] = {{":8099", "", 8099}, {"0.0.0.0:1", "0.0.0.0", 1},
			{"127.0.0.1:65535", "127.0.0.1", 65535}, {"[::]:8099", "::", 8099},
			{"[::1]:80", "::1", 80}, {"[fe80::1:2]:8099", "fe80::1:2", 8099},
			{"[::ffff:10.0.0.1]:9", "::ffff:10.0.0.1", 9}};
	for (size_t i = 0; i < VH_ARRAY_LEN(good); i++) {
		struct vh_listen l;
		char msg[128] = "";
		cr_assert(vh_config_parse_listen(good[i].text, &l, msg, sizeof(msg)), "%s: %s",
				good[i].text, msg);
		cr_assert_str_eq(l.host, good[i].host);
		cr_assert_eq(l.port, good[i].port);
	}
}

Test(config_value, listen_bad) {
	static const struct {
		const char *text;
		const char *msg;
	} bad[] = {
			{"8099", "expected \"ADDRESS:PORT\" or \":PORT\", got \"8099\""},
			{":0", "the port must be a number from 1 to 65535, got \":0\""},
			{":65536", "the port must be a number from 1 to 65535, got \":65536\""},
			{":", "the port must be a number from 1 to 65535, got \":\""},
			{":+80", "the port must be a number from 1 to 65535, got \":+80\""},
			{":http", "the port must be a number from 1 to 65535, got \":http\""},
			{"localhost:80",
					"the address is not a numeric IPv4 address, got "
					"\"localhost:80\""},
			{"256.0.0.1:80",
					"the address is not a numeric IPv4 address, got "
					"\"256.0.0.1:80\""},
			{"::1:80",
					"an IPv6 address needs brackets, as in \"[::1]:8099\", got "
					"\"::1:80\""},
			{"[::1]80", "expected \"[IPV6]:PORT\", got \"[::1]80\""},
			{"[::1:80", "expected \"[IPV6]:PORT\", got \"[::1:80\""},
			{"[127.0.0.1]:80",
					"the address is not a numeric IPv6 address, got "
					"\"[127.0.0.1]:80\""},
			{"[]:80", "the address is not a numeric IPv6 address, got \"[]:80\""},
			{"[fe80::1%eth0]:80",
					"the address is not a numeric IPv6 address, got "
					"\"[fe80::1%eth0]:80\""},
			{"[::1\n]:80",
					"the address is not a numeric IPv6 address, got "
					"\"[::1?]:80\""},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(bad); i++) {
		struct vh_listen l;
		char msg[128] = "";
		cr_assert_not(vh_config_parse_listen(bad[i].text, &l, msg, sizeof(msg)), "%s",
				bad[i].text);
		cr_assert_str_eq(msg, bad[i].msg);
	}
}

Test(config_value, quote_cleans_cuts_and_redacts) {
	char buf[VH_CONFIG_QUOTE_LEN];
	cr_assert_str_eq(vh_config_value_quote("a\tb\x7f", buf, sizeof(buf)), "\"a?b?\"");
	cr_assert_str_eq(vh_config_value_quote("redis://:pw@db", buf, sizeof(buf)),
			"\"<redacted>\"");
	cr_assert_str_eq(vh_config_value_quote("host=db password=pw", buf, sizeof(buf)),
			"\"<redacted>\"");
	cr_assert_str_eq(vh_config_value_quote("http://api/health?token=pw", buf, sizeof(buf)),
			"\"http://api/health?<redacted>\"");
	cr_assert_str_eq(vh_config_value_quote("HTTPS://api/health#pw", buf, sizeof(buf)),
			"\"HTTPS://api/health#<redacted>\"");
	cr_assert_str_eq(vh_config_value_quote("a?b#c", buf, sizeof(buf)), "\"a?b#c\"");
	cr_assert_str_eq(vh_config_value_quote("x http://h/a b?c", buf, sizeof(buf)),
			"\"x http://h/a b?c\"");
	cr_assert_str_eq(vh_config_value_quote("x http://h/a b http://h/?t=pw c", buf, sizeof(buf)),
			"\"x http://h/a b http://h/?<redacted>\"");
	/* 59 ASCII bytes then a 2-byte character that straddles the cut: dropped whole. */
	char text[80];
	memset(text, 'x', 59);
	snprintf(text + 59, sizeof(text) - 59, "\xc3\xa9yz");
	char expected[80];
	snprintf(expected, sizeof(expected), "\"%.59s...\"", text);
	cr_assert_str_eq(vh_config_value_quote(text, buf, sizeof(buf)), expected);
}

Test(config_value, format_duration_picks_largest_exact_unit) {
	static const struct {
		int64_t ms;
		const char *text;
	} cases[] = {{0, "0s"}, {1, "1ms"}, {999, "999ms"}, {1000, "1s"}, {1500, "1500ms"},
			{60000, "1m"}, {90000, "90s"}, {3600000, "1h"}, {5400000, "90m"},
			{86400000, "24h"}};
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		char buf[VH_CONFIG_DURATION_LEN];
		int64_t back = -1;
		vh_config_value_format_duration(cases[i].ms, buf, sizeof(buf));
		cr_assert_str_eq(buf, cases[i].text);
		cr_assert(vh_config_parse_duration(buf, &back));
		cr_assert_eq(back, cases[i].ms);
	}
}

Test(config_value, suggest_only_near_keys) {
	static const char *const keys[] = {"interval", "timeout", "fail_interval", "rise", "fall"};
	cr_assert_str_eq(vh_config_value_suggest("intervall", keys, 5), "interval");
	cr_assert_str_eq(vh_config_value_suggest("timout", keys, 5), "timeout");
	cr_assert_str_eq(vh_config_value_suggest("fail_intreval", keys, 5), "fail_interval");
	cr_assert_str_eq(vh_config_value_suggest("rize", keys, 5), "rise");
	cr_assert_null(vh_config_value_suggest("ri", keys, 5));
	cr_assert_null(vh_config_value_suggest("period", keys, 5));
}

/* A "$" in a value prints as "$$", so the printed config loads to the same value instead of
 * expanding a variable (found by tests/fuzz/fuzz_config). */
Test(config, dump_escapes_dollars_so_it_loads_back_the_same) {
	char path[64], path2[64], why[256];
	write_temp("{\"checks\": [{\"name\": \"p\", \"type\": \"process\", "
		   "\"process\": {\"cmdline\": \"x $$ y $${HOME}\"}}]}",
			path, sizeof(path));
	struct vh_config *first = vh_config_load(path, why, sizeof(why));
	unlink(path);
	cr_assert_not_null(first, "%s", why);
	cr_assert_str_eq(first->checks[0].u.process.cmdline, "x $ y ${HOME}");
	char *text = vh_config_dump(first);
	cr_assert_not_null(strstr(text, "\"cmdline\": \"x $$ y $${HOME}\""), "%s", text);
	write_temp(text, path2, sizeof(path2));
	struct vh_config *second = vh_config_load(path2, why, sizeof(why));
	unlink(path2);
	cr_assert_not_null(second, "%s", why);
	cr_assert_str_eq(second->checks[0].u.process.cmdline, "x $ y ${HOME}");
	free(text);
	vh_config_destroy(first);
	vh_config_destroy(second);
}

Test(config_access, defaults_and_errors_that_never_quote_the_token) {
	char path[64];
	setenv("VH_TEST_TOKEN", "s3cret-Token_0123456789", 1);
	setenv("VH_TEST_SHORT", "short", 1);
	struct vh_config *config = load_ok(write_temp("{\"checks\": []}", path, sizeof(path)));
	unlink(path);
	cr_assert_eq(config->access.details, VH_DETAILS_AUTHORIZED);
	cr_assert(config->access.trust_loopback);
	cr_assert_str_empty(config->access.token);
	vh_config_destroy(config);
	config = load_ok(write_temp("{\"token\": \"${VH_TEST_TOKEN}\", \"trust_loopback\": false, "
				    "\"checks\": []}",
			path, sizeof(path)));
	unlink(path);
	cr_assert_str_eq(config->access.token, "s3cret-Token_0123456789");
	cr_assert_not(config->access.trust_loopback);
	vh_config_destroy(config);
	expect_inline_error("{\"token\": \"s3cret-Token_0123456789\", \"checks\": []}",
			": token: put the token in an environment variable "
			"(\"${VEZA_HEALTH_TOKEN}\") or in token_file, not in the file");
	expect_inline_error("{\"token\": \"${VH_TEST_SHORT}\", \"checks\": []}",
			": token: must be one token of 16 to 256 characters of A-Z, a-z, 0-9 "
			"and -._~+/ (= only at the end)");
	expect_inline_error("{\"token\": 1234567890123456, \"checks\": []}",
			": token: expected a string");
	expect_inline_error("{\"details\": \"always\", \"token\": \"${VH_TEST_TOKEN}\", "
			    "\"checks\": []}",
			": token: is only used with \"details\": \"authorized\"");
	expect_inline_error("{\"token\": \"${VH_TEST_TOKEN}\", \"token_file\": \"/x\", "
			    "\"checks\": []}",
			": token: give token or token_file, not both");
	expect_inline_error("{\"details\": \"some\", \"checks\": []}",
			": details: unknown details \"some\" (expected authorized, always or "
			"never)");
	expect_inline_error("{\"token_file\": \"/nonexistent/vh-token\", \"checks\": []}",
			": token_file: cannot read /nonexistent/vh-token: No such file or "
			"directory");
}

Test(config_access, token_file_holds_one_line) {
	char token_path[64], path[64], json[256];
	write_temp("Abcdefghijklmnop0123456789==\n", token_path, sizeof(token_path));
	snprintf(json, sizeof(json), "{\"token_file\": \"%s\", \"checks\": []}", token_path);
	struct vh_config *config = load_ok(write_temp(json, path, sizeof(path)));
	unlink(path);
	cr_assert_str_eq(config->access.token, "Abcdefghijklmnop0123456789==");
	cr_assert_str_eq(config->access.token_file, token_path);
	vh_config_destroy(config);
	unlink(token_path);
	write_temp("first-token-0123456789\nsecond-token-0123456789\n", token_path,
			sizeof(token_path));
	snprintf(json, sizeof(json), "{\"token_file\": \"%s\", \"checks\": []}", token_path);
	char suffix[256];
	snprintf(suffix, sizeof(suffix),
			": token_file: %s must be one token of 16 to 256 characters of A-Z, a-z, "
			"0-9 and -._~+/ (= only at the end)",
			token_path);
	expect_inline_error(json, suffix);
	cr_assert_null(strstr(err, "first-token"), "the file's content is never quoted");
	unlink(token_path);
}
