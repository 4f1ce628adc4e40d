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
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tr_os.h"

typedef struct Run {
  const SwProgramIn *in;
  SwProgramOut *out;
  pid_t pid;
  int ofd, mfd, log;          /* read ends (-1 closed), the log file */
  size_t logged;
  int truncated, status, reaped;
  double start, kill_at, drain_until;
  SwProto *proto;
  int row_rc;                 /* a non-zero ROW return */
} Run;

/* In the child: never returns. Output to OUT, metrics to MW, our process group, die with the parent. */
static void child_exec(const SwProgramIn *in, int ow, int mw, pid_t parent) {
  setpgid(0, 0);
  prctl(PR_SET_PDEATHSIG, SIGKILL);
  if (getppid() != parent) _exit(127);
  static const int sigs[] = {SIGPIPE, SIGXFSZ, SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGQUIT};
  for (size_t i = 0; i < sizeof sigs / sizeof *sigs; i++) signal(sigs[i], SIG_DFL);
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  int nul = open("/dev/null", O_RDONLY);
  if (nul >= 0 && nul != STDIN_FILENO) dup2(nul, STDIN_FILENO), close(nul);
  dup2(ow, STDOUT_FILENO);
  dup2(ow, STDERR_FILENO);
  /* fd 3, inherited (no O_CLOEXEC): a shell's `>&N` takes one digit only. */
  int fd = SW_PROGRAM_METRICS_FD;
  if (mw != fd) dup2(mw, fd);
  fcntl(fd, F_SETFD, 0);
  char num[32];
  snprintf(num, sizeof num, "%d", fd);
  setenv("HPSWEEP_METRICS_FD", num, 1);
  for (char *const *e = in->env; e && *e; e++) putenv(*e);
  execvp(in->argv[0], in->argv);
  fprintf(stderr, "hpsweep: cannot run %s: %s\n", in->argv[0], strerror(errno));
  _exit(127);
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
    struct pollfd p[2];
    int np = 0;
    if (r->ofd >= 0) p[np++] = (struct pollfd){r->ofd, POLLIN, 0};
    if (r->mfd >= 0) p[np++] = (struct pollfd){r->mfd, POLLIN, 0};
    if (np == 0) {
      struct timespec ts = {0, 20 * 1000000L};
      nanosleep(&ts, NULL);
      continue;
    }
    if (poll(p, (nfds_t)np, 100) <= 0) continue;
    for (int i = 0; i < np; i++)
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

/* Pipes, the log and the parser; the fork. */
static int run_start(Run *r, int op[2], int mp[2], char *logpath, size_t n, TrErr *err) {
  snprintf(logpath, n, "%s/%s", r->in->run_dir, SW_PROGRAM_LOG);
  r->log = open(logpath, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (r->log < 0) return tr_err_set(err, TR_EIO, "%s: %s", logpath, strerror(errno));
  if (sw_proto_new(&r->proto, r->in->row, r->in->ctx, err)) return TR_ENOMEM;
  if (pipe2(op, O_CLOEXEC) != 0) return tr_err_set(err, TR_EIO, "pipe: %s", strerror(errno));
  if (pipe2(mp, O_CLOEXEC) != 0) {
    close(op[0]), close(op[1]);
    return tr_err_set(err, TR_EIO, "pipe: %s", strerror(errno));
  }
  pid_t parent = getpid();
  r->start = tr_clock_mono();
  r->pid = fork();
  if (r->pid == 0) child_exec(r->in, op[1], mp[1], parent);
  int e = errno;
  close(op[1]), close(mp[1]);
  r->ofd = op[0], r->mfd = mp[0];
  if (r->pid < 0) return tr_err_set(err, TR_EIO, "fork: %s", strerror(e));
  setpgid(r->pid, r->pid); /* also here: no signal may reach it before its group exists */
  fcntl(r->ofd, F_SETFL, O_NONBLOCK);
  fcntl(r->mfd, F_SETFL, O_NONBLOCK);
  return TR_OK;
}

int sw_program_run(const SwProgramIn *in, SwProgramOut *out, TrErr *err) {
  memset(out, 0, sizeof *out);
  Run r = {in, out, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, NULL, 0};
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
