#include "sw_infer.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_blas.h"
#include "tr_data.h"
#include "tr_mem.h"
#include "tr_model.h"
#include "tr_os.h"
#include "tr_sample.h"
#include "tr_sort.h"

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
  tr_sort(g, k, sizeof *g, by_tokens);
  size_t u = 1;
  for (size_t i = 1; i < k; i++) u += cmp_tokens(&g[i], &g[i - 1]) != 0;
  return (double)u / (double)k;
}

static double repeated(Gram *g, const int *toks, const int *len, int n_samples, int stride, int n) {
  size_t k = collect(g, toks, len, n_samples, stride, n);
  if (!k) return NAN;
  tr_sort(g, k, sizeof *g, by_sample_tokens_pos);
  size_t r = 0;
  for (size_t i = 1; i < k; i++) r += g[i].sample == g[i - 1].sample && cmp_tokens(&g[i], &g[i - 1]) == 0;
  return (double)r / (double)k;
}

int sw_infer_text_stats(const int *tokens, const int *lens, int n_samples, int stride, SwInferMetrics *m) {
  size_t total = 0;
  for (int s = 0; s < n_samples; s++) total += (size_t)lens[s];
  Gram *g = tr_malloc((total ? total : 1) * sizeof *g);
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
  unsigned char *x = tr_malloc(na), *y = tr_malloc(nb);
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

/* One inference trial: what the checkpoint rebuilds, the buffers, the generation tallies. */
typedef struct Infer {
  TrConfig cfg;               /* the checkpoint's, with the trial's sample.* */
  TrModel *m;
  TrVocab *vocab;
  TrData *data;
  TrSampler *smp;
  int *toks, *len, *prompts;  /* (total x MT) generated, (total) lengths, (NP x PT) prompts */
  char *text;                 /* one decoded sample */
  int NP, NS, MT, PT, total;  /* prompts, samples per prompt, max tokens, prompt tokens, NP * NS */
  size_t n_val;               /* validation tokens */
  double logprob, valid;      /* sums over generated tokens, over judged units */
  int64_t units, ntok;
  int interrupted;
} Infer;

/* Model, vocabulary, data and sampler from the checkpoint, with the trial's sample settings. */
static int infer_load(Infer *in, const TrConfig *trial_cfg, const char *checkpoint, TrErr *err) {
  int rc = tr_sample_load(checkpoint, &in->cfg, &in->m, &in->vocab, err);
  if (rc) return rc;
  in->cfg.sample = trial_cfg->sample;
  if ((rc = tr_config_validate(&in->cfg, err))) return rc;
  if ((rc = tr_data_create(&in->data, &in->cfg.data, in->cfg.model.context_length, err))) {
    tr_err_prefix(err, "%s: rebuilding its data", checkpoint);
    return rc;
  }
  if (!same_vocab(in->vocab, tr_data_vocab(in->data)))
    return tr_err_set(err, TR_EFORMAT, "%s: the data %s no longer has the checkpoint's vocabulary", checkpoint,
                      tr_data_name(in->data));
  return tr_sampler_create(&in->smp, in->m, err);
}

/* The sizes checked, the buffers allocated and the prompts drawn (see the contract). */
static int infer_prompts(Infer *in, TrErr *err) {
  const TrSampleConfig *s = &in->cfg.sample;
  in->n_val = tr_data_split_size(in->data, TR_SPLIT_VAL);
  if ((size_t)s->prompt_tokens > in->n_val)
    return tr_err_set(err, TR_EINVAL, "sample.prompt_tokens: %d is more than the %zu validation tokens",
                      s->prompt_tokens, in->n_val);
  const int NP = in->NP = s->n_prompts, NS = in->NS = s->n_samples, MT = in->MT = s->max_tokens;
  const int PT = in->PT = s->prompt_tokens;
  const int total = in->total = NP * NS;
  if ((int64_t)NP * NS > 1 << 24 || (int64_t)total * MT > (int64_t)1 << 28)
    return tr_err_set(err, TR_EINVAL, "sample: %d prompts x %d samples x %d tokens is too much for one trial",
                      NP, NS, MT);
  in->toks = tr_malloc((size_t)total * MT * sizeof *in->toks);
  in->len = tr_calloc((size_t)total, sizeof *in->len);
  in->prompts = tr_malloc((size_t)NP * PT * sizeof *in->prompts);
  in->text = tr_malloc((size_t)MT * 4 + 1);
  if (!in->toks || !in->len || !in->prompts || !in->text)
    return tr_err_set(err, TR_ENOMEM, "sample: out of memory (%d samples of %d tokens)", total, MT);
  TrRng pr;
  tr_rng_seed(&pr, SW_INFER_PROMPT_SEED);
  for (int i = 0; i < NP; i++) {
    size_t at = (size_t)tr_rng_below(&pr, in->n_val - (size_t)PT + 1);
    tr_data_tokens_copy(in->data, TR_SPLIT_VAL, at, (size_t)PT, in->prompts + (size_t)i * PT);
  }
  return TR_OK;
}

/* Every sample of every prompt (until *hooks->stop), tallied as it is made. */
static int infer_generate(Infer *in, const TrRunHooks *hooks, TrErr *err) {
  const TrSampleConfig *s = &in->cfg.sample;
  const int NS = in->NS, MT = in->MT, PT = in->PT;
  int rc;
  for (int i = 0; i < in->NP && !in->interrupted; i++)
    for (int j = 0; j < NS; j++) {
      if (hooks->stop && *hooks->stop) {
        in->interrupted = 1;
        break;
      }
      int k = i * NS + j;
      TrRng r;
      tr_rng_seed2(&r, (uint64_t)s->seed, (uint64_t)k);
      TrSampleOut so;
      int *out = in->toks + (size_t)k * MT;
      if ((rc = tr_sample_generate(in->smp, s, in->vocab, in->prompts + (size_t)i * PT, PT, 0, MT, &r, out, NULL,
                                   NULL, &so, err)))
        return rc;
      in->len[k] = so.n_tokens;
      in->ntok += so.n_tokens;
      in->logprob += so.logprob_sum;
      size_t tl = tr_vocab_decode(in->vocab, out, (size_t)so.n_tokens, in->text, (size_t)MT * 4);
      int nu = 0;
      double f = tr_data_valid_fraction(in->data, in->text, tl, &nu);
      if (nu > 0) {
        in->valid += f * nu;
        in->units += nu;
      }
    }
  return TR_OK;
}

/* The measures of the generated text into mt; the number of samples made. */
static int infer_measure(const Infer *in, double gen_seconds, SwInferMetrics *mt, int *done_samples, TrErr *err) {
  int done = 0;
  for (int k = 0; k < in->total; k++) done += in->len[k] > 0;
  *done_samples = done;
  mt->samples = done;
  mt->tokens = in->ntok;
  mt->valid_units = in->units;
  mt->validity = in->units ? in->valid / (double)in->units : 0.0; /* no finished unit: no valid text */
  int rc = sw_infer_text_stats(in->toks, in->len, done, in->MT, mt);
  if (rc) return tr_err_set(err, rc, "sample: out of memory (n-gram statistics)");
  mt->loglik = in->ntok ? in->logprob / (double)in->ntok : NAN;
  mt->tokens_per_second = gen_seconds > 0 ? (double)in->ntok / gen_seconds : NAN;
  return TR_OK;
}

/* The result, the summary line and one metric row per measure (see the contract). */
static void infer_report(const Infer *in, const TrRunHooks *hooks, const SwInferMetrics *mt, int done_samples,
                         double wall_seconds, TrRunResult *res) {
  res->status = in->interrupted ? TR_RUN_INTERRUPTED : TR_RUN_COMPLETED;
  res->tokens = in->ntok;
  res->tokens_per_second = mt->tokens_per_second;
  res->n_params = (int64_t)tr_model_num_params(in->m);
  res->entropy_floor = tr_data_entropy_rate(in->data);
  res->wall_seconds = wall_seconds;
  if (in->interrupted)
    snprintf(res->reason, sizeof res->reason, "stopped after %d of %d samples", done_samples, in->total);
  if (hooks->on_log) {
    char line[512];
    snprintf(line, sizeof line,
             "%d samples, %lld tokens (%.0f tokens/s): validity %.4f distinct-2 %.4f rep-4 %.4f "
             "loglik %.4f mean length %.1f",
             done_samples, (long long)in->ntok, mt->tokens_per_second, mt->validity, mt->distinct_2, mt->rep_4,
             mt->loglik, mt->mean_length);
    hooks->on_log(hooks->ud, line);
  }
  if (hooks->on_metric)
    for (int i = 0; i < SW_INFER_NMETRICS; i++) {
      TrMetric row = {0, in->ntok, res->wall_seconds, metric_names[i], metric_at(mt, i)};
      if (hooks->on_metric(hooks->ud, &row)) {
        res->status = TR_RUN_INTERRUPTED;
        if (!res->reason[0]) snprintf(res->reason, sizeof res->reason, "on_metric asked to stop");
        break;
      }
    }
}

static void infer_deinit(Infer *in) {
  free(in->toks);
  free(in->len);
  free(in->prompts);
  free(in->text);
  tr_sampler_destroy(in->smp);
  tr_data_destroy(in->data);
  tr_model_destroy(in->m);
  tr_vocab_destroy(in->vocab);
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

  Infer in;
  memset(&in, 0, sizeof in);
  int rc = infer_load(&in, trial_cfg, checkpoint, err);
  if (!rc) rc = infer_prompts(&in, err);
  if (!rc) rc = tr_mem_threads_set(tr_config_threads(trial_cfg), err);
  if (!rc) {
    const double t_gen = tr_clock_mono();
    rc = infer_generate(&in, hooks, err);
    const double gen_seconds = tr_clock_mono() - t_gen;
    int done_samples = 0;
    if (!rc) rc = infer_measure(&in, gen_seconds, mt, &done_samples, err);
    if (!rc) infer_report(&in, hooks, mt, done_samples, tr_clock_mono() - t_start, res);
  }
  if (rc) res->wall_seconds = tr_clock_mono() - t_start;
  infer_deinit(&in);
  return rc;
}
