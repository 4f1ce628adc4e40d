/*
** cmd_results.c: the commands people read results with: ls, top, compare, show,
** export, plot, report. Every one opens the store read-only (RS_OPEN_READONLY), so
** it works while a sweep is running and never blocks the runner.
*/
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rs_lrfind.h"
#include "rs_plot.h"
#include "rs_query.h"
#include "rs_report.h"
#include "rs_stats.h"
#include "rs_study.h"
#include "sw_program.h"
#include "sw_sched.h"
#include "tr_alloc.h"
#include "tr_atomic.h"
#include "tr_yaml.h"

/* ---- options ------------------------------------------------------------- */

typedef struct Opts {
  const char *cmd;
  const char *db, *format, *by, *metric, *x, *color_by, *out, *kind, *what;
  const char *pos;     /* the one positional argument (SWEEP or TRIAL) */
  int n, logy;
} Opts;

/* Parse the options named in allowed (space-separated) with the shared parser. */
static int parse(int argc, char **argv, const char *allowed, Opts *o) {
  memset(o, 0, sizeof *o);
  o->cmd = argv[0];
  o->db = hps_db_default("hpsweep.db");
  long n = 10;
  const HpsOpt all[] = {
      HPS_OPT_STRING("--db", NULL, &o->db),         HPS_OPT_STRING("--format", NULL, &o->format),
      HPS_OPT_STRING("--by", NULL, &o->by),         HPS_OPT_STRING("--metric", NULL, &o->metric),
      HPS_OPT_STRING("--x", NULL, &o->x),           HPS_OPT_STRING("--color-by", NULL, &o->color_by),
      HPS_OPT_STRING("--output", "-o", &o->out),    HPS_OPT_STRING("--kind", NULL, &o->kind),
      HPS_OPT_STRING("--what", NULL, &o->what),     HPS_OPT_INT("-n", NULL, &n, 0, 1000000),
      HPS_OPT_FLAG("--logy", NULL, &o->logy)};
  HpsOpt opts[sizeof all / sizeof all[0] + 1];
  char allow[256];
  snprintf(allow, sizeof allow, " %s ", allowed);
  size_t k = 0;
  for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
    char key[32];
    snprintf(key, sizeof key, " %s ", all[i].name);
    if (strstr(allow, key)) opts[k++] = all[i];
  }
  opts[k] = (HpsOpt)HPS_OPT_END;
  int rc = hps_opts_parse(argc, argv, opts, &o->pos, 1);
  o->n = (int)n;
  return rc;
}

/* A view of the store failed: its message is on the handle. */
static int fail_store(const char *cmd, const RsStore *st) {
  TrErr e;
  tr_err_set(&e, rs_store_errcode(st), "%s", rs_store_errmsg(st));
  return hps_fail(cmd, &e);
}

/* The end of a command's output on stdout: 0, or 1 when it could not all be written
** (a full disk behind a redirection). */
static int stdout_done(const char *cmd) {
  if (fflush(stdout) == 0 && !ferror(stdout)) return 0;
  fprintf(stderr, "hpsweep %s: standard output: %s\n", cmd, strerror(errno ? errno : EIO));
  return 1;
}

static int open_db(const Opts *o, RsStore **db) {
  TrErr e = {0};
  if (rs_store_open(o->db, RS_OPEN_READONLY, db, &e) != TR_OK) return hps_fail(o->cmd, &e);
  return 0;
}

static int need_sweep(const Opts *o) {
  if (o->pos) return 0;
  hps_error(o->cmd, "which sweep? name one (see 'hpsweep ls')");
  return 2;
}

/* An LR range test (hpsweep lr-find --db) has one trial and no parameters: top and compare,
** and plots other than its curves, have nothing to say about it. 0, or 2 after saying so. */
static int lrfind_refuse(const Opts *o, const RsTrialSet *ts) {
  if (!rs_lrfind_is(&ts->sweep) || (!strcmp(o->cmd, "plot") && (!o->kind || !strcmp(o->kind, "curves")))) return 0;
  hps_error(o->cmd, "'%s' is an LR range test (hpsweep lr-find), not a sweep: see its curve and suggestions with "
            "'hpsweep report %s', its points with 'hpsweep export %s --what metrics'", ts->sweep.name,
            ts->sweep.name, ts->sweep.name);
  return 2;
}

/* Open the database and load the trials of sweep o->pos in one snapshot; 0 or the exit code. */
static int open_trials(const Opts *o, RsStore **db, RsTrialSet *ts) {
  int rc = open_db(o, db);
  if (rc) return rc;
  rs_store_snapshot_begin(*db);
  if (rs_trials_load(*db, o->pos, ts) != TR_OK) {
    rc = fail_store(o->cmd, *db);
    rs_store_close(*db);
    return rc;
  }
  if ((rc = lrfind_refuse(o, ts))) {
    rs_trials_deinit(ts);
    rs_store_close(*db);
  }
  return rc;
}

static void close_trials(RsStore *db, RsTrialSet *ts) {
  rs_trials_deinit(ts);
  rs_store_close(db);
}

static int fail_trials(const Opts *o, RsStore *db, RsTrialSet *ts, const TrErr *e) {
  close_trials(db, ts);
  return hps_fail(o->cmd, e);
}

static int fail_trials_store(const Opts *o, RsStore *db, RsTrialSet *ts) {
  int rc = fail_store(o->cmd, db);
  close_trials(db, ts);
  return rc;
}

/* ---- tables: aligned text, CSV or JSON ----------------------------------- */

enum { C_TEXT, C_REAL, C_INT, C_NULL };

typedef struct Cell {
  char text[96];   /* display text */
  int kind;
  double v;
  long long i;
} Cell;

#define TAB_MAXC 24

typedef struct Tab {
  int nc, nr, cap;
  char hdr[TAB_MAXC][64];
  int right[TAB_MAXC];
  int optional[TAB_MAXC]; /* dropped (highest first) when the text table exceeds 80 columns */
  Cell *cells;
  int col;
  int oom; /* a row could not be allocated: tab_print refuses the table */
} Tab;

static void tab_col(Tab *t, const char *h, int right, int optional) {
  snprintf(t->hdr[t->nc], sizeof t->hdr[0], "%s", h);
  t->right[t->nc] = right, t->optional[t->nc] = optional;
  t->nc++;
}

static Cell *tab_next(Tab *t) {
  static Cell scratch; /* the cells of a table that ran out of memory go here */
  if (t->col == 0 && !t->oom) {
    if (t->nr == t->cap) {
      int cap = t->cap ? 2 * t->cap : 16;
      Cell *cells = tr_realloc(t->cells, (size_t)cap * TAB_MAXC * sizeof *t->cells);
      if (cells) t->cells = cells, t->cap = cap;
      else t->oom = 1;
    }
    if (!t->oom) t->nr++;
  }
  Cell *c = t->oom ? &scratch : &t->cells[(size_t)(t->nr - 1) * TAB_MAXC + (size_t)t->col];
  memset(c, 0, sizeof *c);
  t->col = (t->col + 1) % t->nc;
  return c;
}

