/*
** test_sw_propose.c: method bayes in the scheduler (sw_propose.h): trials read back from their
** params, one observation per configuration, metric.target, the sweep identity.
*/
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hps_test.h"
#include "sw_propose.h"

static char tmpdir[PATH_MAX];
static void mk_tmp(void) { hps_tmp_make(tmpdir, sizeof tmpdir, "hps_sw_propose_"); }
static void rm_tmp(void) { hps_tmp_remove(tmpdir); }
TestSuite(sw_propose, .init = mk_tmp, .fini = rm_tmp);

static SwSpec *load(const char *name, const char *text) {
  SwSpec *s = NULL;
  TrErr err;
  tr_err_clear(&err);
  cr_assert_eq(sw_spec_load(&s, hps_put(tmpdir, name, text), &err), TR_OK, "%s", err.msg);
  return s;
}

static SwProposer *proposer(const SwSpec *s) {
  SwProposer *p = NULL;
  TrErr err;
  tr_err_clear(&err);
  cr_assert_eq(sw_proposer_create(&p, s, &err), TR_OK, "%s", err.msg);
  return p;
}

/* A program's parameters of every kind, seeded twice (two trials per configuration). */
static const char *const prog_spec =
    "method: bayes\nprogram: /bin/true\nmetric: {name: loss}\nrun_cap: 12\n"
    "hpsweep: {seeds: [1, 2]}\n"
    "parameters:\n"
    "  a: {distribution: uniform, min: -5, max: 10}\n"
    "  b: {distribution: int_uniform, min: 1, max: 6}\n"
    "  d: {distribution: log_uniform_values, min: 1.0e-5, max: 1.0e-2}\n"
    "  h: {values: [x, 0.5, [1, 2], {k: \"a,b\"}]}\n"
    "  k: {value: 7}\n";

Test(sw_propose, proposals_read_back_from_their_params_are_the_same_trials) {
  SwSpec *s = load("p.yaml", prog_spec);
  SwProposer *p = proposer(s);
  cr_assert_eq(sw_proposer_cap(p), 12);
  RsProposeTrial t[12];
  char params[12][512];
  size_t n = 0;
  for (int c = 0; c < 6; c++) { /* every configuration running: the model must avoid them all */
    RsProposal out;
    memset(&out, 0, sizeof out);
    cr_assert_eq(sw_proposer_propose(p, t, n, (int)n, &out), TR_OK, "%s", sw_proposer_error(p)->msg);
    cr_assert_eq(out.n, 2, "one configuration, two seeds");
    cr_assert_eq(out.defs[0].idx, (int)n);
    cr_assert_eq(out.defs[1].idx, (int)n + 1);
    for (size_t i = 0; i < 2; i++) {
      SwTrial *back = NULL;
      TrErr err;
      tr_err_clear(&err);
      cr_assert_eq(sw_proposer_trial(p, out.defs[i].idx, out.defs[i].params_json, out.defs[i].hash, &back, &err),
                   TR_OK, "%s", err.msg);
      cr_assert_str_eq(back->params_json, out.defs[i].params_json);
      cr_assert_str_eq(back->hash_hex, out.defs[i].hash);
      cr_assert_eq(back->index, (size_t)out.defs[i].idx);
      sw_trials_free(back, 1);
      snprintf(params[n], sizeof params[n], "%s", out.defs[i].params_json);
      t[n] = (RsProposeTrial){(int64_t)n + 1, (int)n, RS_RUNNING, params[n], NAN, -1};
      n++;
    }
  }
  /* A hash the params do not make is refused. */
  SwTrial *bad = NULL;
  TrErr err;
  tr_err_clear(&err);
  cr_assert_eq(sw_proposer_trial(p, 0, params[0], "0000000000000000", &bad, &err), TR_EINVAL);
  cr_assert_eq(sw_proposer_trial(p, 0, "{\"a\": 1}", NULL, &bad, &err), TR_EINVAL);
  cr_assert(strstr(err.msg, "no value of b"), "%s", err.msg);
  sw_proposer_destroy(p);
  sw_spec_destroy(s);
}

/* x on [0, 10], three seeds: the test's observations come through the proposer's model. */
static const char *const seeds_spec =
    "method: bayes\nprogram: /bin/true\nmetric: {name: loss, goal: minimize, target: 0.5}\nrun_cap: 30\n"
    "hpsweep: {seeds: [1, 2, 3]}\n"
    "parameters:\n  x: {distribution: uniform, min: 0, max: 10}\n";

