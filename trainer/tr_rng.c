#include "tr_rng.h"

#include <math.h>

__extension__ typedef unsigned __int128 u128; /* -Wpedantic: gcc/clang extension */

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void tr_rng_seed(TrRng *r, uint64_t seed) {
  uint64_t x = seed;
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&x);
}

void tr_rng_seed2(TrRng *r, uint64_t seed, uint64_t stream) {
  uint64_t x = seed ^ (stream * 0xd1342543de82ef95ULL + 0x2545f4914f6cdd1dULL);
  tr_rng_seed(r, splitmix64(&x));
}

static inline uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t tr_rng_u64(TrRng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double tr_rng_uniform(TrRng *r) { return (double)(tr_rng_u64(r) >> 11) * 0x1.0p-53; }

float tr_rng_uniformf(TrRng *r) { return (float)(tr_rng_u64(r) >> 40) * 0x1.0p-24f; }

uint64_t tr_rng_below(TrRng *r, uint64_t n) {
  /* Lemire: multiply-shift with rejection of the biased low zone. */
  u128 m = (u128)tr_rng_u64(r) * n;
  uint64_t l = (uint64_t)m;
  if (l < n) {
    uint64_t t = (0 - n) % n;
    while (l < t) {
      m = (u128)tr_rng_u64(r) * n;
      l = (uint64_t)m;
    }
  }
  return (uint64_t)(m >> 64);
}

double tr_rng_normal(TrRng *r) {
  double u1 = tr_rng_uniform(r), u2 = tr_rng_uniform(r);
  if (u1 < 1e-300) u1 = 1e-300; /* log(0) guard */
  return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}
