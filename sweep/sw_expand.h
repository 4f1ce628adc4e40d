/*
** sw_expand.h: a loaded spec expanded into its trials, each a complete,
** validated TrConfig, before any compute.
**
** Contract:
** - grid: the cartesian product of every parameter's values (constants count
**   once; int_uniform and q_uniform are enumerated), parameters in spec order
**   with the LAST varying fastest; seeds are INNERMOST: a configuration's seeds
**   are adjacent trials (trial = config * n_seeds + seed_index).
** - random: configuration j draws its parameters, in spec order, from
**   tr_rng_seed2(sw_spec_seed(spec), j), so it depends on neither run_cap nor the
**   machine; a draw that repeats an earlier configuration is redrawn from the
**   same stream (up to SW_MAX_REDRAWS times, then an error: the space is too
**   small for run_cap). Seeds multiply as for grid. Quantised distributions
**   give round(x / q) * q, as W&B does.
** - Each trial = base + parameters + seed key, checked by tr_config_validate;
**   a failure names the trial and its parameter values, at the spec's
**   `parameters` key: "FILE:L:C: trial 3 {...}: message".
** - Every trial's hash (tr_config_hash: FNV-1a of the canonical JSON, seed
**   included) is unique within the sweep; duplicates are an error.
** - A program spec (sw_spec_program): no TrConfig varies (each trial's config is
**   the base, unvalidated); params_json holds EVERY parameter, constants too, in
**   spec order, then the seed under hpsweep.seed_arg; values as W&B's agent has
**   them (int_uniform ints, other distributions floats in Python's repr, `values`
**   as their YAML type); the trial hash is FNV-1a 64 of params_json.
** - method bayes is not expanded (an error): its configurations are proposed one at a
**   time (sw_space.h) and made into trials by sw_expand_values.
** - Deterministic: the same spec file gives the same trials, hashes and spec hash.
*/
#ifndef SW_EXPAND_H
#define SW_EXPAND_H

#include <stddef.h>
#include <stdint.h>

#include "sw_spec.h"
#include "tr_config.h"
#include "tr_err.h"
#include "tr_rng.h"

#define SW_MAX_REDRAWS 1000

typedef struct SwTrial {
  size_t index;          /* position in the sweep, 0-based */
  size_t config_index;   /* configuration before seeds */
  size_t seed_index;     /* into sw_spec_seeds (0 when the spec has no seeds) */
  TrConfig config;       /* base + parameters + seed: what the trial trains */
  char *params_json;     /* the swept keys, spec order: {"optimizer.lr": 0.001, "train.seed": 1};
                            constants are left out; the seed key only when seeds are given */
  uint64_t hash;         /* tr_config_hash(&config) */
  char hash_hex[17];     /* the same as 16 lower-case hex digits */
} SwTrial;

/* One parameter's value, as drawn or decoded: the index into p->values (constant: 0,
** categorical), else the number x (int_uniform an integer, q_ distributions quantised). */
typedef struct SwValue {
  double x;
  int index;
} SwValue;

/* round(x / q) * q for a q_ distribution (W&B's quantisation), else x. */
double sw_param_quantise(const SwParam *p, double x);
/* Set parameter p to v in c, or for a program spec (pv not NULL) into *pv as the JSON the
** program gets (W&B's types): the one place a drawn or proposed value becomes a config. */
int sw_param_apply(TrConfig *c, char **pv, const SwParam *p, SwValue v, const char *file, TrErr *err);
/* One random draw of p from r, as random search draws it (W&B's definitions). */
SwValue sw_param_draw(const SwParam *p, TrRng *r);

/* The trials of ONE configuration given its values (vals[i] for sw_spec_param(s, i)): base +
** values + each seed, validated and hashed exactly as sw_expand makes them, numbered
** config_index * max(1, seeds) + k. For proposals of model-based search (sw_space.h).
** On success *trials (n of them) is owned by the caller. */
int sw_expand_values(const SwSpec *s, const SwValue *vals, size_t config_index, SwTrial **trials, size_t *n,
                     TrErr *err);

/* Expand and validate. On success *trials (n of them) is owned by the caller. */
int sw_expand(const SwSpec *s, SwTrial **trials, size_t *n, TrErr *err);
void sw_trials_free(SwTrial *trials, size_t n);
/* FNV-1a 64 over the trials' hash_hex strings in order, as 16 hex digits: sweeps.spec_hash. */
void sw_trials_hash(const SwTrial *trials, size_t n, char out[17]);
/* sweeps.spec_hash of a sweep of these trials: sw_trials_hash, and for a PBT sweep its settings
** too (population, interval, quantile, resample, factors, mutations), so a re-run with other
** PBT settings is another experiment (refused under the same name). */
void sw_sweep_hash(const SwSpec *s, const SwTrial *trials, size_t n, char out[17]);

#endif
