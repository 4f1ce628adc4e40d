/* rs_report_lrfind.c: the LR range tests beside a sweep's learning-rate study (rs_report_lrfind.h). */
#include "rs_report_lrfind.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rs_lrfind.h"
#include "rs_plot.h"
#include "rs_study.h"
#include "tr_alloc.h"
#include "tr_config.h"
#include "tr_yaml.h"

/* Keep the first read error (database, I/O, memory) for the report. */
static void keep_err(TrErr *store_err, const TrErr *e) {
  if ((e->code == TR_EDB || e->code == TR_EIO || e->code == TR_ENOMEM) && !store_err->code) *store_err = *e;
}

/* A config's canonical JSON back into a TrConfig (defaults for keys it leaves out). */
static int config_parse(const char *json, TrConfig *c) {
  TrYamlDoc *doc = NULL;
  TrErr e = {0};
  tr_config_defaults(c);
  int rc = !json || tr_yaml_load_string(json, strlen(json), "config", &doc, &e) || !doc->root ||
           tr_config_apply_yaml(c, doc->root, "config", &e);
  tr_yaml_destroy(doc);
  return rc ? -1 : 0;
}

/* Set key name of c to its value in from. */
static int copy_key(TrConfig *c, const TrConfig *from, const char *name) {
  const TrKey *k = tr_config_key_find(name);
  char v[1024];
  TrErr e = {0};
  if (!k || tr_config_value_text(from, k, 0, v, sizeof v) < 0) return -1;
  return tr_config_set(c, name, v, &e) ? -1 : 0;
}

/* The sweep's trials ran the test's config but for the swept keys and optimizer.lr (the header). */
static int same_config(const RsTrialSet *ts, const TrConfig *test) {
  TrConfig c;
  if (ts->n == 0 || config_parse(ts->t[0].config, &c)) return 0;
  for (int k = 0; k < ts->np; k++)
    if (copy_key(&c, test, ts->p[k].name)) return 0;
  if (copy_key(&c, test, "optimizer.lr")) return 0;
  return tr_config_hash(&c) == tr_config_hash(test);
}

/* Trial i ran at the test's values of every varied parameter but k and the seeds. */
static int at_test_values(const RsTrialSet *ts, int k, int i, const TrConfig *test) {
  for (int q = 0; q < ts->np; q++) {
    const RsParam *p = &ts->p[q];
    if (q == k || !p->varies || p->is_seed) continue;
    const TrKey *key = tr_config_key_find(p->name);
    char v[1024];
    int pv = ts->t[i].pv[q];
    if (!key || pv < 0 || tr_config_value_text(test, key, 0, v, sizeof v) < 0) return 0;
    if (p->numeric ? fabs(p->nums[pv] - strtod(v, NULL)) > 1e-12 * fabs(p->nums[pv]) : strcmp(p->values[pv], v))
      return 0;
  }
  return 1;
}

/* The sweep's fitted optimum of optimizer.lr (NaN when the study finds none); *pooled = 1 when no
** trial ran at the test's other values and all were used. */
static double sweep_optimum(const RsTrialSet *ts, int klr, const TrConfig *test, int *pooled, RsLrStudy *s,
                            TrErr *store_err) {
  RsLrPoint *pt = tr_malloc(((size_t)ts->n + 1) * sizeof *pt);
  TrErr e = {0};
  if (!pt) {
    tr_err_set(&e, TR_ENOMEM, "report: out of memory");
    keep_err(store_err, &e);
    return NAN;
  }
  int n = 0;
  for (*pooled = 0; *pooled < 2 && n == 0; (*pooled)++)
    for (int i = 0; i < ts->n; i++)
      if (*pooled || at_test_values(ts, klr, i, test)) n += rs_trials_lr_point(ts, klr, i, &pt[n]);
  (*pooled)--;
  RsLrOptions o = {.maximize = ts->maximize, .boot_seed = (uint64_t)ts->sweep.seed};
  int rc = rs_study_lr(pt, n, &o, s, &e);
  free(pt);
  if (rc) {
    keep_err(store_err, &e);
    return NAN;
  }
  return s->status == RS_STUDY_OK ? s->lr_opt : NAN;
}

/* "valley 3.16e-03 is 0.40x it (0.40 decades below)" for each suggestion, into buf. */
static void compare_text(const TrLrfindResult *r, double ref, char *buf, size_t n) {
  const TrLrfindSuggestion *sg[3] = {&r->valley, &r->steepest, &r->min10};
  const char *names[3] = {"valley", "steepest", "min/10"};
  size_t len = 0;
  int best = -1;
  buf[0] = '\0';
  for (int k = 0; k < 3 && len < n; k++) {
    if (!isfinite(sg[k]->lr)) {
      len += (size_t)snprintf(buf + len, n - len, "%s%s: none", len ? "; " : "", names[k]);
      continue;
    }
    double d = log10(sg[k]->lr / ref);
    len += (size_t)snprintf(buf + len, n - len, "%s%s %.3g is %.2fx it (%.2f decades %s)", len ? "; " : "",
                            names[k], sg[k]->lr, sg[k]->lr / ref, fabs(d), d < 0 ? "below" : "above");
    if (best < 0 || fabs(d) < fabs(log10(sg[best]->lr / ref))) best = k;
  }
  if (best >= 0 && len < n)
    snprintf(buf + len, n - len, ". The %s suggestion comes closest.", names[best]);
}

static void figure(FILE *f, const RsPlot *p, int *fig, const char *caption) {
  char *svg = NULL;
  TrErr e = {0};
  if (rs_plot_svg(p, &svg, &e) != TR_OK) {
    fputs("<p class=\"note\">No figure: ", f);
    rs_report_html_escape(f, e.msg);
    fputs(".</p>\n", f);
    return;
  }
  fputs("<figure>\n", f);
  rs_report_svg_embed(f, svg);
  fprintf(f, "<figcaption><b>Figure %d.</b> ", ++*fig);
  rs_report_html_escape(f, caption);
  fputs("</figcaption>\n</figure>\n", f);
  free(svg);
}

