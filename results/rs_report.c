/* rs_report.c: the HTML report, a short paper's results section. */
#include "rs_report.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rs_lrfind.h"
#include "rs_plot.h"
#include "rs_report_lrfind.h"
#include "rs_report_int.h"
#include "rs_stats.h"
#include "rs_study.h"
#include "tr_alloc.h"
#include "tr_atomic.h"
#include "tr_optim.h"
#include "tr_sort.h"
#include "tr_yaml.h"

static int failed_status(RsStatus s) { return s == RS_FAILED || s == RS_DIVERGED; }

typedef RsRep Rep; /* rs_report_int.h */

/* A section without data says so; a read error must not pass for "no data": keep it
** (the report then fails with it). Returns 1 for such an error. */
static int store_error(Rep *r, int rc, const TrErr *e) {
  if (rc != TR_EDB && rc != TR_EIO && rc != TR_ENOMEM) return 0;
  if (!r->store_err.code) r->store_err = *e;
  return 1;
}

/* Out of memory in a section: kept like a read error (the report fails with it). */
static void rep_oom(Rep *r) {
  TrErr e = {0};
  tr_err_set(&e, TR_ENOMEM, "report: out of memory");
  store_error(r, TR_ENOMEM, &e);
}

/* Does the sweep have rows of this metric? (A read error is kept and counts as no.) */
static int has_metric(Rep *r, const char *metric) {
  TrErr e = {0};
  int rc = rs_metric_check(r->st, r->ts->sweep.id, metric);
  if (rc) tr_err_set(&e, rc, "%s", rs_store_errmsg(r->st));
  store_error(r, rc, &e);
  return rc == TR_OK;
}

/* Text as HTML (also inside inline SVG): the markup characters as references (the report's
** attributes are all double-quoted, so an apostrophe is text), and the control bytes HTML
** forbids (all but tab, newline, carriage return) as U+FFFD. */
static void esc(FILE *f, const char *s) {
  for (; s && *s; s++) {
    unsigned char c = (unsigned char)*s;
    switch (c) {
      case '<': fputs("&lt;", f); break;
      case '>': fputs("&gt;", f); break;
      case '&': fputs("&amp;", f); break;
      case '"': fputs("&quot;", f); break;
      default:
        if ((c < 0x20 && c != '\t' && c != '\n' && c != '\r') || c == 0x7f) fputs("&#xFFFD;", f);
        else fputc(c, f);
    }
  }
}

