/* rs_store.c: the backend-neutral half of the store: open by URL, argument and
** read-only checks, messages, the buffered metrics writer. */
#include "rs_backend.h"
#include "tr_alloc.h"
#include "tr_os.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[RS_STATUS_COUNT] = {
    "pending", "running", "completed", "failed", "diverged", "interrupted", "pruned", "paused"};

const char *rs_status_name(RsStatus s) {
  return (unsigned)s < RS_STATUS_COUNT ? status_names[s] : "?";
}

int rs_status_parse(const char *name) {
  for (int i = 0; name && i < RS_STATUS_COUNT; i++)
    if (strcmp(name, status_names[i]) == 0) return i;
  return -1;
}

int rs_store_fail(RsStore *st, int code, const char *fmt, ...) {
  char msg[TR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  /* Truncation is fine: the message stays one line, the path comes first. */
  size_t k = (size_t)snprintf(st->errmsg, sizeof st->errmsg, "%s: ", st->path ? st->path : "store");
  if (k < sizeof st->errmsg) memcpy(st->errmsg + k, msg, strnlen(msg, sizeof st->errmsg - k - 1) + 1);
  st->errmsg[sizeof st->errmsg - 1] = '\0';
  st->errcode = code;
  return code;
}

int rs_store_say(RsStore *st, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(st->errmsg, sizeof st->errmsg, fmt, ap);
  va_end(ap);
  st->errcode = code;
  return code;
}

int rs_store_errcode(const RsStore *st) { return st ? st->errcode : TR_EINVAL; }

static double real_now(void *ctx) {
  (void)ctx;
  return tr_clock_wall();
}

double rs_store_now(RsStore *st) { return st->now(st->now_ctx); }

int rs_store_clock_is_real(const RsStore *st) { return st->now == real_now; }

void rs_store_set_clock(RsStore *st, double (*now)(void *ctx), void *ctx) {
  if (!st) return;
  st->now = now ? now : real_now;
  st->now_ctx = now ? ctx : NULL;
}

void rs_store_set_reclaim_max(RsStore *st, int n) {
  if (st) st->reclaim_max = n >= 0 ? n : RS_RECLAIM_MAX;
}

void rs_store_set_owner(RsStore *st, const char *owner) {
  if (st) snprintf(st->owner, sizeof st->owner, "%s", owner ? owner : "");
}

char *rs_strdup(const char *s, int *oom) {
  if (!s) return NULL;
  size_t n = strlen(s) + 1;
  char *d = tr_malloc(n);
  if (!d) {
    *oom = 1;
    return NULL;
  }
  return memcpy(d, s, n);
}

int rs_store_open(const char *url, int flags, RsStore **out, TrErr *err) {
  *out = NULL;
  if (!url || !*url) return tr_err_set(err, TR_EINVAL, "store: empty database path");
  int pg = strncmp(url, "postgresql://", 13) == 0 || strncmp(url, "postgres://", 11) == 0;
#ifndef HPS_HAVE_LIBPQ
  if (pg)
    return tr_err_set(err, TR_EINVAL,
                      "%s: PostgreSQL is not built in this version (build with libpq: libpq-dev; or give an "
                      "SQLite file path)", url);
#endif
  if (!pg && strstr(url, "://"))
    return tr_err_set(err, TR_EINVAL, "%s: unknown database URL scheme (give an SQLite file path)",
                      url);
  RsStore *st = tr_calloc(1, sizeof *st);
  int oom = 0;
#ifdef HPS_HAVE_LIBPQ
  if (st) st->path = pg ? rs_pg_url_redacted(url) : rs_strdup(url, &oom); /* messages never show a password */
  if (st && !st->path) oom = 1;
#else
  if (st) st->path = rs_strdup(url, &oom);
#endif
  if (!st || oom) {
    free(st);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory", url);
  }
  if (flags & RS_OPEN_KEEP_WAL) flags |= RS_OPEN_PATIENT; /* a running sweep's handle */
  st->readonly = ((flags & ~RS_OPEN_MODIFIERS) == RS_OPEN_READONLY);
  st->now = real_now;
  st->reclaim_max = RS_RECLAIM_MAX;
#ifdef HPS_HAVE_LIBPQ
  int rc = pg ? rs_pg_open(st, url, flags, err) : rs_sqlite_open(st, url, flags, err);
#else
  int rc = rs_sqlite_open(st, url, flags, err);
#endif
  if (rc != TR_OK) {
    free(st->path);
    free(st);
    return rc;
  }
  *out = st;
  return TR_OK;
}

void rs_store_close(RsStore *st) {
  if (!st) return;
  if (st->ops) st->ops->close(st);
  free(st->path);
  free(st);
}

const char *rs_store_errmsg(const RsStore *st) {
  if (!st) return "no store (open failed)";
  return st->errcode ? st->errmsg : "not an error";
}

const char *rs_store_path(const RsStore *st) { return st ? st->path : NULL; }

/* Every entry point: a handle, then (for writes) not read-only. */
#define CHECK_ST(st) \
  do { \
    if (!(st)) return TR_EINVAL; \
    (st)->errcode = TR_OK; \
  } while (0)
#define CHECK_RW(st, what) \
  do { \
    CHECK_ST(st); \
    if ((st)->readonly) return rs_store_fail((st), TR_EINVAL, "%s: store opened read-only", what); \
    if ((st)->snapshot) return rs_store_fail((st), TR_EINVAL, "%s: inside a read snapshot", what); \
  } while (0)

/* ---- sweeps ---- */

void rs_sweep_clear(RsSweep *s) {
  if (!s) return;
  free(s->name);
  free(s->spec);
  free(s->spec_hash);
  free(s->method);
  free(s->metric);
  free(s->goal);
  free(s->task);
  memset(s, 0, sizeof *s);
}

void rs_sweeps_free(RsSweep *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) rs_sweep_clear(&v[i]);
  free(v);
}

