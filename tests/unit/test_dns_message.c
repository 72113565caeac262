/* test_dns_message.c - DNS queries and answers as bytes, resolv.conf's search list and the
 * names a lookup asks, for the TCP fallback of peer discovery. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/dns_message.h"

#define ID 0x1234

/* An answer to the query for name and type: the query with QR set, rcode, and n_records
 * records written by the caller after it (each name a pointer to the question). */
struct answer {
	uint8_t bytes[4096];
	size_t len;
};

static struct answer answer_to(const char *name, uint16_t type, unsigned rcode) {
	struct answer a = {.len = 0};
	a.len = vh_dns_query_encode(ID, name, type, a.bytes, sizeof(a.bytes));
	cr_assert_gt(a.len, 0);
	a.bytes[2] |= 0x80; /* QR */
	a.bytes[3] = (uint8_t)(0x80 | rcode); /* RA, rcode */
	return a;
}

static void add_record(struct answer *a, uint16_t type, const uint8_t *rdata, uint16_t rdlength) {
	uint8_t *p = a->bytes + a->len;
	p[0] = 0xc0;
	p[1] = 0x0c; /* the question's name */
	p[2] = (uint8_t)(type >> 8);
	p[3] = (uint8_t)type;
	p[4] = 0;
	p[5] = 1; /* IN */
	memset(p + 6, 0, 4); /* TTL */
	p[8] = 0;
	p[9] = 30;
	p[10] = (uint8_t)(rdlength >> 8);
	p[11] = (uint8_t)rdlength;
	memcpy(p + 12, rdata, rdlength);
	a->len += 12 + rdlength;
	uint16_t count = (uint16_t)((a->bytes[6] << 8 | a->bytes[7]) + 1);
	a->bytes[6] = (uint8_t)(count >> 8);
	a->bytes[7] = (uint8_t)count;
}

static void add_a(struct answer *a, uint8_t last) {
	uint8_t ip[4] = {10, 0, 0, last};
	add_record(a, VH_DNS_TYPE_A, ip, 4);
}

static enum vh_dns_rcode parse(const struct answer *a, const char *name, uint16_t type,
		struct vh_dns_address *out, size_t cap, size_t *n, char *err) {
	return vh_dns_answer_parse(a->bytes, a->len, ID, name, type, out, cap, n, err, 128);
}

/* --- queries ------------------------------------------------------------------------------ */

Test(dns_query, encodes_header_name_type_and_class) {
	uint8_t out[VH_DNS_QUERY_MAX];
	size_t len = vh_dns_query_encode(0xbeef, "api.svc", VH_DNS_TYPE_AAAA, out, sizeof(out));
	const uint8_t want[] = {0xbe, 0xef, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, 'a', 'p', 'i', 3,
			's', 'v', 'c', 0, 0, 28, 0, 1};
	cr_assert_eq(len, sizeof(want));
	cr_assert_arr_eq(out, want, sizeof(want));
}

Test(dns_query, trailing_dot_is_the_same_name) {
	uint8_t a[VH_DNS_QUERY_MAX], b[VH_DNS_QUERY_MAX];
	size_t la = vh_dns_query_encode(1, "a.b", VH_DNS_TYPE_A, a, sizeof(a));
	size_t lb = vh_dns_query_encode(1, "a.b.", VH_DNS_TYPE_A, b, sizeof(b));
	cr_assert_eq(la, lb);
	cr_assert_arr_eq(a, b, la);
}

Test(dns_query, refuses_names_no_server_takes) {
	uint8_t out[VH_DNS_QUERY_MAX];
	char label64[80], long_name[300];
	memset(label64, 'x', 64);
	label64[64] = '\0';
	for (size_t i = 0; i < 254; i++) {
		long_name[i] = i % 2 ? '.' : 'x';
	}
	long_name[254] = 'x';
	long_name[255] = '\0';
	const char *bad[] = {"", ".", "a..b", ".a", label64, long_name};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(vh_dns_query_encode(1, bad[i], VH_DNS_TYPE_A, out, sizeof(out)), 0,
				"\"%s\"", bad[i]);
	}
	label64[63] = '\0';
	cr_assert_gt(vh_dns_query_encode(1, label64, VH_DNS_TYPE_A, out, sizeof(out)), 0,
			"63 bytes is a label");
	cr_assert_eq(vh_dns_query_encode(1, "a.b", VH_DNS_TYPE_A, out, 20), 0, "too small");
	cr_assert_eq(vh_dns_query_encode(1, "a.b", VH_DNS_TYPE_A, out, 21), 21, "just enough");
}

