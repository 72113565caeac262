/* test_pg_params.c - the effective host comes from params, PGHOST or a service file, and libpq
 * gets it back with the address found, so that it never resolves a name itself. */
#include <criterion/criterion.h>
#include <criterion/new/assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/pg_params.h"

static const char *const pg_env[] = {"PGHOST", "PGHOSTADDR", "PGPORT", "PGSERVICE", "PGSERVICEFILE",
		"PGPASSWORD", "PGGSSENCMODE", "PGAPPNAME", "PGSYSCONFDIR"};

/* Each test runs in a process of its own, so the environment can be set freely. */
static void clean_env(void) {
	for (size_t i = 0; i < sizeof(pg_env) / sizeof(pg_env[0]); i++) {
		unsetenv(pg_env[i]);
	}
	/* No system-wide service file from the machine running the tests. */
	setenv("PGSYSCONFDIR", "/nonexistent", 1);
}

TestSuite(pg_params, .init = clean_env);

static struct vh_postgres_config config_of(char **keywords, char **values) {
	struct vh_postgres_config config = {0};
	config.keywords = keywords;
	config.values = values;
	while (keywords[config.n_params]) {
		config.n_params++;
	}
	return config;
}

static struct vh_pg_params *create(const struct vh_postgres_config *config) {
	char err[256] = "";
	struct vh_pg_params *params = vh_pg_params_create(config, err, sizeof(err));
	cr_assert(params != NULL, "create failed: %s", err);
	return params;
}

/* The value a built array gives key, and how often the key occurs. */
static const char *built(const char *const *keywords, const char *const *values, const char *key,
		int *count) {
	const char *found = NULL;
	*count = 0;
	for (size_t i = 0; keywords[i]; i++) {
		if (strcmp(keywords[i], key) == 0) {
			found = values[i];
			(*count)++;
		}
	}
	return found;
}

static void assert_param(const char *const *keywords, const char *const *values, const char *key,
		const char *want) {
	int count;
	const char *got = built(keywords, values, key, &count);
	if (!want) {
		cr_assert(eq(int, count, 0), "%s should be absent, is \"%s\"", key, got);
		return;
	}
	cr_assert(eq(int, count, 1), "%s occurs %d times", key, count);
	cr_assert(eq(str, (char *)got, (char *)want), "%s", key);
}

Test(pg_params, a_configured_name_is_resolved_and_passed_as_hostaddr) {
	char *keys[] = {"host", "port", "user", NULL};
	char *vals[] = {"db.internal", "6432", "app", NULL};
	struct vh_postgres_config config = config_of(keys, vals);
	struct vh_pg_params *params = create(&config);
	const char *const *kw;
	const char *const *val;
	cr_assert(eq(sz, vh_pg_params_hosts(params), 1));
	cr_assert(eq(str, (char *)vh_pg_params_lookup_name(params, 0), "db.internal"));
	cr_assert(not(vh_pg_params_build(params, &kw, &val)), "nothing resolved yet");
	vh_pg_params_set_addr(params, 0, "10.0.0.7");
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "host", "db.internal");
	assert_param(kw, val, "hostaddr", "10.0.0.7");
	assert_param(kw, val, "port", "6432");
	assert_param(kw, val, "user", "app");
	assert_param(kw, val, "fallback_application_name", "veza-health");
	assert_param(kw, val, "gssencmode", "disable");
	assert_param(kw, val, "keepalives", "1");
	vh_pg_params_clear_addrs(params);
	cr_assert(not(vh_pg_params_build(params, &kw, &val)), "cleared for the next attempt");
	vh_pg_params_destroy(params);
}

Test(pg_params, sockets_and_no_host_need_no_lookup) {
	char *keys[] = {"host", NULL};
	char *vals[] = {"/var/run/postgresql", NULL};
	struct vh_postgres_config config = config_of(keys, vals);
	struct vh_pg_params *params = create(&config);
	const char *const *kw;
	const char *const *val;
	cr_assert(eq(sz, vh_pg_params_hosts(params), 0));
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "host", "/var/run/postgresql");
	assert_param(kw, val, "hostaddr", NULL);
	vh_pg_params_destroy(params);

	char *none[] = {NULL};
	config = config_of(none, none);
	params = create(&config);
	cr_assert(eq(sz, vh_pg_params_hosts(params), 0), "libpq's default socket");
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "host", NULL);
	vh_pg_params_destroy(params);
}

Test(pg_params, pghost_is_resolved_too) {
	char *none[] = {NULL};
	struct vh_postgres_config config = config_of(none, none);
	setenv("PGHOST", "pgenv.test", 1);
	struct vh_pg_params *params = create(&config);
	const char *const *kw;
	const char *const *val;
	cr_assert(eq(str, (char *)vh_pg_params_lookup_name(params, 0), "pgenv.test"));
	vh_pg_params_set_addr(params, 0, "::1");
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "host", "pgenv.test");
	assert_param(kw, val, "hostaddr", "::1");
	vh_pg_params_destroy(params);
}

Test(pg_params, config_host_wins_over_pghost) {
	char *keys[] = {"host", NULL};
	char *vals[] = {"cfg.test", NULL};
	struct vh_postgres_config config = config_of(keys, vals);
	setenv("PGHOST", "pgenv.test", 1);
	struct vh_pg_params *params = create(&config);
	cr_assert(eq(str, (char *)vh_pg_params_lookup_name(params, 0), "cfg.test"));
	vh_pg_params_destroy(params);
}