int rs_sweep_upsert(RsStore *st, const char *name, const char *spec_text, const char *spec_hash,
                    const char *method, const char *metric, const char *goal, int64_t seed,
                    const char *task, int64_t *sweep_id) {
  CHECK_RW(st, "create sweep");
  if (!name || !*name || !spec_text || !spec_hash || !method || !metric || !goal || !sweep_id)
    return rs_store_fail(st, TR_EINVAL, "create sweep: missing name, spec, hash, method, metric or goal");
  if (strcmp(goal, "minimize") != 0 && strcmp(goal, "maximize") != 0)
    return rs_store_fail(st, TR_EINVAL, "sweep '%s': goal '%s' is not minimize or maximize", name, goal);
  return st->ops->sweep_upsert(st, name, spec_text, spec_hash, method, metric, goal, seed,
                               task ? task : "train", sweep_id);
}

int rs_sweep_get(RsStore *st, const char *name, RsSweep *out) {
  CHECK_ST(st);
  memset(out, 0, sizeof *out);
  if (!name) return rs_store_fail(st, TR_EINVAL, "get sweep: no name");
  return st->ops->sweep_get(st, name, out);
}

int rs_sweep_delete(RsStore *st, const char *name, int64_t *n_trials) {
  CHECK_RW(st, "delete sweep");
  if (!name) return rs_store_fail(st, TR_EINVAL, "delete sweep: no name");
  int64_t dummy;
  return st->ops->sweep_delete(st, name, n_trials ? n_trials : &dummy);
}

int rs_trial_keys(RsStore *st, int64_t sweep_id, RsTrialKey **out, size_t *n) {
  CHECK_ST(st);
  *out = NULL;
  *n = 0;
  return st->ops->trial_keys(st, sweep_id, out, n);
}

