/* resolver.c - non-blocking host name lookups with evdns for the network probes. */
#include "vh/resolver.h"

#include <arpa/inet.h>
#include <event2/dns.h>
#include <event2/event.h>
#include <event2/util.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vh/clock.h"
#include "vh/dns_tcp.h"
#include "vh/log.h"

#define RESOLV_CONF "/etc/resolv.conf"
/* How long evdns waits for the second of the A and AAAA answers once the first is in. Its
 * default of 3 s would make a server that drops AAAA queries cost every lookup 3 s, although
 * IPv4 is what we prefer anyway. */
#define ALLOW_SKEW "0.25"
/* Loop turns vh_resolver_destroy() spends letting evdns deliver its cancellations. Each turn
 * runs every callback that is due, so one or two are normally enough. */
#define DRAIN_TURNS 16
/* More than any resolv.conf needs; a longer file is read this far. */
#define RESOLV_CONF_MAX (64 * 1024)

/* A lookup is in flight until evdns calls back. Cancelling it does not stop that callback (in
 * 2.1 it comes later with EVUTIL_EAI_CANCEL, or with the real answer when one was already
 * queued), so a cancelled lookup lives on until then, only to free itself. */
enum lookup_state {
	LOOKUP_RESOLVING,
	LOOKUP_CANCELLED,
};

struct vh_resolve {
	struct vh_resolver *resolver;
	struct vh_resolve *prev, *next; /* the resolver's list of lookups evdns still holds */
	enum lookup_state state;
	bool starting; /* inside evdns_getaddrinfo(), which may call back before returning */
	bool answered; /* the callback has run */
	struct evdns_getaddrinfo_request *request;
	struct vh_dns_tcp *tcp; /* asking again over TCP, once evdns has answered */
	const char *udp_why; /* why evdns failed, while tcp asks again */
	vh_resolve_done_fn done; /* one address, or NULL for every address: */
	vh_resolve_all_fn done_all;
	void *arg;
	int64_t started_ms;
	char host[];
};

struct vh_resolver {
	struct event_base *base;
	struct evdns_base *dns;
	int64_t timeout_ms;
	int64_t tcp_timeout_ms; /* all of a TCP retry: as long as evdns may take over UDP */
	struct vh_dns_search search; /* resolv.conf's; none with the config's nameservers */
	struct vh_resolve *lookups;
};

static void link_lookup(struct vh_resolver *resolver, struct vh_resolve *lookup) {
	lookup->next = resolver->lookups;
	if (lookup->next) {
		lookup->next->prev = lookup;
	}
	resolver->lookups = lookup;
}

static void unlink_lookup(struct vh_resolve *lookup) {
	if (lookup->prev) {
		lookup->prev->next = lookup->next;
	} else {
		lookup->resolver->lookups = lookup->next;
	}
	if (lookup->next) {
		lookup->next->prev = lookup->prev;
	}
}

static void free_lookup(struct vh_resolve *lookup) {
	unlink_lookup(lookup);
	free(lookup);
}

/* Reads resolv.conf (nameservers, search list, ndots). Without a usable file we keep no
 * nameserver at all rather than evdns's fallback of 127.0.0.1, so that lookups fail at once with
 * a reason instead of timing out against a server nobody configured. */
static struct evdns_base *from_resolv_conf(struct event_base *base, char *err, size_t err_len) {
	struct evdns_base *dns = evdns_base_new(base, 0);
	if (!dns) {
		snprintf(err, err_len, "cannot create the DNS resolver");
		return NULL;
	}
	/* /etc/hosts is loaded once for every setup in vh_resolver_create. */
	int rc = evdns_base_resolv_conf_parse(
			dns, DNS_OPTIONS_ALL & ~DNS_OPTION_HOSTSFILE, RESOLV_CONF);
	if (rc == 0 && evdns_base_count_nameservers(dns) > 0) {
		return dns;
	}
	evdns_base_free(dns, 0);
	vh_log(VH_LOG_WARN,
			"no nameserver in " RESOLV_CONF "; only numeric addresses and "
			"/etc/hosts names resolve",
			NULL);
	dns = evdns_base_new(base, 0);
	if (!dns) {
		snprintf(err, err_len, "cannot create the DNS resolver");
	}
	return dns;
}

