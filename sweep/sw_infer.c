#include "sw_infer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_blas.h"
#include "tr_data.h"
#include "tr_model.h"
#include "tr_os.h"
#include "tr_sample.h"

static const char *const metric_names[SW_INFER_NMETRICS + 1] = {
    "validity", "distinct_1", "distinct_2", "distinct_3", "rep_4", "mean_length", "loglik",
    "tokens_per_second", NULL};

const char *const *sw_infer_metric_names(int *n) {
  if (n) *n = SW_INFER_NMETRICS;
  return metric_names;
}

int sw_infer_metric_index(const char *name) {
  for (int i = 0; i < SW_INFER_NMETRICS; i++)
    if (!strcmp(metric_names[i], name)) return i;
  return -1;
}

static double metric_at(const SwInferMetrics *m, int i) {
  const double v[SW_INFER_NMETRICS] = {m->validity, m->distinct_1, m->distinct_2, m->distinct_3,
                                       m->rep_4,    m->mean_length, m->loglik,    m->tokens_per_second};
  return v[i];
}

int sw_infer_metric_value(const SwInferMetrics *m, const char *name, double *value) {
  int i = sw_infer_metric_index(name);
  if (i < 0) return TR_ENOTFOUND;
  *value = metric_at(m, i);
  return TR_OK;
}

/* ---- n-gram statistics ---------------------------------------------------------- */

/* One n-gram occurrence: the sample it is in, its tokens (padded with -1), its position. */
typedef struct Gram {
  int sample, pos;
  int t[4];
} Gram;

static int cmp_tokens(const Gram *a, const Gram *b) {
  for (int k = 0; k < 4; k++)
    if (a->t[k] != b->t[k]) return a->t[k] < b->t[k] ? -1 : 1;
  return 0;
}

static int by_tokens(const void *pa, const void *pb) { return cmp_tokens(pa, pb); }

/* (sample, tokens, position): groups a sample's occurrences of one n-gram, first one first. */
static int by_sample_tokens_pos(const void *pa, const void *pb) {
  const Gram *a = pa, *b = pb;
  if (a->sample != b->sample) return a->sample < b->sample ? -1 : 1;
  int c = cmp_tokens(a, b);
  if (c) return c;
  return (a->pos > b->pos) - (a->pos < b->pos);
}

/* Fill g with every n-gram of every sample; returns the count. */
static size_t collect(Gram *g, const int *toks, const int *len, int n_samples, int stride, int n) {
  size_t k = 0;
  for (int s = 0; s < n_samples; s++)
    for (int i = 0; i + n <= len[s]; i++, k++) {
      g[k].sample = s;
      g[k].pos = i;
      for (int j = 0; j < 4; j++) g[k].t[j] = j < n ? toks[(size_t)s * stride + i + j] : -1;
    }
  return k;
}

static double distinct(Gram *g, const int *toks, const int *len, int n_samples, int stride, int n) {
  size_t k = collect(g, toks, len, n_samples, stride, n);
  if (!k) return NAN;
  qsort(g, k, sizeof *g, by_tokens);
  size_t u = 1;
  for (size_t i = 1; i < k; i++) u += cmp_tokens(&g[i], &g[i - 1]) != 0;
  return (double)u / (double)k;
}

static double repeated(Gram *g, const int *toks, const int *len, int n_samples, int stride, int n) {
  size_t k = collect(g, toks, len, n_samples, stride, n);
  if (!k) return NAN;
  qsort(g, k, sizeof *g, by_sample_tokens_pos);
  size_t r = 0;
  for (size_t i = 1; i < k; i++) r += g[i].sample == g[i - 1].sample && cmp_tokens(&g[i], &g[i - 1]) == 0;
  return (double)r / (double)k;
}

int sw_infer_text_stats(const int *tokens, const int *lens, int n_samples, int stride, SwInferMetrics *m) {
  size_t total = 0;
  for (int s = 0; s < n_samples; s++) total += (size_t)lens[s];
  Gram *g = malloc((total ? total : 1) * sizeof *g);
  if (!g) return TR_ENOMEM;
  m->distinct_1 = distinct(g, tokens, lens, n_samples, stride, 1);
  m->distinct_2 = distinct(g, tokens, lens, n_samples, stride, 2);
  m->distinct_3 = distinct(g, tokens, lens, n_samples, stride, 3);
  m->rep_4 = repeated(g, tokens, lens, n_samples, stride, 4);
  m->mean_length = n_samples ? (double)total / n_samples : NAN;
  free(g);
  return TR_OK;
}

