/* test_redis_info.c - the INFO parser over replies captured from redis-server 7 and broken ones. */
#include <criterion/criterion.h>

#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vh/redis_info.h"

#define REDIS VH_FIXTURES "/redis"
#define INFO_MAX 16384

/* Reads a whole fixture into buf and returns its length. */
static size_t slurp(const char *name, char *buf, size_t cap) {
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", REDIS, name);
	int fd = open(path, O_RDONLY);
	cr_assert_geq(fd, 0, "cannot open %s", path);
	size_t len = 0;
	ssize_t n;
	while (len < cap && (n = read(fd, buf + len, cap - len)) > 0) {
		len += (size_t)n;
	}
	close(fd);
	cr_assert_lt(len, cap, "%s does not fit the test buffer", path);
	return len;
}

/* Parses a fixture that must be accepted. */
static struct vh_redis_info parse_fixture(const char *name) {
	static char buf[INFO_MAX];
	struct vh_redis_info info;
	char err[128] = "";
	size_t len = slurp(name, buf, sizeof(buf));
	cr_assert(vh_redis_info_parse(buf, len, &info, err, sizeof(err)), "%s: %s", name, err);
	return info;
}

/* Parses a fixture that must be refused and checks the reason. */
static void refuse_fixture(const char *name, const char *reason) {
	static char buf[INFO_MAX];
	struct vh_redis_info info;
	char err[128] = "";
	size_t len = slurp(name, buf, sizeof(buf));
	cr_assert_not(vh_redis_info_parse(buf, len, &info, err, sizeof(err)), "%s accepted", name);
	cr_assert_str_eq(err, reason, "%s", name);
}

static bool parse_text(const char *text, struct vh_redis_info *info, char *err, size_t err_len) {
	return vh_redis_info_parse(text, strlen(text), info, err, err_len);
}

TestSuite(redis_info_real, .timeout = 10);

Test(redis_info_real, master) {
	struct vh_redis_info info = parse_fixture("master.txt");
	cr_assert_eq(info.role, VH_REDIS_ROLE_MASTER);
	cr_assert(info.has_loading);
	cr_assert_not(info.loading);
	cr_assert_not(info.has_master_link, "a master has no master_link_status");
	cr_assert(info.has_used_memory);
	cr_assert_eq(info.used_memory, 1013960, "used_memory_rss or _peak must not match");
	cr_assert(info.has_maxmemory);
	cr_assert_eq(info.maxmemory, 67108864);
	cr_assert(info.has_connected_clients);
	cr_assert_eq(info.connected_clients, 1);
}

Test(redis_info_real, replica_link_up) {
	struct vh_redis_info info = parse_fixture("replica.txt");
	cr_assert_eq(info.role, VH_REDIS_ROLE_REPLICA, "INFO says role:slave");
	cr_assert(info.has_master_link);
	cr_assert(info.master_link_up);
	cr_assert_eq(info.used_memory, 944096);
	cr_assert(info.has_maxmemory);
	cr_assert_eq(info.maxmemory, 0);
	cr_assert_eq(info.connected_clients, 2);
}

Test(redis_info_real, replica_link_down) {
	struct vh_redis_info info = parse_fixture("replica_link_down.txt");
	cr_assert_eq(info.role, VH_REDIS_ROLE_REPLICA);
	cr_assert(info.has_master_link);
	cr_assert_not(info.master_link_up);
}

Test(redis_info_real, loading) {
	struct vh_redis_info info = parse_fixture("loading.txt");
	cr_assert(info.has_loading);
	cr_assert(info.loading, "loading:1 (loading_* and async_loading must not match)");
	cr_assert_eq(info.role, VH_REDIS_ROLE_MASTER);
	cr_assert_eq(info.used_memory, 1294608);
}

Test(redis_info_real, bare_newlines) {
	struct vh_redis_info lf = parse_fixture("replica_lf.txt");
	struct vh_redis_info crlf = parse_fixture("replica.txt");
	cr_assert_eq(memcmp(&lf, &crlf, sizeof(lf)), 0);
}

Test(redis_info_real, truncated_reply_misses_fields) {
	struct vh_redis_info info = parse_fixture("truncated.txt");
	cr_assert_eq(info.role, VH_REDIS_ROLE_UNKNOWN);
	cr_assert(info.has_connected_clients);
	cr_assert(info.has_used_memory);
	cr_assert_not(info.has_maxmemory);
	cr_assert_not(info.has_loading);
}

TestSuite(redis_info_bad, .timeout = 10);

Test(redis_info_bad, fixtures) {
	refuse_fixture("bad_number.txt", "bad used_memory value \"1013960kB\"");
	refuse_fixture("negative.txt", "bad connected_clients value \"-1\"");
	refuse_fixture("overflow.txt", "bad maxmemory value \"184467440737095516160\"");
	refuse_fixture("duplicate_role.txt", "role appears twice");
	refuse_fixture("bad_role.txt", "bad role value \"sentinel\"");
	refuse_fixture("bad_loading.txt", "bad loading value \"yes\"");
	refuse_fixture("bad_link.txt", "bad master_link_status value \"connecting\"");
}

Test(redis_info_bad, numbers_are_plain_decimals) {
	static const char *const bad[] = {
			"used_memory:\r\n",
			"used_memory: 5\r\n",
			"used_memory:5 \r\n",
			"used_memory:+5\r\n",
			"used_memory:0x10\r\n",
			"used_memory:1e3\r\n",
			"used_memory:18446744073709551616\r\n",
			"used_memory:5\r\r\n",
	};
	for (size_t i = 0; i < VH_ARRAY_LEN(bad); i++) {
		struct vh_redis_info info;
		char err[128] = "";
		cr_assert_not(parse_text(bad[i], &info, err, sizeof(err)), "accepted %s", bad[i]);
		cr_assert(strncmp(err, "bad used_memory value", 21) == 0, "%s", err);
	}
}

