/*
** test_sw_tpe.c: Optuna's TPE (sw_tpe.h): gamma and the split, start-up trials, the
** constant liar, determinism, and that it beats random search on Branin and Hartmann-6.
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hps_test.h"
#include "sw_search_sim.h"
#include "sw_tpe.h"

static char tmpdir[PATH_MAX];
static void mk_tmp(void) { hps_tmp_make(tmpdir, sizeof tmpdir, "hps_sw_tpe_"); }
static void rm_tmp(void) { hps_tmp_remove(tmpdir); }
TestSuite(sw_tpe, .init = mk_tmp, .fini = rm_tmp);

static SwSearchSpace space(const char *name) {
  SwSearchSpace S;
  TrErr err;
  tr_err_clear(&err);
  cr_assert_eq(sw_search_space(&S, tmpdir, name, &err), TR_OK, "%s", err.msg);
  return S;
}

/* n Branin observations at seeded points (U: 2n). */
static void branin_obs(SwObs *o, double *U, size_t n, uint64_t seed) {
  TrRng r;
  tr_rng_seed(&r, seed);
  for (size_t i = 0; i < n; i++) {
    U[2 * i] = tr_rng_uniform(&r), U[2 * i + 1] = tr_rng_uniform(&r);
    o[i] = (SwObs){&U[2 * i], hps_branin(-5 + 15 * U[2 * i], 15 * U[2 * i + 1]), 0, SW_OBS_DONE};
  }
}

Test(sw_tpe, gamma_is_optunas_default) {
  const size_t n[] = {0, 1, 9, 10, 11, 20, 21, 100, 241, 250, 251, 10000};
  const size_t g[] = {0, 1, 1, 1, 2, 2, 3, 10, 25, 25, 25, 25};
  for (size_t i = 0; i < sizeof n / sizeof *n; i++)
    cr_expect_eq(sw_tpe_gamma(n[i]), g[i], "gamma(%zu) = %zu, want %zu", n[i], sw_tpe_gamma(n[i]), g[i]);
}

Test(sw_tpe, split_puts_the_best_gamma_n_below) {
  for (size_t n = 1; n <= 300; n += 23) {
    SwObs *o = calloc(n, sizeof *o);
    double *l = malloc(n * sizeof *l);
    signed char *b = malloc(n);
    for (size_t i = 0; i < n; i++) o[i].state = SW_OBS_DONE, l[i] = (double)((i * 997) % n); /* a permutation: 997 is prime */
    size_t m;
    TrErr err;
    cr_assert_eq(sw_tpe_split(o, l, n, b, &m, &err), TR_OK);
    cr_assert_eq(m, n);
    size_t nb = 0;
    for (size_t i = 0; i < n; i++) {
      nb += b[i] == 1;
      cr_expect_eq(b[i], l[i] < (double)sw_tpe_gamma(n), "n %zu: loss %g below %d", n, l[i], b[i]);
    }
    cr_expect_eq(nb, sw_tpe_gamma(n));
    free(o), free(l), free(b);
  }
}

