/*
** rs_fixture.h: a small, realistic hpsweep database for the results tests, built
** from RS_SCHEMA_V1 with plain SQL (no dependency on the store).
**
** Sweep "lr_grid" (minimize val_loss): optimizer.lr in {1e-3, 3e-3, 1e-2, 3e-2} x
** train.seed in {1, 2, 3} = 12 trials; lr=3e-2 seed 3 diverged, lr=3e-2 seed 2
** failed with an error text holding a comma, quotes and a newline. Every other
** trial completed with metrics train_loss, val_loss, lr (cosine with warm-up).
** Sweep "lr_wd" (maximize "acc"): lr in {1e-3, 1e-2} x weight_decay in {0, 0.1}
** x seed in {1, 2} = 8 trials, all completed.
**
** rs_fixture_add_sample adds two inference sweeps (task sample, maximize
** validity; the 8 measures at step 0, as sw_infer records them):
** "samp_neg": temperature in {0.5, 1.0, 1.5} x top_p in {0.9, 1.0}; validity falls
**   and distinct_2 rises with temperature. T=0.5 p=0.9 has two seeds (validity
**   .58/.62, distinct_2 .19/.21); T=1.5 p=1.0 seed 2 failed without metrics.
**   Settings (validity, distinct_2): T.5p.9 (.60,.20) T.5p1 (.55,.25) T1p.9 (.50,.22)
**   T1p1 (.40,.40) T1.5p.9 (.30,.35) T1.5p1 (.10,.60); the frontier is
**   T.5p.9, T.5p1, T1p1, T1.5p1 (T1p.9 and T1.5p.9 are beaten on both).
** "samp_pos": temperature in {0.2, ..., 1.2}, one seed; validity AND distinct_2 rise
**   with temperature, so T=1.2 alone is the frontier.
**
** rs_fixture_add_stopped migrates the file to the current schema (v2, v3 by their SQL)
** and makes early-termination outcomes in "lr_grid": trial 1 (lr 1e-3 seed 1) pruned
** at W&B band 3 (its curve cut after step 20), trial 2 pruned at ASHA rung 30 (cut
** after 30), trial 3 paused at rung 30 (cut after 30).
*/
#ifndef RS_FIXTURE_H
#define RS_FIXTURE_H

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

#include "rs_schema.h"

#define FIX_STEPS 60

static double fix_lr(double base, int step) {
  if (step < 6) return base * (step + 1) / 6.0;
  return base * (0.1 + 0.9 * 0.5 * (1 + cos(3.141592653589793 * (step - 6) / (FIX_STEPS - 6))));
}

static int fix_exec(sqlite3 *db, const char *sql) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) fprintf(stderr, "fixture: %s\n", msg ? msg : "?");
  sqlite3_free(msg);
  return rc;
}

