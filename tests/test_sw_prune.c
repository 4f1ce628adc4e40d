/*
** test_sw_prune.c: early-termination decisions over hand-made curves: W&B hyperband
** with W&B's own test vectors, Optuna's median rule, ASHA rungs and promotions,
** Hyperband brackets.
*/
#include <criterion/criterion.h>
#include <math.h>
#include <string.h>

#include "sw_prune.h"

#define MAXC 40
#define MAXV 64

/* Curves built in static storage: curve i has idx i unless set otherwise. */
static RsCurve C[MAXC];
static int64_t STEP[MAXC][MAXV];
static double VAL[MAXC][MAXV];

/* Curve i: values v[0..n) at steps step0, step0 + dstep, ... */
static void curve(size_t i, RsStatus st, const double *v, size_t n, int64_t step0, int64_t dstep) {
  cr_assert(i < MAXC && n <= MAXV);
  for (size_t k = 0; k < n; k++) {
    STEP[i][k] = step0 + (int64_t)k * dstep;
    VAL[i][k] = v[k];
  }
  C[i] = (RsCurve){.trial_id = (int64_t)i + 1, .idx = (int)i, .status = st,
                   .completed = st == RS_COMPLETED, .paused = 0, .n = n,
                   .step = STEP[i], .value = VAL[i]};
}

/* W&B-style curve: the k-th value at iteration k (steps 1, 2, ...). */
static void iters(size_t i, RsStatus st, const double *v, size_t n) { curve(i, st, v, n, 1, 1); }

static SwEarlyTerminate wandb_min(int64_t min_iter, double eta) {
  return (SwEarlyTerminate){.enabled = 1, .type = SW_ET_WANDB, .min_iter = min_iter, .eta = eta,
                            .strict = 1};
}

static SwEarlyTerminate wandb_max(int64_t max_iter, double eta, double s) {
  return (SwEarlyTerminate){.enabled = 1, .type = SW_ET_WANDB, .max_iter = max_iter, .eta = eta,
                            .s = s, .strict = 1};
}

static SwAction judge(const SwEarlyTerminate *et, int maximize, size_t n, size_t self, SwVerdict *v) {
  sw_prune_judge(et, maximize, C, n, self, v);
  return v->action;
}

/* ---- W&B hyperband ------------------------------------------------------ */

Test(sw_prune, wandb_min_iter_3_eta_3_stops_a_at_band_3) {
  double a[] = {10, 10, 10, 10}, b[] = {10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
  iters(0, RS_RUNNING, a, 4);
  iters(1, RS_RUNNING, b, 10);
  SwEarlyTerminate et = wandb_min(3, 3);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 2, 0, &v), SW_PRUNE);
  cr_assert_eq(v.at, 3);
  cr_assert_eq(v.threshold, 8);
  cr_assert_eq(v.value, 10);
  cr_assert_eq(v.n, 2);
  cr_assert(strstr(v.reason, "band 3"), "%s", v.reason);
  cr_assert_eq(judge(&et, 0, 2, 1, &v), SW_KEEP, "B continues: %s", v.reason);
  cr_assert_eq(v.at, 9, "B is judged at band 9, its length being 10");
}

Test(sw_prune, wandb_min_iter_maximize_stops_the_flat_trial) {
  double a[] = {10, 10, 10, 10}, b[] = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
  iters(0, RS_RUNNING, a, 4);
  iters(1, RS_RUNNING, b, 10);
  SwEarlyTerminate et = wandb_min(3, 3);
  SwVerdict v;
  cr_assert_eq(judge(&et, 1, 2, 0, &v), SW_PRUNE);
  cr_assert_eq(v.threshold, 12, "thresholds are reported in the metric's own sign");
  cr_assert_eq(judge(&et, 1, 2, 1, &v), SW_KEEP);
}

static void assert_bands(const SwEarlyTerminate *et, const int64_t *want, size_t n) {
  int64_t got[16];
  size_t k = sw_prune_levels(et, 0, got, 16);
  cr_assert_eq(k, n, "got %zu bands", k);
  for (size_t i = 0; i < n; i++) cr_assert_eq(got[i], want[i], "band %zu: %lld", i, (long long)got[i]);
}

Test(sw_prune, wandb_bands_from_max_iter) {
  SwEarlyTerminate et = wandb_max(5, 2, 2);
  assert_bands(&et, (int64_t[]){1, 2}, 2);
  et = wandb_max(27, 3, 2);
  assert_bands(&et, (int64_t[]){3, 9}, 2);
  et = wandb_max(150, 3, 4);
  assert_bands(&et, (int64_t[]){1, 5, 16, 50}, 4);
  et = wandb_max(150, 4, 4); /* 37.5, 9.375, 2.34, then 0.59 < 1 stops */
  assert_bands(&et, (int64_t[]){2, 9, 37}, 3);
  et = wandb_max(18, 3, 2);
  assert_bands(&et, (int64_t[]){2, 6}, 2);
  et = wandb_max(81, 3, 3);
  assert_bands(&et, (int64_t[]){3, 9, 27}, 3);
}

Test(sw_prune, wandb_max_iter_wins_over_min_iter) {
  SwEarlyTerminate et = wandb_max(27, 3, 2);
  et.min_iter = 1;
  assert_bands(&et, (int64_t[]){3, 9}, 2);
}

Test(sw_prune, wandb_bands_from_min_iter_grow_by_eta) {
  SwEarlyTerminate et = wandb_min(3, 3);
  int64_t got[128];
  size_t n = sw_prune_levels(&et, 0, got, 128);
  cr_assert_gt(n, 3);
  cr_assert_eq(got[0], 3);
  cr_assert_eq(got[1], 9);
  cr_assert_eq(got[2], 27);
  et = wandb_min(2, 1.5); /* int(2 * 1.5^k): 2, 3, 4, 6, 10 */
  n = sw_prune_levels(&et, 0, got, 128);
  cr_assert_eq(got[2], 4);
  cr_assert_eq(got[3], 6);
  cr_assert_eq(got[4], 10);
}

