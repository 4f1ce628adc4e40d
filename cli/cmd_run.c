/*
** cmd_run.c: `hpsweep run SPEC.yaml [-j N] [--db FILE] [--threads N] [--quiet] [--replace]`:
** expand a spec into the database and train its trials, N at a time, each in
** its own process. Ctrl-C stops cleanly; the same command resumes.
*/
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rs_store.h"
#include "sw_expand.h"
#include "sw_progress.h"
#include "sw_sched.h"
#include "sw_spec.h"
#include "sw_sweep.h"

static const char usage[] =
    "usage: hpsweep run SPEC.yaml [-j N] [--db FILE] [--threads N] [--quiet] [--replace]\n"
    "\n"
    "Check and expand the sweep spec, record its trials in the results database,\n"
    "and train them, N at a time, each in its own worker process. Progress is a\n"
    "live view on a terminal, else one line per trial event.\n"
    "\n"
    "Ctrl-C stops cleanly: running trials save a checkpoint and are marked\n"
    "interrupted (a second Ctrl-C kills them). Running the same command again\n"
    "resumes: completed trials are kept, interrupted ones continue from their\n"
    "checkpoint. Several `hpsweep run` on the same spec and database share the\n"
    "trials; those of a runner that died are taken over when its lease expires\n"
    "(30 s; HPS_LEASE_SECONDS changes it).\n"
    "\n"
    "A sweep name means one experiment: a spec that changes the meaning of a\n"
    "sweep already in the database (metric, goal, method, task, parameters,\n"
    "seeds, base config) is refused with what differs. Give it a new name, or\n"
    "--replace to delete the old sweep's trials, metrics, events and checkpoints\n"
    "and start afresh.\n"
    "\n"
    "options:\n"
    "  -j, --jobs N     trials at once (default: the spec's hpsweep.workers, else 1)\n"
    "  --db FILE        results database (default: the spec's hpsweep.db,\n"
    "                   else hpsweep.db beside the spec)\n"
    "  --threads N      OpenBLAS threads per trial (default: hpsweep.threads_per_trial)\n"
    "  -q, --quiet      no progress, only errors and the summary\n"
    "  --replace        delete the sweep of this name (records and checkpoints) first\n"
    "\n"
    "Checkpoints go to FILE.runs/SWEEP/ beside the database. Exit status: 0 when\n"
    "every trial completed or diverged, 1 if some failed or the run was stopped\n"
    "(by Ctrl-C, or by a database error while it ran: one line says which),\n"
    "2 for a bad spec or database.\n";

static volatile sig_atomic_t stop_requests;
static void on_signal(int sig) {
  (void)sig;
  if (stop_requests < 2) stop_requests++;
}

static int parse_pos(const char *s, int hi, int *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < 1 || v > hi) return -1;
  *out = (int)v;
  return 0;
}

/* The best completed trial: id, params, metric. Returns 1 if there is one. */
static int best_trial(RsStore *st, int64_t sweep_id, int maximize, int *id, char *params, size_t np,
                      double *metric) {
  RsTrial t;
  if (rs_trial_best(st, sweep_id, maximize, RS_STATUS_BIT(RS_COMPLETED), &t) != TR_OK) return 0;
  *id = (int)t.id;
  snprintf(params, np, "%s", t.params ? t.params : "{}");
  *metric = t.best_metric;
  rs_trial_clear(&t);
  return 1;
}

