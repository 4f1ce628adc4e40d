/* sw_sched.c: the coordinator (claims, forks, leases, reaping) and the worker
** process (tr_run with store hooks). See sw_sched.h for the contract. */
#include "sw_sched.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sw_command.h"
#include "sw_infer.h"
#include "sw_pbt.h"
#include "sw_program.h"
#include "sw_propose.h"
#include "sw_prune.h"
#include "sw_rundir.h"
#include "tr_alloc.h"
#include "tr_blas.h"
#include "tr_ckpt.h"
#include "tr_os.h"
#include "tr_run.h"

/* Worker -> coordinator lines: anything else on the pipe is a log line. */
#define TAG_PROGRESS "@hps P "   /* step total loss tokens_per_second */
#define TAG_ROWS "@hps R "       /* metric rows written */
#define TAG_DONE "@hps D"        /* a serving worker recorded its trial and waits for the next */
#define LINE_MAX_BYTES 1024      /* longer lines are cut */
#define PROGRESS_EVERY 0.1       /* seconds between progress lines of a worker */
#define TICK_EVERY 0.25          /* seconds between TICK events */
#define BACKOFF_MIN 0.25
#define BACKOFF_MAX 5.0
#define SW_STOP_GRACE 10.0       /* seconds workers get to stop after a fatal error, then SIGKILL */

/* Worker exit codes. Without a recorded result the coordinator records `failed`,
** except for WEXIT_STORE (the store, or the disk under a checkpoint, failed, not the trial:
** `interrupted`, and fatal). */
enum { WEXIT_OK = 0, WEXIT_STORE = 3, WEXIT_SETUP = 4 };

/* HPS_RECLAIM_MAX (a test hook, like HPS_LEASE_SECONDS): the store's reclaim cap; the owner our
** claims record (trials.owner, for the same-host reclaim). */
static void store_tune(RsStore *st, const char *owner) {
  const char *e = getenv("HPS_RECLAIM_MAX");
  if (st && e && *e) rs_store_set_reclaim_max(st, atoi(e));
  rs_store_set_owner(st, owner);
}

double sw_sched_default_lease(void) {
  const char *e = getenv("HPS_LEASE_SECONDS");
  if (e && *e) {
    char *end;
    double v = strtod(e, &end);
    if (*end == '\0' && v > 0 && v < 1e6) return v;
  }
  return SW_LEASE_SECONDS;
}

/* ---- paths ---- */

int sw_sched_runs_dir(const char *db_path, const char *sweep, char *buf, size_t n) {
  const char *slash = strrchr(db_path, '/');
  int dirlen = slash ? (int)(slash - db_path) : 1;
  const char *dir = slash ? db_path : ".";
  const char *base = slash ? slash + 1 : db_path;
  if (slash == db_path) dirlen = 0; /* "/x.db": root */
  if (strstr(db_path, "://")) dir = ".", dirlen = 1, base = "hpsweep"; /* a server's URL: ./hpsweep.runs/ */
  /* Injective, so two sweeps never share a directory ("a/b" and "a_b" once did): bytes
  ** outside [A-Za-z0-9._-] and '%' become %XX, and so does every byte of "." and "..". */
  char safe[768];
  size_t k = 0;
  int dots = strcmp(sweep, ".") == 0 || strcmp(sweep, "..") == 0;
  for (const unsigned char *s = (const unsigned char *)sweep; *s; s++) {
    int ch = *s;
    int ok = !dots && ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                       ch == '.' || ch == '_' || ch == '-');
    if (k + 4 >= sizeof safe) return TR_EINVAL;
    if (ok) safe[k++] = (char)ch;
    else k += (size_t)snprintf(safe + k, sizeof safe - k, "%%%02X", ch);
  }
  safe[k] = '\0';
  if (k == 0) snprintf(safe, sizeof safe, "%%00");
  int w = snprintf(buf, n, "%.*s/%s.runs/%s", dirlen, dir, base, safe);
  return (w < 0 || (size_t)w >= n) ? TR_EINVAL : TR_OK;
}

/* ---- preparing the sweep ---- */

/* Trial i's row, its config's JSON rendered into one reused buffer: inserting 100,000
** trials never holds 100,000 JSON texts. */
typedef struct TrialJson {
  const SwTrial *trials;
  char *buf;
  size_t cap;
} TrialJson;

static int trial_def(void *ctx, size_t i, RsTrialDef *def) {
  TrialJson *tj = ctx;
  const SwTrial *t = &tj->trials[i];
  size_t need = tr_config_to_json(&t->config, tj->buf, tj->cap) + 1;
  if (need > tj->cap) {
    char *p = tr_realloc(tj->buf, 2 * need);
    if (!p) return TR_ENOMEM;
    tj->buf = p, tj->cap = 2 * need;
    tr_config_to_json(&t->config, tj->buf, tj->cap);
  }
  *def = (RsTrialDef){(int)t->index, t->hash_hex, tj->buf, t->params_json, t->config.train.seed};
  return TR_OK;
}

int sw_sched_prepare(RsStore *st, const SwSpec *spec, const SwTrial *trials, size_t n,
                     int64_t *sweep_id, size_t *n_new, TrErr *err) {
  char hash[17];
  int bayes = sw_spec_method(spec) == SW_METHOD_BAYES;
  if (n_new) *n_new = 0;
  if (bayes) { /* no trial up front: proposed when a worker is free (sw_propose.h) */
    int rc = sw_bayes_spec_hash(spec, hash, err);
    if (rc) return rc;
  } else {
    sw_sweep_hash(spec, trials, n, hash);
  }
  uint64_t seed = sw_spec_seed(spec);
  int rc = rs_sweep_upsert(st, sw_spec_name(spec), sw_spec_text(spec), hash, sw_spec_method_label(spec),
                           sw_spec_metric(spec),
                           sw_goal_name(sw_spec_goal(spec)), (int64_t)seed,
                           sw_task_name(sw_spec_task(spec)), sweep_id);
  if (rc) {
    if (rc == TR_EINVAL)
      return tr_err_set(err, rc, "%s (the trials of sweep '%s' changed: give the spec a new name)",
                        rs_store_errmsg(st), sw_spec_name(spec));
    return tr_err_set(err, rc, "%s", rs_store_errmsg(st));
  }
  if (bayes) return TR_OK;
  TrialJson tj = {trials, NULL, 0};
  rc = rs_trials_insert_each(st, *sweep_id, n, trial_def, &tj, n_new);
  free(tj.buf);
  if (rc) return tr_err_set(err, rc, "%s", rs_store_errmsg(st));
  return TR_OK;
}

/* ---- the worker process ---- */

static volatile sig_atomic_t worker_stop; /* the runner stops (SIGINT, SIGTERM, its death) */
static volatile sig_atomic_t trial_stop;  /* stop this program trial: worker_stop, or early termination */
static volatile sig_atomic_t worker_signalled; /* worker_stop came from a signal, not from a PBT decision */

static void worker_on_signal(int sig) {
  (void)sig;
  worker_stop = 1;
  trial_stop = 1;
  worker_signalled = 1;
}

static void write_all(int fd, const char *s, size_t n) {
  while (n > 0) {
    ssize_t w = write(fd, s, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      return; /* EPIPE: the coordinator is gone; the run goes on and records itself */
    }
    s += w;
    n -= (size_t)w;
  }
}

typedef struct Worker {
  RsStore *st;
  RsMetricBuf mb;
  const RsClaim *cl;
  int fd;
  int lost;             /* the claim was taken from us: write nothing more */
  int store_failed;     /* a store write failed for another reason */
  char store_msg[TR_ERR_MSG_MAX];
  int64_t rows, total_steps;
  double last_progress, tps;
  int crash_sig;        /* fault injection: raise at the first step */
  long delay_ms;        /* fault injection: slow steps */
  int old_removed;      /* the checkpoint we resumed from was deleted */
  const char *resume_link; /* our link to it */
  /* early termination (SwSchedConfig.early_terminate) */
  const SwEarlyTerminate *et; /* NULL: off */
  const char *metric;
  int maximize, can_pause;
  int et_action;        /* SW_KEEP, or what was decided: SW_PRUNE (applied) or SW_PAUSE (to apply) */
  int64_t et_step;      /* the step of that decision: rows after it are not recorded */
  int64_t ckpt_step;    /* the step of the last checkpoint recorded, -1 none */
  int shared_store;     /* st is the serving worker's (worker_programs): never closed here */
  /* population-based training (SwSchedConfig.pbt_spec) */
  SwPbtJudge *pbt;      /* NULL: not PBT */
  SwPbtAction pbt_action; /* applied at the last perturbation step: PAUSE or EXPLOIT stop the run */
  const char *runs_dir;
} Worker;

static void worker_store_fail(Worker *w, int rc);
static void worker_on_log(void *ud, const char *line);

/* The trial's writes are over: its metric buffer freed, its store closed unless shared. */
static void worker_release(Worker *w) {
  rs_metricbuf_deinit(&w->mb);
  if (!w->shared_store) rs_store_close(w->st);
  w->st = NULL;
}

/* ---- early termination in the worker ---- */

static void json_num(char *buf, size_t n, double v) {
  if (isfinite(v)) snprintf(buf, n, "%.17g", v);
  else snprintf(buf, n, "null");
}

/* rs_trial_judge's callback: sw_prune_judge's verdict as the store's. A pause the trial cannot
** take (a program that does not resume by itself) keeps it running. */
static int worker_judge(void *ctx, const RsCurve *curves, size_t n, size_t self, RsVerdict *out) {
  const Worker *w = ctx;
  SwVerdict v;
  sw_prune_judge(w->et, w->maximize, curves, n, self, &v);
  memset(out, 0, sizeof *out);
  out->action = v.action == SW_PRUNE                  ? RS_VERDICT_PRUNE
                : v.action == SW_PAUSE && w->can_pause ? RS_VERDICT_PAUSE
                                                       : RS_VERDICT_KEEP;
  out->rung = v.at;
  snprintf(out->reason, sizeof out->reason, "%s", v.reason);
  char th[32], val[32];
  json_num(th, sizeof th, v.threshold);
  json_num(val, sizeof val, v.value);
  snprintf(out->detail, sizeof out->detail, "{\"%s\": %lld, \"threshold\": %s, \"n\": %zu, \"value\": %s}",
           w->et->type == SW_ET_WANDB ? "band" : w->et->type == SW_ET_MEDIAN ? "step" : "rung", (long long)v.at, th,
           v.n, val);
  return TR_OK;
}

/* The claim's promotion hook (rs_trial_claim_promoting). */
static long sched_promote(void *ctx, const RsCurve *curves, size_t n, int64_t *to_step) {
  const SwSchedConfig *c = ctx;
  return sw_prune_promote(c->early_terminate, c->maximize, curves, n, to_step);
}

/* PBT's promotion hook: the paused member furthest behind. */
static long sched_pbt_promote(void *ctx, const RsCurve *curves, size_t n, int64_t *to_step) {
  (void)ctx;
  long i = sw_pbt_promote(curves, n);
  if (i >= 0 && to_step) *to_step = curves[i].checkpoint_step;
  return i;
}

/* A new value of the sweep metric was buffered: flush (the judgment reads the store) and
** judge. Returns 1 when the run must stop at this step (pruned, or to be paused). */
static int worker_et_check(Worker *w, int64_t step, double value) {
  if (!w->et || w->et_action != SW_KEEP || !isfinite(value)) return 0;
  int rc = rs_metricbuf_flush(&w->mb);
  RsVerdict v;
  int applied = 0;
  if (rc == TR_OK) rc = rs_trial_judge(w->st, w->cl->trial_id, w->cl->claim_token, worker_judge, w, &v, &applied);
  if (rc) {
    worker_store_fail(w, rc);
    return 1;
  }
  if (v.action == RS_VERDICT_KEEP || (v.action == RS_VERDICT_PRUNE && !applied)) return 0;
  w->et_action = v.action == RS_VERDICT_PRUNE ? SW_PRUNE : SW_PAUSE;
  w->et_step = step;
  worker_on_log(w, v.reason);
  return 1;
}

/* After a row of `step` was decided on: may it still be recorded? Rows at the step of a
** pause are (the resumed run starts after it); after a prune, or past the step, none. */
static int worker_et_drops(const Worker *w, int64_t step) {
  return w->et_action == SW_PRUNE || (w->et_action == SW_PAUSE && step > w->et_step);
}

/* The run stopped for a pause at et_step: its checkpoint there is recorded (the trainer's, or
** for a program its run directory); judge again, which now applies the pause. Returns 1 when
** the trial is paused (or pruned meanwhile), 0 when the verdict changed: record the run as usual. */
static int worker_et_pause(Worker *w, const char *program_dir) {
  int rc = TR_OK;
  if (program_dir) {
    rc = rs_metricbuf_flush(&w->mb);
    if (rc == TR_OK) rc = rs_trial_set_checkpoint(w->st, w->cl->trial_id, w->cl->claim_token, program_dir, w->et_step);
    if (rc == TR_OK) w->ckpt_step = w->et_step;
  }
  if (rc) {
    worker_store_fail(w, rc);
    return 1;
  }
  if (w->ckpt_step != w->et_step) return 0; /* no checkpoint there (a save failed): record the run as usual */
  RsVerdict v;
  int applied = 0;
  rc = rs_trial_judge(w->st, w->cl->trial_id, w->cl->claim_token, worker_judge, w, &v, &applied);
  if (rc) {
    worker_store_fail(w, rc);
    return 1;
  }
  return applied;
}