int rs_sweeps_list(RsStore *st, RsSweep **out, size_t *n) {
  CHECK_ST(st);
  *out = NULL;
  *n = 0;
  return st->ops->sweeps_list(st, out, n);
}

int rs_sweep_counts(RsStore *st, int64_t sweep_id, RsCounts *out) {
  CHECK_ST(st);
  memset(out, 0, sizeof *out);
  return st->ops->sweep_counts(st, sweep_id, out);
}

/* ---- trials ---- */

/* The caller's fn, then the checks every definition gets; failures carry a message. */
typedef struct DefCheck {
  RsStore *st;
  RsTrialDefFn fn;
  void *ctx;
} DefCheck;

static int def_checked(void *arg, size_t i, RsTrialDef *def) {
  DefCheck *c = arg;
  memset(def, 0, sizeof *def);
  int rc = c->fn(c->ctx, i, def);
  if (rc)
    return rs_store_fail(c->st, rc, "insert trials: trial %zu: %s", i,
                         rc == TR_ENOMEM ? "out of memory" : "no definition");
  if (!def->hash || !def->config_json || !def->params_json)
    return rs_store_fail(c->st, TR_EINVAL, "insert trials: trial %zu lacks hash, config or params", i);
  return TR_OK;
}

int rs_trials_insert_each(RsStore *st, int64_t sweep_id, size_t n, RsTrialDefFn fn, void *ctx,
                          size_t *n_inserted) {
  CHECK_RW(st, "insert trials");
  if (n_inserted) *n_inserted = 0;
  DefCheck c = {st, fn, ctx};
  size_t dummy;
  return st->ops->trials_insert(st, sweep_id, n, def_checked, &c, n_inserted ? n_inserted : &dummy);
}

static int def_from_array(void *ctx, size_t i, RsTrialDef *def) {
  *def = ((const RsTrialDef *)ctx)[i];
  return TR_OK;
}

int rs_trials_insert(RsStore *st, int64_t sweep_id, size_t n, const RsTrialDef *defs,
                     size_t *n_inserted) {
  return rs_trials_insert_each(st, sweep_id, n, def_from_array, (void *)defs, n_inserted);
}

void rs_claim_clear(RsClaim *c) {
  if (!c) return;
  free(c->config_json);
  free(c->checkpoint);
  memset(c, 0, sizeof *c);
}

int rs_trial_claim_hooked(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds, int max_attempts,
                          const RsClaimHooks *hooks, RsClaim *out) {
  CHECK_RW(st, "claim");
  memset(out, 0, sizeof *out);
  if (!worker || !*worker) return rs_store_fail(st, TR_EINVAL, "claim: no worker name");
  if (!(lease_seconds > 0)) return rs_store_fail(st, TR_EINVAL, "claim: lease %g s is not positive", lease_seconds);
  RsClaimHooks none = {0};
  return st->ops->trial_claim(st, sweep_id, worker, lease_seconds, max_attempts, hooks ? hooks : &none, out);
}

int rs_trial_resume_at(RsStore *st, int64_t trial_id, int64_t claim_token, const char *path, int64_t step) {
  CHECK_RW(st, "resume trial");
  if (!path || step < 0) path = NULL, step = -1;
  return st->ops->trial_resume_at(st, trial_id, claim_token, path, step);
}

int rs_trial_claim_promoting(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds,
                             int max_attempts, RsPromoteFn promote, void *promote_ctx, RsClaim *out) {
  RsClaimHooks h = {promote, promote_ctx, NULL, NULL, 0, 0};
  return rs_trial_claim_hooked(st, sweep_id, worker, lease_seconds, max_attempts, &h, out);
}

int rs_trial_claim(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds,
                   int max_attempts, RsClaim *out) {
  return rs_trial_claim_hooked(st, sweep_id, worker, lease_seconds, max_attempts, NULL, out);
}

