/*
** tr_run.c: the training loop. Everything random comes from three streams
** derived from train.seed (init, batches, dropout); the batch and dropout
** streams and the optimizer state go into checkpoints, so a resumed run
** continues exactly where it stopped.
*/
#include "tr_run.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tr_alloc.h"
#include "tr_blas.h"
#include "tr_ckpt.h"
#include "tr_core.h"
#include "tr_data.h"
#include "tr_json.h"
#include "tr_mem.h"
#include "tr_model.h"
#include "tr_optim.h"
#include "tr_os.h"
#include "tr_schedule.h"

#define EVAL_SEED 0x5eedULL /* fixed: every run on the same data evaluates the same windows */

const char *tr_run_status_name(int s) {
  switch (s) {
    case TR_RUN_COMPLETED: return "completed";
    case TR_RUN_DIVERGED: return "diverged";
    case TR_RUN_INTERRUPTED: return "interrupted";
    default: return "failed";
  }
}

typedef struct Run {
  const TrConfig *cfg;
  const TrRunHooks *hooks;
  TrRunResult *res;
  TrCore c;                   /* data, model, optimizer, batch and dropout streams */
  int *eval_tokens, *eval_targets; /* (eval_batches, micro, T) */
  float *gscratch;            /* (n_params,) grad snapshot for the noise scale, or NULL */
  double t0, elapsed0;        /* wall clock at start; seconds already spent before a resume */
  int64_t step, tokens_seen;
  double best_train, best_val;
  int64_t best_step;
  int stopped;                /* on_metric asked to stop */
} Run;

static double elapsed(const Run *r) { return r->elapsed0 + tr_clock_mono() - r->t0; }

/* Every metric the loop emits: the one list (specs check metric.name against it). */
enum { M_TRAIN_LOSS, M_LR, M_GRAD_NORM, M_TOKENS_PER_SECOND, M_VAL_LOSS, M_GNS, M_COUNT };
static const char *const metric_names[M_COUNT + 1] = {"train_loss", "lr", "grad_norm", "tokens_per_second",
                                                      "val_loss", "gns", NULL};

const char *const *tr_run_metric_names(void) { return metric_names; }

static void emit(Run *r, int metric, double v) {
  if (!r->hooks || !r->hooks->on_metric) return;
  TrMetric m = {r->step, r->tokens_seen, elapsed(r), metric_names[metric], v};
  if (r->hooks->on_metric(r->hooks->ud, &m)) r->stopped = 1;
}

