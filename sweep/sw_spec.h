/*
** sw_spec.h: a sweep spec, YAML in Weights & Biases sweep syntax, loaded and
** checked before anything runs.
**
** Contract:
** - sw_spec_load reads one spec file through tr_yaml (size, depth, alias and
**   duplicate-key hardening live there) and checks everything that can be
**   checked without expanding trials: top-level keys, method, metric,
**   early_terminate, every parameter (it must name a key of the TrConfig
**   registry, nested `parameters:` blocks and dotted keys alike; in a program
**   spec any name: see sw_spec_program), every
**   distribution's arguments, the grid size (overflow-checked) against run_cap
**   and SW_MAX_TRIALS, and the `hpsweep:` block (our own keys; deleting it
**   leaves a file W&B accepts). The base training config is loaded here too.
** - method bayes (docs/search.md): proposals are made by a model, one at a time
**   (sw_space.h, sw_gp.h, sw_tpe.h), so sw_expand refuses it; at least one parameter
**   must be a distribution or a categorical of 2+ values (else an error at the
**   `parameters` key); metric.impute is a number (or worst, the default);
**   hpsweep.sampler: gp (default) or tpe. Config count: as random search.
** - metric.name must be a metric the trials record (tr_run_metric_names, or the
**   inference measures for task sample); a program's is not checked.
** - `program`: resolved against the spec's directory (absolute); it must exist and
**   run (a .py through ${interpreter}: python3 on PATH; else executable); `command`
**   macros are checked (sw_command_check). A program spec skips the data-file check.
** - Relative paths resolve against the spec's directory: hpsweep.base/db/checkpoint,
**   and data.path / train.out_dir in the base and in parameter values (made
**   absolute, so trial hashes do not depend on the current directory). Every
**   trial's data file (a sample sweep's checkpoint) must be a readable regular
**   file when the spec loads: `check` and `run` refuse before any trial.
** - Errors are one line "FILE:LINE:COL: message" naming the key and, for a
**   misspelt key, the closest valid one ("did you mean 'optimizer.lr'?").
** - Things that are fine but worth saying (ignored W&B keys, defaults taken,
**   log_uniform bounds that look like values) become notices on the spec, in
**   file order; library code never prints them.
** - sw_expand (sw_expand.h) turns a loaded spec into trials and validates each.
** - The spec owns its YAML tree; parameters point into it. destroy(NULL) is a no-op.
*/
#ifndef SW_SPEC_H
#define SW_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"
#include "tr_yaml.h"

/* Upper bound on trials (configurations x seeds) of one sweep: a spec asking for
** more is a mistake, and expansion keeps a TrConfig (~2.5 KB) per trial. */
#define SW_MAX_TRIALS 100000
/* Random sweeps without run_cap sample this many configurations (notice given). */
#define SW_DEFAULT_RANDOM_CONFIGS 20
/* The metric when a spec has no `metric:` (notice given). */
#define SW_DEFAULT_METRIC "val_loss"
#define SW_MAX_SEEDS 1000

typedef enum { SW_METHOD_GRID, SW_METHOD_RANDOM, SW_METHOD_BAYES } SwMethod;
/* The model of method bayes: W&B's Gaussian process (sw_gp.h), or Optuna's TPE (sw_tpe.h)
** with `hpsweep: {sampler: tpe}`. */
typedef enum { SW_SAMPLER_GP, SW_SAMPLER_TPE } SwSampler;
typedef enum { SW_GOAL_MINIMIZE, SW_GOAL_MAXIMIZE } SwGoal;
typedef enum { SW_TASK_TRAIN, SW_TASK_SAMPLE } SwTask;

/* W&B's distributions, same spelling (sw_dist_name). */
typedef enum {
  SW_DIST_CONSTANT, SW_DIST_CATEGORICAL, SW_DIST_INT_UNIFORM, SW_DIST_UNIFORM, SW_DIST_Q_UNIFORM,
  SW_DIST_LOG_UNIFORM_VALUES, SW_DIST_Q_LOG_UNIFORM_VALUES, SW_DIST_LOG_UNIFORM,
  SW_DIST_Q_LOG_UNIFORM, SW_DIST_NORMAL, SW_DIST_Q_NORMAL, SW_DIST_LOG_NORMAL, SW_DIST_Q_LOG_NORMAL
} SwDist;

