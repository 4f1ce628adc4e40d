/* test_tr_attn.c: the attention kernels (tr_attn.h), fused and sgemm.
**
** Gradients against central finite differences of loss = sum(out * R) (summed in
** double, dout = R): every element for small shapes, a stride through the larger
** ones; |num - ana| <= rtol*|ana| + atol*max|ana|. The fused kernel against the
** sgemm one at the benchmark shapes' head sizes, its determinism, its log-sum-exp,
** causality, the qk scale and the path choice. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_attn.h"
#include "tr_ops.h"
#include "tr_rng.h"
#include "tr_numtest.h"

#ifdef _OPENMP
#include <omp.h>
#endif

static uint8_t *drop_mask(size_t n, float p) {
  if (p <= 0) return NULL;
  uint8_t *m = malloc(n);
  tr_dropout_mask(m, n, p, &rng);
  return m;
}

static void setup(void) {
  tr_rng_seed(&rng, 4242);
  unsetenv("HPS_ATTN");
}

TestSuite(tr_attn, .init = setup);

/* One attention problem: inputs, the forward's outputs, either path. */
typedef struct {
  int B, T, C, NH, sgemm;
  float qk, ks;
  float *qkv, *r, *out, *saved, *scratch;
  uint8_t *mask;
} Att;

static Att att_make(int B, int T, int C, int NH, float p, float qk, int sgemm) {
  Att a = {B, T, C, NH, sgemm, qk, p > 0 ? 1.0f / (1.0f - p) : 1.0f, NULL, NULL, NULL, NULL, NULL, NULL};
  size_t nt = (size_t)B * NH * T * T;
  a.qkv = randn((size_t)B * T * 3 * C, 1);
  a.r = randn((size_t)B * T * C, 1);
  a.out = zeros((size_t)B * T * C);
  a.saved = zeros(sgemm ? nt : (size_t)B * NH * T);
  a.scratch = zeros(2 * (size_t)T * T);
  a.mask = drop_mask(nt, p);
  return a;
}

static void att_free(Att *a) {
  free(a->qkv), free(a->r), free(a->out), free(a->saved), free(a->scratch), free(a->mask);
}

static void att_forward(Att *a) {
  if (a->sgemm)
    tr_attn_sgemm_forward(a->out, a->saved, a->qkv, a->mask, a->ks, a->scratch, a->B, a->T, a->C,
                          a->NH, a->qk);
  else
    tr_attn_forward(a->out, a->saved, a->qkv, a->mask, a->ks, a->B, a->T, a->C, a->NH, a->qk);
}

/* dqkv of the last forward for dout = R */
static void att_backward(Att *a, float *dqkv) {
  if (a->sgemm)
    tr_attn_sgemm_backward(dqkv, a->r, a->qkv, a->saved, a->mask, a->ks, a->scratch, a->B, a->T,
                           a->C, a->NH, a->qk);
  else
    tr_attn_backward(dqkv, a->r, a->out, a->qkv, a->saved, a->mask, a->ks, a->B, a->T, a->C, a->NH,
                     a->qk);
}

static double att_loss(Att *a) {
  att_forward(a);
  double s = 0;
  for (size_t i = 0; i < (size_t)a->B * a->T * a->C; i++) s += (double)a->out[i] * a->r[i];
  return s;
}

/* Finite differences of every stride-th element of qkv (plus the last one). */
static void check_grad(Att *a, size_t stride) {
  size_t nq = (size_t)a->B * a->T * 3 * a->C;
  att_loss(a);
  float *ana = randn(nq, 1); /* garbage: the backward must overwrite it */
  att_backward(a, ana);
  double amax = 0;
  for (size_t i = 0; i < nq; i++) amax = fmax(amax, fabs(ana[i]));
  cr_assert(amax > 0, "analytic gradient is all zero");
  const float h = 1e-2f;
  for (size_t i = 0; i < nq; i = i + stride < nq || i == nq - 1 ? i + stride : nq - 1) {
    float save = a->qkv[i];
    a->qkv[i] = save + h;
    double xp = a->qkv[i], lp = att_loss(a);
    a->qkv[i] = save - h;
    double xm = a->qkv[i], lm = att_loss(a);
    a->qkv[i] = save;
    double num = (lp - lm) / (xp - xm), err = fabs(num - ana[i]);
    cr_assert(err <= 1e-2 * fabs(ana[i]) + 1e-3 * amax,
              "T %d C %d NH %d: dqkv[%zu] analytic %.7g, numeric %.7g (max|grad| %.3g)", a->T, a->C,
              a->NH, i, (double)ana[i], num, amax);
  }
  free(ana);
}

