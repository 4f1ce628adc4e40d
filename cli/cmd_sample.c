/*
** cmd_sample.c: `hpsweep sample CHECKPOINT [options]`: stream text from a
** trained model; `hpsweep sample --bench`: KV cache against full recompute.
*/
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "tr_alloc.h"
#include "tr_bench.h"
#include "tr_blas.h"
#include "tr_config.h"
#include "tr_mem.h"
#include "tr_model.h"
#include "tr_sample.h"


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

/* The options of one `hpsweep sample`. */
typedef struct SampleOpts {
  const char *ckpt, *prompt, *prompt_file;
  const char *vals[N_KEY_FLAGS]; /* by key_flags index; NULL = the checkpoint's */
  int bench;
  long threads, full_cap;
} SampleOpts;

static int sample_parse(SampleOpts *o, int argc, char **argv) {
  HpsOpt opts[N_KEY_FLAGS + 6] = {
      HPS_OPT_FLAG("--bench", NULL, &o->bench), HPS_OPT_STRING("--prompt", NULL, &o->prompt),
      HPS_OPT_STRING("--prompt-file", NULL, &o->prompt_file), HPS_OPT_INT("--threads", NULL, &o->threads, 1, 1 << 20),
      HPS_OPT_INT("--bench-full-tokens", NULL, &o->full_cap, 1, 1 << 20)};
  for (size_t k = 0; k < N_KEY_FLAGS; k++) /* the last entry stays the zero end marker */
    opts[5 + k] = (HpsOpt)HPS_OPT_STRING(key_flags[k].flag, NULL, &o->vals[k]);
  if (hps_opts_parse(argc, argv, opts, &o->ckpt, 1)) return 2;
  if (o->bench) return 0;
  if (!o->ckpt) return hps_error_usage("sample", "no checkpoint given");
  if (o->prompt && o->prompt_file) return hps_error_usage("sample", "--prompt and --prompt-file exclude each other");
  return 0;
}

static int bench_main(int full_cap) {
  printf("generation from a 1-token prompt, random weights, vocab 256, 1 thread; the KV cache\n"
         "generates 2*context tokens (the second half slides the window), full recompute runs\n"
         "a forward of the last <= context tokens per token");
  if (full_cap < 1 << 30) printf(" (first %d tokens only)", full_cap);
  printf("\n\n");
  printf("tokens/s and speed-up are given as wall / CPU time\n\n");
  printf("| model | params | context | KV tokens | KV tok/s | full tokens | full tok/s | speed-up |\n"
         "|---|---|---|---|---|---|---|---|\n");
  static const char *const shapes[2][2] = {{"T", "T (4L 4H 128d)"}, {"S", "S (6L 6H 384d)"}};
  for (int i = 0; i < 2; i++) {
    TrSampleBenchResult r;
    TrErr err = {0};
    if (tr_bench_sample(shapes[i][0], 1, full_cap, &r, &err)) {
      hps_error("sample", "%s", err.msg);
      return 1;
    }
    double kv_w = r.kv_tokens / r.kv_wall, kv_c = r.kv_tokens / r.kv_cpu;
    double full_w = r.full_tokens / r.full_wall, full_c = r.full_tokens / r.full_cpu;
    printf("| %s | %.2fM | %d | %d | %.0f / %.0f | %d | %.1f / %.1f | %.1fx / %.1fx |\n", shapes[i][1],
           (double)r.params / 1e6, r.context, r.kv_tokens, kv_w, kv_c, r.full_tokens, full_w, full_c,
           kv_w / full_w, kv_c / full_c);
    fflush(stdout);
  }
  return 0;
}

/* ---- sample ------------------------------------------------------------------- */

/* What generation needs: the checkpoint's model and vocabulary, its config with
** the options applied, and the prompt as text and tokens. */
typedef struct Sampling {
  TrConfig cfg;
  TrModel *m;
  TrVocab *vocab;
  TrSampler *smp;
  char *ptext;
  size_t plen;
  int *ptoks;
  size_t ntok;
} Sampling;

