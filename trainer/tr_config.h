/*
** tr_config.h: TrConfig, every training (and sampling) setting, and the key registry.
**
** Contract:
** - TrConfig is plain data (no pointers): copy it, fork it, hash it, store it.
** - Every setting has a dotted name ("optimizer.lr") in one registry table, with
**   its type, default, range and one-line doc. YAML files, `--set key=value`,
**   sweep parameters and docs/config.md's key table all go through that table.
** - tr_config_defaults() gives a config that trains the quickstart model on the
**   built-in synthetic corpus. Loading YAML or setting keys only overwrites the
**   keys named; tr_config_validate() then checks cross-key rules.
** - Errors name the key, the value, and for YAML the file:line:column, and for an
**   unknown key the closest valid one ("did you mean 'optimizer.lr'?").
*/
#ifndef TR_CONFIG_H
#define TR_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "tr_err.h"
#include "tr_yaml.h"

#define TR_PATH_MAX 1024
#define TR_MAX_MILESTONES 16
#define TR_SAMPLE_STOP_MAX 64

/* Enumerations: the registry spells them; the order of each *_NAMES string is the enum order. */
typedef enum { TR_TOK_BYTE, TR_TOK_CHAR } TrTokenizer;
#define TR_TOKENIZER_NAMES "byte|char"

typedef enum { TR_OPT_SGD, TR_OPT_ADAM, TR_OPT_ADAMW, TR_OPT_RMSPROP, TR_OPT_LION } TrOptimName;
#define TR_OPTIM_NAMES "sgd|adam|adamw|rmsprop|lion"

typedef enum { TR_PARAM_STANDARD, TR_PARAM_MUP } TrParametrization;
#define TR_PARAMETRIZATION_NAMES "standard|mup"

typedef enum { TR_WD_MATRICES, TR_WD_ALL } TrWdOn;
#define TR_WD_ON_NAMES "matrices|all"

typedef enum { TR_LRS_NONE, TR_LRS_LINEAR, TR_LRS_SQRT } TrLrScaling;
#define TR_LR_SCALING_NAMES "none|linear|sqrt"

typedef enum {
  TR_SCHED_CONSTANT, TR_SCHED_STEP, TR_SCHED_MULTISTEP, TR_SCHED_EXPONENTIAL, TR_SCHED_COSINE,
  TR_SCHED_LINEAR, TR_SCHED_INVERSE_SQRT, TR_SCHED_WSD, TR_SCHED_ONE_CYCLE
} TrSchedName;
#define TR_SCHED_NAMES "constant|step|multistep|exponential|cosine|linear|inverse_sqrt|wsd|one_cycle"

typedef enum { TR_SHAPE_LINEAR, TR_SHAPE_COSINE } TrDecayShape;
#define TR_DECAY_SHAPE_NAMES "linear|cosine"

typedef struct TrDataConfig {
  char path[TR_PATH_MAX];    /* text file; "" = the built-in synthetic corpus */
  int tokenizer;             /* TrTokenizer */
  double val_fraction;       /* last fraction of the tokens is the validation split */
  int64_t synthetic_seed;    /* seed of the synthetic source (grammar and text) */
  int64_t synthetic_bytes;   /* length of the generated text */
  int synthetic_words;       /* vocabulary of the synthetic word source */
  int synthetic_branching;   /* successors per word in the synthetic source */
} TrDataConfig;

typedef struct TrModelConfig {
  int n_layer;
  int n_head;
  int d_model;               /* must be a multiple of n_head */
  int context_length;        /* T: positions per sequence */
  int mlp_ratio;             /* MLP hidden = mlp_ratio * d_model */
  int bias;                  /* biases in linear layers and LayerNorms */
  double dropout;            /* on embeddings, attention weights, residual branches */
  int parametrization;       /* TrParametrization: standard, or muP (tr_model.h) */
  int mup_base_width;        /* muP base width; 0 = d_model (width multiplier 1) */
  int vocab_size;            /* not a key: set from the data (256 bytes or #chars) */
} TrModelConfig;

