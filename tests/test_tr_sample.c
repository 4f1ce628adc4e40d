/* tr_sample: the filter pipeline (exact distributions, chi-square on draws),
   penalties, greedy, the KV cache against full recompute, context sliding,
   determinism, stop text, checkpoint loading and `hpsweep sample`. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tr_ckpt.h"
#include "tr_run.h"
#include "tr_sample.h"

/* ---- helpers ----------------------------------------------------------------- */

static TrSampleConfig plain(void) {
  TrConfig c;
  tr_config_defaults(&c);
  TrSampleConfig s = c.sample;
  s.temperature = 1.0;
  s.top_k = 0;
  s.top_p = 1.0;
  s.min_p = 0.0;
  s.frequency_penalty = s.presence_penalty = 0.0;
  s.repetition_penalty = 1.0;
  s.stop[0] = '\0';
  return s;
}

/* Ten tokens with known probabilities, deliberately not in rank order. */
#define NV 10
static const double P10[NV] = {0.07, 0.3, 0.005, 0.15, 0.2, 0.03, 0.1, 0.015, 0.08, 0.05};
static void logits10(float *lg) {
  for (int i = 0; i < NV; i++) lg[i] = (float)log(P10[i]) + 1.5f; /* a shift changes nothing */
}

/* expected = P10 restricted to keep[] (1 = kept), renormalised; p optionally raised to 1/t. */
static void restrict_to(const int *keep, double t, double *expected) {
  double z = 0;
  for (int i = 0; i < NV; i++) z += expected[i] = keep[i] ? pow(P10[i], 1.0 / t) : 0.0;
  for (int i = 0; i < NV; i++) expected[i] /= z;
}

/* Chi-square critical values at p = 0.001 for df = 1..12. */
static const double CHI2_001[13] = {0, 10.828, 13.816, 16.266, 18.467, 20.515, 22.458,
                                    24.322, 26.124, 27.877, 29.588, 31.264, 32.909};

/* tr_sample_probs gives exactly `expected`, and 100,000 draws fit it. */
static void check_filter(const TrSampleConfig *s, const float *lg, const double *expected, uint64_t seed) {
  double probs[NV];
  int kept = tr_sample_probs(s, lg, NV, NULL, probs);
  int nz = 0;
  for (int i = 0; i < NV; i++) {
    cr_assert(fabs(probs[i] - expected[i]) < 1e-6, "token %d: prob %.9f, expected %.9f", i, probs[i],
              expected[i]);
    nz += expected[i] > 0;
  }
  cr_assert_eq(kept, nz);
  TrRng r;
  tr_rng_seed(&r, seed);
  long obs[NV] = {0};
  const int N = 100000;
  double scratch[NV];
  for (int k = 0; k < N; k++) {
    int t = tr_sample_next(s, lg, NV, NULL, scratch, &r);
    cr_assert(t >= 0 && t < NV);
    obs[t]++;
  }
  double chi2 = 0;
  for (int i = 0; i < NV; i++) {
    if (expected[i] == 0) {
      cr_assert_eq(obs[i], 0, "token %d was filtered out but drawn %ld times", i, obs[i]);
      continue;
    }
    double e = N * expected[i];
    chi2 += (obs[i] - e) * (obs[i] - e) / e;
  }
  if (nz > 1) cr_assert(chi2 < CHI2_001[nz - 1], "chi2 %.2f >= %.3f (df %d)", chi2, CHI2_001[nz - 1], nz - 1);
}

/* ---- the pipeline ------------------------------------------------------------- */

Test(tr_sample, unfiltered_draws_follow_the_softmax) {
  float lg[NV];
  logits10(lg);
  TrSampleConfig s = plain();
  int keep[NV] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  double e[NV];
  restrict_to(keep, 1.0, e);
  check_filter(&s, lg, e, 1);
}

