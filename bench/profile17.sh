#!/bin/sh
# profile17.sh: where a training step's time goes, by kernel (issue 17), from perf samples.
#
#   bench/profile17.sh [--hpsweep build/hpsweep] [--shapes T,S] [--threads 1,2]
#                      [--steps-T 30] [--steps-S 8] [--freq 499] [--keep DIR] [--quick]
#   bench/profile17.sh --analyse DIR [--shapes ...] [--threads ...]   # again from a --keep DIR
#
# For each (shape, threads) it runs `hpsweep bench --model SHAPE --threads N --steps K` under
# `perf record -e cpu-clock --call-graph dwarf` (software clock: works in a VM; DWARF unwinding:
# the release build has no frame pointers, OpenBLAS's kernels have unwind tables but for
# sgemm_beta), then reads `perf script` and puts each on-CPU sample of the training process
# (the forked child running tr_bench_train; the sgemm 1024^3 child and model set-up are left out)
# in the first category found walking its stack from the leaf up:
#
#   attention      a frame matching attention|attn|softmax|flash (its share of OpenBLAS beside it)
#   LayerNorm      layernorm|layer_norm          GELU        gelu
#   cross-entropy  crossentropy|cross_entropy|xent
#   optimizer      tr_optim|adamw|grad_clip|grad_global_norm (clipping counts as the optimizer)
#   sgemm          no category above, an OpenBLAS frame in the stack: the linear layers, the
#                  LM head and their backward (tr_matmul_*), and all of OpenBLAS's worker threads'
#                  compute (their stacks do not show the caller, attention's products included)
#   waiting        a worker thread (not the main one) with no kernel of ours or OpenBLAS compute
#                  in its stack: OpenBLAS or OpenMP threads spinning or yielding between calls
#   other          the rest: embeddings, zero_grad's memset, copies, page faults, the loop;
#                  its top symbols are listed under the table
#
# Samples are CPU time (cpu-clock only counts threads on a CPU), so at 2 threads the shares add
# both cores; "cores busy" = on-CPU samples / (span of the training process's samples x freq).
# Proportions hold under load; absolute times need a quiet machine. Needs perf (Debian:
# linux-perf) and kernel.perf_event_paranoid <= 2 (user-space samples of own processes).
# Prints one Markdown table (docs/performance.md has the one measured before issue 17's kernels).
# --quick: T only at 1 and 2 threads, 3 steps, to show the script works (a minute, numbers rough).
set -eu

HPS=build/hpsweep SHAPES=T,S THREADS=1,2 STEPS_T=30 STEPS_S=8 FREQ=499 KEEP="" ANALYSE=""
while [ $# -gt 0 ]; do
  case "$1" in
    --hpsweep) HPS=$2; shift 2 ;;
    --shapes) SHAPES=$2; shift 2 ;;
    --threads) THREADS=$2; shift 2 ;;
    --steps-T) STEPS_T=$2; shift 2 ;;
    --steps-S) STEPS_S=$2; shift 2 ;;
    --freq) FREQ=$2; shift 2 ;;
    --keep) KEEP=$2; shift 2 ;;
    --analyse) ANALYSE=$2 KEEP=$2; shift 2 ;;
    --quick) SHAPES=T STEPS_T=3; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "profile17.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
[ -z "$ANALYSE" ] || [ -d "$ANALYSE" ] || { echo "profile17.sh: --analyse $ANALYSE: no such directory" >&2; exit 2; }
command -v perf >/dev/null || { echo "profile17.sh: perf not found (apt-get install linux-perf)" >&2; exit 2; }
[ -n "$ANALYSE" ] || [ -x "$HPS" ] || { echo "profile17.sh: $HPS is not an executable (build first, or --hpsweep PATH)" >&2; exit 2; }
DIR=${KEEP:-$(mktemp -d /tmp/profile17.XXXXXX)}
mkdir -p "$DIR"
rm -f "$DIR/rows.md" "$DIR/other.txt"
[ -n "$KEEP" ] || trap 'rm -rf "$DIR"' EXIT

[ -n "$ANALYSE" ] || echo "commit $(git -C "$(dirname "$0")" rev-parse --short HEAD 2>/dev/null || echo unknown)," \
  "$(lscpu | sed -n 's/^Model name: *//p'), $(nproc) CPUs," \
  "load average $(cut -d' ' -f1-3 /proc/loadavg) at the start, perf cpu-clock at $FREQ Hz" >"$DIR/header.txt"
