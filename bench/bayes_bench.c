/*
** bayes_bench.c: model-based search (sw_gp.h, sw_tpe.h) against random search on Branin
** and Hartmann-6, in-process (issue 13's acceptance; BENCHMARKS.md).
**
**   bayes_bench [TRIALS [SEEDS [per-seed [random|gp|tpe]]]]     default 50 trials x 20 sweep seeds
**
** For each function and method: the median simple regret (best found - global minimum)
** over sweep seeds 0 .. SEEDS-1, sequentially (-j 1) and with two simulated workers
** (-j 2: one trial running at every proposal, entering as the GP's belief / TPE's liar),
** the duplicate proposals, the same with the running trial hidden from the model (the
** naive parallel mode), milliseconds per proposal, and (GP, -j 1) how many of the model's
** proposals were random points at the length scale's bound. branin_q is Branin on a grid of
** step 0.5, where duplicates can happen. Random search is the baseline (the same seeds,
** hpsweep's own draws). With `per-seed`: only Branin's regret for each sweep seed, sequential and
** with two simulated workers, per method (bench/bayes_sched_bench.py pairs them with its sweeps).
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sw_search_sim.h"
#include "tr_blas.h"

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + 1e-9 * (double)t.tv_nsec;
}

/* Branin's simple regret for each seed, per method, -j 1 and simulated -j 2. */
static int per_seed(const char *dir, int trials, int seeds, const char *only) {
  const char *names[3] = {"random", "gp", "tpe"};
  SwSearchSpace S;
  TrErr err;
  tr_err_clear(&err);
  if (sw_search_space(&S, dir, "branin", &err)) return fprintf(stderr, "bayes_bench: %s\n", err.msg), 1;
  for (int k = 0; k < 3; k++)
    for (int w = 1; w <= 2 && (!only || !strcmp(only, names[k])); w++) {
      printf("per-seed branin %s -j%d:", names[k], w);
      for (int s = 0; s < seeds; s++) {
        double best;
        int dd;
        if (sw_search_run(&S, (SwSearchKind)k, (uint64_t)s, trials, w, 0, &best, &dd, &err))
          return fprintf(stderr, "bayes_bench: %s\n", err.msg), 1;
        printf(" %.17g", best - S.fmin);
      }
      printf("\n");
    }
  sw_search_free(&S);
  return 0;
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
  if (argc > 3 && !strcmp(argv[3], "per-seed")) {
    int rc = per_seed(dir, trials, seeds, argc > 4 ? argv[4] : NULL);
    char cmd[64];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "bayes_bench: could not remove %s\n", dir);
    return rc;
  }
  const char *fns[3] = {"branin", "hartmann6", "branin_q"}, *names[3] = {"random", "bayes (GP)", "TPE"};
  int bad = 0;
  printf("%d trials x %d sweep seeds; median simple regret; x rand: random's / this one's; dups: proposals\n"
         "equal to a trial done or running; naive -j 2: running trials hidden from the model\n", trials, seeds);
  printf("%-10s %-11s %11s %7s %11s %7s %5s %6s %11s %5s %8s %10s\n", "function", "method", "-j 1", "x rand", "-j 2",
         "x rand", "dups", "j2/j1", "naive -j 2", "dups", "ms/prop", "bound -j 1");
  for (int f = 0; f < 3; f++) {
    SwSearchSpace S;
    TrErr err;
    tr_err_clear(&err);
    if (sw_search_space(&S, dir, fns[f], &err)) {
      fprintf(stderr, "bayes_bench: %s\n", err.msg);
      return 1;
    }
    double base1 = 0, base2 = 0;
    for (int k = 0; k < 3; k++) {
      int d1 = 0, d2 = 0, d3 = 0;
      double t0 = now();
      sw_search_n_model = sw_search_n_bound = 0;
      double r1 = sw_search_median_regret(&S, (SwSearchKind)k, trials, seeds, 1, 0, &d1);
      size_t nb = sw_search_n_bound, nm = sw_search_n_model;
      double r2 = sw_search_median_regret(&S, (SwSearchKind)k, trials, seeds, 2, 0, &d2);
      double ms = 1e3 * (now() - t0) / (2.0 * trials * seeds);
      double r3 = k ? sw_search_median_regret(&S, (SwSearchKind)k, trials, seeds, 2, 1, &d3) : r2;
      if (k == 0) base1 = r1, base2 = r2;
      bad |= r1 != r1 || r2 != r2 || r3 != r3;
      char bnd[32] = "";
      if (k == SW_SEARCH_GP) snprintf(bnd, sizeof bnd, "%zu/%zu", nb, nm);
      printf("%-10s %-11s %11.4g %7.1f %11.4g %7.1f %5d %6.2f %11.4g %5d %8.2f %10s\n", S.name, names[k], r1,
             base1 / r1, r2, base2 / r2, d1 + d2, r2 / r1, r3, d3, ms, bnd);
    }
    sw_search_free(&S);
  }
  char cmd[64];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "bayes_bench: could not remove %s\n", dir);
  return bad;
}
