#!/usr/bin/env python3
"""The PostgreSQL store against the SQLite store on the same machine (issue 15's speed bars).

usage: pg_bench.py HPSWEEP [--quick] [--part 1,2] [--reps N] [--runners 1,2,4,8] [--trials N]

The whole benchmark (on an idle machine; about 10 minutes):
    python3 bench/pg_bench.py build/hpsweep
A check that it works (under a minute, numbers meaningless):
    python3 bench/pg_bench.py build/hpsweep --quick

It starts its own throwaway PostgreSQL with tests/pg_harness.sh and runs itself inside it; nothing
else is touched. The server runs with fsync and synchronous_commit on, as a real one
(HPS_PG_FSYNC=off in the environment turns both off): every PostgreSQL commit then waits for its
WAL flush, where SQLite's metric batches commit with synchronous=NORMAL (no fsync per batch).

1. The store alone (bench/claim_bench from HPSWEEP's build directory, in-process): a sweep of
   20,000 trials, then 1,000 trials claimed, finished and counted one after another
   (claims/s = 1 / the median time of claim + finish + counts), and metric rows/s
   (40 batches of 512 rows, one transaction each, as the metrics buffer flushes them).
2. Scheduling overhead: 1,000 trials of a /bin/sh program that reports one metric and exits,
   each runner at -j 1: SQLite with one runner, PostgreSQL with 1, 2, 4 and 8 runners started
   together on one sweep (standing for hosts). Wall time per trial (sweep wall / trials),
   trials/s, and CPU per trial of every process (runners, workers, programs, plus the
   PostgreSQL server's processes). Targets: PostgreSQL's per-trial overhead no more than 2x
   SQLite's at one runner; throughput that grows with runners until the CPUs are busy.
Each measurement runs --reps times (default 3, --quick 1); medians. Only the standard library.
"""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
from program_bench import intro, load, write  # noqa: E402  (one home for these)
from sched_bench import cpu_children  # noqa: E402


def opt(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def server_cpu():
    """CPU seconds of the throwaway server so far: the postmaster and its exited backends."""
    try:
        with open(os.path.join(os.environ["HPS_TEST_PG_DIR"], "data", "postmaster.pid")) as f:
            pid = int(f.readline())
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, KeyError):
        return float("nan")


def store_part(hps, url, quick, reps, rows):
    exe = os.path.join(os.path.dirname(hps), "bench", "claim_bench")
    if not os.access(exe, os.X_OK):
        sys.exit("%s: not found (meson compile -C %s)" % (exe, os.path.dirname(hps)))
    n, k = ("500", "30") if quick else ("20000", "1000")
    res = {"sqlite": [], "postgresql": []}
    for r in range(reps):
        for kind in res:
            argv = [exe, n, k] + ([url] if kind == "postgresql" else [])
            p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            if p.returncode != 0:
                sys.exit("claim_bench failed:\n" + p.stdout)
            res[kind].append(json.loads(p.stdout.strip().splitlines()[-1]))
            x = res[kind][-1]
            print("  part 1 rep %d, %s: %.0f claims/s (%.2f ms per claim + finish + counts), %.0f metric rows/s;"
                  " load %s" % (r + 1, kind, 1e3 / x["per_trial_wall_ms"], x["per_trial_wall_ms"],
                                x["metric_rows_per_s_wall"], load()))
            sys.stdout.flush()
    med = {kind: {key: statistics.median(x[key] for x in res[kind]) for key in res[kind][0] if key != "store"}
           for kind in res}
    for kind in res:
        rows.append(("%s: claims/s (claim + finish + counts, %s trials in the sweep)" % (kind, n), "",
                     "%.0f" % (1e3 / med[kind]["per_trial_wall_ms"])))
        rows.append(("%s: metric rows/s (batches of 512)" % kind, "PostgreSQL >= SQLite",
                     "%.0f" % med[kind]["metric_rows_per_s_wall"]))


def status_done(hps, d, name, db):
    p = subprocess.run([hps, "status", name, "--db", db], cwd=d, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True)
    for line in p.stdout.splitlines():
        if " done, " in line and " completed" in line:
            return int(line.split(" done, ")[1].split(" completed")[0])
    sys.exit("hpsweep status %s: no count in:\n%s" % (name, p.stdout))


