/*
** sw_spec.c: load and check a sweep spec (see sw_spec.h for the contract).
**
** Order of checks: the top-level keys (unknown ones first, in file order), then
** the hpsweep: block (the base config and seeds are needed to judge parameters),
** method, metric, run_cap, early_terminate, and last the parameters and the
** grid size. Every message starts "FILE:LINE:COL: ".
*/
#include "sw_spec.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sw_command.h"
#include "sw_infer.h"
#include "sw_prune.h"
#include "tr_alloc.h"
#include "tr_ckpt.h"
#include "tr_json.h"
#include "tr_run.h"

struct SwSpec {
  char *path, *dir, *text;     /* dir: the spec's directory ("." if none), for relative paths */
  char *absdir;                /* dir made absolute: trial configs carry absolute paths */
  TrYamlDoc *doc;
  char *name, *description;
  SwMethod method;
  SwSampler sampler;           /* hpsweep.sampler (bayes) */
  int has_impute;              /* metric.impute given as a number (bayes) */
  double impute;
  char *metric;
  SwGoal goal;
  int has_target;
  double target;
  int64_t run_cap;
  SwEarlyTerminate et;
  int workers, threads_per_trial, max_retries;
  char *db, *checkpoint;
  char *base_file;             /* hpsweep.base as a file, resolved against dir; NULL: none or inline */
  uint64_t seed;
  SwTask task;
  int64_t *seeds;              /* (n_seeds) */
  size_t n_seeds;
  TrConfig base;
  SwParam *params;             /* (n_params) */
  size_t n_params, cap_params;
  char **notices;              /* (n_notices) */
  size_t n_notices, cap_notices;
  size_t n_configs;
  int where_line, where_col;
  /* A program spec (program: given): parameters are the program's, not config keys. */
  char *program;               /* resolved against the spec's directory (absolute); NULL: the trainer */
  char **command;              /* (n_command) W&B's `command`, elements as W&B's str() */
  size_t n_command;
  char *seed_arg;              /* hpsweep.seed_arg, default "seed" */
  int wandb_shim;              /* hpsweep.wandb_shim; -1: not given (on for .py) */
  double max_seconds;          /* hpsweep.max_seconds_per_trial, 0: none */
  TrKey **pkeys;               /* (n_params) a program's parameter names, as keys */
  size_t n_pkeys;
  int program_resumes;         /* hpsweep.program_resumes: the program resumes from HPSWEEP_RUN_DIR */
  int et_ours;                 /* S->et came from hpsweep.early_terminate */
  int et_max_t_given;          /* max_t written (else the trainer's steps, filled in at the end) */
  int has_lrf, lrf_resolved;   /* hpsweep.lr_find given; resolved (its parameter added) */
  SwLrFind lrf;
  double *lrf_factors;         /* (lrf.n_factors) owned */
  TrYamlDoc *lrf_doc;          /* the resolved values as YAML: the parameter's nodes */
  SwPbt pbt;                   /* hpsweep.pbt */
};

/* ---- small helpers ------------------------------------------------------- */

static int errat(TrErr *err, const char *file, const TrYamlNode *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int errat(TrErr *err, const char *file, const TrYamlNode *n, const char *fmt, ...) {
  char msg[TR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  return tr_err_set(err, TR_EINVAL, "%s:%d:%d: %s", file, n ? n->line : 1, n ? n->col : 1, msg);
}

static int notice(SwSpec *S, const TrYamlNode *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int notice(SwSpec *S, const TrYamlNode *n, const char *fmt, ...) {
  char msg[TR_ERR_MSG_MAX], line[TR_ERR_MSG_MAX + 64];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  snprintf(line, sizeof line, "%s:%d:%d: %s", S->path, n ? n->line : 1, n ? n->col : 1, msg);
  if (S->n_notices == S->cap_notices) {
    size_t cap = S->cap_notices ? 2 * S->cap_notices : 8;
    char **p = tr_realloc(S->notices, cap * sizeof *p);
    if (!p) return TR_ENOMEM;
    S->notices = p;
    S->cap_notices = cap;
  }
  if (!(S->notices[S->n_notices] = tr_strdup(line))) return TR_ENOMEM;
  S->n_notices++;
  return TR_OK;
}

/* " (did you mean 'x'?)" or "" into buf. */
static const char *dym(char *buf, size_t n, const char *sug) {
  if (sug)
    snprintf(buf, n, " (did you mean '%s'?)", sug);
  else
    buf[0] = '\0';
  return buf;
}

/* "a, b, c" into buf. */
static const char *join_names(const char *const *names, char *buf, size_t n) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; names[i] && off < n - 1; i++)
    off += (size_t)snprintf(buf + off, n - off, "%s%s", i ? ", " : "", names[i]);
  return buf;
}

static int unknown_key(TrErr *err, const char *file, const TrYamlNode *k, const char *where,
                       const char *const *names) {
  char b[160], list[512];
  return errat(err, file, k, "unknown key '%s' in %s%s; valid keys: %s", k->str, where,
               dym(b, sizeof b, tr_closest(k->str, names)), join_names(names, list, sizeof list));
}

static int want_string(const char *file, const char *key, const TrYamlNode *v, const char **out,
                       TrErr *err) {
  if (v->kind != TR_YAML_SCALAR)
    return errat(err, file, v, "%s: expected a string, got %s", key, tr_yaml_kind_name(v->kind));
  if (v->plain && tr_yaml_is_null(v)) return errat(err, file, v, "%s: expected a string, got null", key);
  *out = v->str;
  return TR_OK;
}

static int want_int(const char *file, const char *key, const TrYamlNode *v, int64_t lo, int64_t hi,
                    int64_t *out, TrErr *err) {
  int rc = tr_yaml_int64(v, file, key, out, err);
  if (rc) return rc;
  if (*out < lo || *out > hi)
    return errat(err, file, v, "%s: %lld is out of range [%lld, %lld]", key, (long long)*out,
                 (long long)lo, (long long)hi);
  return TR_OK;
}

static int want_map(const char *file, const char *key, const TrYamlNode *v, TrErr *err) {
  if (v->kind != TR_YAML_MAP)
    return errat(err, file, v, "%s: expected a mapping, got %s", key, tr_yaml_kind_name(v->kind));
  return TR_OK;
}

/* Index of key in map, or -1. */
static int map_index(const TrYamlNode *map, const char *key) {
  for (int i = 0; i < map->n; i++)
    if (strcmp(map->keys[i]->str, key) == 0) return i;
  return -1;
}

static int in_list(const char *s, const char *const *names) {
  for (size_t i = 0; names[i]; i++)
    if (strcmp(s, names[i]) == 0) return 1;
  return 0;
}

/* Join dir and a relative path (absolute paths are kept). */
static char *resolve(const char *dir, const char *p) {
  if (p[0] == '/' || strcmp(dir, ".") == 0) return tr_strdup(p);
  size_t n = strlen(dir) + strlen(p) + 2;
  char *r = tr_malloc(n);
  if (r) snprintf(r, n, "%s/%s", dir, p);
  return r;
}

/* Training keys that name files or directories: relative values resolve against the spec's
** directory, made absolute so a trial's config (and hash) does not depend on the current directory. */
static const char *const path_keys[] = {"data.path", "train.out_dir", NULL};

static int key_is_path(const TrKey *k) { return in_list(k->name, path_keys); }

/* A path key's text as it goes into configs: "" stays "" (none), else resolved against absdir. */
static char *resolve_key(const SwSpec *S, const char *p) { return *p ? resolve(S->absdir, p) : tr_strdup(""); }

/* Resolve the base config's path keys in place. */
static int resolve_base_paths(SwSpec *S, const TrYamlNode *at, TrErr *err) {
  for (size_t i = 0; path_keys[i]; i++) {
    const TrKey *k = tr_config_key_find(path_keys[i]);
    char *field = (char *)&S->base + k->offset, *r = resolve_key(S, field);
    if (!r) return tr_err_set(err, TR_ENOMEM, "out of memory");
    size_t n = strlen(r);
    if (n < k->size) memcpy(field, r, n + 1);
    free(r);
    if (n >= k->size)
      return errat(err, S->path, at, "hpsweep.base: %s: longer than %zu bytes once resolved against %s",
                   k->name, k->size - 1, S->absdir);
  }
  return TR_OK;
}

/* ---- names --------------------------------------------------------------- */

static const char *const dist_names[] = {
    "constant", "categorical", "int_uniform", "uniform", "q_uniform", "log_uniform_values",
    "q_log_uniform_values", "log_uniform", "q_log_uniform", "normal", "q_normal", "log_normal",
    "q_log_normal", NULL};

const char *sw_method_name(SwMethod m) {
  return m == SW_METHOD_BAYES ? "bayes" : m == SW_METHOD_RANDOM ? "random" : "grid";
}
const char *sw_sampler_name(SwSampler m) { return m == SW_SAMPLER_TPE ? "tpe" : "gp"; }
const char *sw_goal_name(SwGoal g) { return g == SW_GOAL_MAXIMIZE ? "maximize" : "minimize"; }
const char *sw_task_name(SwTask t) { return t == SW_TASK_SAMPLE ? "sample" : "train"; }
const char *sw_et_type_name(SwEtType t) {
  static const char *const names[] = {"none", "hyperband (W&B)", "asha", "median", "hyperband"};
  return (unsigned)t < sizeof names / sizeof *names ? names[t] : "?";
}
const char *sw_dist_name(SwDist d) {
  return (unsigned)d < sizeof dist_names / sizeof *dist_names - 1 ? dist_names[d] : "?";
}

static int dist_is_q(SwDist d) {
  return d == SW_DIST_Q_UNIFORM || d == SW_DIST_Q_LOG_UNIFORM_VALUES || d == SW_DIST_Q_LOG_UNIFORM ||
         d == SW_DIST_Q_NORMAL || d == SW_DIST_Q_LOG_NORMAL;
}
static int dist_is_minmax(SwDist d) {
  return d == SW_DIST_INT_UNIFORM || d == SW_DIST_UNIFORM || d == SW_DIST_Q_UNIFORM ||
         d == SW_DIST_LOG_UNIFORM_VALUES || d == SW_DIST_Q_LOG_UNIFORM_VALUES ||
         d == SW_DIST_LOG_UNIFORM || d == SW_DIST_Q_LOG_UNIFORM;
}
static int dist_is_musigma(SwDist d) {
  return d == SW_DIST_NORMAL || d == SW_DIST_Q_NORMAL || d == SW_DIST_LOG_NORMAL ||
         d == SW_DIST_Q_LOG_NORMAL;
}

/* ---- the hpsweep: block -------------------------------------------------- */

static const char *const hps_keys[] = {"base", "seeds", "seed", "workers", "threads_per_trial",
                                       "db", "max_retries", "task", "checkpoint", "seed_arg",
                                       "wandb_shim", "max_seconds_per_trial", "sampler", "early_terminate",
                                       "program_resumes", "lr_find", "pbt", NULL};

/* hpsweep.base: the trainer config the parameters vary, inline or a file beside the spec. */
static int parse_base(SwSpec *S, const TrYamlNode *v, TrErr *err) {
  const char *f = S->path, *s = NULL;
  int rc;
  if (v->kind == TR_YAML_MAP) {
    tr_config_defaults(&S->base);
    if ((rc = tr_config_apply_yaml(&S->base, v, f, err)) || (rc = resolve_base_paths(S, v, err))) return rc;
    return TR_OK;
  }
  if ((rc = want_string(f, "hpsweep.base", v, &s, err))) return rc;
  free(S->base_file);
  char *p = S->base_file = resolve(S->dir, s);
  if (!p) return tr_err_set(err, TR_ENOMEM, "out of memory");
  rc = tr_config_load(&S->base, p, err);
  if (rc) {
    int line = v->line, col = v->col;
    return tr_err_prefix(err, "%s:%d:%d: hpsweep.base", f, line, col);
  }
  return resolve_base_paths(S, v, err);
}

/* hpsweep.seeds: distinct integers, each a valid value of the seed key. */
static int parse_seeds(SwSpec *S, const TrYamlNode *v, TrErr *err) {
  const char *f = S->path;
  int64_t x;
  int rc;
  if (v->kind != TR_YAML_SEQ)
    return errat(err, f, v, "hpsweep.seeds: expected a list of integers, got %s",
                 tr_yaml_kind_name(v->kind));
  if (v->n == 0) return errat(err, f, v, "hpsweep.seeds: the list is empty");
  if (v->n > SW_MAX_SEEDS)
    return errat(err, f, v, "hpsweep.seeds: %d seeds, more than the limit of %d", v->n, SW_MAX_SEEDS);
  const TrKey *sk = S->program ? NULL : tr_config_key_find(sw_spec_seed_key(S));
  S->seeds = tr_malloc((size_t)v->n * sizeof *S->seeds);
  if (!S->seeds) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int i = 0; i < v->n; i++) {
    TrConfig tmp = S->base;
    if ((rc = tr_yaml_int64(v->items[i], f, "hpsweep.seeds", &x, err))) return rc;
    if (sk && (rc = tr_config_set_node(&tmp, sk, v->items[i], f, err))) return rc;
    for (size_t j = 0; j < S->n_seeds; j++)
      if (S->seeds[j] == x) return errat(err, f, v->items[i], "hpsweep.seeds: seed %lld is listed twice", (long long)x);
    S->seeds[S->n_seeds++] = x;
  }
  return TR_OK;
}

