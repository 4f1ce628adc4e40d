/*
** tr_lrfind.c: the LR range test: an exponential learning-rate ramp over the
** training loop's own model, optimizer and batches (tr_core), the smoothed
** loss curve, and three suggestions read off it.
*/
#include "tr_lrfind.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_blas.h"
#include "tr_core.h"
#include "tr_json.h"
#include "tr_mem.h"

const char *tr_lrfind_stop_name(int s) {
  switch (s) {
    case TR_LRFIND_COMPLETED: return "completed";
    case TR_LRFIND_EXPLODED: return "exploded";
    case TR_LRFIND_NONFINITE: return "nonfinite";
    default: return "interrupted";
  }
}

double tr_lrfind_lr(double start, double end, int steps, int i) {
  if (steps < 2) return start;
  return start * pow(end / start, (double)i / (double)(steps - 1));
}

double tr_lrfind_smooth_next(double *avg, double loss, double beta, int i) {
  *avg = beta * *avg + (1.0 - beta) * loss;
  return *avg / (1.0 - pow(beta, i + 1)); /* debiased: the average starts at 0 */
}

void tr_lrfind_smooth(const double *loss, int n, double beta, double *out) {
  double avg = 0;
  for (int i = 0; i < n; i++) out[i] = tr_lrfind_smooth_next(&avg, loss[i], beta, i);
}

int tr_lrfind_stop_index(const double *s, int n, double factor) {
  double best = INFINITY;
  for (int i = 0; i < n; i++) {
    if (!isfinite(s[i])) return i;
    if (s[i] < best) best = s[i];
    if (s[i] > factor * best) return i;
  }
  return -1;
}

int tr_lrfind_min(const double *s, int n) {
  int best = -1;
  for (int i = 0; i < n; i++)
    if (isfinite(s[i]) && (best < 0 || s[i] < s[best])) best = i;
  return best;
}

/* Slope against log(lr) on [lo, hi): central differences inside, one-sided at
** the ends of the window (numpy.gradient on the window, as Lightning does). */
int tr_lrfind_steepest(const double *lr, const double *s, int n) {
  int lo = n / 10, hi = n - 5;
  if (hi - lo < 2) return -1;
  int best = -1;
  double best_g = INFINITY;
  for (int i = lo; i < hi; i++) {
    int a = i > lo ? i - 1 : i, b = i < hi - 1 ? i + 1 : i;
    double g = (s[b] - s[a]) / (log(lr[b]) - log(lr[a]));
    if (g < best_g) {
      best_g = g;
      best = i;
    }
  }
  return best;
}

/* fastai's valley: len[i] is the length of the longest strictly decreasing
** subsequence ending at i; the valley is the first longest one, and the
** suggestion sits len/3 + len/6 points after the point before it (fastai's
** arithmetic, about halfway down; kept so the numbers agree with fastai). */
int tr_lrfind_valley(const double *s, int n) {
  if (n < 1) return -1;
  int *len = tr_malloc((size_t)n * sizeof *len);
  if (!len) return -1;
  int end = 0;
  for (int i = 0; i < n; i++) {
    len[i] = 1;
    for (int j = 0; j < i; j++)
      if (s[i] < s[j] && len[j] + 1 > len[i]) len[i] = len[j] + 1;
    if (len[i] > len[end]) end = i;
  }
  int l = len[end];
  free(len);
  int base = end - l < 0 ? 0 : end - l;
  int idx = base + l / 3 + l / 6;
  return idx < n ? idx : n - 1;
}

static TrLrfindSuggestion suggestion(const TrLrfindPoint *p, int idx, double div) {
  TrLrfindSuggestion sg = {idx, NAN};
  if (idx >= 0) sg.lr = p[idx].lr / div;
  return sg;
}

/* Suggestions from the finite points (a non-finite last point is left out). */
static int lrfind_suggest(TrLrfindResult *res) {
  int n = res->n;
  if (n > 0 && !isfinite(res->points[n - 1].smoothed)) n--;
  double *lr = tr_malloc((size_t)(n ? n : 1) * sizeof *lr), *s = tr_malloc((size_t)(n ? n : 1) * sizeof *s);
  if (!lr || !s) {
    free(lr);
    free(s);
    return TR_ENOMEM;
  }
  for (int i = 0; i < n; i++) {
    lr[i] = res->points[i].lr;
    s[i] = res->points[i].smoothed;
  }
  res->steepest = suggestion(res->points, tr_lrfind_steepest(lr, s, n), 1.0);
  res->min10 = suggestion(res->points, tr_lrfind_min(s, n), 10.0);
  res->valley = suggestion(res->points, tr_lrfind_valley(s, n), 1.0);
  free(lr);
  free(s);
  return TR_OK;
}

static int lrfind_check(const TrConfig *cfg, const TrLrfindOptions *o, TrErr *err) {
  if (!(o->start > 0) || !(o->end > o->start) || !isfinite(o->end))
    return tr_err_set(err, TR_EINVAL, "lr range: need 0 < start < end, got start %g end %g", o->start, o->end);
  if (o->steps < 2) return tr_err_set(err, TR_EINVAL, "lr range: need at least 2 steps, got %d", o->steps);
  int rc = tr_config_validate(cfg, err);
  if (rc) return rc;
  TrMemEstimate e;
  TrMemAvail av;
  if ((rc = tr_mem_estimate(cfg, 0, &e, err))) return rc;
  tr_mem_available(&av, tr_config_threads(cfg));
  return tr_mem_check(&e, &av, err);
}

