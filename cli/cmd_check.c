/*
** cmd_check.c: `hpsweep check SPEC.yaml`: load, expand and validate a sweep
** spec, print what would run, run nothing. Exit 0 valid, 2 invalid.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rs_store.h"
#include "sw_command.h"
#include "sw_expand.h"
#include "sw_gp.h"
#include "sw_prune.h"
#include "sw_sched.h"
#include "sw_space.h"
#include "sw_spec.h"
#include "sw_tpe.h"
#include "tr_alloc.h"
#include "tr_mem.h"

#define CHECK_LIST_ALL 50   /* list every trial up to this many */
#define CHECK_LIST_SAMPLE 20 /* else list the first this many */
#define CHECK_COMMANDS 3     /* command lines shown for a program spec */
#define CHECK_PROPOSALS 5    /* bayes: the first proposals' seeds shown */

/* The largest trial's memory estimate, and workers of them at once, against the
** memory available. Returns 2 (message on stderr) when one trial cannot fit. */
static int check_memory(const SwSpec *s, const SwTrial *t, size_t n) {
  if (sw_spec_task(s) == SW_TASK_SAMPLE) {
    printf("memory:      not estimated (a sample task runs the checkpoint's model)\n");
    return 0;
  }
  TrMemEstimate big = {0}, e;
  size_t at = 0;
  int threads = 1;
  TrErr err;
  tr_err_clear(&err);
  for (size_t i = 0; i < n; i++) {
    if (tr_mem_estimate(&t[i].config, 0, &e, &err)) {
      fprintf(stderr, "hpsweep check: trial %zu: %s\n", t[i].index, err.msg);
      return 2;
    }
    if (e.total > big.total) big = e, at = i;
    if (tr_config_threads(&t[i].config) > threads) threads = tr_config_threads(&t[i].config);
  }
  TrMemAvail av;
  tr_mem_available(&av, threads);
  int j = sw_spec_workers(s);
  uint64_t all = big.total * (uint64_t)(j > 0 ? j : 1);
  char desc[256], sum[32], have[32];
  tr_mem_describe(&big, desc, sizeof desc);
  tr_mem_format(all, sum, sizeof sum);
  tr_mem_format(av.bytes, have, sizeof have);
  printf("memory:      largest trial %zu: %s\n", t[at].index, desc);
  printf("             %d worker%s x largest = %s; %s available (%s)\n", j, j == 1 ? "" : "s", sum, have,
         av.source);
  if (tr_mem_check(&big, &av, &err)) {
    fprintf(stderr, "hpsweep check: trial %zu: %s\n", t[at].index, err.msg);
    return 2;
  }
  if (all > av.bytes)
    fprintf(stderr, "hpsweep check: %d workers of the largest trial need %s, %s available (%s): "
            "trials that do not fit when they start fail; lower hpsweep.workers or run with -j\n",
            j, sum, have, av.source);
  return 0;
}

/* A program spec: the program, and the exact command line of the first trials
** (args.json is not written: ${args_json_file} shows the path it will have). */
static int check_program(const SwSpec *s, const SwTrial *t, size_t n) {
  size_t nc;
  const char *const *cmd = sw_spec_command(s, &nc);
  char runs[4096], dir[4200], note[256];
  printf("program:     %s\n", sw_spec_program(s));
  printf("wandb shim:  %s\n", sw_spec_wandb_shim(s) ? "on" : "off");
  if (sw_spec_max_seconds(s) > 0) printf("time limit:  %g s per trial\n", sw_spec_max_seconds(s));
  if (sw_command_lint(cmd, nc, note, sizeof note)) hps_error("check", "warning: %s", note);
  if (sw_sched_runs_dir(sw_spec_db(s), sw_spec_name(s), runs, sizeof runs)) {
    hps_error("check", "%s: path too long", sw_spec_db(s));
    return 2;
  }
  for (size_t i = 0; i < n && i < CHECK_COMMANDS; i++) {
    snprintf(dir, sizeof dir, "%s/%s", runs, t[i].hash_hex);
    SwCommandIn in = {cmd, nc, sw_spec_program(s), NULL, t[i].params_json, dir, 1};
    char **argv = NULL;
    size_t argc = 0;
    TrErr err;
    tr_err_clear(&err);
    if (sw_command_build(&in, &argv, &argc, &err)) {
      hps_error("check", "trial %zu: %s", t[i].index, err.msg);
      return 2;
    }
    char *line = sw_command_display(argv);
    sw_command_free(argv);
    if (!line) {
      hps_error("check", "out of memory");
      return 2;
    }
    printf("%s %4zu  %s\n", i ? "            " : "command:    ", t[i].index, line);
    free(line);
  }
  return 0;
}

