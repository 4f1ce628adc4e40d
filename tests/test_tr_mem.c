/* tr_mem: the memory estimate of a run against measured peak RSS, the memory
** available, and the refusal of what cannot fit (issue 9, item 15). */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "hps_test.h"
#include "tr_blas.h"
#include "tr_mem.h"
#include "tr_run.h"

static TrConfig config(int n_layer, int n_head, int d_model, int ctx, int batch) {
  TrConfig c;
  tr_config_defaults(&c);
  c.model.n_layer = n_layer;
  c.model.n_head = n_head;
  c.model.d_model = d_model;
  c.model.context_length = ctx;
  c.train.batch_size = batch;
  return c;
}

/* Run `hpsweep train --json ARGS...` (NULL-terminated) and return its summary's
** memory_estimate_bytes; *maxrss gets the child's peak RSS in bytes. */
static uint64_t train_measured(uint64_t *maxrss, const char *const *args) {
  char out[] = "/tmp/test_tr_mem_XXXXXX";
  int fd = mkstemp(out);
  cr_assert(fd >= 0);
  const char *argv[64] = {hps_bin(), "train", "--json"};
  int n = 3;
  for (int i = 0; args[i]; i++) argv[n++] = args[i];
  argv[n] = NULL;
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    dup2(fd, 1);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(fd);
  int st;
  struct rusage ru;
  cr_assert_eq(wait4(pid, &st, 0, &ru), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "train failed (status %d)", st);
  char *json = hps_slurp(out, NULL);
  unlink(out);
  const char *k = strstr(json, "\"memory_estimate_bytes\": ");
  cr_assert_not_null(k, "no memory_estimate_bytes in %s", json);
  uint64_t est = strtoull(k + strlen("\"memory_estimate_bytes\": "), NULL, 10);
  free(json);
  *maxrss = (uint64_t)ru.ru_maxrss * 1024;
  return est;
}

/* The benchmark shapes T and S (BENCHMARKS.md), two steps and one evaluation:
** every buffer is touched, so peak RSS is what the run really needs. */
Test(tr_mem, estimate_within_0_7x_to_1_5x_of_measured_peak_rss_for_T_and_S_shapes) {
  const char *const T[] = {"--set", "model.n_layer=4", "--set", "model.n_head=4", "--set", "model.d_model=128",
                           "--set", "model.context_length=64", "--set", "train.batch_size=16", "--set",
                           "train.max_steps=2", "--set", "train.eval_interval=2", "--set", "train.eval_batches=2",
                           "--set", "train.threads=1", NULL};
  const char *const S[] = {"--set", "model.n_layer=6", "--set", "model.n_head=6", "--set", "model.d_model=384",
                           "--set", "model.context_length=256", "--set", "train.batch_size=8", "--set",
                           "train.max_steps=2", "--set", "train.eval_interval=2", "--set", "train.eval_batches=1",
                           "--set", "train.threads=1", NULL};
  const char *const *shapes[] = {T, S};
#if defined(__SANITIZE_ADDRESS__)
  const double lo = 0.3; /* ASan's shadow, redzones and quarantine add to the measured side */
#else
  const double lo = 0.7;
#endif
  for (int i = 0; i < 2; i++) {
    uint64_t rss, est = train_measured(&rss, shapes[i]);
    double ratio = (double)est / (double)rss;
    cr_assert(ratio >= lo && ratio <= 1.5, "shape %s: estimate %llu bytes, peak RSS %llu bytes (%.2fx)",
              i ? "S" : "T", (unsigned long long)est, (unsigned long long)rss, ratio);
  }
}

