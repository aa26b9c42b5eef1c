"""Probes: the linear probe reaches scikit-learn's optimum (objective and accuracy), kNN equals a
brute-force loop, the MLP fits what no linear probe can, selection uses validation only, and the
`probe` command end to end on a tiny trained run."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from torch import nn

from ssltheory import cli
from ssltheory.ssl.probes import KNNProbe, LinearProbe, MLPProbe, extract_features, labelled_subset
from ssltheory.testing.strategies import fraction_of_profile


@pytest.fixture(autouse=True)
def _one_thread():
    """These tests are small: one torch thread beats two on the shared two-core machine."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


#: the slower properties run a share of the profile's examples (the thorough profile scales them too)
FEW = fraction_of_profile(0.2)
SOME = fraction_of_profile(0.33)


def blobs(n, d, k, seed, sep=1.5):
    rng = np.random.default_rng(seed)
    means = rng.normal(size=(k, d)) * sep
    y = rng.integers(0, k, n)
    X = means[y] + rng.normal(size=(n, d)) @ np.diag(np.linspace(0.3, 3, d))
    return X.astype(np.float32), y


def softmax_objective(X, y, W, b, lam):
    """mean CE + lam/2 ||W||^2 in float64, written out independently of the probe."""
    logits = X @ W.T + b
    logits = logits - logits.max(1, keepdims=True)
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    return -logp[np.arange(len(y)), y].mean() + 0.5 * lam * (W**2).sum()


def sklearn_fit(Xs, y, lam):
    from sklearn.linear_model import LogisticRegression

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return LogisticRegression(C=1.0 / (lam * len(y)), max_iter=2000, tol=1e-8).fit(Xs, y)


def test_linear_probe_example_matches_sklearn():
    X, y = blobs(600, 6, 3, seed=0)
    Xt, yt = blobs(600, 6, 3, seed=0)[0][:300], y[:300]
    lam = 1e-2
    probe = LinearProbe(lam).fit(X, y)
    mu, sd = X.mean(0), X.std(0)
    sk = sklearn_fit((X - mu) / sd, y, lam)
    assert abs(probe.score(Xt, yt) - sk.score((Xt - mu) / sd, yt)) <= 0.005


@FEW
@given(st.integers(2, 6), st.integers(2, 12), st.sampled_from([1e-1, 1e-2, 1e-3]), st.integers(0, 10_000))
def test_linear_probe_reaches_the_regularised_optimum(k, d, lam, seed):
    """Same objective as sklearn with C = 1 / (lam n) on standardised features: our minimiser's
    objective (computed independently, float64) is within 1e-4 of sklearn's tightly converged one
    and held-out accuracies agree within half a point."""
    X, y = blobs(800, d, k, seed)
    Xtr, ytr, Xte, yte = X[:500], y[:500], X[500:], y[500:]
    if len(np.unique(ytr)) < 2:
        return
    probe = LinearProbe(lam, tol=1e-6, max_iter=1000).fit(Xtr, ytr)
    mu, sd = Xtr.mean(0).astype(np.float64), Xtr.std(0).astype(np.float64)
    Xs = (Xtr - mu) / sd
    sk = sklearn_fit(Xs, ytr, lam)
    cls = np.searchsorted(probe.classes_, ytr)
    W_ours = probe.coef_ * sd  # back to the standardised scale
    b_ours = probe.intercept_ + probe.coef_ @ mu
    coef_sk = sk.coef_ if len(probe.classes_) > 2 else np.vstack([-sk.coef_[0] / 2, sk.coef_[0] / 2])
    icpt_sk = sk.intercept_ if len(probe.classes_) > 2 else np.array([-sk.intercept_[0] / 2, sk.intercept_[0] / 2])
    ours = softmax_objective(Xs, cls, W_ours, b_ours, lam)
    theirs = softmax_objective(Xs, cls, coef_sk, icpt_sk, lam)
    assert ours <= theirs + 1e-4
    acc_sk = sk.score((Xte - mu) / sd, yte)
    assert abs(probe.score(Xte, yte) - acc_sk) <= 0.005 + 1e-9


