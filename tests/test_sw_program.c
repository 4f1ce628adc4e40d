/*
** test_sw_program.c: program sweeps end to end (`hpsweep run` on a spec with
** `program:`): shell and standard-library Python programs written into a temp dir.
** CI has python3 (no torch, no wandb): without python3 the Python tests skip only
** when CI is unset.
*/
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hps_test.h"
#include "tr_os.h"

static char tmpdir[128];
static void setup(void) { hps_tmp_make(tmpdir, sizeof tmpdir, "hps_sw_program_"); }
static void teardown(void) { hps_tmp_remove(tmpdir); }
TestSuite(sw_program, .init = setup, .fini = teardown, .timeout = 120);

static void put_exec(const char *name, const char *text) {
  const char *p = hps_put(tmpdir, name, text);
  cr_assert_eq(chmod(p, 0755), 0, "chmod %s", p);
}

/* python3 on PATH; else skip (outside CI) or fail (in CI). */
static int have_python(void) {
  if (system("python3 -c 'import json' >/dev/null 2>&1") == 0) return 1;
  cr_assert_null(getenv("CI"), "python3 is required in CI");
  return 0;
}

static sqlite3 *db_open(void) {
  char p[PATH_MAX + 32];
  snprintf(p, sizeof p, "%s/hpsweep.db", tmpdir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(p, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  return db;
}

/* The trial idx's error text (static buffer; "" when none). */
static const char *trial_error(sqlite3 *db, int idx) {
  static char buf[4096];
  sqlite3_stmt *s;
  char sql[128];
  snprintf(sql, sizeof sql, "SELECT coalesce(error, '') FROM trials WHERE idx = %d", idx);
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  buf[0] = '\0';
  if (sqlite3_step(s) == SQLITE_ROW) snprintf(buf, sizeof buf, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return buf;
}

/* A shell program reporting through the protocol: loss = (lr - 0.1)^2 + 1/(step+1), two steps. */
static const char report_sh[] =
    "#!/bin/sh\n"
    "lr=; for a in \"$@\"; do case $a in --lr=*) lr=${a#--lr=};; esac; done\n"
    "echo \"args: $*\"\n"
    "for s in 0 1; do\n"
    "  v=$(awk -v lr=$lr -v s=$s 'BEGIN { printf \"%.6f\", (lr - 0.1) ^ 2 + 1 / (s + 1) }')\n"
    "  echo \"{\\\"step\\\": $s, \\\"loss\\\": $v}\" >&$HPSWEEP_METRICS_FD\n"
    "done\n"
    "echo \"$HPSWEEP_TRIAL_ID $HPSWEEP_ATTEMPT $OMP_NUM_THREADS $HPSWEEP_RUN_DIR\" > \"$HPSWEEP_RUN_DIR/env.txt\"\n";

Test(sw_program, a_grid_of_a_shell_program_completes_and_top_ranks_it) {
  put_exec("report.sh", report_sh);
  hps_put(tmpdir, "s.yaml", "program: report.sh\ncommand: [\"${program}\", \"${args}\"]\nmethod: grid\n"
          "metric: {name: loss, goal: minimize}\nparameters:\n  lr: {values: [0.3, 0.1, 0.0]}\n  tag: {value: x y}\n");
  char out[16384];
  int st = hps_run(tmpdir, "run s.yaml -j 2", out, sizeof out);
  cr_assert_eq(st, 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 3);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics WHERE name = 'loss'"), 6);
  cr_expect_eq(hps_q_int(db, "SELECT idx FROM trials ORDER BY best_metric LIMIT 1"), 1, "lr 0.1 is best");
  cr_expect_eq(hps_q_int(db, "SELECT max(attempts) FROM trials"), 1, "each trial ran once");
  sqlite3_close(db);
  cr_assert_eq(hps_run(tmpdir, "top s", out, sizeof out), 0, "%s", out);
  char *one = strstr(out, "\n   1 "); /* the rank-1 row: trial 2, lr 0.1 */
  cr_assert_not_null(one, "%s", out);
  char *eol = strchr(one + 1, '\n');
  cr_assert_not_null(eol);
  *eol = '\0';
  cr_expect(strstr(one, " 2  0.1 "), "rank 1 is trial 2 (lr 0.1): %s", one);
  /* ${args} values arrive as W&B formats them (one argv element with a space), env and run dir too. */
  char log[PATH_MAX + 300];
  snprintf(log, sizeof log, "cat %s/hpsweep.db.runs/s/*/run.log %s/hpsweep.db.runs/s/*/env.txt > %s/all.txt", tmpdir,
           tmpdir, tmpdir);
  cr_assert_eq(system(log), 0);
  snprintf(log, sizeof log, "%s/all.txt", tmpdir);
  char *all = hps_slurp(log, NULL);
  cr_expect(strstr(all, "args: --lr=0.3 --tag=x y"), "%s", all);
  cr_expect(strstr(all, " 1 1 /"), "trial, attempt 1, 1 thread, absolute run dir: %s", all);
  cr_expect(strstr(all, "/hpsweep.db.runs/s/"), "%s", all);
  free(all);
}

/* One trial of the shell program SCRIPT (spec: metric loss, no retries, EXTRA hpsweep keys);
** `hpsweep run` must exit WANT. The database, open. */
static sqlite3 *run_one(const char *script, const char *extra, int want) {
  put_exec("prog.sh", script);
  char spec[512];
  snprintf(spec, sizeof spec, "program: prog.sh\ncommand: [\"${program}\"]\nmethod: grid\nmetric: {name: loss}\n"
           "parameters:\n  a: {values: [1]}\nhpsweep: {max_retries: 0%s}\n", extra);
  hps_put(tmpdir, "s.yaml", spec);
  char out[8192];
  cr_expect_eq(hps_run(tmpdir, "run s.yaml", out, sizeof out), want, "%s", out);
  return db_open();
}

Test(sw_program, exit_zero_without_the_metric_fails_with_that_reason) {
  sqlite3 *db = run_one("#!/bin/sh\necho '{\"other\": 1}' >&$HPSWEEP_METRICS_FD\nexit 0\n", "", 1);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'failed'"), 1);
  cr_expect(strstr(trial_error(db, 0), "metric never reported (loss)"), "%s", trial_error(db, 0));
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics WHERE name = 'other'"), 1);
  sqlite3_close(db);
}

/* show on a program's trial: its params are its configuration (the trainer's defaults stored
** with the row mean nothing for it), and it has no token count. */
Test(sw_program, show_prints_a_program_trials_params_not_the_trainers_defaults) {
  sqlite3 *db = run_one("#!/bin/sh\necho '{\"step\": 3, \"loss\": 0.25}' >&3\n", "", 0);
  sqlite3_close(db);
  char out[16384];
  cr_assert_eq(hps_run(tmpdir, "show 1", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "params    a=1"), "%s", out);
  cr_expect(strstr(out, "its params above are its whole configuration"), "%s", out);
  cr_expect(strstr(out, " - tokens"), "%s", out);
  cr_expect_null(strstr(out, "d_model"), "%s", out);
}

Test(sw_program, a_non_zero_exit_fails_with_the_code_and_the_output_tail) {
  sqlite3 *db = run_one("#!/bin/sh\necho 'loading data'\necho 'Traceback: boom' >&2\nexit 3\n", "", 1);
  const char *e = trial_error(db, 0);
  cr_expect(strstr(e, "exit code 3") && strstr(e, "Traceback: boom") && strstr(e, "loading data"), "%s", e);
  sqlite3_close(db);
  char out[8192];
  cr_assert_eq(hps_run(tmpdir, "show 1", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "/run.log (last 10 lines)") && strstr(out, "  | Traceback: boom"), "show prints the log: %s", out);
}

Test(sw_program, a_program_over_its_time_limit_is_stopped_and_fails_with_timeout) {
  sqlite3 *db = run_one("#!/bin/sh\necho '{\"loss\": 1}' >&$HPSWEEP_METRICS_FD\nsleep 30 &\nwait\n",
                        ", max_seconds_per_trial: 0.5", 1);
  cr_expect(strstr(trial_error(db, 0), "timeout"), "%s", trial_error(db, 0));
  sqlite3_close(db);
  /* the group went with it: no `sleep 30` is left in this test's session (not any `sleep 30`
  ** on the machine: another job's would fail the test) */
  char cmd[PATH_MAX + 64];
  snprintf(cmd, sizeof cmd, "pgrep -s 0 -f '^sleep 30$' >/dev/null");
  cr_expect_neq(system(cmd), 0, "an orphaned sleep survived");
}

Test(sw_program, a_non_finite_sweep_metric_is_diverged) {
  sqlite3 *db = run_one("#!/bin/sh\necho '{\"loss\": NaN}' >&$HPSWEEP_METRICS_FD\n", "", 0);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'diverged'"), 1);
  sqlite3_close(db);
}

/* An unmodified W&B-style script: import wandb (the shim), init/config/log/summary/finish. */
static const char wandb_py[] =
    "import argparse\n"
    "import wandb\n"
    "run = wandb.init(project='p', config={'lr': 0.5, 'epochs': 2})\n"
    "cfg = wandb.config\n"
    "for epoch in range(cfg.epochs):\n"
    "    loss = (cfg.lr - 0.01) ** 2 + 1.0 / (epoch + 1) + cfg['batch'] * 1e-4\n"
    "    wandb.log({'val_loss': loss, 'epoch': epoch})\n"
    "run.summary['final'] = loss\n"
    "wandb.finish()\n";

Test(sw_program, an_unmodified_wandb_script_runs_through_the_shim) {
  if (!have_python()) return;
  hps_put(tmpdir, "train.py", wandb_py);
  hps_put(tmpdir, "s.yaml", "program: train.py\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"
          "parameters:\n  lr: {values: [0.01, 0.1]}\n  batch: {values: [16, 32]}\n"
          "hpsweep: {seeds: [1], seed_arg: seed}\n");
  char out[16384];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml -j 2", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 4);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics WHERE name = 'val_loss'"), 8, "2 epochs x 4 trials");
  cr_expect_eq(hps_q_int(db, "SELECT idx FROM trials ORDER BY best_metric LIMIT 1"), 0, "lr 0.01, batch 16");
  sqlite3_close(db);
}

/* HPSWEEP_CLIENTS_DIR names the clients/ whose python/ goes first on PYTHONPATH (an installed
** or relocated copy); the shim found there is the one the program imports. */
Test(sw_program, hpsweep_clients_dir_chooses_the_shim_a_program_imports) {
  if (!have_python()) return;
  hps_put(tmpdir, "train.py", "import os, wandb\nos.environ['HPSWEEP_METRICS_FD']\nwandb.mark()\n");
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/alt/python/wandb", tmpdir);
  cr_assert_eq(tr_mkdirs(path), 0);
  hps_put(tmpdir, "alt/python/wandb/__init__.py",
          "import json, os\n"
          "def mark():\n"
          "    with os.fdopen(int(os.environ['HPSWEEP_METRICS_FD']), 'w') as f:\n"
          "        f.write(json.dumps({'loss': 7.0}) + '\\n')\n");
  hps_put(tmpdir, "s.yaml", "program: train.py\nmethod: grid\nmetric: {name: loss}\nparameters:\n  a: {value: 1}\n");
  char out[8192];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml", out, sizeof out), 1, "the source tree's shim has no mark(): %s", out);
  snprintf(path, sizeof path, "%s/alt", tmpdir);
  setenv("HPSWEEP_CLIENTS_DIR", path, 1);
  int rc = hps_run(tmpdir, "run s.yaml --replace", out, sizeof out);
  unsetenv("HPSWEEP_CLIENTS_DIR");
  cr_assert_eq(rc, 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics WHERE name = 'loss' AND value = 7"), 1);
  sqlite3_close(db);
}

/* n runners started at once on one spec and database: each trial runs exactly once. */
static void runners_share(int n, int trials) {
  if (!have_python()) return;
  hps_put(tmpdir, "p.py", "import json, os, time\n"
          "f = os.fdopen(int(os.environ['HPSWEEP_METRICS_FD']), 'w')\n"
          "time.sleep(0.2)\n"
          "f.write(json.dumps({'loss': float(json.loads(os.environ['HPSWEEP_PARAMS_JSON'])['x'])}) + '\\n')\n");
  char spec[512];
  int k = snprintf(spec, sizeof spec, "program: p.py\nmethod: grid\nmetric: {name: loss}\nparameters:\n  x: {values: [");
  for (int i = 0; i < trials; i++) k += snprintf(spec + k, sizeof spec - (size_t)k, "%s%d", i ? ", " : "", i + 1);
  snprintf(spec + k, sizeof spec - (size_t)k, "]}\n");
  hps_put(tmpdir, "s.yaml", spec);
  char cmd[PATH_MAX * 8];
  k = snprintf(cmd, sizeof cmd, "cd '%s' && (", tmpdir);
  for (int i = 0; i < n; i++) k += snprintf(cmd + k, sizeof cmd - (size_t)k, "'%s' run s.yaml -q & ", hps_bin());
  snprintf(cmd + k, sizeof cmd - (size_t)k, "wait) >/dev/null 2>&1");
  cr_expect_neq(system(cmd), -1);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), trials);
  cr_expect_eq(hps_q_int(db, "SELECT max(attempts) FROM trials"), 1, "no trial ran twice");
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics WHERE name = 'loss'"), trials);
  cr_expect_eq(hps_q_int(db, "SELECT count(DISTINCT worker) FROM trials"), n, "every runner took a share");
  sqlite3_close(db);
}

