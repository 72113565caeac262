/* vh/render_peers.h - /peers/state: what this replica sees, for the other replicas. */
#ifndef VH_RENDER_PEERS_H
#define VH_RENDER_PEERS_H

#include "vh/state.h"

struct evbuffer;

/* Appends this replica's report (vh/fleet.h reads it) to out: {"version": 1, "instance":
 * 16 hex digits, "service", "checks": [{"name", "fingerprint", "status", "failing", "age_ms"}]}
 * with every shared check that has run. status is the check's own settled status and failing
 * whether its latest run failed, both before anything the fleet decided: replicas compare what
 * each sees, never what each made of the others, so their decisions cannot feed back into one
 * another. Without peers (snapshot->fleet NULL) the list is empty and the instance is 0. */
void vh_render_peers(const struct vh_snapshot *snapshot, struct evbuffer *out);

#endif
