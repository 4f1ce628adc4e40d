/* The scheduler through `hpsweep run` / `hpsweep status`: grids complete once,
** crashes and divergences are recorded, retries, Ctrl-C and resume, several
** runners on one database. Tiny models: every trial trains in well under a second. */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hps_test.h"
#include "sw_gp.h"
#include "sw_propose.h"
#include "sw_prune.h"
#include "sw_sched.h"
#include "tr_os.h"

static char dir[256];

static void setup(void) { hps_tmp_make(dir, sizeof dir, "hps_sched_"); }

static void teardown(void) {
  char cmd[400];
  snprintf(cmd, sizeof cmd, "umount '%s/disk' 2>/dev/null", dir); /* a test's tmpfs, if it failed early */
  if (system(cmd)) { /* not mounted */
  }
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

/* Root-only tests may skip only outside CI (there we run as root: a skip would hide a failure). */
static void need_root(void) {
  if (geteuid() == 0) return;
  cr_assert_null(getenv("CI"), "this test needs root (mount) and CI is set");
  cr_skip_test("needs root (mount -t tmpfs)");
}

static long child_fsize; /* > 0: RLIMIT_FSIZE of the next started hpsweep (bytes) */

TestSuite(sw_sched, .init = setup, .fini = teardown);

static const char *bin(void) {
  const char *b = getenv("HPS_BIN");
  cr_assert_not_null(b, "HPS_BIN is not set (run through meson test)");
  return b;
}

/* A grid over optimizer.lr (values given as YAML) x `seeds` seeds on a tiny model. */
static void write_spec(const char *name, const char *lrs, int seeds, int steps, int log_interval,
                       int max_retries, const char *extra_base) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "name: %s\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"
          "parameters:\n  optimizer.lr:\n    values: %s\n",
          name, lrs);
  if (seeds > 1) {
    fprintf(f, "  train.seed:\n    values: [");
    for (int i = 0; i < seeds; i++) fprintf(f, "%s%d", i ? ", " : "", i + 1);
    fprintf(f, "]\n");
  }
  fprintf(f,
          "hpsweep:\n  workers: 2\n  max_retries: %d\n  base:\n"
          "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
          "    optimizer: {grad_clip: 0}\n"
          "    train: {batch_size: 4, max_steps: %d, eval_interval: 10, eval_batches: 2, log_interval: %d%s}\n",
          max_retries, steps, log_interval, extra_base ? extra_base : "");
  fclose(f);
}

/* Start `hpsweep ARGS...` in dir with extra environment "K=V" entries (NULL-terminated),
** output to dir/<log>. Returns the pid. */
static pid_t start(const char *log, const char *const *env, const char *const *args) {
  const char *exe = bin(); /* in the parent: a cr_assert in the forked child would hang the test */
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0);
    if (chdir(dir) != 0) _exit(127);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
    if (child_fsize > 0) {
      struct rlimit rl = {(rlim_t)child_fsize, (rlim_t)child_fsize};
      if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(127);
    }
    const char *argv[16] = {exe};
    int n = 1;
    for (int i = 0; args[i] && n < 15; i++) argv[n++] = args[i];
    argv[n] = NULL;
    execv(exe, (char **)argv);
    _exit(127);
  }
  return pid;
}

static int wait_exit(pid_t pid) {
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  return WIFEXITED(ws) ? WEXITSTATUS(ws) : 128 + WTERMSIG(ws);
}

static int run(const char *log, const char *const *env, const char *const *args) {
  return wait_exit(start(log, env, args));
}

static sqlite3 *db_open(void) {
  char path[400];
  snprintf(path, sizeof path, "%s/hpsweep.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 10000);
  return db;
}


/* The first column of the first row as text, into buf ("" if none). */
static const char *q_text(sqlite3 *db, const char *sql, char *buf, size_t n) {
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
  buf[0] = '\0';
  if (sqlite3_step(s) == SQLITE_ROW && sqlite3_column_text(s, 0))
    snprintf(buf, n, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  return buf;
}

static long long db_int(const char *sql) {
  sqlite3 *db = db_open();
  long long v = hps_q_int(db, sql);
  sqlite3_close(db);
  return v;
}

/* For polling while a runner creates the file dir/name: -1 when there is no answer yet. */
static long long db_try_int_at(const char *name, const char *sql) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  sqlite3 *db;
  long long v = -1;
  if (access(path, F_OK) != 0 || sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) != SQLITE_OK) return v;
  sqlite3_busy_timeout(db, 10000);
  sqlite3_stmt *s;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
    if (sqlite3_step(s) == SQLITE_ROW) v = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return v;
}

static long long db_try_int(const char *sql) { return db_try_int_at("hpsweep.db", sql); }

static char *slurp(const char *name) {
  static char buf[1 << 18];
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  FILE *f = fopen(path, "r");
  if (!f) return strcpy(buf, "");
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = '\0';
  fclose(f);
  return buf;
}

/* wait_exit, but at most `seconds`: a runner still there then is killed with its
** workers and the test fails (a hang must fail the test, not stall the suite). */
static int wait_exit_within(pid_t pid, double seconds, const char *log) {
  int ws;
  for (double t = 0; t < seconds; t += 0.05) {
    pid_t r = waitpid(pid, &ws, WNOHANG);
    cr_assert(r >= 0);
    if (r == pid) {
      cr_assert(WIFEXITED(ws), "killed by signal %d: %s", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0, slurp(log));
      return WEXITSTATUS(ws);
    }
    struct timespec ts = {0, 50 * 1000000L};
    nanosleep(&ts, NULL);
  }
  kill(-pid, SIGKILL);
  waitpid(pid, &ws, 0);
  cr_assert_fail("hpsweep run did not exit within %.0f s (hangs): %s", seconds, slurp(log));
  return -1;
}

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

Test(sw_sched, runs_dirs_are_one_per_sweep_name) {
  char a[512], b[512], c[512];
  cr_assert_eq(sw_sched_runs_dir("/d/x.db", "a/b", a, sizeof a), TR_OK);
  cr_assert_eq(sw_sched_runs_dir("/d/x.db", "a_b", b, sizeof b), TR_OK);
  cr_expect_str_eq(a, "/d/x.db.runs/a%2Fb");
  cr_expect_str_eq(b, "/d/x.db.runs/a_b");
  cr_assert_eq(sw_sched_runs_dir("x.db", "a%2Fb", c, sizeof c), TR_OK);
  cr_expect_str_eq(c, "./x.db.runs/a%252Fb", "'%%' is escaped too, so no name collides");
  cr_assert_eq(sw_sched_runs_dir("/x.db", "..", c, sizeof c), TR_OK);
  cr_expect_str_eq(c, "/x.db.runs/%2E%2E");
  cr_assert_eq(sw_sched_runs_dir("/x.db", "lr.grid-2", c, sizeof c), TR_OK);
  cr_expect_str_eq(c, "/x.db.runs/lr.grid-2");
  cr_expect_eq(sw_sched_runs_dir("/x.db", "lr_grid", c, 8), TR_EINVAL);
}

Test(sw_sched, grid_of_6_at_j2_completes_each_trial_once_and_a_rerun_does_nothing) {
  write_spec("g6", "[0.001, 0.003, 0.01]", 2, 20, 5, 0, NULL);
  const char *args[] = {"run", "g6.yaml", "-j", "2", NULL};
  cr_assert_eq(run("run1.log", NULL, args), 0, "%s", slurp("run1.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 6, "%s", slurp("run1.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE attempts = 1 AND best_metric IS NOT NULL "
                      "AND final_metric IS NOT NULL AND steps = 20 AND summary IS NOT NULL AND flops > 0"), 6);
  cr_assert_eq(db_int("SELECT count(DISTINCT trial_id) FROM metrics WHERE name = 'val_loss'"), 6);
  cr_assert_eq(db_int("SELECT count(DISTINCT trial_id) FROM metrics WHERE name = 'train_loss'"), 6);
  /* The stored best is the minimum of the stored curve. */
  cr_assert_eq(db_int("SELECT count(*) FROM trials t WHERE best_metric = "
                      "(SELECT min(value) FROM metrics WHERE trial_id = t.id AND name = 'val_loss')"), 6);
  cr_assert(strstr(slurp("run1.log"), "hpsweep top g6"), "%s", slurp("run1.log"));
  long long events = db_int("SELECT count(*) FROM events");

  cr_assert_eq(run("run2.log", NULL, args), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), 6);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 1"), 6);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind IN ('claim', 'resume', 'retry', 'reclaim')"), 6);
  cr_assert_eq(db_int("SELECT count(*) FROM events"), events, "a re-run wrote events: %s", slurp("run2.log"));

  const char *st[] = {"status", "g6", "--db", "hpsweep.db", NULL};
  cr_assert_eq(run("status.log", NULL, st), 0);
  cr_assert(strstr(slurp("status.log"), "6/6 done, 6 completed"), "%s", slurp("status.log"));
  const char *all[] = {"status", NULL};
  cr_assert_eq(run("status_all.log", NULL, all), 0);
  cr_assert(strstr(slurp("status_all.log"), "g6 ["), "%s", slurp("status_all.log"));
}

