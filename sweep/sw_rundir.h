/*
** sw_rundir.h: a program's run directory copied whole (population-based training of programs,
** docs/pbt.md "Programs"): a member's snapshot at a perturbation step, and a copy of another
** member's snapshot put in place of a run directory.
**
** Contract:
** - Copies regular files, directories and symbolic links (as links), modes kept; every file
**   and directory written is fsynced. Other kinds (sockets, fifos, devices) are skipped.
** - sw_rundir_snapshot(src, dst, skip): dst (absent, its parent created) becomes a copy of src
**   without the top-level entry named skip (NULL: none): written as dst.tmp, fsynced, renamed.
**   A dst that exists is complete (only a rename makes it) and is kept: returns TR_OK.
** - sw_rundir_replace(dir, src, keep): dir's contents become a copy of src's (src NULL: none), except the
**   top-level entry keep of dir (NULL: none), which stays (moved over, not copied). Built
**   as dir.pbt-new, fsynced, then exchanged with dir in one rename (RENAME_EXCHANGE; where the
**   file system lacks it, two renames) and the old contents removed. A crash leaves dir either
**   whole before or whole after, plus a stale dir.pbt-new removed by the next call.
** - Errors: TR_EIO with the path and strerror in err; TR_ENOMEM.
*/
#ifndef SW_RUNDIR_H
#define SW_RUNDIR_H

#include "tr_err.h"

int sw_rundir_snapshot(const char *src, const char *dst, const char *skip, TrErr *err);
int sw_rundir_replace(const char *dir, const char *src, const char *keep, TrErr *err);
/* Remove path and everything under it (no error when it is absent); 0 or -1 (errno). */
int sw_rundir_remove(const char *path);

#endif