/* One range test: the comparison sentence and its figure. */
static void one_test(FILE *f, const RsTrialSet *ts, int klr, int self, const RsLrfindRun *run, const TrConfig *test,
                     int *fig, TrErr *store_err) {
  char cmp[900] = "", text[1400], cap[1800];
  double ref = NAN;
  const char *ref_name = "sweep optimum";
  if (self) {
    const TrLrfindResult *r = &run->res;
    char a[32] = "none", b[32] = "none", c[32] = "none"; /* none: the curve was too short */
    if (isfinite(r->steepest.lr)) snprintf(a, sizeof a, "%.3g", r->steepest.lr);
    if (isfinite(r->min10.lr)) snprintf(b, sizeof b, "%.3g", r->min10.lr);
    if (isfinite(r->valley.lr)) snprintf(c, sizeof c, "%.3g", r->valley.lr);
    snprintf(text, sizeof text, "Suggestions: steepest %s, min/10 %s, valley %s. Stopped: %s%s%s.", a, b, c,
             tr_lrfind_stop_name(r->stop), r->reason[0] ? ": " : "", r->reason);
  } else if (klr >= 0) {
    RsLrStudy s;
    int pooled = 0;
    memset(&s, 0, sizeof s);
    ref = sweep_optimum(ts, klr, test, &pooled, &s, store_err);
    if (isfinite(ref)) {
      compare_text(&run->res, ref, cmp, sizeof cmp);
      snprintf(text, sizeof text, "The sweep's fitted optimum of optimizer.lr (%s) is %.3g%s: %s",
               pooled ? "over all its trials: none ran at the tested values of the other parameters"
                      : "over its trials at the tested values of the other parameters",
               ref, s.at_edge ? ", at the edge of its grid" : "", cmp);
    } else {
      snprintf(text, sizeof text, "The sweep has no fitted optimum of optimizer.lr to compare with: %s",
               s.reason[0] ? s.reason : "no trial finished");
    }
    rs_study_lr_deinit(&s);
  } else if (!self) {
    ref = test->optimizer.lr; /* the sweep does not vary it: every trial trained at the test config's lr */
    ref_name = "sweep's lr";
    compare_text(&run->res, ref, cmp, sizeof cmp);
    snprintf(text, sizeof text, "The sweep trained at optimizer.lr = %.3g: %s", ref, cmp);
  }
  fputs("<p>", f);
  rs_report_html_escape(f, text);
  fputs("</p>\n", f);
  RsPlot p;
  TrErr e = {0};
  if (rs_lrfind_plot(&run->res, ref, ref_name, &p, &e)) {
    keep_err(store_err, &e);
    fputs("<p class=\"note\">No figure: ", f);
    rs_report_html_escape(f, e.msg);
    fputs(".</p>\n", f);
    return;
  }
  snprintf(cap, sizeof cap, "LR range test '%s' (trial #%lld): training loss against the learning rate ramped from "
           "%.3g to %.3g over %d steps (log x; grey the raw losses, blue smoothed, stopped: %s), its suggestions "
           "marked%s.", run->name, (long long)run->trial_id, run->start, run->end, run->steps,
           tr_lrfind_stop_name(run->res.stop), isfinite(ref) ? " and the black line at the sweep's learning rate" : "");
  figure(f, &p, fig, cap);
  rs_plot_deinit(&p);
}

static void section_head(FILE *f, int secno, int self) {
  fprintf(f, "<h2 id=\"lr-find\">%d. LR range test</h2>\n<p>", secno);
  fputs(self ? "This is an LR range test (<code>hpsweep lr-find</code>), not a sweep: one run with the learning "
               "rate ramped exponentially, the loss smoothed (debiased moving average, beta 0.98), stopped when "
               "the smoothed loss exceeds 4x its minimum. Suggestions: steepest descent, the minimum's lr / 10, "
               "and fastai's valley.</p>\n"
             : "Range tests stored in this database (<code>hpsweep lr-find --db</code>, or a sweep's "
               "<code>hpsweep.lr_find</code>) on this sweep's config: the same config once the swept keys and "
               "optimizer.lr are set aside. Each is compared with the learning-rate results above.</p>\n",
        f);
}

int rs_report_lrfind(FILE *f, RsStore *st, const RsTrialSet *ts, int klr, int secno, int *fig, TrErr *store_err) {
  int self = rs_lrfind_is(&ts->sweep);
  if (!self && ts->sweep.task && strcmp(ts->sweep.task, "train")) return secno;
  RsLrfindRun *v = NULL;
  int n = 0, shown = 0;
  TrErr e = {0};
  if (rs_lrfind_list(st, &v, &n, &e)) {
    keep_err(store_err, &e);
    return secno;
  }
  for (int i = 0; i < n; i++) {
    TrConfig test;
    if (self ? strcmp(v[i].name, ts->sweep.name) != 0 : config_parse(v[i].config, &test) || !same_config(ts, &test))
      continue;
    if (self && config_parse(v[i].config, &test)) continue;
    if (!shown++) section_head(f, secno, self);
    fprintf(f, "<h3 id=\"lr-find-%d\">%d.%d ", shown, secno, shown);
    rs_report_html_escape(f, v[i].name);
    fputs("</h3>\n", f);
    one_test(f, ts, klr, self, &v[i], &test, fig, store_err);
  }
  rs_lrfind_runs_free(v, n);
  return shown ? secno + 1 : secno;
}
