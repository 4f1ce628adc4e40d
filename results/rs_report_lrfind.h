/*
** rs_report_lrfind.h: the report's LR range test section (private to results/rs_report*.c).
**
** Contract:
** - A sweep's report shows every stored range test (rs_lrfind.h) on the same config, right
**   after its learning-rate study, as section `lr-find` (h3 lr-find-N per test): the curve
**   with its three suggestions and the sweep's fitted optimum marked (rs_lrfind_plot), and a
**   sentence comparing each suggestion with that optimum (or, when optimizer.lr does not
**   vary, with the lr the sweep trained at). Without a matching test the section is absent.
** - Same config: the config of the sweep's first trial (idx order) with the swept keys
**   (train.seed included) and optimizer.lr set to the range test's values hashes like the
**   range test's config (tr_config_hash): every key the sweep does not vary, and every key
**   but the learning rate for the test, is equal. A program or sample sweep never matches.
** - The optimum is the learning-rate study's (rs_study_lr, bootstrap seeded by the sweep's
**   seed) over the trials that ran at the test's values of the other varied parameters, or
**   over all trials when none did (the sentence says which).
** - The report of a range test itself (task lr_find) gets the section with its curve and
**   suggestions, saying it is a range test, not a sweep.
** - Read errors are kept in *store_err (the report then fails with them); nothing prints
**   but to f.
*/
#ifndef RS_REPORT_LRFIND_H
#define RS_REPORT_LRFIND_H

#include <stdio.h>

#include "rs_query.h"
#include "tr_err.h"

/* The section, numbered secno when present; returns the next free section number. klr: the
** index of a varying optimizer.lr in ts->p, or -1. *fig numbers the figures. */
int rs_report_lrfind(FILE *f, RsStore *st, const RsTrialSet *ts, int klr, int secno, int *fig, TrErr *store_err);

/* rs_report.c's HTML escaping and SVG embedding, shared with the section files. */
void rs_report_html_escape(FILE *f, const char *s);
void rs_report_svg_embed(FILE *f, const char *svg);

#endif
