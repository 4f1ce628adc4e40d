/* rs_plot.c: PLplot rendering of RsPlot, and the builders over a trial set. */
#include "rs_plot.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <math.h>
#include <plplot/plplot.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "rs_stats.h"
#include "tr_alloc.h"
#include "tr_atomic.h"
#include "tr_sort.h"

void rs_plot_init(RsPlot *p) { memset(p, 0, sizeof *p); }

void rs_plot_deinit(RsPlot *p) {
  if (!p) return;
  for (int i = 0; i < p->ns; i++)
    free(p->s[i].x), free(p->s[i].y), free(p->s[i].ylo), free(p->s[i].yhi), free(p->s[i].xlo), free(p->s[i].xhi);
  free(p->s);
  for (int i = 0; i < p->nlegend; i++) free(p->legend[i]);
  free(p->legend), free(p->legend_rgb), free(p->legend_style);
  for (int i = 0; i < p->nxcats; i++) free(p->xcats[i]);
  free(p->xcats);
  for (int i = 0; i < p->nnotes; i++) free(p->notes[i].text);
  free(p->notes);
  memset(p, 0, sizeof *p);
}

static double *dup_arr(const double *a, int n) {
  if (!a) return NULL;
  double *d = tr_malloc(((size_t)n + 1) * sizeof *d);
  if (d) memcpy(d, a, (size_t)n * sizeof *d);
  return d;
}

int rs_plot_add(RsPlot *p, const double *x, const double *y, const double *ylo, const double *yhi,
                int n, unsigned rgb, int style) {
  RsPlotSeries *ns = tr_realloc(p->s, ((size_t)p->ns + 1) * sizeof *ns);
  if (!ns) return p->oom = 1, -1;
  p->s = ns;
  RsPlotSeries *s = &p->s[p->ns];
  memset(s, 0, sizeof *s);
  s->x = dup_arr(x, n), s->y = dup_arr(y, n), s->ylo = dup_arr(ylo, n), s->yhi = dup_arr(yhi, n);
  if ((x && !s->x) || (y && !s->y) || (ylo && !s->ylo) || (yhi && !s->yhi)) {
    free(s->x), free(s->y), free(s->ylo), free(s->yhi);
    return p->oom = 1, -1;
  }
  s->n = n, s->rgb = rgb, s->style = style, s->clip_range = 1;
  return p->ns++;
}

int rs_plot_legend_add(RsPlot *p, const char *text, unsigned rgb, int style) {
  char **nl = tr_realloc(p->legend, ((size_t)p->nlegend + 1) * sizeof *nl);
  if (nl) p->legend = nl;
  unsigned *nr = tr_realloc(p->legend_rgb, ((size_t)p->nlegend + 1) * sizeof *nr);
  if (nr) p->legend_rgb = nr;
  int *nst = tr_realloc(p->legend_style, ((size_t)p->nlegend + 1) * sizeof *nst);
  if (nst) p->legend_style = nst;
  if (!nl || !nr || !nst || !(p->legend[p->nlegend] = tr_strdup(text))) return p->oom = 1, -1;
  p->legend_rgb[p->nlegend] = rgb, p->legend_style[p->nlegend] = style;
  return p->nlegend++;
}

int rs_plot_note_add(RsPlot *p, double x, double y, const char *text) {
  RsPlotNote *nn = tr_realloc(p->notes, ((size_t)p->nnotes + 1) * sizeof *nn);
  if (!nn) return p->oom = 1, -1;
  p->notes = nn;
  nn[p->nnotes] = (RsPlotNote){x, y, tr_strdup(text)};
  if (!nn[p->nnotes].text) return p->oom = 1, -1;
  return p->nnotes++;
}

/* The end of a builder: TR_OK, or out of memory in an add (the plot is released). */
static int plot_built(RsPlot *out, TrErr *err) {
  if (!out->oom) return TR_OK;
  rs_plot_deinit(out);
  return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
}

unsigned rs_plot_color(int i, int n) {
  /* Categorical (Tableau 10), distinguishable and print-safe. */
  static const unsigned cat[10] = {0x1f77b4, 0xff7f0e, 0x2ca02c, 0xd62728, 0x9467bd,
                                   0x8c564b, 0xe377c2, 0x7f7f7f, 0xbcbd22, 0x17becf};
  if (n <= 10) return cat[((i % 10) + 10) % 10];
  /* Ordered values: a viridis-like ramp through 5 anchors. */
  static const double anc[5][3] = {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}};
  double t = n > 1 ? (double)i / (n - 1) : 0;
  t = t < 0 ? 0 : t > 1 ? 1 : t;
  int a = (int)(t * 4);
  if (a > 3) a = 3;
  double f = t * 4 - a;
  unsigned rgb = 0;
  for (int c = 0; c < 3; c++) rgb = (rgb << 8) | (unsigned)lround(anc[a][c] + f * (anc[a + 1][c] - anc[a][c]));
  return rgb;
}

const char *rs_plot_device_for(const char *path) {
  const char *dot = strrchr(path, '.');
  if (!dot) return NULL;
  if (strcasecmp(dot, ".svg") == 0) return "svg";
  if (strcasecmp(dot, ".png") == 0) return "pngcairo";
  if (strcasecmp(dot, ".pdf") == 0) return "pdfcairo";
  return NULL;
}

int rs_plot_device_check(const char *dev, TrErr *err) {
  /* plgDevs fills caller arrays of capacity *n. */
  const char *menu_buf[128], *names_buf[128];
  const char **menu = menu_buf, **names = names_buf;
  int n = 128;
  plgDevs(&menu, &names, &n);
  for (int i = 0; i < n; i++)
    if (names[i] && strcmp(names[i], dev) == 0) return TR_OK;
  return tr_err_set(err, TR_ENOTFOUND, "PLplot has no '%s' driver (install %s)", dev,
                    strcmp(dev, "svg") == 0 ? "libplplot17" : "plplot-driver-cairo");
}

/* PLplot calls exit() on fatal errors unless a handler says otherwise; we check
** everything it could fail on (device, writable file) before plinit. */
static int plot_exit_handler(const char *msg) {
  (void)msg;
  return 1;
}