/* The hpsweep keys of program specs: seed_arg, wandb_shim, max_seconds_per_trial. */
static int parse_hpsweep_program(SwSpec *S, const TrYamlNode *h, TrErr *err) {
  const char *f = S->path, *s = NULL;
  const TrYamlNode *v;
  int rc;
  if ((v = tr_yaml_get(h, "seed_arg"))) {
    if ((rc = want_string(f, "hpsweep.seed_arg", v, &s, err))) return rc;
    if (!*s) return errat(err, f, v, "hpsweep.seed_arg: empty name");
    free(S->seed_arg);
    if (!(S->seed_arg = tr_strdup(s))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  if ((v = tr_yaml_get(h, "wandb_shim")) && (rc = tr_yaml_bool(v, f, "hpsweep.wandb_shim", &S->wandb_shim, err)))
    return rc;
  if ((v = tr_yaml_get(h, "program_resumes"))) {
    if ((rc = tr_yaml_bool(v, f, "hpsweep.program_resumes", &S->program_resumes, err))) return rc;
    if (!S->program && (rc = notice(S, v, "notice: hpsweep.program_resumes is for specs with a program "
                                    "(the built-in trainer always resumes): ignored")))
      return tr_err_set(err, rc, "out of memory");
  }
  if ((v = tr_yaml_get(h, "max_seconds_per_trial"))) {
    if ((rc = tr_yaml_double(v, f, "hpsweep.max_seconds_per_trial", &S->max_seconds, err))) return rc;
    if (!(S->max_seconds > 0) || S->max_seconds > 1e9)
      return errat(err, f, v, "hpsweep.max_seconds_per_trial: %g is not in (0, 1e9]", S->max_seconds);
  }
  return TR_OK;
}

/* hpsweep.sampler: the model of method bayes (checked against the method in spec_bayes). */
static int parse_sampler(SwSpec *S, const TrYamlNode *h, TrErr *err) {
  const TrYamlNode *v = tr_yaml_get(h, "sampler");
  const char *s = NULL;
  int rc;
  if (!v) return TR_OK;
  if ((rc = want_string(S->path, "hpsweep.sampler", v, &s, err))) return rc;
  if (!strcmp(s, "tpe"))
    S->sampler = SW_SAMPLER_TPE;
  else if (strcmp(s, "gp") != 0)
    return errat(err, S->path, v, "hpsweep.sampler: '%s' is not a sampler (expected gp or tpe)", s);
  return TR_OK;
}

/* hpsweep.lr_find.factors: a non-empty list of distinct positive numbers. */
static int parse_lrf_factors(SwSpec *S, const TrYamlNode *v, TrErr *err) {
  const char *f = S->path, *key = "hpsweep.lr_find.factors";
  if (v->kind != TR_YAML_SEQ)
    return errat(err, f, v, "%s: expected a list of positive numbers, got %s", key, tr_yaml_kind_name(v->kind));
  if (v->n == 0) return errat(err, f, v, "%s: the list is empty (give the multiples of the suggestion to try)", key);
  if (v->n > 1000) return errat(err, f, v, "%s: %d factors, more than the limit of 1000", key, v->n);
  free(S->lrf_factors);
  if (!(S->lrf_factors = tr_malloc((size_t)v->n * sizeof *S->lrf_factors))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int i = 0; i < v->n; i++) {
    double x;
    int rc = tr_yaml_double(v->items[i], f, key, &x, err);
    if (rc) return rc;
    if (!(x > 0)) return errat(err, f, v->items[i], "%s: %s is not positive (a factor multiplies the suggested lr)",
                               key, v->items[i]->str);
    for (int j = 0; j < i; j++)
      if (S->lrf_factors[j] == x) return errat(err, f, v->items[i], "%s: %s is listed twice", key, v->items[i]->str);
    S->lrf_factors[i] = x;
  }
  S->lrf.factors = S->lrf_factors;
  S->lrf.n_factors = v->n;
  return TR_OK;
}

static const char *const lrf_keys[] = {"suggestion", "factors", "start", "end", "steps", NULL};
static const char *const lrf_suggestions[] = {"steepest", "min_div_10", "valley", NULL};

const char *sw_lr_suggestion_name(int s) { return s >= 0 && s <= SW_LRF_VALLEY ? lrf_suggestions[s] : "?"; }

/* hpsweep.lr_find: an lr grid centred on the range test's suggestion. */
static int parse_lr_find(SwSpec *S, const TrYamlNode *h, TrErr *err) {
  const char *f = S->path;
  const TrYamlNode *v;
  char b[160];
  int rc;
  if ((rc = want_map(f, "hpsweep.lr_find", h, err))) return rc;
  for (int i = 0; i < h->n; i++)
    if (!in_list(h->keys[i]->str, lrf_keys)) return unknown_key(err, f, h->keys[i], "hpsweep.lr_find", lrf_keys);
  S->has_lrf = 1;
  S->lrf = (SwLrFind){SW_LRF_VALLEY, NULL, 0, 1e-7, 10.0, 100, h->line, h->col};
  if ((v = tr_yaml_get(h, "suggestion"))) {
    const char *s = NULL;
    if ((rc = want_string(f, "hpsweep.lr_find.suggestion", v, &s, err))) return rc;
    int k = 0;
    while (lrf_suggestions[k] && strcmp(lrf_suggestions[k], s)) k++;
    if (!lrf_suggestions[k])
      return errat(err, f, v, "hpsweep.lr_find.suggestion: '%s' is not a suggestion (expected steepest, min_div_10 "
                   "or valley)%s", s, dym(b, sizeof b, tr_closest(s, lrf_suggestions)));
    S->lrf.suggestion = k;
  }
  if (!(v = tr_yaml_get(h, "factors")))
    return errat(err, f, h, "hpsweep.lr_find: missing 'factors' (e.g. [0.25, 0.5, 1, 2, 4]: the lrs tried are "
                 "factor x the suggestion)");
  if ((rc = parse_lrf_factors(S, v, err))) return rc;
  if ((v = tr_yaml_get(h, "start")) && (rc = tr_yaml_double(v, f, "hpsweep.lr_find.start", &S->lrf.start, err))) return rc;
  if ((v = tr_yaml_get(h, "end")) && (rc = tr_yaml_double(v, f, "hpsweep.lr_find.end", &S->lrf.end, err))) return rc;
  if (!(S->lrf.start > 0) || !(S->lrf.end > S->lrf.start))
    return errat(err, f, h, "hpsweep.lr_find: the ramp needs 0 < start < end, got start %g, end %g", S->lrf.start,
                 S->lrf.end);
  int64_t x;
  if ((v = tr_yaml_get(h, "steps"))) {
    if ((rc = want_int(f, "hpsweep.lr_find.steps", v, 2, 100000, &x, err))) return rc;
    S->lrf.steps = (int)x;
  }
  return TR_OK;
}

static int parse_hpsweep(SwSpec *S, const TrYamlNode *h, TrErr *err) {
  const char *f = S->path;
  int rc;
  if ((rc = want_map(f, "hpsweep", h, err))) return rc;
  for (int i = 0; i < h->n; i++)
    if (!in_list(h->keys[i]->str, hps_keys)) return unknown_key(err, f, h->keys[i], "hpsweep", hps_keys);
  const TrYamlNode *v;
  int64_t x;
  const char *s = NULL;
  if ((v = tr_yaml_get(h, "task"))) {
    if ((rc = want_string(f, "hpsweep.task", v, &s, err))) return rc;
    if (strcmp(s, "train") == 0)
      S->task = SW_TASK_TRAIN;
    else if (strcmp(s, "sample") == 0)
      S->task = SW_TASK_SAMPLE;
    else
      return errat(err, f, v, "hpsweep.task: '%s' is not a task (expected train or sample)", s);
  }
  if ((v = tr_yaml_get(h, "base")) && (rc = parse_base(S, v, err))) return rc;
  if ((v = tr_yaml_get(h, "seeds")) && (rc = parse_seeds(S, v, err))) return rc;
  if ((v = tr_yaml_get(h, "seed"))) {
    if ((rc = want_int(f, "hpsweep.seed", v, 0, INT64_MAX, &x, err))) return rc;
    S->seed = (uint64_t)x;
  }
  if ((v = tr_yaml_get(h, "workers"))) {
    if ((rc = want_int(f, "hpsweep.workers", v, 1, 1024, &x, err))) return rc;
    S->workers = (int)x;
  }
  if ((v = tr_yaml_get(h, "threads_per_trial"))) {
    if ((rc = want_int(f, "hpsweep.threads_per_trial", v, 1, 1024, &x, err))) return rc;
    S->threads_per_trial = (int)x;
  }
  if ((v = tr_yaml_get(h, "max_retries"))) {
    if ((rc = want_int(f, "hpsweep.max_retries", v, 0, 100, &x, err))) return rc;
    S->max_retries = (int)x;
  }
  if ((v = tr_yaml_get(h, "db"))) {
    if ((rc = want_string(f, "hpsweep.db", v, &s, err))) return rc;
    if (!*s) return errat(err, f, v, "hpsweep.db: empty path");
    free(S->db);
    if (!(S->db = resolve(S->dir, s))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  if ((v = tr_yaml_get(h, "checkpoint"))) {
    if ((rc = want_string(f, "hpsweep.checkpoint", v, &s, err))) return rc;
    if (!*s) return errat(err, f, v, "hpsweep.checkpoint: empty path");
    free(S->checkpoint);
    if (!(S->checkpoint = resolve(S->dir, s))) return tr_err_set(err, TR_ENOMEM, "out of memory");
    if (S->task != SW_TASK_SAMPLE)
      if ((rc = notice(S, v, "notice: hpsweep.checkpoint is used by sample sweeps only (task: sample): ignored")))
        return tr_err_set(err, rc, "out of memory");
  }
  if ((rc = parse_sampler(S, h, err))) return rc;
  if ((v = tr_yaml_get(h, "lr_find")) && (rc = parse_lr_find(S, v, err))) return rc;
  return parse_hpsweep_program(S, h, err);
}

/* ---- metric, early_terminate --------------------------------------------- */

/* The metrics a trial of this task records: the trainer's (tr_run) or the inference measures. */
static const char *const *task_metrics(const SwSpec *S) {
  return S->task == SW_TASK_SAMPLE ? sw_infer_metric_names(NULL) : tr_run_metric_names();
}

/* metric.name must be a metric the trials record, else every trial would rank as "-". */
static int check_metric_name(const SwSpec *S, const TrYamlNode *at, const char *name, TrErr *err) {
  const char *const *names = task_metrics(S);
  if (S->program || in_list(name, names)) return TR_OK; /* a program reports what it likes */
  char b[160], list[512], c[TR_ERR_CLIP_MAX];
  join_names(names, list, sizeof list);
  return errat(err, S->path, at, "metric.name: '%s' is not a metric %s records%s; it records %s",
               tr_err_clip(name, c, sizeof c),
               S->task == SW_TASK_SAMPLE ? "a task: sample sweep" : "the trainer",
               dym(b, sizeof b, tr_closest(name, names)), list);
}

/* metric.impute: bayes search's value for failed trials, a number (or worst, W&B's
** default); impute_while_running is not used. Other methods: a notice each. */
static int parse_impute(SwSpec *S, const TrYamlNode *m, TrErr *err) {
  int rc;
  for (int i = 0; i < m->n; i++) {
    const TrYamlNode *k = m->keys[i], *v = m->items[i];
    if (strncmp(k->str, "impute", 6) != 0) continue;
    if (S->method != SW_METHOD_BAYES || strcmp(k->str, "impute") != 0) {
      if ((rc = notice(S, k, "notice: metric.%s is %s: ignored", k->str,
                       S->method == SW_METHOD_BAYES ? "not used by hpsweep's bayes search"
                                                    : "used by bayes search only")))
        return tr_err_set(err, rc, "out of memory");
      continue;
    }
    char c[TR_ERR_CLIP_MAX];
    if (v->kind == TR_YAML_SCALAR && v->plain && !strcmp(v->str, "worst")) continue;
    if (v->kind != TR_YAML_SCALAR || !v->plain || tr_parse_double(v->str, &S->impute) != 0 || !isfinite(S->impute))
      return errat(err, S->path, v, "metric.impute: '%s' is not a number (the value failed trials take; "
                   "omit it or write worst for the worst value seen)",
                   v->kind == TR_YAML_SCALAR ? tr_err_clip(v->str, c, sizeof c) : tr_yaml_kind_name(v->kind));
    S->has_impute = 1;
  }
  return TR_OK;
}

static int parse_metric(SwSpec *S, const TrYamlNode *m, TrErr *err) {
  static const char *const keys[] = {"name", "goal", "target", "impute", "impute_while_running", NULL};
  const char *f = S->path, *s = NULL;
  int rc;
  if ((rc = want_map(f, "metric", m, err))) return rc;
  for (int i = 0; i < m->n; i++) {
    const TrYamlNode *k = m->keys[i];
    if (!in_list(k->str, keys)) return unknown_key(err, f, k, "metric", keys);
  }
  if ((rc = parse_impute(S, m, err))) return rc;
  const TrYamlNode *v = tr_yaml_get(m, "name");
  if (!v) return errat(err, f, m, "metric: missing 'name' (the metric to optimise, e.g. val_loss)");
  if ((rc = want_string(f, "metric.name", v, &s, err))) return rc;
  if (!*s) return errat(err, f, v, "metric.name: empty");
  if ((rc = check_metric_name(S, v, s, err))) return rc;
  free(S->metric);
  if (!(S->metric = tr_strdup(s))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  if ((v = tr_yaml_get(m, "goal"))) {
    static const char *const goals[] = {"minimize", "maximize", NULL};
    char b[160];
    if ((rc = want_string(f, "metric.goal", v, &s, err))) return rc;
    if (strcmp(s, "minimize") == 0)
      S->goal = SW_GOAL_MINIMIZE;
    else if (strcmp(s, "maximize") == 0)
      S->goal = SW_GOAL_MAXIMIZE;
    else
      return errat(err, f, v, "metric.goal: '%s' is not a goal (expected minimize or maximize)%s", s,
                   dym(b, sizeof b, tr_closest(s, goals)));
  }
  if ((v = tr_yaml_get(m, "target"))) {
    if ((rc = tr_yaml_double(v, f, "metric.target", &S->target, err))) return rc;
    S->has_target = 1;
  }
  return TR_OK;
}

/* W&B's early_terminate (type hyperband) into *et. */
static int parse_early_terminate(SwSpec *S, const TrYamlNode *e, SwEarlyTerminate *et, TrErr *err) {
  static const char *const keys[] = {"type", "min_iter", "max_iter", "s", "eta", "strict", NULL};
  static const char *const types[] = {"hyperband", NULL};
  const char *f = S->path, *s = NULL;
  char b[160];
  int rc;
  if ((rc = want_map(f, "early_terminate", e, err))) return rc;
  for (int i = 0; i < e->n; i++)
    if (!in_list(e->keys[i]->str, keys)) return unknown_key(err, f, e->keys[i], "early_terminate", keys);
  const TrYamlNode *v = tr_yaml_get(e, "type");
  if (!v) return errat(err, f, e, "early_terminate: missing 'type' (W&B has hyperband)");
  if ((rc = want_string(f, "early_terminate.type", v, &s, err))) return rc;
  if (!strcmp(s, "asha") || !strcmp(s, "median"))
    return errat(err, f, v, "early_terminate.type: '%s' is not a W&B type: write it under "
                 "hpsweep.early_terminate (W&B has hyperband)", s);
  if (strcmp(s, "hyperband") != 0)
    return errat(err, f, v, "early_terminate.type: unknown type '%s' (W&B has hyperband)%s", s,
                 dym(b, sizeof b, tr_closest(s, types)));
  memset(et, 0, sizeof *et);
  et->line = e->line;
  et->col = e->col;
  et->enabled = 1;
  et->type = SW_ET_WANDB;
  et->eta = 3;
  et->strict = 1;
  if ((v = tr_yaml_get(e, "min_iter")) &&
      (rc = want_int(f, "early_terminate.min_iter", v, 1, INT64_MAX, &et->min_iter, err)))
    return rc;
  if ((v = tr_yaml_get(e, "max_iter")) &&
      (rc = want_int(f, "early_terminate.max_iter", v, 1, INT64_MAX, &et->max_iter, err)))
    return rc;
  if ((v = tr_yaml_get(e, "s"))) {
    if ((rc = tr_yaml_double(v, f, "early_terminate.s", &et->s, err))) return rc;
    if (et->s <= 0) return errat(err, f, v, "early_terminate.s: must be > 0, got %g", et->s);
    if (et->s != floor(et->s) || et->s > 1000) /* W&B runs range(s): a float fails there */
      return errat(err, f, v, "early_terminate.s: must be a whole number of bands (at most 1000), got %g", et->s);
  }
  if ((v = tr_yaml_get(e, "eta"))) {
    if ((rc = tr_yaml_double(v, f, "early_terminate.eta", &et->eta, err))) return rc;
    if (!(et->eta > 1)) return errat(err, f, v, "early_terminate.eta: must be > 1, got %g", et->eta);
  }
  if ((v = tr_yaml_get(e, "strict"))) {
    if ((rc = tr_yaml_bool(v, f, "early_terminate.strict", &et->strict, err))) return rc;
    et->strict_given = 1;
  }
  if (!et->min_iter && !(et->max_iter && et->s > 0))
    return errat(err, f, e, "early_terminate: hyperband needs min_iter, or max_iter and s");
  if (et->max_iter && !(et->s > 0)) /* W&B takes max_iter over min_iter, and then needs s */
    return errat(err, f, tr_yaml_get(e, "max_iter"), "early_terminate: max_iter needs s (W&B uses max_iter "
                 "over min_iter when both are given)");
  if (et->min_iter && et->max_iter && et->min_iter > et->max_iter)
    return errat(err, f, tr_yaml_get(e, "min_iter"), "early_terminate: min_iter %lld > max_iter %lld",
                 (long long)et->min_iter, (long long)et->max_iter);
  return TR_OK;
}

/* hpsweep.early_terminate's keys, per type. */
static const char *const et_types[] = {"asha", "median", "hyperband", NULL};
static const char *const et_asha_keys[] = {"type", "grace_period", "min_t", "max_t", "reduction_factor",
                                           "brackets", "promotions", NULL};
static const char *const et_hb_keys[] = {"type", "grace_period", "min_t", "max_t", "reduction_factor", NULL};
static const char *const et_median_keys[] = {"type", "n_startup_trials", "n_warmup_steps", "interval_steps",
                                             NULL};

/* grace_period (or min_t), max_t, reduction_factor: ASHA's and hyperband brackets' ladder. */
static int parse_et_ladder(SwSpec *S, const TrYamlNode *e, SwEarlyTerminate *et, TrErr *err) {
  const char *f = S->path;
  const TrYamlNode *g = tr_yaml_get(e, "grace_period"), *m = tr_yaml_get(e, "min_t"), *v;
  int64_t x;
  int rc;
  if (g && m) return errat(err, f, m, "hpsweep.early_terminate: min_t is another name for grace_period: keep one");
  if (!g && !(g = m))
    return errat(err, f, e, "hpsweep.early_terminate: missing 'grace_period' (the first rung, in steps)");
  if ((rc = want_int(f, "hpsweep.early_terminate.grace_period", g, 1, INT64_MAX, &et->grace_period, err))) return rc;
  if ((v = tr_yaml_get(e, "max_t"))) {
    if ((rc = want_int(f, "hpsweep.early_terminate.max_t", v, 1, INT64_MAX, &et->max_t, err))) return rc;
    S->et_max_t_given = 1;
    if (et->grace_period > et->max_t)
      return errat(err, f, g, "hpsweep.early_terminate: grace_period %lld > max_t %lld",
                   (long long)et->grace_period, (long long)et->max_t);
  } else if (S->program) {
    return errat(err, f, e, "hpsweep.early_terminate: missing 'max_t' (the steps a program's trial runs to)");
  }
  if ((v = tr_yaml_get(e, "reduction_factor"))) {
    if ((rc = tr_yaml_int64(v, f, "hpsweep.early_terminate.reduction_factor", &x, err))) return rc;
    if (x <= 1) return errat(err, f, v, "hpsweep.early_terminate.reduction_factor: must be > 1, got %lld", (long long)x);
    if (x > 1000) return errat(err, f, v, "hpsweep.early_terminate.reduction_factor: %lld is more than 1000", (long long)x);
    et->eta = (double)x;
  }
  return TR_OK;
}

/* map.key into *out if given (checked against [lo, hi]); "hpsweep.early_terminate." names it. */
static int opt_et_int(const char *f, const TrYamlNode *map, const char *key, int64_t lo, int64_t *out, TrErr *err) {
  char name[96];
  const TrYamlNode *v = tr_yaml_get(map, key);
  snprintf(name, sizeof name, "hpsweep.early_terminate.%s", key);
  return v ? want_int(f, name, v, lo, INT64_MAX, out, err) : TR_OK;
}

static int parse_et_median(SwSpec *S, const TrYamlNode *e, SwEarlyTerminate *et, TrErr *err) {
  int rc;
  if ((rc = opt_et_int(S->path, e, "n_startup_trials", 0, &et->n_startup_trials, err)) ||
      (rc = opt_et_int(S->path, e, "n_warmup_steps", 0, &et->n_warmup_steps, err)) ||
      (rc = opt_et_int(S->path, e, "interval_steps", 1, &et->interval_steps, err)))
    return rc;
  return TR_OK;
}

/* hpsweep.early_terminate: asha, median or hyperband (brackets) into *et. */
static int parse_hps_et(SwSpec *S, const TrYamlNode *e, SwEarlyTerminate *et, TrErr *err) {
  const char *f = S->path, *s = NULL;
  char b[160];
  int rc;
  if ((rc = want_map(f, "hpsweep.early_terminate", e, err))) return rc;
  const TrYamlNode *v = tr_yaml_get(e, "type");
  if (!v) return errat(err, f, e, "hpsweep.early_terminate: missing 'type' (asha, median or hyperband)");
  if ((rc = want_string(f, "hpsweep.early_terminate.type", v, &s, err))) return rc;
  const char *const *keys = !strcmp(s, "asha") ? et_asha_keys : !strcmp(s, "median") ? et_median_keys
                          : !strcmp(s, "hyperband") ? et_hb_keys : NULL;
  if (!keys)
    return errat(err, f, v, "hpsweep.early_terminate.type: unknown type '%s' (expected asha, median or "
                 "hyperband)%s", s, dym(b, sizeof b, tr_closest(s, et_types)));
  for (int i = 0; i < e->n; i++)
    if (!in_list(e->keys[i]->str, keys)) {
      char where[64];
      snprintf(where, sizeof where, "hpsweep.early_terminate (type %s)", s);
      return unknown_key(err, f, e->keys[i], where, keys);
    }
  *et = (SwEarlyTerminate){.enabled = 1, .line = e->line, .col = e->col, .eta = 3, .strict = 1,
                           .brackets = 1, .promotions = 1, .n_startup_trials = 5, .interval_steps = 1};
  if (keys == et_median_keys) {
    et->type = SW_ET_MEDIAN;
    return parse_et_median(S, e, et, err);
  }
  et->type = keys == et_asha_keys ? SW_ET_ASHA : SW_ET_HYPERBAND;
  if ((rc = parse_et_ladder(S, e, et, err))) return rc;
  if (et->type != SW_ET_ASHA) {
    et->promotions = 0;
    return TR_OK;
  }
  int64_t x;
  if ((v = tr_yaml_get(e, "brackets"))) {
    if ((rc = want_int(f, "hpsweep.early_terminate.brackets", v, 1, 64, &x, err))) return rc;
    et->brackets = (int)x;
  }
  if ((v = tr_yaml_get(e, "promotions")) &&
      (rc = tr_yaml_bool(v, f, "hpsweep.early_terminate.promotions", &et->promotions, err)))
    return rc;
  return TR_OK;
}

/* Both blocks: ours wins (W&B ignores it, so the spec stays W&B-valid); W&B's is still
** checked, and an unset strict gets its notice (W&B's schema and docs disagree). */
static int spec_early_terminate(SwSpec *S, const TrYamlNode *root, TrErr *err) {
  const TrYamlNode *w = tr_yaml_get(root, "early_terminate");
  const TrYamlNode *h = tr_yaml_get(tr_yaml_get(root, "hpsweep"), "early_terminate");
  SwEarlyTerminate wandb;
  int rc;
  if (w && (rc = parse_early_terminate(S, w, &wandb, err))) return rc;
  if (h) {
    if ((rc = parse_hps_et(S, h, &S->et, err))) return rc;
    S->et_ours = 1;
    if (w && (rc = notice(S, h, "notice: hpsweep.early_terminate (%s) wins over W&B's early_terminate "
                          "(hyperband), which hpsweep ignores here", sw_et_type_name(S->et.type))))
      return tr_err_set(err, rc, "out of memory");
    return TR_OK;
  }
  if (!w) return TR_OK;
  S->et = wandb;
  if (!wandb.strict_given &&
      (rc = notice(S, w, "notice: early_terminate.strict not given: true (W&B's schema default: a trial is "
                   "judged by its value at the band; W&B's docs say false, which judges its best so far); "
                   "write strict: true or false to choose")))
    return tr_err_set(err, rc, "out of memory");
  return TR_OK;
}

/* ---- early termination against the trainer's steps ------------------------ */

/* Steps between two values of the sweep metric in config c: val_loss (and gns) at
** every eval_interval, the others at every log_interval. */
static int64_t metric_unit(const SwSpec *S, const TrConfig *c) {
  if (!strcmp(S->metric, "val_loss") || !strcmp(S->metric, "gns")) return c->train.eval_interval;
  return c->train.log_interval;
}

int64_t sw_spec_metric_every(const SwSpec *S, const TrConfig *c) {
  return S->program || S->task == SW_TASK_SAMPLE ? 0 : metric_unit(S, c);
}

static const char *metric_unit_key(const SwSpec *S) {
  return !strcmp(S->metric, "val_loss") || !strcmp(S->metric, "gns") ? "train.eval_interval"
                                                                       : "train.log_interval";
}

int sw_spec_et_check_config(const SwSpec *S, const TrConfig *c, TrErr *err) {
  const SwEarlyTerminate *et = &S->et;
  if (!et->enabled || S->program || S->task == SW_TASK_SAMPLE) return TR_OK;
  int64_t unit = metric_unit(S, c), total = tr_config_total_steps(c);
  const char *uk = metric_unit_key(S);
  if (et->type == SW_ET_WANDB) return TR_OK; /* bands count values, whatever their steps */
  if (total <= 0)
    return tr_err_set(err, TR_EINVAL, "hpsweep.early_terminate: the trainer's budget is time-only "
                      "(train.max_seconds): set train.max_steps so rungs are steps");
  if (et->type == SW_ET_MEDIAN) {
    if (et->n_warmup_steps % unit)
      return tr_err_set(err, TR_EINVAL, "hpsweep.early_terminate.n_warmup_steps %lld is not a multiple of %s "
                        "%lld: %s is logged every %lld steps", (long long)et->n_warmup_steps, uk,
                        (long long)unit, S->metric, (long long)unit);
    if (et->interval_steps > 1 && et->interval_steps % unit)
      return tr_err_set(err, TR_EINVAL, "hpsweep.early_terminate.interval_steps %lld is not a multiple of %s "
                        "%lld: %s is logged every %lld steps", (long long)et->interval_steps, uk,
                        (long long)unit, S->metric, (long long)unit);
    return TR_OK;
  }
  if (et->max_t > total)
    return tr_err_set(err, TR_EINVAL, "hpsweep.early_terminate.max_t %lld is more than the %lld steps a trial "
                      "trains", (long long)et->max_t, (long long)total);
  for (int b = 0; b < sw_prune_brackets(et); b++) {
    int64_t r[64];
    size_t n = sw_prune_levels(et, b, r, 64);
    for (size_t i = 0; i < n; i++)
      if (r[i] % unit)
        return tr_err_set(err, TR_EINVAL, "hpsweep.early_terminate: rung %lld%s is not a multiple of %s %lld: "
                          "%s is never logged there", (long long)r[i], b ? " (of a higher bracket)" : "", uk,
                          (long long)unit, S->metric);
  }
  return TR_OK;
}

/* Keys whose swept values change the trainer's steps or logging: then every trial is checked. */
int sw_spec_et_varies(const SwSpec *S) {
  static const char *const keys[] = {"train.eval_interval", "train.log_interval", "train.max_steps",
                                     "train.max_tokens", "train.batch_size", "model.block_size", NULL};
  if (!S->et.enabled || S->program) return 0;
  for (size_t i = 0; i < S->n_params; i++)
    if (in_list(S->params[i].key->name, keys)) return 1;
  return 0;
}

/* W&B's bands count values: legal past the end of a run, but then nothing is ever stopped. */
static int et_bands_notice(SwSpec *S, const TrYamlNode *at) {
  int64_t band, unit = metric_unit(S, &S->base), total = tr_config_total_steps(&S->base);
  if (total <= 0 || unit <= 0 || sw_prune_levels(&S->et, 0, &band, 1) == 0) return TR_OK;
  int64_t values = (total + unit - 1) / unit; /* the last step logs too */
  if (band <= values) return TR_OK;
  return notice(S, at, "warning: early_terminate: a trial logs %lld value%s of %s (every %s %lld of %lld "
                "steps): the first band, %lld, never applies and nothing is stopped", (long long)values,
                values == 1 ? "" : "s", S->metric, metric_unit_key(S), (long long)unit, (long long)total,
                (long long)band);
}

/* After the parameters: max_t's default (the trainer's steps), the base's units when no
** parameter changes them (else sw_expand checks each trial), promotions over programs. */
static int et_check_spec(SwSpec *S, TrErr *err) {
  SwEarlyTerminate *et = &S->et;
  const TrYamlNode *at = NULL;
  TrErr e;
  int rc;
  if (!et->enabled) return TR_OK;
  at = S->et_ours ? tr_yaml_get(tr_yaml_get(S->doc->root, "hpsweep"), "early_terminate")
                  : tr_yaml_get(S->doc->root, "early_terminate");
  if (et->type == SW_ET_ASHA && et->promotions && S->program && !S->program_resumes)
    return errat(err, S->path, at, "hpsweep.early_terminate: ASHA with promotions pauses trials and resumes "
                 "them later: the program must resume from its checkpoint in HPSWEEP_RUN_DIR; declare it "
                 "with hpsweep.program_resumes: true, or set promotions: false");
  if ((et->type == SW_ET_ASHA || et->type == SW_ET_HYPERBAND) && !S->et_max_t_given && !S->program) {
    if (sw_spec_et_varies(S))
      return errat(err, S->path, at, "hpsweep.early_terminate: missing 'max_t': the parameters change how "
                   "many steps a trial trains");
    et->max_t = tr_config_total_steps(&S->base);
    if (et->max_t <= 0)
      return errat(err, S->path, at, "hpsweep.early_terminate: missing 'max_t' (the base config's budget is "
                   "time-only)");
    if (et->grace_period > et->max_t)
      return errat(err, S->path, at, "hpsweep.early_terminate: grace_period %lld > max_t %lld (train.steps)",
                   (long long)et->grace_period, (long long)et->max_t);
  }
  if (sw_spec_et_varies(S) || S->task == SW_TASK_SAMPLE || S->program) return TR_OK;
  if (et->type == SW_ET_WANDB && (rc = et_bands_notice(S, at))) return tr_err_set(err, rc, "out of memory");
  tr_err_clear(&e);
  if ((rc = sw_spec_et_check_config(S, &S->base, &e))) return errat(err, S->path, at, "%s", e.msg);
  return TR_OK;
}

/* ---- parameters ---------------------------------------------------------- */

static const char *const param_keys[] = {"value", "values", "probabilities", "distribution", "min",
                                         "max", "q", "mu", "sigma", "parameters", NULL};

/* The first registry key inside section `name` ("optimizer" -> "optimizer.name"), or NULL. */
static const char *section_key(const char *name) {
  size_t n, len = strlen(name);
  const TrKey *keys = tr_config_keys(&n);
  for (size_t i = 0; i < n; i++)
    if (strncmp(keys[i].name, name, len) == 0 && keys[i].name[len] == '.') return keys[i].name;
  return NULL;
}

static int key_is_int(const TrKey *k) { return k->type == TR_KEY_INT || k->type == TR_KEY_I64; }
static int key_is_numeric(const TrKey *k) { return key_is_int(k) || k->type == TR_KEY_FLOAT; }
static int is_integral(double x) { return isfinite(x) && x == floor(x) && fabs(x) < 9.0e15; }

/* A number argument (min, max, q, mu, sigma). */
static int num_arg(const char *f, const char *pname, const char *arg, const TrYamlNode *v, double *out,
                   TrErr *err) {
  char key[256];
  snprintf(key, sizeof key, "%s.%s", pname, arg);
  return tr_yaml_double(v, f, key, out, err);
}

/* The nodes of one parameter's mapping, NULL where a key is absent. */
typedef struct ParamArgs {
  const TrYamlNode *value, *values, *probs, *dist, *mn, *mx, *q, *mu, *sigma;
} ParamArgs;

/* The parameter's mapping: no unknown key; its argument nodes into A. */
static int param_args_get(const SwSpec *S, const char *pn, const TrYamlNode *v, ParamArgs *A, TrErr *err) {
  const char *f = S->path;
  char b[160];
  if (v->kind != TR_YAML_MAP)
    return errat(err, f, v,
                 "parameter '%s': expected a mapping with value, values or distribution, got %s", pn,
                 v->kind == TR_YAML_SCALAR ? "a scalar (write `value: X`)" : tr_yaml_kind_name(v->kind));
  for (int i = 0; i < v->n; i++)
    if (!in_list(v->keys[i]->str, param_keys)) {
      return errat(err, f, v->keys[i], "parameter '%s': unknown key '%s'%s; valid keys: value, values, "
                   "probabilities, distribution, min, max, q, mu, sigma, parameters",
                   pn, v->keys[i]->str, dym(b, sizeof b, tr_closest(v->keys[i]->str, param_keys)));
    }
  *A = (ParamArgs){tr_yaml_get(v, "value"), tr_yaml_get(v, "values"), tr_yaml_get(v, "probabilities"),
                   tr_yaml_get(v, "distribution"), tr_yaml_get(v, "min"), tr_yaml_get(v, "max"),
                   tr_yaml_get(v, "q"), tr_yaml_get(v, "mu"), tr_yaml_get(v, "sigma")};
  return TR_OK;
}

/* The distribution: named, or implied by the arguments given (W&B's rules). */
/* A YAML integer literal: an optional sign and decimal digits ("2.0" and "1e3" are floats). */
static int int_literal(const char *s) {
  if (*s == '-' || *s == '+') s++;
  if (!*s) return 0;
  for (; *s; s++)
    if (*s < '0' || *s > '9') return 0;
  return 1;
}

static int param_dist_choose(SwSpec *S, const char *pn, const TrYamlNode *kn, const ParamArgs *A, SwDist *out,
                             TrErr *err) {
  const char *f = S->path;
  char b[160];
  int rc;
  if (A->dist) {
    const char *s = NULL;
    if ((rc = want_string(f, "distribution", A->dist, &s, err))) return rc;
    int d = -1;
    for (int i = 0; dist_names[i]; i++)
      if (strcmp(s, dist_names[i]) == 0) d = i;
    if (strcmp(s, "categorical_w_probabilities") == 0) d = SW_DIST_CATEGORICAL;
    if (d < 0) {
      if (!strcmp(s, "beta") || !strcmp(s, "q_beta") || !strcmp(s, "inv_log_uniform") ||
          !strcmp(s, "inv_log_uniform_values"))
        return errat(err, f, A->dist, "parameter '%s': distribution '%s' is not supported", pn, s);
      return errat(err, f, A->dist, "parameter '%s': unknown distribution '%s'%s", pn, s,
                   dym(b, sizeof b, tr_closest(s, dist_names)));
    }
    *out = (SwDist)d;
  } else if (A->value) {
    *out = SW_DIST_CONSTANT;
  } else if (A->values) {
    *out = SW_DIST_CATEGORICAL;
  } else if (A->mn && A->mx) {
    /* W&B: integer bounds mean int_uniform, otherwise uniform. By the YAML type, as W&B
    ** reads it: `min: 0.0` is a float, so uniform, though its value is whole. */
    int ints = A->mn->kind == TR_YAML_SCALAR && A->mx->kind == TR_YAML_SCALAR && A->mn->plain && A->mx->plain &&
               int_literal(A->mn->str) && int_literal(A->mx->str);
    *out = ints ? SW_DIST_INT_UNIFORM : SW_DIST_UNIFORM;
  } else if (A->mu || A->sigma) {
    *out = SW_DIST_NORMAL;
    if ((rc = notice(S, kn, "notice: parameter '%s': mu/sigma without distribution taken as normal "
                            "(W&B needs `distribution: normal`)", pn)))
      return tr_err_set(err, rc, "out of memory");
  } else if (A->mn || A->mx) {
    return errat(err, f, A->mn ? A->mn : A->mx, "parameter '%s': '%s' needs '%s' too", pn, A->mn ? "min" : "max",
                 A->mn ? "max" : "min");
  } else {
    return errat(err, f, kn, "parameter '%s': needs value, values, or a distribution with its arguments", pn);
  }
  return TR_OK;
}

/* W&B's schema: each distribution takes exactly its own arguments, all of them, on a key it fits. */
static int param_args_check(const SwSpec *S, const TrKey *key, const TrYamlNode *kn, const TrYamlNode *v,
                            const ParamArgs *A, SwDist d, TrErr *err) {
  const char *f = S->path, *pn = key->name;
  for (int i = 0; i < v->n; i++) {
    const char *k = v->keys[i]->str;
    int ok = !strcmp(k, "distribution") ||
             (d == SW_DIST_CONSTANT && !strcmp(k, "value")) ||
             (d == SW_DIST_CATEGORICAL && (!strcmp(k, "values") || !strcmp(k, "probabilities"))) ||
             (dist_is_minmax(d) && (!strcmp(k, "min") || !strcmp(k, "max"))) ||
             (dist_is_musigma(d) && (!strcmp(k, "mu") || !strcmp(k, "sigma"))) ||
             (dist_is_q(d) && !strcmp(k, "q"));
    if (!ok)
      return errat(err, f, v->keys[i], "parameter '%s': '%s' does not apply to distribution '%s'", pn, k,
                   sw_dist_name(d));
  }
  if (d == SW_DIST_CONSTANT && !A->value)
    return errat(err, f, kn, "parameter '%s': distribution constant needs 'value'", pn);
  if (d == SW_DIST_CATEGORICAL && !A->values)
    return errat(err, f, kn, "parameter '%s': distribution categorical needs 'values'", pn);
  if (dist_is_minmax(d) && (!A->mn || !A->mx))
    return errat(err, f, kn, "parameter '%s': distribution %s needs '%s'", pn, sw_dist_name(d),
                 A->mn ? "max" : "min");
  if (d != SW_DIST_CONSTANT && d != SW_DIST_CATEGORICAL && !key_is_numeric(key))
    return errat(err, f, A->dist ? A->dist : kn, "parameter '%s': distribution %s needs a numeric key; '%s' "
                 "takes %s: use values", pn, sw_dist_name(d), pn,
                 key->type == TR_KEY_ENUM ? key->choices : "a non-number");
  return TR_OK;
}

/* Categorical probabilities: one per value, none negative, summing to 1. */
static int param_probs_parse(SwSpec *S, SwParam *P, const TrYamlNode *probs, TrErr *err) {
  const char *f = S->path, *pn = P->key->name;
  int rc, n = P->n_values;
  if (probs->kind != TR_YAML_SEQ)
    return errat(err, f, probs, "parameter '%s': probabilities: expected a list, got %s", pn,
                 tr_yaml_kind_name(probs->kind));
  if (probs->n != n) return errat(err, f, probs, "parameter '%s': %d probabilities for %d values", pn, probs->n, n);
  if (!(P->probs = tr_malloc((size_t)n * sizeof *P->probs))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  double sum = 0;
  for (int i = 0; i < n; i++) {
    if ((rc = num_arg(f, pn, "probabilities", probs->items[i], &P->probs[i], err))) return rc;
    if (P->probs[i] < 0)
      return errat(err, f, probs->items[i], "parameter '%s': probability %g is negative", pn, P->probs[i]);
    sum += P->probs[i];
  }
  if (fabs(sum - 1.0) > 1e-6) return errat(err, f, probs, "parameter '%s': probabilities sum to %.9g, not 1", pn, sum);
  if (S->method == SW_METHOD_GRID &&
      (rc = notice(S, probs, "notice: parameter '%s': probabilities are ignored by grid search", pn)))
    return tr_err_set(err, rc, "out of memory");
  return TR_OK;
}

/* Constant and categorical: each value must be a valid value of the key (judged on a
** scratch copy of the base). P->values and P->probs are P's even on failure. */
static int param_values_parse(SwSpec *S, SwParam *P, const ParamArgs *A, TrErr *err) {
  const char *f = S->path, *pn = P->key->name;
  const TrYamlNode *const *items = &A->value;
  int rc, n = 1;
  if (P->dist == SW_DIST_CATEGORICAL) {
    if (A->values->kind != TR_YAML_SEQ)
      return errat(err, f, A->values, "parameter '%s': values: expected a list, got %s", pn,
                   tr_yaml_kind_name(A->values->kind));
    if (A->values->n == 0) return errat(err, f, A->values, "parameter '%s': values is empty", pn);
    items = (const TrYamlNode *const *)A->values->items;
    n = A->values->n;
  }
  P->values = tr_malloc((size_t)n * sizeof *P->values);
  if (!P->values) return tr_err_set(err, TR_ENOMEM, "out of memory");
  P->n_values = n;
  for (int i = 0; i < n; i++) {
    TrConfig tmp = S->base;
    if (!S->program && key_is_path(P->key) && items[i]->kind == TR_YAML_SCALAR && !tr_yaml_is_null(items[i])) {
      /* The spec owns its tree: the value becomes the resolved path every trial uses. */
      TrYamlNode *node = (TrYamlNode *)items[i];
      char *r = resolve_key(S, node->str);
      if (!r) return tr_err_set(err, TR_ENOMEM, "out of memory");
      free(node->str);
      node->str = r;
    }
    P->values[i] = items[i];
    if (S->program && tr_yaml_is_null(items[i]))
      return errat(err, f, items[i], "parameter '%s': null is not a value (W&B's agent refuses it)", pn);
    if (!S->program && (rc = tr_config_set_node(&tmp, P->key, items[i], f, err))) return rc;
  }
  P->n_grid = (uint64_t)n;
  return A->probs ? param_probs_parse(S, P, A->probs, err) : TR_OK;
}

/* The numeric arguments of a min/max or mu/sigma distribution, read and checked. */
static int param_range_args(SwSpec *S, SwParam *P, const TrYamlNode *kn, const ParamArgs *A, TrErr *err) {
  const char *f = S->path, *pn = P->key->name;
  int rc;
  if (A->mn && (rc = num_arg(f, pn, "min", A->mn, &P->min, err))) return rc;
  if (A->mx && (rc = num_arg(f, pn, "max", A->mx, &P->max, err))) return rc;
  if (A->mu && (rc = num_arg(f, pn, "mu", A->mu, &P->mu, err))) return rc;
  if (A->sigma && (rc = num_arg(f, pn, "sigma", A->sigma, &P->sigma, err))) return rc;
  if (dist_is_q(P->dist)) {
    P->q = 1;
    if (A->q && (rc = num_arg(f, pn, "q", A->q, &P->q, err))) return rc;
    if (!(P->q > 0)) return errat(err, f, A->q, "parameter '%s': q must be > 0, got %g", pn, P->q);
  }
  if (P->dist == SW_DIST_INT_UNIFORM) {
    if ((rc = tr_yaml_int64(A->mn, f, "min", &P->imin, err)) || (rc = tr_yaml_int64(A->mx, f, "max", &P->imax, err)))
      return tr_err_prefix(err, "parameter '%s': int_uniform bounds must be integers", pn);
  }
  if (dist_is_minmax(P->dist) && P->min > P->max)
    return errat(err, f, A->mn, "parameter '%s': min %g > max %g", pn, P->min, P->max);
  if (A->sigma && P->sigma < 0) return errat(err, f, A->sigma, "parameter '%s': sigma %g < 0", pn, P->sigma);
  if ((P->dist == SW_DIST_LOG_UNIFORM_VALUES || P->dist == SW_DIST_Q_LOG_UNIFORM_VALUES) && !(P->min > 0))
    return errat(err, f, A->mn, "parameter '%s': %s needs min > 0, got %g", pn, sw_dist_name(P->dist), P->min);
  if (P->dist == SW_DIST_LOG_UNIFORM || P->dist == SW_DIST_Q_LOG_UNIFORM) {
    if (P->max > 700)
      return errat(err, f, A->mx, "parameter '%s': %s bounds are natural-log exponents; exp(%g) overflows",
                   pn, sw_dist_name(P->dist), P->max);
    if ((P->min > 0 && P->max < 1) || P->max > 20)
      if ((rc = notice(S, kn, "warning: parameter '%s': %s bounds are exponents (values from exp(%g) "
                              "to exp(%g)); for bounds given as values use log_uniform_values",
                       pn, sw_dist_name(P->dist), P->min, P->max)))
        return tr_err_set(err, rc, "out of memory");
  }
  if ((P->dist == SW_DIST_LOG_NORMAL || P->dist == SW_DIST_Q_LOG_NORMAL) && P->mu + 10 * P->sigma > 700)
    return errat(err, f, A->mu ? A->mu : A->sigma, "parameter '%s': %s with mu %g, sigma %g overflows", pn,
                 sw_dist_name(P->dist), P->mu, P->sigma);
  return TR_OK;
}

/* A numeric distribution: its arguments, that the key can take what it draws, its grid points. */
static int param_range_parse(SwSpec *S, SwParam *P, const TrYamlNode *kn, const ParamArgs *A, TrErr *err) {
  const char *f = S->path, *pn = P->key->name;
  const TrKey *key = P->key;
  int rc;
  if ((rc = param_range_args(S, P, kn, A, err))) return rc;
  if (key_is_int(key)) {
    int ok = P->dist == SW_DIST_INT_UNIFORM || (dist_is_q(P->dist) && is_integral(P->q));
    if (!ok)
      return errat(err, f, A->q && dist_is_q(P->dist) ? A->q : (A->dist ? A->dist : kn),
                   "parameter '%s' is an integer key: %s gives fractions; use int_uniform or a q_ "
                   "distribution with an integer q", pn, sw_dist_name(P->dist));
  }
  /* Ranges the key cannot take are caught now rather than on some random draw. */
  if (dist_is_minmax(P->dist) && key->min < key->max) {
    double lo = P->min, hi = P->max;
    if (P->dist == SW_DIST_LOG_UNIFORM || P->dist == SW_DIST_Q_LOG_UNIFORM) lo = exp(lo), hi = exp(hi);
    if (lo < key->min || hi > key->max)
      return errat(err, f, lo < key->min ? A->mn : A->mx, "parameter '%s': range [%g, %g] leaves the key's "
                   "range [%g, %g]", pn, lo, hi, key->min, key->max);
  }
  /* Grid points of the discrete numeric distributions. */
  if (P->dist == SW_DIST_INT_UNIFORM) {
    uint64_t span = (uint64_t)P->imax - (uint64_t)P->imin;
    P->n_grid = span == UINT64_MAX ? UINT64_MAX : span + 1;
  } else if (P->dist == SW_DIST_Q_UNIFORM) {
    /* As sampled: round(x / q) * q for x in [min, max]. */
    double k0 = round(P->min / P->q), k1 = round(P->max / P->q);
    if (fabs(k0) > 9e15 || fabs(k1) > 9e15)
      return errat(err, f, A->q ? A->q : kn, "parameter '%s': q %g is too small for [%g, %g]", pn, P->q,
                   P->min, P->max);
    P->imin = (int64_t)k0;
    P->imax = (int64_t)k1;
    P->n_grid = (uint64_t)(P->imax - P->imin) + 1;
  }
  return TR_OK;
}

/* One parameter: choose the distribution, check its arguments, parse values or range, append. */
static int parse_param(SwSpec *S, const TrKey *key, const TrYamlNode *kn, const TrYamlNode *v,
                       TrErr *err) {
  const char *f = S->path, *pn = key->name;
  ParamArgs A = {0};
  SwParam P;
  int rc;
  if ((rc = param_args_get(S, pn, v, &A, err))) return rc;
  memset(&P, 0, sizeof P);
  P.key = key;
  P.line = kn->line;
  P.col = kn->col;
  P.sigma = 1;
  if ((rc = param_dist_choose(S, pn, kn, &A, &P.dist, err))) return rc;
  if ((rc = param_args_check(S, key, kn, v, &A, P.dist, err))) return rc;
  if (P.dist == SW_DIST_CONSTANT || P.dist == SW_DIST_CATEGORICAL)
    rc = param_values_parse(S, &P, &A, err);
  else
    rc = param_range_parse(S, &P, kn, &A, err);
  if (rc) goto fail;
  if (S->method == SW_METHOD_GRID && P.n_grid == 0) {
    rc = errat(err, f, A.dist ? A.dist : kn, "parameter '%s': grid search needs discrete values, and "
               "distribution %s is continuous (use values, int_uniform or q_uniform, or method: random)",
               pn, sw_dist_name(P.dist));
    goto fail;
  }
  if (S->n_params == S->cap_params) {
    size_t cap = S->cap_params ? 2 * S->cap_params : 8;
    SwParam *p = tr_realloc(S->params, cap * sizeof *p);
    if (!p) {
      rc = tr_err_set(err, TR_ENOMEM, "out of memory");
      goto fail;
    }
    S->params = p;
    S->cap_params = cap;
  }
  S->params[S->n_params++] = P;
  return TR_OK;
fail:
  free(P.values);
  free(P.probs);
  return rc;
}

/* A program's parameter as a key of its own (owned by the spec): any name, any
** value; numeric so every distribution applies, and no range. NULL: out of memory. */
static const TrKey *program_key(SwSpec *S, const char *name) {
  TrKey **pk = tr_realloc(S->pkeys, (S->n_pkeys + 1) * sizeof *pk);
  if (!pk) return NULL;
  S->pkeys = pk;
  TrKey *k = tr_calloc(1, sizeof *k);
  char *nm = tr_strdup(name);
  if (!k || !nm) {
    free(k);
    free(nm);
    return NULL;
  }
  k->name = nm;
  k->type = TR_KEY_FLOAT;
  k->doc = "a parameter of the program";
  S->pkeys[S->n_pkeys++] = k;
  return k;
}

static int parse_params(SwSpec *S, const TrYamlNode *map, const char *prefix, int depth, TrErr *err) {
  const char *f = S->path;
  char b[200];
  if (map->n == 0) return errat(err, f, map, "parameters: empty (name at least one training key)");
  for (int i = 0; i < map->n; i++) {
    const TrYamlNode *k = map->keys[i], *v = map->items[i];
    char full[256];
    int len = prefix ? snprintf(full, sizeof full, "%s.%s", prefix, k->str)
                     : snprintf(full, sizeof full, "%s", k->str);
    if (len < 0 || (size_t)len >= sizeof full || k->str[0] == '\0')
      return errat(err, f, k, "parameter name '%.60s' is not a training key", k->str);
    int rc;
    if (v->kind == TR_YAML_MAP && map_index(v, "parameters") >= 0) {
      /* W&B nested syntax: `optimizer: {parameters: {lr: ...}}` addresses optimizer.lr. */
      const TrYamlNode *sub = tr_yaml_get(v, "parameters");
      if (v->n != 1) {
        int j = map_index(v, "parameters") == 0 ? 1 : 0;
        return errat(err, f, v->keys[j], "parameter '%s': a nested block takes only 'parameters', not '%s'",
                     full, v->keys[j]->str);
      }
      if (depth >= 8) return errat(err, f, k, "parameter '%s': nested too deeply", full);
      if ((rc = want_map(f, "parameters", sub, err))) return rc;
      if ((rc = parse_params(S, sub, full, depth + 1, err))) return rc;
      continue;
    }
    const TrKey *key = S->program ? program_key(S, full) : tr_config_key_find(full);
    if (!key && S->program) return tr_err_set(err, TR_ENOMEM, "out of memory");
    if (!key) {
      const char *ex = section_key(full);
      if (ex)
        return errat(err, f, k, "parameter '%s' is a section of the training config, not a key: write its "
                     "keys as nested `parameters:` or dotted names (e.g. '%s')", full, ex);
      const char *sug = tr_config_key_suggest(full);
      return errat(err, f, k, "unknown training key '%s'%s", full, sug ? dym(b, sizeof b, sug) : "");
    }
    for (size_t j = 0; j < S->n_params; j++)
      if (S->params[j].key == key || strcmp(S->params[j].key->name, key->name) == 0)
        return errat(err, f, k, "parameter '%s' is given twice (first at %d:%d)", full, S->params[j].line,
                     S->params[j].col);
    if (S->n_seeds && strcmp(key->name, sw_spec_seed_key(S)) == 0)
      return errat(err, f, k, "parameter '%s' is set by hpsweep.seeds: keep one of the two", full);
    if ((rc = parse_param(S, key, k, v, err))) return rc;
  }
  return TR_OK;
}

/* ---- population-based training (hpsweep.pbt) ------------------------------- */

static const char *const pbt_keys[] = {"population", "perturbation_interval", "quantile_fraction",
                                       "resample_probability", "factors", "mutations", NULL};

/* The search space's parameter of key `name`, or NULL. */
static const SwParam *param_find(const SwSpec *S, const char *name) {
  for (size_t i = 0; i < S->n_params; i++)
    if (strcmp(S->params[i].key->name, name) == 0) return &S->params[i];
  return NULL;
}

/* One mutation: a mutable key, its distribution the space's (value null or {}) or its own. */
static int pbt_mutation(SwSpec *S, const TrYamlNode *k, const TrYamlNode *v, SwPbtMutation *m, TrErr *err) {
  const char *f = S->path;
  char list[256], b[160];
  const char *const *mk = tr_ckpt_mutable_keys();
  if (S->program) { /* a program's parameters are its own: any one with a range may mutate */
    const SwParam *pp = param_find(S, k->str);
    if (!pp || !sw_param_modelled(pp) || (v && !tr_yaml_is_null(v) && !(v->kind == TR_YAML_MAP && v->n == 0)))
      return errat(err, f, k, "hpsweep.pbt.mutations: '%s' is not a parameter with a range in `parameters`: a "
                   "program's mutation is one of its parameters, written `%s: {}`", k->str, k->str);
    m->p = *pp;
    return TR_OK;
  }
  if (!in_list(k->str, mk)) {
    const TrKey *key = tr_config_key_find(k->str);
    return errat(err, f, k, "hpsweep.pbt.mutations: '%s' %s; PBT mutates only what a running trial may change: "
                 "%s%s", k->str, key ? "cannot change mid-run (a member copies another's checkpoint, whose "
                 "model shape, batch size and data must stay)" : "is not a training key",
                 join_names(mk, list, sizeof list), key ? "" : dym(b, sizeof b, tr_closest(k->str, mk)));
  }
  const SwParam *sp = param_find(S, k->str);
  if (!v || tr_yaml_is_null(v) || (v->kind == TR_YAML_MAP && v->n == 0)) {
    if (!sp || !sw_param_modelled(sp))
      return errat(err, f, k, "hpsweep.pbt.mutations: '%s' is not a parameter with a range in `parameters`: "
                   "give it one there, or a distribution here (e.g. {distribution: uniform, min: 0, max: 0.2})",
                   k->str);
    m->p = *sp;
    return TR_OK;
  }
  if (sp) return errat(err, f, v, "hpsweep.pbt.mutations: '%s' is a parameter already: its distribution is "
                       "the one mutated (write `%s: {}`)", k->str, k->str);
  int rc = parse_param(S, tr_config_key_find(k->str), k, v, err);
  if (rc) return rc;
  m->p = S->params[--S->n_params]; /* not a parameter of the space: its own */
  m->own = 1;
  if (!sw_param_modelled(&m->p)) return errat(err, f, v, "hpsweep.pbt.mutations: '%s': a constant cannot mutate", k->str);
  return TR_OK;
}

static int pbt_mutations(SwSpec *S, const TrYamlNode *mu, TrErr *err) {
  const char *f = S->path;
  if (mu->kind != TR_YAML_MAP && mu->kind != TR_YAML_SEQ)
    return errat(err, f, mu, "hpsweep.pbt.mutations: expected a mapping (key: {} or a distribution) or a list "
                 "of parameters, got %s", tr_yaml_kind_name(mu->kind));
  if (mu->n == 0) return errat(err, f, mu, "hpsweep.pbt.mutations: empty (name what may change)");
  if (!(S->pbt.mutations = tr_calloc((size_t)mu->n, sizeof *S->pbt.mutations)))
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int i = 0; i < mu->n; i++) {
    const TrYamlNode *k = mu->kind == TR_YAML_MAP ? mu->keys[i] : mu->items[i];
    if (k->kind != TR_YAML_SCALAR) return errat(err, f, k, "hpsweep.pbt.mutations: expected a key name");
    for (size_t j = 0; j < S->pbt.n_mutations; j++)
      if (!strcmp(S->pbt.mutations[j].p.key->name, k->str))
        return errat(err, f, k, "hpsweep.pbt.mutations: '%s' is listed twice", k->str);
    int rc = pbt_mutation(S, k, mu->kind == TR_YAML_MAP ? mu->items[i] : NULL, &S->pbt.mutations[S->pbt.n_mutations],
                          err);
    if (rc) return rc;
    S->pbt.n_mutations++;
  }
  return TR_OK;
}

/* quantile_fraction, resample_probability, factors. */
static int pbt_numbers(SwSpec *S, const TrYamlNode *b, TrErr *err) {
  const char *f = S->path;
  SwPbt *P = &S->pbt;
  const TrYamlNode *v;
  int rc;
  if ((v = tr_yaml_get(b, "quantile_fraction"))) {
    if ((rc = tr_yaml_double(v, f, "hpsweep.pbt.quantile_fraction", &P->quantile, err))) return rc;
    if (!(P->quantile > 0 && P->quantile <= 0.5))
      return errat(err, f, v, "hpsweep.pbt.quantile_fraction: %g is not in (0, 0.5] (the bottom and the top "
                   "quantile must not overlap)", P->quantile);
  }
  if ((v = tr_yaml_get(b, "resample_probability"))) {
    if ((rc = tr_yaml_double(v, f, "hpsweep.pbt.resample_probability", &P->resample, err))) return rc;
    if (!(P->resample >= 0 && P->resample <= 1))
      return errat(err, f, v, "hpsweep.pbt.resample_probability: %g is not in [0, 1]", P->resample);
  }
  if ((v = tr_yaml_get(b, "factors"))) {
    if (v->kind != TR_YAML_SEQ || v->n != 2)
      return errat(err, f, v, "hpsweep.pbt.factors: expected a list of two numbers (default [0.8, 1.2])");
    for (int i = 0; i < 2; i++) {
      if ((rc = tr_yaml_double(v->items[i], f, "hpsweep.pbt.factors", &P->factors[i], err))) return rc;
      if (!(P->factors[i] > 0) || !isfinite(P->factors[i]))
        return errat(err, f, v->items[i], "hpsweep.pbt.factors: %g is not a positive number", P->factors[i]);
    }
  }
  return TR_OK;
}

/* What PBT cannot be combined with, and what must not vary across the population. */
static int pbt_compatible(SwSpec *S, const TrYamlNode *root, const TrYamlNode *b, const TrYamlNode *pk, TrErr *err) {
  const char *f = S->path;
  const TrYamlNode *v;
  if (S->task == SW_TASK_SAMPLE) return errat(err, f, b, "hpsweep.pbt: a task: sample sweep does not train");
  if (S->method != SW_METHOD_RANDOM)
    return errat(err, f, tr_yaml_get(root, "method"), "hpsweep.pbt: the population is drawn as random search "
                 "draws it: write method: random (W&B's spelling of the population's first draw)");
  if (S->n_seeds) return errat(err, f, tr_yaml_get(tr_yaml_get(root, "hpsweep"), "seeds"),
                               "hpsweep.seeds: every PBT member has its own seed; drop seeds");
  if (S->et.enabled)
    return errat(err, f, b, "hpsweep.pbt: early termination does not apply to PBT (its bottom members copy "
                 "the top ones instead): drop early_terminate");
  if (S->run_cap && S->run_cap != S->pbt.population)
    return errat(err, f, tr_yaml_get(root, "run_cap"), "run_cap %lld: a PBT sweep has population %lld "
                 "trials; drop run_cap or make it equal", (long long)S->run_cap, (long long)S->pbt.population);
  if (S->program) return TR_OK; /* its steps are what it reports; it reloads its parameters (program_resumes) */
  for (size_t i = 0; i < S->n_params; i++) {
    const SwParam *p = &S->params[i];
    if (sw_param_modelled(p) && !in_list(p->key->name, tr_ckpt_mutable_keys()))
      return tr_err_set(err, TR_EINVAL, "%s:%d:%d: parameter '%s' varies across the PBT population, but a "
                        "member copies another's checkpoint: only keys a running trial may change can vary",
                        f, p->line, p->col, p->key->name);
  }
  int64_t total = tr_config_total_steps(&S->base), unit = metric_unit(S, &S->base);
  v = tr_yaml_get(b, "perturbation_interval");
  if (total <= 0 || S->pbt.interval >= total)
    return errat(err, f, v, "hpsweep.pbt.perturbation_interval %lld: must be below the %lld steps a member "
                 "trains (train.max_steps)", (long long)S->pbt.interval, (long long)total);
  if (unit > 0 && S->pbt.interval % unit)
    return errat(err, f, v, "hpsweep.pbt.perturbation_interval %lld is not a multiple of %s %lld: %s is "
                 "never logged there", (long long)S->pbt.interval, metric_unit_key(S), (long long)unit, S->metric);
  (void)pk;
  return TR_OK;
}

static int spec_pbt(SwSpec *S, const TrYamlNode *root, const TrYamlNode *pk, TrErr *err) {
  const TrYamlNode *b = tr_yaml_get(tr_yaml_get(root, "hpsweep"), "pbt"), *v;
  const char *f = S->path;
  SwPbt *P = &S->pbt;
  int rc;
  if (!b) return TR_OK;
  if ((rc = want_map(f, "hpsweep.pbt", b, err))) return rc;
  for (int i = 0; i < b->n; i++)
    if (!in_list(b->keys[i]->str, pbt_keys)) return unknown_key(err, f, b->keys[i], "hpsweep.pbt", pbt_keys);
  if (S->program && !S->program_resumes) /* what a program must do for it (docs/pbt.md "Programs") */
    return errat(err, f, b, "hpsweep.pbt: a program member must checkpoint into HPSWEEP_RUN_DIR, stop at "
                 "HPSWEEP_STOP_STEP and resume reading its parameters again: declare it with "
                 "hpsweep.program_resumes: true");
  P->enabled = 1;
  P->line = b->line;
  P->col = b->col;
  P->quantile = 0.25;
  P->resample = 0.25;
  P->factors[0] = 0.8;
  P->factors[1] = 1.2;
  if (!(v = tr_yaml_get(b, "population"))) return errat(err, f, b, "hpsweep.pbt: missing 'population' (members)");
  if ((rc = want_int(f, "hpsweep.pbt.population", v, 2, 10000, &P->population, err))) return rc;
  if (!(v = tr_yaml_get(b, "perturbation_interval")))
    return errat(err, f, b, "hpsweep.pbt: missing 'perturbation_interval' (steps between two exploit decisions)");
  if ((rc = want_int(f, "hpsweep.pbt.perturbation_interval", v, 1, INT64_MAX, &P->interval, err))) return rc;
  if ((rc = pbt_numbers(S, b, err))) return rc;
  if (!(v = tr_yaml_get(b, "mutations"))) return errat(err, f, b, "hpsweep.pbt: missing 'mutations' (what may change)");
  if ((rc = pbt_mutations(S, v, err))) return rc;
  return pbt_compatible(S, root, b, pk, err);
}

/* ---- the whole spec ------------------------------------------------------ */

/* hpsweep.lr_find sets optimizer.lr of the built-in trainer: not with a program, a sample task,
** or optimizer.lr among the parameters. */
static int spec_lr_find_check(SwSpec *S, TrErr *err) {
  if (!S->has_lrf) return TR_OK;
  const TrYamlNode *at = tr_yaml_get(tr_yaml_get(S->doc->root, "hpsweep"), "lr_find");
  if (S->program)
    return errat(err, S->path, at, "hpsweep.lr_find: the range test trains the built-in model; a spec with a "
                 "program cannot use it");
  if (S->task == SW_TASK_SAMPLE)
    return errat(err, S->path, at, "hpsweep.lr_find: a task: sample sweep trains nothing to range-test");
  for (size_t i = 0; i < S->n_params; i++)
    if (strcmp(S->params[i].key->name, "optimizer.lr") == 0) {
      TrYamlNode where = {.line = S->params[i].line, .col = S->params[i].col};
      return errat(err, S->path, &where, "parameter 'optimizer.lr' and hpsweep.lr_find (line %d) both set the "
                   "learning rate: keep one", at->line);
    }
  return TR_OK;
}

static const char *const top_keys[] = {"name", "description", "method", "metric", "parameters",
                                       "run_cap", "early_terminate", "hpsweep", "program", "command",
                                       "entity", "project", NULL};

static int read_text(const char *path, char **out, TrErr *err) {
  FILE *fp = fopen(path, "rb");
  if (!fp) return tr_err_set(err, TR_EIO, "%s: %s", path, strerror(errno));
  size_t cap = 4096, n = 0;
  char *buf = tr_malloc(cap);
  while (buf) {
    if (n + 1 >= cap) {
      char *p = cap > 2u * TR_YAML_MAX_BYTES ? NULL : tr_realloc(buf, cap * 2);
      if (!p) break;
      buf = p;
      cap *= 2;
    }
    size_t r = fread(buf + n, 1, cap - n - 1, fp);
    n += r;
    if (r == 0) break;
  }
  int bad = ferror(fp);
  fclose(fp);
  if (!buf || bad) {
    free(buf);
    return tr_err_set(err, bad ? TR_EIO : TR_ENOMEM, "%s: %s", path, bad ? "read error" : "out of memory");
  }
  buf[n] = '\0';
  *out = buf;
  return TR_OK;
}

/* The root: a mapping of known keys (W&B's own are noted and ignored). */
static int spec_root_check(SwSpec *S, const TrYamlNode *root, TrErr *err) {
  const char *f = S->path;
  int rc;
  if (!root) return tr_err_set(err, TR_EINVAL, "%s:1:1: empty spec (expected a mapping with method and parameters)", f);
  if (root->kind != TR_YAML_MAP)
    return errat(err, f, root, "the spec must be a mapping (method, parameters, ...), got %s",
                 tr_yaml_kind_name(root->kind));
  for (int i = 0; i < root->n; i++) {
    const TrYamlNode *k = root->keys[i];
    if (!in_list(k->str, top_keys)) return unknown_key(err, f, k, "the spec", top_keys);
    if (!strcmp(k->str, "entity") || !strcmp(k->str, "project"))
      if ((rc = notice(S, k, "notice: '%s' is a W&B key with no meaning for hpsweep: ignored", k->str)))
        return tr_err_set(err, rc, "out of memory");
  }
  return TR_OK;
}

/* method: grid or random. */
static int spec_method(SwSpec *S, const TrYamlNode *root, TrErr *err) {
  const char *f = S->path, *s = NULL;
  const TrYamlNode *v;
  char b[160];
  int rc;
  if (!(v = tr_yaml_get(root, "method"))) return errat(err, f, root, "missing 'method' (grid, random or bayes)");
  if ((rc = want_string(f, "method", v, &s, err))) return rc;
  if (!strcmp(s, "grid"))
    S->method = SW_METHOD_GRID;
  else if (!strcmp(s, "random"))
    S->method = SW_METHOD_RANDOM;
  else if (!strcmp(s, "bayes"))
    S->method = SW_METHOD_BAYES;
  else if (!strcmp(s, "custom"))
    return errat(err, f, v, "method '%s' is not supported (hpsweep runs grid, random and bayes)", s);
  else {
    static const char *const methods[] = {"grid", "random", "bayes", NULL};
    return errat(err, f, v, "unknown method '%s' (expected grid, random or bayes)%s", s,
                 dym(b, sizeof b, tr_closest(s, methods)));
  }
  return TR_OK;
}

/* Method bayes needs something to model; hpsweep.sampler means nothing to other methods. */
static int spec_bayes(SwSpec *S, const TrYamlNode *root, const TrYamlNode *pk, TrErr *err) {
  const TrYamlNode *smp = tr_yaml_get(tr_yaml_get(root, "hpsweep"), "sampler");
  int rc;
  if (S->method != SW_METHOD_BAYES) {
    if (smp && (rc = notice(S, smp, "notice: hpsweep.sampler is used by method bayes only: ignored")))
      return tr_err_set(err, rc, "out of memory");
    return TR_OK;
  }
  for (size_t i = 0; i < S->n_params; i++)
    if (sw_param_modelled(&S->params[i])) return TR_OK;
  if (S->has_lrf && S->lrf.n_factors >= 2) return TR_OK; /* optimizer.lr, once resolved */
  return errat(err, S->path, pk, "bayes search needs a parameter to model (a distribution, or values with 2 or "
               "more entries), and every parameter is a constant");
}

/* A grid's configurations: the overflow-checked product of the grid points, within run_cap
** and the sanity limit (pk: the parameters key, cap: run_cap's node or NULL). */
static int spec_count_grid(SwSpec *S, const TrYamlNode *pk, const TrYamlNode *cap, uint64_t seeds,
                           uint64_t *out, TrErr *err) {
  const char *f = S->path;
  uint64_t configs = 1;
  for (size_t i = 0; i < S->n_params; i++) {
    uint64_t g = S->params[i].n_grid;
    if (configs > UINT64_MAX / g) return errat(err, f, pk, "grid size overflows 64 bits (%zu parameters)", S->n_params);
    configs *= g;
  }
  if (S->has_lrf && !S->lrf_resolved) configs *= (uint64_t)S->lrf.n_factors; /* its optimizer.lr values */
  if (configs > UINT64_MAX / seeds)
    return errat(err, f, pk, "grid size overflows 64 bits (%zu parameters, %llu seeds)", S->n_params,
                 (unsigned long long)seeds);
  uint64_t trials = configs * seeds;
  if (S->run_cap && trials > (uint64_t)S->run_cap)
    return errat(err, f, cap, "grid has %llu trials (%llu configurations x %llu seeds), more than "
                 "run_cap %lld", (unsigned long long)trials, (unsigned long long)configs,
                 (unsigned long long)seeds, (long long)S->run_cap);
  if (trials > SW_MAX_TRIALS)
    return errat(err, f, pk, "grid has %llu trials, more than the limit of %d", (unsigned long long)trials,
                 SW_MAX_TRIALS);
  *out = configs;
  return TR_OK;
}

/* A random search's configurations: run_cap / seeds, or the default count. */
static int spec_count_random(SwSpec *S, const TrYamlNode *root, const TrYamlNode *cap, uint64_t seeds,
                             uint64_t *out, TrErr *err) {
  const char *f = S->path;
  int rc;
  if (!S->run_cap) {
    *out = SW_DEFAULT_RANDOM_CONFIGS;
    if (*out * seeds > SW_MAX_TRIALS)
      return errat(err, f, root, "%llu configurations x %llu seeds is more than the limit of %d trials",
                   (unsigned long long)*out, (unsigned long long)seeds, SW_MAX_TRIALS);
    if ((rc = notice(S, root, "notice: %s search without run_cap: %s %d configurations%s", sw_method_name(S->method),
                     S->method == SW_METHOD_BAYES ? "proposing" : "sampling", SW_DEFAULT_RANDOM_CONFIGS,
                     S->method == SW_METHOD_BAYES ? " (W&B's bayes would propose until stopped; set run_cap, and "
                                                    "a re-run with a larger one continues the sweep)" : "")))
      return tr_err_set(err, rc, "out of memory");
    return TR_OK;
  }
  if ((uint64_t)S->run_cap < seeds)
    return errat(err, f, cap, "run_cap %lld is smaller than the %llu seeds of one configuration",
                 (long long)S->run_cap, (unsigned long long)seeds);
  if ((uint64_t)S->run_cap > SW_MAX_TRIALS)
    return errat(err, f, cap, "run_cap %lld is more than the limit of %d trials", (long long)S->run_cap,
                 SW_MAX_TRIALS);
  uint64_t configs = *out = (uint64_t)S->run_cap / seeds;
  if ((uint64_t)S->run_cap % seeds &&
      (rc = notice(S, cap, "notice: run_cap %lld with %llu seeds: %llu configurations x %llu seeds = %llu trials",
                   (long long)S->run_cap, (unsigned long long)seeds, (unsigned long long)configs,
                   (unsigned long long)seeds, (unsigned long long)(configs * seeds))))
    return tr_err_set(err, rc, "out of memory");
  return TR_OK;
}

/* 1 when NAME is an executable file on $PATH (or, with a '/', that file), else 0. */
static int on_path(const char *name) {
  const char *p = getenv("PATH");
  if (strchr(name, '/')) return access(name, X_OK) == 0;
  while (p && *p) {
    const char *e = strchr(p, ':');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    char buf[TR_PATH_MAX];
    if (n > 0 && n + strlen(name) + 2 < sizeof buf) {
      snprintf(buf, sizeof buf, "%.*s/%s", (int)n, p, name);
      struct stat sb;
      if (stat(buf, &sb) == 0 && S_ISREG(sb.st_mode) && access(buf, X_OK) == 0) return 1;
    }
    p = e ? e + 1 : NULL;
  }
  return 0;
}

/* W&B's str() of a command element: strings as they are, YAML numbers and booleans as Python prints them. */
static char *command_elem(const TrYamlNode *v) {
  int b;
  int64_t i;
  double d;
  char buf[64];
  if (!v->plain) return tr_strdup(v->str);
  if (tr_yaml_is_null(v)) return tr_strdup("None");
  if (tr_parse_bool(v->str, &b) == 0) return tr_strdup(b ? "True" : "False");
  if (!strpbrk(v->str, ".eE") && tr_parse_int64(v->str, &i) == 0) return snprintf(buf, sizeof buf, "%lld", (long long)i), tr_strdup(buf);
  if (tr_parse_double(v->str, &d) == 0) return sw_py_float_repr(buf, sizeof buf, d), tr_strdup(buf);
  return tr_strdup(v->str);
}

static int spec_command(SwSpec *S, const TrYamlNode *c, TrErr *err) {
  const char *f = S->path;
  if (c->kind != TR_YAML_SEQ) return errat(err, f, c, "command: expected a list, got %s", tr_yaml_kind_name(c->kind));
  if (!(S->command = tr_calloc((size_t)c->n + 1, sizeof *S->command))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int i = 0; i < c->n; i++) {
    const TrYamlNode *v = c->items[i];
    if (v->kind != TR_YAML_SCALAR)
      return errat(err, f, v, "command: element %d: expected a string, got %s", i + 1, tr_yaml_kind_name(v->kind));
    if (!(S->command[i] = command_elem(v))) return tr_err_set(err, TR_ENOMEM, "out of memory");
    S->n_command = (size_t)i + 1;
  }
  TrErr e;
  tr_err_clear(&e);
  if (sw_command_check((const char *const *)S->command, S->n_command, &e)) return errat(err, f, c, "command: %s", e.msg);
  return TR_OK;
}

/* Does the command run the program through ${interpreter}? (W&B's default does.) */
static int uses_interpreter(const SwSpec *S) {
  if (S->n_command == 0) return 1;
  for (size_t i = 0; i < S->n_command; i++)
    if (strcmp(S->command[i], "${interpreter}") == 0) return 1;
  return 0;
}

/* Does the command start with something other than the program ("/usr/bin/python3",
** "bash", ...), which then reads the program as an argument (it need not be executable)? */
static int named_runner(const SwSpec *S) {
  size_t i = 0;
  while (i < S->n_command && strcmp(S->command[i], "${env}") == 0) i++;
  return i < S->n_command && strcmp(S->command[i], "${program}") != 0 && strcmp(S->command[i], "${interpreter}") != 0;
}

/* program: resolved against the spec's directory; it must exist, and run: through its
** interpreter (found on PATH) or as an executable file. command: W&B's list. */
static int spec_program(SwSpec *S, const TrYamlNode *root, TrErr *err) {
  const char *f = S->path, *s = NULL;
  const TrYamlNode *v = tr_yaml_get(root, "program"), *c = tr_yaml_get(root, "command");
  int rc;
  if (!v) {
    if (c && (rc = notice(S, c, "notice: 'command' without 'program': ignored (the built-in trainer runs)")))
      return tr_err_set(err, rc, "out of memory");
    return TR_OK;
  }
  if ((rc = want_string(f, "program", v, &s, err))) return rc;
  if (!*s) return errat(err, f, v, "program: empty path");
  if (!(S->program = resolve(S->absdir, s))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  if (c && (rc = spec_command(S, c, err))) return rc;
  struct stat sb;
  if (stat(S->program, &sb) != 0) return errat(err, f, v, "program %s: %s", S->program, strerror(errno));
  if (!S_ISREG(sb.st_mode)) return errat(err, f, v, "program %s: not a regular file", S->program);
  const char *interp = sw_command_interpreter(S->program);
  if (interp && uses_interpreter(S)) {
    if (!on_path(interp))
      return errat(err, f, v, "program %s: interpreter %s not found on PATH", S->program, interp);
    if (access(S->program, R_OK) != 0) return errat(err, f, v, "program %s: %s", S->program, strerror(errno));
  } else if (named_runner(S)) {
    if (access(S->program, R_OK) != 0) return errat(err, f, v, "program %s: %s", S->program, strerror(errno));
  } else if (access(S->program, X_OK) != 0) {
    return errat(err, f, v, "program %s: not executable (chmod +x, or run it through an interpreter)", S->program);
  }
  return TR_OK;
}

static int spec_parse(SwSpec *S, TrErr *err) {
  const char *f = S->path;
  const TrYamlNode *root = S->doc->root;
  int rc;
  if ((rc = spec_root_check(S, root, err))) return rc;
  if ((rc = spec_program(S, root, err))) return rc;
  const TrYamlNode *v;
  const char *s = NULL;
  if ((v = tr_yaml_get(root, "hpsweep")) && (rc = parse_hpsweep(S, v, err))) return rc;
  if ((v = tr_yaml_get(root, "name"))) {
    if ((rc = want_string(f, "name", v, &s, err))) return rc;
    free(S->name);
    if (!(S->name = tr_strdup(s))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  if ((v = tr_yaml_get(root, "description"))) {
    if ((rc = want_string(f, "description", v, &s, err))) return rc;
    free(S->description);
    if (!(S->description = tr_strdup(s))) return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  if ((rc = spec_method(S, root, err))) return rc;
  if ((v = tr_yaml_get(root, "metric"))) {
    if ((rc = parse_metric(S, v, err))) return rc;
  } else if (S->task == SW_TASK_SAMPLE) {
    char list[512];
    return errat(err, f, root, "missing 'metric': a task: sample sweep records no %s; name one of %s",
                 SW_DEFAULT_METRIC, join_names(task_metrics(S), list, sizeof list));
  } else if ((rc = notice(S, root, "notice: no metric: optimising %s (minimize)", SW_DEFAULT_METRIC))) {
    return tr_err_set(err, rc, "out of memory");
  }
  const TrYamlNode *cap = tr_yaml_get(root, "run_cap");
  if (cap && (rc = want_int(f, "run_cap", cap, 1, INT64_MAX, &S->run_cap, err))) return rc;
  if ((rc = spec_early_terminate(S, root, err))) return rc;

  int pi = map_index(root, "parameters");
  if (pi < 0) return errat(err, f, root, "missing 'parameters' (the training keys to sweep)");
  const TrYamlNode *pk = root->keys[pi], *pv = root->items[pi];
  S->where_line = pk->line;
  S->where_col = pk->col;
  if ((rc = want_map(f, "parameters", pv, err))) return rc;
  if ((rc = parse_params(S, pv, NULL, 0, err))) return rc;
  if ((rc = spec_lr_find_check(S, err))) return rc;
  if ((rc = spec_bayes(S, root, pk, err))) return rc;
  if ((rc = spec_pbt(S, root, pk, err))) return rc;

  /* How many trials: overflow-checked product, then run_cap and the sanity limit. */
  uint64_t seeds = S->n_seeds ? S->n_seeds : 1, configs = 0;
  if (S->pbt.enabled)
    configs = (uint64_t)S->pbt.population;
  else if (S->method == SW_METHOD_GRID)
    rc = spec_count_grid(S, pk, cap, seeds, &configs, err);
  else
    rc = spec_count_random(S, root, cap, seeds, &configs, err);
  if (rc) return rc;
  S->n_configs = (size_t)configs;
  return et_check_spec(S, err);
}

/* ---- files the trials read ------------------------------------------------ */

/* path must be a readable regular file (opened non-blocking: a FIFO must not hang `check`). */
static int check_readable(const SwSpec *S, const TrYamlNode *at, const char *what, const char *path,
                          TrErr *err) {
  struct stat sb;
  int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  int e = fd < 0 || fstat(fd, &sb) != 0 ? errno : 0;
  if (fd >= 0) close(fd);
  if (e) return errat(err, S->path, at, "%s %s: %s", what, path, strerror(e));
  if (!S_ISREG(sb.st_mode)) return errat(err, S->path, at, "%s %s: not a regular file", what, path);
  return TR_OK;
}

/* Where the base config set data.path: its node in an inline base, else the base file's name. */
static const TrYamlNode *base_data_node(const SwSpec *S) {
  const TrYamlNode *b = tr_yaml_get(tr_yaml_get(S->doc->root, "hpsweep"), "base"), *n;
  if ((n = tr_yaml_get(b, "data.path")) || (n = tr_yaml_get(tr_yaml_get(b, "data"), "path"))) return n;
  return b;
}

/* Before any trial: the data file of every trial (the checkpoint of a sample sweep) is readable. */
static int check_files(const SwSpec *S, TrErr *err) {
  if (S->task == SW_TASK_SAMPLE) {
    const TrYamlNode *at = tr_yaml_get(tr_yaml_get(S->doc->root, "hpsweep"), "checkpoint");
    return *S->checkpoint ? check_readable(S, at, "hpsweep.checkpoint", S->checkpoint, err) : TR_OK;
  }
  const TrKey *dk = tr_config_key_find("data.path");
  for (size_t i = 0; i < S->n_params; i++) {
    const SwParam *p = &S->params[i];
    if (p->key != dk) continue;
    for (int j = 0; j < p->n_values; j++) { /* a swept data.path: the base's is never used */
      const TrYamlNode *v = p->values[j];
      int rc = tr_yaml_is_null(v) || !*v->str ? TR_OK : check_readable(S, v, "data.path", v->str, err);
      if (rc) return rc;
    }
    return TR_OK;
  }
  return S->base.data.path[0] ? check_readable(S, base_data_node(S), "data.path", S->base.data.path, err) : TR_OK;
}

static char *default_name(const char *path) {
  const char *b = strrchr(path, '/');
  b = b ? b + 1 : path;
  char *n = tr_strdup(b);
  if (!n) return NULL;
  size_t len = strlen(n);
  if (len > 5 && strcmp(n + len - 5, ".yaml") == 0)
    n[len - 5] = '\0';
  else if (len > 4 && strcmp(n + len - 4, ".yml") == 0)
    n[len - 4] = '\0';
  return n;
}

/* A spec named path, defaults set, its text and tree not read yet. NULL: out of memory. */
static SwSpec *spec_new(const char *path) {
  SwSpec *S = tr_calloc(1, sizeof *S);
  if (!S) return NULL;
  S->workers = 1;
  S->threads_per_trial = 1;
  S->max_retries = 1;
  S->where_line = S->where_col = 1;
  S->wandb_shim = -1;
  tr_config_defaults(&S->base);
  const char *slash = strrchr(path, '/');
  S->path = tr_strdup(path);
  S->dir = slash ? tr_malloc((size_t)(slash - path) + 2) : tr_strdup(".");
  if (S->dir && slash) {
    size_t n = slash == path ? 1 : (size_t)(slash - path);
    memcpy(S->dir, path, n);
    S->dir[n] = '\0';
  }
  S->name = default_name(path);
  S->description = tr_strdup("");
  S->metric = tr_strdup(SW_DEFAULT_METRIC);
  S->checkpoint = tr_strdup("");
  S->seed_arg = tr_strdup("seed");
  S->db = S->dir ? resolve(S->dir, "hpsweep.db") : NULL;
  if (!S->path || !S->dir || !S->name || !S->description || !S->metric || !S->checkpoint || !S->db ||
      !S->seed_arg) {
    sw_spec_destroy(S);
    return NULL;
  }
  return S;
}

/* The checks once S->doc and S->text are read; frees S on failure. */
static int spec_finish(SwSpec *S, SwSpec **out, TrErr *err) {
  int rc;
  if (!(S->absdir = realpath(S->dir, NULL))) {
    rc = tr_err_set(err, TR_EIO, "%s: %s: %s", S->path, S->dir, strerror(errno));
    goto fail;
  }
  if ((rc = spec_parse(S, err)) || (!S->program && (rc = check_files(S, err)))) goto fail;
  *out = S;
  return TR_OK;
fail:
  sw_spec_destroy(S);
  return rc;
}

int sw_spec_load(SwSpec **out, const char *path, TrErr *err) {
  *out = NULL;
  SwSpec *S = spec_new(path);
  if (!S) return tr_err_set(err, TR_ENOMEM, "out of memory");
  int rc;
  if ((rc = tr_yaml_load_file(path, &S->doc, err)) || (rc = read_text(path, &S->text, err))) {
    sw_spec_destroy(S);
    return rc;
  }
  return spec_finish(S, out, err);
}

int sw_spec_load_text(SwSpec **out, const char *path, const char *text, size_t len, TrErr *err) {
  *out = NULL;
  SwSpec *S = spec_new(path);
  if (!S) return tr_err_set(err, TR_ENOMEM, "out of memory");
  int rc;
  if ((rc = tr_yaml_load_string(text, len, path, &S->doc, err))) {
    sw_spec_destroy(S);
    return rc;
  }
  if (!(S->text = tr_malloc(len + 1))) {
    sw_spec_destroy(S);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  memcpy(S->text, text, len);
  S->text[len] = '\0';
  return spec_finish(S, out, err);
}

void sw_spec_destroy(SwSpec *S) {
  if (!S) return;
  for (size_t i = 0; i < S->n_params; i++) {
    free(S->params[i].values);
    free(S->params[i].probs);
  }
  free(S->params);
  free(S->lrf_factors);
  tr_yaml_destroy(S->lrf_doc);
  for (size_t i = 0; i < S->pbt.n_mutations; i++)
    if (S->pbt.mutations[i].own) {
      free(S->pbt.mutations[i].p.values);
      free(S->pbt.mutations[i].p.probs);
    }
  free(S->pbt.mutations);
  for (size_t i = 0; i < S->n_pkeys; i++) {
    free((char *)S->pkeys[i]->name);
    free(S->pkeys[i]);
  }
  free(S->pkeys);
  for (size_t i = 0; i < S->n_command; i++) free(S->command[i]);
  free(S->command);
  free(S->program);
  free(S->seed_arg);
  for (size_t i = 0; i < S->n_notices; i++) free(S->notices[i]);
  free(S->notices);
  free(S->seeds);
  tr_yaml_destroy(S->doc);
  free(S->path);
  free(S->dir);
  free(S->absdir);
  free(S->text);
  free(S->name);
  free(S->description);
  free(S->metric);
  free(S->db);
  free(S->base_file);
  free(S->checkpoint);
  free(S);
}

/* ---- accessors ----------------------------------------------------------- */

size_t sw_spec_notice_count(const SwSpec *s) { return s->n_notices; }
const char *sw_spec_notice(const SwSpec *s, size_t i) { return i < s->n_notices ? s->notices[i] : NULL; }
const char *sw_spec_path(const SwSpec *s) { return s->path; }
const char *sw_spec_text(const SwSpec *s) { return s->text; }
const char *sw_spec_name(const SwSpec *s) { return s->name; }
const char *sw_spec_description(const SwSpec *s) { return s->description; }
SwMethod sw_spec_method(const SwSpec *s) { return s->method; }
SwSampler sw_spec_sampler(const SwSpec *s) { return s->sampler; }
int sw_spec_impute(const SwSpec *s, double *impute) {
  if (s->has_impute && impute) *impute = s->impute;
  return s->has_impute;
}
const char *sw_spec_metric(const SwSpec *s) { return s->metric; }
SwGoal sw_spec_goal(const SwSpec *s) { return s->goal; }
int sw_spec_target(const SwSpec *s, double *target) {
  if (s->has_target && target) *target = s->target;
  return s->has_target;
}
int64_t sw_spec_run_cap(const SwSpec *s) { return s->run_cap; }
const SwEarlyTerminate *sw_spec_early_terminate(const SwSpec *s) { return &s->et; }
int sw_spec_workers(const SwSpec *s) { return s->workers; }
int sw_spec_threads_per_trial(const SwSpec *s) { return s->threads_per_trial; }
const char *sw_spec_db(const SwSpec *s) { return s->db; }
int sw_spec_max_retries(const SwSpec *s) { return s->max_retries; }
uint64_t sw_spec_seed(const SwSpec *s) { return s->seed; }
SwTask sw_spec_task(const SwSpec *s) { return s->task; }
const char *sw_spec_checkpoint(const SwSpec *s) { return s->checkpoint; }
const int64_t *sw_spec_seeds(const SwSpec *s, size_t *n) {
  *n = s->n_seeds;
  return s->seeds;
}
const char *sw_spec_seed_key(const SwSpec *s) {
  if (s->program) return s->seed_arg;
  return s->task == SW_TASK_SAMPLE ? "sample.seed" : "train.seed";
}
const char *sw_spec_program(const SwSpec *s) { return s->program; }
const char *const *sw_spec_command(const SwSpec *s, size_t *n) {
  *n = s->n_command;
  return (const char *const *)s->command;
}
int sw_spec_wandb_shim(const SwSpec *s) {
  if (s->wandb_shim >= 0) return s->wandb_shim;
  return s->program && sw_command_interpreter(s->program) != NULL;
}
double sw_spec_max_seconds(const SwSpec *s) { return s->max_seconds; }
int sw_spec_program_resumes(const SwSpec *s) { return s->program_resumes; }
const SwPbt *sw_spec_pbt(const SwSpec *s) { return &s->pbt; }
const char *sw_spec_method_label(const SwSpec *s) { return s->pbt.enabled ? "pbt" : sw_method_name(s->method); }
const TrConfig *sw_spec_base(const SwSpec *s) { return &s->base; }
const char *sw_spec_base_file(const SwSpec *s) { return s->base_file; }
const SwLrFind *sw_spec_lr_find(const SwSpec *s) { return s->has_lrf ? &s->lrf : NULL; }
int sw_spec_lr_pending(const SwSpec *s) { return s->has_lrf && !s->lrf_resolved; }
int sw_spec_lr_check_resolved(const SwSpec *s, TrErr *err) {
  if (!sw_spec_lr_pending(s)) return TR_OK;
  return tr_err_set(err, TR_EINVAL, "%s:%d:%d: hpsweep.lr_find is not resolved yet (its range test decides the lr "
                    "values: sw_lrgrid_resolve)", s->path, s->lrf.line, s->lrf.col);
}

/* The values as a YAML list "[a, b, ...]" (shortest exact text), parsed into the spec's own doc. */
static int lr_values_doc(SwSpec *S, double suggested, TrErr *err) {
  size_t cap = (size_t)S->lrf.n_factors * 32 + 8, off = 1;
  char *text = tr_malloc(cap);
  if (!text) return tr_err_set(err, TR_ENOMEM, "out of memory");
  text[0] = '[';
  for (int i = 0; i < S->lrf.n_factors; i++) {
    char v[32];
    tr_fmt_double(v, sizeof v, S->lrf.factors[i] * suggested, TR_FMT_SHORTEST);
    off += (size_t)snprintf(text + off, cap - off, "%s%s", i ? ", " : "", v);
  }
  snprintf(text + off, cap - off, "]");
  char name[TR_PATH_MAX + 32];
  snprintf(name, sizeof name, "%s (hpsweep.lr_find)", S->path);
  int rc = tr_yaml_load_string(text, strlen(text), name, &S->lrf_doc, err);
  free(text);
  return rc;
}

int sw_spec_lr_resolve(SwSpec *S, double suggested, TrErr *err) {
  if (!S->has_lrf || S->lrf_resolved)
    return tr_err_set(err, TR_EINVAL, "%s: %s", S->path, S->has_lrf ? "hpsweep.lr_find is resolved already"
                                                                     : "no hpsweep.lr_find to resolve");
  if (!(suggested > 0) || !isfinite(suggested))
    return tr_err_set(err, TR_EINVAL, "%s:%d:%d: hpsweep.lr_find: the suggested lr %g is not a positive number",
                      S->path, S->lrf.line, S->lrf.col, suggested);
  for (int i = 0; i < S->lrf.n_factors; i++)
    if (!isfinite(S->lrf.factors[i] * suggested))
      return tr_err_set(err, TR_EINVAL, "%s:%d:%d: hpsweep.lr_find: %g x %g is not a finite lr", S->path,
                        S->lrf.line, S->lrf.col, S->lrf.factors[i], suggested);
  int rc = lr_values_doc(S, suggested, err);
  if (rc) return rc;
  SwParam P = {0};
  P.key = tr_config_key_find("optimizer.lr");
  P.dist = SW_DIST_CATEGORICAL;
  P.line = S->lrf.line, P.col = S->lrf.col, P.sigma = 1;
  P.n_values = S->lrf_doc->root->n;
  P.n_grid = (uint64_t)P.n_values;
  SwParam *np = tr_realloc(S->params, (S->n_params + 1) * sizeof *np);
  P.values = tr_malloc((size_t)P.n_values * sizeof *P.values);
  if (np) S->params = np, S->cap_params = S->n_params + 1;
  if (!np || !P.values) {
    free(P.values);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  for (int i = 0; i < P.n_values; i++) P.values[i] = S->lrf_doc->root->items[i];
  S->params[S->n_params++] = P;
  S->lrf_resolved = 1;
  return TR_OK;
}
size_t sw_spec_param_count(const SwSpec *s) { return s->n_params; }
const SwParam *sw_spec_param(const SwSpec *s, size_t i) { return i < s->n_params ? &s->params[i] : NULL; }
size_t sw_spec_config_count(const SwSpec *s) { return s->n_configs; }
size_t sw_spec_trial_count(const SwSpec *s) { return s->n_configs * (s->n_seeds ? s->n_seeds : 1); }
void sw_spec_where(const SwSpec *s, int *line, int *col) {
  *line = s->where_line;
  *col = s->where_col;
}

/* A node as flow YAML: scalars as written (quoted when they were), [a, b], {k: v}. */
static size_t node_text(const TrYamlNode *n, char *buf, size_t cap, size_t off) {
#define PUT(...) (off += (size_t)snprintf(buf + (off < cap ? off : cap), off < cap ? cap - off : 0, __VA_ARGS__))
  if (n->kind == TR_YAML_SCALAR) {
    if (n->plain)
      PUT("%s", n->str);
    else
      PUT("\"%s\"", n->str);
  } else {
    PUT("%s", n->kind == TR_YAML_SEQ ? "[" : "{");
    for (int i = 0; i < n->n; i++) {
      if (i) PUT(", ");
      if (n->kind == TR_YAML_MAP) PUT("%s: ", n->keys[i]->str);
      off = node_text(n->items[i], buf, cap, off);
    }
    PUT("%s", n->kind == TR_YAML_SEQ ? "]" : "}");
  }
  return off;
#undef PUT
}

int sw_param_modelled(const SwParam *p) {
  return p->dist != SW_DIST_CONSTANT && !(p->dist == SW_DIST_CATEGORICAL && p->n_values < 2);
}

void sw_param_describe(const SwParam *p, char *buf, size_t n) {
  if (!n) return;
  buf[0] = '\0';
  size_t off = 0;
#define PUT(...) (off += (size_t)snprintf(buf + (off < n ? off : n), off < n ? n - off : 0, __VA_ARGS__))
  switch (p->dist) {
    case SW_DIST_CONSTANT:
      PUT("value ");
      off = node_text(p->values[0], buf, n, off);
      break;
    case SW_DIST_CATEGORICAL:
      PUT("values [");
      for (int i = 0; i < p->n_values; i++) {
        if (i) PUT(", ");
        off = node_text(p->values[i], buf, n, off);
      }
      PUT("]");
      if (p->probs) {
        PUT(" probabilities [");
        for (int i = 0; i < p->n_values; i++) PUT("%s%g", i ? ", " : "", p->probs[i]);
        PUT("]");
      }
      break;
    case SW_DIST_INT_UNIFORM:
      PUT("int_uniform [%lld, %lld]", (long long)p->imin, (long long)p->imax);
      break;
    default:
      if (dist_is_minmax(p->dist))
        PUT("%s [%g, %g]", sw_dist_name(p->dist), p->min, p->max);
      else
        PUT("%s mu=%g sigma=%g", sw_dist_name(p->dist), p->mu, p->sigma);
      if (dist_is_q(p->dist)) PUT(" q=%g", p->q);
  }
#undef PUT
  if (off >= n && n > 4) memcpy(buf + n - 4, "...", 4);
}