int rs_trial_judge(RsStore *st, int64_t trial_id, int64_t claim_token, RsJudgeFn fn, void *ctx,
                   RsVerdict *out, int *applied) {
  int dummy;
  if (!applied) applied = &dummy;
  *applied = 0;
  CHECK_RW(st, "judge trial");
  memset(out, 0, sizeof *out);
  if (!fn) return rs_store_fail(st, TR_EINVAL, "judge trial: no callback");
  return st->ops->trial_judge(st, trial_id, claim_token, fn, ctx, out, applied);
}

int rs_trial_heartbeat(RsStore *st, int64_t trial_id, int64_t claim_token, double lease_seconds) {
  CHECK_RW(st, "heartbeat");
  return st->ops->trial_heartbeat(st, trial_id, claim_token, lease_seconds);
}

int rs_trial_set_checkpoint(RsStore *st, int64_t trial_id, int64_t claim_token, const char *path,
                            int64_t step) {
  CHECK_RW(st, "set checkpoint");
  if (!path || !*path || step < 0)
    return rs_store_fail(st, TR_EINVAL, "trial %lld: set checkpoint: no path or negative step",
                         (long long)trial_id);
  return st->ops->trial_set_checkpoint(st, trial_id, claim_token, path, step);
}

int rs_trial_reset(RsStore *st, int64_t trial_id, int64_t claim_token) {
  CHECK_RW(st, "reset trial");
  return st->ops->trial_reset(st, trial_id, claim_token);
}

int rs_trial_finish(RsStore *st, int64_t trial_id, int64_t claim_token, RsStatus status,
                    const RsTrialResult *res) {
  CHECK_RW(st, "finish trial");
  if (status != RS_COMPLETED && status != RS_FAILED && status != RS_DIVERGED && status != RS_INTERRUPTED)
    return rs_store_fail(st, TR_EINVAL, "trial %lld: cannot finish as '%s'", (long long)trial_id,
                         rs_status_name(status));
  RsTrialResult none = {NAN, NAN, -1, 0, 0, 0, 0, NULL, NULL, 0};
  return st->ops->trial_finish(st, trial_id, claim_token, status, res ? res : &none);
}

int rs_trials_mark_interrupted(RsStore *st, int64_t sweep_id, const char *worker, size_t *n_marked) {
  CHECK_RW(st, "mark interrupted");
  if (!worker) return rs_store_fail(st, TR_EINVAL, "mark interrupted: no worker name");
  size_t dummy;
  return st->ops->trials_mark_interrupted(st, sweep_id, worker, n_marked ? n_marked : &dummy);
}

void rs_trial_clear(RsTrial *t) {
  if (!t) return;
  free(t->hash);
  free(t->config);
  free(t->params);
  free(t->worker);
  free(t->summary);
  free(t->error);
  free(t->checkpoint);
  memset(t, 0, sizeof *t);
}

int rs_trial_get(RsStore *st, int64_t trial_id, RsTrial *out) {
  CHECK_ST(st);
  memset(out, 0, sizeof *out);
  return st->ops->trial_get(st, trial_id, out);
}

int rs_trials_running(RsStore *st, int64_t sweep_id, RsRunning **out, size_t *n) {
  CHECK_ST(st);
  *out = NULL;
  *n = 0;
  return st->ops->trials_running(st, sweep_id, out, n);
}

void rs_running_free(RsRunning *v, size_t n) {
  for (size_t i = 0; v && i < n; i++) {
    free(v[i].worker);
    free(v[i].params);
  }
  free(v);
}

/* ---- metrics ---- */

int rs_metrics_put(RsStore *st, int64_t trial_id, int64_t claim_token, size_t n,
                   const RsMetric *rows) {
  CHECK_RW(st, "write metrics");
  for (size_t i = 0; i < n; i++)
    if (!rows[i].name || !*rows[i].name)
      return rs_store_fail(st, TR_EINVAL, "trial %lld: metric row %zu has no name", (long long)trial_id, i);
  if (n == 0) return TR_OK;
  return st->ops->metrics_put(st, trial_id, claim_token, n, rows);
}

