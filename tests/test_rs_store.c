/* Tests of the results store: schema, idempotent inserts, claims under
** concurrency (two handles, forked processes), stale claims, leases, retries,
** resumes, clear errors on foreign files, read-only access during a write. */
#include <criterion/criterion.h>
#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hps_test.h"
#include "rs_schema.h"
#include "rs_backend.h" /* rs_sqlite_db: the SQLite backend's connection, for its query plans */
#include "rs_store.h"

static char dir[64];
static char db[128];

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "test_rs_store_");
  snprintf(db, sizeof db, "%s/s.db", dir);
}

static void teardown(void) { cr_assert_eq(hps_tmp_remove(dir), 0); }

TestSuite(rs_store, .init = setup, .fini = teardown);

static RsStore *open_rw(void) {
  RsStore *st = NULL;
  TrErr err = {0, ""};
  int rc = rs_store_open(db, RS_OPEN_CREATE, &st, &err);
  cr_assert_eq(rc, TR_OK, "open: %s", err.msg);
  return st;
}

/* A sweep "s" with n trials, idx i has hash "h<i>" and params {"optimizer.lr": i/1000}. */
static int64_t make_sweep(RsStore *st, int n) {
  int64_t id = 0;
  cr_assert_eq(rs_sweep_upsert(st, "s", "name: s\n", "abc", "grid", "val_loss", "minimize", 7, "train", &id),
               TR_OK, "%s", rs_store_errmsg(st));
  RsTrialDef *d = calloc((size_t)n, sizeof *d);
  char(*h)[32] = calloc((size_t)n, sizeof *h);
  char(*p)[64] = calloc((size_t)n, sizeof *p);
  for (int i = 0; i < n; i++) {
    snprintf(h[i], sizeof h[i], "%016x", i);
    snprintf(p[i], sizeof p[i], "{\"optimizer.lr\": %g}", i / 1000.0);
    d[i] = (RsTrialDef){i, h[i], "{\"train\": {}}", p[i], 100 + i};
  }
  size_t added = 99;
  cr_assert_eq(rs_trials_insert(st, id, (size_t)n, d, &added), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(added, (size_t)n);
  free(d);
  free(h);
  free(p);
  return id;
}

static int64_t scalar(RsStore *st, const char *sql) {
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(rs_sqlite_db(st), sql, -1, &s, NULL), SQLITE_OK, "%s", sql);
  cr_assert_eq(sqlite3_step(s), SQLITE_ROW, "%s", sql);
  int64_t v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

static double fake_now(void *ctx) { return *(double *)ctx; }

static RsMetric metric(int64_t step, const char *name, double v) {
  return (RsMetric){step, step * 64, step * 0.1, v, name};
}

Test(rs_store, new_file_gets_the_current_schema_wal_and_application_id) {
  RsStore *st = open_rw();
  cr_expect_eq(scalar(st, "PRAGMA user_version"), RS_SCHEMA_VERSION);
  cr_expect_eq(scalar(st, "PRAGMA application_id"), RS_APPLICATION_ID);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM sqlite_master WHERE name IN "
                          "('sweeps','trials','metrics','events','trial_params','trials_view')"), 6);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM pragma_table_info('trials') WHERE name IN "
                          "('failures','reclaims','no_retry','heartbeat')"), 4, "the v2 columns");
  sqlite3_stmt *s;
  sqlite3_prepare_v2(rs_sqlite_db(st), "PRAGMA journal_mode", -1, &s, NULL);
  cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
  cr_expect_str_eq((const char *)sqlite3_column_text(s, 0), "wal");
  sqlite3_finalize(s);
  rs_store_close(st);
  st = open_rw(); /* reopening an existing file changes nothing */
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind = 'create'"), 1);
  rs_store_close(st);
}

Test(rs_store, reinserting_the_same_trials_inserts_nothing) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 5);
  int64_t id2 = 0;
  cr_assert_eq(rs_sweep_upsert(st, "s", "name: s\n", "abc", "grid", "val_loss", "minimize", 7, NULL, &id2), TR_OK);
  cr_expect_eq(id2, id);
  RsTrialDef d = {0, "0000000000000000", "{}", "{\"optimizer.lr\": 0}", 100};
  size_t added = 99;
  cr_assert_eq(rs_trials_insert(st, id, 1, &d, &added), TR_OK);
  cr_expect_eq(added, 0);
  RsCounts c;
  cr_assert_eq(rs_sweep_counts(st, id, &c), TR_OK);
  cr_expect_eq(c.total, 5);
  cr_expect_eq(c.n[RS_PENDING], 5);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trial_params WHERE name = 'optimizer.lr'"), 5);
  rs_store_close(st);
}

Test(rs_store, changed_spec_hash_for_an_existing_name_is_explained) {
  RsStore *st = open_rw();
  make_sweep(st, 2);
  int64_t id = 0;
  int rc = rs_sweep_upsert(st, "s", "other", "zzz", "grid", "val_loss", "minimize", 7, "train", &id);
  cr_expect_eq(rc, TR_EINVAL);
  cr_expect(strstr(rs_store_errmsg(st), "the spec changed") != NULL, "%s", rs_store_errmsg(st));
  cr_expect(strstr(rs_store_errmsg(st), db) != NULL, "names the file: %s", rs_store_errmsg(st));
  RsSweep *v;
  size_t n;
  cr_assert_eq(rs_sweeps_list(st, &v, &n), TR_OK);
  cr_expect_eq(n, 1);
  cr_expect_str_eq(v[0].spec_hash, "abc");
  rs_sweeps_free(v, n);
  RsSweep one;
  cr_expect_eq(rs_sweep_get(st, "nope", &one), TR_ENOTFOUND);
  cr_assert_eq(rs_sweep_get(st, "s", &one), TR_OK);
  cr_expect_str_eq(one.metric, "val_loss");
  rs_sweep_clear(&one);
  rs_store_close(st);
}

Test(rs_store, bad_trial_json_is_refused) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 1);
  RsTrialDef d = {1, "ffffffffffffffff", "{}", "{lr: 1", 1};
  cr_expect_eq(rs_trials_insert(st, id, 1, &d, NULL), TR_EINVAL);
  cr_expect(strstr(rs_store_errmsg(st), "params is not valid JSON") != NULL, "%s", rs_store_errmsg(st));
  rs_store_close(st);
}

Test(rs_store, two_handles_claim_each_trial_exactly_once) {
  RsStore *a = open_rw(), *b = open_rw();
  int64_t id = make_sweep(a, 10);
  int seen[10] = {0};
  for (int i = 0; i < 10; i++) {
    RsClaim c;
    RsStore *st = i % 2 ? b : a;
    cr_assert_eq(rs_trial_claim(st, id, i % 2 ? "h:2" : "h:1", 60, 3, &c), TR_OK, "%s", rs_store_errmsg(st));
    cr_assert_eq(c.claimed, 1);
    cr_expect_str_eq(c.kind, "claim");
    cr_expect_eq(c.attempts, 1);
    cr_expect_eq(c.seed, 100 + c.idx);
    cr_expect_null(c.checkpoint);
    seen[c.idx]++;
    rs_claim_clear(&c);
  }
  for (int i = 0; i < 10; i++) cr_expect_eq(seen[i], 1, "trial %d claimed %d times", i, seen[i]);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(b, id, "h:2", 60, 3, &c), TR_OK);
  cr_expect_eq(c.claimed, 0);
  cr_expect_eq(c.running, 10);
  cr_expect(c.wait_seconds > 0 && c.wait_seconds <= 60);
  rs_store_close(a);
  rs_store_close(b);
}

