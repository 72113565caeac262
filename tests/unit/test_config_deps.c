/* test_config_deps.c - the config of the dependency checks (postgres, redis, tcp, http) and dns. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config_test.h"
#include "vh/config.h"
#include "vh/config_check.h"
#include "vh/config_compare.h"
#include "vh/config_value.h"

/* A file with one check named "a" of type TYPE; REST is the JSON after the type. */
#define ONE_CHECK(type, rest) "{\"checks\": [{\"name\": \"a\", \"type\": \"" type "\", " rest "}]}"

Test(config_deps, postgres_errors) {
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"reconnect_after\": \"500ms\"}"),
			": checks[0].postgres.reconnect_after: must be 0 (keep the connection) or "
			"from 1s to 24h, got 500 ms");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"reconnect_after\": \"25h\"}"),
			": checks[0].postgres.reconnect_after: must be between 0s and 24h, "
			"got \"25h\"");
	expect_error("unknown_pg_keyword.json",
			": checks[0].postgres.params: unknown libpq keyword \"dbnmae\" (did you "
			"mean "
			"\"dbname\"?)");
	expect_inline_error(
			ONE_CHECK("postgres", "\"postgres\": {\"params\": {\"colour\": \"x\"}}"),
			": checks[0].postgres.params: unknown libpq keyword \"colour\" (see "
			"\"Parameter Key Words\" in the libpq manual)");
	expect_inline_error(
			ONE_CHECK("postgres",
					"\"postgres\": {\"params\": {\"hostaddr\": \"10.0.0.1\"}}"),
			": checks[0].postgres.params.hostaddr: is set by the daemon from its own "
			"DNS "
			"lookup of host; give host only");
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"params\": {\"dbname\": "
					    "\"postgresql://u:pw@db/veza\"}}"),
			": checks[0].postgres.params.dbname: must be a database name, not a "
			"connection string or URI (give each setting its own key in params)");
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"params\": {\"dbname\": "
					    "\"veza password=pw\"}}"),
			": checks[0].postgres.params.dbname: must be a database name, not a "
			"connection string or URI (give each setting its own key in params)");
	expect_inline_error(
			ONE_CHECK("postgres", "\"postgres\": {\"params\": {\"host\": \"a,b\"}}"),
			": checks[0].postgres.params.host: must name one host only (the daemon "
			"checks a single server)");
	expect_inline_error(
			ONE_CHECK("postgres", "\"postgres\": {\"params\": {\"host\": \"a b\"}}"),
			": checks[0].postgres.params.host: must be a host name (letters, digits, "
			"\".\", \"-\", \"_\") or a numeric address");
	expect_inline_error(
			ONE_CHECK("postgres",
					"\"postgres\": {\"params\": {\"port\": \"5432,5433\"}}"),
			": checks[0].postgres.params.port: must be one port number from 1 to "
			"65535");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"params\": {\"port\": 5432}}"),
			": checks[0].postgres.params.port: expected a string, got 5432");
	expect_inline_error(
			ONE_CHECK("postgres", "\"postgres\": {\"params\": {\"password\": 1234}}"),
			": checks[0].postgres.params.password: expected a string");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"params\": \"host=db\"}"),
			": checks[0].postgres.params: expected an object of libpq keywords and "
			"strings, got \"host=db\"");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"role\": \"master\"}"),
			": checks[0].postgres.role: unknown role \"master\" (expected any, primary "
			"or replica)");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"connection\": \"pooled\"}"),
			": checks[0].postgres.connection: unknown connection \"pooled\" (expected "
			"persistent or per_check)");
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"connections_warn_percent\": "
					    "96}"),
			": checks[0].postgres.connections_warn_percent: must not be above "
			"connections_fail_percent (96 > 95)");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"stats\": \"yes\"}"),
			": checks[0].postgres.stats: expected true or false, got \"yes\"");
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"backoff\": {\"initial\": "
					    "\"5ms\"}}"),
			": checks[0].postgres.backoff.initial: must be between 10ms and 1m, got "
			"\"5ms\"");
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"backoff\": {\"initial\": "
					    "\"1s\", \"max\": \"500ms\"}}"),
			": checks[0].postgres.backoff.max: must be between 1s and 10m, got "
			"\"500ms\"");
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"backoff\": {\"maxx\": "
					    "\"1s\"}}"),
			": checks[0].postgres.backoff: unknown key \"maxx\" (did you mean "
			"\"max\"?)");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"backoff\": 5}"),
			": checks[0].postgres.backoff: expected an object, got 5");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"parms\": {}}"),
			": checks[0].postgres: unknown key \"parms\" (did you mean \"params\"?)");
	expect_inline_error(ONE_CHECK("postgres", "\"redis\": {\"host\": \"r\"}"),
			": checks[0].redis: not allowed for a check of type \"postgres\"");
}

Test(config_deps, literal_passwords_are_refused) {
	expect_error("literal_password.json",
			": checks[0].postgres.params.password: put the password in an environment "
			"variable (\"${PGPASSWORD}\") or a passfile, not in the file");
	/* A literal part next to a variable is still typed into the file. */
	cr_assert_eq(setenv("VH_TEST_EMPTY", "", 1), 0);
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"params\": {\"password\": "
					    "\"hunter2${VH_TEST_EMPTY}\"}}"),
			": checks[0].postgres.params.password: put the password in an environment "
			"variable (\"${PGPASSWORD}\") or a passfile, not in the file");
	/* "$$" gives a literal "$", not a variable. */
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"params\": {\"password\": "
					    "\"$${PGPASSWORD}\"}}"),
			": checks[0].postgres.params.password: put the password in an environment "
			"variable (\"${PGPASSWORD}\") or a passfile, not in the file");
	expect_inline_error(ONE_CHECK("postgres",
					    "\"postgres\": {\"params\": {\"sslpassword\": "
					    "\"k3y\"}}"),
			": checks[0].postgres.params.sslpassword: put the password in an "
			"environment "
			"variable (\"${PGSSLPASSWORD}\"), not in the file");
	expect_inline_error(
			ONE_CHECK("redis", "\"redis\": {\"host\": \"r\", \"password\": \"pw\"}"),
			": checks[0].redis.password: put the password in an environment variable "
			"(\"${REDIS_PASSWORD}\"), not in the file");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"url\": \"redis://:pw@r:6379/0\"}"),
			": checks[0].redis.url: the password in the URL must come from an "
			"environment variable (\"${REDIS_URL}\" or "
			"\"redis://:${REDIS_PASSWORD}@HOST\"), not the file");
	cr_assert_eq(setenv("VH_TEST_PW_TAIL", "word", 1), 0);
	expect_inline_error(ONE_CHECK("redis",
					    "\"redis\": {\"url\": "
					    "\"redis://u:pass${VH_TEST_PW_TAIL}@r\"}"),
			": checks[0].redis.url: the password in the URL must come from an "
			"environment variable (\"${REDIS_URL}\" or "
			"\"redis://:${REDIS_PASSWORD}@HOST\"), not the file");
}

