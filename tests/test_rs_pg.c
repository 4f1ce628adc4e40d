/* The PostgreSQL backend (results/rs_pg.c) beyond the conformance suite: whole sweeps through the
** CLI, several runners on one sweep, concurrent first opens, server restarts, population-based
** training (its copies, and the same decisions as on SQLite at -j 1). Runs inside tests/pg_harness.sh, which
** starts a throwaway server and sets HPS_TEST_STORE_URL; run alone it skips (fails in CI). */
#include <criterion/criterion.h>
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hps_test.h"
#include "rs_store.h"

static char tmpdir[64];
static const char *url;

static void setup(void) {
  url = getenv("HPS_TEST_STORE_URL");
  if (!url || strncmp(url, "postgresql://", 13) != 0) {
    cr_assert_null(getenv("CI"), "HPS_TEST_STORE_URL is not a postgresql:// URL: run through tests/pg_harness.sh");
    cr_skip_test("no PostgreSQL server (run through tests/pg_harness.sh)");
  }
  hps_tmp_make(tmpdir, sizeof tmpdir, "hps_pg_");
}

static void teardown(void) {
  if (tmpdir[0]) hps_tmp_remove(tmpdir);
}

TestSuite(rs_pg, .init = setup, .fini = teardown);

/* A shell program: loss = (lr - 0.1)^2 + 1/(step+1) at steps 0..2. */
static const char report_sh[] =
    "#!/bin/sh\n"
    "lr=; for a in \"$@\"; do case $a in --lr=*) lr=${a#--lr=};; esac; done\n"
    "for s in 0 1 2; do\n"
    "  v=$(awk -v lr=$lr -v s=$s 'BEGIN { printf \"%.6f\", (lr - 0.1) ^ 2 + 1 / (s + 1) }')\n"
    "  echo \"{\\\"step\\\": $s, \\\"loss\\\": $v}\" >&$HPSWEEP_METRICS_FD\n"
    "done\n";

/* The program and a grid spec of n learning rates 0.0, 0.05, ... in tmpdir. */
static void put_sweep(const char *spec, int n) {
  cr_assert_eq(chmod(hps_put(tmpdir, "report.sh", report_sh), 0755), 0);
  char text[2048];
  int k = snprintf(text, sizeof text, "program: report.sh\ncommand: [\"${program}\", \"${args}\"]\nmethod: grid\n"
                                      "metric: {name: loss, goal: minimize}\nparameters:\n  lr: {values: [");
  for (int i = 0; i < n; i++) k += snprintf(text + k, sizeof text - (size_t)k, "%s%g", i ? ", " : "", 0.05 * i);
  snprintf(text + k, sizeof text - (size_t)k, "]}\n");
  hps_put(tmpdir, spec, text);
}

static RsStore *open_url(int flags) {
  RsStore *st = NULL;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(url, flags, &st, &e), TR_OK, "%s", e.msg);
  return st;
}

/* Every trial of the sweep completed, each claimed once, with its 3 loss rows. */
static void expect_each_completed_once(const char *name, int n) {
  RsStore *st = open_url(RS_OPEN_READONLY);
  RsSweep sw;
  cr_assert_eq(rs_sweep_get(st, name, &sw), TR_OK, "%s", rs_store_errmsg(st));
  RsCounts c;
  cr_assert_eq(rs_sweep_counts(st, sw.id, &c), TR_OK, "%s", rs_store_errmsg(st));
  cr_expect_eq(c.total, n);
  cr_expect_eq(c.n[RS_COMPLETED], n, "%lld of %d completed", (long long)c.n[RS_COMPLETED], n);
  RsTrialKey *k;
  size_t nk;
  cr_assert_eq(rs_trial_keys(st, sw.id, &k, &nk), TR_OK);
  for (size_t i = 0; i < nk; i++) {
    RsTrial t;
    cr_assert_eq(rs_trial_get(st, k[i].id, &t), TR_OK);
    cr_expect_eq(t.attempts, 1, "trial %lld ran %d times", (long long)t.id, t.attempts);
    rs_trial_clear(&t);
    RsPoint *p;
    size_t np;
    cr_assert_eq(rs_metrics_read(st, k[i].id, "loss", &p, &np), TR_OK);
    cr_expect_eq(np, 3);
    free(p);
  }
  free(k);
  rs_sweep_clear(&sw);
  rs_store_close(st);
}

