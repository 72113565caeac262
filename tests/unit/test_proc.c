/* test_proc.c - the /proc/PID/stat, pidfile and cmdline parsers, fed fixtures and the real /proc.
 */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vh/proc.h"

#define PROC VH_FIXTURES "/proc"

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

/* A stat line whose fields 3 onwards are given; the pid and comm come first. */
#define STAT_TAIL_OK "S 1 1 1 0 -1 4194560 1200 0 3 0 25 10 0 0 20 0 7 0 4242 123457536 99 0\n"

static bool parse_text(const char *text, struct vh_proc_stat *st, char *err, size_t err_len) {
	return vh_proc_parse_stat(text, strlen(text), st, err, err_len);
}

TestSuite(proc_stat, .timeout = 10);

Test(proc_stat, fixture_fields) {
	char buf[4096];
	char err[128] = "";
	struct vh_proc_stat st;
	size_t len = slurp(PROC "/4100200/stat", buf, sizeof(buf));
	cr_assert(vh_proc_parse_stat(buf, len, &st, err, sizeof(err)), "%s", err);
	cr_assert_eq(st.pid, 4100200);
	cr_assert_str_eq(st.comm, "veza-api");
	cr_assert_eq(st.state, 'S');
	cr_assert_eq(st.threads, 12);
	cr_assert_eq(st.start_time, 1000);
	cr_assert_eq(st.rss_pages, 10547);
	cr_assert_eq(st.utime, 25);
	cr_assert_eq(st.stime, 10);
	cr_assert_eq(st.vsize_bytes, 123457536);
}

Test(proc_stat, comm_with_parentheses_and_space) {
	char buf[4096];
	char err[128] = "";
	struct vh_proc_stat st;
	size_t len = slurp(PROC "/4100500/stat", buf, sizeof(buf));
	cr_assert(vh_proc_parse_stat(buf, len, &st, err, sizeof(err)), "%s", err);
	cr_assert_str_eq(st.comm, "a) (b");
	cr_assert_eq(st.state, 'S');
	cr_assert_eq(st.threads, 2);
	cr_assert_eq(st.start_time, 4000);
	cr_assert_eq(st.rss_pages, 256);
}

Test(proc_stat, comm_with_space) {
	char buf[4096];
	char err[128] = "";
	struct vh_proc_stat st;
	size_t len = slurp(PROC "/4100800/stat", buf, sizeof(buf));
	cr_assert(vh_proc_parse_stat(buf, len, &st, err, sizeof(err)), "%s", err);
	cr_assert_eq(st.pid, 4100800);
	cr_assert_str_eq(st.comm, "x y");
	cr_assert_eq(st.threads, 3);
	cr_assert_eq(st.start_time, 6000);
	cr_assert_eq(st.rss_pages, 512);
}

Test(proc_stat, comm_split_at_last_paren) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert(parse_text("1234 (a) b (c)) " STAT_TAIL_OK, &st, err, sizeof(err)), "%s", err);
	cr_assert_eq(st.pid, 1234);
	cr_assert_str_eq(st.comm, "a) b (c)");
	cr_assert_eq(st.state, 'S');
	cr_assert_eq(st.threads, 7);
	cr_assert_eq(st.start_time, 4242);
	cr_assert_eq(st.rss_pages, 99);
}

Test(proc_stat, empty_comm) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert(parse_text("5 () " STAT_TAIL_OK, &st, err, sizeof(err)), "%s", err);
	cr_assert_str_eq(st.comm, "");
	cr_assert_eq(st.rss_pages, 99);
}

Test(proc_stat, long_comm_truncated) {
	char text[512];
	char err[128] = "";
	struct vh_proc_stat st;
	char comm[101];
	memset(comm, 'c', 100);
	comm[100] = '\0';
	snprintf(text, sizeof(text), "77 (%s) %s", comm, STAT_TAIL_OK);
	cr_assert(parse_text(text, &st, err, sizeof(err)), "%s", err);
	cr_assert_eq(strlen(st.comm), sizeof(st.comm) - 1);
	cr_assert_eq(memcmp(st.comm, comm, sizeof(st.comm) - 1), 0);
	cr_assert_eq(st.threads, 7);
}

Test(proc_stat, respects_len_without_nul) {
	/* The bytes after len continue rss with more digits; they must not be read. */
	char text[256];
	char err[128] = "";
	struct vh_proc_stat st;
	int n = snprintf(text, sizeof(text),
			"9 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 50 1 42");
	memcpy(text + n, "789", 3);
	cr_assert(vh_proc_parse_stat(text, (size_t)n, &st, err, sizeof(err)), "%s", err);
	cr_assert_eq(st.rss_pages, 42);
}

