/* rs_query + rs_stats: aggregation math against hand-computed values, queries on a
** fixture database, read-only use under a writer, export round trips, CLI errors. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hps_test.h"
#include "rs_backend.h" /* rs_sqlite_db */
#include "rs_fixture.h"
#include "rs_query.h"
#include "rs_stats.h"

static char dir[64], dbpath[128];

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "hps_rsq_");
  snprintf(dbpath, sizeof dbpath, "%s/s.db", dir);
  cr_assert_eq(rs_fixture_make(dbpath), 0);
}

static void teardown(void) { cr_assert_eq(hps_tmp_remove(dir), 0); }

/* ---- statistics ---- */

Test(rs_stats, mean_and_sample_std_match_hand_values) {
  double x[8] = {2, 4, 4, 4, 5, 5, 7, 9};
  cr_assert_float_eq(rs_stats_mean(x, 8), 5.0, 1e-15);
  cr_assert_float_eq(rs_stats_std(x, 8), sqrt(32.0 / 7.0), 1e-14);
  cr_assert(isnan(rs_stats_std(x, 1)));
  cr_assert(isnan(rs_stats_mean(x, 0)));
}

Test(rs_stats, t_quantiles_match_the_table) {
  /* Two-sided 95% critical values from any t table. */
  cr_assert_float_eq(rs_stats_t_quantile(0.975, 1), 12.7062047, 1e-6);
  cr_assert_float_eq(rs_stats_t_quantile(0.975, 2), 4.30265273, 1e-7);
  cr_assert_float_eq(rs_stats_t_quantile(0.975, 10), 2.22813885, 1e-7);
  cr_assert_float_eq(rs_stats_t_quantile(0.975, 30), 2.04227246, 1e-7);
  cr_assert_float_eq(rs_stats_t_quantile(0.975, 1e9), 1.95996398, 1e-7);
  cr_assert_float_eq(rs_stats_t_quantile(0.025, 5), -2.57058184, 1e-7);
  cr_assert_float_eq(rs_stats_t_cdf(0, 3), 0.5, 1e-15);
}

Test(rs_stats, ci95_of_three_values) {
  double x[3] = {1, 2, 3}, lo, hi;
  rs_stats_ci95(x, 3, &lo, &hi);
  double h = 4.30265273 / sqrt(3.0); /* s = 1 */
  cr_assert_float_eq(lo, 2 - h, 1e-7);
  cr_assert_float_eq(hi, 2 + h, 1e-7);
  rs_stats_ci95(x, 1, &lo, &hi);
  cr_assert(isnan(lo) && isnan(hi));
}

Test(rs_stats, welch_p_matches_hand_value) {
  /* t = -3 / sqrt(2/3) = -3.6742, df = 4: two-sided p = 0.021311. */
  double a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
  cr_assert_float_eq(rs_stats_welch_p(a, 3, b, 3), 0.0213116, 2e-6);
  cr_assert(isnan(rs_stats_welch_p(a, 1, b, 3)));
  double c[3] = {1, 2, 3};
  cr_assert_float_eq(rs_stats_welch_p(a, 3, c, 3), 1.0, 1e-12);
}

Test(rs_stats, variance_explained_is_between_over_total) {
  double y[4] = {1, 2, 3, 4};
  int g[4] = {0, 0, 1, 1}, h[4] = {0, 1, 0, 1}, k[4] = {0, 1, 2, 3};
  cr_assert_float_eq(rs_stats_var_explained(y, g, 4), 0.8, 1e-15); /* SSB 4 / SST 5 */
  cr_assert_float_eq(rs_stats_var_explained(y, h, 4), 0.2, 1e-15);
  cr_assert_float_eq(rs_stats_var_explained(y, k, 4), 1.0, 1e-15);
  double flat[3] = {2, 2, 2};
  cr_assert(isnan(rs_stats_var_explained(flat, g, 3)));
}

Test(rs_stats, pareto_front_minimize_and_maximize) {
  double cost[5] = {1, 2, 3, 4, NAN}, m[5] = {5, 3, 4, 1, 0};
  int f[5];
  cr_assert_eq(rs_stats_pareto(cost, m, 5, 0, f), 3);
  cr_assert(f[0] && f[1] && !f[2] && f[3] && !f[4]);
  cr_assert_eq(rs_stats_pareto(cost, m, 5, 1, f), 1); /* maximize: (1,5) dominates all */
  cr_assert(f[0] && !f[1] && !f[2] && !f[3]);
}

Test(rs_stats, pearson_and_spearman_match_hand_values) {
  double x[5] = {1, 2, 3, 4, 5}, y[5] = {2, 1, 4, 3, 5};
  cr_assert_float_eq(rs_stats_spearman(x, y, 5), 0.8, 1e-12); /* 1 - 6*4/(5*24) */
  double xt[4] = {1, 2, 2, 3}, yt[4] = {1, 2, 3, 4};          /* ties take the average rank */
  cr_assert_float_eq(rs_stats_spearman(xt, yt, 4), 4.5 / sqrt(22.5), 1e-12);
  double xp[4] = {1, 2, 3, NAN}, yp[4] = {2, 4, 7, 100};      /* the NaN pair is skipped */
  cr_assert_float_eq(rs_stats_pearson(xp, yp, 4), 5 / sqrt(2 * 114.0 / 9), 1e-12);
  double neg[5] = {5, 4, 3, 2, 1}, flat[5] = {1, 1, 1, 1, 1};
  cr_assert_float_eq(rs_stats_spearman(x, neg, 5), -1, 1e-12);
  cr_assert(isnan(rs_stats_pearson(x, flat, 5)));
  cr_assert(isnan(rs_stats_spearman(x, y, 2)));
}

/* ---- queries ---- */

/* Found by fuzz_db: a store with no sweep gave qsort a NULL list (undefined; UBSan, which
** the sanitizer build halts on, reported it). */
Test(rs_query, a_store_without_sweeps_lists_none, .init = setup, .fini = teardown) {
  char empty[160];
  snprintf(empty, sizeof empty, "%s/empty.db", dir);
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(empty, RS_OPEN_CREATE, &db, &e), TR_OK, "%s", e.msg);
  RsSweep *s = (RsSweep *)&e; /* not NULL: the call must set it */
  int n = -1;
  cr_assert_eq(rs_query_sweeps(db, &s, &n), TR_OK, "%s", rs_store_errmsg(db));
  cr_expect_eq(n, 0);
  rs_sweeps_free(s, n);
  rs_store_close(db);
  remove(empty);
}

