/*
** cmd_status.c: `hpsweep status [SWEEP] [--db FILE]`: the progress of sweeps,
** read from the database (read-only: safe from any shell while a sweep runs).
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "cli.h"
#include "rs_lrfind.h"
#include "rs_query.h"
#include "rs_store.h"
#include "sw_progress.h"
#include "tr_alloc.h"
#include "tr_os.h"

static const char usage[] =
    "usage: hpsweep status [SWEEP] [--db FILE]\n"
    "\n"
    "Show a sweep's progress from its database: trials by status, an ETA, and\n"
    "each running trial with its latest step, loss and speed; a running trial\n"
    "whose lease expired is STALE (its runner died or hangs; the next runner\n"
    "takes it over), with when it was last heard from. Trials early termination\n"
    "paused or pruned are listed with their band or rung (docs/early-termination.md).\n"
    "Without SWEEP,\n"
    "every sweep in the database. Opens the database read-only: use it from\n"
    "another shell while `hpsweep run` works.\n"
    "\n"
    "options:\n"
    "  --db FILE   results database, a file or a postgresql:// URL (default $HPSWEEP_DB, else hpsweep.db)\n";

/* Mean wall seconds of the sweep's finished trials (NaN if none or unreadable). */
static double mean_seconds(RsStore *st, int64_t sweep_id) {
  double m;
  return rs_sweep_mean_seconds(st, sweep_id, &m) == TR_OK ? m : NAN;
}

/* The planned steps of a trial (0 if time-limited or unknown). */
static int64_t planned_steps(RsStore *st, int64_t trial_id) {
  int64_t v;
  return rs_trial_config_int(st, trial_id, "train.max_steps", &v) == TR_OK && v > 0 ? v : 0;
}

#define STOPPED_SHOWN 8 /* paused trials listed, and the last pruned ones */

/* A trial early termination stopped, as listed: "paused rung 300  trial 7  best 1.98". */
typedef struct Stopped {
  int64_t id;
  char what[48], best[32], why[160];
} Stopped;

typedef struct StoppedList {
  Stopped paused[STOPPED_SHOWN], pruned[STOPPED_SHOWN]; /* pruned: a ring of the last ones by idx */
  size_t n_paused, n_pruned;
} StoppedList;

static int stopped_add(void *ctx, const RsTrial *t) {
  StoppedList *l = ctx;
  Stopped *s;
  if (t->status == RS_PAUSED) {
    if (l->n_paused++ >= STOPPED_SHOWN) return TR_OK;
    s = &l->paused[l->n_paused - 1];
  } else if (t->status == RS_PRUNED) {
    s = &l->pruned[l->n_pruned++ % STOPPED_SHOWN];
  } else {
    return TR_OK;
  }
  s->id = t->id;
  rs_fmt_status(s->what, sizeof s->what, t->status, t->rung, t->error);
  rs_fmt_metric(s->best, sizeof s->best, t->best_metric);
  snprintf(s->why, sizeof s->why, "%s", t->error ? t->error : "");
  return TR_OK;
}

static void stopped_print(const Stopped *s) {
  printf("  %-18s trial %-6lld best %-9s %s\n", s->what, (long long)s->id, s->best, s->why);
}

/* The trials early termination paused or pruned, with their band or rung. */
static int show_stopped(RsStore *st, const RsSweep *sw) {
  StoppedList l = {0};
  if (rs_trials_each(st, sw->id, stopped_add, &l)) {
    fprintf(stderr, "hpsweep status: %s\n", rs_store_errmsg(st));
    return 1;
  }
  if (!l.n_paused && !l.n_pruned) return 0;
  printf("early termination: %zu pruned, %zu paused\n", l.n_pruned, l.n_paused);
  for (size_t i = 0; i < l.n_paused && i < STOPPED_SHOWN; i++) stopped_print(&l.paused[i]);
  if (l.n_paused > STOPPED_SHOWN) printf("  ... %zu more paused\n", l.n_paused - STOPPED_SHOWN);
  size_t k = l.n_pruned < STOPPED_SHOWN ? l.n_pruned : STOPPED_SHOWN;
  if (l.n_pruned > k) printf("  ... %zu pruned before these\n", l.n_pruned - k);
  for (size_t i = l.n_pruned - k; i < l.n_pruned; i++) stopped_print(&l.pruned[i % STOPPED_SHOWN]);
  return 0;
}