Test(rs_pg, a_sweep_run_with_two_jobs_is_read_by_status_ls_top_show_and_report) {
  put_sweep("pgrun.yaml", 4);
  char args[600], out[16384];
  snprintf(args, sizeof args, "run pgrun.yaml -j 2 --quiet --db '%s'", url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  expect_each_completed_once("pgrun", 4);
  snprintf(args, sizeof args, "status pgrun --db '%s'", url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "4/4 done, 4 completed"), "%s", out);
  snprintf(args, sizeof args, "ls --db '%s'", url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  char *row = strstr(out, "\npgrun ");
  int trials = 0, done = 0;
  cr_expect(row && sscanf(row, " pgrun train loss %d %d", &trials, &done) == 2 && trials == 4 && done == 4, "%s", out);
  snprintf(args, sizeof args, "top pgrun --db '%s'", url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  char *one = strstr(out, "\n   1 ");
  cr_assert_not_null(one, "%s", out);
  int trial = 0;
  double lr = -1;
  cr_expect(sscanf(one, " 1 %d %lf", &trial, &lr) == 2 && lr == 0.1, "rank 1 is lr 0.1: %s", out);
  snprintf(args, sizeof args, "show %d --db '%s'", trial, url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "completed") && strstr(out, "lr=0.1"), "%s", out);
  snprintf(args, sizeof args, "report pgrun --db '%s'", url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  char html[PATH_MAX];
  snprintf(html, sizeof html, "%s/report.html", tmpdir);
  char *h = hps_slurp(html, NULL);
  cr_expect(strstr(h, "pgrun"), "the report names the sweep");
  free(h);
  /* A program's run directory for a server's URL: ./hpsweep.runs/<sweep>/ where the runner started. */
  snprintf(html, sizeof html, "%s/hpsweep.runs/pgrun", tmpdir);
  cr_expect_eq(access(html, F_OK), 0, "%s", html);
}

Test(rs_pg, two_runners_on_one_sweep_complete_every_trial_exactly_once) {
  put_sweep("pgtwo.yaml", 12);
  char cmd[1200];
  /* Two processes standing for two hosts, started together; no coordinator but the database. */
  snprintf(cmd, sizeof cmd, "cd '%s' && ('%s' run pgtwo.yaml -j 2 --quiet --db '%s' > a.log 2>&1 & "
                            "'%s' run pgtwo.yaml -j 2 --quiet --db '%s' > b.log 2>&1; s=$?; wait $!; "
                            "exit $(( s | $? )))", tmpdir, hps_bin(), url, hps_bin(), url);
  char out[256];
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 0, "a runner failed (see a.log, b.log)");
  expect_each_completed_once("pgtwo", 12);
}

/* A new schema: several processes opening the empty schema at once create the tables once. */
Test(rs_pg, concurrent_first_opens_create_the_schema_once) {
  PGconn *c = PQconnectdb(url);
  cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PQclear(PQexec(c, "DROP SCHEMA IF EXISTS race CASCADE"));
  PGresult *r = PQexec(c, "CREATE SCHEMA race");
  cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
  PQclear(r);
  char race[600];
  snprintf(race, sizeof race, "%s&options=-csearch_path%%3Drace", url);
  pid_t kids[4];
  for (int i = 0; i < 4; i++) {
    kids[i] = fork();
    cr_assert_neq(kids[i], -1);
    if (kids[i] == 0) {
      RsStore *st = NULL;
      TrErr e = {0, ""};
      int rc = rs_store_open(race, RS_OPEN_CREATE, &st, &e);
      if (rc) fprintf(stderr, "child %d: %s\n", i, e.msg);
      rs_store_close(st);
      _exit(rc ? 1 : 0);
    }
  }
  for (int i = 0; i < 4; i++) {
    int status;
    cr_assert_eq(waitpid(kids[i], &status, 0), kids[i]);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "open %d failed", i);
  }
  r = PQexec(c, "SELECT count(*) FROM race.hpsweep_schema");
  cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s", PQerrorMessage(c));
  cr_expect_str_eq(PQgetvalue(r, 0, 0), "1", "the schema was created once");
  PQclear(r);
  r = PQexec(c, "SELECT count(*) FROM race.events WHERE kind = 'create'");
  cr_expect_str_eq(PQgetvalue(r, 0, 0), "1");
  PQclear(r);
  PQclear(PQexec(c, "DROP SCHEMA race CASCADE"));
  PQfinish(c);
}

