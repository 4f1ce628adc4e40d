#include "tr_err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int tr_err_set(TrErr *err, int code, const char *fmt, ...) {
  if (err) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    err->code = code;
  }
  return code;
}

int tr_err_prefix(TrErr *err, const char *fmt, ...) {
  if (!err) return TR_EINVAL;
  char pre[TR_ERR_MSG_MAX], out[2 * TR_ERR_MSG_MAX + 4];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(pre, sizeof pre, fmt, ap);
  va_end(ap);
  snprintf(out, sizeof out, "%s: %s", pre, err->msg);
  out[TR_ERR_MSG_MAX - 1] = '\0'; /* truncate to the message size */
  memcpy(err->msg, out, TR_ERR_MSG_MAX);
  return err->code;
}

void tr_err_clear(TrErr *err) {
  if (err) {
    err->code = TR_OK;
    err->msg[0] = '\0';
  }
}

const char *tr_err_clip(const char *s, char *buf, size_t n) {
  if (!n) return buf;
  size_t len = s ? strlen(s) : 0;
  if (len <= TR_ERR_CLIP_KEEP + 20) {
    snprintf(buf, n, "%s", s ? s : "");
    return buf;
  }
  size_t keep = TR_ERR_CLIP_KEEP;
  while (keep > 0 && ((unsigned char)s[keep] & 0xC0) == 0x80) keep--; /* never split a UTF-8 character */
  snprintf(buf, n, "%.*s... (%zu bytes)", (int)keep, s, len);
  return buf;
}

const char *tr_code_name(int code) {
  switch (code) {
    case TR_OK: return "ok";
    case TR_EINVAL: return "invalid";
    case TR_EIO: return "io";
    case TR_ENOMEM: return "nomem";
    case TR_EFORMAT: return "format";
    case TR_EDIVERGED: return "diverged";
    case TR_EINTR: return "interrupted";
    case TR_EDB: return "db";
    case TR_ENOTFOUND: return "notfound";
    default: return "unknown";
  }
}