Test(proc_stat, real_self) {
	char buf[4096];
	char comm[64];
	char err[128] = "";
	struct vh_proc_stat st;
	size_t len = slurp("/proc/self/stat", buf, sizeof(buf));
	size_t comm_len = slurp("/proc/self/comm", comm, sizeof(comm) - 1);
	cr_assert_gt(comm_len, 0);
	comm[comm_len - 1] = '\0'; /* drop the newline */
	cr_assert(vh_proc_parse_stat(buf, len, &st, err, sizeof(err)), "%s", err);
	cr_assert_eq(st.pid, getpid());
	cr_assert_str_eq(st.comm, comm);
	cr_assert_eq(st.state, 'R');
	cr_assert_geq(st.threads, 1);
	cr_assert_gt(st.rss_pages, 0);
}

Test(proc_stat, truncated_fixture) {
	char buf[4096];
	char err[128] = "";
	struct vh_proc_stat st;
	size_t len = slurp(PROC "/4100900/stat", buf, sizeof(buf));
	cr_assert_not(vh_proc_parse_stat(buf, len, &st, err, sizeof(err)));
	cr_assert_str_eq(err, "truncated: 8 of 24 fields");
}

Test(proc_stat, truncated_before_rss) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("9 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 50 1\n", &st, err,
			sizeof(err)));
	cr_assert_str_eq(err, "truncated: 23 of 24 fields");
}

Test(proc_stat, truncated_inside_comm) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("1234 (veza-a", &st, err, sizeof(err)));
	cr_assert_str_eq(err, "no ')' after the command name");
}

Test(proc_stat, empty_text) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(vh_proc_parse_stat("", 0, &st, err, sizeof(err)));
	cr_assert_str_eq(err, "no '(' before the command name");
}

Test(proc_stat, missing_pid) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("(t) " STAT_TAIL_OK, &st, err, sizeof(err)));
	cr_assert_str_eq(err, "no pid before the command name");
}

Test(proc_stat, non_numeric_pid) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("12x4 (t) " STAT_TAIL_OK, &st, err, sizeof(err)));
	cr_assert_str_eq(err, "pid is not a positive number: \"12x4\"");
}

Test(proc_stat, zero_pid) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("0 (t) " STAT_TAIL_OK, &st, err, sizeof(err)));
	cr_assert_str_eq(err, "pid is not a positive number: \"0\"");
}

Test(proc_stat, state_not_one_letter) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("9 (t) SS 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 50 1 42\n", &st,
			err, sizeof(err)));
	cr_assert_str_eq(err, "field 3 (state) is not one letter: \"SS\"");
}

Test(proc_stat, non_numeric_threads) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("9 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 x 0 50 1 42\n", &st,
			err, sizeof(err)));
	cr_assert_str_eq(err, "field 20 (num_threads) is not a number: \"x\"");
}

Test(proc_stat, non_numeric_starttime) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("9 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 5e3 1 42\n", &st,
			err, sizeof(err)));
	cr_assert_str_eq(err, "field 22 (starttime) is not a number: \"5e3\"");
}

Test(proc_stat, negative_rss) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("9 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 50 1 -1\n", &st,
			err, sizeof(err)));
	cr_assert_str_eq(err, "field 24 (rss) is not a number: \"-1\"");
}

Test(proc_stat, overflowing_starttime) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text(
			"9 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 3 0 18446744073709551616 1 42\n",
			&st, err, sizeof(err)));
	cr_assert_str_eq(err, "field 22 (starttime) is not a number: \"18446744073709551616\"");
}

Test(proc_stat, long_garbage_quoted_short) {
	char err[128] = "";
	struct vh_proc_stat st;
	cr_assert_not(parse_text("9 (t) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 "
				 "abcdefghijklmnopqrstuvwxyz0123456789 0 50 1 42\n",
			&st, err, sizeof(err)));
	cr_assert_str_eq(err,
			"field 20 (num_threads) is not a number: \"abcdefghijklmnopqrstuvwx...\"");
}

TestSuite(proc_pidfile, .timeout = 10);

Test(proc_pidfile, fixture) {
	char buf[64];
	char err[128] = "";
	pid_t pid = 0;
	size_t len = slurp(PROC "/veza-api.pid", buf, sizeof(buf));
	cr_assert(vh_proc_parse_pidfile(buf, len, &pid, err, sizeof(err)), "%s", err);
	cr_assert_eq(pid, 4100200);
}

Test(proc_pidfile, blanks_around) {
	char err[128] = "";
	pid_t pid = 0;
	cr_assert(vh_proc_parse_pidfile("  42 \r\n", 7, &pid, err, sizeof(err)), "%s", err);
	cr_assert_eq(pid, 42);
}