typedef struct Pts {
  double *x, *y, *lo, *hi, *xlo, *xhi;
  int n;
} Pts;

static void pts_free(Pts *o) { free(o->x), free(o->y), free(o->lo), free(o->hi), free(o->xlo), free(o->xhi); }

/* Finite (and positive on log axes) points, log10'd as PLplot wants, thinned. */
static int prepare(const RsPlot *p, const RsPlotSeries *s, Pts *o) {
  memset(o, 0, sizeof *o);
  size_t sz = ((size_t)s->n + 1) * sizeof(double);
  o->x = tr_malloc(sz), o->y = tr_malloc(sz), o->lo = tr_malloc(sz), o->hi = tr_malloc(sz), o->xlo = tr_malloc(sz), o->xhi = tr_malloc(sz);
  if (!o->x || !o->y || !o->lo || !o->hi || !o->xlo || !o->xhi) return TR_ENOMEM;
  for (int i = 0; i < s->n; i++) {
    double x = s->x[i], y = s->y[i];
    double lo = s->ylo ? s->ylo[i] : y, hi = s->yhi ? s->yhi[i] : y;
    double xlo = s->xlo ? s->xlo[i] : x, xhi = s->xhi ? s->xhi[i] : x;
    if (!isfinite(x) || !isfinite(y)) continue;
    if (p->logx) {
      if (!(x > 0)) continue;
      x = log10(x);
      xlo = xlo > 0 ? log10(xlo) : x, xhi = xhi > 0 ? log10(xhi) : x;
    }
    if (!isfinite(xlo)) xlo = x;
    if (!isfinite(xhi)) xhi = x;
    if (p->logy) {
      if (!(y > 0)) continue;
      y = log10(y);
      lo = lo > 0 ? log10(lo) : y, hi = hi > 0 ? log10(hi) : y;
    }
    if (!isfinite(lo)) lo = y;
    if (!isfinite(hi)) hi = y;
    o->x[o->n] = x, o->y[o->n] = y, o->lo[o->n] = lo, o->hi[o->n] = hi, o->xlo[o->n] = xlo, o->xhi[o->n] = xhi;
    o->n++;
  }
  if (o->n > RS_PLOT_MAX_POINTS) { /* thin evenly, keep first and last */
    for (int j = 0; j < RS_PLOT_MAX_POINTS; j++) {
      int i = (int)((double)j * (o->n - 1) / (RS_PLOT_MAX_POINTS - 1) + 0.5);
      o->x[j] = o->x[i], o->y[j] = o->y[i], o->lo[j] = o->lo[i], o->hi[j] = o->hi[i];
      o->xlo[j] = o->xlo[i], o->xhi[j] = o->xhi[i];
    }
    o->n = RS_PLOT_MAX_POINTS;
  }
  return TR_OK;
}

static void cat_label(PLINT axis, PLFLT value, char *label, PLINT length, PLPointer data) {
  const RsPlot *p = data;
  label[0] = '\0';
  if (axis != PL_X_AXIS) return;
  long i = lround(value);
  if (fabs(value - (double)i) < 1e-6 && i >= 0 && i < p->nxcats) snprintf(label, (size_t)length, "%s", p->xcats[i]);
}

static void set_rgb(int idx, unsigned rgb) {
  plscol0(idx, (PLINT)((rgb >> 16) & 255), (PLINT)((rgb >> 8) & 255), (PLINT)(rgb & 255));
}

/* The window: every drawn point and its bars, with a margin (series with clip_range 0 only
** when nothing else is drawn). */
typedef struct Win {
  double x0, x1, y0, y1;
} Win;

static Win plot_window(const RsPlot *p, const Pts *pts) {
  double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
  double ya0 = INFINITY, ya1 = -INFINITY; /* every series, for when all are excluded */
  for (int i = 0; i < p->ns; i++)
    for (int j = 0; j < pts[i].n; j++) {
      x0 = fmin(x0, pts[i].xlo[j]), x1 = fmax(x1, pts[i].xhi[j]);
      ya0 = fmin(ya0, pts[i].lo[j]), ya1 = fmax(ya1, pts[i].hi[j]);
      if (p->s[i].clip_range) y0 = fmin(y0, pts[i].lo[j]), y1 = fmax(y1, pts[i].hi[j]);
    }
  if (!(y0 <= y1)) y0 = ya0, y1 = ya1;
  if (!(x0 <= x1)) x0 = 0, x1 = 1;
  if (!(y0 <= y1)) y0 = 0, y1 = 1;
  if (p->nxcats) x0 = -0.5, x1 = p->nxcats - 0.5;
  double dx = x1 - x0, dy = y1 - y0;
  if (dx <= 0) dx = fabs(x0) > 0 ? fabs(x0) * 0.2 : 1, x0 -= dx / 2, x1 += dx / 2, dx *= 2;
  if (dy <= 0) dy = fabs(y0) > 0 ? fabs(y0) * 0.2 : 1, y0 -= dy / 2, y1 += dy / 2, dy *= 2;
  if (!p->nxcats) x0 -= 0.03 * dx, x1 += 0.03 * dx;
  y0 -= 0.05 * dy, y1 += 0.05 * dy;
  return (Win){x0, x1, y0, y1};
}

