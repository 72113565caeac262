/* dns_message.c - DNS queries and answers as bytes (RFC 1035), for lookups evdns cannot do. */
#include "vh/dns_message.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define HEADER_LEN 12
#define FLAG_QR 0x8000
#define FLAG_TC 0x0200
#define FLAG_RD 0x0100
#define RCODE_MASK 0x000f
#define RCODE_NXDOMAIN 3
#define CLASS_IN 1
#define LABEL_MAX 63
/* A name of at most 255 wire bytes has at most 127 labels; following more pointers than that
 * can only be a loop. */
#define POINTER_HOPS_MAX 128

static void put16(uint8_t *p, uint16_t v) {
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)(v & 0xff);
}

static uint16_t get16(const uint8_t *p) {
	return (uint16_t)((p[0] << 8) | p[1]);
}

/* Writes name in wire form (length-prefixed labels, a zero byte) at out. Returns its length or
 * 0 for a name no server would take. */
static size_t encode_name(const char *name, uint8_t *out, size_t cap) {
	size_t len = strlen(name);
	if (len > 0 && name[len - 1] == '.') {
		len--;
	}
	if (len == 0 || len > VH_DNS_NAME_MAX || len + 2 > cap) {
		return 0;
	}
	size_t pos = 0;
	size_t start = 0;
	while (start <= len) {
		const char *dot = memchr(name + start, '.', len - start);
		size_t label = dot ? (size_t)(dot - (name + start)) : len - start;
		if (label == 0 || label > LABEL_MAX) {
			return 0;
		}
		out[pos++] = (uint8_t)label;
		memcpy(out + pos, name + start, label);
		pos += label;
		start += label + 1;
	}
	out[pos++] = 0;
	return pos;
}

size_t vh_dns_query_encode(uint16_t id, const char *name, uint16_t type, uint8_t *out, size_t cap) {
	if (cap < HEADER_LEN + 4) {
		return 0;
	}
	size_t name_len = encode_name(name, out + HEADER_LEN, cap - HEADER_LEN - 4);
	if (name_len == 0) {
		return 0;
	}
	memset(out, 0, HEADER_LEN);
	put16(out, id);
	put16(out + 2, FLAG_RD);
	put16(out + 4, 1); /* one question */
	uint8_t *tail = out + HEADER_LEN + name_len;
	put16(tail, type);
	put16(tail + 2, CLASS_IN);
	return HEADER_LEN + name_len + 4;
}

/* Skips the name at *pos, following compression pointers without ever leaving msg. On success
 * *pos is just past the name as it appears at *pos (a pointer counts for two bytes). When text
 * is not NULL the name is also written there in presentation form (text_cap bytes). */
static bool read_name(const uint8_t *msg, size_t len, size_t *pos, char *text, size_t text_cap) {
	size_t at = *pos;
	size_t end = 0; /* where the name ends in place, once the first pointer is met */
	size_t out = 0;
	for (int hops = 0; hops < POINTER_HOPS_MAX; hops++) {
		if (at >= len) {
			return false;
		}
		uint8_t label = msg[at];
		if ((label & 0xc0) == 0xc0) {
			if (at + 1 >= len) {
				return false;
			}
			if (end == 0) {
				end = at + 2;
			}
			at = ((size_t)(label & 0x3f) << 8) | msg[at + 1];
			continue;
		}
		if (label & 0xc0) {
			return false; /* the 0x40 and 0x80 label types are obsolete or unassigned */
		}
		if (label == 0) {
			*pos = end ? end : at + 1;
			if (text) {
				text[out] = '\0';
			}
			return true;
		}
		if (at + 1 + label > len) {
			return false;
		}
		if (text) {
			if (out + label + 2 > text_cap) {
				return false;
			}
			if (out > 0) {
				text[out++] = '.';
			}
			memcpy(text + out, msg + at + 1, label);
			out += label;
		}
		at += 1 + (size_t)label;
	}
	return false;
}

