"""Tests of the controlled MNIST experiments and the paper analogues (experiments/controlled.py,
experiments/paper_analogues.py).

The probes that score all 511 binary tasks are checked against independent computations: the
batched Newton logistic regression against scikit-learn fitted one task at a time, linear
realizability against the exact LP of ``geometry.linearly_separable`` (THEORY.md T1), the MLP probe
against T2's statement on distinct 1-d codes, the predicates against exact rational ranks
(ssltheory/testing/oracles.py).
"""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from hypothesis import given, strategies as st
from hypothesis.extra import numpy as hnp

from ssltheory.experiments import controlled, paper_analogues
from ssltheory.geometry import linearly_separable
from ssltheory.tasks import enumerate_binary_tasks
from ssltheory.testing.oracles import exact_affine_rank
from ssltheory.testing.strategies import fraction_of_profile

TASKS_10 = enumerate_binary_tasks(10)


def _circle_codes(K: int) -> np.ndarray:
    """K points on the unit circle, snapped to multiples of 2^-20 so that the circle's symmetries
    (cos 60 deg = 0.5, sin 180 deg = 0, mirror pairs, and the squares of the lift) hold exactly in the
    floats: `linearly_separable` is exact on the floats as given, so a coincidence broken only by
    rounding would count as separable with a margin of 1e-17."""
    angle = 2 * np.pi * np.arange(K) / K
    return np.round(np.c_[np.cos(angle), np.sin(angle)] * 2.0**20) / 2.0**20


# ------------------------------------------------------------------ batched logistic regression


