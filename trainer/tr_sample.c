#include "tr_sample.h"

#include "tr_alloc.h"
#include "tr_blas.h"
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tr_ckpt.h"
#include "tr_ops.h"

/* ---- The filter pipeline --------------------------------------------------- */

/* Rank order: higher probability first, lower index on ties (qsort_r context = probs). */
static int by_prob_desc(const void *a, const void *b, void *ctx) {
  const double *p = ctx;
  int i = *(const int *)a, j = *(const int *)b;
  if (p[i] != p[j]) return p[i] > p[j] ? -1 : 1;
  return (i > j) - (i < j);
}

/* The pipeline of the header, with caller scratch order (V ints). */
static int probs_work(const TrSampleConfig *s, const float *logits, int V, const int *counts,
                      double *p, int *order) {
  const double R = s->repetition_penalty, F = s->frequency_penalty, P = s->presence_penalty;
  for (int i = 0; i < V; i++) {
    double z = logits[i];
    if (counts && counts[i] > 0) {
      if (R != 1.0) z = z > 0 ? z / R : z * R;
      z -= F * counts[i] + P;
    }
    p[i] = z;
  }
  int amax = 0;
  for (int i = 1; i < V; i++)
    if (p[i] > p[amax]) amax = i;
  if (!(s->temperature > 0.0)) { /* greedy: the filters cannot change the argmax */
    for (int i = 0; i < V; i++) p[i] = 0.0;
    p[amax] = 1.0;
    return 1;
  }
  const double zmax = p[amax], t = s->temperature;
  double sum = 0.0;
  for (int i = 0; i < V; i++) sum += p[i] = exp((p[i] - zmax) / t);
  for (int i = 0; i < V; i++) p[i] /= sum;
  int use_k = s->top_k > 0 && s->top_k < V, use_p = s->top_p < 1.0;
  if (use_k || use_p) {
    /* Only the head of the ranking matters: gather the tokens with p >= thr,
       lowering thr 16x at a time until they hold the k tokens (top-k) or mass
       p (top-p alone), and sort just those. They are a prefix of the full
       ranking (ties at thr included), so the result is the full sort's. */
    double thr = p[amax], mass = 0.0;
    int nc = 0;
    for (;;) {
      thr = thr > 1e-300 ? thr / 16.0 : 0.0;
      nc = 0;
      mass = 0.0;
      for (int i = 0; i < V; i++)
        if (p[i] >= thr) {
          order[nc++] = i;
          mass += p[i];
        }
      if (thr == 0.0 || (use_k ? nc >= s->top_k : mass >= s->top_p - 1e-9)) break;
    }
    qsort_r(order, (size_t)nc, sizeof *order, by_prob_desc, p);
    int kept = use_k && s->top_k < nc ? s->top_k : nc;
    if (use_p) {
      double cum = 0.0;
      mass = 1.0; /* top-p alone: the whole (normalised) distribution */
      if (use_k) {
        mass = 0.0;
        for (int j = 0; j < kept; j++) mass += p[order[j]];
      }
      for (int j = 0; j < kept; j++) {
        cum += p[order[j]] / mass;
        /* 1e-9: a set whose mass is p up to rounding reaches p (boundary cases are exact) */
        if (cum >= s->top_p - 1e-9) {
          kept = j + 1;
          break;
        }
      }
    }
    for (int j = 0; j < kept; j++) p[order[j]] = -p[order[j]]; /* mark the kept ones */
    for (int i = 0; i < V; i++) p[i] = p[i] < 0.0 ? -p[i] : 0.0;
  }
  if (s->min_p > 0.0) {
    double top = 0.0;
    for (int i = 0; i < V; i++)
      if (p[i] > top) top = p[i];
    const double thr = s->min_p * top;
    for (int i = 0; i < V; i++)
      if (p[i] < thr) p[i] = 0.0;
  }
  sum = 0.0;
  int n = 0;
  for (int i = 0; i < V; i++) {
    sum += p[i];
    n += p[i] > 0.0;
  }
  for (int i = 0; i < V; i++) p[i] /= sum;
  return n;
}

int tr_sample_probs(const TrSampleConfig *s, const float *logits, int V, const int *counts,
                    double *probs_out) {
  if (V < 1) return 0;
  int *order = tr_malloc((size_t)V * sizeof *order);
  if (!order) return 0;
  int n = probs_work(s, logits, V, counts, probs_out, order);
  free(order);
  return n;
}

