/* rs_study: the LR and batch-size study estimates on synthetic data with known answers,
** hand-computed fits, every degenerate case's reason, captions, bootstrap determinism. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "rs_stats.h"
#include "rs_study.h"
#include "tr_rng.h"

#define MAXP 512

/* A quadratic in log lr: value = 3 + curv * ln(lr / lr_star)^2 + noise * N(0,1), on the
** grid lr0 * 2^k (k < nlr), seeds 1..nseed. Returns the number of points. */
static int quad_points(RsLrPoint *p, double lr0, int nlr, double lr_star, double curv, int nseed, double noise,
                       uint64_t seed) {
  TrRng r;
  tr_rng_seed(&r, seed);
  int n = 0;
  for (int k = 0; k < nlr; k++)
    for (int s = 1; s <= nseed; s++) {
      double lr = lr0 * pow(2, k), d = log(lr / lr_star);
      p[n++] = (RsLrPoint){.lr = lr, .seed = s, .value = 3 + curv * d * d + noise * tr_rng_normal(&r)};
    }
  return n;
}

/* ---- learning-rate study ---- */

Test(rs_study, lr_quadratic_with_noise_recovers_the_optimum_within_5_percent) {
  RsLrPoint p[MAXP];
  double star = 1e-3 * pow(2, 2.6);
  int n = quad_points(p, 1e-3, 7, star, 0.5, 5, 0.01, 7);
  RsLrStudy s;
  TrErr e = {0};
  RsLrOptions o = {.boot_seed = 1};
  cr_assert_eq(rs_study_lr(p, n, &o, &s, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(s.status, RS_STUDY_OK, "%s", s.reason);
  cr_assert_eq(s.nlevel, 7);
  cr_assert_eq(s.fit, RS_LR_FIT_QUADRATIC);
  cr_assert_eq(s.best, 3, "grid point 1e-3 * 2^3 is nearest 2^2.6");
  cr_assert_lt(fabs(s.lr_opt / star - 1), 0.05, "lr_opt %g, true %g", s.lr_opt, star);
  cr_assert_lt(fabs(s.value_opt - 3), 0.02, "value_opt %g", s.value_opt);
  cr_assert_eq(s.n_boot, 1000);
  cr_assert(s.lr_lo < s.lr_opt && s.lr_opt < s.lr_hi, "CI %g %g around %g", s.lr_lo, s.lr_hi, s.lr_opt);
  cr_assert(s.lr_lo < star && star < s.lr_hi, "CI %g %g misses %g", s.lr_lo, s.lr_hi, star);
  cr_assert_lt(s.lr_hi / s.lr_lo, 1.3, "5 seeds at noise 0.01 pin the optimum: CI %g %g", s.lr_lo, s.lr_hi);
  cr_assert_eq(s.at_edge, 0);
  /* The per-lr table is rs_stats over that lr's seeds. */
  double v[5];
  for (int i = 0; i < 5; i++) v[i] = p[2 * 5 + i].value;
  double lo, hi;
  rs_stats_ci95(v, 5, &lo, &hi);
  cr_assert_eq(s.level[2].n, 5);
  cr_assert_float_eq(s.level[2].mean, rs_stats_mean(v, 5), 1e-12);
  cr_assert_float_eq(s.level[2].ci_lo, lo, 1e-12);
  cr_assert_float_eq(s.level[2].ci_hi, hi, 1e-12);
  char buf[256];
  rs_study_lr_caption(&s, buf, sizeof buf);
  cr_assert_str_eq(buf, "The best learning rate is 6e-3 (95% CI 5.9e-3 to 6.1e-3), inside the grid.");
  rs_study_lr_deinit(&s);
  rs_study_lr_deinit(&s); /* idempotent */
}

Test(rs_study, lr_vertex_of_three_points_matches_the_hand_parabola) {
  /* x = ln lr = -1, 0, 1 with means 2, 1, 1.5: y = 0.75 x^2 - 0.25 x + 1, vertex x = 1/6. */
  RsLrPoint p[3] = {{exp(-1), 1, 2, 0}, {1, 1, 1, 0}, {exp(1), 1, 1.5, 0}};
  RsLrStudy s;
  cr_assert_eq(rs_study_lr(p, 3, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_OK);
  cr_assert_eq(s.fit, RS_LR_FIT_QUADRATIC);
  cr_assert_float_eq(log(s.lr_opt), 1.0 / 6, 1e-12);
  cr_assert_float_eq(s.value_opt, 1 - 0.0625 / 3, 1e-12);
  cr_assert_eq(s.n_boot, 0, "one seed: no bootstrap");
  cr_assert(isnan(s.lr_lo) && isnan(s.lr_hi));
  char buf[256];
  cr_assert_str_eq(rs_study_lr_caption(&s, buf, sizeof buf), "The best learning rate is 1.2 (no CI: one seed), inside the grid.");
  rs_study_lr_deinit(&s);
  /* Maximizing the negated values gives the same lr. */
  for (int i = 0; i < 3; i++) p[i].value = -p[i].value;
  RsLrOptions o = {.maximize = 1};
  cr_assert_eq(rs_study_lr(p, 3, &o, &s, NULL), TR_OK);
  cr_assert_float_eq(log(s.lr_opt), 1.0 / 6, 1e-12);
  cr_assert_float_eq(s.value_opt, -(1 - 0.0625 / 3), 1e-12);
  rs_study_lr_deinit(&s);
}

Test(rs_study, lr_optimum_at_either_end_of_the_grid_is_flagged) {
  RsLrPoint p[MAXP];
  /* The true optimum 1e-3 * 2^9 lies above a grid ending at 2^6. */
  int n = quad_points(p, 1e-3, 7, 1e-3 * pow(2, 9), 0.5, 3, 0.001, 3);
  RsLrStudy s;
  cr_assert_eq(rs_study_lr(p, n, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_OK);
  cr_assert_eq(s.at_edge, 1);
  cr_assert_eq(s.best, 6);
  cr_assert_eq(s.fit, RS_LR_FIT_GRID, "one neighbour: the grid point, no extrapolation");
  cr_assert_float_eq(s.lr_opt, 1e-3 * 64, 1e-15);
  char buf[256];
  rs_study_lr_caption(&s, buf, sizeof buf);
  cr_assert(strstr(buf, "at the largest lr of the grid") && strstr(buf, "widen the grid up"), "%s", buf);
  rs_study_lr_deinit(&s);
  n = quad_points(p, 1e-3, 7, 1e-3 / 8, 0.5, 3, 0.001, 3);
  cr_assert_eq(rs_study_lr(p, n, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.at_edge, -1);
  cr_assert_eq(s.best, 0);
  rs_study_lr_caption(&s, buf, sizeof buf);
  cr_assert(strstr(buf, "at the smallest lr of the grid") && strstr(buf, "widen the grid down"), "%s", buf);
  rs_study_lr_deinit(&s);
}

Test(rs_study, lr_stability_edge_and_a_diverging_lr_is_never_the_optimum) {
  /* lrs 1e-3..1e-1; 3e-2 seed 2 diverged (seed 1 looks best of all), 1e-1 all diverged. */
  static const double lr[5] = {1e-3, 3e-3, 1e-2, 3e-2, 1e-1};
  static const double val[5] = {2.0, 1.6, 1.5, 1.2, 0};
  RsLrPoint p[10];
  int n = 0;
  for (int k = 0; k < 5; k++)
    for (int s = 1; s <= 2; s++)
      p[n++] = (RsLrPoint){lr[k], s, val[k] + 0.01 * s, (k == 3 && s == 2) || k == 4};
  p[9].value = NAN; /* a diverged point's value is ignored whatever it holds */
  RsLrStudy s;
  cr_assert_eq(rs_study_lr(p, n, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_OK, "%s", s.reason);
  cr_assert_float_eq(s.lr_diverged_min, 3e-2, 1e-18);
  cr_assert_float_eq(s.lr_stable_max, 1e-2, 1e-18);
  cr_assert_eq(s.best, 2, "1e-2, not 3e-2 whose surviving seed is lower");
  cr_assert_eq(s.fit, RS_LR_FIT_GRID);
  cr_assert_eq(s.at_stability, 1);
  cr_assert_eq(s.at_edge, 0);
  cr_assert_eq(s.level[3].n, 1);
  cr_assert_eq(s.level[3].n_diverged, 1);
  cr_assert_eq(s.level[4].n_diverged, 2);
  cr_assert_eq(s.basin_open_hi, 0, "the basin stops before a diverging lr");
  cr_assert_float_eq(s.basin_hi, 1e-2, 1e-15);
  char buf[256];
  cr_assert_str_eq(rs_study_stability_caption(&s, buf, sizeof buf),
                   "Runs diverged from lr 3e-2; the largest lr where none diverged is 1e-2.");
  rs_study_lr_caption(&s, buf, sizeof buf);
  cr_assert(strstr(buf, "next to a learning rate that diverged"), "%s", buf);
  rs_study_lr_deinit(&s);
  /* A non-finite value on a point not marked diverged counts as a divergence. */
  p[0].value = INFINITY;
  cr_assert_eq(rs_study_lr(p, n, NULL, &s, NULL), TR_OK);
  cr_assert_float_eq(s.lr_diverged_min, 1e-3, 1e-18);
  cr_assert_eq(s.level[0].n_diverged, 1);
  rs_study_lr_deinit(&s);
}

Test(rs_study, lr_basin_interpolates_in_log_lr_at_the_stated_tolerance) {
  /* Means 1 + 0.1 |x| at x = ln lr = -3..3: optimum x = 0, value 1 (the parabola of the
  ** three middle points has its vertex there). */
  RsLrPoint p[7];
  for (int k = 0; k < 7; k++) p[k] = (RsLrPoint){exp(k - 3), 1, 1 + 0.1 * fabs(k - 3.0), 0};
  RsLrStudy s;
  RsLrOptions o = {.basin_abs = 0.15};
  cr_assert_eq(rs_study_lr(p, 7, &o, &s, NULL), TR_OK);
  cr_assert_float_eq(log(s.lr_opt), 0, 1e-12);
  cr_assert_float_eq(s.basin_tol, 0.15, 0);
  cr_assert_float_eq(log(s.basin_lo), -1.5, 1e-12); /* 1.15 is halfway from 1.1 (x = 1) to 1.2 (x = 2) */
  cr_assert_float_eq(log(s.basin_hi), 1.5, 1e-12);
  cr_assert(!s.basin_open_lo && !s.basin_open_hi);
  char buf[256];
  rs_study_basin_caption(&s, buf, sizeof buf);
  cr_assert_str_eq(buf, "Within 0.15 of the best value (1): lr 2.2e-1 to 4.5, a factor of 20.1.");
  rs_study_lr_deinit(&s);
  /* The default: 1% of the optimum's value, reached a tenth of the way to x = +-1. */
  cr_assert_eq(rs_study_lr(p, 7, NULL, &s, NULL), TR_OK);
  cr_assert_float_eq(s.basin_rel, 0.01, 0);
  cr_assert_float_eq(log(s.basin_lo), -0.1, 1e-12);
  cr_assert_float_eq(log(s.basin_hi), 0.1, 1e-12);
  rs_study_basin_caption(&s, buf, sizeof buf);
  cr_assert(strncmp(buf, "Within 1% of the best value (1): lr ", 36) == 0, "%s", buf);
  rs_study_lr_deinit(&s);
  /* A tolerance wider than the whole curve: open at both ends of the grid. */
  o.basin_abs = 10;
  cr_assert_eq(rs_study_lr(p, 7, &o, &s, NULL), TR_OK);
  cr_assert(s.basin_open_lo && s.basin_open_hi);
  cr_assert_float_eq(log(s.basin_lo), -3, 1e-12);
  cr_assert_float_eq(log(s.basin_hi), 3, 1e-12);
  rs_study_lr_deinit(&s);
}

Test(rs_study, lr_bootstrap_is_deterministic_in_its_seed) {
  RsLrPoint p[MAXP];
  int n = quad_points(p, 1e-3, 7, 5e-3, 0.3, 4, 0.05, 11);
  RsLrStudy a, b, c;
  RsLrOptions o = {.boot_seed = 42, .n_boot = 500};
  cr_assert_eq(rs_study_lr(p, n, &o, &a, NULL), TR_OK);
  cr_assert_eq(rs_study_lr(p, n, &o, &b, NULL), TR_OK);
  o.boot_seed = 43;
  cr_assert_eq(rs_study_lr(p, n, &o, &c, NULL), TR_OK);
  cr_assert_eq(a.n_boot, 500);
  cr_assert_eq(memcmp(&a.lr_lo, &b.lr_lo, sizeof a.lr_lo), 0, "bit-identical: %.17g %.17g", a.lr_lo, b.lr_lo);
  cr_assert_eq(memcmp(&a.lr_hi, &b.lr_hi, sizeof a.lr_hi), 0);
  cr_assert(a.lr_lo != c.lr_lo || a.lr_hi != c.lr_hi, "another seed draws other replicates");
  cr_assert_eq(a.lr_opt, c.lr_opt, "the point estimate does not depend on the bootstrap");
  rs_study_lr_deinit(&a), rs_study_lr_deinit(&b), rs_study_lr_deinit(&c);
}

Test(rs_study, lr_ci_covers_the_true_optimum_near_95_percent_with_5_seeds) {
  /* 400 synthetic studies with the optimum drawn in [2^2, 2^3] x 1e-3: the expanded
  ** percentile interval covers it in 367 (the plain percentile one: 347, 87%). */
  TrRng r;
  tr_rng_seed(&r, 99);
  RsLrPoint p[64];
  int hit = 0;
  for (int d = 0; d < 400; d++) {
    double star = 1e-3 * pow(2, 2 + tr_rng_uniform(&r));
    int n = 0;
    for (int k = 0; k < 7; k++)
      for (int s = 1; s <= 5; s++) {
        double lr = 1e-3 * pow(2, k), x = log(lr / star);
        p[n++] = (RsLrPoint){lr, s, 3 + 0.5 * x * x + 0.01 * tr_rng_normal(&r), 0};
      }
    RsLrStudy st;
    RsLrOptions o = {.boot_seed = (uint64_t)d};
    cr_assert_eq(rs_study_lr(p, n, &o, &st, NULL), TR_OK);
    cr_assert_eq(st.n_boot, 1000);
    hit += st.lr_lo <= star && star <= st.lr_hi;
    rs_study_lr_deinit(&st);
  }
  cr_assert(hit >= 360 && hit <= 392, "coverage %d / 400, nominal 95%%", hit);
}

Test(rs_study, lr_degenerate_cases_say_why) {
  RsLrStudy s;
  char buf[256];
  RsLrPoint all[4] = {{1e-3, 1, NAN, 1}, {1e-3, 2, NAN, 1}, {1e-2, 1, 9, 1}, {1e-1, 1, 5, 1}};
  cr_assert_eq(rs_study_lr(all, 4, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_ALL_DIVERGED);
  cr_assert_str_eq(s.reason, "Every run diverged (4 runs over 3 learning rates).");
  cr_assert_str_eq(rs_study_lr_caption(&s, buf, sizeof buf), s.reason);
  cr_assert(isnan(s.lr_opt) && isnan(s.basin_lo) && isnan(s.lr_stable_max));
  cr_assert_float_eq(s.lr_diverged_min, 1e-3, 1e-18);
  cr_assert_str_eq(rs_study_stability_caption(&s, buf, sizeof buf), "Every learning rate from 1e-3 up had a diverged run.");
  rs_study_lr_deinit(&s);

  RsLrPoint two[4] = {{1e-3, 1, 2.0, 0}, {1e-3, 2, 2.1, 0}, {3.2e-3, 1, 1.5, 0}, {3.2e-3, 2, 1.6, 0}};
  cr_assert_eq(rs_study_lr(two, 4, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_FEW_LRS);
  cr_assert_str_eq(s.reason, "Only 2 learning rates finished, too few for a fit: the optimum is the best grid point.");
  cr_assert_float_eq(s.lr_opt, 3.2e-3, 1e-18);
  cr_assert_float_eq(s.value_opt, 1.55, 1e-12);
  cr_assert_eq(s.n_boot, 0);
  cr_assert_str_eq(rs_study_lr_caption(&s, buf, sizeof buf),
                   "The best learning rate is 3.2e-3 (the best of only 2 learning rates, no fit), at the largest lr of the grid: "
                   "the optimum may be higher, widen the grid up.");
  rs_study_lr_deinit(&s);

  RsLrPoint bad[2] = {{1e-3, 1, 2.0, 0}, {NAN, 1, 1.0, 0}};
  cr_assert_eq(rs_study_lr(bad, 2, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NONFINITE);
  cr_assert_str_eq(s.reason, "The learning rate nan of point 2 is not a finite positive number.");
  rs_study_lr_deinit(&s);
  bad[1].lr = -1e-3;
  cr_assert_eq(rs_study_lr(bad, 2, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NONFINITE);
  rs_study_lr_deinit(&s);

  cr_assert_eq(rs_study_lr(NULL, 0, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NO_POINTS);
  cr_assert_str_eq(s.reason, "No trial has finished yet.");
  rs_study_lr_deinit(&s);

  TrErr e = {0};
  RsLrOptions o = {.basin_rel = -1};
  cr_assert_eq(rs_study_lr(two, 4, &o, &s, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, "basin_rel -1"), "%s", e.msg);
  cr_assert_eq(rs_study_lr(NULL, 3, NULL, &s, &e), TR_EINVAL);
}

/* ---- batch-size study ---- */

Test(rs_study, lr_exponent_of_square_root_scaling_is_recovered) {
  /* Per batch size an LR study around lr* = 1e-3 sqrt(B / 4) with noise, then the fit. */
  static const double B[6] = {4, 8, 16, 32, 64, 128};
  double lr_opt[6];
  RsLrPoint p[MAXP];
  for (int i = 0; i < 6; i++) {
    double star = 1e-3 * sqrt(B[i] / 4);
    int n = quad_points(p, 2.5e-4, 9, star, 0.5, 3, 0.01, 100 + i);
    RsLrStudy s;
    RsLrOptions o = {.n_boot = 50};
    cr_assert_eq(rs_study_lr(p, n, &o, &s, NULL), TR_OK);
    cr_assert_eq(s.status, RS_STUDY_OK);
    lr_opt[i] = s.lr_opt;
    rs_study_lr_deinit(&s);
  }
  RsLrExponent x;
  cr_assert_eq(rs_study_lr_exponent(B, lr_opt, 6, &x, NULL), TR_OK);
  cr_assert_eq(x.status, RS_STUDY_OK);
  cr_assert_lt(fabs(x.alpha - 0.5), 0.05, "alpha %g", x.alpha);
  cr_assert(x.alpha_lo < 0.5 && 0.5 < x.alpha_hi, "CI %g %g", x.alpha_lo, x.alpha_hi);
  cr_assert_lt(x.alpha_hi, 1);
  char buf[256];
  rs_study_exponent_caption(&x, buf, sizeof buf);
  cr_assert(strstr(buf, "consistent with the square-root rule (0.5)") && strstr(buf, "over 6 batch sizes"), "%s", buf);
  /* Exact data: the slope and coefficient themselves; two points have no CI. */
  double lin[3] = {2e-4, 4e-4, 8e-4};
  cr_assert_eq(rs_study_lr_exponent(B, lin, 3, &x, NULL), TR_OK);
  cr_assert_float_eq(x.alpha, 1, 1e-12);
  cr_assert_float_eq(x.coef, 5e-5, 1e-17);
  cr_assert_float_eq(x.alpha_hi - x.alpha_lo, 0, 1e-9);
  cr_assert_eq(rs_study_lr_exponent(B, lin, 2, &x, NULL), TR_OK);
  cr_assert(isnan(x.alpha_lo));
  double one[2] = {16, 16};
  cr_assert_eq(rs_study_lr_exponent(one, lin, 2, &x, NULL), TR_OK);
  cr_assert_eq(x.status, RS_STUDY_ONE_BATCH);
  cr_assert_str_eq(x.reason, "Fewer than two batch sizes have a best learning rate, so there is no trend to fit.");
}

Test(rs_study, steps_to_target_interpolate_between_evaluations) {
  double st[3] = {0, 10, 20}, v[3] = {3, 2, 1};
  cr_assert_float_eq(rs_study_steps_to(st, v, 3, 1.5, 0), 15, 1e-12);
  cr_assert_float_eq(rs_study_steps_to(st, v, 3, 2.0, 0), 10, 1e-12);
  cr_assert_float_eq(rs_study_steps_to(st, v, 3, 4.0, 0), 0, 0);
  cr_assert(isnan(rs_study_steps_to(st, v, 3, 0.5, 0)));
  cr_assert_float_eq(rs_study_steps_to(st, v, 3, 2.5, 1), 0, 0);
  double w[3] = {3, NAN, 1};
  cr_assert_float_eq(rs_study_steps_to(st, w, 3, 2, 0), 10, 1e-12, "a NaN evaluation is skipped");
}

#define NB 6
#define NEVAL 400
static double cst[NB][NEVAL], cval[NB][NEVAL], cgns[NB][NEVAL];

/* One curve per batch size, crossing `target` at S_B = S_min + E_min / B (times a
** deterministic jitter): linear (exact under interpolation) or exponential in step. */
static void bs_curves(RsBsCurve *c, double smin, double emin, double jitter, int expo) {
  static const double B[NB] = {4, 8, 16, 32, 64, 128};
  for (int i = 0; i < NB; i++) {
    double sb = (smin + emin / B[i]) * (1 + jitter * (i % 2 ? 1 : -1));
    for (int k = 0; k < NEVAL; k++) {
      double s = 10.0 * k, f = s / sb;
      cst[i][k] = s;
      cval[i][k] = expo ? 3.0 * exp(-f * log(3.0 / 1.8)) : 3.0 - 1.2 * f;
      cgns[i][k] = 10 + s / 100;
    }
    c[i] = (RsBsCurve){.batch = B[i], .seq_len = 64, .step = cst[i], .value = cval[i], .gns = cgns[i], .n = NEVAL};
  }
}

Test(rs_study, mccandlish_fit_recovers_s_min_and_e_min_within_5_percent) {
  RsBsCurve c[NB];
  bs_curves(c, 310, 12700, 0.02, 1);
  RsBsStudy s;
  RsBsOptions o = {.target = 1.8};
  TrErr e = {0};
  cr_assert_eq(rs_study_bs(c, NB, &o, &s, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(s.status, RS_STUDY_OK, "%s", s.reason);
  cr_assert_eq(s.nlevel, NB);
  cr_assert_eq(s.n_fit, NB);
  cr_assert_lt(fabs(s.s_min / 310 - 1), 0.05, "S_min %g", s.s_min);
  cr_assert_lt(fabs(s.e_min / 12700 - 1), 0.05, "E_min %g", s.e_min);
  cr_assert_float_eq(s.b_crit, s.e_min / s.s_min, 1e-12);
  cr_assert_float_eq(s.b_crit_tokens, s.b_crit * 64, 1e-9);
  cr_assert_lt(s.fit_rms_rel, 0.05);
  for (int l = 0; l < NB; l++) {
    double sb = (310 + 12700 / s.level[l].batch) * (1 + 0.02 * (l % 2 ? 1 : -1));
    cr_assert_lt(fabs(s.level[l].steps / sb - 1), 0.01, "B %g: %g vs %g", s.level[l].batch, s.level[l].steps, sb);
    cr_assert_float_eq(s.level[l].examples, s.level[l].steps * s.level[l].batch, 1e-9);
    cr_assert_float_eq(s.level[l].tokens, s.level[l].examples * 64, 1e-6);
  }
  rs_study_bs_deinit(&s);
}

Test(rs_study, mccandlish_exact_data_give_the_caption_and_the_noise_scale) {
  RsBsCurve c[NB];
  bs_curves(c, 310, 12700, 0, 0);
  RsBsStudy s;
  RsBsOptions o = {.target = 1.8};
  cr_assert_eq(rs_study_bs(c, NB, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_OK, "%s", s.reason);
  cr_assert_float_eq(s.s_min, 310, 1e-6);
  cr_assert_float_eq(s.e_min, 12700, 1e-4);
  /* gns = 10 + step / 100 at the crossing; the median of 6 curves is the mean of B = 16 and 32's. */
  double g16 = 10 + (310 + 12700 / 16.0) / 100, g32 = 10 + (310 + 12700 / 32.0) / 100;
  cr_assert_float_eq(s.level[2].b_simple, g16, 1e-9);
  cr_assert_float_eq(s.b_simple, (g16 + g32) / 2, 1e-9);
  cr_assert_float_eq(s.b_ratio, s.b_crit / s.b_simple, 1e-12);
  char buf[512];
  rs_study_bs_caption(&s, buf, sizeof buf);
  cr_assert_str_eq(buf, "B_crit ~ 41 (S_min 310 steps, E_min 12,700 examples) to reach 1.8; the measured noise "
                        "scale B_simple ~ 19, a ratio of 2.2.");
  rs_study_bs_deinit(&s);
}

Test(rs_study, mccandlish_fit_shrugs_off_one_outlying_batch_size) {
  RsBsCurve c[NB];
  bs_curves(c, 310, 12700, 0, 0);
  double sb = 310 + 12700 / 32.0; /* B = 32 takes 40% more steps than the model says */
  for (int k = 0; k < NEVAL; k++) cval[3][k] = 3.0 - 1.2 * cst[3][k] / (1.4 * sb);
  RsBsStudy s;
  RsBsOptions o = {.target = 1.8};
  cr_assert_eq(rs_study_bs(c, NB, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_OK, "%s", s.reason);
  cr_assert_float_eq(s.level[3].steps, 1.4 * sb, 1e-6);
  cr_assert_lt(fabs(s.s_min / 310 - 1), 0.05, "S_min %g", s.s_min);
  cr_assert_lt(fabs(s.e_min / 12700 - 1), 0.05, "E_min %g", s.e_min);
  rs_study_bs_deinit(&s);
}

Test(rs_study, bs_automatic_target_is_the_best_value_every_run_reached) {
  RsBsCurve c[NB];
  bs_curves(c, 310, 12700, 0, 1);
  cval[2][NEVAL - 1] = NAN; /* a non-finite last value is skipped */
  RsBsStudy s;
  cr_assert_eq(rs_study_bs(c, NB, NULL, &s, NULL), TR_OK);
  double worst = -INFINITY;
  for (int i = 0; i < NB; i++) {
    double best = INFINITY;
    for (int k = 0; k < NEVAL; k++)
      if (isfinite(cval[i][k]) && cval[i][k] < best) best = cval[i][k];
    if (best > worst) worst = best;
  }
  cr_assert(s.target_auto);
  cr_assert_float_eq(s.target, worst, 0);
  for (int l = 0; l < NB; l++) cr_assert_eq(s.level[l].n_reached, 1, "every curve reaches the automatic target");
  char buf[512];
  rs_study_bs_caption(&s, buf, sizeof buf);
  cr_assert(strstr(buf, "(the best value every run reached)"), "%s", buf);
  rs_study_bs_deinit(&s);
}

Test(rs_study, bs_degenerate_cases_say_why) {
  RsBsCurve c[NB];
  RsBsStudy s;
  char buf[512];
  bs_curves(c, 310, 12700, 0, 1);
  RsBsOptions o = {.target = 1.8};
  cr_assert_eq(rs_study_bs(c, 1, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_ONE_BATCH);
  cr_assert_str_eq(s.reason, "Only one batch size (4) was run, so there is no critical batch size to fit.");
  cr_assert_str_eq(rs_study_bs_caption(&s, buf, sizeof buf), s.reason);
  cr_assert(isnan(s.b_crit));
  cr_assert(isfinite(s.level[0].steps), "the one batch size still has its steps");
  rs_study_bs_deinit(&s);

  o.target = 0.01;
  cr_assert_eq(rs_study_bs(c, NB, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NO_TARGET);
  cr_assert_str_eq(s.reason, "None of the 6 batch sizes reached the target 0.01 on every run.");
  rs_study_bs_deinit(&s);

  /* Two curves at B = 4, one of which misses: that batch size does not count. */
  RsBsCurve two[3] = {c[0], c[0], c[1]};
  double flat[NEVAL];
  for (int k = 0; k < NEVAL; k++) flat[k] = 2.5;
  two[1].value = flat;
  o.target = 1.8;
  cr_assert_eq(rs_study_bs(two, 3, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NO_TARGET);
  cr_assert_eq(s.level[0].n_curves, 2);
  cr_assert_eq(s.level[0].n_reached, 1);
  cr_assert(isnan(s.level[0].steps));
  cr_assert_str_eq(s.reason, "Only one of the 2 batch sizes reached the target 1.8 on every run, too few for a fit.");
  rs_study_bs_deinit(&s);

  /* Steps that grow with the batch size fit no positive S_min, E_min. */
  bs_curves(c, 310, -1000, 0, 1);
  cr_assert_eq(rs_study_bs(c, NB, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_BAD_FIT);
  cr_assert(strncmp(s.reason, "The steps to the target do not fall with the batch size", 55) == 0, "%s", s.reason);
  cr_assert(isnan(s.b_crit) && isnan(s.b_ratio));
  rs_study_bs_deinit(&s);

  bs_curves(c, 310, 12700, 0, 1);
  c[3].batch = INFINITY;
  cr_assert_eq(rs_study_bs(c, NB, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NONFINITE);
  cr_assert_str_eq(s.reason, "The batch size inf of curve 4 is not a finite positive number.");
  rs_study_bs_deinit(&s);

  double nan_v[NEVAL];
  for (int k = 0; k < NEVAL; k++) nan_v[k] = NAN;
  bs_curves(c, 310, 12700, 0, 1);
  for (int i = 0; i < NB; i++) c[i].value = nan_v;
  cr_assert_eq(rs_study_bs(c, NB, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NO_TARGET);
  cr_assert_str_eq(s.reason, "No run has a finite value, so there is no target to reach.");
  rs_study_bs_deinit(&s);
  o.target = INFINITY;
  bs_curves(c, 310, 12700, 0, 1);
  cr_assert_eq(rs_study_bs(c, NB, &o, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NONFINITE);
  cr_assert_str_eq(s.reason, "The target inf is not a finite number.");
  rs_study_bs_deinit(&s);

  cr_assert_eq(rs_study_bs(NULL, 0, NULL, &s, NULL), TR_OK);
  cr_assert_eq(s.status, RS_STUDY_NO_POINTS);
  rs_study_bs_deinit(&s);
  TrErr e = {0};
  cr_assert_eq(rs_study_bs(NULL, 2, NULL, &s, &e), TR_EINVAL);
}
