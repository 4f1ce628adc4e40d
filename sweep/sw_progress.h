/*
** sw_progress.h: what a running sweep looks like: the live view of
** `hpsweep run` (redrawn in place on a terminal, one plain line per event
** otherwise) and the same view of `hpsweep status` built from the store.
**
** Contract:
** - The view is a sweep bar (done/total, failures, running, ETA) and one line
**   per running trial (index, attempt, parameters, step/total, loss, tokens/s),
**   cut to the given width. It writes only to the FILE it is given.
** - Live mode redraws its lines in place with ANSI (cursor up, erase line) at
**   most 4 times a second; finished trials print one permanent line above it.
**   Plain mode prints one line per start/end of a trial and nothing else, so a
**   log file reads as a history.
** - ETA: the mean wall time of the trials finished so far (else of the running
**   ones, extrapolated from their step), times the work left, over the workers.
*/
#ifndef SW_PROGRESS_H
#define SW_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#include "rs_store.h"
#include "sw_sched.h"

/* A running trial as the view shows it. */
typedef struct SwViewTrial {
  int64_t trial_id;      /* the trial's database id, as `hpsweep show` takes it */
  int attempt;
  const char *params;    /* JSON object of the swept keys */
  int64_t step, total;   /* total 0: unknown (time budget) */
  double loss;           /* latest train loss, NaN if none yet */
  double tokens_per_second; /* NaN if unknown */
  double stale;          /* lease expired (its runner died or hangs): seconds since it was
                            last heard from (Inf if unknown); NaN: alive */
} SwViewTrial;

/* Print the view (bar + trials); returns the number of lines printed. eta < 0: unknown. */
int sw_view_print(FILE *f, const char *sweep, const RsCounts *c, double eta, const SwViewTrial *t,
                  size_t n, int width);
/* "1h02m", "3m05s", "12s", "?" (seconds < 0). */
void sw_format_duration(char *buf, size_t n, double seconds);
/* ETA from counts: trials left (pending, interrupted, retriable failures not
** counted, running as half) times mean_seconds, over `workers`; -1 if unknown. */
double sw_eta(const RsCounts *c, double mean_seconds, double running_left, int workers);

typedef struct SwProgress SwProgress;
/* live: redraw in place (a terminal); width: columns (<= 0: from the terminal, else 100). */
int sw_progress_create(SwProgress **out, FILE *f, int live, int width, const char *sweep, const char *metric,
                       int jobs);
void sw_progress_destroy(SwProgress *p); /* NULL: no-op */
/* The scheduler's on_event (ud = the SwProgress). */
void sw_progress_event(void *ud, const SwEvent *e);
/* Erase the live lines (before the summary). */
void sw_progress_clear(SwProgress *p);

#endif
