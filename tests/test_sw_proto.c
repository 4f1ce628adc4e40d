/* test_sw_proto.c: the metrics protocol parser, and the C, Python and wandb-shim
** clients feeding it through a real pipe. */
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>

#include "hps_test.h"
#include "sw_proto.h"

typedef struct Row {
  char name[64];
  int64_t step;
  double v;
} Row;

typedef struct Rows {
  Row *r;
  size_t n, cap;
  int fail_at; /* return TR_EDB at this row (1-based); 0: never */
} Rows;

static int rows_add(void *ctx, const char *name, int64_t step, double v) {
  Rows *R = ctx;
  if (R->fail_at && (int)R->n + 1 == R->fail_at) return TR_EDB;
  if (R->n == R->cap) {
    R->cap = R->cap ? R->cap * 2 : 64;
    R->r = realloc(R->r, R->cap * sizeof *R->r);
    cr_assert_not_null(R->r);
  }
  Row *w = &R->r[R->n++];
  snprintf(w->name, sizeof w->name, "%s", name);
  w->step = step;
  w->v = v;
  return 0;
}

/* Parse TEXT fed in CHUNK-byte pieces (0: whole), then finish. */
static SwProto *parse(Rows *R, const char *text, size_t len, size_t chunk) {
  SwProto *p;
  TrErr err = {0};
  cr_assert_eq(sw_proto_new(&p, rows_add, R, &err), TR_OK);
  if (chunk == 0) chunk = len ? len : 1;
  for (size_t at = 0; at < len; at += chunk) {
    size_t n = len - at < chunk ? len - at : chunk;
    cr_assert_eq(sw_proto_feed(p, text + at, n, &err), 0, "%s", err.msg);
  }
  cr_assert_eq(sw_proto_finish(p, &err), 0, "%s", err.msg);
  return p;
}

static SwProto *parse_s(Rows *R, const char *text) { return parse(R, text, strlen(text), 0); }

/* The row named NAME at STEP (asserts there is exactly one). */
static const Row *row_of(const Rows *R, const char *name, int64_t step) {
  const Row *found = NULL;
  for (size_t k = 0; k < R->n; k++)
    if (strcmp(R->r[k].name, name) == 0 && R->r[k].step == step) {
      cr_assert_null(found, "two rows %s at step %lld", name, (long long)step);
      found = &R->r[k];
    }
  cr_assert_not_null(found, "no row %s at step %lld", name, (long long)step);
  return found;
}

static int64_t bad(const SwProto *p, int kind) { return (int64_t)sw_proto_stats(p)->bad[kind]; }

Test(sw_proto, every_numeric_field_is_a_row_at_the_line_step) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"step\": 200, \"val_loss\": 1.93, \"train_loss\": 2.01}\n");
  cr_assert_eq(R.n, 2);
  cr_assert_str_eq(R.r[0].name, "val_loss");
  cr_assert_eq(R.r[0].step, 200);
  cr_assert_eq(R.r[0].v, 1.93);
  cr_assert_eq(row_of(&R, "train_loss", 200)->v, 2.01);
  cr_assert_eq(sw_proto_stats(p)->rows, 2);
  cr_assert_eq(sw_proto_stats(p)->good_lines, 1);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, a_line_without_step_gets_the_previous_step_plus_one_from_zero) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"a\": 1}\n{\"a\": 2}\n{\"step\": 10, \"a\": 3}\n{\"a\": 4}\n"
                           "garbage\n{}\n{\"a\": 6}\n{\"step\": 3, \"a\": 7}\n{\"a\": 8}\n");
  cr_assert_eq(row_of(&R, "a", 0)->v, 1);
  cr_assert_eq(row_of(&R, "a", 1)->v, 2);
  cr_assert_eq(row_of(&R, "a", 10)->v, 3);
  cr_assert_eq(row_of(&R, "a", 11)->v, 4);
  /* a bad line takes no step; an empty object does */
  cr_assert_eq(row_of(&R, "a", 13)->v, 6);
  cr_assert_eq(row_of(&R, "a", 3)->v, 7); /* steps may go back: not reordered */
  cr_assert_eq(row_of(&R, "a", 4)->v, 8);
  cr_assert_eq(sw_proto_next_step(p), 5);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, any_chunking_gives_the_same_rows) {
  const char *text = "{\"step\": 1, \"loss\": 0.5, \"name\": \"caf\\u00e9\"}\r\n\n"
                     "not json\n{\"x\": -1.25e-3, \"y\": NaN}\n{\"z\": 7}";
  size_t len = strlen(text);
  Rows whole = {0};
  SwProto *p0 = parse(&whole, text, len, 0);
  cr_assert_eq(whole.n, 4);
  for (size_t chunk = 1; chunk <= 17; chunk++) {
    Rows R = {0};
    SwProto *p = parse(&R, text, len, chunk);
    cr_assert_eq(R.n, whole.n, "chunk %zu", chunk);
    for (size_t k = 0; k < R.n; k++) {
      cr_assert_str_eq(R.r[k].name, whole.r[k].name);
      cr_assert_eq(R.r[k].step, whole.r[k].step);
      cr_assert(R.r[k].v == whole.r[k].v || (isnan(R.r[k].v) && isnan(whole.r[k].v)));
    }
    cr_assert_eq(sw_proto_stats(p)->lines, 5);
    cr_assert_eq(bad(p, SW_PROTO_BAD_JSON), 1);
    sw_proto_free(p);
    free(R.r);
  }
  sw_proto_free(p0);
  free(whole.r);
}

