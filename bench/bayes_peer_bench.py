#!/usr/bin/env python3
"""The peers' own models on bayes_bench's objectives (issue 13: a bar the peers' model cannot
reach is reported measured side by side).

usage: bayes_peer_bench.py [--trials N] [--seeds S] [--functions branin,hartmann6] [--methods wandb,optuna,random]

wandb: W&B's bayes search as its sweeps package runs it (bayes_search.next_sample), written
here on scikit-learn: GaussianProcessRegressor(Matern(nu=1.5), n_restarts_optimizer=2,
alpha=1e-7, random_state=2) on y standardised (np.std + 1e-6), expected improvement over
1,000 uniform candidates in [0, 1]^d, a random candidate when the length scale is isclose to
a bound, a random point while fewer than 2 results; np.random seeded with the sweep seed.
optuna: TPESampler(multivariate=True, constant_liar=True, seed=SEED), the rest Optuna's
defaults. optuna-logpdf: the same with the truncated normal's log density divided by its
scale (- log sigma), which Optuna's _truncnorm.logpdf lacks before the release that added it
(Debian 12's Optuna 3.1.0 lacks it; Optuna 4's has it, as sweep/sw_tpe.c); optuna-logpdf-j2:
that with two workers of equal speed (each trial asked while the one before it runs, as
bayes_bench's -j 2). random: numpy uniform draws seeded with the sweep seed. Sequential (one trial at a
time) unless said. Prints, per function and method, the median simple regret over seeds 0 .. S-1 and
(wandb) the share of model proposals replaced by a random one at the length scale's bound.
Needs numpy, scikit-learn and optuna (Debian: python3-sklearn python3-optuna); not part of
the test suite.
"""
import inspect
import math
import sys
import warnings

import numpy as np
from scipy import stats
from sklearn import gaussian_process as skgp

ALPHA = (1.0, 1.2, 3.0, 3.2)
A = ((10, 3, 17, 3.5, 1.7, 8), (0.05, 10, 17, 0.1, 8, 14),
     (3, 3.5, 1.7, 10, 17, 8), (17, 8, 0.05, 10, 0.1, 14))
P = ((0.1312, 0.1696, 0.5569, 0.0124, 0.8283, 0.5886), (0.2329, 0.4135, 0.8307, 0.3736, 0.1004, 0.9991),
     (0.2348, 0.1451, 0.3522, 0.2883, 0.3047, 0.6650), (0.4047, 0.8828, 0.8732, 0.5743, 0.1091, 0.0381))


def hartmann6(u):
    return -sum(ALPHA[i] * math.exp(-sum(A[i][j] * (u[j] - P[i][j]) ** 2 for j in range(6))) for i in range(4))


def branin(u):
    x1, x2 = -5 + 15 * u[0], 15 * u[1]
    b, c, t = 5.1 / (4 * math.pi ** 2), 5 / math.pi, 1 / (8 * math.pi)
    return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * math.cos(x1) + 10


FUNCS = {"branin": (branin, 2, 0.397887357729738), "hartmann6": (hartmann6, 6, -3.32237)}


def wandb_next(X, y, d):
    """One proposal of W&B's model; returns (point, at_bound)."""
    if len(y) < 2:
        return np.random.uniform(size=d), False
    gp = skgp.GaussianProcessRegressor(kernel=skgp.kernels.Matern(nu=1.5), n_restarts_optimizer=2, alpha=1e-7,
                                       random_state=2)
    y = np.asarray(y)
    mean, std = np.mean(y), np.std(y) + 1e-6
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        gp.fit(np.asarray(X), (y - mean) / std)
    test = np.random.uniform(size=(1000, d))
    mu, cov = gp.predict(test, return_cov=True)
    sd = np.sqrt(np.diag(cov))
    best = (np.min(y) - mean) / std
    z = -(mu - best) / (sd + 1e-6)
    ei = -(mu - best) * stats.norm.cdf(z) + sd * stats.norm.pdf(z)
    j = int(np.argmax(ei))
    close = np.isclose(gp.kernel_.bounds, np.atleast_2d(gp.kernel_.theta).T)
    at_bound = bool(close.any())
    if at_bound:
        j = np.random.randint(0, test.shape[0] - 1)
    return test[j], at_bound


def run_wandb(f, d, trials, seed):
    np.random.seed(seed)
    X, y, bound, model = [], [], 0, 0
    for _ in range(trials):
        x, b = wandb_next(X, y, d)
        model += len(y) >= 2
        bound += b
        X.append(x)
        y.append(f(x))
    return min(y), bound, model


def run_optuna(f, d, trials, seed, fix_logpdf=False, two=False):
    import optuna
    from optuna.samplers._tpe import _truncnorm
    if not hasattr(_truncnorm, "_hps_logpdf"):
        _truncnorm._hps_logpdf = _truncnorm.logpdf
    if fix_logpdf and "np.log(scale)" not in inspect.getsource(_truncnorm._hps_logpdf):
        _truncnorm.logpdf = lambda x, a, b, loc=0, scale=1: _truncnorm._hps_logpdf(x, a, b, loc, scale) - np.log(scale)
    else:
        _truncnorm.logpdf = _truncnorm._hps_logpdf
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        s = optuna.samplers.TPESampler(multivariate=True, constant_liar=True, seed=seed)
        st = optuna.create_study(sampler=s)
        if not two:
            st.optimize(lambda t: f([t.suggest_float("x%d" % j, 0, 1) for j in range(d)]), n_trials=trials)
            return st.best_value, 0, 0
        # Two workers of equal speed (bayes_bench's -j 2): trial k is asked while k - 1 runs.
        run = None
        for _ in range(trials):
            t = st.ask()
            x = [t.suggest_float("x%d" % j, 0, 1) for j in range(d)]
            if run:
                st.tell(run[0], f(run[1]))
            run = (t, x)
        st.tell(run[0], f(run[1]))
    return st.best_value, 0, 0


def run_random(f, d, trials, seed):
    rng = np.random.RandomState(seed)
    return min(f(rng.uniform(size=d)) for _ in range(trials)), 0, 0


def arg(name, default):
    return sys.argv[sys.argv.index(name) + 1] if name in sys.argv else default


def main():
    trials, seeds = int(arg("--trials", 50)), int(arg("--seeds", 20))
    funcs = arg("--functions", "branin,hartmann6").split(",")
    methods = arg("--methods", "random,wandb,optuna").split(",")
    runners = {"wandb": run_wandb, "optuna": run_optuna, "random": run_random,
               "optuna-logpdf": lambda f, d, t, s: run_optuna(f, d, t, s, True),
               "optuna-logpdf-j2": lambda f, d, t, s: run_optuna(f, d, t, s, True, True)}
    print("%d trials x sweep seeds 0-%d, sequential; median simple regret" % (trials, seeds - 1))
    print("| function | method | median regret | x random | at bound (of model proposals) | per seed |")
    print("|---|---|---|---|---|---|")
    for fn in funcs:
        f, d, fmin = FUNCS[fn]
        base = None
        for m in methods:
            res = [runners[m](f, d, trials, s) for s in range(seeds)]
            reg = [r[0] - fmin for r in res]
            med = float(np.median(reg))
            if m == "random":
                base = med
            bound, model = sum(r[1] for r in res), sum(r[2] for r in res)
            print("| %s | %s | %.4g | %s | %s | %s |" % (
                fn, m, med, "%.1fx" % (base / med) if base else "", "%d / %d" % (bound, model) if model else "",
                " ".join("%.3g" % r for r in reg)))
            sys.stdout.flush()


if __name__ == "__main__":
    main()
