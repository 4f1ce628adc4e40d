/*
** tr_ckpt.h: checkpoint files: everything needed to resume a run bit-identically
** or to sample from a trained model without its original YAML.
**
** Format (little-endian, version 1):
**   "HPSWCKPT" u32 version  u32 reserved
**   u64 config_hash  i64 step  i64 tokens  i64 optim_steps  i64 best_step
**   f64 best_val_loss  f64 best_train_loss  f64 elapsed
**   u64 rng_batch[4]  u64 rng_dropout[4]
**   u64 n_json  bytes config_json      (the full TrConfig as canonical JSON)
**   u64 n_vocab bytes vocab            (tr_data's vocabulary blob)
**   u64 n_params  f32 params[n_params]
**   u64 n_optim   f32 optim_state[n_optim]
**   u64 fnv1a64 of every byte before it
** Contract: saves are atomic (temp file in the same directory, fsync, rename,
** fsync of the directory): a crash leaves the old checkpoint or the new one,
** never a torn file. Loads verify magic, version, sizes and the checksum, and
** a truncated, corrupt or foreign file gets a one-line error naming the path
** and the problem; nothing is read past the buffer.
*/
#ifndef TR_CKPT_H
#define TR_CKPT_H

#include <stddef.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"
#include "tr_rng.h"

#define TR_CKPT_MAGIC "HPSWCKPT"
#define TR_CKPT_VERSION 1u

typedef struct TrCkpt {
  uint64_t config_hash;      /* tr_ckpt_config_hash of the run's config */
  int64_t step, tokens;      /* optimizer steps done, training tokens seen */
  int64_t optim_steps;       /* the optimizer's own step count (bias correction) */
  int64_t best_step;
  double best_val_loss, best_train_loss, elapsed;
  TrRng rng_batch, rng_dropout;
  char *config_json;         /* NUL-terminated */
  size_t n_vocab;
  uint8_t *vocab;
  size_t n_params;
  float *params;             /* (n_params,) in the model's tensor order */
  size_t n_optim;
  float *optim;              /* (n_optim,) the optimizer's state block */
} TrCkpt;

/* Write c to path atomically (tr_atomic). The pointers in c are only read. The
** temporary, "<path>.XXXXXX", is flock()ed by its writer until renamed. */
int tr_ckpt_save(const char *path, const TrCkpt *c, TrErr *err);
/* Remove the temporaries of dir/ckpt.bin that no live writer owns (their lock
** can be taken): what a writer killed mid-save (kill -9, OOM) left behind. Other
** files are never touched. Returns how many were removed, -1 if dir cannot be read. */
int tr_ckpt_temps_remove(const char *dir);
/* Read path into c (allocating its arrays); free with tr_ckpt_deinit. */
int tr_ckpt_load(const char *path, TrCkpt *c, TrErr *err);
void tr_ckpt_deinit(TrCkpt *c);
/* The config's identity for resume: every key except run control (budgets,
** intervals, threads, out_dir), so extending max_steps keeps a checkpoint valid. */
uint64_t tr_ckpt_config_hash(const TrConfig *cfg);
/* The same identity without the keys population-based training may change mid-run
** (TR_CKPT_MUTABLE_KEYS) and train.seed: a PBT member resumes from another member's
** checkpoint (weights, optimizer state, data and dropout streams) with its own values. */
uint64_t tr_ckpt_config_hash_pbt(const TrConfig *cfg);
/* The registry keys a running trial may change (tr_ckpt_config_hash_pbt masks them),
** NULL-terminated: optimizer.lr, optimizer.weight_decay, optimizer.betas, model.dropout,
** optimizer.grad_clip. The trainer reads each of them afresh at every step. */
const char *const *tr_ckpt_mutable_keys(void);
/* Rebuild the TrConfig stored in a checkpoint. */
int tr_ckpt_config(const TrCkpt *c, TrConfig *cfg, TrErr *err);

#endif