Test(rs_pg, a_read_only_open_of_a_database_without_our_tables_says_so_and_creates_nothing) {
  PGconn *c = PQconnectdb(url);
  cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  PQclear(PQexec(c, "DROP SCHEMA IF EXISTS empty CASCADE"));
  PQclear(PQexec(c, "CREATE SCHEMA empty"));
  char u[600];
  snprintf(u, sizeof u, "%s&options=-csearch_path%%3Dempty", url);
  RsStore *st = (RsStore *)1;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(u, RS_OPEN_READONLY, &st, &e), TR_EFORMAT);
  cr_assert_null(st);
  cr_expect(strstr(e.msg, "no hpsweep tables") && strstr(e.msg, "postgresql://"), "%s", e.msg);
  PGresult *r = PQexec(c, "SELECT count(*) FROM pg_tables WHERE schemaname = 'empty'");
  cr_expect_str_eq(PQgetvalue(r, 0, 0), "0");
  PQclear(r);
  PQclear(PQexec(c, "DROP SCHEMA empty CASCADE"));
  PQfinish(c);
}

/* A slow program: 3 steps 0.2 s apart, so a server restart lands in the middle of the sweep. */
static const char slow_sh[] =
    "#!/bin/sh\n"
    "lr=; for a in \"$@\"; do case $a in --lr=*) lr=${a#--lr=};; esac; done\n"
    "for s in 0 1 2; do\n"
    "  sleep 0.2\n"
    "  v=$(awk -v lr=$lr -v s=$s 'BEGIN { printf \"%.6f\", (lr - 0.1) ^ 2 + 1 / (s + 1) }')\n"
    "  echo \"{\\\"step\\\": $s, \\\"loss\\\": $v}\" >&$HPSWEEP_METRICS_FD\n"
    "done\n";

Test(rs_pg, a_server_restart_in_the_middle_of_a_sweep_loses_nothing) {
  const char *restart = getenv("HPS_TEST_PG_RESTART");
  cr_assert_not_null(restart, "HPS_TEST_PG_RESTART is unset (tests/pg_harness.sh sets it)");
  cr_assert_eq(chmod(hps_put(tmpdir, "report.sh", slow_sh), 0755), 0);
  hps_put(tmpdir, "pgrestart.yaml", "program: report.sh\ncommand: [\"${program}\", \"${args}\"]\nmethod: grid\n"
                                    "metric: {name: loss, goal: minimize}\nparameters:\n"
                                    "  lr: {values: [0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35]}\n");
  char cmd[1600], out[4096];
  /* The runner in the background; once one of this sweep's trials has a metric row (the other
  ** tests' rows share the schema: any row would restart the server before the run connects), the
  ** server restarts under it. */
  snprintf(cmd, sizeof cmd, "cd '%s' && ('%s' run pgrestart.yaml -j 2 --quiet --db '%s' > run.log 2>&1; "
                            "echo $? > run.status) & "
                            "n=0; until [ $n -ge 300 ] || psql -qAt '%s' -c \"SELECT 1 FROM metrics m JOIN trials t "
                            "ON t.id = m.trial_id JOIN sweeps s ON s.id = t.sweep_id WHERE s.name = 'pgrestart' LIMIT 1\" "
                            "2>/dev/null | grep -q 1; do sleep 0.05; n=$((n+1)); done; '%s' > restart.out 2>&1; "
                            "echo restarted $?; wait",
           tmpdir, hps_bin(), url, url, restart);
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 0, "%s", out);
  cr_assert(strstr(out, "restarted 0"), "the server did not restart: %s", out);
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/run.status", tmpdir);
  char *status = hps_slurp(path, NULL);
  snprintf(path, sizeof path, "%s/run.log", tmpdir);
  char *log = hps_slurp(path, NULL);
  cr_expect_str_eq(status, "0\n", "the run failed: %s", log);
  free(status);
  free(log);
  /* Every trial completed with its whole curve. (A claim whose reply a restart cut may be taken
  ** again when its lease expires, so attempts are not checked here.) */
  RsStore *st = open_url(RS_OPEN_READONLY);
  RsSweep sw;
  cr_assert_eq(rs_sweep_get(st, "pgrestart", &sw), TR_OK, "%s", rs_store_errmsg(st));
  RsCounts c;
  cr_assert_eq(rs_sweep_counts(st, sw.id, &c), TR_OK);
  cr_expect_eq(c.n[RS_COMPLETED], 8, "%lld of 8 completed", (long long)c.n[RS_COMPLETED]);
  RsTrialKey *k;
  size_t nk;
  cr_assert_eq(rs_trial_keys(st, sw.id, &k, &nk), TR_OK);
  for (size_t i = 0; i < nk; i++) {
    RsPoint *p;
    size_t np;
    cr_assert_eq(rs_metrics_read(st, k[i].id, "loss", &p, &np), TR_OK);
    cr_expect_eq(np, 3, "trial %lld has %zu rows", (long long)k[i].id, np);
    free(p);
  }
  free(k);
  rs_sweep_clear(&sw);
  rs_store_close(st);
}

