/*
** sw_tpe.c: Optuna's multivariate TPE with the constant liar (see sw_tpe.h).
*/
#include "sw_tpe.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_rng.h"
#include "tr_sort.h"

size_t sw_tpe_gamma(size_t n) {
  size_t g = (n + 9) / 10; /* ceil(0.1 n) in integers */
  return g < SW_TPE_GAMMA_MAX ? g : SW_TPE_GAMMA_MAX;
}

/* ---- the split ------------------------------------------------------------ */

/* Optuna's order for l(x): finished trials by loss, then pruned ones, the ones that went
** further first, then by loss (a NaN loss last). */
typedef struct Rank {
  double step, loss;
  size_t i;
} Rank;

static int rank_cmp(const void *a, const void *b) {
  const Rank *x = a, *y = b;
  if (x->step != y->step) return x->step < y->step ? -1 : 1;
  if (x->loss != y->loss) return x->loss < y->loss ? -1 : 1;
  return x->i < y->i ? -1 : x->i > y->i;
}

int sw_tpe_split(const SwObs *obs, const double *loss, size_t n, signed char *below, size_t *observed,
                 TrErr *err) {
  Rank *r = tr_malloc((n ? n : 1) * sizeof *r);
  size_t m = 0;
  *observed = 0;
  if (!r) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (size_t i = 0; i < n; i++) {
    SwObsState st = obs[i].state;
    below[i] = st == SW_OBS_FAILED ? -1 : 0; /* running: always in g(x), the constant liar */
    if (st == SW_OBS_DONE || st == SW_OBS_PRUNED) {
      double l = loss[i] == loss[i] ? loss[i] : INFINITY;
      r[m++] = (Rank){st == SW_OBS_DONE ? -INFINITY : -(double)obs[i].step, l, i};
    }
  }
  tr_sort(r, m, sizeof *r, rank_cmp);
  size_t g = sw_tpe_gamma(m);
  for (size_t k = 0; k < g && k < m; k++) below[r[k].i] = 1;
  free(r);
  *observed = m;
  return TR_OK;
}

/* ---- a Parzen estimator --------------------------------------------------- */

typedef struct Parzen {
  size_t nk, d;     /* kernels (observations + the prior), dimensions */
  double *logw;     /* (nk) log mixture weights */
  double *mu;       /* (nk x d) numeric: kernel centre; categorical: unused */
  double *sig;      /* (nk) numeric bandwidth of each kernel */
  double *logz;     /* (nk x d) log of the truncated normal's mass in [0, 1] */
  double *cat;      /* (nk x kmax) a categorical dimension's weights, per dimension (d blocks) */
  size_t kmax;
  const int *k;     /* (d) the space's categorical sizes */
  double *scratch;  /* (nk) per-kernel log densities */
} Parzen;

static void parzen_free(Parzen *P) {
  free(P->logw);
  free(P->mu);
  free(P->sig);
  free(P->logz);
  free(P->cat);
  free(P->scratch);
}

/* Optuna's default_weights(m): ones below 25, else a ramp 1/m .. 1 for the oldest m - 25. */
static double obs_weight(size_t j, size_t m) {
  if (m < 25) return 1;
  size_t nr = m - 25;
  if (j >= nr) return 1;
  return nr == 1 ? 1.0 / (double)m : 1.0 / (double)m + (1 - 1.0 / (double)m) * (double)j / (double)(nr - 1);
}

