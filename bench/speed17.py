#!/usr/bin/python3
"""speed17.py: issue 17's side-by-side measurement, hpsweep against PyTorch, as one command.

    python3 bench/speed17.py [--hpsweep build/hpsweep] [--reps 3] [--shapes T,S] [--threads 1,2]
                             [--steps N] [--shakespeare] [--only-shakespeare] [--seeds 1337]
                             [--quick]

Training throughput: for each repetition and each (shape, threads), it runs
`hpsweep bench --model SHAPE --threads N --json` and `/usr/bin/python3 bench/bench_torch.py`
on the same shape and thread count, one after the other (the order alternates between
repetitions so neither always runs second), so both see the same machine. Each hpsweep run
measures OpenBLAS sgemm 1024^3 at that thread count in its own forked process; every shape runs in
a forked process of its own, whose peak RSS (wait4's ru_maxrss) hpsweep reports; PyTorch's peak
RSS is its process's (Python and libtorch included). Per (shape, threads) it prints the median
over repetitions of each run's median step as tokens/s, the ratio, MFU = tokens/s x
flops/token / median sgemm GFLOP/s at that thread count, and issue 17's targets beside them.

--shakespeare adds nanoGPT's Shakespeare CPU recipe at 2 threads:
`hpsweep train configs/shakespeare_char_cpu.yaml --set train.threads=2` against
`bench/shakespeare_torch.py --threads 2` (OMP_WAIT_POLICY=PASSIVE), per seed in --seeds, the two
alternating; wall time of each process (and the time each reports itself) and best val loss.
--only-shakespeare runs just that part.

The output is Markdown for BENCHMARKS.md: commit, date, machine (lscpu model, CPUs, avx2 and
avx512f), the OpenBLAS library hpsweep loads, PyTorch's version, load averages, the commands.
Progress goes to stderr. Standard library only; PyTorch runs under /usr/bin/python3 (Debian's
python3-torch). Measure on an idle machine: nothing else running, not even builds.

When build/bench/floor17 exists (or --floor PATH), it also runs it once per (shape, threads) after
the repetitions, with PyTorch's median tokens/s: the lowest step time the shape could have on this
machine (the step's products through OpenBLAS and at the 1024^3 rate, attention's causal products
at that rate, every other kernel's compulsory traffic at the copy bandwidth), as tokens/s and as a
ratio to PyTorch, so a target can be set against what the machine allows. With --shakespeare the
floor of the recipe's 2000 training steps (shape T, batch 12, vocab 65), evaluation left out.

--quick proves the script works in about a minute (numbers meaningless): shape T only, threads 1
and 2, one repetition of 2 steps, and with --shakespeare 30 training steps.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TORCH_PY = "/usr/bin/python3"
# issue 17's MFU targets per (shape, threads); the ratio target is 1.5x everywhere
MFU_TARGET = {("T", 1): 0.80, ("T", 2): 0.65, ("S", 1): 0.83, ("S", 2): 0.85}
RATIO_TARGET = 1.5
SHAKESPEARE_RATIO_TARGET = 2.0


def log(msg):
    print("# " + msg, file=sys.stderr, flush=True)


def load1():
    with open("/proc/loadavg") as f:
        return float(f.read().split()[0])


def run(cmd, env=None, cwd=None):
    """Run cmd; return (stdout, process wall seconds, peak RSS MB). Raises on failure."""
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        p = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, ru = os.wait4(p.pid, 0)
        wall = time.monotonic() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        text = out.read().decode(errors="replace")
        if p.returncode != 0:
            raise SystemExit("speed17.py: %s failed (exit %d):\n%s%s" %
                             (" ".join(cmd), p.returncode, text, err.read().decode(errors="replace")[-2000:]))
        return text, wall, ru.ru_maxrss / 1024.0


def last_json(text):
    return json.loads(text.strip().splitlines()[-1])


def machine(hps):
    """One Markdown paragraph: the CPU, its vector flags, OpenBLAS, the commit."""
    lscpu = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
    model = re.search(r"^Model name:\s*(.*)$", lscpu, re.M)
    flags = re.search(r"^Flags:\s*(.*)$", lscpu, re.M)
    fl = set(flags.group(1).split()) if flags else set()
    blas = "?"
    ldd = subprocess.run(["ldd", hps], capture_output=True, text=True).stdout
    m = re.search(r"(libopenblas\S*)\s*=>\s*(\S+)", ldd)
    if m:
        real = os.path.realpath(m.group(2))
        kind = "OpenMP" if "openmp" in real else "pthreads" if "pthread" in real else "?"
        blas = "%s (%s)" % (real, kind)
    git = lambda *a: subprocess.run(["git", "-C", ROOT] + list(a), capture_output=True, text=True).stdout.strip()
    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    if git("status", "--porcelain", "--untracked-files=no"):
        commit += " (with uncommitted changes)"
    return ("Measured at: commit %s, %s UTC, binary %s.\n\nMachine: %s, %d CPUs, avx2 %s, avx512f %s; "
            "OpenBLAS %s." % (commit, time.strftime("%Y-%m-%d %H:%M", time.gmtime()), hps,
                              model.group(1) if model else "?", os.cpu_count() or 0,
                              "yes" if "avx2" in fl else "no", "yes" if "avx512f" in fl else "no", blas))


def hps_bench(a, m, t):
    cmd = [a.hpsweep, "bench", "--model", m, "--threads", str(t), "--json"]
    if a.steps:
        cmd += ["--steps", str(a.steps)]
    return last_json(run(cmd)[0])


def torch_bench(a, m, t):
    cmd = [TORCH_PY, os.path.join(HERE, "bench_torch.py"), "--model", m, "--threads", str(t), "--json"]
    if a.steps:
        cmd += ["--steps", str(a.steps)]
    return last_json(run(cmd)[0])


def throughput(a):
    """Interleaved repetitions; returns the Markdown table and its notes."""
    cells = [(m, int(t)) for m in a.shapes.split(",") for t in a.threads.split(",")]
    res = {c: {"hps": [], "torch": []} for c in cells}
    loads = []
    for rep in range(a.reps):
        for m, t in cells:
            order = ("hps", "torch") if rep % 2 == 0 else ("torch", "hps")
            for who in order:
                loads.append(load1())
                r = hps_bench(a, m, t) if who == "hps" else torch_bench(a, m, t)
                res[(m, t)][who].append(r)
                log("rep %d %s/%d %s: %.0f tokens/s (load %.2f)" % (rep + 1, m, t, who, r["tokens_per_s"], loads[-1]))
    med = lambda rs, k: statistics.median(r[k] for r in rs)
    lines = ["| shape | threads | hpsweep tok/s | PyTorch tok/s | ratio | hpsweep MFU | MFU target "
             "| sgemm 1024³ GFLOP/s | hpsweep peak RSS | PyTorch peak RSS | targets met |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    notes = []
    for m, t in cells:
        h, p = res[(m, t)]["hps"], res[(m, t)]["torch"]
        ht, pt, g = med(h, "tokens_per_s"), med(p, "tokens_per_s"), med(h, "sgemm_gflops")
        mfu = ht * h[0]["flops_per_token"] / (g * 1e9) if g > 0 else 0.0
        tgt = MFU_TARGET.get((m, t))
        met = (ht / pt >= RATIO_TARGET) and (tgt is None or mfu >= tgt)
        lines.append("| %s | %d | %s | %s | %.2fx | %.2f | %s | %.0f | %.0f MB | %.0f MB | %s |" %
                     (m, t, "{:,.0f}".format(ht), "{:,.0f}".format(pt), ht / pt, mfu,
                      ">= %.2f" % tgt if tgt else "-", g, med(h, "peak_rss_mb"), med(p, "peak_rss_mb"),
                      "yes" if met else "no"))
        notes.append("- %s at %d thread%s, each repetition (hpsweep / PyTorch tok/s): %s" %
                     (m, t, "s" if t > 1 else "", ", ".join("%.0f / %.0f" % (x["tokens_per_s"], y["tokens_per_s"])
                                                            for x, y in zip(h, p))))
    for m in dict.fromkeys(c[0] for c in cells):
        h = next(res[c]["hps"][0] for c in cells if c[0] == m)
        notes.append("- %s: parameters %.1f MB, activations as allocated (tr_model_memory, batch %d) %.0f MB, "
                     "hpsweep's process before the model %.0f MB" % (m, h["params_mb"], h["batch"], h["act_mb"],
                                                                     h["base_rss_mb"]))
    torch_v = res[cells[0]]["torch"][0].get("torch", "?")
    a.torch_tps = {c: med(res[c]["torch"], "tokens_per_s") for c in cells}
    return lines, notes, torch_v, (min(loads), max(loads))


FLOOR_RE = re.compile(r"^floor: .*= ([\d.]+) ms/step, (\d+) tokens/s$", re.M)
FLOOR_IDEAL_RE = re.compile(r"^floor with the products at the 1024\^3 rate: .*= ([\d.]+) ms/step, (\d+) tokens/s$", re.M)


def floor_of(a, args):
    """(ms/step, tokens/s) of floor17's two floors (OpenBLAS products, products at the 1024^3 rate)."""
    text = run([a.floor] + args + ["--no-step"] + (["--reps", "3"] if a.quick else []))[0]
    m, mi = FLOOR_RE.search(text), FLOOR_IDEAL_RE.search(text)
    if not m or not mi:
        raise SystemExit("speed17.py: cannot read floor17's output:\n" + text)
    return (float(m.group(1)), float(m.group(2))), (float(mi.group(1)), float(mi.group(2)))


