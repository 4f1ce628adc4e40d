/*
** test_sw_expand.c: grid and random expansion of specs into trials.
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hps_test.h"
#include "sw_expand.h"
#include "sw_spec.h"

static char tmpdir[PATH_MAX];

static void mk_tmp(void) { hps_tmp_make(tmpdir, sizeof tmpdir, "hps_sw_expand_"); }

static void rm_tmp(void) { hps_tmp_remove(tmpdir); }

TestSuite(sw_expand, .init = mk_tmp, .fini = rm_tmp);

typedef struct Sweep {
  SwSpec *spec;
  SwTrial *t;
  size_t n;
} Sweep;

/* Write the spec text to tmpdir/name, load and expand it (asserting success). */
static Sweep expand_text(const char *name, const char *text) {
  const char *p = hps_put(tmpdir, name, text);
  Sweep w = {0};
  TrErr err;
  tr_err_clear(&err);
  cr_assert_eq(sw_spec_load(&w.spec, p, &err), TR_OK, "load %s: %s", name, err.msg);
  cr_assert_eq(sw_expand(w.spec, &w.t, &w.n, &err), TR_OK, "expand %s: %s", name, err.msg);
  return w;
}

/* The error of loading + expanding text (asserting failure). */
static void expand_fails(const char *name, const char *text, TrErr *err) {
  const char *p = hps_put(tmpdir, name, text);
  SwSpec *s = NULL;
  tr_err_clear(err);
  int rc = sw_spec_load(&s, p, err);
  if (rc == TR_OK) {
    SwTrial *t = NULL;
    size_t n = 0;
    rc = sw_expand(s, &t, &n, err);
    cr_assert_null(t, "failed expansion leaves no trials");
    cr_assert_eq(n, 0);
  }
  sw_spec_destroy(s);
  cr_assert_neq(rc, TR_OK, "%s should fail", name);
}

static void sweep_free(Sweep *w) {
  sw_trials_free(w->t, w->n);
  sw_spec_destroy(w->spec);
}

Test(sw_expand, grid_2x3_yields_6_trials) {
  Sweep w = expand_text("g.yaml", "method: grid\nparameters:\n"
                                  "  optimizer.name: {values: [adam, sgd]}\n"
                                  "  optimizer.lr: {values: [0.001, 0.01, 0.1]}\n");
  cr_assert_eq(w.n, 6);
  /* Spec order, last parameter fastest. */
  static const int names[6] = {TR_OPT_ADAM, TR_OPT_ADAM, TR_OPT_ADAM, TR_OPT_SGD, TR_OPT_SGD, TR_OPT_SGD};
  static const double lrs[6] = {0.001, 0.01, 0.1, 0.001, 0.01, 0.1};
  for (size_t i = 0; i < 6; i++) {
    cr_expect_eq(w.t[i].index, i);
    cr_expect_eq(w.t[i].config.optimizer.name, names[i], "trial %zu", i);
    cr_expect_eq(w.t[i].config.optimizer.lr, lrs[i], "trial %zu", i);
  }
  cr_expect_str_eq(w.t[0].params_json, "{\"optimizer.name\": \"adam\", \"optimizer.lr\": 0.001}");
  cr_expect_str_eq(w.t[5].params_json, "{\"optimizer.name\": \"sgd\", \"optimizer.lr\": 0.1}");
  sweep_free(&w);
}

Test(sw_expand, constants_apply_to_every_trial_and_stay_out_of_params) {
  Sweep w = expand_text("c.yaml", "method: grid\nparameters:\n"
                                  "  train.max_steps: {value: 17}\n"
                                  "  optimizer.lr: {values: [0.001, 0.01]}\n");
  cr_assert_eq(w.n, 2);
  for (size_t i = 0; i < w.n; i++) {
    cr_expect_eq(w.t[i].config.train.max_steps, 17);
    cr_expect_null(strstr(w.t[i].params_json, "max_steps"));
  }
  sweep_free(&w);
}