/* Each child: claim, write 3 metric rows, finish, until nothing is left. */
static int child_loop(int64_t sweep_id, int w) {
  RsStore *st = NULL;
  if (rs_store_open(db, RS_OPEN_EXISTING, &st, NULL) != TR_OK) return 10;
  char worker[32];
  snprintf(worker, sizeof worker, "test:%d", w);
  for (;;) {
    RsClaim c;
    if (rs_trial_claim(st, sweep_id, worker, 60, 1, &c) != TR_OK) return 11;
    if (!c.claimed) break;
    RsMetric m[3] = {metric(0, "train_loss", 3.0), metric(1, "train_loss", 2.5), metric(1, "val_loss", 2.6)};
    if (rs_metrics_put(st, c.trial_id, c.claim_token, 3, m) != TR_OK) return 12;
    RsTrialResult r = {2.6, 2.6, 1, 2, 128, 0.2, 1e9, "{}", NULL, 0};
    if (rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, &r) != TR_OK) return 13;
    rs_claim_clear(&c);
  }
  rs_store_close(st);
  return 0;
}

Test(rs_store, forked_workers_complete_every_trial_exactly_once) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 60);
  rs_store_close(st); /* never carry a connection across fork */
  pid_t kids[4];
  for (int w = 0; w < 4; w++) {
    kids[w] = fork();
    cr_assert_neq(kids[w], -1);
    if (kids[w] == 0) _exit(child_loop(id, w));
  }
  for (int w = 0; w < 4; w++) {
    int status = 0;
    cr_assert_eq(waitpid(kids[w], &status, 0), kids[w]);
    cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0, "worker %d: status %d", w, status);
  }
  st = open_rw();
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trials WHERE status = 'completed' AND attempts = 1"), 60);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind = 'claim'"), 60);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind = 'complete'"), 60);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM metrics"), 180);
  sqlite3_stmt *s;
  sqlite3_prepare_v2(rs_sqlite_db(st), "PRAGMA integrity_check", -1, &s, NULL);
  cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
  cr_expect_str_eq((const char *)sqlite3_column_text(s, 0), "ok");
  sqlite3_finalize(s);
  rs_store_close(st);
}

Test(rs_store, expired_lease_is_reclaimed_and_the_stale_claim_changes_nothing) {
  double now = 1000.0;
  RsStore *a = open_rw(), *b = open_rw();
  rs_store_set_clock(a, fake_now, &now);
  rs_store_set_clock(b, fake_now, &now);
  int64_t id = make_sweep(a, 1);
  RsClaim ca, cb;
  cr_assert_eq(rs_trial_claim(a, id, "h:1", 30, 1, &ca), TR_OK);
  cr_assert_eq(ca.claimed, 1);
  RsMetric m[2] = {metric(0, "train_loss", 3.0), metric(10, "train_loss", 2.0)};
  cr_assert_eq(rs_metrics_put(a, ca.trial_id, ca.claim_token, 2, m), TR_OK);
  now += 20; /* within the lease: a heartbeat extends it to 1050 */
  cr_assert_eq(rs_trial_heartbeat(a, ca.trial_id, ca.claim_token, 30), TR_OK);
  now += 25; /* 1045 < 1050: still held */
  cr_assert_eq(rs_trial_claim(b, id, "h:2", 30, 1, &cb), TR_OK);
  cr_expect_eq(cb.claimed, 0);
  cr_expect_eq(cb.running, 1);
  cr_expect_float_eq(cb.wait_seconds, 5.0, 1e-9);
  now += 10; /* expired: the worker is presumed dead */
  cr_assert_eq(rs_trial_claim(b, id, "h:2", 30, 1, &cb), TR_OK);
  cr_assert_eq(cb.claimed, 1);
  cr_expect_str_eq(cb.kind, "reclaim");
  cr_expect_eq(cb.trial_id, ca.trial_id);
  cr_expect_gt(cb.claim_token, ca.claim_token);
  cr_expect_eq(cb.attempts, 2);
  cr_expect_eq(scalar(b, "SELECT count(*) FROM metrics"), 0, "a restart without checkpoint drops the old curve");
  /* The old worker wakes up: every write of it is refused and changes nothing. */
  RsMetric late = metric(20, "train_loss", 1.0);
  cr_expect_eq(rs_metrics_put(a, ca.trial_id, ca.claim_token, 1, &late), RS_LOST);
  cr_expect(strstr(rs_store_errmsg(a), "lost") != NULL, "%s", rs_store_errmsg(a));
  cr_expect_eq(rs_trial_heartbeat(a, ca.trial_id, ca.claim_token, 30), RS_LOST);
  cr_expect_eq(rs_trial_set_checkpoint(a, ca.trial_id, ca.claim_token, "/x.ckpt", 20), RS_LOST);
  RsTrialResult r = {1.0, 1.0, 20, 20, 1280, 2.0, 1e9, NULL, NULL, 0};
  cr_expect_eq(rs_trial_finish(a, ca.trial_id, ca.claim_token, RS_COMPLETED, &r), RS_LOST);
  RsTrial t;
  cr_assert_eq(rs_trial_get(b, cb.trial_id, &t), TR_OK);
  cr_expect_eq(t.status, RS_RUNNING);
  cr_expect_str_eq(t.worker, "h:2");
  cr_expect_null(t.checkpoint);
  cr_expect(isnan(t.final_metric));
  rs_trial_clear(&t);
  cr_expect_eq(scalar(b, "SELECT count(*) FROM metrics"), 0);
  cr_expect_eq(scalar(b, "SELECT count(*) FROM events WHERE kind = 'reclaim'"), 1);
  /* The new holder finishes normally. */
  cr_expect_eq(rs_trial_finish(b, cb.trial_id, cb.claim_token, RS_COMPLETED, &r), TR_OK);
  cr_expect_eq(scalar(b, "SELECT count(*) FROM trials WHERE status = 'completed' AND steps = 20"), 1);
  rs_claim_clear(&ca);
  rs_claim_clear(&cb);
  rs_store_close(a);
  rs_store_close(b);
}

Test(rs_store, failed_trials_are_retried_up_to_max_attempts) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 1);
  const char *kinds[3] = {"claim", "retry", "retry"};
  for (int k = 0; k < 3; k++) {
    RsClaim c;
    cr_assert_eq(rs_trial_claim(st, id, "h:1", 60, 3, &c), TR_OK);
    cr_assert_eq(c.claimed, 1, "attempt %d", k + 1);
    cr_expect_str_eq(c.kind, kinds[k]);
    cr_expect_eq(c.attempts, k + 1);
    if (k == 0) cr_assert_eq(rs_trial_set_checkpoint(st, c.trial_id, c.claim_token, "/c.ckpt", 5), TR_OK);
    else cr_expect_null(c.checkpoint, "a retry starts over");
    RsTrialResult r = {NAN, NAN, -1, 3, 0, 0.1, 0, NULL, "boom\nlast log line", 0};
    cr_assert_eq(rs_trial_finish(st, c.trial_id, c.claim_token, RS_FAILED, &r), TR_OK);
    rs_claim_clear(&c);
  }
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 60, 3, &c), TR_OK);
  cr_expect_eq(c.claimed, 0);
  cr_expect_eq(c.running, 0, "nothing left to wait for");
  RsCounts n;
  cr_assert_eq(rs_sweep_counts(st, id, &n), TR_OK);
  cr_expect_eq(n.n[RS_FAILED], 1);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind = 'fail' AND message = 'boom'"), 3);
  rs_store_close(st);
}