Test(tr_sample, temperature_divides_the_logits) {
  float lg[NV];
  logits10(lg);
  int keep[NV] = {1, 1, 1, 1, 1, 1, 1, 1, 1, 1};
  double e[NV];
  const double ts[] = {0.5, 0.8, 1.7};
  for (int i = 0; i < 3; i++) {
    TrSampleConfig s = plain();
    s.temperature = ts[i];
    restrict_to(keep, ts[i], e);
    check_filter(&s, lg, e, 10 + (uint64_t)i);
  }
}

Test(tr_sample, top_k_keeps_the_k_most_likely) {
  float lg[NV];
  logits10(lg);
  TrSampleConfig s = plain();
  s.top_k = 3; /* 0.3 (1), 0.2 (4), 0.15 (3) */
  int keep[NV] = {0, 1, 0, 1, 1, 0, 0, 0, 0, 0};
  double e[NV];
  restrict_to(keep, 1.0, e);
  check_filter(&s, lg, e, 2);
}

Test(tr_sample, top_p_keeps_the_smallest_set_reaching_p) {
  float lg[NV];
  logits10(lg);
  TrSampleConfig s = plain();
  s.top_p = 0.6; /* 0.3 + 0.2 = 0.5 < 0.6 <= 0.65 */
  int keep[NV] = {0, 1, 0, 1, 1, 0, 0, 0, 0, 0};
  double e[NV];
  restrict_to(keep, 1.0, e);
  check_filter(&s, lg, e, 3);
}

Test(tr_sample, min_p_drops_tokens_below_a_fraction_of_the_top) {
  float lg[NV];
  logits10(lg);
  TrSampleConfig s = plain();
  s.min_p = 0.3; /* threshold 0.09: keeps 0.3, 0.2, 0.15, 0.1 */
  int keep[NV] = {0, 1, 0, 1, 1, 0, 1, 0, 0, 0};
  double e[NV];
  restrict_to(keep, 1.0, e);
  check_filter(&s, lg, e, 4);
}

Test(tr_sample, filters_combine_in_order_k_then_p_then_min_p) {
  float lg[NV];
  logits10(lg);
  TrSampleConfig s = plain();
  /* top-5 = {.3,.2,.15,.1,.08} (mass .83); renormalised cumulative .361 .602 .783 .904:
     top-p .9 keeps 4; min-p .4 of .3 = .12 drops .1: keeps 3 */
  s.top_k = 5;
  s.top_p = 0.9;
  int keep4[NV] = {0, 1, 0, 1, 1, 0, 1, 0, 0, 0};
  double e[NV];
  restrict_to(keep4, 1.0, e);
  check_filter(&s, lg, e, 5);
  s.min_p = 0.4;
  int keep3[NV] = {0, 1, 0, 1, 1, 0, 0, 0, 0, 0};
  restrict_to(keep3, 1.0, e);
  check_filter(&s, lg, e, 6);
  /* temperature first: at t = 2 the tokens' p^(1/2) are renormalised before top-k */
  TrSampleConfig s2 = plain();
  s2.temperature = 2.0;
  s2.top_k = 6;
  int keep6[NV] = {1, 1, 0, 1, 1, 0, 1, 0, 1, 0};
  restrict_to(keep6, 2.0, e);
  check_filter(&s2, lg, e, 7);
}

/* The pipeline written the obvious way (full sort), for comparison on big vocabularies. */
static int cmp_desc(const void *a, const void *b, void *ctx) {
  const double *p = ctx;
  int i = *(const int *)a, j = *(const int *)b;
  if (p[i] != p[j]) return p[i] > p[j] ? -1 : 1;
  return i - j;
}

