/* test_cgroup.c - the cgroup v2 file parsers and the cgroup probe, over fixture directories. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/cgroup.h"
#include "vh/cgroup_probe.h"

#define CGROUP VH_FIXTURES "/cgroup"

/* Reads a whole small file into buf and returns its length. */
static size_t slurp(const char *path, char *buf, size_t cap) {
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "cannot open %s", path);
	size_t len = 0;
	ssize_t n;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
	}
	close(fd);
	return len;
}

static bool limit_of(const char *text, uint64_t *out, bool *is_max) {
	return vh_cgroup_parse_limit(text, strlen(text), out, is_max);
}

static bool keyed_of(const char *text, const char *key, uint64_t *out) {
	return vh_cgroup_parse_keyed(text, strlen(text), key, out);
}

static bool pressure_of(const char *text, double *out) {
	return vh_cgroup_parse_pressure(text, strlen(text), out);
}

TestSuite(cgroup_limit, .timeout = 10);

Test(cgroup_limit, number_fixture) {
	char buf[64];
	uint64_t value = 0;
	bool is_max = true;
	size_t len = slurp(CGROUP "/limited/memory.max", buf, sizeof(buf));
	cr_assert(vh_cgroup_parse_limit(buf, len, &value, &is_max));
	cr_assert_eq(value, 536870912);
	cr_assert_not(is_max);
}

Test(cgroup_limit, max_fixture_leaves_value) {
	char buf[64];
	uint64_t value = 7;
	bool is_max = false;
	size_t len = slurp(CGROUP "/unlimited/memory.max", buf, sizeof(buf));
	cr_assert(vh_cgroup_parse_limit(buf, len, &value, &is_max));
	cr_assert(is_max);
	cr_assert_eq(value, 7);
}

Test(cgroup_limit, without_newline) {
	uint64_t value = 0;
	bool is_max = true;
	cr_assert(limit_of("1024", &value, &is_max));
	cr_assert_eq(value, 1024);
	cr_assert_not(is_max);
}

Test(cgroup_limit, largest_value) {
	uint64_t value = 0;
	bool is_max;
	cr_assert(limit_of("18446744073709551615\n", &value, &is_max));
	cr_assert_eq(value, UINT64_MAX);
}

Test(cgroup_limit, respects_len) {
	uint64_t value = 0;
	bool is_max;
	cr_assert(vh_cgroup_parse_limit("12345", 2, &value, &is_max));
	cr_assert_eq(value, 12);
}

Test(cgroup_limit, rejects_garbage) {
	uint64_t value = 7;
	bool is_max = false;
	cr_assert_not(limit_of("12abc\n", &value, &is_max));
	cr_assert_not(limit_of("maximum\n", &value, &is_max));
	cr_assert_not(limit_of("1 2\n", &value, &is_max));
	cr_assert_not(limit_of("0x10\n", &value, &is_max));
	cr_assert_eq(value, 7);
	cr_assert_not(is_max);
}

Test(cgroup_limit, rejects_empty) {
	uint64_t value;
	bool is_max;
	cr_assert_not(limit_of("", &value, &is_max));
	cr_assert_not(limit_of("\n", &value, &is_max));
}

Test(cgroup_limit, rejects_negative) {
	uint64_t value;
	bool is_max;
	cr_assert_not(limit_of("-1\n", &value, &is_max));
	cr_assert_not(limit_of("+1\n", &value, &is_max));
}

Test(cgroup_limit, rejects_overflow) {
	uint64_t value;
	bool is_max;
	cr_assert_not(limit_of("18446744073709551616\n", &value, &is_max));
	cr_assert_not(limit_of("999999999999999999999999999999\n", &value, &is_max));
}

TestSuite(cgroup_keyed, .timeout = 10);

