/*
** tr_model.h: the GPT-2 style model, float32, hand-written forward and backward.
**
** Contract:
** - Architecture: token + learned position embeddings, n_layer pre-LayerNorm
**   blocks (causal multi-head self-attention with fused QKV, GELU MLP with
**   hidden H = mlp_ratio*C), residuals, final LayerNorm, LM head tied to wte.
**   GELU is the tanh approximation (torch approximate='tanh'); LayerNorm eps 1e-5.
**   bias = 0 removes every Linear and LayerNorm bias.
** - Parameters, gradients and activations are each ONE allocation with named
**   views. The parameter ORDER in the flat buffer is a contract (checkpoints,
**   golden files and the optimizer rely on it); weights are stored (out, in)
**   like torch.nn.Linear:
**     wte (V,C), wpe (T,C), ln1w (L,C), ln1b (L,C), qkvw (L,3C,C), qkvb (L,3C),
**     attprojw (L,C,C), attprojb (L,C), ln2w (L,C), ln2b (L,C), fcw (L,H,C),
**     fcb (L,H), fcprojw (L,C,H), fcprojb (L,C), lnfw (C), lnfb (C)
**   Bias tensors (ln*b, *b) have numel 0 when bias = 0 (they still appear in the
**   tensor list, so indices are stable). Grads use the same layout.
** - Dropout (model.dropout > 0 and train != 0) applies to the embedding output,
**   the attention weights and each residual branch before its add. Masks are
**   drawn from the TrRng given to forward, in this order: embedding (B,T,C), then
**   per layer: attention (B,NH,T,T), attention branch (B,T,C), MLP branch
**   (B,T,C); one tr_rng_uniformf per element, keep if >= p. Backward reuses them.
** - Determinism: the same weights, batch, RNG state and OpenBLAS thread count give
**   bit-identical loss and gradients. The caller sets the thread count.
** - Attention: tr_attn.h's fused kernel (activations keep a log-sum-exp per row), or
**   its per-head sgemm kernels (which keep the (B,NH,T,T) weights) for heads wider than
**   TR_ATTN_HS_MAX or when HPS_ATTN=sgemm at create (tr_attn_path); tr_model_memory
**   counts the path create would take.
** - Buffers are sized for batch <= max_batch and T <= context_length.
** - Parametrization (model.parametrization): standard is GPT-2 as above. mup is
**   the maximal update parametrization (Yang et al. 2022, Tensor Programs V) with
**   width multiplier w = d_model / mup_base_width (mup_base_width 0 = d_model):
**   the hidden matrices (qkvw, attprojw, fcw, fcprojw) are initialised with std
**   divided by sqrt(w) (variance proportional to 1/width); attention logits are
**   q.k / d_head instead of q.k / sqrt(d_head) (at w = 1 too: the one difference
**   from standard at the base width); the output logits (the LM head tied to
**   wte, mup's MuSharedReadout) are multiplied by 1/w; wte, wpe, biases and
**   LayerNorm are unchanged; learning rates per tensor: tr_model_lr_mults.
*/
#ifndef TR_MODEL_H
#define TR_MODEL_H

#include <stddef.h>

#include "tr_config.h"
#include "tr_err.h"
#include "tr_rng.h"

typedef struct TrModel TrModel;

/* One parameter tensor in the flat buffer. */
typedef struct TrParamTensor {
  const char *name;  /* "wte", "qkvw", ... (the names above) */
  size_t offset;     /* in floats, into tr_model_params / tr_model_grads */
  size_t numel;      /* 0 for a bias when bias = 0 */
  int ndim;          /* 1..3 */
  int shape[3];      /* e.g. qkvw: {L, 3C, C} */
  int is_matrix;     /* a 2-D weight (wte, wpe, qkvw, attprojw, fcw, fcprojw): gets weight decay */
  int is_hidden;     /* width x width (qkvw, attprojw, fcw, fcprojw): muP's "matrix-like" */
} TrParamTensor;

#define TR_MODEL_NTENSORS 16

/* Validates cfg (positive sizes, d_model % n_head == 0, 0 <= dropout < 1) and
   allocates params, grads and activations for batches of up to max_batch
   sequences. Parameters are zero until tr_model_init or a load. */
int tr_model_create(TrModel **out, const TrModelConfig *cfg, int max_batch, TrErr *err);
void tr_model_destroy(TrModel *m); /* NULL is a no-op */

