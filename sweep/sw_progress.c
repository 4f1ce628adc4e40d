/* sw_progress.c: the sweep view for `hpsweep run` (live or plain) and `hpsweep status`. */
#include "sw_progress.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "tr_alloc.h"
#include "tr_os.h"

#define BAR_WIDTH 24
#define REDRAW_EVERY 0.25 /* seconds */
#define MAX_VIEW_TRIALS 64 /* trial lines shown; more are summarised */

void sw_format_duration(char *buf, size_t n, double s) {
  if (!(s >= 0) || !isfinite(s)) {
    snprintf(buf, n, "?");
    return;
  }
  long t = lround(s);
  if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
  else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
  else if (s < 10) snprintf(buf, n, "%.1fs", s);
  else snprintf(buf, n, "%lds", t);
}

double sw_eta(const RsCounts *c, double mean_seconds, double running_left, int workers) {
  if (!(mean_seconds > 0) || !isfinite(mean_seconds)) return -1;
  double left = (double)(c->n[RS_PENDING] + c->n[RS_INTERRUPTED]) + running_left;
  return left * mean_seconds / (workers > 0 ? workers : 1);
}

static void fmt_count(char *buf, size_t n, double v) {
  if (!isfinite(v)) snprintf(buf, n, "?");
  else if (v >= 1e6) snprintf(buf, n, "%.1fM", v / 1e6);
  else if (v >= 1e3) snprintf(buf, n, "%.1fk", v / 1e3);
  else snprintf(buf, n, "%.0f", v);
}

/* Print s cut to width columns (bytes: the view is ASCII but for parameter strings). */
static void put_line(FILE *f, const char *s, int width) {
  int len = (int)strlen(s);
  if (width > 4 && len > width) fprintf(f, "%.*s...\n", width - 3, s);
  else fprintf(f, "%s\n", s);
}

int sw_view_print(FILE *f, const char *sweep, const RsCounts *c, double eta, const SwViewTrial *t, size_t n,
                  int width) {
  int64_t done = c->n[RS_COMPLETED] + c->n[RS_DIVERGED] + c->n[RS_FAILED] + c->n[RS_PRUNED];
  int fill = c->total > 0 ? (int)(BAR_WIDTH * done / c->total) : 0;
  char bar[BAR_WIDTH + 1];
  for (int i = 0; i < BAR_WIDTH; i++) bar[i] = i < fill ? '#' : '.';
  bar[BAR_WIDTH] = '\0';
  char e[32], line[1024];
  sw_format_duration(e, sizeof e, eta);
  int k = snprintf(line, sizeof line, "%s [%s] %lld/%lld done", sweep, bar, (long long)done, (long long)c->total);
  struct {
    RsStatus s;
    const char *label;
  } parts[] = {{RS_COMPLETED, "completed"}, {RS_PRUNED, "pruned"},       {RS_DIVERGED, "diverged"},
               {RS_FAILED, "failed"},       {RS_RUNNING, "running"},      {RS_PAUSED, "paused"},
               {RS_INTERRUPTED, "interrupted"}, {RS_PENDING, "pending"}};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    if (c->n[parts[i].s] > 0 && k > 0 && (size_t)k < sizeof line)
      k += snprintf(line + k, sizeof line - (size_t)k, ", %lld %s", (long long)c->n[parts[i].s], parts[i].label);
    if (parts[i].s == RS_RUNNING && c->stale > 0 && k > 0 && (size_t)k < sizeof line)
      k += snprintf(line + k, sizeof line - (size_t)k, " (%lld stale)", (long long)c->stale);
  }
  if (k > 0 && (size_t)k < sizeof line && done < c->total)
    snprintf(line + k, sizeof line - (size_t)k, " | ETA %s", e);
  put_line(f, line, width);
  int lines = 1;
  for (size_t i = 0; i < n && i < MAX_VIEW_TRIALS; i++) {
    char step[48], loss[32], tps[32];
    if (t[i].total > 0) snprintf(step, sizeof step, "%lld/%lld", (long long)t[i].step, (long long)t[i].total);
    else snprintf(step, sizeof step, "%lld", (long long)t[i].step);
    if (isfinite(t[i].loss)) snprintf(loss, sizeof loss, "%.4f", t[i].loss);
    else snprintf(loss, sizeof loss, "-");
    fmt_count(tps, sizeof tps, t[i].tokens_per_second);
    char ago[32], heard[64] = "lease expired";
    sw_format_duration(ago, sizeof ago, t[i].stale);
    if (isfinite(t[i].stale)) snprintf(heard, sizeof heard, "last heard %s ago", ago);
    if (isnan(t[i].stale))
      snprintf(line, sizeof line, "  #%-4lld a%d  step %-11s loss %-8s %6s tok/s  %s", (long long)t[i].trial_id,
               t[i].attempt, step, loss, tps, t[i].params ? t[i].params : "");
    else /* its runner died or hangs: the next runner takes it over */
      snprintf(line, sizeof line, "  #%-4lld a%d  step %-11s loss %-8s STALE (%s)  %s", (long long)t[i].trial_id,
               t[i].attempt, step, loss, heard, t[i].params ? t[i].params : "");
    put_line(f, line, width);
    lines++;
  }
  if (n > MAX_VIEW_TRIALS) {
    fprintf(f, "  ... and %zu more running\n", n - MAX_VIEW_TRIALS);
    lines++;
  }
  return lines;
}

