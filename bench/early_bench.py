#!/usr/bin/env python3
"""Early termination (issue 12): what ASHA and W&B hyperband find, and what they spend.

usage: early_bench.py HPSWEEP [--quick | --short] [--data FILE] [--jobs N] [--keep DIR]

Model T (byte tokens, context 64, 4 layers, 4 heads, d_model 128, batch 16, one thread per
trial) on tiny Shakespeare (default ../shared/data/tinyshakespeare.txt from the current directory, the
repository's root, else beside the repository).
A random space of learning rate (log-uniform 1e-4 .. 3e-2), weight decay (uniform 0 .. 0.2) and
warm-up (int-uniform 0 .. 300 steps), 27 configurations (random search, seed 12) of 1,500 steps,
val_loss every 50 steps, -j 2. Three sweeps of the same 27 configurations, one database each:

1. all 27 run to the end (the baseline);
2. ASHA with promotions, eta 3, grace_period 100 (rungs 100, 300, 900 steps);
3. W&B hyperband, min_iter 2 evaluations, eta 3, strict (bands 2, 6, 18 = steps 100, 300, 900).

For each: the best full-length val_loss (the final val_loss of trials that ran all 1,500 steps)
against the best of the baseline, the steps spent (sum of trials.steps) against 27 x 1,500, and
the wall time. Targets (the issue's acceptance): ASHA within 0.02 of the baseline's best with at
most 40% of its steps; W&B hyperband at most 60%.

--short: the same 27 configurations for 450 steps (rungs 50, 150; bands 1, 3, 9 evaluations =
steps 50, 150, 450): a third of the cost, for a machine that cannot spare an hour and a half.
--quick: 6 configurations of 60 steps (val_loss every 10; rungs and bands at 10 and 30 steps),
to prove the script works in a minute; its numbers mean nothing. Only the standard library.
The full run takes the better part of an hour of both cores: the lead runs it, not the tests.
"""
import os
import shutil
import sqlite3
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sched_bench import q, run  # noqa: E402  (one home for running a sweep and one query)

FULL = {"configs": 27, "steps": 1500, "eval": 50, "warmup_max": 300, "grace": 100, "min_iter": 2}
QUICK = {"configs": 6, "steps": 60, "eval": 10, "warmup_max": 20, "grace": 10, "min_iter": 1}
# A third of the length (for a shared machine): rungs 50, 150; bands 1, 3, 9 = steps 50, 150, 450.
SHORT = {"configs": 27, "steps": 450, "eval": 50, "warmup_max": 100, "grace": 50, "min_iter": 1}


def spec_text(name, p, data, rule):
    """A spec of the benchmark's space; rule: '' (run to the end), 'asha' or 'wandb'."""
    et = ""
    if rule == "wandb":
        et = ("early_terminate:\n  type: hyperband\n  min_iter: %d\n  eta: 3\n  strict: true\n"
              % p["min_iter"])
    hps_et = ""
    if rule == "asha":
        hps_et = ("  early_terminate:\n    type: asha\n    grace_period: %d\n    max_t: %d\n"
                  "    reduction_factor: 3\n    promotions: true\n" % (p["grace"], p["steps"]))
    return (
        "name: %s\nmethod: random\nrun_cap: %d\nmetric: {name: val_loss, goal: minimize}\n%s"
        "parameters:\n"
        "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.03}\n"
        "  optimizer.weight_decay: {distribution: uniform, min: 0.0, max: 0.2}\n"
        "  schedule.warmup_steps: {distribution: int_uniform, min: 0, max: %d}\n"
        "hpsweep:\n  seed: 12\n%s"
        "  base:\n"
        "    data: {path: %s, tokenizer: byte, val_fraction: 0.1}\n"
        "    model: {n_layer: 4, n_head: 4, d_model: 128, context_length: 64, mlp_ratio: 4, "
        "bias: true, dropout: 0.0}\n"
        "    optimizer: {name: adamw, betas: [0.9, 0.99], grad_clip: 1.0}\n"
        "    schedule: {name: cosine, min_lr: 0.00001}\n"
        "    train: {batch_size: 16, max_steps: %d, eval_interval: %d, eval_batches: 10, "
        "log_interval: %d, seed: 1, threads: 1}\n"
        % (name, p["configs"], et, p["warmup_max"], hps_et, data, p["steps"], p["eval"], p["eval"]))


