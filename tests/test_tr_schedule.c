/*
** test_tr_schedule.c: lr schedules against torch.optim.lr_scheduler (golden file
** tests/golden/schedule_golden.txt, from gen_optim_golden.py) where torch has
** the schedule, and against their closed forms otherwise.
*/
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "tr_schedule.h"

/* torch steps most schedulers recursively (lr *= factor); the closed forms
** agree to ~1e-15 of the base lr over 200 steps (measured); allow 1e-12. */
#define SCHED_TOL 1e-12

static TrScheduleConfig sched_of(int name) {
  TrScheduleConfig s;
  memset(&s, 0, sizeof s);
  s.name = name;
  s.warmup_start_factor = 0.0;
  s.gamma = 0.5;
  s.step_size = 10;
  s.decay_fraction = 0.2;
  s.pct_start = 0.3;
  s.div_factor = 25.0;
  s.final_div_factor = 1e4;
  return s;
}

static int sched_name_parse(const char *n) {
  for (int i = TR_SCHED_CONSTANT; i <= TR_SCHED_ONE_CYCLE; i++)
    if (strcmp(tr_schedule_name(i), n) == 0) return i;
  cr_assert_fail("golden: unknown schedule '%s'", n);
  return -1;
}

static void apply_kv(TrScheduleConfig *s, const char *kv) {
  char key[64];
  const char *eq = strchr(kv, '=');
  cr_assert(eq && eq - kv < 63, "golden: bad key=value '%s'", kv);
  memcpy(key, kv, (size_t)(eq - kv));
  key[eq - kv] = '\0';
  const char *v = eq + 1;
  if (strcmp(key, "step_size") == 0) s->step_size = atoi(v);
  else if (strcmp(key, "gamma") == 0) s->gamma = atof(v);
  else if (strcmp(key, "min_lr") == 0) s->min_lr = atof(v);
  else if (strcmp(key, "decay_steps") == 0) s->decay_steps = atoi(v);
  else if (strcmp(key, "max_lr") == 0) s->max_lr = atof(v);
  else if (strcmp(key, "pct_start") == 0) s->pct_start = atof(v);
  else if (strcmp(key, "div_factor") == 0) s->div_factor = atof(v);
  else if (strcmp(key, "final_div_factor") == 0) s->final_div_factor = atof(v);
  else if (strcmp(key, "warmup_steps") == 0) s->warmup_steps = atoi(v);
  else if (strcmp(key, "warmup_start_factor") == 0) s->warmup_start_factor = atof(v);
  else if (strcmp(key, "milestones") == 0) {
    s->n_milestones = 0;
    for (const char *p = v; *p && s->n_milestones < TR_MAX_MILESTONES;) {
      s->milestones[s->n_milestones++] = (int)strtol(p, (char **)&p, 10);
      if (*p == ',') p++;
    }
  } else cr_assert_fail("golden: unknown key '%s'", key);
}