/* Whether the question section is exactly our question. Servers echo it, in our case. */
static bool is_our_question(
		const uint8_t *msg, size_t len, size_t *pos, const char *name, uint16_t type) {
	char asked[VH_DNS_NAME_MAX + 2];
	if (!read_name(msg, len, pos, asked, sizeof(asked)) || *pos + 4 > len) {
		return false;
	}
	size_t name_len = strlen(name);
	if (name_len > 0 && name[name_len - 1] == '.') {
		name_len--;
	}
	bool same = strlen(asked) == name_len && strncasecmp(asked, name, name_len) == 0 &&
			get16(msg + *pos) == type && get16(msg + *pos + 2) == CLASS_IN;
	*pos += 4;
	return same;
}

static enum vh_dns_rcode fail(char *err, size_t err_len, const char *why) {
	snprintf(err, err_len, "%s", why);
	return VH_DNS_FAILED;
}

/* Reads one resource record at *pos, adding its address to out when it is of type. */
static bool read_record(const uint8_t *msg, size_t len, size_t *pos, uint16_t type,
		struct vh_dns_address *out, size_t cap, size_t *n) {
	if (!read_name(msg, len, pos, NULL, 0) || *pos + 10 > len) {
		return false;
	}
	uint16_t rtype = get16(msg + *pos);
	uint16_t rclass = get16(msg + *pos + 2);
	uint16_t rdlength = get16(msg + *pos + 8);
	*pos += 10;
	if (*pos + rdlength > len) {
		return false;
	}
	size_t want = type == VH_DNS_TYPE_A ? 4 : 16;
	if (rtype == type && rclass == CLASS_IN) {
		if (rdlength != want) {
			return false;
		}
		if (*n < cap) {
			out[*n].type = type;
			memset(out[*n].bytes, 0, sizeof(out[*n].bytes));
			memcpy(out[*n].bytes, msg + *pos, want);
			(*n)++;
		}
	}
	*pos += rdlength;
	return true;
}

enum vh_dns_rcode vh_dns_answer_parse(const uint8_t *msg, size_t len, uint16_t id, const char *name,
		uint16_t type, struct vh_dns_address *out, size_t cap, size_t *n, char *err,
		size_t err_len) {
	*n = 0;
	if (len < HEADER_LEN) {
		return fail(err, err_len, "DNS answer shorter than its header");
	}
	uint16_t flags = get16(msg + 2);
	if (get16(msg) != id || !(flags & FLAG_QR) || get16(msg + 4) != 1) {
		return fail(err, err_len, "DNS answer to another query");
	}
	if (flags & FLAG_TC) {
		return fail(err, err_len, "DNS answer truncated");
	}
	size_t pos = HEADER_LEN;
	if (!is_our_question(msg, len, &pos, name, type)) {
		return fail(err, err_len, "DNS answer to another query");
	}
	unsigned rcode = flags & RCODE_MASK;
	if (rcode == RCODE_NXDOMAIN) {
		return VH_DNS_NO_SUCH_NAME;
	}
	if (rcode != 0) {
		snprintf(err, err_len, "DNS server answered with error code %u", rcode);
		return VH_DNS_FAILED;
	}
	uint16_t answers = get16(msg + 6);
	for (uint16_t i = 0; i < answers; i++) {
		if (!read_record(msg, len, &pos, type, out, cap, n)) {
			*n = 0;
			return fail(err, err_len, "malformed DNS answer");
		}
	}
	return VH_DNS_ANSWERED;
}

/* Writes base (without a trailing dot) + "." + domain, or base alone, to out when it fits a
 * name. */
static bool join_name(const char *base, const char *domain, char *out, size_t cap) {
	size_t base_len = strlen(base);
	size_t domain_len = domain ? strlen(domain) : 0;
	if (base_len > 0 && base[base_len - 1] == '.') {
		base_len--;
	}
	if (domain_len > 0 && domain[domain_len - 1] == '.') {
		domain_len--;
	}
	int w = domain_len ? snprintf(out, cap, "%.*s.%.*s", (int)base_len, base, (int)domain_len,
					     domain)
			   : snprintf(out, cap, "%.*s", (int)base_len, base);
	return w > 0 && (size_t)w <= VH_DNS_NAME_MAX && (size_t)w < cap;
}

