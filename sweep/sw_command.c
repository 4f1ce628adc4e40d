/* sw_command.c: W&B command macros (see sw_command.h for the contract and sources). */
#include "sw_command.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_atomic.h"
#include "tr_sort.h"

#define JSON_MAX_DEPTH 64

/* ---- a growable string ---- */

typedef struct Buf {
  char *p;
  size_t n, cap;
  int oom;
} Buf;

static void buf_add(Buf *b, const char *s, size_t k) {
  if (b->oom) return;
  if (b->n + k + 1 > b->cap) {
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->n + k + 1) cap *= 2;
    char *p = tr_realloc(b->p, cap);
    if (!p) {
      b->oom = 1;
      return;
    }
    b->p = p, b->cap = cap;
  }
  memcpy(b->p + b->n, s, k);
  b->n += k;
  b->p[b->n] = '\0';
}

static void buf_puts(Buf *b, const char *s) { buf_add(b, s, strlen(s)); }
static void buf_putc(Buf *b, char c) { buf_add(b, &c, 1); }

/* The string, owned by the caller ("" when nothing was added); NULL when out of memory. */
static char *buf_take(Buf *b) {
  if (!b->oom && !b->p) buf_add(b, "", 0);
  if (b->oom) {
    free(b->p);
    return NULL;
  }
  return b->p;
}

/* ---- UTF-8 ---- */

/* Decode one strict UTF-8 sequence at s (k bytes available): its length, 0 if invalid. */
static size_t utf8_decode(const unsigned char *s, size_t k, uint32_t *cp) {
  if (s[0] < 0x80) return *cp = s[0], 1;
  size_t len = s[0] >= 0xF0 ? 4 : s[0] >= 0xE0 ? 3 : s[0] >= 0xC2 ? 2 : 0;
  if (!len || s[0] > 0xF4 || len > k) return 0;
  uint32_t c = s[0] & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    c = c << 6 | (s[i] & 0x3F);
  }
  static const uint32_t min[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (c < min[len] || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) return 0;
  *cp = c;
  return len;
}

static void utf8_encode(Buf *b, uint32_t c) {
  char e[4];
  size_t k;
  if (c < 0x80) e[0] = (char)c, k = 1;
  else if (c < 0x800) e[0] = (char)(0xC0 | c >> 6), e[1] = (char)(0x80 | (c & 0x3F)), k = 2;
  else if (c < 0x10000)
    e[0] = (char)(0xE0 | c >> 12), e[1] = (char)(0x80 | (c >> 6 & 0x3F)), e[2] = (char)(0x80 | (c & 0x3F)), k = 3;
  else
    e[0] = (char)(0xF0 | c >> 18), e[1] = (char)(0x80 | (c >> 12 & 0x3F)), e[2] = (char)(0x80 | (c >> 6 & 0x3F)),
    e[3] = (char)(0x80 | (c & 0x3F)), k = 4;
  buf_add(b, e, k);
}

/* ---- the parameters: a JSON value tree, as Python's json.loads sees it ---- */

typedef enum { J_NULL, J_FALSE, J_TRUE, J_INT, J_FLOAT, J_STR, J_ARR, J_OBJ } JKind;

typedef struct JPair JPair;
typedef struct JNode {
  JKind kind;
  char *text;         /* J_INT: the digits; J_STR: the UTF-8 text (no NUL inside) */
  double num;         /* J_FLOAT */
  struct JNode *item; /* J_ARR */
  JPair *pair;        /* J_OBJ, sorted by name */
  size_t n;
} JNode;
struct JPair {
  char *name;
  JNode val;
};

typedef struct Parser {
  const char *s;
  size_t i;
  TrErr *err;
} Parser;

static void jnode_free(JNode *v) {
  free(v->text);
  for (size_t k = 0; v->kind == J_ARR && k < v->n; k++) jnode_free(&v->item[k]);
  for (size_t k = 0; v->kind == J_OBJ && k < v->n; k++) {
    free(v->pair[k].name);
    jnode_free(&v->pair[k].val);
  }
  free(v->item);
  free(v->pair);
}

static int jerr(Parser *p, const char *what) {
  return tr_err_set(p->err, TR_EINVAL, "parameters JSON: %s at byte %zu", what, p->i);
}

