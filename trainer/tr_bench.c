#include "tr_bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_blas.h"
#include "tr_model.h"
#include "tr_optim.h"
#include "tr_os.h"
#include "tr_rng.h"
#include "tr_sample.h"

static int cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}

static double median(double *x, int n) {
  qsort(x, (size_t)n, sizeof *x, cmp_double);
  return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

int tr_bench_shape(const char *name, TrModelConfig *cfg, int *batch, TrErr *err) {
  memset(cfg, 0, sizeof *cfg);
  cfg->vocab_size = 256;
  cfg->mlp_ratio = 4;
  cfg->bias = 1;
  cfg->dropout = 0.0;
  if (strcmp(name, "T") == 0) {
    cfg->context_length = 64, cfg->n_layer = 4, cfg->n_head = 4, cfg->d_model = 128, *batch = 16;
  } else if (strcmp(name, "S") == 0) {
    cfg->context_length = 256, cfg->n_layer = 6, cfg->n_head = 6, cfg->d_model = 384, *batch = 8;
  } else {
    return tr_err_set(err, TR_EINVAL, "bench: unknown model '%s' (expected T or S)", name);
  }
  return TR_OK;
}

double tr_bench_sgemm(int threads, int n, int reps) {
  openblas_set_num_threads(threads);
  size_t nn = (size_t)n * n;
  float *a = tr_malloc(nn * sizeof *a), *b = tr_malloc(nn * sizeof *b), *c = tr_malloc(nn * sizeof *c);
  double *t = tr_malloc((size_t)reps * sizeof *t), g = 0.0;
  if (a && b && c && t) {
    TrRng r;
    tr_rng_seed(&r, 1);
    for (size_t i = 0; i < nn; i++) {
      a[i] = tr_rng_uniformf(&r) - 0.5f;
      b[i] = tr_rng_uniformf(&r) - 0.5f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
    for (int i = 0; i < reps; i++) {
      double t0 = tr_clock_mono();
      cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
      t[i] = tr_clock_mono() - t0;
    }
    g = 2.0 * n * (double)nn / median(t, reps) / 1e9;
  }
  free(a), free(b), free(c), free(t);
  return g;
}

int tr_bench_train(const char *name, int threads, int steps, TrBenchResult *res, TrErr *err) {
  TrModelConfig cfg;
  int B;
  int rc = tr_bench_shape(name, &cfg, &B, err);
  if (rc) return rc;
  if (steps < 1) return tr_err_set(err, TR_EINVAL, "bench: steps %d must be >= 1", steps);
  openblas_set_num_threads(threads);
  TrModel *m = NULL;
  rc = tr_model_create(&m, &cfg, B, err);
  if (rc) return rc;
  int T = cfg.context_length;
  size_t n = tr_model_num_params(m);
  /* the training loop's update: AdamW (decay on matrices) after clipping to norm 1 */
  TrConfig defaults;
  tr_config_defaults(&defaults);
  TrOptimConfig oc = defaults.optimizer;
  oc.name = TR_OPT_ADAMW;
  oc.weight_decay = 0.1;
  oc.weight_decay_on = TR_WD_MATRICES;
  TrParamSeg segs[TR_MODEL_NTENSORS] = {{0}};
  int nt;
  const TrParamTensor *pt = tr_model_tensors(m, &nt);
  for (int i = 0; i < nt; i++) {
    segs[i].offset = pt[i].offset;
    segs[i].numel = pt[i].numel;
    segs[i].is_matrix = pt[i].is_matrix;
  }
  TrOptim *opt = NULL;
  rc = tr_optim_create(&opt, &oc, n, segs, nt, err);
  if (rc) {
    tr_model_destroy(m);
    return rc;
  }
  int *tok = tr_malloc((size_t)B * T * sizeof *tok), *tg = tr_malloc((size_t)B * T * sizeof *tg);
  double *times = tr_malloc((size_t)steps * sizeof *times);
  if (!tok || !tg || !times) {
    free(tok), free(tg), free(times);
    tr_optim_destroy(opt);
    tr_model_destroy(m);
    return tr_err_set(err, TR_ENOMEM, "bench: out of memory");
  }
  TrRng r;
  tr_rng_seed(&r, 42);
  tr_model_init(m, &r);
  for (int i = 0; i < B * T; i++) {
    tok[i] = (int)tr_rng_below(&r, 256);
    tg[i] = (int)tr_rng_below(&r, 256);
  }
  float loss = 0.0f;
  for (int s = 0; s < steps + 2; s++) { /* 2 warm-up steps */
    double t0 = tr_clock_mono();
    tr_model_zero_grad(m);
    loss = tr_model_forward(m, tok, tg, B, T, 1, NULL);
    tr_model_backward(m);
    tr_grad_clip(tr_model_grads(m), n, 1.0);
    tr_optim_step(opt, tr_model_params(m), tr_model_grads(m), 1e-4);
    if (s >= 2) times[s - 2] = tr_clock_mono() - t0;
  }
  memset(res, 0, sizeof *res);
  snprintf(res->model, sizeof res->model, "%s", name);
  res->threads = threads;
  res->steps = steps;
  res->batch = B;
  res->context = T;
  double mn = times[0];
  for (int i = 1; i < steps; i++) mn = times[i] < mn ? times[i] : mn;
  res->step_ms_min = mn * 1e3;
  double med = median(times, steps);
  res->step_ms = med * 1e3;
  res->tokens_per_s = (double)B * T / med;
  res->flops_per_token = tr_model_flops_per_token(m);
  res->loss = loss;
  free(tok), free(tg), free(times);
  tr_optim_destroy(opt);
  tr_model_destroy(m);
  return TR_OK;
}

/* Generate n tokens after `prompt` by a full forward of the last <= T tokens per
** token; the time in *wall and *cpu. */
static int full_recompute(TrModel *m, const TrSampleConfig *s, int prompt, int n, double *wall, double *cpu,
                          TrErr *err) {
  int T = tr_model_config(m)->context_length, V = tr_model_config(m)->vocab_size;
  int *seq = tr_malloc(((size_t)n + 1) * sizeof *seq);
  double *probs = tr_malloc((size_t)V * sizeof *probs);
  if (!seq || !probs) {
    free(seq), free(probs);
    return tr_err_set(err, TR_ENOMEM, "bench: out of memory");
  }
  TrRng r;
  tr_rng_seed(&r, 2);
  seq[0] = prompt;
  double w0 = tr_clock_mono(), c0 = tr_clock_cpu();
  for (int i = 0; i < n; i++) {
    int len = i + 1, from = len > T ? len - T : 0;
    tr_model_forward(m, seq + from, NULL, 1, len - from, 0, NULL);
    seq[i + 1] = tr_sample_next(s, tr_model_logits(m) + (size_t)(len - from - 1) * V, V, NULL, probs, &r);
  }
  *wall = tr_clock_mono() - w0, *cpu = tr_clock_cpu() - c0;
  free(seq), free(probs);
  return TR_OK;
}

int tr_bench_sample(const char *name, int threads, int full_cap, TrSampleBenchResult *res, TrErr *err) {
  TrModelConfig mc;
  int B;
  int rc = tr_bench_shape(name, &mc, &B, err);
  if (rc) return rc;
  if (full_cap < 1) return tr_err_set(err, TR_EINVAL, "bench: full_cap %d must be >= 1", full_cap);
  openblas_set_num_threads(threads);
  TrModel *m = NULL;
  TrSampler *smp = NULL;
  if ((rc = tr_model_create(&m, &mc, 1, err)) || (rc = tr_sampler_create(&smp, m, err))) {
    tr_model_destroy(m);
    return rc;
  }
  TrRng r;
  tr_rng_seed(&r, 1);
  tr_model_init(m, &r);
  TrConfig cfg;
  tr_config_defaults(&cfg);
  TrSampleConfig s = cfg.sample;
  s.temperature = 1.0;
  int prompt = 10, n_gen = 2 * mc.context_length;
  memset(res, 0, sizeof *res);
  res->params = tr_model_num_params(m);
  res->context = mc.context_length;
  TrSampleOut so;
  tr_rng_seed(&r, 2);
  double w0 = tr_clock_mono(), c0 = tr_clock_cpu();
  rc = tr_sample_generate(smp, &s, NULL, &prompt, 1, 10, n_gen, &r, NULL, NULL, NULL, &so, err);
  res->kv_wall = tr_clock_mono() - w0, res->kv_cpu = tr_clock_cpu() - c0;
  res->kv_tokens = so.n_tokens;
  res->full_tokens = n_gen < full_cap ? n_gen : full_cap;
  if (!rc) rc = full_recompute(m, &s, prompt, res->full_tokens, &res->full_wall, &res->full_cpu, err);
  tr_sampler_destroy(smp);
  tr_model_destroy(m);
  return rc;
}