Test(sw_proto, doubles_round_trip_exactly) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"a\": 0.1, \"b\": 1e-300, \"c\": -0.0, \"d\": 123456789.123456789, "
                           "\"e\": 1.7976931348623157e308, \"f\": 5e-324, \"g\": 2E+3, \"h\": -0}\n");
  cr_assert_eq(row_of(&R, "a", 0)->v, 0.1);
  cr_assert_eq(row_of(&R, "b", 0)->v, 1e-300);
  cr_assert(row_of(&R, "c", 0)->v == 0.0 && signbit(row_of(&R, "c", 0)->v));
  cr_assert_eq(row_of(&R, "d", 0)->v, 123456789.123456789);
  cr_assert_eq(row_of(&R, "e", 0)->v, 1.7976931348623157e308);
  cr_assert_eq(row_of(&R, "f", 0)->v, 5e-324);
  cr_assert_eq(row_of(&R, "g", 0)->v, 2000.0);
  cr_assert(signbit(row_of(&R, "h", 0)->v));
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, python_non_finite_tokens_pass_through) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"n\": NaN, \"i\": Infinity, \"m\": -Infinity, \"big\": 1e400}\n"
                           "{\"bad\": -NaN}\n{\"bad\": nan}\n{\"bad\": inf}\n");
  cr_assert(isnan(row_of(&R, "n", 0)->v));
  cr_assert(isinf(row_of(&R, "i", 0)->v) && row_of(&R, "i", 0)->v > 0);
  cr_assert(isinf(row_of(&R, "m", 0)->v) && row_of(&R, "m", 0)->v < 0);
  cr_assert(isinf(row_of(&R, "big", 0)->v));
  cr_assert_eq(R.n, 4);
  cr_assert_eq(bad(p, SW_PROTO_BAD_JSON), 3);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, malformed_lines_are_counted_and_the_stream_goes_on) {
  const char *lines[] = {"hello", "{", "{\"a\":}", "{\"a\":1,}", "{'a':1}", "{\"a\":01}",
                         "{\"a\": .5}", "{\"a\": 1} x", "{\"a\" 1}", "{\"a\": 1.}", "{\"a\": 1e}",
                         "{\"a\": \"\\x\"}", "{\"a\": tru}", "{\"a\":1}{\"b\":2}", "{\"a\": +1}",
                         "{\"a\": \"\x01\"}", "{\"a\": [1,]}", "{\"a\": \"\\ud800\"}"};
  size_t nl = sizeof lines / sizeof *lines;
  char text[2048] = "";
  for (size_t k = 0; k < nl; k++) {
    strcat(text, lines[k]);
    strcat(text, "\n");
  }
  strcat(text, "[1, 2]\n3\n\"s\"\nnull\n{\"ok\": 1}\n");
  Rows R = {0};
  SwProto *p = parse_s(&R, text);
  cr_assert_eq(bad(p, SW_PROTO_BAD_JSON), (int64_t)nl);
  cr_assert_eq(bad(p, SW_PROTO_BAD_NOT_OBJECT), 4);
  cr_assert_eq(sw_proto_stats(p)->bad_lines, nl + 4);
  cr_assert_eq(R.n, 1);
  cr_assert_eq(row_of(&R, "ok", 0)->v, 1); /* bad lines took no step */
  cr_assert_eq(sw_proto_message_count(p), SW_PROTO_KEEP);
  cr_assert(strncmp(sw_proto_message(p, 0), "line 1: not JSON", 16) == 0, "%s", sw_proto_message(p, 0));
  cr_assert(strncmp(sw_proto_message(p, 2), "line 3: not JSON", 16) == 0);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, non_numeric_values_are_skipped_and_the_rest_kept) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"s\": \"x\", \"t\": true, \"f\": false, \"z\": null, \"arr\": [1, [2]], "
                           "\"obj\": {\"k\": {\"j\": 1}}, \"loss\": 3}\n");
  cr_assert_eq(R.n, 1);
  cr_assert_eq(row_of(&R, "loss", 0)->v, 3);
  cr_assert_eq(bad(p, SW_PROTO_BAD_VALUE), 6);
  cr_assert_eq(sw_proto_stats(p)->bad_lines, 0);
  cr_assert_eq(sw_proto_message_count(p), 1);
  cr_assert_str_eq(sw_proto_message(p, 0), "line 1: value not a number: \"s\": a string");
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, metric_names_are_checked) {
  char text[512];
  char n47[48], n48[49];
  memset(n47, 'a', 47);
  n47[47] = '\0';
  memset(n48, 'b', 48);
  n48[48] = '\0';
  snprintf(text, sizeof text, "{\"%s\": 1, \"%s\": 2, \"\": 3, \"c\\u0001\": 4, \"caf\\u00e9\": 5, "
           "\"\\ud83d\\ude00\": 6, \"x/y.z\": 7}\n", n47, n48);
  Rows R = {0};
  SwProto *p = parse_s(&R, text);
  cr_assert_eq(row_of(&R, n47, 0)->v, 1);
  cr_assert_eq(row_of(&R, "caf\xc3\xa9", 0)->v, 5);
  cr_assert_eq(row_of(&R, "\xf0\x9f\x98\x80", 0)->v, 6);
  cr_assert_eq(row_of(&R, "x/y.z", 0)->v, 7);
  cr_assert_eq(R.n, 4);
  cr_assert_eq(bad(p, SW_PROTO_BAD_NAME), 3);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, step_must_be_an_integer_in_range) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"step\": -1, \"a\": 1}\n{\"step\": 1.5, \"a\": 1}\n{\"step\": \"3\", \"a\": 1}\n"
                           "{\"step\": null, \"a\": 1}\n{\"step\": 9007199254740994, \"a\": 1}\n"
                           "{\"step\": NaN, \"a\": 1}\n{\"step\": 2e2, \"a\": 2}\n"
                           "{\"step\": 9007199254740992, \"a\": 3}\n{\"a\": 4, \"step\": 7}\n");
  cr_assert_eq(bad(p, SW_PROTO_BAD_STEP), 6);
  cr_assert_eq(row_of(&R, "a", 200)->v, 2);
  cr_assert_eq(row_of(&R, "a", 9007199254740992LL)->v, 3);
  cr_assert_eq(row_of(&R, "a", 7)->v, 4); /* "step" anywhere in the object */
  cr_assert_eq(R.n, 3);
  sw_proto_free(p);
  free(R.r);
}

