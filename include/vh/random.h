/* vh/random.h - a small seedable generator for jitter; not for anything secret. */
#ifndef VH_RANDOM_H
#define VH_RANDOM_H
#include <stdint.h>

/* A seed that differs between processes and calls: the clock, the pid and salt (an address of
 * the caller's, say) mixed together. */
uint64_t vh_random_seed(uintptr_t salt);
/* The next 32-bit value of the splitmix64 sequence kept in *state. This function can't fail. */
uint32_t vh_random_next(uint64_t *state);

#endif
