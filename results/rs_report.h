/*
** rs_report.h: one self-contained HTML results report of a sweep.
**
** Contract:
** - A single file: CSS and figures inline (PLplot's svg driver output, the same
**   figures `hpsweep plot` writes), no network, no JavaScript.
** - Sections, in order: setup (the spec text), leaderboard (the best
**   RS_REPORT_TOP trials, then a line counting the rest: all are in export), how much
**   each parameter mattered (one-way variance explained), a comparison per varied
**   parameter (figure + table over seeds + the winner and its significance rule),
**   learning curves, the LR schedules that ran (the logged `lr` rows), metric
**   against cost (wall seconds, FLOPs, Pareto front), failures and divergences, and
**   when early termination stopped trials, `early-termination`: the bands or rungs
**   where trials were pruned or paused with the thresholds their decisions used (read
**   back from the reasons in trials.error) and the steps spent against the steps the
**   same trials would have cost run to the end (a stopped trial at the steps of the
**   longest completed one); the curves end with a marker where a trial stopped.
**   Then, exactly for a model-based sweep (method bayes), `search` (rs_report_search.c):
**   the best value so far against trial number, random search's beside it when the
**   database holds a random sweep on the same space (docs/results.md), and each
**   varying parameter against trial number (log axis for log distributions).
**   Then, exactly when optimizer.lr varies, `lr-study`: per combination of the other
**   varying parameters (h3 lr-study-N) the figure of rs_plot_lr_study captioned with
**   rs_study's lr, stability and basin sentences (the bootstrap seeded by the sweep's
**   seed); then `lr-find` when the store holds an LR range test on the sweep's config
**   (rs_report_lrfind.h); and exactly when train.batch_size varies, `bs-study`: per batch size the
**   lr study over its trials (other parameters pooled), the lr* exponent sentence, a
**   table (bs-study-table) of best lrs and steps, examples, tokens and B_simple to the
**   target (metric.target of the stored spec, else automatic) over the curves at each
**   batch size's best grid lr, and rs_plot_bs_steps captioned with rs_study_bs_caption.
**   A second figure, rs_plot_bs_tradeoff (steps against tokens), is captioned with where the
**   smallest and largest batch size sit in multiples of S_min and E_min. Under
**   optimizer.lr_scaling the section's lrs are the effective ones (the factor read from each
**   trial's config), said in a sentence. Then, exactly when model.d_model and optimizer.lr
**   vary, `lr-transfer` (rs_report_transfer.c, rs_report_int.h): per combination of the other
**   varying parameters (h3 lr-transfer-N) the metric against lr, one line per width, each
**   width's fitted optimum, a table (lr-transfer-table-N) and a caption saying whether the
**   best grid point stayed, stayed within one grid point or moved across widths.
**   A study that cannot answer prints rs_study's reason, never a broken figure.
**   A PBT sweep gets `pbt` (rs_report_pbt) before the studies.
**   Each section has an id (setup, leaderboard, importance, compare-PARAM, curves,
**   schedules, cost, failures, early-termination, search, lr-study, lr-find, bs-study,
**   lr-transfer) and figures and
**   tables carry numbered captions.
** - An inference sweep (sweeps.task = sample) replaces curves, schedules and cost
**   (not applicable: one row per measure, at step 0) by `diversity`: validity
**   against distinct_2 per setting with the Pareto frontier (rs_plot_diversity),
**   a caption stating the trade-off from the signs of the data's correlations,
**   and the frontier table (id diversity-frontier).
** - The report of an LR range test (sweeps.task = lr_find) says so in its abstract and is
**   its setup and `lr-find` section only (rs_report_lrfind.h).
** - Reads the database in one read transaction (a consistent snapshot while a sweep
**   writes); a section without data says so instead of failing.
** - rs_report_write is atomic (temp file + fsync + rename).
*/
#ifndef RS_REPORT_H
#define RS_REPORT_H

#include <stdio.h>

#include "rs_query.h"
#include "tr_err.h"

#define RS_REPORT_TOP 50 /* leaderboard rows; the rest are counted, not printed */

int rs_report_html(RsStore *st, const char *sweep, FILE *out, TrErr *err);
/* Population-based training (sweeps.method 'pbt'; rs_report_pbt.c): section `pbt`, numbered
** secno: the lineage drawn as inline SVG (members against steps, an arrow per copy, the best
** final member's ancestry in red; figure pbt-lineage) and the table pbt-schedules: for each
** member, back from its end, the step ranges its weights were trained in, by which member,
** with which values (the "exploit" events' params and from; a retry drops the copies before
** it). Returns 1 when it wrote the section, 0 for other sweeps or on a read error (err set). */
int rs_report_pbt(RsStore *st, const RsTrialSet *ts, FILE *f, int secno, int *fig, int *tab, TrErr *err);
int rs_report_write(RsStore *st, const char *sweep, const char *path, TrErr *err);

#endif
