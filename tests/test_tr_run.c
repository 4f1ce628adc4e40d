/* tr_run: the training loop: determinism, resume, budgets, divergence, interrupts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tr_ckpt.h"
#include "tr_run.h"

#define MAXROWS 4096

typedef struct Rec {
  int n;
  int64_t step[MAXROWS];
  char name[MAXROWS][20];
  double value[MAXROWS];
  int64_t stop_at; /* on_metric asks to stop once this step is reached (0 = never) */
} Rec;

static int on_metric(void *ud, const TrMetric *m) {
  Rec *r = ud;
  if (r->n < MAXROWS) {
    r->step[r->n] = m->step;
    snprintf(r->name[r->n], sizeof r->name[0], "%s", m->name);
    r->value[r->n] = m->value;
    r->n++;
  }
  return r->stop_at > 0 && m->step >= r->stop_at;
}

static void tiny(TrConfig *c) {
  tr_config_defaults(c);
  TrErr err = {0};
  const char *sets[][2] = {{"model.n_layer", "1"},        {"model.d_model", "16"},   {"model.n_head", "2"},
                           {"model.context_length", "16"}, {"train.batch_size", "4"}, {"train.max_steps", "20"},
                           {"train.eval_interval", "5"},   {"train.eval_batches", "2"},
                           {"train.log_interval", "1"},    {"train.threads", "1"},
                           {"data.synthetic_bytes", "20000"}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    cr_assert_eq(tr_config_set(c, sets[i][0], sets[i][1], &err), TR_OK, "%s", err.msg);
}

static TrRunResult run(const TrConfig *c, Rec *rec, const char *resume) {
  TrRunHooks h = {0};
  h.on_metric = on_metric;
  h.ud = rec;
  h.resume_path = resume;
  TrRunResult res;
  TrErr err = {0};
  int rc = tr_run(c, &h, &res, &err);
  cr_assert_eq(rc, TR_OK, "tr_run failed: %s", err.msg);
  return res;
}

/* Values of one metric, in order. */
static int series(const Rec *r, const char *name, int64_t from_step, double *out) {
  int n = 0;
  for (int i = 0; i < r->n; i++)
    if (!strcmp(r->name[i], name) && r->step[i] > from_step) out[n++] = r->value[i];
  return n;
}

static char *tmpdir(void) {
  static char d[64];
  strcpy(d, "/tmp/hps_run_XXXXXX");
  cr_assert_not_null(mkdtemp(d));
  return d;
}

static void rmrf(const char *d) {
  char cmd[256];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", d);
  cr_assert_eq(system(cmd), 0);
}

Test(tr_run, same_config_and_seed_give_bit_identical_losses) {
  TrConfig c;
  tiny(&c);
  static Rec a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  TrRunResult ra = run(&c, &a, NULL), rb = run(&c, &b, NULL);
  cr_assert_eq(ra.status, TR_RUN_COMPLETED);
  static double la[MAXROWS], lb[MAXROWS];
  int na = series(&a, "train_loss", 0, la), nb = series(&b, "train_loss", 0, lb);
  cr_assert_eq(na, 20);
  cr_assert_eq(na, nb);
  cr_assert_eq(memcmp(la, lb, (size_t)na * sizeof(double)), 0, "losses differ between identical runs");
  cr_assert_eq(memcmp(&ra.best_val_loss, &rb.best_val_loss, sizeof(double)), 0);
  cr_assert_lt(la[na - 1], la[0], "the model did not learn: %g -> %g", la[0], la[na - 1]);
}

Test(tr_run, different_seed_gives_different_losses) {
  TrConfig c;
  tiny(&c);
  static Rec a, b;
  memset(&a, 0, sizeof a);
  memset(&b, 0, sizeof b);
  run(&c, &a, NULL);
  c.train.seed = 2;
  run(&c, &b, NULL);
  static double la[MAXROWS], lb[MAXROWS];
  int n = series(&a, "train_loss", 0, la);
  series(&b, "train_loss", 0, lb);
  cr_assert_neq(memcmp(la, lb, (size_t)n * sizeof(double)), 0);
}

/* c straight, and c stopped after 7 steps then resumed: the same rows from step 8 on, the
   same final parameters and optimizer state. */
static void resume_matches_straight(TrConfig c) {
  char *d = tmpdir();
  char da[128], db[128];
  snprintf(da, sizeof da, "%s/a", d);
  snprintf(db, sizeof db, "%s/b", d);
  static Rec straight, first, second;
  memset(&straight, 0, sizeof straight);
  memset(&first, 0, sizeof first);
  memset(&second, 0, sizeof second);
  snprintf(c.train.out_dir, sizeof c.train.out_dir, "%s", da);
  TrRunResult rs = run(&c, &straight, NULL);
  cr_assert_eq(rs.status, TR_RUN_COMPLETED);

  snprintf(c.train.out_dir, sizeof c.train.out_dir, "%s", db);
  first.stop_at = 7; /* k = 7 steps, then stop (interrupt saves a checkpoint) */
  TrRunResult r1 = run(&c, &first, NULL);
  cr_assert_eq(r1.status, TR_RUN_INTERRUPTED);
  cr_assert_eq(r1.steps, 7);
  char ck[256];
  snprintf(ck, sizeof ck, "%s/ckpt.bin", db);
  TrRunResult r2 = run(&c, &second, ck); /* m = 13 more */
  cr_assert_eq(r2.status, TR_RUN_COMPLETED);
  cr_assert_eq(r2.steps, 20);

  static double ls[MAXROWS], l2[MAXROWS];
  const char *names[] = {"train_loss", "val_loss", "lr", "grad_norm"};
  for (int k = 0; k < 4; k++) {
    int ns = series(&straight, names[k], 7, ls), n2 = series(&second, names[k], 7, l2);
    cr_assert_eq(ns, n2, "%s: %d vs %d rows", names[k], ns, n2);
    cr_assert_gt(ns, 0);
    cr_assert_eq(memcmp(ls, l2, (size_t)ns * sizeof(double)), 0, "%s differs after resume", names[k]);
  }
  char pa[256];
  snprintf(pa, sizeof pa, "%s/ckpt.bin", da);
  TrCkpt ca, cb;
  cr_assert_eq(tr_ckpt_load(pa, &ca, NULL), TR_OK);
  cr_assert_eq(tr_ckpt_load(ck, &cb, NULL), TR_OK);
  cr_assert_eq(ca.n_params, cb.n_params);
  cr_assert_eq(memcmp(ca.params, cb.params, ca.n_params * sizeof(float)), 0, "parameters differ");
  cr_assert_eq(memcmp(ca.optim, cb.optim, ca.n_optim * sizeof(float)), 0, "optimizer state differs");
  cr_assert_eq(ca.step, 20);
  tr_ckpt_deinit(&ca);
  tr_ckpt_deinit(&cb);
  rmrf(d);
}

Test(tr_run, resume_after_interrupt_is_byte_identical_to_straight_run) {
  TrConfig c;
  tiny(&c);
  tr_config_set(&c, "model.dropout", "0.1", NULL); /* the dropout RNG must resume too */
  tr_config_set(&c, "train.micro_batch_size", "2", NULL);
  resume_matches_straight(c);
}

/* muP at w = 2 (its per-tensor lr multipliers live in the optimizer's segments) */
Test(tr_run, mup_run_resumes_byte_identically_and_differs_from_standard) {
  TrConfig c;
  tiny(&c);
  TrErr err = {0};
  cr_assert_eq(tr_config_set(&c, "model.d_model", "32", &err), TR_OK, "%s", err.msg);
  static Rec std_rec, mup_rec;
  memset(&std_rec, 0, sizeof std_rec);
  memset(&mup_rec, 0, sizeof mup_rec);
  run(&c, &std_rec, NULL);
  cr_assert_eq(tr_config_set(&c, "model.parametrization", "mup", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_set(&c, "model.mup_base_width", "16", &err), TR_OK, "%s", err.msg);
  TrRunResult r = run(&c, &mup_rec, NULL);
  cr_assert_eq(r.status, TR_RUN_COMPLETED);
  static double ls[MAXROWS], lm[MAXROWS];
  int n = series(&std_rec, "train_loss", 0, ls);
  cr_assert_eq(series(&mup_rec, "train_loss", 0, lm), n);
  cr_assert_neq(memcmp(ls, lm, (size_t)n * sizeof(double)), 0);
  cr_assert_lt(lm[n - 1], lm[0], "mup did not learn: %g -> %g", lm[0], lm[n - 1]);
  resume_matches_straight(c);
}

Test(tr_run, resume_with_another_config_is_refused) {
  char *d = tmpdir();
  TrConfig c;
  tiny(&c);
  snprintf(c.train.out_dir, sizeof c.train.out_dir, "%s", d);
  static Rec a;
  memset(&a, 0, sizeof a);
  run(&c, &a, NULL);
  char ck[256];
  snprintf(ck, sizeof ck, "%s/ckpt.bin", d);
  c.optimizer.lr = 5e-3;
  c.train.max_steps = 30;
  TrRunHooks h = {0};
  h.resume_path = ck;
  TrRunResult res;
  TrErr err = {0};
  cr_assert_neq(tr_run(&c, &h, &res, &err), TR_OK);
  cr_assert(strstr(err.msg, "different config"), "%s", err.msg);
  rmrf(d);
}

Test(tr_run, huge_lr_diverges_at_once_without_saving_weights) {
  char *d = tmpdir();
  TrConfig c;
  tiny(&c);
  c.optimizer.lr = 50;
  c.optimizer.grad_clip = 0;
  c.schedule.name = TR_SCHED_CONSTANT;
  c.train.max_steps = 200;
  snprintf(c.train.out_dir, sizeof c.train.out_dir, "%s", d);
  static Rec a;
  memset(&a, 0, sizeof a);
  TrRunResult r = run(&c, &a, NULL);
  cr_assert_eq(r.status, TR_RUN_DIVERGED);
  cr_assert_lt(r.steps, 50, "took %lld steps to notice", (long long)r.steps);
  cr_assert(strstr(r.reason, "step"), "reason '%s' names no step", r.reason);
  char ck[256];
  struct stat st;
  snprintf(ck, sizeof ck, "%s/ckpt.bin", d);
  cr_assert_neq(stat(ck, &st), 0, "a diverged run wrote a checkpoint");
  rmrf(d);
}

Test(tr_run, token_budget_stops_first) {
  TrConfig c;
  tiny(&c);
  c.train.max_steps = 1000;
  c.train.max_tokens = 4 * 16 * 6 + 1; /* 6 full steps and a bit: 7 steps */
  static Rec a;
  memset(&a, 0, sizeof a);
  TrRunResult r = run(&c, &a, NULL);
  cr_assert_eq(r.steps, 7);
  cr_assert_eq(r.tokens, 7 * 64);
}

Test(tr_run, time_budget_stops_a_long_run) {
  TrConfig c;
  tiny(&c);
  c.train.max_steps = 0;
  c.train.max_seconds = 0.3;
  c.schedule.name = TR_SCHED_CONSTANT;
  static Rec a;
  memset(&a, 0, sizeof a);
  TrRunResult r = run(&c, &a, NULL);
  cr_assert_eq(r.status, TR_RUN_COMPLETED);
  cr_assert_gt(r.steps, 0);
  cr_assert_geq(r.wall_seconds, 0.3);
}

Test(tr_run, noise_scale_is_logged_with_micro_batches) {
  TrConfig c;
  tiny(&c);
  c.train.batch_size = 8;
  c.train.micro_batch_size = 2;
  static Rec a;
  memset(&a, 0, sizeof a);
  run(&c, &a, NULL);
  static double g[MAXROWS];
  int n = series(&a, "gns", 0, g);
  cr_assert_eq(n, 4, "gns rows: %d (one per evaluation)", n);
  int finite = 0;
  for (int i = 0; i < n; i++) finite += isfinite(g[i]) && g[i] > 0;
  cr_assert_gt(finite, 0);
}

Test(tr_run, no_noise_scale_without_micro_batches) {
  TrConfig c;
  tiny(&c);
  static Rec a;
  memset(&a, 0, sizeof a);
  run(&c, &a, NULL);
  static double g[MAXROWS];
  cr_assert_eq(series(&a, "gns", 0, g), 0);
}

static volatile sig_atomic_t stop_now = 1;
Test(tr_run, stop_flag_interrupts) {
  TrConfig c;
  tiny(&c);
  TrRunHooks h = {0};
  h.stop = &stop_now;
  TrRunResult res;
  cr_assert_eq(tr_run(&c, &h, &res, NULL), TR_OK);
  cr_assert_eq(res.status, TR_RUN_INTERRUPTED);
  cr_assert_eq(res.steps, 0);
}

Test(tr_run, summary_json_has_the_documented_keys) {
  TrConfig c;
  tiny(&c);
  static Rec a;
  memset(&a, 0, sizeof a);
  TrRunResult r = run(&c, &a, NULL);
  char buf[2048];
  tr_run_result_json(&r, buf, sizeof buf);
  const char *keys[] = {"\"status\": \"completed\"", "\"best_val_loss\": ", "\"final_val_loss\": ",
                        "\"final_train_loss\": ", "\"steps\": 20", "\"tokens\": 1280", "\"wall_seconds\": ",
                        "\"tokens_per_second\": "};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) cr_assert(strstr(buf, keys[i]), "%s lacks %s", buf, keys[i]);
}

Test(tr_run, missing_data_file_is_an_error) {
  TrConfig c;
  tiny(&c);
  snprintf(c.data.path, sizeof c.data.path, "/nonexistent/corpus.txt");
  TrRunResult res;
  TrErr err = {0};
  cr_assert_neq(tr_run(&c, NULL, &res, &err), TR_OK);
  cr_assert(strstr(err.msg, "/nonexistent/corpus.txt"), "%s", err.msg);
}

Test(tr_run, out_dir_parents_are_created_and_a_bad_out_dir_fails_before_training) {
  char *d = tmpdir();
  TrConfig c;
  tiny(&c);
  c.train.max_steps = 2;
  snprintf(c.train.out_dir, sizeof c.train.out_dir, "%s/runs/deep/small", d);
  static Rec a;
  memset(&a, 0, sizeof a);
  TrRunResult r = run(&c, &a, NULL);
  char ck[256];
  snprintf(ck, sizeof ck, "%s/runs/deep/small/ckpt.bin", d);
  struct stat st;
  cr_assert_eq(stat(ck, &st), 0, "no checkpoint at %s (%s)", ck, r.checkpoint);
  snprintf(c.train.out_dir, sizeof c.train.out_dir, "%s/runs/deep/small/ckpt.bin/x", d);
  memset(&a, 0, sizeof a);
  TrRunHooks h = {0};
  h.on_metric = on_metric;
  h.ud = &a;
  TrErr err = {0};
  cr_assert_neq(tr_run(&c, &h, &r, &err), TR_OK);
  cr_assert(strstr(err.msg, "train.out_dir: cannot create"), "%s", err.msg);
  cr_assert_eq(a.n, 0, "trained before failing");
  rmrf(d);
}

/* PBT: a member resumes from another member's checkpoint (other seed, other lr): it takes the
** weights, the optimizer state and both random streams, and trains with its own lr from there. */
Test(tr_run, pbt_resume_takes_another_members_state_and_trains_with_its_own_values) {
  char *d = tmpdir();
  TrConfig a;
  tiny(&a);
  a.schedule.name = TR_SCHED_CONSTANT;
  a.train.checkpoint_interval = 10;
  snprintf(a.train.out_dir, sizeof a.train.out_dir, "%s/a", d);
  static Rec straight, copy, other;
  memset(&straight, 0, sizeof straight);
  memset(&copy, 0, sizeof copy);
  memset(&other, 0, sizeof other);
  TrRunResult ra = run(&a, &straight, NULL); /* to step 20, a checkpoint at 10 kept below */
  cr_assert_eq(ra.status, TR_RUN_COMPLETED);
  /* the source's checkpoint at step 10: run it again to 10 and keep the file */
  TrConfig a10 = a;
  a10.train.max_steps = 10;
  snprintf(a10.train.out_dir, sizeof a10.train.out_dir, "%s/a10", d);
  static Rec tmp;
  memset(&tmp, 0, sizeof tmp);
  run(&a10, &tmp, NULL);
  char ck[256];
  snprintf(ck, sizeof ck, "%s/a10/ckpt.bin", d);

  TrConfig m = a; /* the member: another seed; the same values first */
  m.train.seed = 99;
  snprintf(m.train.out_dir, sizeof m.train.out_dir, "%s/m", d);
  TrRunHooks h = {0};
  h.on_metric = on_metric;
  h.ud = &copy;
  h.resume_path = ck;
  h.resume_pbt = 1;
  TrRunResult res;
  TrErr err = {0};
  cr_assert_eq(tr_run(&m, &h, &res, &err), TR_OK, "%s", err.msg);
  static double ls[MAXROWS], lc[MAXROWS];
  int ns = series(&straight, "train_loss", 10, ls), nc = series(&copy, "train_loss", 10, lc);
  cr_assert_eq(ns, nc);
  cr_assert_gt(ns, 0);
  cr_assert_eq(memcmp(ls, lc, (size_t)ns * sizeof(double)), 0, "a copy with the source's values must continue it exactly");

  m.optimizer.lr = a.optimizer.lr * 1.2; /* explored */
  h.ud = &other;
  cr_assert_eq(tr_run(&m, &h, &res, &err), TR_OK, "%s", err.msg);
  int nl = series(&other, "lr", 10, lc);
  cr_assert_gt(nl, 0);
  for (int i = 0; i < nl; i++) cr_assert_eq(lc[i], m.optimizer.lr, "lr row %d: %g, not the new %g", i, lc[i], m.optimizer.lr);
  series(&other, "train_loss", 10, lc);
  cr_assert_eq(lc[0], ls[0], "the first step after the copy runs the copied weights (lr acts after it)");
  cr_assert_neq(memcmp(ls, lc, (size_t)ns * sizeof(double)), 0, "the new lr must change what follows");

  m.model.n_layer = 2; /* a shape is not a mutable key: refused */
  cr_assert_neq(tr_run(&m, &h, &res, &err), TR_OK);
  cr_assert(strstr(err.msg, "different config"), "%s", err.msg);
  rmrf(d);
}
