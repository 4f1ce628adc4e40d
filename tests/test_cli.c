/* The hpsweep CLI as a user meets it: help, versions, exit codes, train --json,
** one-line errors, and docs/config.md staying true to the config keys. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hps_test.h"
#include "sw_space.h"
#include "tr_bench.h"
#include "tr_config.h"

/* Run a shell command line; capture stdout (and stderr into *err if given). */
static int sh(const char *cmd, char *out, size_t n, char *err, size_t en) {
  char full[4096], ef[64] = "/tmp/hps_cli_err_XXXXXX";
  int fd = mkstemp(ef);
  cr_assert(fd >= 0);
  close(fd);
  snprintf(full, sizeof full, "%s 2>%s", cmd, ef);
  FILE *p = popen(full, "r");
  cr_assert_not_null(p);
  size_t got = fread(out, 1, n - 1, p);
  out[got] = 0;
  int st = pclose(p);
  if (err) {
    FILE *f = fopen(ef, "r");
    size_t g = fread(err, 1, en - 1, f);
    err[g] = 0;
    fclose(f);
  }
  unlink(ef);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static const char *bin(void) {
  const char *b = getenv("HPS_BIN");
  cr_assert_not_null(b, "HPS_BIN is not set (run through meson test)");
  return b;
}

static char out[1 << 16], err[1 << 14];

Test(cli, version_and_help) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s --version", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, NULL, 0), 0);
  cr_assert(strncmp(out, "hpsweep ", 8) == 0, "%s", out);
  snprintf(cmd, sizeof cmd, "%s --help", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, NULL, 0), 0);
  cr_assert(strstr(out, "train"), "%s", out);
  snprintf(cmd, sizeof cmd, "%s help train", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, NULL, 0), 0);
  cr_assert(strstr(out, "usage: hpsweep train"), "%s", out);
}

Test(cli, every_command_has_help) {
  const char *cmds[] = {"train", "schedule", "bench", "check", "run", "status", "ls", "top", "compare",
                        "show", "export", "plot", "report", "sample"};
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s --help", bin());
  sh(cmd, out, sizeof out, NULL, 0);
  char listing[sizeof out];
  memcpy(listing, out, sizeof out);
  for (size_t i = 0; i < sizeof cmds / sizeof *cmds; i++) {
    char needle[32];
    snprintf(needle, sizeof needle, "\n  %-10s ", cmds[i]);
    if (!strstr(listing, needle)) continue; /* not built into this binary */
    snprintf(cmd, sizeof cmd, "%s %s --help", bin(), cmds[i]);
    cr_assert_eq(sh(cmd, out, sizeof out, NULL, 0), 0, "%s --help failed", cmds[i]);
    cr_assert(strstr(out, "usage: hpsweep"), "%s --help: %s", cmds[i], out);
  }
}

Test(cli, unknown_command_exits_2) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s trian", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_assert(strstr(err, "'trian' is not a command"), "%s", err);
}

Test(cli, train_json_prints_one_object_with_the_summary_keys) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "%s train --json --set model.n_layer=1 --set model.d_model=16 --set model.context_length=16 "
           "--set train.batch_size=4 --set train.max_steps=10 --set train.eval_interval=5 "
           "--set data.synthetic_bytes=20000 --set train.threads=1",
           bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  const char *keys[] = {"status", "best_val_loss", "final_val_loss", "final_train_loss",
                        "steps", "tokens", "wall_seconds", "tokens_per_second"};
  cr_assert_eq(out[0], '{', "%s", out);
  cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "more than one line on stdout: %s", out);
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    char k[40];
    snprintf(k, sizeof k, "\"%s\": ", keys[i]);
    cr_assert(strstr(out, k), "missing %s in %s", keys[i], out);
  }
  cr_assert(strstr(err, "step"), "no log on stderr: %s", err);
}

Test(cli, train_bad_input_is_one_line_and_exit_2) {
  char cmd[1024], cfg[] = "/tmp/hps_cli_cfg_XXXXXX";
  int fd = mkstemp(cfg);
  dprintf(fd, "optimizer:\n  lrr: 0.1\n");
  close(fd);
  snprintf(cmd, sizeof cmd, "%s train %s", bin(), cfg);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_assert(strstr(err, ":2:3: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)"), "%s", err);
  cr_assert_eq(strchr(err, '\n'), err + strlen(err) - 1, "not one line: %s", err);
  unlink(cfg);
  snprintf(cmd, sizeof cmd, "%s train --set optimizer.lr=-1", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_assert(strstr(err, "optimizer.lr"), "%s", err);
  snprintf(cmd, sizeof cmd, "%s train --frobnicate", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_assert(strstr(err, "unknown option '--frobnicate'"), "%s", err);
  snprintf(cmd, sizeof cmd, "%s train --set data.path=/nonexistent/x.txt --set train.max_steps=1", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_assert(strstr(err, "/nonexistent/x.txt"), "%s", err);
}

Test(cli, train_states_its_memory_and_refuses_a_model_that_cannot_fit) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "%s train --json --set model.n_layer=1 --set model.d_model=16 --set model.context_length=16 "
           "--set train.batch_size=4 --set train.max_steps=2 --set data.synthetic_bytes=20000 --set train.threads=1",
           bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  const char *k = strstr(out, "\"memory_estimate_bytes\": ");
  cr_assert(k && strtoull(k + 25, NULL, 10) > 16u << 20, "%s", out);
  cr_assert(strstr(err, "memory: needs ") && strstr(err, " available ("), "no memory line: %s", err);
  /* d_model 2048 x 8 layers in 2 GiB: refused at once with the figures, exit 2 */
  snprintf(cmd, sizeof cmd,
           "HPSWEEP_MEMORY_AVAILABLE=2G %s train --set model.d_model=2048 --set model.n_layer=8 "
           "--set model.n_head=8 --set train.max_steps=2",
           bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2, "%s", err);
  cr_assert(strstr(err, "hpsweep train: model needs 7.4 GiB (params 1.5, gradients 1.5, optimizer 3.0, "
                        "activations 1.4, data 0.0, fixed 0.0), 2.0 GiB available (HPSWEEP_MEMORY_AVAILABLE)\n"),
            "%s", err);
}

Test(cli, check_on_a_bayes_spec_prints_the_space_and_first_proposals) {
  char cmd[1024], spec[] = "/tmp/hps_cli_spec_XXXXXX", first[sizeof out], want[128];
  int fd = mkstemp(spec);
  dprintf(fd, "method: bayes\nmetric: {name: val_loss}\nrun_cap: 12\nhpsweep: {seed: 3}\nparameters:\n"
              "  optimizer.lr: {distribution: log_uniform_values, min: 1.0e-4, max: 1.0e-2}\n"
              "  optimizer.weight_decay: {values: [0.0, 0.01, 0.1]}\n  train.max_steps: {value: 50}\n");
  close(fd);
  /* The memory available is fixed: the two outputs compared below must not differ by the machine's load. */
  snprintf(cmd, sizeof cmd, "HPSWEEP_MEMORY_AVAILABLE=100G %s check %s", bin(), spec);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(out, "method:      bayes (sampler gp, seed 3)\n"), "%s", out);
  cr_expect(strstr(out, "space:       2 dimensions in [0, 1]"), "%s", out); /* the constant is not modelled */
  cr_expect(strstr(out, "u = (ln x - ln 0.0001) / (ln 0.01 - ln 0.0001)\n"), "%s", out);
  cr_expect(strstr(out, "u = (i + 1) / 3 for value i; back: i = ceil(3 u) - 1\n"), "%s", out);
  snprintf(want, sizeof want, "     0  seed %016llx  {\"optimizer.lr\": ", (unsigned long long)sw_space_seed(3, 0));
  cr_expect(strstr(out, want), "%s not in %s", want, out);
  snprintf(want, sizeof want, "     2  seed %016llx  (from the model)\n", (unsigned long long)sw_space_seed(3, 2));
  cr_expect(strstr(out, want), "%s not in %s", want, out);
  snprintf(first, sizeof first, "%s", out);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_expect_str_eq(out, first); /* the same proposals every time */
  unlink(spec);
}

Test(cli, check_shows_the_largest_trial_memory_times_workers_and_refuses_what_cannot_fit) {
  char cmd[1024], spec[] = "/tmp/hps_cli_spec_XXXXXX";
  int fd = mkstemp(spec);
  dprintf(fd, "name: m\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"
              "parameters:\n  model.d_model: {values: [16, 2048]}\n"
              "hpsweep:\n  workers: 3\n  base:\n    model: {n_layer: 8, n_head: 2, context_length: 16}\n");
  close(fd);
  snprintf(cmd, sizeof cmd, "HPSWEEP_MEMORY_AVAILABLE=100G %s check %s", bin(), spec);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(out, "memory:      largest trial 1: 6.4 GiB (params 1.5, gradients 1.5, optimizer 3.0, "), "%s", out);
  cr_assert(strstr(out, "3 workers x largest = 19.1 GiB; 100 GiB available (HPSWEEP_MEMORY_AVAILABLE)"), "%s", out);
  snprintf(cmd, sizeof cmd, "HPSWEEP_MEMORY_AVAILABLE=10G %s check %s", bin(), spec);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(err, "3 workers of the largest trial need 19.1 GiB, 10.0 GiB available"), "%s", err);
  snprintf(cmd, sizeof cmd, "HPSWEEP_MEMORY_AVAILABLE=2G %s check %s", bin(), spec);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2, "%s", out);
  cr_assert(strstr(err, "hpsweep check: trial 1: model needs 6.4 GiB"), "%s", err);
  cr_assert(strstr(err, "2.0 GiB available (HPSWEEP_MEMORY_AVAILABLE)\n"), "%s", err);
  unlink(spec);
}