def test_coefficients_are_in_the_original_feature_scale():
    X, y = blobs(300, 5, 4, seed=1)
    X = X * np.array([1, 10, 100, 0.1, 1]) + 7
    probe = LinearProbe(1e-3).fit(X, y)
    scores = X.astype(np.float64) @ probe.coef_.T + probe.intercept_
    assert np.array_equal(probe.classes_[scores.argmax(1)], probe.predict(X))


def test_weight_decay_is_chosen_on_validation_and_recorded():
    X, y = blobs(900, 8, 4, seed=2)
    Xtr, ytr, Xva, yva = X[:600], y[:600], X[600:], y[600:]
    grid = [1.0, 1e-2, 1e-4]
    probe = LinearProbe(grid).fit(Xtr, ytr, Xva, yva)
    assert set(probe.val_scores_) == set(grid)
    # each grid point's validation accuracy, recomputed with a separate single-decay fit
    for lam, acc in probe.val_scores_.items():
        single = LinearProbe(lam).fit(Xtr, ytr)
        assert abs(single.score(Xva, yva) - acc) <= 0.01
    best = max(probe.val_scores_.values())
    assert probe.val_accuracy_ == best and probe.val_scores_[probe.weight_decay_] == best
    internal = LinearProbe(grid, random_state=0).fit(Xtr, ytr)  # split from the training data
    assert internal.weight_decay_ in grid and internal.val_accuracy_ is not None


def test_linear_probe_bad_input_is_named():
    X, y = blobs(50, 3, 2, seed=3)
    with pytest.raises(ValueError, match="y has 49 entries but the feature matrix has 50 rows"):
        LinearProbe(1e-2).fit(X, y[:-1])
    with pytest.raises(ValueError, match="NaN"):
        LinearProbe(1e-2).fit(np.full_like(X, np.nan), y)
    with pytest.raises(ValueError, match="single class"):
        LinearProbe(1e-2).fit(X, np.zeros(50, int))
    with pytest.raises(ValueError, match="not fitted"):
        LinearProbe().predict(X)
    with pytest.raises(ValueError, match="weight_decay"):
        LinearProbe(-1.0).fit(X, y)


def knn_loop(bank, bank_y, queries, k):
    """Cosine kNN, uniform vote, ties to the smallest label: a plain loop."""
    out = []
    nb = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    for q in queries:
        sims = nb @ (q / np.linalg.norm(q))
        nearest = np.argsort(-sims, kind="stable")[:k]
        counts = np.bincount(bank_y[nearest], minlength=bank_y.max() + 1)
        out.append(int(np.argmax(counts)))
    return np.array(out)


def test_knn_example():
    bank = np.array([[1, 0], [0.9, 0.1], [0, 1], [0.1, 1]], np.float32)
    probe = KNNProbe(k=1).fit(bank, [0, 0, 1, 1])
    assert probe.predict(np.array([[5, 0.2], [0.2, 3]], np.float32)).tolist() == [0, 1]


@SOME
@given(st.integers(1, 9), st.integers(2, 5), st.integers(0, 10_000))
def test_knn_equals_a_brute_force_loop(k, n_classes, seed):
    rng = np.random.default_rng(seed)
    bank = rng.normal(size=(60, 4)).astype(np.float32)
    bank_y = rng.integers(0, n_classes, 60)
    queries = rng.normal(size=(25, 4)).astype(np.float32)
    probe = KNNProbe(k=k).fit(bank, bank_y)
    expected = np.unique(bank_y)[knn_loop(bank, np.searchsorted(np.unique(bank_y), bank_y), queries, k)]
    assert np.array_equal(probe.predict(queries), expected)


def test_knn_chooses_k_on_validation():
    X, y = blobs(400, 6, 3, seed=4)
    probe = KNNProbe(k=[1, 5, 25]).fit(X[:300], y[:300], X[300:], y[300:])
    assert probe.k_ in (1, 5, 25) and probe.val_scores_[probe.k_] == max(probe.val_scores_.values())


