"""Sample efficiency: missing mass, worst ERM risk (THEORY.md T3) and coarsening (T4).

Every property is checked independently of the code under test: expectations against brute-force
enumeration of all n-tuples of draws or the closed form sum_m P_m (1 - P_m)^n; missing masses
against a loop in exact rational arithmetic; LIN worst ERM risk against the witness probe it
returns (checked with plain numpy), against geometry's own separability LP, and in one dimension
against an enumeration of every threshold classifier.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

from ssltheory.efficiency import (
    coarse_task,
    coarsen,
    coarsening_map,
    expected_missing_mass,
    expected_over_samples,
    is_label_preserving,
    missing_mass,
    random_coarsening,
    worst_erm_risk,
)
from ssltheory.equivalence import EquivalenceClasses
from ssltheory.geometry import linearly_separable
from ssltheory.synthetic import ideal_representation, simplex_codes
from ssltheory.tasks import enumerate_binary_tasks
from ssltheory.testing import oracles, strategies

# ------------------------------------------------------------------------------ helpers


def loop_missing_mass(labels, sample, weights) -> Fraction:
    """Missing mass by a plain loop in exact rational arithmetic (weights are ints)."""
    seen = {labels[i] for i in sample}
    total = sum(weights)
    return Fraction(sum(w for lab, w in zip(labels, weights) if lab not in seen), total)


def probe_is_consistent_and_errs(Z, y, sample, errs, probe, tol=1e-7) -> bool:
    """Plain-numpy check of a LIN witness: strictly correct on the sample, wrong on ``errs``."""
    W, b = probe
    scores = Z @ W.T + b
    scale = max(1.0, float(np.abs(scores).max()))
    own = scores[np.arange(len(y)), y]
    rival = np.where(np.arange(W.shape[0])[None, :] == y[:, None], -np.inf, scores).max(axis=1)
    correct_on_sample = np.all(own[sample] - rival[sample] > tol * scale)
    wrong_on_errs = np.all(rival[errs] - own[errs] >= -tol * scale)
    return bool(correct_on_sample and wrong_on_errs)


@st.composite
def worlds(draw, max_classes=4, max_size=3):
    """(classes, integer weights, sample) with K >= 2 classes."""
    labels = draw(strategies.class_labels(max_points=max_classes * max_size, max_classes=max_classes, min_classes=2))
    weights = draw(st.lists(st.integers(1, 5), min_size=labels.size, max_size=labels.size))
    sample = draw(st.lists(st.integers(0, labels.size - 1), min_size=0, max_size=labels.size + 1))
    return EquivalenceClasses.from_labels(labels), weights, np.asarray(sample, dtype=np.int64)


# ------------------------------------------------------------------------------ missing mass


def test_missing_mass_fixed_example():
    classes = EquivalenceClasses.from_labels([0, 0, 1, 2])
    assert missing_mass(classes, [0, 1]) == pytest.approx(0.5)
    assert missing_mass(classes, [0, 2, 3]) == 0.0
    assert missing_mass(classes, []) == 1.0


@given(worlds())
def test_missing_mass_is_the_mass_of_unseen_classes(world):
    classes, weights, sample = world
    p = np.asarray(weights, dtype=float) / sum(weights)
    expected = loop_missing_mass(classes.labels.tolist(), sample.tolist(), weights)
    assert missing_mass(classes, sample, p) == pytest.approx(float(expected), abs=1e-12)


def test_expected_over_samples_fixed_example():
    # two atoms, two draws: support {0} w.p. 1/4, {1} 1/4, {0, 1} 1/2
    result = expected_over_samples(lambda s: float(len(s)), [0.5, 0.5], 2)
    assert result.method == "exact" and result.value == pytest.approx(1.5)


@given(
    st.lists(st.integers(1, 9), min_size=1, max_size=4),
    st.integers(0, 4),
)
def test_exact_expectation_equals_enumeration_of_all_draw_sequences(weights, n):
    p = np.asarray(weights, dtype=float) / sum(weights)

    def statistic(support):
        return float(len(support)) ** 2 + 3.0 * float(np.sum(support == 0))

    brute = Fraction(0)
    total = sum(weights)
    for seq in itertools.product(range(len(weights)), repeat=n):
        prob = Fraction(1)
        for i in seq:
            prob *= Fraction(weights[i], total)
        support = sorted(set(seq))
        brute += prob * (len(support) ** 2 + 3 * (0 in support))
    assert expected_over_samples(statistic, p, n).value == pytest.approx(float(brute), abs=1e-12)


def test_expected_missing_mass_fixed_example():
    classes = EquivalenceClasses.from_labels([0, 0, 1, 2])
    # class masses 1/2, 1/4, 1/4: sum P (1 - P)^3 = 1/16 + 2 * 27/256
    assert expected_missing_mass(classes, 3).value == pytest.approx(1 / 16 + 54 / 256)


@given(st.lists(st.integers(1, 6), min_size=1, max_size=12), st.integers(0, 30))
def test_expected_missing_mass_is_sum_of_class_mass_times_miss_probability(weights, n):
    classes = EquivalenceClasses.from_labels(np.arange(len(weights)))
    P = [Fraction(w, sum(weights)) for w in weights]
    closed_form = sum(Pm * (1 - Pm) ** n for Pm in P)
    p = np.asarray(weights, dtype=float) / sum(weights)
    assert expected_missing_mass(classes, n, p, method="exact").value == pytest.approx(float(closed_form), abs=1e-10)


def test_monte_carlo_missing_mass_agrees_within_its_standard_error():
    classes = EquivalenceClasses.from_labels(np.repeat(np.arange(30), 2))  # K = 30: Monte Carlo
    P = np.full(30, 1 / 30)
    exact = float(np.sum(P * (1 - P) ** 40))
    estimate = expected_missing_mass(classes, 40, n_draws=4000, random_state=0)
    assert estimate.method == "monte_carlo" and estimate.stderr > 0
    assert abs(estimate.value - exact) < 4 * estimate.stderr


# ------------------------------------------------------------------------------ T3


def test_t3_example_noninvariant_encoder_is_strictly_worse():
    """THEORY.md T3: R^1, class A codes {0, 1}, class B code {3}."""
    Z = np.array([[0.0], [1.0], [3.0]])
    y = np.array([0, 0, 1])
    # Seeing the A-point at 0 and the B-point: no class is missing, yet the threshold 0.5 is an
    # ERM that mislabels the A-point at 1.
    result = worst_erm_risk(Z, y, [0, 2])
    assert result.exact and result.risk == pytest.approx(1 / 3)
    assert missing_mass(EquivalenceClasses.from_labels(y), [0, 2]) == 0.0
    assert probe_is_consistent_and_errs(Z, y, [0, 2], result.errs, result.probe)
    assert result.errs.tolist() == [False, True, False]
    # Seeing only the A-point at 0 (uniform masses): the supremum is max(p(1), p(3)) = 1/3, equal
    # to the missing mass p(B) = 1/3; one threshold cannot err on both x=1 and x=3.
    alone = worst_erm_risk(Z, y, [0])
    assert alone.exact and alone.risk == pytest.approx(1 / 3) and alone.upper_bound == pytest.approx(2 / 3)
    # An invariant encoder of the same classes (A -> 0, B -> 3) meets the floor exactly.
    invariant = worst_erm_risk(np.array([[0.0], [0.0], [3.0]]), y, [0, 2])
    assert invariant.risk == 0.0


@given(worlds(max_classes=5), st.sampled_from(["simplex", "random"]), st.integers(2, 3), st.data())
def test_invariant_ideal_encoders_have_worst_erm_risk_equal_to_missing_mass(world, kind, k, data):
    classes, weights, sample = world
    K = classes.n_classes
    task = np.asarray(data.draw(st.lists(st.integers(0, k - 1), min_size=K, max_size=K)))
    y = task[classes.labels]
    p = np.asarray(weights, dtype=float) / sum(weights)
    dim = K - 1 + data.draw(st.integers(0, 2))
    Z = ideal_representation(classes, kind=kind, dim=dim, random_state=data.draw(st.integers(0, 10**6)))
    floor = float(loop_missing_mass(classes.labels.tolist(), sample.tolist(), weights))
    for probe in ("linear", "universal"):
        result = worst_erm_risk(Z, y, sample, probe, p, n_labels=k)
        assert result.exact
        assert result.risk == pytest.approx(floor, abs=1e-12)
        assert result.upper_bound == pytest.approx(floor, abs=1e-12)
        if probe == "linear":
            assert probe_is_consistent_and_errs(Z, y, sample, result.errs, result.probe)


@st.composite
def population_ideal_noisy_worlds(draw):
    """Noisy simplex codes (not invariant, unless the noise is 0) on which every binary invariant
    task is LIN-realizable: the regular simplex plus sigma times drawn noise in [-1, 1] per entry
    (noisy_representation's codes, the noise drawn by hypothesis so that a failure shrinks)."""
    classes = EquivalenceClasses.from_labels(draw(strategies.class_labels(max_points=12, max_classes=4, min_classes=2)))
    K = classes.n_classes
    sigma = draw(st.sampled_from([0.05, 0.2, 0.4]))
    codes = simplex_codes(classes.n_classes)
    noise = draw(strategies.float_matrices(classes.n_points, codes.shape[1], bound=1.0))
    Z = codes[classes.labels] + sigma * noise
    for task in enumerate_binary_tasks(K):
        assume(linearly_separable(Z, task[classes.labels]))
    task = np.asarray(draw(st.lists(st.integers(0, 1), min_size=K, max_size=K)))
    weights = draw(st.lists(st.integers(1, 4), min_size=classes.n_points, max_size=classes.n_points))
    sample = np.asarray(draw(st.lists(st.integers(0, classes.n_points - 1), max_size=classes.n_points)), dtype=np.int64)
    return classes, Z, task, weights, sample


@given(population_ideal_noisy_worlds())
def test_population_ideal_encoders_have_worst_erm_risk_at_least_missing_mass(world):
    classes, Z, task, weights, sample = world
    y = task[classes.labels]
    p = np.asarray(weights, dtype=float) / sum(weights)
    floor = float(loop_missing_mass(classes.labels.tolist(), sample.tolist(), weights))
    for probe in ("linear", "universal"):
        result = worst_erm_risk(Z, y, sample, probe, p, n_labels=2)
        assert result.exact
        assert result.risk >= floor - 1e-12
        assert result.upper_bound >= result.risk - 1e-12
        if probe == "linear":
            assert probe_is_consistent_and_errs(Z, y, sample, result.errs, result.probe)


def threshold_worst_risk(z, y, sample, p) -> float:
    """sup of the risk over every 1-D affine argmax probe strictly correct on the sample.

    Probes are sign(w z + b) with ties counted as errors. Up to positive scaling they are: a
    threshold t (at a point, between two points or beyond them) with either orientation, or a
    constant (label 0, label 1, or the all-tie zero probe).
    """
    pts = np.unique(z)
    cuts = np.concatenate([pts, (pts[:-1] + pts[1:]) / 2, [pts[0] - 1, pts[-1] + 1]])
    predictions = []  # +1: label 1, -1: label 0, 0: tie
    for t in cuts:
        s = np.sign(z - t)
        predictions += [s, -s]
    predictions += [np.ones_like(z), -np.ones_like(z), np.zeros_like(z)]
    target = np.where(y == 1, 1.0, -1.0)
    best = -1.0
    for pred in predictions:
        wrong = pred != target
        if not wrong[sample].any():
            best = max(best, float(p[wrong].sum()))
    return best


def test_threshold_enumeration_fixed_example():
    z = np.array([0.0, 1.0, 3.0])
    assert threshold_worst_risk(z, np.array([0, 0, 1]), [0, 2], np.full(3, 1 / 3)) == pytest.approx(1 / 3)


@given(
    st.lists(st.integers(-4, 4), min_size=2, max_size=7),
    st.data(),
)
def test_worst_erm_risk_matches_threshold_enumeration_in_one_dimension(codes, data):
    z = np.asarray(codes, dtype=float)
    n = z.size
    y = np.asarray(data.draw(st.lists(st.integers(0, 1), min_size=n, max_size=n)))
    sample = np.asarray(data.draw(st.lists(st.integers(0, n - 1), max_size=n)), dtype=np.int64)
    weights = data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    p = np.asarray(weights, dtype=float) / sum(weights)
    brute = threshold_worst_risk(z, y, sample, p)
    if brute < 0:  # no probe is strictly correct on the sample
        with pytest.raises(ValueError, match="no linear probe"):
            worst_erm_risk(z[:, None], y, sample, "linear", p, n_labels=2)
        return
    result = worst_erm_risk(z[:, None], y, sample, "linear", p, n_labels=2)
    assert result.exact
    assert result.risk == pytest.approx(brute, abs=1e-9)


def test_disagreement_points_are_exactly_those_geometry_cannot_keep_correct():
    """A point is in can_err iff labelling it wrongly keeps the sample LIN-realizable (binary)."""
    rng = np.random.default_rng(3)
    Z = rng.normal(size=(9, 2))
    y = (Z[:, 0] + 0.3 * Z[:, 1] > 0).astype(int)
    sample = np.array([0, 1, 2, 3])
    result = worst_erm_risk(Z, y, sample)
    for x in range(9):
        if x in sample:
            assert not result.can_err[x]
            continue
        pts = np.append(sample, x)
        flipped = np.append(y[sample], 1 - y[x])
        # an error on x is either a strict flip or a tie; a tie is a limit of strict flips here
        assert result.can_err[x] == linearly_separable(Z[pts], flipped)


@given(st.data())
def test_worst_erm_risk_equals_the_enumeration_oracle_on_small_integer_worlds(data):
    """T3's sup over ERM probes, against ssltheory.testing.oracles: every labelling of the distinct
    codes, kept when the family realizes it (exact simplex) and it fits the sample, its risk exact.
    Integer points, any number of codes per class (invariant or not), integer masses."""
    labels = data.draw(strategies.class_labels(max_points=6, max_classes=3, min_classes=2))
    n = len(labels)
    Z = data.draw(hnp.arrays(np.int64, (n, data.draw(st.integers(1, 2))), elements=st.integers(-2, 2))).astype(float)
    y = data.draw(strategies.invariant_tasks(int(labels.max()) + 1))[labels]
    sample = data.draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n))
    weights = data.draw(st.lists(st.integers(1, 4), min_size=n, max_size=n))
    p = np.asarray(weights, dtype=float) / sum(weights)
    exact_p = [Fraction(w, sum(weights)) for w in weights]
    for probe in ("linear", "universal"):
        if probe == "linear" and not oracles.exact_strictly_separable(Z[sample], y[sample]):
            continue  # no linear probe fits the sample: the library refuses (ValueError), tested elsewhere
        result = worst_erm_risk(Z, y, sample, probe, p)
        truth = oracles.worst_erm_risk_by_enumeration(Z, y, sample, probe, exact_p)
        assert result.exact and result.risk == pytest.approx(float(truth), abs=1e-12), (probe, truth)


