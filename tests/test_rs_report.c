/* rs_report: one self-contained HTML file with every section and every trial. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "hps_test.h"
#include "rs_fixture.h"
#include "rs_report.h"

static char dir[64], dbpath[128];

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "hps_rsr_");
  snprintf(dbpath, sizeof dbpath, "%s/s.db", dir);
  cr_assert_eq(rs_fixture_make(dbpath), 0);
}

static void teardown(void) { cr_assert_eq(hps_tmp_remove(dir), 0); }

Test(rs_report, has_every_section_every_trial_and_no_network, .init = setup, .fini = teardown) {
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  char path[160];
  snprintf(path, sizeof path, "%s/r.html", dir);
  cr_assert_eq(rs_report_write(db, "lr_grid", path, &e), TR_OK, "%s", e.msg);
  rs_store_close(db);
  char *h = hps_slurp(path, NULL);
  static const char *const ids[] = {"id=\"setup\"", "id=\"leaderboard\"", "id=\"importance\"",
                                    "id=\"compare-optimizer-lr\"", "id=\"curves\"", "id=\"schedules\"",
                                    "id=\"cost\"", "id=\"failures\""};
  for (int i = 0; i < 8; i++) cr_assert(strstr(h, ids[i]), "missing %s", ids[i]);
  cr_assert(strstr(h, "id=\"lr-study\""));
  for (int id = 1; id <= 12; id++) {
    char cell[64];
    snprintf(cell, sizeof cell, "<td class=\"num\">%d</td>", id);
    cr_assert(strstr(h, cell), "trial %d missing from the leaderboard", id);
  }
  cr_assert(strstr(h, "optimizer.lr: [1e-3, 3e-3, 1e-2, 3e-2]")); /* the spec text */
  cr_assert(strstr(h, "bad value, &quot;nan&quot;")); /* the failure's reason, escaped */
  cr_assert(strstr(h, "loss 812.5 &gt; 10 x best"));
  cr_assert(strstr(h, "Welch"));
  /* Figures: param, val_loss curves, train_loss curves, lr schedules, wall, FLOPs, lr study. */
  cr_assert_eq(hps_count(h, "<svg role=\"img\""), 7);
  cr_assert_eq(hps_count(h, "<figcaption>"), 7);
  cr_assert_eq(hps_count(h, "<?xml"), 0);
  cr_assert_null(strstr(h, "<script"));
  cr_assert_null(strstr(h, "src="));
  cr_assert_null(strstr(h, "href=\"http"));
  cr_assert_null(strstr(h, "@import"));
  cr_assert(strstr(h, "</html>\n"));
  free(h);
}

