/*
** rs_query.h: the result views over a store (rs_store.h): sweeps with their summary,
** trials ranked on a metric with their parameters, groups over seeds, the diversity of
** inference sweeps, export, and the formatting the tables and the report share.
**
** Contract:
** - The handle is the store's (RsStore), opened RS_OPEN_READONLY by the read commands:
**   never a write, never a write lock, works while a sweep is writing and in a read-only
**   directory. Everything here is built on the store's read operations (rs_store.h);
**   no SQL and no backend here. rs_store_snapshot_begin/end around several calls give
**   them one consistent state.
** - Failures return a TrCode; the message is on the handle (rs_store_errmsg), one line,
**   like the store's own: a read error keeps the store's "FILE: what: why" and never
**   passes for "no rows"; a view's own failure (an unknown name) names the file in its
**   text. The functions without a handle (rs_param_find, rs_compare_build) fill a TrErr.
** - Sweeps are named by `name`; an unknown name fails with TR_ENOTFOUND and a
**   message listing the names that exist. The same for parameters and metrics.
** - Missing numbers (NULL in the store: a pending trial's metric) are NaN;
**   missing integers are -1. Strings are malloc'd and owned by the struct they
**   sit in; each *_deinit / *_free / *_clear releases all of it (NULL-safe).
** - A parameter "varies" when its trials hold more than one distinct value;
**   train.seed (or any key ending in ".seed") is a seed, averaged over rather than compared.
** - Ranking follows the sweep's goal (minimize | maximize); trials without a
**   metric rank last, ties by trial idx.
** - rs_export writes numbers exactly as the store returns them (%.17g for REAL).
** - Loads are linear in the trials (hashes, heap sorts): 100,000 trials load in seconds.
*/
#ifndef RS_QUERY_H
#define RS_QUERY_H

#include <stdint.h>
#include <stdio.h>

#include "rs_store.h"
#include "rs_study.h"
#include "tr_yaml.h"
#include "tr_err.h"

/* Every sweep with its summary (rs_sweep_find's), by created then id; rs_sweeps_free. */
int rs_query_sweeps(RsStore *st, RsSweep **out, int *n);
/* The sweep with its summary (RsSweep's counts and best); rs_sweep_clear. */
int rs_sweep_find(RsStore *st, const char *name, RsSweep *out);

typedef struct RsParam {
  char *name;        /* "optimizer.lr" */
  char *short_name;  /* last dotted component if unique in the sweep, else name */
  int is_seed;
  int varies;        /* more than one distinct value */
  int numeric;       /* every value is a JSON number */
  int log_spaced;    /* numeric, positive, max/min >= 10 and geometric-ish spacing */
  int n_values;
  char **values;     /* distinct value texts, numerically sorted when numeric */
  double *nums;      /* (n_values) when numeric */
} RsParam;

/* A trial of the read model (the store's row is RsTrial). */
typedef struct RsTrialRow {
  int64_t id, idx, seed, attempts;
  RsStatus status;
  char *hash, *config, *params, *error;
  double best, final;   /* the ranking metric (sweep metric or --by), NaN if none */
  int64_t best_step;
  int64_t steps, tokens;
  int64_t rung;         /* pruned/paused: band (iterations) or rung (steps) of the decision, -1 if none */
  double wall, flops, started, ended;
  int *pv;              /* (np) index into params[k].values, -1 if the key is missing */
} RsTrialRow;

typedef struct RsTrialSet {
  RsSweep sweep;
  char *metric;         /* the ranking metric's name */
  int maximize;
  RsTrialRow *t;
  int n;
  RsParam *p;
  int np;
} RsTrialSet;

/* All trials of a sweep in idx order, ranked on the sweep's metric (trials columns). */
int rs_trials_load(RsStore *st, const char *sweep, RsTrialSet *ts);
void rs_trials_deinit(RsTrialSet *ts);
/* Re-rank on another metric from the metrics table: best = min or max by the sweep's
** goal (maximize for names containing "acc"/"tokens_per_second"), final = last step. */
int rs_trials_use_metric(RsStore *st, RsTrialSet *ts, const char *metric);
/* Index of a parameter by full or short name; TR_ENOTFOUND lists the names. */
int rs_param_find(const RsTrialSet *ts, const char *name, int *index, TrErr *err);
/* The sweep's stored spec parsed (tr_yaml_destroy it), or NULL when there is none, it does not
** parse or its root is not a mapping (the sweep ran from it: only a hand-edited database). */
TrYamlDoc *rs_sweep_spec_doc(const RsSweep *sw);
/* Trials i and j hold the same value of every varying non-seed parameter but k (they belong
** to one group of a study over parameter k). */
int rs_trials_same_context(const RsTrialSet *ts, int k, int i, int j);
/* Trial i as a point of a learning-rate study over parameter k: 1 and *pt filled when it
** diverged, or completed with a finite metric; 0 otherwise (pending, failed: no answer). */
int rs_trials_lr_point(const RsTrialSet *ts, int k, int i, RsLrPoint *pt);
/* Fill order[0..n) with trial indices, best first. */
void rs_trials_rank(const RsTrialSet *ts, int *order);
/* True if value a is better than b under the set's goal (NaN is worst). */
int rs_better(const RsTrialSet *ts, double a, double b);

/* Distinct metric names of a sweep (sorted). */
int rs_metric_names(RsStore *st, int64_t sweep_id, char ***names, int *n);
void rs_names_free(char **names, int n);
/* TR_ENOTFOUND (with the list) if the sweep has no rows of that metric. */
int rs_metric_check(RsStore *st, int64_t sweep_id, const char *metric);

