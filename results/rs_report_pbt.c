/* rs_report_pbt.c: the report's population-based training section (rs_report.h): the lineage
** (members against steps, copy arrows) and the values each final member's weights were
** trained with, step range by step range, read from the "exploit" events (sw_pbt.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rs_report.h"
#include "tr_alloc.h"
#include "tr_yaml.h"

typedef struct Copy {
  int64_t trial, source, step;
  double value, source_value;
  char *params, *from; /* JSON objects */
} Copy;

typedef struct Lineage {
  Copy *c;
  size_t n, cap;
  int oom;
} Lineage;

static void html(FILE *f, const char *s) {
  for (; s && *s; s++) {
    if (*s == '<') fputs("&lt;", f);
    else if (*s == '>') fputs("&gt;", f);
    else if (*s == '&') fputs("&amp;", f);
    else if (*s == '"') fputs("&quot;", f);
    else fputc(*s, f);
  }
}

/* A JSON value of a detail object as text (a nested object re-serialised flat), or NULL. */
static char *node_json(const TrYamlNode *n) {
  size_t cap = 256, off = 0;
  char *s = tr_malloc(cap);
  if (!s || !n || n->kind != TR_YAML_MAP) return free(s), NULL;
  off += (size_t)snprintf(s, cap, "{");
  for (int i = 0; i < n->n; i++) {
    const TrYamlNode *v = n->items[i];
    char val[256];
    if (v->kind == TR_YAML_SEQ) { /* betas: [0.9, 0.99] */
      size_t k = (size_t)snprintf(val, sizeof val, "[");
      for (int j = 0; j < v->n && k < sizeof val; j++)
        k += (size_t)snprintf(val + k, sizeof val - k, "%s%s", j ? ", " : "", v->items[j]->str);
      if (k < sizeof val) snprintf(val + k, sizeof val - k, "]");
    } else {
      snprintf(val, sizeof val, "%s", v->str ? v->str : "null");
    }
    size_t need = strlen(n->keys[i]->str) + strlen(val) + 8;
    if (off + need >= cap) {
      char *t = tr_realloc(s, cap = 2 * (off + need));
      if (!t) return free(s), NULL;
      s = t;
    }
    off += (size_t)snprintf(s + off, cap - off, "%s\"%s\": %s", i ? ", " : "", n->keys[i]->str, val);
  }
  snprintf(s + off, cap - off, "}");
  return s;
}

static double node_num(const TrYamlNode *n) {
  return n && n->kind == TR_YAML_SCALAR && n->str ? strtod(n->str, NULL) : NAN;
}

static int on_event(void *ctx, const RsEvent *e) {
  Lineage *L = ctx;
  if (!strcmp(e->kind, "retry")) { /* a retry starts the member over: its earlier copies are gone */
    for (size_t i = 0; i < L->n; i++)
      if (L->c[i].trial == e->trial_id) L->c[i].trial = -1;
    return 0;
  }
  if (strcmp(e->kind, "exploit") != 0 || !e->detail) return 0;
  TrYamlDoc *doc = NULL;
  TrErr err;
  if (tr_yaml_load_string(e->detail, strlen(e->detail), "event detail", &doc, &err) != TR_OK) return 0;
  const TrYamlNode *d = doc->root;
  Copy c = {e->trial_id, (int64_t)node_num(tr_yaml_get(d, "source")), (int64_t)node_num(tr_yaml_get(d, "step")),
            node_num(tr_yaml_get(d, "value")), node_num(tr_yaml_get(d, "source_value")),
            node_json(tr_yaml_get(d, "params")), node_json(tr_yaml_get(d, "from"))};
  tr_yaml_destroy(doc);
  if (L->n == L->cap) {
    Copy *p = tr_realloc(L->c, (L->cap = L->cap ? 2 * L->cap : 32) * sizeof *p);
    if (!p) return free(c.params), free(c.from), L->oom = 1, 0;
    L->c = p;
  }
  L->c[L->n++] = c;
  return 0;
}

static void lineage_free(Lineage *L) {
  for (size_t i = 0; i < L->n; i++) free(L->c[i].params), free(L->c[i].from);
  free(L->c);
}

/* Row of trial id in ts, or -1. */
static int row_of(const RsTrialSet *ts, int64_t id) {
  for (int i = 0; i < ts->n; i++)
    if (ts->t[i].id == id) return i;
  return -1;
}