def _sklearn_coefficients(X: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    """One scikit-learn fit per task, on the same standardised features: (T, d + 1), bias last."""
    from sklearn.linear_model import LogisticRegression

    Xs = (X - X.mean(0)) / np.where(X.std(0) > 1e-12, X.std(0), 1.0)
    out = []
    for t in range(Y.shape[1]):
        model = LogisticRegression(C=1.0 / (lam * len(X)), tol=1e-12, max_iter=10_000).fit(Xs, Y[:, t])
        out.append(np.r_[model.coef_[0], model.intercept_[0]])
    return np.array(out)


def _newton_coefficients(X: np.ndarray, Y: np.ndarray, lam: float) -> np.ndarray:
    Xs, _ = controlled._standardise(X, X)
    return controlled.fit_logistic_tasks(Xs, torch.from_numpy(Y.astype(np.float64)), lam).numpy()


def test_batched_newton_matches_scikit_learn_on_a_fixed_example():
    X = np.array([[0.0, 1.0], [1.0, 0.5], [2.0, 2.0], [3.0, 1.0], [4.0, 3.5], [5.0, 0.0]])
    Y = np.array([[0, 0], [0, 1], [1, 0], [0, 1], [1, 0], [1, 1]])
    np.testing.assert_allclose(_newton_coefficients(X, Y, 0.1), _sklearn_coefficients(X, Y, 0.1), atol=1e-5)


@fraction_of_profile(0.25)
@given(
    st.integers(1, 4).flatmap(lambda d: hnp.arrays(np.int64, (40, d), elements=st.integers(-12, 12))),
    hnp.arrays(np.int64, (40, 3), elements=st.integers(0, 1)),
    st.sampled_from([1e-2, 1e-1, 1.0]),
)
def test_batched_newton_matches_scikit_learn_fitted_one_task_at_a_time(grid, Y, lam):
    X = grid / 4  # quarters: a column's spread is 0 or at least 1/4, never at the standardisation's cut
    Y[0], Y[1] = 0, 1  # both labels present in every task
    np.testing.assert_allclose(_newton_coefficients(X, Y, lam), _sklearn_coefficients(X, Y, lam), atol=1e-4)


# ------------------------------------------------------------------ probes over every task (T1, T2)


def test_linear_probe_realizes_every_task_on_a_simplex_fixed_example():
    codes = np.vstack([np.zeros(9), np.eye(9)])  # 10 affinely independent codes in R^9 (T1.2)
    y = np.repeat(np.arange(10), 3)
    accuracy = controlled.task_accuracies(codes[y], y, codes[y], y, TASKS_10, "linear")
    assert accuracy.shape == (511,) and accuracy.min() == 1.0


@fraction_of_profile(0.08)
@given(st.integers(4, 8), st.integers(1, 3))
def test_linear_probe_is_perfect_exactly_on_the_lp_separable_tasks(K, d):
    """T1.1: on invariant codes a task is LIN-realizable iff the exact LP separates it; the fitted
    probe must be perfect exactly on those tasks (codes in convex position: circle, or its lift)."""
    codes = _circle_codes(K)
    codes = np.c_[codes, codes[:, :1] ** 2][:, : max(d, 2)] if d >= 2 else np.arange(K, dtype=float)[:, None]
    tasks = enumerate_binary_tasks(K)
    y = np.repeat(np.arange(K), 4)
    accuracy = controlled.task_accuracies(codes[y], y, codes[y], y, tasks, "linear")
    separable = np.array([linearly_separable(codes, t) for t in tasks])
    np.testing.assert_array_equal(accuracy == 1.0, separable)


def test_linear_probe_on_ten_codes_in_the_plane_fixed_example():
    """Ten codes on a circle (d = 2 < K - 1): only the 45 arc tasks are separable (Cover, T5)."""
    codes, y = _circle_codes(10), np.repeat(np.arange(10), 2)
    accuracy = controlled.task_accuracies(codes[y], y, codes[y], y, TASKS_10, "linear")
    assert int((accuracy == 1.0).sum()) == 45 and accuracy.min() < 1.0


def test_mlp_probe_realizes_every_task_on_distinct_one_dimensional_codes():
    """T2: distinct codes suffice for universal probes, even in d = 1 (fixed example, K = 10)."""
    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(10), 20)
    X_fit = np.arange(10.0)[y, None] + 0.01 * rng.standard_normal((len(y), 1))
    X_test = np.arange(10.0)[y, None] + 0.01 * rng.standard_normal((len(y), 1))
    accuracy = controlled.task_accuracies(X_fit, y, X_test, y, TASKS_10, "mlp", mlp_hidden=128, mlp_steps=300)
    assert accuracy.min() == 1.0


def test_task_accuracies_names_the_bad_argument():
    X, y = np.zeros((5, 2)), np.array([0, 1, 0, 1, 0])
    with pytest.raises(ValueError, match="y_fit has 4 entries but X_fit has 5 rows"):
        controlled.task_accuracies(X, y[:4], X, y, TASKS_10[:, :2], "linear")
    with pytest.raises(ValueError, match="X_test has 3 features but X_fit has 2"):
        controlled.task_accuracies(X, y, np.zeros((5, 3)), y, TASKS_10[:, :2], "linear")
    with pytest.raises(ValueError, match="probe must be"):
        controlled.task_accuracies(X, y, X, y, np.array([[0, 1]]), "kernel")
    with pytest.raises(ValueError, match="X_fit contains NaN"):
        controlled.task_accuracies(np.full((5, 2), np.nan), y, X, y, np.array([[0, 1]]), "linear")


# ------------------------------------------------------------------ predicates on class codes


@pytest.mark.parametrize("d", [3, 5, 9])
def test_class_code_predicates_agree_with_the_exact_affine_rank(d):
    rng = np.random.default_rng(d)
    codes = rng.integers(-5, 6, size=(10, d)).astype(float)  # integer codes: exact rank by sympy
    labels = np.repeat(np.arange(10), 3)
    scores = controlled.class_code_scores(codes[labels], labels, rtol=1e-9)
    rank = exact_affine_rank(codes)
    assert scores["affine_rank"] == rank
    assert scores["ideal_linear"] == (rank == 9)
    assert scores["ideal_universal"] == (len(np.unique(codes, axis=0)) == 10)
    assert scores["invariance_ratio"] == 0.0


