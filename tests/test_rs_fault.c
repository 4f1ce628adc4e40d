/* I/O faults under the results: the store's writes and fsyncs failing (or the disk full) at the
** k-th call during a running sweep (HPS_TEST_VFS_FAIL, a SQLite VFS shim), and every file
** hpsweep writes (report, figures, export, checkpoint) failing at each stage of its atomic write
** (HPS_TEST_WRITE_FAIL) or for real (over `ulimit -f`, /dev/full, a directory we may not write).
** After any of them: the database is intact and loses no completed trial, a rerun finishes the
** sweep, a previous file is byte for byte what it was, no temporary is left, one line says why. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "hps_test.h"

#define N_TRIALS 6

static char dir[256];

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "hps_fault_");
  hps_put(dir, "s.yaml",
          "name: vfs\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"
          "parameters:\n  optimizer.lr:\n    values: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006]\n"
          "hpsweep:\n  workers: 2\n  max_retries: 2\n  base:\n"
          "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
          "    train: {batch_size: 4, max_steps: 20, eval_interval: 10, eval_batches: 2, log_interval: 5}\n");
  hps_put(dir, "lsan.supp", "leak:libfontconfig.so\nleak:libcairo.so\n");
}

static void teardown(void) { cr_assert_eq(hps_tmp_remove(dir), 0); }

TestSuite(rs_fault, .init = setup, .fini = teardown, .timeout = 550);

/* `ENV hpsweep ARGS` in dir, stdout and stderr into out; the exit status. Under LeakSanitizer,
** fontconfig's cache (PLplot's cairo drivers keep it until exit) is not ours: suppressed. */
static int run_env(const char *env, const char *args, char *out, size_t n) {
  char cmd[1400];
  snprintf(cmd, sizeof cmd,
           "cd '%s' && export LSAN_OPTIONS=suppressions='%s/lsan.supp':print_suppressions=0 && %s '%s' %s 2>&1",
           dir, dir, env, hps_bin(), args);
  return hps_shell(cmd, out, n);
}

/* What a completed trial keeps: its best metric and summary (by idx). */
typedef struct Done {
  int completed;
  double best;
  char summary[2048];
} Done;

/* The database is intact; the completed trials into rec (fresh = 1) or checked against it.
** Returns the number completed (0 if the sweep's trials were never created). */
static int db_check(Done *rec, int fresh, const char *what) {
  sqlite3 *db = hps_db_open(dir, "hpsweep.db");
  hps_assert_intact(db, what);
  sqlite3_stmt *s;
  int n = 0;
  if (hps_q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'trials'") != 1) {
    sqlite3_close(db);
    return 0;
  }
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM events WHERE kind = 'complete' "
                         "GROUP BY trial_id HAVING count(*) > 1)"), 0, "%s: a trial completed twice", what);
  cr_assert_eq(sqlite3_prepare_v2(db, "SELECT idx, best_metric, summary FROM trials WHERE status = 'completed'",
                                  -1, &s, NULL), SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int idx = sqlite3_column_int(s, 0);
    cr_assert(idx >= 0 && idx < N_TRIALS);
    cr_assert_eq(sqlite3_column_type(s, 1), SQLITE_FLOAT, "%s: trial %d completed without a metric", what, idx);
    if (fresh) {
      rec[idx].completed = 1;
      rec[idx].best = sqlite3_column_double(s, 1);
      snprintf(rec[idx].summary, sizeof rec[idx].summary, "%s", (const char *)sqlite3_column_text(s, 2));
    } else if (rec[idx].completed) {
      cr_assert_eq(sqlite3_column_double(s, 1), rec[idx].best, "%s: trial %d changed its best", what, idx);
      cr_assert_str_eq((const char *)sqlite3_column_text(s, 2), rec[idx].summary, "%s: trial %d", what, idx);
    }
    n++;
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  return n;
}

