/*
** sw_lrgrid.h: a learning-rate grid centred on an LR range test (hpsweep.lr_find, sw_spec.h).
**
** Contract:
** - sw_lrgrid_resolve() resolves the spec's hpsweep.lr_find before any trial: the range test
**   (tr_lrfind) of the spec's base config with the block's ramp, seeded by the base's
**   train.seed, is taken from the store when it holds it (rs_lrfind_get under
**   rs_lrfind_default_name: the same test `hpsweep lr-find --db` stores), else run and, when
**   `save` is set, stored there (rs_lrfind_put); then optimizer.lr = factor x the chosen
**   suggestion (sw_spec_lr_resolve). A resume finds the stored test: the grid never changes.
** - st may be NULL (no database yet): the test is run, nothing is stored.
** - Errors are one line: a test that stopped without the chosen suggestion names the spec's
**   FILE:LINE:COL of hpsweep.lr_find, the suggestion and why the test stopped; an
**   interrupted test is TR_EINTR (nothing stored). No spec block: TR_OK, nothing done.
*/
#ifndef SW_LRGRID_H
#define SW_LRGRID_H

#include <signal.h>

#include "rs_lrfind.h"
#include "sw_spec.h"

typedef struct SwLrGridInfo {
  char name[RS_LRFIND_NAME_MAX]; /* the range test's name in the store */
  int ran;                       /* 1: run now; 0: found in the store */
  int stored;                    /* 1: stored now */
  int64_t trial_id;              /* its trial in the store, -1 if not stored */
  double suggested;              /* the chosen suggestion */
  int n_points;                  /* points of the curve */
} SwLrGridInfo;

typedef struct SwLrGridRun {
  RsStore *st;                   /* may be NULL */
  int save;                      /* store a test that was run */
  void (*on_point)(void *ud, const TrLrfindPoint *p, int steps); /* progress, may be NULL */
  void *ud;
  volatile sig_atomic_t *stop;   /* may be NULL */
} SwLrGridRun;

int sw_lrgrid_resolve(SwSpec *spec, const SwLrGridRun *run, SwLrGridInfo *info, TrErr *err);

#endif
