/* tr_lrfind: the LR range test: smoothing, the stop rule, the three suggestions on
** curves with known answers, and the test itself on a tiny model. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "tr_lrfind.h"

enum { N = 101 };

/* lr from 1e-6 to 1 over N points: lr[50] = 1e-3 exactly on the log grid. */
static void grid(double *lr) {
  for (int i = 0; i < N; i++) lr[i] = tr_lrfind_lr(1e-6, 1.0, N, i);
}

Test(tr_lrfind, the_ramp_is_exponential_from_start_to_end) {
  cr_expect_eq(tr_lrfind_lr(1e-7, 10, 100, 0), 1e-7);
  cr_expect(fabs(tr_lrfind_lr(1e-7, 10, 100, 99) / 10 - 1) < 1e-12);
  double r1 = tr_lrfind_lr(1e-7, 10, 100, 1) / tr_lrfind_lr(1e-7, 10, 100, 0);
  double r2 = tr_lrfind_lr(1e-7, 10, 100, 51) / tr_lrfind_lr(1e-7, 10, 100, 50);
  cr_expect(fabs(r1 - r2) < 1e-12 && fabs(r1 - pow(1e8, 1.0 / 99)) < 1e-12, "%g %g", r1, r2);
}

Test(tr_lrfind, smoothing_is_debiased_so_a_constant_loss_stays_constant) {
  double loss[50], s[50];
  for (int i = 0; i < 50; i++) loss[i] = 2.5;
  tr_lrfind_smooth(loss, 50, 0.98, s);
  for (int i = 0; i < 50; i++) cr_expect(fabs(s[i] - 2.5) < 1e-12, "s[%d] = %.17g", i, s[i]);
}

Test(tr_lrfind, smoothing_matches_the_moving_average_by_hand) {
  double loss[2] = {1, 3}, s[2];
  tr_lrfind_smooth(loss, 2, 0.98, s);
  cr_expect(fabs(s[0] - 1.0) < 1e-12, "%.17g", s[0]);
  /* (0.98 * 0.02 * 1 + 0.02 * 3) / (1 - 0.98^2) = 3.98 / 1.98 */
  cr_expect(fabs(s[1] - 3.98 / 1.98) < 1e-12, "%.17g", s[1]);
}

Test(tr_lrfind, stops_past_4x_the_minimum_not_at_it) {
  double a[] = {2, 1, 1.5, 3.9, 4.0, 4.1, 1};
  cr_expect_eq(tr_lrfind_stop_index(a, 7, 4.0), 5, "4.0 is not above 4 x 1; 4.1 is");
  double b[] = {2, 1, 3, 2};
  cr_expect_eq(tr_lrfind_stop_index(b, 4, 4.0), -1);
  double c[] = {2, 1, NAN, 1};
  cr_expect_eq(tr_lrfind_stop_index(c, 4, 4.0), 2);
  double d[] = {2, INFINITY};
  cr_expect_eq(tr_lrfind_stop_index(d, 2, 4.0), 1);
}

Test(tr_lrfind, steepest_finds_the_inflection_of_a_tanh_drop_at_1e_3) {
  double lr[N], s[N];
  grid(lr);
  for (int i = 0; i < N; i++) s[i] = 3 - tanh(2 * (log10(lr[i]) + 3));
  int k = tr_lrfind_steepest(lr, s, N);
  cr_expect_eq(k, 50, "index %d lr %g", k, k >= 0 ? lr[k] : NAN);
}

Test(tr_lrfind, steepest_skips_the_first_tenth_and_the_last_5_points) {
  double lr[N], s[N];
  grid(lr);
  /* The steepest drops sit at 3 (in the first 10%) and at 98 (in the last 5): both skipped. */
  for (int i = 0; i < N; i++) s[i] = 5 - 0.01 * i;
  s[3] -= 3;
  s[98] -= 3;
  s[40] -= 0.5;
  int k = tr_lrfind_steepest(lr, s, N);
  cr_expect(k == 39 || k == 40, "index %d", k);
  cr_expect_eq(tr_lrfind_steepest(lr, s, 6), -1, "6 points leave fewer than 2 after the skips");
}

Test(tr_lrfind, the_minimum_of_a_parabola_in_log_lr_is_at_1e_3) {
  double lr[N], s[N];
  grid(lr);
  for (int i = 0; i < N; i++) s[i] = 1 + pow(log10(lr[i]) + 3, 2);
  cr_expect_eq(tr_lrfind_min(s, N), 50);
}

