/*
** rs_report_search.c: the report's section `search` for a model-based sweep (method bayes:
** the GP or TPE): the best value so far against trial number beside random search's on
** the same space, and where the proposals went (rs_report_int.h, docs/results.md).
**
** "The same space": a sweep of method random in the same database whose spec has the same
** parameters (names flattened through nested `parameters:` blocks; distribution, W&B's
** default when omitted; min, max, q, mu, sigma, values, probabilities, value, numbers
** compared as numbers) and the same metric and goal (sweeps.metric, sweeps.goal). Of
** several, the one with the most completed trials (the earliest on a tie).
** Trial number = trials.idx + 1: the order in which the sweep proposed its trials.
*/
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rs_report_int.h"
#include "tr_alloc.h"
#include "tr_sort.h"
#include "tr_yaml.h"

#define SEARCH_MAX_PARAMS 12 /* proposal figures; the rest of the parameters are named */
#define RGB_MODEL 0x1f77b4
#define RGB_MODEL_LIGHT 0x9ecae1
#define RGB_RANDOM 0xe6550d
#define RGB_BEST 0xd62728

/* ---- the space as the spec writes it -------------------------------------- */

typedef void (*LeafFn)(void *ctx, const char *name, const TrYamlNode *leaf);

/* Every parameter of a `parameters:` mapping, nested blocks flattened to dotted names. */
static void leaves_walk(const TrYamlNode *params, const char *prefix, LeafFn fn, void *ctx) {
  if (!params || params->kind != TR_YAML_MAP) return;
  for (int i = 0; i < params->n; i++) {
    char name[512];
    size_t lp = strlen(prefix), lk = strlen(params->keys[i]->str);
    if (lp + lk + 2 > sizeof name) continue; /* no key of a training config is this long */
    memcpy(name, prefix, lp);
    memcpy(name + lp, params->keys[i]->str, lk + 1);
    const TrYamlNode *v = params->items[i], *nested = tr_yaml_get(v, "parameters");
    if (nested && nested->kind == TR_YAML_MAP) {
      memcpy(name + lp + lk, ".", 2);
      leaves_walk(nested, name, fn, ctx);
    } else {
      fn(ctx, name, v);
    }
  }
}

/* The distribution as written, else W&B's default for the keys given. */
static const char *leaf_dist(const TrYamlNode *p) {
  const TrYamlNode *d = tr_yaml_get(p, "distribution"), *lo = tr_yaml_get(p, "min"), *hi = tr_yaml_get(p, "max");
  if (d && d->kind == TR_YAML_SCALAR) return d->str;
  if (tr_yaml_get(p, "values")) return "categorical";
  if (tr_yaml_get(p, "value")) return "constant";
  int64_t a, b;
  if (lo && hi && lo->kind == TR_YAML_SCALAR && hi->kind == TR_YAML_SCALAR && !tr_parse_int64(lo->str, &a) &&
      !tr_parse_int64(hi->str, &b))
    return "int_uniform";
  if (lo || hi) return "uniform";
  if (tr_yaml_get(p, "mu") || tr_yaml_get(p, "sigma")) return "normal";
  return "?";
}

/* A node as canonical text: numbers as %.17g, strings quoted, lists and maps in order. */
static void canon_node(FILE *f, const TrYamlNode *n) {
  double v;
  if (!n) {
    fputs("~", f);
  } else if (n->kind == TR_YAML_SCALAR) {
    if (!tr_parse_double(n->str, &v)) fprintf(f, "%.17g", v);
    else fprintf(f, "\"%s\"", n->str);
  } else {
    fputc(n->kind == TR_YAML_SEQ ? '[' : '{', f);
    for (int i = 0; i < n->n; i++) {
      if (i) fputc(',', f);
      if (n->kind == TR_YAML_MAP) fprintf(f, "%s:", n->keys[i]->str);
      canon_node(f, n->items[i]);
    }
    fputc(n->kind == TR_YAML_SEQ ? ']' : '}', f);
  }
}

