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
                            greedy), returned with the task found                           [derived, T1.3]
- `ideal_score`             one number in [0, 1], 1 exactly when T1.2's conditions hold     [derived]

and three baselines from their papers: `rankme` (Garrido et al. 2023), `alpha_req` (Agrawal et al.
2022) and `lidar` (Thilak et al. 2024). `score_all` returns all of them as one JSON-ready dict,
the payload of ``ssltheory score``.

Conventions. ``Z`` is an (n, d) array of codes, one row per view (augmented input). ``classes`` is
an `EquivalenceClasses` or an array of n class labels; classes are numbered 0..K-1 as
`EquivalenceClasses.from_labels` numbers them, and a *task* is an int array of shape (K,), one label
per class in that numbering. The class code c_m of a (possibly non-invariant) representation is the
mean of its views' codes. The linear probe used throughout is closed-form ridge regression onto
one-hot targets with an intercept, classified by strict argmax (a view counts as correct only if
its label's score is strictly largest, THEORY.md section 0), fitted on the training views and scored
on held-out views. Ridge rather than logistic regression because its predictions are linear in the
targets, so that one factorisation of the training views serves every task of the adversarial
search; with invariant, affinely independent codes it interpolates (the pseudo-inverse probe of
T1.3), so every task then scores 1.

Only numpy/scipy: this is a theory room.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ssltheory._validate import as_count, as_features, as_tolerance
from ssltheory.conditions import code_geometry, cover_count
from ssltheory.equivalence import EquivalenceClasses, as_classes
from ssltheory.geometry import affine_rank, affine_singular_values, resolve_rtol

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
    "ideal_score",
    "rankme",
    "alpha_req",
    "lidar",
    "score_all",
]

# --------------------------------------------------------------------------------------------
# boundary helpers


def _features_and_classes(Z, classes, *, min_classes: int = 2) -> tuple[np.ndarray, EquivalenceClasses]:
    """Validate ``Z`` (n, d) and ``classes`` (n labels or an EquivalenceClasses) together."""
    Z = as_features(Z, "features")
    classes = as_classes(classes, Z.shape[0])
    if classes.n_classes < min_classes:
        raise ValueError(
            f"classes has {classes.n_classes} class{'es' if classes.n_classes != 1 else ''}; "
            f"this score needs at least {min_classes}"
        )
    return Z, classes


def _train_mask(train_mask, classes: EquivalenceClasses, random_state) -> np.ndarray:
    """Validate a boolean mask of training views, or draw the default split."""
    if train_mask is None:
        return split_views(classes, random_state=random_state)
    mask = np.asarray(train_mask)
    if mask.ndim != 1 or mask.shape[0] != classes.n_points:
        raise ValueError(f"train_mask has shape {mask.shape} but features has {classes.n_points} rows")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError("train_mask must be boolean (True = training view)")
        mask = mask.astype(bool)
    labels = classes.labels
    if mask.all():
        raise ValueError("train_mask marks every view as training: there is no held-out view to score")
    if not mask.any():
        raise ValueError("train_mask marks no view as training")
    seen = np.bincount(labels[mask], minlength=classes.n_classes) > 0
    scored = np.bincount(labels[~mask], minlength=classes.n_classes) > 0
    unseen = np.flatnonzero(scored & ~seen)
    if unseen.size:
        raise ValueError(
            f"classes {unseen[:10].tolist()} have held-out views but no training view; "
            "a probe cannot be scored on a class it never saw"
        )
    return mask


def _entropy_rank(values: np.ndarray, eps: float) -> float:
    """exp of the Shannon entropy of p_k = v_k / ||v||_1 + eps (RankMe's and LiDAR's form)."""
    p = values / values.sum() + eps
    return float(np.exp(-np.sum(p * np.log(p))))


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


