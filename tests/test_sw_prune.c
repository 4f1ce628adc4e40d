/*
** test_sw_prune.c: early-termination decisions over hand-made curves: W&B hyperband
** with W&B's own test vectors, Optuna's median rule, ASHA rungs and promotions,
** Hyperband brackets.
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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

/* ---- median (Optuna's MedianPruner) ------------------------------------- */

static SwEarlyTerminate median(int64_t startup, int64_t warmup, int64_t interval) {
  return (SwEarlyTerminate){.enabled = 1, .type = SW_ET_MEDIAN, .eta = 3, .n_startup_trials = startup,
                            .n_warmup_steps = warmup, .interval_steps = interval};
}

/* Three completed trials with values at steps 0, 10, 20, 30: at step 20 they are
** 1, 2 and 6 (median 2); at step 10 they are 3, 4, 5, 9 with a fourth (median 4.5). */
static void median_history(void) {
  double a[] = {5, 3, 1, 1}, b[] = {5, 4, 2, 2}, c[] = {5, 5, 6, 6};
  curve(0, RS_COMPLETED, a, 4, 0, 10);
  curve(1, RS_COMPLETED, b, 4, 0, 10);
  curve(2, RS_COMPLETED, c, 4, 0, 10);
}

Test(sw_prune, median_prunes_a_best_above_the_median_at_the_same_step) {
  median_history();
  double me[] = {5, 4.5, 2.5};
  curve(3, RS_RUNNING, me, 3, 0, 10);
  SwEarlyTerminate et = median(3, 0, 1);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_PRUNE, "%s", v.reason);
  cr_assert_eq(v.at, 20);
  cr_assert_eq(v.threshold, 2);
  cr_assert_eq(v.value, 2.5);
  cr_assert_eq(v.n, 3);
  double ok[] = {5, 1.5, 2.5}; /* best so far 1.5 <= 2 */
  curve(3, RS_RUNNING, ok, 3, 0, 10);
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_KEEP);
}

Test(sw_prune, median_of_an_even_count_interpolates) {
  median_history();
  double d[] = {5, 9};
  curve(4, RS_COMPLETED, d, 2, 0, 10);
  double me[] = {5, 4.6};
  curve(3, RS_RUNNING, me, 2, 0, 10);
  SwEarlyTerminate et = median(1, 0, 1);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 5, 3, &v), SW_PRUNE);
  cr_assert_eq(v.threshold, 4.5, "median of 3 4 5 9");
  cr_assert_eq(v.n, 4);
}

Test(sw_prune, median_waits_for_startup_trials_and_warmup) {
  median_history();
  double me[] = {5, 9, 9};
  curve(3, RS_RUNNING, me, 3, 0, 10);
  SwVerdict v;
  SwEarlyTerminate et = median(4, 0, 1);
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_KEEP, "3 completed < 4 startup trials");
  et = median(3, 25, 1);
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_KEEP, "step 20 < 25 warm-up steps");
  et = median(3, 20, 1);
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_PRUNE);
}

Test(sw_prune, median_judges_only_the_first_step_of_each_interval) {
  median_history();
  double me[] = {5, 9, 9};
  curve(3, RS_RUNNING, me, 3, 0, 10); /* steps 0 10 20 */
  SwVerdict v;
  SwEarlyTerminate et = median(3, 0, 15); /* grid 0, 15, 30: 20 follows 10 < 15 */
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_PRUNE);
  et = median(3, 0, 20); /* grid 0, 20: step 20 is on it */
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_PRUNE);
  et = median(3, 0, 30); /* grid 0, 30: 20 is not the first at or after 0 */
  cr_assert_eq(judge(&et, 0, 4, 3, &v), SW_KEEP);
}

Test(sw_prune, median_maximize_prunes_a_best_below_the_median) {
  double a[] = {1, 3}, b[] = {1, 4}, c[] = {1, 5};
  curve(0, RS_COMPLETED, a, 2, 0, 10);
  curve(1, RS_COMPLETED, b, 2, 0, 10);
  curve(2, RS_COMPLETED, c, 2, 0, 10);
  double me[] = {1, 3.5};
  curve(3, RS_RUNNING, me, 2, 0, 10);
  SwEarlyTerminate et = median(1, 0, 1);
  SwVerdict v;
  cr_assert_eq(judge(&et, 1, 4, 3, &v), SW_PRUNE);
  cr_assert_eq(v.threshold, 4);
  double good[] = {1, 4};
  curve(3, RS_RUNNING, good, 2, 0, 10);
  cr_assert_eq(judge(&et, 1, 4, 3, &v), SW_KEEP, "equal to the median is kept");
}

