/* rs_backend.c: what every backend decides or writes the same way (a claim's fields and its event,
** a finish's event, a verdict's numbers, a walk's copies): one home, so SQLite and PostgreSQL
** record the same rows. Private to results/ (rs_backend.h). */
#include "rs_backend.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
