#!/usr/bin/env python3
"""Hartmann-6: a 6-D test objective with several local minima, reported as `loss`.

    f(x) = -sum_i alpha_i exp(-sum_j A_ij (x_j - P_ij)^2), x in [0, 1]^6.
    Global minimum -3.32237 at (0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573).

    python3 hartmann6.py --x1=0.2 --x2=0.15 --x3=0.48 --x4=0.28 --x5=0.31 --x6=0.66
"""
import math
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "clients", "python"))
import hpsweep_client  # noqa: E402

ALPHA = (1.0, 1.2, 3.0, 3.2)
A = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14),
     (3, 3.5, 1.7, 10, 17, 8), (17, 8, 0.05, 10, 0.1, 14))
P = ((0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886), (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
     (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650), (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381))

args = dict(a[2:].split("=", 1) for a in sys.argv[1:] if a.startswith("--") and "=" in a)
x = [float(args.get("x%d" % (j + 1), 0.5)) for j in range(6)]
loss = -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (x[j] - P[i][j]) ** 2 for j in range(6))) for i in range(4))
hpsweep_client.log({"loss": loss}, step=0)
print("hartmann6(%s) = %.6f" % (", ".join("%g" % v for v in x), loss))