/* Returns 0 on success. */
static int rs_fixture_make(const char *path) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
  int rc = fix_exec(db, "PRAGMA journal_mode=WAL") || fix_exec(db, RS_SCHEMA_V1) ||
           fix_exec(db, "PRAGMA user_version=1") || fix_exec(db, "PRAGMA application_id=1213223767") || fix_exec(db, "BEGIN");
  rc = rc || fix_exec(db, "INSERT INTO sweeps(id,name,spec,spec_hash,method,metric,goal,seed,created) VALUES"
                          "(1,'lr_grid','name: lr_grid\nmethod: grid\nmetric: val_loss\nparams:\n"
                          "  optimizer.lr: [1e-3, 3e-3, 1e-2, 3e-2]\n  train.seed: [1, 2, 3]\n',"
                          "'abc','grid','val_loss','minimize',0,1700000000),"
                          "(2,'lr_wd','name: lr_wd\n','def','grid','acc','maximize',0,1700000100)");
  sqlite3_stmt *ti = NULL, *mi = NULL;
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO trials(id,sweep_id,idx,hash,config,params,seed,status,"
                                       "attempts,best_metric,final_metric,best_step,steps,tokens,wall_seconds,"
                                       "flops,error,started,ended) VALUES(?,?,?,?,?,?,?,?,1,?,?,?,?,?,?,?,?,1,2)",
                                   -1, &ti, NULL);
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO metrics VALUES(?,?,?,?,?,?)", -1, &mi, NULL);
  static const double lrs[4] = {1e-3, 3e-3, 1e-2, 3e-2};
  int id = 1;
  for (int s = 0; s < 2 && !rc; s++) {
    int n = s == 0 ? 12 : 8;
    for (int i = 0; i < n && !rc; i++, id++) {
      double lr, wd = 0;
      int seed;
      char params[160], config[320], hash[32];
      if (s == 0) {
        lr = lrs[i / 3], seed = 1 + i % 3;
        snprintf(params, sizeof params, "{\"optimizer.lr\":%.17g,\"train.seed\":%d}", lr, seed);
      } else {
        lr = i / 4 ? 1e-2 : 1e-3, wd = (i / 2) % 2 ? 0.1 : 0.0, seed = 1 + i % 2;
        snprintf(params, sizeof params, "{\"optimizer.lr\":%.17g,\"optimizer.weight_decay\":%.17g,"
                 "\"train.seed\":%d}", lr, wd, seed);
      }
      snprintf(config, sizeof config, "{\"optimizer\":{\"lr\":%.17g,\"betas\":[0.9,0.99],\"weight_decay\":%g},"
               "\"schedule\":{\"name\":\"cosine\",\"warmup_steps\":6},\"train\":{\"seed\":%d,\"out_dir\":\"\"}}",
               lr, wd, seed);
      snprintf(hash, sizeof hash, "%016x", (unsigned)(id * 2654435761u));
      const char *status = "completed", *error = NULL;
      int steps = FIX_STEPS;
      if (s == 0 && i == 11) status = "diverged", error = "loss 812.5 > 10 x best 1.62 at step 20", steps = 21;
      if (s == 0 && i == 10) status = "failed", error = "exit 1: bad value, \"nan\"\nlast line: step 3", steps = 4;
      /* The loss falls faster with lr; seeds add a fixed offset. */
      double best = INFINITY, fin = NAN, noise = 0.01 * (seed - 2) + (s ? 0.003 * seed : 0);
      int best_step = -1;
      for (int st = 0; st < steps; st++) {
        double l = 1.4 + 0.12 * fabs(log10(lr) + 2.3) + 2.6 * exp(-st * lr * 8) + noise;
        if (s == 0 && i == 11 && st > 14) l = 1.6 * pow(3, st - 14);
        double acc = 1 - l / 5 + wd * 0.05;
        double vals[3] = {l + 0.05, s ? acc : l, fix_lr(lr, st)};
        static const char *const names[3] = {"train_loss", "val_loss", "lr"};
        for (int m = 0; m < 3 && !rc; m++) {
          sqlite3_bind_int(mi, 1, id);
          sqlite3_bind_text(mi, 2, m == 1 && s ? "acc" : names[m], -1, SQLITE_STATIC);
          sqlite3_bind_int(mi, 3, st);
          sqlite3_bind_int(mi, 4, st * 2048);
          sqlite3_bind_double(mi, 5, st * 0.05 * (1 + i % 3));
          sqlite3_bind_double(mi, 6, vals[m]);
          rc = sqlite3_step(mi) != SQLITE_DONE;
          sqlite3_reset(mi);
        }
        double v = vals[1];
        if (s ? !(v <= best) || best == INFINITY : v < best) {
          if (s == 0 || best == INFINITY || v > best) best = v, best_step = st;
        }
        fin = v;
      }
      int failed = strcmp(status, "failed") == 0;
      sqlite3_bind_int(ti, 1, id);
      sqlite3_bind_int(ti, 2, s + 1);
      sqlite3_bind_int(ti, 3, i);
      sqlite3_bind_text(ti, 4, hash, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ti, 5, config, -1, SQLITE_TRANSIENT);
      sqlite3_bind_text(ti, 6, params, -1, SQLITE_TRANSIENT);
      sqlite3_bind_int(ti, 7, seed);
      sqlite3_bind_text(ti, 8, status, -1, SQLITE_STATIC);
      if (failed) sqlite3_bind_null(ti, 9), sqlite3_bind_null(ti, 10), sqlite3_bind_null(ti, 11);
      else sqlite3_bind_double(ti, 9, best), sqlite3_bind_double(ti, 10, fin), sqlite3_bind_int(ti, 11, best_step);
      sqlite3_bind_int(ti, 12, steps);
      sqlite3_bind_int(ti, 13, steps * 2048);
      sqlite3_bind_double(ti, 14, steps * 0.05 * (1 + i % 3) + 0.1 * id);
      sqlite3_bind_double(ti, 15, steps * 2048 * 6.0e5 * (1 + i % 3));
      if (error) sqlite3_bind_text(ti, 16, error, -1, SQLITE_STATIC);
      else sqlite3_bind_null(ti, 16);
      rc = sqlite3_step(ti) != SQLITE_DONE;
      sqlite3_reset(ti);
      sqlite3_clear_bindings(ti);
    }
  }
  sqlite3_finalize(ti);
  sqlite3_finalize(mi);
  rc = rc || fix_exec(db, "COMMIT");
  sqlite3_close(db);
  return rc;
}