/* Found by tests/fuzz/fuzz_proto: a line without "step" after one at 2^53 got step 2^53 + 1,
** which a double cannot hold. It is a bad step now; an explicit step starts over. */
Test(sw_proto, a_step_implied_past_2_pow_53_is_bad) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"step\": 9007199254740992, \"a\": 1}\n{\"a\": 2}\n{\"a\": 3}\n"
                           "{\"step\": 5, \"a\": 4}\n{\"a\": 5}\n");
  cr_assert_eq(bad(p, SW_PROTO_BAD_STEP), 2);
  cr_assert_eq(row_of(&R, "a", 9007199254740992LL)->v, 1);
  cr_assert_eq(row_of(&R, "a", 6)->v, 5);
  cr_assert_eq(R.n, 3);
  for (size_t k = 0; k < R.n; k++) cr_assert_leq(R.r[k].step, 9007199254740992LL);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, a_repeated_name_keeps_its_last_value) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"a\": 1, \"b\": 2, \"a\": 3, \"a\": 4}\n");
  cr_assert_eq(R.n, 2);
  cr_assert_eq(row_of(&R, "a", 0)->v, 4);
  cr_assert_eq(bad(p, SW_PROTO_BAD_DUP), 2);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, invalid_utf8_skips_the_line) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "{\"a\xff\": 1}\n{\"a\": \"\xc0\x80\"}\n{\"a\": \"\xed\xa0\x80\"}\n"
                           "{\"a\": \"\xf4\x90\x80\x80\"}\n{\"a\": \"\xe2\x82\"}\n{\"ok\": \"\xe2\x82\xac\", \"v\": 1}\n");
  cr_assert_eq(bad(p, SW_PROTO_BAD_UTF8), 5);
  cr_assert_eq(R.n, 1);
  cr_assert_eq(row_of(&R, "v", 0)->v, 1);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, nesting_is_limited_without_deep_recursion) {
  char ok[200], *deep = malloc(200003);
  cr_assert_not_null(deep);
  int n = snprintf(ok, sizeof ok, "{\"v\": ");
  for (int k = 1; k < SW_PROTO_DEPTH_MAX; k++) ok[n++] = '[';
  for (int k = 1; k < SW_PROTO_DEPTH_MAX; k++) ok[n++] = ']';
  snprintf(ok + n, sizeof ok - (size_t)n, ", \"a\": 1}\n");
  n = snprintf(deep, 20, "{\"v\": ");
  for (int k = 0; k < 60000; k++) deep[n++] = '[';
  memcpy(deep + n, "\n{\"b\": 2}\n", 11);
  Rows R = {0};
  SwProto *p = parse_s(&R, ok);
  cr_assert_eq(row_of(&R, "a", 0)->v, 1);
  sw_proto_free(p);
  p = parse_s(&R, deep);
  cr_assert_eq(bad(p, SW_PROTO_BAD_DEPTH), 1);
  cr_assert_eq(row_of(&R, "b", 0)->v, 2);
  sw_proto_free(p);
  free(deep);
  free(R.r);
}

