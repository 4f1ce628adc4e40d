/*
** hps_test.h: helpers the Criterion tests share: a temp directory per test, files
** written and read whole, and the built hpsweep run with its output captured.
**
** Contract: every helper asserts its own preconditions (a directory made, a file
** opened, HPS_BIN set) with cr_assert, so a test fails at the helper, not later on a
** NULL. Nothing here asserts what a test is about: that stays in the tests.
** Header-only (static inline), included by path: no build change.
*/
#ifndef HPS_TEST_H
#define HPS_TEST_H

#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* A PBT sweep of 6 members on a tiny model for 100 steps, decided every 20 (the lr and an own
** weight-decay distribution mutate); HPSWEEP: more lines of its hpsweep: block ("  db: p.db\n"). */
#define HPS_PBT_TINY_SPEC(HPSWEEP)                                                                            \
  "name: pbt\nmethod: random\nmetric: {name: val_loss, goal: minimize}\nparameters:\n"                    \
  "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n"                             \
  "hpsweep:\n  seed: 3\n" HPSWEEP "  pbt:\n    population: 6\n    perturbation_interval: 20\n"           \
  "    mutations: {optimizer.lr: {}, optimizer.weight_decay: {distribution: uniform, min: 0, max: 0.2}}\n"    \
  "  base:\n    data: {synthetic_bytes: 20000}\n"                                                           \
  "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n    schedule: {name: constant}\n"  \
  "    train: {batch_size: 4, max_steps: 100, eval_interval: 10, eval_batches: 2, log_interval: 5}\n"

/* mkdtemp "/tmp/<prefix>XXXXXX" into dir (n bytes). */
static inline void hps_tmp_make(char *dir, size_t n, const char *prefix) {
  snprintf(dir, n, "/tmp/%sXXXXXX", prefix);
  cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
}

/* rm -rf dir; returns system()'s status (0 when removed). */
static inline int hps_tmp_remove(const char *dir) {
  char cmd[PATH_MAX + 16];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  return system(cmd);
}

/* Write text to dir/name; returns the path (a static buffer, valid until the next call). */
static inline const char *hps_put(const char *dir, const char *name, const char *text) {
  static char p[PATH_MAX + 300];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f, "cannot write %s", p);
  fputs(text, f);
  fclose(f);
  return p;
}

/* The whole file, NUL-terminated (free it); its length in *len unless len is NULL. */
static inline char *hps_slurp(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s missing", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  if (len) *len = (size_t)n;
  return s;
}

/* Occurrences of needle in s (not overlapping). */
static inline int hps_count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* The hpsweep binary under test (env HPS_BIN). */
static inline const char *hps_bin(void) {
  const char *bin = getenv("HPS_BIN");
  cr_assert(bin && *bin, "HPS_BIN is not set");
  return bin;
}

/* Run the shell command cmd with its stdout captured into out (the first n - 1 bytes,
** NUL-terminated); returns the exit status (-1 if it did not exit). */
static inline int hps_shell(const char *cmd, char *out, size_t n) {
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p, "popen %s", cmd);
  size_t len = fread(out, 1, n - 1, p);
  out[len] = '\0';
  char rest[512]; /* drain what did not fit, so the command never dies of SIGPIPE */
  while (fread(rest, 1, sizeof rest, p) > 0) continue;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Run `hpsweep ARGS` in dir with stdout and stderr captured into out, as hps_shell. */
static inline int hps_run(const char *dir, const char *args, char *out, size_t n) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' %s 2>&1", dir, hps_bin(), args);
  return hps_shell(cmd, out, n);
}

/* The first column of the first row of sql as an integer (-1 if no row). */
static inline long long hps_q_int(sqlite3 *db, const char *sql) {
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, sql, -1, &s, NULL), SQLITE_OK, "%s: %s", sql, sqlite3_errmsg(db));
  long long v = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
  sqlite3_finalize(s);
  return v;
}

/* dir/name opened read-write with a 10 s busy timeout (a running sweep may hold the lock). */
static inline sqlite3 *hps_db_open(const char *dir, const char *name) {
  char path[PATH_MAX + 300];
  snprintf(path, sizeof path, "%s/%s", dir, name);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE, NULL), SQLITE_OK, "%s", path);
  sqlite3_busy_timeout(db, 10000);
  return db;
}

/* PRAGMA integrity_check of db says "ok" (what: the case, in the failure's message). */
static inline void hps_assert_intact(sqlite3 *db, const char *what) {
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, "PRAGMA integrity_check", -1, &s, NULL), SQLITE_OK, "%s", what);
  char ok[64] = "";
  if (sqlite3_step(s) == SQLITE_ROW) snprintf(ok, sizeof ok, "%s", (const char *)sqlite3_column_text(s, 0));
  sqlite3_finalize(s);
  cr_assert_str_eq(ok, "ok", "%s: integrity_check", what);
}