/* A new PLplot stream on out: page, colours, viewport, window, axes, labels. */
static void plot_frame(const RsPlot *p, const char *dev, FILE *out, Win w) {
  plsexit(plot_exit_handler);
  PLINT strm;
  plmkstrm(&strm);
  plsdev(dev);
  plsfile(out);
  if (strcmp(dev, "svg") == 0) plspage(0, 0, 800, 500, 0, 0);
  else if (strcmp(dev, "pngcairo") == 0) plspage(0, 0, 1200, 750, 0, 0);
  else plspage(0, 0, 720, 450, 0, 0);
  plscolbg(255, 255, 255);
  plscmap0n(4 + p->ns + p->nlegend);
  plinit();
  set_rgb(0, 0xffffff), set_rgb(1, 0x333333), set_rgb(2, 0xe2e2e2);
  pladv(0);
  plschr(0, 0.78);
  plvpor(0.10, p->nlegend > 0 ? 0.74 : 0.96, 0.13, 0.90);
  plwind(w.x0, w.x1, w.y0, w.y1);
  char xo[16], yo[16], go[16], gyo[16];
  snprintf(go, sizeof go, "g%s", p->logx ? "l" : "");
  snprintf(gyo, sizeof gyo, "g%s", p->logy ? "l" : "");
  snprintf(xo, sizeof xo, "bcnst%s%s", p->logx ? "l" : "", p->nxcats ? "o" : "");
  snprintf(yo, sizeof yo, "bcnstv%s", p->logy ? "l" : "");
  plcol0(2);
  plwidth(0.6);
  plbox(go, p->nxcats ? 1.0 : 0.0, 0, gyo, 0.0, 0);
  plcol0(1);
  plwidth(1.0);
  if (p->nxcats) plslabelfunc(cat_label, (PLPointer)p);
  plbox(xo, p->nxcats ? 1.0 : 0.0, 0, yo, 0.0, 0);
  if (p->nxcats) plslabelfunc(NULL, NULL);
  plmtex("b", 3.0, 0.5, 0.5, p->xlabel);
  plmtex("l", 4.2, 0.5, 0.5, p->ylabel);
  plschr(0, 0.9);
  plmtex("t", 1.2, 0.5, 0.5, p->title);
  plschr(0, 0.78);
}

static void plot_series(const RsPlot *p, const Pts *pts) {
  for (int i = 0; i < p->ns; i++) {
    const Pts *o = &pts[i];
    set_rgb(4 + i, p->s[i].rgb);
    plcol0(4 + i);
    if (o->n == 0) continue;
    if (p->s[i].ylo || p->s[i].yhi) {
      plwidth(1.0);
      plerry(o->n, o->x, o->lo, o->hi);
    }
    if (p->s[i].xlo || p->s[i].xhi) {
      plwidth(1.0);
      plerrx(o->n, o->xlo, o->xhi, o->y);
    }
    int line = p->s[i].style != RS_STYLE_POINTS && o->n >= 2;
    if (line) {
      plwidth(RS_PLOT_SERIES_WIDTH);
      plline(o->n, o->x, o->y);
    }
    if (!line || p->s[i].style == RS_STYLE_LINEPOINTS) {
      plschr(0, p->s[i].marker_size > 0 ? p->s[i].marker_size : 0.9);
      plstring(o->n, o->x, o->y, p->s[i].marker ? p->s[i].marker : "#(850)");
      plschr(0, 0.78);
    }
  }
}

static void plot_notes(const RsPlot *p, Win w) {
  plcol0(1);
  plschr(0, 0.62);
  for (int i = 0; i < p->nnotes; i++) {
    double x = p->notes[i].x, y = p->notes[i].y;
    if (p->logx) x = x > 0 ? log10(x) : NAN;
    if (p->logy) y = y > 0 ? log10(y) : NAN;
    if (!isfinite(x) || !isfinite(y) || !p->notes[i].text) continue;
    char buf[160];
    int left = x > w.x0 + 0.7 * (w.x1 - w.x0); /* near the right edge: text ends before the point */
    snprintf(buf, sizeof buf, left ? "%s   " : "   %s", p->notes[i].text);
    plptex(x, y + 0.035 * (w.y1 - w.y0), 1, 0, left ? 1.0 : 0.0, buf); /* lifted: clear of a flat line */
  }
  plschr(0, 0.78);
}

/* pllegend's parallel arrays, one entry per legend line (the title first, if any). */
typedef struct Legend {
  PLINT *opt, *tcol, *lcol, *lsty, *scol, *snum;
  PLFLT *lw, *ssc;
  const char **text, **sym;
  int n;
} Legend;

static void legend_free(Legend *l) {
  free(l->opt), free(l->tcol), free(l->lcol), free(l->lsty), free(l->scol), free(l->snum), free(l->lw);
  free(l->ssc), free(l->text), free(l->sym);
}

static int legend_alloc(const RsPlot *p, Legend *l) {
  size_t n = (size_t)p->nlegend + 1;
  l->n = p->nlegend + (p->legend_title[0] ? 1 : 0);
  l->opt = tr_calloc(n, sizeof *l->opt), l->tcol = tr_calloc(n, sizeof *l->tcol), l->lcol = tr_calloc(n, sizeof *l->lcol);
  l->lsty = tr_calloc(n, sizeof *l->lsty), l->scol = tr_calloc(n, sizeof *l->scol), l->snum = tr_calloc(n, sizeof *l->snum);
  l->lw = tr_calloc(n, sizeof *l->lw), l->ssc = tr_calloc(n, sizeof *l->ssc);
  l->text = tr_calloc(n, sizeof *l->text), l->sym = tr_calloc(n, sizeof *l->sym);
  return l->opt && l->tcol && l->lcol && l->lsty && l->scol && l->snum && l->lw && l->ssc && l->text && l->sym
             ? TR_OK
             : TR_ENOMEM;
}

static void plot_legend(const RsPlot *p, Legend *l) {
  int j = 0;
  if (p->legend_title[0]) {
    l->opt[j] = PL_LEGEND_NONE, l->tcol[j] = 1, l->text[j] = p->legend_title, l->sym[j] = "";
    l->lw[j] = 1, l->ssc[j] = 1, l->lsty[j] = 1, j++;
  }
  for (int i = 0; i < p->nlegend; i++, j++) {
    int c = 4 + p->ns + i;
    set_rgb(c, p->legend_rgb[i]);
    int st = p->legend_style[i];
    l->opt[j] = st == RS_STYLE_POINTS ? PL_LEGEND_SYMBOL
              : st == RS_STYLE_LINE ? PL_LEGEND_LINE : (PL_LEGEND_LINE | PL_LEGEND_SYMBOL);
    l->tcol[j] = 1, l->text[j] = p->legend[i], l->lcol[j] = c, l->lsty[j] = 1, l->lw[j] = 2.5;
    l->scol[j] = c, l->ssc[j] = p->legend_marker_size > 0 ? p->legend_marker_size : 0.9, l->snum[j] = 1;
    l->sym[j] = "#(850)";
  }
  PLFLT w, h;
  plwidth(1.0);
  pllegend(&w, &h, PL_LEGEND_BACKGROUND, PL_POSITION_RIGHT | PL_POSITION_OUTSIDE, 0.02, 0.0, 0.05, 0, 1, 1, 0, 0,
           l->n, l->opt, 0.8, 0.62, 2.2, 0.0, l->tcol, l->text, NULL, NULL, NULL, NULL, l->lcol, l->lsty, l->lw,
           l->scol, l->ssc, l->snum, l->sym);
}