Test(sw_proto, a_line_over_64k_is_skipped_without_being_buffered) {
  /* exactly SW_PROTO_LINE_MAX bytes: parsed; one more: skipped; a 50 MB line fed in
  ** 4 KiB reads: skipped; the next line always parsed. */
  size_t big = 50u << 20;
  char *t = malloc(big + 200);
  cr_assert_not_null(t);
  int n = snprintf(t, 64, "{\"a\": 1, \"pad\": \"");
  size_t fill = SW_PROTO_LINE_MAX - (size_t)n - 2;
  memset(t + n, 'x', fill);
  memcpy(t + n + fill, "\"}\n", 4);
  Rows R = {0};
  SwProto *p = parse(&R, t, strlen(t), 4096);
  cr_assert_eq(row_of(&R, "a", 0)->v, 1);
  cr_assert_eq(bad(p, SW_PROTO_BAD_LONG), 0);
  sw_proto_free(p);
  memcpy(t + n + fill, "x\"}\n{\"b\": 2}\n", sizeof "x\"}\n{\"b\": 2}\n");
  p = parse(&R, t, strlen(t), 4096);
  cr_assert_eq(bad(p, SW_PROTO_BAD_LONG), 1);
  cr_assert_eq(row_of(&R, "b", 0)->v, 2);
  cr_assert_str_eq(sw_proto_message(p, 0), "line 1: line too long: more than 65536 bytes");
  sw_proto_free(p);
  memset(t, 'y', big);
  memcpy(t + big, "\n{\"c\": 3}\n{\"d\": 4}", 19);
  p = parse(&R, t, strlen(t), 4096);
  cr_assert_eq(bad(p, SW_PROTO_BAD_LONG), 1);
  cr_assert_eq(row_of(&R, "c", 0)->v, 3);
  cr_assert_eq(row_of(&R, "d", 1)->v, 4); /* the last line, no newline: parsed at finish */
  cr_assert_eq(sw_proto_stats(p)->lines, 3);
  sw_proto_free(p);
  free(t);
  free(R.r);
}

