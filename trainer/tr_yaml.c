/*
** tr_yaml.c: libyaml events -> a small tree, with the hardening limits of tr_yaml.h.
** Nodes and their child arrays are heap blocks freed recursively; the whole input
** is read into memory first so its size is checked before libyaml sees a byte.
*/
#include "tr_yaml.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

#include "tr_alloc.h"
#include "tr_sort.h"

typedef struct Builder {
  const char *name;
  TrYamlNode *stack[TR_YAML_MAX_DEPTH + 1]; /* open collections, innermost last */
  int depth;
  long nodes;
  TrYamlNode *root;
  TrErr *err;
} Builder;

static void node_free(TrYamlNode *n) {
  if (!n) return;
  for (int i = 0; i < n->n; i++) {
    if (n->keys) node_free(n->keys[i]);
    if (n->items) node_free(n->items[i]);
  }
  free(n->keys);
  free(n->items);
  free(n->str);
  free(n);
}

static TrYamlNode *node_new(Builder *b, TrYamlKind kind, const yaml_mark_t *m) {
  if (++b->nodes > TR_YAML_MAX_NODES) {
    tr_err_set(b->err, TR_EFORMAT, "%s:%zu:%zu: more than %d YAML nodes", b->name, m->line + 1,
               m->column + 1, TR_YAML_MAX_NODES);
    return NULL;
  }
  TrYamlNode *n = tr_calloc(1, sizeof *n);
  if (!n) {
    tr_err_set(b->err, TR_ENOMEM, "%s: out of memory", b->name);
    return NULL;
  }
  n->kind = kind;
  n->line = (int)m->line + 1;
  n->col = (int)m->column + 1;
  return n;
}

/* Append item (and for maps, decide whether it is a key or a value). */
static int node_add(Builder *b, TrYamlNode *parent, TrYamlNode *child) {
  if (parent->kind == TR_YAML_SEQ) {
    TrYamlNode **it = tr_realloc(parent->items, (size_t)(parent->n + 1) * sizeof *it);
    if (!it) return tr_err_set(b->err, TR_ENOMEM, "%s: out of memory", b->name);
    parent->items = it;
    parent->items[parent->n++] = child;
    return TR_OK;
  }
  /* MAP: a pending key is stored in keys[n] with items[n] NULL until its value arrives. */
  if (parent->keys && parent->items && parent->n > 0 && parent->items[parent->n - 1] == NULL) {
    parent->items[parent->n - 1] = child;
    return TR_OK;
  }
  if (child->kind != TR_YAML_SCALAR)
    return tr_err_set(b->err, TR_EFORMAT, "%s:%d:%d: mapping keys must be plain scalars", b->name,
                      child->line, child->col);
  TrYamlNode **k = tr_realloc(parent->keys, (size_t)(parent->n + 1) * sizeof *k);
  if (!k) return tr_err_set(b->err, TR_ENOMEM, "%s: out of memory", b->name);
  parent->keys = k;
  TrYamlNode **it = tr_realloc(parent->items, (size_t)(parent->n + 1) * sizeof *it);
  if (!it) return tr_err_set(b->err, TR_ENOMEM, "%s: out of memory", b->name);
  parent->items = it;
  parent->keys[parent->n] = child;
  parent->items[parent->n] = NULL;
  parent->n++;
  return TR_OK;
}

static int key_index_cmp(const void *a, const void *b) {
  const TrYamlNode *x = *(TrYamlNode *const *)a, *y = *(TrYamlNode *const *)b;
  int c = strcmp(x->str, y->str);
  if (c) return c;
  return (x->line != y->line) ? x->line - y->line : x->col - y->col;
}

