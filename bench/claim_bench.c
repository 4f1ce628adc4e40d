/* claim_bench.c: the store's share of a sweep's per-trial overhead, measured in-process
** (end-to-end runs on a shared machine are too noisy to see a few ms): a sweep of N trials
** is inserted, then K trials go through what the runner does for each: claim, finish
** (completed), count the sweep's trials by status. Prints, for one N: the insert time, and
** per trial the median wall time and the mean CPU time of claim + finish + counts. Wall time
** includes the durable commits' fsyncs; CPU time is the steadier figure on a busy machine.
** Then metric rows per second: B batches of 512 rows written to a claimed trial (rs_metrics_put,
** one transaction each, as the metrics buffer flushes them).
** usage: claim_bench N [K [STORE]]   (K defaults to 200; STORE: a store URL, e.g. postgresql://...,
** instead of a fresh SQLite file: its sweep "claim_bench" is replaced) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_store.h"
#include "tr_os.h"
#include "tr_sort.h"

/* A config the size of a real one (~1.7 KB of JSON). */
static char config[2048];

typedef struct Defs {
  char hash[17], params[64];
} Defs;

static int fail(RsStore *st) {
  fprintf(stderr, "claim_bench: %s\n", rs_store_errmsg(st));
  return 1;
}

int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 10000, k = argc > 2 ? atol(argv[2]) : 200;
  if (n < 1 || k < 1 || k >= n) {
    fprintf(stderr, "usage: claim_bench N [K < N [STORE]]\n");
    return 2;
  }
  char dir[] = "/tmp/hps_claim_XXXXXX";
  if (!mkdtemp(dir)) return 1;
  char path[600];
  snprintf(path, sizeof path, "%s", argc > 3 ? argv[3] : dir);
  if (argc <= 3) snprintf(path, sizeof path, "%s/b.db", dir);
  TrErr err = {0, ""};
  RsStore *st;
  if (rs_store_open(path, RS_OPEN_CREATE, &st, &err)) {
    fprintf(stderr, "%s\n", err.msg);
    return 1;
  }
  int len = snprintf(config, sizeof config, "{\"train\": {\"max_steps\": 2, \"pad\": \"");
  while (len < 1700) config[len++] = 'x';
  snprintf(config + len, sizeof config - (size_t)len, "\"}}");
  int64_t sweep, gone;
  if (rs_sweep_delete(st, "claim_bench", &gone) && rs_store_errcode(st) != TR_ENOTFOUND) return fail(st);
  if (rs_sweep_upsert(st, "claim_bench", "x", "h", "grid", "val_loss", "minimize", 0, "train", &sweep)) return fail(st);
  Defs *d = calloc((size_t)n, sizeof *d);
  RsTrialDef *defs = calloc((size_t)n, sizeof *defs);
  double *wall = calloc((size_t)k, sizeof *wall);
  if (!d || !defs || !wall) return 1;
  for (long i = 0; i < n; i++) {
    snprintf(d[i].hash, sizeof d[i].hash, "%016lx", (unsigned long)i * 2654435761ul);
    snprintf(d[i].params, sizeof d[i].params, "{\"optimizer.lr\": %.17g}", 1e-4 * (double)(i + 1));
    defs[i] = (RsTrialDef){(int)i, d[i].hash, config, d[i].params, 1};
  }
  double t0 = tr_clock_mono(), c0 = tr_clock_cpu();
  if (rs_trials_insert(st, sweep, (size_t)n, defs, NULL)) return fail(st);
  double insert_wall = tr_clock_mono() - t0, insert_cpu = tr_clock_cpu() - c0;
  c0 = tr_clock_cpu();
  for (long i = 0; i < k; i++) {
    double t = tr_clock_mono();
    RsClaim cl;
    RsCounts counts;
    RsTrialResult r = {1.0, 1.0, 2, 2, 128, 0.01, 1e6, NULL, NULL, 0};
    if (rs_trial_claim(st, sweep, "bench:1", 60, 2, &cl) || !cl.claimed) return fail(st);
    if (rs_trial_finish(st, cl.trial_id, cl.claim_token, RS_COMPLETED, &r)) return fail(st);
    if (rs_sweep_counts(st, sweep, &counts)) return fail(st);
    rs_claim_clear(&cl);
    wall[i] = tr_clock_mono() - t;
  }
  double per_cpu = (tr_clock_cpu() - c0) / (double)k;
  tr_sort(wall, (size_t)k, sizeof *wall, tr_cmp_double);
  /* Metric rows: 40 batches of 512 (train_loss, val_loss, lr, grad_norm at 128 steps each). */
  RsClaim cl;
  if (rs_trial_claim(st, sweep, "bench:1", 600, 2, &cl) || !cl.claimed) return fail(st);
  static RsMetric rows[512];
  static const char *const names[4] = {"train_loss", "val_loss", "lr", "grad_norm"};
  long nb = 40;
  t0 = tr_clock_mono(), c0 = tr_clock_cpu();
  for (long b = 0; b < nb; b++) {
    for (int i = 0; i < 512; i++) {
      int64_t step = b * 128 + i / 4;
      rows[i] = (RsMetric){step, step * 1024, 0.01 * (double)step, 1.0 / (double)(step + 1), names[i % 4]};
    }
    if (rs_metrics_put(st, cl.trial_id, cl.claim_token, 512, rows)) return fail(st);
  }
  double rows_wall = tr_clock_mono() - t0, rows_cpu = tr_clock_cpu() - c0;
  RsTrialResult done = {1.0, 1.0, 2, 2, 128, 0.01, 1e6, NULL, NULL, 0};
  if (rs_trial_finish(st, cl.trial_id, cl.claim_token, RS_COMPLETED, &done)) return fail(st);
  rs_claim_clear(&cl);
  printf("{\"store\": \"%s\", \"trials\": %ld, \"insert_wall_s\": %.3f, \"insert_cpu_s\": %.3f, \"claims\": %ld, "
         "\"per_trial_wall_ms\": %.3f, \"per_trial_cpu_ms\": %.3f, \"metric_rows_per_s_wall\": %.0f, "
         "\"metric_rows_per_s_cpu\": %.0f}\n",
         argc > 3 ? "url" : "sqlite", n, insert_wall, insert_cpu, k, 1e3 * wall[k / 2], 1e3 * per_cpu,
         (double)(nb * 512) / rows_wall, (double)(nb * 512) / rows_cpu);
  if (rs_sweep_delete(st, "claim_bench", &gone)) return fail(st);
  rs_store_close(st);
  free(d), free(defs), free(wall);
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
  return system(cmd) == 0 ? 0 : 1;
}
