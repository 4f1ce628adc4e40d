/*
** cmd_bench.c: `hpsweep bench`, training throughput of the built-in trainer
** (trainer/tr_bench.h) next to the machine's OpenBLAS sgemm speed.
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "tr_bench.h"

static void print_result(const TrBenchResult *r, int json) {
  if (json)
    printf("{\"model\": \"%s\", \"threads\": %d, \"steps\": %d, \"batch\": %d, \"context\": %d, "
           "\"tokens_per_s\": %.1f, \"tokens_per_s_best\": %.1f, \"step_ms\": %.3f, \"step_ms_min\": %.3f, "
           "\"flops_per_token\": %.0f, \"sgemm_gflops\": %.2f, \"mfu\": %.4f, \"loss\": %.6f, "
           "\"peak_rss_mb\": %.1f, \"base_rss_mb\": %.1f, \"params_mb\": %.2f, \"act_mb\": %.1f, "
           "\"rss_method\": \"fork per shape, wait4 ru_maxrss\"}\n",
           r->model, r->threads, r->steps, r->batch, r->context, r->tokens_per_s,
           r->batch * r->context / (r->step_ms_min / 1e3), r->step_ms, r->step_ms_min, r->flops_per_token,
           r->sgemm_gflops, r->mfu, r->loss, r->peak_rss_mb, r->base_rss_mb, r->params_mb, r->act_mb);
  else
    printf("hpsweep model %s threads %d: %9.0f tokens/s  (%.1f ms/step, %.2f MFLOP/token, "
           "MFU %.2f, peak RSS %.0f MB)\n",
           r->model, r->threads, r->tokens_per_s, r->step_ms, r->flops_per_token / 1e6, r->mfu, r->peak_rss_mb);
  fflush(stdout);
}

static int cmd_bench(int argc, char **argv) {
  hps_cpu_notice(); /* HPSWEEP_CPU ignored: say it once */
  const char *model = "all", *threads = "all";
  long steps = 0, nthreads = 0;
  int json = 0;
  const HpsOpt opts[] = {HPS_OPT_STRING("--model", NULL, &model), HPS_OPT_STRING("--threads", NULL, &threads),
                         HPS_OPT_INT("--steps", NULL, &steps, 1, 1000000), HPS_OPT_FLAG("--json", NULL, &json),
                         HPS_OPT_END};
  if (hps_opts_parse(argc, argv, opts, NULL, 0)) return 2;
  if (strcmp(model, "T") && strcmp(model, "S") && strcmp(model, "all"))
    return hps_error_usage("bench", "--model '%s' must be T, S or all", model);
  if (strcmp(threads, "all") && hps_arg_long("bench", "--threads", threads, 1, 1000000, &nthreads)) return 2;
  const char *models[2] = {"T", "S"};
  int nm = 2;
  if (strcmp(model, "all")) models[0] = model, nm = 1;
  int th[2] = {nthreads ? (int)nthreads : 1, 0}, nt = 1;
  if (!nthreads) { /* all: 1 and every core */
    long nc = sysconf(_SC_NPROCESSORS_ONLN);
    if (nc > 1) th[1] = (int)nc, nt = 2;
  }
  for (int ti = 0; ti < nt; ti++) {
    double g = tr_bench_sgemm_forked(th[ti], 1024, 9);
    if (!json)
      printf("OpenBLAS sgemm 1024x1024x1024, %d thread%s: %.1f GFLOP/s\n", th[ti],
             th[ti] > 1 ? "s" : "", g);
    for (int mi = 0; mi < nm; mi++) {
      TrBenchResult r;
      TrErr err = {0};
      int st = steps ? (int)steps : (!strcmp(models[mi], "T") ? 30 : 8);
      if (tr_bench_train_forked(models[mi], th[ti], st, &r, &err)) {
        hps_error("bench", "%s", err.msg);
        return 1;
      }
      r.sgemm_gflops = g;
      r.mfu = g > 0 ? r.tokens_per_s * r.flops_per_token / (g * 1e9) : 0.0;
      print_result(&r, json);
    }
  }
  return 0;
}

const HpsCmd hps_cmd_bench = {
    "bench", cmd_bench, "measure training throughput (tokens/s) and sgemm speed",
    "usage: hpsweep bench [--model T|S|all] [--threads N|all] [--steps N] [--json]\n"
    "\n"
    "Trains the benchmark shapes on random tokens and prints tokens/s (median step:\n"
    "forward + backward + AdamW update, after 2 warm-up steps), with OpenBLAS sgemm\n"
    "GFLOP/s at the same thread count and MFU = tokens/s * flops/token / sgemm.\n"
    "Each shape runs in a forked process of its own (so does the sgemm): peak RSS is\n"
    "that process's ru_maxrss (wait4), the whole process at its peak; --json adds\n"
    "base_rss_mb (its RSS before the model existed) and the model's own params_mb\n"
    "and act_mb (activations and their gradients, as allocated).\n"
    "\n"
    "  --model T|S|all   T: vocab 256, context 64, 4 layers, 4 heads, d_model 128, batch 16\n"
    "                    S: vocab 256, context 256, 6 layers, 6 heads, d_model 384, batch 8\n"
    "                    (default all)\n"
    "  --threads N|all   threads of the one pool (OpenBLAS and the elementwise kernels);\n"
    "                    all = 1 and every core (default all)\n"
    "  --steps N         timed steps (default 30 for T, 8 for S)\n"
    "  --json            one JSON object per line instead of text\n"
    "\n"
    "Compare with PyTorch: /usr/bin/python3 bench/bench_torch.py (same shapes), or both\n"
    "side by side: python3 bench/speed17.py (docs/performance.md).\n"};
