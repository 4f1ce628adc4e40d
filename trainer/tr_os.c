/* tr_os.c: clocks, mkdir -p, the umask (see tr_os.h for the contract). */
#include "tr_os.h"

#include <errno.h>
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
