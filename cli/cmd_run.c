/*
** cmd_run.c: `hpsweep run SPEC.yaml [-j N] [--db FILE] [--threads N] [--quiet] [--replace]`:
** expand a spec into the database and train its trials, N at a time, each in
** its own process. Ctrl-C stops cleanly; the same command resumes.
*/
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
#include "sw_propose.h"
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
    "A bayes sweep (method: bayes) records no trial up front: each is proposed\n"
    "from the results so far when a worker is free, up to run_cap trials, and the\n"
    "proposals of several runners never repeat one another (docs/search.md).\n"
    "\n"
    "A sweep name means one experiment: a spec that changes the meaning of a\n"
    "sweep already in the database (metric, goal, method, task, parameters,\n"
    "seeds, base config) is refused with what differs. Give it a new name, or\n"
    "--replace to delete the old sweep's trials, metrics, events and checkpoints\n"
    "and start afresh.\n"
    "\n"
    "A spec with hpsweep.lr_find runs its LR range test on the base config first\n"
    "(or finds it in the database: a resume never runs it again) and sweeps\n"
    "optimizer.lr over factor x its suggestion (docs/spec.md).\n"
    "\n"
    "options:\n"
    "  -j, --jobs N     trials at once (default: the spec's hpsweep.workers, else 1)\n"
    "  --db FILE        results database, a file or a postgresql:// URL (default: $HPSWEEP_DB,\n"
    "                   else the spec's hpsweep.db, else hpsweep.db beside the spec)\n"
    "  --threads N      threads per trial, OpenBLAS's and the kernels' one pool\n"
    "                   (default: hpsweep.threads_per_trial)\n"
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

/* One `hpsweep run`: its options and what it prepared for the scheduler. */
typedef struct Run {
  const char *path, *db_opt;
  long jobs, threads;
  int quiet, replace;
  SwSpec *spec;
  SwTrial *trials;
  size_t n;
  SwProposer *proposer; /* method bayes: trials are proposed as workers free up */
  RsStore *st;
  SwProgress *prog;
  const char *db, *name, *sample_ckpt;
  char runs[TR_PATH_MAX];
  int64_t sweep_id;
  int maximize;
} Run;

static int run_parse(Run *r, int argc, char **argv) {
  const HpsOpt opts[] = {HPS_OPT_INT("--jobs", "-j", &r->jobs, 1, 1024), HPS_OPT_STRING("--db", NULL, &r->db_opt),
                         HPS_OPT_INT("--threads", NULL, &r->threads, 1, 1024),
                         HPS_OPT_FLAG("--quiet", "-q", &r->quiet), HPS_OPT_FLAG("--replace", NULL, &r->replace),
                         HPS_OPT_END};
  if (hps_opts_parse(argc, argv, opts, &r->path, 1)) return 2;
  if (!r->path) return hps_error_usage("run", "missing SPEC.yaml");
  return 0;
}

