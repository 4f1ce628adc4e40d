/* tr_yaml: the hardened tree loader and strict scalar parsing. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "tr_yaml.h"

static TrYamlDoc *load_ok(const char *text) {
  TrYamlDoc *d = NULL;
  TrErr err = {0};
  int rc = tr_yaml_load_string(text, strlen(text), "t.yaml", &d, &err);
  cr_assert_eq(rc, TR_OK, "load failed: %s", err.msg);
  return d;
}

static void load_fails(const char *text, const char *want) {
  TrYamlDoc *d = NULL;
  TrErr err = {0};
  int rc = tr_yaml_load_string(text, strlen(text), "t.yaml", &d, &err);
  cr_assert_neq(rc, TR_OK, "expected failure for: %s", text);
  cr_assert_null(d);
  cr_assert(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
}

Test(tr_yaml, nested_map_keeps_positions) {
  TrYamlDoc *d = load_ok("model:\n  n_layer: 4\n  bias: false\nlist: [1, 2]\n");
  TrYamlNode *m = tr_yaml_get(d->root, "model");
  cr_assert_not_null(m);
  TrYamlNode *nl = tr_yaml_get(m, "n_layer");
  cr_assert_str_eq(nl->str, "4");
  cr_assert_eq(nl->line, 2);
  cr_assert_eq(nl->col, 12);
  TrYamlNode *l = tr_yaml_get(d->root, "list");
  cr_assert_eq(l->kind, TR_YAML_SEQ);
  cr_assert_eq(l->n, 2);
  tr_yaml_destroy(d);
}

Test(tr_yaml, quoted_scalars_are_not_plain) {
  TrYamlDoc *d = load_ok("a: '1'\nb: 1\n");
  cr_assert_eq(tr_yaml_get(d->root, "a")->plain, 0);
  cr_assert_eq(tr_yaml_get(d->root, "b")->plain, 1);
  tr_yaml_destroy(d);
}

Test(tr_yaml, empty_document_has_null_root) {
  TrYamlDoc *d = load_ok("");
  cr_assert_null(d->root);
  tr_yaml_destroy(d);
}

Test(tr_yaml, duplicate_key_is_rejected_with_position) {
  load_fails("a: 1\nb: 2\na: 3\n", "t.yaml:3:1: duplicate key 'a' (first at line 1)");
}

Test(tr_yaml, alias_is_rejected) { load_fails("a: &x 1\nb: *x\n", "t.yaml:2:4: YAML aliases are not allowed"); }

Test(tr_yaml, billion_laughs_is_rejected) {
  load_fails("a: &a [\"lol\",\"lol\"]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]\nc: [*b,*b,*b,*b,*b,*b,*b,*b,*b]\n",
             "aliases are not allowed");
}

Test(tr_yaml, nesting_over_64_is_rejected) {
  char buf[512];
  size_t n = 0;
  for (int i = 0; i < 100; i++) buf[n++] = '[';
  for (int i = 0; i < 100; i++) buf[n++] = ']';
  buf[n] = 0;
  load_fails(buf, "nesting deeper than 64 levels");
}

Test(tr_yaml, input_over_one_mib_is_rejected) {
  size_t n = TR_YAML_MAX_BYTES + 10;
  char *big = malloc(n + 1);
  memset(big, '#', n);
  big[n] = 0;
  load_fails(big, "over the limit");
  free(big);
}

Test(tr_yaml, syntax_error_passes_libyaml_problem_and_mark) {
  load_fails("a: [1, 2\nb: 3\n", "t.yaml:");
  load_fails("a:\n\t- 1\n", "found character that cannot start any token");
}

Test(tr_yaml, two_documents_are_rejected) { load_fails("a: 1\n---\nb: 2\n", "more than one YAML document"); }

Test(tr_yaml, non_scalar_key_is_rejected) { load_fails("? [1, 2]\n: 3\n", "mapping keys must be plain scalars"); }

Test(tr_yaml, missing_file_names_the_file) {
  TrYamlDoc *d = NULL;
  TrErr err = {0};
  cr_assert_neq(tr_yaml_load_file("/nonexistent/x.yaml", &d, &err), TR_OK);
  cr_assert(strstr(err.msg, "/nonexistent/x.yaml: No such file"), "%s", err.msg);
}

Test(tr_yaml, strict_numbers) {
  double d;
  int64_t i;
  int b;
  cr_assert_eq(tr_parse_double("3e-4", &d), 0);
  cr_assert_float_eq(d, 3e-4, 1e-18);
  cr_assert_neq(tr_parse_double("1e999", &d), 0);
  cr_assert_neq(tr_parse_double(".inf", &d), 0);
  cr_assert_neq(tr_parse_double("nan", &d), 0);
  cr_assert_neq(tr_parse_double("1.0x", &d), 0);
  cr_assert_neq(tr_parse_double("", &d), 0);
  cr_assert_eq(tr_parse_int64("1e6", &i), 0);
  cr_assert_eq(i, 1000000);
  cr_assert_neq(tr_parse_int64("1.5", &i), 0);
  cr_assert_neq(tr_parse_int64("99999999999999999999", &i), 0);
  cr_assert_eq(tr_parse_bool("false", &b), 0);
  cr_assert_eq(b, 0);
  cr_assert_neq(tr_parse_bool("yes", &b), 0);
}

Test(tr_yaml, typed_getters_name_position_and_text) {
  TrYamlDoc *d = load_ok("lr: fast\n");
  double v;
  TrErr err = {0};
  cr_assert_neq(tr_yaml_double(tr_yaml_get(d->root, "lr"), "t.yaml", "optimizer.lr", &v, &err), TR_OK);
  cr_assert_str_eq(err.msg, "t.yaml:1:5: optimizer.lr: expected a finite number, got 'fast'");
  tr_yaml_destroy(d);
}
