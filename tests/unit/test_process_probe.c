/* test_process_probe.c - the process probe over fixture /proc trees and over the real /proc. */
#include <criterion/criterion.h>

#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "vh/process_probe.h"

#define PROC VH_FIXTURES "/proc"
#define MIB (1024 * 1024)

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

static void create_probe(
		const struct vh_process_config *config, const char *root, struct vh_probe *probe) {
	char err[256] = "";
	cr_assert(vh_process_probe_create(config, root, probe, err, sizeof(err)), "%s", err);
}

/* Creates a probe over root, runs it once and destroys it. */
static struct vh_check_result run_once(const struct vh_process_config *config, const char *root) {
	struct vh_probe probe;
	create_probe(config, root, &probe);
	struct vh_check_result result = run_probe(&probe);
	probe.ops->destroy(probe.impl);
	return result;
}

static void assert_result(
		const struct vh_check_result *result, enum vh_status status, const char *output) {
	cr_assert_str_eq(result->output, output);
	cr_assert_eq(result->status, status, "status %s, want %s", vh_status_name(result->status),
			vh_status_name(status));
}

/* The fixtures' rss values are in pages; the expected outputs assume the common 4 KiB. */
static void require_4k_pages(void) {
	if (sysconf(_SC_PAGESIZE) != 4096) {
		cr_skip_test("fixture outputs assume 4 KiB pages");
	}
}

static double measure(const struct vh_check_result *result, const char *key) {
	for (size_t i = 0; i < result->n_measures; i++) {
		if (strcmp(result->measures[i].key, key) == 0) {
			return result->measures[i].value;
		}
	}
	cr_assert_fail("no measure %s", key);
	return 0;
}

/* Writes DIR/NAME into dst, which must be PATH_MAX long. */
static void join(char *dst, const char *dir, const char *name) {
	int n = snprintf(dst, PATH_MAX, "%s/%s", dir, name);
	cr_assert(n > 0 && n < PATH_MAX, "path too long");
}

static void write_text(const char *path, const char *text) {
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

/* A copy of the fixture tree that a test may change, removed by the suite's fini. */
static char tmp_root[] = "/tmp/vh-proc-XXXXXX";
static bool tmp_made;

static void copy_tree(const char *src, const char *dst) {
	char from[PATH_MAX];
	char to[PATH_MAX];
	DIR *dir = opendir(src);
	cr_assert_not_null(dir, "cannot list %s", src);
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		struct stat st;
		if (strcmp(entry->d_name, ".") == 0 || strcmp(entry->d_name, "..") == 0) {
			continue;
		}
		join(from, src, entry->d_name);
		join(to, dst, entry->d_name);
		cr_assert_eq(lstat(from, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			cr_assert_eq(mkdir(to, 0700), 0);
			copy_tree(from, to);
			continue;
		}
		/* Byte for byte: cmdline files hold NULs. */
		char buf[4096];
		int in = open(from, O_RDONLY);
		int out = open(to, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		cr_assert(in >= 0 && out >= 0);
		ssize_t n;
		while ((n = read(in, buf, sizeof(buf))) > 0) {
			cr_assert_eq(write(out, buf, (size_t)n), n);
		}
		close(in);
		close(out);
	}
	closedir(dir);
}

static void remove_tree(const char *path) {
	char child[PATH_MAX];
	DIR *dir = opendir(path);
	if (!dir) {
		unlink(path);
		return;
	}
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		if (strcmp(entry->d_name, ".") != 0 && strcmp(entry->d_name, "..") != 0) {
			join(child, path, entry->d_name);
			remove_tree(child);
		}
	}
	closedir(dir);
	rmdir(path);
}

static const char *copy_fixtures(void) {
	cr_assert_not_null(mkdtemp(tmp_root));
	tmp_made = true;
	copy_tree(PROC, tmp_root);
	return tmp_root;
}

static void remove_copy(void) {
	if (tmp_made) {
		remove_tree(tmp_root);
	}
}

TestSuite(process, .timeout = 20, .fini = remove_copy);

Test(process, type_is_process) {
	struct vh_process_config config = {.target = VH_PROCESS_SELF};
	struct vh_probe probe;
	create_probe(&config, "/proc", &probe);
	cr_assert_str_eq(probe.ops->type, "process");
	probe.ops->cancel(probe.impl);
	probe.ops->destroy(probe.impl);
}

Test(process, done_gets_run_number) {
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100200};
	struct vh_probe probe;
	struct capture capture = {0};
	create_probe(&config, PROC, &probe);
	cr_assert(probe.ops->start(probe.impl, 42, on_done, &capture));
	cr_assert_eq(capture.calls, 1);
	cr_assert_eq(capture.run, 42);
	probe.ops->destroy(probe.impl);
}