typedef struct SigLines {
  char **line;
  int n, cap, oom;
} SigLines;

/* One parameter's line: "name dist min=.. max=.." with the defaults W&B fills in. */
static void sig_leaf(void *ctx, const char *name, const TrYamlNode *p) {
  static const char *const keys[] = {"min", "max", "q", "mu", "sigma", "values", "probabilities", "value"};
  SigLines *L = ctx;
  if (L->oom) return;
  if (L->n == L->cap) {
    char **g = tr_realloc(L->line, (size_t)(L->cap ? 2 * L->cap : 16) * sizeof *g);
    if (!g) {
      L->oom = 1;
      return;
    }
    L->line = g, L->cap = L->cap ? 2 * L->cap : 16;
  }
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  if (!f) {
    L->oom = 1;
    return;
  }
  const char *dist = leaf_dist(p);
  fprintf(f, "%s %s", name, dist);
  for (size_t k = 0; k < sizeof keys / sizeof *keys; k++) {
    const TrYamlNode *v = p && p->kind == TR_YAML_MAP ? tr_yaml_get(p, keys[k]) : NULL;
    int qd = k == 2 && !strncmp(dist, "q_", 2), nd = (k == 3 || k == 4) && strstr(dist, "normal");
    if (!v && !qd && !nd) continue;
    fprintf(f, " %s=", keys[k]);
    if (v) canon_node(f, v);
    else fputs(k == 3 ? "0" : "1", f); /* q 1, mu 0, sigma 1 */
  }
  if (!p || p->kind != TR_YAML_MAP) canon_node(f, p);
  if (fclose(f) || !buf) {
    free(buf);
    L->oom = 1;
    return;
  }
  L->line[L->n++] = buf;
}

static int str_cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

/* The space of a sweep as one text (free()): metric, goal, then its parameters' lines in
** name order. NULL when the spec has no parameters (or does not parse); *oom on OOM. */
static char *space_sig(const RsSweep *sw, int *oom) {
  TrYamlDoc *doc = rs_sweep_spec_doc(sw);
  if (!doc) return NULL;
  SigLines L = {0};
  leaves_walk(tr_yaml_get(doc->root, "parameters"), "", sig_leaf, &L);
  tr_yaml_destroy(doc);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = L.oom || !L.n ? NULL : open_memstream(&buf, &len);
  if (f) {
    tr_sort(L.line, (size_t)L.n, sizeof *L.line, str_cmp);
    fprintf(f, "metric=%s goal=%s\n", sw->metric, sw->goal);
    for (int i = 0; i < L.n; i++) fprintf(f, "%s\n", L.line[i]);
    if (fclose(f)) free(buf), buf = NULL;
  }
  if (L.n && !L.oom && !buf) L.oom = 1;
  *oom |= L.oom;
  for (int i = 0; i < L.n; i++) free(L.line[i]);
  free(L.line);
  return buf;
}

typedef struct DistFind {
  const char *name;
  const char *dist; /* borrowed from the document */
} DistFind;

static void dist_find(void *ctx, const char *name, const TrYamlNode *p) {
  DistFind *d = ctx;
  if (!strcmp(name, d->name)) d->dist = leaf_dist(p);
}

/* Does the spec draw this parameter from a log distribution? */
static int param_is_log(const TrYamlDoc *doc, const char *name) {
  DistFind d = {name, NULL};
  if (doc) leaves_walk(tr_yaml_get(doc->root, "parameters"), "", dist_find, &d);
  return d.dist && strstr(d.dist, "log") != NULL;
}

/* ---- random search on the same space -------------------------------------- */

