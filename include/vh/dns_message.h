/* vh/dns_message.h - DNS queries and answers as bytes (RFC 1035), for lookups evdns cannot do. */
#ifndef VH_DNS_MESSAGE_H
#define VH_DNS_MESSAGE_H
#include "vh/compat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define VH_DNS_TYPE_A 1
#define VH_DNS_TYPE_AAAA 28
/* The longest name in presentation form, without the root's trailing dot (RFC 1035 2.3.4). */
#define VH_DNS_NAME_MAX 253
/* A query for the longest name: header, name in wire form, type and class. */
#define VH_DNS_QUERY_MAX (12 + VH_DNS_NAME_MAX + 2 + 4)
/* The search domains kept from resolv.conf: glibc's historic MAXDNSRCH. */
#define VH_DNS_SEARCH_MAX 6
/* The most candidates vh_dns_candidates() writes: every search domain and the name as given. */
#define VH_DNS_CANDIDATES_MAX (VH_DNS_SEARCH_MAX + 1)

/* One address from an answer, in network byte order: 4 bytes for A, 16 for AAAA. */
struct vh_dns_address {
	uint16_t type;
	uint8_t bytes[16];
};

enum vh_dns_rcode {
	VH_DNS_ANSWERED, /* NOERROR; the answer may still hold no address of the type asked */
	VH_DNS_NO_SUCH_NAME, /* NXDOMAIN */
	VH_DNS_FAILED, /* a malformed or mismatched message, or any other response code */
};

/* Writes a recursive query for name (presentation form, an optional trailing dot) and type with
 * id into out. Returns its length, or 0 when the name is empty, has an empty label or one over
 * 63 bytes, is over VH_DNS_NAME_MAX bytes, or out (cap bytes) is too small. */
size_t vh_dns_query_encode(uint16_t id, const char *name, uint16_t type, uint8_t *out, size_t cap);

/* Reads the answer msg (len bytes, without TCP's length prefix) to a query made by
 * vh_dns_query_encode() with id, name and type. Writes the answer section's records of that type
 * (at most cap; the owner names are not compared, which follows CNAME chains a server resolved)
 * to out and their count to *n. Returns VH_DNS_FAILED with a one-line reason in err for a reply
 * that is not to that query, is truncated or malformed (labels past the end, compression loops)
 * or has an error code other than NXDOMAIN. Never reads outside msg. */
VH_MUSTCHECK enum vh_dns_rcode vh_dns_answer_parse(const uint8_t *msg, size_t len, uint16_t id,
		const char *name, uint16_t type, struct vh_dns_address *out, size_t cap, size_t *n,
		char *err, size_t err_len);

/* What resolv.conf(5) says about names that are not fully qualified. */
struct vh_dns_search {
	size_t n_domains;
	char domains[VH_DNS_SEARCH_MAX][VH_DNS_NAME_MAX + 2];
	unsigned ndots; /* 1 unless an "options ndots:N" says otherwise; at most 15 */
};

/* Reads the search list ("search", or "domain", whichever comes last; the first
 * VH_DNS_SEARCH_MAX domains that are valid names) and "options ndots:" from the text of a
 * resolv.conf (len bytes, no NUL needed). Lines it does not know are skipped, as resolvers do. */
void vh_dns_search_parse(const char *text, size_t len, struct vh_dns_search *out);

/* The names a resolver asks, in order, for name under search (NULL for none): a name ending
 * in a dot only as given; one with at least ndots dots as given first, then with each domain
 * appended; any other with each domain first and as given last. Candidates longer than
 * VH_DNS_NAME_MAX are left out. Returns how many were written (at most VH_DNS_CANDIDATES_MAX,
 * each out[i] VH_DNS_NAME_MAX + 2 bytes). */
size_t vh_dns_candidates(const char *name, const struct vh_dns_search *search,
		char (*out)[VH_DNS_NAME_MAX + 2]);

#endif