def floors(a, torch_tps):
    """Markdown table: each (shape, threads)'s floors beside PyTorch's median tokens/s."""
    lines = ["| shape | threads | floor tok/s (OpenBLAS products) | floor tok/s (products at 1024³) "
             "| floors / PyTorch | step 1.5x PyTorch needs | the floors' steps |", "|---|---|---|---|---|---|---|"]
    for (m, t), pt in torch_tps.items():
        (fms, ftps), (ims, itps) = floor_of(a, ["--model", m, "--threads", str(t)])
        need = 1e3 * (ftps * fms / 1e3) / (RATIO_TARGET * pt)
        lines.append("| %s | %d | {:,.0f} | {:,.0f} | %.2fx, %.2fx | %.1f ms | %.1f ms, %.1f ms |".format(ftps, itps) %
                     (m, t, ftps / pt, itps / pt, need, fms, ims))
    return lines


def data_path(a):
    for p in ([a.data] if a.data else []) + [os.path.join(ROOT, "..", "shared", "data", "tinyshakespeare.txt"),
                                              "/work/shared/data/tinyshakespeare.txt"]:
        if os.path.exists(p):
            return os.path.abspath(p)
    raise SystemExit("speed17.py: tinyshakespeare.txt not found (give --data PATH)")


def shakespeare(a):
    data = data_path(a)
    cfg = os.path.join(ROOT, "configs", "shakespeare_char_cpu.yaml")
    steps = 30 if a.quick else 2000
    rows, hw, tw, hl_all, tl_all = [], [], [], [], []
    work = tempfile.mkdtemp(prefix="speed17_")
    try:
        for i, seed in enumerate(int(s) for s in a.seeds.split(",")):
            hcmd = [a.hpsweep, "train", cfg, "--json", "--set", "train.threads=2", "--set", "data.path=" + data,
                    "--set", "train.seed=%d" % seed]
            if a.quick:
                hcmd += ["--set", "train.max_steps=%d" % steps, "--set", "train.eval_interval=15",
                         "--set", "schedule.warmup_steps=5", "--set", "schedule.decay_steps=%d" % (steps - 5)]
            tcmd = [TORCH_PY, os.path.join(HERE, "shakespeare_torch.py"), "--threads", "2", "--data", data,
                    "--seed", str(seed), "--iters", str(steps)]
            env = dict(os.environ, OMP_WAIT_POLICY="PASSIVE", OMP_NUM_THREADS="2")
            out = {}
            for who in (("hps", "torch") if i % 2 == 0 else ("torch", "hps")):
                log("shakespeare seed %d: %s (load %.2f)" % (seed, who, load1()))
                if who == "hps":
                    text, wall, rss = run(hcmd, cwd=work)
                    j = last_json(text)
                    out[who] = (j["best_val_loss"], wall, j["wall_seconds"], rss)
                else:
                    text, wall, rss = run(tcmd, env=env, cwd=work)
                    m = re.search(r"best val loss ([\d.]+), wall ([\d.]+) s", text)
                    out[who] = (float(m.group(1)), wall, float(m.group(2)), rss)
            (hl, hwall, hin, hrss), (tl, twall, tin, trss) = out["hps"], out["torch"]
            hw.append(hwall)
            tw.append(twall)
            hl_all.append(hl)
            tl_all.append(tl)
            rows.append("| %d | %.4f | %.4f | %.1f s (%.1f s) | %.1f s (%.1f s) | %.2fx | %.0f MB | %.0f MB |" %
                        (seed, hl, tl, hwall, hin, twall, tin, twall / hwall, hrss, trss))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    lines = ["| seed | hpsweep best val loss | PyTorch best val loss | hpsweep wall (own) | PyTorch wall (own) "
             "| speed-up | hpsweep peak RSS | PyTorch peak RSS |", "|---|---|---|---|---|---|---|---|"] + rows
    ratio = statistics.median(tw) / statistics.median(hw)
    lines.append("\nMedian wall: hpsweep %.1f s, PyTorch %.1f s: **%.2fx** (target >= %.1fx: %s). Wall is the "
                 "process's, start to exit, as the script measures it; in brackets the time each reports itself "
                 "(hpsweep's wall_seconds; PyTorch's loop without loading the data). %d steps, 2 threads, data %s."
                 % (statistics.median(hw), statistics.median(tw), ratio, SHAKESPEARE_RATIO_TARGET,
                    "met" if ratio >= SHAKESPEARE_RATIO_TARGET else "not met", steps, data))
    if a.floor:
        (fms, _), (ims, _) = floor_of(a, ["--model", "T", "--threads", "2", "--batch", "12", "--vocab", "65"])
        lines.append("\nFloor of the recipe's %d training steps on this machine (bench/floor17.c, shape T, batch 12, "
                     "vocab 65, 2 threads; evaluation, data and start-up left out): %.1f s with OpenBLAS's products, "
                     "%.1f s with the products at the 1024³ rate; 2x PyTorch's median wall needs %.1f s."
                     % (steps, fms * steps / 1e3, ims * steps / 1e3, statistics.median(tw) / 2))
    if len(hl_all) > 1:
        lines.append("\nBest val loss over %d seeds, mean +- sample std: hpsweep %.4f +- %.4f, PyTorch %.4f +- %.4f "
                     "(issue 17: unchanged to within the seed spread; BENCHMARKS.md's earlier 4 seeds: std 0.017)."
                     % (len(hl_all), statistics.mean(hl_all), statistics.stdev(hl_all), statistics.mean(tl_all),
                        statistics.stdev(tl_all)))
    return lines


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hpsweep", default=os.path.join(ROOT, "build", "hpsweep"))
    ap.add_argument("--reps", type=int, default=3, help="repetitions of every (shape, threads), default 3")
    ap.add_argument("--shapes", default="T,S")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--steps", type=int, default=0, help="timed steps per run (default: each script's, T 30, S 8)")
    ap.add_argument("--shakespeare", action="store_true", help="also the Shakespeare CPU recipe at 2 threads")
    ap.add_argument("--only-shakespeare", action="store_true", help="only the Shakespeare recipe")
    ap.add_argument("--seeds", default="1337", help="Shakespeare seeds, comma-separated (default 1337)")
    ap.add_argument("--data", default="", help="tinyshakespeare.txt (default ../shared/data from the repo)")
    ap.add_argument("--quick", action="store_true", help="a minute, to check the script works; numbers meaningless")
    ap.add_argument("--floor", default=os.path.join(ROOT, "build", "bench", "floor17"),
                    help="bench/floor17's binary (default build/bench/floor17; the floors are left out without it)")
    a = ap.parse_args()
    if not os.access(a.floor, os.X_OK):
        log("no %s: the floors are left out" % a.floor)
        a.floor = ""
    a.hpsweep = os.path.abspath(a.hpsweep)
    if a.quick:
        a.shapes, a.reps, a.steps = "T", 1, 2
    if not os.access(a.hpsweep, os.X_OK):
        raise SystemExit("speed17.py: %s is not an executable (build first, or --hpsweep PATH)" % a.hpsweep)
    if subprocess.run([TORCH_PY, "-c", "import torch"], capture_output=True).returncode != 0:
        raise SystemExit("speed17.py: %s cannot import torch (apt-get install python3-torch)" % TORCH_PY)
    print("## Issue 17: hpsweep against PyTorch, one sitting%s\n" % (" (--quick: numbers meaningless)" if a.quick else ""))
    print(machine(a.hpsweep))
    cmdline = "python3 bench/speed17.py " + " ".join(sys.argv[1:])
    if not a.only_shakespeare:
        lines, notes, torch_v, (lo, hi) = throughput(a)
        print("\nPyTorch %s (%s). Load average (1 min) before each run: %.2f-%.2f. Command: `%s`. Median step "
              "of each run, median over %d repetition%s; MFU = tokens/s x flops/token / sgemm 1024³ at the same "
              "thread count; peak RSS: hpsweep's forked process for the shape, PyTorch's whole process.\n"
              % (torch_v, TORCH_PY, lo, hi, cmdline, a.reps, "s" if a.reps > 1 else ""))
        print("\n".join(lines))
        print()
        print("\n".join(notes))
        if a.floor:
            print("\nThe floors (bench/floor17.c, run once per row after the repetitions): the lowest step time "
                  "the shape could have on this machine, the sum of the step's linear-layer products (through "
                  "OpenBLAS, or at the 1024³ rate), attention's causal products at the 1024³ rate and every other "
                  "kernel's compulsory traffic at the copy bandwidth, arithmetic free. A ratio target above the "
                  "floors' is out of reach.\n")
            print("\n".join(floors(a, a.torch_tps)))
    if a.shakespeare or a.only_shakespeare:
        print("\nnanoGPT's Shakespeare CPU recipe (configs/shakespeare_char_cpu.yaml against "
              "bench/shakespeare_torch.py), 2 threads:\n")
        print("\n".join(shakespeare(a)))


if __name__ == "__main__":
    main()