Test(config_deps, passwords_from_the_environment) {
	char path[64];
	cr_assert_eq(setenv("VH_TEST_PG_PW", "Zq9-pg-S3CRET", 1), 0);
	cr_assert_eq(setenv("VH_TEST_PW_HEAD", "Zq9-", 1), 0);
	cr_assert_eq(setenv("VH_TEST_PW_TAIL", "rd-S3CRET", 1), 0);
	cr_assert_eq(setenv("VH_TEST_REDIS_URL", "redis://alice:Zq9-url%40S3CRET@10.0.0.9:6390/4",
				     1),
			0);
	cr_assert_eq(setenv("VH_TEST_URL_PW", "Zq9-upw-S3CRET", 1), 0);
	const char *json =
			"{\"checks\": ["
			"{\"name\": \"db\", \"type\": \"postgres\", \"postgres\": {\"params\": "
			"{\"user\": \"veza\", \"password\": \"${VH_TEST_PG_PW}\", \"sslpassword\": "
			"\"${VH_TEST_PW_HEAD}${VH_TEST_PW_TAIL}\"}}},"
			"{\"name\": \"r1\", \"type\": \"redis\", \"redis\": {\"url\": "
			"\"${VH_TEST_REDIS_URL}\"}},"
			"{\"name\": \"r2\", \"type\": \"redis\", \"redis\": {\"url\": "
			"\"redis://:${VH_TEST_URL_PW}@[::1]:7000/3\"}},"
			"{\"name\": \"r3\", \"type\": \"redis\", \"redis\": {\"host\": \"r\", "
			"\"username\": \"bob\", \"password\": "
			"\"${VH_TEST_PW_HEAD}${VH_TEST_PW_TAIL}\"}}"
			"]}";
	struct vh_config *config = load_ok(write_temp(json, path, sizeof(path)));
	unlink(path);
	const struct vh_postgres_config *pg = &find_check(config, "db")->u.postgres;
	cr_assert_eq(pg->n_params, 3);
	cr_assert_str_eq(pg->keywords[1], "password");
	cr_assert_str_eq(pg->values[1], "Zq9-pg-S3CRET");
	cr_assert_str_eq(pg->values[2], "Zq9-rd-S3CRET");
	cr_assert_null(pg->keywords[3]);
	cr_assert_null(pg->values[3]);

	const struct vh_redis_config *r1 = &find_check(config, "r1")->u.redis;
	cr_assert_str_eq(r1->host, "10.0.0.9");
	cr_assert_eq(r1->port, 6390);
	cr_assert_eq(r1->db, 4);
	cr_assert_str_eq(r1->username, "alice");
	cr_assert_str_eq(r1->password, "Zq9-url@S3CRET");
	const struct vh_redis_config *r2 = &find_check(config, "r2")->u.redis;
	cr_assert_str_eq(r2->host, "::1");
	cr_assert_eq(r2->port, 7000);
	cr_assert_eq(r2->db, 3);
	cr_assert_null(r2->username);
	cr_assert_str_eq(r2->password, "Zq9-upw-S3CRET");
	const struct vh_redis_config *r3 = &find_check(config, "r3")->u.redis;
	cr_assert_str_eq(r3->username, "bob");
	cr_assert_str_eq(r3->password, "Zq9-rd-S3CRET");

	char *text = vh_config_dump(config);
	cr_assert_not_null(text);
	cr_assert_null(strstr(text, "S3CRET"), "a password is in the dump:\n%s", text);
	cr_assert_null(strstr(text, "Zq9"), "part of a password is in the dump:\n%s", text);
	cr_assert_not_null(strstr(text, "\"password\": \"<redacted>\""), "%s", text);
	cr_assert_not_null(strstr(text, "\"sslpassword\": \"<redacted>\""), "%s", text);
	cr_assert_not_null(strstr(text,
					   "\"host\": \"10.0.0.9\",\n        \"port\": 6390,\n"
					   "        \"db\": 4,\n        \"username\": \"alice\",\n"
					   "        \"password\": \"<redacted>\""),
			"%s", text);
	free(text);
	vh_config_destroy(config);
}

Test(config_deps, url_errors_never_show_the_url) {
	static const struct {
		const char *url;
		const char *message;
	} cases[] = {
			{"rediss://u:Zq9-S3CRET@r:6379", "TLS (rediss://) is not supported"},
			{"http://u:Zq9-S3CRET@r:6379",
					"expected \"redis://[USER[:PASSWORD]@]HOST[:PORT][/DB]\" "
					"(the "
					"value is not shown: it may hold a password)"},
			{"redis://u:Zq9-S3CRET@r:99999/0", "has a bad port (expected 1 to 65535)"},
			{"redis://u:Zq9-S3CRET@r:6379/1024",
					"has a bad database number (expected /0 to /1023)"},
			{"redis://u:Zq9-S3CRET@r:6379/x",
					"has a bad database number (expected /0 to /1023)"},
			{"redis://u:Zq9-S3CRET@r?timeout=1",
					"has query parameters or a fragment, which are not "
					"supported"},
			{"redis://u:Zq9-S3CRET@/0", "has no host"},
			{"redis://u:Zq9%2-S3CRET@r", "has a bad %-escape in the user info"},
			{"redis://u:Zq9%00S3CRET@r", "has a bad %-escape in the user info"},
			{"redis://u:Zq9-S3CRET@[::1:6379",
					"has an IPv6 address without its closing \"]\""},
			{"redis://u:Zq9-S3CRET@[10.0.0.1]:6379",
					"has a bad host: only an IPv6 address goes in brackets"},
			{"redis://u:Zq9-S3CRET@re dis",
					"has a bad host: must be a host name (letters, "
					"digits, \".\", \"-\", \"_\") or a numeric "
					"address"},
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		char expected[512];
		cr_assert_eq(setenv("VH_TEST_BAD_URL", cases[i].url, 1), 0);
		snprintf(expected, sizeof(expected), ": checks[0].redis.url: %s", cases[i].message);
		expect_inline_error(
				ONE_CHECK("redis", "\"redis\": {\"url\": \"${VH_TEST_BAD_URL}\"}"),
				expected);
		cr_assert_null(strstr(err, "S3CRET"), "%s", err);
	}
}

