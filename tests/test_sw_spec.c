/*
** test_sw_spec.c: loading sweep specs. The malformed corpus tests/specs/bad/ is
** data-driven: tests/specs/bad/EXPECTED lists each file's error position and
** message; every good spec under tests/specs/good/ must load and expand.
*/
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hps_test.h"
#include "sw_expand.h"
#include "sw_spec.h"

static const char *root(void) {
  const char *r = getenv("HPS_SOURCE_ROOT");
  return r && *r ? r : HPS_SOURCE_ROOT;
}

static char tmpdir[PATH_MAX];

static void mk_tmp(void) { hps_tmp_make(tmpdir, sizeof tmpdir, "hps_sw_spec_"); }

static void rm_tmp(void) { hps_tmp_remove(tmpdir); }

/* Write text to tmpdir/name; returns the path (static buffer). */
static const char *put(const char *name, const char *text) { return hps_put(tmpdir, name, text); }

/* Load + expand; returns the first failing code (TR_OK if both pass). */
static int load_and_expand(const char *path, TrErr *err) {
  SwSpec *s = NULL;
  int rc = sw_spec_load(&s, path, err);
  if (rc == TR_OK) {
    cr_assert_not_null(s);
    SwTrial *t = NULL;
    size_t n = 0;
    rc = sw_expand(s, &t, &n, err);
    sw_trials_free(t, n);
  } else {
    cr_assert_null(s, "a failed load leaves *out NULL");
  }
  sw_spec_destroy(s);
  return rc;
}

TestSuite(sw_spec, .init = mk_tmp, .fini = rm_tmp);

Test(sw_spec, bad_corpus_gives_the_expected_error_for_every_file) {
  char dir[PATH_MAX], manifest[PATH_MAX + 16];
  snprintf(dir, sizeof dir, "%s/tests/specs/bad", root());
  snprintf(manifest, sizeof manifest, "%s/EXPECTED", dir);
  FILE *f = fopen(manifest, "r");
  cr_assert_not_null(f, "cannot open %s", manifest);
  char line[2048];
  int checked = 0;
  char listed[128][128];
  while (fgets(line, sizeof line, f)) {
    if (line[0] == '#' || line[0] == '\n') continue;
    line[strcspn(line, "\n")] = '\0';
    char *file = strtok(line, "\t"), *pos = strtok(NULL, "\t"), *sub = strtok(NULL, "");
    cr_assert(file && pos && sub, "malformed EXPECTED line");
    cr_assert_lt(checked, 128);
    snprintf(listed[checked], sizeof listed[checked], "%s", file);
    char path[PATH_MAX + 300], prefix[PATH_MAX + 400];
    snprintf(path, sizeof path, "%s/%s", dir, file);
    snprintf(prefix, sizeof prefix, "%s:%s: ", path, pos);
    TrErr err;
    tr_err_clear(&err);
    int rc = load_and_expand(path, &err);
    cr_expect_neq(rc, TR_OK, "%s: expected an error, got none", file);
    cr_expect(strncmp(err.msg, prefix, strlen(prefix)) == 0, "%s: expected position %s, got: %s", file, pos,
              err.msg);
    cr_expect_not_null(strstr(err.msg, sub), "%s: expected '%s' in: %s", file, sub, err.msg);
    cr_expect_null(strchr(err.msg, '\n'), "%s: error must be one line", file);
    checked++;
  }
  fclose(f);
  cr_assert_geq(checked, 30, "the corpus needs at least 30 malformed specs, has %d", checked);
  /* Every .yaml in the directory is in the manifest. */
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  struct dirent *e;
  while ((e = readdir(d))) {
    size_t n = strlen(e->d_name);
    if (n < 5 || strcmp(e->d_name + n - 5, ".yaml")) continue;
    int found = 0;
    for (int i = 0; i < checked; i++) found |= !strcmp(listed[i], e->d_name);
    cr_expect(found, "%s is not listed in EXPECTED", e->d_name);
  }
  closedir(d);
}

Test(sw_spec, file_over_one_mib_is_rejected_before_parsing) {
  size_t n = TR_YAML_MAX_BYTES + 100;
  char *text = malloc(n + 1);
  cr_assert_not_null(text);
  const char *head = "method: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n";
  memcpy(text, head, strlen(head));
  for (size_t i = strlen(head); i < n; i++) text[i] = (i % 64 == 63) ? '\n' : (i % 64 == 0 ? '#' : 'x');
  text[n] = '\0';
  const char *p = put("big.yaml", text);
  free(text);
  TrErr err;
  tr_err_clear(&err);
  cr_assert_neq(load_and_expand(p, &err), TR_OK);
  cr_expect_not_null(strstr(err.msg, "over the limit"), "got: %s", err.msg);
  cr_expect(strncmp(err.msg, p, strlen(p)) == 0, "the message names the file: %s", err.msg);
}

Test(sw_spec, missing_file_is_an_io_error) {
  TrErr err;
  SwSpec *s = (SwSpec *)1;
  cr_assert_eq(sw_spec_load(&s, "/nonexistent/spec.yaml", &err), TR_EIO);
  cr_assert_null(s);
  cr_expect_not_null(strstr(err.msg, "/nonexistent/spec.yaml"));
}

Test(sw_spec, every_good_spec_loads_and_expands) {
  char dir[PATH_MAX];
  snprintf(dir, sizeof dir, "%s/tests/specs/good", root());
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d))) {
    size_t len = strlen(e->d_name);
    if (len < 5 || strcmp(e->d_name + len - 5, ".yaml")) continue;
    char path[PATH_MAX + 300];
    snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
    TrErr err;
    tr_err_clear(&err);
    cr_expect_eq(load_and_expand(path, &err), TR_OK, "%s: %s", e->d_name, err.msg);
    n++;
  }
  closedir(d);
  cr_assert_geq(n, 3);
}