static void worker_store_fail(Worker *w, int rc) {
  if (rc == RS_LOST) {
    w->lost = 1;
    return;
  }
  if (!w->store_failed) snprintf(w->store_msg, sizeof w->store_msg, "%s", rs_store_errmsg(w->st));
  w->store_failed = 1;
}

static int worker_on_metric(void *ud, const TrMetric *m) {
  Worker *w = ud;
  if (w->lost || w->store_failed) return 1;
  if (w->et_action != SW_KEEP && worker_et_drops(w, m->step)) return 1;
  int rc = rs_metricbuf_add(&w->mb, m->step, m->tokens, m->seconds, m->name, m->value);
  if (rc) {
    worker_store_fail(w, rc);
    return 1;
  }
  w->rows++;
  if (w->et_action != SW_KEEP) return 1; /* the rest of the decision's step, then stop */
  if (strcmp(m->name, w->metric) == 0 && worker_et_check(w, m->step, m->value)) return 1;
  if (strcmp(m->name, "tokens_per_second") == 0) w->tps = m->value;
  if (strcmp(m->name, "train_loss") == 0) {
    if (w->crash_sig) { /* as a real crash would: default action (not a sanitizer's handler) */
      signal(w->crash_sig, SIG_DFL);
      raise(w->crash_sig);
    }
    if (w->delay_ms > 0) {
      struct timespec ts = {w->delay_ms / 1000, (w->delay_ms % 1000) * 1000000L};
      while (nanosleep(&ts, &ts) != 0 && errno == EINTR && !worker_stop) {
      }
    }
    double now = tr_clock_mono();
    if (now - w->last_progress >= PROGRESS_EVERY) {
      char line[160];
      int k = snprintf(line, sizeof line, TAG_PROGRESS "%lld %lld %.9g %.6g\n", (long long)m->step,
                       (long long)w->total_steps, m->value, w->tps);
      if (k > 0 && (size_t)k < sizeof line) write_all(w->fd, line, (size_t)k);
      w->last_progress = now;
    }
  }
  return 0;
}

static void worker_on_log(void *ud, const char *line) {
  Worker *w = ud;
  char buf[LINE_MAX_BYTES + 1];
  size_t n = strlen(line);
  if (n >= sizeof buf) { /* the coordinator cuts it anyway */
    write_all(w->fd, line, n);
    write_all(w->fd, "\n", 1);
    return;
  }
  memcpy(buf, line, n); /* one write: one wake-up of the coordinator */
  buf[n] = '\n';
  write_all(w->fd, buf, n + 1);
}

/* PBT: the checkpoint at `step` as the member's file for that step (sw_pbt.h), replaced
** atomically (a link, then a rename): other members copy it; no later save rewrites it. */
static int pbt_link(Worker *w, const char *path, int64_t step) {
  char dst[TR_PATH_MAX + 64], tmp[TR_PATH_MAX + 96];
  if (sw_pbt_ckpt_path(w->runs_dir, w->cl->trial_id, step, 0, dst, sizeof dst)) return TR_EINVAL;
  char *slash = strrchr(dst, '/');
  *slash = '\0';
  int rc = tr_mkdirs(dst) ? TR_EIO : TR_OK;
  *slash = '/';
  snprintf(tmp, sizeof tmp, "%s.%ld.tmp", dst, (long)getpid());
  unlink(tmp);
  if (rc || link(path, tmp) != 0 || rename(tmp, dst) != 0) {
    char line[TR_PATH_MAX + 200];
    snprintf(line, sizeof line, "cannot keep the PBT checkpoint %.1100s: %s", dst, strerror(errno));
    worker_on_log(w, line);
    unlink(tmp);
    return TR_EIO;
  }
  return TR_OK;
}

/* PBT: judge the member at its checkpoint step (arriving there: it may yield). A pause or a
** copy applied stops this run (worker_stop); the caller resumes a copy with its new config. */
static void pbt_check(Worker *w, int64_t step, int arriving) {
  SwPbtJudge *J = w->pbt;
  if (step <= 0 || step % J->pbt->interval || step >= w->total_steps) return;
  J->step = step;
  J->arriving = arriving;
  RsVerdict v;
  int applied = 0;
  int rc = rs_trial_judge(w->st, w->cl->trial_id, w->cl->claim_token, sw_pbt_judge, J, &v, &applied);
  if (rc) { /* the store, or the explore (a config the trainer refuses: then its message) */
    worker_store_fail(w, rc);
    if (J->err.code && !w->lost) snprintf(w->store_msg, sizeof w->store_msg, "%s", J->err.msg);
    worker_stop = 1;
    return;
  }
  if (!applied || v.action == RS_VERDICT_KEEP || (v.action == RS_VERDICT_EXPLOIT && v.source_trial <= 0)) return;
  w->pbt_action = v.action == RS_VERDICT_PAUSE ? SW_PBT_PAUSE : SW_PBT_EXPLOIT;
  worker_on_log(w, v.reason);
  worker_stop = 1;
}

/* The rows up to a checkpoint are in the store before its file is: a kill between the file and its
** record leaves a newer checkpoint whose curve a resume finds complete (worker_resume_scan). */
static void worker_before_checkpoint(void *ud, int64_t step) {
  Worker *w = ud;
  (void)step;
  if (w->lost || w->store_failed) return;
  int rc = rs_metricbuf_flush(&w->mb);
  if (rc) worker_store_fail(w, rc);
}

/* HPS_TEST_CRASH_AFTER_SAVE=STEP: the runner and this worker die right after the checkpoint of STEP is
** in place, before it is recorded (the crash window a reclaim finds the newest checkpoint for). */
static void crash_after_save(int64_t step) {
  const char *e = getenv("HPS_TEST_CRASH_AFTER_SAVE");
  if (!e || !*e || strtoll(e, NULL, 10) != step) return;
  kill(getppid(), SIGKILL);
  raise(SIGKILL);
}

static void worker_on_checkpoint(void *ud, const char *path, int64_t step) {
  Worker *w = ud;
  crash_after_save(step);
  if (w->lost || w->store_failed) return;
  if (w->pbt && w->pbt_action != SW_PBT_NONE) return; /* the stopped run's last save: the decision stands */
  if (w->pbt && pbt_link(w, path, step)) { /* the disk, not the trial: interrupted, and the runner stops */
    snprintf(w->store_msg, sizeof w->store_msg, "cannot keep the PBT checkpoint of step %lld", (long long)step);
    w->store_failed = 1;
    worker_stop = 1;
    return;
  }
  if (w->et_action == SW_PRUNE) { /* the trainer's final save: a pruned trial never resumes */
    unlink(path);
    return;
  }
  /* Metrics up to the checkpoint go first: a resume keeps rows <= step and must find them. */
  int rc = rs_metricbuf_flush(&w->mb);
  if (rc == TR_OK) rc = rs_trial_set_checkpoint(w->st, w->cl->trial_id, w->cl->claim_token, path, step);
  if (rc) {
    worker_store_fail(w, rc);
    return;
  }
  w->ckpt_step = step;
  if (w->pbt) { /* other members may copy the files: none is removed during the sweep */
    pbt_check(w, step, 1);
    return;
  }
  /* The claim we resumed from is superseded now: remove its file (and its attempt directory). */
  const char *old = w->cl->checkpoint;
  if (old && !w->old_removed && strcmp(old, path) != 0) {
    if (w->resume_link) unlink(w->resume_link);
    unlink(old);
    char dir[TR_PATH_MAX + 32];
    snprintf(dir, sizeof dir, "%s", old);
    char *slash = strrchr(dir, '/');
    if (slash) *slash = '\0', rmdir(dir);
  }
  w->old_removed = 1;
}

/* "IDX:SIG[:ATTEMPT]": the signal to raise in this trial, or 0. */
static int crash_signal(int idx, int attempt) {
  const char *e = getenv("HPS_TEST_CRASH");
  if (!e || !*e) return 0;
  int i = -1, sig = 0, att = 0;
  int k = sscanf(e, "%d:%d:%d", &i, &sig, &att);
  if (k < 2 || i != idx || sig <= 0 || sig >= 65) return 0;
  if (k == 3 && att != attempt) return 0;
  return sig;
}

/* The sweep metric's final and best values, from the stored curve (it spans
** every segment of a resumed run), else from the run's own summary. */
static void worker_metric(Worker *w, const char *metric, int maximize, const TrRunResult *res,
                          RsTrialResult *out) {
  out->final_metric = NAN;
  out->best_metric = NAN;
  out->best_step = -1;
  RsPoint *pts = NULL;
  size_t n = 0;
  if (rs_metrics_read(w->st, w->cl->trial_id, metric, &pts, &n) == TR_OK) {
    for (size_t i = 0; i < n; i++) {
      double v = pts[i].value;
      out->final_metric = v;
      if (!isfinite(v)) continue;
      if (isnan(out->best_metric) || (maximize ? v > out->best_metric : v < out->best_metric)) {
        out->best_metric = v;
        out->best_step = pts[i].step;
      }
    }
  }
  free(pts);
  if (n > 0) return;
  if (strcmp(metric, "val_loss") == 0) {
    out->final_metric = res->final_val_loss;
    out->best_metric = res->best_val_loss;
    out->best_step = isnan(res->best_val_loss) ? -1 : res->best_step;
  } else if (strcmp(metric, "train_loss") == 0) {
    out->final_metric = res->final_train_loss;
  }
}

/* Built-in trainer trials (not programs, samples or PBT members) resume from the newest valid
** checkpoint in their run directory: their claims keep the metrics (the worker cuts them there). */
static int scan_checkpoints(const SwSchedConfig *c) { return !c->program && !c->sample_checkpoint && !c->pbt_spec; }

/* Take the claimed checkpoint for ourselves: a hard link in our own directory
** holds that very file (saves replace files by rename, never rewrite them), so a
** late save by a worker that lost the trial cannot change what we resume from;
** and it must hold the step the store recorded with it (the curve ends there). */
static int pin_file(const char *ckpt, int64_t want, const char *dir, char *out, size_t n, TrErr *err) {
  int k = snprintf(out, n, "%s/resume.bin", dir);
  if (k < 0 || (size_t)k >= n) return tr_err_set(err, TR_EINVAL, "%s: path too long", dir);
  unlink(out);
  if (link(ckpt, out) != 0)
    return tr_err_set(err, TR_EIO, "%s: %s", ckpt, strerror(errno));
  TrCkpt ck;
  int rc = tr_ckpt_load(out, &ck, err);
  if (rc) return rc;
  int64_t step = ck.step;
  tr_ckpt_deinit(&ck);
  if (step != want)
    return tr_err_set(err, TR_EFORMAT, "%s holds step %lld, the database step %lld", ckpt, (long long)step,
                      (long long)want);
  return TR_OK;
}

static int pin_checkpoint(const RsClaim *cl, const char *dir, char *out, size_t n, TrErr *err) {
  return pin_file(cl->checkpoint, cl->checkpoint_step, dir, out, n, err);
}

/* The checkpoint the previous claim's run left in its attempt directory (RUNS/HASH/ATTEMPT/ckpt.bin: the
** run a reclaim or a resume takes over), if it loads (magic, version, sizes, checksum) and was made with
** this config (tr_ckpt_config_hash): its path into out and its step, else *step = -1. A kill between a
** save's rename and its database record leaves it newer than the recorded one. Older attempts are not
** looked at: one of them may be a failed run a retry started over from. */
static void previous_checkpoint(const char *runs_dir, const char *hash, int attempt, const TrConfig *cfg, char *out,
                                size_t n, int64_t *step) {
  *step = -1;
  int k = snprintf(out, n, "%s/%s/%d/ckpt.bin", runs_dir, hash, attempt);
  TrCkpt ck;
  TrErr err;
  if (attempt < 1 || k < 0 || (size_t)k >= n || access(out, R_OK) != 0 || tr_ckpt_load(out, &ck, &err) != TR_OK)
    return;
  if (ck.config_hash == tr_ckpt_config_hash(cfg)) *step = ck.step;
  tr_ckpt_deinit(&ck);
}

/* Checkpoint temporaries that workers killed mid-save (kill -9, OOM) left in the
** trial's attempt directories, up to a whole checkpoint each. We hold the claim; a
** worker that lost it and still saves keeps its temporary locked, and it stays. */
static void trial_temps_remove(const char *runs_dir, const char *hash) {
  char p[TR_PATH_MAX + 300];
  snprintf(p, sizeof p, "%s/%s", runs_dir, hash);
  DIR *d = opendir(p);
  if (!d) return;
  struct dirent *e;
  while ((e = readdir(d)))
    if (e->d_name[0] != '.') {
      snprintf(p, sizeof p, "%s/%s/%s", runs_dir, hash, e->d_name);
      tr_ckpt_temps_remove(p); /* -1 for a non-directory: nothing to do */
    }
  closedir(d);
}

