/* rs_query.c: the result views on the store's reads: sweep summaries, trials ranked on a
** metric with their parameters, grouping over seeds, diversity, export. No SQL here. */
#include "rs_query.h"

#include "rs_backend.h" /* rs_store_say: a view's message on the handle */

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rs_stats.h"
#include "tr_alloc.h"
#include "tr_json.h"
#include "tr_sort.h"

static char *xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = tr_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static int oom(TrErr *err) { return tr_err_set(err, TR_ENOMEM, "out of memory"); }
static int st_oom(RsStore *st) { return rs_store_say(st, TR_ENOMEM, "out of memory"); }

/* Room for element n of *v (capacity *cap, `first` at first); TR_ENOMEM leaves *v as it was. */
static int grow(void **v, size_t n, size_t *cap, size_t size, size_t first) {
  if (n < *cap) return TR_OK;
  size_t c = *cap ? 2 * *cap : first;
  void *nv = tr_realloc(*v, c * size);
  if (!nv) return TR_ENOMEM;
  *v = nv;
  *cap = c;
  return TR_OK;
}

/* ---- sweeps -------------------------------------------------------------- */

/* Counts by status and the best metric of trials that did not fail or diverge. */
static int sweep_summary(RsStore *st, RsSweep *s) {
  RsCounts c;
  int rc = rs_sweep_counts(st, s->id, &c);
  if (rc) return rc;
  s->maximize = s->goal && strcmp(s->goal, "maximize") == 0;
  memcpy(s->count, c.n, sizeof s->count);
  s->n_trials = c.total;
  s->best = NAN;
  s->best_trial = -1;
  unsigned ok = ~(RS_STATUS_BIT(RS_FAILED) | RS_STATUS_BIT(RS_DIVERGED)) & ((1u << RS_STATUS_COUNT) - 1);
  RsTrial b;
  rc = rs_trial_best(st, s->id, s->maximize, ok, &b);
  if (rc == TR_ENOTFOUND) return TR_OK;
  if (rc) return rc;
  s->best = b.best_metric;
  s->best_trial = b.id;
  rs_trial_clear(&b);
  return TR_OK;
}

static int cmp_created(const void *a, const void *b) {
  const RsSweep *x = a, *y = b;
  if (x->created != y->created) return x->created < y->created ? -1 : 1;
  return (x->id > y->id) - (x->id < y->id);
}

/* The store's sweeps by created, then id. */
static int sweeps_sorted(RsStore *st, RsSweep **v, size_t *n) {
  int rc = rs_sweeps_list(st, v, n);
  if (rc) return rc;
  tr_sort(*v, *n, sizeof **v, cmp_created); /* an empty store's list is NULL */
  return TR_OK;
}

int rs_query_sweeps(RsStore *st, RsSweep **out, int *n) {
  *out = NULL;
  *n = 0;
  RsSweep *v;
  size_t nv;
  int rc = sweeps_sorted(st, &v, &nv);
  for (size_t i = 0; rc == TR_OK && i < nv; i++) rc = sweep_summary(st, &v[i]);
  if (rc != TR_OK) {
    rs_sweeps_free(v, nv);
    return rc;
  }
  *out = v;
  *n = (int)nv;
  return TR_OK;
}

/* "a, b, c" from a list, cut with "..." if long; the message must stay one line. */
static void join_names(char *buf, size_t cap, char *const *names, int n) {
  size_t len = 0;
  buf[0] = '\0';
  for (int i = 0; i < n; i++) {
    size_t need = strlen(names[i]) + 2;
    if (len + need + 4 >= cap) {
      snprintf(buf + len, cap - len, "%s...", i ? ", " : "");
      return;
    }
    len += (size_t)snprintf(buf + len, cap - len, "%s%s", i ? ", " : "", names[i]);
  }
  if (n == 0) snprintf(buf, cap, "none");
}

int rs_sweep_find(RsStore *st, const char *name, RsSweep *out) {
  int rc = rs_sweep_get(st, name, out);
  if (rc == TR_OK) {
    if ((rc = sweep_summary(st, out))) rs_sweep_clear(out);
    return rc;
  }
  if (rc != TR_ENOTFOUND) return rc;
  /* List what exists. */
  RsSweep *v;
  size_t nv;
  if ((rc = sweeps_sorted(st, &v, &nv))) return rc;
  char *names[64];
  int n = 0;
  for (size_t i = 0; i < nv && n < 64; i++) names[n++] = v[i].name;
  char list[700];
  join_names(list, sizeof list, names, n);
  rs_sweeps_free(v, nv);
  return rs_store_say(st, TR_ENOTFOUND, "no sweep '%s' in %s (sweeps: %s)", name, rs_store_path(st), list);
}

/* ---- trials and parameters ----------------------------------------------- */

void rs_trials_deinit(RsTrialSet *ts) {
  if (!ts) return;
  for (int i = 0; i < ts->n; i++) {
    RsTrialRow *t = &ts->t[i];
    free(t->hash), free(t->config), free(t->params), free(t->error), free(t->pv);
  }
  free(ts->t);
  for (int k = 0; k < ts->np; k++) {
    RsParam *p = &ts->p[k];
    for (int j = 0; j < p->n_values; j++) free(p->values[j]);
    free(p->values), free(p->nums), free(p->name), free(p->short_name);
  }
  free(ts->p);
  free(ts->metric);
  rs_sweep_clear(&ts->sweep);
  memset(ts, 0, sizeof *ts);
}

static int is_seed_name(const char *k) {
  size_t n = strlen(k);
  return strcmp(k, "seed") == 0 || (n >= 5 && strcmp(k + n - 5, ".seed") == 0);
}

/* Geometric-looking spacing: log-gaps vary less than linear gaps. */
static int looks_log(const RsParam *p) {
  if (!p->numeric || p->n_values < 2) return 0;
  double lo = p->nums[0], hi = p->nums[p->n_values - 1];
  if (!(lo > 0)) return 0;
  const char *s = p->short_name;
  size_t n = strlen(s);
  int lrish = (n >= 2 && strcmp(s + n - 2, "lr") == 0) || strstr(s, "decay") || strstr(s, "eps");
  if (hi / lo >= 4 && lrish) return 1;
  if (hi / lo < 10) return 0;
  if (p->n_values < 3) return 1;
  double dl[64], dd[64];
  int m = 0;
  for (int j = 1; j < p->n_values && m < 64; j++, m++) {
    dl[m] = log(p->nums[j] / p->nums[j - 1]);
    dd[m] = p->nums[j] - p->nums[j - 1];
  }
  double cl = rs_stats_std(dl, m) / rs_stats_mean(dl, m), cd = rs_stats_std(dd, m) / rs_stats_mean(dd, m);
  return cl < cd;
}

