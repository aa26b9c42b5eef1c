"""The field's protocol for judging label-free scores: rank correlation and selection regret.

A label-free score is useful to a practitioner if, among trained runs, it ranks them as their
linear-probe accuracy does and, above all, if the run it selects is (nearly) the best one. The
literature reports three numbers, each computed within a group of runs and averaged over groups:

- Spearman's rho and Kendall's tau-b between score and accuracy (RankMe, LiDAR, IdEst);
- selection regret: accuracy of the best run of the group minus accuracy of the run the score
  selects (its largest value), in points (LiDAR reports mean and worst over its sweeps).

Two groupings are in use: within each method's hyper-parameter sweep (LiDAR, Thilak et al., ICLR
2024) and across methods on one dataset (IdEst, ICML 2026). `group_metrics` computes the three
numbers for any grouping (an array of group labels), `bootstrap_protocol` their percentile
intervals over runs (runs resampled with replacement within each group) and, for a headline
score, the paired-bootstrap share of resamples in which it beats each baseline (the same resample
for both scores; "beats" = strictly higher rank correlation, strictly lower regret).

Scores are taken as given: larger must mean "predicted more accurate" (orient them first).
Runs whose score is NaN are left out of that score's numbers. Only numpy: a theory room.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
from scipy.stats import rankdata

from ssltheory.errors import InputError

__all__ = [
    "HIGHER_IS_BETTER",
    "METRICS",
    "bootstrap_protocol",
    "group_metrics",
    "kendall_tau_b",
    "selection_regret",
    "spearman",
]

#: the protocol's numbers, as keys of `group_metrics`; regret is in points, lower is better
METRICS = ("spearman", "kendall", "regret", "worst_regret")
#: whether larger is better, per metric
HIGHER_IS_BETTER = {"spearman": True, "kendall": True, "regret": False, "worst_regret": False}


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise InputError(f"score and accuracy must be 1-D arrays of one length, got shapes {x.shape} and {y.shape}")
    ok = np.isfinite(x) & np.isfinite(y)
    return x[ok], y[ok]


def spearman(x, y) -> float:
    """Spearman's rho: Pearson correlation of the average ranks (ties share their mean rank).

    NaN-valued entries are dropped; NaN when fewer than 3 remain or either side is constant.
    """
    x, y = _pair(x, y)
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return float("nan")
    return float(np.corrcoef(rankdata(x), rankdata(y))[0, 1])


def kendall_tau_b(x, y) -> float:
    """Kendall's tau-b (Kendall 1945), the tie-corrected rank correlation.

    tau_b = (C - D) / sqrt((P - T_x) (P - T_y)) over the P = n(n-1)/2 pairs of runs: C concordant,
    D discordant, T_x pairs tied in x, T_y tied in y. NaN-valued entries are dropped; NaN when
    fewer than 2 remain or either side is constant.
    """
    x, y = _pair(x, y)
    n = x.size
    if n < 2:
        return float("nan")
    iu = np.triu_indices(n, 1)
    sx = np.sign(x[:, None] - x[None, :])[iu]
    sy = np.sign(y[:, None] - y[None, :])[iu]
    pairs = sx.size
    untied_x, untied_y = pairs - np.sum(sx == 0), pairs - np.sum(sy == 0)
    if untied_x == 0 or untied_y == 0:
        return float("nan")
    return float(np.sum(sx * sy) / np.sqrt(float(untied_x) * float(untied_y)))


def selection_regret(score, accuracy) -> float:
    """Accuracy of the best run minus accuracy of the run the score selects, in points (x 100).

    The selected run is the one with the largest score; when several runs tie for the largest
    score, the regret is averaged over them (the expected regret of breaking the tie at random).
    Runs with a NaN score cannot be selected but still count as candidates for "the best run".
    NaN when no run has a finite score.
    """
    s, a = np.asarray(score, dtype=float), np.asarray(accuracy, dtype=float)
    if s.shape != a.shape or s.ndim != 1:
        raise InputError(f"score and accuracy must be 1-D arrays of one length, got shapes {s.shape} and {a.shape}")
    if not np.all(np.isfinite(a)):
        raise InputError("accuracy has NaN or infinite entries; drop those runs first")
    ok = np.isfinite(s)
    if not ok.any():
        return float("nan")
    top = ok & (s == s[ok].max())
    return float(100.0 * (a.max() - a[top].mean()))


def _group_indices(groups) -> list[np.ndarray]:
    groups = np.asarray(groups)
    return [np.flatnonzero(groups == g) for g in dict.fromkeys(groups.tolist())]


def _row_pearson(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    x = x - x.mean(axis=1, keepdims=True)
    y = y - y.mean(axis=1, keepdims=True)
    den = np.sqrt(np.sum(x * x, axis=1) * np.sum(y * y, axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(den > 0, np.sum(x * y, axis=1) / np.where(den > 0, den, 1.0), np.nan)


def _batch_metrics(s: np.ndarray, a: np.ndarray) -> dict[str, np.ndarray]:
    """Spearman, Kendall tau-b and regret of each row of ``s`` (B, m) against the same row of
    ``a`` (B, m): the scalar functions above, vectorised over resamples (rows with a NaN score go
    through the scalar functions, which drop the NaN runs)."""
    B, m = s.shape
    out = {"spearman": np.full(B, np.nan), "kendall": np.full(B, np.nan), "regret": np.full(B, np.nan)}
    finite = np.all(np.isfinite(s), axis=1)
    for b in np.flatnonzero(~finite):
        out["spearman"][b] = spearman(s[b], a[b])
        out["kendall"][b] = kendall_tau_b(s[b], a[b])
        out["regret"][b] = selection_regret(s[b], a[b])
    if not finite.any():
        return out
    sf, af = s[finite], a[finite]
    if m >= 3:
        constant = (np.ptp(sf, axis=1) == 0) | (np.ptp(af, axis=1) == 0)
        rho = _row_pearson(rankdata(sf, axis=1), rankdata(af, axis=1))
        out["spearman"][finite] = np.where(constant, np.nan, rho)
    iu = np.triu_indices(m, 1)
    sx = np.sign(sf[:, :, None] - sf[:, None, :])[:, iu[0], iu[1]]
    sy = np.sign(af[:, :, None] - af[:, None, :])[:, iu[0], iu[1]]
    untied = (np.sum(sx != 0, axis=1) * np.sum(sy != 0, axis=1)).astype(float)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["kendall"][finite] = np.where(untied > 0, np.sum(sx * sy, axis=1) / np.sqrt(untied), np.nan)
    top = sf == sf.max(axis=1, keepdims=True)
    out["regret"][finite] = 100.0 * (af.max(axis=1) - np.sum(af * top, axis=1) / np.sum(top, axis=1))
    return out


def _metrics_over(score: np.ndarray, accuracy: np.ndarray, draws: list[np.ndarray]) -> dict[str, np.ndarray]:
    """The protocol's numbers per resample: ``draws`` holds, per group, a (B, m) array of run
    indices (one row per resample); groups of fewer than 2 runs are skipped; Spearman, Kendall and
    regret are averaged over the groups where they are defined, worst_regret is their maximum."""
    per_group = [_batch_metrics(score[idx], accuracy[idx]) for idx in draws if idx.shape[1] >= 2]
    B = draws[0].shape[0] if draws else 1
    if not per_group:  # no group of two runs: nothing is defined
        return {m: np.full(B, np.nan) for m in METRICS}
    out = {}
    for m in ("spearman", "kendall", "regret"):
        stack = np.array([g[m] for g in per_group]).reshape(len(per_group), B)
        defined = np.isfinite(stack)
        with np.errstate(invalid="ignore", divide="ignore"):
            out[m] = np.where(defined.any(axis=0), np.nansum(stack, axis=0) / defined.sum(axis=0), np.nan)
    regrets = np.array([g["regret"] for g in per_group]).reshape(len(per_group), B)
    out["worst_regret"] = np.where(
        np.isfinite(regrets).any(axis=0), np.max(np.where(np.isfinite(regrets), regrets, -np.inf), axis=0), np.nan
    )
    return out


def group_metrics(score, accuracy, groups) -> dict[str, float]:
    """The protocol's numbers for one score: ``{metric: value}`` for `METRICS`.

    Spearman, Kendall and regret are computed within each group of runs (``groups``: one label per
    run; groups of a single run are skipped) and averaged over the groups where they are defined;
    ``worst_regret`` is the largest regret of any group.

    Args:
        score: (n,) oriented score per run (larger = predicted more accurate; NaN = undefined).
        accuracy: (n,) accuracy per run, in [0, 1]. groups: (n,) group label per run.
    """
    s, a = np.asarray(score, dtype=float), np.asarray(accuracy, dtype=float)
    g = np.asarray(groups)
    if not (s.shape == a.shape == g.shape) or s.ndim != 1:
        raise InputError(f"score, accuracy and groups must be 1-D of one length, got {s.shape}, {a.shape}, {g.shape}")
    got = _metrics_over(s, a, [idx[None, :] for idx in _group_indices(g)])
    return {m: float(got[m][0]) for m in METRICS}


def bootstrap_protocol(
    scores: Mapping[str, np.ndarray],
    accuracy,
    groups,
    *,
    headline: str | None = None,
    n_boot: int = 2000,
    level: float = 0.95,
    seed: int = 0,
) -> dict:
    """Percentile bootstrap intervals of `group_metrics`, and paired shares for a headline score.

    Each resample draws, within every group, as many runs as the group has, with replacement; the
    same resample serves every score (paired). Returns ``{"interval": {score: {metric: (lo, hi)}},
    "share": {baseline: {metric: share}}}``, where share is the fraction of resamples in which
    ``headline`` is strictly better than the baseline on that metric (higher rho / tau, lower
    regret; a resample where the headline's number is undefined counts as a loss, one where only
    the baseline's is undefined as a win). ``share`` is empty without a headline.
    """
    a = np.asarray(accuracy, dtype=float)
    values = {name: np.asarray(v, dtype=float) for name, v in scores.items()}
    if headline is not None and headline not in values:
        raise InputError(f"headline {headline!r} is not among the scores {sorted(values)}")
    if not 0 < level < 1:
        raise InputError(f"level must be in (0, 1), got {level}")
    if n_boot < 1:
        raise InputError(f"n_boot must be >= 1, got {n_boot}")
    rng = np.random.default_rng(seed)
    resamples = [idx[rng.integers(0, idx.size, (n_boot, idx.size))] for idx in _group_indices(groups)]
    draws = {name: _metrics_over(v, a, resamples) for name, v in values.items()}
    tail = (1 - level) / 2
    interval = {
        name: {
            m: (float(np.nanquantile(d[m], tail)), float(np.nanquantile(d[m], 1 - tail)))
            if np.isfinite(d[m]).any()
            else (float("nan"), float("nan"))
            for m in METRICS
        }
        for name, d in draws.items()
    }
    share = {}
    if headline is not None:
        mine = draws[headline]
        for name in values:
            if name == headline:
                continue
            share[name] = {}
            for m in METRICS:
                ours, theirs = mine[m], draws[name][m]
                better = ours > theirs if HIGHER_IS_BETTER[m] else ours < theirs
                wins = np.where(np.isfinite(ours) & ~np.isfinite(theirs), True, better & np.isfinite(ours))
                share[name][m] = float(np.mean(wins))
    return {"interval": interval, "share": share}