Test(process, create_rejects_missing_pidfile) {
	struct vh_process_config config = {.target = VH_PROCESS_PIDFILE};
	struct vh_probe probe;
	char err[256] = "";
	cr_assert_not(vh_process_probe_create(&config, PROC, &probe, err, sizeof(err)));
	cr_assert_str_eq(err, "process target pidfile needs a path");
}

Test(process, create_rejects_empty_comm) {
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = ""};
	struct vh_probe probe;
	char err[256] = "";
	cr_assert_not(vh_process_probe_create(&config, PROC, &probe, err, sizeof(err)));
	cr_assert_str_eq(err, "process target comm needs a name");
}

Test(process, create_rejects_zero_pid) {
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 0};
	struct vh_probe probe;
	char err[256] = "";
	cr_assert_not(vh_process_probe_create(&config, PROC, &probe, err, sizeof(err)));
	cr_assert_str_eq(err, "process target pid must be positive");
}

Test(process, pid_passes_with_measures) {
	require_4k_pages();
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100200};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
	cr_assert_eq(result.n_measures, 2);
	cr_assert_str_eq(result.measures[0].key, "rss_bytes");
	cr_assert_str_eq(result.measures[0].name, "memory");
	cr_assert_str_eq(result.measures[0].unit, "bytes");
	cr_assert_float_eq(result.measures[0].value, 10547.0 * 4096, 0.5);
	cr_assert_str_eq(result.measures[1].key, "threads");
	cr_assert_str_eq(result.measures[1].name, "threads");
	cr_assert_str_eq(result.measures[1].unit, "threads");
	cr_assert_float_eq(result.measures[1].value, 12, 1e-9);
}

Test(process, one_thread_singular) {
	require_4k_pages();
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100600};
	struct vh_check_result result = run_once(&config, PROC);
	/* The comm holds an escape character, which must not reach a one-line output. */
	assert_result(&result, VH_STATUS_PASS, "pid 4100600 (esc?[1m): rss 1.0 MiB, 1 thread");
}

Test(process, pid_missing_has_exited) {
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100999};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL, "process 4100999 has exited");
	cr_assert_eq(result.n_measures, 0);
}

Test(process, pid_exits_between_runs) {
	const char *root = copy_fixtures();
	char dir[PATH_MAX];
	join(dir, root, "4100200");
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100200};
	struct vh_probe probe;
	create_probe(&config, root, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	remove_tree(dir);
	struct vh_check_result result = run_probe(&probe);
	assert_result(&result, VH_STATUS_FAIL, "process 4100200 has exited");
	probe.ops->destroy(probe.impl);
}

Test(process, pid_reuse_detected) {
	const char *root = copy_fixtures();
	char stat_path[PATH_MAX];
	join(stat_path, root, "4100200/stat");
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100200};
	struct vh_probe probe;
	create_probe(&config, root, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	write_text(stat_path,
			"4100200 (sh) S 1 1 1 0 -1 4194560 10 0 0 0 0 0 0 0 20 0 1 0 777777 "
			"2000000 300 18446744073709551615\n");
	struct vh_check_result result = run_probe(&probe);
	assert_result(&result, VH_STATUS_FAIL,
			"pid 4100200 was reused by another process (start time changed)");
	result = run_probe(&probe);
	assert_result(&result, VH_STATUS_FAIL,
			"pid 4100200 was reused by another process (start time changed)");
	probe.ops->destroy(probe.impl);
}