typedef struct WorkerArgs {
  const SwSchedConfig *c;
  const SwTrial *trial;
  const RsClaim *cl;
  int fd;
  int threads;
  pid_t parent;
} WorkerArgs;

/* A fresh worker process: stop on Ctrl-C, SIGTERM or the coordinator's death; all output to the pipe. */
static void worker_process_setup(const WorkerArgs *a) {
  /* The coordinator's death (even kill -9) stops us like Ctrl-C would. */
  prctl(PR_SET_PDEATHSIG, SIGTERM);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = worker_on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  signal(SIGPIPE, SIG_IGN);
  signal(SIGXFSZ, SIG_IGN); /* over `ulimit -f`: EFBIG, an error like any other */
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  if (getppid() != a->parent) worker_stop = 1;
  /* Stray prints (libraries, sanitizers) land in the coordinator's log tail too. */
  dup2(a->fd, STDOUT_FILENO);
  dup2(a->fd, STDERR_FILENO);
}

/* The trial's config as this worker runs it, and its attempt directory DIR (created);
** WEXIT_OK, or WEXIT_SETUP logged. */
static int worker_config(const WorkerArgs *a, TrConfig *cfg, char dir[TR_PATH_MAX]) {
  const SwSchedConfig *c = a->c;
  int sample = c->sample_checkpoint != NULL;
  *cfg = a->trial->config;
  if (c->pbt_spec) { /* the config stored with the member: an exploit replaced the expansion's */
    TrErr e;
    tr_config_defaults(cfg);
    if (tr_config_apply_text(cfg, a->cl->config_json, "the trial's stored config", &e) != TR_OK) {
      worker_on_log(&(Worker){.fd = a->fd}, e.msg);
      return WEXIT_SETUP;
    }
    cfg->train.checkpoint_interval = (int)sw_spec_pbt(c->pbt_spec)->interval;
  }
  cfg->train.threads = a->threads;
  if (!sample && cfg->train.checkpoint_interval == 0) cfg->train.checkpoint_interval = cfg->train.eval_interval;
  /* One directory per claim: a worker that lost its claim (and still saves a
  ** checkpoint as it stops) never overwrites the file the new owner resumes from. */
  int k = snprintf(dir, TR_PATH_MAX, "%s/%s/%d", c->runs_dir, a->trial->hash_hex, a->cl->attempts);
  if (k < 0 || k >= TR_PATH_MAX || tr_mkdirs(dir) != 0) {
    char line[1280]; /* the clipped path and the errno text */
    snprintf(line, sizeof line, "cannot create run directory %.1100s: %s", dir, strerror(errno));
    worker_on_log(&(Worker){.fd = a->fd}, line);
    return WEXIT_SETUP;
  }
  if (!sample) {
    memcpy(cfg->train.out_dir, dir, TR_PATH_MAX);
    trial_temps_remove(c->runs_dir, a->trial->hash_hex);
  }
  return WEXIT_OK;
}

/* W set up for the trial, with the store (st, or its own when NULL) and its metric buffer open;
** WEXIT_OK, or WEXIT_STORE logged. */
static int worker_open(Worker *w, const WorkerArgs *a, const TrConfig *cfg, RsStore *st) {
  TrErr err;
  tr_err_clear(&err);
  memset(w, 0, sizeof *w);
  w->cl = a->cl;
  w->fd = a->fd;
  w->total_steps = a->c->sample_checkpoint ? 0 : tr_config_total_steps(cfg);
  w->last_progress = -1e9;
  w->crash_sig = crash_signal(a->cl->idx, a->cl->attempts);
  const char *d = getenv("HPS_TEST_STEP_DELAY_MS");
  w->delay_ms = d ? strtol(d, NULL, 10) : 0;
  const SwEarlyTerminate *et = a->c->early_terminate;
  w->et = et && et->enabled && !a->c->sample_checkpoint ? et : NULL;
  w->metric = a->c->metric;
  w->maximize = a->c->maximize;
  w->can_pause = !a->c->program || a->c->program->resumes;
  w->et_action = SW_KEEP;
  w->ckpt_step = -1;
  w->st = st;
  w->shared_store = st != NULL;
  if (!st && rs_store_open(a->c->db_path, RS_OPEN_EXISTING | RS_OPEN_KEEP_WAL, &w->st, &err) != TR_OK) {
    worker_on_log(w, err.msg);
    return WEXIT_STORE;
  }
  if (rs_metricbuf_init(&w->mb, w->st, a->cl->trial_id, a->cl->claim_token, 0, 0) != TR_OK) {
    worker_on_log(w, rs_store_errmsg(w->st));
    return WEXIT_STORE;
  }
  return WEXIT_OK;
}

/* After a store failure: nothing to record if the claim was lost, else the store's message. */
static int worker_store_exit(Worker *w) {
  if (w->lost) return WEXIT_OK; /* someone else owns the trial now: record nothing */
  worker_on_log(w, w->store_msg);
  return WEXIT_STORE;
}

/* A claim that kept the metrics (scan_checkpoints): resume from the newest valid checkpoint, the claimed
** one or a newer one the previous claim's run left (a resume or a reclaim only: a retry starts over),
** pinned into DIR as RESUME, and cut the stored curve there (rs_trial_resume_at; none: from step 0).
** Non-zero: the store failed. */
static int worker_resume_scan(Worker *w, const WorkerArgs *a, const TrConfig *cfg, const char *dir, char *resume,
                              size_t n, const char **path) {
  const RsClaim *cl = a->cl;
  TrErr err;
  tr_err_clear(&err);
  char disk[TR_PATH_MAX + 700], line[TR_ERR_MSG_MAX + 160];
  int64_t disk_step = -1, step = -1;
  int scan = strcmp(cl->kind, "reclaim") == 0 || strcmp(cl->kind, "resume") == 0;
  if (scan) previous_checkpoint(a->c->runs_dir, a->trial->hash_hex, cl->attempts - 1, cfg, disk, sizeof disk, &disk_step);
  int db_ok = cl->checkpoint && disk_step <= cl->checkpoint_step &&
              pin_checkpoint(cl, dir, resume, n, &err) == TR_OK;
  if (db_ok) {
    step = cl->checkpoint_step;
  } else if (disk_step >= 0 && pin_file(disk, disk_step, dir, resume, n, &err) == TR_OK) {
    step = disk_step;
    if (cl->checkpoint)
      snprintf(line, sizeof line, "resuming from step %lld of %.600s, newer than the recorded checkpoint (step %lld)",
               (long long)step, disk, (long long)cl->checkpoint_step);
    else
      snprintf(line, sizeof line, "resuming from step %lld of %.600s (no checkpoint recorded)", (long long)step, disk);
    worker_on_log(w, line);
    int rc = rs_event_add(w->st, a->c->sweep_id, cl->trial_id, "rescan", line);
    if (rc) {
      worker_store_fail(w, rc);
      return rc;
    }
  } else if (cl->checkpoint) {
    snprintf(line, sizeof line, "cannot resume (%s): restarting from step 0", err.msg);
    worker_on_log(w, line);
  }
  *path = step >= 0 ? resume : NULL;
  int rc = rs_trial_resume_at(w->st, cl->trial_id, cl->claim_token, *path, step);
  if (rc) worker_store_fail(w, rc);
  return rc;
}

/* The claimed checkpoint pinned into DIR as RESUME (*path = resume), or *path NULL:
** none, or unusable and the trial reset to step 0. Non-zero: the reset failed. */
static int worker_resume_find(Worker *w, const WorkerArgs *a, const TrConfig *cfg, const char *dir, char *resume,
                              size_t n, const char **path) {
  TrErr err;
  tr_err_clear(&err);
  *path = NULL;
  /* sw_infer keeps no checkpoints: an interrupted trial runs again from the start. */
  if (a->c->sample_checkpoint) return TR_OK;
  if (scan_checkpoints(a->c)) return worker_resume_scan(w, a, cfg, dir, resume, n, path);
  if (!a->cl->checkpoint) return TR_OK;
  if (pin_checkpoint(a->cl, dir, resume, n, &err) == TR_OK) {
    *path = resume;
    return TR_OK;
  }
  /* Gone, torn, or replaced by a late save of a worker that lost this trial:
  ** the stored curve ends at checkpoint_step and would not match. Start over. */
  char line[TR_ERR_MSG_MAX + 64];
  snprintf(line, sizeof line, "cannot resume (%s): restarting from step 0", err.msg);
  worker_on_log(w, line);
  int rc = rs_trial_reset(w->st, a->cl->trial_id, a->cl->claim_token);
  if (rc) worker_store_fail(w, rc);
  return rc;
}

/* Run the trial; a checkpoint that will not load is forgotten and the run starts over from step 0. */
static int worker_run(Worker *w, const WorkerArgs *a, const TrConfig *cfg, TrRunHooks *hooks, TrRunResult *res,
                      TrErr *err) {
  const char *ckpt = a->c->sample_checkpoint;
  memset(res, 0, sizeof *res);
  int rc = ckpt ? sw_infer_run(cfg, ckpt, hooks, res, NULL, err) : tr_run(cfg, hooks, res, err);
  if (rc == TR_OK || !hooks->resume_path || w->lost || w->store_failed || worker_stop) return rc;
  /* The checkpoint would not load: forget it and start over from step 0. */
  char line[TR_ERR_MSG_MAX + 64];
  snprintf(line, sizeof line, "resume failed (%s): restarting from step 0", err->msg);
  worker_on_log(w, line);
  rs_metricbuf_deinit(&w->mb);
  int r2 = rs_trial_reset(w->st, a->cl->trial_id, a->cl->claim_token);
  if (r2 == TR_OK) r2 = rs_metricbuf_init(&w->mb, w->st, a->cl->trial_id, a->cl->claim_token, 0, 0);
  if (r2 != TR_OK) {
    worker_store_fail(w, r2);
    return rc;
  }
  hooks->resume_path = NULL;
  tr_err_clear(err);
  memset(res, 0, sizeof *res);
  return tr_run(cfg, hooks, res, err);
}

/* The store's status for a run that returned RC with RES; its error text into errbuf, or NULL. */
static RsStatus worker_status(int rc, const TrRunResult *res, const TrErr *err, char *errbuf, size_t n,
                              const char **error) {
  RsStatus status;
  *error = NULL;
  if (rc != TR_OK) {
    snprintf(errbuf, n, "%s", err->msg);
    *error = errbuf;
    return RS_FAILED;
  }
  switch (res->status) {
  case TR_RUN_COMPLETED: status = RS_COMPLETED; break;
  case TR_RUN_DIVERGED: status = RS_DIVERGED; break;
  case TR_RUN_INTERRUPTED: status = RS_INTERRUPTED; break;
  default: status = RS_FAILED; break;
  }
  if (status != RS_COMPLETED && res->reason[0]) {
    snprintf(errbuf, n, "%s", res->reason);
    *error = errbuf;
  }
  return status;
}

/* A resumed or reclaimed trial may have stopped where it was judged, its checkpoint recorded,
** but the verdict not yet applied (killed in between): judge its newest value again before
** running (unless its latest promotion resumed from this very checkpoint: that rung is passed).
** Returns 1 when the trial is paused or pruned now, or the store failed: nothing to run. */
static int worker_et_resume(Worker *w) {
  const RsClaim *cl = w->cl;
  if (!w->et || !cl->checkpoint || cl->checkpoint_step == cl->promoted_step ||
      (strcmp(cl->kind, "resume") != 0 && strcmp(cl->kind, "reclaim") != 0))
    return 0;
  RsVerdict v;
  int applied = 0;
  int rc = rs_trial_judge(w->st, cl->trial_id, cl->claim_token, worker_judge, w, &v, &applied);
  if (rc) {
    worker_store_fail(w, rc);
    return 1;
  }
  if (!applied) return 0;
  worker_on_log(w, v.reason);
  w->et_action = v.action == RS_VERDICT_PRUNE ? SW_PRUNE : SW_PAUSE;
  worker_release(w);
  return 1;
}

/* After the run: a prune is recorded already, a pause is applied now (worker_et_pause).
** Returns 1 when nothing more is to be recorded (the store is closed then). */
static int worker_et_done(Worker *w, const char *program_dir) {
  if (w->et_action == SW_KEEP || w->lost || w->store_failed) return w->lost || w->store_failed;
  if (w->et_action == SW_PAUSE && !worker_et_pause(w, program_dir)) return w->lost || w->store_failed;
  if (w->lost || w->store_failed) return 1;
  worker_release(w);
  return 1;
}

/* The trial's final row, then the store closed: WEXIT_OK (a lost claim writes nothing), or WEXIT_STORE logged. */
static int worker_finish(Worker *w, const WorkerArgs *a, RsStatus status, const RsTrialResult *out) {
  int fr = rs_trial_finish(w->st, a->cl->trial_id, a->cl->claim_token, status, out);
  if (fr != TR_OK && fr != RS_LOST) {
    worker_on_log(w, rs_store_errmsg(w->st));
    return WEXIT_STORE;
  }
  worker_release(w);
  return WEXIT_OK;
}