Test(tr_schedule, matches_torch_lr_scheduler_at_every_step_of_200_step_runs) {
  char path[2048];
  snprintf(path, sizeof path, "%s/tests/golden/schedule_golden.txt", HPS_SOURCE_ROOT);
  FILE *f = fopen(path, "r");
  cr_assert(f, "cannot open %s", path);
  char word[128], name[64];
  int cases = 0;
  double worst = 0;
  while (fscanf(f, "%127s", word) == 1) {
    cr_assert_str_eq(word, "sched");
    long long total;
    double base;
    cr_assert_eq(fscanf(f, "%63s %lld %lf", name, &total, &base), 3);
    TrScheduleConfig s = sched_of(sched_name_parse(name));
    char desc[512] = "";
    while (fscanf(f, "%127s", word) == 1 && strcmp(word, ":") != 0) {
      apply_kv(&s, word);
      strncat(desc, word, sizeof desc - strlen(desc) - 2);
      strcat(desc, " ");
    }
    TrErr err = {0};
    cr_assert_eq(tr_schedule_check(&s, base, total, &err), TR_OK, "%s %s: %s", name, desc, err.msg);
    for (long long k = 0; k < total; k++) {
      double want;
      cr_assert_eq(fscanf(f, "%lf", &want), 1, "golden: short line for %s %s", name, desc);
      double got = tr_schedule_lr(&s, base, k, total);
      if (s.name == TR_SCHED_COSINE && s.decay_steps > 0 && k > s.warmup_steps + s.decay_steps) {
        /* torch's CosineAnnealingLR climbs back after T_max; ours holds min_lr. */
        cr_assert_eq(got, s.min_lr, "%s %s step %lld: %.17g after the decay", name, desc, k, got);
        continue;
      }
      double d = fabs(got - want) / base;
      if (d > worst) worst = d;
      cr_assert(d <= SCHED_TOL, "%s %s step %lld: lr %.17g, torch %.17g", name, desc, k, got, want);
    }
    cases++;
  }
  fclose(f);
  cr_assert_eq(cases, 10, "expected 10 golden schedules, read %d", cases);
  cr_log_info("worst difference to torch, relative to the base lr: %.3g", worst);
}

Test(tr_schedule, warmup_ramps_linearly_from_start_factor_then_hands_over_at_step_w) {
  TrScheduleConfig s = sched_of(TR_SCHED_CONSTANT);
  s.warmup_steps = 10;
  s.warmup_start_factor = 0.1;
  for (int k = 0; k < 10; k++)
    cr_assert_float_eq(tr_schedule_lr(&s, 2.0, k, 100), 2.0 * (0.1 + 0.9 * k / 10.0), 1e-15, "step %d", k);
  cr_assert_eq(tr_schedule_lr(&s, 2.0, 10, 100), 2.0);
  /* Milestones and step_size count from the end of warm-up. */
  s = sched_of(TR_SCHED_MULTISTEP);
  s.warmup_steps = 10;
  s.n_milestones = 1;
  s.milestones[0] = 5;
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 14, 100), 1.0);
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 15, 100), 0.5);
}

Test(tr_schedule, cosine_and_linear_hold_min_lr_after_decay_steps) {
  TrScheduleConfig s = sched_of(TR_SCHED_COSINE);
  s.min_lr = 0.01;
  s.decay_steps = 50;
  s.warmup_steps = 5;
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 5, 0), 1.0, "decay_steps makes the run length unnecessary");
  cr_assert_float_eq(tr_schedule_lr(&s, 1.0, 5 + 25, 0), 0.505, 1e-15);
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 5 + 50, 0), 0.01);
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 5000, 0), 0.01);
  s.name = TR_SCHED_LINEAR;
  cr_assert_float_eq(tr_schedule_lr(&s, 1.0, 5 + 10, 0), 1.0 - 0.99 * 0.2, 1e-15);
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 999, 0), 0.01);
}

Test(tr_schedule, inverse_sqrt_decays_as_sqrt_of_warmup_over_step) {
  TrScheduleConfig s = sched_of(TR_SCHED_INVERSE_SQRT);
  s.warmup_steps = 100;
  s.warmup_start_factor = 0.0;
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 0, 1000), 0.0);
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 100, 1000), 1.0);
  cr_assert_float_eq(tr_schedule_lr(&s, 1.0, 400, 1000), 0.5, 1e-15);
  cr_assert_float_eq(tr_schedule_lr(&s, 1.0, 10000, 0), 0.1, 1e-15);
  s.warmup_steps = 0;
  cr_assert_float_eq(tr_schedule_lr(&s, 1.0, 3, 0), 0.5, 1e-15); /* base / sqrt(1 + step) */
}

