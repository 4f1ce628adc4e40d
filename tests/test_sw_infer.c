/* sw_infer: inference trials: n-gram statistics on known token lists, the
   measures of a trial on a tiny checkpoint, determinism, stop text, errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sw_infer.h"
#include "tr_run.h"

Test(sw_infer, text_stats_count_ngrams_within_samples) {
  /* sample 0: 1 2 1 2 1 2 (6 tokens), sample 1: 3 1 2 (3 tokens) */
  const int toks[2][6] = {{1, 2, 1, 2, 1, 2}, {3, 1, 2, 0, 0, 0}};
  const int lens[2] = {6, 3};
  SwInferMetrics m;
  cr_assert_eq(sw_infer_text_stats(&toks[0][0], lens, 2, 6, &m), TR_OK);
  /* unigrams: 9 total, {1,2,3} unique */
  cr_assert_float_eq(m.distinct_1, 3.0 / 9.0, 1e-12);
  /* bigrams: 5 + 2 = 7; unique {12, 21, 31} */
  cr_assert_float_eq(m.distinct_2, 3.0 / 7.0, 1e-12);
  /* trigrams: 4 + 1 = 5; unique {121, 212, 312} */
  cr_assert_float_eq(m.distinct_3, 3.0 / 5.0, 1e-12);
  /* 4-grams: sample 0 has 1212, 2121, 1212 (repeat) -> 1 of 3; sample 1 none */
  cr_assert_float_eq(m.rep_4, 1.0 / 3.0, 1e-12);
  cr_assert_float_eq(m.mean_length, 4.5, 1e-12);
  /* the same 4-gram in two different samples is not a repeat */
  const int t2[2][4] = {{5, 6, 7, 8}, {5, 6, 7, 8}};
  const int l2[2] = {4, 4};
  cr_assert_eq(sw_infer_text_stats(&t2[0][0], l2, 2, 4, &m), TR_OK);
  cr_assert_float_eq(m.rep_4, 0.0, 1e-12);
  cr_assert_float_eq(m.distinct_1, 0.5, 1e-12);
  /* too short for any 4-gram */
  const int l3[1] = {2};
  cr_assert_eq(sw_infer_text_stats(&t2[0][0], l3, 1, 4, &m), TR_OK);
  cr_assert(isnan(m.rep_4) && isnan(m.distinct_3));
  cr_assert_float_eq(m.distinct_2, 1.0, 1e-12);
}

static char tmp[64], ckpt[128];