/* The search list evdns uses, for asking the same names over TCP: resolv.conf's, or else the
 * domain of the host name, as evdns (and glibc) fall back to. */
static void read_search(struct vh_resolver *resolver) {
	static char text[RESOLV_CONF_MAX];
	size_t len = 0;
	FILE *f = fopen(RESOLV_CONF, "r");
	if (f) {
		len = fread(text, 1, sizeof(text), f);
		fclose(f);
	}
	vh_dns_search_parse(text, len, &resolver->search);
	char host[VH_DNS_NAME_MAX + 2];
	const char *dot;
	if (resolver->search.n_domains == 0 && gethostname(host, sizeof(host)) == 0) {
		host[sizeof(host) - 1] = '\0';
		if ((dot = strchr(host, '.')) && dot[1]) {
			/* Read again as a file that says so, which keeps its ndots. */
			int w = snprintf(text, sizeof(text), "search %s\noptions ndots:%u\n",
					dot + 1, resolver->search.ndots);
			vh_dns_search_parse(text, (size_t)w, &resolver->search);
		}
	}
}

static bool add_nameservers(struct evdns_base *dns, const struct vh_dns_config *config, char *err,
		size_t err_len) {
	for (size_t i = 0; i < config->n_nameservers; i++) {
		if (evdns_base_nameserver_ip_add(dns, config->nameservers[i]) != 0) {
			snprintf(err, err_len, "dns: cannot use nameserver \"%s\"",
					config->nameservers[i]);
			return false;
		}
	}
	return true;
}

/* Our timeout and attempts win over resolv.conf's "options", since the check timeouts were
 * chosen with them in mind. */
static bool set_options(struct evdns_base *dns, const struct vh_dns_config *config, char *err,
		size_t err_len) {
	char timeout[32];
	char attempts[16];
	snprintf(timeout, sizeof(timeout), "%" PRId64 ".%03" PRId64, config->timeout_ms / 1000,
			config->timeout_ms % 1000);
	snprintf(attempts, sizeof(attempts), "%u", config->attempts);
	if (evdns_base_set_option(dns, "timeout:", timeout) != 0 ||
			evdns_base_set_option(dns, "attempts:", attempts) != 0 ||
			evdns_base_set_option(dns, "getaddrinfo-allow-skew:", ALLOW_SKEW) != 0) {
		snprintf(err, err_len, "dns: cannot set timeout %s s and attempts %s", timeout,
				attempts);
		return false;
	}
	return true;
}

/* evdns would print its warnings ("Nameserver 10.0.0.2:53 has failed: request timed out.") to
 * stderr on its own; this puts them in our log format. They name nameservers only. */
static void on_evdns_log(int is_warning, const char *msg) {
	vh_log(is_warning ? VH_LOG_WARN : VH_LOG_DEBUG, "dns resolver", "detail", msg, NULL);
}

struct vh_resolver *vh_resolver_create(struct event_base *base, const struct vh_dns_config *config,
		char *err, size_t err_len) {
	struct vh_resolver *resolver = calloc(1, sizeof(*resolver));
	if (!resolver) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	resolver->base = base;
	resolver->timeout_ms = config->timeout_ms;
	resolver->tcp_timeout_ms =
			config->timeout_ms * (int64_t)(config->attempts ? config->attempts : 1);
	evdns_set_log_fn(on_evdns_log);
	if (config->n_nameservers == 0) {
		resolver->dns = from_resolv_conf(base, err, err_len);
		read_search(resolver);
	} else {
		resolver->dns = evdns_base_new(base, 0);
		if (!resolver->dns) {
			snprintf(err, err_len, "cannot create the DNS resolver");
		}
	}
	if (!resolver->dns || !add_nameservers(resolver->dns, config, err, err_len) ||
			!set_options(resolver->dns, config, err, err_len)) {
		goto error;
	}
	/* A missing /etc/hosts is no error: names then go to the nameservers. */
	(void)evdns_base_load_hosts(resolver->dns, NULL);
	return resolver;

error:
	vh_resolver_destroy(resolver);
	return NULL;
}