Test(sw_proto, a_million_bad_lines_are_counted_and_five_kept) {
  const char *unit = "{\"a\": oops}\n[1]\n{\"s\": \"x\"}\n\xff\xfe\n";
  size_t ul = strlen(unit), reps = 250000;
  char *t = malloc(ul * reps + 16);
  cr_assert_not_null(t);
  for (size_t k = 0; k < reps; k++) memcpy(t + k * ul, unit, ul);
  strcpy(t + ul * reps, "{\"end\": 1}\n");
  Rows R = {0};
  SwProto *p = parse(&R, t, strlen(t), 65536);
  const SwProtoStats *st = sw_proto_stats(p);
  cr_assert_eq(st->lines, 4 * reps + 1);
  cr_assert_eq(st->bad_lines, 3 * reps);
  cr_assert_eq(st->bad[SW_PROTO_BAD_JSON], 2 * reps);
  cr_assert_eq(st->bad[SW_PROTO_BAD_NOT_OBJECT], reps);
  cr_assert_eq(st->bad[SW_PROTO_BAD_VALUE], reps);
  cr_assert_eq(sw_proto_message_count(p), SW_PROTO_KEEP);
  cr_assert_eq(R.n, 1);
  cr_assert_eq(row_of(&R, "end", (int64_t)reps)->v, 1); /* each {"s": "x"} took a step */
  sw_proto_free(p);
  free(t);
  free(R.r);
}

Test(sw_proto, blank_and_crlf_lines) {
  Rows R = {0};
  SwProto *p = parse_s(&R, "\n   \r\n\t\n{\"a\": 1}\r\n  {\"b\" : 2 }  \n");
  cr_assert_eq(row_of(&R, "a", 0)->v, 1);
  cr_assert_eq(row_of(&R, "b", 1)->v, 2);
  cr_assert_eq(sw_proto_stats(p)->lines, 5);
  cr_assert_eq(sw_proto_stats(p)->bad_lines, 0);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, a_failing_row_callback_stops_the_feed_with_its_code) {
  Rows R = {.fail_at = 2};
  SwProto *p;
  TrErr err = {0};
  cr_assert_eq(sw_proto_new(&p, rows_add, &R, &err), TR_OK);
  const char *t = "{\"a\": 1, \"b\": 2}\n{\"c\": 3}\n";
  cr_assert_eq(sw_proto_feed(p, t, strlen(t), &err), TR_EDB);
  cr_assert_eq(err.code, TR_EDB);
  cr_assert_eq(R.n, 1);
  R.fail_at = 0;
  cr_assert_eq(sw_proto_feed(p, "{\"d\": 4}\n", 9, &err), 0); /* still usable */
  cr_assert_eq(row_of(&R, "d", 1)->v, 4);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto, random_json_like_bytes_in_random_chunks_are_survived_and_counted) {
  /* Bytes drawn from JSON's alphabet (plus a few invalid ones), a newline every ~40. */
  static const char alpha[] = "{}[]\":,.-+eE0123456789 \t\\ustepNaInfity\x80\xff\xc3\xa9\r";
  size_t len = 2u << 20;
  char *t = malloc(len);
  cr_assert_not_null(t);
  uint64_t x = 88172645463325252ULL, newlines = 0;
  for (size_t k = 0; k < len; k++) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    t[k] = x % 40 == 0 ? '\n' : alpha[(x >> 8) % (sizeof alpha - 1)];
    newlines += t[k] == '\n';
  }
  Rows R = {0};
  SwProto *p;
  TrErr err = {0};
  cr_assert_eq(sw_proto_new(&p, rows_add, &R, &err), TR_OK);
  for (size_t at = 0; at < len;) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    size_t n = 1 + x % 300;
    if (n > len - at) n = len - at;
    cr_assert_eq(sw_proto_feed(p, t + at, n, &err), 0);
    at += n;
  }
  cr_assert_eq(sw_proto_finish(p, &err), 0);
  const SwProtoStats *st = sw_proto_stats(p);
  cr_assert_eq(st->lines, newlines + (t[len - 1] != '\n'));
  cr_assert_eq(st->rows, R.n);
  cr_assert_leq(st->good_lines + st->bad_lines, st->lines);
  cr_assert_gt(st->bad_lines, 0);
  sw_proto_free(p);
  free(t);
  free(R.r);
}

/* ---- clients: a real program writing to a pipe as HPSWEEP_METRICS_FD ---- */

/* python3 present? Skips the test where it is not, except in CI. */
static void need_python(void) {
  if (system("python3 -c pass >/dev/null 2>&1") == 0) return;
  if (getenv("CI")) cr_assert_fail("python3 missing in CI");
  cr_skip_test("python3 not found");
}

