/*
** sw_pbt.c: population-based training decisions (contract in sw_pbt.h). Pure functions of
** the curves and the spec; every draw from tr_rng seeded by (sweep seed, member, step).
*/
#include "sw_pbt.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_expand.h"
#include "sw_propose.h"
#include "sw_space.h"
#include "tr_alloc.h"
#include "tr_json.h"
#include "tr_rng.h"

#define PBT_SALT 0x7062745f65787030ULL /* "pbt_exp0": apart from random search's and proposals' streams */

int sw_pbt_ckpt_path(const char *runs_dir, int64_t trial_id, int64_t step, int dir, char *buf, size_t n) {
  int k = snprintf(buf, n, "%s/" SW_PBT_DIR "/%lld/%lld%s", runs_dir, (long long)trial_id, (long long)step,
                   dir ? "" : ".bin");
  return k < 0 || (size_t)k >= n ? TR_EINVAL : TR_OK;
}

/* Member idx's stream at step: purpose 0 picks the source, 1 explores. */
static void pbt_rng(TrRng *r, uint64_t sweep_seed, int idx, int64_t step, uint64_t purpose) {
  tr_rng_seed2(r, sw_space_seed(sweep_seed ^ PBT_SALT ^ purpose, (uint64_t)(uint32_t)idx), (uint64_t)step);
}

/* ---- deciding ---------------------------------------------------------------- */

/* The newest value of c in (step - interval, step], and whether c is a member at step. */
static int member_value(const RsCurve *c, int64_t step, int64_t interval, double *v) {
  if (c->checkpoint_step < step) return 0;
  for (size_t k = c->n; k-- > 0;) {
    if (c->step[k] > step) continue;
    if (c->step[k] <= step - interval) return 0;
    *v = c->value[k];
    return 1;
  }
  return 0;
}

/* Could another member run now and is behind `step`? */
static int behind(const RsCurve *c, int64_t step) {
  if (c->status == RS_PENDING) return 1;
  if (c->status == RS_INTERRUPTED || c->status == RS_PAUSED) return c->checkpoint_step < step;
  return 0;
}

/* a ranks before b: better (signed) value, ties by idx. */
static int ranks_before(double va, int ia, double vb, int ib) { return va < vb || (va == vb && ia < ib); }

/* The rank of member i among the members at step (0 = best); *n gets their count. */
static size_t member_rank(const RsCurve *c, size_t nc, size_t i, int64_t step, int64_t interval, double sign,
                          size_t *n) {
  double vi = NAN, v;
  size_t rank = 0, cnt = 0;
  member_value(&c[i], step, interval, &vi);
  for (size_t j = 0; j < nc; j++) {
    if (!member_value(&c[j], step, interval, &v)) continue;
    cnt++;
    if (j != i && ranks_before(sign * v, c[j].idx, sign * vi, c[i].idx)) rank++;
  }
  *n = cnt;
  return rank;
}

void sw_pbt_decide(const SwPbt *pbt, int maximize, uint64_t sweep_seed, const RsCurve *c, size_t n, size_t self,
                   int64_t step, int arriving, SwPbtDecision *out) {
  memset(out, 0, sizeof *out);
  out->step = step;
  out->source = -1;
  out->value = out->source_value = NAN;
  if (!pbt || !pbt->enabled || self >= n || step <= 0 || step % pbt->interval || c[self].rung >= step) return;
  if (arriving)
    for (size_t i = 0; i < n; i++)
      if (i != self && behind(&c[i], step)) {
        out->action = SW_PBT_PAUSE;
        return;
      }
  out->action = SW_PBT_KEEP;
  double sign = maximize ? -1.0 : 1.0, v;
  if (!member_value(&c[self], step, pbt->interval, &out->value)) return; /* no value there: nothing to rank */
  size_t cnt, rank = member_rank(c, n, self, step, pbt->interval, sign, &cnt);
  size_t q = (size_t)ceil((double)cnt * pbt->quantile);
  if (q > cnt / 2) q = cnt / 2;
  out->n = cnt;
  out->rank = rank;
  out->q = q;
  if (q == 0 || rank < cnt - q) return;
  TrRng r;
  pbt_rng(&r, sweep_seed, c[self].idx, step, 0);
  size_t pick = (size_t)tr_rng_below(&r, q), m;
  for (size_t i = 0; i < n; i++)
    if (member_value(&c[i], step, pbt->interval, &v) && member_rank(c, n, i, step, pbt->interval, sign, &m) == pick) {
      out->action = SW_PBT_EXPLOIT;
      out->source = (long)i;
      out->source_value = v;
      return;
    }
}

