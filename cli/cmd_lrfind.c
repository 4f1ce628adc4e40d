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
#include "rs_plot.h"
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

/* Progress on stderr, about ten lines a test. */
static void on_point(void *ud, const TrLrfindPoint *p, int steps) {
  (void)ud;
  int every = steps >= 10 ? steps / 10 : 1;
  if (p->step % every == 0 || p->step == 1)
    fprintf(stderr, "lr-find: step %d/%d  lr %.3e  loss %.4f  smoothed %.4f\n", p->step, steps, p->lr, p->loss,
            p->smoothed);
}

static int arg_double(const char *opt, const char *s, double *out) {
  if (!s) return 0;
  if (tr_parse_double(s, out) != 0 || !isfinite(*out) || !(*out > 0))
    return hps_error_usage(CMD, "%s: expected a positive number, got '%s'", opt, s);
  return 0;
}

/* The point nearest (in log lr) to lr, or -1. */
static int nearest(const TrLrfindResult *r, double lr) {
  int best = -1;
  for (int i = 0; i < r->n; i++)
    if (isfinite(r->points[i].smoothed) &&
        (best < 0 || fabs(log(r->points[i].lr / lr)) < fabs(log(r->points[best].lr / lr))))
      best = i;
  return isfinite(lr) ? best : -1;
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
  int mark_idx[3] = {nearest(r, r->steepest.lr), nearest(r, r->min10.lr), nearest(r, r->valley.lr)};
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

static int add_series(RsPlot *p, const TrLrfindResult *r, const int *idx, int n, int smoothed, unsigned rgb,
                      int style) {
  double *x = malloc((size_t)(n ? n : 1) * sizeof *x), *y = malloc((size_t)(n ? n : 1) * sizeof *y);
  int k = 0;
  for (int i = 0; x && y && i < n; i++, k++) {
    const TrLrfindPoint *pt = &r->points[idx ? idx[i] : i];
    x[k] = pt->lr;
    y[k] = smoothed ? pt->smoothed : pt->loss;
  }
  int rc = x && y ? rs_plot_add(p, x, y, NULL, NULL, k, rgb, style) : -1;
  free(x);
  free(y);
  return rc;
}

/* The curve through PLplot (rs_plot_write: atomic, device from the extension). */
static int write_plot(const TrLrfindResult *r, const char *path, TrErr *err) {
  RsPlot p;
  rs_plot_init(&p);
  snprintf(p.title, sizeof p.title, "LR range test (%d steps, %s)", r->n, tr_lrfind_stop_name(r->stop));
  snprintf(p.xlabel, sizeof p.xlabel, "learning rate");
  snprintf(p.ylabel, sizeof p.ylabel, "training loss");
  p.logx = 1;
  int raw = add_series(&p, r, NULL, r->n, 0, 0xb0b0b0, RS_STYLE_POINTS);
  if (raw >= 0) p.s[raw].clip_range = 0; /* the exploding raw losses would flatten the curve */
  add_series(&p, r, NULL, r->n, 1, 0x1f77b4, RS_STYLE_LINE);
  rs_plot_legend_add(&p, "loss", 0xb0b0b0, RS_STYLE_POINTS);
  rs_plot_legend_add(&p, "smoothed", 0x1f77b4, RS_STYLE_LINE);
  const TrLrfindSuggestion *sg[3] = {&r->steepest, &r->min10, &r->valley};
  const char *names[3] = {"steepest", "min/10", "valley"};
  const unsigned rgb[3] = {0xd62728, 0x2ca02c, 0x9467bd};
  for (int k = 0; k < 3; k++) {
    int i = nearest(r, sg[k]->lr);
    if (i < 0) continue;
    add_series(&p, r, &i, 1, 1, rgb[k], RS_STYLE_POINTS);
    char text[64];
    snprintf(text, sizeof text, "%s %.2e", names[k], sg[k]->lr);
    rs_plot_legend_add(&p, text, rgb[k], RS_STYLE_POINTS);
  }
  int rc = p.oom ? tr_err_set(err, TR_ENOMEM, "out of memory") : rs_plot_write(&p, path, err);
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
  char *buf = malloc(n);
  if (!buf) {
    hps_error(CMD, "out of memory");
    return 1;
  }
  tr_lrfind_result_json(res, buf, n);
  printf("%s\n", buf);
  free(buf);
  return 0;
}

static int lrfind_main(int argc, char **argv) {
  const char *path = NULL, *start_s = NULL, *end_s = NULL, *plot = NULL;
  long steps = 100;
  int json = 0;
  HpsList sets = {calloc((size_t)argc, sizeof *sets.v), 0};
  if (!sets.v) {
    hps_error(CMD, "out of memory");
    return 1;
  }
  const HpsOpt opts[] = {HPS_OPT_FLAG("--json", NULL, &json),          HPS_OPT_LIST("--set", NULL, &sets),
                         HPS_OPT_STRING("--start", NULL, &start_s),     HPS_OPT_STRING("--end", NULL, &end_s),
                         HPS_OPT_INT("--steps", NULL, &steps, 2, 100000), HPS_OPT_STRING("--plot", NULL, &plot),
                         HPS_OPT_END};
  TrLrfindOptions o = {1e-7, 10.0, 100, on_point, NULL, &stop_flag};
  TrConfig cfg;
  TrErr err = {0};
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
  if ((rc = hps_config_from_args(&cfg, path, sets.n, sets.v, CMD))) goto done;
  o.steps = (int)steps;
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  TrLrfindResult res;
  if (tr_lrfind(&cfg, &o, &res, &err)) {
    hps_error(CMD, "%s", err.msg);
    rc = 2;
    goto done;
  }
  rc = lrfind_output(&res, json, plot);
  if (rc == 0 && res.stop == TR_LRFIND_INTERRUPTED) rc = 130;
  tr_lrfind_result_free(&res);
done:
  free(sets.v);
  return rc;
}

const HpsCmd hps_cmd_lrfind = {
    "lr-find", lrfind_main, "the LR range test: loss against an exponential learning-rate ramp",
    "usage: hpsweep lr-find [CONFIG.yaml] [--set key=value ...] [--start LR] [--end LR]\n"
    "                       [--steps N] [--plot FILE] [--json]\n"
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
    "\n"
    "Progress goes to stderr. Exit status: 0 done (stopping on the 4x rule is the normal\n"
    "end), 2 bad input, 130 interrupted. Not stored in a database yet. See docs/training.md.\n"};
