/* rs_plot: figures are produced, valid, and hold one series per trial. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "rs_fixture.h"
#include "rs_plot.h"

static char dir[64], dbpath[128];

/* fontconfig (loaded by PLplot's cairo drivers) keeps its font cache until exit:
** a one-time allocation, not ours. Tell LeakSanitizer in sanitizer builds. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\nleak:libcairo.so\n"; }

static void setup(void) {
  strcpy(dir, "/tmp/hps_rsp_XXXXXX");
  cr_assert(mkdtemp(dir));
  snprintf(dbpath, sizeof dbpath, "%s/s.db", dir);
  cr_assert_eq(rs_fixture_make(dbpath), 0);
}

static void teardown(void) {
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

/* Structural XML check: prolog, one svg root closed at the end, balanced groups and brackets. */
static void svg_valid(const char *s) {
  cr_assert(strncmp(s, "<?xml", 5) == 0);
  cr_assert_eq(count(s, "<svg"), 1);
  const char *end = strstr(s, "</svg>");
  cr_assert(end);
  for (end += 6; *end; end++) cr_assert(*end == '\n' || *end == ' ');
  cr_assert_eq(count(s, "<g"), count(s, "</g>"));
  cr_assert_eq(count(s, "<"), count(s, ">"));
  cr_assert_eq(count(s, "<text"), count(s, "</text>"));
}

static char *slurp(const char *path, long *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s missing", path);
  fseek(f, 0, SEEK_END);
  *len = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)*len + 1);
  cr_assert_eq(fread(s, 1, (size_t)*len, f), (size_t)*len);
  s[*len] = '\0';
  fclose(f);
  return s;
}

