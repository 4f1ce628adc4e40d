/*
** cmd_schedule.c: `hpsweep schedule [CONFIG.yaml] [--set key=value ...] [--steps N]
** [--width W] [--rows R]`: the learning rate of every step of a run, as a table
** and an ASCII curve, so a schedule can be seen before compute is spent on it.
*/
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tr_alloc.h"
#include "tr_config.h"
#include "tr_optim.h"
#include "tr_schedule.h"
#include "tr_sort.h"

#define PLOT_HEIGHT 11 /* odd: the middle row is exactly half the peak */
#define Y_MARGIN 11 /* "1.234e-03 |" */

static const char usage[] =
    "usage: hpsweep schedule [CONFIG.yaml] [--set key=value ...] [--steps N] [--width W] [--rows R]\n"
    "\n"
    "Print the learning rate over a run: a table of R steps and an ASCII curve\n"
    "W columns wide. The run length is train.max_steps, or train.max_tokens /\n"
    "(batch_size * context_length) when that is shorter; --steps N replaces both.\n"
    "The base lr is optimizer.lr scaled by optimizer.lr_scaling for train.batch_size.\n"
    "\n"
    "options:\n"
    "  --set key=value  override a config key (repeatable), e.g. --set schedule.name=wsd\n"
    "  --steps N        run length in optimizer steps\n"
    "  --width W        width of the output in columns (40..400, default 80)\n"
    "  --rows R         rows of the table (2..1000, default 16)\n";

static void plot(const TrScheduleConfig *s, double base, int64_t T, int width, double hi) {
  int w = width - Y_MARGIN - 1;
  char grid[PLOT_HEIGHT][400];
  for (int r = 0; r < PLOT_HEIGHT; r++) memset(grid[r], ' ', (size_t)w);
  int prev = -1;
  for (int x = 0; x < w; x++) {
    /* Column x shows step x*(T-1)/(w-1): the first and last columns are the first and last steps. */
    int64_t step = w > 1 ? (int64_t)llround((double)x * (double)(T - 1) / (double)(w - 1)) : 0;
    double lr = tr_schedule_lr(s, base, step, T);
    int r = (int)lround(lr / hi * (PLOT_HEIGHT - 1));
    if (r < 0) r = 0;
    if (r > PLOT_HEIGHT - 1) r = PLOT_HEIGHT - 1;
    /* Join a jump to the previous column so steps and drops read as lines. */
    int lo = r, top = r;
    if (prev >= 0 && prev > r + 1) top = prev - 1;
    if (prev >= 0 && prev < r - 1) lo = prev + 1;
    for (int k = lo; k <= top; k++) grid[k][x] = '*';
    prev = r;
  }
  for (int r = PLOT_HEIGHT - 1; r >= 0; r--) {
    char label[32] = "";
    if (r == PLOT_HEIGHT - 1) snprintf(label, sizeof label, "%.3e", hi);
    else if (r == (PLOT_HEIGHT - 1) / 2) snprintf(label, sizeof label, "%.3e", hi * r / (PLOT_HEIGHT - 1));
    else if (r == 0) snprintf(label, sizeof label, "0");
    int len = w;
    while (len > 0 && grid[r][len - 1] == ' ') len--;
    printf("%*s |%.*s\n", Y_MARGIN - 2, label, len, grid[r]);
  }
  printf("%*s +", Y_MARGIN - 2, "");
  for (int x = 0; x < w; x++) putchar('-');
  char end[32];
  int ne = snprintf(end, sizeof end, "%lld", (long long)(T - 1));
  printf("\n%*s  0%*s\n", Y_MARGIN - 2, "", w - 1 > ne ? w - 1 : ne, end);
  printf("%*s  step\n", Y_MARGIN - 2 + w / 2, "");
}

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* What is plotted and where the numbers come from. */
static void print_header(const TrConfig *cfg, double base, int64_t T) {
  const TrScheduleConfig *s = &cfg->schedule;
  printf("schedule %s over %lld steps", tr_schedule_name(s->name), (long long)T);
  if (s->warmup_steps > 0 && s->name != TR_SCHED_ONE_CYCLE)
    printf(", warm-up %d steps from %g x lr", s->warmup_steps, s->warmup_start_factor);
  printf("\noptimizer %s, lr %g", tr_optim_name(cfg->optimizer.name), cfg->optimizer.lr);
  if (base != cfg->optimizer.lr)
    printf(" scaled %s for batch %d (base batch %d) to %g",
           cfg->optimizer.lr_scaling == TR_LRS_LINEAR ? "linearly" : "by sqrt", cfg->train.batch_size,
           cfg->optimizer.base_batch_size, base);
  if (s->name == TR_SCHED_ONE_CYCLE && s->max_lr > 0) printf(" (one_cycle peak: schedule.max_lr %g)", s->max_lr);
  printf("\n\n");
}

