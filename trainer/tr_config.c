/*
** tr_config.c: the key registry and everything that reads or writes TrConfig.
** One table drives YAML loading, --set, sweep parameters, JSON and the docs, so
** a key added here is everywhere at once.
*/
#include "tr_config.h"

#include "tr_alloc.h"
#include "tr_json.h"
#include "tr_optim.h"
#include "tr_schedule.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define OFF(f) offsetof(TrConfig, f)
#define SZ(f) sizeof(((TrConfig *)0)->f)
#define BIG 1e300

/* name, type, offset, size, count_offset, default, min, max, choices, doc */
static const TrKey keys[] = {
    {"data.path", TR_KEY_STR, OFF(data.path), SZ(data.path), 0, "\"\"", 0, 0, NULL,
     "text file to train on; empty = the built-in synthetic corpus"},
    {"data.tokenizer", TR_KEY_ENUM, OFF(data.tokenizer), 0, 0, "byte", 0, 0, TR_TOKENIZER_NAMES,
     "byte: vocab 256; char: the distinct characters of the file (UTF-8)"},
    {"data.val_fraction", TR_KEY_FLOAT, OFF(data.val_fraction), 0, 0, "0.1", 0, 1, NULL,
     "last fraction of the tokens held out for validation, in (0, 1)"},
    {"data.synthetic_seed", TR_KEY_I64, OFF(data.synthetic_seed), 0, 0, "1", 0, 9.2e18, NULL,
     "seed of the synthetic source (its vocabulary, transitions and text)"},
    {"data.synthetic_bytes", TR_KEY_I64, OFF(data.synthetic_bytes), 0, 0, "1000000", 1000, 1e9, NULL,
     "length of the generated synthetic text in bytes"},
    {"data.synthetic_words", TR_KEY_INT, OFF(data.synthetic_words), 0, 0, "200", 1, 10000, NULL,
     "number of distinct words in the synthetic source"},
    {"data.synthetic_branching", TR_KEY_INT, OFF(data.synthetic_branching), 0, 0, "32", 1, 256, NULL,
     "allowed successors per word in the synthetic source (lower = more predictable)"},

    {"model.n_layer", TR_KEY_INT, OFF(model.n_layer), 0, 0, "2", 1, 64, NULL, "transformer blocks"},
    {"model.n_head", TR_KEY_INT, OFF(model.n_head), 0, 0, "4", 1, 256, NULL,
     "attention heads per block; must divide d_model"},
    {"model.d_model", TR_KEY_INT, OFF(model.d_model), 0, 0, "64", 1, 8192, NULL, "embedding width"},
    {"model.context_length", TR_KEY_INT, OFF(model.context_length), 0, 0, "64", 1, 8192, NULL,
     "tokens per sequence (T)"},
    {"model.mlp_ratio", TR_KEY_INT, OFF(model.mlp_ratio), 0, 0, "4", 1, 64, NULL,
     "MLP hidden width = mlp_ratio * d_model"},
    {"model.bias", TR_KEY_BOOL, OFF(model.bias), 0, 0, "true", 0, 0, NULL,
     "biases in linear layers and LayerNorms"},
    {"model.dropout", TR_KEY_FLOAT, OFF(model.dropout), 0, 0, "0.0", 0, 1, NULL,
     "dropout on embeddings, attention weights and residual branches, in [0, 1)"},
    {"model.parametrization", TR_KEY_ENUM, OFF(model.parametrization), 0, 0, "standard", 0, 0,
     TR_PARAMETRIZATION_NAMES, "standard, or mup: the maximal update parametrization (see docs/training.md)"},
    {"model.mup_base_width", TR_KEY_INT, OFF(model.mup_base_width), 0, 0, "0", 0, 8192, NULL,
     "mup: the d_model at which lr and init are tuned; 0 = d_model (ignored under standard)"},

    {"optimizer.name", TR_KEY_ENUM, OFF(optimizer.name), 0, 0, "adamw", 0, 0, TR_OPTIM_NAMES,
     "the optimizer"},
    {"optimizer.lr", TR_KEY_FLOAT, OFF(optimizer.lr), 0, 0, "0.001", 0, 100, NULL,
     "peak learning rate (> 0), before lr_scaling"},
    {"optimizer.betas", TR_KEY_FLOAT2, OFF(optimizer.betas), 0, 0, "[0.9, 0.99]", 0, 1, NULL,
     "adam, adamw, lion: [beta1, beta2], each in [0, 1)"},
    {"optimizer.eps", TR_KEY_FLOAT, OFF(optimizer.eps), 0, 0, "1e-8", 0, 1, NULL,
     "adam, adamw, rmsprop: denominator epsilon (> 0)"},
    {"optimizer.weight_decay", TR_KEY_FLOAT, OFF(optimizer.weight_decay), 0, 0, "0.1", 0, 100, NULL,
     "weight decay (decoupled for adamw and lion, L2 for the others)"},
    {"optimizer.weight_decay_on", TR_KEY_ENUM, OFF(optimizer.weight_decay_on), 0, 0, "matrices", 0, 0,
     TR_WD_ON_NAMES, "matrices: 2-D weights only (not biases or LayerNorm gains); all: every parameter"},
    {"optimizer.grad_clip", TR_KEY_FLOAT, OFF(optimizer.grad_clip), 0, 0, "1.0", 0, BIG, NULL,
     "clip the global gradient norm to this; 0 = off"},
    {"optimizer.momentum", TR_KEY_FLOAT, OFF(optimizer.momentum), 0, 0, "0.0", 0, 1, NULL,
     "sgd, rmsprop: momentum, in [0, 1)"},
    {"optimizer.nesterov", TR_KEY_BOOL, OFF(optimizer.nesterov), 0, 0, "false", 0, 0, NULL,
     "sgd: Nesterov momentum (needs momentum > 0 and dampening 0)"},
    {"optimizer.dampening", TR_KEY_FLOAT, OFF(optimizer.dampening), 0, 0, "0.0", 0, 1, NULL,
     "sgd: dampening of the momentum buffer"},
    {"optimizer.alpha", TR_KEY_FLOAT, OFF(optimizer.alpha), 0, 0, "0.99", 0, 1, NULL,
     "rmsprop: smoothing constant of the squared-gradient average"},
    {"optimizer.centered", TR_KEY_BOOL, OFF(optimizer.centered), 0, 0, "false", 0, 0, NULL,
     "rmsprop: normalise by the centered variance"},
    {"optimizer.lr_scaling", TR_KEY_ENUM, OFF(optimizer.lr_scaling), 0, 0, "none", 0, 0,
     TR_LR_SCALING_NAMES, "scale lr by batch_size / base_batch_size (linear) or its square root (sqrt)"},
    {"optimizer.base_batch_size", TR_KEY_INT, OFF(optimizer.base_batch_size), 0, 0, "16", 1, 1 << 30,
     NULL, "the batch size at which lr is given, for lr_scaling"},

    {"schedule.name", TR_KEY_ENUM, OFF(schedule.name), 0, 0, "cosine", 0, 0, TR_SCHED_NAMES,
     "learning-rate schedule"},
    {"schedule.warmup_steps", TR_KEY_INT, OFF(schedule.warmup_steps), 0, 0, "0", 0, 1 << 30, NULL,
     "linear warm-up steps, combined with any schedule"},
    {"schedule.warmup_start_factor", TR_KEY_FLOAT, OFF(schedule.warmup_start_factor), 0, 0, "0.1", 0, 1,
     NULL, "lr multiplier at the first warm-up step"},
    {"schedule.min_lr", TR_KEY_FLOAT, OFF(schedule.min_lr), 0, 0, "0.0", 0, 100, NULL,
     "cosine, linear, wsd: the lr at the end of the decay"},
    {"schedule.decay_steps", TR_KEY_INT, OFF(schedule.decay_steps), 0, 0, "0", 0, 1 << 30, NULL,
     "cosine, linear: steps of decay after warm-up; 0 = the rest of the run"},
    {"schedule.step_size", TR_KEY_INT, OFF(schedule.step_size), 0, 0, "100", 1, 1 << 30, NULL,
     "step: multiply lr by gamma every step_size steps"},
    {"schedule.gamma", TR_KEY_FLOAT, OFF(schedule.gamma), 0, 0, "0.1", 0, 1, NULL,
     "step, multistep, exponential: decay factor, in (0, 1]"},
    {"schedule.milestones", TR_KEY_INTLIST, OFF(schedule.milestones), TR_MAX_MILESTONES,
     OFF(schedule.n_milestones), "[]", 1, 1 << 30, NULL,
     "multistep: steps at which lr is multiplied by gamma, strictly increasing"},
    {"schedule.decay_fraction", TR_KEY_FLOAT, OFF(schedule.decay_fraction), 0, 0, "0.2", 0, 1, NULL,
     "wsd: final fraction of the run spent decaying"},
    {"schedule.decay_shape", TR_KEY_ENUM, OFF(schedule.decay_shape), 0, 0, "linear", 0, 0,
     TR_DECAY_SHAPE_NAMES, "wsd: shape of the final decay"},
    {"schedule.max_lr", TR_KEY_FLOAT, OFF(schedule.max_lr), 0, 0, "0.0", 0, 100, NULL,
     "one_cycle: peak lr; 0 = optimizer.lr"},
    {"schedule.pct_start", TR_KEY_FLOAT, OFF(schedule.pct_start), 0, 0, "0.3", 0, 1, NULL,
     "one_cycle: fraction of the run spent increasing lr"},
    {"schedule.div_factor", TR_KEY_FLOAT, OFF(schedule.div_factor), 0, 0, "25", 1, BIG, NULL,
     "one_cycle: initial lr = max_lr / div_factor"},
    {"schedule.final_div_factor", TR_KEY_FLOAT, OFF(schedule.final_div_factor), 0, 0, "10000", 1, BIG,
     NULL, "one_cycle: final lr = initial lr / final_div_factor"},

    {"train.batch_size", TR_KEY_INT, OFF(train.batch_size), 0, 0, "16", 1, 1 << 20, NULL,
     "sequences per optimizer step"},
    {"train.micro_batch_size", TR_KEY_INT, OFF(train.micro_batch_size), 0, 0, "0", 0, 1 << 20, NULL,
     "sequences per forward/backward (gradient accumulation); 0 = batch_size; must divide it"},
    {"train.max_steps", TR_KEY_I64, OFF(train.max_steps), 0, 0, "300", 0, 1e15, NULL,
     "stop after this many optimizer steps; 0 = no limit"},
    {"train.max_tokens", TR_KEY_I64, OFF(train.max_tokens), 0, 0, "0", 0, 1e18, NULL,
     "stop after this many training tokens; 0 = no limit (fair budgets across batch sizes)"},
    {"train.max_seconds", TR_KEY_FLOAT, OFF(train.max_seconds), 0, 0, "0", 0, 1e9, NULL,
     "stop after this much wall time; 0 = no limit"},
    {"train.eval_interval", TR_KEY_INT, OFF(train.eval_interval), 0, 0, "50", 1, 1 << 30, NULL,
     "steps between validation evaluations (and one at the end)"},
    {"train.eval_batches", TR_KEY_INT, OFF(train.eval_batches), 0, 0, "8", 1, 1 << 20, NULL,
     "fixed validation batches per evaluation"},
    {"train.log_interval", TR_KEY_INT, OFF(train.log_interval), 0, 0, "10", 1, 1 << 30, NULL,
     "steps between log lines and metric rows"},
    {"train.seed", TR_KEY_I64, OFF(train.seed), 0, 0, "1", 0, 9.2e18, NULL,
     "seed of initialisation, batch order and dropout"},
    {"train.threads", TR_KEY_INT, OFF(train.threads), 0, 0, "0", 0, 1024, NULL,
     "threads of OpenBLAS and the elementwise kernels (one OpenMP pool); 0 = all cores"},
    {"train.out_dir", TR_KEY_STR, OFF(train.out_dir), SZ(train.out_dir), 0, "\"\"", 0, 0, NULL,
     "directory for checkpoints; empty = none written"},
    {"train.checkpoint_interval", TR_KEY_INT, OFF(train.checkpoint_interval), 0, 0, "0", 0, 1 << 30,
     NULL, "steps between checkpoints; 0 = only the final one (when out_dir is set)"},
    {"train.divergence_factor", TR_KEY_FLOAT, OFF(train.divergence_factor), 0, 0, "4", 1, BIG, NULL,
     "stop as diverged when loss > factor * best loss after warm-up"},

    {"sample.temperature", TR_KEY_FLOAT, OFF(sample.temperature), 0, 0, "1.0", 0, 100, NULL,
     "softmax temperature; 0 = greedy argmax"},
    {"sample.top_k", TR_KEY_INT, OFF(sample.top_k), 0, 0, "0", 0, 1 << 20, NULL,
     "keep the k most likely tokens; 0 = off"},
    {"sample.top_p", TR_KEY_FLOAT, OFF(sample.top_p), 0, 0, "1.0", 0, 1, NULL,
     "nucleus: keep the smallest set reaching probability p, in (0, 1]; 1 = off"},
    {"sample.min_p", TR_KEY_FLOAT, OFF(sample.min_p), 0, 0, "0.0", 0, 1, NULL,
     "drop tokens below min_p times the top probability; 0 = off"},
    {"sample.max_tokens", TR_KEY_INT, OFF(sample.max_tokens), 0, 0, "200", 1, 1 << 24, NULL,
     "tokens to generate per sample"},
    {"sample.frequency_penalty", TR_KEY_FLOAT, OFF(sample.frequency_penalty), 0, 0, "0.0", -100, 100,
     NULL, "subtract F times the token's count in the generated text so far"},
    {"sample.presence_penalty", TR_KEY_FLOAT, OFF(sample.presence_penalty), 0, 0, "0.0", -100, 100,
     NULL, "subtract P from every token that appeared in the generated text"},
    {"sample.repetition_penalty", TR_KEY_FLOAT, OFF(sample.repetition_penalty), 0, 0, "1.0", 0, 100,
     NULL, "CTRL repetition penalty (> 0); 1 = off"},
    {"sample.stop", TR_KEY_STR, OFF(sample.stop), SZ(sample.stop), 0, "\"\"", 0, 0, NULL,
     "stop a sample when this text is generated; empty = none"},
    {"sample.seed", TR_KEY_I64, OFF(sample.seed), 0, 0, "1", 0, 9.2e18, NULL, "seed of the draws"},
    {"sample.n_samples", TR_KEY_INT, OFF(sample.n_samples), 0, 0, "4", 1, 1 << 20, NULL,
     "samples per prompt"},
    {"sample.n_prompts", TR_KEY_INT, OFF(sample.n_prompts), 0, 0, "8", 1, 1 << 20, NULL,
     "prompts taken from the validation split (inference sweeps)"},
    {"sample.prompt_tokens", TR_KEY_INT, OFF(sample.prompt_tokens), 0, 0, "16", 1, 1 << 20, NULL,
     "tokens per prompt (inference sweeps)"},
};