/* Load and expand the spec, record its trials in the store (after --replace or
** the same-experiment check), and make the progress view. 0, or the exit status. */
static int run_prepare(Run *r, TrErr *err) {
  if (sw_spec_load(&r->spec, r->path, err)) {
    hps_error("run", "%s", err->msg);
    return 2;
  }
  if (!r->quiet)
    for (size_t i = 0; i < sw_spec_notice_count(r->spec); i++) hps_error("run", "%s", sw_spec_notice(r->spec, i));
  if (sw_spec_task(r->spec) == SW_TASK_SAMPLE) {
    r->sample_ckpt = sw_spec_checkpoint(r->spec);
    if (!r->sample_ckpt || !*r->sample_ckpt) {
      hps_error("run", "%s: a task: sample sweep needs hpsweep.checkpoint", r->path);
      return 2;
    }
  }
  r->db = r->db_opt ? r->db_opt : hps_db_default(sw_spec_db(r->spec));
  r->name = sw_spec_name(r->spec);
  int lrf = sw_spec_lr_find(r->spec) != NULL; /* its range test goes in the database, before any trial */
  if (lrf && rs_store_open(r->db, RS_OPEN_CREATE, &r->st, err)) {
    hps_error("run", "%s", err->msg);
    return 2;
  }
  int status = lrf ? hps_lr_grid(r->spec, r->st, 1, r->quiet ? NULL : stderr, "run") : 0;
  if (status) return status;
  int bayes = sw_spec_method(r->spec) == SW_METHOD_BAYES;
  if (bayes ? sw_proposer_create(&r->proposer, r->spec, err) : sw_expand(r->spec, &r->trials, &r->n, err)) {
    hps_error("run", "%s", err->msg);
    return 2;
  }
  if (!lrf && rs_store_open(r->db, RS_OPEN_CREATE, &r->st, err)) {
    hps_error("run", "%s", err->msg);
    return 2;
  }
  if (sw_sched_runs_dir(r->db, r->name, r->runs, sizeof r->runs)) {
    hps_error("run", "%s: path too long", r->db);
    return 2;
  }
  int64_t n_old = 0;
  size_t n_new = 0;
  if (r->replace ? sw_sweep_replace(r->st, r->name, r->runs, &n_old, err)
                 : sw_sweep_check(r->st, r->db, r->spec, r->trials, r->n, err)) {
    hps_error("run", "%s", err->msg);
    return 2;
  }
  if (r->replace && !r->quiet)
    hps_error("run", "--replace: deleted sweep '%s' (%lld trials) and %s", r->name, (long long)n_old, r->runs);
  if (sw_sched_prepare(r->st, r->spec, r->trials, r->n, &r->sweep_id, &n_new, err)) {
    hps_error("run", "%s", err->msg);
    return 2;
  }
  if (!r->jobs) r->jobs = sw_spec_workers(r->spec);
  if (!r->threads) r->threads = sw_spec_threads_per_trial(r->spec);
  r->maximize = sw_spec_goal(r->spec) == SW_GOAL_MAXIMIZE;
  if (!r->quiet && bayes)
    hps_error("run", "sweep '%s': bayes (%s), up to %lld trials proposed as workers free up, %ld at a time x %ld "
              "thread%s, db %s", r->name, sw_sampler_name(sw_spec_sampler(r->spec)),
              (long long)sw_proposer_cap(r->proposer), r->jobs, r->threads > 0 ? r->threads : 0,
              r->threads == 1 ? "" : "s", r->db);
  else if (!r->quiet)
    hps_error("run", "sweep '%s': %zu trials (%zu new), %ld at a time x %ld thread%s, db %s", r->name, r->n, n_new,
              r->jobs, r->threads > 0 ? r->threads : 0, r->threads == 1 ? "" : "s", r->db);
  int live = !r->quiet && isatty(STDERR_FILENO);
  if (!r->quiet && sw_progress_create(&r->prog, stderr, live, 0, r->name, sw_spec_metric(r->spec), (int)r->jobs)) {
    hps_error("run", "out of memory");
    return 2;
  }
  return 0;
}

/* Train the trials with Ctrl-C and SIGTERM asking the workers to stop. 0 or 1. */
/* clients/python (the wandb shim, hpsweep_client) for this binary: HPSWEEP_CLIENTS_DIR, else
** the source tree when it runs from its build directory, else the installed copy. */
static const char *clients_python(char *buf, size_t n) {
  const char *dir = getenv("HPSWEEP_CLIENTS_DIR");
  char exe[TR_PATH_MAX];
  ssize_t k = readlink("/proc/self/exe", exe, sizeof exe - 1);
  exe[k > 0 ? k : 0] = '\0';
  if (!dir || !*dir)
    dir = strncmp(exe, HPS_BUILD_ROOT "/", strlen(HPS_BUILD_ROOT) + 1) == 0 || access(HPS_CLIENTS_INSTALLED, F_OK) != 0
              ? HPS_CLIENTS_DIR
              : HPS_CLIENTS_INSTALLED;
  snprintf(buf, n, "%s/python", dir);
  return buf;
}

