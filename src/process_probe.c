/* process_probe.c - the `process` check: finds the target in /proc, reports its rss and threads. */
#include "vh/process_probe.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/kernfile.h"
#include "vh/proc.h"

/* Holds any stat line, and enough of a command line to match against: a needle that only occurs
 * past the first 4 KiB of arguments is not a sensible way to pick a process. */
#define READ_MAX 4096

#define MIB (1024.0 * 1024.0)

struct process_probe {
	const struct vh_process_config *config;
	char *proc_root;
	/* The process an earlier run settled on. Its start time tells it apart from a later process
	 * that the kernel hands the same pid. */
	bool have_target;
	pid_t pid;
	uint64_t start_time;
};

enum lookup {
	LOOKUP_FOUND,
	LOOKUP_GONE,
	LOOKUP_ERROR,
};

/* snprintf into err. Errors end in a result output of VH_CHECK_OUTPUT_MAX bytes, where a long
 * path is cut short anyway, so truncation here is expected rather than a bug. */
static void set_error(char *err, size_t err_len, const char *fmt, ...) VH_PRINTF(3, 4);
static void set_error(char *err, size_t err_len, const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, err_len, fmt, ap);
	va_end(ap);
}

static bool proc_path(const struct process_probe *probe, pid_t pid, const char *file, char *path,
		size_t path_len) {
	int n = snprintf(path, path_len, "%s/%d/%s", probe->proc_root, (int)pid, file);
	return n > 0 && (size_t)n < path_len;
}

/* Reads and parses PROC/PID/stat. A pid whose directory is gone (ENOENT), or that exits between
 * open and read (ESRCH), is LOOKUP_GONE; anything else unexpected is LOOKUP_ERROR with err set. */
static enum lookup read_stat(const struct process_probe *probe, pid_t pid, struct vh_proc_stat *st,
		char *err, size_t err_len) {
	char path[PATH_MAX];
	char buf[READ_MAX];
	size_t len = 0;
	if (!proc_path(probe, pid, "stat", path, sizeof(path))) {
		set_error(err, err_len, "path too long under %s", probe->proc_root);
		return LOOKUP_ERROR;
	}
	int e = vh_kernfile_read(path, buf, sizeof(buf), &len);
	if (e == ENOENT || e == ESRCH) {
		return LOOKUP_GONE;
	}
	if (e != 0) {
		set_error(err, err_len, "cannot read %s: %s", path, strerror(e));
		return LOOKUP_ERROR;
	}
	char why[128];
	if (!vh_proc_parse_stat(buf, len, st, why, sizeof(why))) {
		set_error(err, err_len, "bad %s: %s", path, why);
		return LOOKUP_ERROR;
	}
	return LOOKUP_FOUND;
}

/* True when pid's comm or command line matches the configured one. A process that cannot be read
 * (it exited meanwhile, or belongs to someone we may not inspect) does not match. */
static bool matches(const struct process_probe *probe, pid_t pid) {
	char path[PATH_MAX];
	char buf[READ_MAX];
	size_t len = 0;
	bool by_comm = probe->config->target == VH_PROCESS_COMM;
	if (!proc_path(probe, pid, by_comm ? "comm" : "cmdline", path, sizeof(path)) ||
			vh_kernfile_read(path, buf, sizeof(buf), &len) != 0) {
		return false;
	}
	if (!by_comm) {
		return vh_proc_cmdline_contains(buf, len, probe->config->cmdline);
	}
	if (len > 0 && buf[len - 1] == '\n') {
		len--;
	}
	return len == strlen(probe->config->comm) && memcmp(buf, probe->config->comm, len) == 0;
}

/* Parses a /proc directory entry name; anything but a plain positive decimal is not a process. */
static bool parse_pid_name(const char *name, pid_t *out) {
	long value = 0;
	if (name[0] == '\0' || name[0] == '0') {
		return false;
	}
	for (const char *c = name; *c; c++) {
		if (*c < '0' || *c > '9' || value > (INT_MAX - (*c - '0')) / 10) {
			return false;
		}
		value = value * 10 + (*c - '0');
	}
	*out = (pid_t)value;
	return true;
}

/* Scans proc_root for the oldest matching process other than ourselves. The oldest wins so that a
 * server's main process is chosen over the workers it forks, whatever their pids; our own pid is
 * skipped because our command line or comm may well contain the name we look for. */
static enum lookup find_target(const struct process_probe *probe, struct vh_proc_stat *best,
		char *err, size_t err_len) {
	DIR *dir = opendir(probe->proc_root);
	if (!dir) {
		set_error(err, err_len, "cannot list %s: %s", probe->proc_root, strerror(errno));
		return LOOKUP_ERROR;
	}
	pid_t self = getpid();
	bool found = false;
	struct dirent *entry;
	while ((entry = readdir(dir)) != NULL) {
		pid_t pid;
		struct vh_proc_stat st;
		/* A candidate that vanishes or cannot be read mid-scan is simply not a candidate.
		 */
		char ignored[VH_CHECK_OUTPUT_MAX];
		if (!parse_pid_name(entry->d_name, &pid) || pid == self || !matches(probe, pid) ||
				read_stat(probe, pid, &st, ignored, sizeof(ignored)) !=
						LOOKUP_FOUND) {
			continue;
		}
		if (!found || st.start_time < best->start_time ||
				(st.start_time == best->start_time && st.pid < best->pid)) {
			*best = st;
			found = true;
		}
	}
	closedir(dir);
	return found ? LOOKUP_FOUND : LOOKUP_GONE;
}