static int param_index(RsTrialSet *ts, const char *key) {
  for (int k = 0; k < ts->np; k++)
    if (strcmp(ts->p[k].name, key) == 0) return k;
  return -1;
}

/* ---- lookups that keep loading linear in the trials (100,000 of them) ---- */

/* Trial ids sorted, with their index in ts->t: a row's trial in O(log n). */
typedef struct IdPos {
  int64_t id;
  int i;
} IdPos;

static int cmp_idpos(const void *a, const void *b) {
  int64_t x = ((const IdPos *)a)->id, y = ((const IdPos *)b)->id;
  return (x > y) - (x < y);
}

static IdPos *idpos_build(const RsTrialSet *ts) {
  IdPos *m = tr_malloc(((size_t)ts->n + 1) * sizeof *m);
  if (!m) return NULL;
  for (int i = 0; i < ts->n; i++) m[i] = (IdPos){ts->t[i].id, i};
  tr_sort(m, (size_t)ts->n, sizeof *m, cmp_idpos);
  return m;
}

static int idpos_find(const IdPos *m, int n, int64_t id) {
  IdPos key = {id, 0};
  const IdPos *hit = bsearch(&key, m, (size_t)n, sizeof *m, cmp_idpos);
  return hit ? hit->i : -1;
}

/* The distinct values of one parameter, hashed by text and by number: a value matches the
** first earlier one equal in text or (both numeric) in number, as a linear search would. */
typedef struct VSet {
  int *by_text, *by_num; /* slot: value index + 1; 0 empty */
  size_t mask;
  int cap;               /* allocated length of the parameter's values and nums */
} VSet;

static uint64_t text_hash(const char *s) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (; *s; s++) h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
  return h;
}

static uint64_t num_hash(double x) {
  uint64_t h;
  if (x == 0) x = 0; /* -0 == 0 */
  memcpy(&h, &x, sizeof h);
  h *= 0x9e3779b97f4a7c15ULL;
  return h ^ (h >> 31);
}

static void vset_put(int *tab, size_t mask, uint64_t h, int j) {
  size_t i = (size_t)h & mask;
  while (tab[i]) i = (i + 1) & mask;
  tab[i] = j + 1;
}

/* Index of the value matching (text, num), or -1. */
static int vset_find(const VSet *v, const RsParam *p, const char *text, int numeric, double num) {
  int best = -1;
  if (!v->by_text) return -1;
  for (size_t i = (size_t)text_hash(text) & v->mask; v->by_text[i]; i = (i + 1) & v->mask)
    if (strcmp(p->values[v->by_text[i] - 1], text) == 0) {
      best = v->by_text[i] - 1;
      break;
    }
  if (numeric)
    for (size_t i = (size_t)num_hash(num) & v->mask; v->by_num[i]; i = (i + 1) & v->mask)
      if (p->nums[v->by_num[i] - 1] == num) {
        if (best < 0 || v->by_num[i] - 1 < best) best = v->by_num[i] - 1;
        break;
      }
  return best;
}

/* Append (text, num) to p's values; grows and rehashes at half load. */
static int vset_add(VSet *v, RsParam *p, const char *text, double num) {
  int j = p->n_values;
  if (j == v->cap) {
    int cap = v->cap ? 2 * v->cap : 8;
    char **nv = tr_realloc(p->values, (size_t)cap * sizeof *nv);
    if (nv) p->values = nv;
    double *nn = tr_realloc(p->nums, (size_t)cap * sizeof *nn);
    if (nn) p->nums = nn;
    if (!nv || !nn) return TR_ENOMEM;
    v->cap = cap;
  }
  if (!(p->values[j] = xstrdup(text))) return TR_ENOMEM;
  p->nums[j] = num;
  p->n_values++;
  if ((size_t)p->n_values * 2 > v->mask) {
    size_t size = 64;
    while (size < (size_t)p->n_values * 4) size *= 2;
    int *t = tr_calloc(size, sizeof *t), *n = tr_calloc(size, sizeof *n);
    if (!t || !n) {
      free(t), free(n);
      return TR_ENOMEM;
    }
    free(v->by_text), free(v->by_num);
    v->by_text = t, v->by_num = n, v->mask = size - 1;
    for (int k = 0; k < p->n_values; k++) {
      vset_put(t, v->mask, text_hash(p->values[k]), k);
      if (!isnan(p->nums[k])) vset_put(n, v->mask, num_hash(p->nums[k]), k);
    }
  } else {
    vset_put(v->by_text, v->mask, text_hash(text), j);
    if (!isnan(num)) vset_put(v->by_num, v->mask, num_hash(num), j);
  }
  return TR_OK;
}

typedef struct NumPos {
  double v;
  int j;
} NumPos;

static int cmp_numpos(const void *a, const void *b) {
  double x = ((const NumPos *)a)->v, y = ((const NumPos *)b)->v;
  return (x > y) - (x < y);
}

/* Sort a numeric parameter's values (distinct numbers) and remap the trials' indices. */
static int param_sort(RsTrialSet *ts, int k) {
  RsParam *p = &ts->p[k];
  int m = p->n_values;
  NumPos *np = tr_malloc(((size_t)m + 1) * sizeof *np);
  int *inv = tr_malloc(((size_t)m + 1) * sizeof *inv);
  char **nv = tr_malloc(((size_t)m + 1) * sizeof *nv);
  double *nn = tr_malloc(((size_t)m + 1) * sizeof *nn);
  if (!np || !inv || !nv || !nn) {
    free(np), free(inv), free(nv), free(nn);
    return TR_ENOMEM;
  }
  for (int j = 0; j < m; j++) np[j] = (NumPos){p->nums[j], j};
  tr_sort(np, (size_t)m, sizeof *np, cmp_numpos);
  for (int j = 0; j < m; j++) {
    nv[j] = p->values[np[j].j], nn[j] = np[j].v;
    inv[np[j].j] = j;
  }
  free(p->values), free(p->nums);
  p->values = nv, p->nums = nn;
  for (int i = 0; i < ts->n; i++)
    if (ts->t[i].pv[k] >= 0) ts->t[i].pv[k] = inv[ts->t[i].pv[k]];
  free(np), free(inv);
  return TR_OK;
}

/* A growing array of a trial set (its parameters, its trials) being filled by a walk. */
typedef struct SetLoad {
  RsTrialSet *ts;
  size_t cap;
} SetLoad;

/* Keys in spec order: first trial that has them, position in its object. */
static int key_add(void *ctx, const char *name) {
  SetLoad *l = ctx;
  RsTrialSet *ts = l->ts;
  if (grow((void **)&ts->p, (size_t)ts->np, &l->cap, sizeof *ts->p, 8)) return TR_ENOMEM;
  RsParam *p = &ts->p[ts->np];
  memset(p, 0, sizeof *p);
  if (!(p->name = xstrdup(name))) return TR_ENOMEM;
  ts->np++;
  p->numeric = 1;
  p->is_seed = is_seed_name(p->name);
  return TR_OK;
}

