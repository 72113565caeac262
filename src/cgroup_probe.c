/* cgroup_probe.c - the `cgroup` check: memory use, OOM kills and memory pressure of a cgroup v2. */
#include "vh/cgroup_probe.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vh/cgroup.h"
#include "vh/kernfile.h"

/* Each memory file is one line or a handful of short ones. */
#define READ_MAX 1024

#define MIB (1024.0 * 1024.0)

struct cgroup_probe {
	const struct vh_cgroup_config *config;
	/* oom_kill is cumulative over the cgroup's life, so only a rise since the previous run
	 * is news. */
	bool have_oom_kill;
	uint64_t oom_kill;
};

/* Reads up to cap bytes of PATH/name. Returns 0, or the errno of the failure. */
static int read_cgroup_file(const struct cgroup_probe *probe, const char *name, char *buf,
		size_t cap, size_t *len) {
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%s/%s", probe->config->path, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		return ENAMETOOLONG;
	}
	return vh_kernfile_read(path, buf, cap, len);
}

/* Appends to a fixed buffer; the result output is truncated anyway, so running out of room only
 * stops the appending. */
static void append(char *buf, size_t buf_len, size_t *used, const char *fmt, ...) VH_PRINTF(4, 5);
static void append(char *buf, size_t buf_len, size_t *used, const char *fmt, ...) {
	if (*used >= buf_len) {
		return;
	}
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf + *used, buf_len - *used, fmt, ap);
	va_end(ap);
	if (n > 0) {
		*used += (size_t)n;
	}
}

/* One run's readings. */
struct reading {
	uint64_t current;
	bool limited;
	uint64_t limit;
	double percent;
	bool have_pressure;
	double pressure;
	bool have_oom_kill;
	uint64_t oom_kill;
};

/* Fills r from the cgroup files, or fills result and returns false. memory.current is required;
 * memory.max is missing only in the root cgroup (no limit); memory.pressure is missing or fails
 * with EOPNOTSUPP without PSI; memory.events lacks oom_kill before Linux 4.13. */
static bool take_reading(const struct cgroup_probe *probe, struct reading *r,
		struct vh_check_result *result) {
	const char *path = probe->config->path;
	char buf[READ_MAX];
	size_t len = 0;
	bool is_max;
	int e = read_cgroup_file(probe, "memory.current", buf, sizeof(buf), &len);
	if (e == ENOENT || e == ENOTDIR) {
		/* A v1 or hybrid host, or a cgroup without the memory controller: nothing here says
		 * the service is unhealthy, so this must not fail liveness. */
		vh_check_result_set(result, VH_STATUS_WARN,
				"cgroup v2 memory controller not available at %s", path);
		return false;
	}
	if (e != 0) {
		vh_check_result_set(result, VH_STATUS_FAIL, "cannot read %s/memory.current: %s",
				path, strerror(e));
		return false;
	}
	if (!vh_cgroup_parse_limit(buf, len, &r->current, &is_max) || is_max) {
		vh_check_result_set(result, VH_STATUS_FAIL,
				"bad %s/memory.current: not a byte count", path);
		return false;
	}

	e = read_cgroup_file(probe, "memory.max", buf, sizeof(buf), &len);
	if (e != 0 && e != ENOENT) {
		vh_check_result_set(result, VH_STATUS_FAIL, "cannot read %s/memory.max: %s", path,
				strerror(e));
		return false;
	}
	if (e == 0) {
		if (!vh_cgroup_parse_limit(buf, len, &r->limit, &is_max)) {
			vh_check_result_set(result, VH_STATUS_FAIL,
					"bad %s/memory.max: neither \"max\" nor a byte count",
					path);
			return false;
		}
		/* A limit of 0 admits no memory at all; a percentage of it means nothing. */
		r->limited = !is_max && r->limit > 0;
		if (r->limited) {
			r->percent = (double)r->current * 100.0 / (double)r->limit;
		}
	}

	e = read_cgroup_file(probe, "memory.pressure", buf, sizeof(buf), &len);
	if (e == 0) {
		if (!vh_cgroup_parse_pressure(buf, len, &r->pressure)) {
			vh_check_result_set(result, VH_STATUS_FAIL,
					"bad %s/memory.pressure: no \"some avg10=\"", path);
			return false;
		}
		r->have_pressure = true;
	}

	e = read_cgroup_file(probe, "memory.events", buf, sizeof(buf), &len);
	r->have_oom_kill = e == 0 && vh_cgroup_parse_keyed(buf, len, "oom_kill", &r->oom_kill);
	return true;
}

