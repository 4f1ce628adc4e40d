#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tr_data.h"

/* ---- helpers --------------------------------------------------------------- */

static char tmpdir[256];
static int nfiles;

static void tmp_setup(void) {
  snprintf(tmpdir, sizeof tmpdir, "/tmp/test_tr_data_XXXXXX");
  cr_assert_not_null(mkdtemp(tmpdir));
  nfiles = 0;
}

static void tmp_teardown(void) {
  char p[512];
  for (int i = 0; i < nfiles; i++) {
    snprintf(p, sizeof p, "%s/f%d.txt", tmpdir, i);
    unlink(p);
  }
  rmdir(tmpdir);
}

/* Write n bytes to a new temp file; returns its path (static storage per call). */
static const char *tmp_file(const void *data, size_t n) {
  static char paths[16][512];
  char *p = paths[nfiles % 16];
  snprintf(p, 512, "%s/f%d.txt", tmpdir, nfiles++);
  FILE *f = fopen(p, "wb");
  cr_assert_not_null(f);
  cr_assert_eq(fwrite(data, 1, n, f), n);
  fclose(f);
  return p;
}

static TrDataConfig cfg_file(const char *path, int tok) {
  TrDataConfig c;
  memset(&c, 0, sizeof c);
  snprintf(c.path, sizeof c.path, "%s", path);
  c.tokenizer = tok;
  c.val_fraction = 0.1;
  return c;
}

static TrDataConfig cfg_syn(int64_t seed, int64_t bytes, int words, int branching) {
  TrDataConfig c;
  memset(&c, 0, sizeof c);
  c.tokenizer = TR_TOK_BYTE;
  c.val_fraction = 0.1;
  c.synthetic_seed = seed;
  c.synthetic_bytes = bytes;
  c.synthetic_words = words;
  c.synthetic_branching = branching;
  return c;
}

static TrData *make(const TrDataConfig *c, int ctx) {
  TrData *d = NULL;
  TrErr e = {0};
  int rc = tr_data_create(&d, c, ctx, &e);
  cr_assert_eq(rc, TR_OK, "create failed: %s", e.msg);
  return d;
}

/* The error message of a create that must fail with code. */
static const char *fail(const TrDataConfig *c, int ctx, int code) {
  static TrErr e;
  TrData *d = NULL;
  tr_err_clear(&e);
  int rc = tr_data_create(&d, c, ctx, &e);
  cr_assert_eq(rc, code, "expected code %d, got %d (%s)", code, rc, e.msg);
  cr_assert_null(d);
  cr_assert(strlen(e.msg) > 0 && strchr(e.msg, '\n') == NULL, "one-line message: '%s'", e.msg);
  return e.msg;
}

enum { ALL_TOKENS = -1 };

/* A split's tokens (ALL_TOKENS: train then validation) widened to int; caller frees. */
static int *tokens_of(const TrData *d, int split, size_t *n) {
  size_t nt = tr_data_split_size(d, TR_SPLIT_TRAIN), nv = tr_data_split_size(d, TR_SPLIT_VAL);
  size_t m = split == ALL_TOKENS ? nt + nv : tr_data_split_size(d, split);
  int *t = malloc((m + 1) * sizeof *t);
  cr_assert_not_null(t);
  if (split == ALL_TOKENS) {
    cr_assert_eq(tr_data_tokens_copy(d, TR_SPLIT_TRAIN, 0, nt, t), TR_OK);
    cr_assert_eq(tr_data_tokens_copy(d, TR_SPLIT_VAL, 0, nv, t + nt), TR_OK);
  } else {
    cr_assert_eq(tr_data_tokens_copy(d, split, 0, m, t), TR_OK);
  }
  if (n) *n = m;
  return t;
}

/* Decoded split text (caller frees). */
static char *split_text(const TrData *d, int split, size_t *len) {
  size_t n;
  int *t = tokens_of(d, split, &n);
  size_t m = tr_data_decode(d, t, n, NULL, 0);
  char *s = malloc(m + 1);
  cr_assert_eq(tr_data_decode(d, t, n, s, m), m);
  s[m] = '\0';
  *len = m;
  free(t);
  return s;
}

/* ---- tokenisation ------------------------------------------------------------ */

TestSuite(tr_data, .init = tmp_setup, .fini = tmp_teardown);

