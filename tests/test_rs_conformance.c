/* Store conformance: every operation of the store contract (rs_store.h, rs_query.h),
** through the public headers only, on the store named by HPS_TEST_STORE_URL (default: an
** SQLite file in a fresh temporary directory). A second backend passes when this file
** passes unchanged against its URL. Each test works in sweeps of its own (named after the
** test and the process) and deletes them, so a shared server needs no cleaning; nothing
** assumes the store is otherwise empty. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rs_query.h"
#include "rs_store.h"

static char dir[64];
static char url[512];

static void setup(void) {
  const char *u = getenv("HPS_TEST_STORE_URL");
  dir[0] = '\0';
  if (u && *u) {
    snprintf(url, sizeof url, "%s", u);
    return;
  }
  snprintf(dir, sizeof dir, "/tmp/hps_conformance_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(url, sizeof url, "%s/store.db", dir);
}

static void teardown(void) {
  if (!dir[0]) return;
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  char p[600];
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
    snprintf(p, sizeof p, "%s%s", url, sfx[i]);
    unlink(p);
  }
  rmdir(dir);
}

TestSuite(rs_conformance, .init = setup, .fini = teardown);

/* The test clock: leases and timestamps without waiting. */
static double fake_now = 1.0e9;
static double clock_fn(void *ctx) {
  (void)ctx;
  return fake_now;
}

static RsStore *open_store(int flags) {
  RsStore *st = NULL;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(url, flags, &st, &e), TR_OK, "open %s: %s", url, e.msg);
  rs_store_set_clock(st, clock_fn, NULL);
  return st;
}

#define OK(st, call) cr_assert_eq((call), TR_OK, "%s: %s", #call, rs_store_errmsg(st))

static void sweep_name(char *buf, size_t n, const char *tag) {
  snprintf(buf, n, "conf_%s_%ld", tag, (long)getpid());
}

/* A sweep of 4 trials: idx i has params {"optimizer.lr": 0.001 * 10^(i/2), "act": gelu|relu,
** "train.seed": i % 2} and config {"train": {"max_steps": 100 + i}}. */
static int64_t make_sweep(RsStore *st, const char *name, const char *goal) {
  int64_t id = 0;
  OK(st, rs_sweep_upsert(st, name, "name: x\n", "hash1", "grid", "val_loss", goal, 7, "train", &id));
  RsTrialDef d[4];
  char h[4][17], p[4][96], c[4][64];
  for (int i = 0; i < 4; i++) {
    snprintf(h[i], sizeof h[i], "%016x", 0xa0 + i);
    snprintf(p[i], sizeof p[i], "{\"optimizer.lr\": %g, \"act\": \"%s\", \"train.seed\": %d}",
             i < 2 ? 0.001 : 0.01, i % 2 ? "relu" : "gelu", i % 2);
    snprintf(c[i], sizeof c[i], "{\"train\": {\"max_steps\": %d}}", 100 + i);
    d[i] = (RsTrialDef){i, h[i], c[i], p[i], 40 + i};
  }
  size_t added = 99;
  OK(st, rs_trials_insert(st, id, 4, d, &added));
  cr_assert_eq(added, 4);
  return id;
}

static void drop_sweep(RsStore *st, const char *name) {
  int64_t n = -1;
  int rc = rs_sweep_delete(st, name, &n);
  cr_assert(rc == TR_OK || rc == TR_ENOTFOUND, "delete %s: %s", name, rs_store_errmsg(st));
}

/* A test's own sweep on a writer handle; fix_close deletes it. */
typedef struct Fix {
  RsStore *w;
  char name[64];
  int64_t id;
} Fix;

static Fix fix_open(const char *tag, const char *goal) {
  Fix f;
  f.w = open_store(RS_OPEN_CREATE);
  sweep_name(f.name, sizeof f.name, tag);
  f.id = make_sweep(f.w, f.name, goal);
  return f;
}

static void fix_close(Fix *f) {
  drop_sweep(f->w, f->name);
  rs_store_close(f->w);
}

/* An rs_export into a string (free()). */
static char *export_text(RsStore *st, const RsSweep *sw, RsWhat what, RsFormat fmt) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  cr_assert_eq(rs_export(st, sw, what, fmt, f), TR_OK, "%s", rs_store_errmsg(st));
  fclose(f);
  return buf;
}

/* Claim the next trial (must exist). */
static RsClaim claim(RsStore *st, int64_t sweep_id, const char *worker) {
  RsClaim c;
  OK(st, rs_trial_claim(st, sweep_id, worker, 30, 3, &c));
  cr_assert(c.claimed, "nothing to claim");
  return c;
}

/* Early termination callbacks (defined with their tests below). */
static int judge_fn(void *ctx, const RsCurve *c, size_t n, size_t self, RsVerdict *out);
static long promo_fn(void *ctx, const RsCurve *c, size_t n, int64_t *to_step);

/* Run every trial of the sweep: trial idx i gets val_loss rows at steps 0..2 of
** 3 - step + i/10 (best at step 2) and train_loss 2 * that; finishes completed except idx 3,
** which fails. */
static void run_all(RsStore *st, int64_t sweep_id) {
  for (int k = 0; k < 4; k++) {
    RsClaim c = claim(st, sweep_id, "w1");
    double base = c.idx / 10.0;
    RsMetric m[6];
    for (int s = 0; s < 3; s++) {
      m[2 * s] = (RsMetric){s, 100 * s, 1.0 * s, 3 - s + base, "val_loss"};
      m[2 * s + 1] = (RsMetric){s, 100 * s, 1.0 * s, 2 * (3 - s + base), "train_loss"};
    }
    OK(st, rs_metrics_put(st, c.trial_id, c.claim_token, 6, m));
    RsTrialResult r = {1 + base, 1 + base, 2, 3, 300, 10.0 + c.idx, 1e9, "{}", NULL, 0};
    if (c.idx == 3) r.error = "boom";
    OK(st, rs_trial_finish(st, c.trial_id, c.claim_token, c.idx == 3 ? RS_FAILED : RS_COMPLETED, &r));
    rs_claim_clear(&c);
  }
}

/* ---- handle ---- */

Test(rs_conformance, open_close_path_and_message) {
  RsStore *st = open_store(RS_OPEN_CREATE);
  cr_assert_str_eq(rs_store_path(st), url);
  rs_store_close(st);
  st = open_store(RS_OPEN_EXISTING);
  RsSweep s;
  cr_assert_eq(rs_sweep_get(st, "conf_no_such_sweep", &s), TR_ENOTFOUND);
  cr_assert(strstr(rs_store_errmsg(st), "conf_no_such_sweep"), "%s", rs_store_errmsg(st));
  rs_store_set_reclaim_max(st, -1);
  rs_store_close(st);
  rs_store_close(NULL);
  RsStore *bad = (RsStore *)1;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open("nosuch://x", RS_OPEN_CREATE, &bad, &e), TR_EINVAL);
  cr_assert_null(bad);
  cr_assert(strstr(e.msg, "nosuch://x"), "%s", e.msg);
  cr_assert_str_eq(rs_status_name(RS_DIVERGED), "diverged");
  cr_assert_eq(rs_status_parse("interrupted"), RS_INTERRUPTED);
  cr_assert_eq(rs_status_parse("nope"), -1);
}

/* ---- sweeps ---- */

Test(rs_conformance, sweep_upsert_get_list_delete) {
  RsStore *st = open_store(RS_OPEN_CREATE);
  char name[64];
  sweep_name(name, sizeof name, "sweeps");
  int64_t id = make_sweep(st, name, "maximize"), again = 0;
  OK(st, rs_sweep_upsert(st, name, "name: x\n", "hash1", "grid", "val_loss", "maximize", 7, "train", &again));
  cr_assert_eq(again, id);
  cr_assert_eq(rs_sweep_upsert(st, name, "name: y\n", "hash2", "grid", "val_loss", "maximize", 7, "train", &again),
               TR_EINVAL);
  cr_assert_eq(rs_sweep_upsert(st, name, "x", "h", "grid", "val_loss", "sideways", 7, "train", &again), TR_EINVAL);
  RsSweep s;
  OK(st, rs_sweep_get(st, name, &s));
  cr_assert_eq(s.id, id);
  cr_assert_str_eq(s.name, name);
  cr_assert_str_eq(s.spec, "name: x\n");
  cr_assert_str_eq(s.spec_hash, "hash1");
  cr_assert_str_eq(s.goal, "maximize");
  cr_assert_str_eq(s.task, "train");
  cr_assert_eq(s.seed, 7);
  cr_assert(s.created == fake_now, "created %f", s.created);
  rs_sweep_clear(&s);
  RsSweep *v;
  size_t n, found = 0;
  OK(st, rs_sweeps_list(st, &v, &n));
  for (size_t i = 0; i < n; i++) found += v[i].id == id && strcmp(v[i].name, name) == 0;
  cr_assert_eq(found, 1);
  rs_sweeps_free(v, n);
  RsCounts c;
  OK(st, rs_sweep_counts(st, id, &c));
  cr_assert_eq(c.total, 4);
  cr_assert_eq(c.n[RS_PENDING], 4);
  int64_t gone = -1;
  OK(st, rs_sweep_delete(st, name, &gone));
  cr_assert_eq(gone, 4);
  cr_assert_eq(rs_sweep_delete(st, name, &gone), TR_ENOTFOUND);
  cr_assert_eq(rs_sweep_get(st, name, &s), TR_ENOTFOUND);
  rs_store_close(st);
}

/* ---- trials ---- */

static int def_fails_at_1(void *ctx, size_t i, RsTrialDef *def) {
  (void)ctx;
  if (i == 1) return TR_ENOMEM;
  *def = (RsTrialDef){(int)i, "00000000000000ff", "{}", "{}", 1};
  return TR_OK;
}

