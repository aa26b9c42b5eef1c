"""Synthetic experiments: the theory's predictions on generated worlds.

Four parts, each writing ``<part>.csv`` (every number plotted) and ``<part>.png``:

- ``phase_transition`` (THEORY.md T1, T5): K random invariant class codes in R^d. Worst-case
  linear-probe accuracy over invariant binary tasks jumps to 1 exactly at d = K - 1, while the
  fraction of random dichotomies that are separable follows Cover's formula.
- ``invariance_violation`` (T3): expected worst ERM risk of linear probes versus the number n of
  labelled samples, for encoders with within-class noise sigma; the missing mass is the floor,
  met exactly at sigma = 0.
- ``coarsening`` (T4): fine classes versus a label-preserving and a label-mixing coarsening.
- ``probe_families`` (T1, T2, T9): linear probes need d >= K - 1; the exact width-(K-1) ReLU head
  of T2 realizes every task from d = 1; scikit-learn's MLPClassifier as the practical check.

How "worst task accuracy" is measured (phase_transition, probe_families): the K class codes are
the population (each class weighs 1/K). The tasks searched are the Radon task of the codes
(``geometry.radon_split``: a certificate that the task is not LIN-realizable when d < K - 1) plus
``n_tasks`` uniformly random non-constant binary tasks. For each task the best linear probe is
sought as follows: if the exact LP says the task is separable, its accuracy is 1. Otherwise an
L1 soft-margin LP is solved, the point with the largest slack is dropped, and this repeats until
the remaining points are separable (greedy maximum feasible subsystem); the accuracy reported is
the best accuracy on all K codes of any probe met on the way, an achievable accuracy (a lower
bound on the best probe's). ``worst_task_accuracy`` is the minimum over the searched tasks.
``accuracy_upper_bound`` is 1 - 1/K when a Radon certificate exists (the two hulls share a point,
so some code is misclassified) and 1 otherwise. At d = K - 2 with codes in general position the
two coincide: removing any one code leaves K - 1 affinely independent codes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.optimize import linprog

from ssltheory.conditions import cover_count
from ssltheory.efficiency import (
    coarsen,
    expected_missing_mass,
    is_label_preserving,
    missing_mass,
    random_coarsening,
    worst_erm_risk,
)
from ssltheory.files import save_figure
from ssltheory.geometry import affine_rank, linearly_separable, radon_split
from ssltheory.plotting import log_ticks, pyplot, read_csv, write_csv
from ssltheory.synthetic import finite_world, noisy_representation, random_codes, relu_head
from ssltheory.tasks import enumerate_binary_tasks, sample_tasks

DESCRIPTION = "phase transition at d = K-1, invariance and sample efficiency, coarsening, probe families"


# ------------------------------------------------------------------------------ helpers


def _soft_margin_probe(Z: np.ndarray, s: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """L1 soft-margin LP: min sum xi s.t. s_i (w.z_i + b) >= 1 - xi_i, xi >= 0 (HiGHS).

    Args: Z (n, d) codes, s (n,) signs +-1. Returns (theta = (w, b) of shape (d + 1,), xi (n,)).
    """
    n, d = Z.shape
    X = np.column_stack([Z, np.ones(n)])
    A = np.hstack([-s[:, None] * X, -np.eye(n)])
    c = np.concatenate([np.zeros(d + 1), np.ones(n)])
    bounds = [(None, None)] * (d + 1) + [(0, None)] * n
    res = linprog(c, A_ub=A, b_ub=-np.ones(n), bounds=bounds, method="highs")
    if res.status != 0:
        raise RuntimeError(f"soft-margin LP failed: {res.message}")
    return res.x[: d + 1], res.x[d + 1 :]


def separable(C: np.ndarray, y: np.ndarray) -> tuple[bool, bool]:
    """(strictly linearly separable?, decided by the fallback?) for binary labels y (K,).

    ``geometry.linearly_separable`` (exact feasibility LP) first; if HiGHS cannot decide it (it
    happens on large, nearly degenerate instances), the always-feasible L1 soft-margin LP decides:
    separable iff its optimum is 0.
    """
    try:
        return linearly_separable(C, y), False
    except RuntimeError:
        Z = C - C.mean(axis=0)
        Z = Z / (np.abs(Z).max() or 1.0)
        _, xi = _soft_margin_probe(Z, np.where(y == 1, 1.0, -1.0))
        return bool(xi.sum() <= 1e-7), True


def best_linear_accuracy(C: np.ndarray, task: np.ndarray) -> float:
    """Accuracy on the K codes (K, d) of the best affine probe found for a binary task (K,).

    Exact LP first (accuracy 1 iff separable); otherwise greedy maximum feasible subsystem, see
    the module docstring. Points on the decision boundary count as errors.
    """
    K = C.shape[0]
    if separable(C, task)[0]:
        return 1.0
    Z = C - C.mean(axis=0)
    Z = Z / (np.abs(Z).max() or 1.0)
    s = np.where(task == 1, 1.0, -1.0)
    X = np.column_stack([Z, np.ones(K)])
    keep = np.ones(K, dtype=bool)
    best = float(max(np.mean(task == 0), np.mean(task == 1)))  # a constant probe
    while True:
        idx = np.flatnonzero(keep)
        theta, xi = _soft_margin_probe(Z[idx], s[idx])
        best = max(best, float(np.mean(s * (X @ theta) > 0)))
        if xi.max() <= 1e-9:  # the kept points are separated with margin: done
            return best
        keep[idx[int(np.argmax(xi))]] = False


def worst_task_search(C: np.ndarray, n_tasks: int, rng: np.random.Generator, head=best_linear_accuracy):
    """Minimum over the Radon task and n_tasks random binary tasks of head(C, task).

    Returns (worst accuracy, kind of the worst task, Radon-task accuracy or nan, has_certificate).
    """
    radon = radon_split(C, tol=1e-9)
    tasks, kinds = [], []
    if radon is not None:
        tasks.append(radon.task)
        kinds.append("radon")
    tasks += list(sample_tasks(C.shape[0], n_tasks, 2, rng))
    kinds += ["random"] * n_tasks
    accs = [head(C, t) for t in tasks]
    worst = int(np.argmin(accs))
    return accs[worst], kinds[worst], (accs[0] if radon is not None else float("nan")), radon is not None


# ------------------------------------------------------------------------------ phase transition

PHASE_SCALES = {
    "quick": {"Ks": [5, 8], "grid": None, "n_dichotomies": 30, "n_tasks": 3},
    "cpu": {
        "Ks": [10, 50, 200],
        "grid": {
            50: [1, 2, 5, 10, 15, 20, 24, 30, 35, 40, 45, 47, 48, 49, 50, 52],
            200: [1, 5, 10, 25, 50, 75, 90, 99, 110, 125, 150, 175, 190, 197, 198, 199, 200, 205],
        },
        "n_dichotomies": 200,
        "n_tasks": 5,
    },
    "gpu": {"Ks": [10, 50, 200, 500], "grid": None, "n_dichotomies": 1000, "n_tasks": 20},
}


def _phase_grid(K: int, grid) -> list[int]:
    if grid and K in grid:
        return grid[K]
    if K <= 12:
        return list(range(1, K + 2))
    pts = set(np.unique(np.linspace(1, K - 3, 12).astype(int)).tolist()) | {K - 2, K - 1, K, K + 2}
    return sorted(pts)


def phase_transition(scale: str, out: Path, seed: int) -> list[Path]:
    """Part ``phase_transition`` [derived, THEORY.md T1, T5]: worst-task linear accuracy of K random
    invariant codes against d, and the separable fraction of random dichotomies against Cover's
    formula, at ``PHASE_SCALES[scale]``; writes the CSV and PNG into ``out`` and returns their paths.
    """
    cfg = PHASE_SCALES[scale]
    rng = np.random.default_rng(seed)
    rows = []
    for K in cfg["Ks"]:
        print(f"    phase_transition: K = {K}", flush=True)
        for d in _phase_grid(K, cfg["grid"]):
            C = random_codes(K, d, rng)
            worst, kind, radon_acc, certified = worst_task_search(C, cfg["n_tasks"], rng)
            labels = rng.integers(0, 2, size=(cfg["n_dichotomies"], K))
            decided = np.array([separable(C, y) for y in labels], dtype=float)
            sep, fallbacks = decided[:, 0], int(decided[:, 1].sum())
            rows.append(
                {
                    "K": K,
                    "d": d,
                    "affine_rank": affine_rank(C, tol=1e-9),
                    "worst_task_accuracy": float(worst),
                    "accuracy_upper_bound": 1.0 - 1.0 / K if certified else 1.0,
                    "worst_task_kind": kind,
                    "radon_task_accuracy": float(radon_acc),
                    "separable_fraction": float(sep.mean()),
                    "separable_fraction_stderr": float(sep.std(ddof=1) / np.sqrt(sep.size)),
                    "cover_fraction": cover_count(K, d) / 2.0**K,
                    "n_dichotomies": int(sep.size),
                    "lp_fallbacks": fallbacks,
                    "n_tasks_searched": cfg["n_tasks"] + int(certified),
                }
            )
    csv_path = write_csv(out / "phase_transition.csv", rows)
    return [csv_path, plot_phase_transition(csv_path, out / "phase_transition.png")]


def plot_phase_transition(csv_path: Path, png_path: Path) -> Path:
    """Draw ``phase_transition``'s CSV into ``png_path``; returns it."""
    plt = pyplot()
    rows = read_csv(csv_path)
    Ks = sorted({int(r["K"]) for r in rows})
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for K, color in zip(Ks, colors):
        sub = [r for r in rows if int(r["K"]) == K]
        x = np.array([int(r["d"]) for r in sub]) / (K - 1)
        ax1.plot(
            x,
            [float(r["worst_task_accuracy"]) for r in sub],
            "o-",
            color=color,
            ms=4,
            label=f"K = {K}: best probe found",
        )
        ax1.plot(
            x,
            [float(r["accuracy_upper_bound"]) for r in sub],
            "_",
            color=color,
            ms=9,
            mew=2,
            label=f"K = {K}: certified upper bound",
        )
        ax2.errorbar(
            x,
            [float(r["separable_fraction"]) for r in sub],
            yerr=[2 * float(r["separable_fraction_stderr"]) for r in sub],
            fmt="o",
            color=color,
            ms=4,
            label=f"K = {K}: random dichotomies (LP)",
        )
        dense = np.arange(1, max(int(r["d"]) for r in sub) + 1)
        ax2.plot(
            dense / (K - 1),
            [cover_count(K, int(d)) / 2.0**K for d in dense],
            "-",
            color=color,
            lw=1,
            label=f"K = {K}: Cover's formula",
        )
    for ax in (ax1, ax2):
        ax.axvline(1.0, color="k", ls="--", lw=1)
        ax.set_xlabel("d / (K - 1)   (dashed line: d = K - 1)")
    ax1.set_ylabel("accuracy of the best linear probe\non the worst invariant task found")
    ax1.set_title("T1: every invariant task is linear iff d >= K - 1")
    ax2.set_ylabel("fraction of linearly separable dichotomies")
    ax2.set_title("T5: random dichotomies follow Cover's count")
    ax1.legend(fontsize=7, loc="lower right")
    ax2.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = save_figure(fig, png_path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ invariance violation

INVARIANCE_SCALES = {
    "quick": {"K": 3, "class_size": 2, "sigmas": [0.0, 0.1], "ns": [1, 2, 4, 8], "n_draws": 200},
    "cpu": {"K": 4, "class_size": 3, "sigmas": [0.0, 0.05, 0.3], "ns": [1, 2, 4, 8, 16, 24], "n_draws": 150},
    "gpu": {
        "K": 5,
        "class_size": 3,
        "sigmas": [0.0, 0.02, 0.1, 0.3],
        "ns": [1, 2, 3, 4, 6, 8, 12, 16, 24, 32],
        "n_draws": 1000,
    },
}


def invariance_violation(scale: str, out: Path, seed: int) -> list[Path]:
    """Part ``invariance_violation`` [derived, THEORY.md T3]: the expected worst ERM risk of linear
    probes against the number of labelled samples, for within-class noise sigma, beside the missing
    mass floor, at ``INVARIANCE_SCALES[scale]``; writes the CSV and PNG into ``out``, returns their paths.
    """
    cfg = INVARIANCE_SCALES[scale]
    rng = np.random.default_rng(seed)
    world = finite_world(cfg["K"], cfg["class_size"], graph="chain", random_state=rng)
    classes, p = world.classes, world.p
    K = classes.n_classes
    all_tasks = enumerate_binary_tasks(K)
    # one task per shape up to symmetry of the simplex: 1 class vs the rest, 2 vs the rest, ...
    tasks = [t for t in all_tasks if t.sum() <= K // 2]
    tasks = list({int(t.sum()): t for t in tasks}.values())
    draws = {n: rng.choice(classes.n_points, size=(cfg["n_draws"], n), p=p) for n in cfg["ns"]}
    rows = []
    for sigma in cfg["sigmas"]:
        Z = noisy_representation(classes, sigma, random_state=rng)
        population_ideal = all(linearly_separable(Z, t[classes.labels]) for t in all_tasks)
        for task in tasks:
            y = task[classes.labels]
            cache: dict[bytes, tuple] = {}
            for n in cfg["ns"]:
                risk, upper, uni, mm, inexact = [], [], [], [], 0
                for sample in draws[n]:
                    support = np.unique(sample)
                    key = support.tobytes()
                    if key not in cache:
                        lin = worst_erm_risk(Z, y, support, "linear", p, n_labels=2)
                        cache[key] = (
                            lin.risk,
                            lin.upper_bound,
                            lin.exact,
                            worst_erm_risk(Z, y, support, "universal", p, n_labels=2).risk,
                        )
                    r, u, exact, un = cache[key]
                    risk.append(r)
                    upper.append(u)
                    uni.append(un)
                    inexact += not exact
                    mm.append(missing_mass(classes, support, p))
                risk, mm = np.array(risk), np.array(mm)
                rows.append(
                    {
                        "sigma": sigma,
                        "task": "".join(map(str, task)),
                        "n": n,
                        "worst_erm_risk": float(risk.mean()),
                        "worst_erm_risk_stderr": float(risk.std(ddof=1) / np.sqrt(risk.size)),
                        "disagreement_mass": float(np.mean(upper)),
                        "universal_worst_erm_risk": float(np.mean(uni)),
                        "missing_mass_mc": float(mm.mean()),
                        "missing_mass_mc_stderr": float(mm.std(ddof=1) / np.sqrt(mm.size)),
                        "missing_mass_exact": expected_missing_mass(classes, n, p, method="exact").value,
                        "max_gap_to_floor": float(np.abs(risk - mm).max()),
                        "min_gap_to_floor": float((risk - mm).min()),
                        "inexact_draws": inexact,
                        "n_draws": risk.size,
                        "population_ideal": population_ideal,
                    }
                )
    csv_path = write_csv(out / "invariance_violation.csv", rows)
    return [csv_path, plot_invariance_violation(csv_path, out / "invariance_violation.png", K, cfg["class_size"])]


def plot_invariance_violation(csv_path: Path, png_path: Path, K: int, class_size: int) -> Path:
    """Left: E_D[worst ERM risk] versus n per noise level sigma, with +-2 standard errors of the
    Monte Carlo mean, the exact missing-mass floor of T3 and its Monte Carlo estimate on the same
    draws D. Right: the paired gap risk(D) - missing mass(D) on those draws, which is exactly 0 for
    invariant codes (sigma = 0) and positive for any noise: a sigma = 0 curve below the exact
    floor on the left is Monte Carlo error of the draws, not a violation of the theorem."""
    plt = pyplot()
    rows = read_csv(csv_path)
    sigmas = sorted({float(r["sigma"]) for r in rows})
    ns = sorted({int(r["n"]) for r in rows})
    fig, (ax, gap_ax) = plt.subplots(1, 2, figsize=(10, 4.2), gridspec_kw={"width_ratios": [3, 2]})
    for sigma in sigmas:
        # W_n is a supremum over tasks: plot, for each n, the task with the largest mean
        best = [
            max(
                (r for r in rows if float(r["sigma"]) == sigma and int(r["n"]) == n),
                key=lambda r: float(r["worst_erm_risk"]),
            )
            for n in ns
        ]
        bars = ax.errorbar(
            ns,
            [float(r["worst_erm_risk"]) for r in best],
            yerr=[2 * float(r["worst_erm_risk_stderr"]) for r in best],
            fmt="o-",
            ms=4,
            capsize=2,
            label=f"sigma = {sigma:g}",
        )
        gap = np.array([float(r["worst_erm_risk"]) - float(r["missing_mass_mc"]) for r in best])
        gap_ax.plot(ns, gap, "o-", ms=4, color=bars.lines[0].get_color(), label=f"sigma = {sigma:g}")
    first = [next(r for r in rows if int(r["n"]) == n) for n in ns]
    exact = [float(r["missing_mass_exact"]) for r in first]
    mc = np.array([float(r["missing_mass_mc"]) for r in first])
    mc_err = 2 * np.array([float(r["missing_mass_mc_stderr"]) for r in first])
    ax.plot(ns, exact, "k--", lw=1.5, label="missing mass, exact (T3 floor)")
    ax.fill_between(
        ns,
        mc - mc_err,
        mc + mc_err,
        color="0.6",
        alpha=0.35,
        lw=0,
        label=f"missing mass on the same {first[0]['n_draws']} draws (+-2 s.e.)",
    )
    log_ticks(ax, ns)
    ax.set_xlabel("number of labelled samples n")
    ax.set_ylabel("E_D[ sup over ERM probes of the 0-1 risk ]\n(max over the tasks tried; bars +-2 s.e.)")
    ax.set_title(
        f"T3: worst ERM risk of linear probes\n(K = {K} classes x {class_size} inputs, simplex codes + noise sigma)",
        fontsize=10,
    )
    ax.legend(fontsize=7)
    gap_ax.axhline(0.0, color="k", ls="--", lw=1.5, label="0: risk on the floor")
    log_ticks(gap_ax, ns)
    gap_ax.set_xlabel("number of labelled samples n")
    gap_ax.set_ylabel("mean over draws of risk(D) - missing mass(D)")
    gap_ax.set_title(
        "paired with each draw's missing mass:\n0 exactly when sigma = 0, above 0 for any noise", fontsize=10
    )
    gap_ax.legend(fontsize=7)
    fig.tight_layout()
    path = save_figure(fig, png_path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ coarsening

COARSENING_SCALES = {
    "quick": {"K": 8, "class_size": 2, "n_groups": 4, "ns": [1, 2, 4, 8, 16], "n_draws": 100},
    "cpu": {"K": 16, "class_size": 2, "n_groups": 4, "ns": [1, 2, 4, 8, 12, 16, 24, 32, 48, 64], "n_draws": 3000},
    "gpu": {"K": 20, "class_size": 3, "n_groups": 4, "ns": [1, 2, 4, 8, 12, 16, 24, 32, 48, 64, 96], "n_draws": 20000},
}


def coarsening(scale: str, out: Path, seed: int) -> list[Path]:
    """Part ``coarsening`` [derived, THEORY.md T4]: fine classes against a label-preserving and a
    label-mixing coarsening, at ``COARSENING_SCALES[scale]``; writes the CSV and PNG into ``out`` and
    returns their paths.
    """
    cfg = COARSENING_SCALES[scale]
    rng = np.random.default_rng(seed)
    world = finite_world(cfg["K"], cfg["class_size"], graph="random", random_state=rng)
    fine, p = world.classes, world.p
    task = np.arange(fine.n_classes) % 2  # a balanced binary invariant task
    preserving = random_coarsening(task, cfg["n_groups"], label_preserving=True, random_state=rng)
    # The smallest violation: move one class into a group of the other label (same group count).
    mixing = preserving.copy()
    mover = next(m for m in range(fine.n_classes) if task[m] == 0 and np.sum(preserving == preserving[m]) > 1)
    mixing[mover] = preserving[np.flatnonzero(task == 1)[0]]
    if not (is_label_preserving(preserving, task) and not is_label_preserving(mixing, task)):
        raise RuntimeError("coarsenings were not built as intended")
    relations = {
        "fine": fine,
        "coarse_label_preserving": coarsen(fine, preserving),
        "coarse_label_mixing": coarsen(fine, mixing),
    }
    y = task[fine.labels]
    rows = []
    for n in cfg["ns"]:
        draws = rng.choice(fine.n_points, size=(cfg["n_draws"], n), p=p)
        mm = {name: np.array([missing_mass(rel, s, p) for s in draws]) for name, rel in relations.items()}
        for name, rel in relations.items():
            # an invariant encoder of this relation with distinct codes per class: Z = class index
            Z = rel.labels[:, None].astype(float)
            risk = np.array([worst_erm_risk(Z, y, s, "universal", p, n_labels=2).risk for s in draws])
            # Bayes error of the task given this relation's code: the minority-label mass per class
            mass = np.zeros((rel.n_classes, 2))
            np.add.at(mass, (rel.labels, y), p)
            rows.append(
                {
                    "relation": name,
                    "n_classes": rel.n_classes,
                    "n": n,
                    "missing_mass_exact": expected_missing_mass(rel, n, p, method="exact").value,
                    "missing_mass_mc": float(mm[name].mean()),
                    "missing_mass_mc_stderr": float(mm[name].std(ddof=1) / np.sqrt(cfg["n_draws"])),
                    "worst_erm_risk": float(risk.mean()),
                    "worst_erm_risk_stderr": float(risk.std(ddof=1) / np.sqrt(cfg["n_draws"])),
                    "bayes_error": float(mass.min(axis=1).sum()),
                    "pathwise_violations": int(np.sum(mm[name] > mm["fine"] + 1e-12)),
                    "n_draws": cfg["n_draws"],
                }
            )
    csv_path = write_csv(out / "coarsening.csv", rows)
    return [csv_path, plot_coarsening(csv_path, out / "coarsening.png")]


def plot_coarsening(csv_path: Path, png_path: Path) -> Path:
    """Draw ``coarsening``'s CSV into ``png_path``; returns it."""
    plt = pyplot()
    rows = read_csv(csv_path)
    fig, ax = plt.subplots(figsize=(10, 4.3))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    names = {
        "fine": "fine classes",
        "coarse_label_preserving": "label-preserving coarsening",
        "coarse_label_mixing": "same, one class moved across labels",
    }
    for (name, label), color in zip(names.items(), colors):
        sub = [r for r in rows if r["relation"] == name]
        ns = [int(r["n"]) for r in sub]
        K = sub[0]["n_classes"]
        ax.errorbar(
            ns,
            [float(r["worst_erm_risk"]) for r in sub],
            yerr=[2 * float(r["worst_erm_risk_stderr"]) for r in sub],
            fmt="o",
            ms=4,
            color=color,
            capsize=2,
            label=f"{label} (K = {K}): worst ERM risk (MC)",
        )
        ax.plot(
            ns,
            [float(r["missing_mass_exact"]) for r in sub],
            "-",
            color=color,
            lw=1.2,
            label=f"{label}: missing mass (exact)",
        )
        if name == "coarse_label_mixing":
            ax.axhline(
                float(sub[0]["bayes_error"]),
                color=color,
                ls=":",
                lw=1.5,
                label="label-mixing: Bayes error of the task (floor)",
            )
    log_ticks(ax, ns)
    ax.set_xlabel("number of labelled samples n")
    ax.set_ylabel("E_D[ sup over ERM probes of the 0-1 risk ]")
    ax.set_title(
        "T4: label-preserving coarsening is more sample efficient;\nmoving "
        "one class across labels makes the task non-invariant"
    )
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    fig.tight_layout()
    path = save_figure(fig, png_path)
    plt.close(fig)
    return path


# ------------------------------------------------------------------------------ probe families

PROBE_SCALES = {
    "quick": {"Ks": [5], "n_tasks": 3, "sklearn": True},
    "cpu": {"Ks": [10, 50], "n_tasks": 5, "sklearn": True},
    "gpu": {"Ks": [10, 50, 200], "n_tasks": 20, "sklearn": True},
}


def _relu_head_accuracy(C: np.ndarray, task: np.ndarray) -> float:
    return float(np.mean(relu_head(C, task, n_labels=2).predict(C) == task))


def _sklearn_mlp_accuracy(C: np.ndarray, task: np.ndarray) -> float:
    from sklearn.neural_network import MLPClassifier

    Z = (C - C.mean(axis=0)) / (C.std(axis=0) + 1e-12)
    mlp = MLPClassifier(hidden_layer_sizes=(2 * C.shape[0],), solver="lbfgs", max_iter=5000, tol=1e-10, random_state=0)
    mlp.fit(Z, task)
    return float(np.mean(mlp.predict(Z) == task))


def probe_families(scale: str, out: Path, seed: int) -> list[Path]:
    """Part ``probe_families`` [derived, THEORY.md T1, T2, T9]: worst-task accuracy against d of linear
    probes, the exact width-(K-1) ReLU head and scikit-learn's MLPClassifier; writes the CSV and PNG
    into ``out`` and returns their paths.
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning

    cfg = PROBE_SCALES[scale]
    rng = np.random.default_rng(seed)
    rows = []
    for K in cfg["Ks"]:
        for d in _phase_grid(K, PHASE_SCALES["cpu"]["grid"] if K in (50, 200) else None):
            if d > K:
                continue
            C = random_codes(K, d, rng)
            radon = radon_split(C, tol=1e-9)
            tasks = ([radon.task] if radon is not None else []) + list(sample_tasks(K, cfg["n_tasks"], 2, rng))
            lin = [best_linear_accuracy(C, t) for t in tasks]
            head = [_relu_head_accuracy(C, t) for t in tasks]
            row = {
                "K": K,
                "d": d,
                "n_tasks": len(tasks),
                "linear_worst_task_accuracy": float(min(lin)),
                "relu_head_worst_task_accuracy": float(min(head)),
            }
            if cfg["sklearn"]:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", ConvergenceWarning)
                    row["sklearn_mlp_worst_task_accuracy"] = float(min(_sklearn_mlp_accuracy(C, t) for t in tasks))
            rows.append(row)
    csv_path = write_csv(out / "probe_families.csv", rows)
    return [csv_path, plot_probe_families(csv_path, out / "probe_families.png")]


def plot_probe_families(csv_path: Path, png_path: Path) -> Path:
    """Draw ``probe_families``'s CSV into ``png_path``; returns it."""
    plt = pyplot()
    rows = read_csv(csv_path)
    Ks = sorted({int(r["K"]) for r in rows})
    fig, axes = plt.subplots(1, len(Ks), figsize=(5.2 * len(Ks), 4.0), squeeze=False)
    for ax, K in zip(axes[0], Ks):
        sub = [r for r in rows if int(r["K"]) == K]
        d = [int(r["d"]) for r in sub]
        ax.plot(
            d, [float(r["linear_worst_task_accuracy"]) for r in sub], "o-", ms=4, label="linear probe (best found, LP)"
        )
        ax.plot(
            d,
            [float(r["relu_head_worst_task_accuracy"]) for r in sub],
            "s-",
            ms=4,
            label="exact ReLU head of T2 (width K-1)",
        )
        if "sklearn_mlp_worst_task_accuracy" in sub[0]:
            ax.plot(
                d,
                [float(r["sklearn_mlp_worst_task_accuracy"]) for r in sub],
                "^--",
                ms=4,
                label="sklearn MLPClassifier (lbfgs, width 2K)",
            )
        ax.axvline(K - 1, color="k", ls="--", lw=1, label="d = K - 1")
        log_ticks(ax, [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500) if t <= max(d)])
        ax.set_xlabel("code dimension d")
        ax.set_ylabel("accuracy on the worst invariant task found")
        ax.set_title(f"T1/T2/T9: K = {K} distinct invariant codes")
        ax.set_ylim(0.45, 1.03)
        ax.legend(fontsize=7, loc="lower right")
    fig.tight_layout()
    path = save_figure(fig, png_path)
    plt.close(fig)
    return path


PARTS = {
    "phase_transition": phase_transition,
    "invariance_violation": invariance_violation,
    "coarsening": coarsening,
    "probe_families": probe_families,
}