static void remember(struct process_probe *probe, const struct vh_proc_stat *st) {
	probe->have_target = true;
	probe->pid = st->pid;
	probe->start_time = st->start_time;
}

/* Reads a known pid. Only a fixed pid is checked for reuse: a pidfile is rewritten when its
 * service restarts, so there a new start time is a new target rather than an impostor. */
static bool locate_pid(struct process_probe *probe, pid_t pid, bool check_reuse,
		struct vh_proc_stat *st, struct vh_check_result *result) {
	char err[VH_CHECK_OUTPUT_MAX];
	switch (read_stat(probe, pid, st, err, sizeof(err))) {
	case LOOKUP_FOUND:
		break;
	case LOOKUP_GONE:
		vh_check_result_set(result, VH_STATUS_FAIL, "process %d has exited", (int)pid);
		return false;
	case LOOKUP_ERROR:
		vh_check_result_set(result, VH_STATUS_FAIL, "%s", err);
		return false;
	}
	if (check_reuse && probe->have_target && st->start_time != probe->start_time) {
		vh_check_result_set(result, VH_STATUS_FAIL,
				"pid %d was reused by another process (start time changed)",
				(int)pid);
		return false;
	}
	if (!check_reuse || !probe->have_target) {
		remember(probe, st);
	}
	return true;
}

static bool read_pidfile(
		const struct process_probe *probe, pid_t *pid, struct vh_check_result *result) {
	const char *path = probe->config->pidfile;
	char buf[64];
	size_t len = 0;
	int e = vh_kernfile_read(path, buf, sizeof(buf), &len);
	if (e != 0) {
		vh_check_result_set(result, VH_STATUS_FAIL, "cannot read pidfile %s: %s", path,
				strerror(e));
		return false;
	}
	char why[64];
	if (!vh_proc_parse_pidfile(buf, len, pid, why, sizeof(why))) {
		vh_check_result_set(result, VH_STATUS_FAIL, "bad pidfile %s: %s", path, why);
		return false;
	}
	return true;
}

/* Keeps the process found before while it still runs and still matches (it may have exec'd into
 * something else), and searches again otherwise. */
static bool locate_by_search(struct process_probe *probe, struct vh_proc_stat *st,
		struct vh_check_result *result) {
	char err[VH_CHECK_OUTPUT_MAX];
	if (probe->have_target && matches(probe, probe->pid) &&
			read_stat(probe, probe->pid, st, err, sizeof(err)) == LOOKUP_FOUND &&
			st->start_time == probe->start_time) {
		return true;
	}
	probe->have_target = false;
	switch (find_target(probe, st, err, sizeof(err))) {
	case LOOKUP_FOUND:
		remember(probe, st);
		return true;
	case LOOKUP_GONE:
		if (probe->config->target == VH_PROCESS_COMM) {
			vh_check_result_set(result, VH_STATUS_FAIL,
					"no process named \"%s\" (comm)", probe->config->comm);
		} else {
			vh_check_result_set(result, VH_STATUS_FAIL,
					"no process whose command line contains \"%s\"",
					probe->config->cmdline);
		}
		return false;
	case LOOKUP_ERROR:
		vh_check_result_set(result, VH_STATUS_FAIL, "%s", err);
		return false;
	}
	return false;
}

static bool locate(struct process_probe *probe, struct vh_proc_stat *st,
		struct vh_check_result *result) {
	const struct vh_process_config *config = probe->config;
	pid_t pid;
	switch (config->target) {
	case VH_PROCESS_SELF:
		return locate_pid(probe, getpid(), false, st, result);
	case VH_PROCESS_PID:
		return locate_pid(probe, config->pid, true, st, result);
	case VH_PROCESS_PIDFILE:
		return read_pidfile(probe, &pid, result) &&
				locate_pid(probe, pid, false, st, result);
	case VH_PROCESS_COMM:
	case VH_PROCESS_CMDLINE:
		return locate_by_search(probe, st, result);
	}
	vh_check_result_set(
			result, VH_STATUS_FAIL, "unknown process target %d", (int)config->target);
	return false;
}

/* comm is chosen by the process we watch, so it may hold control characters that would break a
 * one-line output or a log line. */