Test(rs_report, cli_writes_the_report_and_a_running_sweep_says_so, .init = setup, .fini = teardown) {
  sqlite3 *w;
  cr_assert_eq(sqlite3_open(dbpath, &w), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(w, "UPDATE trials SET status='running', best_metric=NULL WHERE id=20", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(w);
  char out[4096];
  cr_assert_eq(hps_run(dir, "report lr_wd --db s.db -o out.html", out, sizeof out), 0, "%s", out);
  char path[160];
  snprintf(path, sizeof path, "%s/out.html", dir);
  char *h = hps_slurp(path, NULL);
  cr_assert(strstr(h, "still in progress"));
  cr_assert(strstr(h, "id=\"compare-optimizer-weight-decay\""));
  cr_assert(strstr(h, "No trial failed or diverged."));
  free(h);
}

/* The report of sweep `name` (sample fixtures added) as text. */
static char *sample_report(const char *name) {
  cr_assert_eq(rs_fixture_add_sample(dbpath), 0);
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK);
  char path[160];
  snprintf(path, sizeof path, "%s/%s.html", dir, name);
  cr_assert_eq(rs_report_write(db, name, path, &e), TR_OK, "%s", e.msg);
  rs_store_close(db);
  return hps_slurp(path, NULL);
}

/* The text of the element starting at id="ID" up to its close tag `end`. */
static char *slice(const char *h, const char *id, const char *end) {
  char key[64];
  snprintf(key, sizeof key, "id=\"%s\"", id);
  const char *a = strstr(h, key);
  cr_assert(a, "missing %s", key);
  const char *b = strstr(a, end);
  cr_assert(b);
  size_t n = (size_t)(b - a);
  char *s = malloc(n + 1);
  memcpy(s, a, n);
  s[n] = '\0';
  return s;
}

Test(rs_report, inference_sweep_shows_diversity_and_its_frontier_not_training_sections, .init = setup,
     .fini = teardown) {
  char *h = sample_report("samp_neg");
  cr_assert(strstr(h, "id=\"diversity\""));
  for (const char *const *id = (const char *const[]){"id=\"curves\"", "id=\"schedules\"", "id=\"cost\"", NULL};
       *id; id++)
    cr_assert_null(strstr(h, *id), "%s in an inference report", *id);
  cr_assert(strstr(h, "not applicable to an inference sweep"));
  cr_assert(strstr(h, "id=\"failures\""));
  cr_assert(strstr(h, "exit 1: checkpoint vanished")); /* the trial without metrics is reported, not a crash */
  cr_assert(strstr(h, "1 trial without both measures"));
  /* Every trial on the leaderboard. */
  for (int id = 101; id <= 108; id++) {
    char cell[64];
    snprintf(cell, sizeof cell, "<td class=\"num\">%d</td>", id);
    cr_assert(strstr(h, cell), "trial %d missing", id);
  }
  /* The figure (compare + diversity) holds a dot per setting; its caption the key and counts. */
  char *sec = slice(h, "diversity", "<h2");
  cr_assert_eq(hps_count(sec, "<svg role=\"img\""), 1);
  cr_assert_eq(hps_count(sec, "&#x2022;"), 6 + 6); /* 6 settings, 6 legend entries */
  cr_assert(strstr(sec, "the Pareto frontier (4 of 6 settings)"));
  cr_assert(strstr(sec, "Key: T = sample.temperature, p = sample.top_p."));
  cr_assert(strstr(sec, "7 completed trials in all"));
  /* The frontier table: exactly the four expected settings, most valid first. */
  char *tab = slice(h, "diversity-frontier", "</table>");
  cr_assert_eq(hps_count(tab, "<tr>"), 1 + 4);
  static const char *const rows[4] = {
      "<tr><td>0.5</td><td>0.9</td><td class=\"num\">2</td><td class=\"num\">0.6</td><td class=\"num\">0.2</td>"
      "<td class=\"num\">0.015</td><td class=\"num\">100.5</td></tr>",
      "<tr><td>0.5</td><td>1.0</td><td class=\"num\">1</td><td class=\"num\">0.55</td><td class=\"num\">0.25</td>",
      "<tr><td>1.0</td><td>1.0</td><td class=\"num\">1</td><td class=\"num\">0.4</td><td class=\"num\">0.4</td>",
      "<tr><td>1.5</td><td>1.0</td><td class=\"num\">1</td><td class=\"num\">0.1</td><td class=\"num\">0.6</td>"};
  const char *at = tab;
  for (int i = 0; i < 4; i++) {
    const char *r = strstr(at, rows[i]);
    cr_assert(r, "frontier row %d missing or out of order in:\n%s", i, tab);
    at = r + 1;
  }
  cr_assert_null(strstr(tab, "<tr><td>1.0</td><td>0.9</td>")); /* beaten by T=0.5 p=1.0 */
  cr_assert_null(strstr(tab, "<tr><td>1.5</td><td>0.9</td>")); /* beaten by T=1.0 p=1.0 */
  /* The caption reads the trade-off off the data: here temperature costs validity. */
  cr_assert(strstr(sec, "Higher temperature raises diversity"), "%s", sec);
  cr_assert(strstr(sec, "lowers validity"));
  cr_assert(strstr(sec, "it buys diversity at the cost of validity"));
  cr_assert(strstr(sec, "the more diverse settings are the less valid ones"));
  cr_assert(strstr(sec, "Validity peaks at T=0.5 p=0.9 (0.6), diversity at T=1.5 p=1.0 (0.6)."));
  free(tab), free(sec), free(h);
}

Test(rs_report, caption_follows_the_data_when_temperature_helps_both, .init = setup, .fini = teardown) {
  char *h = sample_report("samp_pos");
  char *sec = slice(h, "diversity", "<h2");
  cr_assert(strstr(sec, "Higher temperature raises diversity"), "%s", sec);
  cr_assert(strstr(sec, "raises validity"));
  cr_assert(strstr(sec, "no trade-off along temperature"));
  cr_assert(strstr(sec, "the more diverse settings are also the more valid ones"));
  cr_assert_null(strstr(sec, "at the cost of"));
  cr_assert(strstr(sec, "the Pareto frontier (1 of 6 settings)"));
  cr_assert_null(strstr(sec, "bars from")); /* one seed each: no seed spread to show */
  char *tab = slice(h, "diversity-frontier", "</table>");
  cr_assert_eq(hps_count(tab, "<tr>"), 1 + 1);
  cr_assert(strstr(tab, "<tr><td>1.2</td><td class=\"num\">1</td><td class=\"num\">0.6</td><td class=\"num\">0.5</td>"),
            "%s", tab);
  free(tab), free(sec), free(h);
}

Test(rs_report, cli_removes_temporaries_a_killed_report_or_export_left, .init = setup, .fini = teardown) {
  /* What kill -9 mid-write leaves: FILE.XXXXXX, unlocked, from a while ago. Another
  ** file's temporary and a name that only looks alike stay. */
  const char *stale[] = {"r.html.a1B2c3", "e.csv.Zz9yY8"}, *keep[] = {"other.html.a1B2c3", "r.html.bak"};
  for (int i = 0; i < 2; i++) {
    hps_put(dir, stale[i], "<html>half");
    hps_put(dir, keep[i], "x");
  }
  char cmd[512];
  snprintf(cmd, sizeof cmd, "cd '%s' && touch -d '-10 minutes' r.html.* e.csv.* other.html.*", dir);
  cr_assert_eq(system(cmd), 0);
  char out[4096];
  cr_assert_eq(hps_run(dir, "report lr_grid --db s.db -o r.html", out, sizeof out), 0, "%s", out);
  cr_assert_eq(hps_run(dir, "export lr_grid --db s.db -o e.csv", out, sizeof out), 0, "%s", out);
  for (int i = 0; i < 2; i++) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, stale[i]);
    cr_assert_neq(access(p, F_OK), 0, "%s is still there", stale[i]);
    snprintf(p, sizeof p, "%s/%s", dir, keep[i]);
    cr_assert_eq(access(p, F_OK), 0, "%s was removed", keep[i]);
  }
}

