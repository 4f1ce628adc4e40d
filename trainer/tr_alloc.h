/*
** tr_alloc.h: the one allocator of hpsweep, with a test hook that fails the k-th
** allocation (the injected-allocator pattern of Lua and SQLite).
**
** Contract:
** - Every heap allocation of trainer/, results/, sweep/ and cli/ goes through
**   tr_malloc, tr_calloc, tr_realloc, tr_strdup, tr_strndup, tr_vasprintf or
**   tr_memalign (docs/development.md). They behave as their C/POSIX namesakes
**   (NULL, or -1 for tr_vasprintf, when out of memory); what they return is
**   released with free() (tr_free is free). SQLite's allocations come here too
**   (rs_sqlite.c sets SQLITE_CONFIG_MALLOC before the first store opens);
**   libyaml, libpq, PLplot, OpenBLAS and the C library's own buffers (stdio,
**   open_memstream, getline) have no hook and call malloc directly.
** - tr_alloc_fail_at(k, persist): the k-th allocation from now (k >= 1) fails and,
**   with persist, every one after it; k = 0 disarms. Unarmed, an allocation costs
**   one predictable branch more than malloc. tr_alloc_count() is the number of
**   allocations since the last tr_alloc_fail_at, tr_alloc_failures() the number
**   that were made to fail. The counters are atomic (workers are threads).
** - tr_alloc_init_env(): HPS_ALLOC_FAIL_AT=K[:persist] in the environment arms the
**   hook (tests of the CLI binary; main calls it once at startup).
** - A size of 0 is allocated as 1 byte (never NULL for 0), so NULL always means
**   out of memory.
*/
#ifndef TR_ALLOC_H
#define TR_ALLOC_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

void *tr_malloc(size_t n);
void *tr_calloc(size_t count, size_t size);
/* As realloc: on failure p is untouched (and still owned by the caller). */
void *tr_realloc(void *p, size_t n);
char *tr_strdup(const char *s);
char *tr_strndup(const char *s, size_t n);
/* As vasprintf: the length, or -1 (and *out undefined) when out of memory. */
int tr_vasprintf(char **out, const char *fmt, va_list ap)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 0)))
#endif
    ;
/* As posix_memalign: 0, or ENOMEM. */
int tr_memalign(void **out, size_t align, size_t n);
#define tr_free free

void tr_alloc_fail_at(uint64_t k, int persist);
uint64_t tr_alloc_count(void);
uint64_t tr_alloc_failures(void);
void tr_alloc_init_env(void);

#endif