def invariance_ratio(Z, classes) -> InvarianceRatio:
    """How far ``Z`` is from invariant: within-class sum of squares over total sum of squares.

    [derived] THEORY.md section 2. phi is invariant (section 0) iff every view of a class has the
    class's code, i.e. iff SS_within = sum_i ||z_i - c_{M(i)}||^2 = 0 with c_m the class mean. The
    ratio SS_within / SS_total (SS_total = sum_i ||z_i - mean(z)||^2) is 0 exactly for invariant
    codes, at most 1, and unchanged by translations, rotations and rescalings of the codes. When all
    codes coincide (SS_total = 0) the codes are invariant and the ratio is 0.

    Args:
        Z: (n, d) codes, one row per view.
        classes: n class labels or an `EquivalenceClasses` with n points (K >= 2 classes).

    Returns:
        `InvarianceRatio` with ``value`` (float) and ``per_class`` ((K,) float array).
    """
    Z, classes = _features_and_classes(Z, classes)
    labels, K = classes.labels, classes.n_classes
    # Shift each class by one of its own views first: identical views then give exactly zero
    # residuals (a floating-point mean of equal rows need not equal the row).
    first = np.zeros(K, dtype=np.int64)
    first[labels[::-1]] = np.arange(len(labels))[::-1]
    shifted = Z - Z[first][labels]
    residual = shifted - classes.class_codes(shifted)[labels]
    sq = np.einsum("ij,ij->i", residual, residual)
    within = np.bincount(labels, weights=sq, minlength=K)
    centred = Z - Z.mean(axis=0)
    total = float(np.einsum("ij,ij->", centred, centred))
    if total == 0.0:
        return InvarianceRatio(0.0, np.zeros(K))
    n = Z.shape[0]
    per_class = (within / np.bincount(labels, minlength=K)) / (total / n)
    return InvarianceRatio(float(within.sum() / total), per_class)


# --------------------------------------------------------------------------------------------
# affine conditioning and dimension


@dataclass(frozen=True)
class AffineConditioning:
    """Conditioning of the class codes as an affine point set.

    ``singular_values`` (min(K, d),): singular values of the centred class-code matrix, descending.
    ``rank``: effective affine rank at ``tol`` (relative to the largest singular value; None means
    `geometry.default_rtol`, max(K, d) * machine epsilon).
    ``condition``: s_{K-1} / s_1, smallest over largest of the first K-1 singular values (0 when
    d < K - 1 or the codes are affinely dependent; 1 for a regular simplex).
    """

    singular_values: np.ndarray
    rank: int
    condition: float
    tol: float | None


def affine_conditioning(Z, classes, tol: float | None = None) -> AffineConditioning:
    """Singular values, effective affine rank and conditioning of the class codes.

    [derived] THEORY.md T1.2(c) and section 2. The class codes c_0..c_{K-1} are affinely
    independent iff the centred matrix C - mean(C) (K x d, centred by the unweighted mean of the K
    codes) has rank K - 1. Its singular values s_1 >= s_2 >= ... say how far the codes are from
    dependence: the effective affine rank counts those above ``tol * s_1`` (`geometry.affine_rank`,
    the toolkit's one definition, so it agrees with `conditions.is_ideal` at the same ``tol``), and
    s_{K-1} / s_1 is 1 for a regular
    simplex and tends to 0 as the codes approach an affine dependence. s_{K-1} is taken as 0 when
    d < K - 1. Translation-, rotation- and scale-invariant.

    Args:
        Z: (n, d) codes, one row per view.
        classes: n class labels or an `EquivalenceClasses` (K >= 2 classes).
        tol: relative tolerance of the effective rank in [0, 1), or None for `geometry.default_rtol`.
    """
    Z, classes = _features_and_classes(Z, classes)
    tol = as_tolerance(tol)
    C = classes.class_codes(Z)
    K = C.shape[0]
    s = affine_singular_values(C)
    s_km1 = s[K - 2] if s.size >= K - 1 else 0.0
    condition = float(s_km1 / s[0]) if s[0] > 0 else 0.0
    return AffineConditioning(s, int(affine_rank(C, tol)), condition, tol)


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