static void load(RsDb **db, RsTrialSet *ts, const char *sweep) {
  TrErr e = {0};
  cr_assert_eq(rs_db_open(db, dbpath, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(rs_trials_load(*db, sweep, ts, &e), TR_OK, "%s", e.msg);
}

Test(rs_plot, curves_svg_has_one_series_per_trial, .init = setup, .fini = teardown) {
  RsDb *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_grid");
  RsCurveOpts o = {"val_loss", RS_X_STEP, -1, 0};
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_plot_curves(db, &ts, &o, &p, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(p.ns, 12);
  p.s[p.ns - 1].clip_range = 1; /* keep every series inside the window for the count */
  char path[160];
  snprintf(path, sizeof path, "%s/c.svg", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_OK, "%s", e.msg);
  long n;
  char *svg = slurp(path, &n);
  svg_valid(svg);
  cr_assert_eq(count(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 12);
  cr_assert(strstr(svg, "&#x73;&#x74;&#x65;&#x70;"), "x label 'step'"); /* PLplot escapes text */
  free(svg);
  /* The text form is the same figure. */
  char *txt;
  cr_assert_eq(rs_plot_svg(&p, &txt, &e), TR_OK);
  svg_valid(txt);
  cr_assert_eq(count(txt, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 12);
  free(txt);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_db_close(db);
}

Test(rs_plot, colour_by_param_gives_a_legend_per_value_and_thins_long_series, .init = setup, .fini = teardown) {
  RsDb *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_grid");
  RsCurveOpts o = {"lr", RS_X_TOKENS, 0, 1};
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_plot_curves(db, &ts, &o, &p, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(p.nlegend, 4);
  cr_assert_str_eq(p.legend[0], "0.001");
  cr_assert_eq(p.s[0].rgb, p.s[1].rgb); /* same lr, same colour */
  cr_assert_neq(p.s[0].rgb, p.s[3].rgb);
  /* A 1000-point series is drawn as one polyline of at most RS_PLOT_MAX_POINTS. */
  double x[1000], y[1000];
  for (int i = 0; i < 1000; i++) x[i] = i, y[i] = 1.0 / (i + 1);
  RsPlot q;
  rs_plot_init(&q);
  rs_plot_add(&q, x, y, NULL, NULL, 1000, 0x112233, RS_STYLE_LINE);
  char *svg;
  cr_assert_eq(rs_plot_svg(&q, &svg, &e), TR_OK);
  cr_assert_eq(count(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 1);
  free(svg);
  rs_plot_deinit(&q);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_db_close(db);
}

Test(rs_plot, png_and_pdf_carry_their_signatures, .init = setup, .fini = teardown) {
  TrErr e = {0};
  cr_assert_eq(rs_plot_device_check("pngcairo", &e), TR_OK, "plplot-driver-cairo: %s", e.msg);
  RsDb *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_grid");
  RsPlot p;
  cr_assert_eq(rs_plot_param(&ts, 0, &p, &e), TR_OK, "%s", e.msg);
  cr_assert(p.logx); /* learning rates: log x */
  cr_assert_eq(p.ns, 1);
  cr_assert_eq(p.s[0].n, 4);
  char path[160];
  long n;
  snprintf(path, sizeof path, "%s/p.png", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_OK, "%s", e.msg);
  char *b = slurp(path, &n);
  cr_assert(n > 1000 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0);
  free(b);
  snprintf(path, sizeof path, "%s/p.pdf", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_OK, "%s", e.msg);
  b = slurp(path, &n);
  cr_assert(n > 500 && memcmp(b, "%PDF-", 5) == 0);
  free(b);
  snprintf(path, sizeof path, "%s/p.gif", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, ".svg, .png or .pdf"), "%s", e.msg);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_db_close(db);
}

Test(rs_plot, param_plot_draws_a_line_per_other_combination, .init = setup, .fini = teardown) {
  RsDb *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_wd");
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_plot_param(&ts, 0, &p, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(p.ns, 2);
  cr_assert_eq(p.nlegend, 2);
  cr_assert_str_eq(p.legend[1], "weight_decay=0.1");
  cr_assert(p.s[0].ylo && p.s[0].ylo[0] < p.s[0].y[0]); /* a CI over 2 seeds */
  rs_plot_deinit(&p);
  int front[8];
  cr_assert_eq(rs_plot_cost(&ts, 1, &p, front, &e), TR_OK, "%s", e.msg);
  int nf = 0;
  for (int i = 0; i < 8; i++) nf += front[i];
  cr_assert_eq(p.s[1].n, nf);
  cr_assert_geq(nf, 1);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_db_close(db);
}

Test(rs_plot, cli_writes_svg_and_rejects_unknown_names, .init = setup, .fini = teardown) {
  const char *bin = getenv("HPS_BIN");
  cr_assert(bin);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' plot lr_grid --db s.db --color-by lr --logy -o a.svg >/dev/null", dir, bin);
  cr_assert_eq(system(cmd), 0);
  char path[160];
  long n;
  snprintf(path, sizeof path, "%s/a.svg", dir);
  char *svg = slurp(path, &n);
  svg_valid(svg);
  free(svg);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' plot lr_grid --db s.db --color-by nope 2>&1", dir, bin);
  FILE *p = popen(cmd, "r");
  char out[512] = "";
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = '\0';
  cr_assert_eq(WEXITSTATUS(pclose(p)), 2);
  cr_assert(strstr(out, "parameters: optimizer.lr, train.seed"), "%s", out);
}

/* PLplot writes text as character references: "T=1" -> "&#x54;&#x3d;&#x31;". */
static void plplot_text(char *buf, size_t n, const char *s) {
  size_t len = 0;
  for (; *s && len + 10 < n; s++) len += (size_t)snprintf(buf + len, n - len, "&#x%x;", (unsigned char)*s);
}

Test(rs_plot, diversity_svg_has_a_dot_per_setting_and_a_frontier_polyline, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_sample(dbpath), 0);
  RsDb *db;
  RsTrialSet ts;
  load(&db, &ts, "samp_neg");
  RsDiversity d;
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_diversity_load(db, &ts, &d, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(rs_plot_diversity(&ts, &d, &p, &e), TR_OK, "%s", e.msg);
  /* Series 0 is the frontier, sorted by distinct_2; then one series per setting. */
  cr_assert_eq(p.ns, 1 + 6);
  cr_assert_eq(p.s[0].n, 4);
  static const double fx[4] = {0.20, 0.25, 0.40, 0.60}, fy[4] = {0.60, 0.55, 0.40, 0.10};
  for (int i = 0; i < 4; i++) {
    cr_assert_float_eq(p.s[0].x[i], fx[i], 1e-12);
    cr_assert_float_eq(p.s[0].y[i], fy[i], 1e-12);
  }
  cr_assert(p.s[1].xlo && p.s[1].ylo, "two seeds: bars both ways");
  cr_assert_float_eq(p.s[1].ylo[0], 0.58, 1e-12);
  cr_assert_null(p.s[2].xlo); /* one seed: no bars */
  cr_assert_eq(p.nlegend, 6 + 1);
  char *svg;
  cr_assert_eq(rs_plot_svg(&p, &svg, &e), TR_OK, "%s", e.msg);
  char path[160];
  snprintf(path, sizeof path, "%s/d.svg", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_OK, "%s", e.msg);
  long n;
  char *file = slurp(path, &n);
  svg_valid(file);
  free(file);
  /* One dot per setting plus one per legend entry; one ring per frontier setting. */
  cr_assert_eq(count(svg, "&#x2022;"), 6 + 6);
  cr_assert_eq(count(svg, "&#x25cb;"), 4);
  /* The frontier is the one polyline at the series width, in its dark colour. */
  cr_assert_eq(count(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 1);
  const char *line = strstr(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\"");
  cr_assert(line - svg > 20 && strstr(line - 20, "<polyline") && strstr(line - 20, "<polyline") < line);
  const char *end = strstr(line, "/>");
  cr_assert(end);
  const char *stroke = strstr(line, "stroke=\"#222222\""), *pts = strstr(line, "points=\"");
  cr_assert(stroke && stroke < end, "frontier colour");
  cr_assert(pts && pts < end);
  int pairs = 0;
  for (const char *c = pts + 8; *c != '"'; c++) pairs += *c == ',';
  cr_assert_eq(pairs, 4, "one vertex per frontier setting");
  /* Every setting is named (legend), the frontier ones also beside their dot. */
  static const char *const labels[6] = {"T=0.5 p=0.9", "T=0.5 p=1.0", "T=1.0 p=0.9",
                                        "T=1.0 p=1.0", "T=1.5 p=0.9", "T=1.5 p=1.0"};
  static const int on_front[6] = {1, 1, 0, 1, 0, 1};
  for (int i = 0; i < 6; i++) {
    char enc[256];
    plplot_text(enc, sizeof enc, labels[i]);
    cr_assert_eq(count(svg, enc), 1 + on_front[i], "%s", labels[i]);
  }
  free(svg);
  rs_plot_deinit(&p);
  rs_diversity_deinit(&d);
  rs_trials_deinit(&ts);
  rs_db_close(db);
}

Test(rs_plot, cli_diversity_writes_the_figure_and_refuses_a_training_sweep, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_sample(dbpath), 0);
  const char *bin = getenv("HPS_BIN");
  cr_assert(bin);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' plot samp_pos --db s.db --kind diversity >/dev/null", dir, bin);
  cr_assert_eq(system(cmd), 0);
  char path[160];
  long n;
  snprintf(path, sizeof path, "%s/samp_pos-diversity.svg", dir); /* the default name */
  char *svg = slurp(path, &n);
  svg_valid(svg);
  cr_assert_eq(count(svg, "&#x25cb;"), 1); /* T=1.2 beats every other setting on both axes */
  free(svg);
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' plot lr_grid --db s.db --kind diversity -o x.svg 2>&1", dir, bin);
  FILE *p = popen(cmd, "r");
  char out[512] = "";
  size_t got = fread(out, 1, sizeof out - 1, p);
  out[got] = '\0';
  cr_assert_eq(WEXITSTATUS(pclose(p)), 2);
  cr_assert(strstr(out, "hpsweep plot: sweep 'lr_grid' has no completed trial with validity and distinct_2"), "%s", out);
}
