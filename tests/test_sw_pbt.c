/* Population-based training: the decisions (sw_pbt.h) on hand-made curves, explore on a
** loaded spec, and a whole PBT sweep through the CLI (the values a copy trains with). */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hps_test.h"
#include "sw_expand.h"
#include "sw_pbt.h"
#include "sw_propose.h"

#define NMAX 16

static int64_t steps[NMAX][4];
static double vals[NMAX][4];
static RsCurve C[NMAX];

/* Member i: values v at steps 50 and 100 (NaN: none), checkpoint at ck, status st. */
static void member(size_t i, RsStatus st, double v50, double v100, int64_t ck) {
  size_t k = 0;
  if (!isnan(v50)) steps[i][k] = 50, vals[i][k++] = v50;
  if (!isnan(v100)) steps[i][k] = 100, vals[i][k++] = v100;
  C[i] = (RsCurve){.trial_id = (int64_t)i + 1, .idx = (int)i, .status = st, .completed = st == RS_COMPLETED,
                   .paused = st == RS_PAUSED, .n = k, .step = steps[i], .value = vals[i], .rung = -1,
                   .checkpoint_step = ck, .params = "{}"};
}

static SwPbt pbt8(void) {
  SwPbt p;
  memset(&p, 0, sizeof p);
  p.enabled = 1;
  p.population = 8;
  p.interval = 50;
  p.quantile = 0.25;
  p.resample = 0.25;
  p.factors[0] = 0.8;
  p.factors[1] = 1.2;
  return p;
}

/* 8 members at step 100 with values 1..8 (member i has i + 1). */
static void eight_at_100(void) {
  for (size_t i = 0; i < 8; i++) member(i, RS_RUNNING, 10, (double)i + 1, 100);
}

Test(sw_pbt, a_bottom_quantile_member_copies_one_of_the_top_quantile) {
  SwPbt p = pbt8();
  eight_at_100();
  int seen[8] = {0};
  for (uint64_t seed = 0; seed < 64; seed++) {
    SwPbtDecision d;
    sw_pbt_decide(&p, 0, seed, C, 8, 7, 100, 1, &d);
    cr_assert_eq(d.action, SW_PBT_EXPLOIT);
    cr_assert_eq(d.n, 8);
    cr_assert_eq(d.q, 2); /* ceil(8 * 0.25) */
    cr_assert_eq(d.rank, 7);
    cr_assert(d.source == 0 || d.source == 1, "source %ld is not in the top quantile", d.source);
    cr_assert_eq(d.source_value, (double)d.source + 1);
    seen[d.source]++;
  }
  cr_assert(seen[0] > 0 && seen[1] > 0, "the source is drawn from the whole top quantile");
  SwPbtDecision d;
  sw_pbt_decide(&p, 0, 1, C, 8, 6, 100, 1, &d); /* rank 7 of 8: bottom quantile too */
  cr_assert_eq(d.action, SW_PBT_EXPLOIT);
  sw_pbt_decide(&p, 0, 1, C, 8, 5, 100, 1, &d); /* rank 6: keeps */
  cr_assert_eq(d.action, SW_PBT_KEEP);
  sw_pbt_decide(&p, 1, 1, C, 8, 0, 100, 1, &d); /* maximize: value 1 is the worst */
  cr_assert_eq(d.action, SW_PBT_EXPLOIT);
  cr_assert(d.source == 7 || d.source == 6);
}

Test(sw_pbt, the_same_seeds_give_the_same_source_and_another_step_may_not) {
  SwPbt p = pbt8();
  eight_at_100();
  SwPbtDecision a, b;
  sw_pbt_decide(&p, 0, 42, C, 8, 7, 100, 1, &a);
  sw_pbt_decide(&p, 0, 42, C, 8, 7, 100, 0, &b);
  cr_assert_eq(a.source, b.source);
  int differs = 0;
  for (uint64_t s = 0; s < 32; s++) {
    sw_pbt_decide(&p, 0, s, C, 8, 7, 100, 1, &b);
    differs |= b.source != a.source;
  }
  cr_assert(differs, "the sweep seed must matter");
}