/* Load into *rnd the random sweep on the same space as ts's (1), or 0 when there is none;
** -1 on a read error (kept on r). */
static int random_twin(RsRep *r, RsTrialSet *rnd) {
  int oom = 0, n = 0, pick = -1;
  char *mine = space_sig(&r->ts->sweep, &oom);
  RsSweep *v = NULL;
  int rc = mine ? rs_query_sweeps(r->st, &v, &n) : TR_OK;
  TrErr e = {0};
  if (rc) tr_err_set(&e, rc, "%s", rs_store_errmsg(r->st));
  for (int i = 0; rc == TR_OK && i < n; i++) {
    if (strcmp(v[i].method, "random") || v[i].id == r->ts->sweep.id) continue;
    char *theirs = space_sig(&v[i], &oom);
    if (theirs && !strcmp(theirs, mine) && (pick < 0 || v[i].count[RS_COMPLETED] > v[pick].count[RS_COMPLETED]))
      pick = i;
    free(theirs);
  }
  if (rc == TR_OK && pick >= 0 && (rc = rs_trials_load(r->st, v[pick].name, rnd)))
    tr_err_set(&e, rc, "%s", rs_store_errmsg(r->st));
  rs_sweeps_free(v, (size_t)n);
  free(mine);
  if (oom) {
    if (rc == TR_OK && pick >= 0) rs_trials_deinit(rnd);
    rs_rep_oom(r);
    return -1;
  }
  if (rc) {
    rs_rep_store_error(r, rc, &e);
    return -1;
  }
  return pick >= 0;
}

/* ---- best so far ---------------------------------------------------------- */

typedef struct Curve {
  double *x, *y; /* (n) trial number, best so far: from the first trial with a result */
  int n;
  double best;   /* NaN: no result */
  int at;        /* the trial number where best was first reached */
} Curve;

static int has_result(const RsTrialRow *t) {
  return !isnan(t->best) && t->status != RS_FAILED && t->status != RS_DIVERGED;
}

/* 0, or -1 out of memory. */
static int curve_build(const RsTrialSet *ts, Curve *c) {
  memset(c, 0, sizeof *c);
  c->best = NAN;
  c->x = tr_malloc(((size_t)ts->n + 1) * sizeof *c->x);
  c->y = tr_malloc(((size_t)ts->n + 1) * sizeof *c->y);
  if (!c->x || !c->y) return -1;
  for (int i = 0; i < ts->n; i++) {
    const RsTrialRow *t = &ts->t[i];
    if (has_result(t) && (isnan(c->best) || rs_better(ts, t->best, c->best))) c->best = t->best, c->at = (int)t->idx + 1;
    if (isnan(c->best)) continue;
    c->x[c->n] = (double)t->idx + 1;
    c->y[c->n++] = c->best;
  }
  return 0;
}

static void curve_free(Curve *c) {
  free(c->x);
  free(c->y);
}

/* The best so far after `trial` trials (NaN if none had a result by then). */
static double curve_at(const Curve *c, double trial) {
  double v = NAN;
  for (int i = 0; i < c->n && c->x[i] <= trial; i++) v = c->y[i];
  return v;
}

/* The first trial number reaching v or better, 0 if none. */
static int curve_reach(const RsTrialSet *ts, const Curve *c, double v) {
  for (int i = 0; i < c->n; i++)
    if (c->y[i] == v || rs_better(ts, c->y[i], v)) return (int)c->x[i];
  return 0;
}

/* ---- figures -------------------------------------------------------------- */

