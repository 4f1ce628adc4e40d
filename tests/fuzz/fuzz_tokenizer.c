/*
** fuzz_tokenizer.c: the char tokenizer on arbitrary bytes (invalid UTF-8, NULs, huge code
** points). Input: a corpus, then optionally a 0xFF 0xFE pair and a text to encode. The corpus
** is written to a file and loaded as data with tokenizer char (the vocabulary is its distinct
** characters; invalid UTF-8 must be a clean error); the text is encoded and decoded, an
** encodable text must come back byte for byte, and the vocabulary survives to_bytes/from_bytes.
*/
#include "fuzz_util.h"
#include "tr_config.h"
#include "tr_data.h"

static void round_trip(const TrData *d, const char *text, size_t len) {
  TrErr err = {0};
  size_t n = 0;
  if (tr_data_encode(d, text, len, NULL, 0, &n, &err)) {
    if (!err.msg[0]) abort();
    return;
  }
  int *tok = malloc((n ? n : 1) * sizeof *tok);
  char *back = malloc(4 * n + 1);
  if (!tok || !back) abort();
  size_t m = 0;
  if (tr_data_encode(d, text, len, tok, n, &m, &err) || m != n) abort();
  size_t need = tr_data_decode(d, tok, n, back, 4 * n + 1);
  if (need != len || memcmp(back, text, len) != 0) abort();
  int units = 0;
  (void)tr_data_valid_fraction(d, text, len, &units);
  free(tok);
  free(back);
}

static void vocab_copy(const TrData *d) {
  const TrVocab *v = tr_data_vocab(d);
  size_t n = tr_vocab_to_bytes(v, NULL, 0);
  unsigned char *b = malloc(n);
  if (!b || tr_vocab_to_bytes(v, b, n) != n) abort();
  TrVocab *w = NULL;
  TrErr err = {0};
  if (tr_vocab_from_bytes(&w, b, n, &err) || tr_vocab_size(w) != tr_vocab_size(v)) abort();
  tr_vocab_destroy(w);
  /* Any bytes as a vocabulary blob: a clean error or a vocabulary. */
  if (tr_vocab_from_bytes(&w, b + 1, n - 1, &err) == TR_OK) tr_vocab_destroy(w);
  free(b);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  size_t nc = size;
  const uint8_t *text = NULL;
  for (size_t i = 0; i + 1 < size; i++)
    if (data[i] == 0xFF && data[i + 1] == 0xFE) {
      nc = i, text = data + i + 2;
      break;
    }
  size_t nt = text ? size - nc - 2 : 0;
  TrConfig cfg;
  tr_config_defaults(&cfg);
  fuzz_path(cfg.data.path, sizeof cfg.data.path, "corpus.txt");
  fuzz_write(cfg.data.path, data, nc);
  cfg.data.tokenizer = TR_TOK_CHAR;
  cfg.data.val_fraction = 0.5;
  TrData *d = NULL;
  TrErr err = {0};
  if (tr_data_create(&d, &cfg.data, 1, &err)) {
    if (!err.msg[0]) abort();
  } else {
    round_trip(d, (const char *)data, nc);
    if (text) round_trip(d, (const char *)text, nt);
    vocab_copy(d);
    tr_data_destroy(d);
  }
  /* The same bytes as a vocabulary blob. */
  TrVocab *w = NULL;
  if (tr_vocab_from_bytes(&w, data, size, &err) == TR_OK) {
    char out[64];
    int tok[4] = {0, 1, -5, 70000};
    tr_vocab_decode(w, tok, 4, out, sizeof out);
    tr_vocab_destroy(w);
  }
  return 0;
}