/* --- answers ------------------------------------------------------------------------------ */

Test(dns_answer, reads_every_address_of_the_type_asked) {
	struct answer a = answer_to("api.svc", VH_DNS_TYPE_A, 0);
	for (uint8_t i = 1; i <= 40; i++) {
		add_a(&a, i);
	}
	struct vh_dns_address out[64];
	size_t n = 99;
	char err[128] = "";
	cr_assert_eq(parse(&a, "api.svc", VH_DNS_TYPE_A, out, 64, &n, err), VH_DNS_ANSWERED, "%s",
			err);
	cr_assert_eq(n, 40);
	const uint8_t last[4] = {10, 0, 0, 40};
	cr_assert_arr_eq(out[39].bytes, last, 4);
	cr_assert_eq(out[39].type, VH_DNS_TYPE_A);
}

Test(dns_answer, reads_aaaa_and_skips_other_types) {
	struct answer a = answer_to("v6.test", VH_DNS_TYPE_AAAA, 0);
	const uint8_t cname[] = {2, 'v', '6', 0};
	const uint8_t v6[16] = {0x20, 0x01, 0x0d, 0xb8, [15] = 7};
	add_record(&a, 5, cname, sizeof(cname)); /* CNAME, as a resolver puts before the end */
	add_record(&a, VH_DNS_TYPE_AAAA, v6, 16);
	add_a(&a, 1); /* not asked for */
	struct vh_dns_address out[4];
	size_t n = 0;
	char err[128] = "";
	cr_assert_eq(parse(&a, "V6.TEST", VH_DNS_TYPE_AAAA, out, 4, &n, err), VH_DNS_ANSWERED,
			"names compare without case: %s", err);
	cr_assert_eq(n, 1);
	cr_assert_arr_eq(out[0].bytes, v6, 16);
}

Test(dns_answer, keeps_at_most_cap_addresses) {
	struct answer a = answer_to("a.b", VH_DNS_TYPE_A, 0);
	for (uint8_t i = 1; i <= 5; i++) {
		add_a(&a, i);
	}
	struct vh_dns_address out[2];
	size_t n = 0;
	char err[128];
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 2, &n, err), VH_DNS_ANSWERED);
	cr_assert_eq(n, 2);
	cr_assert_eq(out[1].bytes[3], 2);
}

Test(dns_answer, nxdomain_and_errors) {
	struct vh_dns_address out[2];
	size_t n = 0;
	char err[128] = "";
	struct answer a = answer_to("a.b", VH_DNS_TYPE_A, 3);
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 2, &n, err), VH_DNS_NO_SUCH_NAME);
	a = answer_to("a.b", VH_DNS_TYPE_A, 2);
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 2, &n, err), VH_DNS_FAILED);
	cr_assert_str_eq(err, "DNS server answered with error code 2");
	a = answer_to("a.b", VH_DNS_TYPE_A, 0);
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 2, &n, err), VH_DNS_ANSWERED);
	cr_assert_eq(n, 0, "a name with no address of the type");
}

Test(dns_answer, refuses_answers_to_another_query) {
	struct vh_dns_address out[2];
	size_t n = 0;
	char err[128] = "";
	struct answer a = answer_to("a.b", VH_DNS_TYPE_A, 0);
	add_a(&a, 1);
	cr_assert_eq(vh_dns_answer_parse(a.bytes, a.len, ID + 1, "a.b", VH_DNS_TYPE_A, out, 2, &n,
				     err, sizeof(err)),
			VH_DNS_FAILED, "another id");
	cr_assert_str_eq(err, "DNS answer to another query");
	cr_assert_eq(parse(&a, "a.c", VH_DNS_TYPE_A, out, 2, &n, err), VH_DNS_FAILED, "name");
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_AAAA, out, 2, &n, err), VH_DNS_FAILED, "type");
	a.bytes[2] &= 0x7f;
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 2, &n, err), VH_DNS_FAILED, "a query");
}

