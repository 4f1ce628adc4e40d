/* tr_sort: qsort without its n = 0, NULL undefined behaviour (UBSan halts on a bare qsort of
** NULL and 0 in the sanitizer build, which runs this file). */
#include <criterion/criterion.h>
#include <stddef.h>
#include <stdlib.h>

#include "tr_sort.h"

static int calls;
static int cmp_int(const void *a, const void *b) {
  calls++;
  int x = *(const int *)a, y = *(const int *)b;
  return (x > y) - (x < y);
}

Test(tr_sort, an_empty_list_given_as_null_is_left_alone_without_calling_cmp) {
  calls = 0;
  tr_sort(NULL, 0, sizeof(int), cmp_int);
  cr_assert_eq(calls, 0);
}

Test(tr_sort, one_element_is_left_as_it_is) {
  int one = 7;
  calls = 0;
  tr_sort(&one, 1, sizeof one, cmp_int);
  cr_assert_eq(one, 7);
  cr_assert_eq(calls, 0);
}

Test(tr_sort, many_elements_come_out_in_cmp_order) {
  int v[] = {5, -1, 3, 3, 9, 0, -7};
  int want[] = {-7, -1, 0, 3, 3, 5, 9};
  tr_sort(v, sizeof v / sizeof *v, sizeof *v, cmp_int);
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) cr_assert_eq(v[i], want[i], "v[%zu] = %d", i, v[i]);
}

Test(tr_sort, cmp_double_sorts_doubles_ascending_and_serves_bsearch) {
  double v[] = {2.5, -1e300, 0.0, 1e-9, -3.0, 2.5};
  const double want[] = {-1e300, -3.0, 0.0, 1e-9, 2.5, 2.5};
  tr_sort(v, 6, sizeof *v, tr_cmp_double);
  for (size_t i = 0; i < 6; i++) cr_assert_eq(v[i], want[i], "v[%zu] = %g", i, v[i]);
  const double key = 1e-9, *hit = bsearch(&key, v, 6, sizeof *v, tr_cmp_double);
  cr_assert(hit == &v[3]);
  cr_assert_eq(tr_cmp_double(&v[0], &v[1]), -1);
  cr_assert_eq(tr_cmp_double(&v[4], &v[5]), 0);
}
