/* rs_lrfind.c: an LR range test as a run of its own kind in the store (rs_lrfind.h). */
#include "rs_lrfind.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rs_plot.h"
#include "tr_alloc.h"
#include "tr_json.h"
#include "tr_yaml.h"

static const char *const metric_names[3] = {"lr", "loss", "smooth_loss"};

void rs_lrfind_identity(const TrConfig *cfg, const TrLrfindOptions *o, char *id, size_t n) {
  char s[32], e[32];
  tr_fmt_double(s, sizeof s, o->start, TR_FMT_SHORTEST);
  tr_fmt_double(e, sizeof e, o->end, TR_FMT_SHORTEST);
  snprintf(id, n, "%016llx %s %s %d", (unsigned long long)tr_config_hash(cfg), s, e, o->steps);
}

void rs_lrfind_default_name(const TrConfig *cfg, const TrLrfindOptions *o, char *name, size_t n) {
  char id[96], s[32], e[32];
  rs_lrfind_identity(cfg, o, id, sizeof id);
  if (o->start == 1e-7 && o->end == 10.0 && o->steps == 100) {
    snprintf(name, n, "lr-find-%.8s", id);
    return;
  }
  tr_fmt_double(s, sizeof s, o->start, TR_FMT_SHORTEST);
  tr_fmt_double(e, sizeof e, o->end, TR_FMT_SHORTEST);
  snprintf(name, n, "lr-find-%.8s-%s-%s-%d", id, s, e, o->steps);
}

int rs_lrfind_is(const RsSweep *sw) { return sw->task && strcmp(sw->task, RS_LRFIND_TASK) == 0; }

static int store_err(RsStore *st, TrErr *err) {
  return tr_err_set(err, rs_store_errcode(st) ? rs_store_errcode(st) : TR_EDB, "%s", rs_store_errmsg(st));
}

/* The sweep row NAME, when it is this test: TR_OK with *id (-1 if no such row); TR_EINVAL when
** the name holds a sweep or another test. */
static int lookup(RsStore *st, const char *name, const char *ident, int64_t *id, TrErr *err) {
  RsSweep sw;
  *id = -1;
  int rc = rs_sweep_get(st, name, &sw);
  if (rc == TR_ENOTFOUND) return TR_OK;
  if (rc) return store_err(st, err);
  if (!rs_lrfind_is(&sw))
    rc = tr_err_set(err, TR_EINVAL, "%s: '%s' is a sweep (task %s), not an LR range test: give the test "
                    "another --name", rs_store_path(st), name, sw.task ? sw.task : "train");
  else if (strcmp(sw.spec_hash, ident) != 0)
    rc = tr_err_set(err, TR_EINVAL, "%s: '%s' holds another LR range test (config or ramp differ: %s, this "
                    "one %s): give this one another --name", rs_store_path(st), name, sw.spec_hash, ident);
  else
    *id = sw.id;
  rs_sweep_clear(&sw);
  return rc;
}

/* The summary: tr_lrfind_result_json without its points. */
static char *summary_json(const TrLrfindResult *res) {
  TrLrfindResult r = *res;
  r.n = 0;
  size_t n = tr_lrfind_result_json(&r, NULL, 0) + 1;
  char *buf = tr_malloc(n);
  if (!buf) return NULL;
  tr_lrfind_result_json(&r, buf, n);
  const char *p = "{\"points\": [], ";
  if (strncmp(buf, p, strlen(p)) == 0) memmove(buf + 1, buf + strlen(p), strlen(buf + strlen(p)) + 1);
  return buf;
}