Test(rs_query, lists_sweeps_with_counts_and_best, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK, "%s", e.msg);
  RsSweep *s;
  int n;
  cr_assert_eq(rs_query_sweeps(db, &s, &n), TR_OK, "%s", rs_store_errmsg(db));
  cr_assert_eq(n, 2);
  cr_assert_str_eq(s[0].name, "lr_grid");
  cr_assert_eq(s[0].n_trials, 12);
  cr_assert_eq(s[0].count[RS_COMPLETED], 10);
  cr_assert_eq(s[0].count[RS_FAILED], 1);
  cr_assert_eq(s[0].count[RS_DIVERGED], 1);
  cr_assert_eq(s[0].best_trial, 7); /* lr=1e-2, seed 1 */
  cr_assert(s[1].maximize);
  rs_sweeps_free(s, n);
  rs_store_close(db);
}

Test(rs_query, unknown_names_list_what_exists, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  RsTrialSet ts;
  cr_assert_eq(rs_trials_load(db, "nope", &ts), TR_ENOTFOUND);
  cr_assert(strstr(rs_store_errmsg(db), "'nope'") && strstr(rs_store_errmsg(db), "lr_grid, lr_wd"), "%s", rs_store_errmsg(db));
  cr_assert_eq(rs_trials_load(db, "lr_grid", &ts), TR_OK);
  int k;
  cr_assert_eq(rs_param_find(&ts, "lr", &k, &e), TR_OK);
  cr_assert_str_eq(ts.p[k].name, "optimizer.lr");
  cr_assert_eq(rs_param_find(&ts, "wd", &k, &e), TR_ENOTFOUND);
  cr_assert(strstr(e.msg, "optimizer.lr, train.seed"), "%s", e.msg);
  cr_assert_eq(rs_trials_use_metric(db, &ts, "gns"), TR_ENOTFOUND);
  cr_assert(strstr(rs_store_errmsg(db), "lr, train_loss, val_loss"), "%s", rs_store_errmsg(db));
  rs_trials_deinit(&ts);
  rs_store_close(db);
  cr_assert_eq(rs_store_open("/nonexistent/x.db", RS_OPEN_READONLY, &db, &e), TR_ENOTFOUND);
}