Test(sw_pbt, an_arriving_member_yields_to_one_behind_it_and_a_starting_one_decides) {
  SwPbt p = pbt8();
  eight_at_100();
  member(3, RS_PAUSED, 4, NAN, 50); /* paused at 50: behind step 100 */
  SwPbtDecision d;
  sw_pbt_decide(&p, 0, 1, C, 8, 7, 100, 1, &d);
  cr_assert_eq(d.action, SW_PBT_PAUSE);
  sw_pbt_decide(&p, 0, 1, C, 8, 7, 100, 0, &d);
  cr_assert_eq(d.action, SW_PBT_EXPLOIT, "starting from its checkpoint, a member never yields again");
  cr_assert_eq(d.n, 7, "the member paused at 50 is not one at 100");
  member(3, RS_PENDING, NAN, NAN, -1);
  sw_pbt_decide(&p, 0, 1, C, 8, 7, 100, 1, &d);
  cr_assert_eq(d.action, SW_PBT_PAUSE, "a pending member is behind everyone");
  member(3, RS_RUNNING, 4, NAN, 50); /* running behind: it needs no worker */
  sw_pbt_decide(&p, 0, 1, C, 8, 7, 100, 1, &d);
  cr_assert_eq(d.action, SW_PBT_EXPLOIT);
}

Test(sw_pbt, a_member_is_decided_at_a_step_once_and_only_at_multiples_of_the_interval) {
  SwPbt p = pbt8();
  eight_at_100();
  SwPbtDecision d;
  C[7].rung = 100;
  sw_pbt_decide(&p, 0, 1, C, 8, 7, 100, 0, &d);
  cr_assert_eq(d.action, SW_PBT_NONE);
  C[7].rung = 50;
  sw_pbt_decide(&p, 0, 1, C, 8, 7, 100, 0, &d);
  cr_assert_eq(d.action, SW_PBT_EXPLOIT);
  sw_pbt_decide(&p, 0, 1, C, 8, 7, 75, 0, &d);
  cr_assert_eq(d.action, SW_PBT_NONE);
}

Test(sw_pbt, only_members_with_their_checkpoint_at_the_step_are_ranked_and_copied) {
  SwPbt p = pbt8();
  eight_at_100();
  C[0].checkpoint_step = 50; /* its value at 100 is logged, its file for 100 not yet kept */
  C[1].checkpoint_step = 50;
  SwPbtDecision d;
  for (uint64_t s = 0; s < 32; s++) {
    sw_pbt_decide(&p, 0, s, C, 8, 7, 100, 1, &d);
    cr_assert_eq(d.n, 6);
    cr_assert_eq(d.action, SW_PBT_EXPLOIT);
    cr_assert(d.source == 2 || d.source == 3, "source %ld", d.source);
  }
}

Test(sw_pbt, quantiles_never_overlap) {
  SwPbt p = pbt8();
  p.quantile = 0.5;
  for (size_t i = 0; i < 3; i++) member(i, RS_RUNNING, NAN, (double)i, 100);
  SwPbtDecision d;
  sw_pbt_decide(&p, 0, 1, C, 3, 1, 100, 0, &d); /* ceil(1.5) = 2 > 3 / 2: 1 */
  cr_assert_eq(d.q, 1);
  cr_assert_eq(d.action, SW_PBT_KEEP, "the middle member of 3 is in neither quantile");
  sw_pbt_decide(&p, 0, 1, C, 1, 0, 100, 0, &d);
  cr_assert_eq(d.q, 0);
  cr_assert_eq(d.action, SW_PBT_KEEP, "alone at a step: nothing to copy");
}

Test(sw_pbt, promotion_resumes_the_member_furthest_behind_after_every_pending_one) {
  member(0, RS_PAUSED, 1, 1, 100);
  member(1, RS_PAUSED, 1, NAN, 50);
  member(2, RS_PAUSED, 1, NAN, 50);
  member(3, RS_RUNNING, 1, NAN, 60);
  cr_assert_eq(sw_pbt_promote(C, 4), 1, "furthest behind, ties by idx");
  member(4, RS_PENDING, NAN, NAN, -1);
  cr_assert_eq(sw_pbt_promote(C, 5), -1, "a pending member starts first");
  member(4, RS_COMPLETED, 1, 1, 100);
  member(1, RS_RUNNING, 1, NAN, 50);
  cr_assert_eq(sw_pbt_promote(C, 5), 2);
  member(2, RS_RUNNING, 1, NAN, 50);
  member(0, RS_RUNNING, 1, NAN, 50);
  cr_assert_eq(sw_pbt_promote(C, 5), -1, "nobody paused");
}