/* Draw p with PLplot device dev into out (PLplot fcloses it when done). Everything that
** can fail (the device, memory) is checked before the stream opens. */
static int render(const RsPlot *p, const char *dev, FILE *out, TrErr *err) {
  int rc = rs_plot_device_check(dev, err);
  if (rc) return rc;
  Pts *pts = tr_calloc((size_t)p->ns + 1, sizeof *pts);
  Legend leg = {0};
  rc = pts ? TR_OK : TR_ENOMEM;
  for (int i = 0; rc == TR_OK && i < p->ns; i++) rc = prepare(p, &p->s[i], &pts[i]);
  if (rc == TR_OK && p->nlegend > 0) rc = legend_alloc(p, &leg);
  if (rc == TR_OK) {
    Win w = plot_window(p, pts);
    plot_frame(p, dev, out, w);
    plot_series(p, pts);
    plot_notes(p, w);
    if (p->nlegend > 0) plot_legend(p, &leg);
    plend1();
  }
  legend_free(&leg);
  for (int i = 0; pts && i < p->ns; i++) pts_free(&pts[i]);
  free(pts);
  return rc ? tr_err_set(err, rc, "figure: out of memory") : TR_OK;
}

int rs_plot_write(const RsPlot *p, const char *path, TrErr *err) {
  const char *dev = rs_plot_device_for(path);
  if (!dev) return tr_err_set(err, TR_EINVAL, "%s: unknown figure type (use .svg, .png or .pdf)", path);
  /* PLplot ignores its write errors: it writes through the atomic file's checked
  ** stream, so a full disk fails here and never leaves a half figure. */
  TrAtomicFile a;
  int rc = tr_atomic_open(&a, path, err);
  if (rc) return rc;
  rc = render(p, dev, a.f, err);
  if (rc) {
    tr_atomic_abort(&a);
    return rc;
  }
  return tr_atomic_commit(&a, err);
}

/* A growing in-memory buffer behind a FILE (PLplot writes the SVG of the report into it). */
typedef struct MemOut {
  char *p;
  size_t n, cap;
  int oom, closed;
} MemOut;

static ssize_t mem_write(void *c, const char *b, size_t n) {
  MemOut *m = c;
  if (m->n + n + 1 > m->cap) {
    size_t cap = 2 * (m->n + n + 1);
    char *np = tr_realloc(m->p, cap);
    if (!np) {
      m->oom = 1;
      return 0;
    }
    m->p = np, m->cap = cap;
  }
  memcpy(m->p + m->n, b, n);
  m->n += n;
  m->p[m->n] = '\0';
  return (ssize_t)n;
}

static int mem_close(void *c) {
  ((MemOut *)c)->closed = 1;
  return 0;
}

int rs_plot_svg(const RsPlot *p, char **svg, TrErr *err) {
  *svg = NULL;
  MemOut m = {0};
  FILE *f = fopencookie(&m, "w", (cookie_io_functions_t){NULL, mem_write, NULL, mem_close});
  if (!f) return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
  int rc = render(p, "svg", f, err);
  if (!m.closed) fclose(f);
  if (!rc && (m.oom || !m.p)) rc = tr_err_set(err, TR_ENOMEM, "figure: out of memory");
  if (rc) free(m.p);
  else *svg = m.p;
  return rc;
}

/* ---- builders ------------------------------------------------------------ */

static const char *x_label(RsXKind x) {
  return x == RS_X_TOKENS ? "tokens" : x == RS_X_SECONDS ? "training seconds" : "step";
}

static int failed_status(RsStatus s) { return s == RS_FAILED || s == RS_DIVERGED; }

/* The legend of a colour-by parameter k (used[v]: value v is drawn). Up to
** RS_PLOT_LEGEND_MAX entries: all values in value order when they fit; else the
** values of the best trials first (the winner's value first, RS_PLOT_LEGEND_BEST of
** them, title "... (best first)"), then evenly spaced others in value order. */
static int legend_values(RsPlot *out, const RsTrialSet *ts, int k, const int *used, int style) {
  const RsParam *cp = &ts->p[k];
  int nu = 0;
  for (int v = 0; v < cp->n_values; v++) nu += used[v] != 0;
  snprintf(out->legend_title, sizeof out->legend_title, "%s%s", cp->short_name,
           nu > RS_PLOT_LEGEND_MAX ? " (best first)" : "");
  int *pick = tr_calloc((size_t)cp->n_values + 1, sizeof *pick), *order = tr_malloc(((size_t)ts->n + 1) * sizeof *order);
  if (!pick || !order) {
    free(pick), free(order);
    return TR_ENOMEM;
  }
  int room = nu < RS_PLOT_LEGEND_MAX ? nu : RS_PLOT_LEGEND_MAX;
  if (nu > RS_PLOT_LEGEND_MAX) {
    rs_trials_rank(ts, order);
    int nb = 0;
    for (int i = 0; i < ts->n && nb < RS_PLOT_LEGEND_BEST && !isnan(ts->t[order[i]].best); i++) {
      int v = ts->t[order[i]].pv[k];
      if (v < 0 || !used[v] || pick[v]) continue;
      pick[v] = 1, nb++;
      rs_plot_legend_add(out, cp->values[v], rs_plot_color(v, cp->n_values), style);
    }
    room -= nb;
  }
  int left = 0; /* used values not picked yet: take `room` of them evenly */
  for (int v = 0; v < cp->n_values; v++) left += used[v] && !pick[v];
  for (int v = 0, j = 0, taken = 0; v < cp->n_values && taken < room; v++) {
    if (!used[v] || pick[v]) continue;
    if ((long long)j++ * room / left == taken) {
      rs_plot_legend_add(out, cp->values[v], rs_plot_color(v, cp->n_values), style);
      taken++;
    }
  }
  free(pick), free(order);
  return TR_OK;
}

