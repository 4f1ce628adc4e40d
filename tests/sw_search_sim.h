/*
** sw_search_sim.h: model-based search run in-process on Branin or Hartmann-6, for
** tests (test_sw_gp, test_sw_tpe) and bench/bayes_bench. No Criterion here.
**
** A sweep of `trials` trials with `workers` simulated workers of equal speed: when
** trial k is proposed, trials k - workers + 1 .. k - 1 are still running (they enter
** the model as running observations) and the earlier ones are done. Random search is
** hpsweep's: configuration k draws from tr_rng_seed2(sweep seed, k) (sw_expand.h), which
** for uniform and q_uniform parameters is decode(u) with u drawn the same way, redrawn
** while it repeats an earlier configuration. GP and TPE proposals
** are seeded sw_space_seed(sweep seed, k).
*/
#ifndef SW_SEARCH_SIM_H
#define SW_SEARCH_SIM_H

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../examples/analytic/analytic.h"
#include "sw_gp.h"
#include "sw_space.h"
#include "sw_tpe.h"

typedef enum { SW_SEARCH_RANDOM, SW_SEARCH_GP, SW_SEARCH_TPE } SwSearchKind;

/* Counted by sw_search_run in this translation unit: proposals the model made from at least
** 2 results (GP) or past the start-up (TPE), and of those the random points the GP made at
** its length scale's bound. A caller zeroes them before the runs it counts. */
static size_t sw_search_n_model, sw_search_n_bound;

typedef struct SwSearchSpace {
  const char *name;   /* "branin" or "hartmann6" */
  SwSpec *spec;
  SwSpace sp;
  double fmin;        /* the global minimum */
} SwSearchSpace;

/* Load a program spec over the function's box (written to dir/NAME.yaml): NAME is branin,
** branin_q (Branin on a grid of step 0.5) or hartmann6. 0 on success. */
static inline int sw_search_space(SwSearchSpace *S, const char *dir, const char *name, TrErr *err) {
  char path[4200], text[1024];
  int br = strcmp(name, "branin") == 0, bq = strcmp(name, "branin_q") == 0;
  memset(S, 0, sizeof *S);
  S->name = br ? "branin" : bq ? "branin_q" : "hartmann6";
  S->fmin = br || bq ? HPS_BRANIN_MIN : HPS_HARTMANN6_MIN;
  if (br || bq) /* branin_q: a 31 x 31 grid (q 0.5), where running points can be proposed again */
    snprintf(text, sizeof text, "method: random\nprogram: /bin/true\nmetric: {name: loss}\nparameters:\n"
             "  x1: {distribution: %s, min: -5.0, max: 10.0%s}\n  x2: {distribution: %s, min: 0.0, max: 15.0%s}\n",
             br ? "uniform" : "q_uniform", br ? "" : ", q: 0.5", br ? "uniform" : "q_uniform", br ? "" : ", q: 0.5");
  else
    snprintf(text, sizeof text, "method: random\nprogram: /bin/true\nmetric: {name: loss}\nparameters:\n"
             "  x1: {min: 0.0, max: 1.0}\n  x2: {min: 0.0, max: 1.0}\n  x3: {min: 0.0, max: 1.0}\n"
             "  x4: {min: 0.0, max: 1.0}\n  x5: {min: 0.0, max: 1.0}\n  x6: {min: 0.0, max: 1.0}\n");
  snprintf(path, sizeof path, "%s/%s.yaml", dir, S->name);
  FILE *f = fopen(path, "w");
  if (!f) return tr_err_set(err, TR_EIO, "%s: cannot write", path);
  fputs(text, f);
  fclose(f);
  int rc = sw_spec_load(&S->spec, path, err);
  if (rc == TR_OK) rc = sw_space_init(&S->sp, S->spec, err);
  return rc;
}

static inline void sw_search_free(SwSearchSpace *S) {
  sw_space_free(&S->sp);
  sw_spec_destroy(S->spec);
  S->spec = NULL;
}

static inline double sw_search_eval(const SwSearchSpace *S, const SwValue *v) {
  if (S->name[0] == 'b') return hps_branin(v[0].x, v[1].x); /* branin, branin_q */
  double x[6];
  for (int i = 0; i < 6; i++) x[i] = v[i].x;
  return hps_hartmann6(x);
}