Test(cgroup_keyed, events_fixture) {
	char buf[256];
	uint64_t value = 0;
	size_t len = slurp(CGROUP "/limited/memory.events", buf, sizeof(buf));
	cr_assert(vh_cgroup_parse_keyed(buf, len, "oom_kill", &value));
	cr_assert_eq(value, 3);
	cr_assert(vh_cgroup_parse_keyed(buf, len, "max", &value));
	cr_assert_eq(value, 12);
	cr_assert(vh_cgroup_parse_keyed(buf, len, "oom_group_kill", &value));
	cr_assert_eq(value, 0);
}

Test(cgroup_keyed, whole_word_at_line_start) {
	uint64_t value = 0;
	cr_assert(keyed_of("oom_kill_disable 1\nxoom_kill 7\noom_kill 5\n", "oom_kill", &value));
	cr_assert_eq(value, 5);
}

Test(cgroup_keyed, longer_keys_do_not_match) {
	uint64_t value = 9;
	cr_assert_not(keyed_of("oom_kill_disable 1\nxoom_kill 7\n", "oom_kill", &value));
	cr_assert_eq(value, 9);
}

Test(cgroup_keyed, missing_key) {
	uint64_t value;
	cr_assert_not(keyed_of("low 0\nhigh 0\n", "oom_kill", &value));
	cr_assert_not(keyed_of("", "oom_kill", &value));
}

Test(cgroup_keyed, last_line_without_newline) {
	uint64_t value = 0;
	cr_assert(keyed_of("low 0\noom_kill 9", "oom_kill", &value));
	cr_assert_eq(value, 9);
}

Test(cgroup_keyed, respects_len) {
	uint64_t value = 0;
	cr_assert(vh_cgroup_parse_keyed("oom_kill 12", 10, "oom_kill", &value));
	cr_assert_eq(value, 1);
}

Test(cgroup_keyed, rejects_malformed_values) {
	uint64_t value = 4;
	cr_assert_not(keyed_of("oom_kill x\n", "oom_kill", &value));
	cr_assert_not(keyed_of("oom_kill -1\n", "oom_kill", &value));
	cr_assert_not(keyed_of("oom_kill \n", "oom_kill", &value));
	cr_assert_not(keyed_of("oom_kill 3 4\n", "oom_kill", &value));
	cr_assert_not(keyed_of("oom_kill 99999999999999999999\n", "oom_kill", &value));
	cr_assert_eq(value, 4);
}

Test(cgroup_keyed, rejects_empty_key) {
	uint64_t value;
	cr_assert_not(keyed_of(" 5\n", "", &value));
}

TestSuite(cgroup_pressure, .timeout = 10);

Test(cgroup_pressure, fixtures) {
	char buf[256];
	double value = -1;
	size_t len = slurp(CGROUP "/limited/memory.pressure", buf, sizeof(buf));
	cr_assert(vh_cgroup_parse_pressure(buf, len, &value));
	cr_assert_float_eq(value, 1.50, 1e-9);
	len = slurp(CGROUP "/pressured/memory.pressure", buf, sizeof(buf));
	cr_assert(vh_cgroup_parse_pressure(buf, len, &value));
	cr_assert_float_eq(value, 42.50, 1e-9);
}

Test(cgroup_pressure, some_line_after_full) {
	double value = -1;
	cr_assert(pressure_of("full avg10=9.00 avg60=0 avg300=0 total=1\n"
			      "some avg10=3.25 avg60=0 avg300=0 total=2\n",
			&value));
	cr_assert_float_eq(value, 3.25, 1e-9);
}

Test(cgroup_pressure, field_found_by_name) {
	double value = -1;
	cr_assert(pressure_of("some avg60=2.00 avg10=5.25\n", &value));
	cr_assert_float_eq(value, 5.25, 1e-9);
}

Test(cgroup_pressure, full_line_only) {
	double value;
	cr_assert_not(pressure_of("full avg10=3.00 avg60=0.00 avg300=0.00 total=0\n", &value));
}

Test(cgroup_pressure, no_avg10) {
	double value;
	cr_assert_not(pressure_of("some avg60=1.00 avg300=0.00 total=0\n", &value));
	cr_assert_not(pressure_of("some xavg10=1.00\n", &value));
}