int rs_plot_curves(RsStore *st, const RsTrialSet *ts, const RsCurveOpts *o, RsPlot *out, TrErr *err) {
  rs_plot_init(out);
  int rc = rs_metric_check(st, ts->sweep.id, o->metric);
  if (rc) return tr_err_set(err, rc, "%s", rs_store_errmsg(st));
  snprintf(out->title, sizeof out->title, "%s: %s by %s", ts->sweep.name, o->metric, x_label(o->x));
  snprintf(out->xlabel, sizeof out->xlabel, "%s", x_label(o->x));
  snprintf(out->ylabel, sizeof out->ylabel, "%s%s", o->metric, o->logy ? " (log)" : "");
  out->logy = o->logy;
  const RsParam *cp = o->color_by >= 0 ? &ts->p[o->color_by] : NULL;
  int *used = cp ? tr_calloc((size_t)cp->n_values + 1, sizeof *used) : NULL;
  int nshown = 0;
  for (int i = 0; i < ts->n; i++) {
    double *x, *y;
    int n;
    rc = rs_series_load(st, ts->t[i].id, o->metric, o->x, &x, &y, &n);
    if (rc) {
      tr_err_set(err, rc, "%s", rs_store_errmsg(st));
      break;
    }
    if (n > 0) {
      unsigned rgb;
      if (cp) {
        int v = ts->t[i].pv[o->color_by];
        rgb = v >= 0 ? rs_plot_color(v, cp->n_values) : 0x999999;
        if (v >= 0 && used) used[v] = 1;
      } else {
        rgb = rs_plot_color(nshown, ts->n);
      }
      int k = rs_plot_add(out, x, y, NULL, NULL, n, rgb, RS_STYLE_LINE);
      if (k >= 0) out->s[k].clip_range = !failed_status(ts->t[i].status);
      RsStatus st = ts->t[i].status;
      if (k >= 0 && (st == RS_PRUNED || st == RS_PAUSED)) { /* where early termination stopped it */
        int m = rs_plot_add(out, x + n - 1, y + n - 1, NULL, NULL, 1, rgb, RS_STYLE_POINTS);
        if (m >= 0) out->s[m].marker = st == RS_PRUNED ? RS_PLOT_PRUNED_MARK : RS_PLOT_PAUSED_MARK;
        if (m >= 0) out->s[m].marker_size = 1.1;
      }
      if (!cp && ts->n <= 12) {
        char lab[64];
        snprintf(lab, sizeof lab, "trial %lld", (long long)ts->t[i].id);
        rs_plot_legend_add(out, lab, rgb, RS_STYLE_LINE);
      }
      nshown++;
    }
    free(x), free(y);
  }
  if (!rc && cp && !used) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  if (!rc && cp && legend_values(out, ts, o->color_by, used, RS_STYLE_LINE))
    rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  free(used);
  if (!rc && nshown == 0)
    rc = tr_err_set(err, TR_ENOTFOUND, "sweep '%s' has no rows of '%s' yet", ts->sweep.name, o->metric);
  if (rc) rs_plot_deinit(out);
  return rc ? rc : plot_built(out, err);
}

/* A front's points by x (y follows): insertion sort, a front has few points. */
static void sort_by_x(double *x, double *y, int n) {
  for (int a = 1; a < n; a++)
    for (int b = a; b > 0 && x[b] < x[b - 1]; b--) {
      double t = x[b]; x[b] = x[b - 1]; x[b - 1] = t;
      t = y[b]; y[b] = y[b - 1]; y[b - 1] = t;
    }
}

static int completed(const RsTrialRow *t) { return !isnan(t->best) && t->status == RS_COMPLETED; }

/* A compare group by the index of its value (distinct within a context). */
typedef struct GroupAt {
  int value, g;
} GroupAt;

static int cmp_group_at(const void *a, const void *b) {
  int x = ((const GroupAt *)a)->value, y = ((const GroupAt *)b)->value;
  return (x > y) - (x < y);
}

