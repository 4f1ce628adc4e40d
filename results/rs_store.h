/*
** rs_store.h: the results store: sweeps, trials, their metrics and an event log.
**
** Contract:
** - One handle (RsStore) for writers and readers, one per process (or thread);
**   never carry a handle across fork(). Read commands open it RS_OPEN_READONLY:
**   every write then fails with TR_EINVAL ("store opened read-only") and never
**   reaches the backend. rs_query.h builds the result views on the reads below.
**   rs_store_open() picks the backend from the URL: "postgresql://..." or "postgres://..."
**   (rs_pg.c, a libpq URL; built when libpq is found, else a clear error; messages show the
**   URL with its password as ***), anything else is a path to an SQLite file (schema:
**   rs_schema.h, PRAGMA application_id 'HPSW' + user_version).
** - PostgreSQL: every write is one transaction, re-run as a whole on serialization
**   failures, deadlocks and lost connections (the connection reset with backoff) for
**   RS_BUSY_BUDGET seconds (a read: once more on a new connection if nothing went out yet); leases and timestamps use the server's clock unless a test clock
**   is set; a handle opened with RS_OPEN_KEEP_WAL or RS_OPEN_PATIENT (a running sweep's) also retries a failed
**   connection for RS_BUSY_BUDGET seconds, so a server restart mid-sweep is waited out.
** - Every function returns TR_OK or a TrCode; the message of the last failure is
**   on the handle (rs_store_errmsg), one line naming the file. Nothing prints.
**   Out of memory is TR_ENOMEM, never a crash.
** - Memory: what a function returns through an out-pointer is the caller's, freed
**   with the function named next to it (rs_sweep_clear, rs_trial_clear, free()...);
**   strings a walk callback receives are borrowed for that call only.
** - Writers never fail on a lock: WAL mode, a busy timeout, and every transaction
**   is retried as a whole on SQLITE_BUSY (RS_BUSY_BUDGET seconds in all).
**   Readers (RS_OPEN_READONLY) never block a writer and are never blocked.
** - A claim gives a trial to exactly one worker: trials.claim_token is bumped at
**   every claim and every write about the run (heartbeat, metrics, checkpoint,
**   finish) is conditional on (token matches, status running). A write with a
**   stale token changes nothing and returns RS_LOST.
** - Durability: state changes (claim, finish, checkpoint, interrupt) commit with
**   synchronous=FULL (survive power loss); metrics batches commit with NORMAL
**   (survive kill -9 of the process; a power loss may drop the last batches,
**   which a resume from checkpoint rewrites anyway).
*/
#ifndef RS_STORE_H
#define RS_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "tr_err.h"

typedef struct RsStore RsStore;

/* The claim was taken by someone else (lease expired and reclaimed, or the
** trial was marked interrupted): stop working on it, record nothing more. */
#define RS_LOST TR_ENOTFOUND

/* A trial whose lease expired (its runner died or hung) is reclaimed at most this
** many times without a new checkpoint in between; the next expiry makes it failed
** for good ("lease expired N times without progress"). A checkpoint resets the count. */
#define RS_RECLAIM_MAX 3

/* Seconds a write keeps retrying SQLITE_BUSY before it gives up (an open
** write transaction in an sqlite3 shell is the only realistic cause). */
#define RS_BUSY_BUDGET 600.0

enum {
  RS_OPEN_CREATE = 0,   /* read-write; create the file (RS_SCHEMA_VERSION) if missing;
                           an older schema is migrated */
  RS_OPEN_EXISTING = 1, /* read-write; the file must exist; an older schema is migrated */
  RS_OPEN_READONLY = 2, /* read-only (SQLITE_OPEN_READONLY, WAL): status, reports; an
                           older schema (>= 1) is read as it is;
                           immutable in a read-only directory with no -shm */
  RS_OPEN_KEEP_WAL = 0x100, /* or'ed with a read-write mode, for the many short-lived
                           handles of a running sweep (the scheduler's): closing one never
                           checkpoints or deletes the WAL (what the last close of an SQLite
                           connection does), which cost ~5 fsyncs per trial; automatic
                           checkpoints still bound the WAL, and the run's last ordinary
                           close folds it into the database file; on PostgreSQL it also
                           means RS_OPEN_PATIENT */
  RS_OPEN_PATIENT = 0x200 /* or'ed with a read-write mode: on PostgreSQL a failed connection is
                           retried for RS_BUSY_BUDGET seconds (a running sweep's end, whose
                           server may be restarting); SQLite ignores it */
};

