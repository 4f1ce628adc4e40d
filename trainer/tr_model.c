#include "tr_model.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_attn.h"
#include "tr_ops.h"

/* Views into the flat parameter (or gradient) buffer, in the contract order. */
typedef struct Params {
  float *wte;      /* (V, C) */
  float *wpe;      /* (T, C) */
  float *ln1w;     /* (L, C) */
  float *ln1b;     /* (L, C), empty when bias = 0 */
  float *qkvw;     /* (L, 3C, C) */
  float *qkvb;     /* (L, 3C) */
  float *attprojw; /* (L, C, C) */
  float *attprojb; /* (L, C) */
  float *ln2w;     /* (L, C) */
  float *ln2b;     /* (L, C) */
  float *fcw;      /* (L, H, C) */
  float *fcb;      /* (L, H) */
  float *fcprojw;  /* (L, C, H) */
  float *fcprojb;  /* (L, C) */
  float *lnfw;     /* (C) */
  float *lnfb;     /* (C) */
} Params;

/* Forward activations kept for backward (sizes for B = max_batch, T = context;
   a smaller batch uses the front of each buffer with the layer stride B*T*...). */
typedef struct Acts {
  float *encoded;     /* (B, T, C) embeddings after dropout: the stream into layer 0 */
  float *ln1;         /* (L, B, T, C) */
  float *ln1_mean;    /* (L, B, T) */
  float *ln1_rstd;    /* (L, B, T) */
  float *qkv;         /* (L, B, T, 3C) */
  float *att;         /* what attention keeps for its backward (tr_attn_saved_floats):
                         fused (L, B, NH, T) row log-sum-exps; sgemm (L, B, NH, T, T) weights */
  float *atty;        /* (L, B, T, C) attention output, heads side by side */
  float *res2;        /* (L, B, T, C) stream after the attention branch */
  float *ln2;         /* (L, B, T, C) */
  float *ln2_mean;    /* (L, B, T) */
  float *ln2_rstd;    /* (L, B, T) */
  float *fch;         /* (L, B, T, H) MLP pre-activation */
  float *fch_tanh;    /* (L, B, T, H) the tanh inside GELU: backward needs no exp */
  float *fch_gelu;    /* (L, B, T, H) GELU output (input of fcproj) */
  float *res3;        /* (L, B, T, C) stream after the MLP branch */
  float *lnf;         /* (B, T, C) */
  float *lnf_mean;    /* (B, T) */
  float *lnf_rstd;    /* (B, T) */
  float *logits;      /* (B, T, V) */
  float *lse;         /* (B, T) log-sum-exp of each logits row */
  float *losses;      /* (B, T) */
  float *branch;      /* (B, T, C) scratch: a residual branch before its dropout */
  float *att_scratch; /* scratch of the sgemm attention kernels (2, T, T); fused: none */
} Acts;

/* Dropout keep-masks (1 = keep), allocated only when dropout > 0. */
typedef struct Masks {
  uint8_t *emb;     /* (B, T, C) */
  uint8_t *att;     /* (L, B, NH, T, T) */
  uint8_t *attres;  /* (L, B, T, C) */
  uint8_t *mlpres;  /* (L, B, T, C) */
} Masks;

/* Activation gradients: one layer's worth, reused layer after layer. */
typedef struct Grads {
  float *dres;    /* (B, T, C) gradient of the residual stream */
  float *dbranch; /* (B, T, C) a branch output's gradient through its dropout */
  float *dln;     /* (B, T, C) gradient of a LayerNorm output, or of atty */
  float *dqkv;    /* (B, T, 3C) */
  float *dfch;    /* (B, T, H) */
  float *dlogits; /* (B, T, V) */
} Grads;

struct TrModel {
  TrModelConfig cfg;
  int L, NH, C, T, H, V, maxB;
  TrAttnPath attn; /* the attention kernels (tr_attn_path) */
  TrParamTensor tensors[TR_MODEL_NTENSORS];
  size_t nparams;
  float *params_mem, *grads_mem, *acts_mem, *dacts_mem;
  uint8_t *mask_mem;
  Params p, g;
  Acts a;
  Masks mk;
  Grads d;
  int *tokens, *targets; /* (B, T) copies of the last forward's batch */
  int B, curT, have_targets, dropped;
  float grad_scale;
};