def sweep(hps, d, name, n, db, runners):
    """Run the sweep with `runners` runners at once (-j 1 each): wall s, CPU s of all processes."""
    write(os.path.join(d, name + ".yaml"),
          "name: %s\nprogram: one.sh\nmethod: grid\nmetric: {name: loss, goal: minimize}\n"
          "parameters:\n  i: {values: [%s]}\n" % (name, ", ".join(str(i) for i in range(n))))
    c0, s0, t = cpu_children(), server_cpu(), time.monotonic()
    procs = [subprocess.Popen([hps, "run", name + ".yaml", "-j", "1", "--quiet", "--db", db], cwd=d,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
             for _ in range(runners)]
    outs = [p.communicate()[0] for p in procs]
    wall = time.monotonic() - t
    cpu = cpu_children() - c0 + (server_cpu() - s0 if db.startswith("postgresql://") else 0.0)
    for p, out in zip(procs, outs):
        if p.returncode != 0:
            sys.exit("hpsweep run failed:\n" + out)
    done = status_done(hps, d, name, db)
    if done != n:
        sys.exit("%s: %d of %d trials completed" % (name, done, n))
    return wall, cpu


def sched_part(hps, url, quick, reps, rows, d):
    n = int(opt("--trials", "40" if quick else "1000"))
    runners = [int(x) for x in opt("--runners", "1,2" if quick else "1,2,4,8").split(",")]
    write(os.path.join(d, "one.sh"), "printf '{\"loss\": 1}\\n' >&3\n", 0o755)
    confs = [("sqlite", 1)] + [("postgresql", r) for r in runners]
    res = {c: [] for c in confs}
    for r in range(reps):
        for kind, k in confs:
            name = "s%s_r%d_%d" % (kind[0], k, r)
            db = os.path.join(d, name + ".db") if kind == "sqlite" else url
            wall, cpu = sweep(hps, d, name, n, db, k)
            res[(kind, k)].append((wall, cpu))
            print("  part 2 rep %d, %s, %d runner(s): %.2f ms/trial wall, %.1f trials/s, %.2f ms CPU/trial;"
                  " load %s" % (r + 1, kind, k, wall / n * 1e3, n / wall, cpu / n * 1e3, load()))
            sys.stdout.flush()
    med = {c: (statistics.median(w for w, _ in res[c]), statistics.median(c_ for _, c_ in res[c])) for c in confs}
    base = med[("sqlite", 1)][0] / n
    for kind, k in confs:
        wall, cpu = med[(kind, k)]
        target = ""
        if kind == "postgresql" and k == 1:
            target = "<= 2x SQLite's (%.2f ms)" % (2 * base * 1e3)
        elif kind == "postgresql":
            target = "trials/s grows with runners"
        rows.append(("%s, %d runner(s) at -j 1: wall per trial, %d trials" % (kind, k, n), target,
                     "%.2f ms (%.1f trials/s, %.2fx SQLite's per trial)" % (wall / n * 1e3, n / wall,
                                                                           wall / n / base)))
        rows.append(("%s, %d runner(s): CPU per trial, all processes%s" %
                     (kind, k, " and the server" if kind == "postgresql" else ""), "", "%.2f ms" % (cpu / n * 1e3)))


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    hps = os.path.abspath(sys.argv[1])
    url = os.environ.get("HPS_TEST_STORE_URL", "")
    if not url.startswith("postgresql://"):
        # Inside a throwaway server of our own (fsync on, as in production), this script again.
        env = dict(os.environ)
        env.setdefault("HPS_PG_FSYNC", "on")
        harness = os.path.join(ROOT, "tests", "pg_harness.sh")
        sys.exit(subprocess.call([harness, sys.executable, os.path.abspath(__file__)] + sys.argv[1:], env=env))
    quick = "--quick" in sys.argv
    reps = int(opt("--reps", "1" if quick else "3"))
    parts = {int(x) for x in opt("--part", "1,2").split(",")}
    d = tempfile.mkdtemp(prefix="hps_pg_bench_")
    rows = []
    intro()
    try:
        if 1 in parts:
            store_part(hps, url, quick, reps, rows)
        if 2 in parts:
            sched_part(hps, url, quick, reps, rows, d)
    finally:
        subprocess.call(["rm", "-rf", d])
    print("\n| measure | target | result |\n|---|---|---|")
    for r in rows:
        print("| %s | %s | %s |" % r)
    print("\nload average at end: %s" % load())


if __name__ == "__main__":
    main()
