/* tr_os: the monotonic clock never steps back and measures real time; the wall clock is
** unix time; the CPU clock counts work; mkdir -p makes every missing level and accepts
** what exists; the umask is read without being changed. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "hps_test.h"
#include "tr_os.h"

Test(tr_os, mono_clock_never_steps_back) {
  double prev = tr_clock_mono();
  cr_assert_gt(prev, 0.0);
  for (int i = 0; i < 100000; i++) {
    double t = tr_clock_mono();
    cr_assert_geq(t, prev, "clock stepped back: %.9f after %.9f", t, prev);
    prev = t;
  }
}

Test(tr_os, mono_clock_measures_a_sleep) {
  double t0 = tr_clock_mono();
  struct timespec ts = {0, 50 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  double dt = tr_clock_mono() - t0;
  cr_assert(dt >= 0.049 && dt < 5.0, "slept 50 ms, measured %.6f s", dt);
}

Test(tr_os, wall_clock_is_unix_time) {
  time_t before = time(NULL);
  double w = tr_clock_wall();
  time_t after = time(NULL);
  cr_assert(w >= (double)before && w < (double)after + 1, "%.3f not within [%lld, %lld]", w, (long long)before,
            (long long)after + 1);
}

Test(tr_os, cpu_clock_counts_work_not_sleep) {
  double c0 = tr_clock_cpu();
  volatile double x = 0;
  for (long i = 0; i < 20000000; i++) x += 1e-9 * (double)i;
  double c1 = tr_clock_cpu();
  cr_assert_gt(c1, c0, "20M additions took no CPU time");
  struct timespec ts = {0, 100 * 1000 * 1000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
  cr_assert_lt(tr_clock_cpu() - c1, 0.05, "a 100 ms sleep counted as CPU time");
}

Test(tr_os, mkdirs_makes_every_level_and_accepts_existing) {
  char dir[64], deep[160];
  struct stat sb;
  hps_tmp_make(dir, sizeof dir, "hps_os_");
  snprintf(deep, sizeof deep, "%s/a/b/c", dir);
  cr_assert_eq(tr_mkdirs(deep), 0, "%s: %s", deep, strerror(errno));
  cr_assert(stat(deep, &sb) == 0 && S_ISDIR(sb.st_mode));
  cr_assert_eq(sb.st_mode & 0777, TR_DIR_MODE & ~tr_umask_get());
  cr_assert_eq(tr_mkdirs(deep), 0, "an existing directory is success");
  snprintf(deep, sizeof deep, "%s/a/b/c/", dir);
  cr_assert_eq(tr_mkdirs(deep), 0, "a trailing slash is fine");
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

Test(tr_os, mkdirs_fails_under_a_file_and_on_bad_paths) {
  char dir[64], under[160];
  hps_tmp_make(dir, sizeof dir, "hps_os_");
  hps_put(dir, "f", "x");
  snprintf(under, sizeof under, "%s/f/sub", dir);
  errno = 0;
  cr_assert_eq(tr_mkdirs(under), -1);
  cr_assert_eq(errno, ENOTDIR);
  cr_assert_eq(tr_mkdirs(""), -1);
  cr_assert_eq(errno, ENAMETOOLONG);
  static char longp[5000];
  memset(longp, 'a', sizeof longp - 1);
  cr_assert_eq(tr_mkdirs(longp), -1);
  cr_assert_eq(errno, ENAMETOOLONG);
  cr_assert_eq(hps_tmp_remove(dir), 0);
}

Test(tr_os, umask_is_read_unchanged) {
  mode_t old = umask(027);
  cr_assert_eq(tr_umask_get(), 027);
  cr_assert_eq(tr_umask_get(), 027, "reading it twice changes nothing");
  cr_assert_eq(umask(old), 027);
}

Test(tr_os, a_process_start_time_tells_a_live_process_from_a_dead_or_reused_pid) {
  char boot[64];
  tr_os_boot_id(boot, sizeof boot);
  cr_assert_eq(strlen(boot), 36, "a boot id is a UUID: '%s'", boot);
  cr_assert_neq(tr_os_pid_ns(), 0ull);
  unsigned long long me = 0, again = 0, kid = 0;
  cr_assert_eq(tr_os_proc_start(getpid(), &me), 0);
  cr_assert_eq(tr_os_proc_start(getpid(), &again), 0);
  cr_assert_eq(me, again, "the same process, the same start");
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    _exit(0);
  }
  cr_assert_eq(tr_os_proc_start(pid, &kid), 0);
  cr_assert(kid >= me, "started after us");
  int ws;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  cr_assert_eq(tr_os_proc_start(pid, &kid), 1, "gone once reaped");
  cr_assert_eq(tr_os_proc_start(0, &kid), -1);
}

/* Run and output directories honour the umask and are never world-writable, even under umask 000. */
Test(tr_os, mkdirs_honours_the_umask_and_is_never_world_writable) {
  static const mode_t masks[] = {000, 022}, want[] = {0775, 0755};
  char dir[64], sub[160];
  hps_tmp_make(dir, sizeof dir, "hps_os_");
  for (int i = 0; i < 2; i++) {
    snprintf(sub, sizeof sub, "%s/m%d/runs", dir, i);
    mode_t old = umask(masks[i]);
    int rc = tr_mkdirs(sub);
    umask(old);
    cr_assert_eq(rc, 0, "%s: %s", sub, strerror(errno));
    for (int up = 0; up < 2; up++) {
      struct stat sb;
      cr_assert_eq(stat(sub, &sb), 0);
      cr_expect_eq(sb.st_mode & 0777, want[i], "umask %03o: %s is %03o", (unsigned)masks[i], sub,
                   (unsigned)(sb.st_mode & 0777));
      *strrchr(sub, '/') = '\0'; /* and its parent, made on the way */
    }
  }
  cr_assert_eq(hps_tmp_remove(dir), 0);
}
