/* tr_alloc: the allocator's failure hook, and out of memory at every allocation of
** `hpsweep check`, a short `hpsweep train`, `hpsweep sample` and `hpsweep lr-find`, a store
** round trip and `hpsweep report`
** (SQLite's allocations included): every failure is a clean error (an error code or exit
** status, and a one-line message naming memory), never a crash, and never a leak in the
** sanitizer build (meson test -C build-san test_tr_alloc: ASan's leak check at exit).
**
** The commands run in-process (the CLI's static library) so a loop over every k is fast;
** one test drives the built binary through HPS_ALLOC_FAIL_AT. Each loop ends at the first k
** that the operation never reaches (it then succeeds with no failure injected). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cli.h"
#include "hps_test.h"
#include "rs_fixture.h"
#include "rs_store.h"
#include "tr_alloc.h"

/* ---- the hook ---------------------------------------------------------------- */

Test(tr_alloc, the_kth_allocation_fails_and_the_others_succeed) {
  tr_alloc_fail_at(3, 0);
  void *p[5];
  for (int i = 0; i < 5; i++) p[i] = tr_malloc(16);
  cr_expect_not_null(p[0]);
  cr_expect_not_null(p[1]);
  cr_expect_null(p[2]);
  cr_expect_not_null(p[3]);
  cr_expect_not_null(p[4]);
  cr_expect_eq(tr_alloc_count(), 5);
  cr_expect_eq(tr_alloc_failures(), 1);
  tr_alloc_fail_at(0, 0);
  for (int i = 0; i < 5; i++) free(p[i]);
}

Test(tr_alloc, persist_fails_every_allocation_from_the_kth_on) {
  tr_alloc_fail_at(2, 1);
  char *a = tr_strdup("a"), *b = tr_strdup("b"), *c = tr_calloc(4, 4);
  void *d = NULL;
  int rc = tr_memalign(&d, 64, 64);
  char *e = NULL;
  cr_expect_not_null(a);
  cr_expect_null(b);
  cr_expect_null(c);
  cr_expect_neq(rc, 0);
  cr_expect_eq(tr_alloc_failures(), 3);
  tr_alloc_fail_at(0, 0);
  cr_expect_not_null(e = tr_strndup("hello", 2));
  cr_expect_str_eq(e, "he");
  free(a);
  free(e);
}

Test(tr_alloc, a_failed_realloc_keeps_the_block_and_zero_bytes_is_not_null) {
  char *p = tr_malloc(0);
  cr_assert_not_null(p);
  p[0] = 'x';
  tr_alloc_fail_at(1, 0);
  cr_expect_null(tr_realloc(p, 1 << 20));
  tr_alloc_fail_at(0, 0);
  cr_expect_eq(p[0], 'x');
  free(p);
}

/* ---- running a command in-process with its output captured ---------------------- */

typedef struct Cap {
  char err[8192]; /* what the command wrote on stderr */
  char out[1 << 16]; /* and on stdout (the first 64 KiB) */
} Cap;

/* Read fd from the start into buf (n bytes, NUL-terminated), then close it. */
static void cap_read(int fd, char *buf, size_t n) {
  lseek(fd, 0, SEEK_SET);
  ssize_t got = read(fd, buf, n - 1);
  buf[got > 0 ? got : 0] = '\0';
  close(fd);
}

/* c->fn(argc, argv) with stdout and stderr going to temporary files read into cap. The
** arguments are copied (a command may write into its argv, as cli.c's --set parsing does). */
static int cmd_captured(const HpsCmd *c, int argc, const char **args, Cap *cap) {
  static char buf[64][PATH_MAX + 64];
  char *argv[64];
  cr_assert_lt(argc, 64);
  for (int i = 0; i < argc; i++) argv[i] = strcpy(buf[i], args[i]);
  argv[argc] = NULL;
  char po[] = "/tmp/tr_alloc_outXXXXXX", pe[] = "/tmp/tr_alloc_errXXXXXX";
  int fo = mkstemp(po), fe = mkstemp(pe);
  cr_assert(fo >= 0 && fe >= 0);
  unlink(po);
  unlink(pe);
  fflush(stdout);
  fflush(stderr);
  int so = dup(1), se = dup(2);
  dup2(fo, 1);
  dup2(fe, 2);
  int rc = c->fn(argc, argv);
  fflush(stdout);
  fflush(stderr);
  dup2(so, 1);
  dup2(se, 2);
  close(so);
  close(se);
  cap_read(fo, cap->out, sizeof cap->out);
  cap_read(fe, cap->err, sizeof cap->err);
  return rc;
}