Test(cli, docs_config_documents_every_config_key) {
  char path[1024];
  snprintf(path, sizeof path, "%s/docs/config.md", HPS_SOURCE_ROOT);
  FILE *f = fopen(path, "r");
  cr_assert_not_null(f, "no docs/config.md");
  static char doc[1 << 20];
  size_t n = fread(doc, 1, sizeof doc - 1, f);
  doc[n] = 0;
  fclose(f);
  size_t nk;
  const TrKey *k = tr_config_keys(&nk);
  for (size_t i = 0; i < nk; i++) {
    char needle[80];
    snprintf(needle, sizeof needle, "| `%s` | `%s` |", k[i].name, k[i].def);
    cr_assert(strstr(doc, needle), "docs/config.md lacks %s (default %s)", k[i].name, k[i].def);
  }
}

Test(cli, set_messages_cut_long_values_and_say_underflow) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "V=$(head -c 100000 /dev/zero | tr '\\0' 9); %s train --set optimizer.lr=${V}x", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect_lt(strlen(err), 400, "the error echoes the whole value (%zu bytes)", strlen(err));
  cr_expect(strstr(err, "999... (100001 bytes)"), "%s", err);
  cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "not one line: %s", err);
  snprintf(cmd, sizeof cmd, "%s train --set optimizer.lr=1e-320", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect(strstr(err, "1e-320 is too small for a float (underflows to 0)"), "%s", err);
}

/* ---- a sweep name means one experiment (run refuses a changed spec; --replace starts afresh) ---- */

/* spec.yaml in dir: a 2-trial grid over optimizer.lr unless changed by the arguments. */
static void put_sweep(const char *dir, const char *method, const char *metric, const char *goal, const char *lrs,
                      int n_layer) {
  char text[2048];
  snprintf(text, sizeof text,
           "name: lr_grid\nmethod: %s\nrun_cap: 2\nmetric: {name: %s, goal: %s}\n"
           "parameters:\n  optimizer.lr: {values: [%s]}\nhpsweep:\n  seed: 1\n  base:\n"
           "    model: {n_layer: %d, n_head: 1, d_model: 8, context_length: 8}\n"
           "    train: {batch_size: 2, max_steps: 2, eval_interval: 2, eval_batches: 1}\n"
           "    data: {synthetic_bytes: 20000}\n",
           method, metric, goal, lrs, n_layer);
  hps_put(dir, "spec.yaml", text);
}