static void fused_check(int B, int T, int C, int NH, float p, float qk, size_t stride) {
  Att a = att_make(B, T, C, NH, p, qk, 0);
  check_grad(&a, stride);
  att_free(&a);
}

/* ---- gradients ---- */

Test(tr_attn, fused_backward_matches_finite_differences_inside_one_diagonal_block) {
  fused_check(2, 7, 8, 2, 0.0f, 0.5f, 1); /* T < block: only the diagonal tile */
}

Test(tr_attn, fused_backward_matches_finite_differences_across_blocks_odd_T_hs_32) {
  fused_check(1, 37, 64, 2, 0.0f, 1.0f / sqrtf(32.0f), 5);          /* 32 + 5: a partial block */
  fused_check(1, TR_ATTN_BK + 1, 64, 2, 0.0f, 1.0f / 32.0f, 7);     /* muP 1/hs */
}

Test(tr_attn, fused_backward_matches_finite_differences_across_blocks_odd_T_hs_64) {
  fused_check(1, 67, 128, 2, 0.0f, 1.0f / 8.0f, 23);  /* three key blocks, 1/sqrt(hs) */
  fused_check(1, 45, 128, 2, 0.0f, 1.0f / 64.0f, 17); /* muP */
}

Test(tr_attn, fused_backward_with_dropout_mask_matches_finite_differences) {
  fused_check(2, 6, 8, 2, 0.3f, 0.5f, 1);
  fused_check(1, 41, 64, 2, 0.3f, 1.0f / 32.0f, 7);
}

Test(tr_attn, sgemm_backward_matches_finite_differences) {
  int shapes[][3] = {{7, 8, 2}, {67, 4, 2}}; /* T > 64: the sgemm row blocks */
  for (int s = 0; s < 2; s++)
    for (int d = 0; d < 2; d++) {
      Att a = att_make(2, shapes[s][0], shapes[s][1], shapes[s][2], d ? 0.3f : 0.0f, 0.5f, 1);
      check_grad(&a, s ? 5 : 1);
      att_free(&a);
    }
}

/* ---- fused against sgemm ---- */

static void compare_paths(int B, int T, int C, int NH, float p) {
  float qk = 1.0f / sqrtf((float)(C / NH));
  Att f = att_make(B, T, C, NH, p, qk, 0), s = att_make(B, T, C, NH, 0.0f, qk, 1);
  size_t nq = (size_t)B * T * 3 * C, no = (size_t)B * T * C;
  memcpy(s.qkv, f.qkv, nq * sizeof(float));
  memcpy(s.r, f.r, no * sizeof(float));
  s.mask = f.mask, s.ks = f.ks;
  float *df = zeros(nq), *ds = zeros(nq);
  att_forward(&f), att_forward(&s);
  att_backward(&f, df), att_backward(&s, ds);
  for (size_t i = 0; i < no; i++)
    cr_assert(fabsf(f.out[i] - s.out[i]) <= 1e-5f + 1e-4f * fabsf(s.out[i]), "T %d out[%zu]: %g vs %g",
              T, i, (double)f.out[i], (double)s.out[i]);
  for (size_t i = 0; i < nq; i++)
    cr_assert(fabsf(df[i] - ds[i]) <= 1e-5f + 1e-4f * fabsf(ds[i]), "T %d dqkv[%zu]: %g vs %g", T, i,
              (double)df[i], (double)ds[i]);
  s.mask = NULL;
  att_free(&f), att_free(&s), free(df), free(ds);
}

Test(tr_attn, fused_agrees_with_sgemm_at_the_bench_head_sizes) {
  compare_paths(2, 64, 128, 4, 0.0f);  /* shape T: hs 32 */
  compare_paths(1, 256, 128, 2, 0.0f); /* shape S's heads: hs 64, T 256 */
  compare_paths(1, 100, 96, 3, 0.0f);  /* T not a multiple of any block */
}

