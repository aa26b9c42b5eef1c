"""Sample efficiency of ideal representations: missing mass, worst ERM risk, coarsening.

THEORY.md T3 [derived]: let phi be population-ideal for a probe family F (LIN or UNI). For every
invariant task t and labelled sample D,

    sup_{f in ERM_F(D)} R_t(f)  >=  p(M(X) not in M(D))          (the missing mass of unseen classes)

with equality when phi is invariant, so invariant ideal encoders are sample optimal and
W_n(phi*) = sup_t E_{D ~ p^n}[missing mass]. THEORY.md T4 [derived]: if every class of ~ lies
inside a class of ~', the missing mass under ~' is at most that under ~ for every sample D.

This module computes the quantities in those statements:

- :func:`missing_mass` of one sample, and :func:`expected_missing_mass` over D ~ p^n, exactly (by
  enumerating the possible sets of seen classes) or by Monte Carlo with its standard error;
  :func:`expected_over_samples` does the same for any statistic of the set of sampled points;
- :func:`worst_erm_risk`: the largest 0-1 risk of a probe with zero error on D. For UNI it is
  closed form. For LIN, "is there an affine argmax probe consistent with D that errs on x?" is a
  feasibility LP (HiGHS); the per-point answers give the *disagreement mass* (an upper bound), and
  a branch and bound over joint LPs gives the exact supremum (one LP when one probe can err on every
  point that some probe errs on, which is the case for invariant ideal encoders);
- coarsening maps between relations: :func:`coarsening_map` (checks refinement), :func:`coarsen`,
  :func:`random_coarsening`, :func:`is_label_preserving`, :func:`coarse_task`.

Example::

    classes = EquivalenceClasses.from_labels([0, 0, 1, 2])
    missing_mass(classes, sample=[0, 1])                  # 0.5: classes 1 and 2 unseen
    expected_missing_mass(classes, n_samples=3).value     # sum_m P_m (1 - P_m)^3
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.optimize import linprog

from ssltheory.equivalence import EquivalenceClasses, as_classes
from ssltheory.errors import InputError
from ssltheory.geometry import power_of_two
from ssltheory.validation import as_count, as_features, as_labels

#: Largest number of atoms (points or classes) whose possible sample supports are enumerated
#: exactly (2**n_atoms supports) when ``method="auto"``.
MAX_EXACT_ATOMS = 16


# --------------------------------------------------------------------------------------------
# boundary checks


def _as_classes(classes, name: str = "classes") -> EquivalenceClasses:
    """An EquivalenceClasses, or one class id per point (n,) turned into one."""
    if not isinstance(classes, EquivalenceClasses) and (classes is None or np.ndim(classes) != 1):
        raise InputError(
            f"{name} must be an EquivalenceClasses or one class id per point, got {type(classes).__name__}"
        )
    return as_classes(classes, name=name)


def _as_masses(p, n: int, name: str = "p") -> np.ndarray:
    """Probabilities over n atoms: (n,) float64, finite, positive, summing to 1 (default uniform)."""
    if p is None:
        return np.full(n, 1.0 / n)
    arr = np.asarray(p, dtype=np.float64)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} has shape {arr.shape} but {n} masses (one per point) are needed")
    if not np.all(np.isfinite(arr)):
        raise InputError(f"{name} contains NaN or Inf")
    if np.any(arr <= 0):
        raise InputError(f"{name} must be positive (full support); its smallest entry is {arr.min()}")
    total = arr.sum()
    if abs(total - 1.0) > 1e-9:
        raise InputError(f"{name} sums to {total}, not 1")
    return arr / total


def _as_sample(sample, n: int, name: str = "sample") -> np.ndarray:
    """Indices of sampled points: (n_samples,) int64 in [0, n); repetitions allowed."""
    arr = np.asarray(sample)
    if arr.ndim != 1:
        raise InputError(f"{name} must be a 1-D array of point indices, got shape {arr.shape}")
    if arr.size == 0:
        return arr.astype(np.int64)
    if not np.issubdtype(arr.dtype, np.integer):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError(f"{name} must hold integer point indices")
    arr = arr.astype(np.int64)
    if arr.min() < 0 or arr.max() >= n:
        raise InputError(f"{name} holds index {arr.max() if arr.max() >= n else arr.min()} outside [0, {n})")
    return arr


def _as_n_samples(n_samples) -> int:
    return as_count(n_samples, "n_samples", minimum=0)


# --------------------------------------------------------------------------------------------
# missing mass


def missing_mass(classes: EquivalenceClasses, sample, p=None) -> float:
    """Mass of the points whose class no sampled point shares (THEORY.md T3 [derived]).

    Args:
        classes: EquivalenceClasses of the n points, or one class id per point (n,).
        sample: (n_samples,) indices of the labelled points D (repetitions allowed, may be empty).
        p: (n,) input masses, default uniform.

    Returns:
        p(M(X) not in M(D)) = sum of p(x) over x whose class is not the class of any sampled point.
    """
    classes = _as_classes(classes)
    p = _as_masses(p, classes.n_points)
    sample = _as_sample(sample, classes.n_points)
    seen = np.zeros(classes.n_classes, dtype=bool)
    seen[classes.labels[sample]] = True
    return float(p[~seen[classes.labels]].sum())


@dataclass(frozen=True)
class SampleExpectation:
    """E_{D ~ p^n}[statistic(D)], exact or estimated.

    Attributes:
        value: the expectation (exact) or the Monte Carlo mean.
        stderr: standard error of ``value``; 0.0 when exact.
        method: ``"exact"`` (enumeration of every possible set of sampled atoms, weighted by its
            probability) or ``"monte_carlo"``.
        n_draws: number of Monte Carlo samples D (0 when exact).
    """

    value: float
    stderr: float
    method: str
    n_draws: int


def _support_probabilities(p: np.ndarray, n_samples: int) -> tuple[np.ndarray, np.ndarray]:
    """Distribution of the set of distinct atoms in n i.i.d. draws from p.

    Bit i of a mask S is atom i. P(support subset of T) = p(T)^n, and Moebius inversion over the
    subset lattice gives P(support = S) = sum_{T subset S} (-1)^{|S - T|} p(T)^n.

    Returns (prob, mass): both (2**len(p),), prob[S] = P(support = S), mass[S] = p(S).
    """
    n_atoms = len(p)
    mass = np.zeros(1 << n_atoms)
    for i in range(n_atoms):  # subset sums: mass[S] = sum of p over the bits of S
        mass.reshape(-1, 2, 1 << i)[:, 1, :] += p[i]
    prob = mass**n_samples if n_samples > 0 else np.ones_like(mass)
    for i in range(n_atoms):  # Moebius inversion, bit by bit
        view = prob.reshape(-1, 2, 1 << i)
        view[:, 1, :] -= view[:, 0, :]
    popcount = np.zeros(1 << n_atoms, dtype=np.int64)
    for i in range(n_atoms):
        popcount.reshape(-1, 2, 1 << i)[:, 1, :] += 1
    # Supports larger than n (or empty when n > 0) have probability exactly 0; clear rounding.
    impossible = (popcount > n_samples) | ((popcount == 0) & (n_samples > 0))
    prob[impossible] = 0.0
    prob = np.clip(prob, 0.0, None)
    return prob, mass


def _bits(mask: int, n_atoms: int) -> np.ndarray:
    return np.array([i for i in range(n_atoms) if mask >> i & 1], dtype=np.int64)


def expected_over_samples(
    statistic: Callable[[np.ndarray], float],
    p,
    n_samples: int,
    *,
    method: str = "auto",
    n_draws: int = 2000,
    random_state=None,
) -> SampleExpectation:
    """E_{D ~ p^n}[statistic(support of D)] for a statistic of the *set* of sampled atoms.

    Worst ERM risk and missing mass depend on D only through which atoms were drawn, so the
    expectation is a finite sum over the possible supports (THEORY.md T3, definition of W_n).

    Args:
        statistic: maps a sorted (j,) int64 array of distinct atom indices to a float.
        p: (n_atoms,) probabilities of the atoms (positive, sum 1).
        n_samples: number n of i.i.d. draws in D.
        method: ``"exact"`` enumerates all 2**n_atoms supports with their probabilities (the
            statistic is evaluated once per possible support); ``"monte_carlo"`` averages over
            ``n_draws`` samples (the statistic is cached per support); ``"auto"`` is exact when
            n_atoms <= MAX_EXACT_ATOMS.
        n_draws: Monte Carlo sample count.
        random_state: seed or ``numpy.random.Generator`` for Monte Carlo.
    """
    p = np.asarray(p, dtype=np.float64)
    if p.ndim != 1 or p.size == 0:
        raise InputError(f"p must be a non-empty 1-D array of probabilities, got shape {p.shape}")
    p = _as_masses(p, p.size)
    n_samples = _as_n_samples(n_samples)
    if method not in ("auto", "exact", "monte_carlo"):
        raise InputError(f"method must be 'auto', 'exact' or 'monte_carlo', got {method!r}")
    if method == "auto":
        method = "exact" if p.size <= MAX_EXACT_ATOMS else "monte_carlo"
    if method == "exact":
        if p.size > 24:
            raise InputError(f"exact enumeration over 2**{p.size} supports is too large; use monte_carlo")
        prob, _ = _support_probabilities(p, n_samples)
        total = 0.0
        for mask in np.flatnonzero(prob > 0):
            total += prob[mask] * float(statistic(_bits(int(mask), p.size)))
        return SampleExpectation(float(total), 0.0, "exact", 0)
    n_draws = as_count(n_draws, "n_draws", minimum=2)
    rng = np.random.default_rng(random_state)
    draws = rng.choice(p.size, size=(n_draws, n_samples), p=p)
    cache: dict[bytes, float] = {}
    values = np.empty(n_draws)
    for r in range(n_draws):
        support = np.unique(draws[r])
        key = support.tobytes()
        if key not in cache:
            cache[key] = float(statistic(support))
        values[r] = cache[key]
    return SampleExpectation(float(values.mean()), float(values.std(ddof=1) / np.sqrt(n_draws)), "monte_carlo", n_draws)


def expected_missing_mass(
    classes: EquivalenceClasses,
    n_samples: int,
    p=None,
    *,
    method: str = "auto",
    n_draws: int = 2000,
    random_state=None,
) -> SampleExpectation:
    """E_{D ~ p^n}[missing mass of unseen classes] = W_n of invariant ideal encoders (T3 [derived]).

    Args:
        classes: the classes of the n points.
        n_samples: number of labelled samples n.
        p: (n_points,) input masses, default uniform.
        method: ``"exact"`` sums over every set of seen classes (2**K sets, vectorised; K <= 24),
            ``"monte_carlo"`` averages over ``n_draws`` samples with a standard error, ``"auto"``
            is exact for K <= 20.
    """
    classes = _as_classes(classes)
    p = _as_masses(p, classes.n_points)
    n_samples = _as_n_samples(n_samples)
    class_mass = np.bincount(classes.labels, weights=p, minlength=classes.n_classes)
    if method == "auto":
        method = "exact" if classes.n_classes <= 20 else "monte_carlo"
    if method == "exact":
        if classes.n_classes > 24:
            raise InputError(f"exact enumeration over 2**{classes.n_classes} class sets is too large")
        prob, seen_mass = _support_probabilities(class_mass, n_samples)
        return SampleExpectation(float(np.dot(prob, 1.0 - seen_mass)), 0.0, "exact", 0)
    if method != "monte_carlo":
        raise InputError(f"method must be 'auto', 'exact' or 'monte_carlo', got {method!r}")
    return expected_over_samples(
        lambda seen: 1.0 - class_mass[seen].sum(),
        class_mass,
        n_samples,
        method="monte_carlo",
        n_draws=n_draws,
        random_state=random_state,
    )


# --------------------------------------------------------------------------------------------
# worst ERM risk


@dataclass(frozen=True)
class WorstErmRisk:
    """The largest 0-1 risk of a probe with zero error on a labelled sample (THEORY.md T3).

    Attributes:
        risk: sup over f in ERM_F(D) of R_t(f) when ``exact``; otherwise the largest risk of a
            probe actually found (a lower bound).
        upper_bound: the disagreement mass, p{x : some f in ERM_F(D) errs on x} >= risk.
        exact: whether ``risk`` is the supremum (the search finished within its LP budget).
        errs: (n,) bool, the points the worst probe found misclassifies by construction (the LP
            imposed a wrong label's score >= the true label's); ``risk`` is their mass.
        can_err: (n,) bool, the points that some probe in ERM_F(D) misclassifies.
        probe: for LIN, a witness ``(W, b)`` with W (k, d), b (k,): strictly correct on D and
            misclassifying every point of ``errs`` (its true label's score not strictly
            largest, possibly by a tie). None for UNI.
        n_lps: number of LPs solved.
    """

    risk: float
    upper_bound: float
    exact: bool
    errs: np.ndarray
    can_err: np.ndarray
    probe: tuple[np.ndarray, np.ndarray] | None = field(default=None, repr=False)
    n_lps: int = 0


class _ConsistencyLP:
    """Feasibility LPs for affine argmax probes over fixed codes (THEORY.md T3 [derived]).

    A probe is (W, b) with scores s(z) = W z + b in R^k; row 0 is fixed to zero without loss of
    generality (argmax is unchanged by subtracting one row from all). "Correct on (z, l)" is
    s_l(z) > s_j(z) for all j != l; "errs on (z, l) as j" is s_j(z) >= s_l(z) (a tie is an
    error, THEORY.md section 0). The system is homogeneous in (W, b), so the strict inequalities
    become ">= 1" after scaling while the error inequalities stay ">= 0": the LP is feasible iff
    such a probe exists.
    """

    def __init__(self, Z: np.ndarray, y: np.ndarray, n_labels: int):
        # Centre by one point and rescale by a power of two (geometry's offset- and scale-free
        # centring) for HiGHS's tolerances; feasibility is invariant under this affine map.
        self.mean = np.asarray(Z[0], dtype=np.float64)
        self.scale = power_of_two(np.abs(Z - self.mean).max())
        self.Z1 = np.hstack([(Z - self.mean) / self.scale, np.ones((Z.shape[0], 1))])  # (n, d + 1)
        self.y = y
        self.k = n_labels
        self.width = Z.shape[1] + 1
        self.n_lps = 0

    def _row(self, i: int, win: int, lose: int) -> np.ndarray:
        """Coefficients of s_win(z_i) - s_lose(z_i) in the free rows 1..k-1."""
        row = np.zeros((self.k - 1) * self.width)
        if win > 0:
            row[(win - 1) * self.width : win * self.width] += self.Z1[i]
        if lose > 0:
            row[(lose - 1) * self.width : lose * self.width] -= self.Z1[i]
        return row

    def probe(self, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(W (k, d), b (k,)) in the original coordinates from an LP solution theta (k, d + 1)."""
        W = theta[:, :-1] / self.scale
        return W, theta[:, -1] - W @ self.mean

    def solve(self, fit: np.ndarray, errors: list[tuple[int, int]]):
        """theta (k, d + 1): a probe correct on the points ``fit`` and erring on each (point,
        wrong label) in the centred, scaled coordinates, or None."""
        correct = [self._row(i, self.y[i], j) for i in fit for j in range(self.k) if j != self.y[i]]
        wrong = [self._row(i, j, self.y[i]) for i, j in errors]
        self.n_lps += 1
        if not correct:  # the zero probe ties everywhere: it errs on every point
            return np.zeros((self.k, self.width))
        A = -np.asarray(correct + wrong)
        res = linprog(
            np.zeros(A.shape[1]),
            A_ub=A,
            b_ub=np.concatenate([-np.ones(len(correct)), np.zeros(len(wrong))]),
            bounds=[(None, None)] * A.shape[1],
            method="highs",
        )
        if res.status == 0:
            theta = np.vstack([np.zeros(self.width), res.x.reshape(self.k - 1, self.width)])
            return theta
        if res.status == 2:
            return None
        raise RuntimeError(f"HiGHS could not decide a probe-consistency LP: {res.message}")