Test(proc_pidfile, largest_pid) {
	char err[128] = "";
	pid_t pid = 0;
	cr_assert(vh_proc_parse_pidfile("2147483647", 10, &pid, err, sizeof(err)), "%s", err);
	cr_assert_eq(pid, 2147483647);
}

Test(proc_pidfile, garbage_fixture) {
	char buf[64];
	char err[128] = "";
	pid_t pid = 7;
	size_t len = slurp(PROC "/bad.pid", buf, sizeof(buf));
	cr_assert_not(vh_proc_parse_pidfile(buf, len, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "not a pid: \"abc\"");
	cr_assert_eq(pid, 7);
}

Test(proc_pidfile, empty_fixture) {
	char buf[64];
	char err[128] = "";
	pid_t pid;
	size_t len = slurp(PROC "/empty.pid", buf, sizeof(buf));
	cr_assert_eq(len, 0);
	cr_assert_not(vh_proc_parse_pidfile(buf, len, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "empty");
}

Test(proc_pidfile, only_blanks) {
	char err[128] = "";
	pid_t pid;
	cr_assert_not(vh_proc_parse_pidfile(" \n", 2, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "empty");
}

Test(proc_pidfile, negative) {
	char err[128] = "";
	pid_t pid;
	cr_assert_not(vh_proc_parse_pidfile("-5\n", 3, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "not a pid: \"-5\"");
}

Test(proc_pidfile, two_numbers) {
	char err[128] = "";
	pid_t pid;
	cr_assert_not(vh_proc_parse_pidfile("12 34\n", 6, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "not a pid: \"12 34\"");
}

Test(proc_pidfile, zero) {
	char err[128] = "";
	pid_t pid;
	cr_assert_not(vh_proc_parse_pidfile("0\n", 2, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "pid 0 is out of range");
}

Test(proc_pidfile, beyond_pid_t) {
	char err[128] = "";
	pid_t pid;
	cr_assert_not(vh_proc_parse_pidfile("2147483648\n", 11, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "pid 2147483648 is out of range");
}

Test(proc_pidfile, beyond_uint64) {
	char err[128] = "";
	pid_t pid;
	cr_assert_not(vh_proc_parse_pidfile(
			"99999999999999999999999\n", 24, &pid, err, sizeof(err)));
	cr_assert_str_eq(err, "pid 99999999999999999999999 is out of range");
}

TestSuite(proc_cmdline, .timeout = 10);

Test(proc_cmdline, joined_across_arguments) {
	char buf[4096];
	size_t len = slurp(PROC "/4100200/cmdline", buf, sizeof(buf));
	cr_assert(vh_proc_cmdline_contains(buf, len, "--config /etc/veza"));
	cr_assert(vh_proc_cmdline_contains(
			buf, len, "/usr/bin/veza-api --config /etc/veza/api.json"));
}

Test(proc_cmdline, final_nul_not_joined) {
	char buf[4096];
	size_t len = slurp(PROC "/4100200/cmdline", buf, sizeof(buf));
	cr_assert(vh_proc_cmdline_contains(buf, len, "api.json"));
	cr_assert_not(vh_proc_cmdline_contains(buf, len, "api.json "));
}

Test(proc_cmdline, no_match) {
	char buf[4096];
	size_t len = slurp(PROC "/4100200/cmdline", buf, sizeof(buf));
	cr_assert_not(vh_proc_cmdline_contains(buf, len, "--worker"));
	cr_assert_not(vh_proc_cmdline_contains(buf, len, "--config/etc"));
}

Test(proc_cmdline, empty_needle_matches_nothing) {
	char buf[4096];
	size_t len = slurp(PROC "/4100200/cmdline", buf, sizeof(buf));
	cr_assert_not(vh_proc_cmdline_contains(buf, len, ""));
}

Test(proc_cmdline, empty_cmdline) {
	/* Kernel threads and zombies have an empty command line. */
	char buf[16];
	size_t len = slurp(PROC "/4100300/cmdline", buf, sizeof(buf));
	cr_assert_eq(len, 0);
	cr_assert_not(vh_proc_cmdline_contains(buf, len, "reaper"));
}

Test(proc_cmdline, respects_len) {
	cr_assert_not(vh_proc_cmdline_contains("abc\0def", 3, "def"));
	cr_assert_not(vh_proc_cmdline_contains("abc\0def", 3, "abc d"));
	cr_assert(vh_proc_cmdline_contains("abc\0def", 7, "abc def"));
}

Test(proc_cmdline, rewritten_title_without_nuls) {
	const char *title = "nginx: master process /usr/sbin/nginx";
	cr_assert(vh_proc_cmdline_contains(title, strlen(title), "master process"));
}