/* An LR range test (hpsweep lr-find --db): one line, its kind, stop and suggestions. */
static int show_lrfind(RsStore *st, const RsSweep *sw) {
  RsLrfindRun *v = NULL;
  int n = 0;
  TrErr e = {0};
  if (rs_lrfind_list(st, &v, &n, &e)) return hps_fail("status", &e);
  const RsLrfindRun *r = NULL;
  for (int i = 0; i < n && !r; i++)
    if (!strcmp(v[i].name, sw->name)) r = &v[i];
  char sg[3][32];
  for (int k = 0; r && k < 3; k++) {
    double lr = k == 0 ? r->res.steepest.lr : k == 1 ? r->res.min10.lr : r->res.valley.lr;
    if (isfinite(lr)) snprintf(sg[k], sizeof sg[k], "%.3g", lr);
    else snprintf(sg[k], sizeof sg[k], "none");
  }
  if (!r) printf("%s  LR range test, not completed (an interrupted test is not stored)\n", sw->name);
  else
    printf("%s  LR range test: %d steps, %s; suggestions: steepest %s, min/10 %s, valley %s\n", sw->name, r->res.n,
           tr_lrfind_stop_name(r->res.stop), sg[0], sg[1], sg[2]);
  rs_lrfind_runs_free(v, n);
  return 0;
}

static int show(RsStore *st, const RsSweep *sw, int width) {
  if (rs_lrfind_is(sw)) return show_lrfind(st, sw);
  RsCounts c;
  RsRunning *run = NULL;
  size_t n = 0;
  if (rs_sweep_counts(st, sw->id, &c) || rs_trials_running(st, sw->id, &run, &n)) {
    fprintf(stderr, "hpsweep status: %s\n", rs_store_errmsg(st));
    return 1;
  }
  SwViewTrial *v = tr_calloc(n ? n : 1, sizeof *v);
  if (!v) {
    rs_running_free(run, n);
    fprintf(stderr, "hpsweep status: out of memory\n");
    return 1;
  }
  double left = 0, est = 0;
  int nest = 0;
  double now = tr_clock_wall(); /* the store's clock: leases are unix seconds */
  for (size_t i = 0; i < n; i++) {
    int64_t total = planned_steps(st, run[i].trial_id);
    v[i] = (SwViewTrial){run[i].trial_id, run[i].attempts, run[i].params, run[i].step < 0 ? 0 : run[i].step, total,
                         run[i].train_loss, NAN, NAN};
    if (run[i].lease_until < now) /* its runner died or hangs (NaN lease: not stale) */
      v[i].stale = isnan(run[i].heartbeat) ? INFINITY : now - run[i].heartbeat;
    if (run[i].step > 0 && run[i].seconds > 0)
      v[i].tokens_per_second = (double)run[i].tokens / run[i].seconds;
    double frac = total > 0 && run[i].step > 0 ? (double)run[i].step / (double)total : 0;
    left += 1 - frac;
    if (frac > 0.05 && run[i].seconds > 0) {
      est += run[i].seconds / frac;
      nest++;
    }
  }
  double mean = mean_seconds(st, sw->id);
  if (!(mean > 0) && nest) mean = est / nest;
  double eta = sw_eta(&c, mean, left, n > 0 ? (int)n : 1);
  sw_view_print(stdout, sw->name, &c, eta, v, n, width);
  free(v);
  rs_running_free(run, n);
  return c.n[RS_PRUNED] || c.n[RS_PAUSED] ? show_stopped(st, sw) : 0;
}

static int status_main(int argc, char **argv) {
  const char *db = hps_db_default("hpsweep.db"), *name = NULL;
  const HpsOpt opts[] = {HPS_OPT_STRING("--db", NULL, &db), HPS_OPT_END};
  if (hps_opts_parse(argc, argv, opts, &name, 1)) return 2;
  if (!strstr(db, "://") && access(db, F_OK) != 0) { /* a file; a server's URL is checked by opening it */
    fprintf(stderr, "hpsweep status: %s: no such database (give --db FILE)\n", db);
    return 2;
  }
  TrErr err;
  tr_err_clear(&err);
  RsStore *st = NULL;
  if (rs_store_open(db, RS_OPEN_READONLY, &st, &err)) return hps_fail("status", &err); /* as the results commands */
  int width = 0; /* not a terminal: lines are not cut */
  struct winsize ws;
  if (isatty(STDOUT_FILENO) && ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20) width = ws.ws_col;
  int rc = 0;
  if (name) {
    RsSweep sw;
    int r = rs_sweep_get(st, name, &sw);
    if (r == TR_ENOTFOUND) {
      fprintf(stderr, "hpsweep status: %s: no sweep named '%s'\n", db, name);
      rc = 2;
    } else if (r) {
      fprintf(stderr, "hpsweep status: %s\n", rs_store_errmsg(st));
      rc = 1;
    } else {
      rc = show(st, &sw, width);
    }
    rs_sweep_clear(&sw);
  } else {
    RsSweep *v = NULL;
    size_t n = 0;
    if (rs_sweeps_list(st, &v, &n)) {
      fprintf(stderr, "hpsweep status: %s\n", rs_store_errmsg(st));
      rc = 1;
    } else if (n == 0) {
      printf("no sweeps in %s\n", db);
    }
    for (size_t i = 0; i < n && !rc; i++) rc = show(st, &v[i], width);
    rs_sweeps_free(v, n);
  }
  rs_store_close(st);
  return rc;
}

const HpsCmd hps_cmd_status = {"status", status_main, "show the progress of sweeps from the database", usage};