void vh_resolver_destroy(struct vh_resolver *resolver) {
	if (!resolver) {
		return;
	}
	struct vh_resolve *next;
	for (struct vh_resolve *l = resolver->lookups; l; l = next) {
		next = l->next;
		vh_resolve_cancel(l);
	}
	/* The cancellations arrive as deferred callbacks, which evdns's request memory is freed in.
	 * They read the evdns base, so they must run before it goes; a few non-blocking loop turns
	 * deliver them. */
	for (int turn = 0; turn < DRAIN_TURNS && resolver->lookups; turn++) {
		event_base_loop(resolver->base, EVLOOP_NONBLOCK);
	}
	if (resolver->lookups) {
		vh_log(VH_LOG_WARN, "DNS lookups still in flight at shutdown", NULL);
		for (struct vh_resolve *l = resolver->lookups; l; l = l->next) {
			l->resolver = NULL; /* their late callbacks must not touch us */
		}
	}
	if (resolver->dns) {
		/* Nothing of ours is in flight any more, so no callback needs to run: 0 keeps evdns
		 * from queueing callbacks for its own nameserver probes after the base is gone. */
		evdns_base_free(resolver->dns, 0);
	}
	free(resolver);
}

/* Accepts "[::1]" as well as "::1". Returns true and writes the address when host is numeric. */
static bool numeric_address(const char *host, char *out, size_t out_len) {
	struct in_addr v4;
	struct in6_addr v6;
	char bare[INET6_ADDRSTRLEN + 2];
	size_t n = strlen(host);
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']' && n - 2 < sizeof(bare)) {
		memcpy(bare, host + 1, n - 2);
		bare[n - 2] = '\0';
		host = bare;
	}
	if (evutil_inet_pton(AF_INET, host, &v4) == 1) {
		return evutil_inet_ntop(AF_INET, &v4, out, out_len) != NULL;
	}
	if (evutil_inet_pton(AF_INET6, host, &v6) == 1) {
		return evutil_inet_ntop(AF_INET6, &v6, out, out_len) != NULL;
	}
	return false;
}

/* IPv4 first: a dual-stack name is then reached the way most clients would reach it. */
static bool pick_address(const struct evutil_addrinfo *res, char *out, size_t out_len) {
	const struct evutil_addrinfo *v6 = NULL;
	for (const struct evutil_addrinfo *ai = res; ai; ai = ai->ai_next) {
		if (ai->ai_family == AF_INET) {
			const struct sockaddr_in *sin = (const struct sockaddr_in *)ai->ai_addr;
			return evutil_inet_ntop(AF_INET, &sin->sin_addr, out, out_len) != NULL;
		}
		if (ai->ai_family == AF_INET6 && !v6) {
			v6 = ai;
		}
	}
	if (v6) {
		const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)v6->ai_addr;
		return evutil_inet_ntop(AF_INET6, &sin6->sin6_addr, out, out_len) != NULL;
	}
	return false;
}

/* evdns reports every failure other than "no such name" as EVUTIL_EAI_FAIL, timeouts included.
 * An answer that took at least one whole attempt's timeout can only have been a timeout; a
 * server that answers with an error does so at once. */
static bool timed_out(const struct vh_resolve *lookup, int code) {
	int64_t took = vh_clock_mono_ms() - lookup->started_ms;
	int64_t timeout = lookup->resolver ? lookup->resolver->timeout_ms : 0;
	return code == EVUTIL_EAI_AGAIN ||
			(code == EVUTIL_EAI_FAIL && timeout > 0 && took >= timeout * 9 / 10);
}

