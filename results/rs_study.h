/*
** rs_study.h: the numbers behind the learning-rate and batch-size studies (issue 14):
** the optimum learning rate with a bootstrap CI, the stability edge and the basin; the
** exponent of lr* against the batch size; steps and examples to a target loss and the
** critical batch size of McCandlish et al. (2018), beside the measured noise scale.
**
** Contract:
** - Pure functions over caller arrays: no SQL, no I/O, no globals. The results own
**   malloc'd arrays released by their *_deinit (NULL-safe, idempotent).
** - Return TR_OK, or TR_EINVAL (a NULL argument, n < 0, a bad option) / TR_ENOMEM
**   with the caller's TrErr filled. A study that cannot answer is not an error: it
**   returns TR_OK with status != RS_STUDY_OK and `reason`, one sentence the report can
**   print; every number it could not compute is NaN. Some statuses keep partial
**   answers (RS_STUDY_FEW_LRS keeps the per-lr table and the best grid point).
** - Deterministic: the bootstrap draws from tr_rng seeded with opt->boot_seed, so the
**   same points and seed give bit-identical results.
** - Goal: opt->maximize = 0 means lower is better (a loss).
**
** Learning-rate study (rs_study_lr), over (lr, seed, value, diverged) points of one
** group (the other varied parameters held equal):
** - A point "diverged" when its flag is set or its value is not finite (a NaN or inf
**   loss is a divergence). Its value is never averaged.
** - Per lr: n finished seeds, mean, std and the 95% t-interval of rs_stats_ci95.
** - Candidates for the optimum: the lrs where no seed diverged and at least one
**   finished (a learning rate that sometimes diverges is not a recommendation).
** - Optimum: the best candidate mean is the best grid point (a tie goes to the
**   smaller lr); with both grid neighbours candidates, the parabola through the three
**   (log lr, mean) points gives the optimum at its vertex (RS_LR_FIT_QUADRATIC). With one neighbour or none, or
**   a parabola that is not convex toward the goal (three equal means), the optimum is
**   the best grid point itself (RS_LR_FIT_GRID). The vertex of three points whose
**   middle is best always lies between the outer two.
** - CI: 95% bootstrap over seeds: draw the distinct seeds with replacement,
**   recompute every lr's mean from the drawn seeds (a seed drawn twice counts twice),
**   redo the whole estimate (best grid point and fit) on each replicate; the interval
**   is Hesterberg's expanded percentile interval of the replicates' log lr: the
**   quantiles q and 1-q with Phi^-1(1-q) = sqrt(n/(n-1)) t(0.975, n-1), n seeds (q =
**   0.025 as n grows; 0.001 for 5 seeds), since the plain 2.5%/97.5% percentiles are
**   too narrow with few seeds. It measures the seed noise of the estimate, not the
**   error of the quadratic model. NaN with fewer than 2 seeds.
** - at_edge: -1 / +1 when the best grid point is the smallest / largest lr of the
**   grid (the true optimum may lie outside: widen the grid), else 0. at_stability:
**   1 when a grid neighbour of the best point had a diverged seed.
** - Stability edge: lr_diverged_min = the smallest lr with a diverged seed, and
**   lr_stable_max = the largest lr where no seed diverged; NaN when none.
** - Basin: the lrs whose mean is within tol of the optimum's value (tol = basin_abs
**   when > 0, else basin_rel * |value_opt|, default 1%), as the connected range
**   around the best grid point, its ends interpolated linearly in log lr between the
**   last grid point inside and the first outside; basin_open_lo/hi when the range
**   reaches the end of the candidates (the basin may extend further).
** - Statuses: RS_STUDY_NONFINITE (an lr not finite and > 0), RS_STUDY_NO_POINTS,
**   RS_STUDY_ALL_DIVERGED (stability edge still filled), RS_STUDY_FEW_LRS (fewer than
**   3 lrs with a finished seed: per-lr table and best grid point kept, no fit, no CI).
**
** Batch-size study:
** - rs_study_lr_exponent: alpha in lr* = c B^alpha by least squares of log lr* on
**   log B; 95% t-interval of the slope with n-2 degrees of freedom (NaN for n = 2).
**   Needs >= 2 distinct batch sizes (RS_STUDY_ONE_BATCH) and finite positive values.
** - rs_study_bs: one or more curves (seeds) per batch size, each at that batch size's
**   best lr. Steps to target on a curve: the first evaluation at or past the target
**   (value <= target, or >= when maximizing); between it and the evaluation before,
**   the step is interpolated linearly in value; at the first evaluation, its step.
**   Non-finite values are skipped. A batch size's S is the mean over its curves and
**   counts only if every one of its curves reached the target; E = B * S examples,
**   tokens = E * seq_len. The target is opt->target, or when NaN the worst of the
**   curves' best values (the best loss every curve reached).
** - McCandlish fit: (S/S_min - 1)(E/E_min - 1) = 1 with E = B S is exactly
**   S = S_min + E_min / B, linear in (S_min, E_min): weighted least squares on
**   relative residuals (S_i - S_min - E_min/B_i) / S_i (step counts are noisy in
**   proportion to their size), made robust by Huber reweighting (weight 1 up to
**   1.345 s, s = 1.4826 times the median absolute relative residual; 50 iterations
**   at most). B_crit = E_min / S_min examples. Needs >= 2
**   batch sizes reaching the target (RS_STUDY_ONE_BATCH, RS_STUDY_NO_TARGET) and
**   S_min > 0, E_min > 0 (RS_STUDY_BAD_FIT: the steps do not fall with B as the
**   model requires).
** - B_simple: per curve the noise scale (the trainer's `gns` metric) at the
**   evaluation where it reached the target (interpolated like the step; the nearest
**   finite one otherwise), the median over curves; b_ratio = B_crit / B_simple.
*/
#ifndef RS_STUDY_H
#define RS_STUDY_H

