#include "tr_data.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tr_alloc.h"
#include "tr_mem.h"

/* ---- UTF-8 ---------------------------------------------------------------- */

/* Decode one strict UTF-8 character at s[*i]: no overlongs, no surrogates, no
** code point above U+10FFFF, no truncated sequence. Returns 0, or -1 leaving *i. */
static int utf8_next(const unsigned char *s, size_t n, size_t *i, uint32_t *cp) {
  size_t p = *i;
  unsigned c = s[p];
  if (c < 0x80) {
    *cp = c;
    *i = p + 1;
    return 0;
  }
  int len;
  uint32_t v, min;
  if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
  else return -1; /* continuation byte, 0xC0/0xC1 (overlong), 0xF5.. */
  if (n - p < (size_t)len) return -1;
  for (int k = 1; k < len; k++) {
    unsigned b = s[p + (size_t)k];
    if ((b & 0xC0) != 0x80) return -1;
    v = (v << 6) | (b & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return -1;
  *cp = v;
  *i = p + (size_t)len;
  return 0;
}

static int utf8_put(uint32_t cp, unsigned char out[4]) {
  if (cp < 0x80) { out[0] = (unsigned char)cp; return 1; }
  if (cp < 0x800) {
    out[0] = (unsigned char)(0xC0 | (cp >> 6));
    out[1] = (unsigned char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (unsigned char)(0xE0 | (cp >> 12));
    out[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (unsigned char)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (unsigned char)(0xF0 | (cp >> 18));
  out[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (unsigned char)(0x80 | (cp & 0x3F));
  return 4;
}

/* ---- A set of byte strings (word -> id), open addressing ------------------- */

typedef struct WordSet {
  char *pool;          /* all words back to back */
  size_t pool_n, pool_cap;
  size_t *off;         /* (count) word start in pool */
  uint32_t *len;       /* (count) */
  size_t count, cap;   /* entries; cap = capacity of off/len */
  int32_t *slot;       /* (nslot) entry index + 1, 0 = empty */
  size_t nslot;        /* power of two, >= 2 * count */
} WordSet;

static uint64_t fnv1a(const char *s, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
  return h;
}

static void ws_free(WordSet *w) {
  free(w->pool);
  free(w->off);
  free(w->len);
  free(w->slot);
  memset(w, 0, sizeof *w);
}

static long ws_find(const WordSet *w, const char *s, size_t n) {
  if (!w->nslot) return -1;
  size_t m = w->nslot - 1;
  for (size_t h = (size_t)fnv1a(s, n) & m;; h = (h + 1) & m) {
    int32_t e = w->slot[h];
    if (!e) return -1;
    size_t k = (size_t)e - 1;
    if (w->len[k] == n && memcmp(w->pool + w->off[k], s, n) == 0) return (long)k;
  }
}

static int ws_rehash(WordSet *w, size_t nslot) {
  int32_t *sl = tr_calloc(nslot, sizeof *sl);
  if (!sl) return -1;
  for (size_t k = 0; k < w->count; k++) {
    size_t h = (size_t)fnv1a(w->pool + w->off[k], w->len[k]) & (nslot - 1);
    while (sl[h]) h = (h + 1) & (nslot - 1);
    sl[h] = (int32_t)(k + 1);
  }
  free(w->slot);
  w->slot = sl;
  w->nslot = nslot;
  return 0;
}

/* Id of s (added if new), or -1 when out of memory. */
static long ws_add(WordSet *w, const char *s, size_t n) {
  long f = ws_find(w, s, n);
  if (f >= 0) return f;
  if (w->count >= INT32_MAX - 1) return -1;
  if (2 * (w->count + 1) > w->nslot && ws_rehash(w, w->nslot ? 2 * w->nslot : 64)) return -1;
  if (w->count == w->cap) {
    size_t c = w->cap ? 2 * w->cap : 64;
    size_t *o = tr_realloc(w->off, c * sizeof *o);
    if (!o) return -1;
    w->off = o;
    uint32_t *l = tr_realloc(w->len, c * sizeof *l);
    if (!l) return -1;
    w->len = l;
    w->cap = c;
  }
  if (w->pool_n + n > w->pool_cap) {
    size_t c = w->pool_cap ? w->pool_cap : 1024;
    while (c < w->pool_n + n) c *= 2;
    char *p = tr_realloc(w->pool, c);
    if (!p) return -1;
    w->pool = p;
    w->pool_cap = c;
  }
  memcpy(w->pool + w->pool_n, s, n);
  w->off[w->count] = w->pool_n;
  w->len[w->count] = (uint32_t)n;
  w->pool_n += n;
  size_t m = w->nslot - 1, h = (size_t)fnv1a(s, n) & m;
  while (w->slot[h]) h = (h + 1) & m;
  w->slot[h] = (int32_t)(w->count + 1);
  return (long)w->count++;
}

/* ---- Vocabulary ----------------------------------------------------------- */

struct TrVocab {
  int kind;      /* TrTokenizer */
  int n;         /* 256 for bytes */
  uint32_t *cp;  /* (n) char level: code points, ascending; NULL for bytes */
  int ascii[128];/* char level: token of an ASCII code point, -1 if absent */
};

int tr_vocab_kind(const TrVocab *v) { return v->kind; }
int tr_vocab_size(const TrVocab *v) { return v->n; }

void tr_vocab_destroy(TrVocab *v) {
  if (!v) return;
  free(v->cp);
  free(v);
}

static void vocab_index(TrVocab *v) {
  for (int c = 0; c < 128; c++) v->ascii[c] = -1;
  if (v->kind == TR_TOK_CHAR)
    for (int t = 0; t < v->n && v->cp[t] < 128; t++) v->ascii[v->cp[t]] = t;
}

static int vocab_lookup(const TrVocab *v, uint32_t cp) {
  if (v->kind == TR_TOK_BYTE) return cp < 256 ? (int)cp : -1;
  if (cp < 128) return v->ascii[cp];
  int lo = 0, hi = v->n - 1;
  while (lo <= hi) {
    int mid = lo + (hi - lo) / 2;
    if (v->cp[mid] == cp) return mid;
    if (v->cp[mid] < cp) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

static const char VOCAB_MAGIC[8] = {'T', 'R', 'V', 'O', 'C', 'A', 'B', '\0'};
enum { VOCAB_VERSION = 1, VOCAB_HEADER = 20 };

static void put_u32(unsigned char *p, uint32_t x) {
  for (int k = 0; k < 4; k++) p[k] = (unsigned char)(x >> (8 * k));
}
static uint32_t get_u32(const unsigned char *p) {
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

size_t tr_vocab_to_bytes(const TrVocab *v, void *buf, size_t n) {
  size_t need = VOCAB_HEADER + (v->kind == TR_TOK_CHAR ? 4 * (size_t)v->n : 0);
  if (buf && n >= need) {
    unsigned char *p = buf;
    memcpy(p, VOCAB_MAGIC, 8);
    put_u32(p + 8, VOCAB_VERSION);
    put_u32(p + 12, (uint32_t)v->kind);
    put_u32(p + 16, (uint32_t)v->n);
    if (v->kind == TR_TOK_CHAR)
      for (int t = 0; t < v->n; t++) put_u32(p + VOCAB_HEADER + 4 * (size_t)t, v->cp[t]);
  }
  return need;
}

int tr_vocab_from_bytes(TrVocab **out, const void *buf, size_t n, TrErr *err) {
  *out = NULL;
  const unsigned char *p = buf;
  if (!buf || n < VOCAB_HEADER || memcmp(p, VOCAB_MAGIC, 8) != 0)
    return tr_err_set(err, TR_EFORMAT, "vocabulary: bad magic (not a hpsweep vocabulary)");
  uint32_t ver = get_u32(p + 8), kind = get_u32(p + 12), size = get_u32(p + 16);
  if (ver != VOCAB_VERSION)
    return tr_err_set(err, TR_EFORMAT, "vocabulary: version %u, this build reads %d", ver,
                      VOCAB_VERSION);
  if (kind == TR_TOK_BYTE) {
    if (size != 256 || n != VOCAB_HEADER)
      return tr_err_set(err, TR_EFORMAT, "vocabulary: byte vocabulary of size %u (%zu bytes)",
                        size, n);
  } else if (kind == TR_TOK_CHAR) {
    if (size < 1 || size > 0x110000 || n != VOCAB_HEADER + 4 * (size_t)size)
      return tr_err_set(err, TR_EFORMAT,
                        "vocabulary: char vocabulary of size %u does not fit %zu bytes", size, n);
  } else {
    return tr_err_set(err, TR_EFORMAT, "vocabulary: unknown tokenizer kind %u", kind);
  }
  TrVocab *v = tr_calloc(1, sizeof *v);
  if (!v) return tr_err_set(err, TR_ENOMEM, "vocabulary: out of memory");
  v->kind = (int)kind;
  v->n = (int)size;
  if (kind == TR_TOK_CHAR) {
    v->cp = tr_malloc(size * sizeof *v->cp);
    if (!v->cp) {
      free(v);
      return tr_err_set(err, TR_ENOMEM, "vocabulary: out of memory");
    }
    for (uint32_t t = 0; t < size; t++) {
      uint32_t c = get_u32(p + VOCAB_HEADER + 4 * (size_t)t);
      if (c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF) || (t > 0 && c <= v->cp[t - 1])) {
        tr_vocab_destroy(v);
        return tr_err_set(err, TR_EFORMAT,
                          "vocabulary: entry %u (U+%04X) is not a valid ascending code point", t, c);
      }
      v->cp[t] = c;
    }
  }
  vocab_index(v);
  *out = v;
  return TR_OK;
}

int tr_vocab_encode(const TrVocab *v, const char *text, size_t len, int *tokens, size_t cap,
                    size_t *n_out, TrErr *err) {
  const unsigned char *s = (const unsigned char *)text;
  size_t n = 0;
  for (size_t i = 0; i < len;) {
    uint32_t cp;
    int t;
    if (v->kind == TR_TOK_BYTE) {
      t = s[i++];
    } else {
      size_t at = i;
      if (utf8_next(s, len, &i, &cp))
        return tr_err_set(err, TR_EINVAL, "encode: invalid UTF-8 at byte offset %zu", at);
      t = vocab_lookup(v, cp);
      if (t < 0) { /* show the character itself unless it is a control character */
        int show = cp >= 0x20 && cp != 0x7F && !(cp >= 0x80 && cp < 0xA0);
        return tr_err_set(err, TR_EINVAL,
                          "encode: character U+%04X%s%.*s%s at byte offset %zu is not in the "
                          "vocabulary",
                          cp, show ? " '" : "", show ? (int)(i - at) : 0, text + at,
                          show ? "'" : "", at);
      }
    }
    if (n < cap) tokens[n] = t;
    n++;
  }
  if (n_out) *n_out = n;
  return TR_OK;
}

size_t tr_vocab_decode(const TrVocab *v, const int *tokens, size_t n, char *buf, size_t cap) {
  size_t m = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char u[4];
    int k;
    int t = tokens[i];
    if (v->kind == TR_TOK_BYTE) {
      if (t < 0 || t > 255) continue;
      u[0] = (unsigned char)t;
      k = 1;
    } else {
      k = utf8_put(t >= 0 && t < v->n ? v->cp[t] : 0xFFFD, u);
    }
    for (int j = 0; j < k; j++, m++)
      if (m < cap) buf[m] = (char)u[j];
  }
  return m;
}

/* ---- The data ------------------------------------------------------------- */

/* The synthetic source: states 0..W-1 are words, state W is the sentence end. */
typedef struct TrSource {
  int n_words;        /* W */
  int k;              /* successor slots per state (rows shorter than k end at cnt) */
  int *cnt;           /* (W+1) successors of each state */
  int *succ;          /* (W+1, k) successor states */
  double *prob;       /* (W+1, k) transition probabilities */
  double *cum;        /* (W+1, k) cumulative, last = 1 */
  double *pi;         /* (W+1) stationary distribution */
  int *bytes;         /* (W+1) bytes a state prints: letters + ' ', or ".\n" */
  WordSet words;      /* word text -> state id */
  double rate;        /* nats per byte */
} TrSource;

struct TrData {
  char name[TR_PATH_MAX + 32];
  TrVocab *vocab;
  unsigned char *tok8;/* (n_tok) train split then validation split, width 1 ... */
  uint16_t *tok16;    /* ... or width 2 (exactly one of the two is set) */
  size_t n_tok, n_train;
  int synthetic;
  TrSource src;       /* synthetic only */
  WordSet train_words;/* text file only: words of the training split */
};

static void source_free(TrSource *s) {
  free(s->cnt);
  free(s->succ);
  free(s->prob);
  free(s->cum);
  free(s->pi);
  free(s->bytes);
  ws_free(&s->words);
}

void tr_data_destroy(TrData *d) {
  if (!d) return;
  tr_vocab_destroy(d->vocab);
  free(d->tok8);
  free(d->tok16);
  source_free(&d->src);
  ws_free(&d->train_words);
  free(d);
}

/* Zipf exponent of the successor probabilities (slot r gets weight 1/(r+1)^s)
** and of the global word popularity used to draw successors (word j ~ 1/(j+1)^a).
** The sentence end has the popularity of the most popular word. */
static const double SYN_ZIPF_S = 1.0;
static const double SYN_POP_A = 1.0;
static const double SYN_END_WEIGHT = 1.0;
static const char SYN_CONS[] = "bcdfghjklmnprstvwz";
static const char SYN_VOWEL[] = "aeiouy";

/* Word j has 1 + floor(log5(j + 1)) letters: frequent words are short, as in
** real language; consonants and vowels alternate so words are pronounceable. */
static int syn_word_len(int j) {
  int L = 1;
  for (long t = (long)j + 1; t >= 5; t /= 5) L++;
  return L;
}

/* Words: distinct, so the text parses back to the state sequence. */
static int source_words(TrSource *s, TrRng *g, TrErr *err) {
  int W = s->n_words;
  char w[64];
  for (int j = 0; j < W; j++) {
    int L = syn_word_len(j);
    for (int tries = 0;; tries++) {
      if (tries == 200) { L++; tries = 0; } /* this length is crowded: go longer */
      if (L >= (int)sizeof w) return tr_err_set(err, TR_EINVAL, "synthetic corpus: cannot make %d distinct words", W);
      int vowel = L == 1 ? 1 : (int)tr_rng_below(g, 2);
      for (int c = 0; c < L; c++, vowel = !vowel)
        w[c] = vowel ? SYN_VOWEL[tr_rng_below(g, sizeof SYN_VOWEL - 1)]
                     : SYN_CONS[tr_rng_below(g, sizeof SYN_CONS - 1)];
      if (ws_find(&s->words, w, (size_t)L) < 0) break;
    }
    if (ws_add(&s->words, w, (size_t)L) != j) return tr_err_set(err, TR_ENOMEM, "synthetic corpus: out of memory");
    s->bytes[j] = L + 1;
  }
  s->bytes[W] = 2;
  return TR_OK;
}

/* The popularity of state j (word j ~ 1/(j+1)^a; the sentence end as the most popular word). */
static double source_weight(int j, int end) { return j == end ? SYN_END_WEIGHT : pow(j + 1.0, -SYN_POP_A); }

/* One successor drawn by popularity (cw: cumulative, tot its total) among the states not
** marked with stamp: rejection of repeats, and an exact draw over what is left when
** rejections pile up (tmp: scratch of n_words + 1). */
static int source_draw(const TrSource *s, TrRng *g, const double *cw, double tot, const int *mark, int stamp,
                       double *tmp) {
  int S = s->n_words + 1, END = s->n_words;
  for (int tries = 0; tries < 64; tries++) {
    double u = tr_rng_uniform(g) * tot;
    int lo = 0, hi = S - 1;
    while (lo < hi) {
      int mid = (lo + hi) / 2;
      if (u < cw[mid]) hi = mid;
      else lo = mid + 1;
    }
    if (mark[lo] != stamp) return lo;
  }
  double rem = 0;
  for (int j = 0; j < S; j++) {
    tmp[j] = mark[j] == stamp ? 0 : source_weight(j, END);
    rem += tmp[j];
  }
  double u = tr_rng_uniform(g) * rem;
  int pick = -1;
  for (int j = 0; j < S; j++) {
    if (tmp[j] <= 0) continue;
    pick = j;
    if (u < tmp[j]) break;
    u -= tmp[j];
  }
  return pick;
}

/* Successor lists: each state draws k distinct successors by popularity (sequential
** sampling without replacement), plus a forced link along the cycle
** END -> 0 -> 1 -> ... -> W-1 -> END at a random slot, which makes the chain
** irreducible: every word occurs and the stationary distribution is unique.
** Slot r of a row has probability ~ 1/(r+1)^s. */
static void source_links(TrSource *s, TrRng *g, double *cw, double *tmp, int *mark) {
  int W = s->n_words, S = W + 1, END = W, k = s->k;
  double tot = 0;
  for (int j = 0; j < S; j++) {
    tot += source_weight(j, END);
    cw[j] = tot;
  }
  for (int i = 0; i < S; i++) {
    int ncand = i == END ? W : S; /* no empty sentences */
    int ki = k < ncand ? k : ncand;
    int *row = s->succ + (size_t)i * (size_t)k;
    int stamp = i + 1;
    if (i == END) mark[END] = stamp;
    int forced = i == END ? 0 : (i == W - 1 ? END : i + 1);
    int fpos = (int)tr_rng_below(g, (uint64_t)ki);
    row[fpos] = forced;
    mark[forced] = stamp;
    for (int r = 0; r < ki; r++) {
      if (r == fpos) continue;
      row[r] = source_draw(s, g, cw, tot, mark, stamp, tmp);
      mark[row[r]] = stamp;
    }
    s->cnt[i] = ki;
    double *pr = s->prob + (size_t)i * (size_t)k, *cu = s->cum + (size_t)i * (size_t)k, z = 0;
    for (int r = 0; r < ki; r++) z += pr[r] = pow(r + 1.0, -SYN_ZIPF_S);
    double c = 0;
    for (int r = 0; r < ki; r++) {
      pr[r] /= z;
      cu[r] = c += pr[r];
    }
    cu[ki - 1] = 1.0;
  }
}

/* Stationary distribution: power iteration on the lazy chain (P + I) / 2,
** which has the same fixed point and converges even if P is periodic. */
static void source_stationary(TrSource *s, double *tmp) {
  int S = s->n_words + 1, k = s->k;
  for (int i = 0; i < S; i++) s->pi[i] = 1.0 / S;
  for (int it = 0; it < 20000; it++) {
    for (int i = 0; i < S; i++) tmp[i] = 0.5 * s->pi[i];
    for (int i = 0; i < S; i++) {
      double h = 0.5 * s->pi[i];
      const int *row = s->succ + (size_t)i * (size_t)k;
      const double *pr = s->prob + (size_t)i * (size_t)k;
      for (int r = 0; r < s->cnt[i]; r++) tmp[row[r]] += h * pr[r];
    }
    double z = 0, diff = 0;
    for (int i = 0; i < S; i++) z += tmp[i];
    for (int i = 0; i < S; i++) {
      tmp[i] /= z;
      diff += fabs(tmp[i] - s->pi[i]);
      s->pi[i] = tmp[i];
    }
    if (diff < 1e-13) break;
  }
}

/* Entropy rate in nats per byte: stationary entropy per state over bytes per state. */
static double source_rate(const TrSource *s) {
  int S = s->n_words + 1, k = s->k;
  double H = 0, L = 0;
  for (int i = 0; i < S; i++) {
    const double *pr = s->prob + (size_t)i * (size_t)k;
    double h = 0;
    for (int r = 0; r < s->cnt[i]; r++) h -= pr[r] * log(pr[r]);
    H += s->pi[i] * h;
    L += s->pi[i] * s->bytes[i];
  }
  return H / L;
}

static int source_build(TrSource *s, const TrDataConfig *cfg, TrErr *err) {
  int W = cfg->synthetic_words, S = W + 1;
  int k = cfg->synthetic_branching < S ? cfg->synthetic_branching : S;
  s->n_words = W;
  s->k = k;
  size_t nk = (size_t)S * (size_t)k;
  s->cnt = tr_calloc((size_t)S, sizeof *s->cnt);
  s->succ = tr_calloc(nk, sizeof *s->succ);
  s->prob = tr_calloc(nk, sizeof *s->prob);
  s->cum = tr_calloc(nk, sizeof *s->cum);
  s->pi = tr_calloc((size_t)S, sizeof *s->pi);
  s->bytes = tr_calloc((size_t)S, sizeof *s->bytes);
  double *cw = tr_malloc((size_t)S * sizeof *cw);   /* cumulative popularity, END last */
  double *tmp = tr_malloc((size_t)S * sizeof *tmp);
  int *mark = tr_calloc((size_t)S, sizeof *mark);
  int rc = TR_OK;
  if (!s->cnt || !s->succ || !s->prob || !s->cum || !s->pi || !s->bytes || !cw || !tmp || !mark) {
    rc = tr_err_set(err, TR_ENOMEM, "synthetic corpus: out of memory (%d words, branching %d)", W, k);
  } else {
    TrRng g;
    tr_rng_seed2(&g, (uint64_t)cfg->synthetic_seed, 0x776f726473ULL); /* "words" */
    if ((rc = source_words(s, &g, err)) == TR_OK) {
      source_links(s, &g, cw, tmp, mark);
      source_stationary(s, tmp);
      s->rate = source_rate(s);
    }
  }
  free(cw);
  free(tmp);
  free(mark);
  return rc;
}

/* Emit exactly n bytes of the chain, starting at a sentence start. */
static int source_generate(const TrSource *s, uint64_t seed, size_t n, unsigned char **out,
                           TrErr *err) {
  unsigned char *buf = tr_malloc(n + 80);
  if (!buf) return tr_err_set(err, TR_ENOMEM, "synthetic corpus: out of memory (%zu bytes)", n);
  TrRng g;
  tr_rng_seed2(&g, seed, 0x74657874ULL); /* "text" */
  int st = s->n_words, k = s->k;
  size_t m = 0;
  while (m < n) {
    const double *cu = s->cum + (size_t)st * (size_t)k;
    double u = tr_rng_uniform(&g);
    int r = 0;
    while (u >= cu[r]) r++; /* cu[cnt-1] = 1 > u stops it */
    st = s->succ[(size_t)st * (size_t)k + (size_t)r];
    if (st == s->n_words) {
      buf[m++] = '.';
      buf[m++] = '\n';
    } else {
      size_t L = s->words.len[st];
      memcpy(buf + m, s->words.pool + s->words.off[st], L);
      m += L;
      buf[m++] = ' ';
    }
  }
  *out = buf;
  return TR_OK;
}

static const char *file_kind(mode_t m) {
  if (S_ISDIR(m)) return "a directory";
  if (S_ISCHR(m)) return "a character device";
  if (S_ISBLK(m)) return "a block device";
  if (S_ISFIFO(m)) return "a FIFO (named pipe)";
  if (S_ISSOCK(m)) return "a socket";
  return "not a regular file";
}

/* Open a regular file for reading; *size from fstat. A device, FIFO or
** directory would never end (/dev/zero) or block: refused before any read. */
static int open_regular(const char *path, int *fd, uint64_t *size, TrErr *err) {
  struct stat st;
  if (stat(path, &st) != 0) return tr_err_set(err, TR_EIO, "data file '%s': %s", path, strerror(errno));
  if (!S_ISREG(st.st_mode))
    return tr_err_set(err, TR_EINVAL, "data file '%s' is %s, not a regular file", path, file_kind(st.st_mode));
  /* O_NONBLOCK: should the path become a FIFO between stat and open, open must not wait for a writer. */
  *fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
  if (*fd < 0) return tr_err_set(err, TR_EIO, "data file '%s': %s", path, strerror(errno));
  if (fstat(*fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    int e = errno;
    close(*fd);
    return S_ISREG(st.st_mode) ? tr_err_set(err, TR_EIO, "data file '%s': %s", path, strerror(e))
                               : tr_err_set(err, TR_EINVAL, "data file '%s' is %s, not a regular file", path,
                                            file_kind(st.st_mode));
  }
  *size = st.st_size > 0 ? (uint64_t)st.st_size : 0;
  return TR_OK;
}

/* Refuse bytes more of memory when they are not available (the figures in the message). */
static int memory_fits(const char *what, const char *name, uint64_t bytes, TrErr *err) {
  TrMemAvail av;
  tr_mem_available(&av, 1); /* the caller's own OpenBLAS buffer, not mapped before its first call */
  if (bytes <= av.bytes && bytes < SIZE_MAX) return TR_OK;
  char need[32], have[32];
  tr_mem_format(bytes, need, sizeof need);
  tr_mem_format(av.bytes, have, sizeof have);
  return tr_err_set(err, TR_ENOMEM, "%s: %s needs %s, %s available (%s)", name, what, need, have, av.source);
}

/* The whole file, at most the size it had when opened (a growing file is cut
** there), in one allocation of that size: memory is known before reading. */
static int read_file(const char *path, const char *name, unsigned char **out, size_t *n, TrErr *err) {
  int fd = -1;
  uint64_t size = 0;
  int rc = open_regular(path, &fd, &size, err);
  if (rc) return rc;
  if ((rc = memory_fits("loading the text", name, size, err))) {
    close(fd);
    return rc;
  }
  unsigned char *buf = tr_malloc(size ? (size_t)size : 1);
  if (!buf) {
    close(fd);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory (%llu bytes)", name, (unsigned long long)size);
  }
  size_t m = 0;
  while (m < size) {
    size_t want = size - m > (1u << 30) ? (1u << 30) : (size_t)(size - m);
    ssize_t r = read(fd, buf + m, want);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) {
      int e = errno;
      free(buf);
      close(fd);
      return tr_err_set(err, TR_EIO, "%s: read error: %s", name, strerror(e));
    }
    if (r == 0) break; /* shrank since fstat */
    m += (size_t)r;
  }
  close(fd);
  *out = buf;
  *n = m;
  return TR_OK;
}

int tr_data_memory(const TrDataConfig *cfg, uint64_t *bytes, TrErr *err) {
  *bytes = 0;
  if (cfg->path[0] == '\0') {
    *bytes = cfg->synthetic_bytes > 0 ? (uint64_t)cfg->synthetic_bytes + 80 : 0;
    return TR_OK;
  }
  int fd = -1;
  int rc = open_regular(cfg->path, &fd, bytes, err);
  if (rc == TR_OK) close(fd);
  return rc;
}

static int is_word_byte(unsigned char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c >= 0x80;
}

/* Every maximal word run of text[0..n) into the set (a run cut by the end of
** the split is left out unless the text ends there too). */
static int collect_words(WordSet *ws, const unsigned char *text, size_t n, int cut_at_end) {
  size_t i = 0;
  while (i < n) {
    while (i < n && !is_word_byte(text[i])) i++;
    size_t j = i;
    while (j < n && is_word_byte(text[j])) j++;
    if (j > i && !(j == n && cut_at_end) && ws_add(ws, (const char *)text + i, j - i) < 0)
      return -1;
    i = j;
  }
  return 0;
}

/* Char level, first pass: check the UTF-8, build d->vocab from the code points
** that occur, count the tokens. */
static int char_scan(TrData *d, const unsigned char *raw, size_t n, size_t *n_tok, TrErr *err) {
  unsigned char *seen = tr_calloc(0x110000 / 8, 1);
  if (!seen) return tr_err_set(err, TR_ENOMEM, "%s: out of memory", d->name);
  size_t m = 0;
  for (size_t i = 0; i < n; m++) {
    size_t at = i;
    uint32_t cp;
    if (utf8_next(raw, n, &i, &cp)) {
      free(seen);
      return tr_err_set(err, TR_EFORMAT,
                        "%s: invalid UTF-8 at byte offset %zu (byte 0x%02X); the char tokenizer "
                        "needs UTF-8 text (data.tokenizer: byte reads any file)",
                        d->name, at, raw[at]);
    }
    seen[cp >> 3] |= (unsigned char)(1u << (cp & 7));
  }
  long nv = 0;
  for (size_t b = 0; b < 0x110000 / 8; b++) nv += __builtin_popcount(seen[b]);
  if (nv > TR_DATA_MAX_CHAR_VOCAB) {
    free(seen);
    return tr_err_set(err, TR_EINVAL,
                      "%s: %ld distinct characters, the char tokenizer holds at most %d "
                      "(data.tokenizer: byte reads any file)",
                      d->name, nv, TR_DATA_MAX_CHAR_VOCAB);
  }
  TrVocab *v = d->vocab;
  v->cp = tr_malloc((size_t)(nv ? nv : 1) * sizeof *v->cp);
  if (!v->cp) {
    free(seen);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory", d->name);
  }
  for (uint32_t b = 0; b < 0x110000 / 8; b++) /* a byte at a time: most are 0 */
    for (uint32_t k = 0; seen[b] >> k; k++)
      if ((seen[b] >> k) & 1) v->cp[v->n++] = b * 8 + k;
  free(seen);
  vocab_index(v);
  *n_tok = m;
  return TR_OK;
}

/* Build d->vocab and count the tokens of raw[0..n) (no token stored yet). */
static int tokenise_scan(TrData *d, int kind, const unsigned char *raw, size_t n, TrErr *err) {
  TrVocab *v = tr_calloc(1, sizeof *v);
  if (!v) return tr_err_set(err, TR_ENOMEM, "%s: out of memory", d->name);
  d->vocab = v;
  v->kind = kind;
  if (kind == TR_TOK_BYTE) {
    v->n = 256;
    vocab_index(v);
    d->n_tok = n;
    return TR_OK;
  }
  return char_scan(d, raw, n, &d->n_tok, err);
}

/* Store the tokens of *raw (scanned by tokenise_scan) compactly: a byte per
** token when the vocabulary has <= 256 entries, written over the text itself
** (token m never overtakes byte m), else two. Takes *raw. */
static int tokenise_store(TrData *d, unsigned char **raw, size_t n, TrErr *err) {
  unsigned char *s = *raw;
  const TrVocab *v = d->vocab;
  if (v->kind == TR_TOK_BYTE) {
    d->tok8 = s;
    *raw = NULL;
    return TR_OK;
  }
  uint16_t *t16 = NULL;
  if (v->n > 256) {
    int rc = memory_fits("two bytes per token", d->name, 2 * (uint64_t)d->n_tok, err);
    if (rc) return rc;
    if (!(t16 = tr_malloc((d->n_tok ? d->n_tok : 1) * sizeof *t16)))
      return tr_err_set(err, TR_ENOMEM, "%s: out of memory (%zu tokens)", d->name, d->n_tok);
  }
  size_t m = 0;
  for (size_t i = 0; i < n; m++) {
    uint32_t cp;
    utf8_next(s, n, &i, &cp); /* valid: checked by the scan */
    int t = vocab_lookup(v, cp);
    if (t16) t16[m] = (uint16_t)t;
    else s[m] = (unsigned char)t;
  }
  if (t16) {
    d->tok16 = t16;
    free(s);
  } else {
    unsigned char *fit = tr_realloc(s, m ? m : 1); /* shrinking: may keep s */
    d->tok8 = fit ? fit : s;
  }
  *raw = NULL;
  return TR_OK;
}

int tr_data_create(TrData **out, const TrDataConfig *cfg, int context_length, TrErr *err) {
  *out = NULL;
  if (!(cfg->val_fraction > 0 && cfg->val_fraction < 1))
    return tr_err_set(err, TR_EINVAL, "data.val_fraction = %g must be in (0, 1)", cfg->val_fraction);
  if (cfg->tokenizer != TR_TOK_BYTE && cfg->tokenizer != TR_TOK_CHAR)
    return tr_err_set(err, TR_EINVAL, "data.tokenizer = %d is not byte or char", cfg->tokenizer);
  if (context_length < 1)
    return tr_err_set(err, TR_EINVAL, "model.context_length = %d must be >= 1", context_length);
  int synthetic = cfg->path[0] == '\0';
  if (synthetic) {
    if (cfg->synthetic_words < 1 || cfg->synthetic_words > 10000)
      return tr_err_set(err, TR_EINVAL, "data.synthetic_words = %d must be in [1, 10000]",
                        cfg->synthetic_words);
    if (cfg->synthetic_branching < 1 || cfg->synthetic_branching > 256)
      return tr_err_set(err, TR_EINVAL, "data.synthetic_branching = %d must be in [1, 256]",
                        cfg->synthetic_branching);
    if (cfg->synthetic_bytes < 1 || cfg->synthetic_bytes > ((int64_t)1 << 31))
      return tr_err_set(err, TR_EINVAL, "data.synthetic_bytes = %lld must be in [1, 2^31]",
                        (long long)cfg->synthetic_bytes);
  }
  TrData *d = tr_calloc(1, sizeof *d);
  if (!d) return tr_err_set(err, TR_ENOMEM, "data: out of memory");
  d->synthetic = synthetic;
  unsigned char *raw = NULL;
  size_t n = 0;
  int rc;
  if (synthetic) {
    snprintf(d->name, sizeof d->name, "synthetic corpus (data.synthetic_seed %lld, data.synthetic_bytes %lld)",
             (long long)cfg->synthetic_seed, (long long)cfg->synthetic_bytes);
    n = (size_t)cfg->synthetic_bytes;
    rc = memory_fits("generating the text", d->name, (uint64_t)n + 80, err);
    if (!rc) rc = source_build(&d->src, cfg, err);
    if (!rc) rc = source_generate(&d->src, (uint64_t)cfg->synthetic_seed, n, &raw, err);
  } else {
    snprintf(d->name, sizeof d->name, "data file '%s'", cfg->path);
    rc = read_file(cfg->path, d->name, &raw, &n, err);
    if (!rc && n == 0) rc = tr_err_set(err, TR_EFORMAT, "%s is empty", d->name);
  }
  if (!rc) rc = tokenise_scan(d, cfg->tokenizer, raw, n, err);
  if (!rc) {
    d->n_train = (size_t)((double)d->n_tok * (1.0 - cfg->val_fraction));
    size_t nv = d->n_tok - d->n_train, need = (size_t)context_length + 1;
    if (d->n_train < need || nv < need)
      rc = tr_err_set(err, TR_EINVAL,
                      "%s is too short: %zu tokens split into %zu train and %zu validation "
                      "(data.val_fraction %g), each split needs at least context_length + 1 = %zu",
                      d->name, d->n_tok, d->n_train, nv, cfg->val_fraction, need);
  }
  if (!rc && !synthetic) {
    /* Byte offset of the split: the training text's words feed the validity check. */
    size_t off = d->n_train;
    if (cfg->tokenizer == TR_TOK_CHAR) {
      off = 0;
      for (size_t t = 0; t < d->n_train; t++) {
        uint32_t cp;
        utf8_next(raw, n, &off, &cp);
      }
    }
    if (collect_words(&d->train_words, raw, off, off < n))
      rc = tr_err_set(err, TR_ENOMEM, "%s: out of memory (word set)", d->name);
  }
  if (!rc) rc = tokenise_store(d, &raw, n, err);
  free(raw);
  if (rc) {
    tr_data_destroy(d);
    return rc;
  }
  if (synthetic) snprintf(d->name, sizeof d->name, "synthetic(seed=%lld)", (long long)cfg->synthetic_seed);
  else snprintf(d->name, sizeof d->name, "%s", cfg->path);
  *out = d;
  return TR_OK;
}

const char *tr_data_name(const TrData *d) { return d->name; }
const TrVocab *tr_data_vocab(const TrData *d) { return d->vocab; }
int tr_data_vocab_size(const TrData *d) { return d->vocab->n; }

int tr_data_token_width(const TrData *d) { return d->tok16 ? 2 : 1; }

/* Tokens [at, at+n) of the whole sequence, widened to int. */
static void tokens_widen(const TrData *d, size_t at, size_t n, int *out) {
  if (d->tok16)
    for (size_t i = 0; i < n; i++) out[i] = d->tok16[at + i];
  else
    for (size_t i = 0; i < n; i++) out[i] = d->tok8[at + i];
}

size_t tr_data_split_size(const TrData *d, int split) {
  if (split == TR_SPLIT_TRAIN) return d->n_train;
  if (split == TR_SPLIT_VAL) return d->n_tok - d->n_train;
  return 0;
}

int tr_data_tokens_copy(const TrData *d, int split, size_t start, size_t n, int *out) {
  size_t ns = tr_data_split_size(d, split);
  if ((split != TR_SPLIT_TRAIN && split != TR_SPLIT_VAL) || start > ns || n > ns - start) return TR_EINVAL;
  tokens_widen(d, (split == TR_SPLIT_VAL ? d->n_train : 0) + start, n, out);
  return TR_OK;
}

int tr_data_encode(const TrData *d, const char *text, size_t len, int *tokens, size_t cap,
                   size_t *n_out, TrErr *err) {
  return tr_vocab_encode(d->vocab, text, len, tokens, cap, n_out, err);
}

size_t tr_data_decode(const TrData *d, const int *tokens, size_t n, char *buf, size_t cap) {
  return tr_vocab_decode(d->vocab, tokens, n, buf, cap);
}

int tr_data_batch(const TrData *d, int split, TrRng *rng, int B, int T, int *tokens, int *targets) {
  size_t n = tr_data_split_size(d, split), base = split == TR_SPLIT_VAL ? d->n_train : 0;
  if ((split != TR_SPLIT_TRAIN && split != TR_SPLIT_VAL) || B < 1 || T < 1 || n < (size_t)T + 1)
    return TR_EINVAL;
  for (int b = 0; b < B; b++) {
    size_t start = base + (size_t)tr_rng_below(rng, (uint64_t)(n - (size_t)T));
    size_t row = (size_t)b * (size_t)T;
    tokens_widen(d, start, (size_t)T, tokens + row);
    tokens_widen(d, start + 1, (size_t)T, targets + row);
  }
  return TR_OK;
}

int tr_data_eval_batches(const TrData *d, uint64_t seed, int n_batches, int B, int T, int *tokens,
                         int *targets) {
  if (n_batches < 1 || B < 1 || n_batches > INT32_MAX / B) return TR_EINVAL;
  TrRng r;
  tr_rng_seed2(&r, seed, 0x6576616cULL); /* "eval" */
  return tr_data_batch(d, TR_SPLIT_VAL, &r, n_batches * B, T, tokens, targets);
}

/* ---- Quality references --------------------------------------------------- */

double tr_data_entropy_rate(const TrData *d) { return d->synthetic ? d->src.rate : NAN; }

/* One unit at text[*i]: a state id, -1 for something the source cannot print
** (then *i moves past the next separator), or -2 at a cut end of text. */
static int unit_next(const TrSource *s, const char *t, size_t n, size_t *i) {
  size_t p = *i;
  if (p >= n) return -2;
  if (t[p] == '.') {
    if (p + 1 >= n) return -2;
    *i = p + 2;
    return t[p + 1] == '\n' ? s->n_words : -1;
  }
  size_t q = p;
  while (q < n && t[q] >= 'a' && t[q] <= 'z') q++;
  if (q >= n) return -2;
  *i = q + 1;
  if (q == p || t[q] != ' ') {
    while (*i < n && t[*i - 1] != ' ' && t[*i - 1] != '\n') (*i)++; /* resync */
    return -1;
  }
  long id = ws_find(&s->words, t + p, q - p);
  return id < 0 ? -1 : (int)id;
}

static double trans_prob(const TrSource *s, int from, int to) {
  const int *row = s->succ + (size_t)from * (size_t)s->k;
  for (int r = 0; r < s->cnt[from]; r++)
    if (row[r] == to) return s->prob[(size_t)from * (size_t)s->k + (size_t)r];
  return 0;
}

double tr_data_source_nll(const TrData *d, const char *text, size_t len) {
  if (!d->synthetic) return NAN;
  const TrSource *s = &d->src;
  size_t i = 0;
  while (i < len && text[i] != ' ' && text[i] != '\n') i++;
  if (i >= len) return NAN;
  i++;
  int st = unit_next(s, text, len, &i);
  if (st == -2) return NAN;
  if (st == -1) return INFINITY;
  double nll = 0;
  size_t bytes = 0, units = 0;
  for (;;) {
    size_t at = i;
    int nx = unit_next(s, text, len, &i);
    if (nx == -2) break;
    double p = nx < 0 ? 0 : trans_prob(s, st, nx);
    if (p <= 0) return INFINITY;
    nll -= log(p);
    bytes += i - at;
    units++;
    st = nx;
  }
  return units ? nll / (double)bytes : NAN;
}

double tr_data_valid_fraction(const TrData *d, const char *text, size_t len, int *n_units) {
  int units = 0, ok = 0;
  if (d->synthetic) {
    const TrSource *s = &d->src;
    const char *nl = memchr(text, '\n', len);
    size_t i = nl ? (size_t)(nl - text) + 1 : len;
    for (;;) {
      const char *e = memchr(text + i, '\n', len - i);
      if (!e) break;
      size_t end = (size_t)(e - text) + 1; /* one sentence: text[i..end) */
      int st = s->n_words, good = 1;
      while (i < end) {
        int nx = unit_next(s, text, end, &i);
        if (nx < 0 || trans_prob(s, st, nx) <= 0) { good = 0; break; }
        st = nx;
      }
      good = good && st == s->n_words; /* ended by the sentence end, nothing after */
      units++;
      ok += good;
      i = end;
    }
  } else {
    const unsigned char *t = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
      size_t j = i;
      while (j < len && is_word_byte(t[j])) j++;
      if (j > i && i > 0 && j < len) {
        units++;
        ok += ws_find(&d->train_words, text + i, j - i) >= 0;
      }
      i = j < len ? j + 1 : len;
    }
  }
  if (n_units) *n_units = units;
  return units ? (double)ok / units : NAN;
}
