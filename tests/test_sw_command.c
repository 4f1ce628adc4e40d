/* sw_command: W&B command macros expand to the argv the W&B agent would build, values
** formatted as Python's str()/repr()/json.dumps (tables from tests/golden/gen_wandb_args.py,
** made with python3; these tests need no Python). */
#include <criterion/criterion.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "hps_test.h"
#include "sw_command.h"

#define ROOT_FILE(name) HPS_SOURCE_ROOT "/tests/golden/" name

/* Build with template t (n elements), program, params; assert success; owned argv. */
static char **build(const char *const *t, size_t n, const char *program, const char *params, const char *run_dir,
                    size_t *argc) {
  SwCommandIn in = {.tmpl = t, .n_tmpl = n, .program = program, .params_json = params, .run_dir = run_dir};
  char **argv = NULL;
  TrErr err = {0};
  int rc = sw_command_build(&in, &argv, argc, &err);
  cr_assert_eq(rc, TR_OK, "build failed: %s", err.msg);
  cr_assert_not_null(argv);
  return argv;
}

/* Build expecting failure; returns the message (static). */
static const char *build_fails(const char *const *t, size_t n, const char *program, const char *params, int code) {
  static TrErr err;
  SwCommandIn in = {.tmpl = t, .n_tmpl = n, .program = program, .params_json = params, .run_dir = "/tmp"};
  char **argv = (char **)1;
  memset(&err, 0, sizeof err);
  int rc = sw_command_build(&in, &argv, NULL, &err);
  cr_assert_eq(rc, code, "expected code %d, got %d (%s)", code, rc, err.msg);
  cr_assert_null(argv);
  cr_assert(strlen(err.msg) > 0 && !strchr(err.msg, '\n'), "one-line message: '%s'", err.msg);
  return err.msg;
}

/* argv equals the NULL-terminated list want. */
static void expect_argv(char **argv, const char *const *want) {
  size_t i = 0;
  for (; want[i]; i++) {
    cr_assert_not_null(argv[i], "argv too short at %zu: want '%s'", i, want[i]);
    cr_assert_str_eq(argv[i], want[i], "argv[%zu]", i);
  }
  cr_assert_null(argv[i], "argv too long: extra '%s'", argv[i] ? argv[i] : "");
}

#define T(...) ((const char *const[]){__VA_ARGS__})
#define NT(...) (sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))
#define ARGV(...) ((const char *const[]){__VA_ARGS__, NULL})

static const char *const BRIEF = "{\"lr\": 0.001, \"batch_size\": 32, \"use_bn\": true, \"layers\": [64, 64], "
                                 "\"opt\": {\"name\": \"adam\", \"beta\": 0.9}}";

Test(sw_command, default_template_is_env_interpreter_program_args) {
  size_t argc = 0;
  char **a = build(NULL, 0, "train.py", BRIEF, NULL, &argc);
  expect_argv(a, ARGV("/usr/bin/env", "python3", "train.py", "--batch_size=32", "--layers=[64, 64]", "--lr=0.001",
                      "--opt={'beta': 0.9, 'name': 'adam'}", "--use_bn=True"));
  cr_assert_eq(argc, 8);
  sw_command_free(a);
  /* an empty list is the default too, as W&B's `command or DEFAULT` */
  a = build(T(NULL), 0, "train.py", "{}", NULL, NULL);
  expect_argv(a, ARGV("/usr/bin/env", "python3", "train.py"));
  sw_command_free(a);
}

Test(sw_command, interpreter_is_python3_for_py_and_nothing_otherwise) {
  cr_assert_str_eq(sw_command_interpreter("dir/train.py"), "python3");
  cr_assert_null(sw_command_interpreter("train.sh"));
  cr_assert_null(sw_command_interpreter("./a.out"));
  cr_assert_null(sw_command_interpreter(".py"), "a bare '.py' has no name before the extension");
  cr_assert_null(sw_command_interpreter(NULL));
  char **a = build(NULL, 0, "./train.sh", "{\"x\": 1}", NULL, NULL);
  expect_argv(a, ARGV("/usr/bin/env", "./train.sh", "--x=1"));
  sw_command_free(a);
  /* an explicit interpreter wins; "" means none */
  SwCommandIn in = {.program = "t.py", .interpreter = "/opt/py/bin/python", .params_json = "{}"};
  char **b = NULL;
  cr_assert_eq(sw_command_build(&in, &b, NULL, NULL), TR_OK);
  expect_argv(b, ARGV("/usr/bin/env", "/opt/py/bin/python", "t.py"));
  sw_command_free(b);
  in.interpreter = "";
  cr_assert_eq(sw_command_build(&in, &b, NULL, NULL), TR_OK);
  expect_argv(b, ARGV("/usr/bin/env", "t.py"));
  sw_command_free(b);
}

