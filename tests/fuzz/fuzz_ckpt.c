/*
** fuzz_ckpt.c: the checkpoint loader (tr_ckpt_load) on a file of arbitrary bytes, then what a
** resume or `hpsweep sample` does next with a loaded one: the config (JSON through the YAML
** loader) and the vocabulary (tr_vocab_from_bytes), an encode and a decode.
** Input: a first byte 0 means "the rest as is"; any other first byte means "the rest with
** its correct trailing checksum appended", so mutations get past the checksum.
*/
#include "fuzz_util.h"
#include "tr_ckpt.h"
#include "tr_data.h"

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

static void use_vocab(const TrCkpt *c) {
  TrVocab *v = NULL;
  TrErr err = {0};
  if (tr_vocab_from_bytes(&v, c->vocab, c->n_vocab, &err)) return;
  static const char text[] = "To be, or not to be\n\xc3\xa9\xff";
  int tok[64];
  size_t n = 0;
  if (tr_vocab_encode(v, text, sizeof text - 1, tok, 64, &n, &err) == TR_OK) {
    char out[256];
    tr_vocab_decode(v, tok, n < 64 ? n : 64, out, sizeof out);
  }
  int bad[3] = {-1, tr_vocab_size(v), 1 << 30};
  char out[16];
  tr_vocab_decode(v, bad, 3, out, sizeof out);
  tr_vocab_destroy(v);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char path[600];
  fuzz_path(path, sizeof path, "ckpt.bin");
  uint8_t *buf = malloc(size + 8);
  if (!buf) abort();
  memcpy(buf, data + 1, size - 1);
  size_t n = size - 1;
  if (data[0]) {
    uint64_t h = fnv1a(buf, n);
    memcpy(buf + n, &h, 8);
    n += 8;
  }
  fuzz_write(path, buf, n);
  free(buf);
  TrCkpt c;
  TrErr err = {0};
  if (tr_ckpt_load(path, &c, &err) == TR_OK) {
    TrConfig cfg;
    if (tr_ckpt_config(&c, &cfg, &err) == TR_OK) (void)tr_config_validate(&cfg, &err);
    use_vocab(&c);
    tr_ckpt_deinit(&c);
  } else if (!err.msg[0]) {
    abort();
  }
  return 0;
}
