/* Float compare-and-select (the clamps in tr_vec_exp, the max reductions) only
   if-converts into vector blends when FP exceptions are not observable; the
   project never reads FP exception flags. (GCC only: clang, for the fuzz build, has no
   such pragma.) */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math")
#endif

/* Compiled once per CPU level (tr_cpu.h): every public function gets the level's suffix. */
#include "tr_cpu.h"
#ifdef TR_CPU_SUFFIX
#define tr_expf TR_CPU_NAME(tr_expf)
#define tr_encoder_forward TR_CPU_NAME(tr_encoder_forward)
#define tr_encoder_backward TR_CPU_NAME(tr_encoder_backward)
#define tr_layernorm_forward TR_CPU_NAME(tr_layernorm_forward)
#define tr_layernorm_backward TR_CPU_NAME(tr_layernorm_backward)
#define tr_matmul_forward TR_CPU_NAME(tr_matmul_forward)
#define tr_matmul_backward TR_CPU_NAME(tr_matmul_backward)
#define tr_gelu_forward TR_CPU_NAME(tr_gelu_forward)
#define tr_gelu_forward_tanh TR_CPU_NAME(tr_gelu_forward_tanh)
#define tr_gelu_backward TR_CPU_NAME(tr_gelu_backward)
#define tr_crossentropy_forward TR_CPU_NAME(tr_crossentropy_forward)
#define tr_crossentropy_backward TR_CPU_NAME(tr_crossentropy_backward)
#define tr_dropout_mask TR_CPU_NAME(tr_dropout_mask)
#define tr_dropout_apply TR_CPU_NAME(tr_dropout_apply)
#define tr_dropout_add TR_CPU_NAME(tr_dropout_add)
#endif

#include "tr_ops.h"

#include "tr_blas.h"
#include "tr_par.h"
#include "tr_vec.h"
#include <math.h>
#include <string.h>

/* Threads split rows (or columns, or elements) statically: every output has one
   owner and every sum keeps the single-thread order, so results are the same at
   any thread count. Small kernels run on the calling thread (tr_par_threads_for). */

float tr_expf(float x) { return tr_vec_exp(x); }

/* ---- Embedding ---------------------------------------------------------- */

void tr_encoder_forward(float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
                        int C) {
  const int nt = tr_par_threads_for((size_t)B * T * C);
  TR_PARALLEL(nt) {
    size_t r0, r1;
    tr_par_range((size_t)B * T, 1, &r0, &r1);
    for (size_t r = r0; r < r1; r++) {
      float *o = out + r * C;
      const float *we = wte + (size_t)tok[r] * C, *pe = wpe + (r % (size_t)T) * C;
      for (int i = 0; i < C; i++) o[i] = we[i] + pe[i];
    }
  }
}

/* Columns split: a token may repeat, so rows cannot; each thread owns columns of
   dwte and dwpe and walks every position in order. */
void tr_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
                         int C) {
  const int nt = tr_par_threads_for((size_t)B * T * C);
  TR_PARALLEL(nt) {
    size_t c0, c1;
    tr_par_range((size_t)C, 16, &c0, &c1);
    for (int b = 0; b < B; b++)
      for (int t = 0; t < T; t++) {
        const float *d = dout + ((size_t)b * T + t) * C;
        float *we = dwte + (size_t)tok[b * T + t] * C, *pe = dwpe + (size_t)t * C;
        for (size_t i = c0; i < c1; i++) {
          we[i] += d[i];
          pe[i] += d[i];
        }
      }
  }
}

/* ---- LayerNorm ---------------------------------------------------------- */

