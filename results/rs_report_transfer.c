/* rs_report_transfer.c: the report's learning-rate transfer section (issue 14): does the
** best learning rate found at one width hold at the others? Per parametrization (and any
** other varied parameter), the metric against lr at each width (model.d_model), where each
** width's optimum lies (the best grid point and rs_study's fitted optimum), and whether it
** stayed within one grid point across widths or moved, phrased from the numbers. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rs_report_int.h"
#include "tr_alloc.h"

/* Index of the varying parameter `name` (numeric when asked), or -1. */
static int find_param(const RsTrialSet *ts, const char *name, int numeric) {
  for (int k = 0; k < ts->np; k++)
    if (ts->p[k].varies && (!numeric || ts->p[k].numeric) && !strcmp(ts->p[k].name, name)) return k;
  return -1;
}

/* Trials i and j hold the same value of every varying non-seed parameter but width and lr. */
static int same_group(const RsTrialSet *ts, int kd, int klr, int i, int j) {
  for (int k = 0; k < ts->np; k++)
    if (k != kd && k != klr && ts->p[k].varies && !ts->p[k].is_seed && ts->t[i].pv[k] != ts->t[j].pv[k]) return 0;
  return 1;
}

/* "parametrization=mup": the group's values of the other varying non-seed parameters. */
static void group_label(const RsTrialSet *ts, int kd, int klr, int i, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int k = 0; k < ts->np && len < n; k++)
    if (k != kd && k != klr && ts->p[k].varies && !ts->p[k].is_seed)
      len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", len ? ", " : "", ts->p[k].short_name,
                              ts->t[i].pv[k] >= 0 ? ts->p[k].values[ts->t[i].pv[k]] : "-");
}

/* One group: per width (the widths with a trial in it) the learning-rate study. */
typedef struct Xfer {
  int nw;
  double *width;  /* (nw) increasing */
  RsLrStudy *st;  /* (nw) */
  int *grid;      /* (nw) index of the best grid point among the lr values, -1 when none */
} Xfer;

static void xfer_free(Xfer *x) {
  for (int j = 0; x->st && j < x->nw; j++) rs_study_lr_deinit(&x->st[j]);
  free(x->width), free(x->st), free(x->grid);
}

static int xfer_build(RsRep *r, int kd, int klr, int head, RsLrPoint *pt, Xfer *x) {
  const RsTrialSet *ts = r->ts;
  int nv = ts->p[kd].n_values;
  x->nw = 0;
  x->width = tr_malloc(((size_t)nv + 1) * sizeof *x->width), x->grid = tr_malloc(((size_t)nv + 1) * sizeof *x->grid);
  x->st = tr_calloc((size_t)nv + 1, sizeof *x->st);
  if (!x->width || !x->grid || !x->st) return rs_rep_oom(r), 1;
  for (int v = 0; v < nv; v++) {
    int n = 0, any = 0;
    for (int i = 0; i < ts->n; i++)
      if (ts->t[i].pv[kd] == v && same_group(ts, kd, klr, i, head)) any = 1, n += rs_trials_lr_point(ts, klr, i, &pt[n]);
    if (!any) continue;
    RsLrStudy *s = &x->st[x->nw];
    if (rs_rep_lr_study(r, pt, n, s)) return 1;
    x->width[x->nw] = ts->p[kd].nums[v];
    x->grid[x->nw] = -1;
    for (int l = 0; s->best >= 0 && l < ts->p[klr].n_values; l++)
      if (ts->p[klr].nums[l] == s->level[s->best].lr) x->grid[x->nw] = l;
    x->nw++;
  }
  return 0;
}

/* "2e-3 at 64, 1e-3 at 128 and 5e-4 at 256": the best grid point (or the fit) per width. */
static void per_width(const Xfer *x, int fitted, char *buf, size_t n) {
  size_t len = 0;
  int k = 0, m = 0;
  buf[0] = '\0';
  for (int j = 0; j < x->nw; j++) m += fitted ? isfinite(x->st[j].lr_opt) : x->grid[j] >= 0;
  for (int j = 0; j < x->nw && len < n; j++) {
    if (fitted ? !isfinite(x->st[j].lr_opt) : x->grid[j] < 0) continue;
    char a[40];
    rs_study_fmt_lr(a, sizeof a, fitted ? x->st[j].lr_opt : x->st[j].level[x->st[j].best].lr);
    len += (size_t)snprintf(buf + len, n - len, "%s%s at %g", k == 0 ? "" : k == m - 1 ? " and " : ", ", a,
                            x->width[j]);
    k++;
  }
}