/* ---- explore on a spec --------------------------------------------------------- */

static char dir[256];
static void setup(void) { hps_tmp_make(dir, sizeof dir, "hps_pbt_"); }
static void teardown(void) { cr_assert_eq(hps_tmp_remove(dir), 0); }

static SwSpec *load(const char *text) {
  const char *p = hps_put(dir, "pbt.yaml", text);
  SwSpec *s = NULL;
  TrErr err = {0};
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  return s;
}

#define TINY_BASE                                                                                                   \
  "  base:\n    data: {synthetic_bytes: 20000}\n    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: " \
  "16}\n    schedule: {name: constant}\n    train: {batch_size: 4, max_steps: 60, eval_interval: 10, "         \
  "eval_batches: 2, log_interval: 5}\n"

Test(sw_pbt, explore_takes_the_source_values_then_perturbs_within_the_range, .init = setup, .fini = teardown) {
  SwSpec *s = load("method: random\nparameters:\n"
                   "  optimizer.lr: {distribution: log_uniform_values, min: 0.001, max: 0.01}\n"
                   "  optimizer.weight_decay: {values: [0.0, 0.1, 0.2]}\n"
                   "hpsweep:\n  pbt:\n    population: 4\n    perturbation_interval: 20\n"
                   "    resample_probability: 0\n    factors: [2, 2]\n"
                   "    mutations: {optimizer.lr: {}, optimizer.weight_decay: {}, "
                   "model.dropout: {distribution: uniform, min: 0.0, max: 0.3}}\n" TINY_BASE);
  const SwPbt *p = sw_spec_pbt(s);
  cr_assert(p->enabled);
  cr_assert_eq(p->n_mutations, 3);
  cr_assert(p->mutations[2].own);
  TrConfig own = *sw_spec_base(s), next;
  own.optimizer.lr = 0.002;
  own.train.seed = 77;
  char *pj = NULL;
  TrErr err = {0};
  cr_assert_eq(sw_pbt_explore(p, s, &own, "{\"optimizer.lr\": 0.004, \"optimizer.weight_decay\": 0.1, "
                              "\"model.dropout\": 0.1}", 5, 3, 40, &next, &pj, &err), TR_OK, "%s", err.msg);
  cr_assert_float_eq(next.optimizer.lr, 0.008, 1e-15, "the source's 0.004 x 2");
  cr_assert(next.optimizer.weight_decay == 0.0 || next.optimizer.weight_decay == 0.2, "one value down or up: %g",
            next.optimizer.weight_decay);
  cr_assert_float_eq(next.model.dropout, 0.2, 1e-15);
  cr_assert_eq(next.train.seed, 77, "the member keeps its own seed (the streams come with the checkpoint)");
  cr_assert(strstr(pj, "\"optimizer.lr\": 0.008") && strstr(pj, "\"model.dropout\": 0.2"), "%s", pj);
  free(pj);
  cr_assert_eq(sw_pbt_explore(p, s, &own, "{\"optimizer.lr\": 0.009, \"model.dropout\": 0.25}", 5, 3, 40, &next, &pj,
                              &err), TR_OK, "%s", err.msg);
  cr_assert_eq(next.optimizer.lr, 0.01, "clamped to the range's max");
  cr_assert_eq(next.model.dropout, 0.3);
  free(pj);
  sw_spec_destroy(s);
}

Test(sw_pbt, a_resample_draws_from_the_distribution, .init = setup, .fini = teardown) {
  SwSpec *s = load("method: random\nparameters:\n"
                   "  optimizer.lr: {distribution: log_uniform_values, min: 0.001, max: 0.01}\n"
                   "hpsweep:\n  pbt:\n    population: 4\n    perturbation_interval: 20\n"
                   "    resample_probability: 1\n    mutations: [optimizer.lr]\n" TINY_BASE);
  TrConfig own = *sw_spec_base(s), next, again;
  char *pj = NULL;
  TrErr err = {0};
  int moved = 0;
  for (int step = 20; step <= 400; step += 20) {
    cr_assert_eq(sw_pbt_explore(sw_spec_pbt(s), s, &own, "{\"optimizer.lr\": 0.005}", 9, 1, step, &next, &pj, &err),
                 TR_OK);
    free(pj);
    cr_assert(next.optimizer.lr >= 0.001 && next.optimizer.lr <= 0.01);
    moved |= next.optimizer.lr != 0.005 * 0.8 && next.optimizer.lr != 0.005 * 1.2;
    cr_assert_eq(sw_pbt_explore(sw_spec_pbt(s), s, &own, "{\"optimizer.lr\": 0.005}", 9, 1, step, &again, &pj, &err),
                 TR_OK);
    free(pj);
    cr_assert_eq(again.optimizer.lr, next.optimizer.lr, "seeded by (sweep seed, member, step)");
  }
  cr_assert(moved);
  sw_spec_destroy(s);
}