static void reference(const TrSampleConfig *s, const float *lg, int V, double *p) {
  double mx = -INFINITY, z = 0;
  for (int i = 0; i < V; i++) mx = fmax(mx, lg[i] / s->temperature);
  for (int i = 0; i < V; i++) z += p[i] = exp(lg[i] / s->temperature - mx);
  for (int i = 0; i < V; i++) p[i] /= z;
  int *o = malloc((size_t)V * sizeof *o);
  for (int i = 0; i < V; i++) o[i] = i;
  qsort_r(o, (size_t)V, sizeof *o, cmp_desc, p);
  int kept = s->top_k > 0 && s->top_k < V ? s->top_k : V;
  double mass = 0, cum = 0;
  for (int j = 0; j < kept; j++) mass += p[o[j]];
  if (s->top_p < 1)
    for (int j = 0; j < kept; j++)
      if ((cum += p[o[j]] / mass) >= s->top_p - 1e-9) {
        kept = j + 1;
        break;
      }
  for (int j = kept; j < V; j++) p[o[j]] = 0;
  double top = p[o[0]];
  for (int i = 0; i < V; i++)
    if (p[i] < s->min_p * top) p[i] = 0;
  z = 0;
  for (int i = 0; i < V; i++) z += p[i];
  for (int i = 0; i < V; i++) p[i] /= z;
  free(o);
}

Test(tr_sample, filters_match_a_full_sort_on_large_vocabularies) {
  enum { V = 3000 };
  static float lg[V];
  static double got[V], want[V];
  TrRng r;
  tr_rng_seed(&r, 8);
  const double temps[] = {0.3, 1.0, 2.5}, tps[] = {0.05, 0.5, 0.9, 0.999, 1.0}, mps[] = {0, 0.01};
  const int tks[] = {0, 1, 40, 2999};
  for (int rep = 0; rep < 2; rep++) {
    for (int i = 0; i < V; i++) lg[i] = (float)(tr_rng_normal(&r) * (rep ? 6.0 : 1.0));
    lg[17] = lg[900] = lg[5]; /* ties */
    for (size_t a = 0; a < 3; a++)
      for (size_t b = 0; b < 5; b++)
        for (size_t c = 0; c < 4; c++)
          for (size_t d = 0; d < 2; d++) {
            TrSampleConfig s = plain();
            s.temperature = temps[a];
            s.top_p = tps[b];
            s.top_k = tks[c];
            s.min_p = mps[d];
            tr_sample_probs(&s, lg, V, NULL, got);
            reference(&s, lg, V, want);
            for (int i = 0; i < V; i++)
              cr_assert((got[i] > 0) == (want[i] > 0) && fabs(got[i] - want[i]) < 1e-12,
                        "t %g p %g k %d m %g: token %d %.17g vs %.17g", s.temperature, s.top_p, s.top_k,
                        s.min_p, i, got[i], want[i]);
          }
  }
}

Test(tr_sample, top_p_boundary_is_exact) {
  /* probabilities .5 .3 .2 */
  const double p3[3] = {0.2, 0.5, 0.3};
  float lg[3];
  for (int i = 0; i < 3; i++) lg[i] = (float)log(p3[i]);
  double probs[3];
  TrSampleConfig s = plain();
  struct {
    double p;
    int kept;
  } cases[] = {{0.5, 1}, {0.5 + 1e-6, 2}, {0.8, 2}, {0.8 - 1e-6, 2}, {0.8 + 1e-6, 3}, {0.01, 1}, {1.0, 3}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    s.top_p = cases[i].p;
    int k = tr_sample_probs(&s, lg, 3, NULL, probs);
    cr_assert_eq(k, cases[i].kept, "top_p %.7f kept %d, expected %d", cases[i].p, k, cases[i].kept);
    /* the kept set is always the most likely ones */
    cr_assert(probs[1] > 0);
    if (k >= 2) cr_assert(probs[2] > 0);
    if (k < 3) cr_assert(probs[0] == 0);
  }
  /* a tie at the boundary: .4 .4 .2 with p = .4 keeps the lower index only */
  const double t3[3] = {0.2, 0.4, 0.4};
  for (int i = 0; i < 3; i++) lg[i] = (float)log(t3[i]);
  s.top_p = 0.4;
  cr_assert_eq(tr_sample_probs(&s, lg, 3, NULL, probs), 1);
  cr_assert(probs[1] == 1.0 && probs[2] == 0.0);
}