# ------------------------------------------------------------------ data and relations


def test_in_memory_data_is_what_the_trainers_mnist_loader_reads_from_idx_files(tmp_path):
    from ssltheory.ssl.data import load_dataset, read_idx
    from tests.test_ssl_data import write_idx

    rng = np.random.default_rng(0)
    train = rng.integers(0, 256, size=(40, 8, 8), dtype=np.uint8), np.repeat(np.arange(10), 4).astype(np.uint8)
    test = rng.integers(0, 256, size=(20, 8, 8), dtype=np.uint8), np.repeat(np.arange(10), 2).astype(np.uint8)
    ds = controlled.controlled_dataset((*train, *test), relabel=controlled.PAIRS)
    root = tmp_path / "d"
    root.mkdir()
    for name, array in (
        ("train-images-idx3-ubyte", train[0]),
        ("train-labels-idx1-ubyte", train[1] // 2),
        ("t10k-images-idx3-ubyte", test[0]),
        ("t10k-labels-idx1-ubyte", test[1]),
    ):
        write_idx(root / name, array, gz=False)
    np.testing.assert_array_equal(read_idx(root / "train-labels-idx1-ubyte", 1), train[1] // 2)  # pair labels
    files = load_dataset("mnist", root)  # the loader's own split of the same images
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(ds, split).images, getattr(files, split).images), split
        assert torch.equal(getattr(ds, split).labels, getattr(files, split).labels), split
    assert (ds.mean, ds.std) == (files.mean, files.std)
    assert ds.pretraining().images.shape == (40, 1, 8, 8) and set(ds.train.labels.tolist()) == set(range(5))
    np.testing.assert_array_equal(ds.test.labels.numpy(), test[1])  # test keeps digits


def test_coarser_relation_preserves_the_pair_task_and_merges_digits():
    """T4: the coarser relation (digit pairs) is label-preserving for the pair task, checked by
    enumerating digit pairs; it is not for the digit task (it merges differently-labelled digits)."""
    same_class = [(a, b) for a in range(10) for b in range(10) if controlled.PAIRS[a] == controlled.PAIRS[b]]
    assert all(a // 2 == b // 2 for a, b in same_class)
    assert any(a != b for a, b in same_class)
    assert controlled.relation_config("finer") == (None, False)
    relabel, label_views = controlled.relation_config("coarser")
    assert label_views and list(relabel) == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_fit_subset_takes_as_equal_a_share_of_each_label_as_possible():
    labels = np.repeat(np.arange(10), [5, 6, 7, 8, 9, 10, 11, 12, 13, 14])
    idx = controlled._fit_subset(labels, 25, seed=0)
    counts = np.bincount(labels[idx], minlength=10)
    assert len(idx) == 25 and len(set(idx)) == 25 and counts.min() == 2 and counts.max() == 3


# ------------------------------------------------------------------ end to end at quick scale


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_quick_heatmap_and_relations_write_every_cell(tmp_path):
    cfg = controlled.SCALES["quick"]
    written = controlled.controlled_heatmap("quick", tmp_path, 0) + controlled.controlled_relations(
        "quick", tmp_path, 0
    )
    assert all(p.exists() and p.stat().st_size > 0 for p in written)
    heat = _rows(tmp_path / "controlled_heatmap.csv")
    assert len(heat) == len(cfg["dims"]) * len(cfg["heads"]) * 2
    assert {(int(r["d"]), r["head"], r["probe"]) for r in heat} == {
        (d, h, p) for d in cfg["dims"] for h in cfg["heads"] for p in ("linear", "mlp")
    }
    for r in heat:
        assert int(r["n_tasks"]) == 511 and float(r["min_task_accuracy"]) <= float(r["mean_task_accuracy"]) <= 1
        if int(r["d"]) < 9:  # T1.2: d >= K - 1 is necessary
            assert r["ideal_linear"] == "False" and int(r["affine_rank"]) <= int(r["d"])
    rel = _rows(tmp_path / "controlled_relations.csv")
    assert len(rel) == 3 * 2 * len(cfg["n_labels"]) * cfg["label_draws"]
    assert {int(r["n_labels"]) for r in rel} == set(cfg["n_labels"])


# ------------------------------------------------------------------ the d >= K - 1 threshold part


def _sklearn_val_minimum(X_fit, y_fit, X_val, y_val, tasks, lam):
    """Validation minimum over tasks of one scikit-learn logistic regression per task (independent)."""
    from sklearn.linear_model import LogisticRegression

    mean, std = X_fit.mean(0), np.where(X_fit.std(0) > 1e-12, X_fit.std(0), 1.0)
    accuracies = []
    for task in tasks:
        model = LogisticRegression(C=1.0 / (lam * len(X_fit)), tol=1e-12, max_iter=10_000)
        model.fit((X_fit - mean) / std, task[y_fit])
        accuracies.append((model.predict((X_val - mean) / std) == task[y_val]).mean())
    return min(accuracies)


def test_choose_weight_decay_breaks_ties_toward_the_stronger_decay_fixed_example():
    codes = np.vstack([np.zeros(3), np.eye(3)])  # 4 affinely independent codes: every task separable
    y = np.repeat(np.arange(4), 5)
    lam, val_min = controlled.choose_weight_decay(codes[y], y, codes[y], y, enumerate_binary_tasks(4), (1e-3, 1e-2))
    assert val_min == {1e-3: 1.0, 1e-2: 1.0} and lam == 1e-2


@fraction_of_profile(0.13)
@given(st.integers(0, 2**31 - 1), st.integers(1, 3))
def test_choose_weight_decay_maximises_the_validation_minimum_of_independent_fits(seed, d):
    rng = np.random.default_rng(seed)
    K, tasks, grid = 4, enumerate_binary_tasks(4), (1e-3, 1e-1, 3.0)
    centres = rng.normal(size=(K, d))
    y_fit, y_val = np.repeat(np.arange(K), 15), np.repeat(np.arange(K), 10)
    X_fit = centres[y_fit] + 0.7 * rng.normal(size=(len(y_fit), d))
    X_val = centres[y_val] + 0.7 * rng.normal(size=(len(y_val), d))
    lam, val_min = controlled.choose_weight_decay(X_fit, y_fit, X_val, y_val, tasks, grid)
    reference = {g: _sklearn_val_minimum(X_fit, y_fit, X_val, y_val, tasks, g) for g in grid}
    one_point = 1 / len(y_val)  # the two solvers may disagree on a point lying on a decision boundary
    assert all(abs(val_min[g] - reference[g]) <= one_point + 1e-12 for g in grid)
    assert val_min[lam] == max(val_min.values()) and lam == max(g for g in grid if val_min[g] == val_min[lam])


def test_choose_weight_decay_names_the_bad_argument():
    X, y = np.zeros((4, 1)), np.arange(4)
    for bad in ((), (1e-3, 0.0), (float("nan"),)):
        with pytest.raises(ValueError, match="weight_decays must be a non-empty sequence of positive numbers"):
            controlled.choose_weight_decay(X, y, X, y, enumerate_binary_tasks(4), bad)


def test_quick_issl_threshold_writes_one_row_per_dimension(tmp_path):
    th = controlled.SCALES["quick"]["threshold"]
    written = controlled.issl_threshold("quick", tmp_path, 0)
    assert [p.name for p in written] == ["issl_threshold.csv", "issl_threshold.png"]
    assert all(p.stat().st_size > 0 for p in written)
    rows = _rows(tmp_path / "issl_threshold.csv")
    assert [int(r["d"]) for r in rows] == list(th["dims"])
    for r in rows:
        assert int(r["n_tasks"]) == 511 and 0 <= float(r["min_task_accuracy"]) <= float(r["mean_task_accuracy"]) <= 1
        assert float(r["weight_decay"]) in th["weight_decays"] and 0 <= float(r["digit_cross_error"]) <= 1
        assert r["worst_task"].count("0") + r["worst_task"].count("1") == 10
        if int(r["d"]) < 9:  # T1.2: d >= K - 1 is necessary
            assert r["ideal_linear"] == "False" and int(r["affine_rank"]) <= int(r["d"])


# ------------------------------------------------------------------ paper analogues


def test_table1_rows_are_cumulative_like_the_paper():
    configs = {
        row: paper_analogues.arm_config("cpu", method, **flags) for _, row, method, flags in paper_analogues.TABLE1_ROWS
    }
    base, full = configs["CISSL"], configs["CISSL + dim + steps + aug"]
    assert configs["CISSL + dim"]["z_dim"] > base["z_dim"]
    assert configs["CISSL + dim + steps"]["steps"] > base["steps"] == configs["CISSL + dim"]["steps"]
    assert full["aug"] == "coarse" and full["aug_strength"] == 2.0 and full["z_dim"] == configs["CISSL + dim"]["z_dim"]
    assert configs["SimCLR"] == {**base, "method": "simclr"}


def test_the_analogues_print_the_papers_numbers_beside_their_rows():
    """The analogue rows carry the paper's Table 1 values of the rows they mirror (hand-written here
    from the paper) and its Figs 7a/7c curves."""
    table1 = paper_analogues.PAPER["table1"]
    assert table1["SimCLR"] == 44.9 and table1["CISSL"] == 45.8 and table1["CISSL + dim + steps + aug"] == 51.0
    assert table1["DISSL"] == 45.5 and table1["DISSL + dim"] == 47.9 and table1["DISSL + dim + steps"] == 49.2
    assert table1["DINO"] == table1["SwAV"] == table1["SimSiam"] == 43.5  # the best of the three, as Table 1 reports
    assert paper_analogues.PAPER["table1_sd"]["DISSL + dim + steps + aug"] == 0.2
    assert paper_analogues.PAPER["fig7a"][0.5] == (0.06, 0.138, 0.28, 0.39)
    assert paper_analogues.PAPER["fig7c"]["MLP head + MLP probe"] == (0.430, 0.477, 0.491, 0.490)


def test_label_curve_uses_the_stated_label_budgets_and_plots_them(tmp_path):
    """Fig. 7a's x axis: a fraction f of the training labels, at least one per class (fixed example
    on separable synthetic features, so every budget reaches accuracy 1)."""
    rng = np.random.default_rng(0)
    centres = 10 * np.eye(5)
    y_train, y_test = np.repeat(np.arange(5), 40), np.repeat(np.arange(5), 10)
    feats = {
        "train": ((centres[y_train] + rng.normal(size=(200, 5))).astype(np.float32), y_train),
        "test": ((centres[y_test] + rng.normal(size=(50, 5))).astype(np.float32), y_test),
    }
    curve = paper_analogues.label_curve(feats, (0.0025, 0.1, 1.0), seed=0)
    assert [n for n, _ in curve] == [5, 20, 200]  # 0.25% of 40 rounds to 0: one per class
    assert all(acc == 1.0 for _, acc in curve)
    rows = [
        {"strength": s, "seed": 0, "n_labels": n, "fraction": n / 200, "accuracy": acc, "train_seconds": 0.0}
        for s in (0.25, 1.0)
        for n, acc in curve
    ]
    csv_path = paper_analogues.write_csv(tmp_path / "fig7a.csv", rows)
    assert paper_analogues.plot_fig7a(csv_path, tmp_path / "fig7a.png").stat().st_size > 0