/* Where the best grid point lies across widths: the same, within one, or moved. */
static void verdict_grid(const Xfer *x, char *buf, size_t n) {
  int lo = -1, hi = -1, first = -1, last = -1, up = 0, down = 0, m = 0;
  for (int j = 0; j < x->nw; j++) {
    int g = x->grid[j];
    if (g < 0) continue;
    if (last >= 0) up += g > last, down += g < last;
    if (first < 0) first = g;
    lo = lo < 0 || g < lo ? g : lo, hi = g > hi ? g : hi, last = g, m++;
  }
  char list[512];
  per_width(x, 0, list, sizeof list);
  if (m == 0) {
    snprintf(buf, n, "No width has a best learning rate (every run diverged or none finished), so there is no "
             "optimum to follow across widths.");
  } else if (m == 1) {
    snprintf(buf, n, "Only one width has a best learning rate (%s), so there is nothing to compare it with.", list);
  } else if (hi == lo) {
    snprintf(buf, n, "The best grid point is the same at every width (%s): the optimum stayed on one grid point.",
             list);
  } else if (hi - lo == 1) {
    snprintf(buf, n, "The best grid point stayed within one grid point across widths (%s).", list);
  } else {
    snprintf(buf, n, "The best grid point moved by %d grid points across widths, %s (%s).", hi - lo,
             !up ? "down as the width grew" : !down ? "up as the width grew" : "not steadily with the width", list);
  }
}

/* The widths whose best point is the smallest or largest lr with a result there (a grid cut
** short, or not yet run): their optimum may lie beyond it, so a move there is a bound. */
static void verdict_edges(const Xfer *x, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int j = 0; j < x->nw && len < n; j++) {
    const RsLrStudy *s = &x->st[j];
    if (s->best < 0 || !s->at_edge) continue;
    len += (size_t)snprintf(buf + len, n - len, "%sAt width %g the best is the %s learning rate with a result: its "
                            "optimum may be %s, so the comparison there is a bound.", len ? " " : "", x->width[j],
                            s->at_edge < 0 ? "smallest" : "largest", s->at_edge < 0 ? "lower" : "higher");
  }
}

/* An exponent to print with 2 decimals: no "-0.00". */
static double exp2dp(double a) { return fabs(a) < 0.005 ? 0.0 : a; }

/* The fitted optima and their trend in the width, with a 95% CI from three widths on. */
static void verdict_fit(const Xfer *x, char *buf, size_t n) {
  double *w = tr_malloc(((size_t)x->nw + 1) * sizeof *w), *o = tr_malloc(((size_t)x->nw + 1) * sizeof *o);
  int m = 0;
  buf[0] = '\0';
  if (!w || !o) {
    free(w), free(o);
    return;
  }
  for (int j = 0; j < x->nw; j++)
    if (isfinite(x->st[j].lr_opt)) w[m] = x->width[j], o[m++] = x->st[j].lr_opt;
  RsLrExponent e;
  TrErr err = {0};
  if (m >= 2 && rs_study_lr_exponent(w, o, m, &e, &err) == TR_OK && e.status == RS_STUDY_OK) {
    char list[512], ci[96];
    per_width(x, 1, list, sizeof list);
    if (isfinite(e.alpha_lo)) snprintf(ci, sizeof ci, " (95%% CI %.2f to %.2f)", exp2dp(e.alpha_lo), exp2dp(e.alpha_hi));
    else snprintf(ci, sizeof ci, " (no CI from 2 widths)");
    snprintf(buf, n, "The fitted optimum is %s: it scales as width^%.2f%s; the widest width's optimum is %.2g times "
             "the narrowest's.", list, exp2dp(e.alpha), ci, o[m - 1] / o[0]);
  }
  free(w), free(o);
}