def worst_erm_risk(
    Z,
    y,
    sample,
    probe: str = "linear",
    p=None,
    *,
    n_labels: int | None = None,
    max_lps: int = 5000,
) -> WorstErmRisk:
    """sup over probes f with zero error on the sample D of the 0-1 risk R(f) (THEORY.md T3).

    Args:
        Z: (n, d) codes of all n points (the population).
        y: (n,) labels of all points (an invariant task lifted to points, or any labelling).
        sample: (n_samples,) indices of the labelled points D (repetitions allowed).
        probe: ``"linear"`` (LIN: affine argmax probes, a point counts as correct only if its
            label's score is strictly largest) or ``"universal"`` (UNI: every function of z).
        p: (n,) point masses, default uniform.
        n_labels: number k of labels (default max(y) + 1, at least 2).
        max_lps: LP budget of the LIN branch and bound; when exhausted the result has
            ``exact=False`` and ``risk`` is the best lower bound found.

    LIN: for each unsampled point and wrong label, an LP asks whether a probe consistent with D
    errs on it (``can_err``; its mass is ``upper_bound``). If one probe can err on all of them at
    once, that is the supremum; otherwise a branch and bound over joint LPs (points by decreasing
    mass) finds it. Raises ValueError when no linear probe has zero error on D.

    UNI: probes are arbitrary functions of the code, so points with equal codes are predicted
    alike and different codes independently. Unseen codes can take any label; a sampled code
    takes a label of zero error on D. When D itself is not realizable (a code with two labels in
    D) UNI probes minimising the empirical error are used (the ERM set of the next-best fit).
    """
    Z = as_features(Z, "Z")
    n = Z.shape[0]
    y = as_labels(y, n, "y")
    sample = _as_sample(sample, n)
    p = _as_masses(p, n)
    if probe not in ("linear", "universal"):
        raise InputError(f"probe must be 'linear' or 'universal', got {probe!r}")
    k = int(max(int(y.max()) + 1, 2)) if n_labels is None else int(n_labels)
    if k < 2 or k <= y.max():
        raise InputError(f"n_labels={n_labels} but y holds label {y.max()}; need n_labels > max(y) and >= 2")
    if probe == "universal":
        return _worst_erm_risk_universal(Z, y, sample, p, k)
    return _worst_erm_risk_linear(Z, y, sample, p, k, max_lps)