static void layernorm_rows(float *out, float *mean, float *rstd, const float *inp, const float *w,
                           const float *b, size_t n0, size_t n1, int C) {
  for (size_t n = n0; n < n1; n++) {
    const float *x = inp + n * C;
    float *o = out + n * C;
    float m = tr_vec_sum(x, C) / (float)C;
    /* two passes (mean, then centred squares): no cancellation for offset inputs */
    float acc[TR_VEC_LANES] = {0};
    int i = 0;
    for (; i + TR_VEC_LANES <= C; i += TR_VEC_LANES)
      for (int k = 0; k < TR_VEC_LANES; k++) {
        float d = x[i + k] - m;
        acc[k] += d * d;
      }
    float v = tr_vec_red_sum(acc);
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

void tr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C) {
  const int nt = tr_par_threads_for((size_t)N * C);
  TR_PARALLEL(nt) {
    size_t n0, n1;
    tr_par_range((size_t)N, 1, &n0, &n1);
    layernorm_rows(out, mean, rstd, inp, w, b, n0, n1, C);
  }
}

/* dx of rows [n0, n1); with dw != NULL also dw, db (the fused single-thread pass). The
   buffers never overlap (dx is an activation's gradient, dw and db parameters'): restrict
   spares GCC the run-time alias checks. */
static void layernorm_back_rows(float *restrict dinp, float *restrict dw, float *restrict db,
                                const float *restrict dout, const float *restrict inp,
                                const float *restrict w, const float *restrict mean,
                                const float *restrict rstd, size_t n0, size_t n1, int C) {
  for (size_t n = n0; n < n1; n++) {
    const float *restrict x = inp + n * C, *restrict d = dout + n * C;
    float *restrict dx = dinp + n * C;
    const float m = mean[n], s = rstd[n];
    /* dnorm = w*d; dx = s * (dnorm - mean(dnorm) - norm * mean(dnorm*norm)). The two sums
       in GCC vector values: written with lane arrays (as the forward) GCC vectorised the i
       loop with lane permutes instead, and the backward took 7x the forward's time. */
    TrVecF a1 = {0}, a2 = {0};
    int i = 0;
    for (; i + TR_VEC_LANES <= C; i += TR_VEC_LANES) {
      TrVecF dn = TR_VECF_LOAD(w + i) * TR_VECF_LOAD(d + i);
      a1 += dn;
      a2 += dn * (TR_VECF_LOAD(x + i) - m) * s;
    }
    float s1 = tr_vec_red_sum((const float *)&a1), s2 = tr_vec_red_sum((const float *)&a2);
    for (; i < C; i++) {
      float dn = w[i] * d[i];
      s1 += dn;
      s2 += dn * (x[i] - m) * s;
    }
    s1 /= (float)C;
    s2 /= (float)C;
    if (dw) /* one pass: norm once for dx and dw */
      for (i = 0; i < C; i++) {
        const float norm = (x[i] - m) * s;
        dx[i] += (w[i] * d[i] - s1 - norm * s2) * s;
        dw[i] += norm * d[i];
      }
    else
      for (i = 0; i < C; i++) dx[i] += (w[i] * d[i] - s1 - ((x[i] - m) * s) * s2) * s;
    if (db)
      for (i = 0; i < C; i++) db[i] += d[i];
  }
}

/* dw, db of columns [c0, c1), summed over every row in row order (as the fused pass).
   It re-reads x and dy a half-row at a time and takes most of the 2-thread backward, which
   is why 2 threads are no faster than 1 here (docs/performance.md). */
static void layernorm_back_cols(float *restrict dw, float *restrict db,
                                const float *restrict dout, const float *restrict inp,
                                const float *restrict mean, const float *restrict rstd, int N,
                                int C, size_t c0, size_t c1) {
  for (int n = 0; n < N; n++) {
    const float *restrict x = inp + (size_t)n * C, *restrict d = dout + (size_t)n * C;
    const float m = mean[n], s = rstd[n];
    if (db)
      for (size_t i = c0; i < c1; i++) {
        dw[i] += ((x[i] - m) * s) * d[i];
        db[i] += d[i];
      }
    else
      for (size_t i = c0; i < c1; i++) dw[i] += ((x[i] - m) * s) * d[i];
  }
}

void tr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C) {
  const int nt = tr_par_threads_for((size_t)N * C);
  if (nt == 1) {
    layernorm_back_rows(dinp, dw, db, dout, inp, w, mean, rstd, 0, (size_t)N, C);
    return;
  }
  TR_PARALLEL(nt) {
    size_t lo, hi;
    tr_par_range((size_t)N, 1, &lo, &hi); /* dx: rows */
    layernorm_back_rows(dinp, NULL, NULL, dout, inp, w, mean, rstd, lo, hi, C);
    tr_par_range((size_t)C, 16, &lo, &hi); /* dw, db: columns */
    layernorm_back_cols(dw, db, dout, inp, mean, rstd, N, C, lo, hi);
  }
}

/* ---- Linear ------------------------------------------------------------- */

void tr_matmul_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC,
                       int OC, float beta) {
  if (b) {
    /* fold the bias into C of C = alpha*A*B + beta*C */
    const int nt = tr_par_threads_for((size_t)N * OC);
    TR_PARALLEL(nt) {
      size_t n0, n1;
      tr_par_range((size_t)N, 1, &n0, &n1);
      for (size_t n = n0; n < n1; n++) {
        float *o = out + n * OC;
        if (beta == 0.0f)
          memcpy(o, b, (size_t)OC * sizeof *o);
        else
          for (int i = 0; i < OC; i++) o[i] += b[i];
      }
    }
    beta = 1.0f;
  }
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, beta, out,
              OC);
}

/* db (OC) += column sums of dout: columns split, rows summed in order. */
static void bias_backward(float *db, const float *dout, int N, int OC) {
  const int nt = tr_par_threads_for((size_t)N * OC);
  TR_PARALLEL(nt) {
    size_t c0, c1;
    tr_par_range((size_t)OC, 16, &c0, &c1);
    for (int n = 0; n < N; n++) {
      const float *d = dout + (size_t)n * OC;
      for (size_t i = c0; i < c1; i++) db[i] += d[i];
    }
  }
}

void tr_matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int IC, int OC) {
  if (dinp)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC, 0.0f,
                dinp, IC);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw,
              IC);
  if (db) bias_backward(db, dout, N, OC);
}