static int param_keys(RsStore *st, RsTrialSet *ts) {
  SetLoad l = {ts, 0};
  int rc = rs_sweep_param_keys(st, ts->sweep.id, key_add, &l);
  if (rc) return rc;
  for (int k = 0; k < ts->np; k++) {
    const char *dot = strrchr(ts->p[k].name, '.');
    const char *sh = dot ? dot + 1 : ts->p[k].name;
    int clash = 0;
    for (int o = 0; o < ts->np; o++) {
      const char *od = strrchr(ts->p[o].name, '.');
      if (o != k && strcmp(od ? od + 1 : ts->p[o].name, sh) == 0) clash = 1;
    }
    if (!(ts->p[k].short_name = xstrdup(clash ? ts->p[k].name : sh))) return st_oom(st);
  }
  return TR_OK;
}

/* Every trial's value of every key, deduplicated into ts->p[k].values. */
typedef struct ValueLoad {
  RsTrialSet *ts;
  VSet *vs;
  const IdPos *ids;
} ValueLoad;

static int value_add(void *ctx, const RsParamValue *v) {
  ValueLoad *l = ctx;
  RsTrialSet *ts = l->ts;
  int k = param_index(ts, v->key);
  if (k < 0) return TR_OK; /* a trial inserted after the key scan: ignore its new key */
  RsParam *p = &ts->p[k];
  if (!v->numeric) p->numeric = 0;
  int j = vset_find(&l->vs[k], p, v->text, v->numeric, v->num);
  if (j < 0) {
    j = p->n_values;
    if (vset_add(&l->vs[k], p, v->text, v->num)) return TR_ENOMEM;
  }
  int i = idpos_find(l->ids, ts->n, v->trial_id);
  if (i >= 0) ts->t[i].pv[k] = j;
  return TR_OK;
}

static int load_params(RsStore *st, RsTrialSet *ts) {
  int rc = param_keys(st, ts);
  if (rc) return rc;
  for (int i = 0; i < ts->n; i++) {
    if (!(ts->t[i].pv = tr_malloc(((size_t)ts->np + 1) * sizeof(int)))) return st_oom(st);
    for (int k = 0; k < ts->np; k++) ts->t[i].pv[k] = -1;
  }
  IdPos *ids = idpos_build(ts);
  VSet *vs = tr_calloc((size_t)ts->np + 1, sizeof *vs);
  if (!ids || !vs) {
    rc = st_oom(st);
  } else {
    ValueLoad l = {ts, vs, ids};
    rc = rs_sweep_param_values(st, ts->sweep.id, value_add, &l);
  }
  for (int k = 0; vs && k < ts->np; k++) free(vs[k].by_text), free(vs[k].by_num);
  free(vs), free(ids);
  for (int k = 0; !rc && k < ts->np; k++) {
    RsParam *p = &ts->p[k];
    p->varies = p->n_values > 1;
    if (!p->numeric) continue;
    if ((rc = param_sort(ts, k))) return st_oom(st);
    p->log_spaced = looks_log(p);
  }
  return rc;
}

static int trial_add(void *ctx, const RsTrial *r) {
  SetLoad *l = ctx;
  RsTrialSet *ts = l->ts;
  if (grow((void **)&ts->t, (size_t)ts->n, &l->cap, sizeof *ts->t, 16)) return TR_ENOMEM;
  RsTrialRow *t = &ts->t[ts->n++];
  memset(t, 0, sizeof *t);
  t->id = r->id, t->idx = r->idx, t->seed = r->seed, t->attempts = r->attempts, t->status = r->status;
  t->hash = xstrdup(r->hash), t->config = xstrdup(r->config);
  t->params = xstrdup(r->params), t->error = xstrdup(r->error);
  t->best = r->best_metric, t->final = r->final_metric, t->best_step = r->best_step;
  t->steps = r->steps, t->tokens = r->tokens, t->rung = r->rung;
  t->wall = r->wall_seconds, t->flops = r->flops;
  t->started = r->started, t->ended = r->ended;
  if ((r->hash && !t->hash) || (r->config && !t->config) || (r->params && !t->params) || (r->error && !t->error))
    return TR_ENOMEM;
  return TR_OK;
}

int rs_trials_load(RsStore *st, const char *sweep, RsTrialSet *ts) {
  memset(ts, 0, sizeof *ts);
  int rc = rs_sweep_find(st, sweep, &ts->sweep);
  if (rc) return rc;
  ts->maximize = ts->sweep.maximize;
  SetLoad l = {ts, 0};
  if (!(ts->metric = xstrdup(ts->sweep.metric))) rc = st_oom(st);
  else if (!(rc = rs_trials_each(st, ts->sweep.id, trial_add, &l))) rc = load_params(st, ts);
  if (rc) rs_trials_deinit(ts);
  return rc;
}

static int metric_maximize(const RsTrialSet *ts, const char *m) {
  if (strcmp(m, ts->sweep.metric) == 0) return ts->sweep.maximize;
  return strstr(m, "acc") || strstr(m, "tokens_per_second") || strstr(m, "throughput");
}

typedef struct AggLoad {
  RsTrialSet *ts;
  const IdPos *ids;
  int final;
} AggLoad;

static int agg_put(void *ctx, int64_t trial_id, int64_t step, double value) {
  AggLoad *l = ctx;
  int i = idpos_find(l->ids, l->ts->n, trial_id);
  if (i < 0) return TR_OK;
  RsTrialRow *t = &l->ts->t[i];
  if (l->final) t->final = value;
  else t->best = value, t->best_step = step;
  return TR_OK;
}

int rs_trials_use_metric(RsStore *st, RsTrialSet *ts, const char *metric) {
  int rc = rs_metric_check(st, ts->sweep.id, metric);
  if (rc) return rc;
  int mx = metric_maximize(ts, metric);
  char *name = xstrdup(metric);
  IdPos *ids = idpos_build(ts);
  if (!name || !ids) {
    free(name), free(ids);
    return st_oom(st);
  }
  for (int i = 0; i < ts->n; i++) ts->t[i].best = ts->t[i].final = NAN, ts->t[i].best_step = -1;
  AggLoad best = {ts, ids, 0}, last = {ts, ids, 1};
  rc = rs_sweep_metric_agg(st, ts->sweep.id, metric, mx ? RS_AGG_MAX : RS_AGG_MIN, agg_put, &best);
  if (!rc) rc = rs_sweep_metric_agg(st, ts->sweep.id, metric, RS_AGG_LAST, agg_put, &last);
  free(ids);
  if (rc) {
    free(name);
    return rc;
  }
  free(ts->metric);
  ts->metric = name;
  ts->maximize = mx;
  return TR_OK;
}

