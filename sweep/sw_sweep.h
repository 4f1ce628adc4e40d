/*
** sw_sweep.h: a sweep's record in the store against the spec that names it.
**
** Contract:
** - A sweep name means one experiment. sw_sweep_check() compares the sweep of the
**   spec's name already in the store (if any) with the spec and its expansion: the
**   metric and goal, the method, the task, and the trial set (parameters, seeds,
**   base config: each trial's full config). The same meaning is TR_OK (a re-run
**   resumes); any difference is TR_EINVAL with one line saying what differs and how
**   to go on: "sweep 'NAME' in DB was made with metric val_loss (minimize); this
**   spec says train_loss (minimize): use a new name (name: in the spec) or --replace
**   to delete the old sweep's results". Method bayes has no trial set up front (trials NULL,
**   n 0): its identity is sw_bayes_spec_hash (sw_propose.h), run_cap left out, so a re-run
**   resumes and a larger run_cap continues the sweep.
** - sw_sweep_replace() deletes the sweep's records (one store transaction,
**   rs_sweep_delete) and then its run directory (checkpoints), so the sweep starts
**   afresh. A sweep that is not there is no error.
*/
#ifndef SW_SWEEP_H
#define SW_SWEEP_H

#include <stdint.h>

#include "rs_store.h"
#include "sw_expand.h"
#include "sw_spec.h"

int sw_sweep_check(RsStore *st, const char *db, const SwSpec *spec, const SwTrial *trials, size_t n, TrErr *err);
/* *n_deleted (may be NULL): trials deleted, 0 if the sweep was not in the store. */
int sw_sweep_replace(RsStore *st, const char *name, const char *runs_dir, int64_t *n_deleted, TrErr *err);

#endif
