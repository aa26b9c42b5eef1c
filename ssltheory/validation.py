"""Boundary checks shared by every public function of the theory rooms.

scikit-learn's habit: a public function converts and checks its inputs once, raising
``ValueError`` with a message that names the argument and what is wrong; inner functions then
trust their input. Every check of this kind lives here, so that the same mistake reads the same
way whichever function caught it.
"""

from __future__ import annotations

import numbers

import numpy as np

from ssltheory.errors import InputError


def as_features(Z, name: str = "features", dtype=np.float64) -> np.ndarray:
    """Check a feature matrix and return it as a C-contiguous floating array.

    Args:
        Z: array-like of shape (n_points, dim): one code (row) per input.
        name: the argument's name, used in error messages.
        dtype: the floating dtype to return (default float64, the project's contract). ``None``
            keeps float32 and float64 input as it is (large feature files need no float64 copy)
            and converts anything else to float64.

    Returns:
        ndarray (n_points, dim), finite, with n_points >= 1 and dim >= 1.

    Raises:
        ValueError: not numeric, float16, not 2-D, empty, or containing NaN / Inf.
    """
    arr = np.asarray(Z)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == np.bool_):
        raise InputError(f"{name} must be a numeric array, got dtype {arr.dtype}")
    if np.issubdtype(arr.dtype, np.complexfloating):
        raise InputError(f"{name} must be real-valued, got dtype {arr.dtype}")
    if arr.dtype == np.float16:
        raise InputError(
            f"{name} is float16: its rounding (eps 9.8e-4) would count as rank at float32's or float64's "
            "tolerance; cast it to float32 and pass a tolerance for float16 rounding (e.g. --tol 0.1)"
        )
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be a 2-D array (n_points, dim), got {arr.ndim} dimension(s) with shape {arr.shape}"
        )
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise InputError(f"{name} is empty: shape {arr.shape}")
    if dtype is None:
        target = arr.dtype if arr.dtype in (np.float32, np.float64) else np.float64
    else:
        target = np.dtype(dtype)
    arr = np.ascontiguousarray(arr, dtype=target)
    with np.errstate(over="ignore", invalid="ignore"):
        total = arr.sum()  # finite only if every entry is (no temporary array); else look closer
    if not np.isfinite(total) and not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(f"{name} contains NaN or Inf (first at row {bad[0]}, column {bad[1]})")
    return arr


def as_labels(y, n: int | None = None, name: str = "labels", other: str = "features", unit: str = "rows") -> np.ndarray:
    """Check a vector of labels / class ids and return it as int64.

    Args:
        y: array-like of shape (n,): non-negative integers (integral floats are accepted).
        n: the length ``y`` must have, or None for any length >= 1.
        name: the argument's name, used in error messages.
        other, unit: how to name the thing that fixes ``n`` ("classes has 99 entries but features
            has 100 rows").

    Returns:
        int64 ndarray of shape (n,).

    Raises:
        ValueError: not 1-D, empty, wrong length, non-integer or negative entries.
    """
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise InputError(
            f"{name} must be a 1-D array (one entry per point), got {arr.ndim} dimension(s) with shape {arr.shape}"
        )
    if arr.size == 0:
        raise InputError(f"{name} is empty")
    if n is not None and arr.shape[0] != n:
        raise InputError(f"{name} has {arr.shape[0]} entries but {other} has {n} {unit}")
    if arr.dtype == np.bool_:
        return arr.astype(np.int64)
    if np.issubdtype(arr.dtype, np.integer):
        if np.issubdtype(arr.dtype, np.unsignedinteger) and arr.max() > np.iinfo(np.int64).max:
            raise InputError(f"{name} holds ids too large for int64 (max {arr.max()})")
        out = arr.astype(np.int64)
    elif np.issubdtype(arr.dtype, np.floating):
        finite = np.isfinite(arr)
        bad = ~finite if not finite.all() else arr != np.round(arr)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise InputError(f"{name} must hold integers, found {arr[i]!r} at index {i}")
        if np.abs(arr).max() >= 2.0**53:
            raise InputError(f"{name} holds values too large to be exact integers")
        out = arr.astype(np.int64)
    else:
        raise InputError(f"{name} must hold integers, got dtype {arr.dtype}")
    if (out < 0).any():
        i = int(np.flatnonzero(out < 0)[0])
        raise InputError(f"{name} must be non-negative, found {out[i]} at index {i}")
    return out


def as_count(value, name: str, minimum: int = 0) -> int:
    """Check an integer argument (a number of points, classes, labels or tasks) and return it."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral):
        raise InputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < minimum:
        raise InputError(f"{name} must be >= {minimum}, got {value}")
    return value


def as_tolerance(tol, name: str = "tol") -> float | None:
    """Check a relative tolerance: None (use the documented default) or a float in [0, 1).

    A relative tolerance of 1 or more would count every singular value (or distance) as zero
    and certify anything, so it is a bad input.
    """
    if tol is None:
        return None
    if isinstance(tol, (bool, np.bool_)) or not isinstance(tol, numbers.Real):
        raise InputError(f"{name} must be a number or None, got {tol!r}")
    tol = float(tol)
    if not np.isfinite(tol) or tol < 0 or tol >= 1:
        raise InputError(f"{name} is a relative tolerance and must be in [0, 1), got {tol:g}")
    return tol