/* One faulted run and its rerun; returns 1 if the fault stopped the sweep with trials completed. */
static int fault_case(const char *fault, const char *cause) {
  char cmd[300], out[1 << 14];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'/hpsweep.db*", dir);
  cr_assert_eq(system(cmd), 0);
  snprintf(cmd, sizeof cmd, "HPS_TEST_VFS_FAIL=%s HPS_LEASE_SECONDS=1", fault);
  int rc = run_env(cmd, "run s.yaml --quiet", out, sizeof out), stopped = rc != 0;
  static Done rec[N_TRIALS];
  memset(rec, 0, sizeof rec);
  int before = db_check(rec, 1, fault);
  if (rc == 0) {
    cr_assert_eq(before, N_TRIALS, "%s: carried on but did not finish: %s", fault, out);
  } else {
    cr_assert(rc == 1 || rc == 2, "%s: exit %d: %s", fault, rc, out);
    cr_assert_eq(hps_count(out, "\n"), 1, "%s: not one line: %s", fault, out);
    cr_assert(strstr(out, "hpsweep run: hpsweep.db: ") == out, "%s: does not name the database: %s", fault, out);
    cr_assert(strstr(out, cause), "%s: no '%s' in: %s", fault, cause, out);
  }
  /* The fault cleared: the same command finishes, nothing completed before is lost or changed. */
  rc = run_env("HPS_LEASE_SECONDS=1", "run s.yaml --quiet", out, sizeof out);
  cr_assert_eq(rc, 0, "%s: the rerun: %s", fault, out);
  cr_assert_eq(db_check(rec, 0, fault), N_TRIALS, "%s: the rerun: %s", fault, out);
  return stopped && before > 0 && before < N_TRIALS;
}

/* K spans the whole sweep: the first write (the database's creation) to past its last. A one-off
** fault may be absorbed (a worker's failed write is a retried trial); a lasting one stops it. */
Test(rs_fault, store_write_fsync_or_disk_full_at_the_kth_call_stops_cleanly_or_carries_on_and_a_rerun_finishes) {
  static const char *faults[] = {"write:1", "write:60",  "write:100", "write:120", "write:140",
                                 "write:90+", "sync:4",   "sync:15",   "sync:10+",  "full:1",
                                 "full:100",  "full:120", "full:140",  "full:120+"};
  int mid = 0;
  for (size_t i = 0; i < sizeof faults / sizeof *faults; i++) {
    const char *cause = strncmp(faults[i], "full", 4) == 0 ? "database or disk is full" : "disk I/O error";
    mid += fault_case(faults[i], cause);
  }
  cr_assert(mid > 0, "no fault stopped the sweep between trials: K no longer spans a running sweep");
}

Test(rs_fault, a_malformed_vfs_fault_is_refused_naming_it) {
  char out[1024];
  cr_assert_eq(run_env("HPS_TEST_VFS_FAIL=write:0", "run s.yaml --quiet", out, sizeof out), 2, "%s", out);
  cr_assert(strstr(out, "HPS_TEST_VFS_FAIL=write:0: expected write:K"), "%s", out);
}

/* ---- files written atomically: report, figures, export, checkpoint ---- */

/* dir/sub holds one file (no temporary beside it); its names into buf. */
static void listing(const char *sub, char *buf, size_t n) {
  char path[600];
  snprintf(path, sizeof path, "%s/%s", dir, sub);
  DIR *d = opendir(path);
  cr_assert_not_null(d, "%s", path);
  buf[0] = '\0';
  struct dirent *e;
  int k = 0;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) k++, strncat(buf, e->d_name, n - strlen(buf) - 2);
  closedir(d);
  cr_assert_eq(k, 1, "%s holds more than its one file (a temporary left?): %s", sub, buf);
}

/* The file dir/rel whole (free it), its length in *len. */
static char *content(const char *rel, size_t *len) {
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, rel);
  return hps_slurp(path, len);
}

/* `ENV hpsweep ARGS` fails with one line "hpsweep CMD: FILE: ...CAUSE..." and leaves FILE (in a
** directory of its own) as it was, with nothing beside it. */
static void expect_kept(const char *env, const char *args, const char *cmd, const char *file, const char *cause) {
  size_t n0, n1;
  char *before = content(file, &n0), out[4096], want[300], sub[300], names[1024];
  int rc = run_env(env, args, out, sizeof out);
  cr_assert_neq(rc, 0, "%s %s: exit 0: %s", env, args, out);
  snprintf(want, sizeof want, "hpsweep %s: %s: ", cmd, file);
  const char *line = strstr(out, want); /* train logs its steps on stdout before the error */
  cr_assert(line && hps_count(line, "\n") <= 1 && strstr(line, cause), "%s %s: want '%s...%s' in: %s", env, args,
            want, cause, out);
  char *after = content(file, &n1);
  cr_assert(n0 == n1 && memcmp(before, after, n0) == 0, "%s %s: %s changed", env, args, file);
  snprintf(sub, sizeof sub, "%.*s", (int)(strrchr(file, '/') - file), file);
  listing(sub, names, sizeof names);
  free(before), free(after);
}