static const char *const tensor_names[TR_MODEL_NTENSORS] = {
    "wte", "wpe", "ln1w", "ln1b", "qkvw", "qkvb", "attprojw", "attprojb",
    "ln2w", "ln2b", "fcw", "fcb", "fcprojw", "fcprojb", "lnfw", "lnfb"};

static void set_tensor(TrParamTensor *t, int i, size_t *off, int ndim, int s0, int s1, int s2,
                       int is_matrix, int present) {
  t->name = tensor_names[i];
  t->offset = *off;
  t->ndim = ndim;
  t->shape[0] = s0;
  t->shape[1] = s1;
  t->shape[2] = s2;
  size_t n = (size_t)s0 * (ndim > 1 ? (size_t)s1 : 1) * (ndim > 2 ? (size_t)s2 : 1);
  t->numel = present ? n : 0;
  t->is_matrix = is_matrix;
  t->is_hidden = i == 4 || i == 6 || i == 10 || i == 12; /* qkvw, attprojw, fcw, fcprojw */
  *off += t->numel;
}

static void layout_tensors(TrModel *m) {
  int L = m->L, C = m->C, T = m->T, H = m->H, V = m->V, bi = m->cfg.bias != 0;
  size_t off = 0;
  TrParamTensor *t = m->tensors;
  set_tensor(&t[0], 0, &off, 2, V, C, 0, 1, 1);
  set_tensor(&t[1], 1, &off, 2, T, C, 0, 1, 1);
  set_tensor(&t[2], 2, &off, 2, L, C, 0, 0, 1);
  set_tensor(&t[3], 3, &off, 2, L, C, 0, 0, bi);
  set_tensor(&t[4], 4, &off, 3, L, 3 * C, C, 1, 1);
  set_tensor(&t[5], 5, &off, 2, L, 3 * C, 0, 0, bi);
  set_tensor(&t[6], 6, &off, 3, L, C, C, 1, 1);
  set_tensor(&t[7], 7, &off, 2, L, C, 0, 0, bi);
  set_tensor(&t[8], 8, &off, 2, L, C, 0, 0, 1);
  set_tensor(&t[9], 9, &off, 2, L, C, 0, 0, bi);
  set_tensor(&t[10], 10, &off, 3, L, H, C, 1, 1);
  set_tensor(&t[11], 11, &off, 2, L, H, 0, 0, bi);
  set_tensor(&t[12], 12, &off, 3, L, C, H, 1, 1);
  set_tensor(&t[13], 13, &off, 2, L, C, 0, 0, bi);
  set_tensor(&t[14], 14, &off, 1, C, 0, 0, 0, 1);
  set_tensor(&t[15], 15, &off, 1, C, 0, 0, 0, bi);
  m->nparams = off;
}

static void point_params(Params *p, float *base, const TrParamTensor *t) {
  float **slot[TR_MODEL_NTENSORS] = {&p->wte,  &p->wpe,      &p->ln1w,     &p->ln1b,
                                     &p->qkvw, &p->qkvb,     &p->attprojw, &p->attprojb,
                                     &p->ln2w, &p->ln2b,     &p->fcw,      &p->fcb,
                                     &p->fcprojw, &p->fcprojb, &p->lnfw,   &p->lnfb};
  for (int i = 0; i < TR_MODEL_NTENSORS; i++) *slot[i] = t[i].numel ? base + t[i].offset : NULL;
}

/* n floats, 64-byte aligned (whole cache lines, aligned vector loads); NULL on failure. */
static float *alloc_floats(size_t n) {
  void *mem = NULL;
  return tr_memalign(&mem, 64, (n ? n : 1) * sizeof(float)) == 0 ? mem : NULL;
}

/* Carve `n` views of sizes sz[] out of one allocation (64-byte aligned views). */
static size_t carved_floats(const size_t *sz, int n);
static float *carve(float **const *views, const size_t *sz, int n) {
  size_t total = carved_floats(sz, n);
  float *mem = alloc_floats(total);
  if (!mem) return NULL;
  size_t off = 0;
  for (int i = 0; i < n; i++) {
    *views[i] = mem + off;
    off += (sz[i] + 15) & ~(size_t)15;
  }
  return mem;
}