typedef struct SwParam {
  const TrKey *key;            /* the registry key it sets; key->name is the dotted name */
  SwDist dist;
  int line, col;               /* of the parameter's key in the spec */
  int n_values;                /* CONSTANT: 1; CATEGORICAL: len(values); else 0 */
  const TrYamlNode **values;   /* (n_values) nodes in the spec's tree */
  double *probs;               /* (n_values) or NULL: categorical probabilities */
  double min, max, q, mu, sigma; /* distribution arguments (q = 0 when unquantised) */
  int64_t imin, imax;          /* INT_UNIFORM bounds; Q_UNIFORM grid: first and last multiple k of q */
  uint64_t n_grid;             /* grid points (grid method), 0 for continuous distributions */
} SwParam;

/* Early termination (sw_prune.h decides): W&B's `early_terminate` (type hyperband), or
** ours in `hpsweep.early_terminate` (asha, median, hyperband brackets), which wins when
** both are given (W&B ignores the hpsweep block, so the spec stays valid there). */
typedef enum { SW_ET_NONE = 0, SW_ET_WANDB, SW_ET_ASHA, SW_ET_MEDIAN, SW_ET_HYPERBAND } SwEtType;

typedef struct SwEarlyTerminate {
  int enabled;                 /* type != SW_ET_NONE */
  SwEtType type;
  int line, col;               /* of the block, for errors at check time */
  /* W&B hyperband */
  int64_t min_iter, max_iter;  /* 0 when not given */
  double s, eta;               /* s: 0 when not given, else a whole number; eta (also ASHA's and
                                  hyperband's reduction_factor, then an integer): default 3, > 1 */
  int strict;                  /* default 1 */
  int strict_given;            /* 0: the default was taken (a notice says W&B's docs differ) */
  /* ASHA and hyperband brackets (steps); max_t defaults to the base config's steps (a
  ** program's spec must give it) */
  int64_t grace_period, max_t;
  int brackets;                /* ASHA: default 1 */
  int promotions;              /* ASHA: pause at rungs and promote (default 1) */
  /* median (Optuna's MedianPruner) */
  int64_t n_startup_trials, n_warmup_steps, interval_steps; /* defaults 5, 0, 1 */
} SwEarlyTerminate;

/* Population-based training (hpsweep.pbt; docs/pbt.md; sw_pbt.h decides): a population of
** members drawn as random search draws its configurations, trained together; at every
** perturbation_interval steps a member in the bottom quantile copies the checkpoint of one in
** the top quantile and perturbs the mutations. The spec's method stays W&B's (random). */
typedef struct SwPbtMutation {
  SwParam p;                   /* the distribution it resamples from and is clamped to: the search
                                  space's parameter of that key (a copy), or its own */
  int own;                     /* 1: p is its own (p.values and p.probs are freed with the spec) */
} SwPbtMutation;

typedef struct SwPbt {
  int enabled;                 /* hpsweep.pbt given */
  int line, col;               /* of the block */
  int64_t population;          /* members, >= 2 */
  int64_t interval;            /* perturbation_interval (steps), a multiple of the metric's steps */
  double quantile;             /* quantile_fraction in (0, 0.5], default 0.25 */
  double resample;             /* resample_probability in [0, 1], default 0.25 */
  double factors[2];           /* default 0.8 and 1.2 */
  size_t n_mutations;
  SwPbtMutation *mutations;    /* (n_mutations) in spec order; keys of tr_ckpt_mutable_keys */
} SwPbt;

typedef struct SwSpec SwSpec;

/* Load and check a spec file. On failure *out is NULL and err says why. */
int sw_spec_load(SwSpec **out, const char *path, TrErr *err);
/* The same from len bytes in memory (no file is read for the spec itself): path names the spec in
** messages, gives its name and the directory relative paths resolve against (which must exist). */
int sw_spec_load_text(SwSpec **out, const char *path, const char *text, size_t len, TrErr *err);
void sw_spec_destroy(SwSpec *s);

