/* tr_ops_dispatch.c: the public tr_ops.h and tr_attn.h names, each calling the version of tr_ops.c
   compiled for the CPU level in use (tr_cpu.h). Built on x86-64 only. */
#include "tr_cpu.h"
#include "tr_attn.h"
#include "tr_ops.h"

TR_CPU_DISPATCH_RET(float, tr_expf, (float x), (x))
TR_CPU_DISPATCH(tr_encoder_forward,
                (float *out, const int *tok, const float *wte, const float *wpe, int B, int T, int C),
                (out, tok, wte, wpe, B, T, C))
TR_CPU_DISPATCH(tr_encoder_backward,
                (float *dwte, float *dwpe, const float *dout, const int *tok, int B, int T, int C),
                (dwte, dwpe, dout, tok, B, T, C))
TR_CPU_DISPATCH(tr_layernorm_forward,
                (float *out, float *mean, float *rstd, const float *inp, const float *w,
                 const float *b, int N, int C),
                (out, mean, rstd, inp, w, b, N, C))
TR_CPU_DISPATCH(tr_layernorm_backward,
                (float *dinp, float *dw, float *db, const float *dout, const float *inp,
                 const float *w, const float *mean, const float *rstd, int N, int C),
                (dinp, dw, db, dout, inp, w, mean, rstd, N, C))
TR_CPU_DISPATCH(tr_matmul_forward,
                (float *out, const float *inp, const float *w, const float *b, int N, int IC, int OC,
                 float beta),
                (out, inp, w, b, N, IC, OC, beta))
TR_CPU_DISPATCH(tr_matmul_backward,
                (float *dinp, float *dw, float *db, const float *dout, const float *inp,
                 const float *w, int N, int IC, int OC),
                (dinp, dw, db, dout, inp, w, N, IC, OC))
TR_CPU_DISPATCH(tr_gelu_forward, (float *out, const float *inp, size_t n), (out, inp, n))
TR_CPU_DISPATCH(tr_gelu_forward_tanh, (float *out, float *th, const float *inp, size_t n),
                (out, th, inp, n))
TR_CPU_DISPATCH(tr_gelu_backward,
                (float *dinp, const float *dout, const float *inp, const float *th, size_t n),
                (dinp, dout, inp, th, n))
TR_CPU_DISPATCH(tr_crossentropy_forward,
                (float *losses, float *lse, const float *logits, const int *targets, int N, int V),
                (losses, lse, logits, targets, N, V))
TR_CPU_DISPATCH(tr_crossentropy_backward,
                (float *dlogits, const float *logits, const float *lse, const int *targets,
                 float scale, int N, int V),
                (dlogits, logits, lse, targets, scale, N, V))
TR_CPU_DISPATCH(tr_dropout_mask, (uint8_t *mask, size_t n, float p, TrRng *rng), (mask, n, p, rng))
TR_CPU_DISPATCH(tr_dropout_apply,
                (float *out, const float *inp, const uint8_t *mask, float scale, size_t n),
                (out, inp, mask, scale, n))
TR_CPU_DISPATCH(tr_dropout_add,
                (float *acc, const float *inp, const uint8_t *mask, float scale, size_t n),
                (acc, inp, mask, scale, n))

TR_CPU_DISPATCH_RET(TrAttnPath, tr_attn_path, (int T, int hs), (T, hs))
TR_CPU_DISPATCH_RET(size_t, tr_attn_saved_floats, (TrAttnPath path, int B, int NH, int T),
                    (path, B, NH, T))
TR_CPU_DISPATCH_RET(size_t, tr_attn_scratch_floats, (TrAttnPath path, int T), (path, T))
TR_CPU_DISPATCH(tr_attn_forward,
                (float *out, float *lse, const float *qkv, const uint8_t *mask, float keep_scale,
                 int B, int T, int C, int NH, float qk_scale),
                (out, lse, qkv, mask, keep_scale, B, T, C, NH, qk_scale))
TR_CPU_DISPATCH(tr_attn_backward,
                (float *dqkv, const float *dout, const float *out, const float *qkv,
                 const float *lse, const uint8_t *mask, float keep_scale, int B, int T, int C,
                 int NH, float qk_scale),
                (dqkv, dout, out, qkv, lse, mask, keep_scale, B, T, C, NH, qk_scale))
TR_CPU_DISPATCH(tr_attn_sgemm_forward,
                (float *out, float *att, const float *qkv, const uint8_t *mask, float keep_scale,
                 float *scratch, int B, int T, int C, int NH, float qk_scale),
                (out, att, qkv, mask, keep_scale, scratch, B, T, C, NH, qk_scale))
TR_CPU_DISPATCH(tr_attn_sgemm_backward,
                (float *dqkv, const float *dout, const float *qkv, const float *att,
                 const uint8_t *mask, float keep_scale, float *scratch, int B, int T, int C, int NH,
                 float qk_scale),
                (dqkv, dout, qkv, att, mask, keep_scale, scratch, B, T, C, NH, qk_scale))
