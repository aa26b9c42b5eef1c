"""The repository's docs are its own and true to its code.

- No file cites a document outside the repository: every ``NAME.md`` a file names exists in the
  repository (as written, beside the file, at the top or in ``docs/``), and nothing points at a
  sibling checkout (``../shared``) or at a machine's paths.
- docs/ARCHITECTURE.md's module tables name every module of the library (``ssltheory/``,
  ``experiments/``, ``paper_checks/``, ``benchmarks/``) and no module that is gone; a failure says
  which line to add or remove.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
ARCHITECTURE = REPO / "docs" / "ARCHITECTURE.md"

#: A cited Markdown document: an optional path, then a name in capitals (REFERENCE.md, docs/THEORY.md).
_CITED = re.compile(r"(?<![\w/.-])((?:[\w.-]+/)*[A-Z][A-Z0-9_]*\.md)\b")
#: Paths that lead to documents outside the repository (the brief's docs beside a checkout).
_OUTSIDE = re.compile(r"\.\./shared/docs|shared/docs/")
#: Documents the project writes when it runs rather than ships (named as outputs, not cited).
_WRITTEN = {"GPU_RESULTS.md"}


def tracked_text_files(repo: Path = REPO) -> list[Path]:
    """The repository's tracked files (its own checkout's, git ls-files), text only."""
    names = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    files = []
    for name in names:
        path = repo / name
        if path.suffix in {".py", ".md", ".toml", ".txt", ".cfg", ".yml", ".yaml", ".json", ""} and path.is_file():
            try:
                path.read_text()
            except UnicodeDecodeError:
                continue
            files.append(path)
    return files


def citations_outside(files: list[Path], repo: Path = REPO) -> list[str]:
    """ "file:line: citation" for every cited document that is not in the repository (as written,
    beside the citing file, or a tracked file of that name anywhere) and every outside path."""
    found = []
    shipped = {p.name for p in tracked_text_files(repo)} if (repo / ".git").exists() else set()
    for path in files:
        for number, line in enumerate(path.read_text().splitlines(), start=1):
            where = f"{path.relative_to(repo)}:{number}"
            for match in _OUTSIDE.finditer(line):
                found.append(f"{where}: {match.group(0)}")
            for match in _CITED.finditer(line):
                cited = match.group(1)
                candidates = [repo / cited, path.parent / cited, repo / "docs" / cited]
                if Path(cited).name in _WRITTEN or Path(cited).name in shipped:
                    continue
                if not any(c.is_file() for c in candidates):
                    found.append(f"{where}: {cited}")
    return found


def test_no_file_cites_a_document_outside_the_repository():
    """Tests name the files they write (RESULTS.md in a temporary folder), so only their outside
    paths are checked; every other file's citations too."""
    files = [p for p in tracked_text_files() if p.name != "test_docs.py"]
    outside = citations_outside([p for p in files if p.parts[-2] != "tests"])
    outside += [hit for hit in citations_outside([p for p in files if p.parts[-2] == "tests"]) if "shared" in hit]
    assert not outside, "cite the repository's own docs (docs/REFERENCE.md, docs/THEORY.md, ...): " + "; ".join(outside)


def test_the_citation_scan_finds_what_it_must(tmp_path):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "THEORY.md").write_text("theory\n")
    source = tmp_path / "a.py"
    source.write_text('"""T1 (THEORY.md), docs/THEORY.md, the brief\'s REFERENCE.md, ../shared/docs/DESIGN.md"""\n')
    assert citations_outside([source], tmp_path) == [
        "a.py:1: ../shared/docs",
        "a.py:1: REFERENCE.md",
        "a.py:1: ../shared/docs/DESIGN.md",
    ]


# ------------------------------------------------------------------------------ the module tables

#: Section of docs/ARCHITECTURE.md -> folders its table's first-column names are relative to.
_SECTION_BASES = {
    "Shared rooms": ("ssltheory/",),
    "Theory rooms": ("ssltheory/",),
    "SSL rooms": ("ssltheory/ssl/",),
    "Commands, experiments, checks, benchmarks": ("ssltheory/", ""),
}
#: The folders whose modules the tables must name (package __init__ files aside).
_MODULE_FOLDERS = (
    "ssltheory",
    "ssltheory/commands",
    "ssltheory/ssl",
    "ssltheory/ssl/losses",
    "ssltheory/testing",
    "experiments",
    "paper_checks",
    "benchmarks",
)


