/*
** rs_backend.h: what a store backend implements (private to results/rs_*.c).
**
** Contract: rs_store.c owns the handle, checks arguments, read-only mode and open snapshots
** (a write on a read-only handle never reaches the backend), then calls the
** backend through RsStoreOps. A backend keeps its connection in st->impl and
** reports failures with rs_store_fail() (message on the handle). Every SQL
** statement of hpsweep lives in a backend: rs_query.c, rs_report.c and cli/
** build on the operations below only. A backend implements every entry:
** - writes: one transaction each, retried as a whole on lock contention;
** - reads that fill owned structs (sweep_get .. trial_keys): consistent on their own;
** - walks (trials_each .. sweep_export): rows go to a callback with borrowed
**   strings, each row once (no retry after a row went out), in the order the
**   header states; a callback's non-zero return stops the walk and is returned;
** - snapshot_begin/end: every read in between sees one state of the database.
** The per-trial work of a walk must stay flat: one statement per sweep, never
** one per trial (100,000-trial sweeps).
** Adding PostgreSQL = one rs_pg.c filling RsStoreOps + a branch in rs_store_open;
** tests/test_rs_conformance.c (HPS_TEST_STORE_URL) is the proof.
*/
#ifndef RS_BACKEND_H
#define RS_BACKEND_H

#include "rs_store.h"

typedef struct sqlite3 sqlite3;

/* A copy's source: walks every row of the sweep into sink (rs_sweep_rows_each), as often as the
** target's transaction runs. */
typedef int (*RsCopyFeedFn)(void *ctx, RsCopyRowFn sink, void *sink_ctx);

typedef struct RsStoreOps {
  const char *name;
  void (*close)(RsStore *st);
  int (*sweep_upsert)(RsStore *st, const char *name, const char *spec_text,
                      const char *spec_hash, const char *method, const char *metric,
                      const char *goal, int64_t seed, const char *task, int64_t *sweep_id);
  int (*sweep_get)(RsStore *st, const char *name, RsSweep *out);
  int (*sweeps_list)(RsStore *st, RsSweep **out, size_t *n);
  int (*sweep_counts)(RsStore *st, int64_t sweep_id, RsCounts *out);
  int (*trials_insert)(RsStore *st, int64_t sweep_id, size_t n, RsTrialDefFn fn, void *ctx,
                       size_t *n_inserted); /* fn: checked by rs_store.c, fails with a message */
  int (*trial_claim)(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds,
                     int max_attempts, const RsClaimHooks *hooks, RsClaim *out);
  int (*trial_judge)(RsStore *st, int64_t trial_id, int64_t token, RsJudgeFn fn, void *ctx,
                     RsVerdict *out, int *applied);
  int (*trial_heartbeat)(RsStore *st, int64_t trial_id, int64_t token, double lease_seconds);
  int (*trial_set_checkpoint)(RsStore *st, int64_t trial_id, int64_t token, const char *path,
                              int64_t step);
  int (*trial_reset)(RsStore *st, int64_t trial_id, int64_t token);
  int (*trial_resume_at)(RsStore *st, int64_t trial_id, int64_t token, const char *path, int64_t step);
  int (*trial_finish)(RsStore *st, int64_t trial_id, int64_t token, RsStatus status,
                      const RsTrialResult *res);
  int (*trials_mark_interrupted)(RsStore *st, int64_t sweep_id, const char *worker,
                                 size_t *n_marked);
  int (*trial_get)(RsStore *st, int64_t trial_id, RsTrial *out);
  int (*trials_running)(RsStore *st, int64_t sweep_id, RsRunning **out, size_t *n);
  int (*metrics_put)(RsStore *st, int64_t trial_id, int64_t token, size_t n,
                     const RsMetric *rows);
  int (*metrics_read)(RsStore *st, int64_t trial_id, const char *name, RsPoint **out,
                      size_t *n);
  int (*event_add)(RsStore *st, int64_t sweep_id, int64_t trial_id, const char *kind,
                   const char *message);
  int (*sweep_delete)(RsStore *st, const char *name, int64_t *n_trials);
  int (*trial_keys)(RsStore *st, int64_t sweep_id, RsTrialKey **out, size_t *n);
  /* reads */
  int (*snapshot_begin)(RsStore *st);
  void (*snapshot_end)(RsStore *st);
  int (*trials_each)(RsStore *st, int64_t sweep_id, RsTrialFn fn, void *ctx);
  int (*trial_best)(RsStore *st, int64_t sweep_id, int maximize, unsigned statuses, RsTrial *out);
  int (*sweep_param_keys)(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx);
  int (*sweep_param_values)(RsStore *st, int64_t sweep_id, RsParamFn fn, void *ctx);
  int (*sweep_metric_names)(RsStore *st, int64_t sweep_id, RsNameFn fn, void *ctx);
  int (*sweep_metric_agg)(RsStore *st, int64_t sweep_id, const char *name, RsAgg agg, RsTrialValueFn fn,
                          void *ctx);
  int (*sweep_metrics_each)(RsStore *st, int64_t sweep_id, const char *const *names, size_t n,
                            RsMetricRowFn fn, void *ctx);
  int (*trials_span)(RsStore *st, int64_t *lo, int64_t *hi, int64_t *n);
  int (*sweep_export)(RsStore *st, int64_t sweep_id, int metrics, const char *const *keys, size_t nkeys,
                      RsRowFn fn, void *ctx);
  int (*sweep_mean_seconds)(RsStore *st, int64_t sweep_id, double *out);
  int (*trial_config_int)(RsStore *st, int64_t trial_id, const char *key, int64_t *out);
  int (*sweep_events_each)(RsStore *st, int64_t sweep_id, const char *kind, RsEventFn fn, void *ctx);
  /* copy (rs_sweep_copy): the source's walk, the target's load (one write transaction: the
  ** target may re-run feed on a retry), and a text telling two stores apart */
  int (*sweep_rows)(RsStore *st, const char *name, RsCopyRowFn fn, void *ctx);
  int (*sweep_load)(RsStore *st, const char *name, int replace, RsCopyFeedFn feed, void *feed_ctx,
                    RsCopyStats *out);
  int (*store_identity)(RsStore *st, char *buf, size_t n);
  int (*trials_expire_dead)(RsStore *st, int64_t sweep_id, RsOwnerDeadFn dead, void *ctx, size_t *n);
} RsStoreOps;