Test(sw_spec, accessors_report_spec_and_hpsweep_keys) {
  put("ck.bin", "");
  put("base.yaml", "train:\n  max_steps: 7\nmodel:\n  n_layer: 3\n");
  const char *p = put("s.yaml",
                      "name: my-sweep\ndescription: words\nmethod: random\nrun_cap: 6\n"
                      "metric: {name: validity, goal: maximize, target: 0.5}\n"
                      "early_terminate: {type: hyperband, max_iter: 27, s: 2, strict: false}\n"
                      "parameters:\n  optimizer.lr: {min: 0.001, max: 0.01}\n"
                      "hpsweep:\n  base: base.yaml\n  seeds: [4, 5]\n  seed: 9\n  workers: 3\n"
                      "  threads_per_trial: 2\n  db: out/x.db\n  max_retries: 0\n  task: sample\n"
                      "  checkpoint: ck.bin\n");
  SwSpec *s;
  TrErr err;
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_expect_str_eq(sw_spec_name(s), "my-sweep");
  cr_expect_str_eq(sw_spec_description(s), "words");
  cr_expect_eq(sw_spec_method(s), SW_METHOD_RANDOM);
  cr_expect_str_eq(sw_spec_metric(s), "validity");
  cr_expect_eq(sw_spec_goal(s), SW_GOAL_MAXIMIZE);
  double tg = 0;
  cr_expect(sw_spec_target(s, &tg) && tg == 0.5);
  cr_expect_eq(sw_spec_run_cap(s), 6);
  const SwEarlyTerminate *et = sw_spec_early_terminate(s);
  cr_expect(et->enabled && et->max_iter == 27 && et->s == 2 && et->eta == 3 && !et->strict);
  cr_expect_eq(sw_spec_workers(s), 3);
  cr_expect_eq(sw_spec_threads_per_trial(s), 2);
  cr_expect_eq(sw_spec_max_retries(s), 0);
  cr_expect_eq(sw_spec_seed(s), 9);
  cr_expect_eq(sw_spec_task(s), SW_TASK_SAMPLE);
  cr_expect_str_eq(sw_spec_seed_key(s), "sample.seed");
  char want[PATH_MAX + 64];
  snprintf(want, sizeof want, "%s/out/x.db", tmpdir);
  cr_expect_str_eq(sw_spec_db(s), want, "db is relative to the spec's directory");
  snprintf(want, sizeof want, "%s/ck.bin", tmpdir);
  cr_expect_str_eq(sw_spec_checkpoint(s), want);
  size_t ns;
  const int64_t *seeds = sw_spec_seeds(s, &ns);
  cr_expect(ns == 2 && seeds[0] == 4 && seeds[1] == 5);
  cr_expect_eq(sw_spec_base(s)->train.max_steps, 7, "base path is relative to the spec's directory");
  cr_expect_eq(sw_spec_base(s)->model.n_layer, 3);
  cr_expect_eq(sw_spec_config_count(s), 3, "run_cap counts trials: 6 = 3 configurations x 2 seeds");
  cr_expect_eq(sw_spec_trial_count(s), 6);
  cr_expect_not_null(strstr(sw_spec_text(s), "name: my-sweep"));
  sw_spec_destroy(s);
  sw_spec_destroy(NULL);
}

Test(sw_spec, defaults_without_hpsweep_block) {
  const char *p = put("plain.yaml", "method: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n");
  SwSpec *s;
  TrErr err;
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_expect_str_eq(sw_spec_name(s), "plain", "name defaults to the file's base name");
  cr_expect_str_eq(sw_spec_metric(s), SW_DEFAULT_METRIC);
  cr_expect_eq(sw_spec_goal(s), SW_GOAL_MINIMIZE);
  cr_expect_eq(sw_spec_workers(s), 1);
  cr_expect_eq(sw_spec_task(s), SW_TASK_TRAIN);
  cr_expect_eq(sw_spec_seed(s), 0);
  cr_expect_str_eq(sw_spec_checkpoint(s), "");
  cr_expect_not(sw_spec_early_terminate(s)->enabled);
  cr_expect_not(sw_spec_target(s, NULL));
  TrConfig d;
  tr_config_defaults(&d);
  cr_expect_eq(tr_config_hash(sw_spec_base(s)), tr_config_hash(&d), "no base = the defaults");
  sw_spec_destroy(s);
}

static int has_notice(const SwSpec *s, const char *sub) {
  for (size_t i = 0; i < sw_spec_notice_count(s); i++)
    if (strstr(sw_spec_notice(s, i), sub)) return 1;
  return 0;
}

