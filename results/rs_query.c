/* rs_query.c: read-only queries, ranking, grouping over seeds, export. */
#include "rs_query.h"

#include <math.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "rs_stats.h"
#include "tr_json.h"
/* The store's RsTrial (a row) and this module's RsTrial (a ranked trial) share a name;
** only rs_store_open/close/sqlite are used here. */
#define RsTrial RsStoreTrial
#include "rs_store.h"
#undef RsTrial

struct RsDb {
  RsStore *st;
  sqlite3 *db; /* the store's connection */
  char *path;
  int in_snapshot;
};

const char *const rs_status_names[RS_NSTATUS] = {"pending", "running", "completed",
                                                  "failed", "diverged", "interrupted"};

int rs_status_index(const char *status) {
  for (int i = 0; status && i < RS_NSTATUS; i++)
    if (strcmp(status, rs_status_names[i]) == 0) return i;
  return -1;
}

static char *xstrdup(const char *s) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

static char *col_str(sqlite3_stmt *st, int i) {
  const unsigned char *s = sqlite3_column_text(st, i);
  return s ? xstrdup((const char *)s) : NULL;
}

static double col_num(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? NAN : sqlite3_column_double(st, i);
}

static int64_t col_int(sqlite3_stmt *st, int i) {
  return sqlite3_column_type(st, i) == SQLITE_NULL ? -1 : sqlite3_column_int64(st, i);
}

static int db_fail(RsDb *db, TrErr *err, const char *what) {
  return tr_err_set(err, TR_EDB, "%s: %s: %s", db->path, what, sqlite3_errmsg(db->db));
}

static int prep(RsDb *db, const char *sql, sqlite3_stmt **st, TrErr *err) {
  if (sqlite3_prepare_v2(db->db, sql, -1, st, NULL) != SQLITE_OK) return db_fail(db, err, "query");
  return TR_OK;
}

/* Finalize a statement whose last sqlite3_step returned r: TR_OK if it ended normally
** (DONE, or a ROW a one-row query stopped at), else the store's error (a corrupt page,
** an I/O error) naming the file: a read error never passes for "no rows". */
static int step_end(RsDb *db, sqlite3_stmt *st, int r, TrErr *err, const char *what) {
  int rc = r == SQLITE_DONE || r == SQLITE_ROW ? TR_OK : db_fail(db, err, what);
  sqlite3_finalize(st);
  return rc;
}

int rs_db_open(RsDb **out, const char *path, TrErr *err) {
  *out = NULL;
  struct stat sb;
  if (stat(path, &sb) != 0)
    return tr_err_set(err, TR_ENOTFOUND, "%s: no such database (use --db FILE)", path);
  RsDb *db = calloc(1, sizeof *db);
  if (!db || !(db->path = xstrdup(path))) {
    free(db);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory", path);
  }
  /* The store's open: read-only (never a write lock, so a running sweep is never
  ** blocked), the one check of application_id and schema version every command shares. */
  int rc = rs_store_open(path, RS_OPEN_READONLY, &db->st, err);
  if (rc != TR_OK) {
    rs_db_close(db);
    return rc;
  }
  db->db = rs_store_sqlite(db->st);
  *out = db;
  return TR_OK;
}

void rs_db_close(RsDb *db) {
  if (!db) return;
  if (db->in_snapshot) rs_db_snapshot_end(db);
  rs_store_close(db->st);
  free(db->path);
  free(db);
}

sqlite3 *rs_db_handle(RsDb *db) { return db->db; }
const char *rs_db_path(const RsDb *db) { return db->path; }