/* Dimensions and the parameter layout of a model for batches of max_batch. */
static void model_dims(TrModel *m, const TrModelConfig *cfg, int max_batch) {
  m->cfg = *cfg;
  m->L = cfg->n_layer;
  m->NH = cfg->n_head;
  m->C = cfg->d_model;
  m->T = cfg->context_length;
  m->H = cfg->mlp_ratio * cfg->d_model;
  m->V = cfg->vocab_size;
  m->maxB = max_batch;
  m->grad_scale = 1.0f;
  m->attn = tr_attn_path(m->T, m->C / m->NH);
  layout_tensors(m);
}

enum { N_ACTS = 23, N_DACTS = 6 };

/* Floats of each activation view (Acts order) and activation-gradient view (Grads order):
** the one home of these sizes, for create and for tr_model_memory. */
static void act_sizes(const TrModel *m, size_t asz[N_ACTS], size_t dsz[N_DACTS]) {
  size_t L = (size_t)m->L, B = (size_t)m->maxB, T = (size_t)m->T, C = (size_t)m->C,
         H = (size_t)m->H, V = (size_t)m->V, BT = B * T;
  const size_t att = L * tr_attn_saved_floats(m->attn, m->maxB, m->NH, m->T);
  const size_t a[N_ACTS] = {BT * C,     L * BT * C, L * BT,      L * BT, L * BT * 3 * C,
                            att,        L * BT * C, L * BT * C, L * BT * C, L * BT,
                            L * BT,     L * BT * H, L * BT * H,  L * BT * H, L * BT * C, BT * C,
                            BT,         BT,         BT * V,      BT,     BT,
                            BT * C,     tr_attn_scratch_floats(m->attn, m->T)};
  const size_t d[N_DACTS] = {BT * C, BT * C, BT * C, BT * 3 * C, BT * H, BT * V};
  memcpy(asz, a, sizeof a);
  memcpy(dsz, d, sizeof d);
}

/* Bytes of the dropout masks: embedding, attention, one residual branch. */
static void mask_sizes(const TrModel *m, size_t *n_emb, size_t *n_att, size_t *n_res) {
  size_t L = (size_t)m->L, B = (size_t)m->maxB, T = (size_t)m->T, BT = B * T;
  *n_emb = BT * (size_t)m->C;
  *n_att = L * B * (size_t)m->NH * T * T;
  *n_res = L * BT * (size_t)m->C;
}

/* Floats carve() allocates for these views. */
static size_t carved_floats(const size_t *sz, int n) {
  size_t total = 0;
  for (int i = 0; i < n; i++) total += (sz[i] + 15) & ~(size_t)15;
  return total;
}

void tr_model_memory(const TrModelConfig *cfg, int max_batch, TrModelMemory *out) {
  TrModel m;
  memset(&m, 0, sizeof m);
  model_dims(&m, cfg, max_batch);
  size_t asz[N_ACTS], dsz[N_DACTS];
  act_sizes(&m, asz, dsz);
  size_t BT = (size_t)max_batch * (size_t)m.T;
  out->n_params = m.nparams;
  out->params_bytes = m.nparams * sizeof(float);
  out->act_bytes = (carved_floats(asz, N_ACTS) + carved_floats(dsz, N_DACTS)) * sizeof(float) +
                   2 * BT * sizeof(int);
  if (cfg->dropout > 0.0) {
    size_t n_emb, n_att, n_res;
    mask_sizes(&m, &n_emb, &n_att, &n_res);
    out->act_bytes += n_emb + n_att + 2 * n_res;
  }
}

