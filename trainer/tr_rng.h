/*
** tr_rng.h: the one random number generator (xoshiro256**, seeded by splitmix64).
**
** Contract: state is passed explicitly, never global; the same seed gives the
** same stream on every machine (no libm in the integer path; tr_rng_normal uses
** log/sqrt/cos which are correctly rounded enough on glibc for bit-identical runs
** on one machine). A TrRng is plain data: copy it to fork a stream, write its
** four words to a checkpoint to resume one.
*/
#ifndef TR_RNG_H
#define TR_RNG_H

#include <stdint.h>

typedef struct TrRng {
  uint64_t s[4];
} TrRng;

void tr_rng_seed(TrRng *r, uint64_t seed);
/* An independent stream derived from (seed, stream id): for per-purpose RNGs. */
void tr_rng_seed2(TrRng *r, uint64_t seed, uint64_t stream);
uint64_t tr_rng_u64(TrRng *r);
/* Uniform in [0, 1) with 53 random bits. */
double tr_rng_uniform(TrRng *r);
/* Uniform float in [0, 1) with 24 random bits. */
float tr_rng_uniformf(TrRng *r);
/* Uniform integer in [0, n), unbiased (Lemire's method); n > 0. */
uint64_t tr_rng_below(TrRng *r, uint64_t n);
/* Standard normal (Box-Muller, one value per call, no cached spare). */
double tr_rng_normal(TrRng *r);

#endif