/* Record the finished run: status, the sweep metric, the summary. */
static int worker_record(Worker *w, const WorkerArgs *a, int rc, const TrRunResult *res, const TrErr *err) {
  char errbuf[TR_ERR_MSG_MAX + 300];
  RsTrialResult out;
  memset(&out, 0, sizeof out);
  RsStatus status = worker_status(rc, res, err, errbuf, sizeof errbuf, &out.error);
  worker_metric(w, a->c->metric, a->c->maximize, res, &out);
  out.steps = res->steps;
  out.tokens = res->tokens;
  out.wall_seconds = rc == TR_OK ? res->wall_seconds : NAN;
  out.flops = rc == TR_OK ? res->flops : NAN;
  char *summary = NULL;
  if (rc == TR_OK) {
    size_t need = tr_run_result_json(res, NULL, 0) + 1;
    summary = tr_malloc(need);
    if (summary) tr_run_result_json(res, summary, need);
  }
  out.summary_json = summary;
  /* Above the limit itself the same config is refused again: a retry only spends a claim.
  ** Above what is free now (other trials running) it may fit later: an ordinary failure. */
  out.no_retry = status == RS_FAILED && res->memory_refused == 2;
  int wr = worker_finish(w, a, status, &out);
  free(summary);
  return wr;
}

/* PBT: a copy was applied (the store holds the member's new config and the source's
** checkpoint): cfg becomes the new config, the source's file is pinned as RESUME. An error
** (err set): the file cannot be taken; the trial fails (a retry starts it over). */
static int worker_pbt_switch(Worker *w, TrConfig *cfg, const char *dir, char *resume, size_t n, TrErr *err) {
  SwPbtJudge *J = w->pbt;
  RsClaim src = {0};
  src.checkpoint = J->ckpt;
  src.checkpoint_step = J->step;
  int rc = pin_checkpoint(&src, dir, resume, n, err);
  if (rc) return tr_err_prefix(err, "PBT: cannot take the copied checkpoint");
  *cfg = J->next; /* own run control (threads, out_dir, intervals): explore started from our config */
  w->pbt_action = SW_PBT_NONE;
  worker_stop = 0;
  return TR_OK;
}

/* PBT: run, and after every copy applied run on from the copied checkpoint with the new values. */
static int worker_pbt_runs(Worker *w, const WorkerArgs *a, TrConfig *cfg, const char *dir, char *resume, size_t n,
                           TrRunHooks *hooks, TrRunResult *res, TrErr *err) {
  /* A member starting from a checkpoint at a perturbation step is decided there now (once). */
  if (hooks->resume_path) pbt_check(w, a->cl->checkpoint_step, 0);
  if (w->lost || w->store_failed) return TR_OK;
  int rc = TR_OK;
  /* a copy at the start: resume (hooks->resume_path is `resume`) from the source's file pinned there */
  if (w->pbt_action == SW_PBT_EXPLOIT && (rc = worker_pbt_switch(w, cfg, dir, resume, n, err))) return rc;
  rc = worker_run(w, a, cfg, hooks, res, err);
  while (rc == TR_OK && w->pbt_action == SW_PBT_EXPLOIT && !worker_signalled && !w->lost && !w->store_failed) {
    if ((rc = worker_pbt_switch(w, cfg, dir, resume, n, err))) break;
    hooks->resume_path = resume;
    rc = worker_run(w, a, cfg, hooks, res, err);
  }
  return rc;
}

static int worker_main(const WorkerArgs *a) {
  worker_process_setup(a);
  TrConfig cfg;
  char dir[TR_PATH_MAX];
  int rc = worker_config(a, &cfg, dir);
  if (rc != WEXIT_OK) return rc;
  Worker w;
  if ((rc = worker_open(&w, a, &cfg, NULL)) != WEXIT_OK) return rc;

  char intro[TR_PATH_MAX + 256];
  snprintf(intro, sizeof intro, "trial %lld, attempt %d (%s), %d thread%s, in %.1100s", (long long)a->cl->trial_id,
           a->cl->attempts, a->cl->kind, a->threads, a->threads == 1 ? "" : "s", dir);
  worker_on_log(&w, intro);
  char resume[TR_PATH_MAX + 32];
  const char *resume_path;
  if (worker_resume_find(&w, a, &cfg, dir, resume, sizeof resume, &resume_path)) return worker_store_exit(&w);
  w.resume_link = resume_path;
  if (resume_path && worker_et_resume(&w)) return w.lost || w.store_failed ? worker_store_exit(&w) : WEXIT_OK;
  TrRunHooks hooks = {worker_on_metric, worker_on_log, worker_on_checkpoint, &w, &worker_stop, resume_path,
                      a->c->pbt_spec != NULL, scan_checkpoints(a->c) ? worker_before_checkpoint : NULL};
  TrRunResult res;
  TrErr err;
  tr_err_clear(&err);
  SwPbtJudge pj;
  if (a->c->pbt_spec) {
    memset(&pj, 0, sizeof pj);
    pj = (SwPbtJudge){.pbt = sw_spec_pbt(a->c->pbt_spec), .spec = a->c->pbt_spec, .maximize = a->c->maximize,
                      .seed = sw_spec_seed(a->c->pbt_spec), .runs_dir = a->c->runs_dir, .own = &cfg};
    w.pbt = &pj;
    w.runs_dir = a->c->runs_dir;
    memset(&res, 0, sizeof res);
    rc = worker_pbt_runs(&w, a, &cfg, dir, resume, sizeof resume, &hooks, &res, &err);
    sw_pbt_judge_clear(&pj);
  } else {
    rc = worker_run(&w, a, &cfg, &hooks, &res, &err);
  }
  if (!w.lost && !w.store_failed) {
    int fr = rs_metricbuf_flush(&w.mb);
    if (fr) worker_store_fail(&w, fr);
  }
  char line[64];
  snprintf(line, sizeof line, TAG_ROWS "%lld\n", (long long)w.rows);
  write_all(w.fd, line, strlen(line));
  if (w.lost || w.store_failed) return worker_store_exit(&w);
  if (rc != TR_OK && res.io_failed) { /* the disk, not the trial: interrupted, and the runner stops */
    snprintf(w.store_msg, sizeof w.store_msg, "%s", err.msg);
    return worker_store_exit(&w);
  }
  if (rc == TR_OK && worker_et_done(&w, NULL)) return w.lost || w.store_failed ? worker_store_exit(&w) : WEXIT_OK;
  if (w.pbt_action == SW_PBT_PAUSE) { /* paused at its checkpoint: the store says so already */
    rs_metricbuf_deinit(&w.mb);
    rs_store_close(w.st);
    return WEXIT_OK;
  }
  return worker_record(&w, a, rc, &res, &err);
}

/* ---- a program's trial (SwSchedConfig.program) ---- */

typedef struct ProgCtx {
  Worker *w;
  const char *metric;
  double start, last_progress, last_value;
  int seen, nonfinite;  /* the sweep metric was reported; one of its values was NaN/inf */
  int64_t last_step;
  const char *dir;      /* HPSWEEP_RUN_DIR */
  double last_mark;     /* monotonic: when the stored rows were last marked as kept */
  const char *params;   /* the parameters it runs with (PBT: the member's now), else the trial's */
  int64_t stop;         /* PBT: HPSWEEP_STOP_STEP of this run, 0 none */
  const char *fail;     /* PBT: why the member fails although the program exited 0, NULL none */
} ProgCtx;

/* After a batch of rows reached the store (at most once a second): record the run directory
** as the trial's checkpoint at the last step stored, so a resume or reclaim keeps those rows
** (the claim deletes only rows after a checkpoint's step) while the program continues from
** its own checkpoint there; it also tells the store the trial progresses (reclaims reset). */
static int prog_mark(ProgCtx *p, double now) {
  Worker *w = p->w;
  if (w->mb.n != 0 || now - p->last_mark < 1.0) return TR_OK;
  if (p->stop > 0) return TR_OK; /* PBT: its checkpoints are its snapshots at the stop steps */
  p->last_mark = now;
  return rs_trial_set_checkpoint(w->st, w->cl->trial_id, w->cl->claim_token, p->dir, p->last_step);
}

/* A row of the metrics pipe into the store (through the metric buffer). */
static int prog_row(void *ctx, const char *name, int64_t step, double value) {
  ProgCtx *p = ctx;
  Worker *w = p->w;
  if (w->lost || w->store_failed) return TR_EIO;
  if (w->et_action != SW_KEEP && worker_et_drops(w, step)) return 0; /* it is being stopped */
  double now = tr_clock_mono();
  int rc = rs_metricbuf_add(&w->mb, step, 0, now - p->start, name, value);
  if (rc) {
    worker_store_fail(w, rc);
    return TR_EIO;
  }
  w->rows++;
  if (step > p->last_step) p->last_step = step;
  if ((rc = prog_mark(p, now))) {
    worker_store_fail(w, rc);
    return TR_EIO;
  }
  if (strcmp(name, p->metric) != 0) return 0;
  p->seen = 1;
  p->last_value = value;
  if (!isfinite(value)) p->nonfinite = 1;
  if (w->et_action == SW_KEEP && worker_et_check(w, step, value)) {
    if (w->lost || w->store_failed) return TR_EIO;
    trial_stop = 1; /* sw_program_run: SIGTERM, SW_PROGRAM_GRACE s, SIGKILL */
  }
  if (now - p->last_progress >= PROGRESS_EVERY) {
    char line[160];
    int k = snprintf(line, sizeof line, TAG_PROGRESS "%lld 0 %.9g 0\n", (long long)step, value);
    if (k > 0 && (size_t)k < sizeof line) write_all(w->fd, line, (size_t)k);
    p->last_progress = now;
  }
  return 0;
}

