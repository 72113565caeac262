/* peers.c - finds the other replicas and asks a random sample of them each round what they see. */
#include "vh/peers.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vh/clock.h"
#include "vh/log.h"
#include "vh/random.h"
#include "vh/resolver.h"

#define MAX_HEADERS_BYTES 8192
/* evhttp's own timeouts must never fire first: the round's deadline is ours. */
#define EVHTTP_TIMEOUT_S 3600
/* The most peers kept: a headless Service answer rarely holds more (and DNS over UDP far fewer). */
#define PEERS_MAX VH_RESOLVE_ALL_MAX

/* Where peer addresses come from: the dns name (every address) or one static entry. */
struct source {
	struct vh_peers *owner;
	char host[256];
	unsigned port;
	bool every_address;
	struct vh_resolve *lookup;
	size_t n_addrs;
	char (*addrs)[INET6_ADDRSTRLEN];
	char error[320]; /* the latest lookup failure, "" after a success */
};

struct peer {
	struct vh_peers *owner;
	char addr[INET6_ADDRSTRLEN];
	unsigned port;
	bool self; /* answered with our own instance id, or is one of our listen addresses */
	bool listed; /* in the latest discovery */
	/* The latest valid report; dropped when a request fails. */
	bool has_report;
	int64_t received_mono_ms;
	size_t n_entries;
	struct vh_fleet_entry *entries;
	/* The latest request. evhttp still uses the connection after our callback returns, so it
	 * is freed at the next request, on removal or on destroy, never from its own callback. */
	struct evhttp_connection *conn;
	struct event *deadline;
	bool in_flight;
	enum evhttp_request_error error; /* what evhttp said went wrong, when it said so */
	bool failed;
};

struct vh_peers {
	struct event_base *base;
	struct vh_resolver *resolver;
	struct vh_peers_config config;
	struct vh_listen listen[VH_CONFIG_LISTEN_MAX];
	size_t n_listen;
	uint64_t instance;
	char auth[VH_CONFIG_TOKEN_MAX + 16]; /* "Bearer TOKEN", or "" */
	vh_peers_round_fn done;
	void *done_arg;
	uint64_t rng;
	size_t n_sources;
	struct source *sources;
	size_t n_peers;
	struct peer **peers;
	struct event *round_timer;
	struct event *refresh_timer;
	unsigned outstanding; /* requests of the current round not finished yet */
	int64_t round_started_mono_ms;
	struct vh_fleet_status stats; /* the counts only */
	size_t n_views;
	struct vh_fleet_view *views; /* PEERS_MAX of them, filled by vh_peers_views() */
};

static void peer_stop_request(struct peer *peer) {
	if (peer->deadline) {
		evtimer_del(peer->deadline);
	}
	if (peer->conn) {
		/* Frees a request in flight without calling its callback. */
		evhttp_connection_free(peer->conn);
		peer->conn = NULL;
	}
}

static void peer_destroy(struct peer *peer) {
	if (!peer) {
		return;
	}
	peer_stop_request(peer);
	if (peer->deadline) {
		event_free(peer->deadline);
	}
	free(peer->entries);
	free(peer);
}

void vh_peers_destroy(struct vh_peers *peers) {
	if (!peers) {
		return;
	}
	for (size_t i = 0; i < peers->n_sources; i++) {
		vh_resolve_cancel(peers->sources[i].lookup);
		free(peers->sources[i].addrs);
	}
	for (size_t i = 0; i < peers->n_peers; i++) {
		peer_destroy(peers->peers[i]);
	}
	if (peers->round_timer) {
		event_free(peers->round_timer);
	}
	if (peers->refresh_timer) {
		event_free(peers->refresh_timer);
	}
	free(peers->sources);
	free(peers->peers);
	free(peers->views);
	memset(peers->auth, 0, sizeof(peers->auth));
	free(peers);
}

static void on_round(evutil_socket_t fd, short what, void *arg);
static void on_refresh(evutil_socket_t fd, short what, void *arg);