#define TRAIN_TINY                                                                                        \
  "train --set model.n_layer=1 --set model.n_head=2 --set model.d_model=16 --set model.context_length=16 " \
  "--set train.batch_size=4 --set train.max_steps=20 --set train.eval_interval=10 --set train.out_dir=ck"

typedef struct Out {
  const char *cmd, *args, *file;
} Out;

static const Out outs[] = {
    {"report", "report vfs -o r/r.html", "r/r.html"}, {"plot", "plot vfs -o s/p.svg", "s/p.svg"},
    {"plot", "plot vfs -o p/p.png", "p/p.png"},       {"plot", "plot vfs -o d/p.pdf", "d/p.pdf"},
    {"export", "export vfs -o e/e.csv", "e/e.csv"},   {"train", TRAIN_TINY, "ck/ckpt.bin"}};

/* The sweep run, and each file written once: the previous version the faults must keep. */
static void write_all_once(void) {
  char out[1 << 14];
  cr_assert_eq(run_env("", "run s.yaml --quiet", out, sizeof out), 0, "%s", out);
  for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
    char mk[400];
    snprintf(mk, sizeof mk, "mkdir -p '%s/%.*s'", dir, (int)(strchr(outs[i].file, '/') - outs[i].file),
             outs[i].file);
    cr_assert_eq(system(mk), 0);
    cr_assert_eq(run_env("", outs[i].args, out, sizeof out), 0, "%s: %s", outs[i].args, out);
  }
}

Test(rs_fault, every_file_failing_at_each_stage_of_its_write_is_kept_whole_with_no_temporary_and_one_line) {
  write_all_once();
  static const char *stage[][2] = {{"open", "cannot write: Permission denied"},
                                   {"write", "write failed: No space left on device"},
                                   {"fsync", "fsync failed: Input/output error"},
                                   {"rename", "rename failed: Permission denied"}};
  for (size_t s = 0; s < 4; s++)
    for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
      char env[64];
      snprintf(env, sizeof env, "HPS_TEST_WRITE_FAIL=%s", stage[s][0]);
      expect_kept(env, outs[i].args, outs[i].cmd, outs[i].file, stage[s][1]);
    }
}

/* A real write error from the kernel, no hook: over `ulimit -f 64` (512-byte blocks in dash: 32 KiB;
** 64 KiB in bash) a write fails (EFBIG; SIGXFSZ is ignored), as on a full disk. The limit stays at or
** above the database's shared memory file (32 KiB, which a reader re-creates); the report (~190 KiB)
** and the checkpoint (~90 KiB) are well over it. */
Test(rs_fault, a_report_and_a_checkpoint_over_ulimit_f_are_kept_whole_with_no_temporary_and_one_line) {
  write_all_once();
  for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
    if (strcmp(outs[i].cmd, "report") && strcmp(outs[i].cmd, "train")) continue;
    expect_kept("ulimit -f 64;", outs[i].args, outs[i].cmd, outs[i].file, "write failed: File too large");
  }
}

Test(rs_fault, an_export_to_a_full_standard_output_fails_with_one_line) {
  write_all_once();
  char out[4096];
  char cmd[600];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' export vfs 2>&1 >/dev/full", dir, hps_bin());
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 1, "%s", out);
  cr_assert_str_eq(out, "hpsweep export: standard output: No space left on device\n");
}

/* A directory we may not write: chmod 0500 (as root, which writes anyway, the command runs
** as nobody: the test runs the same everywhere, CI's root included). */
Test(rs_fault, every_file_in_an_unwritable_directory_is_kept_whole_with_no_temporary_and_one_line) {
  write_all_once();
  char cmd[600];
  snprintf(cmd, sizeof cmd, "chmod 0755 '%s' && chmod -R a+rX '%s'", dir, dir);
  cr_assert_eq(system(cmd), 0);
  const char *as = geteuid() == 0 ? "setpriv --reuid=65534 --regid=65534 --clear-groups" : "";
  for (size_t i = 0; i < sizeof outs / sizeof *outs; i++) {
    if (strcmp(outs[i].cmd, "train") == 0) continue; /* below: nobody cannot write the run's own files */
    snprintf(cmd, sizeof cmd, "chmod 0500 '%s/%.*s'", dir, (int)(strchr(outs[i].file, '/') - outs[i].file),
             outs[i].file);
    cr_assert_eq(system(cmd), 0);
    expect_kept(as, outs[i].args, outs[i].cmd, outs[i].file, "cannot write: Permission denied");
  }
}