Test(sw_prune, median_without_completed_values_at_the_step_keeps) {
  double a[] = {1, 1};
  curve(0, RS_COMPLETED, a, 2, 0, 10);
  double me[] = {9, 9};
  curve(1, RS_RUNNING, me, 2, 0, 15); /* steps 0, 15: nobody completed logged at 15 */
  SwEarlyTerminate et = median(1, 0, 1);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 2, 1, &v), SW_KEEP);
  curve(0, RS_FAILED, a, 2, 0, 15);
  cr_assert_eq(judge(&et, 0, 2, 1, &v), SW_KEEP, "failed trials do not count");
}

/* ---- ASHA --------------------------------------------------------------- */

static SwEarlyTerminate asha(int64_t grace, int64_t max_t, double eta, int promotions) {
  return (SwEarlyTerminate){.enabled = 1, .type = SW_ET_ASHA, .grace_period = grace, .max_t = max_t,
                            .eta = eta, .brackets = 1, .promotions = promotions, .strict = 1};
}

Test(sw_prune, asha_rungs_are_grace_times_eta_powers_below_max_t) {
  SwEarlyTerminate et = asha(100, 1500, 3, 0);
  int64_t r[8];
  cr_assert_eq(sw_prune_levels(&et, 0, r, 8), 3);
  cr_assert_eq(r[0], 100);
  cr_assert_eq(r[1], 300);
  cr_assert_eq(r[2], 900);
  et = asha(1, 81, 3, 0);
  cr_assert_eq(sw_prune_levels(&et, 0, r, 8), 4, "81 itself is the end, not a rung");
  et.brackets = 2;
  cr_assert_eq(sw_prune_levels(&et, 1, r, 8), 3);
  cr_assert_eq(r[0], 3, "bracket 1 starts one rung up");
  cr_assert_eq(sw_prune_levels(&et, 2, r, 8), 0);
}

/* Nine trials reached rung 10 with values 1..9 (idx order): the top floor(9/3) = 3 pass. */
static void nine_at_rung(RsStatus st) {
  for (size_t i = 0; i < 9; i++) {
    double v[2] = {20, (double)(i + 1)};
    curve(i, st, v, 2, 0, 10);
  }
}

Test(sw_prune, asha_stopping_keeps_the_top_third_of_a_rung) {
  nine_at_rung(RS_RUNNING);
  SwEarlyTerminate et = asha(10, 100, 3, 0);
  SwVerdict v;
  for (size_t i = 0; i < 9; i++) {
    SwAction want = i < 3 ? SW_KEEP : SW_PRUNE;
    cr_assert_eq(judge(&et, 0, 9, i, &v), want, "trial %zu: %s", i, v.reason);
    cr_assert_eq(v.at, 10);
    cr_assert_eq(v.threshold, 3);
    cr_assert_eq(v.n, 9);
  }
}

Test(sw_prune, asha_first_trial_at_a_rung_passes_and_off_rung_values_are_not_judged) {
  double a[] = {20, 50};
  curve(0, RS_RUNNING, a, 2, 0, 10);
  SwEarlyTerminate et = asha(10, 100, 3, 0);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 1, 0, &v), SW_KEEP);
  cr_assert_eq(v.at, 10);
  double b[] = {20, 50, 60};
  curve(0, RS_RUNNING, b, 3, 0, 10); /* step 20: no rung crossed */
  cr_assert_eq(judge(&et, 0, 1, 0, &v), SW_KEEP);
  cr_assert_eq(v.at, 0);
}

Test(sw_prune, asha_ties_at_a_rung_break_by_idx) {
  for (size_t i = 0; i < 3; i++) {
    double v[2] = {20, 5};
    curve(i, RS_RUNNING, v, 2, 0, 10);
  }
  SwEarlyTerminate et = asha(10, 100, 3, 0);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 3, 0, &v), SW_KEEP);
  cr_assert_eq(judge(&et, 0, 3, 1, &v), SW_PRUNE);
  cr_assert_eq(judge(&et, 0, 3, 2, &v), SW_PRUNE);
}