Test(sw_tpe, running_trials_are_always_in_g_pruned_rank_after_finished_failed_are_not_observed) {
  /* 30 observations, 28 of them finished or pruned: gamma(28) = 3 */
  SwObs o[30];
  double l[30];
  signed char b[30];
  for (int i = 0; i < 30; i++) o[i] = (SwObs){NULL, 0, 0, SW_OBS_DONE}, l[i] = 100 + i;
  o[0].state = SW_OBS_PRUNED, o[0].step = 50, l[0] = -5;  /* best loss, but pruned */
  o[1].state = SW_OBS_RUNNING, l[1] = NAN;                /* the liar */
  o[2].state = SW_OBS_FAILED, l[2] = -10;                  /* not observed at all */
  l[3] = 1, l[4] = 2, l[5] = 3;
  size_t m;
  TrErr err;
  cr_assert_eq(sw_tpe_split(o, l, 30, b, &m, &err), TR_OK);
  cr_expect_eq(m, 28);
  cr_expect_eq(b[2], -1);
  cr_expect_eq(b[0], 0);
  cr_expect_eq(b[1], 0);
  cr_expect(b[3] == 1 && b[4] == 1 && b[5] == 1);
  /* too few finished trials: pruned ones fill l(x), the furthest first; running never */
  SwObs p[13];
  double lp[13];
  signed char bp[13];
  for (int i = 0; i < 13; i++) p[i] = (SwObs){NULL, 0, 10 + i, SW_OBS_PRUNED}, lp[i] = i;
  p[7].state = SW_OBS_DONE, lp[7] = 99;    /* finished: first, whatever its loss */
  p[9].step = 100;                         /* went furthest: first among the pruned */
  p[0].state = SW_OBS_RUNNING, lp[0] = NAN;
  cr_assert_eq(sw_tpe_split(p, lp, 13, bp, &m, &err), TR_OK);
  cr_expect_eq(m, 12); /* gamma(12) = 2 */
  cr_expect_eq(bp[7], 1);
  cr_expect_eq(bp[9], 1);
  int nb = 0;
  for (int i = 0; i < 13; i++) nb += bp[i] == 1;
  cr_expect_eq(nb, 2);
  cr_expect_eq(bp[0], 0);
}

Test(sw_tpe, fewer_than_10_observed_is_a_start_up_trial_drawn_uniformly_from_the_seed) {
  SwSearchSpace S = space("branin");
  SwObs o[10];
  double U[20], l[10], u[2], want[2];
  branin_obs(o, U, 10, 1);
  o[9].state = SW_OBS_FAILED; /* 9 observed */
  sw_obs_losses(o, 10, SW_GOAL_MINIMIZE, NULL, l);
  SwProposal info;
  TrErr err;
  cr_assert_eq(sw_tpe_propose(&S.sp, o, l, 10, 1234, u, &info, &err), TR_OK);
  cr_expect(info.random);
  TrRng r;
  tr_rng_seed(&r, 1234);
  sw_space_random(&S.sp, &r, want);
  cr_expect_eq(memcmp(u, want, sizeof u), 0);
  /* a running trial does not count towards the start-up trials (Optuna 4) */
  o[9].state = SW_OBS_RUNNING;
  sw_obs_losses(o, 10, SW_GOAL_MINIMIZE, NULL, l);
  cr_assert_eq(sw_tpe_propose(&S.sp, o, l, 10, 1234, u, &info, &err), TR_OK);
  cr_expect(info.random);
  cr_expect_eq(info.n_pending, 1);
  /* the tenth result: the model proposes */
  o[9].state = SW_OBS_DONE;
  sw_obs_losses(o, 10, SW_GOAL_MINIMIZE, NULL, l);
  cr_assert_eq(sw_tpe_propose(&S.sp, o, l, 10, 1234, u, &info, &err), TR_OK);
  cr_expect_not(info.random, "%s", info.why);
  sw_search_free(&S);
}

Test(sw_tpe, same_seed_same_proposal_and_the_liar_moves_it) {
  SwSearchSpace S = space("branin");
  SwObs o[21];
  double U[42], l[21], a[2], b[2], c[2];
  branin_obs(o, U, 20, 8);
  sw_obs_losses(o, 20, SW_GOAL_MINIMIZE, NULL, l);
  TrErr err;
  cr_assert_eq(sw_tpe_propose(&S.sp, o, l, 20, 5, a, NULL, &err), TR_OK);
  cr_assert_eq(sw_tpe_propose(&S.sp, o, l, 20, 5, b, NULL, &err), TR_OK);
  cr_expect_eq(memcmp(a, b, sizeof a), 0);
  memcpy(&U[40], a, sizeof a);
  o[20] = (SwObs){&U[40], NAN, 0, SW_OBS_RUNNING};
  sw_obs_losses(o, 21, SW_GOAL_MINIMIZE, NULL, l);
  cr_assert_eq(sw_tpe_propose(&S.sp, o, l, 21, 5, c, NULL, &err), TR_OK);
  cr_expect(hypot(a[0] - c[0], a[1] - c[1]) > 1e-6, "(%g, %g) proposed twice", a[0], a[1]);
  sw_search_free(&S);
}

