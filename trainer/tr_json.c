/* tr_json.c: JSON string literals and number text (see tr_json.h for the contract). */
#include "tr_json.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* The escaped form of byte c into e (not NUL-terminated); its length. */
static size_t escape_byte(unsigned char c, int flags, char e[8]) {
  if (c == '"' || c == '\\') {
    e[0] = '\\', e[1] = (char)c;
    return 2;
  }
  if (c >= 0x20) {
    e[0] = (char)c;
    return 1;
  }
  if (flags & TR_JSON_SHORT) {
    if (c == '\n') return (size_t)snprintf(e, 8, "\\n");
    if (c == '\r') return (size_t)snprintf(e, 8, "\\r");
    if (c == '\t') return (size_t)snprintf(e, 8, "\\t");
  }
  return (size_t)snprintf(e, 8, "\\u%04x", c);
}

size_t tr_json_quote(char *buf, size_t n, const char *s, int flags) {
  size_t o = 0;
  char e[8];
#define PUT(ch)                   \
  do {                            \
    if (o + 1 < n) buf[o] = (ch); \
    o++;                          \
  } while (0)
  PUT('"');
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
    size_t k = escape_byte(*p, flags, e);
    for (size_t i = 0; i < k; i++) PUT(e[i]);
  }
  PUT('"');
#undef PUT
  if (n) buf[o < n ? o : n - 1] = '\0';
  return o;
}

int tr_json_quote_write(FILE *f, const char *s, int flags) {
  char e[8];
  int bad = fputc('"', f) == EOF;
  for (const unsigned char *p = (const unsigned char *)s; p && *p; p++) {
    size_t k = escape_byte(*p, flags, e);
    bad |= fwrite(e, 1, k, f) != k;
  }
  bad |= fputc('"', f) == EOF;
  return bad ? EOF : 0;
}

int tr_fmt_double(char *buf, size_t n, double v, int digits) {
  if (digits != TR_FMT_SHORTEST) return snprintf(buf, n, "%.*g", digits, v);
  char t[40];
  int k = 0;
  for (int prec = 15; prec <= 17; prec++) {
    k = snprintf(t, sizeof t, "%.*g", prec, v);
    if (strtod(t, NULL) == v) break;
  }
  snprintf(buf, n, "%s", t);
  return k;
}

int tr_json_number(char *buf, size_t n, double v, int digits) {
  if (!isfinite(v)) return snprintf(buf, n, "null");
  return tr_fmt_double(buf, n, v, digits);
}
