"""The headline ``ideal_score``: its monotonicity claims on codes with planted structure.

ideal_score = 1 iff the verdict passes, else invariant share x recoverable share (THEORY.md T1/T3,
`ssltheory.metrics.ideal_score`). Views are C[class] + sigma E with E *class-centred* (each class's noise
sums to zero), so the class means stay exactly C whatever sigma: only the within-class spread moves.
"""

from __future__ import annotations

import numpy as np
from hypothesis import given, strategies as st

from ssltheory.metrics import heldout_class_accuracy, ideal_score
from ssltheory.testing.strategies import fraction_of_profile

seeds = st.integers(0, 2**31 - 1)


def class_centred_noise(rng, labels, d):
    E = rng.standard_normal((labels.size, d))
    for m in np.unique(labels):
        E[labels == m] -= E[labels == m].mean(axis=0)
    return E


def planted_codes(rng, singular_values, d):
    """K = len(s) + 1 class codes in R^d whose centred matrix has exactly the singular values s."""
    K = len(singular_values) + 1
    basis = np.linalg.qr(np.hstack([np.ones((K, 1)), rng.standard_normal((K, K - 1))]))[0][:, 1:]  # orthogonal to 1
    V = np.linalg.qr(rng.standard_normal((d, K - 1)))[0]
    return basis @ np.diag(singular_values) @ V.T


@fraction_of_profile(0.33)
@given(
    seeds,
    st.integers(2, 8),
    st.integers(0, 4),
    st.integers(2, 4),
    st.lists(st.floats(0.01, 2.0), min_size=2, max_size=5, unique=True),
)
def test_strictly_decreasing_as_within_class_spread_grows(seed, K, extra, views, sigmas):
    rng = np.random.default_rng(seed)
    d = K - 1 + extra
    C = planted_codes(rng, np.linspace(1.0, 2.0, K - 1), d)
    labels = np.tile(np.arange(K), views)
    E = class_centred_noise(rng, labels, d)
    results = [ideal_score(C[labels] + s * E, labels, tol=1e-4) for s in sorted(sigmas)]
    assert not any(r.ideal for r in results)  # spread above the tolerance: the verdict fails
    scores = [r.value for r in results]
    assert all(a > b for a, b in zip(scores, scores[1:])), scores
    assert ideal_score(C[labels], labels, tol=1e-4).value == 1.0 > scores[0]


@fraction_of_profile(0.33)
@given(
    seeds,
    st.integers(3, 8),
    st.integers(2, 4),
    st.sampled_from([0.0, 0.2]),
    st.lists(st.floats(1e-4, 0.9), min_size=2, max_size=5, unique=True),
)
def test_strictly_decreasing_as_the_smallest_singular_value_goes_to_zero(seed, K, views, sigma, smallest):
    rng = np.random.default_rng(seed)
    d = K + 1
    labels = np.tile(np.arange(K), views)
    E = class_centred_noise(rng, labels, d)
    values = []
    for t in sorted(smallest, reverse=True):
        C = planted_codes(np.random.default_rng(seed + 1), [*np.linspace(1.0, 2.0, K - 2)[::-1], t], d)
        Z = C[labels] + sigma * E
        values.append(ideal_score(Z, labels, tol=1e-2).value)
    if sigma == 0.0:  # invariant: 1 while s_{K-1} is above the threshold tol x s_1, then strictly falling
        s_1 = np.linspace(1.0, 2.0, K - 2).max()  # the largest planted singular value (the smallest is <= 0.9)
        above = [v for v, t in zip(values, sorted(smallest, reverse=True)) if t > 1e-2 * s_1 * 1.0001]
        below = values[len(above) :]
        assert all(v == 1.0 for v in above) and all(v < 1.0 for v in below)
        assert all(a > b for a, b in zip(below, below[1:])), values
    else:
        assert all(a > b for a, b in zip(values, values[1:])), values


@fraction_of_profile(0.33)
@given(seeds, st.integers(4, 10), st.floats(0.0, 0.1), st.data())
def test_lower_when_the_dimension_falls_below_k_minus_1(seed, K, sigma, data):
    rng = np.random.default_rng(seed)
    C = planted_codes(rng, np.ones(K - 1), K - 1)  # a regular simplex in R^(K-1)
    labels = np.tile(np.arange(K), 3)
    Z = C[labels] + sigma * class_centred_noise(rng, labels, K - 1)
    full = ideal_score(Z, labels, tol=1e-2)
    d_low = data.draw(st.integers(1, K - 2))
    low = ideal_score(Z[:, :d_low], labels, tol=1e-2)
    assert low.recoverable_share <= d_low / (K - 1) + 1e-12
    assert low.value < full.value


def test_keeps_ranking_where_held_out_class_accuracy_is_one():
    """The saturation case, where a held-out count stops moving: K = 150, d = 512, one fixed class-centred
    noise draw. Held-out class accuracy is 1 at every sigma, yet the score is below 1 and strictly decreasing
    in sigma."""
    rng = np.random.default_rng(0)
    K, d, views = 150, 512, 4
    C = rng.standard_normal((K, d))
    labels = np.tile(np.arange(K), views)
    E = class_centred_noise(rng, labels, d)
    sigmas = [0.02, 0.05, 0.1, 0.2, 0.4, 0.8]
    scores = []
    for sigma in sigmas:
        Z = C[labels] + sigma * E
        assert heldout_class_accuracy(Z, labels) == 1.0
        scores.append(ideal_score(Z, labels).value)
    assert ideal_score(C[labels], labels).value == 1.0
    assert all(s < 1.0 for s in scores) and all(a > b for a, b in zip(scores, scores[1:])), scores
    assert len(set(scores)) == len(sigmas)
