/*
** tr_core.h: the pieces every training loop shares (tr_run, tr_lrfind): the
** data, the model initialised from train.seed, the optimizer with its
** per-tensor lr and weight-decay multipliers, the batch and dropout streams,
** and one optimizer step's forward/backward over the micro-batches.
**
** Contract:
** - tr_core_setup() fills a zeroed TrCore from a validated config; on error it
**   returns the code with err filled, and tr_core_teardown() still frees what
**   was made. The random streams are derived from train.seed exactly as
**   tr_run always did, so both loops see the same initial weights and batches.
** - tr_core_forward_backward() zeroes the gradients, draws n_micro batches and
**   accumulates their gradients with weight 1/n_micro; it returns the mean
**   loss. With gscratch (n_params floats) it also sums into *small_sq the
**   squared norm of each micro-batch's gradient (the gradient noise scale).
*/
#ifndef TR_CORE_H
#define TR_CORE_H

#include "tr_config.h"
#include "tr_data.h"
#include "tr_err.h"
#include "tr_model.h"
#include "tr_optim.h"
#include "tr_rng.h"

typedef struct TrCore {
  TrData *data;
  TrModel *model;
  TrOptim *optim;
  TrRng rng_batch, rng_dropout;
  int B, T, micro, n_micro;   /* batch, context, micro-batch, micro-batches per step */
  int *tokens, *targets;      /* (micro, T) */
} TrCore;

int tr_core_setup(TrCore *c, const TrConfig *cfg, TrErr *err);
double tr_core_forward_backward(TrCore *c, float *gscratch, double *small_sq);
void tr_core_teardown(TrCore *c);

#endif
