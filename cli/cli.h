/*
** cli.h: the hpsweep subcommands. Each takes the arguments after its own name
** (argv[0] is the command name) and returns the process exit status:
** 0 success, 1 a failure of the work (a run diverged, a check failed), 2 bad usage
** or bad input. Commands print errors as "hpsweep CMD: message" on stderr.
*/
#ifndef HPS_CLI_H
#define HPS_CLI_H

#include <stdio.h>

typedef struct HpsCmd {
  const char *name;
  int (*fn)(int argc, char **argv);
  const char *summary;          /* one line for `hpsweep --help` */
  const char *usage;            /* full `hpsweep help CMD` text */
} HpsCmd;

/* Each cmd_*.c file defines the HpsCmd objects of its commands. */
extern const HpsCmd hps_cmd_train;     /* cmd_train.c */
extern const HpsCmd hps_cmd_schedule;  /* cmd_schedule.c */
extern const HpsCmd hps_cmd_bench;     /* cmd_bench.c */
extern const HpsCmd hps_cmd_check;     /* cmd_check.c */
extern const HpsCmd hps_cmd_run;       /* cmd_run.c */
extern const HpsCmd hps_cmd_status;    /* cmd_status.c */
extern const HpsCmd hps_cmd_ls, hps_cmd_top, hps_cmd_compare, hps_cmd_show,
    hps_cmd_export, hps_cmd_plot, hps_cmd_report; /* cmd_results.c */
extern const HpsCmd hps_cmd_sample;    /* cmd_sample.c */

/* The table, and lookup by name (NULL if unknown). */
const HpsCmd *hps_cmds(int *n);
const HpsCmd *hps_cmd_find(const char *name);
/* Print the command's usage to f. */
void hps_usage(const HpsCmd *c, FILE *f);
/* True if argv has -h/--help: commands call this first and print usage. */
int hps_wants_help(int argc, char **argv);

/* Load CONFIG (NULL = defaults), apply "key=value" overrides, validate.
** Prints "hpsweep CMD: message" and returns 2 on error, 0 on success. */
struct TrConfig;
int hps_config_from_args(struct TrConfig *cfg, const char *path, int nset, char **sets, const char *cmd);
/* `hpsweep help config [--markdown]`: every key with its default and doc. */
void hps_print_config_keys(FILE *f, int markdown);

#endif
