/* test_tr_model.c: the whole model: finite differences of the mean loss with
** respect to every parameter, gradient accumulation, determinism, dropout. */
#include "tr_blas.h"
#include "tr_par.h"
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_model.h"
#include "tr_optim.h"
#include "tr_rng.h"

static TrModelConfig tiny(int bias, double dropout) {
  TrModelConfig c = {.n_layer = 2, .n_head = 2, .d_model = 8, .context_length = 5, .mlp_ratio = 4,
                     .bias = bias, .dropout = dropout, .vocab_size = 11};
  return c;
}

static TrModel *make(const TrModelConfig *cfg, int max_batch, uint64_t seed, double std) {
  TrModel *m = NULL;
  TrErr err = {0};
  cr_assert_eq(tr_model_create(&m, cfg, max_batch, &err), TR_OK, "%s", err.msg);
  TrRng r;
  tr_rng_seed(&r, seed);
  tr_model_init(m, &r);
  if (std > 0) { /* larger random weights than GPT-2 init: every gradient matters */
    float *p = tr_model_params(m);
    for (size_t i = 0; i < tr_model_num_params(m); i++)
      p[i] += (float)(std * tr_rng_normal(&r));
  }
  return m;
}

static void batch(int *tok, int *tg, int n, int V, uint64_t seed) {
  TrRng r;
  tr_rng_seed(&r, seed);
  for (int i = 0; i < n; i++) {
    tok[i] = (int)tr_rng_below(&r, V);
    tg[i] = (int)tr_rng_below(&r, V);
  }
}

/* The tensor holding flat index i (for messages). */
static const char *tensor_of(const TrModel *m, size_t i, size_t *local) {
  int n;
  const TrParamTensor *t = tr_model_tensors(m, &n);
  for (int k = 0; k < n; k++)
    if (i >= t[k].offset && i < t[k].offset + t[k].numel) {
      *local = i - t[k].offset;
      return t[k].name;
    }
  return "?";
}

static void whole_model_fd_cfg(TrModelConfig cfg) {
  int bias = cfg.bias;
  double dropout = cfg.dropout;
  int B = 2, T = 5;
  TrModel *m = make(&cfg, B, 7, 0.3);
  int tok[10], tg[10];
  batch(tok, tg, B * T, cfg.vocab_size, 99);
  TrRng drop0;
  tr_rng_seed(&drop0, 5);
  TrRng d = drop0; /* every forward gets the same masks */
  tr_model_zero_grad(m);
  tr_model_forward(m, tok, tg, B, T, 1, &d);
  tr_model_backward(m);
  size_t n = tr_model_num_params(m);
  float *g = malloc(n * sizeof *g), *p = tr_model_params(m);
  memcpy(g, tr_model_grads(m), n * sizeof *g);
  double gmax = 0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(g[i]));
  cr_assert(gmax > 1e-3);
  const float h = 4e-3f;
  int nzero = 0;
  for (size_t i = 0; i < n; i++) {
    float save = p[i];
    p[i] = save + h;
    double xp = p[i];
    d = drop0;
    double lp = tr_model_forward(m, tok, tg, B, T, 1, &d);
    p[i] = save - h;
    double xm = p[i];
    d = drop0;
    double lm = tr_model_forward(m, tok, tg, B, T, 1, &d);
    p[i] = save;
    double num = (lp - lm) / (xp - xm), err = fabs(num - g[i]);
    size_t local;
    const char *name = tensor_of(m, i, &local);
    cr_assert(err <= 3e-2 * fabs(g[i]) + 2e-3 * gmax,
              "bias=%d dropout=%g: grad %s[%zu]: analytic %.7g numeric %.7g (max|grad| %.3g)", bias,
              dropout, name, local, (double)g[i], num, gmax);
    nzero += g[i] == 0.0f;
  }
  /* only embedding rows of tokens absent from the batch may have exactly zero gradient */
  cr_assert(nzero < (int)(n / 10), "%d of %zu gradients are exactly zero", nzero, n);
  free(g);
  tr_model_destroy(m);
}

static void whole_model_fd(int bias, double dropout) { whole_model_fd_cfg(tiny(bias, dropout)); }