/* A secret from the environment put under the wrong key is never echoed; the message still says
 * what is wrong and where the value came from. */
Test(config_deps, env_values_never_in_errors) {
	static const struct {
		const char *json;
		const char *message;
	} cases[] = {
			{ONE_CHECK("redis", "\"redis\": {\"host\": \"${VH_LEAK_URL}\"}"),
					": checks[0].redis.host: is not a valid IPv6 address, got "
					"the "
					"value of ${VH_LEAK_URL}"},
			{ONE_CHECK("redis", "\"redis\": {\"host\": \"${VH_LEAK_TOKEN}\"}"),
					": checks[0].redis.host: is not a valid IPv6 address, got "
					"the "
					"value of ${VH_LEAK_TOKEN}"},
			{ONE_CHECK("redis", "\"redis\": {\"unix\": \"${VH_LEAK_TOKEN}\"}"),
					": checks[0].redis.unix: must be an absolute path of at "
					"most "
					"107 bytes, got the value of ${VH_LEAK_TOKEN}"},
			{ONE_CHECK("redis",
					 "\"redis\": {\"host\": \"r\", \"role\": "
					 "\"${VH_LEAK_TOKEN}\"}"),
					": checks[0].redis.role: unknown role the value of "
					"${VH_LEAK_TOKEN} (expected any, master, replica or "
					"primary)"},
			{ONE_CHECK("tcp", "\"tcp\": {\"host\": \"${VH_LEAK_TOKEN}\", \"port\": 1}"),
					": checks[0].tcp.host: is not a valid IPv6 address, got "
					"the "
					"value of ${VH_LEAK_TOKEN}"},
			{ONE_CHECK("tcp",
					 "\"tcp\": {\"host\": \"db.${VH_LEAK_TOKEN}\", \"port\": "
					 "1}"),
					": checks[0].tcp.host: is not a valid IPv6 address, got "
					"the "
					"expansion of \"db.${VH_LEAK_TOKEN}\""},
			{ONE_CHECK("http", "\"http\": {\"url\": \"${VH_LEAK_URL}\"}"),
					": checks[0].http.url: expected "
					"\"http://HOST[:PORT][/PATH]\""},
			{ONE_CHECK("http", "\"http\": {\"url\": \"${VH_LEAK_TOKEN}\"}"),
					": checks[0].http.url: expected "
					"\"http://HOST[:PORT][/PATH]\""},
			{ONE_CHECK("http",
					 "\"http\": {\"url\": \"http://h/?t=${VH_LEAK_TOKEN}\", "
					 "\"max_body\": 0}"),
					": checks[0].http.max_body: must be from 1 byte to 16MiB, "
					"got 0 "
					"bytes"},
			{ONE_CHECK("cgroup", "\"cgroup\": {\"path\": \"${VH_LEAK_TOKEN}\"}"),
					": checks[0].cgroup.path: must be an absolute path, got "
					"the "
					"value of ${VH_LEAK_TOKEN}"},
			{ONE_CHECK("cgroup", "\"cgroup\": {\"path\": \"sys/${VH_LEAK_URL}\"}"),
					": checks[0].cgroup.path: must be an absolute path, got "
					"the "
					"expansion of \"sys/${VH_LEAK_URL}\""},
			{ONE_CHECK("cgroup", "\"cgroup\": {\"oom_kill\": \"${VH_LEAK_TOKEN}\"}"),
					": checks[0].cgroup.oom_kill: unknown policy the value of "
					"${VH_LEAK_TOKEN} (expected ignore, warn or fail)"},
			{ONE_CHECK("cgroup", "\"interval\": \"${VH_LEAK_TOKEN}\""),
					": checks[0].interval: expected a duration such as "
					"\"250ms\", "
					"\"1.5s\", \"2m\" or \"1h\", got the value of "
					"${VH_LEAK_TOKEN}"},
			{ONE_CHECK("cgroup", "\"groups\": [\"${VH_LEAK_TOKEN}\"]"),
					": checks[0].groups[0]: unknown group the value of "
					"${VH_LEAK_TOKEN} (expected liveness or readiness)"},
			{ONE_CHECK("${VH_LEAK_TOKEN}", "\"critical\": true"),
					": checks[0].type: unknown check type the value of "
					"${VH_LEAK_TOKEN} (expected process, cgroup, postgres, "
					"redis, "
					"tcp or http)"},
			{ONE_CHECK("process", "\"process\": {\"comm\": \"${VH_LEAK_TOKEN}\"}"),
					": checks[0].process.comm: must be 1 to 15 bytes, as in "
					"/proc/PID/comm (use cmdline for longer names), got the "
					"value "
					"of ${VH_LEAK_TOKEN}"},
			{"{\"service\": \"${VH_LEAK_TOKEN}\", \"checks\": []}",
					": service: must be 1 to 63 characters of A-Z, a-z, 0-9, "
					"\"_\", "
					"\".\" or \"-\", got the value of ${VH_LEAK_TOKEN}"},
			{"{\"checks\": [{\"name\": \"${VH_LEAK_TOKEN}\", \"type\": \"cgroup\"}]}",
					": checks[0].name: must be 1 to 63 characters of a-z, 0-9, "
					"\"_\" or \"-\", got the value of ${VH_LEAK_TOKEN}"},
			{"{\"checks\": [{\"name\": \"${VH_LEAK_NAME}\", \"type\": \"cgroup\"}, "
			 "{\"name\": \"${VH_LEAK_NAME}\", \"type\": \"cgroup\"}]}",
					": checks[1].name: duplicate check name the value of "
					"${VH_LEAK_NAME}"},
			{"{\"listen\": \"${VH_LEAK_TOKEN}\", \"checks\": []}",
					": listen: the address is not a numeric IPv4 address, got "
					"the "
					"value of ${VH_LEAK_TOKEN}"},
			{"{\"dns\": {\"nameservers\": [\"${VH_LEAK_TOKEN}\"]}, \"checks\": []}",
					": dns.nameservers[0]: expected a numeric address such as "
					"\"10.0.0.2\", \"10.0.0.2:5353\" or \"[::1]:53\", got the "
					"value of ${VH_LEAK_TOKEN}"},
			{"{\"dns\": {\"nameservers\": [\"${VH_LEAK_URL}\"]}, \"checks\": []}",
					": dns.nameservers[0]: expected a numeric address such as "
					"\"10.0.0.2\", \"10.0.0.2:5353\" or \"[::1]:53\", got the "
					"value of ${VH_LEAK_URL}"},
	};
	/* A URL with user info is redacted anyway; a bare token only the origin hides. */
	cr_assert_eq(setenv("VH_LEAK_URL", "redis://:Zq9-url-S3CRET@db:6379", 1), 0);
	cr_assert_eq(setenv("VH_LEAK_TOKEN", "tok:Zq9-tok-S3CRET", 1), 0);
	cr_assert_eq(setenv("VH_LEAK_NAME", "zq9-name-s3cret", 1), 0);
	for (size_t i = 0; i < VH_ARRAY_LEN(cases); i++) {
		expect_inline_error(cases[i].json, cases[i].message);
		cr_assert_null(strstr(err, "S3CRET"), "%s", err);
		cr_assert_null(strstr(err, "s3cret"), "%s", err);
	}
}