static long long q_db(const char *dir, const char *sql) {
  char path[PATH_MAX];
  snprintf(path, sizeof path, "%s/runs.db", dir);
  sqlite3 *db;
  cr_assert_eq(sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
  long long v = hps_q_int(db, sql);
  sqlite3_close(db);
  return v;
}

Test(cli, run_refuses_a_changed_spec_under_the_same_name_and_says_what_differs) {
  char dir[64], o[8192];
  hps_tmp_make(dir, sizeof dir, "hps_cli_same_");
  put_sweep(dir, "grid", "val_loss", "minimize", "0.001, 0.003", 1);
  cr_assert_eq(hps_run(dir, "run spec.yaml -q --db runs.db", o, sizeof o), 0, "%s", o);
  struct {
    const char *method, *metric, *goal, *lrs;
    int n_layer;
    const char *what;
  } cases[] = {
      {"grid", "train_loss", "minimize", "0.001, 0.003", 1,
       "was made with metric val_loss (minimize); this spec says train_loss (minimize)"},
      {"grid", "val_loss", "maximize", "0.001, 0.003", 1,
       "was made with metric val_loss (minimize); this spec says val_loss (maximize)"},
      {"random", "val_loss", "minimize", "0.001, 0.003", 1, "was made with method grid; this spec says random"},
      {"grid", "val_loss", "minimize", "0.001, 0.004", 1,
       "was made with trial 1 {\"optimizer.lr\": 0.003}; this spec makes it {\"optimizer.lr\": 0.004}"},
      {"grid", "val_loss", "minimize", "0.001", 1, "has 2 trials; this spec expands to 1"},
      {"grid", "val_loss", "minimize", "0.001, 0.003", 2,
       "was made with model.n_layer 1 (trial 0); this spec says 2"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    put_sweep(dir, cases[i].method, cases[i].metric, cases[i].goal, cases[i].lrs, cases[i].n_layer);
    cr_expect_eq(hps_run(dir, "run spec.yaml -q --db runs.db", o, sizeof o), 2, "case %zu: %s", i, o);
    char want[512];
    snprintf(want, sizeof want, "hpsweep run: sweep 'lr_grid' in runs.db %s: use a new name (name: in the spec) "
             "or --replace to delete the old sweep's results\n", cases[i].what);
    cr_expect_str_eq(o, want, "case %zu", i);
  }
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM trials"), 2, "nothing was added");
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM trials WHERE status = 'completed'"), 2);
  put_sweep(dir, "grid", "val_loss", "minimize", "0.001, 0.003", 1); /* the same spec again: a resume */
  cr_expect_eq(hps_run(dir, "run spec.yaml -q --db runs.db", o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, "2 completed (0 run here"), "%s", o);
  hps_tmp_remove(dir);
}

Test(cli, run_replace_deletes_the_old_sweep_and_starts_afresh) {
  char dir[64], o[8192], path[PATH_MAX];
  hps_tmp_make(dir, sizeof dir, "hps_cli_replace_");
  put_sweep(dir, "grid", "val_loss", "minimize", "0.001, 0.003", 1);
  cr_assert_eq(hps_run(dir, "run spec.yaml -q --db runs.db", o, sizeof o), 0, "%s", o);
  long long old_metrics = q_db(dir, "SELECT count(*) FROM metrics");
  cr_assert_gt(old_metrics, 0);
  snprintf(path, sizeof path, "%s/runs.db.runs/lr_grid", dir);
  hps_put(path, "stale.bin", "old checkpoint"); /* the run directory is emptied */
  put_sweep(dir, "grid", "train_loss", "minimize", "0.001, 0.003", 1);
  cr_assert_eq(hps_run(dir, "run spec.yaml --db runs.db --replace", o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, "--replace: deleted sweep 'lr_grid' (2 trials)"), "%s", o);
  cr_expect(strstr(o, "2 completed (2 run here"), "trials ran again: %s", o);
  snprintf(path, sizeof path, "%s/runs.db.runs/lr_grid/stale.bin", dir);
  cr_expect_neq(access(path, F_OK), 0, "the old run directory's files are gone");
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM sweeps"), 1);
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM sweeps WHERE metric = 'train_loss'"), 1);
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM trials"), 2);
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM trials t JOIN sweeps s ON s.id = t.sweep_id"), 2);
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM metrics WHERE trial_id NOT IN (SELECT id FROM trials)"), 0);
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM events WHERE sweep_id NOT IN (SELECT id FROM sweeps) "
                         "OR trial_id NOT IN (SELECT id FROM trials)"), 0, "no event of the old sweep is left");
  cr_expect_eq(q_db(dir, "SELECT count(*) FROM trials WHERE status = 'completed' AND best_metric IS NOT NULL"), 2,
               "ranked by the new metric");
  hps_tmp_remove(dir);
}

Test(cli, hpsweep_db_names_the_database_of_every_command_without_db_and_db_wins) {
  char dir[64], cmd[1024], o[8192], path[PATH_MAX];
  hps_tmp_make(dir, sizeof dir, "hps_cli_envdb_");
  put_sweep(dir, "grid", "val_loss", "minimize", "0.001, 0.003", 1);
  snprintf(cmd, sizeof cmd, "cd '%s' && HPSWEEP_DB=env.db '%s' run spec.yaml -q 2>&1", dir, bin());
  cr_assert_eq(hps_shell(cmd, o, sizeof o), 0, "%s", o);
  snprintf(path, sizeof path, "%s/env.db", dir);
  cr_expect_eq(access(path, F_OK), 0, "run wrote $HPSWEEP_DB");
  snprintf(path, sizeof path, "%s/hpsweep.db", dir);
  cr_expect_neq(access(path, F_OK), 0, "not the spec's default");
  snprintf(cmd, sizeof cmd, "cd '%s' && HPSWEEP_DB=env.db '%s' status lr_grid 2>&1", dir, bin());
  cr_expect_eq(hps_shell(cmd, o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, "2/2 done"), "%s", o);
  snprintf(cmd, sizeof cmd, "cd '%s' && HPSWEEP_DB=env.db '%s' ls 2>&1", dir, bin());
  cr_expect_eq(hps_shell(cmd, o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, "lr_grid"), "%s", o);
  snprintf(cmd, sizeof cmd, "cd '%s' && HPSWEEP_DB=nosuch.db '%s' top lr_grid --db env.db 2>&1", dir, bin());
  cr_expect_eq(hps_shell(cmd, o, sizeof o), 0, "--db wins over HPSWEEP_DB: %s", o);
  hps_tmp_remove(dir);
}

/* ---- the shared option parser (cli/cli.c): one behaviour for every command ---- */

static const char *const all_cmds[] = {"train", "schedule", "bench", "check", "run", "status", "ls", "top",
                                       "compare", "show", "export", "plot", "report", "sample", "lr-find"};
#define N_ALL_CMDS (sizeof all_cmds / sizeof all_cmds[0])

/* Run `hpsweep ARGS`: expect exit 2 and exactly the line want on stderr, nothing on stdout. */
static void expect_usage_error(const char *args, const char *want) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s %s", bin(), args);
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2, "%s: %s", args, err);
  cr_expect_str_eq(err, want, "%s", args);
  cr_expect_str_eq(out, "", "%s", args);
}

Test(cli, the_help_listing_names_every_command_and_both_help_spellings_agree) {
  char cmd[1024], listing[sizeof out], help[sizeof out];
  snprintf(cmd, sizeof cmd, "%s --help", bin());
  cr_assert_eq(sh(cmd, listing, sizeof listing, NULL, 0), 0);
  for (size_t i = 0; i < N_ALL_CMDS; i++) {
    char needle[32];
    snprintf(needle, sizeof needle, "\n  %-10s ", all_cmds[i]);
    cr_expect(strstr(listing, needle), "'%s' is not in the listing:\n%s", all_cmds[i], listing);
    snprintf(cmd, sizeof cmd, "%s help %s", bin(), all_cmds[i]);
    cr_assert_eq(sh(cmd, help, sizeof help, NULL, 0), 0, "help %s", all_cmds[i]);
    snprintf(cmd, sizeof cmd, "%s %s -h", bin(), all_cmds[i]);
    cr_assert_eq(sh(cmd, out, sizeof out, NULL, 0), 0, "%s -h", all_cmds[i]);
    cr_expect_str_eq(out, help, "%s -h differs from help %s", all_cmds[i], all_cmds[i]);
  }
}

Test(cli, every_command_refuses_an_unknown_option_in_one_line) {
  for (size_t i = 0; i < N_ALL_CMDS; i++) {
    char args[128], want[256];
    snprintf(args, sizeof args, "%s --no-such-option=1", all_cmds[i]);
    snprintf(want, sizeof want, "hpsweep %s: unknown option '--no-such-option' (see 'hpsweep %s --help')\n",
             all_cmds[i], all_cmds[i]);
    expect_usage_error(args, want);
  }
  expect_usage_error("run -x", "hpsweep run: unknown option '-x' (see 'hpsweep run --help')\n");
}

