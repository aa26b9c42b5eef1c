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
- `heldout_log_loss`        log-loss of a linear softmax head predicting M, held-out views  [paper Fig. 7b]
- `ideal_score`             the headline: probability that a linear ERM fitted on labelled views
                            classifies a fresh view correctly, 1.0 exactly when the exact
                            verdict on the views passes at the tolerance           [derived, T1/T3/P2]

and three baselines from their papers: `rankme` (Garrido et al. 2023), `alpha_req` (Agrawal et al.
2022) and `lidar` (Thilak et al. 2024). `score_all` returns all of them as one `Scores` (the payload
of ``ssltheory score``, of the reports and of the score-validation experiment); `SCORES` is the
registry of score names with their orientation.

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

from dataclasses import dataclass, fields

import numpy as np

from ssltheory.conditions import cover_count, is_ideal
from ssltheory.equivalence import EquivalenceClasses, as_classes
from ssltheory.geometry import affine_rank, affine_singular_values, resolve_rtol
from ssltheory.validation import as_count, as_features, as_tolerance

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
    "heldout_log_loss",
    "rankme",
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
    scaled, exponent = affine_singular_values(C, with_exponent=True)  # the ratio from values of order 1
    s_km1 = scaled[K - 2] if scaled.size >= K - 1 else 0.0
    condition = float(s_km1 / scaled[0]) if scaled[0] > 0 else 0.0
    with np.errstate(over="ignore"):
        s = np.ldexp(scaled, exponent)
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

    def __init__(self, Z: np.ndarray, labels: np.ndarray, n_classes: int, mask: np.ndarray, ridge: float,
                 evaluate: np.ndarray | None = None):
        evaluate = ~mask if evaluate is None else evaluate  # the views scored (default: held out)
        Xtr, Xte = Z[mask], Z[evaluate]
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
        self.test_labels = labels[evaluate]
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
        train_mask: boolean (n,), True = training view; default `split_views(classes)`, or, when
            every class has a single view (Z holds class codes), the probe is fitted and scored on
            all of them.
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
        train_mask: boolean (n,), True = training view; default `split_views(classes)`, or, when
            every class has a single view (Z holds class codes), the probe is fitted and scored on
            all of them.
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
# the headline: held-out ideal ISSL log-loss under an affine change of coordinates


@dataclass(frozen=True)
class IdealScore:
    """The headline score and what it is made of (`ideal_score`).

    ``value``: 1.0 when ``ideal`` (the exact verdict at ``tol``), else ``(n_correct + 1) /
    (n_heldout + 2)``, below 1. ``heldout_accuracy`` = n_correct / n_heldout: held-out views whose
    class (M) the linear ERM fitted on the training views predicts; ``ideal``: `conditions.is_ideal`
    on the views (invariance, affine independence, dimension at ``tol``); ``failing``: the names of
    its failing conditions.
    """

    value: float
    heldout_accuracy: float
    n_correct: int
    n_heldout: int
    ideal: bool
    failing: tuple


