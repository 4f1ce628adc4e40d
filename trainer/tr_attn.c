/* tr_attn.c: causal self-attention, the fused blocked kernels and the per-head
   sgemm ones. See tr_attn.h. */

/* Float compare-and-select (clamps, max reductions, the causal mask) only
   if-converts into vector blends when FP exceptions are not observable; the
   project never reads FP exception flags (GCC only, like tr_ops.c). fp-contract:
   the build is ISO C, which keeps a*b+c two roundings; one fused multiply-add
   doubles the tiles' speed (the same code gives the same bits for a given build). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("no-trapping-math", "fp-contract=fast")
#endif

#include "tr_cpu.h"
#ifdef TR_CPU_SUFFIX /* compiled once per CPU level (tr_cpu.h): suffixed names */
#define tr_attn_path TR_CPU_NAME(tr_attn_path)
#define tr_attn_saved_floats TR_CPU_NAME(tr_attn_saved_floats)
#define tr_attn_scratch_floats TR_CPU_NAME(tr_attn_scratch_floats)
#define tr_attn_forward TR_CPU_NAME(tr_attn_forward)
#define tr_attn_backward TR_CPU_NAME(tr_attn_backward)
#define tr_attn_sgemm_forward TR_CPU_NAME(tr_attn_sgemm_forward)
#define tr_attn_sgemm_backward TR_CPU_NAME(tr_attn_sgemm_backward)
#endif
#include "tr_attn.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tr_blas.h"
#include "tr_par.h"
#include "tr_vec.h"

/* One (batch, head) pair per iteration, split statically over the kernels' threads
   (tr_par.h); at 1 thread no region starts. */
#ifdef _OPENMP
#define ATTN_PARALLEL_FOR(nt) TR_PRAGMA(omp parallel for schedule(static) num_threads(nt) if ((nt) > 1))
#else
#define ATTN_PARALLEL_FOR(nt) (void)(nt);
#endif

#define BQ TR_ATTN_BQ
#define BK TR_ATTN_BK
#define HS_MAX TR_ATTN_HS_MAX

/* ---- choosing a path ---------------------------------------------------- */

/* Measured on the idle 2-core EPYC (AVX2), one thread (docs/performance.md): the
   fused forward + backward of one layer takes 0.46x the sgemm path's time at shape T
   (hs 32, T 64) and 0.87x at shape S (hs 64, T 256); whole training steps 1.02x and
   0.99x, and S saves 72 MiB. So fused wherever the tiles fit; T stays a parameter
   for a threshold if a machine says otherwise. */
TrAttnPath tr_attn_path(int T, int hs) {
  (void)T;
  const char *e = getenv("HPS_ATTN");
  if (hs > HS_MAX) return TR_ATTN_SGEMM;
  if (e && strcmp(e, "sgemm") == 0) return TR_ATTN_SGEMM;
  if (e && strcmp(e, "fused") == 0) return TR_ATTN_FUSED;
  return TR_ATTN_FUSED;
}

size_t tr_attn_saved_floats(TrAttnPath path, int B, int NH, int T) {
  size_t n = (size_t)B * (size_t)NH * (size_t)T;
  return path == TR_ATTN_FUSED ? n : n * (size_t)T;
}

size_t tr_attn_scratch_floats(TrAttnPath path, int T) {
  return path == TR_ATTN_FUSED ? 0 : 2 * (size_t)T * (size_t)T;
}

/* ---- fused: tiles ------------------------------------------------------- */

/* One (batch, head) unit: row 0 of its q, k, v columns (row stride C3). */
typedef struct Head {
  const float *q, *k, *v;
  const uint8_t *mk; /* (T,T) keep-mask of this head, or NULL */
  int T, hs, C3;
  float sc, ks;
} Head;

static Head attn_head_of(const float *qkv, const uint8_t *mask, float ks, int b, int h, int T, int C,
                         int NH, float sc) {
  Head hd;
  const int hs = C / NH;
  hd.q = qkv + (size_t)b * T * 3 * C + (size_t)h * hs;
  hd.k = hd.q + C;
  hd.v = hd.q + 2 * C;
  hd.mk = mask ? mask + ((size_t)b * NH + h) * T * T : NULL;
  hd.T = T;
  hd.hs = hs;
  hd.C3 = 3 * C;
  hd.sc = sc;
  hd.ks = ks;
  return hd;
}

