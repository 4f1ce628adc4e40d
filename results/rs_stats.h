/*
** rs_stats.h: the small statistics behind `compare`, `report` and the plots.
**
** Contract:
** - Pure functions on caller arrays; no allocation except where stated, no I/O.
** - Undefined results are NaN, never a crash: the mean of nothing, the standard
**   deviation of fewer than two values, a CI from one value, a p-value without
**   two values per side, variance explained when the total is zero.
** - std is the sample standard deviation (n-1). The 95% CI is the Student t
**   interval mean +- t(0.975, n-1) * s / sqrt(n), t from an accurate inverse of
**   the t CDF (regularised incomplete beta), valid for any real df > 0.
** - rs_stats_welch_p: two-sided p of Welch's unequal-variance t-test.
** - rs_stats_var_explained: one-way ANOVA share, between-group SS / total SS.
** - rs_stats_pareto: cost is always lower-better; metric per `maximize`.
** - rs_stats_pearson / rs_stats_spearman: pairs with a NaN are skipped; NaN with
**   fewer than 3 pairs or when either side is constant. Spearman ranks ties by
**   their average rank and allocates its rank arrays (NaN if out of memory).
*/
#ifndef RS_STATS_H
#define RS_STATS_H

double rs_stats_mean(const double *x, int n);
double rs_stats_std(const double *x, int n);
/* Regularised incomplete beta I_x(a, b), a, b > 0, 0 <= x <= 1. */
double rs_stats_betai(double a, double b, double x);
/* P(T <= t) for Student's t with df degrees of freedom (df may be fractional). */
double rs_stats_t_cdf(double t, double df);
/* The p-quantile of Student's t, 0 < p < 1. */
double rs_stats_t_quantile(double p, double df);
/* 95% CI of the mean; returns 0 and sets lo, hi (NaN when n < 2). */
int rs_stats_ci95(const double *x, int n, double *lo, double *hi);
/* Two-sided Welch t-test p-value; NaN if na < 2 or nb < 2 or both variances 0
** with equal means (0 when variances are 0 and means differ). */
double rs_stats_welch_p(const double *a, int na, const double *b, int nb);
/* Between-group sum of squares over total sum of squares; group[i] is any int label. */
double rs_stats_var_explained(const double *y, const int *group, int n);
/* front[i] = 1 if no other point has cost <= and metric at least as good, one strictly.
** NaN points are never on the front. Returns the number of points on the front. */
int rs_stats_pareto(const double *cost, const double *metric, int n, int maximize, int *front);
/* Pearson's r of x and y. */
double rs_stats_pearson(const double *x, const double *y, int n);
/* Spearman's rho: Pearson's r of the ranks (ties averaged). */
double rs_stats_spearman(const double *x, const double *y, int n);

#endif