/* pruned: stopped early by the sweep's early termination (for good); paused: stopped at a
** rung with its checkpoint, waiting for a promotion (rs_trial_claim's hook) that resumes it.
** A sweep ends with none paused: what no promotion took is made pruned (schema v3). */
typedef enum RsStatus {
  RS_PENDING, RS_RUNNING, RS_COMPLETED, RS_FAILED, RS_DIVERGED, RS_INTERRUPTED, RS_PRUNED, RS_PAUSED
} RsStatus;
#define RS_STATUS_COUNT 8
#define RS_STATUS_BIT(s) (1u << (s)) /* a set of statuses: RS_STATUS_BIT(RS_COMPLETED) | ... */
const char *rs_status_name(RsStatus s); /* "pending", ... as stored in trials.status */
int rs_status_parse(const char *name);  /* RsStatus, or -1 */

/* ---- handle ---- */

/* On failure *out is NULL and err says why ("FILE: not an SQLite database"). */
int rs_store_open(const char *url, int flags, RsStore **out, TrErr *err);
void rs_store_close(RsStore *st); /* NULL: no-op */
const char *rs_store_errmsg(const RsStore *st);
int rs_store_errcode(const RsStore *st); /* the code of that failure, TR_OK if none */
const char *rs_store_path(const RsStore *st);
/* Test seam: the clock (unix seconds) used for leases and timestamps; NULL restores the real one. */
void rs_store_set_clock(RsStore *st, double (*now)(void *ctx), void *ctx);
/* The reclaim cap of this handle's claims (n < 0: RS_RECLAIM_MAX, the default). */
void rs_store_set_reclaim_max(RsStore *st, int n);
/* What this handle's claims record in trials.owner beside the worker name (rs_schema.h v4:
** "BOOT_ID PIDNS START" of the claiming runner); NULL or "": NULL. Copied (up to 159 bytes). */
void rs_store_set_owner(RsStore *st, const char *owner);

/* ---- sweeps ---- */

typedef struct RsCounts {
  int64_t n[RS_STATUS_COUNT]; /* indexed by RsStatus */
  int64_t total;
  int64_t stale;              /* of n[RS_RUNNING]: lease expired (the runner died or hangs) */
} RsCounts;

typedef struct RsSweep {
  int64_t id;
  char *name, *spec, *spec_hash, *method, *metric, *goal, *task; /* owned: rs_sweep_clear */
  int64_t seed;
  double created;
  /* The summary: filled by rs_sweep_find / rs_query_sweeps (rs_query.h), zero otherwise. */
  int maximize;                    /* goal == "maximize" */
  int64_t n_trials;
  int64_t count[RS_STATUS_COUNT];  /* trials by RsStatus */
  double best;                     /* best best_metric by goal of trials not failed/diverged, NaN if none */
  int64_t best_trial;              /* its trial id, -1 if none */
} RsSweep;
void rs_sweep_clear(RsSweep *s);
void rs_sweeps_free(RsSweep *v, size_t n);

/* Create the sweep, or return the id of the existing one with this name and the
** same spec_hash; a different spec_hash is TR_EINVAL (the spec changed). */
int rs_sweep_upsert(RsStore *st, const char *name, const char *spec_text, const char *spec_hash,
                    const char *method, const char *metric, const char *goal, int64_t seed,
                    const char *task, int64_t *sweep_id);
int rs_sweep_get(RsStore *st, const char *name, RsSweep *out); /* TR_ENOTFOUND if none */
/* Delete the sweep and everything recorded about it (its trials, their metrics, its events) in
** one transaction, logging a "delete" event; n_trials (may be NULL) gets how many trials went.
** TR_ENOTFOUND if there is no such sweep. While any of its trials runs under a live lease
** (another runner works on it) nothing is deleted: TR_EINVAL. `run --replace` uses it. */
int rs_sweep_delete(RsStore *st, const char *name, int64_t *n_trials);
int rs_sweeps_list(RsStore *st, RsSweep **out, size_t *n);     /* by id; rs_sweeps_free */

int rs_sweep_counts(RsStore *st, int64_t sweep_id, RsCounts *out);

/* ---- trials ---- */

typedef struct RsTrialDef {
  int idx;
  const char *hash;        /* 16 hex digits */
  const char *config_json; /* canonical JSON of the full config */
  const char *params_json; /* {"optimizer.lr": 0.001} */
  int64_t seed;
} RsTrialDef;

