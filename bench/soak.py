#!/usr/bin/env python3
"""Crash soak: sweeps of many short trials, two runners at -j 2 on one database, SIGKILLed at
random moments (a runner, a worker, both runners, a runner with its workers, a program trial's
process group) and restarted each time, until KILLS kills. Each sweep, once finished, is checked:

- PRAGMA integrity_check is ok, every trial is completed, and exactly once (one 'complete' event);
- its per-trial results (best and final metric, steps, every metric row but tokens_per_second)
  equal those of an uninterrupted run of the same spec: resume is bit-exact (built-in trainer,
  and the deterministic program);
- no process is left in the soak's directory, no temporary file (NAME.XXXXXX of an atomic write,
  a SQLite journal) is left in it.

usage: soak.py HPSWEEP [--kills N] [--quick] [--seed S] [--keep]
  --kills N  stop after N kills (default 1000; --quick: 100), at most 50 in one sweep
  --seed S   the random moments and targets (default 1)
  --keep     keep the temporary directory (printed)
Rounds alternate between the trainer sweep and the program sweep. Only the standard library.
Exit 0 when every check held, 1 otherwise (each failure printed).
"""
import os
import random
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

TRAIN_SPEC = """name: soak
method: grid
metric: {name: val_loss, goal: minimize}
parameters:
  optimizer.lr: {values: [0.001, 0.002, 0.003, 0.004, 0.005, 0.006, 0.007, 0.008]}
  train.seed: {values: [1, 2]}
hpsweep:
  max_retries: 100
  base:
    model: {n_layer: 1, n_head: 2, d_model: 16, context_length: 16}
    train: {batch_size: 4, max_steps: 60, eval_interval: 20, eval_batches: 2, log_interval: 5,
            checkpoint_interval: 10}
"""

PROG_SPEC = """name: soakp
program: prog.sh
command: ["${program}", "${args}"]
method: grid
metric: {name: loss, goal: minimize}
parameters:
  x: {values: [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16]}
hpsweep:
  max_retries: 100
"""

# A program trial: 20 steps 30 ms apart, loss a function of x and the step only.
PROG = """#!/bin/sh
x=; for a in "$@"; do case $a in --x=*) x=${a#--x=};; esac; done
s=0
while [ $s -lt 20 ]; do
  echo "{\\"step\\": $s, \\"loss\\": $((x * 100 + s))}" >&$HPSWEEP_METRICS_FD
  sleep 0.03
  s=$((s + 1))
done
"""

ENV = {"HPS_LEASE_SECONDS": "1", "HPS_RECLAIM_MAX": "1000000", "HPS_TEST_STEP_DELAY_MS": "15"}
PER_ROUND = 50
TEMP_RE = re.compile(r"\.[A-Za-z0-9]{6}$|-journal$")