/* muP with width multiplier 2 (d_model 8, base 4): attention q.k/d_head, logits / 2 */
static TrModelConfig tiny_mup(int bias, double dropout) {
  TrModelConfig c = tiny(bias, dropout);
  c.parametrization = TR_PARAM_MUP;
  c.mup_base_width = 4;
  return c;
}

Test(tr_model, gradients_match_finite_differences_with_bias) { whole_model_fd(1, 0.0); }
Test(tr_model, mup_gradients_match_finite_differences_with_bias) { whole_model_fd_cfg(tiny_mup(1, 0.0)); }
Test(tr_model, mup_gradients_match_finite_differences_without_bias_with_dropout) {
  whole_model_fd_cfg(tiny_mup(0, 0.2));
}
Test(tr_model, gradients_match_finite_differences_without_bias) { whole_model_fd(0, 0.0); }
Test(tr_model, gradients_match_finite_differences_with_dropout_masks) { whole_model_fd(1, 0.2); }

/* The same on two threads, every elementwise kernel on its threaded path. */
static void setup_2threads(void) {
  openblas_set_num_threads(2);
  tr_par_set_min_work(0);
}

TestSuite(tr_model_2threads, .init = setup_2threads);

Test(tr_model_2threads, gradients_match_finite_differences_with_bias) { whole_model_fd(1, 0.0); }
Test(tr_model_2threads, gradients_match_finite_differences_without_bias) { whole_model_fd(0, 0.0); }
Test(tr_model_2threads, mup_gradients_match_finite_differences_without_bias_with_dropout) {
  whole_model_fd_cfg(tiny_mup(0, 0.2));
}

Test(tr_model, parameter_layout_follows_the_contract_order) {
  TrModelConfig cfg = tiny(1, 0.0);
  TrModel *m = make(&cfg, 1, 1, 0);
  int n;
  const TrParamTensor *t = tr_model_tensors(m, &n);
  const char *want[] = {"wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
                        "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};
  cr_assert_eq(n, 16);
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    cr_assert_str_eq(t[i].name, want[i]);
    cr_assert_eq(t[i].offset, off, "%s offset", t[i].name);
    off += t[i].numel;
  }
  cr_assert_eq(off, tr_model_num_params(m));
  cr_assert_eq(tr_model_tensor_find(m, "qkvw")->numel, 2u * 24 * 8);
  cr_assert_eq(tr_model_tensor_find(m, "fcprojw")->shape[2], 32);
  cr_assert(tr_model_tensor_find(m, "fcw")->is_matrix && tr_model_tensor_find(m, "wpe")->is_matrix &&
            !tr_model_tensor_find(m, "ln1w")->is_matrix && !tr_model_tensor_find(m, "qkvb")->is_matrix);
  tr_model_destroy(m);
  cfg.bias = 0;
  m = make(&cfg, 1, 1, 0);
  cr_assert_eq(tr_model_tensor_find(m, "qkvb")->numel, 0u);
  cr_assert_eq(tr_model_tensor_find(m, "lnfb")->numel, 0u);
  /* 11*8 + 5*8 + 2*(8 + 24*8 + 8*8 + 8 + 32*8 + 8*32) + 8 */
  cr_assert_eq(tr_model_num_params(m), 88u + 40 + 2 * (8 + 192 + 64 + 8 + 256 + 256) + 8);
  tr_model_destroy(m);
}