Test(sw_sched, segfault_and_divergence_are_recorded_while_the_others_complete) {
  /* Trial 1 (lr 100, no clipping) diverges; trial 2's worker segfaults at its first step. */
  write_spec("bad", "[0.001, 100.0, 0.003, 0.01]", 1, 20, 1, 0, NULL);
  const char *env[] = {"HPS_TEST_CRASH=2:11", NULL};
  const char *args[] = {"run", "bad.yaml", NULL};
  cr_assert_eq(run("run.log", env, args), 1, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  char buf[4096];
  cr_assert_str_eq(q_text(db, "SELECT status FROM trials WHERE idx = 1", buf, sizeof buf), "diverged");
  q_text(db, "SELECT error FROM trials WHERE idx = 1", buf, sizeof buf);
  cr_assert(strstr(buf, "step"), "diverged without a reason: '%s'", buf);
  cr_assert_str_eq(q_text(db, "SELECT status FROM trials WHERE idx = 2", buf, sizeof buf), "failed");
  q_text(db, "SELECT error FROM trials WHERE idx = 2", buf, sizeof buf);
  cr_assert(strstr(buf, "signal 11"), "%s", buf);
  cr_assert(strstr(buf, "last log lines:\ntrial 3, attempt 1"), "no log tail in: %s", buf);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE idx IN (0, 3) AND status = 'completed'"), 2);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'fail'"), 1);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'diverge'"), 1);
  sqlite3_close(db);
  cr_assert(strstr(slurp("run.log"), "failed trial 3"), "%s", slurp("run.log")); /* trial id = idx + 1 */
}

Test(sw_sched, max_retries_requeues_a_failed_trial_with_the_same_parameters) {
  /* Trial 1 aborts on its first attempt only: the retry completes it. */
  write_spec("retry", "[0.001, 0.003, 0.01]", 1, 20, 1, 1, NULL);
  const char *env[] = {"HPS_TEST_CRASH=1:6:1", NULL};
  const char *args[] = {"run", "retry.yaml", "-j", "1", NULL};
  cr_assert_eq(run("run.log", env, args), 0, "%s", slurp("run.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 3);
  cr_assert_eq(db_int("SELECT attempts FROM trials WHERE idx = 1"), 2);
  cr_assert_eq(db_int("SELECT count(*) FROM events e JOIN trials t ON t.id = e.trial_id "
                      "WHERE t.idx = 1 AND e.kind = 'retry'"), 1);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'fail'"), 1);

  /* A trial that always crashes stops after 1 + max_retries attempts. */
  write_spec("retry2", "[0.001, 0.003]", 1, 20, 1, 2, NULL);
  const char *env2[] = {"HPS_TEST_CRASH=0:6", NULL};
  const char *args2[] = {"run", "retry2.yaml", NULL};
  cr_assert_eq(run("run2.log", env2, args2), 1, "%s", slurp("run2.log"));
  sqlite3 *db = db_open();
  char buf[2048];
  cr_assert_eq(hps_q_int(db, "SELECT attempts FROM trials t JOIN sweeps s ON s.id = t.sweep_id "
                         "WHERE s.name = 'retry2' AND idx = 0"), 3);
  q_text(db, "SELECT status || ': ' || error FROM trials t JOIN sweeps s ON s.id = t.sweep_id "
             "WHERE s.name = 'retry2' AND idx = 0", buf, sizeof buf);
  cr_assert(strstr(buf, "failed: worker killed by signal 6"), "%s", buf);
  sqlite3_close(db);
}

Test(sw_sched, sigint_leaves_interrupted_trials_that_a_rerun_resumes_from_checkpoints) {
  write_spec("intr", "[0.001, 0.002, 0.003, 0.01]", 1, 80, 1, 0, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=10", NULL};
  const char *args[] = {"run", "intr.yaml", "-j", "2", NULL};
  pid_t pid = start("run1.log", slow, args);
  /* Wait until both first trials have a checkpoint (every eval_interval = 10 steps). */
  int ready = 0;
  for (int i = 0; i < 1000 && !ready; i++) {
    sleep_ms(20);
    ready = db_try_int("SELECT count(*) FROM trials WHERE status = 'running' AND checkpoint_step >= 10") == 2;
  }
  cr_assert(ready, "no running trial reached a checkpoint: %s", slurp("run1.log"));
  kill(pid, SIGINT);
  cr_assert_eq(wait_exit(pid), 1, "%s", slurp("run1.log"));
  cr_assert(strstr(slurp("run1.log"), "run the same command again to resume"), "%s", slurp("run1.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'interrupted' AND checkpoint_step > 0"), 2,
               "%s", slurp("run1.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'running'"), 0);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 0);

  cr_assert_eq(run("run2.log", NULL, args), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed' AND steps = 80"), 4);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'resume' AND message LIKE '%from checkpoint step%'"),
               2);
  /* The resumed curves are whole: one train_loss row per step. */
  cr_assert_eq(db_int("SELECT count(*) FROM metrics WHERE name = 'train_loss'"), 4 * 80);
}

Test(sw_sched, four_runners_on_one_database_run_each_of_24_trials_exactly_once) {
  write_spec("c24", "[0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, 0.011, 0.012]", 2,
             20, 5, 0, NULL);
  /* All four create the sweep at once, then race on the claims. */
  pid_t p[4];
  char log[4][32];
  const char *args[] = {"run", "c24.yaml", "-j", "1", NULL};
  for (int i = 0; i < 4; i++) {
    snprintf(log[i], sizeof log[i], "runner%d.log", i);
    p[i] = start(log[i], NULL, args);
  }
  for (int i = 0; i < 4; i++) cr_assert_eq(wait_exit(p[i]), 0, "%s", slurp(log[i]));
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), 24);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 1"), 24);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'complete'"), 24);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind IN ('claim', 'resume', 'retry', 'reclaim')"), 24);
  cr_assert(db_int("SELECT count(DISTINCT worker) FROM trials") >= 2, "one runner did everything");
  for (int i = 0; i < 4; i++) {
    const char *out = slurp(log[i]);
    cr_assert_null(strstr(out, "locked"), "%s: %s", log[i], out);
    cr_assert_null(strstr(out, "busy"), "%s: %s", log[i], out);
  }
}