#define NKEYS (sizeof keys / sizeof keys[0])

const TrKey *tr_config_keys(size_t *n) {
  *n = NKEYS;
  return keys;
}

const TrKey *tr_config_key_find(const char *name) {
  for (size_t i = 0; i < NKEYS; i++)
    if (strcmp(keys[i].name, name) == 0) return &keys[i];
  return NULL;
}

size_t tr_edit_distance(const char *a, const char *b) {
  size_t la = strlen(a), lb = strlen(b);
  if (la > 64 || lb > 64) return 99;
  size_t row[65];
  for (size_t j = 0; j <= lb; j++) row[j] = j;
  for (size_t i = 1; i <= la; i++) {
    size_t prev = row[0];
    row[0] = i;
    for (size_t j = 1; j <= lb; j++) {
      size_t cur = row[j];
      size_t sub = prev + (a[i - 1] != b[j - 1]);
      size_t del = row[j] + 1, ins = row[j - 1] + 1;
      row[j] = sub < del ? (sub < ins ? sub : ins) : (del < ins ? del : ins);
      prev = cur;
    }
  }
  return row[lb];
}

const char *tr_closest(const char *bad, const char *const *names) {
  const char *best = NULL;
  size_t bd = (size_t)-1;
  for (size_t i = 0; names[i]; i++) {
    size_t d = tr_edit_distance(bad, names[i]);
    if (d < bd) bd = d, best = names[i];
  }
  size_t lim = strlen(bad) / 3 > 2 ? strlen(bad) / 3 : 2;
  return bd <= lim ? best : NULL;
}

