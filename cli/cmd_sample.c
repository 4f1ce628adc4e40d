/*
** cmd_sample.c: `hpsweep sample CHECKPOINT [options]`: stream text from a
** trained model; `hpsweep sample --bench`: KV cache against full recompute.
*/
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tr_blas.h"
#include "tr_config.h"
#include "tr_model.h"
#include "tr_os.h"
#include "tr_sample.h"

#define CMD "hpsweep sample"

/* Each option that maps to a sample.* key. */
static const struct {
  const char *flag, *key;
} key_flags[] = {
    {"--max-tokens", "sample.max_tokens"},
    {"--temperature", "sample.temperature"},
    {"--top-k", "sample.top_k"},
    {"--top-p", "sample.top_p"},
    {"--min-p", "sample.min_p"},
    {"--frequency-penalty", "sample.frequency_penalty"},
    {"--presence-penalty", "sample.presence_penalty"},
    {"--repetition-penalty", "sample.repetition_penalty"},
    {"--stop", "sample.stop"},
    {"--seed", "sample.seed"},
    {"-n", "sample.n_samples"},
};
#define N_KEY_FLAGS (sizeof key_flags / sizeof key_flags[0])

typedef struct Stream {
  const TrVocab *vocab;
} Stream;

static int put_token(void *ud, int tok) {
  Stream *st = ud;
  char buf[8];
  size_t n = tr_vocab_decode(st->vocab, &tok, 1, buf, sizeof buf);
  fwrite(buf, 1, n, stdout);
  fflush(stdout);
  return 0;
}

static char *read_file(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    fprintf(stderr, CMD ": %s: %s\n", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - n, f);
    if (n < cap) break;
    char *nb = realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    fprintf(stderr, CMD ": %s: %s\n", path, buf ? "read error" : "out of memory");
    free(buf);
    return NULL;
  }
  *len = n;
  return buf;
}

/* Wall and process CPU seconds: on a shared machine CPU time is the steadier
   figure (one BLAS thread, so CPU ~ wall when the machine is idle). */
typedef struct Clock {
  double wall, cpu;
} Clock;

static Clock clock_now(void) {
  Clock c = {tr_clock_mono(), tr_clock_cpu()};
  return c;
}

static Clock clock_since(Clock t0) {
  Clock t = clock_now();
  t.wall -= t0.wall;
  t.cpu -= t0.cpu;
  return t;
}

/* ---- --bench ------------------------------------------------------------------ */

/* Tokens/s of generating n_gen tokens from a 1-token prompt: with the KV cache
   (tr_sample_generate) and by a full forward of the last <= T tokens per token. */