/* 0 on success. */
static inline int rs_fixture_add_stopped(const char *path) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
  int rc = fix_exec(db, "BEGIN") || fix_exec(db, RS_SCHEMA_V2 RS_SCHEMA_V2_SCALE) || fix_exec(db, RS_SCHEMA_V3) ||
           fix_exec(db, "PRAGMA user_version=3") ||
           fix_exec(db, "UPDATE trials SET status='pruned', rung=3, steps=20, final_metric=NULL, "
                        "error='pruned at band 3: 2.6 > threshold 2.5 (n 4, eta 3)' WHERE id=1;"
                        "UPDATE trials SET status='pruned', rung=30, steps=30, "
                        "error='pruned at rung 30: 2.1, rank 3 of 3, not in the top 1 (threshold 1.9, eta 3)' "
                        "WHERE id=2;"
                        "UPDATE trials SET status='paused', rung=30, steps=30, error=NULL WHERE id=3;"
                        "DELETE FROM metrics WHERE trial_id=1 AND step>20;"
                        "DELETE FROM metrics WHERE trial_id IN (2,3) AND step>30;") ||
           fix_exec(db, "COMMIT");
  sqlite3_close(db);
  return rc;
}

typedef struct FixSample {
  int sweep;            /* 3 samp_neg, 4 samp_pos */
  double t, p;          /* p < 0: top_p not swept */
  int seed;
  double validity, distinct_2;
  int failed;
} FixSample;


/* rep_4 and mean_length of fixture sample i, known to the tests. */
static inline double fix_rep4(int i) { return 0.01 * (i + 1); }
static inline double fix_len(int i) { return 100.0 + i; }

