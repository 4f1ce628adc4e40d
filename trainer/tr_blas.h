/*
** tr_blas.h: the one include for BLAS. hpsweep requires OpenBLAS (meson.build):
** the CBLAS kernels plus OpenBLAS's thread-count calls, declared here because
** a cblas.h found outside OpenBLAS's own include directory may not declare them.
**
** Contract: openblas_set_num_threads sets the threads of every later BLAS call
** in this process (workers are processes, so each sets its own);
** openblas_get_num_threads reads it back (the elementwise kernels use the same
** count, trainer/tr_par.h). OpenBLAS's OpenMP build also sets OpenMP's count.
** openblas_get_parallel: 0 sequential, 1 pthreads, 2 OpenMP build (the library
** actually loaded; tests check it is the OpenMP one when the build uses OpenMP).
*/
#ifndef TR_BLAS_H
#define TR_BLAS_H

#include <cblas.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);
int openblas_get_parallel(void);

/* Small matrices: the next BLAS calls on one thread (a parallel region per small call
** costs more than it saves, and OpenMP's spinning threads burn a loaded machine's CPU).
** Returns the count to give back to tr_blas_threads_restore. */
static inline int tr_blas_one_thread(void) {
  int n = openblas_get_num_threads();
  if (n != 1) openblas_set_num_threads(1);
  return n;
}
static inline void tr_blas_threads_restore(int n) {
  if (n != 1) openblas_set_num_threads(n);
}

#endif