Test(tr_mem, optimizer_state_is_counted_per_optimizer) {
  TrConfig c = config(2, 2, 32, 16, 4);
  TrMemEstimate e;
  const struct { const char *name, *momentum, *centered; double per_param; } cases[] = {
      {"adamw", "0", "false", 2}, {"adam", "0", "false", 2},        {"sgd", "0", "false", 0},
      {"sgd", "0.9", "false", 1}, {"lion", "0", "false", 1},        {"rmsprop", "0", "false", 1},
      {"rmsprop", "0.9", "true", 3}};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cr_assert_eq(tr_config_set(&c, "optimizer.name", cases[i].name, NULL), TR_OK);
    cr_assert_eq(tr_config_set(&c, "optimizer.momentum", cases[i].momentum, NULL), TR_OK);
    cr_assert_eq(tr_config_set(&c, "optimizer.centered", cases[i].centered, NULL), TR_OK);
    cr_assert_eq(tr_mem_estimate(&c, 0, &e, NULL), TR_OK);
    cr_assert_eq((double)e.optim, cases[i].per_param * (double)e.params, "%s momentum %s centered %s",
                 cases[i].name, cases[i].momentum, cases[i].centered);
    cr_assert_eq(e.total, e.params + e.grads + e.optim + e.acts + e.data + e.sample + e.overhead);
  }
}

Test(tr_mem, micro_batches_shrink_activations_and_keep_a_gradient_snapshot) {
  TrConfig c = config(2, 2, 64, 64, 16);
  TrMemEstimate whole, micro;
  cr_assert_eq(tr_mem_estimate(&c, 0, &whole, NULL), TR_OK);
  c.train.micro_batch_size = 4;
  cr_assert_eq(tr_mem_estimate(&c, 0, &micro, NULL), TR_OK);
  cr_assert_eq(micro.params, whole.params);
  cr_assert_eq(whole.grads, whole.params);
  cr_assert_eq(micro.grads, 2 * micro.params, "the noise-scale snapshot");
  cr_assert(micro.acts * 3 < whole.acts, "acts %llu at micro 4, %llu at 16", (unsigned long long)micro.acts,
            (unsigned long long)whole.acts);
  TrMemEstimate smp; /* sampling: the model and its KV cache, no optimizer or gradients */
  cr_assert_eq(tr_mem_estimate(&c, 1, &smp, NULL), TR_OK);
  cr_assert(smp.sample > 2 * 2 * 64 * 64 * sizeof(float), "KV cache: 2 x L x T x C floats at least");
  cr_assert_eq(smp.grads + smp.optim, 0);
}

Test(tr_mem, env_override_replaces_the_available_memory) {
  TrMemAvail a;
  setenv("HPSWEEP_MEMORY_AVAILABLE", "3G", 1);
  tr_mem_available(&a, 1);
  cr_assert_eq(a.bytes, (uint64_t)3 << 30);
  cr_assert_str_eq(a.source, "HPSWEEP_MEMORY_AVAILABLE");
  tr_mem_limit(&a, 1); /* the override is the limit too */
  cr_assert_eq(a.bytes, (uint64_t)3 << 30);
  setenv("HPSWEEP_MEMORY_AVAILABLE", "12345", 1);
  tr_mem_available(&a, 1);
  cr_assert_eq(a.bytes, 12345);
  setenv("HPSWEEP_MEMORY_AVAILABLE", "lots", 1); /* malformed: ignored, the machine decides */
  tr_mem_available(&a, 1);
  cr_assert_str_neq(a.source, "HPSWEEP_MEMORY_AVAILABLE");
  unsetenv("HPSWEEP_MEMORY_AVAILABLE");
  tr_mem_available(&a, 1);
  cr_assert(a.bytes > 0 && a.bytes < UINT64_MAX, "this machine reports something: %s", a.source);
}

Test(tr_mem, refusal_names_the_need_its_parts_and_the_budget) {
  TrMemEstimate e = {.params = 400u << 20, .grads = 400u << 20, .optim = 800u << 20,
                     .acts = (uint64_t)3900 << 20, .overhead = 16u << 20};
  e.total = e.params + e.grads + e.optim + e.acts + e.overhead;
  TrMemAvail a = {.bytes = (uint64_t)1946 << 20, .source = "cgroup limit"};
  TrErr err = {0};
  cr_assert_eq(tr_mem_check(&e, &a, &err), TR_ENOMEM);
  cr_assert_str_eq(err.msg, "model needs 5.4 GiB (params 0.4, gradients 0.4, optimizer 0.8, activations 3.8, "
                            "data 0.0, fixed 0.0), 1.9 GiB available (cgroup limit)");
  a.bytes = e.total;
  cr_assert_eq(tr_mem_check(&e, &a, &err), TR_OK, "exactly enough fits");
}

