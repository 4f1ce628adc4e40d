/* rs_study.c: learning-rate and batch-size studies over plain arrays (see rs_study.h). */
#include "rs_study.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_stats.h"
#include "tr_alloc.h"
#include "tr_rng.h"
#include "tr_sort.h"

/* ---- small helpers ---- */

static void set_status(RsStudyStatus *st, char *reason, RsStudyStatus s, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void set_status(RsStudyStatus *st, char *reason, RsStudyStatus s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(reason, RS_STUDY_REASON_MAX, fmt, ap);
  va_end(ap);
  *st = s;
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* Sort and deduplicate x in place; returns the distinct count. */
static int unique_doubles(double *x, int n) {
  tr_sort(x, (size_t)n, sizeof *x, tr_cmp_double);
  int m = 0;
  for (int i = 0; i < n; i++)
    if (m == 0 || x[i] != x[m - 1]) x[m++] = x[i];
  return m;
}

static int find_double(const double *x, int n, double v) {
  const double *p = bsearch(&v, x, (size_t)n, sizeof *x, tr_cmp_double);
  return p ? (int)(p - x) : -1;
}

/* The q-quantile of sorted x (linear between order statistics). */
static double quantile_sorted(const double *x, int n, double q) {
  if (n <= 0) return NAN;
  double h = q * (n - 1);
  int i = (int)floor(h);
  if (i >= n - 1) return x[n - 1];
  return x[i] + (h - i) * (x[i + 1] - x[i]);
}

/* Median of x[0..n) (sorts x). */
static double median(double *x, int n) {
  tr_sort(x, (size_t)n, sizeof *x, tr_cmp_double);
  return quantile_sorted(x, n, 0.5);
}

/* ---- learning-rate study ---- */

/* The estimate from per-level means: best candidate, then the local parabola.
** cand[i] says whether level i may be the optimum. Returns the best index or -1. */
static int lr_estimate(const double *x, const double *mean, const unsigned char *cand, int nl, int maximize,
                       double *xopt, double *vopt, RsLrFit *fit) {
  int b = -1;
  for (int i = 0; i < nl; i++)
    if (cand[i] && (b < 0 || (maximize ? mean[i] > mean[b] : mean[i] < mean[b]))) b = i;
  if (b < 0) return -1;
  *xopt = x[b], *vopt = mean[b], *fit = RS_LR_FIT_GRID;
  if (b == 0 || b == nl - 1 || !cand[b - 1] || !cand[b + 1]) return b;
  double sg = maximize ? -1 : 1; /* fit the loss-like -value when maximizing */
  double x0 = x[b - 1], x1 = x[b], x2 = x[b + 1];
  double y0 = sg * mean[b - 1], y1 = sg * mean[b], y2 = sg * mean[b + 1];
  double d01 = (y1 - y0) / (x1 - x0), d12 = (y2 - y1) / (x2 - x1);
  double a = (d12 - d01) / (x2 - x0);
  if (!(a > 0)) return b; /* flat or concave: no interior minimum */
  double xs = 0.5 * (x0 + x1) - d01 / (2 * a);
  if (xs < x0) xs = x0; /* rounding only: the middle point is best */
  if (xs > x2) xs = x2;
  *xopt = xs;
  *vopt = sg * (y0 + d01 * (xs - x0) + a * (xs - x0) * (xs - x1));
  *fit = RS_LR_FIT_QUADRATIC;
  return b;
}

/* Work arrays of one study, freed together. */
typedef struct LrWork {
  double *x, *vals, *mean, *boot;
  int64_t *seeds;
  int *lv, *sv, *wcount;
  double *wsum; /* bootstrap: per level, the weighted sum (vals holds the weights) */
  unsigned char *cand, *bad;
} LrWork;

static void lr_work_free(LrWork *w) {
  free(w->x), free(w->vals), free(w->mean), free(w->boot), free(w->seeds);
  free(w->lv), free(w->sv), free(w->wcount), free(w->wsum), free(w->cand), free(w->bad);
}

static int pt_diverged(const RsLrPoint *p) { return p->diverged || !isfinite(p->value); }

/* Levels and per-level statistics; returns the number of distinct seeds, -1 on OOM. */
static int lr_levels(const RsLrPoint *pt, int n, LrWork *w, RsLrStudy *s) {
  for (int i = 0; i < n; i++) w->x[i] = pt[i].lr, w->seeds[i] = pt[i].seed;
  s->nlevel = unique_doubles(w->x, n);
  tr_sort(w->seeds, (size_t)n, sizeof *w->seeds, cmp_i64);
  int ns = 0;
  for (int i = 0; i < n; i++)
    if (ns == 0 || w->seeds[i] != w->seeds[ns - 1]) w->seeds[ns++] = w->seeds[i];
  s->level = tr_calloc((size_t)s->nlevel, sizeof *s->level);
  if (!s->level) return -1;
  for (int i = 0; i < n; i++) {
    w->lv[i] = find_double(w->x, s->nlevel, pt[i].lr);
    int64_t *f = bsearch(&pt[i].seed, w->seeds, (size_t)ns, sizeof *w->seeds, cmp_i64);
    w->sv[i] = (int)(f - w->seeds);
  }
  for (int l = 0; l < s->nlevel; l++) {
    RsLrLevel *L = &s->level[l];
    L->lr = w->x[l];
    int k = 0;
    for (int i = 0; i < n; i++) {
      if (w->lv[i] != l) continue;
      if (pt_diverged(&pt[i])) L->n_diverged++;
      else w->vals[k++] = pt[i].value;
    }
    L->n = k;
    L->mean = rs_stats_mean(w->vals, k);
    L->std = rs_stats_std(w->vals, k);
    rs_stats_ci95(w->vals, k, &L->ci_lo, &L->ci_hi);
    w->mean[l] = L->mean;
    w->cand[l] = k > 0 && L->n_diverged == 0;
    w->x[l] = log(L->lr);
  }
  return ns;
}

/* The percentile bootstrap over seeds; fills s->lr_lo/hi and s->n_boot. */
static void lr_bootstrap(const RsLrPoint *pt, int n, int ns, int nrep, uint64_t seed, LrWork *w, RsLrStudy *s) {
  TrRng rng;
  tr_rng_seed(&rng, seed);
  int nl = s->nlevel, got = 0;
  for (int r = 0; r < nrep; r++) {
    memset(w->wcount, 0, (size_t)ns * sizeof *w->wcount);
    for (int k = 0; k < ns; k++) w->wcount[tr_rng_below(&rng, (uint64_t)ns)]++;
    for (int l = 0; l < nl; l++) w->wsum[l] = 0, w->vals[l] = 0, w->bad[l] = 0;
    for (int i = 0; i < n; i++) {
      int c = w->wcount[w->sv[i]];
      if (!c) continue;
      if (pt_diverged(&pt[i])) w->bad[w->lv[i]] = 1;
      else w->wsum[w->lv[i]] += c * pt[i].value, w->vals[w->lv[i]] += c;
    }
    for (int l = 0; l < nl; l++) {
      w->cand[l] = !w->bad[l] && w->vals[l] > 0;
      w->mean[l] = w->cand[l] ? w->wsum[l] / w->vals[l] : NAN;
    }
    double xo, vo;
    RsLrFit fit;
    if (lr_estimate(w->x, w->mean, w->cand, nl, s->maximize, &xo, &vo, &fit) >= 0) w->boot[got++] = xo;
  }
  tr_sort(w->boot, (size_t)got, sizeof *w->boot, tr_cmp_double);
  s->n_boot = got;
  /* Hesterberg's expanded percentile interval: the plain percentile interval is too
  ** narrow with few seeds (it has no n-1 and no t), so take the quantiles whose normal
  ** deviate is sqrt(n / (n-1)) t(0.975, n-1) instead of 1.96. */
  double z = sqrt((double)ns / (ns - 1)) * rs_stats_t_quantile(0.975, ns - 1);
  double q = 0.5 * erfc(z / sqrt(2.0));
  if (got >= 2) s->lr_lo = exp(quantile_sorted(w->boot, got, q)), s->lr_hi = exp(quantile_sorted(w->boot, got, 1 - q));
}

/* One side of the basin: from the optimum (x0, v0) over the levels beyond it in direction
** dir (+1 up, -1 down) on the piecewise-linear curve of the means; returns the log lr
** where the curve leaves the tolerance (limit), or the last point inside (*open = 1 when
** that is the end of the grid). A level with a divergence ends the basin before it. */
static double basin_end(const double *x, const double *mean, const unsigned char *cand, int nl, int dir,
                        double x0, double v0, double limit, int maximize, int *open) {
  double xp = x0, yp = v0;
  *open = 0;
  for (int k = 0; k < nl; k++) {
    int l = dir > 0 ? k : nl - 1 - k;
    if (dir > 0 ? x[l] <= x0 : x[l] >= x0) continue;
    if (!cand[l]) return xp;
    double y = mean[l];
    if (maximize ? y < limit : y > limit) {
      double t = (limit - yp) / (y - yp);
      return xp + (t >= 0 && t <= 1 ? t : 0) * (x[l] - xp);
    }
    xp = x[l], yp = y;
  }
  *open = 1;
  return xp;
}

static void lr_study_clear(RsLrStudy *s) {
  memset(s, 0, sizeof *s);
  s->best = -1;
  s->lr_opt = s->value_opt = s->lr_lo = s->lr_hi = NAN;
  s->lr_diverged_min = s->lr_stable_max = s->basin_tol = s->basin_lo = s->basin_hi = NAN;
}

/* Stability edge, edge flags and basin from the full-data estimate. */
static void lr_describe(const LrWork *w, const RsLrOptions *o, RsLrStudy *s) {
  int nl = s->nlevel, b = s->best;
  for (int l = 0; l < nl; l++) {
    if (s->level[l].n_diverged && isnan(s->lr_diverged_min)) s->lr_diverged_min = s->level[l].lr;
    if (!s->level[l].n_diverged && s->level[l].n) s->lr_stable_max = s->level[l].lr;
  }
  if (b < 0) return;
  s->at_edge = b == 0 ? -1 : b == nl - 1 ? 1 : 0;
  s->at_stability = (b > 0 && s->level[b - 1].n_diverged) || (b < nl - 1 && s->level[b + 1].n_diverged);
  s->basin_rel = o->basin_abs > 0 ? 0 : o->basin_rel > 0 ? o->basin_rel : 0.01;
  s->basin_tol = o->basin_abs > 0 ? o->basin_abs : s->basin_rel * fabs(s->value_opt);
  double x0 = log(s->lr_opt), limit = s->value_opt + (s->maximize ? -s->basin_tol : s->basin_tol);
  s->basin_lo = exp(basin_end(w->x, w->mean, w->cand, nl, -1, x0, s->value_opt, limit, s->maximize, &s->basin_open_lo));
  s->basin_hi = exp(basin_end(w->x, w->mean, w->cand, nl, +1, x0, s->value_opt, limit, s->maximize, &s->basin_open_hi));
}

static int lr_check(const RsLrPoint *pt, int n, const RsLrOptions *o, RsLrStudy *out, TrErr *err) {
  if (!out || n < 0 || (n > 0 && !pt)) return tr_err_set(err, TR_EINVAL, "rs_study_lr: no points or no result");
  if (o->n_boot < 0 || o->basin_rel < 0 || o->basin_abs < 0 || isnan(o->basin_rel) || isnan(o->basin_abs))
    return tr_err_set(err, TR_EINVAL, "rs_study_lr: n_boot %d, basin_rel %g and basin_abs %g must not be negative",
                      o->n_boot, o->basin_rel, o->basin_abs);
  return TR_OK;
}

int rs_study_lr(const RsLrPoint *pt, int n, const RsLrOptions *opt, RsLrStudy *out, TrErr *err) {
  RsLrOptions o = opt ? *opt : (RsLrOptions){0};
  int rc = lr_check(pt, n, &o, out, err);
  if (rc) return rc;
  lr_study_clear(out);
  out->maximize = o.maximize;
  for (int i = 0; i < n; i++)
    if (!(isfinite(pt[i].lr) && pt[i].lr > 0)) {
      set_status(&out->status, out->reason, RS_STUDY_NONFINITE,
                 "The learning rate %g of point %d is not a finite positive number.", pt[i].lr, i + 1);
      return TR_OK;
    }
  if (n == 0) {
    set_status(&out->status, out->reason, RS_STUDY_NO_POINTS, "No trial has finished yet.");
    return TR_OK;
  }
  LrWork w = {0};
  size_t m = (size_t)n;
  w.x = tr_calloc(m, sizeof *w.x), w.vals = tr_calloc(m, sizeof *w.vals), w.mean = tr_calloc(m, sizeof *w.mean);
  w.seeds = tr_calloc(m, sizeof *w.seeds), w.lv = tr_calloc(m, sizeof *w.lv), w.sv = tr_calloc(m, sizeof *w.sv);
  w.wcount = tr_calloc(m, sizeof *w.wcount), w.wsum = tr_calloc(m, sizeof *w.wsum);
  w.cand = tr_calloc(m, 1), w.bad = tr_calloc(m, 1);
  int nrep = o.n_boot ? o.n_boot : 1000;
  w.boot = tr_calloc((size_t)nrep, sizeof *w.boot);
  int ns = -1;
  if (w.x && w.vals && w.mean && w.seeds && w.lv && w.sv && w.wcount && w.wsum && w.cand && w.bad && w.boot)
    ns = lr_levels(pt, n, &w, out);
  if (ns < 0) {
    lr_work_free(&w);
    rs_study_lr_deinit(out);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  int nl = out->nlevel, with_runs = 0;
  for (int l = 0; l < nl; l++) with_runs += out->level[l].n > 0;
  double xo = NAN, vo = NAN;
  out->best = lr_estimate(w.x, w.mean, w.cand, nl, o.maximize, &xo, &vo, &out->fit);
  if (out->best >= 0) /* a grid point keeps its lr exactly */
    out->lr_opt = out->fit == RS_LR_FIT_GRID ? out->level[out->best].lr : exp(xo), out->value_opt = vo;
  lr_describe(&w, &o, out);
  if (out->best < 0) {
    if (with_runs == 0)
      set_status(&out->status, out->reason, RS_STUDY_ALL_DIVERGED, "Every run diverged (%d runs over %d learning rates).",
                 n, nl);
    else
      set_status(&out->status, out->reason, RS_STUDY_ALL_DIVERGED,
                 "Every learning rate had a diverged run, so none can be recommended.");
  } else if (with_runs < 3) {
    set_status(&out->status, out->reason, RS_STUDY_FEW_LRS,
               "Only %d learning rate%s finished, too few for a fit: the optimum is the best grid point.", with_runs,
               with_runs == 1 ? "" : "s");
  } else if (ns >= 2) {
    lr_bootstrap(pt, n, ns, nrep, o.boot_seed, &w, out);
  }
  lr_work_free(&w);
  return TR_OK;
}

void rs_study_lr_deinit(RsLrStudy *s) {
  if (!s) return;
  free(s->level);
  s->level = NULL;
  s->nlevel = 0;
}

/* ---- batch-size study ---- */

int rs_study_lr_exponent(const double *batch, const double *lr_opt, int n, RsLrExponent *out, TrErr *err) {
  if (!out || n < 0 || (n > 0 && (!batch || !lr_opt)))
    return tr_err_set(err, TR_EINVAL, "rs_study_lr_exponent: no points or no result");
  memset(out, 0, sizeof *out);
  out->alpha = out->alpha_lo = out->alpha_hi = out->coef = NAN;
  out->n = n;
  double mx = 0, my = 0;
  for (int i = 0; i < n; i++) {
    if (!(isfinite(batch[i]) && batch[i] > 0 && isfinite(lr_opt[i]) && lr_opt[i] > 0)) {
      set_status(&out->status, out->reason, RS_STUDY_NONFINITE,
                 "The best learning rate of batch size %g is %g, not a finite positive number.", batch[i], lr_opt[i]);
      return TR_OK;
    }
    mx += log(batch[i]) / n, my += log(lr_opt[i]) / n;
  }
  double sxx = 0, sxy = 0;
  for (int i = 0; i < n; i++) {
    double dx = log(batch[i]) - mx;
    sxx += dx * dx, sxy += dx * (log(lr_opt[i]) - my);
  }
  if (!(sxx > 0)) {
    set_status(&out->status, out->reason, RS_STUDY_ONE_BATCH,
               "Fewer than two batch sizes have a best learning rate, so there is no trend to fit.");
    return TR_OK;
  }
  out->alpha = sxy / sxx;
  out->coef = exp(my - out->alpha * mx);
  if (n > 2) {
    double ssr = 0;
    for (int i = 0; i < n; i++) {
      double r = log(lr_opt[i]) - my - out->alpha * (log(batch[i]) - mx);
      ssr += r * r;
    }
    double h = rs_stats_t_quantile(0.975, n - 2) * sqrt(ssr / (n - 2) / sxx);
    out->alpha_lo = out->alpha - h, out->alpha_hi = out->alpha + h;
  }
  return TR_OK;
}

/* The crossing on one curve: its step (NaN if never), and the noise scale there. */
static double curve_cross(const RsBsCurve *c, double target, int maximize, double *gns) {
  int p = -1;
  *gns = NAN;
  for (int i = 0; i < c->n; i++) {
    double v = c->value[i];
    if (!isfinite(v)) continue;
    if (maximize ? v >= target : v <= target) {
      double t = p < 0 ? 1 : (target - c->value[p]) / (v - c->value[p]);
      double s = p < 0 ? c->step[i] : c->step[p] + t * (c->step[i] - c->step[p]);
      if (!c->gns) return s;
      double gp = p < 0 ? NAN : c->gns[p], gi = c->gns[i];
      if (isfinite(gp) && isfinite(gi)) *gns = gp + t * (gi - gp);
      else if (isfinite(gi) || isfinite(gp)) *gns = isfinite(gi) ? gi : gp;
      else { /* the nearest logged noise scale by step */
        double best = INFINITY;
        for (int k = 0; k < c->n; k++)
          if (isfinite(c->gns[k]) && fabs(c->step[k] - s) < best) best = fabs(c->step[k] - s), *gns = c->gns[k];
      }
      return s;
    }
    p = i;
  }
  return NAN;
}

double rs_study_steps_to(const double *step, const double *value, int n, double target, int maximize) {
  RsBsCurve c = {.batch = 1, .seq_len = 1, .step = step, .value = value, .gns = NULL, .n = n};
  double g;
  return step && value ? curve_cross(&c, target, maximize, &g) : NAN;
}

/* The automatic target: the worst of the curves' best finite values (NaN if none). */
static double bs_auto_target(const RsBsCurve *c, int n, int maximize) {
  double t = NAN;
  for (int j = 0; j < n; j++) {
    double b = NAN;
    for (int i = 0; i < c[j].n; i++) {
      double v = c[j].value[i];
      if (isfinite(v) && (isnan(b) || (maximize ? v > b : v < b))) b = v;
    }
    if (!isnan(b) && (isnan(t) || (maximize ? b < t : b > t))) t = b;
  }
  return t;
}

/* S = S_min + E_min / B by weighted least squares on relative residuals with Huber
** weights (rs_study.h). r is scratch (n). Returns the rms relative residual. */
static double mccandlish_fit(const double *B, const double *S, int n, double *r, double *smin, double *emin) {
  const double k = 1.345;
  double a = NAN, b = NAN, scale = INFINITY; /* the first pass is plain weighted least squares */
  for (int it = 0; it < 50; it++) {
    double sw = 0, sx = 0, sy = 0, sxx = 0, sxy = 0;
    for (int i = 0; i < n; i++) {
      double x = 1 / B[i], res = isnan(a) ? 0 : (S[i] - a - b * x) / S[i];
      double h = fabs(res) <= k * scale ? 1 : k * scale / fabs(res);
      double w = h / (S[i] * S[i]);
      sw += w, sx += w * x, sy += w * S[i], sxx += w * x * x, sxy += w * x * S[i];
    }
    double det = sw * sxx - sx * sx;
    double na = (sxx * sy - sx * sxy) / det, nb = (sw * sxy - sx * sy) / det;
    int done = !isnan(a) && fabs(na - a) <= 1e-12 * fabs(na) && fabs(nb - b) <= 1e-12 * fabs(nb);
    a = na, b = nb;
    for (int i = 0; i < n; i++) r[i] = fabs((S[i] - a - b / B[i]) / S[i]);
    double mad = median(r, n);
    if (done || !(mad > 1e-12)) break; /* converged, or an exact fit: nothing to down-weight */
    scale = 1.4826 * mad;
  }
  *smin = a, *emin = b;
  double ss = 0;
  for (int i = 0; i < n; i++) {
    double e = (S[i] - a - b / B[i]) / S[i];
    ss += e * e;
  }
  return sqrt(ss / n);
}

static void bs_study_clear(RsBsStudy *s) {
  memset(s, 0, sizeof *s);
  s->target = s->s_min = s->e_min = s->b_crit = s->e_min_tokens = s->b_crit_tokens = NAN;
  s->fit_rms_rel = s->b_simple = s->b_ratio = NAN;
}

/* Per batch size: steps, examples, tokens and noise scale at the target. cs and gs
** (n) receive each curve's crossing step and noise scale; g is scratch (n). */
static void bs_levels(const RsBsCurve *c, int n, RsBsStudy *s, int maximize, double *cs, double *gs, double *g) {
  for (int j = 0; j < n; j++) cs[j] = curve_cross(&c[j], s->target, maximize, &gs[j]);
  for (int l = 0; l < s->nlevel; l++) {
    RsBsLevel *L = &s->level[l];
    double sum_s = 0, sum_t = 0;
    int ng = 0;
    for (int j = 0; j < n; j++) {
      if (c[j].batch != L->batch) continue;
      L->n_curves++;
      if (isnan(cs[j])) continue;
      L->n_reached++;
      sum_s += cs[j];
      sum_t += c[j].seq_len > 0 && isfinite(c[j].seq_len) ? cs[j] * L->batch * c[j].seq_len : NAN;
      if (isfinite(gs[j])) g[ng++] = gs[j];
    }
    L->steps = L->examples = L->tokens = NAN;
    if (L->n_reached == L->n_curves)
      L->steps = sum_s / L->n_reached, L->examples = L->steps * L->batch, L->tokens = sum_t / L->n_reached;
    L->b_simple = ng ? median(g, ng) : NAN;
  }
}

static int bs_check(const RsBsCurve *c, int n, RsBsStudy *out, TrErr *err) {
  if (!out || n < 0 || (n > 0 && !c)) return tr_err_set(err, TR_EINVAL, "rs_study_bs: no curves or no result");
  for (int j = 0; j < n; j++)
    if (c[j].n < 0 || (c[j].n > 0 && (!c[j].step || !c[j].value)))
      return tr_err_set(err, TR_EINVAL, "rs_study_bs: curve %d has no steps or values", j + 1);
  return TR_OK;
}

/* The fit over the batch sizes that reached the target; sets the status when it cannot. */
static void bs_fit(const RsBsCurve *c, RsBsStudy *s, double *bx, double *sy, double *r) {
  int m = 0;
  for (int l = 0; l < s->nlevel; l++)
    if (isfinite(s->level[l].steps)) bx[m] = s->level[l].batch, sy[m++] = s->level[l].steps;
  s->n_fit = m;
  if (m < 2) {
    set_status(&s->status, s->reason, RS_STUDY_NO_TARGET,
               m ? "Only one of the %d batch sizes reached the target %.4g on every run, too few for a fit."
                 : "None of the %d batch sizes reached the target %.4g on every run.",
               s->nlevel, s->target);
    return;
  }
  s->fit_rms_rel = mccandlish_fit(bx, sy, m, r, &s->s_min, &s->e_min);
  if (!(s->s_min > 0 && s->e_min > 0)) {
    set_status(&s->status, s->reason, RS_STUDY_BAD_FIT,
               "The steps to the target do not fall with the batch size as the model needs (fit S_min %.3g, E_min %.3g).",
               s->s_min, s->e_min);
    return;
  }
  s->b_crit = s->e_min / s->s_min;
  double L = c[0].seq_len;
  if (L > 0 && isfinite(L)) s->e_min_tokens = s->e_min * L, s->b_crit_tokens = s->b_crit * L;
}

int rs_study_bs(const RsBsCurve *c, int n, const RsBsOptions *opt, RsBsStudy *out, TrErr *err) {
  RsBsOptions o = opt ? *opt : (RsBsOptions){.target = NAN};
  int rc = bs_check(c, n, out, err);
  if (rc) return rc;
  bs_study_clear(out);
  for (int j = 0; j < n; j++)
    if (!(isfinite(c[j].batch) && c[j].batch > 0)) {
      set_status(&out->status, out->reason, RS_STUDY_NONFINITE, "The batch size %g of curve %d is not a finite positive number.",
                 c[j].batch, j + 1);
      return TR_OK;
    }
  out->target_auto = isnan(o.target);
  out->target = out->target_auto ? bs_auto_target(c, n, o.maximize) : o.target;
  size_t m = n ? (size_t)n : 1;
  double *w = tr_malloc(5 * m * sizeof *w);
  out->level = tr_malloc(m * sizeof *out->level);
  if (!w || !out->level) {
    free(w);
    rs_study_bs_deinit(out);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  for (int j = 0; j < n; j++) w[j] = c[j].batch;
  out->nlevel = unique_doubles(w, n);
  for (int l = 0; l < out->nlevel; l++) out->level[l] = (RsBsLevel){.batch = w[l]};
  if (n == 0 || !isfinite(out->target)) {
    if (n == 0) set_status(&out->status, out->reason, RS_STUDY_NO_POINTS, "No run to study.");
    else if (out->target_auto)
      set_status(&out->status, out->reason, RS_STUDY_NO_TARGET, "No run has a finite value, so there is no target to reach.");
    else set_status(&out->status, out->reason, RS_STUDY_NONFINITE, "The target %g is not a finite number.", out->target);
    free(w);
    return TR_OK;
  }
  double *cs = w, *gs = w + m, *g = w + 2 * m;
  bs_levels(c, n, out, o.maximize, cs, gs, g);
  int ng = 0;
  for (int j = 0; j < n; j++)
    if (isfinite(gs[j]) && !isnan(cs[j])) g[ng++] = gs[j];
  out->b_simple = ng ? median(g, ng) : NAN;
  if (out->nlevel < 2)
    set_status(&out->status, out->reason, RS_STUDY_ONE_BATCH,
               "Only one batch size (%g) was run, so there is no critical batch size to fit.", out->level[0].batch);
  else
    bs_fit(c, out, w + 2 * m, w + 3 * m, w + 4 * m);
  if (out->status == RS_STUDY_OK) out->b_ratio = out->b_crit / out->b_simple;
  free(w);
  return TR_OK;
}

void rs_study_bs_deinit(RsBsStudy *s) {
  if (!s) return;
  free(s->level);
  s->level = NULL;
  s->nlevel = 0;
}

/* ---- captions ---- */

/* An lr in short scientific form: 3.2e-3, 3e-2 (two significant digits). */
static const char *fmt_lr(char *buf, size_t n, double v) {
  char t[32];
  snprintf(t, sizeof t, "%.1e", v);
  char *e = strchr(t, 'e');
  if (!isfinite(v) || !e) return snprintf(buf, n, "%g", v), buf;
  int ex = atoi(e + 1);
  *e = 0;
  if (e - t >= 2 && strcmp(e - 2, ".0") == 0) e[-2] = 0; /* 3e-2, not 3.0e-2 */
  if (ex == 0) snprintf(buf, n, "%s", t);
  else snprintf(buf, n, "%se%d", t, ex);
  return buf;
}

const char *rs_study_fmt_lr(char *buf, size_t n, double v) { return fmt_lr(buf, n, v); }

/* v to sig significant digits; whole numbers grouped by thousands (12,700). */
static const char *fmt_num(char *buf, size_t n, double v, int sig) {
  char t[48];
  snprintf(t, sizeof t, "%.*e", sig - 1, v);
  double r = strtod(t, NULL);
  if (!(isfinite(r) && fabs(r) < 1e15 && r == floor(r))) return snprintf(buf, n, "%.*g", sig, v), buf;
  snprintf(t, sizeof t, "%.0f", fabs(r));
  size_t len = strlen(t), k = 0;
  char g[64];
  if (r < 0) g[k++] = '-';
  for (size_t i = 0; i < len; i++) {
    if (i && (len - i) % 3 == 0) g[k++] = ',';
    g[k++] = t[i];
  }
  g[k] = 0;
  snprintf(buf, n, "%s", g);
  return buf;
}

const char *rs_study_lr_caption(const RsLrStudy *s, char *buf, size_t n) {
  if (s->status != RS_STUDY_OK && s->status != RS_STUDY_FEW_LRS) return snprintf(buf, n, "%s", s->reason), buf;
  char a[40], lo[40], hi[40], ci[128];
  fmt_lr(a, sizeof a, s->lr_opt);
  if (s->n_boot >= 2) snprintf(ci, sizeof ci, " (95%% CI %s to %s)", fmt_lr(lo, sizeof lo, s->lr_lo), fmt_lr(hi, sizeof hi, s->lr_hi));
  else if (s->status != RS_STUDY_FEW_LRS) snprintf(ci, sizeof ci, " (no CI: one seed)");
  else {
    int k = 0;
    for (int l = 0; l < s->nlevel; l++) k += s->level[l].n > 0;
    snprintf(ci, sizeof ci, " (the best of only %d learning rate%s, no fit)", k, k == 1 ? "" : "s");
  }
  const char *where = s->at_edge < 0   ? "at the smallest lr of the grid: the optimum may be lower, widen the grid down"
                      : s->at_edge > 0 ? "at the largest lr of the grid: the optimum may be higher, widen the grid up"
                      : s->at_stability ? "inside the grid, next to a learning rate that diverged"
                                        : "inside the grid";
  snprintf(buf, n, "The best learning rate is %s%s, %s.", a, ci, where);
  return buf;
}

const char *rs_study_stability_caption(const RsLrStudy *s, char *buf, size_t n) {
  char a[40], b[40];
  if (s->nlevel == 0) return snprintf(buf, n, "%s", s->reason), buf;
  if (isnan(s->lr_diverged_min))
    snprintf(buf, n, "No run diverged, up to lr %s.", fmt_lr(a, sizeof a, s->level[s->nlevel - 1].lr));
  else if (isnan(s->lr_stable_max))
    snprintf(buf, n, "Every learning rate from %s up had a diverged run.", fmt_lr(a, sizeof a, s->lr_diverged_min));
  else
    snprintf(buf, n, "Runs diverged from lr %s; the largest lr where none diverged is %s%s.",
             fmt_lr(a, sizeof a, s->lr_diverged_min), fmt_lr(b, sizeof b, s->lr_stable_max),
             s->lr_stable_max > s->lr_diverged_min ? " (divergence is not monotone in lr here)" : "");
  return buf;
}

const char *rs_study_basin_caption(const RsLrStudy *s, char *buf, size_t n) {
  if (isnan(s->basin_lo)) return snprintf(buf, n, "No basin: %s", s->reason[0] ? s->reason : "no optimum."), buf;
  char tol[40], lo[40], hi[40];
  if (s->basin_rel > 0) snprintf(tol, sizeof tol, "%g%%", 100 * s->basin_rel);
  else snprintf(tol, sizeof tol, "%.3g", s->basin_tol);
  snprintf(buf, n, "Within %s of the best value (%.4g): lr %s%s to %s%s, a factor of %.3g.", tol, s->value_opt,
           fmt_lr(lo, sizeof lo, s->basin_lo), s->basin_open_lo ? " (the grid's end)" : "",
           fmt_lr(hi, sizeof hi, s->basin_hi), s->basin_open_hi ? " (the grid's end)" : "", s->basin_hi / s->basin_lo);
  return buf;
}

const char *rs_study_exponent_caption(const RsLrExponent *x, char *buf, size_t n) {
  if (x->status != RS_STUDY_OK) return snprintf(buf, n, "%s", x->reason), buf;
  if (isnan(x->alpha_lo)) {
    snprintf(buf, n, "The best learning rate grows as B^%.2f over 2 batch sizes (no CI), closer to the %s rule.",
             x->alpha, fabs(x->alpha - 0.5) <= fabs(x->alpha - 1) ? "square-root" : "linear");
    return buf;
  }
  int sq = x->alpha_lo <= 0.5 && 0.5 <= x->alpha_hi, lin = x->alpha_lo <= 1 && 1 <= x->alpha_hi;
  snprintf(buf, n, "The best learning rate grows as B^%.2f (95%% CI %.2f to %.2f) over %d batch sizes, %s.", x->alpha,
           x->alpha_lo, x->alpha_hi, x->n,
           sq && lin ? "the CI cannot tell the square-root rule from the linear one"
           : sq      ? "consistent with the square-root rule (0.5)"
           : lin     ? "consistent with the linear rule (1)"
                     : "neither the square-root (0.5) nor the linear rule (1)");
  return buf;
}

const char *rs_study_bs_caption(const RsBsStudy *s, char *buf, size_t n) {
  if (s->status != RS_STUDY_OK) return snprintf(buf, n, "%s", s->reason), buf;
  char bc[32], sm[32], em[32], bsim[32], tail[96];
  if (isnan(s->b_simple)) snprintf(tail, sizeof tail, "no gradient noise scale was logged");
  else
    snprintf(tail, sizeof tail, "the measured noise scale B_simple ~ %s, a ratio of %.2g",
             fmt_num(bsim, sizeof bsim, s->b_simple, 2), s->b_ratio);
  snprintf(buf, n, "B_crit ~ %s (S_min %s steps, E_min %s examples) to reach %.4g%s; %s.",
           fmt_num(bc, sizeof bc, s->b_crit, 2), fmt_num(sm, sizeof sm, s->s_min, 3), fmt_num(em, sizeof em, s->e_min, 3),
           s->target, s->target_auto ? " (the best value every run reached)" : "", tail);
  return buf;
}