#include <stddef.h>
#include <stdint.h>

#include "tr_err.h"

typedef enum RsStudyStatus {
  RS_STUDY_OK = 0,
  RS_STUDY_NO_POINTS,     /* nothing finished */
  RS_STUDY_NONFINITE,     /* an input that must be a finite positive number is not */
  RS_STUDY_ALL_DIVERGED,  /* every lr had a divergence */
  RS_STUDY_FEW_LRS,       /* fewer than 3 lrs: no fit */
  RS_STUDY_ONE_BATCH,     /* fewer than 2 batch sizes */
  RS_STUDY_NO_TARGET,     /* fewer than 2 batch sizes reached the target */
  RS_STUDY_BAD_FIT        /* the fit's parameters are not positive */
} RsStudyStatus;

#define RS_STUDY_REASON_MAX 240

/* ---- learning-rate study ---- */

typedef struct RsLrPoint {
  double lr;
  int64_t seed;
  double value;   /* the trial's metric (its best); ignored when diverged */
  int diverged;
} RsLrPoint;

typedef struct RsLrOptions {
  int maximize;
  int n_boot;          /* bootstrap replicates; 0 = 1000 */
  uint64_t boot_seed;
  double basin_rel;    /* relative tolerance of the basin; 0 = 0.01 */
  double basin_abs;    /* > 0: absolute tolerance instead */
} RsLrOptions;

typedef struct RsLrLevel {
  double lr;
  int n;               /* finished seeds */
  int n_diverged;
  double mean, std, ci_lo, ci_hi; /* over the finished seeds (NaN if none / < 2) */
} RsLrLevel;

typedef enum { RS_LR_FIT_NONE, RS_LR_FIT_GRID, RS_LR_FIT_QUADRATIC } RsLrFit;

typedef struct RsLrStudy {
  RsStudyStatus status;
  char reason[RS_STUDY_REASON_MAX];  /* "" when status is RS_STUDY_OK */
  RsLrLevel *level;    /* (nlevel) by increasing lr */
  int nlevel;
  int best;            /* index of the best grid point, -1 if none */
  RsLrFit fit;
  double lr_opt, value_opt;
  double lr_lo, lr_hi; /* 95% bootstrap CI of lr_opt */
  int n_boot;          /* replicates drawn (0: no CI) */
  int at_edge;         /* -1 smallest lr of the grid, +1 largest, 0 inside */
  int at_stability;    /* a neighbour of the best point had a diverged seed */
  double lr_diverged_min, lr_stable_max;
  double basin_rel;    /* the relative tolerance used, 0 when absolute */
  double basin_tol;    /* absolute tolerance used */
  double basin_lo, basin_hi;
  int basin_open_lo, basin_open_hi;
  int maximize;
} RsLrStudy;