/* ---- a whole sweep ---------------------------------------------------------------- */

static sqlite3 *db_open(void) {
  char path[400];
  snprintf(path, sizeof path, "%s/hpsweep.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  return db;
}

/* The lr rows of every exploited member after each copy (up to its next copy) that are not the
** lr the copy chose: the values a copy trains with are the explored ones, never the source's. */
#define LR_AFTER_COPY_WRONG                                                                                           \
  "SELECT count(*) FROM events e JOIN metrics m ON m.trial_id = e.trial_id AND m.name = 'lr' "                   \
  "AND m.step > json_extract(e.detail, '$.step') AND m.step <= coalesce((SELECT min(json_extract(f.detail, "       \
  "'$.step')) FROM events f WHERE f.trial_id = e.trial_id AND f.kind = 'exploit' AND json_extract(f.detail, "     \
  "'$.step') > json_extract(e.detail, '$.step')), 1e18) WHERE e.kind = 'exploit' AND m.value != "                 \
  "json_extract(e.detail, '$.params.\"optimizer.lr\"')"
#define LR_AFTER_COPY_ALL                                                                                             \
  "SELECT count(*) FROM events e JOIN metrics m ON m.trial_id = e.trial_id AND m.name = 'lr' "                   \
  "AND m.step > json_extract(e.detail, '$.step') WHERE e.kind = 'exploit'"

Test(sw_pbt, a_sweep_copies_members_and_each_copy_trains_with_its_new_values, .init = setup, .fini = teardown,
     .timeout = 300) {
  hps_put(dir, "pbt.yaml", HPS_PBT_TINY_SPEC(""));
  char out[8192];
  cr_assert_eq(hps_run(dir, "run pbt.yaml -j 2 --quiet", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND steps = 100"), 6, "%s", out);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM sweeps WHERE method = 'pbt'"), 1);
  long long copies = hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'exploit'");
  cr_assert_gt(copies, 0, "6 members over 4 perturbation steps and never a copy");
  cr_assert_gt(hps_q_int(db, LR_AFTER_COPY_ALL), 0);
  cr_assert_eq(hps_q_int(db, LR_AFTER_COPY_WRONG), 0, "an lr row after a copy is not the copy's new lr");
  /* Every member is decided once at every perturbation step (a copy or not): rung 80 at the end. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE rung = 80"), 6);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id, json_extract(detail, '$.step') FROM events "
                             "WHERE kind = 'exploit' GROUP BY 1, 2 HAVING count(*) > 1)"), 0);
  /* A copy's source was in the top quantile: its value at the step is at most the copier's. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'exploit' AND json_extract(detail, "
                             "'$.source_value') > json_extract(detail, '$.value')"), 0);
  /* The final params are those of the member's last copy. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE EXISTS (SELECT 1 FROM events WHERE trial_id = t.id "
                             "AND kind = 'exploit') AND json_extract(t.params, '$.\"optimizer.lr\"') != (SELECT "
                             "json_extract(detail, '$.params.\"optimizer.lr\"') FROM events WHERE trial_id = t.id AND "
                             "kind = 'exploit' ORDER BY id DESC LIMIT 1)"), 0);
  /* The curves are whole: one lr row per logged step (5, 10, ..., 100 and step 1). */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM metrics WHERE name = 'lr' GROUP BY trial_id "
                             "HAVING count(*) != 21)"), 0);
  sqlite3_close(db);
  cr_assert_eq(hps_run(dir, "check pbt.yaml", out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "population-based training"), "check describes the PBT setup: %s", out);
  cr_assert_eq(hps_run(dir, "run pbt.yaml --quiet", out, sizeof out), 0, "the same spec continues: %s", out);
  char *spec = hps_slurp(hps_put(dir, "pbt.yaml", HPS_PBT_TINY_SPEC("")), NULL);
  char *at = strstr(spec, "perturbation_interval: 20");
  cr_assert_not_null(at);
  memcpy(at + strlen("perturbation_interval: "), "30", 2);
  hps_put(dir, "pbt.yaml", spec);
  free(spec);
  cr_assert_neq(hps_run(dir, "run pbt.yaml --quiet", out, sizeof out), 0);
  cr_assert(strstr(out, "other population-based training settings"), "%s", out);
}

