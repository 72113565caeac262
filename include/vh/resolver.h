/* vh/resolver.h - non-blocking host name lookups with evdns for the network probes. */
#ifndef VH_RESOLVER_H
#define VH_RESOLVER_H
#include <stdbool.h>
#include <stddef.h>

#include "vh/config.h"

struct event_base;
struct vh_resolver;
struct vh_resolve;

/* Called once per lookup that was not cancelled, on the loop thread. On success addr is a
 * numeric IPv4 or IPv6 address (no brackets) and error is NULL; on failure addr is NULL and
 * error says why in one line, naming the host: "cannot resolve \"db.internal\": " followed by
 * "no such host", "no address for this name", "DNS timeout", "no nameserver configured" or
 * evdns's text for other failures. An answer evdns fails on for any reason but a timeout (one
 * truncated because it does not fit UDP's 512 bytes, such as a headless Service of more than
 * about 28 replicas) is asked again over TCP, with the same nameservers and search list and
 * within timeout x attempts; when that fails too, the error ends "; over TCP: " and why
 * ("connection refused by 10.96.0.10:53"). Both are valid only during the call. done may
 * cancel or start lookups. */
typedef void (*vh_resolve_done_fn)(void *arg, const char *addr, const char *error);

/* The most addresses vh_resolver_lookup_all() reports for one name. */
#define VH_RESOLVE_ALL_MAX 1024

/* Like vh_resolve_done_fn, for vh_resolver_lookup_all(): on success addrs holds n numeric
 * addresses (IPv4 first, then IPv6, each once) and error is NULL; on failure n is 0. */
typedef void (*vh_resolve_all_fn)(void *arg, const char *const *addrs, size_t n, const char *error);

/* Creates a resolver on base from config: its nameservers (no search list), or the nameservers,
 * search list and ndots of /etc/resolv.conf when it lists none; /etc/hosts in both cases.
 * config's timeout and attempts override resolv.conf's options. Without a usable resolv.conf
 * it logs a warning and resolves only /etc/hosts names and numeric addresses. Returns NULL with
 * a reason in err (a nameserver evdns cannot use). */
struct vh_resolver *vh_resolver_create(struct event_base *base, const struct vh_dns_config *config,
		char *err, size_t err_len);
/* Accepts NULL. Cancels every lookup in flight without calling their callbacks. evdns delivers
 * cancellations through the loop, so this runs a few non-blocking turns of base to let it free
 * them: call it after everything that would misbehave if its events ran then (such as an HTTP
 * server answering from freed state) is gone. */
void vh_resolver_destroy(struct vh_resolver *resolver);

/* Starts resolving host (a name, a numeric address or a bracketed IPv6 literal; numeric ones
 * are answered without DNS). IPv4 is preferred when a name has both kinds. The result is NULL
 * exactly when done has already run, before this returned: for numeric addresses, /etc/hosts
 * names and immediate failures (out of memory, no nameserver). Otherwise it is a handle that
 * stays valid until done runs or it is cancelled. host is copied. */
struct vh_resolve *vh_resolver_lookup(
		struct vh_resolver *resolver, const char *host, vh_resolve_done_fn done, void *arg);
/* As vh_resolver_lookup(), but reports every address of the name (a headless Service's
 * replicas), at most VH_RESOLVE_ALL_MAX of them. */
struct vh_resolve *vh_resolver_lookup_all(
		struct vh_resolver *resolver, const char *host, vh_resolve_all_fn done, void *arg);
/* Cancels a lookup in flight; done will not be called. Accepts NULL, and a handle whose done
 * is running (it then does nothing); never pass one whose done has returned. */
void vh_resolve_cancel(struct vh_resolve *lookup);

#endif
