/*
** rs_sqlite_vfs.h: a test hook of the SQLite backend: a VFS shim (SQLite's own
** mechanism, sqlite3_vfs_register) over the default VFS that fails the k-th
** write or sync of this process, or reports the disk full.
**
** Contract:
** - rs_sqlite_vfs_install reads HPS_TEST_VFS_FAIL once per process: unset or empty,
**   nothing happens (TR_OK). "KIND:K" fails the K-th call of that kind made by this
**   process (counted over every database file: the database, its WAL, its journal);
**   "KIND:K+" fails the K-th and every later one (a disk that stays full). KIND:
**   write (xWrite returns SQLITE_IOERR_WRITE), sync (xSync returns
**   SQLITE_IOERR_FSYNC), full (xWrite returns SQLITE_FULL). The shim becomes the
**   default VFS, so every connection opened afterwards goes through it.
** - A malformed value is TR_EINVAL naming it. Processes forked later keep the
**   shim and the counts reached so far; each process then counts its own calls.
** - Not thread-safe (the store is used from one thread per process).
*/
#ifndef RS_SQLITE_VFS_H
#define RS_SQLITE_VFS_H

#include "tr_err.h"

int rs_sqlite_vfs_install(TrErr *err);

#endif