Test(cli, an_option_without_its_value_is_one_line) {
  static const char *const cases[][2] = {
      {"train", "--set"},   {"train", "--resume"}, {"schedule", "--rows"}, {"bench", "--steps"},
      {"run", "--db"},      {"run", "-j"},         {"status", "--db"},     {"ls", "--format"},
      {"top", "-n"},        {"compare", "--by"},   {"show", "--db"},       {"export", "--what"},
      {"plot", "--kind"},   {"report", "-o"},      {"sample", "--prompt"}, {"sample", "-n"},
      {"lr-find", "--start"}, {"lr-find", "--plot"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char args[128], want[256];
    snprintf(args, sizeof args, "%s %s", cases[i][0], cases[i][1]);
    snprintf(want, sizeof want, "hpsweep %s: %s needs a value (see 'hpsweep %s --help')\n", cases[i][0],
             cases[i][1], cases[i][0]);
    expect_usage_error(args, want);
  }
}

Test(cli, a_bad_whole_number_names_the_option_its_range_and_the_value) {
  static const char *const cases[][2] = {
      {"schedule --rows 1", "hpsweep schedule: --rows: expected an integer from 2 to 1000, got '1'\n"},
      {"schedule --width=wide", "hpsweep schedule: --width: expected an integer from 40 to 400, got 'wide'\n"},
      {"bench --steps 0", "hpsweep bench: --steps: expected an integer from 1 to 1000000, got '0'\n"},
      {"bench --threads 2x", "hpsweep bench: --threads: expected an integer from 1 to 1000000, got '2x'\n"},
      {"run s.yaml -j 2000", "hpsweep run: -j: expected an integer from 1 to 1024, got '2000'\n"},
      {"run s.yaml -j0", "hpsweep run: -j: expected an integer from 1 to 1024, got '0'\n"},
      {"run s.yaml --threads=", "hpsweep run: --threads: expected an integer from 1 to 1024, got ''\n"},
      {"top s -n -1", "hpsweep top: -n: expected an integer from 0 to 1000000, got '-1'\n"},
      {"sample c.bin --threads 99999999999999999999",
       "hpsweep sample: --threads: expected an integer from 1 to 1048576, got '99999999999999999999'\n"}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) expect_usage_error(cases[i][0], cases[i][1]);
}

Test(cli, positional_arguments_flags_and_the_double_dash) {
  expect_usage_error("check a.yaml b.yaml",
                     "hpsweep check: unexpected argument 'b.yaml' (see 'hpsweep check --help')\n");
  expect_usage_error("train a.yaml b.yaml",
                     "hpsweep train: unexpected argument 'b.yaml' (see 'hpsweep train --help')\n");
  expect_usage_error("bench T", "hpsweep bench: unexpected argument 'T' (see 'hpsweep bench --help')\n");
  expect_usage_error("run --quiet=yes s.yaml", "hpsweep run: --quiet takes no value (see 'hpsweep run --help')\n");
  expect_usage_error("run -q", "hpsweep run: missing SPEC.yaml (see 'hpsweep run --help')\n");
  expect_usage_error("show '' --db x.db", "hpsweep show: a trial id is a number, got '' (see 'hpsweep show --help')\n");
  /* after "--" an argument that looks like an option is a file name */
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s check -- --not-an-option.yaml", bin());
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect(strstr(err, "hpsweep check: ") && strstr(err, "--not-an-option.yaml") && !strstr(err, "unknown option"),
            "%s", err);
  /* --db FILE and --db=FILE are the same option */
  snprintf(cmd, sizeof cmd, "%s status --db=/nonexistent/x.db", bin());
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect_str_eq(err, "hpsweep status: /nonexistent/x.db: no such database (give --db FILE)\n");
  snprintf(cmd, sizeof cmd, "%s status --db /nonexistent/x.db", bin());
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect_str_eq(err, "hpsweep status: /nonexistent/x.db: no such database (give --db FILE)\n");
}

/* ---- hpsweep lr-find (trainer/tr_lrfind.h) ---- */

#define LRFIND_TINY                                                                                     \
  "lr-find --set model.n_layer=1 --set model.d_model=16 --set model.n_head=2 --set model.context_length=16 " \
  "--set train.batch_size=4 --set data.synthetic_bytes=20000 --set train.threads=1"

Test(cli, lr_find_json_prints_one_object_with_points_suggestions_and_the_stop) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s " LRFIND_TINY " --start 1e-4 --end 1e3 --steps 70 --json", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_assert_eq(out[0], '{', "%s", out);
  cr_assert_eq(strchr(out, '\n'), out + strlen(out) - 1, "more than one line on stdout: %s", out);
  const char *keys[] = {"\"points\": [{\"step\": 1, \"lr\": 0.0001, ", "\"suggestions\": {\"steepest\": {\"lr\": ",
                        "\"min10\": {\"lr\": ", "\"valley\": {\"lr\": ", "\"stop\": \"exploded\""};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
    cr_expect(strstr(out, keys[i]), "no %s in %s", keys[i], out);
  cr_expect(strstr(err, "lr-find: step 1/70"), "no progress on stderr: %s", err);
}

Test(cli, lr_find_text_shows_the_table_the_curve_and_three_suggestions) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s " LRFIND_TINY " --start 1e-4 --end 1e3 --steps 70", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  const char *want[] = {"  step           lr         loss     smoothed\n", "smoothed loss against log10(lr)",
                        "\n  steepest   ", "\n  min/10     ", "\n  valley     ", "stopped: exploded: "};
  for (size_t i = 0; i < sizeof want / sizeof *want; i++)
    cr_expect(strstr(out, want[i]), "no '%s' in %s", want[i], out);
  cr_expect(strchr(out, 'S') && strchr(out, 'V'), "suggestions are marked on the curve");
}

Test(cli, lr_find_help_and_bad_values_are_one_line_exit_2) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd, "%s lr-find --help", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0);
  cr_expect(strstr(out, "usage: hpsweep lr-find [CONFIG.yaml]"), "%s", out);
  cr_expect(strstr(out, "--steps N"), "%s", out);
  expect_usage_error("lr-find --steps 1",
                     "hpsweep lr-find: --steps: expected an integer from 2 to 100000, got '1'\n");
  expect_usage_error("lr-find --start abc", "hpsweep lr-find: --start: expected a positive number, got 'abc' "
                                           "(see 'hpsweep lr-find --help')\n");
  expect_usage_error("lr-find --start 1 --end 0.1",
                     "hpsweep lr-find: --end (0.1) must be above --start (1) (see 'hpsweep lr-find --help')\n");
  expect_usage_error("lr-find --plot x.txt", "hpsweep lr-find: --plot: 'x.txt' must end in .svg, .png or .pdf "
                                            "(see 'hpsweep lr-find --help')\n");
  expect_usage_error("lr-find --bogus", "hpsweep lr-find: unknown option '--bogus' (see 'hpsweep lr-find --help')\n");
}

