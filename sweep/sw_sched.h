/*
** sw_sched.h: the sweep scheduler: trials from the store, each trained by
** tr_run in its own worker process, several at a time, crash-safe.
**
** Contract:
** - sw_sched_prepare() records a sweep and its expanded trials in the store
**   (rs_sweep_upsert + rs_trials_insert: one row per trial, never duplicated;
**   a spec whose trial set changed under the same name is an error).
** - sw_sched_run() is the coordinator: it claims trials (rs_trial_claim: atomic,
**   so any number of coordinators on one database share the work), forks one
**   worker process per trial of the built-in trainer (program sweeps: below; at
**   most `jobs` trials at once) and waits for them. The
**   coordinator holds the claims' leases (a heartbeat every lease/6 seconds);
**   a worker opens its OWN store handle after fork, trains with tr_run and
**   writes metrics (batched), checkpoints and its final row itself. A write
**   with a lost claim changes nothing and stops the worker.
** - Program sweeps (program set): one worker per slot serves the slot's trials one
**   after the other (no fork and no store opened per trial: issue 11's per-trial
**   overhead). The coordinator claims as above and hands each next claim to the
**   slot's waiting worker over a socket; the worker, with the one store handle it
**   opened after fork, runs the trial's program (sw_program.h) and records it like
**   a per-trial worker, then says so on its pipe and waits for the next. Every
**   failure that ends a per-trial worker (store, setup) ends a serving worker the
**   same way, and the slot's next trial gets a new one; a serving worker that
**   exits 0 without recording its trial (it stopped before it took it) leaves the
**   trial interrupted. When the sweep ends here the coordinator closes the sockets
**   and waits for the workers.
** - No SQLite connection is open in the coordinator's process at a fork (the
**   library's per-file state, kept in process memory, would be inherited
**   without the locks behind it): sw_sched_run closes its own handle around
**   each fork, and its caller must hold no store handle open while it runs.
** - A worker that dies (signal, non-zero exit) without recording its result is
**   recorded `failed` by the coordinator, with the signal or exit code and the
**   worker's last SW_LOG_TAIL log lines. Failed trials are retried while their
**   failures < max_attempts (interruptions and reclaims do not count); a retry
**   starts from step 0. A worker SIGKILLed while the system's OOM-kill count
**   (/proc/vmstat oom_kill) rose was OOM-killed: failed with no_retry (the same
**   config would be killed again); any other SIGKILL is an ordinary failure, and
**   so is every SIGKILL where the kernel reports no such count.
** - Any store error (the coordinator's, or a worker's: exit WEXIT_STORE) is fatal:
**   claim nothing more, SIGTERM the workers (SIGKILL after SW_STOP_GRACE s),
**   record their trials interrupted where the store still allows, and return
**   the first error (one line naming the file). SIGXFSZ is ignored in the
**   coordinator (while it runs) and the workers: a write over `ulimit -f` fails
**   with EFBIG like any write.
** - *stop (set by the caller's SIGINT/SIGTERM handler) = 1: claim nothing more
**   (the flag is read before every claim), workers stop at their next step, save
**   a checkpoint and are recorded `interrupted` (claimable again, resumed from
**   that checkpoint); >= 2: kill the workers, their trials are marked interrupted. If the coordinator is
**   killed (kill -9) its workers get SIGTERM (PR_SET_PDEATHSIG) and stop the
**   same way; trials whose worker died too are reclaimed when their lease expires.
** - Same-host reclaim: claims record the runner's owner (boot id, pid namespace, start time:
**   rs_store_set_owner, trials.owner); at its start and whenever it waits for others' leases a
**   runner ends the live leases of its own host, boot and namespace whose runner is gone (pid
**   gone, or reused by a process started at another time: rs_trials_expire_dead), so their
**   trials are reclaimed at once. A configured worker name (SwSchedConfig.worker) records none.
** - Checkpoint scan (built-in trainer trials, not samples, programs or PBT members): claims keep
**   the metrics (RsClaimHooks.keep_metrics); a reclaimed or resumed trial resumes from the
**   ckpt.bin the previous claim's run left in its attempt directory when it loads, has the
**   trial's config (tr_ckpt_config_hash) and is newer than the recorded checkpoint (a kill
**   between a save's rename and its record), else from the recorded one, and cuts the stored curve there
**   (rs_trial_resume_at; an event "rescan" for a newer file). The rows up to a checkpoint are
**   flushed before its file is written (TrRunHooks.before_checkpoint), so the curve is complete.
** - Trials are trained from the expansion given (SwTrial.config, whose hash the
**   row carries); the run control added here (threads, out_dir, checkpoint
**   interval) does not enter that hash, nor the checkpoint's config identity.
**   Checkpoints live in <runs_dir>/<trial hash>/<attempt>/: one directory per
**   claim, so a worker that lost its trial (and still saves as it stops) never
**   replaces the file the new owner resumes from. A resume hard-links the
**   claimed checkpoint and requires the step the store recorded with it (the
**   stored curve ends there); otherwise the trial restarts from step 0
**   (rs_trial_reset). A checkpoint interval of 0 becomes eval_interval. A worker
**   starting a trial removes the checkpoint temporaries a killed writer left in the
**   trial's directories (tr_ckpt_temps_remove: never one a live writer holds).
** - Early termination (early_terminate enabled; sw_prune.h decides, docs/early-termination.md):
**   right after each new finite value of the sweep metric the worker flushes its metrics and
**   judges the trial (rs_trial_judge over sw_prune_judge: one store transaction, so -j N and
**   several runners decide alike). Prune: the trainer stops at that step (a program gets
**   SIGTERM, SW_PROGRAM_GRACE s, SIGKILL) and the trial is pruned. Pause (ASHA with
**   promotions): the trainer stops at that step and saves its checkpoint there, which is
**   recorded, then the trial becomes paused; a program is paused only when it resumes by
**   itself (SwSchedProgram.resumes: stopped as for a prune, its run directory recorded as
**   the checkpoint at that step), else it runs on. Rows after the decision's step are not
**   recorded. Claims pass the promotion hook (sw_prune_promote): a promoted trial resumes
**   from its checkpoint, bit-identical to a run straight through; paused trials nobody
**   promotes end pruned when nothing else is left (rs_trial_claim_promoting).
** - Method bayes (propose set, sw_propose.h): no trial is expanded up front. Every claim passes
**   the proposal hook (rs_trial_claim_hooked, cap sw_proposer_cap): when nothing else is
**   claimable, the claim proposes, inserts and claims the next configuration's trials in one
**   store transaction, so -j N and several runners never propose the same point. The trial a
**   claim returns (ours or another runner's proposal) is remade from its stored params
**   (sw_proposer_trial); one this spec does not make is failed, not retried.
** - Sample sweeps (sample_checkpoint set): a worker runs sw_infer_run with the
**   same hooks; no checkpoints, an interrupted trial runs again from the start.
** - Test seams (environment, read by workers): HPS_TEST_CRASH="IDX:SIG[:ATTEMPT]"
**   raises signal SIG at the first step of trial IDX (only on that attempt if
**   given); HPS_TEST_STEP_DELAY_MS=N sleeps N ms per logged step;
**   HPS_TEST_VMSTAT=FILE stands in for /proc/vmstat (its oom_kill count);
**   HPS_TEST_CRASH_AFTER_SAVE=STEP: the worker SIGKILLs its runner and itself right after the
**   checkpoint of STEP is in place, before it is recorded. The lease
**   defaults to HPS_LEASE_SECONDS when set, else SW_LEASE_SECONDS; HPS_RECLAIM_MAX
**   sets the store's reclaim cap (RS_RECLAIM_MAX).
** - Library code: nothing printed (the worker's own stdout/stderr go into the
**   pipe to the coordinator); progress reaches the caller as SwEvents.
*/
#ifndef SW_SCHED_H
#define SW_SCHED_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "rs_store.h"
#include "sw_expand.h"
#include "sw_spec.h"
#include "tr_err.h"

