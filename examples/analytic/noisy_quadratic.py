#!/usr/bin/env python3
"""A noisy training curve whose final loss is a quadratic in log10(learning rate).

    val_loss(step) = (log10(lr) - log10(3e-3))^2 + 1 / (1 + step) + noise * N(0, 1)
    The noise is seeded by --seed, so a trial is reproducible; the best lr is 3e-3
    (final loss near 1 / steps). Reports val_loss at every step.

    python3 noisy_quadratic.py --lr=0.001 --seed=1 --steps=20 --noise=0.05
"""
import math
import os
import random
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import hpsweep_client  # noqa: E402

args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
lr = float(args.get("lr", 1e-3))
steps = int(args.get("steps", 20))
noise = float(args.get("noise", 0.05))
rng = random.Random(int(args.get("seed", 0)))
base = (math.log10(lr) - math.log10(3e-3)) ** 2
for step in range(steps):
    loss = base + 1.0 / (1 + step) + noise * rng.gauss(0.0, 1.0)
    hpsweep_client.log({"val_loss": loss}, step=step)
print("lr %g: final val_loss %.6f" % (lr, loss))