static void skip_ws(Parser *p) {
  while (strchr(" \t\r\n", p->s[p->i]) && p->s[p->i]) p->i++;
}

static int hex4(Parser *p, uint32_t *u) {
  *u = 0;
  for (int k = 0; k < 4; k++) {
    char c = p->s[p->i++];
    int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
    if (d < 0) return jerr(p, "bad \\u escape");
    *u = *u << 4 | (uint32_t)d;
  }
  return TR_OK;
}

/* A \uXXXX escape (p->i after the 'u'), with its surrogate pair, into b. */
static int parse_uescape(Parser *p, Buf *b) {
  uint32_t u, lo;
  if (hex4(p, &u)) return TR_EINVAL;
  if (u >= 0xD800 && u <= 0xDBFF) {
    if (p->s[p->i] != '\\' || p->s[p->i + 1] != 'u') return jerr(p, "lone surrogate");
    p->i += 2;
    if (hex4(p, &lo)) return TR_EINVAL;
    if (lo < 0xDC00 || lo > 0xDFFF) return jerr(p, "lone surrogate");
    u = 0x10000 + ((u - 0xD800) << 10) + (lo - 0xDC00);
  } else if (u >= 0xDC00 && u <= 0xDFFF) {
    return jerr(p, "lone surrogate");
  }
  if (u == 0) return jerr(p, "\\u0000 (argv elements are C strings)");
  utf8_encode(b, u);
  return TR_OK;
}

/* A string literal (p->i on the opening quote) into *out (owned). */
static int parse_string(Parser *p, char **out) {
  Buf b = {0};
  int rc = TR_OK;
  p->i++;
  while (rc == TR_OK && p->s[p->i] != '"') {
    const unsigned char *c = (const unsigned char *)p->s + p->i;
    uint32_t cp;
    if (*c == '\0') rc = jerr(p, "unterminated string");
    else if (*c < 0x20) rc = jerr(p, "control character in string");
    else if (*c == '\\') {
      char e = p->s[p->i + 1];
      const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
      p->i += 2;
      if (e == 'u') rc = parse_uescape(p, &b);
      else if (e && strchr(from, e)) buf_putc(&b, to[strchr(from, e) - from]);
      else rc = jerr(p, "bad escape");
    } else {
      size_t k = utf8_decode(c, strlen((const char *)c), &cp);
      if (!k) rc = jerr(p, "invalid UTF-8");
      buf_add(&b, (const char *)c, k);
      p->i += k;
    }
  }
  p->i++;
  *out = rc == TR_OK ? buf_take(&b) : NULL;
  if (rc != TR_OK) free(b.p);
  else if (!*out) rc = tr_err_set(p->err, TR_ENOMEM, "out of memory");
  return rc;
}

/* A number: an int (digits kept, as Python's arbitrary-precision int) or a float. */
static int parse_number(Parser *p, JNode *v) {
  size_t a = p->i;
  const char *s = p->s;
  if (s[p->i] == '-') p->i++;
  if (s[p->i] == '0') p->i++;
  else if (s[p->i] >= '1' && s[p->i] <= '9') while (s[p->i] >= '0' && s[p->i] <= '9') p->i++;
  else return jerr(p, "bad value");
  int is_float = 0;
  if (s[p->i] == '.') {
    is_float = 1, p->i++;
    if (s[p->i] < '0' || s[p->i] > '9') return jerr(p, "bad number");
    while (s[p->i] >= '0' && s[p->i] <= '9') p->i++;
  }
  if (s[p->i] == 'e' || s[p->i] == 'E') {
    is_float = 1, p->i++;
    if (s[p->i] == '+' || s[p->i] == '-') p->i++;
    if (s[p->i] < '0' || s[p->i] > '9') return jerr(p, "bad number");
    while (s[p->i] >= '0' && s[p->i] <= '9') p->i++;
  }
  if (is_float) {
    v->kind = J_FLOAT, v->num = strtod(s + a, NULL); /* overflow gives inf, as json.loads */
    return TR_OK;
  }
  int negzero = p->i - a == 2 && s[a] == '-' && s[a + 1] == '0'; /* Python: int("-0") is 0 */
  v->kind = J_INT;
  v->text = negzero ? tr_strdup("0") : tr_strndup(s + a, p->i - a);
  return v->text ? TR_OK : tr_err_set(p->err, TR_ENOMEM, "out of memory");
}