/* d_model 2048 x 8 layers (7 GiB) under RLIMIT_AS = what is mapped + 512 MiB:
** refused with the figures, before anything big is allocated (the child would
** otherwise die of ENOMEM or be killed, not return TR_ENOMEM with this message). */
Test(tr_mem, run_too_big_for_rlimit_as_is_refused_before_allocating) {
  int pipefd[2];
  cr_assert_eq(pipe(pipefd), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    close(pipefd[0]);
    unsetenv("HPSWEEP_MEMORY_AVAILABLE");
    unsigned long long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f || fscanf(f, "%llu", &pages) != 1) _exit(3);
    fclose(f);
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_AS, &rl);
    rl.rlim_cur = (rlim_t)(pages * (unsigned long long)sysconf(_SC_PAGESIZE) + (512ull << 20));
    if (rl.rlim_max != RLIM_INFINITY && rl.rlim_cur > rl.rlim_max) rl.rlim_cur = rl.rlim_max; /* tighter already */
    if (setrlimit(RLIMIT_AS, &rl) != 0) _exit(4);
    TrConfig c = config(8, 8, 2048, 64, 8);
    c.train.max_steps = 2;
    TrRunResult res;
    TrErr err = {0};
    int rc = tr_run(&c, NULL, &res, &err);
    if (write(pipefd[1], err.msg, strlen(err.msg)) < 0) _exit(5);
    _exit(rc == TR_ENOMEM ? 0 : 6);
  }
  close(pipefd[1]);
  char msg[TR_ERR_MSG_MAX + 1];
  ssize_t got = read(pipefd[0], msg, TR_ERR_MSG_MAX);
  close(pipefd[0]);
  msg[got > 0 ? got : 0] = '\0';
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "child status %d, message '%s'", st, msg);
  cr_assert(strstr(msg, "model needs ") && strstr(msg, " GiB (params 1.5, gradients 1.5, optimizer 3.0, "),
            "%s", msg);
  cr_assert(strstr(msg, "available (RLIMIT_AS)"), "%s", msg);
}

