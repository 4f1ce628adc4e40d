/*
** analytic.h: Branin and Hartmann-6 in C, the same formulas and constants as branin.py and
** hartmann6.py beside it (for in-process tests and bench/bayes_bench of model-based search).
*/
#ifndef HPS_ANALYTIC_H
#define HPS_ANALYTIC_H

#include <math.h>

/* Global minima (the literature's, as in the .py docstrings). */
#define HPS_BRANIN_MIN 0.397887357729738
#define HPS_HARTMANN6_MIN (-3.32236801141551)

/* x1 in [-5, 10], x2 in [0, 15]. */
static inline double hps_branin(double x1, double x2) {
  const double b = 5.1 / (4 * M_PI * M_PI), c = 5 / M_PI, t = 1 / (8 * M_PI);
  double s = x2 - b * x1 * x1 + c * x1 - 6;
  return s * s + 10 * (1 - t) * cos(x1) + 10;
}

/* x in [0, 1]^6. */
static inline double hps_hartmann6(const double *x) {
  static const double alpha[4] = {1.0, 1.2, 3.0, 3.2};
  static const double A[4][6] = {{10, 3, 17, 3.5, 1.7, 8}, {0.05, 10, 17, 0.1, 8, 14},
                                 {3, 3.5, 1.7, 10, 17, 8}, {17, 8, 0.05, 10, 0.1, 14}};
  static const double P[4][6] = {{0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886},
                                 {0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991},
                                 {0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650},
                                 {0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381}};
  double f = 0;
  for (int i = 0; i < 4; i++) {
    double s = 0;
    for (int j = 0; j < 6; j++) s += A[i][j] * (x[j] - P[i][j]) * (x[j] - P[i][j]);
    f -= alpha[i] * exp(-s);
  }
  return f;
}

#endif