/* Tests that need root (mount, another user) skip only outside CI: in CI we run as root
** and a skip would hide a failure. Returns 1 when root; otherwise skips (or fails in CI). */
static inline int hps_need_root(void) {
  if (geteuid() == 0) return 1;
  cr_assert_null(getenv("CI"), "this test needs root in CI");
  cr_skip_test("needs root");
  return 0;
}

/* Pids whose parent is ppid (the runner's workers), from /proc. */
static inline int hps_children_of(pid_t ppid, pid_t *out, int max) {
  DIR *d = opendir("/proc");
  cr_assert_not_null(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)) && n < max) {
    pid_t pid = (pid_t)atoi(e->d_name);
    if (pid <= 0) continue;
    char path[64], buf[512];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    if (!f) continue;
    size_t got = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[got] = '\0';
    char *rp = strrchr(buf, ')'); /* "pid (comm) state ppid ..." */
    int pp = 0;
    char state;
    if (rp && sscanf(rp + 1, " %c %d", &state, &pp) == 2 && pp == ppid) out[n++] = pid;
  }
  closedir(d);
  return n;
}

/* Every row of every table of sweep `name` in the SQLite file at path, as text (malloc'd): its
** sweeps row, its trials by id, their metrics by (trial, name, step), its events by id, every
** column with its storage type (reals in %a: exact). relative: ids as offsets from the sweep's
** smallest of that table (a copy that shifted ids compares equal; references shifted alike). */
static inline char *hps_sweep_dump(const char *path, const char *name, int relative) {
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK, "%s", path);
  char sel[256];
  snprintf(sel, sizeof sel, "(SELECT id FROM sweeps WHERE name = '%s')", name);
  char q[4][1024], base[3][512];
  snprintf(base[0], sizeof base[0], "%s", sel);
  snprintf(base[1], sizeof base[1], "(SELECT min(id) FROM trials WHERE sweep_id = %s)", sel);
  snprintf(base[2], sizeof base[2], "(SELECT min(id) FROM events WHERE sweep_id = %s)", sel);
  long long b[3] = {0, 0, 0};
  char sql[1600];
  for (int k = 0; relative && k < 3; k++) {
    snprintf(sql, sizeof sql, "SELECT %s", base[k]);
    b[k] = hps_q_int(db, sql);
  }
  snprintf(q[0], sizeof q[0], "SELECT * FROM sweeps WHERE id = %s", sel);
  snprintf(q[1], sizeof q[1], "SELECT * FROM trials WHERE sweep_id = %s ORDER BY id", sel);
  snprintf(q[2], sizeof q[2], "SELECT m.* FROM metrics m JOIN trials t ON t.id = m.trial_id WHERE t.sweep_id = %s "
           "ORDER BY m.trial_id, m.name, m.step", sel);
  snprintf(q[3], sizeof q[3], "SELECT * FROM events WHERE sweep_id = %s OR trial_id IN (SELECT id FROM trials "
           "WHERE sweep_id = %s) ORDER BY id", sel, sel);
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  for (int t = 0; t < 4; t++) {
    sqlite3_stmt *s;
    cr_assert_eq(sqlite3_prepare_v2(db, q[t], -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(db));
    while (sqlite3_step(s) == SQLITE_ROW) {
      fprintf(f, "%d", t);
      for (int c = 0; c < sqlite3_column_count(s); c++) {
        const char *col = sqlite3_column_name(s, c);
        int ty = sqlite3_column_type(s, c);
        long long off = 0; /* which id this column holds: sweeps 0, trials 1, events 2 */
        if ((t == 0 && !strcmp(col, "id")) || !strcmp(col, "sweep_id")) off = b[0];
        else if ((t == 1 && !strcmp(col, "id")) || !strcmp(col, "trial_id")) off = b[1];
        else if (t == 3 && !strcmp(col, "id")) off = b[2];
        if (ty == SQLITE_NULL) fprintf(f, "|%s=N", col);
        else if (ty == SQLITE_INTEGER) fprintf(f, "|%s=i%lld", col, (long long)sqlite3_column_int64(s, c) - off);
        else if (ty == SQLITE_FLOAT) fprintf(f, "|%s=r%a", col, sqlite3_column_double(s, c));
        else fprintf(f, "|%s=t%s", col, (const char *)sqlite3_column_text(s, c));
      }
      fprintf(f, "\n");
    }
    sqlite3_finalize(s);
  }
  fclose(f);
  sqlite3_close(db);
  return buf;
}

#endif