/* W&B's test_5runs_band1_stop_2 runs, under W&B's current rule (value at the band,
** index band - 1): bands [1, 2]; at band 2 the values are 9 10 8 7 6, threshold
** sorted[int(5 / 2)] = 8; b (10) stops, c (8, not strictly above) continues. */
Test(sw_prune, wandb_max_iter_5_eta_2_stops_b_not_c) {
  double a[] = {10, 9}, b[] = {10, 10}, c[] = {10, 8, 8}, d[] = {10, 7, 7}, e[] = {10, 6, 6};
  iters(0, RS_COMPLETED, a, 2);
  iters(1, RS_RUNNING, b, 2);
  iters(2, RS_RUNNING, c, 3);
  iters(3, RS_RUNNING, d, 3);
  iters(4, RS_COMPLETED, e, 3);
  SwEarlyTerminate et = wandb_max(5, 2, 2);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 5, 1, &v), SW_PRUNE);
  cr_assert_eq(v.at, 2);
  cr_assert_eq(v.threshold, 8);
  cr_assert_eq(v.n, 5, "finished trials count in the threshold");
  cr_assert_eq(judge(&et, 0, 5, 2, &v), SW_KEEP);
  cr_assert_eq(judge(&et, 0, 5, 3, &v), SW_KEEP);
}

/* W&B's test_eta_3 runs: bands [1, 3], thresholds 10 and 7. Strict judges c by its
** value at band 3 (8 > 7: stop); without strict by its best so far (3: continue). */
static void eta3_runs(double sign) {
  double a[] = {10, 9}, b[] = {10, 10}, c[] = {10, 8, 8, 3}, d[] = {10, 7, 7, 4}, e[] = {10, 6, 6, 6};
  double *r[] = {a, b, c, d, e};
  size_t len[] = {2, 2, 4, 4, 4};
  for (size_t i = 0; i < 5; i++) {
    double v[4];
    for (size_t k = 0; k < len[i]; k++) v[k] = sign * r[i][k];
    iters(i, i == 0 ? RS_COMPLETED : RS_RUNNING, v, len[i]);
  }
}

Test(sw_prune, wandb_strict_judges_the_value_at_the_band) {
  eta3_runs(1);
  SwEarlyTerminate et = wandb_max(9, 3, 2);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 5, 2, &v), SW_PRUNE);
  cr_assert_eq(v.at, 3);
  cr_assert_eq(v.threshold, 7);
  cr_assert_eq(v.value, 8);
  cr_assert_eq(judge(&et, 0, 5, 1, &v), SW_KEEP, "b at band 1: 10 is not above 10");
  cr_assert_eq(judge(&et, 0, 5, 3, &v), SW_KEEP);
  cr_assert_eq(judge(&et, 0, 5, 4, &v), SW_KEEP);
}

Test(sw_prune, wandb_not_strict_judges_the_best_so_far) {
  eta3_runs(1);
  SwEarlyTerminate et = wandb_max(9, 3, 2);
  et.strict = 0;
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 5, 2, &v), SW_KEEP, "%s", v.reason);
  cr_assert_eq(v.value, 3);
  /* e's best so far is 6 < 7: kept either way; a trial whose best is above is not */
  double f[] = {10, 9, 9, 8};
  iters(5, RS_RUNNING, f, 4);
  cr_assert_eq(judge(&et, 0, 6, 5, &v), SW_PRUNE);
}

Test(sw_prune, wandb_maximize_mirrors_minimize) {
  eta3_runs(-1);
  SwEarlyTerminate et = wandb_max(9, 3, 2);
  SwVerdict v;
  cr_assert_eq(judge(&et, 1, 5, 2, &v), SW_PRUNE);
  cr_assert_eq(v.threshold, -7);
  cr_assert_eq(v.value, -8);
  cr_assert_eq(judge(&et, 1, 5, 3, &v), SW_KEEP);
}

Test(sw_prune, wandb_before_the_first_band_nothing_is_decided) {
  double a[] = {10, 10}, b[] = {1, 1, 1};
  iters(0, RS_RUNNING, a, 2);
  iters(1, RS_COMPLETED, b, 3);
  SwEarlyTerminate et = wandb_min(3, 3);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 2, 0, &v), SW_KEEP);
  cr_assert_eq(v.at, 0);
  cr_assert(isnan(v.threshold));
}

Test(sw_prune, wandb_order_of_curves_does_not_change_the_verdict) {
  eta3_runs(1);
  RsCurve rev[5];
  for (size_t i = 0; i < 5; i++) rev[i] = C[4 - i];
  SwEarlyTerminate et = wandb_max(9, 3, 2);
  SwVerdict v1, v2;
  for (size_t i = 0; i < 5; i++) {
    sw_prune_judge(&et, 0, C, 5, i, &v1);
    sw_prune_judge(&et, 0, rev, 5, 4 - i, &v2);
    cr_assert_eq(v1.action, v2.action);
    cr_assert(v1.threshold == v2.threshold || (isnan(v1.threshold) && isnan(v2.threshold)));
  }
}

Test(sw_prune, disabled_always_keeps) {
  double a[] = {100, 100, 100, 100};
  double b[] = {1, 1, 1, 1};
  iters(0, RS_RUNNING, a, 4);
  iters(1, RS_COMPLETED, b, 4);
  SwEarlyTerminate et = {0};
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 2, 0, &v), SW_KEEP);
  cr_assert_eq(sw_prune_promote(&et, 0, C, 2, NULL), -1);
}