Test(sw_spec, wandb_only_keys_are_ignored_with_a_notice) {
  const char *p = put("w.yaml", "entity: me\nproject: p\ncommand: [a, b]\nmethod: grid\n"
                                "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  SwSpec *s;
  TrErr err;
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_expect(has_notice(s, "w.yaml:1:1: notice: 'entity' is a W&B key"));
  cr_expect(has_notice(s, "'project'"));
  cr_expect(has_notice(s, "w.yaml:3:10: notice: 'command' without 'program'"));
  cr_expect_null(sw_spec_program(s));
  sw_spec_destroy(s);
}

/* A program spec: free parameter names, W&B's str() of command elements, our keys. */
Test(sw_spec, program_spec_takes_free_names_and_its_hpsweep_keys) {
  put("p.sh", "#!/bin/sh\nexit 0\n");
  char sh[4200];
  snprintf(sh, sizeof sh, "%s/p.sh", tmpdir);
  cr_assert_eq(chmod(sh, 0755), 0);
  const char *p = put("prog.yaml", "program: p.sh\ncommand: [\"${program}\", 5, 1.0, true, \"${args}\"]\n"
                      "method: grid\nmetric: {name: my_score, goal: maximize}\n"
                      "parameters:\n  lr: {values: [0.001, 100.0, 1e-5]}\n  depth: {value: 3}\n"
                      "  name: {values: [a]}\n  q: {min: 1, max: 2}\n"
                      "hpsweep: {seeds: [7, 8], seed_arg: rng, max_seconds_per_trial: 2.5}\n");
  SwSpec *s;
  TrErr err;
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_expect_str_eq(sw_spec_program(s), sh);
  size_t n;
  const char *const *cmd = sw_spec_command(s, &n);
  cr_assert_eq(n, 5);
  cr_expect_str_eq(cmd[1], "5");
  cr_expect_str_eq(cmd[2], "1.0");
  cr_expect_str_eq(cmd[3], "True");
  cr_expect_eq(sw_spec_wandb_shim(s), 0, "a shell program: no shim by default");
  cr_expect_eq(sw_spec_max_seconds(s), 2.5);
  cr_expect_str_eq(sw_spec_seed_key(s), "rng");
  SwTrial *t;
  size_t nt;
  cr_assert_eq(sw_expand(s, &t, &nt, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(nt, 12);
  cr_expect_str_eq(t[0].params_json, "{\"lr\": 0.001, \"depth\": 3, \"name\": \"a\", \"q\": 1, \"rng\": 7}");
  cr_expect_str_eq(t[5].params_json, "{\"lr\": 100.0, \"depth\": 3, \"name\": \"a\", \"q\": 1, \"rng\": 8}");
  cr_expect_str_eq(t[11].params_json, "{\"lr\": 1e-05, \"depth\": 3, \"name\": \"a\", \"q\": 2, \"rng\": 8}");
  for (size_t i = 1; i < nt; i++) cr_expect_neq(t[i].hash, t[0].hash, "trial %zu", i);
  sw_trials_free(t, nt);
  sw_spec_destroy(s);
}

Test(sw_spec, program_spec_errors_are_one_line_with_a_position) {
  put("noexec.sh", "#!/bin/sh\n");
  put("ok.py", "print(1)\n");
  static const struct {
    const char *text, *want;
  } cases[] = {
      {"program: missing.py\nmethod: grid\nparameters:\n  a: {values: [1]}\n", "e.yaml:1:10: program "},
      {"program: noexec.sh\nmethod: grid\nparameters:\n  a: {values: [1]}\n", "not executable"},
      {"program: ok.py\ncommand: [\"${foo}\"]\nmethod: grid\nparameters:\n  a: {values: [1]}\n",
       "e.yaml:2:10: command: unknown command macro ${foo}"},
      {"program: ok.py\nmethod: grid\nparameters:\n  a: {values: [1, null]}\n", "null is not a value"},
      {"program: ok.py\nmethod: grid\nparameters:\n  a: {values: [1]}\nhpsweep: {max_seconds_per_trial: 0}\n",
       "max_seconds_per_trial"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *p = put("e.yaml", cases[i].text);
    SwSpec *s = NULL;
    TrErr err;
    tr_err_clear(&err);
    cr_expect_neq(sw_spec_load(&s, p, &err), TR_OK, "case %zu", i);
    cr_expect(strstr(err.msg, cases[i].want) != NULL, "case %zu: %s", i, err.msg);
    cr_expect(strchr(err.msg, '\n') == NULL, "one line: %s", err.msg);
    sw_spec_destroy(s);
  }
}

/* A command that names what runs the program ("/usr/bin/python3", "sh") reads it as an argument:
** only ${program} first (or through an empty ${interpreter}) needs the execute bit. */
Test(sw_spec, a_program_run_by_a_named_interpreter_need_not_be_executable) {
  put("noexec.sh", "#!/bin/sh\n");
  static const struct {
    const char *command;
    int ok;
  } cases[] = {
      {"[\"${env}\", \"sh\", \"${program}\"]", 1},
      {"[\"/bin/sh\", \"${program}\", \"${args}\"]", 1},
      {"[\"${env}\", \"${program}\", \"${args}\"]", 0},
      {"[\"${env}\", \"${interpreter}\", \"${program}\"]", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char text[256];
    snprintf(text, sizeof text, "program: noexec.sh\ncommand: %s\nmethod: grid\nparameters:\n  a: {values: [1]}\n",
             cases[i].command);
    const char *p = put("x.yaml", text);
    SwSpec *s = NULL;
    TrErr err;
    tr_err_clear(&err);
    int rc = sw_spec_load(&s, p, &err);
    cr_expect_eq(rc == TR_OK, cases[i].ok, "case %zu: %s", i, err.msg);
    if (!cases[i].ok) cr_expect(strstr(err.msg, "not executable"), "case %zu: %s", i, err.msg);
    sw_spec_destroy(s);
  }
}

Test(sw_spec, program_spec_needs_its_interpreter_on_path) {
  put("ok.py", "print(1)\n");
  const char *p = put("i.yaml", "program: ok.py\nmethod: grid\nparameters:\n  a: {values: [1]}\n");
  char *old = strdup(getenv("PATH") ? getenv("PATH") : "");
  cr_assert_not_null(old);
  setenv("PATH", tmpdir, 1);
  SwSpec *s = NULL;
  TrErr err;
  int rc = sw_spec_load(&s, p, &err);
  setenv("PATH", old, 1);
  free(old);
  cr_expect_neq(rc, TR_OK);
  cr_expect(strstr(err.msg, "i.yaml:1:10: program ") && strstr(err.msg, "interpreter python3 not found on PATH"),
            "%s", err.msg);
  sw_spec_destroy(s);
}

Test(sw_spec, log_uniform_bounds_that_look_like_values_warn) {
  const char *p = put("lu.yaml", "method: random\nrun_cap: 2\nparameters:\n"
                                 "  optimizer.weight_decay: {distribution: log_uniform, min: 0.0001, max: 0.1}\n");
  SwSpec *s;
  TrErr err;
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_expect(has_notice(s, "warning: parameter 'optimizer.weight_decay': log_uniform bounds are exponents"));
  cr_expect(has_notice(s, "log_uniform_values"));
  sw_spec_destroy(s);
  /* Exponent bounds (log(1e-4) .. log(1e-2)) give no warning. */
  p = put("lu2.yaml", "method: random\nrun_cap: 2\nparameters:\n"
                      "  optimizer.lr: {distribution: log_uniform, min: -9.2, max: -4.6}\n");
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_expect_not(has_notice(s, "warning"));
  sw_spec_destroy(s);
}

Test(sw_spec, random_without_run_cap_samples_the_default_with_a_notice) {
  const char *p = put("r.yaml", "method: random\nparameters:\n  optimizer.lr: {min: 0.001, max: 0.01}\n"
                                "hpsweep: {seeds: [1, 2]}\n");
  SwSpec *s;
  TrErr err;
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_expect_eq(sw_spec_config_count(s), SW_DEFAULT_RANDOM_CONFIGS);
  cr_expect_eq(sw_spec_trial_count(s), 2 * SW_DEFAULT_RANDOM_CONFIGS);
  cr_expect(has_notice(s, "without run_cap"));
  sw_spec_destroy(s);
}

Test(sw_spec, parameter_describe_names_the_distribution) {
  const char *p = put("d.yaml", "method: random\nrun_cap: 2\nparameters:\n"
                                "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.01}\n"
                                "  optimizer.betas: {values: [[0.9, 0.95], [0.9, 0.99]]}\n"
                                "  train.batch_size: {distribution: q_uniform, min: 8, max: 32, q: 8}\n");
  SwSpec *s;
  TrErr err;
  char b[256];
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(sw_spec_param_count(s), 3);
  sw_param_describe(sw_spec_param(s, 0), b, sizeof b);
  cr_expect_str_eq(b, "log_uniform_values [0.0001, 0.01]");
  sw_param_describe(sw_spec_param(s, 1), b, sizeof b);
  cr_expect_str_eq(b, "values [[0.9, 0.95], [0.9, 0.99]]");
  sw_param_describe(sw_spec_param(s, 2), b, sizeof b);
  cr_expect_str_eq(b, "q_uniform [8, 32] q=8");
  sw_spec_destroy(s);
}

Test(sw_spec, min_max_without_distribution_is_int_uniform_only_for_integer_literals) {
  const char *p = put("m.yaml", "method: random\nrun_cap: 2\nparameters:\n"
                                "  model.n_layer: {min: 1, max: 4}\n"
                                "  optimizer.lr: {min: 0.0, max: 1.0}\n");
  SwSpec *s;
  TrErr err;
  char b[256];
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  sw_param_describe(sw_spec_param(s, 0), b, sizeof b);
  cr_expect_str_eq(b, "int_uniform [1, 4]");
  sw_param_describe(sw_spec_param(s, 1), b, sizeof b);
  cr_expect(strncmp(b, "uniform [", 9) == 0, "0.0 and 1.0 are floats in YAML, as W&B reads them: %s", b);
  sw_spec_destroy(s);
}

/* ---- the CLI ------------------------------------------------------------- */

/* Run `$HPS_BIN check path`, capture stdout and stderr; returns the exit status. */
static int run_check(const char *path, char *out, size_t on, char *errb, size_t en) {
  const char *bin = hps_bin();
  char o[PATH_MAX + 32], e[PATH_MAX + 32];
  snprintf(o, sizeof o, "%s/out.txt", tmpdir);
  snprintf(e, sizeof e, "%s/err.txt", tmpdir);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    if (!freopen(o, "w", stdout) || !freopen(e, "w", stderr)) _exit(99);
    execl(bin, bin, "check", path, (char *)NULL);
    _exit(98);
  }
  int st;
  waitpid(pid, &st, 0);
  FILE *f = fopen(o, "r");
  size_t n = fread(out, 1, on - 1, f);
  out[n] = '\0';
  fclose(f);
  f = fopen(e, "r");
  n = fread(errb, 1, en - 1, f);
  errb[n] = '\0';
  fclose(f);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(sw_spec, cli_check_accepts_a_good_spec_and_lists_trials) {
  char path[PATH_MAX], out[16384], errb[4096];
  snprintf(path, sizeof path, "%s/tests/specs/good/grid_lr.yaml", root());
  cr_assert_eq(run_check(path, out, sizeof out, errb, sizeof errb), 0, "stderr: %s", errb);
  cr_expect_not_null(strstr(out, "method:      grid"));
  cr_expect_not_null(strstr(out, "trials:      12 = 6 configurations x 2 seeds"), "%s", out);
  cr_expect_not_null(strstr(out, "optimizer.lr"));
  cr_expect_not_null(strstr(out, "{\"optimizer.lr\": 0.01, \"schedule.warmup_steps\": 20, \"train.seed\": 2}"));
  cr_expect_not_null(strstr(errb, "notice: 'project'"), "notices go first, on stderr: %s", errb);
}

Test(sw_spec, cli_check_rejects_a_bad_spec_with_one_line) {
  char path[PATH_MAX], out[4096], errb[4096];
  snprintf(path, sizeof path, "%s/tests/specs/bad/unknown_param.yaml", root());
  cr_assert_eq(run_check(path, out, sizeof out, errb, sizeof errb), 2);
  char want[PATH_MAX + 200];
  snprintf(want, sizeof want, "hpsweep check: %s:3:3: unknown training key 'optimizer.lrr' (did you mean "
           "'optimizer.lr'?)\n", path);
  cr_expect_str_eq(errb, want);
  cr_expect_str_eq(out, "", "nothing on stdout for a bad spec");
}

Test(sw_spec, cli_check_samples_long_trial_lists) {
  const char *p = put("long.yaml", "method: grid\nparameters:\n  train.max_steps: {min: 1, max: 60}\n");
  char out[32768], errb[4096];
  cr_assert_eq(run_check(p, out, sizeof out, errb, sizeof errb), 0, "%s", errb);
  cr_expect_not_null(strstr(out, "trial list (first 20 of 60):"), "%s", out);
  cr_expect_not_null(strstr(out, "... 40 more"));
  cr_expect_null(strstr(out, "\"train.max_steps\": 21}"), "trial 21 is not listed");
}

/* Paths in a spec resolve against the spec's directory (made absolute), whatever the current directory. */
Test(sw_spec, paths_resolve_against_the_spec_directory) {
  char sub[PATH_MAX + 8];
  snprintf(sub, sizeof sub, "%s/sub", tmpdir);
  cr_assert_eq(mkdir(sub, 0755), 0);
  put("sub/corpus.txt", "hello world, hello sweep\n");
  put("sub/other.txt", "another corpus\n");
  put("sub/base.yaml", "data: {path: corpus.txt}\n");
  const char *p = put("sub/s.yaml", "method: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n"
                                    "hpsweep:\n  base: base.yaml\n");
  char want[PATH_MAX + 64], rel[PATH_MAX];
  cr_assert_not_null(realpath(sub, rel));
  snprintf(want, sizeof want, "%s/corpus.txt", rel);
  char cwd[PATH_MAX];
  cr_assert_not_null(getcwd(cwd, sizeof cwd));
  cr_assert_eq(chdir("/"), 0); /* anywhere but the spec's directory */
  SwSpec *s = NULL;
  TrErr err;
  int rc = sw_spec_load(&s, p, &err);
  cr_assert_eq(rc, TR_OK, "%s", err.msg);
  cr_expect_str_eq(sw_spec_base(s)->data.path, want, "base file's data.path");
  sw_spec_destroy(s);
  /* Inline base and a swept data.path: the same rule. */
  p = put("sub/t.yaml", "method: grid\nparameters:\n  data.path: {values: [corpus.txt, other.txt]}\n"
                        "hpsweep:\n  base: {train.out_dir: out}\n");
  cr_assert_eq(sw_spec_load(&s, p, &err), TR_OK, "%s", err.msg);
  SwTrial *t = NULL;
  size_t n = 0;
  cr_assert_eq(sw_expand(s, &t, &n, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(n, 2);
  cr_expect_str_eq(t[0].config.data.path, want);
  snprintf(want, sizeof want, "%s/other.txt", rel);
  cr_expect_str_eq(t[1].config.data.path, want);
  snprintf(want, sizeof want, "%s/out", rel);
  cr_expect_str_eq(t[1].config.train.out_dir, want);
  sw_trials_free(t, n);
  sw_spec_destroy(s);
  cr_assert_eq(chdir(cwd), 0);
}

Test(sw_spec, a_missing_or_unreadable_data_file_is_an_error_at_its_position) {
  char sub[PATH_MAX + 8];
  snprintf(sub, sizeof sub, "%s/d", tmpdir);
  cr_assert_eq(mkdir(sub, 0755), 0);
  put("corpus.txt", "text\n");
  struct {
    const char *spec, *pos, *msg;
  } cases[] = {
      {"method: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\nhpsweep:\n  base: {data.path: nope.txt}\n",
       ":5:21: data.path ", "/nope.txt: No such file or directory"},
      {"method: grid\nparameters:\n  data.path: {values: [corpus.txt, d]}\n", ":3:36: data.path ",
       "/d: not a regular file"},
      {"method: grid\nmetric: {name: validity}\nparameters:\n  sample.top_k: {values: [1]}\n"
       "hpsweep: {task: sample, checkpoint: no.ckpt}\n",
       ":5:37: hpsweep.checkpoint ", "/no.ckpt: No such file or directory"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    const char *p = put("m.yaml", cases[i].spec);
    char want[PATH_MAX + 400];
    snprintf(want, sizeof want, "%s%s", p, cases[i].pos);
    SwSpec *s = NULL;
    TrErr err;
    cr_assert_neq(sw_spec_load(&s, p, &err), TR_OK, "case %zu loaded", i);
    cr_expect(strncmp(err.msg, want, strlen(want)) == 0, "case %zu: want '%s...' got %s", i, want, err.msg);
    cr_expect(strstr(err.msg, cases[i].msg), "case %zu: %s", i, err.msg);
    cr_expect_null(strchr(err.msg, '\n'));
  }
}

/* The user's view: `check` and `run` from another directory find the spec's data, and refuse a missing one. */
Test(sw_spec, cli_check_and_run_from_another_directory_use_the_spec_directory) {
  char sub[PATH_MAX + 8], out[16384], d[64];
  cr_assert_lt(strlen(tmpdir), sizeof d);
  memcpy(d, tmpdir, strlen(tmpdir) + 1);
  snprintf(sub, sizeof sub, "%s/specs", tmpdir);
  cr_assert_eq(mkdir(sub, 0755), 0);
  char text[4096] = "";
  for (int i = 0; i < 60; i++) strcat(text, "the quick brown fox jumps over the lazy dog. ");
  put("specs/corpus.txt", text);
  put("specs/s.yaml", "name: paths\nmethod: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n"
                      "hpsweep:\n  base:\n    data: {path: corpus.txt}\n"
                      "    model: {n_layer: 1, n_head: 1, d_model: 8, context_length: 8}\n"
                      "    train: {batch_size: 2, max_steps: 2, eval_interval: 2, eval_batches: 1}\n");
  cr_assert_eq(hps_run(d, "check specs/s.yaml", out, sizeof out), 0, "%s", out);
  cr_assert_eq(hps_run(d, "run specs/s.yaml -q", out, sizeof out), 0, "%s", out);
  cr_expect(strstr(out, "1 completed"), "%s", out);
  put("specs/m.yaml", "name: paths2\nmethod: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n"
                      "hpsweep:\n  base: {data.path: missing.txt}\n");
  cr_assert_eq(hps_run(d, "check specs/m.yaml", out, sizeof out), 2, "%s", out);
  cr_expect(strstr(out, "hpsweep check: specs/m.yaml:6:21: data.path ") && strstr(out, "/specs/missing.txt: No such file"),
            "%s", out);
  cr_expect_eq(hps_count(out, "\n"), 1, "%s", out);
  cr_assert_eq(hps_run(d, "run specs/m.yaml", out, sizeof out), 2, "%s", out);
  cr_expect(strstr(out, "/specs/missing.txt: No such file"), "%s", out);
  cr_expect_null(strstr(out, "trials"), "no trial was recorded: %s", out);
}

/* ---- early termination --------------------------------------------------- */

static SwSpec *load_ok(const char *name, const char *text) {
  SwSpec *s = NULL;
  TrErr err;
  cr_assert_eq(sw_spec_load(&s, put(name, text), &err), TR_OK, "%s", err.msg);
  return s;
}

Test(sw_spec, wandb_hyperband_without_strict_takes_true_with_a_notice) {
  SwSpec *s = load_ok("h.yaml", "method: grid\nearly_terminate:\n  type: hyperband\n  min_iter: 3\n"
                                "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  const SwEarlyTerminate *et = sw_spec_early_terminate(s);
  cr_assert_eq(et->type, SW_ET_WANDB);
  cr_assert_eq(et->strict, 1);
  cr_assert_eq(et->strict_given, 0);
  cr_assert_eq(et->eta, 3);
  cr_assert_eq(et->min_iter, 3);
  cr_expect(has_notice(s, "h.yaml:3:3: notice: early_terminate.strict not given: true"), "%s",
            sw_spec_notice_count(s) ? sw_spec_notice(s, 0) : "(none)");
  cr_expect(has_notice(s, "W&B's docs say false"));
  sw_spec_destroy(s);
  s = load_ok("h2.yaml", "method: grid\nearly_terminate:\n  type: hyperband\n  max_iter: 27\n  s: 2\n"
                         "  strict: false\nparameters:\n  optimizer.lr: {values: [0.001]}\n");
  et = sw_spec_early_terminate(s);
  cr_assert_eq(et->strict, 0);
  cr_assert_eq(et->strict_given, 1);
  cr_expect_not(has_notice(s, "strict"));
  sw_spec_destroy(s);
}

Test(sw_spec, hpsweep_early_terminate_wins_over_wandbs_with_a_notice) {
  SwSpec *s = load_ok("b.yaml", "method: grid\nearly_terminate:\n  type: hyperband\n  min_iter: 3\n"
                                "hpsweep:\n  early_terminate:\n    type: asha\n    grace_period: 50\n"
                                "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  const SwEarlyTerminate *et = sw_spec_early_terminate(s);
  cr_assert_eq(et->type, SW_ET_ASHA);
  cr_assert_eq(et->grace_period, 50);
  cr_assert_eq(et->max_t, 300, "max_t defaults to the base's train.max_steps");
  cr_assert_eq(et->eta, 3);
  cr_assert_eq(et->brackets, 1);
  cr_assert_eq(et->promotions, 1);
  cr_expect(has_notice(s, "b.yaml:7:5: notice: hpsweep.early_terminate (asha) wins"));
  cr_expect_not(has_notice(s, "strict"), "W&B's block is not used: no notice about it");
  sw_spec_destroy(s);
}

Test(sw_spec, median_and_hyperband_blocks_take_their_keys_and_defaults) {
  SwSpec *s = load_ok("m.yaml", "method: grid\nhpsweep:\n  early_terminate: {type: median, n_warmup_steps: 100}\n"
                                "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  const SwEarlyTerminate *et = sw_spec_early_terminate(s);
  cr_assert_eq(et->type, SW_ET_MEDIAN);
  cr_assert_eq(et->n_startup_trials, 5);
  cr_assert_eq(et->n_warmup_steps, 100);
  cr_assert_eq(et->interval_steps, 1);
  sw_spec_destroy(s);
  s = load_ok("hb.yaml", "method: grid\nhpsweep:\n  base: {train.max_steps: 1350}\n"
                         "  early_terminate: {type: hyperband, min_t: 50, max_t: 1350, reduction_factor: 3}\n"
                         "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  et = sw_spec_early_terminate(s);
  cr_assert_eq(et->type, SW_ET_HYPERBAND);
  cr_assert_eq(et->grace_period, 50, "min_t is grace_period's other name");
  cr_assert_eq(et->max_t, 1350);
  cr_assert_eq(et->promotions, 0);
  sw_spec_destroy(s);
}

Test(sw_spec, median_interval_off_the_eval_grid_is_refused) {
  SwSpec *s = NULL;
  TrErr err;
  const char *p = put("mi.yaml", "method: grid\nhpsweep:\n  early_terminate: {type: median, interval_steps: 75}\n"
                                 "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  cr_assert_neq(sw_spec_load(&s, p, &err), TR_OK);
  cr_assert(strstr(err.msg, "mi.yaml:3:20: hpsweep.early_terminate.interval_steps 75 is not a multiple of "
                            "train.eval_interval 50"), "%s", err.msg);
}

Test(sw_spec, asha_promotions_over_a_program_need_program_resumes) {
  put("p.sh", "#!/bin/sh\nexit 0\n");
  char sh[4200];
  snprintf(sh, sizeof sh, "%s/p.sh", tmpdir);
  cr_assert_eq(chmod(sh, 0755), 0);
  const char *body = "method: grid\nprogram: p.sh\nmetric: {name: loss}\nhpsweep:\n%s"
                     "  early_terminate: {type: asha, grace_period: 10, max_t: 90%s}\n"
                     "parameters:\n  x: {values: [1, 2]}\n";
  char text[512];
  snprintf(text, sizeof text, body, "  program_resumes: true\n", "");
  SwSpec *s = load_ok("r.yaml", text);
  cr_assert(sw_spec_program_resumes(s));
  sw_spec_destroy(s);
  snprintf(text, sizeof text, body, "", ", promotions: false");
  s = load_ok("nr.yaml", text);
  cr_assert_not(sw_spec_program_resumes(s));
  cr_assert_eq(sw_spec_early_terminate(s)->promotions, 0);
  sw_spec_destroy(s);
  snprintf(text, sizeof text, body, "", "");
  TrErr err;
  cr_assert_neq(sw_spec_load(&s, put("bad.yaml", text), &err), TR_OK);
  cr_assert(strstr(err.msg, "hpsweep.program_resumes: true"), "%s", err.msg);
}

Test(sw_spec, cli_check_shows_wandb_bands_in_steps) {
  const char *p = put("hb.yaml", "method: grid\nearly_terminate: {type: hyperband, min_iter: 3, strict: false}\n"
                                 "hpsweep:\n  base: {train.max_steps: 1500, train.eval_interval: 50}\n"
                                 "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  char out[16384], errb[4096];
  cr_assert_eq(run_check(p, out, sizeof out, errb, sizeof errb), 0, "%s", errb);
  cr_expect(strstr(out, "early stop:  W&B hyperband, eta 3, strict false"), "%s", out);
  cr_expect(strstr(out, "bands (values of val_loss): 3, 9, 27 (later ones lie past the end)"), "%s", out);
  cr_expect(strstr(out, "band 9 = step 450"), "%s", out);
  cr_expect(strstr(out, "best value so far"), "%s", out);
}

Test(sw_spec, cli_check_shows_the_rungs_of_every_bracket) {
  const char *p = put("br.yaml", "method: grid\nhpsweep:\n  base: {train.max_steps: 1350, train.eval_interval: 50}\n"
                                 "  early_terminate: {type: hyperband, grace_period: 50, max_t: 1350}\n"
                                 "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  char out[16384], errb[4096];
  cr_assert_eq(run_check(p, out, sizeof out, errb, sizeof errb), 0, "%s", errb);
  cr_expect(strstr(out, "s_max 3, 4 brackets (trial index mod 4)"), "%s", out);
  cr_expect(strstr(out, "bracket 0 rungs (steps): 50, 150, 450 -> 1350"), "%s", out);
  cr_expect(strstr(out, "bracket 2 rungs (steps): 450 -> 1350"), "%s", out);
  cr_expect(strstr(out, "bracket 3 rungs (steps): none -> 1350"), "%s", out);
}

Test(sw_spec, program_resumes_without_a_program_is_ignored_with_a_notice) {
  SwSpec *s = load_ok("pr.yaml", "method: grid\nhpsweep:\n  program_resumes: true\n"
                                 "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  cr_expect(has_notice(s, "pr.yaml:3:20: notice: hpsweep.program_resumes is for specs with a program"));
  sw_spec_destroy(s);
}

Test(sw_spec, wandb_bands_past_the_last_value_get_a_warning) {
  SwSpec *s = load_ok("late.yaml", "method: grid\nearly_terminate: {type: hyperband, min_iter: 3, strict: true}\n"
                                   "hpsweep:\n  base: {train.max_steps: 120, train.eval_interval: 50}\n"
                                   "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  cr_expect_not(has_notice(s, "never applies"), "3 values (50, 100, 120) reach band 3: no warning");
  sw_spec_destroy(s);
  s = load_ok("late2.yaml", "method: grid\nearly_terminate: {type: hyperband, min_iter: 3, strict: true}\n"
                            "hpsweep:\n  base: {train.max_steps: 90, train.eval_interval: 50}\n"
                            "parameters:\n  optimizer.lr: {values: [0.001]}\n");
  cr_expect(has_notice(s, "late2.yaml:2:18: warning: early_terminate: a trial logs 2 values of val_loss (every "
                          "train.eval_interval 50 of 90 steps): the first band, 3, never applies"),
            "%s", sw_spec_notice_count(s) ? sw_spec_notice(s, 0) : "(none)");
  sw_spec_destroy(s);
}

/* ---- hpsweep.lr_find: an lr grid centred on the range test's suggestion ---- */

Test(sw_spec, lr_find_counts_its_factors_and_expands_only_once_resolved) {
  SwSpec *s = load_ok("lf.yaml", "method: grid\nparameters:\n  optimizer.weight_decay: {values: [0, 0.1]}\n"
                                 "hpsweep:\n  seeds: [1, 2]\n  lr_find:\n    suggestion: steepest\n"
                                 "    factors: [0.25, 0.5, 1, 2, 4]\n    steps: 50\n");
  const SwLrFind *lf = sw_spec_lr_find(s);
  cr_assert_not_null(lf);
  cr_expect_eq(lf->suggestion, SW_LRF_STEEPEST);
  cr_expect_eq(lf->n_factors, 5);
  cr_expect(lf->start == 1e-7 && lf->end == 10 && lf->steps == 50, "the ramp's defaults, steps as given");
  cr_expect_eq(lf->line, 7);
  cr_expect_eq(sw_spec_trial_count(s), 20, "2 weight decays x 5 lrs x 2 seeds, before the test ran");
  cr_expect(sw_spec_lr_pending(s));
  SwTrial *t = NULL;
  size_t n = 0;
  TrErr err = {0};
  cr_assert_eq(sw_expand(s, &t, &n, &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "lf.yaml:7:5: hpsweep.lr_find is not resolved yet"), "%s", err.msg);
  cr_assert_eq(sw_spec_lr_resolve(s, 2e-3, &err), TR_OK, "%s", err.msg);
  cr_expect_not(sw_spec_lr_pending(s));
  cr_assert_eq(sw_expand(s, &t, &n, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(n, 20);
  const double want[5] = {5e-4, 1e-3, 2e-3, 4e-3, 8e-3};
  for (int i = 0; i < 5; i++) {
    int hits = 0;
    for (size_t j = 0; j < n; j++) hits += t[j].config.optimizer.lr == want[i];
    cr_expect_eq(hits, 4, "lr %g: 2 weight decays x 2 seeds, got %d", want[i], hits);
  }
  sw_trials_free(t, n);
  cr_expect_eq(sw_spec_lr_resolve(s, 2e-3, &err), TR_EINVAL, "resolved once only");
  sw_spec_destroy(s);
}

Test(sw_spec, lr_find_errors_name_the_position_and_the_value) {
  const struct {
    const char *block, *want;
  } cases[] = {
      {"  lr_find: {factors: []}\n", "e.yaml:6:22: hpsweep.lr_find.factors: the list is empty"},
      {"  lr_find: {factors: [1, -2]}\n", "e.yaml:6:26: hpsweep.lr_find.factors: -2 is not positive"},
      {"  lr_find: {factors: [1, 0]}\n", "e.yaml:6:26: hpsweep.lr_find.factors: 0 is not positive"},
      {"  lr_find: {factors: [1, 1]}\n", "e.yaml:6:26: hpsweep.lr_find.factors: 1 is listed twice"},
      {"  lr_find: {suggestion: valey, factors: [1]}\n",
       "e.yaml:6:25: hpsweep.lr_find.suggestion: 'valey' is not a suggestion (expected steepest, min_div_10 or "
       "valley) (did you mean 'valley'?)"},
      {"  lr_find: {suggestion: valley}\n", "e.yaml:6:12: hpsweep.lr_find: missing 'factors'"},
      {"  lr_find: {factors: [1], start: 1, end: 0.1}\n", "e.yaml:6:12: hpsweep.lr_find: the ramp needs 0 < start < end"},
      {"  lr_find: {factors: [1], step: 10}\n", "e.yaml:6:27: unknown key 'step' in hpsweep.lr_find (did you mean "
                                              "'steps'?)"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    char text[512];
    snprintf(text, sizeof text, "method: grid\nparameters:\n  optimizer.weight_decay: {values: [0]}\n"
                                "# lr from the range test\nhpsweep:\n%s", cases[i].block);
    SwSpec *s = NULL;
    TrErr err = {0};
    cr_expect_eq(sw_spec_load(&s, put("e.yaml", text), &err), TR_EINVAL, "case %zu", i);
    cr_expect(strstr(err.msg, cases[i].want), "case %zu: %s", i, err.msg);
    sw_spec_destroy(s);
  }
  SwSpec *s = NULL;
  TrErr err = {0};
  cr_expect_eq(sw_spec_load(&s, put("both.yaml", "method: grid\nparameters:\n  optimizer.lr: {values: [0.1]}\n"
                                                 "hpsweep:\n  lr_find: {factors: [1, 2]}\n"), &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "both.yaml:3:3: parameter 'optimizer.lr' and hpsweep.lr_find (line 5) both set the "
                            "learning rate: keep one"), "%s", err.msg);
  sw_spec_destroy(s);
}

/* sw_spec_load_text (the fuzz harness's entry point): the same spec from memory as from its
** file, named by the path it is given (relative paths resolve against that path's directory);
** its errors name that path too, and bytes after a NUL do not sneak past the YAML parser. */
Test(sw_spec, a_spec_from_memory_loads_as_from_its_file) {
  const char *text = "name: mem\nmethod: grid\nparameters:\n  optimizer.lr: {values: [0.001, 0.01]}\n"
                     "hpsweep: {db: sub/x.db}\n";
  const char *p = put("mem.yaml", text);
  SwSpec *a = NULL, *b = NULL;
  TrErr err = {0};
  cr_assert_eq(sw_spec_load(&a, p, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(sw_spec_load_text(&b, p, text, strlen(text), &err), TR_OK, "%s", err.msg);
  cr_expect_str_eq(sw_spec_text(b), text);
  cr_expect_str_eq(sw_spec_db(b), sw_spec_db(a));
  cr_expect_str_eq(sw_spec_name(b), "mem");
  SwTrial *ta = NULL, *tb = NULL;
  size_t na = 0, nb = 0;
  cr_assert_eq(sw_expand(a, &ta, &na, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(sw_expand(b, &tb, &nb, &err), TR_OK, "%s", err.msg);
  char ha[17], hb[17];
  sw_sweep_hash(a, ta, na, ha);
  sw_sweep_hash(b, tb, nb, hb);
  cr_expect_str_eq(ha, hb);
  sw_trials_free(ta, na);
  sw_trials_free(tb, nb);
  sw_spec_destroy(a);
  sw_spec_destroy(b);
  static const char bad[] = "method: grid\nparameters:\n  optimizer.lr: {values: [0.001]}\n\0junk: [";
  cr_assert_neq(sw_spec_load_text(&b, p, bad, sizeof bad - 1, &err), TR_OK);
  cr_assert_null(b);
  cr_expect(strncmp(err.msg, p, strlen(p)) == 0, "the message names the path: %s", err.msg);
}