static const char *error_reason(const struct vh_resolve *lookup, int code) {
	if (code == EVUTIL_EAI_NONAME) {
		return "no such host";
	}
	if (code == EVUTIL_EAI_NODATA) {
		return "no address for this name";
	}
	if (timed_out(lookup, code)) {
		return "DNS timeout";
	}
	return evutil_gai_strerror(code);
}

static void describe_error(const struct vh_resolve *lookup, int code, char *out, size_t out_len) {
	snprintf(out, out_len, "cannot resolve \"%s\": %s", lookup->host,
			error_reason(lookup, code));
}

static void finish(struct vh_resolve *lookup) {
	lookup->answered = true;
	/* During evdns_getaddrinfo() the lookup is not ours to free yet: vh_resolver_lookup()
	 * still reads it once the call returns. */
	if (!lookup->starting) {
		free_lookup(lookup);
	}
}

/* Whether addrs[n] is none of addrs[0..n). */
static bool is_new(char (*addrs)[INET6_ADDRSTRLEN], size_t n) {
	for (size_t k = 0; k < n; k++) {
		if (strcmp(addrs[k], addrs[n]) == 0) {
			return false;
		}
	}
	return true;
}

/* Every address once, IPv4 first. Returns how many were written to addrs (each a buffer of
 * INET6_ADDRSTRLEN bytes). */
static size_t collect_addresses(
		const struct evutil_addrinfo *res, char (*addrs)[INET6_ADDRSTRLEN], size_t cap) {
	size_t n = 0;
	for (int pass = 0; pass < 2; pass++) {
		int family = pass == 0 ? AF_INET : AF_INET6;
		for (const struct evutil_addrinfo *ai = res; ai && n < cap; ai = ai->ai_next) {
			const void *where = NULL;
			if (ai->ai_family != family) {
				continue;
			}
			where = family == AF_INET
					? (const void *)&((const struct sockaddr_in *)ai->ai_addr)
							  ->sin_addr
					: (const void *)&((const struct sockaddr_in6 *)ai->ai_addr)
							  ->sin6_addr;
			if (evutil_inet_ntop(family, where, addrs[n], INET6_ADDRSTRLEN)) {
				n += is_new(addrs, n);
			}
		}
	}
	return n;
}

/* Where both kinds of answer are put together before they are handed over. */
static char answer_addrs[VH_RESOLVE_ALL_MAX][INET6_ADDRSTRLEN];

/* Hands n addresses of answer_addrs, or error, to whichever callback the lookup has, as its
 * last act: done may cancel this very lookup, which must then do nothing. */
static void deliver(struct vh_resolve *lookup, size_t n, const char *error) {
	static const char *pointers[VH_RESOLVE_ALL_MAX];
	lookup->state = LOOKUP_CANCELLED;
	if (lookup->done_all) {
		for (size_t i = 0; i < n; i++) {
			pointers[i] = answer_addrs[i];
		}
		lookup->done_all(lookup->arg, pointers, error ? 0 : n, error);
	} else {
		lookup->done(lookup->arg, error ? NULL : answer_addrs[0], error);
	}
}

/* The addresses of a TCP answer as text, each once; they come IPv4 first already. */
static size_t tcp_addresses(const struct vh_dns_address *addrs, size_t n) {
	size_t out = 0;
	for (size_t i = 0; i < n && out < VH_RESOLVE_ALL_MAX; i++) {
		int family = addrs[i].type == VH_DNS_TYPE_A ? AF_INET : AF_INET6;
		if (evutil_inet_ntop(family, addrs[i].bytes, answer_addrs[out], INET6_ADDRSTRLEN)) {
			out += is_new(answer_addrs, out);
		}
	}
	return out;
}

