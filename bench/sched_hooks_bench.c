/* sched_hooks_bench.c: the cost of logging one step through a sweep worker's
** hooks, measured directly (end-to-end runs are too noisy on a shared machine
** to resolve well under 1 % of a step): per logged step the worker buffers 4
** metric rows (RsMetricBuf: one transaction per second or 512 rows), writes a
** log line into its pipe to the coordinator and, every 0.1 s, a progress line.
** usage: sched_hooks_bench [STEPS]   (prints microseconds per logged step) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "rs_store.h"
#include "tr_os.h"

int main(int argc, char **argv) {
  long steps = argc > 1 ? atol(argv[1]) : 50000;
  char dir[] = "/tmp/hps_hooks_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[64];
  snprintf(path, sizeof path, "%s/b.db", dir);
  TrErr err = {0};
  RsStore *st;
  if (rs_store_open(path, RS_OPEN_CREATE, &st, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int64_t sweep;
  RsTrialDef def = {0, "0123456789abcdef", "{}", "{}", 1};
  RsClaim cl;
  if (rs_sweep_upsert(st, "b", "x", "h", "grid", "val_loss", "minimize", 0, "train", &sweep) ||
      rs_trials_insert(st, sweep, 1, &def, NULL) || rs_trial_claim(st, sweep, "bench", 60, 1, &cl) || !cl.claimed) {
    fprintf(stderr, "%s\n", rs_store_errmsg(st));
    return 1;
  }
  int p[2];
  if (pipe(p)) return 1;
  pid_t pid = fork(); /* the coordinator's side: drain the pipe */
  if (pid == 0) {
    close(p[1]);
    char buf[65536];
    while (read(p[0], buf, sizeof buf) > 0) {
    }
    _exit(0);
  }
  close(p[0]);
  RsMetricBuf mb;
  rs_metricbuf_init(&mb, st, cl.trial_id, cl.claim_token, 0, 0);
  double t0 = tr_clock_mono(), last_progress = 0;
  static const char *const names[4] = {"train_loss", "lr", "grad_norm", "tokens_per_second"};
  for (long s = 1; s <= steps; s++) {
    for (int i = 0; i < 4; i++)
      if (rs_metricbuf_add(&mb, s, s * 1024, tr_clock_mono() - t0, names[i], 1.0 / (double)s)) {
        fprintf(stderr, "%s\n", rs_store_errmsg(st));
        return 1;
      }
    char line[256];
    int k = snprintf(line, sizeof line, "step %6ld | tokens %9ld | loss %.4f | lr %.3e | norm %.3f | %.0f tok/s\n", s,
                     s * 1024, 2.0, 3e-4, 1.0, 5000.0);
    if (write(p[1], line, (size_t)k) != k) return 1;
    double t = tr_clock_mono();
    if (t - last_progress >= 0.1) {
      k = snprintf(line, sizeof line, "@hps P %ld %ld %.9g %.6g\n", s, steps, 2.0, 5000.0);
      if (write(p[1], line, (size_t)k) != k) return 1;
      last_progress = t;
    }
  }
  rs_metricbuf_flush(&mb);
  double dt = tr_clock_mono() - t0;
  close(p[1]);
  printf("%ld logged steps (%ld metric rows) in %.3f s: %.2f us per logged step, %.0f rows/s\n", steps, 4 * steps, dt,
         1e6 * dt / (double)steps, 4.0 * (double)steps / dt);
  rs_metricbuf_deinit(&mb);
  rs_claim_clear(&cl);
  rs_store_close(st);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) != 0;
}