/* The lines of s that are errors (not "notice:" or "warning:" lines), and the first such. */
static int error_lines(const char *s, char *first, size_t n) {
  int k = 0;
  first[0] = '\0';
  for (const char *p = s; *p;) {
    const char *e = strchr(p, '\n');
    size_t len = e ? (size_t)(e - p) : strlen(p);
    char line[1024];
    snprintf(line, sizeof line, "%.*s", (int)len, p);
    if (len && !strstr(line, ": notice: ") && !strstr(line, ": warning: ")) {
      if (!k++) snprintf(first, n, "%s", line);
    }
    p += len + (e ? 1 : 0);
  }
  return k;
}

/* dst = src, cut to n bytes. */
static void put(char *dst, size_t n, const char *src) {
  size_t len = strnlen(src, n - 1);
  memcpy(dst, src, len);
  dst[len] = '\0';
}

/* ---- the loop ------------------------------------------------------------------ */

/* One attempt of the operation under test: 0 on success, > 0 a failure with its error
** message in msg (n bytes), < 0 a defect (a wrong result, a file left behind) said in msg. */
typedef int (*OomFn)(void *ctx, char *msg, size_t n);

typedef struct OomStats {
  uint64_t runs, allocations, absorbed; /* absorbed: a failure the operation recovered from */
} OomStats;

/* The sanitizer build runs ~4x slower: its strides are 4x longer. */
#if defined(__SANITIZE_ADDRESS__)
#define OOM_SLOW 4
#else
#define OOM_SLOW 1
#endif

/* fn with the k-th allocation failing, for k = 1, 2, ... until fn does not reach k: each
** failed attempt must fail cleanly (one line naming memory); one that succeeds anyway has
** checked its own result (fn returns < 0 if wrong). Beyond `dense`, k advances by `stride`
** (OOM_SLOW times that under ASan) where a loop over every k would take too long (the
** caller's comment says so); HPS_OOM_EVERY=1 in the environment makes every loop dense. */
static OomStats oom_loop(const char *what, OomFn fn, void *ctx, uint64_t dense, uint64_t stride) {
  OomStats st = {0, 0, 0};
  static char msg[8192];
  if (getenv("HPS_OOM_EVERY")) dense = UINT64_MAX; /* every k, however long it takes */
  stride *= OOM_SLOW;
  for (uint64_t k = 1;; k += k < dense ? 1 : stride) {
    msg[0] = '\0';
    tr_alloc_fail_at(k, 0);
    int rc = fn(ctx, msg, sizeof msg);
    uint64_t failed = tr_alloc_failures(), count = tr_alloc_count();
    tr_alloc_fail_at(0, 0);
    st.runs++;
    cr_assert_geq(rc, 0, "%s: allocation %" PRIu64 " failed: %s", what, k, msg);
    if (!failed) {
      cr_assert_eq(rc, 0, "%s: fails with no allocation failing (k %" PRIu64 "): %s", what, k, msg);
      st.allocations = count;
      return st;
    }
    if (rc == 0) {
      st.absorbed++;
      continue;
    }
    char first[1024];
    int lines = error_lines(msg, first, sizeof first);
    cr_assert_eq(lines, 1, "%s: allocation %" PRIu64 " failed: %d error lines:\n%s", what, k, lines, msg);
    cr_assert(strcasestr(first, "memory"), "%s: allocation %" PRIu64 " failed: the error does not say memory: %s",
              what, k, first);
  }
}

