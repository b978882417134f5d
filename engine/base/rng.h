/* rng.h — a small seeded generator (splitmix64) so every generated prompt,
 * window and key is reproducible from its seed on every machine. */
#ifndef PURBO_RNG_H
#define PURBO_RNG_H

#include <stdint.h>

typedef struct { uint64_t s; } pb_rng;

static inline uint64_t rng_next(pb_rng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}
/* Uniform integer in [0, n). */
static inline uint64_t rng_below(pb_rng *r, uint64_t n) { return n ? rng_next(r) % n : 0; }
/* Uniform double in [0, 1). */
static inline double rng_unit(pb_rng *r) { return (double)(rng_next(r) >> 11) * 0x1.0p-53; }

#endif
