"""The bad-input table: every bad input, on the command line and through the library.

Command line (docs/ARCHITECTURE.md, "Command line"): exit code 2, exactly one line on stderr naming the problem, no
traceback and no warning. Library: a ``ValueError`` naming the problem (an ``OSError`` naming the
path where the file system refuses). One test per input.

Unwritable folders: as root, permission bits do not stop a write, so there the "read-only" folder
is a path under a regular file (the write fails with ENOTDIR instead of EACCES); either way the
command meets an ``OSError`` from the file system, which is the case under test.
"""

from __future__ import annotations

import gzip
import json
import os
import stat
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from ssltheory import cli, is_ideal, linearly_separable
from ssltheory.equivalence import EquivalenceClasses
from ssltheory.tasks import task_from_point_labels

REPO = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------ helpers


def fails_cleanly(argv, capfd, *needles: str) -> str:
    """Run ``ssltheory ARGV`` in this process; assert exit 2, exactly one line on stderr (the
    error), no traceback, no warning, and that the line names every needle (case-insensitive).
    Returns the line."""
    capfd.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code = cli.main([str(a) for a in argv])
    err = capfd.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 2, f"exit {code}, stderr:\n{err}"
    assert "Traceback" not in err
    assert len(lines) == 1, f"expected one line on stderr, got:\n{err}"
    assert lines[0].startswith(f"ssltheory {argv[0]}: error: "), lines[0]
    assert not [str(w.message) for w in caught], [str(w.message) for w in caught]
    for needle in needles:
        assert needle.lower() in lines[0].lower(), lines[0]
    return lines[0]


@pytest.fixture
def unwritable(tmp_path) -> Path:
    """A folder path that the file system refuses to write into (see the module docstring)."""
    if os.geteuid() == 0:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder\n")
        yield blocker / "out"
        return
    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(stat.S_IRUSR | stat.S_IXUSR)
    yield folder / "out"
    folder.chmod(stat.S_IRWXU)


def save(tmp_path, name, array) -> Path:
    path = tmp_path / name
    np.save(path, np.asarray(array))
    return path


def simplex(K: int = 4) -> np.ndarray:
    """K affinely independent codes in R^(K-1) (one point per class)."""
    return np.vstack([np.zeros(K - 1), np.eye(K - 1)])


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """A finished two-step run (small CNN on the embedded patches), written by the command line
    so that ``--resume`` with the same flags continues it."""
    out = tmp_path_factory.mktemp("runs") / "dissl"
    assert cli.main([*TRAIN, "--out", str(out)]) == 0
    return out


def copy_run(run: Path, tmp_path: Path) -> Path:
    target = tmp_path / "run"
    target.mkdir()
    for f in run.iterdir():
        if f.is_file():
            (target / f.name).write_bytes(f.read_bytes())
    return target


TRAIN = [
    "train",
    "--method",
    "dissl",
    "--data",
    "patches",
    "--z-dim",
    "8",
    "--steps",
    "2",
    "--batch-size",
    "16",
    "--hidden-dim",
    "32",
    "--proj-dim",
    "16",
    "--n-codes",
    "32",
    "--quiet",
]


# ------------------------------------------------------------------------------ check (features and classes)


def test_check_shapes_that_disagree(tmp_path, capfd):
    Z, c = save(tmp_path, "z.npy", simplex(4)), save(tmp_path, "c.npy", np.arange(3))
    fails_cleanly(["check", Z, "--classes", c], capfd, "4", "3")


def test_api_shapes_that_disagree():
    with pytest.raises(ValueError, match="4.*3|3.*4"):
        is_ideal(simplex(4), np.arange(3))


@pytest.mark.parametrize("value, name", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "inf")])
def test_check_non_finite_features(tmp_path, capfd, value, name):
    Z = simplex(4)
    Z[1, 0] = value
    fails_cleanly(
        ["check", save(tmp_path, "z.npy", Z), "--classes", save(tmp_path, "c.npy", np.arange(4))], capfd, name
    )