static void report(struct cgroup_probe *probe, const struct reading *r,
		struct vh_check_result *result) {
	const struct vh_cgroup_config *config = probe->config;
	char text[VH_CHECK_OUTPUT_MAX];
	size_t used = 0;
	if (r->limited) {
		append(text, sizeof(text), &used, "memory %.1f MiB of %.1f MiB (%.1f%%)",
				(double)r->current / MIB, (double)r->limit / MIB, r->percent);
	} else {
		append(text, sizeof(text), &used, "memory %.1f MiB, no limit",
				(double)r->current / MIB);
	}
	if (r->have_pressure) {
		append(text, sizeof(text), &used, ", pressure avg10 %.2f%%", r->pressure);
	}
	if (r->have_oom_kill) {
		append(text, sizeof(text), &used, ", oom_kill %" PRIu64, r->oom_kill);
	}
	vh_check_result_set(result, VH_STATUS_PASS, "%s", text);

	/* At most three measures, which fit in a result just cleared. */
	vh_check_result_add_measure(result, "memory_bytes", "memory", (double)r->current, "bytes");
	if (r->limited) {
		vh_check_result_add_measure(
				result, "memory_percent", "utilization", r->percent, "percent");
	}
	if (r->have_pressure) {
		vh_check_result_add_measure(
				result, "pressure_avg10", "pressure", r->pressure, "percent");
	}

	/* A kill is the most telling event, and it shows for one run only, so it is raised first
	 * and keeps the output when a threshold reaches the same status. */
	if (r->have_oom_kill && probe->have_oom_kill && r->oom_kill > probe->oom_kill &&
			config->oom_kill != VH_OOM_IGNORE) {
		vh_check_result_raise(result,
				config->oom_kill == VH_OOM_FAIL ? VH_STATUS_FAIL : VH_STATUS_WARN,
				"oom_kill rose by %" PRIu64 " (now %" PRIu64 ")",
				r->oom_kill - probe->oom_kill, r->oom_kill);
	}
	/* A counter that went down belongs to a cgroup that was removed and made again; it becomes
	 * the new baseline like any other value. */
	probe->have_oom_kill = r->have_oom_kill;
	probe->oom_kill = r->oom_kill;

	if (r->limited && config->memory_fail_percent > 0 &&
			r->percent >= config->memory_fail_percent) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"memory %.1f%% of %.1f MiB >= fail threshold %.1f%%", r->percent,
				(double)r->limit / MIB, config->memory_fail_percent);
	} else if (r->limited && config->memory_warn_percent > 0 &&
			r->percent >= config->memory_warn_percent) {
		vh_check_result_raise(result, VH_STATUS_WARN,
				"memory %.1f%% of %.1f MiB >= warn threshold %.1f%%", r->percent,
				(double)r->limit / MIB, config->memory_warn_percent);
	}
	if (r->have_pressure && config->pressure_fail > 0 && r->pressure >= config->pressure_fail) {
		vh_check_result_raise(result, VH_STATUS_FAIL,
				"memory pressure avg10 %.2f%% >= fail threshold %.2f%%",
				r->pressure, config->pressure_fail);
	} else if (r->have_pressure && config->pressure_warn > 0 &&
			r->pressure >= config->pressure_warn) {
		vh_check_result_raise(result, VH_STATUS_WARN,
				"memory pressure avg10 %.2f%% >= warn threshold %.2f%%",
				r->pressure, config->pressure_warn);
	}
}

/* Runs finish here, before start() returns: a few reads of cgroupfs cannot block. */
static bool cgroup_start(void *impl, uint64_t run, vh_probe_done_fn done, void *arg) {
	struct cgroup_probe *probe = impl;
	struct vh_check_result result = {0};
	struct reading r = {0};
	if (take_reading(probe, &r, &result)) {
		report(probe, &r, &result);
	}
	done(arg, run, &result);
	return true;
}

static void cgroup_cancel(void *impl) {
	/* A run never outlives start(), so there is never one to cancel. */
	(void)impl;
}

static void cgroup_destroy(void *impl) {
	free(impl);
}

static const struct vh_probe_ops cgroup_ops = {
		.type = "cgroup",
		.start = cgroup_start,
		.cancel = cgroup_cancel,
		.destroy = cgroup_destroy,
};

bool vh_cgroup_probe_create(const struct vh_cgroup_config *config, struct vh_probe *out, char *err,
		size_t err_len) {
	if (!config || !config->path || !config->path[0]) {
		snprintf(err, err_len, "cgroup probe needs a path");
		return false;
	}
	struct cgroup_probe *probe = calloc(1, sizeof(*probe));
	if (!probe) {
		snprintf(err, err_len, "out of memory");
		return false;
	}
	probe->config = config;
	out->ops = &cgroup_ops;
	out->impl = probe;
	return true;
}