/* A sweep's trials as (id, idx, hash), by idx: what a sweep's identity check compares. */
typedef struct RsTrialKey {
  int64_t id;
  int idx;
  char hash[17];
} RsTrialKey;
int rs_trial_keys(RsStore *st, int64_t sweep_id, RsTrialKey **out, size_t *n); /* *out: free() */

/* One transaction; a trial already there (same sweep, same hash) is left as is.
** n_inserted (may be NULL) gets the number of new rows. */
int rs_trials_insert(RsStore *st, int64_t sweep_id, size_t n, const RsTrialDef *defs,
                     size_t *n_inserted);
/* The same, with trial i's definition made on demand by fn(ctx, i, &def) inside the
** transaction; def's strings need only live until the next call, so a sweep of 100,000
** trials never holds every config's JSON at once. fn returns TR_OK or an error code
** (the transaction is then rolled back: nothing is inserted). */
typedef int (*RsTrialDefFn)(void *ctx, size_t i, RsTrialDef *def);
int rs_trials_insert_each(RsStore *st, int64_t sweep_id, size_t n, RsTrialDefFn fn, void *ctx,
                          size_t *n_inserted);

typedef struct RsClaim {
  int claimed;          /* 1: the fields below describe our trial; 0: nothing claimable now */
  int64_t trial_id, claim_token, seed, checkpoint_step;
  int idx, attempts;    /* attempts includes this claim */
  char *config_json;    /* owned: rs_claim_clear */
  char *checkpoint;     /* NULL: start from step 0; else resume from it (checkpoint_step) */
  const char *kind;     /* static: "claim" | "resume" | "reclaim" | "retry" | "promote" | "propose" */
  int64_t promoted_step; /* the checkpoint step its latest promotion resumed from, -1 none: a resume
                           from that same checkpoint is past that rung already (no new pause) */
  /* when !claimed: */
  int64_t running;      /* trials running under someone's lease: wait and claim again; 0: done */
  double wait_seconds;  /* until the earliest of those leases expires (then it is reclaimable) */
} RsClaim;
void rs_claim_clear(RsClaim *c);

/* Atomically take the next trial, in this order: interrupted ones ("resume"), then
** running ones whose lease expired ("reclaim": a dead worker's), then pending
** ("claim"), then failed ones with failures < max_attempts and not no_retry
** ("retry"); by idx within each (pruned and paused trials never: a paused one only
** through rs_trial_claim_promoting's hook). Only failures use up max_attempts (1 +
** max_retries): interruptions and reclaims never do. A trial already reclaimed
** RS_RECLAIM_MAX times since its last checkpoint whose lease expired again is not
** claimed but made failed, no_retry, "lease expired N times without progress: the
** worker keeps dying". The claimed trial
** becomes running for `worker` until now + lease_seconds; attempts and claim_token
** are bumped (reclaims too for a reclaim). A retry starts from scratch (checkpoint
** forgotten); otherwise with a checkpoint at step k, metrics after k are deleted,
** without one all its metrics are (one transaction). trials.rung is cleared, except in a PBT
** sweep (sweeps.method 'pbt') resuming from a checkpoint at or after it. An event is logged. */
int rs_trial_claim(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds,
                   int max_attempts, RsClaim *out);
/* Early termination with promotions (ASHA): the paused trial to promote now, as an index into
** curves (the sweep's curves of its metric, RsCurve below), or -1 (none: start a new trial);
** *to_step may get where the promotion goes (the next rung), for the event; -1 if unknown.
** Called inside the claim's write transaction (and again if it is retried): decide from the
** curves only, no side effects. */
struct RsCurve;
typedef long (*RsPromoteFn)(void *ctx, const struct RsCurve *curves, size_t n, int64_t *to_step);
/* rs_trial_claim with a promotion hook (promote NULL: the same as rs_trial_claim). Order:
** resume, reclaim, then, when the sweep has paused trials, the trial promote() names,
** claimed as kind "promote" from its checkpoint (an event "promote" with from_rung and
** to_step in its detail), then pending, then retry. When nothing is claimable and no trial
** runs under a live lease, the paused trials left are made pruned ("not promoted") in the
** same transaction, so the sweep ends with none paused. One transaction: a promotion is
** applied once, whoever crashes when. */
int rs_trial_claim_promoting(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds,
                             int max_attempts, RsPromoteFn promote, void *promote_ctx, RsClaim *out);
