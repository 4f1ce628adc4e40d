/*
** sw_expand.c: grid and random expansion of a spec into validated trials
** (see sw_expand.h for the order and the determinism rules).
*/
#include "sw_expand.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_command.h"
#include "tr_alloc.h"
#include "tr_json.h"
#include "tr_yaml.h"
#include "tr_rng.h"

/* ---- a growable string ---------------------------------------------------- */

typedef struct Buf {
  char *s;
  size_t len, cap;
  int oom;
} Buf;

static void buf_put(Buf *b, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
static void buf_put(Buf *b, const char *fmt, ...) {
  if (b->oom) return;
  for (;;) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(b->s ? b->s + b->len : NULL, b->s ? b->cap - b->len : 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
      b->oom = 1;
      return;
    }
    if (b->s && b->len + (size_t)n < b->cap) {
      b->len += (size_t)n;
      return;
    }
    size_t cap = b->cap ? b->cap : 64;
    while (cap <= b->len + (size_t)n) cap *= 2;
    char *p = tr_realloc(b->s, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->s = p;
    b->cap = cap;
  }
}

/* ---- a set of 64-bit hashes, remembering who added each ------------------ */

typedef struct HashSet {
  uint64_t *h;
  size_t *who;   /* owner + 1; 0 = empty slot */
  size_t mask;
} HashSet;

static int set_init(HashSet *s, size_t n) {
  size_t cap = 16;
  while (cap < 2 * n) cap *= 2;
  s->h = tr_calloc(cap, sizeof *s->h);
  s->who = tr_calloc(cap, sizeof *s->who);
  s->mask = cap - 1;
  return s->h && s->who ? TR_OK : TR_ENOMEM;
}
static void set_free(HashSet *s) {
  free(s->h);
  free(s->who);
}
/* Insert; returns the earlier owner + 1 when h was already present, else 0. */
static size_t set_add(HashSet *s, uint64_t h, size_t who) {
  size_t i = (size_t)(h ^ (h >> 29)) & s->mask;
  while (s->who[i]) {
    if (s->h[i] == h) return s->who[i];
    i = (i + 1) & s->mask;
  }
  s->h[i] = h;
  s->who[i] = who + 1;
  return 0;
}

/* ---- values -------------------------------------------------------------- */

static int key_is_int(const TrKey *k) { return k->type == TR_KEY_INT || k->type == TR_KEY_I64; }

/* A program's value as JSON text in *pv (replacing what was there): W&B gives an int
** for int_uniform, a float for every other distribution (100.0 stays a float). */
static int prog_number(char **pv, const SwParam *p, double x, TrErr *err) {
  char t[64];
  if (p->dist == SW_DIST_INT_UNIFORM)
    snprintf(t, sizeof t, "%lld", (long long)x);
  else
    sw_py_float_repr(t, sizeof t, x);
  free(*pv);
  if (!(*pv = tr_strdup(t))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  return TR_OK;
}

/* YAML value N as JSON (numbers in Python's float repr, as W&B's agent reads YAML). */
static void node_json(Buf *b, const TrYamlNode *n) {
  int bv;
  int64_t i;
  double d;
  char t[64];
  if (n->kind == TR_YAML_SEQ || n->kind == TR_YAML_MAP) {
    buf_put(b, n->kind == TR_YAML_SEQ ? "[" : "{");
    for (int k = 0; k < n->n; k++) {
      if (k) buf_put(b, ", ");
      if (n->kind == TR_YAML_MAP) {
        node_json(b, n->keys[k]);
        buf_put(b, ": ");
      }
      node_json(b, n->items[k]);
    }
    buf_put(b, n->kind == TR_YAML_SEQ ? "]" : "}");
    return;
  }
  if (n->plain && tr_yaml_is_null(n)) {
    buf_put(b, "null");
  } else if (n->plain && tr_parse_bool(n->str, &bv) == 0) {
    buf_put(b, bv ? "true" : "false");
  } else if (n->plain && !strpbrk(n->str, ".eE") && tr_parse_int64(n->str, &i) == 0) {
    buf_put(b, "%lld", (long long)i);
  } else if (n->plain && tr_parse_double(n->str, &d) == 0 && isfinite(d)) {
    sw_py_float_repr(t, sizeof t, d);
    buf_put(b, "%s", t);
  } else {
    size_t need = tr_json_quote(NULL, 0, n->str, 0) + 1;
    char *q = tr_malloc(need);
    if (!q) {
      b->oom = 1;
      return;
    }
    tr_json_quote(q, need, n->str, 0);
    buf_put(b, "%s", q);
    free(q);
  }
}

static int prog_node(char **pv, const TrYamlNode *n, TrErr *err) {
  Buf b = {0};
  node_json(&b, n);
  if (b.oom || !b.s) {
    free(b.s);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  free(*pv);
  *pv = b.s;
  return TR_OK;
}

/* Set a numeric key (a program's value when pv) from a drawn or enumerated number. */
static int set_number(TrConfig *c, char **pv, const SwParam *p, double x, TrErr *err) {
  char t[64];
  if (!isfinite(x)) return tr_err_set(err, TR_EINVAL, "%s: drew a non-finite value", p->key->name);
  if (pv) return prog_number(pv, p, x, err);
  if (key_is_int(p->key)) {
    if (x != floor(x) || fabs(x) > 9.0e18)
      return tr_err_set(err, TR_EINVAL, "%s: %.17g is not an integer", p->key->name, x);
    snprintf(t, sizeof t, "%lld", (long long)x);
  } else {
    /* Quantised values print short (0.3, not 0.30000000000000004): q is in spec digits. */
    tr_fmt_double(t, sizeof t, x, p->q > 0 ? 15 : 17);
  }
  return tr_config_set(c, p->key->name, t, err);
}

double sw_param_quantise(const SwParam *p, double x) { return p->q > 0 ? round(x / p->q) * p->q : x; }

static int set_node(TrConfig *c, char **pv, const SwParam *p, const TrYamlNode *n, const char *file, TrErr *err) {
  return pv ? prog_node(pv, n, err) : tr_config_set_node(c, p->key, n, file, err);
}

int sw_param_apply(TrConfig *c, char **pv, const SwParam *p, SwValue v, const char *file, TrErr *err) {
  if (p->dist == SW_DIST_CONSTANT || p->dist == SW_DIST_CATEGORICAL) {
    if (v.index < 0 || v.index >= p->n_values)
      return tr_err_set(err, TR_EINVAL, "%s: value index %d out of range [0, %d)", p->key->name, v.index,
                        p->n_values);
    return set_node(c, pv, p, p->values[v.index], file, err);
  }
  return set_number(c, pv, p, v.x, err);
}

/* One random draw of parameter p (W&B's definitions; log_uniform bounds are exponents). */
static SwValue draw_value(const SwParam *p, TrRng *r) {
  SwValue v = {0, 0};
  double u, x;
  switch (p->dist) {
    case SW_DIST_CONSTANT:
      break;
    case SW_DIST_CATEGORICAL:
      if (p->probs) {
        u = tr_rng_uniform(r);
        double acc = 0;
        /* The last value with non-zero probability absorbs rounding in the sum. */
        int last = 0, i;
        for (int j = 0; j < p->n_values; j++)
          if (p->probs[j] > 0) last = j;
        for (i = 0; i < last; i++) {
          acc += p->probs[i];
          if (u < acc && p->probs[i] > 0) break;
        }
        v.index = i;
      } else {
        v.index = (int)tr_rng_below(r, (uint64_t)p->n_values);
      }
      break;
    case SW_DIST_INT_UNIFORM: {
      uint64_t span = (uint64_t)p->imax - (uint64_t)p->imin;
      uint64_t k = span == UINT64_MAX ? tr_rng_u64(r) : tr_rng_below(r, span + 1);
      v.x = (double)(int64_t)((uint64_t)p->imin + k);
      break;
    }
    case SW_DIST_UNIFORM:
    case SW_DIST_Q_UNIFORM:
      u = tr_rng_uniform(r);
      v.x = sw_param_quantise(p, p->min + u * (p->max - p->min));
      break;
    case SW_DIST_LOG_UNIFORM_VALUES:
    case SW_DIST_Q_LOG_UNIFORM_VALUES:
      u = tr_rng_uniform(r);
      x = exp(log(p->min) + u * (log(p->max) - log(p->min)));
      /* exp(log(max)) may round one ulp past max. */
      if (x > p->max) x = p->max;
      if (x < p->min) x = p->min;
      v.x = sw_param_quantise(p, x);
      break;
    case SW_DIST_LOG_UNIFORM:
    case SW_DIST_Q_LOG_UNIFORM:
      u = tr_rng_uniform(r);
      v.x = sw_param_quantise(p, exp(p->min + u * (p->max - p->min)));
      break;
    case SW_DIST_NORMAL:
    case SW_DIST_Q_NORMAL:
      v.x = sw_param_quantise(p, p->mu + p->sigma * tr_rng_normal(r));
      break;
    case SW_DIST_LOG_NORMAL:
    case SW_DIST_Q_LOG_NORMAL:
      v.x = sw_param_quantise(p, exp(p->mu + p->sigma * tr_rng_normal(r)));
      break;
  }
  return v;
}

SwValue sw_param_draw(const SwParam *p, TrRng *r) { return draw_value(p, r); }

static int draw_param(TrConfig *c, char **pv, const SwParam *p, TrRng *r, const char *file, TrErr *err) {
  return sw_param_apply(c, pv, p, draw_value(p, r), file, err);
}

/* The grid point d (0-based) of parameter p into c. */
static int grid_param(TrConfig *c, char **pv, const SwParam *p, uint64_t d, const char *file, TrErr *err) {
  switch (p->dist) {
    case SW_DIST_CONSTANT:
    case SW_DIST_CATEGORICAL:
      return set_node(c, pv, p, p->values[d], file, err);
    case SW_DIST_INT_UNIFORM:
      return set_number(c, pv, p, (double)(int64_t)((uint64_t)p->imin + d), err);
    case SW_DIST_Q_UNIFORM:
      return set_number(c, pv, p, (double)(p->imin + (int64_t)d) * p->q, err);
    default:
      return tr_err_set(err, TR_EINVAL, "%s: %s is not a grid distribution", p->key->name,
                        sw_dist_name(p->dist));
  }
}

/* {"key": value, ...} of the swept keys of c (constants left out), plus the seed key if seeded. */
static char *params_json(const SwSpec *s, const TrConfig *c) {
  Buf b = {0};
  char v[512];
  int first = 1;
  buf_put(&b, "{");
  for (size_t i = 0; i < sw_spec_param_count(s); i++) {
    const SwParam *p = sw_spec_param(s, i);
    if (p->dist == SW_DIST_CONSTANT) continue;
    tr_config_value_text(c, p->key, 1, v, sizeof v);
    buf_put(&b, "%s\"%s\": %s", first ? "" : ", ", p->key->name, v);
    first = 0;
  }
  size_t ns;
  sw_spec_seeds(s, &ns);
  if (ns) {
    const TrKey *k = tr_config_key_find(sw_spec_seed_key(s));
    if (k) {
      tr_config_value_text(c, k, 1, v, sizeof v);
      buf_put(&b, "%s\"%s\": %s", first ? "" : ", ", k->name, v);
    }
  }
  buf_put(&b, "}");
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

/* A program trial's parameters: every parameter (constants too: W&B passes them), in spec
** order, then the seed under hpsweep.seed_arg when seeded (SEED NULL: none). */
static char *prog_json(const SwSpec *s, char *const *pv, const int64_t *seed) {
  Buf b = {0};
  buf_put(&b, "{");
  for (size_t i = 0; i < sw_spec_param_count(s); i++) {
    const SwParam *p = sw_spec_param(s, i);
    size_t need = tr_json_quote(NULL, 0, p->key->name, 0) + 1;
    char *q = tr_malloc(need);
    if (!q) b.oom = 1;
    if (q) tr_json_quote(q, need, p->key->name, 0);
    buf_put(&b, "%s%s: %s", i ? ", " : "", q ? q : "", pv[i] ? pv[i] : "null");
    free(q);
  }
  if (seed) {
    size_t need = tr_json_quote(NULL, 0, sw_spec_seed_key(s), 0) + 1;
    char *q = tr_malloc(need);
    if (!q) b.oom = 1;
    if (q) tr_json_quote(q, need, sw_spec_seed_key(s), 0);
    buf_put(&b, "%s%s: %lld", sw_spec_param_count(s) ? ", " : "", q ? q : "", (long long)*seed);
    free(q);
  }
  buf_put(&b, "}");
  if (b.oom) {
    free(b.s);
    return NULL;
  }
  return b.s;
}

/* FNV-1a 64 of a program trial's parameters JSON: its identity (no TrConfig varies). */
static uint64_t fnv_str(const char *t) {
  uint64_t h = 1469598103934665603ULL;
  for (; *t; t++) h = (h ^ (unsigned char)*t) * 1099511628211ULL;
  return h;
}

static void hex16(uint64_t h, char out[17]) { snprintf(out, 17, "%016llx", (unsigned long long)h); }

/* ---- expansion ----------------------------------------------------------- */

/* One expansion: the spec's shape, the trials made so far, the hashes seen. */
typedef struct Expand {
  const SwSpec *s;
  const char *file;
  int wl, wc;                  /* where the spec's parameters are, for messages */
  size_t np, nc, per, nseeds;  /* parameters, configurations, trials per configuration, seeds */
  const int64_t *seeds;
  const TrKey *seed_key;
  SwTrial *T;
  size_t done;                 /* trials with params_json allocated */
  HashSet cfg, all;            /* configuration hashes, trial hashes */
  TrErr *err;
  char **pv;                   /* a program spec: the configuration's values as JSON (np); else NULL */
  size_t j0;                   /* the first configuration in T (sw_expand_values: the one it makes) */
} Expand;

/* The hash of configuration c (a program's: of its values' JSON) into *hc. */
static int config_hash(Expand *X, const TrConfig *c, uint64_t *hc) {
  if (!X->pv) {
    *hc = tr_config_hash(c);
    return TR_OK;
  }
  char *j = prog_json(X->s, X->pv, NULL);
  if (!j) return tr_err_set(X->err, TR_ENOMEM, "out of memory");
  *hc = fnv_str(j);
  free(j);
  return TR_OK;
}

/* The trial's parameters JSON: the swept keys, or a program's every parameter. */
static char *trial_json(const Expand *X, const SwTrial *t, size_t k) {
  return X->pv ? prog_json(X->s, X->pv, X->nseeds ? &X->seeds[k] : NULL) : params_json(X->s, &t->config);
}

/* Configuration j of a grid: mixed radix over the parameters' grid points, last fastest. */
static int expand_grid(Expand *X, size_t j, TrConfig *c, uint64_t *hc) {
  const SwSpec *s = X->s;
  TrErr e;
  tr_err_clear(&e);
  int rc = TR_OK;
  *c = *sw_spec_base(s);
  uint64_t rest = j;
  for (size_t i = X->np; i-- > 0 && rc == TR_OK;) {
    const SwParam *p = sw_spec_param(s, i);
    uint64_t d = rest % p->n_grid;
    rest /= p->n_grid;
    if ((rc = grid_param(c, X->pv ? &X->pv[i] : NULL, p, d, X->file, &e)))
      rc = tr_err_set(X->err, rc, "%s:%d:%d: trial %zu: parameter '%s': %s", X->file, p->line, p->col,
                      j * X->per, p->key->name, e.msg);
  }
  if (rc || (rc = config_hash(X, c, hc))) return rc;
  size_t prev = set_add(&X->cfg, *hc, j);
  if (prev) {
    char *pj = X->pv ? prog_json(s, X->pv, NULL) : params_json(s, c);
    rc = tr_err_set(X->err, TR_EINVAL, "%s:%d:%d: trials %zu and %zu are the same configuration %s "
                    "(a value listed twice?)", X->file, X->wl, X->wc, (prev - 1) * X->per, j * X->per, pj ? pj : "");
    free(pj);
  }
  return rc;
}

/* Configuration j of a random search: drawn from its own stream, redrawn while it repeats one. */
static int expand_random(Expand *X, size_t j, TrConfig *c, uint64_t *hc) {
  const SwSpec *s = X->s;
  TrErr e;
  tr_err_clear(&e);
  int rc = TR_OK, fresh = 0;
  TrRng r;
  tr_rng_seed2(&r, sw_spec_seed(s), (uint64_t)j);
  for (int attempt = 0; attempt < SW_MAX_REDRAWS && !fresh && rc == TR_OK; attempt++) {
    *c = *sw_spec_base(s);
    for (size_t i = 0; i < X->np && rc == TR_OK; i++) {
      const SwParam *p = sw_spec_param(s, i);
      if ((rc = draw_param(c, X->pv ? &X->pv[i] : NULL, p, &r, X->file, &e)))
        rc = tr_err_set(X->err, rc, "%s:%d:%d: trial %zu: parameter '%s': %s", X->file, p->line, p->col,
                        j * X->per, p->key->name, e.msg);
    }
    if (rc == TR_OK && (rc = config_hash(X, c, hc)) == TR_OK) fresh = set_add(&X->cfg, *hc, j) == 0;
  }
  if (rc) return rc;
  if (!fresh)
    return tr_err_set(X->err, TR_EINVAL, "%s:%d:%d: random search: configuration %zu repeats earlier ones "
                      "after %d draws; the space has fewer than %zu distinct configurations (lower run_cap)",
                      X->file, X->wl, X->wc, j, SW_MAX_REDRAWS, X->nc);
  return TR_OK;
}

/* The trials of configuration j (hash hc before any seed): one per seed, each validated and hashed. */
static int expand_trials(Expand *X, size_t j, const TrConfig *c, uint64_t hc) {
  const char *file = X->file;
  TrErr e;
  tr_err_clear(&e);
  int rc;
  for (size_t k = 0; k < X->per; k++) {
    SwTrial *t = &X->T[(j - X->j0) * X->per + k];
    t->index = j * X->per + k;
    t->config_index = j;
    t->seed_index = k;
    t->config = *c;
    if (X->nseeds && !X->pv) {
      char sv[32];
      snprintf(sv, sizeof sv, "%lld", (long long)X->seeds[k]);
      if ((rc = tr_config_set(&t->config, X->seed_key->name, sv, &e)))
        return tr_err_set(X->err, rc, "%s:%d:%d: trial %zu: %s", file, X->wl, X->wc, t->index, e.msg);
    }
    t->params_json = trial_json(X, t, k);
    X->done = (j - X->j0) * X->per + k + 1;
    if (!t->params_json) return tr_err_set(X->err, TR_ENOMEM, "out of memory");
    if (!X->pv && (rc = tr_config_validate(&t->config, &e)))
      return tr_err_set(X->err, rc, "%s:%d:%d: trial %zu %s: %s", file, X->wl, X->wc, t->index, t->params_json,
                        e.msg);
    if (!X->pv && sw_spec_et_varies(X->s) && (rc = sw_spec_et_check_config(X->s, &t->config, &e))) {
      const SwEarlyTerminate *et = sw_spec_early_terminate(X->s);
      return tr_err_set(X->err, rc, "%s:%d:%d: trial %zu %s: %s", file, et->line, et->col, t->index,
                        t->params_json, e.msg);
    }
    t->hash = !X->nseeds ? hc : X->pv ? fnv_str(t->params_json) : tr_config_hash(&t->config);
    hex16(t->hash, t->hash_hex);
    size_t prev = set_add(&X->all, t->hash, t->index);
    if (prev)
      return tr_err_set(X->err, TR_EINVAL, "%s:%d:%d: trials %zu and %zu have the same hash %s", file, X->wl,
                        X->wc, prev - 1, t->index, t->hash_hex);
  }
  return TR_OK;
}

/* Set up X for nc configurations starting at j0 (T, hash sets, a program's values). */
static int expand_init(Expand *X, const SwSpec *s, size_t j0, size_t nc, TrErr *err) {
  memset(X, 0, sizeof *X);
  X->s = s;
  X->err = err;
  X->file = sw_spec_path(s);
  sw_spec_where(s, &X->wl, &X->wc);
  X->np = sw_spec_param_count(s);
  X->nc = nc;
  X->j0 = j0;
  X->seeds = sw_spec_seeds(s, &X->nseeds);
  X->per = X->nseeds ? X->nseeds : 1;
  size_t nt = X->nc * X->per;
  X->seed_key = tr_config_key_find(sw_spec_seed_key(s));
  if (sw_spec_program(s) && !(X->pv = tr_calloc(X->np ? X->np : 1, sizeof *X->pv)))
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  if (X->nseeds && !X->seed_key && !X->pv) {
    free(X->pv);
    return tr_err_set(err, TR_EINVAL, "%s: no key %s in the registry", X->file, sw_spec_seed_key(s));
  }
  X->T = tr_calloc(nt ? nt : 1, sizeof *X->T);
  if (!X->T || set_init(&X->cfg, X->nc) || set_init(&X->all, nt)) {
    free(X->T);
    free(X->pv);
    set_free(&X->cfg);
    set_free(&X->all);
    return tr_err_set(err, TR_ENOMEM, "out of memory (%zu trials)", nt);
  }
  return TR_OK;
}

/* Free X's scratch; on success hand T to the caller, else free the trials made. */
static int expand_fini(Expand *X, int rc, SwTrial **trials, size_t *n) {
  set_free(&X->cfg);
  set_free(&X->all);
  for (size_t i = 0; X->pv && i < X->np; i++) free(X->pv[i]);
  free(X->pv);
  if (rc) {
    sw_trials_free(X->T, X->done);
    return rc;
  }
  *trials = X->T;
  *n = X->nc * X->per;
  return TR_OK;
}

int sw_expand(const SwSpec *s, SwTrial **trials, size_t *n, TrErr *err) {
  *trials = NULL;
  *n = 0;
  if (sw_spec_lr_pending(s)) return sw_spec_lr_check_resolved(s, err);
  if (sw_spec_method(s) == SW_METHOD_BAYES) {
    int line, col;
    sw_spec_where(s, &line, &col);
    return tr_err_set(err, TR_EINVAL, "%s:%d:%d: method bayes proposes each configuration from the results so "
                      "far: there is no list of trials to expand", sw_spec_path(s), line, col);
  }
  Expand X;
  int rc = expand_init(&X, s, 0, sw_spec_config_count(s), err);
  if (rc) return rc;
  for (size_t j = 0; j < X.nc && rc == TR_OK; j++) {
    TrConfig c;
    uint64_t hc = 0; /* hash of c before the seed: the trial's hash when there are no seeds */
    rc = sw_spec_method(s) == SW_METHOD_GRID ? expand_grid(&X, j, &c, &hc) : expand_random(&X, j, &c, &hc);
    if (rc == TR_OK) rc = expand_trials(&X, j, &c, hc);
  }
  return expand_fini(&X, rc, trials, n);
}

int sw_expand_values(const SwSpec *s, const SwValue *vals, size_t config_index, SwTrial **trials, size_t *n,
                     TrErr *err) {
  *trials = NULL;
  *n = 0;
  Expand X;
  int rc = expand_init(&X, s, config_index, 1, err);
  if (rc) return rc;
  TrErr e;
  tr_err_clear(&e);
  TrConfig c = *sw_spec_base(s);
  uint64_t hc = 0;
  for (size_t i = 0; i < X.np && rc == TR_OK; i++) {
    const SwParam *p = sw_spec_param(s, i);
    if ((rc = sw_param_apply(&c, X.pv ? &X.pv[i] : NULL, p, vals[i], X.file, &e)))
      rc = tr_err_set(err, rc, "%s:%d:%d: trial %zu: parameter '%s': %s", X.file, p->line, p->col,
                      config_index * X.per, p->key->name, e.msg);
  }
  if (rc == TR_OK) rc = config_hash(&X, &c, &hc);
  if (rc == TR_OK) rc = expand_trials(&X, config_index, &c, hc);
  return expand_fini(&X, rc, trials, n);
}

void sw_trials_free(SwTrial *trials, size_t n) {
  if (!trials) return;
  for (size_t i = 0; i < n; i++) free(trials[i].params_json);
  free(trials);
}

void sw_sweep_hash(const SwSpec *s, const SwTrial *trials, size_t n, char out[17]) {
  sw_trials_hash(trials, n, out);
  const SwPbt *p = sw_spec_pbt(s);
  if (!p->enabled) return;
  char text[8192], desc[512];
  size_t k = (size_t)snprintf(text, sizeof text, "%s|pbt %lld %lld %.17g %.17g %.17g %.17g", out,
                              (long long)p->population, (long long)p->interval, p->quantile, p->resample,
                              p->factors[0], p->factors[1]);
  for (size_t i = 0; i < p->n_mutations && k < sizeof text; i++) {
    sw_param_describe(&p->mutations[i].p, desc, sizeof desc);
    k += (size_t)snprintf(text + k, sizeof text - k, "|%s %s", p->mutations[i].p.key->name, desc);
  }
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const char *c = text; *c; c++) {
    h ^= (unsigned char)*c;
    h *= 0x100000001b3ULL;
  }
  hex16(h, out);
}

void sw_trials_hash(const SwTrial *trials, size_t n, char out[17]) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++)
    for (const char *p = trials[i].hash_hex; *p; p++) {
      h ^= (unsigned char)*p;
      h *= 0x100000001b3ULL;
    }
  hex16(h, out);
}
