/*
** tr_run.h: one training run: data, model, optimizer, schedule, the loop,
** evaluation, budgets, divergence, checkpoints and resume.
**
** Contract:
** - tr_run() trains the model that cfg describes and reports through hooks:
**   every metric row (train_loss, lr, grad_norm, tokens_per_second every
**   log_interval steps; val_loss and, with >= 2 micro-batches per step, gns
**   at every evaluation) goes to on_metric, and a human log line to on_log.
**   The same function serves `hpsweep train`, a sweep worker, and tests.
** - Result statuses: completed, diverged (NaN/Inf loss or grad norm, or loss >
**   divergence_factor * best loss after warm-up: stops at once, never saves
**   non-finite weights), interrupted (*hooks->stop became non-zero, or
**   on_metric returned non-zero). These are results, returned as TR_OK with
**   res->status set; only setup failures (bad data file, bad checkpoint,
**   out of memory) return an error code with err filled.
** - Memory: before allocating anything, the run logs its tr_mem_estimate and
**   the memory available, and refuses (TR_ENOMEM, the figures) what cannot fit.
** - Bit-identical: the same config, seed and thread count give the same losses;
**   resuming from a checkpoint taken at step k gives the same losses and
**   parameters as running straight through.
*/
#ifndef TR_RUN_H
#define TR_RUN_H

#include <signal.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"

typedef enum { TR_RUN_COMPLETED, TR_RUN_DIVERGED, TR_RUN_INTERRUPTED, TR_RUN_FAILED } TrRunStatus;
const char *tr_run_status_name(int status);

typedef struct TrMetric {
  int64_t step;      /* optimizer steps done when measured */
  int64_t tokens;    /* training tokens seen */
  double seconds;    /* wall seconds since the run (or its first segment) began */
  const char *name;  /* train_loss, val_loss, lr, grad_norm, tokens_per_second, gns */
  double value;
} TrMetric;

typedef struct TrRunHooks {
  /* Each metric row; return non-zero to stop the run as interrupted. */
  int (*on_metric)(void *ud, const TrMetric *m);
  /* A human log line (no newline). */
  void (*on_log)(void *ud, const char *line);
  /* A checkpoint was written atomically at this path. */
  void (*on_checkpoint)(void *ud, const char *path, int64_t step);
  void *ud;
  /* Polled every step: non-zero stops the run as interrupted (a signal handler sets it). */
  volatile sig_atomic_t *stop;
  /* Resume from this checkpoint (NULL = fresh start). */
  const char *resume_path;
  /* Population-based training: the checkpoint may come from another member and differ in
  ** tr_ckpt_mutable_keys and train.seed (tr_ckpt_config_hash_pbt); this config's values train. */
  int resume_pbt;
  /* A checkpoint of this step is about to be written (before its rename into place): what the
  ** caller keeps about the run up to this step should be durable now (NULL: nothing to do). */
  void (*before_checkpoint)(void *ud, int64_t step);
} TrRunHooks;

typedef struct TrRunResult {
  int status;                 /* TrRunStatus */
  double best_val_loss;       /* NAN if never evaluated */
  int64_t best_step;          /* step of best_val_loss */
  double final_val_loss;
  double final_train_loss;
  int64_t steps, tokens;
  double wall_seconds;
  double tokens_per_second;
  double flops;               /* training FLOPs spent: tokens * flops per token */
  double entropy_floor;       /* best possible loss on the synthetic corpus (nats/token), NAN otherwise */
  int64_t n_params;
  uint64_t memory_estimate_bytes; /* tr_mem_estimate of the run (logged at the start) */
  int io_failed;                  /* a checkpoint could not be written (disk full, ulimit -f, permissions):
                                  ** the machine's fault, not the config's */
  int memory_refused;             /* tr_run refused the run: 1 the estimate exceeds the memory available
                                  ** now, 2 it exceeds the limit itself (tr_mem_limit): it never fits */
  char reason[256];           /* diverged/interrupted: why and at which step */
  char checkpoint[1100];      /* last checkpoint written, "" if none */
} TrRunResult;

int tr_run(const TrConfig *cfg, const TrRunHooks *hooks, TrRunResult *res, TrErr *err);

/* The names of the metrics tr_run emits, NULL-terminated: train_loss, lr, grad_norm,
** tokens_per_second, val_loss, gns. */
const char *const *tr_run_metric_names(void);

/* The summary as one JSON object (keys of `hpsweep train --json`). Returns bytes needed. */
size_t tr_run_result_json(const TrRunResult *r, char *buf, size_t n);

#endif