/* Model-based search (method bayes): a sweep's trials as a model reads them inside the claim's
** write transaction, by idx, every status. */
typedef struct RsProposeTrial {
  int64_t trial_id;
  int idx;
  RsStatus status;
  const char *params;   /* trials.params (JSON), borrowed for the call */
  double best;          /* trials.best_metric: finished trials, and pruned/paused ones (their values
                           so far, recorded by rs_trial_judge); NaN when none (running, pending) */
  int64_t steps;        /* trials.steps, -1 if NULL: where a pruned trial stopped */
} RsProposeTrial;
/* What a proposal callback gives: n trial definitions (n = 0: propose nothing, e.g. the sweep
** reached its target), idx from next_idx on; defs and their strings stay the callback's until
** its next call. detail: a JSON object for the "propose" event (the proposal's seed...). */
typedef struct RsProposal {
  size_t n;
  const RsTrialDef *defs;
  char detail[256];
} RsProposal;
/* Called inside the claim's write transaction (and again if it is retried): decide from the
** trials only, no side effects; an error code aborts the claim (nothing written). */
typedef int (*RsProposeFn)(void *ctx, const RsProposeTrial *trials, size_t n, int next_idx, RsProposal *out);
typedef struct RsClaimHooks {
  RsPromoteFn promote;  /* NULL: no promotions (rs_trial_claim_promoting) */
  void *promote_ctx;
  RsProposeFn propose;  /* NULL: no proposals; the trials inserted up front are the sweep */
  void *propose_ctx;
  int64_t cap;          /* propose only while the sweep has fewer trials than this */
  int keep_metrics;     /* 1: the claim deletes no metrics; the caller decides where the run resumes
                           and calls rs_trial_resume_at before it logs anything (a checkpoint newer
                           than the recorded one may be on disk: its rows must stay) */
} RsClaimHooks;
/* rs_trial_claim_promoting with proposals (hooks NULL or all NULL: rs_trial_claim). When
** nothing else is claimable (resume, reclaim, promotion, pending, retry) and the sweep has
** fewer than hooks->cap trials, propose() gets the sweep's trials and next_idx (1 + the largest
** idx); the trials it defines are inserted and the first is claimed at once, kind "propose",
** with an event "propose" (detail: the proposal's), all in the claim's one transaction: other
** runners see them at once (nobody proposes the same point), and a crash leaves either nothing
** or the claimed trial (reclaimed when its lease expires). A definition whose hash the sweep
** already holds, or more trials than the cap, is TR_EINVAL (nothing written). */
int rs_trial_claim_hooked(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds, int max_attempts,
                          const RsClaimHooks *hooks, RsClaim *out);
/* Extend the lease to now + lease_seconds; RS_LOST if the claim is gone. */
int rs_trial_heartbeat(RsStore *st, int64_t trial_id, int64_t claim_token, double lease_seconds);
/* Record the latest checkpoint (path, step it holds) and reset trials.reclaims (the
** trial progresses); RS_LOST if the claim is gone. */
int rs_trial_set_checkpoint(RsStore *st, int64_t trial_id, int64_t claim_token, const char *path,
                            int64_t step);
/* The claimed checkpoint could not be loaded: forget it and delete all the trial's
** metrics so the run restarts from step 0 with a clean curve. */
int rs_trial_reset(RsStore *st, int64_t trial_id, int64_t claim_token);
/* The run resumes from checkpoint `path` holding `step` (path NULL or step < 0: from step 0):
** record it as the trial's checkpoint (reclaims unchanged: no progress yet) and delete the
** trial's metrics after that step (all of them from step 0), one transaction; RS_LOST if the
** claim is gone. What a claim with keep_metrics leaves to its caller. */
int rs_trial_resume_at(RsStore *st, int64_t trial_id, int64_t claim_token, const char *path, int64_t step);

typedef struct RsTrialResult {
  double final_metric, best_metric; /* NaN: NULL */
  int64_t best_step;                /* < 0: NULL */
  int64_t steps, tokens;
  double wall_seconds, flops;
  const char *summary_json;         /* may be NULL */
  const char *error;                /* failed/diverged: reason + last log lines; may be NULL */
  int no_retry;                     /* RS_FAILED: a retry with the same config would fail the
                                       same way (OOM-killed): never retry it */
} RsTrialResult;
/* status: RS_COMPLETED, RS_FAILED, RS_DIVERGED or RS_INTERRUPTED. res may be NULL
** (nothing measured). RS_FAILED counts one failure (trials.failures); the others
** count none. RS_LOST if the claim is gone (then nothing is written). */
int rs_trial_finish(RsStore *st, int64_t trial_id, int64_t claim_token, RsStatus status,
                    const RsTrialResult *res);