static void tab_text(Tab *t, const char *s) {
  Cell *c = tab_next(t);
  c->kind = s ? C_TEXT : C_NULL;
  snprintf(c->text, sizeof c->text, "%s", s ? s : "-");
}

static void tab_metric(Tab *t, double v) {
  Cell *c = tab_next(t);
  c->kind = isnan(v) ? C_NULL : C_REAL;
  c->v = v;
  rs_fmt_metric(c->text, sizeof c->text, v);
}

static void tab_real_disp(Tab *t, double v, const char *disp) {
  Cell *c = tab_next(t);
  c->kind = isnan(v) ? C_NULL : C_REAL;
  c->v = v;
  snprintf(c->text, sizeof c->text, "%s", isnan(v) ? "-" : disp);
}

static void tab_int(Tab *t, long long v, int null_if_neg) {
  Cell *c = tab_next(t);
  c->kind = null_if_neg && v < 0 ? C_NULL : C_INT;
  c->i = v;
  if (c->kind == C_NULL) snprintf(c->text, sizeof c->text, "-");
  else snprintf(c->text, sizeof c->text, "%lld", v);
}

static void tab_int_disp(Tab *t, long long v, const char *disp) {
  Cell *c = tab_next(t);
  c->kind = v < 0 ? C_NULL : C_INT;
  c->i = v;
  snprintf(c->text, sizeof c->text, "%s", v < 0 ? "-" : disp);
}

static void tab_free(Tab *t) { free(t->cells); }

static void put_cell_machine(const Cell *c, int json, FILE *f) {
  switch (c->kind) {
    case C_NULL: if (json) fputs("null", f); break;
    case C_INT: fprintf(f, "%lld", c->i); break;
    case C_REAL: rs_json_number(f, c->v); break; /* shortest round trip, same in CSV */
    default: if (json) rs_json_string(f, c->text); else rs_csv_field(f, c->text);
  }
}

/* Display width of UTF-8 text: count code points. */
static int u8len(const char *s) {
  int n = 0;
  for (; *s; s++) n += ((unsigned char)*s & 0xC0) != 0x80;
  return n;
}

/* CSV (a header row) or JSON (an array) or JSON lines. */
static void tab_print_machine(const Tab *t, RsFormat fmt, FILE *f) {
  if (fmt == RS_FMT_CSV) {
    for (int c = 0; c < t->nc; c++) fputs(c ? "," : "", f), rs_csv_field(f, t->hdr[c]);
    fputc('\n', f);
    for (int r = 0; r < t->nr; r++) {
      for (int c = 0; c < t->nc; c++) fputs(c ? "," : "", f), put_cell_machine(&t->cells[r * TAB_MAXC + c], 0, f);
      fputc('\n', f);
    }
    return;
  }
  if (fmt == RS_FMT_JSON || fmt == RS_FMT_JSONL) {
    if (fmt == RS_FMT_JSON) fputs("[", f);
    for (int r = 0; r < t->nr; r++) {
      if (fmt == RS_FMT_JSON) fputs(r ? ",\n{" : "\n{", f);
      else fputc('{', f);
      for (int c = 0; c < t->nc; c++) {
        if (c) fputs(", ", f);
        rs_json_string(f, t->hdr[c]);
        fputs(": ", f);
        put_cell_machine(&t->cells[r * TAB_MAXC + c], 1, f);
      }
      fputs(fmt == RS_FMT_JSON ? "}" : "}\n", f);
    }
    if (fmt == RS_FMT_JSON) fputs(t->nr ? "\n]\n" : "]\n", f);
  }
}

/* Aligned text within 80 columns: optional columns are dropped, long text is cut. */
static void tab_print_text(const Tab *t, FILE *f) {
  int w[TAB_MAXC], show[TAB_MAXC];
  for (int c = 0; c < t->nc; c++) {
    w[c] = u8len(t->hdr[c]);
    show[c] = 1;
    for (int r = 0; r < t->nr; r++) {
      int l = u8len(t->cells[r * TAB_MAXC + c].text);
      if (l > w[c]) w[c] = l;
    }
    if (w[c] > 28) w[c] = 28; /* long text is cut with "~" */
  }
  for (;;) { /* fit 80 columns: drop optional columns, highest priority number first */
    int total = 0, worst = -1;
    for (int c = 0; c < t->nc; c++)
      if (show[c]) total += w[c] + (total ? 2 : 0);
    if (total <= 80) break;
    for (int c = 0; c < t->nc; c++)
      if (show[c] && t->optional[c] && (worst < 0 || t->optional[c] > t->optional[worst])) worst = c;
    if (worst < 0) break;
    show[worst] = 0;
  }
  for (int r = -1; r < t->nr; r++) {
    int first = 1;
    char line[1024];
    size_t len = 0;
    for (int c = 0; c < t->nc; c++) {
      if (!show[c]) continue;
      const char *s = r < 0 ? t->hdr[c] : t->cells[r * TAB_MAXC + c].text;
      char cut[128];
      if (u8len(s) > w[c]) {
        snprintf(cut, sizeof cut, "%.*s~", w[c] - 1, s);
        s = cut;
      }
      int pad = w[c] - u8len(s);
      if (!first) len += (size_t)snprintf(line + len, sizeof line - len, "  ");
      if (t->right[c]) len += (size_t)snprintf(line + len, sizeof line - len, "%*s%s", pad, "", s);
      else len += (size_t)snprintf(line + len, sizeof line - len, "%s%*s", s, pad, "");
      if (len >= sizeof line) len = sizeof line - 1;
      first = 0;
    }
    while (len > 0 && line[len - 1] == ' ') line[--len] = '\0';
    fprintf(f, "%s\n", line);
  }
}

/* Print t in fmt: 0, or 1 if it ran out of memory (then nothing is printed). */
static int tab_print(const Tab *t, RsFormat fmt, FILE *f, const char *cmd) {
  if (t->oom) {
    hps_error(cmd, "out of memory");
    return 1;
  }
  if (fmt == RS_FMT_TABLE) tab_print_text(t, f);
  else tab_print_machine(t, fmt, f);
  return 0;
}

static int get_format(const Opts *o, RsFormat *fmt) {
  *fmt = RS_FMT_TABLE;
  if (!o->format) return 0;
  if (rs_format_parse(o->format, fmt) != TR_OK || *fmt == RS_FMT_JSONL)
    return hps_error_usage(o->cmd, "unknown format '%s' (formats: table, csv, json)", o->format);
  return 0;
}

