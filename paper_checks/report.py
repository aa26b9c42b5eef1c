"""Rendering check results: the terminal table, JSON, and paper_checks/RESULTS.md.

RESULTS.md is never written by hand: a ``--scale cpu`` run merges its results into
``paper_checks/results_cpu.json`` (one entry per claim, the latest run of that claim) and renders
RESULTS.md from that file, so running the theory claims today and the empirical ones tomorrow
yields one table. Every number in it comes from the run recorded beside it.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from pathlib import Path

from ssltheory.files import atomic_write_text, jsonable
from ssltheory.paper_checks.empirical import comparisons, rejudge
from ssltheory.paper_checks.registry import VERDICTS, ClaimResult, all_claims
from ssltheory.verdicts import seeds_to_resolve

#: where a cpu-scale run records its results: relative to the current directory (run from the
#: repository's root, the committed paper_checks/ folder), never inside the installed package
RECORD_DIR = Path("paper_checks")
RESULTS_MD = RECORD_DIR / "RESULTS.md"
RESULTS_JSON = RECORD_DIR / "results_cpu.json"
RESULTS_LOCK = RECORD_DIR / ".results_cpu.lock"  # not committed (.gitignore)
EMPIRICAL_PNG = RECORD_DIR / "empirical_cpu.png"
EMPIRICAL_CSV = RECORD_DIR / "empirical_cpu.csv"


def _cell(text, width: int | None = None, markdown: bool = True) -> str:
    s = "" if text is None else str(text)
    s = s.replace("\n", " ")
    if markdown:
        s = s.replace("|", "\\|")
    if width is not None and len(s) > width:
        s = s[: width - 1] + "…"
    return s


def format_table(results: list[ClaimResult], statement_width: int = 60, measured_width: int = 70) -> str:
    """A plain aligned text table: id, statement, provenance, paper value, measured, verdict."""
    header = ("id", "statement", "prov", "paper", "measured", "verdict")
    rows = [
        (
            r.id,
            _cell(r.statement, statement_width, False),
            r.provenance,
            _cell(r.paper_value or "-", 24, False),
            _cell(r.measured, measured_width, False),
            r.verdict,
        )
        for r in results
    ]
    widths = [max(len(h), *(len(row[i]) for row in rows)) if rows else len(h) for i, h in enumerate(header)]

    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

    out = [line(header), line(["-" * w for w in widths])] + [line(r) for r in rows]
    counts = summary_counts(results)
    out.append("")
    out.append(format_counts(counts) if results else "no claims run")
    return "\n".join(out)


def summary_counts(results) -> dict[str, int]:
    """Verdict -> number of results, every verdict of `VERDICTS` present (zero included), in order."""
    counts = {v: 0 for v in VERDICTS}
    for r in results:
        verdict = r.verdict if isinstance(r, ClaimResult) else r["verdict"]
        counts[verdict] = counts.get(verdict, 0) + 1
    return counts


def format_counts(counts: dict[str, int]) -> str:
    """``"20 pass, 3 inconclusive, 0 fail, ..."``: every verdict counted, zeros included."""
    return ", ".join(f"{n} {verdict}" for verdict, n in counts.items())


def refresh(entry: dict, claims: dict) -> dict:
    """A stored entry brought up to date without rerunning anything: its statement, provenance and
    paper value from the registry's current claim (``claims``: id -> Claim; the paper's numbers are
    a transcription, not a measurement), and for empirical claims its verdict re-derived from its
    per-seed comparisons (`empirical.rejudge`). Measured values and evidence are kept as run."""
    claim = claims.get(entry["id"])
    if claim is not None:
        entry = {
            **entry,
            "statement": claim.statement,
            "provenance": claim.provenance,
            "paper_value": claim.paper_value,
        }
    return rejudge(entry) if entry.get("group") == "empirical" else entry


def run_info(words: list[str], seed: int, scale: str) -> dict:
    """Where and how a run was made: date, command, versions, machine (no paths)."""
    import numpy
    import scipy

    info = {
        "date": _dt.datetime.now().astimezone().isoformat(timespec="seconds"),
        "command": "ssltheory paper-check " + " ".join(words),
        "scale": scale,
        "seed": seed,
        "python": platform.python_version(),
        "numpy": numpy.__version__,
        "scipy": scipy.__version__,
        "machine": f"{platform.machine()}, {os.cpu_count()} cpu",
    }
    if "torch" in sys.modules:
        torch = sys.modules["torch"]
        info["torch"] = torch.__version__
        info["cuda"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return info


def write_json(path: Path, results: list[ClaimResult], info: dict) -> None:
    """Write ``{"run": info, "results": [...]}`` (one object per result) to ``path`` whole."""
    atomic_write_text(path, json.dumps({"run": info, "results": [r.to_dict() for r in results]}, indent=1) + "\n")


def merge_cpu_results(
    results: list[ClaimResult], info: dict, order: list[str], store: Path = RESULTS_JSON
) -> list[dict]:
    """Merge this run's results into ``store`` (claim id -> latest entry with its run info), bring
    every entry up to date (`refresh`: current statements and paper values, verdicts re-derived by
    the current rule) and return the merged entries in registry ``order``."""
    merged: dict[str, dict] = {}
    if store.exists():
        try:
            merged = {e["id"]: e for e in json.loads(store.read_text(encoding="utf-8"))["results"]}
        except (ValueError, KeyError, TypeError):
            merged = {}  # a damaged store is rebuilt from this run
    for r in results:
        merged[r.id] = {**r.to_dict(), "run": info}
    claims = {c.id: c for c in all_claims()}
    merged = {i: refresh(e, claims) for i, e in merged.items()}
    entries = [merged[i] for i in order if i in merged] + [e for i, e in merged.items() if i not in order]
    atomic_write_text(store, json.dumps({"results": entries}, indent=1) + "\n")
    return entries


def record_cpu_run(
    results: list[ClaimResult],
    info: dict,
    order: list[str],
    store: Path = RESULTS_JSON,
    markdown: Path = RESULTS_MD,
    lock: Path = RESULTS_LOCK,
    figure: Path | None = EMPIRICAL_PNG,
    figure_csv: Path = EMPIRICAL_CSV,
) -> list[dict]:
    """Merge a cpu-scale run into ``store``, redraw the empirical figure (``figure`` and its CSV,
    `plots.plot_empirical`; None: no figure) and rewrite ``markdown``, holding an exclusive lock
    so two cpu runs (say, the empirical claims split over two processes) finishing together cannot
    drop each other's results. Returns the merged entries."""
    import fcntl

    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            entries = merge_cpu_results(results, info, order, store)
            if figure is not None:
                from ssltheory.paper_checks.plots import plot_empirical

                plot_empirical(entries, figure, figure_csv)
            write_results_md(entries, order, markdown, figure if figure is not None and figure.exists() else None)
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
    return entries


