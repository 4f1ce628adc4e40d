/*
** rs_lrfind.h: an LR range test (trainer/tr_lrfind.h) kept in the results store as a run
** of its own kind, without a schema change.
**
** Contract:
** - A range test is a sweeps row with task 'lr_find' (method 'lr_find', metric 'smooth_loss',
**   goal minimize, seed the config's train.seed; spec a JSON object {"lr_find": {"start",
**   "end", "steps"}}; spec_hash its identity, "CONFIGHASH START END STEPS": the tested
**   config's tr_config_hash in 16 hex digits and the ramp) holding one trial: idx 0, hash the
**   config's, config its canonical JSON (optimizer.lr as configured: the ramp replaces it),
**   params {}, metrics rows lr, loss and smooth_loss at each step (tokens: step x batch x
**   context), best/final metric the smallest and the last smoothed loss, and its summary
**   {"suggestions": {"steepest": {"lr", "index"}, "min10": ..., "valley": ...}, "stop",
**   "reason"} (tr_lrfind_result_json without the points).
** - Only the store's existing operations are used (sweep_upsert, trials_insert, claim,
**   metrics_put, finish, and reads): a PostgreSQL backend needs nothing new.
** - rs_lrfind_put is idempotent: the same test under the same name again is found and left as
**   it is (*stored = 0); a name holding another test or a sweep is TR_EINVAL saying so. An
**   interrupted test is never stored (the caller does not call put).
** - rs_lrfind_get finds a completed test by name and identity: *found = 0 when the name is
**   free or its test never completed; TR_EINVAL when the name holds something else.
** - Failures return a TrCode with err filled (one line naming the database); nothing prints.
*/
#ifndef RS_LRFIND_H
#define RS_LRFIND_H

#include <stdint.h>

#include "rs_store.h"
#include "tr_config.h"
#include "tr_err.h"
#include "tr_lrfind.h"

#define RS_LRFIND_TASK "lr_find"
#define RS_LRFIND_NAME_MAX 128

/* "CONFIGHASH START END STEPS" into id (at least 80 bytes). */
void rs_lrfind_identity(const TrConfig *cfg, const TrLrfindOptions *o, char *id, size_t n);
/* The name a test gets by default: "lr-find-" and the first 8 hex digits of the config's hash,
** then "-START-END-STEPS" when the ramp is not the default one (1e-07, 10, 100). */
void rs_lrfind_default_name(const TrConfig *cfg, const TrLrfindOptions *o, char *name, size_t n);

/* Store res (a completed or stopped test, never an interrupted one) as NAME. *stored (may be
** NULL) gets 1 when written now, 0 when the same test was there already; *trial_id (may be
** NULL) the trial holding it. */
int rs_lrfind_put(RsStore *st, const char *name, const TrConfig *cfg, const TrLrfindOptions *o,
                  const TrLrfindResult *res, int *stored, int64_t *trial_id, TrErr *err);
/* The stored test NAME with this config and ramp into res (tr_lrfind_result_free). */
int rs_lrfind_get(RsStore *st, const char *name, const TrConfig *cfg, const TrLrfindOptions *o,
                  TrLrfindResult *res, int *found, int64_t *trial_id, TrErr *err);

/* A stored test as the report reads it: every field owned (rs_lrfind_run_clear). */
typedef struct RsLrfindRun {
  char *name;
  int64_t trial_id;
  char *config;            /* canonical JSON */
  double start, end;
  int steps;
  TrLrfindResult res;
} RsLrfindRun;
void rs_lrfind_run_clear(RsLrfindRun *r);
/* Every completed range test of the store, by sweep id; *out: rs_lrfind_runs_free. */
int rs_lrfind_list(RsStore *st, RsLrfindRun **out, int *n, TrErr *err);
void rs_lrfind_runs_free(RsLrfindRun *v, int n);
/* The sweep row is a range test. */
int rs_lrfind_is(const RsSweep *sw);

/* The point nearest (in log lr) to lr with a finite smoothed loss, or -1. */
int rs_lrfind_nearest(const TrLrfindResult *r, double lr);
/* The curve as a figure (log x): raw losses grey, smoothed blue, the three suggestions marked
** and in the legend; mark_lr finite adds a dashed vertical line there named mark_label (the
** sweep's fitted optimum). *out: rs_plot_deinit. */
struct RsPlot;
int rs_lrfind_plot(const TrLrfindResult *r, double mark_lr, const char *mark_label, struct RsPlot *out,
                   TrErr *err);

#endif