static int run_main(int argc, char **argv) {
  const char *path = NULL, *db_opt = NULL;
  int jobs = 0, threads = 0, quiet = 0, replace = 0;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    const char *val = NULL;
    int which = 0; /* 1 jobs, 2 db, 3 threads */
    if (!strcmp(a, "-j") || !strcmp(a, "--jobs")) which = 1;
    else if (!strcmp(a, "--db")) which = 2;
    else if (!strcmp(a, "--threads")) which = 3;
    else if (!strncmp(a, "--jobs=", 7)) which = 1, val = a + 7;
    else if (!strncmp(a, "-j", 2) && a[2]) which = 1, val = a + 2;
    else if (!strncmp(a, "--db=", 5)) which = 2, val = a + 5;
    else if (!strncmp(a, "--threads=", 10)) which = 3, val = a + 10;
    else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
      quiet = 1;
      continue;
    } else if (!strcmp(a, "--replace")) {
      replace = 1;
      continue;
    } else if (a[0] == '-' && a[1]) {
      fprintf(stderr, "hpsweep run: unknown option '%s' (see 'hpsweep run --help')\n", a);
      return 2;
    } else if (path) {
      fprintf(stderr, "hpsweep run: one spec at a time (extra argument '%s')\n", a);
      return 2;
    } else {
      path = a;
      continue;
    }
    if (!val) {
      if (i + 1 >= argc) {
        fprintf(stderr, "hpsweep run: %s needs a value\n", a);
        return 2;
      }
      val = argv[++i];
    }
    if (which == 2) db_opt = val;
    else if (parse_pos(val, 1024, which == 1 ? &jobs : &threads)) {
      fprintf(stderr, "hpsweep run: %s: '%s' is not a whole number from 1 to 1024\n", a, val);
      return 2;
    }
  }
  if (!path) {
    fprintf(stderr, "hpsweep run: missing SPEC.yaml (see 'hpsweep run --help')\n");
    return 2;
  }

  /* Over `ulimit -f` a write fails with EFBIG and is reported, instead of SIGXFSZ killing us. */
  signal(SIGXFSZ, SIG_IGN);
  TrErr err;
  tr_err_clear(&err);
  SwSpec *spec = NULL;
  if (sw_spec_load(&spec, path, &err)) {
    fprintf(stderr, "hpsweep run: %s\n", err.msg);
    return 2;
  }
  if (!quiet)
    for (size_t i = 0; i < sw_spec_notice_count(spec); i++)
      fprintf(stderr, "hpsweep run: %s\n", sw_spec_notice(spec, i));
  int status = 2;
  SwTrial *trials = NULL;
  size_t n = 0;
  RsStore *st = NULL;
  SwProgress *prog = NULL;
  const char *sample_ckpt = NULL;
  if (sw_spec_task(spec) == SW_TASK_SAMPLE) {
    sample_ckpt = sw_spec_checkpoint(spec);
    if (!sample_ckpt || !*sample_ckpt) {
      fprintf(stderr, "hpsweep run: %s: a task: sample sweep needs hpsweep.checkpoint\n", path);
      goto out;
    }
  }
  if (sw_expand(spec, &trials, &n, &err)) {
    fprintf(stderr, "hpsweep run: %s\n", err.msg);
    goto out;
  }
  const char *db = db_opt ? db_opt : sw_spec_db(spec);
  const char *name = sw_spec_name(spec);
  if (rs_store_open(db, RS_OPEN_CREATE, &st, &err)) {
    fprintf(stderr, "hpsweep run: %s\n", err.msg);
    goto out;
  }
  char runs[TR_PATH_MAX];
  if (sw_sched_runs_dir(db, name, runs, sizeof runs)) {
    fprintf(stderr, "hpsweep run: %s: path too long\n", db);
    goto out;
  }
  int64_t sweep_id = 0, n_old = 0;
  size_t n_new = 0;
  if (replace ? sw_sweep_replace(st, name, runs, &n_old, &err) : sw_sweep_check(st, db, spec, trials, n, &err)) {
    fprintf(stderr, "hpsweep run: %s\n", err.msg);
    goto out;
  }
  if (replace && !quiet)
    fprintf(stderr, "hpsweep run: --replace: deleted sweep '%s' (%lld trials) and %s\n", name, (long long)n_old, runs);
  if (sw_sched_prepare(st, spec, trials, n, &sweep_id, &n_new, &err)) {
    fprintf(stderr, "hpsweep run: %s\n", err.msg);
    goto out;
  }
  if (!jobs) jobs = sw_spec_workers(spec);
  if (!threads) threads = sw_spec_threads_per_trial(spec);
  int maximize = sw_spec_goal(spec) == SW_GOAL_MAXIMIZE;
  if (!quiet)
    fprintf(stderr, "hpsweep run: sweep '%s': %zu trials (%zu new), %d at a time x %d thread%s, db %s\n", name, n,
            n_new, jobs, threads > 0 ? threads : 0, threads == 1 ? "" : "s", db);
  int live = !quiet && isatty(STDERR_FILENO);
  if (!quiet && sw_progress_create(&prog, stderr, live, 0, name, sw_spec_metric(spec), jobs)) {
    fprintf(stderr, "hpsweep run: out of memory\n");
    goto out;
  }

  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  SwSchedConfig cfg = {db, sweep_id, trials, n, sw_spec_metric(spec), maximize, jobs, threads,
                       1 + sw_spec_max_retries(spec), 0, runs, NULL, sample_ckpt, &stop_requests,
                       prog ? sw_progress_event : NULL, prog};
  SwSchedStats stats;
  rs_store_close(st); /* no SQLite handle may be open across the scheduler's forks */
  st = NULL;
  int rc = sw_sched_run(&cfg, &stats, &err);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sw_progress_clear(prog);
  if (rc) { /* one line: the runner stopped its workers, their trials are interrupted where the store allowed */
    fprintf(stderr, "hpsweep run: %s (stopped; run the same command again to resume once that is fixed)\n", err.msg);
    status = 1;
    goto out;
  }

  /* Summary, from the database: other runners' trials count too. */
  RsCounts c;
  TrErr err2;
  if (rs_store_open(db, RS_OPEN_EXISTING, &st, &err2)) {
    fprintf(stderr, "hpsweep run: %s\n", err2.msg);
    status = 1;
    goto out;
  }
  if (rs_sweep_counts(st, sweep_id, &c)) {
    fprintf(stderr, "hpsweep run: %s\n", rs_store_errmsg(st));
    status = 1;
    goto out;
  }
  printf("sweep %s: %lld trials:", name, (long long)c.total);
  const char *sep = " ";
  for (int s = 0; s < RS_STATUS_COUNT; s++)
    if (c.n[s]) {
      printf("%s%lld %s", sep, (long long)c.n[s], rs_status_name((RsStatus)s));
      sep = ", ";
    }
  printf(" (%d run here in %.1f s)\n", stats.started, stats.wall_seconds);
  int bidx;
  char params[2048];
  double best;
  if (best_trial(st, sweep_id, maximize, &bidx, params, sizeof params, &best))
    printf("best: trial %d, %s %.6g, %s\n", bidx, sw_spec_metric(spec), best, params);
  if (stats.stopped)
    printf("stopped: run the same command again to resume (interrupted trials continue from their checkpoint)\n");
  printf("see: hpsweep top %s --db %s\n", name, db);
  status = (stats.stopped || c.n[RS_FAILED] || c.n[RS_INTERRUPTED] || c.n[RS_PENDING]) ? 1 : 0;
out:
  sw_progress_destroy(prog);
  rs_store_close(st);
  sw_trials_free(trials, n);
  sw_spec_destroy(spec);
  return status;
}

const HpsCmd hps_cmd_run = {"run", run_main, "run a sweep: train its trials in parallel, resumable", usage};
