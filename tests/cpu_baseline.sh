#!/usr/bin/env bash
# The build runs on an x86-64 CPU without AVX: a tiny `hpsweep train` under qemu-user emulating
# a Nehalem (SSE4.2, no AVX/AVX2/FMA) must finish, and with HPSWEEP_CPU=v3 asked for too (a
# level the CPU lacks is ignored, not a SIGILL); its loss must be close to the native run's
# (OpenBLAS picks other sgemm kernels on that CPU, so not necessarily bit-equal).
# Needs qemu-x86_64 (Debian: qemu-user): skipped without it, except in CI (a failure).
set -euo pipefail
: "${HPS_BIN:?HPS_BIN must name the hpsweep binary}"
if ! command -v qemu-x86_64 >/dev/null; then
  if [ "${CI:-}" = true ]; then echo "cpu_baseline: qemu-x86_64 missing in CI" >&2; exit 1; fi
  echo "cpu_baseline: qemu-x86_64 not installed: skipped"; exit 77
fi
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
cd "$dir"
args=(train --set train.max_steps=2 --set train.batch_size=4 --set train.eval_interval=2
      --set train.eval_batches=1 --set data.synthetic_bytes=20000 --set train.threads=2 --json)
loss_of() { sed -n 's/.*"final_train_loss": \([0-9.eE+-]*\).*/\1/p' "$1"; }
"$HPS_BIN" "${args[@]}" > native.json 2>/dev/null
qemu-x86_64 -cpu Nehalem "$HPS_BIN" "${args[@]}" > nehalem.json 2>/dev/null
HPSWEEP_CPU=v3 qemu-x86_64 -cpu Nehalem "$HPS_BIN" "${args[@]}" > forced.json 2>/dev/null
a=$(loss_of native.json) b=$(loss_of nehalem.json) c=$(loss_of forced.json)
echo "final train loss: native $a, Nehalem $b, Nehalem with HPSWEEP_CPU=v3 $c"
awk -v a="$a" -v b="$b" -v c="$c" 'BEGIN {
  ok = a > 0 && b > 0 && c == b && (a - b) ^ 2 <= (1e-4 * a) ^ 2
  exit ok ? 0 : 1 }' || { echo "cpu_baseline: losses differ or missing" >&2; exit 1; }
