/* Crash safety of a sweep: `hpsweep run` (and/or its workers) killed with
** SIGKILL at random moments, many times over. After every kill the database is
** intact, no completed trial is lost or changed, none completes twice; then a
** plain resume finishes the sweep with exactly one completed trial per point. The same
** with ASHA's pauses and promotions and PBT's copies: each applied once; and four runners
** standing for four hosts on a sweep of quick programs, killed and restarted at random.
** The store is HPS_TEST_STORE_URL (tests/pg_harness.sh: a throwaway PostgreSQL, meson's
** test_sw_crash_pg), else an SQLite file in the test's directory: every check reads the
** store through rs_store.h, so the same tests run against both backends. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hps_test.h"
#include "rs_store.h"
#include "tr_rng.h"

#define N_TRIALS 24
#define N_KILLS 24
#define MAX_TRIALS 256

static char dir[256];
static char store[1024]; /* the --db of every run: a server's URL or dir/hpsweep.db */
static int on_server;

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "hps_crash_");
  const char *url = getenv("HPS_TEST_STORE_URL");
  on_server = url && strstr(url, "://");
  if (on_server) snprintf(store, sizeof store, "%s", url);
  else snprintf(store, sizeof store, "%s/hpsweep.db", dir);
}

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
    execl(bin, bin, "run", spec, "-j", "2", "--quiet", "--db", store, (char *)NULL);
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

/* ---- the store as the checks read it (rs_store.h only: any backend) ---- */

typedef struct Tr {
  int64_t id, steps, rung, attempts;
  int idx;
  RsStatus status;
  double best;
  char *summary, *params;
} Tr;

typedef struct Ev {
  int64_t trial;
  char kind[16];
  char *detail;
} Ev;

/* A sweep's trials (by idx) and events (in the order they happened). */
typedef struct View {
  RsStore *st;
  int64_t sweep_id;
  Tr t[MAX_TRIALS];
  size_t nt;
  Ev *ev;
  size_t ne, cap;
} View;

static int view_trial(void *ctx, const RsTrial *t) {
  View *v = ctx;
  cr_assert_lt(v->nt, MAX_TRIALS);
  v->t[v->nt++] = (Tr){t->id, t->steps, t->rung, t->attempts, t->idx, t->status, t->best_metric,
                       strdup(t->summary ? t->summary : ""), strdup(t->params ? t->params : "")};
  return 0;
}

static int view_event(void *ctx, const RsEvent *e) {
  View *v = ctx;
  if (v->ne == v->cap) {
    v->cap = v->cap ? 2 * v->cap : 256;
    v->ev = realloc(v->ev, v->cap * sizeof *v->ev);
    cr_assert_not_null(v->ev);
  }
  Ev *x = &v->ev[v->ne++];
  x->trial = e->trial_id;
  snprintf(x->kind, sizeof x->kind, "%s", e->kind);
  x->detail = e->detail ? strdup(e->detail) : NULL;
  return 0;
}

static void view_free(View *v) {
  for (size_t i = 0; i < v->nt; i++) free(v->t[i].summary), free(v->t[i].params);
  for (size_t i = 0; i < v->ne; i++) free(v->ev[i].detail);
  free(v->ev);
  rs_store_close(v->st);
  memset(v, 0, sizeof *v);
}