/* ---- ls ------------------------------------------------------------------ */

static int cmd_ls(int argc, char **argv) {
  Opts o;
  RsFormat fmt;
  RsStore *db;
  int rc = parse(argc, argv, "--db --format", &o);
  if (rc || (rc = get_format(&o, &fmt))) return rc;
  if (o.pos) return hps_error_usage(o.cmd, "unexpected argument '%s'", o.pos);
  if ((rc = open_db(&o, &db))) return rc;
  RsSweep *s;
  int n;
  if (rs_query_sweeps(db, &s, &n) != TR_OK) {
    rc = fail_store(o.cmd, db);
    rs_store_close(db);
    return rc;
  }
  Tab t = {0};
  tab_col(&t, "sweep", 0, 0), tab_col(&t, "kind", 0, 0), tab_col(&t, "metric", 0, 0), tab_col(&t, "goal", 0, 3);
  tab_col(&t, "trials", 1, 0), tab_col(&t, "done", 1, 0), tab_col(&t, "running", 1, 0);
  tab_col(&t, "pending", 1, 0), tab_col(&t, "failed", 1, 0), tab_col(&t, "diverged", 1, 0);
  tab_col(&t, "interrupted", 1, 2), tab_col(&t, "pruned", 1, 2), tab_col(&t, "paused", 1, 2);
  tab_col(&t, "best", 1, 0), tab_col(&t, "best_trial", 1, 1);
  for (int i = 0; i < n; i++) {
    tab_text(&t, s[i].name), tab_text(&t, s[i].task ? s[i].task : "train"), tab_text(&t, s[i].metric);
    tab_text(&t, s[i].maximize ? "max" : "min");
    tab_int(&t, s[i].n_trials, 0);
    tab_int(&t, s[i].count[RS_COMPLETED], 0), tab_int(&t, s[i].count[RS_RUNNING], 0);
    tab_int(&t, s[i].count[RS_PENDING], 0), tab_int(&t, s[i].count[RS_FAILED], 0);
    tab_int(&t, s[i].count[RS_DIVERGED], 0), tab_int(&t, s[i].count[RS_INTERRUPTED], 0);
    tab_int(&t, s[i].count[RS_PRUNED], 0), tab_int(&t, s[i].count[RS_PAUSED], 0);
    tab_metric(&t, s[i].best), tab_int(&t, s[i].best_trial, 1);
  }
  if (fmt == RS_FMT_TABLE) {
    /* Short headers for the terminal. */
    const char *sh[] = {"sweep", "kind", "metric", "goal", "trials", "done", "run", "pend", "fail", "div", "int",
                        "prun", "paus", "best", "trial"};
    for (int c = 0; c < t.nc; c++) snprintf(t.hdr[c], sizeof t.hdr[c], "%s", sh[c]);
  }
  if (n == 0 && fmt == RS_FMT_TABLE) printf("no sweeps in %s\n", o.db);
  else rc = tab_print(&t, fmt, stdout, o.cmd);
  tab_free(&t);
  rs_sweeps_free(s, (size_t)n);
  rs_store_close(db);
  return rc ? rc : stdout_done(o.cmd);
}

/* ---- top ----------------------------------------------------------------- */

static int cmd_top(int argc, char **argv) {
  Opts o;
  RsFormat fmt;
  RsStore *db;
  RsTrialSet ts;
  int rc = parse(argc, argv, "--db --format --by -n", &o);
  if (rc || (rc = get_format(&o, &fmt)) || (rc = need_sweep(&o))) return rc;
  if ((rc = open_trials(&o, &db, &ts))) return rc;
  if (o.by && strcmp(o.by, ts.metric) != 0 && rs_trials_use_metric(db, &ts, o.by) != TR_OK)
    return fail_trials_store(&o, db, &ts);
  int *order = tr_malloc(((size_t)ts.n + 1) * sizeof *order);
  if (!order) {
    close_trials(db, &ts);
    hps_error(o.cmd, "out of memory");
    return 1;
  }
  rs_trials_rank(&ts, order);
  Tab t = {0};
  tab_col(&t, "rank", 1, 0), tab_col(&t, "trial", 1, 0);
  int pk[TAB_MAXC], npk = 0;
  for (int k = 0; k < ts.np && npk < 10; k++)
    if (ts.p[k].varies) pk[npk++] = k, tab_col(&t, fmt == RS_FMT_TABLE ? ts.p[k].short_name : ts.p[k].name, 1, 0);
  tab_col(&t, "best", 1, 0), tab_col(&t, "final", 1, 3), tab_col(&t, "step", 1, 4);
  tab_col(&t, "tokens", 1, 2), tab_col(&t, "time", 1, 1), tab_col(&t, "status", 0, 0);
  int shown = o.n == 0 || o.n > ts.n ? ts.n : o.n;
  for (int i = 0; i < shown; i++) {
    const RsTrialRow *r = &ts.t[order[i]];
    char b[32];
    tab_int(&t, i + 1, 0), tab_int(&t, r->id, 0);
    for (int j = 0; j < npk; j++) {
      int v = r->pv[pk[j]];
      const RsParam *p = &ts.p[pk[j]];
      if (v < 0) tab_text(&t, NULL);
      else if (p->numeric) tab_real_disp(&t, p->nums[v], p->values[v]);
      else tab_text(&t, p->values[v]);
    }
    tab_metric(&t, r->best), tab_metric(&t, r->final), tab_int(&t, r->best_step, 1);
    rs_fmt_count(b, sizeof b, (double)r->tokens);
    tab_int_disp(&t, r->tokens, b);
    rs_fmt_duration(b, sizeof b, r->wall);
    tab_real_disp(&t, r->wall, b);
    char st[48]; /* the table says where early termination stopped a trial; csv/json keep the status */
    rs_fmt_status(st, sizeof st, r->status, fmt == RS_FMT_TABLE ? r->rung : -1, r->error);
    tab_text(&t, st);
  }
  if (fmt == RS_FMT_TABLE)
    printf("%s: %d of %d trials by %s %s (%s is better)\n", ts.sweep.name, shown, ts.n,
           ts.maximize ? "max" : "min", ts.metric, ts.maximize ? "higher" : "lower");
  rc = tab_print(&t, fmt, stdout, o.cmd);
  tab_free(&t);
  free(order);
  close_trials(db, &ts);
  return rc ? rc : stdout_done(o.cmd);
}

/* ---- compare ------------------------------------------------------------- */

