"""SwAV, Barlow Twins and SimSiam losses against float64 loop implementations (values and gradients).

Each loop below is written from the paper's formula, entry by entry, in float64 torch scalars,
so autograd through the loop gives an independent gradient; hypothesis draws the sizes and the
inputs. The theorems are tested as theorems: Sinkhorn's output is a row-stochastic matrix whose
columns approach equal mass (the transport polytope), Barlow Twins is zero exactly at
invariant, decorrelated, standardised projections, SimSiam's targets receive no gradient. The
distributed options (Sinkhorn's sums, Barlow's statistics and cross-correlation all-reduced) are
checked on 2 CPU processes with the other losses in tests/test_ssl_distributed.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st

from ssltheory.ssl.losses import BarlowTwinsLoss, SimSiamLoss, SwAVLoss
from ssltheory.ssl.losses.swav import EmbeddingQueue, multicrop_for, sinkhorn_knopp
from ssltheory.testing import strategies
from ssltheory.testing.strategies import fraction_of_profile

# ---------------------------------------------------------------- float64 loops


def loop_sinkhorn(scores: list[list[float]], epsilon: float, iterations: int) -> list[list[float]]:
    """Caron et al. 2020 Algorithm 1 on python floats: alternate prototype and sample normalisation."""
    n, k = len(scores), len(scores[0])
    q = [[math.exp(s / epsilon) for s in row] for row in scores]
    total = sum(sum(row) for row in q)
    q = [[x / total for x in row] for row in q]
    for _ in range(iterations):
        cols = [sum(q[i][j] for i in range(n)) for j in range(k)]
        q = [[q[i][j] / cols[j] / k for j in range(k)] for i in range(n)]
        rows = [sum(row) for row in q]
        q = [[q[i][j] / rows[i] / n for j in range(k)] for i in range(n)]
    return [[x * n for x in row] for row in q]


def loop_swav(
    scores: list[torch.Tensor],
    n_global: int,
    temperature: float,
    epsilon: float,
    iterations: int,
    queue: list[torch.Tensor] | None = None,
) -> torch.Tensor:
    """Mean over pairs (v global, w != v) of mean_rows -sum_k q_v[r, k] log softmax(p_w[r] / T)[k]."""
    batch, k = scores[0].shape
    codes = []
    for v in range(n_global):
        rows = scores[v].detach().tolist() + ([] if queue is None else queue[v].tolist())
        codes.append(loop_sinkhorn(rows, epsilon, iterations)[:batch])
    terms = []
    for v in range(n_global):
        for w in range(len(scores)):
            if w == v:
                continue
            per_row = []
            for r in range(batch):
                logits = [scores[w][r, j] / temperature for j in range(k)]
                m = max(float(x.detach()) for x in logits)
                lse = m + torch.log(sum(torch.exp(x - m) for x in logits))
                per_row.append(-sum(codes[v][r][j] * (logits[j] - lse) for j in range(k)))
            terms.append(sum(per_row) / batch)
    return sum(terms) / len(terms)


def loop_barlow(za: torch.Tensor, zb: torch.Tensor, lam: float, eps: float) -> torch.Tensor:
    """Zbontar et al. eq. 1-2: C_ij = sum_n a_ni b_nj / N after per-coordinate batch standardisation."""
    n, d = za.shape

    def standardised(z):
        cols = []
        for j in range(d):
            mean = sum(z[r, j] for r in range(n)) / n
            var = sum((z[r, j] - mean) ** 2 for r in range(n)) / n
            cols.append([(z[r, j] - mean) / torch.sqrt(var + eps) for r in range(n)])
        return cols  # cols[j][r]

    a, b = standardised(za), standardised(zb)
    total = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(a[i][r] * b[j][r] for r in range(n)) / n
            total = total + ((1 - c) ** 2 if i == j else lam * c**2)
    return total


def loop_simsiam(pa, pb, za, zb) -> torch.Tensor:
    """-(cos(p_a, z_b) + cos(p_b, z_a)) / 2, row by row, targets detached."""

    def cos(p, z):
        return sum(p[j] * z[j] for j in range(len(p))) / (
            torch.sqrt(sum(p[j] ** 2 for j in range(len(p)))) * torch.sqrt(sum(z[j] ** 2 for j in range(len(z))))
        )

    n = pa.shape[0]
    d_ab = -sum(cos(pa[r], zb[r].detach()) for r in range(n)) / n
    d_ba = -sum(cos(pb[r], za[r].detach()) for r in range(n)) / n
    return (d_ab + d_ba) / 2


def _pair(seed: int, shapes: list[tuple[int, int]], scale: float = 1.0):
    """The same inputs as float32 leaves (ours) and float64 leaves (the loop)."""
    g = torch.Generator().manual_seed(seed)
    base = [scale * torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]
    return ([x.float().requires_grad_() for x in base], [x.float().double().requires_grad_() for x in base])


def _check_grads(ours: list[torch.Tensor], loop: list[torch.Tensor], rtol=2e-4, atol=1e-6) -> None:
    for i, (a, b) in enumerate(zip(ours, loop)):
        ga = torch.zeros_like(a) if a.grad is None else a.grad
        gb = torch.zeros_like(b) if b.grad is None else b.grad
        assert torch.allclose(ga.double(), gb, rtol=rtol, atol=atol), (i, ga, gb)


# ---------------------------------------------------------------- SwAV


def test_sinkhorn_hand_example():
    # Two rows, two prototypes, both rows prefer prototype 0: equipartition forces one to 1.
    q = sinkhorn_knopp(torch.tensor([[1.0, 0.0], [0.9, 0.0]]), epsilon=0.05, iterations=50)
    assert torch.allclose(q.sum(1), torch.ones(2), atol=1e-6)
    assert torch.allclose(q.sum(0), torch.ones(2), atol=1e-4)  # N/K = 1 each
    assert q[0, 0] > 0.5 > q[1, 0]  # the row with the higher score keeps prototype 0


@fraction_of_profile(0.42)
@given(st.integers(1, 5), st.integers(1, 6), st.integers(1, 4), st.sampled_from([0.05, 0.3, 1.0]), st.data())
def test_sinkhorn_equals_the_loop_and_is_row_stochastic(n, k, iterations, epsilon, data):
    scores = torch.from_numpy(data.draw(strategies.float_matrices(n, k, bound=1.0)))
    ours = sinkhorn_knopp(scores.float(), epsilon, iterations)
    loop = torch.tensor(loop_sinkhorn(scores.float().double().tolist(), epsilon, iterations), dtype=torch.float64)
    assert torch.allclose(ours.double(), loop, rtol=1e-4, atol=1e-6)
    assert torch.allclose(ours.sum(1), torch.ones(n), atol=1e-5)


@fraction_of_profile(0.17)
@given(st.integers(2, 6), st.integers(2, 5), st.data())
def test_sinkhorn_columns_converge_to_equal_mass(n, k, data):
    # The Sinkhorn-Knopp iteration converges to the transport polytope: rows 1, columns N / K.
    scores = torch.from_numpy(data.draw(strategies.float_matrices(n, k, bound=1.0, dtype=np.float32)))
    q = sinkhorn_knopp(scores, epsilon=0.5, iterations=500)
    assert torch.allclose(q.sum(0), torch.full((k,), n / k), rtol=1e-3)


def test_sinkhorn_does_not_overflow_with_large_scores():
    q = sinkhorn_knopp(torch.tensor([[40.0, 0.0], [0.0, 40.0]]), epsilon=0.05)
    assert torch.isfinite(q).all() and torch.allclose(q, torch.eye(2), atol=1e-6)


@fraction_of_profile(0.2)
@given(
    st.integers(1, 3),
    st.integers(2, 4),
    st.integers(2, 4),
    st.integers(1, 2),
    st.integers(0, 2**31 - 1),
    st.sampled_from([0.1, 0.5]),
    st.booleans(),
)
def test_swav_equals_the_pair_loop_values_and_gradients(batch, k, n_views, n_global, seed, temperature, queued):
    ours, loop = _pair(seed, [(batch, k)] * n_views, scale=0.7)
    queue = None
    if queued:
        queue = [0.7 * torch.randn(3, k, generator=torch.Generator().manual_seed(seed + v)) for v in range(n_global)]
    loss, logs = SwAVLoss(temperature=temperature, epsilon=0.3, sinkhorn_iterations=3, distributed=False)(
        ours, n_global=n_global, queue_scores=queue
    )
    expected = loop_swav(loop, n_global, temperature, 0.3, 3, None if queue is None else [q.double() for q in queue])
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-6)
    assert logs["loss"] == pytest.approx(loss.item())
    loss.backward()
    expected.backward()
    _check_grads(ours, loop)


def test_swav_hand_example_codes_are_targets():
    # One prototype per image, confident scores: codes = identity, loss = CE(identity, softmax(p/T)).
    p = torch.tensor([[1.0, -1.0], [-1.0, 1.0]])
    loss, logs = SwAVLoss(temperature=0.1, epsilon=0.05, distributed=False)([p, p], n_global=2)
    assert loss.item() == pytest.approx(math.log1p(math.exp(-20.0)), abs=1e-6)
    assert logs["prototype_usage"] == pytest.approx(1.0)


def test_embedding_queue_is_fifo_newest_first_and_in_the_state_dict():
    queue = EmbeddingQueue(n_global=2, length=3, dim=1)
    assert queue.rows(0).shape == (0, 1)
    queue.push([torch.tensor([[1.0], [2.0]]), torch.tensor([[10.0], [20.0]])])
    queue.push([torch.tensor([[3.0], [4.0]]), torch.tensor([[30.0], [40.0]])])
    assert queue.rows(0).flatten().tolist() == [3.0, 4.0, 1.0]
    assert queue.rows(1).flatten().tolist() == [30.0, 40.0, 10.0]
    other = EmbeddingQueue(2, 3, 1)
    other.load_state_dict(queue.state_dict())
    assert torch.equal(other.rows(1), queue.rows(1))


def test_multicrop_presets():
    assert multicrop_for(32)["small_size"] == 19 and multicrop_for(64)["small_size"] == 38
    assert multicrop_for(224)["n_small"] == 4 and multicrop_for(224)["global_size"] == 224
    with pytest.raises(ValueError, match="image_size"):
        multicrop_for(2)


# ---------------------------------------------------------------- Barlow Twins


@fraction_of_profile(0.2)
@given(st.integers(2, 5), st.integers(1, 4), st.sampled_from([0.0051, 0.5]), st.integers(0, 2**31 - 1))
def test_barlow_equals_the_entry_loop_values_and_gradients(batch, d, lam, seed):
    ours, loop = _pair(seed, [(batch, d)] * 2, scale=2.0)
    loss, logs = BarlowTwinsLoss(lambda_offdiag=lam, distributed=False)(*ours)
    expected = loop_barlow(*loop, lam, 1e-5)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-4, abs=1e-5)
    assert logs["on_diagonal"] + lam * logs["off_diagonal"] == pytest.approx(loss.item(), rel=1e-5, abs=1e-6)
    loss.backward()
    expected.backward()
    _check_grads(ours, loop, rtol=1e-3, atol=1e-5)


def test_barlow_is_zero_at_invariant_decorrelated_projections():
    # Rows of a scaled Hadamard matrix: standardised columns that are mutually orthogonal.
    h = torch.tensor([[1.0, 1.0, 1.0], [1.0, -1.0, 1.0], [-1.0, 1.0, 1.0], [-1.0, -1.0, -1.0]])
    h = h - h.mean(0)
    loss, logs = BarlowTwinsLoss(eps=1e-12, distributed=False)(3 * h, 3 * h + 5)  # affine per coordinate: invariant
    z = (h - h.mean(0)) / h.std(0, unbiased=False)
    c = z.T @ z / 4
    off = (c.pow(2).sum() - c.diagonal().pow(2).sum()).item()
    assert logs["on_diagonal"] == pytest.approx(0.0, abs=1e-9)
    assert logs["off_diagonal"] == pytest.approx(off, rel=1e-6)


def test_barlow_rejects_a_single_row():
    with pytest.raises(ValueError, match="at least 2 rows"):
        BarlowTwinsLoss(distributed=False)(torch.randn(1, 3), torch.randn(1, 3))


# ---------------------------------------------------------------- SimSiam


@fraction_of_profile(0.25)
@given(st.integers(1, 4), st.integers(1, 5), st.integers(0, 2**31 - 1))
def test_simsiam_equals_the_row_loop_and_stops_the_target_gradient(batch, d, seed):
    ours, loop = _pair(seed, [(batch, d)] * 4)
    loss, _ = SimSiamLoss()(*ours)
    expected = loop_simsiam(*loop)
    assert loss.item() == pytest.approx(expected.item(), rel=1e-5, abs=1e-6)
    loss.backward()
    expected.backward()
    _check_grads(ours[:2], loop[:2])
    assert ours[2].grad is None and ours[3].grad is None  # stop-gradient on the projections


def test_simsiam_hand_example():
    p = torch.tensor([[1.0, 0.0], [0.0, 2.0]])
    loss, logs = SimSiamLoss()(p, p, p, torch.tensor([[0.0, 1.0], [0.0, 1.0]]))
    assert loss.item() == pytest.approx((-(0 + 1) / 2 - 1) / 2)  # cos(p_a, z_b) = (0, 1); cos(p_b, z_a) = (1, 1)


def test_new_losses_compute_in_float32_under_bf16_autocast_and_name_bad_input():
    x = [torch.randn(4, 6).to(torch.bfloat16) for _ in range(4)]
    with torch.autocast("cpu", dtype=torch.bfloat16):
        outs = [
            SwAVLoss(distributed=False)(x, n_global=2)[0],
            BarlowTwinsLoss(distributed=False)(x[0], x[1])[0],
            SimSiamLoss()(*x)[0],
        ]
    assert all(o.dtype == torch.float32 for o in outs)
    with pytest.raises(ValueError, match="n_global"):
        SwAVLoss(distributed=False)(x[:2], n_global=3)
    with pytest.raises(ValueError, match="queue_scores"):
        SwAVLoss(distributed=False)(x[:2], n_global=2, queue_scores=[torch.zeros(2, 5)] * 2)
    with pytest.raises(ValueError, match="z_b"):
        BarlowTwinsLoss(distributed=False)(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="lambda_offdiag"):
        BarlowTwinsLoss(lambda_offdiag=-1.0)
    with pytest.raises(ValueError, match="p_b"):
        SimSiamLoss()(torch.randn(4, 3), torch.randn(5, 3), torch.randn(4, 3), torch.randn(4, 3))


def test_projection_std_is_zero_at_collapse_and_about_one_over_sqrt_d_when_spread():
    from ssltheory.ssl.losses.simsiam import projection_std

    assert projection_std(torch.ones(16, 8)) == pytest.approx(0.0, abs=1e-7)
    assert projection_std(torch.eye(4)) == pytest.approx(math.sqrt(1 / 4 * 3 / 4 * 4 / 3))  # each column 1 once in 4
    spread = projection_std(torch.randn(4096, 64, generator=torch.Generator().manual_seed(0)))
    assert spread == pytest.approx(1 / math.sqrt(64), rel=0.05)