Test(tr_schedule, wsd_holds_then_decays_over_the_final_fraction_to_min_lr_at_the_last_step) {
  for (int shape = TR_SHAPE_LINEAR; shape <= TR_SHAPE_COSINE; shape++) {
    TrScheduleConfig s = sched_of(TR_SCHED_WSD);
    s.warmup_steps = 10;
    s.decay_fraction = 0.2; /* 20 of 100 steps: 80..99 */
    s.decay_shape = shape;
    s.min_lr = 0.1;
    cr_assert_eq(tr_schedule_check(&s, 1.0, 100, NULL), TR_OK);
    for (int k = 10; k < 80; k++) cr_assert_eq(tr_schedule_lr(&s, 1.0, k, 100), 1.0, "stable at %d", k);
    double prev = 1.0;
    for (int k = 80; k < 100; k++) {
      double lr = tr_schedule_lr(&s, 1.0, k, 100);
      cr_assert(lr < prev && lr >= 0.1, "shape %d step %d: %g after %g", shape, k, lr, prev);
      prev = lr;
    }
    cr_assert_float_eq(prev, 0.1, 1e-15, "min_lr at the last step");
    double mid = tr_schedule_lr(&s, 1.0, 89, 100); /* p = 10/20 */
    cr_assert_float_eq(mid, 0.55, 1e-15, "half way: %g", mid);
  }
}

Test(tr_schedule, one_cycle_keeps_its_final_lr_past_the_run) {
  TrScheduleConfig s = sched_of(TR_SCHED_ONE_CYCLE);
  double last = tr_schedule_lr(&s, 1.0, 99, 100);
  cr_assert_float_eq(last, 1.0 / 25 / 1e4, 1e-18);
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 150, 100), last);
  cr_assert_float_eq(tr_schedule_lr(&s, 1.0, 0, 100), 1.0 / 25, 1e-16);
}

Test(tr_schedule, step_exponential_and_constant_closed_forms) {
  TrScheduleConfig s = sched_of(TR_SCHED_STEP);
  s.step_size = 10;
  s.gamma = 0.1;
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 9, 0), 1.0);
  cr_assert_float_eq(tr_schedule_lr(&s, 1.0, 25, 0), 0.01, 1e-17);
  s.name = TR_SCHED_EXPONENTIAL;
  s.gamma = 0.5;
  cr_assert_eq(tr_schedule_lr(&s, 1.0, 3, 0), 0.125);
  s.name = TR_SCHED_CONSTANT;
  cr_assert_eq(tr_schedule_lr(&s, 3e-4, 12345, 0), 3e-4);
}

static void expect_error(const TrScheduleConfig *s, double base, long long T, const char *needle) {
  TrErr err = {0};
  cr_assert_eq(tr_schedule_check(s, base, T, &err), TR_EINVAL, "expected an error containing '%s'", needle);
  cr_assert(strstr(err.msg, needle), "error '%s' lacks '%s'", err.msg, needle);
}