Test(sw_sched, a_changed_spec_under_the_same_name_is_refused) {
  write_spec("same", "[0.001, 0.003]", 1, 10, 5, 0, NULL);
  const char *args[] = {"run", "same.yaml", NULL};
  cr_assert_eq(run("run1.log", NULL, args), 0, "%s", slurp("run1.log"));
  write_spec("same", "[0.001, 0.005]", 1, 10, 5, 0, NULL);
  cr_assert_eq(run("run2.log", NULL, args), 2, "%s", slurp("run2.log"));
  cr_assert(strstr(slurp("run2.log"), "this spec makes it"), "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), 2);
}

Test(sw_sched, bad_usage_exits_2) {
  const char *a1[] = {"run", NULL};
  cr_assert_eq(run("u1.log", NULL, a1), 2);
  cr_assert(strstr(slurp("u1.log"), "hpsweep run: missing SPEC.yaml"), "%s", slurp("u1.log"));
  write_spec("u", "[0.001]", 1, 10, 5, 0, NULL);
  const char *a2[] = {"run", "u.yaml", "-j", "0", NULL};
  cr_assert_eq(run("u2.log", NULL, a2), 2);
  cr_assert(strstr(slurp("u2.log"), "'0'"), "%s", slurp("u2.log"));
  const char *a3[] = {"status", "--db", "nope.db", NULL};
  cr_assert_eq(run("u3.log", NULL, a3), 2);
  cr_assert(strstr(slurp("u3.log"), "nope.db"), "%s", slurp("u3.log"));
}

Test(sw_sched, a_sample_sweep_measures_each_setting_on_a_trained_checkpoint) {
  write_spec("base", "[0.01]", 1, 20, 5, 0, NULL);
  const char *a1[] = {"run", "base.yaml", NULL};
  cr_assert_eq(run("train.log", NULL, a1), 0, "%s", slurp("train.log"));
  sqlite3 *db = db_open();
  char ckpt[1024];
  q_text(db, "SELECT checkpoint FROM trials", ckpt, sizeof ckpt);
  sqlite3_close(db);
  cr_assert(ckpt[0], "the trained trial recorded no checkpoint");
  char path[400];
  snprintf(path, sizeof path, "%s/samp.yaml", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "name: samp\nmethod: grid\nmetric: {name: distinct_2, goal: maximize}\n"
             "parameters:\n  sample.temperature:\n    values: [0.5, 1.0]\n"
             "hpsweep:\n  task: sample\n  checkpoint: %s\n"
             "  base:\n    sample: {max_tokens: 16, n_prompts: 2, n_samples: 2, prompt_tokens: 8}\n",
          ckpt);
  fclose(f);
  const char *a2[] = {"run", "samp.yaml", "-j", "2", NULL};
  cr_assert_eq(run("samp.log", NULL, a2), 0, "%s", slurp("samp.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = 'samp' "
                      "AND t.status = 'completed' AND t.best_metric BETWEEN 0 AND 1"), 2, "%s", slurp("samp.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM metrics m JOIN trials t ON t.id = m.trial_id JOIN sweeps s "
                      "ON s.id = t.sweep_id WHERE s.name = 'samp' AND m.name = 'validity'"), 2);
}

Test(sw_sched, a_trial_too_big_for_the_memory_available_fails_once_with_the_figures_the_others_run) {
  hps_put(dir, "mem.yaml",
          "name: mem\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"
          "parameters:\n  model.d_model:\n    values: [16, 2048]\n"
          "hpsweep:\n  workers: 1\n  max_retries: 2\n  base:\n"
          "    model: {n_layer: 8, n_head: 2, context_length: 16}\n"
          "    train: {batch_size: 4, max_steps: 4, eval_interval: 2, eval_batches: 1}\n");
  const char *env[] = {"HPSWEEP_MEMORY_AVAILABLE=300M", NULL};
  const char *args[] = {"run", "mem.yaml", NULL};
  cr_assert_eq(run("run.log", env, args), 1, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  char buf[4096];
  cr_assert_str_eq(q_text(db, "SELECT status FROM trials WHERE idx = 0", buf, sizeof buf), "completed");
  cr_assert_str_eq(q_text(db, "SELECT status FROM trials WHERE idx = 1", buf, sizeof buf), "failed");
  q_text(db, "SELECT error FROM trials WHERE idx = 1", buf, sizeof buf);
  cr_assert(strstr(buf, "model needs ") && strstr(buf, "GiB (params 1.5, gradients 1.5, optimizer 3.0, ") &&
                strstr(buf, "300 MiB available (HPSWEEP_MEMORY_AVAILABLE)"),
            "%s", buf);
  cr_expect_eq(hps_q_int(db, "SELECT attempts FROM trials WHERE idx = 1"), 1, "a refused config is not retried");
  cr_expect_eq(hps_q_int(db, "SELECT no_retry FROM trials WHERE idx = 1"), 1);
  sqlite3_close(db);
}

/* Refused only because memory is in use now (a fake cgroup: 1 GiB limit, 900 MiB used): it may
** fit later, so it is an ordinary failure and is retried. */
Test(sw_sched, a_trial_refused_for_memory_in_use_now_is_retried_not_failed_for_good) {
  char p[PATH_MAX], e1[PATH_MAX + 32], e2[PATH_MAX + 32];
  snprintf(p, sizeof p, "mkdir -p '%s/cg/sys/a'", dir);
  cr_assert_eq(system(p), 0);
  hps_put(dir, "cg/cgroup", "0::/a\n");
  hps_put(dir, "cg/sys/a/memory.max", "1073741824\n");
  hps_put(dir, "cg/sys/a/memory.current", "943718400\n");
  snprintf(e1, sizeof e1, "HPS_TEST_PROC_CGROUP=%s/cg/cgroup", dir);
  snprintf(e2, sizeof e2, "HPS_TEST_SYS_CGROUP=%s/cg/sys", dir);
  hps_put(dir, "mem2.yaml",
          "name: mem2\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"
          "parameters:\n  model.d_model:\n    values: [16, 512]\n"
          "hpsweep:\n  workers: 1\n  max_retries: 1\n  base:\n"
          "    model: {n_layer: 8, n_head: 2, context_length: 16}\n"
          "    train: {batch_size: 4, max_steps: 4, eval_interval: 2, eval_batches: 1}\n");
  const char *env[] = {e1, e2, NULL};
  const char *args[] = {"run", "mem2.yaml", NULL};
  cr_assert_eq(run("run.log", env, args), 1, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  char buf[4096];
  cr_assert_str_eq(q_text(db, "SELECT status FROM trials WHERE idx = 0", buf, sizeof buf), "completed");
  q_text(db, "SELECT error FROM trials WHERE idx = 1", buf, sizeof buf);
  cr_assert(strstr(buf, "model needs ") && strstr(buf, "available (cgroup limit)"), "%s", buf);
  cr_expect_eq(hps_q_int(db, "SELECT no_retry FROM trials WHERE idx = 1"), 0);
  cr_expect_eq(hps_q_int(db, "SELECT attempts FROM trials WHERE idx = 1"), 2, "retried once (max_retries 1)");
  sqlite3_close(db);
}

/* Wait until the sweep in dir/db has written more than `rows` metric rows. */
static void wait_rows(const char *db, int rows, const char *log) {
  int ready = 0;
  for (int i = 0; i < 3000 && !ready; i++) {
    sleep_ms(20);
    ready = db_try_int_at(db, "SELECT count(*) FROM metrics") > rows;
  }
  cr_assert(ready, "the sweep did not get going: %s", slurp(log));
}

/* The store fails under a running sweep: exactly one line naming the database, exit 1. */
static void expect_one_db_error(const char *log, const char *db, const char *cause) {
  const char *out = slurp(log);
  cr_assert_eq(hps_count(out, "\n"), 1, "not one line: %s", out);
  char want[64];
  snprintf(want, sizeof want, "hpsweep run: %s: ", db);
  cr_assert(strstr(out, want) == out, "does not name %s: %s", db, out);
  cr_assert(strstr(out, cause), "no '%s' in: %s", cause, out);
}

/* Fill dir/disk (a small tmpfs) to the last byte with dir/disk/filler, under the running sweep. */
static void disk_fill(void) {
  char filler[400];
  snprintf(filler, sizeof filler, "%s/disk/filler", dir);
  int fd = open(filler, O_WRONLY | O_CREAT, 0644);
  cr_assert(fd >= 0);
  static char zero[1 << 16];
  while (write(fd, zero, sizeof zero) > 0) continue;
  cr_assert_eq(errno, ENOSPC);
  close(fd);
}

/* Room again on dir/disk: the same command (args) finishes the sweep (left-over leases expire
** in 1 s) with all n trials completed in db; then dir/disk is unmounted. */
static void disk_free_and_rerun(const char *const *args, const char *db, int n) {
  char path[400];
  snprintf(path, sizeof path, "%s/disk/filler", dir);
  cr_assert_eq(unlink(path), 0);
  const char *lease[] = {"HPS_LEASE_SECONDS=1", NULL};
  cr_assert_eq(wait_exit_within(start("run2.log", lease, args), 120, "run2.log"), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_try_int_at(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), n);
  snprintf(path, sizeof path, "umount '%s/disk'", dir);
  cr_assert_eq(system(path), 0);
}

Test(sw_sched, db_error_disk_full_mid_run_exits_nonzero_without_hanging_and_a_rerun_resumes) {
  need_root();
  char cmd[1600];
  /* Only the database on the small file system: its runs directory (checkpoints) links to one
  ** outside, or a checkpoint's write may meet the full disk first (a clean stop too, but one
  ** naming ckpt.bin, not the database this test is about). */
  snprintf(cmd, sizeof cmd,
           "mkdir '%s/disk' '%s/runs' && mount -t tmpfs -o size=12m tmpfs '%s/disk' && "
           "ln -s '%s/runs' '%s/disk/hpsweep.db.runs'",
           dir, dir, dir, dir, dir);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  write_spec("full", "[0.001, 0.002, 0.003, 0.004, 0.005, 0.006]", 1, 200, 1, 2, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=10", "HPS_LEASE_SECONDS=1", NULL};
  const char *args[] = {"run", "full.yaml", "-j", "2", "--db", "disk/hpsweep.db", "--quiet", NULL};
  pid_t pid = start("run1.log", slow, args);
  wait_rows("disk/hpsweep.db", 20, "run1.log");
  disk_fill();
  cr_assert_eq(wait_exit_within(pid, 120, "run1.log"), 1, "%s", slurp("run1.log"));
  expect_one_db_error("run1.log", "disk/hpsweep.db", "database or disk is full");
  /* 12 MB: the WAL alone may grow to 4 MB before SQLite checkpoints it */
  disk_free_and_rerun(args, "disk/hpsweep.db", 6);
}

/* The other half of a full disk: the database has room, the checkpoints do not. */
Test(sw_sched, checkpoint_write_on_a_full_disk_stops_the_run_with_one_line_and_a_rerun_resumes) {
  need_root();
  char cmd[1600];
  snprintf(cmd, sizeof cmd,
           "mkdir '%s/disk' && mount -t tmpfs -o size=4m tmpfs '%s/disk' && "
           "ln -s '%s/disk' '%s/hpsweep.db.runs'",
           dir, dir, dir, dir);
  cr_assert_eq(system(cmd), 0, "%s", cmd);
  write_spec("ckfull", "[0.001, 0.002, 0.003, 0.004, 0.005, 0.006]", 1, 200, 1, 2, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=10", "HPS_LEASE_SECONDS=1", NULL};
  const char *args[] = {"run", "ckfull.yaml", "-j", "2", "--quiet", NULL};
  pid_t pid = start("run1.log", slow, args);
  wait_rows("hpsweep.db", 20, "run1.log");
  disk_fill();
  /* a checkpoint is due every eval_interval (10 steps): the next one meets the full disk */
  cr_assert_eq(wait_exit_within(pid, 120, "run1.log"), 1, "%s", slurp("run1.log"));
  const char *out = slurp("run1.log");
  cr_assert_eq(hps_count(out, "\n"), 1, "not one line: %s", out);
  cr_assert(strstr(out, "hpsweep run: ./hpsweep.db.runs/ckfull/") == out, "%s", out);
  cr_assert(strstr(out, "ckpt.bin: write failed: No space left on device"), "%s", out);
  cr_assert(strstr(out, "run the same command again"), "%s", out);
  /* the machine's fault, not the trial's: interrupted, nothing failed */
  cr_assert_eq(db_try_int_at("hpsweep.db", "SELECT count(*) FROM trials WHERE status = 'failed'"), 0);
  cr_assert_geq(db_try_int_at("hpsweep.db", "SELECT count(*) FROM trials WHERE status = 'interrupted'"), 1);
  disk_free_and_rerun(args, "hpsweep.db", 6);
}

Test(sw_sched, db_file_moved_away_mid_run_exits_nonzero_without_hanging_and_a_rerun_resumes) {
  write_spec("moved", "[0.001, 0.002, 0.003, 0.004]", 1, 200, 1, 2, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=10", "HPS_LEASE_SECONDS=1", NULL};
  const char *args[] = {"run", "moved.yaml", "-j", "2", "--quiet", NULL};
  pid_t pid = start("run1.log", slow, args);
  wait_rows("hpsweep.db", 20, "run1.log");
  char db[400], away[400];
  snprintf(db, sizeof db, "%s/hpsweep.db", dir);
  snprintf(away, sizeof away, "%s/away.db", dir);
  cr_assert_eq(rename(db, away), 0);
  cr_assert_eq(wait_exit_within(pid, 120, "run1.log"), 1, "%s", slurp("run1.log"));
  const char *out = slurp("run1.log");
  cr_assert(strstr(out, "no such database file") || strstr(out, "moved or deleted"), "%s", out);
  expect_one_db_error("run1.log", "hpsweep.db", "hpsweep.db");
  cr_assert_eq(rename(away, db), 0);
  const char *lease[] = {"HPS_LEASE_SECONDS=1", NULL};
  cr_assert_eq(wait_exit_within(start("run2.log", lease, args), 120, "run2.log"), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 4);
}

Test(sw_sched, sigxfsz_over_ulimit_f_is_a_store_error_and_trials_are_interrupted) {
  write_spec("fsz", "[0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.010, 0.011, 0.012, "
                    "0.013, 0.014, 0.015, 0.016, 0.017, 0.018, 0.019, 0.020, 0.021, 0.022, 0.023, 0.024]",
             1, 20, 1, 2, NULL);
  const char *args[] = {"run", "fsz.yaml", "-j", "2", "--quiet", NULL};
  child_fsize = 150 * 1024; /* above a checkpoint (~94 KB), below what the database grows to */
  pid_t pid = start("run1.log", NULL, args);
  child_fsize = 0;
  cr_assert_eq(wait_exit_within(pid, 120, "run1.log"), 1, "%s", slurp("run1.log"));
  expect_one_db_error("run1.log", "hpsweep.db", "I/O error");
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'running'"), 0);
  cr_assert(db_int("SELECT count(*) FROM trials WHERE status = 'completed'") < 24);
  cr_assert_eq(run("run2.log", NULL, args), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 24);
}

/* A checkpoint over `ulimit -f` (the database stays under it): the disk's fault, not the
** trial's: interrupted with no failure counted, the runner stops with the cause, a rerun resumes. */
Test(sw_sched, a_checkpoint_write_error_interrupts_the_trial_and_stops_the_runner) {
  hps_put(dir, "ck.yaml",
          "name: ck\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"
          "parameters:\n  optimizer.lr:\n    values: [0.001]\n"
          "hpsweep:\n  workers: 1\n  max_retries: 0\n  base:\n"
          "    model: {n_layer: 2, n_head: 2, d_model: 128, context_length: 16}\n"
          "    train: {batch_size: 2, max_steps: 20, eval_interval: 10, eval_batches: 1}\n");
  const char *args[] = {"run", "ck.yaml", "--quiet", NULL};
  child_fsize = 2 << 20; /* a checkpoint is ~5 MB; the database stays far below */
  pid_t pid = start("run1.log", NULL, args);
  child_fsize = 0;
  cr_assert_eq(wait_exit_within(pid, 120, "run1.log"), 1, "%s", slurp("run1.log"));
  const char *out = slurp("run1.log");
  cr_assert(strstr(out, "ckpt.bin") && strstr(out, strerror(EFBIG)), "%s", out);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'interrupted'"), 1, "%s", out);
  cr_assert_eq(db_int("SELECT failures FROM trials"), 0);
  cr_assert_eq(run("run2.log", NULL, args), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 1);
}

/* Wait until the (only) trial is running on attempt `attempt`. */
static void wait_running(int attempt, const char *log) {
  char sql[120];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM trials WHERE status = 'running' AND attempts = %d", attempt);
  int ready = 0;
  for (int i = 0; i < 3000 && !ready; i++) {
    sleep_ms(20);
    ready = db_try_int(sql) == 1;
  }
  cr_assert(ready, "attempt %d never ran: %s", attempt, slurp(log));
}

Test(sw_sched, interrupted_twice_then_crashed_once_is_still_retried_with_max_retries_1) {
  write_spec("twice", "[0.001]", 1, 100, 1, 1, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=20", NULL};
  const char *args[] = {"run", "twice.yaml", "--quiet", NULL};
  for (int k = 1; k <= 2; k++) { /* Ctrl-C twice */
    pid_t pid = start("stops.log", slow, args);
    wait_running(k, "stops.log");
    kill(pid, SIGINT);
    cr_assert_eq(wait_exit_within(pid, 120, "stops.log"), 1, "%s", slurp("stops.log"));
    cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'interrupted'"), 1, "%s", slurp("stops.log"));
  }
  /* The third attempt crashes: a failure, the first, so max_retries 1 allows a retry. */
  const char *crash[] = {"HPS_TEST_CRASH=0:11:3", NULL};
  cr_assert_eq(run("crash.log", crash, args), 0, "%s", slurp("crash.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 4 AND failures = 1"), 1,
               "%s", slurp("crash.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'retry'"), 1);
}

Test(sw_sched, sigint_at_large_j_claims_nothing_more) {
  char lrs[2048] = "[";
  for (int i = 0; i < 120; i++) snprintf(lrs + strlen(lrs), sizeof lrs - strlen(lrs), "%s0.%04d", i ? ", " : "", i + 1);
  strcat(lrs, "]");
  write_spec("wide", lrs, 1, 200, 1, 0, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=50", NULL};
  const char *args[] = {"run", "wide.yaml", "-j", "60", "--quiet", NULL};
  pid_t pid = start("run.log", slow, args);
  int got = 0;
  for (int i = 0; i < 6000 && !got; i++) {
    sleep_ms(5);
    got = db_try_int("SELECT count(*) FROM events WHERE kind = 'claim'") >= 3;
  }
  cr_assert(got, "no claims: %s", slurp("run.log"));
  double t = tr_clock_wall();
  kill(pid, SIGINT);
  cr_assert_eq(wait_exit_within(pid, 120, "run.log"), 1, "%s", slurp("run.log"));
  char before[160], after[160];
  snprintf(before, sizeof before, "SELECT count(*) FROM events WHERE kind = 'claim' AND time <= %.6f", t);
  snprintf(after, sizeof after, "SELECT count(*) FROM events WHERE kind = 'claim' AND time > %.6f", t);
  cr_assert_lt(db_int(before), 60, "every slot was filled before the signal: the test proves nothing");
  /* One claim may have begun between the last look at the flag and the signal. */
  cr_assert_leq(db_int(after), 1, "%lld trials claimed after SIGINT (%lld before)", db_int(after), db_int(before));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'running'"), 0);
}

/* Replace the stand-in for /proc/vmstat atomically. */
static void put_oom_kills(const char *name, int n) {
  char tmp[32], text[32];
  snprintf(tmp, sizeof tmp, "%s.tmp", name);
  snprintf(text, sizeof text, "pgfault 1\noom_kill %d\n", n);
  hps_put(dir, tmp, text);
  char a[400], b[400];
  snprintf(a, sizeof a, "%s/%s", dir, tmp);
  snprintf(b, sizeof b, "%s/%s", dir, name);
  cr_assert_eq(rename(a, b), 0);
}

/* SIGKILL the worker of the runner pid running trial idx, once it runs; just before,
** set the system's OOM-kill count to oom_kills (if >= 0). */
static void kill_worker(pid_t runner, int idx, int oom_kills, const char *log) {
  char sql[160];
  snprintf(sql, sizeof sql, "SELECT count(*) FROM trials t WHERE idx = %d AND status = 'running' AND "
                            "EXISTS (SELECT 1 FROM metrics WHERE trial_id = t.id)", idx);
  pid_t w[4];
  int nw = 0;
  for (int i = 0; i < 3000 && (nw != 1 || db_try_int(sql) != 1); i++) {
    sleep_ms(20);
    nw = hps_children_of(runner, w, 4);
  }
  cr_assert_eq(nw, 1, "trial %d never ran: %s", idx, slurp(log));
  if (oom_kills >= 0) put_oom_kills("vmstat", oom_kills);
  cr_assert_eq(kill(w[0], SIGKILL), 0);
}

Test(sw_sched, an_oom_killed_trial_is_failed_without_retry_another_sigkill_is_retried) {
  write_spec("oom", "[0.001, 0.002]", 1, 100, 1, 2, NULL);
  put_oom_kills("vmstat", 7);
  char vm[400];
  snprintf(vm, sizeof vm, "HPS_TEST_VMSTAT=%s/vmstat", dir);
  const char *env[] = {"HPS_TEST_STEP_DELAY_MS=20", vm, NULL};
  const char *args[] = {"run", "oom.yaml", "-j", "1", "--quiet", NULL};
  pid_t pid = start("run.log", env, args);
  kill_worker(pid, 0, -1, "run.log"); /* the count stays: someone's kill -9, retried after trial 1 */
  kill_worker(pid, 1, 8, "run.log");  /* the count rises: the kernel OOM-killed it */
  cr_assert_eq(wait_exit_within(pid, 120, "run.log"), 1, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  char buf[4096];
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE idx = 0 AND status = 'completed' AND attempts = 2"
                         " AND failures = 1"), 1, "%s", slurp("run.log"));
  q_text(db, "SELECT error FROM trials WHERE idx = 1", buf, sizeof buf);
  cr_assert(strstr(buf, "signal 9") && strstr(buf, "OOM killer"), "%s", buf);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE idx = 1 AND status = 'failed' AND attempts = 1 "
                         "AND no_retry = 1"), 1, "%s", buf);
  sqlite3_close(db);
}

Test(sw_sched, status_shows_a_running_trial_whose_lease_expired_as_stale_with_when_last_heard) {
  write_spec("dead", "[0.001, 0.002, 0.003]", 1, 10, 5, 0, NULL);
  const char *args[] = {"run", "dead.yaml", "--quiet", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  /* Trial 0's runner died 15 minutes ago (lease 30 s); trial 1's runner is alive. */
  char path[400], sql[400];
  snprintf(path, sizeof path, "%s/hpsweep.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open(path, &db), SQLITE_OK);
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  double now = (double)ts.tv_sec;
  snprintf(sql, sizeof sql,
           "UPDATE trials SET status = 'running', worker = 'gone:1', heartbeat = %.0f, lease_until = %.0f "
           "WHERE idx = 0; UPDATE trials SET status = 'running', worker = 'here:2', heartbeat = %.0f, "
           "lease_until = %.0f WHERE idx = 1",
           now - 900, now - 870, now, now + 600);
  cr_assert_eq(sqlite3_exec(db, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
  sqlite3_close(db);
  const char *st[] = {"status", "dead", NULL};
  cr_assert_eq(run("status.log", NULL, st), 0, "%s", slurp("status.log"));
  const char *out = slurp("status.log");
  cr_assert(strstr(out, "2 running (1 stale)"), "%s", out);
  cr_assert_eq(hps_count(out, "STALE"), 1, "%s", out);
  const char *stale = strstr(out, "STALE (last heard 15m0"), *row = strstr(out, "#1 ");
  cr_assert(stale && row && row < stale && !memchr(row, '\n', (size_t)(stale - row)), "not trial 1's row: %s", out);
}

Test(sw_sched, a_checkpoint_temporary_left_by_a_killed_writer_is_removed_when_the_trial_resumes) {
  write_spec("tmpck", "[0.001]", 1, 80, 1, 0, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=10", NULL};
  const char *args[] = {"run", "tmpck.yaml", "--quiet", NULL};
  pid_t pid = start("run1.log", slow, args);
  int ready = 0;
  for (int i = 0; i < 3000 && !ready; i++) {
    sleep_ms(20);
    ready = db_try_int("SELECT count(*) FROM trials WHERE status = 'running' AND checkpoint_step >= 10") == 1;
  }
  cr_assert(ready, "no checkpoint: %s", slurp("run1.log"));
  kill(pid, SIGINT);
  cr_assert_eq(wait_exit_within(pid, 120, "run1.log"), 1, "%s", slurp("run1.log"));
  /* What kill -9 in the middle of a save leaves beside the checkpoint. */
  sqlite3 *db = db_open();
  char ckpt[1024], tmp[1400];
  q_text(db, "SELECT checkpoint FROM trials", ckpt, sizeof ckpt);
  sqlite3_close(db);
  cr_assert(ckpt[0]);
  snprintf(tmp, sizeof tmp, "%s/%s.k9Xq2Z", ckpt[0] == '/' ? "" : dir, ckpt); /* relative to the runner's cwd */
  FILE *f = fopen(tmp, "w");
  cr_assert_not_null(f, "%s", tmp);
  fputs("half a checkpoint", f);
  fclose(f);
  cr_assert_eq(run("run2.log", NULL, args), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 1);
  cr_assert_neq(access(tmp, F_OK), 0, "%s is still there", tmp);
}

/* ---- early termination ---- */

/* A grid over optimizer.lr (YAML list) on the tiny model, 90 steps, val_loss every 10 steps,
** with `et` (YAML lines of the top level, e.g. an early_terminate block) added. */
static void write_et_spec(const char *name, const char *lrs, const char *et) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  /* Ours goes in the hpsweep block: "hpsweep:..." lines given in `et` are its first keys. */
  int ours = strncmp(et, "hpsweep:", 8) == 0;
  fprintf(f,
          "name: %s\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n%s"
          "parameters:\n  optimizer.lr:\n    values: %s\n"
          "%s  workers: 2\n  max_retries: 3\n  base:\n"
          "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
          "    optimizer: {grad_clip: 0}\n"
          "    train: {batch_size: 4, max_steps: 90, eval_interval: 10, eval_batches: 2, log_interval: 10}\n",
          name, ours ? "" : et, lrs, ours ? et : "hpsweep:\n");
  fclose(f);
}

/* The sweep's curves of val_loss as the store gives them to the judge (by idx, by step). */
typedef struct DbCurves {
  RsCurve c[64];
  int64_t step[64][16];
  double value[64][16];
  size_t n;
} DbCurves;

static void db_curves(sqlite3 *db, DbCurves *d) {
  memset(d, 0, sizeof *d);
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, "SELECT t.id, t.idx, t.status, m.step, m.value FROM trials t LEFT JOIN metrics m "
                                      "ON m.trial_id = t.id AND m.name = 'val_loss' ORDER BY t.idx, m.step", -1, &s,
                                  NULL), SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int64_t id = sqlite3_column_int64(s, 0);
    if (d->n == 0 || d->c[d->n - 1].trial_id != id) {
      cr_assert_lt(d->n, 64);
      RsStatus st = (RsStatus)rs_status_parse((const char *)sqlite3_column_text(s, 2));
      d->c[d->n] = (RsCurve){id, sqlite3_column_int(s, 1), st, st == RS_COMPLETED, st == RS_PAUSED, 0,
                             d->step[d->n], d->value[d->n], -1, -1, "{}"};
      d->n++;
    }
    if (sqlite3_column_type(s, 3) == SQLITE_NULL) continue;
    RsCurve *c = &d->c[d->n - 1];
    cr_assert_lt(c->n, 16);
    d->step[d->n - 1][c->n] = sqlite3_column_int64(s, 3);
    d->value[d->n - 1][c->n] = sqlite3_column_double(s, 4);
    c->n++;
  }
  sqlite3_finalize(s);
}

/* The reason of trial idx's prune event, "" if none. */
static const char *prune_reason(sqlite3 *db, int idx, char *buf, size_t n) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT message FROM events e JOIN trials t ON t.id = e.trial_id WHERE e.kind = 'prune' "
           "AND t.idx = %d", idx);
  return q_text(db, sql, buf, n);
}

static const SwEarlyTerminate WANDB_MIN2_ETA2 = {.enabled = 1, .type = SW_ET_WANDB, .min_iter = 2, .eta = 2,
                                                 .strict = 1, .strict_given = 1};
#define WANDB_MIN2_ETA2_YAML "early_terminate: {type: hyperband, min_iter: 2, eta: 2, strict: true}\n"
/* Best first, so later trials have someone to lose against. */
#define ET_LRS "[0.03, 0.1, 0.01, 0.3, 0.003, 0.001, 0.0003, 0.0001, 0.05, 0.0005]"

Test(sw_sched, wandb_hyperband_at_j1_prunes_exactly_what_sw_prune_judge_says_replayed_over_the_final_curves) {
  write_et_spec("wb1", ET_LRS, WANDB_MIN2_ETA2_YAML);
  const char *args[] = {"run", "wb1.yaml", "-j", "1", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  DbCurves d;
  db_curves(db, &d);
  cr_assert_eq(d.n, 10);
  /* -j 1: trial i ran after every trial before it had ended, and judged each new value
  ** against their final curves, the later ones still pending. */
  int pruned = 0;
  for (size_t i = 0; i < d.n; i++) {
    RsCurve cur[64];
    for (size_t j = 0; j < d.n; j++) {
      cur[j] = d.c[j];
      if (j > i) cur[j].n = 0, cur[j].status = RS_PENDING, cur[j].completed = 0;
    }
    cur[i].status = RS_RUNNING;
    cur[i].completed = 0;
    size_t stop = 0;
    SwVerdict v;
    for (size_t k = 1; k <= d.c[i].n && !stop; k++) {
      cur[i].n = k;
      sw_prune_judge(&WANDB_MIN2_ETA2, 0, cur, d.n, i, &v);
      if (v.action == SW_PRUNE) stop = k;
    }
    char why[256];
    prune_reason(db, d.c[i].idx, why, sizeof why);
    if (d.c[i].status == RS_PRUNED) {
      pruned++;
      cr_assert_eq(stop, d.c[i].n, "trial %d: pruned at value %zu, the rule says %zu", d.c[i].idx, d.c[i].n, stop);
      cr_assert_str_eq(why, v.reason, "trial %d", d.c[i].idx);
    } else {
      cr_assert_eq(d.c[i].status, RS_COMPLETED, "trial %d", d.c[i].idx);
      cr_assert_eq(stop, 0, "trial %d completed, the rule prunes it at value %zu", d.c[i].idx, stop);
      cr_assert_eq(d.c[i].n, 9);
    }
  }
  cr_assert(pruned >= 3 && pruned <= 8, "%d pruned: the test would not tell much", pruned);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND rung IS NOT NULL AND "
                             "error LIKE 'pruned at band %' AND steps = 10 * rung"), pruned);
  sqlite3_close(db);
}

/* A double of a detail JSON's key ("threshold"), by SQLite's JSON functions. */
static double detail_num(sqlite3 *db, int64_t trial_id, const char *key) {
  char sql[200];
  snprintf(sql, sizeof sql, "SELECT json_extract(detail, '$.%s') FROM events WHERE kind = 'prune' AND trial_id = %lld",
           key, (long long)trial_id);
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
  double v = sqlite3_column_double(s, 0);
  sqlite3_finalize(s);
  return v;
}

Test(sw_sched, wandb_hyperband_at_j2_prunes_by_the_rule_at_the_band_and_stops_there) {
  write_et_spec("wb2", ET_LRS, WANDB_MIN2_ETA2_YAML);
  const char *args[] = {"run", "wb2.yaml", "-j", "2", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  cr_assert(strstr(slurp("run.log"), " pruned"), "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  DbCurves d;
  db_curves(db, &d);
  int pruned = 0;
  for (size_t i = 0; i < d.n; i++) {
    const RsCurve *c = &d.c[i];
    if (c->status != RS_PRUNED) {
      cr_assert_eq(c->status, RS_COMPLETED);
      cr_assert_eq(c->n, 9);
      continue;
    }
    pruned++;
    /* Stopped at the value judged (no further step): at the band, or at a later value before
    ** the next band (bands 2, 4, 8: a trial is re-judged at every value, and at -j 2 another
    ** trial may move the threshold between two of its values); its value at the band strictly
    ** above a threshold that is the band's value of one of the trials that had reached it. */
    int64_t band = (int64_t)detail_num(db, c->trial_id, "band");
    size_t n = (size_t)detail_num(db, c->trial_id, "n");
    double th = detail_num(db, c->trial_id, "threshold"), v = detail_num(db, c->trial_id, "value");
    cr_assert((int64_t)c->n >= band && (int64_t)c->n < 2 * band, "trial %d ran past its band %lld (%zu values)",
              c->idx, (long long)band, c->n);
    cr_assert_eq(v, c->value[band - 1]);
    cr_assert_gt(v, th);
    size_t reached = 0;
    int th_seen = 0;
    for (size_t j = 0; j < d.n; j++)
      if ((int64_t)d.c[j].n >= band) reached++, th_seen |= d.c[j].value[band - 1] == th;
    cr_assert(th_seen, "trial %d: threshold %.17g is no trial's value at band %lld", c->idx, th, (long long)band);
    cr_assert(n >= 2 && n <= reached, "trial %d: n %zu of %zu", c->idx, n, reached);
    /* Over the final curves the trial is pruned too, or the later trials moved the threshold up. */
    RsCurve cur[64];
    memcpy(cur, d.c, sizeof cur);
    cur[i].status = RS_RUNNING;
    SwVerdict fv;
    sw_prune_judge(&WANDB_MIN2_ETA2, 0, cur, d.n, i, &fv);
    cr_assert(fv.action == SW_PRUNE || fv.threshold >= th, "trial %d", c->idx);
  }
  cr_assert_geq(pruned, 3, "%s", slurp("run.log"));
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'prune'"), pruned, "each stop once");
  sqlite3_close(db);
}

#define ASHA_YAML "hpsweep:\n  early_terminate: {type: asha, grace_period: 10, max_t: 90, reduction_factor: 3}\n"
#define ASHA_LRS "[0.03, 0.1, 0.01, 0.3, 0.003, 0.001, 0.0003, 0.0001, 0.05]"

/* An ASHA sweep with promotions that ran to its end: every trial completed (90 steps, its
** whole curve) or pruned where it was last paused; every pause followed by at most one
** promotion, every promotion preceded by a pause, each claim a first start or a promotion
** (nothing ran twice). */
static void expect_asha_end(sqlite3 *db, int n) {
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status IN ('completed', 'pruned')"), n);
  cr_assert_geq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 1);
  cr_assert_geq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'promote'"), 1, "nothing was promoted");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND (steps != 90 OR "
                             "(SELECT count(*) FROM metrics WHERE trial_id = trials.id AND name = 'val_loss') != 9)"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND (rung IS NULL OR steps != rung "
                             "OR (SELECT max(step) FROM metrics WHERE trial_id = trials.id) != rung OR "
                             "error NOT LIKE 'not promoted%')"), 0, "a pruned trial ran past its rung");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT kind, lag(kind) OVER (PARTITION BY trial_id ORDER BY id) "
                             "AS prev FROM events WHERE kind IN ('pause', 'promote')) WHERE prev IS kind OR "
                             "(kind = 'promote' AND prev IS NULL)"), 0, "a promotion twice, or a pause twice");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE (SELECT count(*) FROM events WHERE trial_id = t.id "
                             "AND kind = 'pause') != (SELECT count(*) FROM events WHERE trial_id = t.id AND kind = "
                             "'promote') + (t.status = 'pruned')"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE attempts != 1 + (SELECT count(*) FROM events "
                             "WHERE trial_id = t.id AND kind = 'promote')"), 0, "a trial was claimed twice");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'complete'"),
               hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"));
}

Test(sw_sched, asha_with_promotions_at_j2_ends_with_every_trial_completed_or_pruned) {
  write_et_spec("asha", ASHA_LRS, ASHA_YAML);
  const char *args[] = {"run", "asha.yaml", "-j", "2", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  cr_assert(strstr(slurp("run.log"), "paused trial"), "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  expect_asha_end(db, 9);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'pause' AND json_extract(detail, '$.rung') "
                             "NOT IN (10, 30)"), 0, "paused at the rungs 10 and 30 only");
  sqlite3_close(db);
}

Test(sw_sched, a_trial_paused_at_rungs_and_promoted_has_the_metric_rows_of_a_run_straight_through) {
  write_et_spec("asha", ASHA_LRS, ASHA_YAML);
  const char *args[] = {"run", "asha.yaml", "-j", "2", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  long long a = hps_q_int(db, "SELECT id FROM trials t WHERE status = 'completed' AND (SELECT count(*) FROM events "
                              "WHERE trial_id = t.id AND kind = 'promote') >= 1 ORDER BY idx LIMIT 1");
  cr_assert_gt(a, 0, "no completed trial went through a promotion");
  char sql[200], lr[64];
  snprintf(sql, sizeof sql, "SELECT json_extract(params, '$.\"optimizer.lr\"') FROM trials WHERE id = %lld", a);
  q_text(db, sql, lr, sizeof lr);
  sqlite3_close(db);
  char lrs[80];
  snprintf(lrs, sizeof lrs, "[%s]", lr);
  write_et_spec("plain", lrs, "");
  const char *plain[] = {"run", "plain.yaml", NULL};
  cr_assert_eq(run("plain.log", NULL, plain), 0, "%s", slurp("plain.log"));
  db = db_open();
  long long b = hps_q_int(db, "SELECT t.id FROM trials t JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = 'plain'");
  /* Every row but the throughput (a clock reading): same steps, tokens and values, bit for bit. */
  char cmp[600];
  snprintf(cmp, sizeof cmp, "SELECT count(*) FROM metrics x WHERE x.trial_id = %lld AND x.name != 'tokens_per_second' "
           "AND NOT EXISTS (SELECT 1 FROM metrics y WHERE y.trial_id = %lld AND y.name = x.name AND y.step = x.step "
           "AND y.tokens = x.tokens AND y.value = x.value)", a, b);
  cr_assert_eq(hps_q_int(db, cmp), 0, "the promoted trial's curve differs from the straight run");
  snprintf(cmp, sizeof cmp, "SELECT count(*) FROM metrics x WHERE x.trial_id = %lld AND x.name != 'tokens_per_second' "
           "AND NOT EXISTS (SELECT 1 FROM metrics y WHERE y.trial_id = %lld AND y.name = x.name AND y.step = x.step "
           "AND y.tokens = x.tokens AND y.value = x.value)", b, a);
  cr_assert_eq(hps_q_int(db, cmp), 0, "the straight run has rows the promoted trial lacks");
  snprintf(cmp, sizeof cmp, "SELECT count(*) FROM metrics WHERE trial_id = %lld AND name = 'train_loss'", a);
  cr_assert_eq(hps_q_int(db, cmp), 10, "steps 1, 10, ..., 90");
  sqlite3_close(db);
}

Test(sw_sched, two_runners_on_one_database_with_asha_run_no_trial_twice_and_promote_each_pause_once) {
  write_et_spec("asha", ASHA_LRS, ASHA_YAML);
  const char *env[] = {"HPS_TEST_STEP_DELAY_MS=5", NULL};
  const char *args[] = {"run", "asha.yaml", "-j", "1", "--quiet", NULL};
  pid_t p1 = start("r1.log", env, args);
  pid_t p2 = start("r2.log", env, args);
  cr_assert_eq(wait_exit_within(p1, 120, "r1.log"), 0, "%s", slurp("r1.log"));
  cr_assert_eq(wait_exit_within(p2, 120, "r2.log"), 0, "%s", slurp("r2.log"));
  sqlite3 *db = db_open();
  expect_asha_end(db, 9);
  cr_assert_eq(hps_q_int(db, "SELECT count(DISTINCT worker) FROM trials"), 2, "both runners took trials");
  sqlite3_close(db);
}

/* A stopping rule (no pauses) that ran to its end: every trial completed (its whole curve)
** or pruned once where its curve ends, none paused. */
static void expect_stopping_end(sqlite3 *db, int n, const char *log) {
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status IN ('completed', 'pruned')"), n, "%s", slurp(log));
  cr_assert_geq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned'"), 1, "%s", slurp(log));
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind IN ('pause', 'promote')"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'prune'"),
               hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned'"));
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE status = 'pruned' AND steps != "
                             "(SELECT max(step) FROM metrics WHERE trial_id = t.id AND name = 'val_loss')"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND steps != 90"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT max(attempts) FROM trials"), 1);
}