/* Ctrl-C: this worker's running trials of the sweep (sweep_id <= 0: of every
** sweep) become interrupted, claimable again for a resume. n_marked may be NULL.
** If the write fails because the WAL cannot grow (disk full, `ulimit -f`), the WAL
** is checkpointed and truncated (freeing its space) and the write tried once more. */
int rs_trials_mark_interrupted(RsStore *st, int64_t sweep_id, const char *worker,
                               size_t *n_marked);

typedef struct RsTrial {
  int64_t id, sweep_id, seed, claim_token;
  int idx, attempts;
  RsStatus status;
  char *hash, *config, *params, *worker, *summary, *error, *checkpoint; /* owned; NULL if NULL */
  double lease_until, started, ended;             /* NaN if NULL */
  double final_metric, best_metric, wall_seconds, flops; /* NaN if NULL */
  int64_t best_step, steps, tokens, checkpoint_step;     /* -1 if NULL */
  int64_t rung;            /* pruned/paused: the band (iterations) or rung (steps) of the decision; PBT:
                              the last step the member was decided at; -1 if none */
} RsTrial;
void rs_trial_clear(RsTrial *t);
int rs_trial_get(RsStore *st, int64_t trial_id, RsTrial *out); /* TR_ENOTFOUND if none */

/* For a status view: the sweep's running trials with their latest progress. One
** whose lease_until has passed is stale: its runner died or hangs (it is reclaimed
** by the next runner); heartbeat tells since when. */
typedef struct RsRunning {
  int64_t trial_id;
  int idx, attempts;
  char *worker, *params;   /* owned: rs_running_free */
  double started, lease_until;
  double heartbeat;        /* last heard from its runner (claim or heartbeat); NaN if unknown (v1 file) */
  int64_t step, tokens;    /* of the latest metrics row, -1 if none yet */
  double seconds;          /* idem, NaN if none */
  double train_loss, val_loss; /* latest values, NaN if none */
} RsRunning;
int rs_trials_running(RsStore *st, int64_t sweep_id, RsRunning **out, size_t *n);
void rs_running_free(RsRunning *v, size_t n);

/* One trial's curve of the sweep metric, as early termination (sw_prune.h) reads it
** inside a store transaction: finite values only, by step. A sweep's curves come by
** idx, every trial of the sweep (pending ones with n = 0). */
typedef struct RsCurve {
  int64_t trial_id;
  int idx;
  RsStatus status;
  int completed;           /* finished its run (completed; not failed, diverged or pruned) */
  int paused;              /* paused at a rung, waiting for a promotion */
  size_t n;
  const int64_t *step;     /* (n) ascending */
  const double *value;     /* (n) finite */
  int64_t rung;            /* trials.rung, -1 if NULL (PBT: the last step the trial was decided at) */
  int64_t checkpoint_step; /* trials.checkpoint_step, -1 if NULL */
  const char *params;      /* trials.params (JSON), "{}" if NULL */
} RsCurve;

/* Same-host reclaim: is the runner that holds a claim dead? worker and owner as the trial row holds
** them (owner may be NULL). 1: certainly dead (its lease may end now); 0: alive or unknown. Called
** inside a write transaction (again if it is retried): no side effects. */
typedef int (*RsOwnerDeadFn)(void *ctx, const char *worker, const char *owner);
/* The sweep's running trials under a live lease whose holder dead() says is dead get their lease
** ended now (lease_until = now: the next claim reclaims them, as after an expiry, counting a reclaim),
** with an event "expire" each ("runner HOST:PID is gone: its lease ends now"); one transaction.
** *n (may be NULL) gets how many. */
int rs_trials_expire_dead(RsStore *st, int64_t sweep_id, RsOwnerDeadFn dead, void *ctx, size_t *n);

/* ---- early termination: judging a running trial ---- */

