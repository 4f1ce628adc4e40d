/*
** cli.c: what the commands share: one option parser, whole-number and file
** arguments, config loading and the one-line error.
*/
#include "cli.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_lrgrid.h"
#include "tr_alloc.h"
#include "tr_config.h"
#include "tr_cpu.h"
#include "tr_lrfind.h"

static void verror(const char *cmd, const char *fmt, va_list ap, const char *tail) {
  fprintf(stderr, "hpsweep %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "%s\n", tail);
}

void hps_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  verror(cmd, fmt, ap, "");
  va_end(ap);
}

int hps_error_usage(const char *cmd, const char *fmt, ...) {
  char tail[96];
  snprintf(tail, sizeof tail, " (see 'hpsweep %s --help')", cmd);
  va_list ap;
  va_start(ap, fmt);
  verror(cmd, fmt, ap, tail);
  va_end(ap);
  return 2;
}

void hps_cpu_notice(void) {
  static int said;
  const char *note = tr_cpu_env_note();
  if (said || !note) return;
  said = 1;
  const char *v = getenv("HPSWEEP_CPU");
  fprintf(stderr, "hpsweep: HPSWEEP_CPU=%.64s: %s\n", v ? v : "", note);
}

const char *hps_db_default(const char *fallback) {
  const char *env = getenv("HPSWEEP_DB");
  return env && *env ? env : fallback;
}

int hps_fail(const char *cmd, const TrErr *e) {
  hps_error(cmd, "%s", e->msg);
  return e->code == TR_EDB || e->code == TR_EIO || e->code == TR_ENOMEM ? 1 : 2;
}

int hps_parse_long(const char *s, long lo, long hi, long *out) {
  char *end;
  errno = 0;
  long v = strtol(s, &end, 10);
  if (errno || end == s || *end || v < lo || v > hi) return -1;
  *out = v;
  return 0;
}

int hps_arg_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out) {
  if (hps_parse_long(s, lo, hi, out) == 0) return 0;
  char shown[TR_ERR_CLIP_MAX];
  hps_error(cmd, "%s: expected an integer from %ld to %ld, got '%s'", opt, lo, hi, tr_err_clip(s, shown, sizeof shown));
  return 2;
}

/* The option argv[i] names: "--name[=value]" or "-x[value]". Sets *val to an
** attached value (NULL if none) and *len to the length of the name. */
static const HpsOpt *opt_find(const HpsOpt *opts, const char *a, size_t *len, const char **val) {
  const char *eq = a[1] == '-' ? strchr(a, '=') : NULL;
  *len = eq ? (size_t)(eq - a) : strlen(a);
  *val = eq ? eq + 1 : NULL;
  for (const HpsOpt *o = opts; o->name; o++)
    for (const char *s = o->name; s; s = s == o->name ? o->alias : NULL) {
      size_t n = strlen(s);
      if (n == *len && strncmp(a, s, n) == 0) return o;
      if (n == 2 && a[1] != '-' && strncmp(a, s, 2) == 0) { /* -xVALUE, -x=VALUE */
        *len = 2;
        *val = a[2] == '=' ? a + 3 : a + 2;
        return o;
      }
    }
  return NULL;
}

/* Store val into o's destination: 0 or 2 (message printed). */
static int opt_store(const char *cmd, const HpsOpt *o, const char *name, const char *val) {
  switch (o->kind) {
    case HPS_ARG_FLAG: *(int *)o->dst = 1; return 0;
    case HPS_ARG_STRING: *(const char **)o->dst = val; return 0;
    case HPS_ARG_INT: return hps_arg_long(cmd, name, val, o->lo, o->hi, o->dst);
    case HPS_ARG_LIST: {
      HpsList *l = o->dst;
      l->v[l->n++] = (char *)val;
      return 0;
    }
  }
  return 0;
}