/* ---- programs (docs/pbt.md "Programs") -------------------------------------------- */

#define PROG_PBT_SPEC(resumes, mutation)                                                                            \
  "method: random\nprogram: /bin/true\nmetric: {name: loss}\nparameters:\n"                                      \
  "  lr: {distribution: log_uniform_values, min: 0.001, max: 0.5}\n  opt: {values: [sgd, adam, lion]}\n"          \
  "  steps: {value: 14}\nhpsweep:\n" resumes "  pbt:\n    population: 4\n    perturbation_interval: 4\n"         \
  "    resample_probability: 0\n    factors: [2, 2]\n    mutations: {" mutation "}\n"

Test(sw_pbt, a_program_needs_program_resumes_and_mutates_its_own_parameters, .init = setup, .fini = teardown) {
  const char *p = hps_put(dir, "pbt.yaml", PROG_PBT_SPEC("", "lr: {}"));
  SwSpec *s = NULL;
  TrErr err = {0};
  cr_assert_neq(sw_spec_load(&s, p, &err), TR_OK);
  cr_assert(strstr(err.msg, "pbt.yaml:10:5: hpsweep.pbt: a program member must checkpoint into HPSWEEP_RUN_DIR") &&
            strstr(err.msg, "hpsweep.program_resumes: true"), "%s", err.msg);
  p = hps_put(dir, "pbt.yaml", PROG_PBT_SPEC("  program_resumes: true\n", "lr: {}, steps: {}"));
  cr_assert_neq(sw_spec_load(&s, p, &err), TR_OK);
  cr_assert(strstr(err.msg, "pbt.yaml:15:25: hpsweep.pbt.mutations: 'steps' is not a parameter with a range"), "%s",
            err.msg);
  p = hps_put(dir, "pbt.yaml", PROG_PBT_SPEC("  program_resumes: true\n", "lr: {}, opt: {}"));
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "a program's parameter names are its own: %s", err.msg);
  cr_assert_eq(sw_spec_pbt(s)->n_mutations, 2);
  sw_spec_destroy(s);
}

Test(sw_pbt, a_program_members_explore_perturbs_the_source_params_in_their_range, .init = setup, .fini = teardown) {
  SwSpec *s = load(PROG_PBT_SPEC("  program_resumes: true\n", "lr: {}, opt: {}"));
  SwProposer *prop = NULL;
  TrErr err = {0};
  cr_assert_eq(sw_proposer_create(&prop, s, &err), TR_OK, "%s", err.msg);
  char *pj = NULL;
  cr_assert_eq(sw_pbt_explore_program(sw_spec_pbt(s), s, prop, "{\"lr\": 0.01, \"opt\": \"adam\", \"steps\": 14}", 5,
                                      2, 8, &pj, &err), TR_OK, "%s", err.msg);
  cr_assert(strstr(pj, "\"lr\": 0.02") && strstr(pj, "\"steps\": 14"), "the source's 0.01 x 2: %s", pj);
  cr_assert(strstr(pj, "\"opt\": \"sgd\"") || strstr(pj, "\"opt\": \"lion\""), "one value down or up: %s", pj);
  char *again = NULL;
  cr_assert_eq(sw_pbt_explore_program(sw_spec_pbt(s), s, prop, "{\"lr\": 0.01, \"opt\": \"adam\", \"steps\": 14}", 5,
                                      2, 8, &again, &err), TR_OK);
  cr_assert_str_eq(again, pj, "seeded by (sweep seed, member, step)");
  free(again);
  free(pj);
  cr_assert_eq(sw_pbt_explore_program(sw_spec_pbt(s), s, prop, "{\"lr\": 0.4, \"opt\": \"lion\", \"steps\": 14}", 5,
                                      2, 8, &pj, &err), TR_OK);
  cr_assert(strstr(pj, "\"lr\": 0.5"), "clamped to the range's max: %s", pj);
  free(pj);
  sw_proposer_destroy(prop);
  sw_spec_destroy(s);
}