/* RS_OPEN_PATIENT (a run's summary at its end): an open while the server restarts waits for it
** instead of failing ("the database system is shutting down", or no server on the socket). The
** open starts only once the server has stopped answering, so an impatient one would fail. */
Test(rs_pg, a_patient_open_waits_out_a_server_restart) {
  const char *restart = getenv("HPS_TEST_PG_RESTART");
  cr_assert_not_null(restart, "HPS_TEST_PG_RESTART is unset (tests/pg_harness.sh sets it)");
  RsStore *st = open_url(RS_OPEN_CREATE); /* the tables exist before the restart */
  rs_store_close(st);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    execl("/bin/sh", "sh", "-c", "\"$0\" > /dev/null 2>&1", restart, (char *)NULL);
    _exit(127);
  }
  int down = 0;
  for (int i = 0; i < 200000 && !down; i++) down = PQping(url) != PQPING_OK;
  TrErr e = {0, ""};
  int rc = down ? rs_store_open(url, RS_OPEN_EXISTING | RS_OPEN_PATIENT, &st, &e) : TR_OK;
  int status;
  cr_assert_eq(waitpid(pid, &status, 0), pid);
  cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0, "the restart failed");
  cr_assert(down, "the server never stopped answering during its restart");
  cr_assert_eq(rc, TR_OK, "%s", e.msg);
  RsSweep sw;
  cr_expect_eq(rs_sweep_get(st, "no such sweep", &sw), TR_ENOTFOUND, "the handle works after the restart: %s",
               rs_store_errmsg(st));
  rs_store_close(st);
}

static int count_trial(void *ctx, const RsTrial *t) {
  (void)t;
  (*(int *)ctx)++;
  return 0;
}

Test(rs_pg, open_handles_carry_on_after_a_server_restart_between_calls) {
  const char *restart = getenv("HPS_TEST_PG_RESTART");
  cr_assert_not_null(restart, "HPS_TEST_PG_RESTART is unset (tests/pg_harness.sh sets it)");
  RsStore *w = open_url(RS_OPEN_CREATE);
  int64_t id = 0;
  cr_assert_eq(rs_sweep_upsert(w, "pgkeep", "x", "h", "grid", "loss", "minimize", 1, "train", &id), TR_OK, "%s",
               rs_store_errmsg(w));
  RsTrialDef d = {0, "00000000000000aa", "{}", "{\"lr\": 1}", 1};
  cr_assert_eq(rs_trials_insert(w, id, 1, &d, NULL), TR_OK, "%s", rs_store_errmsg(w));
  RsStore *r = open_url(RS_OPEN_READONLY);
  char cmd[700];
  snprintf(cmd, sizeof cmd, "'%s' > /dev/null 2>&1", restart);
  cr_assert_eq(system(cmd), 0, "restart failed");
  /* The writer's next transaction and the reader's next walk and read run on a new connection. */
  cr_expect_eq(rs_event_add(w, id, 0, "note", "after the restart"), TR_OK, "%s", rs_store_errmsg(w));
  int n = 0;
  cr_expect_eq(rs_trials_each(r, id, count_trial, &n), TR_OK, "%s", rs_store_errmsg(r));
  cr_expect_eq(n, 1);
  RsCounts c;
  cr_expect_eq(rs_sweep_counts(r, id, &c), TR_OK, "%s", rs_store_errmsg(r));
  cr_expect_eq(c.n[RS_PENDING], 1);
  cr_expect_eq(rs_event_add(r, id, 0, "note", "x"), TR_EINVAL, "the reader stays read-only");
  rs_store_close(r);
  int64_t gone;
  cr_expect_eq(rs_sweep_delete(w, "pgkeep", &gone), TR_OK, "%s", rs_store_errmsg(w));
  rs_store_close(w);
}