Test(sw_command, every_parameter_macro) {
  const char *p = "{\"lr\": 1e-05, \"bn\": false, \"drop\": true, \"name\": \"big model\"}";
  char **a = build(T("${args}"), 1, NULL, p, NULL, NULL);
  expect_argv(a, ARGV("--bn=False", "--drop=True", "--lr=1e-05", "--name=big model"));
  sw_command_free(a);
  a = build(T("${args_no_hyphens}"), 1, NULL, p, NULL, NULL);
  expect_argv(a, ARGV("bn=False", "drop=True", "lr=1e-05", "name=big model"));
  sw_command_free(a);
  a = build(T("${args_no_boolean_flags}"), 1, NULL, p, NULL, NULL);
  expect_argv(a, ARGV("--drop", "--lr=1e-05", "--name=big model"));
  sw_command_free(a);
  a = build(T("${args_no_equals}"), 1, NULL, p, NULL, NULL);
  expect_argv(a, ARGV("--bn", "False", "--drop", "True", "--lr", "1e-05", "--name", "big model"));
  sw_command_free(a);
  a = build(T("${args_json}"), 1, NULL, p, NULL, NULL);
  expect_argv(a, ARGV("{\"bn\": false, \"drop\": true, \"lr\": 1e-05, \"name\": \"big model\"}"));
  sw_command_free(a);
}

Test(sw_command, env_program_and_literals_in_a_custom_template) {
  char **a = build(T("${env}", "python3", "-u", "${program}", "--epochs", "3", "${args}"), 7, "train.py",
                   "{\"b\": 2, \"a\": 1}", NULL, NULL);
  expect_argv(a, ARGV("/usr/bin/env", "python3", "-u", "train.py", "--epochs", "3", "--a=1", "--b=2"));
  sw_command_free(a);
  /* a template of literals only: no parameters passed at all, as W&B */
  a = build(T("echo", "hi"), 2, NULL, "{\"a\": 1}", NULL, NULL);
  expect_argv(a, ARGV("echo", "hi"));
  sw_command_free(a);
}

