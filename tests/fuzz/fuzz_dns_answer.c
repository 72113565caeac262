/* fuzz_dns_answer.c - libFuzzer target for the DNS-over-TCP fallback's parsers. Byte 0 picks
 * vh_dns_answer_parse() (then 2 bytes of id, 1 of type, the server's message, unterminated) or
 * vh_dns_search_parse() with vh_dns_candidates() (the rest is a resolv.conf). */
#include "fuzz_common.h"

#include "vh/dns_message.h"

#define NAME "api-peers.veza.svc.cluster.local"
#define CAP 64

/* The answer a server would give to our query with these addresses. */
static size_t answer_with(uint16_t id, uint16_t type, const struct vh_dns_address *addrs, size_t n,
		uint8_t *out, size_t cap) {
	size_t len = vh_dns_query_encode(id, NAME, type, out, cap);
	size_t size = type == VH_DNS_TYPE_A ? 4 : 16;
	out[2] |= 0x80;
	out[6] = (uint8_t)(n >> 8);
	out[7] = (uint8_t)n;
	for (size_t i = 0; i < n; i++) {
		const uint8_t head[] = {0xc0, 0x0c, (uint8_t)(type >> 8), (uint8_t)type, 0, 1, 0, 0,
				0, 5, 0, (uint8_t)size};
		memcpy(out + len, head, sizeof(head));
		memcpy(out + len + sizeof(head), addrs[i].bytes, size);
		len += sizeof(head) + size;
	}
	return len;
}

static void fuzz_answer(const uint8_t *data, size_t size) {
	if (size < 3) {
		return;
	}
	uint16_t id = (uint16_t)(data[0] << 8 | data[1]);
	uint16_t type = data[2] & 1 ? VH_DNS_TYPE_AAAA : VH_DNS_TYPE_A;
	const uint8_t *msg = data + 3;
	size_t len = size - 3;
	struct vh_dns_address out[CAP];
	size_t n = 99;
	char err[128] = "";
	enum vh_dns_rcode rc = vh_dns_answer_parse(
			msg, len, id, NAME, type, out, CAP, &n, err, sizeof(err));
	FUZZ_CHECK(rc == VH_DNS_ANSWERED || rc == VH_DNS_NO_SUCH_NAME || rc == VH_DNS_FAILED,
			"rcode out of range");
	FUZZ_CHECK(n <= CAP, "more addresses than room");
	if (rc != VH_DNS_ANSWERED) {
		FUZZ_CHECK(n == 0, "addresses with a failure");
		FUZZ_CHECK(rc != VH_DNS_FAILED || err[0] != '\0', "failure without a reason");
		FUZZ_CHECK(!fuzz_has_control(err), "control character in an error");
		return;
	}
	FUZZ_CHECK(len >= 12 && msg[0] == data[0] && msg[1] == data[1], "answered another id");
	FUZZ_CHECK((msg[2] & 0x80) && !(msg[2] & 0x02), "a query or a truncated answer accepted");
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(out[i].type == type, "an address of another type");
	}
	/* The addresses written again as an answer read back the same. */
	uint8_t again[12 + VH_DNS_QUERY_MAX + CAP * 28];
	size_t again_len = answer_with(id, type, out, n, again, sizeof(again));
	struct vh_dns_address back[CAP];
	size_t n_back = 0;
	FUZZ_CHECK(vh_dns_answer_parse(again, again_len, id, NAME, type, back, CAP, &n_back, err,
				   sizeof(err)) == VH_DNS_ANSWERED,
			"the addresses written again do not parse");
	FUZZ_CHECK(n_back == n && memcmp(back, out, n * sizeof(out[0])) == 0,
			"the addresses written again read differently");
}

static void fuzz_search(const uint8_t *data, size_t size) {
	struct vh_dns_search search;
	vh_dns_search_parse((const char *)data, size, &search);
	FUZZ_CHECK(search.n_domains <= VH_DNS_SEARCH_MAX, "too many domains");
	FUZZ_CHECK(search.ndots <= 15, "ndots above glibc's cap");
	uint8_t query[VH_DNS_QUERY_MAX];
	for (size_t i = 0; i < search.n_domains; i++) {
		FUZZ_CHECK(vh_dns_query_encode(1, search.domains[i], VH_DNS_TYPE_A, query,
					   sizeof(query)) > 0,
				"a search domain no query can carry");
	}
	char names[VH_DNS_CANDIDATES_MAX][VH_DNS_NAME_MAX + 2];
	size_t n = vh_dns_candidates("api-peers", &search, names);
	FUZZ_CHECK(n >= 1 && n <= search.n_domains + 1, "candidates miscounted");
	bool as_given = false;
	for (size_t i = 0; i < n; i++) {
		FUZZ_CHECK(vh_dns_query_encode(1, names[i], VH_DNS_TYPE_A, query, sizeof(query)) >
						0,
				"a candidate no query can carry");
		as_given |= strcmp(names[i], "api-peers") == 0;
	}
	FUZZ_CHECK(as_given, "the name as given is never asked");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	if (size == 0) {
		return 0;
	}
	if (data[0] & 1) {
		fuzz_search(data + 1, size - 1);
	} else {
		fuzz_answer(data + 1, size - 1);
	}
	return 0;
}
