/*
** test_sw_space.c: parameters to the model's [0, 1] and back (sw_space.h).
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hps_test.h"
#include "sw_space.h"

static char tmpdir[PATH_MAX];
static void mk_tmp(void) { hps_tmp_make(tmpdir, sizeof tmpdir, "hps_sw_space_"); }
static void rm_tmp(void) { hps_tmp_remove(tmpdir); }
TestSuite(sw_space, .init = mk_tmp, .fini = rm_tmp);

/* Every distribution once, over a program's free parameters (/bin/true never runs). */
static const char *const every_dist =
    "method: random\n"
    "program: /bin/true\n"
    "metric: {name: loss}\n"
    "run_cap: 5\n"
    "parameters:\n"
    "  a: {distribution: uniform, min: -5, max: 10}\n"
    "  b: {distribution: int_uniform, min: 1, max: 6}\n"
    "  c: {distribution: q_uniform, min: 0, max: 1, q: 0.25}\n"
    "  d: {distribution: log_uniform_values, min: 1.0e-5, max: 1.0e-2}\n"
    "  e: {distribution: log_uniform, min: -3, max: 2}\n"
    "  f: {distribution: normal, mu: 1, sigma: 2}\n"
    "  g: {distribution: log_normal, mu: 0, sigma: 1}\n"
    "  h: {values: [x, y, z]}\n"
    "  k: {value: 7}\n"
    "  m: {distribution: q_log_uniform_values, min: 1, max: 1000, q: 10}\n"
    "  n: {distribution: q_normal, mu: 0, sigma: 3, q: 2}\n";

static SwSpec *load(const char *name, const char *text) {
  SwSpec *s = NULL;
  TrErr err;
  tr_err_clear(&err);
  cr_assert_eq(sw_spec_load(&s, hps_put(tmpdir, name, text), &err), TR_OK, "%s", err.msg);
  return s;
}

static const SwParam *param(const SwSpec *s, const char *name) {
  for (size_t i = 0; i < sw_spec_param_count(s); i++)
    if (!strcmp(sw_spec_param(s, i)->key->name, name)) return sw_spec_param(s, i);
  cr_assert_fail("no parameter %s", name);
  return NULL;
}

static double enc(const SwParam *p, double x) { return sw_space_encode_value(p, (SwValue){x, 0}); }

Test(sw_space, constants_are_not_dimensions_categoricals_know_their_k) {
  SwSpec *s = load("all.yaml", every_dist);
  SwSpace sp;
  TrErr err;
  cr_assert_eq(sw_space_init(&sp, s, &err), TR_OK, "%s", err.msg);
  cr_expect_eq(sp.n_params, 11);
  cr_expect_eq(sp.n, 10);
  for (size_t d = 0; d < sp.n; d++) {
    cr_expect_neq(sp.all[sp.param[d]]->dist, SW_DIST_CONSTANT);
    cr_expect_eq(sp.k[d], sp.all[sp.param[d]]->dist == SW_DIST_CATEGORICAL ? 3 : 0);
  }
  sw_space_free(&sp);
  sw_spec_destroy(s);
}

Test(sw_space, every_decodable_value_round_trips) {
  SwSpec *s = load("all.yaml", every_dist);
  for (size_t i = 0; i < sw_spec_param_count(s); i++) {
    const SwParam *p = sw_spec_param(s, i);
    if (p->dist == SW_DIST_CONSTANT) continue;
    for (int j = 0; j <= 200; j++) {
      SwValue v = sw_space_decode_value(p, j / 200.0);
      double u = sw_space_encode_value(p, v);
      cr_assert(u >= 0 && u <= 1, "%s: u %g", p->key->name, u);
      SwValue w = sw_space_decode_value(p, u);
      cr_expect_eq(w.index, v.index, "%s at %d: index %d -> %d", p->key->name, j, v.index, w.index);
      cr_expect(fabs(w.x - v.x) <= 1e-12 * fmax(1, fabs(v.x)), "%s at u=%g: %.17g -> %.17g", p->key->name,
                j / 200.0, v.x, w.x);
    }
  }
  sw_spec_destroy(s);
}

