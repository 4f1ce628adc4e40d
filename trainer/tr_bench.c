#include "tr_bench.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tr_alloc.h"
#include "tr_blas.h"
#include "tr_mem.h"
#include "tr_model.h"
#include "tr_optim.h"
#include "tr_os.h"
#include "tr_rng.h"
#include "tr_sample.h"
#include "tr_sort.h"

static double median(double *x, int n) {
  tr_sort(x, (size_t)n, sizeof *x, tr_cmp_double);
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
  if (tr_mem_threads_set(threads, NULL)) return 0.0;
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
  if ((rc = tr_mem_threads_set(threads, err))) return rc;
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
  TrModelMemory mm;
  tr_model_memory(&cfg, B, &mm);
  res->params_mb = (double)mm.params_bytes / (1 << 20);
  res->act_mb = (double)mm.act_bytes / (1 << 20);
  free(tok), free(tg), free(times);
  tr_optim_destroy(opt);
  tr_model_destroy(m);
  return TR_OK;
}

/* This process's VmRSS in MB from /proc/self/status; 0 if unreadable. */
static double rss_now_mb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0.0;
  while (f && fgets(line, sizeof line, f))
    if (sscanf(line, "VmRSS: %lf kB", &kb) == 1) break;
  if (f) fclose(f);
  return kb / 1024.0;
}

/* What a forked child computes: fn(ctx, out) fills `size` bytes of out; 0 = ok. */
typedef int (*ChildFn)(void *ctx, void *out);

/* Run fn in a forked child; its `size`-byte result comes back through a pipe and
** *maxrss_kb gets the child's ru_maxrss. 0; 1 when fn failed (its error is in
** out); -1 with a reason in err when fork, the pipe or the child failed. */
static int run_forked(ChildFn fn, void *ctx, void *out, size_t size, long *maxrss_kb, TrErr *err) {
  int fd[2];
  if (pipe(fd)) return tr_err_set(err, TR_EIO, "bench: pipe: %s", strerror(errno)), -1;
  fflush(NULL); /* the child must not write the parent's buffered output again */
  pid_t pid = fork();
  if (pid < 0) {
    close(fd[0]), close(fd[1]);
    return tr_err_set(err, TR_EIO, "bench: fork: %s", strerror(errno)), -1;
  }
  if (pid == 0) {
    close(fd[0]);
    int rc = fn(ctx, out);
    size_t done = 0;
    while (done < size) {
      ssize_t w = write(fd[1], (char *)out + done, size - done);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) _exit(3);
      done += (size_t)w;
    }
    _exit(rc ? 2 : 0);
  }
  close(fd[1]);
  size_t got = 0;
  while (got < size) {
    ssize_t r = read(fd[0], (char *)out + got, size - got);
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) break;
    got += (size_t)r;
  }
  close(fd[0]);
  int st = 0;
  struct rusage ru = {0};
  while (wait4(pid, &st, 0, &ru) < 0 && errno == EINTR) {
  }
  *maxrss_kb = ru.ru_maxrss;
  if (got == size && WIFEXITED(st) && WEXITSTATUS(st) == 0) return 0;
  if (got == size && WIFEXITED(st) && WEXITSTATUS(st) == 2) return 1; /* fn's own error, in out */
  tr_err_set(err, TR_EIO, "bench: the child process failed (%s %d)", WIFSIGNALED(st) ? "signal" : "exit status",
             WIFSIGNALED(st) ? WTERMSIG(st) : WEXITSTATUS(st));
  return -1;
}

typedef struct TrainJob {
  const char *name;
  int threads, steps;
} TrainJob;

typedef struct TrainOut {
  TrBenchResult res;
  TrErr err;
  int rc;
} TrainOut;

static int train_child(void *ctx, void *out) {
  const TrainJob *j = ctx;
  TrainOut *o = out;
  memset(o, 0, sizeof *o);
  double base = rss_now_mb();
  o->rc = tr_bench_train(j->name, j->threads, j->steps, &o->res, &o->err);
  o->res.base_rss_mb = base;
  return o->rc;
}

int tr_bench_train_forked(const char *name, int threads, int steps, TrBenchResult *res, TrErr *err) {
  TrainJob j = {name, threads, steps};
  TrainOut o;
  long kb = 0;
  int rc = run_forked(train_child, &j, &o, sizeof o, &kb, err);
  if (rc < 0) return TR_EIO;
  if (rc > 0) {
    if (err) *err = o.err;
    return o.rc;
  }
  *res = o.res;
  res->peak_rss_mb = kb / 1024.0;
  return TR_OK;
}

typedef struct SgemmJob {
  int threads, n, reps;
} SgemmJob;

static int sgemm_child(void *ctx, void *out) {
  const SgemmJob *j = ctx;
  *(double *)out = tr_bench_sgemm(j->threads, j->n, j->reps);
  return 0;
}

double tr_bench_sgemm_forked(int threads, int n, int reps) {
  SgemmJob j = {threads, n, reps};
  double g = 0.0;
  long kb = 0;
  return run_forked(sgemm_child, &j, &g, sizeof g, &kb, NULL) == 0 ? g : 0.0;
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
  if ((rc = tr_mem_threads_set(threads, err))) return rc;
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