#define SW_LEASE_SECONDS 30.0
#define SW_LOG_TAIL 20 /* log lines of a crashed worker kept in its error text */

typedef enum {
  SW_EV_START,    /* a worker took a trial (claim_kind, from_step) */
  SW_EV_PROGRESS, /* step, loss, tokens_per_second of a running trial */
  SW_EV_LOG,      /* a log line of a worker (text) */
  SW_EV_END,      /* a worker exited: status, metric, seconds, text = error or reason */
  SW_EV_TICK      /* periodic (about 4 per second): counts refreshed, redraw */
} SwEventKind;

typedef struct SwEvent {
  SwEventKind kind;
  int slot;                /* worker slot, 0..jobs-1 (-1 for TICK) */
  int idx;                 /* trial index in the sweep */
  int64_t trial_id;
  int attempt;
  const char *claim_kind;  /* START: "claim" | "resume" | "reclaim" | "retry" | "promote" */
  const char *params;      /* the trial's params JSON */
  int64_t step, total_steps, from_step; /* total 0: time-limited; from_step -1: fresh start */
  double loss, tokens_per_second;       /* PROGRESS: latest train loss and speed */
  int status;              /* END: RsStatus recorded, RS_PRUNED/RS_PAUSED too (RS_RUNNING if the claim was lost) */
  double metric;           /* END: the trial's best value of the sweep metric (NaN if none) */
  double seconds;          /* END: the run's wall seconds (NaN if unknown) */
  const char *text;        /* LOG: the line; END: error or reason, NULL if none; START of a
                              proposal: why the model chose it (sw_proposer_last) */
  const RsCounts *counts;  /* END, TICK: the sweep's counts in the store */
  int running_here;        /* TICK, END: workers of this coordinator now running */
} SwEvent;