Test(dns_answer, refuses_truncated_answers) {
	struct answer a = answer_to("a.b", VH_DNS_TYPE_A, 0);
	add_a(&a, 1);
	a.bytes[2] |= 0x02; /* TC */
	struct vh_dns_address out[2];
	size_t n = 0;
	char err[128] = "";
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 2, &n, err), VH_DNS_FAILED);
	cr_assert_str_eq(err, "DNS answer truncated");
}

Test(dns_answer, every_cut_short_answer_fails_without_reading_past_it) {
	struct answer a = answer_to("api.svc", VH_DNS_TYPE_A, 0);
	add_a(&a, 1);
	add_a(&a, 2);
	struct vh_dns_address out[4];
	char err[128];
	for (size_t len = 0; len < a.len; len++) {
		/* A copy of exactly len bytes, so that ASan sees any read past it. */
		uint8_t *cut = malloc(len ? len : 1);
		memcpy(cut, a.bytes, len);
		size_t n = 7;
		cr_assert_eq(vh_dns_answer_parse(cut, len, ID, "api.svc", VH_DNS_TYPE_A, out, 4, &n,
					     err, sizeof(err)),
				VH_DNS_FAILED, "cut at %zu of %zu", len, a.len);
		cr_assert_eq(n, 0);
		free(cut);
	}
}

Test(dns_answer, refuses_bad_records_and_compression_loops) {
	struct vh_dns_address out[4];
	size_t n = 0;
	char err[128] = "";
	struct answer a = answer_to("a.b", VH_DNS_TYPE_A, 0);
	const uint8_t five[5] = {1, 2, 3, 4, 5};
	add_record(&a, VH_DNS_TYPE_A, five, 5);
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 4, &n, err), VH_DNS_FAILED);
	cr_assert_str_eq(err, "malformed DNS answer");

	a = answer_to("a.b", VH_DNS_TYPE_A, 0);
	size_t at = a.len;
	add_a(&a, 1);
	a.bytes[at] = (uint8_t)(0xc0 | (at >> 8));
	a.bytes[at + 1] = (uint8_t)at; /* the record's name points at itself */
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 4, &n, err), VH_DNS_FAILED);

	a = answer_to("a.b", VH_DNS_TYPE_A, 0);
	at = a.len;
	add_a(&a, 1);
	a.bytes[at] = 0x40; /* an obsolete label type */
	cr_assert_eq(parse(&a, "a.b", VH_DNS_TYPE_A, out, 4, &n, err), VH_DNS_FAILED);
	cr_assert_eq(n, 0);
}

/* --- resolv.conf and candidates -------------------------------------------------------------- */

static struct vh_dns_search parse_conf(const char *text) {
	struct vh_dns_search s;
	vh_dns_search_parse(text, strlen(text), &s);
	return s;
}

Test(dns_search, reads_a_kubernetes_resolv_conf) {
	struct vh_dns_search s = parse_conf("nameserver 10.96.0.10\n"
					    "search veza.svc.cluster.local svc.cluster.local "
					    "cluster.local\n"
					    "options ndots:5\n");
	cr_assert_eq(s.n_domains, 3);
	cr_assert_str_eq(s.domains[0], "veza.svc.cluster.local");
	cr_assert_str_eq(s.domains[2], "cluster.local");
	cr_assert_eq(s.ndots, 5);
}

Test(dns_search, last_of_search_and_domain_wins) {
	struct vh_dns_search s = parse_conf("search a.example b.example\ndomain c.example\n");
	cr_assert_eq(s.n_domains, 1);
	cr_assert_str_eq(s.domains[0], "c.example");
	s = parse_conf("domain c.example\nsearch a.example b.example");
	cr_assert_eq(s.n_domains, 2, "no newline at the end is still a line");
	cr_assert_eq(s.ndots, 1, "the default");
}