Test(sw_prune, asha_maximize_keeps_the_largest) {
  nine_at_rung(RS_RUNNING);
  SwEarlyTerminate et = asha(10, 100, 3, 0);
  SwVerdict v;
  cr_assert_eq(judge(&et, 1, 9, 8, &v), SW_KEEP);
  cr_assert_eq(judge(&et, 1, 9, 0, &v), SW_PRUNE);
  cr_assert_eq(v.threshold, 7);
}

Test(sw_prune, asha_with_promotions_pauses_at_every_rung) {
  nine_at_rung(RS_RUNNING);
  SwEarlyTerminate et = asha(10, 100, 3, 1);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 9, 0, &v), SW_PAUSE, "even the best pauses: the promoter decides");
  cr_assert_eq(v.at, 10);
  cr_assert(strstr(v.reason, "rung 10"), "%s", v.reason);
  double end[] = {20, 1, 0.5, 0.4};
  curve(0, RS_RUNNING, end, 4, 0, 10); /* steps 0 10 20 30: rung 30 crossed */
  cr_assert_eq(judge(&et, 0, 9, 0, &v), SW_PAUSE);
  cr_assert_eq(v.at, 30);
  double done[] = {0.4, 0.35, 0.3};
  curve(0, RS_RUNNING, done, 3, 90, 5); /* 90 95 100: 100 = max_t is no rung */
  cr_assert_eq(judge(&et, 0, 9, 0, &v), SW_KEEP);
}

static void pause_all(size_t n) {
  for (size_t i = 0; i < n; i++) {
    C[i].paused = 1;
    C[i].status = RS_PAUSED;
  }
}

Test(sw_prune, promote_picks_the_best_paused_of_the_top_third) {
  nine_at_rung(RS_RUNNING);
  pause_all(9);
  SwEarlyTerminate et = asha(10, 100, 3, 1);
  int64_t to = 0;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 9, &to), 0);
  cr_assert_eq(to, 30);
  C[0].paused = 0; /* promoted: running now */
  C[0].status = RS_RUNNING;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 9, &to), 1);
  C[1].paused = 0;
  C[2].paused = 0;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 9, &to), -1, "the 4th of 9 is not in the top third");
}

Test(sw_prune, promote_needs_eta_trials_at_a_rung_while_configurations_are_left) {
  nine_at_rung(RS_RUNNING);
  pause_all(2);
  curve(2, RS_PENDING, NULL, 0, 0, 10); /* a configuration not started yet */
  SwEarlyTerminate et = asha(10, 100, 3, 1);
  cr_assert_eq(sw_prune_promote(&et, 0, C, 3, NULL), -1, "floor(2 / 3) = 0: start the new configuration");
  C[2].status = RS_INTERRUPTED;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 3, NULL), -1, "an interrupted trial will run again");
  /* none left: the best paused trial of the rung goes on, so the sweep ends with one run to max_t */
  int64_t to = 0;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 2, &to), 0);
  cr_assert_eq(to, 30);
  C[0].paused = 0;
  C[0].status = RS_RUNNING;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 2, NULL), -1, "only the top max(1, floor(2 / 3)) = 1");
}

Test(sw_prune, promote_falls_back_to_a_lower_rung) {
  /* 12 trials at rung 10 (values 1..12, top 4 = trials 0..3); trials 0..2 went on to
  ** rung 30 where the best of them (trial 2) still runs: nothing to promote there, so
  ** trial 3, paused at rung 10 and in its top 4, goes on to rung 30. */
  for (size_t i = 0; i < 12; i++) {
    double v[2] = {20, (double)(i + 1)};
    curve(i, RS_PAUSED, v, 2, 0, 10);
    C[i].paused = 1;
  }
  for (size_t i = 0; i < 3; i++) {
    double v[4] = {20, (double)(i + 1), 8, 10 - (double)i};
    curve(i, i == 2 ? RS_RUNNING : RS_PAUSED, v, 4, 0, 10);
    C[i].paused = i != 2;
  }
  SwEarlyTerminate et = asha(10, 100, 3, 1);
  int64_t to = 0;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 12, &to), 3);
  cr_assert_eq(to, 30);
}

