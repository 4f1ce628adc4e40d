/* tr_ckpt: round trip, atomic replacement, and every way a checkpoint can be bad. */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "tr_ckpt.h"

static char dir[64], path[128];

static void setup(void) {
  strcpy(dir, "/tmp/hps_ck_XXXXXX");
  cr_assert_not_null(mkdtemp(dir));
  snprintf(path, sizeof path, "%s/ckpt.bin", dir);
}
static void teardown(void) {
  char cmd[128];
  snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
  cr_assert_eq(system(cmd), 0);
}

static void sample(TrCkpt *c, float *params, float *optim) {
  memset(c, 0, sizeof *c);
  for (int i = 0; i < 100; i++) params[i] = (float)i * 0.5f;
  for (int i = 0; i < 200; i++) optim[i] = (float)-i;
  c->config_hash = 0x1234;
  c->step = 42;
  c->tokens = 4200;
  c->optim_steps = 42;
  c->best_val_loss = 1.5;
  tr_rng_seed(&c->rng_batch, 7);
  c->config_json = (char *)"{\"model\": {\"n_layer\": 3}}";
  c->vocab = (uint8_t *)"abc";
  c->n_vocab = 3;
  c->params = params;
  c->n_params = 100;
  c->optim = optim;
  c->n_optim = 200;
}

