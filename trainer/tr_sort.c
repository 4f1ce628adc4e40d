/* tr_sort.c: qsort without its n = 0, NULL undefined behaviour. See tr_sort.h. */
#include "tr_sort.h"

#include <stdlib.h>

void tr_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  if (n < 2) return;
  qsort(base, n, size, cmp);
}

int tr_cmp_double(const void *a, const void *b) {
  double x = *(const double *)a, y = *(const double *)b;
  return (x > y) - (x < y);
}
