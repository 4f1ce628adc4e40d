/*
** sw_proto.c: the metrics protocol's line parser (contract in sw_proto.h). A small
** strict JSON reader: it recurses only into skipped values, at most
** SW_PROTO_DEPTH_MAX deep, and every byte is looked at a bounded number of times.
*/
#include "sw_proto.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rs_store.h"
#include "tr_alloc.h"
#include "tr_sort.h"

typedef struct SwField {
  char name[RS_METRIC_NAME_MAX];
  double v;
  size_t idx;
  int drop;
} SwField;

struct SwProto {
  SwProtoRowFn row;
  void *ctx;
  char *line;     /* SW_PROTO_LINE_MAX + 1 bytes: the line being collected */
  size_t len;
  int skipping;   /* in a too-long line: drop bytes up to its newline */
  int oom;        /* the field array could not grow: the line fails with TR_ENOMEM */
  int64_t next_step;
  SwProtoStats st;
  char msg[SW_PROTO_KEEP][SW_PROTO_MSG_MAX];
  size_t nmsg;
  SwField *f;     /* this line's numeric fields */
  SwField **ord;  /* the same, sorted by name to find repeats */
  size_t nf, capf;
  uint64_t pend[SW_PROTO_BAD_KINDS]; /* this line's field problems, counted if it parses */
  int pend_kind;                     /* the first one's kind, -1 if none */
  char pend_msg[112];                /* and its reason */
};

/* One line being parsed. */
typedef struct Lx {
  const unsigned char *s;
  size_t n, i;
  int bad;        /* SwProtoBad of the failure, -1 while fine */
  char why[112];
} Lx;

static const char *const bad_names[SW_PROTO_BAD_KINDS] = {
  "not JSON", "not an object", "invalid UTF-8", "nested too deep", "bad step",
  "line too long", "value not a number", "bad metric name", "repeated metric name"};

const char *sw_proto_bad_name(int kind) {
  return kind >= 0 && kind < SW_PROTO_BAD_KINDS ? bad_names[kind] : "?";
}

static int lx_fail(Lx *L, int kind, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;
static int lx_fail(Lx *L, int kind, const char *fmt, ...) {
  if (L->bad < 0) {
    va_list ap;
    va_start(ap, fmt);
    L->bad = kind;
    vsnprintf(L->why, sizeof L->why, fmt, ap);
    va_end(ap);
  }
  return -1;
}

static void lx_ws(Lx *L) {
  while (L->i < L->n && (L->s[L->i] == ' ' || L->s[L->i] == '\t' || L->s[L->i] == '\r' ||
                         L->s[L->i] == '\n'))
    L->i++;
}

static int lx_peek(const Lx *L) { return L->i < L->n ? L->s[L->i] : -1; }

/* A name for a message: printable ASCII, others '?', clipped. */
static void name_show(char *out, size_t cap, const char *name) {
  size_t j = 0, keep = cap > 8 ? cap - 4 : 1;
  for (; name[j] && j + 1 < keep; j++)
    out[j] = name[j] >= 0x20 && name[j] < 0x7f ? name[j] : '?';
  out[j] = '\0';
  if (name[j] && cap > 8) strcat(out, "...");
}

/* Length of the valid UTF-8 sequence at s (n bytes left), 0 when invalid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
  unsigned c = s[0];
  size_t len;
  unsigned lo = 0x80, hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) len = 2;
  else if (c >= 0xe0 && c <= 0xef) {
    len = 3;
    if (c == 0xe0) lo = 0xa0;       /* overlong */
    if (c == 0xed) hi = 0x9f;       /* surrogates */
  } else if (c >= 0xf0 && c <= 0xf4) {
    len = 4;
    if (c == 0xf0) lo = 0x90;       /* overlong */
    if (c == 0xf4) hi = 0x8f;       /* > U+10FFFF */
  } else
    return 0;
  if (n < len || s[1] < lo || s[1] > hi) return 0;
  for (size_t k = 2; k < len; k++)
    if (s[k] < 0x80 || s[k] > 0xbf) return 0;
  return len;
}

static int hex4(const unsigned char *s, unsigned *out) {
  unsigned v = 0;
  for (int k = 0; k < 4; k++) {
    int c = s[k], d;
    if (c >= '0' && c <= '9') d = c - '0';
    else if (c >= 'a' && c <= 'f') d = c - 'a' + 10;
    else if (c >= 'A' && c <= 'F') d = c - 'A' + 10;
    else return -1;
    v = v * 16 + (unsigned)d;
  }
  *out = v;
  return 0;
}