Test(sw_propose, a_configurations_seeds_make_one_observation_and_the_target_ends_proposals) {
  SwSpec *s = load("s.yaml", seeds_spec);
  SwProposer *p = proposer(s);
  RsProposeTrial t[9];
  char params[3][64];
  for (int c = 0; c < 3; c++) snprintf(params[c], sizeof params[c], "{\"x\": %d.0, \"seed\": 1}", 2 + 3 * c);
  /* Configurations 0..2, three seeds each: completed 1 and 3 (mean 2), pruned, failed... */
  RsStatus st[9] = {RS_COMPLETED, RS_COMPLETED, RS_FAILED, RS_PRUNED, RS_COMPLETED, RS_COMPLETED,
                    RS_COMPLETED, RS_RUNNING, RS_PENDING};
  double best[9] = {1, 3, NAN, 4, 6, 8, 0.9, NAN, NAN};
  for (int i = 0; i < 9; i++) t[i] = (RsProposeTrial){i + 1, i, st[i], params[i / 3], best[i], i == 3 ? 20 : 100};
  RsProposal out;
  memset(&out, 0, sizeof out);
  cr_assert_eq(sw_proposer_propose(p, t, 9, 9, &out), TR_OK, "%s", sw_proposer_error(p)->msg);
  cr_assert_eq(out.n, 3);
  cr_assert(strstr(out.detail, "\"observations\": 3"), "one per configuration: %s", out.detail);
  cr_assert(strstr(out.detail, "\"config\": 3"), "%s", out.detail);
  cr_assert_eq(sw_proposer_propose(p, t, 9, 8, &out), TR_EINVAL, "8 does not start a configuration");
  t[6].best = 0.4; /* reaches target 0.5 */
  cr_assert_eq(sw_proposer_propose(p, t, 9, 9, &out), TR_OK);
  cr_assert_eq(out.n, 0, "the target is reached: no more proposals");
  t[6].status = RS_FAILED; /* a failed trial's value does not count */
  cr_assert_eq(sw_proposer_propose(p, t, 9, 9, &out), TR_OK);
  cr_assert_eq(out.n, 3);
  sw_proposer_destroy(p);
  sw_spec_destroy(s);
}

Test(sw_propose, a_space_with_every_point_tried_proposes_nothing) {
  SwSpec *s = load("c.yaml", "method: bayes\nprogram: /bin/true\nmetric: {name: loss}\nrun_cap: 5\n"
                             "parameters:\n  h: {values: [u, v]}\n");
  SwProposer *p = proposer(s);
  RsProposeTrial t[2] = {{1, 0, RS_COMPLETED, "{\"h\": \"u\"}", 1.0, 1}, {2, 1, RS_RUNNING, "{\"h\": \"v\"}", NAN, -1}};
  RsProposal out;
  memset(&out, 0, sizeof out);
  cr_assert_eq(sw_proposer_propose(p, t, 1, 1, &out), TR_OK, "%s", sw_proposer_error(p)->msg);
  cr_assert_eq(out.n, 1);
  cr_assert_str_eq(out.defs[0].params_json, "{\"h\": \"v\"}");
  cr_assert_eq(sw_proposer_propose(p, t, 2, 2, &out), TR_OK);
  cr_assert_eq(out.n, 0, "both values tried or running");
  sw_proposer_destroy(p);
  sw_spec_destroy(s);
}

Test(sw_propose, the_bayes_identity_ignores_run_cap_and_follows_the_space_seed_and_sampler) {
  const char *base = "method: bayes\nprogram: /bin/true\nmetric: {name: loss}\n%s"
                     "parameters:\n  x: {distribution: uniform, min: 0, max: %s}\n";
  const char *vary[][2] = {{"run_cap: 5\n", "10"}, {"run_cap: 50\n", "10"}, {"run_cap: 5\n", "11"},
                           {"run_cap: 5\nhpsweep: {seed: 4}\n", "10"}, {"run_cap: 5\nhpsweep: {sampler: tpe}\n", "10"}};
  char h[5][17];
  for (int i = 0; i < 5; i++) {
    char text[512], name[16];
    snprintf(text, sizeof text, base, vary[i][0], vary[i][1]);
    snprintf(name, sizeof name, "i%d.yaml", i);
    SwSpec *s = load(name, text);
    TrErr err;
    tr_err_clear(&err);
    cr_assert_eq(sw_bayes_spec_hash(s, h[i], &err), TR_OK, "%s", err.msg);
    sw_spec_destroy(s);
  }
  cr_assert_str_eq(h[0], h[1], "run_cap is not the experiment");
  for (int i = 2; i < 5; i++) cr_assert_str_neq(h[0], h[i], "variant %d", i);
}