/* Figure: every trial's value as a dot, the best so far as a line, random's beside it. */
static void best_figure(RsRep *r, const Curve *c, const RsTrialSet *rnd, const Curve *rc_, const char *model,
                        const char *caption) {
  const RsTrialSet *ts = r->ts;
  RsPlot pl;
  rs_plot_init(&pl);
  snprintf(pl.title, sizeof pl.title, "best %s so far", ts->metric);
  snprintf(pl.xlabel, sizeof pl.xlabel, "trial number");
  snprintf(pl.ylabel, sizeof pl.ylabel, "%s", ts->metric);
  double *x = tr_malloc(((size_t)ts->n + 1) * sizeof *x), *y = tr_malloc(((size_t)ts->n + 1) * sizeof *y);
  int n = 0;
  for (int i = 0; x && y && i < ts->n; i++)
    if (has_result(&ts->t[i])) x[n] = (double)ts->t[i].idx + 1, y[n++] = ts->t[i].best;
  if (!x || !y) pl.oom = 1;
  else if (n) rs_plot_add(&pl, x, y, NULL, NULL, n, RGB_MODEL_LIGHT, RS_STYLE_POINTS);
  rs_plot_add(&pl, c->x, c->y, NULL, NULL, c->n, RGB_MODEL, RS_STYLE_LINE);
  char leg[160];
  snprintf(leg, sizeof leg, "%s: best so far", model);
  rs_plot_legend_add(&pl, leg, RGB_MODEL, RS_STYLE_LINE);
  rs_plot_legend_add(&pl, "each trial", RGB_MODEL_LIGHT, RS_STYLE_POINTS);
  if (rnd && rc_->n) {
    rs_plot_add(&pl, rc_->x, rc_->y, NULL, NULL, rc_->n, RGB_RANDOM, RS_STYLE_LINE);
    snprintf(leg, sizeof leg, "random search (%s)", rnd->sweep.name);
    rs_plot_legend_add(&pl, leg, RGB_RANDOM, RS_STYLE_LINE);
  }
  free(x);
  free(y);
  TrErr e = {0};
  int rc = pl.oom ? tr_err_set(&e, TR_ENOMEM, "report: out of memory") : TR_OK;
  rs_rep_figure(r, &pl, rc, &e, caption);
  rs_plot_deinit(&pl);
}

/* A parameter's value in trial t as a number: its own (numeric) or its index (categorical). */
static double param_y(const RsParam *p, const RsTrialRow *t, int k) {
  int v = t->pv[k];
  return v < 0 ? NAN : p->numeric ? p->nums[v] : (double)v;
}

/* The caption of a proposal figure, from the data: the first and last quarter's spans
** (numeric) or the last quarter's most chosen value (categorical), and the best trial's. */
static void proposal_caption(const RsTrialSet *ts, int k, int best, int logy, char *cap, size_t n) {
  const RsParam *p = &ts->p[k];
  int q = ts->n / 4 > 0 ? ts->n / 4 : 1;
  size_t len = (size_t)snprintf(cap, n, "%s of each trial against trial number (%s%s).", p->name,
                                p->numeric ? "its own scale" : "the value's index", logy ? ", log axis" : "");
  if (p->numeric && ts->n >= 2 * q && len < n) {
    double lo[2] = {INFINITY, INFINITY}, hi[2] = {-INFINITY, -INFINITY};
    for (int h = 0; h < 2; h++)
      for (int i = h ? ts->n - q : 0; i < (h ? ts->n : q); i++) {
        double y = param_y(p, &ts->t[i], k);
        if (!isnan(y)) lo[h] = fmin(lo[h], y), hi[h] = fmax(hi[h], y);
      }
    if (isfinite(lo[0]) && isfinite(lo[1]))
      len += (size_t)snprintf(cap + len, n - len, " The first %d proposals span %.4g to %.4g, the last %d %.4g to %.4g.",
                              q, lo[0], hi[0], q, lo[1], hi[1]);
  } else if (!p->numeric && len < n) {
    int top = -1, topn = 0;
    for (int v = 0; v < p->n_values; v++) {
      int c = 0;
      for (int i = ts->n - q; i < ts->n; i++) c += ts->t[i].pv[k] == v;
      if (c > topn) top = v, topn = c;
    }
    len += (size_t)snprintf(cap + len, n - len, " Values: ");
    for (int v = 0; v < p->n_values && len < n; v++)
      len += (size_t)snprintf(cap + len, n - len, "%s%d = %s", v ? ", " : "", v, p->values[v]);
    if (top >= 0 && len < n)
      len += (size_t)snprintf(cap + len, n - len, ". The last %d proposals chose %s %d times.", q, p->values[top], topn);
  }
  if (best >= 0 && ts->t[best].pv[k] >= 0 && len < n) {
    char v[64];
    if (p->numeric) snprintf(v, sizeof v, "%.4g", param_y(p, &ts->t[best], k));
    else snprintf(v, sizeof v, "%s", p->values[ts->t[best].pv[k]]);
    snprintf(cap + len, n - len, " The best trial (#%lld, trial %lld) has %s = %s.", (long long)ts->t[best].id,
             (long long)ts->t[best].idx + 1, p->short_name, v);
  }
}

