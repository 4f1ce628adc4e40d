/*
** sw_propose.h: method bayes inside the scheduler: the store's proposal callback
** (RsProposeFn, rs_trial_claim_hooked) and the trials it made, read back (docs/search.md).
**
** Contract:
** - sw_proposer_propose() is called by the store inside the claim's write transaction with
**   the sweep's trials. It builds ONE observation per configuration (config index = idx /
**   max(1, seeds)): the point from the stored params (sw_proposer_values); the state: running
**   when any of its seeds is pending, running or interrupted, else the mean of the finite
**   best values of its completed, pruned and paused seeds (pruned when any of those was
**   pruned or paused, at the smallest step), else failed (diverged counts as failed). Then
**   sw_gp_propose or sw_tpe_propose (hpsweep.sampler) seeded sw_space_seed(sweep seed,
**   config index) only, the point decoded and made into the configuration's trials by
**   sw_expand_values: the same validation, hashes and program arguments as random search.
**   Pure: the same trials give the same proposal (the store may retry the transaction).
** - No proposal (n = 0) when metric.target is reached by a trial's best value (the sweep
**   ends: running trials finish), or when the model's point is one already tried or running
**   (the space is used up). next_idx must start a configuration.
** - The cap: sw_spec_trial_count (run_cap, or SW_DEFAULT_RANDOM_CONFIGS configurations with
**   a notice, as random search).
** - sw_proposer_trial() remakes trial idx from its stored params (for any runner: proposals
**   of others, or of an earlier run), exactly as the proposal made it; a hash that differs
**   from the stored one is TR_EINVAL (the trial is not this spec's).
** - sw_bayes_spec_hash(): the sweep identity of a bayes spec (sweeps.spec_hash), with no
**   trial set to hash: FNV-1a over the sampler, metric.impute and the trials of fixed probe
**   points of the space (so the base config, every parameter's range and transform, the
**   seeds and the sweep seed's meaning enter it); run_cap does not (a re-run with a larger
**   run_cap continues the sweep).
** - Errors of the callback are in sw_proposer_error (the store's message only says the hook
**   failed).
*/
#ifndef SW_PROPOSE_H
#define SW_PROPOSE_H

#include <stddef.h>
#include <stdint.h>

#include "rs_store.h"
#include "sw_expand.h"
#include "sw_space.h"
#include "sw_spec.h"
#include "tr_err.h"

typedef struct SwProposer SwProposer;

int sw_proposer_create(SwProposer **out, const SwSpec *spec, TrErr *err);
void sw_proposer_destroy(SwProposer *p); /* NULL: no-op */
/* Trials the sweep may hold (RsClaimHooks.cap). */
int64_t sw_proposer_cap(const SwProposer *p);
/* The RsProposeFn: ctx is the SwProposer. */
int sw_proposer_propose(void *ctx, const RsProposeTrial *trials, size_t n, int next_idx, RsProposal *out);
/* The last callback's error (valid after it returned non-zero). */
const TrErr *sw_proposer_error(const SwProposer *p);
/* The last proposal: why, the seed, how many observations; for progress lines. */
const SwProposal *sw_proposer_last(const SwProposer *p, uint64_t *seed);

/* vals (n_params, spec order) from a trial's stored params JSON. */
int sw_proposer_values(const SwProposer *p, const char *params_json, SwValue *vals, TrErr *err);
/* Trial idx from its stored params; *trial is the caller's (sw_trials_free(*trial, 1)). */
int sw_proposer_trial(const SwProposer *p, int idx, const char *params_json, const char *hash, SwTrial **trial,
                      TrErr *err);

int sw_bayes_spec_hash(const SwSpec *spec, char out[17], TrErr *err);

#endif