/* ---- hpsweep check ------------------------------------------------------------- */

typedef struct CheckCtx {
  const char *spec;
  char want[1 << 16]; /* stdout of a run without failures */
} CheckCtx;

static int check_once(void *ctx, char *msg, size_t n) {
  CheckCtx *c = ctx;
  static Cap cap;
  const char *argv[] = {"check", c->spec};
  int rc = cmd_captured(&hps_cmd_check, 2, argv, &cap);
  put(msg, n, cap.err);
  /* Recovered from a failure: the same output as without one. */
  if (rc == 0 && c->want[0] && strcmp(cap.out, c->want) != 0) {
    put(msg, n, "succeeded with another output:\n");
    put(msg + strlen(msg), n - strlen(msg), cap.out);
    return -1;
  }
  return rc;
}

static void check_spec(const char *path) {
  static CheckCtx c;
  setenv("HPSWEEP_MEMORY_AVAILABLE", "64G", 1); /* MemAvailable moves: the output must not */
  c.spec = path;
  c.want[0] = '\0';
  char msg[4096];
  cr_assert_eq(check_once(&c, msg, sizeof msg), 0, "%s: %s", path, msg);
  static Cap cap;
  const char *argv[] = {"check", path};
  cmd_captured(&hps_cmd_check, 2, argv, &cap);
  snprintf(c.want, sizeof c.want, "%s", cap.out);
  OomStats st = oom_loop(path, check_once, &c, UINT64_MAX, 1);
  cr_log_info("check %s: %" PRIu64 " allocations, %" PRIu64 " absorbed", path, st.allocations, st.absorbed);
  cr_expect_gt(st.allocations, 20, "%s: the hook saw only %" PRIu64 " allocations", path, st.allocations);
}

static char dir[128];
static void setup(void) {
  /* tmpfs when there is one: the store loops fsync thousands of times */
  const char *base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  snprintf(dir, sizeof dir, "%s/test_tr_alloc_XXXXXX", base);
  cr_assert_not_null(mkdtemp(dir));
}
static void teardown(void) { cr_assert_eq(hps_tmp_remove(dir), 0); }

TestSuite(tr_alloc_oom, .init = setup, .fini = teardown);

#define TINY_BASE                                                                   \
  "  base:\n    data: {synthetic_bytes: 20000}\n"                                   \
  "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"           \
  "    train: {batch_size: 4, max_steps: 5, eval_interval: 5, eval_batches: 1}\n"

Test(tr_alloc_oom, check_of_a_grid_spec_fails_cleanly_at_every_allocation) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/configs/lr_grid.yaml", getenv("HPS_SOURCE_ROOT"));
  check_spec(path);
}

Test(tr_alloc_oom, check_of_bayes_tpe_pbt_and_program_specs_fails_cleanly_at_every_allocation) {
  static const char *const specs[][2] = {
      {"bayes.yaml", "name: b\nmethod: bayes\nmetric: {name: val_loss, goal: minimize}\nrun_cap: 8\n"
                     "parameters:\n  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n"
                     "  model.d_model: {values: [16, 32]}\nhpsweep:\n" TINY_BASE},
      {"tpe.yaml", "name: t\nmethod: bayes\nmetric: {name: val_loss, goal: minimize}\nrun_cap: 8\n"
                   "early_terminate: {type: hyperband, min_iter: 2, eta: 2}\n"
                   "parameters:\n  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n"
                   "  optimizer.name: {values: [adamw, sgd]}\nhpsweep:\n  sampler: tpe\n" TINY_BASE},
      {"pbt.yaml", HPS_PBT_TINY_SPEC("")},
      {"program.yaml", "name: p\nprogram: train.py\nmethod: random\nrun_cap: 6\n"
                       "metric: {name: loss, goal: minimize}\n"
                       "command: [\"${env}\", python3, \"${program}\", \"--x=1\", \"${args}\"]\n"
                       "parameters:\n  lr: {distribution: uniform, min: 0, max: 1}\n  layers: {values: [1, 2, 3]}\n"},
  };
  hps_put(dir, "train.py", "print(1)\n");
  for (size_t i = 0; i < sizeof specs / sizeof specs[0]; i++) {
    char path[PATH_MAX + 300];
    put(path, sizeof path, hps_put(dir, specs[i][0], specs[i][1]));
    check_spec(path);
  }
}