/* The first column of the first row of sql on PostgreSQL as an integer (-1 if no row). */
static long long pg_int(PGconn *c, const char *sql) {
  PGresult *r = PQexec(c, sql);
  cr_assert_eq(PQresultStatus(r), PGRES_TUPLES_OK, "%s: %s", sql, PQerrorMessage(c));
  long long v = PQntuples(r) > 0 ? strtoll(PQgetvalue(r, 0, 0), NULL, 10) : -1;
  PQclear(r);
  return v;
}

/* The PBT sweep of test_sw_pbt (6 members, 100 steps, decided every 20) named `name` in tmpdir. */
static void put_pbt(const char *file, const char *name) {
  char text[2048];
  snprintf(text, sizeof text, "%s", HPS_PBT_TINY_SPEC(""));
  char *at = strstr(text, "name: pbt\n");
  cr_assert_not_null(at);
  char rest[2048];
  snprintf(rest, sizeof rest, "%s", at + strlen("name: pbt\n"));
  snprintf(at, sizeof text - (size_t)(at - text), "name: %s\n%s", name, rest);
  hps_put(tmpdir, file, text);
}

/* As test_sw_pbt's SQLite queries: exploit events' lr rows after each copy up to the member's next one. */
#define PG_STEP(e) "((" e ".detail::json ->> 'step')::bigint)"
#define PG_LR_AFTER_COPY                                                                                        \
  "SELECT count(*) FROM events e JOIN metrics m ON m.trial_id = e.trial_id AND m.name = 'lr' AND m.step > " \
  PG_STEP("e") " AND m.step <= coalesce((SELECT min(" PG_STEP("f") ") FROM events f WHERE f.trial_id = "     \
  "e.trial_id AND f.kind = 'exploit' AND " PG_STEP("f") " > " PG_STEP("e") "), 1e18) WHERE e.kind = 'exploit'"

/* test_sw_pbt's whole-sweep test on PostgreSQL: the same assertions, in PostgreSQL's SQL. */
Test(rs_pg, a_pbt_sweep_with_two_jobs_copies_members_once_and_completes_every_member, .timeout = 300) {
  put_pbt("pbt.yaml", "pgpbt");
  char args[600], out[8192];
  snprintf(args, sizeof args, "run pbt.yaml -j 2 --quiet --db '%s'", url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  PGconn *c = PQconnectdb(url);
  cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
  long long sweep = pg_int(c, "SELECT id FROM sweeps WHERE name = 'pgpbt' AND method = 'pbt'");
  cr_assert_gt(sweep, 0);
  char q[2048];
#define PGQ(...) (snprintf(q, sizeof q, __VA_ARGS__), pg_int(c, q))
  cr_assert_eq(PGQ("SELECT count(*) FROM trials WHERE sweep_id = %lld AND status = 'completed' AND steps = 100",
                   sweep), 6, "every member completed");
  cr_assert_eq(PGQ("SELECT count(*) FROM events WHERE sweep_id = %lld AND kind = 'complete'", sweep), 6);
  long long copies = PGQ("SELECT count(*) FROM events WHERE sweep_id = %lld AND kind = 'exploit'", sweep);
  cr_assert_gt(copies, 0, "6 members over 4 perturbation steps and never a copy");
  cr_assert_gt(PGQ(PG_LR_AFTER_COPY " AND e.sweep_id = %lld", sweep), 0);
  cr_assert_eq(PGQ(PG_LR_AFTER_COPY " AND e.sweep_id = %lld AND m.value != "
                   "(e.detail::json -> 'params' ->> 'optimizer.lr')::float8", sweep), 0,
               "an lr row after a copy is not the copy's new lr");
  /* Every member is decided once at every perturbation step (a copy or not): rung 80 at the end. */
  cr_assert_eq(PGQ("SELECT count(*) FROM trials WHERE sweep_id = %lld AND rung = 80", sweep), 6);
  cr_assert_eq(PGQ("SELECT count(*) FROM (SELECT trial_id, " PG_STEP("e") " FROM events e WHERE sweep_id = %lld "
                   "AND kind = 'exploit' GROUP BY 1, 2 HAVING count(*) > 1) x", sweep), 0, "a copy applied twice");
  /* A copy's source was in the top quantile; the lineage names a member of the sweep. */
  cr_assert_eq(PGQ("SELECT count(*) FROM events WHERE sweep_id = %lld AND kind = 'exploit' AND ((detail::json ->> "
                   "'source_value')::float8 > (detail::json ->> 'value')::float8 OR (detail::json ->> 'source')::bigint "
                   "NOT IN (SELECT id FROM trials WHERE sweep_id = %lld))", sweep, sweep), 0);
  /* The final params are those of the member's last copy. */
  cr_assert_eq(PGQ("SELECT count(*) FROM trials t WHERE sweep_id = %lld AND EXISTS (SELECT 1 FROM events WHERE "
                   "trial_id = t.id AND kind = 'exploit') AND t.params::jsonb != (SELECT (detail::json -> 'params')"
                   "::jsonb FROM events WHERE trial_id = t.id AND kind = 'exploit' ORDER BY id DESC LIMIT 1)", sweep), 0);
  /* The curves are whole: one lr row per logged step (5, 10, ..., 100 and step 1). */
  cr_assert_eq(PGQ("SELECT count(*) FROM (SELECT trial_id FROM metrics WHERE trial_id IN (SELECT id FROM trials "
                   "WHERE sweep_id = %lld) AND name = 'lr' GROUP BY trial_id HAVING count(*) != 21) x", sweep), 0);
#undef PGQ
  PQfinish(c);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "the same spec continues: %s", out);
}

