"""``--help`` answers fast: no command's help imports numpy, scipy, torch or tqdm (the parsers are
built from light modules, docs/ARCHITECTURE.md "Help light"), and bare ``ssltheory`` lists every
command."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from ssltheory import cli

REPO = Path(__file__).resolve().parents[1]

#: run in a fresh interpreter: every command's --help, then report what got imported
PROBE = """
import contextlib, io, json, sys
from ssltheory import cli
codes = {}
for name in cli.SUBCOMMANDS:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        try:
            codes[name] = cli.main([name, "--help"])
        except SystemExit as exc:
            codes[name] = exc.code
    codes[name] = [codes[name], out.getvalue()[:200]]
print(json.dumps({"codes": codes, "heavy": sorted(m for m in ("numpy", "scipy", "torch", "tqdm") if m in sys.modules)}))
"""


def test_no_help_imports_numpy_scipy_torch_or_tqdm():
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    for name, (code, text) in report["codes"].items():
        assert code == 0 and text.startswith(f"usage: ssltheory {name}"), (name, code, text)
    assert report["heavy"] == [], f"--help imported {report['heavy']}"


def test_bare_ssltheory_lists_every_command(capsys):
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for name in cli.SUBCOMMANDS:
        assert f"\n    {name}" in out, name


def test_the_package_import_is_light_and_the_public_names_still_load():
    code = (
        "import sys, ssltheory; light = not any(m in sys.modules for m in ('numpy', 'scipy', 'torch'));"
        "from ssltheory import is_ideal, EquivalenceClasses, linearly_separable, cover_count, IdealVerdict;"
        "print(light, all(map(callable, (is_ideal, EquivalenceClasses, "
        "linearly_separable, cover_count, IdealVerdict))))"
    )
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["True", "True"]


def test_the_tolerance_named_in_help_is_the_one_default(capsys):
    """demo, score and check state the one tolerance rule in their help (the parser cannot import
    the theory modules and stay light): max(K, d) x the machine epsilon of the features' dtype."""
    for name in ("demo", "score", "check"):
        try:
            cli.main([name, "--help"])
        except SystemExit:
            pass
        text = " ".join(capsys.readouterr().out.split())
        assert "max(K, d) x machine epsilon" in text, (name, text)


def test_every_registry_list_is_named_by_the_help_that_names_it(capsys):
    """The top-level help names every training method of the registry; score's and train's help
    name every dataset and augmentation of theirs (read from the registries, never copied)."""
    from ssltheory.ssl.config import AUGMENTATIONS
    from ssltheory.ssl.datasets import DATASETS
    from ssltheory.ssl.methods import METHODS

    try:
        cli.main(["--help"])
    except SystemExit:
        pass
    top = " ".join(capsys.readouterr().out.split())
    assert len(METHODS) >= 8 and all(name in top for name in METHODS), top
    for command in ("score", "train"):
        try:
            cli.main([command, "--help"])
        except SystemExit:
            pass
        text = " ".join(capsys.readouterr().out.split())
        missing = [n for n in (*DATASETS, *AUGMENTATIONS) if n not in text]
        assert not missing, (command, missing)


_PAGES = (
    "import os, sys, contextlib, io\n"
    "from ssltheory import cli\n"
    "with contextlib.redirect_stdout(io.StringIO()):\n"
    "    cli.main([])\n"
    "import numpy\n"
    "print(os.environ.get('NUMPY_MADVISE_HUGEPAGE'))\n"
)


def test_a_command_maps_fresh_arrays_in_small_pages_unless_the_user_chose():
    # the command sets numpy's huge-page switch before numpy is imported (children inherit it);
    # a value the user set is left alone
    env = {k: v for k, v in os.environ.items() if k != "NUMPY_MADVISE_HUGEPAGE"}
    run = subprocess.run([sys.executable, "-c", _PAGES], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "0"
    env["NUMPY_MADVISE_HUGEPAGE"] = "1"
    run = subprocess.run([sys.executable, "-c", _PAGES], env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "1"


_REUSE = (
    "import contextlib, io, resource, sys\n"
    "from ssltheory import cli\n"
    "if sys.argv[1] == 'policy':\n"
    "    with contextlib.redirect_stdout(io.StringIO()):\n"
    "        cli.main([])\n"
    "import numpy as np\n"
    "np.ones(8 << 20)\n"  # 64 MiB, freed at once
    "before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt\n"
    "np.ones(8 << 20)\n"
    "print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)\n"
)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="the allocator policy is glibc's, on Linux")
def test_a_command_reuses_freed_memory_instead_of_faulting_it_in_again():
    # glibc maps a 64 MiB block freshly each time (16,384 page faults); under the command's policy
    # the second block reuses the first one's pages
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MALLOC_", "GLIBC_TUNABLES"))}
    env["NUMPY_MADVISE_HUGEPAGE"] = "0"
    faults = {}
    for mode in ("plain", "policy"):
        run = subprocess.run([sys.executable, "-c", _REUSE, mode], env=env, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        faults[mode] = int(run.stdout.split()[-1])
    if faults["plain"] < 8000:
        pytest.skip(f"this C library already reuses freed 64 MiB blocks ({faults['plain']} faults)")
    assert faults["policy"] < faults["plain"] / 10, faults