static bool make_sources(struct vh_peers *peers) {
	const struct vh_peers_config *c = &peers->config;
	size_t n = c->dns[0] ? 1 : c->n_addresses;
	peers->sources = calloc(n ? n : 1, sizeof(*peers->sources));
	if (!peers->sources) {
		return false;
	}
	peers->n_sources = n;
	for (size_t i = 0; i < n; i++) {
		struct source *s = &peers->sources[i];
		s->owner = peers;
		s->every_address = c->dns[0] != '\0';
		snprintf(s->host, sizeof(s->host), "%s",
				s->every_address ? c->dns : c->addresses[i].host);
		s->port = s->every_address || !c->addresses[i].port ? c->port
								    : c->addresses[i].port;
		s->addrs = calloc(s->every_address ? VH_RESOLVE_ALL_MAX : 1, sizeof(*s->addrs));
		if (!s->addrs) {
			return false;
		}
	}
	return true;
}

struct vh_peers *vh_peers_create(struct event_base *base, struct vh_resolver *resolver,
		const struct vh_peers_config *config, const struct vh_listen *listen,
		size_t n_listen, uint64_t instance, const char *token, vh_peers_round_fn done,
		void *arg, char *err, size_t err_len) {
	struct vh_peers *peers = calloc(1, sizeof(*peers));
	if (!peers) {
		snprintf(err, err_len, "out of memory");
		return NULL;
	}
	peers->base = base;
	peers->resolver = resolver;
	peers->config = *config;
	peers->n_listen = n_listen < VH_CONFIG_LISTEN_MAX ? n_listen : VH_CONFIG_LISTEN_MAX;
	memcpy(peers->listen, listen, peers->n_listen * sizeof(*listen));
	peers->instance = instance;
	peers->done = done;
	peers->done_arg = arg;
	peers->rng = vh_random_seed((uintptr_t)peers ^ instance);
	if (token && token[0]) {
		snprintf(peers->auth, sizeof(peers->auth), "Bearer %s", token);
	}
	peers->peers = calloc(PEERS_MAX, sizeof(*peers->peers));
	peers->views = calloc(PEERS_MAX, sizeof(*peers->views));
	peers->round_timer = event_new(base, -1, EV_PERSIST, on_round, peers);
	peers->refresh_timer = event_new(base, -1, EV_PERSIST, on_refresh, peers);
	if (!peers->peers || !peers->views || !peers->round_timer || !peers->refresh_timer ||
			!make_sources(peers)) {
		snprintf(err, err_len, "out of memory");
		vh_peers_destroy(peers);
		return NULL;
	}
	return peers;
}

static bool is_own_address(const struct vh_peers *peers, const char *addr, unsigned port) {
	for (size_t i = 0; i < peers->n_listen; i++) {
		if (peers->listen[i].port == port && strcmp(peers->listen[i].host, addr) == 0) {
			return true;
		}
	}
	return false;
}

static struct peer *find_peer(const struct vh_peers *peers, const char *addr, unsigned port) {
	for (size_t i = 0; i < peers->n_peers; i++) {
		struct peer *p = peers->peers[i];
		if (p->port == port && strcmp(p->addr, addr) == 0) {
			return p;
		}
	}
	return NULL;
}

static void end_round_if_over(struct vh_peers *peers) {
	if (peers->outstanding > 0) {
		return;
	}
	peers->stats.rounds++;
	peers->done(peers->done_arg, peers->round_started_mono_ms);
}

/* A request ends exactly once: answered, failed, timed out or cancelled with its peer. */
static void request_over(struct peer *peer, bool ok, const char *why) {
	struct vh_peers *peers = peer->owner;
	if (!peer->in_flight) {
		return;
	}
	peer->in_flight = false;
	evtimer_del(peer->deadline);
	if (!ok) {
		peers->stats.failures++;
		peer->has_report = false;
		char where[INET6_ADDRSTRLEN + 16];
		bool v6 = strchr(peer->addr, ':') != NULL;
		snprintf(where, sizeof(where), "%s%s%s:%u", v6 ? "[" : "", peer->addr,
				v6 ? "]" : "", peer->port);
		vh_log(VH_LOG_DEBUG, "peer did not report", "peer", where, "reason", why, NULL);
	}
	peers->outstanding--;
	end_round_if_over(peers);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg);