Test(cgroup_pressure, rejects_malformed_values) {
	double value = 8;
	cr_assert_not(pressure_of("some avg10=abc avg60=0.00\n", &value));
	cr_assert_not(pressure_of("some avg10= avg60=1.00\n", &value));
	cr_assert_not(pressure_of("some avg10=-1.00 avg60=0.00\n", &value));
	cr_assert_not(pressure_of("some avg10=nan avg60=0.00\n", &value));
	cr_assert_not(pressure_of("some avg10=1.5x avg60=0.00\n", &value));
	cr_assert_not(pressure_of("some avg10=1e999 avg60=0.00\n", &value));
	cr_assert_float_eq(value, 8, 1e-9);
}

/* The probe over fixture directories. */

struct capture {
	int calls;
	uint64_t run;
	struct vh_check_result result;
};

static void on_done(void *arg, uint64_t run, const struct vh_check_result *result) {
	struct capture *capture = arg;
	capture->calls++;
	capture->run = run;
	capture->result = *result;
}

static struct vh_check_result run_probe(struct vh_probe *probe) {
	struct capture capture = {0};
	cr_assert(probe->ops->start(probe->impl, 1, on_done, &capture));
	cr_assert_eq(capture.calls, 1, "done must be called once, before start() returns");
	return capture.result;
}

static void create_probe(const struct vh_cgroup_config *config, struct vh_probe *probe) {
	char err[256] = "";
	cr_assert(vh_cgroup_probe_create(config, probe, err, sizeof(err)), "%s", err);
}

static void assert_measure(const struct vh_check_result *result, size_t i, const char *key,
		const char *name, double value, const char *unit) {
	cr_assert_lt(i, result->n_measures);
	cr_assert_str_eq(result->measures[i].key, key);
	cr_assert_str_eq(result->measures[i].name, name);
	cr_assert_str_eq(result->measures[i].unit, unit);
	cr_assert_float_eq(result->measures[i].value, value, 1e-6);
}

/* A copy of a fixture directory that a test may change, removed by the suite's fini. */
static char tmp_dir[] = "/tmp/vh-cgroup-XXXXXX";
static bool tmp_made;

static void write_text(const char *path, const char *text) {
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* Writes DIR/NAME into dst, which must be PATH_MAX long. */
static void join(char *dst, const char *dir, const char *name) {
	int n = snprintf(dst, PATH_MAX, "%s/%s", dir, name);
	cr_assert(n > 0 && n < PATH_MAX, "path too long");
}

static const char *copy_fixture(const char *name) {
	char src_dir[PATH_MAX];
	char path[PATH_MAX];
	char buf[1024];
	cr_assert_not_null(mkdtemp(tmp_dir));
	tmp_made = true;
	join(src_dir, CGROUP, name);
	DIR *dir = opendir(src_dir);
	cr_assert_not_null(dir);
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (entry->d_name[0] == '.') {
			continue;
		}
		join(path, src_dir, entry->d_name);
		size_t len = slurp(path, buf, sizeof(buf) - 1);
		buf[len] = '\0';
		join(path, tmp_dir, entry->d_name);
		write_text(path, buf);
	}
	closedir(dir);
	return tmp_dir;
}

static void remove_copy(void) {
	char path[PATH_MAX];
	if (!tmp_made) {
		return;
	}
	DIR *dir = opendir(tmp_dir);
	if (dir) {
		struct dirent *entry;
		while ((entry = readdir(dir)) != NULL) {
			if (entry->d_name[0] != '.') {
				join(path, tmp_dir, entry->d_name);
				unlink(path);
			}
		}
		closedir(dir);
	}
	rmdir(tmp_dir);
}

TestSuite(cgroup_probe, .timeout = 10, .fini = remove_copy);

Test(cgroup_probe, type_is_cgroup) {
	struct vh_cgroup_config config = {.path = CGROUP "/limited"};
	struct vh_probe probe;
	create_probe(&config, &probe);
	cr_assert_str_eq(probe.ops->type, "cgroup");
	probe.ops->cancel(probe.impl);
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, create_needs_path) {
	struct vh_cgroup_config config = {.path = NULL};
	struct vh_probe probe;
	char err[256] = "";
	cr_assert_not(vh_cgroup_probe_create(&config, &probe, err, sizeof(err)));
	cr_assert_str_eq(err, "cgroup probe needs a path");
}

