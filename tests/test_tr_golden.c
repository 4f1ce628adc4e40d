/* test_tr_golden.c: tr_model against PyTorch (tests/golden/gen_golden.py, float64
** reference of the same model on the same float32 weights and batch).
** Tolerances: |ours - torch| <= 1e-4*|torch| + 1e-5 for logits, loss and every
** gradient element. Then 5 AdamW steps (tr_optim, clipping by tr_grad_clip) on
** the same batch: each step's loss within 1e-4 relative, the weights after the
** last step within 1e-3*|torch| + 1e-4. golden_load + golden_model give a model
** holding the golden weights. gpt_mup_bias1.bin repeats both under muP (w = 2,
** mup's MuAdamW lr and weight-decay multipliers from tr_model_lr_mults). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_blas.h"
#include "tr_model.h"
#include "tr_optim.h"
#include "tr_par.h"

typedef struct Golden {
  int V, T, C, L, n_head, mlp_ratio, bias, B, nparams;
  int parametrization, mup_base_width; /* version 2 files; 0, 0 in version 1 */
  int *tokens, *targets;   /* (B, T) */
  float *params;           /* (nparams) flat, tr_model order */
  float *logits;           /* (B, T, V) */
  float loss;
  float *grads;            /* (nparams) d(mean loss)/dparams */
  int nsteps;              /* AdamW steps recorded */
  double lr, beta1, beta2, eps, weight_decay, grad_clip;
  float *adam_losses;      /* (nsteps) loss before each update; [0] == loss */
  float *params_after;     /* (nparams) after the last update */
} Golden;

static void golden_free(Golden *g) {
  free(g->tokens), free(g->targets), free(g->params), free(g->logits), free(g->grads);
  free(g->adam_losses), free(g->params_after);
  memset(g, 0, sizeof *g);
}

static int rd(FILE *f, void *p, size_t sz, size_t n) { return fread(p, sz, n, f) == n; }

static void *rd_alloc(FILE *f, size_t sz, size_t n, int *ok) {
  void *p = malloc(sz * (n ? n : 1));
  if (!p || !rd(f, p, sz, n)) *ok = 0;
  return p;
}

/* Load a gen_golden.py file; 0 on success, else -1 with a message in msg. */
static int golden_load(const char *path, Golden *g, char *msg, size_t msgn) {
  memset(g, 0, sizeof *g);
  FILE *f = fopen(path, "rb");
  if (!f) {
    snprintf(msg, msgn, "%s: cannot open", path);
    return -1;
  }
  char magic[8];
  int hdr[12] = {0}, ok = 1;
  if (!rd(f, magic, 1, 8) || memcmp(magic, "HPSGOLD", 8) != 0 || !rd(f, hdr, 4, 10) ||
      (hdr[0] != 1 && hdr[0] != 2) || (hdr[0] == 2 && !rd(f, hdr + 10, 4, 2))) {
    fclose(f);
    snprintf(msg, msgn, "%s: not a version 1 or 2 golden file", path);
    return -1;
  }
  g->parametrization = hdr[10], g->mup_base_width = hdr[11];
  g->V = hdr[1], g->T = hdr[2], g->C = hdr[3], g->L = hdr[4], g->n_head = hdr[5];
  g->mlp_ratio = hdr[6], g->bias = hdr[7], g->B = hdr[8], g->nparams = hdr[9];
  size_t bt = (size_t)g->B * g->T, np = (size_t)g->nparams;
  g->tokens = rd_alloc(f, 4, bt, &ok);
  g->targets = rd_alloc(f, 4, bt, &ok);
  g->params = rd_alloc(f, 4, np, &ok);
  g->logits = rd_alloc(f, 4, bt * g->V, &ok);
  ok = ok && rd(f, &g->loss, 4, 1);
  g->grads = rd_alloc(f, 4, np, &ok);
  double hp[6];
  ok = ok && rd(f, &g->nsteps, 4, 1) && g->nsteps > 0 && g->nsteps < 1000 && rd(f, hp, 8, 6);
  if (ok) {
    g->lr = hp[0], g->beta1 = hp[1], g->beta2 = hp[2], g->eps = hp[3];
    g->weight_decay = hp[4], g->grad_clip = hp[5];
    g->adam_losses = rd_alloc(f, 4, (size_t)g->nsteps, &ok);
    g->params_after = rd_alloc(f, 4, np, &ok);
  }
  fclose(f);
  if (!ok) {
    golden_free(g);
    snprintf(msg, msgn, "%s: truncated", path);
    return -1;
  }
  return 0;
}