const char *tr_config_key_suggest(const char *bad) {
  if (strlen(bad) > 64) return NULL; /* edit distances are capped there: nothing is close */
  const char *best = NULL;
  size_t bestd = (size_t)-1;
  const char *bad_leaf = strrchr(bad, '.');
  bad_leaf = bad_leaf ? bad_leaf + 1 : bad;
  for (size_t i = 0; i < NKEYS; i++) {
    size_t d = tr_edit_distance(bad, keys[i].name);
    /* "lr" or "optim.lr" should find "optimizer.lr": compare leaves too. */
    const char *leaf = strrchr(keys[i].name, '.') + 1;
    size_t dl = tr_edit_distance(bad_leaf, leaf) + (strchr(bad, '.') ? 1 : 0);
    if (dl < d) d = dl;
    if (d < bestd) {
      bestd = d;
      best = keys[i].name;
    }
  }
  size_t len = strlen(bad_leaf);
  size_t limit = len < 6 ? 2 : len / 3 + 1;
  return bestd <= limit ? best : NULL;
}

/* ---- defaults --------------------------------------------------------------- */

static int set_scalar_value(TrConfig *c, const TrKey *k, const TrYamlNode *v, const char *file, TrErr *err);

/* A default's text as the node YAML parses it to, built without allocating so that
** tr_config_defaults cannot fail (out of memory): a plain scalar, "" (a quoted empty
** string), or a flow list of plain scalars ("[0.9, 0.99]", "[]"); what the table uses
** (a test compares every default with its YAML parse). */
typedef struct DefaultNode {
  TrYamlNode node, items[TR_MAX_MILESTONES];
  TrYamlNode *ptrs[TR_MAX_MILESTONES];
  char text[256];
} DefaultNode;