/* An id-safe slug of a parameter name. */
static void slug(char *buf, size_t n, const char *s) {
  size_t j = 0;
  for (; *s && j + 1 < n; s++) buf[j++] = (char)((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ? *s : '-');
  buf[j] = '\0';
}

/* PLplot's SVG without its XML prolog, scaled to the column width. */
static void embed_svg(FILE *f, const char *svg) {
  const char *root = strstr(svg, "<svg");
  if (!root) return;
  const char *close = strchr(root, '>');
  if (!close) return;
  fputs("<svg role=\"img\" class=\"fig\"", f);
  /* Copy the root's attributes except width/height (the viewBox keeps the aspect). */
  const char *p = root + 4;
  while (p < close) {
    while (p < close && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r')) p++;
    const char *a = p;
    while (p < close && *p != '=' && *p != ' ' && *p != '\n') p++;
    if (p < close && *p == '=') {
      p++;
      if (*p == '"') {
        p++;
        while (p < close && *p != '"') p++;
        p++;
      }
    }
    size_t len = (size_t)(p - a);
    if (len == 0) break;
    if (strncmp(a, "width=", 6) == 0 || strncmp(a, "height=", 7) == 0) continue;
    fputc(' ', f);
    fwrite(a, 1, len, f);
  }
  fputs(close, f);
}

void rs_report_html_escape(FILE *f, const char *s) { esc(f, s); }
void rs_report_svg_embed(FILE *f, const char *svg) { embed_svg(f, svg); }

static void figure(Rep *r, RsPlot *p, int rc, const TrErr *perr, const char *caption) {
  if (store_error(r, rc, perr)) return;
  if (rc != TR_OK) {
    fprintf(r->f, "<p class=\"note\">No figure: ");
    esc(r->f, perr->msg);
    fprintf(r->f, ".</p>\n");
    return;
  }
  char *svg = NULL;
  TrErr e = {0};
  if (rs_plot_svg(p, &svg, &e) != TR_OK) {
    fprintf(r->f, "<p class=\"note\">No figure: ");
    esc(r->f, e.msg);
    fprintf(r->f, ".</p>\n");
    return;
  }
  fprintf(r->f, "<figure>\n");
  embed_svg(r->f, svg);
  fprintf(r->f, "<figcaption><b>Figure %d.</b> ", ++r->fig);
  esc(r->f, caption);
  fprintf(r->f, "</figcaption>\n</figure>\n");
  free(svg);
}

static void params_text(FILE *f, const RsTrialSet *ts, const RsTrialRow *t, int html) {
  int first = 1;
  for (int k = 0; k < ts->np; k++) {
    if (!ts->p[k].varies) continue;
    const char *v = t->pv[k] >= 0 ? ts->p[k].values[t->pv[k]] : "-";
    if (html) {
      fprintf(f, "%s", first ? "" : ", ");
      esc(f, ts->p[k].short_name);
      fputc('=', f);
      esc(f, v);
    }
    first = 0;
  }
  if (first && html) fputs("&mdash;", f);
}

static const char *css =
    "body{font-family:'Charter','Georgia','Times New Roman',serif;color:#222;background:#fff;"
    "max-width:880px;margin:2.5em auto;padding:0 1.5em;line-height:1.5;font-size:17px}"
    "h1{font-size:1.9em;margin:0 0 .2em;font-weight:600}"
    "h2{font-size:1.3em;margin:2em 0 .6em;border-bottom:1px solid #ddd;padding-bottom:.2em;font-weight:600}"
    ".meta{color:#666;font-size:.92em;margin-bottom:1.5em}"
    ".abstract{background:#f7f7f5;border-left:3px solid #888;padding:.7em 1em;margin:1.2em 0}"
    "table{border-collapse:collapse;margin:1em auto;font-size:.85em;"
    "font-family:'Helvetica Neue',Arial,sans-serif;font-variant-numeric:tabular-nums}"
    "caption{caption-side:top;text-align:left;font-size:.95em;padding-bottom:.4em;"
    "font-family:'Charter','Georgia',serif}"
    "thead th{border-top:2px solid #222;border-bottom:1px solid #222;padding:.3em .6em;text-align:left}"
    "tbody td{padding:.22em .6em;border-bottom:1px solid #eee;vertical-align:top}"
    "tbody tr:last-child td{border-bottom:2px solid #222}"
    "td.num,th.num{text-align:right}"
    "tr.best td{background:#eef6ee}"
    ".st-failed,.st-diverged{color:#b22}.st-running{color:#a60}.st-pending{color:#888}"
    "figure{margin:1.5em 0;text-align:center}"
    "svg.fig{width:100%;height:auto;max-width:800px}"
    "figcaption{font-size:.92em;color:#333;text-align:left;margin-top:.3em}"
    "pre{background:#f7f7f5;padding:.8em 1em;overflow-x:auto;font-size:.82em;line-height:1.35}"
    "pre.err{white-space:pre-wrap;max-height:14em;overflow:auto;margin:.2em 0}"
    ".bar{display:inline-block;height:.8em;background:#4a7fb0;vertical-align:middle}"
    ".note{color:#666;font-style:italic}"
    "code{font-size:.9em}";

static void section_setup(Rep *r) {
  const RsSweep *s = &r->ts->sweep;
  fprintf(r->f, "<h2 id=\"setup\">1. Setup</h2>\n<p>The sweep <code>");
  esc(r->f, s->name);
  fprintf(r->f, "</code> ran a <b>");
  esc(r->f, s->method); /* the database's text: any program may have written it */
  fprintf(r->f, "</b> search over %lld trials, ", (long long)s->n_trials);
  fprintf(r->f, "ranked by <code>");
  esc(r->f, s->metric);
  fprintf(r->f, "</code> (%s). Varied parameters: ", s->maximize ? "higher is better" : "lower is better");
  int any = 0;
  for (int k = 0; k < r->ts->np; k++) {
    const RsParam *p = &r->ts->p[k];
    if (!p->varies) continue;
    fprintf(r->f, "%s<code>", any ? "; " : "");
    esc(r->f, p->name);
    fprintf(r->f, "</code> &isin; {");
    for (int v = 0; v < p->n_values; v++) {
      if (v) fputs(", ", r->f);
      if (v == 8 && p->n_values > 10) {
        fprintf(r->f, "&hellip; %d values", p->n_values);
        break;
      }
      esc(r->f, p->values[v]);
    }
    fputs("}", r->f);
    any = 1;
  }
  if (!any) fputs("none", r->f);
  fprintf(r->f, ". The spec as given:</p>\n<pre>");
  esc(r->f, s->spec);
  fprintf(r->f, "</pre>\n");
}

static void section_leaderboard(Rep *r, const int *order) {
  const RsTrialSet *ts = r->ts;
  int shown = ts->n < RS_REPORT_TOP ? ts->n : RS_REPORT_TOP;
  fprintf(r->f, "<h2 id=\"leaderboard\">2. Leaderboard</h2>\n<table>\n<caption><b>Table %d.</b> ", ++r->tab);
  if (shown < ts->n) fprintf(r->f, "The best %d of %d trials", shown, ts->n);
  else fputs("Every trial", r->f);
  fputs(", best first by its best <code>", r->f);
  esc(r->f, ts->metric);
  fprintf(r->f, "</code> during the run (%s); failed and diverged trials last. Final is the value at the "
                "end of the run.</caption>\n<thead><tr><th class=\"num\">#</th><th class=\"num\">trial</th>",
          ts->maximize ? "max" : "min");
  for (int k = 0; k < ts->np; k++)
    if (ts->p[k].varies) {
      fputs("<th>", r->f);
      esc(r->f, ts->p[k].short_name);
      fputs("</th>", r->f);
    }
  fputs("<th class=\"num\">best</th><th class=\"num\">final</th><th class=\"num\">at step</th>"
        "<th class=\"num\">tokens</th><th class=\"num\">time</th><th>status</th></tr></thead>\n<tbody>\n",
        r->f);
  for (int i = 0; i < shown; i++) {
    const RsTrialRow *t = &ts->t[order[i]];
    char b[32], fi[32], tok[32], w[32];
    rs_fmt_metric(b, sizeof b, t->best), rs_fmt_metric(fi, sizeof fi, t->final);
    rs_fmt_count(tok, sizeof tok, (double)t->tokens), rs_fmt_duration(w, sizeof w, t->wall);
    fprintf(r->f, "<tr%s><td class=\"num\">%d</td><td class=\"num\">%lld</td>", i == 0 && !isnan(t->best) ? " class=\"best\"" : "",
            i + 1, (long long)t->id);
    for (int k = 0; k < ts->np; k++)
      if (ts->p[k].varies) {
        fputs("<td>", r->f);
        esc(r->f, t->pv[k] >= 0 ? ts->p[k].values[t->pv[k]] : "-");
        fputs("</td>", r->f);
      }
    fprintf(r->f, "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">", b, fi);
    if (t->best_step >= 0) fprintf(r->f, "%lld", (long long)t->best_step);
    else fputs("-", r->f);
    fprintf(r->f, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"st-%s\">%s</td></tr>\n",
            tok, w, rs_status_name(t->status), rs_status_name(t->status));
  }
  fputs("</tbody>\n</table>\n", r->f);
  if (shown < ts->n) {
    fprintf(r->f, "<p class=\"more\">... and %d more trials (all in <code>hpsweep export ", ts->n - shown);
    esc(r->f, ts->sweep.name);
    fputs("</code>).</p>\n", r->f);
  }
}

static void section_importance(Rep *r, int *top_param) {
  const RsTrialSet *ts = r->ts;
  fprintf(r->f, "<h2 id=\"importance\">3. How much each parameter mattered</h2>\n");
  fprintf(r->f, "<table>\n<caption><b>Table %d.</b> Share of the variance of the best <code>", ++r->tab);
  esc(r->f, ts->metric);
  fprintf(r->f, "</code> over completed trials explained by each parameter alone: the between-group "
                "sum of squares over the total (one-way, grouping trials by that parameter's value). "
                "A seed's share is pure noise: a parameter that explains no more than the seed did "
                "not matter.</caption>\n<thead><tr><th>parameter</th><th class=\"num\">values</th>"
                "<th class=\"num\">explained</th><th></th></tr></thead>\n<tbody>\n");
  double best = -1;
  *top_param = -1;
  int rows = 0;
  for (int k = 0; k < ts->np; k++) {
    if (!ts->p[k].varies) continue;
    double v = rs_param_var_explained(ts, k);
    if (!ts->p[k].is_seed && !isnan(v) && v > best) best = v, *top_param = k;
    fputs("<tr><td><code>", r->f);
    esc(r->f, ts->p[k].name);
    fprintf(r->f, "</code>%s</td><td class=\"num\">%d</td>", ts->p[k].is_seed ? " (seed)" : "", ts->p[k].n_values);
    if (isnan(v)) fputs("<td class=\"num\">-</td><td></td></tr>\n", r->f);
    else fprintf(r->f, "<td class=\"num\">%.1f%%</td><td><span class=\"bar\" style=\"width:%.0fpx\"></span></td></tr>\n",
                 100 * v, 160 * v);
    rows++;
  }
  if (!rows) fputs("<tr><td colspan=\"4\">No parameter varies in this sweep.</td></tr>\n", r->f);
  fputs("</tbody>\n</table>\n", r->f);
  if (*top_param < 0)
    for (int k = 0; k < ts->np; k++)
      if (ts->p[k].varies && !ts->p[k].is_seed) { *top_param = k; break; }
}

/* Table n: the groups of each context, best first. */
static void compare_table(Rep *r, const RsParam *p, const RsCompare *c) {
  const RsTrialSet *ts = r->ts;
  int other = c->nctx > 1 || c->ctx[0].label[0];
  fprintf(r->f, "<table>\n<caption><b>Table %d.</b> Best <code>", ++r->tab);
  esc(r->f, ts->metric);
  fprintf(r->f, "</code> by <code>");
  esc(r->f, p->name);
  fprintf(r->f, "</code>: n completed trials (others in brackets), mean, sample standard deviation, "
                "95%% CI of the mean and the best single trial.</caption>\n<thead><tr>%s<th>value</th>"
                "<th class=\"num\">n</th><th class=\"num\">mean</th><th class=\"num\">std</th>"
                "<th class=\"num\">95%% CI</th><th class=\"num\">best</th></tr></thead>\n<tbody>\n",
          other ? "<th>other parameters</th>" : "");
  for (int x = 0; x < c->nctx; x++) {
    for (int g = 0; g < c->ctx[x].ng; g++) {
      const RsGroup *gr = &c->ctx[x].g[g];
      char m[32], sd[32], lo[32], hi[32], b[32];
      rs_fmt_metric(m, sizeof m, gr->mean), rs_fmt_metric(sd, sizeof sd, gr->std);
      rs_fmt_metric(lo, sizeof lo, gr->ci_lo), rs_fmt_metric(hi, sizeof hi, gr->ci_hi);
      rs_fmt_metric(b, sizeof b, gr->best);
      fprintf(r->f, "<tr%s>", g == 0 && gr->n ? " class=\"best\"" : "");
      if (other) {
        fputs("<td>", r->f);
        if (g == 0) esc(r->f, c->ctx[x].label);
        fputs("</td>", r->f);
      }
      fputs("<td>", r->f);
      esc(r->f, gr->label);
      fprintf(r->f, "</td><td class=\"num\">%d", gr->n);
      if (gr->n_other) fprintf(r->f, " (%d)", gr->n_other);
      fprintf(r->f, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">", m, sd);
      if (isnan(gr->ci_lo)) fputs("-", r->f);
      else fprintf(r->f, "[%s, %s]", lo, hi);
      fprintf(r->f, "</td><td class=\"num\">%s</td></tr>\n", b);
    }
  }
  fputs("</tbody>\n</table>\n", r->f);
}

/* Who wins in each context, and whether by more than the seed noise. */
static void compare_verdicts(Rep *r, const RsCompare *c) {
  fputs("<p>", r->f);
  for (int x = 0; x < c->nctx; x++) {
    const RsContext *cx = &c->ctx[x];
    if (cx->ng == 0 || cx->g[0].n == 0) continue;
    if (cx->label[0]) {
      fputs("With ", r->f);
      esc(r->f, cx->label);
      fputs(": ", r->f);
    }
    fputs("<b>", r->f);
    esc(r->f, cx->g[0].label);
    fputs("</b> wins", r->f);
    if (cx->ng > 1 && cx->g[1].n > 0) {
      fputs(" over ", r->f);
      esc(r->f, cx->g[1].label);
      if (isnan(cx->p_welch))
        fputs(" (too few seeds to compare with the noise)", r->f);
      else
        fprintf(r->f, " (Welch p = %.3g: %s)", cx->p_welch,
                cx->decided ? "larger than the seed noise" : "within the seed noise");
    }
    fputs(". ", r->f);
  }
  fputs("</p>\n", r->f);
}

static void section_compare(Rep *r, int secno) {
  const RsTrialSet *ts = r->ts;
  int sub = 0;
  fprintf(r->f, "<h2 id=\"compare\">%d. Comparisons over seeds</h2>\n", secno);
  fprintf(r->f, "<p>For each varied parameter, trials are grouped by its value with the other varied "
                "parameters held equal, so seeds are the only difference within a group. Rule: the "
                "best mean wins, and the win is <i>larger than the seed noise</i> when Welch's t-test "
                "against the runner-up gives p &lt; 0.05 (with at least two seeds per group).</p>\n");
  for (int k = 0; k < ts->np; k++) {
    const RsParam *p = &ts->p[k];
    if (!p->varies || p->is_seed) continue;
    char sl[128];
    slug(sl, sizeof sl, p->name);
    fprintf(r->f, "<h3 id=\"compare-%s\">%d.%d <code>", sl, secno, ++sub);
    esc(r->f, p->name);
    fputs("</code></h3>\n", r->f);
    RsPlot pl;
    TrErr e = {0};
    int rc = rs_plot_param(ts, k, &pl, &e);
    char cap[512];
    snprintf(cap, sizeof cap, "Best %s against %s: mean over seeds with its 95%% confidence interval "
             "(Student t)%s%s.", ts->metric, p->name, p->log_spaced ? ", log x axis" : "",
             pl.nlegend ? ", one line per combination of the other parameters" : "");
    figure(r, &pl, rc, &e, cap);
    if (rc == TR_OK) rs_plot_deinit(&pl);
    int by[1] = {k};
    RsCompare c;
    if ((rc = rs_compare_build(ts, by, 1, &c, &e)) != TR_OK) {
      store_error(r, rc, &e);
      continue;
    }
    compare_table(r, p, &c);
    compare_verdicts(r, &c);
    rs_compare_deinit(&c);
  }
  if (sub == 0) fputs("<p class=\"note\">No parameter other than the seed varies.</p>\n", r->f);
}

static void curves(Rep *r, const char *metric, int color_by, int logy, const char *caption) {
  RsCurveOpts o = {metric, RS_X_STEP, color_by, logy};
  RsPlot pl;
  TrErr e = {0};
  int rc = rs_plot_curves(r->st, r->ts, &o, &pl, &e);
  figure(r, &pl, rc, &e, caption);
  if (rc == TR_OK) rs_plot_deinit(&pl);
}

/* ---- learning-rate and batch-size studies (rs_study.h) --------------------- */

/* Index of the varying numeric parameter `name`, or -1. */
static int study_param(const RsTrialSet *ts, const char *name) {
  for (int k = 0; k < ts->np; k++)
    if (ts->p[k].varies && ts->p[k].numeric && !strcmp(ts->p[k].name, name)) return k;
  return -1;
}

static int lr_run(Rep *r, const RsLrPoint *pt, int n, RsLrStudy *s) {
  RsLrOptions o = {.maximize = r->ts->maximize, .boot_seed = (uint64_t)r->ts->sweep.seed};
  TrErr e = {0};
  int rc = rs_study_lr(pt, n, &o, s, &e);
  if (rc) store_error(r, rc == TR_ENOMEM ? rc : TR_EIO, &e);
  return rc;
}

static void para(Rep *r, const char *text) {
  fputs("<p>", r->f);
  esc(r->f, text);
  fputs("</p>\n", r->f);
}

/* One group of the learning-rate study: figure and the three captions. */
static void lr_group(Rep *r, int klr, int head, RsLrPoint *pt, const char *label) {
  const RsTrialSet *ts = r->ts;
  int n = 0;
  for (int i = 0; i < ts->n; i++)
    if (rs_trials_same_context(ts, klr, i, head)) n += rs_trials_lr_point(ts, klr, i, &pt[n]);
  RsLrStudy s;
  if (lr_run(r, pt, n, &s)) return;
  char c1[512], c2[512], c3[512], cap[1800];
  rs_study_lr_caption(&s, c1, sizeof c1);
  rs_study_stability_caption(&s, c2, sizeof c2);
  int finished = 0;
  for (int j = 0; j < s.nlevel; j++) finished += s.level[j].n > 0;
  if (finished) {
    rs_study_basin_caption(&s, c3, sizeof c3);
    snprintf(cap, sizeof cap, "%s%s%s against optimizer.lr (log x): grey dots the seeds, the blue line their "
             "mean with its 95%% t-interval, red the optimum with its 95%% bootstrap CI. %s %s %s", label,
             label[0] ? ": " : "", ts->metric, c1, c2, c3);
    RsPlot pl;
    TrErr e = {0};
    int rc = rs_plot_lr_study(&s, pt, n, ts->metric, label, &pl, &e);
    figure(r, &pl, rc, &e, cap);
    if (rc == TR_OK) rs_plot_deinit(&pl);
  } else { /* nothing finished: the reason (and where runs diverged), no figure */
    para(r, c1);
    if (s.nlevel) para(r, c2);
  }
  rs_study_lr_deinit(&s);
}

/* "wd=0.1, bs=32": the values of the varying non-seed parameters but k of trial i. */
static void context_label(const RsTrialSet *ts, int k, int i, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int q = 0; q < ts->np && len < n; q++)
    if (q != k && ts->p[q].varies && !ts->p[q].is_seed)
      len += (size_t)snprintf(buf + len, n - len, "%s%s=%s", len ? ", " : "", ts->p[q].short_name,
                              ts->t[i].pv[q] >= 0 ? ts->p[q].values[ts->t[i].pv[q]] : "-");
}

static void section_lr_study(Rep *r, int secno, int klr) {
  const RsTrialSet *ts = r->ts;
  fprintf(r->f, "<h2 id=\"lr-study\">%d. Learning-rate study</h2>\n<p>Per combination of the other varied "
          "parameters: the best <code>", secno);
  esc(r->f, ts->metric);
  fputs("</code> against the learning rate, the optimum (the vertex of the parabola through the best grid point "
        "and its neighbours in log lr) with a 95% bootstrap CI over seeds (seeded by the sweep's seed), where "
        "runs diverged, and the basin of learning rates within 1% of the optimum. A learning rate where any "
        "seed diverged is never the optimum.</p>\n", r->f);
  RsLrPoint *pt = tr_malloc(((size_t)ts->n + 1) * sizeof *pt);
  int *head = tr_malloc(((size_t)ts->n + 1) * sizeof *head), nh = 0;
  if (!pt || !head) {
    free(pt), free(head);
    rep_oom(r);
    return;
  }
  for (int i = 0; i < ts->n; i++) {
    int g = 0;
    while (g < nh && !rs_trials_same_context(ts, klr, i, head[g])) g++;
    if (g == nh) head[nh++] = i;
  }
  for (int g = 0; g < nh; g++) {
    char label[512] = "";
    if (nh > 1) {
      context_label(ts, klr, head[g], label, sizeof label);
      fprintf(r->f, "<h3 id=\"lr-study-%d\">%d.%d ", g + 1, secno, g + 1);
      esc(r->f, label);
      fputs("</h3>\n", r->f);
    }
    lr_group(r, klr, head[g], pt, label);
  }
  free(pt), free(head);
}

/* metric.target of the stored spec, NaN when it has none (or the text does not parse:
** the sweep ran from it, so that cannot happen short of a hand-edited database). */
static double spec_target(const RsSweep *sw) {
  double t = NAN;
  TrYamlDoc *doc = rs_sweep_spec_doc(sw);
  TrErr e = {0};
  if (!doc) return t;
  const TrYamlNode *m = tr_yaml_get(doc->root, "metric");
  const TrYamlNode *v = m && m->kind == TR_YAML_MAP ? tr_yaml_get(m, "target") : NULL;
  if (v && tr_yaml_double(v, "spec", "metric.target", &t, &e) != TR_OK) t = NAN;
  tr_yaml_destroy(doc);
  return t;
}

/* Per batch size value b: the learning-rate study over its trials (other parameters
** pooled); grid[b] the best grid lr (NaN if none), opt[b] the fitted optimum, note[b]
** rs_study's reason when it found none; scale[b] the factor optimizer.lr_scaling applied
** at b (1 without it): the effective rates are grid[b] * scale[b] and opt[b] * scale[b]. */
typedef struct BsLr {
  double *grid, *opt, *scale;
  char (*note)[RS_STUDY_REASON_MAX];
} BsLr;

/* The factor by which trial t's optimizer.lr_scaling multiplied optimizer.lr at its batch
** size, from its stored config (1 when it has none or it does not parse). */
static double lr_scale_of(const RsTrialRow *t) {
  TrYamlDoc *doc = NULL;
  TrErr e = {0};
  double f = 1;
  if (!t->config || tr_yaml_load_string(t->config, strlen(t->config), "config", &doc, &e) != TR_OK) return f;
  TrConfig c;
  tr_config_defaults(&c);
  if (doc->root && tr_config_apply_yaml(&c, doc->root, "config", &e) == TR_OK && c.optimizer.lr > 0)
    f = tr_optim_effective_lr(&c.optimizer, c.train.batch_size) / c.optimizer.lr;
  tr_yaml_destroy(doc);
  return f;
}

static int bs_lr(Rep *r, int kb, int klr, BsLr *o) {
  const RsTrialSet *ts = r->ts;
  int nb = ts->p[kb].n_values;
  RsLrPoint *pt = tr_malloc(((size_t)ts->n + 1) * sizeof *pt);
  o->grid = tr_malloc((size_t)nb * sizeof *o->grid), o->opt = tr_malloc((size_t)nb * sizeof *o->opt);
  o->scale = tr_malloc((size_t)nb * sizeof *o->scale), o->note = tr_calloc((size_t)nb, sizeof *o->note);
  if (!pt || !o->grid || !o->opt || !o->scale || !o->note) {
    free(pt);
    rep_oom(r);
    return 1;
  }
  for (int b = 0; b < nb; b++) {
    o->grid[b] = o->opt[b] = NAN, o->scale[b] = 1;
    int n = 0, first = 1;
    for (int i = 0; i < ts->n; i++)
      if (ts->t[i].pv[kb] == b) {
        if (first) o->scale[b] = lr_scale_of(&ts->t[i]), first = 0;
        n += rs_trials_lr_point(ts, klr, i, &pt[n]);
      }
    RsLrStudy s;
    if (lr_run(r, pt, n, &s)) {
      free(pt);
      return 1;
    }
    if (s.best >= 0) o->grid[b] = s.level[s.best].lr, o->opt[b] = s.lr_opt;
    else snprintf(o->note[b], sizeof o->note[b], "%s", s.reason);
    rs_study_lr_deinit(&s);
  }
  free(pt);
  return 0;
}

/* The noise scale at the metric's steps (NaN where none was logged at that step). */
static void gns_align(const double *ms, int mn, const double *gs, const double *gv, int gn, double *out) {
  int j = 0;
  for (int i = 0; i < mn; i++) {
    while (j < gn && gs[j] < ms[i]) j++;
    out[i] = j < gn && gs[j] == ms[i] ? gv[j] : NAN;
  }
}

/* The curves of the completed trials at each batch size's best grid lr (every trial of it
** when the lr does not vary); owned arrays in keep[] (3 per curve). */
static int bs_curves(Rep *r, int kb, int klr, const BsLr *lr, RsBsCurve *c, double **keep, int *nc) {
  const RsTrialSet *ts = r->ts;
  int with_gns = has_metric(r, "gns");
  *nc = 0;
  for (int i = 0; i < ts->n; i++) {
    const RsTrialRow *t = &ts->t[i];
    int b = t->pv[kb];
    if (b < 0 || t->status != RS_COMPLETED) continue;
    if (klr >= 0 && !(t->pv[klr] >= 0 && ts->p[klr].nums[t->pv[klr]] == lr->grid[b])) continue;
    double *x, *y, *gx = NULL, *gy = NULL, *g = NULL;
    int n, gn = 0;
    int rc = rs_series_load(r->st, t->id, ts->metric, RS_X_STEP, &x, &y, &n);
    if (!rc && with_gns) rc = rs_series_load(r->st, t->id, "gns", RS_X_STEP, &gx, &gy, &gn);
    if (!rc && with_gns && !(g = tr_malloc(((size_t)n + 1) * sizeof *g))) rc = TR_ENOMEM;
    if (rc == TR_ENOTFOUND) rc = 0; /* no rows of it: no curve */
    if (rc) {
      TrErr e = {0};
      tr_err_set(&e, rc, "%s", rc == TR_ENOMEM ? "report: out of memory" : rs_store_errmsg(r->st));
      store_error(r, rc, &e);
      free(x), free(y), free(gx), free(gy), free(g);
      return 1;
    }
    if (g) gns_align(x, n, gx, gy, gn, g);
    free(gx), free(gy);
    double batch = ts->p[kb].nums[b];
    double seq = t->steps > 0 && t->tokens > 0 ? (double)t->tokens / ((double)t->steps * batch) : NAN;
    if (n == 0) {
      free(x), free(y), free(g);
      continue;
    }
    keep[3 * *nc] = x, keep[3 * *nc + 1] = y, keep[3 * *nc + 2] = g;
    c[(*nc)++] = (RsBsCurve){.batch = batch, .seq_len = seq, .step = x, .value = y, .gns = g, .n = n};
  }
  return 0;
}

/* Table: per batch size its best lr and what reaching the target took. */
static void bs_table(Rep *r, int kb, int klr, const BsLr *lr, const RsBsStudy *bs) {
  const RsTrialSet *ts = r->ts;
  fprintf(r->f, "<table id=\"bs-study-table\">\n<caption><b>Table %d.</b> Per batch size: its best learning rate "
          "(the best grid point and the fitted optimum), and at the best grid point the runs that reached the "
          "target, the mean steps, examples (B &times; steps) and tokens to it, and the median gradient noise "
          "scale there.</caption>\n<thead><tr><th class=\"num\">batch size</th><th class=\"num\">best lr</th>"
          "<th class=\"num\">lr*</th><th class=\"num\">reached</th><th class=\"num\">steps</th>"
          "<th class=\"num\">examples</th><th class=\"num\">tokens</th><th class=\"num\">B_simple</th></tr>"
          "</thead>\n<tbody>\n", ++r->tab);
  for (int b = 0; b < ts->p[kb].n_values; b++) {
    const RsBsLevel *L = NULL;
    for (int j = 0; j < bs->nlevel; j++)
      if (bs->level[j].batch == ts->p[kb].nums[b]) L = &bs->level[j];
    char g[32] = "-", o[32] = "-", st[32] = "-", ex[32] = "-", tk[32] = "-", bsim[32] = "-";
    if (klr >= 0)
      rs_fmt_metric(g, sizeof g, lr->grid[b] * lr->scale[b]), rs_fmt_metric(o, sizeof o, lr->opt[b] * lr->scale[b]);
    if (L) {
      rs_fmt_metric(st, sizeof st, L->steps), rs_fmt_count(ex, sizeof ex, L->examples);
      rs_fmt_count(tk, sizeof tk, L->tokens), rs_fmt_metric(bsim, sizeof bsim, L->b_simple);
    }
    fprintf(r->f, "<tr><td class=\"num\">");
    esc(r->f, ts->p[kb].values[b]);
    fprintf(r->f, "</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%d of %d</td>"
            "<td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
            "</tr>\n", g, o, L ? L->n_reached : 0, L ? L->n_curves : 0, st, ex, tk, bsim);
    if (klr >= 0 && lr->note[b][0]) {
      fputs("<tr><td></td><td colspan=\"7\">", r->f);
      esc(r->f, lr->note[b]);
      fputs("</td></tr>\n", r->f);
    }
  }
  fputs("</tbody>\n</table>\n", r->f);
}

/* The exponent of lr* against B, as a paragraph. */
static void bs_exponent(Rep *r, int kb, const BsLr *lr) {
  int nb = r->ts->p[kb].n_values, n = 0;
  double *x = tr_malloc(((size_t)nb + 1) * sizeof *x), *y = tr_malloc(((size_t)nb + 1) * sizeof *y);
  if (!x || !y) {
    free(x), free(y);
    rep_oom(r);
    return;
  }
  for (int b = 0; b < nb; b++)
    if (isfinite(lr->opt[b])) x[n] = r->ts->p[kb].nums[b], y[n++] = lr->opt[b] * lr->scale[b];
  RsLrExponent ex;
  TrErr e = {0};
  char buf[512];
  if (rs_study_lr_exponent(x, y, n, &ex, &e) == TR_OK) para(r, rs_study_exponent_caption(&ex, buf, sizeof buf));
  else para(r, e.msg); /* a batch size that is not a positive number */
  free(x), free(y);
  int lo = -1, hi = -1; /* the batch sizes where optimizer.lr_scaling changed the lr */
  for (int b = 0; b < nb; b++)
    if (lr->scale[b] != 1) lo = lo < 0 ? b : lo, hi = b;
  if (lo < 0) return;
  snprintf(buf, sizeof buf, "The learning rates of this section are the effective ones: optimizer.lr times the "
           "factor optimizer.lr_scaling applied at each batch size (%.3g at %g to %.3g at %g); the learning-rate "
           "study above shows optimizer.lr as set.", lr->scale[lo], r->ts->p[kb].nums[lo], lr->scale[hi],
           r->ts->p[kb].nums[hi]);
  para(r, buf);
}

/* "the smallest batch size (4) needed 8.2 x S_min steps and 1.1 x E_min examples; ...":
** where the extremes sit on the trade-off, from the fit. "" without one. */
static void bs_tradeoff_words(const RsBsStudy *bs, char *buf, size_t n) {
  int a = -1, b = -1;
  buf[0] = '\0';
  for (int j = 0; j < bs->nlevel; j++)
    if (isfinite(bs->level[j].steps)) a = a < 0 ? j : a, b = j;
  if (bs->status != RS_STUDY_OK || a < 0 || a == b) return;
  const RsBsLevel *L = &bs->level[a], *H = &bs->level[b];
  snprintf(buf, n, " The smallest batch size (%g) needed %.2g x S_min steps and %.2g x E_min examples, the largest "
           "(%g) %.2g x S_min steps and %.2g x E_min examples.", L->batch, L->steps / bs->s_min,
           L->examples / bs->e_min, H->batch, H->steps / bs->s_min, H->examples / bs->e_min);
}

/* The batch-size study's figures: steps against B (with perfect scaling and the fit), and
** the steps-tokens trade-off; the reason instead when fewer than two batch sizes reached
** the target. */
static void bs_figures(Rep *r, const RsBsStudy *bs) {
  char cap[600], figcap[1200], words[300];
  rs_study_bs_caption(bs, cap, sizeof cap);
  RsPlot pl;
  TrErr e = {0};
  int prc = rs_plot_bs_steps(bs, "", &pl, &e);
  if (prc == TR_ENOTFOUND) { /* degenerate: the reason, never a broken figure */
    para(r, cap);
    return;
  }
  snprintf(figcap, sizeof figcap, "Steps to reach %s %.4g against the batch size (log-log); grey: perfect "
           "scaling (steps halve when B doubles)%s. %s", r->ts->metric, bs->target,
           bs->status == RS_STUDY_OK ? ", red: the fit" : "", cap);
  figure(r, &pl, prc, &e, figcap);
  if (prc == TR_OK) rs_plot_deinit(&pl);
  prc = rs_plot_bs_tradeoff(bs, "", &pl, &e);
  bs_tradeoff_words(bs, words, sizeof words);
  snprintf(figcap, sizeof figcap, "The trade-off: steps against %s to reach %s %.4g (log-log), one point per batch "
           "size%s. Below B_crit a bigger batch saves steps at little cost in data; above it, it costs data and "
           "saves few steps.%s", pl.xlabel[0] == 'e' ? "examples" : "tokens", r->ts->metric, bs->target,
           bs->status == RS_STUDY_OK ? "; red: the fitted (S/S_min - 1)(E/E_min - 1) = 1, grey: S_min and E_min" : "",
           words);
  figure(r, &pl, prc, &e, figcap);
  if (prc == TR_OK) rs_plot_deinit(&pl);
}

static void section_bs_study(Rep *r, int secno, int kb, int klr) {
  const RsTrialSet *ts = r->ts;
  fprintf(r->f, "<h2 id=\"bs-study\">%d. Batch-size study</h2>\n<p>How the batch size B trades steps for "
          "examples: each batch size at its best learning rate (the trials of a batch size pooled over the "
          "other parameters), the steps S it took to reach the target and the fit of McCandlish et al. (2018), "
          "S = S_min + E_min / B, whose B_crit = E_min / S_min is the batch size past which more examples per "
          "step stop saving steps; B_simple is the gradient noise scale the trainer measured.</p>\n", secno);
  int nc = 0;
  BsLr lr = {0};
  RsBsCurve *c = tr_malloc(((size_t)ts->n + 1) * sizeof *c);
  double **keep = tr_calloc(3 * (size_t)ts->n + 1, sizeof *keep);
  if (!c || !keep) rep_oom(r);
  else if (klr < 0 || !bs_lr(r, kb, klr, &lr)) {
    if (klr >= 0) bs_exponent(r, kb, &lr);
    else para(r, "optimizer.lr does not vary: every run of a batch size counts, and there is no best lr to scale.");
    if (!bs_curves(r, kb, klr, &lr, c, keep, &nc)) {
      RsBsOptions o = {.maximize = ts->maximize, .target = spec_target(&ts->sweep)};
      RsBsStudy bs;
      TrErr e = {0};
      int rc = rs_study_bs(c, nc, &o, &bs, &e);
      if (rc) store_error(r, rc == TR_ENOMEM ? rc : TR_EIO, &e);
      else {
        bs_table(r, kb, klr, &lr, &bs);
        bs_figures(r, &bs);
        rs_study_bs_deinit(&bs);
      }
    }
  }
  for (int i = 0; keep && i < 3 * nc; i++) free(keep[i]);
  free(keep), free(c), free(lr.grid), free(lr.opt), free(lr.scale), free(lr.note);
}

static void section_failures(Rep *r, int secno) {
  const RsTrialSet *ts = r->ts;
  fprintf(r->f, "<h2 id=\"failures\">%d. Failures and divergences</h2>\n", secno);
  int n = 0;
  for (int i = 0; i < ts->n; i++) n += failed_status(ts->t[i].status);
  if (n == 0) {
    fputs("<p>No trial failed or diverged.</p>\n", r->f);
    return;
  }
  fprintf(r->f, "<p>%d of %d trials did not complete.</p>\n<table>\n<caption><b>Table %d.</b> Failed and "
                "diverged trials with the reason recorded by the runner.</caption>\n<thead><tr>"
                "<th class=\"num\">trial</th><th>parameters</th><th>status</th><th class=\"num\">attempts</th>"
                "<th>reason</th></tr></thead>\n<tbody>\n", n, ts->n, ++r->tab);
  for (int i = 0; i < ts->n; i++) {
    const RsTrialRow *t = &ts->t[i];
    if (!failed_status(t->status)) continue;
    fprintf(r->f, "<tr><td class=\"num\">%lld</td><td>", (long long)t->id);
    params_text(r->f, ts, t, 1);
    fprintf(r->f, "</td><td class=\"st-%s\">%s</td><td class=\"num\">%lld</td><td><pre class=\"err\">",
            rs_status_name(t->status), rs_status_name(t->status), (long long)t->attempts);
    esc(r->f, t->error && *t->error ? t->error : "(no reason recorded)");
    fputs("</pre></td></tr>\n", r->f);
  }
  fputs("</tbody>\n</table>\n", r->f);
}

/* ---- early termination ---------------------------------------------------- */

#define STOP_LEVELS 64 /* distinct bands or rungs listed */

/* A band or rung where trials were stopped, and the thresholds their decisions used. */
typedef struct StopLevel {
  char unit[16];    /* band | rung | step */
  int64_t at;
  int pruned, paused, nth;
  double th_lo, th_hi;
} StopLevel;

/* The threshold a pruned trial was compared with, read back from its reason ("... threshold 8
** ..." or "... median 1.5 ..."); NaN when it has none (e.g. "not promoted"). */
static double stop_threshold(const char *error) {
  const char *p = error ? strstr(error, "threshold ") : NULL;
  if (!p && error && (p = strstr(error, "median "))) return strtod(p + 7, NULL);
  return p ? strtod(p + 10, NULL) : NAN;
}

static int stop_level_cmp(const void *a, const void *b) {
  const StopLevel *x = a, *y = b;
  int u = strcmp(x->unit, y->unit);
  return u ? u : (x->at > y->at) - (x->at < y->at);
}

/* The levels of the stopped trials, sorted by unit then level; returns their count. */
static int stop_levels(const RsTrialSet *ts, StopLevel *lv) {
  int n = 0;
  for (int i = 0; i < ts->n; i++) {
    const RsTrialRow *t = &ts->t[i];
    if ((t->status != RS_PRUNED && t->status != RS_PAUSED) || t->rung < 0) continue;
    char what[64], unit[16] = "", st[16];
    rs_fmt_status(what, sizeof what, t->status, t->rung, t->error);
    if (sscanf(what, "%15s %15s", st, unit) != 2) continue;
    int k = 0;
    while (k < n && !(lv[k].at == t->rung && !strcmp(lv[k].unit, unit))) k++;
    if (k == n) {
      if (n == STOP_LEVELS) continue;
      lv[n] = (StopLevel){.at = t->rung, .th_lo = NAN, .th_hi = NAN};
      snprintf(lv[n++].unit, sizeof lv->unit, "%s", unit);
    }
    if (t->status == RS_PAUSED) {
      lv[k].paused++;
      continue;
    }
    lv[k].pruned++;
    double th = stop_threshold(t->error);
    if (isnan(th)) continue;
    if (!lv[k].nth++ || th < lv[k].th_lo) lv[k].th_lo = th;
    if (lv[k].nth == 1 || th > lv[k].th_hi) lv[k].th_hi = th;
  }
  tr_sort(lv, (size_t)n, sizeof *lv, stop_level_cmp);
  return n;
}

/* Steps spent against the steps the same trials would have cost run to the end: a stopped
** trial counted at the steps of the longest completed trial (every other at its own). */
static void stop_cost(const RsTrialSet *ts, double *spent, double *full, int64_t *planned) {
  int64_t longest = 0, any = 0;
  for (int i = 0; i < ts->n; i++) {
    if (ts->t[i].steps > any) any = ts->t[i].steps;
    if (ts->t[i].status == RS_COMPLETED && ts->t[i].steps > longest) longest = ts->t[i].steps;
  }
  *planned = longest ? longest : any;
  *spent = *full = 0;
  for (int i = 0; i < ts->n; i++) {
    const RsTrialRow *t = &ts->t[i];
    double own = t->steps > 0 ? (double)t->steps : 0;
    int stopped = t->status == RS_PRUNED || t->status == RS_PAUSED;
    *spent += own;
    *full += stopped && (double)*planned > own ? (double)*planned : own;
  }
}

static void section_early(Rep *r, int secno) {
  const RsTrialSet *ts = r->ts;
  const RsSweep *s = &ts->sweep;
  if (!s->count[RS_PRUNED] && !s->count[RS_PAUSED]) return;
  StopLevel lv[STOP_LEVELS];
  int n = stop_levels(ts, lv);
  double spent, full;
  int64_t planned;
  stop_cost(ts, &spent, &full, &planned);
  char a[32], b[32];
  rs_fmt_count(a, sizeof a, spent), rs_fmt_count(b, sizeof b, full);
  fprintf(r->f, "<h2 id=\"early-termination\">%d. Early termination</h2>\n<p>%lld trial%s pruned, %lld paused "
          "of %lld. The trials spent <b>%s</b> steps of the <b>%s</b> they would have cost run to the end "
          "(<b>%.1f%%</b>; a stopped trial counted at the %lld steps of the longest completed trial). In the "
          "learning curves &#x25a0; marks where a trial was pruned, &#x25a1; where one is paused.</p>\n",
          secno, (long long)s->count[RS_PRUNED], s->count[RS_PRUNED] == 1 ? "" : "s",
          (long long)s->count[RS_PAUSED], (long long)s->n_trials, a, b, full > 0 ? 100 * spent / full : 0.0,
          (long long)planned);
  fprintf(r->f, "<table>\n<caption><b>Table %d.</b> Where trials were stopped: each band (the n-th value of "
          "<code>", ++r->tab);
  esc(r->f, s->metric);
  fputs("</code>, W&amp;B hyperband), rung (steps: ASHA, hyperband brackets) or step (median rule), the trials "
        "stopped there and the thresholds their values were compared with when they were pruned.</caption>\n"
        "<thead><tr><th>where</th><th class=\"num\">pruned</th><th class=\"num\">paused</th><th>threshold</th>"
        "</tr></thead>\n<tbody>\n", r->f);
  for (int k = 0; k < n; k++) {
    char lo[32], hi[32];
    rs_fmt_metric(lo, sizeof lo, lv[k].th_lo), rs_fmt_metric(hi, sizeof hi, lv[k].th_hi);
    fprintf(r->f, "<tr><td>%s %lld</td><td class=\"num\">%d</td><td class=\"num\">%d</td><td>", lv[k].unit,
            (long long)lv[k].at, lv[k].pruned, lv[k].paused);
    if (!lv[k].nth) fputs("-", r->f);
    else if (lv[k].th_lo == lv[k].th_hi) fputs(lo, r->f);
    else fprintf(r->f, "%s to %s (over %d decisions)", lo, hi, lv[k].nth);
    fputs("</td></tr>\n", r->f);
  }
  fputs("</tbody>\n</table>\n", r->f);
}

static int is_inference(const RsTrialSet *ts) { return ts->sweep.task && strcmp(ts->sweep.task, "sample") == 0; }

/* How a Spearman rho reads: |rho| < 0.3 is no steady direction. */
static const char *effect(double r) { return r >= 0.3 ? "raises" : r <= -0.3 ? "lowers" : "does not steadily move"; }

/* The trade-off as the data show it: the signs of the correlations, never assumed. */
static void div_tradeoff(const RsDiversity *d, char *buf, size_t n) {
  size_t len = 0;
  buf[0] = '\0';
  if (d->temp >= 0 && !isnan(d->rho_div) && !isnan(d->rho_val)) {
    int du = d->rho_div >= 0.3, dd = d->rho_div <= -0.3, vu = d->rho_val >= 0.3, vd = d->rho_val <= -0.3;
    len += (size_t)snprintf(buf + len, n - len, "Higher temperature %s diversity (Spearman \u03c1 = %+.2f over "
                            "trials) and %s validity (\u03c1 = %+.2f)%s ", effect(d->rho_div), d->rho_div,
                            effect(d->rho_val), d->rho_val,
                            du && vd ? ": it buys diversity at the cost of validity."
                            : dd && vu ? ": it buys validity at the cost of diversity."
                            : du && vu ? ": no trade-off along temperature in this range." : ".");
  }
  if (len < n && !isnan(d->r_settings))
    len += (size_t)snprintf(buf + len, n - len, "Across settings, validity and distinct_2 correlate with "
                            "Pearson r = %+.2f: %s. ", d->r_settings,
                            d->r_settings <= -0.3 ? "the more diverse settings are the less valid ones"
                            : d->r_settings >= 0.3 ? "the more diverse settings are also the more valid ones"
                            : "no clear relation between the two");
  int bv = -1, bd = -1;
  for (int i = 0; i < d->n; i++) {
    if (d->pt[i].n == 0) continue;
    if (bv < 0 || d->pt[i].validity > d->pt[bv].validity) bv = i;
    if (bd < 0 || d->pt[i].distinct_2 > d->pt[bd].distinct_2) bd = i;
  }
  if (len < n && bv >= 0) {
    char v[32], dv[32];
    rs_fmt_metric(v, sizeof v, d->pt[bv].validity), rs_fmt_metric(dv, sizeof dv, d->pt[bd].distinct_2);
    snprintf(buf + len, n - len, "Validity peaks at %s (%s), diversity at %s (%s).", d->pt[bv].label, v,
             d->pt[bd].label, dv);
  }
}

/* Table n: the settings on the Pareto frontier, most valid first. */
static void diversity_frontier(Rep *r, const RsDiversity *d) {
  const RsTrialSet *ts = r->ts;
  int *ord = tr_malloc(((size_t)d->n + 1) * sizeof *ord), nf = 0;
  if (!ord) {
    rep_oom(r);
    return;
  }
  for (int i = 0; i < d->n; i++)
    if (d->pt[i].front) ord[nf++] = i;
  for (int a = 1; a < nf; a++)
    for (int b = a; b > 0 && d->pt[ord[b]].validity > d->pt[ord[b - 1]].validity; b--) {
      int t = ord[b]; ord[b] = ord[b - 1]; ord[b - 1] = t;
    }
  fprintf(r->f, "<table id=\"diversity-frontier\">\n<caption><b>Table %d.</b> The settings on the Pareto "
                "frontier, most valid first: means over seeds of validity, distinct_2, rep_4 (the share of a "
                "sample's 4-grams it already used: loops) and mean_length (tokens per sample).</caption>\n"
                "<thead><tr>", ++r->tab);
  int ncol = 0;
  for (int k = 0; k < ts->np; k++)
    if (ts->p[k].varies && !ts->p[k].is_seed) {
      fputs("<th>", r->f);
      esc(r->f, ts->p[k].short_name);
      fputs("</th>", r->f);
      ncol++;
    }
  if (!ncol) fputs("<th>setting</th>", r->f);
  fputs("<th class=\"num\">seeds</th><th class=\"num\">validity</th><th class=\"num\">distinct_2</th>"
        "<th class=\"num\">rep_4</th><th class=\"num\">mean_length</th></tr></thead>\n<tbody>\n", r->f);
  for (int j = 0; j < nf; j++) {
    const RsDivPoint *p = &d->pt[ord[j]];
    const RsTrialRow *t = &ts->t[p->first];
    fputs("<tr>", r->f);
    for (int k = 0; k < ts->np; k++)
      if (ts->p[k].varies && !ts->p[k].is_seed) {
        fputs("<td>", r->f);
        esc(r->f, t->pv[k] >= 0 ? ts->p[k].values[t->pv[k]] : "-");
        fputs("</td>", r->f);
      }
    if (!ncol) {
      fputs("<td>", r->f);
      esc(r->f, p->label);
      fputs("</td>", r->f);
    }
    char v[32], dv[32], rp[32], ml[32];
    rs_fmt_metric(v, sizeof v, p->validity), rs_fmt_metric(dv, sizeof dv, p->distinct_2);
    rs_fmt_metric(rp, sizeof rp, p->rep_4), rs_fmt_metric(ml, sizeof ml, p->mean_length);
    fprintf(r->f, "<td class=\"num\">%d</td><td class=\"num\">%s</td><td class=\"num\">%s</td>"
                  "<td class=\"num\">%s</td><td class=\"num\">%s</td></tr>\n", p->n, v, dv, rp, ml);
  }
  fputs("</tbody>\n</table>\n", r->f);
  free(ord);
}

static void section_diversity(Rep *r, int secno) {
  const RsTrialSet *ts = r->ts;
  fprintf(r->f, "<h2 id=\"diversity\">%d. Diversity against validity</h2>\n", secno);
  fputs("<p>Each setting of the sampling parameters is a point: how varied its text is "
        "(<code>distinct_2</code>, unique bigrams over all bigrams) against how correct it is "
        "(<code>validity</code>). A setting is on the Pareto frontier when no other setting is at "
        "least as good on both and better on one: the frontier is the menu of sensible choices, "
        "and the rest are beaten on both counts.</p>\n", r->f);
  RsDiversity d;
  TrErr e = {0};
  int drc = rs_diversity_load(r->st, ts, &d);
  if (drc) tr_err_set(&e, drc, "%s", rs_store_errmsg(r->st));
  if (store_error(r, drc, &e)) return;
  if (drc != TR_OK) {
    fputs("<p class=\"note\">No figure: ", r->f);
    esc(r->f, e.msg);
    fputs(".</p>\n", r->f);
    return;
  }
  int maxn = 0;
  for (int i = 0; i < d.n; i++) maxn = d.pt[i].n > maxn ? d.pt[i].n : maxn;
  char trade[1024], cap[2048];
  div_tradeoff(&d, trade, sizeof trade);
  snprintf(cap, sizeof cap, "Validity against distinct_2, one dot per setting%s (%d completed trials in all)%s. "
           "Ringed, labelled dots joined by the dark line: the Pareto frontier (%d of %d settings).%s%s%s %s",
           maxn > 1 ? ": the mean over its seeds" : "", d.n_trials,
           maxn > 1 ? ", bars from its lowest to its highest seed" : "", d.nfront, d.n,
           d.key[0] ? " Key: " : "", d.key, d.key[0] ? "." : "", trade);
  RsPlot pl;
  int rc = rs_plot_diversity(ts, &d, &pl, &e);
  figure(r, &pl, rc, &e, cap);
  if (rc == TR_OK) rs_plot_deinit(&pl);
  if (d.n_skipped)
    fprintf(r->f, "<p class=\"note\">%d trial%s without both measures (failed, pending or interrupted) %s "
                  "left out.</p>\n", d.n_skipped, d.n_skipped == 1 ? "" : "s", d.n_skipped == 1 ? "is" : "are");
  diversity_frontier(r, &d);
  rs_diversity_deinit(&d);
  fputs("<p class=\"note\">Learning curves, learning-rate schedules and cost against FLOPs are not applicable "
        "to an inference sweep: every trial generates from the same trained checkpoint and records its "
        "measures once, at step 0.</p>\n", r->f);
}

/* The writers for the section files (rs_report_int.h). */
void rs_rep_esc(FILE *f, const char *s) { esc(f, s); }
void rs_rep_para(RsRep *r, const char *text) { para(r, text); }
void rs_rep_figure(RsRep *r, RsPlot *p, int rc, const TrErr *perr, const char *caption) {
  figure(r, p, rc, perr, caption);
}
int rs_rep_store_error(RsRep *r, int rc, const TrErr *e) { return store_error(r, rc, e); }
int rs_rep_lr_study(RsRep *r, const RsLrPoint *pt, int n, RsLrStudy *s) { return lr_run(r, pt, n, s); }
void rs_rep_oom(RsRep *r) { rep_oom(r); }

/* Sections 5-8 of a training sweep: curves, schedules, cost, failures. */
static void sections_training(Rep *r, int top) {
  const RsSweep *s = &r->ts->sweep;
  fputs("<h2 id=\"curves\">5. Learning curves</h2>\n", r->f);
  char cap[512];
  snprintf(cap, sizeof cap, "%s against step, one line per trial%s%s%s.", s->metric,
           top >= 0 ? ", coloured by " : "", top >= 0 ? r->ts->p[top].name : "",
           s->count[RS_PRUNED] + s->count[RS_PAUSED] ? "; \xe2\x96\xa0 where a trial was pruned, "
                                                       "\xe2\x96\xa1 where one is paused" : "");
  curves(r, s->metric, top, 0, cap);
  if (strcmp(s->metric, "train_loss") != 0 && has_metric(r, "train_loss")) {
    snprintf(cap, sizeof cap, "Training loss against step, same colours.");
    curves(r, "train_loss", top, 0, cap);
  }

  fputs("<h2 id=\"schedules\">6. Learning-rate schedules that ran</h2>\n", r->f);
  if (has_metric(r, "lr")) {
    snprintf(cap, sizeof cap, "The learning rate each trial logged at each step (the metric rows named lr), "
             "log y axis: the schedules as they ran, warm-up and decay included.");
    curves(r, "lr", top, 1, cap);
  } else {
    fputs("<p class=\"note\">No trial logged an <code>lr</code> metric.</p>\n", r->f);
  }

  fputs("<h2 id=\"cost\">7. Metric against cost</h2>\n", r->f);
  fputs("<p>A trial is on the Pareto front when no other trial is both cheaper and at least as good. "
        "Trials on the front are the ones worth their cost.</p>\n", r->f);
  int *front = tr_calloc((size_t)r->ts->n + 1, sizeof *front);
  if (!front) {
    rep_oom(r);
    return;
  }
  for (int uf = 0; uf < 2; uf++) {
    RsPlot pl;
    TrErr e = {0};
    int prc = rs_plot_cost(r->ts, uf, &pl, uf ? front : NULL, &e);
    snprintf(cap, sizeof cap, "Best %s of completed trials against %s; the Pareto front in red.", s->metric,
             uf ? "training FLOPs (trials.flops)" : "wall-clock seconds");
    figure(r, &pl, prc, &e, cap);
    if (prc == TR_OK) rs_plot_deinit(&pl);
  }
  int nf = 0;
  for (int i = 0; i < r->ts->n; i++) nf += front[i];
  if (nf) {
    fputs("<p>On the FLOPs front: ", r->f);
    int j = 0;
    for (int i = 0; i < r->ts->n; i++) {
      if (!front[i]) continue;
      char v[32], fl[32];
      rs_fmt_metric(v, sizeof v, r->ts->t[i].best), rs_fmt_count(fl, sizeof fl, r->ts->t[i].flops);
      fprintf(r->f, "%s#%lld (%s FLOPs, %s)", j++ ? "; " : "", (long long)r->ts->t[i].id, fl, v);
    }
    fputs(".</p>\n", r->f);
  }
  free(front);
  section_failures(r, 8);
  section_early(r, 9);
}

/* The studies, numbered from secno, each present exactly when its parameter varies. */
static void sections_study(Rep *r, int secno) {
  /* Under PBT a member's lr changes mid-run: its starting value says nothing of what trained. */
  int pbt = r->ts->sweep.method && strcmp(r->ts->sweep.method, "pbt") == 0;
  int klr = pbt ? -1 : study_param(r->ts, "optimizer.lr");
  int kb = study_param(r->ts, "train.batch_size");
  if (klr >= 0) section_lr_study(r, secno++, klr);
  secno = rs_report_lrfind(r->f, r->st, r->ts, klr, secno, &r->fig, &r->store_err);
  if (kb >= 0) section_bs_study(r, secno++, kb, klr);
  rs_report_transfer(r, secno);
}


int rs_report_html(RsStore *st, const char *sweep, FILE *out, TrErr *err) {
  int rc = rs_store_snapshot_begin(st);
  if (rc) return tr_err_set(err, rc, "%s", rs_store_errmsg(st));
  RsTrialSet ts;
  if ((rc = rs_trials_load(st, sweep, &ts))) tr_err_set(err, rc, "%s", rs_store_errmsg(st));
  int *order = rc ? NULL : tr_malloc(((size_t)ts.n + 1) * sizeof *order);
  if (!rc && !order) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  if (rc) {
    rs_trials_deinit(&ts); /* zeroed by a failed load: a no-op */
    rs_store_snapshot_end(st);
    return rc;
  }
  Rep r = {out, st, &ts, 0, 0, {0}};
  rs_trials_rank(&ts, order);
  const RsSweep *s = &ts.sweep;
  fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>", out);
  esc(out, s->name);
  fprintf(out, " &mdash; hpsweep results</title>\n<style>%s</style>\n</head>\n<body>\n<h1>", css);
  esc(out, s->name);
  fputs("</h1>\n<div class=\"meta\">", out);
  char when[64] = "-";
  time_t ct = (time_t)s->created;
  struct tm tmv;
  if (gmtime_r(&ct, &tmv)) strftime(when, sizeof when, "%Y-%m-%d %H:%M UTC", &tmv);
  fprintf(out, "hpsweep results report &middot; sweep created %s &middot; %lld trials:", when,
          (long long)s->n_trials);
  for (int k = 0; k < RS_STATUS_COUNT; k++)
    if (s->count[k]) fprintf(out, " %lld %s", (long long)s->count[k], rs_status_name((RsStatus)k));
  fputs("</div>\n", out);
  /* Abstract: the headline numbers. */
  fputs("<div class=\"abstract\">", out);
  if (rs_lrfind_is(s)) fputs("An LR range test (<code>hpsweep lr-find</code>), not a sweep. ", out);
  if (ts.n && !isnan(ts.t[order[0]].best) && !failed_status(ts.t[order[0]].status)) {
    const RsTrialRow *b = &ts.t[order[0]];
    char v[32];
    rs_fmt_metric(v, sizeof v, b->best);
    fprintf(out, "The best trial, <b>#%lld</b> (", (long long)b->id);
    params_text(out, &ts, b, 1);
    fprintf(out, "), reached <code>");
    esc(out, ts.metric);
    fprintf(out, "</code> = <b>%s</b>", v);
    if (b->best_step >= 0) fprintf(out, " at step %lld", (long long)b->best_step);
    fputs(".", out);
  } else {
    fputs("No trial has a result yet.", out);
  }
  if (s->count[RS_PENDING] + s->count[RS_RUNNING])
    fprintf(out, " The sweep was still in progress when this report was made (%lld pending, %lld running).",
            (long long)s->count[RS_PENDING], (long long)s->count[RS_RUNNING]);
  fputs("</div>\n", out);

  section_setup(&r);
  if (rs_lrfind_is(s)) { /* not a sweep: its curve and suggestions are the report */
    rs_report_lrfind(out, st, &ts, -1, 2, &r.fig, &r.store_err);
    goto footer;
  }
  section_leaderboard(&r, order);
  int top = -1;
  section_importance(&r, &top);
  section_compare(&r, 4);
  if (is_inference(&ts)) { /* no steps, no schedule, no training cost: sections 5-7 don't apply */
    section_diversity(&r, 5);
    section_failures(&r, 6);
    sections_study(&r, rs_report_search(&r, 7));
  } else {
    sections_training(&r, top);
    int next = s->count[RS_PRUNED] || s->count[RS_PAUSED] ? 10 : 9;
    TrErr pe = {0};
    next += rs_report_pbt(st, &ts, out, next, &r.fig, &r.tab, &pe);
    store_error(&r, pe.code, &pe);
    sections_study(&r, rs_report_search(&r, next));
  }
footer:
  fprintf(out, "<p class=\"meta\">Generated by hpsweep from <code>");
  esc(out, rs_store_path(st));
  fputs("</code>.</p>\n</body>\n</html>\n", out);
  free(order);
  rs_trials_deinit(&ts);
  rs_store_snapshot_end(st);
  if (r.store_err.code) return tr_err_set(err, r.store_err.code, "%s", r.store_err.msg);
  if (ferror(out)) return tr_err_set(err, TR_EIO, "write failed");
  return TR_OK;
}

int rs_report_write(RsStore *st, const char *sweep, const char *path, TrErr *err) {
  TrAtomicFile a;
  int rc = tr_atomic_open(&a, path, err);
  if (rc) return rc;
  rc = rs_report_html(st, sweep, a.f, err);
  if (rc && !a.werr) { /* a write error: commit names the file and the cause */
    tr_atomic_abort(&a);
    return rc;
  }
  return tr_atomic_commit(&a, err);
}
