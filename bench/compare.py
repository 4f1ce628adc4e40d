#!/usr/bin/python3
"""compare.py: hpsweep vs PyTorch training throughput, side by side.

    /usr/bin/python3 bench/compare.py [--hpsweep build/hpsweep] [--rounds 3]

For each (model, threads) it alternates `hpsweep bench --json` and
`bench/bench_torch.py --json` --rounds times (so both see the same machine
load), then prints a Markdown table: the median over rounds of each run's median
tokens/s, the ratio, and the best single step of each (the least disturbed
figure on a shared machine), with the 1-minute load average seen before each run.
"""
import argparse
import json
import os
import statistics
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run_json(cmd):
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--hpsweep", default=os.path.join(HERE, "..", "build", "sweep", "hpsweep"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", default="T,S")
    ap.add_argument("--threads", default="1,2")
    a = ap.parse_args()
    rows = []
    for m in a.models.split(","):
        for t in a.threads.split(","):
            hp, tp, hb, tb, loads, gf = [], [], [], [], [], []
            for _ in range(a.rounds):
                loads.append(load1())
                r = run_json([a.hpsweep, "bench", "--model", m, "--threads", t, "--json"])
                hp.append(r["tokens_per_s"])
                hb.append(r["tokens_per_s_best"])
                gf.append(r["sgemm_gflops"])
                loads.append(load1())
                r = run_json([sys.executable, os.path.join(HERE, "bench_torch.py"), "--model", m,
                              "--threads", t, "--json"])
                tp.append(r["tokens_per_s"])
                tb.append(r["tokens_per_s_best"])
                print("# %s/%s round: hpsweep %.0f torch %.0f (load %.1f)" %
                      (m, t, hp[-1], tp[-1], loads[-1]), file=sys.stderr)
            h, p = statistics.median(hp), statistics.median(tp)
            rows.append((m, t, h, p, h / p, max(hb), max(tb), max(hb) / max(tb),
                         statistics.median(gf), min(loads), max(loads)))
    print("| model | threads | hpsweep tok/s | PyTorch tok/s | ratio | hpsweep best | PyTorch best "
          "| ratio (best) | sgemm GFLOP/s | load avg |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %s | %.0f | %.0f | %.2fx | %.0f | %.0f | %.2fx | %.0f | %.1f-%.1f |" % r)


if __name__ == "__main__":
    main()
