#!/usr/bin/env python3
"""Population-based training (issue 13): PBT against the best of the same initial configurations.

usage: pbt_bench.py HPSWEEP [--quick] [--steps N] [--interval N] [--seeds 1,2,3] [--data FILE]
                    [--jobs N] [--keep DIR]

Model T (byte tokens, context 64, 4 layers, 4 heads, d_model 128, batch 16, one thread per
trial) on tiny Shakespeare (default ../shared/data/tinyshakespeare.txt from the current
directory, else beside the repository). A space of learning rate (log-uniform 1e-4 .. 3e-2)
and weight decay (uniform 0 .. 0.2), cosine schedule to 1e-5. For each sweep seed, two sweeps
of the same 8 initial configurations (random search's draw with that seed, train.seed 1):

1. baseline: the 8 trained to the end without PBT (method random, run_cap 8);
2. PBT: population 8, perturbation_interval steps, quantile 0.25, resample 0.25, factors
   0.8 / 1.2, mutating both parameters.

Measured: the best final val_loss (trials that ran every step) of each, the margin (baseline
minus PBT: positive means PBT is better), the CPU seconds of the runner and its workers
(getrusage of children: load-independent, unlike the wall time), and the copies made.
Defaults: 300 steps, perturbation every 50, val_loss every 50 (8 batches), seeds 1, 2, 3, -j 2.
--quick: a 1-layer model for 40 steps, to prove the script in seconds; its numbers mean nothing.
Each seed's row is printed as soon as it is measured. Only the standard library.
"""
import os
import shutil
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sched_bench import q, run  # noqa: E402  (one home for running a sweep and one query)

MODEL_T = "{n_layer: 4, n_head: 4, d_model: 128, context_length: 64, mlp_ratio: 4, bias: true, dropout: 0.0}"
MODEL_Q = "{n_layer: 1, n_head: 2, d_model: 32, context_length: 32, mlp_ratio: 4, bias: true, dropout: 0.0}"


def spec_text(name, seed, steps, interval, evals, data, model, pbt):
    block = ""
    if pbt:
        block = ("  pbt:\n    population: 8\n    perturbation_interval: %d\n    quantile_fraction: 0.25\n"
                 "    resample_probability: 0.25\n    factors: [0.8, 1.2]\n"
                 "    mutations: {optimizer.lr: {}, optimizer.weight_decay: {}}\n" % interval)
    return (
        "name: %s\nmethod: random\nrun_cap: 8\nmetric: {name: val_loss, goal: minimize}\n"
        "parameters:\n"
        "  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.03}\n"
        "  optimizer.weight_decay: {distribution: uniform, min: 0.0, max: 0.2}\n"
        "hpsweep:\n  seed: %d\n%s"
        "  base:\n"
        "    data: {path: %s, tokenizer: byte, val_fraction: 0.1}\n"
        "    model: %s\n"
        "    optimizer: {name: adamw, betas: [0.9, 0.99], grad_clip: 1.0}\n"
        "    schedule: {name: cosine, min_lr: 0.00001}\n"
        "    train: {batch_size: 16, max_steps: %d, eval_interval: %d, eval_batches: 8, "
        "log_interval: %d, seed: 1, threads: 1}\n"
        % (name, seed, block, data, model, steps, evals, evals))


def measure(hps, d, name, seed, p, data, pbt, jobs):
    path = os.path.join(d, name + ".yaml")
    with open(path, "w") as f:
        f.write(spec_text(name, seed, p["steps"], p["interval"], p["eval"], data, p["model"], pbt))
    db = os.path.join(d, name + ".db")
    cpu = []
    wall = run(hps, d, path, jobs, db, cpu)
    cpu = cpu[0]
    best = q(db, "SELECT min(final_metric) FROM trials WHERE status = 'completed' AND steps = %d"
             % p["steps"])[0]
    done = q(db, "SELECT count(*) FROM trials WHERE status = 'completed'")[0]
    copies = q(db, "SELECT count(*) FROM events WHERE kind = 'exploit'")[0]
    if done != 8:
        sys.exit("%s: %d of 8 trials completed" % (name, done))
    return {"best": best, "cpu": cpu, "wall": wall, "copies": copies}


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    hps = os.path.abspath(sys.argv[1])
    argv = sys.argv[2:]

    def opt(name, default):
        return argv[argv.index(name) + 1] if name in argv else default
    quick = "--quick" in argv
    p = {"steps": 40 if quick else int(opt("--steps", 300)), "model": MODEL_Q if quick else MODEL_T}
    p["interval"] = 10 if quick else int(opt("--interval", 50))
    p["eval"] = p["interval"]
    seeds = [int(s) for s in opt("--seeds", "1,2,3").split(",")]
    data = os.path.join("..", "shared", "data", "tinyshakespeare.txt")
    if not os.path.isfile(data):
        data = os.path.join(HERE, "..", "..", "shared", "data", "tinyshakespeare.txt")
    data = os.path.abspath(opt("--data", data))
    if not os.path.isfile(data):
        sys.exit("pbt_bench: %s: no such file (give --data FILE)" % data)
    jobs = int(opt("--jobs", 2))
    keep = opt("--keep", None)
    d = os.path.abspath(keep) if keep else tempfile.mkdtemp(prefix="hps_pbt_bench_")
    os.makedirs(d, exist_ok=True)
    try:
        print("PBT vs the best of the same 8 initial configurations, %d steps, perturbation every %d, -j %d%s"
              % (p["steps"], p["interval"], jobs, " (--quick: the numbers mean nothing)" if quick else ""))
        print("| seed | baseline best val_loss | PBT best val_loss | margin (baseline - PBT) | copies | "
              "CPU s baseline | CPU s PBT |")
        print("|---|---|---|---|---|---|---|", flush=True)
        margins = []
        for s in seeds:
            base = measure(hps, d, "base_%d" % s, s, p, data, False, jobs)
            pbt = measure(hps, d, "pbt_%d" % s, s, p, data, True, jobs)
            m = base["best"] - pbt["best"]
            margins.append(m)
            print("| %d | %.4f | %.4f | %+.4f | %d | %.0f | %.0f |" % (s, base["best"], pbt["best"], m, pbt["copies"],
                                                                     base["cpu"], pbt["cpu"]), flush=True)
        print("mean margin %+.4f over %d seeds; PBT better in %d of %d" %
              (sum(margins) / len(margins), len(margins), sum(1 for m in margins if m > 0), len(margins)))
    finally:
        if not keep:
            shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