Test(tr_data, byte_tokens_are_bytes_and_round_trip_any_bytes) {
  unsigned char raw[600];
  for (int i = 0; i < 600; i++) raw[i] = (unsigned char)(i * 7 + 3);
  TrDataConfig c = cfg_file(tmp_file(raw, sizeof raw), TR_TOK_BYTE);
  TrData *d = make(&c, 8);
  cr_assert_eq(tr_data_vocab_size(d), 256);
  cr_assert_eq(tr_data_split_size(d, TR_SPLIT_TRAIN), 540);
  cr_assert_eq(tr_data_split_size(d, TR_SPLIT_VAL), 60);
  size_t n;
  int *t = tokens_of(d, ALL_TOKENS, &n);
  for (int i = 0; i < 600; i++) cr_assert_eq(t[i], raw[i]); /* val follows train */
  free(t);
  const char s[] = "h\xc3\xa9llo \xff\xfe w\xf0\x9f\x98\x80";  /* UTF-8 and junk alike */
  int tok[64];
  cr_assert_eq(tr_data_encode(d, s, sizeof s - 1, tok, 64, &n, NULL), TR_OK);
  cr_assert_eq(n, sizeof s - 1);
  char back[64];
  cr_assert_eq(tr_data_decode(d, tok, n, back, sizeof back), n);
  cr_assert_eq(memcmp(back, s, n), 0);
  tr_data_destroy(d);
}

Test(tr_data, char_vocab_is_sorted_distinct_code_points_multibyte_one_token) {
  /* é U+00E9, — U+2014, 日 U+65E5, 😀 U+1F600 */
  const char line[] = "ab\xc3\xa9 \xe2\x80\x94 \xe6\x97\xa5\xf0\x9f\x98\x80 ba\n";
  char text[4096] = "";
  for (int i = 0; i < 60; i++) strcat(text, line);
  TrDataConfig c = cfg_file(tmp_file(text, strlen(text)), TR_TOK_CHAR);
  TrData *d = make(&c, 8);
  /* distinct: \n ' ' a b é — 日 😀 = 8, sorted by code point */
  cr_assert_eq(tr_data_vocab_size(d), 8);
  size_t n;
  int tok[64];
  cr_assert_eq(tr_data_encode(d, line, sizeof line - 1, tok, 64, &n, NULL), TR_OK);
  cr_assert_eq(n, 12, "12 characters, got %zu tokens", n);
  const int exp[12] = {2, 3, 4, 1, 5, 1, 6, 7, 1, 3, 2, 0};
  for (int i = 0; i < 12; i++) cr_assert_eq(tok[i], exp[i], "token %d: %d != %d", i, tok[i], exp[i]);
  char back[64];
  size_t m = tr_data_decode(d, tok, n, back, sizeof back);
  cr_assert_eq(m, sizeof line - 1);
  cr_assert_eq(memcmp(back, line, m), 0);
  /* tokens of the file are one per character */
  cr_assert_eq(tr_data_split_size(d, TR_SPLIT_TRAIN) + tr_data_split_size(d, TR_SPLIT_VAL), 60 * 12);
  /* decoding one token gives that character's UTF-8 */
  int smile = 7;
  cr_assert_eq(tr_data_decode(d, &smile, 1, back, sizeof back), 4);
  cr_assert_eq(memcmp(back, "\xf0\x9f\x98\x80", 4), 0);
  tr_data_destroy(d);
}

Test(tr_data, char_encode_rejects_unknown_character_and_bad_utf8) {
  char text[400];
  for (int i = 0; i < 399; i++) text[i] = "abc \n"[i % 5];
  text[399] = '\n';
  TrDataConfig c = cfg_file(tmp_file(text, sizeof text), TR_TOK_CHAR);
  TrData *d = make(&c, 8);
  cr_assert_eq(tr_data_vocab_size(d), 5);
  int tok[16];
  size_t n;
  TrErr e = {0};
  cr_assert_eq(tr_data_encode(d, "abz", 3, tok, 16, &n, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, "U+007A") && strstr(e.msg, "offset 2"), "%s", e.msg);
  cr_assert_eq(tr_data_encode(d, "a\r", 2, tok, 16, &n, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, "U+000D") && !strchr(e.msg, '\r'), "%s", e.msg);
  cr_assert_eq(tr_data_encode(d, "ab\xc3", 3, tok, 16, &n, &e), TR_EINVAL);
  cr_assert(strstr(e.msg, "invalid UTF-8") && strstr(e.msg, "offset 2"), "%s", e.msg);
  /* cap 0 measures */
  cr_assert_eq(tr_data_encode(d, "abc", 3, NULL, 0, &n, NULL), TR_OK);
  cr_assert_eq(n, 3);
  tr_data_destroy(d);
}