Test(redis_info_bad, largest_value_fits) {
	struct vh_redis_info info;
	char err[128] = "";
	cr_assert(parse_text("maxmemory:18446744073709551615\r\n", &info, err, sizeof(err)), "%s",
			err);
	cr_assert_eq(info.maxmemory, UINT64_MAX);
}

Test(redis_info_bad, nul_inside_value) {
	static const char text[] = "connected_clients:5\0\r\n";
	struct vh_redis_info info;
	char err[128] = "";
	cr_assert_not(vh_redis_info_parse(text, sizeof(text) - 1, &info, err, sizeof(err)));
	cr_assert_str_eq(err, "bad connected_clients value \"5?\"");
}

Test(redis_info_bad, long_value_shown_short) {
	char text[256];
	char err[128] = "";
	struct vh_redis_info info;
	snprintf(text, sizeof(text), "used_memory:%0100d\r\n", 7);
	cr_assert_not(parse_text(text, &info, err, sizeof(err)));
	cr_assert_str_eq(err, "bad used_memory value \"00000000000000000000000000000000...\"");
}

Test(redis_info_bad, control_characters_shown_safely) {
	struct vh_redis_info info;
	char err[128] = "";
	cr_assert_not(parse_text("role:\x1b[31mmaster\r\n", &info, err, sizeof(err)));
	cr_assert_str_eq(err, "bad role value \"?[31mmaster\"");
}

Test(redis_info_bad, small_error_buffer) {
	struct vh_redis_info info;
	char err[8];
	memset(err, 'x', sizeof(err));
	cr_assert_not(parse_text("role:x\r\n", &info, err, sizeof(err)));
	cr_assert_eq(strlen(err), sizeof(err) - 1);
}

TestSuite(redis_info_keys, .timeout = 10);

Test(redis_info_keys, only_at_line_start) {
	struct vh_redis_info info;
	char err[128] = "";
	cr_assert(parse_text("xused_memory:5\r\nused_memory_rss:7\r\n # used_memory:9\r\n"
			     "used_memory_human:1K\r\nrole_x:master\r\n",
				  &info, err, sizeof(err)),
			"%s", err);
	cr_assert_not(info.has_used_memory);
	cr_assert_eq(info.role, VH_REDIS_ROLE_UNKNOWN);
}

Test(redis_info_keys, empty_and_headers_only) {
	struct vh_redis_info info;
	char err[128] = "";
	cr_assert(vh_redis_info_parse("", 0, &info, err, sizeof(err)));
	cr_assert_not(info.has_used_memory);
	cr_assert(parse_text("# Server\r\n\r\n\r\n# Memory\r\n", &info, err, sizeof(err)));
	cr_assert_eq(info.role, VH_REDIS_ROLE_UNKNOWN);
	cr_assert_not(info.has_connected_clients);
}

Test(redis_info_keys, last_line_without_ending) {
	struct vh_redis_info info;
	char err[128] = "";
	cr_assert(parse_text("role:slave\r\nmaster_link_status:down", &info, err, sizeof(err)));
	cr_assert_eq(info.role, VH_REDIS_ROLE_REPLICA);
	cr_assert(info.has_master_link);
	cr_assert_not(info.master_link_up);
}

Test(redis_info_keys, length_bounds_the_text) {
	/* The reply is a bulk string, not a C string: nothing past len may be read. */
	static const char text[] = "connected_clients:123456";
	struct vh_redis_info info;
	char err[128] = "";
	cr_assert(vh_redis_info_parse(text, 20, &info, err, sizeof(err)));
	cr_assert_eq(info.connected_clients, 12);
}

Test(redis_info_keys, role_names) {
	cr_assert_str_eq(vh_redis_role_name(VH_REDIS_ROLE_MASTER), "master");
	cr_assert_str_eq(vh_redis_role_name(VH_REDIS_ROLE_REPLICA), "replica");
	cr_assert_str_eq(vh_redis_role_name(VH_REDIS_ROLE_UNKNOWN), "unknown");
}

TestSuite(redis_info_robust, .timeout = 30);

/* Every prefix of a real reply either parses or fails with a reason; none reads past its end
 * (run under ASan or valgrind to see that). */
Test(redis_info_robust, every_prefix) {
	static char buf[INFO_MAX];
	size_t len = slurp("replica.txt", buf, sizeof(buf));
	for (size_t cut = 0; cut <= len; cut++) {
		struct vh_redis_info info;
		char err[128] = "";
		if (!vh_redis_info_parse(buf, cut, &info, err, sizeof(err))) {
			cr_assert_neq(err[0], '\0', "no reason at prefix %zu", cut);
		}
	}
}

/* Random byte flips over a real reply, from a fixed seed so a failure repeats. */
Test(redis_info_robust, flipped_bytes) {
	static char orig[INFO_MAX];
	static char buf[INFO_MAX];
	size_t len = slurp("master.txt", orig, sizeof(orig));
	uint64_t state = 0x5eed;
	for (int round = 0; round < 2000; round++) {
		memcpy(buf, orig, len);
		for (int k = 0; k < 8; k++) {
			state = state * 6364136223846793005ULL + 1442695040888963407ULL;
			buf[(state >> 33) % len] = (char)(state >> 17);
		}
		struct vh_redis_info info;
		char err[128] = "";
		if (!vh_redis_info_parse(buf, len, &info, err, sizeof(err))) {
			cr_assert_neq(err[0], '\0', "no reason in round %d", round);
		}
	}
}