/* The groups of c as table rows: a block per held-equal combination. */
static void compare_table(const RsCompare *c, RsFormat fmt, Tab *t) {
  int has_ctx = c->nctx > 1 || c->ctx[0].label[0];
  if (has_ctx) tab_col(t, "held_equal", 0, 0);
  tab_col(t, "group", 0, 0), tab_col(t, "n", 1, 0), tab_col(t, "other", 1, 2);
  tab_col(t, "mean", 1, 0), tab_col(t, "std", 1, 0);
  tab_col(t, "ci95_lo", 1, 0), tab_col(t, "ci95_hi", 1, 0), tab_col(t, "best", 1, 1);
  if (fmt != RS_FMT_TABLE) tab_col(t, "winner", 1, 0), tab_col(t, "p_welch_vs_runner_up", 1, 0);
  for (int x = 0; x < c->nctx; x++)
    for (int g = 0; g < c->ctx[x].ng; g++) {
      const RsGroup *gr = &c->ctx[x].g[g];
      if (has_ctx) tab_text(t, g == 0 || fmt != RS_FMT_TABLE ? c->ctx[x].label : "");
      char lab[96];
      snprintf(lab, sizeof lab, "%s%s", gr->label, fmt == RS_FMT_TABLE && g == 0 && gr->n ? " *" : "");
      tab_text(t, lab);
      tab_int(t, gr->n, 0), tab_int(t, gr->n_other, 0);
      tab_metric(t, gr->mean), tab_metric(t, gr->std);
      tab_metric(t, gr->ci_lo), tab_metric(t, gr->ci_hi), tab_metric(t, gr->best);
      if (fmt != RS_FMT_TABLE) {
        tab_int(t, g == 0 && gr->n ? 1 : 0, 0);
        tab_metric(t, g == 0 ? c->ctx[x].p_welch : NAN);
      }
    }
}

/* Under the text table: the rule, then each block's winner and whether it beats the noise. */
static void compare_verdict(const RsCompare *c) {
  printf("\nrule: * = best mean; the win is larger than the seed noise when Welch's t-test\n"
         "against the runner-up gives p < 0.05 (needs >= 2 completed seeds per group).\n");
  for (int x = 0; x < c->nctx; x++) {
    const RsContext *cx = &c->ctx[x];
    if (cx->ng == 0 || cx->g[0].n == 0) {
      printf("%s%s: no completed trials yet\n", cx->label, cx->label[0] ? "" : "result");
      continue;
    }
    printf("%s%s%s wins", cx->label, cx->label[0] ? ": " : "", cx->g[0].label);
    if (cx->ng > 1 && cx->g[1].n > 0) {
      if (isnan(cx->p_welch)) printf(" over %s; too few seeds to compare with the noise", cx->g[1].label);
      else printf(" over %s, p = %.3g:%s%s", cx->g[1].label, cx->p_welch, cx->label[0] ? "\n  " : " ",
                  cx->decided ? "larger than the seed noise" : "within the seed noise");
    }
    printf("\n");
  }
}

/* The comparison as a table (in fmt) and, for text, its verdict: 0, or 1 out of memory. */
static int compare_print(const RsTrialSet *ts, const RsCompare *c, const int *by, int nby, RsFormat fmt,
                         const char *cmd) {
  Tab t = {0};
  compare_table(c, fmt, &t);
  if (fmt == RS_FMT_TABLE) {
    printf("%s: best %s (%s) by %s, over seeds", ts->sweep.name, ts->metric, ts->maximize ? "max" : "min",
           c->by_label);
    int other = 0;
    for (int k = 0; k < ts->np; k++) {
      int chosen = by[0] == k || (nby > 1 && by[1] == k);
      if (!chosen && ts->p[k].varies && !ts->p[k].is_seed)
        printf("%s%s", other++ ? ", " : "\nheld equal: ", ts->p[k].short_name);
    }
    printf("%s\n", other ? " (a block per combination)" : "");
  }
  int rc = tab_print(&t, fmt, stdout, cmd);
  if (rc == 0 && fmt == RS_FMT_TABLE) compare_verdict(c);
  tab_free(&t);
  return rc;
}

/* ---- compare --by optimizer.lr: the learning-rate study under the table ---- */

/* One sentence, indented two spaces, wrapped at 80 columns on spaces. */
static void print_wrapped(const char *text) {
  const char *p = text;
  while (*p) {
    size_t len = strlen(p), cut = len;
    if (len > 78) {
      cut = 78;
      while (cut > 0 && p[cut] != ' ') cut--;
      if (cut == 0) cut = 78;
    }
    printf("  %.*s\n", (int)cut, p);
    p += cut;
    while (*p == ' ') p++;
  }
}

/* The study of one group (the trials whose context is trial head's): its points and captions. */
static int lr_study_group(const RsTrialSet *ts, int k, int head, RsLrPoint *pt) {
  int n = 0;
  for (int i = 0; i < ts->n; i++)
    if (rs_trials_same_context(ts, k, i, head)) n += rs_trials_lr_point(ts, k, i, &pt[n]);
  RsLrOptions o = {.maximize = ts->maximize, .boot_seed = (uint64_t)ts->sweep.seed};
  RsLrStudy s;
  TrErr e = {0};
  if (rs_study_lr(pt, n, &o, &s, &e) != TR_OK) return 1;
  char buf[512];
  print_wrapped(rs_study_lr_caption(&s, buf, sizeof buf));
  if (s.nlevel) print_wrapped(rs_study_stability_caption(&s, buf, sizeof buf));
  if (!isnan(s.basin_lo)) print_wrapped(rs_study_basin_caption(&s, buf, sizeof buf));
  rs_study_lr_deinit(&s);
  return 0;
}

/* Under the text table of `compare --by optimizer.lr`: per block of the other varying
** parameters, the optimum, its CI and edge flag, the stability edge and the basin. */
static int compare_lr_study(const RsTrialSet *ts, int k) {
  RsLrPoint *pt = tr_malloc((size_t)(ts->n ? ts->n : 1) * sizeof *pt);
  int *head = tr_malloc((size_t)(ts->n ? ts->n : 1) * sizeof *head), nh = 0, rc = 0;
  if (!pt || !head) rc = 1;
  for (int i = 0; i < ts->n && !rc; i++) {
    int g = 0;
    while (g < nh && !rs_trials_same_context(ts, k, i, head[g])) g++;
    if (g == nh) head[nh++] = i;
  }
  printf("\nlearning-rate study of %s (%s is better; how: docs/results.md)\n", ts->metric,
         ts->maximize ? "higher" : "lower");
  for (int g = 0; g < nh && !rc; g++) {
    if (nh > 1) { /* name the block the way the table does: "wd=0.1, ...:" */
      const RsTrialRow *t = &ts->t[head[g]];
      for (int q = 0, m = 0; q < ts->np; q++)
        if (q != k && ts->p[q].varies && !ts->p[q].is_seed)
          printf("%s%s=%s", m++ ? ", " : "", ts->p[q].short_name, t->pv[q] >= 0 ? ts->p[q].values[t->pv[q]] : "-");
      printf(":\n");
    }
    rc = lr_study_group(ts, k, head[g], pt);
  }
  free(pt);
  free(head);
  return rc;
}