Test(rs_report, large_sweep_shows_the_top_of_the_leaderboard_and_counts_the_rest, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_big(dbpath), 0);
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK, "%s", e.msg);
  char path[160];
  snprintf(path, sizeof path, "%s/big.html", dir);
  cr_assert_eq(rs_report_write(db, "big", path, &e), TR_OK, "%s", e.msg);
  rs_store_close(db);
  char *h = hps_slurp(path, NULL);
  char *lb = strstr(h, "id=\"leaderboard\""), *end = lb ? strstr(lb, "</table>") : NULL;
  cr_assert(lb && end);
  *end = '\0';
  cr_assert_eq(hps_count(lb, "<tr"), RS_REPORT_TOP + 1, "header + %d rows", RS_REPORT_TOP);
  cr_assert(strstr(lb, "The best 50 of 2000 trials"), "caption");
  cr_assert(strstr(lb, "<td class=\"num\">10740</td>"), "the winner (d_model 137, seed 0) is in it");
  cr_assert(strstr(end + 1, "... and 1950 more trials (all in <code>hpsweep export big</code>)"));
  free(h);
}

/* The report of lr_grid, as text (free()). */
static char *lr_grid_report(void) {
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK, "%s", e.msg);
  char path[160];
  snprintf(path, sizeof path, "%s/r.html", dir);
  cr_assert_eq(rs_report_write(db, "lr_grid", path, &e), TR_OK, "%s", e.msg);
  rs_store_close(db);
  return hps_slurp(path, NULL);
}

Test(rs_report, early_termination_section_lists_levels_thresholds_and_steps_saved, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_stopped(dbpath), 0);
  char *h = lr_grid_report();
  cr_assert(strstr(h, "<h2 id=\"early-termination\">9. Early termination</h2>"));
  cr_assert(strstr(h, "2 trials pruned, 1 paused of 12"), "%s", strstr(h, "early-termination"));
  /* spent: 20 + 30 + 30 (stopped) + 4 (failed) + 21 (diverged) + 7 x 60 = 525; run to the
  ** end the three stopped ones would have taken 60 each: 625 */
  cr_assert(strstr(h, "<b>525</b> steps of the <b>625</b>"));
  cr_assert(strstr(h, "<b>84.0%</b>"));
  cr_assert(strstr(h, "<tr><td>band 3</td><td class=\"num\">1</td><td class=\"num\">0</td><td>2.5</td></tr>"));
  cr_assert(strstr(h, "<tr><td>rung 30</td><td class=\"num\">1</td><td class=\"num\">1</td><td>1.9</td></tr>"));
  cr_assert(strstr(h, "\xe2\x96\xa0 where a trial was pruned"), "the curves' caption explains the markers");
  free(h);
}

