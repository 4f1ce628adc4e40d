#!/usr/bin/env python3
"""Branin-Hoo: a 2-D test objective for search methods, reported as `loss`.

    f(x1, x2) = (x2 - 5.1/(4 pi^2) x1^2 + 5/pi x1 - 6)^2 + 10 (1 - 1/(8 pi)) cos(x1) + 10
    on x1 in [-5, 10], x2 in [0, 15]. Global minimum 0.397887 at (-pi, 12.275),
    (pi, 2.275) and (9.42478, 2.475).

    python3 branin.py --x1=3.14159 --x2=2.275
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import hpsweep_client  # noqa: E402

args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
x1, x2 = float(args.get("x1", 0.0)), float(args.get("x2", 0.0))
b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
loss = (x2 - b * x1 ** 2 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10
hpsweep_client.log({"loss": loss}, step=0)
print("branin(%g, %g) = %.6f" % (x1, x2, loss))