@pytest.mark.parametrize("value, name", [(np.nan, "nan"), (np.inf, "inf"), (-np.inf, "inf")])
@pytest.mark.parametrize("api", ["is_ideal", "linearly_separable"])
def test_api_non_finite_features(value, name, api):
    Z = simplex(4)
    Z[2, 1] = value
    with pytest.raises(ValueError, match=f"(?i){name}"):
        if api == "is_ideal":
            is_ideal(Z, np.arange(4))
        else:
            linearly_separable(Z, np.array([0, 1, 0, 1]))


def test_check_a_single_class(tmp_path, capfd):
    fails_cleanly(
        ["check", save(tmp_path, "z.npy", simplex(4)), "--classes", save(tmp_path, "c.npy", np.zeros(4, int))],
        capfd,
        "class",
    )


def test_api_a_single_class():
    with pytest.raises(ValueError, match="(?i)class"):
        is_ideal(simplex(4), np.zeros(4, int))


def test_check_empty_classes_file(tmp_path, capfd):
    fails_cleanly(
        ["check", save(tmp_path, "z.npy", np.zeros((0, 3))), "--classes", save(tmp_path, "c.npy", np.zeros(0, int))],
        capfd,
    )


def test_api_empty_classes():
    with pytest.raises(ValueError):
        is_ideal(np.zeros((0, 3)), np.zeros(0, int))


def test_check_non_integer_labels(tmp_path, capfd):
    fails_cleanly(
        [
            "check",
            save(tmp_path, "z.npy", simplex(4)),
            "--classes",
            save(tmp_path, "c.npy", np.array([0.0, 0.5, 1.0, 2.0])),
        ],
        capfd,
        "integer",
    )


def test_api_non_integer_labels():
    with pytest.raises(ValueError, match="(?i)integer"):
        is_ideal(simplex(4), np.array([0.0, 0.5, 1.0, 2.0]))


def test_check_missing_features_file(tmp_path, capfd):
    fails_cleanly(
        ["check", tmp_path / "absent.npy", "--classes", save(tmp_path, "c.npy", np.arange(4))], capfd, "absent.npy"
    )


def test_check_truncated_npy(tmp_path, capfd):
    path = save(tmp_path, "z.npy", simplex(50))
    path.write_bytes(path.read_bytes()[:-100])
    fails_cleanly(["check", path, "--classes", save(tmp_path, "c.npy", np.arange(50))], capfd, "z.npy")


def test_check_a_folder_for_a_file(tmp_path, capfd):
    fails_cleanly(["check", tmp_path, "--classes", save(tmp_path, "c.npy", np.arange(4))], capfd)


def test_api_non_invariant_task():
    classes = EquivalenceClasses(np.array([0, 0, 1, 1]))
    with pytest.raises(ValueError, match="not invariant"):
        task_from_point_labels(np.array([0, 1, 1, 1]), classes)


# ------------------------------------------------------------------------------ score


def test_score_nan_features(tmp_path, capfd):
    Z = np.repeat(simplex(4), 3, axis=0)
    Z[0, 0] = np.nan
    fails_cleanly(
        ["score", save(tmp_path, "z.npy", Z), "--classes", save(tmp_path, "c.npy", np.repeat(np.arange(4), 3))],
        capfd,
        "nan",
    )


def test_score_missing_target(tmp_path, capfd):
    fails_cleanly(["score", tmp_path / "no-such-run"], capfd, "no-such-run")


def test_score_report_into_an_unwritable_folder(tmp_path, unwritable, capfd):
    rng = np.random.default_rng(0)
    Z = np.repeat(simplex(4), 3, axis=0) + 0.01 * rng.normal(size=(12, 3))
    fails_cleanly(
        [
            "score",
            save(tmp_path, "z.npy", Z),
            "--classes",
            save(tmp_path, "c.npy", np.repeat(np.arange(4), 3)),
            "--report",
            unwritable,
        ],
        capfd,
        str(unwritable.parent.name),
    )


