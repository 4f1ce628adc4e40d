/*
** bayes_bench.c: model-based search (sw_gp.h, sw_tpe.h) against random search on Branin
** and Hartmann-6, in-process (issue 13's acceptance; BENCHMARKS.md).
**
**   bayes_bench [TRIALS [SEEDS]]     default 50 trials x 20 sweep seeds
**
** For each function and method: the median simple regret (best found - global minimum)
** over sweep seeds 0 .. SEEDS-1, sequentially (-j 1) and with two simulated workers
** (-j 2: one trial running at every proposal, entering as the GP's belief / TPE's liar),
** the duplicate proposals, and the seconds per proposal. Random search is the baseline
** (the same seeds, hpsweep's own draws).
*/
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "sw_search_sim.h"
#include "tr_blas.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

int main(int argc, char **argv) {
  int trials = argc > 1 ? atoi(argv[1]) : 50, seeds = argc > 2 ? atoi(argv[2]) : 20;
  if (trials < 1 || seeds < 1 || seeds > 256) {
    fprintf(stderr, "usage: bayes_bench [TRIALS [SEEDS (1..256)]]\n");
    return 2;
  }
  openblas_set_num_threads(1); /* a coordinator's proposals: small matrices, one thread */
  char dir[] = "/tmp/hps_bayes_bench_XXXXXX";
  if (!mkdtemp(dir)) {
    perror("mkdtemp");
    return 1;
  }
  const char *fns[2] = {"branin", "hartmann6"}, *names[3] = {"random", "bayes (GP)", "TPE"};
  int bad = 0;
  printf("%d trials x %d sweep seeds; median simple regret (x random: random's / this one's)\n", trials, seeds);
  printf("%-10s %-11s %12s %8s %12s %8s %6s %8s %10s\n", "function", "method", "-j 1", "x rand", "-j 2", "x rand",
         "dups", "j2/j1", "ms/prop");
  for (int f = 0; f < 2; f++) {
    SwSearchSpace S;
    TrErr err;
    tr_err_clear(&err);
    if (sw_search_space(&S, dir, fns[f], &err)) {
      fprintf(stderr, "bayes_bench: %s\n", err.msg);
      return 1;
    }
    double base1 = 0, base2 = 0;
    for (int k = 0; k < 3; k++) {
      int d1 = 0, d2 = 0;
      double t0 = now();
      double r1 = sw_search_median_regret(&S, (SwSearchKind)k, trials, seeds, 1, &d1);
      double r2 = sw_search_median_regret(&S, (SwSearchKind)k, trials, seeds, 2, &d2);
      double ms = 1e3 * (now() - t0) / (2.0 * trials * seeds);
      if (k == 0) base1 = r1, base2 = r2;
      bad |= r1 != r1 || r2 != r2;
      printf("%-10s %-11s %12.5g %8.1f %12.5g %8.1f %6d %8.2f %10.3f\n", S.name, names[k], r1, base1 / r1, r2,
             base2 / r2, d1 + d2, r2 / r1, ms);
    }
    sw_search_free(&S);
  }
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bayes_bench: could not remove %s\n", dir);
  return bad;
}