int tr_model_create(TrModel **out, const TrModelConfig *cfg, int max_batch, TrErr *err) {
  *out = NULL;
  if (cfg->n_layer < 1 || cfg->n_head < 1 || cfg->d_model < 1 || cfg->context_length < 1 ||
      cfg->mlp_ratio < 1 || cfg->vocab_size < 1 || max_batch < 1)
    return tr_err_set(err, TR_EINVAL,
                      "model: sizes must be positive (n_layer %d, n_head %d, d_model %d, "
                      "context_length %d, mlp_ratio %d, vocab_size %d, batch %d)",
                      cfg->n_layer, cfg->n_head, cfg->d_model, cfg->context_length, cfg->mlp_ratio,
                      cfg->vocab_size, max_batch);
  if (cfg->d_model % cfg->n_head != 0)
    return tr_err_set(err, TR_EINVAL, "model: d_model %d is not a multiple of n_head %d",
                      cfg->d_model, cfg->n_head);
  if (!(cfg->dropout >= 0.0 && cfg->dropout < 1.0))
    return tr_err_set(err, TR_EINVAL, "model: dropout %g is not in [0, 1)", cfg->dropout);
  if (cfg->parametrization != TR_PARAM_STANDARD && cfg->parametrization != TR_PARAM_MUP)
    return tr_err_set(err, TR_EINVAL, "model: unknown parametrization %d", cfg->parametrization);
  if (cfg->mup_base_width < 0)
    return tr_err_set(err, TR_EINVAL, "model: mup_base_width %d is negative", cfg->mup_base_width);
  TrModel *m = tr_calloc(1, sizeof *m);
  if (!m) return tr_err_set(err, TR_ENOMEM, "model: out of memory");
  model_dims(m, cfg, max_batch);
  size_t BT = (size_t)max_batch * (size_t)m->T;
  m->params_mem = alloc_floats(m->nparams);
  m->grads_mem = alloc_floats(m->nparams);
  Acts *a = &m->a;
  float **const av[] = {&a->encoded, &a->ln1,      &a->ln1_mean, &a->ln1_rstd, &a->qkv,
                        &a->att,     &a->atty,     &a->res2,     &a->ln2,      &a->ln2_mean,
                        &a->ln2_rstd, &a->fch,     &a->fch_tanh, &a->fch_gelu, &a->res3,     &a->lnf,
                        &a->lnf_mean, &a->lnf_rstd, &a->logits,  &a->lse,      &a->losses,
                        &a->branch,  &a->att_scratch};
  size_t asz[N_ACTS], dsz[N_DACTS];
  act_sizes(m, asz, dsz);
  _Static_assert(sizeof av / sizeof av[0] == N_ACTS, "one size per view");
  m->acts_mem = carve(av, asz, N_ACTS);
  Grads *d = &m->d;
  float **const dv[] = {&d->dres, &d->dbranch, &d->dln, &d->dqkv, &d->dfch, &d->dlogits};
  _Static_assert(sizeof dv / sizeof dv[0] == N_DACTS, "one size per view");
  m->dacts_mem = carve(dv, dsz, N_DACTS);
  m->tokens = tr_malloc(BT * sizeof(int));
  m->targets = tr_malloc(BT * sizeof(int));
  int ok = m->params_mem && m->grads_mem && m->acts_mem && m->dacts_mem && m->tokens && m->targets;
  if (ok && cfg->dropout > 0.0) {
    size_t n_emb, n_att, n_res;
    mask_sizes(m, &n_emb, &n_att, &n_res);
    m->mask_mem = tr_malloc(n_emb + n_att + 2 * n_res);
    ok = m->mask_mem != NULL;
    if (ok) {
      m->mk.emb = m->mask_mem;
      m->mk.att = m->mk.emb + n_emb;
      m->mk.attres = m->mk.att + n_att;
      m->mk.mlpres = m->mk.attres + n_res;
    }
  }
  if (!ok) {
    size_t np = m->nparams;
    tr_model_destroy(m);
    return tr_err_set(err, TR_ENOMEM, "model: out of memory (%zu parameters, batch %d)", np,
                      max_batch);
  }
  memset(m->params_mem, 0, m->nparams * sizeof(float));
  memset(m->grads_mem, 0, m->nparams * sizeof(float));
  point_params(&m->p, m->params_mem, m->tensors);
  point_params(&m->g, m->grads_mem, m->tensors);
  *out = m;
  return TR_OK;
}

void tr_model_destroy(TrModel *m) {
  if (!m) return;
  free(m->params_mem);
  free(m->grads_mem);
  free(m->acts_mem);
  free(m->dacts_mem);
  free(m->mask_mem);
  free(m->tokens);
  free(m->targets);
  free(m);
}

double tr_model_width_mult(const TrModelConfig *cfg) {
  if (cfg->parametrization != TR_PARAM_MUP || cfg->mup_base_width <= 0) return 1.0;
  return (double)cfg->d_model / (double)cfg->mup_base_width;
}

float tr_model_attn_scale(const TrModelConfig *cfg) {
  int hs = cfg->d_model / cfg->n_head;
  return cfg->parametrization == TR_PARAM_MUP ? 1.0f / (float)hs : 1.0f / sqrtf((float)hs);
}

float tr_model_output_mult(const TrModelConfig *cfg) {
  return cfg->parametrization == TR_PARAM_MUP ? (float)(1.0 / tr_model_width_mult(cfg)) : 1.0f;
}

