#!/usr/bin/env python3
"""Scale benchmark: per-trial costs of a sweep of 1,000 / 10,000 / 100,000 trials.

usage: scale_bench.py HPSWEEP [--sizes 1000,10000,100000] [--claim-seconds S] [--repeat R]
                              [--timeout T] [--keep DIR] [--json]

For each size N (a random search of N trials of a 1-layer, d_model 16 model, 2 steps):
1. expand + insert: `hpsweep run SPEC -j 1` on a fresh database; the time from the start of the
   process to the `expand` event (trials recorded) is the expansion + insert time.
2. claims: the runner then trains trials for S seconds at -j 1 and is stopped with SIGINT.
   Overhead per trial = from its claim to the next claim, minus its own wall_seconds (median and
   mean over the trials run): fork, claim, exec, data setup, checkpoint and result records.
   Peak RSS of that runner (expansion, insert, then scheduling) via wait4.
3. fill (the documented fast path): every trial that did not run gets the results and metric rows
   of a trial that did (values scaled by a seeded random factor), status completed (1 in 100
   failed), written with SQL straight into the documented schema. Training 100,000 trials for
   real takes hours; the read commands only see rows.
4. read commands on the filled database (ls, status, top, top --by, compare, show, export of
   trials and of metrics, report), each R times: median wall and CPU seconds, CPU per trial,
   peak RSS; a command still running after T seconds is stopped and shown as "> T".
Only the standard library; prints a Markdown table (or JSON with --json).
"""
import json
import os
import random
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

SPEC = """name: scale
method: random
run_cap: %d
metric: {name: val_loss, goal: minimize}
parameters:
  optimizer.lr: {distribution: log_uniform_values, min: 0.0001, max: 0.1}
  optimizer.weight_decay: {values: [0.0, 0.01, 0.1]}
  train.batch_size: {values: [2, 4]}
hpsweep:
  threads_per_trial: 1
  max_retries: 0
  base:
    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}
    train: {max_steps: 2, eval_interval: 2, eval_batches: 1, log_interval: 1}
"""


def run_rusage(argv, cwd, out_path, timeout=None):
    """Run argv; return (wall seconds, CPU seconds, peak RSS in MB, exit status); None past timeout."""
    with open(out_path, "w") as out:
        t = time.monotonic()
        p = subprocess.Popen(argv, cwd=cwd, stdout=out, stderr=subprocess.STDOUT)
        while timeout is not None:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t > timeout:
                p.kill()
                os.wait4(p.pid, 0)
                return None
            time.sleep(0.02)
        else:
            _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
        return time.monotonic() - t, ru.ru_utime + ru.ru_stime, ru.ru_maxrss / 1024.0, p.returncode


def q(db, sql, args=()):
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=30)
    try:
        return c.execute(sql, args).fetchall()
    finally:
        c.close()


def wait_for_expand(db, p, limit=900):
    t = time.monotonic()
    while time.monotonic() - t < limit:
        if p.poll() is not None:
            sys.exit("hpsweep run exited before recording the trials (status %s)" % p.returncode)
        try:
            if os.path.exists(db) and q(db, "SELECT time FROM events WHERE kind = 'expand'"):
                return
        except sqlite3.Error:
            pass
        time.sleep(0.05)
    sys.exit("no expand event after %d s" % limit)


def run_phase(hps, d, n, claim_seconds):
    """Expand + insert, then claim and train for claim_seconds; returns measures."""
    with open(os.path.join(d, "scale.yaml"), "w") as f:
        f.write(SPEC % n)
    db = os.path.join(d, "scale.db")
    log = open(os.path.join(d, "run.log"), "w")
    t0 = time.time()
    p = subprocess.Popen([hps, "run", "scale.yaml", "--db", db, "-j", "1", "--quiet"], cwd=d,
                         stdout=log, stderr=subprocess.STDOUT)
    wait_for_expand(db, p)
    time.sleep(claim_seconds)
    p.send_signal(signal.SIGINT)
    _, status, ru = os.wait4(p.pid, 0)
    p.returncode = os.waitstatus_to_exitcode(status)
    log.close()
    expand = q(db, "SELECT min(time) FROM events WHERE kind = 'expand'")[0][0] - t0
    # Per completed trial: from its claim to the next claim, minus its own training time.
    rows = q(db, "SELECT e.time, t.wall_seconds FROM events e JOIN trials t ON t.id = e.trial_id "
                 "WHERE e.kind = 'claim' ORDER BY e.time")
    over = [1000.0 * (rows[i + 1][0] - rows[i][0] - rows[i][1]) for i in range(len(rows) - 1)
            if rows[i][1] is not None]
    if not over:
        sys.exit("no trial completed in %g s: raise --claim-seconds" % claim_seconds)
    return db, {"expand_insert_s": expand, "trials_run": len(over), "overhead_ms": statistics.median(over),
                "overhead_mean_ms": statistics.mean(over), "run_rss_mb": ru.ru_maxrss / 1024.0}


