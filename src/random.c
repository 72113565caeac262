/* random.c - splitmix64: tiny, seedable, and good enough to spread a fleet's timers. */
#include "vh/random.h"

#include <unistd.h>

#include "vh/clock.h"

uint64_t vh_random_seed(uintptr_t salt) {
	uint64_t state = (uint64_t)vh_clock_mono_ms() ^ ((uint64_t)getpid() << 32) ^ (uint64_t)salt;
	/* One round so that seeds taken a millisecond apart do not start out alike. */
	return state ^ ((uint64_t)vh_random_next(&state) << 32);
}

uint32_t vh_random_next(uint64_t *state) {
	uint64_t z = (*state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return (uint32_t)((z ^ (z >> 31)) >> 32);
}