/* What a sweep decided, by member idx, without its ids (they differ between stores): each
** member's status, steps, best value, rung and final params, then its copies in order. */
typedef struct Digest {
  char text[16384];
  size_t len;
  int64_t ids[64]; /* trial id of idx i */
} Digest;

static int digest_trial(void *ctx, const RsTrial *t) {
  Digest *d = ctx;
  if (t->idx >= 0 && t->idx < 64) d->ids[t->idx] = t->id;
  d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "member %d: %s, %lld steps, best %.17g, "
                             "rung %lld, %s\n", t->idx, rs_status_name(t->status), (long long)t->steps,
                             t->best_metric, (long long)t->rung, t->params);
  return d->len < sizeof d->text ? 0 : 1;
}

static int digest_event(void *ctx, const RsEvent *e) {
  Digest *d = ctx;
  int idx = -1;
  for (int i = 0; i < 64; i++)
    if (d->ids[i] == e->trial_id) idx = i;
  const char *src = e->detail ? strstr(e->detail, "\"source_idx\"") : NULL; /* from there on: no ids */
  d->len += (size_t)snprintf(d->text + d->len, sizeof d->text - d->len, "copy by %d: %s\n", idx, src ? src : "?");
  return d->len < sizeof d->text ? 0 : 1;
}

