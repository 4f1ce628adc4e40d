/* Crash safety of a sweep: `hpsweep run` (and/or its workers) killed with
** SIGKILL at random moments, many times over. After every kill the database is
** intact, no completed trial is lost or changed, none completes twice; then a
** plain resume finishes the sweep with exactly one completed trial per point. The same
** with ASHA's pauses and promotions: each stop and each promotion applied once. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hps_test.h"
#include "tr_rng.h"

#define N_TRIALS 24
#define N_KILLS 24

static char dir[256];

static void setup(void) { hps_tmp_make(dir, sizeof dir, "hps_crash_"); }

static void teardown(void) {
  if (!getenv("HPS_KEEP")) cr_assert_eq(hps_tmp_remove(dir), 0); /* HPS_KEEP: leave it to look at */
}

TestSuite(sw_crash, .init = setup, .fini = teardown, .timeout = 300);

static pid_t start_spec(const char *log, const char *spec) {
  const char *bin = getenv("HPS_BIN");
  cr_assert_not_null(bin, "HPS_BIN is not set (run through meson test)");
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0); /* its own group: the test can kill the runner with all its workers */
    if (chdir(dir) != 0) _exit(127);
    int fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0) _exit(127);
    dup2(fd, 1);
    dup2(fd, 2);
    setenv("HPS_LEASE_SECONDS", "1", 1);
    /* Runners killed 24 times may leave one trial to expire more than RS_RECLAIM_MAX
    ** times before it reaches a checkpoint: that cap is not what this test is about. */
    setenv("HPS_RECLAIM_MAX", "1000", 1);
    /* Each logged step sleeps, so the sweep outlasts the kills however fast the trainer is. */
    setenv("HPS_TEST_STEP_DELAY_MS", "15", 1);
    execl(bin, bin, "run", spec, "-j", "2", "--quiet", (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid);
  return pid;
}

static pid_t start(const char *log) { return start_spec(log, "crash.yaml"); }

static void sleep_ms(long ms) {
  struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
  nanosleep(&ts, NULL);
}