Test(rs_query, params_vary_sort_numerically_and_detect_log_spacing, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  RsTrialSet ts;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  cr_assert_eq(rs_trials_load(db, "lr_grid", &ts), TR_OK, "%s", rs_store_errmsg(db));
  cr_assert_eq(ts.n, 12);
  cr_assert_eq(ts.np, 2);
  const RsParam *lr = &ts.p[0], *seed = &ts.p[1];
  cr_assert(lr->varies && lr->numeric && lr->log_spaced && !lr->is_seed);
  cr_assert(seed->is_seed && !seed->log_spaced);
  cr_assert_eq(lr->n_values, 4);
  cr_assert_float_eq(lr->nums[0], 1e-3, 1e-18);
  cr_assert_float_eq(lr->nums[3], 3e-2, 1e-18);
  int order[12];
  rs_trials_rank(&ts, order);
  cr_assert_eq(ts.t[order[0]].id, 7);
  cr_assert_str_eq(rs_status_name(ts.t[order[11]].status), "failed"); /* no metric: last */
  cr_assert_str_eq(rs_status_name(ts.t[order[10]].status), "diverged");
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_query, rank_by_another_metric_uses_its_rows, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  RsTrialSet ts;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  cr_assert_eq(rs_trials_load(db, "lr_grid", &ts), TR_OK);
  cr_assert_eq(rs_trials_use_metric(db, &ts, "train_loss"), TR_OK, "%s", rs_store_errmsg(db));
  /* train_loss = val_loss + 0.05 in the fixture: min at the same step. */
  sqlite3 *h;
  cr_assert_eq(sqlite3_open_v2(dbpath, &h, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(h, "SELECT min(value) FROM metrics WHERE trial_id=4 AND name='train_loss'", -1, &st, NULL);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_eq(ts.t[3].best, sqlite3_column_double(st, 0));
  sqlite3_finalize(st);
  sqlite3_close(h);
  cr_assert_eq(ts.t[3].best_step, 59);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

/* A random-search sweep of 3,000 trials added to the fixture, rows in shuffled idx order:
** trial i has lr = a distinct number (every 7th written as an equal number in other digits,
** e.g. 5e-1 for 0.5), act = one of 3 strings, flag = true/false; train_loss rows at 3 steps
** (values 1..5: many ties), none when i % 17 == 0; i % 11 == 0 failed, i % 13 == 0 diverged. */
#define BIG_N 3000
static double big_lr(int i) { return 1e-4 * (1 + (i * 7919) % BIG_N); }

static void add_big_sweep(void) {
  sqlite3 *h;
  cr_assert_eq(sqlite3_open(dbpath, &h), SQLITE_OK);
  cr_assert_eq(fix_exec(h, "BEGIN; INSERT INTO sweeps(id,name,spec,spec_hash,method,metric,goal,seed,created) "
                           "VALUES(9,'big','name: big\n','b','random','val_loss','minimize',0,1)"), 0);
  sqlite3_stmt *ti, *mi;
  cr_assert_eq(sqlite3_prepare_v2(h, "INSERT INTO trials(id,sweep_id,idx,hash,config,params,seed,status) "
                                     "VALUES(?,9,?,?,'{}',?,1,?)", -1, &ti, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_prepare_v2(h, "INSERT INTO metrics VALUES(?,'train_loss',?,0,0,?)", -1, &mi, NULL),
               SQLITE_OK);
  static const char *const acts[3] = {"gelu", "relu", "silu"};
  for (int k = 0; k < BIG_N; k++) {
    int i = (k * 1237) % BIG_N; /* idx order differs from row id order */
    char params[160], hash[32];
    if (i % 7 == 3) snprintf(params, sizeof params, "{\"lr\":%.3e,\"act\":\"%s\",\"flag\":%s}", big_lr(i),
                             acts[i % 3], i % 2 ? "true" : "false");
    else snprintf(params, sizeof params, "{\"lr\":%.17g,\"act\":\"%s\",\"flag\":%s}", big_lr(i), acts[i % 3],
                  i % 2 ? "true" : "false");
    snprintf(hash, sizeof hash, "%016x", i);
    sqlite3_bind_int(ti, 1, 1000 + k);
    sqlite3_bind_int(ti, 2, i);
    sqlite3_bind_text(ti, 3, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ti, 4, params, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ti, 5, i % 11 == 0 ? "failed" : i % 13 == 0 ? "diverged" : "completed", -1, SQLITE_STATIC);
    cr_assert_eq(sqlite3_step(ti), SQLITE_DONE);
    sqlite3_reset(ti);
    for (int st = 0; st < 3 && i % 17 != 0; st++) {
      sqlite3_bind_int(mi, 1, 1000 + k);
      sqlite3_bind_int(mi, 2, st);
      sqlite3_bind_double(mi, 3, 1.0 + ((i + st * 11) % 5));
      cr_assert_eq(sqlite3_step(mi), SQLITE_DONE);
      sqlite3_reset(mi);
    }
  }
  sqlite3_finalize(ti);
  sqlite3_finalize(mi);
  cr_assert_eq(fix_exec(h, "COMMIT"), 0);
  sqlite3_close(h);
}

Test(rs_query, a_large_sweep_loads_every_value_and_metric_exactly, .init = setup, .fini = teardown) {
  add_big_sweep();
  RsStore *db;
  TrErr e = {0};
  RsTrialSet ts;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  cr_assert_eq(rs_trials_load(db, "big", &ts), TR_OK, "%s", rs_store_errmsg(db));
  cr_assert_eq(ts.n, BIG_N);
  cr_assert_eq(ts.np, 3);
  const RsParam *lr = &ts.p[0], *act = &ts.p[1], *flag = &ts.p[2];
  cr_assert_str_eq(lr->name, "lr");
  cr_expect_eq(lr->n_values, BIG_N, "equal numbers in other digits are one value");
  cr_assert(lr->numeric && !act->numeric && !flag->numeric);
  for (int j = 1; j < lr->n_values; j++) cr_assert_lt(lr->nums[j - 1], lr->nums[j], "sorted, distinct");
  cr_expect_eq(act->n_values, 3);
  cr_expect_eq(flag->n_values, 2);
  cr_assert_eq(rs_trials_use_metric(db, &ts, "train_loss"), TR_OK, "%s", rs_store_errmsg(db));
  for (int r = 0; r < ts.n; r++) {
    const RsTrialRow *t = &ts.t[r];
    int i = (int)t->idx;
    cr_assert_eq(i, r, "trials come in idx order");
    cr_assert_float_eq(lr->nums[t->pv[0]], big_lr(i), 1e-12 * big_lr(i), "trial %d", i);
    static const char *const acts[3] = {"gelu", "relu", "silu"};
    cr_assert_str_eq(act->values[t->pv[1]], acts[i % 3]);
    cr_assert_str_eq(flag->values[t->pv[2]], i % 2 ? "true" : "false");
    double lo = i % 17 == 0 ? NAN : INFINITY, last = NAN;
    for (int st = 0; st < 3 && i % 17 != 0; st++) {
      double v = 1.0 + ((i + st * 11) % 5);
      if (v < lo) lo = v;
      last = v;
    }
    cr_assert(t->best == lo || (isnan(t->best) && isnan(lo)), "trial %d", i);
    cr_assert(t->final == last || (isnan(t->final) && isnan(last)), "trial %d", i);
  }
  /* The ranking equals a plain stable sort: completed by value (idx on ties), then failed or
  ** diverged with a value, then no value, each in idx order. */
  int *order = malloc(BIG_N * sizeof *order), *want = malloc(BIG_N * sizeof *want);
  rs_trials_rank(&ts, order);
  for (int i = 0; i < BIG_N; i++) want[i] = i;
  for (int a = 1; a < BIG_N; a++)
    for (int b = a; b > 0; b--) {
      const RsTrialRow *x = &ts.t[want[b]], *y = &ts.t[want[b - 1]];
      int kx = isnan(x->best) ? 2 : x->status != RS_COMPLETED ? 1 : 0;
      int ky = isnan(y->best) ? 2 : y->status != RS_COMPLETED ? 1 : 0;
      if (!(kx < ky || (kx == 0 && ky == 0 && x->best < y->best))) break;
      int tmp = want[b]; want[b] = want[b - 1]; want[b - 1] = tmp;
    }
  for (int i = 0; i < BIG_N; i++) cr_assert_eq(order[i], want[i], "rank %d", i);
  free(order), free(want);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_query, compare_groups_over_seeds_with_hand_checked_stats, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  RsTrialSet ts;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  cr_assert_eq(rs_trials_load(db, "lr_grid", &ts), TR_OK);
  int by[1] = {0};
  RsCompare c;
  cr_assert_eq(rs_compare_build(&ts, by, 1, &c, &e), TR_OK);
  cr_assert_eq(c.nctx, 1);
  cr_assert_eq(c.ctx[0].ng, 4);
  const RsGroup *w = &c.ctx[0].g[0];
  cr_assert_str_eq(w->label, "lr=0.01");
  cr_assert_eq(w->n, 3);
  /* Trials 7, 8, 9: seeds add -0.01, 0, +0.01 -> std exactly 0.01. */
  double v[3] = {ts.t[6].best, ts.t[7].best, ts.t[8].best};
  cr_assert_float_eq(w->mean, (v[0] + v[1] + v[2]) / 3, 1e-12);
  cr_assert_float_eq(w->std, 0.01, 1e-9);
  cr_assert_float_eq(w->ci_hi - w->mean, 4.30265273 * 0.01 / sqrt(3.0), 1e-8);
  const RsGroup *r = &c.ctx[0].g[1];
  cr_assert_str_eq(r->label, "lr=0.03");
  cr_assert_eq(r->n, 1);
  cr_assert_eq(r->n_other, 2); /* failed + diverged */
  cr_assert(isnan(c.ctx[0].p_welch)); /* one seed: cannot compare with the noise */
  cr_assert_eq(c.ctx[0].decided, 0);
  rs_compare_deinit(&c);
  cr_assert_float_eq(rs_param_var_explained(&ts, 0), 0.99, 0.01);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_query, compare_holds_other_params_equal, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  RsTrialSet ts;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  cr_assert_eq(rs_trials_load(db, "lr_wd", &ts), TR_OK);
  int k;
  cr_assert_eq(rs_param_find(&ts, "lr", &k, &e), TR_OK);
  RsCompare c;
  cr_assert_eq(rs_compare_build(&ts, &k, 1, &c, &e), TR_OK);
  cr_assert_eq(c.nctx, 2);
  cr_assert_str_eq(c.ctx[0].label, "weight_decay=0");
  cr_assert_str_eq(c.ctx[1].label, "weight_decay=0.1");
  for (int x = 0; x < 2; x++) {
    cr_assert_str_eq(c.ctx[x].g[0].label, "lr=0.01"); /* maximize acc */
    cr_assert_eq(c.ctx[x].g[0].n, 2);
    cr_assert(c.ctx[x].p_welch < 0.05 && c.ctx[x].decided);
  }
  rs_compare_deinit(&c);
  int two[2] = {0, 1};
  cr_assert_eq(rs_compare_build(&ts, two, 2, &c, &e), TR_OK);
  cr_assert_eq(c.nctx, 1);
  cr_assert_eq(c.ctx[0].ng, 4);
  cr_assert_str_eq(c.ctx[0].g[0].label, "lr=0.01, weight_decay=0.1");
  rs_compare_deinit(&c);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_query, diversity_groups_seeds_marks_the_frontier_and_reads_the_trend, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_sample(dbpath), 0);
  RsStore *db;
  RsTrialSet ts;
  RsDiversity d;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(rs_trials_load(db, "samp_neg", &ts), TR_OK, "%s", rs_store_errmsg(db));
  cr_assert_eq(rs_diversity_load(db, &ts, &d), TR_OK, "%s", rs_store_errmsg(db));
  cr_assert_eq(d.n, 6);
  cr_assert_eq(d.n_trials, 7);
  cr_assert_eq(d.n_skipped, 1); /* the failed seed */
  static const char *const labels[6] = {"T=0.5 p=0.9", "T=0.5 p=1.0", "T=1.0 p=0.9",
                                        "T=1.0 p=1.0", "T=1.5 p=0.9", "T=1.5 p=1.0"};
  static const int front[6] = {1, 1, 0, 1, 0, 1};
  for (int i = 0; i < 6; i++) {
    cr_assert_str_eq(d.pt[i].label, labels[i]);
    cr_assert_eq(d.pt[i].front, front[i], "%s", labels[i]);
  }
  cr_assert_eq(d.nfront, 4);
  cr_assert_eq(d.pt[0].n, 2);
  cr_assert_float_eq(d.pt[0].validity, 0.60, 1e-12);
  cr_assert_float_eq(d.pt[0].d_lo, 0.19, 1e-12);
  cr_assert_float_eq(d.pt[0].d_hi, 0.21, 1e-12);
  cr_assert_float_eq(d.pt[0].rep_4, 0.015, 1e-12); /* fix_rep4(0), fix_rep4(1) */
  cr_assert_eq(d.pt[5].n, 1);
  cr_assert_eq(d.pt[5].n_other, 1);
  cr_assert_str_eq(d.key, "T = sample.temperature, p = sample.top_p");
  cr_assert_gt(d.rho_div, 0.3);
  cr_assert_lt(d.rho_val, -0.3);
  cr_assert_lt(d.r_settings, -0.3);
  rs_diversity_deinit(&d);
  rs_trials_deinit(&ts);
  /* A training sweep has no such measures: a clear not-found, no crash. */
  cr_assert_eq(rs_trials_load(db, "lr_grid", &ts), TR_OK, "%s", rs_store_errmsg(db));
  cr_assert_eq(rs_diversity_load(db, &ts, &d), TR_ENOTFOUND);
  cr_assert(strstr(rs_store_errmsg(db), "validity and distinct_2"), "%s", rs_store_errmsg(db));
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_query, reads_while_a_writer_holds_a_transaction, .init = setup, .fini = teardown) {
  sqlite3 *w;
  cr_assert_eq(sqlite3_open(dbpath, &w), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(w, "BEGIN IMMEDIATE; UPDATE trials SET status='running' WHERE id=1;", NULL, NULL, NULL),
               SQLITE_OK);
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK, "%s", e.msg);
  RsSweep s;
  cr_assert_eq(rs_sweep_find(db, "lr_grid", &s), TR_OK, "%s", rs_store_errmsg(db));
  cr_assert_eq(s.count[RS_RUNNING], 0); /* the snapshot before the commit */
  rs_sweep_clear(&s);
  cr_assert_eq(rs_store_snapshot_begin(db), TR_OK);
  cr_assert_eq(rs_sweep_find(db, "lr_grid", &s), TR_OK);
  rs_sweep_clear(&s);
  /* The writer commits while the reader holds its snapshot: WAL lets both go on. */
  cr_assert_eq(sqlite3_exec(w, "COMMIT", NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(w));
  rs_store_snapshot_end(db);
  cr_assert_eq(rs_sweep_find(db, "lr_grid", &s), TR_OK);
  cr_assert_eq(s.count[RS_RUNNING], 1);
  rs_sweep_clear(&s);
  rs_store_close(db);
  sqlite3_close(w);
}

/* ---- export round trips ---- */

/* Parse one RFC 4180 record from *p into fields (malloc'd); returns count, 0 at end. */
static int csv_record(const char **p, char **fields, int max) {
  if (!**p) return 0;
  int n = 0;
  for (;;) {
    char *buf = malloc(strlen(*p) + 1);
    size_t len = 0;
    if (**p == '"') {
      (*p)++;
      for (;;) {
        if (**p == '"' && (*p)[1] == '"') buf[len++] = '"', *p += 2;
        else if (**p == '"') { (*p)++; break; }
        else buf[len++] = *(*p)++;
      }
    } else {
      while (**p && **p != ',' && **p != '\n') buf[len++] = *(*p)++;
    }
    buf[len] = '\0';
    if (n < max) fields[n++] = buf; else free(buf);
    if (**p == ',') { (*p)++; continue; }
    if (**p == '\n') (*p)++;
    return n;
  }
}

/* Compare a text field with column c of the SQL row, exactly. */
static void same_value(sqlite3_stmt *st, int c, const char *field, int json) {
  switch (sqlite3_column_type(st, c)) {
    case SQLITE_NULL: cr_assert(json ? strcmp(field, "null") == 0 : field[0] == '\0', "%s", field); break;
    case SQLITE_INTEGER: cr_assert_eq(strtoll(field, NULL, 10), sqlite3_column_int64(st, c)); break;
    case SQLITE_FLOAT: {
      double a = strtod(field, NULL), b = sqlite3_column_double(st, c);
      cr_assert(memcmp(&a, &b, sizeof a) == 0, "column %d: '%s' != %.17g", c, field, b);
      break;
    }
    default: cr_assert_str_eq(field, (const char *)sqlite3_column_text(st, c));
  }
}

static const char *trials_sql =
    "SELECT id, idx, hash, status, seed, attempts, json_extract(params,'$.\"optimizer.lr\"'), "
    "json_extract(params,'$.\"train.seed\"'), best_metric, final_metric, best_step, steps, tokens, "
    "wall_seconds, flops, started, ended, params, error FROM trials WHERE sweep_id=1 ORDER BY idx";

Test(rs_export, csv_reparses_to_the_sql_values, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  RsSweep s;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  cr_assert_eq(rs_sweep_find(db, "lr_grid", &s), TR_OK);
  char out[160];
  snprintf(out, sizeof out, "%s/t.csv", dir);
  FILE *f = fopen(out, "w");
  cr_assert_eq(rs_export(db, &s, RS_WHAT_TRIALS, RS_FMT_CSV, f), TR_OK, "%s", rs_store_errmsg(db));
  fclose(f);
  char *text = hps_slurp(out, NULL);
  const char *p = text;
  char *fl[64];
  int n = csv_record(&p, fl, 64);
  cr_assert_eq(n, 19);
  cr_assert_str_eq(fl[0], "trial");
  cr_assert_str_eq(fl[6], "optimizer.lr");
  for (int i = 0; i < n; i++) free(fl[i]);
  sqlite3_stmt *st;
  cr_assert_eq(sqlite3_prepare_v2(rs_sqlite_db(db), trials_sql, -1, &st, NULL), SQLITE_OK);
  int rows = 0, saw_quote = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    n = csv_record(&p, fl, 64);
    cr_assert_eq(n, 19, "row %d has %d fields", rows, n);
    for (int c = 0; c < n; c++) same_value(st, c, fl[c], 0);
    if (strstr(fl[18], ", \"nan\"\n")) saw_quote = 1; /* comma, quotes and newline survived */
    for (int c = 0; c < n; c++) free(fl[c]);
    rows++;
  }
  sqlite3_finalize(st);
  cr_assert_eq(rows, 12);
  cr_assert(saw_quote);
  cr_assert_eq(*p, '\0');
  free(text);
  rs_sweep_clear(&s);
  rs_store_close(db);
}

/* The raw text after "key": in a JSON line, up to , or }. */
static void json_raw(const char *line, const char *key, char *out, size_t n) {
  char pat[96];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *p = strstr(line, pat);
  cr_assert(p, "no %s in %s", key, line);
  p += strlen(pat);
  size_t len = strcspn(p, ",}");
  snprintf(out, n, "%.*s", (int)len, p);
}

Test(rs_export, jsonl_metrics_and_trials_match_sql_exactly, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  RsSweep s;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  cr_assert_eq(rs_sweep_find(db, "lr_grid", &s), TR_OK);
  char out[160];
  snprintf(out, sizeof out, "%s/m.jsonl", dir);
  FILE *f = fopen(out, "w");
  cr_assert_eq(rs_export(db, &s, RS_WHAT_METRICS, RS_FMT_JSONL, f), TR_OK);
  fclose(f);
  char *text = hps_slurp(out, NULL), *save = NULL, *line = strtok_r(text, "\n", &save);
  sqlite3_stmt *st;
  sqlite3_prepare_v2(rs_sqlite_db(db), "SELECT m.trial_id, m.name, m.step, m.tokens, m.seconds, m.value FROM "
                     "metrics m JOIN trials t ON t.id=m.trial_id WHERE t.sweep_id=1 ORDER BY 1, 2, 3",
                     -1, &st, NULL);
  static const char *const keys[6] = {"trial", "name", "step", "tokens", "seconds", "value"};
  int rows = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    cr_assert(line);
    for (int c = 0; c < 6; c++) {
      char raw[64];
      json_raw(line, keys[c], raw, sizeof raw);
      if (c == 1) { /* a string: strip its quotes */
        raw[strlen(raw) - 1] = '\0';
        memmove(raw, raw + 1, strlen(raw));
      }
      same_value(st, c, raw, 1);
    }
    rows++;
    line = strtok_r(NULL, "\n", &save);
  }
  cr_assert_null(line);
  cr_assert_gt(rows, 500);
  sqlite3_finalize(st);
  free(text);
  /* Trials as a JSON array: SQLite's own JSON parser reads the text fields back. */
  snprintf(out, sizeof out, "%s/t.json", dir);
  f = fopen(out, "w");
  cr_assert_eq(rs_export(db, &s, RS_WHAT_TRIALS, RS_FMT_JSON, f), TR_OK);
  fclose(f);
  text = hps_slurp(out, NULL);
  sqlite3_prepare_v2(rs_sqlite_db(db), "SELECT json_valid(?1), json_array_length(?1), "
                     "json_extract(?1, '$[10].error'), json_extract(?1, '$[0].params.\"optimizer.lr\"')",
                     -1, &st, NULL);
  sqlite3_bind_text(st, 1, text, -1, SQLITE_STATIC);
  cr_assert_eq(sqlite3_step(st), SQLITE_ROW);
  cr_assert_eq(sqlite3_column_int(st, 0), 1);
  cr_assert_eq(sqlite3_column_int(st, 1), 12);
  cr_assert_str_eq((const char *)sqlite3_column_text(st, 2), "exit 1: bad value, \"nan\"\nlast line: step 3");
  cr_assert_float_eq(sqlite3_column_double(st, 3), 1e-3, 1e-18);
  sqlite3_finalize(st);
  free(text);
  rs_sweep_clear(&s);
  rs_store_close(db);
}

/* ---- the CLI ---- */

Test(rs_cli, unknown_sweep_fails_with_the_list_of_names, .init = setup, .fini = teardown) {
  static const char *const cmds[] = {"top nope --db s.db", "compare nope --db s.db", "export nope --db s.db",
                                     "plot nope --db s.db -o x.svg", "report nope --db s.db -o r.html"};
  char out[4096];
  for (int i = 0; i < 5; i++) {
    cr_assert_eq(hps_run(dir, cmds[i], out, sizeof out), 2, "%s", cmds[i]);
    cr_assert(strstr(out, "no sweep 'nope'") && strstr(out, "(sweeps: lr_grid, lr_wd)"), "%s", out);
    cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
  }
  cr_assert_eq(hps_run(dir, "show 999 --db s.db", out, sizeof out), 2);
  cr_assert(strstr(out, "trial ids: 1..20"), "%s", out);
  cr_assert_eq(hps_run(dir, "top lr_grid --by nope --db s.db", out, sizeof out), 2);
  cr_assert(strstr(out, "metrics: lr, train_loss, val_loss"), "%s", out);
  cr_assert_eq(hps_run(dir, "ls", out, sizeof out), 2); /* no hpsweep.db in the cwd */
  cr_assert(strstr(out, "hpsweep.db"), "%s", out);
}

Test(rs_cli, tables_fit_80_columns_and_machine_formats_parse, .init = setup, .fini = teardown) {
  char out[16384];
  static const char *const cmds[] = {"ls --db s.db", "top lr_grid --db s.db -n 0", "top lr_wd --db s.db",
                                     "compare lr_wd --by lr --db s.db", "compare lr_grid --db s.db",
                                     "show 12 --db s.db"};
  for (int i = 0; i < 6; i++) {
    cr_assert_eq(hps_run(dir, cmds[i], out, sizeof out), 0, "%s: %s", cmds[i], out);
    char *save = NULL;
    for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
      int w = 0;
      for (char *c = l; *c; c++) w += ((unsigned char)*c & 0xC0) != 0x80;
      if (strncmp(l, "  \"", 3) != 0 && strncmp(l, "error", 5) != 0) /* config lines may be long */
        cr_assert_leq(w, 80, "%s: line too wide: %s", cmds[i], l);
    }
  }
  cr_assert_eq(hps_run(dir, "top lr_grid --db s.db --format json", out, sizeof out), 0);
  cr_assert(out[0] == '[' && strstr(out, "\"optimizer.lr\": 0.01"), "%s", out);
  cr_assert_eq(hps_run(dir, "compare lr_grid --db s.db --by lr --format csv", out, sizeof out), 0);
  cr_assert(strncmp(out, "group,n,other,mean,std,ci95_lo,ci95_hi,best,winner,p_welch_vs_runner_up\n", 72) == 0, "%s", out);
  cr_assert_eq(hps_run(dir, "compare lr_grid --db s.db --by lr", out, sizeof out), 0);
  cr_assert(strstr(out, "rule:") && strstr(out, "lr=0.01 wins"), "%s", out);
  cr_assert_eq(hps_run(dir, "show 11 --db s.db", out, sizeof out), 0);
  cr_assert(strstr(out, "failed") && strstr(out, "\"lr\": 0.029999999999999999"), "%s", out);
}

