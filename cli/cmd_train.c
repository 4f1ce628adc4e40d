/*
** cmd_train.c: `hpsweep train [CONFIG.yaml] [--set key=value ...] [--json] [--resume CKPT]`.
*/
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tr_alloc.h"
#include "tr_config.h"
#include "tr_run.h"

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig) {
  (void)sig;
  stop_flag = 1;
}

static void log_line(void *ud, const char *line) {
  FILE *f = ud;
  fprintf(f, "%s\n", line);
  fflush(f);
}

static void print_summary(const TrRunResult *res) {
  printf("\n%s after %lld steps, %lld tokens, %.1f s (%.0f tokens/s)\n", tr_run_status_name(res->status),
         (long long)res->steps, (long long)res->tokens, res->wall_seconds, res->tokens_per_second);
  if (res->reason[0]) printf("reason:           %s\n", res->reason);
  printf("best val loss:    %.4f (step %lld)\n", res->best_val_loss, (long long)res->best_step);
  printf("final val loss:   %.4f\n", res->final_val_loss);
  printf("final train loss: %.4f\n", res->final_train_loss);
  if (isfinite(res->entropy_floor))
    printf("entropy floor:    %.4f (best possible loss on the synthetic corpus)\n", res->entropy_floor);
  if (res->checkpoint[0]) printf("checkpoint:       %s\n", res->checkpoint);
}

static int train_main(int argc, char **argv) {
  hps_cpu_notice(); /* HPSWEEP_CPU ignored: say it once */
  const char *path = NULL, *resume = NULL;
  int json = 0;
  HpsList sets = {tr_calloc((size_t)argc, sizeof *sets.v), 0};
  if (!sets.v) {
    hps_error("train", "out of memory");
    return 1;
  }
  const HpsOpt opts[] = {HPS_OPT_FLAG("--json", NULL, &json), HPS_OPT_LIST("--set", NULL, &sets),
                         HPS_OPT_STRING("--resume", NULL, &resume), HPS_OPT_END};
  TrConfig cfg;
  int rc = hps_opts_parse(argc, argv, opts, &path, 1);
  if (rc || (rc = hps_config_from_args(&cfg, path, sets.n, sets.v, "train"))) goto done;

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  TrRunHooks hooks = {0};
  hooks.on_log = log_line;
  hooks.ud = json ? stderr : stdout;
  hooks.stop = &stop_flag;
  hooks.resume_path = resume;
  TrRunResult res;
  TrErr err = {0};
  if (tr_run(&cfg, &hooks, &res, &err)) {
    hps_error("train", "%s", err.msg);
    rc = 2;
    goto done;
  }
  if (json) {
    char buf[2048];
    tr_run_result_json(&res, buf, sizeof buf);
    printf("%s\n", buf);
  } else {
    print_summary(&res);
  }
  rc = res.status == TR_RUN_COMPLETED ? 0 : res.status == TR_RUN_INTERRUPTED ? 130 : 1;
done:
  free(sets.v);
  return rc;
}

const HpsCmd hps_cmd_train = {
    "train", train_main, "train one model from a config",
    "usage: hpsweep train [CONFIG.yaml] [--set key=value ...] [--json] [--resume CKPT]\n"
    "\n"
    "Train one GPT model on the CPU. Without CONFIG, every key takes its default:\n"
    "the quickstart model on the built-in synthetic corpus.\n"
    "\n"
    "  CONFIG.yaml        training config (sections data, model, optimizer, schedule, train)\n"
    "  --set key=value    override one key, e.g. --set optimizer.lr=3e-4 (repeatable)\n"
    "  --json             log to stderr; print the summary as one JSON object on stdout\n"
    "  --resume CKPT      continue a run from its checkpoint (same config)\n"
    "\n"
    "Exit status: 0 completed, 1 diverged, 2 bad input, 130 interrupted (Ctrl-C saves\n"
    "a checkpoint when train.out_dir is set). Keys: 'hpsweep help config'.\n"};
