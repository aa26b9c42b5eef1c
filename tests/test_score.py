"""``ssltheory score`` (ssltheory/commands/score.py): features, runs, encoders, bad input, report.

Independent checks: the affine rank against the exact rational rank of the class codes
(ssltheory/testing/oracles.py), the invariance ratio against a loop over views, the collinear codes
(0,0), (1,0), (2,0) (cf. docs/THEORY.md T1.4), and the view-major class layout against identity
"augmentations" (every view of an image identical).
"""

from __future__ import annotations

import contextlib
import io
import json
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch
from hypothesis import assume, given, strategies as st
from hypothesis.extra import numpy as hnp

from ssltheory.cli import main
from ssltheory.testing import strategies
from ssltheory.testing.oracles import exact_affine_rank
from ssltheory.testing.strategies import fraction_of_profile


def score(argv, capsys=None) -> tuple[int, dict | str, str]:
    """Run ``ssltheory score ARGV`` in-process: (exit code, parsed JSON or the printed text, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["score", *map(str, argv)])
    payload = json.loads(out.getvalue()) if code == 0 and "--json" in map(str, argv) else out.getvalue()
    return code, payload, err.getvalue()


def save(folder: Path, Z, classes) -> tuple[Path, Path]:
    np.save(folder / "Z.npy", np.asarray(Z))
    np.save(folder / "c.npy", np.asarray(classes))
    return folder / "Z.npy", folder / "c.npy"


# ------------------------------------------------------------------------- FEATURES.npy


def test_affinely_independent_invariant_codes_score_ideal(tmp_path, capsys):
    # K = 3 classes with codes (0,0), (1,0), (0,1), two identical views each: T1.2 holds with d = 2
    C = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    classes = np.repeat(np.arange(3), 2)
    Z, c = save(tmp_path, C[classes], classes)
    code, text, _ = score([Z, "--classes", c])
    assert code == 0 and "ideal score        1.0000" in text and "affine rank        2 of 2" in text
    code, out, _ = score([Z, "--classes", c, "--json"])
    assert code == 0
    assert out["invariance_ratio"] == 0.0 and out["affine_rank"] == 2 and out["ideal_score"] == 1.0
    assert out["worst_task_accuracy"] == 1.0
    for field in ("rankme", "alpha_req", "lidar", "worst_task", "affine_singular_values", "source"):
        assert field in out


def test_collinear_codes_have_a_lost_task(tmp_path, capsys):
    # collinear codes (0,0), (1,0), (2,0) (cf. docs/THEORY.md T1.4): "middle versus the ends" is not linearly separable.
    # A 1e-3 wobble off the line keeps alpha-ReQ defined (it needs 2 non-zero eigenvalues) and stays
    # away from the class means (the wobble cancels within each class).
    C = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])
    classes = np.repeat(np.arange(3), 2)
    Z = C[classes] + np.array([[0.0, 1e-3], [0.0, -1e-3]] * 3)
    Zp, c = save(tmp_path, Z, classes)
    code, out, err = score([Zp, "--classes", c, "--json"], capsys)
    assert code == 0, err
    assert out["affine_rank"] == 1 and "affine_independence" in out["verdict"]["failing"]
    # not ideal: one of the K - 1 = 2 directions of M is recovered, so the recoverable share is
    # about 1/2, times the invariant share (the wobble is within-class spread), below 1
    assert out["recoverable_share"] == pytest.approx(0.5, rel=1e-3) and out["invariant_share"] < 1.0
    assert out["ideal_score"] == pytest.approx(out["invariant_share"] * out["recoverable_share"], rel=1e-12)
    assert out["ideal_score"] < 1.0
    assert out["worst_task_accuracy"] < 1.0
    assert out["worst_task"] in ([0, 1, 0], [1, 0, 1])


def _loop_invariance_ratio(Z: np.ndarray, classes: np.ndarray) -> float:
    within = 0.0
    for m in np.unique(classes):
        rows = [Z[i] for i in range(len(Z)) if classes[i] == m]
        mean = sum(rows) / len(rows)
        within += sum(float(np.dot(r - mean, r - mean)) for r in rows)
    grand = Z.mean(axis=0)
    total = sum(float(np.dot(z - grand, z - grand)) for z in Z)
    return within / total if total > 0 else 0.0


@fraction_of_profile(0.42)
@given(
    K=st.integers(2, 6),
    d=st.integers(2, 5),
    rank=st.integers(2, 5),
    views=st.integers(2, 3),
    noise=st.sampled_from([0.0, 0.3]),
    data=st.data(),
)
def test_reported_rank_and_invariance_match_exact_computation(K, d, rank, views, noise, data):
    rank = min(rank, d)
    left = data.draw(hnp.arrays(np.int64, (K, rank), elements=st.integers(-3, 3)))
    right = data.draw(hnp.arrays(np.int64, (rank, d), elements=st.integers(-2, 2)))
    C = left @ right  # integer codes of rank <= rank
    if np.ptp(C) == 0:
        C[0, 0] += 1
    # alpha-ReQ, part of every score, needs a covariance with 2 non-zero eigenvalues
    assume(noise > 0 or np.linalg.matrix_rank(C - C.mean(axis=0)) >= 2)
    classes = np.tile(np.arange(K), views)
    Z = C[classes] + noise * data.draw(strategies.float_matrices(K * views, d, bound=3.0))
    assume(noise == 0 or np.linalg.matrix_rank(Z - Z.mean(axis=0)) >= 2)  # alpha-ReQ's need, with noise
    with tempfile.TemporaryDirectory() as folder:
        Zp, cp = save(Path(folder), Z, classes)
        code, out, err = score([Zp, "--classes", cp, "--json", "--tol", "1e-9"])
    assert code == 0, err
    assert out["invariance_ratio"] == pytest.approx(_loop_invariance_ratio(Z, classes), rel=1e-9, abs=1e-12)
    if noise == 0.0:
        assert out["invariance_ratio"] == 0.0
        assert out["affine_rank"] == exact_affine_rank(C)


# ------------------------------------------------------------------------- bad input


def test_nan_features_exit_2_with_one_line(tmp_path, capsys):
    Z = np.zeros((4, 2))
    Z[1, 1] = np.nan
    Zp, cp = save(tmp_path, Z, [0, 0, 1, 1])
    code, _, err = score([Zp, "--classes", cp], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "NaN" in err


def test_a_class_with_one_view_cannot_be_whitened(tmp_path, capsys):
    Zp, cp = save(tmp_path, np.random.default_rng(0).standard_normal((5, 3)), [0, 0, 1, 1, 2])
    code, _, err = score([Zp, "--classes", cp], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "at least 2 views" in err


def test_features_need_classes_and_a_run_refuses_them(tmp_path, capsys):
    Zp, cp = save(tmp_path, np.zeros((4, 2)), [0, 0, 1, 1])
    code, _, err = score([Zp], capsys)
    assert code == 2 and "--classes is required" in err
    code, _, err = score([tmp_path / "missing.npy", "--classes", cp], capsys)
    assert code == 2 and "does not exist" in err


def test_torchvision_layout_with_missing_keys_exits_2(tmp_path, capsys):
    from test_released import torchvision_state

    state = torchvision_state("resnet18")
    del state["bn1.weight"]
    path = tmp_path / "resnet18.pt"
    torch.save(state, path)
    code, _, err = score([path, "--data", "patches", "--n-images", "4", "--views", "2"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "missing keys: bn1.weight" in err


def test_a_solo_learn_checkpoint_scores_with_its_heads_named(tmp_path, capsys):
    from test_released import SCHEMES, torchvision_state

    path = tmp_path / "solo_learn_resnet18.ckpt"
    torch.save(SCHEMES["solo-learn"][0](torchvision_state("resnet18", fc=True)), path)
    code, out, err = score([path, "--data", "patches", "--n-images", "4", "--views", "2", "--json"], capsys)
    assert code == 0, err
    assert out["dim"] == 512 and out["source"]["arch"] == "resnet18"
    assert out["source"]["backbone"] == "state_dict.backbone." and out["source"]["stem"] == "imagenet"
    assert out["source"]["dropped"] == {"optimizer_states": 1, "state_dict.classifier": 2, "state_dict.projector": 3}
    assert out["augmentation"] == {"kind": "simclr", "strength": 1.0}


def test_dino_student_and_stem_options_from_the_command_line(tmp_path, capsys):
    from test_released import SCHEMES, torchvision_state

    state = torchvision_state("resnet18", fc=True)
    path = tmp_path / "dino.pth"
    torch.save(SCHEMES["dino"][0](state), path)
    code, out, err = score(
        [path, "--which", "student", "--data", "patches", "--n-images", "4", "--views", "2", "--json"], capsys
    )
    assert code == 0, err
    assert out["source"]["backbone"] == "student.module.backbone."
    small = {**{k: v for k, v in state.items() if not k.startswith("fc.")}, "conv1.weight": torch.randn(64, 3, 3, 3)}
    torch.save(small, tmp_path / "cifar.pt")
    code, _, err = score([tmp_path / "cifar.pt", "--data", "patches", "--n-images", "4", "--views", "2"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "pass --stem" in err
    code, out, err = score(
        [
            tmp_path / "cifar.pt",
            "--stem",
            "cifar-pad2",
            "--data",
            "patches",
            "--n-images",
            "4",
            "--views",
            "2",
            "--json",
        ],
        capsys,
    )
    assert code == 0 and out["source"]["stem"] == "cifar-pad2" and out["source"]["stem_source"] == "given", err


# ------------------------------------------------------------------------- RUN and ENCODER


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    from ssltheory.ssl.train import TrainConfig, train

    out = tmp_path_factory.mktemp("run") / "dissl"
    return train(
        TrainConfig.from_flags(
            method="dissl",
            data="patches",
            z_dim=8,
            steps=2,
            batch_size=16,
            hidden_dim=32,
            proj_dim=16,
            n_codes=32,
            quiet=True,
            out=str(out),
        )
    )


def test_run_and_its_encoder_file_give_the_same_scores(tiny_run, tmp_path, capsys):
    common = ["--views", "3", "--n-images", "6", "--json", "--seed", "3"]
    code, from_run, err = score([tiny_run, *common, "--report", tmp_path / "report"], capsys)
    assert code == 0, err
    assert from_run["n_classes"] == 6 and from_run["n_points"] == 18 and from_run["dim"] == 8
    assert from_run["source"]["kind"] == "run" and from_run["augmentation"] == {"kind": "simclr", "strength": 1.0}
    assert from_run["verdict"]["n_points"] == 18 and "ideal" in from_run["verdict"]
    for name in ("report.md", "spectrum.png", "invariance.png", "worst_task.png"):
        assert (tmp_path / "report" / name).stat().st_size > 0
    assert f"{from_run['worst_task_accuracy']:.4g}" in (tmp_path / "report" / "report.md").read_text()
    code, from_file, err = score(
        [tiny_run / "encoder.pt", "--arch", "small_cnn", "--z-dim", "8", "--data", "patches", *common], capsys
    )
    assert code == 0, err
    for key in (
        "invariance_ratio",
        "affine_rank",
        "worst_task_accuracy",
        "rankme",
        "alpha_req",
        "lidar",
        "ideal_score",
    ):
        assert from_file[key] == pytest.approx(from_run[key], rel=1e-6), key


def test_identity_views_of_an_image_share_its_class(tiny_run, capsys):
    # with no augmentation every view of an image is the image: invariant iff rows are grouped by image
    code, out, err = score([tiny_run, "--aug", "none", "--views", "3", "--n-images", "5", "--json"], capsys)
    assert code == 0, err
    assert out["invariance_ratio"] == 0.0 and out["n_classes"] == 5


def test_classes_from_labels_uses_the_data_labels(tiny_run, capsys):
    code, out, err = score([tiny_run, "--classes-from", "labels", "--views", "2", "--n-images", "40", "--json"], capsys)
    assert code == 0, err
    assert out["n_points"] == 80 and 2 <= out["n_classes"] <= 10


def test_state_dict_with_extra_and_missing_keys_exits_2(tiny_run, tmp_path, capsys):
    state = torch.load(tiny_run / "encoder.pt", weights_only=True)
    state["head.weight"] = torch.zeros(3)
    del state["fc.bias"]
    torch.save(state, tmp_path / "bad.pt")
    code, _, err = score([tmp_path / "bad.pt", "--arch", "small_cnn", "--z-dim", "8", "--data", "patches"], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "missing keys: fc.bias" in err and "extra keys: head.weight" in err


def test_too_few_views_per_image_exit_2(tiny_run, capsys):
    code, _, err = score([tiny_run, "--views", "1"], capsys)
    assert code == 2 and "at least 2" in err


# ------------------------------------------------------------------------- the validation experiment


def test_spearman_fixed_example_and_orientation():
    from ssltheory.experiments.score_validation import oriented, spearman

    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)
    assert np.isnan(spearman([1, 1, 1], [1, 2, 3]))
    assert oriented("invariance_ratio", [0.1, 0.5]).tolist() == [-0.1, -0.5]
    assert oriented("alpha_req", [0.5, 1.0, 2.0]).tolist() == [-0.5, 0.0, -1.0]


@fraction_of_profile(0.5)
@given(st.lists(st.tuples(st.integers(0, 4), st.integers(0, 4)), min_size=3, max_size=12))
def test_spearman_is_pearson_of_average_ranks(pairs):
    from scipy.stats import spearmanr

    from ssltheory.experiments.score_validation import spearman

    x, y = np.array(pairs).T
    assume(np.ptp(x) > 0 and np.ptp(y) > 0)
    assert spearman(x, y) == pytest.approx(spearmanr(x, y).statistic, abs=1e-12)


def test_quick_score_validation_writes_tables_drawn_from_its_csv(tmp_path):
    from scipy.stats import spearmanr

    from ssltheory.experiments.runner import EXPERIMENTS
    from ssltheory.experiments.score_validation import PARTS, oriented, read_rows

    assert EXPERIMENTS["score-validation"] == "ssltheory.experiments.score_validation"
    written = PARTS["score_validation"]("quick", tmp_path, 0)
    assert {p.name for p in written} == {"score_validation.csv", "score_validation.png", "score_validation.md"}
    rows = read_rows(tmp_path / "score_validation.csv")
    assert len(rows) == 6 and {r["reference_augmentation"] for r in rows} == {"simclr s=1"}
    acc = [r["linear_accuracy"] for r in rows]
    assert all(0.0 <= a <= 1.0 for a in acc)
    md = (tmp_path / "score_validation.md").read_text()
    for name in ("ideal_score", "rankme", "alpha_req", "lidar"):
        x = oriented(name, [r[name] for r in rows])
        ok = np.isfinite(x)
        rho = spearmanr(x[ok], np.asarray(acc)[ok]).statistic if ok.sum() >= 3 and np.ptp(x[ok]) > 0 else np.nan
        line = next(row for row in md.splitlines() if row.startswith(f"| {name}"))
        cell = line.split("|")[2].strip().strip("*").split(" [")[0]  # the point value before its interval
        assert cell == ("n/a" if np.isnan(rho) else f"{rho:+.2f}"), (name, line)
    assert (tmp_path / "score_validation.png").stat().st_size > 0
    # Fig. 7b reads the same cached runs: its rows are the CISSL runs, its log-loss the metric's
    from ssltheory.experiments.fig7b import PARTS as FIG7B
    from ssltheory.experiments.score_validation import collect
    from ssltheory.metrics import heldout_log_loss, split_views

    FIG7B["fig7b"]("quick", tmp_path, 0)
    fig = read_rows(tmp_path / "fig7b.csv")
    cissl = [m for m in collect(tmp_path, "quick", 0) if m["row"]["method"] == "cissl"]
    assert len(fig) == len(cissl) >= 3 and (tmp_path / "fig7b.png").stat().st_size > 0
    for row, m in zip(fig, cissl):
        mask = split_views(m["classes"], random_state=m["row"]["seed"])
        assert row["issl_log_loss"] == pytest.approx(heldout_log_loss(m["codes"], m["classes"], mask), rel=1e-8)


# ------------------------------------------------------------------------- valid but degenerate input


@pytest.mark.parametrize(
    "name, Z",
    [
        ("collapsed", np.ones((12, 5))),
        ("rank 1", np.outer(np.arange(12.0), [1.0, -2.0, 0.5])),
        ("constant zero", np.zeros((12, 4))),
        ("d = 1", (np.arange(12.0) % 5)[:, None]),
    ],
)
def test_degenerate_features_are_scored_not_refused(name, Z, tmp_path, capsys):
    Zp, cp = save(tmp_path, Z, np.tile(np.arange(4), 3))
    code, text, err = score([Zp, "--classes", cp, "--report", tmp_path / "r"], capsys)
    assert code == 0, err
    assert "ideal score" in text and "alpha-ReQ" in text
    code, out, err = score([Zp, "--classes", cp, "--json"], capsys)
    assert code == 0, err
    assert out["ideal_score"] < 1.0 and out["verdict"]["ideal"] is False and (tmp_path / "r" / "report.md").exists()


def test_score_encoder_scores_any_module_on_reference_views():
    import ssltheory

    images = torch.randint(0, 256, (6, 1, 12, 12), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    encoder = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(144, 7))
    scores = ssltheory.score_encoder(encoder, images, n_views=3, mean=(0.5,), std=(0.25,))
    assert scores.n_points == 18 and scores.n_classes == 6 and scores.dim == 7
    assert scores.augmentation == {"kind": "simclr", "strength": 1.0} and scores.ideal_score < 1.0
    collapsed = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(144, 3))
    torch.nn.init.zeros_(collapsed[1].weight)
    flat = ssltheory.score_encoder(collapsed, images, n_views=2, mean=(0.5,), std=(0.25,))
    assert flat.ideal_score < 1.0 and flat.lidar is None and any("lidar" in note for note in flat.notes)


def test_lidar_delta_and_ridge_reach_the_scores_from_the_command_line(tmp_path, capsys):
    from ssltheory.metrics import lidar

    rng = np.random.default_rng(0)
    K, views, d = 10, 2, 50  # 10 degrees of freedom within classes for 50 dimensions: singular without delta
    codes = 1e7 * rng.standard_normal((K, d))  # post-ReLU ResNet-50 codes are large: the default delta is lost
    Z = np.concatenate([codes + 1e6 * rng.standard_normal((K, d)) for _ in range(views)])
    classes = np.tile(np.arange(K), views)
    z_path, c_path = save(tmp_path, Z, classes)
    code, default, err = score([z_path, "--classes", c_path, "--json"], capsys)
    assert code == 0 and default["lidar"] is None, err
    code, out, err = score([z_path, "--classes", c_path, "--lidar-delta", "1e3", "--json"], capsys)
    assert code == 0, err
    # `score` sums the training and the held-out views' scatter separately, `lidar` alone all views at once: the
    # rounding differs at 1e-16, and Sigma_w + delta I here has a condition number near 1e9 (10 degrees of freedom
    # in 50 dimensions, delta 1e3 beside variances near 1e12), so the two agree to about 1e-7, not to the last digit
    assert out["lidar"] is not None and out["lidar"] == pytest.approx(lidar(Z, classes, delta=1e3), rel=1e-6)
    code, _, err = score([z_path, "--classes", c_path, "--lidar-delta", "-1"], capsys)
    assert code == 2 and "--lidar-delta must be a finite number >= 0" in err
    code, _, err = score([z_path, "--classes", c_path, "--ridge", "nan"], capsys)
    assert code == 2 and "--ridge must be a finite number >= 0" in err


def test_a_nearly_invariant_view_set_never_prints_a_headline_of_one(tmp_path, capsys):
    # Spread 1e-6 around affinely independent codes: not ideal at the default tolerance, and the
    # headline, 1 - 8e-13, must not round to a flattering "1.0000" in the text output.
    rng = np.random.default_rng(0)
    C = rng.standard_normal((30, 40))
    Z = np.repeat(C, 3, axis=0) + 1e-6 * rng.standard_normal((90, 40))
    Zp, cp = save(tmp_path, Z, np.repeat(np.arange(30), 3))
    code, text, _ = score([Zp, "--classes", cp], capsys)
    assert code == 0 and "failing invariance" in text
    headline = next(line for line in text.splitlines() if "ideal score" in line)
    assert "1.0000" not in headline.split("(")[0] and "1 - " in headline
    code, payload, _ = score([Zp, "--classes", cp, "--json"], capsys)
    assert payload["ideal"] is False and payload["ideal_score"] < 1


@pytest.mark.parametrize("scale", [1e-170, 1e-300, 1e155, 1e300])
def test_scores_survive_features_at_either_end_of_float64s_range(scale):
    # Scale-free scores are the same at scale 1 and at 1e-170 .. 1e300 (squares under- or overflow
    # without the power-of-two unit); LiDAR's absolute delta may make it differ or be undefined.
    from ssltheory import score_all

    rng = np.random.default_rng(1)
    labels = np.repeat(np.arange(12), 4)
    Z = np.repeat(rng.standard_normal((12, 16)), 4, axis=0) + 0.1 * rng.standard_normal((48, 16))
    base = score_all(Z, labels).to_dict()
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is benign
        got = score_all(Z * scale, labels).to_dict()
    for name in (
        "ideal_score",
        "invariance_ratio",
        "heldout_class_accuracy",
        "affine_rank",
        "rankme",
        "alpha_req",
        "twonn_dimension",
        "mst_dimension",
        "alignment",
        "uniformity",
        "nesum",
    ):
        assert got[name] == pytest.approx(base[name], rel=1e-6, abs=1e-9), name


def test_float16_features_are_refused_with_what_to_do(tmp_path, capsys):
    Zp, cp = save(tmp_path, np.eye(4, dtype=np.float16), [0, 1, 2, 3])
    code, _, err = score([Zp, "--classes", cp], capsys)
    assert code == 2 and len(err.strip().splitlines()) == 1 and "float16" in err and "float32" in err


def test_a_negative_seed_is_bad_input_not_a_bug(tmp_path, capsys):
    Zp, cp = save(tmp_path, np.eye(4), [0, 0, 1, 1])
    err = io.StringIO()
    with pytest.raises(SystemExit) as exit_, contextlib.redirect_stderr(err):
        main(["score", str(Zp), "--classes", str(cp), "--seed", "-1"])
    err = err.getvalue()
    assert exit_.value.code == 2 and len(err.strip().splitlines()) == 1 and "--seed" in err


def test_training_views_equal_but_for_rounding_are_scored_not_a_bug():
    # Found by the thorough profile: the streamed training scatter is [[0, -1.7e-18], [-1.7e-18, -1.7e-18]]
    # (rounding), positive semi-definite only up to it, and its Cholesky factorisation failed (exit 3).
    from ssltheory import score_all

    classes = np.tile([0, 1], 3)
    Z = np.array([[2.0, 4.0], [2.0, 4.0]])[classes]
    Z[1] += 0.3
    scores = score_all(Z, classes, tol=1e-9)
    assert not scores.ideal and 0 <= scores.ideal_score < 1
