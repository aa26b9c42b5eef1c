"""The packages' import graph: no cycle between ``experiments`` and ``paper_checks``.

Both sit on the library (``ssltheory``: the verdict rule in ``verdicts.py``, the plotting helpers
in ``plotting.py``, the paper's numbers in ``paper_numbers.py``, the small-image method options in
``ssl/config.py``) and neither imports the other. Checked two ways: every import statement of
their modules (those inside functions too), and a fresh interpreter importing every module of one
package, then of the other, in both orders, which must load no module of the package not asked for.
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
PACKAGES = {"experiments": "ssltheory.experiments", "paper_checks": "ssltheory.paper_checks"}


def imported_modules(path: Path) -> set[str]:
    """Every module an ``import`` or ``from ... import`` in the file names (absolute imports)."""
    names = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def import_edges(repo: Path = REPO) -> list[str]:
    """ "folder/file.py -> module" for every import of one package's module by the other's."""
    edges = []
    for folder, package in PACKAGES.items():
        others = [p for f, p in PACKAGES.items() if f != folder]
        for path in sorted((repo / folder).glob("*.py")):
            for name in sorted(imported_modules(path)):
                if any(name == o or name.startswith(o + ".") for o in others):
                    edges.append(f"{folder}/{path.name} -> {name}")
    return edges


def test_neither_package_imports_the_other():
    edges = import_edges()
    assert not edges, (
        "experiments and paper_checks must not import each other; move what both need into ssltheory: "
        + ("; ".join(edges))
    )


def test_the_scan_finds_a_planted_edge(tmp_path):
    for folder in PACKAGES:
        (tmp_path / folder).mkdir()
    (tmp_path / "experiments" / "x.py").write_text("def f():\n    from ssltheory.paper_checks.empirical import judge\n")
    (tmp_path / "paper_checks" / "y.py").write_text("import ssltheory.experiments.plotting\n")
    assert import_edges(tmp_path) == [
        "experiments/x.py -> ssltheory.paper_checks.empirical",
        "experiments/x.py -> ssltheory.paper_checks.empirical.judge",
        "paper_checks/y.py -> ssltheory.experiments.plotting",
    ]


_LOAD = """
import importlib, json, pkgutil, sys
loaded = {}
for package in sys.argv[1:]:
    root = importlib.import_module(package)
    for info in pkgutil.iter_modules(root.__path__):
        importlib.import_module(f"{package}.{info.name}")
    loaded[package] = sorted(m for m in sys.modules if m.startswith("ssltheory.experiments")
                              or m.startswith("ssltheory.paper_checks"))
print(json.dumps(loaded))
"""


@pytest.mark.parametrize(
    "order", [("ssltheory.experiments", "ssltheory.paper_checks"), ("ssltheory.paper_checks", "ssltheory.experiments")]
)
def test_every_module_imports_in_either_order_without_loading_the_other_package(order):
    done = subprocess.run(
        [sys.executable, "-c", _LOAD, *order],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "PYTHONPATH": str(REPO)},
    )
    assert done.returncode == 0, done.stderr
    loaded = json.loads(done.stdout.strip().splitlines()[-1])
    first, second = order
    assert loaded[first] and not [m for m in loaded[first] if m.startswith(second)], loaded[first]
    assert [m for m in loaded[second] if m.startswith(second)]