def _expand(token: str) -> list[str]:
    """``experiments/{a,b}.py`` -> [experiments/a.py, experiments/b.py]."""
    match = re.search(r"\{([^}]*)\}", token)
    if not match:
        return [token]
    return [
        out
        for part in match.group(1).split(",")
        for out in _expand(token[: match.start()] + part.strip() + token[match.end() :])
    ]


def table_rows(text: str) -> list[tuple[str, int, str, str]]:
    """(section, line number, first cell, whole row) of every table row of ARCHITECTURE.md."""
    rows, section = [], None
    for number, line in enumerate(text.splitlines(), start=1):
        if line.startswith("## "):
            section = next((name for name in _SECTION_BASES if line[3:].startswith(name)), None)
        elif section and line.startswith("| `"):
            rows.append((section, number, line.split("|")[1], line))
    return rows


def named_modules(text: str, repo: Path = REPO) -> tuple[set[str], list[str]]:
    """(modules the tables name, as repository paths; "line N: token" for names that resolve to
    nothing). A folder row (``losses/``) names the modules its row text mentions by file name."""
    named, gone = set(), []
    for section, number, cell, row in table_rows(text):
        for token in re.findall(r"`([^`]+)`", cell):
            for name in _expand(token):
                if not (name.endswith(".py") or name.endswith("/")):
                    continue  # a class named beside its module, e.g. `Method` (`method_impl.py`)
                paths = [base + name for base in _SECTION_BASES[section]]
                hit = next((p for p in paths if (repo / p).exists()), None)
                if hit is None:
                    gone.append(f"docs/ARCHITECTURE.md:{number}: `{name}` (no {' or '.join(paths)})")
                elif name.endswith("/"):
                    named.update(f"{hit}{f.name}" for f in (repo / hit).glob("*.py") if f"`{f.name}`" in row)
                else:
                    named.add(hit)
    return named, gone


def library_modules(repo: Path = REPO) -> set[str]:
    return {
        f"{folder}/{f.name}"
        for folder in _MODULE_FOLDERS
        for f in (repo / folder).glob("*.py")
        if f.name != "__init__.py"
    }


def test_architecture_names_every_module_and_no_module_that_is_gone():
    named, gone = named_modules(ARCHITECTURE.read_text())
    missing = sorted(library_modules() - named)
    advice = []
    for module in missing:
        folder, _, name = module.rpartition("/")
        section = {"ssltheory/ssl": "SSL rooms", "ssltheory": "Shared rooms or Theory rooms"}.get(
            folder, "Commands, experiments, checks, benchmarks"
        )
        shown = {"ssltheory/ssl": name, "ssltheory": name}.get(folder, module.removeprefix("ssltheory/"))
        if folder == "ssltheory/ssl/losses":
            advice.append(f"name `{name}` in the `losses/` row of 'SSL rooms'")
        elif folder in ("paper_checks", "benchmarks", "ssltheory/testing"):
            advice.append(f"name `{name}` in the `{folder.removeprefix('ssltheory/')}/` row of '{section}'")
        else:
            advice.append(f"add the row '| `{shown}` | what it holds |' to the table of '{section}'")
    assert not missing and not gone, "docs/ARCHITECTURE.md is out of date: " + "; ".join(
        advice + [f"remove or correct {g}" for g in gone]
    )


def test_the_table_check_reports_a_missing_and_a_gone_module(tmp_path):
    (tmp_path / "ssltheory" / "ssl" / "losses").mkdir(parents=True)
    for name in ("files.py", "new.py", "ssl/data.py", "ssl/losses/a.py", "ssl/losses/b.py"):
        (tmp_path / "ssltheory" / name).write_text("")
    text = (
        "## Shared rooms\n\n| module | holds |\n|---|---|\n| `files.py` | writes |\n| `gone.py` | nothing |\n\n"
        "## SSL rooms\n\n| module | holds |\n|---|---|\n| `data.py` | data |\n| `losses/` | `a.py` only |\n"
    )
    named, gone = named_modules(text, tmp_path)
    assert named == {"ssltheory/files.py", "ssltheory/ssl/data.py", "ssltheory/ssl/losses/a.py"}
    assert gone == ["docs/ARCHITECTURE.md:6: `gone.py` (no ssltheory/gone.py)"]
    missing = {
        f"ssltheory/{n}" for n in ("files.py", "new.py", "ssl/data.py", "ssl/losses/a.py", "ssl/losses/b.py")
    } - named
    assert missing == {"ssltheory/new.py", "ssltheory/ssl/losses/b.py"}


@pytest.mark.parametrize("token, expected", [("a.py", ["a.py"]), ("x/{a,b}.py", ["x/a.py", "x/b.py"])])
def test_braces_expand(token, expected):
    assert _expand(token) == expected