def _worst_erm_risk_universal(Z, y, sample, p, k) -> WorstErmRisk:
    _, code = np.unique(Z, axis=0, return_inverse=True)
    code = code.ravel()
    n_codes = code.max() + 1
    label_mass = np.zeros((n_codes, k))
    np.add.at(label_mass, (code, y), p)
    counts = np.zeros((n_codes, k))
    np.add.at(counts, (code[sample], y[sample]), 1.0)
    seen = counts.sum(axis=1) > 0
    # allowed[c, l]: label l minimises the empirical error at code c (any label if c is unseen)
    allowed = np.where(seen[:, None], counts == counts.max(axis=1, keepdims=True), True)
    correct_mass = np.where(allowed, label_mass, np.inf)
    worst_label = correct_mass.argmin(axis=1)
    errs = y != worst_label[code]
    # some allowed label differs from the point's own label
    can_err = allowed[code].sum(axis=1) - allowed[code, y] > 0
    return WorstErmRisk(float(p[errs].sum()), float(p[can_err].sum()), True, errs, can_err, None, 0)


def _worst_erm_risk_linear(Z, y, sample, p, k, max_lps) -> WorstErmRisk:
    lp = _ConsistencyLP(Z, y, k)
    fit = np.unique(sample)
    base = lp.solve(fit, [])
    if base is None:
        raise InputError("no linear probe has zero error on the sample (the sampled labels are not linearly separable)")
    in_sample = np.zeros(len(y), dtype=bool)
    in_sample[fit] = True
    # Per-point LPs: the wrong labels as which some consistent probe can misclassify each point.
    options: dict[int, list[int]] = {}
    for i in np.flatnonzero(~in_sample):
        wrong = [j for j in range(k) if j != y[i] and lp.solve(fit, [(i, j)]) is not None]
        if wrong:
            options[i] = wrong
    can_err = np.zeros(len(y), dtype=bool)
    can_err[list(options)] = True
    upper = float(p[can_err].sum())
    cands = sorted(options, key=lambda i: -p[i])
    rest = np.concatenate([np.cumsum(p[cands][::-1])[::-1], [0.0]]) if cands else np.zeros(1)

    best = {"mass": 0.0, "errors": [], "theta": base}
    exhausted = False

    # no mass is too small to count: a branch is pruned only when even erring on every remaining
    # candidate cannot beat the best risk found (exact comparisons, so ``exact=True`` is honest)
    def record(errors, theta):
        mass = float(sum(p[i] for i, _ in errors))
        if mass > best["mass"]:
            best.update(mass=mass, errors=list(errors), theta=theta)

    def search(pos: int, errors: list[tuple[int, int]], mass: float):
        nonlocal exhausted
        if exhausted or mass + rest[pos] <= best["mass"]:
            return
        if lp.n_lps >= max_lps:
            exhausted = True
            return
        # optimistic completion: err on every remaining candidate, each as its first option
        completion = errors + [(i, options[i][0]) for i in cands[pos:]]
        theta = lp.solve(fit, completion)
        if theta is not None:
            record(completion, theta)
            return
        if pos == len(cands):
            return
        i = cands[pos]
        for j in options[i]:
            if exhausted:
                return
            theta = lp.solve(fit, errors + [(i, j)])
            if theta is not None:
                record(errors + [(i, j)], theta)
                search(pos + 1, errors + [(i, j)], mass + p[i])
        search(pos + 1, errors, mass)

    search(0, [], 0.0)
    errs = np.zeros(len(y), dtype=bool)
    errs[[i for i, _ in best["errors"]]] = True
    return WorstErmRisk(float(p[errs].sum()), upper, not exhausted, errs, can_err, lp.probe(best["theta"]), lp.n_lps)