Test(tr_attn, fused_agrees_with_sgemm_under_attention_dropout) {
  compare_paths(2, 64, 128, 4, 0.2f);
  compare_paths(1, 77, 128, 2, 0.2f);
}

/* ---- properties of the fused kernel ---- */

Test(tr_attn, fused_runs_are_bit_identical) {
  Att a = att_make(2, 70, 128, 2, 0.1f, 0.125f, 0);
  size_t nq = (size_t)2 * 70 * 3 * 128, no = (size_t)2 * 70 * 128, nl = (size_t)2 * 2 * 70;
  float *o1 = zeros(no), *l1 = zeros(nl), *d1 = zeros(nq), *d2 = zeros(nq);
  att_forward(&a);
  att_backward(&a, d1);
  memcpy(o1, a.out, no * sizeof(float));
  memcpy(l1, a.saved, nl * sizeof(float));
  memset(a.out, 0, no * sizeof(float));
  att_forward(&a);
  att_backward(&a, d2);
  cr_assert(memcmp(o1, a.out, no * sizeof(float)) == 0, "out differs between runs");
  cr_assert(memcmp(l1, a.saved, nl * sizeof(float)) == 0, "lse differs between runs");
  cr_assert(memcmp(d1, d2, nq * sizeof(float)) == 0, "dqkv differs between runs");
  att_free(&a), free(o1), free(l1), free(d1), free(d2);
}

#ifdef _OPENMP
/* The (batch, head) units are independent: 1 and 2 OpenMP threads give the same bits. */
Test(tr_attn, fused_gives_the_same_bits_at_one_and_two_openmp_threads) {
  Att a = att_make(3, 70, 128, 2, 0.1f, 0.125f, 0);
  size_t nq = (size_t)3 * 70 * 3 * 128, no = (size_t)3 * 70 * 128;
  float *o1 = zeros(no), *d1 = zeros(nq), *d2 = zeros(nq);
  int before = omp_get_max_threads();
  omp_set_num_threads(1);
  att_forward(&a);
  att_backward(&a, d1);
  memcpy(o1, a.out, no * sizeof(float));
  omp_set_num_threads(2);
  att_forward(&a);
  att_backward(&a, d2);
  omp_set_num_threads(before);
  cr_assert(memcmp(o1, a.out, no * sizeof(float)) == 0, "out differs between 1 and 2 threads");
  cr_assert(memcmp(d1, d2, nq * sizeof(float)) == 0, "dqkv differs between 1 and 2 threads");
  att_free(&a), free(o1), free(d1), free(d2);
}
#endif

Test(tr_attn, fused_forward_keeps_each_rows_log_sum_exp_of_the_scaled_causal_logits) {
  int B = 1, T = 50, C = 64, NH = 2, hs = 32;
  float qk = 0.2f;
  Att a = att_make(B, T, C, NH, 0.0f, qk, 0);
  att_forward(&a);
  for (int h = 0; h < NH; h++)
    for (int i = 0; i < T; i++) {
      const float *q = a.qkv + (size_t)i * 3 * C + h * hs;
      double mx = -1e300, z = 0, s[64];
      for (int j = 0; j <= i; j++) {
        const float *k = a.qkv + (size_t)j * 3 * C + C + h * hs;
        double d = 0;
        for (int x = 0; x < hs; x++) d += (double)q[x] * k[x];
        s[j] = d * qk;
        mx = fmax(mx, s[j]);
      }
      for (int j = 0; j <= i; j++) z += exp(s[j] - mx);
      double want = mx + log(z);
      cr_assert(fabs(a.saved[h * T + i] - want) <= 1e-5 * (1 + fabs(want)), "lse[%d,%d] %g, want %g", h,
                i, (double)a.saved[h * T + i], want);
    }
  att_free(&a);
}

