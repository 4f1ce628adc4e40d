/*
** sw_gp.c: the Gaussian process of W&B's bayes search (see sw_gp.h).
*/
#include "sw_gp.h"

#include <f77blas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_blas.h"
#include "tr_rng.h"

#define SQRT3 1.7320508075688772
/* scipy's L-BFGS-B stops where the projected gradient is below this (its default gtol). */
#define SW_GP_GTOL 1e-5

/* ---- the kernel and the Cholesky factor ---------------------------------- */

static double dist(const double *a, const double *b, size_t d) {
  double s = 0;
  for (size_t k = 0; k < d; k++) s += (a[k] - b[k]) * (a[k] - b[k]);
  return sqrt(s);
}

static double matern15(double r, double ls) {
  double a = SQRT3 * r / ls;
  return (1 + a) * exp(-a);
}

/* K + noise I (column-major, full) into K; its lower Cholesky factor in place. 1: not PD. */
static int chol(double *K, const double *X, size_t n, size_t d, double ls) {
  for (size_t j = 0; j < n; j++)
    for (size_t i = j; i < n; i++) {
      double k = i == j ? 1 + SW_GP_NOISE : matern15(dist(&X[i * d], &X[j * d], d), ls);
      K[j * n + i] = K[i * n + j] = k;
    }
  char uplo = 'L';
  blasint nn = (blasint)n, info = 0;
  int threads = tr_blas_one_thread(); /* at most SW_GP_MAX_TRAIN wide */
  BLASFUNC(dpotrf)(&uplo, &nn, K, &nn, &info);
  tr_blas_threads_restore(threads);
  return info != 0;
}

/* B (n x nrhs, column-major) := K^-1 B with K's factor L. */
static void solve(const double *L, size_t n, double *B, size_t nrhs) {
  char uplo = 'L';
  blasint nn = (blasint)n, nr = (blasint)nrhs, info = 0;
  int threads = tr_blas_one_thread();
  BLASFUNC(dpotrs)(&uplo, &nn, &nr, (double *)L, &nn, B, &nn, &info);
  tr_blas_threads_restore(threads);
}

