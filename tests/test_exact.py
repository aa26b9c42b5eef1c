"""The exact verdict against an adversary: regressions 1-10 and the independent-oracle suite.

The oracles (``ssltheory.testing.oracles``) are our own Fraction arithmetic: Gaussian elimination
for the affine rank and a phase-one simplex for strict separability, on the exact binary fractions
of the floats. The worlds (``ssltheory.testing.strategies.class_codes``) are integer lattices with
planted exact dependences, shared codes, non-invariant classes, d < K - 1 and near-degenerate
independent codes, moved by a common offset (up to 1e12 times the spread) and a power-of-two scale
(2^-1000 to 2^960), in float64 and float32, so that the floats hold the lattice exactly and the
exact verdict is known; a failure shrinks to a small lattice.

SSLTHEORY_PROFILE=thorough runs 500 cases per property (the counts are printed with -s).
"""

from __future__ import annotations

import json
import math
import warnings
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from ssltheory import exact as rational, is_ideal, linearly_separable
from ssltheory.cli import main
from ssltheory.conditions import code_geometry, exact_duplicate_rows
from ssltheory.efficiency import worst_erm_risk
from ssltheory.files import jsonable
from ssltheory.geometry import affine_rank, affine_singular_values, radon_split, scaled, separability, separating_probe
from ssltheory.metrics import affine_conditioning, ideal_score
from ssltheory.testing import strategies
from ssltheory.testing.oracles import (
    exact_affine_rank,
    exact_dependence_holds,
    exact_is_ideal,
    exact_strictly_separable,
    fractions,
    strict_margins,
)


def check_cli(tmp_path, capsys, Z, classes, *extra) -> tuple[int, dict]:
    np.save(tmp_path / "z.npy", np.asarray(Z))
    np.save(tmp_path / "c.npy", np.asarray(classes))
    code = main(["check", str(tmp_path / "z.npy"), "--classes", str(tmp_path / "c.npy"), "--json", *extra])
    out = capsys.readouterr().out
    return code, (json.loads(out) if out else {})


# ---------------------------------------------------------------- regressions 1-10
def test_item1_a_common_offset_does_not_turn_shared_or_collinear_codes_ideal(tmp_path, capsys):
    shared = np.array([[-45.0, -534.0], [-45.0, -534.0], [-61.0, -542.0]])
    for probe in ("linear", "universal"):
        verdict = is_ideal(shared, [0, 1, 2], probe=probe)
        assert not verdict.ok and verdict.certificate.kind == "shared-code"
        assert verdict.certificate.witness["verification"]["check"] == "exact"
        assert check_cli(tmp_path, capsys, shared, [0, 1, 2], "--probe", probe)[0] == 1
    collinear = np.array([[61.0, 97.0, -36.0], [64.0, 96.0, -37.0], [70.0, 94.0, -39.0]])
    assert exact_affine_rank(collinear) == 1
    assert affine_rank(collinear) == 1 and radon_split(collinear) is not None
    assert affine_conditioning(collinear, [0, 1, 2]).rank == 1
    assert ideal_score(shared, [0, 1, 2]).value < 1.0
    # the rates of the report: exactly collinear integer triples far from the origin
    rng = np.random.default_rng(11)
    for scale in (1e2, 1e3, 1e6, 1e9):
        for _ in range(25):
            a, step = rng.integers(-50, 50, 3), rng.integers(-5, 6, 3)
            C = (a + np.outer([0, 1, 3], step)).astype(np.float64) + np.round(scale * 10 * rng.standard_normal(3))
            if exact_affine_rank(C) < 2:
                assert affine_rank(C) == exact_affine_rank(C) and not is_ideal(C, [0, 1, 2]).ok


def test_item2_the_radon_step_does_not_crash_on_valid_input(tmp_path, capsys):
    t = np.array([0, 1, 2, 3, 4, 6.0])
    C = np.array([500, 900, 300, 700, 100.0]) + t[:, None] * np.array([1, -2, 3, 1, 2.0])
    split = radon_split(C)
    assert split is not None and (split.lambda_ != 0).sum() == 3  # rank 1: at most rank + 2 classes
    code, verdict = check_cli(tmp_path, capsys, C, np.arange(6))
    assert code == 1 and verdict["certificate"]["witness"]["verification"]["check"] == "exact"
    assert exact_dependence_holds(C, verdict["certificate"]["witness"]["lambda_exact"])