Test(sw_program, two_runners_on_one_database_run_each_trial_once) { runners_share(2, 6); }
Test(sw_program, four_runners_on_one_database_run_each_trial_once) { runners_share(4, 20); }

Test(sw_program, check_prints_the_exact_command_lines_of_the_first_trials) {
  put_exec("report.sh", report_sh);
  hps_put(tmpdir, "s.yaml", "program: report.sh\ncommand: [\"${program}\", \"${args_no_hyphens}\", \"${args_json}\"]\n"
          "method: grid\nmetric: {name: loss}\nparameters:\n  lr: {values: [100.0, 1e-5]}\n  on: {value: true}\n");
  char out[16384];
  cr_assert_eq(hps_run(tmpdir, "check s.yaml", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "report.sh lr=100.0 on=True '{\"lr\": 100.0, \"on\": true}'"), "%s", out);
  cr_expect(strstr(out, "report.sh lr=1e-05 on=True '{\"lr\": 1e-05, \"on\": true}'"), "%s", out);
  cr_expect(strstr(out, "valid: nothing was run"), "%s", out);
}

Test(sw_program, bad_metric_lines_are_counted_as_events_and_do_not_stop_the_trial) {
  sqlite3 *db = run_one("#!/bin/sh\ni=0\nwhile [ $i -lt 2000 ]; do echo 'not json' >&3; i=$((i+1)); done\n"
                        "echo '{\"loss\": \"str\", \"x\": 1}' >&3\necho '{\"step\": 5, \"loss\": 0.5}' >&3\n", "", 0);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 1);
  cr_expect_eq(hps_q_int(db, "SELECT step FROM metrics WHERE name = 'loss'"), 5);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'protocol'"), 6, "counts + 5 messages");
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'protocol' AND message LIKE "
                             "'%2002 lines, 2 rows, 2000 bad lines%'"), 1);
  sqlite3_close(db);
}