/* Run ARGV with its metrics on a pipe at fd 7 (unless NO_FD), PARAMS as
** HPSWEEP_PARAMS_JSON (unless NULL), PYTHONPATH=clients/python, stderr into ERRF.
** Reads the pipe in small reads (chunking) into the parser; returns the exit status. */
static int run_piped(char *const argv[], const char *params, int no_fd, Rows *R, SwProto **out,
                     const char *errf) {
  int fds[2];
  cr_assert_eq(pipe(fds), 0);
  TrErr err = {0};
  cr_assert_eq(sw_proto_new(out, rows_add, R, &err), TR_OK);
  pid_t pid = fork();
  cr_assert_geq(pid, 0);
  if (pid == 0) {
    char pp[PATH_MAX];
    snprintf(pp, sizeof pp, "%s/clients/python", HPS_SOURCE_ROOT);
    setenv("PYTHONPATH", pp, 1);
    setenv("PYTHONDONTWRITEBYTECODE", "1", 1); /* no __pycache__ in the source tree */
    unsetenv("HPSWEEP_PARAMS_FILE");
    if (params) setenv("HPSWEEP_PARAMS_JSON", params, 1);
    else unsetenv("HPSWEEP_PARAMS_JSON");
    close(fds[0]);
    if (no_fd) unsetenv("HPSWEEP_METRICS_FD");
    else {
      dup2(fds[1], 7);
      setenv("HPSWEEP_METRICS_FD", "7", 1);
    }
    if (fds[1] != 7) close(fds[1]);
    int e = open(errf, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (e >= 0) dup2(e, 2);
    execvp(argv[0], argv);
    _exit(127);
  }
  close(fds[1]);
  char buf[7];
  ssize_t n;
  while ((n = read(fds[0], buf, sizeof buf)) != 0) {
    if (n < 0) continue;
    cr_assert_eq(sw_proto_feed(*out, buf, (size_t)n, &err), 0);
  }
  close(fds[0]);
  cr_assert_eq(sw_proto_finish(*out, &err), 0);
  int st;
  cr_assert_eq(waitpid(pid, &st, 0), pid);
  return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

/* Run INTERP (NULL: none) on SCRIPT (relative to the source tree; tests/programs/ when
** it has no '/') with ARGS (NULL-terminated, at most 7; NULL: none), stderr into errtext. */
static int run_script(const char *interp, const char *script, const char *const args[],
                      const char *params, Rows *R, SwProto **p, char *errtext, size_t n) {
  char path[PATH_MAX], dir[64], errf[128];
  snprintf(path, sizeof path, "%s/%s%s", HPS_SOURCE_ROOT, strchr(script, '/') ? "" : "tests/programs/", script);
  hps_tmp_make(dir, sizeof dir, "hps_proto");
  snprintf(errf, sizeof errf, "%s/stderr", dir);
  char *argv[10] = {0};
  int k = 0;
  if (interp) argv[k++] = (char *)interp;
  argv[k++] = path;
  for (int j = 0; args && j < 7 && args[j]; j++) argv[k++] = (char *)args[j];
  int rc = run_piped(argv, params, 0, R, p, errf);
  char *e = hps_slurp(errf, NULL);
  snprintf(errtext, n, "%s", e);
  free(e);
  hps_tmp_remove(dir);
  return rc;
}

static int run_py(const char *script, const char *params, Rows *R, SwProto **p, char *errtext,
                  size_t n) {
  return run_script("python3", script, NULL, params, R, p, errtext, n);
}

Test(sw_proto_clients, the_c_header_writes_exact_protocol_lines) {
  const char *bin = getenv("HPS_PROTO_CLIENT_C");
  cr_assert_not_null(bin, "HPS_PROTO_CLIENT_C unset (meson sets it)");
  char *argv[] = {(char *)bin, NULL};
  Rows R = {0};
  SwProto *p;
  cr_assert_eq(run_piped(argv, NULL, 0, &R, &p, "/dev/null"), 0);
  cr_assert_eq(sw_proto_stats(p)->bad_lines, 0);
  cr_assert_eq(R.n, 9);
  cr_assert_eq(row_of(&R, "loss", 0)->v, 0.1);
  cr_assert_eq(row_of(&R, "acc", 0)->v, 1e-300);
  cr_assert_eq(row_of(&R, "loss", 1)->v, 123456789.123456789);
  cr_assert(signbit(row_of(&R, "neg_zero", 1)->v));
  cr_assert_eq(row_of(&R, "big", 1)->v, 1.7976931348623157e308);
  cr_assert(isnan(row_of(&R, "nan", 200)->v));
  cr_assert(isinf(row_of(&R, "inf", 200)->v) && row_of(&R, "inf", 200)->v > 0);
  cr_assert(isinf(row_of(&R, "minus_inf", 200)->v) && row_of(&R, "minus_inf", 200)->v < 0);
  cr_assert_eq(row_of(&R, "quote\"back\\slash", 200)->v, 5e-324);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_clients, the_c_header_is_a_no_op_without_the_fd) {
  const char *bin = getenv("HPS_PROTO_CLIENT_C");
  cr_assert_not_null(bin);
  char *argv[] = {(char *)bin, NULL};
  Rows R = {0};
  SwProto *p;
  cr_assert_eq(run_piped(argv, NULL, 1, &R, &p, "/dev/null"), 0);
  cr_assert_eq(sw_proto_stats(p)->lines, 0);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_clients, the_python_client_sends_numbers_only) {
  need_python();
  Rows R = {0};
  SwProto *p;
  char err[4096];
  cr_assert_eq(run_py("client_basic.py", NULL, &R, &p, err, sizeof err), 0, "%s", err);
  cr_assert_eq(sw_proto_stats(p)->bad_lines, 0);
  cr_assert_eq(row_of(&R, "loss", 0)->v, 0.1);
  cr_assert_eq(row_of(&R, "acc", 0)->v, 1e-300);
  cr_assert_eq(row_of(&R, "loss", 1)->v, 123456789.123456789);
  cr_assert_eq(row_of(&R, "n", 1)->v, 7);
  cr_assert(isnan(row_of(&R, "loss", 50)->v));
  cr_assert(isinf(row_of(&R, "up", 50)->v) && isinf(row_of(&R, "down", 50)->v));
  cr_assert_eq(row_of(&R, "s", 51)->v, 2.5);
  cr_assert(signbit(row_of(&R, "loss", 300)->v));
  cr_assert_eq(R.n, 9);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_clients, the_wandb_shim_runs_an_unmodified_script) {
  need_python();
  Rows R = {0};
  SwProto *p;
  char err[4096];
  int rc = run_py("shim_basic.py", "{\"lr\": 0.01, \"layers\": 4}", &R, &p, err, sizeof err);
  cr_assert_eq(rc, 0, "%s", err);
  cr_assert_eq(sw_proto_stats(p)->bad_lines, 0);
  /* config merge: the sweep's values win over config= */
  cr_assert_eq(row_of(&R, "cfg_lr", 0)->v, 0.01);
  cr_assert_eq(row_of(&R, "cfg_layers", 0)->v, 4);
  cr_assert_eq(row_of(&R, "cfg_epochs", 0)->v, 3);
  /* commit=False joins the next committed step */
  cr_assert_eq(row_of(&R, "train_loss", 1)->v, 2.0);
  cr_assert_eq(row_of(&R, "val_loss", 1)->v, 1.5);
  /* explicit steps; a smaller one is ignored with a warning */
  cr_assert_eq(row_of(&R, "val_loss", 5)->v, 1.0);
  cr_assert_eq(row_of(&R, "nested.acc", 5)->v, 0.5);
  cr_assert_eq(row_of(&R, "train_loss", 5)->v, 1.2);
  cr_assert_eq(row_of(&R, "val_loss", 6)->v, 1.25);
  cr_assert(isnan(row_of(&R, "val_loss", 8)->v));
  cr_assert_eq(row_of(&R, "lr_now", 9)->v, 0.001);
  /* a summary written by the script arrives at finish, at the next step */
  cr_assert_eq(row_of(&R, "best_acc", 10)->v, 0.75);
  cr_assert_eq(R.n, 12);
  cr_assert(strstr(err, "less than the current step 6"), "%s", err);
  cr_assert(strstr(err, "config item 'lr' is set by the sweep"), "%s", err);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_clients, wandb_calls_the_shim_does_not_implement_are_noticed_once) {
  need_python();
  Rows R = {0};
  SwProto *p;
  char err[8192];
  cr_assert_eq(run_py("shim_noop.py", NULL, &R, &p, err, sizeof err), 0, "%s", err);
  cr_assert_eq(R.n, 1);
  cr_assert_eq(row_of(&R, "loss", 0)->v, 0.5);
  cr_assert_eq(hps_count(err, "wandb.watch is a no-op"), 1, "%s", err);
  cr_assert_eq(hps_count(err, "wandb.Table is a no-op"), 1, "%s", err);
  cr_assert_eq(hps_count(err, "wandb.Artifact is a no-op"), 1);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_clients, the_wandb_shim_unit_tests_pass) {
  need_python();
  Rows R = {0};
  SwProto *p;
  char err[8192];
  cr_assert_eq(run_py("shim_unittest.py", NULL, &R, &p, err, sizeof err), 0, "%s", err);
  cr_assert(strstr(err, "OK"), "%s", err);
  sw_proto_free(p);
  free(R.r);
}

/* ---- examples/: each reports what its comment says ---- */

Test(sw_proto_examples, branin_reports_its_known_minimum) {
  need_python();
  const char *args[] = {"--x1=3.141592653589793", "--x2=2.275", NULL};
  Rows R = {0};
  SwProto *p;
  char err[4096];
  cr_assert_eq(run_script("python3", "examples/analytic/branin.py", args, NULL, &R, &p, err, sizeof err), 0, "%s", err);
  cr_assert_float_eq(row_of(&R, "loss", 0)->v, 0.397887, 1e-6);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_examples, hartmann6_reports_its_known_minimum) {
  need_python();
  const char *args[] = {"--x1=0.20169", "--x2=0.150011", "--x3=0.476874", "--x4=0.275332",
                        "--x5=0.311652", "--x6=0.6573", NULL};
  Rows R = {0};
  SwProto *p;
  char err[4096];
  cr_assert_eq(run_script("python3", "examples/analytic/hartmann6.py", args, NULL, &R, &p, err, sizeof err), 0, "%s", err);
  cr_assert_float_eq(row_of(&R, "loss", 0)->v, -3.32237, 1e-5);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_examples, noisy_quadratic_is_seeded_and_best_near_3e_3) {
  need_python();
  double finals[3];
  const char *lrs[3] = {"--lr=0.003", "--lr=0.0003", "--lr=0.003"};
  const char *seeds[3] = {"--seed=4", "--seed=4", "--seed=4"};
  for (int k = 0; k < 3; k++) {
    const char *args[] = {lrs[k], seeds[k], "--steps=20", NULL};
    Rows R = {0};
    SwProto *p;
    char err[4096];
    cr_assert_eq(run_script("python3", "examples/analytic/noisy_quadratic.py", args, NULL, &R, &p, err,
                            sizeof err), 0, "%s", err);
    cr_assert_eq(R.n, 20);
    finals[k] = row_of(&R, "val_loss", 19)->v;
    sw_proto_free(p);
    free(R.r);
  }
  cr_assert_eq(finals[0], finals[2]); /* same seed, same curve */
  cr_assert_lt(finals[0], finals[1]);
}

Test(sw_proto_examples, the_shell_example_reports_with_printf) {
  const char *args[] = {"--x=0", "--lr=0.25", "--steps=3", NULL};
  Rows R = {0};
  SwProto *p;
  char err[4096];
  cr_assert_eq(run_script("sh", "examples/shell/report.sh", args, NULL, &R, &p, err, sizeof err), 0, "%s", err);
  cr_assert_eq(sw_proto_stats(p)->bad_lines, 0);
  cr_assert_eq(row_of(&R, "loss", 0)->v, 4);
  cr_assert_eq(row_of(&R, "loss", 2)->v, 0.25);
  cr_assert_eq(row_of(&R, "x", 2)->v, 1.5);
  sw_proto_free(p);
  free(R.r);
}

Test(sw_proto_examples, the_c_example_converges_below_lr_0_1_and_diverges_above) {
  const char *bin = getenv("HPS_EXAMPLE_QUADRATIC");
  cr_assert_not_null(bin, "HPS_EXAMPLE_QUADRATIC unset (meson sets it)");
  const char *lrs[2] = {"--lr=0.05", "--lr=0.2"};
  double last[2];
  for (int k = 0; k < 2; k++) {
    char *argv[] = {(char *)bin, (char *)lrs[k], "--steps=400", NULL};
    Rows R = {0};
    SwProto *p;
    cr_assert_eq(run_piped(argv, NULL, 0, &R, &p, "/dev/null"), 0);
    cr_assert_eq(R.n, 400);
    cr_assert_eq(row_of(&R, "loss", 0)->v, 41);
    last[k] = row_of(&R, "loss", 399)->v;
    sw_proto_free(p);
    free(R.r);
  }
  cr_assert_lt(last[0], 1e-12);
  cr_assert(isinf(last[1]) || isnan(last[1]), "%g", last[1]);
}
