/* tr_alloc.c: the allocator and its failure hook. See tr_alloc.h. */
#include "tr_alloc.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

static int g_armed;          /* read on every allocation: one branch */
static uint64_t g_fail_at;   /* the allocation number that fails */
static int g_persist;        /* and every one after it */
static uint64_t g_count, g_failures;

void tr_alloc_fail_at(uint64_t k, int persist) {
  __atomic_store_n(&g_armed, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_count, 0, __ATOMIC_SEQ_CST);
  __atomic_store_n(&g_failures, 0, __ATOMIC_SEQ_CST);
  g_fail_at = k;
  g_persist = persist;
  if (k) __atomic_store_n(&g_armed, 1, __ATOMIC_SEQ_CST);
}

uint64_t tr_alloc_count(void) { return __atomic_load_n(&g_count, __ATOMIC_SEQ_CST); }
uint64_t tr_alloc_failures(void) { return __atomic_load_n(&g_failures, __ATOMIC_SEQ_CST); }

/* 1 if this allocation is to fail (only called when armed). */
static int should_fail(void) {
  uint64_t i = __atomic_add_fetch(&g_count, 1, __ATOMIC_SEQ_CST);
  if (i == g_fail_at || (g_persist && i > g_fail_at)) {
    __atomic_add_fetch(&g_failures, 1, __ATOMIC_SEQ_CST);
    return 1;
  }
  return 0;
}

#define TR_ALLOC_GATE() \
  if (__builtin_expect(__atomic_load_n(&g_armed, __ATOMIC_RELAXED), 0) && should_fail()) return NULL

void *tr_malloc(size_t n) {
  TR_ALLOC_GATE();
  return malloc(n ? n : 1);
}

void *tr_calloc(size_t count, size_t size) {
  TR_ALLOC_GATE();
  return count && size ? calloc(count, size) : calloc(1, 1);
}

void *tr_realloc(void *p, size_t n) {
  TR_ALLOC_GATE();
  return realloc(p, n ? n : 1);
}

char *tr_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = tr_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

char *tr_strndup(const char *s, size_t n) {
  size_t len = strnlen(s, n);
  char *d = tr_malloc(len + 1);
  if (!d) return NULL;
  memcpy(d, s, len);
  d[len] = '\0';
  return d;
}

int tr_vasprintf(char **out, const char *fmt, va_list ap) {
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return -1;
  char *s = tr_malloc((size_t)n + 1);
  if (!s) return -1;
  vsnprintf(s, (size_t)n + 1, fmt, ap);
  *out = s;
  return n;
}

int tr_memalign(void **out, size_t align, size_t n) {
  if (__builtin_expect(__atomic_load_n(&g_armed, __ATOMIC_RELAXED), 0) && should_fail()) return ENOMEM;
  return posix_memalign(out, align, n ? n : 1);
}

/* At exit of a process armed by HPS_ALLOC_FAIL_AT: how far it got, for the test driving it. */
static void report_at_exit(void) {
  fprintf(stderr, "HPS_ALLOC_FAIL_AT=%llu: %llu allocations, %llu failed\n", (unsigned long long)g_fail_at,
          (unsigned long long)tr_alloc_count(), (unsigned long long)tr_alloc_failures());
}

void tr_alloc_init_env(void) {
  const char *s = getenv("HPS_ALLOC_FAIL_AT");
  if (!s || !*s) return;
  char *end;
  unsigned long long k = strtoull(s, &end, 10);
  if (end == s || k == 0) return;
  tr_alloc_fail_at((uint64_t)k, strcmp(end, ":persist") == 0);
  atexit(report_at_exit);
}
