/* tr_mem.c: memory estimates and the memory available. See tr_mem.h. */
#include "tr_mem.h"

#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "tr_blas.h"
#include "tr_data.h"
#include "tr_model.h"
#include "tr_optim.h"
#include "tr_sample.h"

int tr_mem_estimate(const TrConfig *cfg, int sampling, TrMemEstimate *e, TrErr *err) {
  memset(e, 0, sizeof *e);
  int rc = tr_data_memory(&cfg->data, &e->data, err);
  if (rc) return rc;
  TrModelConfig mc = cfg->model;
  mc.vocab_size = 256;
  int B = cfg->train.batch_size > 0 ? cfg->train.batch_size : 1;
  int micro = cfg->train.micro_batch_size > 0 ? cfg->train.micro_batch_size : B;
  TrModelMemory mm;
  tr_model_memory(&mc, sampling ? 1 : micro, &mm);
  e->params = mm.params_bytes;
  e->overhead = TR_MEM_OVERHEAD;
  if (sampling) {
    e->sample = tr_sampler_bytes(&mc);
  } else {
    e->grads = mm.params_bytes * (B / micro >= 2 ? 2 : 1);
    e->optim = (uint64_t)tr_optim_state_floats(&cfg->optimizer, mm.n_params) * sizeof(float);
    uint64_t per = (uint64_t)micro * (uint64_t)(cfg->model.context_length > 0 ? cfg->model.context_length : 0);
    uint64_t evb = cfg->train.eval_batches > 0 ? (uint64_t)cfg->train.eval_batches : 0;
    e->acts = mm.act_bytes + 2 * per * (1 + evb) * sizeof(int);
  }
  e->total = e->params + e->grads + e->optim + e->acts + e->data + e->sample + e->overhead;
  return TR_OK;
}

/* ---- what is available ---------------------------------------------------- */

/* The first unsigned number of a small file; -1 if unreadable or not a number ("max"). */
static int read_u64(const char *path, uint64_t *v) {
  FILE *f = fopen(path, "re");
  if (!f) return -1;
  unsigned long long x;
  int ok = fscanf(f, "%llu", &x) == 1;
  fclose(f);
  if (!ok) return -1;
  *v = (uint64_t)x;
  return 0;
}

static void take(TrMemAvail *a, uint64_t bytes, const char *source) {
  if (bytes < a->bytes) {
    a->bytes = bytes;
    snprintf(a->source, sizeof a->source, "%s", source);
  }
}

/* limit - usage (usage_file NULL: the limit alone) in dir and every ancestor up to root
** (a limit may sit on a parent). */
static void cgroup_walk(TrMemAvail *a, const char *root, const char *rel, const char *limit_file,
                        const char *usage_file, const char *source) {
  char dir[1024], path[1100];
  snprintf(dir, sizeof dir, "%s%s", root, strcmp(rel, "/") == 0 ? "" : rel);
  for (;;) {
    uint64_t lim, use;
    snprintf(path, sizeof path, "%s/%s", dir, limit_file);
    if (read_u64(path, &lim) == 0 && lim < ((uint64_t)1 << 60)) {
      use = 0;
      snprintf(path, sizeof path, "%s/%s", dir, usage_file ? usage_file : "");
      if (usage_file && read_u64(path, &use) != 0) use = 0;
      take(a, use < lim ? lim - use : 0, source);
    }
    if (strlen(dir) <= strlen(root)) break;
    char *slash = strrchr(dir, '/');
    if (!slash) break;
    *slash = '\0';
  }
}