/* t (hs, BK) = rows c0..c0+nc-1 of x (stride C3) transposed; columns >= nc zero. */
static void attn_tile_transpose(float *restrict t, const float *restrict x, int c0, int nc, int hs,
                                int C3) {
  for (int c = 0; c < BK; c++) {
    if (c < nc) {
      const float *r = x + (size_t)(c0 + c) * C3;
      for (int d = 0; d < hs; d++) t[d * BK + c] = r[d];
    } else {
      for (int d = 0; d < hs; d++) t[d * BK + c] = 0.0f;
    }
  }
}

/* y (n) += a * x (n) */
static inline void attn_axpy(float *restrict y, float a, const float *restrict x, int n) {
  for (int d = 0; d < n; d++) y[d] += a * x[d];
}

/* Rows of a register tile of 16 columns: AVX-512 (32 registers) takes 8 rows in
   8 accumulators, AVX2 (16 registers) 6 rows in 12 (enough independent FMAs for
   both FMA pipes, written with intrinsics below: GCC's own schedule of the C
   loop spills them), SSE 4 rows in 16. */
#if defined(__AVX512F__)
#define MR 8
#elif defined(__AVX2__) && defined(__FMA__)
#define MR 6
#define MR_AVX2 1
#include <immintrin.h>
#else
#define MR 4
#endif

/* MM_TILE(name, ROWS) defines name(C, ldc, A, ars, acs, B, ldb, K): C rows listed by
   ROWS, columns 0..15, += A (rows,K) @ B (K,16), operands as in attn_mm_acc. One named
   16-float accumulator per row and the loop over the 16 columns holding every row
   is what GCC keeps in registers (a 2-D array it spills). */
#define MM_DECL(r)                                                                                 \
  float c##r[16];                                                                                  \
  for (int x = 0; x < 16; x++) c##r[x] = C[(size_t)(r) * ldc + x];
#define MM_LOAD(r) const float a##r = a[(size_t)(r) * ars];
#define MM_FMA(r) c##r[x] += a##r * b[x];
#define MM_STORE(r)                                                                                \
  for (int x = 0; x < 16; x++) C[(size_t)(r) * ldc + x] = c##r[x];
#define MM_TILE(name, ROWS)                                                                        \
  static void name(float *restrict C, int ldc, const float *restrict A, int ars, int acs,          \
                   const float *restrict B, int ldb, int K) {                                      \
    ROWS(MM_DECL)                                                                                  \
    for (int k = 0; k < K; k++) {                                                                  \
      const float *b = B + (size_t)k * ldb, *a = A + (size_t)k * acs;                             \
      ROWS(MM_LOAD)                                                                                \
      for (int x = 0; x < 16; x++) {                                                               \
        ROWS(MM_FMA)                                                                               \
      }                                                                                            \
    }                                                                                              \
    ROWS(MM_STORE)                                                                                 \
  }
#define ROWS1(X) X(0)
#define ROWS2(X) X(0) X(1)
#define ROWS4(X) X(0) X(1) X(2) X(3)
#define ROWS6(X) X(0) X(1) X(2) X(3) X(4) X(5)
#define ROWS8(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
MM_TILE(attn_mm_tile1, ROWS1)
MM_TILE(attn_mm_tile2, ROWS2)
MM_TILE(attn_mm_tile4, ROWS4)
#if MR == 8
MM_TILE(attn_mm_tile_mr, ROWS8)
#elif MR == 4
#define attn_mm_tile_mr attn_mm_tile4
#else
/* The AVX2 6 x 16 tile: each row's broadcast used at once on both halves, so 12
   accumulators, 2 B vectors and 1 broadcast fit in 16 registers. _mm256_fmadd_ps
   rounds once, as the contracted C does: the same bits. */
#define MM_VDECL(r)                                                                                \
  __m256 v##r##0 = _mm256_loadu_ps(C + (size_t)(r) * ldc),                                        \
         v##r##1 = _mm256_loadu_ps(C + (size_t)(r) * ldc + 8);
