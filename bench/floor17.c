/* floor17: the lowest step time a shape could have on this machine (issue 17), beside
** `hpsweep bench`'s measured step, in one run.
**
**   floor17 [--model T|S] [--threads N] [--batch B] [--vocab V] [--reps N] [--torch TOK/S]
**           [--no-step]
**
** The floor is the sum of three parts, each measured or counted here:
**  - gemm: the step's linear-layer products exactly as tr_model calls them (forward,
**    the input gradient with beta 0, the weight gradient accumulated with beta 1; the
**    residual projections accumulate into the stream), through OpenBLAS: median of
**    --reps sequences, buffers of the shape's sizes. OpenBLAS's 1024^3 sgemm runs at
**    about the core's FMA peak, so no other GEMM takes these products much faster.
**  - attention: the six causal products of one layer's forward and backward (QK^T,
**    PV; dP, dV, dK, dQ), only the lower triangle, every layer, at the 1024^3 sgemm
**    rate measured here: no recomputation, no softmax, no tile overhead.
**    A second floor takes the linear layers' products at that rate too (a GEMM as
**    fast on these small matrices as on 1024^3 ones).
**  - traffic: the floats every other kernel must read or write at least once
**    (LayerNorm, GELU, attention's inputs and outputs, cross-entropy, embeddings,
**    AdamW's parameters, gradient and two moments, the clipping norm's read; bias
**    and residual adds free, folded into the products) at the copy bandwidth
**    measured here on a buffer of the activations' size, split over the threads.
**    No arithmetic counted: exp, tanh and the sums are free.
** Each part is a lower bound on its own work, so their sum bounds the step from
** below. --torch TOK/S (PyTorch's tokens/s from bench/bench_torch.py in the same
** sitting) adds the step time 1.5x PyTorch needs and the floor's own ratio.
** --batch and --vocab change the shape (nanoGPT's Shakespeare recipe is T with
** --batch 12 --vocab 65; the bench step is then not run, nor with --no-step). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_bench.h"
#include "tr_blas.h"
#include "tr_os.h"
#include "tr_par.h"
#include "tr_sort.h"

typedef struct Shape {
  int B, T, C, NH, L, H, V;
} Shape;

static float *buf(size_t n) {
  float *p = malloc(n * sizeof(float));
  if (!p) {
    fprintf(stderr, "floor17: out of memory (%zu floats)\n", n);
    exit(1);
  }
  for (size_t i = 0; i < n; i++) p[i] = (float)((i * 2654435761u) % 1000) * 1e-3f - 0.5f;
  return p;
}

/* out (N, OC) (+)= x (N, IC) @ w (OC, IC)^T, its input gradient and weight gradient. */
static void linear(int N, int IC, int OC, float fwd_beta, float *x, float *w, float *y, float *dy,
                   float *dx, float *dw) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, x, IC, w, IC, fwd_beta, y, OC);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dy, OC, w, IC, 0.0f, dx, IC);
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dy, OC, x, IC, 1.0f, dw, IC);
}

/* Median ms of the step's linear-layer products (forward order, then the backward's
   products, which are the same calls' gradients: order does not change the work). */
static double gemm_ms(const Shape *s, int reps) {
  const int N = s->B * s->T, C = s->C, H = s->H, V = s->V;
  int widest = 3 * C; /* the widest activation: qkv, fc's H or the logits' V */
  if (H > widest) widest = H;
  if (V > widest) widest = V;
  const size_t big = (size_t)N * widest;
  float *x = buf(big), *y = buf(big), *dy = buf(big), *dx = buf(big);
  float *w = buf((size_t)V * C + (size_t)H * C * 2), *dw = buf((size_t)V * C + (size_t)H * C * 2);
  double *t = malloc((size_t)reps * sizeof *t);
  for (int r = -1; r < reps; r++) {
    const double t0 = tr_clock_mono();
    for (int l = 0; l < s->L; l++) {
      linear(N, C, 3 * C, 0.0f, x, w, y, dy, dx, dw); /* qkv */
      linear(N, C, C, 1.0f, x, w, y, dy, dx, dw);     /* attention projection into the stream */
      linear(N, C, H, 0.0f, x, w, y, dy, dx, dw);     /* fc */
      linear(N, H, C, 1.0f, x, w, y, dy, dx, dw);     /* fc projection into the stream */
    }
    linear(N, C, V, 0.0f, x, w, y, dy, dx, dw); /* LM head (tied to wte) */
    if (r >= 0) t[r] = (tr_clock_mono() - t0) * 1e3;
  }
  tr_sort(t, (size_t)reps, sizeof *t, tr_cmp_double);
  const double ms = t[reps / 2];
  free(x), free(y), free(dy), free(dx), free(w), free(dw), free(t);
  return ms;
}

/* Copy bandwidth (bytes read + written per second) of n floats over nt threads. */
static double copy_gbs(size_t n, int nt, int reps) {
  float *a = buf(n), *b = buf(n);
  double best = 1e30;
  for (int r = 0; r < reps; r++) {
    const double t0 = tr_clock_mono();
    TR_PARALLEL(nt) {
      size_t lo, hi;
      tr_par_range(n, 16, &lo, &hi);
      memcpy(b + lo, a + lo, (hi - lo) * sizeof(float));
    }
    const double dt = tr_clock_mono() - t0;
    if (dt < best) best = dt;
  }
  free(a), free(b);
  return 2.0 * (double)n * sizeof(float) / best / 1e9;
}

