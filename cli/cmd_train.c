/*
** cmd_train.c: `hpsweep train [CONFIG.yaml] [--set key=value ...] [--json] [--resume CKPT]`.
*/
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
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

/* Shared by commands that read a config: CONFIG plus --set overrides, validated. */
int hps_config_from_args(TrConfig *cfg, const char *path, int nset, char **sets, const char *cmd) {
  TrErr err = {0};
  if (tr_config_load(cfg, path, &err)) {
    fprintf(stderr, "hpsweep %s: %s\n", cmd, err.msg);
    return 2;
  }
  for (int i = 0; i < nset; i++) {
    char *eq = strchr(sets[i], '='), shown[TR_ERR_CLIP_MAX];
    tr_err_clip(sets[i], shown, sizeof shown); /* the message quotes the value (clipped) itself */
    if (!eq || eq == sets[i]) {
      fprintf(stderr, "hpsweep %s: --set needs key=value, got '%s'\n", cmd, shown);
      return 2;
    }
    *eq = '\0';
    int rc = tr_config_set(cfg, sets[i], eq + 1, &err);
    *eq = '=';
    if (rc) {
      fprintf(stderr, "hpsweep %s: --set %s: %s\n", cmd, shown, err.msg);
      return 2;
    }
  }
  if (tr_config_validate(cfg, &err)) {
    fprintf(stderr, "hpsweep %s: %s%s%s\n", cmd, path ? path : "", path ? ": " : "", err.msg);
    return 2;
  }
  return 0;
}

static int train_main(int argc, char **argv) {
  const char *path = NULL, *resume = NULL;
  int json = 0;
  char **sets = calloc((size_t)argc, sizeof *sets);
  int nset = 0;
  if (!sets) return 2;
  int rc = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--json"))
      json = 1;
    else if (!strcmp(a, "--set") || !strcmp(a, "--resume")) {
      if (i + 1 >= argc) {
        fprintf(stderr, "hpsweep train: %s needs a value\n", a);
        rc = 2;
        goto done;
      }
      if (a[2] == 's')
        sets[nset++] = argv[++i];
      else
        resume = argv[++i];
    } else if (!strncmp(a, "--set=", 6))
      sets[nset++] = (char *)a + 6;
    else if (!strncmp(a, "--resume=", 9))
      resume = a + 9;
    else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "hpsweep train: unknown option '%s' (see 'hpsweep train --help')\n", a);
      rc = 2;
      goto done;
    } else if (!path)
      path = a;
    else {
      fprintf(stderr, "hpsweep train: more than one config file ('%s' and '%s')\n", path, a);
      rc = 2;
      goto done;
    }
  }
  TrConfig cfg;
  if ((rc = hps_config_from_args(&cfg, path, nset, sets, "train"))) goto done;

  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
  FILE *logf = json ? stderr : stdout;
  TrRunHooks hooks = {0};
  hooks.on_log = log_line;
  hooks.ud = logf;
  hooks.stop = &stop_flag;
  hooks.resume_path = resume;
  TrRunResult res;
  TrErr err = {0};
  if (tr_run(&cfg, &hooks, &res, &err)) {
    fprintf(stderr, "hpsweep train: %s\n", err.msg);
    rc = 2;
    goto done;
  }
  if (json) {
    char buf[2048];
    tr_run_result_json(&res, buf, sizeof buf);
    printf("%s\n", buf);
  } else {
    printf("\n%s after %lld steps, %lld tokens, %.1f s (%.0f tokens/s)\n", tr_run_status_name(res.status),
           (long long)res.steps, (long long)res.tokens, res.wall_seconds, res.tokens_per_second);
    if (res.reason[0]) printf("reason:           %s\n", res.reason);
    printf("best val loss:    %.4f (step %lld)\n", res.best_val_loss, (long long)res.best_step);
    printf("final val loss:   %.4f\n", res.final_val_loss);
    printf("final train loss: %.4f\n", res.final_train_loss);
    if (isfinite(res.entropy_floor))
      printf("entropy floor:    %.4f (best possible loss on the synthetic corpus)\n", res.entropy_floor);
    if (res.checkpoint[0]) printf("checkpoint:       %s\n", res.checkpoint);
  }
  rc = res.status == TR_RUN_COMPLETED ? 0 : res.status == TR_RUN_INTERRUPTED ? 130 : 1;
done:
  free(sets);
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
