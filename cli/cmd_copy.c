/*
** cmd_copy.c: `hpsweep copy SWEEP --from DB --to DB`: a sweep with every row of it (its trials,
** their metrics, its events) from one store to another, SQLite or PostgreSQL either way
** (rs_sweep_copy, one write transaction in the target).
*/
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "rs_store.h"
#include "tr_os.h"

static const char usage[] =
    "usage: hpsweep copy SWEEP --from DB --to DB [--as NAME] [--replace] [--quiet]\n"
    "\n"
    "Copy a sweep with all its trials, their metrics and its events from one results\n"
    "store to another: an SQLite file or a postgresql:// URL on either side (e.g. a\n"
    "laptop's sweep into the lab's PostgreSQL, or a finished sweep out of it into a\n"
    "file to archive). Every column is copied as it is; ids are kept when they are free\n"
    "in the target, else shifted past its largest (references follow). The target is\n"
    "created if missing, and written in one transaction: a failure leaves it as it was.\n"
    "The source is only read (a sweep still running is copied as it stands).\n"
    "See docs/database.md#copying-a-sweep.\n"
    "\n"
    "options:\n"
    "  --from DB    the store holding the sweep (a file or a postgresql:// URL)\n"
    "  --to DB      the store to copy it into (a file is created if missing)\n"
    "  --as NAME    the sweep's name in the target (default: its name)\n"
    "  --replace    the target holds a sweep of that name already: replace it (else refused)\n"
    "  --quiet      no progress on stderr\n";

typedef struct Progress {
  double last;
} Progress;

static void progress(void *ctx, int64_t done, int64_t total) {
  Progress *p = ctx;
  double now = tr_clock_mono();
  if (done < total && now - p->last < 1.0) return;
  p->last = now;
  fprintf(stderr, "hpsweep copy: %lld of %lld rows\n", (long long)done, (long long)total);
}

static void summary(const char *name, const char *from, const char *to, const RsCopyStats *s) {
  printf("copied sweep '%s' from %s to %s: %lld trials, %lld metric rows, %lld events", name, from, to,
         (long long)s->rows[RS_COPY_TRIALS], (long long)s->rows[RS_COPY_METRICS], (long long)s->rows[RS_COPY_EVENTS]);
  if (s->replaced) printf(" (replaced the sweep there)");
  if (s->shift[RS_COPY_SWEEPS] || s->shift[RS_COPY_TRIALS] || s->shift[RS_COPY_EVENTS])
    printf("; ids shifted: sweep +%lld, trials +%lld, events +%lld", (long long)s->shift[RS_COPY_SWEEPS],
           (long long)s->shift[RS_COPY_TRIALS], (long long)s->shift[RS_COPY_EVENTS]);
  printf("\n");
}

static int copy_main(int argc, char **argv) {
  const char *from = NULL, *to = NULL, *name = NULL, *as = NULL;
  int replace = 0, quiet = 0;
  const HpsOpt opts[] = {HPS_OPT_STRING("--from", NULL, &from), HPS_OPT_STRING("--to", NULL, &to),
                         HPS_OPT_STRING("--as", NULL, &as),
                         HPS_OPT_FLAG("--replace", NULL, &replace), HPS_OPT_FLAG("--quiet", "-q", &quiet),
                         HPS_OPT_END};
  if (hps_opts_parse(argc, argv, opts, &name, 1)) return 2;
  if (!name) return hps_error_usage("copy", "no SWEEP given");
  if (!from || !to) return hps_error_usage("copy", "give both --from DB and --to DB");
  if (as && !*as) return hps_error_usage("copy", "--as: empty name");
  if (strcmp(from, to) == 0) return hps_error_usage("copy", "--from and --to are the same store (%s)", from);
  if (!strstr(from, "://") && access(from, F_OK) != 0) {
    hps_error("copy", "%s: no such database", from);
    return 2;
  }
  TrErr err;
  tr_err_clear(&err);
  RsStore *src = NULL, *dst = NULL;
  if (rs_store_open(from, RS_OPEN_READONLY, &src, &err)) return hps_fail("copy", &err);
  if (rs_store_open(to, RS_OPEN_CREATE, &dst, &err)) {
    rs_store_close(src);
    return hps_fail("copy", &err);
  }
  Progress p = {tr_clock_mono()};
  RsCopyStats s;
  int rc = rs_sweep_copy(src, dst, name, as, replace, quiet ? NULL : progress, &p, &s, &err);
  int status = rc ? hps_fail("copy", &err) : 0;
  if (!rc) summary(as ? as : name, rs_store_path(src), rs_store_path(dst), &s);
  rs_store_close(dst);
  rs_store_close(src);
  return status;
}

const HpsCmd hps_cmd_copy = {"copy", copy_main, "copy a sweep with all its rows from one store to another", usage};
