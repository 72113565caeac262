/* fuzz_config.c - libFuzzer target for vh_config_load() over an in-memory file: errors are one
 * line that never echoes a value from the environment, and an effective config reloads as itself.
 */
/* memfd_create() */
#define _GNU_SOURCE
#include "fuzz_common.h"

#include <sys/mman.h>
#include <unistd.h>

#include "vh/config.h"

/* Values the seeds' ${VAR}s expand to; each is distinctive, so finding one in an error means the
 * loader echoed the environment. */
static const struct {
	const char *name;
	const char *value;
} env[] = {
		{"VEZA_DB_PASSWORD", "Zq8vK3mW9xR2pw"},
		{"VEZA_DB_HOST", "envhostQ7x.example"},
		{"VEZA_DB_NAME", "envdbnameQ7x"},
		{"VEZA_DB_USER", "envuserQ7x"},
		{"VEZA_DB_PORT", "5432"},
		{"VEZA_REDIS_URL", "redis://envuserQ7x:Zq8vK3mW9xR2pw@127.0.0.1:6379/1"},
		{"REDIS_URL", "redis://:Zq8vK3mW9xR2pw@envhostQ7x.example:6379"},
		{"VH_TEST_SERVICE", "envserviceQ7x"},
		{"VH_TEST_PORT", "8099"},
		{"VH_TEST_EMPTY", ""},
};
static const char secret[] = "Zq8vK3mW9xR2pw";
static const char *const markers[] = {
		"Zq8vK3mW9xR2pw", "envhostQ7x", "envdbnameQ7x", "envuserQ7x", "envserviceQ7x"};

static int memfd = -1;
static char path[64];
static char path_again[64];
static int memfd_again = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
	for (size_t i = 0; i < sizeof(env) / sizeof(env[0]); i++) {
		setenv(env[i].name, env[i].value, 1);
	}
	memfd = memfd_create("fuzz-config", 0);
	memfd_again = memfd_create("fuzz-config-again", 0);
	FUZZ_CHECK(memfd >= 0 && memfd_again >= 0, "memfd_create failed");
	snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
	snprintf(path_again, sizeof(path_again), "/proc/self/fd/%d", memfd_again);
	return 0;
}

static void put_file(int fd, const void *data, size_t size) {
	FUZZ_CHECK(ftruncate(fd, 0) == 0, "ftruncate failed");
	FUZZ_CHECK(size == 0 || pwrite(fd, data, size, 0) == (ssize_t)size, "pwrite failed");
}

static bool typed_in(const uint8_t *data, size_t size, const char *text) {
	return memmem(data, size, text, strlen(text)) != NULL;
}

static void check_error(const uint8_t *data, size_t size, const char *err, size_t err_len) {
	FUZZ_CHECK(strnlen(err, err_len) < err_len && err[0] != '\0', "failure without a reason");
	FUZZ_CHECK(strchr(err, '\n') == NULL, "an error of more than one line");
	for (size_t i = 0; i < sizeof(markers) / sizeof(markers[0]); i++) {
		FUZZ_CHECK(typed_in(data, size, markers[i]) || strstr(err, markers[i]) == NULL,
				"an error echoed a value from the environment");
	}
}

/* The effective config, dumped, is a config file that loads to the same effective config; a
 * dump holding "<redacted>" cannot load, since a password must come from ${VAR}. */
static void check_reload(const char *dump) {
	if (strstr(dump, "<redacted>")) {
		return;
	}
	char err[512];
	put_file(memfd_again, dump, strlen(dump));
	struct vh_config *again = vh_config_load(path_again, err, sizeof(err));
	if (!again) {
		fprintf(stderr, "dump:\n%s\nreload error: %s\n", dump, err);
	}
	FUZZ_CHECK(again, "a dumped config does not load");
	char *dump_again = vh_config_dump(again);
	FUZZ_CHECK(dump_again, "out of memory");
	if (strcmp(dump, dump_again) != 0) {
		fprintf(stderr, "dump:\n%s\nreloaded dump:\n%s\n", dump, dump_again);
	}
	FUZZ_CHECK(strcmp(dump, dump_again) == 0, "a dumped config reloads differently");
	free(dump_again);
	vh_config_destroy(again);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	char err[512];
	put_file(memfd, data, size);
	struct vh_config *config = vh_config_load(path, err, sizeof(err));
	if (!config) {
		check_error(data, size, err, sizeof(err));
		return 0;
	}
	FUZZ_CHECK(config->n_checks >= 1, "no built-in sidecar check");
	FUZZ_CHECK(strcmp(config->checks[config->n_checks - 1].name, VH_CONFIG_SIDECAR_NAME) == 0,
			"the last check is not the sidecar");
	char *dump = vh_config_dump(config);
	FUZZ_CHECK(dump, "out of memory");
	FUZZ_CHECK(typed_in(data, size, secret) || strstr(dump, secret) == NULL,
			"the dump shows a password from the environment");
	check_reload(dump);
	free(dump);
	vh_config_destroy(config);
	return 0;
}
