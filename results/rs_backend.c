/* rs_backend.c: what every backend decides or writes the same way (a claim's fields and its event,
** a finish's event, a verdict's numbers, a walk's copies): one home, so SQLite and PostgreSQL
** record the same rows. Private to results/ (rs_backend.h). */
#include "rs_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"

void rs_give_up_text(int reclaims, char *why, size_t n) {
  snprintf(why, n, "lease expired %d times without progress: the worker keeps dying", reclaims + 1);
}

void rs_claim_settle(RsClaim *o, RsStatus was, int proposed, int64_t token) {
  o->kind = was == RS_INTERRUPTED ? "resume" : was == RS_RUNNING ? "reclaim" : was == RS_FAILED ? "retry"
            : was == RS_PAUSED      ? "promote" : proposed ? "propose" : "claim";
  if (was == RS_FAILED || !o->checkpoint) { /* a retry starts over: the failure may lie in the state */
    free(o->checkpoint);
    o->checkpoint = NULL;
    o->checkpoint_step = -1;
    o->promoted_step = -1;
  }
  if (was == RS_PAUSED) o->promoted_step = o->checkpoint_step;
  o->claim_token = token + 1;
}

void rs_claim_text(const RsClaim *o, RsStatus was, const char *worker, const char *prev_worker, int64_t to_step,
                   const char *proposal, char *msg, size_t nmsg, char *detail, size_t ndetail) {
  int k = snprintf(msg, nmsg, "worker %s, attempt %d", worker, o->attempts);
  if (was == RS_RUNNING && k > 0 && (size_t)k < nmsg)
    k += snprintf(msg + k, nmsg - (size_t)k, ", lease of %s expired", prev_worker);
  if (k > 0 && (size_t)k < nmsg)
    snprintf(msg + k, nmsg - (size_t)k, o->checkpoint ? ", from checkpoint step %lld" : ", from step 0",
             (long long)o->checkpoint_step);
  detail[0] = '\0';
  if (was == RS_PAUSED) {
    size_t len = strlen(msg);
    if (to_step >= 0 && len < nmsg) snprintf(msg + len, nmsg - len, ", to step %lld", (long long)to_step);
    snprintf(detail, ndetail, "{\"from_step\": %lld, \"to_step\": %lld}", (long long)o->checkpoint_step,
             (long long)to_step);
  }
  if (proposal && proposal[0]) snprintf(detail, ndetail, "%s", proposal);
}

void rs_expire_text(const char *worker, char *msg, size_t n) {
  snprintf(msg, n, "runner %.200s is gone (seen from its host): its lease ends now", worker ? worker : "?");
}

const char *rs_finish_text(RsStatus status, const RsTrialResult *r, char *msg, size_t n) {
  static const char *const kinds[RS_STATUS_COUNT] = {"?", "?", "complete", "fail", "diverge", "interrupt"};
  if (r->error) snprintf(msg, n, "%.300s", r->error); /* first 300 bytes; the row has it all */
  else snprintf(msg, n, "steps %lld, final %.6g, best %.6g", (long long)r->steps, r->final_metric, r->best_metric);
  char *nl = strchr(msg, '\n');
  if (nl) *nl = '\0';
  return (unsigned)status < RS_STATUS_COUNT && kinds[status] ? kinds[status] : "?";
}

void rs_curve_best(const RsCurve *c, int maximize, double *best, int64_t *best_step) {
  *best = NAN;
  *best_step = -1;
  for (size_t i = 0; i < c->n; i++)
    if (isnan(*best) || (maximize ? c->value[i] > *best : c->value[i] < *best)) *best = c->value[i], *best_step = c->step[i];
}

int rs_judge_curves(RsStore *st, const RsCurve *c, size_t n, int64_t trial_id, RsJudgeFn fn, void *ctx,
                    RsVerdict *out, size_t *self) {
  for (*self = 0; *self < n && c[*self].trial_id != trial_id; (*self)++) continue;
  if (*self == n) return rs_store_fail(st, TR_EDB, "judge trial %lld: not in its sweep", (long long)trial_id);
  int rc = fn(ctx, c, n, *self, out);
  return rc ? rs_store_fail(st, rc, "judge trial %lld: the judgment failed", (long long)trial_id) : TR_OK;
}