int sw_gp_lml(const double *X, const double *ys, size_t n, size_t d, double theta, double *lml, double *grad,
              TrErr *err) {
  double ls = exp(theta);
  double *K = tr_malloc(n * n * sizeof *K), *Ki = grad ? tr_calloc(n * n, sizeof *Ki) : NULL, *a = tr_malloc(n * sizeof *a);
  if (!K || (grad && !Ki) || !a) {
    free(K), free(Ki), free(a);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  if (chol(K, X, n, d, ls)) {
    *lml = -INFINITY;
    if (grad) *grad = -1; /* not PD: a shorter length scale is better conditioned */
    free(K), free(Ki), free(a);
    return TR_OK;
  }
  memcpy(a, ys, n * sizeof *a);
  solve(K, n, a, 1);
  double quad = 0, logdet = 0;
  for (size_t i = 0; i < n; i++) quad += ys[i] * a[i], logdet += log(K[i * n + i]);
  *lml = -0.5 * quad - logdet - 0.5 * (double)n * log(2 * M_PI);
  if (grad) {
    /* d lml / d theta = 1/2 tr((a a' - K^-1) dK/dtheta), dK/dtheta = A^2 exp(-A), A = sqrt(3) r / l. */
    for (size_t i = 0; i < n; i++) Ki[i * n + i] = 1;
    solve(K, n, Ki, n);
    double g = 0;
    for (size_t j = 0; j < n; j++)
      for (size_t i = 0; i < n; i++) {
        if (i == j) continue;
        double A = SQRT3 * dist(&X[i * d], &X[j * d], d) / ls;
        g += (a[i] * a[j] - Ki[j * n + i]) * A * A * exp(-A);
      }
    *grad = 0.5 * g;
  }
  free(K), free(Ki), free(a);
  return TR_OK;
}

/* ---- the length scale ---------------------------------------------------- */

/* Climb the likelihood from theta0 within [lo, hi]: step uphill, doubling, until the
** gradient changes sign or a bound is reached, then bisect the bracket on its sign. */
static int climb(const double *X, const double *ys, size_t n, size_t d, double theta0, double *best_theta,
                 double *best_lml, TrErr *err) {
  const double lo = log(SW_GP_LS_MIN), hi = log(SW_GP_LS_MAX);
  double t = theta0, f, g, t1, f1, g1;
  int rc;
  if ((rc = sw_gp_lml(X, ys, n, d, t, &f, &g, err))) return rc;
  double dir = g > 0 ? 1 : -1, step = 0.5;
  for (;;) {
    if (fabs(g) < SW_GP_GTOL) { /* stationary, as L-BFGS-B stops (on a plateau too) */
      *best_theta = t;
      *best_lml = f;
      return TR_OK;
    }
    t1 = t + dir * step;
    t1 = t1 < lo ? lo : t1 > hi ? hi : t1;
    if ((rc = sw_gp_lml(X, ys, n, d, t1, &f1, &g1, err))) return rc;
    if ((g1 > 0 ? 1 : -1) != dir || t1 == lo || t1 == hi) break;
    t = t1, f = f1, g = g1, step *= 2;
  }
  if ((g1 > 0 ? 1 : -1) == dir || fabs(g1) < SW_GP_GTOL) { /* uphill to the bound, or stationary at t1 */
    t = t1, f = f1;
  } else {
    double a = t, b = t1; /* gradient has sign dir at a, -dir at b */
    for (int it = 0; it < 60 && fabs(b - a) > 1e-7; it++) {
      double m = 0.5 * (a + b), fm, gm;
      if ((rc = sw_gp_lml(X, ys, n, d, m, &fm, &gm, err))) return rc;
      if ((gm > 0 ? 1 : -1) == dir) a = m; else b = m;
    }
    double tm = 0.5 * (a + b), fm;
    if ((rc = sw_gp_lml(X, ys, n, d, tm, &fm, NULL, err))) return rc;
    if (fm >= f) t = tm, f = fm;
  }
  *best_theta = t;
  *best_lml = f;
  return TR_OK;
}

/* scikit-learn's np.isclose(theta, bound): |theta - bound| <= 1e-8 + 1e-5 |bound|. */
static int near_bound(double theta) {
  double lo = log(SW_GP_LS_MIN), hi = log(SW_GP_LS_MAX);
  return fabs(theta - lo) <= 1e-8 + 1e-5 * fabs(lo) || fabs(theta - hi) <= 1e-8 + 1e-5 * fabs(hi);
}

/* ---- fit, predict -------------------------------------------------------- */

void sw_gp_free(SwGp *gp) {
  if (!gp) return;
  free(gp->X);
  free(gp->L);
  free(gp->alpha);
  memset(gp, 0, sizeof *gp);
}

/* Standardise y into ys (W&B: population std + 1e-6; one point: mean y[0], std 1). */
static void standardise(SwGp *gp, const double *y, size_t n, double *ys) {
  double m = 0, v = 0;
  for (size_t i = 0; i < n; i++) m += y[i];
  m /= (double)n;
  for (size_t i = 0; i < n; i++) v += (y[i] - m) * (y[i] - m);
  gp->ymean = m;
  gp->ystd = n == 1 ? 1 : sqrt(v / (double)n) + SW_GP_STD_EPS;
  for (size_t i = 0; i < n; i++) ys[i] = (y[i] - m) / gp->ystd;
}

/* The length scale of largest likelihood: from l = 1 and SW_GP_RESTARTS seeded starts. */
static int fit_theta(const SwGp *gp, const double *ys, uint64_t seed, double *theta, double *lml, TrErr *err) {
  const double lo = log(SW_GP_LS_MIN), hi = log(SW_GP_LS_MAX);
  TrRng r;
  tr_rng_seed(&r, seed);
  *lml = -INFINITY;
  *theta = 0;
  for (int s = 0; s <= SW_GP_RESTARTS; s++) {
    double t0 = s == 0 ? 0 : lo + tr_rng_uniform(&r) * (hi - lo), t, f;
    int rc = climb(gp->X, ys, gp->n, gp->d, t0, &t, &f, err);
    if (rc) return rc;
    if (f > *lml) *lml = f, *theta = t;
  }
  return TR_OK;
}

int sw_gp_fit(SwGp *gp, const double *X, const double *y, size_t n, size_t d, double ls, uint64_t seed,
              TrErr *err) {
  memset(gp, 0, sizeof *gp);
  gp->n = n;
  gp->d = d;
  gp->X = tr_malloc(n * d * sizeof *gp->X);
  gp->L = tr_malloc(n * n * sizeof *gp->L);
  gp->alpha = tr_malloc(n * sizeof *gp->alpha);
  if (!gp->X || !gp->L || !gp->alpha) {
    sw_gp_free(gp);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  memcpy(gp->X, X, n * d * sizeof *X);
  standardise(gp, y, n, gp->alpha);
  double theta = ls > 0 ? log(ls) : 0, lml = 0;
  int rc = ls > 0 ? sw_gp_lml(gp->X, gp->alpha, n, d, theta, &lml, NULL, err)
                  : fit_theta(gp, gp->alpha, seed, &theta, &lml, err);
  if (rc == TR_OK && chol(gp->L, gp->X, n, d, exp(theta)))
    rc = tr_err_set(err, TR_EINVAL, "Gaussian process: K is not positive definite at length scale %g", exp(theta));
  if (rc) {
    sw_gp_free(gp);
    return rc;
  }
  gp->ls = exp(theta);
  gp->lml = lml;
  gp->at_bound = ls <= 0 && near_bound(theta);
  solve(gp->L, n, gp->alpha, 1);
  return TR_OK;
}

int sw_gp_predict(const SwGp *gp, const double *x, size_t m, double *mean, double *sd, TrErr *err) {
  size_t n = gp->n;
  double *Ks = tr_malloc(n * (m ? m : 1) * sizeof *Ks);
  if (!Ks) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (size_t j = 0; j < m; j++)
    for (size_t i = 0; i < n; i++) Ks[j * n + i] = matern15(dist(&gp->X[i * gp->d], &x[j * gp->d], gp->d), gp->ls);
  for (size_t j = 0; j < m; j++) {
    double s = 0;
    for (size_t i = 0; i < n; i++) s += Ks[j * n + i] * gp->alpha[i];
    mean[j] = s * gp->ystd + gp->ymean;
  }
  if (sd) {
    double *V = tr_malloc(n * (m ? m : 1) * sizeof *V);
    if (!V) {
      free(Ks);
      return tr_err_set(err, TR_ENOMEM, "out of memory");
    }
    memcpy(V, Ks, n * m * sizeof *V);
    if (m) solve(gp->L, n, V, m);
    for (size_t j = 0; j < m; j++) {
      double v = 1;
      for (size_t i = 0; i < n; i++) v -= Ks[j * n + i] * V[j * n + i];
      sd[j] = (v > 0 ? sqrt(v) : 0) * gp->ystd; /* scikit-learn clamps negative variances to 0 */
    }
    free(V);
  }
  free(Ks);
  return TR_OK;
}

double sw_gp_ei(double mean, double sd, double best) {
  double z = (best - mean) / (sd + SW_GP_STD_EPS);
  return (best - mean) * sw_normal_cdf(z) + sd * exp(-0.5 * z * z) / sqrt(2 * M_PI);
}

/* ---- a proposal ----------------------------------------------------------- */

/* The training rows: every observation with a loss (more than SW_GP_MAX_TRAIN: a seeded
** sample without repetition, in observation order), then the first running ones. */
static int pick_rows(const SwObs *obs, const double *loss, size_t n, TrRng *r, size_t **rows, size_t *nt,
                     size_t *np, double *best, TrErr *err) {
  size_t *idx = tr_malloc((n ? n : 1) * sizeof *idx), nd = 0;
  if (!idx) return tr_err_set(err, TR_ENOMEM, "out of memory");
  *best = INFINITY;
  for (size_t i = 0; i < n; i++)
    if (obs[i].state != SW_OBS_RUNNING && isfinite(loss[i])) {
      idx[nd++] = i;
      if (loss[i] < *best) *best = loss[i];
    }
  if (nd > SW_GP_MAX_TRAIN) {
    for (size_t i = 0; i < SW_GP_MAX_TRAIN; i++) { /* partial Fisher-Yates */
      size_t j = i + (size_t)tr_rng_below(r, nd - i), t = idx[i];
      idx[i] = idx[j], idx[j] = t;
    }
    nd = SW_GP_MAX_TRAIN;
    for (size_t i = 1; i < nd; i++) /* back in observation order */
      for (size_t j = i; j > 0 && idx[j - 1] > idx[j]; j--) {
        size_t t = idx[j];
        idx[j] = idx[j - 1], idx[j - 1] = t;
      }
  }
  *nt = nd;
  *np = 0;
  for (size_t i = 0; i < n && *np < SW_GP_MAX_TRAIN - 5; i++)
    if (obs[i].state == SW_OBS_RUNNING) idx[nd + (*np)++] = i;
  *rows = idx;
  return TR_OK;
}

/* Fit on the chosen rows; with running rows, fit on the done ones, believe the model's
** predictions there, and fit again on all (kriging believer). */
static int fit_believer(SwGp *gp, const SwObs *obs, const double *loss, const size_t *rows, size_t nt, size_t np,
                        size_t d, TrRng *r, TrErr *err) {
  size_t m = nt + np;
  double *X = tr_malloc(m * d * sizeof *X), *y = tr_malloc(m * sizeof *y);
  int rc = X && y ? TR_OK : tr_err_set(err, TR_ENOMEM, "out of memory");
  for (size_t i = 0; rc == TR_OK && i < m; i++) {
    memcpy(&X[i * d], obs[rows[i]].u, d * sizeof *X);
    y[i] = i < nt ? loss[rows[i]] : 0;
  }
  if (rc == TR_OK) rc = sw_gp_fit(gp, X, y, nt, d, 0, tr_rng_u64(r), err);
  if (rc == TR_OK && np) {
    rc = sw_gp_predict(gp, &X[nt * d], np, &y[nt], NULL, err);
    sw_gp_free(gp);
    if (rc == TR_OK) rc = sw_gp_fit(gp, X, y, m, d, 0, tr_rng_u64(r), err);
  }
  free(X);
  free(y);
  return rc;
}

/* The candidate of largest expected improvement (standardised, as W&B) into *best_j;
** candidates that are an observation's point only when every one is (seen[j] = 1). */
static int argmax_ei(const SwGp *gp, const double *C, const char *seen, size_t m, double best, size_t *best_j,
                     SwProposal *pi, TrErr *err) {
  double *mu = tr_malloc(m * sizeof *mu), *sd = tr_malloc(m * sizeof *sd);
  int rc = mu && sd ? sw_gp_predict(gp, C, m, mu, sd, err) : tr_err_set(err, TR_ENOMEM, "out of memory");
  double top = -INFINITY, b = (best - gp->ymean) / gp->ystd;
  int top_seen = 1;
  for (size_t j = 0; rc == TR_OK && j < m; j++) {
    double ei = sw_gp_ei((mu[j] - gp->ymean) / gp->ystd, sd[j] / gp->ystd, b);
    if ((top_seen && !seen[j]) || (seen[j] == top_seen && ei > top))
      top = ei, top_seen = seen[j], *best_j = j, pi->mean = mu[j], pi->sd = sd[j];
  }
  pi->score = top;
  free(mu);
  free(sd);
  return rc;
}

int sw_gp_propose(const SwSpace *sp, const SwObs *obs, const double *loss, size_t n, uint64_t seed, double *u,
                  SwProposal *info, TrErr *err) {
  size_t d = sp->n, *rows = NULL, nt = 0, np = 0, j = 0;
  SwProposal pr = {0};
  TrRng r;
  tr_rng_seed(&r, seed);
  double best, *C = NULL;
  char *seen = NULL;
  SwGp gp = {0};
  int rc = pick_rows(obs, loss, n, &r, &rows, &nt, &np, &best, err);
  pr.n_train = nt;
  pr.n_pending = np;
  if (rc == TR_OK && nt < SW_GP_MIN_RESULTS) {
    sw_space_random_fresh(sp, &r, obs, n, u);
    pr.random = 1;
    pr.why = "fewer than 2 results";
    goto done;
  }
  if (rc == TR_OK) rc = fit_believer(&gp, obs, loss, rows, nt, np, d, &r, err);
  if (rc == TR_OK && (!(C = tr_malloc(SW_GP_CANDIDATES * d * sizeof *C)) || !(seen = tr_malloc(SW_GP_CANDIDATES))))
    rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  for (size_t c = 0; rc == TR_OK && c < SW_GP_CANDIDATES; c++) {
    sw_space_random(sp, &r, &C[c * d]);
    seen[c] = (char)sw_space_seen(obs, n, &C[c * d], d);
  }
  if (rc == TR_OK) {
    pr.length_scale = gp.ls;
    if (gp.at_bound) {
      j = (size_t)tr_rng_below(&r, SW_GP_CANDIDATES);
      for (size_t t = 0; t < SW_GP_CANDIDATES && seen[j]; t++) j = (j + 1) % SW_GP_CANDIDATES;
      pr.random = 1;
      pr.why = "length scale at its bound";
    } else {
      rc = argmax_ei(&gp, C, seen, SW_GP_CANDIDATES, best, &j, &pr, err);
      pr.why = "expected improvement";
    }
  }
  if (rc == TR_OK) memcpy(u, &C[j * d], d * sizeof *u);
done:
  if (info && rc == TR_OK) *info = pr;
  sw_gp_free(&gp);
  free(C);
  free(seen);
  free(rows);
  return rc;
}
