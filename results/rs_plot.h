/*
** rs_plot.h: figures of a sweep with PLplot: learning curves, metric against a
** parameter (mean and 95% CI over seeds), metric against cost (Pareto front),
** and for inference sweeps diversity against validity (Pareto frontier).
**
** Contract:
** - An RsPlot is plain data (owned copies of the series); builders fill it from a
**   trial set, rs_plot_write renders it to FILE.svg (PLplot's svg driver),
**   FILE.png (pngcairo) or FILE.pdf (pdfcairo, package plplot-driver-cairo),
**   atomically (temp file + rename). rs_plot_svg returns the same SVG as text,
**   so the report embeds exactly what `hpsweep plot` writes.
** - Every series is drawn as ONE polyline with stroke-width RS_PLOT_SERIES_WIDTH
**   (at most RS_PLOT_MAX_POINTS points: longer series are thinned, keeping the
**   first and last), so an SVG reader can count series. Legend swatches and axes
**   use other widths. Non-finite points (and non-positive ones on a log axis) are
**   dropped. A point is a marker glyph (default "#(850)", U+2022 in the SVG text;
**   the diversity frontier rings its points with "#(840)", U+25CB).
** - PLplot keeps global state: not thread-safe; each render uses its own stream.
*/
#ifndef RS_PLOT_H
#define RS_PLOT_H

#include "rs_query.h"
#include "rs_study.h"
#include "tr_err.h"

#define RS_PLOT_SERIES_WIDTH 1.5
#define RS_PLOT_SERIES_WIDTH_SVG "1.500000e+00" /* as PLplot's svg driver prints it */
#define RS_PLOT_MAX_POINTS 240
/* A colour-by legend shows at most RS_PLOT_LEGEND_MAX values; beyond that the values of
** the RS_PLOT_LEGEND_BEST best trials come first (the winner's first), then others spread
** evenly over the range. */
#define RS_PLOT_LEGEND_MAX 14
#define RS_PLOT_LEGEND_BEST 5

typedef enum { RS_STYLE_LINE, RS_STYLE_POINTS, RS_STYLE_LINEPOINTS } RsPlotStyle;

typedef struct RsPlotSeries {
  double *x, *y;          /* (n) */
  double *ylo, *yhi;      /* (n) error bars, or NULL */
  double *xlo, *xhi;      /* (n) horizontal error bars, or NULL (set after rs_plot_add) */
  const char *marker;     /* PLplot symbol of the points (static text), NULL = "#(850)" */
  double marker_size;     /* its character scale, 0 = 0.9 */
  int n;
  unsigned rgb;           /* 0xRRGGBB */
  int style;              /* RsPlotStyle */
  int clip_range;         /* 0: excluded from the automatic y range (a diverged run) */
} RsPlotSeries;

typedef struct RsPlotNote {
  double x, y;            /* data coordinates of the point it names */
  char *text;
} RsPlotNote;

typedef struct RsPlot {
  char title[256], xlabel[128], ylabel[128];
  char legend_title[128];
  int logx, logy;
  RsPlotSeries *s;
  int ns;
  char **legend;          /* (nlegend) entry texts */
  unsigned *legend_rgb;
  int *legend_style;
  int nlegend;
  char **xcats;           /* (nxcats) category names: x = 0..nxcats-1 is categorical */
  int nxcats;
  RsPlotNote *notes;      /* (nnotes) small text beside a point (left of it in the right third) */
  int nnotes;
  double legend_marker_size; /* character scale of legend symbols, 0 = 0.9 */
  int oom;                /* an add ran out of memory: the builder fails with TR_ENOMEM */
} RsPlot;

void rs_plot_init(RsPlot *p);
void rs_plot_deinit(RsPlot *p);
/* Copy a series in (ylo/yhi may be NULL); returns its index, or -1 when out of memory
** (then p->oom is set and p is as before). The same for a legend entry and a note. */
int rs_plot_add(RsPlot *p, const double *x, const double *y, const double *ylo, const double *yhi,
                int n, unsigned rgb, int style);
int rs_plot_legend_add(RsPlot *p, const char *text, unsigned rgb, int style);
int rs_plot_note_add(RsPlot *p, double x, double y, const char *text);