def split_views(classes, heldout_fraction: float = 0.5, random_state=0) -> np.ndarray:
    """Default training/held-out split of the views: a boolean (n,) mask, True = training view.

    Each class with n_m >= 2 views keeps at least one view on each side, with about
    ``heldout_fraction`` of its views held out (chosen at random); a class with one view trains
    only. Raises ValueError when no class has two views.

    Args:
        classes: n class labels or an `EquivalenceClasses`.
        heldout_fraction: in (0, 1).
        random_state: seed or `numpy.random.Generator`.
    """
    classes = as_classes(classes)
    if not 0.0 < heldout_fraction < 1.0:
        raise ValueError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    rng = np.random.default_rng(random_state)
    mask = np.ones(classes.n_points, dtype=bool)
    for members in classes.members:
        if len(members) < 2:
            continue
        n_out = min(len(members) - 1, max(1, int(round(heldout_fraction * len(members)))))
        mask[rng.choice(members, size=n_out, replace=False)] = False
    if mask.all():
        raise ValueError("every class has a single view: no view can be held out to score a probe")
    return mask


class _HeldOutRidge:
    """Ridge probe fitted on training views, scored on held-out views, as a linear map of targets.

    With X the centred training codes (n_tr x d, SVD X = U S V^T), per-class targets T (K x k) and
    A the (n_tr x K) class indicator of the training views, the ridge fit with intercept predicts
    on the held-out codes Xte (centred by the training mean)

        F = Xte V diag(s / (s^2 + lam)) U^T A T  +  1 (counts / n_tr)^T T  =  (B M + 1 c^T) T,

    so B (n_te x r), M (r x K) and c (K,) serve every task. lam = ridge * s_1^2 (scale-free).
    """

    def __init__(self, Z: np.ndarray, labels: np.ndarray, n_classes: int, mask: np.ndarray, ridge: float):
        Xtr, Xte = Z[mask], Z[~mask]
        mean = Xtr.mean(axis=0)
        U, s, Vt = np.linalg.svd(Xtr - mean, full_matrices=False)
        keep = s > (s[0] * max(Xtr.shape) * np.finfo(float).eps if s.size else 0.0)
        U, s, Vt = U[:, keep], s[keep], Vt[keep]
        lam = ridge * s[0] ** 2 if s.size else 0.0
        self.B = ((Xte - mean) @ Vt.T) * (s / (s**2 + lam))
        train_labels = labels[mask]
        self.M = np.zeros((s.size, n_classes))
        np.add.at(self.M.T, train_labels, U)
        self.c = np.bincount(train_labels, minlength=n_classes) / Xtr.shape[0]
        self.test_labels = labels[~mask]
        self.n_classes = n_classes

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """(n_te, len(cols)) held-out scores of the one-hot targets of classes ``cols``."""
        return self.B @ self.M[:, cols] + self.c[cols]

    def binary_scores(self, signs: np.ndarray) -> np.ndarray:
        """(n_te,) held-out scores for the +-1 task ``signs`` (K,); > 0 predicts +1."""
        return self.B @ (self.M @ signs) + self.c @ signs

    def binary_accuracy(self, signs: np.ndarray) -> float:
        return float(np.mean(signs[self.test_labels] * self.binary_scores(signs) > 0))

    def class_accuracy(self, chunk: int = 4096) -> float:
        """Fraction of held-out views whose own class has strictly the largest one-hot score."""
        correct = 0
        for start in range(0, self.test_labels.size, chunk):
            truth = self.test_labels[start : start + chunk]
            F = self.B[start : start + chunk] @ self.M + self.c
            rows = np.arange(truth.size)
            own = F[rows, truth]
            F[rows, truth] = -np.inf
            correct += int(np.sum(own > F.max(axis=1)))
        return correct / self.test_labels.size


def _check_ridge(ridge: float) -> float:
    if not np.isfinite(ridge) or ridge < 0:
        raise ValueError(f"ridge must be a finite number >= 0, got {ridge}")
    return float(ridge)


