/* test_tr_ops.c: every backward kernel against central finite differences.
**
** Each check projects an op's output on a fixed random tensor R (loss = sum(out*R),
** summed in double), runs the backward with dout = R, and compares every
** analytic gradient element with (loss(x+h) - loss(x-h)) / (x+h - (x-h)). The op
** runs in float, so the tolerance is |num - ana| <= rtol*|ana| + atol*max|ana|. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_blas.h"
#include "tr_cpu.h"
#include "tr_model.h"
#include "tr_ops.h"
#include "tr_par.h"
#include "tr_rng.h"
#include "tr_numtest.h"

static double proj(const float *out, const float *r, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) s += (double)out[i] * r[i];
  return s;
}

typedef double (*LossFn)(void *ctx);

/* Compare ana (n) with the central difference of f with respect to x (n). */
static void check_grad(const char *what, float *x, const float *ana, size_t n, LossFn f, void *ctx,
                       float h, double rtol, double atol) {
  double amax = 0;
  for (size_t i = 0; i < n; i++) amax = fmax(amax, fabs(ana[i]));
  cr_assert(amax > 0, "%s: analytic gradient is all zero", what);
  for (size_t i = 0; i < n; i++) {
    float save = x[i];
    x[i] = save + h;
    double xp = x[i], lp = f(ctx);
    x[i] = save - h;
    double xm = x[i], lm = f(ctx);
    x[i] = save;
    double num = (lp - lm) / (xp - xm);
    double err = fabs(num - ana[i]);
    cr_assert(err <= rtol * fabs(ana[i]) + atol * amax,
              "%s[%zu]: analytic %.7g, numeric %.7g (|err| %.3g, max|grad| %.3g)", what, i,
              (double)ana[i], num, err, amax);
  }
}

void setup(void) { tr_rng_seed(&rng, 12345); }

TestSuite(tr_ops, .init = setup);

Test(tr_ops, expf_matches_libm_to_a_few_ulp) {
  double worst = 0;
  for (float x = -80.0f; x < 80.0f; x += 0.01237f) {
    double e = exp((double)x), r = fabs(tr_expf(x) - e) / e;
    worst = fmax(worst, r);
  }
  cr_assert(worst < 3e-7, "worst relative error %g", worst);
  cr_assert(tr_expf(-1000.0f) >= 0.0f && tr_expf(-1000.0f) < 1e-37f);
  cr_assert(isfinite(tr_expf(1000.0f)));
}

/* ---- encoder ---- */
typedef struct {
  float *out, *wte, *wpe, *r;
  int *tok, B, T, C;
} EncCtx;

static double enc_loss(void *p) {
  EncCtx *c = p;
  tr_encoder_forward(c->out, c->tok, c->wte, c->wpe, c->B, c->T, c->C);
  return proj(c->out, c->r, (size_t)c->B * c->T * c->C);
}

static void encoder_check(void) {
  int B = 2, T = 4, C = 3, V = 5;
  int tok[8] = {1, 3, 1, 0, 4, 1, 3, 3}; /* repeats: gradients must accumulate */
  EncCtx c = {zeros(B * T * C), randn(V * C, 1), randn(T * C, 1), randn(B * T * C, 1), tok, B, T, C};
  float *dwte = zeros(V * C), *dwpe = zeros(T * C);
  tr_encoder_backward(dwte, dwpe, c.r, tok, B, T, C);
  check_grad("dwte", c.wte, dwte, V * C, enc_loss, &c, 1e-2f, 1e-3, 1e-4);
  check_grad("dwpe", c.wpe, dwpe, T * C, enc_loss, &c, 1e-2f, 1e-3, 1e-4);
  cr_assert_float_eq(dwte[2 * C], 0.0f, 0.0f, "unused token row 2 got a gradient");
  free(c.out), free(c.wte), free(c.wpe), free(c.r), free(dwte), free(dwpe);
}

Test(tr_ops, encoder_backward_matches_finite_differences) { encoder_check(); }

/* ---- layernorm ---- */
typedef struct {
  float *out, *mean, *rstd, *inp, *w, *b, *r;
  int N, C;
} LnCtx;

static double ln_loss(void *p) {
  LnCtx *c = p;
  tr_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
  return proj(c->out, c->r, (size_t)c->N * c->C);
}