int rs_db_snapshot_begin(RsDb *db, TrErr *err) {
  if (db->in_snapshot) return TR_OK;
  if (sqlite3_exec(db->db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) return db_fail(db, err, "begin");
  db->in_snapshot = 1;
  return TR_OK;
}

void rs_db_snapshot_end(RsDb *db) {
  if (!db->in_snapshot) return;
  sqlite3_exec(db->db, "COMMIT", NULL, NULL, NULL);
  db->in_snapshot = 0;
}

/* ---- sweeps -------------------------------------------------------------- */

void rs_sweep_deinit(RsSweepInfo *s) {
  if (!s) return;
  free(s->name), free(s->spec), free(s->method), free(s->metric), free(s->goal), free(s->task);
  memset(s, 0, sizeof *s);
}

void rs_query_sweeps_free(RsSweepInfo *s, int n) {
  for (int i = 0; s && i < n; i++) rs_sweep_deinit(&s[i]);
  free(s);
}

#define SWEEP_COLS "id, name, spec, method, metric, goal, task, seed, created"

static void sweep_from_row(sqlite3_stmt *st, RsSweepInfo *s) {
  memset(s, 0, sizeof *s);
  s->id = sqlite3_column_int64(st, 0);
  s->name = col_str(st, 1), s->spec = col_str(st, 2), s->method = col_str(st, 3);
  s->metric = col_str(st, 4), s->goal = col_str(st, 5), s->task = col_str(st, 6);
  s->seed = col_int(st, 7);
  s->created = col_num(st, 8);
  s->maximize = s->goal && strcmp(s->goal, "maximize") == 0;
  s->best = NAN;
  s->best_trial = -1;
}

/* Counts by status and the best metric of trials that did not fail or diverge. */
static int sweep_counts(RsDb *db, RsSweepInfo *s, TrErr *err) {
  sqlite3_stmt *st;
  if (prep(db, "SELECT status, count(*) FROM trials WHERE sweep_id=? GROUP BY status", &st, err))
    return err ? err->code : TR_EDB;
  sqlite3_bind_int64(st, 1, s->id);
  int r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    int k = rs_status_index((const char *)sqlite3_column_text(st, 0));
    int64_t c = sqlite3_column_int64(st, 1);
    if (k >= 0) s->count[k] = c;
    s->n_trials += c;
  }
  if (step_end(db, st, r, err, "count trials")) return TR_EDB;
  const char *sql = s->maximize
      ? "SELECT id, best_metric FROM trials WHERE sweep_id=? AND best_metric IS NOT NULL AND "
        "status NOT IN ('failed','diverged') ORDER BY best_metric DESC, idx LIMIT 1"
      : "SELECT id, best_metric FROM trials WHERE sweep_id=? AND best_metric IS NOT NULL AND "
        "status NOT IN ('failed','diverged') ORDER BY best_metric ASC, idx LIMIT 1";
  if (prep(db, sql, &st, err)) return err ? err->code : TR_EDB;
  sqlite3_bind_int64(st, 1, s->id);
  if ((r = sqlite3_step(st)) == SQLITE_ROW) {
    s->best_trial = sqlite3_column_int64(st, 0);
    s->best = col_num(st, 1);
  }
  return step_end(db, st, r, err, "best trial");
}

int rs_query_sweeps(RsDb *db, RsSweepInfo **out, int *n, TrErr *err) {
  *out = NULL;
  *n = 0;
  sqlite3_stmt *st;
  if (prep(db, "SELECT " SWEEP_COLS " FROM sweeps ORDER BY created, id", &st, err))
    return err ? err->code : TR_EDB;
  int cap = 0, rc = TR_OK, r;
  RsSweepInfo *v = NULL;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 8;
      RsSweepInfo *nv = realloc(v, (size_t)cap * sizeof *v);
      if (!nv) { rc = tr_err_set(err, TR_ENOMEM, "out of memory"); break; }
      v = nv;
    }
    sweep_from_row(st, &v[(*n)++]);
  }
  if (rc == TR_OK && r != SQLITE_DONE) rc = db_fail(db, err, "list sweeps");
  sqlite3_finalize(st);
  for (int i = 0; rc == TR_OK && i < *n; i++) rc = sweep_counts(db, &v[i], err);
  if (rc != TR_OK) {
    rs_query_sweeps_free(v, *n);
    *n = 0;
    return rc;
  }
  *out = v;
  return TR_OK;
}