/* The figure: one line per width (seed means), each width's fitted optimum with its CI. */
static int xfer_plot(const RsRep *r, const Xfer *x, const char *title, RsPlot *out, TrErr *err) {
  const RsTrialSet *ts = r->ts;
  rs_plot_init(out);
  snprintf(out->title, sizeof out->title, "%s", title);
  snprintf(out->xlabel, sizeof out->xlabel, "optimizer.lr");
  snprintf(out->ylabel, sizeof out->ylabel, "%s", ts->metric);
  snprintf(out->legend_title, sizeof out->legend_title, "d_model");
  out->logx = 1;
  int lines = 0;
  for (int j = 0; j < x->nw; j++) {
    const RsLrStudy *s = &x->st[j];
    double *lx = tr_malloc(((size_t)s->nlevel + 1) * sizeof *lx), *ly = tr_malloc(((size_t)s->nlevel + 1) * sizeof *ly);
    int m = 0;
    if (!lx || !ly) out->oom = 1;
    for (int l = 0; lx && ly && l < s->nlevel; l++)
      if (s->level[l].n > 0) lx[m] = s->level[l].lr, ly[m++] = s->level[l].mean;
    unsigned rgb = rs_plot_color(j, x->nw);
    if (m) {
      char name[48];
      snprintf(name, sizeof name, "%g", x->width[j]);
      rs_plot_add(out, lx, ly, NULL, NULL, m, rgb, RS_STYLE_LINEPOINTS);
      rs_plot_legend_add(out, name, rgb, RS_STYLE_LINEPOINTS);
      lines++;
    }
    free(lx), free(ly);
    if (!m || !isfinite(s->lr_opt) || !isfinite(s->value_opt)) continue;
    int k = rs_plot_add(out, &s->lr_opt, &s->value_opt, NULL, NULL, 1, rgb, RS_STYLE_POINTS);
    if (k < 0) continue;
    out->s[k].marker_size = 1.6;
    if (isfinite(s->lr_lo) && isfinite(s->lr_hi)) {
      out->s[k].xlo = tr_malloc(sizeof(double)), out->s[k].xhi = tr_malloc(sizeof(double));
      if (!out->s[k].xlo || !out->s[k].xhi) out->oom = 1;
      else out->s[k].xlo[0] = s->lr_lo, out->s[k].xhi[0] = s->lr_hi;
    }
  }
  if (out->oom || !lines) {
    int oom = out->oom;
    rs_plot_deinit(out);
    return oom ? tr_err_set(err, TR_ENOMEM, "figure: out of memory")
               : tr_err_set(err, TR_ENOTFOUND, "no width has a learning rate with a finished seed");
  }
  return TR_OK;
}

/* Table: per width its best grid point, the fitted optimum with its CI, and any caveat. */
static void xfer_table(RsRep *r, const Xfer *x, int gno) {
  FILE *f = r->f;
  fprintf(f, "<table id=\"lr-transfer-table-%d\">\n<caption><b>Table %d.</b> Per width: the best grid learning "
          "rate and its mean <code>", gno, ++r->tab);
  rs_rep_esc(f, r->ts->metric);
  fputs("</code> over seeds, the fitted optimum lr* with its 95% bootstrap CI, and what limits the answer."
        "</caption>\n<thead><tr><th class=\"num\">d_model</th><th class=\"num\">best lr</th><th class=\"num\">mean"
        "</th><th class=\"num\">lr*</th><th class=\"num\">95% CI</th><th>note</th></tr></thead>\n<tbody>\n", f);
  for (int j = 0; j < x->nw; j++) {
    const RsLrStudy *s = &x->st[j];
    char g[40] = "-", v[32] = "-", o[40] = "-", lo[40], hi[40], ci[96] = "-";
    if (s->best >= 0) rs_study_fmt_lr(g, sizeof g, s->level[s->best].lr), rs_fmt_metric(v, sizeof v, s->level[s->best].mean);
    if (isfinite(s->lr_opt)) rs_study_fmt_lr(o, sizeof o, s->lr_opt);
    if (isfinite(s->lr_lo) && isfinite(s->lr_hi))
      snprintf(ci, sizeof ci, "%s to %s", rs_study_fmt_lr(lo, sizeof lo, s->lr_lo), rs_study_fmt_lr(hi, sizeof hi, s->lr_hi));
    const char *note = s->best < 0 ? s->reason
                       : s->at_edge < 0 ? "the smallest lr of the grid: the optimum may be lower"
                       : s->at_edge > 0 ? "the largest lr of the grid: the optimum may be higher"
                       : s->at_stability ? "next to a learning rate that diverged"
                       : s->status == RS_STUDY_FEW_LRS ? s->reason : "";
    fprintf(f, "<tr><td class=\"num\">%g</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s"
            "</td><td class=\"num\">%s</td><td>", x->width[j], g, v, o, ci);
    rs_rep_esc(f, note);
    fputs("</td></tr>\n", f);
  }
  fputs("</tbody>\n</table>\n", f);
}

