/*
** tr_lrfind.h: the learning-rate range test (Smith 2015; the procedure of
** fastai's lr_find and PyTorch Lightning's lr_find).
**
** Contract:
** - tr_lrfind() builds the config's data, model, optimizer and batch exactly as
**   tr_run does (tr_core), then takes `steps` optimizer steps with the learning
**   rate ramped exponentially from start to end: lr_i = start * (end/start)^(i/(steps-1)).
**   The ramp replaces the config's schedule and optimizer.lr (per-tensor lr
**   multipliers, e.g. muP's, still apply). Nothing is evaluated, nothing saved.
** - Each step's training loss is smoothed by a debiased exponential moving
**   average (beta 0.98): avg = beta*avg + (1-beta)*loss, smoothed = avg / (1 - beta^(i+1)).
**   The test stops when the smoothed loss exceeds 4x its minimum so far
**   (TR_LRFIND_EXPLODED, the point is kept) or is not finite
**   (TR_LRFIND_NONFINITE, the point is kept but no suggestion uses it).
** - Suggestions (index into points, -1 if the curve is too short):
**   steepest: the most negative slope of smoothed loss against log(lr), first
**   10% and last 5 points skipped; min10: the lr of the smallest smoothed loss,
**   divided by 10; valley: fastai's, the longest strictly decreasing run of the
**   smoothed curve (as a subsequence) and the point about halfway down it.
** - Seeded and deterministic: the same config, seed and thread count give
**   bit-identical points. Returns TR_OK (result filled, caller frees with
**   tr_lrfind_result_free) or an error code with err filled; prints nothing.
*/
#ifndef TR_LRFIND_H
#define TR_LRFIND_H

#include <signal.h>
#include <stddef.h>

#include "tr_config.h"
#include "tr_err.h"

#define TR_LRFIND_BETA 0.98
#define TR_LRFIND_DIVERGE 4.0

typedef enum { TR_LRFIND_COMPLETED, TR_LRFIND_EXPLODED, TR_LRFIND_NONFINITE, TR_LRFIND_INTERRUPTED } TrLrfindStop;
const char *tr_lrfind_stop_name(int stop);

typedef struct TrLrfindPoint {
  int step;        /* 1-based optimizer step */
  double lr, loss, smoothed;
} TrLrfindPoint;

typedef struct TrLrfindOptions {
  double start, end; /* 0 < start < end */
  int steps;         /* >= 2 */
  /* Called after every step (may be NULL): progress for long runs. */
  void (*on_point)(void *ud, const TrLrfindPoint *p, int steps);
  void *ud;
  volatile sig_atomic_t *stop; /* polled every step: non-zero stops the test (interrupted) */
} TrLrfindOptions;

typedef struct TrLrfindSuggestion {
  int index;       /* into points, -1 = none */
  double lr;       /* NAN if none; min10 is points[index].lr / 10 */
} TrLrfindSuggestion;

typedef struct TrLrfindResult {
  TrLrfindPoint *points;
  int n;
  int stop;        /* TrLrfindStop */
  char reason[160];
  TrLrfindSuggestion steepest, min10, valley;
} TrLrfindResult;

int tr_lrfind(const TrConfig *cfg, const TrLrfindOptions *opt, TrLrfindResult *res, TrErr *err);
void tr_lrfind_result_free(TrLrfindResult *res);

/* ---- the pieces, on plain arrays (tested on synthetic curves) ---- */

/* The learning rate of step i (0-based) of the ramp. */
double tr_lrfind_lr(double start, double end, int steps, int i);
/* One step of the debiased moving average: updates *avg, returns smoothed loss i (0-based). */
double tr_lrfind_smooth_next(double *avg, double loss, double beta, int i);
/* The whole series: out[i] = smoothed loss i. */
void tr_lrfind_smooth(const double *loss, int n, double beta, double *out);
/* Index of the first point where the test stops (smoothed not finite, or >
** factor x the minimum so far), or -1 if it never does. */
int tr_lrfind_stop_index(const double *smoothed, int n, double factor);
/* Suggestion indices on a finite curve (-1 if none). lr must be increasing. */
int tr_lrfind_steepest(const double *lr, const double *smoothed, int n);
int tr_lrfind_min(const double *smoothed, int n);
int tr_lrfind_valley(const double *smoothed, int n);

/* The result as one JSON object {"points": [...], "suggestions": {...}, "stop": ..., "reason": ...}.
** Returns bytes needed (snprintf convention). */
size_t tr_lrfind_result_json(const TrLrfindResult *res, char *buf, size_t n);

#endif