/* "a, b, c" from a list, cut with "..." if long; the message must stay one line. */
static void join_names(char *buf, size_t cap, char **names, int n) {
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

int rs_sweep_find(RsDb *db, const char *name, RsSweepInfo *out, TrErr *err) {
  memset(out, 0, sizeof *out);
  sqlite3_stmt *st;
  if (prep(db, "SELECT " SWEEP_COLS " FROM sweeps WHERE name=?", &st, err)) return err ? err->code : TR_EDB;
  sqlite3_bind_text(st, 1, name, -1, SQLITE_TRANSIENT);
  int r = sqlite3_step(st), found = r == SQLITE_ROW;
  if (found) sweep_from_row(st, out);
  if (step_end(db, st, r, err, "find sweep")) return TR_EDB;
  if (found) {
    int rc = sweep_counts(db, out, err);
    if (rc) rs_sweep_deinit(out);
    return rc;
  }
  /* List what exists. */
  if (prep(db, "SELECT name FROM sweeps ORDER BY created, id", &st, err)) return err ? err->code : TR_EDB;
  char *names[64];
  int n = 0;
  while (n < 64 && (r = sqlite3_step(st)) == SQLITE_ROW) names[n++] = col_str(st, 0);
  if (step_end(db, st, r, err, "list sweeps")) {
    for (int i = 0; i < n; i++) free(names[i]);
    return TR_EDB;
  }
  char list[700];
  join_names(list, sizeof list, names, n);
  for (int i = 0; i < n; i++) free(names[i]);
  return tr_err_set(err, TR_ENOTFOUND, "no sweep '%s' in %s (sweeps: %s)", name, db->path, list);
}

/* ---- trials and parameters ----------------------------------------------- */

void rs_trials_deinit(RsTrialSet *ts) {
  if (!ts) return;
  for (int i = 0; i < ts->n; i++) {
    RsTrial *t = &ts->t[i];
    free(t->hash), free(t->status), free(t->config), free(t->params), free(t->error), free(t->pv);
  }
  free(ts->t);
  for (int k = 0; k < ts->np; k++) {
    RsParam *p = &ts->p[k];
    for (int j = 0; j < p->n_values; j++) free(p->values[j]);
    free(p->values), free(p->nums), free(p->name), free(p->short_name);
  }
  free(ts->p);
  free(ts->metric);
  rs_sweep_deinit(&ts->sweep);
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
  IdPos *m = malloc(((size_t)ts->n + 1) * sizeof *m);
  if (!m) return NULL;
  for (int i = 0; i < ts->n; i++) m[i] = (IdPos){ts->t[i].id, i};
  qsort(m, (size_t)ts->n, sizeof *m, cmp_idpos);
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
    char **nv = realloc(p->values, (size_t)cap * sizeof *nv);
    if (nv) p->values = nv;
    double *nn = realloc(p->nums, (size_t)cap * sizeof *nn);
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
    int *t = calloc(size, sizeof *t), *n = calloc(size, sizeof *n);
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
  NumPos *np = malloc(((size_t)m + 1) * sizeof *np);
  int *inv = malloc(((size_t)m + 1) * sizeof *inv);
  char **nv = malloc(((size_t)m + 1) * sizeof *nv);
  double *nn = malloc(((size_t)m + 1) * sizeof *nn);
  if (!np || !inv || !nv || !nn) {
    free(np), free(inv), free(nv), free(nn);
    return TR_ENOMEM;
  }
  for (int j = 0; j < m; j++) np[j] = (NumPos){p->nums[j], j};
  qsort(np, (size_t)m, sizeof *np, cmp_numpos);
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

/* Keys in spec order: first trial that has them, position in its object. */
static int param_keys(RsDb *db, RsTrialSet *ts, TrErr *err) {
  sqlite3_stmt *st;
  if (prep(db, "SELECT j.key FROM trials t, json_each(t.params) j WHERE t.sweep_id=? "
               "GROUP BY j.key ORDER BY min(t.idx), min(j.id)", &st, err))
    return err ? err->code : TR_EDB;
  sqlite3_bind_int64(st, 1, ts->sweep.id);
  int cap = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (ts->np == cap) {
      cap = cap ? 2 * cap : 8;
      RsParam *np = realloc(ts->p, (size_t)cap * sizeof *np);
      if (!np) { sqlite3_finalize(st); return tr_err_set(err, TR_ENOMEM, "out of memory"); }
      ts->p = np;
    }
    RsParam *p = &ts->p[ts->np++];
    memset(p, 0, sizeof *p);
    p->name = col_str(st, 0);
    p->numeric = 1;
    p->is_seed = is_seed_name(p->name);
  }
  sqlite3_finalize(st);
  for (int k = 0; k < ts->np; k++) {
    const char *dot = strrchr(ts->p[k].name, '.');
    const char *sh = dot ? dot + 1 : ts->p[k].name;
    int clash = 0;
    for (int o = 0; o < ts->np; o++) {
      const char *od = strrchr(ts->p[o].name, '.');
      if (o != k && strcmp(od ? od + 1 : ts->p[o].name, sh) == 0) clash = 1;
    }
    ts->p[k].short_name = xstrdup(clash ? ts->p[k].name : sh);
  }
  return TR_OK;
}

/* Every trial's value of every key, deduplicated into ts->p[k].values. */
static int param_values(RsDb *db, RsTrialSet *ts, VSet *vs, const IdPos *ids, TrErr *err) {
  sqlite3_stmt *st;
  if (prep(db, "SELECT t.id, j.key, CASE j.type WHEN 'true' THEN 'true' WHEN 'false' THEN 'false' "
               "WHEN 'null' THEN 'null' ELSE CAST(j.value AS TEXT) END, "
               "j.type IN ('integer','real'), j.value "
               "FROM trials t, json_each(t.params) j WHERE t.sweep_id=?", &st, err))
    return err ? err->code : TR_EDB;
  sqlite3_bind_int64(st, 1, ts->sweep.id);
  int rc = TR_OK;
  while (rc == TR_OK && sqlite3_step(st) == SQLITE_ROW) {
    int k = param_index(ts, (const char *)sqlite3_column_text(st, 1));
    if (k < 0) continue; /* a trial inserted after the key scan: ignore its new key */
    RsParam *p = &ts->p[k];
    const char *text = (const char *)sqlite3_column_text(st, 2);
    int numeric = sqlite3_column_int(st, 3);
    double num = numeric ? sqlite3_column_double(st, 4) : NAN;
    if (!text) text = "null";
    if (!numeric) p->numeric = 0;
    int j = vset_find(&vs[k], p, text, numeric, num);
    if (j < 0) {
      j = p->n_values;
      if (vset_add(&vs[k], p, text, num)) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
    }
    int i = idpos_find(ids, ts->n, sqlite3_column_int64(st, 0));
    if (i >= 0) ts->t[i].pv[k] = j;
  }
  sqlite3_finalize(st);
  return rc;
}

static int load_params(RsDb *db, RsTrialSet *ts, TrErr *err) {
  int rc = param_keys(db, ts, err);
  if (rc) return rc;
  for (int i = 0; i < ts->n; i++) {
    if (!(ts->t[i].pv = malloc(((size_t)ts->np + 1) * sizeof(int)))) return tr_err_set(err, TR_ENOMEM, "out of memory");
    for (int k = 0; k < ts->np; k++) ts->t[i].pv[k] = -1;
  }
  IdPos *ids = idpos_build(ts);
  VSet *vs = calloc((size_t)ts->np + 1, sizeof *vs);
  rc = ids && vs ? param_values(db, ts, vs, ids, err) : tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int k = 0; vs && k < ts->np; k++) free(vs[k].by_text), free(vs[k].by_num);
  free(vs), free(ids);
  for (int k = 0; !rc && k < ts->np; k++) {
    RsParam *p = &ts->p[k];
    p->varies = p->n_values > 1;
    if (!p->numeric) continue;
    if ((rc = param_sort(ts, k))) return tr_err_set(err, rc, "out of memory");
    p->log_spaced = looks_log(p);
  }
  return rc;
}