size_t vh_dns_candidates(const char *name, const struct vh_dns_search *search,
		char (*out)[VH_DNS_NAME_MAX + 2]) {
	size_t len = strlen(name);
	size_t n = 0;
	size_t n_search = search ? search->n_domains : 0;
	if (len == 0) {
		return 0;
	}
	if (name[len - 1] == '.') {
		return join_name(name, NULL, out[0], sizeof(out[0])) ? 1 : 0;
	}
	unsigned dots = 0;
	for (size_t i = 0; i < len; i++) {
		dots += name[i] == '.';
	}
	bool as_given_first = n_search == 0 || dots >= search->ndots;
	if (as_given_first && join_name(name, NULL, out[n], sizeof(out[n]))) {
		n++;
	}
	for (size_t i = 0; i < n_search && i < VH_DNS_SEARCH_MAX; i++) {
		if (join_name(name, search->domains[i], out[n], sizeof(out[n]))) {
			n++;
		}
	}
	if (!as_given_first && join_name(name, NULL, out[n], sizeof(out[n]))) {
		n++;
	}
	return n;
}

/* --- resolv.conf ---------------------------------------------------------------------------- */

#define NDOTS_MAX 15 /* glibc's RES_MAXNDOTS */

static bool is_blank(char c) {
	return c == ' ' || c == '\t' || c == '\r';
}

/* The next whitespace-separated word of the line [*at, end); false at the line's end. */
static bool next_word(const char **at, const char *end, const char **word, size_t *word_len) {
	const char *p = *at;
	while (p < end && is_blank(*p)) {
		p++;
	}
	const char *start = p;
	while (p < end && !is_blank(*p)) {
		p++;
	}
	*at = p;
	*word = start;
	*word_len = (size_t)(p - start);
	return p > start;
}

static bool word_is(const char *word, size_t len, const char *keyword) {
	return len == strlen(keyword) && memcmp(word, keyword, len) == 0;
}

/* A search domain must make a name of its own: labels of 1 to 63 bytes, at most
 * VH_DNS_NAME_MAX in all. The root (".") adds nothing, so it is no domain either. */
static bool valid_domain(const char *word, size_t len) {
	uint8_t wire[VH_DNS_NAME_MAX + 2];
	char name[VH_DNS_NAME_MAX + 2];
	if (len == 0 || len > VH_DNS_NAME_MAX + 1) {
		return false;
	}
	memcpy(name, word, len);
	name[len] = '\0';
	return encode_name(name, wire, sizeof(wire)) > 0;
}

/* "domain" names one domain, "search" up to VH_DNS_SEARCH_MAX; either replaces the other. */
static void read_domains(const char *p, const char *end, size_t most, struct vh_dns_search *out) {
	const char *word;
	size_t len;
	out->n_domains = 0;
	while (out->n_domains < most && next_word(&p, end, &word, &len)) {
		if (valid_domain(word, len)) {
			memcpy(out->domains[out->n_domains], word, len);
			out->domains[out->n_domains][len] = '\0';
			out->n_domains++;
		}
	}
}

static void read_options(const char *p, const char *end, struct vh_dns_search *out) {
	const char *word;
	size_t len;
	while (next_word(&p, end, &word, &len)) {
		if (len <= 6 || memcmp(word, "ndots:", 6) != 0) {
			continue;
		}
		unsigned ndots = 0;
		size_t i = 6;
		for (; i < len && word[i] >= '0' && word[i] <= '9' && ndots <= NDOTS_MAX; i++) {
			ndots = ndots * 10 + (unsigned)(word[i] - '0');
		}
		if (i == len || ndots > NDOTS_MAX) {
			out->ndots = ndots > NDOTS_MAX ? NDOTS_MAX : ndots;
		}
	}
}

void vh_dns_search_parse(const char *text, size_t len, struct vh_dns_search *out) {
	const char *end = text + len;
	memset(out, 0, sizeof(*out));
	out->ndots = 1;
	for (const char *line = text; line < end;) {
		const char *eol = memchr(line, '\n', (size_t)(end - line));
		if (!eol) {
			eol = end;
		}
		const char *p = line;
		const char *word;
		size_t word_len;
		if (*line != '#' && *line != ';' && next_word(&p, eol, &word, &word_len)) {
			if (word_is(word, word_len, "search")) {
				read_domains(p, eol, VH_DNS_SEARCH_MAX, out);
			} else if (word_is(word, word_len, "domain")) {
				read_domains(p, eol, 1, out);
			} else if (word_is(word, word_len, "options")) {
				read_options(p, eol, out);
			}
		}
		line = eol + 1;
	}
}