int rs_plot_param(const RsTrialSet *ts, int k, RsPlot *out, TrErr *err) {
  rs_plot_init(out);
  const RsParam *p = &ts->p[k];
  snprintf(out->title, sizeof out->title, "%s: %s %s by %s", ts->sweep.name,
           ts->maximize ? "best (max)" : "best (min)", ts->metric, p->short_name);
  snprintf(out->xlabel, sizeof out->xlabel, "%s", p->name);
  snprintf(out->ylabel, sizeof out->ylabel, "%s", ts->metric);
  out->logx = p->numeric && p->log_spaced;
  if (!p->numeric) {
    if (!(out->xcats = tr_calloc((size_t)p->n_values + 1, sizeof *out->xcats)))
      return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
    out->nxcats = p->n_values;
    for (int v = 0; v < p->n_values; v++)
      if (!(out->xcats[v] = tr_strdup(p->values[v]))) out->oom = 1;
    if (out->oom) return plot_built(out, err);
  }
  int by[1] = {k};
  RsCompare cmp;
  int rc = rs_compare_build(ts, by, 1, &cmp, err);
  if (rc) {
    rs_plot_deinit(out);
    return rc;
  }
  int m = p->n_values;
  double *x = tr_malloc(((size_t)m + 1) * sizeof *x), *y = tr_malloc(((size_t)m + 1) * sizeof *y);
  double *lo = tr_malloc(((size_t)m + 1) * sizeof *lo), *hi = tr_malloc(((size_t)m + 1) * sizeof *hi);
  GroupAt *vg = tr_malloc(((size_t)m + 1) * sizeof *vg);
  if (!x || !y || !lo || !hi || !vg) {
    free(x), free(y), free(lo), free(hi), free(vg);
    rs_compare_deinit(&cmp);
    rs_plot_deinit(out);
    return tr_err_set(err, TR_ENOMEM, "out of memory");
  }
  int any = 0;
  for (int c = 0; c < cmp.nctx; c++) {
    unsigned rgb = rs_plot_color(c, cmp.nctx <= 10 ? 10 : cmp.nctx);
    /* Groups back in value order (one group per value within a context). */
    const RsContext *cx = &cmp.ctx[c];
    int n = 0;
    for (int g = 0; g < cx->ng; g++)
      if (cx->g[g].value >= 0 && cx->g[g].n > 0) vg[n++] = (GroupAt){cx->g[g].value, g};
    tr_sort(vg, (size_t)n, sizeof *vg, cmp_group_at);
    for (int i = 0; i < n; i++) {
      const RsGroup *gr = &cx->g[vg[i].g];
      x[i] = p->numeric ? p->nums[gr->value] : gr->value;
      y[i] = gr->mean;
      lo[i] = isnan(gr->ci_lo) ? gr->mean : gr->ci_lo;
      hi[i] = isnan(gr->ci_hi) ? gr->mean : gr->ci_hi;
    }
    if (n == 0) continue;
    any = 1;
    rs_plot_add(out, x, y, lo, hi, n, rgb, RS_STYLE_LINEPOINTS);
    if (cmp.nctx > 1) rs_plot_legend_add(out, cmp.ctx[c].label, rgb, RS_STYLE_LINEPOINTS);
  }
  int nctx = cmp.nctx; /* rs_compare_deinit zeroes it */
  rs_compare_deinit(&cmp);
  free(x), free(y), free(lo), free(hi), free(vg);
  if (!any) {
    rs_plot_deinit(out);
    return tr_err_set(err, TR_ENOTFOUND, "sweep '%s' has no completed trials with a %s yet",
                      ts->sweep.name, ts->metric);
  }
  if (nctx > 1) snprintf(out->legend_title, sizeof out->legend_title, "other parameters");
  return plot_built(out, err);
}

int rs_plot_cost(const RsTrialSet *ts, int use_flops, RsPlot *out, int *front, TrErr *err) {
  rs_plot_init(out);
  int n = ts->n;
  double *c = tr_malloc(((size_t)n + 1) * sizeof *c), *m = tr_malloc(((size_t)n + 1) * sizeof *m);
  int *f = tr_malloc(((size_t)n + 1) * sizeof *f), *idx = tr_malloc(((size_t)n + 1) * sizeof *idx);
  if (!c || !m || !f || !idx) {
    free(c), free(m), free(f), free(idx);
    return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
  }
  int k = 0;
  for (int i = 0; i < n; i++) {
    double cost = use_flops ? ts->t[i].flops : ts->t[i].wall;
    if (!completed(&ts->t[i]) || !(cost > 0)) continue;
    c[k] = cost, m[k] = ts->t[i].best, idx[k] = i, k++;
  }
  if (front)
    for (int i = 0; i < n; i++) front[i] = 0;
  if (k == 0) {
    free(c), free(m), free(f), free(idx);
    return tr_err_set(err, TR_ENOTFOUND, "sweep '%s' has no completed trials with %s yet", ts->sweep.name,
                      use_flops ? "FLOPs" : "wall seconds");
  }
  int nf = rs_stats_pareto(c, m, k, ts->maximize, f);
  snprintf(out->title, sizeof out->title, "%s: %s against %s", ts->sweep.name, ts->metric,
           use_flops ? "training FLOPs" : "wall time");
  snprintf(out->xlabel, sizeof out->xlabel, "%s", use_flops ? "training FLOPs" : "wall seconds");
  snprintf(out->ylabel, sizeof out->ylabel, "%s", ts->metric);
  double cmin = INFINITY, cmax = 0;
  for (int i = 0; i < k; i++) cmin = fmin(cmin, c[i]), cmax = fmax(cmax, c[i]);
  out->logx = cmax / cmin >= 10;
  /* Front: sorted by cost, drawn as a line through its points. */
  double *fx = tr_malloc(((size_t)nf + 1) * sizeof *fx), *fy = tr_malloc(((size_t)nf + 1) * sizeof *fy);
  if (!fx || !fy) out->oom = 1;
  int j = 0;
  for (int i = 0; fx && fy && i < k; i++)
    if (f[i]) fx[j] = c[i], fy[j] = m[i], j++;
  sort_by_x(fx, fy, j);
  rs_plot_add(out, c, m, NULL, NULL, k, 0x1f77b4, RS_STYLE_POINTS);
  rs_plot_add(out, fx, fy, NULL, NULL, j, 0xd62728, RS_STYLE_LINEPOINTS);
  rs_plot_legend_add(out, "trial", 0x1f77b4, RS_STYLE_POINTS);
  rs_plot_legend_add(out, "Pareto front", 0xd62728, RS_STYLE_LINEPOINTS);
  if (front)
    for (int i = 0; i < k; i++) front[idx[i]] = f[i];
  free(c), free(m), free(f), free(idx), free(fx), free(fy);
  return plot_built(out, err);
}