Test(rs_cli, compare_by_lr_prints_the_learning_rate_study, .init = setup, .fini = teardown) {
  char out[16384];
  /* lr_grid: 1e-2 is best; 3e-2 had a diverged seed, so it is neither the optimum nor in the fit. */
  cr_assert_eq(hps_run(dir, "compare lr_grid --by optimizer.lr --db s.db", out, sizeof out), 0, "%s", out);
  const char *st = strstr(out, "\nlearning-rate study of val_loss (lower is better;");
  cr_assert(st && st > strstr(out, "lr=0.01 wins"), "the study follows the comparison: %s", out);
  cr_assert(strstr(st, "  The best learning rate is 1e-2 (95% CI ") && strstr(st, "), inside the grid, next\n"
                   "  to a learning rate that diverged."), "%s", st);
  cr_assert(strstr(st, "  Runs diverged from lr 3e-2; the largest lr where none diverged is 1e-2.\n"), "%s", st);
  cr_assert(strstr(st, "  Within 1% of the best value (1.459): lr "), "%s", st);
  char again[16384];
  cr_assert_eq(hps_run(dir, "compare lr_grid --by lr --db s.db", again, sizeof again), 0);
  cr_assert_str_eq(again, out, "a short name and the same seed give the same text, bootstrap included");
  /* lr_wd (maximize acc): two lrs per weight decay, a block each, no fit. */
  cr_assert_eq(hps_run(dir, "compare lr_wd --by lr --db s.db", out, sizeof out), 0, "%s", out);
  st = strstr(out, "learning-rate study of acc (higher is better;");
  cr_assert(st, "%s", out);
  cr_assert(strstr(st, "\nweight_decay=0:\n  The best learning rate is 1e-2 (the best of only 2 learning rates, no fit), at\n"
                       "  the largest lr of the grid: the optimum may be higher, widen the grid up.\n"
                       "  No run diverged, up to lr 1e-2.\n"), "%s", st);
  cr_assert(strstr(st, "\nweight_decay=0.1:\n"), "%s", st);
  /* Only for optimizer.lr and only under the text table. */
  cr_assert_eq(hps_run(dir, "compare lr_wd --by weight_decay --db s.db", out, sizeof out), 0, "%s", out);
  cr_assert_null(strstr(out, "learning-rate study"), "%s", out);
  cr_assert_eq(hps_run(dir, "compare lr_grid --by lr --db s.db --format csv", out, sizeof out), 0, "%s", out);
  cr_assert_null(strstr(out, "learning-rate study"), "%s", out);
}