#define CHECK_LEVELS 64

/* "a, b, c" of levels into buf. */
static void levels_text(const int64_t *v, size_t n, char *buf, size_t cap) {
  size_t off = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < n && off < cap; i++)
    off += (size_t)snprintf(buf + off, cap - off, "%s%lld", i ? ", " : "", (long long)v[i]);
}

/* W&B's bands: iterations are values of the metric; for the trainer also as steps. */
static void print_bands(const SwSpec *s, const SwEarlyTerminate *et, const TrConfig *c) {
  int64_t b[CHECK_LEVELS];
  size_t n = sw_prune_levels(et, 0, b, CHECK_LEVELS);
  int64_t every = c ? sw_spec_metric_every(s, c) : 0, total = c ? tr_config_total_steps(c) : 0;
  char text[512];
  printf("early stop:  W&B hyperband, eta %g, strict %s%s\n", et->eta, et->strict ? "true" : "false",
         et->max_iter ? "" : " (bands from min_iter)");
  if (every > 0 && total > 0) {
    int64_t values = (total + every - 1) / every; /* the last step logs too */
    size_t k = 0;
    while (k < n && b[k] <= values) k++;
    levels_text(b, k, text, sizeof text);
    printf("             bands (values of %s): %s%s\n", sw_spec_metric(s), k ? text : "none",
           k < n ? " (later ones lie past the end)" : "");
    for (size_t i = 0; i < k && i < 8; i++)
      printf("             band %lld = step %lld\n", (long long)b[i],
             (long long)(b[i] * every < total ? b[i] * every : total));
    if (k == 0) printf("             a trial logs %lld values: no band applies, nothing is stopped\n", (long long)values);
  } else {
    levels_text(b, n < 8 ? n : 8, text, sizeof text);
    printf("             bands (values of %s reported): %s%s\n", sw_spec_metric(s), text, n > 8 ? ", ..." : "");
  }
  printf("             at each new value a running trial is stopped when its %s is above the value\n"
         "             at index int(n/%g) of the sorted band values of the n trials that reached the band\n",
         et->strict ? "value at the band" : "best value so far", et->eta);
}

/* ASHA and hyperband brackets: the rungs of each bracket, in steps. */
static void print_rungs(const SwEarlyTerminate *et) {
  int nb = sw_prune_brackets(et);
  char text[512];
  if (et->type == SW_ET_ASHA)
    printf("early stop:  asha, grace_period %lld, max_t %lld, reduction_factor %g, brackets %d, promotions %s\n",
           (long long)et->grace_period, (long long)et->max_t, et->eta, et->brackets, et->promotions ? "on" : "off");
  else
    printf("early stop:  hyperband brackets, grace_period %lld, max_t %lld, reduction_factor %g: s_max %d, "
           "%d brackets (trial index mod %d)\n", (long long)et->grace_period, (long long)et->max_t, et->eta,
           nb - 1, nb, nb);
  for (int b = 0; b < nb && b < 16; b++) {
    int64_t r[CHECK_LEVELS];
    size_t n = sw_prune_levels(et, b, r, CHECK_LEVELS);
    levels_text(r, n, text, sizeof text);
    printf("             bracket %d rungs (steps): %s -> %lld\n", b, n ? text : "none", (long long)et->max_t);
  }
  if (et->type == SW_ET_ASHA && et->promotions)
    printf("             a trial pauses at each rung (checkpointed); a free worker resumes the best paused\n"
           "             trial in the top 1/%g of the highest rung, else starts a new configuration\n", et->eta);
  else
    printf("             a trial reaching a rung goes on only in the top 1/%g of its bracket's trials there\n",
           et->eta);
}

