#!/usr/bin/env python3
"""Sweeping external programs (issue 11): scheduler overhead, -j 2 scaling, metric ingestion.

usage: program_bench.py HPSWEEP [--baseline OTHER_HPSWEEP] [--quick] [--part 1,2,3] [--reps N]
                        [--no-python]

The speed bars of issue 11 in one command (parts 1 and 2, the /bin/sh program only):
    python3 bench/program_bench.py build/hpsweep --part 1,2 --no-python

1. Overhead: 500 trials at -j 1 of a program that reports one metric and exits
   (`printf '{"loss": 1}\\n' >&3` in /bin/sh, and the same in python3 unless --no-python).
   Wall time of `hpsweep run` / trials, and its CPU time (user + system of the runner, its
   workers and the programs, from getrusage of children) / trials. For comparison, the same
   program started 500 times straight from this script (posix_spawn/wait, fd 3 a pipe): its
   CPU time is the program's own, so CPU minus that is the engine's own CPU per trial, a
   figure a loaded machine changes much less than the wall time.
   Target: at most 10 ms per trial (fork/exec included).
2. Scaling: 40 trials of a program that sleeps 200 ms, at -j 1 and -j 2: trials/s.
   Target: -j 2 at least 1.9x -j 1.
3. Ingestion: one trial of a C program (clients/c/hpsweep_report.h, compiled with cc) writing
   1,000,000 rows (one metric per line) as fast as it can. Rows counted in the database /
   the trial's wall time (trials.ended - trials.started), and the program's own write time.
   Target: at least 100,000 rows/s.
With --baseline, parts 1 and 2 run OTHER_HPSWEEP (e.g. a build of an older commit) and
HPSWEEP alternately, rep by rep, and print both: a side-by-side comparison in one sitting.
Each measurement runs --reps times (default 3); medians. Only the standard library.
"""
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from sched_bench import cpu_children, q, run  # noqa: E402  (one home for running a sweep and one query)

HEADER = os.path.join(HERE, "..", "clients", "c", "hpsweep_report.h")

C_WRITER = r"""
#include <time.h>
#include "hpsweep_report.h"
int main(int argc, char **argv) {
  long n = argc > 1 ? atol(argv[1]) : 1000000;
  const char *names[] = {"loss"};
  struct timespec a, b;
  clock_gettime(CLOCK_MONOTONIC, &a);
  for (long i = 0; i < n; i++) {
    double v = 1.0 / (double)(i + 1);
    if (hpsweep_report(i, 1, names, &v) != 0) { perror("hpsweep_report"); return 1; }
  }
  clock_gettime(CLOCK_MONOTONIC, &b);
  double s = (double)(b.tv_sec - a.tv_sec) + 1e-9 * (double)(b.tv_nsec - a.tv_nsec);
  const char *dir = getenv("HPSWEEP_RUN_DIR");
  if (dir) {
    char path[4096];
    snprintf(path, sizeof path, "%s/write_seconds", dir);
    FILE *f = fopen(path, "w");
    if (f) { fprintf(f, "%.6f\n", s); fclose(f); }
  }
  return 0;
}
"""


def write(path, text, mode=None):
    with open(path, "w") as f:
        f.write(text)
    if mode:
        os.chmod(path, mode)


def spec(path, name, program, n, command=None):
    write(path, "name: %s\nprogram: %s\n%smethod: grid\nmetric: {name: loss, goal: minimize}\n"
          "parameters:\n  i: {values: [%s]}\n"
          % (name, program, "command: %s\n" % command if command else "",
             ", ".join(str(i) for i in range(n))))


def bare(argv, n):
    """Start ARGV n times, one at a time, fd 3 a pipe that is drained: seconds per start. Started
    with posix_spawn (vfork and exec: nothing of this process runs in the child), so the CPU
    time of these children is the program's own."""
    nul = os.open(os.devnull, os.O_RDWR)
    t = time.monotonic()
    for _ in range(n):
        r, w = os.pipe()
        pid = os.posix_spawn(argv[0], argv, os.environ,
                             file_actions=[(os.POSIX_SPAWN_DUP2, nul, 0), (os.POSIX_SPAWN_DUP2, nul, 1),
                                           (os.POSIX_SPAWN_DUP2, nul, 2), (os.POSIX_SPAWN_DUP2, w, 3)])
        os.close(w)
        while os.read(r, 65536):
            pass
        os.close(r)
        os.waitpid(pid, 0)
    os.close(nul)
    return (time.monotonic() - t) / n