Test(rs_store, interrupted_trial_resumes_from_its_checkpoint) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 2);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 60, 1, &c), TR_OK);
  RsMetric m[10];
  for (int i = 0; i < 10; i++) m[i] = metric(i, "train_loss", 3.0 - 0.1 * i);
  cr_assert_eq(rs_metrics_put(st, c.trial_id, c.claim_token, 10, m), TR_OK);
  cr_assert_eq(rs_trial_set_checkpoint(st, c.trial_id, c.claim_token, "/run/c.ckpt", 5), TR_OK);
  size_t marked = 0;
  cr_assert_eq(rs_trials_mark_interrupted(st, id, "h:1", &marked), TR_OK);
  cr_expect_eq(marked, 1);
  cr_expect_eq(rs_metrics_put(st, c.trial_id, c.claim_token, 1, m), RS_LOST, "interrupted: no more writes");
  int64_t tid = c.trial_id;
  rs_claim_clear(&c);
  cr_assert_eq(rs_trial_claim(st, id, "h:9", 60, 1, &c), TR_OK);
  cr_assert_eq(c.claimed, 1);
  cr_expect_eq(c.trial_id, tid, "interrupted trials come first");
  cr_expect_str_eq(c.kind, "resume");
  cr_expect_str_eq(c.checkpoint, "/run/c.ckpt");
  cr_expect_eq(c.checkpoint_step, 5);
  RsPoint *p;
  size_t n;
  cr_assert_eq(rs_metrics_read(st, tid, "train_loss", &p, &n), TR_OK);
  cr_expect_eq(n, 6, "steps 0..5 kept, 6..9 dropped");
  cr_expect_eq(p[n - 1].step, 5);
  free(p);
  /* The checkpoint cannot be loaded: the run restarts clean. */
  cr_assert_eq(rs_trial_reset(st, tid, c.claim_token), TR_OK);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM metrics"), 0);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trials WHERE checkpoint IS NULL"), 2);
  rs_claim_clear(&c);
  rs_store_close(st);
}

Test(rs_store, running_view_shows_latest_progress) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 3);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 60, 1, &c), TR_OK);
  RsMetric m[4] = {metric(0, "train_loss", 3.0), metric(50, "train_loss", 2.0), metric(50, "val_loss", 2.2),
                   metric(50, "train_loss", 1.9)}; /* re-logging a step replaces it */
  cr_assert_eq(rs_metrics_put(st, c.trial_id, c.claim_token, 4, m), TR_OK);
  RsRunning *r;
  size_t n;
  cr_assert_eq(rs_trials_running(st, id, &r, &n), TR_OK);
  cr_assert_eq(n, 1);
  cr_expect_eq(r[0].step, 50);
  cr_expect_float_eq(r[0].train_loss, 1.9, 1e-12);
  cr_expect_float_eq(r[0].val_loss, 2.2, 1e-12);
  cr_expect_str_eq(r[0].worker, "h:1");
  rs_running_free(r, n);
  rs_claim_clear(&c);
  rs_store_close(st);
}

Test(rs_store, metric_buffer_flushes_when_full_and_stops_when_lost) {
  double now = 0;
  RsStore *st = open_rw();
  rs_store_set_clock(st, fake_now, &now);
  int64_t id = make_sweep(st, 1);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 10, 1, &c), TR_OK);
  RsMetricBuf b;
  cr_assert_eq(rs_metricbuf_init(&b, st, c.trial_id, c.claim_token, 4, 3600), TR_OK);
  for (int i = 0; i < 6; i++) cr_assert_eq(rs_metricbuf_add(&b, i, i, i, "train_loss", 1.0 / (i + 1)), TR_OK);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM metrics"), 4, "one batch of 4 written, 2 waiting");
  cr_assert_eq(rs_metricbuf_flush(&b), TR_OK);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM metrics"), 6);
  now = 100; /* lease expired; someone else takes the trial */
  RsClaim c2;
  cr_assert_eq(rs_trial_claim(st, id, "h:2", 10, 1, &c2), TR_OK);
  cr_assert_eq(c2.claimed, 1);
  cr_assert_eq(rs_metricbuf_add(&b, 6, 6, 6, "train_loss", 0.1), TR_OK);
  cr_expect_eq(rs_metricbuf_flush(&b), RS_LOST);
  cr_expect_eq(rs_metricbuf_add(&b, 7, 7, 7, "train_loss", 0.1), RS_LOST, "lost is sticky");
  cr_expect_eq(scalar(st, "SELECT count(*) FROM metrics"), 0);
  rs_metricbuf_deinit(&b);
  rs_claim_clear(&c);
  rs_claim_clear(&c2);
  rs_store_close(st);
}

static void expect_refused_unchanged(const char *what) {
  size_t n0, n1;
  char *before = hps_slurp(db, &n0);
  RsStore *st = (RsStore *)1;
  TrErr err = {0, ""};
  int rc = rs_store_open(db, RS_OPEN_CREATE, &st, &err);
  cr_expect_neq(rc, TR_OK);
  cr_expect_null(st);
  cr_expect(strstr(err.msg, what) != NULL, "message '%s' lacks '%s'", err.msg, what);
  cr_expect(strstr(err.msg, db) == err.msg, "message names the file: %s", err.msg);
  cr_expect(strchr(err.msg, '\n') == NULL);
  char *after = hps_slurp(db, &n1);
  cr_expect(n0 == n1 && memcmp(before, after, n0) == 0, "the file was modified");
  free(before);
  free(after);
}

Test(rs_store, a_file_that_is_not_a_database_is_refused_unchanged) {
  FILE *f = fopen(db, "wb");
  fputs("name: not a database\nmethod: grid\n", f);
  fclose(f);
  expect_refused_unchanged("not an SQLite database");
}

Test(rs_store, a_foreign_sqlite_database_is_refused_unchanged) {
  sqlite3 *raw;
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw, "CREATE TABLE notes (t TEXT); INSERT INTO notes VALUES ('hi')", 0, 0, 0),
               SQLITE_OK);
  sqlite3_close(raw);
  expect_refused_unchanged("not an hpsweep database");
}

Test(rs_store, a_newer_schema_version_is_refused_unchanged) {
  rs_store_close(open_rw());
  sqlite3 *raw;
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw, "PRAGMA user_version = 99", 0, 0, 0), SQLITE_OK);
  sqlite3_close(raw);
  expect_refused_unchanged("newer hpsweep (schema version 99");
}

Test(rs_store, missing_file_read_only_and_postgresql_give_clear_errors) {
  RsStore *st;
  TrErr err = {0, ""};
  cr_expect_eq(rs_store_open(db, RS_OPEN_READONLY, &st, &err), TR_ENOTFOUND);
  cr_expect(strstr(err.msg, "no such database file") != NULL, "%s", err.msg);
  cr_expect(access(db, F_OK) != 0, "read-only open must not create the file");
#ifdef HPS_HAVE_LIBPQ
  /* A server that is not there: the message names the URL (its password hidden) and libpq's reason. */
  cr_expect_neq(rs_store_open("postgresql://u:secret@/db?host=/nonexistent&connect_timeout=2", RS_OPEN_CREATE, &st,
                              &err), TR_OK);
  cr_expect(strstr(err.msg, "postgresql://u:***@/db?host=/nonexistent") && !strstr(err.msg, "secret") &&
            strstr(err.msg, "cannot connect") && !strchr(err.msg, '\n'), "%s", err.msg);
#else
  cr_expect_eq(rs_store_open("postgresql://u@h/db", RS_OPEN_CREATE, &st, &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "not built in this version") != NULL, "%s", err.msg);
#endif
}