Test(sw_sched, median_rule_at_j2_prunes_trials_below_the_median_of_the_completed_ones) {
  write_et_spec("med", ET_LRS,
                "hpsweep:\n  early_terminate: {type: median, n_startup_trials: 2, n_warmup_steps: 20, "
                "interval_steps: 10}\n");
  const char *args[] = {"run", "med.yaml", "-j", "2", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  expect_stopping_end(db, 10, "run.log");
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND steps < 20"), 0,
               "no decision during the warm-up");
  sqlite3_close(db);
}

Test(sw_sched, hyperband_brackets_at_j2_stop_trials_at_their_brackets_rungs) {
  write_et_spec("hb", ET_LRS,
                "hpsweep:\n  early_terminate: {type: hyperband, grace_period: 10, max_t: 90, reduction_factor: 3}\n");
  const char *args[] = {"run", "hb.yaml", "-j", "2", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  sqlite3 *db = db_open();
  expect_stopping_end(db, 10, "run.log");
  /* s_max 2: bracket idx % 3 starts at 10, 30 or 90 steps; bracket 2 never stops. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND idx % 3 = 2"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND idx % 3 = 1 AND rung != 30"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND rung NOT IN (10, 30)"), 0);
  sqlite3_close(db);
}

/* ---- method bayes: proposals made by the claims ---- */

/* A bayes spec on examples/analytic/branin.py (x1, x2: uniform, or q_uniform q = 1 when
** coarse), run_cap trials; extra: more top-level YAML ("hpsweep: {sampler: tpe}\n"...). */
static void write_bayes_spec(const char *name, int run_cap, int coarse, const char *metric_extra, const char *extra) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "name: %s\nprogram: %s/examples/analytic/branin.py\nmethod: bayes\n"
          "metric: {name: loss, goal: minimize%s}\nrun_cap: %d\n%s"
          "parameters:\n  x1: {distribution: %s, min: -5, max: 10%s}\n  x2: {distribution: %s, min: 0, max: 15%s}\n",
          name, HPS_SOURCE_ROOT, metric_extra ? metric_extra : "", run_cap, extra ? extra : "",
          coarse ? "q_uniform" : "uniform", coarse ? ", q: 5" : "", coarse ? "q_uniform" : "uniform",
          coarse ? ", q: 5" : "");
  fclose(f);
}

