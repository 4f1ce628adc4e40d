/*
** tr_schedule.h: learning-rate schedules, a pure function of the step.
**
** Contract:
** - tr_schedule_lr(s, base, step, T) is the lr of the optimizer step with 0-based
**   index `step` in a run of T steps (T <= 0: length unknown). No state: resuming
**   from a checkpoint just asks for the next step's lr.
** - Warm-up (every schedule except one_cycle), W = warmup_steps, f = warmup_start_factor:
**     step < W:   lr = base * (f + (1 - f) * step / W)
**     step >= W:  the schedule below runs on s = step - W over a run of R = T - W
**                 steps (so milestones, step_size, decay_steps count from the end
**                 of warm-up). This is torch's SequentialLR(LinearLR(f, 1, W), X,
**                 milestones=[W]).
** - Schedules (m = min_lr, g = gamma, D = decay_steps, or R when decay_steps is 0):
**     constant      base
**     step          base * g^floor(s / step_size)                  (torch StepLR)
**     multistep     base * g^(number of milestones <= s)            (torch MultiStepLR)
**     exponential   base * g^s                                     (torch ExponentialLR)
**     cosine        m + (base - m) * (1 + cos(pi * s / D)) / 2, m for s >= D
**                   (torch CosineAnnealingLR, T_max = D, which rises again after D)
**     linear        m + (base - m) * (1 - min(s, D) / D)
**                                  (torch LinearLR, end_factor = m/base, total_iters = D)
**     inverse_sqrt  base * sqrt(V / (V + s)), V = max(W, 1): continuous after warm-up,
**                   = base * sqrt(W / step) once warmed up
**     wsd           K = round(decay_fraction * T) decay steps at the end of the run;
**                   base until s = R - K, then p = (s - (R - K) + 1) / K and
**                   linear: m + (base - m) * (1 - p), cosine: m + (base - m) * (1 + cos(pi p)) / 2,
**                   reaching m exactly at the last step of the run
**     one_cycle     torch OneCycleLR(max_lr = max_lr or base when 0, total_steps = T,
**                   pct_start, div_factor, final_div_factor, anneal_strategy='cos',
**                   three_phase=False); the lr only (momentum is not cycled);
**                   warmup_steps must be 0 (pct_start is its warm-up); steps past
**                   T keep the final lr.
** - tr_schedule_check() holds the rules that need the base lr or the run length:
**   cosine/linear without decay_steps, wsd and one_cycle need T > 0. Errors name
**   the key and the value ("schedule.milestones: must be strictly increasing, got [30, 10]").
**   tr_schedule_lr() never fails: on a config that check rejects it returns base.
*/
#ifndef TR_SCHEDULE_H
#define TR_SCHEDULE_H

#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"

double tr_schedule_lr(const TrScheduleConfig *s, double base_lr, int64_t step, int64_t total_steps);
int tr_schedule_check(const TrScheduleConfig *s, double base_lr, int64_t total_steps, TrErr *err);
/* The schedule's registry name ("cosine"). */
const char *tr_schedule_name(int name);

#endif