int rs_plot_diversity(const RsTrialSet *ts, const RsDiversity *d, RsPlot *out, TrErr *err) {
  rs_plot_init(out);
  int npts = 0;
  for (int i = 0; i < d->n; i++) npts += d->pt[i].n > 0;
  if (npts == 0)
    return tr_err_set(err, TR_ENOTFOUND, "sweep '%s' has no setting with validity and distinct_2 yet",
                      ts->sweep.name);
  snprintf(out->title, sizeof out->title, "%s: validity against distinct_2", ts->sweep.name);
  snprintf(out->xlabel, sizeof out->xlabel, "distinct_2 (diversity)");
  snprintf(out->ylabel, sizeof out->ylabel, "validity (correctness)");
  /* The frontier first, so the setting dots are drawn over its line. */
  double *fx = tr_malloc(((size_t)d->n + 1) * sizeof *fx), *fy = tr_malloc(((size_t)d->n + 1) * sizeof *fy);
  if (!fx || !fy) {
    free(fx), free(fy);
    return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
  }
  int nf = 0;
  for (int i = 0; i < d->n; i++)
    if (d->pt[i].front) fx[nf] = d->pt[i].distinct_2, fy[nf] = d->pt[i].validity, nf++;
  sort_by_x(fx, fy, nf);
  int k = rs_plot_add(out, fx, fy, NULL, NULL, nf, 0x222222, RS_STYLE_LINEPOINTS);
  if (k >= 0) out->s[k].marker = "#(840)", out->s[k].marker_size = 1.7;
  free(fx), free(fy);
  /* Colour per setting with its own legend entry; beyond 12 settings by one parameter's value. */
  int by = -1;
  if (npts > 12) {
    by = d->temp;
    for (int j = 0; j < ts->np && by < 0; j++)
      if (ts->p[j].varies && !ts->p[j].is_seed) by = j;
  }
  int *used = by >= 0 ? tr_calloc((size_t)ts->p[by].n_values + 1, sizeof *used) : NULL;
  int shown = 0;
  for (int i = 0; i < d->n; i++) {
    const RsDivPoint *p = &d->pt[i];
    if (p->n == 0) continue;
    unsigned rgb;
    if (by >= 0) {
      int v = ts->t[p->first].pv[by];
      rgb = v >= 0 ? rs_plot_color(v, ts->p[by].n_values) : 0x999999;
      if (v >= 0 && used) used[v] = 1;
    } else {
      rgb = rs_plot_color(shown, npts);
    }
    int two = p->n >= 2;
    k = rs_plot_add(out, &p->distinct_2, &p->validity, two ? &p->v_lo : NULL, two ? &p->v_hi : NULL, 1, rgb,
                    RS_STYLE_POINTS);
    if (k >= 0) out->s[k].marker_size = 1.3;
    if (p->front) rs_plot_note_add(out, p->distinct_2, p->validity, p->label);
    if (k >= 0 && two) {
      out->s[k].xlo = tr_malloc(sizeof(double)), out->s[k].xhi = tr_malloc(sizeof(double));
      if (out->s[k].xlo) out->s[k].xlo[0] = p->d_lo;
      if (out->s[k].xhi) out->s[k].xhi[0] = p->d_hi;
      if (!out->s[k].xlo || !out->s[k].xhi) out->oom = 1;
    }
    if (by < 0) rs_plot_legend_add(out, p->label, rgb, RS_STYLE_POINTS);
    shown++;
  }
  if (by >= 0) {
    if (!used || legend_values(out, ts, by, used, RS_STYLE_POINTS)) {
      free(used);
      rs_plot_deinit(out);
      return tr_err_set(err, TR_ENOMEM, "out of memory");
    }
  } else {
    snprintf(out->legend_title, sizeof out->legend_title, "setting");
  }
  free(used);
  rs_plot_legend_add(out, "Pareto frontier", 0x222222, RS_STYLE_LINE);
  out->legend_marker_size = 1.3;
  return plot_built(out, err);
}

/* ---- learning-rate and batch-size studies --------------------------------- */

int rs_plot_lr_study(const RsLrStudy *s, const RsLrPoint *pt, int n, const char *metric, const char *title,
                     RsPlot *out, TrErr *err) {
  rs_plot_init(out);
  snprintf(out->title, sizeof out->title, "%s", title ? title : "");
  snprintf(out->xlabel, sizeof out->xlabel, "optimizer.lr");
  snprintf(out->ylabel, sizeof out->ylabel, "%s", metric);
  out->logx = 1;
  int m = s->nlevel, nf = 0;
  double *x = tr_malloc(((size_t)(m > n ? m : n) + 1) * sizeof *x), *y = tr_malloc(((size_t)(m > n ? m : n) + 1) * sizeof *y);
  double *lo = tr_malloc(((size_t)m + 1) * sizeof *lo), *hi = tr_malloc(((size_t)m + 1) * sizeof *hi);
  if (!x || !y || !lo || !hi) {
    free(x), free(y), free(lo), free(hi);
    return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
  }
  for (int i = 0; i < n; i++) /* the seeds: a finished seed's value, never a diverged one */
    if (!pt[i].diverged && isfinite(pt[i].value)) x[nf] = pt[i].lr, y[nf++] = pt[i].value;
  int ndots = nf;
  if (ndots) rs_plot_add(out, x, y, NULL, NULL, ndots, 0xaaaaaa, RS_STYLE_POINTS);
  nf = 0;
  for (int j = 0; j < m; j++)
    if (s->level[j].n > 0)
      x[nf] = s->level[j].lr, y[nf] = s->level[j].mean, lo[nf] = s->level[j].ci_lo, hi[nf++] = s->level[j].ci_hi;
  if (nf) rs_plot_add(out, x, y, lo, hi, nf, 0x1f77b4, RS_STYLE_LINEPOINTS);
  int nmean = nf;
  free(x), free(y), free(lo), free(hi);
  if (!nmean) {
    rs_plot_deinit(out);
    return tr_err_set(err, TR_ENOTFOUND, "no learning rate has a finished seed");
  }
  if (isfinite(s->lr_opt) && isfinite(s->value_opt)) {
    int k = rs_plot_add(out, &s->lr_opt, &s->value_opt, NULL, NULL, 1, 0xd62728, RS_STYLE_POINTS);
    if (k >= 0 && isfinite(s->lr_lo) && isfinite(s->lr_hi)) {
      out->s[k].xlo = tr_malloc(sizeof(double)), out->s[k].xhi = tr_malloc(sizeof(double));
      if (!out->s[k].xlo || !out->s[k].xhi) out->oom = 1;
      else out->s[k].xlo[0] = s->lr_lo, out->s[k].xhi[0] = s->lr_hi;
    }
    if (k >= 0) out->s[k].marker_size = 1.4;
  }
  if (ndots) rs_plot_legend_add(out, "a seed", 0xaaaaaa, RS_STYLE_POINTS);
  rs_plot_legend_add(out, "mean over seeds, 95% CI", 0x1f77b4, RS_STYLE_LINEPOINTS);
  if (isfinite(s->lr_opt)) rs_plot_legend_add(out, "optimum, 95% bootstrap CI", 0xd62728, RS_STYLE_POINTS);
  return plot_built(out, err);
}

