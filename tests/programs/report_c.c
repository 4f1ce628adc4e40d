/* A program reporting through clients/c/hpsweep_report.h (test_sw_proto runs it). */
#include <math.h>

#include "hpsweep_report.h"

int main(void) {
  const char *a[] = {"loss", "acc"};
  double av[] = {0.1, 1e-300};
  if (hpsweep_report(0, 2, a, av) != 0) return 1;
  const char *b[] = {"loss", "neg_zero", "big"};
  double bv[] = {123456789.123456789, -0.0, 1.7976931348623157e308};
  if (hpsweep_report(-1, 3, b, bv) != 0) return 1; /* step 1: the counter */
  const char *c[] = {"nan", "inf", "minus_inf", "quote\"back\\slash"};
  double cv[] = {NAN, INFINITY, -INFINITY, 5e-324};
  if (hpsweep_report(200, 4, c, cv) != 0) return 1;
  return 0;
}