Test(rs_conformance, trials_insert_idempotent_keys_and_rollback) {
  Fix f = fix_open("insert", "minimize");
  RsStore *st = f.w;
  int64_t id = f.id;
  RsTrialDef d = {0, "00000000000000a0", "{}", "{}", 1};
  size_t added = 99;
  OK(st, rs_trials_insert(st, id, 1, &d, &added));
  cr_assert_eq(added, 0); /* same hash: left as is */
  cr_assert_neq(rs_trials_insert_each(st, id, 3, def_fails_at_1, NULL, &added), TR_OK);
  cr_assert(strstr(rs_store_errmsg(st), "trial 1"), "%s", rs_store_errmsg(st));
  RsTrialKey *k;
  size_t n;
  OK(st, rs_trial_keys(st, id, &k, &n));
  cr_assert_eq(n, 4, "the failed insert_each rolled back");
  for (size_t i = 0; i < n; i++) {
    cr_assert_eq(k[i].idx, (int)i);
    char want[17];
    snprintf(want, sizeof want, "%016x", 0xa0 + (int)i);
    cr_assert_str_eq(k[i].hash, want);
  }
  free(k);
  fix_close(&f);
}

Test(rs_conformance, claim_heartbeat_metrics_checkpoint_finish) {
  Fix f = fix_open("claim", "minimize");
  RsStore *st = f.w;
  int64_t id = f.id;
  RsClaim c = claim(st, id, "w1");
  cr_assert_str_eq(c.kind, "claim");
  cr_assert_eq(c.idx, 0);
  cr_assert_eq(c.attempts, 1);
  cr_assert_eq(c.seed, 40);
  cr_assert_str_eq(c.config_json, "{\"train\": {\"max_steps\": 100}}");
  cr_assert_null(c.checkpoint);
  int64_t stale = c.claim_token - 1;
  OK(st, rs_trial_heartbeat(st, c.trial_id, c.claim_token, 60));
  cr_assert_eq(rs_trial_heartbeat(st, c.trial_id, stale, 60), RS_LOST);
  RsMetric m[2] = {{5, 50, 0.5, 2.5, "train_loss"}, {5, 50, 0.5, 2.75, "val_loss"}};
  OK(st, rs_metrics_put(st, c.trial_id, c.claim_token, 2, m));
  cr_assert_eq(rs_metrics_put(st, c.trial_id, stale, 2, m), RS_LOST);
  OK(st, rs_trial_set_checkpoint(st, c.trial_id, c.claim_token, "/ckpt/a", 5));
  cr_assert_eq(rs_trial_set_checkpoint(st, c.trial_id, stale, "/ckpt/b", 5), RS_LOST);
  RsPoint *p;
  size_t np;
  OK(st, rs_metrics_read(st, c.trial_id, "train_loss", &p, &np));
  cr_assert_eq(np, 1);
  cr_assert(p[0].step == 5 && p[0].tokens == 50 && p[0].seconds == 0.5 && p[0].value == 2.5);
  free(p);
  RsRunning *r;
  size_t nr;
  OK(st, rs_trials_running(st, id, &r, &nr));
  cr_assert_eq(nr, 1);
  cr_assert_eq(r[0].trial_id, c.trial_id);
  cr_assert_str_eq(r[0].worker, "w1");
  cr_assert_eq(r[0].step, 5);
  cr_assert(r[0].train_loss == 2.5 && r[0].val_loss == 2.75);
  rs_running_free(r, nr);
  RsCounts cnt;
  OK(st, rs_sweep_counts(st, id, &cnt));
  cr_assert(cnt.n[RS_RUNNING] == 1 && cnt.n[RS_PENDING] == 3 && cnt.stale == 0);
  RsTrialResult res = {2.0, 1.5, 5, 5, 50, 3.0, 1e6, "{\"ok\": 1}", NULL, 0};
  cr_assert_eq(rs_trial_finish(st, c.trial_id, stale, RS_COMPLETED, &res), RS_LOST);
  cr_assert_eq(rs_trial_finish(st, c.trial_id, c.claim_token, RS_PENDING, &res), TR_EINVAL);
  OK(st, rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, &res));
  cr_assert_eq(rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, &res), RS_LOST);
  cr_assert_eq(rs_trial_heartbeat(st, c.trial_id, c.claim_token, 60), RS_LOST);
  RsTrial t;
  OK(st, rs_trial_get(st, c.trial_id, &t));
  cr_assert_eq(t.status, RS_COMPLETED);
  cr_assert_eq(t.sweep_id, id);
  cr_assert(t.best_metric == 1.5 && t.final_metric == 2.0 && t.best_step == 5 && t.steps == 5);
  cr_assert(t.tokens == 50 && t.wall_seconds == 3.0 && t.flops == 1e6);
  cr_assert_str_eq(t.summary, "{\"ok\": 1}");
  cr_assert_str_eq(t.worker, "w1");
  rs_trial_clear(&t);
  cr_assert_eq(rs_trial_get(st, -5, &t), TR_ENOTFOUND);
  rs_claim_clear(&c);
  for (int k = 1; k < 4; k++) {
    c = claim(st, id, "w1");
    cr_assert_eq(c.idx, k);
    OK(st, rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, NULL));
    rs_claim_clear(&c);
  }
  OK(st, rs_trial_claim(st, id, "w1", 30, 3, &c));
  cr_assert_eq(c.claimed, 0);
  cr_assert_eq(c.running, 0);
  OK(st, rs_event_add(st, id, -1, "note", "conformance"));
  cr_assert_eq(rs_event_add(st, id, -1, "", "x"), TR_EINVAL);
  fix_close(&f);
}

Test(rs_conformance, reclaim_interrupt_resume_reset_retry) {
  Fix f = fix_open("reclaim", "minimize");
  RsStore *st = f.w;
  int64_t id = f.id;
  RsClaim a = claim(st, id, "w1");
  RsClaim none;
  /* The other trials are running too: nothing claimable, a wait until the first lease ends. */
  for (int k = 1; k < 4; k++) {
    RsClaim b = claim(st, id, "w1");
    rs_claim_clear(&b);
  }
  OK(st, rs_trial_claim(st, id, "w2", 30, 3, &none));
  cr_assert(!none.claimed && none.running == 4 && none.wait_seconds > 0 && none.wait_seconds <= 30);
  /* The lease of every trial expires: the next claim reclaims idx 0 for w2. */
  fake_now += 100;
  RsCounts cnt;
  OK(st, rs_sweep_counts(st, id, &cnt));
  cr_assert_eq(cnt.stale, 4);
  RsClaim r = claim(st, id, "w2");
  cr_assert_str_eq(r.kind, "reclaim");
  cr_assert_eq(r.trial_id, a.trial_id);
  cr_assert_neq(r.claim_token, a.claim_token);
  cr_assert_eq(rs_trial_heartbeat(st, a.trial_id, a.claim_token, 30), RS_LOST);
  /* Ctrl-C of w2: its trial becomes interrupted, resumed from its checkpoint. */
  RsMetric m[2] = {{1, 10, 0.1, 5.0, "val_loss"}, {4, 40, 0.4, 4.0, "val_loss"}};
  OK(st, rs_metrics_put(st, r.trial_id, r.claim_token, 2, m));
  OK(st, rs_trial_set_checkpoint(st, r.trial_id, r.claim_token, "/ckpt/r", 1));
  size_t marked = 0;
  OK(st, rs_trials_mark_interrupted(st, id, "w2", &marked));
  cr_assert_eq(marked, 1);
  RsClaim s = claim(st, id, "w3");
  cr_assert_str_eq(s.kind, "resume");
  cr_assert_eq(s.trial_id, a.trial_id);
  cr_assert_str_eq(s.checkpoint, "/ckpt/r");
  cr_assert_eq(s.checkpoint_step, 1);
  RsPoint *p;
  size_t np;
  OK(st, rs_metrics_read(st, s.trial_id, "val_loss", &p, &np));
  cr_assert_eq(np, 1, "metrics after the checkpoint's step are dropped at a resume");
  free(p);
  OK(st, rs_trial_reset(st, s.trial_id, s.claim_token));
  OK(st, rs_metrics_read(st, s.trial_id, "val_loss", &p, &np));
  cr_assert_eq(np, 0);
  free(p);
  cr_assert_eq(rs_trial_reset(st, s.trial_id, a.claim_token), RS_LOST);
  /* A failure is retried while attempts remain. */
  OK(st, rs_trial_finish(st, s.trial_id, s.claim_token, RS_FAILED, NULL));
  fake_now += 100; /* the other three leases are long gone: reclaims come first */
  for (int k = 0; k < 3; k++) {
    RsClaim b = claim(st, id, "w3");
    cr_assert_str_eq(b.kind, "reclaim");
    OK(st, rs_trial_finish(st, b.trial_id, b.claim_token, RS_COMPLETED, NULL));
    rs_claim_clear(&b);
  }
  RsClaim t = claim(st, id, "w3");
  cr_assert_str_eq(t.kind, "retry");
  cr_assert_eq(t.trial_id, a.trial_id);
  cr_assert_null(t.checkpoint);
  OK(st, rs_trial_finish(st, t.trial_id, t.claim_token, RS_COMPLETED, NULL));
  rs_claim_clear(&a), rs_claim_clear(&r), rs_claim_clear(&s), rs_claim_clear(&t), rs_claim_clear(&none);
  fix_close(&f);
}

Test(rs_conformance, delete_refused_under_a_live_lease) {
  Fix f = fix_open("live", "minimize");
  RsStore *st = f.w;
  const char *name = f.name;
  int64_t id = f.id;
  RsClaim c = claim(st, id, "w1");
  int64_t n = -1;
  cr_assert_eq(rs_sweep_delete(st, name, &n), TR_EINVAL);
  RsSweep s;
  OK(st, rs_sweep_get(st, name, &s));
  rs_sweep_clear(&s);
  OK(st, rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, NULL));
  OK(st, rs_sweep_delete(st, name, &n));
  cr_assert_eq(n, 4);
  rs_claim_clear(&c);
  rs_store_close(st);
}

