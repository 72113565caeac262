/* vh/reach.h - watches whether a TCP address accepts connections again, cheaply, for recovery. */
#ifndef VH_REACH_H
#define VH_REACH_H
#include "vh/compat.h"
#include <stdbool.h>
#include <stdint.h>

struct event_base;
struct vh_reach;

/* How often a watched address is tried. A refused connect costs the server nothing (the kernel
 * answers with a reset) and a dropped one costs nothing either, so this can be frequent: it
 * bounds how long after a dependency accepts connections again a failing check finds out. */
#define VH_REACH_INTERVAL_MS 100

/* Called once, on the loop thread, when a TCP connect to the watched address completed; the
 * connection is already closed and the watch is over. */
typedef void (*vh_reach_fn)(void *arg);

/* Returns NULL when out of memory. */
struct vh_reach *vh_reach_create(struct event_base *base, vh_reach_fn reachable, void *arg);
/* Accepts NULL. Stops any watch without calling back. */
void vh_reach_destroy(struct vh_reach *reach);
/* Starts (or moves) the watch to addr (a numeric IPv4 or IPv6 address) and port: a non-blocking
 * connect every VH_REACH_INTERVAL_MS, each given that long, until one completes. Returns false
 * for an address that is not numeric or a timer that cannot be armed. */
VH_MUSTCHECK bool vh_reach_start(struct vh_reach *reach, const char *addr, unsigned port);
/* Ends the watch, if any, without calling back. */
void vh_reach_stop(struct vh_reach *reach);
/* Whether a watch is on. */
bool vh_reach_active(const struct vh_reach *reach);

#endif