static int parse_value(Parser *p, JNode *v, int depth);

static int parse_array(Parser *p, JNode *v, int depth) {
  size_t cap = 0;
  v->kind = J_ARR;
  p->i++;
  skip_ws(p);
  if (p->s[p->i] == ']') return p->i++, TR_OK;
  for (;;) {
    if (v->n == cap) {
      JNode *it = tr_realloc(v->item, (cap = cap ? 2 * cap : 4) * sizeof *it);
      if (!it) return tr_err_set(p->err, TR_ENOMEM, "out of memory");
      v->item = it;
    }
    memset(&v->item[v->n], 0, sizeof *v->item);
    int rc = parse_value(p, &v->item[v->n++], depth + 1);
    if (rc) return rc;
    skip_ws(p);
    if (p->s[p->i] == ']') return p->i++, TR_OK;
    if (p->s[p->i++] != ',') return jerr(p, "expected ',' or ']'");
  }
}

static int pair_cmp(const void *a, const void *b) {
  return strcmp(((const JPair *)a)->name, ((const JPair *)b)->name);
}

/* An object; its names sorted (byte order of UTF-8 is code point order, as Python's sorted). */
static int parse_object(Parser *p, JNode *v, int depth) {
  size_t cap = 0;
  v->kind = J_OBJ;
  p->i++;
  skip_ws(p);
  if (p->s[p->i] == '}') return p->i++, TR_OK;
  for (;;) {
    if (v->n == cap) {
      JPair *pr = tr_realloc(v->pair, (cap = cap ? 2 * cap : 4) * sizeof *pr);
      if (!pr) return tr_err_set(p->err, TR_ENOMEM, "out of memory");
      v->pair = pr;
    }
    JPair *pr = &v->pair[v->n++];
    memset(pr, 0, sizeof *pr);
    skip_ws(p);
    if (p->s[p->i] != '"') return jerr(p, "expected a name");
    int rc = parse_string(p, &pr->name);
    if (rc) return rc;
    skip_ws(p);
    if (p->s[p->i++] != ':') return jerr(p, "expected ':'");
    if ((rc = parse_value(p, &pr->val, depth + 1))) return rc;
    skip_ws(p);
    if (p->s[p->i] == '}') break;
    if (p->s[p->i++] != ',') return jerr(p, "expected ',' or '}'");
  }
  p->i++;
  tr_sort(v->pair, v->n, sizeof *v->pair, pair_cmp);
  for (size_t k = 1; k < v->n; k++)
    if (!strcmp(v->pair[k - 1].name, v->pair[k].name))
      return tr_err_set(p->err, TR_EINVAL, "parameters JSON: name \"%s\" given twice", v->pair[k].name);
  return TR_OK;
}

static int parse_value(Parser *p, JNode *v, int depth) {
  if (depth > JSON_MAX_DEPTH) return jerr(p, "nested too deep");
  skip_ws(p);
  const char *s = p->s + p->i;
  if (*s == '{') return parse_object(p, v, depth);
  if (*s == '[') return parse_array(p, v, depth);
  if (*s == '"') return v->kind = J_STR, parse_string(p, &v->text);
  static const struct { const char *w; JKind k; } lit[] = {{"null", J_NULL}, {"true", J_TRUE}, {"false", J_FALSE}};
  for (size_t k = 0; k < 3; k++)
    if (!strncmp(s, lit[k].w, strlen(lit[k].w))) return p->i += strlen(lit[k].w), v->kind = lit[k].k, TR_OK;
  return parse_number(p, v);
}

/* Parse the parameters object (NULL is {}) into *v; free it with jnode_free even on failure. */
static int params_parse(const char *json, JNode *v, TrErr *err) {
  Parser p = {json ? json : "{}", 0, err};
  memset(v, 0, sizeof *v);
  skip_ws(&p);
  if (p.s[p.i] != '{') return jerr(&p, "not an object");
  int rc = parse_value(&p, v, 0);
  if (rc) return rc;
  skip_ws(&p);
  return p.s[p.i] ? jerr(&p, "text after the object") : TR_OK;
}