# --------------------------------------------------------------------------------------------
# coarsening (THEORY.md T4)


def coarsening_map(fine: EquivalenceClasses, coarse: EquivalenceClasses) -> np.ndarray:
    """(K_fine,) int64: the coarse class containing each fine class (THEORY.md T4).

    Raises ValueError when ``fine`` does not refine ``coarse`` (some fine class meets two coarse
    classes), naming the first such class and two of its points.
    """
    fine, coarse = _as_classes(fine, "fine"), _as_classes(coarse, "coarse")
    if fine.n_points != coarse.n_points:
        raise InputError(f"fine has {fine.n_points} points but coarse has {coarse.n_points}")
    mapping = np.full(fine.n_classes, -1, dtype=np.int64)
    first = np.full(fine.n_classes, -1, dtype=np.int64)
    for x, (m, c) in enumerate(zip(fine.labels, coarse.labels)):
        if mapping[m] < 0:
            mapping[m], first[m] = c, x
        elif mapping[m] != c:
            raise InputError(
                f"fine does not refine coarse: points {first[m]} and {x} share fine class {m} "
                f"but lie in coarse classes {mapping[m]} and {c}"
            )
    return mapping


def _as_groups(groups, n_classes: int) -> np.ndarray:
    arr = np.asarray(groups)
    if arr.ndim != 1 or arr.shape[0] != n_classes:
        raise InputError(f"groups has shape {arr.shape} but one group per class ({n_classes}) is needed")
    if arr.size and (not np.issubdtype(arr.dtype, np.integer)):
        if not np.all(np.isfinite(arr)) or np.any(arr != np.round(arr)):
            raise InputError("groups must hold integer group ids")
    arr = arr.astype(np.int64)
    if arr.size and arr.min() < 0:
        raise InputError(f"groups holds a negative group id {arr.min()}")
    return arr