void tr_model_lr_mults(const TrModelConfig *cfg, const TrParamTensor *t, int optim_name,
                       double *lr_mult, double *wd_mult) {
  *lr_mult = *wd_mult = 1.0;
  if (cfg->parametrization != TR_PARAM_MUP) return;
  double w = tr_model_width_mult(cfg);
  if (optim_name == TR_OPT_SGD) {
    if (!t->is_hidden) *lr_mult = w, *wd_mult = 1.0 / w; /* MuSGD: vector-like */
  } else if (t->is_hidden) {
    *lr_mult = 1.0 / w, *wd_mult = w;                    /* MuAdam: matrix-like */
  }
}

void tr_model_init(TrModel *m, TrRng *rng) {
  /* muP: hidden matrices' variance ~ 1/width (w = 1 under standard: same draws, same values) */
  const double hid = m->cfg.parametrization == TR_PARAM_MUP ? 1.0 / sqrt(tr_model_width_mult(&m->cfg)) : 1.0;
  const double std = 0.02, proj_std = 0.02 / sqrt(2.0 * m->L);
  for (int i = 0; i < TR_MODEL_NTENSORS; i++) {
    const TrParamTensor *t = &m->tensors[i];
    float *x = m->params_mem + t->offset;
    const char *nm = t->name;
    int is_weight = t->is_matrix;
    int is_gain = strcmp(nm, "ln1w") == 0 || strcmp(nm, "ln2w") == 0 || strcmp(nm, "lnfw") == 0;
    double s = (strcmp(nm, "attprojw") == 0 || strcmp(nm, "fcprojw") == 0) ? proj_std : std;
    if (t->is_hidden && hid != 1.0) s *= hid;
    for (size_t j = 0; j < t->numel; j++)
      x[j] = is_weight ? (float)(s * tr_rng_normal(rng)) : is_gain ? 1.0f : 0.0f;
  }
}

const TrModelConfig *tr_model_config(const TrModel *m) { return &m->cfg; }
int tr_model_max_batch(const TrModel *m) { return m->maxB; }
size_t tr_model_num_params(const TrModel *m) { return m->nparams; }
float *tr_model_params(TrModel *m) { return m->params_mem; }
float *tr_model_grads(TrModel *m) { return m->grads_mem; }
const float *tr_model_logits(const TrModel *m) { return m->a.logits; }

const TrParamTensor *tr_model_tensors(const TrModel *m, int *n) {
  if (n) *n = TR_MODEL_NTENSORS;
  return m->tensors;
}

const TrParamTensor *tr_model_tensor_find(const TrModel *m, const char *name) {
  for (int i = 0; i < TR_MODEL_NTENSORS; i++)
    if (strcmp(m->tensors[i].name, name) == 0) return &m->tensors[i];
  return NULL;
}

void tr_model_zero_grad(TrModel *m) { memset(m->grads_mem, 0, m->nparams * sizeof(float)); }
void tr_model_set_grad_scale(TrModel *m, float scale) { m->grad_scale = scale; }

int tr_model_act_rms(const TrModel *m, const char *name, int layer, double *rms) {
  const size_t N = (size_t)m->B * (size_t)m->curT, C = (size_t)m->C, H = (size_t)m->H;
  const Acts *a = &m->a;
  const struct { const char *name; const float *base; size_t width; int per_layer; } acts[] = {
      {"embed", a->encoded, C, 0}, {"qkv", a->qkv, 3 * C, 1}, {"atty", a->atty, C, 1},
      {"res2", a->res2, C, 1},     {"fch", a->fch, H, 1},     {"res3", a->res3, C, 1},
      {"logits", a->logits, (size_t)m->V, 0}};
  if (N == 0) return TR_EINVAL;
  for (size_t i = 0; i < sizeof acts / sizeof acts[0]; i++) {
    if (strcmp(name, acts[i].name) != 0) continue;
    if (acts[i].per_layer && (layer < 0 || layer >= m->L)) return TR_EINVAL;
    size_t n = N * acts[i].width;
    const float *x = acts[i].base + (acts[i].per_layer ? (size_t)layer * n : 0);
    double s = 0.0;
    for (size_t j = 0; j < n; j++) s += (double)x[j] * x[j];
    *rms = sqrt(s / (double)n);
    return TR_OK;
  }
  return TR_EINVAL;
}