Test(rs_store, read_only_handle_reads_while_a_writer_holds_a_transaction) {
  RsStore *w = open_rw();
  int64_t id = make_sweep(w, 3);
  sqlite3 *wdb = rs_sqlite_db(w);
  cr_assert_eq(sqlite3_exec(wdb, "BEGIN IMMEDIATE; UPDATE trials SET status = 'failed'", 0, 0, 0), SQLITE_OK);
  RsStore *r = NULL;
  TrErr err = {0, ""};
  cr_assert_eq(rs_store_open(db, RS_OPEN_READONLY, &r, &err), TR_OK, "%s", err.msg);
  RsCounts c;
  cr_assert_eq(rs_sweep_counts(r, id, &c), TR_OK, "%s", rs_store_errmsg(r));
  cr_expect_eq(c.n[RS_PENDING], 3, "the reader sees the last committed state");
  RsClaim cl;
  cr_expect_eq(rs_trial_claim(r, id, "h:1", 60, 1, &cl), TR_EINVAL);
  cr_expect(strstr(rs_store_errmsg(r), "read-only") != NULL, "%s", rs_store_errmsg(r));
  cr_assert_eq(sqlite3_exec(wdb, "COMMIT", 0, 0, 0), SQLITE_OK);
  cr_assert_eq(rs_sweep_counts(r, id, &c), TR_OK);
  cr_expect_eq(c.n[RS_FAILED], 3);
  rs_store_close(r);
  rs_store_close(w);
}

Test(rs_store, a_writer_waits_out_another_process_holding_the_write_lock) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 1);
  rs_store_close(st);
  int fd[2];
  cr_assert_eq(pipe(fd), 0);
  pid_t kid = fork();
  cr_assert_neq(kid, -1);
  if (kid == 0) {
    sqlite3 *raw;
    if (sqlite3_open(db, &raw) != SQLITE_OK) _exit(1);
    if (sqlite3_exec(raw, "BEGIN IMMEDIATE", 0, 0, 0) != SQLITE_OK) _exit(2);
    if (write(fd[1], "L", 1) != 1) _exit(3);
    struct timespec ts = {0, 300 * 1000 * 1000};
    nanosleep(&ts, NULL);
    sqlite3_exec(raw, "COMMIT", 0, 0, 0);
    sqlite3_close(raw);
    _exit(0);
  }
  char ch;
  cr_assert_eq(read(fd[0], &ch, 1), 1);
  st = open_rw();
  RsClaim c;
  cr_expect_eq(rs_trial_claim(st, id, "h:1", 60, 1, &c), TR_OK, "%s", rs_store_errmsg(st));
  cr_expect_eq(c.claimed, 1);
  rs_claim_clear(&c);
  int status;
  waitpid(kid, &status, 0);
  cr_expect(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  rs_store_close(st);
  close(fd[0]);
  close(fd[1]);
}

Test(rs_store, a_missing_database_directory_is_named) {
  char path[256];
  snprintf(path, sizeof path, "%s/no_such_dir/runs.db", dir);
  RsStore *st = NULL;
  TrErr err = {0, ""};
  cr_assert_neq(rs_store_open(path, RS_OPEN_CREATE, &st, &err), TR_OK);
  cr_expect_null(st);
  char want[400];
  snprintf(want, sizeof want, "%s: directory %s/no_such_dir does not exist", path, dir);
  cr_expect_str_eq(err.msg, want);
  snprintf(path, sizeof path, "%s/s.db/x.db", dir); /* the "directory" is a file */
  hps_put(dir, "s.db", "");
  cr_assert_neq(rs_store_open(path, RS_OPEN_CREATE, &st, &err), TR_OK);
  cr_expect(strstr(err.msg, "is not a directory"), "%s", err.msg);
}

/* Size of db's -wal file, -1 when there is none. */
static long long wal_size(void) {
  char p[160];
  snprintf(p, sizeof p, "%s-wal", db);
  FILE *f = fopen(p, "rb");
  if (!f) return -1;
  fseek(f, 0, SEEK_END);
  long long n = ftell(f);
  fclose(f);
  return n;
}

Test(rs_store, a_keep_wal_close_leaves_the_wal_and_an_ordinary_close_folds_it_in) {
  RsStore *st = open_rw();
  make_sweep(st, 3);
  rs_store_close(st);
  cr_assert_eq(wal_size(), -1, "an ordinary last close checkpoints and deletes the WAL");
  TrErr err = {0, ""};
  cr_assert_eq(rs_store_open(db, RS_OPEN_EXISTING | RS_OPEN_KEEP_WAL, &st, &err), TR_OK, "%s", err.msg);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, 1, "w", 30, 2, &c), TR_OK, "%s", rs_store_errmsg(st));
  rs_claim_clear(&c);
  rs_store_close(st);
  cr_expect_gt(wal_size(), 0, "closing a KEEP_WAL handle leaves the claim in the WAL");
  cr_assert_eq(rs_store_open(db, RS_OPEN_READONLY, &st, &err), TR_OK, "%s", err.msg);
  RsCounts k;
  cr_assert_eq(rs_sweep_counts(st, 1, &k), TR_OK);
  cr_expect_eq(k.n[RS_RUNNING], 1, "readers see what the WAL holds");
  rs_store_close(st);
  st = open_rw();
  rs_store_close(st);
  cr_expect_eq(wal_size(), -1, "the next ordinary close folds the WAL into the file");
  sqlite3 *d;
  cr_assert_eq(sqlite3_open_v2(db, &d, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  cr_expect_eq(hps_q_int(d, "SELECT count(*) FROM trials WHERE status = 'running'"), 1);
  sqlite3_close(d);
}

Test(rs_store, sweep_delete_removes_trials_metrics_and_events_but_not_while_a_lease_lives) {
  double now = 1000.0;
  RsStore *st = open_rw();
  rs_store_set_clock(st, fake_now, &now);
  int64_t id = make_sweep(st, 3);
  int64_t other = 0;
  cr_assert_eq(rs_sweep_upsert(st, "keep", "name: keep\n", "k", "grid", "val_loss", "minimize", 0, "train", &other),
               TR_OK);
  RsTrialDef d = {0, "00000000000000ff", "{\"train\": {}}", "{}", 1};
  cr_assert_eq(rs_trials_insert(st, other, 1, &d, NULL), TR_OK);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 30, 1, &c), TR_OK);
  cr_assert_eq(c.claimed, 1);
  RsMetric m = metric(1, "train_loss", 2.5);
  cr_assert_eq(rs_metrics_put(st, c.trial_id, c.claim_token, 1, &m), TR_OK);
  int64_t n = -1;
  cr_assert_eq(rs_sweep_delete(st, "s", &n), TR_EINVAL, "a live lease must block the delete");
  cr_expect(strstr(rs_store_errmsg(st), "1 trials are running under a live lease"), "%s", rs_store_errmsg(st));
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trials"), 4, "nothing deleted");
  cr_expect_eq(scalar(st, "SELECT count(*) FROM metrics"), 1);
  rs_claim_clear(&c);
  now += 31; /* the runner died: its lease expired */
  cr_assert_eq(rs_sweep_delete(st, "s", &n), TR_OK, "%s", rs_store_errmsg(st));
  cr_expect_eq(n, 3);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM sweeps WHERE name = 's'"), 0);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trials WHERE sweep_id = 1"), 0);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM metrics"), 0);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE sweep_id = 1 OR trial_id <= 3"), 0);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind = 'delete'"), 1);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trials WHERE sweep_id = 2"), 1, "another sweep is untouched");
  cr_expect_eq(rs_sweep_delete(st, "s", &n), TR_ENOTFOUND);
  RsTrialKey *k;
  size_t nk;
  cr_assert_eq(rs_trial_keys(st, other, &k, &nk), TR_OK);
  cr_expect_eq(nk, 1);
  cr_expect_str_eq(k[0].hash, "00000000000000ff");
  free(k);
  rs_store_close(st);
}