int rs_metrics_read(RsStore *st, int64_t trial_id, const char *name, RsPoint **out, size_t *n) {
  CHECK_ST(st);
  *out = NULL;
  *n = 0;
  if (!name) return rs_store_fail(st, TR_EINVAL, "read metrics: no metric name");
  return st->ops->metrics_read(st, trial_id, name, out, n);
}

int rs_metricbuf_init(RsMetricBuf *b, RsStore *st, int64_t trial_id, int64_t claim_token,
                      size_t max_rows, double max_seconds) {
  memset(b, 0, sizeof *b);
  if (!st) return TR_EINVAL;
  b->st = st;
  b->trial_id = trial_id;
  b->claim_token = claim_token;
  b->max_rows = max_rows ? max_rows : 512;
  b->max_seconds = max_seconds > 0 ? max_seconds : 1.0;
  b->last_flush = tr_clock_mono();
  b->rows = tr_calloc(b->max_rows, sizeof *b->rows);
  b->names = tr_calloc(b->max_rows, sizeof *b->names);
  if (!b->rows || !b->names) {
    rs_metricbuf_deinit(b);
    return rs_store_fail(st, TR_ENOMEM, "metrics buffer: out of memory");
  }
  return TR_OK;
}

void rs_metricbuf_deinit(RsMetricBuf *b) {
  if (!b) return;
  free(b->rows);
  free(b->names);
  b->rows = NULL;
  b->names = NULL;
  b->n = 0;
}

int rs_metricbuf_flush(RsMetricBuf *b) {
  if (b->lost) return RS_LOST;
  if (b->n == 0) {
    b->last_flush = tr_clock_mono();
    return TR_OK;
  }
  int rc = rs_metrics_put(b->st, b->trial_id, b->claim_token, b->n, b->rows);
  if (rc == RS_LOST) b->lost = 1;
  /* On RS_LOST the rows are dropped; on another error they stay for the next flush. */
  if (rc == TR_OK || rc == RS_LOST) b->n = 0;
  b->last_flush = tr_clock_mono();
  return rc;
}

int rs_metricbuf_add(RsMetricBuf *b, int64_t step, int64_t tokens, double seconds,
                     const char *name, double value) {
  if (b->lost) return RS_LOST;
  if (!name || strlen(name) >= RS_METRIC_NAME_MAX)
    return rs_store_fail(b->st, TR_EINVAL, "metric name '%s' is empty or longer than %d bytes",
                         name ? name : "", RS_METRIC_NAME_MAX - 1);
  if (b->n == b->max_rows) {
    int rc = rs_metricbuf_flush(b);
    if (rc != TR_OK) return rc;
  }
  strcpy(b->names[b->n], name);
  b->rows[b->n] = (RsMetric){step, tokens, seconds, value, b->names[b->n]};
  b->n++;
  if (b->n == b->max_rows || tr_clock_mono() - b->last_flush >= b->max_seconds) return rs_metricbuf_flush(b);
  return TR_OK;
}

/* ---- events ---- */

int rs_event_add(RsStore *st, int64_t sweep_id, int64_t trial_id, const char *kind,
                 const char *message) {
  CHECK_RW(st, "log event");
  if (!kind || !*kind) return rs_store_fail(st, TR_EINVAL, "log event: no kind");
  return st->ops->event_add(st, sweep_id, trial_id, kind, message);
}

/* ---- reads ---- */

#define CHECK_FN(st, fn, what) \
  do { \
    CHECK_ST(st); \
    if (!(fn)) return rs_store_fail((st), TR_EINVAL, "%s: no callback", what); \
  } while (0)

int rs_store_snapshot_begin(RsStore *st) {
  CHECK_ST(st);
  int rc = st->ops->snapshot_begin(st);
  if (rc == TR_OK) st->snapshot = 1;
  return rc;
}

