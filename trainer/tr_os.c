/* tr_os.c: clocks, mkdir -p, the umask (see tr_os.h for the contract). */
#include "tr_os.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static double clock_seconds(clockid_t id) {
  struct timespec ts;
  clock_gettime(id, &ts);
  return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

double tr_clock_mono(void) { return clock_seconds(CLOCK_MONOTONIC); }

double tr_clock_cpu(void) { return clock_seconds(CLOCK_PROCESS_CPUTIME_ID); }

double tr_clock_wall(void) { return clock_seconds(CLOCK_REALTIME); }

int tr_mkdirs(const char *path) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, n + 1);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = '\0';
    int rc = mkdir(buf, TR_DIR_MODE);
    *p = '/';
    if (rc != 0 && errno != EEXIST) return -1;
  }
  if (mkdir(buf, TR_DIR_MODE) != 0 && errno != EEXIST) return -1;
  return 0;
}

mode_t tr_umask_get(void) {
  mode_t m = umask(022);
  umask(m);
  return m;
}

void tr_os_boot_id(char *buf, size_t n) {
  buf[0] = '\0';
  FILE *f = fopen("/proc/sys/kernel/random/boot_id", "r");
  if (!f) return;
  if (!fgets(buf, (int)n, f)) buf[0] = '\0';
  fclose(f);
  buf[strcspn(buf, " \n")] = '\0';
}

unsigned long long tr_os_pid_ns(void) {
  struct stat sb;
  return stat("/proc/self/ns/pid", &sb) == 0 ? (unsigned long long)sb.st_ino : 0;
}

int tr_os_proc_start(pid_t pid, unsigned long long *ticks) {
  if (pid <= 0) return -1;
  if (kill(pid, 0) != 0 && errno == ESRCH) return 1;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%ld/stat", (long)pid);
  FILE *f = fopen(path, "r");
  if (!f) return errno == ENOENT ? 1 : -1; /* gone since the kill */
  size_t len = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[len] = '\0';
  char *p = strrchr(buf, ')'); /* the command name may hold spaces and parentheses */
  if (!p) return -1;
  /* after ")": field 3 (state) ... field 22 (starttime): skip 19 fields */
  p++;
  for (int k = 0; k < 20 && p; k++) {
    p = strchr(p, ' ');
    if (p) p++;
  }
  if (!p) return -1;
  char *end;
  *ticks = strtoull(p, &end, 10);
  return end == p ? -1 : 0;
}
