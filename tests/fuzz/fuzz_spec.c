/*
** fuzz_spec.c: sw_spec_load_text on arbitrary bytes (the spec loader: YAML hardening, every key,
** distribution and hpsweep: block check), then the expansion of small grid/random sweeps.
** Relative paths resolve against a private temporary directory.
*/
#include "fuzz_util.h"
#include "sw_expand.h"
#include "sw_spec.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char path[600];
  fuzz_path(path, sizeof path, "spec.yaml");
  SwSpec *s = NULL;
  TrErr err = {0};
  if (sw_spec_load_text(&s, path, (const char *)data, size, &err)) {
    if (!err.msg[0]) abort(); /* every failure says why */
    return 0;
  }
  for (size_t i = 0; i < sw_spec_notice_count(s); i++)
    if (!sw_spec_notice(s, i)) abort();
  size_t n_seeds = 0;
  sw_spec_seeds(s, &n_seeds);
  int64_t cap = sw_spec_run_cap(s);
  /* Expansion keeps a config per trial: only small sweeps, so an iteration stays fast. */
  if (sw_spec_method(s) != SW_METHOD_BAYES && !sw_spec_lr_pending(s) && cap > 0 && cap <= 64 && n_seeds <= 4) {
    SwTrial *t = NULL;
    size_t n = 0;
    if (sw_expand(s, &t, &n, &err) == TR_OK) {
      char h[17];
      sw_trials_hash(t, n, h);
      sw_sweep_hash(s, t, n, h);
      sw_trials_free(t, n);
    } else if (!err.msg[0]) {
      abort();
    }
  }
  sw_spec_destroy(s);
  return 0;
}