def test_universal_worst_erm_risk_fixed_example():
    # codes: a shared code for points 0, 1 (labels 0, 1); distinct codes for 2, 3
    Z = np.array([[0.0], [0.0], [1.0], [2.0]])
    y = np.array([0, 1, 0, 1])
    result = worst_erm_risk(Z, y, [2], "universal")
    # unseen shared code: any label errs on one of points 0, 1; point 3 unseen: can err
    assert result.risk == pytest.approx(0.5) and result.upper_bound == pytest.approx(0.75)


def test_worst_erm_risk_rejects_bad_input():
    Z = np.zeros((3, 2))
    with pytest.raises(ValueError, match="y has 2 entries"):
        worst_erm_risk(Z, [0, 1], [0])
    with pytest.raises(ValueError, match="sample holds index 5"):
        worst_erm_risk(Z, [0, 1, 1], [5])
    with pytest.raises(ValueError, match="probe must be"):
        worst_erm_risk(Z, [0, 1, 1], [0], probe="mlp")
    with pytest.raises(ValueError, match="p sums to"):
        worst_erm_risk(Z, [0, 1, 1], [0], p=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="no linear probe"):
        worst_erm_risk(Z, [0, 1, 1], [0, 1])


# ------------------------------------------------------------------------------ T4 coarsening