static void add_peer(struct vh_peers *peers, const char *addr, unsigned port) {
	struct peer *p = find_peer(peers, addr, port);
	if (p) {
		p->listed = true;
		return;
	}
	if (peers->n_peers >= PEERS_MAX) {
		return;
	}
	p = calloc(1, sizeof(*p));
	if (!p || !(p->deadline = evtimer_new(peers->base, on_deadline, p))) {
		free(p);
		return;
	}
	p->owner = peers;
	snprintf(p->addr, sizeof(p->addr), "%s", addr);
	p->port = port;
	p->listed = true;
	p->self = is_own_address(peers, addr, port);
	peers->peers[peers->n_peers++] = p;
}

/* Rebuilds the peer list from what every source found, keeping what is known of the peers
 * that stay; a peer that went is dropped (its request, if any, ends as a failure first). */
static void rebuild(struct vh_peers *peers) {
	size_t before = 0;
	for (size_t i = 0; i < peers->n_peers; i++) {
		peers->peers[i]->listed = false;
		before += !peers->peers[i]->self;
	}
	for (size_t s = 0; s < peers->n_sources; s++) {
		const struct source *src = &peers->sources[s];
		for (size_t a = 0; a < src->n_addrs; a++) {
			add_peer(peers, src->addrs[a], src->port);
		}
	}
	size_t kept = 0, known = 0;
	bool ended_requests = false;
	for (size_t i = 0; i < peers->n_peers; i++) {
		struct peer *p = peers->peers[i];
		if (p->listed) {
			peers->peers[kept++] = p;
			known += !p->self;
			continue;
		}
		/* Ended by hand: the round's end (which reads the list) waits for the list. */
		if (p->in_flight) {
			peers->outstanding--;
			peers->stats.failures++;
			ended_requests = true;
		}
		peer_destroy(p);
	}
	peers->n_peers = kept;
	if (ended_requests) {
		end_round_if_over(peers);
	}
	if (known != before) {
		char count[16];
		snprintf(count, sizeof(count), "%zu", known);
		vh_log(VH_LOG_INFO, "peers found", "peers", count, NULL);
	}
}

static void source_failed(struct source *s, const char *error) {
	/* Keep the addresses found before: a resolver blip must not make the fleet vanish. */
	if (strcmp(s->error, error) != 0) {
		vh_log(VH_LOG_WARN, "cannot find peers; keeping the last list", "error", error,
				NULL);
		snprintf(s->error, sizeof(s->error), "%s", error);
	}
}

static void on_source_all(void *arg, const char *const *addrs, size_t n, const char *error) {
	struct source *s = arg;
	s->lookup = NULL;
	if (error) {
		source_failed(s, error);
		return;
	}
	s->error[0] = '\0';
	s->n_addrs = n < VH_RESOLVE_ALL_MAX ? n : VH_RESOLVE_ALL_MAX;
	for (size_t i = 0; i < s->n_addrs; i++) {
		snprintf(s->addrs[i], sizeof(s->addrs[i]), "%s", addrs[i]);
	}
	rebuild(s->owner);
}

static void on_source_one(void *arg, const char *addr, const char *error) {
	const char *list[1] = {addr};
	on_source_all(arg, list, addr ? 1 : 0, error);
}

static void on_refresh(evutil_socket_t fd, short what, void *arg) {
	struct vh_peers *peers = arg;
	for (size_t i = 0; i < peers->n_sources; i++) {
		struct source *s = &peers->sources[i];
		if (s->lookup) {
			continue; /* the previous lookup is still out */
		}
		/* The handle is NULL when the answer came before the call returned. */
		s->lookup = s->every_address
				? vh_resolver_lookup_all(peers->resolver, s->host, on_source_all, s)
				: vh_resolver_lookup(peers->resolver, s->host, on_source_one, s);
	}
}

static void on_deadline(evutil_socket_t fd, short what, void *arg) {
	struct peer *peer = arg;
	char why[64];
	snprintf(why, sizeof(why), "no report within %lld ms",
			(long long)peer->owner->config.timeout_ms);
	peer_stop_request(peer);
	request_over(peer, false, why);
}

