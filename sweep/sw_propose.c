/* sw_propose.c: method bayes in the scheduler: observations from the store's trials, one
** proposal per free worker, its trials; and trials read back. See sw_propose.h. */
#include "sw_propose.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_gp.h"
#include "sw_tpe.h"
#include "tr_alloc.h"
#include "tr_json.h"

struct SwProposer {
  const SwSpec *s;
  SwSpace sp;
  size_t per;          /* trials per configuration: max(1, seeds) */
  int program;         /* a program spec: params hold every parameter, as W&B's agent passes them */
  char **qkey;         /* (n_params) each key as a JSON string literal */
  char ***cat;         /* (n_params) a categorical's values as its params text, else NULL */
  TrErr err;
  /* the last proposal, the store's until the next call */
  SwTrial *trials;
  size_t n_trials;
  char **json;         /* (n_trials) config JSON */
  RsTrialDef *defs;
  SwProposal last;
  uint64_t last_seed;
};

/* ---- reading params back ---- */

static const char *skip_ws(const char *s) {
  while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r') s++;
  return s;
}

/* s at '"': past the closing quote, or NULL. */
static const char *skip_string(const char *s) {
  for (s++; *s && *s != '"'; s++)
    if (*s == '\\' && s[1]) s++;
  return *s ? s + 1 : NULL;
}

/* s at a value: past it (at the ',' or closing bracket that follows), or NULL. */
static const char *skip_value(const char *s) {
  int depth = 0;
  while (*s) {
    if (*s == '"') {
      if (!(s = skip_string(s))) return NULL;
      continue;
    }
    if (*s == '[' || *s == '{') depth++;
    else if ((*s == ']' || *s == '}') && depth-- == 0) return s;
    else if (*s == ',' && depth == 0) return s;
    s++;
  }
  return depth ? NULL : s;
}

