/* tr_json: string literals escape exactly what JSON requires (in the canonical form
** config hashes depend on, or the short form exports use) and pass every other byte
** through; numbers print at the asked precision, the shortest form reads back exactly,
** and JSON numbers are null where JSON has none. */
#include <criterion/criterion.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_json.h"

/* tr_json_quote of s into a static buffer, checking the returned length. */
static const char *quote(const char *s, int flags) {
  static char buf[256];
  size_t need = tr_json_quote(buf, sizeof buf, s, flags);
  cr_assert_eq(need, strlen(buf), "returned %zu for '%s'", need, buf);
  return buf;
}

/* tr_json_quote_write of s, read back from a memory stream. */
static char *quote_written(const char *s, int flags) {
  char *out = NULL;
  size_t n = 0;
  FILE *f = open_memstream(&out, &n);
  cr_assert_not_null(f);
  cr_assert_eq(tr_json_quote_write(f, s, flags), 0);
  cr_assert_eq(fclose(f), 0);
  return out;
}

Test(tr_json, quotes_and_backslashes) {
  cr_assert_str_eq(quote("plain", 0), "\"plain\"");
  cr_assert_str_eq(quote("", 0), "\"\"");
  cr_assert_str_eq(quote(NULL, 0), "\"\"");
  cr_assert_str_eq(quote("say \"hi\"", 0), "\"say \\\"hi\\\"\"");
  cr_assert_str_eq(quote("C:\\dir\\", 0), "\"C:\\\\dir\\\\\"");
  cr_assert_str_eq(quote("/a/b", 0), "\"/a/b\"", "'/' needs no escape");
}

Test(tr_json, control_characters_canonical_and_short) {
  cr_assert_str_eq(quote("a\nb\tc\rd", 0), "\"a\\u000ab\\u0009c\\u000dd\"");
  cr_assert_str_eq(quote("a\nb\tc\rd", TR_JSON_SHORT), "\"a\\nb\\tc\\rd\"");
  cr_assert_str_eq(quote("\x01\x1f\b\f", 0), "\"\\u0001\\u001f\\u0008\\u000c\"");
  cr_assert_str_eq(quote("\x01\x1f\b\f", TR_JSON_SHORT), "\"\\u0001\\u001f\\u0008\\u000c\"");
  cr_assert_str_eq(quote("\x7f", 0), "\"\x7f\"", "DEL is not a JSON control character");
}

Test(tr_json, utf8_and_invalid_bytes_pass_through) {
  cr_assert_str_eq(quote("caf\xc3\xa9 \xe2\x82\xac", 0), "\"caf\xc3\xa9 \xe2\x82\xac\"");
  cr_assert_str_eq(quote("bad \xff\xc3(", 0), "\"bad \xff\xc3(\"", "not validated, not altered");
}

Test(tr_json, buffer_too_small_truncates_and_reports_need) {
  char buf[6];
  size_t need = tr_json_quote(buf, sizeof buf, "a\"bcdef", 0);
  cr_assert_eq(need, strlen("\"a\\\"bcdef\""));
  cr_assert_str_eq(buf, "\"a\\\"b");
  cr_assert_eq(tr_json_quote(NULL, 0, "x\n", 0), strlen("\"x\\u000a\""), "sizing call");
}

Test(tr_json, stream_writer_matches_buffer_writer) {
  const char *cases[] = {"plain", "q\"b\\", "nl\ntab\tcr\r\x01", "caf\xc3\xa9\xff", ""};
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
    for (int flags = 0; flags <= TR_JSON_SHORT; flags++) {
      char *w = quote_written(cases[i], flags);
      cr_assert_str_eq(w, quote(cases[i], flags), "case %zu flags %d", i, flags);
      free(w);
    }
}

Test(tr_json, shortest_number_round_trips) {
  const double v[] = {0.1, 0.3, 1.0 / 3.0, 0.1 + 0.2, 1e-300, DBL_MAX, DBL_MIN, 5e-324,
                      -2.5, 3e-4, 123456789012345678.0, 0.0, -0.0};
  char buf[40];
  for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
    tr_fmt_double(buf, sizeof buf, v[i], TR_FMT_SHORTEST);
    double back = strtod(buf, NULL);
    cr_assert(memcmp(&back, &v[i], sizeof back) == 0, "%s does not read back to %.17g", buf, v[i]);
  }
  tr_fmt_double(buf, sizeof buf, 0.1, TR_FMT_SHORTEST);
  cr_assert_str_eq(buf, "0.1", "short where 15 digits suffice");
  tr_fmt_double(buf, sizeof buf, 0.1 + 0.2, TR_FMT_SHORTEST);
  cr_assert_str_eq(buf, "0.30000000000000004", "17 digits where needed");
  tr_fmt_double(buf, sizeof buf, 3.0, TR_FMT_SHORTEST);
  cr_assert_str_eq(buf, "3");
}

Test(tr_json, fixed_precision_is_printf) {
  char buf[40], want[40];
  const double v[] = {0.1 + 0.2, 1.0 / 3.0, 1e22, -7.0};
  for (int d = 1; d <= 17; d++)
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
      int k = tr_fmt_double(buf, sizeof buf, v[i], d);
      snprintf(want, sizeof want, "%.*g", d, v[i]);
      cr_assert_str_eq(buf, want);
      cr_assert_eq(k, (int)strlen(want));
    }
  tr_fmt_double(buf, sizeof buf, 0.1 + 0.2, 15);
  cr_assert_str_eq(buf, "0.3");
  tr_fmt_double(buf, sizeof buf, 0.1 + 0.2, 17);
  cr_assert_eq(strtod(buf, NULL), 0.1 + 0.2, "17 digits always read back");
}

Test(tr_json, numbers_null_where_json_has_none) {
  char buf[40];
  tr_json_number(buf, sizeof buf, NAN, TR_FMT_SHORTEST);
  cr_assert_str_eq(buf, "null");
  tr_json_number(buf, sizeof buf, INFINITY, 17);
  cr_assert_str_eq(buf, "null");
  tr_json_number(buf, sizeof buf, -INFINITY, 17);
  cr_assert_str_eq(buf, "null");
  tr_json_number(buf, sizeof buf, 2.5, 17);
  cr_assert_str_eq(buf, "2.5");
  tr_fmt_double(buf, sizeof buf, INFINITY, TR_FMT_SHORTEST);
  cr_assert_str_eq(buf, "inf", "plain text keeps printf's spelling");
}