/* `hpsweep run s.yaml -q [-j JOBS]` in tmpdir, in the background, output discarded; with
** own_group in a process group of its own (its pid), so kill(-pid) takes runner and workers. */
static pid_t runner_start(int own_group, const char *lease, const char *jobs) {
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    if (own_group) setpgid(0, 0);
    if (chdir(tmpdir) != 0) _exit(99);
    int nul = open("/dev/null", O_RDWR);
    dup2(nul, 0), dup2(nul, 1), dup2(nul, 2);
    if (lease) setenv("HPS_LEASE_SECONDS", lease, 1);
    execl(hps_bin(), "hpsweep", "run", "s.yaml", "-q", "-j", jobs ? jobs : "1", (char *)NULL);
    _exit(98);
  }
  return pid;
}

/* Poll the shell test `cond` (with %s for tmpdir) every 50 ms, for at most `tries` times. */
static int wait_until(const char *cond, int tries) {
  char cmd[PATH_MAX + 256];
  snprintf(cmd, sizeof cmd, cond, tmpdir);
  for (int i = 0; i < tries; i++) {
    if (system(cmd) == 0) return 1;
    usleep(50000);
  }
  return 0;
}

/* pgrep -f PATTERN finds a process. */
static int running(const char *pattern) {
  char cmd[512];
  snprintf(cmd, sizeof cmd, "pgrep -f '%s' >/dev/null", pattern);
  return system(cmd) == 0;
}