static void layernorm_check(int with_bias) {
  int N = 3, C = 37; /* C not a multiple of 16: exercises the tail loops */
  LnCtx c = {zeros(N * C), zeros(N), zeros(N), randn(N * C, 1), randn(C, 1),
             with_bias ? randn(C, 1) : NULL, randn(N * C, 1), N, C};
  for (int i = 0; i < N * C; i++) c.inp[i] += 3.0f; /* an offset the mean must remove */
  ln_loss(&c);
  float *dinp = zeros(N * C), *dw = zeros(C), *db = with_bias ? zeros(C) : NULL;
  tr_layernorm_backward(dinp, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, N, C);
  check_grad("ln dinp", c.inp, dinp, N * C, ln_loss, &c, 1e-2f, 2e-2, 2e-3);
  check_grad("ln dw", c.w, dw, C, ln_loss, &c, 1e-2f, 1e-2, 1e-3);
  if (with_bias) check_grad("ln db", c.b, db, C, ln_loss, &c, 1e-2f, 1e-2, 1e-3);
  free(c.out), free(c.mean), free(c.rstd), free(c.inp), free(c.w), free(c.b), free(c.r);
  free(dinp), free(dw), free(db);
}

Test(tr_ops, layernorm_backward_matches_finite_differences) { layernorm_check(1); }
Test(tr_ops, layernorm_without_bias_backward_matches_finite_differences) { layernorm_check(0); }

Test(tr_ops, layernorm_backward_accumulates_into_dinp) {
  int N = 2, C = 8;
  float *inp = randn(N * C, 1), *w = randn(C, 1), *out = zeros(N * C), mean[2], rstd[2];
  float *d = randn(N * C, 1), *d1 = zeros(N * C), *d2 = zeros(N * C), *dw = zeros(C);
  tr_layernorm_forward(out, mean, rstd, inp, w, NULL, N, C);
  tr_layernorm_backward(d1, dw, NULL, d, inp, w, mean, rstd, N, C);
  for (int i = 0; i < N * C; i++) d2[i] = 1.0f;
  tr_layernorm_backward(d2, dw, NULL, d, inp, w, mean, rstd, N, C);
  for (int i = 0; i < N * C; i++) cr_assert_float_eq(d2[i], d1[i] + 1.0f, 1e-5f);
  free(inp), free(w), free(out), free(d), free(d1), free(d2), free(dw);
}

/* ---- matmul ---- */
typedef struct {
  float *out, *inp, *w, *b, *r;
  int N, IC, OC;
} MmCtx;

static double mm_loss(void *p) {
  MmCtx *c = p;
  tr_matmul_forward(c->out, c->inp, c->w, c->b, c->N, c->IC, c->OC, 0.0f);
  return proj(c->out, c->r, (size_t)c->N * c->OC);
}

static void matmul_check(void) {
  int N = 5, IC = 7, OC = 6;
  MmCtx c = {zeros(N * OC), randn(N * IC, 1), randn(OC * IC, 1), randn(OC, 1), randn(N * OC, 1),
             N, IC, OC};
  float *dinp = zeros(N * IC), *dw = zeros(OC * IC), *db = zeros(OC);
  tr_matmul_backward(dinp, dw, db, c.r, c.inp, c.w, N, IC, OC);
  check_grad("mm dinp", c.inp, dinp, N * IC, mm_loss, &c, 1e-2f, 1e-3, 1e-4);
  check_grad("mm dw", c.w, dw, OC * IC, mm_loss, &c, 1e-2f, 1e-3, 1e-4);
  check_grad("mm db", c.b, db, OC, mm_loss, &c, 1e-2f, 1e-3, 1e-4);
  free(c.out), free(c.inp), free(c.w), free(c.b), free(c.r), free(dinp), free(dw), free(db);
}

Test(tr_ops, matmul_backward_matches_finite_differences) { matmul_check(); }

Test(tr_ops, matmul_forward_beta_one_adds_to_out) {
  int N = 3, IC = 4, OC = 5;
  float *inp = randn(N * IC, 1), *w = randn(OC * IC, 1), *b = randn(OC, 1);
  float *o1 = zeros(N * OC), *o2 = randn(N * OC, 1), *base = malloc(N * OC * sizeof(float));
  memcpy(base, o2, N * OC * sizeof(float));
  tr_matmul_forward(o1, inp, w, b, N, IC, OC, 0.0f);
  tr_matmul_forward(o2, inp, w, b, N, IC, OC, 1.0f);
  for (int i = 0; i < N * OC; i++) cr_assert_float_eq(o2[i], base[i] + o1[i], 1e-5f);
  free(inp), free(w), free(b), free(o1), free(o2), free(base);
}

/* ---- GELU ---- */
typedef struct {
  float *out, *inp, *r;
  size_t n;
} GeluCtx;