/* The points as metrics rows (a NaN is no row: the column is NOT NULL). */
static int put_metrics(RsStore *st, const RsClaim *c, const TrConfig *cfg, const TrLrfindResult *res, TrErr *err) {
  RsMetric *rows = tr_malloc(((size_t)res->n * 3 + 1) * sizeof *rows);
  if (!rows) return tr_err_set(err, TR_ENOMEM, "out of memory");
  size_t k = 0;
  for (int i = 0; i < res->n; i++) {
    const TrLrfindPoint *p = &res->points[i];
    double v[3] = {p->lr, p->loss, p->smoothed};
    for (int m = 0; m < 3; m++)
      if (!isnan(v[m]))
        rows[k++] = (RsMetric){p->step, (int64_t)p->step * cfg->train.batch_size * cfg->model.context_length, 0,
                               v[m], metric_names[m]};
  }
  int rc = rs_metrics_put(st, c->trial_id, c->claim_token, k, rows);
  free(rows);
  return rc ? store_err(st, err) : TR_OK;
}

/* Claim the one trial and record res in it; *stored 0 when it was done already. */
static int record(RsStore *st, int64_t sweep_id, const TrConfig *cfg, const TrLrfindResult *res, int *stored,
                  int64_t *trial_id, TrErr *err) {
  char worker[64];
  snprintf(worker, sizeof worker, "lr-find:%ld", (long)getpid());
  RsClaim c;
  if (rs_trial_claim(st, sweep_id, worker, 600, 1000, &c)) return store_err(st, err);
  if (!c.claimed) { /* completed before, or another process is recording it now */
    int64_t running = c.running;
    rs_claim_clear(&c);
    return running ? tr_err_set(err, TR_EINVAL, "%s: another process is recording this LR range test now; run "
                                "again once it is done", rs_store_path(st)) : TR_OK;
  }
  *trial_id = c.trial_id;
  int rc = put_metrics(st, &c, cfg, res, err);
  char *sum = rc ? NULL : summary_json(res);
  if (!rc && !sum) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  if (!rc) {
    double best = INFINITY, last = res->n ? res->points[res->n - 1].smoothed : NAN;
    int64_t best_step = -1;
    for (int i = 0; i < res->n; i++)
      if (isfinite(res->points[i].smoothed) && res->points[i].smoothed < best)
        best = res->points[i].smoothed, best_step = res->points[i].step;
    RsTrialResult tr = {isfinite(last) ? last : NAN, best_step >= 0 ? best : NAN, best_step, res->n,
                        (int64_t)res->n * cfg->train.batch_size * cfg->model.context_length, NAN, NAN, sum,
                        NULL, 0};
    if (rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, &tr)) rc = store_err(st, err);
    else *stored = 1;
  }
  free(sum);
  rs_claim_clear(&c);
  return rc;
}

int rs_lrfind_put(RsStore *st, const char *name, const TrConfig *cfg, const TrLrfindOptions *o,
                  const TrLrfindResult *res, int *stored, int64_t *trial_id, TrErr *err) {
  char ident[96], spec[256], hash[17], s[32], e[32];
  int dummy = 0;
  int64_t tid = -1, id;
  if (!stored) stored = &dummy;
  *stored = 0;
  rs_lrfind_identity(cfg, o, ident, sizeof ident);
  int rc = lookup(st, name, ident, &id, err);
  if (rc) return rc;
  tr_fmt_double(s, sizeof s, o->start, TR_FMT_SHORTEST);
  tr_fmt_double(e, sizeof e, o->end, TR_FMT_SHORTEST);
  snprintf(spec, sizeof spec, "{\"lr_find\": {\"start\": %s, \"end\": %s, \"steps\": %d}}", s, e, o->steps);
  snprintf(hash, sizeof hash, "%.16s", ident);
  if (rs_sweep_upsert(st, name, spec, ident, RS_LRFIND_TASK, "smooth_loss", "minimize", cfg->train.seed,
                      RS_LRFIND_TASK, &id))
    return store_err(st, err);
  size_t n = tr_config_to_json(cfg, NULL, 0) + 1;
  char *json = tr_malloc(n);
  if (!json) return tr_err_set(err, TR_ENOMEM, "out of memory");
  tr_config_to_json(cfg, json, n);
  RsTrialDef def = {0, hash, json, "{}", cfg->train.seed};
  rc = rs_trials_insert(st, id, 1, &def, NULL) ? store_err(st, err) : TR_OK;
  free(json);
  if (!rc) rc = record(st, id, cfg, res, stored, &tid, err);
  if (!rc && tid < 0) { /* already there: its trial */
    RsTrialKey *keys = NULL;
    size_t nk = 0;
    if (rs_trial_keys(st, id, &keys, &nk)) rc = store_err(st, err);
    else if (nk) tid = keys[0].id;
    free(keys);
  }
  if (trial_id) *trial_id = tid;
  return rc;
}

