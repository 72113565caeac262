/* self_stats.c - reads the daemon's own memory, CPU, threads and descriptors from /proc/self. */
#include "vh/self_stats.h"

#include <dirent.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "vh/kernfile.h"
#include "vh/proc.h"

/* The boot time never changes while we run, so /proc/stat is read once. */
static bool boot_time(uint64_t *out) {
	static uint64_t cached;
	if (cached) {
		*out = cached;
		return true;
	}
	char buf[16384];
	size_t len;
	if (vh_kernfile_read("/proc/stat", buf, sizeof(buf) - 1, &len) != 0) {
		return false;
	}
	buf[len] = '\0';
	const char *line = strstr(buf, "\nbtime ");
	if (!line) {
		return false;
	}
	line += strlen("\nbtime ");
	size_t digits = strspn(line, "0123456789");
	if (!vh_kernfile_parse_u64(line, digits, &cached) || cached == 0) {
		cached = 0;
		return false;
	}
	*out = cached;
	return true;
}

static bool read_stat(struct vh_self_stats *out) {
	char buf[1024];
	char err[128];
	size_t len;
	struct vh_proc_stat st;
	long ticks = sysconf(_SC_CLK_TCK);
	long page = sysconf(_SC_PAGESIZE);
	if (ticks <= 0 || page <= 0 ||
			vh_kernfile_read("/proc/self/stat", buf, sizeof(buf), &len) ||
			!vh_proc_parse_stat(buf, len, &st, err, sizeof(err))) {
		return false;
	}
	out->have_stat = true;
	out->rss_bytes = st.rss_pages * (uint64_t)page;
	out->vsize_bytes = st.vsize_bytes;
	out->threads = st.threads;
	out->cpu_seconds = (double)(st.utime + st.stime) / (double)ticks;
	uint64_t btime;
	if (boot_time(&btime)) {
		out->have_start_time = true;
		out->start_time_seconds = (double)btime + (double)st.start_time / (double)ticks;
	}
	return true;
}

static bool count_fds(uint64_t *out) {
	DIR *dir = opendir("/proc/self/fd");
	if (!dir) {
		return false;
	}
	uint64_t n = 0;
	for (struct dirent *entry; (entry = readdir(dir));) {
		n += entry->d_name[0] != '.';
	}
	closedir(dir);
	/* Not counting the descriptor that was open only to list the others. */
	*out = n > 0 ? n - 1 : 0;
	return true;
}

bool vh_self_stats_read(struct vh_self_stats *out) {
	memset(out, 0, sizeof(*out));
	read_stat(out);
	out->have_fds = count_fds(&out->open_fds);
	struct rlimit limit;
	if (getrlimit(RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY) {
		out->have_max_fds = true;
		out->max_fds = (uint64_t)limit.rlim_cur;
	}
	return out->have_stat || out->have_fds || out->have_max_fds;
}