/* Adds sweeps 3 and 4 (trials 101..) to a database made by rs_fixture_make; 0 on success. */
static inline int rs_fixture_add_sample(const char *path) {
  static const FixSample fix_samples[] = {
      {3, 0.5, 0.9, 1, 0.58, 0.19, 0}, {3, 0.5, 0.9, 2, 0.62, 0.21, 0}, {3, 0.5, 1.0, 1, 0.55, 0.25, 0},
      {3, 1.0, 0.9, 1, 0.50, 0.22, 0}, {3, 1.0, 1.0, 1, 0.40, 0.40, 0}, {3, 1.5, 0.9, 1, 0.30, 0.35, 0},
      {3, 1.5, 1.0, 1, 0.10, 0.60, 0}, {3, 1.5, 1.0, 2, NAN, NAN, 1},
      {4, 0.2, -1, 1, 0.10, 0.10, 0}, {4, 0.4, -1, 1, 0.20, 0.15, 0}, {4, 0.6, -1, 1, 0.30, 0.20, 0},
      {4, 0.8, -1, 1, 0.40, 0.30, 0}, {4, 1.0, -1, 1, 0.50, 0.35, 0}, {4, 1.2, -1, 1, 0.60, 0.50, 0}};
  const int nsamples = (int)(sizeof fix_samples / sizeof fix_samples[0]);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
  int rc = fix_exec(db, "BEGIN") ||
           fix_exec(db, "INSERT INTO sweeps(id,name,spec,spec_hash,method,metric,goal,seed,task,created) VALUES"
                        "(3,'samp_neg','name: samp_neg\nmetric: {name: validity, goal: maximize}\nparameters:\n"
                        "  sample.temperature: {values: [0.5, 1.0, 1.5]}\n  sample.top_p: {values: [0.9, 1.0]}\n"
                        "hpsweep: {task: sample, checkpoint: ckpt.bin, seeds: [1, 2]}\n',"
                        "'s3','grid','validity','maximize',0,'sample',1700000200),"
                        "(4,'samp_pos','name: samp_pos\n','s4','grid','validity','maximize',0,'sample',1700000300)");
  sqlite3_stmt *ti = NULL, *mi = NULL;
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO trials(id,sweep_id,idx,hash,config,params,seed,status,attempts,"
                                       "best_metric,final_metric,best_step,steps,tokens,wall_seconds,flops,error,"
                                       "started,ended) VALUES(?,?,?,?,'{}',?,?,?,1,?,?,0,0,6400,2.5,0,?,1,2)",
                                   -1, &ti, NULL);
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO metrics VALUES(?,?,0,6400,2.5,?)", -1, &mi, NULL);
  int idx[5] = {0};
  for (int i = 0; i < nsamples && !rc; i++) {
    const FixSample *f = &fix_samples[i];
    int id = 101 + i;
    char params[160], hash[32];
    if (f->p >= 0)
      snprintf(params, sizeof params, "{\"sample.temperature\":%.1f,\"sample.top_p\":%.1f,\"sample.seed\":%d}",
               f->t, f->p, f->seed);
    else
      snprintf(params, sizeof params, "{\"sample.temperature\":%.1f,\"sample.seed\":%d}", f->t, f->seed);
    snprintf(hash, sizeof hash, "%016x", (unsigned)(id * 2654435761u));
    sqlite3_bind_int(ti, 1, id);
    sqlite3_bind_int(ti, 2, f->sweep);
    sqlite3_bind_int(ti, 3, idx[f->sweep]++);
    sqlite3_bind_text(ti, 4, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ti, 5, params, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ti, 6, f->seed);
    sqlite3_bind_text(ti, 7, f->failed ? "failed" : "completed", -1, SQLITE_STATIC);
    if (f->failed) {
      sqlite3_bind_null(ti, 8), sqlite3_bind_null(ti, 9);
      sqlite3_bind_text(ti, 10, "exit 1: checkpoint vanished", -1, SQLITE_STATIC);
    } else {
      sqlite3_bind_double(ti, 8, f->validity), sqlite3_bind_double(ti, 9, f->validity);
      sqlite3_bind_null(ti, 10);
    }
    rc = sqlite3_step(ti) != SQLITE_DONE;
    sqlite3_reset(ti);
    sqlite3_clear_bindings(ti);
    static const char *const names[8] = {"validity", "distinct_1", "distinct_2", "distinct_3",
                                         "rep_4", "mean_length", "loglik", "tokens_per_second"};
    double vals[8] = {f->validity, f->distinct_2 * 0.5, f->distinct_2, f->distinct_2 * 1.3,
                      fix_rep4(i), fix_len(i), -1.5 - f->t, 2500};
    for (int m = 0; m < 8 && !rc && !f->failed; m++) {
      sqlite3_bind_int(mi, 1, id);
      sqlite3_bind_text(mi, 2, names[m], -1, SQLITE_STATIC);
      sqlite3_bind_double(mi, 3, vals[m]);
      rc = sqlite3_step(mi) != SQLITE_DONE;
      sqlite3_reset(mi);
    }
  }
  sqlite3_finalize(ti);
  sqlite3_finalize(mi);
  rc = rc || fix_exec(db, "COMMIT");
  sqlite3_close(db);
  return rc;
}