Test(tr_model, init_follows_gpt2) {
  TrModelConfig cfg = {.n_layer = 4, .n_head = 2, .d_model = 32, .context_length = 16,
                       .mlp_ratio = 4, .bias = 1, .dropout = 0, .vocab_size = 64};
  TrModel *m = make(&cfg, 1, 3, 0);
  const float *p = tr_model_params(m);
  const TrParamTensor *t = tr_model_tensor_find(m, "fcw");
  double s = 0;
  for (size_t i = 0; i < t->numel; i++) s += (double)p[t->offset + i] * p[t->offset + i];
  cr_assert(fabs(sqrt(s / t->numel) - 0.02) < 0.002, "fcw std %g", sqrt(s / t->numel));
  t = tr_model_tensor_find(m, "fcprojw");
  s = 0;
  for (size_t i = 0; i < t->numel; i++) s += (double)p[t->offset + i] * p[t->offset + i];
  double want = 0.02 / sqrt(8.0);
  cr_assert(fabs(sqrt(s / t->numel) - want) < 0.1 * want, "fcprojw std %g", sqrt(s / t->numel));
  t = tr_model_tensor_find(m, "ln2w");
  for (size_t i = 0; i < t->numel; i++) cr_assert_eq(p[t->offset + i], 1.0f);
  t = tr_model_tensor_find(m, "qkvb");
  for (size_t i = 0; i < t->numel; i++) cr_assert_eq(p[t->offset + i], 0.0f);
  /* the initial loss is close to log(V) */
  int tok[16], tg[16];
  batch(tok, tg, 16, 64, 4);
  float loss = tr_model_forward(m, tok, tg, 1, 16, 0, NULL);
  cr_assert(fabs(loss - log(64.0)) < 0.1, "initial loss %g", loss);
  tr_model_destroy(m);
}

/* Root mean square of tensor `name`. */
static double tensor_rms(TrModel *m, const char *name) {
  const TrParamTensor *t = tr_model_tensor_find(m, name);
  const float *p = tr_model_params(m) + t->offset;
  double s = 0;
  for (size_t i = 0; i < t->numel; i++) s += (double)p[i] * p[i];
  return sqrt(s / (double)t->numel);
}

Test(tr_model, mup_init_divides_hidden_std_by_sqrt_width_mult_and_keeps_the_rest) {
  TrModelConfig std_cfg = {.n_layer = 2, .n_head = 2, .d_model = 32, .context_length = 8,
                           .mlp_ratio = 4, .bias = 1, .dropout = 0, .vocab_size = 40};
  TrModelConfig mup_cfg = std_cfg;
  mup_cfg.parametrization = TR_PARAM_MUP;
  mup_cfg.mup_base_width = 8; /* w = 4: hidden std halves, an exact power of two */
  TrModel *a = make(&std_cfg, 1, 11, 0), *b = make(&mup_cfg, 1, 11, 0);
  int n;
  const TrParamTensor *t = tr_model_tensors(a, &n);
  const float *pa = tr_model_params(a), *pb = tr_model_params(b);
  for (int k = 0; k < n; k++) {
    float f = t[k].is_hidden ? 0.5f : 1.0f;
    for (size_t i = 0; i < t[k].numel; i++)
      cr_assert_eq(pb[t[k].offset + i], f * pa[t[k].offset + i], "%s[%zu]", t[k].name, i);
  }
  cr_assert(fabs(tensor_rms(b, "fcw") - 0.01) < 0.001, "fcw std %g", tensor_rms(b, "fcw"));
  cr_assert(fabs(tensor_rms(b, "wte") - 0.02) < 0.002, "wte std %g", tensor_rms(b, "wte"));
  int hidden = 0;
  for (int k = 0; k < n; k++) hidden += t[k].is_hidden;
  cr_assert_eq(hidden, 4, "qkvw, attprojw, fcw, fcprojw");
  tr_model_destroy(a);
  tr_model_destroy(b);
}

/* d_head = 1 makes 1/d_head == 1/sqrt(d_head): then muP differs from standard only by
   the output multiplier, which is exactly 1 at the base width. */