/* ---- store errors, foreign and newer databases, read-only archives ---- */

/* Every command that reads a database; "status" goes through the store directly. */
static const char *const read_cmds[] = {"ls", "top lr_grid", "compare lr_grid --by lr", "show 1",
                                        "export lr_grid", "plot lr_grid -o f.svg", "report lr_grid -o r.html",
                                        "status"};
#define N_READ_CMDS (sizeof read_cmds / sizeof *read_cmds)

/* Overwrite every page but page 1 (header and schema) and the sweeps table's root with
** garbage: the sweeps still list, every query on trials or metrics hits corrupt pages. */
static void corrupt_all_but_sweeps(const char *path) {
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  long long keep = hps_q_int(db, "SELECT rootpage FROM sqlite_schema WHERE name='sweeps'");
  long long psize = hps_q_int(db, "PRAGMA page_size"), npages = hps_q_int(db, "PRAGMA page_count");
  sqlite3_close(db);
  cr_assert(keep > 1 && npages > 4, "fixture layout: sweeps root %lld of %lld pages", keep, npages);
  FILE *f = fopen(path, "r+b");
  cr_assert_not_null(f);
  char *junk = malloc((size_t)psize);
  memset(junk, 0xA5, (size_t)psize);
  for (long long p = 2; p <= npages; p++) {
    if (p == keep) continue;
    cr_assert_eq(fseek(f, (long)((p - 1) * psize), SEEK_SET), 0);
    cr_assert_eq(fwrite(junk, 1, (size_t)psize, f), (size_t)psize);
  }
  cr_assert_eq(fclose(f), 0);
  free(junk);
}