long sw_pbt_promote(const RsCurve *c, size_t n) {
  long best = -1;
  for (size_t i = 0; i < n; i++)
    if (c[i].paused && (best < 0 || c[i].checkpoint_step < c[best].checkpoint_step ||
                        (c[i].checkpoint_step == c[best].checkpoint_step && c[i].idx < c[best].idx)))
      best = (long)i;
  if (best < 0) return -1;
  for (size_t i = 0; i < n; i++)
    if ((c[i].status == RS_PENDING || c[i].status == RS_INTERRUPTED) && c[i].checkpoint_step <= c[best].checkpoint_step)
      return -1;
  return best;
}

/* ---- exploring --------------------------------------------------------------- */

/* The range a perturbed number of p is clamped to (normal distributions: none). */
static void param_range(const SwParam *p, double *lo, double *hi) {
  *lo = -INFINITY;
  *hi = INFINITY;
  switch (p->dist) {
  case SW_DIST_INT_UNIFORM: *lo = (double)p->imin, *hi = (double)p->imax; break;
  case SW_DIST_UNIFORM:
  case SW_DIST_Q_UNIFORM:
  case SW_DIST_LOG_UNIFORM_VALUES:
  case SW_DIST_Q_LOG_UNIFORM_VALUES: *lo = p->min, *hi = p->max; break;
  case SW_DIST_LOG_UNIFORM:
  case SW_DIST_Q_LOG_UNIFORM: *lo = exp(p->min), *hi = exp(p->max); break;
  default: break;
  }
}

/* The index of c's value of categorical p, or -1 when it is none of p's values. */
static int categorical_index(const SwParam *p, const TrConfig *c) {
  char now[TR_CONFIG_TEXT_MAX], v[TR_CONFIG_TEXT_MAX];
  tr_config_value_text(c, p->key, 1, now, sizeof now);
  for (int j = 0; j < p->n_values; j++) {
    TrConfig t = *c;
    TrErr e;
    if (sw_param_apply(&t, NULL, p, (SwValue){0, j}, "pbt", &e) != TR_OK) continue;
    tr_config_value_text(&t, p->key, 1, v, sizeof v);
    if (strcmp(now, v) == 0) return j;
  }
  return -1;
}

/* Perturb mutation p of c: resample, else one value up or down, or times a factor. */
static int perturb(const SwPbt *pbt, const SwParam *p, TrConfig *c, TrRng *r, TrErr *err) {
  int resample = tr_rng_uniform(r) < pbt->resample;
  int up = (int)tr_rng_below(r, 2);
  if (p->dist == SW_DIST_CATEGORICAL) {
    int j = categorical_index(p, c);
    if (resample || j < 0) return sw_param_apply(c, NULL, p, sw_param_draw(p, r), "pbt", err);
    j += up ? 1 : -1;
    if (j < 0) j = 0;
    if (j >= p->n_values) j = p->n_values - 1;
    return sw_param_apply(c, NULL, p, (SwValue){0, j}, "pbt", err);
  }
  if (resample) return sw_param_apply(c, NULL, p, sw_param_draw(p, r), "pbt", err);
  char now[64];
  tr_config_value_text(c, p->key, 1, now, sizeof now);
  double x = strtod(now, NULL) * pbt->factors[up], lo, hi;
  param_range(p, &lo, &hi);
  x = x < lo ? lo : x > hi ? hi : x;
  if (p->dist == SW_DIST_INT_UNIFORM) x = round(x);
  x = sw_param_quantise(p, x);
  return sw_param_apply(c, NULL, p, (SwValue){x, 0}, "pbt", err);
}

/* Copy key k's value from src into dst. */
static int copy_key(TrConfig *dst, const TrConfig *src, const TrKey *k, TrErr *err) {
  char v[TR_CONFIG_TEXT_MAX];
  tr_config_value_text(src, k, 1, v, sizeof v);
  return tr_config_set(dst, k->name, v, err);
}

/* Is key k one whose value the member's params list (a varying parameter or a mutation)? */
static int varies(const SwSpec *spec, const SwPbt *pbt, const TrKey *k) {
  for (size_t i = 0; i < sw_spec_param_count(spec); i++)
    if (sw_spec_param(spec, i)->key == k && sw_param_modelled(sw_spec_param(spec, i))) return 1;
  for (size_t i = 0; i < pbt->n_mutations; i++)
    if (pbt->mutations[i].p.key == k) return 1;
  return 0;
}

