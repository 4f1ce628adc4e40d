/*
** tr_optim.c: sgd, adam, adamw, rmsprop, lion; gradient norm and clipping.
**
** Each kernel mirrors the float32 operation order of torch 1.13's single-tensor
** path: scalars are computed in double and rounded to float once, as ATen does
** when a Python float meets a float32 tensor; elementwise work stays in float.
** Kernels take restrict pointers over one segment so gcc vectorises them.
** Threads (tr_par.h): each takes a fixed piece of every segment; the updates are
** elementwise, so results do not depend on the thread count. The gradient norm sums
** fixed blocks (independent of the thread count) combined in block order.
*/
#include "tr_optim.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_par.h"

struct TrOptim {
  TrOptimConfig cfg;
  size_t n;            /* parameters */
  TrParamSeg *segs;    /* (n_segs) */
  int n_segs;
  int64_t t;           /* steps taken */
  float *state;        /* (n_state) one allocation; layout per optimizer below */
  size_t n_state;
  float *m;            /* sgd/rmsprop momentum buffer, adam/lion first moment: (n) or NULL */
  float *v;            /* adam second moment, rmsprop square average: (n) or NULL */
  float *ga;           /* rmsprop centered grad average: (n) or NULL */
};

const char *tr_optim_name(int name) {
  static const char *const names[] = {"sgd", "adam", "adamw", "rmsprop", "lion"};
  return name >= 0 && name < (int)(sizeof names / sizeof names[0]) ? names[name] : "?";
}

static int in01(double x) { return x >= 0.0 && x < 1.0; }

static int optim_check(const TrOptimConfig *c, TrErr *err) {
  if (c->name < TR_OPT_SGD || c->name > TR_OPT_LION)
    return tr_err_set(err, TR_EINVAL, "optimizer.name: unknown optimizer %d", c->name);
  if (!(c->eps >= 0.0) || !isfinite(c->eps))
    return tr_err_set(err, TR_EINVAL, "optimizer.eps: must be >= 0, got %g", c->eps);
  if (!(c->weight_decay >= 0.0) || !isfinite(c->weight_decay))
    return tr_err_set(err, TR_EINVAL, "optimizer.weight_decay: must be >= 0, got %g", c->weight_decay);
  if (c->weight_decay_on != TR_WD_MATRICES && c->weight_decay_on != TR_WD_ALL)
    return tr_err_set(err, TR_EINVAL, "optimizer.weight_decay_on: unknown value %d", c->weight_decay_on);
  if (c->name == TR_OPT_ADAM || c->name == TR_OPT_ADAMW || c->name == TR_OPT_LION) {
    if (!in01(c->betas[0]) || !in01(c->betas[1]))
      return tr_err_set(err, TR_EINVAL, "optimizer.betas: each must be in [0, 1), got [%g, %g]",
                        c->betas[0], c->betas[1]);
  }
  if (c->name == TR_OPT_SGD || c->name == TR_OPT_RMSPROP) {
    if (!(c->momentum >= 0.0) || !isfinite(c->momentum))
      return tr_err_set(err, TR_EINVAL, "optimizer.momentum: must be >= 0, got %g", c->momentum);
  }
  if (c->name == TR_OPT_SGD) {
    if (!(c->dampening >= 0.0 && c->dampening <= 1.0))
      return tr_err_set(err, TR_EINVAL, "optimizer.dampening: must be in [0, 1], got %g", c->dampening);
    if (c->nesterov && (c->momentum <= 0.0 || c->dampening != 0.0))
      return tr_err_set(err, TR_EINVAL,
                        "optimizer.nesterov: needs momentum > 0 and dampening = 0, got momentum %g, dampening %g",
                        c->momentum, c->dampening);
  }
  if (c->name == TR_OPT_RMSPROP && !in01(c->alpha))
    return tr_err_set(err, TR_EINVAL, "optimizer.alpha: must be in [0, 1), got %g", c->alpha);
  return TR_OK;
}