Test(tr_schedule, check_names_the_key_and_value) {
  TrScheduleConfig s = sched_of(TR_SCHED_MULTISTEP);
  s.n_milestones = 2;
  s.milestones[0] = 30;
  s.milestones[1] = 10;
  expect_error(&s, 0.1, 100, "schedule.milestones: must be positive and strictly increasing, got [30, 10]");
  s.n_milestones = 0;
  expect_error(&s, 0.1, 100, "schedule.milestones");

  s = sched_of(TR_SCHED_COSINE);
  expect_error(&s, 0.1, 0, "schedule.name: cosine needs the run length");
  s.decay_steps = 100;
  cr_assert_eq(tr_schedule_check(&s, 0.1, 0, NULL), TR_OK);
  s.min_lr = 0.5;
  expect_error(&s, 0.1, 0, "schedule.min_lr: 0.5 is above the base lr 0.1");

  s = sched_of(TR_SCHED_ONE_CYCLE);
  s.warmup_steps = 10;
  expect_error(&s, 0.1, 100, "schedule.warmup_steps: one_cycle warms up over pct_start; must be 0, got 10");
  s.warmup_steps = 0;
  s.pct_start = 0.01;
  expect_error(&s, 0.1, 100, "schedule.pct_start: 0.01");
  s.pct_start = 1.0;
  expect_error(&s, 0.1, 100, "schedule.pct_start: must be in [0, 1), got 1");

  s = sched_of(TR_SCHED_WSD);
  s.warmup_steps = 90;
  s.decay_fraction = 0.2;
  expect_error(&s, 0.1, 100, "schedule.decay_fraction: 0.2 of the 100-step run (20 steps) overlaps the 90 warm-up steps");
  expect_error(&s, 0.1, 0, "schedule.name: wsd needs the run length");

  s = sched_of(TR_SCHED_STEP);
  s.step_size = 0;
  expect_error(&s, 0.1, 100, "schedule.step_size: must be >= 1, got 0");
  s = sched_of(TR_SCHED_EXPONENTIAL);
  s.gamma = -1;
  expect_error(&s, 0.1, 100, "schedule.gamma: must be > 0, got -1");
  s = sched_of(TR_SCHED_CONSTANT);
  s.warmup_steps = 100;
  expect_error(&s, 0.1, 100, "schedule.warmup_steps: 100 leaves no steps of the 100-step run");
  s.warmup_steps = 10;
  s.warmup_start_factor = 1.5;
  expect_error(&s, 0.1, 100, "schedule.warmup_start_factor");
  expect_error(&s, 0.0, 100, "optimizer.lr: must be > 0, got 0");
}

/* ---- `hpsweep schedule` (the CLI on top of this module) ---------------------- */

static int run_cli(const char *args, char *out, size_t n) {
  const char *bin = getenv("HPS_BIN");
  cr_assert(bin, "HPS_BIN is not set");
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "'%s' schedule %s 2>&1", bin, args);
  FILE *p = popen(cmd, "r");
  cr_assert(p, "popen %s", cmd);
  size_t k = fread(out, 1, n - 1, p);
  out[k] = '\0';
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

Test(cmd_schedule, prints_table_and_curve_within_80_columns) {
  static char out[65536];
  int rc = run_cli("--set schedule.name=step --set schedule.step_size=100 --set schedule.gamma=0.5 "
                   "--set optimizer.lr=0.001 --set optimizer.lr_scaling=none --steps 300 --rows 4",
                   out, sizeof out);
  cr_assert_eq(rc, 0, "exit %d:\n%s", rc, out);
  cr_assert(strstr(out, "schedule step over 300 steps"), "%s", out);
  cr_assert(strstr(out, "           0  1.0000e-03"), "%s", out);
  cr_assert(strstr(out, "         299  2.5000e-04"), "%s", out);
  cr_assert(strstr(out, "1.000e-03 |*"), "curve starts at the peak:\n%s", out);
  int lines = 0;
  for (char *l = out; *l; lines++) {
    char *e = strchr(l, '\n');
    size_t len = e ? (size_t)(e - l) : strlen(l);
    cr_assert(len <= 80, "line %d is %zu columns: %.*s", lines, len, (int)len, l);
    l = e ? e + 1 : l + len;
  }
  cr_assert(lines > 15);
}

Test(cmd_schedule, bad_schedule_exits_2_naming_the_key) {
  static char out[8192];
  int rc = run_cli("--set schedule.name=one_cycle --set schedule.warmup_steps=10 --steps 100", out, sizeof out);
  cr_assert_eq(rc, 2, "exit %d:\n%s", rc, out);
  cr_assert(strstr(out, "hpsweep schedule: ") && strstr(out, "schedule.warmup_steps"), "%s", out);
  rc = run_cli("--steps many", out, sizeof out);
  cr_assert_eq(rc, 2);
  cr_assert(strstr(out, "--steps") && strstr(out, "many"), "%s", out);
}