static long file_size(const char *p) {
  FILE *f = fopen(p, "rb");
  cr_assert_not_null(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fclose(f);
  return n;
}

static void mutate(long off, int truncate_to) {
  FILE *f = fopen(path, "r+b");
  cr_assert_not_null(f);
  if (truncate_to >= 0) {
    cr_assert_eq(ftruncate(fileno(f), truncate_to), 0);
  } else {
    fseek(f, off, SEEK_SET);
    int ch = fgetc(f);
    fseek(f, off, SEEK_SET);
    fputc(ch ^ 0x40, f);
  }
  fclose(f);
}

static void load_fails(const char *want) {
  TrCkpt c;
  TrErr err = {0};
  cr_assert_neq(tr_ckpt_load(path, &c, &err), TR_OK);
  cr_assert(strstr(err.msg, want), "message '%s' lacks '%s'", err.msg, want);
  cr_assert(strstr(err.msg, path), "message '%s' does not name the file", err.msg);
}

TestSuite(tr_ckpt, .init = setup, .fini = teardown);

Test(tr_ckpt, round_trip_keeps_every_field) {
  float p[100], o[200];
  TrCkpt c, d;
  sample(&c, p, o);
  TrErr err = {0};
  cr_assert_eq(tr_ckpt_save(path, &c, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_ckpt_load(path, &d, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(d.step, 42);
  cr_assert_eq(d.config_hash, 0x1234);
  cr_assert_str_eq(d.config_json, c.config_json);
  cr_assert_eq(d.n_vocab, 3);
  cr_assert_eq(memcmp(d.params, p, sizeof p), 0);
  cr_assert_eq(memcmp(d.optim, o, sizeof o), 0);
  cr_assert_eq(memcmp(&d.rng_batch, &c.rng_batch, sizeof c.rng_batch), 0);
  tr_ckpt_deinit(&d);
}

Test(tr_ckpt, save_replaces_atomically_and_leaves_no_temp_files) {
  float p[100], o[200];
  TrCkpt c;
  sample(&c, p, o);
  cr_assert_eq(tr_ckpt_save(path, &c, NULL), TR_OK);
  c.step = 43;
  cr_assert_eq(tr_ckpt_save(path, &c, NULL), TR_OK);
  char cmd[256];
  snprintf(cmd, sizeof cmd, "test $(ls '%s' | wc -l) -eq 1", dir);
  cr_assert_eq(system(cmd), 0, "temp files left behind");
}

Test(tr_ckpt, truncated_file_is_refused) {
  float p[100], o[200];
  TrCkpt c;
  sample(&c, p, o);
  cr_assert_eq(tr_ckpt_save(path, &c, NULL), TR_OK);
  mutate(0, (int)file_size(path) - 100);
  load_fails("truncated or corrupt");
  mutate(0, 10);
  load_fails("not an hpsweep checkpoint");
}

Test(tr_ckpt, flipped_byte_fails_the_checksum) {
  float p[100], o[200];
  TrCkpt c;
  sample(&c, p, o);
  cr_assert_eq(tr_ckpt_save(path, &c, NULL), TR_OK);
  mutate(file_size(path) - 300, -1);
  load_fails("checksum mismatch");
}

Test(tr_ckpt, corrupt_length_never_reads_past_the_end) {
  float p[100], o[200];
  TrCkpt c;
  sample(&c, p, o);
  cr_assert_eq(tr_ckpt_save(path, &c, NULL), TR_OK);
  mutate(16 + 8 * 8 + 64 + 7, -1); /* top byte of the JSON length */
  load_fails("truncated or corrupt");
}

Test(tr_ckpt, other_version_and_foreign_files_are_refused) {
  float p[100], o[200];
  TrCkpt c;
  sample(&c, p, o);
  cr_assert_eq(tr_ckpt_save(path, &c, NULL), TR_OK);
  mutate(8, -1);
  load_fails("checkpoint version");
  FILE *f = fopen(path, "wb");
  fputs("model:\n  n_layer: 2\n", f);
  fclose(f);
  load_fails("bad magic");
}

Test(tr_ckpt, missing_file_names_the_path) {
  TrCkpt c;
  TrErr err = {0};
  cr_assert_neq(tr_ckpt_load("/nonexistent/ckpt.bin", &c, &err), TR_OK);
  cr_assert(strstr(err.msg, "/nonexistent/ckpt.bin: No such file"), "%s", err.msg);
}

Test(tr_ckpt, config_hash_ignores_run_control_but_not_the_model) {
  TrConfig a, b;
  tr_config_defaults(&a);
  b = a;
  b.train.max_steps = 5000;
  b.train.threads = 2;
  cr_assert_eq(tr_ckpt_config_hash(&a), tr_ckpt_config_hash(&b));
  b.model.n_layer = 3;
  cr_assert_neq(tr_ckpt_config_hash(&a), tr_ckpt_config_hash(&b));
}

Test(tr_ckpt, stored_config_rebuilds_the_tr_config) {
  TrConfig a, b;
  tr_config_defaults(&a);
  a.model.n_layer = 3;
  a.optimizer.lr = 3e-4;
  char json[8192];
  tr_config_to_json(&a, json, sizeof json);
  TrCkpt c;
  memset(&c, 0, sizeof c);
  c.config_json = json;
  TrErr err = {0};
  cr_assert_eq(tr_ckpt_config(&c, &b, &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_hash(&a), tr_config_hash(&b));
}

/* A file in dir with some bytes; returns its path (static). */
static const char *touch(const char *name) {
  static char p[256];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  FILE *f = fopen(p, "w");
  cr_assert_not_null(f);
  fputs("partial checkpoint", f);
  fclose(f);
  return p;
}

Test(tr_ckpt, stale_temporaries_are_removed_but_never_one_a_live_writer_holds) {
  float params[100], optim[200];
  TrCkpt c;
  sample(&c, params, optim);
  TrErr err = {0, ""};
  cr_assert_eq(tr_ckpt_save(path, &c, &err), TR_OK, "%s", err.msg);
  char stale[256], live[256], other[256];
  snprintf(stale, sizeof stale, "%s", touch("ckpt.bin.AbC123")); /* a writer killed mid-save */
  snprintf(live, sizeof live, "%s", touch("ckpt.bin.Xy9876"));
  snprintf(other, sizeof other, "%s", touch("notes.bin.txt123"));
  /* A writer at work holds its temporary locked (as tr_ckpt_save does). */
  int fd = open(live, O_RDWR);
  cr_assert(fd >= 0);
  cr_assert_eq(flock(fd, LOCK_EX), 0);
  cr_assert_eq(tr_ckpt_temps_remove(dir), 1);
  cr_expect_neq(access(stale, F_OK), 0, "the stale temporary is still there");
  cr_expect_eq(access(live, F_OK), 0, "a live writer's temporary was removed");
  cr_expect_eq(access(other, F_OK), 0, "not a checkpoint temporary: left alone");
  cr_expect_eq(access(path, F_OK), 0);
  close(fd); /* its writer died: now it goes */
  cr_assert_eq(tr_ckpt_temps_remove(dir), 1);
  cr_expect_neq(access(live, F_OK), 0);
  cr_expect_eq(tr_ckpt_temps_remove("/nonexistent/dir"), -1);
}