/* Floats of each state buffer: momentum/first moment, second moment, centered mean. */
static void state_sizes(const TrOptimConfig *cfg, size_t n_params, size_t *nm, size_t *nv, size_t *nga) {
  *nm = *nv = *nga = 0;
  switch (cfg->name) {
    case TR_OPT_SGD: *nm = cfg->momentum != 0.0 ? n_params : 0; break;
    case TR_OPT_ADAM:
    case TR_OPT_ADAMW: *nm = *nv = n_params; break;
    case TR_OPT_RMSPROP:
      *nv = n_params;
      *nga = cfg->centered ? n_params : 0;
      *nm = cfg->momentum > 0.0 ? n_params : 0;
      break;
    case TR_OPT_LION: *nm = n_params; break;
    default: break;
  }
}

size_t tr_optim_state_floats(const TrOptimConfig *cfg, size_t n_params) {
  size_t nm, nv, nga;
  state_sizes(cfg, n_params, &nm, &nv, &nga);
  return nm + nv + nga;
}

int tr_optim_create(TrOptim **out, const TrOptimConfig *cfg, size_t n_params,
                    const TrParamSeg *segs, int n_segs, TrErr *err) {
  *out = NULL;
  int rc = optim_check(cfg, err);
  if (rc) return rc;
  if (n_segs <= 0 || !segs)
    return tr_err_set(err, TR_EINVAL, "optimizer: no parameter segments");
  size_t pos = 0;
  for (int i = 0; i < n_segs; i++) {
    if (segs[i].offset != pos || segs[i].numel > n_params - pos)
      return tr_err_set(err, TR_EINVAL,
                        "optimizer: segment %d (offset %zu, numel %zu) does not continue the buffer at %zu of %zu",
                        i, segs[i].offset, segs[i].numel, pos, n_params);
    if (!(segs[i].lr_mult >= 0.0 && segs[i].wd_mult >= 0.0) || !isfinite(segs[i].lr_mult) ||
        !isfinite(segs[i].wd_mult))
      return tr_err_set(err, TR_EINVAL, "optimizer: segment %d has lr_mult %g, wd_mult %g (need finite, >= 0)", i,
                        segs[i].lr_mult, segs[i].wd_mult);
    pos += segs[i].numel;
  }
  if (pos != n_params)
    return tr_err_set(err, TR_EINVAL, "optimizer: segments cover %zu of %zu parameters", pos, n_params);

  size_t nm, nv, nga;
  state_sizes(cfg, n_params, &nm, &nv, &nga);
  TrOptim *o = tr_calloc(1, sizeof *o);
  if (!o) return tr_err_set(err, TR_ENOMEM, "optimizer: out of memory");
  o->cfg = *cfg;
  o->n = n_params;
  o->n_segs = n_segs;
  o->segs = tr_malloc((size_t)n_segs * sizeof *o->segs);
  o->n_state = nm + nv + nga;
  if (o->n_state) o->state = tr_calloc(o->n_state, sizeof(float));
  if (!o->segs || (o->n_state && !o->state)) {
    tr_optim_destroy(o);
    return tr_err_set(err, TR_ENOMEM, "optimizer: out of memory for %zu state floats", nm + nv + nga);
  }
  memcpy(o->segs, segs, (size_t)n_segs * sizeof *segs);
  float *s = o->state;
  if (nm) o->m = s, s += nm;
  if (nv) o->v = s, s += nv;
  if (nga) o->ga = s;
  *out = o;
  return TR_OK;
}

void tr_optim_destroy(TrOptim *o) {
  if (!o) return;
  free(o->state);
  free(o->segs);
  free(o);
}

float *tr_optim_state(TrOptim *o, size_t *n_floats) {
  *n_floats = o->n_state;
  return o->state;
}

int64_t tr_optim_steps(const TrOptim *o) { return o->t; }
void tr_optim_set_steps(TrOptim *o, int64_t t) { o->t = t; }

/* ---- Kernels: one segment each ------------------------------------------------ */