/* What early termination decides about a running trial (sweep/ maps its own verdict here). */
typedef enum RsVerdictAction {
  RS_VERDICT_KEEP = 0, RS_VERDICT_PRUNE, RS_VERDICT_PAUSE, RS_VERDICT_EXPLOIT
} RsVerdictAction;
typedef struct RsVerdict {
  int action;         /* RsVerdictAction */
  int64_t rung;       /* band (iterations) or rung (steps) of the decision: trials.rung */
  char reason[256];   /* one line: the event's message (and trials.error of a pruned trial) */
  char detail[1024];  /* a JSON object for events.detail ({"band": 3, "threshold": 8, ...}), "" none */
  /* RS_VERDICT_EXPLOIT (population-based training): source_trial > 0 copies that trial's
  ** checkpoint; the strings are the callback's, read during the call only. */
  int64_t source_trial;
  const char *checkpoint; /* the source's checkpoint file holding step `rung` (never rewritten) */
  const char *config;     /* the trial's config from now on (canonical JSON) */
  const char *params;     /* its params from now on (JSON) */
} RsVerdict;
/* Decide about curves[self] from the curves alone (called inside a write transaction, again if
** it is retried: no side effects); fill out, return TR_OK (an error code aborts the judgment). */
typedef int (*RsJudgeFn)(void *ctx, const RsCurve *curves, size_t n, size_t self, RsVerdict *out);
/* Judge the trial inside ONE write transaction while the claim holds (else RS_LOST, nothing
** written): load the sweep's curves of its metric, call fn, and apply the verdict:
** - prune: status pruned, ended, lease cleared, reason in trials.error, rung, the metric's
**   final/best values and steps from its curve; an event "prune" (message reason, detail);
** - pause: only once the trial's recorded checkpoint holds the step where its curve ends
**   (a paused trial always resumes exactly there): then status paused, lease cleared, rung,
**   metric values and steps, an event "pause". Before that *applied = 0: the caller stops
**   the run at that step, records its checkpoint (rs_trial_set_checkpoint) and judges again.
** - exploit (population-based training): the trial stays running under its claim; trials.rung =
**   rung (the step it was decided at: a judge reading rung >= that step decides nothing again,
**   so a decision is applied once whoever crashes when); with source_trial > 0 also checkpoint
**   = out->checkpoint at step rung, config and params replaced, reclaims reset, its metrics
**   after rung deleted, and an event "exploit" (message reason, detail: the lineage record).
**   The caller then resumes the run from that checkpoint with the new config.
** *applied (may be NULL) gets 1 when the verdict was written; out always gets the verdict. */
int rs_trial_judge(RsStore *st, int64_t trial_id, int64_t claim_token, RsJudgeFn fn, void *ctx,
                   RsVerdict *out, int *applied);

/* ---- metrics ---- */

typedef struct RsMetric {
  int64_t step, tokens;
  double seconds, value;
  const char *name;
} RsMetric;
/* One transaction, INSERT OR REPLACE on (trial, name, step), only while the claim
** holds (token matches, status running): else RS_LOST and nothing is written. */
int rs_metrics_put(RsStore *st, int64_t trial_id, int64_t claim_token, size_t n,
                   const RsMetric *rows);

typedef struct RsPoint {
  int64_t step, tokens;
  double seconds, value;
} RsPoint;
/* One metric's curve, by step; *out is malloc'd (free()). */
int rs_metrics_read(RsStore *st, int64_t trial_id, const char *name, RsPoint **out, size_t *n);

/* Buffered metrics writer for a trial loop. Policy: rows accumulate in memory
** and go to the store in one transaction when `max_rows` are waiting or
** `max_seconds` passed since the last flush (checked at each append), and at
** rs_metricbuf_flush(). Defaults (0 given): 512 rows, 1.0 s. A RS_LOST flush
** drops the rows and is sticky: every later call returns RS_LOST. */
#define RS_METRIC_NAME_MAX 48
typedef struct RsMetricBuf {
  RsStore *st;
  int64_t trial_id, claim_token;
  size_t max_rows, n;
  double max_seconds, last_flush; /* monotonic seconds */
  int lost;
  RsMetric *rows;                 /* (max_rows,) names point into `names` */
  char (*names)[RS_METRIC_NAME_MAX]; /* (max_rows,) */
} RsMetricBuf;
int rs_metricbuf_init(RsMetricBuf *b, RsStore *st, int64_t trial_id, int64_t claim_token,
                      size_t max_rows, double max_seconds);
void rs_metricbuf_deinit(RsMetricBuf *b); /* does not flush */
int rs_metricbuf_add(RsMetricBuf *b, int64_t step, int64_t tokens, double seconds,
                     const char *name, double value);
int rs_metricbuf_flush(RsMetricBuf *b);

/* ---- events ---- */

/* Append to the log; trial_id <= 0 and sweep_id <= 0 store NULL. */
int rs_event_add(RsStore *st, int64_t sweep_id, int64_t trial_id, const char *kind,
                 const char *message);