/* Overwrite the root page of one table: every read of it fails, the rest of the file reads. */
static void corrupt_root_of(const char *path, const char *table) {
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT rootpage FROM sqlite_schema WHERE name='%s'", table);
  long long root = hps_q_int(db, sql), psize = hps_q_int(db, "PRAGMA page_size");
  sqlite3_close(db);
  cr_assert_gt(root, 1);
  FILE *f = fopen(path, "r+b");
  cr_assert_not_null(f);
  char *junk = malloc((size_t)psize);
  memset(junk, 0xA5, (size_t)psize);
  cr_assert_eq(fseek(f, (long)((root - 1) * psize), SEEK_SET), 0);
  cr_assert_eq(fwrite(junk, 1, (size_t)psize, f), (size_t)psize);
  cr_assert_eq(fclose(f), 0);
  free(junk);
}

/* One line on stdout+stderr naming the database. */
static void assert_one_line_naming(const char *out, const char *what, const char *cmd) {
  cr_assert(strstr(out, what), "%s: output does not name %s: %s", cmd, what, out);
  cr_assert_eq(hps_count(out, "\n"), 1, "%s: not one line: %s", cmd, out);
}

Test(rs_query, query_error_is_reported_not_taken_for_no_rows, .init = setup, .fini = teardown) {
  corrupt_all_but_sweeps(dbpath);
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK, "%s", e.msg);
  RsSweep *s = NULL;
  int n = -1;
  cr_assert_eq(rs_query_sweeps(db, &s, &n), TR_EDB);
  cr_assert(strstr(rs_store_errmsg(db), dbpath) && strstr(rs_store_errmsg(db), "malformed"), "%s", rs_store_errmsg(db));
  cr_assert_eq(n, 0);
  rs_store_close(db);
}