/* ---- reading a stored test back ---- */

static int suggestion(const TrYamlNode *sg, const char *key, TrLrfindSuggestion *out) {
  const TrYamlNode *s = tr_yaml_get(sg, key), *lr = tr_yaml_get(s, "lr"), *ix = tr_yaml_get(s, "index");
  TrErr e = {0};
  int64_t i = -1;
  out->index = -1;
  out->lr = NAN;
  if (!s || !lr || !ix || tr_yaml_int64(ix, "summary", key, &i, &e)) return -1;
  out->index = (int)i;
  if (!tr_yaml_is_null(lr) && tr_yaml_double(lr, "summary", key, &out->lr, &e)) return -1;
  return 0;
}

/* stop, reason and the suggestions from the trial's summary JSON. */
static int parse_summary(const char *json, TrLrfindResult *res) {
  TrYamlDoc *doc = NULL;
  TrErr e = {0};
  if (!json || tr_yaml_load_string(json, strlen(json), "summary", &doc, &e) || !doc->root) {
    tr_yaml_destroy(doc);
    return -1;
  }
  const TrYamlNode *sg = tr_yaml_get(doc->root, "suggestions"), *stop = tr_yaml_get(doc->root, "stop"),
                   *reason = tr_yaml_get(doc->root, "reason");
  int rc = suggestion(sg, "steepest", &res->steepest) | suggestion(sg, "min10", &res->min10) |
           suggestion(sg, "valley", &res->valley);
  res->stop = -1;
  for (int k = TR_LRFIND_COMPLETED; stop && stop->str && k <= TR_LRFIND_INTERRUPTED; k++)
    if (strcmp(stop->str, tr_lrfind_stop_name(k)) == 0) res->stop = k;
  if (reason && reason->str) snprintf(res->reason, sizeof res->reason, "%s", reason->str);
  tr_yaml_destroy(doc);
  return rc || res->stop < 0 ? -1 : 0;
}

/* The points from the metrics rows: one per lr row, loss and smoothed by step (NaN if none). */
static int read_points(RsStore *st, int64_t trial_id, TrLrfindResult *res, TrErr *err) {
  RsPoint *m[3] = {0};
  size_t n[3] = {0};
  int rc = TR_OK;
  for (int k = 0; k < 3 && !rc; k++)
    if (rs_metrics_read(st, trial_id, metric_names[k], &m[k], &n[k])) rc = store_err(st, err);
  if (!rc && !(res->points = tr_calloc(n[0] + 1, sizeof *res->points))) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  size_t j1 = 0, j2 = 0;
  for (size_t i = 0; !rc && i < n[0]; i++) {
    TrLrfindPoint *p = &res->points[res->n++];
    p->step = (int)m[0][i].step;
    p->lr = m[0][i].value;
    while (j1 < n[1] && m[1][j1].step < p->step) j1++;
    while (j2 < n[2] && m[2][j2].step < p->step) j2++;
    p->loss = j1 < n[1] && m[1][j1].step == p->step ? m[1][j1].value : NAN;
    p->smoothed = j2 < n[2] && m[2][j2].step == p->step ? m[2][j2].value : NAN;
  }
  for (int k = 0; k < 3; k++) free(m[k]);
  return rc;
}