/* Append code point cp as UTF-8 to out (cap bytes, NUL kept), counting *len. */
static void put_cp(char *out, size_t cap, size_t *len, unsigned cp) {
  unsigned char b[4];
  size_t k = 0;
  if (cp < 0x80) b[k++] = (unsigned char)cp;
  else if (cp < 0x800) {
    b[k++] = (unsigned char)(0xc0 | cp >> 6);
    b[k++] = (unsigned char)(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    b[k++] = (unsigned char)(0xe0 | cp >> 12);
    b[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    b[k++] = (unsigned char)(0x80 | (cp & 0x3f));
  } else {
    b[k++] = (unsigned char)(0xf0 | cp >> 18);
    b[k++] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    b[k++] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    b[k++] = (unsigned char)(0x80 | (cp & 0x3f));
  }
  for (size_t j = 0; j < k; j++, (*len)++)
    if (out && *len + 1 < cap) out[*len] = (char)b[j];
}

/* \uXXXX (L->i at the 'u'), a surrogate pair read whole. */
static int lx_unicode(Lx *L, unsigned *cp) {
  if (L->i + 5 > L->n || hex4(L->s + L->i + 1, cp) != 0)
    return lx_fail(L, SW_PROTO_BAD_JSON, "bad \\u escape at column %zu", L->i);
  L->i += 5;
  if (*cp >= 0xdc00 && *cp <= 0xdfff)
    return lx_fail(L, SW_PROTO_BAD_JSON, "lone surrogate at column %zu", L->i - 5);
  if (*cp >= 0xd800 && *cp <= 0xdbff) {
    unsigned lo;
    if (L->i + 6 > L->n || L->s[L->i] != '\\' || L->s[L->i + 1] != 'u' ||
        hex4(L->s + L->i + 2, &lo) != 0 || lo < 0xdc00 || lo > 0xdfff)
      return lx_fail(L, SW_PROTO_BAD_JSON, "lone surrogate at column %zu", L->i - 5);
    *cp = 0x10000 + ((*cp - 0xd800) << 10) + (lo - 0xdc00);
    L->i += 6;
  }
  return 0;
}

/* A string (L->i at its '"'), decoded into out (cap bytes, NUL-terminated, may be NULL);
** *len gets the full decoded length, so len >= cap means it did not fit. */
static int lx_string(Lx *L, char *out, size_t cap, size_t *len) {
  size_t n = 0;
  L->i++;
  for (;;) {
    if (L->i >= L->n) return lx_fail(L, SW_PROTO_BAD_JSON, "unterminated string");
    unsigned c = L->s[L->i];
    if (c == '"') break;
    if (c < 0x20)
      return lx_fail(L, SW_PROTO_BAD_JSON, "control byte in a string at column %zu", L->i + 1);
    if (c == '\\') {
      if (++L->i >= L->n) return lx_fail(L, SW_PROTO_BAD_JSON, "unterminated string");
      unsigned cp;
      const char *esc = strchr("\"\\/bfnrt", L->s[L->i]);
      if (L->s[L->i] == 'u') {
        if (lx_unicode(L, &cp) != 0) return -1;
      } else if (esc && L->s[L->i]) {
        cp = (unsigned char)"\"\\/\b\f\n\r\t"[esc - "\"\\/bfnrt"];
        L->i++;
      } else
        return lx_fail(L, SW_PROTO_BAD_JSON, "bad escape at column %zu", L->i);
      put_cp(out, cap, &n, cp);
    } else if (c < 0x80) {
      put_cp(out, cap, &n, c);
      L->i++;
    } else {
      size_t k = utf8_seq(L->s + L->i, L->n - L->i);
      if (k == 0) return lx_fail(L, SW_PROTO_BAD_UTF8, "invalid UTF-8 at column %zu", L->i + 1);
      for (size_t j = 0; j < k; j++, n++)
        if (out && n + 1 < cap) out[n] = (char)L->s[L->i + j];
      L->i += k;
    }
  }
  L->i++;
  if (out) out[n < cap ? n : cap - 1] = '\0';
  if (len) *len = n;
  return 0;
}

static int lx_word(Lx *L, const char *w) {
  size_t k = strlen(w);
  if (L->n - L->i < k || memcmp(L->s + L->i, w, k) != 0) return 0;
  L->i += k;
  return 1;
}

static int is_digit(int c) { return c >= '0' && c <= '9'; }

/* A JSON number, or Python's NaN, Infinity, -Infinity. The line is NUL-terminated
** and the text is checked first, so strtod reads exactly it. */
static int lx_number(Lx *L, double *v) {
  size_t start = L->i;
  int neg = lx_peek(L) == '-';
  if (neg) L->i++;
  if (lx_word(L, "Infinity")) {
    *v = neg ? -INFINITY : INFINITY;
    return 0;
  }
  if (!neg && lx_word(L, "NaN")) {
    *v = NAN;
    return 0;
  }
  if (lx_peek(L) == '0') L->i++;
  else if (is_digit(lx_peek(L)))
    while (is_digit(lx_peek(L))) L->i++;
  else
    return lx_fail(L, SW_PROTO_BAD_JSON, "bad value at column %zu", start + 1);
  if (lx_peek(L) == '.') {
    L->i++;
    if (!is_digit(lx_peek(L))) return lx_fail(L, SW_PROTO_BAD_JSON, "bad number at column %zu", start + 1);
    while (is_digit(lx_peek(L))) L->i++;
  }
  if (lx_peek(L) == 'e' || lx_peek(L) == 'E') {
    L->i++;
    if (lx_peek(L) == '+' || lx_peek(L) == '-') L->i++;
    if (!is_digit(lx_peek(L))) return lx_fail(L, SW_PROTO_BAD_JSON, "bad number at column %zu", start + 1);
    while (is_digit(lx_peek(L))) L->i++;
  }
  char *end;
  *v = strtod((const char *)L->s + start, &end);
  if ((const unsigned char *)end != L->s + L->i)
    return lx_fail(L, SW_PROTO_BAD_JSON, "bad number at column %zu", start + 1);
  return 0;
}

static int lx_value(Lx *L, int depth);

/* An array or object (L->i at its bracket), checked and skipped. */
static int lx_container(Lx *L, int depth) {
  int obj = L->s[L->i] == '{';
  int close = obj ? '}' : ']';
  if (depth >= SW_PROTO_DEPTH_MAX)
    return lx_fail(L, SW_PROTO_BAD_DEPTH, "nested deeper than %d", SW_PROTO_DEPTH_MAX);
  L->i++;
  lx_ws(L);
  if (lx_peek(L) == close) {
    L->i++;
    return 0;
  }
  for (;;) {
    if (obj) {
      if (lx_peek(L) != '"') return lx_fail(L, SW_PROTO_BAD_JSON, "expected a name at column %zu", L->i + 1);
      if (lx_string(L, NULL, 0, NULL) != 0) return -1;
      lx_ws(L);
      if (lx_peek(L) != ':') return lx_fail(L, SW_PROTO_BAD_JSON, "expected ':' at column %zu", L->i + 1);
      L->i++;
      lx_ws(L);
    }
    if (lx_value(L, depth + 1) != 0) return -1;
    lx_ws(L);
    int c = lx_peek(L);
    L->i++;
    if (c == close) return 0;
    if (c != ',')
      return lx_fail(L, SW_PROTO_BAD_JSON, "expected ',' or '%c' at column %zu", close, L->i);
    lx_ws(L);
  }
}

/* Any value, checked and skipped. */
static int lx_value(Lx *L, int depth) {
  int c = lx_peek(L);
  double v;
  if (c == '{' || c == '[') return lx_container(L, depth);
  if (c == '"') return lx_string(L, NULL, 0, NULL);
  if (lx_word(L, "true") || lx_word(L, "false") || lx_word(L, "null")) return 0;
  return lx_number(L, &v);
}

/* Record a problem of line LINENO. */
static void proto_note(SwProto *p, int kind, uint64_t lineno, const char *why) {
  p->st.bad[kind]++;
  if (p->nmsg < SW_PROTO_KEEP)
    snprintf(p->msg[p->nmsg++], SW_PROTO_MSG_MAX, "line %llu: %s: %.100s",
             (unsigned long long)lineno, bad_names[kind], why);
}

/* A field problem: counted only if its line parses. */
static void field_note(SwProto *p, int kind, const char *why, const char *name) {
  char shown[40];
  name_show(shown, sizeof shown, name);
  if (p->pend_kind < 0) {
    p->pend_kind = kind;
    snprintf(p->pend_msg, sizeof p->pend_msg, "\"%s\"%s%s", shown, *why ? ": " : "", why);
  }
  p->pend[kind]++;
}

static int field_add(SwProto *p, const char *name, double v) {
  if (p->nf == p->capf) {
    size_t cap = p->capf ? p->capf * 2 : 16;
    SwField *f = tr_realloc(p->f, cap * sizeof *f);
    if (!f) return TR_ENOMEM;
    p->f = f;
    SwField **o = tr_realloc(p->ord, cap * sizeof *o);
    if (!o) return TR_ENOMEM;
    p->ord = o;
    p->capf = cap;
  }
  SwField *f = &p->f[p->nf];
  memcpy(f->name, name, sizeof f->name);
  f->v = v;
  f->idx = p->nf++;
  f->drop = 0;
  return 0;
}

static const char *value_kind(int c) {
  switch (c) {
  case '"': return "a string";
  case '{': return "an object";
  case '[': return "an array";
  case 't': case 'f': return "a boolean";
  case 'n': return "null";
  default: return "not a number";
  }
}

static int is_number_start(const Lx *L) {
  int c = lx_peek(L);
  return c == '-' || is_digit(c) || c == 'N' || c == 'I';
}

/* One "name": value member of the line's object. */
static int line_member(SwProto *p, Lx *L, int *has_step, double *step) {
  char name[RS_METRIC_NAME_MAX];
  size_t len = 0;
  if (lx_peek(L) != '"') return lx_fail(L, SW_PROTO_BAD_JSON, "expected a name at column %zu", L->i + 1);
  if (lx_string(L, name, sizeof name, &len) != 0) return -1;
  lx_ws(L);
  if (lx_peek(L) != ':') return lx_fail(L, SW_PROTO_BAD_JSON, "expected ':' at column %zu", L->i + 1);
  L->i++;
  lx_ws(L);
  int c = lx_peek(L);
  double v = 0;
  int numeric = is_number_start(L);
  if ((numeric ? lx_number(L, &v) : lx_value(L, 0)) != 0) return -1;
  if (len == 4 && memcmp(name, "step", 4) == 0) {
    if (!numeric || !(v >= 0 && v <= SW_PROTO_STEP_MAX && v == floor(v)))
      return lx_fail(L, SW_PROTO_BAD_STEP, "step is not an integer in [0, 2^53]");
    *has_step = 1;
    *step = v;
    return 0;
  }
  if (!numeric) {
    field_note(p, SW_PROTO_BAD_VALUE, value_kind(c), name);
    return 0;
  }
  int ctl = len == 0 || len >= sizeof name;
  for (size_t j = 0; !ctl && j < len; j++) ctl = (unsigned char)name[j] < 0x20 || name[j] == 0x7f;
  if (ctl) {
    field_note(p, SW_PROTO_BAD_NAME, len >= sizeof name ? "longer than 47 bytes" : "empty or a control byte", name);
    return 0;
  }
  if (field_add(p, name, v) != 0) {
    p->oom = 1;
    return lx_fail(L, SW_PROTO_BAD_JSON, "out of memory");
  }
  return 0;
}

/* The line's object: fields into p->f, the step into *step. */
static int line_object(SwProto *p, Lx *L, int *has_step, double *step) {
  L->i++;
  lx_ws(L);
  if (lx_peek(L) == '}') {
    L->i++;
    return 0;
  }
  for (;;) {
    if (line_member(p, L, has_step, step) != 0) return -1;
    lx_ws(L);
    int c = lx_peek(L);
    L->i++;
    if (c == '}') return 0;
    if (c != ',') return lx_fail(L, SW_PROTO_BAD_JSON, "expected ',' or '}' at column %zu", L->i);
    lx_ws(L);
  }
}

static int field_cmp(const void *a, const void *b) {
  const SwField *x = *(SwField *const *)a, *y = *(SwField *const *)b;
  int c = strcmp(x->name, y->name);
  return c ? c : (x->idx > y->idx) - (x->idx < y->idx);
}

/* A name repeated in the line: all but its last value dropped. */
static void fields_dedup(SwProto *p) {
  if (p->nf < 2) return;
  for (size_t k = 0; k < p->nf; k++) p->ord[k] = &p->f[k];
  tr_sort(p->ord, p->nf, sizeof *p->ord, field_cmp);
  for (size_t k = 0; k + 1 < p->nf; k++)
    if (strcmp(p->ord[k]->name, p->ord[k + 1]->name) == 0) {
      p->ord[k]->drop = 1;
      field_note(p, SW_PROTO_BAD_DUP, "", p->ord[k]->name);
    }
}

/* Parse the collected line (p->line, p->len) and emit its rows. */
static int line_process(SwProto *p) {
  Lx L = {(const unsigned char *)p->line, p->len, 0, -1, ""};
  int has_step = 0;
  double step = 0;
  p->line[p->len] = '\0';
  p->nf = 0;
  memset(p->pend, 0, sizeof p->pend);
  p->pend_kind = -1;
  lx_ws(&L);
  if (L.i == L.n) return 0; /* blank */
  int rc;
  if (lx_peek(&L) == '{') rc = line_object(p, &L, &has_step, &step);
  else if ((rc = lx_value(&L, 0)) == 0) rc = lx_fail(&L, SW_PROTO_BAD_NOT_OBJECT, "%s", "a JSON value that is not an object");
  if (rc == 0) {
    lx_ws(&L);
    if (L.i != L.n) lx_fail(&L, SW_PROTO_BAD_JSON, "text after the object at column %zu", L.i + 1);
  }
  /* Steps stay exact in a double: a line without "step" after one at 2^53 has none to take. */
  if (L.bad < 0 && !has_step && p->next_step > (int64_t)SW_PROTO_STEP_MAX)
    lx_fail(&L, SW_PROTO_BAD_STEP, "%s", "no step, and the previous line's step + 1 is past 2^53");
  if (p->oom) {
    p->oom = 0;
    return TR_ENOMEM;
  }
  if (L.bad >= 0) {
    p->st.bad_lines++;
    proto_note(p, L.bad, p->st.lines, L.why);
    return 0;
  }
  fields_dedup(p);
  if (p->pend_kind >= 0) {
    proto_note(p, p->pend_kind, p->st.lines, p->pend_msg);
    p->pend[p->pend_kind]--;
  }
  for (int k = 0; k < SW_PROTO_BAD_KINDS; k++) p->st.bad[k] += p->pend[k];
  int64_t s = has_step ? (int64_t)step : p->next_step;
  p->next_step = s + 1;
  p->st.good_lines++;
  for (size_t k = 0; k < p->nf; k++) {
    if (p->f[k].drop) continue;
    p->st.rows++;
    int r = p->row(p->ctx, p->f[k].name, s, p->f[k].v);
    if (r != 0) return r;
  }
  return 0;
}

int sw_proto_new(SwProto **out, SwProtoRowFn row, void *ctx, TrErr *err) {
  *out = NULL;
  SwProto *p = tr_calloc(1, sizeof *p);
  if (p) p->line = tr_malloc(SW_PROTO_LINE_MAX + 1);
  if (!p || !p->line) {
    free(p);
    return tr_err_set(err, TR_ENOMEM, "metrics protocol: out of memory");
  }
  p->row = row;
  p->ctx = ctx;
  p->pend_kind = -1;
  *out = p;
  return TR_OK;
}

void sw_proto_free(SwProto *p) {
  if (!p) return;
  free(p->line);
  free(p->f);
  free(p->ord);
  free(p);
}

static int proto_row_failed(int rc, TrErr *err) {
  if (rc == TR_ENOMEM) tr_err_set(err, rc, "metrics protocol: out of memory");
  else if (err && err->code == TR_OK) tr_err_set(err, rc, "metrics protocol: a row was not stored");
  return rc;
}

int sw_proto_feed(SwProto *p, const char *buf, size_t n, TrErr *err) {
  while (n > 0) {
    const char *nl = memchr(buf, '\n', n);
    size_t take = nl ? (size_t)(nl - buf) : n;
    if (!p->skipping && p->len + take > SW_PROTO_LINE_MAX) {
      /* Too long: noted now, its bytes dropped up to the newline (which counts it). */
      p->st.bad_lines++;
      proto_note(p, SW_PROTO_BAD_LONG, p->st.lines + 1, "more than 65536 bytes");
      p->skipping = 1;
      p->len = 0;
    }
    if (p->skipping) {
      if (nl) {
        p->skipping = 0;
        p->st.lines++;
      }
    } else {
      memcpy(p->line + p->len, buf, take);
      p->len += take;
      if (nl) {
        p->st.lines++;
        int rc = line_process(p);
        p->len = 0;
        if (rc != 0) return proto_row_failed(rc, err);
      }
    }
    if (!nl) return 0;
    n -= take + 1;
    buf = nl + 1;
  }
  return 0;
}

int sw_proto_finish(SwProto *p, TrErr *err) {
  if (p->skipping) {
    p->skipping = 0;
    p->st.lines++;
    return 0;
  }
  if (p->len == 0) return 0;
  p->st.lines++;
  int rc = line_process(p);
  p->len = 0;
  return rc != 0 ? proto_row_failed(rc, err) : 0;
}

const SwProtoStats *sw_proto_stats(const SwProto *p) { return &p->st; }
size_t sw_proto_message_count(const SwProto *p) { return p->nmsg; }
const char *sw_proto_message(const SwProto *p, size_t i) { return i < p->nmsg ? p->msg[i] : ""; }
int64_t sw_proto_next_step(const SwProto *p) { return p->next_step; }