Test(cli, lr_find_db_stores_the_test_once_and_shows_the_same_result_again_without_running) {
  static char first[sizeof out];
  char dir[64], cmd[2048];
  hps_tmp_make(dir, sizeof dir, "hps_cli_lrdb_");
  snprintf(cmd, sizeof cmd, "%s " LRFIND_TINY " --start 1e-4 --end 1e3 --steps 40 --json --db %s/r.db", bin(), dir);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(err, "lr-find: stored as 'lr-find-"), "%s", err);
  snprintf(first, sizeof first, "%s", out);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(err, "holds this test already as 'lr-find-"), "%s", err);
  cr_expect_null(strstr(err, "lr-find: step 1/"), "the stored test is not run again: %s", err);
  cr_expect_str_eq(out, first, "the stored test reads back bit for bit");
  snprintf(cmd, sizeof cmd, "%s ls --db %s/r.db --format csv", bin(), dir);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(out, ",lr_find,smooth_loss,"), "ls shows its kind: %s", out);
  snprintf(cmd, sizeof cmd, "%s status --db %s/r.db", bin(), dir);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(out, "LR range test: ") && strstr(out, "suggestions: steepest "), "%s", out);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

Test(cli, lr_find_stores_in_hpsweep_db_when_no_db_is_given) {
  char dir[64], cmd[2048];
  hps_tmp_make(dir, sizeof dir, "hps_cli_lrenv_");
  snprintf(cmd, sizeof cmd, "HPSWEEP_DB=%s/env.db %s " LRFIND_TINY " --start 1e-3 --end 1e2 --steps 12 --name e1",
           dir, bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(err, "lr-find: stored as 'e1'"), "%s", err);
  snprintf(cmd, sizeof cmd, "%s ls --db %s/env.db --format csv", bin(), dir);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(out, "e1,lr_find,"), "%s", out);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

Test(cli, lr_find_db_names_and_refusals_are_one_line) {
  char dir[64], cmd[2048];
  hps_tmp_make(dir, sizeof dir, "hps_cli_lrname_");
  snprintf(cmd, sizeof cmd, "%s " LRFIND_TINY " --start 1e-3 --end 1e2 --steps 12 --db %s/r.db --name t1", bin(), dir);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(err, "stored as 't1' in "), "%s", err);
  /* Another ramp under the same name: refused, nothing run. */
  snprintf(cmd, sizeof cmd, "%s " LRFIND_TINY " --steps 12 --db %s/r.db --name t1", bin(), dir);
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect(strstr(err, "'t1' holds another LR range test (config or ramp differ: "), "%s", err);
  cr_expect_eq(strchr(err, '\n'), err + strlen(err) - 1, "not one line: %s", err);
  /* top and compare say what it is. */
  const char *cmds[] = {"top", "compare"};
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd, "%s %s t1 --db %s/r.db", bin(), cmds[i], dir);
    cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2, "%s", cmds[i]);
    cr_expect(strstr(err, "'t1' is an LR range test (hpsweep lr-find), not a sweep: see its curve and suggestions "
                          "with 'hpsweep report t1'"), "%s", err);
  }
  snprintf(cmd, sizeof cmd, "%s report t1 --db %s/r.db -o %s/t1.html", bin(), dir, dir);
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  snprintf(cmd, sizeof cmd, "%s plot t1 --db %s/r.db -o %s/t1.svg", bin(), dir, dir);
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(out, "t1.svg (the LR range test's curve)"), "%s", out);
  snprintf(cmd, sizeof cmd, "%s plot t1 --kind cost --db %s/r.db", bin(), dir);
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect(strstr(err, "'t1' is an LR range test (hpsweep lr-find), not a sweep"), "%s", err);
  expect_usage_error("lr-find --name x", "hpsweep lr-find: --name names the test in a database: give --db FILE too "
                                         "(see 'hpsweep lr-find --help')\n");
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

/* A grid centred on the range test: check resolves it without storing, run stores it, a resume and a
** second check find it, and the sweep's report shows it beside the lr study. */
#define LRGRID_SPEC                                                                                       \
  "name: lrg\nmethod: grid\nmetric: {name: val_loss, goal: minimize}\n"                                   \
  "parameters:\n  schedule.warmup_steps: {value: 0}\n"                                                    \
  "hpsweep:\n  seeds: [1, 2]\n  lr_find: {suggestion: %s, factors: [0.5, 1, 2], start: 1e-4, end: 1e3, steps: %d}\n" \
  "  base:\n    model: {n_layer: 1, d_model: 16, n_head: 2, context_length: 16}\n"                        \
  "    train: {batch_size: 4, max_steps: 4, eval_interval: 2, threads: 1}\n"                              \
  "    data: {synthetic_bytes: 20000}\n"

Test(cli, lr_find_grid_is_resolved_by_check_stored_by_run_and_reused_on_resume) {
  char dir[64], cmd[8192], spec[4096], line1[512];
  hps_tmp_make(dir, sizeof dir, "hps_cli_lrgrid_");
  snprintf(spec, sizeof spec, LRGRID_SPEC, "valley", 40);
  const char *path = hps_put(dir, "s.yaml", spec);
  snprintf(cmd, sizeof cmd, "%s check %s", bin(), path);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(err, "lr-find: step 1/40"), "progress on stderr: %s", err);
  const char *l = strstr(out, "lr_find:     valley ");
  cr_assert(l, "%s", out);
  cr_expect(strstr(out, " steps, run now, not stored: 'hpsweep run' stores it)"), "%s", out);
  const char *v = strstr(out, "             optimizer.lr values [");
  cr_assert(v, "%s", out);
  snprintf(line1, sizeof line1, "%.*s", (int)(strchr(v, '\n') - v), v);
  cr_expect(strstr(out, "trials:      6 = 3 configurations x 2 seeds"), "%s", out);
  char db[128];
  snprintf(db, sizeof db, "%s/hpsweep.db", dir);
  cr_expect_neq(access(db, F_OK), 0, "check writes no database");
  snprintf(cmd, sizeof cmd, "%s run -q %s", bin(), path);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  snprintf(cmd, sizeof cmd, "%s run %s", bin(), path);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(err, "(40 steps, found in the database)") || strstr(err, "steps, found in the database)"), "%s", err);
  cr_expect_null(strstr(err, "lr-find: step"), "a resume never runs the test again: %s", err);
  cr_expect(strstr(err, "6 trials (0 new)"), "%s", err);
  snprintf(cmd, sizeof cmd, "%s check %s", bin(), path);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(out, "steps, found in the database)"), "%s", out);
  cr_expect(strstr(out, line1), "the same values: %s in %s", line1, out);
  snprintf(cmd, sizeof cmd, "%s ls --db %s --format csv", bin(), db);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect(strstr(out, ",lr_find,smooth_loss,min,1,1,") && strstr(out, "lrg,train,val_loss,min,6,6,"), "%s", out);
  snprintf(cmd, sizeof cmd, "%s report lrg --db %s -o %s/r.html", bin(), db, dir);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  snprintf(cmd, sizeof cmd, "%s/r.html", dir);
  char *h = hps_slurp(cmd, NULL);
  cr_assert_not_null(h);
  char *ls = strstr(h, "id=\"lr-study\""), *lf = strstr(h, "id=\"lr-find\"");
  cr_expect(ls && lf && ls < lf, "the range test sits after the lr study");
  free(h);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

