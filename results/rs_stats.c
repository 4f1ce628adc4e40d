/* rs_stats.c: mean, std, Student t, Welch, variance explained, Pareto, correlation. */
#include "rs_stats.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>

#include "tr_alloc.h"
#include "tr_sort.h"

double rs_stats_mean(const double *x, int n) {
  if (n <= 0) return NAN;
  double s = 0;
  for (int i = 0; i < n; i++) s += x[i];
  return s / n;
}

double rs_stats_std(const double *x, int n) {
  if (n < 2) return NAN;
  double m = rs_stats_mean(x, n), ss = 0;
  for (int i = 0; i < n; i++) ss += (x[i] - m) * (x[i] - m); /* two-pass: no cancellation */
  return sqrt(ss / (n - 1));
}

/* Continued fraction of I_x(a,b) (modified Lentz), converges fast for x < (a+1)/(a+b+2). */
static double betacf(double a, double b, double x) {
  const double tiny = 1e-300;
  double c = 1, d = 1 - (a + b) * x / (a + 1);
  if (fabs(d) < tiny) d = tiny;
  d = 1 / d;
  double h = d;
  for (int m = 1; m <= 1000; m++) {
    double m2 = 2.0 * m;
    double num = m * (b - m) * x / ((a + m2 - 1) * (a + m2));
    d = 1 + num * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    num = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1));
    d = 1 + num * d;
    if (fabs(d) < tiny) d = tiny;
    c = 1 + num / c;
    if (fabs(c) < tiny) c = tiny;
    d = 1 / d;
    double del = d * c;
    h *= del;
    if (fabs(del - 1) < 1e-15) break;
  }
  return h;
}

double rs_stats_betai(double a, double b, double x) {
  if (!(a > 0) || !(b > 0) || !(x >= 0) || !(x <= 1)) return NAN;
  if (x == 0 || x == 1) return x;
  double lbt = lgamma(a + b) - lgamma(a) - lgamma(b) + a * log(x) + b * log1p(-x);
  double bt = exp(lbt);
  if (x < (a + 1) / (a + b + 2)) return bt * betacf(a, b, x) / a;
  return 1 - bt * betacf(b, a, 1 - x) / b;
}

double rs_stats_t_cdf(double t, double df) {
  if (isnan(t) || !(df > 0)) return NAN;
  if (isinf(t)) return t > 0 ? 1 : 0;
  if (df > 1e7) return 0.5 * erfc(-t / sqrt(2.0)); /* the normal limit */
  double tail = 0.5 * rs_stats_betai(df / 2, 0.5, df / (df + t * t)); /* P(T > |t|) */
  return t > 0 ? 1 - tail : tail;
}

double rs_stats_t_quantile(double p, double df) {
  if (!(p > 0 && p < 1) || !(df > 0)) return NAN;
  if (p == 0.5) return 0;
  if (p < 0.5) return -rs_stats_t_quantile(1 - p, df);
  double lo = 0, hi = 1;
  while (rs_stats_t_cdf(hi, df) < p && hi < 1e300) hi *= 2;
  /* Bisection to the last bit: monotone, cheap enough (tens of CDF calls). */
  for (int i = 0; i < 200 && hi - lo > 1e-15 * hi; i++) {
    double mid = 0.5 * (lo + hi);
    if (rs_stats_t_cdf(mid, df) < p) lo = mid; else hi = mid;
  }
  return 0.5 * (lo + hi);
}

int rs_stats_ci95(const double *x, int n, double *lo, double *hi) {
  double m = rs_stats_mean(x, n), s = rs_stats_std(x, n);
  if (n < 2) {
    *lo = *hi = NAN;
    return 0;
  }
  double h = rs_stats_t_quantile(0.975, n - 1) * s / sqrt((double)n);
  *lo = m - h;
  *hi = m + h;
  return 0;
}

double rs_stats_welch_p(const double *a, int na, const double *b, int nb) {
  if (na < 2 || nb < 2) return NAN;
  double ma = rs_stats_mean(a, na), mb = rs_stats_mean(b, nb);
  double sa = rs_stats_std(a, na), sb = rs_stats_std(b, nb);
  double va = sa * sa / na, vb = sb * sb / nb, se2 = va + vb;
  if (se2 == 0) return ma == mb ? NAN : 0;
  double t = (ma - mb) / sqrt(se2);
  /* Welch-Satterthwaite degrees of freedom. */
  double df = se2 * se2 / (va * va / (na - 1) + vb * vb / (nb - 1));
  return 2 * rs_stats_t_cdf(-fabs(t), df);
}