static void on_tcp_answer(void *arg, enum vh_dns_rcode rcode, const struct vh_dns_address *addrs,
		size_t n, bool some_name_exists, const char *tcp_error) {
	struct vh_resolve *lookup = arg;
	char error[480];
	lookup->tcp = NULL;
	n = rcode == VH_DNS_ANSWERED ? tcp_addresses(addrs, n) : 0;
	if (rcode == VH_DNS_ANSWERED && n == 0) {
		rcode = VH_DNS_NO_SUCH_NAME;
		some_name_exists = true;
	}
	if (rcode == VH_DNS_NO_SUCH_NAME) {
		snprintf(error, sizeof(error), "cannot resolve \"%s\": %s", lookup->host,
				some_name_exists ? "no address for this name" : "no such host");
	} else if (rcode == VH_DNS_FAILED) {
		snprintf(error, sizeof(error), "cannot resolve \"%s\": %s; over TCP: %s",
				lookup->host, lookup->udp_why, tcp_error);
	}
	deliver(lookup, n, rcode == VH_DNS_ANSWERED ? NULL : error);
	finish(lookup);
}

/* evdns gives up on an answer too big for UDP (the truncation bit: a headless Service of more
 * than about 28 replicas) and on malformed ones, and has no TCP of its own; RFC 7766 says to
 * ask again over TCP. Timeouts are not retried: a server that did not answer will not now. */
static bool retry_over_tcp(struct vh_resolve *lookup, int code) {
	struct vh_resolver *resolver = lookup->resolver;
	struct sockaddr_storage servers[VH_DNS_TCP_SERVERS_MAX];
	char names[VH_DNS_CANDIDATES_MAX][VH_DNS_NAME_MAX + 2];
	char err[200];
	if (code != EVUTIL_EAI_FAIL || timed_out(lookup, code) || lookup->starting) {
		return false;
	}
	lookup->udp_why = error_reason(lookup, code);
	size_t n_servers = 0;
	int count = evdns_base_count_nameservers(resolver->dns);
	for (int i = 0; i < count && n_servers < VH_DNS_TCP_SERVERS_MAX; i++) {
		memset(&servers[n_servers], 0, sizeof(servers[n_servers]));
		n_servers += evdns_base_get_nameserver_addr(resolver->dns, i,
					     (struct sockaddr *)&servers[n_servers],
					     sizeof(servers[n_servers])) > 0;
	}
	size_t n_names = vh_dns_candidates(lookup->host, &resolver->search, names);
	lookup->tcp = vh_dns_tcp_start(resolver->base, servers, n_servers,
			(const char(*)[VH_DNS_NAME_MAX + 2]) names, n_names,
			resolver->tcp_timeout_ms, on_tcp_answer, lookup, err, sizeof(err));
	if (!lookup->tcp) {
		vh_log(VH_LOG_DEBUG, "cannot ask again over TCP", "host", lookup->host, "error",
				err, NULL);
		return false;
	}
	vh_log(VH_LOG_DEBUG, "DNS over UDP failed; asking again over TCP", "host", lookup->host,
			"error", lookup->udp_why, NULL);
	return true;
}

static void on_resolved(int code, struct evutil_addrinfo *res, void *arg) {
	struct vh_resolve *lookup = arg;
	char error[320];
	if (lookup->state == LOOKUP_CANCELLED || !lookup->resolver) {
		if (res) {
			evutil_freeaddrinfo(res);
		}
		if (lookup->resolver) {
			finish(lookup);
		} else {
			free(lookup); /* orphaned by vh_resolver_destroy() */
		}
		return;
	}
	size_t n = 0;
	if (code == 0) {
		n = lookup->done_all ? collect_addresses(res, answer_addrs, VH_RESOLVE_ALL_MAX)
				     : pick_address(res, answer_addrs[0], INET6_ADDRSTRLEN);
		code = n > 0 ? 0 : EVUTIL_EAI_NODATA;
	}
	if (res) {
		evutil_freeaddrinfo(res);
	}
	if (code != 0 && retry_over_tcp(lookup, code)) {
		return; /* the lookup lives on until on_tcp_answer() */
	}
	if (code != 0) {
		describe_error(lookup, code, error, sizeof(error));
	}
	deliver(lookup, n, code == 0 ? NULL : error);
	finish(lookup);
}

