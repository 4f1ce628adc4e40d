/*
** main.c: the hpsweep CLI. Dispatches git-style subcommands (the table: cmds.c); the only place
** that turns a failure into a process exit status.
*/
#include <signal.h>
#include <stdio.h>
#include <string.h>

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

int main(int argc, char **argv) {
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