Test(rs_store, same_trials_under_another_metric_or_goal_are_refused_by_the_store) {
  RsStore *st = open_rw();
  make_sweep(st, 1);
  int64_t id;
  cr_expect_eq(rs_sweep_upsert(st, "s", "x", "abc", "grid", "train_loss", "minimize", 7, "train", &id), TR_EINVAL);
  cr_expect(strstr(rs_store_errmsg(st), "metric val_loss (minimize)"), "%s", rs_store_errmsg(st));
  cr_expect_eq(rs_sweep_upsert(st, "s", "x", "abc", "grid", "val_loss", "maximize", 7, "train", &id), TR_EINVAL);
  cr_expect_eq(rs_sweep_upsert(st, "s", "x", "abc", "grid", "val_loss", "minimize", 7, "train", &id), TR_OK);
  rs_store_close(st);
}

Test(rs_store, interruptions_and_reclaims_do_not_use_up_retries_only_failures_do) {
  double now = 1000.0;
  RsStore *st = open_rw();
  rs_store_set_clock(st, fake_now, &now);
  int64_t id = make_sweep(st, 1);
  RsClaim c;
  /* max_retries 1 (max_attempts 2): two Ctrl-C, one dead runner, then a failure. */
  for (int k = 0; k < 2; k++) {
    cr_assert_eq(rs_trial_claim(st, id, "h:1", 30, 2, &c), TR_OK);
    cr_assert_eq(rs_trial_finish(st, c.trial_id, c.claim_token, RS_INTERRUPTED, NULL), TR_OK);
    rs_claim_clear(&c);
  }
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 30, 2, &c), TR_OK);
  rs_claim_clear(&c);
  now += 31; /* that runner died */
  cr_assert_eq(rs_trial_claim(st, id, "h:2", 30, 2, &c), TR_OK);
  cr_expect_str_eq(c.kind, "reclaim");
  cr_assert_eq(rs_trial_finish(st, c.trial_id, c.claim_token, RS_FAILED, NULL), TR_OK);
  rs_claim_clear(&c);
  cr_expect_eq(scalar(st, "SELECT attempts FROM trials"), 4);
  cr_expect_eq(scalar(st, "SELECT failures FROM trials"), 1);
  cr_expect_eq(scalar(st, "SELECT reclaims FROM trials"), 1);
  cr_assert_eq(rs_trial_claim(st, id, "h:2", 30, 2, &c), TR_OK);
  cr_assert_eq(c.claimed, 1, "one failure of max_retries 1: retried");
  cr_expect_str_eq(c.kind, "retry");
  cr_assert_eq(rs_trial_finish(st, c.trial_id, c.claim_token, RS_FAILED, NULL), TR_OK);
  rs_claim_clear(&c);
  cr_assert_eq(rs_trial_claim(st, id, "h:2", 30, 2, &c), TR_OK);
  cr_expect_eq(c.claimed, 0, "two failures: no more retries");
  rs_claim_clear(&c);
  rs_store_close(st);
}

Test(rs_store, a_trial_whose_lease_expires_4_times_without_a_checkpoint_fails_for_good_with_the_reason) {
  double now = 1000.0;
  RsStore *st = open_rw();
  rs_store_set_clock(st, fake_now, &now);
  int64_t id = make_sweep(st, 2);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:0", 30, 5, &c), TR_OK);
  int64_t victim = c.trial_id;
  rs_claim_clear(&c);
  for (int k = 1; k <= RS_RECLAIM_MAX + 1; k++) { /* every runner that takes it dies */
    now += 31;
    cr_assert_eq(rs_trial_claim(st, id, "h:k", 30, 5, &c), TR_OK);
    cr_expect_str_eq(c.kind, "reclaim");
    cr_expect_eq(c.trial_id, victim);
    /* The first one got as far as a checkpoint: progress, the count starts again. */
    if (k == 1) cr_assert_eq(rs_trial_set_checkpoint(st, c.trial_id, c.claim_token, "/c.ckpt", 10), TR_OK);
    rs_claim_clear(&c);
  }
  now += 31;
  cr_assert_eq(rs_trial_claim(st, id, "h:9", 30, 5, &c), TR_OK);
  cr_assert_eq(c.claimed, 1);
  cr_expect_neq(c.trial_id, victim, "the 4th expiry is not reclaimed: the next trial is claimed");
  rs_claim_clear(&c);
  RsTrial t;
  cr_assert_eq(rs_trial_get(st, victim, &t), TR_OK);
  cr_expect_eq(t.status, RS_FAILED);
  cr_expect_str_eq(t.error, "lease expired 4 times without progress: the worker keeps dying");
  rs_trial_clear(&t);
  cr_expect_eq(scalar(st, "SELECT no_retry FROM trials WHERE id = 1"), 1);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind = 'fail' AND trial_id = 1"), 1);
  now += 31; /* max_attempts 5 would allow a retry: a trial that keeps dying gets none */
  cr_assert_eq(rs_trial_claim(st, id, "h:9", 30, 5, &c), TR_OK);
  cr_expect_neq(c.trial_id, victim);
  rs_claim_clear(&c);
  rs_store_close(st);
}

Test(rs_store, an_oom_failure_marked_no_retry_is_not_retried) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 1);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 60, 3, &c), TR_OK);
  RsTrialResult r = {NAN, NAN, -1, 0, 0, 0.1, 0, NULL, "worker killed by signal 9: out of memory", 1};
  cr_assert_eq(rs_trial_finish(st, c.trial_id, c.claim_token, RS_FAILED, &r), TR_OK);
  rs_claim_clear(&c);
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 60, 3, &c), TR_OK);
  cr_expect_eq(c.claimed, 0);
  rs_claim_clear(&c);
  rs_store_close(st);
}

Test(rs_store, a_v1_file_is_read_as_is_read_only_and_migrated_to_the_current_version_by_a_writer) {
  sqlite3 *raw;
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  char sql[160];
  snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA application_id=%d; PRAGMA user_version=1",
           RS_APPLICATION_ID);
  cr_assert_eq(sqlite3_exec(raw, RS_SCHEMA_V1, NULL, NULL, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw,
                            "INSERT INTO sweeps VALUES (1, 's', '', 'abc', 'grid', 'val_loss', 'minimize', 0, 'train', 0);"
                            "INSERT INTO trials (sweep_id, idx, hash, config, params, seed, status, attempts, worker, "
                            "lease_until) VALUES (1, 0, 'h0', '{}', '{}', 1, 'failed', 2, NULL, NULL), "
                            "(1, 1, 'h1', '{}', '{}', 1, 'running', 1, 'x:1', 5)",
                            NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(raw);
  RsStore *ro = NULL;
  TrErr err = {0, ""};
  cr_assert_eq(rs_store_open(db, RS_OPEN_READONLY, &ro, &err), TR_OK, "%s", err.msg);
  RsRunning *run = NULL;
  size_t n = 0;
  cr_assert_eq(rs_trials_running(ro, 1, &run, &n), TR_OK, "%s", rs_store_errmsg(ro));
  cr_assert_eq(n, 1);
  cr_expect(isnan(run[0].heartbeat), "a v1 file has no heartbeat");
  rs_running_free(run, n);
  RsCounts k;
  cr_assert_eq(rs_sweep_counts(ro, 1, &k), TR_OK);
  cr_expect_eq(k.stale, 1, "lease_until 5 is long past");
  rs_store_close(ro);
  RsStore *st = open_rw();
  cr_expect_eq(scalar(st, "PRAGMA user_version"), RS_SCHEMA_VERSION);
  cr_expect_eq(scalar(st, "SELECT failures FROM trials WHERE idx = 0"), 2, "failed: its old budget");
  cr_expect_eq(scalar(st, "SELECT failures FROM trials WHERE idx = 1"), 0);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, 1, "h:1", 60, 2, &c), TR_OK); /* the dead one is reclaimed, */
  cr_expect_eq(c.idx, 1);
  rs_claim_clear(&c);
  cr_assert_eq(rs_trial_claim(st, 1, "h:1", 60, 2, &c), TR_OK); /* the failed one is not retried */
  cr_expect_eq(c.claimed, 0);
  rs_claim_clear(&c);
  rs_store_close(st);
}