def test_coarsening_fixed_example():
    fine = EquivalenceClasses.from_labels([0, 0, 1, 2, 3])
    groups = np.array([0, 0, 1, 1])
    coarse = coarsen(fine, groups)
    assert coarse.labels.tolist() == [0, 0, 0, 1, 1]
    assert coarsening_map(fine, coarse).tolist() == [0, 0, 1, 1]
    assert is_label_preserving(groups, [1, 1, 0, 0]) and not is_label_preserving(groups, [1, 0, 0, 0])
    assert coarse_task(groups, [1, 1, 0, 0]).tolist() == [1, 0]
    with pytest.raises(ValueError, match="not label-preserving"):
        coarse_task(groups, [1, 0, 0, 0])
    with pytest.raises(ValueError, match="does not refine"):
        coarsening_map(coarse, fine)
    # sample {point 2}: fine misses classes 0, 2, 3 (4/5), coarse misses group 1 (2/5)
    assert missing_mass(fine, [2]) == pytest.approx(0.8) and missing_mass(coarse, [2]) == pytest.approx(0.4)


@given(worlds(max_classes=6), st.data())
def test_coarser_relations_have_pathwise_smaller_missing_mass(world, data):
    """THEORY.md T4: for every sample, missing mass under ~' <= under ~ when ~ refines ~'."""
    fine, weights, sample = world
    groups = np.asarray(data.draw(st.lists(st.integers(0, 2), min_size=fine.n_classes, max_size=fine.n_classes)))
    coarse = coarsen(fine, groups)
    coarse_labels = [groups[m] for m in fine.labels]  # loop construction of the merged relation
    assert coarsening_map(fine, coarse).tolist() == [coarse.labels[fine.members[m][0]] for m in range(fine.n_classes)]
    fine_mm = loop_missing_mass(fine.labels.tolist(), sample.tolist(), weights)
    coarse_mm = loop_missing_mass(coarse_labels, sample.tolist(), weights)
    assert coarse_mm <= fine_mm
    p = np.asarray(weights, dtype=float) / sum(weights)
    assert missing_mass(coarse, sample, p) == pytest.approx(float(coarse_mm), abs=1e-12)


