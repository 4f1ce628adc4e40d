/*
** sw_program.h: run one trial's program (docs/programs.md "Running programs"): vfork+exec
** its argv in a process group of its own, its output into a size-capped log, its
** metrics pipe through the protocol parser (sw_proto), a time limit and a stop flag.
**
** Contract:
** - The child: its own process group (setpgid), PR_SET_PDEATHSIG SIGKILL (it dies with
**   the calling process), default signal dispositions, stdin /dev/null, stdout and
**   stderr into a pipe whose bytes the caller appends to RUN_DIR/run.log (at most
**   SW_PROGRAM_LOG_MAX bytes per call, then one truncation note), HPSWEEP_METRICS_FD=3
**   the write end of the metrics pipe (a single digit: `>&3` works in every shell), plus the caller's "NAME=VALUE" strings.
**   argv[0] is found on PATH (execvp); an exec failure is exit 127 with the reason in
**   the log.
** - Rows of the metrics pipe go to ROW (sw_proto's contract); a non-zero ROW return
**   stops the program (SIGKILL to its group) and is returned with err set.
** - *stop non-zero (polled every 100 ms): SIGTERM to the group, interrupted = 1.
**   max_seconds > 0 and exceeded: SIGTERM to the group, timed_out = 1. Either way
**   SIGKILL after SW_PROGRAM_GRACE seconds if it is still there.
** - When the program exits, what is left of its group is SIGKILLed (no process of a
**   trial outlives it); its pipes are drained for at most 1 s more (a leftover holding
**   them open does not hang the trial).
** - out->tail: the last SW_PROGRAM_TAIL lines of run.log, newline-separated.
** - Nothing printed. TR_EIO when the log, pipes or fork fail; TR_ENOMEM.
*/
#ifndef SW_PROGRAM_H
#define SW_PROGRAM_H

#include <signal.h>
#include <stddef.h>

#include "sw_proto.h"
#include "tr_err.h"

#define SW_PROGRAM_LOG_MAX (16u << 20) /* bytes of output kept per run */
#define SW_PROGRAM_GRACE 5.0           /* seconds between SIGTERM and SIGKILL */
#define SW_PROGRAM_TAIL 10             /* lines of run.log in out->tail */
#define SW_PROGRAM_LOG "run.log"
#define SW_PROGRAM_METRICS_FD 3

typedef struct SwProgramIn {
  char *const *argv;          /* NULL-terminated */
  const char *run_dir;        /* exists; run.log is appended there */
  char *const *env;           /* extra "NAME=VALUE", NULL-terminated; may be NULL */
  double max_seconds;         /* 0: no limit */
  volatile sig_atomic_t *stop; /* may be NULL */
  SwProtoRowFn row;           /* rows of the metrics pipe */
  void *ctx;
} SwProgramIn;

typedef struct SwProgramOut {
  int exited, code;           /* exited normally with code */
  int signal;                 /* killed by this signal, else 0 */
  int timed_out, interrupted; /* we sent SIGTERM for the time limit / the stop flag */
  double seconds;             /* wall seconds */
  SwProtoStats stats;         /* of the metrics pipe */
  size_t n_messages;          /* kept protocol problems */
  char messages[SW_PROTO_KEEP][SW_PROTO_MSG_MAX];
  char tail[2048];            /* the last lines of run.log */
} SwProgramOut;

int sw_program_run(const SwProgramIn *in, SwProgramOut *out, TrErr *err);
/* A runner killed with kill -9 (or a worker, or a whole machine's runner group) can leave
** processes of its program behind: members of the program's group (PR_SET_PDEATHSIG reaches
** only the program itself) and anything that left the group (setsid). Before a trial runs
** again in RUN_DIR, SIGKILL every process of this host whose environment says it belongs to
** an earlier attempt of that trial (HPSWEEP_RUN_DIR = run_dir, HPSWEEP_ATTEMPT < attempt),
** with its process group, and wait (at most 2 s) until they are gone. Processes whose
** environment cannot be read (another user's) are left alone. Returns how many were killed. */
int sw_program_reap_leftovers(const char *run_dir, int attempt);
/* The last SW_PROGRAM_TAIL lines of the file PATH (its last 4 KiB at most) into out
** (n bytes, NUL-terminated; "" when it cannot be read). `hpsweep show` prints run.log's. */
void sw_program_log_tail(const char *path, char *out, size_t n);

#endif