static void keep_report(struct peer *peer, const struct vh_fleet_report *report) {
	struct vh_peers *peers = peer->owner;
	if (report->instance == peers->instance) {
		peer->self = true;
		request_over(peer, true, NULL);
		return;
	}
	struct vh_fleet_entry *entries = NULL;
	if (report->n_entries > 0) {
		entries = realloc(peer->entries, report->n_entries * sizeof(*entries));
		if (!entries) {
			request_over(peer, false, "out of memory");
			return;
		}
		memcpy(entries, report->entries, report->n_entries * sizeof(*entries));
		peer->entries = entries;
	}
	peer->n_entries = report->n_entries;
	peer->has_report = true;
	peer->received_mono_ms = vh_clock_mono_ms();
	request_over(peer, true, NULL);
}

/* evhttp calls this just before on_response(NULL). */
static void on_error(enum evhttp_request_error error, void *arg) {
	struct peer *peer = arg;
	peer->failed = true;
	peer->error = error;
}

static const char *describe_error(const struct peer *peer) {
	if (!peer->failed) {
		return "no answer";
	}
	switch (peer->error) {
	case EVREQ_HTTP_DATA_TOO_LONG:
		return "answer larger than 64 KiB";
	case EVREQ_HTTP_INVALID_HEADER:
		return "not an HTTP answer";
	case EVREQ_HTTP_EOF:
		return "closed before answering";
	default:
		return "no answer (connection failed)";
	}
}

static void on_response(struct evhttp_request *req, void *arg) {
	struct peer *peer = arg;
	struct vh_fleet_report report;
	char why[200];
	int code = req ? evhttp_request_get_response_code(req) : 0;
	if (code != 200) {
		if (code) {
			snprintf(why, sizeof(why), "answered HTTP %d", code);
		} else {
			snprintf(why, sizeof(why), "%s", describe_error(peer));
		}
		request_over(peer, false, why);
		return;
	}
	struct evbuffer *body = evhttp_request_get_input_buffer(req);
	size_t len = evbuffer_get_length(body);
	const char *text = (const char *)evbuffer_pullup(body, -1);
	if (!text || !vh_fleet_parse_report(text, len, &report, why, sizeof(why))) {
		request_over(peer, false, text ? why : "empty answer");
		return;
	}
	keep_report(peer, &report);
}

static bool add_headers(
		const struct vh_peers *peers, const struct peer *peer, struct evhttp_request *req) {
	struct evkeyvalq *headers = evhttp_request_get_output_headers(req);
	char host[INET6_ADDRSTRLEN + 16];
	bool v6 = strchr(peer->addr, ':') != NULL;
	snprintf(host, sizeof(host), "%s%s%s:%u", v6 ? "[" : "", peer->addr, v6 ? "]" : "",
			peer->port);
	return evhttp_add_header(headers, "Host", host) == 0 &&
			evhttp_add_header(headers, "Connection", "close") == 0 &&
			evhttp_add_header(headers, "User-Agent", "veza-health/" VH_VERSION) == 0 &&
			(!peers->auth[0] ||
					evhttp_add_header(headers, "Authorization", peers->auth) ==
							0);
}

static bool send_request(struct vh_peers *peers, struct peer *peer) {
	struct timeval beyond = {EVHTTP_TIMEOUT_S, 0};
	struct timeval deadline = {.tv_sec = peers->config.timeout_ms / 1000,
			.tv_usec = (peers->config.timeout_ms % 1000) * 1000};
	peer_stop_request(peer);
	peer->conn = evhttp_connection_base_new(
			peers->base, NULL, peer->addr, (uint16_t)peer->port);
	if (!peer->conn) {
		return false;
	}
	evhttp_connection_set_timeout_tv(peer->conn, &beyond);
	evhttp_connection_set_retries(peer->conn, 0);
	evhttp_connection_set_max_headers_size(peer->conn, MAX_HEADERS_BYTES);
	evhttp_connection_set_max_body_size(peer->conn, VH_FLEET_REPORT_MAX_BYTES);
	struct evhttp_request *req = evhttp_request_new(on_response, peer);
	if (!req) {
		return false;
	}
	peer->failed = false;
	evhttp_request_set_error_cb(req, on_error);
	if (!add_headers(peers, peer, req)) {
		evhttp_request_free(req);
		return false;
	}
	/* On failure evhttp has freed the request or keeps it on the connection we free later. */
	if (evhttp_make_request(peer->conn, req, EVHTTP_REQ_GET, VH_PEERS_PATH) != 0 ||
			evtimer_add(peer->deadline, &deadline) != 0) {
		peer_stop_request(peer);
		return false;
	}
	return true;
}