static int have_python(void) {
  if (system("python3 -c 'import json' >/dev/null 2>&1") == 0) return 1;
  cr_assert_null(getenv("CI"), "python3 is required in CI");
  return 0;
}

/* Rows where a member resumed after a copy from something else than the copy's source at its
** step: examples/pbt/pbt_toy.py reports, on its first step after a resume, which trial trained
** the checkpoint it loaded (resumed_from) and at which step (resumed_step). */
#define RESUMED_NOT_FROM_SOURCE                                                                                       \
  "SELECT count(*) FROM events e LEFT JOIN metrics f ON f.trial_id = e.trial_id AND f.name = 'resumed_from' AND " \
  "f.step = json_extract(e.detail, '$.step') + 1 LEFT JOIN metrics g ON g.trial_id = e.trial_id AND g.name = "   \
  "'resumed_step' AND g.step = f.step WHERE e.kind = 'exploit' AND (f.value IS NOT json_extract(e.detail, "       \
  "'$.source') OR g.value IS NOT json_extract(e.detail, '$.step'))"
#define PROG_LR_AFTER_COPY_WRONG                                                                                      \
  "SELECT count(*) FROM events e JOIN metrics m ON m.trial_id = e.trial_id AND m.name = 'lr' "                   \
  "AND m.step > json_extract(e.detail, '$.step') AND m.step <= coalesce((SELECT min(json_extract(f.detail, "       \
  "'$.step')) FROM events f WHERE f.trial_id = e.trial_id AND f.kind = 'exploit' AND json_extract(f.detail, "     \
  "'$.step') > json_extract(e.detail, '$.step')), 1e18) WHERE e.kind = 'exploit' AND m.value != "                 \
  "json_extract(e.detail, '$.params.lr')"

Test(sw_pbt, a_program_member_resumes_from_the_copied_run_directory_with_its_new_values, .init = setup,
     .fini = teardown, .timeout = 300) {
  if (!have_python()) return;
  char spec[2048], out[16384];
  snprintf(spec, sizeof spec, "name: ptoy\nprogram: %s/examples/pbt/pbt_toy.py\nmethod: random\n"
           "metric: {name: loss, goal: minimize}\nparameters:\n"
           "  lr: {distribution: log_uniform_values, min: 0.001, max: 0.5}\n  steps: {value: 14}\n"
           "hpsweep:\n  seed: 3\n  program_resumes: true\n"
           "  pbt: {population: 4, perturbation_interval: 4, mutations: {lr: {}}}\n", HPS_SOURCE_ROOT);
  hps_put(dir, "pbt.yaml", spec);
  cr_assert_eq(hps_run(dir, "run pbt.yaml -j 2 --quiet", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 4, "%s", out);
  long long copies = hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'exploit'");
  cr_assert_gt(copies, 0, "4 members over 3 perturbation steps and never a copy");
  cr_assert_eq(hps_q_int(db, RESUMED_NOT_FROM_SOURCE), 0, "a member resumed from another checkpoint than the copy's");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM metrics WHERE name = 'resumed_from'"),
               hps_q_int(db, "SELECT count(*) FROM trials t, (SELECT 4 AS s UNION SELECT 8 UNION SELECT 12)"),
               "every member resumed from a checkpoint once at each perturbation step");
  cr_assert_eq(hps_q_int(db, PROG_LR_AFTER_COPY_WRONG), 0, "an lr row after a copy is not the copy's new lr");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id, json_extract(detail, '$.step') FROM events "
                             "WHERE kind = 'exploit' GROUP BY 1, 2 HAVING count(*) > 1)"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE rung = 12"), 4, "decided once at every step");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM metrics WHERE name = 'loss' GROUP BY "
                             "trial_id HAVING count(*) != 14 OR min(step) != 1 OR max(step) != 14)"), 0,
               "the curves are whole");
  sqlite3_close(db);
  /* The snapshots other members copy: the run directory at the step, without the member's log. */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s/hpsweep.db.runs/ptoy/pbt' && test $(ls */*/ckpt.json | wc -l) = 12 && "
           "! ls */*/run.log 2>/dev/null && grep -l '\"step\": 8,' */8/ckpt.json | wc -l", dir);
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 0, "%s", out);
  cr_assert_eq(atoi(out), 4, "%s", out);
}