int rs_trials_load(RsDb *db, const char *sweep, RsTrialSet *ts, TrErr *err) {
  memset(ts, 0, sizeof *ts);
  int rc = rs_sweep_find(db, sweep, &ts->sweep, err);
  if (rc) return rc;
  ts->metric = xstrdup(ts->sweep.metric);
  ts->maximize = ts->sweep.maximize;
  sqlite3_stmt *st;
  if (prep(db, "SELECT id, idx, seed, attempts, hash, status, config, params, error, best_metric, "
               "final_metric, best_step, steps, tokens, wall_seconds, flops, started, ended "
               "FROM trials WHERE sweep_id=? ORDER BY idx, id", &st, err)) {
    rs_trials_deinit(ts);
    return err ? err->code : TR_EDB;
  }
  sqlite3_bind_int64(st, 1, ts->sweep.id);
  int cap = 0, r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (ts->n == cap) {
      cap = cap ? 2 * cap : 16;
      RsTrial *nt = realloc(ts->t, (size_t)cap * sizeof *nt);
      if (!nt) { r = SQLITE_NOMEM; break; }
      ts->t = nt;
    }
    RsTrial *t = &ts->t[ts->n++];
    memset(t, 0, sizeof *t);
    t->id = sqlite3_column_int64(st, 0), t->idx = col_int(st, 1), t->seed = col_int(st, 2);
    t->attempts = col_int(st, 3);
    t->hash = col_str(st, 4), t->status = col_str(st, 5), t->config = col_str(st, 6);
    t->params = col_str(st, 7), t->error = col_str(st, 8);
    t->best = col_num(st, 9), t->final = col_num(st, 10), t->best_step = col_int(st, 11);
    t->steps = col_int(st, 12), t->tokens = col_int(st, 13);
    t->wall = col_num(st, 14), t->flops = col_num(st, 15);
    t->started = col_num(st, 16), t->ended = col_num(st, 17);
  }
  sqlite3_finalize(st);
  if (r != SQLITE_DONE) {
    rc = r == SQLITE_NOMEM ? tr_err_set(err, TR_ENOMEM, "out of memory") : db_fail(db, err, "trials");
    rs_trials_deinit(ts);
    return rc;
  }
  rc = load_params(db, ts, err);
  if (rc) rs_trials_deinit(ts);
  return rc;
}

static int metric_maximize(const RsTrialSet *ts, const char *m) {
  if (strcmp(m, ts->sweep.metric) == 0) return ts->sweep.maximize;
  return strstr(m, "acc") || strstr(m, "tokens_per_second") || strstr(m, "throughput");
}

int rs_trials_use_metric(RsDb *db, RsTrialSet *ts, const char *metric, TrErr *err) {
  int rc = rs_metric_check(db, ts->sweep.id, metric, err);
  if (rc) return rc;
  int mx = metric_maximize(ts, metric);
  for (int i = 0; i < ts->n; i++) ts->t[i].best = ts->t[i].final = NAN, ts->t[i].best_step = -1;
  /* SQLite: a bare column next to min()/max() comes from the row holding the extreme. */
  char sql[512];
  snprintf(sql, sizeof sql,
           "SELECT m.trial_id, %s(m.value), m.step FROM metrics m JOIN trials t ON t.id=m.trial_id "
           "WHERE t.sweep_id=?1 AND m.name=?2 GROUP BY m.trial_id", mx ? "max" : "min");
  IdPos *ids = idpos_build(ts);
  if (!ids) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int pass = 0; pass < 2; pass++) {
    sqlite3_stmt *st;
    if (pass == 1)
      snprintf(sql, sizeof sql,
               "SELECT m.trial_id, m.value, max(m.step) FROM metrics m JOIN trials t ON "
               "t.id=m.trial_id WHERE t.sweep_id=?1 AND m.name=?2 GROUP BY m.trial_id");
    if (prep(db, sql, &st, err)) {
      free(ids);
      return err ? err->code : TR_EDB;
    }
    sqlite3_bind_int64(st, 1, ts->sweep.id);
    sqlite3_bind_text(st, 2, metric, -1, SQLITE_TRANSIENT);
    while (sqlite3_step(st) == SQLITE_ROW) {
      int i = idpos_find(ids, ts->n, sqlite3_column_int64(st, 0));
      if (i < 0) continue;
      if (pass == 0) ts->t[i].best = col_num(st, 1), ts->t[i].best_step = col_int(st, 2);
      else ts->t[i].final = col_num(st, 1);
    }
    sqlite3_finalize(st);
  }
  free(ids);
  free(ts->metric);
  ts->metric = xstrdup(metric);
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