int rs_study_lr(const RsLrPoint *pt, int n, const RsLrOptions *opt, RsLrStudy *out, TrErr *err);
void rs_study_lr_deinit(RsLrStudy *s);

/* ---- batch-size study ---- */

typedef struct RsLrExponent {
  RsStudyStatus status;
  char reason[RS_STUDY_REASON_MAX];
  int n;
  double alpha, alpha_lo, alpha_hi; /* slope and its 95% t-interval */
  double coef;                      /* c in lr* = c B^alpha */
} RsLrExponent;

/* batch[i] and lr_opt[i]: one batch size and its best lr (e.g. RsLrStudy.lr_opt). */
int rs_study_lr_exponent(const double *batch, const double *lr_opt, int n, RsLrExponent *out, TrErr *err);

typedef struct RsBsCurve {
  double batch;        /* examples per optimizer step */
  double seq_len;      /* tokens per example */
  const double *step;  /* (n) increasing */
  const double *value; /* (n) the metric at each step */
  const double *gns;   /* (n) the noise scale at each step (NaN where absent), or NULL */
  int n;
} RsBsCurve;

typedef struct RsBsOptions {
  int maximize;
  double target;       /* NaN: automatic */
} RsBsOptions;

typedef struct RsBsLevel {
  double batch;
  int n_curves, n_reached;
  double steps, examples, tokens; /* means over its curves; NaN unless all reached */
  double b_simple;                /* median noise scale at the target, NaN if none */
} RsBsLevel;

typedef struct RsBsStudy {
  RsStudyStatus status;
  char reason[RS_STUDY_REASON_MAX];
  double target;
  int target_auto;
  RsBsLevel *level;    /* (nlevel) by increasing batch size */
  int nlevel;
  int n_fit;           /* batch sizes in the fit */
  double s_min, e_min, b_crit; /* steps, examples, examples */
  double e_min_tokens, b_crit_tokens;
  double fit_rms_rel;  /* rms relative residual of S over the fitted batch sizes */
  double b_simple, b_ratio; /* median over curves; B_crit / B_simple */
} RsBsStudy;

int rs_study_bs(const RsBsCurve *c, int n, const RsBsOptions *opt, RsBsStudy *out, TrErr *err);
void rs_study_bs_deinit(RsBsStudy *s);

/* Steps to target on one curve (the rule above); NaN if never reached. */
double rs_study_steps_to(const double *step, const double *value, int n, double target, int maximize);

/* ---- captions: one sentence (no newline) into buf; return buf ---- */

/* A learning rate as the captions write it: two significant digits, 3.2e-3, 3e-2. */
const char *rs_study_fmt_lr(char *buf, size_t n, double v);

/* "The best learning rate is 3.2e-3 (95% CI 2.1e-3 to 4.4e-3), inside the grid." */
const char *rs_study_lr_caption(const RsLrStudy *s, char *buf, size_t n);
/* "Runs diverged from lr 3e-2 up; the largest lr that never diverged is 1e-2." */
const char *rs_study_stability_caption(const RsLrStudy *s, char *buf, size_t n);
/* "Within 1% of the best value (1.46): lr 5.2e-3 to 1.4e-2, a factor of 2.7." */
const char *rs_study_basin_caption(const RsLrStudy *s, char *buf, size_t n);
/* "The best lr grows as B^0.52 (95% CI 0.41 to 0.63), close to the square-root rule." */
const char *rs_study_exponent_caption(const RsLrExponent *x, char *buf, size_t n);
/* "B_crit ~ 41 (S_min 310 steps, E_min 12,700 examples) at target 1.85; ..." */
const char *rs_study_bs_caption(const RsBsStudy *s, char *buf, size_t n);

#endif