Test(sw_program, kill_9_of_the_runner_leaves_no_program_and_a_resume_completes_each_trial) {
  put_exec("long.sh", "#!/bin/sh\necho '{\"loss\": 1}' >&3\ntouch \"$HPSWEEP_RUN_DIR/started.$HPSWEEP_ATTEMPT\"\n"
           "[ \"$HPSWEEP_ATTEMPT\" = 1 ] && sleep 60\necho '{\"loss\": 0.5}' >&3\n");
  hps_put(tmpdir, "s.yaml", "program: long.sh\ncommand: [\"${program}\"]\nmethod: grid\nmetric: {name: loss}\n"
          "parameters:\n  a: {values: [1, 2]}\n");
  pid_t pid = runner_start(0, NULL, "2");
  cr_assert(wait_until("ls %s/hpsweep.db.runs/s/*/started.1 2>/dev/null | wc -l | grep -q 2", 200),
            "both programs started");
  char pat[256];
  snprintf(pat, sizeof pat, "%s/[l]ong.sh", tmpdir); /* [l]: not matching the shell running pgrep */
  cr_assert(running(pat));
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  int gone = 0;
  for (int i = 0; i < 100 && !(gone = !running(pat)); i++) usleep(50000);
  cr_expect(gone, "no program outlives its runner");
  char out[8192];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml -j 2", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 2"), 2);
  sqlite3_close(db);
  cr_expect(wait_until("ls %s/hpsweep.db.runs/s/*/started.2 | wc -l | grep -q 2", 1),
            "attempt 2 ran once per trial, in the same run directory");
}