Test(tr_model, mup_at_base_width_with_unit_head_equals_standard_and_output_mult_divides_logits) {
  TrModelConfig s = {.n_layer = 2, .n_head = 8, .d_model = 8, .context_length = 5, .mlp_ratio = 4,
                     .bias = 1, .dropout = 0, .vocab_size = 11};
  TrModelConfig mu = s, mu2 = s;
  mu.parametrization = mu2.parametrization = TR_PARAM_MUP; /* base 0 = d_model: w = 1 */
  mu2.mup_base_width = 4;                                   /* w = 2 */
  cr_assert_eq(tr_model_width_mult(&mu), 1.0);
  cr_assert_eq(tr_model_width_mult(&mu2), 2.0);
  cr_assert_eq(tr_model_width_mult(&s), 1.0);
  TrModel *a = make(&s, 1, 5, 0.3), *b = make(&mu, 1, 5, 0.3), *c = make(&mu2, 1, 5, 0.3);
  size_t np = tr_model_num_params(a);
  memcpy(tr_model_params(c), tr_model_params(a), np * sizeof(float));
  int tok[5], tg[5];
  batch(tok, tg, 5, 11, 3);
  float la = tr_model_forward(a, tok, tg, 1, 5, 0, NULL), lb = tr_model_forward(b, tok, tg, 1, 5, 0, NULL);
  tr_model_forward(c, tok, tg, 1, 5, 0, NULL);
  cr_assert_eq(la, lb);
  const float *ga = tr_model_logits(a), *gc = tr_model_logits(c);
  for (int i = 0; i < 5 * 11; i++) cr_assert_eq(gc[i], 0.5f * ga[i], "logit %d", i);
  tr_model_destroy(a), tr_model_destroy(b), tr_model_destroy(c);
}

Test(tr_model, mup_attention_divides_by_d_head_not_its_root) {
  TrModelConfig s = tiny(1, 0.0), mu = tiny(1, 0.0);
  mu.parametrization = TR_PARAM_MUP;
  cr_assert_float_eq(tr_model_attn_scale(&s), 0.5f, 0.0f); /* d_head 4 */
  cr_assert_float_eq(tr_model_attn_scale(&mu), 0.25f, 0.0f);
  cr_assert_float_eq(tr_model_output_mult(&mu), 1.0f, 0.0f);
  mu.mup_base_width = 16; /* narrower than the base: w = 1/2 */
  cr_assert_float_eq(tr_model_output_mult(&mu), 2.0f, 0.0f);
}

Test(tr_model, mup_lr_multipliers_follow_muadam_and_musgd) {
  TrModelConfig c = tiny(1, 0.0);
  TrModel *m = make(&c, 1, 1, 0);
  int n;
  const TrParamTensor *t = tr_model_tensors(m, &n);
  double lr, wd;
  for (int k = 0; k < n; k++) {
    tr_model_lr_mults(&c, &t[k], TR_OPT_ADAMW, &lr, &wd);
    cr_assert(lr == 1.0 && wd == 1.0, "standard %s: %g %g", t[k].name, lr, wd);
  }
  c.parametrization = TR_PARAM_MUP;
  c.mup_base_width = 2; /* w = 4 */
  const int adam_like[] = {TR_OPT_ADAM, TR_OPT_ADAMW, TR_OPT_RMSPROP, TR_OPT_LION};
  for (int o = 0; o < 4; o++)
    for (int k = 0; k < n; k++) {
      tr_model_lr_mults(&c, &t[k], adam_like[o], &lr, &wd);
      double wl = t[k].is_hidden ? 0.25 : 1.0, ww = t[k].is_hidden ? 4.0 : 1.0;
      cr_assert(lr == wl && wd == ww, "%d %s: lr %g wd %g", adam_like[o], t[k].name, lr, wd);
    }
  for (int k = 0; k < n; k++) {
    tr_model_lr_mults(&c, &t[k], TR_OPT_SGD, &lr, &wd);
    double wl = t[k].is_hidden ? 1.0 : 4.0, ww = t[k].is_hidden ? 1.0 : 0.25;
    cr_assert(lr == wl && wd == ww, "sgd %s: lr %g wd %g", t[k].name, lr, wd);
  }
  tr_model_destroy(m);
}