#define MM_VFMA(r)                                                                                 \
  {                                                                                                \
    const __m256 x = _mm256_broadcast_ss(a + (size_t)(r) * ars);                                   \
    v##r##0 = _mm256_fmadd_ps(x, b0, v##r##0);                                                     \
    v##r##1 = _mm256_fmadd_ps(x, b1, v##r##1);                                                     \
  }
#define MM_VSTORE(r)                                                                               \
  _mm256_storeu_ps(C + (size_t)(r) * ldc, v##r##0);                                               \
  _mm256_storeu_ps(C + (size_t)(r) * ldc + 8, v##r##1);
static void attn_mm_tile_mr(float *restrict C, int ldc, const float *restrict A, int ars, int acs,
                            const float *restrict B, int ldb, int K) {
  ROWS6(MM_VDECL)
  for (int k = 0; k < K; k++) {
    const float *a = A + (size_t)k * acs;
    const __m256 b0 = _mm256_loadu_ps(B + (size_t)k * ldb), b1 = _mm256_loadu_ps(B + (size_t)k * ldb + 8);
    ROWS6(MM_VFMA)
  }
  ROWS6(MM_VSTORE)
}
#endif

/* Which products of a tile on the diagonal (its rows and columns, or rows and k,
   counted from the same position) can be skipped: MM_OUT_LOWER skips the register
   tiles of C wholly above the diagonal (column > row; they are masked afterwards),
   MM_K_UPTO the k > row of A (zero: P or dS read by queries), MM_K_FROM the k < row
   (zero: P or dS read transposed, by keys). A skipped product adds an exact zero,
   so only the sign of a zero result can differ. */
typedef enum MmCausal { MM_FULL, MM_OUT_LOWER, MM_K_UPTO, MM_K_FROM } MmCausal;

/* One register tile: rows i..i+mr-1, columns j..j+15, with its k range. */
static void attn_mm_tile_at(float *restrict C, int ldc, const float *restrict A, int ars, int acs,
                            const float *restrict B, int ldb, int K, int i, int j, int mr, MmCausal cz) {
  int k0 = 0, k1 = K;
  if (cz == MM_OUT_LOWER && j > i + mr - 1) return;
  if (cz == MM_K_UPTO && i + mr < K) k1 = i + mr;
  if (cz == MM_K_FROM) k0 = i < K ? i : K;
  float *c = C + (size_t)i * ldc + j;
  const float *a = A + (size_t)i * ars + (size_t)k0 * acs, *b = B + (size_t)k0 * ldb + j;
  if (mr == MR) attn_mm_tile_mr(c, ldc, a, ars, acs, b, ldb, k1 - k0);
  else if (mr == 4) attn_mm_tile4(c, ldc, a, ars, acs, b, ldb, k1 - k0);
  else if (mr == 2) attn_mm_tile2(c, ldc, a, ars, acs, b, ldb, k1 - k0);
  else attn_mm_tile1(c, ldc, a, ars, acs, b, ldb, k1 - k0);
}

/* C (M,N) += A (M,K) @ B (K,N); A's element (i,k) at A[i*ars + k*acs] (so A may
   be read transposed), B and C rows strided by ldb, ldc; cz: what a diagonal tile
   skips. MR x 16 register tiles, the rows left over in tiles of 4, 2, 1; columns
   past the last 16 take a plain loop (all of K). Every element adds its K products
   in order k = 0..K-1 (one rounding each, contracted), so the tiling does not
   change the bits. */
static void attn_mm_acc(float *restrict C, int ldc, const float *restrict A, int ars, int acs,
                        const float *restrict B, int ldb, int M, int N, int K, MmCausal cz) {
  const int N16 = N & ~15;
  int mr_end = M / MR * MR; /* MR-row tiles, then 4-row ones: at M = 32, 6 6 6 6 4 4 */
  while (mr_end > 0 && (M - mr_end) % 4 != 0) mr_end -= MR;
  if ((M - mr_end) % 4 != 0) mr_end = M / MR * MR;
  for (int j = 0; j < N16; j += 16)
    for (int i = 0; i < M;) {
      const int mr = i < mr_end ? MR : M - i >= 4 ? 4 : M - i >= 2 ? 2 : 1;
      attn_mm_tile_at(C, ldc, A, ars, acs, B, ldb, K, i, j, mr, cz);
      i += mr;
    }
  if (N16 < N)
    for (int i = 0; i < M; i++)
      for (int k = 0; k < K; k++)
        attn_axpy(C + (size_t)i * ldc + N16, A[(size_t)i * ars + (size_t)k * acs], B + (size_t)k * ldb + N16,
                  N - N16);
}

/* Dropout of one tile row: w[c] *= keep ? ks : 0 for the nv valid keys. */
static inline void attn_tile_drop(float *w, const uint8_t *keep, float ks, int nv) {
  for (int c = 0; c < nv; c++) w[c] = keep[c] ? w[c] * ks : 0.0f;
}

/* ---- fused: forward ------------------------------------------------------- */

/* One row of a score tile s (BK) through the online softmax: s becomes the
   weights exp(s - m') (dropped out when masked), l and m are updated; returns
   exp(m - m'), the factor the row's output accumulator is rescaled by. */
static float attn_online_softmax_row(const Head *h, float *s, int i, int c0, int nv, float *m, float *l) {
  for (int c = 0; c < BK; c++) s[c] = c < nv ? s[c] * h->sc : -FLT_MAX;
  const float mnew = fmaxf(*m, tr_vec_max(s, BK)), alpha = tr_vec_exp(*m - mnew);
  for (int c = 0; c < BK; c++) s[c] = c < nv ? tr_vec_exp(s[c] - mnew) : 0.0f;
  *l = *l * alpha + tr_vec_sum(s, BK);
  *m = mnew;
  if (h->mk) attn_tile_drop(s, h->mk + (size_t)i * h->T + c0, h->ks, nv);
  return alpha;
}

/* Query rows r0..r0+nr-1 of one head: out rows (stride C) and their lse. */
static void attn_fwd_block(const Head *h, float *out, int C, float *lse, int r0, int nr) {
  _Alignas(64) float kt[HS_MAX * BK], acc[BQ * HS_MAX], s[BQ * BK];
  float m[BQ], l[BQ];
  const int hs = h->hs, kend = r0 + nr;
  for (int r = 0; r < nr; r++) m[r] = -FLT_MAX, l[r] = 0.0f;
  memset(acc, 0, (size_t)nr * hs * sizeof(float));
  for (int c0 = 0; c0 < kend; c0 += BK) { /* key blocks up to the diagonal */
    const int nc = kend - c0 < BK ? kend - c0 : BK;
    attn_tile_transpose(kt, h->k, c0, nc, hs, h->C3);
    memset(s, 0, sizeof s);
    attn_mm_acc(s, BK, h->q + (size_t)r0 * h->C3, h->C3, 1, kt, BK, nr, BK, hs,
                c0 == r0 ? MM_OUT_LOWER : MM_FULL); /* S = Q K^T */
    for (int r = 0; r < nr; r++) {
      const int i = r0 + r, nv = i - c0 + 1 < nc ? i - c0 + 1 : nc;
      float *sr = s + (size_t)r * BK;
      if (nv <= 0) { /* the whole block is above this row's diagonal */
        memset(sr, 0, BK * sizeof(float));
        continue;
      }
      const float alpha = attn_online_softmax_row(h, sr, i, c0, nv, &m[r], &l[r]);
      float *a = acc + (size_t)r * hs;
      for (int d = 0; d < hs; d++) a[d] *= alpha;
    }
    attn_mm_acc(acc, hs, s, BK, 1, h->v + (size_t)c0 * h->C3, h->C3, nr, hs, nc,
                c0 == r0 ? MM_K_UPTO : MM_FULL); /* O += P V */
  }
  for (int r = 0; r < nr; r++) {
    const float z = 1.0f / l[r], *a = acc + (size_t)r * hs;
    float *o = out + (size_t)(r0 + r) * C;
    for (int d = 0; d < hs; d++) o[d] = a[d] * z;
    lse[r0 + r] = m[r] + logf(l[r]);
  }
}

void tr_attn_forward(float *out, float *lse, const float *qkv, const uint8_t *mask,
                     float keep_scale, int B, int T, int C, int NH, float qk_scale) {
  const int units = B * NH, hs = C / NH;
  const int nt = tr_par_threads();
  ATTN_PARALLEL_FOR(nt)
  for (int u = 0; u < units; u++) {
    const int b = u / NH, hh = u % NH;
    Head h = attn_head_of(qkv, mask, keep_scale, b, hh, T, C, NH, qk_scale);
    float *o = out + (size_t)b * T * C + (size_t)hh * hs;
    for (int r0 = 0; r0 < T; r0 += BQ)
      attn_fwd_block(&h, o, C, lse + (size_t)u * T, r0, T - r0 < BQ ? T - r0 : BQ);
  }
}

/* ---- fused: backward ------------------------------------------------------ */

/* Per-row inputs of the backward: dO, O (stride C) and lse of the head. */
typedef struct HeadGrad {
  const float *dO, *O, *lse;
  float *dq, *dk, *dv; /* row 0 of the head's columns of dqkv (stride C3) */
  int C;
} HeadGrad;

/* The tiles of one unit's backward. */
typedef struct BwdTiles {
  _Alignas(64) float kt[HS_MAX * BK];  /* K of the key block, transposed */
  _Alignas(64) float vt[HS_MAX * BK];  /* V of the key block, transposed */
  _Alignas(64) float dka[BK * HS_MAX]; /* dK of the key block (before qk_scale) */
  _Alignas(64) float dva[BK * HS_MAX]; /* dV of the key block */
  _Alignas(64) float s[BQ * BK];       /* P (queries x keys) */
  _Alignas(64) float pd[BQ * BK];      /* P dropped out (with a mask) */
  _Alignas(64) float dp[BQ * BK];      /* dP, then dS */
} BwdTiles;

/* Rows i0..i0+nr-1 (all >= c0) against keys c0..c0+nc-1: P, dP recomputed, then
   dS = P (dP - D) with D = rowsum(dO * O); dV += P^T dO, dK += dS^T Q, dQ += dS K. */
static void attn_bwd_tile(const Head *h, const HeadGrad *g, BwdTiles *t, int i0, int nr, int c0, int nc) {
  const int hs = h->hs, C3 = h->C3;
  memset(t->s, 0, sizeof t->s);
  memset(t->dp, 0, sizeof t->dp);
  const int diag = i0 == c0; /* the tile on the diagonal skips what is above it */
  attn_mm_acc(t->s, BK, h->q + (size_t)i0 * C3, C3, 1, t->kt, BK, nr, BK, hs,
              diag ? MM_OUT_LOWER : MM_FULL);
  attn_mm_acc(t->dp, BK, g->dO + (size_t)i0 * g->C, g->C, 1, t->vt, BK, nr, BK, hs,
              diag ? MM_OUT_LOWER : MM_FULL);
  for (int r = 0; r < nr; r++) {
    const int i = i0 + r, nv = i - c0 + 1 < nc ? i - c0 + 1 : nc;
    const float li = g->lse[i], Di = g->dv[(size_t)i * C3]; /* D, see tr_attn_backward */
    float *p = t->s + (size_t)r * BK, *dp = t->dp + (size_t)r * BK, *pd = t->pd + (size_t)r * BK;
    for (int c = 0; c < BK; c++) p[c] = c < nv ? tr_vec_exp(p[c] * h->sc - li) : 0.0f;
    if (h->mk) {
      memcpy(pd, p, BK * sizeof(float));
      attn_tile_drop(pd, h->mk + (size_t)i * h->T + c0, h->ks, nv);
      attn_tile_drop(dp, h->mk + (size_t)i * h->T + c0, h->ks, nv);
    }
    for (int c = 0; c < BK; c++) dp[c] = p[c] * (dp[c] - Di); /* dS, 0 above the diagonal */
  }
  /* the transposed products read the (queries x keys) tiles column-wise */
  attn_mm_acc(t->dva, hs, h->mk ? t->pd : t->s, 1, BK, g->dO + (size_t)i0 * g->C, g->C, nc, hs, nr,
              diag ? MM_K_FROM : MM_FULL);
  attn_mm_acc(t->dka, hs, t->dp, 1, BK, h->q + (size_t)i0 * C3, C3, nc, hs, nr,
              diag ? MM_K_FROM : MM_FULL);
  attn_mm_acc(g->dq + (size_t)i0 * C3, C3, t->dp, BK, 1, h->k + (size_t)c0 * C3, C3, nr, hs, nc,
              diag ? MM_K_UPTO : MM_FULL);
}

/* Keys c0..c0+nc-1 against every query block that sees them: dK, dV of the
   block written, dQ of the rows accumulated (before qk_scale). */
static void attn_bwd_key_block(const Head *h, const HeadGrad *g, BwdTiles *t, int c0, int nc) {
  const int hs = h->hs, C3 = h->C3;
  attn_tile_transpose(t->kt, h->k, c0, nc, hs, C3);
  attn_tile_transpose(t->vt, h->v, c0, nc, hs, C3);
  memset(t->dka, 0, (size_t)nc * hs * sizeof(float));
  memset(t->dva, 0, (size_t)nc * hs * sizeof(float));
  for (int i0 = c0; i0 < h->T; i0 += BQ)
    attn_bwd_tile(h, g, t, i0, h->T - i0 < BQ ? h->T - i0 : BQ, c0, nc);
  for (int c = 0; c < nc; c++) {
    float *dk = g->dk + (size_t)(c0 + c) * C3, *dv = g->dv + (size_t)(c0 + c) * C3;
    const float *a = t->dka + (size_t)c * hs;
    for (int d = 0; d < hs; d++) dk[d] = a[d] * h->sc;
    memcpy(dv, t->dva + (size_t)c * hs, (size_t)hs * sizeof(float));
  }
}

void tr_attn_backward(float *dqkv, const float *dout, const float *out, const float *qkv,
                      const float *lse, const uint8_t *mask, float keep_scale, int B, int T, int C,
                      int NH, float qk_scale) {
  const int units = B * NH, hs = C / NH;
  const int nt = tr_par_threads();
  ATTN_PARALLEL_FOR(nt)
  for (int u = 0; u < units; u++) {
    const int b = u / NH, hh = u % NH;
    Head h = attn_head_of(qkv, mask, keep_scale, b, hh, T, C, NH, qk_scale);
    const size_t ro = (size_t)b * T * C + (size_t)hh * hs;
    HeadGrad g = {dout + ro, out + ro, lse + (size_t)u * T, NULL, NULL, NULL, C};
    BwdTiles t;
    g.dq = dqkv + (size_t)b * T * 3 * C + (size_t)hh * hs;
    g.dk = g.dq + C;
    g.dv = g.dq + 2 * C;
    /* D_i = rowsum(dO * O), once per row, kept in dV's first column of row i: the key
       blocks that read it (c0 <= i) end with the one holding row i, which writes dV. */
    for (int i = 0; i < T; i++) {
      const size_t ri = (size_t)i * C;
      memset(g.dq + (size_t)i * h.C3, 0, (size_t)hs * sizeof(float));
      g.dv[(size_t)i * h.C3] = tr_vec_dot(g.dO + ri, g.O + ri, hs);
    }
    for (int c0 = 0; c0 < T; c0 += BK) attn_bwd_key_block(&h, &g, &t, c0, T - c0 < BK ? T - c0 : BK);
    for (int i = 0; i < T; i++) {
      float *dq = g.dq + (size_t)i * h.C3;
      for (int d = 0; d < hs; d++) dq[d] *= qk_scale;
    }
  }
}

/* ---- sgemm path ------------------------------------------------------------ */

/* Causal products run in row blocks: rows [r0, r1) only need keys [0, r1), which
   skips most of the upper triangle (about half the attention flops at large T). */
#define ATT_BLOCK 64

static void attn_weights_dropped(float *dst, const float *a, const uint8_t *mk, float ks, int T) {
  for (size_t i = 0; i < (size_t)T * T; i++) dst[i] = mk[i] ? a[i] * ks : 0.0f;
}

void tr_attn_sgemm_forward(float *out, float *att, const float *qkv, const uint8_t *mask,
                           float keep_scale, float *scratch, int B, int T, int C, int NH,
                           float qk_scale) {
  const int C3 = 3 * C, hs = C / NH;
  const float sc = qk_scale;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      const float *q = qkv + (size_t)b * T * C3 + (size_t)h * hs, *k = q + C, *v = q + 2 * C;
      float *a = att + ((size_t)b * NH + h) * T * T;
      for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
        int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, sc, q + (size_t)r0 * C3,
                    C3, k, C3, 0.0f, a + (size_t)r0 * T, T);
      }
      for (int i = 0; i < T; i++) {
        float *row = a + (size_t)i * T;
        int n = i + 1;
        float m = tr_vec_max(row, n);
        for (int j = 0; j < n; j++) row[j] = tr_vec_exp(row[j] - m);
        float z = 1.0f / tr_vec_sum(row, n);
        for (int j = 0; j < n; j++) row[j] *= z;
        for (int j = n; j < T; j++) row[j] = 0.0f;
      }
      const float *p = a;
      if (mask) {
        attn_weights_dropped(scratch, a, mask + ((size_t)b * NH + h) * T * T, keep_scale, T);
        p = scratch;
      }
      float *o = out + (size_t)b * T * C + (size_t)h * hs;
      for (int r0 = 0; r0 < T; r0 += ATT_BLOCK) {
        int r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                    p + (size_t)r0 * T, T, v, C3, 0.0f, o + (size_t)r0 * C, C);
      }
    }
}