/* The first number in the file NAME of the run directory of the trial with parameter a = A. */
static long run_file_of(sqlite3 *db, int a, const char *name) {
  char sql[128], path[PATH_MAX + 128];
  snprintf(sql, sizeof sql, "SELECT hash FROM trials WHERE params = '{\"a\": %d}'", a);
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
  snprintf(path, sizeof path, "%s/hpsweep.db.runs/s/%s/%s", tmpdir, (const char *)sqlite3_column_text(s, 0), name);
  sqlite3_finalize(s);
  char *text = hps_slurp(path, NULL);
  cr_assert_not_null(text, "%s", path);
  long v = atol(text);
  free(text);
  return v;
}

/* One worker process serves a slot's program trials in turn; killed in the middle of one, that
** trial fails (and its retry runs it again, with a new worker), the others ran once each. */
Test(sw_program, a_serving_worker_killed_mid_trial_fails_that_trial_only_and_a_new_worker_serves_on) {
  put_exec("w.sh", "#!/bin/sh\necho $PPID > \"$HPSWEEP_RUN_DIR/worker.$HPSWEEP_ATTEMPT\"\n"
           "if [ \"$1\" = --a=3 ] && [ \"$HPSWEEP_ATTEMPT\" = 1 ]; then kill -9 $PPID; sleep 30; fi\n"
           "echo '{\"loss\": 1}' >&3\n");
  hps_put(tmpdir, "s.yaml", "program: w.sh\ncommand: [\"${program}\", \"${args}\"]\nmethod: grid\n"
          "metric: {name: loss}\nparameters:\n  a: {values: [1, 2, 3, 4, 5, 6]}\nhpsweep: {max_retries: 1}\n");
  char out[16384];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml -j 1", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 6, "%s", out);
  cr_expect_eq(hps_q_int(db, "SELECT attempts * 10 + failures FROM trials WHERE params = '{\"a\": 3}'"), 21,
               "the killed trial failed once and ran again");
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE attempts = 1 AND failures = 0"), 5,
               "the others ran once");
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics"), 6, "one row per completed run");
  long first = run_file_of(db, 1, "worker.1");
  cr_expect_eq(run_file_of(db, 2, "worker.1"), first, "one worker served trials 1 to 3");
  cr_expect_eq(run_file_of(db, 3, "worker.1"), first);
  long next = run_file_of(db, 4, "worker.1");
  cr_expect_neq(next, first, "a new worker after the kill");
  cr_expect_eq(run_file_of(db, 5, "worker.1"), next, "which serves the rest");
  cr_expect_eq(run_file_of(db, 3, "worker.2"), next, "the retry too");
  sqlite3_close(db);
}

static int alive(pid_t pid);