/* Figure: parameter k of every trial against trial number, the best trial in red. */
static void proposal_figure(RsRep *r, int k, int best, int logy) {
  const RsTrialSet *ts = r->ts;
  const RsParam *p = &ts->p[k];
  RsPlot pl;
  rs_plot_init(&pl);
  snprintf(pl.title, sizeof pl.title, "%s of each proposal", p->name);
  snprintf(pl.xlabel, sizeof pl.xlabel, "trial number");
  snprintf(pl.ylabel, sizeof pl.ylabel, "%s%s", p->short_name, p->numeric ? "" : " (index)");
  pl.logy = logy;
  double *x = tr_malloc(((size_t)ts->n + 1) * sizeof *x), *y = tr_malloc(((size_t)ts->n + 1) * sizeof *y);
  int n = 0;
  for (int i = 0; x && y && i < ts->n; i++) {
    double v = param_y(p, &ts->t[i], k);
    if (!isnan(v)) x[n] = (double)ts->t[i].idx + 1, y[n++] = v;
  }
  if (!x || !y) pl.oom = 1;
  else rs_plot_add(&pl, x, y, NULL, NULL, n, RGB_MODEL, RS_STYLE_POINTS);
  rs_plot_legend_add(&pl, "a trial", RGB_MODEL, RS_STYLE_POINTS);
  if (best >= 0 && !isnan(param_y(p, &ts->t[best], k))) {
    double bx = (double)ts->t[best].idx + 1, by = param_y(p, &ts->t[best], k);
    rs_plot_add(&pl, &bx, &by, NULL, NULL, 1, RGB_BEST, RS_STYLE_POINTS);
    rs_plot_legend_add(&pl, "the best trial", RGB_BEST, RS_STYLE_POINTS);
  }
  free(x);
  free(y);
  char cap[1024];
  proposal_caption(ts, k, best, logy, cap, sizeof cap);
  TrErr e = {0};
  int rc = pl.oom ? tr_err_set(&e, TR_ENOMEM, "report: out of memory") : TR_OK;
  if (rc == TR_OK && n == 0) rc = tr_err_set(&e, TR_ENOTFOUND, "no trial holds %s", p->name);
  rs_rep_figure(r, &pl, rc, &e, cap);
  rs_plot_deinit(&pl);
}

/* ---- the section ---------------------------------------------------------- */