Test(rs_conformance, metric_buffer_flushes_and_loses) {
  Fix f = fix_open("buf", "minimize");
  RsStore *st = f.w;
  int64_t id = f.id;
  RsClaim c = claim(st, id, "w1");
  RsMetricBuf b;
  OK(st, rs_metricbuf_init(&b, st, c.trial_id, c.claim_token, 2, 1000));
  for (int s = 0; s < 3; s++) OK(st, rs_metricbuf_add(&b, s, s, s, "loss", 1.0 / (s + 1)));
  OK(st, rs_metricbuf_flush(&b));
  RsPoint *p;
  size_t np;
  OK(st, rs_metrics_read(st, c.trial_id, "loss", &p, &np));
  cr_assert_eq(np, 3);
  cr_assert(p[2].step == 2 && p[2].value == 1.0 / 3);
  free(p);
  char longname[RS_METRIC_NAME_MAX + 8];
  memset(longname, 'x', sizeof longname - 1);
  longname[sizeof longname - 1] = '\0';
  cr_assert_eq(rs_metricbuf_add(&b, 9, 9, 9, longname, 1), TR_EINVAL);
  OK(st, rs_trials_mark_interrupted(st, id, "w1", NULL)); /* the claim is gone */
  OK(st, rs_metricbuf_add(&b, 3, 3, 3, "loss", 0.1));
  cr_assert_eq(rs_metricbuf_flush(&b), RS_LOST);
  cr_assert_eq(rs_metricbuf_add(&b, 4, 4, 4, "loss", 0.1), RS_LOST, "RS_LOST is sticky");
  rs_metricbuf_deinit(&b);
  rs_claim_clear(&c);
  fix_close(&f);
}

Test(rs_conformance, read_only_handle_refuses_every_write) {
  Fix f = fix_open("ro", "minimize");
  RsStore *w = f.w;
  const char *name = f.name;
  int64_t id = f.id;
  RsClaim c = claim(w, id, "w1");
  RsStore *st = open_store(RS_OPEN_READONLY);
  int64_t x;
  size_t z;
  RsClaim cl;
  RsMetric m = {0, 0, 0, 1, "loss"};
  RsTrialDef d = {9, "00000000000000ff", "{}", "{}", 1};
  RsMetricBuf b;
  RsVerdict ro_verdict;
  int rc[] = {
      rs_sweep_upsert(st, "ro_new", "x", "h", "grid", "loss", "minimize", 1, "train", &x),
      rs_sweep_delete(st, name, &x),
      rs_trials_insert(st, id, 1, &d, &z),
      rs_trial_claim(st, id, "w9", 30, 3, &cl),
      rs_trial_claim_promoting(st, id, "w9", 30, 3, promo_fn, NULL, &cl),
      rs_trial_judge(st, c.trial_id, c.claim_token, judge_fn, NULL, &ro_verdict, NULL),
      rs_trial_heartbeat(st, c.trial_id, c.claim_token, 30),
      rs_trial_set_checkpoint(st, c.trial_id, c.claim_token, "/x", 1),
      rs_trial_reset(st, c.trial_id, c.claim_token),
      rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, NULL),
      rs_trials_mark_interrupted(st, id, "w1", &z),
      rs_metrics_put(st, c.trial_id, c.claim_token, 1, &m),
      rs_event_add(st, id, -1, "note", "x"),
  };
  for (size_t i = 0; i < sizeof rc / sizeof rc[0]; i++) {
    cr_assert_eq(rc[i], TR_EINVAL, "write %zu on a read-only handle: %d", i, rc[i]);
  }
  cr_assert(strstr(rs_store_errmsg(st), "read-only"), "%s", rs_store_errmsg(st));
  OK(st, rs_metricbuf_init(&b, st, c.trial_id, c.claim_token, 4, 1000));
  OK(st, rs_metricbuf_add(&b, 0, 0, 0, "loss", 1));
  cr_assert_eq(rs_metricbuf_flush(&b), TR_EINVAL);
  rs_metricbuf_deinit(&b);
  /* Nothing changed; reads work. */
  RsTrial t;
  OK(st, rs_trial_get(st, c.trial_id, &t));
  cr_assert_eq(t.status, RS_RUNNING);
  cr_assert_eq(t.claim_token, c.claim_token);
  rs_trial_clear(&t);
  RsCounts cnt;
  OK(st, rs_sweep_counts(st, id, &cnt));
  cr_assert(cnt.total == 4 && cnt.n[RS_RUNNING] == 1);
  rs_store_close(st);
  OK(w, rs_trial_finish(w, c.trial_id, c.claim_token, RS_COMPLETED, NULL));
  rs_claim_clear(&c);
  fix_close(&f);
}

/* ---- reads ---- */

typedef struct Seen {
  int n;
  int64_t id[16];
  char text[16][64];
  double v[16];
  int64_t step[16];
} Seen;

static int see_trial(void *ctx, const RsTrial *t) {
  Seen *s = ctx;
  if (s->n == 16) return TR_EINVAL;
  s->id[s->n] = t->id, s->v[s->n] = t->best_metric, s->step[s->n] = t->idx;
  snprintf(s->text[s->n++], 64, "%s %s", rs_status_name(t->status), t->params ? "p" : "-");
  return TR_OK;
}

static int see_name(void *ctx, const char *name) {
  Seen *s = ctx;
  if (s->n == 16) return TR_EINVAL;
  snprintf(s->text[s->n++], 64, "%s", name);
  return TR_OK;
}

static int see_param(void *ctx, const RsParamValue *v) {
  Seen *s = ctx;
  if (s->n == 16) return TR_EINVAL;
  s->id[s->n] = v->trial_id, s->v[s->n] = v->numeric ? v->num : NAN;
  snprintf(s->text[s->n++], 64, "%s=%s", v->key, v->text);
  return TR_OK;
}

static int see_value(void *ctx, int64_t trial_id, int64_t step, double value) {
  Seen *s = ctx;
  if (s->n == 16) return TR_EINVAL;
  s->id[s->n] = trial_id, s->step[s->n] = step, s->v[s->n++] = value;
  return TR_OK;
}

static int see_row(void *ctx, int64_t trial_id, const char *name, double value) {
  Seen *s = ctx;
  if (s->n == 16) return TR_EINVAL;
  s->id[s->n] = trial_id, s->v[s->n] = value;
  snprintf(s->text[s->n++], 64, "%s", name);
  return TR_OK;
}

static int stop_at_once(void *ctx, const char *name) {
  (void)ctx, (void)name;
  return TR_EINVAL;
}

typedef struct Rows {
  int header, rows;
  size_t ncol;
  char first[64], last[64];
} Rows;

static int see_export(void *ctx, size_t ncol, const char *const *names, const RsValue *vals) {
  Rows *r = ctx;
  if (!vals) {
    r->header++;
    r->ncol = ncol;
    snprintf(r->first, sizeof r->first, "%s", names[0]);
    snprintf(r->last, sizeof r->last, "%s", names[ncol - 1]);
    return TR_OK;
  }
  cr_assert_eq(ncol, r->ncol);
  cr_assert_eq(vals[0].type, RS_VAL_INT);
  r->rows++;
  return TR_OK;
}

/* Index of trial id in the sweep's trial list (by idx), or -1. */
static int idx_of(const Seen *trials, int64_t id) {
  for (int i = 0; i < trials->n; i++)
    if (trials->id[i] == id) return i;
  return -1;
}

