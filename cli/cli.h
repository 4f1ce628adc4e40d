/*
** cli.h: the hpsweep subcommands and what they share (cli.c).
**
** Each command takes the arguments after its own name (argv[0] is the command
** name) and returns the process exit status: 0 success, 1 a failure of the work
** (a run diverged, a check failed), 2 bad usage or bad input. Commands print
** errors as one line "hpsweep CMD: message" on stderr; only main exits.
*/
#ifndef HPS_CLI_H
#define HPS_CLI_H

#include <stddef.h>
#include <stdio.h>

#include "tr_err.h"

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
extern const HpsCmd hps_cmd_lrfind;    /* cmd_lrfind.c */
extern const HpsCmd hps_cmd_copy;      /* cmd_copy.c */

/* ---- main.c: the command table --------------------------------------------- */

/* Every command in `hpsweep --help` order; *n gets their number. */
const HpsCmd *const *hps_cmds(int *n);
/* Lookup by name (NULL if unknown). */
const HpsCmd *hps_cmd_find(const char *name);
/* Print the command's usage to f. */
void hps_usage(const HpsCmd *c, FILE *f);
/* True if argv has -h/--help before any "--": main then prints the usage
** instead of running the command, so every command has --help. */
int hps_wants_help(int argc, char **argv);
/* `hpsweep help config [--markdown]`: every key with its default and doc. */
void hps_print_config_keys(FILE *f, int markdown);

/* ---- cli.c: option parsing --------------------------------------------------- */

/* One parser for every command. An option is spelled "--name VALUE" or
** "--name=VALUE"; a one-letter option also "-xVALUE". Values are taken as they
** are, even when they begin with '-' (--temperature -1). A lone "-" is a
** positional argument; "--" makes every later argument positional. */
typedef enum HpsArgKind {
  HPS_ARG_FLAG,   /* no value: *(int *)dst = 1 */
  HPS_ARG_STRING, /* *(const char **)dst = value (the last one given wins) */
  HPS_ARG_INT,    /* *(long *)dst = value, a whole number in [lo, hi] */
  HPS_ARG_LIST    /* repeatable: appended to *(HpsList *)dst */
} HpsArgKind;

typedef struct HpsOpt {
  const char *name;  /* "--db"; NULL ends a table */
  const char *alias; /* another spelling ("-j" for "--jobs") or NULL */
  HpsArgKind kind;
  void *dst;
  long lo, hi;       /* HPS_ARG_INT: the accepted range */
} HpsOpt;

/* Values of a repeatable option. v is the caller's, with room for argc entries. */
typedef struct HpsList {
  char **v;
  int n;
} HpsList;

#define HPS_OPT_FLAG(name, alias, dst) {name, alias, HPS_ARG_FLAG, dst, 0, 0}
#define HPS_OPT_STRING(name, alias, dst) {name, alias, HPS_ARG_STRING, dst, 0, 0}
#define HPS_OPT_INT(name, alias, dst, lo, hi) {name, alias, HPS_ARG_INT, dst, lo, hi}
#define HPS_OPT_LIST(name, alias, dst) {name, alias, HPS_ARG_LIST, dst, 0, 0}
#define HPS_OPT_END {NULL, NULL, HPS_ARG_FLAG, NULL, 0, 0}

/* Parse argv[1..argc-1] (argv[0] is the command name) against opts. The
** positional arguments fill pos[0..npos-1] in order (slots not given are left
** as they are). Returns 0, or 2 after printing one line naming the unknown
** option, the option without a value, the bad number or the extra argument. */
int hps_opts_parse(int argc, char **argv, const HpsOpt *opts, const char **pos, int npos);

/* ---- cli.c: arguments, config, errors ---------------------------------------- */

/* s as a whole number in [lo, hi]: 0, or -1 (nothing written) if it is not one. */
int hps_parse_long(const char *s, long lo, long hi, long *out);
/* The same for option opt of command cmd: on a bad value prints
** "hpsweep CMD: OPT: expected an integer from LO to HI, got 'S'" and returns 2. */
int hps_arg_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);

/* Read the whole file at path (malloc'd, NUL-terminated, length in *len), or
** print "hpsweep CMD: PATH: cause" and return NULL. */
char *hps_read_file(const char *cmd, const char *path, size_t *len);

/* Load CONFIG (NULL = defaults), apply "key=value" overrides, validate.
** Prints "hpsweep CMD: message" and returns 2 on error, 0 on success. */
struct TrConfig;
int hps_config_from_args(struct TrConfig *cfg, const char *path, int nset, char **sets, const char *cmd);

/* lr-find progress on stderr, about ten lines a test (TrLrfindOptions.on_point). */
struct TrLrfindPoint;
void hps_lrfind_progress(void *ud, const struct TrLrfindPoint *p, int steps);

/* Resolve the spec's hpsweep.lr_find (sw_lrgrid.h; no block: 0 at once) with the store st (NULL:
** none), storing a test it runs when save is set; says what it resolved to on `say` (NULL:
** nothing; progress goes to stderr then too). 0, or the exit status after one line on stderr. */
struct SwSpec;
struct RsStore;
int hps_lr_grid(struct SwSpec *spec, struct RsStore *st, int save, FILE *say, const char *cmd);

/* "hpsweep CMD: message\n" on stderr. */
void hps_error(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* The same ending in " (see 'hpsweep CMD --help')"; returns 2, the bad-usage status. */
int hps_error_usage(const char *cmd, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
/* Print e's message as hps_error does; returns 1 for database, I/O and memory
** trouble (a failure), 2 otherwise (unknown names, bad files: bad input). */
int hps_fail(const char *cmd, const TrErr *e);
/* Once per process, when HPSWEEP_CPU was ignored (tr_cpu_env_note): one line on stderr,
** "hpsweep: HPSWEEP_CPU=VALUE: why". The commands that run kernels (train, bench, lr-find, run,
** sample) call it first. */
void hps_cpu_notice(void);
/* The database when --db is not given: HPSWEEP_DB if set and not empty (a file or a
** postgresql:// URL, for every command of a multi-host sweep), else fallback. */
const char *hps_db_default(const char *fallback);

#endif