def test_mlp_fits_a_task_no_linear_probe_can():
    """Concentric rings: label = inner vs outer ring. Not linearly separable; an MLP fits it."""
    rng = np.random.default_rng(5)
    radius = np.where(rng.random(1200) < 0.5, 1.0, 2.0)
    angle = rng.uniform(0, 2 * np.pi, 1200)
    X = np.stack([radius * np.cos(angle), radius * np.sin(angle)], 1).astype(np.float32)
    X += rng.normal(scale=0.1, size=X.shape).astype(np.float32)
    y = (radius > 1.5).astype(int)
    Xtr, ytr, Xva, yva, Xte, yte = X[:800], y[:800], X[800:1000], y[800:1000], X[1000:], y[1000:]
    mlp = MLPProbe(32, epochs=30, batch_size=64, lr=1e-2, random_state=0).fit(Xtr, ytr, Xva, yva)
    lin = LinearProbe().fit(Xtr, ytr, Xva, yva)
    assert mlp.score(Xte, yte) >= 0.95
    assert lin.score(Xte, yte) <= 0.75
    assert 1 <= mlp.best_epoch_ <= 30 and mlp.val_accuracy_ >= 0.95


def test_labelled_subset_example_and_counts():
    labels = np.array([0] * 100 + [1] * 10 + [2] * 3)
    idx = labelled_subset(labels, 0.1, random_state=0)
    assert np.bincount(labels[idx]).tolist() == [10, 1, 1]
    assert np.array_equal(idx, labelled_subset(labels, 0.1, random_state=0))
    assert len(labelled_subset(labels, 1.0)) == len(labels)
    with pytest.raises(ValueError, match="fraction"):
        labelled_subset(labels, 0.0)


class _TinyEncoder(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)

    def forward(self, x):
        return self.bn(self.conv(x)).relu().mean((2, 3))


def test_extract_features_is_batch_independent_and_restores_mode():
    torch.manual_seed(0)
    enc = _TinyEncoder().train()
    images = torch.randint(0, 256, (23, 1, 8, 8), dtype=torch.uint8)
    a = extract_features(enc, images, batch_size=4)
    b = extract_features(enc, images, batch_size=100)
    assert a.shape == (23, 4) and a.dtype == np.float32
    assert np.allclose(a, b, atol=1e-6)  # eval mode: BN uses running statistics
    assert enc.training
    manual = enc.eval()(images.float() / 255).detach().numpy()
    assert np.allclose(a, manual, atol=1e-6)
    with pytest.raises(ValueError, match="batch_size"):
        extract_features(enc, images, batch_size=0)


# ----------------------------------------------------------------------------------------------
# the `probe` command


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from ssltheory.ssl.train import TrainConfig, train

    out = tmp_path_factory.mktemp("probe") / "run"
    config = TrainConfig.from_flags(
        method="simclr",
        data="digits",
        arch="small_cnn",
        z_dim=8,
        steps=3,
        batch_size=16,
        hidden_dim=16,
        proj_dim=8,
        quiet=True,
        out=str(out),
    )
    return train(config)


def test_probe_command_prints_json_fields(tiny_run, capsys):
    code = cli.main(
        [
            "probe",
            str(tiny_run),
            "--probe",
            "linear",
            "knn",
            "--labels-fraction",
            "0.5",
            "--weight-decay",
            "1e-2",
            "1e-4",
            "--knn-k",
            "1",
            "5",
            "--json",
        ]
    )
    assert code == 0
    result = json.loads(capsys.readouterr().out)
    for key in (
        "linear_accuracy",
        "linear_val_accuracy",
        "linear_weight_decay",
        "n_train",
        "n_val",
        "n_test",
        "knn_accuracy",
        "knn_k",
        "dim",
        "n_classes",
    ):
        assert key in result, key
    assert result["dim"] == 8 and result["n_classes"] == 10 and result["n_test"] == 359
    assert result["linear_weight_decay"] in (1e-2, 1e-4) and 0 <= result["linear_accuracy"] <= 1
    assert result["n_train"] == pytest.approx(0.5 * 1294, abs=10)
    assert result["linear_accuracy"] > 0.2  # far above chance (0.1) even after 3 steps


def test_probe_command_bad_run_is_one_line_exit_2(tmp_path, capsys):
    assert cli.main(["probe", str(tmp_path / "missing"), "--json"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing" in err
    (tmp_path / "empty").mkdir()
    assert cli.main(["probe", str(tmp_path / "empty")]) == 2
    assert "config.json" in capsys.readouterr().err
