/*
** sw_prune.h: early termination: which running trial to stop (prune) or pause, and
** which paused trial to promote. Pure decisions over the sweep's curves; the store
** (rs_trial_judge, rs_trial_claim's promotion hook) runs them inside its write
** transactions, so -j N and several runners on one database decide alike.
**
** Contract:
** - An iteration of a trial is one finite value of the sweep metric; a curve holds
**   a trial's finite values in step order (non-finite ones are left out by the store).
** - sw_prune_judge is called right after a trial's curve got a new value; it reads
**   only the curves given and returns what to do with curve `self`.
** - W&B hyperband (SW_ET_WANDB): exactly W&B's sweeps code: bands from max_iter and s
**   (divide by eta s times, keep int(b) while b >= 1, ascending; max_iter itself is
**   not a band), or from min_iter (int(min_iter * eta^k)); the threshold at band b is
**   the b-th value of every trial with >= b values (negated for maximize), sorted
**   ascending, element int(n / eta), self included; the trial is judged at the largest
**   band <= its length and pruned when its value (strict: the value at the band, else
**   its best so far) is strictly above the threshold.
** - Median (SW_ET_MEDIAN): Optuna's MedianPruner: no decision before n_startup_trials
**   completed trials, before step n_warmup_steps, or when the newest step is not the
**   first at or after a point of the interval_steps grid; the trial's best so far
**   against the median (numpy's linear percentile 50) of the completed trials' values
**   at exactly the same step (trials without a value at that step left out; none: keep).
** - ASHA (SW_ET_ASHA): rungs at grace_period * eta^k < max_t (steps). A trial reaches
**   rung r when its newest value is the first at a step >= r (its value at the rung is
**   that value; the highest rung if one value crossed several). Without promotions
**   (stopping variant) it is pruned unless in the top max(1, floor(n / eta)) of the n
**   trials of its bracket that reached the rung (itself included, ties by idx); with
**   promotions it is paused at every rung and sw_prune_promote picks who continues (Li
**   et al., ASHA, algorithm 2). The caller judges a value once: a promoted trial's first
**   new value lies past its rung, so the rung is not crossed again. brackets > 1: bracket
**   of a trial = idx mod brackets, bracket b's rungs start at grace_period * eta^b.
** - Hyperband brackets (SW_ET_HYPERBAND): Li et al. 2017, s_max = floor(log_eta(max_t /
**   grace_period)) computed in integers; bracket of a trial = idx mod (s_max + 1); each
**   bracket is a stopping ASHA ladder starting at grace_period * eta^bracket.
** - ASHA and hyperband brackets read eta as an integer >= 2 (the spec refuses others).
** - Everything is deterministic in the curves' contents: the order curves are given
**   in does not change a verdict (ties broken by trial idx).
*/
#ifndef SW_PRUNE_H
#define SW_PRUNE_H

#include <stddef.h>
#include <stdint.h>

#include "rs_store.h"
#include "sw_spec.h"

typedef enum { SW_KEEP = 0, SW_PRUNE, SW_PAUSE } SwAction;

typedef struct SwVerdict {
  SwAction action;
  int64_t at;        /* the band (iterations, W&B) or rung (steps) the decision was made at */
  double threshold;  /* the value it was compared with (NaN if none) */
  double value;      /* the trial's value compared */
  size_t n;          /* trials the threshold was computed over */
  char reason[200];  /* one line for the trial's error/events, e.g.
                        "pruned at band 3: 10 > threshold 8 (n 2, eta 3)" */
} SwVerdict;

/* What to do with curves[self] now. Never fails: an early_terminate that is off
** (type SW_ET_NONE) always keeps. maximize: the sweep's goal. */
void sw_prune_judge(const SwEarlyTerminate *et, int maximize, const RsCurve *curves, size_t n,
                    size_t self, SwVerdict *out);

/* ASHA with promotions: the paused trial to promote now, or -1 (start a new
** configuration, or if none is left and nothing runs, the sweep is over: the paused
** ones that remain become pruned). *to_step gets the next rung (or max_t).
** Li et al.'s get_job: from the highest rung down, the rung's top floor(n / eta) by
** value at the rung (ties by idx); the best of them that is paused at that rung (its
** newest step below the next rung) is promoted. Several brackets: the candidate at the
** highest rung step wins, ties by idx. Returns an index into curves.
** A finite sweep: once no new configuration of a bracket is left to start (none of its
** trials pending or interrupted, paused ones aside), its rungs keep max(1, floor(n /
** eta)) as the stopping variant does, so the best paused trial of a rung still goes
** on and the sweep ends with a trial run to max_t (the paper's bottom rung would
** grow instead). */
long sw_prune_promote(const SwEarlyTerminate *et, int maximize, const RsCurve *curves, size_t n,
                      int64_t *to_step);

/* The bands (W&B) or rungs (ASHA, hyperband: of bracket `bracket`) in ascending
** order; returns their count (at most cap written). */
size_t sw_prune_levels(const SwEarlyTerminate *et, int bracket, int64_t *out, size_t cap);

/* Brackets: ASHA's `brackets`, hyperband's s_max + 1, else 1. */
int sw_prune_brackets(const SwEarlyTerminate *et);

/* Hyperband's s_max in integers: the largest s with grace_period * eta^s <= max_t. */
int sw_prune_hyperband_smax(int64_t grace_period, int64_t max_t, int64_t eta);

#endif