int hps_opts_parse(int argc, char **argv, const HpsOpt *opts, const char **pos, int npos) {
  const char *cmd = argv[0];
  int npos_seen = 0, only_pos = 0;
  char shown[TR_ERR_CLIP_MAX];
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i];
    if (!only_pos && strcmp(a, "--") == 0) {
      only_pos = 1;
      continue;
    }
    if (only_pos || a[0] != '-' || a[1] == '\0') {
      if (npos_seen == npos)
        return hps_error_usage(cmd, "unexpected argument '%s'", tr_err_clip(a, shown, sizeof shown));
      pos[npos_seen++] = a;
      continue;
    }
    size_t len;
    const char *val;
    const HpsOpt *o = opt_find(opts, a, &len, &val);
    if (!o) return hps_error_usage(cmd, "unknown option '%.*s'", (int)(len < 64 ? len : 64), a);
    char name[64]; /* the spelling used: -j or --jobs */
    snprintf(name, sizeof name, "%.*s", (int)(len < 63 ? len : 63), a);
    if (o->kind == HPS_ARG_FLAG && val) return hps_error_usage(cmd, "%s takes no value", name);
    if (o->kind != HPS_ARG_FLAG && !val) {
      if (i + 1 >= argc) return hps_error_usage(cmd, "%s needs a value", name);
      val = argv[++i];
    }
    if (opt_store(cmd, o, name, val)) return 2;
  }
  return 0;
}

char *hps_read_file(const char *cmd, const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  if (!f) {
    hps_error(cmd, "%s: %s", path, strerror(errno));
    return NULL;
  }
  size_t cap = 4096, n = 0;
  char *buf = tr_malloc(cap);
  while (buf) {
    n += fread(buf + n, 1, cap - 1 - n, f);
    if (n < cap - 1) break;
    char *nb = tr_realloc(buf, cap *= 2);
    if (!nb) free(buf);
    buf = nb;
  }
  int bad = ferror(f);
  fclose(f);
  if (!buf || bad) {
    hps_error(cmd, "%s: %s", path, buf ? "read error" : "out of memory");
    free(buf);
    return NULL;
  }
  buf[n] = '\0';
  *len = n;
  return buf;
}

int hps_config_from_args(TrConfig *cfg, const char *path, int nset, char **sets, const char *cmd) {
  TrErr err = {0};
  if (tr_config_load(cfg, path, &err)) {
    hps_error(cmd, "%s", err.msg);
    return 2;
  }
  for (int i = 0; i < nset; i++) {
    char *eq = strchr(sets[i], '='), shown[TR_ERR_CLIP_MAX];
    tr_err_clip(sets[i], shown, sizeof shown); /* the message quotes the value (clipped) itself */
    if (!eq || eq == sets[i]) {
      hps_error(cmd, "--set needs key=value, got '%s'", shown);
      return 2;
    }
    *eq = '\0';
    int rc = tr_config_set(cfg, sets[i], eq + 1, &err);
    *eq = '=';
    if (rc) {
      hps_error(cmd, "--set %s: %s", shown, err.msg);
      return 2;
    }
  }
  if (tr_config_validate(cfg, &err)) {
    hps_error(cmd, "%s%s%s", path ? path : "", path ? ": " : "", err.msg);
    return 2;
  }
  return 0;
}

void hps_lrfind_progress(void *ud, const TrLrfindPoint *p, int steps) {
  (void)ud;
  int every = steps >= 10 ? steps / 10 : 1;
  if (p->step % every == 0 || p->step == 1)
    fprintf(stderr, "lr-find: step %d/%d  lr %.3e  loss %.4f  smoothed %.4f\n", p->step, steps, p->lr, p->loss,
            p->smoothed);
}

int hps_lr_grid(SwSpec *spec, RsStore *st, int save, FILE *say, const char *cmd) {
  const SwLrFind *lf = sw_spec_lr_find(spec);
  if (!lf) return 0;
  SwLrGridRun run = {st, save, say ? hps_lrfind_progress : NULL, NULL, NULL};
  SwLrGridInfo info;
  TrErr err = {0};
  if (sw_lrgrid_resolve(spec, &run, &info, &err)) return hps_fail(cmd, &err);
  if (!say) return 0;
  char desc[1024];
  sw_param_describe(sw_spec_param(spec, sw_spec_param_count(spec) - 1), desc, sizeof desc);
  fprintf(say, "lr_find:     %s %.4g of the range test '%s' (%d steps, %s)\n", sw_lr_suggestion_name(lf->suggestion),
          info.suggested, info.name, info.n_points,
          !info.ran ? "found in the database" : info.stored ? "run now and stored" : "run now, not stored: "
          "'hpsweep run' stores it");
  fprintf(say, "             optimizer.lr %s\n", desc);
  return 0;
}