/* ---- hpsweep train ------------------------------------------------------------- */

typedef struct TrainCtx {
  char out_dir[PATH_MAX + 16], set_out[PATH_MAX + 32];
} TrainCtx;

static int train_once(void *ctx, char *msg, size_t n) {
  TrainCtx *t = ctx;
  char rm[PATH_MAX + 32];
  snprintf(rm, sizeof rm, "rm -rf '%s'", t->out_dir);
  cr_assert_eq(system(rm), 0);
  const char *argv[] = {"train", "--set", "model.n_layer=1", "--set", "model.d_model=16", "--set", "model.n_head=2",
                        "--set", "model.context_length=16", "--set", "train.batch_size=4",
                        "--set", "train.max_steps=3", "--set", "train.eval_interval=3", "--set", "train.eval_batches=1",
                        "--set", "train.threads=1", "--set", "data.synthetic_bytes=20000", "--set", t->set_out};
  static Cap cap;
  int rc = cmd_captured(&hps_cmd_train, (int)(sizeof argv / sizeof argv[0]), argv, &cap);
  put(msg, n, cap.err);
  if (rc == 0 && !strstr(cap.out, "completed after 3 steps")) {
    snprintf(msg, n, "succeeded without completing 3 steps:\n%s", cap.out);
    return -1;
  }
  return rc;
}

/* Every k: a 3-step run on a tiny model with a checkpoint and a summary at the end. */
Test(tr_alloc_oom, train_fails_cleanly_at_every_allocation) {
  static TrainCtx t;
  snprintf(t.out_dir, sizeof t.out_dir, "%s/run", dir);
  snprintf(t.set_out, sizeof t.set_out, "train.out_dir=%s", t.out_dir);
  OomStats st = oom_loop("train", train_once, &t, UINT64_MAX, 1);
  cr_log_info("train: %" PRIu64 " allocations, %" PRIu64 " absorbed", st.allocations, st.absorbed);
  cr_expect_gt(st.allocations, 20);
}

/* ---- hpsweep sample and hpsweep lr-find ------------------------------------------- */

typedef struct CmdCtx {
  const HpsCmd *cmd;
  const char *argv[32]; /* NULL-terminated */
  const char *want; /* in stdout when it succeeds */
  const char *log;  /* stderr's lines starting with it are its progress, not errors (NULL: none) */
} CmdCtx;

/* dst = the lines of src not starting with skip (NULL: all), cut to n bytes. */
static void put_lines(char *dst, size_t n, const char *src, const char *skip) {
  size_t off = 0;
  dst[0] = '\0';
  for (const char *p = src; *p && off + 1 < n;) {
    size_t len = strcspn(p, "\n") + (p[strcspn(p, "\n")] ? 1 : 0);
    if (!skip || strncmp(p, skip, strlen(skip)) != 0) {
      size_t k = len < n - 1 - off ? len : n - 1 - off;
      memcpy(dst + off, p, k);
      dst[off += k] = '\0';
    }
    p += len;
  }
}

static int cmd_once(void *ctx, char *msg, size_t n) {
  CmdCtx *c = ctx;
  static Cap cap;
  int argc = 0;
  while (c->argv[argc]) argc++;
  int rc = cmd_captured(c->cmd, argc, c->argv, &cap);
  put_lines(msg, n, cap.err, c->log);
  if (rc == 0 && !strstr(cap.out, c->want)) {
    snprintf(msg, n, "succeeded without '%s' in its output:\n%s", c->want, cap.out);
    return -1;
  }
  return rc;
}