/* Colour i of n: a categorical palette for n <= 10, a viridis-like ramp beyond. */
unsigned rs_plot_color(int i, int n);
/* TR_ENOTFOUND naming the package if PLplot lacks the device ("svg", "pngcairo"...). */
int rs_plot_device_check(const char *dev, TrErr *err);
/* The device for a path by extension: .svg -> svg, .png -> pngcairo, .pdf -> pdfcairo. */
const char *rs_plot_device_for(const char *path);

int rs_plot_write(const RsPlot *p, const char *path, TrErr *err);
int rs_plot_svg(const RsPlot *p, char **svg, TrErr *err);

/* ---- builders ------------------------------------------------------------ */

#define RS_PLOT_PRUNED_MARK "#(851)"        /* U+25A0 in the SVG text */
#define RS_PLOT_PRUNED_MARK_SVG "&#x25a0;"
#define RS_PLOT_PAUSED_MARK "#(841)"        /* U+25A1 */
#define RS_PLOT_PAUSED_MARK_SVG "&#x25a1;"

typedef struct RsCurveOpts {
  const char *metric;     /* metrics.name */
  RsXKind x;
  int color_by;           /* parameter index, or -1: one colour per trial */
  int logy;
} RsCurveOpts;

/* One series per trial that has rows of the metric; TR_ENOTFOUND if none has. A trial
** early termination stopped ends with a marker at its last point, a one-point series
** after its line: pruned RS_PLOT_PRUNED_MARK (filled square), paused RS_PLOT_PAUSED_MARK
** (hollow square), in the trial's colour. */
int rs_plot_curves(RsStore *st, const RsTrialSet *ts, const RsCurveOpts *o, RsPlot *out, TrErr *err);
/* The ranking metric of completed trials against parameter k: mean with a 95% CI
** (over seeds) per value, one series per combination of the other varying params,
** and each trial as a dot. Log x for log-spaced values. */
int rs_plot_param(const RsTrialSet *ts, int k, RsPlot *out, TrErr *err);
/* The ranking metric against wall seconds (use_flops 0) or FLOPs (1), Pareto front
** marked; front[] (ts->n, may be NULL) receives the membership. */
int rs_plot_cost(const RsTrialSet *ts, int use_flops, RsPlot *out, int *front, TrErr *err);
/* Inference sweeps: validity (y) against distinct_2 (x), one dot per setting of d
** (mean over seeds, bars from the lowest to the highest seed), coloured and
** labelled by setting (by temperature, or the first varied parameter, beyond 12
** settings); the Pareto frontier is the FIRST series, a dark line sorted by
** distinct_2 through its points, each ringed. TR_ENOTFOUND if no setting has data. */
int rs_plot_diversity(const RsTrialSet *ts, const RsDiversity *d, RsPlot *out, TrErr *err);

/* The learning-rate study of one group (rs_study.h): each finished seed a grey dot, the
** seed means with their 95% t-intervals as a line, the optimum a red dot with its
** bootstrap CI as a horizontal bar; log x. pt/n: the points the study ran on. TR_ENOTFOUND
** if no lr has a finished seed. */
int rs_plot_lr_study(const RsLrStudy *s, const RsLrPoint *pt, int n, const char *metric, const char *title,
                     RsPlot *out, TrErr *err);
/* Steps to the target against the batch size, log-log: the measured steps, the
** perfect-scaling line through the smallest batch size that reached the target (steps
** halve when B doubles) and, when the fit succeeded, S_min + E_min / B. TR_ENOTFOUND
** unless two batch sizes reached the target. */
int rs_plot_bs_steps(const RsBsStudy *s, const char *title, RsPlot *out, TrErr *err);
/* The trade-off of the same study: steps to the target against tokens to it (examples when
** a level lacks its sequence length), log-log, one point per batch size labelled B=...,
** and when the fit succeeded the curve (S / S_min - 1)(E / E_min - 1) = 1 over the batch
** sizes with its asymptotes S_min and E_min. TR_ENOTFOUND unless two batch sizes reached
** the target. */
int rs_plot_bs_tradeoff(const RsBsStudy *s, const char *title, RsPlot *out, TrErr *err);

#endif
