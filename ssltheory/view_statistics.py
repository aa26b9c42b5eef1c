"""The scoring engine: the second-order statistics of augmented views, computed once per scoring.

THEORY.md section 2 [derived]. Every continuous score of `ssltheory.metrics` (the headline
``ideal_score``, the invariance ratio, RankMe, alpha-ReQ, LiDAR, the held-out ridge probes and the
worst-task search) is a function of a few matrices of the views Z (n, d) grouped into K classes:

- class sizes n_m (K,), class means mu_m (K, d), grand mean mu = sum_m n_m mu_m / n (d,);
- within-class scatter  W = sum_i (z_i - mu_{m(i)})(z_i - mu_{m(i)})^T              (d, d);
- between-class scatter B = sum_m n_m (mu_m - mu)(mu_m - mu)^T                        (d, d);
- total scatter         T = W + B = sum_i (z_i - mu)(z_i - mu)^T (view-weighted, so the sum is exact);
- the uncentred second moment Z^T Z = T + n mu mu^T (RankMe's convention: singular values of Z);
- for the held-out ridge probes: the training views' mean and centred scatter S_tr, and G (d, K),
  the class sums of the centred training views; one factorisation of S_tr serves every task.

`ViewStatistics.from_views` streams Z in row blocks (``chunk_rows``), accumulating in float64, so
memory grows with d^2 + K d, never with n^2, and Z is never copied to float64 whole. Z may be a
numpy array or a torch tensor on any device: the n x d^2 products are then done by torch on that
device in float64 and only the d x d results come to the host. The residuals z_i - mu_m are taken
against a view of the same class first (``EquivalenceClasses.mean_offsets``' rule), so identical
views give exactly zero within-class scatter. Entries are divided by the power of two of the
largest one (``unit``, exact) so that squares of codes near float64's range do not overflow, in
the units the exact verdict measures in (`conditions.code_geometry`); every score here is
invariant to that scale, and the few absolute constants (LiDAR's delta) are rescaled.

The one tolerance rule for verdicts on views is `geometry.resolve_rtol` applied to the dtype of
the features *as given* (float32 views get float32's epsilon even though the statistics are in
float64): ``tol`` if given, else max(K, d) * eps(dtype). `ViewStatistics.tol` holds it and
``tol_rule`` says which it was.

Also here, because the statistics need them: `split_views` (the default training / held-out split)
and `check_train_mask`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ssltheory.equivalence import (
    EquivalenceClasses,
    add_by_class,
    as_classes,
    class_rows,
    member_batches,
    scaled_rows,
)
from ssltheory.errors import InputError
from ssltheory.geometry import power_of_two, resolve_rtol, row_norms
from ssltheory.validation import as_features, as_tolerance

__all__ = [
    "ViewStatistics",
    "RidgeProbe",
    "split_views",
    "check_train_mask",
    "tolerance_rule",
    "plus_identity",
    "largest_squared_singular_value",
    "centred_and_uncentred_spectra",
    "DEFAULT_CHUNK_ROWS",
]

#: Rows per streamed block: a float64 block of 2,048 rows of d = 2,048 is 32 MiB.
DEFAULT_CHUNK_ROWS = 2048


# --------------------------------------------------------------------------------------------
# the training / held-out split


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
        raise InputError(f"heldout_fraction must be in (0, 1), got {heldout_fraction}")
    rng = np.random.default_rng(random_state)
    mask = np.ones(classes.n_points, dtype=bool)
    for members in classes.members:
        if len(members) < 2:
            continue
        n_out = min(len(members) - 1, max(1, int(round(heldout_fraction * len(members)))))
        mask[rng.choice(members, size=n_out, replace=False)] = False
    if mask.all():
        raise InputError("every class has a single view: no view can be held out to score a probe")
    return mask


def check_train_mask(train_mask, classes: EquivalenceClasses, random_state) -> np.ndarray:
    """Validate a boolean mask of training views (True = training), or draw `split_views`'."""
    if train_mask is None:
        return split_views(classes, random_state=random_state)
    mask = np.asarray(train_mask)
    if mask.ndim != 1 or mask.shape[0] != classes.n_points:
        raise InputError(f"train_mask has shape {mask.shape} but features has {classes.n_points} rows")
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise InputError("train_mask must be boolean (True = training view)")
        mask = mask.astype(bool)
    labels = classes.labels
    if mask.all():
        raise InputError("train_mask marks every view as training: there is no held-out view to score")
    if not mask.any():
        raise InputError("train_mask marks no view as training")
    seen = np.bincount(labels[mask], minlength=classes.n_classes) > 0
    scored = np.bincount(labels[~mask], minlength=classes.n_classes) > 0
    unseen = np.flatnonzero(scored & ~seen)
    if unseen.size:
        raise InputError(
            f"classes {unseen[:10].tolist()} have held-out views but no training view; "
            "a probe cannot be scored on a class it never saw"
        )
    return mask