def proc_stat(pid):
    """(ppid, pgid, comm) of pid, or None when it is gone."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            s = f.read()
    except OSError:
        return None
    comm = s[s.index("(") + 1:s.rindex(")")]
    rest = s[s.rindex(")") + 2:].split()
    return int(rest[1]), int(rest[2]), comm


def procs_in(d):
    """Pids (not ours) whose working directory is d or below it."""
    out = []
    for e in os.listdir("/proc"):
        if not e.isdigit() or int(e) == os.getpid():
            continue
        try:
            cwd = os.readlink("/proc/%s/cwd" % e)
        except OSError:
            continue
        if cwd == d or cwd.startswith(d + "/"):
            out.append(int(e))
    return out


class Soak:
    def __init__(self, hps, root, rng):
        self.hps, self.root, self.rng = hps, root, rng
        self.kills = {}
        self.failures = []
        self.runners = [None, None]
        self.logs = []

    def total(self):
        return sum(self.kills.values())

    def fail(self, msg):
        print("FAIL: " + msg, flush=True)
        self.failures.append(msg)

    def start(self, d, spec, db, i):
        log = open(os.path.join(d, "runner%d.log" % i), "a")
        env = dict(os.environ, **ENV)
        return subprocess.Popen([self.hps, "run", spec, "-j", "2", "--db", db, "--quiet"], cwd=d, env=env,
                                stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def kill(self, kind, pid):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            return
        self.kills[kind] = self.kills.get(kind, 0) + 1

    def kill_one(self, program):
        """One kill of a random kind among what is running now."""
        live = [p for p in self.runners if p and p.poll() is None]
        if not live:
            return
        kinds = ["runner", "worker", "both", "group"] + (["program"] * 2 if program else [])
        kind = self.rng.choice(kinds)
        r = self.rng.choice(live)
        if kind == "both":
            for p in live:
                self.kill("both runners", p.pid)
        elif kind == "group":
            try:
                os.killpg(r.pid, signal.SIGKILL)
                self.kills["runner and its workers"] = self.kills.get("runner and its workers", 0) + 1
            except ProcessLookupError:
                pass
        elif kind == "runner":
            self.kill("runner", r.pid)
        else:
            kids = [q for q in procs_in(self.cur) if (proc_stat(q) or (0,))[0] == r.pid]
            if kind == "worker" and kids:
                self.kill("worker", self.rng.choice(kids))
            elif kind == "program":
                # a program trial leads its own process group, a child of a worker
                progs = [q for q in procs_in(self.cur)
                         if (st := proc_stat(q)) and st[1] == q and st[0] in kids]
                if progs:
                    try:
                        os.killpg(self.rng.choice(progs), signal.SIGKILL)
                        self.kills["program group"] = self.kills.get("program group", 0) + 1
                    except ProcessLookupError:
                        pass

    def reap(self):
        """Collect ended runners: 0 = finished, -9 = ours; anything else is a failure."""
        done = False
        for i, p in enumerate(self.runners):
            if p and p.poll() is not None:
                if p.returncode == 0:
                    done = True
                elif p.returncode != -signal.SIGKILL:
                    self.fail("round %s: runner exited %d (see %s/runner%d.log)" % (self.cur, p.returncode,
                                                                                    self.cur, i))
                self.runners[i] = None
        return done

    def round(self, n, spec, program, ref, target):
        d = os.path.join(self.root, "round%04d" % n)
        os.mkdir(d)
        self.cur = d
        shutil.copy(os.path.join(self.root, spec), d)
        if program:
            shutil.copy(os.path.join(self.root, "prog.sh"), d)
        db = "soak.db"
        while True:
            for i in range(2):
                if self.runners[i] is None:
                    self.runners[i] = self.start(d, spec, db, i)
            time.sleep(self.rng.uniform(0.02, 0.3))
            if self.total() < target:
                self.kill_one(program)
                time.sleep(0.005)
            else:  # no more kills: let the runners finish the sweep
                for p in self.runners:
                    p.wait()
            self.reap()
            if self.sweep_done(os.path.join(d, db)):
                break
        for p in self.runners:  # the other runner ends by itself: nothing is left to claim
            if p:
                try:
                    p.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    self.fail("round %s: a runner did not stop after the sweep finished" % d)
                    p.kill()
                    p.wait()
        self.reap()
        self.runners = [None, None]
        self.check(d, os.path.join(d, db), ref)

    def sweep_done(self, db):
        try:
            c = sqlite3.connect("file:%s?mode=ro" % db, uri=True, timeout=20)
            try:
                n, done = c.execute("SELECT count(*), sum(status = 'completed') FROM trials").fetchone()
            finally:
                c.close()
        except sqlite3.Error:
            return False
        return n > 0 and n == done

    def check(self, d, db, ref):
        c = sqlite3.connect(db, timeout=20)
        ok = c.execute("PRAGMA integrity_check").fetchone()[0]
        if ok != "ok":
            self.fail("%s: integrity_check: %s" % (db, ok))
        twice = c.execute("SELECT count(*) FROM (SELECT trial_id FROM events WHERE kind = 'complete' "
                          "GROUP BY trial_id HAVING count(*) != 1)").fetchone()[0]
        n, done = c.execute("SELECT count(*), sum(status = 'completed') FROM trials").fetchone()
        if twice or n != done:
            self.fail("%s: %d trials, %d completed, %d not completed exactly once" % (db, n, done, twice))
        got = results(c)
        c.close()
        if got != ref:
            bad = sorted(k for k in set(got) | set(ref) if got.get(k) != ref.get(k))
            self.fail("%s: results differ from the uninterrupted run in %d trials (idx %s)" % (db, len(bad),
                                                                                             bad[:8]))
        deadline = time.monotonic() + 10  # orphaned workers notice their runner is gone and stop
        while procs_in(d) and time.monotonic() < deadline:
            time.sleep(0.1)
        for q in procs_in(d):
            st = proc_stat(q)
            self.fail("%s: orphan process %d (%s)" % (d, q, st[2] if st else "?"))
            try:
                os.kill(q, signal.SIGKILL)
            except ProcessLookupError:
                pass
        for top, _, files in os.walk(d):
            for f in files:
                if TEMP_RE.search(f):
                    self.fail("%s: temporary file left: %s" % (d, os.path.join(top, f)))


def results(c):
    """idx -> (best, final, steps, metric rows but tokens_per_second): what must not depend on kills."""
    out = {}
    for idx, best, final, steps in c.execute("SELECT idx, best_metric, final_metric, steps FROM trials"):
        out[idx] = [best, final, steps]
    for idx, name, step, value in c.execute(
            "SELECT t.idx, m.name, m.step, m.value FROM metrics m JOIN trials t ON t.id = m.trial_id "
            "WHERE m.name != 'tokens_per_second' ORDER BY t.idx, m.name, m.step"):
        out[idx].append((name, step, value))
    return {k: tuple(v) for k, v in out.items()}


def reference(hps, root, spec):
    d = os.path.join(root, "ref_" + spec.split(".")[0])
    os.mkdir(d)
    shutil.copy(os.path.join(root, spec), d)
    shutil.copy(os.path.join(root, "prog.sh"), d)
    subprocess.run([hps, "run", spec, "-j", "2", "--db", "ref.db", "--quiet"], cwd=d, check=True,
                   stdout=subprocess.DEVNULL, env=dict(os.environ, HPS_LEASE_SECONDS="1"))
    c = sqlite3.connect(os.path.join(d, "ref.db"))
    r = results(c)
    c.close()
    return r


def main():
    if len(sys.argv) < 2 or sys.argv[1].startswith("-"):
        sys.exit(__doc__)
    hps = os.path.abspath(sys.argv[1])
    args = sys.argv[2:]
    target = 100 if "--quick" in args else 1000
    if "--kills" in args:
        target = int(args[args.index("--kills") + 1])
    seed = int(args[args.index("--seed") + 1]) if "--seed" in args else 1
    root = os.path.realpath(tempfile.mkdtemp(prefix="hps_soak_"))
    for name, text in (("train.yaml", TRAIN_SPEC), ("prog.yaml", PROG_SPEC), ("prog.sh", PROG)):
        with open(os.path.join(root, name), "w") as f:
            f.write(text)
    os.chmod(os.path.join(root, "prog.sh"), 0o755)
    t0 = time.monotonic()
    refs = {"train.yaml": reference(hps, root, "train.yaml"), "prog.yaml": reference(hps, root, "prog.yaml")}
    s = Soak(hps, root, random.Random(seed))
    rounds = 0
    while s.total() < target:
        spec = "train.yaml" if rounds % 2 == 0 else "prog.yaml"
        # at most PER_ROUND kills in one sweep, then it runs to the end: more sweeps checked
        s.round(rounds, spec, spec == "prog.yaml", refs[spec], min(target, s.total() + PER_ROUND))
        rounds += 1
        print("round %d (%s): %d kills so far, %.0f s" % (rounds, spec, s.total(), time.monotonic() - t0),
              flush=True)
    wall = time.monotonic() - t0
    trials = rounds * 16
    print("\n| soak (seed %d) | |\n|---|---|" % seed)
    print("| kills (SIGKILL) | %d in %.0f s |" % (s.total(), wall))
    for k in sorted(s.kills):
        print("| &nbsp; %s | %d |" % (k, s.kills[k]))
    print("| sweeps checked (trainer, program) | %d (%d, %d), %d trials |" % (rounds, (rounds + 1) // 2,
                                                                           rounds // 2, trials))
    print("| failed checks | %d |" % len(s.failures))
    if "--keep" in args or s.failures:
        print("kept: " + root)
    else:
        shutil.rmtree(root)
    sys.exit(1 if s.failures else 0)


if __name__ == "__main__":
    main()