@given(st.lists(st.integers(0, 2), min_size=3, max_size=10), st.integers(0, 10**6), st.data())
def test_random_label_preserving_coarsening_merges_only_equal_labels(task, seed, data):
    task = np.asarray(task)
    n_labels = np.unique(task).size
    n_groups = data.draw(st.integers(n_labels, task.size))
    groups = random_coarsening(task, n_groups, label_preserving=True, random_state=seed)
    assert sorted(set(groups.tolist())) == list(range(n_groups))
    for g in range(n_groups):
        assert len({int(t) for t in task[groups == g]}) == 1
    if n_labels >= 2 and n_groups < task.size:
        mixed = random_coarsening(task, n_groups, label_preserving=False, random_state=seed)
        assert sorted(set(mixed.tolist())) == list(range(n_groups))
        assert any(len({int(t) for t in task[mixed == g]}) > 1 for g in range(n_groups))


def test_invariant_ideal_sample_optimality_in_expectation():
    """W_n of an invariant ideal encoder = E[missing mass] = sum_m P_m (1 - P_m)^n (T3)."""
    classes = EquivalenceClasses.from_labels([0, 0, 1, 2, 2, 2])
    weights = [1, 2, 3, 1, 1, 2]
    p = np.asarray(weights, dtype=float) / sum(weights)
    Z = ideal_representation(classes)
    task = np.array([0, 1, 1])
    y = task[classes.labels]
    P = np.bincount(classes.labels, weights=p)
    for n in (1, 3):
        w_n = expected_over_samples(lambda s: worst_erm_risk(Z, y, s, "linear", p).risk, p, n).value
        assert w_n == pytest.approx(float(np.sum(P * (1 - P) ** n)), abs=1e-12)