/* Ctrl-C (SIGINT to the runner) while two serving workers run programs and trials are left:
** those two are interrupted (no failure), nothing more starts, no program stays, and the next
** run resumes exactly those with attempt 2. */
Test(sw_program, sigint_stops_the_serving_workers_programs_as_interrupted_and_a_rerun_resumes_them) {
  put_exec("nap.sh", "#!/bin/sh\necho $$ > \"$HPSWEEP_RUN_DIR/pid.$HPSWEEP_ATTEMPT\"\n"
           "touch \"$HPSWEEP_RUN_DIR/started.$HPSWEEP_ATTEMPT\"\n"
           "case \"$1\" in --a=3|--a=4) [ \"$HPSWEEP_ATTEMPT\" = 1 ] && exec sleep 60;; esac\n"
           "echo '{\"loss\": 1}' >&3\n");
  hps_put(tmpdir, "s.yaml", "program: nap.sh\ncommand: [\"${program}\", \"${args}\"]\nmethod: grid\n"
          "metric: {name: loss}\nparameters:\n  a: {values: [1, 2, 3, 4, 5, 6]}\n");
  pid_t pid = runner_start(0, NULL, "2");
  cr_assert(wait_until("ls %s/hpsweep.db.runs/s/*/started.1 2>/dev/null | wc -l | grep -q 4", 200),
            "trials 1 and 2 ran, 3 and 4 started");
  kill(pid, SIGINT);
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  sqlite3 *db = db_open();
  cr_expect_not(alive((pid_t)run_file_of(db, 3, "pid.1")), "no program outlives the Ctrl-C");
  cr_expect_not(alive((pid_t)run_file_of(db, 4, "pid.1")));
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 2);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'interrupted' AND failures = 0"), 2);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pending'"), 2, "nothing more started");
  sqlite3_close(db);
  char out[8192];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml -j 2", out, sizeof out), 0, "%s", out);
  db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 6, "%s", out);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE attempts = 2 AND params IN ('{\"a\": 3}', "
                             "'{\"a\": 4}')"), 2, "the interrupted ones ran again, attempt 2");
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE attempts = 1"), 4);
  sqlite3_close(db);
}

/* The number in the file NAME of the (only) trial's run directory. */
static long run_dir_int(const char *name) {
  char cmd[PATH_MAX + 64], out[64];
  snprintf(cmd, sizeof cmd, "cat %s/hpsweep.db.runs/s/*/%s", tmpdir, name);
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 0, "%s", cmd);
  return atol(out);
}