Test(rs_cli, every_read_command_fails_on_corrupt_pages, .init = setup, .fini = teardown) {
  corrupt_all_but_sweeps(dbpath);
  static char out[1 << 14];
  for (size_t i = 0; i < N_READ_CMDS; i++) {
    char args[256];
    snprintf(args, sizeof args, "%s --db s.db", read_cmds[i]);
    int rc = hps_run(dir, args, out, sizeof out);
    cr_assert(rc == 1 || rc == 2, "%s exited %d: %s", read_cmds[i], rc, out);
    assert_one_line_naming(out, "s.db", read_cmds[i]);
  }
  /* Nothing half-written was left behind by the commands that write a file. */
  char p[256];
  snprintf(p, sizeof p, "%s/f.svg", dir);
  cr_assert_neq(access(p, F_OK), 0, "plot left f.svg");
  snprintf(p, sizeof p, "%s/r.html", dir);
  cr_assert_neq(access(p, F_OK), 0, "report left r.html");
}

Test(rs_cli, a_corrupt_metrics_table_fails_the_commands_that_read_it, .init = setup, .fini = teardown) {
  corrupt_root_of(dbpath, "metrics");
  static char out[1 << 14];
  /* The report's figures and show's curves read metrics: an error there is not "no data". */
  const char *cmds[] = {"report lr_grid -o r.html", "plot lr_grid -o f.svg", "show 1"};
  for (int i = 0; i < 3; i++) {
    char args[256];
    snprintf(args, sizeof args, "%s --db s.db", cmds[i]);
    cr_assert_eq(hps_run(dir, args, out, sizeof out), 1, "%s: %s", cmds[i], out);
    assert_one_line_naming(out, "s.db: ", cmds[i]);
    cr_assert(strstr(out, "malformed"), "%s: %s", cmds[i], out);
  }
  char p[256];
  snprintf(p, sizeof p, "%s/r.html", dir);
  cr_assert_neq(access(p, F_OK), 0, "report wrote r.html");
  /* What does not read metrics still works. */
  cr_assert_eq(hps_run(dir, "top lr_grid --db s.db", out, sizeof out), 0, "%s", out);
}

Test(rs_cli, table_commands_fail_when_standard_output_cannot_be_written, .init = setup, .fini = teardown) {
  const char *cmds[] = {"ls", "top lr_grid", "compare lr_grid --by lr", "show 1", "export lr_grid"};
  for (int i = 0; i < 5; i++) {
    char cmd[1024], errf[160];
    snprintf(errf, sizeof errf, "%s/err.txt", dir);
    snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s --db s.db > /dev/full 2> err.txt", dir, hps_bin(), cmds[i]);
    int st = system(cmd);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 1, "%s > /dev/full: status %x", cmds[i], st);
    char *e = hps_slurp(errf, NULL);
    cr_assert(strstr(e, "standard output: No space left on device"), "%s: %s", cmds[i], e);
    cr_assert_eq(hps_count(e, "\n"), 1, "%s: %s", cmds[i], e);
    free(e);
  }
}

