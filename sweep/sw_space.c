/*
** sw_space.c: parameters to [0, 1] and back through their CDFs (see sw_space.h).
*/
#include "sw_space.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"

/* Normal decodes stay within ~6 sigma: u = 0 or 1 would give an infinite value. */
#define SW_SPACE_U_EPS 1e-9

static double clamp01(double u) { return u < 0 ? 0 : u > 1 ? 1 : (u == u ? u : 0.5); }

/* ---- the normal distribution --------------------------------------------- */

double sw_normal_cdf(double z) { return 0.5 * erfc(-z / sqrt(2.0)); }

double sw_normal_quantile(double p) {
  static const double a[] = {-3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02,
                             1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00};
  static const double b[] = {-5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02,
                             6.680131188771972e+01, -1.328068155288572e+01};
  static const double c[] = {-7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00,
                             -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00};
  static const double d[] = {7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00,
                             3.754408661907416e+00};
  if (!(p > 0)) return -INFINITY;
  if (!(p < 1)) return INFINITY;
  double x, q, r;
  if (p < 0.02425) {
    q = sqrt(-2 * log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p > 1 - 0.02425) {
    q = sqrt(-2 * log1p(-p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) /
        ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else {
    q = p - 0.5;
    r = q * q;
    x = (((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q /
        (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  }
  /* One Halley step on Phi(x) - p takes the 1e-9 approximation to full precision. */
  double e = sw_normal_cdf(x) - p, u = e * sqrt(2 * M_PI) * exp(x * x / 2);
  return x - u / (1 + x * u / 2);
}

/* ---- one parameter ------------------------------------------------------- */

static int is_log_values(SwDist d) { return d == SW_DIST_LOG_UNIFORM_VALUES || d == SW_DIST_Q_LOG_UNIFORM_VALUES; }
static int is_log_exp(SwDist d) { return d == SW_DIST_LOG_UNIFORM || d == SW_DIST_Q_LOG_UNIFORM; }
static int is_normal(SwDist d) { return d == SW_DIST_NORMAL || d == SW_DIST_Q_NORMAL; }
static int is_log_normal(SwDist d) { return d == SW_DIST_LOG_NORMAL || d == SW_DIST_Q_LOG_NORMAL; }

/* (x - lo) / (hi - lo) clamped, 0.5 for an empty range. */
static double lin(double x, double lo, double hi) { return hi > lo ? clamp01((x - lo) / (hi - lo)) : 0.5; }

int sw_space_index(double u, int k) {
  /* The inverse of (i + 1) / K; the tolerance keeps (i + 1) / K itself in cell i. */
  int i = (int)ceil(clamp01(u) * k - 1e-9) - 1;
  return i < 0 ? 0 : i >= k ? k - 1 : i;
}

double sw_space_encode_value(const SwParam *p, SwValue v) {
  SwDist d = p->dist;
  double x = v.x;
  if (d == SW_DIST_CONSTANT) return 0.5;
  if (d == SW_DIST_CATEGORICAL) return p->n_values > 0 ? clamp01((v.index + 1.0) / p->n_values) : 0.5;
  if (d == SW_DIST_INT_UNIFORM) {
    double cells = (double)p->imax - (double)p->imin + 1;
    return clamp01((x - (double)p->imin + 0.5) / cells);
  }
  if (d == SW_DIST_UNIFORM || d == SW_DIST_Q_UNIFORM) return lin(x, p->min, p->max);
  if (is_log_values(d)) return x > 0 ? lin(log(x), log(p->min), log(p->max)) : 0;
  if (is_log_exp(d)) return x > 0 ? lin(log(x), p->min, p->max) : 0;
  if (is_normal(d)) return p->sigma > 0 ? sw_normal_cdf((x - p->mu) / p->sigma) : 0.5;
  if (is_log_normal(d)) {
    if (!(x > 0)) return 0;
    return p->sigma > 0 ? sw_normal_cdf((log(x) - p->mu) / p->sigma) : 0.5;
  }
  return 0.5;
}

SwValue sw_space_decode_value(const SwParam *p, double u) {
  SwValue v = {0, 0};
  SwDist d = p->dist;
  u = clamp01(u);
  if (d == SW_DIST_CONSTANT) return v;
  if (d == SW_DIST_CATEGORICAL) {
    v.index = sw_space_index(u, p->n_values);
    return v;
  }
  if (d == SW_DIST_INT_UNIFORM) {
    double cells = (double)p->imax - (double)p->imin + 1, k = floor(u * cells);
    if (k > cells - 1) k = cells - 1;
    v.x = (double)p->imin + k;
    return v;
  }
  double x = p->mu;
  if (d == SW_DIST_UNIFORM || d == SW_DIST_Q_UNIFORM) {
    x = p->min + u * (p->max - p->min);
  } else if (is_log_values(d)) {
    x = exp(log(p->min) + u * (log(p->max) - log(p->min)));
    x = x > p->max ? p->max : x < p->min ? p->min : x; /* exp(log(max)) may round past max */
  } else if (is_log_exp(d)) {
    x = exp(p->min + u * (p->max - p->min));
  } else {
    double z = p->sigma > 0 ? sw_normal_quantile(u < SW_SPACE_U_EPS ? SW_SPACE_U_EPS
                                                 : u > 1 - SW_SPACE_U_EPS ? 1 - SW_SPACE_U_EPS : u) : 0;
    x = p->mu + p->sigma * z;
    if (is_log_normal(d)) x = exp(x);
  }
  v.x = sw_param_quantise(p, x);
  return v;
}

/* "x - 5" or "x + 5": the text of x - a. */
static void minus(char *buf, size_t n, const char *x, double a) {
  snprintf(buf, n, "%s %c %g", x, a < 0 ? '+' : '-', fabs(a));
}

void sw_space_describe(const SwParam *p, char *buf, size_t n) {
  SwDist d = p->dist;
  const char *q = p->q > 0 ? ", then rounded to a multiple of q" : "";
  char t[96];
  double cells = (double)p->imax - (double)p->imin + 1;
  if (d == SW_DIST_CONSTANT) {
    snprintf(buf, n, "not modelled (a constant)");
  } else if (d == SW_DIST_CATEGORICAL) {
    snprintf(buf, n, "u = (i + 1) / %d for value i; back: i = ceil(%d u) - 1", p->n_values, p->n_values);
  } else if (d == SW_DIST_INT_UNIFORM) {
    minus(t, sizeof t, "x", (double)p->imin - 0.5);
    snprintf(buf, n, "u = (%s) / %.17g; back: x = %lld + floor(%.17g u)", t, cells, (long long)p->imin, cells);
  } else if (d == SW_DIST_UNIFORM || d == SW_DIST_Q_UNIFORM) {
    minus(t, sizeof t, "x", p->min);
    snprintf(buf, n, "u = (%s) / %g%s", t, p->max - p->min, q);
  } else if (is_log_values(d)) {
    snprintf(buf, n, "u = (ln x - ln %g) / (ln %g - ln %g)%s", p->min, p->max, p->min, q);
  } else if (is_log_exp(d)) {
    minus(t, sizeof t, "ln x", p->min);
    snprintf(buf, n, "u = (%s) / %g%s", t, p->max - p->min, q);
  } else {
    minus(t, sizeof t, is_normal(d) ? "x" : "ln x", p->mu);
    snprintf(buf, n, "u = Phi((%s) / %g)%s", t, p->sigma, q);
  }
}

/* ---- the space ----------------------------------------------------------- */

int sw_space_init(SwSpace *sp, const SwSpec *s, TrErr *err) {
  memset(sp, 0, sizeof *sp);
  size_t np = sw_spec_param_count(s), n = 0;
  for (size_t i = 0; i < np; i++) n += sw_param_modelled(sw_spec_param(s, i));
  if (n == 0) {
    int line, col;
    sw_spec_where(s, &line, &col);
    return tr_err_set(err, TR_EINVAL, "%s:%d:%d: %s search needs a parameter to model (a distribution, or "
                      "values with 2 or more entries), and every parameter is a constant", sw_spec_path(s), line,
                      col, sw_method_name(sw_spec_method(s)));
  }
  sp->all = tr_malloc(np * sizeof *sp->all);
  sp->param = tr_malloc(n * sizeof *sp->param);
  sp->k = tr_malloc(n * sizeof *sp->k);
  if (!sp->all || !sp->param || !sp->k) {
    sw_space_free(sp);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  sp->n_params = np;
  for (size_t i = 0; i < np; i++) {
    const SwParam *p = sp->all[i] = sw_spec_param(s, i);
    if (!sw_param_modelled(p)) continue;
    sp->param[sp->n] = i;
    sp->k[sp->n++] = p->dist == SW_DIST_CATEGORICAL ? p->n_values : 0;
  }
  return TR_OK;
}

void sw_space_free(SwSpace *sp) {
  if (!sp) return;
  free(sp->all);
  free(sp->param);
  free(sp->k);
  memset(sp, 0, sizeof *sp);
}

void sw_space_encode(const SwSpace *sp, const SwValue *vals, double *u) {
  for (size_t d = 0; d < sp->n; d++) u[d] = sw_space_encode_value(sp->all[sp->param[d]], vals[sp->param[d]]);
}

void sw_space_decode(const SwSpace *sp, const double *u, SwValue *vals) {
  for (size_t i = 0; i < sp->n_params; i++) vals[i] = (SwValue){0, 0};
  for (size_t d = 0; d < sp->n; d++) vals[sp->param[d]] = sw_space_decode_value(sp->all[sp->param[d]], u[d]);
}

void sw_space_snap(const SwSpace *sp, double *u) {
  for (size_t d = 0; d < sp->n; d++) {
    const SwParam *p = sp->all[sp->param[d]];
    u[d] = sw_space_encode_value(p, sw_space_decode_value(p, u[d]));
  }
}

void sw_space_random(const SwSpace *sp, TrRng *r, double *u) {
  for (size_t d = 0; d < sp->n; d++) u[d] = tr_rng_uniform(r);
  sw_space_snap(sp, u);
}

uint64_t sw_space_seed(uint64_t sweep_seed, uint64_t trial_index) {
  TrRng r;
  /* "proposal" in the seed keeps these streams apart from random search's (seed, j). */
  tr_rng_seed2(&r, sweep_seed ^ 0x70726f706f73616cULL, trial_index);
  return tr_rng_u64(&r);
}

/* ---- observations -------------------------------------------------------- */

void sw_space_random_fresh(const SwSpace *sp, TrRng *r, const SwObs *obs, size_t n_obs, double *u) {
  sw_space_random(sp, r, u);
  for (int t = 1; t < SW_MAX_REDRAWS && sw_space_seen(obs, n_obs, u, sp->n); t++) sw_space_random(sp, r, u);
}

int sw_space_seen(const SwObs *obs, size_t n_obs, const double *u, size_t n) {
  for (size_t i = 0; i < n_obs; i++)
    if (obs[i].u && memcmp(obs[i].u, u, n * sizeof *u) == 0) return 1;
  return 0;
}

void sw_obs_losses(const SwObs *obs, size_t n, SwGoal goal, const double *impute, double *loss) {
  double sign = goal == SW_GOAL_MAXIMIZE ? -1 : 1, worst = NAN;
  for (size_t i = 0; i < n; i++) {
    int seen = obs[i].state == SW_OBS_DONE || obs[i].state == SW_OBS_PRUNED;
    loss[i] = seen && isfinite(obs[i].y) ? sign * obs[i].y : NAN;
    if (isfinite(loss[i]) && !(worst >= loss[i])) worst = loss[i];
  }
  double fill = impute ? sign * *impute : isfinite(worst) ? worst : 0;
  for (size_t i = 0; i < n; i++)
    if (obs[i].state != SW_OBS_RUNNING && !isfinite(loss[i])) loss[i] = fill;
}