Test(sw_prune, promote_from_the_highest_rung_where_one_is_in_the_top) {
  /* 9 trials at rung 10 (values 1..9); the best three went on to rung 30 with
  ** values 7, 6, 5: trial 2 (5) is the top 1 of rung 30 and is paused there. */
  nine_at_rung(RS_RUNNING);
  pause_all(9);
  for (size_t i = 0; i < 3; i++) {
    double v[4] = {20, (double)(i + 1), 8, 7 - (double)i};
    curve(i, RS_RUNNING, v, 4, 0, 10);
    C[i].paused = 1;
  }
  SwEarlyTerminate et = asha(10, 100, 3, 1);
  int64_t to = 0;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 9, &to), 2);
  cr_assert_eq(to, 90);
  /* the order the curves come in does not matter */
  RsCurve rev[9];
  for (size_t i = 0; i < 9; i++) rev[i] = C[8 - i];
  long k = sw_prune_promote(&et, 0, rev, 9, &to);
  cr_assert_eq(rev[k].idx, 2);
}

/* ---- Hyperband brackets ------------------------------------------------- */

Test(sw_prune, hyperband_smax_in_integers) {
  cr_assert_eq(sw_prune_hyperband_smax(1, 243, 3), 5, "floor(log(243) / log(3)) is 4 in doubles");
  cr_assert_eq(sw_prune_hyperband_smax(1, 242, 3), 4);
  cr_assert_eq(sw_prune_hyperband_smax(1, 81, 3), 4);
  cr_assert_eq(sw_prune_hyperband_smax(100, 1500, 3), 2);
  cr_assert_eq(sw_prune_hyperband_smax(1, 1000, 10), 3, "log(1000) / log(10) is 2.9999999999999996");
  cr_assert_eq(sw_prune_hyperband_smax(5, 4, 3), 0);
  cr_assert_eq(sw_prune_hyperband_smax(1, INT64_MAX, 2), 62);
}

Test(sw_prune, hyperband_brackets_by_idx_and_their_rungs) {
  SwEarlyTerminate et = {.enabled = 1, .type = SW_ET_HYPERBAND, .grace_period = 1, .max_t = 27, .eta = 3};
  int64_t r[8];
  /* s_max 3: brackets 0..3 starting at 1, 3, 9, 27 */
  cr_assert_eq(sw_prune_levels(&et, 0, r, 8), 3);
  cr_assert_eq(r[0], 1);
  cr_assert_eq(sw_prune_levels(&et, 2, r, 8), 1);
  cr_assert_eq(r[0], 9);
  cr_assert_eq(sw_prune_levels(&et, 3, r, 8), 0, "the last bracket runs everything to max_t");
  cr_assert_eq(sw_prune_levels(&et, 4, r, 8), 0);
  /* trials 0 and 4 share bracket 0; trial 1 is in bracket 1 and is not compared with them */
  double good[] = {1}, bad[] = {9};
  curve(0, RS_RUNNING, good, 1, 1, 1);
  curve(1, RS_RUNNING, bad, 1, 1, 1);
  curve(2, RS_RUNNING, bad, 1, 1, 1);
  curve(3, RS_RUNNING, bad, 1, 1, 1);
  curve(4, RS_RUNNING, bad, 1, 1, 1);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 5, 4, &v), SW_PRUNE, "%s", v.reason);
  cr_assert_eq(v.n, 2);
  cr_assert_eq(judge(&et, 0, 5, 1, &v), SW_KEEP, "bracket 1 has no rung at step 1");
  cr_assert_eq(v.at, 0);
}

Test(sw_prune, asha_brackets_split_trials_by_idx_and_promote_from_the_highest_rung) {
  /* brackets 2: idx 0 2 4 in bracket 0 (rungs 10 30 90), idx 1 3 5 in bracket 1 (rungs 30 90) */
  for (size_t i = 0; i < 6; i++) {
    double v[4] = {20, 9, 9, 9};
    if (i % 2 == 0) v[1] = (double)(i + 1); /* bracket 0 at rung 10: 1, 3, 5 */
    else v[3] = (double)(i + 1);           /* bracket 1 at rung 30: 2, 4, 6 */
    curve(i, RS_PAUSED, v, i % 2 ? 4 : 2, 0, 10);
    C[i].paused = 1;
  }
  SwEarlyTerminate et = asha(10, 100, 3, 1);
  et.brackets = 2;
  int64_t to = 0;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 6, &to), 1, "bracket 1's best at rung 30 beats bracket 0's at 10");
  cr_assert_eq(to, 90);
  C[1].paused = 0;
  cr_assert_eq(sw_prune_promote(&et, 0, C, 6, &to), 0);
  cr_assert_eq(to, 30);
  /* judging: a bracket-1 trial crossing step 10 meets no rung of its bracket */
  et.promotions = 0;
  double early[] = {20, 50};
  curve(3, RS_RUNNING, early, 2, 0, 10);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 6, 3, &v), SW_KEEP);
  cr_assert_eq(v.at, 0);
}