/* ---- Python's repr(float) ---- */

/* The shortest digits M (no trailing zeros) and exponent E with a = M * 10^E that strtod
** reads back as a (a finite, > 0); among equally short ones the nearest to a, as
** Python's repr (David Gay's dtoa, mode 0). snprintf "%.*e" gives the correctly rounded
** N-digit decimal; when it misses the round-trip interval, the interval (which holds a)
** can still hold its neighbour one unit away on the other side: try both. */
static void shortest_digits(double a, uint64_t *m_out, int *e_out) {
  for (int prec = 1; prec <= 17; prec++) {
    char t[48];
    snprintf(t, sizeof t, "%.*e", prec - 1, a);
    char *e = strchr(t, 'e');
    uint64_t m = 0;
    for (const char *c = t; c < e; c++)
      if (*c != '.') m = m * 10 + (uint64_t)(*c - '0');
    int ex = atoi(e + 1) - (prec - 1);
    uint64_t lo10 = 1;
    for (int k = 1; k < prec; k++) lo10 *= 10;
    uint64_t cand[3] = {m, m + 1, m - 1};
    int cex[3] = {ex, ex, ex};
    if (cand[1] == lo10 * 10) cand[1] = lo10, cex[1] = ex + 1;
    if (cand[2] < lo10) cand[2] = lo10 * 10 - 1, cex[2] = ex - 1;
    for (int k = 0; k < 3; k++) {
      snprintf(t, sizeof t, "%llue%d", (unsigned long long)cand[k], cex[k]);
      if (strtod(t, NULL) != a) continue;
      m = cand[k], ex = cex[k];
      while (m % 10 == 0) m /= 10, ex++;
      *m_out = m, *e_out = ex;
      return;
    }
  }
  *m_out = 0, *e_out = 0; /* not reached: 17 digits always round-trip */
}

int sw_py_float_repr(char *buf, size_t n, double v) {
  if (isnan(v)) return snprintf(buf, n, "nan");
  if (isinf(v)) return snprintf(buf, n, v < 0 ? "-inf" : "inf");
  if (v == 0) return snprintf(buf, n, signbit(v) ? "-0.0" : "0.0");
  uint64_t m;
  int e;
  shortest_digits(fabs(v), &m, &e);
  char d[24], out[48];
  int nd = snprintf(d, sizeof d, "%llu", (unsigned long long)m);
  int decpt = e + nd; /* |v| = 0.DIGITS * 10^decpt */
  size_t o = 0;
  if (v < 0) out[o++] = '-';
  if (decpt <= -4 || decpt > 16) { /* Python: exponent < -4 or >= 16 */
    out[o++] = d[0];
    if (nd > 1) out[o++] = '.', memcpy(out + o, d + 1, (size_t)nd - 1), o += (size_t)nd - 1;
    o += (size_t)snprintf(out + o, sizeof out - o, "e%c%02d", decpt - 1 < 0 ? '-' : '+', abs(decpt - 1));
  } else if (decpt <= 0) {
    o += (size_t)snprintf(out + o, sizeof out - o, "0.%.*s%s", -decpt, "0000", d);
  } else if (decpt >= nd) {
    o += (size_t)snprintf(out + o, sizeof out - o, "%s%.*s.0", d, decpt - nd, "0000000000000000");
  } else {
    o += (size_t)snprintf(out + o, sizeof out - o, "%.*s.%s", decpt, d, d + decpt);
  }
  out[o] = '\0';
  return snprintf(buf, n, "%s", out);
}

/* ---- Python's str(), repr() and json.dumps of a value ---- */