/* Inverse CDF in token order: one uniform per draw; greedy draws nothing. */
static int draw(const TrSampleConfig *s, const double *p, int V, TrRng *rng) {
  if (!(s->temperature > 0.0)) {
    for (int i = 0; i < V; i++)
      if (p[i] > 0.0) return i;
  }
  double u = tr_rng_uniform(rng), cum = 0.0;
  int last = 0;
  for (int i = 0; i < V; i++) {
    if (p[i] <= 0.0) continue;
    cum += p[i];
    last = i;
    if (u < cum) return i;
  }
  return last; /* u beyond the rounded total */
}

int tr_sample_next(const TrSampleConfig *s, const float *logits, int V, const int *counts,
                   double *probs, TrRng *rng) {
  if (tr_sample_probs(s, logits, V, counts, probs) < 1) return -1;
  return draw(s, probs, V, rng);
}

/* ---- KV-cache inference ---------------------------------------------------- */

struct TrSampler {
  TrModel *m;
  int L, NH, C, T, H, V;
  float qk_scale, out_mult; /* the parametrization's (tr_model.h) */
  float *mem;
  float *k, *v;       /* (L, T, C) cached keys / values of the window's positions */
  float *x;           /* (T, C) residual stream of the block being fed */
  float *ln;          /* (T, C) LayerNorm output */
  float *mean, *rstd; /* (T) LayerNorm statistics (unused, the kernel writes them) */
  float *qkv;         /* (T, 3C) */
  float *atty;        /* (T, C) attention output, heads side by side */
  float *att;         /* (T, T) one head's attention weights for the block */
  float *fch, *fchg;  /* (T, H) MLP pre-activation, after GELU */
  float *logits;      /* (V) */
  int *win;           /* (T) tokens in the window */
  int *tmp;           /* (T) re-prefill staging */
  int n;              /* positions cached */
};

/* Parameter views, from the model's flat buffer through its tensor table. */
typedef struct Weights {
  const float *t[TR_MODEL_NTENSORS]; /* contract order; NULL for an absent bias */
} Weights;
enum { W_WTE, W_WPE, W_LN1W, W_LN1B, W_QKVW, W_QKVB, W_PROJW, W_PROJB, W_LN2W, W_LN2B, W_FCW, W_FCB,
       W_FCPW, W_FCPB, W_LNFW, W_LNFB };

static Weights weights(TrSampler *s) {
  Weights w;
  int nt = 0;
  const TrParamTensor *t = tr_model_tensors(s->m, &nt);
  const float *base = tr_model_params(s->m);
  for (int i = 0; i < TR_MODEL_NTENSORS; i++) w.t[i] = t[i].numel ? base + t[i].offset : NULL;
  return w;
}

static const float *lw(const float *base, size_t off) { return base ? base + off : NULL; }

enum { N_SAMPLER_VIEWS = 12 };

/* Floats of each view (k, v, x, ln, mean, rstd, qkv, atty, att, fch, fchg,
** logits) and their 16-float-aligned total: the KV cache and one position's work. */
static size_t sampler_sizes(const TrModelConfig *c, size_t sz[N_SAMPLER_VIEWS]) {
  size_t L = (size_t)c->n_layer, T = (size_t)c->context_length, C = (size_t)c->d_model,
         H = (size_t)c->mlp_ratio * C;
  const size_t v[N_SAMPLER_VIEWS] = {L * T * C, L * T * C, T * C, T * C, T, T, 3 * T * C, T * C,
                                     T * T, T * H, T * H, (size_t)c->vocab_size};
  size_t total = 0;
  for (int i = 0; i < N_SAMPLER_VIEWS; i++) total += ((sz[i] = v[i]) + 15) & ~(size_t)15;
  return total;
}

size_t tr_sampler_bytes(const TrModelConfig *c) {
  size_t sz[N_SAMPLER_VIEWS];
  return sampler_sizes(c, sz) * sizeof(float) + 2 * (size_t)c->context_length * sizeof(int);
}