Test(cgroup_probe, done_gets_run_number) {
	struct vh_cgroup_config config = {.path = CGROUP "/limited"};
	struct vh_probe probe;
	struct capture capture = {0};
	create_probe(&config, &probe);
	cr_assert(probe.ops->start(probe.impl, 42, on_done, &capture));
	cr_assert_eq(capture.calls, 1);
	cr_assert_eq(capture.run, 42);
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, limited) {
	struct vh_cgroup_config config = {.path = CGROUP "/limited", .oom_kill = VH_OOM_WARN};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_PASS);
	cr_assert_str_eq(result.output,
			"memory 128.0 MiB of 512.0 MiB (25.0%), pressure avg10 1.50%, oom_kill 3");
	cr_assert_eq(result.n_measures, 3);
	assert_measure(&result, 0, "memory_bytes", "memory", 134217728, "bytes");
	assert_measure(&result, 1, "memory_percent", "utilization", 25.0, "percent");
	assert_measure(&result, 2, "pressure_avg10", "pressure", 1.5, "percent");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, unlimited_has_no_percent) {
	struct vh_cgroup_config config = {.path = CGROUP "/unlimited", .memory_warn_percent = 1};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_PASS);
	cr_assert_str_eq(result.output, "memory 41.2 MiB, no limit, oom_kill 0");
	cr_assert_eq(result.n_measures, 1);
	assert_measure(&result, 0, "memory_bytes", "memory", 43200512, "bytes");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, v1_directory_warns) {
	struct vh_cgroup_config config = {.path = CGROUP "/v1"};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_WARN);
	cr_assert_str_eq(result.output,
			"cgroup v2 memory controller not available at " CGROUP "/v1");
	cr_assert_eq(result.n_measures, 0);
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, missing_directory_warns) {
	struct vh_cgroup_config config = {.path = CGROUP "/missing"};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_WARN);
	cr_assert_str_eq(result.output,
			"cgroup v2 memory controller not available at " CGROUP "/missing");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, file_instead_of_directory_warns) {
	struct vh_cgroup_config config = {.path = CGROUP "/limited/memory.max"};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_WARN);
	cr_assert_str_eq(result.output,
			"cgroup v2 memory controller not available at " CGROUP
			"/limited/memory.max");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, garbage_memory_current_fails) {
	const char *dir = copy_fixture("limited");
	char path[PATH_MAX];
	char expected[PATH_MAX + 64];
	join(path, dir, "memory.current");
	write_text(path, "lots\n");
	struct vh_cgroup_config config = {.path = (char *)dir};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_FAIL);
	cr_assert_lt(snprintf(expected, sizeof(expected), "bad %s: not a byte count", path),
			(int)sizeof(expected));
	cr_assert_str_eq(result.output, expected);
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, memory_warn_threshold) {
	struct vh_cgroup_config config = {.path = CGROUP "/pressured", .memory_warn_percent = 80};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_WARN);
	cr_assert_str_eq(result.output, "memory 93.8% of 512.0 MiB >= warn threshold 80.0%");
	assert_measure(&result, 1, "memory_percent", "utilization", 93.75, "percent");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, memory_fail_threshold) {
	struct vh_cgroup_config config = {
			.path = CGROUP "/pressured",
			.memory_warn_percent = 80,
			.memory_fail_percent = 90,
	};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_FAIL);
	cr_assert_str_eq(result.output, "memory 93.8% of 512.0 MiB >= fail threshold 90.0%");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, below_thresholds_passes) {
	struct vh_cgroup_config config = {
			.path = CGROUP "/limited",
			.memory_warn_percent = 80,
			.memory_fail_percent = 90,
			.pressure_warn = 10,
			.pressure_fail = 20,
	};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_PASS);
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, pressure_warn_threshold) {
	struct vh_cgroup_config config = {.path = CGROUP "/pressured", .pressure_warn = 20};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_WARN);
	cr_assert_str_eq(result.output, "memory pressure avg10 42.50% >= warn threshold 20.00%");
	assert_measure(&result, 2, "pressure_avg10", "pressure", 42.5, "percent");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, pressure_fail_threshold) {
	struct vh_cgroup_config config = {
			.path = CGROUP "/pressured",
			.memory_warn_percent = 80,
			.pressure_warn = 20,
			.pressure_fail = 40,
	};
	struct vh_probe probe;
	create_probe(&config, &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_FAIL);
	cr_assert_str_eq(result.output, "memory pressure avg10 42.50% >= fail threshold 40.00%");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, oom_kill_first_run_is_baseline) {
	struct vh_cgroup_config config = {.path = CGROUP "/limited", .oom_kill = VH_OOM_FAIL};
	struct vh_probe probe;
	create_probe(&config, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, oom_kill_rise_warns) {
	const char *dir = copy_fixture("limited");
	char events[PATH_MAX];
	join(events, dir, "memory.events");
	struct vh_cgroup_config config = {.path = (char *)dir, .oom_kill = VH_OOM_WARN};
	struct vh_probe probe;
	create_probe(&config, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	write_text(events, "low 0\nhigh 0\nmax 14\noom 5\noom_kill 5\noom_group_kill 0\n");
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_WARN);
	cr_assert_str_eq(result.output, "oom_kill rose by 2 (now 5)");
	cr_assert_eq(result.n_measures, 3);
	result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_PASS, "no new kill since the last run");
	cr_assert_str_eq(result.output,
			"memory 128.0 MiB of 512.0 MiB (25.0%), pressure avg10 1.50%, oom_kill 5");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, oom_kill_rise_fails) {
	const char *dir = copy_fixture("limited");
	char events[PATH_MAX];
	join(events, dir, "memory.events");
	struct vh_cgroup_config config = {.path = (char *)dir, .oom_kill = VH_OOM_FAIL};
	struct vh_probe probe;
	create_probe(&config, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	write_text(events, "oom_kill 4\n");
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_FAIL);
	cr_assert_str_eq(result.output, "oom_kill rose by 1 (now 4)");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, oom_kill_rise_ignored) {
	const char *dir = copy_fixture("limited");
	char events[PATH_MAX];
	join(events, dir, "memory.events");
	struct vh_cgroup_config config = {.path = (char *)dir, .oom_kill = VH_OOM_IGNORE};
	struct vh_probe probe;
	create_probe(&config, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	write_text(events, "oom_kill 40\n");
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_PASS);
	cr_assert_str_eq(result.output,
			"memory 128.0 MiB of 512.0 MiB (25.0%), pressure avg10 1.50%, oom_kill 40");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, oom_kill_drop_is_new_baseline) {
	const char *dir = copy_fixture("limited");
	char events[PATH_MAX];
	join(events, dir, "memory.events");
	struct vh_cgroup_config config = {.path = (char *)dir, .oom_kill = VH_OOM_FAIL};
	struct vh_probe probe;
	create_probe(&config, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	write_text(events, "oom_kill 0\n");
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	write_text(events, "oom_kill 1\n");
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_FAIL);
	cr_assert_str_eq(result.output, "oom_kill rose by 1 (now 1)");
	probe.ops->destroy(probe.impl);
}

Test(cgroup_probe, oom_kill_beats_equal_threshold) {
	const char *dir = copy_fixture("pressured");
	char events[PATH_MAX];
	join(events, dir, "memory.events");
	struct vh_cgroup_config config = {
			.path = (char *)dir,
			.memory_warn_percent = 80,
			.oom_kill = VH_OOM_WARN,
	};
	struct vh_probe probe;
	create_probe(&config, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_WARN);
	write_text(events, "oom_kill 2\n");
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_WARN);
	cr_assert_str_eq(result.output, "oom_kill rose by 2 (now 2)");
	probe.ops->destroy(probe.impl);
}