/* Values typed into the file are quoted, but cleaned and with a URL's query left out. */
Test(config_deps, file_values_in_errors_are_cleaned) {
	expect_inline_error(ONE_CHECK("tcp",
					    "\"tcp\": {\"host\": \"http://h/x?t=Zq9-S3CRET\", "
					    "\"port\": 1}"),
			": checks[0].tcp.host: is not a valid IPv6 address, got "
			"\"http://h/x?<redacted>\"");
	expect_inline_error(ONE_CHECK("tcp", "\"tcp\": {\"host\": \"a\\u001bb\", \"port\": 1}"),
			": checks[0].tcp.host: must be a host name (letters, digits, \".\", \"-\", "
			"\"_\") or a numeric address, got \"a?b\"");
	expect_inline_error(ONE_CHECK("tcp",
					    "\"tcp\": {\"host\": \"db\", \"port\": 1, "
					    "\"ho\\nst\": 1}"),
			": checks[0].tcp: unknown key \"ho?st\" (did you mean \"host\"?)");
	expect_inline_error(ONE_CHECK("postgres", "\"postgres\": {\"params\": {\"a\\tb\": \"x\"}}"),
			": checks[0].postgres.params: unknown libpq keyword \"a?b\" (see "
			"\"Parameter Key Words\" in the libpq manual)");
}

Test(config_deps, redis_errors) {
	expect_inline_error(ONE_CHECK("redis", "\"critical\": true"),
			": checks[0]: missing required key \"redis\"");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {}"),
			": checks[0].redis: needs url, "
			"host or unix");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"host\": \"r\", \"unix\": \"/s\"}"),
			": checks[0].redis: both host and unix are set; give one");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"url\": \"redis://r\", \"port\": 1}"),
			": checks[0].redis: both url and port are set; give either url or the "
			"separate keys");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"unix\": \"/s\", \"port\": 1}"),
			": checks[0].redis.port: not used with unix");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"unix\": \"redis.sock\"}"),
			": checks[0].redis.unix: must be an absolute path of at most 107 bytes, "
			"got "
			"\"redis.sock\"");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"host\": \"\"}"),
			": checks[0].redis.host: must not be empty, got \"\"");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"host\": \"r\", \"port\": 0}"),
			": checks[0].redis.port: expected an integer from 1 to 65535, got 0");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"host\": \"r\", \"db\": 1024}"),
			": checks[0].redis.db: expected an integer from 0 to 1023, got 1024");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"host\": \"r\", \"username\": \"u\"}"),
			": checks[0].redis.username: a user name needs a password (AUTH USERNAME "
			"PASSWORD)");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"url\": \"redis://u@r\"}"),
			": checks[0].redis.url: a user name needs a password (AUTH USERNAME "
			"PASSWORD)");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"host\": \"r\", \"role\": \"slave\"}"),
			": checks[0].redis.role: unknown role \"slave\" (expected any, master, "
			"replica or primary)");
	expect_inline_error(ONE_CHECK("redis",
					    "\"redis\": {\"host\": \"r\", "
					    "\"memory_warn_percent\": 90, \"memory_fail_percent\": "
					    "80}"),
			": checks[0].redis.memory_warn_percent: must not be above "
			"memory_fail_percent (90 > 80)");
	expect_inline_error(
			ONE_CHECK("redis", "\"redis\": {\"host\": \"r\", \"clients_warn\": -1}"),
			": checks[0].redis.clients_warn: expected an integer from 0 to 1000000, "
			"got "
			"-1");
	expect_inline_error(ONE_CHECK("redis", "\"redis\": {\"url\": 6379}"),
			": checks[0].redis.url: expected a string, got 6379");
}

Test(config_deps, tcp_and_http_errors) {
	expect_inline_error(ONE_CHECK("tcp", "\"tcp\": {\"host\": \"db\"}"),
			": checks[0].tcp: missing required key \"port\"");
	expect_inline_error(ONE_CHECK("tcp", "\"tcp\": {\"port\": 5432}"),
			": checks[0].tcp: missing required key \"host\"");
	expect_inline_error(ONE_CHECK("tcp", "\"tcp\": {\"host\": \"::g\", \"port\": 5432}"),
			": checks[0].tcp.host: is not a valid IPv6 address, got \"::g\"");
	expect_inline_error(ONE_CHECK("tcp", "\"tcp\": {\"host\": \"db\", \"port\": 65536}"),
			": checks[0].tcp.port: expected an integer from 1 to 65535, got 65536");
	expect_inline_error(ONE_CHECK("tcp", "\"groups\": []"),
			": checks[0]: missing required key \"tcp\"");
	expect_inline_error(ONE_CHECK("http", "\"http\": {}"),
			": checks[0].http: missing required key \"url\"");
	expect_inline_error(ONE_CHECK("http", "\"http\": {\"url\": \"https://web/health\"}"),
			": checks[0].http.url: https is not supported (plain http only)");
	expect_inline_error(ONE_CHECK("http", "\"http\": {\"url\": \"web/health\"}"),
			": checks[0].http.url: expected \"http://HOST[:PORT][/PATH]\"");
	expect_inline_error(ONE_CHECK("http", "\"http\": {\"url\": \"http://u:pw@web/health\"}"),
			": checks[0].http.url: must not hold user info (\"user:password@\")");
	expect_inline_error(ONE_CHECK("http", "\"http\": {\"url\": \"http://web/a b\"}"),
			": checks[0].http.url: must not contain spaces or control characters");
	expect_inline_error(ONE_CHECK("http", "\"http\": {\"url\": \"http://web:0/\"}"),
			": checks[0].http.url: has a bad port (expected 1 to 65535)");
	expect_inline_error(ONE_CHECK("http", "\"http\": {\"url\": \"http:///health\"}"),
			": checks[0].http.url: has no host");
	expect_inline_error(ONE_CHECK("http",
					    "\"http\": {\"url\": \"http://w/\", \"status\": "
					    "[300, 200]}"),
			": checks[0].http.status: expected [MIN, MAX] with 100 <= MIN <= MAX <= "
			"599, "
			"such as [200, 299]");
	expect_inline_error(ONE_CHECK("http",
					    "\"http\": {\"url\": \"http://w/\", \"status\": "
					    "200}"),
			": checks[0].http.status: expected [MIN, MAX] with 100 <= MIN <= MAX <= "
			"599, "
			"such as [200, 299]");
	expect_inline_error(ONE_CHECK("http",
					    "\"http\": {\"url\": \"http://w/\", \"max_body\": "
					    "\"17MiB\"}"),
			": checks[0].http.max_body: must be from 1 byte to 16MiB, got 17825792 "
			"bytes");
	expect_inline_error(
			ONE_CHECK("http", "\"http\": {\"url\": \"http://w/\", \"max_body\": 0}"),
			": checks[0].http.max_body: must be from 1 byte to 16MiB, got 0 bytes");
	expect_inline_error(ONE_CHECK("http",
					    "\"http\": {\"url\": \"http://w/\", "
					    "\"body_contains\": \"\"}"),
			": checks[0].http.body_contains: must not be empty");
	expect_inline_error(ONE_CHECK("http",
					    "\"http\": {\"url\": \"http://w/\", "
					    "\"body_contains\": \"abcde\", \"max_body\": 4}"),
			": checks[0].http.body_contains: is longer than max_body (4 bytes), so it "
			"can never match");
}