/* The sweep's trials as the store hands them to a proposal (RsProposeTrial), from db. */
typedef struct DbTrials {
  RsProposeTrial t[64];
  char params[64][256], hash[64][17];
  size_t n;
} DbTrials;

static void db_trials(const char *db_name, DbTrials *d) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, db_name);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id, idx, status, params, best_metric, steps, hash FROM trials "
                                      "ORDER BY idx", -1, &s, NULL), SQLITE_OK);
  d->n = 0;
  while (sqlite3_step(s) == SQLITE_ROW && d->n < 64) {
    size_t i = d->n++;
    snprintf(d->params[i], sizeof d->params[i], "%s", (const char *)sqlite3_column_text(s, 3));
    snprintf(d->hash[i], sizeof d->hash[i], "%s", (const char *)sqlite3_column_text(s, 6));
    d->t[i] = (RsProposeTrial){sqlite3_column_int64(s, 0), sqlite3_column_int(s, 1),
                               (RsStatus)rs_status_parse((const char *)sqlite3_column_text(s, 2)), d->params[i],
                               sqlite3_column_type(s, 4) == SQLITE_NULL ? NAN : sqlite3_column_double(s, 4),
                               sqlite3_column_type(s, 5) == SQLITE_NULL ? -1 : sqlite3_column_int64(s, 5)};
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

static SwProposer *proposer_for(const char *name, SwSpec **spec) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  TrErr e;
  tr_err_clear(&e);
  cr_assert_eq(sw_spec_load(spec, path, &e), TR_OK, "%s", e.msg);
  SwProposer *p = NULL;
  cr_assert_eq(sw_proposer_create(&p, *spec, &e), TR_OK, "%s", e.msg);
  return p;
}

