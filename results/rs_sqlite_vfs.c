/* rs_sqlite_vfs.c: the fault-injecting VFS shim (see rs_sqlite_vfs.h for the contract). */
#include "rs_sqlite_vfs.h"

#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

enum { FAULT_WRITE, FAULT_SYNC, FAULT_FULL };

typedef struct Fault {
  int kind;         /* FAULT_* */
  long at;          /* the K-th call fails */
  int sticky;       /* and every later one ("K+") */
  long n;           /* calls of that kind so far */
} Fault;

typedef struct ShimFile {
  sqlite3_file base; /* pMethods = &shim_io (or NULL when the open failed) */
  sqlite3_file *real; /* follows this struct, szOsFile of the real VFS */
} ShimFile;

static Fault fault;
static sqlite3_vfs shim_vfs, *real_vfs;
static sqlite3_io_methods shim_io;

static sqlite3_file *real_of(sqlite3_file *f) { return ((ShimFile *)f)->real; }

/* 1 if this call of `kind` is the one to fail. */
static int fault_hit(int kind) {
  if (kind != fault.kind) return 0;
  fault.n++;
  return fault.n == fault.at || (fault.sticky && fault.n > fault.at);
}

static int shim_close(sqlite3_file *f) {
  int rc = real_of(f)->pMethods ? real_of(f)->pMethods->xClose(real_of(f)) : SQLITE_OK;
  f->pMethods = NULL;
  return rc;
}
static int shim_read(sqlite3_file *f, void *b, int n, sqlite3_int64 o) {
  return real_of(f)->pMethods->xRead(real_of(f), b, n, o);
}
static int shim_write(sqlite3_file *f, const void *b, int n, sqlite3_int64 o) {
  if (fault.kind == FAULT_FULL && fault_hit(FAULT_FULL)) return SQLITE_FULL;
  if (fault_hit(FAULT_WRITE)) return SQLITE_IOERR_WRITE;
  return real_of(f)->pMethods->xWrite(real_of(f), b, n, o);
}
static int shim_truncate(sqlite3_file *f, sqlite3_int64 sz) {
  return real_of(f)->pMethods->xTruncate(real_of(f), sz);
}
static int shim_sync(sqlite3_file *f, int flags) {
  if (fault_hit(FAULT_SYNC)) return SQLITE_IOERR_FSYNC;
  return real_of(f)->pMethods->xSync(real_of(f), flags);
}
static int shim_size(sqlite3_file *f, sqlite3_int64 *sz) { return real_of(f)->pMethods->xFileSize(real_of(f), sz); }
static int shim_lock(sqlite3_file *f, int l) { return real_of(f)->pMethods->xLock(real_of(f), l); }
static int shim_unlock(sqlite3_file *f, int l) { return real_of(f)->pMethods->xUnlock(real_of(f), l); }
static int shim_reserved(sqlite3_file *f, int *r) {
  return real_of(f)->pMethods->xCheckReservedLock(real_of(f), r);
}
static int shim_fcntl(sqlite3_file *f, int op, void *arg) {
  return real_of(f)->pMethods->xFileControl(real_of(f), op, arg);
}
static int shim_sector(sqlite3_file *f) { return real_of(f)->pMethods->xSectorSize(real_of(f)); }
static int shim_devchar(sqlite3_file *f) { return real_of(f)->pMethods->xDeviceCharacteristics(real_of(f)); }
static int shim_shm_map(sqlite3_file *f, int pg, int sz, int ext, void volatile **p) {
  return real_of(f)->pMethods->xShmMap(real_of(f), pg, sz, ext, p);
}
static int shim_shm_lock(sqlite3_file *f, int off, int n, int flags) {
  return real_of(f)->pMethods->xShmLock(real_of(f), off, n, flags);
}
static void shim_shm_barrier(sqlite3_file *f) { real_of(f)->pMethods->xShmBarrier(real_of(f)); }
static int shim_shm_unmap(sqlite3_file *f, int del) { return real_of(f)->pMethods->xShmUnmap(real_of(f), del); }
static int shim_fetch(sqlite3_file *f, sqlite3_int64 o, int n, void **p) {
  return real_of(f)->pMethods->xFetch(real_of(f), o, n, p);
}
static int shim_unfetch(sqlite3_file *f, sqlite3_int64 o, void *p) {
  return real_of(f)->pMethods->xUnfetch(real_of(f), o, p);
}

static sqlite3_io_methods shim_io = {3, shim_close, shim_read, shim_write, shim_truncate, shim_sync, shim_size,
                                     shim_lock, shim_unlock, shim_reserved, shim_fcntl, shim_sector, shim_devchar,
                                     shim_shm_map, shim_shm_lock, shim_shm_barrier, shim_shm_unmap, shim_fetch,
                                     shim_unfetch};

static int shim_open(sqlite3_vfs *v, const char *name, sqlite3_file *f, int flags, int *out) {
  (void)v;
  ShimFile *s = (ShimFile *)f;
  s->real = (sqlite3_file *)(s + 1);
  s->base.pMethods = NULL;
  int rc = real_vfs->xOpen(real_vfs, name, s->real, flags, out);
  /* The real file decides which methods exist: a version-1 file has no shared memory. */
  if (s->real->pMethods) s->base.pMethods = &shim_io;
  return rc;
}

static int fault_parse(const char *v) {
  static const char *kinds[] = {"write", "sync", "full"};
  const char *colon = strchr(v, ':');
  if (!colon) return -1;
  fault.kind = -1;
  for (int i = 0; i < 3; i++)
    if ((size_t)(colon - v) == strlen(kinds[i]) && strncmp(v, kinds[i], strlen(kinds[i])) == 0) fault.kind = i;
  char *end;
  fault.at = strtol(colon + 1, &end, 10);
  fault.sticky = *end == '+';
  if (fault.sticky) end++;
  return fault.kind < 0 || fault.at < 1 || end == colon + 1 || *end ? -1 : 0;
}

int rs_sqlite_vfs_install(TrErr *err) {
  static int done;
  const char *v = getenv("HPS_TEST_VFS_FAIL");
  if (done || !v || !*v) return TR_OK;
  if (fault_parse(v) != 0)
    return tr_err_set(err, TR_EINVAL, "HPS_TEST_VFS_FAIL=%s: expected write:K, sync:K or full:K (K >= 1, "
                                      "K+ for every call from the K-th on)", v);
  real_vfs = sqlite3_vfs_find(NULL);
  if (!real_vfs) return tr_err_set(err, TR_EDB, "HPS_TEST_VFS_FAIL: SQLite has no default VFS");
  shim_vfs = *real_vfs; /* every method but xOpen is the real one's, called with the real vfs */
  shim_vfs.szOsFile = (int)sizeof(ShimFile) + real_vfs->szOsFile;
  shim_vfs.zName = "hps-fault";
  shim_vfs.pNext = NULL;
  shim_vfs.xOpen = shim_open;
  int rc = sqlite3_vfs_register(&shim_vfs, 1);
  if (rc != SQLITE_OK) return tr_err_set(err, TR_EDB, "HPS_TEST_VFS_FAIL: %s", sqlite3_errstr(rc));
  done = 1;
  return TR_OK;
}