static double gelu_loss(void *p) {
  GeluCtx *c = p;
  tr_gelu_forward(c->out, c->inp, c->n);
  return proj(c->out, c->r, c->n);
}

static void gelu_check(void) {
  size_t n = 61;
  GeluCtx c = {zeros(n), zeros(n), randn(n, 1), n};
  for (size_t i = 0; i < n; i++) c.inp[i] = -6.0f + 12.0f * (float)i / (float)(n - 1) + 0.01f;
  float *d = zeros(n), *d2 = zeros(n), *th = zeros(n), *o2 = zeros(n);
  tr_gelu_backward(d, c.r, c.inp, NULL, n);
  check_grad("gelu dinp", c.inp, d, n, gelu_loss, &c, 1e-2f, 1e-2, 1e-3);
  /* the kept-tanh paths give the same bits */
  gelu_loss(&c);
  tr_gelu_forward_tanh(o2, th, c.inp, n);
  tr_gelu_backward(d2, c.r, c.inp, th, n);
  cr_assert(memcmp(o2, c.out, n * sizeof(float)) == 0, "gelu out with/without kept tanh differ");
  cr_assert(memcmp(d2, d, n * sizeof(float)) == 0, "gelu grad with/without kept tanh differ");
  free(d2), free(th), free(o2);
  /* values: the tanh approximation at a few points (torch approximate='tanh') */
  float x[3] = {-1.0f, 0.5f, 2.0f}, y[3];
  tr_gelu_forward(y, x, 3);
  cr_assert_float_eq(y[0], -0.158808f, 2e-6f);
  cr_assert_float_eq(y[1], 0.345714f, 2e-6f);
  cr_assert_float_eq(y[2], 1.954598f, 2e-6f);
  free(c.out), free(c.inp), free(c.r), free(d);
}

Test(tr_ops, gelu_backward_matches_finite_differences) { gelu_check(); }

/* ---- cross-entropy ---- */
typedef struct {
  float *losses, *lse, *logits;
  const int *tg;
  int N, V;
} CeCtx;

static double ce_loss(void *p) {
  CeCtx *c = p;
  tr_crossentropy_forward(c->losses, c->lse, c->logits, c->tg, c->N, c->V);
  double s = 0;
  for (int i = 0; i < c->N; i++) s += c->losses[i];
  return s;
}

static void crossentropy_check(void) {
  int N = 4, V = 19;
  int tg[4] = {0, 18, 5, 5};
  CeCtx c = {zeros(N), zeros(N), randn(N * V, 2), tg, N, V};
  ce_loss(&c);
  float *d = randn(N * V, 1);
  tr_crossentropy_backward(d, c.logits, c.lse, tg, 1.0f, N, V);
  check_grad("ce dlogits", c.logits, d, N * V, ce_loss, &c, 1e-2f, 1e-2, 1e-3);
  ce_loss(&c); /* loss value against a double computation (check_grad left x-h last) */
  for (int n = 0; n < N; n++) {
    double z = 0;
    for (int v = 0; v < V; v++) z += exp(c.logits[n * V + v]);
    double want = log(z) - c.logits[n * V + tg[n]];
    cr_assert_float_eq(c.losses[n], want, 1e-5 * (1 + want), "loss[%d] %.8g, want %.8g", n,
                       (double)c.losses[n], want);
  }
  free(c.losses), free(c.lse), free(c.logits), free(d);
}

Test(tr_ops, crossentropy_backward_matches_finite_differences) { crossentropy_check(); }

/* ---- dropout ---- */
Test(tr_ops, dropout_with_fixed_mask_is_linear_with_the_mask_as_jacobian) {
  size_t n = 1000;
  uint8_t *mask = malloc(n);
  tr_dropout_mask(mask, n, 0.25f, &rng);
  size_t kept = 0;
  for (size_t i = 0; i < n; i++) kept += mask[i];
  cr_assert(kept > 700 && kept < 800, "kept %zu of 1000 at p=0.25", kept);
  float *x = randn(n, 1), *y = zeros(n), *r = randn(n, 1), *dx = zeros(n), *acc = zeros(n);
  float s = 1.0f / 0.75f;
  tr_dropout_apply(y, x, mask, s, n);
  tr_dropout_apply(dx, r, mask, s, n); /* backward: same op on dout */
  /* finite differences are exact for a linear op: check d(sum y*r)/dx_i directly */
  for (size_t i = 0; i < n; i++) {
    float h = 0.5f, save = x[i];
    x[i] = save + h;
    float yp = mask[i] ? x[i] * s : 0.0f;
    x[i] = save;
    double num = ((double)yp - y[i]) * r[i] / h;
    cr_assert_float_eq(dx[i], num, 1e-5 * (1 + fabs(num)), "dropout dx[%zu]", i);
  }
  tr_dropout_add(acc, x, mask, s, n);
  for (size_t i = 0; i < n; i++) cr_assert_float_eq(acc[i], y[i], 0.0f);
  free(mask), free(x), free(y), free(r), free(dx), free(acc);
}