Test(sw_expand, seeds_multiply_and_are_innermost) {
  Sweep w = expand_text("s.yaml", "method: grid\nparameters:\n"
                                  "  optimizer.lr: {values: [0.001, 0.01, 0.1]}\n"
                                  "hpsweep:\n  seeds: [11, 22]\n");
  cr_assert_eq(w.n, 6);
  for (size_t i = 0; i < w.n; i++) {
    cr_expect_eq(w.t[i].config.train.seed, i % 2 ? 22 : 11, "trial %zu", i);
    cr_expect_eq(w.t[i].config_index, i / 2);
    cr_expect_eq(w.t[i].seed_index, i % 2);
  }
  cr_expect_eq(w.t[2].config.optimizer.lr, 0.01);
  cr_expect_eq(w.t[3].config.optimizer.lr, 0.01);
  cr_expect_str_eq(w.t[3].params_json, "{\"optimizer.lr\": 0.01, \"train.seed\": 22}");
  sweep_free(&w);
}

Test(sw_expand, seeds_multiply_random_trials_too) {
  Sweep w = expand_text("rs.yaml", "method: random\nrun_cap: 9\nparameters:\n"
                                   "  optimizer.lr: {min: 0.001, max: 0.01}\n"
                                   "hpsweep:\n  seeds: [1, 2, 3]\n");
  cr_assert_eq(w.n, 9);
  for (size_t c = 0; c < 3; c++)
    for (size_t k = 0; k < 3; k++) {
      cr_expect_eq(w.t[c * 3 + k].config.optimizer.lr, w.t[c * 3].config.optimizer.lr);
      cr_expect_eq(w.t[c * 3 + k].config.train.seed, (int64_t)k + 1);
    }
  cr_expect_neq(w.t[0].config.optimizer.lr, w.t[3].config.optimizer.lr);
  sweep_free(&w);
}

Test(sw_expand, nested_and_dotted_keys_address_the_same_field) {
  Sweep a = expand_text("dotted.yaml", "method: grid\nparameters:\n"
                                       "  optimizer.lr: {values: [0.001, 0.01]}\n"
                                       "  optimizer.betas: {values: [[0.9, 0.95], [0.8, 0.9]]}\n");
  Sweep b = expand_text("nested.yaml", "method: grid\nparameters:\n"
                                       "  optimizer:\n    parameters:\n"
                                       "      lr: {values: [0.001, 0.01]}\n"
                                       "      betas: {values: [[0.9, 0.95], [0.8, 0.9]]}\n");
  cr_assert_eq(a.n, 4);
  cr_assert_eq(b.n, 4);
  for (size_t i = 0; i < 4; i++) {
    cr_expect_str_eq(a.t[i].hash_hex, b.t[i].hash_hex, "trial %zu", i);
    cr_expect_str_eq(a.t[i].params_json, b.t[i].params_json);
  }
  cr_expect_eq(b.t[3].config.optimizer.betas[0], 0.8);
  cr_expect_eq(b.t[3].config.optimizer.betas[1], 0.9);
  char ha[17], hb[17];
  sw_trials_hash(a.t, a.n, ha);
  sw_trials_hash(b.t, b.n, hb);
  cr_expect_str_eq(ha, hb);
  sweep_free(&a);
  sweep_free(&b);
}

Test(sw_expand, omitted_distribution_follows_wandb_rules) {
  Sweep w = expand_text("wb.yaml", "method: random\nrun_cap: 3\nparameters:\n"
                                   "  optimizer.name: {values: [adam, sgd]}\n"
                                   "  train.max_steps: {value: 5}\n"
                                   "  model.n_layer: {min: 1, max: 3}\n"
                                   "  optimizer.weight_decay: {min: 0.0, max: 0.5}\n"
                                   "  optimizer.lr: {mu: 0.01, sigma: 0.001}\n");
  static const SwDist want[] = {SW_DIST_CATEGORICAL, SW_DIST_CONSTANT, SW_DIST_INT_UNIFORM, SW_DIST_UNIFORM,
                                SW_DIST_NORMAL};
  cr_assert_eq(sw_spec_param_count(w.spec), 5);
  for (size_t i = 0; i < 5; i++)
    cr_expect_eq(sw_spec_param(w.spec, i)->dist, want[i], "param %zu is %s", i,
                 sw_dist_name(sw_spec_param(w.spec, i)->dist));
  sweep_free(&w);
}