/* One row of the event log, as a walk hands it (strings borrowed for the call). */
typedef struct RsEvent {
  int64_t id, trial_id;   /* trial_id -1 if NULL */
  double time;
  const char *kind, *message, *detail; /* message and detail NULL if NULL */
} RsEvent;
typedef int (*RsEventFn)(void *ctx, const RsEvent *e);
/* The sweep's events of kind `kind` (NULL: every kind), by id (the order they happened). */
int rs_sweep_events_each(RsStore *st, int64_t sweep_id, const char *kind, RsEventFn fn, void *ctx);

/* ---- reads: the primitives of the result views (rs_query.h) ----
** Walks hand each row to a callback (strings borrowed for the call); a callback's
** non-zero return stops the walk and is returned, with a message on the handle.
** Every walk costs one pass over the sweep, never a query per trial. */

/* Every read between begin and end sees one state of the store (a read transaction);
** a write on the handle meanwhile fails with TR_EINVAL. begin twice is a no-op; end
** without begin too. */
int rs_store_snapshot_begin(RsStore *st);
void rs_store_snapshot_end(RsStore *st);

/* The sweep's trials by idx (then id), as result rows: the claim state (worker, lease,
** checkpoint, summary) is not filled. */
typedef int (*RsTrialFn)(void *ctx, const RsTrial *t);
int rs_trials_each(RsStore *st, int64_t sweep_id, RsTrialFn fn, void *ctx);
/* The trial with the best best_metric by goal (ties: lowest idx) among those whose status is
** in `statuses` (RS_STATUS_BIT set), as a result row (rs_trial_clear); TR_ENOTFOUND if none. */
int rs_trial_best(RsStore *st, int64_t sweep_id, int maximize, unsigned statuses, RsTrial *out);

typedef int (*RsNameFn)(void *ctx, const char *name);
/* The keys of trials.params, in spec order: by the first trial (idx) holding them, then
** their position in its object. */
int rs_sweep_param_keys(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx);
typedef struct RsParamValue {
  int64_t trial_id;
  const char *key;
  const char *text; /* the JSON value's text: 0.001, adamw, true, null */
  int numeric;      /* a JSON number */
  double num;       /* its value when numeric, else NaN */
} RsParamValue;
typedef int (*RsParamFn)(void *ctx, const RsParamValue *v);
/* Every (trial, key, value) of the sweep's trials.params, in no particular order. */
int rs_sweep_param_values(RsStore *st, int64_t sweep_id, RsParamFn fn, void *ctx);

/* The distinct metric names recorded for the sweep's trials, sorted. */
int rs_sweep_metric_names(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx);
typedef enum RsAgg { RS_AGG_MIN, RS_AGG_MAX, RS_AGG_LAST } RsAgg;
typedef int (*RsTrialValueFn)(void *ctx, int64_t trial_id, int64_t step, double value);
/* One value of metric `name` per trial that has it: the minimum or maximum (with the step
** holding it) or the last step's value; trials in no particular order. */
int rs_sweep_metric_agg(RsStore *st, int64_t sweep_id, const char *name, RsAgg agg, RsTrialValueFn fn,
                        void *ctx);
typedef int (*RsMetricRowFn)(void *ctx, int64_t trial_id, const char *name, double value);
/* The rows of metrics names[0..n) (1 <= n <= 32) of the sweep's trials, by trial id then step. */
int rs_sweep_metrics_each(RsStore *st, int64_t sweep_id, const char *const *names, size_t n,
                          RsMetricRowFn fn, void *ctx);

/* The trial ids of the whole store: lowest, highest (-1 if none) and how many. */
int rs_trials_span(RsStore *st, int64_t *lo, int64_t *hi, int64_t *n);

/* Export rows: with metrics = 0 the sweep's trials by idx, columns trial, idx, hash, status,
** seed, attempts, one column per key of keys[0..nkeys) (its value in params; keys holding
** a quote or backslash are skipped), best_metric, final_metric, best_step, steps, tokens,
** wall_seconds, flops, started, ended, params, error; with metrics = 1 every metric row
** (trial, name, step, tokens, seconds, value) by trial, name, step. fn is called once with
** vals NULL (the header: the column names) before the rows. */
typedef enum RsValType { RS_VAL_NULL, RS_VAL_INT, RS_VAL_REAL, RS_VAL_TEXT } RsValType;
typedef struct RsValue {
  RsValType type;
  int64_t i;
  double d;
  const char *s;
} RsValue;
typedef int (*RsRowFn)(void *ctx, size_t ncol, const char *const *names, const RsValue *vals);
int rs_sweep_export(RsStore *st, int64_t sweep_id, int metrics, const char *const *keys, size_t nkeys,
                    RsRowFn fn, void *ctx);