/* What tr_model_create(cfg, max_batch) allocates, without allocating (cfg as
   create validates it): parameters (the gradients are the same size) and the
   activations, activation gradients, batch copies and dropout masks. */
typedef struct TrModelMemory {
  size_t n_params;
  size_t params_bytes;
  size_t act_bytes;
} TrModelMemory;
void tr_model_memory(const TrModelConfig *cfg, int max_batch, TrModelMemory *out);

/* GPT-2 init: weights normal(0, 0.02), attprojw and fcprojw scaled by
   1/sqrt(2*n_layer), biases 0, LayerNorm gains 1; under mup the hidden matrices'
   std is further divided by sqrt(w). Draws, in tensor order, one
   tr_rng_normal per weight element. */
void tr_model_init(TrModel *m, TrRng *rng);

const TrModelConfig *tr_model_config(const TrModel *m);
int tr_model_max_batch(const TrModel *m);
size_t tr_model_num_params(const TrModel *m);
float *tr_model_params(TrModel *m);
float *tr_model_grads(TrModel *m);
const TrParamTensor *tr_model_tensors(const TrModel *m, int *n); /* n = TR_MODEL_NTENSORS */
/* Pointer to tensor `name` in the parameter buffer (grads: same offset), NULL if unknown. */
const TrParamTensor *tr_model_tensor_find(const TrModel *m, const char *name);

/* tokens, targets: (B,T) int32 in [0, vocab_size); 1 <= B <= max_batch,
   1 <= T <= context_length. targets may be NULL: returns 0 and only the logits
   are valid (a backward after it does nothing). Returns the mean loss, or NAN
   (and computes nothing) when B, T or a token/target is out of range.
   train != 0 enables dropout (when model.dropout > 0) with masks drawn from
   dropout_rng (may be NULL when dropout is off). */
float tr_model_forward(TrModel *m, const int *tokens, const int *targets, int B, int T, int train,
                       TrRng *dropout_rng);
const float *tr_model_logits(const TrModel *m); /* (B,T,V) of the last forward */

void tr_model_zero_grad(TrModel *m);
/* Multiplier of the gradient of the next backward calls (default 1): k
   micro-batches each with scale 1/k sum to the mean-batch gradient. */
void tr_model_set_grad_scale(TrModel *m, float scale);
/* ACCUMULATES d(mean loss of the last forward)/dparams * grad_scale into grads.
   Needs a forward with targets just before. */
void tr_model_backward(TrModel *m);

/* The parametrization's constants for a (valid) config; all exactly 1 or
   1/sqrt(d_head) under standard. Width multiplier w = d_model / base width. */
double tr_model_width_mult(const TrModelConfig *cfg);
float tr_model_attn_scale(const TrModelConfig *cfg);  /* 1/sqrt(d_head); mup: 1/d_head */
float tr_model_output_mult(const TrModelConfig *cfg); /* 1; mup: 1/w */

/* Per-tensor multipliers of the optimizer's lr and weight decay (mup's MuAdam
   and MuSGD): 1 and 1 under standard. Under mup, Adam-like optimizers (adam,
   adamw, rmsprop, lion: entrywise-normalised updates) scale the hidden matrices'
   lr by 1/w and weight decay by w (lr * wd unchanged); sgd instead scales the
   lr of every non-hidden tensor (wte, wpe, biases, LayerNorm) by w and their
   weight decay by 1/w, and leaves the hidden matrices (fan-in and fan-out grow
   together) alone. */
void tr_model_lr_mults(const TrModelConfig *cfg, const TrParamTensor *t, int optim_name,
                       double *lr_mult, double *wd_mult);

/* Root mean square of one activation of the last forward (B, T of that forward):
   "embed" (the stream into layer 0), and per layer l: "qkv", "atty" (attention
   output), "res2" (stream after attention), "fch" (MLP pre-activation), "res3"
   (stream after the MLP); "logits" (layer ignored). muP's coordinate check
   compares these across widths. TR_EINVAL for an unknown name or layer, or
   before any forward. */
int tr_model_act_rms(const TrModel *m, const char *name, int layer, double *rms);

/* Training flops per token: 6N + 12*L*T*C, N = parameters without wpe. */
double tr_model_flops_per_token(const TrModel *m);

#endif
