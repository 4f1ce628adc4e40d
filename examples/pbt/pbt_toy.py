#!/usr/bin/env python3
"""A program that population-based training can run (docs/pbt.md "Programs"): it checkpoints
into HPSWEEP_RUN_DIR, stops at HPSWEEP_STOP_STEP, and on every start reads its parameters
again (so a member resumed after copying another member's checkpoint trains with its new,
perturbed values). Standard library only.

The "training" is noisy gradient descent on loss(w) = (w - 3)^2 from w = 0:

    w <- w - lr * 2 (w - 3) + lr * noise * N(0, 1)     (the noise seeded by the step)

A large learning rate gets close fast but stays noisy; a small one is precise but slow: the
best schedule starts high and decays, which is what PBT's exploit and explore find.

Each step s (1 .. --steps) saves the checkpoint ckpt.json {"step", "w", "trained_by"} (the
HPSWEEP_TRIAL_ID that trained it) atomically, then reports {"step": s, "loss", "lr"}; the first
step after a resume also reports "resumed_from" (the checkpoint's trained_by) and
"resumed_step" (its step), so the lineage can be checked from the metrics alone.

    python3 pbt_toy.py --lr=0.1 --steps=40 --noise=0.3 [--sleep=SECONDS per step]
"""
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import hpsweep_client  # noqa: E402

args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
lr = float(args.get("lr", 0.1))
steps = int(args.get("steps", 40))
noise = float(args.get("noise", 0.3))
pause = float(args.get("sleep", 0))  # seconds per step (tests: a sweep that outlasts kills)
run_dir = os.environ.get("HPSWEEP_RUN_DIR", ".")
stop = int(os.environ.get("HPSWEEP_STOP_STEP", "0"))
me = int(os.environ.get("HPSWEEP_TRIAL_ID", "0"))
ckpt = os.path.join(run_dir, "ckpt.json")

state = {"step": 0, "w": 0.0, "trained_by": me}
resumed = os.path.exists(ckpt)
if resumed:
    with open(ckpt) as f:
        state = json.load(f)
origin = (state["trained_by"], state["step"])
w = state["w"]
for s in range(state["step"] + 1, steps + 1):
    rng = random.Random(s)
    w = w - lr * 2.0 * (w - 3.0) + lr * noise * rng.gauss(0.0, 1.0)
    tmp = ckpt + ".tmp"
    with open(tmp, "w") as f:
        json.dump({"step": s, "w": w, "trained_by": me}, f)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, ckpt)
    row = {"loss": (w - 3.0) ** 2, "lr": lr}
    if resumed:
        row.update(resumed_from=origin[0], resumed_step=origin[1])
        resumed = False
    hpsweep_client.log(row, step=s)
    time.sleep(pause)
    if s == stop:
        break
