"""Bad input and bugs are told apart on the command line (ssltheory/cli.py's module docstring).

An InputError (the library's checks) is one line and exit 2; any other exception is a bug: a line
saying so, its traceback, exit 3. The library raises InputError for bad input, never a bare
ValueError, which the command line would report as a bug.
"""

from __future__ import annotations

import ast
from pathlib import Path

import numpy as np
import pytest

from ssltheory import cli
from ssltheory.errors import InputError

REPO = Path(__file__).resolve().parents[1]
LIBRARY = ("ssltheory", "experiments", "paper_checks", "benchmarks")


def run_check_raising(monkeypatch, capfd, error: BaseException | None = None, action=None) -> tuple[int, str, str]:
    """Run ``ssltheory check`` with its ``run`` replaced by one that raises; (exit, stdout, stderr)."""
    import ssltheory.commands.check as check

    def broken(args):
        if action is not None:
            action()
        raise error

    monkeypatch.setattr(check, "run", broken)
    capfd.readouterr()
    code = cli.main(["check", "features.npy", "--classes", "classes.npy"])
    out, err = capfd.readouterr()
    return code, out, err


def test_an_input_error_is_one_line_and_exit_2(monkeypatch, capfd):
    code, out, err = run_check_raising(monkeypatch, capfd, InputError("classes has 2 entries but features has 3 rows"))
    assert code == cli.EXIT_USAGE == 2
    assert err.splitlines() == ["ssltheory check: error: classes has 2 entries but features has 3 rows"]
    assert out == ""


@pytest.mark.parametrize(
    "action, kind",
    [
        (lambda: np.zeros(-1), "ValueError"),  # a ValueError raised inside numpy: no check caught the input
        (lambda: [][1], "IndexError"),
        (lambda: len(None), "TypeError"),
    ],
)
def test_any_other_exception_is_reported_as_a_bug_with_its_traceback_and_exit_3(monkeypatch, capfd, action, kind):
    code, out, err = run_check_raising(monkeypatch, capfd, action=action)
    lines = err.splitlines()
    assert code == cli.EXIT_BUG == 3
    assert lines[0].startswith("ssltheory check: this is a bug in ssltheory") and f"({kind}: " in lines[0], lines[0]
    assert "Traceback (most recent call last):" in err and lines[-1].startswith(f"{kind}: "), err
    assert "test_cli_errors.py" in err  # the traceback shows where it happened


def test_input_error_is_a_value_error_and_exported():
    import ssltheory

    assert issubclass(InputError, ValueError) and issubclass(cli.UsageError, InputError)
    assert ssltheory.InputError is InputError


def _bare_value_errors(repo: Path = REPO, folders: tuple[str, ...] = LIBRARY) -> list[str]:
    """``raise ValueError(...)`` statements and direct ``ValueError`` subclasses (InputError's own
    definition aside) in library code, as "path:line"."""
    found = []
    for folder in folders:
        for path in sorted((repo / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(), filename=str(path))
            for node in ast.walk(tree):
                if isinstance(node, ast.ClassDef) and node.name != "InputError":
                    if any(isinstance(base, ast.Name) and base.id == "ValueError" for base in node.bases):
                        found.append(f"{path.relative_to(repo)}:{node.lineno}")
                if isinstance(node, ast.Raise) and node.exc is not None:
                    exc = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
                    if isinstance(exc, ast.Name) and exc.id == "ValueError":
                        found.append(f"{path.relative_to(repo)}:{node.lineno}")
    return found


def test_library_code_raises_input_error_for_bad_input_never_a_bare_value_error():
    bare = _bare_value_errors()
    assert not bare, (
        "raise InputError (from ssltheory.errors import InputError) instead of ValueError for bad input; "
        "the command line reports any other exception as a bug (exit 3). At: " + ", ".join(bare)
    )


def test_the_scan_finds_a_bare_value_error(tmp_path):
    """The scan above can fail: a planted ``raise ValueError`` is found, an InputError is not."""
    planted = tmp_path / "ssltheory"
    planted.mkdir()
    source = "def f(x):\n    if x:\n        raise ValueError('x')\n    raise InputError('y')\n\n\n"
    (planted / "bad.py").write_text(source + "class Odd(ValueError):\n    pass\n")
    assert sorted(_bare_value_errors(tmp_path, ("ssltheory",))) == ["ssltheory/bad.py:3", "ssltheory/bad.py:7"]