Test(sw_sched, bayes_gp_at_j1_runs_run_cap_trials_each_the_point_sw_gp_proposes_from_the_ones_before) {
  write_bayes_spec("bgp", 7, 0, NULL, NULL);
  const char *args[] = {"run", "bgp.yaml", "-j", "1", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  cr_assert(strstr(slurp("run.log"), "propose trial"), "progress shows proposals: %s", slurp("run.log"));
  DbTrials d;
  db_trials("hpsweep.db", &d);
  cr_assert_eq(d.n, 7);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 1"), 7);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'propose' AND json_extract(detail, '$.seed') "
                      "IS NOT NULL"), 7);
  /* Replay: at -j 1 trial k was proposed from trials 0..k-1, all completed. */
  SwSpec *spec;
  SwProposer *p = proposer_for("bgp", &spec);
  for (size_t k = 0; k < d.n; k++) {
    cr_assert_eq(d.t[k].idx, (int)k);
    RsProposal out;
    memset(&out, 0, sizeof out);
    cr_assert_eq(sw_proposer_propose(p, d.t, k, (int)k, &out), TR_OK, "%s", sw_proposer_error(p)->msg);
    cr_assert_eq(out.n, 1);
    cr_assert_str_eq(out.defs[0].params_json, d.params[k], "trial %zu", k);
    cr_assert_str_eq(out.defs[0].hash, d.hash[k]);
    uint64_t seed;
    const SwProposal *why = sw_proposer_last(p, &seed);
    cr_assert_eq(seed, sw_space_seed(sw_spec_seed(spec), k));
    cr_assert_eq(why->random, k < SW_GP_MIN_RESULTS, "trial %zu: %s", k, why->why);
  }
  /* And straight from sw_gp: trial k is sw_gp_propose over trials 0..k-1 (their points and
  ** losses), seeded sw_space_seed(sweep seed, k), decoded. */
  SwSpace sp;
  TrErr e;
  tr_err_clear(&e);
  cr_assert_eq(sw_space_init(&sp, spec, &e), TR_OK, "%s", e.msg);
  double u[7][2], loss[7], x[2];
  SwObs obs[7];
  for (size_t k = 0; k < d.n; k++) {
    SwValue v[2];
    cr_assert_eq(sw_gp_propose(&sp, obs, loss, k, sw_space_seed(sw_spec_seed(spec), k), u[k], NULL, &e), TR_OK,
                 "%s", e.msg);
    sw_space_decode(&sp, u[k], v);
    cr_assert_eq(sscanf(d.params[k], "{\"x1\": %lf, \"x2\": %lf}", &x[0], &x[1]), 2, "%s", d.params[k]);
    cr_assert(v[0].x == x[0] && v[1].x == x[1], "trial %zu: sw_gp gives (%.17g, %.17g), the run made %s", k, v[0].x,
              v[1].x, d.params[k]);
    obs[k] = (SwObs){u[k], d.t[k].best, 0, SW_OBS_DONE};
    loss[k] = d.t[k].best;
  }
  sw_space_free(&sp);
  sw_proposer_destroy(p);
  sw_spec_destroy(spec);
  /* The same spec into another database gives the same trials; a re-run proposes nothing more. */
  const char *again[] = {"run", "bgp.yaml", "-j", "1", "--db", "other.db", NULL};
  cr_assert_eq(run("run2.log", NULL, again), 0, "%s", slurp("run2.log"));
  DbTrials o;
  db_trials("other.db", &o);
  cr_assert_eq(o.n, d.n);
  for (size_t k = 0; k < d.n; k++) cr_assert_str_eq(o.hash[k], d.hash[k], "trial %zu", k);
  cr_assert_eq(run("run3.log", NULL, args), 0, "%s", slurp("run3.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), 7);
}

Test(sw_sched, bayes_a_larger_run_cap_continues_the_sweep_a_changed_space_is_refused) {
  write_bayes_spec("bcap", 3, 0, NULL, NULL);
  const char *args[] = {"run", "bcap.yaml", "-q", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), 3);
  write_bayes_spec("bcap", 5, 0, NULL, NULL);
  cr_assert_eq(run("run2.log", NULL, args), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 5);
  write_bayes_spec("bcap", 5, 1, NULL, NULL);
  cr_assert_eq(run("run3.log", NULL, args), 2, "%s", slurp("run3.log"));
  cr_assert(strstr(slurp("run3.log"), "was made with a different search"), "%s", slurp("run3.log"));
}

