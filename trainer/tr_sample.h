/*
** tr_sample.h: text generation from a trained model: a KV-cache inference
** path, the sampling filter pipeline, and loading a model from a checkpoint.
**
** Contract:
** - TrSampler runs the model of a TrModel (its parameters, read through
**   tr_model_params + tr_model_tensors; the model's own activations are never
**   touched) one sequence at a time with a cache of every layer's keys and
**   values. Feeding n tokens costs n positions' forward pass; the logits it
**   returns for the last position equal tr_model_forward's logits over the same
**   window (same kernels; attention runs over the cached keys; ~1e-6 relative).
** - Context: the window holds at most T = context_length tokens. Feeding n
**   tokens that do not fit re-prefills: the window becomes the last
**   min(T, T/2 + n) tokens of (window, new tokens) and the cache is rebuilt
**   from position 0. So a prompt longer than T keeps its last T tokens, and a
**   generated token arriving at a full window keeps T/2 old ones: the model
**   then sees between T/2+1 and T tokens of context and pays about one extra
**   position per generated token (instead of a full recompute per token).
** - Filter pipeline (tr_sample_probs), in this order, on double copies of the
**   logits. counts[i] is token i's count in the GENERATED text so far (prompt
**   tokens do not count for any penalty):
**     1. repetition penalty R (CTRL, Keskar et al. 2019): if counts[i] > 0, a
**        positive logit is divided by R, a non-positive one multiplied by R;
**     2. frequency penalty F: logit -= F * counts[i];
**     3. presence penalty P: logit -= P if counts[i] > 0;
**     4. temperature t: t == 0 is greedy: all mass on the argmax of the
**        penalised logits (lowest index on ties), steps 5-7 skipped and no
**        random number drawn; else logits /= t and softmax;
**     5. top-k (k > 0): keep the k most probable tokens;
**     6. top-p (p < 1): of what is left, renormalised, keep the smallest set of
**        most probable tokens whose probability reaches p (cumulative sum >=
**        p - 1e-9, so a set summing to p up to rounding counts as reaching it);
**     7. min-p (m > 0): drop tokens whose probability is below m times the top
**        token's probability;
**     8. renormalise. Ties in rank are broken by the lower token index.
** - A draw (tr_sample_next) takes one tr_rng_uniform u and returns the first
**   token whose cumulative probability (token order) exceeds u.
** - Stop text: generation ends after the token that completes `stop` in the
**   generated text (not the prompt); that text is part of the output.
** - Determinism: the same model, prompt, config and seed give the same tokens;
**   the OpenBLAS thread count is the caller's (set 1 for bit-identical runs).
*/
#ifndef TR_SAMPLE_H
#define TR_SAMPLE_H

#include <stddef.h>

#include "tr_config.h"
#include "tr_data.h"
#include "tr_err.h"
#include "tr_model.h"
#include "tr_rng.h"

/* ---- The filter pipeline (pure) ------------------------------------------ */

/* probs_out (V) = the filtered, renormalised distribution of the contract's
** steps 1-8. counts (V) may be NULL (no penalties). Returns the number of
** tokens with non-zero probability (>= 1), or 0 if V < 1 or out of memory. */
int tr_sample_probs(const TrSampleConfig *s, const float *logits, int V, const int *counts,
                    double *probs_out);
/* One token drawn from tr_sample_probs' distribution; probs (V) is scratch
** and holds that distribution afterwards. Greedy (temperature 0) draws
** nothing from rng. Returns -1 if V < 1 or out of memory. */
int tr_sample_next(const TrSampleConfig *s, const float *logits, int V, const int *counts,
                   double *probs, TrRng *rng);

/* ---- KV-cache inference -------------------------------------------------- */

typedef struct TrSampler TrSampler;

/* A sampler over model m (which must outlive it; its parameters may change
** between calls, the cache then being stale until tr_sampler_reset). */
int tr_sampler_create(TrSampler **out, TrModel *m, TrErr *err);
/* Bytes tr_sampler_create allocates for a model of this config (KV cache included). */
size_t tr_sampler_bytes(const TrModelConfig *c);
void tr_sampler_destroy(TrSampler *s); /* NULL is a no-op */
/* Empty the window. */
void tr_sampler_reset(TrSampler *s);
/* Append n >= 1 tokens (each in [0, V)) to the window, sliding as the contract
** says, and return the logits (V) that predict the token after the last one
** (valid until the next call). NULL if n < 1 or a token is out of range. */
const float *tr_sampler_feed(TrSampler *s, const int *tokens, int n);
/* The tokens in the window now (*n of them, <= context_length). */
const int *tr_sampler_window(const TrSampler *s, int *n);

/* Called with each generated token; return non-zero to stop after it. */
typedef int (*TrSampleTokenFn)(void *ud, int token);

typedef struct TrSampleOut {
  int n_tokens;        /* tokens generated */
  int stopped;         /* 1: the stop text ended it, 2: the callback did, 0: max_new reached */
  double logprob_sum;  /* sum over generated tokens of log softmax(logits)[token] at temperature 1,
                          unfiltered, without penalties (nats) */
} TrSampleOut;

/* Generate up to max_new tokens after the prompt (n_prompt >= 0 tokens; an
** empty prompt starts from start_token) with the config's filters, penalties
** and stop text, drawing from rng. tokens_out (max_new) may be NULL; vocab is
** needed only for s->stop ("" = no stop text). Resets the sampler first. */
int tr_sample_generate(TrSampler *smp, const TrSampleConfig *s, const TrVocab *vocab,
                       const int *prompt, int n_prompt, int start_token, int max_new, TrRng *rng,
                       int *tokens_out, TrSampleTokenFn on_token, void *ud, TrSampleOut *out,
                       TrErr *err);

/* The token an empty prompt starts from: "\n" if the vocabulary has it, else 0. */
int tr_sample_start_token(const TrVocab *vocab);

/* ---- Loading ------------------------------------------------------------- */

/* Read a checkpoint: its config (model.vocab_size set from the vocabulary), a
** model (batch 1) holding its weights, and its vocabulary. Caller destroys
** model and vocab. Errors name the path. */
int tr_sample_load(const char *path, TrConfig *cfg, TrModel **model, TrVocab **vocab, TrErr *err);

#endif