Test(sw_space, transforms_are_the_distributions_cdfs) {
  SwSpec *s = load("all.yaml", every_dist);
  cr_expect_float_eq(enc(param(s, "a"), 2.5), 0.5, 1e-15);
  cr_expect_float_eq(enc(param(s, "d"), sqrt(1e-5 * 1e-2)), 0.5, 1e-12); /* log space */
  cr_expect_float_eq(enc(param(s, "e"), exp(-0.5)), 0.5, 1e-12);        /* bounds are exponents */
  cr_expect_float_eq(enc(param(s, "f"), 1), 0.5, 1e-15);
  cr_expect_float_eq(enc(param(s, "f"), 3), sw_normal_cdf(1), 1e-15);
  cr_expect_float_eq(enc(param(s, "g"), exp(-1)), sw_normal_cdf(-1), 1e-12);
  cr_expect_float_eq(sw_space_decode_value(param(s, "f"), sw_normal_cdf(1)).x, 3, 1e-12);
  /* int_uniform [1, 6]: six cells of 1/6, each integer at its centre */
  const SwParam *b = param(s, "b");
  cr_expect_float_eq(enc(b, 1), 0.5 / 6, 1e-15);
  cr_expect_float_eq(enc(b, 6), 5.5 / 6, 1e-15);
  cr_expect_eq(sw_space_decode_value(b, 0).x, 1);
  cr_expect_eq(sw_space_decode_value(b, 1).x, 6);
  cr_expect_eq(sw_space_decode_value(b, 0.5).x, 4);
  /* categoricals as W&B: (index + 1) / K, and back with ceil(u K) - 1 */
  const SwParam *h = param(s, "h");
  for (int i = 0; i < 3; i++) {
    cr_expect_float_eq(sw_space_encode_value(h, (SwValue){0, i}), (i + 1) / 3.0, 1e-15);
    cr_expect_eq(sw_space_decode_value(h, (i + 1) / 3.0).index, i);
  }
  cr_expect_eq(sw_space_decode_value(h, 0).index, 0);
  cr_expect_eq(sw_space_decode_value(h, 0.34).index, 1);
  /* q_ distributions quantise when decoded */
  cr_expect_float_eq(sw_space_decode_value(param(s, "c"), 0.3).x, 0.25, 1e-15);
  cr_expect_float_eq(fmod(sw_space_decode_value(param(s, "m"), 0.37).x, 10), 0, 1e-9);
  cr_expect_float_eq(fmod(sw_space_decode_value(param(s, "n"), 0.61).x, 2), 0, 1e-12);
  sw_spec_destroy(s);
}

Test(sw_space, normal_quantile_inverts_the_cdf) {
  for (double z = -8; z <= 4; z += 0.01) { /* above 4, 1 - p keeps too few digits */
    double p = sw_normal_cdf(z), back = sw_normal_quantile(p);
    cr_assert(fabs(back - z) < 1e-9 * fmax(1, fabs(z)) || p < 1e-300, "z %g -> p %g -> %.17g", z, p, back);
  }
  cr_expect(isinf(sw_normal_quantile(0)) && sw_normal_quantile(0) < 0);
  cr_expect(isinf(sw_normal_quantile(1)) && sw_normal_quantile(1) > 0);
  cr_expect_float_eq(sw_normal_quantile(0.975), 1.959963984540054, 1e-13);
}

