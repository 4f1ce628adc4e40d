/*
** sw_program.c: one trial's program as a child process group (sw_program.h).
*/
#include "sw_program.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tr_alloc.h"
#include "tr_os.h"

typedef struct Run {
  const SwProgramIn *in;
  SwProgramOut *out;
  pid_t pid;
  int pidfd;                  /* readable when the program exits (-1: no pidfd_open, poll the pipes only) */
  int ofd, mfd, log;          /* read ends (-1 closed), the log file */
  size_t logged;
  int truncated, status, reaped;
  double start, kill_at, drain_until;
  SwProto *proto;
  int row_rc;                 /* a non-zero ROW return */
} Run;

/* The program's environment: HPSWEEP_METRICS_FD, the caller's "NAME=VALUE" strings, then ours
** minus the names those set (what setenv/putenv in the child did, built before the vfork: its
** child may not allocate). The array is the caller's (free), its strings borrowed; NULL: out of memory. */
static char **child_env(const SwProgramIn *in, char *fdvar) {
  extern char **environ;
  size_t n = 0, k = 0, extra = 0;
  while (environ && environ[n]) n++;
  while (in->env && in->env[extra]) extra++;
  char **envp = tr_malloc((n + extra + 2) * sizeof *envp);
  if (!envp) return NULL;
  envp[k++] = fdvar;
  for (size_t i = 0; i < extra; i++) envp[k++] = in->env[i];
  size_t set = k;
  for (size_t i = 0; i < n; i++) {
    size_t len = strcspn(environ[i], "=");
    int dup = 0;
    for (size_t j = 0; j < set && !dup; j++) dup = strncmp(envp[j], environ[i], len) == 0 && envp[j][len] == '=';
    if (!dup) envp[k++] = environ[i];
  }
  envp[k] = NULL;
  return envp;
}

/* Start the program: vfork (no copy of our page tables, unlike fork) and exec. The child shares
** our memory until its exec: it only makes system calls on what we prepared, and writes the exec's
** errno into *exec_errno on failure. Its own process group, death with us (PDEATHSIG), default
** signal dispositions and mask, stdin NUL, output to OW, metrics to MW as fd 3 (no O_CLOEXEC: a
** shell's `>&N` takes one digit only). Every signal is blocked in between: no handler of ours runs
** in the child. Returns its pid, or -1 (errno). */
static pid_t child_spawn(char *const *argv, char **envp, int nul, int ow, int mw, volatile int *exec_errno) {
  static const int sigs[] = {SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGQUIT};
  sigset_t all, none, old;
  sigfillset(&all);
  sigemptyset(&none);
  struct sigaction dfl;
  memset(&dfl, 0, sizeof dfl);
  dfl.sa_handler = SIG_DFL;
  pid_t parent = getpid();
  sigprocmask(SIG_SETMASK, &all, &old);
  pid_t pid = vfork();
  if (pid == 0) {
    setpgid(0, 0);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(127);
    for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) sigaction(sigs[i], &dfl, NULL);
    if (nul >= 0) dup2(nul, STDIN_FILENO);
    dup2(ow, STDOUT_FILENO);
    dup2(ow, STDERR_FILENO);
    if (mw != SW_PROGRAM_METRICS_FD) dup2(mw, SW_PROGRAM_METRICS_FD);
    fcntl(SW_PROGRAM_METRICS_FD, F_SETFD, 0);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execvpe(argv[0], argv, envp);
    *exec_errno = errno;
    _exit(127);
  }
  int e = errno;
  sigprocmask(SIG_SETMASK, &old, NULL);
  errno = e;
  return pid;
}

static void log_write(Run *r, const char *b, size_t n) {
  if (r->log < 0) return;
  if (r->logged + n > SW_PROGRAM_LOG_MAX) {
    if (!r->truncated) {
      static const char note[] = "\n[hpsweep: output over the log limit: the rest is not kept]\n";
      if (write(r->log, note, sizeof note - 1) < 0) { /* the log is best effort */
      }
    }
    r->truncated = 1;
    return;
  }
  while (n > 0) {
    ssize_t w = write(r->log, b, n);
    if (w <= 0) return;
    b += w, n -= (size_t)w, r->logged += (size_t)w;
  }
}