void rs_store_snapshot_end(RsStore *st) {
  if (!st) return;
  st->ops->snapshot_end(st);
  st->snapshot = 0;
}

int rs_trials_each(RsStore *st, int64_t sweep_id, RsTrialFn fn, void *ctx) {
  CHECK_FN(st, fn, "trials");
  return st->ops->trials_each(st, sweep_id, fn, ctx);
}

int rs_trial_best(RsStore *st, int64_t sweep_id, int maximize, unsigned statuses, RsTrial *out) {
  CHECK_ST(st);
  memset(out, 0, sizeof *out);
  return st->ops->trial_best(st, sweep_id, maximize, statuses, out);
}

int rs_sweep_param_keys(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx) {
  CHECK_FN(st, fn, "parameter names");
  return st->ops->sweep_param_keys(st, sweep_id, fn, ctx);
}

int rs_sweep_events_each(RsStore *st, int64_t sweep_id, const char *kind, RsEventFn fn, void *ctx) {
  CHECK_FN(st, fn, "events");
  return st->ops->sweep_events_each(st, sweep_id, kind, fn, ctx);
}

int rs_sweep_param_values(RsStore *st, int64_t sweep_id, RsParamFn fn, void *ctx) {
  CHECK_FN(st, fn, "parameter values");
  return st->ops->sweep_param_values(st, sweep_id, fn, ctx);
}

int rs_sweep_metric_names(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx) {
  CHECK_FN(st, fn, "metric names");
  return st->ops->sweep_metric_names(st, sweep_id, fn, ctx);
}

int rs_sweep_metric_agg(RsStore *st, int64_t sweep_id, const char *name, RsAgg agg, RsTrialValueFn fn,
                        void *ctx) {
  CHECK_FN(st, fn, "metric per trial");
  if (!name) return rs_store_fail(st, TR_EINVAL, "metric per trial: no metric name");
  if (agg != RS_AGG_MIN && agg != RS_AGG_MAX && agg != RS_AGG_LAST)
    return rs_store_fail(st, TR_EINVAL, "metric per trial: unknown aggregate %d", (int)agg);
  return st->ops->sweep_metric_agg(st, sweep_id, name, agg, fn, ctx);
}

int rs_sweep_metrics_each(RsStore *st, int64_t sweep_id, const char *const *names, size_t n,
                          RsMetricRowFn fn, void *ctx) {
  CHECK_FN(st, fn, "metric rows");
  if (n == 0 || n > 32) return rs_store_fail(st, TR_EINVAL, "metric rows: %zu names (1 to 32)", n);
  for (size_t i = 0; i < n; i++)
    if (!names[i]) return rs_store_fail(st, TR_EINVAL, "metric rows: name %zu is NULL", i);
  return st->ops->sweep_metrics_each(st, sweep_id, names, n, fn, ctx);
}

int rs_trials_span(RsStore *st, int64_t *lo, int64_t *hi, int64_t *n) {
  CHECK_ST(st);
  *lo = *hi = -1;
  *n = 0;
  return st->ops->trials_span(st, lo, hi, n);
}

int rs_sweep_export(RsStore *st, int64_t sweep_id, int metrics, const char *const *keys, size_t nkeys,
                    RsRowFn fn, void *ctx) {
  CHECK_FN(st, fn, "export");
  return st->ops->sweep_export(st, sweep_id, metrics != 0, keys, keys ? nkeys : 0, fn, ctx);
}

int rs_sweep_mean_seconds(RsStore *st, int64_t sweep_id, double *out) {
  CHECK_ST(st);
  *out = NAN;
  return st->ops->sweep_mean_seconds(st, sweep_id, out);
}

int rs_trial_config_int(RsStore *st, int64_t trial_id, const char *key, int64_t *out) {
  CHECK_ST(st);
  *out = -1;
  if (!key || !*key) return rs_store_fail(st, TR_EINVAL, "trial config: no key");
  return st->ops->trial_config_int(st, trial_id, key, out);
}