typedef enum { RS_X_STEP, RS_X_TOKENS, RS_X_SECONDS } RsXKind;
/* One trial's rows of a metric ordered by step; *x and *y are malloc'd. */
int rs_series_load(RsStore *st, int64_t trial_id, const char *metric, RsXKind xk, double **x,
                   double **y, int *n);

/* The name of the sweep holding a trial; TR_ENOTFOUND names the ids that exist. */
int rs_trial_sweep(RsStore *st, int64_t trial_id, char **sweep);

/* ---- compare: groups over seeds ------------------------------------------ */

typedef struct RsGroup {
  char *label;          /* "lr=0.001" or "lr=0.001, wd=0.1" */
  int n;                /* completed trials with a metric */
  int n_other;          /* trials in the group without one (pending, failed, diverged...) */
  double *vals;         /* (n) their best metric */
  double mean, std, ci_lo, ci_hi, best;
  int value;            /* index into the first by-parameter's values, -1 if its trials lack it */
} RsGroup;

typedef struct RsContext {
  char *label;          /* values of the other varying non-seed parameters, "" if none */
  RsGroup *g;           /* best mean first: g[0] wins, g[1] is the runner-up */
  int ng;
  double p_welch;       /* winner vs runner-up, NaN if not computable */
  int decided;          /* 1: difference larger than seed noise (p < 0.05) */
} RsContext;

typedef struct RsCompare {
  RsContext *ctx;
  int nctx;
  char *by_label;       /* "lr" or "lr, wd" */
} RsCompare;

/* Group by params by[0..nby) within each combination of the other varying non-seed params. */
int rs_compare_build(const RsTrialSet *ts, const int *by, int nby, RsCompare *out, TrErr *err);
void rs_compare_deinit(RsCompare *c);
/* Share of the variance of completed trials' best metric explained by param k; NaN if n/a. */
double rs_param_var_explained(const RsTrialSet *ts, int k);

/* ---- inference sweeps: diversity against validity ------------------------- */

/* One setting of a `task: sample` sweep (the varied non-seed parameters' values),
** its measures averaged over the completed trials (seeds) that recorded both
** validity and distinct_2; lo/hi are the min and max over those seeds. */
typedef struct RsDivPoint {
  char *label;          /* "T=0.8 p=0.9": sample keys abbreviated (see RsDiversity.key) */
  int n;                /* completed trials averaged */
  int n_other;          /* trials of the setting without both measures (failed, pending...) */
  int64_t trial;        /* the first of its trials by idx */
  int first;            /* that trial's index in ts->t: its pv[] names the setting */
  double validity, distinct_2, rep_4, mean_length; /* means; NaN when no seed has one */
  double v_lo, v_hi, d_lo, d_hi;                   /* validity, distinct_2 over seeds */
  int front;            /* on the Pareto frontier: no other setting has validity >= and
                        ** distinct_2 >= with one strictly greater */
} RsDivPoint;

typedef struct RsDiversity {
  RsDivPoint *pt;       /* (n) settings in value order of the varied parameters */
  int n;
  int nfront;
  int n_trials;         /* completed trials with both measures (the points' seeds) */
  int n_skipped;        /* trials without both measures */
  int temp;             /* index in ts->p of sample.temperature when it varies, else -1 */
  double rho_div, rho_val; /* Spearman of temperature against distinct_2 and validity over
                           ** the n_trials trials; NaN without a varying temperature */
  double r_settings;    /* Pearson of distinct_2 against validity over settings */
  char key[256];        /* "T = sample.temperature, p = sample.top_p" ("" if none varies) */
} RsDiversity;

/* The measures of an inference sweep (metric rows validity, distinct_2, rep_4,
** mean_length; the last step's value) grouped by setting. TR_ENOTFOUND when no
** trial has both validity and distinct_2 (a training sweep, or none finished). */
int rs_diversity_load(RsStore *st, const RsTrialSet *ts, RsDiversity *out);
void rs_diversity_deinit(RsDiversity *d);

/* ---- export -------------------------------------------------------------- */

typedef enum { RS_FMT_TABLE, RS_FMT_CSV, RS_FMT_JSON, RS_FMT_JSONL } RsFormat;
typedef enum { RS_WHAT_TRIALS, RS_WHAT_METRICS } RsWhat;
int rs_format_parse(const char *s, RsFormat *f); /* "csv"|"json"|"jsonl"|"table" */
int rs_export(RsStore *st, const RsSweep *sw, RsWhat what, RsFormat fmt, FILE *out);

/* Writers shared with the table commands. */
void rs_csv_field(FILE *f, const char *s);   /* RFC 4180: quote if , " CR LF; double quotes */
void rs_json_string(FILE *f, const char *s); /* JSON string literal, control chars escaped */
void rs_json_number(FILE *f, double v);      /* %.17g, null for NaN/inf */

/* ---- human formatting shared by the CLI tables and the report ------------ */
void rs_fmt_metric(char *buf, size_t n, double v);   /* 4 significant digits, "-" for NaN */
void rs_fmt_count(char *buf, size_t n, double v);    /* 1234 -> "1.23k", 2.5e6 -> "2.50M", "-" */
void rs_fmt_duration(char *buf, size_t n, double s); /* "12.3s", "4m05s", "2h03m", "-" */
/* A status with where early termination stopped it: "pruned band 3" (W&B hyperband:
** the 3rd value), "pruned rung 300" / "paused rung 300" (steps), "pruned step 200"
** (median rule); the unit is read from the reason the store keeps in trials.error
** ("pruned at band ..."; a paused trial has none: ASHA rungs). Else the status name. */
void rs_fmt_status(char *buf, size_t n, RsStatus s, int64_t rung, const char *error);

#endif
