/* attn_bench: the fused attention kernels against the per-head sgemm ones
** (trainer/tr_attn.h), forward + backward of one layer's attention at the bench
** shapes T (B 16, T 64, 4 heads of 32) and S (B 8, T 256, 6 heads of 64).
**
**   attn_bench [--threads N] [--reps N] [--quick]
**
** Prints, per shape and path, the median wall and the median process CPU time of
** one forward + backward (ms), and the fused/sgemm ratio of each. On a busy
** machine CPU time is the steadier figure. --quick: 3 repetitions (numbers
** meaningless, a smoke test). */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_attn.h"
#include "tr_blas.h"
#include "tr_os.h"
#include "tr_rng.h"
#include "tr_sort.h"

typedef struct Shape {
  const char *name;
  int B, T, C, NH;
} Shape;

/* Median wall and CPU ms of one forward + backward on `path`. */
static void run(const Shape *s, TrAttnPath path, int reps, double *wall, double *cpu) {
  size_t nq = (size_t)s->B * s->T * 3 * s->C, no = (size_t)s->B * s->T * s->C;
  size_t ns = tr_attn_saved_floats(path, s->B, s->NH, s->T), nscr = tr_attn_scratch_floats(path, s->T);
  float *qkv = malloc(nq * sizeof(float)), *dq = malloc(nq * sizeof(float));
  float *out = malloc(no * sizeof(float)), *dout = malloc(no * sizeof(float));
  float *saved = malloc(ns * sizeof(float)), *scr = malloc((nscr ? nscr : 1) * sizeof(float));
  double *w = malloc((size_t)reps * sizeof(double)), *c = malloc((size_t)reps * sizeof(double));
  TrRng rng;
  tr_rng_seed(&rng, 1);
  for (size_t i = 0; i < nq; i++) qkv[i] = (float)tr_rng_normal(&rng);
  for (size_t i = 0; i < no; i++) dout[i] = (float)tr_rng_normal(&rng);
  float qk = 1.0f / sqrtf((float)(s->C / s->NH));
  for (int r = -1; r < reps; r++) { /* one warm-up */
    double w0 = tr_clock_mono(), c0 = tr_clock_cpu();
    if (path == TR_ATTN_FUSED) {
      tr_attn_forward(out, saved, qkv, NULL, 1.0f, s->B, s->T, s->C, s->NH, qk);
      tr_attn_backward(dq, dout, out, qkv, saved, NULL, 1.0f, s->B, s->T, s->C, s->NH, qk);
    } else {
      tr_attn_sgemm_forward(out, saved, qkv, NULL, 1.0f, scr, s->B, s->T, s->C, s->NH, qk);
      tr_attn_sgemm_backward(dq, dout, qkv, saved, NULL, 1.0f, scr, s->B, s->T, s->C, s->NH, qk);
    }
    if (r >= 0) w[r] = (tr_clock_mono() - w0) * 1e3, c[r] = (tr_clock_cpu() - c0) * 1e3;
  }
  tr_sort(w, (size_t)reps, sizeof *w, tr_cmp_double);
  tr_sort(c, (size_t)reps, sizeof *c, tr_cmp_double);
  *wall = w[reps / 2], *cpu = c[reps / 2];
  free(qkv), free(dq), free(out), free(dout), free(saved), free(scr), free(w), free(c);
}

int main(int argc, char **argv) {
  int threads = 1, reps = 41;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--threads") == 0 && i + 1 < argc) threads = atoi(argv[++i]);
    else if (strcmp(argv[i], "--reps") == 0 && i + 1 < argc) reps = atoi(argv[++i]);
    else if (strcmp(argv[i], "--quick") == 0) reps = 3;
    else {
      fprintf(stderr, "usage: attn_bench [--threads N] [--reps N] [--quick]\n");
      return 2;
    }
  }
  if (threads < 1 || reps < 1) {
    fprintf(stderr, "attn_bench: --threads and --reps must be >= 1\n");
    return 2;
  }
  openblas_set_num_threads(threads);
  const Shape shapes[] = {{"T", 16, 64, 128, 4}, {"S", 8, 256, 384, 6}};
  printf("shape threads  fused wall ms  cpu ms   sgemm wall ms  cpu ms   fused/sgemm (cpu)\n");
  for (int i = 0; i < 2; i++) {
    double fw, fc, sw, sc;
    run(&shapes[i], TR_ATTN_FUSED, reps, &fw, &fc);
    run(&shapes[i], TR_ATTN_SGEMM, reps, &sw, &sc);
    printf("%-5s %7d  %13.3f  %6.3f   %13.3f  %6.3f   %.2f\n", shapes[i].name, threads, fw, fc, sw, sc,
           fc / sc);
  }
  return 0;
}
