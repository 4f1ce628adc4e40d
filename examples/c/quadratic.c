/* quadratic.c: a C program reporting through clients/c/hpsweep_report.h. Gradient
** descent on loss(x, y) = (x - 1)^2 + 10 (y + 2)^2 from (0, 0) with --lr=LR for
** --steps=N steps; reports loss every step. It converges for lr < 0.1 (the curvature
** along y is 20) and diverges (inf, then NaN) above: a sweep over lr finds the edge.
**   quadratic --lr=0.05 --steps=50 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hpsweep_report.h"

int main(int argc, char **argv) {
  double lr = 0.01, x = 0, y = 0;
  long steps = 50;
  for (int i = 1; i < argc; i++) {
    if (strncmp(argv[i], "--lr=", 5) == 0) lr = strtod(argv[i] + 5, NULL);
    else if (strncmp(argv[i], "--steps=", 8) == 0) steps = strtol(argv[i] + 8, NULL, 10);
  }
  const char *names[] = {"loss"};
  double loss = 0;
  for (long s = 0; s < steps; s++) {
    loss = (x - 1) * (x - 1) + 10 * (y + 2) * (y + 2);
    if (hpsweep_report(s, 1, names, &loss) != 0) return 1;
    x -= lr * 2 * (x - 1);
    y -= lr * 20 * (y + 2);
  }
  printf("lr %g: final loss %.6g\n", lr, loss);
  return 0;
}
