/* vh/peers.h - finds the other replicas and asks a sample of them, each round, what they see. */
#ifndef VH_PEERS_H
#define VH_PEERS_H
#include "vh/compat.h"
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vh/config.h"
#include "vh/fleet.h"

struct event_base;
struct vh_resolver;
struct vh_peers;

/* The path every daemon answers its peers on (vh/render_peers.h). */
#define VH_PEERS_PATH "/peers/state"

/* Called on the loop thread when a round has ended: every peer asked has answered, failed or
 * run out of time. round_started_mono_ms is when it began. */
typedef void (*vh_peers_round_fn)(void *arg, int64_t round_started_mono_ms);

/* Creates the poller: it finds peers by config->dns (every address, again every refresh) or
 * config->addresses, and every interval asks at most config->sample of them, at random, for
 * VH_PEERS_PATH with a deadline of config->timeout, sending "Authorization: Bearer TOKEN"
 * when token is not empty. It skips its own listen addresses and any peer that answers with
 * instance (this daemon's id). config and token are copied; base and resolver are borrowed and
 * must outlive it. done runs after each round. Returns NULL with a reason in err. */
struct vh_peers *vh_peers_create(struct event_base *base, struct vh_resolver *resolver,
		const struct vh_peers_config *config, const struct vh_listen *listen,
		size_t n_listen, uint64_t instance, const char *token, vh_peers_round_fn done,
		void *arg, char *err, size_t err_len);
/* Accepts NULL. Cancels lookups and requests in flight without calling done. */
void vh_peers_destroy(struct vh_peers *peers);
/* Finds the peers and arms the first round; false when a timer cannot be armed. */
VH_MUSTCHECK bool vh_peers_start(struct vh_peers *peers);

/* Points *out at the reports of every peer whose latest answer is fresh (received within three
 * intervals plus a timeout, so a peer sampled only now and then still counts) and returns how
 * many there are. Valid until the loop next runs a peer callback: use at once. */
size_t vh_peers_views(
		struct vh_peers *peers, int64_t now_mono_ms, const struct vh_fleet_view **out);
/* Fills the counts of out (known, reachable, rounds, requests, failures); leaves the rest. */
void vh_peers_stats(const struct vh_peers *peers, int64_t now_mono_ms, struct vh_fleet_status *out);

#endif