Test(tr_lrfind, valley_is_about_halfway_down_the_longest_decreasing_run) {
  /* flat at 5 (0..9), down 0.05 a step (10..70), then up: the valley is 9..70, 62 points
  ** (one flat point starts it); fastai's index: 70 - 62 + 62/3 + 62/6 = 8 + 20 + 10. */
  double s[100];
  for (int i = 0; i < 100; i++) s[i] = i < 10 ? 5 : i <= 70 ? 5 - 0.05 * (i - 9) : 1.95 + 0.1 * (i - 70);
  cr_expect_eq(tr_lrfind_valley(s, 100), 38);
  double down[30];
  for (int i = 0; i < 30; i++) down[i] = 30 - i;
  cr_expect_eq(tr_lrfind_valley(down, 30), 15, "a wholly decreasing curve: halfway");
  double one = 1;
  cr_expect_eq(tr_lrfind_valley(&one, 1), 0);
}

static void tiny(TrConfig *c) {
  tr_config_defaults(c);
  TrErr err = {0};
  const char *sets[][2] = {{"model.n_layer", "1"},        {"model.d_model", "16"},   {"model.n_head", "2"},
                           {"model.context_length", "16"}, {"train.batch_size", "4"}, {"train.threads", "1"},
                           {"data.synthetic_bytes", "20000"}};
  for (size_t i = 0; i < sizeof sets / sizeof sets[0]; i++)
    cr_assert_eq(tr_config_set(c, sets[i][0], sets[i][1], &err), TR_OK, "%s", err.msg);
}

static TrLrfindResult find(const TrConfig *c, double start, double end, int steps) {
  TrLrfindOptions o = {start, end, steps, NULL, NULL, NULL};
  TrLrfindResult r;
  TrErr err = {0};
  cr_assert_eq(tr_lrfind(c, &o, &r, &err), TR_OK, "%s", err.msg);
  return r;
}

/* AdamW moves every weight by about lr a step: past lr ~1 (50x the init scale 0.02) the tiny
** model cannot learn, and by lr 1000 its loss has exploded. */
Test(tr_lrfind, on_a_tiny_model_the_test_stops_after_the_explosion_and_suggests_below_it) {
  TrConfig c;
  tiny(&c);
  TrLrfindResult r = find(&c, 1e-4, 1e3, 70);
  cr_assert(r.stop == TR_LRFIND_EXPLODED || r.stop == TR_LRFIND_NONFINITE, "stop %s after %d points",
            tr_lrfind_stop_name(r.stop), r.n);
  cr_assert_lt(r.n, 70);
  double stop_lr = r.points[r.n - 1].lr;
  cr_expect(stop_lr > 1e-2 && stop_lr < 1e3, "stopped at lr %g", stop_lr);
  const TrLrfindSuggestion *sg[3] = {&r.steepest, &r.min10, &r.valley};
  for (int k = 0; k < 3; k++) {
    cr_expect_geq(sg[k]->index, 0, "suggestion %d missing", k);
    cr_expect(sg[k]->lr >= 1e-4 / 10 && sg[k]->lr < stop_lr && sg[k]->lr < 1.0, "suggestion %d: lr %g (stop %g)", k,
              sg[k]->lr, stop_lr);
  }
  double first = r.points[0].smoothed, low = INFINITY;
  for (int i = 0; i < r.n; i++) low = fmin(low, r.points[i].smoothed);
  cr_expect_lt(low, first, "the loss fell somewhere before the explosion");
  tr_lrfind_result_free(&r);
}

Test(tr_lrfind, two_runs_are_bit_identical) {
  TrConfig c;
  tiny(&c);
  TrLrfindResult a = find(&c, 1e-5, 1e2, 30), b = find(&c, 1e-5, 1e2, 30);
  cr_assert_eq(a.n, b.n);
  cr_expect_eq(memcmp(a.points, b.points, (size_t)a.n * sizeof *a.points), 0);
  cr_expect_eq(a.stop, b.stop);
  cr_expect_eq(a.steepest.index, b.steepest.index);
  cr_expect_eq(a.valley.index, b.valley.index);
  tr_lrfind_result_free(&a);
  tr_lrfind_result_free(&b);
}

