/*
** tr_attn.h: causal multi-head self-attention, forward and backward (float32).
**
** Two implementations of the same function:
** - fused (tr_attn_forward/backward): one blocked kernel per (batch, head),
**   flash-attention style. The forward runs over query blocks of TR_ATTN_BQ rows
**   and, for each, over key blocks of TR_ATTN_BK keys up to the diagonal (the
**   blocks above it are skipped), with an online softmax (running max and sum,
**   the output rescaled when the max grows); it keeps only each row's
**   log-sum-exp (B,NH,T) for the backward, which recomputes the probabilities
**   block by block (FlashAttention-2's backward: D = rowsum(dO * O), outer loop
**   over key blocks). Attention dropout works on this path too: the mask is
**   read tile by tile. Needs hs <= TR_ATTN_HS_MAX.
** - sgemm (tr_attn_sgemm_forward/backward): per-(batch, head) row-blocked
**   cblas_sgemm products that keep the whole softmax matrix att (B,NH,T,T):
**   the original kernels, kept for comparison and for heads wider than
**   TR_ATTN_HS_MAX.
** tr_attn_path picks one for a model's shape; the environment variable
** HPS_ATTN=fused|sgemm overrides the choice (benchmarks, tests).
**
** Shared contract:
** - qkv (B,T,3C): each position is [q (C) | k (C) | v (C)], head h owns columns
**   h*hs..(h+1)*hs-1 of each, hs = C/NH. out (B,T,C), heads side by side.
** - qk_scale multiplies q.k before the softmax: 1/sqrt(hs) (standard), 1/hs (muP).
** - mask (B,NH,T,T) or NULL: attention dropout, 1 = keep, kept weights are
**   multiplied by keep_scale = 1/(1-p).
** - dqkv (B,T,3C) is OVERWRITTEN by the backward.
** - Nothing allocates. Each (batch, head) pair is an independent unit with no
**   shared writes; the fused kernels run the units under `omp parallel for
**   schedule(static)` when built with OpenMP. The arithmetic of a unit does not
**   depend on the thread count, so results are bit-identical for any thread
**   count (the sgemm path: for a fixed OpenBLAS thread count).
*/
#ifndef TR_ATTN_H
#define TR_ATTN_H

#include <stddef.h>
#include <stdint.h>

#define TR_ATTN_BQ 32      /* query rows per block of the fused forward */
#define TR_ATTN_BK 32      /* keys per block (the vector length of a score tile) */
#define TR_ATTN_HS_MAX 128 /* widest head the fused kernels take (their tiles live on the stack) */

typedef enum TrAttnPath { TR_ATTN_FUSED = 0, TR_ATTN_SGEMM = 1 } TrAttnPath;

/* The path for heads of hs columns at context T: HPS_ATTN if set to "fused"
   or "sgemm" (fused only when hs <= TR_ATTN_HS_MAX), else fused when
   hs <= TR_ATTN_HS_MAX (the measurements are at the definition). */
TrAttnPath tr_attn_path(int T, int hs);

/* Floats the forward keeps per layer for the backward (fused: the log-sum-exp,
   B*NH*T; sgemm: att, B*NH*T*T) and the scratch floats it needs (fused: 0;
   sgemm: 2*T*T). */
size_t tr_attn_saved_floats(TrAttnPath path, int B, int NH, int T);
size_t tr_attn_scratch_floats(TrAttnPath path, int T);

/* ---- fused -------------------------------------------------------------- */
/* out (B,T,C); lse (B,NH,T): log-sum-exp of each row's scaled logits (before dropout). */
void tr_attn_forward(float *out, float *lse, const float *qkv, const uint8_t *mask,
                     float keep_scale, int B, int T, int C, int NH, float qk_scale);
/* dout (B,T,C); out and lse: what the forward wrote for this qkv and mask. */
void tr_attn_backward(float *dqkv, const float *dout, const float *out, const float *qkv,
                      const float *lse, const uint8_t *mask, float keep_scale, int B, int T, int C,
                      int NH, float qk_scale);

/* ---- sgemm (the original kernels) ---------------------------------------- */
/* att (B,NH,T,T): the softmax weights, entries above the diagonal set to 0.
   scratch: T*T floats (used when mask). */
void tr_attn_sgemm_forward(float *out, float *att, const float *qkv, const uint8_t *mask,
                           float keep_scale, float *scratch, int B, int T, int C, int NH,
                           float qk_scale);
/* scratch: 2*T*T floats. */
void tr_attn_sgemm_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                            const uint8_t *mask, float keep_scale, float *scratch, int B, int T,
                            int C, int NH, float qk_scale);

#endif
