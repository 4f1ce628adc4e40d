/*
** cmd_check.c: `hpsweep check SPEC.yaml`: load, expand and validate a sweep
** spec, print what would run, run nothing. Exit 0 valid, 2 invalid.
*/
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "sw_expand.h"
#include "sw_spec.h"

#define CHECK_LIST_ALL 50   /* list every trial up to this many */
#define CHECK_LIST_SAMPLE 20 /* else list the first this many */

static int check_main(int argc, char **argv) {
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) {
      if (i + 1 < argc && !path) path = argv[++i];
      if (i + 1 < argc) {
        fprintf(stderr, "hpsweep check: one spec at a time (extra argument '%s')\n", argv[i + 1]);
        return 2;
      }
      break;
    }
    if (argv[i][0] == '-' && argv[i][1]) {
      fprintf(stderr, "hpsweep check: unknown option '%s' (see 'hpsweep check --help')\n", argv[i]);
      return 2;
    }
    if (path) {
      fprintf(stderr, "hpsweep check: one spec at a time (extra argument '%s')\n", argv[i]);
      return 2;
    }
    path = argv[i];
  }
  if (!path) {
    fprintf(stderr, "hpsweep check: missing SPEC.yaml (see 'hpsweep check --help')\n");
    return 2;
  }
  TrErr err;
  tr_err_clear(&err);
  SwSpec *s = NULL;
  if (sw_spec_load(&s, path, &err)) {
    fprintf(stderr, "hpsweep check: %s\n", err.msg);
    return 2;
  }
  for (size_t i = 0; i < sw_spec_notice_count(s); i++) fprintf(stderr, "hpsweep check: %s\n", sw_spec_notice(s, i));
  SwTrial *t = NULL;
  size_t n = 0;
  if (sw_expand(s, &t, &n, &err)) {
    fprintf(stderr, "hpsweep check: %s\n", err.msg);
    sw_spec_destroy(s);
    return 2;
  }
  size_t nseeds;
  const int64_t *seeds = sw_spec_seeds(s, &nseeds);
  double target;
  char hash[17], desc[512];
  sw_trials_hash(t, n, hash);
  printf("sweep:       %s\n", sw_spec_name(s));
  if (*sw_spec_description(s)) printf("description: %s\n", sw_spec_description(s));
  printf("method:      %s", sw_method_name(sw_spec_method(s)));
  if (sw_spec_method(s) == SW_METHOD_RANDOM) printf(" (seed %llu)", (unsigned long long)sw_spec_seed(s));
  printf("\nmetric:      %s (%s", sw_spec_metric(s), sw_goal_name(sw_spec_goal(s)));
  if (sw_spec_target(s, &target)) printf(", target %g", target);
  printf(")\n");
  printf("trials:      %zu = %zu configurations x %zu seeds\n", n, sw_spec_config_count(s),
         nseeds ? nseeds : 1);
  if (nseeds) {
    printf("seeds:       %s [", sw_spec_seed_key(s));
    for (size_t i = 0; i < nseeds; i++) printf("%s%lld", i ? ", " : "", (long long)seeds[i]);
    printf("]\n");
  }
  const SwEarlyTerminate *et = sw_spec_early_terminate(s);
  if (et->enabled)
    printf("early stop:  hyperband min_iter=%lld max_iter=%lld s=%g eta=%g strict=%s (not yet applied)\n",
           (long long)et->min_iter, (long long)et->max_iter, et->s, et->eta, et->strict ? "true" : "false");
  printf("task:        %s\n", sw_task_name(sw_spec_task(s)));
  printf("workers:     %d x %d threads, max_retries %d\n", sw_spec_workers(s), sw_spec_threads_per_trial(s),
         sw_spec_max_retries(s));
  printf("db:          %s\n", sw_spec_db(s));
  printf("spec hash:   %s\n", hash);
  printf("parameters:\n");
  for (size_t i = 0; i < sw_spec_param_count(s); i++) {
    const SwParam *p = sw_spec_param(s, i);
    sw_param_describe(p, desc, sizeof desc);
    printf("  %-28s %s\n", p->key->name, desc);
  }
  size_t show = n <= CHECK_LIST_ALL ? n : CHECK_LIST_SAMPLE;
  if (show == n)
    printf("trial list:\n");
  else
    printf("trial list (first %zu of %zu):\n", show, n);
  for (size_t i = 0; i < show; i++) printf("  %4zu  %s  %s\n", t[i].index, t[i].hash_hex, t[i].params_json);
  if (show < n) printf("  ... %zu more\n", n - show);
  printf("valid: nothing was run\n");
  sw_trials_free(t, n);
  sw_spec_destroy(s);
  return 0;
}

const HpsCmd hps_cmd_check = {
    "check", check_main, "validate a sweep spec and list its trials (runs nothing)",
    "usage: hpsweep check SPEC.yaml\n"
    "\n"
    "Load a sweep spec (Weights & Biases sweep syntax plus an hpsweep: block), expand it into\n"
    "trials and validate every trial's training config, before any compute. Prints notices,\n"
    "then the sweep's name, method, metric, the number of trials (configurations x seeds),\n"
    "the parameters with their values or distributions, and the trials (all of them up to 50,\n"
    "else the first 20). Nothing runs.\n"
    "\n"
    "Exit status: 0 the spec is valid; 2 it is not (one line on stderr: FILE:LINE:COL: message).\n"};