Test(rs_report, no_early_termination_section_when_nothing_stopped, .init = setup, .fini = teardown) {
  char *h = lr_grid_report();
  cr_assert_null(strstr(h, "early-termination"));
  cr_assert_null(strstr(h, "where a trial was pruned"));
  free(h);
}

/* ---- learning-rate study ---- */

/* Run SQL on the fixture database. */
static void fixture_sql(const char *sql) {
  sqlite3 *w;
  cr_assert_eq(sqlite3_open(dbpath, &w), SQLITE_OK);
  cr_assert_eq(sqlite3_exec(w, sql, NULL, NULL, NULL), SQLITE_OK, "%s", sqlite3_errmsg(w));
  sqlite3_close(w);
}

/* The report of sweep `name` as text (free()). */
static char *report_of(const char *name) {
  RsStore *db;
  TrErr e = {0};
  cr_assert_eq(rs_store_open(dbpath, RS_OPEN_READONLY, &db, &e), TR_OK, "%s", e.msg);
  char path[160];
  snprintf(path, sizeof path, "%s/%s.html", dir, name);
  cr_assert_eq(rs_report_write(db, name, path, &e), TR_OK, "%s", e.msg);
  rs_store_close(db);
  return hps_slurp(path, NULL);
}

Test(rs_report, lr_study_shows_optimum_stability_edge_and_basin_from_the_data, .init = setup, .fini = teardown) {
  char *h = report_of("lr_grid");
  cr_assert(strstr(h, "<h2 id=\"lr-study\">9. Learning-rate study</h2>"));
  char *sec = slice(h, "lr-study", "</html>");
  cr_assert_eq(hps_count(sec, "<svg role=\"img\""), 1);
  /* The loss is lowest at 1e-2 (its neighbour 3e-2 had seed 3 diverge, seed 2 fail). */
  cr_assert(strstr(sec, "The best learning rate is 1e-2 (95% CI "), "%s", sec);
  cr_assert(strstr(sec, "inside the grid, next to a learning rate that diverged."));
  cr_assert(strstr(sec, "Runs diverged from lr 3e-2; the largest lr where none diverged is 1e-2."));
  cr_assert(strstr(sec, "Within 1% of the best value (1.459): lr "));
  free(sec), free(h);
}

Test(rs_report, lr_study_has_a_block_per_value_of_the_other_parameters, .init = setup, .fini = teardown) {
  char *h = report_of("lr_wd");
  char *sec = slice(h, "lr-study", "</html>");
  cr_assert(strstr(sec, "<h3 id=\"lr-study-1\">9.1 weight_decay=0</h3>"), "%s", sec);
  cr_assert(strstr(sec, "<h3 id=\"lr-study-2\">9.2 weight_decay=0.1</h3>"));
  cr_assert_eq(hps_count(sec, "<svg role=\"img\""), 2);
  /* acc rises with lr and only two lrs ran: the larger, at the grid's edge, with no fit. */
  cr_assert_eq(hps_count(sec, "The best learning rate is 1e-2 (the best of only 2 learning rates, no fit), "
                              "at the largest lr of the grid: the optimum may be higher, widen the grid up."), 2);
  cr_assert_eq(hps_count(sec, "No run diverged, up to lr 1e-2."), 2);
  free(sec), free(h);
}

Test(rs_report, no_lr_study_when_the_lr_does_not_vary, .init = setup, .fini = teardown) {
  fixture_sql("UPDATE trials SET params='{\"optimizer.lr\":0.01,\"train.seed\":' || seed || '}' WHERE sweep_id=1");
  char *h = report_of("lr_grid");
  cr_assert_null(strstr(h, "lr-study"));
  cr_assert_null(strstr(h, "Learning-rate study"));
  free(h);
}