static void sgd_seg(float *restrict p, const float *restrict g, float *restrict buf, size_t n,
                    float wd, float mom, float damp1, float neg_lr, int first, int nesterov) {
  if (!buf) {
    for (size_t i = 0; i < n; i++) p[i] = p[i] + neg_lr * (g[i] + wd * p[i]);
    return;
  }
  for (size_t i = 0; i < n; i++) {
    float d = g[i] + wd * p[i];
    float b = first ? d : buf[i] * mom + damp1 * d;
    buf[i] = b;
    float u = nesterov ? d + mom * b : b;
    p[i] = p[i] + neg_lr * u;
  }
}

static void adam_seg(float *restrict p, const float *restrict g, float *restrict m, float *restrict v,
                     size_t n, float wd, float decay, float b1, float c1, float b2, float c2,
                     float bc2_sqrt, float eps, float neg_step) {
  for (size_t i = 0; i < n; i++) {
    float pi = p[i] * decay;                  /* adamw: p *= 1 - lr*wd; adam: decay = 1 */
    float gi = g[i] + wd * pi;                /* adam: L2 in the gradient; adamw: wd = 0 */
    float mi = m[i] * b1 + c1 * gi;
    float vi = v[i] * b2 + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    float d = sqrtf(vi) / bc2_sqrt + eps;
    p[i] = pi + neg_step * mi / d;
  }
}

static void rmsprop_seg(float *restrict p, const float *restrict g, float *restrict s,
                        float *restrict ga, float *restrict buf, size_t n, float wd, float a,
                        float c, float eps, float mom, float neg_lr) {
  for (size_t i = 0; i < n; i++) {
    float gi = g[i] + wd * p[i];
    float si = s[i] * a + c * gi * gi;
    s[i] = si;
    float avg;
    if (ga) {
      float gai = ga[i] * a + c * gi;
      ga[i] = gai;
      avg = sqrtf(si + -1.0f * gai * gai);
    } else {
      avg = sqrtf(si);
    }
    avg = avg + eps;
    if (buf) {
      float b = buf[i] * mom + 1.0f * gi / avg;
      buf[i] = b;
      p[i] = p[i] + neg_lr * b;
    } else {
      p[i] = p[i] + neg_lr * gi / avg;
    }
  }
}

static void lion_seg(float *restrict p, const float *restrict g, float *restrict m, size_t n,
                     float decay, float b1, float c1, float b2, float c2, float neg_lr) {
  for (size_t i = 0; i < n; i++) {
    float c = m[i] * b1 + c1 * g[i];
    float sign = (float)(c > 0.0f) - (float)(c < 0.0f);
    p[i] = p[i] * decay + neg_lr * sign;
    m[i] = m[i] * b2 + c2 * g[i];
  }
}

/* Segment k's update over its elements [lo, hi). */
static void optim_seg_step(const TrOptim *o, int k, float *params, const float *grads,
                           double lr_step, int64_t t, size_t lo, size_t hi) {
  const TrOptimConfig *c = &o->cfg;
  const TrParamSeg *sg = &o->segs[k];
  size_t off = sg->offset + lo, n = hi - lo;
  double wd = (sg->is_matrix || c->weight_decay_on == TR_WD_ALL) ? c->weight_decay : 0.0;
  double lr = sg->lr_mult > 0.0 ? lr_step * sg->lr_mult : lr_step;
  if (sg->wd_mult > 0.0) wd *= sg->wd_mult;
  float *p = params + off;
  const float *g = grads + off;
  switch (c->name) {
    case TR_OPT_SGD:
      sgd_seg(p, g, o->m ? o->m + off : NULL, n, (float)wd, (float)c->momentum,
              (float)(1.0 - c->dampening), (float)-lr, t == 1, c->nesterov);
      break;
    case TR_OPT_ADAM:
    case TR_OPT_ADAMW: {
      double b1 = c->betas[0], b2 = c->betas[1];
      double bc1 = 1.0 - pow(b1, (double)t), bc2 = 1.0 - pow(b2, (double)t);
      int decoupled = c->name == TR_OPT_ADAMW;
      adam_seg(p, g, o->m + off, o->v + off, n, decoupled ? 0.0f : (float)wd,
               decoupled ? (float)(1.0 - lr * wd) : 1.0f, (float)b1, (float)(1.0 - b1),
               (float)b2, (float)(1.0 - b2), (float)sqrt(bc2), (float)c->eps,
               (float)-(lr / bc1));
      break;
    }
    case TR_OPT_RMSPROP:
      rmsprop_seg(p, g, o->v + off, o->ga ? o->ga + off : NULL, o->m ? o->m + off : NULL, n,
                  (float)wd, (float)c->alpha, (float)(1.0 - c->alpha), (float)c->eps,
                  (float)c->momentum, (float)-lr);
      break;
    case TR_OPT_LION:
      lion_seg(p, g, o->m + off, n, (float)(1.0 - lr * wd), (float)c->betas[0],
               (float)(1.0 - c->betas[0]), (float)c->betas[1], (float)(1.0 - c->betas[1]),
               (float)-lr);
      break;
    default: break;
  }
}

