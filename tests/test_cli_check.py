"""``ssltheory check`` (docs/ARCHITECTURE.md, "Command line"): exit 0 ideal, 1 not ideal, 2 bad input
with one line on stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from ssltheory import cli

SIMPLEX = np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])
SIMPLEX_CLASSES = np.array([0, 1, 2, 1])
COLLINEAR = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0]])


def save(tmp_path: Path, name: str, array) -> str:
    path = tmp_path / name
    np.save(path, np.asarray(array))
    return str(path)


def check(capsys, *args):
    code = cli.main(["check", *map(str, args)])
    out, err = capsys.readouterr()
    return code, out, err


def ssltheory_command() -> list[str]:
    script = Path(sys.executable).with_name("ssltheory")
    return [str(script)] if script.exists() else [sys.executable, "-m", "ssltheory.cli"]


# ---------------------------------------------------------------- verdicts
def test_ideal_features_exit_0_with_the_documented_json(tmp_path, capsys):
    code, out, err = check(
        capsys, save(tmp_path, "z.npy", SIMPLEX), "--classes", save(tmp_path, "c.npy", SIMPLEX_CLASSES), "--json"
    )
    assert code == 0 and err == ""
    verdict = json.loads(out)
    assert set(verdict) == {
        "ideal",
        "mode",
        "probe",
        "n_points",
        "n_classes",
        "dim",
        "tol",
        "atol",
        "conditions",
        "certificate",
    }
    assert verdict["ideal"] is True and verdict["certificate"] is None
    assert (verdict["n_points"], verdict["n_classes"], verdict["dim"], verdict["probe"]) == (4, 3, 2, "linear")
    assert {name: c["ok"] for name, c in verdict["conditions"].items()} == {
        "invariance": True,
        "distinct_codes": True,
        "affine_independence": True,
        "dimension": True,
    }


def test_not_ideal_features_exit_1_with_a_certificate(tmp_path, capsys):
    z, c = save(tmp_path, "z.npy", COLLINEAR), save(tmp_path, "c.npy", [0, 1, 2])
    code, out, _ = check(capsys, z, "--classes", c, "--json")
    assert code == 1
    cert = json.loads(out)["certificate"]
    assert cert["task"] == [0, 1, 0] and cert["witness"]["kind"] == "affine-dependence"
    code, out, _ = check(capsys, z, "--classes", c)
    assert code == 1
    assert "NOT IDEAL" in out and "affine_independence" in out and "certificate (affine-dependence)" in out
    code, out, _ = check(capsys, z, "--classes", c, "--probe", "universal")
    assert code == 0 and "universal probes: IDEAL" in out


def test_tol_option_changes_the_verdict(tmp_path, capsys):
    z = save(tmp_path, "z.npy", [[0.0, 0.0], [1.0, 0.0], [0.5, 1e-9]])
    c = save(tmp_path, "c.npy", [0, 1, 2])
    assert check(capsys, z, "--classes", c)[0] == 0
    assert check(capsys, z, "--classes", c, "--tol", "1e-6")[0] == 1


# ---------------------------------------------------------------- bad input: one line, exit 2
def bad_cases(tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    good_z, good_c = save(tmp_path, "good_z.npy", SIMPLEX), save(tmp_path, "good_c.npy", SIMPLEX_CLASSES)
    text = tmp_path / "features.txt"
    text.write_text("0 1\n2 3\n")
    npz = tmp_path / "features.npz"
    np.savez(npz, a=SIMPLEX)
    truncated = tmp_path / "truncated.npy"
    truncated.write_bytes(Path(good_z).read_bytes()[:-20])
    pickled = tmp_path / "objects.npy"
    np.save(pickled, np.array([{"a": 1}, None], dtype=object), allow_pickle=True)
    nan = SIMPLEX.copy()
    nan[1, 1] = np.nan
    inf = SIMPLEX.copy()
    inf[0, 0] = np.inf
    return {
        "missing file": ([str(tmp_path / "absent.npy"), "--classes", good_c], "features file not found"),
        "missing classes file": ([good_z, "--classes", str(tmp_path / "absent.npy")], "classes file not found"),
        "not .npy": ([str(text), "--classes", good_c], "is not a .npy file"),
        ".npz archive": ([str(npz), "--classes", good_c], "is an .npz archive"),
        "truncated": ([str(truncated), "--classes", good_c], "could not be read"),
        "pickled objects": ([str(pickled), "--classes", good_c], "could not be read"),
        "NaN": ([save(tmp_path, "nan.npy", nan), "--classes", good_c], "features contains NaN or Inf"),
        "Inf": ([save(tmp_path, "inf.npy", inf), "--classes", good_c], "features contains NaN or Inf"),
        "lengths disagree": (
            [good_z, "--classes", save(tmp_path, "short.npy", [0, 1, 2])],
            "classes has 3 entries but features has 4 rows",
        ),
        "non-integer classes": (
            [good_z, "--classes", save(tmp_path, "frac.npy", [0, 1, 2.5, 1])],
            "classes must hold integers",
        ),
        "string classes": (
            [good_z, "--classes", save(tmp_path, "str.npy", ["a", "b", "c", "d"])],
            "classes must hold integers",
        ),
        "negative classes": (
            [good_z, "--classes", save(tmp_path, "neg.npy", [0, -1, 2, 1])],
            "classes must be non-negative",
        ),
        "single class": ([good_z, "--classes", save(tmp_path, "one.npy", [3, 3, 3, 3])], "single class"),
        "empty": (
            [
                save(tmp_path, "empty.npy", np.zeros((0, 2))),
                "--classes",
                save(tmp_path, "empty_c.npy", np.zeros(0, dtype=int)),
            ],
            "features is empty",
        ),
        "features 1-D": (
            [save(tmp_path, "flat.npy", np.zeros(4)), "--classes", good_c],
            "features must be a 2-D array",
        ),
        "features 3-D": (
            [save(tmp_path, "cube.npy", np.zeros((4, 2, 1))), "--classes", good_c],
            "features must be a 2-D array",
        ),
        "classes 2-D": (
            [good_z, "--classes", save(tmp_path, "c2d.npy", SIMPLEX_CLASSES[:, None])],
            "classes must be a 1-D array",
        ),
        "negative tol": (
            [good_z, "--classes", good_c, "--tol", "-1"],
            "tol is a relative tolerance and must be in [0, 1)",
        ),
        "tol of 1e300": (
            [good_z, "--classes", good_c, "--tol", "1e300"],
            "tol is a relative tolerance and must be in [0, 1)",
        ),
    }


CASES = [
    "missing file",
    "missing classes file",
    "not .npy",
    ".npz archive",
    "truncated",
    "pickled objects",
    "NaN",
    "Inf",
    "lengths disagree",
    "non-integer classes",
    "string classes",
    "negative classes",
    "single class",
    "empty",
    "features 1-D",
    "features 3-D",
    "classes 2-D",
    "negative tol",
    "tol of 1e300",
]


@pytest.mark.parametrize("case", CASES)
def test_bad_input_exits_2_with_one_line_naming_the_problem(case, tmp_path, capsys):
    args, message = bad_cases(tmp_path)[case]
    code, out, err = check(capsys, *args)
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and err.startswith("ssltheory check: error: ") and message in err
    assert "Traceback" not in err


def test_bad_options_exit_2_from_argparse(tmp_path, capsys):
    z, c = save(tmp_path, "z.npy", SIMPLEX), save(tmp_path, "c.npy", SIMPLEX_CLASSES)
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", z, "--classes", c, "--probe", "mlp"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        cli.main(["check", z])  # --classes is required
    assert exc.value.code == 2


def test_real_subprocess_reports_bad_input_and_verdicts(tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    z, c = save(tmp_path, "z.npy", COLLINEAR), save(tmp_path, "c.npy", [0, 1, 2])
    bad = subprocess.run(
        [*ssltheory_command(), "check", z, "--classes", save(tmp_path, "short.npy", [0, 1])],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert bad.returncode == 2 and bad.stdout == ""
    assert bad.stderr.strip().splitlines() == ["ssltheory check: error: classes has 2 entries but features has 3 rows"]
    good = subprocess.run(
        [*ssltheory_command(), "check", z, "--classes", c, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert good.returncode == 1 and json.loads(good.stdout)["certificate"]["task"] == [0, 1, 0]


def test_verify_flag_checks_a_large_certificate_exactly(tmp_path, capsys):
    """120 random codes in R^200 with one exact dependence: 24,000 code entries, past the default
    size of the exact check, so the certificate is exact only with --verify exact."""
    import json
    from fractions import Fraction

    import numpy as np

    from ssltheory.cli import main

    rng = np.random.default_rng(1)
    C = rng.integers(-50, 50, size=(120, 200)).astype(np.float64)
    C[5] = 2 * C[1] - C[2]  # exactly collinear integers
    np.save(tmp_path / "z.npy", C)
    np.save(tmp_path / "y.npy", np.arange(120))
    args = [str(tmp_path / "z.npy"), "--classes", str(tmp_path / "y.npy"), "--json"]
    assert main(["check", *args]) == 1
    assert json.loads(capsys.readouterr().out)["certificate"]["witness"]["verification"]["check"] == "none"
    assert main(["check", *args, "--verify", "exact"]) == 1
    certificate = json.loads(capsys.readouterr().out)["certificate"]
    witness = certificate["witness"]
    assert witness["verification"]["check"] == "exact"
    # check the certificate itself, in rational arithmetic; its sign and scale are the solver's choice
    lam = {int(m): Fraction(v) for m, v in witness["lambda_exact"].items()}
    assert any(lam.values()) and sum(lam.values()) == 0
    for column in C.T:
        assert sum(v * Fraction(float(column[m])) for m, v in lam.items()) == 0
    # its task is the Radon split: the classes with lambda > 0 against the rest
    assert certificate["task"] == [int(lam.get(m, 0) > 0) for m in range(120)]
    # inclusion-minimal: 3 codes, no two of them equal (so no smaller dependence inside it)
    support = sorted(m for m, v in lam.items() if v != 0)
    assert len(support) == 3 and all((C[a] != C[b]).any() for a in support for b in support if a < b)
