/* vh/dns_tcp.h - DNS lookups over TCP (RFC 7766), for answers too big for evdns's UDP. */
#ifndef VH_DNS_TCP_H
#define VH_DNS_TCP_H
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "vh/dns_message.h"

struct event_base;
struct vh_dns_tcp;

/* The most nameservers a lookup tries, as resolv.conf's MAXNS. */
#define VH_DNS_TCP_SERVERS_MAX 3
/* The most addresses a lookup reports. */
#define VH_DNS_TCP_ADDRESSES_MAX 1024

/* The outcome, once: VH_DNS_ANSWERED with n addresses (A records first, then AAAA) of the first
 * candidate name that has any; VH_DNS_NO_SUCH_NAME when every candidate is NXDOMAIN or has no
 * address (n is 0; some_name_exists says whether any of them exists); VH_DNS_FAILED with a
 * one-line reason in error ("connection refused by 10.96.0.10:53", "no answer within 2000 ms",
 * a malformed answer). addrs and error are valid only during the call, which may cancel other
 * lookups but not this one. */
typedef void (*vh_dns_tcp_done_fn)(void *arg, enum vh_dns_rcode rcode,
		const struct vh_dns_address *addrs, size_t n, bool some_name_exists,
		const char *error);

/* Starts asking names[0..n_names) in turn for A and then AAAA records over one TCP connection
 * to the first of servers[0..n_servers) that accepts it (the next when one refuses or drops it
 * before answering), all within timeout_ms. Never calls done before returning. Returns NULL with
 * a reason in err when nothing can be started (no server, no name, a name no query can carry,
 * out of memory). */
struct vh_dns_tcp *vh_dns_tcp_start(struct event_base *base, const struct sockaddr_storage *servers,
		size_t n_servers, const char (*names)[VH_DNS_NAME_MAX + 2], size_t n_names,
		int64_t timeout_ms, vh_dns_tcp_done_fn done, void *arg, char *err, size_t err_len);
/* Stops a lookup whose done has not run, at once and without calling it. Accepts NULL. */
void vh_dns_tcp_cancel(struct vh_dns_tcp *lookup);

#endif