int rs_param_find(const RsTrialSet *ts, const char *name, int *index, TrErr *err) {
  for (int pass = 0; pass < 2; pass++)
    for (int k = 0; k < ts->np; k++)
      if (strcmp(pass ? ts->p[k].short_name : ts->p[k].name, name) == 0) {
        *index = k;
        return TR_OK;
      }
  char *names[64];
  int n = 0;
  for (int k = 0; k < ts->np && n < 64; k++) names[n++] = ts->p[k].name;
  char list[700];
  join_names(list, sizeof list, names, n);
  return tr_err_set(err, TR_ENOTFOUND, "sweep '%s' has no parameter '%s' (parameters: %s)",
                    ts->sweep.name, name, list);
}

static int rankable(const RsTrialRow *t) {
  return !isnan(t->best) && t->status != RS_FAILED && t->status != RS_DIVERGED;
}

int rs_better(const RsTrialSet *ts, double a, double b) {
  if (isnan(a)) return 0;
  if (isnan(b)) return 1;
  return ts->maximize ? a > b : a < b;
}

/* Rank class: 0 rankable, 1 failed/diverged with a value, 2 no value. */
static int rank_class(const RsTrialRow *t) { return rankable(t) ? 0 : isnan(t->best) ? 2 : 1; }

/* The ranking as a total order: class, then the metric (goal-aware) within class 0, then the
** trial's position (idx order), so any sort gives the one stable result. */
static int rank_cmp(const void *ctx, int a, int b) {
  const RsTrialSet *ts = ctx;
  const RsTrialRow *x = &ts->t[a], *y = &ts->t[b];
  int cx = rank_class(x), cy = rank_class(y);
  if (cx != cy) return cx < cy ? -1 : 1;
  if (cx == 0 && x->best != y->best) return rs_better(ts, x->best, y->best) ? -1 : 1;
  return (a > b) - (a < b);
}

/* Heap sort of o[0..n) by cmp (a total order: any sort gives the one result), O(n log n) with
** no allocation: the sorts of 100,000 trials. */
typedef int (*IdxCmp)(const void *ctx, int a, int b);

static void heap_sift(int *o, int root, int n, IdxCmp cmp, const void *ctx) {
  for (int c; (c = 2 * root + 1) < n; root = c) {
    if (c + 1 < n && cmp(ctx, o[c], o[c + 1]) < 0) c++;
    if (cmp(ctx, o[root], o[c]) >= 0) return;
    int t = o[root]; o[root] = o[c]; o[c] = t;
  }
}

static void heap_sort_idx(int *o, int n, IdxCmp cmp, const void *ctx) {
  for (int i = n / 2 - 1; i >= 0; i--) heap_sift(o, i, n, cmp, ctx);
  for (int end = n - 1; end > 0; end--) {
    int t = o[0]; o[0] = o[end]; o[end] = t;
    heap_sift(o, 0, end, cmp, ctx);
  }
}

void rs_trials_rank(const RsTrialSet *ts, int *order) {
  for (int i = 0; i < ts->n; i++) order[i] = i;
  heap_sort_idx(order, ts->n, rank_cmp, ts);
}

/* ---- metrics ------------------------------------------------------------- */

void rs_names_free(char **names, int n) {
  for (int i = 0; names && i < n; i++) free(names[i]);
  free(names);
}

typedef struct NameList {
  char **v;
  int n;
  size_t cap;
} NameList;

static int name_add(void *ctx, const char *name) {
  NameList *l = ctx;
  if (grow((void **)&l->v, (size_t)l->n, &l->cap, sizeof *l->v, 8)) return TR_ENOMEM;
  if (!(l->v[l->n] = xstrdup(name))) return TR_ENOMEM;
  l->n++;
  return TR_OK;
}

int rs_metric_names(RsStore *st, int64_t sweep_id, char ***names, int *n) {
  NameList l = {NULL, 0, 0};
  int rc = rs_sweep_metric_names(st, sweep_id, name_add, &l);
  if (rc) {
    rs_names_free(l.v, l.n);
    *names = NULL;
    *n = 0;
    return rc;
  }
  *names = l.v;
  *n = l.n;
  return TR_OK;
}

int rs_metric_check(RsStore *st, int64_t sweep_id, const char *metric) {
  char **names;
  int n;
  int rc = rs_metric_names(st, sweep_id, &names, &n);
  if (rc) return rc;
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], metric) == 0) {
      rs_names_free(names, n);
      return TR_OK;
    }
  char list[700];
  join_names(list, sizeof list, names, n);
  rs_names_free(names, n);
  return rs_store_say(st, TR_ENOTFOUND, "no metric '%s' in this sweep (metrics: %s)", metric, list);
}

int rs_series_load(RsStore *st, int64_t trial_id, const char *metric, RsXKind xk, double **x,
                   double **y, int *n) {
  *x = *y = NULL;
  *n = 0;
  RsPoint *pt;
  size_t np;
  int rc = rs_metrics_read(st, trial_id, metric, &pt, &np);
  if (rc) return rc;
  *x = tr_malloc((np + 1) * sizeof **x);
  *y = tr_malloc((np + 1) * sizeof **y);
  if (!*x || !*y) {
    free(pt), free(*x), free(*y);
    *x = *y = NULL;
    return st_oom(st);
  }
  for (size_t i = 0; i < np; i++) {
    (*x)[i] = xk == RS_X_STEP ? (double)pt[i].step : xk == RS_X_TOKENS ? (double)pt[i].tokens : pt[i].seconds;
    (*y)[i] = pt[i].value;
  }
  *n = (int)np;
  free(pt);
  return TR_OK;
}

/* ---- compare ------------------------------------------------------------- */

void rs_compare_deinit(RsCompare *c) {
  if (!c) return;
  for (int i = 0; i < c->nctx; i++) {
    for (int j = 0; j < c->ctx[i].ng; j++) free(c->ctx[i].g[j].label), free(c->ctx[i].g[j].vals);
    free(c->ctx[i].g);
    free(c->ctx[i].label);
  }
  free(c->ctx);
  free(c->by_label);
  memset(c, 0, sizeof *c);
}

static int counts_toward(const RsTrialRow *t) { return !isnan(t->best) && t->status == RS_COMPLETED; }

/* Label "a=1, b=2" of trial t over params ks[0..nk); NULL when out of memory. */
static char *label_of(const RsTrialSet *ts, const RsTrialRow *t, const int *ks, int nk) {
  size_t cap = 64, len = 0;
  char *s = tr_malloc(cap);
  if (!s) return NULL;
  s[0] = '\0';
  for (int i = 0; i < nk; i++) {
    const RsParam *p = &ts->p[ks[i]];
    const char *v = t->pv[ks[i]] >= 0 ? p->values[t->pv[ks[i]]] : "-";
    size_t need = strlen(p->short_name) + strlen(v) + 4;
    if (len + need >= cap) {
      cap = 2 * (len + need);
      char *ns = tr_realloc(s, cap);
      if (!ns) {
        free(s);
        return NULL;
      }
      s = ns;
    }
    len += (size_t)snprintf(s + len, cap - len, "%s%s=%s", i ? ", " : "", p->short_name, v);
  }
  return s;
}

