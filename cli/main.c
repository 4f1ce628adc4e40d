/*
** main.c: the hpsweep CLI. Dispatches git-style subcommands (the table: cmds.c); the only place
** that turns a failure into a process exit status.
*/
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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

/* Under a finite RLIMIT_AS (`ulimit -v`), start again with OPENBLAS_NUM_THREADS=1. OpenBLAS starts
** its threads when it loads, before main, and each maps a 128 MiB buffer at once; one that cannot
** retries forever, spinning, and exit() then hangs joining it. At 1 thread none starts at load: a
** run checks the address space its threads need (tr_mem.h) before openblas_set_num_threads
** starts them. HPS_BLAS_REEXEC carries the caller's OPENBLAS_NUM_THREADS ("=value", or "-" for
** unset), restored here so that programs hpsweep runs see the caller's environment. */
static void main_blas_reexec(char **argv) {
  const char *mark = getenv("HPS_BLAS_REEXEC");
  if (mark) {
    if (mark[0] == '=') setenv("OPENBLAS_NUM_THREADS", mark + 1, 1);
    else unsetenv("OPENBLAS_NUM_THREADS");
    unsetenv("HPS_BLAS_REEXEC");
    return;
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return;
  const char *old = getenv("OPENBLAS_NUM_THREADS");
  if (old && strcmp(old, "1") == 0) return;
  char was[256];
  if (old && strlen(old) + 2 > sizeof was) return; /* not a thread count: leave it */
  snprintf(was, sizeof was, "%s%s", old ? "=" : "-", old ? old : "");
  if (setenv("HPS_BLAS_REEXEC", was, 1) == 0 && setenv("OPENBLAS_NUM_THREADS", "1", 1) == 0)
    execv("/proc/self/exe", argv);
  /* no /proc or out of memory: go on as loaded, the caller's environment back */
  if (old) setenv("OPENBLAS_NUM_THREADS", was + 1, 1);
  else unsetenv("OPENBLAS_NUM_THREADS");
  unsetenv("HPS_BLAS_REEXEC");
}

int main(int argc, char **argv) {
  main_blas_reexec(argv);
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