/* The two kinds of caller, as one. */
struct resolve_callback {
	vh_resolve_done_fn one;
	vh_resolve_all_fn all;
	void *arg;
};

static void answer_now(const struct resolve_callback *cb, const char *addr, const char *error) {
	if (cb->all) {
		const char *list[1] = {addr};
		cb->all(cb->arg, list, addr ? 1 : 0, error);
	} else {
		cb->one(cb->arg, addr, error);
	}
}

static void fail_now(const char *host, const char *why, const struct resolve_callback *cb) {
	char error[320];
	snprintf(error, sizeof(error), "cannot resolve \"%s\": %s", host, why);
	answer_now(cb, NULL, error);
}

static struct vh_resolve *start_lookup(
		struct vh_resolver *resolver, const char *host, const struct resolve_callback *cb) {
	char addr[INET6_ADDRSTRLEN];
	if (numeric_address(host, addr, sizeof(addr))) {
		answer_now(cb, addr, NULL);
		return NULL;
	}
	size_t n = strlen(host);
	struct vh_resolve *lookup = calloc(1, sizeof(*lookup) + n + 1);
	if (!lookup) {
		fail_now(host, "out of memory", cb);
		return NULL;
	}
	memcpy(lookup->host, host, n + 1);
	lookup->resolver = resolver;
	lookup->done = cb->one;
	lookup->done_all = cb->all;
	lookup->arg = cb->arg;
	lookup->state = LOOKUP_RESOLVING;
	lookup->started_ms = vh_clock_mono_ms();
	lookup->starting = true;
	link_lookup(resolver, lookup);

	struct evutil_addrinfo hints = {0};
	hints.ai_family = AF_UNSPEC;
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_protocol = IPPROTO_TCP;
	lookup->request = evdns_getaddrinfo(resolver->dns, host, NULL, &hints, on_resolved, lookup);
	lookup->starting = false;
	if (lookup->answered) {
		/* Answered from /etc/hosts (or failed) before the call returned. */
		free_lookup(lookup);
		return NULL;
	}
	if (!lookup->request) {
		/* Not answered and no request: evdns ran out of memory. */
		free_lookup(lookup);
		fail_now(host, "out of memory", cb);
		return NULL;
	}
	if (evdns_base_count_nameservers(resolver->dns) == 0) {
		/* Not in /etc/hosts and nobody to ask: evdns would queue the query forever. */
		vh_resolve_cancel(lookup);
		fail_now(host, "no nameserver configured", cb);
		return NULL;
	}
	return lookup;
}

struct vh_resolve *vh_resolver_lookup(struct vh_resolver *resolver, const char *host,
		vh_resolve_done_fn done, void *arg) {
	struct resolve_callback cb = {.one = done, .arg = arg};
	return start_lookup(resolver, host, &cb);
}

struct vh_resolve *vh_resolver_lookup_all(
		struct vh_resolver *resolver, const char *host, vh_resolve_all_fn done, void *arg) {
	struct resolve_callback cb = {.all = done, .arg = arg};
	return start_lookup(resolver, host, &cb);
}

void vh_resolve_cancel(struct vh_resolve *lookup) {
	if (!lookup || lookup->state != LOOKUP_RESOLVING) {
		return;
	}
	lookup->state = LOOKUP_CANCELLED;
	if (lookup->tcp) {
		/* evdns is done with this lookup: nothing else will call back. */
		vh_dns_tcp_cancel(lookup->tcp);
		lookup->tcp = NULL;
		finish(lookup);
		return;
	}
	/* A no-op when the answer is already queued; on_resolved then sees the state and only
	 * frees the lookup. */
	evdns_getaddrinfo_cancel(lookup->request);
}
