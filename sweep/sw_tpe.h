/*
** sw_tpe.h: Optuna's TPE (TPESampler with multivariate=True, constant_liar=True, the
** rest Optuna's defaults) over the [0, 1] space of sw_space.h (docs/search.md).
**
** Contract:
** - As Optuna 4: n = DONE + PRUNED trials (FAILED ones are never observed); fewer than
**   SW_TPE_STARTUP: a uniform random point. The best gamma(n) = min(ceil(0.1 n), 25)
**   form l(x): finished trials by loss, then pruned ones (the ones that went further
**   first, then by loss); every other observed trial, RUNNING ones included (the
**   constant liar: they count as bad), forms g(x).
** - l(x) and g(x) are each a Parzen
**   estimator (a mixture of product kernels, in observation order) with Optuna's
**   weights (1 each below 25 observations, else a ramp from 1/n to 1 for the oldest
**   n - 25) and its prior (weight 1: mean 0.5, sigma 1, categorical uniform).
**   Numeric dimensions: normals truncated to [0, 1], one bandwidth
**   0.2 n^(-1/(d + 4)) clipped to [1 / min(100, n + 2), 1] (Optuna's multivariate rule
**   and magic clip); categorical dimensions: weight 1 / (n + 1) on every value plus 1
**   on the observed one, normalised. int, q_ and categorical dimensions are continuous
**   in the kernels and snapped when sampled (sw_space_snap).
** - SW_TPE_CANDIDATES samples of l(x); the one of largest log l(x) - log g(x) wins, a
**   sample that is an observation's point (tried or running) only when all are. Start-up
**   points: sw_space_random_fresh.
** - Deterministic: every draw from the seed (sw_space_seed), in a fixed order.
*/
#ifndef SW_TPE_H
#define SW_TPE_H

#include <stddef.h>
#include <stdint.h>

#include "sw_space.h"
#include "tr_err.h"

#define SW_TPE_STARTUP 10
#define SW_TPE_CANDIDATES 24
#define SW_TPE_GAMMA_MAX 25
#define SW_TPE_PRIOR_WEIGHT 1.0

/* Optuna's default gamma: min(ceil(0.1 n), 25). */
size_t sw_tpe_gamma(size_t n);
/* Which observations form l(x): below[i] = 1 for the best gamma(n) DONE/PRUNED ones, 0 for
** the rest and RUNNING ones (g(x)), -1 for FAILED (not observed); *observed = n (DONE + PRUNED). */
int sw_tpe_split(const SwObs *obs, const double *loss, size_t n, signed char *below, size_t *observed,
                 TrErr *err);

/* log l(x) and log g(x) at the point x (sp->n) of the estimators a proposal over these
** observations would build (a start-up proposal builds none; these are computed anyway):
** the densities Optuna's _ParzenEstimator.log_pdf gives on the same split. */
int sw_tpe_density(const SwSpace *sp, const SwObs *obs, const double *loss, size_t n, const double *x,
                   double *log_l, double *log_g, TrErr *err);

/* The next point u (sp->n), as sw_gp_propose. */
int sw_tpe_propose(const SwSpace *sp, const SwObs *obs, const double *loss, size_t n, uint64_t seed, double *u,
                   SwProposal *info, TrErr *err);

#endif