static int cmd_compare(int argc, char **argv) {
  Opts o;
  RsFormat fmt;
  RsStore *db;
  RsTrialSet ts;
  int rc = parse(argc, argv, "--db --format --by", &o);
  if (rc || (rc = get_format(&o, &fmt)) || (rc = need_sweep(&o))) return rc;
  if ((rc = open_trials(&o, &db, &ts))) return rc;
  TrErr e = {0};
  int by[2], nby = 0;
  if (!o.by) {
    for (int k = 0; k < ts.np && !nby; k++)
      if (ts.p[k].varies && !ts.p[k].is_seed) by[nby++] = k;
    if (!nby) {
      close_trials(db, &ts);
      return hps_error_usage(o.cmd, "%s", "no parameter other than the seed varies; nothing to compare (use --by PARAM)");
    }
  } else {
    char buf[256];
    snprintf(buf, sizeof buf, "%s", o.by);
    char *save = NULL;
    for (char *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
      if (nby == 2) {
        close_trials(db, &ts);
        return hps_error_usage(o.cmd, "--by takes one or two parameters, got '%s'", o.by);
      }
      if (rs_param_find(&ts, tok, &by[nby], &e) != TR_OK) return fail_trials(&o, db, &ts, &e);
      nby++;
    }
    if (nby == 0) {
      close_trials(db, &ts);
      return hps_error_usage(o.cmd, "--by wants PARAM[,PARAM], got '%s'", o.by);
    }
  }
  RsCompare c;
  if (rs_compare_build(&ts, by, nby, &c, &e) != TR_OK) return fail_trials(&o, db, &ts, &e);
  rc = compare_print(&ts, &c, by, nby, fmt, o.cmd);
  if (rc == 0 && fmt == RS_FMT_TABLE && nby == 1 && ts.p[by[0]].numeric && !strcmp(ts.p[by[0]].name, "optimizer.lr") &&
      compare_lr_study(&ts, by[0]))
    rc = hps_fail(o.cmd, &(TrErr){TR_ENOMEM, "out of memory"});
  rs_compare_deinit(&c);
  close_trials(db, &ts);
  return rc ? rc : stdout_done(o.cmd);
}

/* ---- show ---------------------------------------------------------------- */

/* Indent canonical JSON (strings copied verbatim, escapes included). */
static void json_pretty(FILE *f, const char *s) {
  int depth = 0, in_str = 0;
  for (const char *p = s; p && *p; p++) {
    char ch = *p;
    if (in_str) {
      fputc(ch, f);
      if (ch == '\\' && p[1]) fputc(*++p, f);
      else if (ch == '"') in_str = 0;
      continue;
    }
    switch (ch) {
      case '"': in_str = 1; fputc(ch, f); break;
      case '{': case '[':
        if ((ch == '{' && p[1] == '}') || (ch == '[' && p[1] == ']')) { fputc(ch, f); fputc(*++p, f); break; }
        if (ch == '[') { /* short arrays of numbers stay on one line */
          const char *e = strchr(p, ']');
          if (e && e - p < 60 && !memchr(p, '{', (size_t)(e - p)) && !memchr(p + 1, '[', (size_t)(e - p - 1))) {
            for (; p < e; p++) fputs(*p == ',' ? ", " : (char[2]){*p, 0}, f);
            fputc(']', f);
            break;
          }
        }
        fputc(ch, f);
        fprintf(f, "\n%*s", 2 * ++depth, "");
        break;
      case '}': case ']': fprintf(f, "\n%*s%c", 2 * (depth > 0 ? --depth : 0), "", ch); break;
      case ',': fprintf(f, ",\n%*s", 2 * depth, ""); break;
      case ':': fputs(": ", f); break;
      case ' ': case '\n': case '\t': case '\r': break;
      default: fputc(ch, f);
    }
  }
  fputc('\n', f);
}

static void sparkline(char *buf, size_t n, const double *y, int m, int width) {
  static const char *const bars[8] = {"\u2581", "\u2582", "\u2583", "\u2584", "\u2585", "\u2586", "\u2587", "\u2588"};
  double lo = INFINITY, hi = -INFINITY;
  for (int i = 0; i < m; i++)
    if (isfinite(y[i])) lo = fmin(lo, y[i]), hi = fmax(hi, y[i]);
  size_t len = 0;
  buf[0] = '\0';
  int cells = m < width ? m : width;
  for (int c = 0; c < cells && len + 4 < n; c++) {
    int a = (int)((long long)c * m / cells), b = (int)((long long)(c + 1) * m / cells);
    double s = 0;
    int k = 0;
    for (int i = a; i < b; i++)
      if (isfinite(y[i])) s += y[i], k++;
    int lvl = 0;
    if (k && hi > lo) lvl = (int)((s / k - lo) / (hi - lo) * 7.999);
    len += (size_t)snprintf(buf + len, n - len, "%s", k ? bars[lvl < 0 ? 0 : lvl > 7 ? 7 : lvl] : " ");
  }
}

/* The metric table of `show` (rows, first, best, last, sparkline per metric) as text in
** *out (malloc'd), or an error. */
static int show_metrics(RsStore *db, const RsTrialSet *ts, int64_t id, char **out, TrErr *e) {
  size_t len = 0;
  FILE *f = open_memstream(out, &len);
  if (!f) return tr_err_set(e, TR_ENOMEM, "out of memory");
  char **names;
  int nn;
  char a[32], b[32], c[32];
  int rc = rs_metric_names(db, ts->sweep.id, &names, &nn);
  if (rc == TR_OK) {
    int hdr = 0;
    for (int i = 0; i < nn; i++) {
      double *x, *y;
      int m;
      if ((rc = rs_series_load(db, id, names[i], RS_X_STEP, &x, &y, &m)) != TR_OK) break;
      if (m > 0) {
        if (!hdr) fprintf(f, "\n%-18s %5s %9s %9s %9s  %s\n", "metric", "rows", "first", "best", "last", "curve"), hdr = 1;
        double lo = INFINITY, hi = -INFINITY;
        for (int j = 0; j < m; j++) lo = fmin(lo, y[j]), hi = fmax(hi, y[j]);
        int mx = strstr(names[i], "tokens_per_second") != NULL || strstr(names[i], "acc") != NULL;
        if (strcmp(names[i], ts->sweep.metric) == 0) mx = ts->sweep.maximize;
        char sp[256];
        sparkline(sp, sizeof sp, y, m, 24);
        rs_fmt_metric(a, sizeof a, y[0]), rs_fmt_metric(b, sizeof b, mx ? hi : lo);
        rs_fmt_metric(c, sizeof c, y[m - 1]);
        fprintf(f, "%-18.18s %5d %9s %9s %9s  %s\n", names[i], m, a, b, c, sp);
      }
      free(x), free(y);
    }
    rs_names_free(names, nn);
  }
  if (rc != TR_OK) tr_err_set(e, rc, "%s", rs_store_errmsg(db));
  if (fclose(f) != 0 && rc == TR_OK) rc = tr_err_set(e, TR_ENOMEM, "out of memory");
  if (rc != TR_OK) {
    free(*out);
    *out = NULL;
  }
  return rc;
}