/* Notices and warnings collected while loading, "FILE:L:C: notice: ..." or "...: warning: ...". */
size_t sw_spec_notice_count(const SwSpec *s);
const char *sw_spec_notice(const SwSpec *s, size_t i);

const char *sw_spec_path(const SwSpec *s);        /* as given to sw_spec_load */
const char *sw_spec_text(const SwSpec *s);        /* the file's bytes, NUL-terminated */
const char *sw_spec_name(const SwSpec *s);        /* `name`, or the file's base name without .yaml */
const char *sw_spec_description(const SwSpec *s); /* "" if none */
SwMethod sw_spec_method(const SwSpec *s);
const char *sw_spec_metric(const SwSpec *s);      /* metric.name (SW_DEFAULT_METRIC if absent) */
SwGoal sw_spec_goal(const SwSpec *s);
/* metric.target: 1 and *target set if given, else 0. */
int sw_spec_target(const SwSpec *s, double *target);
/* metric.impute (method bayes): 1 and *impute set when a number was given, else 0
** (W&B's default: failed trials take the worst value). */
int sw_spec_impute(const SwSpec *s, double *impute);
/* hpsweep.sampler (method bayes), default SW_SAMPLER_GP. */
SwSampler sw_spec_sampler(const SwSpec *s);
const char *sw_sampler_name(SwSampler m);
/* run_cap as written, 0 if absent. */
int64_t sw_spec_run_cap(const SwSpec *s);
const SwEarlyTerminate *sw_spec_early_terminate(const SwSpec *s);
/* "none", "hyperband (W&B)", "asha", "median", "hyperband". */
const char *sw_et_type_name(SwEtType t);
/* Early termination against one trial's trainer config (no position in the message):
** ASHA and hyperband rungs must be multiples of the steps the sweep metric is logged
** at (train.eval_interval for val_loss and gns, else train.log_interval) and max_t at
** most the steps a trial trains; the median rule's warm-up and interval likewise.
** TR_OK for programs, sample sweeps and W&B's bands (they count values). */
int sw_spec_et_check_config(const SwSpec *s, const TrConfig *c, TrErr *err);
/* 1 when a parameter changes what sw_spec_et_check_config decides (sw_expand then checks
** every trial and names the one that fails); else sw_spec_load checked the base. */
int sw_spec_et_varies(const SwSpec *s);
/* Steps between two values of the sweep metric in a trainer trial of config c
** (train.eval_interval for val_loss and gns, else train.log_interval; the last step
** also logs); 0 for programs and sample sweeps. */
int64_t sw_spec_metric_every(const SwSpec *s, const TrConfig *c);
/* hpsweep.program_resumes (default 0): the program resumes from its checkpoint in
** HPSWEEP_RUN_DIR, so ASHA may pause and promote its trials. */
int sw_spec_program_resumes(const SwSpec *s);

/* hpsweep.pbt (enabled 0 when absent). Checked at load: only keys that may change mid-run
** mutate (tr_ckpt_mutable_keys), every parameter that varies is one of them (a member takes
** the checkpoint of another: a model shape or batch size cannot differ), method random, no
** hpsweep.seeds or early_terminate, run_cap (if given) = population, the built-in trainer. */
const SwPbt *sw_spec_pbt(const SwSpec *s);
/* What sweeps.method records: "pbt" for a PBT sweep, else sw_method_name. */
const char *sw_spec_method_label(const SwSpec *s);

/* hpsweep: block. */
int sw_spec_workers(const SwSpec *s);             /* default 1 */
int sw_spec_threads_per_trial(const SwSpec *s);   /* default 1 */
const char *sw_spec_db(const SwSpec *s);          /* resolved against the spec's directory; default "hpsweep.db" there */
int sw_spec_max_retries(const SwSpec *s);         /* default 1 */
uint64_t sw_spec_seed(const SwSpec *s);           /* random-search seed, default 0 */
SwTask sw_spec_task(const SwSpec *s);             /* default train */
const char *sw_spec_checkpoint(const SwSpec *s);  /* resolved against the spec's directory; "" if none */
/* Seeds each configuration is repeated with; n = 0 when no `seeds:` (then the base's seed is used). */
const int64_t *sw_spec_seeds(const SwSpec *s, size_t *n);
/* The registry key the seeds set: "train.seed" (task train) or "sample.seed" (task sample);
** for a program spec the argument name hpsweep.seed_arg (default "seed"). */
const char *sw_spec_seed_key(const SwSpec *s);