def tolerance_rule(tol, n_classes: int, dim: int, dtype) -> tuple[float, str]:
    """The one tolerance rule for verdicts on views: (rtol, what decided it).

    ``tol`` when given (in [0, 1)), else `geometry.default_rtol` of the features' dtype *as given*
    (max(K, d) * eps(float32) for float32 views: their rounding is not rank), via
    `geometry.resolve_rtol`. The string names the rule, e.g. ``"given"`` or
    ``"default max(K, d) x eps(float32)"``, for every output that prints the tolerance.
    """
    tol = as_tolerance(tol)
    name = "float32" if np.dtype(dtype) == np.float32 else "float64"
    rtol = resolve_rtol(tol, n_classes, dim, np.float32 if name == "float32" else np.float64)
    return rtol, ("given" if tol is not None else f"default max(K, d) x eps({name})")


# --------------------------------------------------------------------------------------------
# the inputs: numpy or torch


def _is_tensor(Z) -> bool:
    return type(Z).__module__.split(".")[0] == "torch"


def _check_tensor(Z):
    import torch

    if Z.ndim != 2:
        raise InputError(f"features must be a 2-D tensor (n_points, dim), got shape {tuple(Z.shape)}")
    if Z.shape[0] == 0 or Z.shape[1] == 0:
        raise InputError(f"features is empty: shape {tuple(Z.shape)}")
    if Z.dtype not in (torch.float32, torch.float64):
        raise InputError(f"features must be a float32 or float64 tensor, got {Z.dtype}; convert it with .float()")
    if not bool(torch.isfinite(Z).all()):
        raise InputError("features contain NaN or Inf")
    return Z.detach()


def as_view_features(Z):
    """Validated features: a float32/float64 numpy array (n, d) kept as given, or a torch tensor."""
    if _is_tensor(Z):
        return _check_tensor(Z)
    return as_features(Z, "features", dtype=None)


def to_numpy(Z) -> np.ndarray:
    """Host numpy copy of validated features (no copy for numpy input)."""
    return Z.cpu().numpy() if _is_tensor(Z) else Z


