/*
** fuzz_proto.c: the metrics-protocol line parser (sweep/sw_proto.c) on arbitrary bytes, fed
** whole and again in chunks whose sizes come from the input: both must give the same rows
** and counts (the contract: chunking does not matter), every row has a valid name and step.
*/
#include <math.h>

#include "fuzz_util.h"
#include "rs_store.h"
#include "sw_proto.h"

typedef struct {
  uint64_t h, n;
} Rows;

static int row(void *ctx, const char *name, int64_t step, double value) {
  Rows *r = ctx;
  size_t len = strlen(name);
  if (len == 0 || len >= RS_METRIC_NAME_MAX || step < 0 || step > (int64_t)SW_PROTO_STEP_MAX) abort();
  for (size_t i = 0; i < len; i++)
    if ((unsigned char)name[i] < 0x20 || name[i] == 0x7f) abort();
  uint64_t bits;
  if (isnan(value)) value = NAN; /* any NaN payload is the same row */
  memcpy(&bits, &value, 8);
  uint64_t v[2] = {(uint64_t)step, bits};
  for (size_t i = 0; i < len; i++) r->h = (r->h ^ (unsigned char)name[i]) * 0x100000001b3ULL;
  for (int k = 0; k < 2; k++) r->h = (r->h ^ v[k]) * 0x100000001b3ULL;
  r->n++;
  return 0;
}

static void parse(const uint8_t *data, size_t size, size_t chunk_seed, Rows *r, SwProtoStats *st) {
  SwProto *p = NULL;
  TrErr err = {0};
  if (sw_proto_new(&p, row, r, &err)) abort();
  size_t i = 0, k = chunk_seed;
  while (i < size) {
    size_t n = chunk_seed ? 1 + (k = k * 6364136223846793005ULL + 1442695040888963407ULL) % 97 : size;
    if (n > size - i) n = size - i;
    if (sw_proto_feed(p, (const char *)data + i, n, &err)) abort();
    i += n;
  }
  if (sw_proto_finish(p, &err)) abort();
  *st = *sw_proto_stats(p);
  for (size_t m = 0; m < sw_proto_message_count(p); m++)
    if (!sw_proto_message(p, m) || strlen(sw_proto_message(p, m)) >= SW_PROTO_MSG_MAX) abort();
  sw_proto_free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  Rows a = {0xcbf29ce484222325ULL, 0}, b = a;
  SwProtoStats sa, sb;
  parse(data, size, 0, &a, &sa);
  parse(data, size, size ? 1 + data[0] : 1, &b, &sb);
  if (a.h != b.h || a.n != b.n || memcmp(&sa, &sb, sizeof sa) != 0) abort();
  if (sa.rows != a.n || sa.good_lines + sa.bad_lines > sa.lines) abort();
  return 0;
}