/* Sweep "big" (minimize val_loss): model.d_model in {100..199} (100 values) x train.seed
** in {0..19} = 2,000 trials, ids 10000.., all completed. best_metric = 1 + |d_model - 137|
** + seed / 1000: the winner is d_model=137 seed 0 (1.0), then 136 and 138 (2.0...), 135
** and 139 (3.0...). val_loss rows at steps 0 and 10 (the last is the best). */
static inline int rs_fixture_add_big(const char *path) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
  int rc = fix_exec(db, "BEGIN") ||
           fix_exec(db, "INSERT INTO sweeps(id,name,spec,spec_hash,method,metric,goal,seed,created) VALUES"
                        "(10,'big','name: big\n','big','grid','val_loss','minimize',0,1700000300)") ||
           fix_exec(db, "WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 1999) "
                        "INSERT INTO trials(id,sweep_id,idx,hash,config,params,seed,status,attempts,best_metric,"
                        "final_metric,best_step,steps,tokens,wall_seconds,flops,started,ended) "
                        "SELECT 10000 + i, 10, i, printf('%016x', i), '{}', "
                        "printf('{\"model.d_model\":%d,\"train.seed\":%d}', 100 + i / 20, i % 20), i % 20, "
                        "'completed', 1, 1 + abs(100 + i / 20 - 137) + (i % 20) / 1000.0, "
                        "1 + abs(100 + i / 20 - 137) + (i % 20) / 1000.0, 10, 10, 1000, 1.0, 1e9, 1, 2 FROM c") ||
           fix_exec(db, "INSERT INTO metrics SELECT id, 'val_loss', 0, 0, 0.0, best_metric + 1 FROM trials "
                        "WHERE sweep_id = 10") ||
           fix_exec(db, "INSERT INTO metrics SELECT id, 'val_loss', 10, 1000, 1.0, best_metric FROM trials "
                        "WHERE sweep_id = 10") ||
           fix_exec(db, "COMMIT");
  sqlite3_close(db);
  return rc;
}

/* Sweep "bs" (minimize val_loss, metric.target 1.5 unless target is NULL: then none):
** train.batch_size in {8, 32, 128} x optimizer.lr in {1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2} x
** seed in {1, 2}, 30 completed trials, seq_len 64. The best lr follows the square-root
** rule, lr*(B) = 2e-3 sqrt(B / 8) (a grid point, the loss quadratic in log lr around it);
** val_loss = floor + 2 exp(-step / tau) every step up to 600 with floor = 1 + 0.1 d^2,
** d = log2(lr / lr*), tau = S(B) (1 + d^2) / ln 4, so at lr* the loss crosses 1.5 at
** S(B) = 100 + 3200 / B steps (S_min 100, E_min 3200, B_crit 32); gns is 40 at every step. */
static inline int rs_fixture_add_bs(const char *path, const char *target) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
  char spec[512];
  snprintf(spec, sizeof spec, "INSERT INTO sweeps(id,name,spec,spec_hash,method,metric,goal,seed,created) VALUES"
           "(40,'bs','name: bs\nmethod: grid\nmetric:\n  name: val_loss\n%s%s%sparams:\n  train.batch_size: "
           "[8, 32, 128]\n  optimizer.lr: [1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2]\n  train.seed: [1, 2]\n','bsh','grid',"
           "'val_loss','minimize',7,1700000200)", target ? "  target: " : "", target ? target : "", target ? "\n" : "");
  int rc = fix_exec(db, "BEGIN") || fix_exec(db, spec);
  sqlite3_stmt *ti = NULL, *mi = NULL;
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO trials(id,sweep_id,idx,hash,config,params,seed,status,attempts,"
                                       "best_metric,final_metric,best_step,steps,tokens,wall_seconds,flops,started,"
                                       "ended) VALUES(?,40,?,?,'{}',?,?,'completed',1,?,?,600,600,?,1,1,1,2)",
                                   -1, &ti, NULL);
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO metrics VALUES(?,?,?,0,0,?)", -1, &mi, NULL);
  static const double bs[3] = {8, 32, 128}, lrs[5] = {1e-3, 2e-3, 4e-3, 8e-3, 1.6e-2};
  for (int i = 0; i < 30 && !rc; i++) {
    int id = 400 + i, seed = 1 + i % 2;
    double b = bs[i / 10], lr = lrs[(i / 2) % 5], d = log2(lr / (2e-3 * sqrt(b / 8)));
    double fl = 1 + 0.1 * d * d + 0.001 * seed, tau = (100 + 3200 / b) * (1 + d * d) / log(4.0), last = NAN;
    for (int st = 0; st <= 600 && !rc; st++) {
      double v[2] = {fl + 2 * exp(-st / tau), 40};
      static const char *const names[2] = {"val_loss", "gns"};
      for (int m = 0; m < 2 && !rc; m++) {
        sqlite3_bind_int(mi, 1, id);
        sqlite3_bind_text(mi, 2, names[m], -1, SQLITE_STATIC);
        sqlite3_bind_int(mi, 3, st);
        sqlite3_bind_double(mi, 4, v[m]);
        rc = sqlite3_step(mi) != SQLITE_DONE;
        sqlite3_reset(mi);
      }
      last = v[0];
    }
    char params[160], hash[32];
    snprintf(params, sizeof params, "{\"optimizer.lr\":%.17g,\"train.batch_size\":%g,\"train.seed\":%d}", lr, b, seed);
    snprintf(hash, sizeof hash, "bs%04d", id);
    sqlite3_bind_int(ti, 1, id);
    sqlite3_bind_int(ti, 2, i);
    sqlite3_bind_text(ti, 3, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ti, 4, params, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ti, 5, seed);
    sqlite3_bind_double(ti, 6, last);
    sqlite3_bind_double(ti, 7, last);
    sqlite3_bind_int64(ti, 8, (sqlite3_int64)(600 * b * 64));
    rc = rc || sqlite3_step(ti) != SQLITE_DONE;
    sqlite3_reset(ti);
  }
  sqlite3_finalize(ti);
  sqlite3_finalize(mi);
  rc = rc || fix_exec(db, "COMMIT");
  sqlite3_close(db);
  return rc;
}