Test(sw_expand, grid_enumerates_int_uniform_and_q_uniform) {
  Sweep w = expand_text("gi.yaml", "method: grid\nparameters:\n"
                                   "  model.n_layer: {min: 2, max: 4}\n"
                                   "  model.dropout: {distribution: q_uniform, min: 0.0, max: 0.2, q: 0.1}\n");
  cr_assert_eq(w.n, 9);
  cr_expect_eq(w.t[0].config.model.n_layer, 2);
  cr_expect_eq(w.t[8].config.model.n_layer, 4);
  cr_expect_eq(w.t[1].config.model.dropout, 0.1);
  cr_expect_eq(w.t[2].config.model.dropout, 0.2);
  cr_expect_str_eq(w.t[1].params_json, "{\"model.n_layer\": 2, \"model.dropout\": 0.1}");
  sweep_free(&w);
}

static const char *random_spec = "method: random\nrun_cap: %d\nparameters:\n"
                                  "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.01}\n"
                                  "  model.n_layer: {min: 1, max: 4}\n"
                                  "  optimizer.name: {values: [adam, adamw, lion]}\n"
                                  "hpsweep: {seed: %d}\n";

static Sweep expand_random(const char *name, int run_cap, int seed) {
  char text[1024];
  snprintf(text, sizeof text, random_spec, run_cap, seed);
  return expand_text(name, text);
}

Test(sw_expand, random_same_spec_gives_same_trials) {
  Sweep a = expand_random("r1.yaml", 10, 3), b = expand_random("r2.yaml", 10, 3);
  cr_assert_eq(a.n, 10);
  cr_assert_eq(b.n, 10);
  for (size_t i = 0; i < a.n; i++) {
    cr_expect_str_eq(a.t[i].hash_hex, b.t[i].hash_hex);
    cr_expect_str_eq(a.t[i].params_json, b.t[i].params_json);
  }
  sweep_free(&a);
  sweep_free(&b);
}

Test(sw_expand, random_different_seed_gives_different_trials) {
  Sweep a = expand_random("r1.yaml", 10, 3), b = expand_random("r2.yaml", 10, 4);
  int same = 0;
  for (size_t i = 0; i < a.n; i++) same += a.t[i].config.optimizer.lr == b.t[i].config.optimizer.lr;
  cr_expect_eq(same, 0);
  sweep_free(&a);
  sweep_free(&b);
}

Test(sw_expand, random_trial_i_does_not_depend_on_run_cap) {
  Sweep a = expand_random("r1.yaml", 5, 3), b = expand_random("r2.yaml", 12, 3);
  cr_assert_eq(a.n, 5);
  cr_assert_eq(b.n, 12);
  for (size_t i = 0; i < a.n; i++) cr_expect_str_eq(a.t[i].hash_hex, b.t[i].hash_hex, "trial %zu", i);
  sweep_free(&a);
  sweep_free(&b);
}

/* 10,000 draws of log_uniform_values [1e-4, 1e-2]: inside the bounds, and log10 uniform
** by a 20-bin chi-square (19 dof: 43.8 is the p = 0.001 critical value; the seed is fixed). */
Test(sw_expand, log_uniform_values_is_uniform_in_log_space) {
  Sweep w = expand_text("lu.yaml", "method: random\nrun_cap: 10000\nparameters:\n"
                                   "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.01}\n"
                                   "hpsweep: {seed: 12345}\n");
  cr_assert_eq(w.n, 10000);
  int bins[20] = {0};
  for (size_t i = 0; i < w.n; i++) {
    double lr = w.t[i].config.optimizer.lr;
    cr_assert(lr >= 1e-4 && lr <= 1e-2, "trial %zu: lr %g outside [1e-4, 1e-2]", i, lr);
    int b = (int)floor((log10(lr) + 4.0) / 2.0 * 20.0);
    if (b == 20) b = 19;
    bins[b]++;
  }
  double chi2 = 0, e = 10000.0 / 20;
  for (int b = 0; b < 20; b++) chi2 += (bins[b] - e) * (bins[b] - e) / e;
  cr_expect_lt(chi2, 43.8, "chi-square %g over 20 bins", chi2);
  sweep_free(&w);
}

