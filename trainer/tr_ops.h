/*
** tr_ops.h: the forward and backward kernels of the GPT model (float32).
**
** Contract:
** - Tensors are dense row-major float arrays; shapes are in the comments
**   (N = rows = B*T positions). Every matmul goes through cblas_sgemm; the
**   elementwise kernels are plain loops the compiler vectorises.
** - Parameter gradients (dw, db) ACCUMULATE (+=): the model zeroes them once per
**   optimizer step, and gradient accumulation sums micro-batches for free.
** - Activation gradients: each kernel says whether it overwrites or accumulates.
** - Nothing here allocates, prints, or keeps state; a kernel's result depends only
**   on its inputs (and the OpenBLAS thread count, fixed per run), so runs are
**   bit-identical.
** - GELU is the tanh approximation (PyTorch approximate='tanh').
** - exp is tr_expf: a vectorisable polynomial (relative error < 2e-7 on the
**   range used), so softmax and GELU loops vectorise without -ffast-math.
*/
#ifndef TR_OPS_H
#define TR_OPS_H

#include <stddef.h>
#include <stdint.h>

#include "tr_rng.h"

/* exp(x) for float, clamped to [-87, 88] (no inf, no denormal results). */
float tr_expf(float x);

/* ---- Embedding ---------------------------------------------------------- */
/* out (B,T,C) = wte[tok] + wpe[t]. tok (B,T) in [0, V). */
void tr_encoder_forward(float *out, const int *tok, const float *wte, const float *wpe, int B, int T,
                        int C);
/* dwte (V,C) += scatter of dout; dwpe (T,C) += sum over b. dout (B,T,C). */
void tr_encoder_backward(float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T,
                         int C);

/* ---- LayerNorm (eps 1e-5, biased variance, like torch) ------------------ */
/* out, inp (N,C); mean, rstd (N); w (C); b (C) or NULL (no bias). */
void tr_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                          const float *b, int N, int C);
/* dinp (N,C) += ...; dw (C) +=; db (C) += unless NULL. */
void tr_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                           const float *w, const float *mean, const float *rstd, int N, int C);

/* ---- Linear: out (N,OC) = inp (N,IC) @ w^T + b; w (OC,IC) like nn.Linear - */
/* beta: 0 overwrites out, 1 adds to it (a residual add for free). b may be NULL. */
void tr_matmul_forward(float *out, const float *inp, const float *w, const float *b, int N, int IC,
                       int OC, float beta);
/* dinp (N,IC) = dout @ w (OVERWRITES; NULL skips); dw (OC,IC) += dout^T @ inp;
   db (OC) += column sums of dout unless NULL. */
void tr_matmul_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp,
                        const float *w, int N, int IC, int OC);

/* Causal multi-head self-attention: tr_attn.h. */

/* ---- GELU (tanh approximation) ------------------------------------------ */
/* out = 0.5 x (1 + t), t = tanh(sqrt(2/pi) (x + 0.044715 x^3)). */
void tr_gelu_forward(float *out, const float *inp, size_t n);
/* The same, also writing t to th (n): the backward then needs no exp. */
void tr_gelu_forward_tanh(float *out, float *th, const float *inp, size_t n);
/* dinp = dout * gelu'(inp), OVERWRITES; dinp may alias dout. th: the kept t, or
   NULL to recompute it. */
void tr_gelu_backward(float *dinp, const float *dout, const float *inp, const float *th, size_t n);

/* ---- Softmax cross-entropy ---------------------------------------------- */
/* logits (N,V), targets (N) in [0,V): losses (N) = lse - logit[target]; lse (N). */
void tr_crossentropy_forward(float *losses, float *lse, const float *logits, const int *targets,
                             int N, int V);
/* dlogits (N,V) = (softmax(logits) - onehot(target)) * scale, OVERWRITES. */
void tr_crossentropy_backward(float *dlogits, const float *logits, const float *lse,
                              const int *targets, float scale, int N, int V);

/* ---- Dropout ------------------------------------------------------------ */
/* mask[i] = 1 (keep) with probability 1-p, one tr_rng_uniformf draw per element, in order. */
void tr_dropout_mask(uint8_t *mask, size_t n, float p, TrRng *rng);
/* out = inp * mask * scale (forward and backward are the same op); out may alias inp. */
void tr_dropout_apply(float *out, const float *inp, const uint8_t *mask, float scale, size_t n);
/* acc += inp * mask * scale (residual add of a dropped-out branch). */
void tr_dropout_add(float *acc, const float *inp, const uint8_t *mask, float scale, size_t n);

#endif