/* This process's cgroups (v2 "0::/path", v1 "N:...memory...:/path"). Tests point
** HPS_TEST_PROC_CGROUP and HPS_TEST_SYS_CGROUP at a fake /proc/self/cgroup and /sys/fs/cgroup. */
static void cgroup_limits(TrMemAvail *a, int with_usage) {
  const char *proc = getenv("HPS_TEST_PROC_CGROUP"), *sys = getenv("HPS_TEST_SYS_CGROUP");
  char v1root[1024];
  if (!proc) proc = "/proc/self/cgroup";
  if (!sys) sys = "/sys/fs/cgroup";
  snprintf(v1root, sizeof v1root, "%s/memory", sys);
  FILE *f = fopen(proc, "re");
  if (!f) return;
  char line[1024];
  while (fgets(line, sizeof line, f)) {
    line[strcspn(line, "\n")] = '\0';
    char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    if (!c2) continue;
    *c1 = *c2 = '\0';
    const char *ctrl = c1 + 1, *rel = c2 + 1;
    if (strcmp(line, "0") == 0 && *ctrl == '\0') {
      cgroup_walk(a, sys, rel, "memory.max", with_usage ? "memory.current" : NULL, "cgroup limit");
    } else {
      char list[256];
      snprintf(list, sizeof list, ",%s,", ctrl);
      if (strstr(list, ",memory,"))
        cgroup_walk(a, v1root, rel, "memory.limit_in_bytes", with_usage ? "memory.usage_in_bytes" : NULL,
                    "cgroup v1 limit");
    }
  }
  fclose(f);
}

uint64_t tr_mem_blas_reserve(int threads) {
  if (threads < 1) threads = 1;
  size_t stack = 8u << 20; /* glibc's default when it cannot say */
  pthread_attr_t at;
  if (pthread_getattr_default_np(&at) == 0) {
    pthread_attr_getstacksize(&at, &stack);
    pthread_attr_destroy(&at);
  }
  uint64_t guard = (uint64_t)sysconf(_SC_PAGESIZE);
  return (uint64_t)threads * TR_MEM_BLAS_BUFFER + (uint64_t)(threads - 1) * (stack + guard);
}

/* RLIMIT_AS less the address space mapped now (with_usage), or UINT64_MAX when it is infinite. */
static uint64_t rlimit_as_room(int with_usage) {
  struct rlimit rl;
  if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return UINT64_MAX;
  uint64_t pages = 0, size;
  FILE *f = with_usage ? fopen("/proc/self/statm", "re") : NULL;
  if (f) {
    unsigned long long p;
    if (fscanf(f, "%llu", &p) == 1) pages = p;
    fclose(f);
  }
  size = pages * (uint64_t)sysconf(_SC_PAGESIZE);
  return size < (uint64_t)rl.rlim_cur ? (uint64_t)rl.rlim_cur - size : 0;
}

/* RLIMIT_AS less the address space mapped now (with_usage) and what OpenBLAS will map for threads. */
static void rlimit_as(TrMemAvail *a, int with_usage, int threads) {
  uint64_t room = rlimit_as_room(with_usage), need = tr_mem_blas_reserve(threads);
  if (room != UINT64_MAX) take(a, room > need ? room - need : 0, "RLIMIT_AS");
}

int tr_mem_threads_set(int threads, TrErr *err) {
  if (threads < 1) threads = 1;
  uint64_t room = rlimit_as_room(1), need = tr_mem_blas_reserve(threads);
  if (room != UINT64_MAX && need > room) {
    char n[32], r[32];
    tr_mem_format(need, n, sizeof n);
    tr_mem_format(room, r, sizeof r);
    return tr_err_set(err, TR_ENOMEM, "%d thread%s need %s of address space (OpenBLAS's buffers and stacks), %s left "
                      "under RLIMIT_AS (ulimit -v)", threads, threads == 1 ? "" : "s", n, r);
  }
  openblas_set_num_threads(threads);
  return TR_OK;
}

/* key: "MemAvailable" or "MemTotal". */
static void meminfo(TrMemAvail *a, const char *key) {
  FILE *f = fopen("/proc/meminfo", "re");
  if (!f) return;
  char line[256], fmt[64];
  snprintf(fmt, sizeof fmt, "%s: %%llu kB", key);
  unsigned long long kb;
  while (fgets(line, sizeof line, f))
    if (sscanf(line, fmt, &kb) == 1) {
      take(a, (uint64_t)kb * 1024, key);
      break;
    }
  fclose(f);
}