static const TrYamlNode *default_node(const char *def, DefaultNode *d) {
  snprintf(d->text, sizeof d->text, "%s", def);
  d->node = (TrYamlNode){TR_YAML_SCALAR, 1, 1, d->text, 1, 0, NULL, NULL};
  if (strcmp(def, "\"\"") == 0) {
    d->text[0] = '\0';
    d->node.plain = 0;
  } else if (def[0] == '[') {
    d->node = (TrYamlNode){TR_YAML_SEQ, 1, 1, NULL, 0, 0, NULL, d->ptrs};
    char *p = d->text + 1;
    p[strcspn(p, "]")] = '\0';
    char *save = NULL;
    for (char *tok = strtok_r(p, ", ", &save); tok && d->node.n < TR_MAX_MILESTONES;
         tok = strtok_r(NULL, ", ", &save)) {
      d->items[d->node.n] = (TrYamlNode){TR_YAML_SCALAR, 1, 1, tok, 1, 0, NULL, NULL};
      d->ptrs[d->node.n] = &d->items[d->node.n];
      d->node.n++;
    }
  }
  return &d->node;
}

void tr_config_defaults(TrConfig *c) {
  memset(c, 0, sizeof *c);
  TrErr err;
  DefaultNode d;
  for (size_t i = 0; i < NKEYS; i++) {
    /* The table's default text is the single source; it must parse (a test proves it). */
    if (set_scalar_value(c, &keys[i], default_node(keys[i].def, &d), NULL, &err) != TR_OK) abort();
  }
  c->model.vocab_size = 256;
}

/* ---- setting values ------------------------------------------------------- */

/* "FILE:L:C: " when we know where the value came from, "" for --set. */
static int bad_value(TrErr *err, const char *file, const TrYamlNode *n, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static int bad_value(TrErr *err, const char *file, const TrYamlNode *n, const char *fmt, ...) {
  char msg[TR_ERR_MSG_MAX];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (file && n) return tr_err_set(err, TR_EINVAL, "%s:%d:%d: %s", file, n->line, n->col, msg);
  if (file) return tr_err_set(err, TR_EINVAL, "%s: %s", file, msg);
  return tr_err_set(err, TR_EINVAL, "%s", msg);
}

static int check_range(const TrKey *k, double v, const char *file, const TrYamlNode *n, const char *text,
                       TrErr *err) {
  char c[TR_ERR_CLIP_MAX];
  if (v < k->min || v > k->max)
    return bad_value(err, file, n, "%s: %s is out of range [%.10g, %.10g]", k->name, tr_err_clip(text, c, sizeof c),
                     k->min, k->max);
  return TR_OK;
}

static int enum_index(const char *choices, const char *s) {
  int idx = 0;
  size_t len = strlen(s);
  for (const char *p = choices; *p; idx++) {
    const char *e = strchr(p, '|');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n == len && strncmp(p, s, n) == 0) return idx;
    if (!e) break;
    p = e + 1;
  }
  return -1;
}