static sqlite3 *db_open(void) {
  char path[400];
  snprintf(path, sizeof path, "%s/hpsweep.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK);
  sqlite3_busy_timeout(db, 20000);
  return db;
}


/* What a completed trial must keep forever. */
typedef struct Done {
  int completed;
  double best;
  char summary[2048];
} Done;

/* Check the database and extend the record of completed trials (by idx). */
static void check(Done *rec, int round) {
  sqlite3 *db = db_open();
  char what[32];
  snprintf(what, sizeof what, "round %d", round);
  hps_assert_intact(db, what);
  sqlite3_stmt *s;
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials"), N_TRIALS, "round %d", round);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM events WHERE kind = 'complete' "
                         "GROUP BY trial_id HAVING count(*) > 1)"), 0, "round %d: a trial completed twice", round);
  cr_assert_eq(sqlite3_prepare_v2(db, "SELECT idx, status, best_metric, summary FROM trials", -1, &s, NULL),
               SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int idx = sqlite3_column_int(s, 0);
    cr_assert(idx >= 0 && idx < N_TRIALS);
    int completed = strcmp((const char *)sqlite3_column_text(s, 1), "completed") == 0;
    Done *d = &rec[idx];
    if (d->completed) {
      cr_assert(completed, "round %d: completed trial %d became %s", round, idx, sqlite3_column_text(s, 1));
      cr_assert_eq(sqlite3_column_double(s, 2), d->best, "round %d: trial %d changed its best", round, idx);
      cr_assert_str_eq((const char *)sqlite3_column_text(s, 3), d->summary, "round %d: trial %d", round, idx);
    } else if (completed) {
      cr_assert_eq(sqlite3_column_type(s, 2), SQLITE_FLOAT, "round %d: trial %d completed without a metric",
                   round, idx);
      d->completed = 1;
      d->best = sqlite3_column_double(s, 2);
      snprintf(d->summary, sizeof d->summary, "%s", (const char *)sqlite3_column_text(s, 3));
    }
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

Test(sw_crash, sigkill_at_random_moments_loses_nothing_and_a_resume_finishes) {
  char path[400];
  snprintf(path, sizeof path, "%s/crash.yaml", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "name: crash\nmethod: grid\nparameters:\n"
             "  optimizer.lr:\n    values: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, "
             "0.011, 0.012]\n"
             "  train.seed:\n    values: [1, 2]\n"
             "hpsweep:\n  max_retries: 20\n  base:\n"
             "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
             "    train: {batch_size: 4, max_steps: 100, eval_interval: 10, eval_batches: 2, log_interval: 5}\n");
  fclose(f);
  TrRng rng;
  tr_rng_seed(&rng, 20240601);
  static Done rec[N_TRIALS];
  memset(rec, 0, sizeof rec);
  int kills = 0, created = 0;
  for (int round = 0; round < N_KILLS; round++) {
    pid_t pid = start("runs.log");
    sleep_ms(40 + (long)tr_rng_below(&rng, 400));
    int mode = round % 3; /* every kind of kill, at random moments */
    if (mode == 1) { /* the runner with all its workers */
      kill(-pid, SIGKILL);
    } else if (mode == 2) { /* one worker (when there is one), then the runner */
      pid_t w[8];
      int nw = hps_children_of(pid, w, 8);
      if (nw > 0) kill(w[tr_rng_below(&rng, (uint64_t)nw)], SIGKILL);
      sleep_ms((long)tr_rng_below(&rng, 100));
      kill(pid, SIGKILL);
    } else { /* the runner only: its workers stop by themselves */
      kill(pid, SIGKILL);
    }
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    if (WIFSIGNALED(ws)) kills++;
    snprintf(path, sizeof path, "%s/hpsweep.db", dir);
    if (access(path, F_OK) != 0) continue; /* killed before it created the file */
    sqlite3 *db = db_open();
    int has = hps_q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'trials'") == 1 &&
              hps_q_int(db, "SELECT count(*) FROM trials") == N_TRIALS;
    sqlite3_close(db);
    if (!has) continue; /* killed while creating: the next run creates it */
    created = 1;
    check(rec, round);
  }
  cr_assert(kills >= 20, "only %d of the runs were killed (the sweep finished too early)", kills);
  cr_assert(created);
  /* Resume to the end: orphaned workers finish or stop, expired leases are reclaimed. */
  pid_t pid = start("final.log");
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  char buf[1 << 14] = "";
  snprintf(path, sizeof path, "%s/final.log", dir);
  f = fopen(path, "r");
  if (f) {
    buf[fread(buf, 1, sizeof buf - 1, f)] = '\0';
    fclose(f);
  }
  cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "final run: %s", buf);
  check(rec, N_KILLS);
  sqlite3 *db = db_open();
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), N_TRIALS, "%s", buf);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'complete'"), N_TRIALS);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE steps = 100"), N_TRIALS);
  cr_assert(hps_q_int(db, "SELECT count(*) FROM events WHERE kind IN ('resume', 'reclaim')") > 0,
            "no trial was ever resumed: the kills came too late");
  /* Every curve is whole after all the restarts: one train_loss row per logged step. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM metrics WHERE name = 'train_loss' "
                         "GROUP BY trial_id HAVING count(*) != 21)"), 0);
  sqlite3_close(db);
  for (int i = 0; i < N_TRIALS; i++) cr_assert(rec[i].completed);
}

/* Kill the runner (or a worker, then the runner) at a random moment; 1 if it died of it. */
static int kill_at_random(pid_t pid, TrRng *rng, int round) {
  sleep_ms(40 + (long)tr_rng_below(rng, 400));
  if (round % 3 == 1) {
    kill(-pid, SIGKILL);
  } else if (round % 3 == 2) {
    pid_t w[8];
    int nw = hps_children_of(pid, w, 8);
    if (nw > 0) kill(w[tr_rng_below(rng, (uint64_t)nw)], SIGKILL);
    sleep_ms((long)tr_rng_below(rng, 100));
    kill(pid, SIGKILL);
  } else {
    kill(pid, SIGKILL);
  }
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  return WIFSIGNALED(ws);
}

/* The last run, to the end: it must exit 0; its log into buf. */
static void final_run(const char *spec, char *buf, size_t n) {
  pid_t pid = start_spec("final.log", spec);
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  char path[400];
  snprintf(path, sizeof path, "%s/final.log", dir);
  FILE *f = fopen(path, "r");
  buf[0] = '\0';
  if (f) {
    buf[fread(buf, 1, n - 1, f)] = '\0';
    fclose(f);
  }
  cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "final run: %s", buf);
}

/* The database after a kill, its file checked intact (PRAGMA integrity_check). */
static sqlite3 *db_open_intact(int round) {
  sqlite3 *db = db_open();
  char what[32];
  snprintf(what, sizeof what, "round %d", round);
  hps_assert_intact(db, what);
  return db;
}

