/* Float compare-and-select (the clamps in expf_v, the max reductions) only
   if-converts into vector blends when FP exceptions are not observable; the
   project never reads FP exception flags. (GCC only: clang, for the fuzz build, has no
   such pragma.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

#include "tr_ops.h"

#include "tr_blas.h"
#include <math.h>
#include <string.h>

/* Reductions keep 16 partial sums (two AVX2 vectors) that the compiler maps to
   vector registers: without -ffast-math a plain `s += x[i]` loop cannot be
   vectorised. The combine order is fixed, so results are deterministic. */
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

float tr_expf(float x) { return expf_v(x); }

/* ---- Embedding ---------------------------------------------------------- */

void tr_encoder_forward(float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
                        int C) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      float *o = out + ((size_t)b * T + t) * C;
      const float *we = wte + (size_t)tok[b * T + t] * C, *pe = wpe + (size_t)t * C;
      for (int i = 0; i < C; i++) o[i] = we[i] + pe[i];
    }
}

void tr_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
                         int C) {
  for (int b = 0; b < B; b++)
    for (int t = 0; t < T; t++) {
      const float *d = dout + ((size_t)b * T + t) * C;
      float *we = dwte + (size_t)tok[b * T + t] * C, *pe = dwpe + (size_t)t * C;
      for (int i = 0; i < C; i++) {
        we[i] += d[i];
        pe[i] += d[i];
      }
    }
}

/* ---- LayerNorm ---------------------------------------------------------- */

void tr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C) {
  for (int n = 0; n < N; n++) {
    const float *x = inp + (size_t)n * C;
    float *o = out + (size_t)n * C;
    float m = vsum(x, C) / (float)C;
    /* two passes (mean, then centred squares): no cancellation for offset inputs */
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= C; i += LANES)
      for (int k = 0; k < LANES; k++) {
        float d = x[i + k] - m;
        acc[k] += d * d;
      }
    float v = red_sum(acc);
    for (; i < C; i++) v += (x[i] - m) * (x[i] - m);
    float s = 1.0f / sqrtf(v / (float)C + 1e-5f);
    if (b)
      for (i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i] + b[i];
    else
      for (i = 0; i < C; i++) o[i] = (x[i] - m) * s * w[i];
    mean[n] = m;
    rstd[n] = s;
  }
}

void tr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C) {
  for (int n = 0; n < N; n++) {
    const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
    float *dx = dinp + (size_t)n * C;
    float m = mean[n], s = rstd[n];
    /* dnorm = w*d; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm*norm)) */
    float a1[LANES] = {0}, a2[LANES] = {0};
    int i = 0;
    for (; i + LANES <= C; i += LANES)
      for (int k = 0; k < LANES; k++) {
        float dn = w[i + k] * d[i + k];
        a1[k] += dn;
        a2[k] += dn * (x[i + k] - m) * s;
      }
    float s1 = red_sum(a1), s2 = red_sum(a2);
    for (; i < C; i++) {
      float dn = w[i] * d[i];
      s1 += dn;
      s2 += dn * (x[i] - m) * s;
    }
    s1 /= (float)C;
    s2 /= (float)C;
    for (i = 0; i < C; i++) {
      float norm = (x[i] - m) * s;
      dx[i] += (w[i] * d[i] - s1 - norm * s2) * s;
      dw[i] += norm * d[i];
    }
    if (db)
      for (i = 0; i < C; i++) db[i] += d[i];
  }
}

/* ---- Linear ------------------------------------------------------------- */

void tr_matmul_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC,
                       int OC, float beta) {
  if (b) {
    /* fold the bias into C of C = alpha*A*B + beta*C */
    for (int n = 0; n < N; n++) {
      float *o = out + (size_t)n * OC;
      if (beta == 0.0f)
        memcpy(o, b, (size_t)OC * sizeof *o);
      else
        for (int i = 0; i < OC; i++) o[i] += b[i];
    }
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, beta, out,
              OC);
}

void tr_matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int IC, int OC) {
  if (dinp)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f,
                dinp, IC);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw,
              IC);
  if (db)
    for (int n = 0; n < N; n++) {
      const float *d = dout + (size_t)n * OC;
      for (int i = 0; i < OC; i++) db[i] += d[i];
    }
}

/* ---- GELU --------------------------------------------------------------- */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

/* tanh(u) = 1 - 2/(1+exp(2u)): exact at the saturated ends thanks to the clamp in expf_v */
static inline float tanh_v(float u) { return 1.0f - 2.0f / (1.0f + expf_v(2.0f * u)); }

static inline float gelu_tanh(float x) { return tanh_v(GELU_K * (x + GELU_A * x * x * x)); }

void tr_gelu_forward(float *out, const float *inp, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = 0.5f * inp[i] * (1.0f + gelu_tanh(inp[i]));
}

void tr_gelu_forward_tanh(float *out, float *th, const float *inp, size_t n) {
  for (size_t i = 0; i < n; i++) {
    float x = inp[i], t = gelu_tanh(x);
    th[i] = t;
    out[i] = 0.5f * x * (1.0f + t);
  }
}

static inline float gelu_grad(float x, float t) {
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
}

void tr_gelu_backward(float *dinp, const float *dout, const float *inp, const float *th, size_t n) {
  if (th)
    for (size_t i = 0; i < n; i++) dinp[i] = dout[i] * gelu_grad(inp[i], th[i]);
  else
    for (size_t i = 0; i < n; i++) dinp[i] = dout[i] * gelu_grad(inp[i], gelu_tanh(inp[i]));
}

/* ---- Cross-entropy ------------------------------------------------------ */

void tr_crossentropy_forward(float *losses, float *lse, const float *logits, const int *targets,
                             int N, int V) {
  for (int n = 0; n < N; n++) {
    const float *x = logits + (size_t)n * V;
    float m = vmax(x, V);
    float acc[LANES] = {0};
    int i = 0;
    for (; i + LANES <= V; i += LANES)
      for (int k = 0; k < LANES; k++) acc[k] += expf_v(x[i + k] - m);
    float z = red_sum(acc);
    for (; i < V; i++) z += expf_v(x[i] - m);
    float l = m + logf(z);
    lse[n] = l;
    losses[n] = l - x[targets[n]];
  }
}

void tr_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                              const int *targets, float scale, int N, int V) {
  for (int n = 0; n < N; n++) {
    const float *x = logits + (size_t)n * V;
    float *d = dlogits + (size_t)n * V;
    float l = lse[n];
    for (int i = 0; i < V; i++) d[i] = expf_v(x[i] - l) * scale;
    d[targets[n]] -= scale;
  }
}

/* ---- Dropout ------------------------------------------------------------ */

void tr_dropout_mask(uint8_t *mask, size_t n, float p, TrRng *rng) {
  for (size_t i = 0; i < n; i++) mask[i] = tr_rng_uniformf(rng) >= p;
}

void tr_dropout_apply(float *out, const float *inp, const uint8_t *mask, float scale, size_t n) {
  for (size_t i = 0; i < n; i++) out[i] = mask[i] ? inp[i] * scale : 0.0f;
}

void tr_dropout_add(float *acc, const float *inp, const uint8_t *mask, float scale, size_t n) {
  for (size_t i = 0; i < n; i++) acc[i] += mask[i] ? inp[i] * scale : 0.0f;
}