/* Does a stored spec run a program (a top-level `program:`)? */
static int spec_has_program(const RsSweep *sw) {
  TrYamlDoc *doc = rs_sweep_spec_doc(sw);
  int yes = doc && tr_yaml_get(doc->root, "program") != NULL;
  tr_yaml_destroy(doc);
  return yes;
}

/* A program trial's run.log (<db>.runs/<sweep>/<hash>/run.log): its path and last lines. */
static void show_run_log(const char *db, const char *sweep, const char *hash) {
  char runs[4096], path[4400], tail[2048];
  if (!hash || sw_sched_runs_dir(db, sweep, runs, sizeof runs)) return;
  snprintf(path, sizeof path, "%s/%s/%s", runs, hash, SW_PROGRAM_LOG);
  if (access(path, R_OK) != 0) return;
  sw_program_log_tail(path, tail, sizeof tail);
  printf("log       %s (last %d lines)\n", path, SW_PROGRAM_TAIL);
  for (char *line = strtok(tail, "\n"); line; line = strtok(NULL, "\n")) printf("  | %s\n", line);
}

static int cmd_show(int argc, char **argv) {
  Opts o;
  RsStore *db;
  int rc = parse(argc, argv, "--db", &o);
  if (rc) return rc;
  if (!o.pos) {
    hps_error(o.cmd, "which trial? give its id (see 'hpsweep top SWEEP')");
    return 2;
  }
  long n;
  if (hps_parse_long(o.pos, 0, LONG_MAX, &n)) return hps_error_usage(o.cmd, "a trial id is a number, got '%s'", o.pos);
  long long id = n;
  if ((rc = open_db(&o, &db))) return rc;
  TrErr e = {0};
  char *sweep;
  RsTrialSet ts;
  rs_store_snapshot_begin(db);
  if (rs_trial_sweep(db, id, &sweep) != TR_OK || rs_trials_load(db, sweep ? sweep : "", &ts) != TR_OK) {
    free(sweep);
    rc = fail_store(o.cmd, db);
    rs_store_close(db);
    return rc;
  }
  free(sweep);
  const RsTrialRow *t = NULL;
  for (int i = 0; i < ts.n; i++)
    if (ts.t[i].id == id) t = &ts.t[i];
  if (!t) { /* deleted between the two queries: cannot happen in a snapshot */
    close_trials(db, &ts);
    return hps_error_usage(o.cmd, "trial %s vanished", o.pos);
  }
  char *mtext; /* read every curve before printing anything: an error is then the only output */
  if ((rc = show_metrics(db, &ts, id, &mtext, &e)) != TR_OK) return fail_trials(&o, db, &ts, &e);
  char a[32], b[32], c[32], d[32];
  printf("trial %lld  sweep %s  idx %lld  hash %s  seed %lld\n", id, ts.sweep.name, (long long)t->idx,
         t->hash ? t->hash : "-", (long long)t->seed);
  char st[48];
  rs_fmt_status(st, sizeof st, t->status, t->rung, t->error);
  printf("status    %s (%lld attempt%s)\n", st, (long long)t->attempts, t->attempts == 1 ? "" : "s");
  printf("params   ");
  int any = 0;
  for (int k = 0; k < ts.np; k++)
    if (t->pv[k] >= 0) printf(" %s=%s", ts.p[k].name, ts.p[k].values[t->pv[k]]), any = 1;
  printf("%s\n", any ? "" : " (none)");
  rs_fmt_metric(a, sizeof a, t->best), rs_fmt_metric(b, sizeof b, t->final);
  printf("%-9s best %s", ts.metric, a);
  if (t->best_step >= 0) printf(" at step %lld", (long long)t->best_step);
  printf(", final %s\n", b);
  int program = spec_has_program(&ts.sweep);
  rs_fmt_count(a, sizeof a, program ? NAN : (double)t->tokens), rs_fmt_duration(b, sizeof b, t->wall);
  rs_fmt_count(c, sizeof c, t->flops);
  snprintf(d, sizeof d, "%lld", (long long)t->steps);
  printf("run       %s steps, %s tokens, %s, %s FLOPs\n", t->steps >= 0 ? d : "-", a, b, c);
  if (t->error && *t->error) printf("error     %s\n", t->error);
  show_run_log(o.db, ts.sweep.name, t->hash);
  fputs(mtext, stdout);
  free(mtext);
  if (program) { /* the trainer's config row is only the defaults: the params are all there is */
    printf("\nconfig    (a program's trial: its params above are its whole configuration)\n");
  } else {
    printf("\nconfig\n");
    json_pretty(stdout, t->config);
  }
  close_trials(db, &ts);
  return stdout_done(o.cmd);
}

/* ---- export -------------------------------------------------------------- */

/* Standard output, or o->out written atomically through a (NULL: an error was printed). */
static FILE *open_out(const Opts *o, TrAtomicFile *a) {
  if (!o->out || strcmp(o->out, "-") == 0) return stdout;
  TrErr e = {0};
  if (tr_atomic_open(a, o->out, &e) != TR_OK) {
    hps_fail(o->cmd, &e);
    return NULL;
  }
  return a->f;
}

/* Finish the output: ok = the content is complete. 0 or the exit code. */
static int close_out(const Opts *o, FILE *f, TrAtomicFile *a, int ok) {
  if (f == stdout) return stdout_done(o->cmd) || !ok;
  if (!ok) {
    tr_atomic_abort(a);
    return 1;
  }
  TrErr e = {0};
  return tr_atomic_commit(a, &e) == TR_OK ? 0 : hps_fail(o->cmd, &e);
}