/* Python's str.isprintable for a non-ASCII code point, for the characters a parameter
** can plausibly hold: C1 controls, separators and format characters, private use. Other
** unassigned code points count as printable (Python escapes them): a documented gap. */
static int py_printable(uint32_t c) {
  static const uint32_t no[][2] = {
      {0x80, 0xA0},       {0xAD, 0xAD},       {0x600, 0x605},     {0x61C, 0x61C},     {0x6DD, 0x6DD},
      {0x70F, 0x70F},     {0x1680, 0x1680},   {0x180E, 0x180E},   {0x2000, 0x200F},   {0x2028, 0x202F},
      {0x205F, 0x2064},   {0x2066, 0x206F},   {0x3000, 0x3000},   {0xE000, 0xF8FF},   {0xFEFF, 0xFEFF},
      {0xFFF9, 0xFFFB},   {0xFFFE, 0xFFFF},   {0xE0001, 0xE0001}, {0xE0020, 0xE007F}, {0xF0000, 0x10FFFF}};
  for (size_t k = 0; k < sizeof no / sizeof no[0]; k++)
    if (c >= no[k][0] && c <= no[k][1]) return 0;
  return 1;
}

/* repr(str): single quotes unless the text has ' and no ", Python's escapes. */
static void py_repr_str(Buf *b, const char *s) {
  char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'', e[16];
  buf_putc(b, q);
  for (const unsigned char *c = (const unsigned char *)s; *c;) {
    uint32_t cp;
    size_t k = utf8_decode(c, strlen((const char *)c), &cp); /* validated by the parser */
    if (cp == (uint32_t)q || cp == '\\') snprintf(e, sizeof e, "\\%c", (char)cp);
    else if (cp == '\t' || cp == '\n' || cp == '\r') snprintf(e, sizeof e, "\\%c", cp == '\t' ? 't' : cp == '\n' ? 'n' : 'r');
    else if (cp < 0x20 || cp == 0x7F) snprintf(e, sizeof e, "\\x%02x", cp);
    else if (cp < 0x7F || py_printable(cp)) snprintf(e, sizeof e, "%.*s", (int)k, (const char *)c);
    else if (cp < 0x100) snprintf(e, sizeof e, "\\x%02x", cp);
    else if (cp < 0x10000) snprintf(e, sizeof e, "\\u%04x", cp);
    else snprintf(e, sizeof e, "\\U%08x", cp);
    buf_puts(b, e);
    c += k;
  }
  buf_putc(b, q);
}

static void fmt_value(Buf *b, const JNode *v, int json);
static void json_dumps_str(Buf *b, const char *s);

/* str(value): a string is itself, everything else its repr. */
static void py_str(Buf *b, const JNode *v) {
  if (v->kind == J_STR) buf_puts(b, v->text);
  else fmt_value(b, v, 0);
}

/* json.dumps string (ensure_ascii): \" \\ \b \f \n \r \t, else \uXXXX outside ' '..'~'. */
static void json_dumps_str(Buf *b, const char *s) {
  char e[16];
  buf_putc(b, '"');
  for (const unsigned char *c = (const unsigned char *)s; *c;) {
    uint32_t cp;
    size_t k = utf8_decode(c, strlen((const char *)c), &cp);
    const char *sh = cp == '"' ? "\\\"" : cp == '\\' ? "\\\\" : cp == '\b' ? "\\b" : cp == '\f' ? "\\f"
                   : cp == '\n' ? "\\n" : cp == '\r' ? "\\r" : cp == '\t' ? "\\t" : NULL;
    if (sh) snprintf(e, sizeof e, "%s", sh);
    else if (cp >= 0x20 && cp < 0x7F) snprintf(e, sizeof e, "%c", (char)cp);
    else if (cp < 0x10000) snprintf(e, sizeof e, "\\u%04x", cp);
    else snprintf(e, sizeof e, "\\u%04x\\u%04x", 0xD800 + ((cp - 0x10000) >> 10), 0xDC00 + ((cp - 0x10000) & 0x3FF));
    buf_puts(b, e);
    c += k;
  }
  buf_putc(b, '"');
}

