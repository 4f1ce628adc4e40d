/*
** cmd_lrfind.c: `hpsweep lr-find [CONFIG.yaml] [--set key=value ...] [--start LR] [--end LR]
** [--steps N] [--plot FILE] [--json]`: the LR range test (trainer/tr_lrfind.h).
*/
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "rs_lrfind.h"
#include "rs_plot.h"
#include "tr_alloc.h"
#include "tr_config.h"
#include "tr_lrfind.h"
#include "tr_yaml.h"

#define CMD "lr-find"
enum { CURVE_W = 60, CURVE_H = 15 };

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static int arg_double(const char *opt, const char *s, double *out) {
  if (!s) return 0;
  if (tr_parse_double(s, out) != 0 || !isfinite(*out) || !(*out > 0))
    return hps_error_usage(CMD, "%s: expected a positive number, got '%s'", opt, s);
  return 0;
}

/* Smoothed loss against log10(lr), CURVE_W x CURVE_H characters; S, M, V mark the suggestions. */
static void print_curve(const TrLrfindResult *r) {
  double x0 = log10(r->points[0].lr), x1 = log10(r->points[r->n - 1].lr), y0 = INFINITY, y1 = -INFINITY;
  for (int i = 0; i < r->n; i++)
    if (isfinite(r->points[i].smoothed)) {
      y0 = fmin(y0, r->points[i].smoothed);
      y1 = fmax(y1, r->points[i].smoothed);
    }
  if (!(x1 > x0) || !(y1 >= y0)) return;
  /* The explosion would flatten the rest: the top is twice the first point's height above
  ** the minimum; points above it are drawn as '^' on the top row. */
  double first = r->points[0].smoothed;
  if (isfinite(first) && first > y0 && y0 + 2 * (first - y0) < y1) y1 = y0 + 2 * (first - y0);
  if (y1 == y0) y1 = y0 + 1;
  char g[CURVE_H][CURVE_W + 1];
  memset(g, ' ', sizeof g);
  for (int row = 0; row < CURVE_H; row++) g[row][CURVE_W] = 0;
  int mark_idx[3] = {rs_lrfind_nearest(r, r->steepest.lr), rs_lrfind_nearest(r, r->min10.lr),
                     rs_lrfind_nearest(r, r->valley.lr)};
  const char marks[3] = {'S', 'M', 'V'};
  for (int i = 0; i < r->n; i++) {
    if (!isfinite(r->points[i].smoothed)) continue;
    int col = (int)lround((log10(r->points[i].lr) - x0) / (x1 - x0) * (CURVE_W - 1));
    int row = (int)lround((y1 - fmin(r->points[i].smoothed, y1)) / (y1 - y0) * (CURVE_H - 1));
    char c = r->points[i].smoothed > y1 ? '^' : '*';
    for (int k = 0; k < 3; k++)
      if (mark_idx[k] == i) c = marks[k];
    if (g[row][col] == ' ' || (c != '*' && c != '^')) g[row][col] = c;
  }
  printf("\nsmoothed loss against log10(lr)   S steepest  M minimum/10  V valley\n");
  for (int row = 0; row < CURVE_H; row++) {
    if (row == 0) printf("%9.4f |%s\n", y1, g[row]);
    else if (row == CURVE_H - 1) printf("%9.4f |%s\n", y0, g[row]);
    else printf("%9s |%s\n", "", g[row]);
  }
  printf("%9s +%.*s\n", "", CURVE_W, "------------------------------------------------------------");
  printf("%9s  %-*.1e%.1e\n", "", CURVE_W - 7, r->points[0].lr, r->points[r->n - 1].lr);
}

static void print_suggestion(const char *name, const TrLrfindSuggestion *s, const char *how) {
  if (s->index < 0) printf("  %-10s none (the curve is too short)\n", name);
  else printf("  %-10s %.3e  (%s at step %d)\n", name, s->lr, how, s->index + 1);
}

static void print_text(const TrLrfindResult *r) {
  printf("%6s %12s %12s %12s\n", "step", "lr", "loss", "smoothed");
  for (int i = 0; i < r->n; i++)
    printf("%6d %12.4e %12.6f %12.6f\n", r->points[i].step, r->points[i].lr, r->points[i].loss,
           r->points[i].smoothed);
  if (r->n >= 2) print_curve(r);
  printf("\nstopped: %s%s%s\n", tr_lrfind_stop_name(r->stop), r->reason[0] ? ": " : "", r->reason);
  printf("suggestions:\n");
  print_suggestion("steepest", &r->steepest, "steepest descent of the smoothed loss");
  print_suggestion("min/10", &r->min10, "a tenth of the lr of the minimum");
  print_suggestion("valley", &r->valley, "fastai's valley");
}