/* Every configuration of the sweep once: no two trials with the same parameters. */
static void expect_distinct(long long n) {
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), n);
  cr_assert_eq(db_int("SELECT count(DISTINCT params) FROM trials"), n, "a configuration proposed twice");
  cr_assert_eq(db_int("SELECT count(DISTINCT idx) FROM trials"), n);
  cr_assert_eq(db_int("SELECT max(idx) FROM trials"), n - 1);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), n);
}

Test(sw_sched, bayes_tpe_at_j2_on_a_coarse_space_proposes_no_configuration_twice) {
  /* 4 x 4 = 16 points: at 14 trials duplicates are likely unless running ones count. */
  write_bayes_spec("btpe", 14, 1, NULL, "hpsweep: {sampler: tpe}\n");
  const char *args[] = {"run", "btpe.yaml", "-j", "2", "-q", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  expect_distinct(14);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'propose' AND "
                      "json_extract(detail, '$.model') = 'tpe'"), 14);
}

Test(sw_sched, bayes_two_runners_on_one_database_make_exactly_run_cap_trials_none_twice) {
  write_bayes_spec("b2r", 12, 0, NULL, NULL);
  const char *args[] = {"run", "b2r.yaml", "-j", "2", "-q", NULL};
  pid_t a = start("a.log", NULL, args), b = start("b.log", NULL, args);
  cr_assert_eq(wait_exit(a), 0, "%s", slurp("a.log"));
  cr_assert_eq(wait_exit(b), 0, "%s", slurp("b.log"));
  expect_distinct(12);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'propose'"), 12);
}