double tr_model_flops_per_token(const TrModel *m) {
  double n = (double)m->nparams - (double)m->T * m->C;
  return 6.0 * n + 12.0 * m->L * m->T * m->C;
}

/* ---- Forward ------------------------------------------------------------ */

/* Per-layer views for the current (B, T). */
typedef struct LayerActs {
  const float *in;  /* (B, T, C) the stream entering the layer */
  float *ln1, *ln1_mean, *ln1_rstd, *qkv, *att, *atty, *res2, *ln2, *ln2_mean, *ln2_rstd, *fch,
      *fch_tanh, *fch_gelu, *res3;
  uint8_t *att_mask, *attres_mask, *mlpres_mask; /* NULL without dropout */
} LayerActs;

static LayerActs layer_acts(TrModel *m, int l, int B, int T) {
  size_t BT = (size_t)B * T, C = (size_t)m->C, H = (size_t)m->H, att = (size_t)B * m->NH * T * T;
  size_t saved = tr_attn_saved_floats(m->attn, B, m->NH, T);
  Acts *a = &m->a;
  LayerActs la;
  la.in = l == 0 ? a->encoded : a->res3 + (size_t)(l - 1) * BT * C;
  la.ln1 = a->ln1 + l * BT * C;
  la.ln1_mean = a->ln1_mean + l * BT;
  la.ln1_rstd = a->ln1_rstd + l * BT;
  la.qkv = a->qkv + l * BT * 3 * C;
  la.att = a->att + l * saved;
  la.atty = a->atty + l * BT * C;
  la.res2 = a->res2 + l * BT * C;
  la.ln2 = a->ln2 + l * BT * C;
  la.ln2_mean = a->ln2_mean + l * BT;
  la.ln2_rstd = a->ln2_rstd + l * BT;
  la.fch = a->fch + l * BT * H;
  la.fch_tanh = a->fch_tanh + l * BT * H;
  la.fch_gelu = a->fch_gelu + l * BT * H;
  la.res3 = a->res3 + l * BT * C;
  if (m->dropped) {
    la.att_mask = m->mk.att + l * att;
    la.attres_mask = m->mk.attres + l * BT * C;
    la.mlpres_mask = m->mk.mlpres + l * BT * C;
  } else {
    la.att_mask = la.attres_mask = la.mlpres_mask = NULL;
  }
  return la;
}

/* Per-layer parameter views (of params or grads). */
typedef struct LayerParams {
  float *ln1w, *ln1b, *qkvw, *qkvb, *attprojw, *attprojb, *ln2w, *ln2b, *fcw, *fcb, *fcprojw,
      *fcprojb;
} LayerParams;

static float *at(float *base, size_t off) { return base ? base + off : NULL; }

static LayerParams layer_params(const TrModel *m, const Params *p, int l) {
  size_t C = (size_t)m->C, H = (size_t)m->H;
  LayerParams lp;
  lp.ln1w = at(p->ln1w, l * C);
  lp.ln1b = at(p->ln1b, l * C);
  lp.qkvw = at(p->qkvw, l * 3 * C * C);
  lp.qkvb = at(p->qkvb, l * 3 * C);
  lp.attprojw = at(p->attprojw, l * C * C);
  lp.attprojb = at(p->attprojb, l * C);
  lp.ln2w = at(p->ln2w, l * C);
  lp.ln2b = at(p->ln2b, l * C);
  lp.fcw = at(p->fcw, l * H * C);
  lp.fcb = at(p->fcb, l * H);
  lp.fcprojw = at(p->fcprojw, l * C * H);
  lp.fcprojb = at(p->fcprojb, l * C);
  return lp;
}

/* out = in + dropout(x @ w^T + b). Without dropout: one pass out = in + b, then
   sgemm with beta=1 accumulates the product straight into the stream. */
static void residual_branch_forward(TrModel *m, float *out, const float *in, const float *x,
                                    const float *w, const float *b, uint8_t *mask, int N,
                                    int IC, float p, TrRng *rng) {
  const int C = m->C;
  size_t n = (size_t)N * C;
  if (!mask) {
    if (b)
      for (int r = 0; r < N; r++) {
        float *o = out + (size_t)r * C;
        const float *s = in + (size_t)r * C;
        for (int i = 0; i < C; i++) o[i] = s[i] + b[i];
      }
    else
      memcpy(out, in, n * sizeof(float));
    tr_matmul_forward(out, x, w, NULL, N, IC, C, 1.0f);
    return;
  }
  memcpy(out, in, n * sizeof(float));
  tr_matmul_forward(m->a.branch, x, w, b, N, IC, C, 0.0f);
  tr_dropout_mask(mask, n, p, rng);
  tr_dropout_add(out, m->a.branch, mask, 1.0f / (1.0f - p), n);
}