def ideal_score(Z, classes, train_mask=None, *, tol: float | None = None, ridge: float = 1e-4,
                random_state=0) -> IdealScore:
    """Probability that a linear probe trained on labelled views gets a fresh view's class right.

    [derived from THEORY.md T1, T3 and P2] Sample optimality (Def. 3) compares W_n, the risk of
    linear ERMs fitted on n labelled inputs, with its optimum: P2 / T3 give W_n = E[missing mass],
    (1 - 1/K)^n for K equiprobable classes, reached exactly by invariant encoders whose class codes
    are affinely independent (the conditions of T1.2: then a fresh view has its class's code and
    the pseudo-inverse ERM classifies every class code). With every class seen in the labelled
    views (here: each source image has training views), the missing mass is 0 and what is left of
    W_n is the risk on *fresh views of seen classes*, the part an encoder controls: for the task M
    itself (the finest invariant task; every invariant task is a function of it), the sample
    optimum is then accuracy 1. The score is that accuracy:

    - when the exact verdict on the views (`conditions.is_ideal` at ``tol``: invariance within
      tolerance, affinely independent class codes, d >= K - 1) passes, the theory says a fresh view
      is classified correctly with certainty, and the score is 1.0;
    - otherwise it is *measured*: a linear ERM of M (ridge regression of the one-hot class with an
      intercept, relative penalty ``ridge``, strict argmax, `heldout_class_accuracy`) is fitted on
      the training views and scored on the held-out views, and the probability of a correct fresh
      view is estimated by the rule of succession (c + 1) / (n + 2) from c correct out of n. It is
      below 1 whatever the sample, so a non-invariant (or affinely dependent, or too narrow)
      representation never scores 1.0, and it is a strictly increasing function of the held-out
      accuracy for a fixed number of held-out views, so encoders scored on the same views rank by
      their held-out linear predictability of M.

    Label-free: the classes are the augmentation's (the source images of the reference
    augmentation), never the downstream labels. The diagnostics of why it is below 1 are the
    failing conditions (``failing``) and `score_all`'s components.

    Args:
        Z: (n, d) codes of augmented views. classes: n class ids or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view; default `split_views(classes)`, or, when
            every class has a single view (Z holds class codes), the probe is fitted and scored on
            all of them.
        tol: relative tolerance of the verdict (None: `geometry.default_rtol`).
        ridge: relative ridge penalty of the probe, >= 0. random_state: seed of the default split.

    Returns:
        `IdealScore`.
    """
    Z, classes = _features_and_classes(Z, classes)
    tol = as_tolerance(tol)
    ridge = _check_ridge(ridge)
    verdict = is_ideal(Z, classes, probe="linear", tol=tol)
    if train_mask is None and classes.n_points == classes.n_classes:
        # One view per class: the rows are the class codes themselves, so a fresh view of a class
        # has its class's code, and the probe fitted on all of them is scored on those same codes.
        mask = np.ones(classes.n_points, dtype=bool)
        probe = _HeldOutRidge(Z, classes.labels, classes.n_classes, mask, ridge, evaluate=mask)
    else:
        mask = _train_mask(train_mask, classes, random_state)
        probe = _HeldOutRidge(Z, classes.labels, classes.n_classes, mask, ridge)
    n_heldout = int(probe.test_labels.size)
    accuracy = probe.class_accuracy()
    n_correct = int(round(accuracy * n_heldout))
    value = 1.0 if verdict.ok else (n_correct + 1) / (n_heldout + 2)
    failing = tuple(name for name, c in verdict.conditions.items() if not c.ok)
    return IdealScore(float(value), float(accuracy), n_correct, n_heldout, bool(verdict.ok), failing)


def heldout_log_loss(Z, classes, train_mask=None, *, weight_decay: float = 1e-2, max_iter: int = 500,
                     random_state=0) -> float:
    """Held-out log-loss (nats) of a linear softmax head predicting M from Z: the ISSL log-loss on views.

    [paper Fig. 7b, derived estimator] The ISSL objective (THEORY.md P3, T6) is the log-loss of
    predicting the maximal invariant M from Z through a linear head. Here the head is a multinomial
    logistic regression with intercept, fitted (L-BFGS, objective mean cross-entropy +
    weight_decay / 2 ||W||^2 on codes centred and scaled by the training views' overall standard
    deviation) on the training views and evaluated on the held-out views. log K is chance.

    Args:
        Z: (n, d) codes. classes: n class ids or `EquivalenceClasses` (K >= 2).
        train_mask: boolean (n,), True = training view; default `split_views(classes)`, or, when
            every class has a single view (Z holds class codes), the probe is fitted and scored on
            all of them.
        weight_decay: L2 penalty, > 0. max_iter: L-BFGS iterations. random_state: seed of the split.
    """
    from scipy.optimize import minimize
    from scipy.special import log_softmax

    Z, classes = _features_and_classes(Z, classes)
    if not np.isfinite(weight_decay) or weight_decay <= 0:
        raise ValueError(f"weight_decay must be a finite number > 0, got {weight_decay}")
    mask = _train_mask(train_mask, classes, random_state)
    K, labels = classes.n_classes, classes.labels
    mean = Z[mask].mean(axis=0)
    scale = float(np.sqrt(np.mean((Z[mask] - mean) ** 2)))
    X = (Z - mean) / scale if scale > 0 else np.zeros_like(Z)
    Xtr, ytr = X[mask], labels[mask]
    n, d = Xtr.shape
    onehot = np.eye(K)[ytr]

    def objective(theta):
        W, b = theta[: d * K].reshape(d, K), theta[d * K:]
        logp = log_softmax(Xtr @ W + b, axis=1)
        p = np.exp(logp)
        loss = -np.mean(logp[np.arange(n), ytr]) + 0.5 * weight_decay * np.sum(W * W)
        G = (p - onehot) / n
        return loss, np.concatenate([(Xtr.T @ G + weight_decay * W).ravel(), G.sum(axis=0)])

    theta = minimize(objective, np.zeros(d * K + K), jac=True, method="L-BFGS-B",
                     options={"maxiter": int(max_iter)}).x
    W, b = theta[: d * K].reshape(d, K), theta[d * K:]
    logp = log_softmax(X[~mask] @ W + b, axis=1)
    return float(-np.mean(logp[np.arange(logp.shape[0]), labels[~mask]]))


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