int rs_plot_bs_steps(const RsBsStudy *s, const char *title, RsPlot *out, TrErr *err) {
  rs_plot_init(out);
  snprintf(out->title, sizeof out->title, "%s", title ? title : "");
  snprintf(out->xlabel, sizeof out->xlabel, "batch size (examples)");
  snprintf(out->ylabel, sizeof out->ylabel, "steps to target");
  out->logx = out->logy = 1;
  int m = s->nlevel, nf = 0, ref = -1;
  double *x = tr_malloc(((size_t)m + 1) * sizeof *x), *y = tr_malloc(((size_t)m + 1) * sizeof *y);
  if (!x || !y) {
    free(x), free(y);
    return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
  }
  for (int j = 0; j < m; j++)
    if (isfinite(s->level[j].steps) && s->level[j].steps > 0) {
      if (ref < 0) ref = j;
      x[nf] = s->level[j].batch, y[nf++] = s->level[j].steps;
    }
  if (nf < 2) {
    free(x), free(y);
    rs_plot_deinit(out);
    return tr_err_set(err, TR_ENOTFOUND, "fewer than two batch sizes reached the target");
  }
  rs_plot_add(out, x, y, NULL, NULL, nf, 0x1f77b4, RS_STYLE_LINEPOINTS);
  double b0 = s->level[ref].batch, s0 = s->level[ref].steps, bx = x[nf - 1];
  double px[2] = {b0, bx}, py[2] = {s0, s0 * b0 / bx};
  rs_plot_add(out, px, py, NULL, NULL, 2, 0x7f7f7f, RS_STYLE_LINE);
  rs_plot_legend_add(out, "measured", 0x1f77b4, RS_STYLE_LINEPOINTS);
  rs_plot_legend_add(out, "perfect scaling (S ~ 1/B)", 0x7f7f7f, RS_STYLE_LINE);
  if (s->status == RS_STUDY_OK && isfinite(s->s_min) && isfinite(s->e_min)) {
    enum { NF = 48 };
    double fx[NF], fy[NF];
    for (int i = 0; i < NF; i++) {
      fx[i] = b0 * pow(bx / b0, (double)i / (NF - 1));
      fy[i] = s->s_min + s->e_min / fx[i];
    }
    rs_plot_add(out, fx, fy, NULL, NULL, NF, 0xd62728, RS_STYLE_LINE);
    rs_plot_legend_add(out, "fit S_min + E_min / B", 0xd62728, RS_STYLE_LINE);
  }
  free(x), free(y);
  return plot_built(out, err);
}

int rs_plot_bs_tradeoff(const RsBsStudy *s, const char *title, RsPlot *out, TrErr *err) {
  rs_plot_init(out);
  snprintf(out->title, sizeof out->title, "%s", title ? title : "");
  out->logx = out->logy = 1;
  int m = s->nlevel, nf = 0, tok = 1;
  for (int j = 0; j < m; j++) /* tokens when every level knows its sequence length */
    if (isfinite(s->level[j].steps) && !(s->level[j].tokens > 0)) tok = 0;
  snprintf(out->xlabel, sizeof out->xlabel, "%s to target", tok ? "tokens" : "examples");
  snprintf(out->ylabel, sizeof out->ylabel, "steps to target");
  double *x = tr_malloc(((size_t)m + 1) * sizeof *x), *y = tr_malloc(((size_t)m + 1) * sizeof *y), per = 1;
  if (!x || !y) {
    free(x), free(y);
    return tr_err_set(err, TR_ENOMEM, "figure: out of memory");
  }
  for (int j = 0; j < m; j++) {
    const RsBsLevel *L = &s->level[j];
    if (!(isfinite(L->steps) && L->steps > 0)) continue;
    x[nf] = tok ? L->tokens : L->examples, y[nf] = L->steps, per = tok ? L->tokens / L->examples : 1;
    char lab[40];
    snprintf(lab, sizeof lab, "B=%g", L->batch);
    rs_plot_note_add(out, x[nf], y[nf], lab);
    nf++;
  }
  if (nf < 2) {
    free(x), free(y);
    rs_plot_deinit(out);
    return tr_err_set(err, TR_ENOTFOUND, "fewer than two batch sizes reached the target");
  }
  rs_plot_add(out, x, y, NULL, NULL, nf, 0x1f77b4, RS_STYLE_LINEPOINTS);
  rs_plot_legend_add(out, "measured", 0x1f77b4, RS_STYLE_LINEPOINTS);
  if (s->status == RS_STUDY_OK && isfinite(s->s_min) && isfinite(s->e_min)) {
    /* (S / S_min - 1)(E / E_min - 1) = 1 traced over B, and its two asymptotes. */
    enum { NF = 48 };
    double fx[NF], fy[NF], b0 = s->level[0].batch / 2, b1 = s->level[m - 1].batch * 2;
    for (int i = 0; i < NF; i++) {
      double b = b0 * pow(b1 / b0, (double)i / (NF - 1));
      fy[i] = s->s_min + s->e_min / b, fx[i] = b * fy[i] * per;
    }
    rs_plot_add(out, fx, fy, NULL, NULL, NF, 0xd62728, RS_STYLE_LINE);
    double hx[2] = {fx[NF - 1], fx[0]}, hy[2] = {s->s_min, s->s_min};
    double vx[2] = {s->e_min * per, s->e_min * per}, vy[2] = {fy[NF - 1], fy[0]};
    rs_plot_add(out, hx, hy, NULL, NULL, 2, 0x7f7f7f, RS_STYLE_LINE);
    rs_plot_add(out, vx, vy, NULL, NULL, 2, 0x7f7f7f, RS_STYLE_LINE);
    rs_plot_legend_add(out, "fit", 0xd62728, RS_STYLE_LINE);
    rs_plot_legend_add(out, "S_min, E_min", 0x7f7f7f, RS_STYLE_LINE);
  }
  free(x), free(y);
  return plot_built(out, err);
}