/* Load the checkpoint and apply the sample.* options: 0 or 2 (message printed). */
static int sample_load(Sampling *g, const SampleOpts *o) {
  TrErr err = {0};
  if (tr_sample_load(o->ckpt, &g->cfg, &g->m, &g->vocab, &err)) {
    hps_error("sample", "%s", err.msg);
    return 2;
  }
  for (size_t k = 0; k < N_KEY_FLAGS; k++)
    if (o->vals[k] && tr_config_set(&g->cfg, key_flags[k].key, o->vals[k], &err)) {
      hps_error("sample", "%s: %s", key_flags[k].flag, err.msg);
      return 2;
    }
  if (tr_config_validate(&g->cfg, &err) || tr_sampler_create(&g->smp, g->m, &err)) {
    hps_error("sample", "%s", err.msg);
    return 2;
  }
  return 0;
}

/* The prompt's text (from --prompt or --prompt-file) and its tokens: 0 or 2. */
static int sample_prompt(Sampling *g, const SampleOpts *o) {
  if (o->prompt_file) {
    if (!(g->ptext = hps_read_file("sample", o->prompt_file, &g->plen))) return 2;
  } else if (o->prompt) {
    g->plen = strlen(o->prompt);
    if (!(g->ptext = tr_strdup(o->prompt))) {
      hps_error("sample", "out of memory");
      return 2;
    }
  }
  TrErr err = {0};
  if (g->plen && tr_vocab_encode(g->vocab, g->ptext, g->plen, NULL, 0, &g->ntok, &err) == TR_OK && g->ntok) {
    if (!(g->ptoks = tr_malloc(g->ntok * sizeof *g->ptoks))) {
      hps_error("sample", "out of memory");
      return 2;
    }
    tr_vocab_encode(g->vocab, g->ptext, g->plen, g->ptoks, g->ntok, &g->ntok, &err);
  }
  if (err.code) {
    hps_error("sample", "prompt: %s", err.msg);
    return 2;
  }
  return 0;
}

static int put_token(void *ud, int tok) {
  const TrVocab *vocab = ud;
  char buf[8];
  size_t n = tr_vocab_decode(vocab, &tok, 1, buf, sizeof buf);
  fwrite(buf, 1, n, stdout);
  fflush(stdout);
  return 0;
}

/* Stream the samples: each is the prompt, then its tokens as they come. 0 or 1. */
static int sample_stream(Sampling *g) {
  const TrSampleConfig *s = &g->cfg.sample;
  int start = tr_sample_start_token(g->vocab);
  for (int i = 0; i < s->n_samples; i++) {
    if (i) fputs("\n---\n", stdout);
    if (g->plen) fwrite(g->ptext, 1, g->plen, stdout);
    fflush(stdout);
    TrRng r;
    tr_rng_seed2(&r, (uint64_t)s->seed, (uint64_t)i);
    TrSampleOut so;
    TrErr err = {0};
    if (tr_sample_generate(g->smp, s, g->vocab, g->ptoks, (int)g->ntok, start, s->max_tokens, &r, NULL, put_token,
                           g->vocab, &so, &err)) {
      hps_error("sample", "%s", err.msg);
      return 1;
    }
  }
  fputc('\n', stdout);
  return 0;
}

static int sample_main(int argc, char **argv) {
  hps_cpu_notice(); /* HPSWEEP_CPU ignored: say it once */
  SampleOpts o = {.threads = 1, .full_cap = 1 << 30};
  int rc = sample_parse(&o, argc, argv);
  if (rc) return rc;
  if (o.bench) return bench_main((int)o.full_cap);
  Sampling g = {0};
  if (!(rc = sample_load(&g, &o)) && !(rc = sample_prompt(&g, &o))) {
    TrErr err = {0};
    if (tr_mem_threads_set((int)o.threads, &err)) hps_error("sample", "%s", err.msg), rc = 2;
    else rc = sample_stream(&g);
  }
  free(g.ptext);
  free(g.ptoks);
  tr_sampler_destroy(g.smp);
  tr_model_destroy(g.m);
  tr_vocab_destroy(g.vocab);
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
    "  --threads N            threads of OpenBLAS and the kernels, one pool (default 1)\n"
    "  --bench                tokens/s with the KV cache against full recompute on two\n"
    "                         random-weight models (no checkpoint needed)\n"
    "\n"
    "Order of the filters: penalties, temperature, top-k, top-p, min-p. A prompt longer\n"
    "than the context keeps its last tokens; past the context the window slides.\n"
    "Exit status: 0 ok, 2 bad option or checkpoint, or threads that cannot fit under ulimit -v.\n"};