def test_score_a_corrupt_encoder_file(tmp_path, capfd):
    path = tmp_path / "encoder.pt"
    path.write_bytes(b"PK\x03\x04 this is not a torch archive")
    fails_cleanly(
        ["score", path, "--data", "patches", "--arch", "small_cnn", "--z-dim", "8", "--n-images", "4", "--views", "2"],
        capfd,
        "encoder.pt",
    )


# ------------------------------------------------------------------------------ train: what a new user tries


@pytest.mark.parametrize(
    "case",
    [
        "unknown data name",
        "batch larger than the data",
        "missing data dir",
        "empty data dir",
        "a file for the data dir",
        "z-dim 0",
    ],
)
def test_train_rejects_bad_input_before_printing_anything(case, tmp_path, capfd):
    """Without --quiet, as a new user runs it: the preset line is printed only once every input
    (flags, data, batch) has been checked, so a bad input gives its error as the only line."""
    (tmp_path / "empty").mkdir()
    (tmp_path / "a-file").write_text("not a folder")
    flags, needles = {
        "unknown data name": (["--data", "nosuch"], ["nosuch"]),
        "batch larger than the data": (["--data", "patches", "--batch-size", "100000"], ["batch_size", "100000"]),
        "missing data dir": (["--data", "mnist", "--data-dir", tmp_path / "missing"], ["missing"]),
        "empty data dir": (["--data", "mnist", "--data-dir", tmp_path / "empty"], ["empty"]),
        "a file for the data dir": (["--data", "mnist", "--data-dir", tmp_path / "a-file"], ["a-file"]),
        "z-dim 0": (["--data", "patches", "--z-dim", "0"], ["z_dim"]),
    }[case]
    argv = ["train", "--method", "dissl", *flags, "--steps", "2", "--out", tmp_path / "run"]
    fails_cleanly(argv, capfd, *needles)
    assert not (tmp_path / "run").exists()


# ------------------------------------------------------------------------------ train, probe: run directories


def test_train_into_an_unwritable_out(unwritable, capfd):
    fails_cleanly([*TRAIN, "--out", unwritable], capfd, str(unwritable.parent.name))


def test_train_truncated_mnist_file(tmp_path, capfd):
    root = tmp_path / "mnist"
    root.mkdir()
    header = (2051).to_bytes(4, "big") + (60000).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    for name, body in (
        ("train-images-idx3-ubyte.gz", header + bytes(1000)),
        ("train-labels-idx1-ubyte.gz", (2049).to_bytes(4, "big") + (60000).to_bytes(4, "big")),
        ("t10k-images-idx3-ubyte.gz", header),
        ("t10k-labels-idx1-ubyte.gz", b""),
    ):
        (root / name).write_bytes(gzip.compress(body))
    line = fails_cleanly(
        [
            "train",
            "--method",
            "simclr",
            "--data",
            "mnist",
            "--data-dir",
            root,
            "--steps",
            "1",
            "--quiet",
            "--out",
            tmp_path / "out",
        ],
        capfd,
        "truncated",
    )
    assert "idx" in line


def test_api_truncated_mnist_file(tmp_path):
    from ssltheory.ssl.data import read_idx

    path = tmp_path / "train-images-idx3-ubyte"
    path.write_bytes((2051).to_bytes(4, "big") + (10).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2 + bytes(100))
    with pytest.raises(ValueError, match="truncated|need"):
        read_idx(path, 3)


def test_train_resume_a_corrupt_checkpoint(tiny_run, tmp_path, capfd):
    run = copy_run(tiny_run, tmp_path)
    (run / "checkpoint.pt").write_bytes(b"garbage, not a checkpoint\n" * 8)
    fails_cleanly([*TRAIN, "--resume", "--out", run], capfd, "checkpoint")