/* A sweep "s" of n trials inserted in reverse, so row ids run against idx. */
static int64_t make_sweep_reversed(RsStore *st, int n) {
  int64_t id = 0;
  cr_assert_eq(rs_sweep_upsert(st, "s", "name: s\n", "abc", "grid", "val_loss", "minimize", 7, "train", &id),
               TR_OK, "%s", rs_store_errmsg(st));
  for (int i = n - 1; i >= 0; i--) {
    char h[32], p[64];
    snprintf(h, sizeof h, "%016x", i);
    snprintf(p, sizeof p, "{\"optimizer.lr\": %d}", i);
    RsTrialDef d = {i, h, "{\"train\": {}}", p, 100 + i};
    cr_assert_eq(rs_trials_insert(st, id, 1, &d, NULL), TR_OK, "%s", rs_store_errmsg(st));
  }
  return id;
}

static void claim_expect(RsStore *st, int64_t id, const char *kind, int idx) {
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:2", 30, 2, &c), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(c.claimed, 1, "expected %s of idx %d, nothing claimed", kind, idx);
  cr_expect_str_eq(c.kind, kind, "idx %d", idx);
  cr_expect_eq(c.idx, idx, "%s: idx %d, expected %d", kind, c.idx, idx);
  rs_claim_clear(&c);
}

Test(rs_store, claims_go_resume_reclaim_claim_retry_and_by_idx_within_each) {
  double now = 1000.0;
  RsStore *st = open_rw();
  rs_store_set_clock(st, fake_now, &now);
  int64_t id = make_sweep_reversed(st, 9);
  RsClaim c[7];
  for (int i = 0; i < 7; i++) {
    cr_assert_eq(rs_trial_claim(st, id, "h:1", 30, 2, &c[i]), TR_OK);
    cr_assert_eq(c[i].idx, i, "pending trials go by idx, not by row id");
  }
  RsStatus end[7] = {RS_FAILED, RS_FAILED, RS_INTERRUPTED, RS_COMPLETED, RS_RUNNING, RS_INTERRUPTED, RS_RUNNING};
  for (int i = 0; i < 7; i++)
    if (end[i] != RS_RUNNING) cr_assert_eq(rs_trial_finish(st, c[i].trial_id, c[i].claim_token, end[i], NULL), TR_OK);
  now += 25;
  cr_assert_eq(rs_trial_heartbeat(st, c[6].trial_id, c[6].claim_token, 30), TR_OK); /* idx 6 lives on */
  now += 10;                                                                         /* idx 4's lease expired */
  claim_expect(st, id, "resume", 2);
  claim_expect(st, id, "resume", 5);
  claim_expect(st, id, "reclaim", 4);
  claim_expect(st, id, "claim", 7);
  claim_expect(st, id, "claim", 8);
  claim_expect(st, id, "retry", 0);
  claim_expect(st, id, "retry", 1);
  RsClaim none;
  cr_assert_eq(rs_trial_claim(st, id, "h:2", 30, 2, &none), TR_OK);
  cr_expect_eq(none.claimed, 0, "idx 6 is held, idx 3 completed");
  for (int i = 0; i < 7; i++) rs_claim_clear(&c[i]);
  rs_store_close(st);
}

/* Every statement a claim runs, as written (sqlite3_sql), for EXPLAIN QUERY PLAN. */
typedef struct Traced {
  char *sql[64];
  int n;
} Traced;

static int trace_stmt(unsigned type, void *ctx, void *p, void *x) {
  (void)type, (void)x;
  Traced *t = ctx;
  const char *s = sqlite3_sql((sqlite3_stmt *)p);
  if (s && t->n < 64) t->sql[t->n++] = strdup(s);
  return 0;
}

/* EXPLAIN QUERY PLAN of every traced statement (freed): none may sort or scan a table, nor
** mention `avoid` (if given); returns the plan lines, *hits those mentioning `want`. */
static int expect_plans_flat(sqlite3 *raw, Traced *t, const char *avoid, const char *want, int *hits) {
  int planned = 0;
  *hits = 0;
  for (int i = 0; i < t->n; i++) {
    char sql[2048];
    snprintf(sql, sizeof sql, "EXPLAIN QUERY PLAN %s", t->sql[i]);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(raw, sql, -1, &s, NULL) == SQLITE_OK) {
      while (sqlite3_step(s) == SQLITE_ROW) {
        const char *d = (const char *)sqlite3_column_text(s, 3);
        planned++;
        *hits += want && strstr(d, want) != NULL;
        cr_expect(strstr(d, "TEMP B-TREE") == NULL, "sorts: %s\n  in %s", d, t->sql[i]);
        cr_expect(strncmp(d, "SCAN ", 5) != 0, "scans a table: %s\n  in %s", d, t->sql[i]);
        cr_expect(!avoid || strstr(d, avoid) == NULL, "reads%s: %s\n  in %s", avoid ? avoid : "", d, t->sql[i]);
      }
      sqlite3_finalize(s);
    }
    free(t->sql[i]);
  }
  return planned;
}

/* No statement of a claim may scan a table or sort: the cost stays flat up to 100,000 trials. */
static void expect_claim_plans_indexed(RsStore *st, int64_t id, int claimable) {
  sqlite3 *raw = rs_sqlite_db(st);
  Traced t = {{0}, 0};
  sqlite3_trace_v2(raw, SQLITE_TRACE_STMT, trace_stmt, &t);
  RsClaim c;
  cr_assert_eq(rs_trial_claim(st, id, "h:1", 60, 2, &c), TR_OK, "%s", rs_store_errmsg(st));
  sqlite3_trace_v2(raw, 0, NULL, NULL);
  cr_assert_eq(c.claimed, claimable);
  rs_claim_clear(&c);
  int hits;
  cr_expect_gt(expect_plans_flat(raw, &t, NULL, NULL, &hits), 3, "the claim's queries were traced and planned");
}

Test(rs_store, claim_queries_walk_an_index_and_never_sort_or_scan_trials) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 200);
  expect_claim_plans_indexed(st, id, 1);
  cr_assert_eq(sqlite3_exec(rs_sqlite_db(st), "UPDATE trials SET status = 'completed' WHERE status = 'pending'",
                            0, 0, 0), SQLITE_OK);
  expect_claim_plans_indexed(st, id, 0); /* every class probed, then the wait query */
  rs_store_close(st);
}