static char *env_fmt(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* "NAME=VALUE" (owned), or NULL when out of memory. */
static char *env_fmt(const char *fmt, ...) {
  char *s = NULL;
  va_list ap;
  va_start(ap, fmt);
  int k = tr_vasprintf(&s, fmt, ap);
  va_end(ap);
  return k < 0 ? NULL : s;
}

/* The program's environment additions ("NAME=VALUE", owned, NULL-terminated in env[]);
** TR_ENOMEM with nothing left allocated. */
static int prog_env(const WorkerArgs *a, const ProgCtx *p, const char *dir, char *env[12]) {
  const SwSchedProgram *pg = a->c->program;
  const char *old = getenv("PYTHONPATH");
  int n = 0;
  memset(env, 0, 12 * sizeof *env);
  env[n++] = env_fmt("HPSWEEP_TRIAL_ID=%lld", (long long)a->cl->trial_id);
  env[n++] = env_fmt("HPSWEEP_SWEEP=%s", pg->sweep ? pg->sweep : "");
  env[n++] = env_fmt("HPSWEEP_ATTEMPT=%d", a->cl->attempts);
  env[n++] = env_fmt("HPSWEEP_RUN_DIR=%s", dir);
  env[n++] = env_fmt("HPSWEEP_PARAMS_JSON=%s", p->params);
  if (p->stop > 0) env[n++] = env_fmt("HPSWEEP_STOP_STEP=%lld", (long long)p->stop);
  env[n++] = env_fmt("OMP_NUM_THREADS=%d", a->threads);
  env[n++] = env_fmt("OPENBLAS_NUM_THREADS=%d", a->threads);
  env[n++] = env_fmt("MKL_NUM_THREADS=%d", a->threads);
  if (pg->pythonpath)
    env[n++] = env_fmt("PYTHONPATH=%s%s%s", pg->pythonpath, old && *old ? ":" : "", old ? old : "");
  int bad = 0;
  for (int i = 0; i < n; i++) bad |= env[i] == NULL;
  for (int i = 0; bad && i < n; i++) free(env[i]), env[i] = NULL;
  return bad ? TR_ENOMEM : TR_OK;
}

/* The store's status and reason for a finished program. */
static RsStatus prog_status(const ProgCtx *p, const SwProgramOut *o, char *why, size_t n) {
  why[0] = '\0';
  if (o->interrupted) return RS_INTERRUPTED;
  if (p->fail) return snprintf(why, n, "%s", p->fail), RS_FAILED;
  if (o->timed_out) {
    snprintf(why, n, "timeout (over %g s)", o->seconds);
    return RS_FAILED;
  }
  if (o->exited && o->code == 0) {
    if (p->nonfinite) return snprintf(why, n, "%s is not finite", p->metric), RS_DIVERGED;
    if (!p->seen) return snprintf(why, n, "metric never reported (%s)", p->metric), RS_FAILED;
    return RS_COMPLETED;
  }
  if (o->exited)
    snprintf(why, n, "exit code %d%s%s", o->code, o->tail[0] ? "\n" : "", o->tail);
  else
    snprintf(why, n, "killed by signal %d (%s)%s%s", o->signal, strsignal(o->signal), o->tail[0] ? "\n" : "",
             o->tail);
  return RS_FAILED;
}

/* Record the finished program: status, the sweep metric from the stored curve, a summary. */
static int prog_record(Worker *w, const WorkerArgs *a, const ProgCtx *p, const SwProgramOut *o) {
  char why[TR_ERR_MSG_MAX + 2200], summary[512];
  RsTrialResult out;
  memset(&out, 0, sizeof out);
  RsStatus status = prog_status(p, o, why, sizeof why);
  TrRunResult none;
  memset(&none, 0, sizeof none);
  none.final_val_loss = none.best_val_loss = none.final_train_loss = NAN;
  worker_metric(w, a->c->metric, a->c->maximize, &none, &out);
  out.error = why[0] ? why : NULL;
  out.steps = p->last_step + 1;
  out.wall_seconds = o->seconds;
  out.flops = NAN;
  snprintf(summary, sizeof summary, "{\"exit_code\": %d, \"signal\": %d, \"seconds\": %.3f, \"metric_lines\": %llu, "
           "\"bad_lines\": %llu, \"rows\": %llu}", o->exited ? o->code : -1, o->signal, o->seconds,
           (unsigned long long)o->stats.lines, (unsigned long long)o->stats.bad_lines,
           (unsigned long long)o->stats.rows);
  out.summary_json = summary;
  return worker_finish(w, a, status, &out);
}

/* Problems of the metrics pipe: log lines of the trial, and "protocol" events in the store
** (the counts, then the first SW_PROTO_KEEP messages). A store failure is the worker's. */
static void prog_log_problems(Worker *w, const WorkerArgs *a, const SwProgramOut *o) {
  char line[SW_PROTO_MSG_MAX + 64];
  if (o->stats.bad_lines == 0 && o->n_messages == 0) return;
  snprintf(line, sizeof line, "metrics pipe: %llu lines, %llu rows, %llu bad lines", (unsigned long long)o->stats.lines,
           (unsigned long long)o->stats.rows, (unsigned long long)o->stats.bad_lines);
  for (size_t i = 0; i <= o->n_messages; i++) {
    if (i > 0) snprintf(line, sizeof line, "metrics pipe: %s", o->messages[i - 1]);
    worker_on_log(w, line);
    int rc = rs_event_add(w->st, a->c->sweep_id, a->cl->trial_id, "protocol", line);
    if (rc) {
      worker_store_fail(w, rc);
      return;
    }
  }
}

/* Run the program with the store open; *o its outcome. Non-zero: it could not run (err set). */
static int prog_exec(Worker *w, const WorkerArgs *a, const char *dir, ProgCtx *p, SwProgramOut *o, TrErr *err) {
  const SwSchedProgram *pg = a->c->program;
  SwCommandIn in = {pg->command, pg->n_command, pg->path, NULL, p->params, dir, 0};
  char **argv = NULL, *env[12];
  size_t argc = 0;
  int rc = sw_command_build(&in, &argv, &argc, err);
  if (rc) return rc;
  if ((rc = prog_env(a, p, dir, env))) {
    sw_command_free(argv);
    return tr_err_set(err, rc, "out of memory");
  }
  char *line = sw_command_display(argv);
  if (line) worker_on_log(w, line);
  free(line);
  SwProgramIn pi = {argv, dir, env, pg->max_seconds, &trial_stop, prog_row, p};
  rc = sw_program_run(&pi, o, err);
  for (int i = 0; i < 12; i++) free(env[i]);
  sw_command_free(argv);
  return rc;
}

/* Before a trial runs again: what an earlier attempt's dead runner left of its program. */
static void prog_reap(Worker *w, const WorkerArgs *a, const char *dir) {
  int n = sw_program_reap_leftovers(dir, a->cl->attempts);
  if (n == 0) return;
  char line[160];
  snprintf(line, sizeof line, "killed %d process%s left by an earlier attempt of this trial", n, n == 1 ? "" : "es");
  worker_on_log(w, line);
  int rc = rs_event_add(w->st, a->c->sweep_id, a->cl->trial_id, "leftover", line);
  if (rc) worker_store_fail(w, rc);
}

/* ---- population-based training of a program (docs/pbt.md "Programs") ---- */

typedef struct ProgPbt {
  SwPbtJudge J;
  SwProposer *prop;     /* decodes params for the explore */
  char *params;         /* the member's params now (owned) */
} ProgPbt;

/* The member's run directory DIR becomes a copy of snapshot SRC (NULL: empty), its own run.log
** kept. Non-zero: the worker failed (the disk). */
static int prog_pbt_take(Worker *w, const char *dir, const char *src) {
  TrErr e;
  tr_err_clear(&e);
  int rc = sw_rundir_replace(dir, src, SW_PROGRAM_LOG, &e);
  if (rc) {
    snprintf(w->store_msg, sizeof w->store_msg, "PBT: cannot put the run directory in place: %.900s", e.msg);
    w->store_failed = 1;
  }
  return rc;
}

/* Judge the member at STEP (its snapshot there made); an exploit applied is taken now: the
** source's snapshot into DIR and its new params. Non-zero: the worker failed. */
static int prog_pbt_judge(Worker *w, ProgPbt *P, const char *dir, int64_t step, int arriving) {
  P->J.own_params = P->params;
  pbt_check(w, step, arriving);
  if (!worker_signalled) worker_stop = 0; /* pbt_check stops a trainer's run; ours has ended already */
  if (w->lost || w->store_failed) return TR_EIO;
  if (w->pbt_action != SW_PBT_EXPLOIT) return TR_OK;
  w->pbt_action = SW_PBT_NONE;
  char *np = tr_strdup(P->J.params);
  if (!np) return worker_store_fail(w, TR_ENOMEM), TR_ENOMEM;
  free(P->params);
  P->params = np;
  return prog_pbt_take(w, dir, P->J.ckpt);
}

/* The member's state before it runs: its params now (the store's), the proposer, its run directory
** put back to its checkpoint (a snapshot, its own or the one an exploit copies; empty from step 0:
** whatever a killed run left there is gone, so the program's state is the store's), and a
** decision due at its checkpoint. */
static int prog_pbt_start(Worker *w, const WorkerArgs *a, ProgPbt *P, const char *dir, TrErr *err) {
  const SwSpec *spec = a->c->pbt_spec;
  const RsClaim *cl = w->cl;
  P->J = (SwPbtJudge){.pbt = sw_spec_pbt(spec), .spec = spec, .maximize = a->c->maximize, .seed = sw_spec_seed(spec),
                      .runs_dir = a->c->runs_dir, .own_config = cl->config_json};
  int rc = sw_proposer_create(&P->prop, spec, err);
  if (rc) return rc;
  P->J.program = P->prop;
  RsTrial t;
  if ((rc = rs_trial_get(w->st, cl->trial_id, &t))) return tr_err_set(err, rc, "%s", rs_store_errmsg(w->st));
  P->params = tr_strdup(t.params ? t.params : a->trial->params_json);
  rs_trial_clear(&t);
  if (!P->params) return tr_err_set(err, TR_ENOMEM, "out of memory");
  w->pbt = &P->J;
  w->runs_dir = a->c->runs_dir;
  w->total_steps = INT64_MAX; /* a program ends when it exits */
  int at = cl->checkpoint && cl->checkpoint_step > 0;
  if ((rc = prog_pbt_take(w, dir, at ? cl->checkpoint : NULL))) return rc;
  if (at && cl->checkpoint_step % P->J.pbt->interval == 0) return prog_pbt_judge(w, P, dir, cl->checkpoint_step, 0);
  return TR_OK;
}

/* The program stopped at its stop step: its run directory's snapshot there (other members copy
** it, and a resume starts from it), recorded as its checkpoint, then the decision. Non-zero: the
** worker failed. */
static int prog_pbt_step(Worker *w, ProgPbt *P, const char *dir, int64_t step) {
  char snap[TR_PATH_MAX + 64];
  TrErr e;
  tr_err_clear(&e);
  int rc = sw_pbt_ckpt_path(w->runs_dir, w->cl->trial_id, step, 1, snap, sizeof snap);
  if (rc == TR_OK) rc = sw_rundir_snapshot(dir, snap, SW_PROGRAM_LOG, &e);
  if (rc) {
    snprintf(w->store_msg, sizeof w->store_msg, "PBT: cannot keep the run directory at step %lld: %.900s", (long long)step,
             e.msg);
    w->store_failed = 1;
    return rc;
  }
  if ((rc = rs_trial_set_checkpoint(w->st, w->cl->trial_id, w->cl->claim_token, snap, step))) {
    worker_store_fail(w, rc);
    return rc;
  }
  return prog_pbt_judge(w, P, dir, step, 1);
}

/* Run a program member interval by interval: each run gets HPSWEEP_STOP_STEP (the next
** perturbation step) and the member's params now; a run that stops there is snapshot and judged,
** and the next run resumes from the run directory (the member's own, or the copy it took). */
static int prog_pbt_run(Worker *w, const WorkerArgs *a, const char *dir, ProgCtx *p, SwProgramOut *o, TrErr *err) {
  ProgPbt P;
  memset(&P, 0, sizeof P);
  memset(o, 0, sizeof *o);
  int rc = prog_pbt_start(w, a, &P, dir, err);
  int64_t at = w->cl->checkpoint && w->cl->checkpoint_step > 0 ? w->cl->checkpoint_step : 0, k = P.J.pbt->interval;
  p->seen = at > 0; /* its rows up to the checkpoint are stored */
  while (rc == TR_OK && !w->lost && !w->store_failed && w->pbt_action != SW_PBT_PAUSE) {
    p->stop = (at / k + 1) * k;
    p->params = P.params;
    p->last_step = at;
    rc = prog_exec(w, a, dir, p, o, err);
    int fr = w->lost || w->store_failed ? TR_OK : rs_metricbuf_flush(&w->mb);
    if (fr) worker_store_fail(w, fr);
    if (rc || w->lost || w->store_failed || o->interrupted || o->timed_out || !o->exited || o->code != 0) break;
    if (p->last_step < p->stop) break; /* it finished: recorded as usual */
    if (p->last_step > p->stop) {
      p->fail = "PBT: the program went past HPSWEEP_STOP_STEP (it must stop there, its checkpoint saved)";
      break;
    }
    if (prog_pbt_step(w, &P, dir, p->stop)) break;
    at = p->stop;
  }
  if (w->pbt_action == SW_PBT_PAUSE) worker_release(w);
  sw_pbt_judge_clear(&P.J);
  sw_proposer_destroy(P.prop);
  free(P.params);
  w->pbt = NULL;
  return rc;
}

/* A program trial in its run directory RUNS/<hash>/ (kept across attempts; RUNS is the runs
** directory's absolute path), its writes through the serving worker's store ST; *rows gets the
** metric rows it wrote. */
static int prog_trial_run(Worker *w, const WorkerArgs *a, RsStore *st, const char *runs, int64_t *rows) {
  char dir[TR_PATH_MAX];
  int k = snprintf(dir, sizeof dir, "%s/%s", runs, a->trial->hash_hex);
  if (k < 0 || k >= TR_PATH_MAX || (mkdir(dir, TR_DIR_MODE) != 0 && errno != EEXIST && tr_mkdirs(dir) != 0)) {
    char line[1280];
    snprintf(line, sizeof line, "cannot create run directory %.1100s: %s", dir, strerror(errno));
    worker_on_log(&(Worker){.fd = a->fd}, line);
    return WEXIT_SETUP;
  }
  int rc = worker_open(w, a, &a->trial->config, st);
  if (rc != WEXIT_OK) return rc;
  if (strcmp(a->cl->kind, "claim") != 0) prog_reap(w, a, dir);
  if (w->store_failed) return worker_store_exit(w);
  if (worker_et_resume(w)) return w->lost || w->store_failed ? worker_store_exit(w) : WEXIT_OK;
  ProgCtx p = {w, a->c->metric, tr_clock_mono(), -1e9, NAN, 0, 0, -1, dir, tr_clock_mono(), a->trial->params_json,
               0, NULL};
  SwProgramOut o;
  TrErr err;
  tr_err_clear(&err);
  trial_stop = worker_stop;
  if (a->c->pbt_spec) {
    rc = prog_pbt_run(w, a, dir, &p, &o, &err);
  } else {
    rc = prog_exec(w, a, dir, &p, &o, &err);
    if (!w->lost && !w->store_failed && (k = rs_metricbuf_flush(&w->mb))) worker_store_fail(w, k);
  }
  *rows = w->rows;
  if (w->lost || w->store_failed) return worker_store_exit(w);
  if (w->pbt_action == SW_PBT_PAUSE) return WEXIT_OK; /* paused at its snapshot: the store says so already */
  if (rc) { /* it could not run: a bad command or the system; the same again would fail */
    RsTrialResult out = {NAN, NAN, -1, 0, 0, NAN, NAN, NULL, err.msg, 0};
    return worker_finish(w, a, RS_FAILED, &out);
  }
  prog_log_problems(w, a, &o);
  if (w->store_failed) return worker_store_exit(w);
  if (worker_et_done(w, dir)) return w->lost || w->store_failed ? worker_store_exit(w) : WEXIT_OK;
  return prog_record(w, a, &p, &o);
}

/* prog_trial_run with its worker state released whatever the outcome (a lost claim too). */
static int prog_trial(const WorkerArgs *a, RsStore *st, const char *runs, int64_t *rows) {
  Worker w;
  memset(&w, 0, sizeof w);
  int rc = prog_trial_run(&w, a, st, runs, rows);
  rs_metricbuf_deinit(&w.mb);
  return rc;
}

/* What the coordinator sends a serving program worker for each trial after its first: the
** claim (its strings after it: kind, then the checkpoint, ckpt_len < 0 when none). */
typedef struct ProgJob {
  int64_t trial_id, claim_token, seed, checkpoint_step, promoted_step;
  int32_t idx, attempts, kind_len, ckpt_len;
} ProgJob;

/* Read n bytes; 0, or -1 at end of file, an error, or a stop. */
static int read_full(int fd, void *buf, size_t n) {
  char *p = buf;
  while (n > 0) {
    ssize_t r = read(fd, p, n);
    if (r < 0 && errno == EINTR && !worker_stop) continue;
    if (r <= 0) return -1;
    p += r, n -= (size_t)r;
  }
  return 0;
}

/* The next claim from the coordinator into *cl (rs_claim_clear), and its trial (*own when remade
** from its stored params: a proposed one). 0; -1 when there is none (the coordinator closed the
** channel, or is gone, or we stop); WEXIT_SETUP when the trial cannot be made (logged). */
static int prog_next(const WorkerArgs *a, RsStore *st, int cmd, RsClaim *cl, const SwTrial **trial, SwTrial **own) {
  static char kind[16];
  ProgJob j;
  memset(cl, 0, sizeof *cl);
  if (read_full(cmd, &j, sizeof j) != 0 || j.kind_len < 1 || (size_t)j.kind_len >= sizeof kind ||
      read_full(cmd, kind, (size_t)j.kind_len) != 0)
    return -1;
  kind[j.kind_len] = '\0';
  *cl = (RsClaim){.claimed = 1, .trial_id = j.trial_id, .claim_token = j.claim_token, .seed = j.seed,
                  .checkpoint_step = j.checkpoint_step, .idx = j.idx, .attempts = j.attempts, .kind = kind,
                  .promoted_step = j.promoted_step};
  if (j.ckpt_len >= 0) {
    if (j.ckpt_len > TR_PATH_MAX || !(cl->checkpoint = tr_malloc((size_t)j.ckpt_len + 1)) ||
        read_full(cmd, cl->checkpoint, (size_t)j.ckpt_len) != 0)
      return -1;
    cl->checkpoint[j.ckpt_len] = '\0';
  }
  *own = NULL;
  if (!a->c->propose) {
    *trial = &a->c->trials[cl->idx]; /* the coordinator checked idx against the expansion */
    return 0;
  }
  RsTrial t;
  TrErr e;
  tr_err_clear(&e);
  int rc = rs_trial_get(st, cl->trial_id, &t);
  if (rc) tr_err_set(&e, rc, "%s", rs_store_errmsg(st));
  else rc = sw_proposer_trial(a->c->propose, cl->idx, t.params, t.hash, own, &e);
  if (rc == TR_OK) rs_trial_clear(&t);
  if (rc) {
    worker_on_log(&(Worker){.fd = a->fd}, e.msg);
    return WEXIT_SETUP;
  }
  *trial = *own;
  return 0;
}

/* A program sweep's worker: serves its slot's trials one after the other (the first in A, the
** next ones as the coordinator sends them on CMD), with one store handle: no fork and no store
** opened per trial. After each trial recorded, a TAG_DONE line; any other outcome (a store or
** setup failure) ends the process with its exit code, as a per-trial worker's would. Ends
** (WEXIT_OK) when the coordinator closes CMD or is gone, or on SIGINT/SIGTERM. */
static int worker_programs(WorkerArgs *a, int cmd) {
  worker_process_setup(a);
  TrErr err;
  tr_err_clear(&err);
  RsStore *st = NULL;
  if (rs_store_open(a->c->db_path, RS_OPEN_EXISTING | RS_OPEN_KEEP_WAL, &st, &err) != TR_OK) {
    worker_on_log(&(Worker){.fd = a->fd}, err.msg);
    return WEXIT_STORE;
  }
  char *runs = realpath(a->c->runs_dir, NULL); /* HPSWEEP_RUN_DIR holds wherever the program changes directory */
  RsClaim cl;
  memset(&cl, 0, sizeof cl);
  SwTrial *own = NULL;
  int rc = WEXIT_OK;
  for (int first = 1;; first = 0) {
    int64_t rows = 0;
    rc = prog_trial(a, st, runs ? runs : a->c->runs_dir, &rows);
    if (!first) rs_claim_clear(&cl), sw_trials_free(own, own ? 1 : 0), own = NULL;
    char line[64]; /* the rows, and (one write: one wake-up) that the trial is recorded */
    int n = snprintf(line, sizeof line, TAG_ROWS "%lld\n%s", (long long)rows, rc == WEXIT_OK ? TAG_DONE "\n" : "");
    write_all(a->fd, line, (size_t)n);
    if (rc != WEXIT_OK) break;
    if (worker_stop || (rc = prog_next(a, st, cmd, &cl, &a->trial, &own)) != 0) break;
    a->cl = &cl;
  }
  if (rc < 0) rc = WEXIT_OK; /* no next trial */
  rs_claim_clear(&cl);
  sw_trials_free(own, own ? 1 : 0);
  free(runs);
  rs_store_close(st);
  return rc;
}

/* ---- the coordinator ---- */

typedef struct Slot {
  pid_t pid;            /* its worker process, 0: none */
  int fd;               /* read end of the worker's pipe, -1 when closed */
  int cmd;              /* a program worker's channel for its next trials (worker_programs), -1 none */
  int busy;             /* a trial runs: claim, trial, own... describe it */
  int done;             /* the worker said TAG_DONE: the trial is recorded, the worker waits */
  RsClaim claim;
  const SwTrial *trial; /* what it trains: the expansion's, or own (a proposed trial) */
  SwTrial *own;
  double started, last_beat; /* monotonic */
  int lost;             /* a heartbeat found the claim gone */
  int64_t step, total;
  long oom0;            /* OOM kills in the system when it started (-1: unknown) */
  char buf[LINE_MAX_BYTES + 1];
  size_t nbuf;
  char tail[SW_LOG_TAIL][LINE_MAX_BYTES / 4];
  int ntail;            /* lines seen; tail[(ntail-1) % SW_LOG_TAIL] is the last */
} Slot;

typedef struct Coord {
  const SwSchedConfig *c;
  SwSchedStats *stats;
  RsStore *st;
  Slot *slots;
  int nrun;
  double lease;
  char worker[128];
  char host[64];        /* our host name ("" with a configured worker name: no same-host reclaim) */
  char owner[160];      /* trials.owner of our claims: "BOOT_ID PIDNS START", "" unknown */
  RsCounts counts;
  TrErr *err;           /* the first fatal error */
  int fatal;            /* its code: claim nothing more, stop the workers, exit */
} Coord;

/* The first fatal error wins (later ones are its consequences); returns its code. */
static int coord_fail(Coord *k, int rc, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int coord_fail(Coord *k, int rc, const char *fmt, ...) {
  if (k->fatal) return k->fatal;
  k->fatal = rc ? rc : TR_EDB;
  if (!k->err) return k->fatal;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(k->err->msg, sizeof k->err->msg, fmt, ap);
  va_end(ap);
  k->err->code = k->fatal;
  return k->fatal;
}

static int coord_stopping(const Coord *k) { return (k->c->stop && *k->c->stop) || k->fatal; }

/* Kernel OOM kills so far (oom_kill of /proc/vmstat, or of the file HPS_TEST_VMSTAT
** names: a test seam), -1 if unknown. A worker dead of SIGKILL while it rose was
** OOM-killed (or shared the fate of one that was: the same memory pressure). */
static long oom_kills(void) {
  const char *p = getenv("HPS_TEST_VMSTAT");
  FILE *f = fopen(p && *p ? p : "/proc/vmstat", "r");
  if (!f) return -1;
  char line[128];
  long v = -1;
  while (v < 0 && fgets(line, sizeof line, f))
    if (sscanf(line, "oom_kill %ld", &v) != 1) v = -1;
  fclose(f);
  return v;
}

static void emit(Coord *k, SwEvent *e) {
  e->running_here = k->nrun;
  if (k->c->on_event) k->c->on_event(k->c->ud, e);
}

static const char *trial_params(Coord *k, int si) {
  return si >= 0 && k->slots[si].trial ? k->slots[si].trial->params_json : "{}";
}

/* An event of the given kind about the trial cl of slot si. */
static SwEvent slot_event(Coord *k, int si, const RsClaim *cl, SwEventKind kind) {
  SwEvent e;
  memset(&e, 0, sizeof e);
  e.kind = kind;
  e.slot = si;
  e.idx = cl->idx;
  e.trial_id = cl->trial_id;
  e.attempt = cl->attempts;
  e.params = trial_params(k, si);
  return e;
}

static void slot_line(Coord *k, int si, char *line) {
  Slot *s = &k->slots[si];
  SwEvent e = slot_event(k, si, &s->claim, SW_EV_LOG);
  if (strncmp(line, TAG_PROGRESS, strlen(TAG_PROGRESS)) == 0) {
    long long step = 0, total = 0;
    double loss = NAN, tps = NAN;
    if (sscanf(line + strlen(TAG_PROGRESS), "%lld %lld %lf %lf", &step, &total, &loss, &tps) == 4) {
      s->step = step;
      s->total = total;
      e.kind = SW_EV_PROGRESS;
      e.step = step;
      e.total_steps = total;
      e.loss = loss;
      e.tokens_per_second = tps;
      emit(k, &e);
    }
    return;
  }
  if (strncmp(line, TAG_ROWS, strlen(TAG_ROWS)) == 0) {
    k->stats->metric_rows += strtoll(line + strlen(TAG_ROWS), NULL, 10);
    return;
  }
  if (strcmp(line, TAG_DONE) == 0) {
    s->done = 1;
    return;
  }
  snprintf(s->tail[s->ntail % SW_LOG_TAIL], sizeof s->tail[0], "%s", line);
  s->ntail++;
  e.text = line;
  emit(k, &e);
}

/* Read what the worker wrote; returns 1 at end of file. */
static int slot_read(Coord *k, int si) {
  Slot *s = &k->slots[si];
  for (;;) {
    ssize_t r = read(s->fd, s->buf + s->nbuf, LINE_MAX_BYTES - s->nbuf);
    if (r < 0) return errno == EINTR ? 0 : (errno == EAGAIN || errno == EWOULDBLOCK) ? 0 : 1;
    if (r == 0) {
      if (s->nbuf) {
        s->buf[s->nbuf] = '\0';
        s->nbuf = 0;
        slot_line(k, si, s->buf);
      }
      return 1;
    }
    s->nbuf += (size_t)r;
    char *start = s->buf, *nl;
    while ((nl = memchr(start, '\n', (size_t)(s->buf + s->nbuf - start)))) {
      *nl = '\0';
      slot_line(k, si, start);
      start = nl + 1;
    }
    size_t left = (size_t)(s->buf + s->nbuf - start);
    if (left == LINE_MAX_BYTES) { /* an over-long line: cut it */
      s->buf[LINE_MAX_BYTES] = '\0';
      slot_line(k, si, s->buf);
      left = 0;
    }
    memmove(s->buf, start, left);
    s->nbuf = left;
  }
}

/* Slot si (its worker started) now runs the trial of claim cl: it takes the claim's strings and
** own; the START event. */
static void slot_assign(Coord *k, int si, RsClaim *cl, const SwTrial *trial, SwTrial *own, long oom0) {
  Slot *s = &k->slots[si];
  s->busy = 1;
  s->done = 0;
  s->lost = 0;
  s->ntail = 0;
  s->claim = *cl; /* takes ownership of the claim's strings, and of own */
  s->trial = trial;
  s->own = own;
  s->started = s->last_beat = tr_clock_mono();
  s->oom0 = oom0;
  k->nrun++;
  k->stats->started++;
  SwEvent ev = slot_event(k, si, cl, SW_EV_START);
  ev.claim_kind = cl->kind;
  ev.from_step = cl->checkpoint ? cl->checkpoint_step : -1;
  ev.total_steps = k->c->sample_checkpoint ? 0 : tr_config_total_steps(&trial->config);
  uint64_t seed;
  const SwProposal *why = k->c->propose && strcmp(cl->kind, "propose") == 0 ? sw_proposer_last(k->c->propose, &seed) : NULL;
  ev.text = why && why->why ? why->why : NULL;
  s->total = ev.total_steps;
  s->step = ev.from_step > 0 ? ev.from_step : 0;
  emit(k, &ev);
}

/* Hand claim cl to slot si's waiting program worker (ProgJob). 0, or -1 when it cannot take it
** (it exited meanwhile): the caller starts a new one. */
static int slot_send(Coord *k, int si, RsClaim *cl, const SwTrial *trial, SwTrial *own) {
  Slot *s = &k->slots[si];
  size_t kl = strlen(cl->kind), cpl = cl->checkpoint ? strlen(cl->checkpoint) : 0;
  ProgJob j = {cl->trial_id, cl->claim_token, cl->seed, cl->checkpoint_step, cl->promoted_step,
               cl->idx, cl->attempts, (int32_t)kl, cl->checkpoint ? (int32_t)cpl : -1};
  char buf[sizeof j + 16 + TR_PATH_MAX];
  if (kl >= 16 || cpl > TR_PATH_MAX) return -1;
  memcpy(buf, &j, sizeof j);
  memcpy(buf + sizeof j, cl->kind, kl);
  if (cpl) memcpy(buf + sizeof j + kl, cl->checkpoint, cpl);
  long oom0 = oom_kills();
  size_t n = sizeof j + kl + cpl, off = 0;
  while (off < n) { /* the worker waits in read: it takes all of it, unless it is gone */
    ssize_t w = send(s->cmd, buf + off, n - off, MSG_NOSIGNAL);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return -1;
    off += (size_t)w;
  }
  slot_assign(k, si, cl, trial, own, oom0);
  return 0;
}

/* A new worker process for slot si, running the trial of claim cl (a program sweep's serves the
** slot's next trials too). Non-zero: fatal (coord_fail called). */
static int spawn(Coord *k, int si, RsClaim *cl, const SwTrial *trial, SwTrial *own, int threads) {
  Slot *s = &k->slots[si];
  int p[2], ch[2] = {-1, -1};
  if (pipe2(p, O_CLOEXEC) != 0) return coord_fail(k, TR_EIO, "pipe: %s", strerror(errno));
  if (k->c->program && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ch) != 0) {
    close(p[0]), close(p[1]);
    return coord_fail(k, TR_EIO, "socketpair: %s", strerror(errno));
  }
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGINT);
  sigaddset(&block, SIGTERM);
  sigprocmask(SIG_BLOCK, &block, &old);
  pid_t parent = getpid();
  long oom0 = oom_kills();
  fflush(NULL);
  /* No SQLite connection may be open in this process at fork: SQLite keeps
  ** per-file state (inode list, the WAL index mapping and its dead-man lock)
  ** in process memory, which a child would inherit without the locks behind
  ** it. Closed here, reopened after; the worker opens a fresh one. */
  rs_store_close(k->st);
  k->st = NULL;
  pid_t pid = fork();
  if (pid == 0) {
    close(p[0]);
    if (ch[0] >= 0) close(ch[0]);
    for (int j = 0; j < k->c->jobs; j++) { /* other workers' ends: theirs to see closed */
      if (k->slots[j].fd >= 0) close(k->slots[j].fd);
      if (k->slots[j].cmd >= 0) close(k->slots[j].cmd);
    }
    WorkerArgs a = {k->c, trial, cl, p[1], threads, parent};
    _exit(k->c->program ? worker_programs(&a, ch[1]) : worker_main(&a));
  }
  int fork_errno = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  close(p[1]);
  if (ch[1] >= 0) close(ch[1]);
  TrErr e;
  tr_err_clear(&e);
  int rc = rs_store_open(k->c->db_path, RS_OPEN_EXISTING | RS_OPEN_KEEP_WAL, &k->st, &e);
  if (rc) coord_fail(k, rc, "%s", e.msg);
  store_tune(k->st, k->owner);
  if (pid < 0) {
    close(p[0]);
    if (ch[0] >= 0) close(ch[0]);
    return rc ? rc : coord_fail(k, TR_EIO, "fork: %s", strerror(fork_errno));
  }
  fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_NONBLOCK);
  memset(s, 0, sizeof *s);
  s->pid = pid;
  s->fd = p[0];
  s->cmd = ch[0];
  slot_assign(k, si, cl, trial, own, oom0);
  return rc; /* non-zero: the worker runs (and records itself); the coordinator cannot go on */
}

