/* rs_plot: figures are produced, valid, and hold one series per trial. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hps_test.h"
#include "rs_fixture.h"
#include "rs_plot.h"

static char dir[64], dbpath[128];

/* fontconfig (loaded by PLplot's cairo drivers) keeps its font cache until exit:
** a one-time allocation, not ours. Tell LeakSanitizer in sanitizer builds. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libfontconfig.so\nleak:libcairo.so\n"; }

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "hps_rsp_");
  snprintf(dbpath, sizeof dbpath, "%s/s.db", dir);
  cr_assert_eq(rs_fixture_make(dbpath), 0);
}

static void teardown(void) {
  char cmd[160];
  snprintf(cmd, sizeof cmd, "umount '%s/full' 2>/dev/null", dir); /* a failed full-disk test's tmpfs */
  if (system(cmd)) { /* not mounted: the usual case */ }
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

/* Structural XML check: prolog, one svg root closed at the end, balanced groups and brackets. */
static void svg_valid(const char *s) {
  cr_assert(strncmp(s, "<?xml", 5) == 0);
  cr_assert_eq(hps_count(s, "<svg"), 1);
  const char *end = strstr(s, "</svg>");
  cr_assert(end);
  for (end += 6; *end; end++) cr_assert(*end == '\n' || *end == ' ');
  cr_assert_eq(hps_count(s, "<g"), hps_count(s, "</g>"));
  cr_assert_eq(hps_count(s, "<"), hps_count(s, ">"));
  cr_assert_eq(hps_count(s, "<text"), hps_count(s, "</text>"));
}

static void load(RsStore **db, RsTrialSet *ts, const char *sweep) {
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, db, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(rs_trials_load(*db, sweep, ts), TR_OK, "%s", rs_store_errmsg(*db));
}