def test_item3_no_underflow_at_1e_minus_170_and_no_overflow_at_1e308():
    Z = np.array([[0, 0], [1, 0], [0, 1], [0.5, 0]]) * 1e-170
    verdict = is_ideal(Z, [0, 1, 2, 0])
    assert not verdict.ok and not verdict.conditions["invariance"].ok
    big = np.array([[1e308, -1e308], [-1e308, 1e308], [1e308, 1e308]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for probe in ("linear", "universal"):
            assert is_ideal(big, [0, 1, 2], probe=probe).ok == exact_is_ideal(big, [0, 1, 2], probe) is True
        dependent = np.array([[1e308, -1e308], [0.0, 0.0], [-1e308, 1e308]])
        verdict = is_ideal(dependent, [0, 1, 2])
        assert not verdict.ok and verdict.certificate.task.tolist() in ([0, 1, 0], [1, 0, 1])
        assert affine_rank(big) == 2
        # exactly representable as s * 2**e; as plain floats inf where they exceed float64's range
        s, e = affine_singular_values(big, with_exponent=True)
        small = affine_singular_values(big / 2.0**1023)
        assert e > 1000 and np.allclose(np.ldexp(s, e - 1023), small, rtol=1e-12)
        values = affine_singular_values(big)
        assert np.isinf(values[0]) and values[1] == pytest.approx(small[1] * 2.0**1023, rel=1e-12)
        conditioning = affine_conditioning(big, [0, 1, 2])
        assert conditioning.rank == 2 and conditioning.condition == pytest.approx(small[1] / small[0], rel=1e-12)


BIGGEST = np.finfo(np.float64).max


@pytest.mark.parametrize(
    "units",
    [(2.0, 2.0**1023), (2.0**1023, 2.0), (2.0**-1074, 2.0**1023), (0.75, 2.0**1000), (2.0**-600, 2.0**-600)],
)
@pytest.mark.parametrize("value", [0.0, -0.0, 1e-10, -3.5, 1.0, 1.9999999999999998, 5e-324, BIGGEST])
def test_scaled_is_the_exactly_rounded_product_even_where_the_units_alone_overflow(value, units):
    # oracle: the product in rational arithmetic, rounded once to float64 (or +-inf past its range)
    exact = Fraction(value)
    for unit in units:
        exact *= Fraction(unit)
    expected = math.copysign(math.inf, value) if abs(exact) > Fraction(BIGGEST) else float(exact)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = scaled(value, *units)
    if abs(exact) > Fraction(BIGGEST):
        assert got == expected
    else:  # float(Fraction) rounds once, to nearest; past the overflow threshold only inf is right
        assert got == expected or (abs(got) == math.inf and abs(exact) >= Fraction(BIGGEST))
    assert math.copysign(1.0, got) == math.copysign(1.0, value)


_AT_THE_EDGE = {
    "independent": (np.array([[1e308, -1e308], [-1e308, 1e308], [1e308, 1e308]]), [0, 1, 2]),
    "dependent through 0": (np.array([[1e308, -1e308], [0.0, 0.0], [-1e308, 1e308]]), [0, 1, 2]),
    "collinear at +max": (np.array([[BIGGEST, BIGGEST], [0.0, 0.0], [-BIGGEST, -BIGGEST]]), [0, 1, 2]),
    "shared code at -1e308": (np.array([[-1e308, 1.0], [-1e308, 1.0], [1e308, 0.0]]), [0, 1, 2]),
    "four codes in a plane": (np.array([[1e308, 0.0], [0.0, 1e308], [-1e308, 0.0], [0.0, -1e308]]), [0, 1, 2, 3]),
    "not invariant": (np.array([[1e308, -1e308], [-1e308, 1e308], [1e308, 1e308], [1e308, 1e308]]), [0, 1, 2, 0]),
}


@pytest.mark.parametrize("probe", ["linear", "universal"])
@pytest.mark.parametrize("case", list(_AT_THE_EDGE))
def test_the_overflow_path_at_plus_minus_1e308_gives_the_exact_verdict_and_no_nan(case, probe):
    """Codes at +-1e308 (their spread, 2e308, exceeds float64): whichever singular value the BLAS
    kernel returns for an exact dependence (0.0 or a rounding residue), no 0 * inf, no warning,
    and the verdict is the exact one (ssltheory.testing.oracles, rational arithmetic)."""
    Z, labels = _AT_THE_EDGE[case]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        verdict = is_ideal(Z, labels, probe=probe)
    assert verdict.ok == exact_is_ideal(Z, labels, probe)
    numbers = json.dumps(jsonable(verdict.to_dict(), nonfinite="string"))  # every value, details as text
    assert '"nan"' not in numbers and " nan" not in numbers, numbers
    if not verdict.ok:
        task = np.asarray(verdict.certificate.task) if verdict.certificate.task is not None else None
        if task is not None and probe == "linear":  # the task is unrealizable on the points (exact LP)
            assert not exact_strictly_separable(Z, task[np.asarray(labels)])


def test_item4_linearly_separable_is_exact_at_tiny_margins_and_agrees_with_is_ideal():
    Z = np.array([[0.0, 0.0], [1.0, 1e-10], [2.0, 0.0]])
    assert exact_strictly_separable(Z, [0, 1, 0])
    answer = separability(Z, [0, 1, 0])
    assert answer.separable and answer.verification == "exact"
    assert linearly_separable(Z, [0, 1, 0])
    assert is_ideal(Z, [0, 1, 2]).ok  # every task realizable, and linearly_separable agrees
    W, b = separating_probe(Z, [0, 1, 0])
    assert rational.probe_is_strict(W, b, Z, [0, 1, 0]) and min(strict_margins(W, b, Z, [0, 1, 0])) > 0
    assert not linearly_separable(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), [0, 1, 0])


def test_item5_a_not_invariant_certificate_never_claims_an_exactly_realizable_task():
    Z = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1e-10], [2.0, 0.0]])
    labels = np.array([0, 0, 1, 2])
    cert = is_ideal(Z, labels).certificate
    assert cert.kind == "not-invariant"
    if cert.task is not None:
        assert not exact_strictly_separable(Z, cert.task[labels])
    assert cert.witness["every_binary_task_realizable"] == all(
        exact_strictly_separable(Z, np.array(t)[labels]) for t in ([0, 1, 0], [0, 0, 1], [0, 1, 1])
    )


