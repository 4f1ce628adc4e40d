/*
** sw_prune.c: early-termination decisions (contract in sw_prune.h). Pure functions of
** the curves given: no store, no clock, no randomness.
**
** Every rule compares a trial with a group of trials (those with a value at a band,
** those that reached a rung, the completed ones). A group is a membership callback
** over the curves; ranks are counted in one pass and the k-th value is found by
** sorting a copy (or, if that allocation fails, by counting: O(n^2) but never a
** failure, as the contract promises).
*/
#include "sw_prune.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tr_alloc.h"
#include "tr_sort.h"

#define MAX_LEVELS 128

/* ---- groups ------------------------------------------------------------- */

typedef struct Group {
  const RsCurve *c;
  size_t n;
  double sign;     /* -1 for maximize: lower is better after multiplying */
  int64_t level;   /* band (iterations) or rung (steps) */
  int by_step;     /* 1: level is a step (rungs), 0: an iteration count (bands) */
  int exact;       /* by_step: only a value at exactly that step counts (median) */
  int bracket, n_brackets; /* members are idx mod n_brackets == bracket (n_brackets 1: all) */
  int completed_only;      /* only trials that completed their run (median) */
} Group;

/* The bracket of a trial: idx mod the brackets. */
static int bracket_of(const RsCurve *c, int nb) {
  return nb > 1 ? (c->idx < 0 ? -c->idx : c->idx) % nb : 0;
}