struct RsStore {
  const RsStoreOps *ops;
  void *impl;                 /* backend connection state */
  char *path;                 /* file path or URL, for messages */
  int readonly;
  int snapshot;               /* rs_store_snapshot_begin holds a read transaction: no writes */
  double (*now)(void *ctx);   /* unix seconds */
  int reclaim_max;            /* RS_RECLAIM_MAX unless set */
  char owner[160];            /* trials.owner of this handle's claims, "" none (rs_store_set_owner) */
  void *now_ctx;
  int errcode;
  char errmsg[TR_ERR_MSG_MAX];
};

/* Set the handle's message ("PATH: " is prefixed) and return code. */
int rs_store_fail(RsStore *st, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* The same with the message as given: a view's text that names the file itself. */
int rs_store_say(RsStore *st, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
double rs_store_now(RsStore *st);
/* 1 when the handle runs on the real clock (no rs_store_set_clock): a server backend then
** measures leases and timestamps with the server's clock, so hosts with skewed clocks agree. */
int rs_store_clock_is_real(const RsStore *st);
/* strdup that tolerates NULL; sets *oom on allocation failure. */
char *rs_strdup(const char *s, int *oom);

/* The modifier bits of rs_store_open's flags: flags & ~RS_OPEN_MODIFIERS is the mode. A backend
** sees RS_OPEN_PATIENT set wherever RS_OPEN_KEEP_WAL is (rs_store_open adds it). */
#define RS_OPEN_MODIFIERS (RS_OPEN_KEEP_WAL | RS_OPEN_PATIENT)

/* The SQLite backend (rs_sqlite.c): fills st->ops/impl or fails with err. */
int rs_sqlite_open(RsStore *st, const char *path, int flags, TrErr *err);
/* ---- shared by the backends (rs_backend.c): the same rows whatever the database ---- */

/* A trial failed for good after its lease expired reclaims + 1 times: the reason (error, event). */
void rs_give_up_text(int reclaims, char *why, size_t n);
/* A claimed row's fields decided: kind (proposed: the row is the proposal's), a retry or a
** trial without checkpoint starts from step 0, a promotion resumes from its checkpoint, the token. */
void rs_claim_settle(RsClaim *o, RsStatus was, int proposed, int64_t token);
/* The claim event's message and detail (proposal: the proposal's detail, may be NULL or ""). */
void rs_claim_text(const RsClaim *o, RsStatus was, const char *worker, const char *prev_worker, int64_t to_step,
                   const char *proposal, char *msg, size_t nmsg, char *detail, size_t ndetail);
/* A finish's event message (one line); returns its kind ("complete", "fail", ...). */
const char *rs_finish_text(RsStatus status, const RsTrialResult *r, char *msg, size_t n);
/* The best value of a curve by goal and its step (NaN, -1 for an empty curve). */
void rs_curve_best(const RsCurve *c, int maximize, double *best, int64_t *best_step);
/* Find trial_id's curve (*self) among the sweep's n curves and judge it with fn into out; failures
** carry a message. */
int rs_judge_curves(RsStore *st, const RsCurve *c, size_t n, int64_t trial_id, RsJudgeFn fn, void *ctx,
                    RsVerdict *out, size_t *self);
/* Is the verdict to be written now (a pause waits until the checkpoint holds the curve's last step)? */
int rs_verdict_ready(const RsVerdict *v, const RsCurve *c, int64_t ckpt_step);
/* An exploit verdict (PBT) checked before it is written: *copy = 1 when it copies a source
** (source_trial > 0, with checkpoint, config and params), 0 when it only records the step it was
** decided at (trials.rung); a copy missing one of them fails with a message. */
int rs_exploit_check(RsStore *st, const RsVerdict *v, int64_t trial_id, int *copy);
/* An RsTrialFn copying the walk's one row into ctx (an RsTrial, its strings owned). */
int rs_trial_copy(void *ctx, const RsTrial *t);
/* A parameter key safe to quote into SQL (no quote or backslash). */
int rs_plain_key(const char *k);

/* The PostgreSQL backend (rs_pg.c, built only with libpq: HPS_HAVE_LIBPQ): fills st->ops/impl
** or fails with err. */
int rs_pg_open(RsStore *st, const char *url, int flags, TrErr *err);
/* The URL with any password replaced by "***" (user:PASS@ and password=PASS), malloc'd; NULL: out of memory. */
char *rs_pg_url_redacted(const char *url);
/* The SQLite backend's connection, NULL for another backend: a seam for the tests
** that check SQLite's query plans; no code outside results/rs_sqlite.c uses it. */
sqlite3 *rs_sqlite_db(RsStore *st);

/* What a backend's rs_trials_expire_dead transaction works on. */
typedef struct RsExpireArgs {
  int64_t sweep_id;
  RsOwnerDeadFn dead;
  void *ctx;
  size_t n;           /* leases ended */
} RsExpireArgs;
/* The "expire" event's message of a trial whose runner `worker` is dead. */
void rs_expire_text(const char *worker, char *msg, size_t n);

/* ---- copy (rs_sweep_copy): what both backends share ---- */

#define RS_COPY_MAXCOL 32
/* The type letters of the table's columns (rs_copy_columns order): 'i' integer, 'r' real, 't' text. */
const char *rs_copy_types(RsCopyTable t);
/* "p.a, p.b, ..." (prefix "" or "m.") of the table's columns into buf; TR_EINVAL if it does not fit. */
int rs_copy_column_list(RsCopyTable t, const char *prefix, char *buf, size_t n);

/* A backend's writer of a copy, driven by rs_copy_sink inside the backend's write transaction. */
typedef struct RsCopyWriter {
  RsStore *st;
  const char *name;    /* the sweep's name in the target (sweeps.name is written so) */
  int replace;
  RsCopyStats *stats;
  /* the target's sweep `name`: 1 in *exists, and with replace deleted (as rs_sweep_delete) */
  int (*clear)(struct RsCopyWriter *w, int *exists);
  /* whether a row of table t has an id in [lo, hi], and the largest id of t (0 if none) */
  int (*ids)(struct RsCopyWriter *w, RsCopyTable t, int64_t lo, int64_t hi, int *taken, int64_t *max);
  /* one row (already mapped) */
  int (*put)(struct RsCopyWriter *w, RsCopyTable t, const RsValue *vals);
  void *impl;          /* the backend's state */
  int started;         /* the sweeps row came: target cleared, shifts chosen */
  int64_t replaced_trials; /* clear deleted a sweep of that many trials */
  RsValue vals[RS_COPY_MAXCOL];
  char *text[2];       /* an exploit event's message and detail, rewritten */
} RsCopyWriter;
/* The RsCopyRowFn a backend's load hands its feed (ctx: the RsCopyWriter): clears the target,
** chooses the id shifts at the sweeps row, maps every row's ids and calls put. */
int rs_copy_sink(void *ctx, const RsCopyPlan *plan, RsCopyTable t, const RsValue *vals);
void rs_copy_writer_free(RsCopyWriter *w);
/* The "delete" event's message of the sweep a copy replaced (logged after the copy's rows, so the ids the
** old sweep freed stay free for them), or NULL if it replaced none. */
const char *rs_copy_replace_text(const RsCopyWriter *w, char *buf, size_t n);

#endif
