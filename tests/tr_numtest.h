/*
** tr_numtest.h: the random tensors the trainer's numeric tests (test_tr_ops.c,
** test_tr_attn.c) build their checks from.
**
** Contract: one file-static generator `rng` per test file that includes this, seeded by
** the file (its suites' init); randn(n, s) is n floats of N(0, s^2) drawn from it, zeros(n)
** n zero floats; both malloc'd, freed by the caller. Header-only, included by path.
*/
#ifndef TR_NUMTEST_H
#define TR_NUMTEST_H

#include <stdlib.h>

#include "tr_rng.h"

static TrRng rng;

static inline float *randn(size_t n, float s) {
  float *x = malloc(n * sizeof *x);
  for (size_t i = 0; i < n; i++) x[i] = (float)(s * tr_rng_normal(&rng));
  return x;
}

static inline float *zeros(size_t n) { return calloc(n, sizeof(float)); }

#endif
