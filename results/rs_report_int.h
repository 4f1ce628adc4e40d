/*
** rs_report_int.h: what the report's sections in results/rs_report_<topic>.c share with
** rs_report.c. Internal to results/: not part of the report's contract (rs_report.h).
**
** Contract:
** - A section writes HTML to r->f and numbers its figures and tables from r->fig and
**   r->tab (rs_rep_figure and the section's own tables increment them).
** - A read or memory error in a section is kept in r->store_err (rs_rep_lr_study and
**   rs_rep_oom do it): the report then fails with it; a section without data says so.
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
/* One paragraph of escaped text. */
void rs_rep_para(RsRep *r, const char *text);
/* The figure built with return code rc (its error in perr) with a numbered caption, or a
** note saying why there is none. Does not free p. */
void rs_rep_figure(RsRep *r, RsPlot *p, int rc, const TrErr *perr, const char *caption);
/* rs_study_lr with the sweep's goal and seed; an error is kept (see above). */
int rs_rep_lr_study(RsRep *r, const RsLrPoint *pt, int n, RsLrStudy *s);
/* Out of memory in a section: kept like a read error. */
void rs_rep_oom(RsRep *r);

/* ---- sections in their own files; each returns 1 when it wrote a section, else 0 ---- */

/* rs_report_transfer.c, id lr-transfer: exactly when model.d_model and optimizer.lr vary. */
int rs_report_transfer(RsRep *r, int secno);

#endif
