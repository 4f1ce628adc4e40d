/* tr_config: defaults, YAML and --set, validation, did-you-mean, canonical JSON. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tr_config.h"

static char *write_tmp(const char *text) {
  static char path[64];
  strcpy(path, "/tmp/hps_cfg_XXXXXX");
  int fd = mkstemp(path);
  cr_assert(fd >= 0);
  cr_assert_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
  close(fd);
  return path;
}

static void load_fails(const char *yaml, const char *want) {
  char *p = write_tmp(yaml);
  TrConfig c;
  TrErr err = {0};
  int rc = tr_config_load(&c, p, &err);
  if (rc == TR_OK) rc = tr_config_validate(&c, &err);
  unlink(p);
  cr_assert_neq(rc, TR_OK, "expected an error for:\n%s", yaml);
  cr_assert(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
}

Test(tr_config, defaults_are_valid_and_every_default_text_parses) {
  TrConfig c;
  tr_config_defaults(&c);
  TrErr err = {0};
  cr_assert_eq(tr_config_validate(&c, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(c.optimizer.name, TR_OPT_ADAMW);
  cr_assert_float_eq(c.optimizer.lr, 1e-3, 1e-15);
  cr_assert_float_eq(c.optimizer.betas[1], 0.99, 1e-15);
  cr_assert_eq(c.model.bias, 1);
  cr_assert_str_eq(c.data.path, "");
}

/* tr_config_defaults builds each default without YAML (so it never allocates): it must give
** what the YAML parse of the same text gives, key by key. */
Test(tr_config, defaults_equal_the_yaml_parse_of_every_default_text) {
  TrConfig a, b;
  tr_config_defaults(&a);
  memcpy(&b, &a, sizeof b);
  size_t n;
  const TrKey *k = tr_config_keys(&n);
  for (size_t i = 0; i < n; i++) {
    TrErr err = {0};
    cr_assert_eq(tr_config_set(&b, k[i].name, k[i].def, &err), TR_OK, "%s: %s", k[i].name, err.msg);
    char va[512], vb[512];
    tr_config_value_text(&a, &k[i], 1, va, sizeof va);
    tr_config_value_text(&b, &k[i], 1, vb, sizeof vb);
    cr_assert_str_eq(va, vb, "%s: default %s, YAML parse %s", k[i].name, va, vb);
  }
  cr_assert_eq(memcmp(&a, &b, sizeof a), 0);
}

Test(tr_config, empty_file_gives_defaults) {
  char *p = write_tmp("");
  TrConfig a, b;
  TrErr err = {0};
  cr_assert_eq(tr_config_load(&a, p, &err), TR_OK, "%s", err.msg);
  unlink(p);
  tr_config_defaults(&b);
  cr_assert_eq(tr_config_hash(&a), tr_config_hash(&b));
}

Test(tr_config, sections_and_dotted_keys_set_the_same_field) {
  char *p = write_tmp("optimizer:\n  lr: 3e-4\n  betas: [0.9, 0.95]\nschedule.name: wsd\n"
                      "schedule:\n  milestones: [10, 20]\n");
  TrConfig c;
  TrErr err = {0};
  cr_assert_eq(tr_config_load(&c, p, &err), TR_OK, "%s", err.msg);
  unlink(p);
  cr_assert_float_eq(c.optimizer.lr, 3e-4, 1e-18);
  cr_assert_float_eq(c.optimizer.betas[1], 0.95, 1e-15);
  cr_assert_eq(c.schedule.name, TR_SCHED_WSD);
  cr_assert_eq(c.schedule.n_milestones, 2);
  cr_assert_eq(c.schedule.milestones[1], 20);
}