static void logf_(Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(Run *r, const char *fmt, ...) {
  if (!r->hooks || !r->hooks->on_log) return;
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  r->hooks->on_log(r->hooks->ud, line);
}

static double evaluate(Run *r) {
  double sum = 0;
  int nb = r->cfg->train.eval_batches;
  size_t per = (size_t)r->c.micro * r->c.T;
  for (int i = 0; i < nb; i++)
    sum += tr_model_forward(r->c.model, r->eval_tokens + i * per, r->eval_targets + i * per, r->c.micro, r->c.T, 0,
                            NULL);
  return sum / nb;
}

static int save_checkpoint(Run *r, TrErr *err) {
  const TrConfig *cfg = r->cfg;
  if (!cfg->train.out_dir[0]) return TR_OK;
  char path[TR_PATH_MAX + 32];
  snprintf(path, sizeof path, "%s/ckpt.bin", cfg->train.out_dir);
  size_t nj = tr_config_to_json(cfg, NULL, 0) + 1;
  char *json = tr_malloc(nj);
  size_t nv = tr_vocab_to_bytes(tr_data_vocab(r->c.data), NULL, 0);
  uint8_t *vocab = tr_malloc(nv ? nv : 1);
  if (!json || !vocab) {
    free(json);
    free(vocab);
    return tr_err_set(err, TR_ENOMEM, "out of memory saving a checkpoint");
  }
  tr_config_to_json(cfg, json, nj);
  tr_vocab_to_bytes(tr_data_vocab(r->c.data), vocab, nv);
  TrCkpt c = {0};
  c.config_hash = tr_ckpt_config_hash(cfg);
  c.step = r->step;
  c.tokens = r->tokens_seen;
  c.optim_steps = tr_optim_steps(r->c.optim);
  c.best_step = r->best_step;
  c.best_val_loss = r->best_val;
  c.best_train_loss = r->best_train;
  c.elapsed = elapsed(r);
  c.rng_batch = r->c.rng_batch;
  c.rng_dropout = r->c.rng_dropout;
  c.config_json = json;
  c.vocab = vocab;
  c.n_vocab = nv;
  c.n_params = tr_model_num_params(r->c.model);
  c.params = tr_model_params(r->c.model);
  c.optim = tr_optim_state(r->c.optim, &c.n_optim);
  if (r->hooks && r->hooks->before_checkpoint) r->hooks->before_checkpoint(r->hooks->ud, r->step);
  int rc = tr_ckpt_save(path, &c, err);
  free(json);
  free(vocab);
  if (rc == TR_EIO) r->res->io_failed = 1;
  if (rc == TR_OK) {
    snprintf(r->res->checkpoint, sizeof r->res->checkpoint, "%s", path);
    if (r->hooks && r->hooks->on_checkpoint) r->hooks->on_checkpoint(r->hooks->ud, path, r->step);
  }
  return rc;
}

static int resume(Run *r, const char *path, TrErr *err) {
  TrCkpt c;
  int rc = tr_ckpt_load(path, &c, err);
  if (rc) return rc;
  size_t n_optim = 0;
  float *ostate = tr_optim_state(r->c.optim, &n_optim);
  int pbt = r->hooks && r->hooks->resume_pbt;
  TrConfig ck_cfg;
  if (pbt && tr_ckpt_config(&c, &ck_cfg, err) != TR_OK)
    rc = tr_err_prefix(err, "%s", path);
  else if (pbt ? tr_ckpt_config_hash_pbt(&ck_cfg) != tr_ckpt_config_hash_pbt(r->cfg)
               : c.config_hash != tr_ckpt_config_hash(r->cfg))
    rc = tr_err_set(err, TR_EINVAL,
                    "%s: checkpoint was made with a different config (model, data, optimizer or seed differ)",
                    path);
  else if (c.n_params != tr_model_num_params(r->c.model) || c.n_optim != n_optim)
    rc = tr_err_set(err, TR_EFORMAT, "%s: checkpoint holds %zu parameters, the model has %zu", path, c.n_params,
                    tr_model_num_params(r->c.model));
  if (rc == TR_OK) {
    memcpy(tr_model_params(r->c.model), c.params, c.n_params * sizeof(float));
    memcpy(ostate, c.optim, n_optim * sizeof(float));
    tr_optim_set_steps(r->c.optim, c.optim_steps);
    r->step = c.step;
    r->tokens_seen = c.tokens;
    r->best_val = c.best_val_loss;
    r->best_step = c.best_step;
    r->best_train = c.best_train_loss;
    r->elapsed0 = c.elapsed;
    r->c.rng_batch = c.rng_batch;
    r->c.rng_dropout = c.rng_dropout;
  }
  tr_ckpt_deinit(&c);
  return rc;
}

/* Refuse, before allocating anything, a run that cannot fit in the memory available. */
static int run_memory_check(Run *r, TrErr *err) {
  TrMemEstimate e;
  TrMemAvail av;
  int rc = tr_mem_estimate(r->cfg, 0, &e, err);
  if (rc) return rc;
  r->res->memory_estimate_bytes = e.total;
  tr_mem_available(&av, tr_config_threads(r->cfg));
  char need[256], have[32];
  tr_mem_describe(&e, need, sizeof need);
  tr_mem_format(av.bytes, have, sizeof have);
  logf_(r, "memory: needs %s, %s available (%s)", need, have, av.source);
  rc = tr_mem_check(&e, &av, err);
  if (rc != TR_OK) {
    TrMemAvail lim;
    tr_mem_limit(&lim, tr_config_threads(r->cfg));
    r->res->memory_refused = e.total > lim.bytes ? 2 : 1;
  }
  return rc;
}

static int run_setup(Run *r, TrErr *err) {
  const TrConfig *cfg = r->cfg;
  /* Before any compute: a run must not train for an hour and then fail to save. */
  if (cfg->train.out_dir[0] && tr_mkdirs(cfg->train.out_dir))
    return tr_err_set(err, TR_EIO, "train.out_dir: cannot create '%s': %s", cfg->train.out_dir, strerror(errno));
  int rc = tr_core_setup(&r->c, cfg, err);
  if (rc) return rc;
  size_t per = (size_t)r->c.micro * r->c.T;
  size_t ne = per * (size_t)cfg->train.eval_batches;
  r->eval_tokens = tr_malloc(ne * sizeof(int));
  r->eval_targets = tr_malloc(ne * sizeof(int));
  if (!r->eval_tokens || !r->eval_targets)
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  tr_data_eval_batches(r->c.data, EVAL_SEED, cfg->train.eval_batches, r->c.micro, r->c.T, r->eval_tokens,
                       r->eval_targets);
  if (r->c.n_micro >= 2) {
    r->gscratch = tr_malloc(tr_model_num_params(r->c.model) * sizeof(float));
    if (!r->gscratch) return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  return TR_OK;
}

static void run_teardown(Run *r) {
  tr_core_teardown(&r->c);
  free(r->eval_tokens);
  free(r->eval_targets);
  free(r->gscratch);
}

static int params_finite(TrModel *m) {
  const float *p = tr_model_params(m);
  size_t n = tr_model_num_params(m);
  int ok = 1;
  for (size_t i = 0; i < n; i++) ok &= isfinite(p[i]); /* no early exit: vectorises */
  return ok;
}

static int set_diverged(Run *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int set_diverged(Run *r, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(r->res->reason, sizeof r->res->reason, fmt, ap);
  va_end(ap);
  r->res->status = TR_RUN_DIVERGED;
  return 1;
}

int tr_run(const TrConfig *cfg, const TrRunHooks *hooks, TrRunResult *res, TrErr *err) {
  memset(res, 0, sizeof *res);
  res->best_val_loss = res->final_val_loss = res->final_train_loss = NAN;
  res->status = TR_RUN_FAILED;
  int rc = tr_config_validate(cfg, err);
  if (rc) return rc;

  Run r;
  memset(&r, 0, sizeof r);
  r.cfg = cfg;
  r.hooks = hooks;
  r.res = res;
  r.best_train = r.best_val = INFINITY;
  r.best_step = -1;
  if ((rc = run_memory_check(&r, err))) goto out;
  /* After the check: OpenBLAS's new threads map their buffers at once (tr_mem.h). */
  if ((rc = tr_mem_threads_set(tr_config_threads(cfg), err))) goto out;
  if ((rc = run_setup(&r, err))) goto out;
  if (hooks && hooks->resume_path && (rc = resume(&r, hooks->resume_path, err))) goto out;

  const TrTrainConfig *tc = &cfg->train;
  const size_t np = tr_model_num_params(r.c.model);
  const int64_t total = tr_config_total_steps(cfg);
  const double base_lr = tr_optim_effective_lr(&cfg->optimizer, r.c.B);
  const int64_t tokens_per_step = (int64_t)r.c.B * r.c.T;
  const double flops_tok = tr_model_flops_per_token(r.c.model);
  float *grads = tr_model_grads(r.c.model);
  res->entropy_floor = tr_data_entropy_rate(r.c.data);
  res->n_params = (int64_t)np;
  r.t0 = tr_clock_mono();
  double last_log_t = elapsed(&r);
  int64_t last_log_tokens = r.tokens_seen;
  double train_loss = NAN, val_loss = NAN;
  res->status = TR_RUN_COMPLETED;
  if (hooks && hooks->resume_path)
    logf_(&r, "resumed from %s at step %lld", hooks->resume_path, (long long)r.step);

  for (;;) {
    /* Budgets: whichever comes first. */
    if (tc->max_steps > 0 && r.step >= tc->max_steps) break;
    if (tc->max_tokens > 0 && r.tokens_seen >= tc->max_tokens) break;
    if (tc->max_seconds > 0 && elapsed(&r) >= tc->max_seconds) break;
    if ((hooks && hooks->stop && *hooks->stop) || r.stopped) {
      res->status = TR_RUN_INTERRUPTED;
      snprintf(res->reason, sizeof res->reason, "interrupted at step %lld", (long long)r.step);
      break;
    }
    double lr = tr_schedule_lr(&cfg->schedule, base_lr, r.step, total);
    int eval_now = (r.step + 1) % tc->eval_interval == 0;
    int gns_now = eval_now && r.c.n_micro >= 2;

    /* Forward/backward over the micro-batches; grads accumulate with weight 1/k. */
    double small_sq = 0;
    train_loss = tr_core_forward_backward(&r.c, gns_now ? r.gscratch : NULL, &small_sq);
    double gns = NAN;
    if (gns_now) {
      /* McCandlish et al. 2018, appendix A: unbiased |G|^2 and tr(Sigma) from two batch sizes,
         measured before clipping. */
      double bs = r.c.micro, bb = r.c.B, big_sq = 0;
      for (size_t i = 0; i < np; i++) big_sq += (double)grads[i] * grads[i];
      small_sq /= r.c.n_micro;
      double g2 = (bb * big_sq - bs * small_sq) / (bb - bs);
      double tr_sigma = (small_sq - big_sq) / (1.0 / bs - 1.0 / bb);
      if (g2 > 0 && isfinite(tr_sigma)) gns = tr_sigma / g2;
    }
    double gnorm = tr_grad_clip(grads, np, cfg->optimizer.grad_clip);
    r.step++;
    r.tokens_seen += tokens_per_step;

    if (!isfinite(train_loss) && set_diverged(&r, "loss is %g at step %lld", train_loss, (long long)r.step)) break;
    if (!isfinite(gnorm) && set_diverged(&r, "gradient norm is %g at step %lld", gnorm, (long long)r.step)) break;
    if (r.step > cfg->schedule.warmup_steps && isfinite(r.best_train) &&
        train_loss > tc->divergence_factor * r.best_train &&
        set_diverged(&r, "loss %.4g exceeds %g x best %.4g at step %lld", train_loss, tc->divergence_factor,
                     r.best_train, (long long)r.step))
      break;
    if (train_loss < r.best_train) r.best_train = train_loss;

    tr_optim_step(r.c.optim, tr_model_params(r.c.model), grads, lr);

    int last = (tc->max_steps > 0 && r.step >= tc->max_steps) ||
               (tc->max_tokens > 0 && r.tokens_seen >= tc->max_tokens);
    if (r.step % tc->log_interval == 0 || last || r.step == 1) {
      double t = elapsed(&r);
      double tps = t > last_log_t ? (double)(r.tokens_seen - last_log_tokens) / (t - last_log_t) : 0;
      emit(&r, M_TRAIN_LOSS, train_loss);
      emit(&r, M_LR, lr);
      emit(&r, M_GRAD_NORM, gnorm);
      emit(&r, M_TOKENS_PER_SECOND, tps);
      logf_(&r, "step %6lld | tokens %9lld | loss %.4f | lr %.3e | norm %.3f | %.0f tok/s", (long long)r.step,
            (long long)r.tokens_seen, train_loss, lr, gnorm, tps);
      last_log_t = t;
      last_log_tokens = r.tokens_seen;
    }
    if (eval_now || last) {
      double te = tr_clock_mono();
      val_loss = evaluate(&r);
      if (val_loss < r.best_val) {
        r.best_val = val_loss;
        r.best_step = r.step;
      }
      emit(&r, M_VAL_LOSS, val_loss);
      if (isfinite(gns)) emit(&r, M_GNS, gns);
      logf_(&r, "step %6lld | val loss %.4f | best %.4f", (long long)r.step, val_loss, r.best_val);
      last_log_t += tr_clock_mono() - te; /* evaluation time is not training throughput */
      if (!isfinite(val_loss) && set_diverged(&r, "validation loss is %g at step %lld", val_loss, (long long)r.step))
        break;
    }
    if (tc->checkpoint_interval > 0 && r.step % tc->checkpoint_interval == 0 && !last) {
      if (!params_finite(r.c.model) && set_diverged(&r, "non-finite weights after step %lld", (long long)r.step))
        break;
      if ((rc = save_checkpoint(&r, err))) goto out;
    }
  }

  /* Never save non-finite weights: a diverged run keeps its last good checkpoint. */
  if (res->status != TR_RUN_DIVERGED && !params_finite(r.c.model))
    set_diverged(&r, "non-finite weights after step %lld", (long long)r.step);
  if (res->status != TR_RUN_DIVERGED && (rc = save_checkpoint(&r, err))) goto out;
  res->best_val_loss = isfinite(r.best_val) ? r.best_val : NAN;
  res->best_step = r.best_step;
  res->final_val_loss = val_loss;
  res->final_train_loss = train_loss;
  res->steps = r.step;
  res->tokens = r.tokens_seen;
  res->wall_seconds = elapsed(&r);
  res->tokens_per_second = res->wall_seconds > 0 ? (double)r.tokens_seen / res->wall_seconds : 0;
  res->flops = flops_tok * (double)r.tokens_seen;
out:
  run_teardown(&r);
  if (rc) res->status = TR_RUN_FAILED;
  return rc;
}

size_t tr_run_result_json(const TrRunResult *r, char *buf, size_t n) {
  char bv[32], fv[32], ft[32], ws[32], tps[32], fl[32], ef[32];
  tr_json_number(bv, sizeof bv, r->best_val_loss, 17);
  tr_json_number(fv, sizeof fv, r->final_val_loss, 17);
  tr_json_number(ft, sizeof ft, r->final_train_loss, 17);
  tr_json_number(ws, sizeof ws, r->wall_seconds, 17);
  tr_json_number(tps, sizeof tps, r->tokens_per_second, 17);
  tr_json_number(fl, sizeof fl, r->flops, 17);
  tr_json_number(ef, sizeof ef, r->entropy_floor, 17);
  char reason[sizeof r->reason * 6 + 3]; /* every byte \u00XX at worst, quotes */
  tr_json_quote(reason, sizeof reason, r->reason, 0);
  return (size_t)snprintf(buf, n,
                          "{\"status\": \"%s\", \"best_val_loss\": %s, \"final_val_loss\": %s, "
                          "\"final_train_loss\": %s, \"steps\": %lld, \"tokens\": %lld, \"wall_seconds\": %s, "
                          "\"tokens_per_second\": %s, \"best_step\": %lld, \"flops\": %s, \"n_params\": %lld, "
                          "\"entropy_floor\": %s, \"memory_estimate_bytes\": %llu, \"reason\": %s}",
                          tr_run_status_name(r->status), bv, fv, ft, (long long)r->steps, (long long)r->tokens, ws,
                          tps, (long long)r->best_step, fl, (long long)r->n_params, ef,
                          (unsigned long long)r->memory_estimate_bytes, reason);
}
