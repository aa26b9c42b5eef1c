"""Benchmark 1: linear-probe fit, ``LinearProbe`` versus scikit-learn's ``LogisticRegression``.

Ours: ``ssltheory.ssl.probes.LinearProbe(weight_decay=lam)``, one fixed weight decay (no grid, no
validation split): full-batch multinomial logistic regression on standardised features, objective
``mean_i CE_i + lam / 2 * ||W||_F^2`` (bias not penalised).

Baseline: what a scikit-learn user writes, ``make_pipeline(StandardScaler(),
LogisticRegression(solver="lbfgs", C=C, max_iter=1000))``. Mapping of the regularisation:
scikit-learn minimises ``C * sum_i CE_i + 1/2 * ||W||^2`` (intercept not penalised); dividing by
``C * n`` gives ``mean_i CE_i + 1 / (2 C n) * ||W||^2``, the same objective as ours exactly when
``C = 1 / (lam * n)`` with n the number of training rows. Both standardise with the training
mean and the population standard deviation, so both solve the same convex problem, and both run
to their default tolerance (1e-4 on the gradient); ``max_iter`` is raised from scikit-learn's 100
to 1000 so that it converges (whether it did is in ``details``).

Features: synthetic Gaussian mixture, float32, 20,000 training and 5,000 test rows, d = 512, with
10 and 100 classes (classes drawn uniformly). Each row is (class mean + isotropic noise), then
multiplied by a power-law spectrum (scale of direction j proportional to (j + 1)^-1/2) and a
random rotation, so that the covariance is anisotropic like real SSL features (RankMe-style
decaying spectra); standardising per coordinate does not undo the rotation.

Row: ``ratio = baseline_s / ours_s`` (a speed-up), target ``>= 5`` *and* test accuracies within
0.5 points (both accuracies in ``details``). One timed call = one ``fit`` on the training rows.
"""

from __future__ import annotations

import warnings

import numpy as np

from ssltheory.benchmarks.harness import (
    SPEEDUP,
    BenchConfig,
    Row,
    error_row,
    median,
    pending_row,
    speedup_row,
    spread,
    time_alternately,
)

NAME = "probe"
TARGET = 5.0
MAX_ACCURACY_GAP = 0.5  # percentage points
WEIGHT_DECAY = 1e-4  # the middle of docs/REFERENCE.md's grid {1e-4, 1e-5, 1e-6}


def gaussian_mixture(n_train: int, n_test: int, dim: int, n_classes: int, separation: float, seed: int):
    """(X_train, y_train, X_test, y_test): float32 (n, dim) features, int64 (n,) labels; see the
    module docstring for the construction."""
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(n_classes, dim)) * separation
    spectrum = (1.0 + np.arange(dim)) ** -0.5
    rotation, _ = np.linalg.qr(rng.normal(size=(dim, dim)))
    n = n_train + n_test
    y = rng.integers(n_classes, size=n)
    X = ((means[y] + rng.normal(size=(n, dim))) * spectrum) @ rotation.T
    X = X.astype(np.float32)
    return X[:n_train], y[:n_train], X[n_train:], y[n_train:]


