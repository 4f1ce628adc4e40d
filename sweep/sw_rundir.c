/*
** sw_rundir.c: run directories copied whole, fsynced, put in place by rename (sw_rundir.h).
*/
#include "sw_rundir.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "tr_os.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

#define RD_PATH 4352

static int io_fail(TrErr *err, const char *what, const char *path) {
  return tr_err_set(err, TR_EIO, "%s %.2000s: %s", what, path, strerror(errno));
}

static int fsync_path(const char *path, int dir) {
  int fd = open(path, (dir ? O_RDONLY | O_DIRECTORY : O_WRONLY) | O_CLOEXEC);
  if (fd < 0) return -1;
  int rc = fsync(fd);
  close(fd);
  return rc;
}

/* Copy the regular file src to dst (created, mode kept), fsynced. */
static int copy_file(const char *src, const char *dst, mode_t mode, TrErr *err) {
  int in = open(src, O_RDONLY | O_CLOEXEC);
  if (in < 0) return io_fail(err, "cannot read", src);
  int out = open(dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode & 07777);
  if (out < 0) {
    close(in);
    return io_fail(err, "cannot create", dst);
  }
  char buf[65536];
  int rc = TR_OK;
  for (;;) {
    ssize_t k = read(in, buf, sizeof buf);
    if (k < 0 && errno == EINTR) continue;
    if (k < 0) rc = io_fail(err, "cannot read", src);
    if (k <= 0) break;
    for (ssize_t o = 0; o < k && rc == TR_OK;) {
      ssize_t w = write(out, buf + o, (size_t)(k - o));
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) rc = io_fail(err, "cannot write", dst);
      else o += w;
    }
    if (rc) break;
  }
  if (rc == TR_OK && fsync(out) != 0) rc = io_fail(err, "cannot fsync", dst);
  close(in);
  if (close(out) != 0 && rc == TR_OK) rc = io_fail(err, "cannot write", dst);
  return rc;
}

/* Copy the tree src into the directory dst (created), skipping the top-level entry skip. */
static int copy_tree(const char *src, const char *dst, const char *skip, TrErr *err) {
  struct stat sb;
  if (stat(src, &sb) != 0) return io_fail(err, "cannot read", src);
  if (mkdir(dst, sb.st_mode & 07777) != 0) return io_fail(err, "cannot create", dst);
  DIR *d = opendir(src);
  if (!d) return io_fail(err, "cannot read", src);
  int rc = TR_OK;
  char s[RD_PATH], t[RD_PATH];
  for (struct dirent *e; rc == TR_OK && (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") || (skip && !strcmp(e->d_name, skip))) continue;
    if ((size_t)snprintf(s, sizeof s, "%s/%s", src, e->d_name) >= sizeof s ||
        (size_t)snprintf(t, sizeof t, "%s/%s", dst, e->d_name) >= sizeof t) {
      rc = tr_err_set(err, TR_EIO, "path too long under %.2000s", src);
      break;
    }
    if (lstat(s, &sb) != 0) {
      rc = io_fail(err, "cannot read", s);
    } else if (S_ISDIR(sb.st_mode)) {
      rc = copy_tree(s, t, NULL, err);
    } else if (S_ISREG(sb.st_mode)) {
      rc = copy_file(s, t, sb.st_mode, err);
    } else if (S_ISLNK(sb.st_mode)) {
      char target[RD_PATH];
      ssize_t k = readlink(s, target, sizeof target - 1);
      if (k < 0) rc = io_fail(err, "cannot read", s);
      else if (target[k] = '\0', symlink(target, t) != 0) rc = io_fail(err, "cannot create", t);
    }
  }
  closedir(d);
  if (rc == TR_OK && fsync_path(dst, 1) != 0) rc = io_fail(err, "cannot fsync", dst);
  return rc;
}

int sw_rundir_remove(const char *path) {
  struct stat sb;
  if (lstat(path, &sb) != 0) return errno == ENOENT ? 0 : -1;
  if (!S_ISDIR(sb.st_mode)) return unlink(path);
  DIR *d = opendir(path);
  if (!d) return -1;
  char p[RD_PATH];
  int rc = 0;
  for (struct dirent *e; (e = readdir(d));) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if ((size_t)snprintf(p, sizeof p, "%s/%s", path, e->d_name) >= sizeof p || sw_rundir_remove(p) != 0) rc = -1;
  }
  closedir(d);
  return rc == 0 ? rmdir(path) : rc;
}

/* The directory holding path, fsynced (a rename there is durable). */
static void fsync_parent(const char *path) {
  char p[RD_PATH];
  snprintf(p, sizeof p, "%s", path);
  char *slash = strrchr(p, '/');
  if (!slash) return;
  *slash = '\0';
  fsync_path(*p ? p : "/", 1);
}

int sw_rundir_snapshot(const char *src, const char *dst, const char *skip, TrErr *err) {
  char tmp[RD_PATH], parent[RD_PATH];
  struct stat sb;
  if (stat(dst, &sb) == 0) return TR_OK; /* made by a rename: complete */
  if ((size_t)snprintf(tmp, sizeof tmp, "%s.tmp", dst) >= sizeof tmp) return tr_err_set(err, TR_EIO, "path too long");
  snprintf(parent, sizeof parent, "%s", dst);
  char *slash = strrchr(parent, '/');
  if (slash) *slash = '\0';
  if (slash && tr_mkdirs(parent) != 0) return io_fail(err, "cannot create", parent);
  if (sw_rundir_remove(tmp) != 0) return io_fail(err, "cannot remove", tmp);
  int rc = copy_tree(src, tmp, skip, err);
  if (rc == TR_OK && rename(tmp, dst) != 0) rc = io_fail(err, "cannot rename to", dst);
  if (rc) {
    sw_rundir_remove(tmp);
    return rc;
  }
  fsync_parent(dst);
  return TR_OK;
}

int sw_rundir_replace(const char *dir, const char *src, const char *keep, TrErr *err) {
  char next[RD_PATH], a[RD_PATH], b[RD_PATH];
  if ((size_t)snprintf(next, sizeof next, "%s.pbt-new", dir) >= sizeof next) return tr_err_set(err, TR_EIO, "path too long");
  if (sw_rundir_remove(next) != 0) return io_fail(err, "cannot remove", next);
  int rc = TR_OK;
  if (src) rc = copy_tree(src, next, keep, err);
  else if (mkdir(next, 0777) != 0) rc = io_fail(err, "cannot create", next);
  if (rc == TR_OK && keep) { /* ours stays: moved into the new contents */
    if ((size_t)snprintf(a, sizeof a, "%s/%s", dir, keep) >= sizeof a ||
        (size_t)snprintf(b, sizeof b, "%s/%s", next, keep) >= sizeof b)
      rc = tr_err_set(err, TR_EIO, "path too long under %.2000s", dir);
    else if (rename(a, b) != 0 && errno != ENOENT) rc = io_fail(err, "cannot move", a);
    else fsync_path(next, 1);
  }
  if (rc == TR_OK && syscall(SYS_renameat2, AT_FDCWD, next, AT_FDCWD, dir, RENAME_EXCHANGE) != 0) {
    /* no RENAME_EXCHANGE here: the old contents aside, then the new in place */
    snprintf(a, sizeof a, "%s.pbt-old", dir);
    sw_rundir_remove(a);
    if (rename(dir, a) != 0 || rename(next, dir) != 0) rc = io_fail(err, "cannot put in place", dir);
    else memcpy(next, a, sizeof next);
  }
  fsync_parent(dir);
  sw_rundir_remove(next); /* the old contents, or on failure the unfinished copy */
  return rc;
}