/* pid is a live process (not a zombie waiting for its parent to reap it). */
static int alive(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = '\0';
  const char *p = strrchr(buf, ')');
  return p && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

/* The whole runner (coordinator and workers) dies at once; its program's group member and a
** process that left the group (setsid) survive it. The next runner reclaims the trial and
** kills both before the trial runs again. */
Test(sw_program, a_reclaiming_runner_kills_what_a_dead_runners_program_left_behind) {
  put_exec("left.sh", "#!/bin/sh\necho '{\"loss\": 1}' >&3\n"
           "if [ \"$HPSWEEP_ATTEMPT\" = 1 ]; then\n"
           "  sleep 3171 >/dev/null 2>&1 3>&- &\n  echo $! > \"$HPSWEEP_RUN_DIR/member\"\n"
           "  setsid sleep 3172 >/dev/null 2>&1 3>&- &\n  echo $! > \"$HPSWEEP_RUN_DIR/escaped\"\n"
           "  sleep 60 >/dev/null 2>&1 3>&- &\n  touch \"$HPSWEEP_RUN_DIR/started\"; wait\nfi\necho '{\"loss\": 0.5}' >&3\n");
  hps_put(tmpdir, "s.yaml", "program: left.sh\ncommand: [\"${program}\"]\nmethod: grid\nmetric: {name: loss}\n"
          "parameters:\n  a: {value: 1}\n");
  pid_t pid = runner_start(1, "2", NULL); /* runner and workers: one group, killed at once below */
  cr_assert(wait_until("ls %s/hpsweep.db.runs/s/*/started >/dev/null 2>&1", 200), "the program started");
  kill(-pid, SIGKILL);
  waitpid(pid, NULL, 0);
  /* By pid, not by name: the same test may run in another checkout at the same time. */
  pid_t member = (pid_t)run_dir_int("member"), escaped = (pid_t)run_dir_int("escaped");
  cr_assert(alive(member), "a member of the program's group outlived the runner");
  cr_assert(alive(escaped), "a process that left the group outlived the runner");
  char out[8192];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml", out, sizeof out), 0, "%s", out);
  cr_expect_not(alive(member), "the leftover group member was killed");
  cr_expect_not(alive(escaped), "the setsid leftover was killed");
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 2"), 1);
  /* 3: the two sleeps and the program's `sleep 60` (a member of its group; all forked before `started`). */
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'leftover' AND message LIKE 'killed 3 %'"), 1);
  sqlite3_close(db);
}

/* A program that checkpoints into HPSWEEP_RUN_DIR and resumes from it keeps the rows its
** earlier attempt reported: the worker marks the stored rows as kept (at most once a second). */
Test(sw_program, a_resumed_program_keeps_the_rows_its_earlier_attempt_reported) {
  put_exec("ck.sh", "#!/bin/sh\nstart=0\n[ -f \"$HPSWEEP_RUN_DIR/ck\" ] && start=$(($(cat \"$HPSWEEP_RUN_DIR/ck\") + 1))\n"
           "i=$start\nwhile [ $i -lt 10 ]; do\n  echo \"{\\\"step\\\": $i, \\\"loss\\\": $i}\" >&3\n"
           "  if [ $i = 5 ] && [ \"$HPSWEEP_ATTEMPT\" = 1 ]; then echo 5 > \"$HPSWEEP_RUN_DIR/ck\"; "
           "touch \"$HPSWEEP_RUN_DIR/paused\"; sleep 60; fi\n"
           "  [ $i = 4 ] && sleep 1.2\n  i=$((i+1))\ndone\n");
  hps_put(tmpdir, "s.yaml", "program: ck.sh\ncommand: [\"${program}\"]\nmethod: grid\nmetric: {name: loss}\n"
          "parameters:\n  a: {value: 1}\n");
  pid_t pid = runner_start(0, NULL, NULL);
  cr_assert(wait_until("ls %s/hpsweep.db.runs/s/*/paused >/dev/null 2>&1", 300), "the program reached step 5");
  kill(pid, SIGKILL); /* its worker stops the program; the trial is interrupted */
  waitpid(pid, NULL, 0);
  char out[8192];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 2"), 1);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics WHERE name = 'loss'"), 10, "steps 0..9, none lost");
  cr_expect_eq(hps_q_int(db, "SELECT sum(step) FROM metrics WHERE name = 'loss' AND step = value"), 45);
  sqlite3_close(db);
}

/* ---- examples/pytorch: CI has no torch, so it checks what can be checked without it ---- */

Test(sw_program, the_pytorch_example_sweep_passes_check_with_a_python3_that_cannot_import_torch) {
  /* The only python3 on PATH fails on anything: check must not run the program or need torch. */
  put_exec("python3", "#!/bin/sh\necho \"ModuleNotFoundError: No module named 'torch'\" >&2\nexit 1\n");
  char cmd[PATH_MAX * 3], out[16384], want[PATH_MAX + 128];
  snprintf(cmd, sizeof cmd, "cd '%s' && PATH='%s' '%s' check '%s/examples/pytorch/sweep.yaml' 2>&1", tmpdir, tmpdir,
           hps_bin(), HPS_SOURCE_ROOT);
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "trials:      9 = 9 configurations"), "%s", out);
  cr_expect(strstr(out, "wandb shim:  on"), "%s", out);
  snprintf(want, sizeof want, "/usr/bin/env python3 %s/examples/pytorch/train.py --batch_size=16 --lr=0.001\n",
           HPS_SOURCE_ROOT);
  cr_expect(strstr(out, want), "want %s in %s", want, out);
}

Test(sw_program, the_pytorch_example_parses_and_names_what_is_missing_without_torch) {
  if (!have_python()) return;
  /* -S: no site-packages, so no torch even where it is installed; the script must still parse
  ** and stop with a message naming the interpreter, not a traceback. */
  char cmd[PATH_MAX * 2], out[8192];
  snprintf(cmd, sizeof cmd, "env -u PYTHONPATH python3 -S '%s/examples/pytorch/train.py' 2>&1", HPS_SOURCE_ROOT);
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 1, "%s", out);
  cr_expect(strstr(out, "train.py needs PyTorch, which ") && strstr(out, "cannot import"), "%s", out);
  cr_expect(!strstr(out, "Traceback"), "%s", out);
}