/* Duplicate keys: sort a copy of the key pointers, so a 50k-key map costs n log n. */
static int check_duplicates(Builder *b, TrYamlNode *map) {
  if (map->n < 2) return TR_OK;
  TrYamlNode **tmp = tr_malloc((size_t)map->n * sizeof *tmp);
  if (!tmp) return tr_err_set(b->err, TR_ENOMEM, "%s: out of memory", b->name);
  memcpy(tmp, map->keys, (size_t)map->n * sizeof *tmp);
  tr_sort(tmp, (size_t)map->n, sizeof *tmp, key_index_cmp);
  int rc = TR_OK;
  for (int i = 1; i < map->n; i++) {
    if (strcmp(tmp[i - 1]->str, tmp[i]->str) == 0) {
      rc = tr_err_set(b->err, TR_EFORMAT, "%s:%d:%d: duplicate key '%s' (first at line %d)", b->name,
                      tmp[i]->line, tmp[i]->col, tmp[i]->str, tmp[i - 1]->line);
      break;
    }
  }
  free(tmp);
  return rc;
}

static int attach(Builder *b, TrYamlNode *n) {
  if (b->depth == 0) {
    b->root = n;
    return TR_OK;
  }
  int rc = node_add(b, b->stack[b->depth - 1], n);
  if (rc) node_free(n);
  return rc;
}

static int parse(Builder *b, yaml_parser_t *p) {
  int docs = 0;
  for (;;) {
    yaml_event_t ev;
    if (!yaml_parser_parse(p, &ev)) {
      const char *ctx = p->context ? p->context : NULL;
      if (ctx)
        return tr_err_set(b->err, TR_EFORMAT, "%s:%zu:%zu: %s %s", b->name, p->problem_mark.line + 1,
                          p->problem_mark.column + 1, p->problem ? p->problem : "YAML error", ctx);
      return tr_err_set(b->err, TR_EFORMAT, "%s:%zu:%zu: %s", b->name, p->problem_mark.line + 1,
                        p->problem_mark.column + 1, p->problem ? p->problem : "YAML error");
    }
    int rc = TR_OK, done = 0;
    const yaml_mark_t *m = &ev.start_mark;
    switch (ev.type) {
      case YAML_DOCUMENT_START_EVENT:
        if (++docs > 1)
          rc = tr_err_set(b->err, TR_EFORMAT, "%s:%zu:%zu: more than one YAML document", b->name,
                          m->line + 1, m->column + 1);
        break;
      case YAML_ALIAS_EVENT:
        rc = tr_err_set(b->err, TR_EFORMAT, "%s:%zu:%zu: YAML aliases are not allowed (*%s)", b->name,
                        m->line + 1, m->column + 1, (const char *)ev.data.alias.anchor);
        break;
      case YAML_SCALAR_EVENT: {
        TrYamlNode *n = node_new(b, TR_YAML_SCALAR, m);
        if (!n) {
          rc = b->err ? b->err->code : TR_EFORMAT;
          break;
        }
        n->str = tr_malloc(ev.data.scalar.length + 1);
        if (!n->str) {
          node_free(n);
          rc = tr_err_set(b->err, TR_ENOMEM, "%s: out of memory", b->name);
          break;
        }
        memcpy(n->str, ev.data.scalar.value, ev.data.scalar.length);
        n->str[ev.data.scalar.length] = '\0';
        if (strlen(n->str) != ev.data.scalar.length) {
          node_free(n);
          rc = tr_err_set(b->err, TR_EFORMAT, "%s:%zu:%zu: NUL character in a scalar", b->name,
                          m->line + 1, m->column + 1);
          break;
        }
        n->plain = ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
        rc = attach(b, n);
        break;
      }
      case YAML_SEQUENCE_START_EVENT:
      case YAML_MAPPING_START_EVENT: {
        if (b->depth >= TR_YAML_MAX_DEPTH) {
          rc = tr_err_set(b->err, TR_EFORMAT, "%s:%zu:%zu: nesting deeper than %d levels", b->name,
                          m->line + 1, m->column + 1, TR_YAML_MAX_DEPTH);
          break;
        }
        TrYamlNode *n =
            node_new(b, ev.type == YAML_SEQUENCE_START_EVENT ? TR_YAML_SEQ : TR_YAML_MAP, m);
        if (!n) {
          rc = b->err ? b->err->code : TR_EFORMAT;
          break;
        }
        if ((rc = attach(b, n)) == TR_OK) b->stack[b->depth++] = n;
        break;
      }
      case YAML_SEQUENCE_END_EVENT:
        b->depth--;
        break;
      case YAML_MAPPING_END_EVENT:
        rc = check_duplicates(b, b->stack[--b->depth]);
        break;
      case YAML_STREAM_END_EVENT:
        done = 1;
        break;
      default:
        break;
    }
    yaml_event_delete(&ev);
    if (rc) return rc;
    if (done) return TR_OK;
  }
}

