/* rs_lrfind: an LR range test kept in the store: read back exactly, idempotent, names guarded. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "hps_test.h"
#include "rs_lrfind.h"

static char dir[64], path[128];
static RsStore *st;

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "hps_rslf_");
  snprintf(path, sizeof path, "%s/t.db", dir);
  TrErr e = {0};
  cr_assert_eq(rs_store_open(path, RS_OPEN_CREATE, &st, &e), TR_OK, "%s", e.msg);
}

static void teardown(void) {
  rs_store_close(st);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

TestSuite(rs_lrfind, .init = setup, .fini = teardown);

enum { N = 12 };
static TrLrfindPoint pts[N];

/* A curve that stops on a non-finite loss at its last point; no steepest suggestion. */
static TrLrfindResult curve(void) {
  for (int i = 0; i < N; i++) {
    double lr = tr_lrfind_lr(1e-4, 10, N, i);
    pts[i] = (TrLrfindPoint){i + 1, lr, 3 - 0.1 * i + 1e-3 / 3, 3 - 0.09 * i};
  }
  pts[N - 1].loss = NAN, pts[N - 1].smoothed = NAN;
  return (TrLrfindResult){pts, N, TR_LRFIND_NONFINITE, "smoothed loss is nan at step 12", {-1, NAN}, {9, 1e-2},
                          {5, 3.3e-3}};
}

static void cfg(TrConfig *c, double wd) {
  tr_config_defaults(c);
  c->optimizer.weight_decay = wd;
}

Test(rs_lrfind, a_stored_test_reads_back_bit_for_bit_nan_and_missing_suggestion_included) {
  TrConfig c;
  cfg(&c, 0.1);
  TrLrfindOptions o = {1e-4, 10, N, NULL, NULL, NULL};
  TrLrfindResult r = curve(), back;
  TrErr e = {0};
  int stored = 0, found = 0;
  int64_t tid = -1, tid2 = -1;
  cr_assert_eq(rs_lrfind_put(st, "t", &c, &o, &r, &stored, &tid, &e), TR_OK, "%s", e.msg);
  cr_expect_eq(stored, 1);
  cr_expect_gt(tid, 0);
  cr_assert_eq(rs_lrfind_get(st, "t", &c, &o, &back, &found, &tid2, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(found, 1);
  cr_expect_eq(tid2, tid);
  cr_assert_eq(back.n, N);
  for (int i = 0; i < N - 1; i++) {
    cr_expect_eq(back.points[i].step, pts[i].step);
    cr_expect(back.points[i].lr == pts[i].lr && back.points[i].loss == pts[i].loss &&
              back.points[i].smoothed == pts[i].smoothed, "point %d", i);
  }
  cr_expect(isnan(back.points[N - 1].loss) && isnan(back.points[N - 1].smoothed));
  cr_expect_eq(back.stop, TR_LRFIND_NONFINITE);
  cr_expect_str_eq(back.reason, r.reason);
  cr_expect(back.steepest.index == -1 && isnan(back.steepest.lr));
  cr_expect(back.min10.index == 9 && back.min10.lr == 1e-2);
  cr_expect(back.valley.index == 5 && back.valley.lr == 3.3e-3);
  tr_lrfind_result_free(&back);
  /* Again: found, nothing written. */
  cr_assert_eq(rs_lrfind_put(st, "t", &c, &o, &r, &stored, &tid2, &e), TR_OK, "%s", e.msg);
  cr_expect_eq(stored, 0);
  cr_expect_eq(tid2, tid);
  RsLrfindRun *v;
  int n;
  cr_assert_eq(rs_lrfind_list(st, &v, &n, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(n, 1);
  cr_expect_str_eq(v[0].name, "t");
  cr_expect(v[0].start == 1e-4 && v[0].end == 10 && v[0].steps == N);
  cr_expect(strstr(v[0].config, "\"weight_decay\": 0.1"), "%s", v[0].config);
  rs_lrfind_runs_free(v, n);
}

Test(rs_lrfind, another_config_ramp_or_a_sweep_under_the_name_is_refused_and_a_free_name_is_not_found) {
  TrConfig c, c2;
  cfg(&c, 0.1);
  cfg(&c2, 0.2);
  TrLrfindOptions o = {1e-4, 10, N, NULL, NULL, NULL}, o2 = {1e-5, 10, N, NULL, NULL, NULL};
  TrLrfindResult r = curve(), back;
  TrErr e = {0};
  int found = 1;
  cr_assert_eq(rs_lrfind_get(st, "t", &c, &o, &back, &found, NULL, &e), TR_OK, "%s", e.msg);
  cr_expect_eq(found, 0);
  cr_assert_eq(rs_lrfind_put(st, "t", &c, &o, &r, NULL, NULL, &e), TR_OK, "%s", e.msg);
  cr_expect_eq(rs_lrfind_put(st, "t", &c2, &o, &r, NULL, NULL, &e), TR_EINVAL);
  cr_expect(strstr(e.msg, "'t' holds another LR range test (config or ramp differ"), "%s", e.msg);
  cr_expect_eq(rs_lrfind_get(st, "t", &c, &o2, &back, &found, NULL, &e), TR_EINVAL);
  int64_t id;
  cr_assert_eq(rs_sweep_upsert(st, "sw", "name: sw\n", "abc", "grid", "val_loss", "minimize", 0, "train", &id), TR_OK);
  cr_expect_eq(rs_lrfind_put(st, "sw", &c, &o, &r, NULL, NULL, &e), TR_EINVAL);
  cr_expect(strstr(e.msg, "'sw' is a sweep (task train), not an LR range test"), "%s", e.msg);
}

Test(rs_lrfind, default_names_carry_the_config_hash_and_a_ramp_that_is_not_the_default) {
  TrConfig c;
  cfg(&c, 0.1);
  TrLrfindOptions d = {1e-7, 10, 100, NULL, NULL, NULL}, o = {1e-4, 1000, 70, NULL, NULL, NULL};
  char a[RS_LRFIND_NAME_MAX], b[RS_LRFIND_NAME_MAX], id[96];
  rs_lrfind_default_name(&c, &d, a, sizeof a);
  rs_lrfind_default_name(&c, &o, b, sizeof b);
  rs_lrfind_identity(&c, &o, id, sizeof id);
  char want[64];
  snprintf(want, sizeof want, "lr-find-%.8s", id);
  cr_expect_str_eq(a, want);
  snprintf(want, sizeof want, "lr-find-%.8s-0.0001-1000-70", id);
  cr_expect_str_eq(b, want);
  cr_expect(strstr(id, " 0.0001 1000 70"), "%s", id);
}