/* Record the trial of slot si, whose worker exited (wait status ws) without
** recording it: interrupted if we stopped it or its store failed (neither is the
** trial's fault), else failed; OOM-killed is failed for good (no_retry). */
static int slot_record(Coord *k, int si, int ws, int stopping, int store_exit) {
  Slot *s = &k->slots[si];
  const RsClaim *cl = &s->claim;
  int sig = WIFSIGNALED(ws) ? WTERMSIG(ws) : 0;
  int code = WIFEXITED(ws) ? WEXITSTATUS(ws) : -1;
  RsStatus status = RS_FAILED;
  if (store_exit || (stopping && (sig == SIGINT || sig == SIGTERM || sig == SIGKILL))) status = RS_INTERRUPTED;
  /* Exit 0 without recording: a serving program worker that stopped (Ctrl-C) before it read
  ** this trial (worker_programs); the trial never ran. */
  if (code == WEXIT_OK) status = RS_INTERRUPTED;
  int killed = sig == SIGKILL && status == RS_FAILED;
  long oom = killed && s->oom0 >= 0 ? oom_kills() : -1;
  int oomed = oom > s->oom0 && s->oom0 >= 0;
  const char *why = !killed ? ""
                    : oomed ? ": out of memory (killed by the kernel's OOM killer; not retried with this config)"
                    : s->oom0 < 0 ? ": out of memory, or killed"
                                  : ": killed (not by the OOM killer)";
  /* Room for the reason and every tail line, so nothing below truncates. */
  size_t cap = SW_LOG_TAIL * (sizeof s->tail[0] + 1) + 256, off = 0;
  char *msg = tr_malloc(cap);
  if (msg) {
    if (sig) off += (size_t)snprintf(msg, cap, "worker killed by signal %d (%s)%s", sig, strsignal(sig), why);
    else off += (size_t)snprintf(msg, cap, "worker exited with status %d without recording a result", code);
    int first = s->ntail > SW_LOG_TAIL ? s->ntail - SW_LOG_TAIL : 0;
    if (s->ntail > 0 && off < cap) off += (size_t)snprintf(msg + off, cap - off, "\nlast log lines:");
    for (int i = first; i < s->ntail && off < cap; i++)
      off += (size_t)snprintf(msg + off, cap - off, "\n%s", s->tail[i % SW_LOG_TAIL]);
  }
  RsTrialResult res = {NAN, NAN, -1, 0, 0, tr_clock_mono() - s->started, NAN, NULL, msg, oomed};
  int rc = rs_trial_finish(k->st, cl->trial_id, cl->claim_token, status, &res);
  free(msg);
  return rc == RS_LOST ? TR_OK : rc;
}

