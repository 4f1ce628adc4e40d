/*
** tr_core.c: setup and the gradient of one optimizer step, shared by the
** training loop (tr_run.c) and the LR range test (tr_lrfind.c).
*/
#include "tr_core.h"

#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"

enum { RNG_INIT = 0, RNG_BATCH = 1, RNG_DROPOUT = 2 };

static int core_optim_create(TrCore *c, const TrConfig *cfg, const TrModelConfig *mc, TrErr *err) {
  int nt = 0;
  const TrParamTensor *pt = tr_model_tensors(c->model, &nt);
  TrParamSeg *segs = tr_calloc((size_t)nt, sizeof *segs);
  if (!segs) return tr_err_set(err, TR_ENOMEM, "out of memory");
  for (int i = 0; i < nt; i++) {
    segs[i].offset = pt[i].offset;
    segs[i].numel = pt[i].numel;
    segs[i].is_matrix = pt[i].is_matrix;
    tr_model_lr_mults(mc, &pt[i], cfg->optimizer.name, &segs[i].lr_mult, &segs[i].wd_mult);
  }
  int rc = tr_optim_create(&c->optim, &cfg->optimizer, tr_model_num_params(c->model), segs, nt, err);
  free(segs);
  return rc;
}

int tr_core_setup(TrCore *c, const TrConfig *cfg, TrErr *err) {
  int rc = tr_data_create(&c->data, &cfg->data, cfg->model.context_length, err);
  if (rc) return rc;
  TrModelConfig mc = cfg->model;
  mc.vocab_size = tr_data_vocab_size(c->data);
  c->B = cfg->train.batch_size;
  c->T = cfg->model.context_length;
  c->micro = cfg->train.micro_batch_size > 0 ? cfg->train.micro_batch_size : c->B;
  c->n_micro = c->B / c->micro;
  if ((rc = tr_model_create(&c->model, &mc, c->micro, err))) return rc;
  TrRng init;
  tr_rng_seed2(&init, (uint64_t)cfg->train.seed, RNG_INIT);
  tr_model_init(c->model, &init);
  if ((rc = core_optim_create(c, cfg, &mc, err))) return rc;
  tr_rng_seed2(&c->rng_batch, (uint64_t)cfg->train.seed, RNG_BATCH);
  tr_rng_seed2(&c->rng_dropout, (uint64_t)cfg->train.seed, RNG_DROPOUT);
  size_t per = (size_t)c->micro * c->T;
  c->tokens = tr_malloc(per * sizeof(int));
  c->targets = tr_malloc(per * sizeof(int));
  if (!c->tokens || !c->targets) return tr_err_set(err, TR_ENOMEM, "out of memory");
  return TR_OK;
}

/* Squared norm of (a - b), in double: the gradient of one micro-batch. */
static double diff_sq(const float *a, const float *b, size_t n) {
  double s = 0;
  for (size_t i = 0; i < n; i++) {
    double d = (double)a[i] - (double)b[i];
    s += d * d;
  }
  return s;
}

double tr_core_forward_backward(TrCore *c, float *gscratch, double *small_sq) {
  const size_t np = tr_model_num_params(c->model);
  const float *grads = tr_model_grads(c->model);
  tr_model_zero_grad(c->model);
  tr_model_set_grad_scale(c->model, 1.0f / (float)c->n_micro);
  double loss_sum = 0;
  if (gscratch) memset(gscratch, 0, np * sizeof(float));
  for (int k = 0; k < c->n_micro; k++) {
    tr_data_batch(c->data, TR_SPLIT_TRAIN, &c->rng_batch, c->micro, c->T, c->tokens, c->targets);
    loss_sum += tr_model_forward(c->model, c->tokens, c->targets, c->micro, c->T, 1, &c->rng_dropout);
    tr_model_backward(c->model);
    if (gscratch) {
      /* |G_small|^2 of this micro-batch: (acc - previous acc) * k_micro. */
      *small_sq += diff_sq(grads, gscratch, np) * (double)c->n_micro * (double)c->n_micro;
      memcpy(gscratch, grads, np * sizeof(float));
    }
  }
  return loss_sum / c->n_micro;
}

void tr_core_teardown(TrCore *c) {
  tr_optim_destroy(c->optim);
  tr_model_destroy(c->model);
  tr_data_destroy(c->data);
  free(c->tokens);
  free(c->targets);
  memset(c, 0, sizeof *c);
}