/* A Python program of `steps` steps: loss = x + 1/(step+1), one value per step, `pause` s
** after each; SIGTERM makes it write "sigterm" into its run dir and exit; with `resume` it
** keeps its last step in HPSWEEP_RUN_DIR/state.json and starts after it ("resumed" logged). */
static void put_stepper(int steps, double pause) {
  char py[2048];
  snprintf(py, sizeof py,
           "import json, os, signal, sys, time\n"
           "f = os.fdopen(int(os.environ['HPSWEEP_METRICS_FD']), 'w')\n"
           "d = os.environ['HPSWEEP_RUN_DIR']\n"
           "x = float(json.loads(os.environ['HPSWEEP_PARAMS_JSON'])['x'])\n"
           "stop = []\n"
           "signal.signal(signal.SIGTERM, lambda *a: stop.append(1))\n"
           "state = os.path.join(d, 'state.json')\n"
           "start = json.load(open(state))['step'] + 1 if os.path.exists(state) else 0\n"
           "if start: open(os.path.join(d, 'resumed'), 'a').write('%%d\\n' %% start)\n"
           "for s in range(start, %d):\n"
           "    if stop: break\n"
           "    f.write(json.dumps({'step': s, 'loss': x + 1.0 / (s + 1)}) + '\\n'); f.flush()\n"
           "    json.dump({'step': s}, open(state + '.tmp', 'w')); os.replace(state + '.tmp', state)\n"
           "    time.sleep(%g)\n"
           "if stop: open(os.path.join(d, 'sigterm'), 'a').write('1\\n')\n",
           steps, pause);
  hps_put(tmpdir, "p.py", py);
}

/* Lines of the files named NAME under the sweep's run directories. */
static long count_lines(const char *name) {
  char cmd[PATH_MAX + 128], out[64];
  snprintf(cmd, sizeof cmd, "find '%s/hpsweep.db.runs' -name '%s' -exec cat {} + | wc -l", tmpdir, name);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  cr_assert_not_null(fgets(out, sizeof out, p));
  pclose(p);
  return atol(out);
}

Test(sw_program, wandb_hyperband_stops_a_losing_program_with_sigterm_and_records_it_pruned) {
  if (!have_python()) return;
  put_stepper(10, 0.05);
  /* -j 1, best first: x = 2.. lose at band 2 against the trials before them (threshold 1.5). */
  hps_put(tmpdir, "s.yaml", "program: p.py\nmethod: grid\nmetric: {name: loss}\n"
          "early_terminate: {type: hyperband, min_iter: 2, eta: 2}\n"
          "parameters:\n  x: {values: [0, 1, 2, 3, 4, 5]}\n");
  char out[16384];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml -j 1", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND idx < 2 AND steps = 10"), 2);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND idx >= 2 AND rung = 2"), 4, "%s",
               out);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE "
                             "t.status = 'pruned' AND m.step > 1"), 0, "rows after the decision are not kept");
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'prune'"), 4);
  sqlite3_close(db);
  cr_expect_eq(count_lines("sigterm"), 4, "each pruned program got SIGTERM and could stop by itself");
}

Test(sw_program, asha_pauses_a_program_that_resumes_and_a_promotion_continues_from_its_run_dir) {
  if (!have_python()) return;
  put_stepper(9, 0.1);
  hps_put(tmpdir, "s.yaml", "program: p.py\nmethod: grid\nmetric: {name: loss}\n"
          "parameters:\n  x: {values: [0, 3, 1, 4, 2, 5, 6, 7, 8]}\n"
          "hpsweep:\n  program_resumes: true\n"
          "  early_terminate: {type: asha, grace_period: 1, max_t: 9, reduction_factor: 3}\n");
  char out[16384];
  cr_assert_eq(hps_run(tmpdir, "run s.yaml -j 2", out, sizeof out), 0, "%s", out);
  sqlite3 *db = db_open();
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status IN ('completed', 'pruned')"), 9, "%s", out);
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND steps = 9"), 1, "%s", out);
  long long promotions = hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'promote'");
  cr_expect_geq(promotions, 4, "3 of 9 from rung 1, 1 of those 3 from rung 3");
  cr_expect_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE attempts != 1 + (SELECT count(*) FROM events "
                             "WHERE trial_id = t.id AND kind = 'promote')"), 0);
  cr_expect_eq(hps_q_int(db, "SELECT max(step) FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE "
                             "t.status = 'completed'"), 8);
  sqlite3_close(db);
  cr_expect_eq(count_lines("resumed"), promotions, "every promotion resumed the program from its own state");
}