def test_api_corrupt_checkpoint(tmp_path):
    from ssltheory.ssl.runs import load_checkpoint

    path = tmp_path / "checkpoint.pt"
    path.write_bytes(b"PK\x03\x04 garbage")
    with pytest.raises(ValueError, match="checkpoint"):
        load_checkpoint(path)


def test_probe_a_corrupt_encoder(tiny_run, tmp_path, capfd):
    run = copy_run(tiny_run, tmp_path)
    (run / "encoder.pt").write_bytes(os.urandom(64))
    fails_cleanly(["probe", run], capfd, "encoder.pt")


def test_probe_a_missing_run(tmp_path, capfd):
    fails_cleanly(["probe", tmp_path / "nothing-here"], capfd, "nothing-here")


def test_train_resume_with_a_json_list_config(tiny_run, tmp_path, capfd):
    run = copy_run(tiny_run, tmp_path)
    (run / "config.json").write_text(json.dumps([1, 2, 3]))
    fails_cleanly([*TRAIN, "--resume", "--out", run], capfd, "config.json")


def test_probe_a_json_list_config(tiny_run, tmp_path, capfd):
    run = copy_run(tiny_run, tmp_path)
    (run / "config.json").write_text(json.dumps(["not", "a", "config"]))
    fails_cleanly(["probe", run], capfd, "config.json")


def test_api_json_list_config(tiny_run, tmp_path):
    from ssltheory.ssl.runs import load_run

    run = copy_run(tiny_run, tmp_path)
    (run / "config.json").write_text("[]")
    with pytest.raises(ValueError, match="config.json"):
        load_run(run)


def test_train_resume_after_a_half_written_metrics_line(tiny_run, tmp_path, capfd):
    """Not an error: the half line is dropped with one line saying so, and the run resumes."""
    run = copy_run(tiny_run, tmp_path)
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 3, "loss": 1.2')
    capfd.readouterr()
    code = cli.main([*TRAIN, "--resume", "--out", str(run)])
    err = capfd.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    for line in (run / "metrics.jsonl").read_text().splitlines():
        json.loads(line)


def test_a_raw_pickle_checkpoint_is_refused_in_one_line_without_the_advice_to_unpickle(tiny_run, tmp_path, capfd):
    import argparse
    import pickle

    run = copy_run(tiny_run, tmp_path)
    (run / "checkpoint.pt").write_bytes(pickle.dumps({"step": 1, "args": argparse.Namespace(lr=1.0)}))
    line = fails_cleanly([*TRAIN, "--resume", "--out", run], capfd, "checkpoint")
    assert "weights_only=False" not in line


# ------------------------------------------------------------------------------ experiment, figures, paper-check, bench


def test_experiment_into_an_unwritable_out(unwritable, capfd):
    fails_cleanly(
        ["experiment", "synthetic", "--part", "coarsening", "--out", unwritable], capfd, str(unwritable.parent.name)
    )


def test_figures_into_an_unwritable_out(unwritable, capfd):
    fails_cleanly(["figures", "synthetic", "--scale", "quick", "--out", unwritable], capfd, str(unwritable.parent.name))


def test_experiment_out_is_a_file(tmp_path, capfd):
    path = tmp_path / "file"
    path.write_text("x")
    fails_cleanly(["experiment", "synthetic", "--out", path], capfd, "not a directory")


def test_paper_check_into_an_unwritable_out(unwritable, capfd):
    """Refused before the checks run (it used to fail only after all of them)."""
    fails_cleanly(["paper-check", "T1.1", "--out", unwritable], capfd, str(unwritable.parent.name))


def test_paper_check_out_is_a_file(tmp_path, capfd):
    path = tmp_path / "file"
    path.write_text("x")
    fails_cleanly(["paper-check", "T1.1", "--out", path], capfd, "not a directory")