def measure(hps, d, name, p, data, rule, jobs):
    path = os.path.join(d, name + ".yaml")
    with open(path, "w") as f:
        f.write(spec_text(name, p, data, rule))
    db = os.path.join(d, name + ".db")
    wall = run(hps, d, name + ".yaml", jobs, db)
    best = q(db, "SELECT min(final_metric) FROM trials WHERE status = 'completed' AND steps = %d"
             % p["steps"])[0]
    spent = q(db, "SELECT coalesce(sum(steps), 0) FROM trials")[0]
    counts = dict((s, n) for s, n in _rows(db, "SELECT status, count(*) FROM trials GROUP BY status"))
    left = counts.get("pending", 0) + counts.get("running", 0) + counts.get("paused", 0)
    if left:
        sys.exit("%s: %d trials did not end (%s)" % (name, left, counts))
    return {"name": name, "wall": wall, "best": best, "spent": spent, "counts": counts}


def _rows(db, sql):
    c = sqlite3.connect(db)
    try:
        return c.execute(sql).fetchall()
    finally:
        c.close()


def report(rows, p):
    full = p["configs"] * p["steps"]
    base = rows[0]["best"]
    print("| sweep | best full-length val_loss | vs baseline | steps spent | of %d x %d | wall | "
          "completed / pruned / failed |" % (p["configs"], p["steps"]))
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        gap = r["best"] - base if r["best"] is not None and base is not None else float("nan")
        c = r["counts"]
        print("| %s | %s | %+.4f | %d | %.1f%% | %.0f s | %d / %d / %d |" % (
            r["name"], "%.4f" % r["best"] if r["best"] is not None else "-", gap, r["spent"],
            100.0 * r["spent"] / full, r["wall"], c.get("completed", 0), c.get("pruned", 0),
            c.get("failed", 0) + c.get("diverged", 0)))
    asha, wandb = rows[1], rows[2]
    ok_asha = (asha["best"] is not None and asha["best"] - base <= 0.02
               and asha["spent"] <= 0.40 * full)
    ok_wandb = wandb["spent"] <= 0.60 * full
    print("ASHA: within 0.02 of the best with at most 40%% of the steps: %s" %
          ("met" if ok_asha else "MISSED"))
    print("W&B hyperband: at most 60%% of the steps: %s" % ("met" if ok_wandb else "MISSED"))


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    hps = os.path.abspath(sys.argv[1])
    argv = sys.argv[2:]
    p = QUICK if "--quick" in argv else SHORT if "--short" in argv else FULL
    # ../shared/data beside the repository, as the configs have it from the repository's root
    data = os.path.join("..", "shared", "data", "tinyshakespeare.txt")
    if not os.path.isfile(data):
        data = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare.txt")
    if "--data" in argv:
        data = argv[argv.index("--data") + 1]
    data = os.path.abspath(data)
    if not os.path.isfile(data):
        sys.exit("early_bench: %s: no such file (give --data FILE)" % data)
    jobs = int(argv[argv.index("--jobs") + 1]) if "--jobs" in argv else 2
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    d = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix="hps_early_bench_")
    os.makedirs(d, exist_ok=True)
    try:
        rows = [measure(hps, d, "early_full", p, data, "", jobs),
                measure(hps, d, "early_asha", p, data, "asha", jobs),
                measure(hps, d, "early_wandb", p, data, "wandb", jobs)]
        print("early termination, %d configurations x %d steps, -j %d%s" %
              (p["configs"], p["steps"], jobs, " (--quick: the numbers mean nothing)"
               if p is QUICK else ""))
        report(rows, p)
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