/* Read what fd has; close it at EOF. */
static void pipe_read(Run *r, int *fd, int metrics) {
  char buf[65536];
  for (;;) {
    ssize_t k = read(*fd, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (k <= 0) {
      close(*fd);
      *fd = -1;
      return;
    }
    if (!metrics) {
      log_write(r, buf, (size_t)k);
    } else if (!r->row_rc) {
      TrErr e;
      tr_err_clear(&e);
      r->row_rc = sw_proto_feed(r->proto, buf, (size_t)k, &e);
    }
  }
}

static void group_signal(Run *r, int sig) {
  if (kill(-r->pid, sig) != 0 && !r->reaped) kill(r->pid, sig);
}

/* Time limit, stop flag, escalation, exit. */
static void run_control(Run *r, double now) {
  const SwProgramIn *in = r->in;
  if (!r->reaped) {
    int st;
    pid_t w = waitpid(r->pid, &st, WNOHANG);
    if (w == r->pid) {
      r->reaped = 1;
      r->status = st;
      group_signal(r, SIGKILL); /* what it left behind */
      r->drain_until = now + 1.0;
      return;
    }
  }
  if (r->reaped) return;
  int term = 0;
  if (r->row_rc) {
    group_signal(r, SIGKILL);
  } else if (in->stop && *in->stop && !r->out->interrupted && !r->out->timed_out) {
    r->out->interrupted = term = 1;
  } else if (in->max_seconds > 0 && now - r->start > in->max_seconds && !r->out->timed_out && !r->out->interrupted) {
    r->out->timed_out = term = 1;
  }
  if (term) {
    group_signal(r, SIGTERM);
    r->kill_at = now + SW_PROGRAM_GRACE;
  }
  if (r->kill_at > 0 && now >= r->kill_at) group_signal(r, SIGKILL);
}

static void run_loop(Run *r) {
  for (;;) {
    double now = tr_clock_mono();
    run_control(r, now);
    if (r->reaped && ((r->ofd < 0 && r->mfd < 0) || now >= r->drain_until)) break;
    struct pollfd p[3];
    int np = 0;
    if (r->ofd >= 0) p[np++] = (struct pollfd){r->ofd, POLLIN, 0};
    if (r->mfd >= 0) p[np++] = (struct pollfd){r->mfd, POLLIN, 0};
    int npipes = np;
    /* The exit wakes us: the pipes close a moment before the program can be reaped. */
    if (!r->reaped && r->pidfd >= 0) p[np++] = (struct pollfd){r->pidfd, POLLIN, 0};
    if (np == 0) {
      struct timespec ts = {0, 20 * 1000000L};
      nanosleep(&ts, NULL);
      continue;
    }
    if (poll(p, (nfds_t)np, 100) <= 0) continue;
    for (int i = 0; i < npipes; i++)
      if (p[i].revents) pipe_read(r, p[i].fd == r->ofd ? &r->ofd : &r->mfd, p[i].fd == r->mfd);
  }
  if (r->ofd >= 0) close(r->ofd);
  if (r->mfd >= 0) close(r->mfd);
}

void sw_program_log_tail(const char *path, char *out, size_t n) {
  out[0] = '\0';
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return;
  char buf[4096];
  off_t end = lseek(fd, 0, SEEK_END), at = end > (off_t)sizeof buf - 1 ? end - (off_t)sizeof buf + 1 : 0;
  ssize_t k = end > 0 ? pread(fd, buf, (size_t)(end - at), at) : 0;
  close(fd);
  if (k <= 0) return;
  while (k > 0 && buf[k - 1] == '\n') k--;
  buf[k] = '\0';
  char *p = buf + k;
  for (int lines = 0; p > buf; p--)
    if (p[-1] == '\n' && ++lines == SW_PROGRAM_TAIL) break;
  size_t len = strlen(p);
  if (len >= n) p += len - (n - 1);
  snprintf(out, n, "%s", p);
}

/* Pipes, the log and the parser; the program started. */
static int run_start(Run *r, int op[2], int mp[2], char *logpath, size_t n, TrErr *err) {
  snprintf(logpath, n, "%s/%s", r->in->run_dir, SW_PROGRAM_LOG);
  r->log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, TR_FILE_MODE);
  if (r->log < 0) return tr_err_set(err, TR_EIO, "%s: %s", logpath, strerror(errno));
  if (sw_proto_new(&r->proto, r->in->row, r->in->ctx, err)) return TR_ENOMEM;
  char fdvar[32];
  snprintf(fdvar, sizeof fdvar, "HPSWEEP_METRICS_FD=%d", SW_PROGRAM_METRICS_FD);
  char **envp = child_env(r->in, fdvar);
  if (!envp) return tr_err_set(err, TR_ENOMEM, "out of memory");
  if (pipe2(op, O_CLOEXEC) != 0) {
    free(envp);
    return tr_err_set(err, TR_EIO, "pipe: %s", strerror(errno));
  }
  if (pipe2(mp, O_CLOEXEC) != 0) {
    free(envp);
    close(op[0]), close(op[1]);
    return tr_err_set(err, TR_EIO, "pipe: %s", strerror(errno));
  }
  int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
  volatile int exec_errno = 0;
  r->start = tr_clock_mono();
  r->pid = child_spawn(r->in->argv, envp, nul, op[1], mp[1], &exec_errno);
  int e = errno;
  free(envp);
  if (nul >= 0) close(nul);
  close(op[1]), close(mp[1]);
  r->ofd = op[0], r->mfd = mp[0];
  if (r->pid < 0) return tr_err_set(err, TR_EIO, "fork: %s", strerror(e));
  if (exec_errno) { /* it exits 127 */
    char line[1200];
    int k = snprintf(line, sizeof line, "hpsweep: cannot run %.1000s: %s\n", r->in->argv[0], strerror(exec_errno));
    if (k > 0) log_write(r, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
  }
  r->pidfd = (int)syscall(SYS_pidfd_open, r->pid, 0);
  fcntl(r->ofd, F_SETFL, O_NONBLOCK);
  fcntl(r->mfd, F_SETFL, O_NONBLOCK);
  return TR_OK;
}

int sw_program_run(const SwProgramIn *in, SwProgramOut *out, TrErr *err) {
  memset(out, 0, sizeof *out);
  Run r = {.in = in, .out = out, .pid = -1, .pidfd = -1, .ofd = -1, .mfd = -1, .log = -1};
  int op[2], mp[2];
  char logpath[4200];
  int rc = run_start(&r, op, mp, logpath, sizeof logpath, err);
  if (rc == TR_OK) {
    run_loop(&r);
    if (!r.row_rc) {
      TrErr e;
      tr_err_clear(&e);
      r.row_rc = sw_proto_finish(r.proto, &e);
    }
    out->seconds = tr_clock_mono() - r.start;
    out->exited = WIFEXITED(r.status);
    out->code = out->exited ? WEXITSTATUS(r.status) : 0;
    out->signal = WIFSIGNALED(r.status) ? WTERMSIG(r.status) : 0;
    out->stats = *sw_proto_stats(r.proto);
    out->n_messages = sw_proto_message_count(r.proto);
    for (size_t i = 0; i < out->n_messages; i++)
      snprintf(out->messages[i], SW_PROTO_MSG_MAX, "%s", sw_proto_message(r.proto, i));
    if (r.row_rc) rc = tr_err_set(err, r.row_rc, "storing the program's metrics failed");
  } else if (r.ofd >= 0 || r.mfd >= 0) {
    if (r.ofd >= 0) close(r.ofd);
    if (r.mfd >= 0) close(r.mfd);
  }
  if (r.log >= 0) close(r.log);
  if (r.pidfd >= 0) close(r.pidfd);
  sw_proto_free(r.proto);
  sw_program_log_tail(logpath, out->tail, sizeof out->tail);
  return rc;
}

/* ---- leftovers of a dead runner ---- */

/* The value of NAME in an environ block (NUL-separated "NAME=VALUE"), or NULL. */
static const char *environ_get(const char *b, size_t n, const char *name) {
  size_t len = strlen(name);
  for (size_t i = 0; i < n;) {
    const char *e = b + i;
    size_t k = strnlen(e, n - i);
    if (k > len && strncmp(e, name, len) == 0 && e[len] == '=') return e + len + 1;
    i += k + 1;
  }
  return NULL;
}

/* pid's environment says it belongs to an earlier attempt of the trial in run_dir. */
static int is_leftover(pid_t pid, const char *run_dir, int attempt) {
  char path[64], buf[65536];
  snprintf(path, sizeof path, "/proc/%d/environ", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return 0;
  buf[n] = '\0';
  const char *dir = environ_get(buf, (size_t)n, "HPSWEEP_RUN_DIR");
  const char *att = environ_get(buf, (size_t)n, "HPSWEEP_ATTEMPT");
  return dir && att && strcmp(dir, run_dir) == 0 && atoi(att) < attempt;
}

/* One pass over /proc: find the leftovers first, then SIGKILL each with its group (killing
** while scanning would let a group kill race the scan and make the count vary); how many. */
static int reap_pass(const char *run_dir, int attempt) {
  DIR *d = opendir("/proc");
  if (!d) return 0;
  pid_t found[256];
  int n = 0;
  pid_t self = getpid();
  for (struct dirent *e; n < 256 && (e = readdir(d));) {
    char *end;
    long pid = strtol(e->d_name, &end, 10);
    if (*end || pid <= 1 || pid == self || !is_leftover((pid_t)pid, run_dir, attempt)) continue;
    found[n++] = (pid_t)pid;
  }
  closedir(d);
  for (int i = 0; i < n; i++) {
    pid_t g = getpgid(found[i]);
    if (g > 1 && g != getpgrp()) kill(-g, SIGKILL);
    kill(found[i], SIGKILL);
  }
  return n;
}

int sw_program_reap_leftovers(const char *run_dir, int attempt) {
  int killed = reap_pass(run_dir, attempt);
  /* SIGKILL is asynchronous: wait until none is left (a zombie's environ reads empty). */
  for (int i = 0; killed > 0 && i < 100 && reap_pass(run_dir, attempt) > 0; i++) {
    struct timespec ts = {0, 20 * 1000000L};
    nanosleep(&ts, NULL);
  }
  return killed;
}