/* Every k: 2 samples of 8 tokens from the checkpoint of a tiny 3-step run. */
Test(tr_alloc_oom, sample_fails_cleanly_at_every_allocation) {
  static TrainCtx t;
  snprintf(t.out_dir, sizeof t.out_dir, "%s/run", dir);
  snprintf(t.set_out, sizeof t.set_out, "train.out_dir=%s", t.out_dir);
  char msg[8192], ckpt[PATH_MAX + 32];
  cr_assert_eq(train_once(&t, msg, sizeof msg), 0, "%s", msg);
  snprintf(ckpt, sizeof ckpt, "%s/ckpt.bin", t.out_dir);
  cr_assert_eq(access(ckpt, R_OK), 0, "no checkpoint %s", ckpt);
  static CmdCtx c = {&hps_cmd_sample, {"sample", NULL, "--prompt", "ka lo", "--max-tokens", "8", "-n", "2",
                                       "--seed", "3", "--threads", "1"}, "ka lo", NULL};
  c.argv[1] = ckpt;
  OomStats st = oom_loop("sample", cmd_once, &c, UINT64_MAX, 1);
  cr_log_info("sample: %" PRIu64 " allocations, %" PRIu64 " absorbed", st.allocations, st.absorbed);
  cr_expect_gt(st.allocations, 10);
}

/* Every k: a 6-step range test of a tiny model, with its table and suggestions. */
Test(tr_alloc_oom, lr_find_fails_cleanly_at_every_allocation) {
  setenv("HPSWEEP_MEMORY_AVAILABLE", "64G", 1);
  static CmdCtx c = {&hps_cmd_lrfind,
                     {"lr-find", "--set", "model.n_layer=1", "--set", "model.d_model=16", "--set", "model.n_head=2",
                      "--set", "model.context_length=16", "--set", "train.batch_size=4", "--set", "train.threads=1",
                      "--set", "data.synthetic_bytes=20000", "--steps", "6", "--json"},
                     "\"points\"", "lr-find: step "};
  OomStats st = oom_loop("lr-find", cmd_once, &c, UINT64_MAX, 1);
  cr_log_info("lr-find: %" PRIu64 " allocations, %" PRIu64 " absorbed", st.allocations, st.absorbed);
  cr_expect_gt(st.allocations, 10);
}

/* ---- a store round trip ---------------------------------------------------------- */

typedef struct StoreCtx {
  char db[PATH_MAX + 16];
  char *image;  /* NULL: start from no file (the store creates it); else the file's bytes */
  size_t len;
} StoreCtx;

/* msg from the store's message (or err's when st is NULL), the store closed; returns code. */
static int store_fail(RsStore *st, const TrErr *err, int code, char *msg, size_t n) {
  put(msg, n, st ? rs_store_errmsg(st) : err->msg);
  rs_store_close(st);
  return code;
}

static int store_write_trial(RsStore *st, char *msg, size_t n) {
  int64_t sid = 0;
  RsTrialDef defs[2] = {{0, "h0", "{\"train\": {}}", "{\"optimizer.lr\": 0.001}", 11},
                        {1, "h1", "{\"train\": {}}", "{\"optimizer.lr\": 0.01}", 12}};
  size_t added;
  RsClaim cl = {0};
  int rc = rs_sweep_upsert(st, "s", "name: s\n", "abc", "grid", "val_loss", "minimize", 7, "train", &sid);
  if (!rc) rc = rs_trials_insert(st, sid, 2, defs, &added);
  if (!rc) rc = rs_trial_claim(st, sid, "w1", 60, 1, &cl);
  if (!rc && !cl.claimed) {
    snprintf(msg, n, "nothing claimed");
    return -1;
  }
  RsMetric m[3] = {{1, 64, 0.1, 2.5, "val_loss"}, {2, 128, 0.2, 2.0, "val_loss"}, {2, 128, 0.2, 2.2, "train_loss"}};
  RsTrialResult res = {2.0, 2.0, 2, 2, 128, 0.2, 1e6, "{\"ok\": true}", NULL, 0};
  if (!rc) rc = rs_metrics_put(st, cl.trial_id, cl.claim_token, 3, m);
  if (!rc) rc = rs_trial_finish(st, cl.trial_id, cl.claim_token, RS_COMPLETED, &res);
  rs_claim_clear(&cl);
  if (rc) put(msg, n, rs_store_errmsg(st));
  return rc;
}