Test(sw_command, args_json_file_is_written_atomically_and_passed_by_path) {
  char dir[PATH_MAX], want[PATH_MAX + 32];
  hps_tmp_make(dir, sizeof dir, "swcmd");
  char **a = build(T("${program}", "--config", "${args_json_file}"), 3, "./prog", BRIEF, dir, NULL);
  snprintf(want, sizeof want, "%s/args.json", dir);
  expect_argv(a, ARGV("./prog", "--config", want));
  char *text = hps_slurp(want, NULL);
  cr_assert_str_eq(text, "{\"batch_size\": 32, \"layers\": [64, 64], \"lr\": 0.001, \"opt\": {\"beta\": 0.9, "
                         "\"name\": \"adam\"}, \"use_bn\": true}",
                   "json.dumps text, no newline");
  free(text);
  sw_command_free(a);
  /* rebuilt for a retry: replaced whole, no temp files left beside it */
  a = build(T("${args_json_file}"), 1, NULL, "{\"x\": 2}", dir, NULL);
  text = hps_slurp(want, NULL);
  cr_assert_str_eq(text, "{\"x\": 2}");
  free(text);
  sw_command_free(a);
  char ls[PATH_MAX + 64];
  snprintf(ls, sizeof ls, "test $(ls -A '%s' | wc -l) -eq 1", dir);
  cr_assert_eq(system(ls), 0, "only args.json in the run directory");
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

Test(sw_command, args_json_file_no_write_gives_the_path_only) {
  char dir[PATH_MAX], path[PATH_MAX + 32];
  hps_tmp_make(dir, sizeof dir, "swcmd");
  SwCommandIn in = {.tmpl = T("${args_json_file}"), .n_tmpl = 1, .params_json = "{}", .run_dir = dir, .no_write = 1};
  char **a = NULL;
  cr_assert_eq(sw_command_build(&in, &a, NULL, NULL), TR_OK);
  snprintf(path, sizeof path, "%s/args.json", dir);
  expect_argv(a, ARGV(path));
  struct stat st;
  cr_assert_neq(stat(path, &st), 0, "nothing written with no_write");
  sw_command_free(a);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

Test(sw_command, args_json_file_failures) {
  SwCommandIn in = {.tmpl = T("${args_json_file}"), .n_tmpl = 1, .params_json = "{}"};
  char **a = NULL;
  TrErr err = {0};
  cr_assert_eq(sw_command_build(&in, &a, NULL, &err), TR_EINVAL);
  cr_assert(strstr(err.msg, "run directory"), "%s", err.msg);
  in.run_dir = "/nonexistent/hpsweep/dir";
  cr_assert_eq(sw_command_build(&in, &a, NULL, &err), TR_EIO);
  cr_assert_null(a);
}

Test(sw_command, embedded_macros_pass_unchanged_as_wandb) {
  const char *const t[] = {"${program}", "--cfg=${args_json_file}", "x${args}", "${envvar:HPS_T_EMB}/bin"};
  setenv("HPS_T_EMB", "/opt", 1);
  char **a = build(t, 4, "p", "{\"a\": 1}", NULL, NULL);
  expect_argv(a, ARGV("p", "--cfg=${args_json_file}", "x${args}", "/opt/bin"));
  sw_command_free(a);
  char note[256];
  cr_assert_eq(sw_command_lint(t, 4, note, sizeof note), 2);
  cr_assert(strstr(note, "element 2") && strstr(note, "--cfg=${args_json_file}"), "%s", note);
  cr_assert_eq(sw_command_lint(NULL, 0, note, sizeof note), 0);
  cr_assert_str_eq(note, "");
}

Test(sw_command, envvar_macro_is_substituted_anywhere) {
  setenv("HPS_T_DATA", "/data/x", 1);
  unsetenv("HPS_T_UNSET");
  char **a = build(T("--data=${envvar:HPS_T_DATA}", "${envvar:HPS_T_UNSET}", "x${envvar:lower}",
                     "${envvar:HPS_T_DATA}${envvar:HPS_T_DATA}"), 4, NULL, "{}", NULL, NULL);
  expect_argv(a, ARGV("--data=/data/x", "HPS_T_UNSET", "x${envvar:lower}", "/data/x/data/x"));
  sw_command_free(a);
  /* NAME is [A-Z0-9_]: a whole element "${envvar:lower}" is no envvar, so an unknown macro */
  build_fails(T("${envvar:lower}"), 1, NULL, "{}", TR_EINVAL);
}

Test(sw_command, unknown_macro_is_a_one_line_error_naming_it) {
  const char *msg = build_fails(T("${env}", "${prgram}"), 2, "p", "{}", TR_EINVAL);
  cr_assert(strstr(msg, "${prgram}") && strstr(msg, "element 2"), "%s", msg);
  TrErr err = {0};
  cr_assert_eq(sw_command_check(T("${args}", "${args_dict}"), 2, &err), TR_EINVAL);
  cr_assert(strstr(err.msg, "unknown command macro ${args_dict}"), "%s", err.msg);
  cr_assert_eq(sw_command_check(T("${}"), 1, &err), TR_EINVAL);
  cr_assert_eq(sw_command_check(NULL, 0, &err), TR_OK);
  cr_assert_eq(sw_command_check(T("${env}", "${interpreter}", "${program}", "${args}", "${args_no_equals}",
                                  "${args_no_hyphens}", "${args_no_boolean_flags}", "${args_json}",
                                  "${args_json_file}", "--x=${foo}", "${envvar:HOME}"),
                                11, &err),
               TR_OK, "%s", err.msg);
}

Test(sw_command, program_macro_without_a_program_is_an_error) {
  const char *msg = build_fails(NULL, 0, NULL, "{}", TR_EINVAL);
  cr_assert(strstr(msg, "${program}"), "%s", msg);
}

Test(sw_command, value_types_format_as_python_str) {
  const char *p = "{\"i\": 7, \"neg\": -3, \"negz\": -0, \"big\": 123456789012345678901234567890, "
                  "\"f\": 100.0, \"tiny\": 1e-05, \"huge\": 1e16, \"nf\": -2.5e-07, \"t\": true, \"fl\": false, "
                  "\"s\": \"it's \\\"q\\\" a b\", \"l\": [1, \"a\", null, 1.5, [true]], "
                  "\"d\": {\"z\": null, \"a\": {\"k\": []}}, \"nl\": \"a\\nb\\tc\"}";
  char **a = build(T("${args}"), 1, NULL, p, NULL, NULL);
  expect_argv(a, ARGV("--big=123456789012345678901234567890", "--d={'a': {'k': []}, 'z': None}", "--f=100.0",
                      "--fl=False", "--huge=1e+16", "--i=7", "--l=[1, 'a', None, 1.5, [True]]", "--neg=-3",
                      "--negz=0", "--nf=-2.5e-07", "--nl=a\nb\tc", "--s=it's \"q\" a b", "--t=True",
                      "--tiny=1e-05"));
  sw_command_free(a);
  /* no shell: spaces, quotes and newlines stay inside one argv element */
  a = build(T("${args_json}"), 1, NULL, "{\"nl\": \"a\\nb\\tc\\u0001\", \"l\": [\"x\\ny\"]}", NULL, NULL);
  expect_argv(a, ARGV("{\"l\": [\"x\\ny\"], \"nl\": \"a\\nb\\tc\\u0001\"}"));
  sw_command_free(a);
  a = build(T("${args}"), 1, NULL, "{\"l\": [\"x\\ny\\t\\r\\\\\", \"'\", \"'\\\"\"]}", NULL, NULL);
  expect_argv(a, ARGV("--l=['x\\ny\\t\\r\\\\', \"'\", '\\'\"']"));
  sw_command_free(a);
}

Test(sw_command, non_finite_floats_as_python) {
  char **a = build(T("${args}", "${args_json}"), 2, NULL, "{\"a\": 1e999, \"b\": -1e999}", NULL, NULL);
  expect_argv(a, ARGV("--a=inf", "--b=-inf", "{\"a\": Infinity, \"b\": -Infinity}"));
  sw_command_free(a);
  char t[16];
  sw_py_float_repr(t, sizeof t, NAN);
  cr_assert_str_eq(t, "nan");
}

Test(sw_command, top_level_null_is_an_error_as_in_wandb) {
  const char *msg = build_fails(T("${args_json}"), 1, NULL, "{\"a\": 1, \"b\": null}", TR_EINVAL);
  cr_assert(strstr(msg, "\"b\"") && strstr(msg, "null"), "%s", msg);
}

Test(sw_command, bad_parameters_json_is_an_error) {
  const char *bad[] = {"[1]", "{\"a\": }", "{\"a\": 1,}", "{\"a\": 1} x", "{\"a\": 01}", "{\"a\": \"\\u0000\"}",
                       "{\"a\": \"\\ud800\"}", "{\"a\": 1, \"a\": 2}", "{\"a\": \"\x01\"}", "{\"a\": \"\xff\"}",
                       "{\"a\": tru}", "{\"a\": 1.}", "{\"a\": \"x}"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) build_fails(T("${args}"), 1, NULL, bad[i], TR_EINVAL);
  char deep[400] = "{\"a\": ";
  for (int i = 0; i < 100; i++) strcat(deep, "[");
  build_fails(T("${args}"), 1, NULL, deep, TR_EINVAL);
}

Test(sw_command, parameters_sorted_by_name_as_wandb_sweeps) {
  /* Python's sorted(): code point order: upper case before '_' before lower case, then non-ASCII */
  char **a = build(T("${args_no_hyphens}"), 1, NULL,
                   "{\"b\": 1, \"a_b\": 2, \"B\": 3, \"\\u00e9\": 4, \"a.b\": 5, \"_x\": 6, \"a\": 7}", NULL, NULL);
  expect_argv(a, ARGV("B=3", "_x=6", "a=7", "a.b=5", "a_b=2", "b=1", "\xc3\xa9=4"));
  sw_command_free(a);
}

Test(sw_command, display_quotes_for_the_shell_only) {
  char *const argv[] = {"/usr/bin/env", "python3", "--name=big model", "--q=it's", "", "--lr=0.001",
                        "--s=it's \"q\"", "--opt={'beta': 0.9}", NULL};
  char *s = sw_command_display(argv);
  cr_assert_str_eq(s, "/usr/bin/env python3 '--name=big model' \"--q=it's\" '' --lr=0.001 '--s=it'\\''s \"q\"' "
                      "\"--opt={'beta': 0.9}\"");
  free(s);
}

Test(sw_command, display_reads_back_through_sh_as_the_same_argv) {
  char **a = build(T("${env}", "${program}", "${args}", "${args_json}"), 4, "my prog",
                   "{\"s\": \"it's \\\"q\\\" $HOME `x` \\\\ !\", \"o\": {\"k\": \"v\"}, \"e\": \"\"}", NULL, NULL);
  char *line = sw_command_display(a);
  cr_assert_not_null(line);
  char *cmd = NULL;
  cr_assert(asprintf(&cmd, "printf '%%s\\0' %s", line) > 0);
  FILE *p = popen(cmd, "r");
  cr_assert_not_null(p);
  char out[4096];
  size_t n = fread(out, 1, sizeof out, p), off = 0, i = 0;
  cr_assert_eq(pclose(p), 0, "sh rejected: %s", cmd);
  for (; a[i]; i++) {
    cr_assert_lt(off, n, "sh gave fewer arguments than argv (%zu)", i);
    cr_assert_str_eq(out + off, a[i], "argument %zu of: %s", i, line);
    off += strlen(a[i]) + 1;
  }
  cr_assert_eq(off, n, "sh gave more arguments than argv");
  free(cmd);
  free(line);
  sw_command_free(a);
}

/* The golden table: every double's repr as Python 3 prints it. */
Test(sw_command, float_repr_matches_python_table) {
  FILE *f = fopen(ROOT_FILE("py_float_repr.txt"), "r");
  cr_assert_not_null(f, "tests/golden/py_float_repr.txt missing");
  char line[128], got[64];
  size_t n = 0;
  while (fgets(line, sizeof line, f)) {
    unsigned long long bits;
    char want[64];
    cr_assert_eq(sscanf(line, "%llx %63s", &bits, want), 2, "bad line %s", line);
    uint64_t b = bits;
    double v;
    memcpy(&v, &b, sizeof v);
    int k = sw_py_float_repr(got, sizeof got, v);
    cr_assert_str_eq(got, want, "bits %016llx", bits);
    cr_assert_eq((size_t)k, strlen(want));
    n++;
  }
  fclose(f);
  cr_assert_gt(n, 5000, "only %zu values", n);
}

Test(sw_command, float_repr_examples) {
  static const struct { double v; const char *s; } ex[] = {
      {0.001, "0.001"}, {1e-05, "1e-05"}, {0.0001, "0.0001"}, {100.0, "100.0"}, {1e16, "1e+16"},
      {1e15, "1000000000000000.0"}, {123456789012345678.0, "1.2345678901234568e+17"}, {-0.0, "-0.0"},
      {0.1 + 0.2, "0.30000000000000004"}, {5e-324, "5e-324"}, {1.7976931348623157e308, "1.7976931348623157e+308"}};
  char t[64];
  for (size_t i = 0; i < sizeof ex / sizeof ex[0]; i++) {
    sw_py_float_repr(t, sizeof t, ex[i].v);
    cr_assert_str_eq(t, ex[i].s);
  }
  cr_assert_eq(sw_py_float_repr(t, 4, 0.001), 5, "snprintf style: the length it needs");
  cr_assert_str_eq(t, "0.0");
}

/* One block of wandb_args.txt against the build of each macro. */
static void check_case(const char *params, char **kinds, char **vals, size_t n) {
  static const struct { const char *kind, *macro; } km[] = {{"args", "${args}"},
                                                           {"no_hyphens", "${args_no_hyphens}"},
                                                           {"no_boolean", "${args_no_boolean_flags}"},
                                                           {"no_equals", "${args_no_equals}"},
                                                           {"json", "${args_json}"}};
  for (size_t m = 0; m < sizeof km / sizeof km[0]; m++) {
    size_t argc = 0, j = 0;
    char **a = build(T(km[m].macro), 1, NULL, params, NULL, &argc);
    for (size_t i = 0; i < n; i++) {
      if (strcmp(kinds[i], km[m].kind)) continue;
      cr_assert_lt(j, argc, "%s of %s: too few", km[m].kind, params);
      cr_assert_str_eq(a[j], vals[i], "%s of %s, element %zu", km[m].kind, params, j);
      j++;
    }
    cr_assert_eq(j, argc, "%s of %s: %zu elements, want %zu", km[m].kind, params, argc, j);
    sw_command_free(a);
  }
}

Test(sw_command, every_macro_matches_python_table) {
  size_t len = 0, cases = 0;
  char *text = hps_slurp(ROOT_FILE("wandb_args.txt"), &len);
  char *kinds[256], *vals[256], *params = NULL;
  size_t n = 0;
  for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
    if (!strncmp(line, "case ", 5)) {
      params = line + 5, n = 0;
    } else if (!strcmp(line, "end")) {
      cr_assert_not_null(params);
      check_case(params, kinds, vals, n);
      cases++;
    } else {
      char *tab = strchr(line, '\t');
      cr_assert(tab && n < 256, "bad line %s", line);
      *tab = '\0';
      kinds[n] = line, vals[n++] = tab + 1;
    }
  }
  free(text);
  cr_assert_geq(cases, 8);
}