/* The estimator of the observations rows (m of them, in observation order). */
static int parzen_build(Parzen *P, const SwSpace *sp, const SwObs *obs, const size_t *rows, size_t m, TrErr *err) {
  size_t d = sp->n, nk = m + 1;
  memset(P, 0, sizeof *P);
  P->nk = nk, P->d = d, P->k = sp->k, P->kmax = 1;
  for (size_t j = 0; j < d; j++)
    if ((size_t)sp->k[j] > P->kmax) P->kmax = (size_t)sp->k[j];
  P->logw = tr_malloc(nk * sizeof *P->logw);
  P->mu = tr_malloc(nk * d * sizeof *P->mu);
  P->sig = tr_malloc(nk * sizeof *P->sig);
  P->logz = tr_malloc(nk * d * sizeof *P->logz);
  P->cat = tr_calloc(nk * d * P->kmax, sizeof *P->cat);
  P->scratch = tr_malloc(nk * sizeof *P->scratch);
  if (!P->logw || !P->mu || !P->sig || !P->logz || !P->cat || !P->scratch) {
    parzen_free(P);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  double wsum = SW_TPE_PRIOR_WEIGHT;
  for (size_t j = 0; j < m; j++) wsum += obs_weight(j, m);
  double s = 0.2 * pow((double)(m ? m : 1), -1.0 / ((double)d + 4));
  double lo = 1.0 / fmin(100, (double)m + 2);
  s = s < lo ? lo : s > 1 ? 1 : s;
  for (size_t j = 0; j < nk; j++) {
    int prior = j == m;
    P->logw[j] = log((prior ? SW_TPE_PRIOR_WEIGHT : obs_weight(j, m)) / wsum);
    P->sig[j] = prior ? 1 : s;
    for (size_t t = 0; t < d; t++) {
      double mu = prior ? 0.5 : obs[rows[j]].u[t];
      P->mu[j * d + t] = mu;
      P->logz[j * d + t] = log(sw_normal_cdf((1 - mu) / P->sig[j]) - sw_normal_cdf(-mu / P->sig[j]));
      if (!sp->k[t]) continue;
      double *c = &P->cat[(t * nk + j) * P->kmax], base = SW_TPE_PRIOR_WEIGHT / (double)nk;
      for (int v = 0; v < sp->k[t]; v++) c[v] = base;
      if (!prior) c[sw_space_index(mu, sp->k[t])] += 1;
      double rs = 0;
      for (int v = 0; v < sp->k[t]; v++) rs += c[v];
      for (int v = 0; v < sp->k[t]; v++) c[v] /= rs;
    }
  }
  return TR_OK;
}

static double parzen_logpdf(const Parzen *P, const double *x) {
  double top = -INFINITY, *lk = P->scratch;
  for (size_t j = 0; j < P->nk; j++) {
    double l = P->logw[j];
    for (size_t t = 0; t < P->d; t++) {
      if (P->k[t]) {
        l += log(P->cat[(t * P->nk + j) * P->kmax + sw_space_index(x[t], P->k[t])]);
      } else {
        double z = (x[t] - P->mu[j * P->d + t]) / P->sig[j];
        l += -0.5 * z * z - 0.5 * log(2 * M_PI) - log(P->sig[j]) - P->logz[j * P->d + t];
      }
    }
    lk[j] = l;
    if (l > top) top = l;
  }
  double s = 0;
  for (size_t j = 0; j < P->nk; j++) s += exp(lk[j] - top);
  return top + log(s);
}

/* One sample: a kernel by weight, then each dimension from it. */
static void parzen_sample(const Parzen *P, TrRng *r, double *x) {
  double u = tr_rng_uniform(r), acc = 0;
  size_t j = 0;
  for (; j + 1 < P->nk; j++) {
    acc += exp(P->logw[j]);
    if (u < acc) break;
  }
  for (size_t t = 0; t < P->d; t++) {
    double v = tr_rng_uniform(r);
    if (P->k[t]) {
      const double *c = &P->cat[(t * P->nk + j) * P->kmax];
      int i = 0;
      for (double a = c[0]; i + 1 < P->k[t] && v >= a; a += c[++i]) {
      }
      x[t] = (i + 1.0) / P->k[t];
    } else {
      double mu = P->mu[j * P->d + t], s = P->sig[j];
      double a = sw_normal_cdf(-mu / s), b = sw_normal_cdf((1 - mu) / s);
      double y = mu + s * sw_normal_quantile(a + v * (b - a));
      x[t] = y < 0 ? 0 : y > 1 ? 1 : y;
    }
  }
}

/* ---- a proposal ----------------------------------------------------------- */

/* Sample l(x), score log l - log g, keep the best candidate in u (a sample that is an
** observation's point only when every sample is). */
static int tpe_best(const SwSpace *sp, const Parzen *L, const Parzen *G, const SwObs *obs, size_t n, TrRng *r,
                    double *u, double *score, TrErr *err) {
  double *x = tr_malloc(sp->n * sizeof *x);
  if (!x) return tr_err_set(err, TR_ENOMEM, "out of memory");
  *score = -INFINITY;
  int top_seen = 1;
  for (int c = 0; c < SW_TPE_CANDIDATES; c++) {
    parzen_sample(L, r, x);
    sw_space_snap(sp, x);
    double s = parzen_logpdf(L, x) - parzen_logpdf(G, x);
    int seen = sw_space_seen(obs, n, x, sp->n);
    if (c == 0 || (top_seen && !seen) || (seen == top_seen && s > *score))
      *score = s, top_seen = seen, memcpy(u, x, sp->n * sizeof *u);
  }
  free(x);
  return TR_OK;
}

/* l(x) into L and g(x) into G from the split below[] (rows: n scratch). */
static int build_lg(const SwSpace *sp, const SwObs *obs, const signed char *below, size_t n, size_t *rows, Parzen *L,
                    Parzen *G, TrErr *err) {
  size_t nb = 0, na = 0;
  for (size_t i = 0; i < n; i++) /* below first, then above, each in observation order */
    if (below[i] == 1) rows[nb++] = i;
  for (size_t i = 0; i < n; i++)
    if (below[i] == 0) rows[nb + na++] = i;
  int rc = parzen_build(L, sp, obs, rows, nb, err);
  if (rc == TR_OK && (rc = parzen_build(G, sp, obs, rows + nb, na, err)) != TR_OK) parzen_free(L);
  return rc;
}

int sw_tpe_density(const SwSpace *sp, const SwObs *obs, const double *loss, size_t n, const double *x,
                   double *log_l, double *log_g, TrErr *err) {
  signed char *below = tr_malloc(n ? n : 1);
  size_t *rows = tr_malloc((n ? n : 1) * sizeof *rows), m = 0;
  int rc = below && rows ? sw_tpe_split(obs, loss, n, below, &m, err) : tr_err_set(err, TR_ENOMEM, "out of memory");
  Parzen L, G;
  if (rc == TR_OK && (rc = build_lg(sp, obs, below, n, rows, &L, &G, err)) == TR_OK) {
    *log_l = parzen_logpdf(&L, x);
    *log_g = parzen_logpdf(&G, x);
    parzen_free(&L);
    parzen_free(&G);
  }
  free(below);
  free(rows);
  return rc;
}

int sw_tpe_propose(const SwSpace *sp, const SwObs *obs, const double *loss, size_t n, uint64_t seed, double *u,
                   SwProposal *info, TrErr *err) {
  SwProposal pr = {0};
  TrRng r;
  tr_rng_seed(&r, seed);
  signed char *below = tr_malloc(n ? n : 1);
  size_t *rows = tr_malloc((n ? n : 1) * sizeof *rows);
  if (!below || !rows) {
    free(below), free(rows);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  size_t m = 0;
  int rc = sw_tpe_split(obs, loss, n, below, &m, err);
  for (size_t i = 0; i < n; i++) pr.n_pending += obs[i].state == SW_OBS_RUNNING;
  pr.n_train = m;
  if (rc == TR_OK && m < SW_TPE_STARTUP) {
    sw_space_random_fresh(sp, &r, obs, n, u);
    pr.random = 1;
    pr.why = "start-up trials (fewer than 10 observed)";
  } else if (rc == TR_OK) {
    Parzen L, G;
    if ((rc = build_lg(sp, obs, below, n, rows, &L, &G, err)) == TR_OK) {
      rc = tpe_best(sp, &L, &G, obs, n, &r, u, &pr.score, err);
      parzen_free(&L);
      parzen_free(&G);
    }
    pr.why = "largest l(x) / g(x)";
  }
  if (info && rc == TR_OK) *info = pr;
  free(below);
  free(rows);
  return rc;
}