int tr_sampler_create(TrSampler **out, TrModel *m, TrErr *err) {
  *out = NULL;
  const TrModelConfig *c = tr_model_config(m);
  TrSampler *s = tr_calloc(1, sizeof *s);
  if (!s) return tr_err_set(err, TR_ENOMEM, "sampler: out of memory");
  s->m = m;
  s->L = c->n_layer;
  s->NH = c->n_head;
  s->C = c->d_model;
  s->T = c->context_length;
  s->H = c->mlp_ratio * c->d_model;
  s->V = c->vocab_size;
  s->qk_scale = tr_model_attn_scale(c);
  s->out_mult = tr_model_output_mult(c);
  size_t T = (size_t)s->T, C = (size_t)s->C;
  size_t sz[N_SAMPLER_VIEWS];
  float **view[] = {&s->k, &s->v, &s->x, &s->ln, &s->mean, &s->rstd, &s->qkv, &s->atty, &s->att,
                    &s->fch, &s->fchg, &s->logits};
  _Static_assert(sizeof view / sizeof view[0] == N_SAMPLER_VIEWS, "one size per view");
  size_t total = sampler_sizes(c, sz);
  s->mem = tr_malloc(total * sizeof(float));
  s->win = tr_malloc(T * sizeof(int));
  s->tmp = tr_malloc(T * sizeof(int));
  if (!s->mem || !s->win || !s->tmp) {
    tr_sampler_destroy(s);
    return tr_err_set(err, TR_ENOMEM, "sampler: out of memory (context %zu, d_model %zu)", T, C);
  }
  size_t off = 0;
  for (size_t i = 0; i < sizeof sz / sizeof sz[0]; i++) {
    *view[i] = s->mem + off;
    off += (sz[i] + 15) & ~(size_t)15;
  }
  *out = s;
  return TR_OK;
}

void tr_sampler_destroy(TrSampler *s) {
  if (!s) return;
  free(s->mem);
  free(s->win);
  free(s->tmp);
  free(s);
}

void tr_sampler_reset(TrSampler *s) { s->n = 0; }

const int *tr_sampler_window(const TrSampler *s, int *n) {
  *n = s->n;
  return s->win;
}

/* Causal attention of the block's n queries (positions p0..p0+n-1) over the
   cached keys/values 0..p0+n-1 of layer l; the block's own k, v are cached already. */
static void attend(TrSampler *s, int l, int p0, int n) {
  const int C = s->C, C3 = 3 * C, hs = C / s->NH, np = p0 + n;
  const float sc = s->qk_scale;
  const float *K = s->k + (size_t)l * s->T * C, *Vc = s->v + (size_t)l * s->T * C;
  for (int h = 0; h < s->NH; h++) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, np, hs, sc, s->qkv + (size_t)h * hs, C3,
                K + (size_t)h * hs, C, 0.0f, s->att, np);
    for (int i = 0; i < n; i++) {
      float *row = s->att + (size_t)i * np;
      int len = p0 + i + 1;
      float mx = row[0];
      for (int j = 1; j < len; j++) mx = row[j] > mx ? row[j] : mx;
      float z = 0.0f;
      for (int j = 0; j < len; j++) z += row[j] = tr_expf(row[j] - mx);
      z = 1.0f / z;
      for (int j = 0; j < len; j++) row[j] *= z;
      for (int j = len; j < np; j++) row[j] = 0.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, hs, np, 1.0f, s->att, np,
                Vc + (size_t)h * hs, C, 0.0f, s->atty + (size_t)h * hs, C);
  }
}

/* out (n, OC) = inp (n, IC) @ w^T + b (+ out when beta = 1): tr_matmul_forward, or
   for one row a matrix-vector product (OpenBLAS' sgemm is slower at M = 1). */
static void linear(float *out, const float *inp, const float *w, const float *b, int n, int IC, int OC,
                   float beta) {
  if (n != 1) {
    tr_matmul_forward(out, inp, w, b, n, IC, OC, beta);
    return;
  }
  if (b) {
    if (beta == 0.0f)
      memcpy(out, b, (size_t)OC * sizeof *out);
    else
      for (int i = 0; i < OC; i++) out[i] += b[i];
    beta = 1.0f;
  }
  cblas_sgemv(CblasRowMajor, CblasNoTrans, OC, IC, 1.0f, w, IC, inp, 1, beta, out, 1);
}

/* Forward of n tokens at positions p0..p0+n-1 (p0 + n <= T): caches their keys and
   values and leaves the logits of the last one in s->logits. */