/* Python's repr(v) (json 0) or json.dumps(v) (json 1): the same shape, other spellings. */
static void fmt_value(Buf *b, const JNode *v, int json) {
  static const char *const lit[2][3] = {{"None", "False", "True"}, {"null", "false", "true"}};
  char t[48];
  switch (v->kind) {
  case J_NULL:
  case J_FALSE:
  case J_TRUE: buf_puts(b, lit[json][v->kind]); break;
  case J_INT: buf_puts(b, v->text); break;
  case J_FLOAT:
    if (json && isnan(v->num)) buf_puts(b, "NaN");
    else if (json && isinf(v->num)) buf_puts(b, v->num < 0 ? "-Infinity" : "Infinity");
    else sw_py_float_repr(t, sizeof t, v->num), buf_puts(b, t);
    break;
  case J_STR: (json ? json_dumps_str : py_repr_str)(b, v->text); break;
  case J_ARR:
  case J_OBJ:
    buf_putc(b, v->kind == J_ARR ? '[' : '{');
    for (size_t k = 0; k < v->n; k++) {
      buf_puts(b, k ? ", " : "");
      if (v->kind == J_ARR) {
        fmt_value(b, &v->item[k], json);
        continue;
      }
      (json ? json_dumps_str : py_repr_str)(b, v->pair[k].name);
      buf_puts(b, ": ");
      fmt_value(b, &v->pair[k].val, json);
    }
    buf_putc(b, v->kind == J_ARR ? ']' : '}');
    break;
  }
}

/* ---- the template ---- */

static const char *const MACROS[] = {"env", "interpreter", "program", "args", "args_no_equals", "args_no_hyphens",
                                     "args_no_boolean_flags", "args_json", "args_json_file"};
enum { M_ENV, M_INTERP, M_PROGRAM, M_ARGS, M_NOEQ, M_NOHYPH, M_NOBOOL, M_JSON, M_JSONFILE, N_MACROS };
static const char *const DEFAULT_TMPL[] = {"${env}", "${interpreter}", "${program}", "${args}"};

