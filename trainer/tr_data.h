/*
** tr_data.h: the training text (a file or the built-in synthetic corpus), its
** tokenizer, the train/validation split and the batches drawn from it.
**
** Contract:
** - Tokenizers: byte (vocab 256, token = byte value) or char (vocab = the distinct
**   Unicode code points of the whole text, sorted by code point, as nanoGPT's
**   shakespeare_char: tiny Shakespeare has 65). Char level requires strict UTF-8;
**   a multi-byte character is one token.
** - Split by position: tokens [0, n_train) train, [n_train, n) validate, with
**   n_train = (size_t)(n * (1 - val_fraction)) (nanoGPT's int(n*0.9)). Each split
**   must hold at least context_length + 1 tokens.
** - Tokens are stored compactly, one array, train split first: one byte per
**   token when the vocabulary has <= 256 entries (always for byte), two bytes
**   up to TR_DATA_MAX_CHAR_VOCAB (65,536) distinct characters, more is refused.
**   Callers get them widened to int (tr_data_tokens_copy, tr_data_batch).
** - data.path must be a regular file: a directory, device (/dev/zero) or FIFO is
**   refused before any read, naming what it is. The file is read with one
**   allocation of its stat size (a file growing meanwhile is cut there), after
**   checking that size against tr_mem_available; loading peaks at about the
**   file's size (plus twice the token count for a vocabulary above 256).
** - data.path "" selects the synthetic corpus: a first-order Markov chain over
**   pseudo-words plus a sentence end, all drawn from data.synthetic_seed. A word
**   is printed as its letters and a space, the sentence end as ".\n", so the text
**   is "ka lo mi .\nbe ta .\n" and maps one-to-one to the state sequence: its
**   entropy rate per byte is exactly H / L, H = sum_i pi_i H(P_i.) nats per
**   state, L = sum_i pi_i bytes(i), pi the stationary distribution (power
**   iteration in double). That is the best loss any model can reach in the
**   limit of long context (a window's first few positions cannot see the
**   previous word, so a model with context T sits slightly above it).
** - Same config => same text, tokens and batches on every machine (tr_rng only).
** - A TrVocab is what a checkpoint needs to encode prompts and decode samples
**   without the data: serialise it with tr_vocab_to_bytes (magic, version,
**   little-endian) and restore it with tr_vocab_from_bytes.
** - Errors are one line naming the file (or the synthetic corpus) and the
**   problem: missing file (strerror), not a regular file, not enough memory
**   (the figures), empty file, too short (the numbers), invalid UTF-8 (byte
**   offset), too many distinct characters, bad val_fraction.
** - TrData is immutable after create: every function taking a const TrData *
**   may be called from several threads at once.
*/
#ifndef TR_DATA_H
#define TR_DATA_H

#include <stddef.h>
#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"
#include "tr_rng.h"

enum { TR_SPLIT_TRAIN = 0, TR_SPLIT_VAL = 1 };
#define TR_DATA_MAX_CHAR_VOCAB 65536

/* ---- Vocabulary: tokens <-> text ----------------------------------------- */

typedef struct TrVocab TrVocab;

/* Tokenizer kind (TrTokenizer) and number of tokens. */
int tr_vocab_kind(const TrVocab *v);
int tr_vocab_size(const TrVocab *v);
/* Serialise into buf (may be NULL when n is 0). Returns the bytes needed; writes
** only if n is large enough. Format: "TRVOCAB\0", u32 version 1, u32 kind,
** u32 size, then (char level) size u32 code points ascending; all little-endian. */
size_t tr_vocab_to_bytes(const TrVocab *v, void *buf, size_t n);
/* Restore a vocabulary; rejects bad magic, version, sizes and unsorted or
** invalid code points with TR_EFORMAT. */
int tr_vocab_from_bytes(TrVocab **out, const void *buf, size_t n, TrErr *err);
void tr_vocab_destroy(TrVocab *v);
/* Text -> tokens. Writes min(count, cap) tokens and sets *n_out to the count
** (so cap 0 measures). Char level: invalid UTF-8 or a character not in the
** vocabulary is TR_EINVAL naming the byte offset (and the character). */
int tr_vocab_encode(const TrVocab *v, const char *text, size_t len, int *tokens, size_t cap,
                    size_t *n_out, TrErr *err);