static void xfer_group(RsRep *r, int kd, int klr, int head, RsLrPoint *pt, const char *label, int gno) {
  Xfer x = {0};
  if (xfer_build(r, kd, klr, head, pt, &x)) {
    xfer_free(&x);
    return;
  }
  char grid[1400], edges[500], fit[900], cap[3000];
  verdict_grid(&x, grid, sizeof grid);
  verdict_edges(&x, edges, sizeof edges);
  if (edges[0]) snprintf(grid + strlen(grid), sizeof grid - strlen(grid), " %s", edges);
  verdict_fit(&x, fit, sizeof fit);
  RsPlot pl;
  TrErr e = {0};
  int rc = xfer_plot(r, &x, label, &pl, &e);
  if (rc == TR_ENOTFOUND) { /* nothing finished: the sentence, never an empty figure */
    rs_rep_para(r, grid);
  } else {
    snprintf(cap, sizeof cap, "%s%s%s against optimizer.lr (log x), one line per width (model.d_model, the mean "
             "over seeds at each lr); the large dot on each line is that width's fitted optimum with its 95%% "
             "bootstrap CI. %s%s%s", label, label[0] ? ": " : "", r->ts->metric, grid, fit[0] ? " " : "", fit);
    rs_rep_figure(r, &pl, rc, &e, cap);
    if (rc == TR_OK) rs_plot_deinit(&pl);
  }
  xfer_table(r, &x, gno);
  xfer_free(&x);
}

int rs_report_transfer(RsRep *r, int secno) {
  const RsTrialSet *ts = r->ts;
  int kd = find_param(ts, "model.d_model", 1), klr = find_param(ts, "optimizer.lr", 1);
  if (kd < 0 || klr < 0) return 0;
  fprintf(r->f, "<h2 id=\"lr-transfer\">%d. Learning-rate transfer across widths</h2>\n<p>Does the best learning "
          "rate of one width hold at the others? Per width (<code>model.d_model</code>) the mean <code>", secno);
  rs_rep_esc(r->f, ts->metric);
  fputs("</code> over seeds against the learning rate, its best grid point and the optimum fitted as in the "
        "learning-rate study (the vertex of the parabola in log lr through the best grid point and its "
        "neighbours, with a 95% bootstrap CI over seeds). Under the maximal update parametrization "
        "(<code>model.parametrization: mup</code>) the optimum is meant to stay on the same grid point, plus or "
        "minus one; under the standard parametrization it tends to move down as the model widens.</p>\n", r->f);
  RsLrPoint *pt = tr_malloc(((size_t)ts->n + 1) * sizeof *pt);
  int *head = tr_malloc(((size_t)ts->n + 1) * sizeof *head), nh = 0;
  if (!pt || !head) {
    free(pt), free(head);
    rs_rep_oom(r);
    return 1;
  }
  for (int i = 0; i < ts->n; i++) {
    int g = 0;
    while (g < nh && !same_group(ts, kd, klr, i, head[g])) g++;
    if (g == nh) head[nh++] = i;
  }
  for (int g = 0; g < nh; g++) {
    char label[512] = "";
    group_label(ts, kd, klr, head[g], label, sizeof label);
    if (nh > 1) {
      fprintf(r->f, "<h3 id=\"lr-transfer-%d\">%d.%d ", g + 1, secno, g + 1);
      rs_rep_esc(r->f, label);
      fputs("</h3>\n", r->f);
    }
    xfer_group(r, kd, klr, head[g], pt, label, g + 1);
  }
  free(pt), free(head);
  return 1;
}