Test(rs_store, a_version_1_database_gets_the_claim_index_and_stays_readable_read_only) {
  RsStore *st = open_rw();
  make_sweep(st, 3);
  rs_store_close(st);
  sqlite3 *raw;
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw, "DROP INDEX trials_claim; CREATE INDEX trials_status ON trials (sweep_id, status);"
                                 "DROP TRIGGER trial_counts_insert; DROP TRIGGER trial_counts_update;"
                                 "DROP TRIGGER trial_counts_delete; DROP TABLE trial_counts;"
                                 "ALTER TABLE trials DROP COLUMN failures; ALTER TABLE trials DROP COLUMN reclaims;"
                                 "ALTER TABLE trials DROP COLUMN no_retry; ALTER TABLE trials DROP COLUMN heartbeat;"
                                 "DROP VIEW trials_view; ALTER TABLE trials DROP COLUMN rung; ALTER TABLE events DROP COLUMN detail;"
                                 "UPDATE trials SET status = 'completed' WHERE idx = 1; PRAGMA user_version = 1",
                            0, 0, 0), SQLITE_OK);
  sqlite3_close(raw);
  TrErr err = {0, ""};
  cr_assert_eq(rs_store_open(db, RS_OPEN_READONLY, &st, &err), TR_OK, "read-only on v1: %s", err.msg);
  RsCounts n;
  cr_assert_eq(rs_sweep_counts(st, 1, &n), TR_OK, "v1 counts by scanning: %s", rs_store_errmsg(st));
  cr_expect_eq(n.n[RS_PENDING], 2);
  cr_expect_eq(n.n[RS_COMPLETED], 1);
  rs_store_close(st);
  st = open_rw();
  cr_expect_eq(scalar(st, "SELECT n FROM trial_counts WHERE status = 'pending'"), 2, "backfilled");
  cr_expect_eq(scalar(st, "SELECT n FROM trial_counts WHERE status = 'completed'"), 1);
  cr_expect_eq(scalar(st, "PRAGMA user_version"), RS_SCHEMA_VERSION);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM sqlite_master WHERE name = 'trials_claim'"), 1);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM sqlite_master WHERE name = 'trials_status'"), 0);
  expect_claim_plans_indexed(st, 1, 1);
  rs_store_close(st);
}

/* Definitions made on demand in one reused buffer; fail_at >= 0 fails that trial. */
typedef struct OnDemand {
  char config[64], params[64], hash[32];
  int fail_at;
} OnDemand;

static int def_on_demand(void *ctx, size_t i, RsTrialDef *def) {
  OnDemand *o = ctx;
  if ((int)i == o->fail_at) return TR_ENOMEM;
  snprintf(o->config, sizeof o->config, "{\"train\": {\"seed\": %zu}}", i);
  snprintf(o->params, sizeof o->params, "{\"train.seed\": %zu}", i);
  snprintf(o->hash, sizeof o->hash, "%016zx", i);
  *def = (RsTrialDef){(int)i, o->hash, o->config, o->params, (int64_t)i};
  return TR_OK;
}

Test(rs_store, trials_made_on_demand_in_one_buffer_are_inserted_each_as_made_or_not_at_all) {
  RsStore *st = open_rw();
  int64_t id = 0;
  cr_assert_eq(rs_sweep_upsert(st, "s", "name: s\n", "abc", "grid", "val_loss", "minimize", 7, "train", &id), TR_OK);
  OnDemand o = {.fail_at = 700};
  size_t added = 99;
  cr_expect_eq(rs_trials_insert_each(st, id, 1000, def_on_demand, &o, &added), TR_ENOMEM);
  cr_expect_eq(added, 0);
  cr_expect(strstr(rs_store_errmsg(st), "trial 700: out of memory") != NULL, "%s", rs_store_errmsg(st));
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trials"), 0, "one transaction: nothing inserted");
  o.fail_at = -1;
  cr_assert_eq(rs_trials_insert_each(st, id, 1000, def_on_demand, &o, &added), TR_OK, "%s", rs_store_errmsg(st));
  cr_expect_eq(added, 1000);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trials WHERE json_extract(config, '$.train.seed') = idx "
                          "AND seed = idx AND hash = printf('%016x', idx)"), 1000);
  rs_store_close(st);
}

/* trial_counts against a count of the rows, status by status. */
static void expect_counts_exact(RsStore *st, int64_t id) {
  RsCounts c;
  cr_assert_eq(rs_sweep_counts(st, id, &c), TR_OK, "%s", rs_store_errmsg(st));
  int64_t total = 0;
  for (int k = 0; k < RS_STATUS_COUNT; k++) {
    char sql[160];
    snprintf(sql, sizeof sql, "SELECT count(*) FROM trials WHERE sweep_id = %lld AND status = '%s'", (long long)id,
             rs_status_name((RsStatus)k));
    cr_expect_eq(c.n[k], scalar(st, sql), "status %s", rs_status_name((RsStatus)k));
    total += c.n[k];
  }
  cr_expect_eq(c.total, total);
}

Test(rs_store, counts_kept_by_triggers_match_the_rows_through_every_transition) {
  double now = 1000.0;
  RsStore *st = open_rw();
  rs_store_set_clock(st, fake_now, &now);
  int64_t id = make_sweep(st, 6), other = 0;
  cr_assert_eq(rs_sweep_upsert(st, "t", "name: t\n", "x", "grid", "val_loss", "minimize", 7, "train", &other), TR_OK);
  RsTrialDef d = {0, "00000000000000aa", "{}", "{}", 1};
  cr_assert_eq(rs_trials_insert(st, other, 1, &d, NULL), TR_OK);
  cr_assert_eq(rs_trials_insert(st, id, 1, &(RsTrialDef){0, "0000000000000000", "{}", "{}", 1}, NULL), TR_OK,
               "an ignored duplicate counts nothing");
  expect_counts_exact(st, id);
  RsClaim c[4];
  for (int i = 0; i < 4; i++) cr_assert_eq(rs_trial_claim(st, id, "h:1", 30, 2, &c[i]), TR_OK);
  expect_counts_exact(st, id);
  cr_assert_eq(rs_trial_finish(st, c[0].trial_id, c[0].claim_token, RS_COMPLETED, NULL), TR_OK);
  cr_assert_eq(rs_trial_finish(st, c[1].trial_id, c[1].claim_token, RS_FAILED, NULL), TR_OK);
  cr_assert_eq(rs_trial_finish(st, c[2].trial_id, c[2].claim_token, RS_DIVERGED, NULL), TR_OK);
  size_t marked = 0;
  cr_assert_eq(rs_trials_mark_interrupted(st, id, "h:1", &marked), TR_OK);
  cr_expect_eq(marked, 1);
  expect_counts_exact(st, id);
  RsClaim r;
  cr_assert_eq(rs_trial_claim(st, id, "h:2", 30, 2, &r), TR_OK); /* resume */
  now += 60;                                                       /* its lease expires */
  RsClaim r2;
  cr_assert_eq(rs_trial_claim(st, id, "h:3", 30, 2, &r2), TR_OK); /* reclaim: running stays running */
  expect_counts_exact(st, id);
  /* Plain SQL edits keep the counts too. */
  cr_assert_eq(sqlite3_exec(rs_sqlite_db(st), "UPDATE trials SET status = 'completed' WHERE status = 'pending';"
                            "DELETE FROM events WHERE trial_id IN (SELECT id FROM trials WHERE status = 'diverged');"
                            "DELETE FROM trials WHERE status = 'diverged'", 0, 0, 0), SQLITE_OK);
  expect_counts_exact(st, id);
  expect_counts_exact(st, other);
  for (int i = 0; i < 4; i++) rs_claim_clear(&c[i]);
  rs_claim_clear(&r);
  rs_claim_clear(&r2);
  rs_store_close(st);
}

Test(rs_store, counting_a_sweeps_trials_reads_the_counts_not_the_trials) {
  RsStore *st = open_rw();
  int64_t id = make_sweep(st, 50);
  sqlite3 *raw = rs_sqlite_db(st);
  Traced t = {{0}, 0};
  sqlite3_trace_v2(raw, SQLITE_TRACE_STMT, trace_stmt, &t);
  RsCounts c;
  cr_assert_eq(rs_sweep_counts(st, id, &c), TR_OK);
  sqlite3_trace_v2(raw, 0, NULL, NULL);
  cr_expect_eq(c.n[RS_PENDING], 50);
  int reads_counts = 0;
  expect_plans_flat(raw, &t, " trials ", "trial_counts", &reads_counts);
  cr_expect_gt(reads_counts, 0);
  rs_store_close(st);
}

