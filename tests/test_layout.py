"""The installed layout: experiments/, paper_checks/ and benchmarks/ live at the repository's top
level but are installed (and imported) as ``ssltheory.experiments`` etc.; nothing generic lands at
the top of site-packages, and no command writes into the installed package."""

from __future__ import annotations

import os
import site as site_module
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import ssltheory
from ssltheory.benchmarks import cli as bench_cli
from ssltheory.paper_checks import report as paper_report

REPO = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((REPO / "pyproject.toml").read_text())


def _packages_on_disk() -> set[str]:
    """Every package the repository holds, by its installed name."""
    roots = {"ssltheory": REPO / "ssltheory"}
    roots.update({f"ssltheory.{folder}": REPO / folder for folder in ssltheory.TOP_LEVEL_FOLDERS})
    names = set()
    for name, root in roots.items():
        for init in root.rglob("__init__.py"):
            rel = init.parent.relative_to(root).parts
            if name == "ssltheory" and rel and rel[0] in ssltheory.TOP_LEVEL_FOLDERS:
                continue
            names.add(".".join((name, *rel)))
    return names


def test_pyproject_installs_every_package_under_the_ssltheory_namespace():
    setuptools = PYPROJECT["tool"]["setuptools"]
    listed = set(setuptools["packages"])
    assert listed == _packages_on_disk(), "pyproject.toml [tool.setuptools] packages must list every package"
    assert all(name == "ssltheory" or name.startswith("ssltheory.") for name in listed)
    assert setuptools["package-dir"] == {f"ssltheory.{f}": f for f in ssltheory.TOP_LEVEL_FOLDERS}


def test_a_checkout_maps_the_subpackages_onto_the_top_level_folders():
    from ssltheory.experiments import runner
    from ssltheory.paper_checks import registry

    assert Path(runner.__file__).resolve() == REPO / "experiments" / "runner.py"
    assert Path(registry.__file__).resolve() == REPO / "paper_checks" / "registry.py"
    assert Path(bench_cli.__file__).resolve() == REPO / "benchmarks" / "cli.py"


def test_no_repository_module_imports_the_top_level_names():
    offenders = []
    for path in [
        *REPO.glob("ssltheory/**/*.py"),
        *REPO.glob("tests/*.py"),
        *(p for f in ssltheory.TOP_LEVEL_FOLDERS for p in (REPO / f).glob("**/*.py")),
    ]:
        for number, line in enumerate(path.read_text().splitlines(), 1):
            words = line.split()
            if (
                len(words) >= 2
                and words[0] in ("from", "import")
                and words[1].split(".")[0] in ssltheory.TOP_LEVEL_FOLDERS
            ):
                offenders.append(f"{path.relative_to(REPO)}:{number}: {line.strip()}")
    assert not offenders, offenders


def test_default_outputs_are_relative_to_the_current_directory_not_the_package():
    assert not bench_cli.DEFAULT_RESULTS.is_absolute()
    for path in (
        paper_report.RESULTS_MD,
        paper_report.RESULTS_JSON,
        paper_report.RESULTS_LOCK,
        paper_report.EMPIRICAL_PNG,
        paper_report.EMPIRICAL_CSV,
    ):
        assert not path.is_absolute(), path


def test_the_wheel_installs_only_the_ssltheory_namespace_and_its_commands_run(tmp_path):
    """Build the wheel, unpack it as a site-packages would hold it, and run from elsewhere."""
    build = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "wheel"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    if build.returncode != 0 and "No module named pip" in build.stderr:
        pytest.skip("pip is not installed in this interpreter")
    assert build.returncode == 0, build.stderr
    (wheel,) = (tmp_path / "wheel").glob("ssltheory-*.whl")
    site = tmp_path / "site"
    with zipfile.ZipFile(wheel) as zf:
        tops = {name.split("/")[0] for name in zf.namelist()}
        assert {"ssltheory.experiments", "experiments", "paper_checks", "benchmarks"}.isdisjoint(tops)
        assert {n for n in zf.namelist() if n.startswith("ssltheory/experiments/")}
        zf.extractall(site)
    assert tops - {"ssltheory"} == {wheel.name.split("-py3")[0] + ".dist-info"}
    work = tmp_path / "elsewhere"
    work.mkdir()
    # -S: no site processing, so an editable install's finder (.pth) cannot answer; the
    # interpreter's site-packages come after the unpacked wheel as plain folders, for numpy & co.
    env = {"PYTHONPATH": os.pathsep.join([str(site), *site_module.getsitepackages()]), "PATH": os.environ["PATH"]}
    python = [sys.executable, "-S"]
    top = subprocess.run([*python, "-c", "import experiments"], cwd=work, env=env, capture_output=True, text=True)
    assert top.returncode != 0 and "No module named 'experiments'" in top.stderr
    listing = subprocess.run(
        [*python, "-m", "ssltheory.cli", "experiment", "--list"], cwd=work, env=env, capture_output=True, text=True
    )
    assert listing.returncode == 0, listing.stderr
    assert "synthetic" in listing.stdout and "phase_transition" in listing.stdout
    where = subprocess.run(
        [*python, "-c", "import ssltheory.experiments as e; print(e.__file__)"],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert Path(where.stdout.strip()).is_relative_to(site)
    # the public testing module, with the 'testing' extra (hypothesis, from the interpreter's site-packages)
    testing = subprocess.run(
        [
            *python,
            "-c",
            "from ssltheory.testing import strategies, oracles, assert_ideal; "
            "import numpy as np; assert_ideal(np.eye(3), [0, 1, 2]); "
            "print(strategies.__file__, oracles.exact_affine_rank(np.eye(3)))",
        ],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
    )
    assert testing.returncode == 0, testing.stderr
    path, rank = testing.stdout.split()
    assert Path(path).is_relative_to(site) and rank == "2"
