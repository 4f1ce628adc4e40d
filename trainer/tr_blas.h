/*
** tr_blas.h: the one include for BLAS. hpsweep requires OpenBLAS (meson.build):
** the CBLAS kernels plus OpenBLAS's thread-count calls, declared here because
** a cblas.h found outside OpenBLAS's own include directory may not declare them.
**
** Contract: openblas_set_num_threads sets the threads of every later BLAS call
** in this process (workers are processes, so each sets its own);
** openblas_get_num_threads reads it back.
*/
#ifndef TR_BLAS_H
#define TR_BLAS_H

#include <cblas.h>

void openblas_set_num_threads(int num_threads);
int openblas_get_num_threads(void);

#endif