def test_item6_exact_marks_only_what_rational_arithmetic_confirms():
    rng = np.random.default_rng(6)
    for scale in (1e150, 1e-150, 3.7e140):
        for _ in range(10):
            base = rng.integers(-20, 20, size=(2, 3)).astype(float)
            C = np.vstack([base, 2 * base[1] - base[0], rng.integers(-20, 20, size=(1, 3))]) * scale
            verdict = is_ideal(C, np.arange(4))
            if verdict.ok:
                continue
            cert = verdict.certificate
            check = cert.witness["verification"]
            if check["check"] == "exact":
                assert exact_dependence_holds(C, cert.witness["lambda_exact"])
                assert not exact_strictly_separable(C, cert.task)
            else:
                assert check["check"] == "none" and exact_affine_rank(C) == 3
                assert exact_strictly_separable(C, cert.task)


def test_item7_worst_erm_risk_counts_tiny_masses_and_stays_exact():
    Z = np.array([[0.0], [2.0], [1.0]])
    p = [0.5, 0.5 - 1e-13, 1e-13]
    linear = worst_erm_risk(Z, [0, 1, 1], [0, 1], "linear", p=p)
    universal = worst_erm_risk(Z, [0, 1, 1], [0, 1], "universal", p=p)
    assert linear.exact and linear.risk == pytest.approx(1e-13, rel=1e-6)
    assert universal.risk == pytest.approx(1e-13, rel=1e-6)


def test_item8_ideal_score_is_below_one_when_is_ideal_finds_the_codes_not_invariant():
    C = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    labels = np.repeat(np.arange(3), 2)
    Z = C[labels]
    Z[1, 0] += 1e-10  # views of class 0 differ by 1e-10
    assert not is_ideal(Z, labels).ok and not code_geometry(Z, labels).invariant
    assert ideal_score(Z, labels).value < 1.0
    assert ideal_score(C[labels], labels).value == 1.0


@pytest.mark.parametrize("tol", [1.0, 1e300, -1e-3, float("nan")])
def test_item9_a_relative_tolerance_outside_0_1_is_bad_input(tol, tmp_path, capsys):
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)|finite"):
        is_ideal(np.eye(3), [0, 1, 2], tol=tol)
    with pytest.raises(ValueError, match=r"must be in \[0, 1\)"):
        affine_rank(np.eye(3), tol=1.0)
    if np.isfinite(tol):
        assert check_cli(tmp_path, capsys, np.eye(3), [0, 1, 2], "--tol", str(tol))[0] == 2


