/* tr_cpu.c: which kernel level this CPU runs (tr_cpu.h). */
#include "tr_cpu.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

static atomic_int level_cur = -1;
static const char *env_note;

const char *tr_cpu_level_name(TrCpuLevel level) {
  static const char *const names[] = {"x86-64", "x86-64-v3", "x86-64-v4"};
  return level >= 0 && level < TR_CPU_NLEVELS ? names[level] : "?";
}

int tr_cpu_supported(TrCpuLevel level) {
  if (level == TR_CPU_BASE) return 1;
#if TR_CPU_MULTI
  __builtin_cpu_init();
  /* libgcc's checks include the OS's XSAVE state for AVX and AVX-512 */
  int v3 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
           __builtin_cpu_supports("bmi") && __builtin_cpu_supports("bmi2");
#if !defined(__clang__)
  v3 = v3 && __builtin_cpu_supports("movbe") && __builtin_cpu_supports("lzcnt");
#endif
  if (level == TR_CPU_V3) return v3;
  if (level == TR_CPU_V4)
    return v3 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512cd") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl");
#endif
  return 0;
}

static int level_parse(const char *s) {
  static const char *const names[][2] = {{"base", "x86-64"}, {"v3", "x86-64-v3"}, {"v4", "x86-64-v4"}};
  for (int i = 0; i < TR_CPU_NLEVELS; i++)
    if (!strcmp(s, names[i][0]) || !strcmp(s, names[i][1])) return i;
  return -1;
}

static int level_choose(void) {
  int best = TR_CPU_BASE;
  for (int l = TR_CPU_V3; l < TR_CPU_NLEVELS; l++)
    if (tr_cpu_supported((TrCpuLevel)l)) best = l;
  const char *env = getenv("HPSWEEP_CPU");
  if (!env || !*env) return best;
  int want = level_parse(env);
  if (want < 0)
    env_note = "unknown level (base, v3, v4): using the best level";
  else if (!tr_cpu_supported((TrCpuLevel)want))
    env_note = "this CPU cannot run that level: using the best level";
  else
    return want;
  return best;
}

TrCpuLevel tr_cpu_level(void) {
  int l = atomic_load_explicit(&level_cur, memory_order_relaxed);
  if (l < 0) {
    l = level_choose(); /* idempotent: concurrent first callers agree */
    atomic_store_explicit(&level_cur, l, memory_order_relaxed);
  }
  return (TrCpuLevel)l;
}

int tr_cpu_force(TrCpuLevel level) {
  if (level < 0 || level >= TR_CPU_NLEVELS || !tr_cpu_supported(level)) return -1;
  atomic_store_explicit(&level_cur, (int)level, memory_order_relaxed);
  return 0;
}

const char *tr_cpu_env_note(void) {
  tr_cpu_level();
  return env_note;
}