/* A tiny model trained for a few steps on the synthetic corpus (char tokenizer). */
static void setup_ckpt(void) {
  strcpy(tmp, "/tmp/hps_infer_XXXXXX");
  cr_assert_not_null(mkdtemp(tmp));
  TrConfig c;
  tr_config_defaults(&c);
  TrErr err = {0};
  char out_dir[128];
  snprintf(out_dir, sizeof out_dir, "%s/run", tmp);
  const char *sets[][2] = {{"model.n_layer", "1"},        {"model.d_model", "16"},   {"model.n_head", "2"},
                           {"model.context_length", "16"}, {"train.batch_size", "8"}, {"train.max_steps", "30"},
                           {"train.eval_interval", "30"},  {"train.eval_batches", "1"},
                           {"optimizer.lr", "0.01"},       {"data.tokenizer", "char"},
                           {"train.threads", "1"},         {"data.synthetic_bytes", "20000"},
                           {"train.out_dir", out_dir}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    cr_assert_eq(tr_config_set(&c, sets[i][0], sets[i][1], &err), TR_OK, "%s", err.msg);
  TrRunHooks h = {0};
  TrRunResult res;
  cr_assert_eq(tr_run(&c, &h, &res, &err), TR_OK, "%s", err.msg);
  snprintf(ckpt, sizeof ckpt, "%s/run/ckpt.bin", tmp);
}

static void teardown_ckpt(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
  cr_assert_eq(system(cmd), 0);
}

typedef struct Rec {
  int n;
  char name[16][24];
  double value[16];
  int64_t step[16];
} Rec;

static int on_metric(void *ud, const TrMetric *m) {
  Rec *r = ud;
  if (r->n < 16) {
    snprintf(r->name[r->n], sizeof r->name[0], "%s", m->name);
    r->value[r->n] = m->value;
    r->step[r->n] = m->step;
    r->n++;
  }
  return 0;
}

static TrConfig trial(void) {
  TrConfig c;
  tr_config_defaults(&c);
  c.sample.n_prompts = 3;
  c.sample.n_samples = 2;
  c.sample.max_tokens = 40;
  c.sample.prompt_tokens = 8;
  c.train.threads = 1;
  return c;
}

Test(sw_infer, a_trial_reports_every_measure_at_step_0, .init = setup_ckpt, .fini = teardown_ckpt) {
  TrConfig c = trial();
  Rec rec = {0};
  TrRunHooks h = {0};
  h.on_metric = on_metric;
  h.ud = &rec;
  TrRunResult res;
  SwInferMetrics m;
  TrErr err = {0};
  cr_assert_eq(sw_infer_run(&c, ckpt, &h, &res, &m, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(res.status, TR_RUN_COMPLETED);
  cr_assert_eq(res.tokens, 3 * 2 * 40);
  cr_assert_eq(m.tokens, res.tokens);
  cr_assert_eq(m.samples, 6);
  cr_assert(isnan(res.best_val_loss) && isnan(res.final_val_loss));
  cr_assert(isfinite(res.entropy_floor));
  int n = 0;
  const char *const *names = sw_infer_metric_names(&n);
  cr_assert_eq(rec.n, n);
  for (int i = 0; i < n; i++) {
    cr_assert_str_eq(rec.name[i], names[i]);
    cr_assert_eq(rec.step[i], 0);
    double v;
    cr_assert_eq(sw_infer_metric_value(&m, names[i], &v), TR_OK);
    cr_assert(v == rec.value[i] || (isnan(v) && isnan(rec.value[i])), "%s", names[i]);
  }
  cr_assert(m.validity >= 0 && m.validity <= 1, "validity %g", m.validity);
  cr_assert_gt(m.valid_units, 0);
  cr_assert(m.distinct_1 > 0 && m.distinct_1 <= m.distinct_2 && m.distinct_2 <= m.distinct_3 && m.distinct_3 <= 1);
  cr_assert(m.rep_4 >= 0 && m.rep_4 <= 1);
  cr_assert_float_eq(m.mean_length, 40.0, 1e-12);
  cr_assert(m.loglik < 0 && isfinite(m.loglik));
  cr_assert_eq(sw_infer_metric_index("validity"), 0);
  cr_assert_eq(sw_infer_metric_index("val_loss"), -1);
  double v;
  cr_assert_eq(sw_infer_metric_value(&m, "nope", &v), TR_ENOTFOUND);

  /* same settings, same measures */
  SwInferMetrics m2;
  cr_assert_eq(sw_infer_run(&c, ckpt, NULL, &res, &m2, &err), TR_OK, "%s", err.msg);
  cr_assert(m.validity == m2.validity && m.distinct_2 == m2.distinct_2 && m.loglik == m2.loglik);

  /* greedy: every sample of a prompt is the same text, so fewer distinct n-grams
     and (a small model in a loop) a higher repeat rate */
  c.sample.temperature = 0;
  cr_assert_eq(sw_infer_run(&c, ckpt, NULL, &res, &m2, &err), TR_OK, "%s", err.msg);
  cr_assert_lt(m2.distinct_3, m.distinct_3);
  cr_assert_gt(m2.loglik, m.loglik, "greedy text is more likely under the model");

  /* a stop text ends samples early */
  c.sample.temperature = 1;
  strcpy(c.sample.stop, ".");
  cr_assert_eq(sw_infer_run(&c, ckpt, NULL, &res, &m2, &err), TR_OK, "%s", err.msg);
  cr_assert_lt(m2.mean_length, 40.0);
}

Test(sw_infer, setup_failures_are_errors_and_stop_interrupts, .init = setup_ckpt, .fini = teardown_ckpt) {
  TrConfig c = trial();
  TrRunResult res;
  TrErr err = {0};
  char bad[160];
  snprintf(bad, sizeof bad, "%s/missing.bin", tmp);
  cr_assert_neq(sw_infer_run(&c, bad, NULL, &res, NULL, &err), TR_OK);
  cr_assert_not_null(strstr(err.msg, "missing.bin"), "%s", err.msg);
  c.sample.prompt_tokens = 1 << 20;
  cr_assert_neq(sw_infer_run(&c, ckpt, NULL, &res, NULL, &err), TR_OK);
  cr_assert_not_null(strstr(err.msg, "prompt_tokens"), "%s", err.msg);
  c = trial();
  c.sample.top_p = 0;
  cr_assert_neq(sw_infer_run(&c, ckpt, NULL, &res, NULL, &err), TR_OK);
  cr_assert_not_null(strstr(err.msg, "top_p"), "%s", err.msg);
  c = trial();
  volatile sig_atomic_t stop = 1;
  TrRunHooks h = {0};
  h.stop = &stop;
  SwInferMetrics m;
  cr_assert_eq(sw_infer_run(&c, ckpt, &h, &res, &m, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(res.status, TR_RUN_INTERRUPTED);
  cr_assert_eq(m.samples, 0);
}