static int store_write(const char *db, char *msg, size_t n) {
  RsStore *st = NULL;
  TrErr err = {0, ""};
  int rc = rs_store_open(db, RS_OPEN_CREATE, &st, &err);
  if (rc) return store_fail(NULL, &err, rc, msg, n);
  rc = store_write_trial(st, msg, n);
  rs_store_close(st);
  return rc;
}

static int store_read(const char *db, char *msg, size_t n) {
  RsStore *st = NULL;
  TrErr err = {0, ""};
  int rc = rs_store_open(db, RS_OPEN_READONLY, &st, &err);
  if (rc) return store_fail(NULL, &err, rc, msg, n);
  RsSweep sw = {0};
  RsTrial t = {0};
  RsPoint *pts = NULL;
  size_t np = 0;
  rc = rs_sweep_get(st, "s", &sw);
  if (!rc) rc = rs_trial_get(st, 1, &t);
  if (!rc) rc = rs_metrics_read(st, 1, "val_loss", &pts, &np);
  if (rc) {
    put(msg, n, rs_store_errmsg(st));
  } else if (t.status != RS_COMPLETED || np != 2 || pts[1].value != 2.0 || t.best_metric != 2.0 || !t.summary ||
             strcmp(t.summary, "{\"ok\": true}") != 0) {
    snprintf(msg, n, "read back wrong: status %d, %zu points, best %g", (int)t.status, np, t.best_metric);
    rc = -1;
  }
  free(pts);
  rs_sweep_clear(&sw);
  rs_trial_clear(&t);
  rs_store_close(st);
  return rc;
}

/* The database file as it was made outside the loop (or none), then the round trip. */
static int store_once(void *ctx, char *msg, size_t n) {
  StoreCtx *s = ctx;
  char side[sizeof s->db + 8];
  snprintf(side, sizeof side, "%s-wal", s->db);
  unlink(side);
  snprintf(side, sizeof side, "%s-shm", s->db);
  unlink(side);
  unlink(s->db);
  if (s->image) {
    FILE *f = fopen(s->db, "wb");
    cr_assert(f && fwrite(s->image, 1, s->len, f) == s->len && fclose(f) == 0);
  }
  int rc = store_write(s->db, msg, n);
  return rc ? rc : store_read(s->db, msg, n);
}

/* Open an existing store, a sweep with two trials, claim one, put metrics, finish it,
** close; then open it read-only and read the sweep, the trial and its curve back: ~4,000
** allocations (most SQLite's), every k of the first 1,000 (the opens, the sweep, the trials)
** and every 11th beyond (every k: ~60 s). */
Test(tr_alloc_oom, store_round_trip_fails_cleanly_at_every_allocation) {
  static StoreCtx s;
  snprintf(s.db, sizeof s.db, "%s/s.db", dir);
  RsStore *st = NULL;
  TrErr err = {0, ""};
  cr_assert_eq(rs_store_open(s.db, RS_OPEN_CREATE, &st, &err), TR_OK, "%s", err.msg);
  rs_store_close(st);
  s.image = hps_slurp(s.db, &s.len);
  OomStats r = oom_loop("store round trip", store_once, &s, 1000, 11);
  cr_log_info("store: %" PRIu64 " allocations, %" PRIu64 " absorbed", r.allocations, r.absorbed);
  cr_expect_gt(r.allocations, 500, "SQLite's allocations are not routed through tr_alloc");
  free(s.image);
}