/* The last copy of trial `id` at a step < end, or NULL. */
static const Copy *last_copy(const Lineage *L, int64_t id, int64_t end) {
  const Copy *best = NULL;
  for (size_t i = 0; i < L->n; i++)
    if (L->c[i].trial == id && L->c[i].step < end && (!best || L->c[i].step > best->step)) best = &L->c[i];
  return best;
}

/* The values trial id started with: its first copy's "from", else its params now. */
static const char *initial_values(const Lineage *L, const RsTrialSet *ts, int64_t id) {
  const Copy *first = NULL;
  for (size_t i = 0; i < L->n; i++)
    if (L->c[i].trial == id && (!first || L->c[i].step < first->step)) first = &L->c[i];
  if (first && first->from) return first->from;
  int r = row_of(ts, id);
  return r >= 0 && ts->t[r].params ? ts->t[r].params : "{}";
}

#define W 720
#define ROW 22
#define LEFT 60
#define RIGHT 90

/* Members against steps: a line each, an arrow from the source to the copier at each copy;
** the ancestry of the best final member (best) in red. */
static void draw(FILE *f, const RsTrialSet *ts, const Lineage *L, int best, int64_t T) {
  int h = 30 + ROW * ts->n;
  double span = (double)(W - LEFT - RIGHT);
#define X(s) (LEFT + span * (double)(s) / (double)(T > 0 ? T : 1))
#define Y(i) (20 + ROW * (i) + ROW / 2)
  fprintf(f, "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" font-family=\"sans-serif\" "
          "font-size=\"11\">\n<defs><marker id=\"pbt-arrow\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" "
          "markerWidth=\"6\" markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#555\"/></marker>"
          "<marker id=\"pbt-arrow-red\" viewBox=\"0 0 10 10\" refX=\"9\" refY=\"5\" markerWidth=\"6\" "
          "markerHeight=\"6\" orient=\"auto\"><path d=\"M0,0 L10,5 L0,10 z\" fill=\"#c00\"/></marker></defs>\n", W, h);
  for (int i = 0; i < ts->n; i++) {
    char v[32];
    rs_fmt_metric(v, sizeof v, ts->t[i].final);
    fprintf(f, "<text x=\"4\" y=\"%d\">#%lld</text><line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" "
            "stroke=\"#bbb\" stroke-width=\"2\"/><text x=\"%d\" y=\"%d\">%s</text>\n", Y(i) + 4,
            (long long)ts->t[i].id, X(0), Y(i), X(ts->t[i].steps > 0 ? ts->t[i].steps : T), Y(i), W - RIGHT + 6,
            Y(i) + 4, v);
  }
  for (size_t k = 0; k < L->n; k++) {
    int a = row_of(ts, L->c[k].source), b = row_of(ts, L->c[k].trial);
    if (a < 0 || b < 0) continue;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#555\" marker-end=\"url(#pbt-arrow)\"/>\n",
            X(L->c[k].step), Y(a), X(L->c[k].step), Y(b) + (Y(b) > Y(a) ? -3 : 3));
  }
  /* the best final member's ancestry, back from its end */
  int64_t cur = best >= 0 ? ts->t[best].id : -1, end = best >= 0 ? ts->t[best].steps : 0;
  for (int guard = 0; cur >= 0 && guard < 10000; guard++) {
    const Copy *c = last_copy(L, cur, end);
    int r = row_of(ts, cur), s = c ? row_of(ts, c->source) : -1;
    int64_t from = c ? c->step : 0;
    if (r < 0) break;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" stroke-width=\"3\"/>\n", X(from),
            Y(r), X(end), Y(r));
    if (!c || s < 0) break;
    fprintf(f, "<line x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" y2=\"%d\" stroke=\"#c00\" stroke-width=\"1.5\" "
            "marker-end=\"url(#pbt-arrow-red)\"/>\n", X(c->step), Y(s), X(c->step), Y(r) + (Y(r) > Y(s) ? -3 : 3));
    cur = c->source, end = c->step;
  }
  fprintf(f, "<text x=\"%.1f\" y=\"%d\">step 0</text><text x=\"%.1f\" y=\"%d\" text-anchor=\"end\">%lld</text>\n",
          X(0), h - 4, X(T), h - 4, (long long)T);
  fputs("</svg>\n", f);
