/* tr_par.c: the kernels' parallel threshold (tr_par.h). */
#include "tr_par.h"

static size_t min_work = TR_PAR_MIN_WORK;

size_t tr_par_min_work(void) { return min_work; }

void tr_par_set_min_work(size_t n) { min_work = n; }

int tr_par_threads_for(size_t work) { return work >= min_work ? tr_par_threads() : 1; }
