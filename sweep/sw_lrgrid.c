/* sw_lrgrid.c: hpsweep.lr_find resolved from a stored or fresh range test (sw_lrgrid.h). */
#include "sw_lrgrid.h"

#include <math.h>
#include <string.h>

static const TrLrfindSuggestion *chosen(const TrLrfindResult *r, int s) {
  return s == SW_LRF_STEEPEST ? &r->steepest : s == SW_LRF_MIN10 ? &r->min10 : &r->valley;
}

int sw_lrgrid_resolve(SwSpec *spec, const SwLrGridRun *run, SwLrGridInfo *info, TrErr *err) {
  const SwLrFind *lf = sw_spec_lr_find(spec);
  memset(info, 0, sizeof *info);
  info->trial_id = -1;
  if (!lf || !sw_spec_lr_pending(spec)) return TR_OK;
  const TrConfig *base = sw_spec_base(spec);
  TrLrfindOptions o = {lf->start, lf->end, lf->steps, run->on_point, run->ud, run->stop};
  TrLrfindResult res;
  int found = 0, rc = TR_OK;
  rs_lrfind_default_name(base, &o, info->name, sizeof info->name);
  if (run->st && (rc = rs_lrfind_get(run->st, info->name, base, &o, &res, &found, &info->trial_id, err))) return rc;
  if (!found) {
    if ((rc = tr_lrfind(base, &o, &res, err))) return tr_err_prefix(err, "%s: hpsweep.lr_find", sw_spec_path(spec));
    info->ran = 1;
    if (res.stop == TR_LRFIND_INTERRUPTED) {
      tr_lrfind_result_free(&res);
      return tr_err_set(err, TR_EINTR, "%s: hpsweep.lr_find: the range test was interrupted (nothing stored)",
                        sw_spec_path(spec));
    }
    if (run->st && run->save)
      rc = rs_lrfind_put(run->st, info->name, base, &o, &res, &info->stored, &info->trial_id, err);
  }
  info->n_points = res.n;
  const TrLrfindSuggestion *s = chosen(&res, lf->suggestion);
  info->suggested = s->lr;
  if (!rc && !(s->lr > 0))
    rc = tr_err_set(err, TR_EINVAL, "%s:%d:%d: hpsweep.lr_find: the range test '%s' found no %s suggestion (%d "
                    "points, stopped: %s%s%s): widen start/end or raise steps", sw_spec_path(spec), lf->line,
                    lf->col, info->name, sw_lr_suggestion_name(lf->suggestion), res.n,
                    tr_lrfind_stop_name(res.stop), res.reason[0] ? ": " : "", res.reason);
  tr_lrfind_result_free(&res);
  return rc ? rc : sw_spec_lr_resolve(spec, info->suggested, err);
}