/* The raw text of member qkey (a JSON string literal) of a flat JSON object, or NULL. */
static const char *json_member(const char *js, const char *qkey, size_t *len) {
  size_t kl = strlen(qkey);
  const char *s = skip_ws(js);
  if (*s++ != '{') return NULL;
  for (;;) {
    s = skip_ws(s);
    if (*s != '"') return NULL;
    const char *k = s;
    if (!(s = skip_string(s))) return NULL;
    int match = (size_t)(s - k) == kl && memcmp(k, qkey, kl) == 0;
    s = skip_ws(s);
    if (*s++ != ':') return NULL;
    const char *v = s = skip_ws(s);
    if (!(s = skip_value(s))) return NULL;
    if (match) {
      const char *e = s;
      while (e > v && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r')) e--;
      *len = (size_t)(e - v);
      return v;
    }
    s = skip_ws(s);
    if (*s++ != ',') return NULL;
  }
}

/* Value j of categorical p as the trial's params show it (params_json or a program's JSON). */
static char *value_text(const SwProposer *P, const SwParam *p, int j, TrErr *err) {
  TrConfig c = *sw_spec_base(P->s);
  char *pv = NULL, v[512];
  if (sw_param_apply(&c, P->program ? &pv : NULL, p, (SwValue){0, j}, sw_spec_path(P->s), err)) return NULL;
  if (P->program) return pv;
  tr_config_value_text(&c, p->key, 1, v, sizeof v);
  if (!(pv = tr_strdup(v))) tr_err_set(err, TR_ENOMEM, "out of memory");
  return pv;
}

int sw_proposer_values(const SwProposer *P, const char *params_json, SwValue *vals, TrErr *err) {
  for (size_t i = 0; i < P->sp.n_params; i++) {
    const SwParam *p = P->sp.all[i];
    vals[i] = (SwValue){0, 0};
    if (p->dist == SW_DIST_CONSTANT) continue;
    size_t len = 0;
    const char *v = params_json ? json_member(params_json, P->qkey[i], &len) : NULL;
    int j = 0;
    if (v && p->dist == SW_DIST_CATEGORICAL) {
      while (j < p->n_values && !(strlen(P->cat[i][j]) == len && memcmp(P->cat[i][j], v, len) == 0)) j++;
      vals[i].index = j;
      if (j < p->n_values) continue;
    } else if (v && len < 64) {
      char num[64], *end;
      memcpy(num, v, len);
      num[len] = '\0';
      vals[i].x = strtod(num, &end);
      if (*end == '\0' && len > 0 && isfinite(vals[i].x)) continue;
    }
    return tr_err_set(err, TR_EINVAL, "trial parameters %.200s: no value of %s that this spec can give", params_json,
                      p->key->name);
  }
  return TR_OK;
}

int sw_proposer_trial(const SwProposer *P, int idx, const char *params_json, const char *hash, SwTrial **trial,
                      TrErr *err) {
  *trial = NULL;
  SwValue *vals = tr_calloc(P->sp.n_params ? P->sp.n_params : 1, sizeof *vals);
  if (!vals) return tr_err_set(err, TR_ENOMEM, "out of memory");
  SwTrial *t = NULL;
  size_t n = 0, k = (size_t)idx % P->per;
  int rc = idx < 0 ? tr_err_set(err, TR_EINVAL, "trial index %d", idx) : sw_proposer_values(P, params_json, vals, err);
  if (rc == TR_OK) rc = sw_expand_values(P->s, vals, (size_t)idx / P->per, &t, &n, err);
  free(vals);
  if (rc) return rc;
  if (k >= n || (hash && strcmp(t[k].hash_hex, hash) != 0)) {
    sw_trials_free(t, n);
    return tr_err_set(err, TR_EINVAL, "trial %d (%s) is not one this spec makes from %.200s", idx, hash ? hash : "?",
                      params_json);
  }
  if (k) { /* keep trial k only: move it first */
    free(t[0].params_json);
    t[0] = t[k];
    t[k].params_json = NULL;
  }
  for (size_t i = 1; i < n; i++) free(t[i].params_json);
  *trial = t;
  return TR_OK;
}

/* ---- the proposer ---- */

int sw_proposer_create(SwProposer **out, const SwSpec *spec, TrErr *err) {
  *out = NULL;
  if (sw_spec_lr_pending(spec)) return sw_spec_lr_check_resolved(spec, err);
  SwProposer *P = tr_calloc(1, sizeof *P);
  if (!P) return tr_err_set(err, TR_ENOMEM, "out of memory");
  P->s = spec;
  size_t ns;
  sw_spec_seeds(spec, &ns);
  P->per = ns ? ns : 1;
  P->program = sw_spec_program(spec) != NULL;
  int rc = sw_space_init(&P->sp, spec, err);
  size_t np = P->sp.n_params;
  if (!rc && (!(P->qkey = tr_calloc(np + 1, sizeof *P->qkey)) || !(P->cat = tr_calloc(np + 1, sizeof *P->cat))))
    rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < np; i++) {
    const SwParam *p = P->sp.all[i];
    size_t need = tr_json_quote(NULL, 0, p->key->name, 0) + 1;
    if (!(P->qkey[i] = tr_malloc(need))) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
    else tr_json_quote(P->qkey[i], need, p->key->name, 0);
    if (rc || p->dist != SW_DIST_CATEGORICAL) continue;
    if (!(P->cat[i] = tr_calloc((size_t)p->n_values, sizeof **P->cat))) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
    for (int j = 0; !rc && j < p->n_values; j++)
      if (!(P->cat[i][j] = value_text(P, p, j, err))) rc = err->code ? err->code : TR_ENOMEM;
  }
  if (rc) {
    sw_proposer_destroy(P);
    return rc;
  }
  *out = P;
  return TR_OK;
}

static void last_free(SwProposer *P) {
  for (size_t i = 0; P->json && i < P->n_trials; i++) free(P->json[i]);
  free(P->json);
  free(P->defs);
  sw_trials_free(P->trials, P->n_trials);
  P->json = NULL;
  P->defs = NULL;
  P->trials = NULL;
  P->n_trials = 0;
}

void sw_proposer_destroy(SwProposer *P) {
  if (!P) return;
  last_free(P);
  for (size_t i = 0; i < P->sp.n_params; i++) {
    if (P->qkey) free(P->qkey[i]);
    for (int j = 0; P->cat && P->cat[i] && j < P->sp.all[i]->n_values; j++) free(P->cat[i][j]);
    if (P->cat) free(P->cat[i]);
  }
  free(P->qkey);
  free(P->cat);
  sw_space_free(&P->sp);
  free(P);
}

int64_t sw_proposer_cap(const SwProposer *P) { return (int64_t)sw_spec_trial_count(P->s); }
const TrErr *sw_proposer_error(const SwProposer *P) { return &P->err; }
const SwProposal *sw_proposer_last(const SwProposer *P, uint64_t *seed) {
  if (seed) *seed = P->last_seed;
  return &P->last;
}

/* ---- observations ---- */

typedef struct Agg {
  int have, running, pruned, n;
  double sum;
  int64_t step;
} Agg;

