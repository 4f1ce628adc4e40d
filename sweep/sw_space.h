/*
** sw_space.h: the search space as a model sees it (model-based search, docs/search.md).
**
** Contract:
** - Every parameter that is not a constant is one dimension, in spec order, mapped
**   to [0, 1] through its distribution's CDF, as W&B's bayes search does:
**   uniform and q_uniform linear in [min, max]; log_uniform_values and log_uniform
**   linear in log space; normal and log_normal through the normal CDF (of x, of ln x);
**   int_uniform linear over [min - 0.5, max + 0.5] (each integer owns a cell of
**   width 1 / (max - min + 1) and encodes to its centre); categoricals (index + 1) / K
**   (probabilities are not modelled). Constants (and one-value categoricals) are not
**   modelled: they decode to their one value.
** - Decoding is the CDF's inverse, then int_uniform takes its cell, q_ distributions
**   round to a multiple of q (sw_param_quantise, as random search) and categoricals
**   take index ceil(u K) - 1; the result is a SwValue per parameter that
**   sw_expand_values (sw_expand.h) turns into trials. decode(encode(v)) == v for
**   every value the distribution can give (up to rounding of exp/log).
** - sw_space_snap(u) = encode(decode(u)): the point that will really be tried, so a
**   model scores candidates where they will land (not W&B's: it scores raw u).
** - Every random choice of a proposal derives from sw_space_seed(sweep seed, trial
**   index): a pure function, the same on every runner and after a resume.
** - Observations (SwObs) carry a point, the trial's state and its metric, one per
**   configuration (with hpsweep.seeds the caller combines its seeds' trials: the models
**   would read two values at one point as noise-free and contradictory); sw_obs_losses
**   orients them for minimisation and imputes failed trials (metric.impute, else the
**   worst finished value, W&B's default).
*/
#ifndef SW_SPACE_H
#define SW_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "sw_expand.h"
#include "sw_spec.h"
#include "tr_err.h"
#include "tr_rng.h"

typedef struct SwSpace {
  size_t n;                /* modelled dimensions */
  size_t n_params;         /* parameters of the spec (constants included) */
  const SwParam **all;     /* (n_params) the spec's parameters, spec order */
  size_t *param;           /* (n) dimension d models all[param[d]] */
  int *k;                  /* (n) a categorical's number of values, 0 for a numeric dimension */
} SwSpace;

/* The space of a spec's parameters. No dimension to model (only constants): an error at
** the spec's parameters key. sp is zeroed on failure; free(NULL space) is fine. */
int sw_space_init(SwSpace *sp, const SwSpec *s, TrErr *err);
void sw_space_free(SwSpace *sp);

/* One parameter: a value to u in [0, 1] and back (p not a constant). */
double sw_space_encode_value(const SwParam *p, SwValue v);
SwValue sw_space_decode_value(const SwParam *p, double u);
/* A categorical's index from u: ceil(u k) - 1 within [0, k - 1]. */
int sw_space_index(double u, int k);
/* A point: vals (n_params, spec order) to u (n) and back (constants decode to index 0). */
void sw_space_encode(const SwSpace *sp, const SwValue *vals, double *u);
void sw_space_decode(const SwSpace *sp, const double *u, SwValue *vals);
/* u = encode(decode(u)), each coordinate clamped to [0, 1] first. */
void sw_space_snap(const SwSpace *sp, double *u);
/* The transform of p in one line, for `hpsweep check`: "u = (ln x - ln 1e-05) / (ln 0.01 - ln 1e-05)". */
void sw_space_describe(const SwParam *p, char *buf, size_t n);

/* A uniform random point of the space, snapped (the points random search would give,
** drawn in the model's coordinates). */
void sw_space_random(const SwSpace *sp, TrRng *r, double *u);

/* The seed of the proposal for trial `trial_index` of a sweep seeded `sweep_seed`
** (a stream apart from random search's tr_rng_seed2(seed, j)). */
uint64_t sw_space_seed(uint64_t sweep_seed, uint64_t trial_index);

/* The standard normal CDF and its inverse (p in (0, 1); 0 and 1 give -/+ infinity);
** the inverse is accurate to ~1e-15 relative (Acklam's approximation, one Halley step). */
double sw_normal_cdf(double z);
double sw_normal_quantile(double p);

typedef enum { SW_OBS_DONE, SW_OBS_PRUNED, SW_OBS_FAILED, SW_OBS_RUNNING } SwObsState;

typedef struct SwObs {
  const double *u;     /* the trial's point (space dimensions) */
  double y;            /* DONE, PRUNED: the trial's best value so far; NaN if it logged none */
  int64_t step;        /* PRUNED: the step it stopped at (TPE ranks pruned trials by it) */
  SwObsState state;
} SwObs;

/* 1 when u (n dimensions) is exactly the point of one of the observations (a configuration
** already tried or running: snapped points of equal values are bit-identical), else 0. */
int sw_space_seen(const SwObs *obs, size_t n_obs, const double *u, size_t n);

/* A uniform random point (sw_space_random) that is no observation's point: redrawn from
** the same stream while it is, up to SW_MAX_REDRAWS draws (then the last one: a space
** that small is used up). The start-up points of both models. */
void sw_space_random_fresh(const SwSpace *sp, TrRng *r, const SwObs *obs, size_t n_obs, double *u);

/* loss[i] for each observation, smaller is better: y (minimize) or -y (maximize) for
** DONE and PRUNED; FAILED (or a non-finite y): *impute oriented the same way when
** impute is not NULL, else the worst finite DONE/PRUNED loss, else 0 (W&B's fallback);
** RUNNING: NaN (each model says what it believes). */
void sw_obs_losses(const SwObs *obs, size_t n, SwGoal goal, const double *impute, double *loss);

/* Why a proposal is what it is (either model). */
typedef struct SwProposal {
  int random;          /* 1: a random point (why says which rule) */
  const char *why;     /* static text */
  double score;        /* GP: expected improvement (standardised); TPE: log l(x) - log g(x) */
  double mean, sd;     /* GP: the prediction at the point, in loss units */
  double length_scale; /* GP: the fitted l (0 when none was fitted) */
  size_t n_train, n_pending;
} SwProposal;

#endif
