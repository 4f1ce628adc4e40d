/*
** tr_optim.h: optimizers, gradient clipping and batch-size lr scaling over flat
** float buffers. Knows nothing of the model: the caller describes its parameter
** tensors as segments of one buffer.
**
** Contract:
** - Semantics are exactly torch.optim 1.13 (single-tensor path, foreach=False),
**   including the order of float32 operations (tests/golden: 1e-6 relative,
**   1e-5 for centered rmsprop, whose sqrt(s - ga^2) cancels):
**     sgd      g += wd*p; buf = g on the first step, else buf = m*buf + (1-dampening)*g;
**              d = nesterov ? g + m*buf : buf (momentum 0: d = g); p -= lr*d
**     adam     g += wd*p (L2 in the gradient); m = b1*m + (1-b1)*g; v = b2*v + (1-b2)*g*g;
**              p -= lr/(1-b1^t) * m / (sqrt(v)/sqrt(1-b2^t) + eps)
**     adamw    p *= 1 - lr*wd (decoupled), then adam without the L2 term
**     rmsprop  g += wd*p; s = a*s + (1-a)*g*g; centered: ga = a*ga + (1-a)*g, s' = s - ga^2;
**              d = sqrt(s') + eps (eps outside the sqrt); momentum: buf = m*buf + g/d, p -= lr*buf;
**              else p -= lr*g/d
**     lion     (lion-pytorch) p *= 1 - lr*wd; p -= lr*sign(b1*m + (1-b1)*g); m = b2*m + (1-b2)*g
** - Weight decay applies per segment: to matrices (is_matrix) only, or to all
**   segments when cfg->weight_decay_on == TR_WD_ALL.
** - Segments tile [0, n_params) in buffer order with no gap or overlap.
** - A segment's lr_mult and wd_mult (0 = 1) multiply the step's lr and the
**   configured weight decay for that segment alone (muP, tr_model_lr_mults);
**   with both 1 the arithmetic is exactly the unscaled one.
** - All optimizer state (moments, buffers) lives in ONE float allocation, zeroed
**   at create; a checkpoint saves tr_optim_state() and tr_optim_steps() and
**   restores both into an optimizer created with the same config and segments.
** - Deterministic: single-threaded loops in a fixed order (vectorised by the
**   compiler without reassociation), no RNG.
*/
#ifndef TR_OPTIM_H
#define TR_OPTIM_H

#include <stddef.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"

typedef struct TrParamSeg {
  size_t offset, numel;   /* one per parameter tensor, in buffer order */
  int is_matrix;          /* 2-D weight: gets weight decay under TR_WD_MATRICES */
  double lr_mult;         /* this segment's lr = lr * lr_mult (muP); 0 = 1 */
  double wd_mult;         /* this segment's weight decay * wd_mult (muP); 0 = 1 */
} TrParamSeg;

typedef struct TrOptim TrOptim;

/* Copies cfg and segs. Fails (TR_EINVAL, message names the key and value) on a
** bad name, betas outside [0,1), negative eps/weight_decay/momentum, nesterov
** without momentum or with dampening, alpha outside [0,1), or segments that
** do not tile the buffer. */
int tr_optim_create(TrOptim **out, const TrOptimConfig *cfg, size_t n_params,
                    const TrParamSeg *segs, int n_segs, TrErr *err);
void tr_optim_destroy(TrOptim *o);
/* Floats of optimizer state tr_optim_create allocates for n_params under cfg
** (adam/adamw 2n, centered rmsprop with momentum 3n, plain sgd 0). */
size_t tr_optim_state_floats(const TrOptimConfig *cfg, size_t n_params);

/* One step with learning rate lr (from the schedule): updates params and the
** state; grads are read only (clip them first). TR_EINVAL if lr is not finite. */
int tr_optim_step(TrOptim *o, float *params, const float *grads, double lr);

/* Checkpoint support: the single state allocation (NULL and 0 floats for plain
** sgd) and the number of steps taken (Adam's bias correction, SGD's first-step
** buffer initialisation). */
float *tr_optim_state(TrOptim *o, size_t *n_floats);
int64_t tr_optim_steps(const TrOptim *o);
void tr_optim_set_steps(TrOptim *o, int64_t t);

/* The optimizer's registry name ("adamw"). */
const char *tr_optim_name(int name);

/* L2 norm of g, accumulated in double over 64 fixed blocks of 8 fixed lanes each,
** the blocks summed in order: same result at every thread count, on every run and
** every build that keeps IEEE semantics. */
double tr_grad_global_norm(const float *g, size_t n);
/* Clip g to global norm max_norm as torch.nn.utils.clip_grad_norm_ does
** (scale by max_norm/(norm+1e-6) when that is below 1). Returns the PRE-clip
** norm. max_norm <= 0 = off (the norm is still returned). */
double tr_grad_clip(float *g, size_t n, double max_norm);

/* lr scaled from base_batch_size to batch_size: none (lr), linear
** (lr*B/B0) or sqrt (lr*sqrt(B/B0)). base_batch_size <= 0 or batch_size <= 0 = lr. */
double tr_optim_effective_lr(const TrOptimConfig *c, int batch_size);

#endif