/* A finite number in the key's range: TR_OK, or the complaint about V. */
static int node_double(const TrKey *k, const TrYamlNode *v, const char *file, double *x, TrErr *err) {
  char why[TR_ERR_CLIP_MAX + 64];
  TrErr e2;
  if (tr_yaml_double(v, file ? file : "", k->name, x, &e2))
    return bad_value(err, file, v, "%s: %s", k->name,
                     v->kind == TR_YAML_SCALAR ? tr_double_complaint(v->str, why, sizeof why)
                                               : "expected a finite number, got a collection");
  if (check_range(k, *x, file, v, v->str, err)) return TR_EINVAL;
  return TR_OK;
}

/* The list keys: optimizer.betas (two numbers), schedule.milestones (integers). */
static int set_list_value(TrConfig *c, const TrKey *k, const TrYamlNode *v, const char *file, TrErr *err) {
  char *base = (char *)c + k->offset;
  const char *key = k->name;
  TrErr e2;
  char clip[TR_ERR_CLIP_MAX];
  switch (k->type) {
    case TR_KEY_FLOAT2: {
      if (v->kind != TR_YAML_SEQ || v->n != 2)
        return bad_value(err, file, v, "%s: expected a list of 2 numbers like [0.9, 0.99]", key);
      double x[2];
      for (int i = 0; i < 2; i++) {
        int rc = node_double(k, v->items[i], file, &x[i], err);
        if (rc) return rc;
      }
      memcpy(base, x, sizeof x);
      return TR_OK;
    }
    case TR_KEY_INTLIST: {
      if (v->kind != TR_YAML_SEQ)
        return bad_value(err, file, v, "%s: expected a list of integers like [100, 200]", key);
      if ((size_t)v->n > k->size)
        return bad_value(err, file, v, "%s: at most %zu entries, got %d", key, k->size, v->n);
      int tmp[TR_MAX_MILESTONES];
      for (int i = 0; i < v->n; i++) {
        int64_t x;
        if (tr_yaml_int64(v->items[i], file ? file : "", key, &x, &e2))
          return bad_value(err, file, v->items[i], "%s: expected an integer, got '%s'", key,
                           v->items[i]->kind == TR_YAML_SCALAR ? tr_err_clip(v->items[i]->str, clip, sizeof clip)
                                                               : "a collection");
        if (check_range(k, (double)x, file, v->items[i], v->items[i]->str, err)) return TR_EINVAL;
        tmp[i] = (int)x;
      }
      memcpy(base, tmp, (size_t)v->n * sizeof(int));
      *(int *)((char *)c + k->count_offset) = v->n;
      return TR_OK;
    }
    default: break;
  }
  return bad_value(err, file, v, "%s: unsupported key type", key);
}

static int set_scalar_value(TrConfig *c, const TrKey *k, const TrYamlNode *v, const char *file, TrErr *err) {
  char *base = (char *)c + k->offset;
  const char *key = k->name;
  TrErr e2;
  char clip[TR_ERR_CLIP_MAX];
#define SHOWN (v->kind == TR_YAML_SCALAR ? tr_err_clip(v->str, clip, sizeof clip) : tr_yaml_kind_name(v->kind))
  switch (k->type) {
    case TR_KEY_INT:
    case TR_KEY_I64: {
      int64_t x;
      if (tr_yaml_int64(v, file ? file : "", key, &x, &e2))
        return bad_value(err, file, v, "%s: expected an integer, got '%s'", key, SHOWN);
      if (check_range(k, (double)x, file, v, v->str, err)) return TR_EINVAL;
      if (k->type == TR_KEY_INT)
        *(int *)base = (int)x;
      else
        *(int64_t *)base = x;
      return TR_OK;
    }
    case TR_KEY_FLOAT: {
      double x;
      int rc = node_double(k, v, file, &x, err);
      if (rc) return rc;
      *(double *)base = x;
      return TR_OK;
    }
    case TR_KEY_BOOL: {
      int x;
      if (tr_yaml_bool(v, file ? file : "", key, &x, &e2))
        return bad_value(err, file, v, "%s: expected true or false, got '%s'", key, SHOWN);
      *(int *)base = x;
      return TR_OK;
    }
    case TR_KEY_STR: {
      if (v->kind != TR_YAML_SCALAR)
        return bad_value(err, file, v, "%s: expected a string, got %s", key, tr_yaml_kind_name(v->kind));
      const char *s = tr_yaml_is_null(v) ? "" : v->str;
      if (strlen(s) >= k->size)
        return bad_value(err, file, v, "%s: longer than %zu bytes", key, k->size - 1);
      memcpy(base, s, strlen(s) + 1);
      return TR_OK;
    }
    case TR_KEY_ENUM: {
      if (v->kind != TR_YAML_SCALAR)
        return bad_value(err, file, v, "%s: expected one of %s, got %s", key, k->choices,
                         tr_yaml_kind_name(v->kind));
      int idx = enum_index(k->choices, v->str);
      if (idx < 0) return bad_value(err, file, v, "%s: '%s' is not one of %s", key, SHOWN, k->choices);
      *(int *)base = idx;
      return TR_OK;
    }
    case TR_KEY_FLOAT2:
    case TR_KEY_INTLIST: return set_list_value(c, k, v, file, err);
  }
  return bad_value(err, file, v, "%s: unsupported key type", key);
}
#undef SHOWN

