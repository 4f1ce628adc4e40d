/*
** tr_ckpt.c: checkpoint serialisation. The file is built in memory, then written
** once; loading reads the whole file and parses it with bounds checks.
*/
#include "tr_ckpt.h"
#include "tr_alloc.h"
#include "tr_atomic.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct Buf {
  uint8_t *p;
  size_t n, cap;
  int oom;
} Buf;

static void put(Buf *b, const void *src, size_t n) {
  if (b->oom) return;
  if (b->n + n > b->cap) {
    size_t cap = b->cap ? b->cap : 4096;
    while (cap < b->n + n) cap *= 2;
    uint8_t *q = tr_realloc(b->p, cap);
    if (!q) {
      b->oom = 1;
      return;
    }
    b->p = q;
    b->cap = cap;
  }
  memcpy(b->p + b->n, src, n);
  b->n += n;
}
static void put_u64(Buf *b, uint64_t v) { put(b, &v, 8); }
static void put_f64(Buf *b, double v) { put(b, &v, 8); }

static uint64_t fnv1a(const uint8_t *p, size_t n) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
  return h;
}

/* Checkpoints are written through tr_atomic as "<dir>/ckpt.bin.XXXXXX", locked by
** their writer until renamed: tr_atomic_temps_remove takes only unlocked ones. */
int tr_ckpt_temps_remove(const char *dir) {
  char p[TR_PATH_MAX + 16];
  if (snprintf(p, sizeof p, "%s/ckpt.bin", dir) >= (int)sizeof p) return -1;
  return tr_atomic_temps_remove(p);
}

int tr_ckpt_save(const char *path, const TrCkpt *c, TrErr *err) {
  Buf b = {0};
  uint32_t ver = TR_CKPT_VERSION, res = 0;
  put(&b, TR_CKPT_MAGIC, 8);
  put(&b, &ver, 4);
  put(&b, &res, 4);
  put_u64(&b, c->config_hash);
  put_u64(&b, (uint64_t)c->step);
  put_u64(&b, (uint64_t)c->tokens);
  put_u64(&b, (uint64_t)c->optim_steps);
  put_u64(&b, (uint64_t)c->best_step);
  put_f64(&b, c->best_val_loss);
  put_f64(&b, c->best_train_loss);
  put_f64(&b, c->elapsed);
  put(&b, c->rng_batch.s, 32);
  put(&b, c->rng_dropout.s, 32);
  size_t nj = c->config_json ? strlen(c->config_json) : 0;
  put_u64(&b, nj);
  put(&b, c->config_json, nj);
  put_u64(&b, c->n_vocab);
  put(&b, c->vocab, c->n_vocab);
  put_u64(&b, c->n_params);
  put(&b, c->params, c->n_params * sizeof(float));
  put_u64(&b, c->n_optim);
  put(&b, c->optim, c->n_optim * sizeof(float));
  if (!b.oom) put_u64(&b, fnv1a(b.p, b.n));
  if (b.oom) {
    free(b.p);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory building checkpoint", path);
  }

  /* temp file beside it, fsync, rename: a crash leaves the old checkpoint or the new one */
  TrAtomicFile a;
  int rc = tr_atomic_open(&a, path, err);
  if (rc == TR_OK) {
    tr_atomic_write(&a, b.p, b.n); /* a failure is kept: commit names it and removes the temp */
    rc = tr_atomic_commit(&a, err);
  }
  free(b.p);
  return rc;
}

typedef struct Rd {
  const uint8_t *p;
  size_t n, off;
  int bad;
} Rd;

static void get(Rd *r, void *dst, size_t n) {
  if (r->bad || n > r->n - r->off) {
    r->bad = r->bad ? r->bad : 1; /* out of memory (2) stays that */
    memset(dst, 0, n);
    return;
  }
  memcpy(dst, r->p + r->off, n);
  r->off += n;
}
static uint64_t get_u64(Rd *r) {
  uint64_t v;
  get(r, &v, 8);
  return v;
}
static double get_f64(Rd *r) {
  double v;
  get(r, &v, 8);
  return v;
}
/* A length-prefixed array of n*elem bytes, allocated (+1 NUL byte for strings). */
static void *get_array(Rd *r, size_t elem, size_t *count) {
  uint64_t n = get_u64(r);
  if (r->bad || n > (r->n - r->off) / elem) {
    r->bad = r->bad ? r->bad : 1;
    *count = 0;
    return NULL;
  }
  uint8_t *a = tr_malloc((size_t)n * elem + 1);
  if (!a) {
    r->bad = 2;
    *count = 0;
    return NULL;
  }
  get(r, a, (size_t)n * elem);
  a[n * elem] = 0;
  *count = (size_t)n;
  return a;
}

void tr_ckpt_deinit(TrCkpt *c) {
  if (!c) return;
  free(c->config_json);
  free(c->vocab);
  free(c->params);
  free(c->optim);
  memset(c, 0, sizeof *c);
}