def _upper_gram_add(W: np.ndarray, R: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """W += alpha R^T R on W's upper triangle only, in place (BLAS syrk; W (d, d) C-ordered float64)."""
    from scipy.linalg import blas

    blas.dsyrk(alpha, R.T, beta=1.0, c=W.T, trans=0, lower=1, overwrite_c=1)  # W.T's lower triangle = W's upper
    return W


def _mirror_upper(W: np.ndarray, block: int = 256) -> np.ndarray:
    """W's lower triangle set from its upper one, in place, by blocks (exactly symmetric afterwards)."""
    d = W.shape[0]
    for start in range(0, d, block):
        stop = min(d, start + block)
        W[stop:, start:stop] = W[start:stop, stop:].T
        diagonal = W[start:stop, start:stop]
        diagonal[...] = np.triu(diagonal) + np.triu(diagonal, 1).T
    return W


class _Backend:
    """The few array operations of the streamed passes, for numpy or for torch on Z's device."""

    def __init__(self, Z):
        self.torch = _is_tensor(Z)
        if self.torch:
            import torch

            self.t = torch
            self.device = Z.device

    def scaled(self, Z, rows, unit: float, buffer=None):
        """Z[rows] / unit in float64 (rows: a slice or int indices), safe to change in place:
        numpy writes into ``buffer`` (a reused float64 array of at least as many rows) when given."""
        if self.torch:
            picked = Z[rows] if isinstance(rows, slice) else Z[self.put(rows)]
            return picked.to(self.t.float64, copy=True) / unit
        if not isinstance(rows, slice) and rows.size and np.all(np.diff(rows) == 1):
            rows = slice(int(rows[0]), int(rows[-1]) + 1)  # consecutive rows: no gather
        return scaled_rows(Z, rows, unit, out=buffer)

    def gram_add(self, W, R, alpha: float = 1.0):
        """W += alpha R^T R in place (R (c, d), W (d, d) float64). numpy fills only W's upper triangle
        (BLAS syrk, no d x d temporary): call `symmetric` before reading W."""
        if self.torch:
            W += alpha * (R.T @ R)
            return W
        return _upper_gram_add(W, R, alpha)

    def symmetric(self, W):
        """W made exactly symmetric in place: numpy mirrors the upper triangle `gram_add` filled; torch
        (whose X^T X need not be bit-symmetric) averages W and W^T."""
        return (W + W.T) / 2 if self.torch else _mirror_upper(W)

    def copy(self, A):
        """A fresh copy of the array ``A`` on its device."""
        return A.clone() if self.torch else np.array(A)

    def batches(self, rows: np.ndarray, labels: np.ndarray, chunk_rows: int):
        """``rows`` (int, global) in batches of at most ``chunk_rows``: (row indices, their labels,
        one_class). numpy groups them by member (`equivalence.member_batches`: the j-th rows of the
        classes together, increasing and distinct labels, or one class alone), so that per-class
        rows are read without gathers (`per_class`); torch takes them in order (one_class None)."""
        if self.torch:
            for start in range(0, rows.size, chunk_rows):
                idx = rows[start : start + chunk_rows]
                yield idx, labels[idx], None
        else:
            for local, lab, one_class in member_batches(labels[rows], max_rows=chunk_rows):
                yield rows[local], lab, one_class

    def per_class(self, A, lab, one_class):
        """A[lab]: the rows of a (K, d) array for one batch of `batches` (numpy: `equivalence.class_rows`,
        a view of A or one broadcast row whenever the batch allows it)."""
        return A[self.put(lab)] if self.torch else class_rows(A, lab, one_class)

    def add_by_class(self, sums, block, lab, one_class):
        """sums[lab[i]] += block[i] in place, for one batch of `batches`."""
        if self.torch:
            sums.index_add_(0, self.put(lab), block)
        else:
            add_by_class(sums, block, lab, one_class)

    def buffer(self, rows: int, d: int):
        """A float64 work array for `scaled` (None for torch, which allocates on its device)."""
        return None if self.torch else np.empty((rows, d))

    def put(self, x):
        return self.t.as_tensor(np.array(x), device=self.device) if self.torch else x

    def get(self, x) -> np.ndarray:
        return x.cpu().numpy() if self.torch else x

    def row_squares(self, rows):
        """(c,) sums of squares of the rows of ``rows`` (c, d)."""
        return (rows * rows).sum(1) if self.torch else np.einsum("ij,ij->i", rows, rows)

    def row_norms(self, rows, squares: np.ndarray) -> np.ndarray:
        """(c,) host Euclidean norms of the rows of ``rows`` (c, d), ``squares`` their `row_squares` on
        the host: `geometry.row_norms` for numpy (what the verdict's deviations are), torch's norm."""
        if self.torch:
            return self.get(self.t.linalg.vector_norm(rows, dim=1))
        return row_norms(rows, squares)

    def max_abs(self, Z) -> float:
        if self.torch:
            return float(Z.abs().max())
        return max(float(Z.max()), -float(Z.min()))  # no |Z| temporary


# --------------------------------------------------------------------------------------------
# the statistics


@dataclass(frozen=True)
class ViewStatistics:
    """What every score reads, computed once (`from_views`); all arrays float64, in units of ``unit``.

    Sizes: ``n`` views, ``d`` dimensions, ``K`` classes; ``dtype``: the features' dtype name as
    given ("float32" / "float64"); ``tol``: the relative tolerance of verdicts (`tolerance_rule`
    on that dtype) and ``tol_rule`` what decided it. ``unit``: a power of two; the statistics are
    those of Z / unit (exact).

    ``labels`` (n,), ``sizes`` (K,), ``means`` (K, d), ``grand_mean`` (d,); ``between_factor`` D
    (K, d), the rows sqrt(n_m) (mu_m - mu), so that B = D^T D; ``within`` W and ``total``
    T = W + B (d, d) scatter matrices (sums, not averages), and the property ``between`` B (formed
    on first use: the scores read D, tr B = ||D||_F^2);
    ``within_per_class`` (K,) the within-class sum of squares of each class; ``offsets`` (K, d)
    the class means minus each class's first view and ``deviation`` (n,) the distance of each view
    to its class mean (`geometry.row_norms` of (z - z_first) - offset, for numpy input the numbers
    `conditions.code_geometry` measures: `code_geometry`); ``total_eigenvalues``
    (d,) of T descending (the centred spectrum); ``second_moment_eigenvalues`` (d,) of Z^T Z
    descending (RankMe's uncentred convention). Held-out probes: ``train_mask`` (n,) bool,
    ``evaluate_mask`` (n,) bool (the views a probe is scored on: the held-out ones, or all views
    when each class has a single view), ``train_mean`` (d,), ``train_scatter`` S_tr (d, d),
    ``train_class_sums`` G (d, K) of the centred training views, ``train_sizes`` (K,).
    """

    n: int
    d: int
    K: int
    dtype: str
    tol: float
    tol_rule: str
    unit: float
    labels: np.ndarray
    sizes: np.ndarray
    means: np.ndarray
    grand_mean: np.ndarray
    between_factor: np.ndarray
    within: np.ndarray
    total: np.ndarray
    within_per_class: np.ndarray
    offsets: np.ndarray
    deviation: np.ndarray
    train_mask: np.ndarray
    evaluate_mask: np.ndarray
    train_mean: np.ndarray
    train_scatter: np.ndarray
    train_class_sums: np.ndarray
    train_sizes: np.ndarray
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def from_views(
        cls,
        Z,
        classes,
        train_mask=None,
        *,
        tol: float | None = None,
        chunk_rows: int = DEFAULT_CHUNK_ROWS,
        random_state=0,
        heldout: bool = True,
    ) -> "ViewStatistics":
        """Stream the views once for class means, once for the scatter matrices.

        Args:
            Z: (n, d) features, numpy (float32 / float64 kept, anything else as float64) or a torch
                float tensor on any device (the products run there, in float64).
            classes: n class ids or an `EquivalenceClasses` (K >= 1).
            train_mask: boolean (n,), True = training view of the held-out probes; None draws
                `split_views` (seeded by ``random_state``), or, when every class has a single view
                (the rows are class codes), trains and scores the probes on all rows.
            tol: relative tolerance of verdicts, in [0, 1), or None for the dtype rule
                (`tolerance_rule`).
            chunk_rows: rows per streamed block (memory ~ chunk_rows x d float64).
            heldout: False when no held-out probe will be asked for (RankMe, alpha-ReQ, LiDAR
                alone): no split is drawn, every view counts as training, none is evaluated.
        """
        Z = as_view_features(Z)
        n, d = (int(s) for s in Z.shape)
        classes = as_classes(classes, n)
        K, labels, sizes = classes.n_classes, classes.labels, classes.sizes.astype(np.int64)
        dtype = str(Z.dtype).replace("torch.", "")
        rtol, rule = tolerance_rule(tol, K, d, np.float32 if dtype == "float32" else np.float64)
        if not heldout:
            mask, evaluate = np.ones(n, dtype=bool), np.zeros(n, dtype=bool)
        elif train_mask is None and n == K:
            mask, evaluate = np.ones(n, dtype=bool), np.ones(n, dtype=bool)
        else:
            mask = check_train_mask(train_mask, classes, random_state)
            evaluate = ~mask
        chunk_rows = max(1, int(chunk_rows))
        xp = _Backend(Z)
        big = xp.max_abs(Z)
        # divide by the power of two of the largest entry (exact): no square overflows or underflows
        # (1e-170 squared is 0 in float64), and the verdict's z units (`conditions.code_geometry`)
        unit = power_of_two(big)

        anchor = xp.scaled(Z, classes.first, unit)  # (K, d)
        work = xp.buffer(min(n, chunk_rows), d)  # reused: no page faults
        if xp.torch:
            offsets = xp.put(np.zeros((K, d)))
            for idx, lab, one_class in xp.batches(np.arange(n), labels, chunk_rows):
                block = xp.scaled(Z, idx, unit, work)
                block -= xp.per_class(anchor, lab, one_class)
                xp.add_by_class(offsets, block, lab, one_class)
            offsets = offsets / xp.put(sizes.astype(np.float64))[:, None]
        else:
            offsets = classes.mean_offsets(Z, unit)
        means_dev = anchor + offsets

        # one Gram product over all rows in all, on W's upper triangle: the training rows first, then a
        # copy of that partial sum W_tr seeds S_tr (below), and the held-out rows complete W = W_tr + W_ev
        W = xp.put(np.zeros((d, d)))
        W_tr = None
        R_tr = xp.put(np.zeros((K, d)))  # class sums of the training views' residuals z_i - mu_m
        sq, deviation = np.zeros(n), np.zeros(n)
        for rows, training in ((np.flatnonzero(mask), True), (np.flatnonzero(~mask), False)):
            if not training:
                W_tr = xp.copy(W)
            for idx, lab, one_class in xp.batches(rows, labels, chunk_rows):
                # (z - anchor) - offset: identical views give exactly zero residuals
                R = xp.scaled(Z, idx, unit, work)
                R -= xp.per_class(anchor, lab, one_class)
                R -= xp.per_class(offsets, lab, one_class)
                sq[idx] = xp.get(xp.row_squares(R))
                deviation[idx] = xp.row_norms(R, sq[idx])
                xp.gram_add(W, R)
                if training:
                    xp.add_by_class(R_tr, R, lab, one_class)
        W_tr = xp.get(W_tr)  # only its upper triangle is read (the corrections below, then mirrored)
        W, R_tr, means, offsets_host = xp.get(xp.symmetric(W)), xp.get(R_tr), xp.get(means_dev), xp.get(offsets)
        if not offsets_host.any() and not deviation.any():  # every view equals its class's first one: the
            means = xp.get(anchor).copy()  # codes are those rows as they are (-0.0 + 0.0 would give +0.0)

        # every matrix below is exactly symmetric: X^T X products are computed as such (syrk on one
        # triangle, then mirrored), and sums of symmetric matrices stay symmetric in floating point
        within = W
        # taken against the first class's mean: equal means give exactly that mean (no rounding noise in D)
        grand_mean = means[0] + sizes @ (means - means[0]) / n
        D = (means - grand_mean) * np.sqrt(sizes)[:, None]  # (K, d), B = D^T D
        total = _mirror_upper(_upper_gram_add(np.array(W), D))  # T = W + D^T D

        train_sizes = np.bincount(labels[mask], minlength=K).astype(np.int64)
        n_tr = int(train_sizes.sum())
        train_mean = (train_sizes @ means + R_tr.sum(axis=0)) / n_tr
        E = means - train_mean  # (K, d)
        # S_tr = sum over training views of (r_i + e_m)(r_i + e_m)^T
        #      = W_tr + sum_m (R_m e_m^T + e_m R_m^T + n_m e_m e_m^T), and the class sum equals
        # A^T A - C^T C with A_m = R_m / sqrt(n_m) + sqrt(n_m) e_m, C_m = R_m / sqrt(n_m):
        # two symmetric rank-K products (syrk) instead of a general one and a symmetric one
        seen = slice(None) if train_sizes.all() else train_sizes > 0  # every class seen: no gathered copies
        root = np.sqrt(train_sizes[seen])[:, None]
        C_ = R_tr[seen] / root
        A_ = root * E[seen]
        A_ += C_
        train_scatter = _mirror_upper(_upper_gram_add(_upper_gram_add(W_tr, A_), C_, -1.0))
        G = (R_tr + train_sizes[:, None] * E).T  # (d, K)
        return cls(
            n,
            d,
            K,
            dtype,
            rtol,
            rule,
            unit,
            labels,
            sizes,
            means,
            grand_mean,
            D,
            within,
            total,
            np.bincount(labels, weights=sq, minlength=K),
            offsets_host,
            deviation,
            mask,
            evaluate,
            train_mean,
            train_scatter,
            G,
            train_sizes,
        )

    # ----------------------------------------------------------------------------------------
    @property
    def between(self) -> np.ndarray:
        """(d, d) between-class scatter B = D^T D (``between_factor`` D), formed once on first use."""
        return self.cached(
            "between", lambda: _mirror_upper(_upper_gram_add(np.zeros((self.d, self.d)), self.between_factor))
        )

    @property
    def between_trace(self) -> float:
        """tr B = ||D||_F^2, without forming B."""
        D = self.between_factor
        return float(np.einsum("ij,ij->", D, D))

    def code_geometry(self):
        """`conditions.CodeGeometry` of the views at ``tol`` from the streamed measurements (``unit`` is
        the verdict's z unit), computed once: for numpy input, the geometry `conditions.is_ideal`
        measures itself, number for number, so it can be passed to it (``geometry=``)."""
        from ssltheory.conditions import geometry_from_measurements

        return self.cached(
            "code_geometry",
            lambda: geometry_from_measurements(
                self.unit, self.offsets, self.means, self.deviation, np.dtype(self.dtype), self.tol
            ),
        )

    @property
    def total_eigenvalues(self) -> np.ndarray:
        """(d,) eigenvalues of T, descending, negative round-off clipped: the centred spectrum."""
        return self.cached("spectra", lambda: centred_and_uncentred_spectra(self.total, self.grand_mean, self.n))[0]

    @property
    def second_moment_eigenvalues(self) -> np.ndarray:
        """(d,) eigenvalues of Z^T Z = T + n mu mu^T, descending, clipped at 0 (RankMe's uncentred convention)."""
        return self.cached("spectra", lambda: centred_and_uncentred_spectra(self.total, self.grand_mean, self.n))[1]

    def cached(self, key: str, compute):
        """``compute()`` once per statistics object (derived quantities several scores share)."""
        if key not in self._cache:
            self._cache[key] = compute()
        return self._cache[key]

    def ridge_probe(self, Z, ridge: float, *, chunk_rows: int = DEFAULT_CHUNK_ROWS) -> "RidgeProbe":
        """The held-out ridge probe at relative penalty ``ridge`` (cached per value): `RidgeProbe`.

        ``Z`` must be the features these statistics were built from (the evaluated rows are read
        again once, for the probe's scores).
        """
        key = ("ridge", float(ridge))
        if key not in self._cache:
            self._cache[key] = RidgeProbe.fit(self, as_view_features(Z), float(ridge), chunk_rows)
        return self._cache[key]


# --------------------------------------------------------------------------------------------
# the held-out ridge probe


@dataclass(frozen=True)
class RidgeProbe:
    """Ridge regression of one-hot class targets on the training views, scored on the evaluated views.

    With X the centred training views (n_tr x d), S_tr = X^T X, G = X^T A (A the (n_tr x K) class
    indicator of the training views) and lam = ridge * lambda_max(S_tr) (scale-free), the fit with
    intercept predicts, for the one-hot target of class m, on an evaluated view z:

        f_m(z) = (z - mean_tr)^T (S_tr + lam I)^+ G[:, m] + n_tr_m / n_tr,

    linear in the targets, so ``scores`` P (n_ev, K) (without the intercept ``c`` (K,)) serves every
    task: a task's one-hot targets T (K, k) give P T + c T. With ``ridge`` = 0 the pseudo-inverse
    drops eigenvalues of S_tr at or below lambda_max * max(n_tr, d) * eps (the rounding level of a
    float64 Gram matrix). ``test_labels`` (n_ev,) are the classes of the evaluated views.
    """

    scores: np.ndarray
    c: np.ndarray
    test_labels: np.ndarray
    n_classes: int
    _cache: dict = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def fit(cls, stats: ViewStatistics, Z, ridge: float, chunk_rows: int) -> "RidgeProbe":
        S, G = stats.train_scatter, stats.train_class_sums
        n_tr = int(stats.train_sizes.sum())
        top = _largest_eigenvalue(S)
        if top <= 0:
            weights = np.zeros_like(G)
        elif ridge > 0:
            import scipy.linalg as sl

            lam = ridge * top
            try:
                # .T: the F-ordered view of the symmetric matrix, which LAPACK factors in place (no copy)
                factor = sl.cho_factor(plus_identity(S, lam).T, lower=True, overwrite_a=True, check_finite=False)
                weights = sl.cho_solve(factor, G, check_finite=False)
            except np.linalg.LinAlgError:  # S is semi-definite only up to rounding (views equal but for it)
                e, V = np.linalg.eigh(S)
                weights = (V / (np.clip(e, 0.0, None) + lam)) @ (V.T @ G)
        else:
            e, V = np.linalg.eigh(S)
            keep = e > top * max(n_tr, stats.d) * np.finfo(float).eps
            weights = (V[:, keep] / e[keep]) @ (V[:, keep].T @ G)
        xp = _Backend(Z)
        rows = np.flatnonzero(stats.evaluate_mask)
        W_dev, mean_dev = xp.put(weights), xp.put(stats.train_mean)
        scores = np.empty((rows.size, stats.K))
        work = xp.buffer(min(rows.size, chunk_rows), stats.d)
        for start in range(0, rows.size, chunk_rows):
            block = xp.scaled(Z, rows[start : start + chunk_rows], stats.unit, work)
            block -= mean_dev
            if xp.torch:
                scores[start : start + block.shape[0]] = xp.get(block @ W_dev)
            else:
                np.matmul(block, W_dev, out=scores[start : start + block.shape[0]])
        return cls(scores, stats.train_sizes / n_tr, stats.labels[rows], stats.K)

    def class_major(self) -> np.ndarray:
        """(K, n_ev) the one-hot scores with intercept, F^T = (scores + c)^T, one class per row (contiguous:
        the worst-task search reads one class's scores at a time). Computed once."""
        if "class_major" not in self._cache:
            self._cache["class_major"] = np.ascontiguousarray((self.scores + self.c).T)
        return self._cache["class_major"]

    def other_class_reach(self, chunk: int = 64) -> np.ndarray:
        """(n_ev,) r_i = max over classes m other than view i's own of |F_im| (F: `class_major`), 0 when
        K = 1: no other class's flip moves view i's binary score by more than 2 r_i. Computed once."""
        if "reach" not in self._cache:
            F_t = self.class_major()
            K, n_ev = F_t.shape
            reach = np.zeros(n_ev)
            block = np.empty((min(chunk, K), n_ev))
            for start in range(0, K, chunk):
                stop = min(start + chunk, K)
                part = np.abs(F_t[start:stop], out=block[: stop - start])
                mine = np.flatnonzero((self.test_labels >= start) & (self.test_labels < stop))
                part[self.test_labels[mine] - start, mine] = 0.0  # a view's own class is not "other"
                np.maximum(reach, part.max(axis=0), out=reach)
            self._cache["reach"] = reach
        return self._cache["reach"]

    def columns(self, cols: np.ndarray) -> np.ndarray:
        """(n_ev, len(cols)) scores of the one-hot targets of classes ``cols``."""
        return self.scores[:, cols] + self.c[cols]

    def binary_scores(self, signs: np.ndarray) -> np.ndarray:
        """(n_ev,) scores for the +-1 task ``signs`` (K,); > 0 predicts +1."""
        return self.scores @ signs + self.c @ signs

    def binary_accuracy(self, signs: np.ndarray) -> float:
        return float(np.mean(signs[self.test_labels] * self.binary_scores(signs) > 0))

    def binary_accuracies(self, signs: np.ndarray) -> np.ndarray:
        """(t,) held-out accuracies of the t +-1 tasks, the columns of ``signs`` (K, t): one matrix product."""
        F = self.scores @ signs + self.c @ signs
        return np.count_nonzero(signs[self.test_labels] * F > 0, axis=0) / self.test_labels.size

    def class_accuracy(self, chunk: int = 4096) -> float:
        """Fraction of evaluated views whose own class has strictly the largest one-hot score."""
        correct = 0
        for start in range(0, self.test_labels.size, chunk):
            truth = self.test_labels[start : start + chunk]
            F = self.scores[start : start + chunk] + self.c
            rows = np.arange(truth.size)
            own = F[rows, truth].copy()
            F[rows, truth] = -np.inf
            correct += int(np.sum(own > F.max(axis=1)))
        return correct / self.test_labels.size


def plus_identity(S: np.ndarray, value: float) -> np.ndarray:
    """S + value I for a square float64 ``S`` (d, d), as a new array, without forming the identity."""
    out = np.array(S, dtype=np.float64)
    out.flat[:: out.shape[0] + 1] += value
    return out


def centred_and_uncentred_spectra(T: np.ndarray, mean: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The eigenvalues of T and of T + n mean mean^T, each (d,) descending and clipped at 0, from ONE
    tridiagonal reduction (the cost of one `numpy.linalg.eigvalsh`, not two).

    T (d, d) exactly symmetric (a scatter matrix), ``mean`` (d,), n > 0. A Householder reflector H
    maps ``mean`` to alpha e_1 (|alpha| = ||mean||); LAPACK's lower tridiagonal reduction of H T H,
    Q^T (H T H) Q = Tr, keeps e_1 fixed (Q e_1 = e_1), so

        Q^T H (T + n mean mean^T) H Q = Tr + n alpha^2 e_1 e_1^T:

    the two matrices' tridiagonal forms differ in their first diagonal entry only, and both
    spectra come from O(d^2) tridiagonal eigenvalue solves (sterf). Backward stable like eigvalsh:
    each eigenvalue is exact for a matrix within a few d eps ||T|| of the given one.
    """
    import scipy.linalg as sl
    from scipy.linalg import blas, lapack

    d = T.shape[0]
    # work on T / 4^k and mean / 2^k (exact) with entries near 1: no squares under- or overflow
    largest_entry = max(float(T.max()), -float(T.min()))  # max |T| without a (d, d) temporary
    root = power_of_two(max(np.sqrt(largest_entry), float(np.abs(mean).max()) * np.sqrt(n)))
    root = max(root, 2.0**-511)  # root^2 stays a normal number (entries below it are rounding to 0 anyway)
    scale = root * root
    mean = np.asarray(mean, dtype=np.float64) / root
    shift = n * float(np.dot(mean, mean))
    if d == 1:
        values = (max(float(T[0, 0]) / scale, 0.0), max(float(T[0, 0]) / scale + shift, 0.0))
        return np.array([values[0]]) * scale, np.array([values[1]]) * scale
    A = (np.asarray(T, dtype=np.float64) / scale).T  # a copy; its transpose is Fortran-ordered (T is symmetric)
    largest = float(np.abs(mean).max())
    if largest > 0:
        # H depends on the mean's direction only: build it from mean / max|mean| (entries in [-1, 1], one of
        # them +-1), so that v^T v >= 1 never underflows however small the mean is
        v = mean / largest
        v[0] += np.copysign(float(np.linalg.norm(v)), v[0])  # H = I - beta v v^T maps mean to a multiple of e_1
        beta = 2.0 / float(np.dot(v, v))
        p = beta * (A @ v)
        w = p - (0.5 * beta * float(np.dot(v, p))) * v
        A = blas.dsyr2(-1.0, v, w, a=A, lower=1, overwrite_a=1)  # H A H = A - v w^T - w v^T (lower triangle)
    lwork = int(lapack.dsytrd_lwork(d, lower=1)[0])
    _, diagonal, off, _, info = lapack.dsytrd(A, lower=1, lwork=max(lwork, 1), overwrite_a=1)
    if info != 0:  # LAPACK refused: the two eigenvalue problems the plain way
        T = np.asarray(T, dtype=np.float64) / scale
        plain = [sl.eigh(M, eigvals_only=True, check_finite=False) for M in (T, T + n * np.outer(mean, mean))]
    else:
        shifted = diagonal.copy()
        shifted[0] += shift
        plain = [sl.eigvalsh_tridiagonal(a, off, lapack_driver="sterf") for a in (diagonal, shifted)]
    centred, uncentred = (np.clip(np.sort(values)[::-1], 0.0, None) * scale for values in plain)
    return centred, uncentred


def largest_squared_singular_value(D: np.ndarray) -> float:
    """s_max(D)^2 = lambda_max(D^T D) for D (k, d), through the smaller Gram matrix (min(k, d) square,
    one syrk): all its eigenvalues up to 512, else Lanczos on it (`_largest_eigenvalue`; Lanczos on
    D itself needs as many passes over D as iterations, and many when the top singular values
    cluster, as for Gaussian codes)."""
    k, d = D.shape
    if not (k and d):
        return 0.0
    return _largest_eigenvalue(D @ D.T if k <= d else D.T @ D)


def _largest_eigenvalue(S: np.ndarray) -> float:
    """lambda_max of a symmetric positive semi-definite matrix (Lanczos for large ones)."""
    d = S.shape[0]
    if d <= 512:
        return float(np.linalg.eigvalsh(S)[-1])
    from scipy.sparse.linalg import ArpackError, eigsh

    try:
        v0 = np.random.default_rng(0).standard_normal(d)
        return float(eigsh(S, k=1, which="LA", v0=v0, tol=1e-10, return_eigenvectors=False)[0])
    except ArpackError:
        return float(np.linalg.eigvalsh(S)[-1])
