#!/usr/bin/env python3
"""W&B's hyperband stopping rule (wandb/sweeps, hyperband_stopping.py, current version), restated
step by step with W&B's own arithmetic (Python floats, int(), sorted()) as the reference the C
implementation (sweep/sw_prune.c) is compared with by tests/test_sw_prune.c.

usage: wandb_hyperband_ref.py CASES.txt
Each case: a line "case MIN_ITER MAX_ITER S ETA STRICT MAXIMIZE" (0: not given), then one line
per run "STATE v1 v2 ..." (STATE running or finished), then "end". Prints, per case, one line:
the indices of the runs W&B stops, space-separated (empty line if none).
"""
import sys


def bands_of(min_iter, max_iter, s, eta):
    bands = []
    if max_iter:
        band = max_iter
        for _ in range(s):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        return sorted(bands)
    band = min_iter
    for _ in range(100):
        bands.append(int(band))
        band *= eta
    return bands


def stop(case, runs):
    min_iter, max_iter, s, eta, strict, maximize = case
    bands = bands_of(min_iter, max_iter, s, eta)
    r = 1.0 / eta
    histories = [[-x for x in h] if maximize else list(h) for _, h in runs]
    thresholds = []
    for band in bands:
        values = [h[band - 1] for h in histories if len(h) >= band]
        thresholds.append(sorted(values)[int(r * len(values))] if values else float("inf"))
    out = []
    for i, (state, _) in enumerate(runs):
        if state != "running":
            continue
        h = histories[i]
        closest, threshold = -1, 0.0
        for band, t in zip(bands, thresholds):
            if band <= len(h):
                closest, threshold = band, t
            else:
                break
        if closest == -1:
            continue
        value = h[closest - 1] if strict else min(h)
        if value > threshold:
            out.append(i)
    return out


def main():
    case, runs = None, []
    with open(sys.argv[1]) as f:
        for line in f:
            w = line.split()
            if not w:
                continue
            if w[0] == "case":
                case = (int(w[1]), int(w[2]), int(w[3]), float(w[4]), w[5] == "1", w[6] == "1")
                runs = []
            elif w[0] == "end":
                print(" ".join(str(i) for i in stop(case, runs)))
            else:
                runs.append((w[0], [float(x) for x in w[1:]]))


if __name__ == "__main__":
    main()