/* ---- the live / plain view of `hpsweep run` ---- */

typedef struct Running {
  int active;
  SwViewTrial v;
  double started;  /* monotonic */
  int64_t from;    /* step it started at */
} Running;

struct SwProgress {
  FILE *f;
  int live, width, jobs;
  char sweep[128], metric[48];
  Running *slots;  /* (jobs,) by worker slot */
  RsCounts counts;
  int have_counts;
  int drawn;       /* live lines currently on screen */
  double last_draw;
  double sum_seconds; /* finished trials' wall seconds (this session) */
  int n_finished;
};

int sw_progress_create(SwProgress **out, FILE *f, int live, int width, const char *sweep, const char *metric,
                       int jobs) {
  *out = NULL;
  SwProgress *p = tr_calloc(1, sizeof *p);
  if (!p) return TR_ENOMEM;
  p->slots = tr_calloc((size_t)(jobs > 0 ? jobs : 1), sizeof *p->slots);
  if (!p->slots) {
    free(p);
    return TR_ENOMEM;
  }
  p->f = f;
  p->live = live;
  p->jobs = jobs > 0 ? jobs : 1;
  if (width <= 0) {
    struct winsize ws;
    width = ioctl(fileno(f), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 100;
  }
  p->width = width;
  snprintf(p->sweep, sizeof p->sweep, "%s", sweep);
  snprintf(p->metric, sizeof p->metric, "%s", metric);
  *out = p;
  return TR_OK;
}

void sw_progress_destroy(SwProgress *p) {
  if (!p) return;
  free(p->slots);
  free(p);
}

void sw_progress_clear(SwProgress *p) {
  if (!p || !p->live || p->drawn == 0) return;
  fprintf(p->f, "\x1b[%dA\x1b[J", p->drawn);
  p->drawn = 0;
  fflush(p->f);
}

static double progress_eta(SwProgress *p, double now) {
  double left = 0, mean = p->n_finished ? p->sum_seconds / p->n_finished : 0, est = 0;
  int nest = 0;
  for (int i = 0; i < p->jobs; i++) {
    Running *r = &p->slots[i];
    if (!r->active) continue;
    double frac = r->v.total > 0 ? (double)r->v.step / (double)r->v.total : 0;
    left += 1 - frac;
    double seg = r->v.total > 0 ? (double)(r->v.step - r->from) / (double)r->v.total : 0;
    if (seg > 0.05) {
      est += (now - r->started) / seg;
      nest++;
    }
  }
  if (!(mean > 0) && nest) mean = est / nest;
  /* Running elsewhere (other runners) counts as half a trial left each. */
  int here = 0;
  for (int i = 0; i < p->jobs; i++) here += p->slots[i].active;
  double elsewhere = (double)p->counts.n[RS_RUNNING] - here;
  if (elsewhere > 0) left += 0.5 * elsewhere;
  int64_t workers = p->jobs;
  if (p->counts.n[RS_RUNNING] > workers) workers = p->counts.n[RS_RUNNING];
  return sw_eta(&p->counts, mean, left, (int)workers);
}

static void redraw(SwProgress *p, double now) {
  SwViewTrial v[MAX_VIEW_TRIALS];
  size_t n = 0;
  for (int i = 0; i < p->jobs && n < MAX_VIEW_TRIALS; i++)
    if (p->slots[i].active) v[n++] = p->slots[i].v;
  sw_progress_clear(p);
  p->drawn = sw_view_print(p->f, p->sweep, &p->counts, progress_eta(p, now), v, n, p->width);
  fflush(p->f);
  p->last_draw = now;
}

/* One line about a trial, permanent (above the live view, or the plain log). */
static void trial_line(SwProgress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void trial_line(SwProgress *p, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  sw_progress_clear(p);
  put_line(p->f, line, p->live ? p->width : 0);
  fflush(p->f);
}

static void first_line(const char *text, char *buf, size_t n) {
  if (!text) {
    snprintf(buf, n, "no reason given");
    return;
  }
  const char *nl = strchr(text, '\n');
  snprintf(buf, n, "%.*s", nl ? (int)(nl - text) : (int)strlen(text), text);
}

void sw_progress_event(void *ud, const SwEvent *e) {
  SwProgress *p = ud;
  double now = tr_clock_mono();
  if (e->counts) {
    p->counts = *e->counts;
    p->have_counts = 1;
  }
  Running *r = e->slot >= 0 && e->slot < p->jobs ? &p->slots[e->slot] : NULL;
  int64_t done = p->counts.n[RS_COMPLETED] + p->counts.n[RS_DIVERGED] + p->counts.n[RS_FAILED] +
                 p->counts.n[RS_PRUNED];
  switch (e->kind) {
  case SW_EV_START:
    if (!r) return;
    memset(r, 0, sizeof *r);
    r->active = 1;
    r->started = now;
    r->from = e->from_step > 0 ? e->from_step : 0;
    r->v = (SwViewTrial){e->trial_id, e->attempt, e->params, r->from, e->total_steps, NAN, NAN, NAN};
    if (!p->live) {
      char from[64] = "";
      if (e->from_step >= 0) snprintf(from, sizeof from, " from step %lld", (long long)e->from_step);
      trial_line(p, "[%lld/%lld] %s trial %lld (attempt %d%s) %s%s%s%s", (long long)done, (long long)p->counts.total,
                 strcmp(e->claim_kind, "claim") == 0 ? "start" : e->claim_kind, (long long)e->trial_id, e->attempt, from,
                 e->params, e->text ? " (" : "", e->text ? e->text : "", e->text ? ")" : "");
    }
    break;
  case SW_EV_PROGRESS:
    if (!r || !r->active) return;
    r->v.step = e->step;
    r->v.total = e->total_steps;
    r->v.loss = e->loss;
    r->v.tokens_per_second = e->tokens_per_second;
    break;
  case SW_EV_LOG:
    return;
  case SW_EV_END: {
    if (r) r->active = 0;
    char m[64] = "", secs[32], why[400];
    sw_format_duration(secs, sizeof secs, e->seconds);
    if (isfinite(e->metric)) snprintf(m, sizeof m, ", best %s %.4f", p->metric, e->metric);
    if ((e->status == RS_COMPLETED || e->status == RS_DIVERGED) && isfinite(e->seconds)) {
      p->sum_seconds += e->seconds;
      p->n_finished++;
    }
    const char *name = e->status == RS_RUNNING ? "lost" : rs_status_name((RsStatus)e->status);
    if (e->status == RS_COMPLETED)
      trial_line(p, "[%lld/%lld] completed trial %lld: %lld steps in %s%s %s", (long long)done,
                 (long long)p->counts.total, (long long)e->trial_id, (long long)e->step, secs, m, e->params);
    else if (e->status == RS_PAUSED)
      trial_line(p, "[%lld/%lld] paused trial %lld at step %lld (its checkpoint waits for a promotion)%s %s",
                 (long long)done, (long long)p->counts.total, (long long)e->trial_id, (long long)e->step, m,
                 e->params);
    else {
      first_line(e->text, why, sizeof why);
      trial_line(p, "[%lld/%lld] %s trial %lld (attempt %d): %s%s %s", (long long)done, (long long)p->counts.total,
                 name, (long long)e->trial_id, e->attempt, why, m, e->params);
    }
    break;
  }
  case SW_EV_TICK:
    break;
  }
  if (p->live && p->have_counts && (e->kind != SW_EV_PROGRESS || now - p->last_draw >= REDRAW_EVERY))
    redraw(p, now);
}