int tr_config_set_node(TrConfig *c, const TrKey *k, const TrYamlNode *v, const char *file, TrErr *err) {
  if (!v) return bad_value(err, file, NULL, "%s: missing value", k->name);
  return set_scalar_value(c, k, v, file, err);
}

static int unknown_key(const char *name, const char *file, const TrYamlNode *at, TrErr *err) {
  const char *s = tr_config_key_suggest(name);
  char c[TR_ERR_CLIP_MAX];
  tr_err_clip(name, c, sizeof c);
  if (s) return bad_value(err, file, at, "unknown key '%s' (did you mean '%s'?)", c, s);
  return bad_value(err, file, at, "unknown key '%s' (see 'hpsweep help config' for the keys)", c);
}

int tr_config_set(TrConfig *c, const char *key, const char *value, TrErr *err) {
  const TrKey *k = tr_config_key_find(key);
  if (!k) return unknown_key(key, NULL, NULL, err);
  /* The value is parsed as YAML so --set accepts what a file accepts: [0.9, 0.95], "text". */
  TrYamlDoc *doc = NULL;
  TrErr e2;
  char clip[TR_ERR_CLIP_MAX];
  int yrc = tr_yaml_load_string(value, strlen(value), key, &doc, &e2);
  if (yrc == TR_ENOMEM) return tr_err_set(err, TR_ENOMEM, "%s: out of memory", key);
  if (yrc != TR_OK)
    return tr_err_set(err, TR_EINVAL, "%s: cannot parse value '%s' (%s)", key, tr_err_clip(value, clip, sizeof clip),
                      e2.msg);
  TrYamlNode empty = {TR_YAML_SCALAR, 1, 1, (char *)"", 1, 0, NULL, NULL};
  const TrYamlNode *v = doc->root ? doc->root : &empty;
  int rc = set_scalar_value(c, k, v, NULL, err);
  tr_yaml_destroy(doc);
  return rc;
}

/* Does any key start with "prefix."? (so "optimizer" is a section) */
static int is_section(const char *prefix) {
  size_t n = strlen(prefix);
  for (size_t i = 0; i < NKEYS; i++)
    if (strncmp(keys[i].name, prefix, n) == 0 && keys[i].name[n] == '.') return 1;
  return 0;
}

static int apply_map(TrConfig *c, const TrYamlNode *map, const char *prefix, const char *file, TrErr *err) {
  for (int i = 0; i < map->n; i++) {
    const TrYamlNode *kn = map->keys[i], *v = map->items[i];
    char name[256];
    if (snprintf(name, sizeof name, "%s%s%s", prefix, *prefix ? "." : "", kn->str) >= (int)sizeof name)
      return bad_value(err, file, kn, "key '%.40s...' is too long", kn->str);
    const TrKey *k = tr_config_key_find(name);
    int rc;
    if (k)
      rc = tr_config_set_node(c, k, v, file, err);
    else if (is_section(name)) {
      if (tr_yaml_is_null(v)) continue; /* "optimizer:" with nothing under it */
      if (v->kind != TR_YAML_MAP)
        return bad_value(err, file, v, "%s: expected a mapping of keys, got %s", name,
                         tr_yaml_kind_name(v->kind));
      rc = apply_map(c, v, name, file, err);
    } else if (!*prefix && v && v->kind == TR_YAML_MAP) {
      /* A misspelt section: suggest the section, not a key inside it. */
      static const char *const sections[] = {"data", "model", "optimizer", "schedule", "train", "sample", NULL};
      const char *best = tr_closest(name, sections);
      if (best) return bad_value(err, file, kn, "unknown section '%s' (did you mean '%s'?)", name, best);
      return bad_value(err, file, kn, "unknown section '%s' (sections: data, model, optimizer, schedule, train, sample)", name);
    } else
      rc = unknown_key(name, file, kn, err);
    if (rc) return rc;
  }
  return TR_OK;
}

int tr_config_apply_yaml(TrConfig *c, const TrYamlNode *root, const char *file, TrErr *err) {
  if (tr_yaml_is_null(root)) return TR_OK;
  if (root->kind != TR_YAML_MAP)
    return bad_value(err, file, root, "a config must be a mapping of sections (data, model, optimizer, ...), got %s",
                     tr_yaml_kind_name(root->kind));
  return apply_map(c, root, "", file, err);
}

int tr_config_apply_text(TrConfig *c, const char *text, const char *name, TrErr *err) {
  TrYamlDoc *doc = NULL;
  int rc = tr_yaml_load_string(text, strlen(text), name, &doc, err);
  if (rc) return rc;
  rc = tr_config_apply_yaml(c, doc->root, name, err);
  tr_yaml_destroy(doc);
  return rc;
}

int tr_config_load(TrConfig *c, const char *path, TrErr *err) {
  tr_config_defaults(c);
  if (!path || !*path) return TR_OK;
  TrYamlDoc *doc = NULL;
  int rc = tr_yaml_load_file(path, &doc, err);
  if (rc) return rc;
  rc = tr_config_apply_yaml(c, doc->root, path, err);
  tr_yaml_destroy(doc);
  return rc;
}