Test(rs_plot, curves_svg_has_one_series_per_trial, .init = setup, .fini = teardown) {
  RsStore *db;
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
  size_t n;
  char *svg = hps_slurp(path, &n);
  svg_valid(svg);
  cr_assert_eq(hps_count(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 12);
  cr_assert(strstr(svg, "&#x73;&#x74;&#x65;&#x70;"), "x label 'step'"); /* PLplot escapes text */
  free(svg);
  /* The text form is the same figure. */
  char *txt;
  cr_assert_eq(rs_plot_svg(&p, &txt, &e), TR_OK);
  svg_valid(txt);
  cr_assert_eq(hps_count(txt, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 12);
  free(txt);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_plot, colour_by_param_gives_a_legend_per_value_and_thins_long_series, .init = setup, .fini = teardown) {
  RsStore *db;
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
  cr_assert_eq(hps_count(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 1);
  free(svg);
  rs_plot_deinit(&q);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_plot, png_and_pdf_carry_their_signatures, .init = setup, .fini = teardown) {
  TrErr e = {0};
  cr_assert_eq(rs_plot_device_check("pngcairo", &e), TR_OK, "plplot-driver-cairo: %s", e.msg);
  RsStore *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_grid");
  RsPlot p;
  cr_assert_eq(rs_plot_param(&ts, 0, &p, &e), TR_OK, "%s", e.msg);
  cr_assert(p.logx); /* learning rates: log x */
  cr_assert_eq(p.ns, 1);
  cr_assert_eq(p.s[0].n, 4);
  char path[160];
  size_t n;
  snprintf(path, sizeof path, "%s/p.png", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_OK, "%s", e.msg);
  char *b = hps_slurp(path, &n);
  cr_assert(n > 1000 && memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0);
  free(b);
  snprintf(path, sizeof path, "%s/p.pdf", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_OK, "%s", e.msg);
  b = hps_slurp(path, &n);
  cr_assert(n > 500 && memcmp(b, "%PDF-", 5) == 0);
  free(b);
  snprintf(path, sizeof path, "%s/p.gif", dir);
  cr_assert_eq(rs_plot_write(&p, path, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, ".svg, .png or .pdf"), "%s", e.msg);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_plot, param_plot_draws_a_line_per_other_combination, .init = setup, .fini = teardown) {
  RsStore *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_wd");
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_plot_param(&ts, 0, &p, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(p.ns, 2);
  cr_assert_eq(p.nlegend, 2);
  cr_assert_str_eq(p.legend[1], "weight_decay=0.1");
  cr_assert_str_eq(p.legend_title, "other parameters"); /* read after the comparison was freed */
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
  rs_store_close(db);
}

Test(rs_plot, cli_writes_svg_and_rejects_unknown_names, .init = setup, .fini = teardown) {
  char out[512];
  cr_assert_eq(hps_run(dir, "plot lr_grid --db s.db --color-by lr --logy -o a.svg", out, sizeof out), 0, "%s", out);
  char path[160];
  size_t n;
  snprintf(path, sizeof path, "%s/a.svg", dir);
  char *svg = hps_slurp(path, &n);
  svg_valid(svg);
  free(svg);
  cr_assert_eq(hps_run(dir, "plot lr_grid --db s.db --color-by nope", out, sizeof out), 2);
  cr_assert(strstr(out, "parameters: optimizer.lr, train.seed"), "%s", out);
}

/* PLplot writes text as character references: "T=1" -> "&#x54;&#x3d;&#x31;". */
static void plplot_text(char *buf, size_t n, const char *s) {
  size_t len = 0;
  for (; *s && len + 10 < n; s++) len += (size_t)snprintf(buf + len, n - len, "&#x%x;", (unsigned char)*s);
}

Test(rs_plot, diversity_svg_has_a_dot_per_setting_and_a_frontier_polyline, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_sample(dbpath), 0);
  RsStore *db;
  RsTrialSet ts;
  load(&db, &ts, "samp_neg");
  RsDiversity d;
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_diversity_load(db, &ts, &d), TR_OK, "%s", rs_store_errmsg(db));
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
  size_t n;
  char *file = hps_slurp(path, &n);
  svg_valid(file);
  free(file);
  /* One dot per setting plus one per legend entry; one ring per frontier setting. */
  cr_assert_eq(hps_count(svg, "&#x2022;"), 6 + 6);
  cr_assert_eq(hps_count(svg, "&#x25cb;"), 4);
  /* The frontier is the one polyline at the series width, in its dark colour. */
  cr_assert_eq(hps_count(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 1);
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
    cr_assert_eq(hps_count(svg, enc), 1 + on_front[i], "%s", labels[i]);
  }
  free(svg);
  rs_plot_deinit(&p);
  rs_diversity_deinit(&d);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_plot, cli_diversity_writes_the_figure_and_refuses_a_training_sweep, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_sample(dbpath), 0);
  char out[512];
  cr_assert_eq(hps_run(dir, "plot samp_pos --db s.db --kind diversity", out, sizeof out), 0, "%s", out);
  char path[160];
  size_t n;
  snprintf(path, sizeof path, "%s/samp_pos-diversity.svg", dir); /* the default name */
  char *svg = hps_slurp(path, &n);
  svg_valid(svg);
  cr_assert_eq(hps_count(svg, "&#x25cb;"), 1); /* T=1.2 beats every other setting on both axes */
  free(svg);
  cr_assert_eq(hps_run(dir, "plot lr_grid --db s.db --kind diversity -o x.svg", out, sizeof out), 2);
  cr_assert(strstr(out, "hpsweep plot: sweep 'lr_grid' has no completed trial with validity and distinct_2"), "%s", out);
}

/* Files in d whose name starts with prefix. */
static int count_prefixed(const char *d, const char *prefix) {
  char cmd[512], buf[64];
  snprintf(cmd, sizeof cmd, "ls -A '%s' | grep -c '^%s' || true", d, prefix);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  cr_assert_not_null(fgets(buf, sizeof buf, p));
  pclose(p);
  return atoi(buf);
}

Test(rs_plot, full_disk_fails_every_format_and_keeps_the_previous_file, .init = setup, .fini = teardown) {
  if (!hps_need_root()) return;
  char mnt[128], cmd[512];
  snprintf(mnt, sizeof mnt, "%s/full", dir);
  cr_assert_eq(mkdir(mnt, 0755), 0);
  snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=1m tmpfs '%s'", mnt);
  cr_assert_eq(system(cmd), 0, "mount failed");
  static const char *const ext[] = {"svg", "png", "pdf"};
  for (int i = 0; i < 3; i++) {
    char p[192];
    snprintf(p, sizeof p, "%s/fig.%s", mnt, ext[i]);
    hps_put(mnt, strrchr(p, '/') + 1, "previous figure");
  }
  snprintf(cmd, sizeof cmd, "dd if=/dev/zero of='%s/fill' bs=4k 2>/dev/null; true", mnt);
  cr_assert_eq(system(cmd), 0);
  RsStore *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_grid");
  RsCurveOpts o = {"val_loss", RS_X_STEP, 0, 0};
  RsPlot pl;
  TrErr e = {0};
  cr_assert_eq(rs_plot_curves(db, &ts, &o, &pl, &e), TR_OK, "%s", e.msg);
  for (int i = 0; i < 3; i++) {
    char p[192];
    snprintf(p, sizeof p, "%s/fig.%s", mnt, ext[i]);
    tr_err_clear(&e);
    cr_assert_eq(rs_plot_write(&pl, p, &e), TR_EIO, "%s on a full disk: %d %s", ext[i], e.code, e.msg);
    cr_assert(strstr(e.msg, p) && strstr(e.msg, "No space left on device"), "%s", e.msg);
    char *old = hps_slurp(p, NULL);
    cr_assert_str_eq(old, "previous figure", "%s was replaced", p);
    free(old);
  }
  /* The CLI says so too, and leaves no temporaries. */
  static char out[4096];
  snprintf(cmd, sizeof cmd, "plot lr_grid --db s.db -o full/fig.svg");
  cr_assert_eq(hps_run(dir, cmd, out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "full/fig.svg: write failed: No space left on device"), "%s", out);
  /* report and export share the same writer. */
  cr_assert_eq(hps_run(dir, "report lr_grid --db s.db -o full/r.html", out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "full/r.html: write failed: No space left on device"), "%s", out);
  cr_assert_eq(hps_run(dir, "export lr_grid --db s.db --what metrics -o full/e.csv", out, sizeof out), 1, "%s", out);
  cr_assert(strstr(out, "full/e.csv: write failed: No space left on device"), "%s", out);
  cr_assert_eq(count_prefixed(mnt, "fig\\."), 3, "temporaries left in %s", mnt);
  cr_assert_eq(count_prefixed(mnt, "[re]\\."), 0, "temporaries left in %s", mnt);
  rs_plot_deinit(&pl);
  rs_trials_deinit(&ts);
  rs_store_close(db);
  snprintf(cmd, sizeof cmd, "umount '%s'", mnt);
  cr_assert_eq(system(cmd), 0);
}

Test(rs_plot, long_colour_legend_shows_the_best_values_first, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_big(dbpath), 0);
  RsStore *db;
  RsTrialSet ts;
  load(&db, &ts, "big");
  int k;
  TrErr e = {0};
  cr_assert_eq(rs_param_find(&ts, "d_model", &k, &e), TR_OK, "%s", e.msg);
  RsCurveOpts o = {"val_loss", RS_X_STEP, k, 0};
  RsPlot p;
  cr_assert_eq(rs_plot_curves(db, &ts, &o, &p, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(p.nlegend, RS_PLOT_LEGEND_MAX);
  cr_assert_str_eq(p.legend[0], "137", "the winner's value first, got %s", p.legend[0]);
  /* The next best values (136 and 138 tie at 2.0 + seed, then 135 and 139) follow. */
  const char *best[] = {"136", "138", "135", "139"};
  for (int i = 0; i < 4; i++) {
    int found = 0;
    for (int j = 1; j < RS_PLOT_LEGEND_BEST; j++) found |= strcmp(p.legend[j], best[i]) == 0;
    cr_assert(found, "%s not among the best entries", best[i]);
  }
  cr_assert(strstr(p.legend_title, "best first"), "%s", p.legend_title);
  /* The rest spread over the range in value order, each value once. */
  for (int i = RS_PLOT_LEGEND_BEST + 1; i < p.nlegend; i++)
    cr_assert_lt(atoi(p.legend[i - 1]), atoi(p.legend[i]), "%s then %s", p.legend[i - 1], p.legend[i]);
  for (int i = 0; i < p.nlegend; i++)
    for (int j = i + 1; j < p.nlegend; j++) cr_assert_str_neq(p.legend[i], p.legend[j]);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

Test(rs_plot, curves_end_with_a_marker_where_a_trial_was_pruned_or_paused, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_stopped(dbpath), 0);
  RsStore *db;
  RsTrialSet ts;
  load(&db, &ts, "lr_grid");
  RsCurveOpts o = {"val_loss", RS_X_STEP, -1, 0};
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_plot_curves(db, &ts, &o, &p, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(p.ns, 15, "12 curves and a marker for each of the 3 stopped trials");
  /* trial 1 (pruned, curve cut after step 20): its line, then its marker at the last point */
  cr_assert_eq(p.s[1].n, 1);
  cr_assert_eq(p.s[1].x[0], 20);
  cr_assert_eq(p.s[1].y[0], p.s[0].y[p.s[0].n - 1]);
  cr_assert_eq(p.s[1].rgb, p.s[0].rgb, "in the trial's colour");
  cr_assert_str_eq(p.s[1].marker, RS_PLOT_PRUNED_MARK);
  cr_assert_str_eq(p.s[5].marker, RS_PLOT_PAUSED_MARK, "trial 3 is paused");
  for (int k = 0; k < p.ns; k++) p.s[k].clip_range = 1;
  char *svg;
  cr_assert_eq(rs_plot_svg(&p, &svg, &e), TR_OK, "%s", e.msg);
  svg_valid(svg);
  cr_assert_eq(hps_count(svg, "stroke-width=\"" RS_PLOT_SERIES_WIDTH_SVG "\""), 12, "markers draw no line");
  cr_assert_eq(hps_count(svg, RS_PLOT_PRUNED_MARK_SVG), 2);
  cr_assert_eq(hps_count(svg, RS_PLOT_PAUSED_MARK_SVG), 1);
  free(svg);
  rs_plot_deinit(&p);
  rs_trials_deinit(&ts);
  rs_store_close(db);
}

/* A batch-size study by hand: S = 100 + 3200 / B at B 8, 32, 128 (64 tokens per example). */
static void tradeoff_study(RsBsStudy *s, RsBsLevel *lv, int fitted) {
  static const double b[3] = {8, 32, 128};
  memset(s, 0, sizeof *s);
  for (int j = 0; j < 3; j++) {
    double st = 100 + 3200 / b[j];
    lv[j] = (RsBsLevel){.batch = b[j], .n_curves = 2, .n_reached = 2, .steps = st, .examples = b[j] * st,
                        .tokens = 64 * b[j] * st, .b_simple = NAN};
  }
  s->level = lv, s->nlevel = 3, s->target = 1.5;
  s->status = fitted ? RS_STUDY_OK : RS_STUDY_BAD_FIT;
  s->s_min = fitted ? 100 : NAN, s->e_min = fitted ? 3200 : NAN, s->b_crit = fitted ? 32 : NAN;
}

Test(rs_plot, bs_tradeoff_draws_steps_against_tokens_and_the_fitted_hyperbola) {
  RsBsStudy s;
  RsBsLevel lv[3];
  tradeoff_study(&s, lv, 1);
  RsPlot p;
  TrErr e = {0};
  cr_assert_eq(rs_plot_bs_tradeoff(&s, "", &p, &e), TR_OK, "%s", e.msg);
  cr_assert_str_eq(p.xlabel, "tokens to target");
  cr_assert_eq(p.ns, 4, "measured, the fit, S_min, E_min");
  cr_assert_eq(p.s[0].n, 3);
  cr_assert_float_eq(p.s[0].x[2], 64 * 128 * 125.0, 1e-6);
  cr_assert_float_eq(p.s[0].y[2], 125.0, 1e-9);
  cr_assert_eq(p.nnotes, 3);
  cr_assert_str_eq(p.notes[0].text, "B=8");
  for (int i = 0; i < p.s[1].n; i++) { /* every point of the curve on (S/S_min - 1)(E/E_min - 1) = 1 */
    double S = p.s[1].y[i], E = p.s[1].x[i] / 64;
    cr_assert_float_eq((S / 100 - 1) * (E / 3200 - 1), 1.0, 1e-9, "point %d", i);
  }
  cr_assert_float_eq(p.s[2].y[0], 100, 1e-9, "S_min");
  cr_assert_float_eq(p.s[3].x[0], 3200 * 64, 1e-6, "E_min in tokens");
  rs_plot_deinit(&p);
  tradeoff_study(&s, lv, 0); /* no fit: the measured points alone */
  cr_assert_eq(rs_plot_bs_tradeoff(&s, "", &p, &e), TR_OK);
  cr_assert_eq(p.ns, 1);
  rs_plot_deinit(&p);
  lv[0].tokens = NAN; /* a level without its sequence length: examples */
  cr_assert_eq(rs_plot_bs_tradeoff(&s, "", &p, &e), TR_OK);
  cr_assert_str_eq(p.xlabel, "examples to target");
  cr_assert_float_eq(p.s[0].x[2], 128 * 125.0, 1e-9);
  rs_plot_deinit(&p);
  lv[1].steps = lv[2].steps = NAN; /* one batch size reached the target */
  cr_assert_eq(rs_plot_bs_tradeoff(&s, "", &p, &e), TR_ENOTFOUND);
}