/* A model with the golden config and weights (max batch = g->B). */
static TrModel *golden_model(const Golden *g) {
  TrModelConfig cfg = {.n_layer = g->L, .n_head = g->n_head, .d_model = g->C,
                       .context_length = g->T, .mlp_ratio = g->mlp_ratio, .bias = g->bias,
                       .dropout = 0.0, .vocab_size = g->V, .parametrization = g->parametrization,
                       .mup_base_width = g->mup_base_width};
  TrModel *m = NULL;
  TrErr err = {0};
  cr_assert_eq(tr_model_create(&m, &cfg, g->B, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_model_num_params(m), (size_t)g->nparams, "golden file has %d params, model %zu",
               g->nparams, tr_model_num_params(m));
  memcpy(tr_model_params(m), g->params, (size_t)g->nparams * sizeof(float));
  return m;
}

/* bias 0, 1: the standard files; MUP_FILE: gpt_mup_bias1.bin (bias 1, muP, w = 2) */
#define MUP_FILE 2
static void golden_path(char *buf, size_t n, int bias) {
  const char *root = getenv("HPS_SOURCE_ROOT");
  if (bias == MUP_FILE)
    snprintf(buf, n, "%s/tests/golden/gpt_mup_bias1.bin", root ? root : HPS_SOURCE_ROOT);
  else
    snprintf(buf, n, "%s/tests/golden/gpt_bias%d.bin", root ? root : HPS_SOURCE_ROOT, bias);
}

static int close_enough(float ours, float ref) {
  return fabsf(ours - ref) <= 1e-4f * fabsf(ref) + 1e-5f;
}

static void compare_with_torch(int bias) {
  char path[4096], msg[4200];
  golden_path(path, sizeof path, bias);
  Golden g;
  cr_assert_eq(golden_load(path, &g, msg, sizeof msg), 0, "%s", msg);
  TrModel *m = golden_model(&g);
  tr_model_zero_grad(m);
  float loss = tr_model_forward(m, g.tokens, g.targets, g.B, g.T, 1, NULL);
  tr_model_backward(m);
  const float *lg = tr_model_logits(m);
  for (int i = 0; i < g.B * g.T * g.V; i++)
    cr_assert(close_enough(lg[i], g.logits[i]), "bias=%d logits[%d]: ours %.8g, torch %.8g", bias,
              i, (double)lg[i], (double)g.logits[i]);
  cr_assert(close_enough(loss, g.loss), "bias=%d loss: ours %.8g, torch %.8g", bias, (double)loss,
            (double)g.loss);
  int n;
  const TrParamTensor *t = tr_model_tensors(m, &n);
  const float *gr = tr_model_grads(m);
  double worst = 0;
  for (int k = 0; k < n; k++)
    for (size_t i = 0; i < t[k].numel; i++) {
      float a = gr[t[k].offset + i], b = g.grads[t[k].offset + i];
      worst = fmax(worst, fabs(a - b) / (fabs(b) + 0.1));
      cr_assert(close_enough(a, b), "bias=%d grad %s[%zu]: ours %.8g, torch %.8g", bias, t[k].name,
                i, (double)a, (double)b);
    }
  cr_assert(worst < 1e-4);
  cr_assert_float_eq(g.adam_losses[0], g.loss, 0.0f, "adam_losses[0] must be the initial loss");
  tr_model_destroy(m);
  golden_free(&g);
}

Test(tr_golden, logits_loss_and_gradients_match_pytorch_with_bias) { compare_with_torch(1); }
Test(tr_golden, logits_loss_and_gradients_match_pytorch_without_bias) { compare_with_torch(0); }
Test(tr_golden, mup_logits_loss_and_gradients_match_pytorch) { compare_with_torch(MUP_FILE); }

Test(tr_golden, mup_file_holds_a_mup_model_whose_numbers_differ_from_standard) {
  char path[4096], msg[4200];
  Golden g, s;
  golden_path(path, sizeof path, MUP_FILE);
  cr_assert_eq(golden_load(path, &g, msg, sizeof msg), 0, "%s", msg);
  golden_path(path, sizeof path, 1);
  cr_assert_eq(golden_load(path, &s, msg, sizeof msg), 0, "%s", msg);
  cr_assert_eq(g.parametrization, TR_PARAM_MUP);
  cr_assert_eq(g.C / g.mup_base_width, 2);
  cr_assert_eq(s.parametrization, TR_PARAM_STANDARD);
  /* same weights and batch, different parametrization: the comparison above is not vacuous */
  cr_assert_eq(memcmp(g.params, s.params, (size_t)g.nparams * sizeof(float)), 0);
  cr_assert(fabsf(g.loss - s.loss) > 0.1f, "mup loss %g, standard %g", (double)g.loss, (double)s.loss);
  golden_free(&g);
  golden_free(&s);
}

Test(tr_golden, loader_rejects_a_truncated_file) {
  char path[4096], msg[4200], tmpl[] = "/tmp/hps_golden_XXXXXX";
  golden_path(path, sizeof path, 1);
  cr_assert_not_null(mkdtemp(tmpl));
  char cut[4200];
  snprintf(cut, sizeof cut, "%s/cut.bin", tmpl);
  FILE *in = fopen(path, "rb"), *out = fopen(cut, "wb");
  cr_assert(in && out);
  char buf[1000];
  size_t k = fread(buf, 1, sizeof buf, in);
  fwrite(buf, 1, k, out);
  fclose(in), fclose(out);
  Golden g;
  cr_assert_eq(golden_load(cut, &g, msg, sizeof msg), -1);
  cr_assert(strstr(msg, "truncated"), "%s", msg);
  remove(cut);
  remove(tmpl);
}

/* ---- 5 AdamW steps on the golden batch (tr_optim + clipping, as tr_run does) ---- */

static void adamw_matches_torch(int bias) {
  char path[4096], msg[4200];
  golden_path(path, sizeof path, bias);
  Golden g;
  cr_assert_eq(golden_load(path, &g, msg, sizeof msg), 0, "%s", msg);
  TrModel *m = golden_model(&g);
  TrConfig c;
  tr_config_defaults(&c);
  TrOptimConfig oc = c.optimizer;
  oc.name = TR_OPT_ADAMW;
  oc.lr = g.lr, oc.betas[0] = g.beta1, oc.betas[1] = g.beta2, oc.eps = g.eps;
  oc.weight_decay = g.weight_decay;
  oc.weight_decay_on = TR_WD_MATRICES;
  int nt;
  const TrParamTensor *t = tr_model_tensors(m, &nt);
  TrParamSeg segs[TR_MODEL_NTENSORS] = {{0}};
  for (int i = 0; i < nt; i++) {
    segs[i].offset = t[i].offset;
    segs[i].numel = t[i].numel;
    segs[i].is_matrix = t[i].is_matrix;
    tr_model_lr_mults(tr_model_config(m), &t[i], oc.name, &segs[i].lr_mult, &segs[i].wd_mult);
  }
  TrOptim *opt = NULL;
  TrErr err = {0};
  size_t n = tr_model_num_params(m);
  cr_assert_eq(tr_optim_create(&opt, &oc, n, segs, nt, &err), TR_OK, "%s", err.msg);
  for (int s = 0; s < g.nsteps; s++) {
    tr_model_zero_grad(m);
    float loss = tr_model_forward(m, g.tokens, g.targets, g.B, g.T, 1, NULL);
    cr_assert(fabsf(loss - g.adam_losses[s]) <= 1e-4f * fabsf(g.adam_losses[s]),
              "bias=%d AdamW step %d loss: ours %.8g, torch %.8g", bias, s + 1, (double)loss,
              (double)g.adam_losses[s]);
    tr_model_backward(m);
    tr_grad_clip(tr_model_grads(m), n, g.grad_clip);
    cr_assert_eq(tr_optim_step(opt, tr_model_params(m), tr_model_grads(m), g.lr), TR_OK);
  }
  /* The key bias gets no gradient in exact arithmetic (q.(k+b) shifts a whole
     softmax row), so both sides hold rounding noise there, which Adam's m/sqrt(v)
     turns into +-lr steps of arbitrary sign: those entries are not compared. */
  const float *p = tr_model_params(m);
  for (int k = 0; k < nt; k++)
    for (size_t i = 0; i < t[k].numel; i++) {
      if (!strcmp(t[k].name, "qkvb") && (int)(i % (3 * g.C)) / g.C == 1) continue;
      float a = p[t[k].offset + i], b = g.params_after[t[k].offset + i];
      cr_assert(fabsf(a - b) <= 1e-3f * fabsf(b) + 1e-4f,
                "bias=%d after %d AdamW steps %s[%zu]: ours %.8g, torch %.8g", bias, g.nsteps,
                t[k].name, i, (double)a, (double)b);
    }
  tr_optim_destroy(opt);
  tr_model_destroy(m);
  golden_free(&g);
}

Test(tr_golden, five_adamw_steps_match_pytorch_with_bias) { adamw_matches_torch(1); }
Test(tr_golden, five_adamw_steps_match_pytorch_without_bias) { adamw_matches_torch(0); }
Test(tr_golden, five_mup_adamw_steps_match_pytorch_muadamw) { adamw_matches_torch(MUP_FILE); }

/* The same on two threads, every elementwise kernel and the optimizer on its threaded path. */
static void setup_2threads(void) {
  openblas_set_num_threads(2);
  tr_par_set_min_work(0);
}

TestSuite(tr_golden_2threads, .init = setup_2threads);

Test(tr_golden_2threads, logits_loss_and_gradients_match_pytorch_with_bias) { compare_with_torch(1); }
Test(tr_golden_2threads, logits_loss_and_gradients_match_pytorch_without_bias) { compare_with_torch(0); }
Test(tr_golden_2threads, mup_logits_loss_and_gradients_match_pytorch) { compare_with_torch(MUP_FILE); }
Test(tr_golden_2threads, five_adamw_steps_match_pytorch_with_bias) { adamw_matches_torch(1); }
Test(tr_golden_2threads, five_adamw_steps_match_pytorch_without_bias) { adamw_matches_torch(0); }
Test(tr_golden_2threads, five_mup_adamw_steps_match_pytorch_muadamw) { adamw_matches_torch(MUP_FILE); }
