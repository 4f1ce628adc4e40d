/*
** main.c: the hpsweep CLI. Dispatches git-style subcommands (the table: cmds.c); the only place
** that turns a failure into a process exit status.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "hps_version.h"
#include "tr_alloc.h"

static void main_usage(FILE *f) {
  fprintf(f,
          "usage: hpsweep [--version] [--help] COMMAND [ARGS]\n"
          "\n"
          "hpsweep trains small GPT models on the CPU and sweeps their hyperparameters.\n"
          "\n"
          "commands:\n");
  int n;
  const HpsCmd *const *c = hps_cmds(&n);
  for (int i = 0; i < n; i++) fprintf(f, "  %-10s %s\n", c[i]->name, c[i]->summary);
  fprintf(f, "  %-10s %s\n", "help", "show the help of a command: hpsweep help COMMAND");
  fprintf(f, "  %-10s %s\n", "", "list every training config key: hpsweep help config");
  fprintf(f, "\nSee 'hpsweep help COMMAND' or 'hpsweep COMMAND --help' for a command's options.\n");
}

/* libgomp's spin count (GOMP_SPINCOUNT) for hpsweep's own process when the caller sets neither
** GOMP_SPINCOUNT nor OMP_WAIT_POLICY. libgomp's default is 300000 (about 3 ms before an idle pool
** thread sleeps). Measured under heavy load (load 11, `hpsweep bench --threads 2`, model T, against
** the pthread OpenBLAS build: BENCHMARKS.md, docs/performance.md): default spinning 0.16x,
** OMP_WAIT_POLICY=passive 0.91x, GOMP_SPINCOUNT=10000 1.03x. On the idle machine it costs nothing
** measurable (T 1.01x, S 1.00x of libgomp's default: docs/performance.md, "The spin count"). */
#define MAIN_SPINCOUNT "10000"

/* What the one re-exec may change: a variable, the value hpsweep runs with. The caller's value
** travels in HPS_REEXEC_<NAME> ("=value", or "-" for unset) and is put back after the exec. */
typedef struct ReexecVar {
  const char *name, *ours;
  int change;
} ReexecVar;

/* After the re-exec: put the caller's values back (programs hpsweep runs see the caller's
** environment, not ours). 1 if this image is the re-executed one. */
static int main_reexec_restore(ReexecVar *v, int n) {
  int again = 0;
  for (int i = 0; i < n; i++) {
    char mark[64];
    snprintf(mark, sizeof mark, "HPS_REEXEC_%s", v[i].name);
    const char *was = getenv(mark);
    if (!was) continue;
    again = 1;
    if (was[0] == '=') setenv(v[i].name, was + 1, 1);
    else unsetenv(v[i].name);
    unsetenv(mark);
  }
  return again;
}

/* Set each changed variable to ours, its caller's value carried in its mark; -1 if one did not fit
** or setenv failed (the caller then puts the environment back). */
static int main_reexec_mark(ReexecVar *v, int n) {
  for (int i = 0; i < n; i++) {
    if (!v[i].change) continue;
    const char *old = getenv(v[i].name);
    char mark[64], was[256];
    if (old && strlen(old) + 2 > sizeof was) return -1; /* not a value of ours to carry: leave it */
    snprintf(mark, sizeof mark, "HPS_REEXEC_%s", v[i].name);
    snprintf(was, sizeof was, "%s%s", old ? "=" : "-", old ? old : "");
    if (setenv(mark, was, 1) != 0 || setenv(v[i].name, v[i].ours, 1) != 0) return -1;
  }
  return 0;
}

/* The one re-exec: at most one exec, for everything that must be in the environment before main
** (OpenBLAS and libgomp read it when they load), the caller's environment restored after it.
** - Under a finite RLIMIT_AS (`ulimit -v`): OPENBLAS_NUM_THREADS=1. OpenBLAS starts its threads
**   when it loads, and each maps a 128 MiB buffer at once; one that cannot retries forever,
**   spinning, and exit() then hangs joining it. At 1 thread none starts at load: a run checks the
**   address space its threads need (tr_mem.h) before it starts them.
** - OpenMP build, neither GOMP_SPINCOUNT nor OMP_WAIT_POLICY set: GOMP_SPINCOUNT=MAIN_SPINCOUNT.
**   A caller's value of either always wins.
** Without /proc/self/exe (or out of memory) it goes on as loaded, silently. The exec names the
** process "exe" (the kernel takes the name from the path executed), so the re-executed image
** takes argv[0]'s name back: ps, top and perf show hpsweep. */
static void main_reexec(char **argv) {
  ReexecVar v[] = {{"OPENBLAS_NUM_THREADS", "1", 0}, {"GOMP_SPINCOUNT", MAIN_SPINCOUNT, 0}};
  const int n = (int)(sizeof v / sizeof v[0]);
  if (main_reexec_restore(v, n)) {
    const char *base = strrchr(argv[0], '/');
    prctl(PR_SET_NAME, base ? base + 1 : argv[0], 0, 0, 0); /* the kernel keeps 15 bytes */
    return;
  }
  struct rlimit rl;
  const char *blas = getenv("OPENBLAS_NUM_THREADS");
  v[0].change = getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && !(blas && strcmp(blas, "1") == 0);
#ifdef _OPENMP
  v[1].change = !getenv("GOMP_SPINCOUNT") && !getenv("OMP_WAIT_POLICY");
#endif
  if (!v[0].change && !v[1].change) return;
  if (main_reexec_mark(v, n) == 0) execv("/proc/self/exe", argv);
  main_reexec_restore(v, n); /* no exec: the caller's environment back */
}

int main(int argc, char **argv) {
  main_reexec(argv);
  /* Over `ulimit -f` a write fails with EFBIG and is reported (every file is written through
  ** tr_atomic or the store: the previous file stays whole), instead of SIGXFSZ killing us. */
  signal(SIGXFSZ, SIG_IGN);
  tr_alloc_init_env(); /* HPS_ALLOC_FAIL_AT: the out-of-memory tests */
  if (argc < 2) {
    main_usage(stderr);
    return 2;
  }
  const char *name = argv[1];
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    printf("hpsweep %s\n", HPS_VERSION);
    return 0;
  }
  if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    main_usage(stdout);
    return 0;
  }
  if (strcmp(name, "help") == 0) {
    if (argc < 3) {
      main_usage(stdout);
      return 0;
    }
    if (strcmp(argv[2], "config") == 0) {
      hps_print_config_keys(stdout, argc > 3 && strcmp(argv[3], "--markdown") == 0);
      return 0;
    }
    const HpsCmd *c = hps_cmd_find(argv[2]);
    if (!c) {
      fprintf(stderr, "hpsweep: no such command '%s' (see 'hpsweep --help')\n", argv[2]);
      return 2;
    }
    hps_usage(c, stdout);
    return 0;
  }
  const HpsCmd *c = hps_cmd_find(name);
  if (!c) {
    fprintf(stderr, "hpsweep: '%s' is not a command (see 'hpsweep --help')\n", name);
    return 2;
  }
  if (hps_wants_help(argc - 1, argv + 1)) {
    hps_usage(c, stdout);
    return 0;
  }
  return c->fn(argc - 1, argv + 1);
}