/* Index of the first value at step >= r, or c->n. */
static size_t first_at_or_after(const RsCurve *c, int64_t r) {
  size_t lo = 0, hi = c->n;
  while (lo < hi) {
    size_t mid = lo + (hi - lo) / 2;
    if (c->step[mid] < r) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Whether curve i belongs to the group; *v gets its (signed) value at the level. */
static int group_member(const Group *g, size_t i, double *v) {
  const RsCurve *c = &g->c[i];
  if (g->completed_only && !c->completed) return 0;
  if (bracket_of(c, g->n_brackets) != g->bracket) return 0;
  size_t k;
  if (g->by_step) {
    k = first_at_or_after(c, g->level);
    if (k == c->n || (g->exact && c->step[k] != g->level)) return 0;
  } else {
    if ((int64_t)c->n < g->level) return 0;
    k = (size_t)(g->level - 1);
  }
  *v = g->sign * c->value[k];
  return 1;
}

/* a ranks before b: better value, ties by idx. */
static int ranks_before(double va, int ia, double vb, int ib) {
  return va < vb || (va == vb && ia < ib);
}

/* Members of the group, and how many rank before curve `self` (which must be one). */
static size_t group_rank(const Group *g, size_t self, size_t *count) {
  double vs, v;
  size_t rank = 0, cnt = 0;
  group_member(g, self, &vs);
  for (size_t i = 0; i < g->n; i++) {
    if (!group_member(g, i, &v)) continue;
    cnt++;
    if (i != self && ranks_before(v, g->c[i].idx, vs, g->c[self].idx)) rank++;
  }
  *count = cnt;
  return rank;
}

/* The k-th smallest (signed) value of the group's `cnt` members. */
static double group_kth(const Group *g, size_t cnt, size_t k) {
  double v, *vals = tr_malloc(cnt * sizeof *vals);
  if (vals) {
    size_t m = 0;
    for (size_t i = 0; i < g->n && m < cnt; i++)
      if (group_member(g, i, &v)) vals[m++] = v;
    tr_sort(vals, m, sizeof *vals, tr_cmp_double);
    double r = vals[k < m ? k : m - 1];
    free(vals);
    return r;
  }
  /* Out of memory: the value with fewer than k+1 strictly smaller and at least k+1
  ** smaller-or-equal members. */
  for (size_t i = 0; i < g->n; i++) {
    if (!group_member(g, i, &v)) continue;
    size_t lt = 0, le = 0;
    double w;
    for (size_t j = 0; j < g->n; j++) {
      if (!group_member(g, j, &w)) continue;
      lt += w < v;
      le += w <= v;
    }
    if (lt <= k && k < le) return v;
  }
  return NAN;
}

/* ---- levels ------------------------------------------------------------- */

static int cmp_i64(const void *a, const void *b) {
  int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
  return (x > y) - (x < y);
}

/* W&B's bands. With max_iter: divide by eta s times (floating point, as Python's
** true division), keep int(b) while b >= 1, ascending. With min_iter: int(min_iter *
** eta^k), W&B takes 100 of them; we stop once they pass any step count (2^53). */
static size_t wandb_bands(const SwEarlyTerminate *et, int64_t *out, size_t cap) {
  size_t n = 0;
  if (et->max_iter > 0) {
    double b = (double)et->max_iter;
    long s = (long)et->s;
    for (long i = 0; i < s && n < cap; i++) {
      b /= et->eta;
      if (b < 1) break;
      out[n++] = (int64_t)b;
    }
    tr_sort(out, n, sizeof *out, cmp_i64);
  } else if (et->min_iter > 0) {
    double b = (double)et->min_iter;
    for (int k = 0; k < 100 && n < cap && b < 9007199254740992.0; k++) {
      out[n++] = (int64_t)b;
      b *= et->eta;
    }
  }
  return n;
}

/* first * eta^k < max_t for k = 0, 1, ... in integers (overflow-safe). */
static size_t ladder(int64_t first, int64_t max_t, int64_t eta, int64_t *out, size_t cap) {
  size_t n = 0;
  if (first < 1 || eta < 2) return 0;
  for (int64_t r = first; r < max_t && n < cap; r *= eta) {
    out[n++] = r;
    if (r > INT64_MAX / eta) break;
  }
  return n;
}

/* grace_period * eta^s, or -1 past INT64_MAX. */
static int64_t pow_mul(int64_t base, int64_t eta, int s) {
  int64_t r = base;
  for (int i = 0; i < s; i++) {
    if (r > INT64_MAX / eta) return -1;
    r *= eta;
  }
  return r;
}

int sw_prune_hyperband_smax(int64_t grace_period, int64_t max_t, int64_t eta) {
  if (grace_period < 1 || eta < 2 || max_t < grace_period) return 0;
  int s = 0;
  for (int64_t r = grace_period; r <= max_t / eta; r *= eta) s++;
  return s;
}

/* The bracket's first rung. */
static int64_t bracket_start(const SwEarlyTerminate *et, int bracket) {
  return pow_mul(et->grace_period, (int64_t)et->eta, bracket);
}

int sw_prune_brackets(const SwEarlyTerminate *et) {
  if (et->type == SW_ET_HYPERBAND)
    return sw_prune_hyperband_smax(et->grace_period, et->max_t, (int64_t)et->eta) + 1;
  if (et->type == SW_ET_ASHA) return et->brackets > 1 ? et->brackets : 1;
  return 1;
}

size_t sw_prune_levels(const SwEarlyTerminate *et, int bracket, int64_t *out, size_t cap) {
  switch (et->type) {
  case SW_ET_WANDB: return wandb_bands(et, out, cap);
  case SW_ET_ASHA:
  case SW_ET_HYPERBAND: {
    if (bracket < 0 || bracket >= sw_prune_brackets(et)) return 0;
    int64_t first = bracket_start(et, bracket);
    return first < 0 ? 0 : ladder(first, et->max_t, (int64_t)et->eta, out, cap);
  }
  default: return 0;
  }
}

/* ---- W&B hyperband ------------------------------------------------------ */

static void verdict_init(SwVerdict *out) {
  memset(out, 0, sizeof *out);
  out->action = SW_KEEP;
  out->threshold = NAN;
  out->value = NAN;
}

static void judge_wandb(const SwEarlyTerminate *et, double sign, const RsCurve *c, size_t n,
                        size_t self, SwVerdict *out) {
  int64_t bands[MAX_LEVELS];
  size_t nb = wandb_bands(et, bands, MAX_LEVELS);
  const RsCurve *me = &c[self];
  int64_t band = -1;
  for (size_t i = 0; i < nb && bands[i] <= (int64_t)me->n; i++) band = bands[i];
  if (band < 1) return; /* no band applies yet (W&B also skips band 0: it needs a value) */
  Group g = {.c = c, .n = n, .sign = sign, .level = band, .n_brackets = 1};
  size_t cnt;
  group_rank(&g, self, &cnt);
  /* W&B: sorted(values)[int(r * n)] with r = 1.0 / eta, in floating point. */
  size_t k = (size_t)((1.0 / et->eta) * (double)cnt);
  if (k >= cnt) k = cnt - 1;
  double thr = group_kth(&g, cnt, k);
  double v;
  if (et->strict) {
    v = sign * me->value[band - 1];
  } else { /* the best so far */
    v = INFINITY;
    for (size_t i = 0; i < me->n; i++)
      if (sign * me->value[i] < v) v = sign * me->value[i];
  }
  out->at = band;
  out->threshold = sign * thr;
  out->value = sign * v;
  out->n = cnt;
  if (v > thr) {
    out->action = SW_PRUNE;
    snprintf(out->reason, sizeof out->reason, "pruned at band %lld: %.6g %s threshold %.6g (n %zu, eta %g%s)",
             (long long)band, out->value, sign > 0 ? ">" : "<", out->threshold, cnt, et->eta,
             et->strict ? "" : ", best so far");
  }
}

/* ---- ASHA and hyperband brackets ---------------------------------------- */

/* The rung the newest value crossed (previous step < rung <= newest step): the
** highest if it crossed several; -1 if none. */
static int64_t crossed_rung(const RsCurve *me, const int64_t *rungs, size_t nr) {
  int64_t last = me->step[me->n - 1];
  int64_t prev = me->n >= 2 ? me->step[me->n - 2] : INT64_MIN;
  int64_t r = -1;
  for (size_t i = 0; i < nr; i++)
    if (prev < rungs[i] && rungs[i] <= last) r = rungs[i];
  return r;
}

/* How many of cnt trials at a rung pass it: the top 1/eta (at least one, so the
** first trial to reach a rung is never stopped for lack of company). */
static size_t rung_keep(size_t cnt, double eta) {
  size_t k = (size_t)((double)cnt / eta);
  return k ? k : 1;
}

static void judge_ladder(const SwEarlyTerminate *et, double sign, const RsCurve *c, size_t n,
                         size_t self, int promotions, SwVerdict *out) {
  int nb = sw_prune_brackets(et), bracket = bracket_of(&c[self], nb);
  int64_t rungs[MAX_LEVELS];
  size_t nr = sw_prune_levels(et, bracket, rungs, MAX_LEVELS);
  int64_t r = crossed_rung(&c[self], rungs, nr);
  if (r < 0) return;
  Group g = {.c = c, .n = n, .sign = sign, .level = r, .by_step = 1, .bracket = bracket, .n_brackets = nb};
  size_t cnt, rank = group_rank(&g, self, &cnt);
  double v;
  group_member(&g, self, &v);
  out->at = r;
  out->value = sign * v;
  out->n = cnt;
  if (promotions) {
    out->action = SW_PAUSE;
    snprintf(out->reason, sizeof out->reason, "paused at rung %lld: %.6g (rank %zu of %zu, eta %g)",
             (long long)r, out->value, rank + 1, cnt, et->eta);
    return;
  }
  size_t keep = rung_keep(cnt, et->eta);
  out->threshold = sign * group_kth(&g, cnt, keep - 1); /* the worst value that passes */
  if (rank >= keep) {
    out->action = SW_PRUNE;
    char br[32] = "";
    if (nb > 1) snprintf(br, sizeof br, " (bracket %d)", bracket);
    snprintf(out->reason, sizeof out->reason,
             "pruned at rung %lld%s: %.6g, rank %zu of %zu, not in the top %zu (threshold %.6g, eta %g)",
             (long long)r, br, out->value, rank + 1, cnt, keep, out->threshold, et->eta);
  }
}

/* ---- median (Optuna's MedianPruner) ------------------------------------- */

/* Optuna's _is_first_in_interval_step: the newest step is the first one logged at or
** after the latest point of the interval grid. */
static int first_in_interval(const RsCurve *me, int64_t warmup, int64_t interval) {
  int64_t step = me->step[me->n - 1];
  int64_t grid = (step - warmup) / interval * interval + warmup;
  int64_t second_last = me->n >= 2 ? me->step[me->n - 2] : -1;
  return second_last < grid;
}

static void judge_median(const SwEarlyTerminate *et, double sign, const RsCurve *c, size_t n,
                         size_t self, SwVerdict *out) {
  const RsCurve *me = &c[self];
  size_t completed = 0;
  for (size_t i = 0; i < n; i++) completed += c[i].completed != 0;
  if (completed == 0 || (int64_t)completed < et->n_startup_trials) return;
  int64_t step = me->step[me->n - 1];
  int64_t interval = et->interval_steps > 0 ? et->interval_steps : 1;
  if (step < et->n_warmup_steps || !first_in_interval(me, et->n_warmup_steps, interval)) return;
  double best = INFINITY; /* signed */
  for (size_t i = 0; i < me->n; i++)
    if (sign * me->value[i] < best) best = sign * me->value[i];
  /* The completed trials' values at exactly this step (raw, as numpy's percentile). */
  Group g = {.c = c, .n = n, .sign = 1.0, .level = step, .by_step = 1, .exact = 1, .n_brackets = 1,
             .completed_only = 1};
  size_t cnt = 0;
  double v;
  for (size_t i = 0; i < n; i++) cnt += group_member(&g, i, &v);
  if (cnt > 0) {
    /* np.nanpercentile(values, 50), linear: b - (b - a) * 0.5 for the middle pair. */
    double a = group_kth(&g, cnt, (cnt - 1) / 2), b = group_kth(&g, cnt, cnt / 2);
    double med = cnt % 2 ? a : b - (b - a) * 0.5;
    out->at = step;
    out->threshold = med;
    out->value = sign * best;
    out->n = cnt;
    if (sign * out->value > sign * med) {
      out->action = SW_PRUNE;
      snprintf(out->reason, sizeof out->reason,
               "pruned at step %lld: best %.6g %s median %.6g of %zu completed trials", (long long)step,
               out->value, sign > 0 ? ">" : "<", med, cnt);
    }
  }
}

/* ---- entry points ------------------------------------------------------- */

void sw_prune_judge(const SwEarlyTerminate *et, int maximize, const RsCurve *curves, size_t n,
                    size_t self, SwVerdict *out) {
  verdict_init(out);
  if (!et || !et->enabled || self >= n || curves[self].n == 0 || !(et->eta > 1)) return;
  double sign = maximize ? -1.0 : 1.0;
  switch (et->type) {
  case SW_ET_WANDB: judge_wandb(et, sign, curves, n, self, out); break;
  case SW_ET_ASHA: judge_ladder(et, sign, curves, n, self, et->promotions, out); break;
  case SW_ET_HYPERBAND: judge_ladder(et, sign, curves, n, self, 0, out); break;
  case SW_ET_MEDIAN: judge_median(et, sign, curves, n, self, out); break;
  default: break;
  }
}

/* The best paused trial at rung k of a bracket that is in the rung's top 1/eta, or -1. */
static long rung_candidate(const Group *g, const int64_t *rungs, size_t nr, size_t k, double eta,
                           int exhausted) {
  size_t cnt = 0;
  double v;
  for (size_t i = 0; i < g->n; i++) cnt += group_member(g, i, &v);
  size_t top = exhausted ? rung_keep(cnt, eta) : (size_t)((double)cnt / eta);
  long best = -1;
  size_t best_rank = top;
  for (size_t i = 0; i < g->n; i++) {
    const RsCurve *c = &g->c[i];
    if (!c->paused || c->n == 0 || !group_member(g, i, &v)) continue;
    int64_t last = c->step[c->n - 1];
    if (k + 1 < nr && last >= rungs[k + 1]) continue; /* sits at a higher rung */
    size_t cn, rank = group_rank(g, i, &cn);
    if (rank < best_rank) best_rank = rank, best = (long)i;
  }
  return best;
}

/* No new configuration is left to start in bracket b: no trial of it waits to run
** (pending, or interrupted and to be resumed) other than the paused ones. */
static int bracket_exhausted(const RsCurve *c, size_t n, int b, int nb) {
  for (size_t i = 0; i < n; i++)
    if (bracket_of(&c[i], nb) == b && !c[i].paused && (c[i].status == RS_PENDING || c[i].status == RS_INTERRUPTED))
      return 0;
  return 1;
}

long sw_prune_promote(const SwEarlyTerminate *et, int maximize, const RsCurve *curves, size_t n,
                      int64_t *to_step) {
  if (!et || et->type != SW_ET_ASHA || !et->promotions || !(et->eta > 1)) return -1;
  int nb = sw_prune_brackets(et);
  long best = -1;
  int64_t best_rung = -1, best_next = 0;
  for (int b = 0; b < nb; b++) {
    int64_t rungs[MAX_LEVELS];
    size_t nr = sw_prune_levels(et, b, rungs, MAX_LEVELS);
    int exhausted = bracket_exhausted(curves, n, b, nb);
    for (size_t k = nr; k-- > 0;) {
      Group g = {.c = curves, .n = n, .sign = maximize ? -1.0 : 1.0, .level = rungs[k], .by_step = 1,
                 .bracket = b, .n_brackets = nb};
      long i = rung_candidate(&g, rungs, nr, k, et->eta, exhausted);
      if (i < 0) continue;
      if (rungs[k] > best_rung || (rungs[k] == best_rung && curves[i].idx < curves[best].idx)) {
        best = i;
        best_rung = rungs[k];
        best_next = k + 1 < nr ? rungs[k + 1] : et->max_t;
      }
      break; /* this bracket's highest promotable rung */
    }
  }
  if (best >= 0 && to_step) *to_step = best_next;
  return best;
}