/* The END event of slot si, from its trial's row t. */
static void slot_emit_end(Coord *k, int si, const RsTrial *t) {
  Slot *s = &k->slots[si];
  const RsClaim *cl = &s->claim;
  SwEvent e = slot_event(k, si, cl, SW_EV_END);
  int mine = t->claim_token == cl->claim_token && t->status != RS_RUNNING;
  e.status = mine ? (int)t->status : RS_RUNNING;
  e.metric = t->best_metric;
  e.seconds = t->wall_seconds;
  e.step = t->steps;
  e.total_steps = s->total;
  e.text = mine ? t->error : "claim lost (the lease expired and another runner took the trial)";
  k->stats->n[e.status]++;
  if (mine && !isnan(t->wall_seconds)) k->stats->trial_seconds += t->wall_seconds;
  rs_sweep_counts(k->st, k->c->sweep_id, &k->counts);
  e.counts = &k->counts;
  emit(k, &e);
}

/* The trial of slot si ended: its worker exited with wait status ws, or said TAG_DONE (ws 0).
** Make sure the trial is recorded, then free the slot's trial, whatever the store says (a store
** error is fatal). */
static void slot_end(Coord *k, int si, int ws) {
  Slot *s = &k->slots[si];
  const RsClaim *cl = &s->claim;
  int store_exit = WIFEXITED(ws) && WEXITSTATUS(ws) == WEXIT_STORE;
  if (store_exit) /* its store failed, so will ours: its last log line says why */
    coord_fail(k, TR_EDB, "%s", s->ntail ? s->tail[(s->ntail - 1) % SW_LOG_TAIL] : "a worker's database write failed");
  RsTrial t;
  memset(&t, 0, sizeof t);
  int rc = k->st ? rs_trial_get(k->st, cl->trial_id, &t) : TR_EDB;
  if (rc == TR_OK && t.claim_token == cl->claim_token && t.status == RS_RUNNING && !s->lost) {
    rc = slot_record(k, si, ws, coord_stopping(k), store_exit);
    rs_trial_clear(&t);
    if (rc == TR_OK) rc = rs_trial_get(k->st, cl->trial_id, &t);
  }
  if (rc && k->st) coord_fail(k, rc, "%s", rs_store_errmsg(k->st));
  k->nrun--;
  s->busy = s->done = 0;
  if (rc == TR_OK) slot_emit_end(k, si, &t);
  rs_trial_clear(&t);
  rs_claim_clear(&s->claim);
  sw_trials_free(s->own, s->own ? 1 : 0);
  s->own = NULL;
  s->trial = NULL;
}

/* A slot without a trial, for the next one: one whose program worker waits (worker_programs),
** else one without a worker. The caller knows one is free (nrun < jobs). */
static int slot_free(Coord *k) {
  int any = -1;
  for (int i = 0; i < k->c->jobs; i++) {
    Slot *s = &k->slots[i];
    if (s->busy) continue;
    if (s->pid && s->cmd >= 0 && s->fd >= 0) return i;
    if (any < 0 || (s->pid == 0 && k->slots[any].pid)) any = i;
  }
  return any;
}

/* Slot si's worker, without a trial, was reaped: what it wrote last to the view, its channels closed. */
static void slot_reaped(Coord *k, int si) {
  Slot *s = &k->slots[si];
  if (s->fd >= 0) { /* what it wrote last (a failure's log line) goes to the view */
    slot_read(k, si);
    close(s->fd);
  }
  if (s->cmd >= 0) close(s->cmd);
  s->fd = s->cmd = -1;
  s->pid = 0;
}

/* Slot si's waiting worker could not take a trial (it is exiting): SIGKILL, reap, free the slot. */
static void slot_drop(Coord *k, int si) {
  kill(k->slots[si].pid, SIGKILL);
  while (waitpid(k->slots[si].pid, NULL, 0) < 0 && errno == EINTR) {
  }
  slot_reaped(k, si);
}

/* A bayes sweep's claimed trial, remade from its stored params (sw_proposer_trial): ours or
** another runner's proposal. TR_EINVAL (why says it) when this spec does not make it. */
static int claimed_trial(Coord *k, const RsClaim *cl, SwTrial **own, char *why, size_t n) {
  RsTrial t;
  int rc = rs_trial_get(k->st, cl->trial_id, &t);
  if (rc) {
    snprintf(why, n, "%s", rs_store_errmsg(k->st));
    return rc == TR_EINVAL ? TR_EDB : rc;
  }
  TrErr e;
  tr_err_clear(&e);
  rc = sw_proposer_trial(k->c->propose, cl->idx, t.params, t.hash, own, &e);
  if (rc) snprintf(why, n, "%s", e.msg);
  rs_trial_clear(&t);
  return rc;
}

static size_t coord_expire_dead(Coord *k); /* below, with the runner's name */


/* Take free slots while there is work and no stop: the flag is read before every
** claim (a Ctrl-C at -j 300 claims nothing more). Returns 1 when the sweep is done. */
static int coord_fill(Coord *k, int threads, double *next_claim, double *backoff) {
  const SwSchedConfig *c = k->c;
  while (!coord_stopping(k) && k->nrun < c->jobs && tr_clock_mono() >= *next_claim) {
    RsClaim cl;
    int et = c->early_terminate && c->early_terminate->enabled && !c->sample_checkpoint;
    RsClaimHooks h = {c->pbt_spec ? sched_pbt_promote : et ? sched_promote : NULL, (void *)c,
                      c->propose ? sw_proposer_propose : NULL, c->propose, c->propose ? sw_proposer_cap(c->propose) : 0,
                      scan_checkpoints(c)};
    int rc = rs_trial_claim_hooked(k->st, c->sweep_id, k->worker, k->lease, c->max_attempts < 1 ? 1 : c->max_attempts,
                                   &h, &cl);
    if (rc) {
      const TrErr *pe = c->propose ? sw_proposer_error(c->propose) : NULL;
      coord_fail(k, rc, "%s", pe && pe->code ? pe->msg : rs_store_errmsg(k->st));
      return 0;
    }
    if (!cl.claimed) {
      int64_t others = cl.running - k->nrun;
      int done = cl.running == 0 && k->nrun == 0;
      if (done) *next_claim = INFINITY;
      else if (others <= 0) *next_claim = INFINITY; /* ours only: claim again when one ends */
      else if (coord_expire_dead(k) > 0) *next_claim = tr_clock_mono(); /* a dead runner's: reclaim now */
      else {
        double wait = cl.wait_seconds > 0.05 && cl.wait_seconds < *backoff ? cl.wait_seconds + 0.05 : *backoff;
        *next_claim = tr_clock_mono() + wait;
        *backoff = fmin(*backoff * 2, BACKOFF_MAX);
      }
      rs_claim_clear(&cl);
      return done;
    }
    *backoff = BACKOFF_MIN;
    SwTrial *own = NULL;
    char why[TR_ERR_MSG_MAX] = "trial index not in this expansion of the spec";
    if (c->propose ? (rc = claimed_trial(k, &cl, &own, why, sizeof why)) != TR_OK
                   : cl.idx < 0 || (size_t)cl.idx >= c->n_trials) {
      if (rc && rc != TR_EINVAL) return coord_fail(k, rc, "%s", why), 0;
      RsTrialResult res = {NAN, NAN, -1, 0, 0, NAN, NAN, NULL, why, 1};
      rc = rs_trial_finish(k->st, cl.trial_id, cl.claim_token, RS_FAILED, &res);
      rs_claim_clear(&cl);
      if (rc && rc != RS_LOST) coord_fail(k, rc, "%s", rs_store_errmsg(k->st));
      continue;
    }
    int si = slot_free(k);
    const SwTrial *trial = own ? own : &c->trials[cl.idx];
    if (k->slots[si].pid && slot_send(k, si, &cl, trial, own) == 0) continue;
    if (k->slots[si].pid) slot_drop(k, si); /* it could not take the trial: it is exiting */
    if (spawn(k, si, &cl, trial, own, threads) && !k->slots[si].busy) { /* else the slot owns them */
      rs_claim_clear(&cl);
      sw_trials_free(own, own ? 1 : 0);
    }
  }
  return 0;
}