#undef X
#undef Y
}

/* One final member's schedule: the step ranges its weights were trained in, by whom, with what. */
static void schedule_row(FILE *f, const RsTrialSet *ts, const Lineage *L, int i) {
  typedef struct Seg {
    int64_t owner, from, to;
    const char *values;
  } Seg;
  Seg seg[256];
  int ns = 0;
  int64_t cur = ts->t[i].id, end = ts->t[i].steps;
  while (ns < 256) {
    const Copy *c = last_copy(L, cur, end);
    seg[ns++] = (Seg){cur, c ? c->step : 0, end, c ? c->params : initial_values(L, ts, cur)};
    if (!c) break;
    cur = c->source, end = c->step;
  }
  char v[32];
  rs_fmt_metric(v, sizeof v, ts->t[i].final);
  fprintf(f, "<tr><td>#%lld</td><td class=\"num\">%s</td><td>", (long long)ts->t[i].id, v);
  for (int k = ns; k-- > 0;) {
    fprintf(f, "%ssteps %lld&ndash;%lld", k == ns - 1 ? "" : "<br>", (long long)seg[k].from, (long long)seg[k].to);
    if (seg[k].owner != ts->t[i].id) fprintf(f, " (by #%lld)", (long long)seg[k].owner);
    fputs(": <code>", f);
    html(f, seg[k].values);
    fputs("</code>", f);
  }
  fputs("</td></tr>\n", f);
}

int rs_report_pbt(RsStore *st, const RsTrialSet *ts, FILE *f, int secno, int *fig, int *tab, TrErr *err) {
  if (!ts->sweep.method || strcmp(ts->sweep.method, "pbt") != 0) return 0;
  Lineage L = {0};
  int rc = rs_sweep_events_each(st, ts->sweep.id, NULL, on_event, &L);
  if (rc || L.oom) {
    tr_err_set(err, rc ? rc : TR_ENOMEM, "%s", rc ? rs_store_errmsg(st) : "report: out of memory");
    lineage_free(&L);
    return 0;
  }
  size_t live = 0;
  for (size_t k = 0; k < L.n; k++) live += L.c[k].trial >= 0;
  int64_t T = 0;
  int best = -1;
  for (int i = 0; i < ts->n; i++) {
    if (ts->t[i].steps > T) T = ts->t[i].steps;
    if (ts->t[i].status == RS_COMPLETED && !isnan(ts->t[i].final) &&
        (best < 0 || (ts->maximize ? ts->t[i].final > ts->t[best].final : ts->t[i].final < ts->t[best].final)))
      best = i;
  }
  fprintf(f, "<h2 id=\"pbt\">%d. Population-based training</h2>\n<p>%d members; <b>%zu</b> cop%s: a member in "
          "the bottom quantile at a perturbation step took the checkpoint (weights and optimizer state, or a "
          "program's run directory) of one in the top quantile, then explored its values.", secno, ts->n, live, live == 1 ? "y" : "ies");
  if (best >= 0) {
    char v[32];
    rs_fmt_metric(v, sizeof v, ts->t[best].final);
    fprintf(f, " The best final member, <b>#%lld</b>, ends at <code>", (long long)ts->t[best].id);
    html(f, ts->metric);
    fprintf(f, "</code> = <b>%s</b>; its ancestry is drawn in red.", v);
  }
  fputs("</p>\n<figure id=\"pbt-lineage\">\n", f);
  draw(f, ts, &L, best, T);
  fprintf(f, "<figcaption><b>Figure %d.</b> Lineage: one line per member against steps (its final <code>", ++*fig);
  html(f, ts->metric);
  fputs("</code> at the right); an arrow at step s from the member copied to the member that copied it.</figcaption>"
        "\n</figure>\n", f);
  fprintf(f, "<table id=\"pbt-schedules\">\n<caption><b>Table %d.</b> The values each final member's weights were "
          "trained with: back from its end, the step ranges before each copy were trained by the member copied "
          "(by #id).</caption>\n<thead><tr><th>member</th><th class=\"num\">final</th><th>schedule</th></tr>"
          "</thead>\n<tbody>\n", ++*tab);
  for (int i = 0; i < ts->n; i++) schedule_row(f, ts, &L, i);
  fputs("</tbody>\n</table>\n", f);
  lineage_free(&L);
  return 1;
}
