"""SSL losses against independent computations (THEORY.md T6-T9, docs/REFERENCE.md).

Each loss is compared with an explicit python loop in float64 written from the paper's formula,
plus a tiny hand-computed example; CISSL's per-row minimum log 2 (T8) and DISSL's decomposition
identity (T7.1) are checked as theorems, the latter from KLs and entropies computed separately.
The comparison with lightly, the peer library, is tests/test_losses_vs_lightly.py.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, strategies as st
from hypothesis.extra.numpy import arrays

from ssltheory.ssl.losses import CISSLLoss, DINOLoss, DISSLLoss, ExactISSLLoss, NTXentLoss
from ssltheory.testing import strategies


def draw_scores(data, batch: int, width: int, bound: float, n_views: int = 1) -> list[torch.Tensor]:
    """n_views float32 (batch, width) score tensors with entries in [-bound, bound], drawn by hypothesis."""
    matrices = strategies.float_matrices(batch, width, bound=bound, dtype=np.float32)
    return [torch.from_numpy(data.draw(matrices)) for _ in range(n_views)]


# ---------------------------------------------------------------- independent float64 loops


def _unit(v: np.ndarray) -> np.ndarray:
    return v / math.sqrt(sum(x * x for x in v))


def _logsumexp(xs: list[float]) -> float:
    m = max(xs)
    return m + math.log(sum(math.exp(x - m) for x in xs))


def _log_softmax(row: np.ndarray) -> list[float]:
    lse = _logsumexp(list(row))
    return [x - lse for x in row]


def _softmax(row: np.ndarray) -> list[float]:
    return [math.exp(x) for x in _log_softmax(row)]


def loop_ntxent(za: np.ndarray, zb: np.ndarray, temperature: float) -> list[float]:
    """Chen et al. eq. 1 row by row: -log exp(s_ip/T) / sum_{j != i} exp(s_ij/T)."""
    views = [_unit(v) for v in np.concatenate([za, zb])]
    n, b = len(views), len(za)
    losses = []
    for i in range(n):
        pos = (i + b) % n
        sims = {j: float(np.dot(views[i], views[j])) / temperature for j in range(n) if j != i}
        losses.append(-(sims[pos] - _logsumexp(list(sims.values()))))
    return losses


def loop_cissl(sa, sb, ta, tb, temperature: float) -> list[float]:
    """Per row: -(log q(self) + log q(pos)) / 2, q = softmax over all 2B teacher targets."""
    student = [_unit(v) for v in np.concatenate([sa, sb])]
    teacher = [_unit(v) for v in np.concatenate([ta, tb])]
    n, b = len(student), len(sa)
    losses = []
    for i in range(n):
        logits = np.array([float(np.dot(student[i], teacher[j])) / temperature for j in range(n)])
        log_q = _log_softmax(logits)
        losses.append(-(log_q[i] + log_q[(i + b) % n]) / 2)
    return losses


def loop_dino(student, teacher, center, t_student, t_teacher) -> float:
    """Mean over pairs (v teacher, w student, w != v) of mean_rows CE(softmax((g_t - c)/T_t), softmax(g_s/T_s))."""
    terms = []
    for v, tv in enumerate(teacher):
        for w, sw in enumerate(student):
            if w == v:
                continue
            rows = []
            for r in range(len(tv)):
                t = _softmax((tv[r] - center) / t_teacher)
                log_s = _log_softmax(sw[r] / t_student)
                rows.append(-sum(a * b for a, b in zip(t, log_s)))
            terms.append(sum(rows) / len(rows))
    return sum(terms) / len(terms)


def loop_dissl(student, teacher, lam, beta, tau_t, tau_s) -> float:
    """THEORY.md T7 with multi-crop pairing: distill - lam * mean_v H(pbar_v) + beta * det_inv."""
    t = [[_softmax(row / tau_t) for row in tv] for tv in teacher]
    log_t = [[_log_softmax(row / tau_t) for row in tv] for tv in teacher]
    log_s = [[_log_softmax(row / tau_s) for row in sw] for sw in student]
    n_rows = len(teacher[0])

    def ce(p_rows, logq_rows):
        return sum(-sum(a * b for a, b in zip(p, lq)) for p, lq in zip(p_rows, logq_rows)) / n_rows

    distill = [ce(t[v], log_s[w]) for v in range(len(t)) for w in range(len(log_s)) if w != v]
    det_inv = [ce(t[v], log_t[w]) for v in range(len(t)) for w in range(len(log_t)) if w != v]
    marg = []
    for v in range(len(t)):
        pbar = [sum(t[v][r][c] for r in range(n_rows)) / n_rows for c in range(len(t[v][0]))]
        marg.append(-sum(p * math.log(p) for p in pbar if p > 0))
    mean = lambda xs: sum(xs) / len(xs)  # noqa: E731
    return mean(distill) - lam * mean(marg) + beta * mean(det_inv)


def _tensor(a: np.ndarray, grad: bool = False) -> torch.Tensor:
    return torch.tensor(np.asarray(a), dtype=torch.float32, requires_grad=grad)


def _matrices(n: int, b: st.SearchStrategy, d: st.SearchStrategy):
    """n float32-exact (B, D) arrays with rows bounded away from 0 (cosines are defined)."""
    return st.tuples(b, d).flatmap(
        lambda bd: st.tuples(*[arrays(np.float64, bd, elements=st.floats(-2, 2, width=32)) for _ in range(n)])
    )


def _rows_nonzero(*mats: np.ndarray) -> bool:
    return all(np.linalg.norm(m, axis=1).min() > 0.1 for m in mats)


# ---------------------------------------------------------------- SimCLR NT-Xent


def test_ntxent_hand_example():
    # a = (e1, e2), b = (e1, e2): row a0 sees a1 (cos 0), b0 (cos 1, positive), b1 (cos 0).
    t = 0.5
    z = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    loss, logs = NTXentLoss(temperature=t, distributed=False)(z, z.clone())
    assert loss.item() == pytest.approx(math.log(math.exp(1 / t) + 2) - 1 / t, rel=1e-6)
    assert logs["n_negatives"] == 2.0
    # a single pair has only its positive as candidate: loss exactly 0
    one, _ = NTXentLoss(distributed=False)(torch.tensor([[1.0, 2.0]]), torch.tensor([[-3.0, 0.5]]))
    assert one.item() == pytest.approx(0.0, abs=1e-6)


@given(_matrices(2, st.integers(1, 4), st.integers(1, 5)), st.sampled_from([0.07, 0.5, 1.0]))
def test_ntxent_equals_row_loop_with_diagonal_removed(mats, temperature):
    za, zb = mats
    assume(_rows_nonzero(za, zb))
    per_row, _ = NTXentLoss(temperature=temperature, distributed=False, reduction="none")(_tensor(za), _tensor(zb))
    expected = loop_ntxent(za, zb, temperature)
    np.testing.assert_allclose(per_row.numpy(), expected, rtol=1e-4, atol=1e-4)


# ---------------------------------------------------------------- CISSL


def test_cissl_hand_example():
    # B = 1, all four vectors equal: q = (1/2, 1/2) over the two targets, loss = log 2 exactly.
    z = torch.tensor([[0.3, -1.2, 2.0]])
    loss, logs = CISSLLoss(distributed=False)(z, z, z, z)
    assert loss.item() == pytest.approx(math.log(2), rel=1e-6)
    assert logs["excess_over_log2"] == pytest.approx(0.0, abs=1e-6)


@given(_matrices(4, st.integers(1, 4), st.integers(1, 4)), st.sampled_from([0.07, 0.3, 1.0]))
def test_cissl_equals_row_loop_with_self_and_positive_targets(mats, temperature):
    sa, sb, ta, tb = mats
    assume(_rows_nonzero(sa, sb, ta, tb))
    per_row, _ = CISSLLoss(temperature=temperature, distributed=False, reduction="none")(*map(_tensor, mats))
    np.testing.assert_allclose(per_row.numpy(), loop_cissl(sa, sb, ta, tb, temperature), rtol=1e-4, atol=1e-4)


@given(_matrices(4, st.integers(1, 5), st.integers(1, 4)), st.sampled_from([0.07, 0.5]))
def test_cissl_every_row_is_at_least_log2(mats, temperature):
    # T8: q(self) + q(pos) <= 1 so q(self) q(pos) <= 1/4 (AM-GM): -(log q_self + log q_pos)/2 >= log 2.
    assume(_rows_nonzero(*mats))
    per_row, _ = CISSLLoss(temperature=temperature, distributed=False, reduction="none")(*map(_tensor, mats))
    assert per_row.min().item() >= math.log(2) - 1e-5


def test_cissl_minimum_log2_is_reached_by_invariant_separated_codes():
    # Two views of each image coincide; images are antipodal (cos -1): every row -> log 2.
    e = torch.tensor([[1.0, 0.0], [-1.0, 0.0]])
    per_row, _ = CISSLLoss(temperature=0.07, distributed=False, reduction="none")(e, e, e, e)
    # exact row value log 2 + log(1 + exp(-2/T)), within 1e-12 of log 2 at T = 0.07
    assert per_row.numpy() == pytest.approx([math.log(2) + math.log1p(math.exp(-2 / 0.07))] * 4, abs=1e-6)


# ---------------------------------------------------------------- DINO


def test_dino_hand_example_and_centre_update():
    # Teacher rows constant (uniform after softmax), student logits 0 (uniform): CE = log C.
    c = 4
    student = [torch.zeros(2, c), torch.zeros(2, c)]
    teacher = [torch.ones(2, c), 3 * torch.ones(2, c)]
    loss_fn = DINOLoss(n_codes=c, center_momentum=0.9, distributed=False)
    loss, _ = loss_fn(student, teacher, teacher_temperature=0.04)
    assert loss.item() == pytest.approx(math.log(c), rel=1e-6)
    # centre <- 0.9 * 0 + 0.1 * mean of all teacher rows = 0.1 * 2
    assert torch.allclose(loss_fn.center, torch.full((1, c), 0.2))


@given(
    st.integers(1, 3),
    st.integers(2, 5),
    st.integers(2, 4),
    st.integers(1, 2),
    st.sampled_from([0.04, 0.07]),
    st.data(),
)
def test_dino_equals_pair_loop_over_teacher_and_student_views(batch, n_codes, n_views, n_global, t_teacher, data):
    n_global = min(n_global, n_views)
    student = draw_scores(data, batch, n_codes, 3.0, n_views)
    teacher = draw_scores(data, batch, n_codes, 3.0, n_global)
    (center,) = draw_scores(data, 1, n_codes, 3.0)
    loss_fn = DINOLoss(n_codes, student_temperature=0.1, center_momentum=0.9, distributed=False)
    loss_fn.center.copy_(center)
    loss, _ = loss_fn(student, teacher, teacher_temperature=t_teacher)
    expected = loop_dino(
        [s.double().numpy() for s in student],
        [t.double().numpy() for t in teacher],
        center[0].double().numpy(),
        0.1,
        t_teacher,
    )
    assert loss.item() == pytest.approx(expected, rel=1e-4, abs=1e-4)
    all_teacher = torch.cat(teacher).double()
    expected_center = 0.9 * center.double() + 0.1 * all_teacher.mean(0, keepdim=True)
    assert torch.allclose(loss_fn.center.double(), expected_center, atol=1e-6)


def test_dino_teacher_gets_no_gradient_and_student_does():
    student = [torch.randn(3, 6, requires_grad=True) for _ in range(2)]
    teacher = [torch.randn(3, 6, requires_grad=True) for _ in range(2)]
    loss, _ = DINOLoss(6, distributed=False)(student, teacher)
    loss.backward()
    assert all(t.grad is None for t in teacher)
    assert all(s.grad is not None and s.grad.abs().sum() > 0 for s in student)


def _np_softmax(x: np.ndarray) -> np.ndarray:
    e = np.exp(x - x.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def test_dino_student_gradient_example():
    # One teacher view, two student views, uniform student: only view 1 is a target, and its
    # gradient is (s - t) / (T_s * B) with s uniform.
    teacher = [torch.tensor([[0.0, 0.0, 0.0]])]
    student = [torch.zeros(1, 3, requires_grad=True), torch.zeros(1, 3, requires_grad=True)]
    loss, _ = DINOLoss(3, student_temperature=0.5, distributed=False)(student, teacher, teacher_temperature=1.0)
    loss.backward()
    assert student[0].grad is None  # its own crop is the only teacher view: no term reaches it
    assert torch.allclose(student[1].grad, torch.zeros(1, 3), atol=1e-7)  # t = s = uniform


@given(st.integers(1, 3), st.integers(2, 5), st.integers(2, 4), st.integers(1, 2), st.data())
def test_dino_student_gradient_is_the_softmax_residual(batch, n_codes, n_views, n_global, data):
    # d/dg_w of mean_pairs mean_rows CE(t_v, softmax(g_w / T_s)) = sum_{v != w} (s_w - t_v) / (T_s P B),
    # P the number of pairs: the closed form, in float64, against autograd through the loss.
    n_global = min(n_global, n_views)
    t_s, t_t = 0.1, 0.04
    student = [x.requires_grad_() for x in draw_scores(data, batch, n_codes, 3.0, n_views)]
    teacher = draw_scores(data, batch, n_codes, 3.0, n_global)
    loss, _ = DINOLoss(n_codes, student_temperature=t_s, distributed=False)(student, teacher, teacher_temperature=t_t)
    loss.backward()
    t = [_np_softmax(x.double().numpy() / t_t) for x in teacher]  # centre 0 before the first update
    n_pairs = sum(1 for v in range(n_global) for w in range(n_views) if w != v)
    for w, x in enumerate(student):
        s = _np_softmax(x.detach().double().numpy() / t_s)
        grad = np.zeros_like(s) if x.grad is None else x.grad.double().numpy()  # None: no pair reaches view w
        expected = sum((s - t[v] for v in range(n_global) if v != w), np.zeros_like(s)) / (t_s * n_pairs * batch)
        np.testing.assert_allclose(grad, expected, rtol=1e-4, atol=1e-6)


def test_logged_teacher_entropy_example():
    # Constant teacher rows: uniform t, entropy log C, for DINO (any centre, any temperature) and DISSL.
    c = 6
    _, logs = DINOLoss(c, distributed=False)([torch.zeros(2, c)] * 2, [torch.ones(2, c)] * 2, teacher_temperature=0.04)
    assert logs["teacher_entropy"] == pytest.approx(math.log(c), rel=1e-5)
    _, logs = DISSLLoss(distributed=False)([torch.zeros(2, c)] * 2, [torch.ones(2, c)] * 2)
    assert logs["teacher_entropy"] == pytest.approx(math.log(c), rel=1e-5)


@given(st.integers(1, 4), st.integers(2, 6), st.integers(2, 3), st.sampled_from([0.04, 0.5]), st.data())
def test_logged_teacher_entropy_equals_a_loop(batch, n_codes, n_views, temperature, data):
    # mean over teacher views and rows of -sum_c t log t, row by row in float64 python.
    student = draw_scores(data, batch, n_codes, 3.0, n_views)
    teacher = draw_scores(data, batch, n_codes, 9.0, n_views)
    (center,) = draw_scores(data, 1, n_codes, 3.0)

    def loop_entropy(views, shift):
        values = []
        for tv in views:
            for row in tv.double().numpy():
                t = _softmax((row - shift) / temperature)
                values.append(-sum(p * math.log(p) for p in t if p > 0))
        return sum(values) / len(values)

    def float32_rounding(shift):
        # the loss computes H = logsumexp(z) - sum_c t_c z_c in float32: two terms of size max|z|
        # cancel, so its absolute error is a few float32 ulps of max|z|, z = (g - shift) / T
        largest = max(float(np.abs((tv.double().numpy() - shift) / temperature).max()) for tv in teacher)
        return 1e-5 + 8 * largest * float(np.finfo(np.float32).eps)

    dino = DINOLoss(n_codes, distributed=False)
    dino.center.copy_(center)
    _, logs = dino(student, teacher, teacher_temperature=temperature)
    shift = center[0].double().numpy()
    assert logs["teacher_entropy"] == pytest.approx(loop_entropy(teacher, shift), rel=1e-4, abs=float32_rounding(shift))
    _, logs = DISSLLoss(teacher_temperature=temperature, distributed=False)(student, teacher)
    assert logs["teacher_entropy"] == pytest.approx(loop_entropy(teacher, 0.0), rel=1e-4, abs=float32_rounding(0.0))


# ---------------------------------------------------------------- DISSL


def test_dissl_hand_example():
    # Uniform teacher and student over C codes: distill = det_inv = log C, H(pbar) = log C.
    c = 5
    zeros = [torch.zeros(3, c) for _ in range(2)]
    loss, logs = DISSLLoss(distributed=False)(zeros, zeros)
    assert loss.item() == pytest.approx((1 - 2.3 + 0.8) * math.log(c), rel=1e-6)
    assert logs["kl_distillation"] == pytest.approx(0.0, abs=1e-6)


@given(
    st.integers(1, 3),
    st.integers(2, 5),
    st.integers(2, 4),
    st.integers(2, 3),
    st.sampled_from([(2.3, 0.8, 0.5, 1.0), (1.0, 0.0, 1.0, 0.3)]),
    st.data(),
)
def test_dissl_equals_multicrop_pair_loop(batch, n_codes, n_views, n_teacher, hparams, data):
    lam, beta, tau_t, tau_s = hparams
    n_teacher = min(n_teacher, n_views)
    student = draw_scores(data, batch, n_codes, 9.0, n_views)
    teacher = draw_scores(data, batch, n_codes, 9.0, n_teacher)
    loss, _ = DISSLLoss(lam, beta, tau_t, tau_s, distributed=False)(student, teacher)
    expected = loop_dissl(
        [s.double().numpy() for s in student], [t.double().numpy() for t in teacher], lam, beta, tau_t, tau_s
    )
    assert loss.item() == pytest.approx(expected, rel=1e-4, abs=1e-4)


@given(st.integers(1, 4), st.integers(2, 6), st.data())
def test_dissl_equals_its_kl_entropy_decomposition(batch, n_codes, data):
    # T7.1: L = E KL(t_v||s_v') + beta E KL(t_v||t_v') + (1+beta) E H(t_v) - lambda H(pbar), 2 views.
    lam, beta, tau_t, tau_s = 2.3, 0.8, 0.5, 1.0
    student = draw_scores(data, batch, n_codes, 6.0, 2)
    teacher = draw_scores(data, batch, n_codes, 6.0, 2)
    loss, _ = DISSLLoss(lam, beta, tau_t, tau_s, distributed=False)(student, teacher)

    def probs(x, tau):
        e = np.exp(x.double().numpy() / tau - (x.double().numpy() / tau).max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    t = [probs(x, tau_t) for x in teacher]
    s = [probs(x, tau_s) for x in student]
    kl = lambda p, q: float(np.mean(np.sum(p * (np.log(p) - np.log(q)), axis=1)))  # noqa: E731
    h = lambda p: float(np.mean(-np.sum(p * np.log(p), axis=1)))  # noqa: E731
    kl_ts = (kl(t[0], s[1]) + kl(t[1], s[0])) / 2
    kl_tt = (kl(t[0], t[1]) + kl(t[1], t[0])) / 2
    h_t = (h(t[0]) + h(t[1])) / 2
    h_pbar = (h(t[0].mean(0, keepdims=True)) + h(t[1].mean(0, keepdims=True))) / 2
    assert loss.item() == pytest.approx(kl_ts + beta * kl_tt + (1 + beta) * h_t - lam * h_pbar, rel=1e-4, abs=1e-4)


def test_dissl_teacher_receives_gradient_from_every_term():
    # No stop-gradient: each term alone (isolated by differencing lambda and beta) moves the teacher.
    def teacher_grad(term: str) -> list[torch.Tensor]:
        torch.manual_seed(1)
        student = [torch.randn(4, 6, requires_grad=True) for _ in range(2)]
        teacher = [torch.randn(4, 6, requires_grad=True) for _ in range(2)]
        distill_only, _ = DISSLLoss(0.0, 0.0, distributed=False)(student, teacher)
        if term == "distill":
            loss = distill_only
        elif term == "marginal":  # -H(pbar)
            loss = DISSLLoss(1.0, 0.0, distributed=False)(student, teacher)[0] - distill_only
        else:  # CE(t_v, t_v')
            loss = DISSLLoss(0.0, 1.0, distributed=False)(student, teacher)[0] - distill_only
        loss.backward()
        return [t.grad for t in teacher]

    for term in ("distill", "marginal", "det_inv"):
        assert all(g is not None and g.abs().sum() > 1e-6 for g in teacher_grad(term)), term


def test_dissl_gradient_equals_finite_differences_of_the_loop():
    # Autograd through teacher AND student (no stop-gradient) against central differences of loop_dissl.
    g = torch.Generator().manual_seed(3)
    student = [torch.randn(2, 3, generator=g, requires_grad=True) for _ in range(2)]
    teacher = [torch.randn(2, 3, generator=g, requires_grad=True) for _ in range(2)]
    loss, _ = DISSLLoss(distributed=False)(student, teacher)
    loss.backward()
    s_np = [s.detach().double().numpy() for s in student]
    t_np = [t.detach().double().numpy() for t in teacher]
    eps = 1e-5
    for arrays_, tensors in ((t_np, teacher), (s_np, student)):
        for v, (a, x) in enumerate(zip(arrays_, tensors)):
            for idx in np.ndindex(a.shape):
                a[idx] += eps
                up = loop_dissl(s_np, t_np, 2.3, 0.8, 0.5, 1.0)
                a[idx] -= 2 * eps
                down = loop_dissl(s_np, t_np, 2.3, 0.8, 0.5, 1.0)
                a[idx] += eps
                assert x.grad[idx].item() == pytest.approx((up - down) / (2 * eps), abs=2e-4), (v, idx)


# ---------------------------------------------------------------- exact ISSL


@given(st.integers(1, 5), st.integers(2, 6), st.integers(1, 3), st.data())
def test_exact_issl_equals_mean_negative_log_softmax_at_label(batch, n_classes, n_views, data):
    logits = draw_scores(data, batch, n_classes, 3.0, n_views)
    labels = torch.from_numpy(data.draw(arrays(np.int64, batch, elements=st.integers(0, n_classes - 1))))
    loss, logs = ExactISSLLoss()(logits, labels)
    expected = [-_log_softmax(x[r].double().numpy())[int(labels[r])] for x in logits for r in range(batch)]
    assert loss.item() == pytest.approx(sum(expected) / len(expected), rel=1e-5, abs=1e-6)
    assert 0.0 <= logs["accuracy"] <= 1.0


def test_exact_issl_hand_example():
    loss, logs = ExactISSLLoss()(torch.tensor([[0.0, math.log(3.0)]]), torch.tensor([1]))
    assert loss.item() == pytest.approx(math.log(4 / 3), rel=1e-6)  # p(label) = 3/4
    assert logs["accuracy"] == 1.0


# ---------------------------------------------------------------- float32 and bad input


def test_losses_compute_in_float32_under_bf16_autocast():
    torch.manual_seed(0)
    za, zb = torch.randn(4, 8), torch.randn(4, 8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        low = [x.to(torch.bfloat16) for x in (za, zb)]
        cases = {
            "ntxent": (NTXentLoss(distributed=False), (low[0], low[1])),
            "cissl": (CISSLLoss(distributed=False), (low[0], low[1], low[1], low[0])),
            "dino": (DINOLoss(8, distributed=False), (low, low)),
            "dissl": (DISSLLoss(distributed=False), (low, low)),
            "exact": (ExactISSLLoss(), (low, torch.tensor([0, 1, 2, 3]))),
        }
        out = {name: fn(*args)[0] for name, (fn, args) in cases.items()}
    for name, loss in out.items():
        assert loss.dtype == torch.float32, name
    # the same bf16-rounded inputs without autocast, upcast by hand, give the same value
    ref, _ = NTXentLoss(distributed=False)(low[0].float(), low[1].float())
    assert out["ntxent"].item() == pytest.approx(ref.item(), rel=1e-5)


def test_losses_reject_bad_input_naming_the_argument():
    with pytest.raises(ValueError, match="z_b"):
        NTXentLoss(distributed=False)(torch.randn(4, 3), torch.randn(5, 3))
    with pytest.raises(ValueError, match="temperature"):
        NTXentLoss(temperature=0.0)
    with pytest.raises(ValueError, match="distributed"):
        CISSLLoss(distributed="yes")
    with pytest.raises(ValueError, match="teacher_logits"):
        DISSLLoss(distributed=False)([torch.randn(2, 3)] * 2, [torch.randn(2, 4)] * 2)
    with pytest.raises(ValueError, match="n_codes"):
        DINOLoss(4, distributed=False)([torch.randn(2, 3)] * 2, [torch.randn(2, 3)] * 2)
    with pytest.raises(ValueError, match="labels has 3 entries"):
        ExactISSLLoss()(torch.randn(2, 3), torch.tensor([0, 1, 2]))
    with pytest.raises(ValueError, match="distributed=True"):
        NTXentLoss(distributed=True)(torch.randn(2, 3), torch.randn(2, 3))