Test(process, malformed_stat_fails) {
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100900};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL,
			"bad " PROC "/4100900/stat: truncated: 8 of 24 fields");
}

Test(process, zombie_fails) {
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = 4100300};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL, "process 4100300 is a zombie");
	cr_assert_float_eq(measure(&result, "threads"), 1, 1e-9);
	cr_assert_float_eq(measure(&result, "rss_bytes"), 0, 1e-9);
}

Test(process, comm_picks_oldest) {
	/* 4100100 is a worker with a smaller pid but a later start; 4100700 lost its stat. */
	require_4k_pages();
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = "veza-api"};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
}

Test(process, comm_exact_match_only) {
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = "veza"};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL, "no process named \"veza\" (comm)");
	cr_assert_eq(result.n_measures, 0);
}

Test(process, comm_with_parentheses) {
	require_4k_pages();
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = "a) (b"};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100500 (a) (b): rss 1.0 MiB, 2 threads");
}

Test(process, comm_looked_up_again_after_exit) {
	const char *root = copy_fixtures();
	char dir[PATH_MAX];
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = "veza-api"};
	struct vh_probe probe;
	create_probe(&config, root, &probe);
	cr_assert_str_eq(run_probe(&probe).output,
			"pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
	join(dir, root, "4100200");
	remove_tree(dir);
	struct vh_check_result result = run_probe(&probe);
	assert_result(&result, VH_STATUS_PASS, "pid 4100100 (veza-api): rss 10.0 MiB, 4 threads");
	join(dir, root, "4100100");
	remove_tree(dir);
	result = run_probe(&probe);
	assert_result(&result, VH_STATUS_FAIL, "no process named \"veza-api\" (comm)");
	probe.ops->destroy(probe.impl);
}

Test(process, comm_target_that_renamed_itself_is_dropped) {
	const char *root = copy_fixtures();
	char path[PATH_MAX];
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = "veza-api"};
	struct vh_probe probe;
	create_probe(&config, root, &probe);
	cr_assert_eq(run_probe(&probe).status, VH_STATUS_PASS);
	join(path, root, "4100200/comm");
	write_text(path, "other\n");
	struct vh_check_result result = run_probe(&probe);
	assert_result(&result, VH_STATUS_PASS, "pid 4100100 (veza-api): rss 10.0 MiB, 4 threads");
	probe.ops->destroy(probe.impl);
}

Test(process, comm_missing_root_fails) {
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = "veza-api"};
	struct vh_check_result result = run_once(&config, VH_FIXTURES "/no-such-proc");
	assert_result(&result, VH_STATUS_FAIL,
			"cannot list " VH_FIXTURES "/no-such-proc: No such file or directory");
}

Test(process, cmdline_across_arguments) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_CMDLINE,
			.cmdline = "--config /etc/veza",
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
}

Test(process, cmdline_picks_oldest) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_CMDLINE,
			.cmdline = "/usr/bin/veza-api",
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
}

Test(process, cmdline_worker_only) {
	require_4k_pages();
	struct vh_process_config config = {.target = VH_PROCESS_CMDLINE, .cmdline = "--worker"};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100100 (veza-api): rss 10.0 MiB, 4 threads");
}

Test(process, cmdline_no_match) {
	struct vh_process_config config = {.target = VH_PROCESS_CMDLINE, .cmdline = "nginx"};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL, "no process whose command line contains \"nginx\"");
}

Test(process, long_output_truncated) {
	char needle[400];
	memset(needle, 'x', sizeof(needle) - 1);
	needle[sizeof(needle) - 1] = '\0';
	struct vh_process_config config = {.target = VH_PROCESS_CMDLINE, .cmdline = needle};
	struct vh_check_result result = run_once(&config, PROC);
	cr_assert_eq(result.status, VH_STATUS_FAIL);
	cr_assert_eq(strlen(result.output), VH_CHECK_OUTPUT_MAX - 1);
	cr_assert_eq(strncmp(result.output, "no process whose command line contains \"xxx", 43), 0);
}