int rs_verdict_ready(const RsVerdict *v, const RsCurve *c, int64_t ckpt_step) {
  /* A paused trial resumes where its curve ends: only once its checkpoint holds that step. */
  return v->action == RS_VERDICT_PRUNE || (v->action == RS_VERDICT_PAUSE && c && c->n && ckpt_step == c->step[c->n - 1]);
}

int rs_exploit_check(RsStore *st, const RsVerdict *v, int64_t trial_id, int *copy) {
  *copy = v->source_trial > 0;
  if (*copy && (!v->checkpoint || !v->config || !v->params))
    return rs_store_fail(st, TR_EINVAL, "judge trial %lld: an exploit without checkpoint, config or params",
                         (long long)trial_id);
  return TR_OK;
}

int rs_trial_copy(void *ctx, const RsTrial *t) {
  RsTrial *o = ctx;
  int oom = 0;
  *o = *t;
  o->hash = rs_strdup(t->hash, &oom);
  o->config = rs_strdup(t->config, &oom);
  o->params = rs_strdup(t->params, &oom);
  o->error = rs_strdup(t->error, &oom);
  return oom ? TR_ENOMEM : TR_OK;
}

int rs_plain_key(const char *k) { return !strpbrk(k, "\"'\\"); }

/* ---- copy (rs_sweep_copy) ---- */

static const char *const copy_tables[RS_COPY_TABLES] = {"sweeps", "trials", "metrics", "events"};
static const char *const sweep_cols[] = {"id", "name", "spec", "spec_hash", "method", "metric", "goal", "seed",
                                         "task", "created"};
static const char *const trial_cols[] = {
    "id", "sweep_id", "idx", "hash", "config", "params", "seed", "status", "attempts", "worker", "lease_until",
    "claim_token", "started", "ended", "final_metric", "best_metric", "best_step", "steps", "tokens", "wall_seconds",
    "flops", "summary", "error", "checkpoint", "checkpoint_step", "failures", "reclaims", "no_retry", "heartbeat",
    "rung", "promoted_step", "owner"};
static const char *const metric_cols[] = {"trial_id", "name", "step", "tokens", "seconds", "value"};
static const char *const event_cols[] = {"id", "sweep_id", "trial_id", "time", "kind", "message", "detail"};
/* Their types, letter by letter ('i' integer, 'r' real, 't' text), as in rs_schema.h. */
static const char *const copy_types[RS_COPY_TABLES] = {"ittttttitr", "iiitttititrirrrriiirrtttiiiiriit", "itiirr",
                                                       "iiirttt"};

const char *rs_copy_table_name(RsCopyTable t) { return (unsigned)t < RS_COPY_TABLES ? copy_tables[t] : "?"; }

const char *const *rs_copy_columns(RsCopyTable t, size_t *ncol) {
  static const char *const *const cols[RS_COPY_TABLES] = {sweep_cols, trial_cols, metric_cols, event_cols};
  static const size_t n[RS_COPY_TABLES] = {sizeof sweep_cols / sizeof *sweep_cols, sizeof trial_cols / sizeof *trial_cols,
                                           sizeof metric_cols / sizeof *metric_cols,
                                           sizeof event_cols / sizeof *event_cols};
  if ((unsigned)t >= RS_COPY_TABLES) {
    *ncol = 0;
    return NULL;
  }
  *ncol = n[t];
  return cols[t];
}

const char *rs_copy_types(RsCopyTable t) {
  return (unsigned)t < RS_COPY_TABLES ? copy_types[t] : "";
}

int rs_copy_column_list(RsCopyTable t, const char *prefix, char *buf, size_t n) {
  size_t nc, k = 0;
  const char *const *c = rs_copy_columns(t, &nc);
  buf[0] = '\0';
  for (size_t i = 0; i < nc; i++) {
    int w = snprintf(buf + k, n - k, "%s%s%s", i ? ", " : "", prefix, c[i]);
    if (w < 0 || (size_t)w >= n - k) return TR_EINVAL;
    k += (size_t)w;
  }
  return TR_OK;
}

/* s with the integer after the first `needle` shifted by `shift` (malloc'd; NULL: no such number, or out of
** memory with *oom set). */
static char *shift_after(const char *s, const char *needle, int64_t shift, int *oom) {
  const char *at = s ? strstr(s, needle) : NULL;
  if (!at) return NULL;
  at += strlen(needle);
  char *end;
  long long v = strtoll(at, &end, 10);
  if (end == at) return NULL;
  size_t head = (size_t)(at - s), n = head + strlen(end) + 32;
  char *o = tr_malloc(n);
  if (!o) {
    *oom = 1;
    return NULL;
  }
  snprintf(o, n, "%.*s%lld%s", (int)head, s, v + (long long)shift, end);
  return o;
}