/* ---- copying a sweep between stores (hpsweep copy) ----
** A sweep's rows are those of four tables: its sweeps row, its trials, their metrics, and its events
** (sweep_id the sweep's, or trial_id one of its trials). trial_counts, trial_params and trials_view
** are derived (triggers or views). Every column of schema v3 is carried, in the order
** rs_copy_columns gives, with its type: INTEGER columns as RS_VAL_INT, REAL as RS_VAL_REAL (also
** infinities; NaN is never stored), TEXT as RS_VAL_TEXT, NULL as RS_VAL_NULL. */
typedef enum RsCopyTable { RS_COPY_SWEEPS, RS_COPY_TRIALS, RS_COPY_METRICS, RS_COPY_EVENTS } RsCopyTable;
#define RS_COPY_TABLES 4
/* The table's name and its columns (static); *ncol gets their number. */
const char *rs_copy_table_name(RsCopyTable t);
const char *const *rs_copy_columns(RsCopyTable t, size_t *ncol);
/* What a walk of a sweep's rows holds, known before its first row. */
typedef struct RsCopyPlan {
  int64_t rows[RS_COPY_TABLES];          /* rows of each table */
  int64_t lo[RS_COPY_TABLES], hi[RS_COPY_TABLES]; /* id range of sweeps, trials, events (-1: no rows;
                                            metrics have no id) */
} RsCopyPlan;
/* One row: vals[rs_copy_columns(table)], borrowed for the call. */
typedef int (*RsCopyRowFn)(void *ctx, const RsCopyPlan *plan, RsCopyTable table, const RsValue *vals);
/* Every row of sweep `name`, in one read transaction: the sweeps row, then its trials by id,
** their metrics by (trial_id, name, step), its events by id. TR_ENOTFOUND "no sweep named 'X'"
** if there is none. A walk (rs_store.h reads): a non-zero return of fn stops it. */
int rs_sweep_rows_each(RsStore *st, const char *name, RsCopyRowFn fn, void *ctx);

/* What a copy did. Ids: the target keeps the source's ids when no row of the target uses one in
** the source's range of that table (a fresh store, or ids that happen to be free); otherwise the
** rows of that table get the source's ids plus shift[table] (the same constant for every row, so
** order and gaps stay: the first free id after the target's largest), and every reference to
** them follows (trials.sweep_id, metrics.trial_id, events.sweep_id and trial_id, and the trial
** ids an exploit event of population-based training names in its message and detail). */
typedef struct RsCopyStats {
  int64_t rows[RS_COPY_TABLES];  /* rows written to each table */
  int64_t shift[RS_COPY_TABLES]; /* 0: the ids were kept */
  int replaced;                  /* the target held a sweep of that name and it was replaced */
} RsCopyStats;
/* Progress of a copy: rows written so far of total (called at most every 4096 rows and at the end). */
typedef void (*RsCopyProgressFn)(void *ctx, int64_t done, int64_t total);
/* Copy sweep `name` with every row of it (above) from `from` to `to`, named `as` there (NULL: the
** same name; the only column a copy changes besides ids), in one write transaction of `to`
** (nothing is written unless all is: a failure or a kill leaves the target as it was) reading
** `from` in one read transaction. Refused (TR_EINVAL, nothing written): the two handles open
** the same store (also with another name: a copy within a store would share run directories);
** `to` holds a sweep of that name and !replace; with replace, that sweep has a trial running
** under a live lease. replace deletes the target's sweep first (as rs_sweep_delete, in the
** same transaction). TR_ENOTFOUND: no such sweep in `from`. The message goes to err (one line
** naming the store). out (may be NULL) gets what was done. */
int rs_sweep_copy(RsStore *from, RsStore *to, const char *name, const char *as, int replace,
                  RsCopyProgressFn progress, void *progress_ctx, RsCopyStats *out, TrErr *err);

/* Mean wall_seconds of the sweep's completed or diverged trials that took any (NaN if none). */
int rs_sweep_mean_seconds(RsStore *st, int64_t sweep_id, double *out);
/* An integer of the trial's config by dotted key ("train.max_steps"); -1 if absent or null;
** TR_ENOTFOUND if there is no such trial. */
int rs_trial_config_int(RsStore *st, int64_t trial_id, const char *key, int64_t *out);

#endif