/* The early-termination rule, and what it means in steps (c: the first trial's config, NULL for programs). */
static void print_early_stop(const SwSpec *s, const TrConfig *c) {
  const SwEarlyTerminate *et = sw_spec_early_terminate(s);
  switch (et->type) {
  case SW_ET_WANDB: print_bands(s, et, c); break;
  case SW_ET_ASHA:
  case SW_ET_HYPERBAND: print_rungs(et); break;
  case SW_ET_MEDIAN:
    printf("early stop:  median, n_startup_trials %lld, n_warmup_steps %lld, interval_steps %lld\n"
           "             once %lld trials completed, a trial whose best %s so far is worse than the median of\n"
           "             the completed trials' values at the same step stops\n",
           (long long)et->n_startup_trials, (long long)et->n_warmup_steps, (long long)et->interval_steps,
           (long long)(et->n_startup_trials ? et->n_startup_trials : 1), sw_spec_metric(s));
    break;
  default: return;
  }
  if (c && sw_spec_et_varies(s)) printf("             (steps as in trial 0: the parameters change them)\n");
}

/* Population-based training: the population, the schedule of decisions and what mutates. */
static void print_pbt(const SwSpec *s, const TrConfig *c) {
  const SwPbt *p = sw_spec_pbt(s);
  char desc[512];
  if (!p->enabled) return;
  int64_t total = c ? tr_config_total_steps(c) : 0, k = total > 0 ? (total - 1) / p->interval : 0;
  printf("pbt:         population-based training: %lld members (random search's draw), decided every %lld "
         "steps\n", (long long)p->population, (long long)p->interval);
  if (!sw_spec_program(s)) printf("             (%lld decision%s in %lld steps),", (long long)k, k == 1 ? "" : "s",
                                  (long long)total);
  printf("%squantile %g, resample %g, factors %g / %g\n", sw_spec_program(s) ? "             " : " ", p->quantile,
         p->resample, p->factors[0], p->factors[1]);
  if (sw_spec_program(s))
    printf("             a program member runs to HPSWEEP_STOP_STEP; one in the bottom %g takes a copy of the run\n"
           "             directory of one in the top %g, then resumes with explored parameters\n", p->quantile,
           p->quantile);
  else
    printf("             a member in the bottom %g copies the checkpoint (weights, optimizer state) of one in\n"
           "             the top %g, then explores; members wait at each step for those behind them\n",
           p->quantile, p->quantile);
  for (size_t i = 0; i < p->n_mutations; i++) {
    sw_param_describe(&p->mutations[i].p, desc, sizeof desc);
    printf("  mutates    %-28s %s%s\n", p->mutations[i].p.key->name, desc,
           p->mutations[i].own ? " (its own; starts at the base's value)" : "");
  }
}

/* Name, method, metric, trial count, seeds, early stopping, task and workers. */
static void print_sweep(const SwSpec *s, const SwTrial *t, size_t n) {
  size_t nseeds;
  const int64_t *seeds = sw_spec_seeds(s, &nseeds);
  double target;
  printf("sweep:       %s\n", sw_spec_name(s));
  if (*sw_spec_description(s)) printf("description: %s\n", sw_spec_description(s));
  printf("method:      %s", sw_method_name(sw_spec_method(s)));
  if (sw_spec_method(s) == SW_METHOD_RANDOM) printf(" (seed %llu)", (unsigned long long)sw_spec_seed(s));
  if (sw_spec_method(s) == SW_METHOD_BAYES)
    printf(" (sampler %s, seed %llu)", sw_sampler_name(sw_spec_sampler(s)), (unsigned long long)sw_spec_seed(s));
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
  print_early_stop(s, sw_spec_program(s) || n == 0 || !t ? NULL : &t[0].config);
  print_pbt(s, n == 0 || !t ? NULL : &t[0].config);
  if (!sw_spec_program(s)) printf("task:        %s\n", sw_task_name(sw_spec_task(s)));
  printf("workers:     %d x %d threads, max_retries %d\n", sw_spec_workers(s), sw_spec_threads_per_trial(s),
         sw_spec_max_retries(s));
}