static int rankable(const RsTrial *t) {
  return !isnan(t->best) && strcmp(t->status, "failed") != 0 && strcmp(t->status, "diverged") != 0;
}

int rs_better(const RsTrialSet *ts, double a, double b) {
  if (isnan(a)) return 0;
  if (isnan(b)) return 1;
  return ts->maximize ? a > b : a < b;
}

/* Rank class: 0 rankable, 1 failed/diverged with a value, 2 no value. */
static int rank_class(const RsTrial *t) { return rankable(t) ? 0 : isnan(t->best) ? 2 : 1; }

/* The ranking as a total order: class, then the metric (goal-aware) within class 0, then the
** trial's position (idx order), so any sort gives the one stable result. */
static int rank_cmp(const void *ctx, int a, int b) {
  const RsTrialSet *ts = ctx;
  const RsTrial *x = &ts->t[a], *y = &ts->t[b];
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

int rs_metric_names(RsDb *db, int64_t sweep_id, char ***names, int *n, TrErr *err) {
  *names = NULL;
  *n = 0;
  sqlite3_stmt *st;
  if (prep(db, "SELECT DISTINCT m.name FROM metrics m JOIN trials t ON t.id=m.trial_id "
               "WHERE t.sweep_id=? ORDER BY m.name", &st, err))
    return err ? err->code : TR_EDB;
  sqlite3_bind_int64(st, 1, sweep_id);
  int cap = 0, r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 8;
      char **nn = realloc(*names, (size_t)cap * sizeof **names);
      if (!nn) {
        sqlite3_finalize(st);
        return tr_err_set(err, TR_ENOMEM, "out of memory");
      }
      *names = nn;
    }
    (*names)[(*n)++] = col_str(st, 0);
  }
  return step_end(db, st, r, err, "metric names");
}

int rs_metric_check(RsDb *db, int64_t sweep_id, const char *metric, TrErr *err) {
  char **names;
  int n;
  int rc = rs_metric_names(db, sweep_id, &names, &n, err);
  if (rc) return rc;
  for (int i = 0; i < n; i++)
    if (strcmp(names[i], metric) == 0) {
      rs_names_free(names, n);
      return TR_OK;
    }
  char list[700];
  join_names(list, sizeof list, names, n);
  rs_names_free(names, n);
  return tr_err_set(err, TR_ENOTFOUND, "no metric '%s' in this sweep (metrics: %s)", metric, list);
}

int rs_series_load(RsDb *db, int64_t trial_id, const char *metric, RsXKind xk, double **x,
                   double **y, int *n, TrErr *err) {
  static const char *const xcol[] = {"step", "tokens", "seconds"};
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT %s, value FROM metrics WHERE trial_id=? AND name=? ORDER BY step",
           xcol[xk]);
  *x = *y = NULL;
  *n = 0;
  sqlite3_stmt *st;
  if (prep(db, sql, &st, err)) return err ? err->code : TR_EDB;
  sqlite3_bind_int64(st, 1, trial_id);
  sqlite3_bind_text(st, 2, metric, -1, SQLITE_TRANSIENT);
  int cap = 0, r;
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    if (*n == cap) {
      cap = cap ? 2 * cap : 64;
      double *nx = realloc(*x, (size_t)cap * sizeof *nx), *ny = realloc(*y, (size_t)cap * sizeof *ny);
      if (nx) *x = nx;
      if (ny) *y = ny;
      if (!nx || !ny) {
        sqlite3_finalize(st);
        return tr_err_set(err, TR_ENOMEM, "out of memory");
      }
    }
    (*x)[*n] = sqlite3_column_double(st, 0);
    (*y)[*n] = col_num(st, 1);
    (*n)++;
  }
  return step_end(db, st, r, err, "metric rows");
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

static int counts_toward(const RsTrial *t) { return !isnan(t->best) && strcmp(t->status, "completed") == 0; }

/* Label "a=1, b=2" of trial t over params ks[0..nk). */
static char *label_of(const RsTrialSet *ts, const RsTrial *t, const int *ks, int nk) {
  size_t cap = 64, len = 0;
  char *s = malloc(cap);
  s[0] = '\0';
  for (int i = 0; i < nk; i++) {
    const RsParam *p = &ts->p[ks[i]];
    const char *v = t->pv[ks[i]] >= 0 ? p->values[t->pv[ks[i]]] : "-";
    size_t need = strlen(p->short_name) + strlen(v) + 4;
    if (len + need >= cap) {
      cap = 2 * (len + need);
      s = realloc(s, cap);
    }
    len += (size_t)snprintf(s + len, cap - len, "%s%s=%s", i ? ", " : "", p->short_name, v);
  }
  return s;
}