Test(tr_sample, greedy_is_the_argmax_and_draws_nothing) {
  TrRng r, g;
  tr_rng_seed(&g, 99);
  float lg[37];
  double scratch[37];
  for (int rep = 0; rep < 50; rep++) {
    int am = 0;
    for (int i = 0; i < 37; i++) {
      lg[i] = (float)tr_rng_normal(&g) * 3.0f;
      if (lg[i] > lg[am]) am = i;
    }
    TrSampleConfig s = plain();
    s.temperature = 0.0;
    s.top_k = 3;
    s.top_p = 0.1;
    s.min_p = 0.5;
    tr_rng_seed(&r, 5);
    TrRng before = r;
    cr_assert_eq(tr_sample_next(&s, lg, 37, NULL, scratch, &r), am);
    cr_assert_eq(memcmp(&before, &r, sizeof r), 0, "greedy consumed random numbers");
  }
}

/* Recover the penalised logits from the temperature-1 distribution: log p_i - log p_0. */
static void penalised(const TrSampleConfig *s, const float *lg, const int *counts, int V, double *z) {
  double p[8];
  cr_assert_eq(tr_sample_probs(s, lg, V, counts, p), V);
  for (int i = 0; i < V; i++) z[i] = log(p[i]) - log(p[0]) + lg[0];
}

Test(tr_sample, penalties_change_exactly_the_generated_tokens) {
  /* token 0 never generated (the reference), 1..3 generated with positive logits,
     4..5 generated with negative logits, 6..7 not generated */
  const float lg[8] = {0.5f, 2.0f, 1.0f, 3.0f, -1.0f, -2.5f, 1.5f, -0.7f};
  const int counts[8] = {0, 1, 2, 3, 1, 4, 0, 0};
  double z[8];
  TrSampleConfig s = plain();
  s.repetition_penalty = 1.3;
  penalised(&s, lg, counts, 8, z);
  for (int i = 0; i < 8; i++) {
    double want = counts[i] == 0 ? lg[i] : lg[i] > 0 ? lg[i] / 1.3 : lg[i] * 1.3;
    cr_assert(fabs(z[i] - want) < 1e-9, "repetition: token %d: %.9f, expected %.9f", i, z[i], want);
  }
  s = plain();
  s.frequency_penalty = 0.4;
  penalised(&s, lg, counts, 8, z);
  for (int i = 0; i < 8; i++)
    cr_assert(fabs(z[i] - (lg[i] - 0.4 * counts[i])) < 1e-9, "frequency: token %d", i);
  s = plain();
  s.presence_penalty = 0.7;
  penalised(&s, lg, counts, 8, z);
  for (int i = 0; i < 8; i++)
    cr_assert(fabs(z[i] - (lg[i] - (counts[i] ? 0.7 : 0.0))) < 1e-9, "presence: token %d", i);
  /* all three: repetition first, then the additive ones */
  s.repetition_penalty = 2.0;
  s.frequency_penalty = 0.25;
  penalised(&s, lg, counts, 8, z);
  for (int i = 0; i < 8; i++) {
    double want = lg[i];
    if (counts[i]) want = (want > 0 ? want / 2.0 : want * 2.0) - 0.25 * counts[i] - 0.7;
    cr_assert(fabs(z[i] - want) < 1e-9, "combined: token %d: %.9f, expected %.9f", i, z[i], want);
  }
  /* a penalty can flip the greedy choice */
  s = plain();
  s.temperature = 0;
  double p[8];
  tr_sample_probs(&s, lg, 8, counts, p);
  cr_assert(p[3] == 1.0);
  s.frequency_penalty = 1.0; /* 3 - 3 = 0 < 2 - 1 = 1 < 1.5 */
  tr_sample_probs(&s, lg, 8, counts, p);
  cr_assert(p[6] == 1.0);
}

/* ---- the KV cache ------------------------------------------------------------- */