Test(cli, lr_find_grid_without_the_suggestion_is_a_one_line_error) {
  char dir[64], cmd[8192], spec[4096];
  hps_tmp_make(dir, sizeof dir, "hps_cli_lrnone_");
  snprintf(spec, sizeof spec, LRGRID_SPEC, "steepest", 5); /* 5 points: none left once the ends are skipped */
  const char *path = hps_put(dir, "s.yaml", spec);
  snprintf(cmd, sizeof cmd, "%s check %s 2>&1 >/dev/null | grep -v '^lr-find: step'", bin(), path);
  sh(cmd, out, sizeof out, NULL, 0);
  cr_expect(strstr(out, "s.yaml:8:12: hpsweep.lr_find: the range test 'lr-find-") &&
            strstr(out, "' found no steepest suggestion (5 points, stopped: "), "%s", out);
  cr_expect_eq(strchr(out, '\n'), out + strlen(out) - 1, "one line: %s", out);
  snprintf(cmd, sizeof cmd, "%s run -q %s", bin(), path);
  cr_expect_eq(sh(cmd, out, sizeof out, err, sizeof err), 2);
  cr_expect(strstr(err, "found no steepest suggestion"), "%s", err);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

/* ---- the engine of `hpsweep sample --bench` (trainer/tr_bench.c) ---- */

Test(cli, sample_bench_engine_generates_twice_the_context_and_caps_full_recompute) {
  TrSampleBenchResult r;
  TrErr e = {0};
  cr_assert_eq(tr_bench_sample("T", 1, 5, &r, &e), TR_OK, "%s", e.msg);
  cr_expect_eq(r.context, 64);
  cr_expect_eq(r.kv_tokens, 128, "2 * context with the KV cache");
  cr_expect_eq(r.full_tokens, 5, "full recompute stops at the cap");
  cr_expect_gt(r.params, 800000u);
  cr_expect(r.kv_wall > 0 && r.kv_cpu > 0 && r.full_wall > 0 && r.full_cpu > 0);
  cr_expect_eq(tr_bench_sample("X", 1, 5, &r, &e), TR_EINVAL);
  cr_expect(strstr(e.msg, "'X'"), "%s", e.msg);
  cr_expect_eq(tr_bench_sample("T", 1, 0, &r, &e), TR_EINVAL);
}

/* ---- the peak memory of `hpsweep bench` (fork per shape, trainer/tr_bench.h) ---- */

/* The number after "KEY": in a JSON line, or -1. */
static double json_num(const char *line, const char *key) {
  char k[64];
  snprintf(k, sizeof k, "\"%s\": ", key);
  const char *p = strstr(line, k);
  return p ? strtod(p + strlen(k), NULL) : -1.0;
}

Test(cli, bench_reports_the_peak_rss_of_each_shape_between_its_model_state_and_a_sane_bound) {
  char o[4096];
  cr_assert_eq(hps_run("/tmp", "bench --model T --threads 1 --steps 1 --json", o, sizeof o), 0, "%s", o);
  double peak = json_num(o, "peak_rss_mb"), base = json_num(o, "base_rss_mb");
  double params = json_num(o, "params_mb"), act = json_num(o, "act_mb");
  cr_expect(params > 3.0 && params < 3.5, "T: 0.83 M params, 3.2 MB: %s", o);
  cr_expect(act > 10.0, "%s", o);
  cr_expect(base > 0.0 && base < peak, "%s", o);
  /* parameters, gradients and AdamW's two moments exist at the peak, and the activations */
  cr_expect_gt(peak, base + 4 * params + 0.5 * act, "%s", o);
  cr_expect_lt(peak, 2 * (base + 4 * params + act) + 64.0, "not KB read as MB or a leak: %s", o);
  cr_expect(strstr(o, "\"rss_method\": \"fork per shape, wait4 ru_maxrss\""), "%s", o);
  cr_assert_eq(hps_run("/tmp", "bench --model T --threads 1 --steps 1", o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, " MB)\n") && strstr(o, ", peak RSS "), "the text table: %s", o);
}

Test(cli, bench_forked_engine_returns_the_childs_error_and_results) {
  TrBenchResult r;
  TrErr e = {0};
  cr_expect_eq(tr_bench_train_forked("X", 1, 1, &r, &e), TR_EINVAL, "the child's own code");
  cr_expect(strstr(e.msg, "unknown model 'X'"), "the child's message: %s", e.msg);
  cr_assert_eq(tr_bench_train_forked("T", 1, 1, &r, &e), TR_OK, "%s", e.msg);
  cr_expect_str_eq(r.model, "T");
  cr_expect(r.tokens_per_s > 0 && r.peak_rss_mb > r.base_rss_mb && r.base_rss_mb > 0);
  cr_expect(isfinite(r.loss));
  cr_expect_gt(tr_bench_sgemm_forked(1, 64, 1), 0.0);
}

/* ---- copy: a sweep with every row of it into another store ---- */

Test(cli, copy_moves_a_sweep_into_another_file_row_for_row_and_refuses_with_one_line) {
  char dir[64], o[8192], a[PATH_MAX], b[PATH_MAX];
  hps_tmp_make(dir, sizeof dir, "hps_cli_copy_");
  put_sweep(dir, "grid", "val_loss", "minimize", "0.001, 0.003", 1);
  cr_assert_eq(hps_run(dir, "run spec.yaml -q --db runs.db", o, sizeof o), 0, "%s", o);
  snprintf(a, sizeof a, "%s/runs.db", dir);
  snprintf(b, sizeof b, "%s/other.db", dir);
  cr_assert_eq(hps_run(dir, "copy lr_grid --from runs.db --to other.db", o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, "copied sweep 'lr_grid' from runs.db to other.db: 2 trials,"), "%s", o);
  cr_expect(strstr(o, "hpsweep copy: ") && strstr(o, " rows\n"), "progress on stderr: %s", o);
  char *x = hps_sweep_dump(a, "lr_grid", 0), *y = hps_sweep_dump(b, "lr_grid", 0);
  cr_assert(hps_count(x, "\n2|") > 10, "the sweep has metrics: %s", x);
  cr_assert_str_eq(y, x, "every row of every table, ids included");
  free(y);
  /* The copy is a sweep like any other there. */
  cr_assert_eq(hps_run(dir, "top lr_grid --db other.db", o, sizeof o), 0, "%s", o);
  /* Refusals: one line each, exit 2, nothing written. */
  static const struct {
    const char *args, *says;
  } bad[] = {
      {"copy lr_grid --from runs.db --to other.db", "a sweep named 'lr_grid' is there already (copy --replace"},
      {"copy nope --from runs.db --to x.db", "no sweep named 'nope'"},
      {"copy lr_grid --from runs.db --to ./runs.db", "the source and the target are the same store"},
      {"copy lr_grid --from runs.db --to runs.db", "--from and --to are the same store"},
      {"copy lr_grid --from missing.db --to x.db", "missing.db: no such database"},
      {"copy lr_grid --from spec.yaml --to x.db", "spec.yaml"},
      {"copy lr_grid --to x.db", "give both --from DB and --to DB"},
  };
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    int st = hps_run(dir, bad[i].args, o, sizeof o);
    cr_expect(st == 1 || st == 2, "%s: exit %d", bad[i].args, st);
    cr_expect(strstr(o, bad[i].says), "%s: %s", bad[i].args, o);
    cr_expect_eq(hps_count(o, "\n"), 1, "%s: one line: %s", bad[i].args, o);
  }
  y = hps_sweep_dump(b, "lr_grid", 0);
  cr_assert_str_eq(y, x, "a refused copy leaves the target as it was");
  free(y);
  /* --replace: the same rows again; --quiet: no progress. */
  cr_assert_eq(hps_run(dir, "copy lr_grid --from runs.db --to other.db --replace --quiet", o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, "(replaced the sweep there)") && !strstr(o, "hpsweep copy: "), "%s", o);
  y = hps_sweep_dump(b, "lr_grid", 0);
  cr_assert_str_eq(y, x);
  free(y);
  /* --as: a second copy beside the first: every id taken, shifted; the same rows relative to them. */
  cr_assert_eq(hps_run(dir, "copy lr_grid --from runs.db --to other.db --as again -q", o, sizeof o), 0, "%s", o);
  cr_expect(strstr(o, "ids shifted"), "%s", o);
  free(x);
  x = hps_sweep_dump(a, "lr_grid", 1);
  y = hps_sweep_dump(b, "again", 1);
  char *z = strstr(x, "|name=tlr_grid|"); /* the name is the one column that differs */
  cr_assert_not_null(z, "%s", x);
  memcpy(z, "|name=tagain", 12);
  memmove(z + 12, z + 14, strlen(z + 14) + 1);
  cr_assert_str_eq(y, x);
  free(x);
  free(y);
  hps_tmp_remove(dir);
}