void tr_attn_sgemm_backward(float *dqkv, const float *dout, const float *qkv, const float *att,
                            const uint8_t *mask, float keep_scale, float *scratch, int B, int T,
                            int C, int NH, float qk_scale) {
  const int C3 = 3 * C, hs = C / NH;
  const float sc = qk_scale;
  const int nblk = (T + ATT_BLOCK - 1) / ATT_BLOCK;
  float *da = scratch, *ad = scratch + (size_t)T * T;
  for (int b = 0; b < B; b++)
    for (int h = 0; h < NH; h++) {
      const size_t qo = (size_t)b * T * C3 + (size_t)h * hs;
      const float *q = qkv + qo, *k = q + C, *v = q + 2 * C;
      float *dq = dqkv + qo, *dk = dq + C, *dv = dq + 2 * C;
      const float *a = att + ((size_t)b * NH + h) * T * T;
      const uint8_t *mk = mask ? mask + ((size_t)b * NH + h) * T * T : NULL;
      const float *dO = dout + (size_t)b * T * C + (size_t)h * hs;
      const float *p = a;
      if (mk) {
        attn_weights_dropped(ad, a, mk, keep_scale, T);
        p = ad;
      }
      /* da = dO V^T and dV = P^T dO (P = dropped weights); dV accumulates over row
         blocks, the last block (all keys) first with beta 0. */
      for (int bi = nblk - 1; bi >= 0; bi--) {
        int r0 = bi * ATT_BLOCK, r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, r1 - r0, r1, hs, 1.0f,
                    dO + (size_t)r0 * C, C, v, C3, 0.0f, da + (size_t)r0 * T, T);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hs, r1 - r0, 1.0f,
                    p + (size_t)r0 * T, T, dO + (size_t)r0 * C, C, bi == nblk - 1 ? 0.0f : 1.0f, dv,
                    C3);
      }
      /* softmax backward (through the dropout mask), pre-scaled by qk_scale */
      for (int i = 0; i < T; i++) {
        float *dr = da + (size_t)i * T;
        const float *ar = a + (size_t)i * T;
        int n = i + 1;
        if (mk) {
          const uint8_t *mr = mk + (size_t)i * T;
          for (int j = 0; j < n; j++) dr[j] = mr[j] ? dr[j] * keep_scale : 0.0f;
        }
        float s = tr_vec_dot(ar, dr, n);
        for (int j = 0; j < n; j++) dr[j] = ar[j] * (dr[j] - s) * sc;
        int end = (i / ATT_BLOCK + 1) * ATT_BLOCK;
        if (end > T) end = T;
        for (int j = n; j < end; j++) dr[j] = 0.0f;
      }
      /* dQ = dS K (rows independent); dK = dS^T Q (accumulates like dV) */
      for (int bi = nblk - 1; bi >= 0; bi--) {
        int r0 = bi * ATT_BLOCK, r1 = r0 + ATT_BLOCK < T ? r0 + ATT_BLOCK : T;
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, r1 - r0, hs, r1, 1.0f,
                    da + (size_t)r0 * T, T, k, C3, 0.0f, dq + (size_t)r0 * C3, C3);
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, r1, hs, r1 - r0, 1.0f,
                    da + (size_t)r0 * T, T, q + (size_t)r0 * C3, C3, bi == nblk - 1 ? 0.0f : 1.0f,
                    dk, C3);
      }
    }
}