/* Up to `sample` peers, a fresh random choice each round (a partial Fisher-Yates shuffle), so
 * every replica is asked now and then and a fleet of N costs N * sample requests a round. */
static size_t pick_sample(struct vh_peers *peers, struct peer **out) {
	size_t n = 0;
	for (size_t i = 0; i < peers->n_peers; i++) {
		if (!peers->peers[i]->self) {
			out[n++] = peers->peers[i];
		}
	}
	size_t take = n < peers->config.sample ? n : peers->config.sample;
	for (size_t i = 0; i < take; i++) {
		size_t j = i + vh_random_next(&peers->rng) % (n - i);
		struct peer *t = out[i];
		out[i] = out[j];
		out[j] = t;
	}
	return take;
}

static void on_round(evutil_socket_t fd, short what, void *arg) {
	struct vh_peers *peers = arg;
	struct peer *chosen[PEERS_MAX];
	/* A round outlives its timeout only if a timer ran late; close it before the next. */
	for (size_t i = 0; i < peers->n_peers && peers->outstanding > 0; i++) {
		if (peers->peers[i]->in_flight) {
			peer_stop_request(peers->peers[i]);
			request_over(peers->peers[i], false, "round overran");
		}
	}
	peers->round_started_mono_ms = vh_clock_mono_ms();
	size_t n = pick_sample(peers, chosen);
	/* Counted first, so a request that fails at once cannot end the round early. */
	peers->outstanding = 1;
	for (size_t i = 0; i < n; i++) {
		struct peer *p = chosen[i];
		peers->stats.requests++;
		p->in_flight = true;
		peers->outstanding++;
		if (!send_request(peers, p)) {
			request_over(p, false, "cannot send the request");
		}
	}
	peers->outstanding--;
	end_round_if_over(peers);
}

bool vh_peers_start(struct vh_peers *peers) {
	struct timeval round = {.tv_sec = peers->config.interval_ms / 1000,
			.tv_usec = (peers->config.interval_ms % 1000) * 1000};
	struct timeval refresh = {.tv_sec = peers->config.refresh_ms / 1000,
			.tv_usec = (peers->config.refresh_ms % 1000) * 1000};
	/* Static names are looked up again too: a compose service's address changes when its
	 * container is re-created. */
	on_refresh(-1, 0, peers);
	return evtimer_add(peers->round_timer, &round) == 0 &&
			evtimer_add(peers->refresh_timer, &refresh) == 0;
}

static bool is_fresh(const struct vh_peers *peers, const struct peer *p, int64_t now_mono_ms) {
	int64_t max_age = 3 * peers->config.interval_ms + peers->config.timeout_ms;
	return p->has_report && !p->self && now_mono_ms - p->received_mono_ms <= max_age;
}

size_t vh_peers_views(
		struct vh_peers *peers, int64_t now_mono_ms, const struct vh_fleet_view **out) {
	size_t n = 0;
	for (size_t i = 0; i < peers->n_peers; i++) {
		const struct peer *p = peers->peers[i];
		if (is_fresh(peers, p, now_mono_ms)) {
			peers->views[n++] = (struct vh_fleet_view){.entries = p->entries,
					.n_entries = p->n_entries,
					.received_mono_ms = p->received_mono_ms};
		}
	}
	*out = peers->views;
	return n;
}

void vh_peers_stats(
		const struct vh_peers *peers, int64_t now_mono_ms, struct vh_fleet_status *out) {
	out->rounds = peers->stats.rounds;
	out->requests = peers->stats.requests;
	out->failures = peers->stats.failures;
	out->known = out->reachable = 0;
	for (size_t i = 0; i < peers->n_peers; i++) {
		const struct peer *p = peers->peers[i];
		out->known += !p->self;
		out->reachable += is_fresh(peers, p, now_mono_ms);
	}
}