/* The ramp; fills res->points, res->n, res->stop and res->reason. */
static void lrfind_ramp(TrCore *c, const TrConfig *cfg, const TrLrfindOptions *o, TrLrfindResult *res) {
  const size_t np = tr_model_num_params(c->model);
  float *grads = tr_model_grads(c->model);
  double avg = 0, best = INFINITY;
  for (int i = 0; i < o->steps; i++) {
    if (o->stop && *o->stop) {
      res->stop = TR_LRFIND_INTERRUPTED;
      snprintf(res->reason, sizeof res->reason, "interrupted after step %d", i);
      return;
    }
    TrLrfindPoint *p = &res->points[res->n++];
    p->step = i + 1;
    p->lr = tr_lrfind_lr(o->start, o->end, o->steps, i);
    p->loss = tr_core_forward_backward(c, NULL, NULL);
    p->smoothed = tr_lrfind_smooth_next(&avg, p->loss, TR_LRFIND_BETA, i);
    if (o->on_point) o->on_point(o->ud, p, o->steps);
    if (!isfinite(p->smoothed)) {
      res->stop = TR_LRFIND_NONFINITE;
      snprintf(res->reason, sizeof res->reason, "smoothed loss is %g at step %d (lr %.3g)", p->smoothed, p->step,
               p->lr);
      return;
    }
    if (p->smoothed < best) best = p->smoothed;
    if (p->smoothed > TR_LRFIND_DIVERGE * best) {
      res->stop = TR_LRFIND_EXPLODED;
      snprintf(res->reason, sizeof res->reason, "smoothed loss %.4g exceeds %g x its minimum %.4g at step %d (lr %.3g)",
               p->smoothed, TR_LRFIND_DIVERGE, best, p->step, p->lr);
      return;
    }
    tr_grad_clip(grads, np, cfg->optimizer.grad_clip);
    tr_optim_step(c->optim, tr_model_params(c->model), grads, p->lr);
  }
  res->stop = TR_LRFIND_COMPLETED;
}

int tr_lrfind(const TrConfig *cfg, const TrLrfindOptions *o, TrLrfindResult *res, TrErr *err) {
  memset(res, 0, sizeof *res);
  res->steepest.index = res->min10.index = res->valley.index = -1;
  res->steepest.lr = res->min10.lr = res->valley.lr = NAN;
  int rc = lrfind_check(cfg, o, err);
  if (rc) return rc;
  if ((rc = tr_mem_threads_set(tr_config_threads(cfg), err))) return rc;
  res->points = tr_calloc((size_t)o->steps, sizeof *res->points);
  if (!res->points) return tr_err_set(err, TR_ENOMEM, "out of memory for %d points", o->steps);
  TrCore c;
  memset(&c, 0, sizeof c);
  if ((rc = tr_core_setup(&c, cfg, err)) == TR_OK) {
    lrfind_ramp(&c, cfg, o, res);
    if (lrfind_suggest(res)) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  tr_core_teardown(&c);
  if (rc) tr_lrfind_result_free(res);
  return rc;
}

void tr_lrfind_result_free(TrLrfindResult *res) {
  free(res->points);
  res->points = NULL;
  res->n = 0;
}

/* snprintf at buf + *off, keeping the total length needed in *off. */
static void app(char *buf, size_t n, size_t *off, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static void app(char *buf, size_t n, size_t *off, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int k = vsnprintf(*off < n ? buf + *off : NULL, *off < n ? n - *off : 0, fmt, ap);
  va_end(ap);
  if (k > 0) *off += (size_t)k;
}

static void app_suggestion(char *buf, size_t n, size_t *off, const char *name, const TrLrfindSuggestion *s,
                           const char *sep) {
  char v[32];
  tr_json_number(v, sizeof v, s->lr, 17);
  app(buf, n, off, "\"%s\": {\"lr\": %s, \"index\": %d}%s", name, v, s->index, sep);
}

size_t tr_lrfind_result_json(const TrLrfindResult *r, char *buf, size_t n) {
  size_t off = 0;
  if (n) buf[0] = 0;
  app(buf, n, &off, "{\"points\": [");
  for (int i = 0; i < r->n; i++) {
    char lr[32], l[32], s[32];
    tr_json_number(lr, sizeof lr, r->points[i].lr, 17);
    tr_json_number(l, sizeof l, r->points[i].loss, 17);
    tr_json_number(s, sizeof s, r->points[i].smoothed, 17);
    app(buf, n, &off, "%s{\"step\": %d, \"lr\": %s, \"loss\": %s, \"smoothed\": %s}", i ? ", " : "",
        r->points[i].step, lr, l, s);
  }
  app(buf, n, &off, "], \"suggestions\": {");
  app_suggestion(buf, n, &off, "steepest", &r->steepest, ", ");
  app_suggestion(buf, n, &off, "min10", &r->min10, ", ");
  app_suggestion(buf, n, &off, "valley", &r->valley, "");
  char reason[sizeof r->reason * 6 + 3];
  tr_json_quote(reason, sizeof reason, r->reason, 0);
  app(buf, n, &off, "}, \"stop\": \"%s\", \"reason\": %s}", tr_lrfind_stop_name(r->stop), reason);
  return off;
}