/* HPSWEEP_MEMORY_AVAILABLE: "123", "512M", "2G"; 0 if unset or malformed (ignored). */
static int env_override(TrMemAvail *a) {
  const char *s = getenv("HPSWEEP_MEMORY_AVAILABLE");
  if (!s || !*s) return 0;
  char *end;
  errno = 0;
  unsigned long long x = strtoull(s, &end, 10);
  if (errno || end == s) return 0;
  int shift = 0;
  switch (*end) {
    case 'K': case 'k': shift = 10; end++; break;
    case 'M': case 'm': shift = 20; end++; break;
    case 'G': case 'g': shift = 30; end++; break;
    case 'T': case 't': shift = 40; end++; break;
    default: break;
  }
  if (*end != '\0' || (shift && x > (UINT64_MAX >> shift))) return 0;
  a->bytes = (uint64_t)x << shift;
  snprintf(a->source, sizeof a->source, "HPSWEEP_MEMORY_AVAILABLE");
  return 1;
}

void tr_mem_available(TrMemAvail *a, int threads) {
  a->bytes = UINT64_MAX;
  snprintf(a->source, sizeof a->source, "unknown");
  if (env_override(a)) return;
  cgroup_limits(a, 1);
  rlimit_as(a, 1, threads);
  meminfo(a, "MemAvailable");
}

void tr_mem_limit(TrMemAvail *a, int threads) {
  a->bytes = UINT64_MAX;
  snprintf(a->source, sizeof a->source, "unknown");
  if (env_override(a)) return;
  cgroup_limits(a, 0);
  rlimit_as(a, 0, threads);
  meminfo(a, "MemTotal");
}

/* ---- messages --------------------------------------------------------------- */

static const char *const UNITS[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};

/* The unit of bytes: the largest with value >= 1. */
static int unit_of(uint64_t bytes) {
  int u = 0;
  while (u < 5 && bytes >= ((uint64_t)1 << (10 * (u + 1)))) u++;
  return u;
}

void tr_mem_format(uint64_t bytes, char *buf, size_t n) {
  if (bytes == UINT64_MAX) {
    snprintf(buf, n, "unlimited");
    return;
  }
  int u = unit_of(bytes);
  double v = (double)bytes / (double)((uint64_t)1 << (10 * u));
  if (u == 0 || v >= 100) snprintf(buf, n, "%.0f %s", v, UNITS[u]);
  else snprintf(buf, n, "%.1f %s", v, UNITS[u]);
}

void tr_mem_describe(const TrMemEstimate *e, char *buf, size_t n) {
  char tot[32];
  tr_mem_format(e->total, tot, sizeof tot);
  double k = (double)((uint64_t)1 << (10 * unit_of(e->total)));
  int off = snprintf(buf, n, "%s (params %.1f, gradients %.1f, optimizer %.1f, activations %.1f, data %.1f",
                     tot, e->params / k, e->grads / k, e->optim / k, e->acts / k, e->data / k);
  if (off > 0 && (size_t)off < n && e->sample)
    off += snprintf(buf + off, n - (size_t)off, ", sampler %.1f", e->sample / k);
  if (off > 0 && (size_t)off < n) snprintf(buf + off, n - (size_t)off, ", fixed %.1f)", e->overhead / k);
}

int tr_mem_check(const TrMemEstimate *e, const TrMemAvail *a, TrErr *err) {
  if (e->total <= a->bytes) return TR_OK;
  char need[256], have[32];
  tr_mem_describe(e, need, sizeof need);
  tr_mem_format(a->bytes, have, sizeof have);
  return tr_err_set(err, TR_ENOMEM, "model needs %s, %s available (%s)", need, have, a->source);
}