/* A program sweep (docs/programs.md): each trial runs this program (sw_program_run) in
** <runs_dir>/<trial hash>/ (its HPSWEEP_RUN_DIR, the same for every attempt), its argv
** from sw_command_build; the rows it reports are the trial's metrics. Exit 0 with the
** sweep metric reported: completed (diverged if a value of it was not finite); exit 0
** without it: failed "metric never reported"; another exit or a signal: failed with it
** and the log's last lines; over max_seconds: failed "timeout"; *stop: interrupted. */
typedef struct SwSchedProgram {
  const char *path;               /* absolute */
  const char *const *command;     /* W&B's template; n_command 0: the default */
  size_t n_command;
  const char *sweep;              /* HPSWEEP_SWEEP */
  const char *pythonpath;         /* first on PYTHONPATH (the wandb shim), NULL: unchanged */
  double max_seconds;             /* 0: no limit */
  int resumes;                    /* hpsweep.program_resumes: it checkpoints into HPSWEEP_RUN_DIR and
                                     resumes from there, so early termination may pause it */
} SwSchedProgram;

typedef struct SwSchedConfig {
  const char *db_path;     /* every process opens its own handle on it */
  int64_t sweep_id;
  const SwTrial *trials;   /* the expansion (by idx) whose rows sw_sched_prepare wrote */
  size_t n_trials;
  const char *metric;      /* sweep metric: a metric name tr_run reports (val_loss, ...) */
  int maximize;            /* goal */
  int jobs;                /* trials at once, >= 1 */
  int threads_per_trial;   /* pool threads (OpenBLAS and kernels) per worker; <= 0: cores / jobs, at least 1 */
  int max_attempts;        /* 1 + max_retries */
  double lease_seconds;    /* <= 0: HPS_LEASE_SECONDS or SW_LEASE_SECONDS */
  const char *runs_dir;    /* checkpoints: <runs_dir>/<trial hash>/ (created) */
  const char *worker;      /* claim owner name; NULL: "host:pid" */
  const char *sample_checkpoint; /* non-NULL: a `task: sample` sweep: each trial is
                              sw_infer_run on this checkpoint, not tr_run */
  volatile sig_atomic_t *stop; /* may be NULL; see the contract */
  void (*on_event)(void *ud, const SwEvent *e); /* may be NULL */
  void *ud;
  const SwSchedProgram *program;  /* non-NULL: trials run this program, not tr_run */
  const SwEarlyTerminate *early_terminate; /* NULL or not enabled: every trial runs to its end */
  struct SwProposer *propose; /* method bayes (sw_propose.h): trials are proposed when a worker is
                              free (trials may be NULL); NULL: the expansion is the sweep */
  const SwSpec *pbt_spec;  /* population-based training (sw_spec_pbt enabled, sw_pbt.h): each trial
                              runs the config stored with it (an exploit replaces it), checkpoints
                              at every perturbation_interval and is judged there; NULL: not PBT */
} SwSchedConfig;

typedef struct SwSchedStats {
  int started;             /* workers forked */
  int n[RS_STATUS_COUNT];  /* END events by status recorded (RS_RUNNING: claim lost) */
  double wall_seconds;     /* of sw_sched_run */
  double trial_seconds;    /* sum of the runs' own wall seconds (trials.wall_seconds) */
  int64_t metric_rows;     /* metric rows the workers wrote */
  int stopped;             /* a stop request ended the run early */
} SwSchedStats;

/* Record the sweep and its trials; *sweep_id gets its id, n_new (may be NULL)
** the number of trial rows created now. Messages go to err. Method bayes: the sweep only
** (trials NULL, n 0; its identity is sw_bayes_spec_hash), its trials are proposed by the
** claims (SwSchedConfig.propose). */
int sw_sched_prepare(RsStore *st, const SwSpec *spec, const SwTrial *trials, size_t n,
                     int64_t *sweep_id, size_t *n_new, TrErr *err);

/* Run the sweep until no trial is left to run (or *stop). Returns TR_OK when
** it ran to the end or stopped on request (stats->stopped); an error code only
** when the coordinator itself cannot go on (a store error, fork failed): then its
** workers are stopped and reaped, and err holds the first error. */
int sw_sched_run(const SwSchedConfig *c, SwSchedStats *stats, TrErr *err);

/* The lease the scheduler uses for lease_seconds <= 0. */
double sw_sched_default_lease(void);

/* Checkpoint root of a sweep for a database file: "<dir>/<db base name>.runs/<sweep>",
** the sweep name with bytes other than [A-Za-z0-9._-] written %XX (and "." and ".." whole):
** one directory per name, never shared; for a server's URL (postgresql://...) "./hpsweep.runs/<sweep>"
** under the runner's working directory. TR_EINVAL if it does not fit in buf. */
int sw_sched_runs_dir(const char *db_path, const char *sweep, char *buf, size_t n);

#endif
