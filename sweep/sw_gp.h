/*
** sw_gp.h: W&B's bayes search: a Gaussian process over the [0, 1] space of sw_space.h
** proposes the next point by expected improvement (docs/search.md).
**
** Contract:
** - The model (W&B's bayes_search.py with scikit-learn's GaussianProcessRegressor):
**   Matern kernel nu = 1.5 with unit amplitude and ONE isotropic length scale l,
**   k(r) = (1 + sqrt(3) r / l) exp(-sqrt(3) r / l); noise SW_GP_NOISE on the diagonal;
**   y standardised (mean, population std + 1e-6). l maximises the log marginal
**   likelihood over ln l in [ln SW_GP_LS_MIN, ln SW_GP_LS_MAX] (scikit-learn's default
**   bounds), from l = 1 and SW_GP_RESTARTS seeded log-uniform starts, each climbed by
**   its analytic gradient (bracketed, then bisected on the gradient's sign), stopping
**   where |gradient| < 1e-5 as scipy's L-BFGS-B does (so a start on a flat stretch of
**   the likelihood stays there, as in scikit-learn).
**   Cholesky (dpotrf) and solves (dpotrs) through OpenBLAS's LAPACK, in double.
** - A proposal (sw_gp_propose): losses (sw_obs_losses: minimised, failed imputed) of
**   every DONE, PRUNED and FAILED observation train the model; more than
**   SW_GP_MAX_TRAIN: a seeded random SW_GP_MAX_TRAIN of them without repetition (W&B
**   draws with repetition, which makes K singular at this noise). RUNNING trials (at
**   most SW_GP_MAX_TRAIN - 5, the first in order) enter as the first model's own
**   predictions and the model is fitted again (kriging believer). Expected improvement
**   over the best loss seen is maximised over SW_GP_CANDIDATES uniform candidates,
**   each snapped to the point it decodes to (sw_space_snap); a candidate that is an
**   observation's point (tried or running) is taken only when all are. Fewer than 2
**   losses, or a fitted length scale within scikit-learn's isclose of a bound: a random
**   point (sw_space_random_fresh; at the bound: a random candidate, not a seen one).
** - Deterministic: the same inputs and seed give the same point, bit for bit, on one
**   machine (every random draw from the seed, in a fixed order; LAPACK on matrices
**   this small runs single-threaded).
*/
#ifndef SW_GP_H
#define SW_GP_H

#include <stddef.h>
#include <stdint.h>

#include "sw_space.h"
#include "tr_err.h"

#define SW_GP_NOISE 1e-7
#define SW_GP_LS_MIN 1e-5
#define SW_GP_LS_MAX 1e5
#define SW_GP_RESTARTS 2
#define SW_GP_MAX_TRAIN 100
#define SW_GP_CANDIDATES 1000
/* Fewer results than this: a random point (so the first 2 proposals are random). */
#define SW_GP_MIN_RESULTS 2
/* W&B adds it to the std of y and to the predicted std in EI. */
#define SW_GP_STD_EPS 1e-6

/* A fitted model (owned arrays). */
typedef struct SwGp {
  size_t n, d;
  double *X;           /* (n x d) row-major training points */
  double *L;           /* (n x n) column-major Cholesky factor of K (lower) */
  double *alpha;       /* (n) K^-1 y_standardised */
  double ls;           /* length scale */
  double lml;          /* log marginal likelihood at ls */
  double ymean, ystd;  /* y_standardised = (y - ymean) / ystd */
  int at_bound;        /* ls within isclose of a bound: the fit is not trusted */
} SwGp;

/* Fit on X (n x d, row-major) and y (n >= 1, losses) with the length scale chosen by
** maximum likelihood (ls <= 0, starts from r) or fixed (ls > 0; r unused). */
int sw_gp_fit(SwGp *gp, const double *X, const double *y, size_t n, size_t d, double ls, uint64_t seed,
              TrErr *err);
void sw_gp_free(SwGp *gp);
/* Posterior mean and standard deviation at m points (m x d), in y's units; sd may be NULL. */
int sw_gp_predict(const SwGp *gp, const double *x, size_t m, double *mean, double *sd, TrErr *err);
/* The log marginal likelihood of standardised ys at ln l = theta, and its derivative in
** theta (grad may be NULL). -INFINITY when K is not positive definite numerically. */
int sw_gp_lml(const double *X, const double *ys, size_t n, size_t d, double theta, double *lml, double *grad,
              TrErr *err);
/* Expected improvement below `best` of N(mean, sd^2), as W&B computes it (sd + 1e-6 in z). */
double sw_gp_ei(double mean, double sd, double best);

/* The next point u (sp->n) from observations obs (n) with losses loss (sw_obs_losses),
** seeded by `seed` (sw_space_seed). info may be NULL. */
int sw_gp_propose(const SwSpace *sp, const SwObs *obs, const double *loss, size_t n, uint64_t seed, double *u,
                  SwProposal *info, TrErr *err);

#endif