/* ---- validation ---------------------------------------------------------- */

int64_t tr_config_total_steps(const TrConfig *c) {
  int64_t per = (int64_t)c->train.batch_size * c->model.context_length;
  int64_t s = c->train.max_steps;
  if (c->train.max_tokens > 0) {
    int64_t t = (c->train.max_tokens + per - 1) / per;
    if (s == 0 || t < s) s = t;
  }
  return s;
}

int tr_config_validate(const TrConfig *c, TrErr *err) {
  const TrModelConfig *m = &c->model;
  const TrOptimConfig *o = &c->optimizer;
  const TrScheduleConfig *s = &c->schedule;
  const TrTrainConfig *t = &c->train;
  const TrSampleConfig *sa = &c->sample;
#define FAIL(...) return tr_err_set(err, TR_EINVAL, __VA_ARGS__)
  if (!(c->data.val_fraction > 0 && c->data.val_fraction < 1))
    FAIL("data.val_fraction: must be in (0, 1), got %g", c->data.val_fraction);
  if (m->d_model % m->n_head)
    FAIL("model.n_head: %d does not divide model.d_model %d", m->n_head, m->d_model);
  if (!(m->dropout < 1)) FAIL("model.dropout: must be in [0, 1), got %g", m->dropout);
  if (!(o->lr > 0)) FAIL("optimizer.lr: must be > 0, got %g", o->lr);
  if (!(o->eps > 0)) FAIL("optimizer.eps: must be > 0, got %g", o->eps);
  for (int i = 0; i < 2; i++)
    if (!(o->betas[i] >= 0 && o->betas[i] < 1))
      FAIL("optimizer.betas: each must be in [0, 1), got [%g, %g]", o->betas[0], o->betas[1]);
  if (!(o->momentum < 1)) FAIL("optimizer.momentum: must be in [0, 1), got %g", o->momentum);
  if (o->nesterov && (o->momentum <= 0 || o->dampening != 0))
    FAIL("optimizer.nesterov: needs optimizer.momentum > 0 and optimizer.dampening 0, got momentum %g, dampening %g",
         o->momentum, o->dampening);
  if (!(s->gamma > 0)) FAIL("schedule.gamma: must be in (0, 1], got %g", s->gamma);
  for (int i = 1; i < s->n_milestones; i++)
    if (s->milestones[i] <= s->milestones[i - 1])
      FAIL("schedule.milestones: must be strictly increasing, got %d after %d", s->milestones[i],
           s->milestones[i - 1]);
  if (s->name == TR_SCHED_MULTISTEP && s->n_milestones == 0)
    FAIL("schedule.milestones: multistep needs at least one milestone");
  if (s->name == TR_SCHED_ONE_CYCLE && s->warmup_steps > 0)
    FAIL("schedule.warmup_steps: one_cycle has its own warm-up (pct_start); set warmup_steps to 0, got %d",
         s->warmup_steps);
  if (s->name == TR_SCHED_WSD && !(s->decay_fraction > 0))
    FAIL("schedule.decay_fraction: wsd needs a decay fraction in (0, 1], got %g", s->decay_fraction);
  if (s->min_lr > o->lr && (s->name == TR_SCHED_COSINE || s->name == TR_SCHED_LINEAR || s->name == TR_SCHED_WSD))
    FAIL("schedule.min_lr: %g is above optimizer.lr %g", s->min_lr, o->lr);
  if (t->micro_batch_size > t->batch_size)
    FAIL("train.micro_batch_size: %d is larger than train.batch_size %d", t->micro_batch_size, t->batch_size);
  if (t->micro_batch_size > 0 && t->batch_size % t->micro_batch_size)
    FAIL("train.micro_batch_size: %d does not divide train.batch_size %d", t->micro_batch_size,
         t->batch_size);
  if (t->max_steps == 0 && t->max_tokens == 0 && t->max_seconds == 0)
    FAIL("train: no budget: set train.max_steps, train.max_tokens or train.max_seconds");
  int64_t total = tr_config_total_steps(c);
  int needs_len = (s->name == TR_SCHED_COSINE || s->name == TR_SCHED_LINEAR) ? s->decay_steps == 0
                  : (s->name == TR_SCHED_WSD || s->name == TR_SCHED_ONE_CYCLE);
  if (needs_len && total == 0)
    FAIL("schedule.name: %s decays over the run, which needs train.max_steps or train.max_tokens%s",
         s->name == TR_SCHED_COSINE ? "cosine" : s->name == TR_SCHED_LINEAR ? "linear"
         : s->name == TR_SCHED_WSD  ? "wsd" : "one_cycle",
         (s->name == TR_SCHED_COSINE || s->name == TR_SCHED_LINEAR) ? " (or schedule.decay_steps)" : "");
  if (total > 0 && s->warmup_steps >= total && s->warmup_steps > 0)
    FAIL("schedule.warmup_steps: %d is not less than the run's %lld steps", s->warmup_steps, (long long)total);
  int rc = tr_schedule_check(s, tr_optim_effective_lr(o, t->batch_size), total, err);
  if (rc) return rc;
  if (sa->top_p <= 0) FAIL("sample.top_p: must be in (0, 1], got %g", sa->top_p);
  if (sa->min_p >= 1) FAIL("sample.min_p: must be in [0, 1), got %g", sa->min_p);
  if (sa->repetition_penalty <= 0) FAIL("sample.repetition_penalty: must be > 0, got %g", sa->repetition_penalty);
#undef FAIL
  return TR_OK;
}