Test(tr_model, accumulating_micro_batches_with_scale_gives_the_full_batch_gradient) {
  TrModelConfig cfg = tiny(1, 0.0);
  int T = 5, k = 2, mb = 2, B = k * mb;
  TrModel *m = make(&cfg, B, 11, 0.2);
  int tok[20], tg[20];
  batch(tok, tg, B * T, cfg.vocab_size, 12);
  size_t n = tr_model_num_params(m);
  tr_model_zero_grad(m);
  float full_loss = tr_model_forward(m, tok, tg, B, T, 1, NULL);
  tr_model_backward(m);
  float *full = malloc(n * sizeof *full);
  memcpy(full, tr_model_grads(m), n * sizeof *full);
  tr_model_zero_grad(m);
  tr_model_set_grad_scale(m, 1.0f / k);
  double acc_loss = 0;
  for (int i = 0; i < k; i++) {
    acc_loss += tr_model_forward(m, tok + i * mb * T, tg + i * mb * T, mb, T, 1, NULL) / k;
    tr_model_backward(m);
  }
  cr_assert_float_eq(acc_loss, full_loss, 1e-5);
  const float *g = tr_model_grads(m);
  double gmax = 0;
  for (size_t i = 0; i < n; i++) gmax = fmax(gmax, fabs(full[i]));
  for (size_t i = 0; i < n; i++)
    cr_assert(fabs(g[i] - full[i]) <= 1e-4 * fabs(full[i]) + 1e-6 * gmax,
              "grad[%zu]: accumulated %.8g, full batch %.8g", i, (double)g[i], (double)full[i]);
  free(full);
  tr_model_destroy(m);
}

static void run_once(float *loss, float *grads, size_t n) {
  TrModelConfig cfg = tiny(1, 0.1);
  TrModel *m = make(&cfg, 3, 21, 0.0);
  int tok[15], tg[15];
  batch(tok, tg, 15, cfg.vocab_size, 22);
  TrRng d;
  tr_rng_seed(&d, 23);
  tr_model_zero_grad(m);
  *loss = tr_model_forward(m, tok, tg, 3, 5, 1, &d);
  tr_model_backward(m);
  cr_assert_eq(tr_model_num_params(m), n);
  memcpy(grads, tr_model_grads(m), n * sizeof *grads);
  tr_model_destroy(m);
}

Test(tr_model, same_seed_gives_bit_identical_loss_and_gradients) {
  TrModelConfig cfg = tiny(1, 0.1);
  TrModel *m = make(&cfg, 1, 1, 0);
  size_t n = tr_model_num_params(m);
  tr_model_destroy(m);
  float l1, l2, *g1 = malloc(n * sizeof(float)), *g2 = malloc(n * sizeof(float));
  run_once(&l1, g1, n);
  run_once(&l2, g2, n);
  cr_assert(memcmp(&l1, &l2, sizeof l1) == 0, "loss %.9g vs %.9g", l1, l2);
  cr_assert(memcmp(g1, g2, n * sizeof(float)) == 0, "gradients differ");
  free(g1), free(g2);
}

Test(tr_model, two_blas_threads_are_deterministic_too) {
  /* a batch big enough for OpenBLAS to split the matmuls across threads */
  TrModelConfig cfg = {.n_layer = 2, .n_head = 4, .d_model = 64, .context_length = 64,
                       .mlp_ratio = 4, .bias = 1, .dropout = 0.1, .vocab_size = 64};
  int B = 8, saved = openblas_get_num_threads();
  openblas_set_num_threads(2);
  tr_par_set_min_work(0); /* the elementwise kernels split too, at any size */
  float loss[2], *g[2];
  int tok[512], tg[512];
  batch(tok, tg, B * 64, 64, 3);
  for (int k = 0; k < 2; k++) {
    TrModel *m = make(&cfg, B, 31, 0.0);
    TrRng d;
    tr_rng_seed(&d, 32);
    tr_model_zero_grad(m);
    loss[k] = tr_model_forward(m, tok, tg, B, 64, 1, &d);
    tr_model_backward(m);
    size_t n = tr_model_num_params(m);
    g[k] = malloc(n * sizeof(float));
    memcpy(g[k], tr_model_grads(m), n * sizeof(float));
    if (k == 1) cr_assert(memcmp(g[0], g[1], n * sizeof(float)) == 0, "gradients differ");
    tr_model_destroy(m);
  }
  openblas_set_num_threads(saved);
  cr_assert(memcmp(&loss[0], &loss[1], sizeof(float)) == 0);
  free(g[0]), free(g[1]);
}