static int cmd_export(int argc, char **argv) {
  Opts o;
  RsStore *db;
  int rc = parse(argc, argv, "--db --format --what -o --output", &o);
  if (rc || (rc = need_sweep(&o))) return rc;
  RsFormat fmt = RS_FMT_CSV;
  if (o.format && (rs_format_parse(o.format, &fmt) != TR_OK || fmt == RS_FMT_TABLE))
    return hps_error_usage(o.cmd, "unknown format '%s' (formats: csv, json, jsonl)", o.format);
  RsWhat what = RS_WHAT_TRIALS;
  if (o.what && strcmp(o.what, "metrics") == 0) what = RS_WHAT_METRICS;
  else if (o.what && strcmp(o.what, "trials") != 0)
    return hps_error_usage(o.cmd, "--what is trials or metrics, got '%s'", o.what);
  if ((rc = open_db(&o, &db))) return rc;
  RsSweep s;
  rs_store_snapshot_begin(db);
  if (rs_sweep_find(db, o.pos, &s) != TR_OK) {
    rc = fail_store(o.cmd, db);
    rs_store_close(db);
    return rc;
  }
  TrAtomicFile a;
  FILE *f = open_out(&o, &a);
  if (!f) rc = 1;
  else {
    int erc = rs_export(db, &s, what, fmt, f);
    int werr = f == stdout ? ferror(stdout) : a.werr; /* then close_out names the output and the cause */
    if (erc && !werr) fprintf(stderr, "hpsweep %s: %s\n", o.cmd, rs_store_errmsg(db));
    rc = close_out(&o, f, &a, erc == TR_OK || werr);
  }
  rs_sweep_clear(&s);
  rs_store_close(db);
  return rc;
}

/* ---- plot ---------------------------------------------------------------- */

/* Check --kind, --x and the output's figure type: 0 or 2 (message printed). */
static int plot_args(const Opts *o, const char **kind, RsXKind *xk) {
  *kind = o->kind ? o->kind : "curves";
  if (strcmp(*kind, "curves") && strcmp(*kind, "param") && strcmp(*kind, "cost") && strcmp(*kind, "flops") &&
      strcmp(*kind, "diversity"))
    return hps_error_usage(o->cmd, "--kind is curves, param, cost, flops or diversity, got '%s'", *kind);
  *xk = RS_X_STEP;
  if (o->x && strcmp(o->x, "tokens") == 0) *xk = RS_X_TOKENS;
  else if (o->x && strcmp(o->x, "seconds") == 0) *xk = RS_X_SECONDS;
  else if (o->x && strcmp(o->x, "step") != 0) return hps_error_usage(o->cmd, "--x is step, tokens or seconds, got '%s'", o->x);
  if (o->out && !rs_plot_device_for(o->out))
    return hps_error_usage(o->cmd, "cannot tell the figure type of '%s' (use .svg, .png or .pdf)", o->out);
  return 0;
}

/* plot of an LR range test: its curve against the learning rate (rs_lrfind_plot). */
static int plot_lrfind(const Opts *o, RsStore *db, RsTrialSet *ts) {
  RsLrfindRun *v = NULL;
  int n = 0, rc = 0;
  TrErr e = {0};
  char defout[512];
  RsPlot pl;
  if (rs_lrfind_list(db, &v, &n, &e)) return fail_trials(o, db, ts, &e);
  const RsLrfindRun *r = NULL;
  for (int i = 0; i < n && !r; i++)
    if (!strcmp(v[i].name, ts->sweep.name)) r = &v[i];
  if (!r) tr_err_set(&e, TR_ENOTFOUND, "'%s': the LR range test did not complete: nothing to draw", ts->sweep.name);
  if (!r || rs_lrfind_plot(&r->res, NAN, NULL, &pl, &e)) {
    rs_lrfind_runs_free(v, n);
    return fail_trials(o, db, ts, &e);
  }
  snprintf(defout, sizeof defout, "%s.svg", ts->sweep.name);
  const char *out = o->out ? o->out : defout;
  rc = rs_plot_write(&pl, out, &e) == TR_OK ? 0 : hps_fail(o->cmd, &e);
  if (rc == 0) printf("wrote %s (the LR range test's curve)\n", out);
  rs_plot_deinit(&pl);
  rs_lrfind_runs_free(v, n);
  close_trials(db, ts);
  return rc;
}

static int cmd_plot(int argc, char **argv) {
  Opts o;
  RsStore *db;
  int rc = parse(argc, argv, "--db --metric --x --color-by --logy -o --output --kind --by", &o);
  const char *kind = "curves";
  RsXKind xk = RS_X_STEP;
  if (rc || (rc = need_sweep(&o)) || (rc = plot_args(&o, &kind, &xk))) return rc;
  char defout[512];
  RsTrialSet ts;
  if ((rc = open_trials(&o, &db, &ts))) return rc;
  if (rs_lrfind_is(&ts.sweep)) return plot_lrfind(&o, db, &ts);
  TrErr e = {0};
  const char *metric = o.metric ? o.metric : ts.metric;
  RsPlot pl;
  int prc;
  if (strcmp(kind, "curves") == 0) {
    int cb = -1;
    if (o.color_by && strcmp(o.color_by, "none") != 0 && strcmp(o.color_by, "trial") != 0) {
      if (rs_param_find(&ts, o.color_by, &cb, &e) != TR_OK) goto out_fail;
    } else if (!o.color_by) {
      for (int k = 0; k < ts.np && cb < 0; k++)
        if (ts.p[k].varies && !ts.p[k].is_seed) cb = k;
    }
    RsCurveOpts co = {metric, xk, cb, o.logy};
    prc = rs_plot_curves(db, &ts, &co, &pl, &e);
  } else if (strcmp(kind, "diversity") == 0) {
    RsDiversity dv;
    prc = rs_diversity_load(db, &ts, &dv);
    if (prc != TR_OK) tr_err_set(&e, prc, "%s", rs_store_errmsg(db));
    if (prc == TR_OK) {
      prc = rs_plot_diversity(&ts, &dv, &pl, &e);
      rs_diversity_deinit(&dv);
    }
    if (prc == TR_OK && o.logy) pl.logy = 1;
  } else {
    if (o.metric && strcmp(o.metric, ts.metric) != 0 && rs_trials_use_metric(db, &ts, o.metric) != TR_OK)
      return fail_trials_store(&o, db, &ts);
    if (strcmp(kind, "param") == 0) {
      int k = -1;
      const char *pname = o.by ? o.by : o.color_by;
      if (pname) {
        if (rs_param_find(&ts, pname, &k, &e) != TR_OK) goto out_fail;
      } else {
        for (int j = 0; j < ts.np && k < 0; j++)
          if (ts.p[j].varies && !ts.p[j].is_seed) k = j;
        if (k < 0) {
          close_trials(db, &ts);
          return hps_error_usage(o.cmd, "%s", "no parameter other than the seed varies (use --by PARAM)");
        }
      }
      prc = rs_plot_param(&ts, k, &pl, &e);
    } else {
      prc = rs_plot_cost(&ts, strcmp(kind, "flops") == 0, &pl, NULL, &e);
    }
    if (prc == TR_OK && o.logy) pl.logy = 1;
  }
  if (prc != TR_OK) goto out_fail;
  if (!o.out) {
    snprintf(defout, sizeof defout, "%s-%s%s.svg", ts.sweep.name, strcmp(kind, "curves") ? kind : metric,
             strcmp(kind, "curves") ? "" : "");
    o.out = defout;
  }
  rc = rs_plot_write(&pl, o.out, &e) == TR_OK ? 0 : hps_fail(o.cmd, &e);
  if (rc == 0) printf("wrote %s (%d series)\n", o.out, pl.ns);
  rs_plot_deinit(&pl);
  close_trials(db, &ts);
  return rc;
out_fail:
  return fail_trials(&o, db, &ts, &e);
}