Test(dns_search, keeps_six_valid_domains_and_skips_the_rest) {
	char label64[70];
	memset(label64, 'x', 64);
	label64[64] = '\0';
	char text[400];
	snprintf(text, sizeof(text), "search a %s b.. c d e f g h\r\n", label64);
	struct vh_dns_search s = parse_conf(text);
	cr_assert_eq(s.n_domains, 6);
	cr_assert_str_eq(s.domains[0], "a");
	cr_assert_str_eq(s.domains[1], "c", "a 64-byte label and an empty one are skipped");
	cr_assert_str_eq(s.domains[5], "g");
}

Test(dns_search, comments_unknown_lines_and_odd_ndots) {
	struct vh_dns_search s =
			parse_conf("# search no.example\n; search no.example\n"
				   "sortlist 10.0.0.0\noptions rotate ndots:20 timeout:1\n");
	cr_assert_eq(s.n_domains, 0);
	cr_assert_eq(s.ndots, 15, "capped as glibc does");
	s = parse_conf("options ndots:x ndots:\noptions ndots:0\n");
	cr_assert_eq(s.ndots, 0);
	s = parse_conf("options ndots:2x\n");
	cr_assert_eq(s.ndots, 1, "not a number");
}

Test(dns_candidates, short_names_try_the_search_list_first) {
	struct vh_dns_search s = parse_conf("search veza.svc.cluster.local svc.cluster.local\n"
					    "options ndots:5\n");
	char out[VH_DNS_CANDIDATES_MAX][VH_DNS_NAME_MAX + 2];
	cr_assert_eq(vh_dns_candidates("api-peers", &s, out), 3);
	cr_assert_str_eq(out[0], "api-peers.veza.svc.cluster.local");
	cr_assert_str_eq(out[1], "api-peers.svc.cluster.local");
	cr_assert_str_eq(out[2], "api-peers");
}

Test(dns_candidates, dotted_names_and_trailing_dots) {
	struct vh_dns_search s = parse_conf("search x.example\noptions ndots:2\n");
	char out[VH_DNS_CANDIDATES_MAX][VH_DNS_NAME_MAX + 2];
	cr_assert_eq(vh_dns_candidates("a.b.c", &s, out), 2);
	cr_assert_str_eq(out[0], "a.b.c", "ndots reached: as given first");
	cr_assert_str_eq(out[1], "a.b.c.x.example");
	cr_assert_eq(vh_dns_candidates("a.b.c.", &s, out), 1);
	cr_assert_str_eq(out[0], "a.b.c");
	cr_assert_eq(vh_dns_candidates("a", NULL, out), 1);
	cr_assert_str_eq(out[0], "a");
	cr_assert_eq(vh_dns_candidates("", &s, out), 0);
}

Test(dns_candidates, leaves_out_names_too_long) {
	char base[260], domain[200], text[260];
	memset(base, 0, sizeof(base));
	for (size_t i = 0; i < 120; i += 2) {
		base[i] = 'x';
		base[i + 1] = '.';
	}
	base[119] = '\0'; /* 60 labels: 119 bytes */
	memset(domain, 0, sizeof(domain));
	for (size_t i = 0; i < 140; i += 2) {
		domain[i] = 'd';
		domain[i + 1] = '.';
	}
	domain[139] = '\0';
	snprintf(text, sizeof(text), "search %s ok\noptions ndots:100\n", domain);
	struct vh_dns_search s = parse_conf(text);
	cr_assert_eq(s.n_domains, 2);
	char out[VH_DNS_CANDIDATES_MAX][VH_DNS_NAME_MAX + 2];
	cr_assert_eq(vh_dns_candidates(base, &s, out), 2, "119 + 1 + 139 is over 253");
	cr_assert_str_eq(out[0], base, "59 dots reach ndots (100, capped at 15)");
	cr_assert_eq(strlen(out[1]), 122);
}