static TrModel *rand_model_p(int V, int T, int L, int NH, int C, int bias, uint64_t seed, int mup_base) {
  TrModelConfig mc = {0};
  if (mup_base) mc.parametrization = TR_PARAM_MUP, mc.mup_base_width = mup_base;
  mc.n_layer = L;
  mc.n_head = NH;
  mc.d_model = C;
  mc.context_length = T;
  mc.mlp_ratio = 4;
  mc.bias = bias;
  mc.vocab_size = V;
  TrModel *m = NULL;
  TrErr err = {0};
  cr_assert_eq(tr_model_create(&m, &mc, 1, &err), TR_OK, "%s", err.msg);
  TrRng r;
  tr_rng_seed(&r, seed);
  tr_model_init(m, &r);
  /* perturb everything (gains, biases too) so every parameter matters */
  float *p = tr_model_params(m);
  for (size_t i = 0; i < tr_model_num_params(m); i++) p[i] += (float)(0.1 * tr_rng_normal(&r));
  return m;
}

static TrModel *rand_model(int V, int T, int L, int NH, int C, int bias, uint64_t seed) {
  return rand_model_p(V, T, L, NH, C, bias, seed, 0);
}

/* The logits of the last position of a full forward over toks[0..n). */
static void full_logits(TrModel *m, const int *toks, int n, float *out) {
  int V = tr_model_config(m)->vocab_size;
  tr_model_forward(m, toks, NULL, 1, n, 0, NULL);
  memcpy(out, tr_model_logits(m) + (size_t)(n - 1) * V, (size_t)V * sizeof(float));
}

static void assert_close(const float *a, const float *b, int V, const char *what, int pos) {
  float mx = 1.0f, d = 0.0f;
  for (int i = 0; i < V; i++) {
    mx = fmaxf(mx, fabsf(b[i]));
    d = fmaxf(d, fabsf(a[i] - b[i]));
  }
  cr_assert(d <= 1e-4f * mx, "%s at %d: max diff %g (scale %g)", what, pos, (double)d, (double)mx);
}

/* bias 0 and 1 under standard, then bias 1 under muP (base 8: w = 4, 1/d_head attention) */
Test(tr_sample, kv_cache_equals_full_recompute_at_every_position) {
  const int V = 41, T = 24;
  for (int bias = 0; bias <= 2; bias++) {
    TrModel *m = rand_model_p(V, T, 3, 4, 32, bias > 0, 7 + (uint64_t)bias, bias == 2 ? 8 : 0);
    TrSampler *s = NULL;
    cr_assert_eq(tr_sampler_create(&s, m, NULL), TR_OK);
    int toks[24];
    TrRng r;
    tr_rng_seed(&r, 3);
    for (int i = 0; i < T; i++) toks[i] = (int)tr_rng_below(&r, V);
    float ref[41];
    for (int i = 0; i < T; i++) {
      const float *lg = tr_sampler_feed(s, &toks[i], 1);
      cr_assert_not_null(lg);
      full_logits(m, toks, i + 1, ref);
      assert_close(lg, ref, V, "one token at a time", i);
    }
    /* a prefill block, then single tokens */
    tr_sampler_reset(s);
    const float *lg = tr_sampler_feed(s, toks, 10);
    full_logits(m, toks, 10, ref);
    assert_close(lg, ref, V, "prefill", 9);
    lg = tr_sampler_feed(s, toks + 10, 5);
    full_logits(m, toks, 15, ref);
    assert_close(lg, ref, V, "second block", 14);
    int bad = V;
    cr_assert_null(tr_sampler_feed(s, &bad, 1));
    tr_sampler_destroy(s);
    tr_model_destroy(m);
  }
}

Test(tr_sample, prompt_longer_than_context_keeps_its_last_tokens) {
  const int V = 30, T = 16;
  TrModel *m = rand_model(V, T, 2, 2, 16, 1, 11);
  TrSampler *s = NULL;
  cr_assert_eq(tr_sampler_create(&s, m, NULL), TR_OK);
  int toks[40];
  for (int i = 0; i < 40; i++) toks[i] = (i * 7 + 3) % V;
  const float *lg = tr_sampler_feed(s, toks, 40);
  int n = 0;
  const int *w = tr_sampler_window(s, &n);
  cr_assert_eq(n, T);
  cr_assert_eq(memcmp(w, toks + 40 - T, (size_t)T * sizeof(int)), 0);
  float ref[30];
  full_logits(m, toks + 40 - T, T, ref);
  assert_close(lg, ref, V, "long prompt", T - 1);
  tr_sampler_destroy(s);
  tr_model_destroy(m);
}