/* ---- GELU --------------------------------------------------------------- */

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */
#define GELU_A 0.044715f

/* tanh(u) = 1 - 2/(1+exp(2u)): exact at the saturated ends thanks to the clamp in tr_vec_exp */
static inline float tanh_v(float u) { return 1.0f - 2.0f / (1.0f + tr_vec_exp(2.0f * u)); }

static inline float gelu_tanh(float x) { return tanh_v(GELU_K * (x + GELU_A * x * x * x)); }

void tr_gelu_forward(float *out, const float *inp, size_t n) {
  const int nt = tr_par_threads_for(n);
  TR_PARALLEL(nt) {
    size_t i0, i1;
    tr_par_range(n, TR_VEC_LANES, &i0, &i1);
    for (size_t i = i0; i < i1; i++) out[i] = 0.5f * inp[i] * (1.0f + gelu_tanh(inp[i]));
  }
}

void tr_gelu_forward_tanh(float *out, float *th, const float *inp, size_t n) {
  const int nt = tr_par_threads_for(n);
  TR_PARALLEL(nt) {
    size_t i0, i1;
    tr_par_range(n, TR_VEC_LANES, &i0, &i1);
    for (size_t i = i0; i < i1; i++) {
      float x = inp[i], t = gelu_tanh(x);
      th[i] = t;
      out[i] = 0.5f * x * (1.0f + t);
    }
  }
}

static inline float gelu_grad(float x, float t) {
  return 0.5f * (1.0f + t) + 0.5f * x * (1.0f - t * t) * GELU_K * (1.0f + 3.0f * GELU_A * x * x);
}

void tr_gelu_backward(float *dinp, const float *dout, const float *inp, const float *th, size_t n) {
  const int nt = tr_par_threads_for(n);
  TR_PARALLEL(nt) {
    size_t i0, i1;
    tr_par_range(n, TR_VEC_LANES, &i0, &i1);
    if (th)
      for (size_t i = i0; i < i1; i++) dinp[i] = dout[i] * gelu_grad(inp[i], th[i]);
    else
      for (size_t i = i0; i < i1; i++) dinp[i] = dout[i] * gelu_grad(inp[i], gelu_tanh(inp[i]));
  }
}

/* ---- Cross-entropy ------------------------------------------------------ */

void tr_crossentropy_forward(float *losses, float *lse, const float *logits, const int *targets,
                             int N, int V) {
  const int nt = tr_par_threads_for((size_t)N * V);
  TR_PARALLEL(nt) {
    size_t n0, n1;
    tr_par_range((size_t)N, 1, &n0, &n1);
    for (size_t n = n0; n < n1; n++) {
      const float *x = logits + n * V;
      float m = tr_vec_max(x, V);
      float acc[TR_VEC_LANES] = {0};
      int i = 0;
      for (; i + TR_VEC_LANES <= V; i += TR_VEC_LANES)
        for (int k = 0; k < TR_VEC_LANES; k++) acc[k] += tr_vec_exp(x[i + k] - m);
      float z = tr_vec_red_sum(acc);
      for (; i < V; i++) z += tr_vec_exp(x[i] - m);
      float l = m + logf(z);
      lse[n] = l;
      losses[n] = l - x[targets[n]];
    }
  }
}

void tr_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                              const int *targets, float scale, int N, int V) {
  const int nt = tr_par_threads_for((size_t)N * V);
  TR_PARALLEL(nt) {
    size_t n0, n1;
    tr_par_range((size_t)N, 1, &n0, &n1);
    for (size_t n = n0; n < n1; n++) {
      const float *x = logits + n * V;
      float *d = dlogits + n * V;
      float l = lse[n];
      for (int i = 0; i < V; i++) d[i] = tr_vec_exp(x[i] - l) * scale;
      d[targets[n]] -= scale;
    }
  }
}

/* ---- Dropout ------------------------------------------------------------ */

void tr_dropout_mask(uint8_t *mask, size_t n, float p, TrRng *rng) {
  for (size_t i = 0; i < n; i++) mask[i] = tr_rng_uniformf(rng) >= p;
}

void tr_dropout_apply(float *out, const float *inp, const uint8_t *mask, float scale, size_t n) {
  const int nt = tr_par_threads_for(n);
  TR_PARALLEL(nt) {
    size_t i0, i1;
    tr_par_range(n, 64, &i0, &i1);
    for (size_t i = i0; i < i1; i++) out[i] = mask[i] ? inp[i] * scale : 0.0f;
  }
}

void tr_dropout_add(float *acc, const float *inp, const uint8_t *mask, float scale, size_t n) {
  const int nt = tr_par_threads_for(n);
  TR_PARALLEL(nt) {
    size_t i0, i1;
    tr_par_range(n, 64, &i0, &i1);
    for (size_t i = i0; i < i1; i++) acc[i] += mask[i] ? inp[i] * scale : 0.0f;
  }
}