/* Tokens -> text (char level: each token's UTF-8, 1-4 bytes). Writes at most cap
** bytes (no NUL) and returns the bytes needed; an out-of-range token decodes as
** U+FFFD (char) or is skipped (byte) so generation never fails on decode. */
size_t tr_vocab_decode(const TrVocab *v, const int *tokens, size_t n, char *buf, size_t cap);

/* ---- The data ------------------------------------------------------------ */

typedef struct TrData TrData;

/* Load (or generate) and tokenise; check that both splits hold context_length+1
** tokens. */
int tr_data_create(TrData **out, const TrDataConfig *cfg, int context_length, TrErr *err);
void tr_data_destroy(TrData *d);

/* A label for logs: the file path, or "synthetic(seed=S)". */
const char *tr_data_name(const TrData *d);
const TrVocab *tr_data_vocab(const TrData *d);
int tr_data_vocab_size(const TrData *d);
/* Tokens of a split: its count (0 for a bad split), and n tokens from start
** widened into out (TR_EINVAL for a bad split or range). */
size_t tr_data_split_size(const TrData *d, int split);
int tr_data_tokens_copy(const TrData *d, int split, size_t start, size_t n, int *out);
/* Bytes per stored token: 1 or 2 (see contract). */
int tr_data_token_width(const TrData *d);
/* Bytes the corpus of cfg takes in memory, without reading it: the file's
** size (a byte per token; a char vocabulary above 256 needs up to twice that,
** known only after reading), or the synthetic text's length. Refuses a
** data.path that is not a regular file, as tr_data_create does. */
int tr_data_memory(const TrDataConfig *cfg, uint64_t *bytes, TrErr *err);
/* Wrappers over the data's vocabulary. */
int tr_data_encode(const TrData *d, const char *text, size_t len, int *tokens, size_t cap,
                   size_t *n_out, TrErr *err);
size_t tr_data_decode(const TrData *d, const int *tokens, size_t n, char *buf, size_t cap);

/* B random windows of T+1 tokens of the split, start uniform over
** [0, n_split - T - 1] (tr_rng_below, one draw per row, rows in order):
** tokens (B, T) = window[0..T), targets (B, T) = window[1..T]. TR_EINVAL if the
** split is bad or shorter than T+1 tokens, B or T < 1. */
int tr_data_batch(const TrData *d, int split, TrRng *rng, int B, int T, int *tokens, int *targets);
/* The fixed evaluation windows: n_batches*B windows of the validation split,
** drawn as tr_data_batch does from a stream seeded by (seed, "eval") only, so
** every evaluation of every run with the same data and seed sees the same
** windows; window i does not depend on n_batches or B (rows are consecutive).
** tokens and targets are (n_batches, B, T). */
int tr_data_eval_batches(const TrData *d, uint64_t seed, int n_batches, int B, int T, int *tokens,
                         int *targets);

/* ---- Quality references -------------------------------------------------- */

/* The synthetic source's entropy rate in nats per token (per byte; the char
** tokenizer on this ASCII text gives the same), or NAN for a text file. */
double tr_data_entropy_rate(const TrData *d);
/* The true source's mean -log p in nats per byte of text (a split's decoded
** tokens, a model's sample): units are parsed from the first unit boundary on,
** the first complete unit only sets the state, the trailing partial unit is
** ignored. INFINITY if the text holds a unit the source cannot emit, NAN for a
** text-file corpus or text with fewer than two complete units. */
double tr_data_source_nll(const TrData *d, const char *text, size_t len);
/* Generation quality, in [0, 1], with *n_units (may be NULL) the units judged
** (NAN when 0).
** Synthetic: units are the '\n'-terminated sentences after the first '\n' (the
** leading one may have started in the prompt); a sentence is valid when it reads
** exactly "w1 w2 ... wk .\n" (k >= 1, single spaces) with every word known and
** every transition (sentence start -> w1 -> ... -> wk -> end) allowed.
** Text file: units are the maximal runs of ASCII letters or non-ASCII bytes,
** except a run touching the start or end of text (possibly cut); valid when the
** run occurs as a whole word in the training split (case-sensitive). */
double tr_data_valid_fraction(const TrData *d, const char *text, size_t len, int *n_units);

#endif