Test(tr_sample, sliding_past_the_context_reprefills_the_last_half) {
  const int V = 30, T = 16;
  TrModel *m = rand_model(V, T, 2, 2, 16, 1, 12);
  TrSampler *s = NULL;
  cr_assert_eq(tr_sampler_create(&s, m, NULL), TR_OK);
  int hist[100];
  TrRng r;
  tr_rng_seed(&r, 4);
  for (int i = 0; i < 100; i++) hist[i] = (int)tr_rng_below(&r, V);
  tr_sampler_feed(s, hist, T);
  float ref[30];
  int slides = 0;
  for (int i = T; i < 100; i++) {
    int before = 0;
    tr_sampler_window(s, &before);
    const float *lg = tr_sampler_feed(s, &hist[i], 1);
    int n = 0;
    const int *w = tr_sampler_window(s, &n);
    if (before == T) {
      cr_assert_eq(n, T / 2 + 1, "a full window slides to T/2 + 1 tokens");
      slides++;
    } else
      cr_assert_eq(n, before + 1);
    /* the window is always the tail of the history */
    cr_assert_eq(memcmp(w, hist + i + 1 - n, (size_t)n * sizeof(int)), 0, "window at %d", i);
    full_logits(m, w, n, ref);
    assert_close(lg, ref, V, "after sliding", i);
  }
  cr_assert_geq(slides, 9);
  tr_sampler_destroy(s);
  tr_model_destroy(m);
}

/* ---- generation --------------------------------------------------------------- */

static TrVocab *byte_vocab(void) {
  unsigned char b[20] = "TRVOCAB";
  uint32_t v[3] = {1, 0, 256}; /* version, kind byte, size */
  memcpy(b + 8, v, sizeof v);
  TrVocab *voc = NULL;
  TrErr err = {0};
  cr_assert_eq(tr_vocab_from_bytes(&voc, b, sizeof b, &err), TR_OK, "%s", err.msg);
  return voc;
}

static int gen(TrSampler *smp, const TrSampleConfig *s, const TrVocab *voc, const int *prompt, int np,
               int max_new, uint64_t seed, int *out, TrSampleOut *so) {
  TrRng r;
  tr_rng_seed(&r, seed);
  TrErr err = {0};
  cr_assert_eq(tr_sample_generate(smp, s, voc, prompt, np, 10, max_new, &r, out, NULL, NULL, so, &err),
               TR_OK, "%s", err.msg);
  return so->n_tokens;
}