Test(sw_sched, bayes_metric_target_reached_stops_proposing) {
  write_bayes_spec("btgt", 10, 0, ", target: 1000", NULL); /* Branin stays below 310 on its box */
  const char *args[] = {"run", "btgt.yaml", "-j", "1", "-q", NULL};
  cr_assert_eq(run("run.log", NULL, args), 0, "%s", slurp("run.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), 1);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 1);
}

/* A bayes sweep of the tiny trainer over optimizer.lr (log) x optimizer.weight_decay (values). */
static void write_bayes_trainer_spec(const char *name, int run_cap, int steps) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s.yaml", dir, name);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f,
          "name: %s\nmethod: bayes\nmetric: {name: val_loss, goal: minimize}\nrun_cap: %d\n"
          "parameters:\n  optimizer.lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}\n"
          "  optimizer.weight_decay: {values: [0.0, 0.1]}\n"
          "hpsweep:\n  base:\n"
          "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
          "    optimizer: {grad_clip: 0}\n"
          "    train: {batch_size: 4, max_steps: %d, eval_interval: 10, eval_batches: 2, log_interval: 1}\n",
          name, run_cap, steps);
  fclose(f);
}

Test(sw_sched, bayes_kill_9_of_the_runner_mid_sweep_then_resume_runs_every_trial_once_to_run_cap) {
  write_bayes_trainer_spec("bkill", 6, 40);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=20", "HPS_LEASE_SECONDS=2", NULL};
  const char *args[] = {"run", "bkill.yaml", "-j", "2", "-q", NULL};
  pid_t pid = start("run.log", slow, args);
  int got = 0;
  for (int i = 0; i < 6000 && !got; i++) {
    sleep_ms(5);
    got = db_try_int("SELECT count(*) FROM trials") >= 3 &&
          db_try_int("SELECT count(*) FROM trials WHERE status = 'running'") >= 1;
  }
  cr_assert(got, "the sweep never got to its third trial: %s", slurp("run.log"));
  cr_assert_eq(kill(pid, SIGKILL), 0);
  wait_exit(pid);
  long long before = db_int("SELECT count(*) FROM trials");
  cr_assert_lt(before, 6, "the sweep was over before the kill: the test proves nothing");
  const char *env[] = {"HPS_LEASE_SECONDS=2", NULL};
  cr_assert_eq(run("run2.log", env, args), 0, "%s", slurp("run2.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials"), 6);
  cr_assert_eq(db_int("SELECT count(DISTINCT hash) FROM trials"), 6);
  cr_assert_eq(db_int("SELECT count(DISTINCT params) FROM trials"), 6);
  cr_assert_eq(db_int("SELECT max(idx) FROM trials"), 5);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed'"), 6);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'propose'"), 6, "one proposal per trial");
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'complete'"), 6, "each trial completed once");
}

/* ---- same-host reclaim: a dead runner's trials do not wait out its lease ---- */

Test(sw_sched, a_runner_killed_mid_trial_is_reclaimed_at_once_by_another_runner_on_the_same_host) {
  write_spec("dead", "[0.001]", 1, 150, 1, 0, NULL);
  const char *slow[] = {"HPS_TEST_STEP_DELAY_MS=20", "HPS_LEASE_SECONDS=600", NULL};
  const char *args[] = {"run", "dead.yaml", "--quiet", NULL};
  pid_t pid = start("dead.log", slow, args);
  wait_running(1, "dead.log");
  wait_rows("hpsweep.db", 5, "dead.log");
  kill(-pid, SIGKILL); /* the runner and its worker: nothing records anything */
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  char boot[64] = "", want[160], got[160];
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  cr_assert_not_null(f);
  cr_assert_not_null(fgets(boot, sizeof boot, f));
  fclose(f);
  boot[strcspn(boot, "\n")] = '\0';
  sqlite3 *db = db_open();
  q_text(db, "SELECT owner FROM trials WHERE status = 'running'", got, sizeof got);
  sqlite3_close(db);
  snprintf(want, sizeof want, "%s ", boot);
  cr_assert(strncmp(got, want, strlen(want)) == 0, "the claim records its boot id: '%s'", got);
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'running' AND "
                      "lease_until > CAST(strftime('%s', 'now') AS REAL) + 300"), 1, "a live lease of 600 s");
  /* Waiting out the lease would take 600 s: the new runner sees the owner's pid gone and takes over. */
  const char *lease[] = {"HPS_LEASE_SECONDS=600", NULL};
  pid_t again = start("again.log", lease, args);
  cr_assert_eq(wait_exit_within(again, 150, "again.log"), 0, "%s", slurp("again.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 2"), 1, "%s",
               slurp("again.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'expire'"), 1);
  cr_assert_eq(db_int("SELECT count(*) FROM events WHERE kind = 'reclaim'"), 1);
}

/* ---- a kill between a checkpoint's rename and its record: the reclaim finds the newer file ---- */

/* The trial's curve: every metric row but the wall-clock seconds, exact. */
static char *curve_of(const char *name) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  static char buf[2][1 << 16];
  static int k;
  char *out = buf[k++ % 2];
  q_text(db, "SELECT group_concat(r, ';') FROM (SELECT name || ' ' || step || ' ' || tokens || ' ' || "
             "printf('%!.17g', value) AS r FROM metrics WHERE name != 'tokens_per_second' ORDER BY name, step)",
         out, sizeof buf[0]);
  sqlite3_close(db);
  return out;
}

Test(sw_sched, a_kill_between_a_checkpoints_rename_and_its_record_resumes_from_that_file_bit_identically) {
  write_spec("ck", "[0.003]", 1, 60, 1, 0, NULL); /* a checkpoint every 10 steps (eval_interval) */
  const char *ref_args[] = {"run", "ck.yaml", "--quiet", "--db", "ref.db", NULL};
  cr_assert_eq(run("ref.log", NULL, ref_args), 0, "%s", slurp("ref.log"));
  /* The runner and its worker die right after the file of step 30 is in place: the store says 20. */
  const char *crash[] = {"HPS_TEST_CRASH_AFTER_SAVE=30", "HPS_LEASE_SECONDS=600", NULL};
  const char *args[] = {"run", "ck.yaml", "--quiet", NULL};
  pid_t pid = start("crash.log", crash, args);
  int st = wait_exit(pid);
  cr_assert_eq(st, 128 + SIGKILL, "the runner was killed: %d %s", st, slurp("crash.log"));
  kill(-pid, SIGKILL);
  cr_assert_eq(db_int("SELECT checkpoint_step FROM trials WHERE status = 'running'"), 20, "%s", slurp("crash.log"));
  cr_assert(db_int("SELECT max(step) FROM metrics") >= 30, "the rows up to the file are stored before it");
  /* Another runner (same host: it takes over at once) resumes from step 30, not 20 nor 0. */
  const char *lease[] = {"HPS_LEASE_SECONDS=600", NULL};
  const char *verbose[] = {"run", "ck.yaml", NULL};
  pid_t again = start("again.log", lease, verbose);
  cr_assert_eq(wait_exit_within(again, 150, "again.log"), 0, "%s", slurp("again.log"));
  char why[600];
  sqlite3 *db = db_open();
  q_text(db, "SELECT message FROM events WHERE kind = 'rescan'", why, sizeof why);
  sqlite3_close(db);
  cr_assert(strstr(why, "resuming from step 30 of ") && strstr(why, "(step 20)"), "'%s' %s", why, slurp("again.log"));
  cr_assert_eq(db_int("SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 2"), 1);
  cr_assert_str_eq(curve_of("hpsweep.db"), curve_of("ref.db"), "the curve of a run straight through");
}