/* ---- text and JSON -------------------------------------------------------- */

/* Shortest exact text (canonical and readable); floats look like floats ("1.0"). */
static void fmt_double(double v, char *buf, size_t n) {
  tr_fmt_double(buf, n, v, TR_FMT_SHORTEST);
  if (!strpbrk(buf, ".eEn")) {
    size_t l = strlen(buf);
    if (l + 3 < n) memcpy(buf + l, ".0", 3);
  }
}

int tr_config_value_text(const TrConfig *c, const TrKey *k, int json, char *buf, size_t n) {
  const char *base = (const char *)c + k->offset;
  char a[40], b[40];
  switch (k->type) {
    case TR_KEY_INT: return snprintf(buf, n, "%d", *(const int *)base);
    case TR_KEY_I64: return snprintf(buf, n, "%lld", (long long)*(const int64_t *)base);
    case TR_KEY_FLOAT: fmt_double(*(const double *)base, a, sizeof a); return snprintf(buf, n, "%s", a);
    case TR_KEY_BOOL: return snprintf(buf, n, "%s", *(const int *)base ? "true" : "false");
    case TR_KEY_STR:
      if (json) return (int)tr_json_quote(buf, n, base, 0);
      return snprintf(buf, n, "%s", base);
    case TR_KEY_ENUM: {
      int idx = *(const int *)base;
      const char *p = k->choices;
      for (int i = 0; i < idx && p; i++) {
        p = strchr(p, '|');
        if (p) p++;
      }
      if (!p) return snprintf(buf, n, "?");
      size_t len = strcspn(p, "|");
      return json ? snprintf(buf, n, "\"%.*s\"", (int)len, p) : snprintf(buf, n, "%.*s", (int)len, p);
    }
    case TR_KEY_FLOAT2:
      fmt_double(((const double *)base)[0], a, sizeof a);
      fmt_double(((const double *)base)[1], b, sizeof b);
      return snprintf(buf, n, "[%s, %s]", a, b);
    case TR_KEY_INTLIST: {
      int cnt = *(const int *)((const char *)c + k->count_offset);
      size_t o = 0;
      o += (size_t)snprintf(buf, n, "[");
      for (int i = 0; i < cnt; i++)
        o += (size_t)snprintf(buf + (o < n ? o : n), o < n ? n - o : 0, "%s%d", i ? ", " : "",
                              ((const int *)base)[i]);
      o += (size_t)snprintf(buf + (o < n ? o : n), o < n ? n - o : 0, "]");
      return (int)o;
    }
  }
  return snprintf(buf, n, "?");
}

/* Keys added after configs were first stored stay out of the canonical JSON while at their
** defaults (`def`): a config that does not use them keeps its hash, and with it its sweep
** trials' identity and its checkpoints' (an upgrade must not orphan a sweep in progress).
** A key added later joins this list. */
static const char *const late_keys[] = {"model.parametrization", "model.mup_base_width", NULL};

static int late_key_at_default(const TrConfig *c, const TrKey *k) {
  char v[64];
  for (const char *const *n = late_keys; *n; n++)
    if (strcmp(*n, k->name) == 0)
      return tr_config_value_text(c, k, 0, v, sizeof v) < (int)sizeof v && strcmp(v, k->def) == 0;
  return 0;
}

size_t tr_config_to_json(const TrConfig *c, char *buf, size_t n) {
  size_t o = 0;
  char val[TR_CONFIG_TEXT_MAX];
  char section[32] = "";
#define APPEND(...) o += (size_t)snprintf(buf + (o < n ? o : n), o < n ? n - o : 0, __VA_ARGS__)
  APPEND("{");
  for (size_t i = 0; i < NKEYS; i++) {
    if (late_key_at_default(c, &keys[i])) continue;
    const char *dot = strchr(keys[i].name, '.');
    size_t sl = (size_t)(dot - keys[i].name);
    int new_section = strlen(section) != sl || strncmp(section, keys[i].name, sl) != 0;
    if (new_section) {
      APPEND("%s\"%.*s\": {", i ? "}, " : "", (int)sl, keys[i].name);
      snprintf(section, sizeof section, "%.*s", (int)sl, keys[i].name);
    }
    tr_config_value_text(c, &keys[i], 1, val, sizeof val);
    APPEND("%s\"%s\": %s", new_section ? "" : ", ", dot + 1, val);
  }
  APPEND("}}");
#undef APPEND
  return o;
}

uint64_t tr_config_hash(const TrConfig *c) {
  /* One rendering on the stack for any usual config (expansion hashes 100,000 of them). */
  char stack[4096], *buf = stack;
  size_t need = tr_config_to_json(c, stack, sizeof stack) + 1;
  if (need > sizeof stack) {
    if (!(buf = tr_malloc(need))) return 0;
    tr_config_to_json(c, buf, need);
  }
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)buf; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
  if (buf != stack) free(buf);
  return h;
}

int tr_config_threads(const TrConfig *c) {
  if (c->train.threads > 0) return c->train.threads;
  long n = sysconf(_SC_NPROCESSORS_ONLN);
  return n > 0 ? (int)n : 1;
}
