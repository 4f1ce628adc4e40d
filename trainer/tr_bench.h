/*
** tr_bench.h: training-throughput benchmark of tr_model (what `hpsweep bench` runs).
**
** Contract:
** - Two fixed shapes: "T" (vocab 256, context 64, 4 layers, 4 heads, d_model 128,
**   batch 16) and "S" (vocab 256, context 256, 6 layers, 6 heads, d_model 384,
**   batch 8); biases on, no dropout, mlp_ratio 4, random tokens.
** - A step is what the training loop does: zero_grad + forward + backward +
**   gradient clipping to norm 1 + a tr_optim AdamW update (weight decay 0.1 on
**   matrices).
**   tokens/s = B*T / median step time after 2 warm-up steps.
** - MFU = tokens/s * flops_per_token / sgemm GFLOP/s measured in the same run at
**   the same thread count (OpenBLAS, 1024^3, median of repeats): the fraction of
**   the machine's practical matmul speed the whole training step achieves.
** - Sets the OpenBLAS thread count (openblas_set_num_threads) to `threads`.
*/
#ifndef TR_BENCH_H
#define TR_BENCH_H

#include "tr_config.h"
#include "tr_err.h"

typedef struct TrBenchResult {
  char model[8];          /* "T" or "S" */
  int threads, steps, batch, context;
  double tokens_per_s;    /* median */
  double step_ms;         /* median */
  double step_ms_min;
  double flops_per_token; /* tr_model_flops_per_token */
  double sgemm_gflops;    /* 0 if not measured */
  double mfu;             /* 0 if sgemm not measured */
  double loss;            /* last step's loss (sanity: finite, falling) */
} TrBenchResult;

/* The config and batch of shape "T" or "S"; TR_EINVAL for another name. */
int tr_bench_shape(const char *name, TrModelConfig *cfg, int *batch, TrErr *err);
/* OpenBLAS sgemm GFLOP/s on n x n x n at `threads` threads (median of reps). */
double tr_bench_sgemm(int threads, int n, int reps);
/* Train `steps` timed steps of shape `name`; fills res (sgemm_gflops/mfu left 0). */
int tr_bench_train(const char *name, int threads, int steps, TrBenchResult *res, TrErr *err);

#endif