/* The address space this process has mapped now (/proc/self/statm). */
static uint64_t mapped_now(void) {
  unsigned long long pages = 0;
  FILE *f = fopen("/proc/self/statm", "r");
  cr_assert(f && fscanf(f, "%llu", &pages) == 1);
  fclose(f);
  return (uint64_t)pages * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* tr_mem_threads_set, the one way threads start (train, lr-find, bench, sample, inference trials):
** under an RLIMIT_AS that leaves room for one thread's buffer but not two threads', 2 threads are
** refused with the figures and nothing changes; 1 thread is set. (Relative to what is mapped, so
** it holds under ASan too.) */
Test(tr_mem, threads_set_refuses_threads_whose_buffers_do_not_fit_under_rlimit_as) {
  TrErr err = {0};
  cr_assert_eq(tr_mem_threads_set(1, &err), TR_OK, "no limit: %s", err.msg);
  cr_assert_eq(openblas_get_num_threads(), 1);
  struct rlimit old, rl;
  cr_assert_eq(getrlimit(RLIMIT_AS, &old), 0);
  rl = old;
  rl.rlim_cur = (rlim_t)(mapped_now() + tr_mem_blas_reserve(1) + (64ull << 20)); /* < reserve(2) by ~72 MiB */
  cr_assert(old.rlim_cur == RLIM_INFINITY || rl.rlim_cur <= old.rlim_cur, "a tighter limit already");
  cr_assert_eq(setrlimit(RLIMIT_AS, &rl), 0);
  int two = tr_mem_threads_set(2, &err), one_threads = openblas_get_num_threads();
  TrErr err1 = {0};
  int one = tr_mem_threads_set(1, &err1);
  cr_assert_eq(setrlimit(RLIMIT_AS, &old), 0);
  cr_assert_eq(two, TR_ENOMEM, "2 threads under the limit: %d", two);
  cr_assert(strstr(err.msg, "2 threads need 2") && strstr(err.msg, " MiB of address space (OpenBLAS's buffers and "
            "stacks), ") && strstr(err.msg, " MiB left under RLIMIT_AS (ulimit -v)"), "%s", err.msg);
  cr_assert_eq(one_threads, 1, "refused: the thread count is unchanged");
  cr_assert_eq(one, TR_OK, "1 thread fits: %s", err1.msg);
}

/* A fake cgroup tree (HPS_TEST_PROC_CGROUP, HPS_TEST_SYS_CGROUP): the limit of an
** ancestor applies, "max" and v1's huge "unlimited" are no limit, the smallest wins. */
Test(tr_mem, cgroup_limits_v2_up_the_tree_and_v1_the_smallest_applies) {
  char d[256], p[600];
  hps_tmp_make(d, sizeof d, "test_tr_mem_cg_");
  snprintf(p, sizeof p, "mkdir -p '%s/sys/a/b' '%s/sys/memory/x/y'", d, d);
  cr_assert_eq(system(p), 0);
  hps_put(d, "cgroup", "0::/a/b\n");
  hps_put(d, "sys/a/b/memory.max", "max\n");
  hps_put(d, "sys/a/b/memory.current", "1000\n");
  hps_put(d, "sys/a/memory.max", "1073741824\n");
  hps_put(d, "sys/a/memory.current", "268435456\n");
  snprintf(p, sizeof p, "%s/cgroup", d);
  setenv("HPS_TEST_PROC_CGROUP", p, 1);
  snprintf(p, sizeof p, "%s/sys", d);
  setenv("HPS_TEST_SYS_CGROUP", p, 1);
  unsetenv("HPSWEEP_MEMORY_AVAILABLE");
  TrMemAvail a;
  tr_mem_available(&a, 1);
  cr_assert_str_eq(a.source, "cgroup limit");
  cr_assert_eq(a.bytes, (uint64_t)768 << 20, "the parent's limit less its usage: %llu", (unsigned long long)a.bytes);
  TrMemAvail lim;
  tr_mem_limit(&lim, 1); /* the limit itself, whatever is in use */
  cr_assert_str_eq(lim.source, "cgroup limit");
  cr_assert_eq(lim.bytes, (uint64_t)1 << 30, "%llu", (unsigned long long)lim.bytes);
  /* v1 (hybrid hierarchy): unlimited on the leaf, 512 MiB - 100 MiB on the parent */
  hps_put(d, "cgroup", "0::/a/b\n4:cpu,memory:/x/y\n");
  hps_put(d, "sys/memory/x/y/memory.limit_in_bytes", "9223372036854771712\n");
  hps_put(d, "sys/memory/x/memory.limit_in_bytes", "536870912\n");
  hps_put(d, "sys/memory/x/memory.usage_in_bytes", "104857600\n");
  tr_mem_available(&a, 1);
  cr_assert_str_eq(a.source, "cgroup v1 limit");
  cr_assert_eq(a.bytes, (uint64_t)412 << 20);
  /* usage above the limit: nothing available, not a wrap-around */
  hps_put(d, "sys/a/memory.current", "2147483648\n");
  tr_mem_available(&a, 1);
  cr_assert_eq(a.bytes, 0);
  cr_assert_str_eq(a.source, "cgroup limit");
  tr_mem_limit(&lim, 1);
  cr_assert_eq(lim.bytes, (uint64_t)512 << 20, "the v1 parent's limit: %llu", (unsigned long long)lim.bytes);
  unsetenv("HPS_TEST_PROC_CGROUP");
  unsetenv("HPS_TEST_SYS_CGROUP");
  cr_assert_eq(hps_tmp_remove(d), 0);
}

/* ---- `hpsweep train` under RLIMIT_AS, as `ulimit -v` sets it ------------------------------------
** ASan reserves terabytes of address space for its shadow at start, so an ASan build cannot run
** under any RLIMIT_AS these tests set: they are compiled out there (detected at compile time; the
** normal build, CI's first, runs them). */
#if defined(__SANITIZE_ADDRESS__)
#define HPS_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define HPS_ASAN 1
#endif
#endif

#ifndef HPS_ASAN
#include <signal.h>
#include <time.h>

typedef struct AsRun {
  int status;      /* wait status */
  double seconds;  /* until it ended */
  char log[8192];  /* its stderr (the log, the error line) */
} AsRun;

static double mono(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* `hpsweep train --json --set KEY=VALUE...` (sets: NULL-terminated "key=value"; the log on stderr)
** under RLIMIT_AS = limit
** (set in the child before exec, as a shell's `ulimit -v`); SIGKILLed and failed after timeout s. */
static void train_under_as(uint64_t limit, const char *const *sets, double timeout, AsRun *out) {
  char logp[] = "/tmp/test_tr_mem_as_XXXXXX";
  int fd = mkstemp(logp);
  cr_assert(fd >= 0);
  const char *argv[64] = {hps_bin(), "train", "--json"};
  int n = 3;
  for (int i = 0; sets[i]; i++) argv[n++] = "--set", argv[n++] = sets[i];
  argv[n] = NULL;
  double t0 = mono();
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    struct rlimit rl = {(rlim_t)limit, (rlim_t)limit};
    int devnull = open("/dev/null", O_WRONLY);
    if (devnull < 0 || dup2(devnull, 1) < 0 || dup2(fd, 2) < 0 || setrlimit(RLIMIT_AS, &rl) != 0) _exit(126);
    unsetenv("HPSWEEP_MEMORY_AVAILABLE");
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  close(fd);
  int st = 0;
  pid_t got;
  while ((got = waitpid(pid, &st, WNOHANG)) == 0 && mono() - t0 < timeout) usleep(20000);
  out->seconds = mono() - t0;
  if (got == 0) {
    kill(pid, SIGKILL);
    waitpid(pid, &st, 0);
  }
  char *log = hps_slurp(logp, NULL);
  unlink(logp);
  snprintf(out->log, sizeof out->log, "%s", log ? log : "");
  free(log);
  out->status = st;
  cr_assert(got != 0, "train under RLIMIT_AS %llu MiB still running after %.0f s (a hang); its log:\n%s",
            (unsigned long long)(limit >> 20), timeout, out->log);
}

/* The estimate of the config of `sets`, as `hpsweep check` and `train` print it. */
static uint64_t estimate_of(const char *const *sets) {
  TrConfig c;
  tr_config_defaults(&c);
  for (int i = 0; sets[i]; i++) {
    char key[128];
    const char *eq = strchr(sets[i], '=');
    snprintf(key, sizeof key, "%.*s", (int)(eq - sets[i]), sets[i]);
    cr_assert_eq(tr_config_set(&c, key, eq + 1, NULL), TR_OK, "%s", sets[i]);
  }
  TrMemEstimate e;
  cr_assert_eq(tr_mem_estimate(&c, 0, &e, NULL), TR_OK);
  return e.total;
}

/* "..., 835 MiB available (RLIMIT_AS)" of a log: the bytes, to 1 MiB (the figure is below 1000 MiB). */
static uint64_t available_in(const char *log) {
  const char *k = strstr(log, " MiB available (RLIMIT_AS)");
  cr_assert_not_null(k, "no 'N MiB available (RLIMIT_AS)' in:\n%s", log);
  while (k > log && k[-1] >= '0' && k[-1] <= '9') k--;
  return strtoull(k, NULL, 10) << 20;
}

#define AS_STEPS "train.max_steps=2", "train.eval_interval=2", "train.eval_batches=1"
#define AS_HUGE "model.n_layer=8", "model.d_model=1024", "model.n_head=8", "model.context_length=256"

/* What a run of `threads` OpenBLAS threads maps besides its estimate: a 1 GiB limit less the
** available memory train reports under it (for a run too big, refused at once). */
static uint64_t address_space_besides_estimate(const char *threads) {
  const char *const huge[] = {AS_HUGE, threads, AS_STEPS, NULL};
  AsRun r;
  train_under_as((uint64_t)1 << 30, huge, 30, &r);
  cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2, "status %d:\n%s", r.status, r.log);
  return ((uint64_t)1 << 30) - available_in(r.log);
}

/* Sizes from tiny to too big. Under a limit that leaves each its estimate and 4 MiB (the
** rounding of the figure it was derived from) it completes: not killed, no ENOMEM, no hang.
** 16 MiB less and it is refused before training, promptly, with the one-line error and exit
** status 2. The 2-thread size checks the worker's buffer and stack are counted. */
Test(tr_mem, train_under_rlimit_as_completes_when_the_estimate_fits_and_is_refused_promptly_when_not,
     .timeout = 600) {
  const char *const tiny[] = {"model.n_layer=1", "model.d_model=32", "model.n_head=2", "model.context_length=32",
                              "train.batch_size=4", "train.threads=1", AS_STEPS, NULL};
  const char *const small[] = {"model.n_layer=2", "model.d_model=64", "model.n_head=2", "model.context_length=64",
                               "train.batch_size=8", "train.threads=1", AS_STEPS, NULL};
  const char *const mid[] = {"model.n_layer=2", "model.d_model=128", "model.n_head=4", "model.context_length=128",
                             "train.batch_size=16", "train.threads=1", AS_STEPS, NULL};
  const char *const two[] = {"model.n_layer=2", "model.d_model=64", "model.n_head=2", "model.context_length=64",
                             "train.batch_size=8", "train.threads=2", AS_STEPS, NULL};
  const char *const *sizes[] = {tiny, small, mid, two};
  const uint64_t mib = (uint64_t)1 << 20;
  uint64_t base1 = address_space_besides_estimate("train.threads=1");
  uint64_t base2 = address_space_besides_estimate("train.threads=2");
  cr_assert(base2 >= base1 + TR_MEM_BLAS_BUFFER - mib, "the second thread's buffer: %llu MiB vs %llu MiB",
            (unsigned long long)(base2 / mib), (unsigned long long)(base1 / mib));
  for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
    uint64_t est = estimate_of(sizes[i]), base = i == 3 ? base2 : base1;
    AsRun r;
    train_under_as(base + est + 4 * mib, sizes[i], 120, &r);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0 && strstr(r.log, "step      2 |"),
              "size %zu (estimate %llu MiB) under RLIMIT_AS of it + %llu MiB: status %d after %.1f s:\n%s", i,
              (unsigned long long)(est / mib), (unsigned long long)((base + 4 * mib) / mib), r.status, r.seconds,
              r.log);
    train_under_as(base + est - 16 * mib, sizes[i], 30, &r);
    cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2, "size %zu 16 MiB short: status %d:\n%s", i,
              r.status, r.log);
    cr_assert(strstr(r.log, "hpsweep train: model needs ") && strstr(r.log, " available (RLIMIT_AS)\n"), "%s",
              r.log);
    cr_assert(strstr(r.log, "memory: needs ") && !strstr(r.log, "step "), "refused before training:\n%s", r.log);
    cr_assert(r.seconds < 10, "refused promptly: %.1f s", r.seconds);
  }
  /* too big for any of the limits above: refused under the largest of them */
  const char *const huge[] = {AS_HUGE, "train.threads=1", AS_STEPS, NULL};
  AsRun r;
  train_under_as(base1 + estimate_of(mid) + 4 * mib, huge, 30, &r);
  cr_assert(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2 && strstr(r.log, "model needs "), "%d:\n%s",
            r.status, r.log);
}
#endif