static void forward_block(TrSampler *s, const int *tok, int p0, int n) {
  const int C = s->C, H = s->H;
  const size_t Cz = (size_t)C, Hz = (size_t)H;
  Weights w = weights(s);
  tr_encoder_forward(s->x, tok, w.t[W_WTE], w.t[W_WPE] + (size_t)p0 * C, 1, n, C);
  for (int l = 0; l < s->L; l++) {
    tr_layernorm_forward(s->ln, s->mean, s->rstd, s->x, w.t[W_LN1W] + l * Cz, lw(w.t[W_LN1B], l * Cz), n,
                         C);
    linear(s->qkv, s->ln, w.t[W_QKVW] + l * 3 * Cz * Cz, lw(w.t[W_QKVB], l * 3 * Cz), n, C,
                      3 * C, 0.0f);
    for (int i = 0; i < n; i++) {
      size_t at = ((size_t)l * s->T + (size_t)(p0 + i)) * Cz;
      memcpy(s->k + at, s->qkv + (size_t)i * 3 * Cz + Cz, Cz * sizeof(float));
      memcpy(s->v + at, s->qkv + (size_t)i * 3 * Cz + 2 * Cz, Cz * sizeof(float));
    }
    attend(s, l, p0, n);
    linear(s->x, s->atty, w.t[W_PROJW] + l * Cz * Cz, lw(w.t[W_PROJB], l * Cz), n, C, C,
                      1.0f);
    tr_layernorm_forward(s->ln, s->mean, s->rstd, s->x, w.t[W_LN2W] + l * Cz, lw(w.t[W_LN2B], l * Cz), n,
                         C);
    linear(s->fch, s->ln, w.t[W_FCW] + l * Hz * Cz, lw(w.t[W_FCB], l * Hz), n, C, H, 0.0f);
    tr_gelu_forward(s->fchg, s->fch, (size_t)n * Hz);
    linear(s->x, s->fchg, w.t[W_FCPW] + l * Cz * Hz, lw(w.t[W_FCPB], l * Cz), n, H, C,
                      1.0f);
  }
  /* only the last position's logits are needed: the final LayerNorm and LM head of one row */
  tr_layernorm_forward(s->ln, s->mean, s->rstd, s->x + (size_t)(n - 1) * Cz, w.t[W_LNFW], w.t[W_LNFB],
                       1, C);
  linear(s->logits, s->ln, w.t[W_WTE], NULL, 1, C, s->V, 0.0f);
  if (s->out_mult != 1.0f)
    for (int i = 0; i < s->V; i++) s->logits[i] *= s->out_mult;
}

const float *tr_sampler_feed(TrSampler *s, const int *tokens, int n) {
  if (n < 1) return NULL;
  for (int i = 0; i < n; i++)
    if (tokens[i] < 0 || tokens[i] >= s->V) return NULL;
  const int T = s->T;
  if (s->n + n <= T) {
    memcpy(s->win + s->n, tokens, (size_t)n * sizeof(int));
    forward_block(s, tokens, s->n, n);
    s->n += n;
    return s->logits;
  }
  /* overflow: re-prefill with the last min(T, T/2 + n) tokens of window ++ tokens */
  int keep = T / 2 + n < T ? T / 2 + n : T;
  int from_new = n < keep ? n : keep, from_old = keep - from_new;
  memcpy(s->tmp, s->win + s->n - from_old, (size_t)from_old * sizeof(int));
  memcpy(s->tmp + from_old, tokens + n - from_new, (size_t)from_new * sizeof(int));
  memcpy(s->win, s->tmp, (size_t)keep * sizeof(int));
  s->n = keep;
  forward_block(s, s->win, 0, keep);
  return s->logits;
}

int tr_sample_start_token(const TrVocab *vocab) {
  int t = 0;
  size_t n = 0;
  if (vocab && tr_vocab_encode(vocab, "\n", 1, &t, 1, &n, NULL) == TR_OK && n == 1) return t;
  return 0;
}