def sklearn_probe(weight_decay: float, n_train: int, max_iter: int = 1000):
    """StandardScaler + lbfgs LogisticRegression with C = 1 / (weight_decay * n_train)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(
        StandardScaler(),
        LogisticRegression(C=1.0 / (weight_decay * n_train), solver="lbfgs", max_iter=max_iter, tol=1e-4),
    )


#: (row name, classes, separation of the class means) ; separations give test accuracies far from 0 and 1
CASES = (("probe_fit_10_classes", 10, 0.08), ("probe_fit_100_classes", 100, 0.12))


def run(config: BenchConfig) -> list[Row]:
    """The rows of this benchmark (see the module docstring) that ``config`` keeps."""
    target = f">= {TARGET:g}"
    cases = [c for c in CASES if config.wants(c[0])]
    try:
        from ssltheory.ssl.probes import LinearProbe
    except ImportError as exc:
        return [pending_row(name, SPEEDUP, target, f"ours not importable yet: {exc}") for name, _, _ in cases]
    n_train, n_test, dim = (2000, 500, 64) if config.quick else (20000, 5000, 512)
    repeats = config.rounds(2, 3)
    rows = []
    for name, k, sep in cases:
        try:
            rows.append(_compare(name, LinearProbe, n_train, n_test, dim, k, sep, repeats, config.seed))
        except Exception as exc:  # one failure must not hide the other rows
            rows.append(error_row(name, SPEEDUP, target, exc))
    return rows


def _compare(name, LinearProbe, n_train, n_test, dim, k, sep, repeats, seed) -> Row:
    from sklearn.exceptions import ConvergenceWarning

    X, y, X_test, y_test = gaussian_mixture(n_train, n_test, dim, k, sep * (512 / dim) ** 0.5, seed)
    fitted = {}
    warned = []

    def ours():
        fitted["ours"] = LinearProbe(weight_decay=WEIGHT_DECAY).fit(X, y)

    def baseline():
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            fitted["baseline"] = sklearn_probe(WEIGHT_DECAY, n_train).fit(X, y)
        warned.extend(w for w in caught if issubclass(w.category, ConvergenceWarning))

    # warm-up on a slice (code paths, allocator), then the timed rounds on the full data
    small = slice(0, min(len(X), 50 * k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        LinearProbe(weight_decay=WEIGHT_DECAY, max_iter=5).fit(X[small], y[small])
        sklearn_probe(WEIGHT_DECAY, small.stop, max_iter=5).fit(X[small], y[small])
    ours_t, base_t = time_alternately(ours, baseline, repeats=repeats, warmup=0)

    acc_ours = 100 * fitted["ours"].score(X_test, y_test)
    acc_base = 100 * fitted["baseline"].score(X_test, y_test)
    gap = acc_ours - acc_base
    objective_ours = _objective(fitted["ours"].coef_, fitted["ours"].intercept_, X, y, WEIGHT_DECAY)
    scaler, lr = fitted["baseline"][0], fitted["baseline"][-1]
    coef_raw = lr.coef_ / scaler.scale_
    objective_base = _objective(coef_raw, lr.intercept_ - coef_raw @ scaler.mean_, X, y, WEIGHT_DECAY)
    details = {
        "call": "fit on the training rows (standardisation included on both sides)",
        "features": f"synthetic Gaussian mixture, power-law spectrum, random rotation; float32; "
        f"{n_train} train / {n_test} test rows, d = {dim}, {k} classes",
        "weight_decay": WEIGHT_DECAY,
        "sklearn_C": 1.0 / (WEIGHT_DECAY * n_train),
        "mapping": "C = 1 / (weight_decay * n_train)",
        "baseline": "StandardScaler + LogisticRegression(solver='lbfgs', tol=1e-4, max_iter=1000)",
        "test_accuracy_ours": acc_ours,
        "test_accuracy_sklearn": acc_base,
        "accuracy_gap_points": gap,
        "objective_ours": objective_ours,
        "objective_sklearn": objective_base,
        "iterations_ours": fitted["ours"].n_iter_.get(WEIGHT_DECAY),
        "iterations_sklearn": int(np.max(lr.n_iter_)),
        "sklearn_convergence_warnings": len(warned),
        "ours_timings": spread(ours_t),
        "baseline_timings": spread(base_t),
    }
    return speedup_row(
        name,
        median(ours_t),
        median(base_t),
        TARGET,
        details,
        extra_ok=abs(gap) <= MAX_ACCURACY_GAP,
        extra_target=f"|accuracy gap| <= {MAX_ACCURACY_GAP:g} points",
    )


def _objective(coef, intercept, X, y, lam) -> float:
    """The shared objective, mean CE + lam/2 ||W_std||^2, in float64, of a probe given in raw
    feature units (coef (k, d), intercept (k,)); W_std = coef * (population std of each feature)
    are the weights on standardised features, the ones both sides penalise."""
    X = X.astype(np.float64)
    logits = X @ coef.T + intercept
    logits -= logits.max(1, keepdims=True)
    lse = np.log(np.exp(logits).sum(1))
    ce = float(np.mean(lse - logits[np.arange(len(y)), np.searchsorted(np.unique(y), y)]))
    std = X.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return ce + 0.5 * lam * float(((coef * std) ** 2).sum())