Test(tr_sample, same_seed_same_text_and_stop_text_ends_the_sample) {
  TrModel *m = rand_model(256, 32, 2, 2, 32, 1, 21);
  TrSampler *smp = NULL;
  cr_assert_eq(tr_sampler_create(&smp, m, NULL), TR_OK);
  TrVocab *voc = byte_vocab();
  TrSampleConfig s = plain();
  s.temperature = 1.5; /* nearly uniform over bytes: every byte shows up */
  s.frequency_penalty = 0.1;
  int a[400], b[400], prompt[3] = {72, 105, 33};
  TrSampleOut oa, ob;
  cr_assert_eq(gen(smp, &s, voc, prompt, 3, 400, 5, a, &oa), 400);
  cr_assert_eq(gen(smp, &s, voc, prompt, 3, 400, 5, b, &ob), 400);
  cr_assert_eq(memcmp(a, b, sizeof a), 0, "same seed, different text");
  cr_assert_eq(oa.logprob_sum, ob.logprob_sum);
  cr_assert(oa.logprob_sum < 0 && isfinite(oa.logprob_sum));
  gen(smp, &s, voc, prompt, 3, 400, 6, b, &ob);
  cr_assert_neq(memcmp(a, b, sizeof a), 0, "different seeds, same text");
  /* stop at the first occurrence of the two bytes a[200..201] */
  s.stop[0] = (char)a[200];
  s.stop[1] = (char)a[201];
  s.stop[2] = '\0';
  int first = 0;
  while (!(a[first] == a[200] && a[first + 1] == a[201])) first++;
  if (s.stop[0] != 0 && s.stop[1] != 0) {
    int n = gen(smp, &s, voc, prompt, 3, 400, 5, b, &ob);
    cr_assert_eq(n, first + 2, "stopped after %d tokens, expected %d", n, first + 2);
    cr_assert_eq(ob.stopped, 1);
    cr_assert_eq(memcmp(a, b, (size_t)n * sizeof(int)), 0);
  }
  /* the prompt does not count for the stop text */
  s.stop[0] = 'H';
  s.stop[1] = '\0';
  int n = gen(smp, &s, voc, prompt, 3, 400, 5, b, &ob);
  int firsth = 0;
  while (firsth < 400 && a[firsth] != 'H') firsth++;
  cr_assert_eq(n, firsth < 400 ? firsth + 1 : 400);
  /* generation past the context (32) goes on */
  s.stop[0] = '\0';
  cr_assert_eq(gen(smp, &s, voc, NULL, 0, 100, 5, b, &ob), 100);
  tr_vocab_destroy(voc);
  tr_sampler_destroy(smp);
  tr_model_destroy(m);
}

Test(tr_sample, greedy_generation_follows_the_full_model) {
  TrModel *m = rand_model(50, 12, 2, 2, 16, 0, 31);
  TrSampler *smp = NULL;
  cr_assert_eq(tr_sampler_create(&smp, m, NULL), TR_OK);
  TrSampleConfig s = plain();
  s.temperature = 0;
  int out[8], prompt[2] = {1, 2}, seq[10] = {1, 2};
  TrSampleOut so;
  gen(smp, &s, NULL, prompt, 2, 8, 1, out, &so);
  for (int i = 0; i < 8; i++) {
    float ref[50];
    full_logits(m, seq, 2 + i, ref);
    int am = 0;
    for (int j = 1; j < 50; j++)
      if (ref[j] > ref[am]) am = j;
    cr_assert_eq(out[i], am, "step %d", i);
    seq[2 + i] = am;
  }
  tr_sampler_destroy(smp);
  tr_model_destroy(m);
}

/* ---- checkpoints and the CLI --------------------------------------------------- */

static char tmp[64];