/* Lexicographic compare of two trials on params ks (value indices are sorted). */
static int cmp_on(const RsTrialRow *a, const RsTrialRow *b, const int *ks, int nk) {
  for (int i = 0; i < nk; i++)
    if (a->pv[ks[i]] != b->pv[ks[i]]) return a->pv[ks[i]] < b->pv[ks[i]] ? -1 : 1;
  return 0;
}

static void group_stats(RsGroup *g, int maximize) {
  g->mean = rs_stats_mean(g->vals, g->n);
  g->std = rs_stats_std(g->vals, g->n);
  rs_stats_ci95(g->vals, g->n, &g->ci_lo, &g->ci_hi);
  g->best = NAN;
  for (int i = 0; i < g->n; i++)
    if (isnan(g->best) || (maximize ? g->vals[i] > g->best : g->vals[i] < g->best)) g->best = g->vals[i];
}

/* Trials by (context, group), then idx: contexts and groups come out sorted by value. */
typedef struct CtxOrder {
  const RsTrialSet *ts;
  const int *other;
  int no;
  const int *by;
  int nby;
} CtxOrder;

static int ctx_cmp(const void *ctx, int a, int b) {
  const CtxOrder *c = ctx;
  const RsTrialRow *x = &c->ts->t[a], *y = &c->ts->t[b];
  int r = cmp_on(x, y, c->other, c->no);
  if (r == 0) r = cmp_on(x, y, c->by, c->nby);
  return r ? r : (a > b) - (a < b);
}

typedef struct GroupOrder {
  const RsTrialSet *ts;
  const RsGroup *g;
} GroupOrder;

/* Best mean first, groups without a completed trial last, ties in their first order. */
static int group_cmp(const void *ctx, int a, int b) {
  const GroupOrder *o = ctx;
  const RsGroup *x = &o->g[a], *y = &o->g[b];
  if ((x->n > 0) != (y->n > 0)) return x->n > 0 ? -1 : 1;
  if (x->n > 0 && x->mean != y->mean) return rs_better(o->ts, x->mean, y->mean) ? -1 : 1;
  return (a > b) - (a < b);
}

static int groups_sort(const RsTrialSet *ts, RsContext *cx) {
  int *o = tr_malloc(((size_t)cx->ng + 1) * sizeof *o);
  RsGroup *g = tr_malloc(((size_t)cx->ng + 1) * sizeof *g);
  if (!o || !g) {
    free(o), free(g);
    return TR_ENOMEM;
  }
  for (int q = 0; q < cx->ng; q++) o[q] = q;
  GroupOrder go = {ts, cx->g};
  heap_sort_idx(o, cx->ng, group_cmp, &go);
  for (int q = 0; q < cx->ng; q++) g[q] = cx->g[o[q]];
  free(cx->g);
  cx->g = g;
  free(o);
  return TR_OK;
}

/* One group: the trials ord[a..b) sharing the by-values. */
static int group_build(const RsTrialSet *ts, const int *ord, int a, int b, const int *by, int nby, RsGroup *g) {
  memset(g, 0, sizeof *g);
  g->label = label_of(ts, &ts->t[ord[a]], by, nby);
  g->value = ts->t[ord[a]].pv[by[0]];
  g->vals = tr_malloc(((size_t)(b - a)) * sizeof *g->vals);
  if (!g->label || !g->vals) return TR_ENOMEM;
  for (int m = a; m < b; m++) {
    const RsTrialRow *t = &ts->t[ord[m]];
    if (counts_toward(t)) g->vals[g->n++] = t->best;
    else g->n_other++;
  }
  group_stats(g, ts->maximize);
  return TR_OK;
}

/* Winner against runner-up by mean: Welch's p, decided under 0.05. */
static void context_decide(const RsTrialSet *ts, RsContext *cx) {
  int w = -1, r = -1;
  for (int q = 0; q < cx->ng; q++) {
    if (cx->g[q].n == 0) continue;
    if (w < 0 || rs_better(ts, cx->g[q].mean, cx->g[w].mean)) r = w, w = q;
    else if (r < 0 || rs_better(ts, cx->g[q].mean, cx->g[r].mean)) r = q;
  }
  cx->p_welch = NAN;
  if (w >= 0 && r >= 0) {
    cx->p_welch = rs_stats_welch_p(cx->g[w].vals, cx->g[w].n, cx->g[r].vals, cx->g[r].n);
    cx->decided = cx->p_welch < 0.05;
  }
}

/* One context: the trials ord[i..j) sharing the other parameters' values, in groups. */
static int context_build(const RsTrialSet *ts, const int *ord, int i, int j, const CtxOrder *co, RsContext *cx) {
  memset(cx, 0, sizeof *cx);
  if (!(cx->label = label_of(ts, &ts->t[ord[i]], co->other, co->no))) return TR_ENOMEM;
  size_t cap = 0;
  for (int a = i; a < j;) {
    int b = a;
    while (b < j && cmp_on(&ts->t[ord[a]], &ts->t[ord[b]], co->by, co->nby) == 0) b++;
    if (grow((void **)&cx->g, (size_t)cx->ng, &cap, sizeof *cx->g, 4)) return TR_ENOMEM;
    int rc = group_build(ts, ord, a, b, co->by, co->nby, &cx->g[cx->ng++]);
    if (rc) return rc;
    a = b;
  }
  context_decide(ts, cx);
  return groups_sort(ts, cx);
}

int rs_compare_build(const RsTrialSet *ts, const int *by, int nby, RsCompare *out, TrErr *err) {
  memset(out, 0, sizeof *out);
  int other[64], no = 0;
  for (int k = 0; k < ts->np && no < 64; k++) {
    int chosen = 0;
    for (int i = 0; i < nby; i++) chosen |= by[i] == k;
    if (!chosen && ts->p[k].varies && !ts->p[k].is_seed) other[no++] = k;
  }
  if (ts->n == 0) return tr_err_set(err, TR_ENOTFOUND, "sweep '%s' has no trials", ts->sweep.name);
  /* Order trials by (context, group): contexts and groups come out sorted by value. */
  int *ord = tr_malloc((size_t)ts->n * sizeof *ord);
  if (!ord || !(out->by_label = tr_malloc(128))) {
    free(ord);
    return oom(err);
  }
  for (int i = 0; i < ts->n; i++) ord[i] = i;
  CtxOrder co = {ts, other, no, by, nby};
  heap_sort_idx(ord, ts->n, ctx_cmp, &co);
  snprintf(out->by_label, 128, "%s%s%s", ts->p[by[0]].short_name, nby > 1 ? ", " : "",
           nby > 1 ? ts->p[by[1]].short_name : "");
  size_t cap = 0;
  int rc = TR_OK;
  for (int i = 0; rc == TR_OK && i < ts->n;) {
    int j = i;
    while (j < ts->n && cmp_on(&ts->t[ord[i]], &ts->t[ord[j]], other, no) == 0) j++;
    rc = grow((void **)&out->ctx, (size_t)out->nctx, &cap, sizeof *out->ctx, 4);
    if (rc == TR_OK) rc = context_build(ts, ord, i, j, &co, &out->ctx[out->nctx++]);
    i = j;
  }
  free(ord);
  if (rc) {
    rs_compare_deinit(out);
    return oom(err);
  }
  return TR_OK;
}

