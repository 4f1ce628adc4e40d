/*
** sw_pbt.h: population-based training (Jaderberg et al. 2017, as Ray Tune's
** PopulationBasedTraining): which member yields, which copies whom, and the values it
** trains with next. Pure decisions over the sweep's curves; the store runs them inside
** its write transactions (rs_trial_judge, the claim's promotion hook), so -j N and
** several runners decide alike. docs/pbt.md tells the story.
**
** Contract:
** - A member is a trial; it is judged at every multiple s of perturbation_interval below
**   its last step, right after its checkpoint at s is recorded (the worker links it as
**   <runs_dir>/pbt/<trial id>/<s>.bin first: a file no later save rewrites).
** - Members at s: the curves with a value in (s - interval, s] (their newest there) and
**   a recorded checkpoint at s or later (so their file for s exists).
** - Arriving at s (the run got there), a member yields (SW_PBT_PAUSE: the store pauses
**   it at its checkpoint) while some other member could run and is behind it: pending,
**   interrupted, or paused below s. sw_pbt_promote then resumes the paused member that is
**   furthest behind (ties by idx), never one ahead of a pending member: the population
**   advances interval by interval on any number of workers, as Ray's scheduler does.
** - Deciding at s (arriving with nobody behind, or starting from a checkpoint at s it
**   was not decided at: trials.rung < s): rank the members at s by their value (goal
**   first, ties by idx); q = ceil(N * quantile_fraction), at most floor(N / 2). A member
**   among the q worst exploits one of the q best, drawn uniformly: SW_PBT_EXPLOIT with a
**   source; others SW_PBT_KEEP. Both are written (trials.rung = s): a member is decided
**   at s once, whoever crashes when.
** - Explore (after the copy, so the values below are the ones that train): the source's
**   values of every parameter that varies and every mutation (its params; else the
**   base's); then each mutation: with resample_probability a fresh draw of its
**   distribution, else a categorical moves one value up or down and a number is
**   multiplied by one of the factors, clamped to its distribution's range (int_uniform
**   rounded, q_ distributions quantised).
** - Every draw comes from tr_rng seeded by (sweep seed, member idx, s): the same on every
**   runner and after a crash.
** - The lineage: an exploit's event detail is {"step", "source" (trial id), "source_idx",
**   "value", "source_value" (the metric at the step), "rank", "n", "params" (the values from
**   now on), "from" (the member's values before)}.
*/
#ifndef SW_PBT_H
#define SW_PBT_H

#include <stddef.h>
#include <stdint.h>

#include "rs_store.h"
#include "sw_spec.h"
#include "tr_config.h"
#include "tr_err.h"

#define SW_PBT_DIR "pbt" /* <runs_dir>/pbt/<trial id>/<step>.bin */

typedef enum { SW_PBT_NONE = 0, SW_PBT_PAUSE, SW_PBT_KEEP, SW_PBT_EXPLOIT } SwPbtAction;

typedef struct SwPbtDecision {
  SwPbtAction action;  /* NONE: not a perturbation step, or decided there already */
  int64_t step;
  long source;         /* EXPLOIT: index into the curves of the member copied */
  size_t n;            /* members at the step */
  size_t rank;         /* the judged member's rank among them, 0 = best */
  size_t q;            /* members in each quantile */
  double value, source_value; /* at the step (NaN if none) */
} SwPbtDecision;

/* The decision about curves[self] at `step` (arriving: the run reached it; else it starts
** from its checkpoint there). */
void sw_pbt_decide(const SwPbt *pbt, int maximize, uint64_t sweep_seed, const RsCurve *c, size_t n, size_t self,
                   int64_t step, int arriving, SwPbtDecision *out);

/* The claim's promotion hook: the paused member furthest behind, or -1 (none, or a
** pending or interrupted member is at least as far behind: it runs first). */
long sw_pbt_promote(const RsCurve *c, size_t n);

/* Explore: *next = own with the source's values (source_params, a trial's params JSON)
** and the mutations perturbed, seeded by (sweep_seed, idx, step); *params_json (malloc'd)
** the values that vary, as trials.params holds them. */
int sw_pbt_explore(const SwPbt *pbt, const SwSpec *spec, const TrConfig *own, const char *source_params,
                   uint64_t sweep_seed, int idx, int64_t step, TrConfig *next, char **params_json, TrErr *err);

/* The member checkpoint of trial `trial_id` at `step`: <runs_dir>/pbt/<trial_id>/<step>.bin; for a
** program (dir non-zero) the snapshot of its run directory, <runs_dir>/pbt/<trial_id>/<step>/. */
int sw_pbt_ckpt_path(const char *runs_dir, int64_t trial_id, int64_t step, int dir, char *buf, size_t n);

/* Explore for a program member (docs/pbt.md "Programs"): *params_json (malloc'd) = the source's
** params (every parameter, as W&B's agent passes them) with each mutation perturbed as
** sw_pbt_explore does, seeded alike; prop decodes params (sw_propose.h). */
struct SwProposer;
int sw_pbt_explore_program(const SwPbt *pbt, const SwSpec *spec, const struct SwProposer *prop,
                           const char *source_params, uint64_t sweep_seed, int idx, int64_t step, char **params_json,
                           TrErr *err);

/* rs_trial_judge's callback for a member (ctx: SwPbtJudge), and what it keeps between calls. */
typedef struct SwPbtJudge {
  const SwPbt *pbt;
  const SwSpec *spec;
  int maximize;
  uint64_t seed;            /* the sweep's */
  const char *runs_dir;
  const TrConfig *own;      /* the member's config as it trains now */
  const struct SwProposer *program; /* a program member: explore its params (sw_pbt_explore_program) */
  const char *own_config;   /* a program member: its stored config JSON, kept by an exploit */
  const char *own_params;   /* a program member: its params now (the lineage's "from") */
  int64_t step;             /* the checkpoint step judged */
  int arriving;
  SwPbtDecision d;          /* the last call's */
  TrConfig next;            /* EXPLOIT: the config from now on */
  char *config, *params;    /* its JSON and params (owned: sw_pbt_judge_clear) */
  char ckpt[4096];          /* the source's file */
  TrErr err;                /* why the callback failed */
} SwPbtJudge;
int sw_pbt_judge(void *ctx, const RsCurve *c, size_t n, size_t self, RsVerdict *out);
void sw_pbt_judge_clear(SwPbtJudge *j);

#endif