int tr_ckpt_load(const char *path, TrCkpt *c, TrErr *err) {
  memset(c, 0, sizeof *c);
  FILE *f = fopen(path, "rb");
  if (!f) return tr_err_set(err, TR_EIO, "%s: %s", path, strerror(errno));
  struct stat st;
  if (fstat(fileno(f), &st) || !S_ISREG(st.st_mode)) {
    fclose(f);
    return tr_err_set(err, TR_EFORMAT, "%s: not a regular file", path);
  }
  size_t n = (size_t)st.st_size;
  uint8_t *p = tr_malloc(n ? n : 1);
  if (!p) {
    fclose(f);
    return tr_err_set(err, TR_ENOMEM, "%s: out of memory reading %zu bytes", path, n);
  }
  size_t got = fread(p, 1, n, f);
  fclose(f);
  int rc = TR_OK;
  if (got != n) {
    rc = tr_err_set(err, TR_EIO, "%s: short read", path);
    goto done;
  }
  if (n < 16 || memcmp(p, TR_CKPT_MAGIC, 8) != 0) {
    rc = tr_err_set(err, TR_EFORMAT, "%s: not an hpsweep checkpoint (bad magic)", path);
    goto done;
  }
  uint32_t ver;
  memcpy(&ver, p + 8, 4);
  if (ver != TR_CKPT_VERSION) {
    rc = tr_err_set(err, TR_EFORMAT, "%s: checkpoint version %u, this hpsweep reads version %u", path, ver,
                    TR_CKPT_VERSION);
    goto done;
  }
  if (n < 24) {
    rc = tr_err_set(err, TR_EFORMAT, "%s: truncated checkpoint (%zu bytes)", path, n);
    goto done;
  }
  uint64_t sum;
  memcpy(&sum, p + n - 8, 8);
  Rd r = {p, n - 8, 16, 0};
  c->config_hash = get_u64(&r);
  c->step = (int64_t)get_u64(&r);
  c->tokens = (int64_t)get_u64(&r);
  c->optim_steps = (int64_t)get_u64(&r);
  c->best_step = (int64_t)get_u64(&r);
  c->best_val_loss = get_f64(&r);
  c->best_train_loss = get_f64(&r);
  c->elapsed = get_f64(&r);
  get(&r, c->rng_batch.s, 32);
  get(&r, c->rng_dropout.s, 32);
  c->config_json = get_array(&r, 1, &(size_t){0});
  c->vocab = get_array(&r, 1, &c->n_vocab);
  c->params = get_array(&r, sizeof(float), &c->n_params);
  c->optim = get_array(&r, sizeof(float), &c->n_optim);
  if (r.bad == 2)
    rc = tr_err_set(err, TR_ENOMEM, "%s: out of memory", path);
  else if (r.bad || r.off != r.n)
    rc = tr_err_set(err, TR_EFORMAT, "%s: truncated or corrupt checkpoint (sizes do not add up)", path);
  else if (fnv1a(p, n - 8) != sum)
    rc = tr_err_set(err, TR_EFORMAT, "%s: corrupt checkpoint (checksum mismatch)", path);
done:
  free(p);
  if (rc) tr_ckpt_deinit(c);
  return rc;
}

uint64_t tr_ckpt_config_hash(const TrConfig *cfg) {
  TrConfig k = *cfg;
  /* Run control may change between segments of one run. */
  k.train.max_steps = k.train.max_tokens = 0;
  k.train.max_seconds = 0;
  k.train.eval_interval = k.train.log_interval = k.train.checkpoint_interval = 1;
  k.train.threads = 0;
  k.train.out_dir[0] = '\0';
  memset(&k.sample, 0, sizeof k.sample);
  return tr_config_hash(&k);
}

static const char *const mutable_keys[] = {"optimizer.lr", "optimizer.weight_decay", "optimizer.betas",
                                           "model.dropout", "optimizer.grad_clip", NULL};

const char *const *tr_ckpt_mutable_keys(void) { return mutable_keys; }

uint64_t tr_ckpt_config_hash_pbt(const TrConfig *cfg) {
  TrConfig k = *cfg;
  k.optimizer.lr = k.optimizer.weight_decay = k.optimizer.grad_clip = 0;
  k.optimizer.betas[0] = k.optimizer.betas[1] = 0;
  k.model.dropout = 0;
  k.train.seed = 0;
  return tr_ckpt_config_hash(&k);
}

int tr_ckpt_config(const TrCkpt *c, TrConfig *cfg, TrErr *err) {
  /* JSON is YAML: reuse the hardened loader and the key registry. */
  tr_config_defaults(cfg);
  if (!c->config_json) return tr_err_set(err, TR_EFORMAT, "checkpoint has no config");
  return tr_config_apply_text(cfg, c->config_json, "checkpoint config", err);
}