static void layer_forward(TrModel *m, int l, int B, int T, TrRng *rng) {
  const int C = m->C, N = B * T;
  const float p = (float)m->cfg.dropout, ks = m->dropped ? 1.0f / (1.0f - p) : 1.0f;
  LayerActs la = layer_acts(m, l, B, T);
  LayerParams w = layer_params(m, &m->p, l);
  tr_layernorm_forward(la.ln1, la.ln1_mean, la.ln1_rstd, la.in, w.ln1w, w.ln1b, N, C);
  tr_matmul_forward(la.qkv, la.ln1, w.qkvw, w.qkvb, N, C, 3 * C, 0.0f);
  if (la.att_mask) tr_dropout_mask(la.att_mask, (size_t)B * m->NH * T * T, p, rng);
  if (m->attn == TR_ATTN_FUSED)
    tr_attn_forward(la.atty, la.att, la.qkv, la.att_mask, ks, B, T, C, m->NH,
                    tr_model_attn_scale(&m->cfg));
  else
    tr_attn_sgemm_forward(la.atty, la.att, la.qkv, la.att_mask, ks, m->a.att_scratch, B, T, C,
                          m->NH, tr_model_attn_scale(&m->cfg));
  residual_branch_forward(m, la.res2, la.in, la.atty, w.attprojw, w.attprojb, la.attres_mask, N, C,
                          p, rng);
  tr_layernorm_forward(la.ln2, la.ln2_mean, la.ln2_rstd, la.res2, w.ln2w, w.ln2b, N, C);
  tr_matmul_forward(la.fch, la.ln2, w.fcw, w.fcb, N, C, m->H, 0.0f);
  tr_gelu_forward_tanh(la.fch_gelu, la.fch_tanh, la.fch, (size_t)N * m->H);
  residual_branch_forward(m, la.res3, la.res2, la.fch_gelu, w.fcprojw, w.fcprojb, la.mlpres_mask,
                          N, m->H, p, rng);
}

float tr_model_forward(TrModel *m, const int *tokens, const int *targets, int B, int T, int train,
                       TrRng *dropout_rng) {
  const int C = m->C, V = m->V, N = B * T;
  m->have_targets = 0;
  if (B < 1 || B > m->maxB || T < 1 || T > m->T) return NAN;
  for (int i = 0; i < N; i++)
    if (tokens[i] < 0 || tokens[i] >= V || (targets && (targets[i] < 0 || targets[i] >= V)))
      return NAN;
  m->B = B;
  m->curT = T;
  m->have_targets = targets != NULL;
  m->dropped = train && m->cfg.dropout > 0.0 && dropout_rng != NULL;
  memcpy(m->tokens, tokens, (size_t)N * sizeof(int));
  if (targets) memcpy(m->targets, targets, (size_t)N * sizeof(int));
  Acts *a = &m->a;
  tr_encoder_forward(a->encoded, m->tokens, m->p.wte, m->p.wpe, B, T, C);
  if (m->dropped) {
    float p = (float)m->cfg.dropout;
    tr_dropout_mask(m->mk.emb, (size_t)N * C, p, dropout_rng);
    tr_dropout_apply(a->encoded, a->encoded, m->mk.emb, 1.0f / (1.0f - p), (size_t)N * C);
  }
  for (int l = 0; l < m->L; l++) layer_forward(m, l, B, T, dropout_rng);
  const float *last = a->res3 + (size_t)(m->L - 1) * N * C;
  tr_layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, last, m->p.lnfw, m->p.lnfb, N, C);
  tr_matmul_forward(a->logits, a->lnf, m->p.wte, NULL, N, C, V, 0.0f);
  const float om = tr_model_output_mult(&m->cfg);
  if (om != 1.0f) /* muP readout: logits / w */
    for (size_t i = 0; i < (size_t)N * V; i++) a->logits[i] *= om;
  if (!targets) return 0.0f;
  tr_crossentropy_forward(a->losses, a->lse, a->logits, m->targets, N, V);
  double s = 0.0;
  for (int i = 0; i < N; i++) s += a->losses[i];
  return (float)(s / N);
}

