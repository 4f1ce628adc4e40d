/*
** rs_backend.h: what a store backend implements (private to results/rs_*.c).
**
** Contract: rs_store.c owns the handle, checks arguments and read-only mode,
** then calls the backend through RsStoreOps. A backend keeps its connection in
** st->impl and reports failures with rs_store_fail() (message on the handle).
** Adding PostgreSQL = one rs_pg.c filling RsStoreOps + a branch in rs_store_open.
*/
#ifndef RS_BACKEND_H
#define RS_BACKEND_H

#include "rs_store.h"

typedef struct RsStoreOps {
  const char *name;
  void (*close)(RsStore *st);
  sqlite3 *(*sqlite)(RsStore *st);
  int (*sweep_upsert)(RsStore *st, const char *name, const char *spec_text,
                      const char *spec_hash, const char *method, const char *metric,
                      const char *goal, int64_t seed, const char *task, int64_t *sweep_id);
  int (*sweep_get)(RsStore *st, const char *name, RsSweep *out);
  int (*sweeps_list)(RsStore *st, RsSweep **out, size_t *n);
  int (*sweep_counts)(RsStore *st, int64_t sweep_id, RsCounts *out);
  int (*trials_insert)(RsStore *st, int64_t sweep_id, size_t n, RsTrialDefFn fn, void *ctx,
                       size_t *n_inserted); /* fn: checked by rs_store.c, fails with a message */
  int (*trial_claim)(RsStore *st, int64_t sweep_id, const char *worker, double lease_seconds,
                     int max_attempts, RsClaim *out);
  int (*trial_heartbeat)(RsStore *st, int64_t trial_id, int64_t token, double lease_seconds);
  int (*trial_set_checkpoint)(RsStore *st, int64_t trial_id, int64_t token, const char *path,
                              int64_t step);
  int (*trial_reset)(RsStore *st, int64_t trial_id, int64_t token);
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
} RsStoreOps;

struct RsStore {
  const RsStoreOps *ops;
  void *impl;                 /* backend connection state */
  char *path;                 /* file path or URL, for messages */
  int readonly;
  double (*now)(void *ctx);   /* unix seconds */
  int reclaim_max;            /* RS_RECLAIM_MAX unless set */
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
double rs_store_now(RsStore *st);
/* strdup that tolerates NULL; sets *oom on allocation failure. */
char *rs_strdup(const char *s, int *oom);

/* The SQLite backend (rs_sqlite.c): fills st->ops/impl or fails with err. */
int rs_sqlite_open(RsStore *st, const char *path, int flags, TrErr *err);

#endif