/* ---- whole model: the causal mask holds end to end ---- */
Test(tr_ops, model_changing_a_later_token_does_not_change_earlier_logits) {
  TrModelConfig cfg = {.n_layer = 2, .n_head = 2, .d_model = 8, .context_length = 9, .mlp_ratio = 4,
                       .bias = 1, .dropout = 0.0, .vocab_size = 11};
  TrModel *m;
  cr_assert_eq(tr_model_create(&m, &cfg, 1, NULL), TR_OK);
  tr_model_init(m, &rng);
  int tok[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  int V = 11;
  tr_model_forward(m, tok, NULL, 1, 9, 0, NULL);
  float l1[99];
  memcpy(l1, tr_model_logits(m), sizeof l1);
  tok[6] = 0;
  tr_model_forward(m, tok, NULL, 1, 9, 0, NULL);
  const float *l2 = tr_model_logits(m);
  for (int i = 0; i < 6 * V; i++) cr_assert_eq(l1[i], l2[i], "logit %d (position %d) changed", i, i / V);
  int changed = 0;
  for (int i = 6 * V; i < 9 * V; i++) changed |= l1[i] != l2[i];
  cr_assert(changed, "the changed token did not change its own logits");
  tr_model_destroy(m);
}

/* ---- threads: the same checks on two threads, every kernel on its threaded path ---- */
static void setup_2threads(void) {
  setup();
  openblas_set_num_threads(2);
  tr_par_set_min_work(0);
}

TestSuite(tr_ops_2threads, .init = setup_2threads);

Test(tr_ops_2threads, encoder_backward_matches_finite_differences) { encoder_check(); }
Test(tr_ops_2threads, layernorm_backward_matches_finite_differences) { layernorm_check(1); }
Test(tr_ops_2threads, layernorm_without_bias_backward_matches_finite_differences) { layernorm_check(0); }
Test(tr_ops_2threads, matmul_backward_matches_finite_differences) { matmul_check(); }
Test(tr_ops_2threads, gelu_backward_matches_finite_differences) { gelu_check(); }
Test(tr_ops_2threads, crossentropy_backward_matches_finite_differences) { crossentropy_check(); }

/* Every elementwise kernel on shapes with ragged splits; outputs concatenated in `res`. */
enum { KN = 45, KC = 77, KV = 67, KB = 3, KT = 15, KRES = 2 * KN * KC + 2 * KC + 3 * KN * KV + KN * 2 + 41 * KC };
static void kernels_run(float *res) {
  TrRng r;
  tr_rng_seed(&r, 99);
  float x[KN * KC], w[KC], b[KC], d[KN * KC], mean[KN], rstd[KN], lg[KN * KV];
  int tok[KN], tg[KN];
  for (int i = 0; i < KN * KC; i++) x[i] = 2.0f * (float)tr_rng_normal(&r) + 1.0f, d[i] = (float)tr_rng_normal(&r);
  for (int i = 0; i < KC; i++) w[i] = (float)tr_rng_normal(&r), b[i] = (float)tr_rng_normal(&r);
  for (int i = 0; i < KN * KV; i++) lg[i] = 3.0f * (float)tr_rng_normal(&r);
  for (int i = 0; i < KN; i++) tok[i] = (i * 7) % 40, tg[i] = (i * 5) % KV;
  float *o = res;
  memset(res, 0, KRES * sizeof *res);
  tr_layernorm_forward(o, mean, rstd, x, w, b, KN, KC);
  tr_layernorm_backward(o + KN * KC, o + 2 * KN * KC, o + 2 * KN * KC + KC, d, x, w, mean, rstd, KN, KC);
  o += 2 * KN * KC + 2 * KC;
  tr_gelu_forward(o, lg, KN * KV);
  tr_gelu_backward(o + KN * KV, lg, lg, NULL, KN * KV);
  tr_crossentropy_forward(o + 2 * KN * KV, o + 2 * KN * KV + KN, lg, tg, KN, KV);
  tr_crossentropy_backward(o + 2 * KN * KV + 2 * KN, lg, o + 2 * KN * KV + KN, tg, 0.5f, KN, KV);
  o += 3 * KN * KV + 2 * KN;
  /* encoder backward (repeated tokens) into wte (40, KC) */
  float dwpe[KT * KC];
  memset(dwpe, 0, sizeof dwpe);
  tr_encoder_backward(o, dwpe, d, tok, KB, KT, KC);
  /* bias column sums (dw: (KC, 1), a scratch) */
  float dw[KC], one[KN];
  memset(dw, 0, sizeof dw);
  for (int i = 0; i < KN; i++) one[i] = 1.0f;
  tr_matmul_backward(NULL, dw, o + 40 * KC, d, one, w, KN, 1, KC);
}

Test(tr_ops, two_threads_give_the_bits_of_one_thread) {
  static float r1[KRES], r2[KRES];
  tr_par_set_min_work(0);
  openblas_set_num_threads(1);
  kernels_run(r1);
  openblas_set_num_threads(2);
  kernels_run(r2);
  for (int i = 0; i < KRES; i++) cr_assert(isfinite(r1[i]), "result %d not finite", i);
  cr_assert(memcmp(r1, r2, sizeof r1) == 0, "1 and 2 threads differ");
}

Test(tr_ops, every_cpu_level_of_this_machine_gives_finite_results_close_to_the_baseline) {
  static float base[KRES], res[KRES];
  cr_assert_eq(tr_cpu_force(TR_CPU_BASE), 0);
  kernels_run(base);
  int tried = 0;
  for (int l = TR_CPU_BASE; l < TR_CPU_NLEVELS; l++) {
    if (!tr_cpu_supported((TrCpuLevel)l)) {
      cr_assert_eq(tr_cpu_force((TrCpuLevel)l), -1, "forcing an unsupported level must fail");
      continue;
    }
    cr_assert_eq(tr_cpu_force((TrCpuLevel)l), 0);
    cr_assert_eq(tr_cpu_level(), (TrCpuLevel)l);
    kernels_run(res);
    tried++;
    for (int i = 0; i < KRES; i++)
      cr_assert(isfinite(res[i]) && fabsf(res[i] - base[i]) <= 1e-5f * (1.0f + fabsf(base[i])),
                "%s: result %d is %.9g, baseline %.9g", tr_cpu_level_name((TrCpuLevel)l), i,
                (double)res[i], (double)base[i]);
  }
  cr_assert(tried >= 1);
  if (getenv("CI")) cr_log_info("CPU levels run here: %d", tried);
}

Test(tr_ops, hpsweep_cpu_forces_a_supported_level_and_names_an_unknown_one) {
  /* each Criterion test is a process of its own: the level is chosen here, first */
  setenv("HPSWEEP_CPU", "base", 1);
  cr_assert_eq(tr_cpu_level(), TR_CPU_BASE);
  cr_assert_null(tr_cpu_env_note());
  cr_assert_str_eq(tr_cpu_level_name(TR_CPU_V3), "x86-64-v3");
}

Test(tr_ops, hpsweep_cpu_with_an_unknown_level_is_ignored_with_a_note) {
  setenv("HPSWEEP_CPU", "v9", 1);
  TrCpuLevel best = TR_CPU_BASE;
  for (int l = TR_CPU_V3; l < TR_CPU_NLEVELS; l++)
    if (tr_cpu_supported((TrCpuLevel)l)) best = (TrCpuLevel)l;
  cr_assert_eq(tr_cpu_level(), best);
  cr_assert_not_null(tr_cpu_env_note());
  cr_assert(strstr(tr_cpu_env_note(), "unknown level"));
}

Test(tr_ops, the_loaded_openblas_is_the_openmp_build_when_the_kernels_use_openmp) {
#ifdef _OPENMP
  cr_assert_eq(openblas_get_parallel(), 2, "built with OpenMP but the loaded OpenBLAS is %d (2 = OpenMP)",
               openblas_get_parallel());
  openblas_set_num_threads(2);
  cr_assert_eq(tr_par_threads(), 2);
  cr_assert_eq(omp_get_max_threads(), 2, "OpenBLAS's thread count did not set OpenMP's");
  openblas_set_num_threads(1);
  cr_assert_eq(tr_par_threads(), 1);
#else
  cr_assert_neq(openblas_get_parallel(), 2, "an OpenMP OpenBLAS without OpenMP kernels: two pools");
  cr_assert_eq(tr_par_threads(), 1);
#endif
}