/* Sweep "xfer" (minimize val_loss, sweep seed 5): model.parametrization in {standard, mup}
** x model.d_model in {64, 128, 256} x optimizer.lr in {1.25e-4, 2.5e-4, ..., 8e-3} (7
** values a factor 2 apart) x seed in {1, 2} = 84 completed trials, ids 500.., best_metric
** only (no curves). best = 2 + 0.05 d^2 + 0.002 seed - 0.1 log2(w / 64), d = log2(lr / lr*):
** under mup lr* = 2e-3 at every width; under standard lr* = 2e-3 (w / 64)^-shift, so with
** shift 1 the optimum moves down one grid point per doubling (2e-3, 1e-3, 5e-4), with
** shift 0.4 it lies nearest 2e-3, 2e-3 and 1e-3. */
static inline int rs_fixture_add_transfer(const char *path, double shift) {
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) return 1;
  int rc = fix_exec(db, "BEGIN") ||
           fix_exec(db, "INSERT INTO sweeps(id,name,spec,spec_hash,method,metric,goal,seed,created) VALUES"
                        "(50,'xfer','name: xfer\n','xf','grid','val_loss','minimize',5,1700000400)");
  sqlite3_stmt *ti = NULL;
  if (!rc) rc = sqlite3_prepare_v2(db, "INSERT INTO trials(id,sweep_id,idx,hash,config,params,seed,status,attempts,"
                                       "best_metric,final_metric,best_step,steps,tokens,wall_seconds,flops,started,"
                                       "ended) VALUES(?,50,?,?,'{}',?,?,'completed',1,?,?,400,400,25600,1,1,1,2)",
                                   -1, &ti, NULL);
  static const char *const par[2] = {"standard", "mup"};
  static const double widths[3] = {64, 128, 256};
  for (int i = 0; i < 84 && !rc; i++) {
    int p = i / 42, seed = 1 + i % 2;
    double w = widths[(i / 14) % 3], lr = 1.25e-4 * pow(2, (i / 2) % 7);
    double opt = p ? 2e-3 : 2e-3 * pow(w / 64, -shift), d = log2(lr / opt);
    double v = 2 + 0.05 * d * d + 0.002 * seed - 0.1 * log2(w / 64);
    char params[200], hash[32];
    snprintf(params, sizeof params, "{\"model.parametrization\":\"%s\",\"model.d_model\":%g,\"optimizer.lr\":%.17g,"
             "\"train.seed\":%d}", par[p], w, lr, seed);
    snprintf(hash, sizeof hash, "xf%04d", i);
    sqlite3_bind_int(ti, 1, 500 + i);
    sqlite3_bind_int(ti, 2, i);
    sqlite3_bind_text(ti, 3, hash, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(ti, 4, params, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int(ti, 5, seed);
    sqlite3_bind_double(ti, 6, v);
    sqlite3_bind_double(ti, 7, v);
    rc = sqlite3_step(ti) != SQLITE_DONE;
    sqlite3_reset(ti);
  }
  sqlite3_finalize(ti);
  rc = rc || fix_exec(db, "COMMIT");
  sqlite3_close(db);
  return rc;
}

#endif