def heldout_class_accuracy(Z, classes, train_mask=None, *, ridge: float = 1e-4, random_state=0) -> float:
    """Linear predictability of M: accuracy of a ridge probe of the class on held-out views.

    [derived] THEORY.md T1.4 and section 2: the paper's second condition asks that M be predictable
    by the probe family. A ridge regression of the one-hot class (intercept, lam = ridge * s_1^2
    with s_1 the top singular value of the centred training codes) is fitted on the training views
    and a held-out view counts as correct when its own class's score is strictly the largest.
    Invariant, affinely independent codes score 1 (for small ridge); T1.4 warns that predicting M
    alone is weaker than realizing every task, which `worst_task_accuracy` measures.

    Args:
        Z: (n, d) codes. classes: n labels or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view; default `split_views(classes)`.
        ridge: relative ridge penalty, >= 0. random_state: seed of the default split.

    Returns:
        Fraction of held-out views whose class is predicted, in [0, 1].
    """
    Z, classes = _features_and_classes(Z, classes)
    ridge = _check_ridge(ridge)
    mask = _train_mask(train_mask, classes, random_state)
    return _HeldOutRidge(Z, classes.labels, classes.n_classes, mask, ridge).class_accuracy()


def task_accuracy(Z, classes, task, train_mask=None, *, ridge: float = 1e-4, random_state=0) -> float:
    """Held-out accuracy of the ridge probe on one invariant task (any number of labels).

    [derived] THEORY.md section 0 and T1.3: the task ``task`` (K,) gives class m the label
    task[m]; the probe regresses one-hot task labels on the training views and a held-out view
    counts as correct when its label's score is strictly the largest.

    Args:
        Z: (n, d) codes. classes: n labels or `EquivalenceClasses` (K >= 2).
        task: (K,) non-negative integer labels, one per class, at least two distinct.
        train_mask, ridge, random_state: as in `heldout_class_accuracy`.
    """
    Z, classes = _features_and_classes(Z, classes)
    ridge = _check_ridge(ridge)
    task = np.asarray(task)
    if task.shape != (classes.n_classes,):
        raise ValueError(f"task has shape {task.shape} but there are {classes.n_classes} classes")
    if not np.issubdtype(task.dtype, np.integer) or (task < 0).any():
        raise ValueError("task must hold non-negative integer labels, one per class")
    values, task = np.unique(task, return_inverse=True)
    if values.size < 2:
        raise ValueError("task is constant: an invariant task needs at least two labels")
    mask = _train_mask(train_mask, classes, random_state)
    probe = _HeldOutRidge(Z, classes.labels, classes.n_classes, mask, ridge)
    targets = np.eye(values.size)[task]  # (K, k)
    F = probe.B @ (probe.M @ targets) + probe.c @ targets
    truth = task[probe.test_labels]
    own = F[np.arange(F.shape[0]), truth]
    F[np.arange(F.shape[0]), truth] = -np.inf
    return float(np.mean(own > F.max(axis=1)))


@dataclass(frozen=True)
class WorstTask:
    """Result of the adversarial task search.

    ``accuracy``: the smallest held-out accuracy found; ``task`` (K,) int 0/1, one label per
    class, the task that reaches it; ``source``: "radon", "random" or "greedy" (the candidate family
    it came from, "greedy" when local search improved it, "one-versus-rest" when the budget allowed
    no candidate); ``n_evaluated``: tasks scored.
    """

    accuracy: float
    task: np.ndarray
    source: str
    n_evaluated: int