int tr_optim_step(TrOptim *o, float *params, const float *grads, double lr_step) {
  if (!o || !params || !grads || !isfinite(lr_step)) return TR_EINVAL;
  if (o->cfg.name < TR_OPT_SGD || o->cfg.name > TR_OPT_LION) return TR_EINVAL;
  int64_t t = ++o->t;
  const int nt = tr_par_threads_for(o->n);
  TR_PARALLEL(nt) {
    for (int k = 0; k < o->n_segs; k++) {
      size_t lo, hi;
      tr_par_range(o->segs[k].numel, 16, &lo, &hi);
      if (hi > lo) optim_seg_step(o, k, params, grads, lr_step, t, lo, hi);
    }
  }
  return TR_OK;
}

/* ---- Gradient norm, clipping, lr scaling ------------------------------------- */

/* Sum of squares of g[lo, hi) in 8 fixed lanes: the compiler may vectorise across
** lanes without changing any sum's order, so the result is identical with or without SIMD. */
static double sumsq(const float *g, size_t lo, size_t hi) {
  double acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  size_t n = hi - lo, n8 = n - n % 8;
  g += lo;
  for (size_t i = 0; i < n8; i += 8)
    for (int j = 0; j < 8; j++) acc[j] += (double)g[i + j] * (double)g[i + j];
  for (size_t i = n8; i < n; i++) acc[i - n8] += (double)g[i] * (double)g[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

/* The norm's blocks: a fixed count, so the sum's order does not depend on the threads. */
#define NORM_BLOCKS 64

double tr_grad_global_norm(const float *g, size_t n) {
  double part[NORM_BLOCKS];
  const int nt = tr_par_threads_for(n);
  TR_PARALLEL(nt) {
    size_t b0, b1;
    tr_par_range(NORM_BLOCKS, 1, &b0, &b1);
    for (size_t b = b0; b < b1; b++) {
      size_t lo = n * b / NORM_BLOCKS, hi = n * (b + 1) / NORM_BLOCKS;
      part[b] = sumsq(g, lo, hi);
    }
  }
  double s = 0.0;
  for (int b = 0; b < NORM_BLOCKS; b++) s += part[b];
  return sqrt(s);
}

double tr_grad_clip(float *g, size_t n, double max_norm) {
  double norm = tr_grad_global_norm(g, n);
  if (max_norm > 0.0) {
    double coef = max_norm / (norm + 1e-6);
    if (coef < 1.0) {
      float cf = (float)coef;
      const int nt = tr_par_threads_for(n);
      TR_PARALLEL(nt) {
        size_t lo, hi;
        tr_par_range(n, 16, &lo, &hi);
        for (size_t i = lo; i < hi; i++) g[i] *= cf;
      }
    }
  }
  return norm;
}

double tr_optim_effective_lr(const TrOptimConfig *c, int batch_size) {
  if (c->base_batch_size <= 0 || batch_size <= 0) return c->lr;
  double r = (double)batch_size / (double)c->base_batch_size;
  switch (c->lr_scaling) {
    case TR_LRS_LINEAR: return c->lr * r;
    case TR_LRS_SQRT: return c->lr * sqrt(r);
    default: return c->lr;
  }
}