Test(process, pidfile_passes) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_PIDFILE,
			.pidfile = PROC "/veza-api.pid",
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
}

Test(process, pidfile_missing) {
	struct vh_process_config config = {.target = VH_PROCESS_PIDFILE, .pidfile = PROC "/no.pid"};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL,
			"cannot read pidfile " PROC "/no.pid: No such file or directory");
}

Test(process, pidfile_garbage) {
	struct vh_process_config config = {
			.target = VH_PROCESS_PIDFILE, .pidfile = PROC "/bad.pid"};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL, "bad pidfile " PROC "/bad.pid: not a pid: \"abc\"");
}

Test(process, pidfile_empty) {
	struct vh_process_config config = {
			.target = VH_PROCESS_PIDFILE,
			.pidfile = PROC "/empty.pid",
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL, "bad pidfile " PROC "/empty.pid: empty");
}

Test(process, pidfile_stale) {
	struct vh_process_config config = {
			.target = VH_PROCESS_PIDFILE,
			.pidfile = PROC "/stale.pid",
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL, "process 4100999 has exited");
}

Test(process, pidfile_read_every_run) {
	require_4k_pages();
	const char *root = copy_fixtures();
	char pidfile[PATH_MAX];
	join(pidfile, root, "veza-api.pid");
	struct vh_process_config config = {.target = VH_PROCESS_PIDFILE, .pidfile = pidfile};
	struct vh_probe probe;
	create_probe(&config, root, &probe);
	cr_assert_str_eq(run_probe(&probe).output,
			"pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
	/* A restart rewrites the pidfile; the new process is the target, not an impostor. */
	write_text(pidfile, "4100100\n");
	struct vh_check_result result = run_probe(&probe);
	assert_result(&result, VH_STATUS_PASS, "pid 4100100 (veza-api): rss 10.0 MiB, 4 threads");
	unlink(pidfile);
	result = run_probe(&probe);
	char expected[PATH_MAX + 64];
	cr_assert_lt(snprintf(expected, sizeof(expected),
				     "cannot read pidfile %s: No such file or directory", pidfile),
			(int)sizeof(expected));
	assert_result(&result, VH_STATUS_FAIL, expected);
	probe.ops->destroy(probe.impl);
}

Test(process, rss_warn_threshold) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_PID,
			.pid = 4100400,
			.rss_warn_bytes = 700ULL * MIB,
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_WARN,
			"pid 4100400 (hog): rss 812.5 MiB >= warn threshold 700.0 MiB");
	cr_assert_eq(result.n_measures, 2);
}

Test(process, rss_fail_threshold) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_PID,
			.pid = 4100400,
			.rss_warn_bytes = 700ULL * MIB,
			.rss_fail_bytes = 800ULL * MIB,
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL,
			"pid 4100400 (hog): rss 812.5 MiB >= fail threshold 800.0 MiB");
}

Test(process, rss_threshold_reached_exactly) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_PID,
			.pid = 4100400,
			.rss_fail_bytes = 208000ULL * 4096,
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL,
			"pid 4100400 (hog): rss 812.5 MiB >= fail threshold 812.5 MiB");
}

Test(process, threads_warn_threshold) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_PID,
			.pid = 4100400,
			.threads_warn = 100,
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_WARN,
			"pid 4100400 (hog): 150 threads >= warn threshold 100");
}

Test(process, threads_fail_threshold) {
	struct vh_process_config config = {
			.target = VH_PROCESS_PID,
			.pid = 4100400,
			.threads_warn = 100,
			.threads_fail = 150,
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL,
			"pid 4100400 (hog): 150 threads >= fail threshold 150");
}

Test(process, fail_beats_warn) {
	struct vh_process_config config = {
			.target = VH_PROCESS_PID,
			.pid = 4100400,
			.rss_warn_bytes = 700ULL * MIB,
			.threads_fail = 120,
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_FAIL,
			"pid 4100400 (hog): 150 threads >= fail threshold 120");
}