static void digest(const char *db, const char *name, Digest *d) {
  memset(d, 0, sizeof *d);
  RsStore *st = NULL;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(db, RS_OPEN_READONLY, &st, &e), TR_OK, "%s", e.msg);
  RsSweep sw;
  cr_assert_eq(rs_sweep_get(st, name, &sw), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(rs_trials_each(st, sw.id, digest_trial, d), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(rs_sweep_events_each(st, sw.id, "exploit", digest_event, d), TR_OK, "%s", rs_store_errmsg(st));
  rs_sweep_clear(&sw);
  rs_store_close(st);
}

/* With one job, which members are at a step when one is judged does not depend on timing: the
** same spec decides the same copies with the same values on both stores. */
Test(rs_pg, a_pbt_sweep_with_one_job_decides_on_postgresql_what_it_decides_on_sqlite, .timeout = 300) {
  put_pbt("pbt1.yaml", "pgpbt1");
  char args[600], out[8192], lite[PATH_MAX];
  snprintf(args, sizeof args, "run pbt1.yaml -j 1 --quiet --db '%s'", url);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  snprintf(lite, sizeof lite, "%s/pbt1.db", tmpdir);
  cr_assert_eq(hps_run(tmpdir, "run pbt1.yaml -j 1 --quiet --db pbt1.db", out, sizeof out), 0, "%s", out);
  static Digest pg, sq;
  digest(url, "pgpbt1", &pg);
  digest(lite, "pgpbt1", &sq);
  cr_assert_eq(hps_count(pg.text, "copy by"), hps_count(sq.text, "copy by"));
  cr_assert_gt(hps_count(sq.text, "copy by"), 0, "%s", sq.text);
  cr_assert_eq(hps_count(pg.text, "completed, 100 steps"), 6, "%s", pg.text);
  cr_expect_str_eq(pg.text, sq.text);
}

/* ---- hpsweep copy: SQLite -> PostgreSQL -> SQLite ---- */

/* A fresh store: the schema `name` (dropped first) on the test server; its URL into u. */
static PGconn *fresh_schema(const char *name, char *u, size_t n) {
  PGconn *c = PQconnectdb(url);
  cr_assert_eq(PQstatus(c), CONNECTION_OK, "%s", PQerrorMessage(c));
  PQclear(PQexec(c, "SET client_min_messages = warning"));
  char sql[256];
  snprintf(sql, sizeof sql, "DROP SCHEMA IF EXISTS %s CASCADE", name);
  PQclear(PQexec(c, sql));
  snprintf(sql, sizeof sql, "CREATE SCHEMA %s", name);
  PGresult *r = PQexec(c, sql);
  cr_assert_eq(PQresultStatus(r), PGRES_COMMAND_OK, "%s", PQerrorMessage(c));
  PQclear(r);
  snprintf(u, n, "%s&options=-csearch_path%%3D%s", url, name);
  return c;
}

Test(rs_pg, a_sweep_copied_to_postgresql_and_back_is_the_same_in_every_row_of_every_table) {
  put_sweep("rt.yaml", 3);
  char pg[400], args[900], out[8192], a[PATH_MAX], b[PATH_MAX], c3[PATH_MAX];
  PGconn *c = fresh_schema("copyrt", pg, sizeof pg);
  cr_assert_eq(hps_run(tmpdir, "run rt.yaml -j 2 --quiet --db a.db", out, sizeof out), 0, "%s", out);
  snprintf(a, sizeof a, "%s/a.db", tmpdir);
  snprintf(b, sizeof b, "%s/b.db", tmpdir);
  snprintf(c3, sizeof c3, "%s/c.db", tmpdir);
  snprintf(args, sizeof args, "copy rt --from a.db --to '%s'", pg);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "3 trials, 9 metric rows") && !strstr(out, "shifted"), "%s", out);
  snprintf(args, sizeof args, "copy rt --from '%s' --to b.db", pg);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  char *x = hps_sweep_dump(a, "rt", 0), *y = hps_sweep_dump(b, "rt", 0);
  cr_assert_eq(hps_count(x, "\n2|"), 9, "the metrics are in the dump: %s", x);
  cr_assert_str_eq(y, x, "every row of every table, ids included");
  free(y);
  /* The sweep on PostgreSQL reads like one run there. */
  snprintf(args, sizeof args, "top rt --db '%s'", pg);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  /* A second copy beside it (--as): every id taken, shifted, references following; back out the same. */
  snprintf(args, sizeof args, "copy rt --from a.db --to '%s' --as rt2 -q", pg);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "ids shifted"), "%s", out);
  snprintf(args, sizeof args, "copy rt2 --from '%s' --to c.db --as rt -q", pg);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  free(x);
  x = hps_sweep_dump(a, "rt", 1);
  y = hps_sweep_dump(c3, "rt", 1);
  cr_assert_str_eq(y, x);
  free(x);
  free(y);
  /* The id sequences moved past the copied ids: new rows there get new ids. */
  RsStore *st = NULL;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(pg, RS_OPEN_EXISTING, &st, &e), TR_OK, "%s", e.msg);
  int64_t id = 0;
  cr_assert_eq(rs_sweep_upsert(st, "after", "x", "h", "grid", "loss", "minimize", 1, "train", &id), TR_OK, "%s",
               rs_store_errmsg(st));
  RsTrialDef d = {0, "00000000000000ff", "{}", "{}", 1};
  cr_assert_eq(rs_trials_insert(st, id, 1, &d, NULL), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(rs_event_add(st, id, -1, "note", "after the copies"), TR_OK, "%s", rs_store_errmsg(st));
  /* Into the same server, database and schema: refused; into another schema of the database: a copy. */
  snprintf(args, sizeof args, "copy rt --from '%s' --to '%s&application_name=x'", pg, pg);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 2, "%s", out);
  cr_expect(strstr(out, "the same store"), "%s", out);
  char other[400];
  PGconn *c2 = fresh_schema("copyrt2", other, sizeof other);
  snprintf(args, sizeof args, "copy rt --from '%s' --to '%s' -q", pg, other);
  cr_assert_eq(hps_run(tmpdir, args, out, sizeof out), 0, "%s", out);
  PQclear(PQexec(c2, "DROP SCHEMA copyrt2 CASCADE"));
  PQfinish(c2);
  rs_store_close(st);
  PQclear(PQexec(c, "DROP SCHEMA copyrt CASCADE"));
  PQfinish(c);
}