int tr_sample_generate(TrSampler *smp, const TrSampleConfig *s, const TrVocab *vocab,
                       const int *prompt, int n_prompt, int start_token, int max_new, TrRng *rng,
                       int *tokens_out, TrSampleTokenFn on_token, void *ud, TrSampleOut *out,
                       TrErr *err) {
  memset(out, 0, sizeof *out);
  const int V = smp->V;
  size_t slen = strlen(s->stop);
  if (max_new < 0 || n_prompt < 0)
    return tr_err_set(err, TR_EINVAL, "sample: negative length (prompt %d, max tokens %d)", n_prompt,
                      max_new);
  if (slen && !vocab) return tr_err_set(err, TR_EINVAL, "sample: a stop text needs the vocabulary");
  if (n_prompt == 0) {
    prompt = &start_token;
    n_prompt = 1;
  }
  for (int i = 0; i < n_prompt; i++)
    if (prompt[i] < 0 || prompt[i] >= V)
      return tr_err_set(err, TR_EINVAL, "sample: prompt token %d at %d is not in [0, %d)", prompt[i], i, V);
  if (max_new == 0) return TR_OK;
  int *counts = tr_calloc((size_t)V, sizeof *counts);
  int *order = tr_malloc((size_t)V * sizeof *order);
  double *probs = tr_malloc((size_t)V * sizeof *probs);
  /* generated text, for the stop check: at most 4 bytes (UTF-8) per token */
  char *text = slen ? tr_malloc((size_t)max_new * 4 + 1) : NULL;
  if (!counts || !order || !probs || (slen && !text)) {
    free(counts);
    free(order);
    free(probs);
    free(text);
    return tr_err_set(err, TR_ENOMEM, "sample: out of memory (vocabulary %d)", V);
  }
  size_t tlen = 0;
  tr_sampler_reset(smp);
  const float *logits = tr_sampler_feed(smp, prompt, n_prompt);
  for (int i = 0; i < max_new; i++) {
    probs_work(s, logits, V, counts, probs, order);
    int tok = draw(s, probs, V, rng);
    /* log-likelihood under the model itself: log softmax of the raw logits */
    float mx = logits[0];
    for (int j = 1; j < V; j++) mx = logits[j] > mx ? logits[j] : mx;
    double z = 0.0;
    for (int j = 0; j < V; j++) z += exp((double)logits[j] - mx);
    out->logprob_sum += (double)logits[tok] - mx - log(z);
    counts[tok]++;
    if (tokens_out) tokens_out[i] = tok;
    out->n_tokens = i + 1;
    if (slen) {
      size_t before = tlen;
      tlen += tr_vocab_decode(vocab, &tok, 1, text + tlen, 4);
      /* a new occurrence ends inside this token's bytes */
      size_t from = before + 1 > slen ? before + 1 - slen : 0;
      if (tlen >= slen && memmem(text + from, tlen - from, s->stop, slen)) out->stopped = 1;
    }
    if (on_token && on_token(ud, tok) && !out->stopped) out->stopped = 2;
    if (out->stopped || i + 1 == max_new) break;
    logits = tr_sampler_feed(smp, &tok, 1);
  }
  free(counts);
  free(order);
  free(probs);
  free(text);
  return TR_OK;
}

/* ---- Loading ----------------------------------------------------------------- */

int tr_sample_load(const char *path, TrConfig *cfg, TrModel **model, TrVocab **vocab, TrErr *err) {
  *model = NULL;
  *vocab = NULL;
  TrCkpt c;
  memset(&c, 0, sizeof c);
  int rc = tr_ckpt_load(path, &c, err);
  if (rc) return rc;
  if ((rc = tr_ckpt_config(&c, cfg, err))) {
    tr_err_prefix(err, "%s", path);
    goto fail;
  }
  if ((rc = tr_vocab_from_bytes(vocab, c.vocab, c.n_vocab, err))) {
    tr_err_prefix(err, "%s: vocabulary", path);
    goto fail;
  }
  cfg->model.vocab_size = tr_vocab_size(*vocab);
  if ((rc = tr_model_create(model, &cfg->model, 1, err))) {
    tr_err_prefix(err, "%s", path);
    goto fail;
  }
  if (tr_model_num_params(*model) != c.n_params) {
    rc = tr_err_set(err, TR_EFORMAT, "%s: holds %zu parameters but its model config needs %zu", path,
                    c.n_params, tr_model_num_params(*model));
    goto fail;
  }
  memcpy(tr_model_params(*model), c.params, c.n_params * sizeof(float));
  tr_ckpt_deinit(&c);
  return TR_OK;
fail:
  tr_model_destroy(*model);
  tr_vocab_destroy(*vocab);
  *model = NULL;
  *vocab = NULL;
  tr_ckpt_deinit(&c);
  return rc;
}
