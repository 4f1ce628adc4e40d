#!/usr/bin/env python3
"""Model-based search through `hpsweep run` (issue 13): regret on Branin at -j 1, -j 2 and with
two runners on one database, against the in-process figures of bench/bayes_bench.

usage: bayes_sched_bench.py HPSWEEP [--trials N] [--seeds S] [--samplers gp,tpe] [--ways j1,j2,two] [--seed0 K]
                            [--keep DIR] [--quick]

For each sampler and sweep seed 0 .. S-1 (default 50 trials x 5 seeds, gp and tpe): a bayes
sweep of examples/analytic/branin.py (x1 uniform [-5, 10], x2 uniform [0, 15], run_cap N), run
three ways, one database each: `hpsweep run -j 1`; `-j 2`; two `hpsweep run -j 1` started
together on one database. Simple regret = best loss - 0.397887 (Branin's minimum); the median
over the seeds. Also per way: trials made (must be N), duplicate configurations (must be 0).
The -j 1 sweep proposes exactly what bayes_bench's sequential simulation proposes (the same
seeds, sw_space_seed(sweep seed, k)), so its median equals bayes_bench's -j 1 figure over the
same seeds: the script runs `bayes_bench N S` beside it (when built) and prints its Branin rows.
When -j 1 is among the ways, each other way's ratio of medians to -j 1's is printed with a 95%
bootstrap interval (2,000 resamples of the seeds, paired: a resample draws seeds, and both
medians are taken over the same drawn seeds); without -j 1 among the ways, against the sequential
figures of `bayes_bench N S per-seed SAMPLER` (the same proposals in-process, when built). --quick: 12 trials x 2 seeds, TPE only (a smoke
run, not a measurement). Only the standard library.
"""
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
BRANIN_MIN = 0.397887357729738


def spec(name, seed, trials, sampler):
    return ("name: %s\nprogram: %s/examples/analytic/branin.py\nmethod: bayes\n"
            "metric: {name: loss, goal: minimize}\nrun_cap: %d\nhpsweep: {seed: %d, sampler: %s}\n"
            "parameters:\n  x1: {distribution: uniform, min: -5, max: 10}\n"
            "  x2: {distribution: uniform, min: 0, max: 15}\n" % (name, ROOT, trials, seed, sampler))


def start(hps, d, specfile, jobs, db):
    return subprocess.Popen([hps, "run", specfile, "-j", str(jobs), "--db", db, "--quiet"], cwd=d,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def finish(p):
    out, _ = p.communicate()
    if p.returncode != 0:
        sys.exit("hpsweep run failed:\n" + out)


def measure(db, name):
    c = sqlite3.connect(db)
    try:
        n, distinct, best = c.execute(
            "SELECT count(*), count(DISTINCT t.params), min(t.best_metric) FROM trials t JOIN sweeps s "
            "ON s.id = t.sweep_id WHERE s.name = ?", (name,)).fetchone()
    finally:
        c.close()
    return n, n - distinct, best - BRANIN_MIN


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else 0.5 * (v[len(v) // 2 - 1] + v[len(v) // 2])


def bootstrap_ratio(num, den, n=2000, seed=1):
    """The ratio of medians num / den and its 95% interval, resampling seeds (paired)."""
    rng, k, rs = random.Random(seed), len(num), []
    for _ in range(n):
        pick = [rng.randrange(k) for _ in range(k)]
        d = median([den[i] for i in pick])
        rs.append(median([num[i] for i in pick]) / d if d > 0 else float("inf"))
    rs.sort()
    return median(num) / median(den), rs[int(0.025 * n)], rs[int(0.975 * n) - 1]


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    hps = os.path.abspath(sys.argv[1])
    trials, seeds, seed0 = int(arg("--trials", 50)), int(arg("--seeds", 5)), int(arg("--seed0", 0))
    samplers = arg("--samplers", "gp,tpe").split(",")
    if "--quick" in sys.argv:
        trials, seeds, samplers = 12, 2, ["tpe"]
    names = {"j1": "-j 1", "j2": "-j 2", "two": "two runners"}
    ways = [names[w] for w in arg("--ways", "j1,j2,two").split(",")]
    keep = arg("--keep", None)
    d = keep or tempfile.mkdtemp(prefix="hps_bayes_sched_")
    os.makedirs(d, exist_ok=True)
    t0 = time.monotonic()
    print("%d trials x sweep seeds %d-%d on Branin; median simple regret (best - 0.397887)" % (
        trials, seed0, seed0 + seeds - 1))
    print("| sampler | way | median regret | per seed | trials | dups | wall s |")
    print("|---|---|---|---|---|---|---|")
    per = {}
    for sampler in samplers:
        for way in ways:
            regrets, made, dups, t = [], [], 0, time.monotonic()
            for seed in range(seed0, seed0 + seeds):  # --seed0: a share of the seeds in another process
                name = "branin_%s_s%d" % (sampler, seed)
                sf = os.path.join(d, name + ".yaml")
                with open(sf, "w") as f:
                    f.write(spec(name, seed, trials, sampler))
                db = os.path.join(d, "%s_%s.db" % (sampler, way.replace(" ", "")))
                ps = [start(hps, d, sf, 2 if way == "-j 2" else 1, db)]
                if way == "two runners":
                    ps.append(start(hps, d, sf, 1, db))
                for p in ps:
                    finish(p)
                n, dup, r = measure(db, name)
                regrets.append(r)
                made.append(n)
                dups += dup
            per[(sampler, way)] = regrets
            print("| %s | %s | %.4g | %s | %s | %d | %.0f |" % (
                sampler, way, median(regrets), " ".join("%.3g" % r for r in regrets),
                "/".join(str(m) for m in sorted(set(made))), dups, time.monotonic() - t))
            sys.stdout.flush()
    print("wall %.0f s" % (time.monotonic() - t0))
    bb = os.path.join(os.path.dirname(hps), "bench", "bayes_bench")
    for sampler in samplers:  # -j 1 not run: its per-seed figures in-process (equal by construction)
        if (sampler, "-j 1") not in per and os.path.exists(bb):
            out = subprocess.run([bb, str(trials), str(seed0 + seeds), "per-seed", sampler], stdout=subprocess.PIPE,
                                 text=True).stdout
            for line in out.splitlines():
                if line.startswith("per-seed branin %s -j1:" % sampler):
                    per[(sampler, "-j 1")] = [float(x) for x in line.split(":", 1)[1].split()][seed0:]
    for (sampler, way), regrets in per.items():
        if way != "-j 1" and (sampler, "-j 1") in per:
            r, lo, hi = bootstrap_ratio(regrets, per[(sampler, "-j 1")])
            print("%s %s / -j 1: median ratio %.3g, 95%% bootstrap interval [%.3g, %.3g] over %d seeds" % (
                sampler, way, r, lo, hi, len(regrets)))
    if os.path.exists(bb):
        out = subprocess.run([bb, str(trials), str(seeds)], stdout=subprocess.PIPE, text=True).stdout
        print("in-process (bayes_bench %d %d), Branin rows:" % (trials, seeds))
        for line in out.splitlines():
            if line.startswith(("branin ", "function")):
                print("  " + line)
    if not keep:
        shutil.rmtree(d)


if __name__ == "__main__":
    main()