/* One configuration's seeds into its Agg (see the contract). */
static void agg_add(Agg *a, const RsProposeTrial *t) {
  switch (t->status) {
    case RS_PENDING:
    case RS_RUNNING:
    case RS_INTERRUPTED:
      a->running = 1;
      return;
    case RS_PRUNED:
    case RS_PAUSED:
      if (!isfinite(t->best)) return;
      a->step = a->pruned && a->step < t->steps ? a->step : t->steps;
      a->pruned = 1;
      /* fall through */
    case RS_COMPLETED:
      if (isfinite(t->best)) a->sum += t->best, a->n++;
      return;
    default: /* failed, diverged: imputed */
      return;
  }
}

/* Observations (one per configuration 0..nc-1 that has trials) into obs/u; *n_obs. */
static int observe(SwProposer *P, const RsProposeTrial *t, size_t n, size_t nc, SwObs *obs, double *u, size_t *n_obs) {
  Agg *agg = tr_calloc(nc ? nc : 1, sizeof *agg);
  SwValue *vals = tr_calloc(P->sp.n_params ? P->sp.n_params : 1, sizeof *vals);
  int rc = agg && vals ? TR_OK : tr_err_set(&P->err, TR_ENOMEM, "out of memory");
  for (size_t i = 0; !rc && i < n; i++) {
    size_t k = (size_t)t[i].idx / P->per;
    if (t[i].idx < 0 || k >= nc) continue;
    if (!agg[k].have && !(rc = sw_proposer_values(P, t[i].params, vals, &P->err)))
      sw_space_encode(&P->sp, vals, &u[k * P->sp.n]);
    agg[k].have = 1;
    agg_add(&agg[k], &t[i]);
  }
  size_t m = 0;
  for (size_t k = 0; !rc && k < nc; k++) {
    if (!agg[k].have) continue;
    SwObs o = {&u[k * P->sp.n], NAN, 0, SW_OBS_FAILED};
    if (agg[k].running) o.state = SW_OBS_RUNNING;
    else if (agg[k].n) {
      o.y = agg[k].sum / agg[k].n;
      o.state = agg[k].pruned ? SW_OBS_PRUNED : SW_OBS_DONE;
      o.step = agg[k].step;
    }
    obs[m++] = o;
  }
  *n_obs = m;
  free(agg);
  free(vals);
  return rc;
}

/* metric.target reached by a finished, pruned or paused trial? */
static int target_reached(const SwProposer *P, const RsProposeTrial *t, size_t n) {
  double target;
  if (!sw_spec_target(P->s, &target)) return 0;
  int max = sw_spec_goal(P->s) == SW_GOAL_MAXIMIZE;
  for (size_t i = 0; i < n; i++) {
    int counted = t[i].status == RS_COMPLETED || t[i].status == RS_PRUNED || t[i].status == RS_PAUSED;
    if (counted && isfinite(t[i].best) && (max ? t[i].best >= target : t[i].best <= target)) return 1;
  }
  return 0;
}

/* The configuration's trials as store definitions, kept until the next call. */
static int make_defs(SwProposer *P, const double *u, size_t k) {
  SwValue *vals = tr_calloc(P->sp.n_params ? P->sp.n_params : 1, sizeof *vals);
  if (!vals) return tr_err_set(&P->err, TR_ENOMEM, "out of memory");
  sw_space_decode(&P->sp, u, vals);
  int rc = sw_expand_values(P->s, vals, k, &P->trials, &P->n_trials, &P->err);
  free(vals);
  if (rc) return rc;
  P->json = tr_calloc(P->n_trials, sizeof *P->json);
  P->defs = tr_calloc(P->n_trials, sizeof *P->defs);
  if (!P->json || !P->defs) return tr_err_set(&P->err, TR_ENOMEM, "out of memory");
  for (size_t i = 0; i < P->n_trials; i++) {
    const SwTrial *t = &P->trials[i];
    size_t need = tr_config_to_json(&t->config, NULL, 0) + 1;
    if (!(P->json[i] = tr_malloc(need))) return tr_err_set(&P->err, TR_ENOMEM, "out of memory");
    tr_config_to_json(&t->config, P->json[i], need);
    P->defs[i] = (RsTrialDef){(int)t->index, t->hash_hex, P->json[i], t->params_json, t->config.train.seed};
  }
  return TR_OK;
}