Test(config_deps, dns_errors) {
	expect_error("bad_nameserver.json",
			": dns.nameservers[1]: expected a numeric address such as \"10.0.0.2\", "
			"\"10.0.0.2:5353\" or \"[::1]:53\", got \"dns.google\"");
	expect_inline_error(
			"{\"dns\": {\"nameservers\": [\"1.1.1.1\", \"1.1.1.1\"]}, \"checks\": []}",
			": dns.nameservers[1]: duplicate nameserver \"1.1.1.1\"");
	expect_inline_error("{\"dns\": {\"nameservers\": [\"1.1.1.1\", \"1.1.1.2\", \"1.1.1.3\", "
			    "\"1.1.1.4\", \"1.1.1.5\"]}, \"checks\": []}",
			": dns.nameservers: expected an array of at most 4 numeric addresses, got "
			"an "
			"array");
	expect_inline_error("{\"dns\": {\"nameservers\": [53]}, \"checks\": []}",
			": dns.nameservers[0]: expected a numeric address string, got 53");
	expect_inline_error("{\"dns\": {\"nameservers\": [\"[::1]:0\"]}, \"checks\": []}",
			": dns.nameservers[0]: expected a numeric address such as \"10.0.0.2\", "
			"\"10.0.0.2:5353\" or \"[::1]:53\", got \"[::1]:0\"");
	expect_inline_error("{\"dns\": {\"timeout\": \"50ms\"}, \"checks\": []}",
			": dns.timeout: must be between 100ms and 30s, got \"50ms\"");
	expect_inline_error("{\"dns\": {\"attempts\": 6}, \"checks\": []}",
			": dns.attempts: expected an integer from 1 to 5, got 6");
	expect_inline_error("{\"dns\": {\"servers\": []}, \"checks\": []}",
			": dns: unknown key \"servers\"");
	expect_inline_error("{\"dns\": [], \"checks\": []}",
			": dns: expected an object, got an "
			"array");
}

Test(config_deps, defaults) {
	struct vh_config *config = load_ok(FIXTURE("deps_defaults.json"));
	cr_assert_eq(config->dns.n_nameservers, 0);
	cr_assert_eq(config->dns.timeout_ms, 2000);
	cr_assert_eq(config->dns.attempts, 2);

	const struct vh_check_config *pg = find_check(config, "pg");
	cr_assert_str_eq(vh_check_type_name(pg->type), "postgres");
	cr_assert_eq(pg->groups, VH_GROUP_READINESS);
	cr_assert_eq(pg->critical, true);
	cr_assert_eq(pg->interval_ms, 5000);
	cr_assert_eq(pg->timeout_ms, 1000);
	cr_assert_eq(pg->u.postgres.n_params, 0);
	cr_assert_not_null(pg->u.postgres.keywords);
	cr_assert_null(pg->u.postgres.keywords[0]);
	cr_assert_null(pg->u.postgres.values[0]);
	cr_assert_eq(pg->u.postgres.role, VH_ROLE_ANY);
	cr_assert_eq(pg->u.postgres.per_check_connection, false);
	cr_assert_eq(pg->u.postgres.stats, false);
	cr_assert_eq(pg->u.postgres.connections_warn_percent, 80);
	cr_assert_eq(pg->u.postgres.connections_fail_percent, 95);
	cr_assert_eq(pg->u.postgres.backoff.initial_ms, 250);
	cr_assert_eq(pg->u.postgres.backoff.max_ms, 5000);

	const struct vh_check_config *cache = find_check(config, "cache");
	const struct vh_redis_config *r = &cache->u.redis;
	cr_assert_str_eq(vh_check_type_name(cache->type), "redis");
	cr_assert_eq(cache->groups, VH_GROUP_READINESS);
	cr_assert_str_eq(r->host, "127.0.0.1");
	cr_assert_eq(r->port, 6379);
	cr_assert_null(r->unix_path);
	cr_assert_null(r->username);
	cr_assert_null(r->password);
	cr_assert_eq(r->db, 0);
	cr_assert_eq(r->role, VH_ROLE_ANY);
	cr_assert_eq(r->stats, false);
	cr_assert_eq(r->memory_warn_percent, 85);
	cr_assert_eq(r->memory_fail_percent, 0);
	cr_assert_eq(r->clients_warn, 0);
	cr_assert_eq(r->backoff.initial_ms, 250);
	cr_assert_eq(r->backoff.max_ms, 5000);

	const struct vh_check_config *port = find_check(config, "port");
	cr_assert_str_eq(vh_check_type_name(port->type), "tcp");
	cr_assert_eq(port->groups, VH_GROUP_READINESS);
	cr_assert_str_eq(port->u.tcp.host, "localhost");
	cr_assert_eq(port->u.tcp.port, 1);

	const struct vh_check_config *web = find_check(config, "web");
	cr_assert_str_eq(vh_check_type_name(web->type), "http");
	cr_assert_eq(web->groups, VH_GROUP_READINESS);
	cr_assert_str_eq(web->u.http.url, "http://localhost");
	cr_assert_eq(web->u.http.status_min, 200);
	cr_assert_eq(web->u.http.status_max, 399);
	cr_assert_null(web->u.http.body_contains);
	cr_assert_eq(web->u.http.max_body_bytes, 65536);
	vh_config_destroy(config);
}

