/* tr_sort.c: qsort without its n = 0, NULL undefined behaviour. See tr_sort.h. */
#include "tr_sort.h"

#include <stdlib.h>

void tr_sort(void *base, size_t n, size_t size, int (*cmp)(const void *, const void *)) {
  if (n < 2) return;
  qsort(base, n, size, cmp);
}