cat "$DIR/header.txt"
echo
echo "| shape | threads | tok/s (under perf) | samples | cores busy | sgemm | attention (its sgemm) | LayerNorm | GELU | cross-entropy | optimizer | other | waiting |"
echo "|---|---|---|---|---|---|---|---|---|---|---|---|---|"
for m in $(echo "$SHAPES" | tr , ' '); do
  for t in $(echo "$THREADS" | tr , ' '); do
    if [ "$m" = T ]; then steps=$STEPS_T; else steps=$STEPS_S; fi
    data="$DIR/$m-$t.data"
    [ -z "$ANALYSE" ] && perf record -q -e cpu-clock -F "$FREQ" --call-graph dwarf,32768 -o "$data" -- \
      "$HPS" bench --model "$m" --threads "$t" --steps "$steps" >"$DIR/$m-$t.bench" 2>&1
    [ -z "$ANALYSE" ] && perf script --no-inline -i "$data" -F comm,pid,tid,time,ip,sym,dso 2>/dev/null >"$DIR/$m-$t.txt"
    python3 - "$DIR/$m-$t.txt" "$m" "$t" "$FREQ" "$DIR/$m-$t.bench" >>"$DIR/rows.md" <<'EOF'
import collections, re, sys

path, shape, threads, freq = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
toks = re.findall(r"threads \d+: +(\d+) tokens/s", open(sys.argv[5]).read())
CATS = [("attention", r"attention|attn|softmax|flash"), ("LayerNorm", r"layernorm|layer_norm"),
        ("GELU", r"gelu"), ("cross-entropy", r"crossentropy|cross_entropy|xent"),
        ("optimizer", r"tr_optim|adamw|grad_clip|grad_global_norm")]
BLAS_COMPUTE = re.compile(r"sgemm|gemm_|_kernel|copy|beta")
samples = []  # (pid, tid, time, [(sym, dso)])
for blk in open(path, errors="replace").read().split("\n\n"):
    lines = [l.strip() for l in blk.strip().split("\n") if l.strip()]
    if len(lines) < 2:
        continue
    h = re.search(r"(\d+)/(\d+)\s+([\d.]+):", lines[0])
    if not h:
        continue
    frames = []
    for l in lines[1:]:
        f = re.match(r"[0-9a-f]+\s+(.*?)\s+\((.*)\)$", l)
        if f:
            frames.append((f.group(1).split("+0x")[0], f.group(2)))
    samples.append((h.group(1), h.group(2), float(h.group(3)), frames))
# the training process: the one whose stacks run the step (tr_bench_train, or a kernel of the
# model when a deep stack was cut short; the sgemm 1024^3 child runs none of them)
STEP = re.compile(r"^(tr_bench_train|tr_model_|tr_attn_|attn_|tr_layernorm|tr_gelu|tr_optim)")
train = {p for p, _, _, fr in samples if any(STEP.match(s) for s, _ in fr)}
count, other, worker = collections.Counter(), collections.Counter(), collections.Counter()
att_blas, t0, t1 = 0, None, None
for pid, tid, tm, fr in samples:
    if pid not in train:
        continue
    syms = [s for s, _ in fr]
    if any(re.search(r"tr_model_init|tr_model_create|tr_bench_shape", s) for s in syms):
        continue  # set-up, not the step
    t0 = tm if t0 is None else min(t0, tm)
    t1 = tm if t1 is None else max(t1, tm)
    blas = False
    cat = None
    for s, dso in fr:
        if "openblas" in dso and BLAS_COMPUTE.search(s):
            blas = True
        for name, rx in CATS:
            if re.search(rx, s.lower()):
                cat = name
                break
        if cat:
            break
    if cat == "attention" and blas:
        att_blas += 1
    if cat is None:
        if blas or (fr and "openblas" in fr[0][1] and BLAS_COMPUTE.search(fr[0][0])):
            cat = "sgemm"
        elif tid != pid:
            cat = "waiting"
        else:
            cat = "other"
            other[fr[0][0] if fr else "?"] += 1
    count[cat] += 1
    if tid != pid:
        worker[cat] += 1
n = sum(count.values()) or 1
pc = lambda k: "%.1f%%" % (100.0 * count[k] / n)
busy = n / ((t1 - t0) * freq) if t1 and t1 > t0 else 0.0
print("| %s | %s | %s | %d | %.2f | %s | %s (%.1f%%) | %s | %s | %s | %s | %s | %s |" %
      (shape, threads, toks[-1] if toks else "?", n, busy, pc("sgemm"), pc("attention"), 100.0 * att_blas / n, pc("LayerNorm"),
       pc("GELU"), pc("cross-entropy"), pc("optimizer"), pc("other"), pc("waiting")), file=sys.stdout)
top = ", ".join("%s %.1f%%" % (s, 100.0 * c / n) for s, c in other.most_common(6))
wn = sum(worker.values())
wk = "" if not wn else "; worker threads: %.1f%% of all samples (%s)" % (
    100.0 * wn / n, ", ".join("%s %.1f%%" % (k, 100.0 * c / n) for k, c in worker.most_common()))
print("- %s at %s thread%s, other: %s%s" % (shape, threads, "s" if threads != "1" else "", top or "-", wk),
      file=sys.stderr)
EOF
  done
done 2>"$DIR/other.txt"
cat "$DIR/rows.md"
echo
cat "$DIR/other.txt"