@dataclass(frozen=True)
class ScoreInfo:
    """One entry of the score registry: ``orientation`` +1 (larger is better), -1 (smaller is
    better) or "alpha" (best near 1: -|alpha - 1|); ``ours`` False for the published baselines."""

    orientation: object
    meaning: str
    ours: bool = True


#: The score registry: name -> `ScoreInfo`, in reporting order. Reports, ``ssltheory score`` and
#: the score-validation experiment read it; a new score is a function here plus one entry.
SCORES: dict[str, ScoreInfo] = {
    "ideal_score": ScoreInfo(1, "P(linear ERM gets a fresh view's class right): 1 exactly when ideal at tol"),
    "heldout_class_accuracy": ScoreInfo(1, "ridge probe of M (the source image), held-out views"),
    "heldout_log_loss": ScoreInfo(-1, "log-loss of a linear softmax head predicting M, held-out views (nats)"),
    "worst_task_accuracy": ScoreInfo(1, "smallest held-out accuracy over invariant binary tasks found"),
    "invariance_ratio": ScoreInfo(-1, "within / total sum of squares of the views (0 = invariant)"),
    "affine_condition": ScoreInfo(1, "s_{K-1} / s_1 of the centred class codes (1 = regular simplex)"),
    "rankme": ScoreInfo(1, "RankMe, Garrido et al. 2023", ours=False),
    "lidar": ScoreInfo(1, "LiDAR, Thilak et al. 2024", ours=False),
    "alpha_req": ScoreInfo("alpha", "alpha-ReQ, Agrawal et al. 2022 (best near 1)", ours=False),
}


def oriented(name: str, values) -> np.ndarray:
    """Values of the registered score ``name`` turned so that larger should mean better
    (`SCORES`' orientation); None becomes NaN."""
    values = np.array([np.nan if v is None else v for v in np.atleast_1d(values)], dtype=float)
    orientation = SCORES[name].orientation
    if orientation == "alpha":
        return -np.abs(values - 1.0)
    return float(orientation) * values