Test(config_deps, values) {
	struct vh_config *config = load_ok(FIXTURE("deps.json"));
	cr_assert_eq(config->dns.n_nameservers, 3);
	cr_assert_str_eq(config->dns.nameservers[0], "10.0.0.2");
	cr_assert_str_eq(config->dns.nameservers[2], "[fd00::53]:53");
	cr_assert_eq(config->dns.timeout_ms, 500);
	cr_assert_eq(config->dns.attempts, 3);

	const struct vh_postgres_config *pg = &find_check(config, "db")->u.postgres;
	static const char *const keys[] = {
			"host", "port", "dbname", "user", "sslmode", "application_name"};
	cr_assert_eq(pg->n_params, VH_ARRAY_LEN(keys));
	for (size_t i = 0; i < VH_ARRAY_LEN(keys); i++) {
		cr_assert_str_eq(pg->keywords[i], keys[i], "params keep the file's order");
	}
	cr_assert_str_eq(pg->values[0], "db.internal");
	cr_assert_str_eq(pg->values[5], "veza-health");
	cr_assert_null(pg->keywords[6]);
	cr_assert_eq(pg->role, VH_ROLE_REPLICA);
	cr_assert_eq(pg->per_check_connection, true);
	cr_assert_eq(pg->stats, true);
	cr_assert_eq(pg->connections_warn_percent, 70);
	cr_assert_eq(pg->connections_fail_percent, 90.5);
	cr_assert_eq(pg->backoff.initial_ms, 100);
	cr_assert_eq(pg->backoff.max_ms, 2000);

	const struct vh_redis_config *r = &find_check(config, "cache")->u.redis;
	cr_assert_str_eq(r->host, "redis.internal");
	cr_assert_eq(r->port, 6380);
	cr_assert_eq(r->db, 2);
	cr_assert_eq(r->role, VH_ROLE_PRIMARY);
	cr_assert_eq(r->stats, true);
	cr_assert_eq(r->memory_warn_percent, 70);
	cr_assert_eq(r->memory_fail_percent, 90);
	cr_assert_eq(r->clients_warn, 5000);
	cr_assert_eq(r->backoff.initial_ms, 30000);
	cr_assert_eq(r->backoff.max_ms, 30000, "max follows an initial above its default");

	const struct vh_check_config *sock = find_check(config, "cache-sock");
	cr_assert_eq(sock->groups, VH_GROUP_LIVENESS | VH_GROUP_READINESS);
	cr_assert_null(sock->u.redis.host);
	cr_assert_str_eq(sock->u.redis.unix_path, "/run/redis/redis.sock");
	cr_assert_eq(sock->u.redis.role, VH_ROLE_PRIMARY, "primary is an alias of master");

	const struct vh_check_config *broker = find_check(config, "broker");
	cr_assert_eq(broker->critical, false);
	cr_assert_str_eq(broker->u.tcp.host, "::1");
	cr_assert_eq(broker->u.tcp.port, 5672);

	const struct vh_check_config *web = find_check(config, "self-http");
	cr_assert_eq(web->interval_ms, 2000);
	cr_assert_str_eq(web->u.http.url, "http://127.0.0.1:8080/health?full=1");
	cr_assert_eq(web->u.http.status_min, 200);
	cr_assert_eq(web->u.http.status_max, 204);
	cr_assert_str_eq(web->u.http.body_contains, "\"status\":\"ok\"");
	cr_assert_eq(web->u.http.max_body_bytes, 4096);
	vh_config_destroy(config);
}

/* Everything the dump prints for the new types loads back and prints the same, the query of a
 * URL included, which shows as "?<redacted>". */
Test(config_deps, dump_round_trip) {
	struct vh_config *first = load_ok(FIXTURE("deps.json"));
	char *text = vh_config_dump(first);
	cr_assert_not_null(text);
	static const char *const expected[] = {
			"\"dns\": {\n    \"nameservers\": [\n      \"10.0.0.2\",",
			"\"timeout\": \"500ms\",\n    \"attempts\": 3",
			"\"connection\": \"per_check\"",
			"\"backoff\": {\n          \"initial\": \"100ms\",\n          \"max\": "
			"\"2s\"",
			"\"role\": \"master\"",
			"\"unix\": \"/run/redis/redis.sock\",\n        \"db\": 0,",
			"\"status\": [\n          200,\n          204\n        ]",
			"\"max_body\": 4096",
			"\"url\": \"http://127.0.0.1:8080/health?<redacted>\"",
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(expected); i++) {
		cr_assert_not_null(
				strstr(text, expected[i]), "missing %s in\n%s", expected[i], text);
	}
	char path[64];
	struct vh_config *second = load_ok(write_temp(text, path, sizeof(path)));
	unlink(path);
	char *again = vh_config_dump(second);
	cr_assert_str_eq(again, text);
	free(again);
	free(text);
	vh_config_destroy(first);
	vh_config_destroy(second);
}

Test(config_deps, dump_of_defaults_shows_every_key) {
	struct vh_config *config = load_ok(FIXTURE("deps_defaults.json"));
	char *text = vh_config_dump(config);
	cr_assert_not_null(text);
	static const char *const keys[] = {
			"\"dns\": {\n    \"nameservers\": [],\n    \"timeout\": \"2s\",\n"
			"    \"attempts\": 2\n  }",
			"\"groups\": [\n        \"readiness\"\n      ]",
			"\"params\": {},\n        \"role\": \"any\",\n        \"connection\": "
			"\"persistent\",\n        \"reconnect_after\": \"30s\",\n        "
			"\"stats\": false,\n        "
			"\"connections_warn_percent\": 80,\n        \"connections_fail_percent\": "
			"95,\n"
			"        \"backoff\": {\n          \"initial\": \"250ms\",\n          "
			"\"max\": "
			"\"5s\"\n        }",
			"\"host\": \"127.0.0.1\",\n        \"port\": 6379,\n        \"db\": 0,\n"
			"        \"role\": \"any\",\n        \"stats\": false,\n        "
			"\"memory_warn_percent\": 85,\n        \"memory_fail_percent\": 0,\n       "
			" "
			"\"clients_warn\": 0,",
			"\"tcp\": {\n        \"host\": \"localhost\",\n        \"port\": 1\n      "
			"}",
			"\"url\": \"http://localhost\",\n        \"status\": [\n          200,\n"
			"          399\n        ],\n        \"max_body\": 65536",
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(keys); i++) {
		cr_assert_not_null(strstr(text, keys[i]), "missing %s in\n%s", keys[i], text);
	}
	free(text);
	vh_config_destroy(config);
}