Test(rs_report, lr_study_where_every_run_diverged_gives_the_reason_and_no_figure, .init = setup, .fini = teardown) {
  fixture_sql("UPDATE trials SET status='diverged' WHERE sweep_id=1");
  char *h = report_of("lr_grid");
  char *sec = slice(h, "lr-study", "</html>");
  cr_assert_eq(hps_count(sec, "<svg"), 0, "%s", sec);
  cr_assert(strstr(sec, "<p>Every run diverged (12 runs over 4 learning rates).</p>"), "%s", sec);
  cr_assert(strstr(sec, "<p>Every learning rate from 1e-3 up had a diverged run.</p>"));
  free(sec), free(h);
}

/* ---- batch-size study (fixture "bs": S = 100 + 3200 / B at lr* = 2e-3 sqrt(B / 8)) ---- */

/* The batch-size section of sweep "bs" built with metric.target `target` (NULL: none). */
static char *bs_section(const char *target, const char *sql) {
  cr_assert_eq(rs_fixture_add_bs(dbpath, target), 0);
  if (sql) fixture_sql(sql);
  char *h = report_of("bs");
  char *sec = slice(h, "bs-study", "</html>");
  free(h);
  return sec;
}

Test(rs_report, bs_study_shows_best_lrs_exponent_steps_to_target_and_the_fit, .init = setup, .fini = teardown) {
  cr_assert_eq(rs_fixture_add_bs(dbpath, "1.5"), 0);
  char *h = report_of("bs");
  cr_assert(strstr(h, "<h2 id=\"lr-study\">9. Learning-rate study</h2>"));
  cr_assert(strstr(h, "<h3 id=\"lr-study-3\">9.3 batch_size=128</h3>"));
  cr_assert(strstr(h, "<h2 id=\"bs-study\">10. Batch-size study</h2>"));
  char *sec = slice(h, "bs-study", "</html>");
  cr_assert(strstr(sec, "The best learning rate grows as B^0.50 (95% CI 0.50 to 0.50) over 3 batch sizes, "
                        "consistent with the square-root rule (0.5)."), "%s", sec);
  /* Per batch size: best grid lr, fitted lr*, runs reaching 1.5, steps, examples, tokens (x 64), B_simple. */
  static const char *const rows[3] = {
      "<tr><td class=\"num\">8</td><td class=\"num\">0.002</td><td class=\"num\">0.002</td><td class=\"num\">2 of 2"
      "</td><td class=\"num\">501.1</td><td class=\"num\">4.01k</td><td class=\"num\">257k</td><td class=\"num\">40",
      "<tr><td class=\"num\">32</td><td class=\"num\">0.004</td><td class=\"num\">0.004</td><td class=\"num\">2 of 2"
      "</td><td class=\"num\">200.4</td><td class=\"num\">6.41k</td><td class=\"num\">410k</td><td class=\"num\">40",
      "<tr><td class=\"num\">128</td><td class=\"num\">0.008</td><td class=\"num\">0.008</td><td class=\"num\">2 of 2"
      "</td><td class=\"num\">125.3</td><td class=\"num\">16.0k</td><td class=\"num\">1.03M</td><td class=\"num\">40"};
  for (int i = 0; i < 3; i++) cr_assert(strstr(sec, rows[i]), "row %d missing in:\n%s", i, sec);
  cr_assert(strstr(sec, "B_crit ~ 32 (S_min 100 steps, E_min 3,210 examples) to reach 1.5; the measured noise "
                        "scale B_simple ~ 40, a ratio of 0.8."), "%s", sec);
  cr_assert_eq(hps_count(sec, "<svg role=\"img\""), 1);
  cr_assert(strstr(sec, "Steps to reach val_loss 1.5 against the batch size (log-log)"));
  free(sec), free(h);
}

Test(rs_report, bs_study_without_a_target_uses_the_best_value_every_run_reached, .init = setup, .fini = teardown) {
  char *sec = bs_section(NULL, NULL);
  cr_assert(strstr(sec, "(the best value every run reached)"), "%s", sec);
  cr_assert_eq(hps_count(sec, "<svg role=\"img\""), 1);
  free(sec);
}

Test(rs_report, bs_study_no_run_reaching_the_target_gives_the_reason_and_no_figure, .init = setup, .fini = teardown) {
  char *sec = bs_section("0.5", NULL);
  cr_assert(strstr(sec, "<p>None of the 3 batch sizes reached the target 0.5 on every run.</p>"), "%s", sec);
  cr_assert_eq(hps_count(sec, "<svg"), 0);
  free(sec);
}

