/* tr_atomic.c: atomic file writes (see tr_atomic.h for the contract). */
#include "tr_atomic.h"
#include "tr_alloc.h"
#include "tr_os.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define TMP_SUFFIX 7    /* ".XXXXXX" */
#define N_SLOTS 8

/* Temp paths to unlink on SIGINT/SIGTERM. The handler only reads pointers and calls
** unlink (async-signal-safe); a slot is filled after its string is complete and
** emptied before the string is freed. */
static char *volatile slots[N_SLOTS];

static void on_signal(int sig) {
  for (int i = 0; i < N_SLOTS; i++)
    if (slots[i]) unlink(slots[i]);
  signal(sig, SIG_DFL);
  raise(sig);
}

static void handler_install(int sig) {
  struct sigaction old, sa;
  if (sigaction(sig, NULL, &old) != 0 || old.sa_handler != SIG_DFL || (old.sa_flags & SA_SIGINFO)) return;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static int slot_take(char *tmp) {
  handler_install(SIGINT);
  handler_install(SIGTERM);
  for (int i = 0; i < N_SLOTS; i++)
    if (!slots[i]) {
      slots[i] = tmp;
      return i;
    }
  return -1; /* more than N_SLOTS writes at once: still atomic, only not cleaned on a signal */
}

/* The test hook: HPS_TEST_WRITE_FAIL names the stage that fails (tr_atomic.h). */
static int fault_at(const char *stage) {
  const char *v = getenv("HPS_TEST_WRITE_FAIL");
  return v && strcmp(v, stage) == 0;
}

int tr_atomic_write(TrAtomicFile *a, const void *buf, size_t n) {
  const char *p = buf;
  size_t done = 0;
  if (!a->werr && n && fault_at("write")) a->werr = ENOSPC;
  while (done < n && !a->werr) {
    ssize_t w = write(a->fd, p + done, n - done);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) a->werr = w < 0 ? errno : EIO;
    else done += (size_t)w;
  }
  return a->werr ? -1 : 0;
}

/* fopencookie write: every byte or the error kept (the stream's buffer hides it otherwise). */
static ssize_t cookie_write(void *c, const char *buf, size_t n) {
  return tr_atomic_write(c, buf, n) ? 0 : (ssize_t)n;
}

static int cookie_close(void *c) {
  ((TrAtomicFile *)c)->f_closed = 1; /* the fd stays ours: commit checks and closes it */
  return 0;
}

int tr_atomic_temps_remove(const char *path) {
  const char *slash = strrchr(path, '/');
  const char *base = slash ? slash + 1 : path;
  size_t dlen = slash ? (size_t)(slash - path) + 1 : 0, blen = strlen(base);
  char dir[PATH_MAX]; /* not allocated: this cleanup must not be skipped for want of memory */
  if (dlen + 2 > sizeof dir) return -1;
  if (dlen) memcpy(dir, path, dlen), dir[dlen] = '\0';
  else strcpy(dir, ".");
  DIR *d = opendir(dir);
  if (!d) return -1;
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (strlen(e->d_name) != blen + TMP_SUFFIX || strncmp(e->d_name, base, blen) || e->d_name[blen] != '.') continue;
    int fd = openat(dirfd(d), e->d_name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) continue;
    struct stat sb;
    /* Unlinked while we hold its lock: a writer that locks it next sees nlink 0 and
    ** makes another (temp_create), so a live writer's file is never taken. */
    if (fstat(fd, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_uid == geteuid() &&
        flock(fd, LOCK_EX | LOCK_NB) == 0 && unlinkat(dirfd(d), e->d_name, 0) == 0)
      n++;
    close(fd);
  }
  closedir(d);
  return n;
}