/* Every v2 column of every trial, one text: what a migration must keep. */
#define V2_TRIAL_DUMP \
  "SELECT group_concat(id || '|' || sweep_id || '|' || idx || '|' || hash || '|' || config || '|' || params || " \
  "'|' || seed || '|' || status || '|' || attempts || '|' || ifnull(worker, '-') || '|' || " \
  "ifnull(lease_until, '-') || '|' || claim_token || '|' || ifnull(started, '-') || '|' || ifnull(ended, '-') || " \
  "'|' || ifnull(best_metric, '-') || '|' || ifnull(steps, '-') || '|' || ifnull(error, '-') || '|' || " \
  "ifnull(checkpoint, '-') || '|' || ifnull(checkpoint_step, '-') || '|' || failures || '|' || reclaims || '|' || " \
  "no_retry || '|' || ifnull(heartbeat, '-'), ';') FROM (SELECT * FROM trials ORDER BY id)"

static char *dump_text(sqlite3 *raw, const char *sql) {
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(raw, sql, -1, &s, NULL), SQLITE_OK, "%s", sqlite3_errmsg(raw));
  cr_assert_eq(sqlite3_step(s), SQLITE_ROW);
  char *t = strdup(sqlite3_column_text(s, 0) ? (const char *)sqlite3_column_text(s, 0) : "");
  sqlite3_finalize(s);
  return t;
}

Test(rs_store, a_v2_file_is_read_read_only_and_rebuilt_to_v3_by_a_writer_with_every_row_index_and_trigger) {
  sqlite3 *raw;
  cr_assert_eq(sqlite3_open(db, &raw), SQLITE_OK);
  char sql[160];
  snprintf(sql, sizeof sql, "PRAGMA journal_mode=WAL; PRAGMA application_id=%d; PRAGMA user_version=2",
           RS_APPLICATION_ID);
  static const char *const v2[] = {RS_SCHEMA_V1, RS_SCHEMA_V2, RS_SCHEMA_V2_SCALE};
  for (int i = 0; i < 3; i++)
    cr_assert_eq(sqlite3_exec(raw, v2[i], NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(raw));
  cr_assert_eq(sqlite3_exec(raw, sql, NULL, NULL, NULL), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(raw,
                            "INSERT INTO sweeps VALUES (1, 's', 'name: s', 'abc', 'grid', 'val_loss', 'minimize', 0, "
                            "'train', 0);"
                            "INSERT INTO trials (id, sweep_id, idx, hash, config, params, seed, status, attempts, "
                            "worker, lease_until, claim_token, started, ended, best_metric, steps, error, checkpoint, "
                            "checkpoint_step, failures, reclaims, no_retry, heartbeat) VALUES "
                            "(7, 1, 0, 'h0', '{}', '{\"a\": 1}', 1, 'failed', 2, 'x:1', NULL, 4, 10, 20, NULL, 5, "
                            "'boom', NULL, NULL, 2, 0, 1, 11),"
                            "(9, 1, 1, 'h1', '{}', '{\"a\": 2}', 2, 'running', 1, 'x:2', 1e12, 1, 10, NULL, 0.5, NULL, "
                            "NULL, '/c/1', 40, 0, 1, 0, 12),"
                            "(12, 1, 2, 'h2', '{}', '{\"a\": 3}', 3, 'pending', 0, NULL, NULL, 0, NULL, NULL, NULL, "
                            "NULL, NULL, NULL, NULL, 0, 0, 0, NULL);"
                            "INSERT INTO metrics VALUES (9, 'val_loss', 10, 100, 1.5, 0.7), (9, 'val_loss', 20, 200, "
                            "3, 0.5), (7, 'train_loss', 1, 10, 0.1, 4);"
                            "INSERT INTO events (sweep_id, trial_id, time, kind, message) VALUES (1, 9, 5, 'claim', "
                            "'w'), (1, 7, 6, 'fail', 'boom');",
                            NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(raw));
  char *before = dump_text(raw, V2_TRIAL_DUMP);
  char *metrics_before = dump_text(raw, "SELECT group_concat(trial_id || name || step || value, ';') FROM metrics");
  sqlite3_close(raw);

  RsStore *ro = NULL;
  TrErr err = {0, ""};
  cr_assert_eq(rs_store_open(db, RS_OPEN_READONLY, &ro, &err), TR_OK, "%s", err.msg);
  RsTrial t;
  cr_assert_eq(rs_trial_get(ro, 9, &t), TR_OK, "v2 read as it is: %s", rs_store_errmsg(ro));
  cr_expect(t.rung == -1 && t.checkpoint_step == 40 && t.status == RS_RUNNING);
  rs_trial_clear(&t);
  cr_assert_eq(scalar(ro, "PRAGMA user_version"), 2, "a reader never migrates");
  rs_store_close(ro);

  RsStore *st = open_rw();
  sqlite3 *h = rs_sqlite_db(st);
  cr_expect_eq(scalar(st, "PRAGMA user_version"), RS_SCHEMA_VERSION);
  char *after = dump_text(h, V2_TRIAL_DUMP);
  cr_expect_str_eq(after, before, "every trial row and column kept, ids too");
  char *metrics_after = dump_text(h, "SELECT group_concat(trial_id || name || step || value, ';') FROM metrics");
  cr_expect_str_eq(metrics_after, metrics_before);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind IN ('claim', 'fail')"), 2);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM events WHERE kind = 'migrate'"), 1);
  cr_expect_eq(scalar(st, "SELECT count(*) FROM sqlite_master WHERE name IN ('trials_claim', 'trial_counts_insert', "
                          "'trial_counts_update', 'trial_counts_delete', 'trial_params', 'trials_view', 'new_trials')"),
               6, "index, triggers and views made again; no leftover table");
  cr_expect_eq(scalar(st, "PRAGMA foreign_keys"), 1, "foreign keys back on after migrating");
  cr_expect_eq(scalar(st, "SELECT count(*) FROM trial_params"), 3);
  /* The triggers still keep the counts; the new statuses pass the CHECK, others do not. */
  cr_assert_eq(sqlite3_exec(h, "UPDATE trials SET status = 'pruned', rung = 3 WHERE id = 12", 0, 0, 0), SQLITE_OK,
               "%s", sqlite3_errmsg(h));
  cr_expect_eq(scalar(st, "SELECT n FROM trial_counts WHERE status = 'pruned'"), 1);
  cr_expect_eq(scalar(st, "SELECT n FROM trial_counts WHERE status = 'pending'"), 0);
  cr_expect_eq(scalar(st, "SELECT rung FROM trials_view WHERE trial = 12"), 3);
  cr_expect_neq(sqlite3_exec(h, "UPDATE trials SET status = 'bogus' WHERE id = 12", 0, 0, 0), SQLITE_OK);
  cr_expect_neq(sqlite3_exec(h, "INSERT INTO metrics VALUES (999, 'x', 1, 1, 1, 1)", 0, 0, 0), SQLITE_OK,
                "metrics still refer to trials");
  cr_assert_eq(sqlite3_exec(h, "INSERT INTO events (time, kind, detail) VALUES (1, 'x', '{}')", 0, 0, 0), SQLITE_OK);
  RsCounts k;
  cr_assert_eq(rs_sweep_counts(st, 1, &k), TR_OK);
  cr_expect(k.n[RS_FAILED] == 1 && k.n[RS_RUNNING] == 1 && k.n[RS_PRUNED] == 1 && k.total == 3);
  expect_claim_plans_indexed(st, 1, 0); /* nothing claimable: every class probed through the index */
  free(before);
  free(after);
  free(metrics_before);
  free(metrics_after);
  rs_store_close(st);
}
