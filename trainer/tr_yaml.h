/*
** tr_yaml.h: a hardened YAML document tree on top of libyaml, shared by training
** configs (tr_config) and sweep specs (sw_spec).
**
** Contract:
** - tr_yaml_load_* read exactly one document into a tree of scalars, sequences
**   and mappings, every node with its 1-based line and column.
** - Hardened against hostile input: more than TR_YAML_MAX_BYTES of input, nesting
**   deeper than TR_YAML_MAX_DEPTH, any alias or anchor, duplicate keys in a
**   mapping, non-scalar keys, more than one document, and libyaml's own errors
**   are all rejected with "FILE:LINE:COL: message" in err (libyaml's problem and
**   mark are passed through).
** - Scalars keep their text; tr_yaml_* number helpers parse strictly (the whole
**   string, finite, in range) and name the node's position when they fail.
** - One tree = one owner: tr_yaml_destroy frees it all; destroy(NULL) is a no-op.
*/
#ifndef TR_YAML_H
#define TR_YAML_H

#include <stddef.h>
#include <stdint.h>

#include "tr_err.h"

#define TR_YAML_MAX_BYTES (1u << 20)
#define TR_YAML_MAX_DEPTH 64
#define TR_YAML_MAX_NODES 100000

typedef enum { TR_YAML_SCALAR, TR_YAML_SEQ, TR_YAML_MAP } TrYamlKind;

typedef struct TrYamlNode TrYamlNode;
struct TrYamlNode {
  TrYamlKind kind;
  int line, col;          /* 1-based position of the node's first character */
  char *str;              /* SCALAR: NUL-terminated text */
  int plain;              /* SCALAR: unquoted (so `null`, numbers, bools are typed by text) */
  int n;                  /* SEQ: items; MAP: pairs */
  TrYamlNode **keys;      /* MAP: n scalar key nodes */
  TrYamlNode **items;     /* SEQ: n items; MAP: n values */
};

typedef struct TrYamlDoc {
  TrYamlNode *root;       /* NULL for an empty document */
  char *name;             /* file name used in messages */
} TrYamlDoc;

int tr_yaml_load_file(const char *path, TrYamlDoc **out, TrErr *err);
int tr_yaml_load_string(const char *text, size_t len, const char *name, TrYamlDoc **out, TrErr *err);
void tr_yaml_destroy(TrYamlDoc *doc);

/* MAP lookup by key; NULL if absent or map is not a mapping. */
TrYamlNode *tr_yaml_get(const TrYamlNode *map, const char *key);
const char *tr_yaml_kind_name(TrYamlKind k);

/* Strict scalar parsing; on failure err says "FILE:L:C: KEY: expected ..., got 'TEXT'". */
int tr_yaml_double(const TrYamlNode *n, const char *file, const char *key, double *out, TrErr *err);
int tr_yaml_int64(const TrYamlNode *n, const char *file, const char *key, int64_t *out, TrErr *err);
int tr_yaml_bool(const TrYamlNode *n, const char *file, const char *key, int *out, TrErr *err);

/* The same strict rules on plain strings (for --set and CLI flags): 0 on success.
** tr_parse_double: -1 not a number, TR_PARSE_UNDERFLOW / TR_PARSE_OVERFLOW for a number
** out of a double's range (1e-320 is subnormal: refused, as are 1e-400 and 1e999). */
#define TR_PARSE_UNDERFLOW (-2)
#define TR_PARSE_OVERFLOW (-3)
int tr_parse_double(const char *s, double *out);
/* Why tr_parse_double refused s, for a message: "1e-320 is too small for a float (underflows
** to 0)", "... too large ...", or "expected a finite number, got 'S'" (S clipped). Returns buf. */
const char *tr_double_complaint(const char *s, char *buf, size_t n);
int tr_parse_int64(const char *s, int64_t *out);
int tr_parse_bool(const char *s, int *out);
/* Is this plain scalar YAML null (~, null, Null, NULL, empty)? */
int tr_yaml_is_null(const TrYamlNode *n);

#endif