/* ---- every rule: the order of the curves never changes a verdict ---------- */

static uint64_t lcg(uint64_t *s) {
  *s = *s * 6364136223846793005u + 1442695040888963407u;
  return *s >> 33;
}

Test(sw_prune, random_curves_in_any_order_give_the_same_verdicts_for_every_rule) {
  SwEarlyTerminate rules[5] = {wandb_min(2, 3), asha(10, 90, 3, 0), asha(10, 90, 3, 1), median(3, 10, 20),
                               {.enabled = 1, .type = SW_ET_HYPERBAND, .grace_period = 10, .max_t = 90, .eta = 3}};
  rules[0].strict = 0;
  uint64_t seed = 12345;
  int acted[3] = {0}, promoted = 0; /* the test is not vacuous: every kind of decision happens */
  for (int round = 0; round < 40; round++) {
    size_t n = 5 + lcg(&seed) % 20;
    for (size_t i = 0; i < n; i++) {
      double v[9];
      size_t len = lcg(&seed) % 10;
      for (size_t k = 0; k < len && k < 9; k++) v[k] = (double)(lcg(&seed) % 8); /* ties on purpose */
      RsStatus st = lcg(&seed) % 3 ? RS_RUNNING : RS_COMPLETED;
      curve(i, st, v, len < 9 ? len : 9, 10, 10);
      C[i].paused = st == RS_RUNNING && lcg(&seed) % 2;
    }
    RsCurve perm[MAXC];
    for (size_t i = 0; i < n; i++) perm[i] = C[i];
    for (size_t i = n - 1; i > 0; i--) { /* Fisher-Yates */
      size_t j = lcg(&seed) % (i + 1);
      RsCurve t = perm[i];
      perm[i] = perm[j], perm[j] = t;
    }
    for (int r = 0; r < 5; r++)
      for (int maximize = 0; maximize < 2; maximize++) {
        for (size_t i = 0; i < n; i++) {
          size_t pi = 0;
          while (perm[pi].idx != C[i].idx) pi++;
          SwVerdict a, b;
          sw_prune_judge(&rules[r], maximize, C, n, i, &a);
          sw_prune_judge(&rules[r], maximize, perm, n, pi, &b);
          cr_assert_eq(a.action, b.action, "rule %d round %d trial %zu", r, round, i);
          cr_assert_eq(a.at, b.at);
          cr_assert(a.threshold == b.threshold || (isnan(a.threshold) && isnan(b.threshold)));
          cr_assert_str_eq(a.reason, b.reason);
          acted[a.action]++;
        }
        int64_t ta = -1, tb = -1;
        long pa = sw_prune_promote(&rules[r], maximize, C, n, &ta);
        long pb = sw_prune_promote(&rules[r], maximize, perm, n, &tb);
        cr_assert_eq(pa < 0, pb < 0, "rule %d round %d: promote", r, round);
        if (pa >= 0) {
          promoted++;
          cr_assert_eq(C[pa].idx, perm[pb].idx);
          cr_assert_eq(ta, tb);
        }
      }
  }
  cr_assert(acted[SW_KEEP] && acted[SW_PRUNE] && acted[SW_PAUSE] && promoted, "keep %d prune %d pause %d promote %d",
            acted[0], acted[1], acted[2], promoted);
}

/* ---- W&B's rule, differentially: against W&B's code restated in Python ---- */