/* "bayes (GP) reached X at trial N of M. Random search on the same space (...) ..." */
static void best_caption(const RsTrialSet *ts, const Curve *c, const RsTrialSet *rnd, const Curve *rcv,
                         const char *model, char *cap, size_t n) {
  char b[32], v[32];
  rs_fmt_metric(b, sizeof b, c->best);
  size_t len = (size_t)snprintf(cap, n, "Best %s so far against trial number. %s reached %s at trial %d of %d.",
                                ts->metric, model, b, c->at, ts->n);
  if (!rnd) {
    if (len < n)
      snprintf(cap + len, n - len, " No random search on the same space in this database to compare with.");
    return;
  }
  if (isnan(rcv->best)) {
    if (len < n)
      snprintf(cap + len, n - len, " Random search on the same space (sweep %s) has no result yet.", rnd->sweep.name);
    return;
  }
  rs_fmt_metric(v, sizeof v, rcv->best);
  if (len < n)
    len += (size_t)snprintf(cap + len, n - len, " Random search on the same space (sweep %s, %d trials) reached %s at trial %d",
                            rnd->sweep.name, rnd->n, v, rcv->at);
  double same = curve_at(rcv, c->at);
  if (rnd->n >= c->at && !isnan(same) && len < n) {
    rs_fmt_metric(v, sizeof v, same);
    len += (size_t)snprintf(cap + len, n - len, "; after %d trials its best was %s", c->at, v);
  }
  int reach = curve_reach(rnd, rcv, c->best);
  if (len < n) {
    if (reach) snprintf(cap + len, n - len, "; it first reached %s at trial %d.", b, reach);
    else snprintf(cap + len, n - len, "; it never reached %s in its %d trials.", b, rnd->n);
  }
}

static void search_intro(RsRep *r, const char *model, int tpe) {
  char t[512];
  snprintf(t, sizeof t, "This sweep proposed each trial with %s from the results before it (method bayes%s; "
                        "docs/search.md). Trial number is the order of the proposals (trials.idx + 1).",
           model, tpe ? ", hpsweep.sampler: tpe" : "");
  rs_rep_para(r, t);
}

int rs_report_search(RsRep *r, int secno) {
  const RsTrialSet *ts = r->ts;
  if (strcmp(ts->sweep.method, "bayes")) return secno;
  TrYamlDoc *doc = rs_sweep_spec_doc(&ts->sweep);
  const TrYamlNode *smp = doc ? tr_yaml_get(tr_yaml_get(doc->root, "hpsweep"), "sampler") : NULL;
  int tpe = smp && smp->kind == TR_YAML_SCALAR && !strcmp(smp->str, "tpe");
  const char *model = tpe ? "TPE (Optuna's)" : "bayes (GP, W&B's)";
  fprintf(r->f, "<h2 id=\"search\">%d. Model-based search</h2>\n", secno);
  search_intro(r, model, tpe);
  RsTrialSet rnd;
  int twin = random_twin(r, &rnd);
  Curve c, rc_ = {0};
  if (curve_build(ts, &c) || (twin > 0 && curve_build(&rnd, &rc_))) {
    rs_rep_oom(r);
  } else if (twin >= 0 && isnan(c.best)) {
    fputs("<p class=\"note\">No trial has a result yet: no best-so-far curve.</p>\n", r->f);
  } else if (twin >= 0) {
    char cap[1024];
    best_caption(ts, &c, twin > 0 ? &rnd : NULL, &rc_, tpe ? "TPE" : "bayes (GP)", cap, sizeof cap);
    best_figure(r, &c, twin > 0 ? &rnd : NULL, &rc_, tpe ? "TPE" : "bayes (GP)", cap);
  }
  curve_free(&c);
  curve_free(&rc_);
  if (twin > 0) rs_trials_deinit(&rnd);
  int best = -1, shown = 0;
  for (int i = 0; i < ts->n; i++)
    if (has_result(&ts->t[i]) && (best < 0 || rs_better(ts, ts->t[i].best, ts->t[best].best))) best = i;
  for (int k = 0; k < ts->np; k++) {
    const RsParam *p = &ts->p[k];
    if (!p->varies || p->is_seed) continue;
    if (shown++ == SEARCH_MAX_PARAMS) {
      fprintf(r->f, "<p class=\"note\">Further parameters not drawn: <code>");
      rs_rep_esc(r->f, p->name);
      fprintf(r->f, "</code> and any after it (the first %d are).</p>\n", SEARCH_MAX_PARAMS);
      break;
    }
    int logy = p->numeric && param_is_log(doc, p->name) && p->nums[0] > 0;
    proposal_figure(r, k, best, logy);
  }
  tr_yaml_destroy(doc);
  return secno + 1;
}