/* The varying keys' values of c as a JSON object, spec order then the mutations of their own. */
static char *values_json(const SwSpec *spec, const SwPbt *pbt, const TrConfig *c) {
  size_t cap = 256, off = 0;
  char *s = tr_malloc(cap), v[512];
  const TrKey *keys[256];
  size_t nk = 0;
  for (size_t i = 0; i < sw_spec_param_count(spec) && nk < 256; i++)
    if (sw_param_modelled(sw_spec_param(spec, i))) keys[nk++] = sw_spec_param(spec, i)->key;
  for (size_t i = 0; i < pbt->n_mutations && nk < 256; i++)
    if (pbt->mutations[i].own) keys[nk++] = pbt->mutations[i].p.key;
  if (!s) return NULL;
  off += (size_t)snprintf(s, cap, "{");
  for (size_t i = 0; i < nk; i++) {
    tr_config_value_text(c, keys[i], 1, v, sizeof v);
    size_t need = strlen(keys[i]->name) + strlen(v) + 8;
    if (off + need >= cap) {
      char *t = tr_realloc(s, cap = 2 * (off + need));
      if (!t) return free(s), NULL;
      s = t;
    }
    off += (size_t)snprintf(s + off, cap - off, "%s\"%s\": %s", i ? ", " : "", keys[i]->name, v);
  }
  snprintf(s + off, cap - off, "}");
  return s;
}