Test(tr_config, set_overrides_parse_like_yaml) {
  TrConfig c;
  tr_config_defaults(&c);
  TrErr err = {0};
  cr_assert_eq(tr_config_set(&c, "optimizer.lr", "3e-4", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_set(&c, "optimizer.betas", "[0.8, 0.9]", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_set(&c, "data.path", "my file.txt", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_set(&c, "train.max_tokens", "1e6", &err), TR_OK, "%s", err.msg);
  cr_assert_float_eq(c.optimizer.betas[0], 0.8, 1e-15);
  cr_assert_str_eq(c.data.path, "my file.txt");
  cr_assert_eq(c.train.max_tokens, 1000000);
  cr_assert_neq(tr_config_set(&c, "optimizer.lr", "fast", &err), TR_OK);
  cr_assert_str_eq(err.msg, "optimizer.lr: expected a finite number, got 'fast'");
}

Test(tr_config, unknown_key_names_file_line_col_and_suggests) {
  load_fails("optimizer:\n  lrr: 0.1\n", ":2:3: unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)");
  load_fails("trian:\n  seed: 1\n", "unknown section 'trian' (did you mean 'train'?)");
  load_fails("model:\n  n_layers: 3\n", "did you mean 'model.n_layer'?");
}

Test(tr_config, set_unknown_key_suggests) {
  TrConfig c;
  tr_config_defaults(&c);
  TrErr err = {0};
  cr_assert_neq(tr_config_set(&c, "optimizer.lrr", "1", &err), TR_OK);
  cr_assert_str_eq(err.msg, "unknown key 'optimizer.lrr' (did you mean 'optimizer.lr'?)");
}

Test(tr_config, bad_values_name_key_and_value) {
  load_fails("optimizer:\n  lr: 0\n", "optimizer.lr: must be > 0, got 0");
  load_fails("optimizer:\n  lr: -1\n", ":2:7: optimizer.lr: -1 is out of range");
  load_fails("optimizer:\n  betas: [0.9, 1.0]\n", "optimizer.betas: each must be in [0, 1)");
  load_fails("optimizer:\n  betas: [0.9]\n", "optimizer.betas: expected a list of 2 numbers");
  load_fails("optimizer:\n  name: adamx\n", ":2:9: optimizer.name: 'adamx' is not one of sgd|adam|adamw|rmsprop|lion");
  load_fails("schedule:\n  name: multistep\n  milestones: [30, 10]\n",
             "schedule.milestones: must be strictly increasing, got 10 after 30");
  load_fails("train:\n  batch_size: 16\n  micro_batch_size: 5\n",
             "train.micro_batch_size: 5 does not divide train.batch_size 16");
  load_fails("model:\n  d_model: 30\n  n_head: 4\n", "model.n_head: 4 does not divide model.d_model 30");
  load_fails("model:\n  bias: maybe\n", "model.bias: expected true or false, got 'maybe'");
  load_fails("train:\n  max_steps: 0\n", "no budget");
  load_fails("train:\n  max_steps: 1e999\n", "train.max_steps: expected an integer, got '1e999'");
  load_fails("model: 3\n", "model: expected a mapping of keys");
  load_fails("- 1\n", "a config must be a mapping");
  load_fails("schedule:\n  name: one_cycle\n  warmup_steps: 5\n", "one_cycle has its own warm-up");
  load_fails("model:\n  parametrization: mu\n", ":2:20: model.parametrization: 'mu' is not one of standard|mup");
  load_fails("model:\n  mup_base_width: -8\n", ":2:19: model.mup_base_width: -8 is out of range");
  load_fails("model:\n  mup_base_width: wide\n", "model.mup_base_width: expected an integer, got 'wide'");
}

Test(tr_config, parametrization_defaults_to_standard_and_mup_takes_a_base_width) {
  TrConfig c;
  tr_config_defaults(&c);
  cr_assert_eq(c.model.parametrization, TR_PARAM_STANDARD);
  cr_assert_eq(c.model.mup_base_width, 0);
  TrErr err = {0};
  cr_assert_eq(tr_config_set(&c, "model.parametrization", "mup", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_set(&c, "model.mup_base_width", "32", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(c.model.parametrization, TR_PARAM_MUP);
  cr_assert_eq(c.model.mup_base_width, 32);
  cr_assert_eq(tr_config_validate(&c, &err), TR_OK, "%s", err.msg);
  char json[4096];
  tr_config_to_json(&c, json, sizeof json);
  cr_assert(strstr(json, "\"parametrization\": \"mup\", \"mup_base_width\": 32"), "%s", json);
}

Test(tr_config, canonical_json_is_stable_and_changes_with_values) {
  TrConfig a, b;
  tr_config_defaults(&a);
  tr_config_defaults(&b);
  char ja[8192], jb[8192];
  size_t n = tr_config_to_json(&a, ja, sizeof ja);
  cr_assert_lt(n, sizeof ja);
  tr_config_to_json(&b, jb, sizeof jb);
  cr_assert_str_eq(ja, jb);
  cr_assert(strstr(ja, "\"optimizer\": {\"name\": \"adamw\", \"lr\": 0.001,"), "%s", ja);
  cr_assert(strstr(ja, "\"betas\": [0.9, 0.99]"), "%s", ja);
  cr_assert_eq(tr_config_hash(&a), tr_config_hash(&b));
  TrErr err;
  tr_config_set(&b, "train.seed", "2", &err);
  cr_assert_neq(tr_config_hash(&a), tr_config_hash(&b));
}

Test(tr_config, total_steps_from_budgets) {
  TrConfig c;
  tr_config_defaults(&c);
  c.train.max_steps = 0;
  c.train.max_tokens = 16 * 64 * 10 + 1;
  cr_assert_eq(tr_config_total_steps(&c), 11);
  c.train.max_steps = 5;
  cr_assert_eq(tr_config_total_steps(&c), 5);
}

Test(tr_config, every_key_has_doc_and_round_trips_through_text) {
  size_t n;
  const TrKey *k = tr_config_keys(&n);
  TrConfig c, d;
  tr_config_defaults(&c);
  tr_config_defaults(&d);
  for (size_t i = 0; i < n; i++) {
    cr_assert(k[i].doc && *k[i].doc, "%s has no doc", k[i].name);
    char txt[2100];
    tr_config_value_text(&c, &k[i], 0, txt, sizeof txt);
    TrErr err = {0};
    cr_assert_eq(tr_config_set(&d, k[i].name, txt, &err), TR_OK, "%s: %s", k[i].name, err.msg);
  }
  cr_assert_eq(tr_config_hash(&c), tr_config_hash(&d));
}

Test(tr_config, underflowing_number_says_it_underflows_not_that_it_is_not_finite) {
  TrConfig c;
  tr_config_defaults(&c);
  TrErr err = {0};
  cr_assert_eq(tr_config_set(&c, "optimizer.lr", "1e-320", &err), TR_EINVAL);
  cr_expect_str_eq(err.msg, "optimizer.lr: 1e-320 is too small for a float (underflows to 0)");
  cr_assert_eq(tr_config_set(&c, "optimizer.betas", "[0.9, 1e-400]", &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "1e-400 is too small for a float (underflows to 0)"), "%s", err.msg);
  cr_assert_eq(tr_config_set(&c, "optimizer.lr", "1e999", &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "1e999 is too large for a float (overflows to infinity)"), "%s", err.msg);
  cr_assert_eq(tr_config_set(&c, "optimizer.lr", "0e-999", &err), TR_OK, "zero is not an underflow: %s", err.msg);
  cr_expect_float_eq(c.optimizer.lr, 0.0, 0.0);
}

/* A 100 KB value: every message quotes at most its first 60 bytes and says how long it was. */
Test(tr_config, over_long_values_are_cut_in_messages) {
  size_t n = 100000;
  char *big = malloc(n + 2);
  cr_assert_not_null(big);
  memset(big, '7', n);
  big[n] = '\0';
  TrConfig c;
  tr_config_defaults(&c);
  TrErr err = {0};
  const char *keys[] = {"optimizer.lr", "train.max_steps", "optimizer.name", "model.bias"};
  for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
    big[0] = i == 1 ? 'x' : '7'; /* an integer key needs a non-integer to fail */
    cr_assert_eq(tr_config_set(&c, keys[i], big, &err), TR_EINVAL, "%s accepted", keys[i]);
    cr_expect_lt(strlen(err.msg), 200, "%s: message of %zu bytes", keys[i], strlen(err.msg));
    cr_expect(strstr(err.msg, "... (100000 bytes)"), "%s: %s", keys[i], err.msg);
  }
  cr_assert_eq(tr_config_set(&c, big, "1", &err), TR_EINVAL);
  cr_expect_lt(strlen(err.msg), 200, "%s", err.msg);
  cr_expect(strstr(err.msg, "unknown key") && !strstr(err.msg, "did you mean"), "%s", err.msg);
  free(big);
  char buf[TR_ERR_CLIP_MAX];
  cr_expect_str_eq(tr_err_clip("short", buf, sizeof buf), "short");
}

/* FNV-1a 64 of the canonical JSON, computed here from tr_config_to_json. */
static uint64_t json_fnv(const TrConfig *c) {
  size_t need = tr_config_to_json(c, NULL, 0) + 1;
  char *buf = malloc(need);
  cr_assert_not_null(buf);
  tr_config_to_json(c, buf, need);
  uint64_t h = 0xcbf29ce484222325ULL;
  for (const unsigned char *p = (const unsigned char *)buf; *p; p++) h = (h ^ *p) * 0x100000001b3ULL;
  free(buf);
  return h;
}

/* The hash identifies stored sweeps' trials and checkpoints: keys added later (muP's) must not
** change it while unused. 3a3567e93efeeeb5 is the defaults' hash before they existed (0.1.0). */
Test(tr_config, keys_added_later_leave_the_hash_of_configs_that_do_not_use_them_unchanged) {
  TrConfig c;
  tr_config_defaults(&c);
  cr_expect_eq(tr_config_hash(&c), 0x3a3567e93efeeeb5ULL);
  char json[8192];
  tr_config_to_json(&c, json, sizeof json);
  cr_expect_null(strstr(json, "parametrization"), "%s", json);
  c.model.parametrization = TR_PARAM_MUP;
  tr_config_to_json(&c, json, sizeof json);
  cr_expect(strstr(json, "\"parametrization\": \"mup\""), "%s", json);
  cr_expect_neq(tr_config_hash(&c), 0x3a3567e93efeeeb5ULL);
}

Test(tr_config, hash_is_the_fnv_of_the_json_for_short_and_very_long_configs) {
  TrConfig c;
  TrErr e = {0, ""};
  tr_config_defaults(&c);
  cr_expect_eq(tr_config_hash(&c), json_fnv(&c));
  /* Paths of escaped characters push the JSON past tr_config_hash's stack buffer (4 KiB). */
  char path[1000];
  memset(path, '\\', sizeof path - 1);
  path[sizeof path - 1] = '\0';
  cr_assert_eq(tr_config_set(&c, "data.path", path, &e), TR_OK, "%s", e.msg);
  cr_assert_eq(tr_config_set(&c, "train.out_dir", path, &e), TR_OK, "%s", e.msg);
  cr_assert_gt(tr_config_to_json(&c, NULL, 0), 5000);
  cr_expect_eq(tr_config_hash(&c), json_fnv(&c));
}

/* Found by fuzz_config: a path of control bytes quotes to 6 bytes each, past the old value
** buffer (2x the path), so the canonical JSON was cut and did not read back. */
Test(tr_config, path_of_control_bytes_round_trips_through_the_canonical_json) {
  TrConfig c, again;
  TrErr e = {0, ""};
  tr_config_defaults(&c);
  char path[TR_PATH_MAX];
  for (size_t i = 0; i < sizeof path - 1; i++) path[i] = i % 2 ? '\t' : 'a'; /* 511 tabs */
  path[sizeof path - 1] = '\0';
  cr_assert_eq(tr_config_set(&c, "data.path", path, &e), TR_OK, "%s", e.msg);
  size_t need = tr_config_to_json(&c, NULL, 0) + 1;
  char *json = malloc(need);
  cr_assert_not_null(json);
  tr_config_to_json(&c, json, need);
  tr_config_defaults(&again);
  cr_assert_eq(tr_config_apply_text(&again, json, "json", &e), TR_OK, "%s", e.msg);
  cr_expect_str_eq(again.data.path, path);
  cr_expect_eq(tr_config_hash(&again), tr_config_hash(&c));
  free(json);
}