Test(sw_prune, wandb_decisions_match_wandbs_code_on_random_sweeps) {
  if (system("python3 -c pass >/dev/null 2>&1") != 0) {
    if (getenv("CI")) cr_assert_fail("python3 missing in CI");
    cr_skip_test("python3 not found");
  }
  char path[] = "/tmp/hps_wandb_ref_XXXXXX";
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  FILE *f = fdopen(fd, "w");
  static const double etas[] = {2, 3, 4, 2.5};
  enum { CASES = 60 };
  SwEarlyTerminate et[CASES];
  int maxim[CASES];
  size_t ncur[CASES];
  RsCurve saved[CASES][MAXC];
  static int64_t steps[CASES][MAXC][MAXV];
  static double vals[CASES][MAXC][MAXV];
  uint64_t seed = 99;
  for (int c = 0; c < CASES; c++) {
    double eta = etas[lcg(&seed) % 4];
    et[c] = lcg(&seed) % 2 ? wandb_min(1 + (int64_t)(lcg(&seed) % 3), eta)
                           : wandb_max(4 + (int64_t)(lcg(&seed) % 30), eta, (double)(1 + lcg(&seed) % 4));
    et[c].strict = (int)(lcg(&seed) % 2);
    maxim[c] = (int)(lcg(&seed) % 2);
    fprintf(f, "case %lld %lld %d %.17g %d %d\n", (long long)et[c].min_iter, (long long)et[c].max_iter,
            (int)et[c].s, eta, et[c].strict, maxim[c]);
    size_t n = ncur[c] = 2 + lcg(&seed) % 12;
    for (size_t i = 0; i < n; i++) {
      size_t len = lcg(&seed) % 20;
      int running = lcg(&seed) % 3 != 0;
      fprintf(f, "%s", running ? "running" : "finished");
      for (size_t k = 0; k < len; k++) {
        steps[c][i][k] = (int64_t)k + 1;
        vals[c][i][k] = (double)(lcg(&seed) % 12) / 4; /* quarters: exact, with ties */
        fprintf(f, " %.17g", vals[c][i][k]);
      }
      fprintf(f, "\n");
      saved[c][i] = (RsCurve){.trial_id = (int64_t)i + 1, .idx = (int)i,
                              .status = running ? RS_RUNNING : RS_COMPLETED, .completed = !running,
                              .n = len, .step = steps[c][i], .value = vals[c][i]};
    }
    fprintf(f, "end\n");
  }
  cr_assert_eq(fclose(f), 0);
  char cmd[PATH_MAX + 200];
  snprintf(cmd, sizeof cmd, "python3 '%s/tests/programs/wandb_hyperband_ref.py' '%s'",
           getenv("HPS_SOURCE_ROOT") ? getenv("HPS_SOURCE_ROOT") : HPS_SOURCE_ROOT, path);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  char line[1024];
  int stopped_total = 0;
  for (int c = 0; c < CASES; c++) {
    cr_assert_not_null(fgets(line, sizeof line, p), "case %d: no answer from the reference", c);
    int want[MAXC] = {0};
    for (char *t = strtok(line, " \n"); t; t = strtok(NULL, " \n")) want[atoi(t)] = 1;
    for (size_t i = 0; i < ncur[c]; i++) {
      if (saved[c][i].status != RS_RUNNING) continue; /* W&B judges running runs only */
      SwVerdict v;
      sw_prune_judge(&et[c], maxim[c], saved[c], ncur[c], i, &v);
      cr_assert_eq(v.action == SW_PRUNE, want[i], "case %d run %zu: C says %s, W&B's code %s (%s)", c, i,
                   v.action == SW_PRUNE ? "stop" : "continue", want[i] ? "stop" : "continue", v.reason);
      stopped_total += want[i];
    }
  }
  cr_assert_eq(pclose(p), 0);
  unlink(path);
  cr_assert_gt(stopped_total, 10, "the cases stop some runs (not a vacuous comparison)");
}

/* W&B computes the index as int((1.0 / eta) * n) in floating point: for eta 1.3 and 39
** values that is int(29.999999999999996) = 29, where 39 / 1.3 would give 30. */
Test(sw_prune, wandb_threshold_index_uses_wandbs_floating_point) {
  for (size_t i = 0; i < 39; i++) {
    double v = (double)i;
    iters(i, RS_RUNNING, &v, 1);
  }
  SwEarlyTerminate et = wandb_min(1, 1.3);
  SwVerdict v;
  cr_assert_eq(judge(&et, 0, 39, 30, &v), SW_PRUNE, "%s", v.reason);
  cr_assert_eq(v.threshold, 29);
  cr_assert_eq(judge(&et, 0, 39, 29, &v), SW_KEEP);
}