/* Signal every worker. */
static void coord_kill(Coord *k, int sig) {
  for (int i = 0; i < k->c->jobs; i++)
    if (k->slots[i].pid) kill(k->slots[i].pid, sig);
}

/* Wait for output, an exit, a heartbeat, a claim retry or a tick; read the pipes. */
static void coord_wait(Coord *k, struct pollfd *pfd, int *pslot, double next_tick, double next_claim,
                       double beat_every, int can_claim) {
  double wake = next_tick;
  if (can_claim) wake = fmin(wake, next_claim); /* else a claim time in the past would make this spin */
  for (int i = 0; i < k->c->jobs; i++)
    if (k->slots[i].busy) wake = fmin(wake, k->slots[i].last_beat + beat_every);
  int timeout = (int)ceil((wake - tr_clock_mono()) * 1000);
  if (timeout < 0) timeout = 0;
  if (timeout > 250) timeout = 250;
  /* A worker whose pipe closed is exiting, but waitpid(WNOHANG) may have run a moment too
  ** early, and nothing else wakes us for it: look again soon, not at the next tick (a
  ** 200 ms gap between quick trials). */
  for (int i = 0; i < k->c->jobs; i++)
    if (k->slots[i].pid && k->slots[i].fd < 0 && timeout > 2) timeout = 2;
  int np = 0;
  for (int i = 0; i < k->c->jobs; i++)
    if (k->slots[i].pid && k->slots[i].fd >= 0) {
      pfd[np] = (struct pollfd){k->slots[i].fd, POLLIN, 0};
      pslot[np++] = i;
    }
  if (poll(pfd, (nfds_t)np, timeout) > 0)
    for (int j = 0; j < np; j++)
      if (pfd[j].revents && slot_read(k, pslot[j])) {
        close(k->slots[pslot[j]].fd);
        k->slots[pslot[j]].fd = -1;
      }
}

/* End the trials whose worker said TAG_DONE or exited; reap exited workers. Returns how many
** slots were freed. */
static int coord_reap(Coord *k) {
  int n = 0;
  for (int i = 0; i < k->c->jobs; i++) {
    Slot *s = &k->slots[i];
    if (s->busy && s->done) { /* recorded: the worker waits for the next trial */
      slot_end(k, i, 0);
      n++;
    }
    if (!s->pid) continue;
    int ws;
    pid_t r = waitpid(s->pid, &ws, WNOHANG);
    if (r == 0 || (r < 0 && errno == EINTR)) continue;
    if (s->fd >= 0) { /* everything it wrote is in the pipe now */
      slot_read(k, i);
      close(s->fd);
      s->fd = -1;
    }
    if (r < 0) ws = 0;
    if (s->busy) slot_end(k, i, s->done ? 0 : ws);
    slot_reaped(k, i);
    n++;
  }
  return n;
}

/* The sweep is over here: the waiting program workers see their channel closed and exit. */
static void coord_shutdown(Coord *k) {
  for (int i = 0; i < k->c->jobs; i++)
    if (k->slots[i].cmd >= 0) close(k->slots[i].cmd), k->slots[i].cmd = -1;
  for (int i = 0; i < k->c->jobs; i++)
    if (k->slots[i].pid) {
      while (waitpid(k->slots[i].pid, NULL, 0) < 0 && errno == EINTR) {
      }
      slot_reaped(k, i);
    }
}

/* Extend the leases that are due; a lost claim stops its worker. */
static void coord_beat(Coord *k, double beat_every) {
  double now = tr_clock_mono();
  for (int i = 0; i < k->c->jobs && k->st; i++) {
    Slot *s = &k->slots[i];
    if (!s->busy || s->lost || now - s->last_beat < beat_every) continue;
    int rc = rs_trial_heartbeat(k->st, s->claim.trial_id, s->claim.claim_token, k->lease);
    s->last_beat = now;
    if (rc == RS_LOST) {
      s->lost = 1;
      kill(s->pid, SIGTERM);
    } else if (rc) {
      coord_fail(k, rc, "%s", rs_store_errmsg(k->st));
    }
  }
}

static void coord_tick(Coord *k) {
  if (!k->st || rs_sweep_counts(k->st, k->c->sweep_id, &k->counts) != TR_OK) return; /* the view only */
  SwEvent e;
  memset(&e, 0, sizeof e);
  e.kind = SW_EV_TICK;
  e.slot = -1;
  e.idx = -1;
  e.counts = &k->counts;
  emit(k, &e);
}

/* Stop the workers: SIGTERM at the first stop (they checkpoint and record
** themselves interrupted), SIGKILL at a second Ctrl-C or SW_STOP_GRACE seconds
** after a fatal error (a worker stuck on a broken store must not keep us). */
static void coord_stop_workers(Coord *k, int *forwarded, int *killed, double *stop_at) {
  const SwSchedConfig *c = k->c;
  if (!coord_stopping(k)) return;
  if (!*forwarded) {
    coord_kill(k, SIGTERM);
    *forwarded = 1;
    *stop_at = tr_clock_mono();
  }
  if (!*killed && ((c->stop && *c->stop >= 2) || (k->fatal && tr_clock_mono() - *stop_at > SW_STOP_GRACE))) {
    coord_kill(k, SIGKILL);
    *killed = 1;
  }
}

/* The name claims are made under: the configured one, else "HOST:PID" with our owner identity
** (boot, pid namespace, start time: rs_schema.h v4). */
static void coord_name(Coord *k) {
  if (k->c->worker) {
    snprintf(k->worker, sizeof k->worker, "%s", k->c->worker);
    return;
  }
  snprintf(k->host, sizeof k->host, "localhost");
  gethostname(k->host, sizeof k->host - 1);
  k->host[sizeof k->host - 1] = '\0';
  snprintf(k->worker, sizeof k->worker, "%s:%ld", k->host, (long)getpid());
  char boot[64];
  unsigned long long ns = tr_os_pid_ns(), start = 0;
  tr_os_boot_id(boot, sizeof boot);
  if (boot[0] && ns && tr_os_proc_start(getpid(), &start) == 0)
    snprintf(k->owner, sizeof k->owner, "%s %llu %llu", boot, ns, start);
}

/* RsOwnerDeadFn: the runner holding a claim is certainly dead: it ran on our host, boot and pid
** namespace (its owner says so) and its pid is gone, or belongs to a process started at another
** time (the pid was reused). Anything else (another host, unknown owner, alive): not dead. */
static int owner_dead(void *ctx, const char *worker, const char *owner) {
  const Coord *k = ctx;
  const char *colon = worker ? strrchr(worker, ':') : NULL;
  if (!k->owner[0] || !owner || !colon || (size_t)(colon - worker) != strlen(k->host) ||
      strncmp(worker, k->host, (size_t)(colon - worker)) != 0)
    return 0;
  char boot[64], my_boot[64];
  unsigned long long ns, start, my_ns, my_start, ticks;
  char *end;
  long pid = strtol(colon + 1, &end, 10);
  if (*end || pid <= 0 || pid == (long)getpid() || sscanf(owner, "%63s %llu %llu", boot, &ns, &start) != 3 ||
      sscanf(k->owner, "%63s %llu %llu", my_boot, &my_ns, &my_start) != 3 || strcmp(boot, my_boot) != 0 || ns != my_ns)
    return 0;
  int r = tr_os_proc_start((pid_t)pid, &ticks);
  return r == 1 || (r == 0 && ticks != start);
}

/* End the leases of our host's dead runners now (their trials are then reclaimed at once, not after
** the lease): at the start and whenever the claims wait for other runners' leases. */
static size_t coord_expire_dead(Coord *k) {
  size_t n = 0;
  if (!k->owner[0]) return 0;
  if (rs_trials_expire_dead(k->st, k->c->sweep_id, owner_dead, k, &n))
    coord_fail(k, rs_store_errcode(k->st), "%s", rs_store_errmsg(k->st));
  return n;
}

/* Threads per trial (OpenBLAS's and the kernels' one pool): configured, else the cores shared among the jobs (at least 1). */
static int trial_threads(const SwSchedConfig *c) {
  if (c->threads_per_trial > 0) return c->threads_per_trial;
  long cores = sysconf(_SC_NPROCESSORS_ONLN);
  int threads = cores > 0 ? (int)(cores / c->jobs) : 1;
  return threads < 1 ? 1 : threads;
}

int sw_sched_run(const SwSchedConfig *c, SwSchedStats *stats, TrErr *err) {
  SwSchedStats dummy;
  if (!stats) stats = &dummy;
  memset(stats, 0, sizeof *stats);
  if (!c || !c->db_path || (!c->trials && !c->propose) || c->jobs < 1 || !c->runs_dir || !c->metric)
    return tr_err_set(err, TR_EINVAL, "scheduler: missing database, trials, runs directory or metric");
  double t0 = tr_clock_mono();
  Coord k;
  memset(&k, 0, sizeof k);
  k.c = c;
  k.stats = stats;
  k.err = err;
  k.lease = c->lease_seconds > 0 ? c->lease_seconds : sw_sched_default_lease();
  coord_name(&k);
  /* The coordinator's own BLAS (the GP's factorisations) on one thread: OpenBLAS's OpenMP
     pool, once started, does not survive fork and the workers would hang (tr_par.h). */
  openblas_set_num_threads(1);
  int threads = trial_threads(c);
  char runs[TR_PATH_MAX];
  snprintf(runs, sizeof runs, "%s", c->runs_dir);
  if (tr_mkdirs(runs) != 0) return tr_err_set(err, TR_EIO, "%s: cannot create: %s", c->runs_dir, strerror(errno));
  int rc = rs_store_open(c->db_path, RS_OPEN_EXISTING | RS_OPEN_KEEP_WAL, &k.st, err);
  if (rc) return rc;
  store_tune(k.st, k.owner);
  k.slots = tr_calloc((size_t)c->jobs, sizeof *k.slots);
  struct pollfd *pfd = tr_calloc((size_t)c->jobs, sizeof *pfd);
  int *pslot = tr_calloc((size_t)c->jobs, sizeof *pslot);
  if (!k.slots || !pfd || !pslot) {
    free(k.slots);
    free(pfd);
    free(pslot);
    rs_store_close(k.st);
    return tr_err_set(err, TR_ENOMEM, "scheduler: out of memory");
  }
  for (int i = 0; i < c->jobs; i++) k.slots[i].fd = k.slots[i].cmd = -1;
  /* A write over `ulimit -f` fails with EFBIG (a store error like any) instead of killing us. */
  struct sigaction ign, old_xfsz;
  memset(&ign, 0, sizeof ign);
  ign.sa_handler = SIG_IGN;
  sigaction(SIGXFSZ, &ign, &old_xfsz);

  coord_expire_dead(&k); /* a dead runner of this host: its trials come first, now */
  coord_tick(&k); /* the view starts with the totals */
  int forwarded = 0, killed = 0, done = 0;
  double next_claim = 0, backoff = BACKOFF_MIN, next_tick = 0, beat_every = k.lease / 6, stop_at = 0;
  for (;;) {
    coord_stop_workers(&k, &forwarded, &killed, &stop_at);
    if (!done) done = coord_fill(&k, threads, &next_claim, &backoff);
    if (k.nrun == 0 && (done || coord_stopping(&k))) break;
    coord_wait(&k, pfd, pslot, next_tick, next_claim, beat_every,
               !coord_stopping(&k) && !done && k.nrun < c->jobs);
    if (coord_reap(&k)) next_claim = 0;
    coord_beat(&k, beat_every);
    if (tr_clock_mono() >= next_tick) {
      next_tick = tr_clock_mono() + TICK_EVERY;
      coord_tick(&k);
    }
  }
  coord_shutdown(&k);
  stats->stopped = c->stop && *c->stop;
  if (stats->stopped || k.fatal) { /* where the store still allows it */
    TrErr ignored;
    if (k.st || rs_store_open(c->db_path, RS_OPEN_EXISTING, &k.st, &ignored) == TR_OK)
      rs_trials_mark_interrupted(k.st, c->sweep_id, k.worker, NULL);
  }
  sigaction(SIGXFSZ, &old_xfsz, NULL);
  free(pfd);
  free(pslot);
  free(k.slots);
  rs_store_close(k.st);
  stats->wall_seconds = tr_clock_mono() - t0;
  return k.fatal;
}