Test(sw_expand, log_uniform_bounds_are_exponents) {
  Sweep w = expand_text("le.yaml", "method: random\nrun_cap: 200\nparameters:\n"
                                   "  optimizer.lr: {distribution: log_uniform, min: -9.21, max: -4.61}\n");
  for (size_t i = 0; i < w.n; i++) {
    double lr = w.t[i].config.optimizer.lr;
    cr_assert(lr >= exp(-9.21) * (1 - 1e-12) && lr <= exp(-4.61) * (1 + 1e-12), "lr %g", lr);
  }
  sweep_free(&w);
}

Test(sw_expand, int_uniform_is_inclusive_and_q_uniform_is_quantised) {
  Sweep w = expand_text("iq.yaml", "method: random\nrun_cap: 400\nparameters:\n"
                                   "  optimizer.lr: {min: 0.001, max: 0.01}\n"
                                   "  model.n_layer: {distribution: int_uniform, min: 1, max: 4}\n"
                                   "  train.batch_size: {distribution: q_uniform, min: 8, max: 64, q: 8}\n"
                                   "  model.dropout: {distribution: q_uniform, min: 0.0, max: 0.5, q: 0.1}\n"
                                   "  optimizer.weight_decay: {distribution: q_log_uniform_values, min: 0.01, max: 1.0, q: 0.01}\n");
  int seen[5] = {0};
  for (size_t i = 0; i < w.n; i++) {
    const TrConfig *c = &w.t[i].config;
    cr_assert(c->model.n_layer >= 1 && c->model.n_layer <= 4);
    seen[c->model.n_layer]++;
    cr_assert_eq(c->train.batch_size % 8, 0, "batch_size %d", c->train.batch_size);
    cr_assert(c->train.batch_size >= 8 && c->train.batch_size <= 64);
    double k = c->model.dropout * 10;
    cr_assert(fabs(k - round(k)) < 1e-9, "dropout %.17g", c->model.dropout);
    double kw = c->optimizer.weight_decay * 100;
    cr_assert(fabs(kw - round(kw)) < 1e-9 && kw >= 1 && kw <= 100, "weight_decay %.17g", c->optimizer.weight_decay);
  }
  for (int v = 1; v <= 4; v++) cr_expect_gt(seen[v], 50, "n_layer %d drawn %d times of 400", v, seen[v]);
  sweep_free(&w);
}

Test(sw_expand, categorical_probabilities_are_honoured) {
  Sweep w = expand_text("p.yaml", "method: random\nrun_cap: 2000\nparameters:\n"
                                  "  optimizer.lr: {min: 0.001, max: 0.01}\n"
                                  "  optimizer.name: {values: [adam, sgd, lion], probabilities: [0.7, 0.3, 0.0]}\n"
                                  "hpsweep: {seed: 5}\n");
  int adam = 0, lion = 0;
  for (size_t i = 0; i < w.n; i++) {
    adam += w.t[i].config.optimizer.name == TR_OPT_ADAM;
    lion += w.t[i].config.optimizer.name == TR_OPT_LION;
  }
  cr_expect_eq(lion, 0, "probability 0 is never drawn");
  cr_expect(adam > 1300 && adam < 1500, "adam drawn %d of 2000 (expect ~1400)", adam);
  sweep_free(&w);
}

Test(sw_expand, normal_draws_have_the_right_moments) {
  Sweep w = expand_text("n.yaml", "method: random\nrun_cap: 4000\nparameters:\n"
                                  "  optimizer.weight_decay: {distribution: normal, mu: 0.5, sigma: 0.05}\n");
  double s = 0, s2 = 0;
  for (size_t i = 0; i < w.n; i++) {
    double x = w.t[i].config.optimizer.weight_decay;
    s += x;
    s2 += x * x;
  }
  double m = s / (double)w.n, sd = sqrt(s2 / (double)w.n - m * m);
  cr_expect(fabs(m - 0.5) < 0.005, "mean %g", m);
  cr_expect(fabs(sd - 0.05) < 0.005, "sd %g", sd);
  sweep_free(&w);
}

