/*
** tr_os.h: the base layer's operating-system utilities, shared by every layer
** (trainer/, results/, sweep/, cli/): clocks, directories, the umask.
** Atomic file writes live beside them in tr_atomic.h; JSON text in tr_json.h;
** the OpenBLAS declarations in tr_blas.h.
**
** Contract:
** - tr_clock_mono: seconds on CLOCK_MONOTONIC (never steps back, unaffected by
**   date changes): the only clock for durations, deadlines and rates. Its zero
**   is arbitrary; only differences mean anything.
** - tr_clock_cpu: this process's CPU seconds (all threads), CLOCK_PROCESS_CPUTIME_ID.
** - tr_clock_wall: unix seconds (CLOCK_REALTIME): for times stored or compared
**   across processes and hosts (leases, heartbeats), never for durations.
** - Modes of what hpsweep creates: TR_FILE_MODE & ~umask for files (databases are SQLite's
**   0644 & ~umask), TR_DIR_MODE & ~umask for directories: the umask is honoured, and nothing
**   is world-writable even under umask 000 (a shared results directory is at most group-writable).
** - tr_mkdirs: mkdir -p. Creates PATH and its missing parents with mode
**   TR_DIR_MODE & ~umask; an existing directory is success. 0, or -1 with errno set
**   (ENAMETOOLONG for paths of 4096 bytes or more).
** - tr_umask_get: the process umask, left unchanged. Not thread-safe (umask has
**   no read-only call): call it from one thread, as tr_atomic does.
** - Process identity, for telling whether a process elsewhere in this machine's
**   pid space is the one that was there before (Linux /proc; elsewhere "unknown"):
**   tr_os_boot_id: /proc/sys/kernel/random/boot_id into buf ("" if unreadable);
**   tr_os_pid_ns: the inode of /proc/self/ns/pid (our pid namespace), 0 if unknown;
**   tr_os_proc_start: when process pid started, in clock ticks after boot (field 22
**   of /proc/PID/stat): 0 and *ticks, 1 when there is no such process (ESRCH), -1 unknown.
*/
#ifndef TR_OS_H
#define TR_OS_H

#include <sys/types.h>

#define TR_FILE_MODE 0664
#define TR_DIR_MODE 0775

double tr_clock_mono(void);
double tr_clock_cpu(void);
double tr_clock_wall(void);
int tr_mkdirs(const char *path);
mode_t tr_umask_get(void);
void tr_os_boot_id(char *buf, size_t n);
unsigned long long tr_os_pid_ns(void);
int tr_os_proc_start(pid_t pid, unsigned long long *ticks);

#endif