/* Lexicographic compare of two trials on params ks (value indices are sorted). */
static int cmp_on(const RsTrial *a, const RsTrial *b, const int *ks, int nk) {
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
  const RsTrial *x = &c->ts->t[a], *y = &c->ts->t[b];
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
  int *o = malloc(((size_t)cx->ng + 1) * sizeof *o);
  RsGroup *g = malloc(((size_t)cx->ng + 1) * sizeof *g);
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
  int *ord = malloc((size_t)ts->n * sizeof *ord);
  if (!ord) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int i = 0; i < ts->n; i++) ord[i] = i;
  CtxOrder co = {ts, other, no, by, nby};
  heap_sort_idx(ord, ts->n, ctx_cmp, &co);
  {
    int ks[2] = {by[0], nby > 1 ? by[1] : by[0]};
    size_t cap = 128;
    out->by_label = malloc(cap);
    snprintf(out->by_label, cap, "%s%s%s", ts->p[ks[0]].short_name, nby > 1 ? ", " : "",
             nby > 1 ? ts->p[ks[1]].short_name : "");
  }
  for (int i = 0; i < ts->n;) {
    int j = i;
    while (j < ts->n && cmp_on(&ts->t[ord[i]], &ts->t[ord[j]], other, no) == 0) j++;
    out->ctx = realloc(out->ctx, ((size_t)out->nctx + 1) * sizeof *out->ctx);
    RsContext *cx = &out->ctx[out->nctx++];
    memset(cx, 0, sizeof *cx);
    cx->label = label_of(ts, &ts->t[ord[i]], other, no);
    for (int a = i; a < j;) {
      int b = a;
      while (b < j && cmp_on(&ts->t[ord[a]], &ts->t[ord[b]], by, nby) == 0) b++;
      cx->g = realloc(cx->g, ((size_t)cx->ng + 1) * sizeof *cx->g);
      RsGroup *g = &cx->g[cx->ng++];
      memset(g, 0, sizeof *g);
      g->label = label_of(ts, &ts->t[ord[a]], by, nby);
      g->value = ts->t[ord[a]].pv[by[0]];
      g->vals = malloc(((size_t)(b - a)) * sizeof *g->vals);
      for (int m = a; m < b; m++) {
        const RsTrial *t = &ts->t[ord[m]];
        if (counts_toward(t)) g->vals[g->n++] = t->best;
        else g->n_other++;
      }
      group_stats(g, ts->maximize);
      a = b;
    }
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
    if (groups_sort(ts, cx)) {
      free(ord);
      return tr_err_set(err, TR_ENOMEM, "out of memory");
    }
    i = j;
  }
  free(ord);
  return TR_OK;
}

double rs_param_var_explained(const RsTrialSet *ts, int k) {
  double *y = malloc(((size_t)ts->n + 1) * sizeof *y);
  int *g = malloc(((size_t)ts->n + 1) * sizeof *g), n = 0;
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

static double nan_mean(const double *m, const int *idx, int n, int col) {
  double s = 0;
  int k = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(m[idx[i] * DIV_NM + col])) s += m[idx[i] * DIV_NM + col], k++;
  return k ? s / k : NAN;
}