@dataclass(frozen=True)
class Scores:
    """Every score of one representation (`score_all`); ``to_dict()`` is the JSON payload and
    ``format()`` the one text form read by reports, the command line and experiments.

    Sizes: ``n_points``, ``n_classes`` (K), ``dim`` (d). Headline: ``ideal_score`` (`ideal_score`), with ``ideal``
    (the exact verdict on the views at ``tol``) and ``failing`` (its failing conditions).
    Components: ``invariance_ratio``; ``affine_rank`` (at ``tol``), ``affine_condition``,
    ``affine_singular_values``; ``dimension_deficit``, ``cover_fraction`` (at d),
    ``cover_fraction_effective`` (at the affine rank); ``heldout_class_accuracy``,
    ``heldout_log_loss``; ``worst_task_accuracy``, ``worst_task`` (one 0/1 label per class),
    ``worst_task_source``, ``worst_task_evaluated``. Baselines ``rankme``, ``lidar``, ``alpha_req``
    (None where undefined, with the reason in ``notes``). Settings ``tol``, ``ridge``;
    ``augmentation``: the name of the augmentation that drew the views (None for given features).
    """

    n_points: int
    n_classes: int
    dim: int
    ideal_score: float
    ideal: bool
    failing: tuple
    invariance_ratio: float
    affine_rank: int
    affine_condition: float
    affine_singular_values: tuple
    dimension_deficit: int
    cover_fraction: float
    cover_fraction_effective: float
    heldout_class_accuracy: float
    heldout_log_loss: float
    worst_task_accuracy: float
    worst_task: tuple
    worst_task_source: str
    worst_task_evaluated: int
    rankme: float | None
    lidar: float | None
    alpha_req: float | None
    tol: float | None
    ridge: float
    augmentation: dict | None = None
    notes: tuple = ()

    def to_dict(self) -> dict:
        """JSON-ready dict of every field (tuples as lists)."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    def format(self) -> str:
        """A few lines for people: K, d, the headline and its components, the baselines."""
        def num(value, spec):
            return "undefined" if value is None else format(value, spec)

        aug = self.augmentation
        views = f"views of augmentation {aug['kind']}" + (f" s={aug['strength']:g}" if aug.get("strength") is not None else "") if aug else "rows"
        lines = [
            f"{self.n_points} {views}, {self.n_classes} classes, d = {self.dim}",
            f"  ideal score        {self.ideal_score:.4f}  (1 = ideal; exact verdict on the views at tol {self.tol}: "
            + ("ideal)" if self.ideal else f"not ideal, failing {', '.join(self.failing)})"),
            f"  invariance ratio   {self.invariance_ratio:.4f}  (0 = invariant)",
            f"  affine rank        {self.affine_rank} of {self.n_classes - 1} at tol {self.tol}"
            f"  (condition {self.affine_condition:.3g}, dimension deficit {self.dimension_deficit})",
            f"  class accuracy     {self.heldout_class_accuracy:.4f}  " f"(held-out views; log-loss {self.heldout_log_loss:.4f})",
            f"  worst task acc.    {self.worst_task_accuracy:.4f}  (found by {self.worst_task_source}, "
            f"{self.worst_task_evaluated} tasks tried)",
            f"  RankMe {num(self.rankme, '.2f')}   LiDAR " f"{num(self.lidar, '.2f')}   alpha-ReQ {num(self.alpha_req, '.3f')}",
        ]
        lines += [f"  note: {note}" for note in self.notes]
        return "\n".join(lines)


def _or_none(fn, *args, **kwargs):
    """``fn(*args)``, or (None, reason) when the score is undefined on these codes (ValueError)."""
    try:
        return fn(*args, **kwargs), None
    except ValueError as exc:
        return None, f"{fn.__name__} undefined: {exc}"


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
    augmentation: dict | None = None,
    random_state=0,
) -> Scores:
    """Every score of this module on the views ``Z`` grouped by ``classes``: a `Scores`.

    Every class needs at least 2 views (held-out scoring). The same training/held-out split serves
    every held-out score. A baseline that is undefined on the codes (RankMe of all-zero codes,
    alpha-ReQ with fewer than 2 non-zero covariance eigenvalues, LiDAR with a singular within-class
    covariance) is None with its reason in ``notes``, so that any finite codes (collapsed, rank 1,
    constant, d = 1) can be scored. ``augmentation`` names what drew the views (carried along).
    Other arguments as in the individual functions.
    """
    Z, classes = _features_and_classes(Z, classes)
    lonely = np.flatnonzero(np.asarray(classes.sizes) < 2)
    if lonely.size:
        raise ValueError(
            f"score_all needs at least 2 views per class (held-out scores); "
            f"classes {lonely[:10].tolist()} have 1"
        )
    tol = as_tolerance(tol)
    rng = np.random.default_rng(random_state)
    mask = _train_mask(train_mask, classes, rng)
    K, d = classes.n_classes, Z.shape[1]
    conditioning = affine_conditioning(Z, classes, tol)
    worst = worst_task_accuracy(
        Z, classes, mask, n_radon=n_radon, n_random=n_random, greedy_steps=greedy_steps,
        ridge=ridge, tol=tol, random_state=rng,
    )
    ideal = ideal_score(Z, classes, mask, tol=tol, ridge=ridge)
    notes = []
    baselines = {}
    for name, fn, args, kwargs in (("rankme", rankme, (Z,), {}), ("lidar", lidar, (Z, classes), {"delta": lidar_delta}),
                                   ("alpha_req", alpha_req, (Z,), {})):
        baselines[name], why = _or_none(fn, *args, **kwargs)
        if why:
            notes.append(why)
    return Scores(
        n_points=int(Z.shape[0]), n_classes=int(K), dim=int(d),
        ideal_score=ideal.value, ideal=ideal.ideal, failing=ideal.failing,
        invariance_ratio=invariance_ratio(Z, classes).value,
        affine_rank=int(conditioning.rank), affine_condition=float(conditioning.condition),
        affine_singular_values=tuple(float(v) for v in conditioning.singular_values),
        dimension_deficit=dimension_deficit(K, d), cover_fraction=cover_fraction(K, d),
        cover_fraction_effective=cover_fraction(K, conditioning.rank),
        heldout_class_accuracy=heldout_class_accuracy(Z, classes, mask, ridge=ridge),
        heldout_log_loss=heldout_log_loss(Z, classes, mask),
        worst_task_accuracy=worst.accuracy, worst_task=tuple(int(t) for t in worst.task),
        worst_task_source=worst.source, worst_task_evaluated=int(worst.n_evaluated),
        rankme=baselines["rankme"], lidar=baselines["lidar"], alpha_req=baselines["alpha_req"],
        tol=tol, ridge=float(ridge), augmentation=None if augmentation is None else dict(augmentation),
        notes=tuple(notes),
    )