Test(tr_model, dropout_is_off_at_evaluation_and_on_in_training) {
  TrModelConfig c0 = tiny(1, 0.0), c1 = tiny(1, 0.3);
  TrModel *a = make(&c0, 2, 5, 0.1), *b = make(&c1, 2, 5, 0.1);
  int tok[10], tg[10];
  batch(tok, tg, 10, 11, 6);
  TrRng d;
  tr_rng_seed(&d, 1);
  float la = tr_model_forward(a, tok, tg, 2, 5, 1, &d);
  float lb = tr_model_forward(b, tok, tg, 2, 5, 0, &d);
  cr_assert(memcmp(&la, &lb, sizeof la) == 0, "eval loss with dropout %.9g vs none %.9g", lb, la);
  float lt = tr_model_forward(b, tok, tg, 2, 5, 1, &d);
  cr_assert(lt != la, "training forward with dropout 0.3 gave the eval loss");
  tr_model_destroy(a);
  tr_model_destroy(b);
}

Test(tr_model, create_rejects_bad_shapes_with_a_message) {
  TrModelConfig c = tiny(1, 0.0);
  c.n_head = 3;
  TrModel *m = (TrModel *)1;
  TrErr err = {0};
  cr_assert_eq(tr_model_create(&m, &c, 1, &err), TR_EINVAL);
  cr_assert_null(m);
  cr_assert(strstr(err.msg, "d_model 8") && strstr(err.msg, "n_head 3"), "%s", err.msg);
  c = tiny(1, 1.0);
  cr_assert_eq(tr_model_create(&m, &c, 1, &err), TR_EINVAL);
  cr_assert(strstr(err.msg, "dropout"), "%s", err.msg);
  tr_model_destroy(NULL);
}

Test(tr_model, forward_rejects_out_of_range_batches_and_tokens_with_nan) {
  TrModelConfig cfg = tiny(1, 0.0);
  TrModel *m = make(&cfg, 2, 1, 0);
  int tok[15] = {0}, tg[15] = {0};
  cr_assert(isnan(tr_model_forward(m, tok, tg, 3, 5, 0, NULL)), "B > max_batch");
  cr_assert(isnan(tr_model_forward(m, tok, tg, 1, 6, 0, NULL)), "T > context_length");
  tok[3] = 11;
  cr_assert(isnan(tr_model_forward(m, tok, tg, 1, 5, 0, NULL)), "token == vocab_size");
  tok[3] = 0, tg[4] = -1;
  cr_assert(isnan(tr_model_forward(m, tok, tg, 1, 5, 0, NULL)), "negative target");
  tg[4] = 0;
  cr_assert(isfinite(tr_model_forward(m, tok, tg, 1, 4, 0, NULL)), "T < context_length is fine");
  tr_model_destroy(m);
}

Test(tr_model, flops_per_token_is_6n_plus_attention) {
  TrModelConfig cfg = tiny(1, 0.0);
  TrModel *m = make(&cfg, 1, 1, 0);
  double n = (double)tr_model_num_params(m) - 5 * 8;
  cr_assert_float_eq(tr_model_flops_per_token(m), 6 * n + 12.0 * 2 * 5 * 8, 1e-9);
  tr_model_destroy(m);
}

/* ---- muP coordinate check (Yang et al. 2022, Tensor Programs V, fig. 5) ---- */

enum { COORD_ACTS = 6 };
static const char *const coord_names[COORD_ACTS] = {"qkv", "atty", "fch", "res2", "res3", "logits"};

/* RMS of each activation (layer 1 for the per-layer ones) after `steps` AdamW steps at
   lr on one fixed batch, for a model of width C (4 heads, base width 32 under mup). */