double rs_stats_var_explained(const double *y, const int *group, int n) {
  if (n < 2) return NAN;
  double m = rs_stats_mean(y, n), sst = 0, ssb = 0;
  for (int i = 0; i < n; i++) sst += (y[i] - m) * (y[i] - m);
  if (!(sst > 0)) return NAN;
  /* O(n^2) over distinct labels is fine at sweep sizes (hundreds of trials). */
  for (int i = 0; i < n; i++) {
    int first = 1;
    for (int j = 0; j < i; j++)
      if (group[j] == group[i]) { first = 0; break; }
    if (!first) continue;
    double s = 0;
    int k = 0;
    for (int j = i; j < n; j++)
      if (group[j] == group[i]) { s += y[j]; k++; }
    double gm = s / k;
    ssb += k * (gm - m) * (gm - m);
  }
  return ssb / sst;
}

int rs_stats_pareto(const double *cost, const double *metric, int n, int maximize, int *front) {
  int count = 0;
  for (int i = 0; i < n; i++) {
    front[i] = !isnan(cost[i]) && !isnan(metric[i]);
    for (int j = 0; j < n && front[i]; j++) {
      if (j == i || isnan(cost[j]) || isnan(metric[j])) continue;
      double mi = maximize ? -metric[i] : metric[i], mj = maximize ? -metric[j] : metric[j];
      if (cost[j] <= cost[i] && mj <= mi && (cost[j] < cost[i] || mj < mi)) front[i] = 0;
    }
    count += front[i];
  }
  return count;
}

double rs_stats_pearson(const double *x, const double *y, int n) {
  double sx = 0, sy = 0;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(x[i]) && !isnan(y[i])) sx += x[i], sy += y[i], m++;
  if (m < 3) return NAN;
  double mx = sx / m, my = sy / m, sxx = 0, syy = 0, sxy = 0; /* two-pass: no cancellation */
  for (int i = 0; i < n; i++) {
    if (isnan(x[i]) || isnan(y[i])) continue;
    double dx = x[i] - mx, dy = y[i] - my;
    sxx += dx * dx, syy += dy * dy, sxy += dx * dy;
  }
  if (!(sxx > 0) || !(syy > 0)) return NAN;
  double r = sxy / sqrt(sxx * syy);
  return r > 1 ? 1 : r < -1 ? -1 : r;
}

typedef struct ValPos {
  double v;
  int i;
} ValPos;

static int cmp_valpos(const void *a, const void *b) {
  double x = ((const ValPos *)a)->v, y = ((const ValPos *)b)->v;
  return (x > y) - (x < y);
}

/* Average ranks (1-based) of v[0..m): tied values share the mean of their positions.
** O(m log m) (s: scratch of m): an inference sweep may hold 100,000 trials. */
static void ranks(const double *v, int m, double *rk, ValPos *s) {
  for (int i = 0; i < m; i++) s[i] = (ValPos){v[i], i};
  tr_sort(s, (size_t)m, sizeof *s, cmp_valpos);
  for (int a = 0; a < m;) {
    int b = a;
    while (b < m && s[b].v == s[a].v) b++;
    for (int k = a; k < b; k++) rk[s[k].i] = (a + 1 + b) / 2.0;
    a = b;
  }
}

double rs_stats_spearman(const double *x, const double *y, int n) {
  if (n < 3) return NAN;
  double *buf = tr_malloc(4 * (size_t)n * sizeof *buf);
  ValPos *s = tr_malloc((size_t)n * sizeof *s);
  if (!buf || !s) {
    free(buf), free(s);
    return NAN;
  }
  double *px = buf, *py = buf + n, *rx = buf + 2 * n, *ry = buf + 3 * n;
  int m = 0;
  for (int i = 0; i < n; i++)
    if (!isnan(x[i]) && !isnan(y[i])) px[m] = x[i], py[m] = y[i], m++;
  ranks(px, m, rx, s), ranks(py, m, ry, s);
  free(s);
  double r = rs_stats_pearson(rx, ry, m);
  free(buf);
  return r;
}