def test_item10_a_three_class_dependence_among_many_float32_codes_is_certified_by_three():
    # the report's case: K = 2,000 float32 codes in R^2048 (about a second)
    rng = np.random.default_rng(10)
    K, d = 2000, 2048
    C = (rng.integers(-1000, 1000, size=(K, d)) / 64).astype(np.float32)
    C[2] = 2 * C[1] - C[0]  # exactly collinear (sums of multiples of 1/64 stay exact)
    verdict = is_ideal(C, np.arange(K))
    cert = verdict.certificate
    assert verdict.conditions["affine_independence"].value == K - 2
    assert cert.kind == "affine-dependence" and cert.witness["support"].tolist() == [0, 1, 2]
    exact_verdict = is_ideal(C[:40], np.arange(40), verify="exact").certificate
    assert exact_verdict.witness["verification"]["check"] == "exact"
    assert sorted(exact_verdict.witness["lambda_exact"]) == [0, 1, 2]
    # the same among the others, away from the first classes
    C[2] = rng.integers(-1000, 1000, size=d) / 64
    C[K // 2] = 0.25 * C[5] + 0.75 * C[7]
    assert is_ideal(C, np.arange(K)).certificate.witness["support"].tolist() == [5, 7, K // 2]


# ---------------------------------------------------------------- found by the adversarial review of the fast paths
def test_identical_rows_of_two_classes_are_found_whatever_their_signs():
    # x and -x once hashed alike, and identical rows then lost their common representative
    Z = np.array([[1.0, 1.0], [-1.0, -1.0], [-1.0, -1.0]])
    for exact in (False, True):
        verdict = is_ideal(Z, [0, 0, 1], probe="universal", exact=exact)
        assert verdict.certificate.task.tolist() == [0, 1]
    assert is_ideal(Z, [0, 0, 1], probe="universal", exact=True).certificate.witness["every_task_realizable"] is False


HASH_HOSTILE = [-4.0, -2.0, -1.0, -0.5, 0.0, -0.0, 0.25, 0.5, 1.0, 2.0, 4.0]


def hash_hostile_rows(dtype):
    shape = st.tuples(st.integers(1, 200), st.integers(1, 4))
    return hnp.arrays(dtype, shape, elements=st.sampled_from(HASH_HOSTILE))


@given(st.sampled_from([np.float32, np.float64]).flatmap(hash_hostile_rows))
def test_duplicate_rows_are_grouped_exactly(X):
    # an independent grouping by np.unique on the rows, on inputs full of hash-hostile structure:
    # signs flipped, small integers and dyadics, -0.0
    n = X.shape[0]
    rep, inv = exact_duplicate_rows(X)
    assert np.array_equal(X[rep[inv]], X)  # every row equals its representative
    assert rep.size == np.unique(X + 0.0, axis=0).shape[0]  # and equal rows share one
    first = {(X[i] + 0.0).tobytes(): i for i in range(n - 1, -1, -1)}  # the first index of each value
    assert sorted(rep.tolist()) == sorted(first.values())


def test_a_shared_code_certificate_prefers_identical_codes():
    # codes equal only after centring ([1e-20, 0] and [2e-20, 0] beside [1, 1]) versus two identical ones
    Z = np.array([[1e-20, 0.0], [2e-20, 0.0], [1.0, 1.0], [1.0, 1.0]])
    for order in ([0, 1, 2, 3], [2, 3, 0, 1], [3, 0, 2, 1]):
        witness = is_ideal(Z[order], np.arange(4), probe="universal").certificate.witness
        assert witness["verification"]["check"] == "exact"
        assert np.array_equal(Z[order][witness["classes"][0]], Z[order][witness["classes"][1]])


# ---------------------------------------------------------------- exact mode and the CLI
def test_check_exact_decides_in_rational_arithmetic(tmp_path, capsys):
    collinear = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    code, verdict = check_cli(tmp_path, capsys, collinear, [0, 1, 2], "--exact")
    assert code == 1 and verdict["mode"] == "exact"
    assert verdict["certificate"]["witness"]["lambda_exact"] == {"0": "-1/2", "1": "1", "2": "-1/2"}
    near = np.array([[0.0, 0.0], [1.0, 1e-300], [2.0, 0.0]])  # dependent at every tolerance, not exactly
    assert not is_ideal(near, [0, 1, 2]).ok
    code, verdict = check_cli(tmp_path, capsys, near, [0, 1, 2], "--exact")
    assert code == 0 and verdict["ideal"] and verdict["mode"] == "exact"
    with pytest.raises(ValueError, match="exact mode handles class codes of at most"):
        is_ideal(np.zeros((700, 700)), np.arange(700), exact=True)


def test_exact_circuits_are_inclusion_minimal_and_check_by_hand():
    C = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0], [5.0, 3.0]])
    classes, lam = rational.exact_dependence(C)
    assert rational.dependence_holds(C, classes, lam)
    assert exact_dependence_holds(C, {int(m): str(v) for m, v in zip(classes, lam)})
    for drop in range(len(classes)):  # no proper subset is dependent
        rest = np.delete(classes, drop)
        assert exact_affine_rank(C[rest]) == len(rest) - 1
    assert rational.exact_dependence(np.eye(3)) is None