typedef struct TrOptimConfig {
  int name;                  /* TrOptimName */
  double lr;                 /* peak / base learning rate */
  double betas[2];           /* adam/adamw/lion: (beta1, beta2) */
  double eps;
  double weight_decay;
  int weight_decay_on;       /* TrWdOn */
  double grad_clip;          /* max global grad norm; 0 = off */
  double momentum;           /* sgd, rmsprop */
  int nesterov;              /* sgd */
  double dampening;          /* sgd */
  double alpha;              /* rmsprop smoothing */
  int centered;              /* rmsprop */
  int lr_scaling;            /* TrLrScaling: scale lr from base_batch_size to batch_size */
  int base_batch_size;
} TrOptimConfig;

typedef struct TrScheduleConfig {
  int name;                  /* TrSchedName */
  int warmup_steps;          /* linear warm-up, combined with any schedule */
  double warmup_start_factor;/* lr multiplier at step 0 of the warm-up */
  double min_lr;             /* floor of cosine / linear / wsd decay */
  int decay_steps;           /* cosine/linear: steps of decay after warm-up; 0 = rest of the run */
  int step_size;             /* step */
  double gamma;              /* step, multistep, exponential */
  int milestones[TR_MAX_MILESTONES]; /* multistep, strictly increasing */
  int n_milestones;
  double decay_fraction;     /* wsd: final fraction of the run spent decaying */
  int decay_shape;           /* wsd: TrDecayShape */
  double max_lr;             /* one_cycle peak; 0 = optimizer.lr */
  double pct_start;          /* one_cycle */
  double div_factor;         /* one_cycle: initial lr = max_lr / div_factor */
  double final_div_factor;   /* one_cycle: final lr = initial lr / final_div_factor */
} TrScheduleConfig;

typedef struct TrTrainConfig {
  int batch_size;            /* sequences per optimizer step */
  int micro_batch_size;      /* sequences per forward/backward; 0 = batch_size */
  int64_t max_steps;         /* 0 = no step limit */
  int64_t max_tokens;        /* 0 = no token limit */
  double max_seconds;        /* 0 = no time limit */
  int eval_interval;         /* steps between validation evaluations (and at the end) */
  int eval_batches;          /* fixed validation batches per evaluation */
  int log_interval;          /* steps between log lines / metric rows */
  int64_t seed;              /* init, batches, dropout */
  int threads;               /* the one pool's threads (OpenBLAS and the kernels); 0 = all cores */
  char out_dir[TR_PATH_MAX]; /* checkpoints and run files; "" = none written */
  int checkpoint_interval;   /* steps; 0 = only the final checkpoint (when out_dir is set) */
  double divergence_factor;  /* loss > factor * best loss after warm-up = diverged */
} TrTrainConfig;

typedef struct TrSampleConfig {
  double temperature;        /* 0 = greedy */
  int top_k;                 /* 0 = off */
  double top_p;              /* 1 = off */
  double min_p;              /* 0 = off */
  int max_tokens;
  double frequency_penalty;
  double presence_penalty;
  double repetition_penalty; /* 1 = off (CTRL) */
  char stop[TR_SAMPLE_STOP_MAX]; /* "" = none */
  int64_t seed;
  int n_samples;             /* samples per prompt (inference sweeps) */
  int n_prompts;             /* prompts drawn from the validation split */
  int prompt_tokens;         /* length of each prompt */
} TrSampleConfig;

typedef struct TrConfig {
  TrDataConfig data;
  TrModelConfig model;
  TrOptimConfig optimizer;
  TrScheduleConfig schedule;
  TrTrainConfig train;
  TrSampleConfig sample;
} TrConfig;

/* ---- The key registry ---------------------------------------------------- */