Test(pg_params, a_host_list_keeps_sockets_and_skips_names_that_did_not_resolve) {
	char *none[] = {NULL};
	struct vh_postgres_config config = config_of(none, none);
	setenv("PGHOST", "a.test,/tmp,b.test", 1);
	setenv("PGPORT", "1,2,3", 1);
	struct vh_pg_params *params = create(&config);
	const char *const *kw;
	const char *const *val;
	cr_assert(eq(sz, vh_pg_params_hosts(params), 3));
	cr_assert(eq(ptr, (void *)vh_pg_params_lookup_name(params, 1), NULL), "a socket");
	vh_pg_params_set_addr(params, 0, "192.0.2.1");
	vh_pg_params_set_addr(params, 2, "192.0.2.2");
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "host", "a.test,/tmp,b.test");
	assert_param(kw, val, "hostaddr", "192.0.2.1,,192.0.2.2");
	assert_param(kw, val, "port", "1,2,3");

	vh_pg_params_clear_addrs(params);
	vh_pg_params_set_addr(params, 0, "192.0.2.1");
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "host", "a.test,/tmp");
	assert_param(kw, val, "hostaddr", "192.0.2.1,");
	assert_param(kw, val, "port", "1,2");
	vh_pg_params_destroy(params);
}

Test(pg_params, a_hostaddr_from_the_environment_leaves_everything_to_libpq) {
	char *keys[] = {"host", NULL};
	char *vals[] = {"db.internal", NULL};
	struct vh_postgres_config config = config_of(keys, vals);
	setenv("PGHOSTADDR", "10.1.2.3", 1);
	struct vh_pg_params *params = create(&config);
	const char *const *kw;
	const char *const *val;
	cr_assert(eq(sz, vh_pg_params_hosts(params), 0));
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "host", "db.internal");
	assert_param(kw, val, "hostaddr", NULL);
	vh_pg_params_destroy(params);
}

Test(pg_params, a_service_file_host_is_resolved_and_pgservice_is_left_alone) {
	char path[] = "/tmp/vh-test-pg-service-XXXXXX";
	int fd = mkstemp(path);
	cr_assert(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("[vhsvc]\nhost=svc.test\nport=7777\npassword=SvcSecret\n", f);
	fclose(f);
	setenv("PGSERVICEFILE", path, 1);
	char *keys[] = {"service", NULL};
	char *vals[] = {"vhsvc", NULL};
	struct vh_postgres_config config = config_of(keys, vals);
	struct vh_pg_params *params = create(&config);
	unlink(path);
	cr_assert(eq(str, (char *)vh_pg_params_lookup_name(params, 0), "svc.test"));
	cr_assert(eq(ptr, getenv("PGSERVICE"), NULL), "PGSERVICE restored to unset");
	size_t n;
	const char *const *secrets = vh_pg_params_secrets(params, &n);
	cr_assert(eq(sz, n, 1));
	cr_assert(eq(str, (char *)secrets[0], "SvcSecret"), "a service file password is scrubbed");
	vh_pg_params_destroy(params);

	setenv("PGSERVICE", "other", 1);
	params = create(&config);
	cr_assert(eq(str, getenv("PGSERVICE"), "other"), "PGSERVICE restored to its value");
	vh_pg_params_destroy(params);
}

Test(pg_params, passwords_from_params_and_pgpassword_are_secrets) {
	char *keys[] = {"password", NULL};
	char *vals[] = {"FromParams", NULL};
	struct vh_postgres_config config = config_of(keys, vals);
	setenv("PGPASSWORD", "FromEnv", 1);
	struct vh_pg_params *params = create(&config);
	size_t n;
	const char *const *secrets = vh_pg_params_secrets(params, &n);
	cr_assert(eq(sz, n, 2));
	cr_assert(eq(str, (char *)secrets[0], "FromParams"));
	cr_assert(eq(str, (char *)secrets[1], "FromEnv"));
	vh_pg_params_destroy(params);
}

Test(pg_params, settings_the_user_gave_are_not_overridden) {
	char *keys[] = {"host", "gssencmode", "keepalives", "fallback_application_name", NULL};
	char *vals[] = {"/sock", "prefer", "0", "mine", NULL};
	struct vh_postgres_config config = config_of(keys, vals);
	struct vh_pg_params *params = create(&config);
	const char *const *kw;
	const char *const *val;
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "gssencmode", "prefer");
	assert_param(kw, val, "keepalives", "0");
	assert_param(kw, val, "fallback_application_name", "mine");
	vh_pg_params_destroy(params);

	char *none[] = {NULL};
	config = config_of(none, none);
	setenv("PGGSSENCMODE", "require", 1);
	params = create(&config);
	cr_assert(vh_pg_params_build(params, &kw, &val));
	assert_param(kw, val, "gssencmode", NULL);
	vh_pg_params_destroy(params);
}

Test(pg_params, too_many_hosts_are_refused) {
	char *none[] = {NULL};
	struct vh_postgres_config config = config_of(none, none);
	setenv("PGHOST", "a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p,q", 1);
	char err[256] = "";
	cr_assert(eq(ptr, vh_pg_params_create(&config, err, sizeof(err)), NULL));
	cr_assert(eq(str, err, "host: at most 16 hosts are supported"));
}
