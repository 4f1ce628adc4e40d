/*
** tr_par.h: the elementwise kernels' threads share the one OpenMP pool of OpenBLAS's
** OpenMP build (meson.build links it when it is there, and defines HPS_OPENMP).
**
** Contract:
** - tr_par_threads() is the thread count of the kernels: OpenBLAS's own
**   (openblas_get_num_threads, set by the run through openblas_set_num_threads),
**   so one call sets both. Built without OpenMP (a plain pthread or serial OpenBLAS)
**   it is 1: the elementwise work runs on the calling thread.
** - TR_PARALLEL(nt) opens a parallel region of nt threads; with nt == 1 the body runs
**   on the calling thread and no pool thread is started or woken (sweeps run one
**   1-thread trial per core: nothing may spin there).
** - tr_par_range() splits [0, n) into contiguous static pieces, one per thread, with
**   boundaries on multiples of `align`: each output has one owner and the split
**   depends only on n and the team size, so results are reproducible.
** - tr_par_threads_for(work): the threads for a kernel touching `work` elements: 1
**   below tr_par_min_work() (default TR_PAR_MIN_WORK: a parallel region costs a few
**   microseconds), else tr_par_threads(). tr_par_set_min_work(0) (tests) makes every
**   kernel take its threaded path at any size; set it before, not during, kernel calls.
** - libgomp's pool does not survive fork(): a forked child whose parent had started
**   it hangs in its first parallel region. A process that forks workers (the sweep
**   coordinator) must run its own BLAS and kernels with 1 thread before forking.
*/
#ifndef TR_PAR_H
#define TR_PAR_H

#include <stddef.h>

#include "tr_blas.h"

#define TR_PRAGMA(x) _Pragma(#x)

#ifdef _OPENMP
#include <omp.h>
#define TR_PARALLEL(nt) TR_PRAGMA(omp parallel num_threads(nt) if ((nt) > 1))
static inline int tr_par_tid(void) { return omp_get_thread_num(); }
static inline int tr_par_nth(void) { return omp_get_num_threads(); }
static inline int tr_par_threads(void) {
  int n = openblas_get_num_threads();
  return n > 1 ? n : 1;
}
#else
#define TR_PARALLEL(nt) (void)(nt);
static inline int tr_par_tid(void) { return 0; }
static inline int tr_par_nth(void) { return 1; }
static inline int tr_par_threads(void) { return 1; }
#endif

#define TR_PAR_MIN_WORK 16384
size_t tr_par_min_work(void);
void tr_par_set_min_work(size_t n);
int tr_par_threads_for(size_t work);

/* This thread's piece [*lo, *hi) of [0, n), boundaries multiples of align (>= 1). */
static inline void tr_par_range(size_t n, size_t align, size_t *lo, size_t *hi) {
  size_t nth = (size_t)tr_par_nth(), tid = (size_t)tr_par_tid();
  size_t blocks = (n + align - 1) / align;
  size_t b0 = blocks * tid / nth, b1 = blocks * (tid + 1) / nth;
  *lo = b0 * align < n ? b0 * align : n;
  *hi = b1 * align < n ? b1 * align : n;
}

#endif