/* The sweep `name` with n trials, read in one snapshot: 1, or 0 when there is none yet (killed
** before or while creating it: the next run creates it). An SQLite file is checked intact. */
static int view_load(View *v, const char *name, size_t n, int round) {
  memset(v, 0, sizeof *v);
  TrErr err = {0, ""};
  if (!on_server && access(store, F_OK) != 0) return 0;
  if (rs_store_open(store, RS_OPEN_READONLY, &v->st, &err)) return 0;
  if (!on_server) {
    sqlite3 *db;
    cr_assert_eq(sqlite3_open_v2(store, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char what[32];
    snprintf(what, sizeof what, "round %d", round);
    hps_assert_intact(db, what);
    sqlite3_close(db);
  }
  RsSweep sw;
  if (rs_sweep_get(v->st, name, &sw)) {
    view_free(v);
    return 0;
  }
  v->sweep_id = sw.id;
  rs_sweep_clear(&sw);
  cr_assert_eq(rs_store_snapshot_begin(v->st), TR_OK, "%s", rs_store_errmsg(v->st));
  cr_assert_eq(rs_trials_each(v->st, v->sweep_id, view_trial, v), TR_OK, "%s", rs_store_errmsg(v->st));
  cr_assert_eq(rs_sweep_events_each(v->st, v->sweep_id, NULL, view_event, v), TR_OK, "%s", rs_store_errmsg(v->st));
  rs_store_snapshot_end(v->st);
  if (v->nt != n) {
    view_free(v);
    return 0;
  }
  return 1;
}

/* Wait until the sweep `name` (n trials) has a trial claimed: a slow start (a sanitizer build on
** a busy machine) must not see every random kill land before the runner reached the store. */
static void await_started(const char *name, size_t n) {
  for (int i = 0; i < 6000; i++) {
    View v;
    int started = 0;
    if (view_load(&v, name, n, -1)) {
      for (size_t k = 0; k < v.nt; k++) started |= v.t[k].status != RS_PENDING;
      view_free(&v);
    }
    if (started) return;
    sleep_ms(20);
  }
  cr_assert_fail("sweep %s: no trial claimed within 120 s", name);
}

/* Events of trial id (-1: any trial) whose kind is one of kinds ("a|b|c"). */
static int ev_count(const View *v, int64_t trial, const char *kinds) {
  int n = 0;
  char pat[64];
  for (size_t i = 0; i < v->ne; i++) {
    snprintf(pat, sizeof pat, "|%s|", v->ev[i].kind);
    char all[128];
    snprintf(all, sizeof all, "|%s|", kinds);
    if ((trial < 0 || v->ev[i].trial == trial) && strstr(all, pat)) n++;
  }
  return n;
}

/* Trials with a status, and the most events of one trial among kinds. */
static int st_count(const View *v, RsStatus s) {
  int n = 0;
  for (size_t i = 0; i < v->nt; i++) n += v->t[i].status == s;
  return n;
}

static int ev_max_per_trial(const View *v, const char *kinds) {
  int most = 0;
  for (size_t i = 0; i < v->nt; i++) {
    int n = ev_count(v, v->t[i].id, kinds);
    if (n > most) most = n;
  }
  return most;
}

/* Rows of metric `name` of trial id; their steps' range into lo, hi. */
static size_t curve_len(const View *v, int64_t id, const char *name, int64_t *lo, int64_t *hi) {
  RsPoint *p;
  size_t n;
  cr_assert_eq(rs_metrics_read(v->st, id, name, &p, &n), TR_OK, "%s", rs_store_errmsg(v->st));
  if (lo) *lo = n ? p[0].step : -1;
  if (hi) *hi = n ? p[n - 1].step : -1;
  free(p);
  return n;
}

static void final_run(const char *spec, char *buf, size_t n);

/* What a completed trial must keep forever. */
typedef struct Done {
  int completed;
  double best;
  char summary[2048];
} Done;

/* Check the store and extend the record of completed trials (by idx). */
static void check(const View *v, Done *rec, int round) {
  cr_assert_leq(ev_max_per_trial(v, "complete"), 1, "round %d: a trial completed twice", round);
  for (size_t i = 0; i < v->nt; i++) {
    const Tr *t = &v->t[i];
    cr_assert(t->idx >= 0 && t->idx < N_TRIALS);
    int completed = t->status == RS_COMPLETED;
    Done *d = &rec[t->idx];
    if (d->completed) {
      cr_assert(completed, "round %d: completed trial %d became %s", round, t->idx, rs_status_name(t->status));
      cr_assert_eq(t->best, d->best, "round %d: trial %d changed its best", round, t->idx);
      cr_assert_str_eq(t->summary, d->summary, "round %d: trial %d", round, t->idx);
    } else if (completed) {
      cr_assert(!isnan(t->best), "round %d: trial %d completed without a metric", round, t->idx);
      d->completed = 1;
      d->best = t->best;
      snprintf(d->summary, sizeof d->summary, "%s", t->summary);
    }
  }
}

Test(sw_crash, sigkill_at_random_moments_loses_nothing_and_a_resume_finishes) {
  hps_put(dir, "crash.yaml", "name: crash\nmethod: grid\nparameters:\n"
          "  optimizer.lr:\n    values: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008, 0.009, 0.01, "
          "0.011, 0.012]\n"
          "  train.seed:\n    values: [1, 2]\n"
          "hpsweep:\n  max_retries: 20\n  base:\n"
          "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
          "    train: {batch_size: 4, max_steps: 100, eval_interval: 10, eval_batches: 2, log_interval: 5}\n");
  TrRng rng;
  tr_rng_seed(&rng, 20240601);
  static Done rec[N_TRIALS];
  memset(rec, 0, sizeof rec);
  int kills = 0, created = 0;
  View v;
  for (int round = 0; round < N_KILLS; round++) {
    pid_t pid = start("runs.log");
    if (round == 0) await_started("crash", N_TRIALS); /* then at random moments, from its start */
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
    if (!view_load(&v, "crash", N_TRIALS, round)) continue;
    created = 1;
    check(&v, rec, round);
    view_free(&v);
  }
  cr_assert(kills >= 20, "only %d of the runs were killed (the sweep finished too early)", kills);
  cr_assert(created);
  /* Resume to the end: orphaned workers finish or stop, expired leases are reclaimed. */
  static char buf[1 << 14];
  final_run("crash.yaml", buf, sizeof buf);
  cr_assert(view_load(&v, "crash", N_TRIALS, N_KILLS));
  check(&v, rec, N_KILLS);
  cr_assert_eq(st_count(&v, RS_COMPLETED), N_TRIALS, "%s", buf);
  cr_assert_eq(ev_count(&v, -1, "complete"), N_TRIALS);
  cr_assert(ev_count(&v, -1, "resume|reclaim") > 0, "no trial was ever resumed: the kills came too late");
  for (size_t i = 0; i < v.nt; i++) {
    cr_assert_eq(v.t[i].steps, 100, "trial %d", v.t[i].idx);
    /* Every curve is whole after all the restarts: one train_loss row per logged step. */
    cr_assert_eq(curve_len(&v, v.t[i].id, "train_loss", NULL, NULL), 21, "trial %d", v.t[i].idx);
  }
  view_free(&v);
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

/* The exit of runner pid, whose log is `log`: it must exit 0; its log into buf. */
static void expect_clean_exit(pid_t pid, const char *log, char *buf, size_t n) {
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  char path[400];
  snprintf(path, sizeof path, "%s/%s", dir, log);
  FILE *f = fopen(path, "r");
  buf[0] = '\0';
  if (f) {
    buf[fread(buf, 1, n - 1, f)] = '\0';
    fclose(f);
  }
  cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0, "%s: %s %d: %s", log, WIFEXITED(ws) ? "exit" : "signal",
            WIFEXITED(ws) ? WEXITSTATUS(ws) : WTERMSIG(ws), buf);
}

/* The last run, to the end: it must exit 0; its log into buf. */
static void final_run(const char *spec, char *buf, size_t n) {
  expect_clean_exit(start_spec("final.log", spec), "final.log", buf, n);
}

/* What must hold after any kill: the store intact, no trial completed or pruned twice, no
** promotion without a pause before it, no pause twice in a row, no trial leaving a final state. */
static void check_asha(const View *v, int round, unsigned char *final_state) {
  cr_assert_leq(ev_max_per_trial(v, "complete|prune"), 1, "round %d: a trial ended twice", round);
  for (size_t i = 0; i < v->nt; i++) {
    const char *prev = NULL; /* the trial's last pause or promote */
    for (size_t k = 0; k < v->ne; k++) {
      const Ev *e = &v->ev[k];
      if (e->trial != v->t[i].id || (strcmp(e->kind, "pause") && strcmp(e->kind, "promote"))) continue;
      cr_assert(!(prev && strcmp(prev, e->kind) == 0) && !(!prev && strcmp(e->kind, "promote") == 0),
                "round %d: a promotion applied twice, or a pause twice (trial %d)", round, v->t[i].idx);
      prev = e->kind;
    }
    RsStatus st = v->t[i].status;
    unsigned char now = st == RS_COMPLETED ? 1 : st == RS_PRUNED ? 2 : 0;
    int idx = v->t[i].idx;
    cr_assert(final_state[idx] == 0 || final_state[idx] == now, "round %d: trial %d left its final state for %s",
              round, idx, rs_status_name(st));
    final_state[idx] = now;
  }
}

Test(sw_crash, asha_sigkill_at_random_moments_then_resume_ends_each_trial_once_and_promotes_each_pause_once) {
  hps_put(dir, "asha.yaml", "name: asha\nmethod: grid\nparameters:\n"
          "  optimizer.lr:\n    values: [0.03, 0.1, 0.01, 0.3, 0.003, 0.001, 0.0003, 0.0001, 0.05, 0.02, 0.2, "
          "0.005, 0.04, 0.06, 0.008, 0.0008, 0.15, 0.002]\n"
          "hpsweep:\n  max_retries: 20\n"
          "  early_terminate: {type: asha, grace_period: 10, max_t: 90, reduction_factor: 3}\n  base:\n"
          "    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
          /* every step logged, so every step sleeps (HPS_TEST_STEP_DELAY_MS): the sweep outlasts the kills */
          "    train: {batch_size: 4, max_steps: 90, eval_interval: 10, eval_batches: 2, log_interval: 1}\n");
  TrRng rng;
  tr_rng_seed(&rng, 20261202);
  unsigned char final_state[18] = {0};
  int kills = 0, created = 0;
  View v;
  for (int round = 0; round < 18; round++) {
    pid_t pid = start_spec("runs.log", "asha.yaml");
    if (round == 0) await_started("asha", 18);
    kills += kill_at_random(pid, &rng, round);
    if (!view_load(&v, "asha", 18, round)) continue;
    created = 1;
    check_asha(&v, round, final_state);
    view_free(&v);
  }
  cr_assert(kills >= 14, "only %d of the runs were killed (the sweep finished too early)", kills);
  cr_assert(created);
  static char buf[1 << 14];
  final_run("asha.yaml", buf, sizeof buf);
  cr_assert(view_load(&v, "asha", 18, 99));
  check_asha(&v, 99, final_state);
  int completed = st_count(&v, RS_COMPLETED), pruned = st_count(&v, RS_PRUNED);
  cr_assert_eq(completed + pruned, 18, "%s", buf);
  cr_assert_geq(completed, 1);
  cr_assert_eq(ev_count(&v, -1, "complete"), completed);
  cr_assert_eq(ev_count(&v, -1, "prune"), pruned);
  cr_assert(ev_count(&v, -1, "resume|reclaim") > 0, "no trial was ever resumed: the kills came too late");
  for (size_t i = 0; i < v.nt; i++) {
    const Tr *t = &v.t[i];
    int p = t->status == RS_PRUNED;
    cr_assert_eq(ev_count(&v, t->id, "pause"), ev_count(&v, t->id, "promote") + p,
                 "trial %d: a pause not promoted, or promoted twice", t->idx);
    /* Completed trials have their whole curve after every restart: one val_loss per 10 steps. */
    if (!p) cr_assert(t->steps == 90 && curve_len(&v, t->id, "val_loss", NULL, NULL) == 9, "trial %d", t->idx);
    if (p) cr_assert_eq(t->steps, t->rung, "trial %d", t->idx);
  }
  view_free(&v);
}

/* A number after `"key": ` in JSON text s (NaN if absent). */
static double json_num(const char *s, const char *key) {
  char pat[64];
  snprintf(pat, sizeof pat, "\"%s\": ", key);
  const char *at = s ? strstr(s, pat) : NULL;
  return at ? strtod(at + strlen(pat), NULL) : NAN;
}

/* The object after `"params": ` in an exploit's detail, into buf (no nested objects in params). */
static const char *detail_params(const char *detail, char *buf, size_t n) {
  const char *at = detail ? strstr(detail, "\"params\": {") : NULL;
  cr_assert_not_null(at, "an exploit event without params: %s", detail ? detail : "(null)");
  at += strlen("\"params\": ");
  const char *end = strchr(at, '}');
  cr_assert_not_null(end);
  snprintf(buf, n, "%.*s", (int)(end - at + 1), at);
  return buf;
}

/* Trial id's events as "kind[@step] ..." into buf: what a failure shows. */
static const char *ev_story(const View *v, int64_t id, char *buf, size_t n) {
  size_t k = 0;
  buf[0] = '\0';
  for (size_t i = 0; i < v->ne && k < n; i++)
    if (v->ev[i].trial == id) {
      double step = json_num(v->ev[i].detail, "step");
      k += (size_t)snprintf(buf + k, n - k, isnan(step) ? "%s " : "%s@%.0f ", v->ev[i].kind, step);
    }
  return buf;
}

/* PBT: after any kill, no member was decided twice at one step (a copy applied once), none
** completed twice; the copies' lineage matches the stored params. */
static void check_pbt(const View *v, int round) {
  char story[2048];
  cr_assert_leq(ev_max_per_trial(v, "complete"), 1, "round %d: a member completed twice", round);
  for (size_t i = 0; i < v->ne; i++) {
    if (strcmp(v->ev[i].kind, "exploit")) continue;
    for (size_t k = i + 1; k < v->ne; k++)
      cr_assert(strcmp(v->ev[k].kind, "exploit") || v->ev[k].trial != v->ev[i].trial ||
                    json_num(v->ev[k].detail, "step") != json_num(v->ev[i].detail, "step"),
                "round %d: a copy applied twice (events: %s | %s | %s)", round,
                ev_story(v, v->ev[i].trial, story, sizeof story), v->ev[i].detail, v->ev[k].detail);
  }
  for (size_t i = 0; i < v->nt; i++) { /* a member's stored params are those of its last copy */
    const Ev *last = NULL;
    for (size_t k = 0; k < v->ne; k++)
      if (v->ev[k].trial == v->t[i].id && strcmp(v->ev[k].kind, "exploit") == 0) last = &v->ev[k];
    char p[512];
    if (last) cr_assert_str_eq(v->t[i].params, detail_params(last->detail, p, sizeof p),
                               "round %d: params and lineage disagree", round);
  }
}


/* After each copy, up to the member's next one, member t trained with the copy's lr (key lr_key in params). */
static void expect_lr_of_copies(const View *v, const Tr *t, const char *lr_key) {
  char story[2048];
  RsPoint *pt;
  size_t np;
  cr_assert_eq(rs_metrics_read(v->st, t->id, "lr", &pt, &np), TR_OK, "%s", rs_store_errmsg(v->st));
  for (size_t k = 0; k < v->ne; k++) {
    const Ev *e = &v->ev[k];
    if (e->trial != t->id || strcmp(e->kind, "exploit")) continue;
    double from = json_num(e->detail, "step"), to = INFINITY;
    for (size_t g = k + 1; g < v->ne; g++)
      if (v->ev[g].trial == t->id && strcmp(v->ev[g].kind, "exploit") == 0) {
        to = json_num(v->ev[g].detail, "step");
        break;
      }
    char p[512];
    double lr = json_num(detail_params(e->detail, p, sizeof p), lr_key);
    for (size_t i = 0; i < np; i++)
      if ((double)pt[i].step > from && (double)pt[i].step <= to)
        cr_assert_eq(pt[i].value, lr, "member %d step %lld: lr %.17g, the copy's %.17g (events: %s)", t->idx,
                     (long long)pt[i].step, pt[i].value, lr, ev_story(v, t->id, story, sizeof story));
  }
  free(pt);
}

/* ROUNDS runs of SPEC (sweep NAME, a PBT sweep of MEMBERS), each killed after MIN_MS + [0, SPAN_MS)
** ms (the first once a member runs): the runner with its workers (a copy's transaction cut
** anywhere), or the runner alone (its workers stop and record themselves). A worker killed alone
** would make its member failed, retried from step 0: a new run, not what these tests are about.
** check_pbt after each; how many runs were killed, *created set when the sweep's trials exist. */
static int pbt_kill_rounds(const char *spec, const char *name, int members, int rounds, uint64_t seed, long min_ms,
                           long span_ms, int *created) {
  TrRng rng;
  tr_rng_seed(&rng, seed);
  int kills = 0;
  View v;
  for (int round = 0; round < rounds; round++) {
    pid_t pid = start_spec("runs.log", spec);
    if (round == 0) await_started(name, (size_t)members);
    sleep_ms(min_ms + (long)tr_rng_below(&rng, (uint64_t)span_ms));
    kill(round % 2 ? -pid : pid, SIGKILL);
    int ws;
    cr_assert_eq(waitpid(pid, &ws, 0), pid);
    kills += WIFSIGNALED(ws);
    if (!view_load(&v, name, (size_t)members, round)) continue;
    *created = 1;
    check_pbt(&v, round);
    view_free(&v);
  }
  return kills;
}

/* pbt_kill_rounds, at least MIN_KILLS of them killed, then a run to the end (its output in buf),
** loaded into v and checked with check_pbt. */
static void pbt_kill_then_finish(View *v, const char *spec, const char *name, int members, int rounds, uint64_t seed,
                                 long min_ms, long span_ms, int min_kills, char *buf, size_t n) {
  int created = 0, kills = pbt_kill_rounds(spec, name, members, rounds, seed, min_ms, span_ms, &created);
  cr_assert(kills >= min_kills, "only %d of the runs were killed (the sweep finished too early)", kills);
  cr_assert(created);
  final_run(spec, buf, n);
  cr_assert(view_load(v, name, (size_t)members, 99));
  check_pbt(v, 99);
}

Test(sw_crash, pbt_sigkill_at_random_moments_then_resume_applies_each_copy_once) {
  hps_put(dir, "pbt.yaml", "name: pbt\nmethod: random\nparameters:\n"
             "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}\n"
             "hpsweep:\n  seed: 5\n  max_retries: 20\n"
             "  pbt: {population: 6, perturbation_interval: 10, quantile_fraction: 0.5, mutations: [optimizer.lr]}\n"
             "  base:\n    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
             "    schedule: {name: constant}\n"
             /* every step logged, so every step sleeps (HPS_TEST_STEP_DELAY_MS): the sweep outlasts the kills */
             "    train: {batch_size: 4, max_steps: 60, eval_interval: 10, eval_batches: 2, log_interval: 1}\n");
  static char buf[1 << 14];
  View v;
  pbt_kill_then_finish(&v, "pbt.yaml", "pbt", 6, 16, 20261203, 40, 400, 12, buf, sizeof buf);
  cr_assert_gt(ev_count(&v, -1, "exploit"), 0);
  cr_assert(ev_count(&v, -1, "resume|reclaim") > 0, "no member was ever resumed: the kills came too late");
  for (size_t i = 0; i < v.nt; i++) {
    const Tr *t = &v.t[i];
    cr_assert(t->status == RS_COMPLETED && t->steps == 60, "member %d: %s, %lld steps: %s", t->idx,
              rs_status_name(t->status), (long long)t->steps, buf);
    /* No lost or duplicated step: one lr row per step of every member. */
    int64_t lo, hi;
    cr_assert(curve_len(&v, t->id, "lr", &lo, &hi) == 60 && lo == 1 && hi == 60, "member %d", t->idx);
    expect_lr_of_copies(&v, t, "optimizer.lr");
    /* Every member was decided at every perturbation step below its end. */
    cr_assert_eq(t->rung, 50, "member %d", t->idx);
  }
  view_free(&v);
}

/* The first step after each copy of member t, when its row survived the kills, resumed from the
** copy's source (examples/pbt/pbt_toy.py reports it as resumed_from). */
static void expect_resumed_from_source(const View *v, const Tr *t) {
  RsPoint *pt;
  size_t np;
  cr_assert_eq(rs_metrics_read(v->st, t->id, "resumed_from", &pt, &np), TR_OK, "%s", rs_store_errmsg(v->st));
  for (size_t k = 0; k < v->ne; k++) {
    const Ev *e = &v->ev[k];
    if (e->trial != t->id || strcmp(e->kind, "exploit")) continue;
    for (size_t i = 0; i < np; i++)
      if ((double)pt[i].step == json_num(e->detail, "step") + 1)
        cr_assert_eq(pt[i].value, json_num(e->detail, "source"), "member %d step %lld", t->idx,
                     (long long)pt[i].step);
  }
  free(pt);
}

/* PBT of a program (docs/pbt.md "Programs"): the runner, or it with its workers, killed at random
** moments, between a copy's transaction and the copy of the run directory too; then a resume. Each
** copy applied once, and a member that reports its first step after a copy resumed from the
** copy's source (examples/pbt/pbt_toy.py reports who trained the checkpoint it loaded). */
Test(sw_crash, pbt_program_sigkill_at_random_moments_then_resume_takes_each_copy_once) {
  char spec[1024];
  snprintf(spec, sizeof spec, "name: ppbt\nprogram: %s/examples/pbt/pbt_toy.py\nmethod: random\n"
           "metric: {name: loss, goal: minimize}\nparameters:\n"
           "  lr: {distribution: log_uniform_values, min: 0.001, max: 0.5}\n  steps: {value: 26}\n"
           "  sleep: {value: 0.08}\nhpsweep:\n  seed: 4\n  max_retries: 20\n  program_resumes: true\n"
           "  pbt: {population: 4, perturbation_interval: 4, quantile_fraction: 0.5, mutations: {lr: {}}}\n",
           HPS_SOURCE_ROOT);
  hps_put(dir, "ppbt.yaml", spec);
  static char buf[1 << 14];
  View v;
  pbt_kill_then_finish(&v, "ppbt.yaml", "ppbt", 4, 10, 20261204, 100, 600, 6, buf, sizeof buf);
  cr_assert_eq(st_count(&v, RS_COMPLETED), 4, "%s", buf);
  cr_assert_gt(ev_count(&v, -1, "exploit"), 0);
  for (size_t i = 0; i < v.nt; i++) {
    cr_assert_eq(v.t[i].rung, 24, "member %d: decided once at every step", v.t[i].idx);
    expect_resumed_from_source(&v, &v.t[i]);
    /* After each copy, up to the member's next one, it trained with the copy's lr. */
    expect_lr_of_copies(&v, &v.t[i], "lr");
  }
  view_free(&v);
}

/* A quick program: loss = x, reported once after 0.3 s (200 of them outlast the 24 kills, same-host
** reclaims being at once); then it notes "TRIAL ATTEMPT" in the file %s. */
#define HOSTS_SH                                                                                 \
  "#!/bin/sh\n"                                                                                  \
  "x=; for a in \"$@\"; do case $a in --x=*) x=${a#--x=};; esac; done\n"                         \
  "sleep 0.3\n"                                                                                  \
  "echo \"{\\\"step\\\": 0, \\\"loss\\\": $x}\" >&$HPSWEEP_METRICS_FD\n"                         \
  "echo \"$HPSWEEP_TRIAL_ID $HPSWEEP_ATTEMPT\" >> '%s'\n"
#define N_HOSTS 4
#define N_HOST_TRIALS 200

/* Trial id's runs that got to their end (done.log), and how many of them had attempt `attempt`. */
static int runs_done(const char *log, int64_t id, int attempt, int *of_attempt) {
  FILE *f = fopen(log, "r");
  int n = 0;
  *of_attempt = 0;
  long long t;
  int a;
  while (f && fscanf(f, "%lld %d", &t, &a) == 2)
    if (t == id) n++, *of_attempt += a == attempt;
  if (f) fclose(f);
  return n;
}

Test(sw_crash, four_hosts_killed_and_restarted_at_random_complete_every_trial_exactly_once) {
  char done[400], sh[1024];
  snprintf(done, sizeof done, "%s/done.log", dir);
  snprintf(sh, sizeof sh, HOSTS_SH, done);
  cr_assert_eq(chmod(hps_put(dir, "hosts.sh", sh), 0755), 0);
  static char spec[4096];
  int k = snprintf(spec, sizeof spec, "name: hosts\nprogram: hosts.sh\ncommand: [\"${program}\", \"${args}\"]\n"
                                      "method: grid\nmetric: {name: loss, goal: minimize}\n"
                                      "hpsweep: {max_retries: 20}\nparameters:\n  x: {values: [");
  for (int i = 0; i < N_HOST_TRIALS; i++) k += snprintf(spec + k, sizeof spec - (size_t)k, "%s%d", i ? ", " : "", i);
  snprintf(spec + k, sizeof spec - (size_t)k, "]}\n");
  hps_put(dir, "hosts.yaml", spec);
  /* Four runners, each in its own process group (a host); a random one loses its whole group
  ** (runner, workers, programs) and is started again, 24 times. */
  pid_t host[N_HOSTS];
  char log[N_HOSTS][16];
  for (int h = 0; h < N_HOSTS; h++) {
    snprintf(log[h], sizeof log[h], "host%d.log", h);
    host[h] = start_spec(log[h], "hosts.yaml");
  }
  TrRng rng;
  tr_rng_seed(&rng, 20261204);
  int kills = 0;
  await_started("hosts", N_HOST_TRIALS);
  for (int round = 0; round < 24; round++) {
    sleep_ms(100 + (long)tr_rng_below(&rng, 400));
    int h = (int)tr_rng_below(&rng, N_HOSTS);
    kill(-host[h], SIGKILL);
    int ws;
    cr_assert_eq(waitpid(host[h], &ws, 0), host[h]);
    kills += WIFSIGNALED(ws);
    host[h] = start_spec(log[h], "hosts.yaml");
  }
  static char buf[1 << 14];
  for (int h = 0; h < N_HOSTS; h++) expect_clean_exit(host[h], log[h], buf, sizeof buf);
  cr_assert(kills >= 20, "only %d of the runners were killed (the sweep finished too early)", kills);
  View v;
  cr_assert(view_load(&v, "hosts", N_HOST_TRIALS, 0), "the sweep is missing or not whole");
  cr_assert_eq(st_count(&v, RS_COMPLETED), N_HOST_TRIALS, "%s", buf);
  cr_assert(ev_count(&v, -1, "reclaim") > 0, "no trial was ever reclaimed: the kills came too late");
  for (size_t i = 0; i < v.nt; i++) {
    const Tr *t = &v.t[i];
    /* Completed once, with its own value; one claim event per attempt. */
    cr_assert_eq(ev_count(&v, t->id, "complete"), 1, "trial %d", t->idx);
    cr_assert_eq(t->best, (double)t->idx, "trial %d has another trial's value", t->idx);
    cr_assert_eq(ev_count(&v, t->id, "claim|reclaim|resume|retry"), t->attempts, "trial %d", t->idx);
    /* The completion recorded is its last attempt's run, which ran to its end once; runs killed
    ** after their end but before the record are earlier attempts. */
    int last = 0;
    int runs = runs_done(done, t->id, (int)t->attempts, &last);
    cr_assert_eq(last, 1, "trial %d: attempt %lld ran to its end %d times", t->idx, (long long)t->attempts, last);
    cr_assert_leq(runs, t->attempts, "trial %d: more runs than attempts", t->idx);
  }
  view_free(&v);
}
