/* sw_sweep.c: is the sweep in the store the one the spec describes; replace it (see sw_sweep.h). */
#include "sw_sweep.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sw_propose.h"

#define HOWTO "use a new name (name: in the spec) or --replace to delete the old sweep's results"

/* The first training key whose value differs between the stored config (JSON) and c. */
static void config_diff(const char *json, const TrConfig *c, int idx, char *what, size_t wn) {
  TrYamlDoc *doc = NULL;
  TrConfig old;
  TrErr e;
  tr_config_defaults(&old);
  snprintf(what, wn, "was made with a different training config (trial %d)", idx);
  if (!json || tr_yaml_load_string(json, strlen(json), "store", &doc, &e) ||
      tr_config_apply_yaml(&old, doc->root, "store", &e)) {
    tr_yaml_destroy(doc);
    return;
  }
  tr_yaml_destroy(doc);
  size_t nk;
  const TrKey *keys = tr_config_keys(&nk);
  for (size_t i = 0; i < nk; i++) {
    char a[TR_CONFIG_TEXT_MAX], b[TR_CONFIG_TEXT_MAX];
    tr_config_value_text(&old, &keys[i], 0, a, sizeof a);
    tr_config_value_text(c, &keys[i], 0, b, sizeof b);
    if (strcmp(a, b) != 0) {
      snprintf(what, wn, "was made with %s %.300s (trial %d); this spec says %.300s", keys[i].name, a, idx, b);
      return;
    }
  }
}

/* The stored trials are these, by idx and hash (a read failure counts as no). */
static int trials_same(RsStore *st, int64_t sweep_id, const SwTrial *t, size_t n) {
  RsTrialKey *k = NULL;
  size_t m = 0, i = 0;
  if (rs_trial_keys(st, sweep_id, &k, &m)) return 0;
  while (i < m && i < n && k[i].idx == (int)t[i].index && strcmp(k[i].hash, t[i].hash_hex) == 0) i++;
  free(k);
  return m == n && i == n;
}

/* What differs between the stored trial set and the expansion: the count, a trial's parameters,
** or (same parameters) its training config, i.e. the base. */
static int trials_diff(RsStore *st, int64_t sweep_id, const SwTrial *t, size_t n, char *what, size_t wn,
                       TrErr *err) {
  RsTrialKey *k = NULL;
  size_t m = 0, i = 0;
  if (rs_trial_keys(st, sweep_id, &k, &m)) return tr_err_set(err, TR_EDB, "%s", rs_store_errmsg(st));
  while (i < m && i < n && k[i].idx == (int)t[i].index && strcmp(k[i].hash, t[i].hash_hex) == 0) i++;
  int rc = TR_OK;
  if (m != n) {
    snprintf(what, wn, "has %zu trials; this spec expands to %zu", m, n);
  } else if (i == n) {
    snprintf(what, wn, "was made with a different trial set");
  } else {
    RsTrial old;
    if (rs_trial_get(st, k[i].id, &old)) {
      rc = tr_err_set(err, TR_EDB, "%s", rs_store_errmsg(st));
    } else {
      if (old.params && strcmp(old.params, t[i].params_json) != 0)
        snprintf(what, wn, "was made with trial %d %.300s; this spec makes it %.300s", k[i].idx, old.params,
                 t[i].params_json);
      else
        config_diff(old.config, &t[i].config, k[i].idx, what, wn);
      rs_trial_clear(&old);
    }
  }
  free(k);
  return rc;
}

int sw_sweep_check(RsStore *st, const char *db, const SwSpec *spec, const SwTrial *trials, size_t n, TrErr *err) {
  const char *name = sw_spec_name(spec), *metric = sw_spec_metric(spec);
  const char *goal = sw_goal_name(sw_spec_goal(spec)), *method = sw_spec_method_label(spec);
  const char *task = sw_task_name(sw_spec_task(spec));
  RsSweep old;
  int rc = rs_sweep_get(st, name, &old);
  if (rc == TR_ENOTFOUND) return TR_OK;
  if (rc) return tr_err_set(err, rc, "%s", rs_store_errmsg(st));
  char what[TR_ERR_MSG_MAX] = "", hash[17];
  if (strcmp(old.metric, metric) || strcmp(old.goal, goal))
    snprintf(what, sizeof what, "was made with metric %s (%s); this spec says %s (%s)", old.metric, old.goal, metric,
             goal);
  else if (strcmp(old.method, method))
    snprintf(what, sizeof what, "was made with method %s; this spec says %s", old.method, method);
  else if (strcmp(old.task ? old.task : "train", task))
    snprintf(what, sizeof what, "was made with task %s; this spec says %s", old.task ? old.task : "train", task);
  else if (sw_spec_method(spec) == SW_METHOD_BAYES) {
    /* No trial set to compare: the space, base config, seeds and model (sw_bayes_spec_hash). */
    if (!(rc = sw_bayes_spec_hash(spec, hash, err)) && strcmp(hash, old.spec_hash) != 0)
      snprintf(what, sizeof what, "was made with a different search (parameters, base config, seeds, sampler, "
               "metric.impute or seed)");
  } else if (sw_sweep_hash(spec, trials, n, hash), strcmp(hash, old.spec_hash) != 0) {
    if (sw_spec_pbt(spec)->enabled && trials_same(st, old.id, trials, n))
      snprintf(what, sizeof what, "was made with other population-based training settings (hpsweep.pbt)");
    else
      rc = trials_diff(st, old.id, trials, n, what, sizeof what, err);
  }
  rs_sweep_clear(&old);
  if (rc || !*what) return rc;
  return tr_err_set(err, TR_EINVAL, "sweep '%s' in %s %s: " HOWTO, name, db, what);
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path) == 0 || errno == ENOENT ? 0 : -1;
}

int sw_sweep_replace(RsStore *st, const char *name, const char *runs_dir, int64_t *n_deleted, TrErr *err) {
  int64_t n = 0;
  int rc = rs_sweep_delete(st, name, &n);
  if (rc == TR_ENOTFOUND) rc = TR_OK, n = 0;
  if (rc) return tr_err_set(err, rc, "%s", rs_store_errmsg(st));
  if (n_deleted) *n_deleted = n;
  /* Checkpoints of the old trials: a new trial with the same hash must not find them. */
  if (nftw(runs_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS) != 0 && errno != ENOENT)
    return tr_err_set(err, TR_EIO, "%s: cannot remove the old sweep's run directory: %s (its records are "
                      "deleted; remove the directory and run again)", runs_dir, strerror(errno));
  return TR_OK;
}