/* The element with every ${envvar:NAME} replaced (owned; NULL when out of memory). */
static char *envvar_subst(const char *s) {
  static const char pre[] = "${envvar:";
  Buf b = {0};
  while (*s) {
    const char *at = strstr(s, pre);
    size_t k = at ? strspn(at + sizeof pre - 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_") : 0;
    if (!at || at[sizeof pre - 1 + k] != '}') {
      size_t take = at ? (size_t)(at - s) + 1 : strlen(s); /* not a match: keep its '$' */
      buf_add(&b, s, take);
      s += take;
      continue;
    }
    buf_add(&b, s, (size_t)(at - s));
    char *name = tr_strndup(at + sizeof pre - 1, k);
    const char *val = name ? getenv(name) : NULL;
    if (!name) b.oom = 1;
    else buf_puts(&b, val ? val : name);
    free(name);
    s = at + sizeof pre + k;
  }
  return buf_take(&b);
}

/* -1: not a macro; N_MACROS: a macro hpsweep does not know; else its index. */
static int macro_index(const char *e) {
  size_t k = strlen(e);
  if (k < 3 || strncmp(e, "${", 2) || e[k - 1] != '}') return -1;
  for (int m = 0; m < N_MACROS; m++)
    if (strlen(MACROS[m]) == k - 3 && !strncmp(e + 2, MACROS[m], k - 3)) return m;
  return N_MACROS;
}

static int unknown_macro(TrErr *err, const char *e, size_t idx) {
  char clip[TR_ERR_CLIP_MAX];
  return tr_err_set(err, TR_EINVAL,
                    "unknown command macro %s in command element %zu (known: ${env}, ${interpreter}, ${program}, "
                    "${args}, ${args_no_equals}, ${args_no_hyphens}, ${args_no_boolean_flags}, ${args_json}, "
                    "${args_json_file}, ${envvar:NAME})",
                    tr_err_clip(e, clip, sizeof clip), idx + 1);
}

static void tmpl_get(const char *const **t, size_t *n) {
  if (!*t || !*n) *t = DEFAULT_TMPL, *n = sizeof DEFAULT_TMPL / sizeof DEFAULT_TMPL[0];
}

int sw_command_check(const char *const *tmpl, size_t n_tmpl, TrErr *err) {
  tmpl_get(&tmpl, &n_tmpl);
  for (size_t i = 0; i < n_tmpl; i++) {
    char *e = envvar_subst(tmpl[i] ? tmpl[i] : "");
    if (!e) return tr_err_set(err, TR_ENOMEM, "out of memory");
    int rc = macro_index(e) == N_MACROS ? unknown_macro(err, e, i) : TR_OK;
    free(e);
    if (rc) return rc;
  }
  return TR_OK;
}

size_t sw_command_lint(const char *const *tmpl, size_t n_tmpl, char *note, size_t n) {
  size_t count = 0;
  tmpl_get(&tmpl, &n_tmpl);
  if (note && n) note[0] = '\0';
  for (size_t i = 0; i < n_tmpl; i++) {
    char *e = envvar_subst(tmpl[i] ? tmpl[i] : "");
    if (e && macro_index(e) < 0 && strstr(e, "${")) {
      char clip[TR_ERR_CLIP_MAX];
      if (!count++ && note)
        snprintf(note, n, "command element %zu \"%s\" has ${...} inside a longer string: it is passed unchanged, "
                 "as W&B does (only a whole element is a macro)", i + 1, tr_err_clip(e, clip, sizeof clip));
    }
    free(e);
  }
  return count;
}

const char *sw_command_interpreter(const char *program) {
  size_t k = program ? strlen(program) : 0;
  return k > 3 && !strcmp(program + k - 3, ".py") ? "python3" : NULL;
}

/* ---- building the argv ---- */

typedef struct Out {
  char **v; /* NULL-terminated once built */
  size_t n, cap;
  int oom;
} Out;

/* Append s (owned; NULL means an allocation failed). */
static void out_push(Out *o, char *s) {
  if (!s || o->oom) {
    free(s);
    o->oom = 1;
    return;
  }
  if (o->n + 2 > o->cap) {
    size_t cap = o->cap ? 2 * o->cap : 16;
    char **v = tr_realloc(o->v, cap * sizeof *v);
    if (!v) {
      free(s);
      o->oom = 1;
      return;
    }
    o->v = v, o->cap = cap;
  }
  o->v[o->n++] = s;
  o->v[o->n] = NULL;
}

/* PRE NAME MID str(value): one argument. */
static void out_flag(Out *o, const char *pre, const char *name, const char *mid, const JNode *val) {
  Buf b = {0};
  buf_puts(&b, pre);
  buf_puts(&b, name);
  buf_puts(&b, mid);
  if (val) py_str(&b, val);
  out_push(o, buf_take(&b));
}

/* One of the parameter macros, every parameter in sorted name order. */
static void expand_params(Out *o, const JNode *params, int m) {
  for (size_t k = 0; k < params->n; k++) {
    const char *name = params->pair[k].name;
    const JNode *val = &params->pair[k].val;
    if (m == M_ARGS) out_flag(o, "--", name, "=", val);
    else if (m == M_NOHYPH) out_flag(o, "", name, "=", val);
    else if (m == M_NOEQ) out_flag(o, "--", name, "", NULL), out_flag(o, "", "", "", val);
    else if (val->kind == J_TRUE) out_flag(o, "--", name, "", NULL);
    else if (val->kind != J_FALSE) out_flag(o, "--", name, "=", val);
  }
}

static char *params_json_text(const JNode *params) {
  Buf b = {0};
  fmt_value(&b, params, 1);
  return buf_take(&b);
}

static char *json_file_path(const char *run_dir) {
  Buf b = {0};
  buf_puts(&b, run_dir);
  if (b.n && b.p[b.n - 1] != '/') buf_putc(&b, '/');
  buf_puts(&b, SW_COMMAND_JSON_FILE);
  return buf_take(&b);
}

/* One macro element into o. *json_path is set (owned) when ${args_json_file} is used. */
static int expand_macro(const SwCommandIn *in, const JNode *params, int m, Out *o, char **json_path, TrErr *err) {
  const char *interp = in->interpreter ? in->interpreter : sw_command_interpreter(in->program);
  switch (m) {
  case M_ENV: out_push(o, tr_strdup(SW_COMMAND_ENV)); break;
  case M_INTERP:
    if (interp && *interp) out_push(o, tr_strdup(interp));
    break;
  case M_PROGRAM:
    if (!in->program) return tr_err_set(err, TR_EINVAL, "the command uses ${program}, but the spec has no program");
    out_push(o, tr_strdup(in->program));
    break;
  case M_JSON: out_push(o, params_json_text(params)); break;
  case M_JSONFILE:
    if (!in->run_dir) return tr_err_set(err, TR_EINVAL, "the command uses ${args_json_file}, but no run directory is given");
    if (!*json_path && !(*json_path = json_file_path(in->run_dir))) o->oom = 1;
    out_push(o, *json_path ? tr_strdup(*json_path) : NULL);
    break;
  default: expand_params(o, params, m);
  }
  return TR_OK;
}

static int expand_template(const SwCommandIn *in, const JNode *params, Out *o, char **json_path, TrErr *err) {
  const char *const *tmpl = in->tmpl;
  size_t n = in->n_tmpl;
  tmpl_get(&tmpl, &n);
  for (size_t i = 0; i < n && !o->oom; i++) {
    char *e = envvar_subst(tmpl[i] ? tmpl[i] : "");
    if (!e) {
      o->oom = 1;
      break;
    }
    int m = macro_index(e), rc = TR_OK;
    if (m < 0) out_push(o, e), e = NULL;
    else if (m == N_MACROS) rc = unknown_macro(err, e, i);
    else rc = expand_macro(in, params, m, o, json_path, err);
    free(e);
    if (rc) return rc;
  }
  return TR_OK;
}

/* W&B refuses a top-level null ("No \"value\" found"): so does hpsweep. */
static int params_check(const JNode *params, TrErr *err) {
  for (size_t k = 0; k < params->n; k++)
    if (params->pair[k].val.kind == J_NULL)
      return tr_err_set(err, TR_EINVAL, "parameter \"%s\" is null: W&B's agent refuses a null value, and so does hpsweep",
                        params->pair[k].name);
  return TR_OK;
}

static int json_file_write(const char *path, const JNode *params, TrErr *err) {
  char *text = params_json_text(params);
  if (!text) return tr_err_set(err, TR_ENOMEM, "out of memory");
  TrAtomicFile a;
  int rc = tr_atomic_open(&a, path, err);
  if (rc == TR_OK) {
    fputs(text, a.f); /* as W&B: json.dumps, no newline */
    rc = tr_atomic_commit(&a, err);
  }
  free(text);
  return rc;
}

int sw_command_build(const SwCommandIn *in, char ***argv, size_t *argc, TrErr *err) {
  JNode params;
  Out o = {0};
  char *json_path = NULL;
  *argv = NULL;
  if (argc) *argc = 0;
  int rc = params_parse(in->params_json, &params, err);
  if (rc == TR_OK) rc = params_check(&params, err);
  if (rc == TR_OK) rc = expand_template(in, &params, &o, &json_path, err);
  if (rc == TR_OK && !o.v && !o.oom) {
    o.v = tr_calloc(1, sizeof *o.v); /* an empty command: {NULL} */
    if (!o.v) o.oom = 1;
  }
  if (rc == TR_OK && o.oom) rc = tr_err_set(err, TR_ENOMEM, "out of memory");
  if (rc == TR_OK && json_path && !in->no_write) rc = json_file_write(json_path, &params, err);
  jnode_free(&params);
  free(json_path);
  if (rc != TR_OK) {
    sw_command_free(o.v);
    return rc;
  }
  *argv = o.v;
  if (argc) *argc = o.n;
  return TR_OK;
}

void sw_command_free(char **argv) {
  for (size_t i = 0; argv && argv[i]; i++) free(argv[i]);
  free(argv);
}

char *sw_command_display(char *const *argv) {
  static const char safe[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_@%+=:,./-";
  Buf b = {0};
  for (size_t i = 0; argv && argv[i]; i++) {
    const char *s = argv[i];
    if (i) buf_putc(&b, ' ');
    if (*s && strspn(s, safe) == strlen(s)) {
      buf_puts(&b, s);
      continue;
    }
    if (strchr(s, '\'') && !strpbrk(s, "\"$`\\!")) { /* "it's": nothing special inside "" */
      buf_putc(&b, '"'), buf_puts(&b, s), buf_putc(&b, '"');
      continue;
    }
    buf_putc(&b, '\'');
    for (; *s; s++) buf_puts(&b, *s == '\'' ? "'\\''" : (char[2]){*s, 0});
    buf_putc(&b, '\'');
  }
  return buf_take(&b);
}