# ---------------------------------------------------------------- the oracle suite
#: every kind of class codes with its answer, and ideal codes within 2^-p of a dependence
lattice_worlds = st.one_of(strategies.class_codes(), strategies.ideal_codes(near_degenerate=True))


COUNTS = {"cases": 0, "wrong": 0, "exceptions": 0}


@given(lattice_worlds, st.sampled_from(["linear", "universal"]))
def test_oracle_tolerance_and_exact_verdicts(world, probe):
    Z, labels = world.Z, world.classes
    info = {"kind": world.kind, **world.transform}
    COUNTS["cases"] += 1
    truth = exact_is_ideal(Z, labels, probe)
    assert truth == world.ideal[probe]
    try:
        verdict = is_ideal(Z, labels, probe=probe)
        proof = is_ideal(Z, labels, probe=probe, exact=True)
    except Exception:
        COUNTS["exceptions"] += 1
        raise
    wrong = proof.ok != truth or (verdict.ok and not truth)
    if not truth and not verdict.ok:
        pass
    elif truth and not verdict.ok:
        # a judgement at the tolerance: allowed only where the lattice leaves it to the tolerance
        # (near a dependence or near-equal codes), and then the certificate must not claim a proof
        wrong |= world.ideal_at_tolerance[probe] is True
        wrong |= verdict.certificate.witness["verification"]["check"] == "exact"
    COUNTS["wrong"] += int(wrong)
    assert not wrong, (info, probe, truth, verdict.ok, proof.ok)
    for v in (verdict, proof):
        if v.certificate is not None and v.certificate.witness["verification"]["check"] == "exact":
            _check_exact_certificate(Z, labels, v)


def _check_exact_certificate(Z, labels, verdict):
    cert = verdict.certificate
    witness = cert.witness
    first = np.unique(labels, return_index=True)[1]
    if cert.kind == "affine-dependence":
        assert exact_dependence_holds(np.asarray(Z, dtype=np.float64)[first], witness["lambda_exact"])
    if cert.kind == "shared-code":
        m, m2 = witness["classes"]
        assert fractions(Z[labels == m]) and set(map(tuple, fractions(Z[labels == m]))) == set(
            map(tuple, fractions(Z[labels == m2]))
        )
    if cert.task is not None and verdict.probe == "linear":
        assert not exact_strictly_separable(Z, cert.task[labels])
    if cert.task is not None and verdict.probe == "universal":
        y = cert.task[labels]
        rows = {}
        clash = False
        for row, label in zip(map(tuple, fractions(Z)), y):
            clash |= rows.setdefault(row, label) != label
        assert clash


@given(lattice_worlds, st.data())
def test_oracle_linear_separability_is_exact(world, data):
    Z, labels = world.Z, world.classes
    COUNTS["cases"] += 1
    k = data.draw(st.integers(2, 3))
    task = data.draw(strategies.invariant_tasks(world.n_classes, n_labels=k, nonconstant=False))
    y = task[labels]
    try:
        answer = separability(Z, y)
    except Exception:
        COUNTS["exceptions"] += 1
        raise
    truth = exact_strictly_separable(Z, y)
    wrong = answer.separable != truth and answer.verification == "exact"
    COUNTS["wrong"] += int(wrong)
    assert not wrong
    if answer.probe is not None:
        assert rational.probe_is_strict(*answer.probe, Z, y) or answer.verification != "exact"


@given(lattice_worlds)
def test_oracle_affine_rank_and_radon(world):
    Z, labels = world.Z, world.classes
    COUNTS["cases"] += 1
    first = np.unique(labels, return_index=True)[1]
    C = np.asarray(Z[first])
    truth = exact_affine_rank(C)
    assert rational.exact_affine_rank(C) == truth
    rank = affine_rank(C)
    wrong = rank > truth  # never more independent than exactly
    if world.ideal_at_tolerance["linear"] is True:
        wrong |= rank != truth  # independent codes far from a dependence: the rank is not the tolerance's call
    split = radon_split(C)
    if split is not None:
        wrong |= (split.lambda_ != 0).sum() > rank + 2
    COUNTS["wrong"] += int(wrong)
    assert not wrong


def test_oracle_counts_reported():
    """Prints the running totals of the oracle properties above (run with -s to see them)."""
    print(
        f"\noracle suite: {COUNTS['cases']} cases, {COUNTS['wrong']} wrong verdicts, {COUNTS['exceptions']} exceptions"
    )
    assert COUNTS["wrong"] == 0 and COUNTS["exceptions"] == 0