/* The database, spec hash, parameters and the trial list. */
static void print_trials(const SwSpec *s, const SwTrial *t, size_t n) {
  char hash[17], desc[512];
  sw_sweep_hash(s, t, n, hash);
  /* Every path the spec names, as resolved against its directory (docs/spec.md). */
  if (sw_spec_base_file(s)) printf("base:        %s\n", sw_spec_base_file(s));
  if (*sw_spec_checkpoint(s)) printf("checkpoint:  %s\n", sw_spec_checkpoint(s));
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
}

/* Method bayes: the model, the space as it sees it, and the first proposals' seeds; the
** proposals made before any result (random start-up points) as trials in *t (n). */
static int check_bayes_space(const SwSpec *s, SwTrial **t, size_t *n) {
  SwSpace sp;
  TrErr err;
  tr_err_clear(&err);
  if (sw_space_init(&sp, s, &err)) {
    hps_error("check", "%s", err.msg);
    return 2;
  }
  int tpe = sw_spec_sampler(s) == SW_SAMPLER_TPE;
  size_t startup = tpe ? SW_TPE_STARTUP : SW_GP_MIN_RESULTS, nc = sw_spec_config_count(s), per = 1, k, m = 0;
  double imp, *u = tr_malloc(startup * sp.n * sizeof *u);
  SwValue *v = tr_malloc(sp.n_params * sizeof *v);
  SwObs *prev = tr_malloc(startup * sizeof *prev); /* the earlier start-up points, as the models see them */
  sw_spec_seeds(s, &per);
  per = per ? per : 1;
  *t = tr_calloc(startup * per, sizeof **t);
  if (tpe)
    printf("model:       TPE (Optuna's: multivariate, constant liar, %d start-up trials, %d candidates)\n",
           SW_TPE_STARTUP, SW_TPE_CANDIDATES);
  else
    printf("model:       Gaussian process (W&B's: Matern 1.5, expected improvement over %d candidates)\n",
           SW_GP_CANDIDATES);
  if (sw_spec_impute(s, &imp)) printf("impute:      failed trials count as %s = %g\n", sw_spec_metric(s), imp);
  else printf("impute:      failed trials count as the worst %s seen\n", sw_spec_metric(s));
  printf("space:       %zu dimensions in [0, 1], as the model sees them:\n", sp.n);
  for (size_t d = 0; d < sp.n; d++) {
    char desc[512], tr[512];
    sw_param_describe(sp.all[sp.param[d]], desc, sizeof desc);
    sw_space_describe(sp.all[sp.param[d]], tr, sizeof tr);
    printf("  %-28s %s\n  %-28s %s\n", sp.all[sp.param[d]]->key->name, desc, "", tr);
  }
  printf("proposals:   seeded by (sweep seed, configuration); before any result they are random:\n");
  int rc = u && v && prev && *t ? 0 : 2;
  if (rc) hps_error("check", "out of memory");
  for (k = 0; rc == 0 && k < nc && k < (startup > CHECK_PROPOSALS ? startup : CHECK_PROPOSALS); k++) {
    uint64_t seed = sw_space_seed(sw_spec_seed(s), k);
    if (k >= startup) {
      if (k < CHECK_PROPOSALS) printf("  %4zu  seed %016llx  (from the model)\n", k, (unsigned long long)seed);
      continue;
    }
    TrRng r;
    tr_rng_seed(&r, seed);
    sw_space_random_fresh(&sp, &r, prev, k, &u[k * sp.n]);
    prev[k] = (SwObs){&u[k * sp.n], NAN, 0, SW_OBS_RUNNING};
    sw_space_decode(&sp, &u[k * sp.n], v);
    SwTrial *one = NULL;
    size_t no = 0;
    if (sw_expand_values(s, v, k, &one, &no, &err)) {
      hps_error("check", "%s", err.msg);
      rc = 2;
      break;
    }
    printf("  %4zu  seed %016llx  %s\n", k, (unsigned long long)seed, one[0].params_json);
    memcpy(*t + m, one, no * sizeof *one);
    m += no;
    free(one);
  }
  *n = m;
  free(u);
  free(v);
  free(prev);
  sw_space_free(&sp);
  return rc;
}

