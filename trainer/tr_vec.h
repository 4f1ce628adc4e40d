/*
** tr_vec.h: the vectorisable helpers the kernels share (included by kernel files
** compiled once per CPU level, tr_cpu.h): fixed-lane reductions and a polynomial exp.
**
** Contract:
** - Reductions keep LANES (16) partial sums that the compiler maps to vector
**   registers (without -ffast-math a plain `s += x[i]` loop cannot be vectorised);
**   the combine order is fixed, so results do not depend on the vector width.
** - expf_v(x): exp for float, x clamped to [-87, 88] (no inf, no denormal results),
**   relative error < 2e-7; fmaf is exact on every level.
*/
#ifndef TR_VEC_H
#define TR_VEC_H

#include <math.h>
#include <stdint.h>

#define LANES 16

static inline float red_sum(const float *acc) {
  float s = 0.0f;
  for (int k = 0; k < LANES; k++) s += acc[k];
  return s;
}

static inline float vsum(const float *x, int n) {
  float acc[LANES] = {0};
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] += x[i + k];
  float s = red_sum(acc);
  for (; i < n; i++) s += x[i];
  return s;
}

static inline float vdot(const float *x, const float *y, int n) {
  float acc[LANES] = {0};
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] += x[i + k] * y[i + k];
  float s = red_sum(acc);
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

static inline float vmax(const float *x, int n) {
  float acc[LANES];
  float m = x[0];
  for (int k = 0; k < LANES; k++) acc[k] = m;
  int i = 0;
  for (; i + LANES <= n; i += LANES)
    for (int k = 0; k < LANES; k++) acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
  for (int k = 0; k < LANES; k++) m = acc[k] > m ? acc[k] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

/* exp by Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, and a degree-7
   Taylor polynomial (truncation < 1e-8 relative); 2^n built in the exponent bits. */
static inline float expf_v(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
  /* fmaf: one rounding per step and half the latency of mul+add (the build is
     ISO C, so the compiler does not contract a*b+c by itself) */
  float r = fmaf(-n, 0.693145751953125f, x);
  r = fmaf(-n, 1.428606765330187045e-06f, r);
  float p = 1.0f / 5040.0f;
  p = fmaf(p, r, 1.0f / 720.0f);
  p = fmaf(p, r, 1.0f / 120.0f);
  p = fmaf(p, r, 1.0f / 24.0f);
  p = fmaf(p, r, 1.0f / 6.0f);
  p = fmaf(p, r, 0.5f);
  p = fmaf(p, r, 1.0f);
  p = fmaf(p, r, 1.0f);
  union {
    int32_t i;
    float f;
  } u;
  u.i = ((int32_t)n + 127) << 23;
  return p * u.f;
}

#endif