def machine():
    model = "?"
    try:
        out = subprocess.run(["lscpu"], stdout=subprocess.PIPE, text=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except OSError:
        pass
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                text=True).stdout.strip() or "?"
    except OSError:
        commit = "?"
    return "%s, %d cores (nproc), commit %s" % (model, os.cpu_count(), commit)


def build_commit(exe):
    """The commit of the checkout a build directory's binary sits in (exe's dir or its parents)."""
    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=os.path.dirname(exe),
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                              text=True).stdout.strip() or "?"
    except OSError:
        return "?"


def load():
    return "%.2f %.2f %.2f" % os.getloadavg()


def intro():
    """The machine and its load, before a benchmark's first measurement."""
    print("machine: %s" % machine())
    print("load average at start: %s" % load())
    sys.stdout.flush()


def med(xs):
    return statistics.median(xs)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    hps = os.path.abspath(sys.argv[1])
    bins = {hps: "this build"}  # binary -> label, in the order each rep runs them
    if "--baseline" in sys.argv:
        base = os.path.abspath(sys.argv[sys.argv.index("--baseline") + 1])
        bins = {base: "baseline " + build_commit(base), hps: "this build " + build_commit(hps)}
    quick = "--quick" in sys.argv
    parts = {1, 2, 3}
    if "--part" in sys.argv:
        parts = {int(x) for x in sys.argv[sys.argv.index("--part") + 1].split(",")}
    reps = int(sys.argv[sys.argv.index("--reps") + 1]) if "--reps" in sys.argv else 3
    d = tempfile.mkdtemp(prefix="hps_program_bench_")
    rows = []
    intro()
    try:
        if 1 in parts:
            n = 50 if quick else 500
            write(os.path.join(d, "one.sh"), "printf '{\"loss\": 1}\\n' >&3\n", 0o755)
            write(os.path.join(d, "one.py"), "import os\nos.write(3, b'{\"loss\": 1}\\n')\n")
            # The spec's default command runs `/usr/bin/env one.sh` (the ${env} macro), so the
            # bare baseline does the same: /usr/bin/env, then /bin/sh (or python3).
            spec(os.path.join(d, "sh.yaml"), "sh", "one.sh", n)
            spec(os.path.join(d, "py.yaml"), "py", "one.py", n)
            kinds = (("sh", ["/usr/bin/env", os.path.join(d, "one.sh")]),
                     ("py", ["/usr/bin/env", "python3", os.path.join(d, "one.py")]))
            for kind, argv in kinds[:1] if "--no-python" in sys.argv else kinds:
                walls = {b: [] for b in bins}
                cpus = {b: [] for b in bins}
                bares, bcpus = [], []
                for r in range(reps):
                    for b in bins:
                        db = os.path.join(d, "%s%d_%d.db" % (kind, r, list(bins).index(b)))
                        cpu = []
                        walls[b].append(run(b, d, "%s.yaml" % kind, 1, db, cpu) / n)
                        cpus[b].append(cpu[0] / n)
                        done, = q(db, "SELECT count(*) FROM trials WHERE status = 'completed'")
                        if done != n:
                            sys.exit("%s: %d of %d trials completed" % (kind, done, n))
                    c0 = cpu_children()
                    bares.append(bare(argv, n))
                    bcpus.append((cpu_children() - c0) / n)
                    for b in bins:
                        print("  part 1 %s rep %d, %s: %.2f ms/trial wall, %.2f ms CPU (engine %.2f);"
                              " bare start %.2f ms wall, %.2f ms CPU; load %s"
                              % (kind, r + 1, bins[b], walls[b][-1] * 1e3, cpus[b][-1] * 1e3,
                                 (cpus[b][-1] - bcpus[-1]) * 1e3, bares[-1] * 1e3, bcpus[-1] * 1e3,
                                 load()))
                    sys.stdout.flush()
                bc = med(bcpus)
                label = "/bin/sh" if kind == "sh" else "python3 (stdlib)"
                for b in bins:
                    tag = "" if len(bins) == 1 else " [%s]" % bins[b]
                    rows.append(("%s: wall per trial, %d trials at -j 1%s" % (label, n, tag), "<= 10 ms",
                                 "%.2f ms (runs: %s)" % (med(walls[b]) * 1e3,
                                                         ", ".join("%.2f" % (x * 1e3) for x in walls[b]))))
                    rows.append(("%s: CPU per trial, all processes%s" % (label, tag), "",
                                 "%.2f ms" % (med(cpus[b]) * 1e3)))
                    rows.append(("%s: engine CPU per trial (CPU minus the bare program's)%s" % (label, tag), "",
                                 "%.2f ms" % ((med(cpus[b]) - bc) * 1e3)))
                rows.append(("%s: the same program started bare (posix_spawn/wait): wall / CPU" % label, "",
                             "%.2f ms / %.2f ms" % (med(bares) * 1e3, bc * 1e3)))
        if 2 in parts:
            n = 10 if quick else 40
            write(os.path.join(d, "nap.sh"), "sleep 0.2\nprintf '{\"loss\": 1}\\n' >&3\n", 0o755)
            spec(os.path.join(d, "nap.yaml"), "nap", "nap.sh", n)
            tps = {b: {1: [], 2: []} for b in bins}
            for r in range(reps):
                for b in bins:
                    for j in (1, 2):
                        db = os.path.join(d, "nap%d_%d_%d.db" % (j, r, list(bins).index(b)))
                        tps[b][j].append(n / run(b, d, "nap.yaml", j, db))
                    print("  part 2 rep %d, %s: %.2f trials/s at -j 1, %.2f at -j 2 (%.2fx), load %s"
                          % (r + 1, bins[b], tps[b][1][-1], tps[b][2][-1], tps[b][2][-1] / tps[b][1][-1],
                             load()))
                    sys.stdout.flush()
            for b in bins:
                tag = "" if len(bins) == 1 else " [%s]" % bins[b]
                ratios = [y / x for x, y in zip(tps[b][1], tps[b][2])]
                rows.append(("%d trials of 200 ms: trials/s at -j 1%s" % (n, tag), "",
                             "%.2f (ideal 5.00)" % med(tps[b][1])))
                rows.append(("%d trials of 200 ms: trials/s at -j 2%s" % (n, tag), "",
                             "%.2f (ideal 10.00)" % med(tps[b][2])))
                rows.append(("-j 2 / -j 1%s" % tag, ">= 1.9x", "%.2fx (runs: %s)"
                             % (med(ratios), ", ".join("%.2fx" % x for x in ratios))))
        if 3 in parts:
            n = 100000 if quick else 1000000
            cc = shutil.which("cc") or sys.exit("part 3 needs cc")
            src = os.path.join(d, "writer.c")
            write(src, C_WRITER)
            exe = os.path.join(d, "writer")
            subprocess.run([cc, "-O2", "-I", os.path.dirname(os.path.abspath(HEADER)), "-o", exe,
                            src, "-lm"], check=True)
            spec(os.path.join(d, "ingest.yaml"), "ingest", "writer", 1,
                 '["${program}", "%d"]' % n)
            rates, writes, walls, runs = [], [], [], []
            for r in range(reps):
                db = os.path.join(d, "ingest%d.db" % r)
                runs.append(run(hps, d, "ingest.yaml", 1, db))
                stored, = q(db, "SELECT count(*) FROM metrics")
                tid, wall = q(db, "SELECT hash, ended - started FROM trials")
                with open(os.path.join(db + ".runs", "ingest", tid, "write_seconds")) as f:
                    ws = float(f.read())
                if stored != n:
                    print("  warning: %d rows stored of %d written" % (stored, n))
                rates.append(stored / wall)
                writes.append(ws)
                walls.append(wall)
                print("  part 3 rep %d: %d rows stored, trial %.2f s (run %.2f s), %.0f rows/s;"
                      " program's write time %.2f s (%.0f rows/s), load %s"
                      % (r + 1, stored, wall, runs[-1], rates[-1], ws, n / ws, load()))
                sys.stdout.flush()
            rows.append(("%d rows from one C program: rows stored / trial wall time" % n,
                         ">= 100,000 rows/s", "{:,.0f} rows/s".format(med(rates))))
            rows.append(("trial wall time (ended - started) / whole `hpsweep run`", "",
                         "%.2f s / %.2f s" % (med(walls), med(runs))))
            rows.append(("the program's own write loop (blocked only while the pipe was full)",
                         "", "%.2f s ({:,.0f} rows/s)".format(n / med(writes)) % med(writes)))
    finally:
        shutil.rmtree(d, ignore_errors=True)
    print("load average at end: %s" % load())
    print()
    print("| measure (median of %d) | target | measured |" % reps)
    print("|---|---|---|")
    for r in rows:
        print("| %s | %s | %s |" % r)


if __name__ == "__main__":
    main()