double rs_param_var_explained(const RsTrialSet *ts, int k) {
  double *y = tr_malloc(((size_t)ts->n + 1) * sizeof *y);
  int *g = tr_malloc(((size_t)ts->n + 1) * sizeof *g), n = 0;
  if (!y || !g) {
    free(y), free(g);
    return NAN;
  }
  for (int i = 0; i < ts->n; i++)
    if (counts_toward(&ts->t[i])) y[n] = ts->t[i].best, g[n++] = ts->t[i].pv[k];
  double v = rs_stats_var_explained(y, g, n);
  free(y), free(g);
  return v;
}

/* ---- inference sweeps: diversity against validity ------------------------- */

void rs_diversity_deinit(RsDiversity *d) {
  if (!d) return;
  for (int i = 0; i < d->n; i++) free(d->pt[i].label);
  free(d->pt);
  memset(d, 0, sizeof *d);
}

/* The symbol people write for a sampling key ("T=0.8 p=0.9"); others keep their short name. */
static const char *div_abbrev(const RsParam *p) {
  static const char *const ab[][2] = {{"sample.temperature", "T"}, {"sample.top_p", "p"},
                                      {"sample.top_k", "k"}, {"sample.min_p", "min_p"},
                                      {"sample.repetition_penalty", "rep"}, {"sample.frequency_penalty", "freq"},
                                      {"sample.presence_penalty", "pres"}, {"sample.max_tokens", "len"}};
  for (size_t i = 0; i < sizeof ab / sizeof ab[0]; i++)
    if (strcmp(p->name, ab[i][0]) == 0) return ab[i][1];
  return p->short_name;
}

#define DIV_NM 4 /* validity, distinct_2, rep_4, mean_length: columns of the per-trial table */
static const char *const div_names[DIV_NM] = {"validity", "distinct_2", "rep_4", "mean_length"};

static double nan_mean(const double *m, const int *idx, int n, int col) {
  double s = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(m[idx[i] * DIV_NM + col])) s += m[idx[i] * DIV_NM + col], k++;
  return k ? s / k : NAN;
}

/* The per-trial table m[i * DIV_NM + c] (NaN: not recorded) and the trials' positions. */
typedef struct DivLoad {
  const RsTrialSet *ts;
  const IdPos *ids;
  double *m;
} DivLoad;

/* The last step's value: an inference trial logs each measure once, at step 0. */
static int div_put(void *ctx, int64_t trial_id, const char *name, double value) {
  DivLoad *l = ctx;
  int i = idpos_find(l->ids, l->ts->n, trial_id);
  for (int c = 0; i >= 0 && c < DIV_NM; c++)
    if (strcmp(name, div_names[c]) == 0) l->m[i * DIV_NM + c] = value;
  return TR_OK;
}

static int div_measures(RsStore *st, const RsTrialSet *ts, double *m) {
  for (int i = 0; i < ts->n * DIV_NM; i++) m[i] = NAN;
  IdPos *ids = idpos_build(ts);
  if (!ids) return st_oom(st);
  DivLoad l = {ts, ids, m};
  int rc = rs_sweep_metrics_each(st, ts->sweep.id, div_names, DIV_NM, div_put, &l);
  free(ids);
  return rc ? rc : TR_OK;
}

/* Settings in value order of the varied parameters (stable: idx order inside). */
typedef struct DivOrder {
  const RsTrialSet *ts;
  const int *keys;
  int nk;
} DivOrder;

static int div_cmp(const void *ctx, int a, int b) {
  const DivOrder *o = ctx;
  int r = cmp_on(&o->ts->t[a], &o->ts->t[b], o->keys, o->nk);
  return r ? r : (a > b) - (a < b);
}

/* One setting: the trials ord[i..j); seeds is scratch of n ints. */
static int div_point(const RsTrialSet *ts, const double *m, const int *ok, const int *ord, int i, int j,
                     const int *keys, int nk, int *seeds, RsDivPoint *p) {
  p->first = ord[i];
  for (int a = i; a < j; a++) if (ord[a] < p->first) p->first = ord[a];
  p->trial = ts->t[p->first].id;
  p->v_lo = p->d_lo = INFINITY, p->v_hi = p->d_hi = -INFINITY;
  for (int a = i; a < j; a++) {
    int t = ord[a];
    if (!ok[t]) { p->n_other++; continue; }
    seeds[p->n++] = t;
    p->v_lo = fmin(p->v_lo, m[t * DIV_NM]), p->v_hi = fmax(p->v_hi, m[t * DIV_NM]);
    p->d_lo = fmin(p->d_lo, m[t * DIV_NM + 1]), p->d_hi = fmax(p->d_hi, m[t * DIV_NM + 1]);
  }
  p->validity = nan_mean(m, seeds, p->n, 0), p->distinct_2 = nan_mean(m, seeds, p->n, 1);
  p->rep_4 = nan_mean(m, seeds, p->n, 2), p->mean_length = nan_mean(m, seeds, p->n, 3);
  if (!p->n) p->v_lo = p->v_hi = p->d_lo = p->d_hi = NAN;
  /* The label, e.g. "T=0.8 p=0.9". */
  char lab[256] = "";
  size_t len = 0;
  for (int q = 0; q < nk && len < sizeof lab; q++) {
    const RsParam *pp = &ts->p[keys[q]];
    int v = ts->t[p->first].pv[keys[q]];
    len += (size_t)snprintf(lab + len, sizeof lab - len, "%s%s=%s", q ? " " : "", div_abbrev(pp),
                            v >= 0 ? pp->values[v] : "-");
  }
  p->label = xstrdup(nk ? lab : "all trials");
  return p->label ? TR_OK : TR_ENOMEM;
}