def test_bench_report_into_an_unwritable_folder(unwritable, capfd):
    fails_cleanly(
        ["bench", "--quick", "--only", "is_ideal_K64", "--out", unwritable / "RESULTS.md"],
        capfd,
        str(unwritable.parent.name),
    )


def test_an_unknown_command(capfd):
    fails_cleanly(["no-such-command"], capfd, "no-such-command")


# ------------------------------------------------------------------------------ pipes


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["experiment", "--list"],
        ["paper-check", "--list"],
        pytest.param(["figures", "--list"], marks=pytest.mark.slow),
    ],
)
def test_a_closed_pipe_ends_the_command_quietly(argv):
    """``ssltheory ... | head -1``: the reader goes away; no traceback, the SIGPIPE exit code."""
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen(
        [sys.executable, "-m", "ssltheory.cli", *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
    )
    proc.stdout.readline()
    proc.stdout.close()  # the reader is gone before the writer is done
    err = proc.stderr.read().decode()
    code = proc.wait(timeout=120)
    assert "Traceback" not in err and "BrokenPipe" not in err, err
    assert code in (0, cli.EXIT_BROKEN_PIPE)


def test_check_json_into_a_closed_pipe(tmp_path):
    Z, c = save(tmp_path, "z.npy", np.vstack([simplex(4)] * 400)), save(tmp_path, "c.npy", np.tile(np.arange(4), 400))
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run(
        f"'{sys.executable}' -m ssltheory.cli check '{Z}' --classes '{c}' --json | head -1",
        shell=True,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.stdout.strip() == "{"
    assert "Traceback" not in proc.stderr and "BrokenPipe" not in proc.stderr, proc.stderr


def test_api_experiment_into_an_unwritable_folder(unwritable):
    from ssltheory.experiments import runner

    with pytest.raises(OSError) as err:
        runner.run_experiments(["synthetic"], "quick", unwritable, 0, ["coarsening"])
    assert str(unwritable.parent) in str(err.value)


def test_api_train_into_an_unwritable_folder(unwritable):
    from ssltheory.ssl.train import TrainConfig, train

    with pytest.raises(OSError) as err:
        train(
            TrainConfig.from_flags(
                method="dissl",
                data="patches",
                z_dim=8,
                steps=1,
                batch_size=16,
                hidden_dim=32,
                proj_dim=16,
                n_codes=32,
                quiet=True,
                out=str(unwritable),
            )
        )
    assert str(unwritable.parent) in str(err.value)


@pytest.mark.parametrize(
    "features, needle",
    [
        (np.array([["a", "b"]] * 4), "numeric"),
        (np.where(np.eye(4, 2) > 0, np.nan, 1.0), "NaN or Inf"),
        (np.ones((4, 2), dtype=np.float16), "float16"),
        (np.ones((4, 2, 1)), "2-D"),
    ],
    ids=["strings", "nan", "float16", "3-D"],
)
def test_check_and_score_refuse_the_same_feature_files_with_the_same_line(tmp_path, capfd, features, needle):
    z, c = tmp_path / "z.npy", tmp_path / "c.npy"
    np.save(z, features)
    np.save(c, np.array([0, 0, 1, 1]))
    lines = [fails_cleanly([command, z, "--classes", c], capfd, needle) for command in ("check", "score")]
    assert lines[0].split(": error: ")[1] == lines[1].split(": error: ")[1]


def test_check_and_score_both_accept_boolean_features(tmp_path, capfd):
    z, c = tmp_path / "z.npy", tmp_path / "c.npy"
    np.save(z, np.array([[True, False], [True, False], [False, True], [False, True]]))
    np.save(c, np.array([0, 0, 1, 1]))
    assert cli.main(["check", str(z), "--classes", str(c)]) == 0  # invariant, 2 distinct codes: ideal
    capfd.readouterr()
    assert cli.main(["score", str(z), "--classes", str(c), "--json"]) == 0
    payload = json.loads(capfd.readouterr().out)
    assert payload["ideal"] is True and payload["ideal_score"] == 1.0