/* ---- report -------------------------------------------------------------- */

static int cmd_report(int argc, char **argv) {
  Opts o;
  RsStore *db;
  int rc = parse(argc, argv, "--db -o --output", &o);
  if (rc || (rc = need_sweep(&o))) return rc;
  const char *out = o.out ? o.out : "report.html";
  if ((rc = open_db(&o, &db))) return rc;
  TrErr e = {0};
  rc = rs_report_write(db, o.pos, out, &e) == TR_OK ? 0 : hps_fail(o.cmd, &e);
  if (rc == 0) printf("wrote %s\n", out);
  rs_store_close(db);
  return rc;
}

/* ---- the command table --------------------------------------------------- */

#define DBOPT "  --db FILE        the sweep database, a file or a postgresql:// URL (default: $HPSWEEP_DB, else hpsweep.db)\n"

const HpsCmd hps_cmd_ls = {"ls", cmd_ls, "list the sweeps in a database with counts and the best metric",
    "usage: hpsweep ls [--db FILE] [--format table|csv|json]\n\n"
    "The sweeps in a database: trials by status and the best value of each sweep's metric.\n"
    "Reads the database read-only: safe while a sweep runs.\n\n" DBOPT
    "  --format F       table (default), csv or json\n"};

const HpsCmd hps_cmd_top = {"top", cmd_top, "the leaderboard of a sweep",
    "usage: hpsweep top SWEEP [--by METRIC] [-n N] [--db FILE] [--format table|csv|json]\n\n"
    "Trials ranked by the sweep's metric and goal (minimize/maximize): the parameters\n"
    "that vary, best and final metric, step of the best, tokens, wall time, status.\n"
    "Failed and diverged trials rank last.\n\n" DBOPT
    "  --by METRIC      rank by another metric of the metrics table (its min, or max\n"
    "                   for throughput/accuracy), e.g. train_loss\n"
    "  -n N             show the top N (default 10; 0 = all)\n"
    "  --format F       table (default), csv or json\n"};

const HpsCmd hps_cmd_compare = {"compare", cmd_compare, "compare parameter values over seeds",
    "usage: hpsweep compare SWEEP --by PARAM[,PARAM] [--db FILE] [--format table|csv|json]\n\n"
    "Groups completed trials by one or two parameters (short names like lr work), with\n"
    "every other varying non-seed parameter held equal (a block per combination), and\n"
    "prints n, mean, sample std, the 95% confidence interval (Student t) and the best\n"
    "of each group's best metric. It names the winner (best mean) and whether the win\n"
    "is larger than the seed noise: Welch's t-test against the runner-up, p < 0.05.\n"
    "By optimizer.lr, the text adds the learning-rate study: the optimum with its\n"
    "bootstrap CI, the grid-edge flag, the stability edge and the basin.\n\n" DBOPT
    "  --by P[,P]       the parameter(s) to compare (default: the first that varies)\n"
    "  --format F       table (default), csv or json\n"};

const HpsCmd hps_cmd_show = {"show", cmd_show, "one trial: config, status, error, metric curves",
    "usage: hpsweep show TRIAL [--db FILE]\n\n"
    "A trial by id (the 'trial' column of top): its full config, status, error if any,\n"
    "and each metric in brief (rows, first, best, last and a sparkline).\n\n" DBOPT};

const HpsCmd hps_cmd_export = {"export", cmd_export, "export trials or metrics as CSV, JSON or JSON lines",
    "usage: hpsweep export SWEEP [--format csv|json|jsonl] [--what trials|metrics] [-o FILE]\n"
    "                     [--db FILE]\n\n"
    "Trials (one row each, a column per swept parameter) or metric rows, with numbers\n"
    "exactly as stored (shortest text that reads back to the same double). CSV has a\n"
    "header row and RFC 4180 quoting.\n\n" DBOPT
    "  --format F       csv (default), json (an array) or jsonl (one object a line)\n"
    "  --what W         trials (default) or metrics\n"
    "  -o FILE          write to FILE atomically (default: standard output)\n"};

const HpsCmd hps_cmd_plot = {"plot", cmd_plot, "figures: learning curves, metric by parameter, cost",
    "usage: hpsweep plot SWEEP [--metric M] [--x step|tokens|seconds] [--color-by PARAM]\n"
    "                   [--logy] [--kind curves|param|cost|flops|diversity] [--by PARAM] [-o FILE]\n\n"
    "Draws with PLplot: .svg (svg driver), .png (pngcairo) or .pdf (pdfcairo; those two\n"
    "need the plplot-driver-cairo package).\n"
    "  curves  one line per trial of metric M against x, coloured by a parameter\n"
    "  param   the best metric against a parameter (--by): mean and 95% CI over seeds;\n"
    "          log x for log-spaced values such as learning rates\n"
    "  cost    the best metric against wall seconds, Pareto front marked (flops: FLOPs)\n"
    "  diversity  inference sweeps (task: sample): validity against distinct_2, one dot per\n"
    "          setting (mean over seeds, bars span the seeds), the Pareto frontier marked\n"
    "An LR range test (hpsweep lr-find --db) draws its curve against the learning rate\n"
    "with its suggestions (default file NAME.svg).\n\n" DBOPT
    "  --metric M       the metric (default: the sweep's)\n"
    "  --color-by P     colour curves by parameter P (default: the first varying one;\n"
    "                   'none' = one colour per trial)\n"
    "  --logy           log y axis\n"
    "  -o FILE          output (default: SWEEP-METRIC.svg or SWEEP-KIND.svg)\n"};

const HpsCmd hps_cmd_report = {"report", cmd_report, "a self-contained HTML report of a sweep",
    "usage: hpsweep report SWEEP [-o report.html] [--db FILE]\n\n"
    "One HTML file (inline SVG figures, no network, no JavaScript): the spec, the\n"
    "leaderboard, how much each parameter mattered, a comparison per parameter over\n"
    "seeds, learning curves, the LR schedules that ran, metric against cost with the\n"
    "Pareto front, and the failures and divergences with their reasons. An inference\n"
    "sweep (task: sample) gets diversity against validity with the Pareto frontier\n"
    "instead of the curves, schedules and cost.\n\n" DBOPT
    "  -o FILE          output (default: report.html), written atomically\n"};
