/* config_test.h - helpers shared by the config loader's unit tests. */
#ifndef VH_TEST_CONFIG_TEST_H
#define VH_TEST_CONFIG_TEST_H
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vh/config.h"

#define FIXTURE(name) VH_FIXTURES "/config/" name

/* The message of the last load; static, so each test binary has its own. */
static char err[512];

static inline struct vh_config *load_ok(const char *path) {
	err[0] = '\0';
	struct vh_config *config = vh_config_load(path, err, sizeof(err));
	cr_assert_not_null(config, "%s failed: %s", path, err);
	cr_assert_str_empty(err);
	return config;
}

/* Loads fixture name and asserts the one message: the path followed by suffix. */
static inline void expect_error(const char *name, const char *suffix) {
	char path[512], expected[1024];
	snprintf(path, sizeof(path), "%s/config/%s", VH_FIXTURES, name);
	snprintf(expected, sizeof(expected), "%s%s", path, suffix);
	err[0] = '\0';
	struct vh_config *config = vh_config_load(path, err, sizeof(err));
	cr_assert_null(config, "%s loaded but should fail with %s", name, suffix);
	cr_assert_str_eq(err, expected);
}

/* Writes text to a new temporary file and returns its path in buf. */
static inline const char *write_temp(const char *text, char *buf, size_t len) {
	snprintf(buf, len, "/tmp/vh_test_config_XXXXXX");
	int fd = mkstemp(buf);
	cr_assert_geq(fd, 0);
	FILE *f = fdopen(fd, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fputs(text, f) >= 0, true);
	cr_assert_eq(fclose(f), 0);
	return buf;
}

static inline const struct vh_check_config *find_check(
		const struct vh_config *config, const char *name) {
	for (size_t i = 0; i < config->n_checks; i++) {
		if (strcmp(config->checks[i].name, name) == 0) {
			return &config->checks[i];
		}
	}
	cr_assert_fail("no check named %s", name);
	return NULL;
}

/* Writes json to a temporary file, loads it and asserts the message after the path. */
static inline void expect_inline_error(const char *json, const char *suffix) {
	char path[64], expected[1024];
	write_temp(json, path, sizeof(path));
	struct vh_config *config = vh_config_load(path, err, sizeof(err));
	unlink(path);
	cr_assert_null(config, "%s loaded but should fail with %s", json, suffix);
	snprintf(expected, sizeof(expected), "%s%s", path, suffix);
	cr_assert_str_eq(err, expected);
}

#endif
