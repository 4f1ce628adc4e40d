#!/usr/bin/env bash
# Two builds' `hpsweep bench` back to back, alternating, so both see the same machine
# (issue 17: one thread pool, CPU dispatch). Prints each run's tokens/s and the median per
# build, shape and thread count, and the ratio NEW/BASE.
#   bench/ab_bench.sh BASE_BIN NEW_BIN [ROUNDS]      # default 5 rounds, --model all --threads all
#   bench/ab_bench.sh BASE_BIN NEW_BIN 1 --quick     # T only, 3 steps: numbers meaningless
# Extra environment for NEW only: NEW_ENV="OMP_WAIT_POLICY=passive" (e.g. to compare spinning).
set -euo pipefail
base=${1:?BASE_BIN} new=${2:?NEW_BIN} rounds=${3:-5}
args=(--model all --threads all --json)
[ "${4:-}" = --quick ] && args=(--model T --threads all --steps 3 --json)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
for ((r = 1; r <= rounds; r++)); do
  for who in base new; do
    bin=$base; envs=()
    if [ $who = new ]; then bin=$new; read -r -a envs <<< "${NEW_ENV:-}"; fi
    env "${envs[@]}" "$bin" bench "${args[@]}" 2>/dev/null | sed "s/^/$who /" | tee -a "$out"
  done
done
python3 - "$out" <<'PY'
import json, statistics, sys
runs = {}
for line in open(sys.argv[1]):
    who, _, js = line.partition(' ')
    try: d = json.loads(js)
    except ValueError: continue
    if 'tokens_per_s' not in d: continue
    runs.setdefault((d.get('model'), d.get('threads')), {}).setdefault(who, []).append(d['tokens_per_s'])
for (m, t), w in sorted(runs.items(), key=str):
    b, n = statistics.median(w.get('base', [0])), statistics.median(w.get('new', [0]))
    print(f"model {m} threads {t}: base {b:.0f} tok/s, new {n:.0f} tok/s, new/base {n / b if b else float('nan'):.2f}")
PY