static int bench_one(const char *name, int L, int NH, int C, int T, int n_gen, int full_cap) {
  TrModelConfig mc = {0};
  mc.n_layer = L;
  mc.n_head = NH;
  mc.d_model = C;
  mc.context_length = T;
  mc.mlp_ratio = 4;
  mc.bias = 1;
  mc.vocab_size = 256;
  TrModel *m = NULL;
  TrSampler *smp = NULL;
  TrErr err = {0};
  if (tr_model_create(&m, &mc, 1, &err) || tr_sampler_create(&smp, m, &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    tr_model_destroy(m);
    return 1;
  }
  TrRng r;
  tr_rng_seed(&r, 1);
  tr_model_init(m, &r);
  TrConfig cfg;
  tr_config_defaults(&cfg);
  TrSampleConfig s = cfg.sample;
  s.temperature = 1.0;
  int prompt = 10;
  TrSampleOut so;
  tr_rng_seed(&r, 2);
  Clock t0 = clock_now();
  tr_sample_generate(smp, &s, NULL, &prompt, 1, 10, n_gen, &r, NULL, NULL, NULL, &so, &err);
  Clock kv = clock_since(t0);

  /* full recompute: the window is the last T tokens of the sequence, every token */
  int n_full = n_gen < full_cap ? n_gen : full_cap;
  int *seq = malloc(((size_t)n_full + 1) * sizeof *seq);
  double *probs = malloc(256 * sizeof *probs);
  if (!seq || !probs) {
    free(seq);
    free(probs);
    tr_sampler_destroy(smp);
    tr_model_destroy(m);
    return 1;
  }
  seq[0] = prompt;
  tr_rng_seed(&r, 2);
  t0 = clock_now();
  for (int i = 0; i < n_full; i++) {
    int len = i + 1, from = len > T ? len - T : 0;
    tr_model_forward(m, seq + from, NULL, 1, len - from, 0, NULL);
    seq[i + 1] = tr_sample_next(&s, tr_model_logits(m) + (size_t)(len - from - 1) * 256, 256, NULL, probs, &r);
  }
  Clock full = clock_since(t0);
  double kv_w = so.n_tokens / kv.wall, kv_c = so.n_tokens / kv.cpu;
  double full_w = n_full / full.wall, full_c = n_full / full.cpu;
  printf("| %s | %.2fM | %d | %d | %.0f / %.0f | %d | %.1f / %.1f | %.1fx / %.1fx |\n", name,
         (double)tr_model_num_params(m) / 1e6, T, so.n_tokens, kv_w, kv_c, n_full, full_w, full_c,
         kv_w / full_w, kv_c / full_c);
  fflush(stdout);
  free(seq);
  free(probs);
  tr_sampler_destroy(smp);
  tr_model_destroy(m);
  return 0;
}

static int bench_main(int full_cap) {
  openblas_set_num_threads(1);
  printf("generation from a 1-token prompt, random weights, vocab 256, 1 thread; the KV cache\n"
         "generates 2*context tokens (the second half slides the window), full recompute runs\n"
         "a forward of the last <= context tokens per token");
  if (full_cap < 1 << 30) printf(" (first %d tokens only)", full_cap);
  printf("\n\n");
  printf("tokens/s and speed-up are given as wall / CPU time\n\n");
  printf("| model | params | context | KV tokens | KV tok/s | full tokens | full tok/s | speed-up |\n"
         "|---|---|---|---|---|---|---|---|\n");
  int rc = bench_one("T (4L 4H 128d)", 4, 4, 128, 64, 128, full_cap);
  if (!rc) rc = bench_one("S (6L 6H 384d)", 6, 6, 384, 256, 512, full_cap);
  return rc;
}

/* ---- sample ------------------------------------------------------------------- */

static int sample_main(int argc, char **argv) {
  const char *ckpt = NULL, *prompt = NULL, *prompt_file = NULL;
  const char *vals[N_KEY_FLAGS] = {0};
  int bench = 0, threads = 1, full_cap = 1 << 30;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!strcmp(a, "--bench")) {
      bench = 1;
      continue;
    }
    if (a[0] != '-' || !a[1]) {
      if (ckpt) {
        fprintf(stderr, CMD ": more than one checkpoint ('%s' and '%s')\n", ckpt, a);
        return 2;
      }
      ckpt = a;
      continue;
    }
    size_t k = 0;
    while (k < N_KEY_FLAGS && strcmp(a, key_flags[k].flag)) k++;
    int known = k < N_KEY_FLAGS || !strcmp(a, "--prompt") || !strcmp(a, "--prompt-file") ||
                !strcmp(a, "--threads") || !strcmp(a, "--bench-full-tokens");
    if (!known) {
      fprintf(stderr, CMD ": unknown option '%s' (see 'hpsweep sample --help')\n", a);
      return 2;
    }
    if (i + 1 >= argc) {
      fprintf(stderr, CMD ": %s needs a value\n", a);
      return 2;
    }
    const char *v = argv[++i];
    if (k < N_KEY_FLAGS)
      vals[k] = v;
    else if (!strcmp(a, "--prompt"))
      prompt = v;
    else if (!strcmp(a, "--prompt-file"))
      prompt_file = v;
    else {
      char *end;
      errno = 0;
      long n = strtol(v, &end, 10);
      if (*end || end == v || errno || n < 1 || n > 1 << 20) {
        fprintf(stderr, CMD ": %s: '%s' is not a positive integer\n", a, v);
        return 2;
      }
      if (!strcmp(a, "--threads"))
        threads = (int)n;
      else
        full_cap = (int)n;
    }
  }
  if (bench) return bench_main(full_cap);
  if (!ckpt) {
    fprintf(stderr, CMD ": no checkpoint given (usage: hpsweep sample CHECKPOINT [options])\n");
    return 2;
  }
  if (prompt && prompt_file) {
    fprintf(stderr, CMD ": --prompt and --prompt-file exclude each other\n");
    return 2;
  }
  TrConfig cfg;
  TrModel *m = NULL;
  TrVocab *vocab = NULL;
  TrSampler *smp = NULL;
  TrErr err = {0};
  char *ptext = NULL;
  int *ptoks = NULL, rc = 2;
  if (tr_sample_load(ckpt, &cfg, &m, &vocab, &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    goto done;
  }
  for (size_t k = 0; k < N_KEY_FLAGS; k++)
    if (vals[k] && tr_config_set(&cfg, key_flags[k].key, vals[k], &err)) {
      fprintf(stderr, CMD ": %s: %s\n", key_flags[k].flag, err.msg);
      goto done;
    }
  if (tr_config_validate(&cfg, &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    goto done;
  }
  size_t plen = 0;
  if (prompt_file) {
    if (!(ptext = read_file(prompt_file, &plen))) goto done;
  } else if (prompt) {
    plen = strlen(prompt);
    if (!(ptext = malloc(plen + 1))) goto done;
    memcpy(ptext, prompt, plen + 1);
  }
  size_t ntok = 0;
  if (plen && tr_vocab_encode(vocab, ptext, plen, NULL, 0, &ntok, &err) == TR_OK && ntok) {
    if (!(ptoks = malloc(ntok * sizeof *ptoks))) goto done;
    tr_vocab_encode(vocab, ptext, plen, ptoks, ntok, &ntok, &err);
  }
  if (err.code) {
    fprintf(stderr, CMD ": prompt: %s\n", err.msg);
    goto done;
  }
  if (tr_sampler_create(&smp, m, &err)) {
    fprintf(stderr, CMD ": %s\n", err.msg);
    goto done;
  }
  openblas_set_num_threads(threads);
  const TrSampleConfig *s = &cfg.sample;
  Stream st = {vocab};
  int start = tr_sample_start_token(vocab);
  for (int i = 0; i < s->n_samples; i++) {
    if (i) fputs("\n---\n", stdout);
    if (plen) fwrite(ptext, 1, plen, stdout);
    fflush(stdout);
    TrRng r;
    tr_rng_seed2(&r, (uint64_t)s->seed, (uint64_t)i);
    TrSampleOut so;
    if (tr_sample_generate(smp, s, vocab, ptoks, (int)ntok, start, s->max_tokens, &r, NULL, put_token,
                           &st, &so, &err)) {
      fprintf(stderr, CMD ": %s\n", err.msg);
      rc = 1;
      goto done;
    }
  }
  fputc('\n', stdout);
  rc = 0;
done:
  free(ptext);
  free(ptoks);
  tr_sampler_destroy(smp);
  tr_model_destroy(m);
  tr_vocab_destroy(vocab);
  return rc;
}

const HpsCmd hps_cmd_sample = {
    "sample", sample_main, "generate text from a checkpoint",
    "usage: hpsweep sample CHECKPOINT [--prompt TEXT | --prompt-file F] [--max-tokens N]\n"
    "                      [--temperature T] [--top-k K] [--top-p P] [--min-p P]\n"
    "                      [--frequency-penalty F] [--presence-penalty P]\n"
    "                      [--repetition-penalty R] [--stop STR] [--seed S] [-n SAMPLES]\n"
    "                      [--threads N]\n"
    "       hpsweep sample --bench [--bench-full-tokens N]\n"
    "\n"
    "Stream text from a trained model (a checkpoint written by 'hpsweep train' with\n"
    "train.out_dir set): the prompt, then each token as it is generated. Defaults come\n"
    "from the checkpoint's `sample` section; each option overrides one sample.* key.\n"
    "\n"
    "  --prompt TEXT          text to continue; none = start from a newline token\n"
    "                         (token 0 if the vocabulary has no newline)\n"
    "  --prompt-file F        read the prompt from a file\n"
    "  --max-tokens N         tokens to generate per sample\n"
    "  --temperature T        0 = greedy (argmax)\n"
    "  --top-k K              keep the K most likely tokens (0 = off)\n"
    "  --top-p P              keep the smallest set reaching probability P (1 = off)\n"
    "  --min-p P              drop tokens below P times the top probability (0 = off)\n"
    "  --frequency-penalty F  minus F times the token's count in the generated text\n"
    "  --presence-penalty P   minus P for every token already generated\n"
    "  --repetition-penalty R CTRL: generated tokens' logits / R (positive) or * R\n"
    "  --stop STR             end a sample after STR is generated (STR is printed)\n"
    "  --seed S               sample i draws from stream (S, i)\n"
    "  -n SAMPLES             samples, separated by a line '---'\n"
    "  --threads N            OpenBLAS threads (default 1)\n"
    "  --bench                tokens/s with the KV cache against full recompute on two\n"
    "                         random-weight models (no checkpoint needed)\n"
    "\n"
    "Order of the filters: penalties, temperature, top-k, top-p, min-p. A prompt longer\n"
    "than the context keeps its last tokens; past the context the window slides.\n"
    "Exit status: 0 ok, 2 bad option or checkpoint.\n"};
