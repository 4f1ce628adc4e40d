/*
** fuzz_util.h: what the libFuzzer harnesses of tests/fuzz/ share: a private temporary directory
** (removed at exit) for loaders that read a path, and writing the fuzz input to a file there.
** Each harness is one LLVMFuzzerTestOneInput; docs/development.md says how to build and run them.
*/
#ifndef HPS_FUZZ_UTIL_H
#define HPS_FUZZ_UTIL_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static char fuzz_dir_path[512];

static inline int fuzz_rm_one(const char *p, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(p);
}

static inline void fuzz_dir_remove(void) {
  if (fuzz_dir_path[0]) nftw(fuzz_dir_path, fuzz_rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The harness's temporary directory (created on first use, removed at exit). */
static inline const char *fuzz_dir(void) {
  if (fuzz_dir_path[0]) return fuzz_dir_path;
  const char *t = getenv("TMPDIR");
  snprintf(fuzz_dir_path, sizeof fuzz_dir_path, "%s/hpsfuzz.XXXXXX", t && *t ? t : "/tmp");
  if (!mkdtemp(fuzz_dir_path)) {
    perror("fuzz: mkdtemp");
    abort();
  }
  atexit(fuzz_dir_remove);
  return fuzz_dir_path;
}

/* fuzz_dir()/name into buf. */
static inline const char *fuzz_path(char *buf, size_t n, const char *name) {
  snprintf(buf, n, "%s/%s", fuzz_dir(), name);
  return buf;
}

/* Write n bytes to path (replacing it); aborts on an I/O error (not a finding of the code under test). */
static inline void fuzz_write(const char *path, const void *data, size_t n) {
  FILE *f = fopen(path, "wb");
  if (!f || (n && fwrite(data, 1, n, f) != n) || fclose(f)) {
    perror(path);
    abort();
  }
}

/* A NUL-terminated copy of the input (embedded NULs end the text early, as for any C string). */
static inline char *fuzz_cstr(const uint8_t *data, size_t n) {
  char *s = malloc(n + 1);
  if (!s) abort();
  memcpy(s, data, n);
  s[n] = '\0';
  return s;
}

#endif
