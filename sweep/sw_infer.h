/*
** sw_infer.h: one inference trial of a `task: sample` sweep: generate from a
** checkpoint with a trial's sample.* settings and measure the text.
**
** Contract:
** - sw_infer_run reads ONLY trial_cfg->sample (and train.threads for the
**   OpenBLAS thread count, as tr_run does); model, data and vocabulary come
**   from the checkpoint. The data is rebuilt from the checkpoint's `data`
**   section (tr_data_create) for the validation split and the validity check;
**   a data file whose vocabulary differs from the checkpoint's is an error.
** - Prompts: n_prompts windows of prompt_tokens tokens of the validation split,
**   starts drawn by tr_rng_below from a fixed stream (SW_INFER_PROMPT_SEED), so
**   every trial of every sweep on the same checkpoint and sizes sees the same
**   prompts. Sample j of prompt i draws from tr_rng_seed2(sample.seed,
**   i * n_samples + j), so results do not depend on the order of work.
** - Measures (on generated tokens only, never the prompt; NAN when undefined):
**     validity     tr_data_valid_fraction of each sample's decoded text, pooled
**                  over units (synthetic corpus: sentences the source accepts;
**                  text file: words found in the training split); 0 when
**                  no unit could be judged at all (a greedy loop that never
**                  ends a sentence produced no valid text; valid_units says)
**     distinct_1/2/3  unique n-grams / total n-grams, pooled over all samples
**                  (n-grams never cross samples)
**     rep_4        fraction of a sample's 4-grams that already occurred earlier in
**                  the same sample, pooled over samples (degenerate loops -> 1)
**     mean_length  generated tokens per sample (a stop text may end one early)
**     loglik       mean log p(token) in nats per generated token under the model
**                  itself: temperature 1, no filters, no penalties
**     tokens_per_second  generated tokens / wall seconds of generation
** - Reporting: each measure goes to hooks->on_metric as a TrMetric with step 0,
**   tokens = generated tokens, in sw_infer_metric_names order; the scheduler
**   records the spec's metric.name among them as best and final value
**   (sw_infer_metric_value). res gets status (completed, or interrupted when
**   *hooks->stop was set or on_metric returned non-zero), wall_seconds, tokens
**   (generated), tokens_per_second, n_params, entropy_floor; steps 0 and the
**   loss fields NAN. hooks->resume_path and on_checkpoint are not used: an
**   interrupted inference trial simply runs again. Setup failures (bad checkpoint, missing data file, bad
**   sample settings) return an error code with err filled.
*/
#ifndef SW_INFER_H
#define SW_INFER_H

#include <stdint.h>

#include "tr_config.h"
#include "tr_err.h"
#include "tr_run.h"

#define SW_INFER_PROMPT_SEED 0x70726f6d707473ull /* "prompts" */
#define SW_INFER_NMETRICS 8

typedef struct SwInferMetrics {
  double validity;
  double distinct_1, distinct_2, distinct_3;
  double rep_4;
  double mean_length;
  double loglik;
  double tokens_per_second;
  int64_t samples;     /* n_prompts * n_samples */
  int64_t tokens;      /* generated */
  int64_t valid_units; /* units tr_data_valid_fraction judged (sentences or words) */
} SwInferMetrics;

/* The measure names, in the order they are reported ("validity", "distinct_1",
** "distinct_2", "distinct_3", "rep_4", "mean_length", "loglik",
** "tokens_per_second"), NULL-terminated; *n = SW_INFER_NMETRICS. */
const char *const *sw_infer_metric_names(int *n);
/* Index of a measure name, or -1 (a spec check: is metric.name one of ours?). */
int sw_infer_metric_index(const char *name);
/* The value of measure `name` in m; TR_ENOTFOUND if unknown. */
int sw_infer_metric_value(const SwInferMetrics *m, const char *name, double *value);

/* The token statistics of the contract over n_samples samples, sample s being
** tokens[s*stride .. s*stride + lens[s]): fills distinct_1/2/3, rep_4 and
** mean_length of m (NAN where there is no n-gram). TR_ENOMEM or TR_OK. */
int sw_infer_text_stats(const int *tokens, const int *lens, int n_samples, int stride, SwInferMetrics *m);

/* Run one trial (see the contract). hooks may be NULL; metrics may be NULL. */
int sw_infer_run(const TrConfig *trial_cfg, const char *checkpoint, const TrRunHooks *hooks,
                 TrRunResult *res, SwInferMetrics *metrics, TrErr *err);

#endif