Test(tr_attn, fused_is_causal_later_positions_do_not_change_earlier_outputs) {
  int B = 1, T = 70, C = 64, NH = 2;
  Att a = att_make(B, T, C, NH, 0.0f, 0.5f, 0);
  float *o1 = zeros((size_t)T * C);
  att_forward(&a);
  memcpy(o1, a.out, (size_t)T * C * sizeof(float));
  int t0 = 50; /* change q, k, v of every position from t0 on */
  for (int t = t0; t < T; t++)
    for (int i = 0; i < 3 * C; i++) a.qkv[(size_t)t * 3 * C + i] += 1.5f;
  att_forward(&a);
  for (int i = 0; i < t0 * C; i++) cr_assert_eq(o1[i], a.out[i], "output %d changed", i);
  int changed = 0;
  for (int i = t0 * C; i < T * C; i++) changed |= o1[i] != a.out[i];
  cr_assert(changed);
  att_free(&a), free(o1);
}

Test(tr_attn, sgemm_weights_above_the_diagonal_are_zero) {
  int B = 1, T = 70, C = 8, NH = 2;
  Att a = att_make(B, T, C, NH, 0.0f, 0.5f, 1);
  att_forward(&a);
  for (int i = 0; i < NH; i++)
    for (int r = 0; r < T; r++)
      for (int j = r + 1; j < T; j++)
        cr_assert_eq(a.saved[(size_t)i * T * T + (size_t)r * T + j], 0.0f, "att[%d,%d,%d] != 0", i, r, j);
  att_free(&a);
}

Test(tr_attn, qk_scale_multiplies_the_logits_before_the_softmax_on_both_paths) {
  /* two scales on one qkv equal one scale on q multiplied by their ratio */
  for (int path = 0; path < 2; path++) {
    int B = 1, T = 5, C = 8, NH = 2;
    Att a = att_make(B, T, C, NH, 0.0f, 0.25f, path), b = att_make(B, T, C, NH, 0.0f, 0.5f, path);
    memcpy(b.qkv, a.qkv, (size_t)T * 3 * C * sizeof(float));
    for (int t = 0; t < T; t++)
      for (int i = 0; i < C; i++) b.qkv[(size_t)t * 3 * C + i] *= 0.5f; /* q only */
    att_forward(&a), att_forward(&b);
    for (int i = 0; i < T * C; i++) cr_assert_float_eq(a.out[i], b.out[i], 1e-6f, "out[%d]", i);
    memcpy(b.qkv, a.qkv, (size_t)T * 3 * C * sizeof(float));
    att_forward(&b);
    int differ = 0;
    for (int i = C; i < T * C; i++) differ |= fabsf(a.out[i] - b.out[i]) > 1e-4f;
    cr_assert(differ, "the scale must change the output");
    att_free(&a), att_free(&b);
  }
}

/* ---- the path ---- */

Test(tr_attn, path_is_fused_for_small_heads_sgemm_beyond_hs_max_and_hps_attn_overrides) {
  cr_assert_eq(tr_attn_path(64, 32), TR_ATTN_FUSED);
  cr_assert_eq(tr_attn_path(256, 64), TR_ATTN_FUSED);
  cr_assert_eq(tr_attn_path(256, TR_ATTN_HS_MAX + 1), TR_ATTN_SGEMM);
  setenv("HPS_ATTN", "sgemm", 1);
  cr_assert_eq(tr_attn_path(64, 32), TR_ATTN_SGEMM);
  setenv("HPS_ATTN", "fused", 1);
  cr_assert_eq(tr_attn_path(256, TR_ATTN_HS_MAX + 1), TR_ATTN_SGEMM, "the fused tiles stop at hs_max");
  cr_assert_eq(tr_attn_path(256, 64), TR_ATTN_FUSED);
  unsetenv("HPS_ATTN");
  cr_assert_eq(tr_attn_saved_floats(TR_ATTN_FUSED, 8, 6, 256), (size_t)8 * 6 * 256);
  cr_assert_eq(tr_attn_saved_floats(TR_ATTN_SGEMM, 8, 6, 256), (size_t)8 * 6 * 256 * 256);
  cr_assert_eq(tr_attn_scratch_floats(TR_ATTN_FUSED, 256), 0u);
  cr_assert_eq(tr_attn_scratch_floats(TR_ATTN_SGEMM, 256), (size_t)2 * 256 * 256);
}
