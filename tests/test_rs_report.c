/* rs_report: one self-contained HTML file with every section and every trial. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rs_fixture.h"
#include "rs_report.h"

static char dir[64], dbpath[128];

static void setup(void) {
  strcpy(dir, "/tmp/hps_rsr_XXXXXX");
  cr_assert(mkdtemp(dir));
  snprintf(dbpath, sizeof dbpath, "%s/s.db", dir);
  cr_assert_eq(rs_fixture_make(dbpath), 0);
}

static void teardown(void) {
  char cmd[160];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static char *slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s missing", path);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *s = malloc((size_t)n + 1);
  cr_assert_eq(fread(s, 1, (size_t)n, f), (size_t)n);
  s[n] = '\0';
  fclose(f);
  return s;
}

static int count(const char *s, const char *needle) {
  int n = 0;
  for (const char *p = s; (p = strstr(p, needle)); p += strlen(needle)) n++;
  return n;
}

Test(rs_report, has_every_section_every_trial_and_no_network, .init = setup, .fini = teardown) {
  RsDb *db;
  TrErr e = {0};
  cr_assert_eq(rs_db_open(&db, dbpath, &e), TR_OK);
  char path[160];
  snprintf(path, sizeof path, "%s/r.html", dir);
  cr_assert_eq(rs_report_write(db, "lr_grid", path, &e), TR_OK, "%s", e.msg);
  rs_db_close(db);
  char *h = slurp(path);
  static const char *const ids[] = {"id=\"setup\"", "id=\"leaderboard\"", "id=\"importance\"",
                                    "id=\"compare-optimizer-lr\"", "id=\"curves\"", "id=\"schedules\"",
                                    "id=\"cost\"", "id=\"failures\""};
  for (int i = 0; i < 8; i++) cr_assert(strstr(h, ids[i]), "missing %s", ids[i]);
  for (int id = 1; id <= 12; id++) {
    char cell[64];
    snprintf(cell, sizeof cell, "<td class=\"num\">%d</td>", id);
    cr_assert(strstr(h, cell), "trial %d missing from the leaderboard", id);
  }
  cr_assert(strstr(h, "optimizer.lr: [1e-3, 3e-3, 1e-2, 3e-2]")); /* the spec text */
  cr_assert(strstr(h, "bad value, &quot;nan&quot;")); /* the failure's reason, escaped */
  cr_assert(strstr(h, "loss 812.5 &gt; 10 x best"));
  cr_assert(strstr(h, "Welch"));
  /* Figures: param, val_loss curves, train_loss curves, lr schedules, wall, FLOPs. */
  cr_assert_eq(count(h, "<svg role=\"img\""), 6);
  cr_assert_eq(count(h, "<figcaption>"), 6);
  cr_assert_eq(count(h, "<?xml"), 0);
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
  const char *bin = getenv("HPS_BIN");
  cr_assert(bin);
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "cd '%s' && '%s' report lr_wd --db s.db -o out.html >/dev/null", dir, bin);
  cr_assert_eq(system(cmd), 0);
  char path[160];
  snprintf(path, sizeof path, "%s/out.html", dir);
  char *h = slurp(path);
  cr_assert(strstr(h, "still in progress"));
  cr_assert(strstr(h, "id=\"compare-optimizer-weight-decay\""));
  cr_assert(strstr(h, "No trial failed or diverged."));
  free(h);
}