/* ---- same-host reclaim on PostgreSQL: a runner killed mid-trial does not leave a 600 s wait ---- */

/* kill -9 of a process and all its descendants, frozen first: nobody gets to record anything (a program
** sweep's worker runs its program in a group of its own). */
static void kill_tree(pid_t p) {
  kill(p, SIGSTOP);
  pid_t kids[64];
  int n = hps_children_of(p, kids, 64);
  for (int i = 0; i < n; i++) kill_tree(kids[i]);
  kill(p, SIGKILL);
}

Test(rs_pg, a_runner_killed_mid_trial_is_reclaimed_at_once_by_a_runner_on_the_same_host) {
  char pg[400], cmd[1400], out[8192];
  PGconn *c = fresh_schema("deadrun", pg, sizeof pg);
  cr_assert_eq(chmod(hps_put(tmpdir, "report.sh", slow_sh), 0755), 0);
  hps_put(tmpdir, "dead.yaml", "program: report.sh\ncommand: [\"${program}\", \"${args}\"]\nmethod: grid\n"
                               "metric: {name: loss, goal: minimize}\nparameters:\n  lr: {values: [0.0, 0.05]}\n");
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    setpgid(0, 0); /* its own group: killed with its workers and their programs */
    snprintf(cmd, sizeof cmd, "cd '%s' && HPS_LEASE_SECONDS=600 exec '%s' run dead.yaml -j 1 --quiet --db '%s' "
             ">first.log 2>&1", tmpdir, hps_bin(), pg);
    execl("/bin/sh", "sh", "-c", cmd, (char *)NULL);
    _exit(127);
  }
  setpgid(pid, pid);
  int running = 0;
  for (int i = 0; i < 600 && !running; i++) {
    usleep(20000);
    PGresult *r = PQexec(c, "SELECT count(*) FROM deadrun.trials WHERE status = 'running'");
    running = PQresultStatus(r) == PGRES_TUPLES_OK && atoi(PQgetvalue(r, 0, 0)) > 0;
    PQclear(r);
  }
  cr_assert(running, "the first runner never got going");
  usleep(200000); /* mid-trial: its program takes 0.6 s */
  kill_tree(pid);
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  PGresult *r = PQexec(c, "SELECT count(*) FROM deadrun.trials WHERE status = 'running' AND owner IS NOT NULL AND "
                          "lease_until > extract(epoch FROM now()) + 300");
  const char *live = PQgetvalue(r, 0, 0);
  PGresult *all = PQexec(c, "SELECT string_agg(status || ' ' || coalesce(owner, '-') || ' ' || coalesce(lease_until - "
                            "extract(epoch FROM now()), -1), '; ') FROM deadrun.trials");
  cr_assert_str_eq(live, "1", "a live 600 s lease held by the dead runner: %s", PQgetvalue(all, 0, 0));
  PQclear(all);
  PQclear(r);
  /* Waiting out the lease would take 600 s. */
  snprintf(cmd, sizeof cmd, "cd '%s' && HPS_LEASE_SECONDS=600 timeout 120 '%s' run dead.yaml -j 1 --quiet --db '%s' 2>&1",
           tmpdir, hps_bin(), pg);
  cr_assert_eq(hps_shell(cmd, out, sizeof out), 0, "%s", out);
  r = PQexec(c, "SELECT (SELECT count(*) FROM deadrun.trials WHERE status = 'completed'), "
                "(SELECT count(*) FROM deadrun.events WHERE kind = 'expire'), "
                "(SELECT count(*) FROM deadrun.events WHERE kind = 'reclaim')");
  cr_expect_str_eq(PQgetvalue(r, 0, 0), "2");
  cr_expect_str_eq(PQgetvalue(r, 0, 1), "1");
  cr_expect_str_eq(PQgetvalue(r, 0, 2), "1");
  PQclear(r);
  PQclear(PQexec(c, "DROP SCHEMA deadrun CASCADE"));
  PQfinish(c);
}
