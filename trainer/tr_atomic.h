/*
** tr_atomic.h: write a file atomically: the one home of "temp file, check, fsync,
** rename" in the tree (reports, exports, figures, checkpoints).
**
** Contract:
** - tr_atomic_open creates PATH.XXXXXX beside PATH (same file system, so the
**   rename is atomic), mode 0666 & ~umask. Write through a->f (stdio) or a->fd.
**   Every write through a->f is checked: the first failure (ENOSPC, EFBIG, EIO)
**   is kept and tr_atomic_commit reports it. a->f may be handed to a library
**   that fcloses it (PLplot does): the stream then closes itself, a->fd stays open.
** - tr_atomic_commit flushes, checks, fsyncs, closes, renames over PATH and
**   fsyncs the directory. On any failure (and in tr_atomic_abort) the temp file
**   is removed and a previous PATH is left untouched. Either call ends the write.
** - Ctrl-C: while a write is open its temp path is registered with a SIGINT and
**   SIGTERM handler (installed only where the disposition is still the default)
**   that unlinks it and re-raises the signal: nothing is left behind.
** - kill -9 leaves the temp file: the next tr_atomic_open of the same PATH removes
**   PATH.XXXXXX files nobody writes any more (tr_atomic_temps_remove). A writer
**   holds an flock on its temp file for its whole life, so an unlocked one is stale;
**   a writer whose fresh temp was unlinked before it took the lock makes another.
** - Test hook: HPS_TEST_WRITE_FAIL=open|write|fsync|rename makes that stage of every
**   atomic write of the process fail as the system would (open: EACCES, an unwritable
**   directory; write: ENOSPC, a full disk; fsync: EIO; rename: EACCES).
** - The TrAtomicFile must not move between open and commit/abort (the stream
**   refers to it). The signal registry is per process and unlocked: open and end
**   writes from one thread (workers are processes).
*/
#ifndef TR_ATOMIC_H
#define TR_ATOMIC_H

#include <stdio.h>
#include <sys/types.h>

#include "tr_err.h"

typedef struct TrAtomicFile {
  char *path, *tmp; /* owned */
  int fd;           /* the temp file; -1 when closed */
  FILE *f;          /* checked stdio stream on fd */
  int f_closed;     /* someone fclosed f */
  int werr;         /* errno of the first failed write, 0 if none */
  int slot;         /* index in the signal cleanup registry, -1 if none */
} TrAtomicFile;

int tr_atomic_open(TrAtomicFile *a, const char *path, TrErr *err);
/* Write n bytes to a->fd (a file written without stdio): 0, or -1 with the failure
** kept for tr_atomic_commit to report, as for a->f. */
int tr_atomic_write(TrAtomicFile *a, const void *buf, size_t n);
/* TR_OK: PATH now holds what was written; else TR_EIO naming PATH and the cause. */
int tr_atomic_commit(TrAtomicFile *a, TrErr *err);
void tr_atomic_abort(TrAtomicFile *a);
/* Remove PATH.XXXXXX temporaries that no live writer holds (ours, unlocked);
** the number removed, -1 if PATH's directory cannot be read. */
int tr_atomic_temps_remove(const char *path);

#endif
