/*
** tr_err.h: error codes and the caller-owned error message.
**
** Contract: library functions return TR_OK (0) or a negative-free TrCode, and
** when they fail they fill the caller's TrErr (which may be NULL) with a one-line
** message that names the file, line and column or the offending value. Library
** code never prints and never exits; only the CLI's main decides that.
*/
#ifndef TR_ERR_H
#define TR_ERR_H

#include <stddef.h>

typedef enum TrCode {
  TR_OK = 0,
  TR_EINVAL,    /* bad argument, config key or value */
  TR_EIO,       /* file system error (errno text in the message) */
  TR_ENOMEM,    /* allocation failed */
  TR_EFORMAT,   /* malformed input file: YAML, data, checkpoint */
  TR_EDIVERGED, /* a training run diverged (not a bug: a result) */
  TR_EINTR,     /* stopped by a signal or a stop request */
  TR_EDB,       /* database error (sqlite3_errmsg in the message) */
  TR_ENOTFOUND  /* a named thing (sweep, trial, metric) does not exist */
} TrCode;

#define TR_ERR_MSG_MAX 1024

typedef struct TrErr {
  int code;                  /* TrCode of the first failure, TR_OK if none */
  char msg[TR_ERR_MSG_MAX];  /* one line, no trailing newline */
} TrErr;

/* Fill err (if not NULL) and return code, so that `return tr_err_set(...)` reads well. */
int tr_err_set(TrErr *err, int code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
/* Prefix an existing message: "ctx: old message". Returns err->code. */
int tr_err_prefix(TrErr *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void tr_err_clear(TrErr *err);
/* A user's value quoted in a message: s itself up to TR_ERR_CLIP_KEEP + 20 bytes, else its
** first TR_ERR_CLIP_KEEP bytes, "..." and its length ("1111...111... (100000 bytes)"), so a
** pasted 100 KB value never floods a one-line error. Writes into buf (n bytes); returns buf. */
#define TR_ERR_CLIP_KEEP 60
#define TR_ERR_CLIP_MAX (TR_ERR_CLIP_KEEP + 40)
const char *tr_err_clip(const char *s, char *buf, size_t n);
const char *tr_code_name(int code);

#endif
