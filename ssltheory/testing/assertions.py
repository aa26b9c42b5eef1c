"""Assertion helpers whose failure message is the certificate (no hypothesis needed).

``assert_ideal`` / ``assert_not_ideal`` run :func:`ssltheory.is_ideal` and, when the verdict is not
the one asserted, fail with the verdict's summary: the conditions and, for a representation that is
not ideal, the certificate (an invariant task no probe realizes, with its witness: an affine
dependence, two equal codes, or two equivalent points that differ). ``assert_invariant_task_realizable``
checks one invariant task and, when no probe realizes it, fails with what shows it: a point common
to the two label hulls (binary tasks, T1.1), or two points with one code and two labels (universal).
"""

from __future__ import annotations

import numpy as np

from ssltheory.conditions import IdealVerdict, is_ideal
from ssltheory.equivalence import as_classes
from ssltheory.errors import InputError
from ssltheory.geometry import separability
from ssltheory.tasks import as_task
from ssltheory.testing.oracles import hull_common_point
from ssltheory.validation import as_features


def assert_ideal(Z, classes, probe: str = "linear", *, tol: float | None = None, exact: bool = False) -> IdealVerdict:
    """Assert that Z (n, d) with these classes is ideal for the probe family (THEORY.md T1.2 / T2).

    Returns the verdict; raises AssertionError whose message is the verdict's summary with its
    certificate (the task no probe realizes and the witness). ``tol`` and ``exact`` as in is_ideal.
    """
    verdict = is_ideal(Z, classes, probe=probe, tol=tol, exact=exact)
    if not verdict.ok:
        raise AssertionError(
            f"expected a representation ideal for {probe} probes; it is not, and here is why:\n" + verdict.summary()
        )
    return verdict


def assert_not_ideal(
    Z, classes, probe: str = "linear", *, tol: float | None = None, exact: bool = False
) -> IdealVerdict:
    """Assert that Z (n, d) with these classes is not ideal for the probe family.

    Returns the verdict (its ``certificate`` is the evidence); raises AssertionError whose message
    is the summary of the conditions that make it ideal (invariance at the tolerance, the affine rank
    K - 1 and the smallest singular value ratio for linear probes, distinct codes for universal ones:
    with them every invariant task is realized, by the pseudo-inverse probe for linear ones, T1.3).
    """
    verdict = is_ideal(Z, classes, probe=probe, tol=tol, exact=exact)
    if verdict.ok:
        raise AssertionError(
            f"expected a representation that is not ideal for {probe} probes; it is ideal:\n" + verdict.summary()
        )
    return verdict


def assert_invariant_task_realizable(Z, classes, task, probe: str = "linear"):
    """Assert that the invariant task (one label per class, (K,)) is realized on Z (n, d) by a probe.

    ``probe="linear"``: an affine argmax probe with strictly correct scores on every point (decided
    exactly, :func:`ssltheory.geometry.separability`); returns (W, b). ``"universal"``: any
    function of z, so realizable iff no two points with equal codes get different labels; returns
    None. On failure the AssertionError names what shows it: for a binary task a point common to
    the hulls of its two label sets, for universal probes the two points.
    """
    Z = as_features(Z, "Z")
    labels = as_classes(classes, Z.shape[0], other="Z").labels
    task = as_task(task, int(labels.max()) + 1)
    y = task[labels]
    if probe == "universal":
        seen: dict[bytes, int] = {}
        for i, row in enumerate(Z + 0.0):
            j = seen.setdefault(row.tobytes(), i)
            if y[j] != y[i]:
                raise AssertionError(
                    f"task {task.tolist()} is not realized by any function of z: points {j} and {i} "
                    f"share the code {row.tolist()} but get labels {int(y[j])} and {int(y[i])}"
                )
        return None
    if probe != "linear":
        raise InputError(f"probe must be 'linear' or 'universal', got {probe!r}")
    answer = separability(Z, y)
    if answer.separable:
        return answer.probe
    message = f"task {task.tolist()} is not realized by any linear probe ({answer.verification}: {answer.note})"
    if len(np.unique(y)) == 2:
        ones, zeros = Z[y == y.max()], Z[y != y.max()]
        point = hull_common_point(ones, zeros)
        if point is not None:
            message += (
                f"; the point {np.round(point, 12).tolist()} lies in the hull of the points labelled "
                f"{int(y.max())} (classes {sorted(set(np.flatnonzero(task == y.max()).tolist()))}) and in "
                f"the hull of the others"
            )
    raise AssertionError(message)