/* What must hold after any kill: the file intact, no trial completed or pruned twice, no
** promotion without a pause before it, no pause twice in a row, no trial leaving a final state. */
static void check_asha(int round, unsigned char *final_state) {
  sqlite3 *db = db_open_intact(round);
  sqlite3_stmt *s;
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM events WHERE kind IN ('complete', 'prune') "
                             "GROUP BY trial_id HAVING count(*) > 1)"), 0, "round %d: a trial ended twice", round);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT kind, lag(kind) OVER (PARTITION BY trial_id ORDER BY id) "
                             "AS prev FROM events WHERE kind IN ('pause', 'promote')) WHERE prev IS kind OR "
                             "(kind = 'promote' AND prev IS NULL)"), 0,
               "round %d: a promotion applied twice, or a pause twice", round);
  cr_assert_eq(sqlite3_prepare_v2(db, "SELECT idx, status FROM trials", -1, &s, NULL), SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    int idx = sqlite3_column_int(s, 0);
    const char *st = (const char *)sqlite3_column_text(s, 1);
    unsigned char now = strcmp(st, "completed") == 0 ? 1 : strcmp(st, "pruned") == 0 ? 2 : 0;
    cr_assert(final_state[idx] == 0 || final_state[idx] == now, "round %d: trial %d left its final state for %s", round,
              idx, st);
    final_state[idx] = now;
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
}