static int run_trials(Run *r, SwSchedStats *stats, TrErr *err) {
  struct sigaction sa, old_int, old_term;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, &old_int);
  sigaction(SIGTERM, &sa, &old_term);
  SwSchedConfig cfg = {r->db, r->sweep_id, r->trials, r->n, sw_spec_metric(r->spec), r->maximize, (int)r->jobs,
                       (int)r->threads, 1 + sw_spec_max_retries(r->spec), 0, r->runs, NULL, r->sample_ckpt,
                       &stop_requests, r->prog ? sw_progress_event : NULL, r->prog, NULL,
                       sw_spec_early_terminate(r->spec), r->proposer,
                       sw_spec_pbt(r->spec)->enabled ? r->spec : NULL};
  SwSchedProgram pg;
  char shim[TR_PATH_MAX];
  if (sw_spec_program(r->spec)) { /* a program sweep: the spec says how each trial runs */
    pg.path = sw_spec_program(r->spec);
    pg.command = sw_spec_command(r->spec, &pg.n_command);
    pg.sweep = r->name;
    pg.pythonpath = sw_spec_wandb_shim(r->spec) ? clients_python(shim, sizeof shim) : NULL;
    pg.max_seconds = sw_spec_max_seconds(r->spec);
    pg.resumes = sw_spec_program_resumes(r->spec);
    cfg.program = &pg;
  }
  rs_store_close(r->st); /* no SQLite handle may be open across the scheduler's forks */
  r->st = NULL;
  int rc = sw_sched_run(&cfg, stats, err);
  sigaction(SIGINT, &old_int, NULL);
  sigaction(SIGTERM, &old_term, NULL);
  sw_progress_clear(r->prog);
  if (rc) { /* one line: the runner stopped its workers, their trials are interrupted where the store allowed */
    hps_error("run", "%s (stopped; run the same command again to resume once that is fixed)", err->msg);
    return 1;
  }
  return 0;
}

/* The summary, from the database: other runners' trials count too. The exit status. Patient: a
** PostgreSQL server restarting as the last trial ends is waited out, as the workers wait. */
static int run_summary(Run *r, const SwSchedStats *stats) {
  RsCounts c;
  TrErr err2;
  if (rs_store_open(r->db, RS_OPEN_EXISTING | RS_OPEN_PATIENT, &r->st, &err2)) {
    hps_error("run", "%s", err2.msg);
    return 1;
  }
  if (rs_sweep_counts(r->st, r->sweep_id, &c)) {
    hps_error("run", "%s", rs_store_errmsg(r->st));
    return 1;
  }
  printf("sweep %s: %lld trials:", r->name, (long long)c.total);
  const char *sep = " ";
  for (int s = 0; s < RS_STATUS_COUNT; s++)
    if (c.n[s]) {
      printf("%s%lld %s", sep, (long long)c.n[s], rs_status_name((RsStatus)s));
      sep = ", ";
    }
  printf(" (%d run here in %.1f s)\n", stats->started, stats->wall_seconds);
  int bidx;
  char params[2048];
  double best;
  if (best_trial(r->st, r->sweep_id, r->maximize, &bidx, params, sizeof params, &best))
    printf("best: trial %d, %s %.6g, %s\n", bidx, sw_spec_metric(r->spec), best, params);
  if (stats->stopped)
    printf("stopped: run the same command again to resume (interrupted trials continue from their checkpoint)\n");
  printf("see: hpsweep top %s --db %s\n", r->name, r->db);
  return (stats->stopped || c.n[RS_FAILED] || c.n[RS_INTERRUPTED] || c.n[RS_PENDING] || c.n[RS_PAUSED]) ? 1 : 0;
}

static int run_main(int argc, char **argv) {
  hps_cpu_notice(); /* HPSWEEP_CPU ignored: say it once */
  Run r = {0};
  int status = run_parse(&r, argc, argv);
  if (status) return status;
  TrErr err;
  tr_err_clear(&err);
  SwSchedStats stats;
  status = run_prepare(&r, &err);
  if (!status) status = run_trials(&r, &stats, &err);
  if (!status) status = run_summary(&r, &stats);
  sw_progress_destroy(r.prog);
  rs_store_close(r.st);
  sw_trials_free(r.trials, r.n);
  sw_proposer_destroy(r.proposer);
  sw_spec_destroy(r.spec);
  return status;
}

const HpsCmd hps_cmd_run = {"run", run_main, "run a sweep: train its trials in parallel, resumable", usage};