int tr_yaml_load_string(const char *text, size_t len, const char *name, TrYamlDoc **out, TrErr *err) {
  *out = NULL;
  if (!name) name = "<string>";
  if (len > TR_YAML_MAX_BYTES)
    return tr_err_set(err, TR_EFORMAT, "%s: YAML input of %zu bytes is over the limit of %u bytes", name,
                      len, TR_YAML_MAX_BYTES);
  yaml_parser_t p;
  if (!yaml_parser_initialize(&p)) return tr_err_set(err, TR_ENOMEM, "%s: out of memory", name);
  yaml_parser_set_input_string(&p, (const unsigned char *)text, len);
  Builder b;
  memset(&b, 0, sizeof b);
  b.name = name;
  b.err = err;
  int rc = parse(&b, &p);
  yaml_parser_delete(&p);
  if (rc) {
    node_free(b.root);
    return rc;
  }
  TrYamlDoc *d = tr_calloc(1, sizeof *d);
  if (d) d->name = tr_strdup(name);
  if (!d || !d->name) {
    if (d) free(d);
    node_free(b.root);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory", name);
  }
  d->root = b.root;
  *out = d;
  return TR_OK;
}

int tr_yaml_load_file(const char *path, TrYamlDoc **out, TrErr *err) {
  *out = NULL;
  FILE *f = fopen(path, "rb");
  if (!f) return tr_err_set(err, TR_EIO, "%s: %s", path, strerror(errno));
  size_t cap = TR_YAML_MAX_BYTES + 1, len = 0;
  char *buf = tr_malloc(cap);
  if (!buf) {
    fclose(f);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory", path);
  }
  len = fread(buf, 1, cap, f);
  int bad = ferror(f);
  fclose(f);
  int rc;
  if (bad)
    rc = tr_err_set(err, TR_EIO, "%s: read error", path);
  else if (len > TR_YAML_MAX_BYTES)
    rc = tr_err_set(err, TR_EFORMAT, "%s: YAML file is over the limit of %u bytes", path,
                    TR_YAML_MAX_BYTES);
  else
    rc = tr_yaml_load_string(buf, len, path, out, err);
  free(buf);
  return rc;
}

void tr_yaml_destroy(TrYamlDoc *doc) {
  if (!doc) return;
  node_free(doc->root);
  free(doc->name);
  free(doc);
}

TrYamlNode *tr_yaml_get(const TrYamlNode *map, const char *key) {
  if (!map || map->kind != TR_YAML_MAP) return NULL;
  for (int i = 0; i < map->n; i++)
    if (strcmp(map->keys[i]->str, key) == 0) return map->items[i];
  return NULL;
}

const char *tr_yaml_kind_name(TrYamlKind k) {
  return k == TR_YAML_SCALAR ? "a scalar" : k == TR_YAML_SEQ ? "a sequence" : "a mapping";
}

