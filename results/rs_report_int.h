/*
** rs_report_int.h: what the report's section files (results/rs_report_<topic>.c) share
** with rs_report.c: the report being written and its writers. Private to results/.
**
** Contract: a section writes to r->f; a figure goes through rs_rep_figure (numbered
** caption, "No figure: why" when the plot could not be made); a read error is kept with
** rs_rep_store_error and fails the whole report (never passes for "no data").
*/
#ifndef RS_REPORT_INT_H
#define RS_REPORT_INT_H

#include <stdio.h>

#include "rs_plot.h"
#include "rs_query.h"
#include "rs_study.h"
#include "tr_err.h"

typedef struct RsRep {
  FILE *f;
  RsStore *st;
  RsTrialSet *ts;
  int fig, tab;
  TrErr store_err; /* the first read error (database, I/O, memory): the report fails with it */
} RsRep;

/* HTML-escaped text. */
void rs_rep_esc(FILE *f, const char *s);
/* A paragraph of escaped text. */
void rs_rep_para(RsRep *r, const char *text);
/* The figure p (built with return code rc, error perr) with a numbered caption, or a note
** saying why there is none. Does not free p. */
void rs_rep_figure(RsRep *r, RsPlot *p, int rc, const TrErr *perr, const char *caption);
/* Keep a read error (TR_EDB, TR_EIO, TR_ENOMEM): 1 if rc is one. */
int rs_rep_store_error(RsRep *r, int rc, const TrErr *e);
/* rs_study_lr with the sweep's goal and seed; an error is kept (see above). */
int rs_rep_lr_study(RsRep *r, const RsLrPoint *pt, int n, RsLrStudy *s);
/* Out of memory in a section: kept like a read error. */
void rs_rep_oom(RsRep *r);

/* ---- sections in files of their own ---- */

/* `search` (rs_report_search.c): a model-based sweep's best so far against trial number
** (with random search's on the same space) and where the proposals went. Returns the next
** section number. */
int rs_report_search(RsRep *r, int secno);
/* `lr-transfer` (rs_report_transfer.c): exactly when model.d_model and optimizer.lr vary.
** Returns 1 when it wrote a section, else 0. */
int rs_report_transfer(RsRep *r, int secno);

#endif
