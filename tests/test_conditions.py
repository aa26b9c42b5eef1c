"""The ideal-ness predicates (THEORY.md T1, T2, T3, T5) and their certificates.

Each property checks ``is_ideal`` against an independent computation: a hull-intersection LP over
every split of the classes (T1.1), exact rational rank (``ssltheory.testing.oracles``, T1.2(c)),
pairwise equality of codes by a loop (T2), and enumeration of LP-separable dichotomies (T5). The
worlds come from ``ssltheory.testing.strategies`` (integer lattices of every kind, no seeds), so a
failure shrinks to a few small codes.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import math

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

from ssltheory import EquivalenceClasses, cover_count, is_ideal, linearly_separable
from ssltheory.geometry import probe_predict, pseudo_inverse_probe, separating_probe
from ssltheory.tasks import lift
from ssltheory.testing import strategies
from ssltheory.testing.oracles import exact_affine_rank, exact_dependence_holds, hulls_intersect, strict_margins

# ---------------------------------------------------------------- independent checks


def every_split_separable(Z, labels, K) -> bool:
    """T1.1 by brute force: for every split S of the classes, the two point hulls are disjoint."""
    for bits in itertools.product((0, 1), repeat=K - 1):
        side = np.array((0,) + bits)[labels]
        if side.any() and hulls_intersect(Z[side == 1], Z[side == 0]):
            return False
    return True


# ---------------------------------------------------------------- generated worlds
def invariant_worlds(max_classes=8):
    """(Z, labels, C): invariant points of integer codes C (K, d) of every kind (affinely
    independent, with a planted dependence, a shared code, d < K - 1), 1 to 3 points per class in
    shuffled order; float64, no offset or scale (the LP oracle of these tests is a float one)."""
    kinds = ("ideal", "dependent", "shared", "deficient")
    worlds = strategies.class_codes(
        kinds, max_classes=max_classes, dtypes=(np.float64,), offsets=False, scales=False, bound=3
    )
    return worlds.map(lambda world: (world.Z, world.classes, world.codes))


@st.composite
def non_invariant_worlds(draw, max_classes=5):
    """(Z, labels): integer points, at least one class holding two different codes."""
    K = draw(st.integers(2, max_classes))
    d = draw(st.integers(1, 3))
    sizes = draw(st.lists(st.integers(1, 3), min_size=K, max_size=K))
    n = sum(sizes)
    Z = np.array(draw(st.lists(st.integers(-2, 2), min_size=n * d, max_size=n * d)), dtype=float).reshape(n, d)
    labels = np.repeat(np.arange(K), sizes)
    if all((Z[labels == m] == Z[labels == m][0]).all() for m in range(K)):
        Z[0, 0] += 1.0
        labels = np.r_[0, labels[1:]]
        if sizes[0] == 1:  # give class 0 a second point so that it is not invariant
            Z, labels = np.vstack([Z, Z[:1] - 1.0]), np.r_[labels, 0]
    return Z, labels


# ---------------------------------------------------------------- T1.2: (a) <=> (b) <=> (c)
def test_linear_verdict_fixed_examples():
    simplex = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    verdict = is_ideal(simplex[[0, 1, 1, 2]], [0, 1, 1, 2])
    assert verdict.ok and verdict.certificate is None
    assert all(c.ok for c in verdict.conditions.values())
    too_many = np.array([[0.0], [1.0], [3.0]])
    verdict = is_ideal(too_many, [0, 1, 2])
    assert not verdict.ok and not verdict.conditions["dimension"].ok
    assert verdict.certificate.kind == "affine-dependence"


@given(invariant_worlds(), st.data())
def test_linear_ideal_iff_every_dichotomy_separable_iff_affinely_independent(world, data):
    Z, labels, C = world
    K = len(C)
    every_dichotomy = every_split_separable(Z, labels, K)  # (b), by LP
    independent = exact_affine_rank(C) == K - 1  # (c), exact
    verdict = is_ideal(Z, labels)
    assert verdict.ok == every_dichotomy == independent
    assert verdict.conditions["affine_independence"].ok == independent
    assert verdict.conditions["invariance"].ok
    if independent:  # (a): tasks with any number of labels, each realized by an exact probe
        for k in range(2, K + 1):
            task = data.draw(strategies.invariant_tasks(K, n_labels=k, nonconstant=False))
            W, b = pseudo_inverse_probe(C, task)
            y = task[labels]
            assert min(strict_margins(W, b, Z, y)) > 0.5
            assert linearly_separable(Z, y)


# ---------------------------------------------------------------- T1.3: certificates
def test_failure_certificate_fixed_example():
    verdict = is_ideal(np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [5.0, 0.0]]), [0, 1, 2, 3])
    cert = verdict.certificate
    assert cert.kind == "affine-dependence" and cert.task.tolist() == [0, 1, 0, 0]
    assert cert.witness["support"].tolist() == [0, 1, 2]
    np.testing.assert_allclose(cert.witness["common_point"], [1.0, 1.0])
    assert cert.witness["verification"]["check"] == "exact"
    assert cert.witness["lambda_exact"] == {0: "-1/2", 1: "1", 2: "-1/2"}


@given(invariant_worlds())
def test_every_failure_certificate_is_an_invariant_task_no_linear_probe_realizes(world):
    Z, labels, C = world
    verdict = is_ideal(Z, labels)
    if verdict.ok:
        assert verdict.certificate is None
        return
    cert = verdict.certificate
    assert cert.task.shape == (len(C),) and set(cert.task.tolist()) == {0, 1}
    y = cert.task[labels]
    assert hulls_intersect(Z[y == 1], Z[y == 0])
    if cert.kind == "affine-dependence":
        lam = np.asarray(cert.witness["lambda"])
        assert abs(lam.sum()) < 1e-9 and np.linalg.norm(lam @ C) < 1e-9
        assert cert.task.tolist() == (lam > 0).astype(int).tolist()
        np.testing.assert_allclose(cert.witness["common_point"], lam[lam > 0] @ C[lam > 0], atol=1e-12)
    else:
        m, m2 = cert.witness["classes"]
        assert cert.kind == "shared-code" and (C[m] == C[m2]).all() and cert.task[m] != cert.task[m2]


@given(invariant_worlds(max_classes=6), st.integers(2, 4), st.data())
def test_every_probe_returned_for_a_task_reproduces_it_exactly(world, k, data):
    Z, labels, C = world
    task = data.draw(strategies.invariant_tasks(len(C), n_labels=k, nonconstant=False))
    y = lift(task, labels)  # raw ids 0..K-1 index the task directly
    assert y.tolist() == [task[m] for m in labels]
    probe = separating_probe(Z, y)
    if probe is not None:
        W, b = probe
        assert min(strict_margins(W, b, Z, y)) > 0
        assert probe_predict(W, b, Z).tolist() == y.tolist()
    if is_ideal(Z, labels).ok:
        assert probe is not None
        W, b = pseudo_inverse_probe(C, task)
        assert probe_predict(W, b, Z).tolist() == y.tolist()


# ---------------------------------------------------------------- T1.4: predicting M is not enough
def test_collinear_codes_argmax_predictable_with_enough_dimensions_are_not_ideal():
    C = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    verdict = is_ideal(C, [0, 1, 2])
    assert linearly_separable(C, [0, 1, 2])  # one argmax probe predicts M ...
    assert verdict.conditions["dimension"].ok  # ... and d = 2 = K - 1 ...
    assert not verdict.ok  # ... yet not ideal:
    assert verdict.certificate.task.tolist() == [0, 1, 0]  # middle versus ends
    assert not linearly_separable(C, [0, 1, 0]) and hulls_intersect(C[[1]], C[[0, 2]])


# ---------------------------------------------------------------- T2: universal probes
def test_universal_verdict_fixed_example():
    line = np.array([[0.0], [1.0], [2.0], [5.0]])
    assert is_ideal(line, [0, 1, 2, 3], probe="universal").ok
    assert not is_ideal(line, [0, 1, 2, 3], probe="linear").ok
    shared = is_ideal(np.array([[0.0], [1.0], [1.0]]), [0, 1, 2], probe="universal")
    assert not shared.ok and shared.certificate.kind == "shared-code"
    assert shared.certificate.witness["classes"] == [1, 2] and shared.certificate.task.tolist() == [0, 0, 1]
    assert "not required" in shared.conditions["affine_independence"].detail


@given(invariant_worlds())
def test_universal_ideal_iff_class_codes_pairwise_distinct(world):
    Z, labels, C = world
    K = len(C)
    distinct = all(not (C[i] == C[j]).all() for i in range(K) for j in range(i + 1, K))
    verdict = is_ideal(Z, labels, probe="universal")
    assert verdict.ok == distinct
    if distinct:
        # T2's construction: a direction keeping the codes distinct, then a piecewise-linear
        # (width-K ReLU) interpolation of any one-hot labels realizes every task
        t = C @ np.random.default_rng(0).standard_normal(C.shape[1])
        assert len(set(t.tolist())) == K
        task = np.arange(K) % 3
        order = np.argsort(t)
        scores = np.stack([np.interp(t[labels], t[order], (task[order] == j).astype(float)) for j in range(3)], axis=1)
        assert (scores.argmax(axis=1) == task[labels]).all()
    else:
        m, m2 = verdict.certificate.witness["classes"]
        assert (C[m] == C[m2]).all() and verdict.certificate.task[m] != verdict.certificate.task[m2]


# ---------------------------------------------------------------- T3: non-invariant encoders
def test_non_invariant_population_ideal_encoder_is_not_ideal_fixed_example():
    """T3: class A codes {0, 1}, class B code {3}: every invariant task is realizable."""
    verdict = is_ideal(np.array([[0.0], [1.0], [3.0]]), [0, 0, 1])
    cert = verdict.certificate
    assert not verdict.ok and not verdict.conditions["invariance"].ok
    assert cert.kind == "not-invariant" and cert.task is None
    assert cert.witness["pair"] == [0, 1] and cert.witness["every_binary_task_realizable"] is True
    assert "class means" in verdict.conditions["affine_independence"].detail


def test_non_invariant_certificate_with_a_task_fixed_example():
    Z = np.array([[0.0], [2.0], [1.0], [5.0]])  # class 0 spans [0, 2], which holds class 1's code
    verdict = is_ideal(Z, [0, 0, 1, 2])
    cert = verdict.certificate
    assert cert.kind == "not-invariant" and cert.task is not None
    y = cert.task[[0, 0, 1, 2]]
    assert hulls_intersect(Z[y == 1], Z[y == 0])


@given(non_invariant_worlds(), st.sampled_from(["linear", "universal"]))
def test_non_invariant_features_are_never_ideal_and_any_task_given_is_unrealizable(world, probe):
    Z, labels = world
    K = int(labels.max()) + 1
    verdict = is_ideal(Z, labels, probe=probe)
    cert = verdict.certificate
    assert not verdict.ok and cert.kind == "not-invariant"
    i, j = cert.witness["pair"]
    assert labels[i] == labels[j] and not (Z[i] == Z[j]).all()
    if probe == "linear":
        every = every_split_separable(Z, labels, K)
        assert cert.witness["every_binary_task_realizable"] == every
        assert (cert.task is None) == every
        if cert.task is not None:
            y = cert.task[labels]
            assert hulls_intersect(Z[y == 1], Z[y == 0])
    else:
        clash = any((Z[a] == Z[b]).all() and labels[a] != labels[b] for a in range(len(Z)) for b in range(len(Z)))
        assert cert.witness["every_task_realizable"] == (not clash)
        if cert.task is not None:
            a, b = cert.witness["points"]
            assert (Z[a] == Z[b]).all() and cert.task[labels[a]] != cert.task[labels[b]]


# ---------------------------------------------------------------- T5: Cover's count
def test_cover_count_fixed_examples():
    assert cover_count(10, 8) == 1022
    assert cover_count(4, 1) == 8
    assert [cover_count(N, 2) == 2**N for N in range(1, 7)] == [True, True, True, False, False, False]
    with pytest.raises(ValueError, match="n_points must be >= 1"):
        cover_count(0, 1)


@given(strategies.general_position_points(st.integers(1, 8), st.integers(1, 5)))
def test_cover_count_equals_the_number_of_separable_dichotomies_in_general_position(Z):
    N, d = Z.shape
    separable = 0
    for bits in itertools.product((0, 1), repeat=N - 1):  # up to complement: point 0 has label 0
        separable += linearly_separable(Z, np.array((0,) + bits))
    assert 2 * separable == cover_count(N, d)


# ---------------------------------------------------------------- tolerance and numerics
def test_tolerance_is_relative_to_the_largest_singular_value():
    C = np.array([[0.0, 0.0], [1.0, 0.0], [0.5, 1e-9]])
    assert is_ideal(C, [0, 1, 2]).ok
    verdict = is_ideal(C, [0, 1, 2], tol=1e-6)
    assert not verdict.ok and verdict.certificate.task.tolist() == [0, 0, 1]
    check = verdict.certificate.witness["verification"]  # exactly independent: only at tolerance
    assert check["check"] == "none" and "affinely independent in exact arithmetic" in check["reason"]
    assert verdict.rtol == 1e-6
    assert np.isclose(verdict.atol, 1e-6 * np.linalg.svd(C - C.mean(0), compute_uv=False)[0])


def test_float32_invariant_codes_with_a_large_offset_are_invariant():
    rng = np.random.default_rng(0)
    C = (1e4 + rng.standard_normal((5, 6))).astype(np.float32)
    labels = np.repeat(np.arange(5), 4)
    verdict = is_ideal(C[labels], labels)
    assert verdict.ok and verdict.conditions["invariance"].value == 0.0
    assert verdict.rtol == 6 * np.finfo(np.float32).eps


def components_within(X, atol) -> int:
    """Number of groups of rows linked by distance <= atol (a plain loop and union-find)."""
    parent = list(range(len(X)))

    def root(i):
        while parent[i] != i:
            i = parent[i]
        return i

    for i in range(len(X)):
        for j in range(i + 1, len(X)):
            if np.linalg.norm(X[i] - X[j]) <= atol:
                parent[root(i)] = root(j)
    return len({root(i) for i in range(len(X))})


def test_near_equal_codes_are_shared_at_the_tolerance_fixed_example():
    C = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1e-13], [0.0, 1.0]])
    verdict = is_ideal(C, [0, 1, 2, 3], probe="universal", tol=1e-10)  # atol ~ 1.3e-10 > 1e-13
    assert verdict.conditions["distinct_codes"].value == 3 and verdict.certificate.witness["classes"] == [1, 2]
    assert is_ideal(C, [0, 1, 2, 3], probe="universal").ok  # default atol ~ 1e-15 < 1e-13


@st.composite
def codes_with_near_copies(draw):
    """(K, d) integer codes (distances 0 or >= 1) where some codes are replaced by near-copies of
    others, 1e-14 (inside the tolerance 1e-6 x s_max) or 1e-3 (outside it) times a small vector."""
    K, d = draw(st.integers(3, 12)), draw(st.integers(1, 4))
    C = draw(hnp.arrays(np.int64, (K, d), elements=st.integers(-20, 20))).astype(np.float64)
    copies = draw(
        st.lists(
            st.tuples(
                st.integers(0, K - 1),
                st.integers(0, K - 1),
                st.sampled_from([1e-14, 1e-3]),
                hnp.arrays(np.int64, d, elements=st.integers(-3, 3)),
            ),
            max_size=6,
        )
    )
    for i, j, size, direction in copies:
        C[j] = C[i] + size * direction
    return C


@given(codes_with_near_copies())
def test_distinct_code_count_matches_a_pairwise_loop_at_the_tolerance(C):
    K = len(C)
    verdict = is_ideal(C, np.arange(K), probe="universal", tol=1e-6)
    assert verdict.conditions["distinct_codes"].value == components_within(C, verdict.atol)
    assert verdict.ok == (components_within(C, verdict.atol) == K)


# ---------------------------------------------------------------- non-invariant, near coincidences
def test_non_invariant_points_of_two_classes_that_nearly_coincide_give_a_task():
    rng = np.random.default_rng(3)
    C = rng.standard_normal((30, 40))
    labels = np.repeat(np.arange(30), 3)
    Z = C[labels] + 1e-3 * rng.standard_normal((90, 40))
    Z[5] = Z[50] + 1e-16  # point 5 (class 1) sits on point 50 (class 16)
    for probe in ("linear", "universal"):
        cert = is_ideal(Z, labels, probe=probe).certificate
        assert cert.kind == "not-invariant" and sorted(cert.witness["points"]) == [5, 50]
        assert cert.task[1] != cert.task[16]


@st.composite
def points_with_a_planted_near_copy(draw):
    """(Z, labels): integer points of 2..20 classes (so cross-class pairs are equal or >= 1 apart),
    not invariant (the last point repeats point 0's class one unit away), and maybe a near-copy
    (1e-12 away, not an exact one) of point 0 in another class."""
    labels = draw(strategies.class_labels(max_points=60, max_classes=20, min_classes=2))
    d = draw(st.integers(1, 6))
    Z = draw(hnp.arrays(np.int64, (len(labels), d), elements=st.integers(-20, 20))).astype(np.float64)
    Z, labels = np.vstack([Z, Z[:1] + np.eye(d)[0]]), np.r_[labels, labels[0]]
    if draw(st.booleans()):
        Z[draw(st.sampled_from(np.flatnonzero(labels != labels[0]).tolist()))] = Z[0] + 1e-12
    return Z, labels


@given(points_with_a_planted_near_copy())
def test_a_cross_class_pair_is_reported_iff_two_points_of_different_classes_coincide(world):
    Z, labels = world
    verdict = is_ideal(Z, labels, probe="universal", tol=1e-8)
    close = [
        (a, b)
        for a in range(len(Z))
        for b in range(a + 1, len(Z))
        if labels[a] != labels[b] and np.linalg.norm(Z[a] - Z[b]) <= verdict.atol
    ]
    cert = verdict.certificate
    assert cert.kind == "not-invariant" and cert.witness["every_task_realizable"] == (not close)
    if close:
        a, b = cert.witness["points"]
        assert labels[a] != labels[b] and np.linalg.norm(Z[a] - Z[b]) <= verdict.atol
        assert cert.task[labels[a]] != cert.task[labels[b]]


# ---------------------------------------------------------------- output
def test_to_dict_has_exactly_the_documented_fields_and_is_json():
    verdict = is_ideal(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), [0, 1, 2])
    out = json.loads(json.dumps(verdict.to_dict(), allow_nan=False))
    documented = {"ideal", "mode", "probe", "n_points", "n_classes", "dim", "tol", "atol", "conditions", "certificate"}
    assert set(out) == documented
    assert out["tol"] == verdict.rtol and out["atol"] == verdict.atol > 0
    assert set(out["conditions"]) == {"invariance", "distinct_codes", "affine_independence", "dimension"}
    assert all(set(c) == {"ok", "value", "detail"} for c in out["conditions"].values())
    assert set(out["certificate"]) == {"task", "witness"} and out["certificate"]["task"] == [0, 1, 0]
    assert out["certificate"]["witness"]["kind"] == "affine-dependence"
    assert is_ideal(np.eye(3), [0, 1, 2]).to_dict()["certificate"] is None
    text = verdict.summary()
    assert "NOT IDEAL" in text and "affine_independence" in text and "[0, 1, 0]" in text


def test_classes_may_be_an_equivalence_object():
    classes = EquivalenceClasses.from_pairs(4, [(0, 1)])
    assert is_ideal(np.array([[0.0], [0.0], [1.0], [2.0]]), classes, probe="universal").ok
    with pytest.raises(ValueError, match="classes covers 4 points but features has 3 rows"):
        is_ideal(np.zeros((3, 1)), classes)


# ---------------------------------------------------------------- certificate cost: LP verification, Radon subsets
def test_verification_is_exact_for_small_codes_and_opt_in_beyond():
    # 3 collinear codes: verified exactly by default. 130 generic codes in R^160: 20800 code
    # entries, above EXACT_AUTO_ENTRIES, so verified only when asked for.
    small = is_ideal(np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]]), [0, 1, 2]).certificate
    assert small.witness["verification"]["check"] == "exact"
    C = np.random.default_rng(0).integers(-9, 10, size=(130, 160)).astype(float)
    C[7] = 0.5 * C[3] + 0.5 * C[11]  # a dependence, exact in floats
    default = is_ideal(C, np.arange(130)).certificate
    assert (
        default.witness["verification"]["check"] == "none"
        and "verify='exact'" in default.witness["verification"]["reason"]
    )
    asked = is_ideal(C, np.arange(130), verify="exact").certificate
    assert asked.witness["verification"]["check"] == "exact"
    assert asked.witness["lambda_exact"] in ({3: "1/2", 7: "-1", 11: "1/2"}, {3: "-1/2", 7: "1", 11: "-1/2"})
    assert asked.task.tolist() == default.task.tolist()  # the certificate does not depend on the check
    never = is_ideal(C[:5, :2], np.arange(5), verify="none").certificate
    assert (
        never.witness["verification"]["check"] == "none" and "not requested" in never.witness["verification"]["reason"]
    )


def test_a_highs_failure_is_recorded_not_raised(monkeypatch, tmp_path, capsys):
    import ssltheory.conditions as conditions
    from ssltheory import cli

    def failing(Z, y, **kwargs):
        raise RuntimeError("HiGHS could not decide separability: simulated")

    monkeypatch.setattr(conditions, "separability", failing)
    collinear = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    cert = is_ideal(collinear, [0, 1, 2], verify="float-lp").certificate
    assert cert.task.tolist() == [0, 1, 0] and cert.witness["verification"]["check"] == "none"
    assert "simulated" in cert.witness["verification"]["reason"]
    # non-invariant features: the binary-task search is undetermined, not a traceback
    cert = is_ideal(np.array([[0.0], [1.0], [5.0]]), [0, 0, 1]).certificate
    assert cert.kind == "not-invariant" and "simulated" in cert.witness["search_note"]
    # and the command line still answers "not ideal" with its JSON
    np.save(tmp_path / "z.npy", collinear)
    np.save(tmp_path / "c.npy", np.arange(3))
    code = cli.main(
        ["check", str(tmp_path / "z.npy"), "--classes", str(tmp_path / "c.npy"), "--json", "--verify", "float-lp"]
    )
    out, err = capsys.readouterr()
    assert (
        code == 1
        and json.loads(out)["certificate"]["witness"]["verification"]["check"] == "none"
        and "Traceback" not in err
    )


def test_dimension_deficit_certificate_example():
    # 6 codes in R^2: the split comes from the first rank + 2 = 4 classes.
    C = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [3.0, 7.0], [-2.0, 5.0]])
    cert = is_ideal(C, np.arange(6)).certificate
    assert cert.kind == "affine-dependence" and set(cert.witness["support"].tolist()) <= {0, 1, 2, 3}
    assert cert.task.tolist() in ([1, 0, 0, 1, 0, 0], [0, 1, 1, 0, 0, 0])
    assert hulls_intersect(C[cert.task == 1], C[cert.task == 0])


def test_a_dependence_inside_a_degenerate_subset_is_certified_not_lost():
    # found by hypothesis (test_metrics, thorough profile): five codes in a plane where the first four
    # hold a three-class dependence; the subset search's singular vector was the ones vector, its
    # centred part 0, and the Radon step crashed (IndexError) instead of certifying classes 1, 2, 3
    C = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 1.0], [1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [0.0, 1.0, 1.0]])
    cert = is_ideal(C, np.arange(5)).certificate
    assert cert.kind == "affine-dependence" and cert.witness["verification"]["check"] == "exact"
    assert exact_dependence_holds(C, cert.witness["lambda_exact"])
    assert hulls_intersect(C[cert.task == 1], C[cert.task == 0])


@given(
    st.integers(1, 5).flatmap(lambda d: strategies.general_position_points(st.integers(d + 3, d + 12), d)),
    st.sampled_from(["float64", "float32"]),
)
def test_dimension_deficit_codes_get_a_radon_task_whose_hulls_intersect(points, dtype):
    # K >= d + 3 integer codes in general position (exact in float32 too): affinely dependent; the
    # certificate's task must have intersecting hulls (LP), and lambda must be an affine dependence.
    C = points.astype(dtype)
    K = len(C)
    verdict = is_ideal(C, np.arange(K), verify="none")
    cert = verdict.certificate
    assert not verdict.ok and cert.kind == "affine-dependence"
    C64 = C.astype(np.float64)
    assert hulls_intersect(C64[cert.task == 1], C64[cert.task == 0])
    lam = np.asarray(cert.witness["lambda"])
    assert abs(lam.sum()) < 1e-9 and np.linalg.norm(lam @ C64) <= max(verdict.atol, 1e-12)


# ---------------------------------------------------------------- bad input (docs/ARCHITECTURE.md)
GOOD_Z = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])


@pytest.mark.parametrize(
    "Z, classes, kwargs, message",
    [
        (np.array([[0.0, np.nan], [1.0, 0.0], [0.0, 1.0]]), [0, 1, 2], {}, "features contains NaN or Inf"),
        (np.array([[0.0, np.inf], [1.0, 0.0], [0.0, 1.0]]), [0, 1, 2], {}, "features contains NaN or Inf"),
        (GOOD_Z, [0, 1], {}, "classes has 2 entries but features has 3 rows"),
        (GOOD_Z, [0, 1, 1.5], {}, "classes must hold integers"),
        (GOOD_Z, ["a", "b", "c"], {}, "classes must hold integers"),
        (GOOD_Z, [0, -1, 1], {}, "classes must be non-negative"),
        (GOOD_Z, [4, 4, 4], {}, "single class"),
        (np.zeros((0, 2)), [], {}, "features is empty"),
        (np.zeros(3), [0, 1, 2], {}, "features must be a 2-D array"),
        (np.zeros((3, 2, 1)), [0, 1, 2], {}, "features must be a 2-D array"),
        (GOOD_Z, [[0, 1, 2]], {}, "classes must be a 1-D array"),
        (GOOD_Z, [0, 1, 2], {"probe": "mlp"}, "probe must be one of linear, universal"),
        (GOOD_Z, [0, 1, 2], {"tol": -1.0}, r"tol is a relative tolerance and must be in \[0, 1\)"),
        (GOOD_Z, [0, 1, 2], {"tol": 1e300}, r"tol is a relative tolerance and must be in \[0, 1\)"),
        (GOOD_Z, [0, 1, 2], {"verify": "yes"}, "verify must be None or one of auto, exact, float-lp, none"),
    ],
)
def test_is_ideal_rejects_bad_input_naming_the_problem(Z, classes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        is_ideal(Z, classes, **kwargs)


def test_the_binary_task_search_of_a_not_invariant_certificate_stops_at_its_budget(monkeypatch):
    # Degenerate codes made each exact proof of the search slow (minutes for 10 classes): the search
    # stops at its time budget, says so, and leaves "every task realizable" open unless it found one.
    import ssltheory.conditions as conditions

    Z = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 0.5], [2.0, 0.0], [0.0, 3.0]])
    labels = np.array([0, 0, 1, 2, 3])
    complete = is_ideal(Z, labels).certificate.witness
    assert "search_note" not in complete and complete["every_binary_task_realizable"] is not None
    monkeypatch.setattr(conditions, "SEARCH_MAX_SECONDS", 0.0)
    stopped = is_ideal(Z, labels).certificate.witness
    assert "search stopped" in stopped["search_note"]
    assert stopped["every_binary_task_realizable"] is None


# ---------------------------------------------------------------- the pair searches
# `_candidate_blocks` prunes pairs by a sweep along the principal coordinate and a projected
# bound; `_close_pairs` and `_first_cross_class_pair` verify its candidates by `_pair_distances`.
# Oracles: every pair's `_pair_distances` (brute force, the very numbers the searches verify
# with) and, on small cases, the exact rational distance of the scaled rows.
PAIR_KINDS = ("lattice", "equal-first", "duplicates", "near-duplicates", "collinear", "gaussian")


@st.composite
def pair_worlds(draw):
    """(X (n, d) float32/float64, unit, labels (n,), atol): rows built to sit right at atol.

    Kinds: integer lattices (many equal distances and duplicates), a constant first column
    (every row ties on it), repeated rows, repeated rows apart by ~1e-14 (below the rounding of
    the sweep's coordinate), collinear rows a + t v spaced exactly along a random
    direction, Gaussian rows with a decaying spectrum; d <= 24 and d > 24, scales 1e-150 to
    1e150, a common offset up to 1e8. atol is one pair's own computed distance (the threshold
    itself), one of the three smallest positive distances, that times 1 +- 1e-12, 0 (identical
    rows only), or a quantile of all distances.
    """
    from ssltheory.conditions import _pair_distances
    from ssltheory.geometry import power_of_two

    kind = draw(st.sampled_from(PAIR_KINDS))
    n = draw(st.integers(2, 40))
    d = draw(st.sampled_from([1, 2, 3, 7, 24, 25, 40, 90]))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    if kind == "lattice":
        X = rng.integers(-2, 3, (n, d)).astype(float)
    elif kind == "equal-first":
        X = rng.standard_normal((n, d))
        X[:, 0] = 1.5
    elif kind in ("duplicates", "near-duplicates"):
        X = rng.integers(-1, 2, (max(1, n // 3), d)).astype(float)[rng.integers(0, max(1, n // 3), n)]
        if kind == "near-duplicates":  # copies apart by ~1e-14: below the rounding of their coordinates
            X += rng.standard_normal((n, d)) * 1e-14 * (rng.random((n, 1)) < 0.5)
    elif kind == "collinear":
        v = rng.standard_normal(d)
        X = rng.standard_normal(d) + np.arange(n)[:, None] * (v / np.linalg.norm(v))
    else:
        X = rng.standard_normal((n, d)) * (1.0 + np.arange(d)) ** -1.5
    X = X * draw(st.sampled_from([1.0, 1e-150, 1e150, 2.0**-40, 3.0])) + draw(st.sampled_from([0.0, 1.0, 1e8]))
    with np.errstate(over="ignore"):
        X = X.astype(draw(st.sampled_from([np.float64, np.float32])))
    assume(np.isfinite(X).all())
    unit = power_of_two(float(np.abs(X).max()))
    labels = rng.integers(0, draw(st.integers(1, 4)), n)
    a, b = np.triu_indices(n, 1)
    dist = _pair_distances(X, a, b, unit)
    how = draw(st.sampled_from(["pair", "smallest", "above", "below", "zero", "quantile"]))
    pick = dist[draw(st.integers(0, dist.size - 1))]
    positive = np.sort(dist[dist > 0])
    atol = {
        "pair": pick,
        "smallest": positive[min(draw(st.integers(0, 2)), positive.size - 1)] if positive.size else 0.0,
        "above": pick * (1 + 1e-12),
        "below": pick * (1 - 1e-12),
        "zero": 0.0,
        "quantile": float(np.quantile(dist, draw(st.floats(0.0, 0.3)))),
    }[how]
    return X, unit, labels, atol


@contextlib.contextmanager
def tiny_sweep_blocks(entries):
    """Run `_candidate_blocks` with blocks of at most ``entries`` bound entries (None: the default)."""
    from ssltheory import conditions

    saved = conditions._BOUND_BLOCK
    conditions._BOUND_BLOCK = saved if entries is None else entries
    try:
        yield
    finally:
        conditions._BOUND_BLOCK = saved


def all_pairs_within(X, unit, atol):
    """Brute force: every pair i < j whose `_pair_distances` is at most atol, as a set."""
    from ssltheory.conditions import _pair_distances

    a, b = np.triu_indices(X.shape[0], 1)
    near = _pair_distances(X, a, b, unit) <= atol
    return set(zip(a[near].tolist(), b[near].tolist()))


def exact_squared_distance(X, unit, i, j):
    from fractions import Fraction

    return sum(
        (Fraction(float(x)) / Fraction(unit) - Fraction(float(y)) / Fraction(unit)) ** 2 for x, y in zip(X[i], X[j])
    )


@strategies.fraction_of_profile(2.0)
@given(pair_worlds())
def test_pair_candidates_contain_every_pair_within_atol(world):
    from fractions import Fraction

    from ssltheory.conditions import _candidate_blocks

    X, unit, labels, atol = world
    want = all_pairs_within(X, unit, atol)
    for with_labels, block in itertools.product((False, True), (4, None)):
        with tiny_sweep_blocks(block):  # blocks of one or two rows: the window alone decides their partners
            got = [
                pair for a, b in _candidate_blocks(X, atol, unit, labels if with_labels else None) for pair in zip(a, b)
            ]
        assert all(i < j for i, j in got) and len(got) == len(set(got))  # each pair once, as (smaller, larger)
        cross = {(i, j) for i, j in want if labels[i] != labels[j]} if with_labels else want
        assert cross <= set(got), sorted(cross - set(got))[:5]
        if with_labels:
            assert all(labels[i] != labels[j] for i, j in got)
    if X.shape[0] * X.shape[1] <= 400:  # the exact distances: no pair strictly inside atol (relatively) is left out
        limit = Fraction(atol) ** 2 * (1 - Fraction(1, 10**9))
        n = X.shape[0]
        inside = {(i, j) for i in range(n) for j in range(i + 1, n) if exact_squared_distance(X, unit, i, j) <= limit}
        assert inside <= want


@strategies.fraction_of_profile(1.0)
@given(pair_worlds())
def test_close_pairs_and_cross_class_pair_agree_with_brute_force(world):
    from ssltheory.conditions import _close_pairs, _first_cross_class_pair, _pair_distances
    from ssltheory.equivalence import components

    X, unit, labels, atol = world
    want = all_pairs_within(X, unit, atol)
    n = X.shape[0]
    scaled_rows = X.astype(np.float64) / unit
    with tiny_sweep_blocks(4):
        pairs, dists = _close_pairs(scaled_rows, atol)
    assert (dists <= atol).all()
    got_parts = components(pairs, n)[1]
    want_parts = components(np.array(sorted(want), dtype=np.int64).reshape(-1, 2), n)[1]
    assert np.array_equal(got_parts[:, None] == got_parts[None, :], want_parts[:, None] == want_parts[None, :])
    cross = {(i, j) for i, j in want if labels[i] != labels[j]}
    with tiny_sweep_blocks(4):
        found = _first_cross_class_pair(X, labels, atol, unit)
    assert (found is not None) == bool(cross)
    if found is not None:
        i, j, dist = found
        assert (i, j) in cross and dist == _pair_distances(X, np.array([i]), np.array([j]), unit)[0]


def test_pair_search_at_realistic_size_finds_exactly_the_brute_force_pairs():
    """1,500 float32 rows of d = 2,048 with a decaying spectrum and planted near pairs (a view and
    its slightly moved copy), atol between the planted distances: the search's pairs are exactly
    those of all 1.1 million pairs' distances (brute force by a float64 Gram matrix with a 1%
    margin, then `_pair_distances`)."""
    from ssltheory.conditions import _close_pairs, _pair_distances

    rng = np.random.default_rng(7)
    n, d = 1500, 2048
    X = (rng.standard_normal((n, 64)) @ rng.standard_normal((64, d)) / 8 + 0.05 * rng.standard_normal((n, d))).astype(
        np.float32
    )
    X = np.maximum(X, 0)
    moved = rng.choice(n, 40, replace=False)
    X[moved[:20]] = X[moved[20:]] + (rng.standard_normal((20, d)) * np.geomspace(1e-3, 1e-1, 20)[:, None]).astype(
        np.float32
    )
    X64 = X.astype(np.float64)
    sq = np.einsum("ij,ij->i", X64, X64)
    gram = np.sqrt(np.clip(sq[:, None] + sq[None, :] - 2 * X64 @ X64.T, 0, None))
    planted = np.sort(_pair_distances(X64, moved[:20], moved[20:]))
    for atol in (planted[9], (planted[9] + planted[10]) / 2, 0.0):
        a, b = np.nonzero(np.triu(gram <= atol * 1.01 + 1e-9, 1))
        exact = _pair_distances(X64, a, b) <= atol
        want = set(zip(a[exact].tolist(), b[exact].tolist()))
        pairs, _ = _close_pairs(X64, atol)
        assert {tuple(sorted(p)) for p in pairs.tolist()} == want and len(want) >= (10 if atol else 0)


@pytest.mark.parametrize("d", [3, 30, 90])
@pytest.mark.parametrize("offset", [0.0, 1e8])
def test_pair_search_keeps_pairs_at_the_edge_of_the_sweep_window(d, offset):
    """Rows a + t v on a line (v random; for d = 3 a coordinate axis, the sweep's coordinate),
    spaced by about 1 with jitter, so that the sweep's coordinate differences equal the distances
    up to rounding: at atol = the largest neighbour distance every neighbouring pair sits inside
    the window only by its rounding margin, and must still be found."""
    from ssltheory.conditions import _candidate_blocks, _pair_distances

    for seed in range(6):
        rng = np.random.default_rng(seed)
        v = np.eye(d)[0] if d == 3 else rng.standard_normal(d)
        v /= np.linalg.norm(v)
        t = np.cumsum(1 + 1e-3 * rng.standard_normal(300))
        X = offset + rng.standard_normal(d) + t[:, None] * v
        steps = _pair_distances(X, np.arange(299), np.arange(1, 300))
        for atol in np.sort(steps)[[-1, -2, 150]]:
            with tiny_sweep_blocks(4):
                got = {pair for a, b in _candidate_blocks(X, atol, 1.0) for pair in zip(a.tolist(), b.tolist())}
            want = {(i, i + 1) for i in np.flatnonzero(steps <= atol).tolist()}
            assert want <= got, sorted(want - got)[:5]


@pytest.mark.parametrize("d", [3, 30, 90])
@pytest.mark.parametrize("offset", [0.0, 3.0])
def test_pair_search_keeps_pairs_closer_than_the_rounding_of_their_coordinates(d, offset):
    """Copies of lattice rows moved by ~1e-14, far below the rounding of the projected bound's
    terms (~1e-16 x ||x||^2 against atol^2 ~ 1e-28): at atol = the smallest positive distance
    (and the next two), each such pair is kept only through the bound's rounding slack."""
    from ssltheory.conditions import _candidate_blocks, _pair_distances

    for seed in range(12):
        rng = np.random.default_rng(seed)
        X = rng.integers(-1, 2, (13, d)).astype(float)[rng.integers(0, 13, 40)] + offset
        X += rng.standard_normal((40, d)) * 1e-14 * (rng.random((40, 1)) < 0.5)
        a, b = np.triu_indices(40, 1)
        dist = _pair_distances(X, a, b)
        for atol in np.sort(dist[dist > 0])[:3]:
            want = set(zip(a[dist <= atol].tolist(), b[dist <= atol].tolist()))
            for block in (4, None):
                with tiny_sweep_blocks(block):
                    got = {pair for p, q in _candidate_blocks(X, atol, 1.0) for pair in zip(p.tolist(), q.tolist())}
                assert want <= got, sorted(want - got)[:5]


@pytest.mark.parametrize("d", [30, 90, 300])
def test_pair_search_keeps_pairs_whose_coordinates_round_more_than_their_distance(d):
    """Rows on a line 1e-10 apart, 1 away from the first row (the origin of the sweep's
    coordinate): rounding the coordinate moves it by ~sqrt(d) eps = 1e-15 to 4e-15, a relative 1e-5
    of the distances, far beyond the window's relative 1e-6; only its absolute margin
    4 (d + 4) eps r_max keeps the neighbouring pairs at atol = their largest distances."""
    from ssltheory.conditions import _candidate_blocks, _pair_distances

    for seed in range(8):
        rng = np.random.default_rng(seed)
        v = rng.standard_normal(d)
        v /= np.linalg.norm(v)
        t = np.concatenate([[0.0], 1.0 + np.cumsum(1e-10 * (1 + 0.1 * rng.standard_normal(199)))])
        X = rng.standard_normal(d) + t[:, None] * v
        steps = _pair_distances(X, np.arange(1, 199), np.arange(2, 200))
        for atol in np.sort(steps)[[-1, -2, -3, 100]]:
            want = {(i + 1, i + 2) for i in np.flatnonzero(steps <= atol).tolist()}
            with tiny_sweep_blocks(4):
                got = {pair for a, b in _candidate_blocks(X, atol, 1.0) for pair in zip(a.tolist(), b.tolist())}
            assert want <= got, sorted(want - got)[:5]


@pytest.mark.parametrize("N, d", [(1, 0), (2, 1), (3, 1), (5, 4), (6, 4), (40, 39), (40, 41), (1000, 2048), (300, 12)])
def test_cover_count_equals_the_binomial_sum(N, d):
    # the shortcut 2^N where every binomial is summed (N <= d + 1) against the definition
    assert cover_count(N, d) == 2 * sum(math.comb(N - 1, i) for i in range(d + 1))


@pytest.mark.parametrize("exponent", [-1010, -1040])
def test_views_near_the_bottom_of_float64_get_the_same_verdict(exponent):
    # the exact check of a float probe once crashed on weights that overflowed to inf (codes of
    # size 2^-1010); such a probe is not proved, and the verdict is that of the unscaled views
    rng = np.random.default_rng(2)
    labels = np.repeat(np.arange(5), 3)
    codes = rng.standard_normal((5, 4))
    codes[-1] = 0.5 * (codes[0] + codes[1])
    Z = codes[labels] + 1e-3 * rng.standard_normal((labels.size, 4))
    want = is_ideal(Z, labels)
    got = is_ideal(np.ldexp(Z, exponent), labels)
    assert got.ok == want.ok
    assert [c.ok for c in got.conditions.values()] == [c.ok for c in want.conditions.values()]