static void printable(char *dst, size_t dst_len, const char *src) {
	size_t i = 0;
	for (; src[i] && i + 1 < dst_len; i++) {
		unsigned char c = (unsigned char)src[i];
		dst[i] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	dst[i] = '\0';
}

static void report(const struct process_probe *probe, const struct vh_proc_stat *st,
		struct vh_check_result *result) {
	const struct vh_process_config *config = probe->config;
	long page = sysconf(_SC_PAGESIZE);
	if (page <= 0) {
		page = 4096;
	}
	uint64_t rss = st->rss_pages > UINT64_MAX / (uint64_t)page ? UINT64_MAX
								   : st->rss_pages * (uint64_t)page;
	int pid = (int)st->pid;
	char comm[sizeof(st->comm)];
	printable(comm, sizeof(comm), st->comm);

	vh_check_result_set(result, VH_STATUS_PASS, "pid %d (%s): rss %.1f MiB, %" PRIu64 " %s",
			pid, comm, (double)rss / MIB, st->threads,
			st->threads == 1 ? "thread" : "threads");
	/* The result was just cleared, so both measures fit. */
	vh_check_result_add_measure(result, "rss_bytes", "memory", (double)rss, "bytes");
	vh_check_result_add_measure(result, "threads", "threads", (double)st->threads, "threads");

	if (st->state == 'Z') {
		vh_check_result_raise(result, VH_STATUS_FAIL, "process %d is a zombie", pid);
	}
	if (config->rss_fail_bytes > 0 && rss >= config->rss_fail_bytes) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"pid %d (%s): rss %.1f MiB >= fail threshold %.1f MiB", pid, comm,
				(double)rss / MIB, (double)config->rss_fail_bytes / MIB);
	}
	if (config->threads_fail > 0 && st->threads >= config->threads_fail) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"pid %d (%s): %" PRIu64 " threads >= fail threshold %" PRIu64, pid,
				comm, st->threads, config->threads_fail);
	}
	if (config->rss_warn_bytes > 0 && rss >= config->rss_warn_bytes) {
		vh_check_result_raise(result, VH_STATUS_WARN,
				"pid %d (%s): rss %.1f MiB >= warn threshold %.1f MiB", pid, comm,
				(double)rss / MIB, (double)config->rss_warn_bytes / MIB);
	}
	if (config->threads_warn > 0 && st->threads >= config->threads_warn) {
		vh_check_result_raise(result, VH_STATUS_WARN,
				"pid %d (%s): %" PRIu64 " threads >= warn threshold %" PRIu64, pid,
				comm, st->threads, config->threads_warn);
	}
}

/* Runs finish here, before start() returns: reading a few /proc files takes microseconds and
 * cannot block, so there is nothing to wait for on the loop. */
static bool process_start(void *impl, uint64_t run, vh_probe_done_fn done, void *arg) {
	struct process_probe *probe = impl;
	struct vh_check_result result = {0};
	struct vh_proc_stat st;
	if (locate(probe, &st, &result)) {
		report(probe, &st, &result);
	}
	done(arg, run, &result);
	return true;
}

static void process_cancel(void *impl) {
	/* A run never outlives start(), so there is never one to cancel. */
	(void)impl;
}

static void process_destroy(void *impl) {
	struct process_probe *probe = impl;
	if (!probe) {
		return;
	}
	free(probe->proc_root);
	free(probe);
}

static const struct vh_probe_ops process_ops = {
		.type = "process",
		.start = process_start,
		.cancel = process_cancel,
		.destroy = process_destroy,
};

/* The config loader validates targets too; checking again here keeps a bad config from turning
 * into a probe that dereferences NULL at its first run. */
static bool check_config(const struct vh_process_config *config, char *err, size_t err_len) {
	switch (config->target) {
	case VH_PROCESS_SELF:
		return true;
	case VH_PROCESS_PID:
		if (config->pid <= 0) {
			snprintf(err, err_len, "process target pid must be positive");
			return false;
		}
		return true;
	case VH_PROCESS_PIDFILE:
		if (!config->pidfile || !config->pidfile[0]) {
			snprintf(err, err_len, "process target pidfile needs a path");
			return false;
		}
		return true;
	case VH_PROCESS_COMM:
		if (!config->comm || !config->comm[0]) {
			snprintf(err, err_len, "process target comm needs a name");
			return false;
		}
		return true;
	case VH_PROCESS_CMDLINE:
		if (!config->cmdline || !config->cmdline[0]) {
			snprintf(err, err_len, "process target cmdline needs a string");
			return false;
		}
		return true;
	}
	snprintf(err, err_len, "unknown process target %d", (int)config->target);
	return false;
}

bool vh_process_probe_create(const struct vh_process_config *config, const char *proc_root,
		struct vh_probe *out, char *err, size_t err_len) {
	if (!config || !proc_root || !proc_root[0]) {
		snprintf(err, err_len, "process probe needs a config and a proc root");
		return false;
	}
	if (!check_config(config, err, err_len)) {
		return false;
	}
	struct process_probe *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	probe->config = config;
	probe->proc_root = strdup(proc_root);
	if (!probe->proc_root) {
		snprintf(err, err_len, "out of memory");
		goto error;
	}
	out->ops = &process_ops;
	out->impl = probe;
	return true;

error:
	process_destroy(probe);
	return false;
}