/* One sweep; *best the best value found, *dups the proposals equal to an earlier trial's
** configuration (done or running). hide_running: the models never see running trials (no
** belief, no liar: what the peers' naive parallel mode does). 0 on success. */
static inline int sw_search_run(const SwSearchSpace *S, SwSearchKind kind, uint64_t seed, int trials, int workers,
                                int hide_running, double *best, int *dups, TrErr *err) {
  size_t d = S->sp.n, np = S->sp.n_params;
  double *U = malloc((size_t)trials * d * sizeof *U), *loss = malloc((size_t)trials * sizeof *loss);
  double *y = malloc((size_t)trials * sizeof *y);
  SwValue *V = malloc((size_t)trials * np * sizeof *V);
  SwObs *obs = malloc((size_t)trials * sizeof *obs);
  int rc = U && loss && y && V && obs ? TR_OK : tr_err_set(err, TR_ENOMEM, "out of memory");
  *best = INFINITY;
  *dups = 0;
  for (int k = 0; rc == TR_OK && k < trials; k++) {
    for (int i = 0; i < k; i++)
      obs[i] = (SwObs){&U[(size_t)i * d], y[i], 0, i > k - workers ? SW_OBS_RUNNING : SW_OBS_DONE};
    double *u = &U[(size_t)k * d];
    SwValue *v = &V[(size_t)k * np];
    if (kind == SW_SEARCH_RANDOM) { /* sw_expand's: redrawn from the same stream while it repeats a trial */
      TrRng r;
      tr_rng_seed2(&r, seed, (uint64_t)k);
      for (int a = 0, again = 1; again && a < SW_MAX_REDRAWS; a++) {
        for (size_t t = 0; t < d; t++) u[t] = tr_rng_uniform(&r);
        sw_space_decode(&S->sp, u, v);
        again = 0;
        for (int i = 0; i < k && !again; i++) again = memcmp(&V[(size_t)i * np], v, np * sizeof *v) == 0;
      }
    } else {
      size_t seen = hide_running && k >= workers - 1 ? (size_t)(k - workers + 1) : (size_t)k;
      sw_obs_losses(obs, seen, SW_GOAL_MINIMIZE, NULL, loss);
      SwProposal pr = {0};
      rc = (kind == SW_SEARCH_GP ? sw_gp_propose : sw_tpe_propose)(&S->sp, obs, loss, seen,
                                                                    sw_space_seed(seed, (uint64_t)k), u, &pr, err);
      int bound = pr.why && !strcmp(pr.why, "length scale at its bound");
      sw_search_n_model += rc == TR_OK && (!pr.random || bound);
      sw_search_n_bound += rc == TR_OK && bound;
    }
    sw_space_decode(&S->sp, u, v);
    for (int i = 0; i < k; i++)
      if (memcmp(&V[(size_t)i * np], v, np * sizeof *v) == 0) {
        (*dups)++;
        break;
      }
    y[k] = sw_search_eval(S, v);
    if (y[k] < *best) *best = y[k];
  }
  free(U), free(loss), free(y), free(V), free(obs);
  return rc;
}

static inline int sw_search_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return x < y ? -1 : x > y;
}

/* The median simple regret (best - global minimum) over sweep seeds 0 .. nseeds - 1;
** *dups the duplicate proposals summed over them (dups may be NULL). NaN on error. */
static inline double sw_search_median_regret(const SwSearchSpace *S, SwSearchKind kind, int trials, int nseeds,
                                             int workers, int hide_running, int *dups) {
  double r[256];
  int total = 0;
  if (nseeds > 256) nseeds = 256;
  for (int s = 0; s < nseeds; s++) {
    TrErr err;
    double best;
    int dd;
    if (sw_search_run(S, kind, (uint64_t)s, trials, workers, hide_running, &best, &dd, &err)) return NAN;
    r[s] = best - S->fmin;
    total += dd;
  }
  if (dups) *dups = total;
  qsort(r, (size_t)nseeds, sizeof *r, sw_search_cmp_double);
  return nseeds % 2 ? r[nseeds / 2] : 0.5 * (r[nseeds / 2 - 1] + r[nseeds / 2]);
}

/* Duplicate proposals on Branin's grid (branin_q), 40 trials x 5 sweep seeds, one trial
** running at each proposal: *dups with the running trials shown to the model, *naive with
** them hidden. 0, or -1 when a sweep failed. */
static inline int sw_search_grid_dups(const SwSearchSpace *S, SwSearchKind kind, int *dups, int *naive) {
  double r = sw_search_median_regret(S, kind, 40, 5, 2, 0, dups);
  double rn = sw_search_median_regret(S, kind, 40, 5, 2, 1, naive);
  return isfinite(r) && isfinite(rn) ? 0 : -1;
}

/* A space of x in [0, 1] and c in {a, b, c, d} where only c (index 2) is good: how many of
** `props` seeded proposals, after `n` random results, pick it (-1 on error). */
static inline int sw_search_categorical_hits(const char *dir, SwSearchKind kind, int n, int props) {
  char path[4200];
  snprintf(path, sizeof path, "%s/cat.yaml", dir);
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  fputs("method: bayes\nprogram: /bin/true\nmetric: {name: loss}\nparameters:\n"
        "  x: {min: 0.0, max: 1.0}\n  c: {values: [a, b, c, d]}\n", f);
  fclose(f);
  SwSpec *s = NULL;
  SwSpace sp;
  TrErr err;
  if (sw_spec_load(&s, path, &err) || sw_space_init(&sp, s, &err)) return sw_spec_destroy(s), -1;
  double *U = malloc((size_t)n * 2 * sizeof *U), *l = malloc((size_t)n * sizeof *l), u[2];
  SwObs *o = malloc((size_t)n * sizeof *o);
  SwValue v[2];
  int hits = U && l && o ? 0 : -1;
  TrRng r;
  tr_rng_seed(&r, 17);
  for (int i = 0; hits >= 0 && i < n; i++) {
    sw_space_random(&sp, &r, &U[2 * i]);
    sw_space_decode(&sp, &U[2 * i], v);
    o[i] = (SwObs){&U[2 * i], (v[0].x - 0.3) * (v[0].x - 0.3) + (v[1].index == 2 ? 0 : 1), 0, SW_OBS_DONE};
  }
  if (hits >= 0) sw_obs_losses(o, (size_t)n, SW_GOAL_MINIMIZE, NULL, l);
  for (int k = 0; hits >= 0 && k < props; k++) {
    if ((kind == SW_SEARCH_GP ? sw_gp_propose : sw_tpe_propose)(&sp, o, l, (size_t)n, sw_space_seed(1, (uint64_t)k), u, NULL, &err)) {
      hits = -1;
      break;
    }
    sw_space_decode(&sp, u, v);
    hits += v[1].index == 2;
  }
  free(U), free(l), free(o);
  sw_space_free(&sp);
  sw_spec_destroy(s);
  return hits;
}

#endif
