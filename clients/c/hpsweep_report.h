/*
** hpsweep_report.h: report metrics to hpsweep from a C program. Header-only, C99 plus
** POSIX write(2), no other dependency. Copy it next to your program.
**
**   #include "hpsweep_report.h"
**   const char *names[] = {"val_loss", "train_loss"};
**   double values[] = {1.93, 2.01};
**   hpsweep_report(200, 2, names, values);   // {"step": 200, "val_loss": 1.93, ...}
**
** Writes one line of the metrics protocol (docs/programs.md) to the file descriptor
** named by the environment variable HPSWEEP_METRICS_FD; does nothing when it is unset
** or not a number (the program runs outside hpsweep). STEP < 0 leaves "step" out: the
** line gets the previous line's step + 1. Values are written with %.17g (exact),
** non-finite ones as NaN, Infinity, -Infinity (as Python's json writes them). Names
** are JSON-escaped; keep them under 48 bytes. One write(2) per line, retried on EINTR
** and short writes. Returns 0, or -1 when the write failed (errno set); after a
** failure later calls do nothing. Not thread-safe: report from one thread.
*/
#ifndef HPSWEEP_REPORT_H
#define HPSWEEP_REPORT_H

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* -2: not looked up yet, -1: off. */
static int hpsweep_report_fd_ = -2;

static inline int hpsweep_report_fd(void) {
  if (hpsweep_report_fd_ == -2) {
    const char *s = getenv("HPSWEEP_METRICS_FD");
    char *end = NULL;
    long fd = s && *s ? strtol(s, &end, 10) : -1;
    hpsweep_report_fd_ = (end && *end == '\0' && fd >= 0 && fd < 1 << 20) ? (int)fd : -1;
  }
  return hpsweep_report_fd_;
}

/* NAME as a JSON string at buf + at (room for 6 bytes per byte of NAME is reserved). */
static inline size_t hpsweep_report_quote_(char *buf, size_t at, const char *name) {
  buf[at++] = '"';
  for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
    if (*c == '"' || *c == '\\') {
      buf[at++] = '\\';
      buf[at++] = (char)*c;
    } else if (*c < 0x20) {
      at += (size_t)sprintf(buf + at, "\\u%04x", *c);
    } else {
      buf[at++] = (char)*c;
    }
  }
  buf[at++] = '"';
  return at;
}

static inline size_t hpsweep_report_number_(char *buf, size_t at, double v) {
  if (isnan(v)) return at + (size_t)sprintf(buf + at, "NaN");
  if (isinf(v)) return at + (size_t)sprintf(buf + at, v > 0 ? "Infinity" : "-Infinity");
  return at + (size_t)sprintf(buf + at, "%.17g", v);
}

static inline int hpsweep_report(long long step, int n, const char *const names[], const double values[]) {
  int fd = hpsweep_report_fd();
  if (fd < 0) return 0;
  size_t cap = 48;
  for (int k = 0; k < n; k++) cap += strlen(names[k]) * 6 + 40;
  char *buf = (char *)malloc(cap);
  if (!buf) return -1;
  size_t at = 0;
  buf[at++] = '{';
  if (step >= 0) at += (size_t)sprintf(buf + at, "\"step\": %lld", step);
  for (int k = 0; k < n; k++) {
    if (at > 1) at += (size_t)sprintf(buf + at, ", ");
    at = hpsweep_report_quote_(buf, at, names[k]);
    buf[at++] = ':';
    buf[at++] = ' ';
    at = hpsweep_report_number_(buf, at, values[k]);
  }
  buf[at++] = '}';
  buf[at++] = '\n';
  int rc = 0;
  for (size_t off = 0; off < at;) {
    ssize_t w = write(fd, buf + off, at - off);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) {
      hpsweep_report_fd_ = -1;
      rc = -1;
      break;
    }
    off += (size_t)w;
  }
  free(buf);
  return rc;
}

#endif