Test(config_value, redis_urls) {
	struct vh_config_redis_url url;
	char msg[256];
	cr_assert(vh_config_value_parse_redis_url("redis://cache", &url, msg, sizeof(msg)), "%s",
			msg);
	cr_assert_str_eq(url.host, "cache");
	cr_assert_eq(url.port, 6379);
	cr_assert_eq(url.db, 0);
	cr_assert_null(url.username);
	cr_assert_null(url.password);
	cr_assert_eq(url.password_start, url.password_end);
	vh_config_value_redis_url_finish(&url);

	const char *text = "redis://us%3Aer:p%40ss:w@rd@127.0.0.1:6390/15";
	cr_assert(vh_config_value_parse_redis_url(text, &url, msg, sizeof(msg)), "%s", msg);
	cr_assert_str_eq(url.username, "us:er");
	cr_assert_str_eq(url.password, "p@ss:w@rd", "the last @ ends the user info");
	cr_assert_str_eq(url.host, "127.0.0.1");
	cr_assert_eq(url.port, 6390);
	cr_assert_eq(url.db, 15);
	cr_assert_eq(strncmp(text + url.password_start, "p%40ss:w@rd",
				     url.password_end - url.password_start),
			0);
	cr_assert_eq(url.password_end - url.password_start, strlen("p%40ss:w@rd"));
	vh_config_value_redis_url_finish(&url);

	cr_assert(vh_config_value_parse_redis_url("redis://:@[::1]/", &url, msg, sizeof(msg)));
	cr_assert_str_eq(url.host, "::1");
	cr_assert_null(url.password, "an empty password means none");
	vh_config_value_redis_url_finish(&url);

	cr_assert_not(vh_config_value_parse_redis_url("redis://h:6379:1", &url, msg, sizeof(msg)));
	cr_assert_str_eq(msg, "has a bad port (expected 1 to 65535)");
	cr_assert_null(url.host, "nothing is left to free after a failure");
	vh_config_value_redis_url_finish(&url);
}

Test(config_value, expand_env_spans) {
	struct vh_config_span *spans = NULL;
	size_t n = 0;
	char msg[128];
	cr_assert_eq(setenv("VH_TEST_A", "aa", 1), 0);
	cr_assert_eq(setenv("VH_TEST_EMPTY", "", 1), 0);
	char *out = vh_config_value_expand_env_spans(
			"x${VH_TEST_A}$${VH_TEST_A}${VH_TEST_EMPTY}${VH_TEST_A}", &spans, &n, msg,
			sizeof(msg));
	cr_assert_str_eq(out, "xaa${VH_TEST_A}aa");
	cr_assert_eq(n, 2, "an empty value adds no span");
	cr_assert_eq(spans[0].start, 1);
	cr_assert_eq(spans[0].end, 3);
	cr_assert_eq(spans[1].start, 15);
	cr_assert_eq(spans[1].end, 17);
	free(out);
	free(spans);
	out = vh_config_value_expand_env_spans("plain", &spans, &n, msg, sizeof(msg));
	cr_assert_str_eq(out, "plain");
	cr_assert_null(spans);
	cr_assert_eq(n, 0);
	free(out);
	cr_assert_null(vh_config_value_expand_env_spans(
			"${VH_TEST_A}${", &spans, &n, msg, sizeof(msg)));
	cr_assert_str_eq(msg, "\"${\" without a closing \"}\"");
}

Test(config_value, hosts_and_nameservers) {
	char msg[256];
	cr_assert_null(vh_config_value_host_problem("db-1.internal_x"));
	cr_assert_null(vh_config_value_host_problem("10.0.0.1"));
	cr_assert_null(vh_config_value_host_problem("fe80::1"));
	cr_assert_str_eq(vh_config_value_host_problem(""), "must not be empty");
	cr_assert_str_eq(vh_config_value_host_problem("[::1]"), "is not a valid IPv6 address");
	static const char *const good[] = {
			"127.0.0.1", "127.0.0.1:5353", "::1", "[::1]", "[::1]:53", "fd00::53"};
	for (size_t i = 0; i < VH_ARRAY_LEN(good); i++) {
		cr_assert(vh_config_value_check_nameserver(good[i], msg, sizeof(msg)), "%s",
				good[i]);
	}
	static const char *const bad[] = {"", "localhost", "1.2.3.4:", "1.2.3.4:65536", "[::1",
			"[::1]53", "[1.2.3.4]:53", "::1:53:xyz", "1.2.3.4.5"};
	for (size_t i = 0; i < VH_ARRAY_LEN(bad); i++) {
		cr_assert_not(vh_config_value_check_nameserver(bad[i], msg, sizeof(msg)), "%s",
				bad[i]);
	}
	cr_assert(vh_config_value_check_http_url("http://[::1]:8080/health?x=1", msg, sizeof(msg)),
			"%s", msg);
	cr_assert(vh_config_value_check_http_url("http://web", msg, sizeof(msg)), "%s", msg);
}

/* Loads json from a temporary file. */
static struct vh_config *load_text(const char *json) {
	char path[64];
	struct vh_config *config = load_ok(write_temp(json, path, sizeof(path)));
	unlink(path);
	return config;
}

/* One check of every type, each with strings to compare; VARIANT picks one setting to change. */
static struct vh_config *load_variant(int variant) {
	char json[2048];
	snprintf(json, sizeof(json),
			"{\"checks\": ["
			"{\"name\": \"proc\", \"type\": \"process\", \"interval\": \"%s\","
			" \"process\": {\"comm\": \"%s\"}},"
			"{\"name\": \"mem\", \"type\": \"cgroup\", \"cgroup\": {\"path\": \"%s\"}},"
			"{\"name\": \"db\", \"type\": \"postgres\", \"postgres\": {\"params\":"
			" {\"host\": \"db\", \"password\": \"${VH_TEST_RELOAD_PW}\", \"dbname\": "
			"\"%s\"}}},"
			"{\"name\": \"cache\", \"type\": \"redis\", \"critical\": %s,"
			" \"redis\": {\"host\": \"r\", \"password\": \"${VH_TEST_RELOAD_PW}\"}},"
			"{\"name\": \"port\", \"type\": \"tcp\", \"tcp\": {\"host\": \"::1\", "
			"\"port\": %d}},"
			"{\"name\": \"web\", \"type\": \"http\", \"http\": {\"url\": \"http://w/\","
			" \"body_contains\": \"%s\"}}"
			"]}",
			variant == 1 ? "2s" : "1s", variant == 1 ? "api2" : "api",
			variant == 2 ? "/sys/fs/cgroup/b" : "/sys/fs/cgroup/a",
			variant == 3 ? "veza2" : "veza", variant == 4 ? "false" : "true",
			variant == 5 ? 5673 : 5672, variant == 6 ? "up" : "ok");
	return load_text(json);
}