static void coord_rms(int C, int mup, int steps, double lr, double rms[COORD_ACTS]) {
  TrModelConfig cfg = {.n_layer = 2, .n_head = 4, .d_model = C, .context_length = 16, .mlp_ratio = 4,
                       .bias = 1, .dropout = 0, .vocab_size = 32,
                       .parametrization = mup ? TR_PARAM_MUP : TR_PARAM_STANDARD, .mup_base_width = 32};
  const int B = 4, T = 16;
  TrModel *m = make(&cfg, B, 21, 0);
  int nt;
  const TrParamTensor *t = tr_model_tensors(m, &nt);
  TrParamSeg segs[TR_MODEL_NTENSORS] = {{0}};
  for (int i = 0; i < nt; i++) {
    segs[i].offset = t[i].offset, segs[i].numel = t[i].numel, segs[i].is_matrix = t[i].is_matrix;
    tr_model_lr_mults(&cfg, &t[i], TR_OPT_ADAMW, &segs[i].lr_mult, &segs[i].wd_mult);
  }
  TrOptimConfig oc = {.name = TR_OPT_ADAMW, .lr = lr, .betas = {0.9, 0.99}, .eps = 1e-8};
  TrOptim *o = NULL;
  TrErr err = {0};
  cr_assert_eq(tr_optim_create(&o, &oc, tr_model_num_params(m), segs, nt, &err), TR_OK, "%s", err.msg);
  int tok[64], tg[64];
  batch(tok, tg, B * T, 32, 17);
  for (int s = 0; s < steps; s++) {
    tr_model_zero_grad(m);
    tr_model_forward(m, tok, tg, B, T, 1, NULL);
    tr_model_backward(m);
    cr_assert_eq(tr_optim_step(o, tr_model_params(m), tr_model_grads(m), lr), TR_OK);
  }
  tr_model_forward(m, tok, tg, B, T, 0, NULL);
  for (int k = 0; k < COORD_ACTS; k++)
    cr_assert_eq(tr_model_act_rms(m, coord_names[k], 1, &rms[k]), TR_OK, "%s", coord_names[k]);
  tr_optim_destroy(o);
  tr_model_destroy(m);
}

/* Widths 32, 64, 128 after 4 AdamW steps at lr 0.01: under mup every activation's size
   stays within a factor 1.5 across the widths (measured: within 12%); under standard
   each one grows with width, by more than 2x from 32 to 128 (measured: 2.7x for the
   logits to 15x for the residual stream). */
Test(tr_model, coord_check_mup_activations_are_flat_across_widths_standard_ones_grow) {
  const int widths[3] = {32, 64, 128};
  double rms[2][3][COORD_ACTS];
  for (int mup = 0; mup <= 1; mup++)
    for (int w = 0; w < 3; w++) coord_rms(widths[w], mup, 4, 0.01, rms[mup][w]);
  for (int k = 0; k < COORD_ACTS; k++) {
    const double *s0 = &rms[0][0][k], *s2 = &rms[0][2][k];
    double lo = fmin(fmin(rms[1][0][k], rms[1][1][k]), rms[1][2][k]);
    double hi = fmax(fmax(rms[1][0][k], rms[1][1][k]), rms[1][2][k]);
    cr_assert(lo > 0 && hi / lo < 1.5, "mup %s: rms %g %g %g is not flat across widths", coord_names[k],
              rms[1][0][k], rms[1][1][k], rms[1][2][k]);
    cr_assert(*s2 > 2.0 * *s0, "standard %s: rms %g at width 32, %g at 128: expected growth",
              coord_names[k], *s0, *s2);
    cr_assert(rms[0][1][k] > *s0 && *s2 > rms[0][1][k], "standard %s grows monotonically", coord_names[k]);
  }
}

Test(tr_model, act_rms_rejects_unknown_names_layers_and_a_model_never_run) {
  TrModelConfig cfg = tiny(1, 0.0);
  TrModel *m = make(&cfg, 1, 1, 0);
  double r = -1;
  cr_assert_eq(tr_model_act_rms(m, "logits", 0, &r), TR_EINVAL, "no forward yet");
  int tok[5], tg[5];
  batch(tok, tg, 5, 11, 2);
  tr_model_forward(m, tok, tg, 1, 5, 0, NULL);
  cr_assert_eq(tr_model_act_rms(m, "logits", 0, &r), TR_OK);
  const float *lg = tr_model_logits(m);
  double s = 0;
  for (int i = 0; i < 55; i++) s += (double)lg[i] * lg[i];
  cr_assert_float_eq(r, sqrt(s / 55), 1e-12);
  cr_assert_eq(tr_model_act_rms(m, "fch", 2, &r), TR_EINVAL, "2 layers: 0 and 1");
  cr_assert_eq(tr_model_act_rms(m, "fch", -1, &r), TR_EINVAL);
  cr_assert_eq(tr_model_act_rms(m, "mlp", 0, &r), TR_EINVAL);
  tr_model_destroy(m);
}