Test(rs_report, bs_study_with_one_batch_size_left_gives_the_reason_and_no_figure, .init = setup, .fini = teardown) {
  char *sec = bs_section("1.5", "UPDATE trials SET status='failed', best_metric=NULL WHERE sweep_id=40 AND "
                                "params NOT LIKE '%\"train.batch_size\":32,%'");
  cr_assert(strstr(sec, "<p>Fewer than two batch sizes have a best learning rate, so there is no trend to fit.</p>"),
            "%s", sec);
  cr_assert(strstr(sec, "<p>Only one batch size (32) was run, so there is no critical batch size to fit.</p>"));
  cr_assert_eq(hps_count(sec, "<svg"), 0);
  free(sec);
}

Test(rs_report, bs_study_where_every_lr_diverged_gives_the_reasons_and_no_figure, .init = setup, .fini = teardown) {
  char *sec = bs_section("1.5", "UPDATE trials SET status='diverged' WHERE sweep_id=40");
  cr_assert_eq(hps_count(sec, "Every run diverged (10 runs over 5 learning rates)."), 3, "%s", sec);
  cr_assert(strstr(sec, "<p>No run to study.</p>"));
  cr_assert_eq(hps_count(sec, "<svg"), 0);
  free(sec);
}

Test(rs_report, no_bs_study_when_the_batch_size_does_not_vary, .init = setup, .fini = teardown) {
  char *h = report_of("lr_grid");
  cr_assert_null(strstr(h, "bs-study"));
  cr_assert_null(strstr(h, "Batch-size study"));
  free(h);
}

/* A PBT sweep (run through the CLI on a tiny model): the lineage with one arrow per copy, the
** best member's ancestry in red, and a schedule row per member ending with its stored values. */
Test(rs_report, pbt_sweep_draws_the_lineage_and_each_members_schedule, .init = setup, .fini = teardown,
     .timeout = 300) {
  hps_put(dir, "pbt.yaml", HPS_PBT_TINY_SPEC("  db: p.db\n"));
  char out[8192];
  cr_assert_eq(hps_run(dir, "run pbt.yaml -j 2 --quiet", out, sizeof out), 0, "%s", out);
  cr_assert_eq(hps_run(dir, "report pbt --db p.db -o p.html", out, sizeof out), 0, "%s", out);
  char path[160];
  snprintf(path, sizeof path, "%s/p.html", dir);
  char *h = hps_slurp(path, NULL);
  cr_assert(strstr(h, "id=\"pbt\"") && strstr(h, "id=\"pbt-lineage\"") && strstr(h, "id=\"pbt-schedules\""));
  snprintf(path, sizeof path, "%s/p.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  long long copies = hps_q_int(db, "SELECT count(*) FROM events WHERE kind = 'exploit'");
  cr_assert_gt(copies, 0);
  cr_assert_eq(hps_count(h, "marker-end=\"url(#pbt-arrow)\""), copies, "one arrow per copy");
  cr_assert_geq(hps_count(h, "stroke=\"#c00\" stroke-width=\"3\""), 1, "the best member's ancestry");
  const char *tbody = strstr(strstr(h, "id=\"pbt-schedules\""), "<tbody>");
  cr_assert_eq(hps_count(tbody, "<tr><td>#"), 6, "a schedule row per member");
  /* Each member's last range trains with its stored params (escaped as the report writes them). */
  sqlite3_stmt *s;
  cr_assert_eq(sqlite3_prepare_v2(db, "SELECT id, params FROM trials", -1, &s, NULL), SQLITE_OK);
  while (sqlite3_step(s) == SQLITE_ROW) {
    char want[1024], *o = want;
    for (const char *p = (const char *)sqlite3_column_text(s, 1); *p && o < want + sizeof want - 8; p++)
      o += *p == '"' ? sprintf(o, "&quot;") : sprintf(o, "%c", *p);
    char row[64];
    snprintf(row, sizeof row, "<tr><td>#%lld</td>", (long long)sqlite3_column_int64(s, 0));
    const char *r = strstr(tbody, row), *end = r ? strstr(r, "</tr>") : NULL;
    cr_assert(r && end);
    const char *last = NULL;
    for (const char *q = r; (q = strstr(q, "<code>")) && q < end; q++) last = q;
    cr_assert(last && strncmp(last + 6, want, strlen(want)) == 0, "member %lld ends with %s", (long long)
              sqlite3_column_int64(s, 0), want);
  }
  sqlite3_finalize(s);
  sqlite3_close(db);
  free(h);
}