/* ---- copying a sweep between stores ---- */

int rs_sweep_rows_each(RsStore *st, const char *name, RsCopyRowFn fn, void *ctx) {
  CHECK_ST(st);
  if (!name || !fn) return rs_store_fail(st, TR_EINVAL, "read sweep rows: no name or callback");
  return st->ops->sweep_rows(st, name, fn, ctx);
}

typedef struct CopyFeed {
  RsStore *from;
  const char *name;
  RsCopyProgressFn progress;
  void *progress_ctx;
  RsCopyRowFn sink;
  void *sink_ctx;
  int64_t done, total;
  int sink_rc; /* the target refused a row: its message is on the target's handle */
} CopyFeed;

static int copy_pass(void *ctx, const RsCopyPlan *plan, RsCopyTable t, const RsValue *vals) {
  CopyFeed *f = ctx;
  if (f->done == 0)
    for (int k = 0; k < RS_COPY_TABLES; k++) f->total += plan->rows[k];
  int rc = f->sink(f->sink_ctx, plan, t, vals);
  if (rc) return f->sink_rc = rc;
  if (++f->done % 4096 == 0 && f->progress) f->progress(f->progress_ctx, f->done, f->total);
  return TR_OK;
}

static int copy_feed(void *ctx, RsCopyRowFn sink, void *sink_ctx) {
  CopyFeed *f = ctx;
  f->sink = sink, f->sink_ctx = sink_ctx;
  f->done = f->total = 0; /* the target's transaction may run again */
  f->sink_rc = 0;
  return f->from->ops->sweep_rows(f->from, f->name, copy_pass, f);
}

int rs_sweep_copy(RsStore *from, RsStore *to, const char *name, const char *as, int replace,
                  RsCopyProgressFn progress, void *progress_ctx, RsCopyStats *out, TrErr *err) {
  RsCopyStats dummy;
  if (!out) out = &dummy;
  memset(out, 0, sizeof *out);
  if (!from || !to || !name || !*name) return tr_err_set(err, TR_EINVAL, "copy: no source, target or sweep name");
  from->errcode = to->errcode = TR_OK;
  if (to->readonly || to->snapshot) return tr_err_set(err, TR_EINVAL, "%s: copy: store opened read-only", to->path);
  char a[512], b[512];
  if (from->ops->store_identity(from, a, sizeof a)) return tr_err_set(err, from->errcode, "%s", from->errmsg);
  if (to->ops->store_identity(to, b, sizeof b)) return tr_err_set(err, to->errcode, "%s", to->errmsg);
  if (strcmp(a, b) == 0)
    return tr_err_set(err, TR_EINVAL, "%s: copy: the source and the target are the same store", to->path);
  CopyFeed f = {from, name, progress, progress_ctx, NULL, NULL, 0, 0, 0};
  int rc = to->ops->sweep_load(to, as && *as ? as : name, replace, copy_feed, &f, out);
  if (rc) { /* whose message: the source's when its walk failed on its own */
    const RsStore *who = f.sink_rc || !from->errcode ? to : from;
    memset(out, 0, sizeof *out);
    return tr_err_set(err, rc, "%s", who->errcode ? who->errmsg : to->errmsg);
  }
  if (progress) progress(progress_ctx, f.done, f.total);
  return TR_OK;
}

int rs_trials_expire_dead(RsStore *st, int64_t sweep_id, RsOwnerDeadFn dead, void *ctx, size_t *n) {
  size_t dummy;
  if (!n) n = &dummy;
  *n = 0;
  CHECK_RW(st, "expire leases");
  if (!dead) return rs_store_fail(st, TR_EINVAL, "expire leases: no callback");
  return st->ops->trials_expire_dead(st, sweep_id, dead, ctx, n);
}