/* The table: evenly spaced steps plus the first, the last and the ends of warm-up.
** Sets *hi to the peak lr. Returns 0, or 1 out of memory. */
static int print_table(const TrScheduleConfig *s, double base, int64_t T, long rows, double *hi) {
  int64_t *at = tr_malloc(((size_t)rows + 4) * sizeof *at);
  if (!at) return 1;
  int n = 0;
  for (long r = 0; r < rows; r++) at[n++] = (int64_t)llround((double)r * (double)(T - 1) / (double)(rows - 1));
  if (s->warmup_steps > 0 && s->warmup_steps < T && s->name != TR_SCHED_ONE_CYCLE) {
    at[n++] = s->warmup_steps - 1;
    at[n++] = s->warmup_steps;
  }
  tr_sort(at, (size_t)n, sizeof *at, cmp_i64);
  *hi = 0;
  for (int64_t k = 0; k < T; k++) {
    double lr = tr_schedule_lr(s, base, k, T);
    if (lr > *hi) *hi = lr;
  }
  printf("%12s  %-12s %s\n", "step", "lr", "lr / peak");
  for (int i = 0; i < n; i++) {
    if (i > 0 && at[i] == at[i - 1]) continue;
    double lr = tr_schedule_lr(s, base, at[i], T);
    printf("%12lld  %-12.4e %.4f\n", (long long)at[i], lr, *hi > 0 ? lr / *hi : 0.0);
  }
  free(at);
  printf("\n");
  return 0;
}

static int schedule_main(int argc, char **argv) {
  const char *path = NULL;
  long steps = 0, width = 80, rows = 16;
  HpsList sets = {tr_calloc((size_t)argc + 2, sizeof *sets.v), 0}; /* + the two --steps overrides */
  if (!sets.v) {
    hps_error("schedule", "out of memory");
    return 1;
  }
  const HpsOpt opts[] = {HPS_OPT_LIST("--set", NULL, &sets), HPS_OPT_INT("--steps", NULL, &steps, 1, 1000000000000L),
                         HPS_OPT_INT("--width", NULL, &width, 40, 400), HPS_OPT_INT("--rows", NULL, &rows, 2, 1000),
                         HPS_OPT_END};
  int rc = hps_opts_parse(argc, argv, opts, &path, 1);
  if (rc) goto out;
  rc = 2;
  /* --steps is the run length: it replaces both budget keys, as two more --set. */
  char max_steps[48], max_tokens[] = "train.max_tokens=0";
  if (steps > 0) {
    snprintf(max_steps, sizeof max_steps, "train.max_steps=%ld", steps);
    sets.v[sets.n++] = max_steps;
    sets.v[sets.n++] = max_tokens;
  }
  TrConfig cfg;
  if (hps_config_from_args(&cfg, path, sets.n, sets.v, "schedule")) goto out;
  int64_t T = tr_config_total_steps(&cfg);
  if (T <= 0) {
    hps_error("schedule", "the run length is unknown (train.max_seconds only); pass --steps N");
    goto out;
  }
  /* tr_config_validate has run tr_schedule_check on this base lr and length. */
  double base = tr_optim_effective_lr(&cfg.optimizer, cfg.train.batch_size), hi;
  print_header(&cfg, base, T);
  if ((rc = print_table(&cfg.schedule, base, T, rows, &hi))) {
    hps_error("schedule", "out of memory");
    goto out;
  }
  if (hi > 0) plot(&cfg.schedule, base, T, (int)width, hi);
out:
  free(sets.v);
  return rc;
}

const HpsCmd hps_cmd_schedule = {"schedule", schedule_main, "print a config's learning-rate schedule (table and curve)",
                                 usage};