static int div_settings(const RsTrialSet *ts, const double *m, const int *ok, const int *keys, int nk,
                        RsDiversity *out) {
  int n = ts->n;
  int *ord = tr_malloc(((size_t)n + 1) * sizeof *ord), *seeds = tr_malloc(((size_t)n + 1) * sizeof *seeds);
  out->pt = tr_calloc((size_t)n + 1, sizeof *out->pt);
  int rc = ord && seeds && out->pt ? TR_OK : TR_ENOMEM;
  if (rc == TR_OK) {
    for (int i = 0; i < n; i++) ord[i] = i;
    DivOrder o = {ts, keys, nk};
    heap_sort_idx(ord, n, div_cmp, &o);
  }
  for (int i = 0; rc == TR_OK && i < n;) {
    int j = i;
    while (j < n && cmp_on(&ts->t[ord[i]], &ts->t[ord[j]], keys, nk) == 0) j++;
    rc = div_point(ts, m, ok, ord, i, j, keys, nk, seeds, &out->pt[out->n++]);
    i = j;
  }
  free(ord), free(seeds);
  return rc;
}

/* Pareto: maximise both; rs_stats_pareto minimises its cost, so cost = -distinct_2. */
static int div_front(RsDiversity *out) {
  double *cost = tr_malloc(((size_t)out->n + 1) * sizeof *cost), *val = tr_malloc(((size_t)out->n + 1) * sizeof *val);
  int *front = tr_malloc(((size_t)out->n + 1) * sizeof *front);
  int rc = cost && val && front ? TR_OK : TR_ENOMEM;
  if (rc == TR_OK) {
    for (int i = 0; i < out->n; i++) cost[i] = -out->pt[i].distinct_2, val[i] = out->pt[i].validity;
    out->nfront = rs_stats_pareto(cost, val, out->n, 1, front);
    for (int i = 0; i < out->n; i++) out->pt[i].front = front[i];
    for (int i = 0; i < out->n; i++) cost[i] = -cost[i];
    out->r_settings = rs_stats_pearson(cost, val, out->n);
  }
  free(cost), free(val), free(front);
  return rc;
}

/* Temperature against each axis over trials, when temperature varies. */
static int div_temperature(const RsTrialSet *ts, const double *m, const int *ok, RsDiversity *out) {
  int n = ts->n;
  for (int k = 0; k < ts->np; k++)
    if (strcmp(ts->p[k].name, "sample.temperature") == 0 && ts->p[k].varies && ts->p[k].numeric) out->temp = k;
  if (out->temp < 0) return TR_OK;
  double *x = tr_malloc(((size_t)n + 1) * 3 * sizeof *x);
  if (!x) return TR_ENOMEM;
  double *yd = x + n + 1, *yv = yd + n + 1;
  int q = 0;
  for (int i = 0; i < n; i++) {
    int v = ts->t[i].pv[out->temp];
    if (!ok[i] || v < 0) continue;
    x[q] = ts->p[out->temp].nums[v], yv[q] = m[i * DIV_NM], yd[q] = m[i * DIV_NM + 1], q++;
  }
  out->rho_div = rs_stats_spearman(x, yd, q), out->rho_val = rs_stats_spearman(x, yv, q);
  free(x);
  return TR_OK;
}

int rs_diversity_load(RsStore *st, const RsTrialSet *ts, RsDiversity *out) {
  memset(out, 0, sizeof *out);
  out->temp = -1;
  out->rho_div = out->rho_val = out->r_settings = NAN;
  int n = ts->n, keys[64], nk = 0;
  double *m = tr_malloc(((size_t)n * DIV_NM + 1) * sizeof *m);
  int *ok = tr_calloc((size_t)n + 1, sizeof *ok);
  int rc = m && ok ? div_measures(st, ts, m) : st_oom(st);
  if (rc) {
    free(m), free(ok);
    return rc;
  }
  for (int k = 0; k < ts->np && nk < 64; k++)
    if (ts->p[k].varies && !ts->p[k].is_seed) keys[nk++] = k;
  for (int i = 0; i < n; i++) {
    ok[i] = ts->t[i].status == RS_COMPLETED && isfinite(m[i * DIV_NM]) && isfinite(m[i * DIV_NM + 1]);
    out->n_trials += ok[i];
  }
  out->n_skipped = n - out->n_trials;
  if (out->n_trials == 0) {
    free(m), free(ok);
    return rs_store_say(st, TR_ENOTFOUND, "sweep '%s' has no completed trial with validity and distinct_2 "
                      "(the measures of a task: sample sweep)", ts->sweep.name);
  }
  rc = div_settings(ts, m, ok, keys, nk, out);
  if (!rc) rc = div_front(out);
  if (!rc) rc = div_temperature(ts, m, ok, out);
  size_t len = 0;
  for (int q = 0; q < nk && len < sizeof out->key; q++)
    len += (size_t)snprintf(out->key + len, sizeof out->key - len, "%s%s = %s", q ? ", " : "",
                            div_abbrev(&ts->p[keys[q]]), ts->p[keys[q]].name);
  free(m), free(ok);
  if (rc) {
    rs_diversity_deinit(out);
    return st_oom(st);
  }
  return TR_OK;
}

/* ---- export -------------------------------------------------------------- */

int rs_format_parse(const char *s, RsFormat *f) {
  static const char *const names[] = {"table", "csv", "json", "jsonl"};
  for (int i = 0; i < 4; i++)
    if (strcmp(s, names[i]) == 0) {
      *f = (RsFormat)i;
      return TR_OK;
    }
  return TR_EINVAL;
}