/* Paths in a spec (hpsweep.base, hpsweep.db, hpsweep.checkpoint, program, the base's data.path)
** resolve against the spec's directory, whatever the current directory, and check shows them. */
Test(cli, check_resolves_spec_paths_against_the_spec_directory_and_shows_them) {
  char dir[64], cmd[1024];
  hps_tmp_make(dir, sizeof dir, "hps_cli_paths_");
  char sub[128];
  snprintf(sub, sizeof sub, "%s/sub", dir);
  cr_assert_eq(mkdir(sub, 0755), 0);
  hps_put(sub, "base.yaml", "train: {max_steps: 10, out_dir: runs}\n");
  hps_put(sub, "s.yaml", "name: p\nmethod: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n"
                         "hpsweep:\n  base: base.yaml\n  db: out/x.db\n");
  snprintf(cmd, sizeof cmd, "cd %s && %s check sub/s.yaml", dir, bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(out, "base:        sub/base.yaml\n"), "%s", out);
  cr_expect(strstr(out, "db:          sub/out/x.db\n"), "%s", out);
  /* From the spec's own directory the same files. */
  snprintf(cmd, sizeof cmd, "cd %s && %s check s.yaml", sub, bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
  cr_expect(strstr(out, "base:        base.yaml\n"), "%s", out);
  cr_expect(strstr(out, "db:          out/x.db\n"), "%s", out);
  /* A sample sweep's checkpoint: resolved against the spec's directory too, and it must exist. */
  hps_put(sub, "q.yaml", "method: grid\nmetric: {name: validity, goal: maximize}\nparameters:\n"
                         "  sample.temperature: {values: [0.5]}\nhpsweep: {task: sample, checkpoint: ck/c.bin}\n");
  snprintf(cmd, sizeof cmd, "cd %s && %s check sub/q.yaml", dir, bin());
  cr_assert_neq(sh(cmd, out, sizeof out, err, sizeof err), 0);
  cr_expect(strstr(err, "sub/ck/c.bin"), "the error names the resolved path: %s", err);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

/* What `train` writes (its output directory and checkpoint) honours the umask and is never
** world-writable, even under umask 000. */
Test(cli, train_outputs_honour_the_umask_and_are_never_world_writable) {
  static const char *const masks[] = {"000", "022"};
  static const mode_t file_mode[] = {0664, 0644}, dir_mode[] = {0775, 0755};
  char dir[64], cmd[1024], path[160];
  hps_tmp_make(dir, sizeof dir, "hps_cli_umask_");
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd,
             "cd %s && umask %s && %s train --set model.n_layer=1 --set model.d_model=8 --set model.n_head=1 "
             "--set model.context_length=8 --set train.batch_size=2 --set train.max_steps=2 "
             "--set train.out_dir=out%d/run",
             dir, masks[i], bin(), i);
    cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s", err);
    struct stat sb;
    snprintf(path, sizeof path, "%s/out%d/run/ckpt.bin", dir, i);
    cr_assert_eq(stat(path, &sb), 0, "%s", path);
    cr_expect_eq(sb.st_mode & 0777, file_mode[i], "umask %s: %s is %03o", masks[i], path, (unsigned)(sb.st_mode & 0777));
    *strrchr(path, '/') = '\0';
    cr_assert_eq(stat(path, &sb), 0, "%s", path);
    cr_expect_eq(sb.st_mode & 0777, dir_mode[i], "umask %s: %s is %03o", masks[i], path, (unsigned)(sb.st_mode & 0777));
  }
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

/* The one re-exec (cli/main.c): a program sweep whose program records what it sees and what
** hpsweep's own process started with (/proc/PARENT/environ holds the environment of the exec,
** which libgomp and OpenBLAS read; the program's parent is a process of that image). PRE is put
** before the command line: variables and `ulimit`. Returns the record. */
static const char *reexec_seen(const char *pre) {
  static char seen[4096];
  char dir[128], cmd[2048], path[256];
  hps_tmp_make(dir, sizeof dir, "hps_cli_reexec_");
  snprintf(cmd, sizeof cmd,
           "#!/bin/sh\n"
           "{ echo \"prog GOMP_SPINCOUNT=${GOMP_SPINCOUNT-unset} OMP_WAIT_POLICY=${OMP_WAIT_POLICY-unset}\"\n"
           "  tr '\\0' '\\n' < /proc/$PPID/environ | grep -E '^(GOMP_SPINCOUNT|OMP_WAIT_POLICY|OPENBLAS_NUM_THREADS|"
           "HPS_REEXEC)' | sed 's/^/hpsweep /'\n"
           "  echo \"hpsweep comm $(cat /proc/$PPID/comm)\"\n"
           "  env | grep '^HPS_REEXEC' | sed 's/^/prog /'; } > %s/seen.txt\n"
           "echo '{\"step\": 0, \"loss\": 1}' >&$HPSWEEP_METRICS_FD\n",
           dir);
  const char *p = hps_put(dir, "prog.sh", cmd);
  cr_assert_eq(chmod(p, 0755), 0);
  hps_put(dir, "s.yaml", "program: prog.sh\ncommand: [\"${program}\"]\nmethod: grid\nmetric: {name: loss}\n"
          "parameters:\n  a: {values: [1]}\n");
  snprintf(cmd, sizeof cmd, "cd %s && unset GOMP_SPINCOUNT OMP_WAIT_POLICY OPENBLAS_NUM_THREADS; %s %s run s.yaml -j 1",
           dir, pre, bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "%s\n%s", out, err);
  snprintf(path, sizeof path, "%s/seen.txt", dir);
  char *s = hps_slurp(path, NULL);
  cr_assert_not_null(s, "the program wrote no %s", path);
  snprintf(seen, sizeof seen, "%s", s);
  free(s);
  hps_tmp_remove(dir);
  return seen;
}

/* hpsweep runs with a bounded spin (GOMP_SPINCOUNT=10000) when the caller sets neither
** GOMP_SPINCOUNT nor OMP_WAIT_POLICY, and the programs it runs see the caller's environment.
** The re-executed process keeps its name (not /proc/self/exe's "exe"). */
Test(cli, reexec_bounds_libgomps_spin_and_programs_see_the_callers_environment) {
  const char *s = reexec_seen("");
  cr_expect(strstr(s, "hpsweep comm hpsweep\n"), "%s", s);
  cr_expect(strstr(s, "prog GOMP_SPINCOUNT=unset OMP_WAIT_POLICY=unset\n"), "%s", s);
  cr_expect_null(strstr(s, "prog HPS_REEXEC"), "the marks are gone after the exec: %s", s);
#ifdef _OPENMP
  cr_expect(strstr(s, "hpsweep GOMP_SPINCOUNT=10000\n"), "%s", s);
  cr_expect(strstr(s, "hpsweep HPS_REEXEC_GOMP_SPINCOUNT=-\n"), "%s", s);
#else
  cr_expect_null(strstr(s, "hpsweep GOMP_SPINCOUNT"), "no libgomp, no exec: %s", s);
#endif
  cr_expect_null(strstr(s, "hpsweep OPENBLAS_NUM_THREADS"), "no RLIMIT_AS, OpenBLAS as the caller has it: %s", s);
}

/* A caller's GOMP_SPINCOUNT or OMP_WAIT_POLICY wins: hpsweep runs with it, unchanged, no exec. */
Test(cli, reexec_keeps_a_callers_gomp_spincount_or_omp_wait_policy) {
  const char *s = reexec_seen("GOMP_SPINCOUNT=12345");
  cr_expect(strstr(s, "prog GOMP_SPINCOUNT=12345 OMP_WAIT_POLICY=unset\n"), "%s", s);
  cr_expect(strstr(s, "hpsweep GOMP_SPINCOUNT=12345\n"), "%s", s);
  cr_expect_null(strstr(s, "HPS_REEXEC"), "no exec: %s", s);
  s = reexec_seen("OMP_WAIT_POLICY=passive");
  cr_expect(strstr(s, "prog GOMP_SPINCOUNT=unset OMP_WAIT_POLICY=passive\n"), "%s", s);
  cr_expect(strstr(s, "hpsweep OMP_WAIT_POLICY=passive\n"), "%s", s);
  cr_expect_null(strstr(s, "hpsweep GOMP_SPINCOUNT"), "%s", s);
  cr_expect_null(strstr(s, "HPS_REEXEC"), "no exec: %s", s);
}

/* ASan reserves terabytes of address space at start, so an ASan build cannot run under `ulimit -v`:
** this test is compiled out there (as test_tr_mem's; the normal build, CI's first, runs it). */
#if defined(__SANITIZE_ADDRESS__)
#define HPS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HPS_ASAN 1
#endif
#endif

#ifndef HPS_ASAN
/* Under a finite RLIMIT_AS both changes ride one exec, and both are undone for the program. */
Test(cli, reexec_under_rlimit_as_sets_openblas_to_one_thread_in_the_same_exec) {
  const char *s = reexec_seen("ulimit -v 4194304; OPENBLAS_NUM_THREADS=3");
  cr_expect(strstr(s, "hpsweep OPENBLAS_NUM_THREADS=1\n"), "%s", s);
  cr_expect(strstr(s, "hpsweep HPS_REEXEC_OPENBLAS_NUM_THREADS==3\n"), "%s", s);
  cr_expect(strstr(s, "prog GOMP_SPINCOUNT=unset OMP_WAIT_POLICY=unset\n"), "%s", s);
  cr_expect_null(strstr(s, "prog HPS_REEXEC"), "%s", s);
#ifdef _OPENMP
  cr_expect(strstr(s, "hpsweep GOMP_SPINCOUNT=10000\n"), "%s", s);
#endif
}
#endif

/* HPSWEEP_CPU naming no level is ignored, and a command that trains says so once on stderr; one
** that runs no kernels (check) says nothing. */
Test(cli, an_ignored_hpsweep_cpu_is_one_notice_on_stderr_and_the_run_succeeds) {
  char cmd[1024];
  snprintf(cmd, sizeof cmd,
           "HPSWEEP_CPU=bogus %s train --set model.n_layer=1 --set model.d_model=16 --set model.context_length=16 "
           "--set train.batch_size=4 --set train.max_steps=2 --set train.eval_interval=2 "
           "--set data.synthetic_bytes=20000 --set train.threads=1",
           bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  const char *want = "hpsweep: HPSWEEP_CPU=bogus: unknown level (base, v3, v4): using the best level\n";
  cr_expect(strncmp(err, want, strlen(want)) == 0, "the first line of stderr: %s", err);
  cr_expect_eq(hps_count(err, "HPSWEEP_CPU"), 1, "once: %s", err);
  cr_expect(strstr(out, "step      2 |"), "the run went on: %s", out);
  snprintf(cmd, sizeof cmd, "HPSWEEP_CPU= %s train --set model.n_layer=1 --set model.d_model=16 "
           "--set model.context_length=16 --set train.max_steps=1 --set data.synthetic_bytes=20000", bin());
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect_null(strstr(err, "HPSWEEP_CPU"), "empty: unset, no notice: %s", err);
  snprintf(cmd, sizeof cmd, "HPSWEEP_CPU=bogus %s check %s/configs/lr_grid.yaml", bin(), HPS_SOURCE_ROOT);
  cr_assert_eq(sh(cmd, out, sizeof out, err, sizeof err), 0, "stderr: %s", err);
  cr_expect_null(strstr(err, "HPSWEEP_CPU"), "check runs no kernels: %s", err);
}