/* The completed trial of range test sweep_id into res (and its config JSON when config is not NULL). */
static int load_trial(RsStore *st, int64_t sweep_id, TrLrfindResult *res, int *found, int64_t *trial_id,
                      char **config, TrErr *err) {
  RsTrialKey *keys = NULL;
  size_t nk = 0;
  *found = 0;
  if (rs_trial_keys(st, sweep_id, &keys, &nk)) return store_err(st, err);
  int64_t tid = nk ? keys[0].id : -1;
  free(keys);
  if (tid < 0) return TR_OK;
  RsTrial t;
  if (rs_trial_get(st, tid, &t)) return store_err(st, err);
  int rc = TR_OK;
  if (t.status == RS_COMPLETED) {
    memset(res, 0, sizeof *res);
    if (parse_summary(t.summary, res))
      rc = tr_err_set(err, TR_EFORMAT, "%s: trial %lld: the LR range test's summary does not parse",
                      rs_store_path(st), (long long)tid);
    else if (!(rc = read_points(st, tid, res, err))) {
      *found = 1;
      if (trial_id) *trial_id = tid;
      if (config && !(*config = tr_strdup(t.config ? t.config : "{}"))) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
    }
    if (rc) tr_lrfind_result_free(res);
  }
  rs_trial_clear(&t);
  return rc;
}

int rs_lrfind_get(RsStore *st, const char *name, const TrConfig *cfg, const TrLrfindOptions *o,
                  TrLrfindResult *res, int *found, int64_t *trial_id, TrErr *err) {
  char ident[96];
  int64_t id;
  *found = 0;
  rs_lrfind_identity(cfg, o, ident, sizeof ident);
  int rc = lookup(st, name, ident, &id, err);
  if (rc || id < 0) return rc;
  return load_trial(st, id, res, found, trial_id, NULL, err);
}

void rs_lrfind_run_clear(RsLrfindRun *r) {
  free(r->name);
  free(r->config);
  tr_lrfind_result_free(&r->res);
  memset(r, 0, sizeof *r);
}

void rs_lrfind_runs_free(RsLrfindRun *v, int n) {
  for (int i = 0; v && i < n; i++) rs_lrfind_run_clear(&v[i]);
  free(v);
}

/* The ramp of a stored test from its spec JSON {"lr_find": {...}}. */
static void ramp(const char *spec, RsLrfindRun *r) {
  TrYamlDoc *doc = NULL;
  TrErr e = {0};
  r->start = r->end = NAN;
  if (!spec || tr_yaml_load_string(spec, strlen(spec), "spec", &doc, &e) || !doc->root) {
    tr_yaml_destroy(doc);
    return;
  }
  const TrYamlNode *l = tr_yaml_get(doc->root, "lr_find"), *v;
  int64_t steps = 0;
  if ((v = tr_yaml_get(l, "start"))) tr_yaml_double(v, "spec", "start", &r->start, &e);
  if ((v = tr_yaml_get(l, "end"))) tr_yaml_double(v, "spec", "end", &r->end, &e);
  if ((v = tr_yaml_get(l, "steps")) && tr_yaml_int64(v, "spec", "steps", &steps, &e) == TR_OK) r->steps = (int)steps;
  tr_yaml_destroy(doc);
}

int rs_lrfind_list(RsStore *st, RsLrfindRun **out, int *n, TrErr *err) {
  RsSweep *sw = NULL;
  size_t ns = 0;
  *out = NULL;
  *n = 0;
  if (rs_sweeps_list(st, &sw, &ns)) return store_err(st, err);
  RsLrfindRun *v = tr_calloc(ns + 1, sizeof *v);
  int rc = v ? TR_OK : tr_err_set(err, TR_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < ns; i++) {
    if (!rs_lrfind_is(&sw[i])) continue;
    RsLrfindRun *r = &v[*n];
    int found = 0;
    rc = load_trial(st, sw[i].id, &r->res, &found, &r->trial_id, &r->config, err);
    if (rc || !found) continue;
    ramp(sw[i].spec, r);
    if (!(r->name = tr_strdup(sw[i].name))) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
    (*n)++;
  }
  rs_sweeps_free(sw, ns);
  if (rc) {
    rs_lrfind_runs_free(v, *n);
    *n = 0;
    return rc;
  }
  *out = v;
  return TR_OK;
}

