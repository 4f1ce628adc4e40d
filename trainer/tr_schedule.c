/*
** tr_schedule.c: closed forms of the schedules in tr_schedule.h. torch computes
** most of them recursively (lr *= factor each step); the closed forms agree to
** ~1e-12 relative over the runs tests/golden covers.
*/
#include "tr_schedule.h"

#include <math.h>
#include <stdio.h>

const char *tr_schedule_name(int name) {
  static const char *const names[] = {"constant", "step", "multistep", "exponential", "cosine",
                                      "linear", "inverse_sqrt", "wsd", "one_cycle"};
  return name >= 0 && name < (int)(sizeof names / sizeof names[0]) ? names[name] : "?";
}

static double cos_anneal(double start, double end, double pct) {
  return end + (start - end) / 2.0 * (cos(M_PI * pct) + 1.0);
}

static double one_cycle_lr(const TrScheduleConfig *s, double base, int64_t step, int64_t T) {
  double peak = s->max_lr > 0.0 ? s->max_lr : base;
  double init = peak / s->div_factor, final = init / s->final_div_factor;
  if (step > T - 1) step = T - 1;
  double e1 = s->pct_start * (double)T - 1.0; /* end of phase 1, as torch: float(pct*T) - 1 */
  double x = (double)step;
  if (x <= e1) return e1 > 0.0 ? cos_anneal(init, peak, x / e1) : peak;
  double span = (double)(T - 1) - e1;
  return span > 0.0 ? cos_anneal(peak, final, (x - e1) / span) : final;
}

/* Steps of the wsd decay at the end of a T-step run. */
static int64_t wsd_decay_steps(const TrScheduleConfig *s, int64_t T) {
  return (int64_t)llround(s->decay_fraction * (double)T);
}

double tr_schedule_lr(const TrScheduleConfig *s, double base, int64_t step, int64_t T) {
  if (step < 0) step = 0;
  if (s->name == TR_SCHED_ONE_CYCLE) return T > 0 ? one_cycle_lr(s, base, step, T) : base;
  int64_t W = s->warmup_steps > 0 ? s->warmup_steps : 0;
  if (step < W) {
    double f = s->warmup_start_factor;
    return base * (f + (1.0 - f) * (double)step / (double)W);
  }
  int64_t x = step - W;               /* step within the schedule */
  int64_t R = T > 0 ? T - W : 0;      /* schedule's length; 0 = unknown */
  double m = s->min_lr;
  switch (s->name) {
    case TR_SCHED_CONSTANT: return base;
    case TR_SCHED_STEP:
      return s->step_size > 0 ? base * pow(s->gamma, (double)(x / s->step_size)) : base;
    case TR_SCHED_MULTISTEP: {
      int k = 0;
      for (int i = 0; i < s->n_milestones && i < TR_MAX_MILESTONES; i++) k += s->milestones[i] <= x;
      return base * pow(s->gamma, (double)k);
    }
    case TR_SCHED_EXPONENTIAL: return base * pow(s->gamma, (double)x);
    case TR_SCHED_COSINE:
    case TR_SCHED_LINEAR: {
      int64_t D = s->decay_steps > 0 ? s->decay_steps : R;
      if (D <= 0) return base;
      if (x >= D) return m;
      double p = (double)x / (double)D;
      return s->name == TR_SCHED_COSINE ? cos_anneal(base, m, p) : m + (base - m) * (1.0 - p);
    }
    case TR_SCHED_INVERSE_SQRT: {
      double v = W > 0 ? (double)W : 1.0;
      return base * sqrt(v / (v + (double)x));
    }
    case TR_SCHED_WSD: {
      if (R <= 0) return base;
      int64_t K = wsd_decay_steps(s, T), start = R - K;
      if (K <= 0 || x < start) return base;
      double p = (double)(x - start + 1) / (double)K;
      if (p > 1.0) p = 1.0;
      return s->decay_shape == TR_SHAPE_COSINE ? cos_anneal(base, m, p) : m + (base - m) * (1.0 - p);
    }
    default: return base;
  }
}

static int need_length(const TrScheduleConfig *s, int64_t T, TrErr *err) {
  if (T > 0) return TR_OK;
  return tr_err_set(err, TR_EINVAL,
                    "schedule.name: %s needs the run length; set train.max_steps or train.max_tokens%s",
                    tr_schedule_name(s->name),
                    s->name == TR_SCHED_COSINE || s->name == TR_SCHED_LINEAR ? ", or schedule.decay_steps" : "");
}

/* The keys every schedule reads. */
static int check_common(const TrScheduleConfig *s, double base, int64_t T, TrErr *err) {
  if (s->name < TR_SCHED_CONSTANT || s->name > TR_SCHED_ONE_CYCLE)
    return tr_err_set(err, TR_EINVAL, "schedule.name: unknown schedule %d", s->name);
  if (!(base > 0.0) || !isfinite(base))
    return tr_err_set(err, TR_EINVAL, "optimizer.lr: must be > 0, got %g", base);
  if (s->warmup_steps < 0)
    return tr_err_set(err, TR_EINVAL, "schedule.warmup_steps: must be >= 0, got %d", s->warmup_steps);
  if (!(s->warmup_start_factor >= 0.0 && s->warmup_start_factor <= 1.0))
    return tr_err_set(err, TR_EINVAL, "schedule.warmup_start_factor: must be in [0, 1], got %g",
                      s->warmup_start_factor);
  if (!(s->min_lr >= 0.0) || !isfinite(s->min_lr))
    return tr_err_set(err, TR_EINVAL, "schedule.min_lr: must be >= 0, got %g", s->min_lr);
  if (s->decay_steps < 0)
    return tr_err_set(err, TR_EINVAL, "schedule.decay_steps: must be >= 0, got %d", s->decay_steps);
  int W = s->warmup_steps;
  if (T > 0 && W >= T && s->name != TR_SCHED_ONE_CYCLE)
    return tr_err_set(err, TR_EINVAL, "schedule.warmup_steps: %d leaves no steps of the %lld-step run", W,
                      (long long)T);
  return TR_OK;
}

