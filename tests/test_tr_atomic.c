/* tr_atomic: a write either replaces the file whole or leaves it as it was, and leaves
** no temporary behind: on a write error, on SIGINT/SIGTERM, or (at the next write of
** the same file) after a kill -9. */
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hps_test.h"
#include "tr_atomic.h"
#include "tr_os.h"

static char dir[64], target[128];

static void setup(void) {
  hps_tmp_make(dir, sizeof dir, "hps_atomic_");
  snprintf(target, sizeof target, "%s/out.txt", dir);
  hps_put(dir, "out.txt", "previous");
}

static void teardown(void) { cr_assert_eq(hps_tmp_remove(dir), 0); }

/* Names in dir other than out.txt (temporaries), up to n into names; returns the count. */
static int others(char names[][256], int n) {
  DIR *d = opendir(dir);
  cr_assert_not_null(d);
  int k = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "out.txt")) {
      if (k < n) snprintf(names[k], 256, "%s", e->d_name);
      k++;
    }
  closedir(d);
  return k;
}

static void assert_previous_intact(void) {
  char *s = hps_slurp(target, NULL);
  cr_assert_str_eq(s, "previous");
  free(s);
}

Test(tr_atomic, commit_replaces_the_file_whole_with_shared_permissions, .init = setup, .fini = teardown) {
  TrAtomicFile a;
  TrErr e = {0};
  cr_assert_eq(tr_atomic_open(&a, target, &e), TR_OK, "%s", e.msg);
  fputs("new content\n", a.f);
  cr_assert_eq(tr_atomic_commit(&a, &e), TR_OK, "%s", e.msg);
  char *s = hps_slurp(target, NULL);
  cr_assert_str_eq(s, "new content\n");
  free(s);
  struct stat sb;
  cr_assert_eq(stat(target, &sb), 0);
  cr_assert_eq(sb.st_mode & 0777, TR_FILE_MODE & ~tr_umask_get());
  cr_assert_eq(others(NULL, 0), 0);
}

/* A child opens a write of target (and writes some of it if `some`), tells us, and waits
** mid-write, holding the temporary's lock until it dies. Returns its pid. */
static pid_t writer_child(int some) {
  int pfd[2];
  cr_assert_eq(pipe(pfd), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    TrAtomicFile a;
    if (tr_atomic_open(&a, target, NULL) != TR_OK) _exit(3);
    if (some) fputs("half a file", a.f), fflush(a.f);
    if (write(pfd[1], "x", 1) != 1) _exit(4);
    for (;;) pause();
  }
  close(pfd[1]);
  char c;
  cr_assert_eq(read(pfd[0], &c, 1), 1, "child did not start writing");
  close(pfd[0]);
  return pid;
}

static void signal_mid_write(int sig) {
  pid_t pid = writer_child(1);
  cr_assert_eq(others(NULL, 0), 1, "no temporary while writing");
  kill(pid, sig);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == sig, "the signal is re-raised (status %x)", st);
  char names[4][256];
  cr_assert_eq(others(names, 4), 0, "left %s", names[0]);
  assert_previous_intact();
}

Test(tr_atomic, sigint_mid_write_removes_the_temporary, .init = setup, .fini = teardown) { signal_mid_write(SIGINT); }

Test(tr_atomic, sigterm_mid_write_removes_the_temporary, .init = setup, .fini = teardown) { signal_mid_write(SIGTERM); }

static void backdate_all(void) {
  char names[8][256];
  int n = others(names, 8);
  for (int i = 0; i < n && i < 8; i++) {
    char p[400];
    snprintf(p, sizeof p, "%s/%.255s", dir, names[i]);
    struct timespec t[2] = {{time(NULL) - 600, 0}, {time(NULL) - 600, 0}};
    cr_assert_eq(utimensat(AT_FDCWD, p, t, 0), 0);
  }
}

Test(tr_atomic, next_write_removes_a_killed_writers_temporary_not_a_live_one, .init = setup, .fini = teardown) {
  pid_t dead = writer_child(1);
  kill(dead, SIGKILL);
  waitpid(dead, NULL, 0);
  char names[4][256];
  cr_assert_eq(others(names, 4), 1, "kill -9 leaves its temporary");
  char stale[256];
  snprintf(stale, sizeof stale, "%s", names[0]);
  pid_t live = writer_child(0); /* a concurrent writer of the same file, mid-write */
  backdate_all();              /* both look old: only the lock tells them apart */
  TrAtomicFile a;
  TrErr e = {0};
  cr_assert_eq(tr_atomic_open(&a, target, &e), TR_OK, "%s", e.msg);
  fputs("third", a.f);
  cr_assert_eq(tr_atomic_commit(&a, &e), TR_OK, "%s", e.msg);
  int n = others(names, 4);
  cr_assert_eq(n, 1, "expected only the live writer's temporary, found %d", n);
  cr_assert_str_neq(names[0], stale, "the stale temporary %s is still there", stale);
  kill(live, SIGKILL);
  waitpid(live, NULL, 0);
}

Test(tr_atomic, write_error_fails_naming_the_file_and_keeps_the_old_one, .init = setup, .fini = teardown) {
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) { /* a file size limit (ulimit -f): the writes fail with EFBIG */
    signal(SIGXFSZ, SIG_IGN);
    struct rlimit rl = {4096, 4096};
    if (setrlimit(RLIMIT_FSIZE, &rl) != 0) _exit(5);
    TrAtomicFile a;
    TrErr e = {0};
    if (tr_atomic_open(&a, target, &e) != TR_OK) _exit(3);
    for (int i = 0; i < 2000; i++) fputs("0123456789", a.f);
    int rc = tr_atomic_commit(&a, &e);
    _exit(rc == TR_EIO && strstr(e.msg, target) && strstr(e.msg, strerror(EFBIG)) ? 0 : 6);
  }
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %x", st);
  assert_previous_intact();
  cr_assert_eq(others(NULL, 0), 0);
}

/* Files hpsweep writes (checkpoints, reports, plots, exports: all through tr_atomic) honour the
** umask and are never world-writable, even under umask 000. */
Test(tr_atomic, the_mode_honours_the_umask_and_is_never_world_writable, .init = setup, .fini = teardown) {
  static const mode_t masks[] = {000, 022, 077}, want[] = {0664, 0644, 0600};
  for (int i = 0; i < 3; i++) {
    mode_t old = umask(masks[i]);
    TrAtomicFile a;
    TrErr e = {0};
    cr_assert_eq(tr_atomic_open(&a, target, &e), TR_OK, "%s", e.msg);
    fputs("x\n", a.f);
    cr_assert_eq(tr_atomic_commit(&a, &e), TR_OK, "%s", e.msg);
    umask(old);
    struct stat sb;
    cr_assert_eq(stat(target, &sb), 0);
    cr_expect_eq(sb.st_mode & 0777, want[i], "umask %03o: mode %03o", (unsigned)masks[i], (unsigned)(sb.st_mode & 0777));
  }
}
