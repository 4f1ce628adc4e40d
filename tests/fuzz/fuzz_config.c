/*
** fuzz_config.c: the training-config loader as `hpsweep train CONFIG --set k=v ...` runs it
** (hps_config_from_args: the YAML file, each --set, validation), then the config's JSON, hash
** and every key's text. Input: the YAML, then optionally a line "%%" and one --set per line.
*/
#include "cli.h"
#include "fuzz_util.h"
#include "tr_config.h"

#define FUZZ_MAX_SETS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *text = fuzz_cstr(data, size), *sets[FUZZ_MAX_SETS];
  int nset = 0;
  char *sep = strstr(text, "\n%%\n");
  if (sep) {
    *sep = '\0';
    for (char *line = sep + 4; line && *line && nset < FUZZ_MAX_SETS;) {
      char *nl = strchr(line, '\n');
      if (nl) *nl = '\0';
      sets[nset++] = line;
      line = nl ? nl + 1 : NULL;
    }
  }
  char path[600];
  fuzz_write(fuzz_path(path, sizeof path, "config.yaml"), text, strlen(text));
  TrConfig cfg;
  if (hps_config_from_args(&cfg, path, nset, sets, "train") == 0) {
    static char json[1 << 16];
    if (tr_config_to_json(&cfg, json, sizeof json) >= sizeof json) abort();
    (void)tr_config_hash(&cfg);
    (void)tr_config_total_steps(&cfg);
    size_t nk;
    const TrKey *k = tr_config_keys(&nk);
    char buf[TR_CONFIG_TEXT_MAX];
    for (size_t i = 0; i < nk; i++) {
      tr_config_value_text(&cfg, &k[i], 0, buf, sizeof buf);
      tr_config_value_text(&cfg, &k[i], 1, buf, sizeof buf);
    }
    /* The canonical JSON reads back to the same config. */
    TrConfig again;
    TrErr err = {0};
    tr_config_defaults(&again);
    if (tr_config_apply_text(&again, json, "json", &err) || tr_config_hash(&again) != tr_config_hash(&cfg)) {
      fprintf(stdout, "round trip: %s\n%s\n", err.msg, json);
      fflush(stdout); /* abort() would drop the buffered line */
      abort();
    }
  }
  free(text);
  return 0;
}