/* The names of the checks of a that have no equal (same name, same settings) in b. */
static void unequal_names(
		const struct vh_config *a, const struct vh_config *b, char *out, size_t len) {
	out[0] = '\0';
	for (size_t i = 0; i < a->n_checks; i++) {
		bool equal = false;
		for (size_t j = 0; j < b->n_checks && !equal; j++) {
			equal = vh_config_check_equal(&a->checks[i], &b->checks[j]);
		}
		if (!equal) {
			size_t used = strlen(out);
			snprintf(out + used, len - used, "%s%s", used ? "," : "",
					a->checks[i].name);
		}
	}
}

Test(config_reload, an_unchanged_file_keeps_every_check) {
	cr_assert_eq(setenv("VH_TEST_RELOAD_PW", "pw-1", 1), 0);
	struct vh_config *a = load_variant(0);
	struct vh_config *b = load_variant(0);
	char names[256];
	unequal_names(a, b, names, sizeof(names));
	cr_assert_str_empty(names, "every check is kept, the built-in sidecar too");
	vh_config_destroy(a);
	vh_config_destroy(b);
	a = load_ok(FIXTURE("deps.json"));
	b = load_ok(FIXTURE("deps.json"));
	unequal_names(a, b, names, sizeof(names));
	cr_assert_str_empty(names);
	vh_config_destroy(a);
	vh_config_destroy(b);
}

Test(config_reload, one_changed_setting_changes_one_check) {
	static const char *const changed[] = {"", "proc", "mem", "db", "cache", "port", "web"};
	char names[256];
	cr_assert_eq(setenv("VH_TEST_RELOAD_PW", "pw-1", 1), 0);
	struct vh_config *base = load_variant(0);
	for (int v = 1; v < (int)VH_ARRAY_LEN(changed); v++) {
		struct vh_config *next = load_variant(v);
		unequal_names(next, base, names, sizeof(names));
		cr_assert_str_eq(names, changed[v], "variant %d", v);
		vh_config_destroy(next);
	}
	vh_config_destroy(base);
}

Test(config_reload, a_new_password_changes_the_checks_that_use_it) {
	char names[256];
	cr_assert_eq(setenv("VH_TEST_RELOAD_PW", "pw-1", 1), 0);
	struct vh_config *a = load_variant(0);
	cr_assert_eq(setenv("VH_TEST_RELOAD_PW", "pw-2", 1), 0);
	struct vh_config *b = load_variant(0);
	unequal_names(b, a, names, sizeof(names));
	cr_assert_str_eq(names, "db,cache");
	vh_config_destroy(a);
	vh_config_destroy(b);
}

Test(config_reload, a_copy_is_equal_and_owns_its_strings) {
	struct vh_config *configs[] = {
			load_ok(FIXTURE("deps.json")), load_ok(FIXTURE("full.json"))};
	for (size_t c = 0; c < VH_ARRAY_LEN(configs); c++) {
		size_t n = configs[c]->n_checks;
		struct vh_check_config *copies = calloc(n, sizeof(*copies));
		for (size_t i = 0; i < n; i++) {
			cr_assert(vh_config_check_copy(&copies[i], &configs[c]->checks[i]));
			cr_assert(vh_config_check_equal(&copies[i], &configs[c]->checks[i]), "%s",
					copies[i].name);
		}
		const struct vh_check_config *db = &copies[0];
		if (db->type == VH_CHECK_POSTGRES) {
			cr_assert_neq(db->u.postgres.keywords,
					configs[c]->checks[0].u.postgres.keywords);
		}
		/* Under ASan or valgrind, reading a copy after its original went would show. */
		vh_config_destroy(configs[c]);
		if (db->type == VH_CHECK_POSTGRES) {
			cr_assert_str_eq(db->u.postgres.values[0], "db.internal");
			cr_assert_null(db->u.postgres.keywords[db->u.postgres.n_params]);
		} else {
			cr_assert_str_eq(db->u.process.pidfile, "/run/veza/api.pid");
		}
		for (size_t i = 0; i < n; i++) {
			vh_config_check_free(&copies[i]);
		}
		free(copies);
	}
}

Test(config_reload, settings_that_need_a_restart_are_kept) {
	struct vh_config *running =
			load_text("{\"service\": \"a\", \"listen\": [\"127.0.0.1:8099\"],"
				  " \"dns\": {\"attempts\": 2}, \"history\": {\"results\": 10},"
				  " \"checks\": [{\"name\": \"p\", \"type\": \"process\","
				  " \"process\": {\"comm\": \"x\"}}]}");
	struct vh_config *next = load_text(
			"{\"service\": \"b\", \"listen\": [\":9000\"], \"shutdown_delay\": \"5s\","
			" \"dns\": {\"attempts\": 3}, \"history\": {\"results\": 20},"
			" \"checks\": [{\"name\": \"p\", \"type\": \"process\","
			" \"process\": {\"comm\": \"x\"}}]}");
	char names[64];
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 3);
	cr_assert_str_eq(names, "listen, dns, history");
	cr_assert_eq(next->n_listen, 1);
	cr_assert_str_eq(next->listen[0].host, "127.0.0.1");
	cr_assert_eq(next->listen[0].port, 8099);
	cr_assert_eq(next->dns.attempts, 2);
	cr_assert_eq(next->history.results, 10);
	cr_assert_eq(next->checks[0].history.results, 10, "so the check itself is kept");
	cr_assert(vh_config_check_equal(&running->checks[0], &next->checks[0]));
	cr_assert_str_eq(next->service, "b", "the rest applies");
	cr_assert_eq(next->shutdown_delay_ms, 5000);
	cr_assert_eq(vh_config_keep_fixed(running, next, names, sizeof(names)), 0);
	cr_assert_str_empty(names);
	vh_config_destroy(running);
	vh_config_destroy(next);
}
