/*
** tr_sort.h: the one sort of every layer (base utility, like tr_os).
**
** Contract:
** - tr_sort(base, n, size, cmp) is qsort(base, n, size, cmp) for n >= 2 and does nothing for
**   n < 2: qsort with n = 0 and a NULL base is undefined behaviour (C11 7.22.5 and 7.1.4: a pointer
**   argument must be valid even for zero elements; UBSan halts on it), and an empty list is
**   often NULL (an empty store's, a fresh array's). Not stable, as qsort.
** - Never call qsort directly (tests sorting their own arrays excepted).
** - tr_cmp_double is the ascending comparator of doubles for tr_sort and bsearch (NaN
**   compares equal to everything, as (x > y) - (x < y) gives).
*/
#ifndef TR_SORT_H
#define TR_SORT_H

#include <stddef.h>

void tr_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *));
int tr_cmp_double(const void *a, const void *b);

#endif