/* The curve through PLplot (rs_plot_write: atomic, device from the extension). */
static int write_plot(const TrLrfindResult *r, const char *path, TrErr *err) {
  RsPlot p;
  int rc = rs_lrfind_plot(r, NAN, NULL, &p, err);
  if (rc) return rc;
  rc = rs_plot_write(&p, path, err);
  rs_plot_deinit(&p);
  return rc;
}

static int lrfind_output(const TrLrfindResult *res, int json, const char *plot) {
  if (plot) {
    TrErr e = {0};
    if (write_plot(res, plot, &e)) return hps_fail(CMD, &e);
    fprintf(stderr, "lr-find: wrote %s\n", plot);
  }
  if (!json) {
    print_text(res);
    return 0;
  }
  size_t n = tr_lrfind_result_json(res, NULL, 0) + 1;
  char *buf = tr_malloc(n);
  if (!buf) {
    hps_error(CMD, "out of memory");
    return 1;
  }
  tr_lrfind_result_json(res, buf, n);
  printf("%s\n", buf);
  free(buf);
  return 0;
}

/* --db: the test NAME already stored (*res filled, *found = 1), or a free name; 0 or the exit status. */
static int db_lookup(RsStore *st, const char *name, const TrConfig *cfg, const TrLrfindOptions *o,
                     TrLrfindResult *res, int *found) {
  TrErr e = {0};
  int64_t tid = -1;
  if (rs_lrfind_get(st, name, cfg, o, res, found, &tid, &e)) return hps_fail(CMD, &e);
  if (*found)
    fprintf(stderr, "lr-find: %s holds this test already as '%s' (trial %lld): shown, not run again\n",
            rs_store_path(st), name, (long long)tid);
  return 0;
}

static int db_store(RsStore *st, const char *name, const TrConfig *cfg, const TrLrfindOptions *o,
                    const TrLrfindResult *res) {
  TrErr e = {0};
  int stored = 0;
  int64_t tid = -1;
  if (res->stop == TR_LRFIND_INTERRUPTED) {
    fprintf(stderr, "lr-find: interrupted: not stored in %s\n", rs_store_path(st));
    return 0;
  }
  if (rs_lrfind_put(st, name, cfg, o, res, &stored, &tid, &e)) return hps_fail(CMD, &e);
  fprintf(stderr, "lr-find: %s '%s' in %s (trial %lld; see 'hpsweep show %lld --db %s')\n",
          stored ? "stored as" : "already stored as", name, rs_store_path(st), (long long)tid, (long long)tid,
          rs_store_path(st));
  return 0;
}

/* Run the test (or take it from the database) and print it. */
static int lrfind_do(const TrConfig *cfg, TrLrfindOptions *o, const char *db, const char *name_opt, int json,
                     const char *plot) {
  RsStore *st = NULL;
  TrErr err = {0};
  TrLrfindResult res;
  int found = 0, rc = 0, have = 0;
  char name[RS_LRFIND_NAME_MAX];
  if (db) {
    if (rs_store_open(db, RS_OPEN_CREATE, &st, &err)) return hps_fail(CMD, &err);
    if (name_opt) snprintf(name, sizeof name, "%s", name_opt);
    else rs_lrfind_default_name(cfg, o, name, sizeof name);
    rc = db_lookup(st, name, cfg, o, &res, &found);
    have = found;
  }
  if (!rc && !found) {
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    if (tr_lrfind(cfg, o, &res, &err)) {
      hps_error(CMD, "%s", err.msg);
      rs_store_close(st);
      return 2;
    }
    have = 1;
    if (st) rc = db_store(st, name, cfg, o, &res);
  }
  if (!rc) rc = lrfind_output(&res, json, plot);
  if (rc == 0 && res.stop == TR_LRFIND_INTERRUPTED) rc = 130;
  if (have) tr_lrfind_result_free(&res);
  rs_store_close(st);
  return rc;
}