Test(tr_lrfind, bad_ranges_are_refused_with_a_message) {
  TrConfig c;
  tiny(&c);
  TrLrfindResult r;
  TrErr err = {0};
  TrLrfindOptions o = {0, 1, 10, NULL, NULL, NULL};
  cr_expect_eq(tr_lrfind(&c, &o, &r, &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "start"), "%s", err.msg);
  o = (TrLrfindOptions){1e-3, 1e-4, 10, NULL, NULL, NULL};
  cr_expect_eq(tr_lrfind(&c, &o, &r, &err), TR_EINVAL);
  o = (TrLrfindOptions){1e-4, 1e-3, 1, NULL, NULL, NULL};
  cr_expect_eq(tr_lrfind(&c, &o, &r, &err), TR_EINVAL);
  cr_expect(strstr(err.msg, "2 steps"), "%s", err.msg);
}

Test(tr_lrfind, json_holds_points_suggestions_and_the_stop) {
  TrLrfindPoint p[2] = {{1, 1e-3, 2.0, 2.0}, {2, 1e-2, NAN, NAN}};
  TrLrfindResult r = {p, 2, TR_LRFIND_NONFINITE, "smoothed loss is nan", {-1, NAN}, {0, 1e-4}, {0, 1e-3}};
  char buf[1024];
  size_t n = tr_lrfind_result_json(&r, buf, sizeof buf);
  cr_assert_lt(n, sizeof buf);
  cr_expect_eq(n, strlen(buf));
  cr_expect(strstr(buf, "{\"points\": [{\"step\": 1, \"lr\": 0.001, \"loss\": 2, \"smoothed\": 2}, "
                        "{\"step\": 2, \"lr\": 0.01, \"loss\": null, \"smoothed\": null}]"), "%s", buf);
  cr_expect(strstr(buf, "\"steepest\": {\"lr\": null, \"index\": -1}"), "%s", buf);
  cr_expect(strstr(buf, "\"stop\": \"nonfinite\", \"reason\": \"smoothed loss is nan\"}"), "%s", buf);
  char small[8];
  cr_expect_eq(tr_lrfind_result_json(&r, small, sizeof small), n, "the size needed, whatever the buffer");
}

Test(tr_lrfind, the_ramp_replaces_optimizer_lr_and_the_schedule) {
  TrConfig a, b;
  tiny(&a);
  tiny(&b);
  TrErr err = {0};
  cr_assert_eq(tr_config_set(&b, "optimizer.lr", "0.3", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_set(&b, "schedule.name", "wsd", &err), TR_OK, "%s", err.msg);
  cr_assert_eq(tr_config_set(&b, "schedule.warmup_steps", "5", &err), TR_OK, "%s", err.msg);
  TrLrfindResult ra = find(&a, 1e-4, 1.0, 20), rb = find(&b, 1e-4, 1.0, 20);
  cr_assert_eq(ra.n, rb.n);
  cr_expect_eq(memcmp(ra.points, rb.points, (size_t)ra.n * sizeof *ra.points), 0);
  tr_lrfind_result_free(&ra);
  tr_lrfind_result_free(&rb);
}

typedef struct Stopper {
  volatile sig_atomic_t flag;
  int seen, after;
} Stopper;

static void stop_after(void *ud, const TrLrfindPoint *p, int steps) {
  Stopper *s = ud;
  cr_expect_eq(p->step, ++s->seen, "one call a step, in order");
  cr_expect_eq(steps, 40);
  if (s->seen == s->after) s->flag = 1;
}

Test(tr_lrfind, the_stop_flag_interrupts_and_the_points_so_far_are_kept) {
  TrConfig c;
  tiny(&c);
  Stopper s = {0, 0, 12};
  TrLrfindOptions o = {1e-5, 1e-1, 40, stop_after, &s, &s.flag};
  TrLrfindResult r;
  TrErr err = {0};
  cr_assert_eq(tr_lrfind(&c, &o, &r, &err), TR_OK, "%s", err.msg);
  cr_expect_eq(r.stop, TR_LRFIND_INTERRUPTED);
  cr_expect_eq(r.n, 12);
  cr_expect_eq(s.seen, 12);
  cr_expect(strstr(r.reason, "after step 12"), "%s", r.reason);
  cr_expect_geq(r.min10.index, 0, "suggestions come from the points so far");
  tr_lrfind_result_free(&r);
}