static void train_tiny(void) {
  strcpy(tmp, "/tmp/hps_sample_XXXXXX");
  cr_assert_not_null(mkdtemp(tmp));
  TrConfig c;
  tr_config_defaults(&c);
  TrErr err = {0};
  char out_dir[128];
  snprintf(out_dir, sizeof out_dir, "%s/run", tmp);
  const char *sets[][2] = {{"model.n_layer", "1"},        {"model.d_model", "16"},   {"model.n_head", "2"},
                           {"model.context_length", "16"}, {"train.batch_size", "4"}, {"train.max_steps", "5"},
                           {"train.eval_interval", "5"},   {"train.eval_batches", "1"},
                           {"train.threads", "1"},         {"data.synthetic_bytes", "20000"},
                           {"sample.max_tokens", "7"},    {"train.out_dir", out_dir}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    cr_assert_eq(tr_config_set(&c, sets[i][0], sets[i][1], &err), TR_OK, "%s", err.msg);
  TrRunHooks h = {0};
  TrRunResult res;
  cr_assert_eq(tr_run(&c, &h, &res, &err), TR_OK, "%s", err.msg);
}

static void rmtmp(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  cr_assert_eq(system(cmd), 0);
}

Test(tr_sample, load_rebuilds_config_model_and_vocabulary) {
  train_tiny();
  char path[128];
  snprintf(path, sizeof path, "%s/run/ckpt.bin", tmp);
  TrConfig c;
  TrModel *m = NULL;
  TrVocab *v = NULL;
  TrErr err = {0};
  cr_assert_eq(tr_sample_load(path, &c, &m, &v, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(c.model.d_model, 16);
  cr_assert_eq(c.sample.max_tokens, 7);
  cr_assert_eq(c.model.vocab_size, tr_vocab_size(v));
  cr_assert_eq(tr_model_config(m)->context_length, 16);
  cr_assert_eq(tr_sample_start_token(v), 10, "byte vocabulary: newline is token 10");
  tr_model_destroy(m);
  tr_vocab_destroy(v);
  snprintf(path, sizeof path, "%s/none.bin", tmp);
  cr_assert_neq(tr_sample_load(path, &c, &m, &v, &err), TR_OK);
  cr_assert_not_null(strstr(err.msg, "none.bin"), "error names the path: %s", err.msg);
  cr_assert_null(m);
  rmtmp();
}

/* Run the CLI; stdout into out (NUL-terminated); returns the exit status. */
static int run_cli(const char *args, char *out, size_t n) {
  const char *bin = getenv("HPS_BIN");
  cr_assert_not_null(bin, "HPS_BIN is not set (run through meson test)");
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "'%s' %s 2>%s/err.txt", bin, args, tmp);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  size_t k = fread(out, 1, n - 1, p);
  out[k] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static void read_err(char *buf, size_t n) {
  char path[128];
  snprintf(path, sizeof path, "%s/err.txt", tmp);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f);
  size_t k = fread(buf, 1, n - 1, f);
  buf[k] = '\0';
  fclose(f);
}

Test(tr_sample, cli_streams_samples_and_rejects_bad_input) {
  train_tiny();
  char args[512], out[8192], out2[8192], e[2048];
  snprintf(args, sizeof args, "sample %s/run/ckpt.bin --prompt 'ka ' --seed 3 -n 1", tmp);
  cr_assert_eq(run_cli(args, out, sizeof out), 0);
  cr_assert_eq(strncmp(out, "ka ", 3), 0, "the prompt is echoed first: '%s'", out);
  cr_assert_eq(strlen(out), 3 + 7 + 1, "7 tokens (the checkpoint's sample.max_tokens) and a newline: '%s'", out);
  cr_assert_eq(run_cli(args, out2, sizeof out2), 0);
  cr_assert_str_eq(out, out2, "same seed, same text");
  snprintf(args, sizeof args, "sample %s/run/ckpt.bin --max-tokens 20 -n 3 --temperature 0", tmp);
  cr_assert_eq(run_cli(args, out, sizeof out), 0);
  cr_assert_gt(strlen(out), 20);
  const char *bad[] = {"--temperature -1", "--top-p 0", "--top-k x", "--max-tokens 0", "--bogus",
                       "--repetition-penalty 0", "--prompt"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    snprintf(args, sizeof args, "sample %s/run/ckpt.bin %s", tmp, bad[i]);
    cr_assert_eq(run_cli(args, out, sizeof out), 2, "%s", bad[i]);
    read_err(e, sizeof e);
    cr_assert_eq(strncmp(e, "hpsweep sample: ", 16), 0, "%s: '%s'", bad[i], e);
    cr_assert_eq(strchr(e, '\n'), e + strlen(e) - 1, "one line: '%s'", e);
  }
  snprintf(args, sizeof args, "sample %s/nope.bin", tmp);
  cr_assert_eq(run_cli(args, out, sizeof out), 2);
  snprintf(args, sizeof args, "sample %s/err.txt", tmp);
  cr_assert_eq(run_cli(args, out, sizeof out), 2, "not a checkpoint");
  read_err(e, sizeof e);
  cr_assert_not_null(strstr(e, "err.txt"), "%s", e);
  cr_assert_eq(run_cli("sample", out, sizeof out), 2, "no checkpoint");
  rmtmp();
}