/* The trial ids an exploit event names (message "copies trial N", detail "source": N) follow the trials. */
static int map_exploit(RsCopyWriter *w, int64_t shift) {
  RsValue *v = w->vals;
  if (!shift || v[4].type != RS_VAL_TEXT || strcmp(v[4].s, "exploit") != 0) return TR_OK;
  int oom = 0;
  static const char *const needle[2] = {"copies trial ", "\"source\": "};
  for (int k = 0; k < 2; k++) {
    RsValue *x = &v[5 + k];
    free(w->text[k]);
    w->text[k] = x->type == RS_VAL_TEXT ? shift_after(x->s, needle[k], shift, &oom) : NULL;
    if (w->text[k]) x->s = w->text[k];
  }
  return oom ? TR_ENOMEM : TR_OK;
}

static void shift_int(RsValue *v, int64_t shift) {
  if (v->type == RS_VAL_INT) v->i += shift;
}

/* The sweeps row came: clear the target's sweep of that name (or refuse), choose each table's shift. */
static int copy_start(RsCopyWriter *w, const RsCopyPlan *plan) {
  int exists = 0, rc = w->clear(w, &exists);
  if (rc) return rc;
  if (exists && !w->replace)
    return rs_store_fail(w->st, TR_EINVAL, "a sweep named '%s' is there already (copy --replace replaces it)",
                         w->name);
  w->stats->replaced = exists;
  for (int t = 0; t < RS_COPY_TABLES; t++) {
    w->stats->shift[t] = 0;
    if (t == RS_COPY_METRICS || plan->rows[t] <= 0 || plan->lo[t] < 0) continue;
    int taken = 0;
    int64_t max = 0;
    if ((rc = w->ids(w, (RsCopyTable)t, plan->lo[t], plan->hi[t], &taken, &max))) return rc;
    if (taken) w->stats->shift[t] = max + 1 - plan->lo[t];
  }
  w->started = 1;
  return TR_OK;
}

int rs_copy_sink(void *ctx, const RsCopyPlan *plan, RsCopyTable t, const RsValue *vals) {
  RsCopyWriter *w = ctx;
  int rc;
  if (!w->started && t != RS_COPY_SWEEPS)
    return rs_store_fail(w->st, TR_EDB, "copy: a %s row before the sweep's", rs_copy_table_name(t));
  if (!w->started && (rc = copy_start(w, plan))) return rc;
  size_t nc;
  rs_copy_columns(t, &nc);
  memcpy(w->vals, vals, nc * sizeof *vals);
  const int64_t *sh = w->stats->shift;
  switch (t) {
  case RS_COPY_SWEEPS:
    shift_int(&w->vals[0], sh[RS_COPY_SWEEPS]);
    w->vals[1] = (RsValue){.type = RS_VAL_TEXT, .s = w->name};
    break;
  case RS_COPY_TRIALS:
    shift_int(&w->vals[0], sh[RS_COPY_TRIALS]);
    shift_int(&w->vals[1], sh[RS_COPY_SWEEPS]);
    break;
  case RS_COPY_METRICS: shift_int(&w->vals[0], sh[RS_COPY_TRIALS]); break;
  case RS_COPY_EVENTS:
    shift_int(&w->vals[0], sh[RS_COPY_EVENTS]);
    shift_int(&w->vals[1], sh[RS_COPY_SWEEPS]);
    shift_int(&w->vals[2], sh[RS_COPY_TRIALS]);
    if ((rc = map_exploit(w, sh[RS_COPY_TRIALS]))) return rs_store_fail(w->st, rc, "copy: out of memory");
    break;
  }
  if ((rc = w->put(w, t, w->vals))) return rc;
  w->stats->rows[t]++;
  return TR_OK;
}

void rs_copy_writer_free(RsCopyWriter *w) {
  for (int k = 0; k < 2; k++) {
    free(w->text[k]);
    w->text[k] = NULL;
  }
}

const char *rs_copy_replace_text(const RsCopyWriter *w, char *buf, size_t n) {
  if (!w->stats->replaced) return NULL;
  snprintf(buf, n, "sweep '%.200s' deleted with its %lld trials (replaced by a copy)", w->name,
           (long long)w->replaced_trials);
  return buf;
}