def coarsen(classes: EquivalenceClasses, groups) -> EquivalenceClasses:
    """Merge classes: the coarser relation where class m joins group ``groups[m]`` (THEORY.md T4).

    Args:
        classes: the finer classes (K of them).
        groups: (K,) non-negative group id of each class; classes with equal ids are merged.

    Returns:
        The coarser EquivalenceClasses on the same points (numbered by first appearance).
    """
    classes = _as_classes(classes)
    groups = _as_groups(groups, classes.n_classes)
    return EquivalenceClasses.from_labels(groups[classes.labels])


def is_label_preserving(groups, task) -> bool:
    """Whether merging classes by ``groups`` never merges two classes with different task labels.

    Args:
        groups: (K,) group id of each class.
        task: (K,) label of each class (an invariant task).
    """
    task = np.asarray(task)
    groups = _as_groups(groups, task.shape[0] if task.ndim == 1 else -1)
    for g in np.unique(groups):
        if np.unique(task[groups == g]).size > 1:
            return False
    return True


def coarse_task(groups, task) -> np.ndarray:
    """The task on the merged classes: (n_groups,) label of each group id 0..max(groups).

    Raises ValueError when the coarsening is not label-preserving (the task is then not invariant
    to the coarser relation, THEORY.md T4) or when a group id in 0..max is unused.
    """
    task = np.asarray(task)
    if task.ndim != 1:
        raise InputError(f"task must be 1-D (one label per class), got shape {task.shape}")
    groups = _as_groups(groups, task.shape[0])
    out = np.full(groups.max() + 1, -1, dtype=np.int64)
    for m, g in enumerate(groups):
        if out[g] >= 0 and out[g] != task[m]:
            raise InputError(f"groups is not label-preserving: group {g} merges labels {out[g]} and {task[m]}")
        out[g] = task[m]
    if np.any(out < 0):
        raise InputError(f"groups does not use group id {int(np.flatnonzero(out < 0)[0])}")
    return out