Test(sw_space, snap_lands_on_the_point_that_will_be_tried) {
  SwSpec *s = load("all.yaml", every_dist);
  SwSpace sp;
  TrErr err;
  cr_assert_eq(sw_space_init(&sp, s, &err), TR_OK);
  double u[10], w[10];
  SwValue v[11], v2[11];
  TrRng r;
  tr_rng_seed(&r, 5);
  for (int t = 0; t < 50; t++) {
    for (size_t d = 0; d < sp.n; d++) u[d] = tr_rng_uniform(&r);
    sw_space_decode(&sp, u, v);
    memcpy(w, u, sizeof w);
    sw_space_snap(&sp, w);
    sw_space_decode(&sp, w, v2);
    for (size_t i = 0; i < sp.n_params; i++) {
      cr_expect_eq(v[i].index, v2[i].index);
      cr_expect(fabs(v[i].x - v2[i].x) <= 1e-12 * fmax(1, fabs(v[i].x)));
    }
  }
  sw_space_free(&sp);
  sw_spec_destroy(s);
}

Test(sw_space, decoded_values_become_trials_through_the_expansion_code) {
  SwSpec *s = load("all.yaml", every_dist);
  SwSpace sp;
  TrErr err;
  cr_assert_eq(sw_space_init(&sp, s, &err), TR_OK);
  double u[10];
  for (size_t d = 0; d < sp.n; d++) u[d] = 0.5;
  SwValue v[11];
  sw_space_decode(&sp, u, v);
  SwTrial *t = NULL;
  size_t n = 0;
  cr_assert_eq(sw_expand_values(s, v, 7, &t, &n, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(n, 1);
  cr_expect_eq(t[0].index, 7);
  /* int_uniform an int, categorical its YAML value, the constant passed through, q_ quantised */
  cr_expect(strstr(t[0].params_json, "\"a\": 2.5,") != NULL, "%s", t[0].params_json);
  cr_expect(strstr(t[0].params_json, "\"b\": 4,") != NULL, "%s", t[0].params_json);
  cr_expect(strstr(t[0].params_json, "\"c\": 0.5,") != NULL, "%s", t[0].params_json);
  cr_expect(strstr(t[0].params_json, "\"h\": \"y\"") != NULL, "%s", t[0].params_json);
  cr_expect(strstr(t[0].params_json, "\"k\": 7") != NULL, "%s", t[0].params_json);
  sw_trials_free(t, n);
  sw_space_free(&sp);
  sw_spec_destroy(s);
}

Test(sw_space, a_space_of_constants_only_is_an_error_at_the_parameters_key) {
  SwSpec *s = load("const.yaml", "method: random\nprogram: /bin/true\nmetric: {name: loss}\n"
                                 "parameters:\n  a: {value: 1}\n  b: {value: 2}\n");
  SwSpace sp;
  TrErr err;
  tr_err_clear(&err);
  cr_expect_eq(sw_space_init(&sp, s, &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "const.yaml:4:1: ") != NULL, "%s", err.msg);
  cr_expect(strstr(err.msg, "every parameter is a constant") != NULL, "%s", err.msg);
  sw_spec_destroy(s);
}

Test(sw_space, proposal_seeds_are_a_pure_function_of_sweep_seed_and_trial) {
  cr_expect_eq(sw_space_seed(3, 9), sw_space_seed(3, 9));
  cr_expect_neq(sw_space_seed(3, 9), sw_space_seed(3, 10));
  cr_expect_neq(sw_space_seed(3, 9), sw_space_seed(4, 9));
  /* apart from random search's stream (seed, j) */
  TrRng r;
  tr_rng_seed2(&r, 3, 9);
  cr_expect_neq(sw_space_seed(3, 9), tr_rng_u64(&r));
}

Test(sw_space, losses_minimise_and_failed_trials_take_the_worst_or_impute) {
  SwObs o[5] = {{NULL, 1.0, 0, SW_OBS_DONE}, {NULL, 3.0, 0, SW_OBS_PRUNED}, {NULL, NAN, 0, SW_OBS_FAILED},
                {NULL, 0, 0, SW_OBS_RUNNING}, {NULL, 2.0, 0, SW_OBS_DONE}};
  double l[5];
  sw_obs_losses(o, 5, SW_GOAL_MINIMIZE, NULL, l);
  cr_expect_eq(l[0], 1.0);
  cr_expect_eq(l[1], 3.0);
  cr_expect_eq(l[2], 3.0); /* the worst */
  cr_expect(isnan(l[3]));
  sw_obs_losses(o, 5, SW_GOAL_MAXIMIZE, NULL, l);
  cr_expect_eq(l[0], -1.0);
  cr_expect_eq(l[2], -1.0); /* worst of a maximised metric: its smallest value */
  double imp = 10;
  sw_obs_losses(o, 5, SW_GOAL_MAXIMIZE, &imp, l);
  cr_expect_eq(l[2], -10.0);
  sw_obs_losses(o + 2, 2, SW_GOAL_MINIMIZE, NULL, l); /* nothing to take the worst of: W&B's 0 */
  cr_expect_eq(l[0], 0.0);
}

Test(sw_space, describe_says_each_transform) {
  SwSpec *s = load("all.yaml", every_dist);
  char b[256];
  sw_space_describe(param(s, "d"), b, sizeof b);
  cr_expect_str_eq(b, "u = (ln x - ln 1e-05) / (ln 0.01 - ln 1e-05)");
  sw_space_describe(param(s, "h"), b, sizeof b);
  cr_expect_str_eq(b, "u = (i + 1) / 3 for value i; back: i = ceil(3 u) - 1");
  sw_space_describe(param(s, "c"), b, sizeof b);
  cr_expect_str_eq(b, "u = (x - 0) / 1, then rounded to a multiple of q");
  sw_space_describe(param(s, "a"), b, sizeof b);
  cr_expect_str_eq(b, "u = (x + 5) / 15");
  sw_space_describe(param(s, "b"), b, sizeof b);
  cr_expect_str_eq(b, "u = (x - 0.5) / 6; back: x = 1 + floor(6 u)");
  sw_space_describe(param(s, "e"), b, sizeof b);
  cr_expect_str_eq(b, "u = (ln x + 3) / 5");
  sw_space_describe(param(s, "g"), b, sizeof b);
  cr_expect_str_eq(b, "u = Phi((ln x - 0) / 1)");
  sw_space_describe(param(s, "k"), b, sizeof b);
  cr_expect_str_eq(b, "not modelled (a constant)");
  sw_spec_destroy(s);
}

Test(sw_space, decoding_random_search_draws_gives_random_searchs_trials) {
  /* the benchmarks' random baseline is hpsweep's random search: uniform and q_uniform draws
  ** from tr_rng_seed2(seed, j), decoded, are the trials sw_expand makes */
  SwSpec *s = load("rnd.yaml", "method: random\nprogram: /bin/true\nmetric: {name: loss}\nrun_cap: 30\n"
                               "hpsweep: {seed: 4}\nparameters:\n  a: {distribution: uniform, min: -5.0, max: 10.0}\n"
                               "  b: {distribution: q_uniform, min: 0.0, max: 15.0, q: 0.5}\n");
  SwSpace sp;
  TrErr err;
  cr_assert_eq(sw_space_init(&sp, s, &err), TR_OK);
  SwTrial *t = NULL, *one = NULL;
  size_t n = 0, no = 0;
  cr_assert_eq(sw_expand(s, &t, &n, &err), TR_OK, "%s", err.msg);
  for (size_t j = 0; j < n; j++) {
    TrRng r;
    double u[2];
    SwValue v[2];
    tr_rng_seed2(&r, 4, j);
    u[0] = tr_rng_uniform(&r), u[1] = tr_rng_uniform(&r);
    sw_space_decode(&sp, u, v);
    cr_assert_eq(sw_expand_values(s, v, j, &one, &no, &err), TR_OK, "%s", err.msg);
    cr_expect_str_eq(one[0].params_json, t[j].params_json);
    cr_expect_str_eq(one[0].hash_hex, t[j].hash_hex);
    sw_trials_free(one, no);
  }
  sw_trials_free(t, n);
  sw_space_free(&sp);
  sw_spec_destroy(s);
}