/* The model's point for configuration k from obs (n_obs), into u. */
static int model_point(SwProposer *P, const SwObs *obs, size_t n_obs, size_t k, double *u) {
  double *loss = tr_malloc((n_obs ? n_obs : 1) * sizeof *loss), imp;
  if (!loss) return tr_err_set(&P->err, TR_ENOMEM, "out of memory");
  int has_imp = sw_spec_impute(P->s, &imp);
  sw_obs_losses(obs, n_obs, sw_spec_goal(P->s), has_imp ? &imp : NULL, loss);
  P->last_seed = sw_space_seed(sw_spec_seed(P->s), k);
  int rc = sw_spec_sampler(P->s) == SW_SAMPLER_TPE
               ? sw_tpe_propose(&P->sp, obs, loss, n_obs, P->last_seed, u, &P->last, &P->err)
               : sw_gp_propose(&P->sp, obs, loss, n_obs, P->last_seed, u, &P->last, &P->err);
  free(loss);
  return rc;
}

int sw_proposer_propose(void *ctx, const RsProposeTrial *t, size_t n, int next_idx, RsProposal *out) {
  SwProposer *P = ctx;
  tr_err_clear(&P->err);
  last_free(P);
  memset(&P->last, 0, sizeof P->last);
  out->n = 0;
  if (next_idx < 0 || (size_t)next_idx % P->per)
    return tr_err_set(&P->err, TR_EINVAL, "proposal at trial %d: not the start of a configuration (%zu seeds)",
                      next_idx, P->per);
  if (target_reached(P, t, n)) return TR_OK;
  size_t k = (size_t)next_idx / P->per, d = P->sp.n, n_obs = 0;
  SwObs *obs = tr_calloc(k ? k : 1, sizeof *obs);
  double *u = tr_calloc((k + 1) * (d ? d : 1), sizeof *u);
  int rc = obs && u ? TR_OK : tr_err_set(&P->err, TR_ENOMEM, "out of memory");
  if (!rc) rc = observe(P, t, n, k, obs, u, &n_obs);
  double *x = u ? u + k * d : NULL;
  if (!rc) rc = model_point(P, obs, n_obs, k, x);
  if (!rc && !sw_space_seen(obs, n_obs, x, d)) rc = make_defs(P, x, k); /* seen: the space is used up */
  free(obs);
  free(u);
  if (rc) return rc;
  out->n = P->n_trials;
  out->defs = P->defs;
  char why[128];
  tr_json_quote(why, sizeof why, P->last.why ? P->last.why : "", 0);
  snprintf(out->detail, sizeof out->detail,
           "{\"seed\": \"%016llx\", \"config\": %zu, \"model\": \"%s\", \"random\": %d, \"why\": %s, "
           "\"observations\": %zu}",
           (unsigned long long)P->last_seed, k, sw_sampler_name(sw_spec_sampler(P->s)), P->last.random, why, n_obs);
  return TR_OK;
}

/* ---- identity ---- */

int sw_bayes_spec_hash(const SwSpec *spec, char out[17], TrErr *err) {
  static const double probe[] = {0.2, 0.5, 0.8};
  SwSpace sp;
  int rc = sw_space_init(&sp, spec, err);
  if (rc) return rc;
  size_t np = sp.n_params, cap = 3 + 3 * sw_spec_trial_count(spec) / (sw_spec_config_count(spec) ? sw_spec_config_count(spec) : 1);
  SwTrial *all = tr_calloc(cap, sizeof *all);
  SwValue *vals = tr_calloc(np ? np : 1, sizeof *vals);
  double *u = tr_calloc(sp.n ? sp.n : 1, sizeof *u), imp = NAN;
  size_t m = 0;
  if (!all || !vals || !u) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  /* What no probe shows: the model, metric.impute, the sweep seed. */
  sw_spec_impute(spec, &imp);
  uint64_t bits;
  memcpy(&bits, &imp, sizeof bits);
  uint64_t tags[3] = {(uint64_t)sw_spec_sampler(spec), bits, sw_spec_seed(spec)};
  for (size_t i = 0; !rc && i < 3; i++) snprintf(all[m++].hash_hex, 17, "%016llx", (unsigned long long)tags[i]);
  for (size_t p = 0; !rc && p < 3; p++) {
    for (size_t d = 0; d < sp.n; d++) u[d] = probe[p];
    sw_space_snap(&sp, u);
    sw_space_decode(&sp, u, vals);
    SwTrial *t = NULL;
    size_t n = 0;
    if ((rc = sw_expand_values(spec, vals, 0, &t, &n, err))) break;
    for (size_t i = 0; i < n; i++) {
      free(t[i].params_json);
      t[i].params_json = NULL;
      if (m < cap) all[m++] = t[i]; /* only its hash counts */
    }
    free(t);
  }
  if (!rc) sw_trials_hash(all, m, out);
  free(all);
  free(vals);
  free(u);
  sw_space_free(&sp);
  return rc;
}
