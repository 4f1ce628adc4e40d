/*
** fuzz_db.c: the read commands (ls, top, compare, show, export, plot, report) on a crafted
** database. Each input is a fixture database (tests/rs_fixture.h: grid, sample and stopped
** sweeps at the current schema) changed by SQL from the input: rows with huge strings, NaN,
** wrong types, missing rows, broken JSON. The commands then run as `hpsweep CMD` runs them
** (their output to /dev/null with libFuzzer's -close_fd_mask=3).
** Input: byte 0 picks the sweep (bits 0-1), the trial `show` shows (bits 2-5), plot (bit 6)
** and report (bit 7), which are slower; the rest is SQL. The SQL may only read and change
** rows (an authorizer refuses ATTACH, schema changes and every PRAGMA
** but ignore_check_constraints), a value is at most 1 MB and a
** statement gets a bounded number of steps, so an input cannot write outside the file or hang.
*/
#include <sqlite3.h>

#include "cli.h"
#include "fuzz_util.h"
#include "rs_fixture.h"

static unsigned char *tpl;
static size_t tpl_n;

static int allow(void *ctx, int op, const char *a, const char *b, const char *c, const char *d) {
  (void)ctx, (void)a, (void)b, (void)c, (void)d;
  switch (op) {
  case SQLITE_INSERT: case SQLITE_UPDATE: case SQLITE_DELETE: case SQLITE_SELECT: case SQLITE_READ:
  case SQLITE_FUNCTION: case SQLITE_TRANSACTION: case SQLITE_SAVEPOINT: case SQLITE_RECURSIVE:
    return SQLITE_OK;
  case SQLITE_PRAGMA: /* rows a CHECK constraint would refuse: another program may have written them */
    return a && strcmp(a, "ignore_check_constraints") == 0 ? SQLITE_OK : SQLITE_DENY;
  default:
    return SQLITE_DENY;
  }
}

static int stop(void *ctx) {
  return ++*(int *)ctx > 2000;
}

static void template_make(void) {
  char path[600];
  fuzz_path(path, sizeof path, "template.db");
  if (rs_fixture_make(path) || rs_fixture_add_stopped(path) || rs_fixture_add_sample(path)) abort();
  FILE *f = fopen(path, "rb");
  if (!f || fseek(f, 0, SEEK_END)) abort();
  tpl_n = (size_t)ftell(f);
  rewind(f);
  if (!(tpl = malloc(tpl_n)) || fread(tpl, 1, tpl_n, f) != tpl_n) abort();
  fclose(f);
}

static void db_make(const char *path, const uint8_t *sql, size_t n) {
  char side[700];
  snprintf(side, sizeof side, "%s-wal", path), remove(side);
  snprintf(side, sizeof side, "%s-shm", path), remove(side);
  fuzz_write(path, tpl, tpl_n);
  sqlite3 *db;
  if (sqlite3_open(path, &db) != SQLITE_OK) abort();
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, 1 << 20);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, 1 << 16);
  int ticks = 0;
  sqlite3_progress_handler(db, 1000, stop, &ticks);
  sqlite3_set_authorizer(db, allow, NULL);
  char *text = fuzz_cstr(sql, n);
  sqlite3_exec(db, text, NULL, NULL, NULL);
  free(text);
  sqlite3_exec(db, "COMMIT", NULL, NULL, NULL); /* an input that left a transaction open */
  if (sqlite3_close(db) != SQLITE_OK) abort();
}

static void run(const char *name, int argc, const char **args) {
  char *argv[16];
  argv[0] = (char *)name;
  for (int i = 0; i < argc; i++) argv[i + 1] = (char *)args[i];
  argv[argc + 1] = NULL;
  const HpsCmd *c = hps_cmd_find(name);
  if (!c) abort();
  int rc = c->fn(argc + 1, argv);
  if (rc < 0 || rc > 2) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  if (!tpl) template_make();
  static const char *const sweeps[4] = {"lr_grid", "lr_wd", "samp_neg", "samp_pos"};
  static const char *const by[4] = {"lr", "lr,weight_decay", "temperature", "temperature"};
  char db[600], out[600], id[8];
  fuzz_path(db, sizeof db, "fuzz.db");
  db_make(db, data + 1, size - 1);
  const char *sw = sweeps[data[0] & 3];
  snprintf(id, sizeof id, "%d", 1 + ((data[0] >> 2) & 15) * 3);
  run("ls", 2, (const char *[]){"--db", db});
  run("ls", 4, (const char *[]){"--db", db, "--format", "json"});
  run("top", 3, (const char *[]){sw, "--db", db});
  run("top", 5, (const char *[]){sw, "--db", db, "--format", "csv"});
  run("compare", 5, (const char *[]){sw, "--db", db, "--by", by[data[0] & 3]});
  run("show", 3, (const char *[]){id, "--db", db});
  run("export", 5, (const char *[]){sw, "--db", db, "--format", "json"});
  run("export", 7, (const char *[]){sw, "--db", db, "--format", "csv", "--what", "metrics"});
  if (data[0] & 64) run("plot", 5, (const char *[]){sw, "--db", db, "-o", fuzz_path(out, sizeof out, "p.svg")});
  if (data[0] & 128)
    run("report", 5, (const char *[]){sw, "--db", db, "-o", fuzz_path(out, sizeof out, "r.html")});
  return 0;
}