/* check of a bayes spec: no trial list exists; the space and the start-up trials instead. */
static int check_bayes(const SwSpec *s) {
  SwTrial *t = NULL;
  size_t n = 0;
  print_sweep(s, NULL, sw_spec_trial_count(s)); /* no trial list: proposed one at a time */
  int rc = check_bayes_space(s, &t, &n);
  if (rc == 0 && n) rc = sw_spec_program(s) ? check_program(s, t, n) : check_memory(s, t, n);
  if (rc == 0) printf("valid: nothing was run (`hpsweep run` proposes the rest as workers free up)\n");
  sw_trials_free(t, n);
  return rc;
}

/* hpsweep.lr_find: the values it resolves to, from the range test in the spec's database (read
** only), else run now (progress on stderr) and not stored: check writes nothing. */
static int check_lr_find(SwSpec *s) {
  if (!sw_spec_lr_find(s)) return 0;
  RsStore *st = NULL;
  TrErr err = {0};
  if (access(sw_spec_db(s), F_OK) == 0 && rs_store_open(sw_spec_db(s), RS_OPEN_READONLY, &st, &err))
    return hps_fail("check", &err);
  int rc = hps_lr_grid(s, st, 0, stdout, "check");
  rs_store_close(st);
  return rc;
}

static int check_main(int argc, char **argv) {
  const char *path = NULL;
  const HpsOpt opts[] = {HPS_OPT_END};
  if (hps_opts_parse(argc, argv, opts, &path, 1)) return 2;
  if (!path) return hps_error_usage("check", "missing SPEC.yaml");
  TrErr err;
  tr_err_clear(&err);
  SwSpec *s = NULL;
  if (sw_spec_load(&s, path, &err)) {
    hps_error("check", "%s", err.msg);
    return 2;
  }
  for (size_t i = 0; i < sw_spec_notice_count(s); i++) hps_error("check", "%s", sw_spec_notice(s, i));
  int lrc = check_lr_find(s);
  if (lrc) {
    sw_spec_destroy(s);
    return lrc;
  }
  if (sw_spec_method(s) == SW_METHOD_BAYES) {
    int brc = check_bayes(s);
    sw_spec_destroy(s);
    return brc;
  }
  SwTrial *t = NULL;
  size_t n = 0;
  int rc = 2;
  if (sw_expand(s, &t, &n, &err)) {
    hps_error("check", "%s", err.msg);
  } else {
    print_sweep(s, t, n);
    if ((sw_spec_program(s) ? check_program(s, t, n) : check_memory(s, t, n)) == 0) {
      print_trials(s, t, n);
      printf("valid: nothing was run\n");
      rc = 0;
    }
  }
  sw_trials_free(t, n);
  sw_spec_destroy(s);
  return rc;
}

const HpsCmd hps_cmd_check = {
    "check", check_main, "validate a sweep spec and list its trials (runs nothing)",
    "usage: hpsweep check SPEC.yaml\n"
    "\n"
    "Load a sweep spec (Weights & Biases sweep syntax plus an hpsweep: block), expand it into\n"
    "trials and validate every trial's training config, before any compute. Prints notices,\n"
    "then the sweep's name, method, metric, the number of trials (configurations x seeds),\n"
    "the parameters with their values or distributions, and the trials (all of them up to 50,\n"
    "else the first 20), and the memory the largest trial needs (hpsweep.workers of them\n"
    "at once) against the memory available. Nothing runs. For a spec with a `program`, it\n"
    "checks the program (exists, runs: executable, or its interpreter on PATH) and the command's\n"
    "macros, and prints the exact command line of the first trials instead of the memory.\n"
    "For method bayes (docs/search.md) there is no trial list: it prints the model, each\n"
    "parameter's transform to the model's [0, 1], and the first proposals' seeds and start-up\n"
    "configurations.\n"
    "An early-termination rule is shown with its bands (W&B) or rungs (per bracket), eta,\n"
    "strict, and the steps they fall at; see docs/early-termination.md.\n"
    "\n"
    "Exit status: 0 the spec is valid; 2 it is not (one line on stderr: FILE:LINE:COL: message).\n"};