/* ---- attention paths (tr_attn.h): HPS_ATTN picks one at model creation ---- */

static TrModel *make_on_path(const char *path, const TrModelConfig *cfg, int B) {
  setenv("HPS_ATTN", path, 1);
  TrModel *m = make(cfg, B, 7, 0.3);
  unsetenv("HPS_ATTN");
  return m;
}

static void paths_agree(double dropout) {
  TrModelConfig cfg = {.n_layer = 2, .n_head = 2, .d_model = 32, .context_length = 37, .mlp_ratio = 4,
                       .bias = 1, .dropout = dropout, .vocab_size = 11};
  int B = 2, T = 37, tok[74], tg[74];
  batch(tok, tg, B * T, cfg.vocab_size, 3);
  TrModel *f = make_on_path("fused", &cfg, B), *s = make_on_path("sgemm", &cfg, B);
  TrRng d1, d2;
  tr_rng_seed(&d1, 9);
  d2 = d1;
  tr_model_zero_grad(f), tr_model_zero_grad(s);
  float lf = tr_model_forward(f, tok, tg, B, T, 1, &d1), ls = tr_model_forward(s, tok, tg, B, T, 1, &d2);
  cr_assert(fabsf(lf - ls) <= 1e-5f * fabsf(ls), "dropout %g: loss fused %.8g, sgemm %.8g", dropout, lf, ls);
  tr_model_backward(f), tr_model_backward(s);
  const float *gf = tr_model_grads(f), *gs = tr_model_grads(s);
  double gmax = 0;
  for (size_t i = 0; i < tr_model_num_params(s); i++) gmax = fmax(gmax, fabs(gs[i]));
  for (size_t i = 0; i < tr_model_num_params(s); i++) {
    size_t local;
    cr_assert(fabs(gf[i] - gs[i]) <= 1e-4 * fabs(gs[i]) + 1e-5 * gmax, "dropout %g: grad %s[%zu] fused %.8g, sgemm %.8g",
              dropout, tensor_of(s, i, &local), local, (double)gf[i], (double)gs[i]);
  }
  tr_model_destroy(f), tr_model_destroy(s);
}

Test(tr_model, fused_and_sgemm_attention_give_the_same_loss_and_gradients) {
  paths_agree(0.0);
  paths_agree(0.1);
}

/* Shape S at batch 8: the fused path keeps (L,B,NH,T) log-sum-exps where the sgemm
** path keeps the (L,B,NH,T,T) weights and a (2,T,T) scratch; dropout masks stay. */
Test(tr_model, activation_memory_keeps_row_log_sum_exps_not_the_t_by_t_attention_matrix) {
  for (int drop = 0; drop < 2; drop++) {
    TrModelConfig cfg = {.n_layer = 6, .n_head = 6, .d_model = 384, .context_length = 256, .mlp_ratio = 4,
                         .bias = 1, .dropout = drop ? 0.1 : 0.0, .vocab_size = 256};
    TrModelMemory fused, sgemm;
    setenv("HPS_ATTN", "fused", 1);
    tr_model_memory(&cfg, 8, &fused);
    setenv("HPS_ATTN", "sgemm", 1);
    tr_model_memory(&cfg, 8, &sgemm);
    unsetenv("HPS_ATTN");
    size_t L = 6, B = 8, NH = 6, T = 256;
    size_t saved = (L * B * NH * T * T - L * B * NH * T + 2 * T * T) * sizeof(float);
    cr_assert_eq(sgemm.act_bytes - fused.act_bytes, saved, "dropout %d: %zu - %zu", drop, sgemm.act_bytes,
                 fused.act_bytes);
    TrModel *m = NULL;
    TrErr err = {0};
    cr_assert_eq(tr_model_create(&m, &cfg, 8, &err), TR_OK, "%s", err.msg); /* allocates what it says */
    tr_model_destroy(m);
  }
}
