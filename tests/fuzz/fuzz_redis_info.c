/* fuzz_redis_info.c - libFuzzer target for vh_redis_info_parse(): never trusts the server's bytes,
 * and what it reads prints back as INFO text that parses to the same fields. */
#include "fuzz_common.h"

#include "vh/redis_info.h"

static void check_absent_zero(const struct vh_redis_info *info) {
	FUZZ_CHECK(info->has_loading || !info->loading, "loading set without its line");
	FUZZ_CHECK(info->has_master_link || !info->master_link_up, "link up without its line");
	FUZZ_CHECK(info->has_used_memory || info->used_memory == 0, "used_memory without its line");
	FUZZ_CHECK(info->has_maxmemory || info->maxmemory == 0, "maxmemory without its line");
	FUZZ_CHECK(info->has_connected_clients || info->connected_clients == 0,
			"connected_clients without its line");
}

static bool same_info(const struct vh_redis_info *a, const struct vh_redis_info *b) {
	return a->role == b->role && a->has_loading == b->has_loading && a->loading == b->loading &&
			a->has_master_link == b->has_master_link &&
			a->master_link_up == b->master_link_up &&
			a->has_used_memory == b->has_used_memory &&
			a->used_memory == b->used_memory && a->has_maxmemory == b->has_maxmemory &&
			a->maxmemory == b->maxmemory &&
			a->has_connected_clients == b->has_connected_clients &&
			a->connected_clients == b->connected_clients;
}

/* Writes info as Redis would; returns the length. */
static size_t print_info(const struct vh_redis_info *info, char *buf, size_t len) {
	size_t n = 0;
	n += (size_t)snprintf(buf + n, len - n, "# Replication\r\n");
	if (info->role != VH_REDIS_ROLE_UNKNOWN) {
		n += (size_t)snprintf(buf + n, len - n, "role:%s\r\n",
				info->role == VH_REDIS_ROLE_MASTER ? "master" : "slave");
	}
	if (info->has_loading) {
		n += (size_t)snprintf(buf + n, len - n, "loading:%d\r\n", info->loading ? 1 : 0);
	}
	if (info->has_master_link) {
		n += (size_t)snprintf(buf + n, len - n, "master_link_status:%s\r\n",
				info->master_link_up ? "up" : "down");
	}
	if (info->has_used_memory) {
		n += (size_t)snprintf(buf + n, len - n, "used_memory:%llu\r\n",
				(unsigned long long)info->used_memory);
	}
	if (info->has_maxmemory) {
		n += (size_t)snprintf(buf + n, len - n, "maxmemory:%llu\r\n",
				(unsigned long long)info->maxmemory);
	}
	if (info->has_connected_clients) {
		n += (size_t)snprintf(buf + n, len - n, "connected_clients:%llu\r\n",
				(unsigned long long)info->connected_clients);
	}
	return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct vh_redis_info info;
	char err[160] = "";
	/* Unterminated, where libFuzzer put it, so ASan sees any read past size. */
	if (!vh_redis_info_parse((const char *)data, size, &info, err, sizeof(err))) {
		FUZZ_CHECK(err[0] != '\0', "failure without a reason");
		FUZZ_CHECK(!fuzz_has_control(err), "control character in an error");
		FUZZ_CHECK(fuzz_utf8_valid(err, strlen(err)), "an error is not valid UTF-8");
		return 0;
	}
	FUZZ_CHECK(info.role <= VH_REDIS_ROLE_REPLICA, "role out of range");
	check_absent_zero(&info);
	char text[512];
	size_t len = print_info(&info, text, sizeof(text));
	struct vh_redis_info again;
	FUZZ_CHECK(vh_redis_info_parse(text, len, &again, err, sizeof(err)),
			"the fields printed back do not parse");
	FUZZ_CHECK(same_info(&info, &again), "the fields printed back parse differently");
	return 0;
}