typedef enum { TR_KEY_INT, TR_KEY_I64, TR_KEY_FLOAT, TR_KEY_BOOL, TR_KEY_STR, TR_KEY_ENUM,
               TR_KEY_FLOAT2, TR_KEY_INTLIST } TrKeyType;

typedef struct TrKey {
  const char *name;     /* dotted: "optimizer.lr" */
  TrKeyType type;
  size_t offset;        /* into TrConfig */
  size_t size;          /* STR: buffer size; INTLIST: capacity */
  size_t count_offset;  /* INTLIST: offset of its int count */
  const char *def;      /* default, as YAML text (documentation; defaults() is the truth) */
  double min, max;      /* numeric range, inclusive unless the doc says otherwise */
  const char *choices;  /* ENUM: "a|b|c" in enum order */
  const char *doc;      /* one line for docs/config.md and `hpsweep help config` */
} TrKey;

/* The table, in canonical (documentation and JSON) order. */
const TrKey *tr_config_keys(size_t *n);
/* Exact lookup; NULL if none. */
const TrKey *tr_config_key_find(const char *name);
/* The closest key name to a bad one (edit distance), or NULL if nothing is close. */
const char *tr_config_key_suggest(const char *bad);

/* Levenshtein distance (strings over 64 bytes count as far apart). */
size_t tr_edit_distance(const char *a, const char *b);
/* The closest name of a NULL-terminated list, or NULL when nothing is close: for every
** "did you mean" in hpsweep (config keys, spec keys, enum values). */
const char *tr_closest(const char *bad, const char *const *names);

void tr_config_defaults(TrConfig *c);

/* Set one key from text, as `--set key=value` does ("3e-4", "[0.9, 0.95]", "true", "cosine"). */
int tr_config_set(TrConfig *c, const char *key, const char *value, TrErr *err);
/* Set one key from a YAML node; errors carry file:line:col of the node. */
int tr_config_set_node(TrConfig *c, const TrKey *k, const TrYamlNode *v, const char *file, TrErr *err);
/* Apply a YAML mapping (sections of keys, or dotted keys) over c. */
int tr_config_apply_yaml(TrConfig *c, const TrYamlNode *root, const char *file, TrErr *err);
/* defaults + file (path may be NULL or "" for defaults only). */
int tr_config_load(TrConfig *c, const char *path, TrErr *err);
/* Apply YAML or JSON text (a mapping, dotted keys allowed) on top of c; `name` for messages. */
int tr_config_apply_text(TrConfig *c, const char *text, const char *name, TrErr *err);
/* Cross-key rules (d_model % n_head, micro batch divides batch, milestones order...). */
int tr_config_validate(const TrConfig *c, TrErr *err);

/* Steps the budget allows: min(max_steps, ceil(max_tokens / (batch * T))); 0 = time-only. */
int64_t tr_config_total_steps(const TrConfig *c);

/* A key's value as YAML/JSON text ("0.001", "[0.9, 0.99]", "\"cosine\""). json=1 quotes strings.
** TR_CONFIG_TEXT_MAX holds any value: a string of TR_PATH_MAX-1 control bytes quoted as
** \u00XX each, plus the quotes. */
#define TR_CONFIG_TEXT_MAX (TR_PATH_MAX * 6 + 8)
int tr_config_value_text(const TrConfig *c, const TrKey *k, int json, char *buf, size_t n);
/* Canonical JSON of every key, nested by section, in registry order, except keys added after
** the first release while at their defaults (model.parametrization, model.mup_base_width: hashes
** of configs that do not use them stay as they were). Returns bytes needed (excl. NUL). */
size_t tr_config_to_json(const TrConfig *c, char *buf, size_t n);
/* FNV-1a 64 of the canonical JSON: identifies a configuration. */
uint64_t tr_config_hash(const TrConfig *c);
/* The number of threads a run will use (threads, or all cores when 0). */
int tr_config_threads(const TrConfig *c);

#endif