/* ---- Backward ----------------------------------------------------------- */

static void layer_backward(TrModel *m, int l) {
  const int B = m->B, T = m->curT, C = m->C, H = m->H, N = B * T;
  const size_t nc = (size_t)N * C;
  const float p = (float)m->cfg.dropout, ks = m->dropped ? 1.0f / (1.0f - p) : 1.0f;
  LayerActs la = layer_acts(m, l, B, T);
  LayerParams w = layer_params(m, &m->p, l), g = layer_params(m, &m->g, l);
  Grads *d = &m->d;
  /* MLP branch: res3 = res2 + drop(gelu(ln2 @ fcw^T + fcb) @ fcprojw^T + fcprojb) */
  const float *db = d->dres;
  if (la.mlpres_mask) {
    tr_dropout_apply(d->dbranch, d->dres, la.mlpres_mask, ks, nc);
    db = d->dbranch;
  }
  tr_matmul_backward(d->dfch, g.fcprojw, g.fcprojb, db, la.fch_gelu, w.fcprojw, N, H, C);
  tr_gelu_backward(d->dfch, d->dfch, la.fch, la.fch_tanh, (size_t)N * H);
  tr_matmul_backward(d->dln, g.fcw, g.fcb, d->dfch, la.ln2, w.fcw, N, C, H);
  tr_layernorm_backward(d->dres, g.ln2w, g.ln2b, d->dln, la.res2, w.ln2w, la.ln2_mean, la.ln2_rstd,
                        N, C);
  /* attention branch: res2 = in + drop(attention(ln1 @ qkvw^T + qkvb) @ attprojw^T + attprojb) */
  db = d->dres;
  if (la.attres_mask) {
    tr_dropout_apply(d->dbranch, d->dres, la.attres_mask, ks, nc);
    db = d->dbranch;
  }
  tr_matmul_backward(d->dln, g.attprojw, g.attprojb, db, la.atty, w.attprojw, N, C, C);
  if (m->attn == TR_ATTN_FUSED)
    tr_attn_backward(d->dqkv, d->dln, la.atty, la.qkv, la.att, la.att_mask, ks, B, T, C, m->NH,
                     tr_model_attn_scale(&m->cfg));
  else
    tr_attn_sgemm_backward(d->dqkv, d->dln, la.qkv, la.att, la.att_mask, ks, m->a.att_scratch, B, T,
                           C, m->NH, tr_model_attn_scale(&m->cfg));
  tr_matmul_backward(d->dln, g.qkvw, g.qkvb, d->dqkv, la.ln1, w.qkvw, N, C, 3 * C);
  tr_layernorm_backward(d->dres, g.ln1w, g.ln1b, d->dln, la.in, w.ln1w, la.ln1_mean, la.ln1_rstd,
                        N, C);
}

void tr_model_backward(TrModel *m) {
  if (!m->have_targets) return;
  const int B = m->B, T = m->curT, C = m->C, V = m->V, N = B * T;
  Acts *a = &m->a;
  Grads *d = &m->d;
  /* the muP output multiplier folds into the scale: dlogits holds d loss / d(lnf @ wte^T) */
  const float om = tr_model_output_mult(&m->cfg);
  float sc = m->grad_scale / (float)N;
  if (om != 1.0f) sc *= om;
  tr_crossentropy_backward(d->dlogits, a->logits, a->lse, m->targets, sc, N, V);
  /* LM head (tied): logits = (lnf @ wte^T) * output_mult */
  tr_matmul_backward(d->dln, m->g.wte, NULL, d->dlogits, a->lnf, m->p.wte, N, C, V);
  memset(d->dres, 0, (size_t)N * C * sizeof(float));
  const float *last = a->res3 + (size_t)(m->L - 1) * N * C;
  tr_layernorm_backward(d->dres, m->g.lnfw, m->g.lnfb, d->dln, last, m->p.lnfw, a->lnf_mean,
                        a->lnf_rstd, N, C);
  for (int l = m->L - 1; l >= 0; l--) layer_backward(m, l);
  if (m->dropped)
    tr_dropout_apply(d->dres, d->dres, m->mk.emb, 1.0f / (1.0f - (float)m->cfg.dropout),
                     (size_t)N * C);
  tr_encoder_backward(m->g.wte, m->g.wpe, d->dres, m->tokens, B, T, C);
}
