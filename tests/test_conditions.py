"""The ideal-ness predicates (THEORY.md T1, T2, T3, T5) and their certificates.

Each property checks ``is_ideal`` against an independent computation: a hull-intersection LP over
every split of the classes (T1.1), exact rational rank (``ssltheory.testing.oracles``, T1.2(c)),
pairwise equality of codes by a loop (T2), and enumeration of LP-separable dichotomies (T5). The
worlds come from ``ssltheory.testing.strategies`` (integer lattices of every kind, no seeds), so a
failure shrinks to a few small codes.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import pytest
from hypothesis import given, strategies as st
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
