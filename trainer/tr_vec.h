/*
** tr_vec.h: small inline float helpers written so the compiler vectorises them
** without -ffast-math (the attention kernels use them; tr_ops.c has private
** copies of the same code, to be replaced by this header).
**
** Contract:
** - Reductions keep TR_VEC_LANES partial sums combined in a fixed order, so a
**   result depends only on the inputs (deterministic, not the libm order).
** - tr_vec_exp is exp by Cody-Waite reduction and a degree-7 polynomial,
**   relative error < 2e-7, its argument clamped to [-87, 88] (no inf, no
**   denormal result): the same function as tr_expf.
** - A file including this header wants `#pragma GCC optimize("no-trapping-math")`
**   before its includes (GCC only), or the compare-and-select in the clamps and
**   max reductions does not become vector blends.
*/
#ifndef TR_VEC_H
#define TR_VEC_H

#include <math.h>
#include <stdint.h>

#define TR_VEC_LANES 16

/* TR_VEC_LANES floats as one GCC vector value, loaded from any float address: the compiler
   splits it into the registers the CPU level has (4 SSE, 2 AVX2, 1 AVX-512), lane k always
   holding element k (so tr_vec_red_sum((const float *)&v) sums it in the lane-array order). For
   loop bodies where GCC vectorises the wrong loop of the lane-array form (LayerNorm's backward). */
typedef float TrVecF __attribute__((vector_size(TR_VEC_LANES * sizeof(float)), aligned(4), may_alias));

/* a macro: a vector value passed or returned by a function has a CPU-level-dependent ABI */
#define TR_VECF_LOAD(p) (*(const TrVecF *)(p))

static inline float tr_vec_red_sum(const float *acc) {
  float s = 0.0f;
  for (int k = 0; k < TR_VEC_LANES; k++) s += acc[k];
  return s;
}

/* sum of x[0..n) */
static inline float tr_vec_sum(const float *x, int n) {
  float acc[TR_VEC_LANES] = {0};
  int i = 0;
  for (; i + TR_VEC_LANES <= n; i += TR_VEC_LANES)
    for (int k = 0; k < TR_VEC_LANES; k++) acc[k] += x[i + k];
  float s = tr_vec_red_sum(acc);
  for (; i < n; i++) s += x[i];
  return s;
}

/* x . y over n */
static inline float tr_vec_dot(const float *x, const float *y, int n) {
  float acc[TR_VEC_LANES] = {0};
  int i = 0;
  for (; i + TR_VEC_LANES <= n; i += TR_VEC_LANES)
    for (int k = 0; k < TR_VEC_LANES; k++) acc[k] += x[i + k] * y[i + k];
  float s = tr_vec_red_sum(acc);
  for (; i < n; i++) s += x[i] * y[i];
  return s;
}

/* max of x[0..n), n >= 1 */
static inline float tr_vec_max(const float *x, int n) {
  float acc[TR_VEC_LANES];
  float m = x[0];
  for (int k = 0; k < TR_VEC_LANES; k++) acc[k] = m;
  int i = 0;
  for (; i + TR_VEC_LANES <= n; i += TR_VEC_LANES)
    for (int k = 0; k < TR_VEC_LANES; k++) acc[k] = x[i + k] > acc[k] ? x[i + k] : acc[k];
  for (int k = 0; k < TR_VEC_LANES; k++) m = acc[k] > m ? acc[k] : m;
  for (; i < n; i++) m = x[i] > m ? x[i] : m;
  return m;
}

static inline float tr_vec_exp(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f; /* round to nearest */
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