/* ---- the trial ------------------------------------------------------------------- */

static int same_vocab(const TrVocab *a, const TrVocab *b) {
  size_t na = tr_vocab_to_bytes(a, NULL, 0), nb = tr_vocab_to_bytes(b, NULL, 0);
  if (na != nb) return 0;
  unsigned char *x = malloc(na), *y = malloc(nb);
  int same = x && y;
  if (same) {
    tr_vocab_to_bytes(a, x, na);
    tr_vocab_to_bytes(b, y, nb);
    same = memcmp(x, y, na) == 0;
  }
  free(x);
  free(y);
  return same;
}

static void result_init(TrRunResult *res) {
  memset(res, 0, sizeof *res);
  res->status = TR_RUN_FAILED;
  res->best_val_loss = res->final_val_loss = res->final_train_loss = NAN;
  res->entropy_floor = NAN;
}

int sw_infer_run(const TrConfig *trial_cfg, const char *checkpoint, const TrRunHooks *hooks,
                 TrRunResult *res, SwInferMetrics *metrics, TrErr *err) {
  static const TrRunHooks no_hooks;
  if (!hooks) hooks = &no_hooks;
  result_init(res);
  SwInferMetrics mloc;
  SwInferMetrics *mt = metrics ? metrics : &mloc;
  memset(mt, 0, sizeof *mt);
  mt->validity = mt->distinct_1 = mt->distinct_2 = mt->distinct_3 = mt->rep_4 = NAN;
  mt->mean_length = mt->loglik = mt->tokens_per_second = NAN;
  const double t_start = tr_clock_mono();

  TrConfig cfg;
  TrModel *m = NULL;
  TrVocab *vocab = NULL;
  TrData *data = NULL;
  TrSampler *smp = NULL;
  int *toks = NULL, *len = NULL, *prompts = NULL;
  char *text = NULL;
  int rc = tr_sample_load(checkpoint, &cfg, &m, &vocab, err);
  if (rc) goto done;
  cfg.sample = trial_cfg->sample;
  if ((rc = tr_config_validate(&cfg, err))) goto done;
  if ((rc = tr_data_create(&data, &cfg.data, cfg.model.context_length, err))) {
    tr_err_prefix(err, "%s: rebuilding its data", checkpoint);
    goto done;
  }
  if (!same_vocab(vocab, tr_data_vocab(data))) {
    rc = tr_err_set(err, TR_EFORMAT, "%s: the data %s no longer has the checkpoint's vocabulary",
                    checkpoint, tr_data_name(data));
    goto done;
  }
  if ((rc = tr_sampler_create(&smp, m, err))) goto done;
  const TrSampleConfig *s = &cfg.sample;
  size_t n_val = tr_data_split_size(data, TR_SPLIT_VAL);
  if ((size_t)s->prompt_tokens > n_val) {
    rc = tr_err_set(err, TR_EINVAL, "sample.prompt_tokens: %d is more than the %zu validation tokens",
                    s->prompt_tokens, n_val);
    goto done;
  }
  const int NP = s->n_prompts, NS = s->n_samples, MT = s->max_tokens, PT = s->prompt_tokens;
  const int total = NP * NS;
  if ((int64_t)NP * NS > 1 << 24 || (int64_t)total * MT > (int64_t)1 << 28) {
    rc = tr_err_set(err, TR_EINVAL, "sample: %d prompts x %d samples x %d tokens is too much for one trial",
                    NP, NS, MT);
    goto done;
  }
  toks = malloc((size_t)total * MT * sizeof *toks);
  len = calloc((size_t)total, sizeof *len);
  prompts = malloc((size_t)NP * PT * sizeof *prompts);
  text = malloc((size_t)MT * 4 + 1);
  if (!toks || !len || !prompts || !text) {
    rc = tr_err_set(err, TR_ENOMEM, "sample: out of memory (%d samples of %d tokens)", total, MT);
    goto done;
  }
  TrRng pr;
  tr_rng_seed(&pr, SW_INFER_PROMPT_SEED);
  for (int i = 0; i < NP; i++) {
    size_t at = (size_t)tr_rng_below(&pr, n_val - (size_t)PT + 1);
    tr_data_tokens_copy(data, TR_SPLIT_VAL, at, (size_t)PT, prompts + (size_t)i * PT);
  }
  openblas_set_num_threads(tr_config_threads(trial_cfg));

  /* generate */
  const double t_gen = tr_clock_mono();
  double logprob = 0.0, valid = 0.0;
  int64_t units = 0, ntok = 0;
  int interrupted = 0;
  for (int i = 0; i < NP && !interrupted; i++)
    for (int j = 0; j < NS; j++) {
      if (hooks->stop && *hooks->stop) {
        interrupted = 1;
        break;
      }
      int k = i * NS + j;
      TrRng r;
      tr_rng_seed2(&r, (uint64_t)s->seed, (uint64_t)k);
      TrSampleOut so;
      int *out = toks + (size_t)k * MT;
      if ((rc = tr_sample_generate(smp, s, vocab, prompts + (size_t)i * PT, PT, 0, MT, &r, out, NULL,
                                   NULL, &so, err)))
        goto done;
      len[k] = so.n_tokens;
      ntok += so.n_tokens;
      logprob += so.logprob_sum;
      size_t tl = tr_vocab_decode(vocab, out, (size_t)so.n_tokens, text, (size_t)MT * 4);
      int nu = 0;
      double f = tr_data_valid_fraction(data, text, tl, &nu);
      if (nu > 0) {
        valid += f * nu;
        units += nu;
      }
    }
  const double gen_seconds = tr_clock_mono() - t_gen;
  int done_samples = 0;
  for (int k = 0; k < total; k++) done_samples += len[k] > 0;

  /* measure */
  mt->samples = done_samples;
  mt->tokens = ntok;
  mt->valid_units = units;
  mt->validity = units ? valid / (double)units : 0.0; /* no finished unit: no valid text */
  if ((rc = sw_infer_text_stats(toks, len, done_samples, MT, mt))) {
    tr_err_set(err, rc, "sample: out of memory (n-gram statistics)");
    goto done;
  }
  mt->loglik = ntok ? logprob / (double)ntok : NAN;
  mt->tokens_per_second = gen_seconds > 0 ? (double)ntok / gen_seconds : NAN;

  res->status = interrupted ? TR_RUN_INTERRUPTED : TR_RUN_COMPLETED;
  res->tokens = ntok;
  res->tokens_per_second = mt->tokens_per_second;
  res->n_params = (int64_t)tr_model_num_params(m);
  res->entropy_floor = tr_data_entropy_rate(data);
  res->wall_seconds = tr_clock_mono() - t_start;
  if (interrupted) snprintf(res->reason, sizeof res->reason, "stopped after %d of %d samples", done_samples, total);
  if (hooks->on_log) {
    char line[512];
    snprintf(line, sizeof line,
             "%d samples, %lld tokens (%.0f tokens/s): validity %.4f distinct-2 %.4f rep-4 %.4f "
             "loglik %.4f mean length %.1f",
             done_samples, (long long)ntok, mt->tokens_per_second, mt->validity, mt->distinct_2, mt->rep_4,
             mt->loglik, mt->mean_length);
    hooks->on_log(hooks->ud, line);
  }
  if (hooks->on_metric)
    for (int i = 0; i < SW_INFER_NMETRICS; i++) {
      TrMetric row = {0, ntok, res->wall_seconds, metric_names[i], metric_at(mt, i)};
      if (hooks->on_metric(hooks->ud, &row)) {
        res->status = TR_RUN_INTERRUPTED;
        if (!res->reason[0]) snprintf(res->reason, sizeof res->reason, "on_metric asked to stop");
        break;
      }
    }
  rc = TR_OK;
done:
  if (rc) res->wall_seconds = tr_clock_mono() - t_start;
  free(toks);
  free(len);
  free(prompts);
  free(text);
  tr_sampler_destroy(smp);
  tr_data_destroy(data);
  tr_model_destroy(m);
  tr_vocab_destroy(vocab);
  return rc;
}