Test(tr_data, vocab_serialises_and_restores) {
  const char line[] = "x\xc3\xa9y \xe6\x97\xa5\n";
  char text[2000] = "";
  for (int i = 0; i < 100; i++) strcat(text, line);
  TrDataConfig c = cfg_file(tmp_file(text, strlen(text)), TR_TOK_CHAR);
  TrData *d = make(&c, 8);
  const TrVocab *v = tr_data_vocab(d);
  size_t need = tr_vocab_to_bytes(v, NULL, 0);
  cr_assert_eq(need, 20 + 4 * 6);
  unsigned char buf[64];
  cr_assert_eq(tr_vocab_to_bytes(v, buf, sizeof buf), need);
  TrVocab *w = NULL;
  TrErr e = {0};
  cr_assert_eq(tr_vocab_from_bytes(&w, buf, need, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(tr_vocab_size(w), 6);
  cr_assert_eq(tr_vocab_kind(w), TR_TOK_CHAR);
  int a[16], b[16];
  size_t na, nb;
  cr_assert_eq(tr_vocab_encode(v, line, sizeof line - 1, a, 16, &na, NULL), TR_OK);
  cr_assert_eq(tr_vocab_encode(w, line, sizeof line - 1, b, 16, &nb, NULL), TR_OK);
  cr_assert_eq(na, nb);
  cr_assert_eq(memcmp(a, b, na * sizeof *a), 0);
  tr_vocab_destroy(w);

  /* corruption is a format error, never a crash */
  unsigned char bad[64];
  memcpy(bad, buf, need);
  bad[0] = 'X';
  cr_assert_eq(tr_vocab_from_bytes(&w, bad, need, &e), TR_EFORMAT);
  cr_assert(strstr(e.msg, "magic"), "%s", e.msg);
  cr_assert_eq(tr_vocab_from_bytes(&w, buf, need - 1, &e), TR_EFORMAT);
  memcpy(bad, buf, need);
  bad[8] = 9; /* version */
  cr_assert_eq(tr_vocab_from_bytes(&w, bad, need, &e), TR_EFORMAT);
  cr_assert(strstr(e.msg, "version"), "%s", e.msg);
  memcpy(bad, buf, need);
  memcpy(bad + 24, buf + 20, 4); /* entry 1 = entry 0: not ascending */
  cr_assert_eq(tr_vocab_from_bytes(&w, bad, need, &e), TR_EFORMAT);
  cr_assert_null(w);

  /* a byte vocabulary is just the header */
  TrDataConfig s = cfg_syn(1, 5000, 20, 4);
  TrData *sd = make(&s, 8);
  cr_assert_eq(tr_vocab_to_bytes(tr_data_vocab(sd), buf, sizeof buf), 20);
  cr_assert_eq(tr_vocab_from_bytes(&w, buf, 20, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(tr_vocab_size(w), 256);
  tr_vocab_destroy(w);
  tr_data_destroy(sd);
  tr_data_destroy(d);
}

Test(tr_data, tiny_shakespeare_char_vocab_65_and_nanogpt_split) {
  const char *root = getenv("HPS_SOURCE_ROOT");
  char path[1024];
  snprintf(path, sizeof path, "%s/../shared/data/tinyshakespeare.txt", root ? root : HPS_SOURCE_ROOT);
  if (access(path, R_OK) != 0) cr_skip("no %s", path);
  TrDataConfig c = cfg_file(path, TR_TOK_CHAR);
  TrData *d = make(&c, 256);
  cr_assert_eq(tr_data_vocab_size(d), 65);
  cr_assert_eq(tr_data_split_size(d, TR_SPLIT_TRAIN), 1003854); /* nanoGPT's numbers */
  cr_assert_eq(tr_data_split_size(d, TR_SPLIT_VAL), 111540);
  int t[3];
  size_t n;
  cr_assert_eq(tr_data_encode(d, "\n A", 3, t, 3, &n, NULL), TR_OK);
  cr_assert(t[0] == 0 && t[1] == 1 && t[2] == 13, "%d %d %d", t[0], t[1], t[2]);
  cr_assert(isnan(tr_data_entropy_rate(d)));
  /* validity of words against the training text */
  const char good[] = "x the king and queen x";
  int units;
  cr_assert_float_eq(tr_data_valid_fraction(d, good, sizeof good - 1, &units), 1.0, 1e-12);
  cr_assert_eq(units, 4, "first and last runs may be cut: %d", units);
  const char mixed[] = " the qzxv and blorpt ";
  cr_assert_float_eq(tr_data_valid_fraction(d, mixed, sizeof mixed - 1, &units), 0.5, 1e-12);
  cr_assert_eq(units, 4);
  tr_data_destroy(d);
}

/* ---- errors ------------------------------------------------------------------- */

Test(tr_data, missing_file_names_path_and_strerror) {
  char p[512];
  snprintf(p, sizeof p, "%s/nope.txt", tmpdir);
  TrDataConfig c = cfg_file(p, TR_TOK_BYTE);
  const char *m = fail(&c, 8, TR_EIO);
  cr_assert(strstr(m, p) && strstr(m, "No such file or directory"), "%s", m);
}

Test(tr_data, empty_file_is_an_error) {
  TrDataConfig c = cfg_file(tmp_file("", 0), TR_TOK_CHAR);
  const char *m = fail(&c, 8, TR_EFORMAT);
  cr_assert(strstr(m, c.path) && strstr(m, "empty"), "%s", m);
}

Test(tr_data, too_short_says_the_numbers) {
  char text[100];
  memset(text, 'a', sizeof text);
  TrDataConfig c = cfg_file(tmp_file(text, sizeof text), TR_TOK_BYTE);
  /* 100 tokens: 90 train, 10 val; context 16 needs 17 in each */
  const char *m = fail(&c, 16, TR_EINVAL);
  cr_assert(strstr(m, c.path) && strstr(m, "too short"), "%s", m);
  cr_assert(strstr(m, "100 tokens") && strstr(m, "90 train") && strstr(m, "10 validation") &&
                strstr(m, "= 17"),
            "%s", m);
  /* 9 is enough for context 8 */
  TrData *d = make(&c, 8);
  tr_data_destroy(d);
  /* the synthetic corpus is checked the same way */
  TrDataConfig s = cfg_syn(1, 50, 20, 4);
  m = fail(&s, 16, TR_EINVAL);
  cr_assert(strstr(m, "synthetic") && strstr(m, "data.synthetic_bytes 50") && strstr(m, "too short"),
            "%s", m);
}

Test(tr_data, bad_utf8_names_the_byte_offset) {
  char text[200];
  memset(text, 'a', sizeof text);
  text[123] = (char)0xC3; /* lead byte followed by ASCII */
  TrDataConfig c = cfg_file(tmp_file(text, sizeof text), TR_TOK_CHAR);
  const char *m = fail(&c, 8, TR_EFORMAT);
  cr_assert(strstr(m, c.path) && strstr(m, "invalid UTF-8") && strstr(m, "offset 123"), "%s", m);
  /* overlong, surrogate and truncated sequences too; bytes mode accepts all */
  const char *bad[] = {"\xc0\xaf", "\xed\xa0\x80", "\xf0\x9f\x98"};
  for (int i = 0; i < 3; i++) {
    memset(text, 'a', sizeof text);
    memcpy(text + 190, bad[i], strlen(bad[i]));
    c = cfg_file(tmp_file(text, 190 + strlen(bad[i])), TR_TOK_CHAR);
    m = fail(&c, 8, TR_EFORMAT);
    cr_assert(strstr(m, "offset 190"), "case %d: %s", i, m);
    c.tokenizer = TR_TOK_BYTE;
    TrData *d = make(&c, 8);
    tr_data_destroy(d);
  }
}

Test(tr_data, val_fraction_outside_0_1_is_rejected) {
  TrDataConfig c = cfg_syn(1, 5000, 20, 4);
  double bad[] = {0.0, 1.0, -0.1, 1.5, NAN};
  for (int i = 0; i < 5; i++) {
    c.val_fraction = bad[i];
    const char *m = fail(&c, 8, TR_EINVAL);
    cr_assert(strstr(m, "data.val_fraction"), "%s", m);
  }
}

/* ---- the synthetic corpus ------------------------------------------------------ */

Test(tr_data, synthetic_is_deterministic_per_seed) {
  TrDataConfig c = cfg_syn(7, 20000, 200, 64);
  TrData *a = make(&c, 32), *b = make(&c, 32);
  c.synthetic_seed = 8;
  TrData *o = make(&c, 32);
  size_t na = tr_data_split_size(a, TR_SPLIT_TRAIN), nb = tr_data_split_size(b, TR_SPLIT_TRAIN);
  int *ta = tokens_of(a, ALL_TOKENS, NULL), *tb = tokens_of(b, ALL_TOKENS, NULL);
  int *to = tokens_of(o, ALL_TOKENS, NULL);
  cr_assert_eq(na, 18000);
  cr_assert_eq(na, nb);
  cr_assert_eq(memcmp(ta, tb, (na + 2000) * sizeof *ta), 0, "same seed, same bytes");
  cr_assert_neq(memcmp(ta, to, na * sizeof *ta), 0, "other seed, other bytes");
  cr_assert_eq(tr_data_entropy_rate(a), tr_data_entropy_rate(b));
  cr_assert_neq(tr_data_entropy_rate(a), tr_data_entropy_rate(o));
  /* it looks like sentences: lowercase words, " .\n" ends */
  for (size_t i = 0; i < na; i++)
    cr_assert((ta[i] >= 'a' && ta[i] <= 'z') || ta[i] == ' ' || ta[i] == '.' || ta[i] == '\n');
  cr_assert_eq(ta[0] == ' ' || ta[0] == '.', 0, "text starts with a word");
  free(ta);
  free(tb);
  free(to);
  tr_data_destroy(a);
  tr_data_destroy(b);
  tr_data_destroy(o);
}

Test(tr_data, entropy_rate_matches_empirical_nll_of_a_long_sample) {
  int W[] = {200, 50, 1000}, Bf[] = {64, 6, 16};
  for (int k = 0; k < 3; k++) {
    TrDataConfig c = cfg_syn(3 + k, 2000000, W[k], Bf[k]);
    TrData *d = make(&c, 64);
    double rate = tr_data_entropy_rate(d);
    size_t len;
    char *s = split_text(d, TR_SPLIT_TRAIN, &len);
    double nll = tr_data_source_nll(d, s, len);
    cr_assert(rate > 0.3 && rate < 2.0, "rate %g", rate);
    cr_assert(fabs(nll - rate) < 0.01 * rate, "W %d b %d: rate %.4f vs empirical %.4f", W[k], Bf[k],
              rate, nll);
    free(s);
    tr_data_destroy(d);
  }
}

Test(tr_data, default_like_corpus_entropy_rate_about_one_nat_per_byte) {
  TrDataConfig c = cfg_syn(1337, 100000, 200, 64);
  TrData *d = make(&c, 64);
  double r = tr_data_entropy_rate(d);
  cr_assert(r > 0.9 && r < 1.15, "rate %g", r);
  /* the char tokenizer on ASCII text: same rate per token, vocab of the letters seen */
  c.tokenizer = TR_TOK_CHAR;
  TrData *e = make(&c, 64);
  cr_assert_eq(tr_data_entropy_rate(e), r);
  cr_assert(tr_data_vocab_size(e) <= 24 + 3 && tr_data_vocab_size(e) > 10, "%d",
            tr_data_vocab_size(e));
  tr_data_destroy(e);
  tr_data_destroy(d);
}

Test(tr_data, validity_accepts_source_text_and_rejects_corruption) {
  TrDataConfig c = cfg_syn(11, 200000, 200, 6);
  TrData *d = make(&c, 64);
  size_t len;
  char *s = split_text(d, TR_SPLIT_VAL, &len);
  int units;
  cr_assert_float_eq(tr_data_valid_fraction(d, s, len, &units), 1.0, 1e-12);
  cr_assert(units > 100, "%d sentences", units);
  cr_assert(isfinite(tr_data_source_nll(d, s, len)));

  /* Reverse the words of every sentence: with 6 successors out of 200 words
  ** almost no reversed sentence of 3+ words is allowed. */
  char *r = malloc(len + 1);
  memcpy(r, s, len);
  const char *nl = memchr(s, '\n', len);
  size_t i = (size_t)(nl - s) + 1;
  while (i < len) {
    const char *e = memchr(s + i, '\n', len - i);
    if (!e) break;
    size_t end = (size_t)(e - s) + 1, body = end - 2 - i; /* words with their spaces */
    size_t o = i;
    for (size_t j = i + body; j > i;) { /* copy words back to front */
      size_t w_end = j - 1, w = w_end;   /* s[w_end] is the space */
      while (w > i && s[w - 1] != ' ') w--;
      memcpy(r + o, s + w, j - w);
      o += j - w;
      j = w;
    }
    i = end;
  }
  int ru;
  double fr = tr_data_valid_fraction(d, r, len, &ru);
  cr_assert_eq(ru, units);
  cr_assert(fr < 0.5, "reversed sentences judged valid: %g", fr);
  cr_assert(isinf(tr_data_source_nll(d, r, len)));

  /* One unknown word ('q' is not in the alphabet) spoils exactly its sentence. */
  memcpy(r, s, len);
  size_t at = (size_t)(nl - s) + 1; /* the first judged sentence starts here */
  r[at] = 'q';
  cr_assert_float_eq(tr_data_valid_fraction(d, r, len, &ru), (units - 1.0) / units, 1e-12);
  /* a double space: invalid too */
  memcpy(r, s, len);
  size_t sp = at;
  while (r[sp] != ' ') sp++;
  memmove(r + sp + 1, r + sp, len - sp - 1); /* "ka  lo" (text shifts by one byte) */
  double f2 = tr_data_valid_fraction(d, r, len, &ru);
  cr_assert(f2 < 1.0, "double space accepted");
  cr_assert(isnan(tr_data_valid_fraction(d, "ka lo", 5, &ru)) && ru == 0);
  free(r);
  free(s);
  tr_data_destroy(d);
}

/* ---- batches ------------------------------------------------------------------- */

Test(tr_data, batches_are_windows_in_range_targets_shift_by_one) {
  TrDataConfig c = cfg_syn(5, 50000, 200, 64);
  c.tokenizer = TR_TOK_CHAR;
  TrData *d = make(&c, 32);
  enum { B = 8, T = 32 };
  int x[B * T], y[B * T], x2[B * T], y2[B * T];
  TrRng r1, r2, probe;
  tr_rng_seed(&r1, 42);
  r2 = r1;
  probe = r1;
  size_t n;
  int *tr = tokens_of(d, TR_SPLIT_TRAIN, &n);
  cr_assert_eq(tr_data_batch(d, TR_SPLIT_TRAIN, &r1, B, T, x, y), TR_OK);
  cr_assert_eq(tr_data_batch(d, TR_SPLIT_TRAIN, &r2, B, T, x2, y2), TR_OK);
  cr_assert_eq(memcmp(x, x2, sizeof x), 0);
  cr_assert_eq(memcmp(y, y2, sizeof y), 0);
  cr_assert_eq(memcmp(&r1, &r2, sizeof r1), 0);
  int V = tr_data_vocab_size(d);
  for (int b = 0; b < B; b++) {
    size_t start = (size_t)tr_rng_below(&probe, n - T); /* the documented draw */
    cr_assert_eq(memcmp(x + b * T, tr + start, T * sizeof *x), 0, "row %d", b);
    for (int t = 0; t < T; t++) {
      cr_assert(x[b * T + t] >= 0 && x[b * T + t] < V);
      if (t + 1 < T) cr_assert_eq(y[b * T + t], x[b * T + t + 1]);
    }
    cr_assert_eq(y[b * T + T - 1], tr[start + T]);
  }
  /* the next batch differs; too-long windows and bad splits are refused */
  cr_assert_eq(tr_data_batch(d, TR_SPLIT_VAL, &r1, B, T, x2, y2), TR_OK);
  cr_assert_neq(memcmp(x, x2, sizeof x), 0);
  size_t nv = tr_data_split_size(d, TR_SPLIT_VAL);
  int *big = malloc((nv + 1) * sizeof *big), *bigy = malloc((nv + 1) * sizeof *bigy);
  cr_assert_eq(tr_data_batch(d, TR_SPLIT_VAL, &r1, 1, (int)nv, big, bigy), TR_EINVAL);
  cr_assert_eq(tr_data_batch(d, TR_SPLIT_VAL, &r1, 1, (int)nv - 1, big, bigy), TR_OK);
  cr_assert_eq(tr_data_batch(d, 2, &r1, 1, 4, big, bigy), TR_EINVAL);
  free(big);
  free(bigy);
  free(tr);
  tr_data_destroy(d);
}

Test(tr_data, eval_batches_are_fixed_and_prefix_stable) {
  TrDataConfig c = cfg_syn(5, 50000, 200, 64);
  TrData *d = make(&c, 16);
  enum { NB = 4, B = 3, T = 16 };
  int x[NB * B * T], y[NB * B * T], x2[NB * B * T], y2[NB * B * T];
  cr_assert_eq(tr_data_eval_batches(d, 99, NB, B, T, x, y), TR_OK);
  cr_assert_eq(tr_data_eval_batches(d, 99, NB, B, T, x2, y2), TR_OK);
  cr_assert_eq(memcmp(x, x2, sizeof x), 0);
  cr_assert_eq(memcmp(y, y2, sizeof y), 0);
  /* two batches of 6 rows are the same 12 windows; window i is independent of n */
  cr_assert_eq(tr_data_eval_batches(d, 99, 2, 2 * B, T, x2, y2), TR_OK);
  cr_assert_eq(memcmp(x, x2, sizeof x), 0);
  cr_assert_eq(tr_data_eval_batches(d, 99, 1, B, T, x2, y2), TR_OK);
  cr_assert_eq(memcmp(x, x2, B * T * sizeof *x), 0);
  /* windows come from the validation split */
  size_t nv;
  int *v = tokens_of(d, TR_SPLIT_VAL, &nv);
  for (int r = 0; r < NB * B; r++) {
    int found = 0;
    for (size_t s = 0; s + T < nv + 1 && !found; s++)
      found = memcmp(v + s, x + r * T, T * sizeof *x) == 0;
    cr_assert(found, "row %d not in the validation split", r);
  }
  free(v);
  /* another seed, other windows */
  cr_assert_eq(tr_data_eval_batches(d, 100, NB, B, T, x2, y2), TR_OK);
  cr_assert_neq(memcmp(x, x2, sizeof x), 0);
  tr_data_destroy(d);
}

Test(tr_data, text_validity_counts_whole_generated_words_of_the_training_text) {
  char text[3000] = "";
  for (int i = 0; i < 60; i++) strcat(text, "The king's horse ran home.\n");
  strcat(text, "zebra unicorn\n"); /* only in the validation split */
  TrDataConfig c = cfg_file(tmp_file(text, strlen(text)), TR_TOK_BYTE);
  TrData *d = make(&c, 16);
  cr_assert_str_eq(tr_data_name(d), c.path);
  int units;
  const char s1[] = "ki king horse ran s zebra ho"; /* "ki", "ho" may be cut: skipped */
  cr_assert_float_eq(tr_data_valid_fraction(d, s1, sizeof s1 - 1, &units), 0.8, 1e-12);
  cr_assert_eq(units, 5, "king horse ran s (from king's) zebra: %d", units);
  const char s2[] = ".King horse.";                    /* case-sensitive */
  cr_assert_float_eq(tr_data_valid_fraction(d, s2, sizeof s2 - 1, &units), 0.5, 1e-12);
  cr_assert_eq(units, 2);
  cr_assert(isnan(tr_data_valid_fraction(d, "horse", 5, &units)) && units == 0);
  cr_assert(isnan(tr_data_source_nll(d, s1, sizeof s1 - 1)));
  tr_data_destroy(d);
}

Test(tr_data, synthetic_limits_name_the_key) {
  TrDataConfig c = cfg_syn(1, 5000, 0, 4);
  cr_assert(strstr(fail(&c, 8, TR_EINVAL), "data.synthetic_words"));
  c = cfg_syn(1, 5000, 20, 0);
  cr_assert(strstr(fail(&c, 8, TR_EINVAL), "data.synthetic_branching"));
  c = cfg_syn(1, 0, 20, 4);
  cr_assert(strstr(fail(&c, 8, TR_EINVAL), "data.synthetic_bytes"));
  c = cfg_syn(1, 5000, 1, 1); /* one word, one successor: "a .\n" forever, rate 0 */
  TrData *d = make(&c, 8);
  cr_assert_eq(tr_data_entropy_rate(d), 0.0);
  cr_assert_str_eq(tr_data_name(d), "synthetic(seed=1)");
  tr_data_destroy(d);
}

/* ---- bounded reads and compact tokens (issue 9, item 14) ---------------------- */

Test(tr_data, dev_zero_fifo_and_directory_are_refused_naming_what_they_are) {
  TrDataConfig c = cfg_file("/dev/zero", TR_TOK_BYTE);
  const char *m = fail(&c, 8, TR_EINVAL);
  cr_assert(strstr(m, "'/dev/zero' is a character device, not a regular file"), "%s", m);
  char fifo[600], dir[600];
  snprintf(fifo, sizeof fifo, "%s/fifo", tmpdir);
  snprintf(dir, sizeof dir, "%s/sub", tmpdir);
  cr_assert_eq(mkfifo(fifo, 0600), 0);
  cr_assert_eq(mkdir(dir, 0700), 0);
  c = cfg_file(fifo, TR_TOK_CHAR); /* no writer: opening it for reading would block */
  m = fail(&c, 8, TR_EINVAL);
  cr_assert(strstr(m, fifo) && strstr(m, "is a FIFO (named pipe), not a regular file"), "%s", m);
  c = cfg_file(dir, TR_TOK_BYTE);
  m = fail(&c, 8, TR_EINVAL);
  cr_assert(strstr(m, dir) && strstr(m, "is a directory, not a regular file"), "%s", m);
  uint64_t bytes = 1;
  TrErr e = {0};
  cr_assert_eq(tr_data_memory(&c, &bytes, &e), TR_EINVAL, "sizing refuses it too");
  cr_assert(strstr(e.msg, "is a directory"), "%s", e.msg);
  unlink(fifo);
  rmdir(dir);
}

Test(tr_data, a_file_bigger_than_the_memory_available_is_refused_before_reading) {
  char text[5000];
  memset(text, 'a', sizeof text);
  TrDataConfig c = cfg_file(tmp_file(text, sizeof text), TR_TOK_BYTE);
  uint64_t bytes = 0;
  cr_assert_eq(tr_data_memory(&c, &bytes, NULL), TR_OK);
  cr_assert_eq(bytes, sizeof text, "the stat size, read nothing");
  setenv("HPSWEEP_MEMORY_AVAILABLE", "4000", 1);
  const char *m = fail(&c, 8, TR_ENOMEM);
  cr_assert(strstr(m, c.path) && strstr(m, "loading the text needs 4.9 KiB, 3.9 KiB available "
                                            "(HPSWEEP_MEMORY_AVAILABLE)"), "%s", m);
  setenv("HPSWEEP_MEMORY_AVAILABLE", "6000", 1);
  tr_data_destroy(make(&c, 8));
  unsetenv("HPSWEEP_MEMORY_AVAILABLE");
}

/* n distinct code points from U+0100 on (surrogates skipped), each twice, as UTF-8. */
static char *many_chars(int n, size_t *len) {
  char *s = malloc((size_t)n * 8 + 1);
  size_t m = 0;
  uint32_t cp = 0x100;
  for (int pass = 0; pass < 2; pass++, cp = 0x100)
    for (int i = 0; i < n; i++, cp++) {
      if (cp == 0xD800) cp = 0xE000;
      if (cp < 0x800) {
        s[m++] = (char)(0xC0 | (cp >> 6));
      } else if (cp < 0x10000) {
        s[m++] = (char)(0xE0 | (cp >> 12));
        s[m++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      } else {
        s[m++] = (char)(0xF0 | (cp >> 18));
        s[m++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        s[m++] = (char)(0x80 | ((cp >> 6) & 0x3F));
      }
      s[m++] = (char)(0x80 | (cp & 0x3F));
    }
  *len = m;
  return s;
}

Test(tr_data, tokens_take_one_byte_up_to_256_symbols_and_two_above) {
  const char ascii[] = "the quick brown fox jumps over the lazy dog, again and again and again.\n";
  TrDataConfig c = cfg_file(tmp_file(ascii, sizeof ascii - 1), TR_TOK_BYTE);
  TrData *d = make(&c, 4);
  cr_assert_eq(tr_data_token_width(d), 1, "byte tokenizer: uint8");
  tr_data_destroy(d);
  c.tokenizer = TR_TOK_CHAR;
  d = make(&c, 4);
  cr_assert_eq(tr_data_token_width(d), 1, "char, %d symbols: uint8", tr_data_vocab_size(d));
  tr_data_destroy(d);
  /* 300 distinct characters: two bytes per token, every token intact */
  size_t len;
  char *text = many_chars(300, &len);
  c = cfg_file(tmp_file(text, len), TR_TOK_CHAR);
  d = make(&c, 8);
  cr_assert_eq(tr_data_vocab_size(d), 300);
  cr_assert_eq(tr_data_token_width(d), 2, "char, 300 symbols: uint16");
  size_t n;
  int *t = tokens_of(d, ALL_TOKENS, &n);
  cr_assert_eq(n, 600);
  for (size_t i = 0; i < n; i++) cr_assert_eq(t[i], (int)(i % 300), "token %zu", i);
  size_t tl, vl;
  char *tt = split_text(d, TR_SPLIT_TRAIN, &tl), *vt = split_text(d, TR_SPLIT_VAL, &vl);
  cr_assert_eq(tl + vl, len);
  cr_assert_eq(memcmp(tt, text, tl), 0);
  cr_assert_eq(memcmp(vt, text + tl, vl), 0);
  free(tt);
  free(vt);
  free(t);
  free(text);
  tr_data_destroy(d);
}

Test(tr_data, more_than_65536_distinct_characters_are_refused) {
  size_t len;
  char *text = many_chars(65537, &len);
  TrDataConfig c = cfg_file(tmp_file(text, len), TR_TOK_CHAR);
  const char *m = fail(&c, 8, TR_EINVAL);
  cr_assert(strstr(m, c.path) && strstr(m, "65537 distinct characters, the char tokenizer holds at most 65536"),
            "%s", m);
  free(text);
  text = many_chars(65536, &len); /* 65,536 fit: the limit is exact */
  c = cfg_file(tmp_file(text, len), TR_TOK_CHAR);
  TrData *d = make(&c, 8);
  cr_assert_eq(tr_data_vocab_size(d), 65536);
  cr_assert_eq(tr_data_token_width(d), 2);
  tr_data_destroy(d);
  free(text);
}