int rs_diversity_load(RsDb *db, const RsTrialSet *ts, RsDiversity *out, TrErr *err) {
  memset(out, 0, sizeof *out);
  out->temp = -1;
  out->rho_div = out->rho_val = out->r_settings = NAN;
  int n = ts->n;
  double *m = malloc(((size_t)n * DIV_NM + 1) * sizeof *m);
  int *ord = malloc(((size_t)n + 1) * sizeof *ord), *ok = calloc((size_t)n + 1, sizeof *ok);
  int keys[64], nk = 0;
  if (!m || !ord || !ok) {
    free(m), free(ord), free(ok);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  for (int i = 0; i < n * DIV_NM; i++) m[i] = NAN;
  sqlite3_stmt *st;
  /* The last step's value: an inference trial logs each measure once, at step 0. */
  int rc = prep(db, "SELECT trial_id, name, value FROM metrics WHERE trial_id IN "
                    "(SELECT id FROM trials WHERE sweep_id=?) AND name IN "
                    "('validity','distinct_2','rep_4','mean_length') ORDER BY trial_id, step", &st, err);
  if (rc) {
    free(m), free(ord), free(ok);
    return rc;
  }
  sqlite3_bind_int64(st, 1, ts->sweep.id);
  static const char *const names[DIV_NM] = {"validity", "distinct_2", "rep_4", "mean_length"};
  int at = 0;
  while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(st, 0);
    const char *name = (const char *)sqlite3_column_text(st, 1);
    for (int j = 0; j < n && ts->t[at].id != id; j++) at = (at + 1) % n; /* rows come in id order */
    if (n == 0 || ts->t[at].id != id || !name) continue;
    for (int c = 0; c < DIV_NM; c++)
      if (strcmp(name, names[c]) == 0) m[at * DIV_NM + c] = col_num(st, 2);
  }
  sqlite3_finalize(st);
  if (rc != SQLITE_DONE) {
    free(m), free(ord), free(ok);
    return db_fail(db, err, "metrics");
  }
  for (int k = 0; k < ts->np && nk < 64; k++)
    if (ts->p[k].varies && !ts->p[k].is_seed) keys[nk++] = k;
  for (int i = 0; i < n; i++) {
    ok[i] = strcmp(ts->t[i].status, "completed") == 0 && isfinite(m[i * DIV_NM]) && isfinite(m[i * DIV_NM + 1]);
    out->n_trials += ok[i];
    ord[i] = i;
  }
  out->n_skipped = n - out->n_trials;
  if (out->n_trials == 0) {
    free(m), free(ord), free(ok);
    return tr_err_set(err, TR_ENOTFOUND, "sweep '%s' has no completed trial with validity and distinct_2 "
                      "(the measures of a task: sample sweep)", ts->sweep.name);
  }
  /* Settings in value order of the varied parameters (stable: idx order inside). */
  for (int a = 1; a < n; a++)
    for (int b = a; b > 0 && cmp_on(&ts->t[ord[b]], &ts->t[ord[b - 1]], keys, nk) < 0; b--) {
      int tmp = ord[b]; ord[b] = ord[b - 1]; ord[b - 1] = tmp;
    }
  out->pt = calloc((size_t)n + 1, sizeof *out->pt);
  int *seeds = malloc(((size_t)n + 1) * sizeof *seeds);
  if (!out->pt || !seeds) {
    free(m), free(ord), free(ok), free(seeds);
    rs_diversity_deinit(out);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  for (int i = 0; i < n;) {
    int j = i;
    while (j < n && cmp_on(&ts->t[ord[i]], &ts->t[ord[j]], keys, nk) == 0) j++;
    RsDivPoint *p = &out->pt[out->n++];
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
    i = j;
  }
  /* Pareto: maximise both; rs_stats_pareto minimises its cost, so cost = -distinct_2. */
  double *cost = malloc(((size_t)out->n + 1) * sizeof *cost), *val = malloc(((size_t)out->n + 1) * sizeof *val);
  int *front = malloc(((size_t)out->n + 1) * sizeof *front);
  if (cost && val && front) {
    for (int i = 0; i < out->n; i++) cost[i] = -out->pt[i].distinct_2, val[i] = out->pt[i].validity;
    out->nfront = rs_stats_pareto(cost, val, out->n, 1, front);
    for (int i = 0; i < out->n; i++) out->pt[i].front = front[i];
    for (int i = 0; i < out->n; i++) cost[i] = -cost[i];
    out->r_settings = rs_stats_pearson(cost, val, out->n);
  }
  free(cost), free(val), free(front);
  /* Temperature against each axis over trials, when temperature varies. */
  for (int k = 0; k < ts->np; k++)
    if (strcmp(ts->p[k].name, "sample.temperature") == 0 && ts->p[k].varies && ts->p[k].numeric) out->temp = k;
  if (out->temp >= 0) {
    double *x = malloc(((size_t)n + 1) * 3 * sizeof *x);
    if (x) {
      double *yd = x + n + 1, *yv = yd + n + 1;
      int q = 0;
      for (int i = 0; i < n; i++) {
        int v = ts->t[i].pv[out->temp];
        if (!ok[i] || v < 0) continue;
        x[q] = ts->p[out->temp].nums[v], yv[q] = m[i * DIV_NM], yd[q] = m[i * DIV_NM + 1], q++;
      }
      out->rho_div = rs_stats_spearman(x, yd, q), out->rho_val = rs_stats_spearman(x, yv, q);
      free(x);
    }
  }
  size_t len = 0;
  for (int q = 0; q < nk && len < sizeof out->key; q++)
    len += (size_t)snprintf(out->key + len, sizeof out->key - len, "%s%s = %s", q ? ", " : "",
                            div_abbrev(&ts->p[keys[q]]), ts->p[keys[q]].name);
  free(m), free(ord), free(ok), free(seeds);
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

/* SQL identifier / JSON path quoting is only safe for plain key names. */
static int plain_key(const char *k) { return !strpbrk(k, "\"'\\"); }

int rs_export(RsDb *db, const RsSweepInfo *sw, RsWhat what, RsFormat fmt, FILE *out, TrErr *err) {
  size_t cap = 4096, len = 0;
  char *sql = malloc(cap);
  if (what == RS_WHAT_METRICS) {
    len = (size_t)snprintf(sql, cap, "SELECT m.trial_id AS trial, m.name, m.step, m.tokens, m.seconds, "
                           "m.value FROM metrics m JOIN trials t ON t.id=m.trial_id WHERE t.sweep_id=?1 "
                           "ORDER BY m.trial_id, m.name, m.step");
  } else {
    len = (size_t)snprintf(sql, cap, "SELECT t.id AS trial, t.idx, t.hash, t.status, t.seed, t.attempts");
    sqlite3_stmt *st;
    if (prep(db, "SELECT j.key FROM trials t, json_each(t.params) j WHERE t.sweep_id=? "
                 "GROUP BY j.key ORDER BY min(t.idx), min(j.id)", &st, err)) {
      free(sql);
      return err ? err->code : TR_EDB;
    }
    sqlite3_bind_int64(st, 1, sw->id);
    int r;
    while ((r = sqlite3_step(st)) == SQLITE_ROW) {
      const char *k = (const char *)sqlite3_column_text(st, 0);
      if (!k || !plain_key(k)) continue;
      size_t need = 2 * strlen(k) + 64;
      if (len + need + 512 > cap) sql = realloc(sql, cap = 2 * (len + need + 512));
      len += (size_t)snprintf(sql + len, cap - len, ", json_extract(t.params, '$.\"%s\"') AS \"%s\"", k, k);
    }
    if (step_end(db, st, r, err, "parameter names")) {
      free(sql);
      return TR_EDB;
    }
    snprintf(sql + len, cap - len,
             ", t.best_metric, t.final_metric, t.best_step, t.steps, t.tokens, t.wall_seconds, "
             "t.flops, t.started, t.ended, t.params, t.error FROM trials t WHERE t.sweep_id=?1 "
             "ORDER BY t.idx, t.id");
  }
  sqlite3_stmt *st;
  int rc = prep(db, sql, &st, err);
  free(sql);
  if (rc) return rc;
  sqlite3_bind_int64(st, 1, sw->id);
  int nc = sqlite3_column_count(st);
  if (fmt == RS_FMT_CSV || fmt == RS_FMT_TABLE) {
    for (int c = 0; c < nc; c++) {
      if (c) fputc(',', out);
      rs_csv_field(out, sqlite3_column_name(st, c));
    }
    fputc('\n', out);
  }
  if (fmt == RS_FMT_JSON) fputs("[", out);
  int r, row = 0;
  char nb[40];
  while ((r = sqlite3_step(st)) == SQLITE_ROW) {
    int json = fmt == RS_FMT_JSON || fmt == RS_FMT_JSONL;
    if (json) fputs(fmt == RS_FMT_JSON ? (row ? ",\n{" : "\n{") : "{", out);
    for (int c = 0; c < nc; c++) {
      const char *name = sqlite3_column_name(st, c);
      if (json) {
        if (c) fputs(", ", out);
        rs_json_string(out, name);
        fputs(": ", out);
      } else if (c) {
        fputc(',', out);
      }
      switch (sqlite3_column_type(st, c)) {
        case SQLITE_NULL:
          if (json) fputs("null", out);
          break;
        case SQLITE_INTEGER:
          fprintf(out, "%lld", (long long)sqlite3_column_int64(st, c));
          break;
        case SQLITE_FLOAT:
          if (json) rs_json_number(out, sqlite3_column_double(st, c));
          else tr_fmt_double(nb, sizeof nb, sqlite3_column_double(st, c), TR_FMT_SHORTEST), fputs(nb, out);
          break;
        default: {
          const char *s = (const char *)sqlite3_column_text(st, c);
          /* params is JSON already: embed it as an object, not a string. */
          if (json && strcmp(name, "params") == 0 && what == RS_WHAT_TRIALS) fputs(s, out);
          else if (json) rs_json_string(out, s);
          else rs_csv_field(out, s);
        }
      }
    }
    fputs(fmt == RS_FMT_JSON ? "}" : json ? "}\n" : "\n", out);
    row++;
  }
  if (fmt == RS_FMT_JSON) fputs(row ? "\n]\n" : "]\n", out);
  if (r != SQLITE_DONE) rc = db_fail(db, err, "export");
  sqlite3_finalize(st);
  if (!rc && ferror(out)) rc = tr_err_set(err, TR_EIO, "write failed");
  return rc;
}

/* ---- human formatting ---------------------------------------------------- */

void rs_fmt_metric(char *buf, size_t n, double v) {
  if (isnan(v)) snprintf(buf, n, "-");
  else if (v != 0 && (fabs(v) < 1e-3 || fabs(v) >= 1e5)) snprintf(buf, n, "%.3e", v);
  else snprintf(buf, n, "%.4g", v);
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

int rs_trial_sweep(RsDb *db, int64_t trial_id, char **sweep, TrErr *err) {
  *sweep = NULL;
  sqlite3_stmt *st;
  if (prep(db, "SELECT s.name FROM trials t JOIN sweeps s ON s.id=t.sweep_id WHERE t.id=?", &st, err))
    return err ? err->code : TR_EDB;
  sqlite3_bind_int64(st, 1, trial_id);
  int r = sqlite3_step(st);
  if (r == SQLITE_ROW) *sweep = col_str(st, 0);
  if (step_end(db, st, r, err, "find trial")) return TR_EDB;
  if (*sweep) return TR_OK;
  if (prep(db, "SELECT min(id), max(id), count(*) FROM trials", &st, err)) return err ? err->code : TR_EDB;
  long long lo = -1, hi = -1, n = 0;
  if ((r = sqlite3_step(st)) == SQLITE_ROW) lo = col_int(st, 0), hi = col_int(st, 1), n = sqlite3_column_int64(st, 2);
  if (step_end(db, st, r, err, "list trials")) return TR_EDB;
  if (n == 0) return tr_err_set(err, TR_ENOTFOUND, "no trial %lld: %s has no trials", (long long)trial_id, db->path);
  return tr_err_set(err, TR_ENOTFOUND, "no trial %lld in %s (trial ids: %lld..%lld, %lld trials; see 'hpsweep top SWEEP')",
                    (long long)trial_id, db->path, lo, hi, n);
}