Test(sw_crash, asha_sigkill_at_random_moments_then_resume_ends_each_trial_once_and_promotes_each_pause_once) {
  char path[400];
  snprintf(path, sizeof path, "%s/asha.yaml", dir);
  FILE *f = fopen(path, "w");
  cr_assert_not_null(f);
  fprintf(f, "name: asha\nmethod: grid\nparameters:\n"
             "  optimizer.lr:\n    values: [0.03, 0.1, 0.01, 0.3, 0.003, 0.001, 0.0003, 0.0001, 0.05, 0.02, 0.2, "
             "0.005, 0.04, 0.06, 0.008, 0.0008, 0.15, 0.002]\n"
             "hpsweep:\n  max_retries: 20\n"
             "  early_terminate: {type: asha, grace_period: 10, max_t: 90, reduction_factor: 3}\n  base:\n"
             "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
             /* every step logged, so every step sleeps (HPS_TEST_STEP_DELAY_MS): the sweep outlasts the kills */
             "    train: {batch_size: 4, max_steps: 90, eval_interval: 10, eval_batches: 2, log_interval: 1}\n");
  fclose(f);
  TrRng rng;
  tr_rng_seed(&rng, 20261202);
  unsigned char final_state[18] = {0};
  int kills = 0, created = 0;
  for (int round = 0; round < 18; round++) {
    kills += kill_at_random(start_spec("runs.log", "asha.yaml"), &rng, round);
    snprintf(path, sizeof path, "%s/hpsweep.db", dir);
    if (access(path, F_OK) != 0) continue;
    sqlite3 *db = db_open();
    int has = hps_q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'trials'") == 1 &&
              hps_q_int(db, "SELECT count(*) FROM trials") == 18;
    sqlite3_close(db);
    if (!has) continue;
    created = 1;
    check_asha(round, final_state);
  }
  cr_assert(kills >= 14, "only %d of the runs were killed (the sweep finished too early)", kills);
  cr_assert(created);
  static char buf[1 << 14];
  final_run("asha.yaml", buf, sizeof buf);
  check_asha(99, final_state);
  sqlite3 *db = db_open();
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status IN ('completed', 'pruned')"), 18, "%s", buf);
  cr_assert_geq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"), 1);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'complete'"),
               hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed'"));
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'prune'"),
               hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned'"));
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE (SELECT count(*) FROM events WHERE trial_id = t.id "
                             "AND kind = 'pause') != (SELECT count(*) FROM events WHERE trial_id = t.id AND kind = "
                             "'promote') + (t.status = 'pruned')"), 0, "a pause not promoted, or promoted twice");
  cr_assert(hps_q_int(db, "SELECT count(*) FROM events WHERE kind IN ('resume', 'reclaim')") > 0,
            "no trial was ever resumed: the kills came too late");
  /* Completed trials have their whole curve after every restart: one val_loss per 10 steps. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE status = 'completed' AND (steps != 90 OR "
                             "(SELECT count(*) FROM metrics WHERE trial_id = t.id AND name = 'val_loss') != 9)"), 0);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'pruned' AND steps != rung"), 0);
  sqlite3_close(db);
}

/* PBT: after any kill, no member was decided twice at one step (a copy applied once) and the
** file is intact; the copies' lineage matches the stored params. */
static void check_pbt(int round) {
  sqlite3 *db = db_open_intact(round);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id, json_extract(detail, '$.step') FROM events "
                             "WHERE kind = 'exploit' GROUP BY 1, 2 HAVING count(*) > 1)"), 0,
               "round %d: a copy applied twice", round);
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM events WHERE kind = 'complete' "
                             "GROUP BY trial_id HAVING count(*) > 1)"), 0, "round %d: a member completed twice", round);
  /* A member's stored params are those of its last copy. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials t WHERE EXISTS (SELECT 1 FROM events WHERE trial_id = t.id "
                             "AND kind = 'exploit') AND json(t.params) != (SELECT json_extract(detail, '$.params') FROM "
                             "events WHERE trial_id = t.id AND kind = 'exploit' ORDER BY id DESC LIMIT 1)"), 0,
               "round %d: params and lineage disagree", round);
  sqlite3_close(db);
}

Test(sw_crash, pbt_sigkill_at_random_moments_then_resume_applies_each_copy_once) {
  char path[400];
  hps_put(dir, "pbt.yaml", "name: pbt\nmethod: random\nparameters:\n"
             "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n"
             "hpsweep:\n  seed: 5\n  max_retries: 20\n"
             "  pbt: {population: 6, perturbation_interval: 10, quantile_fraction: 0.5, mutations: [optimizer.lr]}\n"
             "  base:\n    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
             "    schedule: {name: constant}\n"
             /* every step logged, so every step sleeps (HPS_TEST_STEP_DELAY_MS): the sweep outlasts the kills */
             "    train: {batch_size: 4, max_steps: 60, eval_interval: 10, eval_batches: 2, log_interval: 1}\n");
  TrRng rng;
  tr_rng_seed(&rng, 20261203);
  int kills = 0, created = 0;
  for (int round = 0; round < 16; round++) {
    pid_t pid = start_spec("runs.log", "pbt.yaml");
    sleep_ms(40 + (long)tr_rng_below(&rng, 400));
    /* The runner with its workers (a copy's transaction cut anywhere), or the runner alone (its
    ** workers stop and record themselves). A worker killed alone would make its member failed,
    ** retried from step 0: a new run, not what this test is about. */
    kill(round % 2 ? -pid : pid, SIGKILL);
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    kills += WIFSIGNALED(ws);
    snprintf(path, sizeof path, "%s/hpsweep.db", dir);
    if (access(path, F_OK) != 0) continue;
    sqlite3 *db = db_open();
    int has = hps_q_int(db, "SELECT count(*) FROM sqlite_master WHERE name = 'trials'") == 1 &&
              hps_q_int(db, "SELECT count(*) FROM trials") == 6;
    sqlite3_close(db);
    if (!has) continue;
    created = 1;
    check_pbt(round);
  }
  cr_assert(kills >= 12, "only %d of the runs were killed (the sweep finished too early)", kills);
  cr_assert(created);
  static char buf[1 << 14];
  final_run("pbt.yaml", buf, sizeof buf);
  check_pbt(99);
  sqlite3 *db = db_open();
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE status = 'completed' AND steps = 60"), 6, "%s", buf);
  cr_assert_gt(hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'exploit'"), 0);
  cr_assert(hps_q_int(db, "SELECT count(*) FROM events WHERE kind IN ('resume', 'reclaim')") > 0,
            "no member was ever resumed: the kills came too late");
  /* No lost or duplicated step: one lr row per step of every member. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM (SELECT trial_id FROM metrics WHERE name = 'lr' GROUP BY trial_id "
                             "HAVING count(*) != 60 OR min(step) != 1 OR max(step) != 60)"), 0);
  /* After each copy, up to the member's next one, it trained with the copy's lr. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM events e JOIN metrics m ON m.trial_id = e.trial_id AND m.name = 'lr' "
                             "AND m.step > json_extract(e.detail, '$.step') AND m.step <= coalesce((SELECT "
                             "min(json_extract(g.detail, '$.step')) FROM events g WHERE g.trial_id = e.trial_id AND "
                             "g.kind = 'exploit' AND json_extract(g.detail, '$.step') > json_extract(e.detail, "
                             "'$.step')), 1e18) WHERE e.kind = 'exploit' AND m.value != json_extract(e.detail, "
                             "'$.params.\"optimizer.lr\"')"), 0);
  /* Every member was decided at every perturbation step below its end. */
  cr_assert_eq(hps_q_int(db, "SELECT count(*) FROM trials WHERE rung = 50"), 6);
  sqlite3_close(db);
}