/* Creating a store (the schema: ~10,000 allocations, most of them SQLite parsing it) and
** the same round trip: every k of the first 600, then every 397th (every k: ~30 minutes). */
Test(tr_alloc_oom, store_creation_fails_cleanly_at_every_allocation_of_setup_and_a_stride_beyond) {
  static StoreCtx s;
  snprintf(s.db, sizeof s.db, "%s/s.db", dir);
  OomStats r = oom_loop("store creation", store_once, &s, 600, 397);
  cr_log_info("store creation: %" PRIu64 " allocations, %" PRIu64 " runs, %" PRIu64 " absorbed", r.allocations,
              r.runs, r.absorbed);
}

/* ---- hpsweep report ------------------------------------------------------------- */

typedef struct ReportCtx {
  char db[PATH_MAX + 16], out[PATH_MAX + 16];
} ReportCtx;

static int report_once(void *ctx, char *msg, size_t n) {
  ReportCtx *r = ctx;
  unlink(r->out);
  const char *argv[] = {"report", "lr_grid", "-o", r->out, "--db", r->db};
  static Cap cap;
  int rc = cmd_captured(&hps_cmd_report, 6, argv, &cap);
  put(msg, n, cap.err);
  if (rc == 0 && access(r->out, F_OK) != 0) {
    snprintf(msg, n, "succeeded without writing %s", r->out);
    return -1;
  }
  if (rc != 0 && access(r->out, F_OK) == 0) {
    snprintf(msg, n, "failed but left %s: %s", r->out, cap.err);
    return -1;
  }
  return rc;
}

/* ~5,500 allocations: every k of the first 150 (opening the store, reading the sweep, the
** first queries), then every 41st (every k: ~5 minutes). */
Test(tr_alloc_oom, report_fails_cleanly_at_every_allocation_of_setup_and_a_stride_beyond) {
  static ReportCtx r;
  snprintf(r.db, sizeof r.db, "%s/fix.db", dir);
  snprintf(r.out, sizeof r.out, "%s/report.html", dir);
  /* Open a store first: the store installs tr_alloc as SQLite's allocator before SQLite's
  ** first use, which the fixture's sqlite3_open would otherwise be. */
  char tmp[PATH_MAX + 16];
  snprintf(tmp, sizeof tmp, "%s/first.db", dir);
  RsStore *st = NULL;
  TrErr err = {0, ""};
  cr_assert_eq(rs_store_open(tmp, RS_OPEN_CREATE, &st, &err), TR_OK, "%s", err.msg);
  rs_store_close(st);
  cr_assert_eq(rs_fixture_make(r.db), 0);
  OomStats s = oom_loop("report", report_once, &r, 150, 41);
  cr_log_info("report: %" PRIu64 " allocations, %" PRIu64 " runs, %" PRIu64 " absorbed", s.allocations, s.runs,
              s.absorbed);
}

/* ---- the binary ------------------------------------------------------------------ */

/* HPS_ALLOC_FAIL_AT arms the hook in the hpsweep binary: the first allocation fails, the run
** ends with one line naming memory, and the hook says at exit how far it got. */
Test(tr_alloc_oom, hps_alloc_fail_at_makes_the_binary_fail_cleanly) {
  char cmd[PATH_MAX * 2], out[8192];
  snprintf(cmd, sizeof cmd, "HPS_ALLOC_FAIL_AT=1 '%s' check '%s/configs/lr_grid.yaml' 2>&1 >/dev/null", hps_bin(),
           getenv("HPS_SOURCE_ROOT"));
  int rc = hps_shell(cmd, out, sizeof out);
  cr_expect(rc > 0 && rc < 128, "exit %d: %s", rc, out);
  cr_expect(strstr(out, "hpsweep check: ") && strstr(out, "out of memory"), "%s", out);
  cr_expect(strstr(out, "HPS_ALLOC_FAIL_AT=1: 1 allocations, 1 failed"), "%s", out);
  snprintf(cmd, sizeof cmd, "HPS_ALLOC_FAIL_AT=1000000 '%s' check '%s/configs/lr_grid.yaml' 2>&1 >/dev/null",
           hps_bin(), getenv("HPS_SOURCE_ROOT"));
  cr_expect_eq(hps_shell(cmd, out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, " 0 failed"), "%s", out);
}
