#!/usr/bin/env python3
"""Sweep engine benchmark: scheduling overhead, logging cost, parallel throughput.

usage: sched_bench.py HPSWEEP [--quick] [--part 1|2|3]

1. Overhead: N short trials at -j 1 (1 thread); wall time of `hpsweep run` minus the
   sum of the trials' own training time (trials.wall_seconds), per trial; metric rows
   written per second of sweep.
2. Logging: model T (context 64, 4 layers, 4 heads, d_model 128, batch 16) through
   the worker path, log_interval 1 vs 1000: training seconds per step.
3. Throughput: the same trials at -j 1 and -j 2, one thread per trial: trials/minute.
Only the standard library (sqlite3 module); prints a Markdown table.
"""
import json
import os
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

TINY = ("    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
        "    train: {batch_size: 4, max_steps: 20, eval_interval: 10, eval_batches: 2, log_interval: 5}\n")
MODEL_T = ("    model: {n_layer: 4, n_head: 4, d_model: 128, context_length: 64}\n"
           "    train: {batch_size: 16, max_steps: %d, eval_interval: 100000, eval_batches: 1,"
           " log_interval: %d}\n")


def spec(path, name, lrs, base):
    with open(path, "w") as f:
        f.write("name: %s\nmethod: grid\nparameters:\n  optimizer.lr:\n    values: [%s]\n"
                "hpsweep:\n  threads_per_trial: 1\n  base:\n%s" % (name, ", ".join(lrs), base))


def cpu_children():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def run(hps, d, specfile, jobs, db, cpu=None):
    t, c = time.monotonic(), cpu_children()
    p = subprocess.run([hps, "run", specfile, "-j", str(jobs), "--db", db, "--quiet"], cwd=d,
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    wall = time.monotonic() - t
    if cpu is not None:
        cpu.append(cpu_children() - c)
    if p.returncode != 0:
        sys.exit("hpsweep run failed:\n" + p.stdout)
    return wall


def q(db, sql):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql).fetchone()
    finally:
        c.close()


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    hps = os.path.abspath(sys.argv[1])
    quick = "--quick" in sys.argv
    parts = {1, 2, 3}
    if "--part" in sys.argv:
        parts = {int(sys.argv[sys.argv.index("--part") + 1])}
    d = tempfile.mkdtemp(prefix="hps_sched_bench_")
    rows = []
    try:
        if 1 in parts:
            # 1. Overhead of many short trials at -j 1.
            n = 20 if quick else 60
            lrs = ["%.6f" % (1e-3 * (1 + i)) for i in range(n)]
            spec(os.path.join(d, "short.yaml"), "short", lrs, TINY)
            db = os.path.join(d, "short.db")
            wall = run(hps, d, "short.yaml", 1, db)
            train, steps = q(db, "SELECT sum(wall_seconds), sum(steps) FROM trials WHERE status = 'completed'")
            nrows = q(db, "SELECT count(*) FROM metrics")[0]
            rows.append(("trials at -j 1 (tiny model, 20 steps)", "%d in %.2f s" % (n, wall)))
            rows.append(("sum of the trials' own training time", "%.2f s" % train))
            rows.append(("overhead per trial (fork, store, data setup, claim/finish)",
                         "%.1f ms" % (1000 * (wall - train) / n)))
            # The same trial alone through `hpsweep train`: process start and data setup, no store.
            with open(os.path.join(d, "tiny.yaml"), "w") as f:
                f.write("model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}\n"
                        "train: {batch_size: 4, max_steps: 20, eval_interval: 10, eval_batches: 2,"
                        " log_interval: 5, threads: 1}\n")
            alone = []
            for _ in range(10):
                t = time.monotonic()
                p = subprocess.run([hps, "train", "tiny.yaml", "--json"], cwd=d, stdout=subprocess.PIPE,
                                   stderr=subprocess.DEVNULL, text=True, check=True)
                alone.append(time.monotonic() - t - json.loads(p.stdout)["wall_seconds"])
            alone.sort()
            rows.append(("  of which `hpsweep train` alone (exec, data setup; median of 10)",
                         "%.1f ms" % (1000 * alone[len(alone) // 2])))
            rows.append(("metric rows written", "%d (%.0f rows/s of sweep wall time)" % (nrows, nrows / wall)))

        if 2 in parts:
            # 2. Logging every step vs rarely, model T, one trial each, alternating.
            steps_t = 40 if quick else 120
            per, cpu = {}, {}
            reps = 2 if quick else 3
            for rep in range(reps):
                for li in (1, 1000):
                    name = "log%d_%d" % (li, rep)
                    spec(os.path.join(d, name + ".yaml"), name, ["0.001"], MODEL_T % (steps_t, li))
                    db = os.path.join(d, name + ".db")
                    c = []
                    run(hps, d, name + ".yaml", 1, db, c)
                    secs, st = q(db, "SELECT wall_seconds, steps FROM trials")
                    per.setdefault(li, []).append(secs / st)
                    cpu.setdefault(li, []).append(c[0] / st)
            a, b = min(per[1]), min(per[1000])
            ca, cb = min(cpu[1]), min(cpu[1000])
            rows.append(("model T step, log_interval 1000 (wall, best of %d)" % reps, "%.2f ms" % (1000 * b)))
            rows.append(("model T step, log_interval 1 (wall, best of %d)" % reps, "%.2f ms" % (1000 * a)))
            rows.append(("logging every step costs (wall)", "%+.2f %% of step time" % (100 * (a - b) / b)))
            rows.append(("logging every step costs (CPU time of run + worker)",
                         "%+.2f %% (%.2f vs %.2f ms/step)" % (100 * (ca - cb) / cb, 1000 * ca, 1000 * cb)))

        if 3 in parts:
            # 3. Parallel throughput: -j 1 vs -j 2, one thread per trial.
            m = 4 if quick else 8
            lrs = ["%.6f" % (1e-3 * (1 + i)) for i in range(m)]
            spec(os.path.join(d, "par.yaml"), "par", lrs, MODEL_T % (10 if quick else 25, 5))
            w1 = run(hps, d, "par.yaml", 1, os.path.join(d, "par1.db"))
            w2 = run(hps, d, "par.yaml", 2, os.path.join(d, "par2.db"))
            rows.append(("model T trials/min at -j 1 (%d trials)" % m, "%.1f" % (60 * m / w1)))
            rows.append(("model T trials/min at -j 2", "%.1f" % (60 * m / w2)))
            rows.append(("speed-up -j 2 / -j 1", "%.2fx (%d cores)" % (w1 / w2, os.cpu_count())))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("| measure | value |\n|---|---|")
    for k, v in rows:
        print("| %s | %s |" % (k, v))


if __name__ == "__main__":
    main()