Test(sw_expand, hashes_are_unique_stable_and_match_the_config) {
  Sweep a = expand_text("h.yaml", "method: grid\nparameters:\n"
                                  "  optimizer.lr: {values: [0.001, 0.002, 0.003, 0.004]}\n"
                                  "  model.n_layer: {min: 1, max: 5}\n"
                                  "hpsweep: {seeds: [1, 2, 3]}\n");
  cr_assert_eq(a.n, 60);
  for (size_t i = 0; i < a.n; i++) {
    char hex[17];
    snprintf(hex, sizeof hex, "%016llx", (unsigned long long)tr_config_hash(&a.t[i].config));
    cr_expect_str_eq(a.t[i].hash_hex, hex);
    cr_expect_eq(a.t[i].hash, tr_config_hash(&a.t[i].config));
    cr_expect_eq(strlen(a.t[i].hash_hex), 16);
    for (size_t j = 0; j < i; j++) cr_expect_neq(a.t[i].hash, a.t[j].hash, "trials %zu and %zu", j, i);
  }
  Sweep b = expand_text("h2.yaml", "method: grid\nparameters:\n"
                                   "  optimizer.lr: {values: [0.001, 0.002, 0.003, 0.004]}\n"
                                   "  model.n_layer: {min: 1, max: 5}\n"
                                   "hpsweep: {seeds: [1, 2, 3]}\n");
  char ha[17], hb[17];
  sw_trials_hash(a.t, a.n, ha);
  sw_trials_hash(b.t, b.n, hb);
  cr_expect_str_eq(ha, hb, "same spec, same spec hash");
  /* The spec hash moves when any trial does. */
  a.t[7].hash_hex[0] = a.t[7].hash_hex[0] == '0' ? '1' : '0';
  sw_trials_hash(a.t, a.n, ha);
  cr_expect_str_neq(ha, hb);
  sweep_free(&a);
  sweep_free(&b);
}

Test(sw_expand, invalid_trial_names_the_trial_and_its_values) {
  TrErr err;
  expand_fails("v.yaml", "method: grid\nparameters:\n"
                         "  model.d_model: {values: [64, 96]}\n"
                         "  model.n_head: {values: [4, 5]}\n", &err);
  cr_expect_not_null(strstr(err.msg, "v.yaml:2:1: trial 1 {\"model.d_model\": 64, \"model.n_head\": 5}: "),
                     "%s", err.msg);
  cr_expect_not_null(strstr(err.msg, "model.n_head"));
}

Test(sw_expand, random_value_outside_key_range_names_the_parameter) {
  TrErr err;
  expand_fails("o.yaml", "method: random\nrun_cap: 50\nparameters:\n"
                         "  model.dropout: {distribution: normal, mu: 0.5, sigma: 1.0}\n", &err);
  cr_expect_not_null(strstr(err.msg, "o.yaml:4:3: trial "), "%s", err.msg);
  cr_expect_not_null(strstr(err.msg, "parameter 'model.dropout'"), "%s", err.msg);
}

Test(sw_expand, sample_task_seeds_set_sample_seed) {
  Sweep w = expand_text("st.yaml", "method: grid\nmetric: {name: validity}\nparameters:\n  sample.temperature: {values: [0.5, 1.0]}\n"
                                   "hpsweep: {task: sample, seeds: [3, 4]}\n");
  cr_assert_eq(w.n, 4);
  cr_expect_eq(w.t[1].config.sample.seed, 4);
  cr_expect_str_eq(w.t[1].params_json, "{\"sample.temperature\": 0.5, \"sample.seed\": 4}");
  sweep_free(&w);
}

Test(sw_expand, inline_base_applies_under_parameters) {
  Sweep w = expand_text("ib.yaml", "method: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n"
                                   "hpsweep:\n  base:\n    optimizer: {lr: 0.5, weight_decay: 0.0}\n"
                                   "    train: {max_steps: 9}\n");
  cr_assert_eq(w.n, 1);
  cr_expect_eq(w.t[0].config.optimizer.lr, 0.001, "parameters override the base");
  cr_expect_eq(w.t[0].config.optimizer.weight_decay, 0.0);
  cr_expect_eq(w.t[0].config.train.max_steps, 9);
  sweep_free(&w);
}