Test(rs_conformance, read_walks) {
  Fix f = fix_open("reads", "minimize");
  RsStore *w = f.w;
  int64_t id = f.id;
  run_all(w, id);
  RsStore *st = open_store(RS_OPEN_READONLY);
  OK(st, rs_store_snapshot_begin(st));
  Seen t = {0};
  OK(st, rs_trials_each(st, id, see_trial, &t));
  cr_assert_eq(t.n, 4);
  for (int i = 0; i < 4; i++) cr_assert_eq(t.step[i], i, "by idx");
  cr_assert_str_eq(t.text[0], "completed p");
  cr_assert_str_eq(t.text[3], "failed p");
  cr_assert(fabs(t.v[1] - 1.1) < 1e-12);
  RsTrial b;
  OK(st, rs_trial_best(st, id, 0, RS_STATUS_BIT(RS_COMPLETED), &b));
  cr_assert_eq(b.id, t.id[0]);
  cr_assert(b.best_metric == 1.0);
  cr_assert_str_eq(b.params, "{\"optimizer.lr\": 0.001, \"act\": \"gelu\", \"train.seed\": 0}");
  rs_trial_clear(&b);
  OK(st, rs_trial_best(st, id, 1, RS_STATUS_BIT(RS_COMPLETED) | RS_STATUS_BIT(RS_FAILED), &b));
  cr_assert_eq(b.id, t.id[3]);
  rs_trial_clear(&b);
  cr_assert_eq(rs_trial_best(st, id, 0, RS_STATUS_BIT(RS_PENDING), &b), TR_ENOTFOUND);
  Seen k = {0};
  OK(st, rs_sweep_param_keys(st, id, see_name, &k));
  cr_assert_eq(k.n, 3);
  cr_assert_str_eq(k.text[0], "optimizer.lr");
  cr_assert_str_eq(k.text[1], "act");
  cr_assert_str_eq(k.text[2], "train.seed");
  Seen pv = {0};
  OK(st, rs_sweep_param_values(st, id, see_param, &pv));
  cr_assert_eq(pv.n, 12);
  int lr = 0, act = 0;
  for (int i = 0; i < pv.n; i++) {
    cr_assert_geq(idx_of(&t, pv.id[i]), 0);
    if (strncmp(pv.text[i], "optimizer.lr=", 13) == 0) {
      lr++;
      cr_assert(pv.v[i] == 0.001 || pv.v[i] == 0.01);
    }
    if (strcmp(pv.text[i], "act=relu") == 0) {
      act++;
      cr_assert(isnan(pv.v[i]));
    }
  }
  cr_assert(lr == 4 && act == 2);
  Seen mn = {0};
  OK(st, rs_sweep_metric_names(st, id, see_name, &mn));
  cr_assert_eq(mn.n, 2);
  cr_assert_str_eq(mn.text[0], "train_loss");
  cr_assert_str_eq(mn.text[1], "val_loss");
  cr_assert_eq(rs_sweep_metric_names(st, id, stop_at_once, NULL), TR_EINVAL);
  static const RsAgg aggs[3] = {RS_AGG_MIN, RS_AGG_MAX, RS_AGG_LAST};
  for (int a = 0; a < 3; a++) {
    Seen v = {0};
    OK(st, rs_sweep_metric_agg(st, id, "val_loss", aggs[a], see_value, &v));
    cr_assert_eq(v.n, 4);
    for (int i = 0; i < 4; i++) {
      int x = idx_of(&t, v.id[i]);
      cr_assert_geq(x, 0);
      double want = aggs[a] == RS_AGG_MAX ? 3 + x / 10.0 : 1 + x / 10.0;
      cr_assert(fabs(v.v[i] - want) < 1e-12, "agg %d trial %d: %g", a, x, v.v[i]);
      cr_assert_eq(v.step[i], aggs[a] == RS_AGG_MAX ? 0 : 2);
    }
  }
  Seen rows = {0};
  const char *names[2] = {"val_loss", "nope"};
  OK(st, rs_sweep_metrics_each(st, id, names, 2, see_row, &rows));
  cr_assert_eq(rows.n, 12);
  for (int i = 1; i < rows.n; i++) cr_assert_leq(rows.id[i - 1], rows.id[i], "by trial id");
  cr_assert_str_eq(rows.text[2], "val_loss");
  cr_assert(rows.v[2] == 1.0 + idx_of(&t, rows.id[2]) / 10.0, "the last step's value comes last");
  int64_t lo, hi, n;
  OK(st, rs_trials_span(st, &lo, &hi, &n));
  cr_assert(lo <= t.id[0] && hi >= t.id[3] && n >= 4);
  Rows ex = {0};
  const char *keys[3] = {"optimizer.lr", "act", "bad\"key"};
  OK(st, rs_sweep_export(st, id, 0, keys, 3, see_export, &ex));
  cr_assert(ex.header == 1 && ex.rows == 4 && ex.ncol == 6 + 2 + 11);
  cr_assert_str_eq(ex.first, "trial");
  cr_assert_str_eq(ex.last, "error");
  Rows em = {0};
  OK(st, rs_sweep_export(st, id, 1, NULL, 0, see_export, &em));
  cr_assert(em.header == 1 && em.rows == 24 && em.ncol == 6);
  double mean;
  OK(st, rs_sweep_mean_seconds(st, id, &mean));
  cr_assert(fabs(mean - 11.0) < 1e-12, "%g", mean); /* completed: 10, 11, 12 */
  int64_t steps;
  OK(st, rs_trial_config_int(st, t.id[2], "train.max_steps", &steps));
  cr_assert_eq(steps, 102);
  OK(st, rs_trial_config_int(st, t.id[2], "train.nope", &steps));
  cr_assert_eq(steps, -1);
  cr_assert_eq(rs_trial_config_int(st, -7, "train.max_steps", &steps), TR_ENOTFOUND);
  rs_store_snapshot_end(st);
  rs_store_close(st);
  fix_close(&f);
}

Test(rs_conformance, snapshot_holds_one_state) {
  Fix f = fix_open("snap", "minimize");
  RsStore *w = f.w;
  int64_t id = f.id;
  RsStore *st = open_store(RS_OPEN_READONLY);
  RsCounts c;
  OK(st, rs_store_snapshot_begin(st));
  OK(st, rs_store_snapshot_begin(st)); /* twice: a no-op */
  OK(st, rs_sweep_counts(st, id, &c));
  cr_assert_eq(c.n[RS_RUNNING], 0);
  RsClaim cl = claim(w, id, "w1");
  OK(w, rs_store_snapshot_begin(w));
  cr_assert_eq(rs_event_add(w, id, -1, "note", "x"), TR_EINVAL, "no writes inside a snapshot");
  cr_assert(strstr(rs_store_errmsg(w), "snapshot"), "%s", rs_store_errmsg(w));
  rs_store_snapshot_end(w);
  OK(st, rs_sweep_counts(st, id, &c));
  cr_assert_eq(c.n[RS_RUNNING], 0, "the snapshot does not see the claim");
  rs_store_snapshot_end(st);
  rs_store_snapshot_end(st);
  OK(st, rs_sweep_counts(st, id, &c));
  cr_assert_eq(c.n[RS_RUNNING], 1);
  rs_store_close(st);
  OK(w, rs_trial_finish(w, cl.trial_id, cl.claim_token, RS_COMPLETED, NULL));
  rs_claim_clear(&cl);
  fix_close(&f);
}

/* ---- the views of rs_query.h on the same store ---- */