/* A program spec (`program:` given; docs/programs.md). Its parameters are the program's
** (SwParam.key is a key of the spec's own, type float, no range; never in the registry),
** the seed goes under hpsweep.seed_arg, and metric.name is not checked. */
const char *sw_spec_program(const SwSpec *s);     /* absolute path; NULL: the built-in trainer */
/* `command` as W&B's str() of each element; n = 0 when absent (W&B's default). */
const char *const *sw_spec_command(const SwSpec *s, size_t *n);
int sw_spec_wandb_shim(const SwSpec *s);          /* hpsweep.wandb_shim; default: on for a .py program */
double sw_spec_max_seconds(const SwSpec *s);      /* hpsweep.max_seconds_per_trial; 0: no limit */

/* hpsweep.lr_find (docs/spec.md): optimizer.lr values centred on an LR range test's suggestion,
** factor x suggestion for each factor, resolved before any trial runs. The range test runs on
** the base config (sw_lrgrid.h runs or finds it); until sw_spec_lr_resolve the spec has no
** optimizer.lr parameter and sw_expand / the bayes proposer refuse it (sw_spec_lr_pending).
** The grid's trial count counts the factors from the start. */
typedef enum { SW_LRF_STEEPEST, SW_LRF_MIN10, SW_LRF_VALLEY } SwLrSuggestion;
typedef struct SwLrFind {
  int suggestion;              /* SwLrSuggestion, default valley */
  const double *factors;       /* (n_factors) positive, distinct, in spec order */
  int n_factors;
  double start, end;           /* the ramp, default 1e-7 .. 10 */
  int steps;                   /* default 100 */
  int line, col;               /* of the block, for errors after loading */
} SwLrFind;
/* NULL when the spec has no hpsweep.lr_find. */
const SwLrFind *sw_spec_lr_find(const SwSpec *s);
const char *sw_lr_suggestion_name(int suggestion); /* "steepest", "min_div_10", "valley" */
/* 1 when hpsweep.lr_find is given and not resolved yet. */
int sw_spec_lr_pending(const SwSpec *s);
/* TR_OK, or TR_EINVAL "FILE:L:C: hpsweep.lr_find is not resolved yet ..." while it is pending. */
int sw_spec_lr_check_resolved(const SwSpec *s, TrErr *err);
/* Add optimizer.lr as a categorical parameter (last in order) of factor x suggested; TR_EINVAL
** for a suggestion that is not a positive number or a second resolution. */
int sw_spec_lr_resolve(SwSpec *s, double suggested, TrErr *err);

/* The base training config (defaults + hpsweep.base), before any parameter. */
const TrConfig *sw_spec_base(const SwSpec *s);
/* hpsweep.base when it names a file: resolved against the spec's directory; NULL when the base
** is inline or absent (`check` shows it). */
const char *sw_spec_base_file(const SwSpec *s);
/* Parameters in spec order (nested blocks flattened depth-first). */
size_t sw_spec_param_count(const SwSpec *s);
const SwParam *sw_spec_param(const SwSpec *s, size_t i);
/* Configurations before seeds: the grid size (grid) or the sampled count (random). */
size_t sw_spec_config_count(const SwSpec *s);
/* Trials = configurations x max(1, seeds). */
size_t sw_spec_trial_count(const SwSpec *s);
/* File position used for errors that belong to the sweep as a whole (the `parameters` key). */
void sw_spec_where(const SwSpec *s, int *line, int *col);

const char *sw_method_name(SwMethod m);
const char *sw_goal_name(SwGoal g);
const char *sw_task_name(SwTask t);
const char *sw_dist_name(SwDist d);
/* 1 when a model has something to choose for p: not a constant, not a one-value `values`. */
int sw_param_modelled(const SwParam *p);
/* A parameter in one line for summaries: "values [0.001, 0.01]", "log_uniform_values [1e-05, 0.01]". */
void sw_param_describe(const SwParam *p, char *buf, size_t n);

#endif