Test(process, below_thresholds_passes) {
	require_4k_pages();
	struct vh_process_config config = {
			.target = VH_PROCESS_PID,
			.pid = 4100200,
			.rss_warn_bytes = 100ULL * MIB,
			.rss_fail_bytes = 200ULL * MIB,
			.threads_warn = 13,
			.threads_fail = 100,
	};
	struct vh_check_result result = run_once(&config, PROC);
	assert_result(&result, VH_STATUS_PASS, "pid 4100200 (veza-api): rss 41.2 MiB, 12 threads");
}

/* The real /proc. */

/* Forks a child that sleeps until killed, and dies with us if a failed assertion ends the test
 * before it is reaped. */
static pid_t spawn_sleeper(void) {
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork failed");
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		for (;;) {
			pause();
		}
	}
	return pid;
}

static void reap(pid_t pid) {
	int status;
	cr_assert_eq(kill(pid, SIGKILL), 0);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
}

Test(process, real_self) {
	char prefix[64];
	struct vh_process_config config = {.target = VH_PROCESS_SELF};
	struct vh_check_result result = run_once(&config, "/proc");
	cr_assert_eq(result.status, VH_STATUS_PASS, "%s", result.output);
	snprintf(prefix, sizeof(prefix), "pid %d (", (int)getpid());
	cr_assert_eq(strncmp(result.output, prefix, strlen(prefix)), 0, "%s", result.output);
	cr_assert_gt(measure(&result, "rss_bytes"), 0);
	cr_assert_geq(measure(&result, "threads"), 1);
}

Test(process, real_child_then_exit) {
	char prefix[64];
	char exited[64];
	pid_t child = spawn_sleeper();
	struct vh_process_config config = {.target = VH_PROCESS_PID, .pid = child};
	struct vh_probe probe;
	create_probe(&config, "/proc", &probe);
	struct vh_check_result result = run_probe(&probe);
	cr_assert_eq(result.status, VH_STATUS_PASS, "%s", result.output);
	snprintf(prefix, sizeof(prefix), "pid %d (", (int)child);
	cr_assert_eq(strncmp(result.output, prefix, strlen(prefix)), 0, "%s", result.output);
	cr_assert_geq(measure(&result, "threads"), 1);
	cr_assert_gt(measure(&result, "rss_bytes"), 0);
	reap(child);
	result = run_probe(&probe);
	snprintf(exited, sizeof(exited), "process %d has exited", (int)child);
	assert_result(&result, VH_STATUS_FAIL, exited);
	probe.ops->destroy(probe.impl);
}

Test(process, real_comm_skips_self) {
	/* A name only this test uses, so nothing else on the host can match it. */
	char name[16];
	char prefix[64];
	char none[64];
	snprintf(name, sizeof(name), "vh-t%d", (int)(getpid() % 1000000));
	cr_assert_eq(prctl(PR_SET_NAME, name), 0);
	struct vh_process_config config = {.target = VH_PROCESS_COMM, .comm = name};
	struct vh_probe probe;
	create_probe(&config, "/proc", &probe);
	struct vh_check_result result = run_probe(&probe);
	snprintf(none, sizeof(none), "no process named \"%s\" (comm)", name);
	assert_result(&result, VH_STATUS_FAIL, none);
	/* The child inherits the name; it is younger than us but we do not count. */
	pid_t child = spawn_sleeper();
	result = run_probe(&probe);
	snprintf(prefix, sizeof(prefix), "pid %d (%s): ", (int)child, name);
	cr_assert_eq(result.status, VH_STATUS_PASS, "%s", result.output);
	cr_assert_eq(strncmp(result.output, prefix, strlen(prefix)), 0, "%s", result.output);
	reap(child);
	result = run_probe(&probe);
	assert_result(&result, VH_STATUS_FAIL, none);
	probe.ops->destroy(probe.impl);
}