/* ---- the figure ---- */

int rs_lrfind_nearest(const TrLrfindResult *r, double lr) {
  int best = -1;
  for (int i = 0; isfinite(lr) && i < r->n; i++)
    if (isfinite(r->points[i].smoothed) &&
        (best < 0 || fabs(log(r->points[i].lr / lr)) < fabs(log(r->points[best].lr / lr))))
      best = i;
  return best;
}

static void add_points(RsPlot *p, const TrLrfindResult *r, const int *idx, int n, int smoothed, unsigned rgb,
                       int style, int clip) {
  double *x = tr_malloc((size_t)(n ? n : 1) * sizeof *x), *y = tr_malloc((size_t)(n ? n : 1) * sizeof *y);
  int k = 0;
  for (int i = 0; x && y && i < n; i++) {
    const TrLrfindPoint *pt = &r->points[idx ? idx[i] : i];
    double v = smoothed ? pt->smoothed : pt->loss;
    if (isfinite(v)) x[k] = pt->lr, y[k++] = v;
  }
  int s = x && y ? rs_plot_add(p, x, y, NULL, NULL, k, rgb, style) : -1;
  if (s < 0) p->oom = 1;
  else p->s[s].clip_range = clip;
  free(x);
  free(y);
}

int rs_lrfind_plot(const TrLrfindResult *r, double mark_lr, const char *mark_label, RsPlot *p, TrErr *err) {
  rs_plot_init(p);
  if (r->n < 2) return tr_err_set(err, TR_EINVAL, "the range test has fewer than 2 points");
  snprintf(p->title, sizeof p->title, "LR range test (%d steps, %s)", r->n, tr_lrfind_stop_name(r->stop));
  snprintf(p->xlabel, sizeof p->xlabel, "learning rate");
  snprintf(p->ylabel, sizeof p->ylabel, "training loss");
  p->logx = 1;
  add_points(p, r, NULL, r->n, 0, 0xb0b0b0, RS_STYLE_POINTS, 0); /* exploding raw losses would flatten it */
  add_points(p, r, NULL, r->n, 1, 0x1f77b4, RS_STYLE_LINE, 1);
  rs_plot_legend_add(p, "loss", 0xb0b0b0, RS_STYLE_POINTS);
  rs_plot_legend_add(p, "smoothed", 0x1f77b4, RS_STYLE_LINE);
  const TrLrfindSuggestion *sg[3] = {&r->steepest, &r->min10, &r->valley};
  const char *names[3] = {"steepest", "min/10", "valley"};
  const unsigned rgb[3] = {0xd62728, 0x2ca02c, 0x9467bd};
  for (int k = 0; k < 3; k++) {
    int i = rs_lrfind_nearest(r, sg[k]->lr);
    if (i < 0) continue;
    add_points(p, r, &i, 1, 1, rgb[k], RS_STYLE_POINTS, 1);
    char text[64];
    snprintf(text, sizeof text, "%s %.2e", names[k], sg[k]->lr);
    rs_plot_legend_add(p, text, rgb[k], RS_STYLE_POINTS);
  }
  if (isfinite(mark_lr) && mark_lr > 0) {
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < r->n; i++)
      if (isfinite(r->points[i].smoothed)) lo = fmin(lo, r->points[i].smoothed), hi = fmax(hi, r->points[i].smoothed);
    double x[2] = {mark_lr, mark_lr}, y[2] = {lo, isfinite(hi) ? hi : lo};
    if (isfinite(lo) && rs_plot_add(p, x, y, NULL, NULL, 2, 0x000000, RS_STYLE_LINE) < 0) p->oom = 1;
    char text[96];
    snprintf(text, sizeof text, "%s %.2e", mark_label ? mark_label : "mark", mark_lr);
    rs_plot_legend_add(p, text, 0x000000, RS_STYLE_LINE);
  }
  if (p->oom) {
    rs_plot_deinit(p);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  return TR_OK;
}