/* Floats the kernels outside the products must move at least once per step. */
static double traffic_floats(const Shape *s, double nparams) {
  const double N = (double)s->B * s->T, C = s->C, H = s->H, V = s->V;
  const double fwd_layer = 2 * N * C /* LN1 */ + 4 * N * C /* attention: q,k,v in, out */ +
                           2 * N * C /* LN2 */ + 2 * N * H /* GELU */;
  const double bwd_layer = 3 * N * H /* GELU */ + 6 * N * C /* two LNs: x, dy in, dx out */ +
                           8 * N * C /* attention: q,k,v,O,dO in, dq,dk,dv out */;
  const double ends = N * C /* embedding */ + 2 * N * C + 3 * N * C /* final LN */ +
                      2 * N * V /* cross-entropy: logits in, their gradient out */ +
                      N * C /* embedding gradient */;
  return s->L * (fwd_layer + bwd_layer) + ends + 8 * nparams /* AdamW 7, clipping's norm 1 */;
}

/* The linear layers' products: forward, input and weight gradients, 2 flops a product. */
static double gemm_flops(const Shape *s) {
  const double N = (double)s->B * s->T, C = s->C, H = s->H;
  return 3.0 * 2.0 * N * (s->L * (4.0 * C * C + 2.0 * C * H) + C * s->V);
}

static double attention_flops(const Shape *s) {
  const double hs = (double)s->C / s->NH, tri = (double)s->T * (s->T + 1) / 2;
  return 6.0 * 2.0 * hs * tri * s->B * s->NH * s->L;
}

static int usage(void) {
  fprintf(stderr, "usage: floor17 [--model T|S] [--threads N] [--batch B] [--vocab V] [--reps N] "
                  "[--torch TOK/S] [--no-step]\n");
  return 2;
}

int main(int argc, char **argv) {
  const char *model = "T";
  int threads = 1, reps = 21, batch = 0, vocab = 0, step = 1;
  double torch = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (strcmp(a, "--no-step") == 0) {
      step = 0;
      continue;
    }
    if (!v) return usage();
    if (strcmp(a, "--model") == 0) model = v;
    else if (strcmp(a, "--threads") == 0) threads = atoi(v);
    else if (strcmp(a, "--batch") == 0) batch = atoi(v);
    else if (strcmp(a, "--vocab") == 0) vocab = atoi(v);
    else if (strcmp(a, "--reps") == 0) reps = atoi(v);
    else if (strcmp(a, "--torch") == 0) torch = atof(v);
    else return usage();
    i++;
  }
  TrModelConfig cfg;
  TrErr err;
  int B;
  if (tr_bench_shape(model, &cfg, &B, &err) != 0 || threads < 1 || reps < 1 || batch < 0 || vocab < 0) {
    fprintf(stderr, "floor17: bad arguments (--model T or S; counts >= 1)\n");
    return 2;
  }
  const int custom = batch || vocab;
  Shape s = {batch ? batch : B, cfg.context_length, cfg.d_model, cfg.n_head, cfg.n_layer,
             cfg.mlp_ratio * cfg.d_model, vocab ? vocab : cfg.vocab_size};
  openblas_set_num_threads(threads);
  const double N = (double)s.B * s.T;
  const double nparams = (double)s.V * s.C + (double)s.T * s.C +
                         s.L * (4.0 * s.C * s.C + 2.0 * s.C * s.H + 9.0 * s.C + s.H) + 2.0 * s.C;
  const double sg = tr_bench_sgemm(threads, 1024, 5);
  const double g = gemm_ms(&s, reps);
  const double a = attention_flops(&s) / (sg * 1e9) * 1e3;
  const double tf = traffic_floats(&s, nparams);
  const double bw = copy_gbs((size_t)(tf > 4e6 ? tf : 4e6), threads, reps);
  const double e = tf * sizeof(float) / (bw * 1e9) * 1e3, fl = g + a + e;
  printf("shape %s%s B %d T %d C %d L %d V %d, %d thread(s)\n", model, custom ? " (custom)" : "", s.B,
         s.T, s.C, s.L, s.V, threads);
  printf("sgemm 1024^3 %.1f GFLOP/s, copy %.1f GB/s over %.0f MB\n", sg, bw, tf * 4 / 1048576.0);
  printf("floor: gemm %.1f ms + attention %.1f ms + traffic %.1f ms = %.1f ms/step, %.0f tokens/s\n", g, a,
         e, fl, N / fl * 1e3);
  /* the same with the products at the 1024^3 rate: what a perfect GEMM would give */
  const double gi = gemm_flops(&s) / (sg * 1e9) * 1e3, fli = gi + a + e;
  printf("floor with the products at the 1024^3 rate: gemm %.1f ms (OpenBLAS %.0f%% of it) = %.1f ms/step, "
         "%.0f tokens/s\n",
         gi, gi / g * 100, fli, N / fli * 1e3);
  if (!custom && step) {
    TrBenchResult res;
    if (tr_bench_train(model, threads, 20, &res, &err) != 0) {
      fprintf(stderr, "floor17: %s\n", err.msg);
      return 1;
    }
    printf("measured: %.1f ms/step, %.0f tokens/s: %.2fx the floor's step\n", res.step_ms,
           res.tokens_per_s, res.step_ms / fl);
  }
  if (torch > 0) {
    const double need = N / (1.5 * torch) * 1e3;
    printf("PyTorch %.0f tokens/s: 1.5x needs %.1f ms/step, 2x %.1f; the floors are %.2fx and %.2fx "
           "PyTorch\n",
           torch, need, N / (2.0 * torch) * 1e3, N / fl * 1e3 / torch, N / fli * 1e3 / torch);
  }
  return 0;
}