def random_coarsening(task, n_groups: int, *, label_preserving: bool = True, random_state=None) -> np.ndarray:
    """Random merging of K classes into ``n_groups`` non-empty groups: (K,) group ids 0..n_groups-1.

    Args:
        task: (K,) label of each class.
        n_groups: number of merged classes (K' <= K).
        label_preserving: if True, only classes with the same label are merged (needs n_groups at
            least the number of distinct labels); groups are spread over labels in proportion to
            how many classes carry each label. If False, classes are merged at random regardless
            of labels, and the result is guaranteed to merge two differently-labelled classes
            (needs n_groups < K and at least two labels).
        random_state: seed or Generator.
    """
    task = np.asarray(task)
    if task.ndim != 1 or task.size == 0:
        raise InputError(f"task must be a non-empty 1-D array (one label per class), got shape {task.shape}")
    K = task.size
    rng = np.random.default_rng(random_state)
    labels, counts = np.unique(task, return_counts=True)
    if not 1 <= n_groups <= K:
        raise InputError(f"n_groups must be between 1 and the number of classes {K}, got {n_groups}")
    groups = np.empty(K, dtype=np.int64)
    if label_preserving:
        if n_groups < labels.size:
            raise InputError(f"n_groups={n_groups} is fewer than the {labels.size} distinct labels")
        # at least one group per label, the rest by largest remainder of the class counts
        share = np.ones(labels.size, dtype=np.int64)
        extra = n_groups - labels.size
        room = counts - 1
        for _ in range(extra):
            ratio = np.where(room > 0, counts / share, -1.0)
            j = int(np.argmax(ratio))
            share[j] += 1
            room[j] -= 1
        start = 0
        for lab, s in zip(labels, share):
            members = rng.permutation(np.flatnonzero(task == lab))
            chunk = np.arange(members.size) % s  # every one of the s groups non-empty
            groups[members] = start + rng.permutation(chunk)
            start += s
        return groups
    if labels.size < 2 or n_groups >= K:
        raise InputError("a non-label-preserving coarsening needs at least two labels and n_groups < number of classes")
    for _ in range(1000):
        order = rng.permutation(K)
        groups[order] = np.arange(K) % n_groups
        if not is_label_preserving(groups, task):
            return groups
    # deterministic fallback: put one class of each of two labels together
    a, b = np.flatnonzero(task == labels[0])[0], np.flatnonzero(task == labels[1])[0]
    others = [m for m in range(K) if m not in (a, b)]
    groups[[a, b]] = 0
    groups[others] = (np.arange(len(others)) % (n_groups - 1)) + 1 if n_groups > 1 else 0
    return groups
