#!/bin/sh
# A shell program reporting through the metrics protocol with printf: "gradient
# descent" on loss(x) = (x - 2)^2 from --x=X0 with --lr=LR, one line per step.
#   sh report.sh --x=0 --lr=0.1
x=0 lr=0.1 steps=10
for a in "$@"; do
  case $a in
    --x=*) x=${a#--x=} ;;
    --lr=*) lr=${a#--lr=} ;;
    --steps=*) steps=${a#--steps=} ;;
  esac
done
fd=${HPSWEEP_METRICS_FD:-}
if [ -z "$fd" ]; then exec 9>/dev/null; fd=9; fi  # outside hpsweep: report nowhere
step=0
while [ "$step" -lt "$steps" ]; do
  loss=$(awk -v x="$x" 'BEGIN { printf "%.17g", (x - 2) ^ 2 }')
  printf '{"step": %d, "loss": %s, "x": %s}\n' "$step" "$loss" "$x" >&"$fd"
  x=$(awk -v x="$x" -v lr="$lr" 'BEGIN { printf "%.17g", x - lr * 2 * (x - 2) }')
  step=$((step + 1))
done
echo "final x $x loss $loss"