def render_results_md(entries: list[dict], all_ids: list[str] | None = None, figure: Path | None = None) -> str:
    """RESULTS.md from stored entries: a summary table (with seeds and spreads) and the evidence;
    ``all_ids`` (the registry's ids) lets it list the claims with no stored result yet; ``figure``
    (beside RESULTS.md) is shown under the table."""
    counts = summary_counts(entries)
    missing = [i for i in (all_ids or []) if i not in {e["id"] for e in entries}]
    runs = sorted({(e["run"]["date"], e["run"]["command"], e["run"]["machine"]) for e in entries})
    lines = [
        "# Paper checks: results at `cpu` scale",
        "",
        "Written by `ssltheory paper-check --scale cpu` (paper_checks/report.py); do not edit by hand.",
        "Each row is the latest cpu-scale run of that claim; the runs that produced them:",
        "",
    ]
    lines += [f"- {date}: `{cmd}` ({machine})" for date, cmd, machine in runs]
    lines += [
        "",
        "Summary: " + format_counts(counts) + ".",
        "",
        "Verdicts: `pass` = every compared difference resolved in the claimed direction (beyond its "
        "tolerance); `inconclusive` = some difference within its tolerance, none against; `fail` = some "
        "difference resolved against the claim (or a theory check found a counterexample); `refuted` = a "
        "[derived] statement with a counterexample. The paper column is a transcription of the paper "
        "(ssltheory/paper_numbers.py), not our measurement; `measured` is ours.",
    ]
    if missing:
        lines += [
            "",
            "Not yet run at this scale: " + ", ".join(missing) + " (each trains its own runs: "
            "`ssltheory paper-check --scale cpu ID`).",
        ]
    lines += [
        "",
        "| id | statement | prov. | paper | measured | verdict | seeds | spread | s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for e in entries:
        lines.append(
            "| "
            + " | ".join(
                [
                    e["id"],
                    _cell(e["statement"]),
                    e["provenance"],
                    _cell(e["paper_value"] or "-"),
                    _cell(e["measured"]),
                    f"**{e['verdict']}**"
                    + (f" (stored as {e['verdict_as_run']}; re-judged)" if "verdict_as_run" in e else ""),
                    _cell(",".join(map(str, e.get("seeds") or [])) or "-"),
                    _cell(e.get("spread") or "-"),
                    f"{e['seconds']:.1f}",
                ]
            )
            + " |"
        )
    if figure is not None:
        lines += [
            "",
            f"![The empirical claims: arms, seeds, tolerances]({figure.name})",
            "",
            f"Every compared difference of the empirical claims ({figure.name}; numbers in {figure.stem}.csv).",
        ]
    lines += unresolved_section(entries)
    lines += ["", "## Evidence", ""]
    for e in entries:
        evidence = json.dumps(jsonable(e["evidence"], nonfinite="string"), sort_keys=False)
        if len(evidence) > 3000:
            evidence = evidence[:3000] + " …(truncated; full evidence in results_cpu.json)"
        lines += [f"### {e['id']} ({e['verdict']})", "", e["statement"], "", "```json", evidence, "```", ""]
    return "\n".join(lines)


def unresolved_section(entries: list[dict]) -> list[str]:
    """Markdown lines: for every inconclusive empirical claim, each difference within its tolerance
    and the seeds per arm that would resolve it at the measured spread (`seeds_to_resolve`), then
    the design that would; [] when nothing is inconclusive."""
    rows = []
    for e in entries:
        if e.get("verdict") != "inconclusive":
            continue
        for i, c in enumerate(comparisons(e.get("evidence") or {})):
            if abs(float(c["diff"])) > float(c["tolerance"]):
                continue
            n = seeds_to_resolve(c)
            rows.append(
                f"| {e['id']} | {i + 1} | {100 * c['diff']:+.2f} | {100 * c['tolerance']:.2f} | "
                f"{_cell(_fmt_sd(c))} | {len(c['values_a'])} | {n if n is not None else 'none would'} |"
            )
    if not rows:
        return []
    return [
        "",
        "## What cpu scale leaves unresolved, and the design that would resolve it",
        "",
        "Each row is a compared difference (a - b, accuracy points) inside its tolerance: the analogue "
        "cannot tell the claim from its negation. The last column is the seeds per arm at which twice the "
        "standard error, at the measured spreads, would fall below the measured difference (none: the "
        "difference is below the tolerance's half-point floor, so more seeds alone cannot resolve it).",
        "",
        "| claim | difference | a - b (pt) | tolerance (pt) | sd a / b (pt) | seeds now | seeds per arm to resolve |",
        "|---|---|---|---|---|---|---|",
        *rows,
        "",
        "Design that would resolve them: a harder task, so accuracies sit away from the ceiling (MNIST and the "
        "patch task put most arms within a few points of each other; Table 1's analogue on the patch task, "
        "figures/table1.md, sits within its spread everywhere); at least the seeds above per arm; and runs "
        "long enough that the methods converge (the paper's effects are measured after 300 epochs, ours after "
        "a few hundred steps). The gpu scale (`--scale gpu`) is that design at the paper's size.",
    ]


def _fmt_sd(c: dict) -> str:
    if c.get("std_a") is None:
        return "-"
    return f"{100 * c['std_a']:.2f} / {100 * c['std_b']:.2f}"


def write_results_md(
    entries: list[dict], all_ids: list[str] | None = None, path: Path = RESULTS_MD, figure: Path | None = None
) -> None:
    atomic_write_text(path, render_results_md(entries, all_ids, figure))
