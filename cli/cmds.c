/*
** cmds.c: the command table (one HpsCmd per cmd_*.c) and what main and the tests look up
** in it: a command by name, its usage, --help, and the list of training config keys. Part of
** the CLI library, so a test or a fuzz harness runs a command without main.
*/
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "tr_config.h"

static const HpsCmd *const cmds[] = {
    &hps_cmd_train,
    &hps_cmd_lrfind,
    &hps_cmd_schedule,
    &hps_cmd_bench,
    &hps_cmd_check,
    &hps_cmd_run,
    &hps_cmd_status,
    &hps_cmd_ls, &hps_cmd_top, &hps_cmd_compare, &hps_cmd_show,
    &hps_cmd_export, &hps_cmd_plot, &hps_cmd_report,
    &hps_cmd_sample,
    &hps_cmd_copy};
#define N_CMDS ((int)(sizeof cmds / sizeof cmds[0]))

const HpsCmd *const *hps_cmds(int *n) {
  *n = N_CMDS;
  return cmds;
}

const HpsCmd *hps_cmd_find(const char *name) {
  for (int i = 0; i < N_CMDS; i++)
    if (strcmp(cmds[i]->name, name) == 0) return cmds[i];
  return NULL;
}

void hps_usage(const HpsCmd *c, FILE *f) { fprintf(f, "%s", c->usage); }

int hps_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) return 0;
    if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) return 1;
  }
  return 0;
}

void hps_print_config_keys(FILE *f, int markdown) {
  size_t n;
  const TrKey *k = tr_config_keys(&n);
  if (markdown) {
    fprintf(f, "| key | default | meaning |\n|---|---|---|\n");
    for (size_t i = 0; i < n; i++) {
      fprintf(f, "| `%s` | `%s` | %s", k[i].name, k[i].def, k[i].doc);
      if (k[i].choices) { /* '|' would split the table cell */
        fprintf(f, " (one of: ");
        for (const char *c = k[i].choices; *c; c++) fputs(*c == '|' ? ", " : (char[]){*c, 0}, f);
        fprintf(f, ")");
      }
      fprintf(f, " |\n");
    }
    return;
  }
  fprintf(f, "Training config keys (YAML sections or dotted names; --set key=value):\n\n");
  for (size_t i = 0; i < n; i++) {
    fprintf(f, "  %-28s %-12s %s", k[i].name, k[i].def, k[i].doc);
    if (k[i].choices) fprintf(f, " (%s)", k[i].choices);
    fprintf(f, "\n");
  }
}