void rs_csv_field(FILE *f, const char *s) {
  if (!s) return;
  if (!strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

void rs_json_string(FILE *f, const char *s) { tr_json_quote_write(f, s, TR_JSON_SHORT); }

void rs_json_number(FILE *f, double v) {
  char b[32];
  tr_json_number(b, sizeof b, v, TR_FMT_SHORTEST);
  fputs(b, f);
}

/* One export row (vals NULL: the header) in the chosen format. */
typedef struct ExportOut {
  FILE *f;
  RsFormat fmt;
  int metrics;
  int rows;
  int header; /* written: the JSON array is open */
} ExportOut;

static void export_value(const ExportOut *o, const char *name, const RsValue *v) {
  int json = o->fmt == RS_FMT_JSON || o->fmt == RS_FMT_JSONL;
  char nb[40];
  switch (v->type) {
    case RS_VAL_NULL:
      if (json) fputs("null", o->f);
      break;
    case RS_VAL_INT: fprintf(o->f, "%lld", (long long)v->i); break;
    case RS_VAL_REAL:
      if (json) rs_json_number(o->f, v->d);
      else tr_fmt_double(nb, sizeof nb, v->d, TR_FMT_SHORTEST), fputs(nb, o->f);
      break;
    default:
      /* params is JSON already: embed it as an object, not a string. */
      if (json && !o->metrics && strcmp(name, "params") == 0) fputs(v->s, o->f);
      else if (json) rs_json_string(o->f, v->s);
      else rs_csv_field(o->f, v->s);
  }
}

static int export_row(void *ctx, size_t nc, const char *const *names, const RsValue *vals) {
  ExportOut *o = ctx;
  int json = o->fmt == RS_FMT_JSON || o->fmt == RS_FMT_JSONL;
  if (!vals) {
    for (size_t c = 0; !json && c < nc; c++) {
      if (c) fputc(',', o->f);
      rs_csv_field(o->f, names[c]);
    }
    if (!json) fputc('\n', o->f);
    if (o->fmt == RS_FMT_JSON) fputs("[", o->f);
    o->header = 1;
    return TR_OK;
  }
  if (json) fputs(o->fmt == RS_FMT_JSON ? (o->rows ? ",\n{" : "\n{") : "{", o->f);
  for (size_t c = 0; c < nc; c++) {
    if (json) {
      if (c) fputs(", ", o->f);
      rs_json_string(o->f, names[c]);
      fputs(": ", o->f);
    } else if (c) {
      fputc(',', o->f);
    }
    export_value(o, names[c], &vals[c]);
  }
  fputs(o->fmt == RS_FMT_JSON ? "}" : json ? "}\n" : "\n", o->f);
  o->rows++;
  return TR_OK;
}

int rs_export(RsStore *st, const RsSweep *sw, RsWhat what, RsFormat fmt, FILE *out) {
  NameList keys = {NULL, 0, 0};
  int rc = TR_OK;
  if (what == RS_WHAT_TRIALS && (rc = rs_sweep_param_keys(st, sw->id, name_add, &keys))) {
    rs_names_free(keys.v, keys.n);
    return rc;
  }
  ExportOut o = {out, fmt, what == RS_WHAT_METRICS, 0, 0};
  rc = rs_sweep_export(st, sw->id, o.metrics, (const char *const *)keys.v, (size_t)keys.n, export_row, &o);
  rs_names_free(keys.v, keys.n);
  if (fmt == RS_FMT_JSON && o.header) fputs(o.rows ? "\n]\n" : "]\n", out);
  if (rc) return rc;
  if (ferror(out)) return rs_store_say(st, TR_EIO, "write failed");
  return TR_OK;
}

/* ---- human formatting ---------------------------------------------------- */

void rs_fmt_metric(char *buf, size_t n, double v) {
  if (isnan(v)) snprintf(buf, n, "-");
  else if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e5)) snprintf(buf, n, "%.3e", v);
  else snprintf(buf, n, "%.4g", v);
}

void rs_fmt_status(char *buf, size_t n, RsStatus s, int64_t rung, const char *error) {
  if ((s != RS_PRUNED && s != RS_PAUSED) || rung < 0) {
    snprintf(buf, n, "%s", rs_status_name(s));
    return;
  }
  const char *unit = "rung";
  if (s == RS_PRUNED && error && !strncmp(error, "pruned at band", 14)) unit = "band";
  else if (s == RS_PRUNED && error && !strncmp(error, "pruned at step", 14)) unit = "step";
  snprintf(buf, n, "%s %s %lld", rs_status_name(s), unit, (long long)rung);
}

void rs_fmt_count(char *buf, size_t n, double v) {
  static const char *const suf[] = {"", "k", "M", "G", "T", "P", "E"};
  if (isnan(v) || v < 0) {
    snprintf(buf, n, "-");
    return;
  }
  int i = 0;
  while (v >= 999.5 && i < 6) v /= 1000, i++;
  if (i == 0) snprintf(buf, n, "%.0f", v);
  else snprintf(buf, n, v < 9.995 ? "%.2f%s" : v < 99.95 ? "%.1f%s" : "%.0f%s", v, suf[i]);
}

void rs_fmt_duration(char *buf, size_t n, double s) {
  if (isnan(s) || s < 0) snprintf(buf, n, "-");
  else if (s < 60) snprintf(buf, n, "%.1fs", s);
  else if (s < 3600) snprintf(buf, n, "%dm%02ds", (int)(s / 60), (int)fmod(s, 60));
  else snprintf(buf, n, "%dh%02dm", (int)(s / 3600), (int)fmod(s / 60, 60));
}


int rs_trial_sweep(RsStore *st, int64_t trial_id, char **sweep) {
  *sweep = NULL;
  RsTrial t;
  int rc = rs_trial_get(st, trial_id, &t);
  if (rc == TR_OK) {
    int64_t sweep_id = t.sweep_id;
    rs_trial_clear(&t);
    RsSweep *v;
    size_t nv;
    if ((rc = rs_sweeps_list(st, &v, &nv))) return rc;
    for (size_t i = 0; i < nv && !*sweep; i++)
      if (v[i].id == sweep_id && !(*sweep = xstrdup(v[i].name))) rc = st_oom(st);
    rs_sweeps_free(v, nv);
    if (rc || *sweep) return rc;
  } else if (rc != TR_ENOTFOUND) {
    return rc;
  }
  int64_t lo, hi, n;
  if ((rc = rs_trials_span(st, &lo, &hi, &n))) return rc;
  if (n == 0)
    return rs_store_say(st, TR_ENOTFOUND, "no trial %lld: %s has no trials", (long long)trial_id, rs_store_path(st));
  return rs_store_say(st, TR_ENOTFOUND, "no trial %lld in %s (trial ids: %lld..%lld, %lld trials; see 'hpsweep top SWEEP')",
                    (long long)trial_id, rs_store_path(st), (long long)lo, (long long)hi, (long long)n);
}

int rs_trials_same_context(const RsTrialSet *ts, int k, int i, int j) {
  for (int q = 0; q < ts->np; q++)
    if (q != k && ts->p[q].varies && !ts->p[q].is_seed && ts->t[i].pv[q] != ts->t[j].pv[q]) return 0;
  return 1;
}

int rs_trials_lr_point(const RsTrialSet *ts, int k, int i, RsLrPoint *pt) {
  const RsTrialRow *t = &ts->t[i];
  int div = t->status == RS_DIVERGED;
  if (t->pv[k] < 0 || (!div && !(t->status == RS_COMPLETED && isfinite(t->best)))) return 0;
  *pt = (RsLrPoint){.lr = ts->p[k].nums[t->pv[k]], .seed = t->seed, .value = t->best, .diverged = div};
  return 1;
}

TrYamlDoc *rs_sweep_spec_doc(const RsSweep *sw) {
  TrYamlDoc *doc = NULL;
  TrErr e = {0};
  if (!sw->spec || tr_yaml_load_string(sw->spec, strlen(sw->spec), "spec", &doc, &e) != TR_OK) return NULL;
  if (doc->root && doc->root->kind == TR_YAML_MAP) return doc;
  tr_yaml_destroy(doc);
  return NULL;
}