int tr_yaml_is_null(const TrYamlNode *n) {
  if (!n) return 1;
  if (n->kind != TR_YAML_SCALAR || !n->plain) return 0;
  const char *s = n->str;
  return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

/* ---- strict numbers ---- */

int tr_parse_double(const char *s, double *out) {
  if (!s || !*s) return -1;
  for (const char *p = s; *p; p++) /* no inf/nan spellings, no hex floats, no spaces */
    if (!strchr("0123456789+-.eE", *p)) return -1;
  char *end;
  errno = 0;
  double v = strtod(s, &end);
  if (*end || end == s) return -1;
  if (errno == ERANGE || !isfinite(v)) return fabs(v) < 1 ? TR_PARSE_UNDERFLOW : TR_PARSE_OVERFLOW;
  *out = v;
  return 0;
}

const char *tr_double_complaint(const char *s, char *buf, size_t n) {
  double d;
  char c[TR_ERR_CLIP_MAX];
  int rc = tr_parse_double(s, &d);
  tr_err_clip(s, c, sizeof c);
  if (rc == TR_PARSE_UNDERFLOW)
    snprintf(buf, n, "%s is too small for a float (underflows to 0)", c);
  else if (rc == TR_PARSE_OVERFLOW)
    snprintf(buf, n, "%s is too large for a float (overflows to infinity)", c);
  else
    snprintf(buf, n, "expected a finite number, got '%s'", c);
  return buf;
}

int tr_parse_int64(const char *s, int64_t *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  long long v = strtoll(s, &end, 10);
  if (!*end && end != s && errno == 0) {
    *out = (int64_t)v;
    return 0;
  }
  /* "1e6" and "2.0" are integers too when exact and in range. */
  double d;
  if (tr_parse_double(s, &d)) return -1;
  if (d != floor(d) || fabs(d) > 9007199254740992.0) return -1;
  *out = (int64_t)d;
  return 0;
}

int tr_parse_bool(const char *s, int *out) {
  if (!s) return -1;
  if (!strcmp(s, "true") || !strcmp(s, "True") || !strcmp(s, "TRUE")) {
    *out = 1;
    return 0;
  }
  if (!strcmp(s, "false") || !strcmp(s, "False") || !strcmp(s, "FALSE")) {
    *out = 0;
    return 0;
  }
  return -1;
}

static int scalar_or_fail(const TrYamlNode *n, const char *file, const char *key, const char *what,
                          TrErr *err) {
  if (n && n->kind == TR_YAML_SCALAR) return TR_OK;
  if (!n) return tr_err_set(err, TR_EINVAL, "%s: %s: expected %s, got nothing", file, key, what);
  return tr_err_set(err, TR_EINVAL, "%s:%d:%d: %s: expected %s, got %s", file, n->line, n->col, key, what,
                    tr_yaml_kind_name(n->kind));
}

int tr_yaml_double(const TrYamlNode *n, const char *file, const char *key, double *out, TrErr *err) {
  int rc = scalar_or_fail(n, file, key, "a number", err);
  if (rc) return rc;
  char why[TR_ERR_CLIP_MAX + 64];
  if (tr_parse_double(n->str, out))
    return tr_err_set(err, TR_EINVAL, "%s:%d:%d: %s: %s", file, n->line, n->col, key,
                      tr_double_complaint(n->str, why, sizeof why));
  return TR_OK;
}

int tr_yaml_int64(const TrYamlNode *n, const char *file, const char *key, int64_t *out, TrErr *err) {
  int rc = scalar_or_fail(n, file, key, "an integer", err);
  if (rc) return rc;
  char c[TR_ERR_CLIP_MAX];
  if (tr_parse_int64(n->str, out))
    return tr_err_set(err, TR_EINVAL, "%s:%d:%d: %s: expected an integer, got '%s'", file, n->line,
                      n->col, key, tr_err_clip(n->str, c, sizeof c));
  return TR_OK;
}

int tr_yaml_bool(const TrYamlNode *n, const char *file, const char *key, int *out, TrErr *err) {
  int rc = scalar_or_fail(n, file, key, "true or false", err);
  if (rc) return rc;
  char c[TR_ERR_CLIP_MAX];
  if (tr_parse_bool(n->str, out))
    return tr_err_set(err, TR_EINVAL, "%s:%d:%d: %s: expected true or false, got '%s'", file, n->line,
                      n->col, key, tr_err_clip(n->str, c, sizeof c));
  return TR_OK;
}