def worst_task_accuracy(
    Z,
    classes,
    train_mask=None,
    *,
    n_radon: int = 8,
    n_random: int = 64,
    greedy_steps: int = 32,
    ridge: float = 1e-4,
    tol: float | None = None,
    random_state=0,
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

    Accuracy is the plain fraction of held-out views classified correctly (a tie counts as wrong).

    Args:
        Z: (n, d) codes. classes: n labels or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view; default `split_views(classes)`.
        n_radon, n_random, greedy_steps: search budget (>= 0 each).
        ridge: relative ridge penalty. tol: relative tolerance for exact dependence (None:
        `geometry.default_rtol`).
        random_state: seed for the split, random tasks and random null vectors.

    Returns:
        `WorstTask` (accuracy, task (K,) of 0/1, source, n_evaluated).
    """
    Z, classes = _features_and_classes(Z, classes)
    ridge = _check_ridge(ridge)
    tol = as_tolerance(tol)
    for name, value in (("n_radon", n_radon), ("n_random", n_random), ("greedy_steps", greedy_steps)):
        as_count(value, name, 0)
    rng = np.random.default_rng(random_state)
    mask = _train_mask(train_mask, classes, rng)
    K = classes.n_classes
    probe = _HeldOutRidge(Z, classes.labels, K, mask, ridge)
    C = classes.class_codes(Z)

    candidates: list[tuple[np.ndarray, str]] = []
    for lam in _nearly_dependent_directions(C, n_radon, tol, rng):
        candidates.append((np.where(lam > 0, 1.0, -1.0), "radon"))
    for _ in range(n_random):
        signs = rng.choice([-1.0, 1.0], size=K)
        if np.all(signs == signs[0]):
            signs[rng.integers(K)] *= -1
        candidates.append((signs, "random"))

    best_signs, best_source, best_acc, n_eval = None, "", np.inf, 0
    for signs, source in candidates:
        if np.all(signs == signs[0]):
            continue
        acc = probe.binary_accuracy(signs)
        n_eval += 1
        if acc < best_acc:
            best_signs, best_source, best_acc = signs, source, acc
    if best_signs is None:  # no candidate at all: start the local search from "class 0 versus the rest"
        best_signs, best_source = np.where(np.arange(K) == 0, 1.0, -1.0), "one-versus-rest"
        best_acc, n_eval = probe.binary_accuracy(best_signs), n_eval + 1

    for _ in range(greedy_steps):
        flip, acc, evaluated = _best_flip(probe, best_signs)
        n_eval += evaluated
        if flip is None or acc >= best_acc:
            break
        best_signs = best_signs.copy()
        best_signs[flip] *= -1
        best_acc, best_source = acc, "greedy"
    return WorstTask(float(best_acc), (best_signs > 0).astype(np.int64), best_source, n_eval)


def _nearly_dependent_directions(C: np.ndarray, count: int, tol: float | None, rng) -> list[np.ndarray]:
    """Up to ``count`` unit vectors lambda (K,) with sum(lambda) = 0, most nearly dependent first.

    Exact null vectors of [C; 1] (random ones, when the centred codes have rank < K - 1 at ``tol``)
    come first, then the left singular vectors of the centred codes from the smallest kept
    singular value up.
    """
    K = C.shape[0]
    if count == 0 or K < 2:
        return []
    U, s, _ = np.linalg.svd(C - C.mean(axis=0), full_matrices=False)
    rtol = resolve_rtol(tol, *C.shape)
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


def _best_flip(probe: _HeldOutRidge, signs: np.ndarray, chunk: int = 256):
    """The single-class flip of ``signs`` with the lowest held-out accuracy: (class, acc, n)."""
    K = signs.size
    scores = probe.binary_scores(signs)
    y = signs[probe.test_labels]
    n_same = (int(np.sum(signs < 0)), int(np.sum(signs > 0)))
    best_flip, best_acc, evaluated = None, np.inf, 0
    for start in range(0, K, chunk):
        cols = np.arange(start, min(start + chunk, K))
        # flipping class m moves every score by -2 s_m G[:, m] and flips the truth of class m's views
        new_scores = scores[:, None] - 2.0 * signs[cols] * probe.columns(cols)
        new_truth = np.where(probe.test_labels[:, None] == cols[None, :], -y[:, None], y[:, None])
        acc = np.mean(new_truth * new_scores > 0, axis=0)
        for j, m in enumerate(cols):
            if n_same[int(signs[m] > 0)] == 1:  # flipping the only class of its side: constant task
                continue
            evaluated += 1
            if acc[j] < best_acc:
                best_flip, best_acc = int(m), float(acc[j])
    return best_flip, best_acc, evaluated


# --------------------------------------------------------------------------------------------
# overall score


@dataclass(frozen=True)
class IdealScore:
    """``value`` = invariance * affine_independence * dimension, each factor in [0, 1]."""

    value: float
    invariance: float
    affine_independence: float
    dimension: float


def ideal_score(Z, classes, tol: float | None = None) -> IdealScore:
    """One number in [0, 1] for "how ideal for linear probes": 1 exactly when T1.2 holds.

    [derived] THEORY.md T1.2: for invariant codes every invariant task is LIN-realizable iff the
    class codes are affinely independent, which needs d >= K - 1. The score is the product of one
    factor per condition, each in [0, 1] and equal to 1 exactly when its condition holds:

    - invariance = 1 - invariance_ratio (1 iff the codes are invariant by `conditions.code_geometry`,
      the test `conditions.is_ideal` uses; just below 1 when the ratio rounds to 0 but they are not);
    - affine_independence = r / (K - 1), r the effective affine rank of the class codes at ``tol``
      (1 iff they are affinely independent at ``tol``);
    - dimension = min(1, d / (K - 1)) (1 iff d >= K - 1).

    So the score is 1 exactly for invariant, affinely independent codes with d >= K - 1 and each
    violated condition multiplies it by a factor below 1 (a dimension deficit violates two: the
    rank is then at most d < K - 1 too). It is a summary for ranking, not a probability; the exact
    verdict with its certificate is `conditions.is_ideal`, and `worst_task_accuracy` says what a
    fitted probe actually loses.

    Args:
        Z: (n, d) codes. classes: n labels or `EquivalenceClasses` (K >= 2). tol: as in
        `affine_conditioning`.
    """
    Z, classes = _features_and_classes(Z, classes)
    tol = as_tolerance(tol)
    K, d = classes.n_classes, Z.shape[1]
    invariance = 1.0 - invariance_ratio(Z, classes).value
    if invariance == 1.0 and not code_geometry(Z, classes, tol).invariant:
        # views that differ by less than the float resolution of the ratio: still not invariant
        # by is_ideal's tolerance rule, so the factor stays below 1
        invariance = float(np.nextafter(1.0, 0.0))
    rank = int(affine_rank(classes.class_codes(Z), tol))
    affine = min(rank, K - 1) / (K - 1)
    dimension = min(1.0, d / (K - 1))
    return IdealScore(invariance * affine * dimension, invariance, affine, dimension)


# --------------------------------------------------------------------------------------------
# baselines


def rankme(Z, eps: float = 1e-7) -> float:
    """RankMe (Garrido, Balestriero, Najman, LeCun, ICML 2023): smooth rank of the embeddings.

    [paper: RankMe] RankMe(Z) = exp(-sum_{k=1}^{min(n,d)} p_k log p_k), p_k = s_k / ||s||_1 + eps,
    with s_k the singular values of the (uncentred) embedding matrix Z. An isotropic Gaussian
    sample with n >> d scores about d; a rank-r matrix with equal singular values scores about r.

    Args:
        Z: (n, d) embeddings, one row per sample. eps: the paper's small constant (1e-7), >= 0.
    """
    Z = as_features(Z, "features")
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a finite number >= 0, got {eps}")
    s = np.linalg.svd(Z, compute_uv=False)
    if s.sum() == 0:
        raise ValueError("features are all zero: RankMe is undefined")
    return _entropy_rank(s, eps)


def alpha_req(Z, *, rtol: float = 1e-10, max_rank: int | None = None) -> float:
    """alpha-ReQ (Agrawal, Mondal, Ghosh, Richards, NeurIPS 2022): eigenspectrum decay exponent.

    [paper: alpha-ReQ] The eigenvalues lambda_1 >= lambda_2 >= ... of the feature covariance
    (centred, divided by n - 1) are modelled as lambda_i ~ i^{-alpha}; alpha is the negated slope of
    the least-squares line through (log i, log lambda_i). Numerically zero eigenvalues (those below
    ``rtol * lambda_1``, e.g. beyond rank n - 1) are left out, and so are i > ``max_rank``.
    A spectrum lambda_i = a i^{-alpha} returns alpha exactly.

    Args:
        Z: (n, d) features. rtol: relative cut-off for zero eigenvalues. max_rank: fit only
        lambda_1..lambda_max_rank (None: all kept).
    """
    Z = as_features(Z, "features")
    if Z.shape[0] < 2:
        raise ValueError(f"features has {Z.shape[0]} row; a covariance needs at least 2")
    if not np.isfinite(rtol) or rtol < 0:
        raise ValueError(f"rtol must be a finite number >= 0, got {rtol}")
    s = np.linalg.svd(Z - Z.mean(axis=0), compute_uv=False)
    eig = s**2 / (Z.shape[0] - 1)
    if eig.size == 0 or eig[0] == 0:
        raise ValueError("features have zero covariance: the spectrum has no decay to fit")
    eig = eig[eig > rtol * eig[0]]
    if max_rank is not None:
        eig = eig[: as_count(max_rank, "max_rank", 2)]
    if eig.size < 2:
        raise ValueError("the covariance has fewer than 2 non-zero eigenvalues: alpha-ReQ needs at least 2")
    log_i = np.log(np.arange(1, eig.size + 1))
    slope = np.polyfit(log_i, np.log(eig), 1)[0]
    return float(-slope)


def _alpha_req_or_none(Z) -> float | None:
    """alpha-ReQ, or None where it is undefined (fewer than 2 non-zero covariance eigenvalues,
    e.g. a collapsed representation), so that such a representation can still be scored."""
    try:
        return alpha_req(Z)
    except ValueError as exc:
        if "eigenvalues" in str(exc) or "zero covariance" in str(exc):
            return None
        raise


def lidar(Z, classes, *, delta: float = 1e-4, eps: float = 1e-8) -> float:
    """LiDAR (Thilak et al., ICLR 2024): effective rank of the LDA matrix of augmented views.

    [paper: LiDAR] Each class (a source image, "surrogate class") has several augmented views.
    With class means mu_m, their unweighted mean mu, K classes and n_m views of class m:

        Sigma_b = 1/(K-1) sum_m (mu_m - mu)(mu_m - mu)^T
        Sigma_w = 1/(sum_m (n_m - 1)) sum_m sum_{i in m} (z_i - mu_m)(z_i - mu_m)^T + delta I
        Sigma_lidar = Sigma_w^{-1/2} Sigma_b Sigma_w^{-1/2}
        LiDAR = exp(-sum_k p_k log p_k),  p_k = lambda_k / ||lambda||_1 + eps

    with lambda_k the d eigenvalues of Sigma_lidar (the pooled within-class covariance generalises
    the paper's equal-views normalisation). With delta = 0 the eigenvalues are those of
    Sigma_w^{-1} Sigma_b, so LiDAR is invariant to every invertible linear map of the features;
    delta > 0 (the paper's regulariser, an absolute constant) breaks that only at scales near
    delta.

    Args:
        Z: (n, d) features of the augmented views. classes: n labels or `EquivalenceClasses`
        (K >= 2, each class with at least 2 views). delta: ridge added to Sigma_w, >= 0.
        eps: entropy smoothing, >= 0.

    Raises:
        ValueError: a class with fewer than 2 views (no within-class covariance to whiten with),
        or a singular Sigma_w (smallest eigenvalue below 1e-12 times the largest; with delta = 0,
        e.g. fewer within-class degrees of freedom n - K than d).
    """
    Z, classes = _features_and_classes(Z, classes)
    for name, value in (("delta", delta), ("eps", eps)):
        if not np.isfinite(value) or value < 0:
            raise ValueError(f"{name} must be a finite number >= 0, got {value}")
    labels, K, d = classes.labels, classes.n_classes, Z.shape[1]
    sizes = np.bincount(labels, minlength=K)
    lonely = np.flatnonzero(sizes < 2)
    if lonely.size:
        raise ValueError(
            f"LiDAR needs at least 2 views per class to whiten by the within-class covariance; "
            f"classes {lonely[:10].tolist()} have 1"
        )
    means = classes.class_codes(Z)
    between = means - means.mean(axis=0)
    sigma_b = between.T @ between / (K - 1)
    within = Z - means[labels]
    sigma_w = within.T @ within / (Z.shape[0] - K) + delta * np.eye(d)
    w_eig, w_vec = np.linalg.eigh(sigma_w)
    if (delta == 0 and Z.shape[0] - K < d) or w_eig[0] <= w_eig[-1] * 1e-12:
        raise ValueError(
            f"the within-class covariance is singular ({Z.shape[0] - K} within-class degrees of "
            f"freedom for {d} dimensions); use more views per class or delta > 0"
        )
    inv_sqrt = (w_vec / np.sqrt(w_eig)) @ w_vec.T
    lam = np.clip(np.linalg.eigvalsh(inv_sqrt @ sigma_b @ inv_sqrt), 0.0, None)
    if lam.sum() == 0:
        raise ValueError("all class means coincide: the between-class covariance is zero")
    return _entropy_rank(lam, eps)


# --------------------------------------------------------------------------------------------
# everything at once


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
    lidar_delta: float = 1e-4,
    random_state=0,
) -> dict:
    """Every score of this module as one JSON-ready dict (the payload of ``ssltheory score``).

    Fields: ``n_points``, ``n_classes``, ``dim``; ``invariance_ratio``; ``affine_rank``,
    ``affine_condition``, ``affine_singular_values`` (list); ``dimension_deficit``,
    ``cover_fraction`` (bound at d) and ``cover_fraction_effective`` (bound at the effective
    affine rank); ``heldout_class_accuracy``; ``worst_task_accuracy``, ``worst_task`` (list, one
    0/1 label per class), ``worst_task_source``, ``worst_task_evaluated``; ``rankme``,
    ``alpha_req`` (None where undefined: fewer than 2 non-zero covariance eigenvalues), ``lidar``; ``ideal_score`` and its factors ``ideal_invariance``,
    ``ideal_affine_independence``, ``ideal_dimension``; and the settings ``tol``, ``ridge``.

    Every class needs at least 2 views (held-out scoring and LiDAR's whitening). The same
    training/held-out split serves both probe scores. Arguments as in the individual functions.
    """
    Z, classes = _features_and_classes(Z, classes)
    lonely = np.flatnonzero(np.asarray(classes.sizes) < 2)
    if lonely.size:
        raise ValueError(
            f"score_all needs at least 2 views per class (held-out probes, LiDAR); "
            f"classes {lonely[:10].tolist()} have 1"
        )
    rng = np.random.default_rng(random_state)
    mask = _train_mask(train_mask, classes, rng)
    K, d = classes.n_classes, Z.shape[1]
    conditioning = affine_conditioning(Z, classes, tol)
    worst = worst_task_accuracy(
        Z, classes, mask, n_radon=n_radon, n_random=n_random, greedy_steps=greedy_steps,
        ridge=ridge, tol=tol, random_state=rng,
    )
    ideal = ideal_score(Z, classes, tol)
    return {
        "n_points": int(Z.shape[0]),
        "n_classes": int(K),
        "dim": int(d),
        "invariance_ratio": invariance_ratio(Z, classes).value,
        "affine_rank": conditioning.rank,
        "affine_condition": conditioning.condition,
        "affine_singular_values": conditioning.singular_values.tolist(),
        "dimension_deficit": dimension_deficit(K, d),
        "cover_fraction": cover_fraction(K, d),
        "cover_fraction_effective": cover_fraction(K, conditioning.rank),
        "heldout_class_accuracy": heldout_class_accuracy(Z, classes, mask, ridge=ridge),
        "worst_task_accuracy": worst.accuracy,
        "worst_task": worst.task.tolist(),
        "worst_task_source": worst.source,
        "worst_task_evaluated": worst.n_evaluated,
        "rankme": rankme(Z),
        "alpha_req": _alpha_req_or_none(Z),
        "lidar": lidar(Z, classes, delta=lidar_delta),
        "ideal_score": ideal.value,
        "ideal_invariance": ideal.invariance,
        "ideal_affine_independence": ideal.affine_independence,
        "ideal_dimension": ideal.dimension,
        "tol": tol,
        "ridge": float(ridge),
    }