static int check_gamma(const TrScheduleConfig *s, TrErr *err) {
  if (!(s->gamma > 0.0) || !isfinite(s->gamma))
    return tr_err_set(err, TR_EINVAL, "schedule.gamma: must be > 0, got %g", s->gamma);
  return TR_OK;
}

static int check_multistep(const TrScheduleConfig *s, TrErr *err) {
  if (s->n_milestones < 1 || s->n_milestones > TR_MAX_MILESTONES)
    return tr_err_set(err, TR_EINVAL, "schedule.milestones: multistep needs 1 to %d milestones, got %d",
                      TR_MAX_MILESTONES, s->n_milestones);
  int bad = s->milestones[0] < 1;
  for (int i = 1; i < s->n_milestones; i++) bad |= s->milestones[i] <= s->milestones[i - 1];
  if (bad) {
    char list[256];
    size_t k = 0;
    list[0] = '\0';
    for (int i = 0; i < s->n_milestones && k < sizeof list; i++)
      k += (size_t)snprintf(list + k, sizeof list - k, "%s%d", i ? ", " : "", s->milestones[i]);
    return tr_err_set(err, TR_EINVAL,
                      "schedule.milestones: must be positive and strictly increasing, got [%s]", list);
  }
  return check_gamma(s, err);
}

static int check_wsd(const TrScheduleConfig *s, double base, int64_t T, TrErr *err) {
  if (need_length(s, T, err)) return TR_EINVAL;
  if (!(s->decay_fraction >= 0.0 && s->decay_fraction <= 1.0))
    return tr_err_set(err, TR_EINVAL, "schedule.decay_fraction: must be in [0, 1], got %g",
                      s->decay_fraction);
  if (s->decay_shape != TR_SHAPE_LINEAR && s->decay_shape != TR_SHAPE_COSINE)
    return tr_err_set(err, TR_EINVAL, "schedule.decay_shape: unknown value %d", s->decay_shape);
  int64_t K = wsd_decay_steps(s, T);
  if (K > T - s->warmup_steps)
    return tr_err_set(err, TR_EINVAL,
                      "schedule.decay_fraction: %g of the %lld-step run (%lld steps) overlaps the %d warm-up steps",
                      s->decay_fraction, (long long)T, (long long)K, s->warmup_steps);
  if (s->min_lr > base)
    return tr_err_set(err, TR_EINVAL, "schedule.min_lr: %g is above the base lr %g", s->min_lr, base);
  return TR_OK;
}

static int check_one_cycle(const TrScheduleConfig *s, int64_t T, TrErr *err) {
  if (need_length(s, T, err)) return TR_EINVAL;
  if (s->warmup_steps != 0)
    return tr_err_set(err, TR_EINVAL,
                      "schedule.warmup_steps: one_cycle warms up over pct_start; must be 0, got %d", s->warmup_steps);
  if (!(s->pct_start >= 0.0 && s->pct_start < 1.0))
    return tr_err_set(err, TR_EINVAL, "schedule.pct_start: must be in [0, 1), got %g", s->pct_start);
  if (s->pct_start * (double)T - 1.0 == 0.0)
    return tr_err_set(err, TR_EINVAL,
                      "schedule.pct_start: %g of %lld steps is a 1-step warm-up, which torch OneCycleLR rejects",
                      s->pct_start, (long long)T);
  if (!(s->div_factor > 0.0) || !isfinite(s->div_factor))
    return tr_err_set(err, TR_EINVAL, "schedule.div_factor: must be > 0, got %g", s->div_factor);
  if (!(s->final_div_factor > 0.0) || !isfinite(s->final_div_factor))
    return tr_err_set(err, TR_EINVAL, "schedule.final_div_factor: must be > 0, got %g",
                      s->final_div_factor);
  if (!(s->max_lr >= 0.0) || !isfinite(s->max_lr))
    return tr_err_set(err, TR_EINVAL, "schedule.max_lr: must be >= 0 (0 = optimizer.lr), got %g", s->max_lr);
  return TR_OK;
}

int tr_schedule_check(const TrScheduleConfig *s, double base, int64_t T, TrErr *err) {
  int rc = check_common(s, base, T, err);
  if (rc) return rc;
  switch (s->name) {
    case TR_SCHED_STEP:
      if (s->step_size < 1)
        return tr_err_set(err, TR_EINVAL, "schedule.step_size: must be >= 1, got %d", s->step_size);
      return check_gamma(s, err);
    case TR_SCHED_EXPONENTIAL: return check_gamma(s, err);
    case TR_SCHED_MULTISTEP: return check_multistep(s, err);
    case TR_SCHED_COSINE:
    case TR_SCHED_LINEAR:
      if (s->decay_steps == 0 && need_length(s, T, err)) return TR_EINVAL;
      if (s->min_lr > base)
        return tr_err_set(err, TR_EINVAL, "schedule.min_lr: %g is above the base lr %g", s->min_lr, base);
      return TR_OK;
    case TR_SCHED_WSD: return check_wsd(s, base, T, err);
    case TR_SCHED_ONE_CYCLE: return check_one_cycle(s, T, err);
    default: return TR_OK; /* constant, inverse_sqrt: nothing of their own */
  }
}