int sw_pbt_explore(const SwPbt *pbt, const SwSpec *spec, const TrConfig *own, const char *source_params,
                   uint64_t sweep_seed, int idx, int64_t step, TrConfig *next, char **params_json, TrErr *err) {
  *params_json = NULL;
  TrConfig src = *sw_spec_base(spec);
  int rc = tr_config_apply_text(&src, source_params && *source_params ? source_params : "{}", "source params", err);
  if (rc) return rc;
  *next = *own;
  size_t nk;
  const TrKey *keys = tr_config_keys(&nk);
  for (size_t i = 0; i < nk && rc == TR_OK; i++)
    if (varies(spec, pbt, &keys[i])) rc = copy_key(next, &src, &keys[i], err);
  TrRng r;
  pbt_rng(&r, sweep_seed, idx, step, 1);
  for (size_t i = 0; i < pbt->n_mutations && rc == TR_OK; i++) rc = perturb(pbt, &pbt->mutations[i].p, next, &r, err);
  if (rc == TR_OK) rc = tr_config_validate(next, err);
  if (rc) return tr_err_prefix(err, "PBT explore of trial idx %d at step %lld", idx, (long long)step);
  if (!(*params_json = values_json(spec, pbt, next))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  return TR_OK;
}

/* Perturb a program's value *v of mutation p (a number or a categorical's index), as perturb does. */
static void perturb_value(const SwPbt *pbt, const SwParam *p, SwValue *v, TrRng *r) {
  int resample = tr_rng_uniform(r) < pbt->resample;
  int up = (int)tr_rng_below(r, 2);
  if (resample) {
    *v = sw_param_draw(p, r);
    return;
  }
  if (p->dist == SW_DIST_CATEGORICAL) {
    int j = v->index + (up ? 1 : -1);
    v->index = j < 0 ? 0 : j >= p->n_values ? p->n_values - 1 : j;
    return;
  }
  double x = v->x * pbt->factors[up], lo, hi;
  param_range(p, &lo, &hi);
  x = x < lo ? lo : x > hi ? hi : x;
  if (p->dist == SW_DIST_INT_UNIFORM) x = round(x);
  v->x = sw_param_quantise(p, x);
}

int sw_pbt_explore_program(const SwPbt *pbt, const SwSpec *spec, const SwProposer *prop, const char *source_params,
                           uint64_t sweep_seed, int idx, int64_t step, char **params_json, TrErr *err) {
  *params_json = NULL;
  size_t np = sw_spec_param_count(spec), n = 0;
  SwValue *vals = tr_calloc(np ? np : 1, sizeof *vals);
  if (!vals) return tr_err_set(err, TR_ENOMEM, "out of memory");
  int rc = sw_proposer_values(prop, source_params, vals, err);
  TrRng r;
  pbt_rng(&r, sweep_seed, idx, step, 1);
  for (size_t m = 0; rc == TR_OK && m < pbt->n_mutations; m++)
    for (size_t i = 0; i < np; i++)
      if (sw_spec_param(spec, i)->key == pbt->mutations[m].p.key) perturb_value(pbt, sw_spec_param(spec, i), &vals[i], &r);
  SwTrial *t = NULL;
  if (rc == TR_OK) rc = sw_expand_values(spec, vals, 0, &t, &n, err);
  free(vals);
  if (rc == TR_OK && n > 0 && !(*params_json = tr_strdup(t[0].params_json))) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  if (rc == TR_OK) sw_trials_free(t, n);
  if (rc) return tr_err_prefix(err, "PBT explore of trial idx %d at step %lld", idx, (long long)step);
  return TR_OK;
}

/* ---- the judge callback ------------------------------------------------------ */

void sw_pbt_judge_clear(SwPbtJudge *j) {
  free(j->config);
  free(j->params);
  j->config = j->params = NULL;
}

/* The exploit's config, params, source file and lineage record into J and out. */
static int judge_exploit(SwPbtJudge *J, const RsCurve *c, size_t self, RsVerdict *out) {
  const RsCurve *src = &c[J->d.source];
  sw_pbt_judge_clear(J);
  int rc = J->program ? sw_pbt_explore_program(J->pbt, J->spec, J->program, src->params, J->seed, c[self].idx,
                                               J->step, &J->params, &J->err)
                      : sw_pbt_explore(J->pbt, J->spec, J->own, src->params, J->seed, c[self].idx, J->step, &J->next,
                                       &J->params, &J->err);
  if (rc) return rc;
  if (J->program) {
    J->config = tr_strdup(J->own_config ? J->own_config : "{}");
  } else {
    size_t nj = tr_config_to_json(&J->next, NULL, 0) + 1;
    if ((J->config = tr_malloc(nj))) tr_config_to_json(&J->next, J->config, nj);
  }
  if (!J->config) return tr_err_set(&J->err, TR_ENOMEM, "out of memory");
  if ((rc = sw_pbt_ckpt_path(J->runs_dir, src->trial_id, J->step, J->program != NULL, J->ckpt, sizeof J->ckpt)))
    return tr_err_set(&J->err, rc, "%s: path too long", J->runs_dir);
  out->source_trial = src->trial_id;
  out->checkpoint = J->ckpt;
  out->config = J->config;
  out->params = J->params;
  snprintf(out->reason, sizeof out->reason, "exploit at step %lld: %.6g, rank %zu of %zu, copies trial %lld (idx %d, %.6g)",
           (long long)J->step, J->d.value, J->d.rank + 1, J->d.n, (long long)src->trial_id, src->idx,
           J->d.source_value);
  char v[32], sv[32], *from = J->program ? tr_strdup(J->own_params ? J->own_params : "{}")
                                         : values_json(J->spec, J->pbt, J->own);
  if (!from) return tr_err_set(&J->err, TR_ENOMEM, "out of memory");
  tr_json_number(v, sizeof v, J->d.value, 17);
  tr_json_number(sv, sizeof sv, J->d.source_value, 17);
  int k = snprintf(out->detail, sizeof out->detail,
                   "{\"step\": %lld, \"source\": %lld, \"source_idx\": %d, \"value\": %s, \"source_value\": %s, "
                   "\"rank\": %zu, \"n\": %zu, \"params\": %s, \"from\": %s}",
                   (long long)J->step, (long long)src->trial_id, src->idx, v, sv, J->d.rank + 1, J->d.n, J->params, from);
  free(from);
  if (k < 0 || (size_t)k >= sizeof out->detail) out->detail[0] = '\0'; /* too long: the event keeps its message */
  return TR_OK;
}

int sw_pbt_judge(void *ctx, const RsCurve *c, size_t n, size_t self, RsVerdict *out) {
  SwPbtJudge *J = ctx;
  memset(out, 0, sizeof *out);
  tr_err_clear(&J->err);
  sw_pbt_decide(J->pbt, J->maximize, J->seed, c, n, self, J->step, J->arriving, &J->d);
  switch (J->d.action) {
  case SW_PBT_NONE: out->action = RS_VERDICT_KEEP; return TR_OK;
  case SW_PBT_PAUSE:
    out->action = RS_VERDICT_PAUSE;
    out->rung = c[self].rung; /* not decided at this step yet: its resume decides */
    snprintf(out->reason, sizeof out->reason, "yields at step %lld: a member behind it can run", (long long)J->step);
    return TR_OK;
  case SW_PBT_KEEP:
    out->action = RS_VERDICT_EXPLOIT;
    out->rung = J->step;
    snprintf(out->reason, sizeof out->reason, "keeps at step %lld (rank %zu of %zu)", (long long)J->step,
             J->d.rank + 1, J->d.n);
    return TR_OK;
  case SW_PBT_EXPLOIT:
    out->action = RS_VERDICT_EXPLOIT;
    out->rung = J->step;
    return judge_exploit(J, c, self, out);
  }
  return TR_OK;
}