static int lrfind_main(int argc, char **argv) {
  hps_cpu_notice(); /* HPSWEEP_CPU ignored: say it once */
  const char *path = NULL, *start_s = NULL, *end_s = NULL, *plot = NULL, *db = NULL, *name = NULL;
  long steps = 100;
  int json = 0;
  HpsList sets = {tr_calloc((size_t)argc, sizeof *sets.v), 0};
  if (!sets.v) {
    hps_error(CMD, "out of memory");
    return 1;
  }
  const HpsOpt opts[] = {HPS_OPT_FLAG("--json", NULL, &json),          HPS_OPT_LIST("--set", NULL, &sets),
                         HPS_OPT_STRING("--start", NULL, &start_s),     HPS_OPT_STRING("--end", NULL, &end_s),
                         HPS_OPT_INT("--steps", NULL, &steps, 2, 100000), HPS_OPT_STRING("--plot", NULL, &plot),
                         HPS_OPT_STRING("--db", NULL, &db),             HPS_OPT_STRING("--name", NULL, &name),
                         HPS_OPT_END};
  TrLrfindOptions o = {1e-7, 10.0, 100, hps_lrfind_progress, NULL, &stop_flag};
  TrConfig cfg;
  int rc = hps_opts_parse(argc, argv, opts, &path, 1);
  if (rc || (rc = arg_double("--start", start_s, &o.start)) || (rc = arg_double("--end", end_s, &o.end))) goto done;
  if (!(o.end > o.start)) {
    rc = hps_error_usage(CMD, "--end (%g) must be above --start (%g)", o.end, o.start);
    goto done;
  }
  if (plot && !rs_plot_device_for(plot)) {
    rc = hps_error_usage(CMD, "--plot: '%s' must end in .svg, .png or .pdf", plot);
    goto done;
  }
  if (!db) db = hps_db_default(NULL); /* $HPSWEEP_DB, as for every command with --db */
  if (name && !db) {
    rc = hps_error_usage(CMD, "--name names the test in a database: give --db FILE too");
    goto done;
  }
  if (name && (!*name || strlen(name) >= RS_LRFIND_NAME_MAX)) {
    rc = hps_error_usage(CMD, "--name: expected 1 to %d characters", RS_LRFIND_NAME_MAX - 1);
    goto done;
  }
  if ((rc = hps_config_from_args(&cfg, path, sets.n, sets.v, CMD))) goto done;
  o.steps = (int)steps;
  rc = lrfind_do(&cfg, &o, db, name, json, plot);
done:
  free(sets.v);
  return rc;
}

const HpsCmd hps_cmd_lrfind = {
    "lr-find", lrfind_main, "the LR range test: loss against an exponential learning-rate ramp",
    "usage: hpsweep lr-find [CONFIG.yaml] [--set key=value ...] [--start LR] [--end LR]\n"
    "                       [--steps N] [--plot FILE] [--json] [--db FILE [--name NAME]]\n"
    "\n"
    "The learning-rate range test of fastai and PyTorch Lightning: the config's model,\n"
    "optimizer and batches, with the learning rate ramped exponentially from --start to\n"
    "--end over --steps optimizer steps (the ramp replaces optimizer.lr and the schedule).\n"
    "The loss is smoothed (debiased moving average, beta 0.98); the test stops when the\n"
    "smoothed loss exceeds 4x its minimum or is not finite. Prints the table, a curve, and\n"
    "three suggestions: steepest descent, the minimum's lr / 10, and fastai's valley.\n"
    "\n"
    "  CONFIG.yaml        training config (default: every key at its default)\n"
    "  --set key=value    override one key (repeatable)\n"
    "  --start LR         first learning rate (default 1e-7)\n"
    "  --end LR           last learning rate (default 10)\n"
    "  --steps N          optimizer steps of the ramp, 2 to 100000 (default 100)\n"
    "  --plot FILE        also draw the curve to FILE (.svg, .png or .pdf)\n"
    "  --json             print one JSON object (points, suggestions, stop) instead\n"
    "  --db FILE          also keep the test in this results database, as a run of its\n"
    "                     own kind (task lr_find): the same test there already is shown,\n"
    "                     not run again; a sweep's report on the same config shows it\n"
    "                     (default: $HPSWEEP_DB; without either, nothing is stored)\n"
    "  --name NAME        its name there (default lr-find- and the config hash)\n"
    "\n"
    "Progress goes to stderr. Exit status: 0 done (stopping on the 4x rule is the normal\n"
    "end), 2 bad input, 130 interrupted (an interrupted test is not stored). See\n"
    "docs/training.md.\n"};