/* mkostemp PATH.XXXXXX into tmp, flock()ed for as long as it is open. One a cleaner
** unlinked between mkostemp and flock is replaced. -1 with errno on failure. */
static int temp_create(char *tmp, size_t n, const char *path) {
  for (int tries = 0; tries < 8; tries++) {
    snprintf(tmp, n, "%s.XXXXXX", path);
    int fd = mkostemp(tmp, O_CLOEXEC);
    if (fd < 0) return -1;
    struct stat sb;
    /* No flock on this file system: no cleaner can lock (and remove) it either. */
    if (flock(fd, LOCK_EX) != 0 || (fstat(fd, &sb) == 0 && sb.st_nlink > 0)) return fd;
    close(fd);
  }
  errno = EAGAIN;
  return -1;
}

int tr_atomic_open(TrAtomicFile *a, const char *path, TrErr *err) {
  memset(a, 0, sizeof *a);
  a->fd = -1;
  a->slot = -1;
  size_t n = strlen(path) + TMP_SUFFIX + 1;
  a->path = tr_strdup(path);
  a->tmp = tr_malloc(n);
  if (!a->path || !a->tmp) {
    free(a->path), free(a->tmp);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory", path);
  }
  tr_atomic_temps_remove(path);
  a->fd = fault_at("open") ? (errno = EACCES, -1) : temp_create(a->tmp, n, path);
  if (a->fd < 0) {
    int rc = tr_err_set(err, TR_EIO, "%s: cannot write: %s", path, strerror(errno));
    free(a->path), free(a->tmp);
    return rc;
  }
  a->slot = slot_take(a->tmp);
  fchmod(a->fd, TR_FILE_MODE & ~tr_umask_get()); /* mkstemp makes 0600; a result file is shared */
  a->f = fopencookie(a, "w", (cookie_io_functions_t){NULL, cookie_write, NULL, cookie_close});
  if (!a->f) {
    tr_atomic_abort(a);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory", path);
  }
  return TR_OK;
}

static void release(TrAtomicFile *a, int remove_tmp) {
  if (a->f && !a->f_closed) fclose(a->f);
  a->f = NULL;
  if (remove_tmp && a->tmp) unlink(a->tmp);
  if (a->fd >= 0) close(a->fd);
  a->fd = -1;
  if (a->slot >= 0) slots[a->slot] = NULL;
  a->slot = -1;
  free(a->tmp), free(a->path);
  a->tmp = a->path = NULL;
}

void tr_atomic_abort(TrAtomicFile *a) { release(a, 1); }

/* Not allocated: a commit must not skip its fsync for want of memory (a longer path
** cannot be opened anyway). */
static void dir_sync(const char *path) {
  char dir[PATH_MAX];
  if (strlen(path) >= sizeof dir) return;
  strcpy(dir, path);
  char *slash = strrchr(dir, '/');
  const char *d = slash ? (slash == dir ? "/" : (*slash = '\0', dir)) : ".";
  int fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) fsync(fd), close(fd); /* the rename itself durable */
}

int tr_atomic_commit(TrAtomicFile *a, TrErr *err) {
  if (a->f && !a->f_closed && fflush(a->f) != 0 && !a->werr) a->werr = errno ? errno : EIO;
  if (a->f && !a->f_closed && ferror(a->f) && !a->werr) a->werr = EIO;
  if (a->f && !a->f_closed) fclose(a->f);
  a->f = NULL;
  const char *what = "write";
  int e = a->werr;
  if (!e && (fault_at("fsync") ? (errno = EIO, 1) : fsync(a->fd) != 0)) e = errno, what = "fsync";
  if (!e && close(a->fd) != 0) e = errno, what = "close";
  if (!e) a->fd = -1;
  if (!e && (fault_at("rename") ? (errno = EACCES, 1) : rename(a->tmp, a->path) != 0)) e = errno, what = "rename";
  if (e) {
    int rc = tr_err_set(err, TR_EIO, "%s: %s failed: %s", a->path, what, strerror(e));
    release(a, 1);
    return rc;
  }
  dir_sync(a->path);
  release(a, 0);
  return TR_OK;
}
