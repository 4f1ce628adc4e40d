/*
** sw_command.h: a spec's W&B `command` template and a trial's parameters, made into
** the argv a program is exec'd with, formatted exactly as the W&B agent does.
**
** Sources read (W&B SDK, wandb/wandb on GitHub): wandb/wandb_agent.py (Agent._command_run,
** _create_sweep_command_args, _create_sweep_command) and
** wandb/sdk/launch/sweeps/utils.py (create_sweep_command, create_sweep_command_args);
** parameter order from wandb/sweeps src/sweeps/params.py (HyperParameterSet.from_config).
** docs/programs.md "## Command macros" says the same for users.
**
** Contract:
** - The template is a list of strings; NULL or empty is W&B's default
**   ${env} ${interpreter} ${program} ${args}.
** - First, in every element, each ${envvar:NAME} (NAME of [A-Z0-9_]) becomes the value
**   of the environment variable NAME, or NAME itself when it is unset (as W&B).
** - Then an element that starts with "${" and ends with "}" is a macro and expands to
**   0..n arguments:
**     ${env}                    /usr/bin/env
**     ${interpreter}            SwCommandIn.interpreter, else sw_command_interpreter(program):
**                               "python3" for a .py program, nothing otherwise.
**                               W&B always gives "python"; Debian has no `python`, and a
**                               non-Python program is run directly (documented difference).
**     ${program}                the program, as given
**     ${args}                   --NAME=VALUE, one per parameter
**     ${args_no_equals}         --NAME VALUE (two arguments per parameter)
**     ${args_no_hyphens}        NAME=VALUE
**     ${args_no_boolean_flags}  --NAME for true, nothing for false, else --NAME=VALUE
**     ${args_json}              one argument: json.dumps of the parameter object
**     ${args_json_file}         the path RUN_DIR/args.json, after writing that JSON there
**                               atomically (only when the template uses this macro)
**   Any other macro is an error naming it (W&B silently drops it: difference).
**   Every other element is passed unchanged, even one with a macro inside a longer
**   string ("--cfg=${args_json_file}"): W&B substitutes only whole elements
**   (sw_command_lint reports such elements so `hpsweep check` can warn).
** - VALUE is Python's str(value) of the JSON value as json.loads reads it: an integer
**   (no '.', 'e' or 'E') prints its digits; a float Python's repr (sw_py_float_repr:
**   1e-05, 0.0001, 100.0, 1e+16); true/false True/False; a string itself; a list or
**   object Python's repr ([64, 64], {'beta': 0.9, 'name': 'adam'}, None inside). ${args_json}
**   is json.dumps (", " and ": " separators, ASCII with \uXXXX escapes, NaN/Infinity).
**   Parameters are in sorted name order (byte order of UTF-8 = Python's str order), as
**   W&B's sweeps library sorts them; nested objects are sorted too.
** - A top-level null parameter is an error (W&B's agent raises ValueError for it); null
**   inside a list or object is None / null. A string with \u0000 is an error (argv
**   elements are C strings), and so are malformed JSON, a non-object, duplicate names.
** - No shell is involved: each element is one argv element, so spaces and quotes need
**   no quoting. sw_command_display quotes for showing only.
*/
#ifndef SW_COMMAND_H
#define SW_COMMAND_H

#include <stddef.h>

#include "tr_err.h"

#define SW_COMMAND_ENV "/usr/bin/env"
#define SW_COMMAND_JSON_FILE "args.json" /* ${args_json_file}: RUN_DIR/args.json */

typedef struct SwCommandIn {
  const char *const *tmpl; /* the spec's `command`; NULL or n_tmpl 0: W&B's default */
  size_t n_tmpl;
  const char *program;     /* ${program}; NULL is an error only when used */
  const char *interpreter; /* ${interpreter} override; NULL: by extension; "" none */
  const char *params_json; /* the trial's parameters, a JSON object; NULL is {} */
  const char *run_dir;     /* ${args_json_file} goes here; NULL is an error only when used */
  int no_write;            /* 1: give ${args_json_file}'s path but write nothing (check) */
} SwCommandIn;

/* The argv (an owned NULL-terminated array of owned strings, sw_command_free) and its
** length. TR_EINVAL for a bad template or parameters, TR_EIO if the JSON file cannot be
** written, TR_ENOMEM; nothing is returned (and no file left) on failure. */
int sw_command_build(const SwCommandIn *in, char ***argv, size_t *argc, TrErr *err);
void sw_command_free(char **argv);
/* TR_OK when every macro in the template is known; else TR_EINVAL naming the first
** unknown one: "unknown command macro ${foo} in element 3 (known: ${env}, ...)". */
int sw_command_check(const char *const *tmpl, size_t n_tmpl, TrErr *err);
/* Elements where "${" appears inside a longer string (passed literally, as W&B does):
** their number, and a one-line note on the first in note (n bytes) when any. */
size_t sw_command_lint(const char *const *tmpl, size_t n_tmpl, char *note, size_t n);
/* The default interpreter for PROGRAM: "python3" when it ends in ".py", else NULL. */
const char *sw_command_interpreter(const char *program);
/* argv as one line for people, elements POSIX-shell quoted where needed (owned; NULL
** when out of memory). Not used to run anything. */
char *sw_command_display(char *const *argv);
/* Python's repr(float) of V, snprintf style: shortest round-trip digits, scientific when
** the decimal exponent is < -4 or >= 16 ("1e-05", "1e+16", at least two exponent
** digits), else positional with ".0" for whole numbers; "inf", "-inf", "nan". */
int sw_py_float_repr(char *buf, size_t n, double v);

#endif
