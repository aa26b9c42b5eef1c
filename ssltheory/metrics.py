"""Continuous scores of learned representations, and the published baselines.

THEORY.md section 2 ("From exact to learned representations"): learned codes are never exactly
invariant nor exactly affinely independent, so beside the exact verdicts of `conditions.is_ideal`
the toolkit reports continuous scores, one per condition of T1:

- `invariance_ratio`        within-class over total sum of squares (0 = invariant)          [derived]
- `affine_conditioning`     singular values of the centred class-code matrix, effective affine
                            rank at a tolerance, smallest over largest of the first K-1     [derived]
- `dimension_deficit`, `cover_fraction`   K-1-d when positive; Cover's bound on the fraction of
                            dichotomies of the K class codes that any affine probe realizes [derived, T5]
- `heldout_class_accuracy`  linear predictability of M from held-out views                  [derived]
- `worst_task_accuracy`     the smallest held-out accuracy of a fitted linear probe over
                            invariant binary tasks, searched adversarially (Radon, random,
                            greedy) within a stated budget, returned with the task found    [derived, T1.3]
- `ridge_log_loss`          log-loss of the ridge probe's held-out scores of M at a cross-fitted
                            temperature (cheap; `heldout_log_loss` fits a softmax head)     [derived]
- `heldout_log_loss`        log-loss of a linear softmax head predicting M, held-out views  [paper Fig. 7b]
- `ideal_score`             the headline: 1 exactly when the verdict on the views passes, else
                            the share of invariant variance times the mean squared canonical
                            correlation of the views with M (Pillai's trace / (K - 1))      [derived, T1/T3]

and the baselines from their papers: `rankme` (Garrido et al. 2023, uncentred as in the paper) and
`rankme_centred` (the same on centred features, named as such), `alpha_req` (Agrawal et al. 2022)
and `lidar` (Thilak et al. 2024). `score_all` returns all of them as one `Scores` (the payload of
``ssltheory score``, of the reports and of the score-validation experiment). `SCORES` is the
registry: a new score is one `ScoreInfo` entry (orientation, meaning, provenance and the function
computing it from the `ViewStatistics`).

Every score is a function of `ssltheory.view_statistics.ViewStatistics` (the engine: class means,
within/between/total scatter, spectra and the held-out ridge probe's factorisation, computed once
in float64, streamed in row blocks) and, only for the held-out probes, of the views again. The
public functions accept (Z, classes) and build the statistics themselves; ``stats=`` passes
statistics already built (``score_all`` builds them once). Z may be a numpy array or a torch
tensor on any device (the heavy products then run there).

The tolerance of every verdict on views is `view_statistics.tolerance_rule`: the caller's ``tol``,
else max(K, d) * eps of the features' dtype *as given* (float32 rounding is not rank).

Conventions. ``Z`` is an (n, d) array of codes, one row per view (augmented input). ``classes`` is
an `EquivalenceClasses` or an array of n class labels; classes are numbered 0..K-1 as
`EquivalenceClasses.from_labels` numbers them, and a *task* is an int array of shape (K,), one label
per class in that numbering. The class code c_m of a (possibly non-invariant) representation is the
mean of its views' codes. The linear probe used throughout is closed-form ridge regression onto
one-hot targets with an intercept, classified by strict argmax (a view counts as correct only if
its label's score is strictly largest, THEORY.md section 0), fitted on the training views and scored
on held-out views. Ridge rather than logistic regression because its predictions are linear in the
targets, so that one factorisation of the training views serves every task of the adversarial
search. With invariant, affinely independent codes whose smallest relevant singular value is well
above the penalty (s_{K-1}^2 >> ridge x s_1^2) it interpolates (the pseudo-inverse probe of T1.3),
so every task then scores 1; for codes closer to dependence than that, the penalty shrinks the weak
direction and the worst task found can score below 1 although the verdict at the tolerance passes
(the verdict, not the probe, decides ideal-ness; pass ridge=0 for the pseudo-inverse probe).

Only numpy/scipy: this is a theory room.
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from ssltheory.baselines import (
    PairwisePool,
    alignment,
    mst_dimension,
    nesum_from_eigenvalues,
    twonn_dimension,
    uniformity,
)
from ssltheory.conditions import cover_count, is_ideal
from ssltheory.equivalence import as_classes
from ssltheory.errors import InputError
from ssltheory.geometry import centre_codes, centred_singular_values, rank_from_singular_values
from ssltheory.threads import thread_limit
from ssltheory.validation import as_count
from ssltheory.view_statistics import (
    ViewStatistics,
    _is_tensor,
    as_view_features,
    check_train_mask,
    largest_squared_singular_value,
    plus_identity,
    split_views,
    to_numpy,
)

__all__ = [
    "InvarianceRatio",
    "AffineConditioning",
    "WorstTask",
    "IdealScore",
    "invariance_ratio",
    "affine_conditioning",
    "dimension_deficit",
    "cover_fraction",
    "split_views",
    "heldout_class_accuracy",
    "task_accuracy",
    "worst_task_accuracy",
    "flip_accuracies",
    "ideal_score",
    "ridge_log_loss",
    "heldout_log_loss",
    "rankme",
    "rankme_centred",
    "alpha_req",
    "lidar",
    "ScoreInfo",
    "SCORES",
    "oriented",
    "Scores",
    "score_all",
]

# --------------------------------------------------------------------------------------------
# boundary helpers


def _statistics(
    Z, classes, train_mask=None, *, tol=None, random_state=0, stats: ViewStatistics | None = None, min_classes: int = 2
) -> tuple:
    """(validated Z, EquivalenceClasses, ViewStatistics): ``stats`` when given, else built here."""
    Z = as_view_features(Z)
    classes = as_classes(classes, int(Z.shape[0]))
    if classes.n_classes < min_classes:
        raise InputError(
            f"classes has {classes.n_classes} class{'es' if classes.n_classes != 1 else ''}; "
            f"this score needs at least {min_classes}"
        )
    if stats is None:
        stats = ViewStatistics.from_views(Z, classes, train_mask, tol=tol, random_state=random_state)
    elif stats.n != Z.shape[0] or stats.K != classes.n_classes:
        raise InputError(
            f"stats describe {stats.n} views of {stats.K} classes, not these {Z.shape[0]} of {classes.n_classes}"
        )
    return Z, classes, stats


def _entropy_rank(values: np.ndarray, eps: float) -> float:
    """exp of the Shannon entropy of p_k = v_k / ||v||_1 + eps (RankMe's and LiDAR's form)."""
    p = values / values.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


def _check_ridge(ridge: float) -> float:
    if not np.isfinite(ridge) or ridge < 0:
        raise InputError(f"ridge must be a finite number >= 0, got {ridge}")
    return float(ridge)


# --------------------------------------------------------------------------------------------
# invariance


@dataclass(frozen=True)
class InvarianceRatio:
    """Within-class over total sum of squares.

    ``value`` = SS_within / SS_total in [0, 1]; ``per_class`` (K,): for class m, the mean squared
    distance of its views to their class mean over the mean squared distance of all views to the
    grand mean, so that ``value`` = sum_m (n_m / n) per_class[m].
    """

    value: float
    per_class: np.ndarray


def invariance_ratio(Z, classes, *, stats: ViewStatistics | None = None) -> InvarianceRatio:
    """How far ``Z`` is from invariant: within-class sum of squares over total sum of squares.

    [derived] THEORY.md section 2. phi is invariant (section 0) iff every view of a class has the
    class's code, i.e. iff SS_within = sum_i ||z_i - c_{M(i)}||^2 = tr W = 0 with c_m the class mean.
    The ratio tr W / tr T (T = W + B the total scatter) is 0 exactly for invariant codes (identical
    views give exactly zero residuals, see `ssltheory.view_statistics`), at most 1, and unchanged
    by translations, rotations and rescalings of the codes. When all codes coincide (tr T = 0) the
    codes are invariant and the ratio is 0.

    Args:
        Z: (n, d) codes, one row per view.
        classes: n class labels or an `EquivalenceClasses` with n points (K >= 2 classes).
        stats: the `ViewStatistics` of (Z, classes), when already built.

    Returns:
        `InvarianceRatio` with ``value`` (float) and ``per_class`` ((K,) float array).
    """
    _, _, stats = _statistics(Z, classes, stats=stats)
    within = stats.within_per_class
    total = float(within.sum() + stats.between_trace)
    if total == 0.0:
        return InvarianceRatio(0.0, np.zeros(stats.K))
    per_class = (within / stats.sizes) / (total / stats.n)
    return InvarianceRatio(float(min(1.0, within.sum() / total)), per_class)


# --------------------------------------------------------------------------------------------
# affine conditioning and dimension


@dataclass(frozen=True)
class AffineConditioning:
    """Conditioning of the class codes as an affine point set.

    ``singular_values`` (min(K, d),): singular values of the centred class-code matrix, descending.
    ``rank``: effective affine rank at ``tol`` (relative to the largest singular value; the
    tolerance rule of `ssltheory.view_statistics.tolerance_rule`).
    ``condition``: s_{K-1} / s_1, smallest over largest of the first K-1 singular values (0 when
    d < K - 1 or the codes are affinely dependent; 1 for a regular simplex).
    """

    singular_values: np.ndarray
    rank: int
    condition: float
    tol: float


def affine_conditioning(
    Z, classes, tol: float | None = None, *, stats: ViewStatistics | None = None
) -> AffineConditioning:
    """Singular values, effective affine rank and conditioning of the class codes.

    [derived] THEORY.md T1.2(c) and section 2. The class codes c_0..c_{K-1} are affinely
    independent iff the centred matrix C - mean(C) (K x d, centred by the unweighted mean of the K
    codes) has rank K - 1. Its singular values s_1 >= s_2 >= ... say how far the codes are from
    dependence: the effective affine rank counts those above ``tol * s_1`` (`geometry.affine_rank`,
    the toolkit's one definition, so it agrees with `conditions.is_ideal` at the same ``tol``), and
    s_{K-1} / s_1 is 1 for a regular simplex and tends to 0 as the codes approach an affine
    dependence. s_{K-1} is taken as 0 when d < K - 1. Translation-, rotation- and scale-invariant.

    Args:
        Z: (n, d) codes, one row per view.
        classes: n class labels or an `EquivalenceClasses` (K >= 2 classes).
        tol: relative tolerance of the effective rank in [0, 1), or None for the dtype rule
            (max(K, d) x eps of Z's dtype as given). Ignored when ``stats`` is given (its ``tol``).
    """
    _, _, stats = _statistics(Z, classes, tol=tol, stats=stats)
    return stats.cached("affine_conditioning", lambda: _affine_conditioning(stats))


def _centred_means_spectrum(stats: ViewStatistics) -> tuple:
    """(M, unit, s, G), once per statistics: the centred class means M (K, d) and their unit
    (`geometry.centre_codes`, the verdict's: `ViewStatistics.code_geometry`), all min(K, d)
    singular values s of M, descending: the verdict's own when it computed them (the Gram route
    for float32 views, else an SVD), else `geometry.centred_singular_values` (when the verdict
    proved full rank without them), and the Gram matrix the verdict decomposed (or None).
    `_affine_conditioning` reads s, the worst-task search s and G."""

    def compute():
        geometry = stats.code_geometry()
        s = geometry.spectrum.values
        if s is None:
            s = centred_singular_values(geometry.M, np.float32 if stats.dtype == "float32" else np.float64, stats.tol)
        return geometry.M, geometry.code_unit, s, geometry.spectrum.gram

    return stats.cached("centred_means_spectrum", compute)


def _affine_conditioning(stats: ViewStatistics) -> AffineConditioning:
    """The singular values of the centred class means (`geometry.centre_codes`, offset- and
    scale-free; `geometry.centred_singular_values` at the features' dtype as given, so the Gram
    route where it is accurate), the very numbers of the verdict at ``stats.tol``
    (`_centred_means_spectrum`), read by the tolerance rule (`geometry.rank_from_singular_values`):
    one decomposition, and the same rank as `conditions.is_ideal`."""
    M, unit, s, _ = _centred_means_spectrum(stats)
    rank, _ = rank_from_singular_values(s, stats.K, stats.tol)
    K = stats.K
    s_km1 = s[K - 2] if s.size >= K - 1 else 0.0
    condition = float(s_km1 / s[0]) if s.size and s[0] > 0 else 0.0
    with np.errstate(over="ignore"):
        values = s * unit * stats.unit
    return AffineConditioning(values, int(rank), condition, stats.tol)


def dimension_deficit(n_classes: int, dim: int) -> int:
    """K - 1 - d when positive, else 0.

    [paper] THEORY.md T1.2: d >= K - 1 is necessary for every invariant task to be realizable by
    an affine probe; the deficit counts the missing dimensions.
    """
    n_classes, dim = as_count(n_classes, "n_classes", 1), as_count(dim, "dim", 0)
    return max(0, n_classes - 1 - dim)


def cover_fraction(n_classes: int, dim: int) -> float:
    """Largest fraction of the 2^K dichotomies of K codes in R^dim that affine probes realize.

    [derived from Cover 1965, THEORY.md T5] K points in general position in R^d admit exactly
    C(K, d) = 2 sum_{i=0}^{d} binom(K-1, i) affinely separable dichotomies, and no K points admit
    more; so at most C(K, d) / 2^K of the binary invariant tasks (constant ones included) are
    LIN-realizable on invariant codes. The fraction is 1 iff K <= d + 1. With ``dim`` the
    effective affine rank r of the codes the same bound holds (the codes then lie in an
    r-dimensional affine subspace).

    Args:
        n_classes: K >= 1. dim: d >= 0.
    """
    n_classes, dim = as_count(n_classes, "n_classes", 1), as_count(dim, "dim", 0)
    return int(cover_count(n_classes, dim)) / 2**n_classes


# --------------------------------------------------------------------------------------------
# linear probes on held-out views


def heldout_class_accuracy(
    Z, classes, train_mask=None, *, ridge: float = 1e-4, random_state=0, stats: ViewStatistics | None = None
) -> float:
    """Linear predictability of M: accuracy of a ridge probe of the class on held-out views.

    [derived] THEORY.md T1.4 and section 2: the paper's second condition asks that M be predictable
    by the probe family. A ridge regression of the one-hot class (intercept, lam = ridge *
    lambda_max(S_tr) with S_tr the centred training views' scatter, `view_statistics.RidgeProbe`)
    is fitted on the training views and a held-out view counts as correct when its own class's
    score is strictly the largest. Invariant, affinely independent codes score 1 (for small ridge);
    T1.4 warns that predicting M alone is weaker than realizing every task, which
    `worst_task_accuracy` measures.

    Args:
        Z: (n, d) codes. classes: n labels or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view; default `split_views(classes)`, or, when
            every class has a single view (Z holds class codes), the probe is fitted and scored on
            all of them.
        ridge: relative ridge penalty, >= 0. random_state: seed of the default split.
        stats: `ViewStatistics` of (Z, classes, train_mask), when already built.

    Returns:
        Fraction of held-out views whose class is predicted, in [0, 1].
    """
    ridge = _check_ridge(ridge)
    Z, _, stats = _statistics(Z, classes, train_mask, random_state=random_state, stats=stats)
    return stats.ridge_probe(Z, ridge).class_accuracy()


def task_accuracy(
    Z, classes, task, train_mask=None, *, ridge: float = 1e-4, random_state=0, stats: ViewStatistics | None = None
) -> float:
    """Held-out accuracy of the ridge probe on one invariant task (any number of labels).

    [derived] THEORY.md section 0 and T1.3: the task ``task`` (K,) gives class m the label
    task[m]; the probe regresses one-hot task labels on the training views and a held-out view
    counts as correct when its label's score is strictly the largest.

    Args:
        Z: (n, d) codes. classes: n labels or `EquivalenceClasses` (K >= 2).
        task: (K,) non-negative integer labels, one per class, at least two distinct.
        train_mask, ridge, random_state, stats: as in `heldout_class_accuracy`.
    """
    ridge = _check_ridge(ridge)
    Z = as_view_features(Z)
    classes = as_classes(classes, int(Z.shape[0]))
    task = np.asarray(task)
    if task.shape != (classes.n_classes,):
        raise InputError(f"task has shape {task.shape} but there are {classes.n_classes} classes")
    if not np.issubdtype(task.dtype, np.integer) or (task < 0).any():
        raise InputError("task must hold non-negative integer labels, one per class")
    values, task = np.unique(task, return_inverse=True)
    if values.size < 2:
        raise InputError("task is constant: an invariant task needs at least two labels")
    Z, classes, stats = _statistics(Z, classes, train_mask, random_state=random_state, stats=stats)
    probe = stats.ridge_probe(Z, ridge)
    targets = np.eye(values.size)[task]  # (K, k)
    F = probe.scores @ targets + probe.c @ targets
    truth = task[probe.test_labels]
    own = F[np.arange(F.shape[0]), truth].copy()
    F[np.arange(F.shape[0]), truth] = -np.inf
    return float(np.mean(own > F.max(axis=1)))


@dataclass(frozen=True)
class WorstTask:
    """Result of the adversarial task search.

    ``accuracy``: the smallest held-out accuracy found; ``task`` (K,) int 0/1, one label per
    class, the task that reaches it; ``source``: "radon", "random" or "greedy" (the candidate family
    it came from, "greedy" when local search improved it, "one-versus-rest" when the budget allowed
    no candidate); ``n_evaluated``: tasks scored; ``budget``: the search's budget in words (tasks
    and seconds), and whether the time limit stopped it.
    """

    accuracy: float
    task: np.ndarray
    source: str
    n_evaluated: int
    budget: str = ""


def worst_task_accuracy(
    Z,
    classes,
    train_mask=None,
    *,
    n_radon: int = 8,
    n_random: int = 64,
    greedy_steps: int = 32,
    max_seconds: float | None = None,
    ridge: float = 1e-4,
    tol: float | None = None,
    random_state=0,
    stats: ViewStatistics | None = None,
) -> WorstTask:
    """Worst held-out accuracy of a fitted linear probe over invariant binary tasks, searched.

    [derived] THEORY.md section 2 and T1.2-T1.3. T1.2 says binary tasks suffice: every invariant
    task is LIN-realizable iff every binary one is. The search scores the ridge probe (fitted on the
    training views, scored on the held-out views, see the module docstring) on candidate tasks:

    - Radon splits: lambda ranges over the ``n_radon`` most nearly dependent directions, the
      unit vectors with sum_m lambda_m = 0 minimizing ||sum_m lambda_m c_m||, i.e. the smallest
      singular vectors of the (d+1) x K matrix [C; 1] with the affine row enforced exactly (the
      left singular vectors of the centred class-code matrix orthogonal to 1; exact null vectors,
      drawn at random in the null space, when the codes are affinely dependent at ``tol``: they
      give balanced splits, harder for a fitted probe than the sparse dependence of
      `geometry.radon_split`). The task is "lambda_m > 0 versus the rest": for an exact dependence
      both hulls share a point (T1.3), so no affine probe realizes it.
    - ``n_random`` uniformly random non-constant splits.
    - greedy: from the worst so far, up to ``greedy_steps`` single-class flips, each time the flip
      that lowers the accuracy most.

    The budget is n_radon + n_random candidates and greedy_steps rounds of K flips each, and at most
    ``max_seconds`` of search (None: no time limit); `WorstTask.budget` states it. Accuracy is the
    plain fraction of held-out views classified correctly (a tie counts as wrong).

    Args:
        Z: (n, d) codes. classes: n labels or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view; default `split_views(classes)`, or, when
            every class has a single view (Z holds class codes), the probe is fitted and scored on
            all of them.
        n_radon, n_random, greedy_steps: search budget (>= 0 each). max_seconds: time budget or None.
        ridge: relative ridge penalty. tol: relative tolerance for exact dependence (None: the
        dtype rule); ignored when ``stats`` is given.
        random_state: seed for the split, random tasks and random null vectors.
        stats: `ViewStatistics`, when already built (with the split to use).

    Returns:
        `WorstTask` (accuracy, task (K,) of 0/1, source, n_evaluated, budget).
    """
    ridge = _check_ridge(ridge)
    for name, value in (("n_radon", n_radon), ("n_random", n_random), ("greedy_steps", greedy_steps)):
        as_count(value, name, 0)
    if max_seconds is not None and not (np.isfinite(max_seconds) and max_seconds > 0):
        raise InputError(f"max_seconds must be a positive number or None, got {max_seconds}")
    rng = np.random.default_rng(random_state)
    Z, classes, stats = _statistics(Z, classes, train_mask, tol=tol, random_state=rng, stats=stats)
    started = time.perf_counter()
    K = classes.n_classes
    probe = stats.ridge_probe(Z, ridge)

    def out_of_time() -> bool:
        return max_seconds is not None and time.perf_counter() - started > max_seconds

    candidates: list[tuple[np.ndarray, str]] = []
    spectrum = _centred_means_spectrum(stats) if n_radon and K <= stats.d else None
    for lam in _nearly_dependent_directions(stats.means, n_radon, stats.tol, rng, spectrum):
        candidates.append((np.where(lam > 0, 1.0, -1.0), "radon"))
    for _ in range(n_random):
        signs = rng.choice([-1.0, 1.0], size=K)
        if np.all(signs == signs[0]):
            signs[rng.integers(K)] *= -1
        candidates.append((signs, "random"))

    best_signs, best_source, best_acc, n_eval, timed_out = None, "", np.inf, 0, False
    candidates = [(signs, source) for signs, source in candidates if not np.all(signs == signs[0])]
    for start in range(0, len(candidates), _CANDIDATE_BATCH):
        if n_eval and out_of_time():
            timed_out = True
            break
        batch = candidates[start : start + _CANDIDATE_BATCH]
        accuracies = probe.binary_accuracies(np.column_stack([signs for signs, _ in batch]))
        n_eval += len(batch)
        for (signs, source), acc in zip(batch, accuracies):
            if acc < best_acc:
                best_signs, best_source, best_acc = signs, source, float(acc)
    if best_signs is None:  # no candidate at all: start the local search from "class 0 versus the rest"
        best_signs, best_source = np.where(np.arange(K) == 0, 1.0, -1.0), "one-versus-rest"
        best_acc, n_eval = probe.binary_accuracy(best_signs), n_eval + 1

    steps = 0
    for _ in range(greedy_steps):
        if out_of_time():
            timed_out = True
            break
        flip, acc, evaluated = _best_flip(probe, best_signs)
        n_eval += evaluated
        steps += 1
        if flip is None or acc >= best_acc:
            break
        best_signs = best_signs.copy()
        best_signs[flip] *= -1
        best_acc, best_source = acc, "greedy"
    budget = (
        f"{n_radon} Radon + {n_random} random tasks, up to {greedy_steps} greedy rounds of {K} flips"
        + (f", {max_seconds:g} s" if max_seconds is not None else "")
        + ("; stopped by the time limit" if timed_out else "")
    )
    return WorstTask(float(best_acc), (best_signs > 0).astype(np.int64), best_source, n_eval, budget)


def _nearly_dependent_directions(C: np.ndarray, count: int, rtol: float, rng, spectrum=None) -> list[np.ndarray]:
    """Up to ``count`` unit vectors lambda (K,) with sum(lambda) = 0, most nearly dependent first.

    Exact null vectors of [C; 1] (random ones, when the centred codes have rank < K - 1 at the
    relative tolerance ``rtol``) come first, then the left singular vectors of the centred codes
    from the smallest kept singular value up. When K <= d the vectors are eigenvectors of the
    K x K Gram matrix of the centred codes (candidates, not decisions: its rounding only perturbs
    them), only the ones needed (the null space and ``count`` more: LAPACK's MRRR on an index
    range). ``spectrum``: (M, unit, s, G) of `_centred_means_spectrum` when already computed (M the
    centred codes, s their singular values descending, G = M M^T or None), else computed here.
    """
    K = C.shape[0]
    if count == 0 or K < 2:
        return []
    if K <= C.shape[1]:
        import scipy.linalg as sl

        if spectrum is None:
            M, _ = centre_codes(C)
            s, G = centred_singular_values(M, np.float64, rtol), None
        else:
            M, _, s, G = spectrum
        floor = s[0] * np.sqrt(K * np.finfo(float).eps) if s.size else 0.0  # the Gram's rounding level
        rtol = max(rtol, floor / s[0]) if s.size and s[0] > 0 else rtol
        rank = min(int(np.sum(s > rtol * s[0])), K - 1) if s.size and s[0] > 0 else 0
        top = min(K - 1, K - 1 - rank + count)  # ascending: the K - rank null directions, then count kept
        G = M @ M.T if G is None or G.shape != (K, K) else G
        _, V = sl.eigh(G, subset_by_index=[0, top], driver="evr", check_finite=False)
        null, kept = V[:, : K - rank], V[:, K - rank :]
        out: list[np.ndarray] = []
        if K - 1 - rank > 0:
            for _ in range(count):
                g = rng.standard_normal(K)
                g = null @ (null.T @ g)
                g -= g.mean()
                norm = np.linalg.norm(g)
                if norm > 0:
                    out.append(g / norm)
        out.extend(kept[:, j] for j in range(kept.shape[1]))  # from the smallest kept singular value up
        return out[:count]
    X = C - C.mean(axis=0)
    U, s, _ = np.linalg.svd(X, full_matrices=False)
    rank = min(int(np.sum(s > rtol * s[0])), K - 1) if s.size and s[0] > 0 else 0
    U = U[:, :rank]
    out: list[np.ndarray] = []
    n_null = K - 1 - rank
    if n_null > 0:
        for _ in range(count):
            g = rng.standard_normal(K)
            g -= U @ (U.T @ g)
            g -= g.mean()
            norm = np.linalg.norm(g)
            if norm > 0:
                out.append(g / norm)
    for j in range(rank - 1, -1, -1):
        if len(out) >= count:
            break
        out.append(U[:, j])
    return out[:count]


#: candidate tasks scored together (one matrix product) between two looks at the clock
_CANDIDATE_BATCH = 16


def _best_flip(probe, signs: np.ndarray, chunk: int = 64):
    """The single-class flip of ``signs`` with the lowest held-out accuracy: (class, acc, n), the
    lowest index among equals; (None, inf, 0) when every flip leaves a constant task."""
    acc = flip_accuracies(probe, signs, chunk)
    allowed = np.flatnonzero(~np.isnan(acc))
    if allowed.size == 0:
        return None, np.inf, 0
    best = int(allowed[np.argmin(acc[allowed])])
    return best, float(acc[best]), int(allowed.size)


def flip_accuracies(probe, signs: np.ndarray, chunk: int = 64) -> np.ndarray:
    """(K,) held-out accuracy of the +-1 task ``signs`` (K,) with class m's sign flipped, for every m
    (NaN where the flip leaves a constant task: m was the only class of its side).

    Flipping class m (sign s_m) moves every view's score s_i to s_i - 2 s_m F_im (F: the one-hot
    scores with intercept, `RidgeProbe.columns`) and flips the truth y_i of class m's views. A view
    i outside class m stays correct iff y_i s_i > 2 s_m y_i F_im; a view of class m is correct after
    the flip iff 2 F_im > s_m s_i. Both are the sign tests y'_i s'_i > 0 rearranged with exact
    operations (products by +-1 and 2, a - b > 0 iff a > b), so every decision equals the direct
    evaluation's. One (chunk, n_ev) comparison per chunk of classes (`RidgeProbe.class_major`), plus
    the views of each class; only on the views a bound leaves open: with r_i the largest |F_im| over
    the other classes (`RidgeProbe.other_class_reach`), |2 s_m y_i F_im| <= 2 r_i exactly, so a view
    with y_i s_i > 2 r_i stays correct whichever other class flips, and one with y_i s_i < -2 r_i
    stays wrong (strict inequalities: a view on a bound is compared entry by entry).
    """
    K = signs.size
    labels = probe.test_labels
    scores = probe.binary_scores(signs)
    y = signs[labels]
    u = y * scores
    rows = np.arange(labels.size)
    own = probe.scores[rows, labels] + probe.c[labels]  # F_{i, m(i)}
    # a view of class m(i) = m has s_m y_i = 1: the loop below counts it by u_i > 2 F_im (taken off
    # again here) where its truth flips and the test is 2 F_im > u_i
    stays = u > 2.0 * own
    flipped = 2.0 * own > u
    correct = np.bincount(labels, weights=flipped.astype(float) - stays, minlength=K)
    # decided by the bound: in every other class's row a sure view counts 1 and a lost one 0, and in
    # its own row the loop's test is u_i > 2 F_im (stays)
    reach = 2.0 * probe.other_class_reach()
    sure, lost = u > reach, u < -reach
    decided = sure | lost
    correct += np.bincount(labels[decided], weights=stays[decided], minlength=K)
    correct += np.count_nonzero(sure) - np.bincount(labels[sure], minlength=K)
    open_ = np.flatnonzero(~decided)
    F_t = probe.class_major()  # (K, n_ev)
    if open_.size < labels.size:
        F_t, y, u = F_t[:, open_], y[open_], u[open_]
    buffer = np.empty((min(chunk, K), open_.size))
    below = np.empty((min(chunk, K), open_.size), dtype=bool)
    for start in range(0, K, chunk):
        stop = min(start + chunk, K)
        threshold = buffer[: stop - start]
        np.multiply(F_t[start:stop], (2.0 * signs[start:stop])[:, None], out=threshold)
        threshold *= y[None, :]
        np.less(threshold, u[None, :], out=below[: stop - start])
        correct[start:stop] += below[: stop - start].sum(axis=1)
    acc = correct / labels.size
    n_same = np.array([np.sum(signs < 0), np.sum(signs > 0)])
    acc[n_same[(signs > 0).astype(int)] == 1] = np.nan
    return acc


# --------------------------------------------------------------------------------------------
# the headline


@dataclass(frozen=True)
class IdealScore:
    """The headline score and what it is made of (`ideal_score`).

    ``value``: 1.0 when ``ideal`` (the exact verdict at ``tol``), else ``invariant_share *
    recoverable_share`` (capped just below 1). ``invariant_share`` = tr(Sigma_B) / tr(Sigma_T) =
    1 - invariance ratio; ``recoverable_share`` = tr(Sigma_B (Sigma_T + tau^2 I)^{-1}) / (K - 1),
    Pillai's trace over K - 1 (the mean squared canonical correlation between the views and the
    one-hot class), tau^2 = tol^2 lambda_max(Sigma_B). Components kept beside it:
    ``heldout_accuracy`` = n_correct / n_heldout, held-out views whose class (M) the ridge probe
    fitted on the training views predicts; ``ideal``: `conditions.is_ideal` on the views at
    ``tol``; ``failing``: the names of its failing conditions.
    """

    value: float
    invariant_share: float
    recoverable_share: float
    heldout_accuracy: float
    n_correct: int
    n_heldout: int
    ideal: bool
    failing: tuple
    tol: float


def headline_shares(stats: ViewStatistics) -> tuple[float, float]:
    """(invariant_share, recoverable_share) of the headline, from the statistics alone.

    invariant_share = tr B / tr T (1 when every code coincides: nothing varies, nothing within).
    recoverable_share = tr(B (T + tau^2 I)^{-1}) / (K - 1) with tau^2 = tol^2 lambda_max(B), in
    scatter units (the 1/n of the covariances cancels), from a Cholesky factor of T + tau^2 I and
    B = D^T D, D (K, d) the view-weighted centred class means: ||L^{-1} D^T||_F^2. Without a
    usable Cholesky factor (tau = 0 and T singular) the pseudo-inverse of T (eigenvalues above
    lambda_max(T) d eps) is used. 0 when every class has the same mean.
    """
    trB = stats.between_trace
    trT = float(stats.within_per_class.sum()) + trB
    invariant = 1.0 if trT == 0 else trB / trT
    D = stats.between_factor  # (K, d)
    if trB == 0 or stats.K < 2:
        return invariant, 0.0
    lam_b = _largest_between_eigenvalue(stats)
    tau2 = stats.tol**2 * lam_b
    trace = None
    if tau2 > 0:
        import scipy.linalg as sl

        try:
            # .T: the F-ordered view of the symmetric matrix, which LAPACK factors in place (no copy)
            L = sl.cholesky(plus_identity(stats.total, tau2).T, lower=True, overwrite_a=True, check_finite=False)
            X = sl.solve_triangular(L, D.T, lower=True, check_finite=False)
            trace = float(np.einsum("ij,ij->", X, X))
        except np.linalg.LinAlgError:
            trace = None
    if trace is None:
        e, V = np.linalg.eigh(stats.total)
        keep = e > e[-1] * stats.d * np.finfo(float).eps
        P = V[:, keep].T @ D.T
        trace = float(np.sum(P * P / (e[keep] + tau2)[:, None]))
    return invariant, float(min(1.0, max(0.0, trace / (stats.K - 1))))


def _largest_between_eigenvalue(stats: ViewStatistics) -> float:
    """lambda_max(B), B = D^T D. When every class has as many views and the centred means' singular
    values are already known (`_centred_means_spectrum`, in `score_all`), it is n_m unit^2 s_max^2
    (D = sqrt(n_m) (mu_m - mu) = sqrt(n_m) unit M, up to the rounding of the centring); else
    `view_statistics.largest_squared_singular_value` of D."""
    known = stats._cache.get("centred_means_spectrum")
    sizes = stats.sizes
    if known is not None and known[2].size and np.all(sizes == sizes[0]):
        _, unit, s, _ = known
        return float(sizes[0]) * (unit * float(s[0])) ** 2
    return largest_squared_singular_value(stats.between_factor)


def ideal_score(
    Z,
    classes,
    train_mask=None,
    *,
    tol: float | None = None,
    ridge: float = 1e-4,
    random_state=0,
    stats: ViewStatistics | None = None,
    verdict=None,
) -> IdealScore:
    """How close the views are to ideal: 1 exactly when the verdict passes, else a share below 1.

    [derived from THEORY.md T1 and T3] T1: a representation is ideal for linear probes iff every
    invariant task is an exact affine function of invariant codes, i.e. iff (a) the codes are
    invariant (no within-class spread) and (b) the one-hot class M, hence every invariant task
    (every function of M), is an affine function of the codes: the class codes are affinely
    independent (d >= K - 1). T3: any within-class spread lifts the worst-case ERM risk above the
    ideal floor, and more spread lifts it more. The score multiplies one share per condition, each
    a population quantity of the views (no counting of correct answers, so it keeps moving when a
    held-out probe is already perfect):

    - invariant_share = tr(Sigma_B) / tr(Sigma_T) = 1 - invariance ratio: the share of the views'
      variance that is between classes, 1 iff invariant (condition a);
    - recoverable_share = tr(Sigma_B (Sigma_T + tau^2 I)^{-1}) / (K - 1): Pillai's trace over
      K - 1, the mean squared canonical correlation between the views and the one-hot M, i.e. the
      mean, over the K - 1 whitened directions of M (invariant tasks), of the population R^2 of
      the best linear probe of that task (condition b). It is at most min(d, K - 1) / (K - 1), so
      it falls when d < K - 1; within-class spread lowers it (Sigma_T grows); with no spread, a
      direction of the class codes with singular value s_k contributes s_k^2 / (s_k^2 + tol^2 s_1^2),
      one half exactly at the verdict's rank threshold, so it falls as the codes approach affine
      dependence. tau^2 = tol^2 lambda_max(Sigma_B) is that threshold.

    ``value`` = 1.0 if the exact verdict on the views at ``tol`` passes (`conditions.is_ideal`,
    linear probes), otherwise min(invariant_share * recoverable_share, the largest float below 1):
    exactly 1 iff the verdict passes. It falls strictly as within-class spread grows (views
    C[m] + sigma E with class-centred E), as the smallest singular value of the class codes goes
    to 0, and when d drops below K - 1. ``heldout_class_accuracy`` (the ridge probe of M on
    held-out views) stays as a component.

    Label-free: the classes are the augmentation's (the source images of the reference
    augmentation), never the downstream labels.

    Args:
        Z: (n, d) codes of augmented views. classes: n class ids or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view of the held-out accuracy component; default
            `split_views(classes)`, or, when every class has a single view (Z holds class codes),
            the probe is fitted and scored on all of them.
        tol: relative tolerance of the verdict and of tau (None: the dtype rule, max(K, d) x eps
            of Z's dtype as given); ignored when ``stats`` is given.
        ridge: relative ridge penalty of the accuracy component, >= 0. random_state: seed of the
        default split. stats: `ViewStatistics`, when built. verdict: `is_ideal`'s verdict on
        (Z, classes) at ``stats.tol``, when already computed.

    Returns:
        `IdealScore`.
    """
    ridge = _check_ridge(ridge)
    Z, classes, stats = _statistics(Z, classes, train_mask, tol=tol, random_state=random_state, stats=stats)
    if verdict is None:
        verdict = is_ideal(to_numpy(Z), classes, probe="linear", tol=stats.tol)
    invariant, recoverable = headline_shares(stats)
    probe = stats.ridge_probe(Z, ridge)
    n_heldout = int(probe.test_labels.size)
    accuracy = probe.class_accuracy()
    value = 1.0 if verdict.ok else min(invariant * recoverable, float(np.nextafter(1.0, 0.0)))
    failing = tuple(name for name, c in verdict.conditions.items() if not c.ok)
    return IdealScore(
        float(value),
        float(invariant),
        float(recoverable),
        float(accuracy),
        int(round(accuracy * n_heldout)),
        n_heldout,
        bool(verdict.ok),
        failing,
        stats.tol,
    )


# --------------------------------------------------------------------------------------------
# log-losses of probes of M


def ridge_log_loss(
    Z,
    classes,
    train_mask=None,
    *,
    ridge: float = 1e-4,
    random_state=0,
    stats: ViewStatistics | None = None,
    notes: list | None = None,
) -> float:
    """Held-out log-loss (nats) of the ridge probe of M, its scores calibrated by one temperature.

    [derived] The ridge probe of `heldout_class_accuracy` gives every held-out view a score f_m per
    class; softmax(beta f) turns them into probabilities with one inverse temperature beta >= 0
    (beta = 0 is chance, log K). beta is fitted by 2-fold cross-fitting on the held-out views
    (views at even positions fit the beta scored on the odd ones and vice versa), so the loss is an
    honest held-out estimate with one fitted parameter. The negative log-likelihood
    L(beta) = mean(logsumexp(beta f) - beta f_y) is convex, with L' = mean(E_p[f] - f_y) and
    L'' = mean(Var_p[f]); it is minimized over 0 <= beta <= 100 log(K) / std(f) (the bound keeps
    separable halves, whose loss falls forever, from an arbitrary infinite temperature) by
    safeguarded Newton steps (bisection on the bracket when a step leaves it), stopping when
    |L'| <= 1e-9 (1 + mean |f|), at a bound, or after 100 steps; a search that stops unconverged
    is reported in ``notes`` (a list, appended to). Cheap: it reuses the probe of every other
    score, one pass over the (n_heldout, K) scores per step.

    Args: as `heldout_class_accuracy`; ``notes``: list receiving any non-convergence message.
    """
    ridge = _check_ridge(ridge)
    Z, _, stats = _statistics(Z, classes, train_mask, random_state=random_state, stats=stats)
    probe = stats.ridge_probe(Z, ridge)
    F = probe.scores + probe.c
    y = probe.test_labels
    own = F[np.arange(y.size), y]
    parts = [np.arange(0, y.size, 2), np.arange(1, y.size, 2)] if y.size >= 2 else [np.arange(y.size)] * 2
    beta_max = 100.0 * np.log(max(stats.K, 2)) / max(float(np.std(F)), 1e-300)
    total = 0.0
    for fit_rows, eval_rows in ((parts[0], parts[1]), (parts[1], parts[0])):
        beta, converged = _fit_temperature(F[fit_rows], own[fit_rows], beta_max)
        if not converged and notes is not None:
            notes.append("ridge_log_loss: the temperature's Newton search stopped after 100 steps without converging")
        total += _softmax_nll(F[eval_rows], own[eval_rows], beta)[0] * eval_rows.size
    return total / (parts[0].size + parts[1].size)


def _softmax_nll(F: np.ndarray, own: np.ndarray, beta: float) -> tuple[float, float, float]:
    """(L, L', L'') of L(beta) = mean(logsumexp(beta F) - beta own) over the rows of F (n, K)."""
    E = beta * F  # then exp(beta F - max), in place
    top = E.max(axis=1, keepdims=True)
    E -= top
    np.exp(E, out=E)
    Zs = E.sum(axis=1)
    mean_f = np.einsum("ij,ij->i", E, F) / Zs  # E_p[f] with p = E / Zs
    E *= F
    var_f = np.einsum("ij,ij->i", E, F) / Zs - mean_f**2
    loss = float(np.mean(np.log(Zs) + top[:, 0] - beta * own))
    return loss, float(np.mean(mean_f - own)), float(np.mean(np.clip(var_f, 0.0, None)))


def _fit_temperature(F: np.ndarray, own: np.ndarray, beta_max: float) -> tuple[float, bool]:
    """argmin over 0 <= beta <= beta_max of the convex `_softmax_nll`: (beta, converged)."""
    tol = 1e-9 * (1.0 + float(np.mean(np.abs(F))))
    if np.array_equal(F.max(axis=1), F.min(axis=1)):  # each view's scores are equal: uniform at every beta
        return 0.0, True
    # L'(0) = mean(mean_k F_ik - own_i): at beta = 0 the softmax is uniform (no exponentials needed)
    if float(np.mean(F.mean(axis=1) - own)) >= 0:  # the loss grows from beta = 0: chance is the best calibration
        return 0.0, True
    if _softmax_nll(F, own, beta_max)[1] <= 0:  # still falling at the bound: the bound
        return beta_max, True
    low, high, beta = 0.0, beta_max, min(beta_max, 1.0 / max(float(np.std(F)), 1e-300))
    for _ in range(100):
        _, slope, curve = _softmax_nll(F, own, beta)
        if abs(slope) <= tol:
            return beta, True
        if slope < 0:
            low = beta
        else:
            high = beta
        step = beta - slope / curve if curve > 0 else np.inf
        beta = step if low < step < high else 0.5 * (low + high)
    return beta, False


def heldout_log_loss(
    Z, classes, train_mask=None, *, weight_decay: float = 1e-2, max_iter: int = 500, random_state=0
) -> float:
    """Held-out log-loss (nats) of a linear softmax head predicting M from Z: the ISSL log-loss on views.

    [paper Fig. 7b, derived estimator] The ISSL objective (THEORY.md P3, T6) is the log-loss of
    predicting the maximal invariant M from Z through a linear head. Here the head is a multinomial
    logistic regression with intercept, fitted (L-BFGS, objective mean cross-entropy +
    weight_decay / 2 ||W||^2 on codes centred and scaled by the training views' overall standard
    deviation) on the training views and evaluated on the held-out views. log K is chance.
    Iterative and costly at real size (d x K parameters), so not part of `score_all`
    (`ridge_log_loss` is its cheap relative there); a fit that stops at ``max_iter`` without
    converging raises a RuntimeWarning saying so.

    Args:
        Z: (n, d) codes. classes: n class ids or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view; default `split_views(classes)`.
        weight_decay: L2 penalty, > 0. max_iter: L-BFGS iterations. random_state: seed of the split.
    """
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    Z = np.asarray(to_numpy(as_view_features(Z)), dtype=np.float64)
    classes = as_classes(classes, Z.shape[0])
    if classes.n_classes < 2:
        raise InputError(f"classes has {classes.n_classes} class; this score needs at least 2")
    if not np.isfinite(weight_decay) or weight_decay <= 0:
        raise InputError(f"weight_decay must be a finite number > 0, got {weight_decay}")
    mask = check_train_mask(train_mask, classes, random_state)
    K, labels = classes.n_classes, classes.labels
    mean = Z[mask].mean(axis=0)
    scale = float(np.sqrt(np.mean((Z[mask] - mean) ** 2)))
    X = (Z - mean) / scale if scale > 0 else np.zeros_like(Z)
    Xtr, ytr = X[mask], labels[mask]
    n, d = Xtr.shape
    onehot = np.eye(K)[ytr]

    def objective(theta):
        W, b = theta[: d * K].reshape(d, K), theta[d * K :]
        logp = log_softmax(Xtr @ W + b, axis=1)
        p = np.exp(logp)
        loss = -np.mean(logp[np.arange(n), ytr]) + 0.5 * weight_decay * np.sum(W * W)
        G = (p - onehot) / n
        return loss, np.concatenate([(Xtr.T @ G + weight_decay * W).ravel(), G.sum(axis=0)])

    result = minimize(objective, np.zeros(d * K + K), jac=True, method="L-BFGS-B", options={"maxiter": int(max_iter)})
    if not result.success:
        warnings.warn(
            f"heldout_log_loss: L-BFGS stopped after {result.nit} iterations without converging ({result.message})",
            RuntimeWarning,
            stacklevel=2,
        )
    W, b = result.x[: d * K].reshape(d, K), result.x[d * K :]
    logp = log_softmax(X[~mask] @ W + b, axis=1)
    return float(-np.mean(logp[np.arange(logp.shape[0]), labels[~mask]]))


# --------------------------------------------------------------------------------------------
# baselines


def _entropy_rank_of_spectrum(eigenvalues: np.ndarray, count: int, eps: float, what: str) -> float:
    """RankMe's form on singular values sqrt(eigenvalues[:count]) of a Gram matrix.

    Eigenvalues at or below lambda_max * d * eps64 (the float64 Gram's rounding level) count as 0.
    """
    if not np.isfinite(eps) or eps < 0:
        raise InputError(f"eps must be a finite number >= 0, got {eps}")
    e = np.asarray(eigenvalues[:count], dtype=float)
    if e.size == 0 or e[0] <= 0:
        raise InputError(f"features are all zero{what}: RankMe is undefined")
    e = np.where(e > e[0] * eigenvalues.size * np.finfo(float).eps, e, 0.0)
    return _entropy_rank(np.sqrt(e), eps)


def rankme(Z, eps: float = 1e-7, *, stats: ViewStatistics | None = None) -> float:
    """RankMe (Garrido, Balestriero, Najman, LeCun, ICML 2023): smooth rank of the embeddings.

    [paper: RankMe] RankMe(Z) = exp(-sum_{k=1}^{min(n,d)} p_k log p_k), p_k = s_k / ||s||_1 + eps,
    with s_k the singular values of the (uncentred, as in the paper) embedding matrix Z, here the
    square roots of the eigenvalues of Z^T Z in float64 (`ViewStatistics.second_moment_eigenvalues`).
    An isotropic Gaussian sample with n >> d scores about d; a rank-r matrix with equal singular
    values scores about r. `rankme_centred` is the same on centred features.

    Args:
        Z: (n, d) embeddings, one row per sample. eps: the paper's small constant (1e-7), >= 0.
        stats: `ViewStatistics` of Z (any classes), when built.
    """
    if stats is None:
        Z = as_view_features(Z)
        stats = ViewStatistics.from_views(Z, np.zeros(Z.shape[0], dtype=np.int64), heldout=False)
    return _entropy_rank_of_spectrum(stats.second_moment_eigenvalues, min(stats.n, stats.d), eps, "")


def rankme_centred(Z, eps: float = 1e-7, *, stats: ViewStatistics | None = None) -> float:
    """RankMe on centred features (not the paper's convention; named as such): the entropy rank of
    the singular values of Z - mean(Z), i.e. of the square roots of the covariance's eigenvalues.

    Args: as `rankme`.
    """
    if stats is None:
        Z = as_view_features(Z)
        stats = ViewStatistics.from_views(Z, np.zeros(Z.shape[0], dtype=np.int64), heldout=False)
    return _entropy_rank_of_spectrum(stats.total_eigenvalues, min(stats.n - 1, stats.d), eps, " once centred")


def alpha_req(Z, *, rtol: float = 1e-10, max_rank: int | None = None, stats: ViewStatistics | None = None) -> float:
    """alpha-ReQ (Agrawal, Mondal, Ghosh, Richards, NeurIPS 2022): eigenspectrum decay exponent.

    [paper: alpha-ReQ] The eigenvalues lambda_1 >= lambda_2 >= ... of the feature covariance
    (centred, divided by n - 1; `ViewStatistics.total_eigenvalues`) are modelled as
    lambda_i ~ i^{-alpha}; alpha is the negated slope of the least-squares line through
    (log i, log lambda_i). Numerically zero eigenvalues (those below ``rtol * lambda_1``, e.g.
    beyond rank n - 1) are left out, and so are i > ``max_rank``. A spectrum lambda_i = a i^{-alpha}
    returns alpha exactly.

    Args:
        Z: (n, d) features. rtol: relative cut-off for zero eigenvalues. max_rank: fit only
        lambda_1..lambda_max_rank (None: all kept). stats: `ViewStatistics` of Z, when built.
    """
    if stats is None:
        Z = as_view_features(Z)
        if Z.shape[0] < 2:
            raise InputError(f"features has {Z.shape[0]} row; a covariance needs at least 2")
        stats = ViewStatistics.from_views(Z, np.zeros(Z.shape[0], dtype=np.int64), heldout=False)
    if stats.n < 2:
        raise InputError(f"features has {stats.n} row; a covariance needs at least 2")
    if not np.isfinite(rtol) or rtol < 0:
        raise InputError(f"rtol must be a finite number >= 0, got {rtol}")
    eig = stats.total_eigenvalues[: min(stats.n - 1, stats.d)] / (stats.n - 1)
    if eig.size == 0 or eig[0] == 0:
        raise InputError("features have zero covariance: the spectrum has no decay to fit")
    eig = eig[eig > rtol * eig[0]]
    if max_rank is not None:
        eig = eig[: as_count(max_rank, "max_rank", 2)]
    if eig.size < 2:
        raise InputError("the covariance has fewer than 2 non-zero eigenvalues: alpha-ReQ needs at least 2")
    log_i = np.log(np.arange(1, eig.size + 1))
    slope = np.polyfit(log_i, np.log(eig), 1)[0]
    return float(-slope)


def lidar(Z, classes, *, delta: float = 1e-4, eps: float = 1e-8, stats: ViewStatistics | None = None) -> float:
    """LiDAR (Thilak et al., ICLR 2024): effective rank of the LDA matrix of augmented views.

    [paper: LiDAR] Each class (a source image, "surrogate class") has several augmented views.
    With class means mu_m, their unweighted mean mu, K classes and n_m views of class m:

        Sigma_b = 1/(K-1) sum_m (mu_m - mu)(mu_m - mu)^T
        Sigma_w = 1/(sum_m (n_m - 1)) sum_m sum_{i in m} (z_i - mu_m)(z_i - mu_m)^T + delta I
        Sigma_lidar = Sigma_w^{-1/2} Sigma_b Sigma_w^{-1/2}
        LiDAR = exp(-sum_k p_k log p_k),  p_k = lambda_k / ||lambda||_1 + eps

    with lambda_k the d eigenvalues of Sigma_lidar (the pooled within-class covariance generalises
    the paper's equal-views normalisation). They are the generalized eigenvalues of (Sigma_b,
    Sigma_w), computed from a Cholesky factor L of Sigma_w as the eigenvalues of the
    min(K, d)-sized matrix X^T X / (K - 1), X = L^{-1} (mu_m - mu) (d x K), padded with the zeros
    of Sigma_b's null space. With delta = 0 LiDAR is invariant to every invertible linear map of
    the features; delta > 0 (the paper's regulariser, an absolute constant) breaks that only at
    scales near delta.

    Args:
        Z: (n, d) features of the augmented views. classes: n labels or `EquivalenceClasses`
        (K >= 2, each class with at least 2 views). delta: ridge added to Sigma_w, >= 0.
        eps: entropy smoothing, >= 0. stats: `ViewStatistics`, when built.

    Raises:
        ValueError: a class with fewer than 2 views (no within-class covariance to whiten with),
        or a singular Sigma_w (no Cholesky factor, or a reciprocal condition number estimate below
        1e-12; with delta = 0, e.g. fewer within-class degrees of freedom n - K than d).
    """
    import scipy.linalg as sl

    for name, value in (("delta", delta), ("eps", eps)):
        if not np.isfinite(value) or value < 0:
            raise InputError(f"{name} must be a finite number >= 0, got {value}")
    if stats is None:
        Z = as_view_features(Z)
        classes = as_classes(classes, int(Z.shape[0]))
        if classes.n_classes < 2:
            raise InputError(f"classes has {classes.n_classes} class; LiDAR needs at least 2")
        _lonely_check(classes.sizes, "LiDAR needs at least 2 views per class to whiten by the within-class covariance")
        stats = ViewStatistics.from_views(Z, classes, heldout=False)
    _lonely_check(stats.sizes, "LiDAR needs at least 2 views per class to whiten by the within-class covariance")
    K, d, n = stats.K, stats.d, stats.n
    singular = InputError(
        f"the within-class covariance is singular ({n - K} within-class degrees of "
        f"freedom for {d} dimensions); use more views per class or delta > 0"
    )
    if delta == 0 and n - K < d:
        raise singular
    ridge = delta / stats.unit / stats.unit  # delta in the statistics' units (stats.unit is a power of two)
    if not np.isfinite(ridge):
        raise InputError(
            f"delta = {delta:g} is out of float64's range on features of scale {stats.unit:.3g}; "
            "rescale the features or pass delta on their scale"
        )
    sigma_w = stats.within / (n - K)
    sigma_w.flat[:: d + 1] += ridge  # + ridge I
    # its 1-norm (largest column sum of |.|), by blocks of columns: no (d, d) |sigma_w| temporary;
    # taken before the factorisation overwrites sigma_w
    norm = max(float(np.abs(sigma_w[:, j : j + 256]).sum(axis=0).max()) for j in range(0, d, 256))
    try:
        L = sl.cholesky(sigma_w.T, lower=True, overwrite_a=True, check_finite=False)  # .T: in place (symmetric)
    except np.linalg.LinAlgError:
        raise singular from None
    rcond, _ = sl.lapack.dpocon(L, norm, uplo="L")
    if not rcond > 1e-12:
        raise singular
    between = stats.means - stats.means.mean(axis=0)  # (K, d), unweighted as in the paper
    X = sl.solve_triangular(L, between.T, lower=True, check_finite=False)  # (d, K)
    small = X.T @ X if K <= d else X @ X.T
    lam = np.clip(np.linalg.eigvalsh(small / (K - 1)), 0.0, None)
    if lam.sum() == 0:
        raise InputError("all class means coincide: the between-class covariance is zero")
    lam = np.concatenate([lam, np.zeros(d - lam.size)])
    return _entropy_rank(lam, eps)


def _lonely_check(sizes: np.ndarray, what: str) -> None:
    lonely = np.flatnonzero(np.asarray(sizes) < 2)
    if lonely.size:
        raise InputError(f"{what}; classes {lonely[:10].tolist()} have 1")


# --------------------------------------------------------------------------------------------
# the registry


@dataclass(frozen=True)
class ScoreInfo:
    """One entry of the score registry.

    ``orientation``: +1 (larger is better), -1 (smaller is better) or "alpha" (best near 1:
    -|alpha - 1|); ``meaning``: one line for people; ``ours``: False for the published baselines;
    ``provenance``: the paper (or "derived"); ``compute(stats, Z, classes, **params)`` -> float (or
    ValueError when undefined on these views: `score_all` then reports None and the reason in its
    notes). ``params`` carries score_all's settings and shared results: ``ridge``, ``lidar_delta``,
    ``verdict`` (`is_ideal` at stats.tol), ``worst`` (`WorstTask`), ``conditioning``
    (`AffineConditioning`), ``notes`` (a list to append remarks to); an entry takes what it needs
    and ignores the rest (``**_``).
    """

    orientation: object
    meaning: str
    ours: bool = True
    compute: Callable | None = field(default=None, compare=False)
    provenance: str = "derived"
    label: str = ""  #: how `Scores.format` names it (default: the registry name)


def _registry_headline(stats, Z, classes, *, verdict, **_):
    invariant, recoverable = stats.cached("headline_shares", lambda: headline_shares(stats))
    return 1.0 if verdict.ok else min(invariant * recoverable, float(np.nextafter(1.0, 0.0)))


#: The score registry: name -> `ScoreInfo`, in reporting order. Reports, ``ssltheory score`` and
#: the score-validation experiment read it; a new score is one entry here.
SCORES: dict[str, ScoreInfo] = {
    "ideal_score": ScoreInfo(
        1,
        "1 iff the verdict at tol passes, else tr(S_B)/tr(S_T) x tr(S_B (S_T + tau^2 I)^-1)/(K-1) "
        "(invariant share x Pillai's trace / (K-1), tau = tol s_1): falls with spread, near-dependence, d < K-1",
        compute=_registry_headline,
        provenance="derived, THEORY.md T1/T3",
    ),
    "heldout_class_accuracy": ScoreInfo(
        1,
        "ridge probe of M (the source image), held-out views",
        compute=lambda stats, Z, classes, *, ridge, **_: stats.ridge_probe(Z, ridge).class_accuracy(),
    ),
    "ridge_log_loss": ScoreInfo(
        -1,
        "log-loss of the ridge probe of M on held-out views at a cross-fitted temperature (nats)",
        compute=lambda stats, Z, classes, *, ridge, notes, **_: ridge_log_loss(
            Z, classes, ridge=ridge, stats=stats, notes=notes
        ),
    ),
    "worst_task_accuracy": ScoreInfo(
        1,
        "smallest held-out accuracy over invariant binary tasks found (within the stated budget)",
        compute=lambda stats, Z, classes, *, worst, **_: worst.accuracy,
    ),
    "invariance_ratio": ScoreInfo(
        -1,
        "within / total sum of squares of the views (0 = invariant)",
        compute=lambda stats, Z, classes, **_: invariance_ratio(Z, classes, stats=stats).value,
    ),
    "affine_condition": ScoreInfo(
        1,
        "s_{K-1} / s_1 of the centred class codes (1 = regular simplex)",
        compute=lambda stats, Z, classes, *, conditioning, **_: conditioning.condition,
    ),
    "rankme": ScoreInfo(
        1,
        "RankMe, Garrido et al. 2023 (uncentred, as in the paper)",
        ours=False,
        compute=lambda stats, Z, classes, **_: rankme(Z, stats=stats),
        provenance="Garrido et al., ICML 2023",
        label="RankMe",
    ),
    "rankme_centred": ScoreInfo(
        1,
        "RankMe on centred features (a variant, not the paper's convention)",
        ours=False,
        compute=lambda stats, Z, classes, **_: rankme_centred(Z, stats=stats),
        provenance="variant of Garrido et al. 2023",
        label="RankMe (centred)",
    ),
    "lidar": ScoreInfo(
        1,
        "LiDAR, Thilak et al. 2024",
        ours=False,
        compute=lambda stats, Z, classes, *, lidar_delta, **_: lidar(Z, classes, delta=lidar_delta, stats=stats),
        provenance="Thilak et al., ICLR 2024",
        label="LiDAR",
    ),
    "alpha_req": ScoreInfo(
        "alpha",
        "alpha-ReQ, Agrawal et al. 2022 (best near 1)",
        ours=False,
        compute=lambda stats, Z, classes, **_: alpha_req(Z, stats=stats),
        provenance="Agrawal et al., NeurIPS 2022",
        label="alpha-ReQ",
    ),
    "twonn_dimension": ScoreInfo(
        1,
        "TwoNN intrinsic dimension of the views, Facco et al. 2017 (larger = more expressive, the field's reading)",
        ours=False,
        compute=lambda stats, Z, classes, **_: twonn_dimension(
            to_numpy(Z), pool=stats.cached("pairwise_pool", lambda: PairwisePool.from_features(to_numpy(Z)))
        ),
        provenance="Facco et al., Sci. Rep. 2017",
        label="TwoNN ID",
    ),
    "mst_dimension": ScoreInfo(
        1,
        "minimum-spanning-tree (PH0) intrinsic dimension of the views, the estimator of IdEst (ICML 2026)",
        ours=False,
        compute=lambda stats, Z, classes, **_: mst_dimension(
            to_numpy(Z), pool=stats.cached("pairwise_pool", lambda: PairwisePool.from_features(to_numpy(Z)))
        ),
        provenance="Costa and Hero 2004; Birdal et al. 2021; IdEst, ICML 2026",
        label="MST ID",
    ),
    "alignment": ScoreInfo(
        -1,
        "mean squared distance between L2-normalised views of one class, Wang and Isola 2020 (lower is better)",
        ours=False,
        compute=lambda stats, Z, classes, **_: alignment(to_numpy(Z), classes),
        provenance="Wang and Isola, ICML 2020",
        label="alignment",
    ),
    "uniformity": ScoreInfo(
        -1,
        "log mean exp(-2 ||u - v||^2) over pairs of L2-normalised views, Wang and Isola 2020 (lower is better)",
        ours=False,
        compute=lambda stats, Z, classes, **_: uniformity(
            to_numpy(Z), pool=stats.cached("pairwise_pool", lambda: PairwisePool.from_features(to_numpy(Z)))
        ),
        provenance="Wang and Isola, ICML 2020",
        label="uniformity",
    ),
    "nesum": ScoreInfo(
        1,
        "NESum, He and Ozay 2022: covariance eigenvalues summed, over the largest (1 collapsed, d whitened)",
        ours=False,
        compute=lambda stats, Z, classes, **_: nesum_from_eigenvalues(stats.total_eigenvalues),
        provenance="He and Ozay, ICML 2022",
        label="NESum",
    ),
}


def oriented(name: str, values) -> np.ndarray:
    """Values of the registered score ``name`` turned so that larger should mean better
    (`SCORES`' orientation); None becomes NaN."""
    values = np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)
    orientation = SCORES[name].orientation
    if orientation == "alpha":
        return -np.abs(values - 1.0)
    return float(orientation) * values


# --------------------------------------------------------------------------------------------
# everything at once


@dataclass(frozen=True)
class Scores:
    """Every score of one representation (`score_all`); ``to_dict()`` is the JSON payload and
    ``format()`` the one text form read by reports, the command line and experiments.

    ``values``: registered score name -> value (None where undefined, with the reason in
    ``notes``), in `SCORES` order; each is also an attribute (``scores.rankme``). Sizes:
    ``n_points``, ``n_classes`` (K), ``dim`` (d), ``dtype`` (of the features as given). Verdict:
    ``ideal`` (`conditions.is_ideal` on the views at ``tol``), ``failing`` (its failing
    conditions), ``verdict_mode`` ("tolerance": decided at ``tol``), ``verdict`` (the
    `IdealVerdict` itself, not in ``to_dict``), ``statistics`` (the `ViewStatistics`, not in
    ``to_dict``). The tolerance: ``tol`` and ``tol_rule`` (what
    decided it). Components: ``invariant_share`` and ``recoverable_share`` (the headline's two
    factors); ``affine_rank`` (at ``tol``), ``affine_singular_values``; ``dimension_deficit``,
    ``cover_fraction`` (at d), ``cover_fraction_effective`` (at the affine rank);
    ``worst_task`` (one 0/1 label per class), ``worst_task_source``, ``worst_task_evaluated``,
    ``worst_task_budget``. Settings: ``ridge``; ``augmentation``: the name of the augmentation that
    drew the views (None for given features).
    """

    n_points: int
    n_classes: int
    dim: int
    dtype: str
    values: dict
    ideal: bool
    failing: tuple
    verdict_mode: str
    invariant_share: float
    recoverable_share: float
    affine_rank: int
    affine_singular_values: tuple
    dimension_deficit: int
    cover_fraction: float
    cover_fraction_effective: float
    worst_task: tuple
    worst_task_source: str
    worst_task_evaluated: int
    worst_task_budget: str
    tol: float
    tol_rule: str
    ridge: float
    augmentation: dict | None = None
    notes: tuple = ()
    verdict: object = field(default=None, compare=False, repr=False)
    statistics: object = field(default=None, compare=False, repr=False)

    def __getattr__(self, name: str):
        if name != "values" and name in SCORES:
            return self.values.get(name)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    def to_dict(self) -> dict:
        """JSON-ready dict: sizes, every registered score by name, then the components and settings."""
        out = {
            "n_points": self.n_points,
            "n_classes": self.n_classes,
            "dim": self.dim,
            "dtype": self.dtype,
            **{name: self.values.get(name) for name in SCORES},
        }
        for f in self.__dataclass_fields__.values():
            if f.name in ("values", "verdict", "statistics") or f.name in out:
                continue
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def format(self) -> str:
        """A few lines for people: K, d, the tolerance, the headline and its components, the baselines."""

        def num(name, spec):
            value = self.values.get(name)
            if value is None:
                return "undefined"
            text = format(value, spec)
            if name == "ideal_score" and value < 1 and float(text) == 1:  # never print a flattering 1
                return f"1 - {1 - value:.2g}"
            return text

        aug = self.augmentation
        strength = f" s={aug['strength']:g}" if aug and aug.get("strength") is not None else ""
        views = f"views of augmentation {aug['kind']}{strength}" if aug else "rows"
        verdict = "ideal" if self.ideal else f"not ideal, failing {', '.join(self.failing)}"
        lines = [
            f"{self.n_points} {views} ({self.dtype}), {self.n_classes} classes, d = {self.dim}",
            f"  tolerance          {self.tol:.3g} x s_1 ({self.tol_rule}); verdict decided by tolerance: {verdict}",
            f"  ideal score        {num('ideal_score', '.4f')}  (1 iff the verdict passes; invariant share "
            f"{self.invariant_share:.4f} x recoverable share {self.recoverable_share:.4f})",
            f"  invariance ratio   {num('invariance_ratio', '.4g')}  (0 = invariant)",
            f"  affine rank        {self.affine_rank} of {self.n_classes - 1} at tolerance {self.tol:.3g}"
            f"  (condition {num('affine_condition', '.3g')}, dimension deficit {self.dimension_deficit})",
            f"  class accuracy     {num('heldout_class_accuracy', '.4f')}  (held-out views; ridge log-loss "
            f"{num('ridge_log_loss', '.4f')})",
            f"  worst task acc.    {num('worst_task_accuracy', '.4f')}  (found by {self.worst_task_source}, "
            f"{self.worst_task_evaluated} tasks tried; budget {self.worst_task_budget})",
        ]
        shown = {
            "ideal_score",
            "invariance_ratio",
            "affine_condition",
            "heldout_class_accuracy",
            "ridge_log_loss",
            "worst_task_accuracy",
        }
        others = [f"{SCORES[name].label or name} {num(name, '.3f')}" for name in SCORES if name not in shown]
        lines += [f"  {'   '.join(others[i : i + 4])}" for i in range(0, len(others), 4)]
        lines += [f"  note: {note}" for note in self.notes]
        lines.append(
            "  (docs/THEORY.md section 2 defines each score and says what to change in training when a condition fails)"
        )
        return "\n".join(lines)


def score_all(
    Z,
    classes,
    train_mask=None,
    *,
    tol: float | None = None,
    ridge: float = 1e-4,
    n_radon: int = 8,
    n_random: int = 64,
    greedy_steps: int = 32,
    max_seconds: float | None = None,
    lidar_delta: float = 1e-4,
    augmentation: dict | None = None,
    random_state=0,
    stats: ViewStatistics | None = None,
) -> Scores:
    """Every registered score (`SCORES`) on the views ``Z`` grouped by ``classes``: a `Scores`.

    The statistics (`ViewStatistics`) are built once and `conditions.is_ideal` runs once, at the
    tolerance of `view_statistics.tolerance_rule` (``tol``, else max(K, d) x eps of Z's dtype as
    given); every registry entry reads them. Every class needs at least 2 views (held-out scoring).
    The same training/held-out split serves every held-out score. A score that is undefined on the
    codes (RankMe of all-zero codes, alpha-ReQ with fewer than 2 non-zero covariance eigenvalues,
    LiDAR with a singular within-class covariance) is None with its reason in ``notes``, so that
    any finite codes (collapsed, rank 1, constant, d = 1) can be scored. ``augmentation`` names
    what drew the views (carried along). ``max_seconds`` bounds the worst-task search. Z may be a
    numpy array or a torch tensor (any device). Other arguments as in the individual functions.
    Runs under the thread policy (`ssltheory.threads.thread_limit`: ``SSLTHEORY_THREADS``, else the
    free cores).
    """
    with thread_limit():
        return _score_all(
            Z,
            classes,
            train_mask,
            tol=tol,
            ridge=ridge,
            n_radon=n_radon,
            n_random=n_random,
            greedy_steps=greedy_steps,
            max_seconds=max_seconds,
            lidar_delta=lidar_delta,
            augmentation=augmentation,
            random_state=random_state,
            stats=stats,
        )


def _score_all(
    Z,
    classes,
    train_mask,
    *,
    tol,
    ridge,
    n_radon,
    n_random,
    greedy_steps,
    max_seconds,
    lidar_delta,
    augmentation,
    random_state,
    stats,
) -> Scores:
    """`score_all` under the thread policy."""
    Z = as_view_features(Z)
    classes = as_classes(classes, int(Z.shape[0]))
    if classes.n_classes < 2:
        raise InputError("classes has 1 class (a single class); scoring needs at least 2")
    _lonely_check(classes.sizes, "score_all needs at least 2 views per class (held-out scores)")
    ridge = _check_ridge(ridge)
    rng = np.random.default_rng(random_state)
    if stats is None:
        stats = ViewStatistics.from_views(Z, classes, check_train_mask(train_mask, classes, rng), tol=tol)
    # the verdict's geometry is what the engine measured while streaming numpy views (same numbers)
    geometry = None if _is_tensor(Z) else stats.code_geometry()
    verdict = is_ideal(to_numpy(Z), classes, probe="linear", tol=stats.tol, geometry=geometry)
    conditioning = affine_conditioning(Z, classes, stats=stats)
    worst = worst_task_accuracy(
        Z,
        classes,
        n_radon=n_radon,
        n_random=n_random,
        greedy_steps=greedy_steps,
        max_seconds=max_seconds,
        ridge=ridge,
        random_state=rng,
        stats=stats,
    )
    notes: list[str] = []
    params = {
        "ridge": ridge,
        "lidar_delta": lidar_delta,
        "verdict": verdict,
        "worst": worst,
        "conditioning": conditioning,
        "notes": notes,
    }
    values = {}
    for name, info in SCORES.items():
        try:
            values[name] = float(info.compute(stats, Z, classes, **params))
        except ValueError as exc:
            values[name] = None
            notes.append(f"{name} undefined: {exc}")
    invariant, recoverable = stats.cached("headline_shares", lambda: headline_shares(stats))
    K, d = stats.K, stats.d
    return Scores(
        n_points=stats.n,
        n_classes=K,
        dim=d,
        dtype=stats.dtype,
        values=values,
        ideal=bool(verdict.ok),
        failing=tuple(name for name, c in verdict.conditions.items() if not c.ok),
        verdict_mode=verdict.mode,
        invariant_share=float(invariant),
        recoverable_share=float(recoverable),
        affine_rank=int(conditioning.rank),
        affine_singular_values=tuple(float(v) for v in conditioning.singular_values),
        dimension_deficit=dimension_deficit(K, d),
        cover_fraction=cover_fraction(K, d),
        cover_fraction_effective=cover_fraction(K, conditioning.rank),
        worst_task=tuple(int(t) for t in worst.task),
        worst_task_source=worst.source,
        worst_task_evaluated=int(worst.n_evaluated),
        worst_task_budget=worst.budget,
        tol=float(stats.tol),
        tol_rule=stats.tol_rule,
        ridge=ridge,
        augmentation=None if augmentation is None else dict(augmentation),
        notes=tuple(notes),
        verdict=verdict,
        statistics=stats,
    )