/* Every read command (and run) refuses a database whose header it cannot trust, with
** the same message from the store's open. */
static void assert_all_refuse(const char *pragma, const char *expect) {
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(dbpath, &db), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(db, pragma, NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(db);
  static char out[1 << 14];
  for (size_t i = 0; i < N_READ_CMDS; i++) {
    char args[256];
    snprintf(args, sizeof args, "%s --db s.db", read_cmds[i]);
    cr_assert_eq(hps_run(dir, args, out, sizeof out), 2, "%s accepted '%s': %s", read_cmds[i], pragma, out);
    assert_one_line_naming(out, expect, read_cmds[i]);
    cr_assert(strstr(out, "s.db: "), "%s: %s", read_cmds[i], out);
  }
}

Test(rs_cli, every_command_refuses_a_newer_schema_alike, .init = setup, .fini = teardown) {
  assert_all_refuse("PRAGMA user_version=999", "written by a newer hpsweep (schema version 999");
}

Test(rs_cli, every_command_refuses_a_foreign_application_id_alike, .init = setup, .fini = teardown) {
  assert_all_refuse("PRAGMA application_id=1234", "not an hpsweep database");
}

Test(rs_cli, read_commands_work_in_a_read_only_directory_as_a_user, .init = setup, .fini = teardown) {
  if (!hps_need_root()) return;
  /* A finished sweep's database, archived: directory and file read-only, read by nobody.
  ** Outputs go to a second, writable directory. */
  char ro[128], wr[128];
  snprintf(ro, sizeof ro, "%s/archive", dir);
  snprintf(wr, sizeof wr, "%s/out", dir);
  cr_assert_eq(mkdir(ro, 0755), 0);
  cr_assert_eq(mkdir(wr, 0777), 0);
  cr_assert_eq(chmod(wr, 0777), 0);
  cr_assert_eq(chmod(dir, 0755), 0);
  char db[192];
  snprintf(db, sizeof db, "%s/s.db", ro);
  cr_assert_eq(rename(dbpath, db), 0);
  cr_assert_eq(chmod(db, 0444), 0);
  cr_assert_eq(chmod(ro, 0555), 0);
  static char out[1 << 15];
  for (size_t i = 0; i < N_READ_CMDS; i++) {
    char args[512];
    snprintf(args, sizeof args, "setpriv --reuid=nobody --regid=nogroup --clear-groups '%s' %s --db '%s'",
             hps_bin(), read_cmds[i], db);
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "cd '%s' && %s 2>&1", wr, args);
    FILE *p = popen(cmd, "r");
    cr_assert_not_null(p);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = '\0';
    while (fread(cmd, 1, sizeof cmd, p) > 0) continue;
    int st = pclose(p);
    cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "%s as nobody on a read-only directory: %s", read_cmds[i], out);
  }
  char f[256];
  snprintf(f, sizeof f, "%s/f.svg", wr);
  cr_assert_eq(access(f, F_OK), 0, "plot wrote nothing");
  snprintf(f, sizeof f, "%s/s.db-shm", ro);
  cr_assert_neq(access(f, F_OK), 0, "a -shm file appeared in the read-only directory");
  chmod(ro, 0755); /* so teardown can remove it */
}

/* ---- early termination: pruned and paused trials ---- */

Test(rs_query, fmt_status_names_the_band_or_rung) {
  char b[64];
  rs_fmt_status(b, sizeof b, RS_PRUNED, 3, "pruned at band 3: 10 > threshold 8 (n 2, eta 3)");
  cr_assert_str_eq(b, "pruned band 3");
  rs_fmt_status(b, sizeof b, RS_PRUNED, 300, "pruned at rung 300: 2.1, rank 3 of 3");
  cr_assert_str_eq(b, "pruned rung 300");
  rs_fmt_status(b, sizeof b, RS_PRUNED, 200, "pruned at step 200: best 2 > median 1.5 of 3 completed trials");
  cr_assert_str_eq(b, "pruned step 200");
  rs_fmt_status(b, sizeof b, RS_PAUSED, 300, NULL);
  cr_assert_str_eq(b, "paused rung 300");
  rs_fmt_status(b, sizeof b, RS_PRUNED, 300, "not promoted: paused at 300 when the sweep ended");
  cr_assert_str_eq(b, "pruned rung 300");
  rs_fmt_status(b, sizeof b, RS_COMPLETED, -1, NULL);
  cr_assert_str_eq(b, "completed");
  rs_fmt_status(b, sizeof b, RS_PRUNED, -1, NULL);
  cr_assert_str_eq(b, "pruned", "no rung recorded: the status alone");
}

Test(rs_query, trials_load_reads_the_rung, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_stopped(dbpath), 0);
  RsStore *st;
  TrErr e;
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &st, &e), TR_OK, "%s", e.msg);
  RsTrialSet ts;
  cr_assert_eq(rs_trials_load(st, "lr_grid", &ts), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(ts.t[0].status, RS_PRUNED);
  cr_assert_eq(ts.t[0].rung, 3);
  cr_assert_eq(ts.t[2].status, RS_PAUSED);
  cr_assert_eq(ts.t[2].rung, 30);
  cr_assert_eq(ts.t[3].rung, -1);
  rs_trials_deinit(&ts);
  rs_store_close(st);
}

Test(rs_query, top_show_and_status_list_pruned_and_paused_with_band_or_rung, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_stopped(dbpath), 0);
  char out[65536];
  cr_assert_eq(hps_run(dir, "top lr_grid --db s.db", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "pruned band 3"), "%s", out);
  cr_expect(strstr(out, "pruned rung 30"), "%s", out);
  cr_expect(strstr(out, "paused rung 30"), "%s", out);
  cr_assert_eq(hps_run(dir, "top lr_grid --db s.db --format csv", out, sizeof out), 0, "%s", out);
  cr_expect_not(strstr(out, "band 3"), "csv keeps the bare status: %s", out);
  cr_assert_eq(hps_run(dir, "show 1 --db s.db", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "status    pruned band 3 (1 attempt)"), "%s", out);
  cr_expect(strstr(out, "error     pruned at band 3: 2.6 > threshold 2.5"), "%s", out);
  cr_assert_eq(hps_run(dir, "status lr_grid --db s.db", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "early termination: 2 pruned, 1 paused"), "%s", out);
  cr_expect(strstr(out, "paused rung 30     trial 3"), "%s", out);
  cr_expect(strstr(out, "pruned band 3      trial 1"), "%s", out);
  cr_assert_eq(hps_run(dir, "ls --db s.db --format csv", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, ",interrupted,pruned,paused,"), "ls counts pruned and paused trials: %s", out);
  cr_expect(strstr(out, ",2,1,"), "2 pruned, 1 paused: %s", out);
}