Test(rs_conformance, query_views) {
  Fix f = fix_open("views", "minimize");
  RsStore *w = f.w;
  const char *name = f.name;
  int64_t id = f.id;
  run_all(w, id);
  RsStore *st = open_store(RS_OPEN_READONLY);
  RsSweep *v;
  int n, found = 0;
  cr_assert_eq(rs_query_sweeps(st, &v, &n), TR_OK, "%s", rs_store_errmsg(st));
  for (int i = 0; i < n; i++)
    if (v[i].id == id) {
      found++;
      cr_assert(v[i].n_trials == 4 && v[i].count[RS_COMPLETED] == 3 && v[i].count[RS_FAILED] == 1);
      cr_assert(v[i].best == 1.0 && !v[i].maximize);
    }
  cr_assert_eq(found, 1);
  rs_sweeps_free(v, (size_t)n);
  RsSweep s;
  cr_assert_eq(rs_sweep_find(st, "conf_nope", &s), TR_ENOTFOUND);
  cr_assert(strstr(rs_store_errmsg(st), name), "the message lists the sweeps: %s", rs_store_errmsg(st));
  RsTrialSet ts;
  cr_assert_eq(rs_trials_load(st, name, &ts), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(ts.n, 4);
  cr_assert_eq(ts.np, 3);
  cr_assert_eq(ts.t[3].status, RS_FAILED);
  int order[4];
  rs_trials_rank(&ts, order);
  cr_assert(order[0] == 0 && order[1] == 1 && order[2] == 2 && order[3] == 3);
  cr_assert_eq(rs_trials_use_metric(st, &ts, "train_loss"), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert(fabs(ts.t[1].best - 2.2) < 1e-12 && ts.t[1].best_step == 2 && fabs(ts.t[1].final - 2.2) < 1e-12);
  cr_assert_eq(rs_trials_use_metric(st, &ts, "nope"), TR_ENOTFOUND);
  cr_assert(strstr(rs_store_errmsg(st), "train_loss, val_loss"), "%s", rs_store_errmsg(st));
  double *x, *y;
  int m;
  cr_assert_eq(rs_series_load(st, ts.t[0].id, "val_loss", RS_X_TOKENS, &x, &y, &m), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert(m == 3 && x[2] == 200 && y[2] == 1.0);
  free(x), free(y);
  char *sw;
  cr_assert_eq(rs_trial_sweep(st, ts.t[2].id, &sw), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_str_eq(sw, name);
  free(sw);
  cr_assert_eq(rs_trial_sweep(st, -3, &sw), TR_ENOTFOUND);
  cr_assert(strstr(rs_store_errmsg(st), "no trial -3"), "%s", rs_store_errmsg(st));
  RsDiversity d;
  cr_assert_eq(rs_diversity_load(st, &ts, &d), TR_ENOTFOUND, "a training sweep has no diversity");
  char *buf = export_text(st, &ts.sweep, RS_WHAT_TRIALS, RS_FMT_CSV);
  int lines = 0;
  for (char *c = buf; *c; c++) lines += *c == '\n';
  cr_assert_eq(lines, 5, "%s", buf);
  const char *head = "trial,idx,hash,status,seed,attempts,optimizer.lr,act,train.seed,best_metric,";
  cr_assert(strncmp(buf, head, strlen(head)) == 0, "%s", buf);
  free(buf);
  rs_trials_deinit(&ts);
  rs_store_close(st);
  fix_close(&f);
}

Test(rs_conformance, diversity_of_an_inference_sweep) {
  RsStore *w = open_store(RS_OPEN_CREATE);
  char name[64];
  sweep_name(name, sizeof name, "div");
  int64_t id = 0;
  OK(w, rs_sweep_upsert(w, name, "x", "h", "grid", "validity", "maximize", 1, "sample", &id));
  RsTrialDef d[4];
  char h[4][17], p[4][96];
  for (int i = 0; i < 4; i++) {
    snprintf(h[i], sizeof h[i], "%016x", 0xd0 + i);
    snprintf(p[i], sizeof p[i], "{\"sample.temperature\": %s, \"train.seed\": %d}", i < 2 ? "0.5" : "1.0", i % 2);
    d[i] = (RsTrialDef){i, h[i], "{}", p[i], i};
  }
  OK(w, rs_trials_insert(w, id, 4, d, NULL));
  for (int k = 0; k < 4; k++) {
    RsClaim c = claim(w, id, "w1");
    double hot = c.idx >= 2;
    RsMetric m[2] = {{0, 0, 0, 0.9 - 0.2 * hot + 0.01 * c.idx, "validity"},
                     {0, 0, 0, 0.3 + 0.4 * hot, "distinct_2"}};
    OK(w, rs_metrics_put(w, c.trial_id, c.claim_token, 2, m));
    OK(w, rs_trial_finish(w, c.trial_id, c.claim_token, RS_COMPLETED, NULL));
    rs_claim_clear(&c);
  }
  RsStore *st = open_store(RS_OPEN_READONLY);
  RsTrialSet ts;
  cr_assert_eq(rs_trials_load(st, name, &ts), TR_OK, "%s", rs_store_errmsg(st));
  char **names;
  int nn;
  cr_assert_eq(rs_metric_names(st, id, &names, &nn), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert(nn == 2 && strcmp(names[0], "distinct_2") == 0 && strcmp(names[1], "validity") == 0);
  rs_names_free(names, nn);
  RsDiversity dv;
  cr_assert_eq(rs_diversity_load(st, &ts, &dv), TR_OK, "%s", rs_store_errmsg(st));
  cr_assert_eq(dv.n, 2);
  cr_assert_eq(dv.n_trials, 4);
  cr_assert_str_eq(dv.pt[0].label, "T=0.5");
  cr_assert(fabs(dv.pt[0].validity - 0.905) < 1e-12 && fabs(dv.pt[1].distinct_2 - 0.7) < 1e-12);
  cr_assert(dv.pt[0].front && dv.pt[1].front && dv.nfront == 2);
  rs_diversity_deinit(&dv);
  char *buf = export_text(st, &ts.sweep, RS_WHAT_METRICS, RS_FMT_JSON);
  cr_assert(buf[0] == '[' && strstr(buf, "\"name\": \"validity\"") && strstr(buf, "\n]\n"), "%s", buf);
  free(buf);
  rs_trials_deinit(&ts);
  rs_store_close(st);
  drop_sweep(w, name);
  rs_store_close(w);
}

/* ---- early termination: judging, pausing, promoting ---- */

/* A judge callback: records what it was given, answers with `say`. */
typedef struct Judge {
  RsVerdict say;
  int calls;
  size_t n, self, self_n;
  int idx_order_ok;
  int64_t self_last_step;
} Judge;

static int judge_fn(void *ctx, const RsCurve *c, size_t n, size_t self, RsVerdict *out) {
  Judge *j = ctx;
  j->calls++;
  j->n = n;
  j->self = self;
  j->self_n = c[self].n;
  j->self_last_step = c[self].n ? c[self].step[c[self].n - 1] : -1;
  j->idx_order_ok = 1;
  for (size_t i = 1; i < n; i++) j->idx_order_ok &= c[i - 1].idx < c[i].idx;
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < c[i].n; k++) j->idx_order_ok &= isfinite(c[i].value[k]) && (k == 0 || c[i].step[k - 1] < c[i].step[k]);
  *out = j->say;
  return TR_OK;
}

static RsVerdict verdict(int action, int64_t rung, const char *reason) {
  RsVerdict v;
  memset(&v, 0, sizeof v);
  v.action = action;
  v.rung = rung;
  snprintf(v.reason, sizeof v.reason, "%s", reason);
  snprintf(v.detail, sizeof v.detail, "{\"rung\": %lld}", (long long)rung);
  return v;
}

static void put_val(RsStore *st, const RsClaim *c, int64_t step, double v) {
  RsMetric m = {step, step * 10, 0.1 * (double)step, v, "val_loss"};
  OK(st, rs_metrics_put(st, c->trial_id, c->claim_token, 1, &m));
}

Test(rs_conformance, judge_sees_the_sweeps_finite_curves_and_prunes_only_a_held_claim) {
  Fix f = fix_open("judge", "minimize");
  RsStore *st = f.w;
  RsClaim a = claim(st, f.id, "w1"), b = claim(st, f.id, "w1");
  put_val(st, &a, 10, 1.0);
  put_val(st, &a, 20, INFINITY); /* not an iteration */
  put_val(st, &a, 30, 3.0);
  put_val(st, &b, 10, 0.5);
  Judge j = {.say = verdict(RS_VERDICT_KEEP, 0, "")};
  int applied = -1;
  RsVerdict v;
  OK(st, rs_trial_judge(st, a.trial_id, a.claim_token, judge_fn, &j, &v, &applied));
  cr_assert_eq(applied, 0);
  cr_assert_eq(j.n, 4, "every trial of the sweep, pending ones too");
  cr_assert_eq(j.self, 0);
  cr_assert_eq(j.self_n, 2, "the infinite value is left out");
  cr_assert_eq(j.self_last_step, 30);
  cr_assert(j.idx_order_ok, "by idx, finite values by step");
  j.say = verdict(RS_VERDICT_PRUNE, 2, "pruned at band 2: 3 > threshold 0.5 (n 2, eta 3)");
  cr_assert_eq(rs_trial_judge(st, a.trial_id, a.claim_token - 1, judge_fn, &j, &v, &applied), RS_LOST);
  cr_assert_eq(applied, 0);
  OK(st, rs_trial_judge(st, a.trial_id, a.claim_token, judge_fn, &j, &v, &applied));
  cr_assert_eq(applied, 1);
  cr_assert_eq(v.action, RS_VERDICT_PRUNE);
  RsTrial t;
  OK(st, rs_trial_get(st, a.trial_id, &t));
  cr_assert_eq(t.status, RS_PRUNED);
  cr_assert_str_eq(t.error, "pruned at band 2: 3 > threshold 0.5 (n 2, eta 3)");
  cr_assert_eq(t.rung, 2);
  cr_assert(t.final_metric == 3.0 && t.best_metric == 1.0 && t.best_step == 10 && t.steps == 30);
  cr_assert(isnan(t.lease_until) && !isnan(t.ended));
  rs_trial_clear(&t);
  /* Pruned is final: the claim is gone for every write, the judgment included. */
  cr_assert_eq(rs_trial_heartbeat(st, a.trial_id, a.claim_token, 30), RS_LOST);
  RsMetric m = {40, 0, 0, 1.0, "val_loss"};
  cr_assert_eq(rs_metrics_put(st, a.trial_id, a.claim_token, 1, &m), RS_LOST);
  cr_assert_eq(rs_trial_judge(st, a.trial_id, a.claim_token, judge_fn, &j, &v, &applied), RS_LOST);
  cr_assert_eq(rs_trial_finish(st, a.trial_id, a.claim_token, RS_COMPLETED, NULL), RS_LOST);
  RsCounts k;
  OK(st, rs_sweep_counts(st, f.id, &k));
  cr_assert(k.n[RS_PRUNED] == 1 && k.n[RS_RUNNING] == 1 && k.n[RS_PENDING] == 2, "%lld %lld %lld",
            (long long)k.n[RS_PRUNED], (long long)k.n[RS_RUNNING], (long long)k.n[RS_PENDING]);
  cr_assert_str_eq(rs_status_name(RS_PRUNED), "pruned");
  cr_assert_eq(rs_status_parse("paused"), RS_PAUSED);
  OK(st, rs_trial_finish(st, b.trial_id, b.claim_token, RS_COMPLETED, NULL));
  rs_claim_clear(&a);
  rs_claim_clear(&b);
  fix_close(&f);
}

/* A promotion hook: promotes the paused trial of idx `want` (-1: none); counts its calls. */
typedef struct Promo {
  int want, calls;
} Promo;

static long promo_fn(void *ctx, const RsCurve *c, size_t n, int64_t *to_step) {
  Promo *p = ctx;
  p->calls++;
  *to_step = 90;
  for (size_t i = 0; i < n; i++)
    if (c[i].idx == p->want && c[i].paused) return (long)i;
  return -1;
}

Test(rs_conformance, pause_waits_for_its_checkpoint_and_a_promotion_resumes_it_there) {
  Fix f = fix_open("pause", "minimize");
  RsStore *st = f.w;
  Promo p = {-1, 0};
  RsClaim a;
  OK(st, rs_trial_claim_promoting(st, f.id, "w1", 30, 3, promo_fn, &p, &a));
  cr_assert(a.claimed && a.idx == 0);
  cr_assert_eq(p.calls, 0, "no paused trial: the hook is not asked");
  put_val(st, &a, 10, 2.0);
  put_val(st, &a, 20, 1.5);
  Judge j = {.say = verdict(RS_VERDICT_PAUSE, 20, "paused at rung 20")};
  int applied = -1;
  RsVerdict v;
  OK(st, rs_trial_judge(st, a.trial_id, a.claim_token, judge_fn, &j, &v, &applied));
  cr_assert_eq(applied, 0, "no checkpoint at step 20 yet");
  cr_assert_eq(v.action, RS_VERDICT_PAUSE);
  OK(st, rs_trial_set_checkpoint(st, a.trial_id, a.claim_token, "/ck/10", 10));
  OK(st, rs_trial_judge(st, a.trial_id, a.claim_token, judge_fn, &j, &v, &applied));
  cr_assert_eq(applied, 0, "the checkpoint holds step 10, the curve ends at 20");
  OK(st, rs_trial_set_checkpoint(st, a.trial_id, a.claim_token, "/ck/20", 20));
  OK(st, rs_trial_judge(st, a.trial_id, a.claim_token, judge_fn, &j, &v, &applied));
  cr_assert_eq(applied, 1);
  RsTrial t;
  OK(st, rs_trial_get(st, a.trial_id, &t));
  cr_assert_eq(t.status, RS_PAUSED);
  cr_assert_eq(t.rung, 20);
  cr_assert_null(t.error);
  cr_assert(t.steps == 20 && t.best_metric == 1.5 && t.checkpoint_step == 20);
  rs_trial_clear(&t);
  cr_assert_eq(rs_trial_heartbeat(st, a.trial_id, a.claim_token, 30), RS_LOST);
  /* A plain claim never promotes; the hook's claim takes the paused trial before pending ones. */
  RsClaim b = claim(st, f.id, "w2");
  cr_assert_eq(b.idx, 1);
  p.want = 0;
  RsClaim c;
  OK(st, rs_trial_claim_promoting(st, f.id, "w3", 30, 3, promo_fn, &p, &c));
  cr_assert(c.claimed);
  cr_assert_eq(p.calls, 1);
  cr_assert_eq(c.idx, 0);
  cr_assert_str_eq(c.kind, "promote");
  cr_assert_str_eq(c.checkpoint, "/ck/20");
  cr_assert_eq(c.checkpoint_step, 20);
  cr_assert_eq(c.promoted_step, 20, "a resume from this checkpoint is past the rung");
  cr_assert_eq(b.promoted_step, -1);
  cr_assert_eq(c.attempts, 2);
  RsPoint *pts;
  size_t np;
  OK(st, rs_metrics_read(st, c.trial_id, "val_loss", &pts, &np));
  cr_assert_eq(np, 2, "the curve up to the checkpoint is kept");
  free(pts);
  OK(st, rs_trial_get(st, c.trial_id, &t));
  cr_assert(t.status == RS_RUNNING && t.rung == -1);
  rs_trial_clear(&t);
  /* Promoted once: the old claim is dead, and the next claim takes a pending trial. */
  cr_assert_eq(rs_trial_judge(st, a.trial_id, a.claim_token, judge_fn, &j, &v, &applied), RS_LOST);
  RsClaim d;
  OK(st, rs_trial_claim_promoting(st, f.id, "w4", 30, 3, promo_fn, &p, &d));
  cr_assert(d.claimed && d.idx == 2 && strcmp(d.kind, "claim") == 0);
  OK(st, rs_trial_finish(st, b.trial_id, b.claim_token, RS_COMPLETED, NULL));
  OK(st, rs_trial_finish(st, c.trial_id, c.claim_token, RS_COMPLETED, NULL));
  OK(st, rs_trial_finish(st, d.trial_id, d.claim_token, RS_COMPLETED, NULL));
  rs_claim_clear(&a);
  rs_claim_clear(&b);
  rs_claim_clear(&c);
  rs_claim_clear(&d);
  fix_close(&f);
}

Test(rs_conformance, paused_trials_nobody_promotes_are_pruned_once_nothing_else_can_run) {
  Fix f = fix_open("unpromoted", "minimize");
  RsStore *st = f.w;
  Promo p = {-1, 0};
  RsClaim c[4];
  for (int i = 0; i < 4; i++) {
    OK(st, rs_trial_claim_promoting(st, f.id, "w1", 30, 3, promo_fn, &p, &c[i]));
    cr_assert(c[i].claimed);
    put_val(st, &c[i], 5, 1.0 + i);
  }
  Judge j = {.say = verdict(RS_VERDICT_PAUSE, 5, "paused at rung 5")};
  int applied;
  RsVerdict v;
  for (int i = 0; i < 2; i++) {
    OK(st, rs_trial_set_checkpoint(st, c[i].trial_id, c[i].claim_token, "/ck", 5));
    OK(st, rs_trial_judge(st, c[i].trial_id, c[i].claim_token, judge_fn, &j, &v, &applied));
    cr_assert_eq(applied, 1);
  }
  OK(st, rs_trial_finish(st, c[2].trial_id, c[2].claim_token, RS_COMPLETED, NULL));
  RsClaim x;
  OK(st, rs_trial_claim_promoting(st, f.id, "w1", 30, 3, promo_fn, &p, &x));
  cr_assert_eq(x.claimed, 0);
  cr_assert_eq(x.running, 1, "trial 3 still runs: it may change the rungs");
  RsCounts k;
  OK(st, rs_sweep_counts(st, f.id, &k));
  cr_assert_eq(k.n[RS_PAUSED], 2);
  OK(st, rs_trial_finish(st, c[3].trial_id, c[3].claim_token, RS_COMPLETED, NULL));
  OK(st, rs_trial_claim(st, f.id, "w1", 30, 3, &x));
  cr_assert_eq(x.claimed, 0);
  OK(st, rs_sweep_counts(st, f.id, &k));
  cr_assert_eq(k.n[RS_PAUSED], 2, "a claim without the hook leaves them");
  OK(st, rs_trial_claim_promoting(st, f.id, "w1", 30, 3, promo_fn, &p, &x));
  cr_assert(x.claimed == 0 && x.running == 0);
  OK(st, rs_sweep_counts(st, f.id, &k));
  cr_assert(k.n[RS_PAUSED] == 0 && k.n[RS_PRUNED] == 2 && k.n[RS_COMPLETED] == 2);
  RsTrial t;
  OK(st, rs_trial_get(st, c[0].trial_id, &t));
  cr_assert(t.status == RS_PRUNED && t.error && strstr(t.error, "not promoted"), "%s", t.error ? t.error : "-");
  cr_assert_eq(t.rung, 5);
  rs_trial_clear(&t);
  for (int i = 0; i < 4; i++) rs_claim_clear(&c[i]);
  fix_close(&f);
}

/* ---- model-based search: propose and insert the pending trial ---- */

/* A proposal hook: defines `k` trials from next_idx on (hash "b0000000000000NN" by idx, unless
** `hash` forces one), records what it was shown; rc != 0 fails. */
typedef struct Prop {
  int calls, k, rc, last_n, last_next;
  int seen_running, seen_completed;
  double seen_best[16];
  char seen_params[16][96];
  const char *hash;
  char h[4][17], p[4][64];
  RsTrialDef d[4];
} Prop;

static int prop_fn(void *ctx, const RsProposeTrial *t, size_t n, int next_idx, RsProposal *out) {
  Prop *p = ctx;
  p->calls++;
  p->last_n = (int)n;
  p->last_next = next_idx;
  p->seen_running = p->seen_completed = 0;
  for (size_t i = 0; i < n && i < 16; i++) {
    p->seen_running += t[i].status == RS_RUNNING;
    p->seen_completed += t[i].status == RS_COMPLETED;
    p->seen_best[i] = t[i].best;
    snprintf(p->seen_params[i], sizeof p->seen_params[i], "%s", t[i].params);
  }
  if (p->rc) return p->rc;
  for (int i = 0; i < p->k; i++) {
    snprintf(p->h[i], sizeof p->h[i], "%s", p->hash ? p->hash : "");
    if (!p->hash) snprintf(p->h[i], sizeof p->h[i], "b%015x", next_idx + i);
    snprintf(p->p[i], sizeof p->p[i], "{\"optimizer.lr\": %d.5}", next_idx + i);
    p->d[i] = (RsTrialDef){next_idx + i, p->h[i], "{\"train\": {}}", p->p[i], 900 + next_idx + i};
  }
  out->n = (size_t)p->k;
  out->defs = p->d;
  snprintf(out->detail, sizeof out->detail, "{\"seed\": \"%x\"}", 0xbeef + next_idx);
  return TR_OK;
}

/* Finish the claims that hold a trial and free them all. */
static void finish_claims(RsStore *st, RsClaim *c, int n) {
  for (int i = 0; i < n; i++) {
    if (c[i].claimed) {
      int rc = rs_trial_finish(st, c[i].trial_id, c[i].claim_token, RS_COMPLETED, NULL);
      cr_assert(rc == TR_OK || rc == RS_LOST, "%s", rs_store_errmsg(st));
    }
    rs_claim_clear(&c[i]);
  }
}

static RsClaim claim_prop(RsStore *st, int64_t sweep_id, const char *worker, Prop *p, int64_t cap) {
  RsClaimHooks h = {NULL, NULL, prop_fn, p, cap, 0};
  RsClaim c;
  OK(st, rs_trial_claim_hooked(st, sweep_id, worker, 30, 3, &h, &c));
  return c;
}

Test(rs_conformance, a_proposal_comes_only_when_nothing_else_is_claimable_and_is_claimed_at_once) {
  Fix f = fix_open("propose", "minimize");
  RsStore *st = f.w;
  Prop p = {.k = 1};
  RsClaim c[8];
  for (int i = 0; i < 4; i++) {
    c[i] = claim_prop(st, f.id, "w1", &p, 6);
    cr_assert(c[i].claimed && c[i].idx == i && strcmp(c[i].kind, "claim") == 0);
  }
  cr_assert_eq(p.calls, 0, "pending trials first: the hook is not asked");
  RsTrialResult r = {2.0, 1.5, 3, 3, 0, 1.0, NAN, NULL, NULL, 0};
  OK(st, rs_trial_finish(st, c[0].trial_id, c[0].claim_token, RS_COMPLETED, &r));
  OK(st, rs_trial_finish(st, c[1].trial_id, c[1].claim_token, RS_FAILED, NULL));
  c[4] = claim_prop(st, f.id, "w1", &p, 6);
  cr_assert(c[4].claimed && c[4].idx == 1 && strcmp(c[4].kind, "retry") == 0);
  cr_assert_eq(p.calls, 0, "a retry before a proposal");
  c[5] = claim_prop(st, f.id, "w2", &p, 6);
  cr_assert(c[5].claimed, "proposed and claimed");
  cr_assert_eq(p.calls, 1);
  cr_assert_eq(p.last_n, 4, "every trial of the sweep, running ones included");
  cr_assert_eq(p.last_next, 4);
  cr_assert_eq(p.seen_running, 3);
  cr_assert_eq(p.seen_completed, 1);
  cr_assert_eq(p.seen_best[0], 1.5, "a finished trial's best value");
  cr_assert(isnan(p.seen_best[2]), "a running trial has none");
  cr_assert_str_eq(p.seen_params[1], "{\"optimizer.lr\": 0.001, \"act\": \"relu\", \"train.seed\": 1}");
  cr_assert_eq(c[5].idx, 4);
  cr_assert_str_eq(c[5].kind, "propose");
  cr_assert_eq(c[5].seed, 904);
  cr_assert_eq(c[5].attempts, 1);
  cr_assert_str_eq(c[5].config_json, "{\"train\": {}}");
  RsTrial t;
  OK(st, rs_trial_get(st, c[5].trial_id, &t));
  cr_assert(t.status == RS_RUNNING && strcmp(t.worker, "w2") == 0 && strcmp(t.hash, "b000000000000004") == 0);
  cr_assert_str_eq(t.params, "{\"optimizer.lr\": 4.5}");
  rs_trial_clear(&t);
  c[6] = claim_prop(st, f.id, "w3", &p, 6);
  cr_assert(c[6].claimed && c[6].idx == 5 && p.last_n == 5 && p.last_next == 5);
  c[7] = claim_prop(st, f.id, "w3", &p, 6);
  cr_assert_eq(c[7].claimed, 0, "the cap is reached");
  cr_assert_eq(p.calls, 2, "at the cap the hook is not asked");
  cr_assert_eq(c[7].running, 5);
  RsCounts k;
  OK(st, rs_sweep_counts(st, f.id, &k));
  cr_assert(k.total == 6 && k.n[RS_RUNNING] == 5 && k.n[RS_COMPLETED] == 1);
  finish_claims(st, c, 8);
  fix_close(&f);
}

Test(rs_conformance, another_handle_sees_a_proposal_at_once_and_proposes_the_next_index) {
  Fix f = fix_open("propose2", "minimize");
  RsStore *b = open_store(RS_OPEN_EXISTING);
  Prop p = {.k = 1};
  RsClaim c[6];
  for (int i = 0; i < 4; i++) c[i] = claim_prop(f.w, f.id, "w1", &p, 100);
  c[4] = claim_prop(f.w, f.id, "w1", &p, 100);
  c[5] = claim_prop(b, f.id, "w2", &p, 100);
  cr_assert(c[4].claimed && c[5].claimed);
  cr_assert_eq(c[4].idx, 4);
  cr_assert_eq(c[5].idx, 5, "the other handle's proposal is already in the sweep");
  cr_assert_eq(p.last_n, 5);
  cr_assert_str_eq(p.seen_params[4], "{\"optimizer.lr\": 4.5}", "the running proposal is shown to the model");
  cr_assert_eq(p.seen_running, 5);
  finish_claims(f.w, c, 6);
  rs_store_close(b);
  fix_close(&f);
}

Test(rs_conformance, a_proposal_of_several_trials_claims_the_first_and_leaves_the_rest_pending) {
  Fix f = fix_open("propose3", "minimize");
  RsStore *st = f.w;
  Prop p = {.k = 2};
  RsClaim c[7];
  for (int i = 0; i < 4; i++) c[i] = claim_prop(st, f.id, "w1", &p, 6);
  c[4] = claim_prop(st, f.id, "w1", &p, 6);
  cr_assert(c[4].claimed && c[4].idx == 4 && strcmp(c[4].kind, "propose") == 0);
  c[5] = claim_prop(st, f.id, "w1", &p, 6);
  cr_assert(c[5].claimed && c[5].idx == 5 && strcmp(c[5].kind, "claim") == 0);
  cr_assert_eq(p.calls, 1, "the pending one first");
  c[6] = claim_prop(st, f.id, "w1", &p, 6);
  cr_assert_eq(c[6].claimed, 0, "6 trials: the cap");
  cr_assert_eq(p.calls, 1);
  finish_claims(st, c, 7);
  fix_close(&f);
}

Test(rs_conformance, a_proposal_that_repeats_a_trial_or_a_failing_hook_writes_nothing) {
  Fix f = fix_open("propose4", "minimize");
  RsStore *st = f.w;
  Prop p = {.k = 1};
  RsClaim c[4], x;
  for (int i = 0; i < 4; i++) c[i] = claim_prop(st, f.id, "w1", &p, 10);
  p.hash = "00000000000000a2"; /* trial 2's */
  RsClaimHooks h = {NULL, NULL, prop_fn, &p, 10, 0};
  cr_assert_eq(rs_trial_claim_hooked(st, f.id, "w1", 30, 3, &h, &x), TR_EINVAL);
  cr_assert(strstr(rs_store_errmsg(st), "already in the sweep"), "%s", rs_store_errmsg(st));
  cr_assert_eq(x.claimed, 0);
  p.hash = NULL;
  p.k = 3; /* 4 + 3 > 6 */
  h.cap = 6;
  cr_assert_eq(rs_trial_claim_hooked(st, f.id, "w1", 30, 3, &h, &x), TR_EINVAL);
  cr_assert(strstr(rs_store_errmsg(st), "cap"), "%s", rs_store_errmsg(st));
  p.k = 1;
  p.rc = TR_ENOMEM;
  cr_assert_eq(rs_trial_claim_hooked(st, f.id, "w1", 30, 3, &h, &x), TR_ENOMEM);
  RsCounts k;
  OK(st, rs_sweep_counts(st, f.id, &k));
  cr_assert(k.total == 4 && k.n[RS_RUNNING] == 4, "nothing inserted, nothing claimed");
  p.rc = 0;
  p.k = 0; /* the model proposes nothing (target reached): nothing claimable */
  OK(st, rs_trial_claim_hooked(st, f.id, "w1", 30, 3, &h, &x));
  cr_assert(x.claimed == 0 && x.running == 4);
  finish_claims(st, c, 4);
  fix_close(&f);
}

/* ---- copying a sweep between stores (rs_sweep_copy) ---- */

/* Every row rs_sweep_rows_each gives, as text: one line per row, each value typed. */
static int dump_row(void *ctx, const RsCopyPlan *plan, RsCopyTable t, const RsValue *v) {
  (void)plan;
  FILE *f = ctx;
  size_t nc;
  rs_copy_columns(t, &nc);
  fprintf(f, "%s", rs_copy_table_name(t));
  for (size_t c = 0; c < nc; c++) {
    if (v[c].type == RS_VAL_NULL) fprintf(f, "|N");
    else if (v[c].type == RS_VAL_INT) fprintf(f, "|i%lld", (long long)v[c].i);
    else if (v[c].type == RS_VAL_REAL) fprintf(f, "|r%a", v[c].d);
    else fprintf(f, "|t%s", v[c].s);
  }
  fprintf(f, "\n");
  return TR_OK;
}

static char *dump_sweep(RsStore *st, const char *name) {
  char *buf = NULL;
  size_t len = 0;
  FILE *f = open_memstream(&buf, &len);
  cr_assert_not_null(f);
  OK(st, rs_sweep_rows_each(st, name, dump_row, f));
  fclose(f);
  return buf;
}

/* A sweep with something in every column: claims, a checkpoint, metrics (an infinite value), a
** finish with summary and an error holding a tab, a newline and a backslash, events with details. */
static void fill_sweep(RsStore *st, int64_t sweep_id) {
  RsClaim a = claim(st, sweep_id, "host-a:1"), b = claim(st, sweep_id, "host-b:2");
  put_val(st, &a, 10, 1.0 / 3.0);
  put_val(st, &a, 20, INFINITY);
  put_val(st, &b, 10, 1e-300);
  OK(st, rs_trial_set_checkpoint(st, a.trial_id, a.claim_token, "/runs/a/ckpt_20.bin", 20));
  RsTrialResult res = {0.1, 1.0 / 7.0, 10, 20, 640, 1.25, 3e9, "{\"ok\": true}", NULL, 0};
  OK(st, rs_trial_finish(st, a.trial_id, a.claim_token, RS_COMPLETED, &res));
  RsTrialResult bad = {NAN, NAN, -1, 10, 320, 0.5, 0, NULL, "exit 3:\n\tlast line \\ with \"quotes\"", 0};
  OK(st, rs_trial_finish(st, b.trial_id, b.claim_token, RS_FAILED, &bad));
  OK(st, rs_event_add(st, sweep_id, -1, "note", "tab\there, newline\nthere"));
  rs_claim_clear(&a);
  rs_claim_clear(&b);
}

static void copy_tmp(char *tdir, size_t n, char *file, size_t nf) {
  snprintf(tdir, n, "/tmp/hps_copy_XXXXXX");
  cr_assert_not_null(mkdtemp(tdir));
  snprintf(file, nf, "%s/copy.db", tdir);
}

static void copy_tmp_remove(const char *tdir, const char *file) {
  static const char *const sfx[] = {"", "-wal", "-shm", "-journal"};
  char p[600];
  for (size_t i = 0; i < sizeof sfx / sizeof sfx[0]; i++) {
    snprintf(p, sizeof p, "%s%s", file, sfx[i]);
    unlink(p);
  }
  rmdir(tdir);
}

typedef struct Prog {
  int calls;
  int64_t done, total;
} Prog;

static void prog_fn(void *ctx, int64_t done, int64_t total) {
  Prog *p = ctx;
  p->calls++, p->done = done, p->total = total;
}

Test(rs_conformance, a_sweep_copied_out_and_back_keeps_every_row_and_id) {
  Fix f = fix_open("copy", "minimize");
  fill_sweep(f.w, f.id);
  char *before = dump_sweep(f.w, f.name);
  char tdir[64], file[128];
  copy_tmp(tdir, sizeof tdir, file, sizeof file);
  RsStore *other = NULL;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(file, RS_OPEN_CREATE, &other, &e), TR_OK, "%s", e.msg);
  RsCopyStats s;
  Prog p = {0};
  cr_assert_eq(rs_sweep_copy(f.w, other, f.name, NULL, 0, prog_fn, &p, &s, &e), TR_OK, "%s", e.msg);
  cr_assert(s.rows[RS_COPY_SWEEPS] == 1 && s.rows[RS_COPY_TRIALS] == 4 && s.rows[RS_COPY_METRICS] == 3);
  cr_assert(s.shift[RS_COPY_SWEEPS] == 0 && s.shift[RS_COPY_TRIALS] == 0 && s.shift[RS_COPY_EVENTS] == 0,
            "a fresh store keeps the ids");
  cr_assert(p.calls >= 1 && p.done == p.total && p.total == 1 + 4 + 3 + s.rows[RS_COPY_EVENTS]);
  char *there = dump_sweep(other, f.name);
  cr_assert_str_eq(there, before);
  /* Back over the original, replacing it: the same rows, the same ids. */
  cr_assert_eq(rs_sweep_copy(other, f.w, f.name, NULL, 1, NULL, NULL, &s, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(s.replaced, 1);
  char *back = dump_sweep(f.w, f.name);
  cr_assert_str_eq(back, before);
  RsCounts c;
  OK(f.w, rs_sweep_counts(f.w, f.id, &c));
  cr_assert(c.n[RS_COMPLETED] == 1 && c.n[RS_FAILED] == 1 && c.n[RS_PENDING] == 2, "trial_counts follow");
  free(before);
  free(there);
  free(back);
  rs_store_close(other);
  copy_tmp_remove(tdir, file);
  fix_close(&f);
}

Test(rs_conformance, a_copy_is_refused_into_the_same_store_over_a_sweep_of_that_name_and_for_an_unknown_one) {
  Fix f = fix_open("copyref", "minimize");
  char tdir[64], file[128];
  copy_tmp(tdir, sizeof tdir, file, sizeof file);
  RsStore *other = NULL, *again = open_store(RS_OPEN_READONLY);
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(file, RS_OPEN_CREATE, &other, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(rs_sweep_copy(again, f.w, f.name, "copy_elsewhere", 1, NULL, NULL, NULL, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, "the same store"), "%s", e.msg);
  cr_assert_eq(rs_sweep_copy(f.w, other, "no_such_sweep_here", NULL, 0, NULL, NULL, NULL, &e), TR_ENOTFOUND);
  cr_assert(strstr(e.msg, "no sweep named 'no_such_sweep_here'"), "%s", e.msg);
  /* The target holds another sweep of that name: refused, it stays as it was. */
  int64_t id = 0;
  OK(other, rs_sweep_upsert(other, f.name, "other", "hash2", "random", "loss", "maximize", 1, "train", &id));
  cr_assert_eq(rs_sweep_copy(f.w, other, f.name, NULL, 0, NULL, NULL, NULL, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, "is there already") && strstr(e.msg, "--replace"), "%s", e.msg);
  RsSweep sw;
  OK(other, rs_sweep_get(other, f.name, &sw));
  cr_assert_str_eq(sw.spec_hash, "hash2");
  rs_sweep_clear(&sw);
  cr_assert(!strchr(e.msg, '\n'), "one line");
  rs_store_close(again);
  rs_store_close(other);
  copy_tmp_remove(tdir, file);
  fix_close(&f);
}

/* PBT's exploit: trial `self` copies `source`'s checkpoint at step 5 (the event names the source). */
typedef struct Exploit {
  int64_t source;
  char reason[128], detail[128];
} Exploit;

static int exploit_fn(void *ctx, const RsCurve *c, size_t n, size_t self, RsVerdict *out) {
  (void)c, (void)n, (void)self;
  Exploit *x = ctx;
  memset(out, 0, sizeof *out);
  out->action = RS_VERDICT_EXPLOIT;
  out->rung = 5;
  out->source_trial = x->source;
  out->checkpoint = "/runs/pbt/ckpt_5.bin";
  out->config = "{\"train\": {\"max_steps\": 9}}";
  out->params = "{\"optimizer.lr\": 0.5}";
  snprintf(out->reason, sizeof out->reason, "%s", x->reason);
  snprintf(out->detail, sizeof out->detail, "%s", x->detail);
  return TR_OK;
}

Test(rs_conformance, a_copy_into_a_store_using_the_ids_shifts_them_and_every_reference_follows) {
  char tdir[64], file[128];
  copy_tmp(tdir, sizeof tdir, file, sizeof file);
  RsStore *other = NULL;
  TrErr e = {0, ""};
  cr_assert_eq(rs_store_open(file, RS_OPEN_CREATE, &other, &e), TR_OK, "%s", e.msg);
  Fix f = fix_open("copyshift", "minimize");
  RsStore *st = f.w;
  RsClaim a = claim(st, f.id, "w1"), b = claim(st, f.id, "w1");
  put_val(st, &a, 5, 2.0);
  put_val(st, &b, 5, 1.0);
  Exploit x = {b.trial_id, "", ""};
  snprintf(x.reason, sizeof x.reason, "exploit at step 5: 2, rank 2 of 2, copies trial %lld (idx 1, 1)",
           (long long)b.trial_id);
  snprintf(x.detail, sizeof x.detail, "{\"step\": 5, \"source\": %lld, \"source_idx\": 1}", (long long)b.trial_id);
  RsVerdict v;
  int applied = 0;
  /* (a backend without population-based training yet refuses the exploit: the rest still holds) */
  int rc = rs_trial_judge(st, a.trial_id, a.claim_token, exploit_fn, &x, &v, &applied);
  int pbt = !(rc == TR_EINVAL && strstr(rs_store_errmsg(st), "not supported"));
  if (pbt) OK(st, rc);
  cr_assert_eq(applied, pbt);
  /* Copied in under another name first (the store is fresh: ids kept), then under its own: every id
  ** it has is taken there now. */
  char as[80];
  snprintf(as, sizeof as, "%s_as", f.name);
  RsCopyStats s;
  cr_assert_eq(rs_sweep_copy(st, other, f.name, as, 0, NULL, NULL, &s, &e), TR_OK, "%s", e.msg);
  RsSweep sw;
  OK(other, rs_sweep_get(other, as, &sw));
  cr_assert_eq(rs_sweep_copy(st, other, f.name, NULL, 0, NULL, NULL, &s, &e), TR_OK, "%s", e.msg);
  rs_sweep_clear(&sw);
  OK(other, rs_sweep_get(other, f.name, &sw));
  cr_assert_eq(sw.id, f.id + s.shift[RS_COPY_SWEEPS]);
  int64_t ts = s.shift[RS_COPY_TRIALS];
  cr_assert(s.shift[RS_COPY_SWEEPS] > 0 && ts > 0 && s.shift[RS_COPY_EVENTS] > 0, "every id was taken: shifted");
  RsTrial t;
  OK(other, rs_trial_get(other, a.trial_id + ts, &t));
  cr_assert_eq(t.sweep_id, sw.id);
  cr_assert_eq(t.idx, a.idx);
  if (pbt) cr_assert_str_eq(t.checkpoint, "/runs/pbt/ckpt_5.bin");
  rs_trial_clear(&t);
  RsPoint *p;
  size_t np;
  OK(other, rs_metrics_read(other, b.trial_id + ts, "val_loss", &p, &np));
  cr_assert(np == 1 && p[0].value == 1.0);
  free(p);
  /* The exploit event: on the shifted trial, naming the shifted source. */
  char *d = dump_sweep(other, f.name), want[128];
  snprintf(want, sizeof want, "|texploit|texploit at step 5: 2, rank 2 of 2, copies trial %lld (idx 1, 1)|"
           "t{\"step\": 5, \"source\": %lld, \"source_idx\": 1}", (long long)(b.trial_id + ts), (long long)(b.trial_id + ts));
  cr_assert(!pbt || strstr(d, want), "%s\nwant %s", d, want);
  free(d);
  rs_sweep_clear(&sw);
  OK(st, rs_trial_finish(st, a.trial_id, a.claim_token, RS_COMPLETED, NULL));
  OK(st, rs_trial_finish(st, b.trial_id, b.claim_token, RS_COMPLETED, NULL));
  rs_claim_clear(&a);
  rs_claim_clear(&b);
  rs_store_close(other);
  copy_tmp_remove(tdir, file);
  fix_close(&f);
}

/* ---- same-host reclaim (rs_trials_expire_dead) ---- */

typedef struct Dead {
  int calls;
  char seen_owner[160];
} Dead;

static int count_event(void *ctx, const RsEvent *e) {
  (void)e;
  ++*(int *)ctx;
  return TR_OK;
}

static int dead_fn(void *ctx, const char *worker, const char *owner) {
  Dead *d = ctx;
  d->calls++;
  if (owner) snprintf(d->seen_owner, sizeof d->seen_owner, "%s", owner);
  return strcmp(worker, "gone:1") == 0;
}

Test(rs_conformance, a_dead_owners_live_lease_ends_at_once_and_the_next_claim_reclaims_it) {
  Fix f = fix_open("expire", "minimize");
  RsStore *st = f.w;
  rs_store_set_owner(st, "boot-1 4026531836 777");
  RsClaim a = claim(st, f.id, "gone:1"), b = claim(st, f.id, "alive:2");
  rs_store_set_owner(st, NULL);
  RsClaim c = claim(st, f.id, "unknown:3"); /* no owner: never asked about */
  Dead d = {0, ""};
  size_t n = 9;
  OK(st, rs_trials_expire_dead(st, f.id, dead_fn, &d, &n));
  cr_assert_eq(n, 1);
  cr_assert_eq(d.calls, 2, "the trials with an owner and a live lease");
  cr_assert_str_eq(d.seen_owner, "boot-1 4026531836 777");
  RsClaim r;
  OK(st, rs_trial_claim(st, f.id, "w9", 30, 3, &r));
  cr_assert(r.claimed && r.trial_id == a.trial_id, "the dead owner's trial first");
  cr_assert_str_eq(r.kind, "reclaim");
  cr_assert_eq(rs_trial_heartbeat(st, a.trial_id, a.claim_token, 30), RS_LOST, "the old claim is gone");
  OK(st, rs_trial_heartbeat(st, b.trial_id, b.claim_token, 30));
  int expired = 0;
  OK(st, rs_sweep_events_each(st, f.id, "expire", count_event, &expired));
  cr_assert_eq(expired, 1);
  OK(st, rs_trials_expire_dead(st, f.id, dead_fn, &d, &n));
  cr_assert_eq(n, 0, "nothing twice: the reclaim is w9's now (no owner)");
  RsClaim *all[] = {&r, &b, &c};
  for (int i = 0; i < 3; i++) {
    OK(st, rs_trial_finish(st, all[i]->trial_id, all[i]->claim_token, RS_COMPLETED, NULL));
    rs_claim_clear(all[i]);
  }
  rs_claim_clear(&a);
  fix_close(&f);
}