def fill(db, n):
    """Give every trial that did not run the results of one that did (the fast path above)."""
    c = sqlite3.connect(db, timeout=60)
    try:
        tid, best, final, bstep, steps, tokens, wall, flops, summary = c.execute(
            "SELECT id, best_metric, final_metric, best_step, steps, tokens, wall_seconds, flops, summary "
            "FROM trials WHERE status = 'completed' ORDER BY idx LIMIT 1").fetchone()
        rows = c.execute("SELECT name, step, tokens, seconds, value FROM metrics WHERE trial_id = ?",
                         (tid,)).fetchall()
        todo = [r[0] for r in c.execute("SELECT id FROM trials WHERE status != 'completed' ORDER BY id")]
        rng = random.Random(n)
        now = time.time()
        c.execute("BEGIN")
        upd, met = [], []
        for i, t in enumerate(todo):
            f = 0.5 + rng.random()
            if i % 100 == 99:
                upd.append(("failed", None, None, None, None, None, None, None, None, now, now,
                            "bench: synthetic failure %d" % t, t))
                continue
            upd.append(("completed", best * f, final * f, bstep, steps, tokens, wall, flops, summary, now, now,
                        None, t))
            met.extend((t, name, step, tok, sec, val * f) for name, step, tok, sec, val in rows)
        c.executemany("UPDATE trials SET status = ?, best_metric = ?, final_metric = ?, best_step = ?, steps = ?, "
                      "tokens = ?, wall_seconds = ?, flops = ?, summary = ?, started = ?, ended = ?, error = ?, "
                      "attempts = 1, worker = 'scale_bench', lease_until = NULL, checkpoint = NULL, "
                      "checkpoint_step = NULL WHERE id = ?", upd)
        c.execute("DELETE FROM metrics WHERE trial_id IN (SELECT id FROM trials WHERE worker = 'scale_bench')")
        c.executemany("INSERT INTO metrics (trial_id, name, step, tokens, seconds, value) VALUES (?,?,?,?,?,?)", met)
        c.execute("COMMIT")
        c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return tid
    finally:
        c.close()


def read_phase(hps, d, db, tid, repeat, timeout):
    cmds = [("ls", ["ls"]),
            ("status", ["status", "scale"]),
            ("top", ["top", "scale"]),
            ("top --by train_loss", ["top", "scale", "--by", "train_loss"]),
            ("compare", ["compare", "scale", "--by", "weight_decay"]),
            ("show", ["show", str(tid)]),
            ("export trials", ["export", "scale", "--format", "csv", "-o", "trials.csv"]),
            ("export metrics", ["export", "scale", "--what", "metrics", "--format", "csv", "-o", "metrics.csv"]),
            ("report", ["report", "scale", "-o", "report.html"])]
    res = {}
    for name, args in cmds:
        secs, cpus, rss = [], [], 0.0
        for _ in range(repeat):
            r = run_rusage([hps] + args + ["--db", db], d, os.path.join(d, "read.log"), timeout)
            if r is None:  # stopped at the timeout: recorded as "> timeout"
                secs, cpus = [float("inf")], [float("inf")]
                break
            s, cpu, m, rc = r
            if rc != 0:
                with open(os.path.join(d, "read.log")) as f:
                    sys.exit("hpsweep %s failed (%d):\n%s" % (" ".join(args), rc, f.read()[-2000:]))
            secs.append(s)
            cpus.append(cpu)
            rss = max(rss, m)
        res[name] = {"s": statistics.median(secs), "cpu": statistics.median(cpus), "rss_mb": rss}
    return res


def main():
    argv = sys.argv[1:]
    if not argv or argv[0].startswith("-"):
        sys.exit(__doc__)
    hps = os.path.abspath(argv[0])

    def opt(name, default):
        return argv[argv.index(name) + 1] if name in argv else default

    sizes = [int(x) for x in opt("--sizes", "1000,10000,100000").split(",")]
    claim_seconds = float(opt("--claim-seconds", "15"))
    repeat = int(opt("--repeat", "3"))
    timeout = float(opt("--timeout", "0")) or None
    keep = opt("--keep", None)
    out = {"hpsweep": hps, "load_before": os.getloadavg(), "sizes": {}}
    for n in sizes:
        d = tempfile.mkdtemp(prefix="hps_scale_%d_" % n, dir=keep)
        db, m = run_phase(hps, d, n, claim_seconds)
        tid = fill(db, n)
        m["read"] = read_phase(hps, d, db, tid, repeat, timeout)
        out["sizes"][n] = m
        if not keep:
            subprocess.run(["rm", "-rf", d])
        print("size %d done, load %.1f" % (n, os.getloadavg()[0]), file=sys.stderr)
    out["load_after"] = os.getloadavg()
    if "--json" in argv:
        print(json.dumps(out, indent=1))
        return
    ns = sizes
    print("read commands: wall s / CPU s (CPU us per trial), peak RSS MB")
    print()
    print("| measure | " + " | ".join("%d trials" % n for n in ns) + " |")
    print("|---|" + "---|" * len(ns))
    S = out["sizes"]
    print("| expand + insert, s | " + " | ".join("%.2f" % S[n]["expand_insert_s"] for n in ns) + " |")
    print("| runner peak RSS, MB | " + " | ".join("%.0f" % S[n]["run_rss_mb"] for n in ns) + " |")
    print("| overhead per trial, ms, median / mean (-j 1) | " + " | ".join(
        "%.1f / %.1f (%d run)" % (S[n]["overhead_ms"], S[n]["overhead_mean_ms"], S[n]["trials_run"])
        for n in ns) + " |")
    def cell(r, n):
        if r["s"] == float("inf"):
            return "> %g s" % timeout
        return "%.2f / %.2f (%.0f), %.0f" % (r["s"], r["cpu"], 1e6 * r["cpu"] / n, r["rss_mb"])
    for name in S[ns[0]]["read"]:
        print("| %s | " % name + " | ".join(cell(S[n]["read"][name], n) for n in ns) + " |")
    print("load average before %.2f, after %.2f" % (out["load_before"][0], out["load_after"][0]))


if __name__ == "__main__":
    main()