Test(sw_tpe, beats_random_search_on_branin_and_hartmann6) {
  for (int f = 0; f < 2; f++) {
    SwSearchSpace S = space(f ? "hartmann6" : "branin");
    double tpe = sw_search_median_regret(&S, SW_SEARCH_TPE, 50, 5, 1, 0, NULL);
    double rnd = sw_search_median_regret(&S, SW_SEARCH_RANDOM, 50, 5, 1, 0, NULL);
    /* measured 16x (Branin) and 3.7x (Hartmann-6) at this size: bench/bayes_bench */
    cr_expect(tpe < rnd / 2, "%s: median regret after 50 trials: TPE %g, random %g", S.name, tpe, rnd);
    sw_search_free(&S);
  }
}

Test(sw_tpe, a_categorical_dimension_learns_its_good_value) {
  int hits = sw_search_categorical_hits(tmpdir, SW_SEARCH_TPE, 30, 10);
  cr_expect(hits >= 8, "%d of 10 proposals took the good value", hits);
}

Test(sw_tpe, two_workers_on_a_grid_propose_no_duplicates_where_hiding_running_trials_does) {
  SwSearchSpace S = space("branin_q");
  int dups = -1, naive = -1;
  cr_assert_eq(sw_search_grid_dups(&S, SW_SEARCH_TPE, &dups, &naive), 0);
  cr_expect_eq(dups, 0, "%d duplicate proposals with the constant liar", dups);
  cr_expect(naive > 0, "the running trial hidden: %d duplicates (measured 5)", naive);
  sw_search_free(&S);
}

/* Optuna's _ParzenEstimator (multivariate, prior weight 1, magic clip, default weights) on
** the same split of n Hartmann-6 points drawn by tr_rng_seed(seed), evaluated at three
** points: log l(x) and log g(x) as Optuna 4 gives them (its truncated normal's log density
** has the - log sigma that Debian's Optuna 3.1.0 lacks; bench/bayes_peer_bench.py). */
Test(sw_tpe, densities_equal_optunas_parzen_estimators) {
  static const double pts[3][6] = {
      {0.2, 0.15, 0.48, 0.28, 0.31, 0.66}, {0.5, 0.5, 0.5, 0.5, 0.5, 0.5}, {0.9, 0.1, 0.9, 0.1, 0.9, 0.1}};
  static const struct { int n, seed; double lg[3][2]; } ref[] = {
      {20, 1, {{-0.94780535813, -1.68830069424}, {0.413823722818, 1.76836122984}, {-1.32654720146, -3.15332064557}}},
      {40, 2, {{2.44771365695, -1.10749738903}, {0.0746762346199, 1.88353711219}, {-1.84357110172, -1.30174787458}}}};
  SwSearchSpace S = space("hartmann6");
  for (size_t c = 0; c < sizeof ref / sizeof *ref; c++) {
    double X[40 * 6], y[40];
    SwObs o[40];
    TrRng r;
    tr_rng_seed(&r, (uint64_t)ref[c].seed);
    for (int i = 0; i < ref[c].n; i++) {
      for (int j = 0; j < 6; j++) X[i * 6 + j] = tr_rng_uniform(&r);
      y[i] = hps_hartmann6(&X[i * 6]);
      o[i] = (SwObs){&X[i * 6], y[i], 0, SW_OBS_DONE};
    }
    for (int p = 0; p < 3; p++) {
      double ll, lg;
      TrErr err;
      cr_assert_eq(sw_tpe_density(&S.sp, o, y, (size_t)ref[c].n, pts[p], &ll, &lg, &err), TR_OK, "%s", err.msg);
      cr_expect(fabs(ll - ref[c].lg[p][0]) < 1e-9 && fabs(lg - ref[c].lg[p][1]) < 1e-9,
                "n %d point %d: log l %.12g log g %.12g, Optuna %.12g %.12g", ref[c].n, p, ll, lg, ref[c].lg[p][0],
                ref[c].lg[p][1]);
    }
  }
  sw_search_free(&S);
}
